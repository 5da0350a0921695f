#include "config.h"

#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"
#include "io.h"
#include "marvin32.h"
#include "recover.h"
#include "regf.h"

#define BASE 4096u          /* hive bins start here */
#define SECTOR 512u         /* log records are aligned to this */
#define BIN_ALIGN 4096u     /* hive bins sizes are multiples of this */
#define HVLE_HEADER 40u     /* bytes before an entry's page references */
#define DIRT_OFFSET 512u

enum log_format { LOG_NONE, LOG_OLD, LOG_NEW };

/* A base block is valid when it is signed, its checksum is right and its
 * two sequence numbers agree. */
static bool base_block_valid(const uint8_t *b, size_t len)
{
	return len >= SECTOR && memcmp(b, "regf", 4) == 0 &&
	       dh_le32(b + DH_REGF_CHECKSUM_OFFSET) == dh_regf_checksum(b) &&
	       dh_le32(b + 4) == dh_le32(b + 8);
}

/* ---- new format: HvLE entries ---- */

struct entry {
	const uint8_t *p;       /* the entry, within its log */
	uint32_t size;
	uint32_t flags;
	uint32_t seq;
	uint32_t bins_size;
	uint32_t n_pages;
};

/* Parse and check the entry at off; NULL when valid, else why not. Every
 * field is checked against the bytes that are there before it is used. */
static const char *entry_parse(const uint8_t *log, size_t len, size_t off,
			       struct entry *e)
{
	const uint8_t *p = log + off;
	uint64_t data = 0;

	if (len - off < HVLE_HEADER || memcmp(p, "HvLE", 4) != 0)
		return "no further entry";
	e->p = p;
	e->size = dh_le32(p + 4);
	e->flags = dh_le32(p + 8);
	e->seq = dh_le32(p + 12);
	e->bins_size = dh_le32(p + 16);
	e->n_pages = dh_le32(p + 20);
	if (e->size < HVLE_HEADER || e->size % SECTOR != 0 || e->size > len - off)
		return "an entry's size runs past the end of the log";
	if (e->bins_size == 0 || e->bins_size % BIN_ALIGN != 0)
		return "an entry's hive bins size is not a multiple of 4096";
	if (e->n_pages > (e->size - HVLE_HEADER) / 8)
		return "an entry's page count does not fit in it";
	for (uint32_t i = 0; i < e->n_pages; i++) {
		uint64_t at = dh_le32(p + HVLE_HEADER + 8 * i);
		uint64_t sz = dh_le32(p + HVLE_HEADER + 8 * i + 4);

		if (sz == 0 || at + sz > e->bins_size)
			return "an entry's page lies outside the hive";
		data += sz;
	}
	if (HVLE_HEADER + 8ull * e->n_pages + data > e->size)
		return "an entry's pages run past its end";
	return NULL;
}

/* Both hashes of an entry: of its header, and (body_hash, computed) of
 * everything after. */
static bool entry_hash_ok(const struct entry *e, uint64_t body_hash)
{
	return body_hash == dh_le64(e->p + 24) &&
	       dh_marvin32(e->p, 32, DH_MARVIN32_LOG_SEED) == dh_le64(e->p + 32);
}

/* How many of entries[0..n) have right hashes before the first that has
 * not; -1 when memory runs out. The long hashes are taken all at once
 * (dh_marvin32_many runs two side by side): most of a replay's time is
 * spent here. */
static ssize_t hashes_ok(TALLOC_CTX *mem, const struct entry *entries,
			 size_t n)
{
	TALLOC_CTX *tmp = talloc_new(mem);
	const uint8_t **data = talloc_array(tmp, const uint8_t *, n ? n : 1);
	size_t *len = talloc_array(tmp, size_t, n ? n : 1);
	uint64_t *hash = talloc_array(tmp, uint64_t, n ? n : 1);
	size_t i;

	if (data == NULL || len == NULL || hash == NULL) {
		talloc_free(tmp);
		return -1;
	}
	for (i = 0; i < n; i++) {
		data[i] = entries[i].p + HVLE_HEADER;
		len[i] = entries[i].size - HVLE_HEADER;
	}
	dh_marvin32_many(data, len, n, DH_MARVIN32_LOG_SEED, hash);
	for (i = 0; i < n && entry_hash_ok(&entries[i], hash[i]); i++)
		;
	talloc_free(tmp);
	return (ssize_t)i;
}

/* One new-format log: its valid entries, in order, up to the first bad one. */
struct new_log {
	struct entry *entries;
	size_t n;
	const char *stop;       /* why the scan stopped, when not at the end */
};

