#include "config.h"

#include <errno.h>
#include <string.h>

#include "error.h"
#include "io.h"
#include "logwrite.h"
#include "marvin32.h"
#include "overlay.h"
#include "regf.h"

/* What the hive says about itself, and where its pages go in the log. */
struct build {
	TALLOC_CTX *mem;
	const struct dh_overlay *hive;
	const char *path;
	struct dh_regf_header hdr;
	uint8_t base[DH_REGF_HEADER_SIZE];
	uint64_t data;          /* bytes of the ranges, together */
};

uint32_t dh_logwrite_page(enum dh_log_format f)
{
	switch (f) {
	case DH_LOG_NEW:
		return DH_HVLE_PAGE;
	case DH_LOG_OLD:
		return DH_DIRT_PAGE;
	default:
		return 0;
	}
}

static size_t round_up(size_t n, size_t to)
{
	return (n + to - 1) / to * to;
}

static int read_base(struct build *b, struct dh_error **err)
{
	size_t len = dh_overlay_len(b->hive);

	if (len > sizeof(b->base))
		len = sizeof(b->base);
	if (dh_overlay_read(b->hive, b->base, len, 0) != 0)
		return dh_error_io(b->mem, err, errno, NULL,
				   "cannot read %s to write its transaction log",
				   b->path);
	return dh_regf_parse(b->mem, b->base, len, b->path, &b->hdr, err);
}

/* Ranges sorted, apart, whole pages, within the bins; their total size. */
static int check_ranges(struct build *b, uint32_t page,
			const struct dh_log_range *r, size_t n,
			struct dh_error **err)
{
	uint64_t end = 0;

	b->data = 0;
	for (size_t i = 0; i < n; i++) {
		if (r[i].size == 0 || r[i].offset % page != 0 ||
		    r[i].size % page != 0 || r[i].offset < end ||
		    (uint64_t)r[i].offset + r[i].size > b->hdr.bins_size)
			return dh_error_set(b->mem, err, DH_ERR_ARGUMENT,
					    "cannot log the change of %s: range %zu (offset %u, %u bytes) is not whole %u-byte pages after the one before and within its %u bytes of hive bins",
					    b->path, i, r[i].offset, r[i].size,
					    page, b->hdr.bins_size);
		end = (uint64_t)r[i].offset + r[i].size;
		b->data += r[i].size;
	}
	return 0;
}

/* The bytes of range r of the hive, at dst. */
static int read_range(struct build *b, const struct dh_log_range *r,
		      uint8_t *dst, struct dh_error **err)
{
	uint64_t at = DH_REGF_BINS_START + (uint64_t)r->offset;
	size_t len = dh_overlay_len(b->hive);

	if (at + r->size > len)
		return dh_error_set(b->mem, err, DH_ERR_IO,
				    "%s ends at %zu bytes, before its hive bins do (%u bytes from %u): it is not complete, so no log of it can be written",
				    b->path, len, b->hdr.bins_size,
				    DH_REGF_BINS_START);
	if (dh_overlay_read(b->hive, dst, r->size, at) != 0)
		return dh_error_io(b->mem, err, errno, NULL,
				   "cannot read %s to write its transaction log",
				   b->path);
	return 0;
}

/* The log's base block: the hive's, as a log of file type `type` at
 * sequence seq. */
static void put_base(const struct build *b, uint8_t *log, uint32_t type,
		     uint32_t seq)
{
	memcpy(log, b->base, DH_REGF_HEADER_SIZE);
	dh_put_le32(log + DH_REGF_TYPE, type);
	dh_put_le32(log + DH_REGF_SEQ1, seq);
	dh_put_le32(log + DH_REGF_SEQ2, seq);
	dh_put_le32(log + DH_REGF_CHECKSUM_OFFSET, dh_regf_checksum(log));
}

/* One HvLE entry of `size` bytes at e (zeroed), sealed with its hashes. */
static int put_hvle(struct build *b, uint8_t *e, uint32_t size, uint32_t seq,
		    const struct dh_log_range *r, size_t n,
		    struct dh_error **err)
{
	uint8_t *ref = e + DH_HVLE_HEADER;
	uint8_t *data = ref + (size_t)DH_HVLE_REF_LEN * n;

	memcpy(e + DH_HVLE_SIGNATURE, "HvLE", 4);
	dh_put_le32(e + DH_HVLE_SIZE, size);
	dh_put_le32(e + DH_HVLE_FLAGS, b->hdr.flags & 1u);
	dh_put_le32(e + DH_HVLE_SEQ, seq);
	dh_put_le32(e + DH_HVLE_BINS_SIZE, b->hdr.bins_size);
	dh_put_le32(e + DH_HVLE_PAGE_COUNT, (uint32_t)n);
	for (size_t i = 0; i < n; i++, ref += DH_HVLE_REF_LEN) {
		dh_put_le32(ref + DH_HVLE_REF_OFFSET, r[i].offset);
		dh_put_le32(ref + DH_HVLE_REF_SIZE, r[i].size);
		if (read_range(b, &r[i], data, err) != 0)
			return -1;
		data += r[i].size;
	}
	dh_put_le64(e + DH_HVLE_HASH1,
		    dh_marvin32(e + DH_HVLE_HEADER, size - DH_HVLE_HEADER,
				DH_MARVIN32_LOG_SEED));
	dh_put_le64(e + DH_HVLE_HASH2,
		    dh_marvin32(e, DH_HVLE_HASH2, DH_MARVIN32_LOG_SEED));
	return 0;
}

