/*
 * libFuzzer harness over base block parsing (src/regf.c: dh_regf_parse,
 * dh_regf_checksum, dh_regf_dirty_reason, dh_regf_read_fd,
 * dh_regf_mark_written) on arbitrary
 * bytes. Built and run by tests/fuzz/run.sh regf; seeds come from
 * tests/fuzz/mkseeds.sh (the base blocks of the fixtures' and the shared
 * corpus's hives and logs, cut to the 512 bytes regf.c reads).
 *
 * Input layout: the bytes are the file, as they are (a copy in a heap block
 * of exactly their size, so AddressSanitizer catches a read past the end).
 *
 * Invariants checked (abort() when broken, which libFuzzer reports as a
 * crash), from src/regf.h:
 *  - parse fails, with DH_ERR_NOT_HIVE and a message, exactly when fewer
 *    than 512 bytes are given or they do not start with "regf";
 *  - otherwise every field is the little-endian number at its offset
 *    (4, 8, 12, 20, 24, 28, 36, 40, 144, 508: read here independently);
 *  - dh_regf_checksum (of any 508 bytes) equals the XOR of the 127 dwords
 *    with 0 stored as 1 and 0xFFFFFFFF as 0xFFFFFFFE, so it is never 0 or
 *    0xFFFFFFFF, and checksum_computed is it;
 *  - dh_regf_dirty_reason is non-NULL (a message) exactly when the stored
 *    checksum differs from the computed one or the sequence numbers differ;
 *    the same holds again after the harness writes the right checksum into
 *    a copy (so that the "sequence numbers" branch is reached without the
 *    fuzzer having to solve the XOR), and that copy is then dirty exactly
 *    when its sequence numbers differ;
 *  - dh_regf_read_fd on a memory file holding the bytes gives the same
 *    result as dh_regf_parse (the same error code, or the same header);
 *  - dh_regf_mark_written on a copy of a block that parses sets both
 *    sequence numbers to one past the larger (modulo 2^32) and the right
 *    checksum, so that the copy parses clean, and changes no other byte.
 * Everything is freed on return: libFuzzer runs with leak detection.
 */
#include "config.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <talloc.h>