/* The entries from off on whose fields are sound, up to the first that is
 * not (*why says why then, else NULL). Hashes are checked after. */
static const char *parse_entries(TALLOC_CTX *mem, const struct dh_log_input *in,
				 struct new_log *out, const char **why)
{
	size_t off = SECTOR;

	*why = NULL;
	while (off < in->len) {
		struct entry e;

		if ((*why = entry_parse(in->data, in->len, off, &e)) != NULL)
			break;
		out->entries = talloc_realloc(mem, out->entries, struct entry,
					      out->n + 1);
		if (out->entries == NULL)
			return "out of memory";
		out->entries[out->n++] = e;
		off += e.size;
	}
	return NULL;
}

/* The valid entries: sound, hashed right, and numbered in sequence from
 * the log's base block on; those after the first that is not are cut.
 * NULL, or why it cannot be told (out of memory). */
static const char *keep_valid(TALLOC_CTX *mem, struct new_log *out,
			      uint32_t log_seq, const char *why)
{
	ssize_t ok = hashes_ok(mem, out->entries, out->n);
	size_t n;

	if (ok < 0)
		return "out of memory";
	n = (size_t)ok;
	if (n < out->n)
		why = "an entry's hash is wrong";
	for (size_t i = 0; i < n; i++) {
		uint32_t want = i == 0 ? log_seq : out->entries[i - 1].seq + 1;

		if (out->entries[i].seq == want)
			continue;
		why = i == 0 ? "its first entry's sequence number differs from its base block's"
			     : "a gap in entry sequence numbers";
		n = i;
		break;
	}
	out->n = n;
	out->stop = why;
	return NULL;
}

static const char *scan_new_log(TALLOC_CTX *mem, const struct dh_log_input *in,
				uint32_t primary_seq2, struct new_log *out)
{
	const char *why, *fail;

	out->entries = NULL;
	out->n = 0;
	if ((fail = parse_entries(mem, in, out, &why)) != NULL ||
	    (fail = keep_valid(mem, out, dh_le32(in->data + 4), why)) != NULL)
		return fail;
	if (out->n == 0)
		return out->stop ? out->stop : "it holds no entry";
	if (out->entries[0].seq < primary_seq2)
		return "its entries are older than the hive (stale log)";
	return NULL;
}

/* ---- old format: DIRT bitmap ---- */

struct old_log {
	const uint8_t *bitmap;
	const uint8_t *pages;
	uint32_t bins_size;
	uint32_t n_pages;
	uint32_t seq;
};

static uint32_t count_bits(const uint8_t *b, size_t n)
{
	uint32_t c = 0;

	for (size_t i = 0; i < n; i++)
		c += (uint32_t)__builtin_popcount(b[i]);
	return c;
}

static const char *scan_old_log(const struct dh_log_input *in,
				const uint8_t *primary, bool primary_valid,
				struct old_log *out)
{
	const uint8_t *d = in->data;
	size_t bitmap_bytes, pages_at;

	if (primary_valid && dh_le64(d + 12) != dh_le64(primary + 12))
		return "its last-written time differs from the hive's (it belongs to an older state)";
	out->bins_size = dh_le32(d + 40);
	out->seq = dh_le32(d + 4);
	if (out->bins_size == 0 || out->bins_size % BIN_ALIGN != 0)
		return "its hive bins size is not a multiple of 4096";
	bitmap_bytes = out->bins_size / BIN_ALIGN;   /* one bit per 512 bytes */
	if (in->len < DIRT_OFFSET + 4 || memcmp(d + DIRT_OFFSET, "DIRT", 4) != 0)
		return "it has no DIRT dirty-page vector";
	if (in->len - DIRT_OFFSET - 4 < bitmap_bytes)
		return "its dirty-page vector runs past its end";
	out->bitmap = d + DIRT_OFFSET + 4;
	pages_at = (DIRT_OFFSET + 4 + bitmap_bytes + SECTOR - 1) / SECTOR * SECTOR;
	out->n_pages = count_bits(out->bitmap, bitmap_bytes);
	if (pages_at > in->len || (in->len - pages_at) / SECTOR < out->n_pages)
		return "its dirty pages run past its end";
	out->pages = d + pages_at;
	return NULL;
}

/* ---- the replay ---- */