/* The DIRT bitmap at d + DH_DIRT_BITMAP, then the pages from d + pages. */
static int put_dirt(struct build *b, uint8_t *d, size_t pages,
		    const struct dh_log_range *r, size_t n,
		    struct dh_error **err)
{
	uint8_t *bitmap = d + DH_DIRT_BITMAP, *data = d + pages;

	memcpy(d, "DIRT", 4);
	for (size_t i = 0; i < n; i++) {
		uint32_t first = r[i].offset / DH_DIRT_PAGE;
		uint32_t last = first + r[i].size / DH_DIRT_PAGE;

		for (uint32_t bit = first; bit < last; bit++)
			bitmap[bit / 8] |= (uint8_t)(1u << (bit % 8));
		if (read_range(b, &r[i], data, err) != 0)
			return -1;
		data += r[i].size;
	}
	return 0;
}

static int alloc_log(struct build *b, uint64_t size, uint8_t **log,
		     struct dh_error **err)
{
	/* Hive files are at most 4 GiB; so is a log of their pages. */
	if (size > UINT32_MAX)
		return dh_error_set(b->mem, err, DH_ERR_ARGUMENT,
				    "cannot log the change of %s: the log would exceed 4 GiB",
				    b->path);
	*log = talloc_zero_array(b->mem, uint8_t, (size_t)size);
	if (*log == NULL)
		return dh_error_nomem(b->mem, err);
	return 0;
}

static int build_new(struct build *b, uint32_t seq, const struct dh_log_range *r,
		     size_t n, uint8_t **out, size_t *len, struct dh_error **err)
{
	uint64_t entry = round_up(DH_HVLE_HEADER + (uint64_t)DH_HVLE_REF_LEN * n +
				  b->data, DH_LOG_SECTOR);
	uint8_t *log;

	if (alloc_log(b, DH_LOG_RECORDS + entry, &log, err) != 0)
		return -1;
	put_base(b, log, DH_REGF_TYPE_LOG_NEW, seq);
	if (put_hvle(b, log + DH_LOG_RECORDS, (uint32_t)entry, seq, r, n,
		     err) != 0) {
		talloc_free(log);
		return -1;
	}
	*out = log;
	*len = DH_LOG_RECORDS + (size_t)entry;
	return 0;
}

static int build_old(struct build *b, uint32_t seq, const struct dh_log_range *r,
		     size_t n, uint8_t **out, size_t *len, struct dh_error **err)
{
	size_t bitmap = b->hdr.bins_size / DH_DIRT_PAGE / 8;
	size_t pages = round_up(DH_DIRT_BITMAP + bitmap,
				DH_LOG_SECTOR);
	uint8_t *log;

	if (alloc_log(b, DH_DIRT_OFFSET + pages + b->data, &log, err) != 0)
		return -1;
	put_base(b, log, DH_REGF_TYPE_LOG_OLD, seq);
	if (put_dirt(b, log + DH_DIRT_OFFSET, pages, r, n, err) != 0) {
		talloc_free(log);
		return -1;
	}
	*out = log;
	*len = DH_DIRT_OFFSET + pages + (size_t)b->data;
	return 0;
}

int dh_logwrite_build(TALLOC_CTX *mem, enum dh_log_format f,
		      const struct dh_overlay *hive,
		      const char *hive_path, uint32_t seq,
		      const struct dh_log_range *r, size_t n,
		      uint8_t **out, size_t *len, struct dh_error **err)
{
	struct build b = { .mem = mem, .hive = hive, .path = hive_path };
	uint32_t page = dh_logwrite_page(f);

	if (page == 0)
		return dh_error_set(mem, err, DH_ERR_ARGUMENT,
				    "cannot log the change of %s: no log format chosen",
				    hive_path);
	if (read_base(&b, err) != 0)
		return -1;
	if (b.hdr.bins_size == 0 || b.hdr.bins_size % DH_HBIN_ALIGN != 0)
		return dh_error_set(mem, err, DH_ERR_NOT_HIVE,
				    "%s: its hive bins size %u is not a multiple of %u, so no log of it can be written",
				    hive_path, b.hdr.bins_size, DH_HBIN_ALIGN);
	if (check_ranges(&b, page, r, n, err) != 0)
		return -1;
	return f == DH_LOG_NEW ? build_new(&b, seq, r, n, out, len, err)
			       : build_old(&b, seq, r, n, out, len, err);
}
