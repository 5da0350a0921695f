/*
 * A hive's new state as changed pages over its old bytes: see overlay.h.
 */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "format.h"
#include "io.h"
#include "overlay.h"

/* Bytes compared at a time by dh_overlay_take(): a few reads a hive. */
#define CHUNK ((size_t)1 << 20)

struct page {
	uint64_t off;              /* a multiple of DH_OVERLAY_PAGE */
	uint8_t *data;             /* DH_OVERLAY_PAGE bytes, on the overlay */
};

struct dh_overlay {
	int base;
	size_t base_len;
	size_t len;                /* of the new state */
	struct page *pages;        /* sorted by off */
	size_t n, room;
};

struct dh_overlay *dh_overlay_new(TALLOC_CTX *mem, int base, size_t len)
{
	struct dh_overlay *o = talloc_zero(mem, struct dh_overlay);

	if (o != NULL)
		*o = (struct dh_overlay){ .base = base, .base_len = len,
					  .len = len };
	return o;
}

size_t dh_overlay_len(const struct dh_overlay *o)
{
	return o->len;
}

/* n bytes of fd at off, as if it were len bytes long with zeros after. */
static int read_padded(int fd, size_t len, uint8_t *buf, size_t n,
		       uint64_t off)
{
	size_t have = off < len ? len - (size_t)off : 0;
	ssize_t got;

	if (have > n)
		have = n;
	memset(buf + have, 0, n - have);
	if (have == 0)
		return 0;
	got = dh_io_pread_full(fd, buf, have, (off_t)off);
	if (got == (ssize_t)have)
		return 0;
	if (got >= 0)
		errno = EIO;
	return -1;
}