struct replay {
	TALLOC_CTX *mem;
	struct dh_recovery *rec;
	const struct dh_log_input *logs;
	size_t n_logs;
	const uint8_t *primary; /* its base block, at least SECTOR bytes */
	bool primary_valid;     /* its base block checksum is right */
	uint32_t primary_seq2;
	size_t grow_limit;      /* the hive may not outgrow what logs hold */
	enum log_format *format;
	struct new_log *new_logs;
	struct old_log *old_logs;
	int fd;                 /* the copy the hive is recovered into */
	size_t len;             /* its length so far */
	uint8_t base[SECTOR];   /* its base block, written last */
};

static enum log_format classify(struct replay *r, size_t i)
{
	const struct dh_log_input *in = &r->logs[i];
	struct dh_log_status *st = &r->rec->logs[i];
	uint32_t type;

	if (in->len == 0) {
		st->why_not = "it is empty";
		return LOG_NONE;
	}
	if (!base_block_valid(in->data, in->len)) {
		st->why_not = "its base block is damaged";
		return LOG_NONE;
	}
	type = dh_le32(in->data + 28);
	if (type == 6)
		return LOG_NEW;
	if (type == 1 || type == 2)
		return LOG_OLD;
	st->why_not = "it is not a transaction log (file type)";
	return LOG_NONE;
}

static void scan_logs(struct replay *r)
{
	for (size_t i = 0; i < r->n_logs; i++) {
		struct dh_log_status *st = &r->rec->logs[i];
		const char *why = NULL;

		st->path = r->logs[i].path;
		r->format[i] = classify(r, i);
		if (r->format[i] == LOG_NEW)
			why = scan_new_log(r->new_logs, &r->logs[i],
					   r->primary_seq2, &r->new_logs[i]);
		else if (r->format[i] == LOG_OLD)
			why = scan_old_log(&r->logs[i], r->primary,
					   r->primary_valid, &r->old_logs[i]);
		if (why != NULL) {
			st->why_not = (char *)why;
			r->format[i] = LOG_NONE;
		}
		st->usable = r->format[i] != LOG_NONE;
		if (!st->usable || r->format[i] != LOG_NEW)
			continue;
		st->why_not = (char *)r->new_logs[i].stop;
	}
}

/* The base block replay starts from: the primary's, or when that is
 * damaged, the copy in the log (made a primary again). */
static void take_base_block(struct replay *r, size_t log)
{
	if (r->primary_valid)
		return;
	memcpy(r->base, r->logs[log].data, SECTOR);
	dh_put_le32(r->base + 28, 0);
	r->rec->base_block_from_log = true;
}

static int resize(struct replay *r, uint32_t bins_size)
{
	size_t want = (size_t)BASE + bins_size;

	if (want == r->len)
		return 0;
	if (ftruncate(r->fd, (off_t)want) != 0)
		return -1;
	r->len = want;
	return 0;
}

/* Sequence numbers, size and checksum, then the block itself: the last
 * write, so a hive whose pages failed to go in is never signed clean. */
static int finish_base_block(struct replay *r, uint32_t seq, uint32_t bins_size)
{
	dh_put_le32(r->base + 4, seq);
	dh_put_le32(r->base + 8, seq);
	dh_put_le32(r->base + 40, bins_size);
	dh_put_le32(r->base + DH_REGF_CHECKSUM_OFFSET, dh_regf_checksum(r->base));
	return dh_io_pwrite_all(r->fd, r->base, SECTOR, 0);
}

static int apply_entry(struct replay *r, const struct entry *e)
{
	const uint8_t *data = e->p + HVLE_HEADER + 8ull * e->n_pages;
	uint32_t flags;

	if (resize(r, e->bins_size) != 0)
		return -1;
	for (uint32_t i = 0; i < e->n_pages; i++) {
		uint32_t at = dh_le32(e->p + HVLE_HEADER + 8 * i);
		uint32_t sz = dh_le32(e->p + HVLE_HEADER + 8 * i + 4);

		if (dh_io_pwrite_all(r->fd, data, sz, (off_t)BASE + at) != 0)
			return -1;
		data += sz;
	}
	flags = (dh_le32(r->base + 144) & ~1u) | (e->flags & 1u);
	dh_put_le32(r->base + 144, flags);
	r->rec->pages_applied += e->n_pages;
	r->rec->entries_applied++;
	r->rec->last_sequence = e->seq;
	return 0;
}

/* Order of the usable new-format logs: the one holding earlier entries
 * first. */
static size_t new_log_order(struct replay *r, size_t *order)
{
	size_t n = 0;

	for (size_t i = 0; i < r->n_logs; i++) {
		size_t j;

		if (r->format[i] != LOG_NEW)
			continue;
		for (j = n; j > 0 && r->new_logs[order[j - 1]].entries[0].seq >
					     r->new_logs[i].entries[0].seq; j--)
			order[j] = order[j - 1];
		order[j] = i;
		n++;
	}
	return n;
}

