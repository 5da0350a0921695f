#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz_input.h"
#include "io.h"
#include "marvin32.h"
#include "regf.h"

#define HEADER 16u
#define ABSENT 0xFFFFFFFFu

uint32_t fuzz_rd32(const uint8_t *p)
{
	return dh_le32(p);
}

/* Up to want bytes from *p (rem left) into a fresh block of that size. */
static uint8_t *take(const uint8_t **p, size_t *rem, uint32_t want,
		     size_t *len)
{
	size_t n = want < *rem ? want : *rem;
	uint8_t *b = malloc(n ? n : 1);

	if (b == NULL)
		abort();
	if (n)
		memcpy(b, *p, n);
	*p += n;
	*rem -= n;
	*len = n;
	return b;
}

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void fix_base_block(uint8_t *b, size_t len)
{
	if (len >= DH_REGF_HEADER_SIZE)
		dh_put_le32(b + DH_REGF_CHECKSUM_OFFSET, dh_regf_checksum(b));
}

/* Give every HvLE entry of the chain from the first record its right
 * hashes: first over its pages, then over its first 32 bytes, which hold
 * the first hash. */
static void fix_log(uint8_t *log, size_t len)
{
	size_t off = DH_LOG_RECORDS;

	fix_base_block(log, len);
	while (off < len && len - off >= DH_HVLE_HEADER &&
	       memcmp(log + off + DH_HVLE_SIGNATURE, "HvLE", 4) == 0) {
		uint8_t *e = log + off;
		uint32_t size = dh_le32(e + DH_HVLE_SIZE);

		if (size < DH_HVLE_HEADER || size > len - off)
			break;
		put64(e + DH_HVLE_HASH1,
		      dh_marvin32(e + DH_HVLE_HEADER, size - DH_HVLE_HEADER,
				  DH_MARVIN32_LOG_SEED));
		put64(e + DH_HVLE_HASH2,
		      dh_marvin32(e, DH_HVLE_HASH2, DH_MARVIN32_LOG_SEED));
		off += size;
	}
}

void fuzz_files_split(const uint8_t *data, size_t size, struct fuzz_files *f)
{
	static const char *const names[2] = { "SYSTEM.LOG1", "SYSTEM.LOG2" };
	uint32_t want[3] = { ABSENT, ABSENT, ABSENT };
	const uint8_t *p = data;
	size_t rem = size;

	memset(f, 0, sizeof(*f));
	if (size >= HEADER) {
		for (int i = 0; i < 3; i++)
			want[i] = dh_le32(data + 4 * i);
		f->flags = dh_le32(data + 12);
		p += HEADER;
		rem -= HEADER;
	}
	f->primary = take(&p, &rem, want[0], &f->primary_len);
	if (f->flags & FUZZ_FIX_PRIMARY)
		fix_base_block(f->primary, f->primary_len);
	for (int i = 0; i < 2; i++) {
		size_t n;

		if (want[i + 1] == ABSENT)
			continue;
		f->bufs[i] = take(&p, &rem, want[i + 1], &n);
		if (f->flags & FUZZ_FIX_LOGS)
			fix_log(f->bufs[i], n);
		f->logs[f->n_logs++] = (struct dh_log_input){ names[i], f->bufs[i], n };
		f->total_logs += n;
	}
}

void fuzz_files_free(struct fuzz_files *f)
{
	free(f->primary);
	free(f->bufs[0]);
	free(f->bufs[1]);
	memset(f, 0, sizeof(*f));
}

int fuzz_memfile(const uint8_t *bytes, size_t len)
{
	int fd = memfd_create("fuzz-hive", MFD_CLOEXEC);

	if (fd < 0 || dh_io_pwrite_all(fd, bytes, len, 0) != 0)
		abort();
	return fd;
}

uint8_t *fuzz_slurp(int fd, size_t *len)
{
	off_t end = lseek(fd, 0, SEEK_END);
	uint8_t *b;

	if (end < 0 || (b = malloc(end ? (size_t)end : 1)) == NULL ||
	    dh_io_pread_full(fd, b, (size_t)end, 0) != (ssize_t)end)
		abort();
	*len = (size_t)end;
	return b;
}
