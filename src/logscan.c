#include "config.h"

#include <string.h>
#include <sys/types.h>

#include "io.h"
#include "logscan.h"
#include "marvin32.h"
#include "regf.h"

/* Where a log's entries end normally, as opposed to an entry that is
 * there but damaged. */
static const char NO_FURTHER_ENTRY[] = "no further entry";

/* A base block is valid when it is signed, its checksum is right and its
 * two sequence numbers agree. */
static bool base_block_valid(const uint8_t *b, size_t len)
{
	return len >= DH_REGF_HEADER_SIZE &&
	       memcmp(b + DH_REGF_SIGNATURE, "regf", 4) == 0 &&
	       dh_regf_block_clean(b);
}

/* ---- new format: HvLE entries ---- */

/* The page reference i of an entry: its page's offset and size. */
static uint32_t ref_field(const uint8_t *p, uint32_t i, unsigned field)
{
	return dh_le32(p + DH_HVLE_HEADER + DH_HVLE_REF_LEN * i + field);
}

/* Parse and check the entry at off; NULL when valid, else why not. Every
 * field is checked against the bytes that are there before it is used. */
static const char *entry_parse(const uint8_t *log, size_t len, size_t off,
			       struct dh_hvle *e)
{
	const uint8_t *p = log + off;
	uint64_t data = 0;

	if (len - off < DH_HVLE_HEADER ||
	    memcmp(p + DH_HVLE_SIGNATURE, "HvLE", 4) != 0)
		return NO_FURTHER_ENTRY;
	e->p = p;
	e->size = dh_le32(p + DH_HVLE_SIZE);
	e->flags = dh_le32(p + DH_HVLE_FLAGS);
	e->seq = dh_le32(p + DH_HVLE_SEQ);
	e->bins_size = dh_le32(p + DH_HVLE_BINS_SIZE);
	e->n_pages = dh_le32(p + DH_HVLE_PAGE_COUNT);
	if (e->size < DH_HVLE_HEADER || e->size % DH_LOG_SECTOR != 0 ||
	    e->size > len - off)
		return "an entry's size runs past the end of the log";
	if (e->bins_size == 0 || e->bins_size % DH_HBIN_ALIGN != 0)
		return "an entry's hive bins size is not a multiple of 4096";
	if (e->n_pages > (e->size - DH_HVLE_HEADER) / DH_HVLE_REF_LEN)
		return "an entry's page count does not fit in it";
	for (uint32_t i = 0; i < e->n_pages; i++) {
		uint64_t at = ref_field(p, i, DH_HVLE_REF_OFFSET);
		uint64_t sz = ref_field(p, i, DH_HVLE_REF_SIZE);

		if (sz == 0 || at + sz > e->bins_size)
			return "an entry's page lies outside the hive";
		data += sz;
	}
	if (DH_HVLE_HEADER + (uint64_t)DH_HVLE_REF_LEN * e->n_pages + data >
	    e->size)
		return "an entry's pages run past its end";
	return NULL;
}

/* Both hashes of an entry: of its header, and (body_hash, computed) of
 * everything after. */
static bool entry_hash_ok(const struct dh_hvle *e, uint64_t body_hash)
{
	return body_hash == dh_le64(e->p + DH_HVLE_HASH1) &&
	       dh_marvin32(e->p, DH_HVLE_HASH2, DH_MARVIN32_LOG_SEED) ==
		       dh_le64(e->p + DH_HVLE_HASH2);
}

/* How many of entries[0..n) have right hashes before the first that has
 * not; -1 when memory runs out. The long hashes are taken all at once
 * (dh_marvin32_many runs two side by side): most of a replay's time is
 * spent here. */
static ssize_t hashes_ok(TALLOC_CTX *mem, const struct dh_hvle *entries,
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
		data[i] = entries[i].p + DH_HVLE_HEADER;
		len[i] = entries[i].size - DH_HVLE_HEADER;
	}
	dh_marvin32_many(data, len, n, DH_MARVIN32_LOG_SEED, hash);
	for (i = 0; i < n && entry_hash_ok(&entries[i], hash[i]); i++)
		;
	talloc_free(tmp);
	return (ssize_t)i;
}

/* The entries from the first record on whose fields are sound, up to the
 * first that is not (*why says why then, else NULL). Hashes are checked
 * after. */
