#include "config.h"

#include <endian.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "error.h"
#include "regf.h"

/* Smallest base block we parse: every field we read lies below 512. */
#define BASE_BLOCK_MIN 512u

static uint32_t le32_at(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return le32toh(v);
}

static uint64_t le64_at(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return le64toh(v);
}

uint32_t dh_regf_checksum(const uint8_t *block)
{
	uint32_t sum = 0;

	for (unsigned off = 0; off < DH_REGF_CHECKSUM_OFFSET; off += 4)
		sum ^= le32_at(block + off);
	if (sum == 0xFFFFFFFFu)
		return 0xFFFFFFFEu;
	if (sum == 0)
		return 1;
	return sum;
}

int dh_regf_parse(TALLOC_CTX *mem, const uint8_t *buf, size_t len,
		  const char *name, struct dh_regf_header *out,
		  struct dh_error **err)
{
	if (len < BASE_BLOCK_MIN || memcmp(buf, "regf", 4) != 0)
		return dh_error_set(mem, err, DH_ERR_NOT_HIVE,
				    "%s is not a registry hive (no \"regf\" base block): check the path names a hive file such as Windows/System32/config/SYSTEM",
				    name);
	out->seq_primary = le32_at(buf + 4);
	out->seq_secondary = le32_at(buf + 8);
	out->last_written = le64_at(buf + 12);
	out->major = le32_at(buf + 20);
	out->minor = le32_at(buf + 24);
	out->file_type = le32_at(buf + 28);
	out->root_offset = le32_at(buf + 36);
	out->bins_size = le32_at(buf + 40);
	out->flags = le32_at(buf + 144);
	out->checksum_stored = le32_at(buf + DH_REGF_CHECKSUM_OFFSET);
	out->checksum_computed = dh_regf_checksum(buf);
	return 0;
}

char *dh_regf_dirty_reason(TALLOC_CTX *mem, const struct dh_regf_header *h)
{
	if (h->checksum_stored != h->checksum_computed)
		return talloc_asprintf(mem,
				       "base block checksum is 0x%08x, should be 0x%08x",
				       h->checksum_stored, h->checksum_computed);
	if (h->seq_primary != h->seq_secondary)
		return talloc_asprintf(mem,
				       "sequence numbers differ (%u and %u): Windows had not finished writing it",
				       h->seq_primary, h->seq_secondary);
	return NULL;
}

int dh_regf_read_fd(TALLOC_CTX *mem, int fd, const char *name,
		    struct dh_regf_header *out, struct dh_error **err)
{
	uint8_t block[BASE_BLOCK_MIN];
	size_t got = 0;

	while (got < sizeof(block)) {
		ssize_t r = pread(fd, block + got, sizeof(block) - got, got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return dh_error_errno(mem, err, DH_ERR_IO, errno,
					      "cannot read %s", name);
		if (r == 0)
			break;
		got += (size_t)r;
	}
	return dh_regf_parse(mem, block, got, name, out, err);
}
