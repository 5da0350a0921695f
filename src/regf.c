#include "config.h"

#include <endian.h>
#include <errno.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "error.h"
#include "io.h"
#include "regf.h"

uint32_t dh_regf_checksum(const uint8_t *block)
{
	uint32_t sum = 0;

	for (unsigned off = 0; off < DH_REGF_CHECKSUM_OFFSET; off += 4)
		sum ^= dh_le32(block + off);
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
	if (len < DH_REGF_HEADER_SIZE ||
	    memcmp(buf + DH_REGF_SIGNATURE, "regf", 4) != 0)
		return dh_error_set(mem, err, DH_ERR_NOT_HIVE,
				    "%s is not a registry hive (no \"regf\" base block): check the path names a hive file such as Windows/System32/config/SYSTEM",
				    name);
	out->seq_primary = dh_le32(buf + DH_REGF_SEQ1);
	out->seq_secondary = dh_le32(buf + DH_REGF_SEQ2);
	out->last_written = dh_le64(buf + DH_REGF_WRITTEN);
	out->major = dh_le32(buf + DH_REGF_MAJOR);
	out->minor = dh_le32(buf + DH_REGF_MINOR);
	out->file_type = dh_le32(buf + DH_REGF_TYPE);
	out->root_offset = dh_le32(buf + DH_REGF_ROOT);
	out->bins_size = dh_le32(buf + DH_REGF_BINS_SIZE);
	out->flags = dh_le32(buf + DH_REGF_FLAGS);
	out->checksum_stored = dh_le32(buf + DH_REGF_CHECKSUM_OFFSET);
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

bool dh_regf_block_clean(const uint8_t *block)
{
	return dh_le32(block + DH_REGF_CHECKSUM_OFFSET) == dh_regf_checksum(block) &&
	       dh_le32(block + DH_REGF_SEQ1) == dh_le32(block + DH_REGF_SEQ2);
}

size_t dh_regf_hive_len(const uint8_t *block)
{
	return (size_t)DH_REGF_BINS_START + dh_le32(block + DH_REGF_BINS_SIZE);
}

void dh_regf_mark_written(uint8_t *block)
{
	uint32_t a = dh_le32(block + DH_REGF_SEQ1);
	uint32_t b = dh_le32(block + DH_REGF_SEQ2);
	uint32_t seq = (a > b ? a : b) + 1;

	dh_put_le32(block + DH_REGF_SEQ1, seq);
	dh_put_le32(block + DH_REGF_SEQ2, seq);
	dh_put_le32(block + DH_REGF_CHECKSUM_OFFSET, dh_regf_checksum(block));
}

/* Seconds from 1601-01-01 (the FILETIME epoch) to 1970-01-01. */
#define FILETIME_UNIX_EPOCH 11644473600ull

uint64_t dh_regf_filetime_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ((uint64_t)ts.tv_sec + FILETIME_UNIX_EPOCH) * 10000000u +
	       (uint64_t)ts.tv_nsec / 100u;
}

void dh_regf_set_written_time(uint8_t *block, uint64_t filetime)
{
	dh_put_le64(block + DH_REGF_WRITTEN, filetime);
	dh_put_le32(block + DH_REGF_CHECKSUM_OFFSET, dh_regf_checksum(block));
}

int dh_regf_read_fd(TALLOC_CTX *mem, int fd, const char *name,
		    struct dh_regf_header *out, struct dh_error **err)
{
	uint8_t block[DH_REGF_HEADER_SIZE];
	ssize_t got = dh_io_pread_full(fd, block, sizeof(block), 0);

	if (got < 0)
		return dh_error_errno(mem, err, DH_ERR_IO, errno,
				      "cannot read %s", name);
	return dh_regf_parse(mem, block, (size_t)got, name, out, err);
}