/* Which entries apply, without touching the hive: a chain of sequence
 * numbers, each the previous plus one, continuing from one log into the
 * next, stopping at a gap or where the hive would grow beyond the logs. */
static size_t plan_new(struct replay *r, const size_t *order, size_t n_order,
		       const struct entry **plan, size_t *from)
{
	size_t n = 0;
	uint32_t last = 0;

	for (size_t k = 0; k < n_order; k++) {
		const struct new_log *l = &r->new_logs[order[k]];

		for (size_t i = 0; i < l->n; i++) {
			const struct entry *e = &l->entries[i];

			if (n > 0 && e->seq <= last)
				continue;
			if (n > 0 && e->seq != last + 1)
				return n;
			if ((size_t)e->bins_size > r->grow_limit) {
				r->rec->logs[order[k]].why_not =
					"an entry grows the hive beyond what the logs hold";
				return n;
			}
			plan[n] = e;
			from[n++] = order[k];
			last = e->seq;
		}
	}
	return n;
}

static int replay_new(struct replay *r)
{
	size_t total = 0, n_order, n;
	size_t *order = talloc_array(r->mem, size_t, r->n_logs);
	const struct entry **plan;
	size_t *from;

	for (size_t i = 0; i < r->n_logs; i++)
		total += r->new_logs[i].n;
	plan = talloc_array(r->mem, const struct entry *, total);
	from = talloc_array(r->mem, size_t, total);
	if (order == NULL || plan == NULL || from == NULL) {
		errno = ENOMEM;
		return -1;
	}
	n_order = new_log_order(r, order);
	n = plan_new(r, order, n_order, plan, from);
	if (n == 0)
		return 1;
	take_base_block(r, from[0]);
	for (size_t i = 0; i < n; i++) {
		if (apply_entry(r, plan[i]) != 0)
			return -1;
		r->rec->logs[from[i]].used = true;
		r->rec->logs[from[i]].entries++;
	}
	return finish_base_block(r, r->rec->last_sequence,
				 plan[n - 1]->bins_size);
}

/* Of the usable old-format logs, the newest (highest sequence). */
static int pick_old(struct replay *r)
{
	int best = -1;

	for (size_t i = 0; i < r->n_logs; i++)
		if (r->format[i] == LOG_OLD &&
		    (best < 0 || r->old_logs[i].seq > r->old_logs[best].seq))
			best = (int)i;
	return best;
}

/* Runs of dirty 512-byte pages, each run one write: consecutive bits are
 * consecutive pages in the log too. */
static int write_dirty_pages(struct replay *r, const struct old_log *l)
{
	const uint8_t *page = l->pages;
	uint32_t bits = l->bins_size / SECTOR;

	for (uint32_t bit = 0; bit < bits;) {
		uint32_t end = bit;

		while (end < bits && (l->bitmap[end / 8] & (1u << (end % 8))))
			end++;
		if (end == bit) {
			bit++;
			continue;
		}
		if (dh_io_pwrite_all(r->fd, page, (size_t)(end - bit) * SECTOR,
				     (off_t)BASE + (off_t)bit * SECTOR) != 0)
			return -1;
		page += (size_t)(end - bit) * SECTOR;
		bit = end;
	}
	return 0;
}

static int replay_old(struct replay *r)
{
	int i = pick_old(r);
	const struct old_log *l;
	uint32_t seq;

	if (i < 0)
		return 1;
	l = &r->old_logs[i];
	if ((size_t)l->bins_size > r->grow_limit) {
		r->rec->logs[i].why_not = "it grows the hive beyond what the logs hold";
		return 1;
	}
	take_base_block(r, (size_t)i);
	seq = dh_le32(r->base + 4);
	if (resize(r, l->bins_size) != 0 || write_dirty_pages(r, l) != 0)
		return -1;
	r->rec->pages_applied = l->n_pages;
	r->rec->entries_applied = 1;
	r->rec->last_sequence = seq;
	r->rec->logs[i].used = true;
	r->rec->logs[i].entries = 1;
	return finish_base_block(r, seq, l->bins_size);
}