static const char *parse_entries(TALLOC_CTX *mem, const uint8_t *log,
				 size_t len, struct dh_new_log *out,
				 const char **why)
{
	size_t off = DH_LOG_RECORDS;

	*why = NULL;
	while (off < len) {
		struct dh_hvle e;

		if ((*why = entry_parse(log, len, off, &e)) != NULL) {
			out->bad_off = *why == NO_FURTHER_ENTRY ? 0 : off;
			break;
		}
		out->entries = talloc_realloc(mem, out->entries, struct dh_hvle,
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
static const char *keep_valid(TALLOC_CTX *mem, struct dh_new_log *out,
			      uint32_t log_seq, const char *why)
{
	ssize_t ok = hashes_ok(mem, out->entries, out->n);
	size_t n;

	if (ok < 0)
		return "out of memory";
	out->parsed = out->n;
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

static const char *scan_new_log(TALLOC_CTX *mem, const uint8_t *log,
				size_t len, uint32_t primary_seq2,
				struct dh_new_log *out)
{
	const char *why, *fail;

	if ((fail = parse_entries(mem, log, len, out, &why)) != NULL ||
	    (fail = keep_valid(mem, out, dh_le32(log + DH_REGF_SEQ1), why)) != NULL)
		return fail;
	if (out->n == 0)
		return out->stop ? out->stop : "it holds no entry";
	if (out->entries[0].seq < primary_seq2)
		return "its entries are older than the hive (stale log)";
	return NULL;
}

/* ---- old format: DIRT bitmap ---- */

static uint32_t count_bits(const uint8_t *b, size_t n)
{
	uint32_t c = 0;

	for (size_t i = 0; i < n; i++)
		c += (uint32_t)__builtin_popcount(b[i]);
	return c;
}

static const char *scan_old_log(const uint8_t *d, size_t len,
				const uint8_t *primary, bool primary_valid,
				struct dh_old_log *out)
{
	size_t bitmap_bytes, pages_at, bitmap_at = DH_DIRT_OFFSET + DH_DIRT_BITMAP;

	if (primary_valid && dh_le64(d + DH_REGF_WRITTEN) !=
			     dh_le64(primary + DH_REGF_WRITTEN))
		return "its last-written time differs from the hive's (it belongs to an older state)";
	out->bins_size = dh_le32(d + DH_REGF_BINS_SIZE);
	out->seq = dh_le32(d + DH_REGF_SEQ1);
	if (out->bins_size == 0 || out->bins_size % DH_HBIN_ALIGN != 0)
		return "its hive bins size is not a multiple of 4096";
	bitmap_bytes = out->bins_size / DH_DIRT_PAGE / 8;
	if (len < bitmap_at || memcmp(d + DH_DIRT_OFFSET, "DIRT", 4) != 0)
		return "it has no DIRT dirty-page vector";
	if (len - bitmap_at < bitmap_bytes)
		return "its dirty-page vector runs past its end";
	out->bitmap = d + bitmap_at;
	pages_at = (bitmap_at + bitmap_bytes + DH_LOG_SECTOR - 1) /
		   DH_LOG_SECTOR * DH_LOG_SECTOR;
	out->n_pages = count_bits(out->bitmap, bitmap_bytes);
	if (pages_at > len || (len - pages_at) / DH_DIRT_PAGE < out->n_pages)
		return "its dirty pages run past its end";
	out->pages = d + pages_at;
	return NULL;
}

/* ---- either ---- */

static enum dh_log_format format_of(const uint8_t *data)
{
	switch (dh_le32(data + DH_REGF_TYPE)) {
	case DH_REGF_TYPE_LOG_NEW:
		return DH_LOG_NEW;
	case DH_REGF_TYPE_LOG_OLD:
	case DH_REGF_TYPE_LOG_OLD_2000:
		return DH_LOG_OLD;
	default:
		return DH_LOG_NONE;
	}
}

enum dh_log_format dh_logscan_format(const uint8_t *data, size_t len)
{
	return base_block_valid(data, len) ? format_of(data) : DH_LOG_NONE;
}

const char *dh_logscan(TALLOC_CTX *mem, const uint8_t *data, size_t len,
		       const uint8_t *primary, bool primary_valid,
		       uint32_t primary_seq2, struct dh_logscan *out)
{
	enum dh_log_format format;
	const char *why;

	memset(out, 0, sizeof(*out));
	if (len == 0)
		return "it is empty";
	if (!base_block_valid(data, len))
		return "its base block is damaged";
	format = format_of(data);
	if (format == DH_LOG_NONE)
		return "it is not a transaction log (file type)";
	why = format == DH_LOG_NEW ?
		scan_new_log(mem, data, len, primary_seq2, &out->new_log) :
		scan_old_log(data, len, primary, primary_valid, &out->old_log);
	if (why == NULL)
		out->format = format;
	return why;
}
