/* Unit tests of the base block module: checksum, parse, dirty state. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "regf.h"

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

/* A clean base block with the given sequence numbers. */
static void make_block(uint8_t *b, uint32_t seq1, uint32_t seq2)
{
	memset(b, 0, DH_REGF_BASE_BLOCK_SIZE);
	memcpy(b, "regf", 4);
	put32(b + 4, seq1);
	put32(b + 8, seq2);
	put32(b + 20, 1);
	put32(b + 24, 5);
	put32(b + 32, 1);
	put32(b + 36, 0x20);
	put32(b + 40, 4096);
	put32(b + 44, 1);
	put32(b + DH_REGF_CHECKSUM_OFFSET, dh_regf_checksum(b));
}

static void test_checksum_xor(void **state)
{
	uint8_t b[512] = { 0 };

	(void)state;
	put32(b, 0x11111111);
	put32(b + 4, 0x22222222);
	put32(b + 504, 0x00000004);
	assert_int_equal(dh_regf_checksum(b), 0x33333337);
	/* The checksum field itself is not part of the sum. */
	put32(b + 508, 0xdeadbeef);
	assert_int_equal(dh_regf_checksum(b), 0x33333337);
}

static void test_checksum_special_values(void **state)
{
	uint8_t b[512] = { 0 };

	(void)state;
	assert_int_equal(dh_regf_checksum(b), 1);
	put32(b, 0xFFFFFFFF);
	assert_int_equal(dh_regf_checksum(b), 0xFFFFFFFE);
}

static void test_parse_fields(void **state)
{
	uint8_t b[DH_REGF_BASE_BLOCK_SIZE];
	struct dh_regf_header h;
	TALLOC_CTX *mem = talloc_new(NULL);

	(void)state;
	make_block(b, 13983, 13983);
	assert_int_equal(dh_regf_parse(mem, b, sizeof(b), "x", &h, NULL), 0);
	assert_int_equal(h.seq_primary, 13983);
	assert_int_equal(h.seq_secondary, 13983);
	assert_int_equal(h.major, 1);
	assert_int_equal(h.minor, 5);
	assert_int_equal(h.file_type, 0);
	assert_int_equal(h.root_offset, 0x20);
	assert_int_equal(h.bins_size, 4096);
	assert_int_equal(h.checksum_stored, h.checksum_computed);
	assert_null(dh_regf_dirty_reason(mem, &h));
	talloc_free(mem);
}

static void test_dirty_by_sequence(void **state)
{
	uint8_t b[DH_REGF_BASE_BLOCK_SIZE];
	struct dh_regf_header h;
	TALLOC_CTX *mem = talloc_new(NULL);
	char *why;

	(void)state;
	make_block(b, 1622, 1621);
	assert_int_equal(dh_regf_parse(mem, b, sizeof(b), "x", &h, NULL), 0);
	why = dh_regf_dirty_reason(mem, &h);
	assert_non_null(why);
	assert_non_null(strstr(why, "1622"));
	assert_non_null(strstr(why, "1621"));
	talloc_free(mem);
}

static void test_dirty_by_checksum(void **state)
{
	uint8_t b[DH_REGF_BASE_BLOCK_SIZE];
	struct dh_regf_header h;
	TALLOC_CTX *mem = talloc_new(NULL);
	char *why;

	(void)state;
	make_block(b, 7, 7);
	b[100] ^= 0x40;
	assert_int_equal(dh_regf_parse(mem, b, sizeof(b), "x", &h, NULL), 0);
	why = dh_regf_dirty_reason(mem, &h);
	assert_non_null(why);
	assert_non_null(strstr(why, "checksum"));
	talloc_free(mem);
}

static void test_parse_refuses_non_hive(void **state)
{
	uint8_t b[DH_REGF_BASE_BLOCK_SIZE];
	struct dh_regf_header h;
	struct dh_error *err = NULL;
	TALLOC_CTX *mem = talloc_new(NULL);

	(void)state;
	make_block(b, 1, 1);
	b[0] = 'R';
	assert_int_equal(dh_regf_parse(mem, b, sizeof(b), "/tmp/NOTHIVE", &h, &err), -1);
	assert_non_null(err);
	assert_int_equal(err->code, DH_ERR_NOT_HIVE);
	assert_non_null(strstr(err->message, "/tmp/NOTHIVE"));
	err = NULL;
	make_block(b, 1, 1);
	assert_int_equal(dh_regf_parse(mem, b, 511, "short", &h, &err), -1);
	assert_int_equal(err->code, DH_ERR_NOT_HIVE);
	talloc_free(mem);
}

static void test_read_fd_short_file(void **state)
{
	char path[] = "/tmp/deskheap-regf-XXXXXX";
	int fd = mkstemp(path);
	struct dh_regf_header h;
	struct dh_error *err = NULL;
	TALLOC_CTX *mem = talloc_new(NULL);
	uint8_t b[DH_REGF_BASE_BLOCK_SIZE];

	(void)state;
	assert_true(fd >= 0);
	unlink(path);
	assert_int_equal(write(fd, "regf", 4), 4);
	assert_int_equal(dh_regf_read_fd(mem, fd, "tiny", &h, &err), -1);
	assert_int_equal(err->code, DH_ERR_NOT_HIVE);
	make_block(b, 5, 4);
	assert_int_equal(pwrite(fd, b, sizeof(b), 0), (ssize_t)sizeof(b));
	assert_int_equal(dh_regf_read_fd(mem, fd, "full", &h, NULL), 0);
	assert_int_equal(h.seq_primary, 5);
	assert_int_equal(h.seq_secondary, 4);
	close(fd);
	talloc_free(mem);
}

/* The time of a write: 12..19 hold it, the block stays clean (checksum
 * recomputed), nothing else moves. */
static void test_set_written_time(void **state)
{
	uint8_t b[DH_REGF_BASE_BLOCK_SIZE], before[DH_REGF_BASE_BLOCK_SIZE];
	struct dh_regf_header h;
	TALLOC_CTX *mem = talloc_new(NULL);
	uint64_t ft = 0x01DC5F0A12345678ull;

	(void)state;
	make_block(b, 7, 7);
	memcpy(before, b, sizeof(b));
	dh_regf_set_written_time(b, ft);
	assert_int_equal(dh_regf_parse(mem, b, sizeof(b), "x", &h, NULL), 0);
	assert_int_equal(h.last_written, ft);
	assert_null(dh_regf_dirty_reason(mem, &h));
	assert_int_equal(h.seq_primary, 7);
	assert_memory_equal(b, before, 12);
	assert_memory_equal(b + 20, before + 20, DH_REGF_CHECKSUM_OFFSET - 20);
	talloc_free(mem);
}

/* FILETIME counts 100 ns from 1601: the Unix epoch is 116444736000000000. */
static void test_filetime_now(void **state)
{
	uint64_t t0 = (uint64_t)time(NULL) * 10000000u + 116444736000000000ull;
	uint64_t ft = dh_regf_filetime_now();

	(void)state;
	assert_true(ft >= t0);
	assert_true(ft < t0 + 2 * 10000000ull);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_checksum_xor),
		cmocka_unit_test(test_checksum_special_values),
		cmocka_unit_test(test_parse_fields),
		cmocka_unit_test(test_dirty_by_sequence),
		cmocka_unit_test(test_dirty_by_checksum),
		cmocka_unit_test(test_parse_refuses_non_hive),
		cmocka_unit_test(test_read_fd_short_file),
		cmocka_unit_test(test_set_written_time),
		cmocka_unit_test(test_filetime_now),
	};

	return cmocka_run_group_tests_name("regf", tests, NULL, NULL);
}