/* The index of the first page at or after off. */
static size_t seek(const struct dh_overlay *o, uint64_t off)
{
	size_t lo = 0, hi = o->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (o->pages[mid].off < off)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static const struct page *find(const struct dh_overlay *o, uint64_t off)
{
	size_t i = seek(o, off);

	return i < o->n && o->pages[i].off == off ? &o->pages[i] : NULL;
}

/* A new page at index i holding data (on the overlay already). */
static int insert(struct dh_overlay *o, size_t i, uint64_t off,
		  uint8_t *data)
{
	if (o->n == o->room) {
		size_t room = o->room ? 2 * o->room : 16;
		struct page *p = talloc_realloc(o, o->pages, struct page, room);

		if (p == NULL) {
			errno = ENOMEM;
			return -1;
		}
		o->pages = p;
		o->room = room;
	}
	memmove(&o->pages[i + 1], &o->pages[i], (o->n - i) * sizeof(*o->pages));
	o->pages[i] = (struct page){ off, data };
	o->n++;
	return 0;
}

/* The page at off, made from the base the first time. */
static uint8_t *page_at(struct dh_overlay *o, uint64_t off)
{
	size_t i = seek(o, off);
	uint8_t *data;

	if (i < o->n && o->pages[i].off == off)
		return o->pages[i].data;
	data = talloc_size(o, DH_OVERLAY_PAGE);
	if (data == NULL) {
		errno = ENOMEM;
		return NULL;
	}
	if (read_padded(o->base, o->base_len, data, DH_OVERLAY_PAGE, off) != 0 ||
	    insert(o, i, off, data) != 0) {
		talloc_free(data);
		return NULL;
	}
	return data;
}

int dh_overlay_write(struct dh_overlay *o, const void *buf, size_t len,
		     uint64_t off)
{
	const uint8_t *from = buf;

	for (size_t done = 0; done < len;) {
		uint64_t at = off + done;
		size_t in = (size_t)(at % DH_OVERLAY_PAGE);
		size_t n = DH_OVERLAY_PAGE - in < len - done ?
			   DH_OVERLAY_PAGE - in : len - done;
		uint8_t *p = page_at(o, at - in);

		if (p == NULL)
			return -1;
		memcpy(p + in, from + done, n);
		done += n;
	}
	if (off + len > o->len)
		o->len = (size_t)(off + len);
	return 0;
}

int dh_overlay_read(const struct dh_overlay *o, void *buf, size_t len,
		    uint64_t off)
{
	uint8_t *to = buf;
	size_t have = off < o->len ? o->len - (size_t)off : 0;

	if (have > len)
		have = len;
	memset(to + have, 0, len - have);
	for (size_t done = 0; done < have;) {
		uint64_t at = off + done;
		size_t in = (size_t)(at % DH_OVERLAY_PAGE);
		size_t n = DH_OVERLAY_PAGE - in < have - done ?
			   DH_OVERLAY_PAGE - in : have - done;
		const struct page *p = find(o, at - in);

		if (p != NULL)
			memcpy(to + done, p->data + in, n);
		else if (read_padded(o->base, o->base_len, to + done, n, at) != 0)
			return -1;
		done += n;
	}
	return 0;
}

/* The pages of chunk (n bytes at off) that differ from the base's old
 * (n bytes at off), or lie past its end, appended. */
static int take_chunk(struct dh_overlay *o, const uint8_t *chunk,
		      const uint8_t *old, size_t n, uint64_t off)
{
	for (size_t p = 0; p < n; p += DH_OVERLAY_PAGE) {
		size_t k = n - p < DH_OVERLAY_PAGE ? n - p : DH_OVERLAY_PAGE;
		uint8_t *data;

		if (off + p < o->base_len && memcmp(chunk + p, old + p, k) == 0)
			continue;
		data = talloc_zero_size(o, DH_OVERLAY_PAGE);
		if (data == NULL) {
			errno = ENOMEM;
			return -1;
		}
		memcpy(data, chunk + p, k);
		if (insert(o, o->n, off + p, data) != 0)
			return -1;
	}
	return 0;
}

int dh_overlay_take(struct dh_overlay *o, int fd, size_t len)
{
	uint8_t *a = talloc_size(o, CHUNK), *b = talloc_size(o, CHUNK);
	int rc = 0;

	for (size_t i = 0; i < o->n; i++)
		talloc_free(o->pages[i].data);
	o->n = 0;
	o->len = len;
	if (a == NULL || b == NULL) {
		errno = ENOMEM;
		rc = -1;
	}
	for (uint64_t off = 0; rc == 0 && off < len; off += CHUNK) {
		size_t n = len - off < CHUNK ? len - (size_t)off : CHUNK;

		rc = read_padded(fd, len, a, n, off) != 0 ||
		     read_padded(o->base, o->base_len, b, n, off) != 0 ||
		     take_chunk(o, a, b, n, off) != 0 ? -1 : 0;
	}
	talloc_free(a);
	talloc_free(b);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Ranges                                                             */

struct ranges {
	TALLOC_CTX *mem;
	struct dh_log_range *r;
	size_t n, room;
};

static int add_range(struct ranges *rs, uint64_t at, uint32_t size)
{
	struct dh_log_range *last = rs->n ? &rs->r[rs->n - 1] : NULL;
	uint32_t rel = (uint32_t)(at - DH_REGF_BINS_START);

	if (last != NULL && last->offset + last->size == rel) {
		last->size += size;
		return 0;
	}
	if (rs->n == rs->room) {
		rs->room = rs->room ? 2 * rs->room : 16;
		rs->r = talloc_realloc(rs->mem, rs->r, struct dh_log_range,
				       rs->room);
		if (rs->r == NULL) {
			errno = ENOMEM;
			return -1;
		}
	}
	rs->r[rs->n++] = (struct dh_log_range){ rel, size };
	return 0;
}

/* The units of the page at off that differ from the base (new: its bytes;
 * NULL when it is not held, and reads as the base) or reach past the
 * base's end. */
static int page_ranges(const struct dh_overlay *o, struct ranges *rs,
		       uint64_t off, const uint8_t *new, uint32_t unit)
{
	uint8_t old[DH_OVERLAY_PAGE];

	if (new != NULL &&
	    read_padded(o->base, o->base_len, old, sizeof(old), off) != 0)
		return -1;
	for (uint32_t u = 0; u < DH_OVERLAY_PAGE && off + u < o->len; u += unit) {
		if (off + u + unit <= o->base_len &&
		    (new == NULL || memcmp(old + u, new + u, unit) == 0))
			continue;
		if (add_range(rs, off + u, unit) != 0)
			return -1;
	}
	return 0;
}

int dh_overlay_ranges(TALLOC_CTX *mem, const struct dh_overlay *o,
		      uint32_t unit, struct dh_log_range **out, size_t *n)
{
	struct ranges rs = { .mem = mem };
	/* The first page that may reach past the base's end. */
	uint64_t tail = o->base_len / DH_OVERLAY_PAGE * DH_OVERLAY_PAGE;
	size_t i = seek(o, DH_REGF_BINS_START);

	if (tail < DH_REGF_BINS_START)
		tail = DH_REGF_BINS_START;
	for (uint64_t off = DH_REGF_BINS_START; off < o->len;) {
		const struct page *p = i < o->n && o->pages[i].off == off ?
				       &o->pages[i++] : NULL;

		if (p == NULL && off < tail) {
			/* Unchanged: on to the next page held, or the tail. */
			off = i < o->n && o->pages[i].off < tail ?
			      o->pages[i].off : tail;
			continue;
		}
		if (page_ranges(o, &rs, off, p != NULL ? p->data : NULL,
				unit) != 0) {
			talloc_free(rs.r);
			return -1;
		}
		off += DH_OVERLAY_PAGE;
	}
	*out = rs.r;
	*n = rs.n;
	return 0;
}