#include "error.h"
#include "regf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                       \
	do {                                                              \
		if (!(cond)) {                                            \
			fprintf(stderr, "fuzz_regf: invariant broken: %s " \
				"(%s:%d)\n", #cond, __FILE__, __LINE__);   \
			abort();                                          \
		}                                                         \
	} while (0)

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static uint64_t rd64(const uint8_t *p)
{
	return (uint64_t)rd32(p) | (uint64_t)rd32(p + 4) << 32;
}

static uint32_t model_checksum(const uint8_t *b)
{
	uint32_t x = 0;

	for (size_t i = 0; i < 127; i++)
		x ^= rd32(b + 4 * i);
	return x == 0 ? 1 : x == 0xFFFFFFFFu ? 0xFFFFFFFEu : x;
}

static bool same_header(const struct dh_regf_header *a,
			const struct dh_regf_header *b)
{
	return a->seq_primary == b->seq_primary &&
	       a->seq_secondary == b->seq_secondary &&
	       a->last_written == b->last_written && a->major == b->major &&
	       a->minor == b->minor && a->file_type == b->file_type &&
	       a->root_offset == b->root_offset &&
	       a->bins_size == b->bins_size && a->flags == b->flags &&
	       a->checksum_stored == b->checksum_stored &&
	       a->checksum_computed == b->checksum_computed;
}

/* Parse buf and check everything that follows from its bytes. Returns the
 * parse result; *h is filled on success. */
static int check_parse(TALLOC_CTX *mem, const uint8_t *buf, size_t len,
		       struct dh_regf_header *h)
{
	bool is_hive = len >= 512 && memcmp(buf, "regf", 4) == 0;
	struct dh_error *err = NULL;
	char *why;
	int rc;

	rc = dh_regf_parse(mem, buf, len, "SYSTEM", h, &err);
	if (!is_hive) {
		CHECK(rc == -1);
		CHECK(err != NULL && err->code == DH_ERR_NOT_HIVE &&
		      err->message != NULL);
		return rc;
	}
	CHECK(rc == 0 && err == NULL);
	CHECK(h->seq_primary == rd32(buf + 4));
	CHECK(h->seq_secondary == rd32(buf + 8));
	CHECK(h->last_written == rd64(buf + 12));
	CHECK(h->major == rd32(buf + 20));
	CHECK(h->minor == rd32(buf + 24));
	CHECK(h->file_type == rd32(buf + 28));
	CHECK(h->root_offset == rd32(buf + 36));
	CHECK(h->bins_size == rd32(buf + 40));
	CHECK(h->flags == rd32(buf + 144));
	CHECK(h->checksum_stored == rd32(buf + 508));
	CHECK(h->checksum_computed == model_checksum(buf));
	CHECK(h->checksum_computed != 0 && h->checksum_computed != 0xFFFFFFFFu);

	why = dh_regf_dirty_reason(mem, h);
	CHECK((why != NULL) == (h->checksum_stored != h->checksum_computed ||
				h->seq_primary != h->seq_secondary));
	CHECK(why == NULL || why[0] != '\0');
	talloc_free(why);
	return rc;
}

/* One memory file for the whole run, refilled for each input. */
static int memfile(void)
{
	static int fd = -1;

	if (fd < 0) {
		fd = memfd_create("fuzz-regf", MFD_CLOEXEC);
		if (fd < 0) {
			perror("fuzz_regf: memfd_create");
			abort();
		}
	}
	return fd;
}

static void check_read_fd(TALLOC_CTX *mem, const uint8_t *buf, size_t len,
			  int parse_rc, const struct dh_regf_header *want)
{
	int fd = memfile();
	struct dh_regf_header h;
	struct dh_error *err = NULL;
	/* read_fd reads 512 bytes: the rest need not be written */
	size_t n = len < 512 ? len : 512;

	CHECK(ftruncate(fd, 0) == 0);
	CHECK(n == 0 || pwrite(fd, buf, n, 0) == (ssize_t)n);
	if (dh_regf_read_fd(mem, fd, "SYSTEM", &h, &err) != 0) {
		CHECK(parse_rc != 0);
		CHECK(err != NULL && err->code == DH_ERR_NOT_HIVE &&
		      err->message != NULL);
	} else {
		CHECK(parse_rc == 0 && err == NULL);
		CHECK(same_header(&h, want));
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *buf = malloc(size ? size : 1);
	TALLOC_CTX *mem = talloc_new(NULL);
	struct dh_regf_header h, h2;
	uint32_t sum;
	int rc;

	if (buf == NULL || mem == NULL)
		abort();
	if (size)
		memcpy(buf, data, size);

	if (size >= 508) {
		sum = dh_regf_checksum(buf);
		CHECK(sum == model_checksum(buf));
		CHECK(sum != 0 && sum != 0xFFFFFFFFu);
	}
	rc = check_parse(mem, buf, size, &h);
	check_read_fd(mem, buf, size, rc, &h);

	if (rc == 0) {
		/* The same block with its checksum right. */
		uint8_t *fixed = malloc(size);

		if (fixed == NULL)
			abort();
		memcpy(fixed, buf, size);
		sum = dh_regf_checksum(fixed);
		for (int i = 0; i < 4; i++)
			fixed[508 + i] = (uint8_t)(sum >> (8 * i));
		CHECK(check_parse(mem, fixed, size, &h2) == 0);
		CHECK(h2.checksum_stored == h2.checksum_computed);
		CHECK(h2.checksum_computed == h.checksum_computed);
		char *why = dh_regf_dirty_reason(mem, &h2);
		CHECK((why != NULL) == (h2.seq_primary != h2.seq_secondary));
		talloc_free(why);

		/* Marked as written anew: both sequence numbers one past the
		 * larger, checksum right, so clean; nothing else changed. */
		uint32_t next = (h.seq_primary > h.seq_secondary ?
				 h.seq_primary : h.seq_secondary) + 1u;

		memcpy(fixed, buf, size);
		dh_regf_mark_written(fixed);
		CHECK(check_parse(mem, fixed, size, &h2) == 0);
		CHECK(h2.seq_primary == next && h2.seq_secondary == next);
		CHECK(h2.checksum_stored == h2.checksum_computed);
		CHECK(dh_regf_dirty_reason(mem, &h2) == NULL);
		CHECK(memcmp(fixed, buf, 4) == 0);
		CHECK(memcmp(fixed + 12, buf + 12, 508 - 12) == 0);
		CHECK(memcmp(fixed + 512, buf + 512, size - 512) == 0);
		free(fixed);
	}

	talloc_free(mem);
	free(buf);
	return 0;
}