static int refuse(struct replay *r, const char *name, struct dh_error **err)
{
	char *why = talloc_asprintf(r->mem, "%s is dirty (%s) and no transaction log can be replayed",
				    name, r->rec->dirty_reason);

	if (r->n_logs == 0)
		why = talloc_asprintf_append(why, " (no %s.LOG, .LOG1 or .LOG2 beside it)", name);
	for (size_t i = 0; why != NULL && i < r->n_logs; i++)
		why = talloc_asprintf_append(why, "; %s: %s", r->logs[i].path,
					     r->rec->logs[i].why_not ?
					     r->rec->logs[i].why_not : "not needed");
	if (why == NULL)
		return dh_error_set(r->mem, err, DH_ERR_NOMEM, "out of memory");
	return dh_error_set(r->mem, err, DH_ERR_DIRTY,
			    "%s. Its newest changes are not in the hive file: boot Windows once and shut it down fully, or pass --ignore-logs to accept losing them",
			    why);
}

static int replay_init(TALLOC_CTX *mem, struct replay *r, const uint8_t *head,
		       size_t len, const struct dh_log_input *logs,
		       size_t n_logs)
{
	size_t total = 0;

	r->rec = talloc_zero(mem, struct dh_recovery);
	if (r->rec == NULL)
		return -1;
	r->mem = r->rec;
	r->logs = logs;
	r->n_logs = n_logs;
	r->primary = head;
	r->len = len;
	memcpy(r->base, head, SECTOR);
	r->primary_valid = dh_le32(head + DH_REGF_CHECKSUM_OFFSET) ==
			   dh_regf_checksum(head);
	/* A damaged base block's sequence numbers mean nothing: the log's
	 * own copy replaces it, so nothing can be judged stale against it. */
	r->primary_seq2 = r->primary_valid ? dh_le32(head + 8) : 0;
	for (size_t i = 0; i < n_logs; i++)
		total += logs[i].len;
	r->grow_limit = (len > BASE ? len - BASE : 0) + total;
	r->rec->logs = talloc_zero_array(r->rec, struct dh_log_status, n_logs);
	r->rec->n_logs = n_logs;
	r->format = talloc_zero_array(r->rec, enum log_format, n_logs);
	r->new_logs = talloc_zero_array(r->rec, struct new_log, n_logs);
	r->old_logs = talloc_zero_array(r->rec, struct old_log, n_logs);
	if ((n_logs > 0 && (r->rec->logs == NULL || r->format == NULL ||
			    r->new_logs == NULL || r->old_logs == NULL)))
		return -1;
	return 0;
}

static int recover_dirty(struct replay *r, const char *name,
			 struct dh_error **err)
{
	bool any_new = false;
	int rc;

	scan_logs(r);
	for (size_t i = 0; i < r->n_logs; i++)
		any_new |= r->format[i] == LOG_NEW;
	rc = any_new ? replay_new(r) : replay_old(r);
	if (rc < 0)
		return dh_error_errno(r->mem, err,
				      errno == ENOMEM ? DH_ERR_NOMEM : DH_ERR_IO,
				      errno, "cannot write the recovered copy of %s",
				      name);
	if (rc > 0)
		return refuse(r, name, err);
	return 0;
}

int dh_recover_apply_fd(TALLOC_CTX *mem, int fd, const char *name,
			const struct dh_log_input *logs, size_t n_logs,
			struct dh_recovery **out, struct dh_error **err)
{
	struct dh_regf_header hdr;
	struct replay r = { .fd = fd };
	uint8_t head[BASE];
	struct stat st;
	ssize_t got;
	int rc;

	if (fstat(fd, &st) != 0 ||
	    (got = dh_io_pread_full(fd, head, sizeof(head), 0)) < 0)
		return dh_error_errno(mem, err, DH_ERR_IO, errno,
				      "cannot read the copy of %s", name);
	if (dh_regf_parse(mem, head, (size_t)got, name, &hdr, err) != 0)
		return -1;
	if (st.st_size < (off_t)BASE)
		return dh_error_set(mem, err, DH_ERR_NOT_HIVE,
				    "%s is too short to be a hive (%lld bytes)",
				    name, (long long)st.st_size);
	if (replay_init(mem, &r, head, (size_t)st.st_size, logs, n_logs) != 0)
		return dh_error_set(mem, err, DH_ERR_NOMEM, "out of memory");
	*out = r.rec;
	r.rec->dirty_reason = dh_regf_dirty_reason(r.rec, &hdr);
	r.rec->dirty = r.rec->dirty_reason != NULL;
	if (!r.rec->dirty)
		return 0;
	rc = recover_dirty(&r, name, err);
	if (rc != 0 && err != NULL && *err != NULL)
		talloc_steal(mem, *err);
	return rc;
}
