/* Unit tests of Marvin32: published vectors, real Windows log entries. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <talloc.h>

#include "fixtures.h"
#include "marvin32.h"

struct vector {
	uint64_t seed;
	const char *data;	/* string literal; len says how much is used */
	size_t len;
	uint64_t hash;
};

/*
 * Published known answers. Lengths 0..7 cover every tail size (0-3 bytes
 * after zero or one full dword); the longer ones cover several dwords.
 *
 * - Seeds 0x004FB61A001BDBCC, 0x804FB61A001BDBCC, 0x804FB61A801BDBCC:
 *   dotnet/runtime, src/libraries/Common/tests/Tests/System/MarvinTests.cs
 *   (TestDataAndExpectedHashes; data given there in hex).
 * - Seed 0xD53CD9CECD0893B7 (SymCrypt's default seed) over "abc":
 *   microsoft/SymCrypt, lib/marvin32.c (marvin32KATAnswer, stored there
 *   as little-endian bytes bf 69 27 49 39 43 c7 22).
 * - Seed 0x0DDDDEEEEFFFF000 over "a".."z" (26 bytes): microsoft/
 *   security-utilities, src/Tests.Microsoft.Security.Utilities.Core/
 *   MarvinTests.cs (MarvinLongerString, checked there against SymCrypt).
 */
#define SEED1 UINT64_C(0x004FB61A001BDBCC)
#define SEED2 UINT64_C(0x804FB61A001BDBCC)
#define SEED3 UINT64_C(0x804FB61A801BDBCC)

static const struct vector vectors[] = {
	{ SEED1, "", 0, UINT64_C(0x30ED35C100CD3C7D) },
	{ SEED1, "\xaf", 1, UINT64_C(0x48E73FC77D75DDC1) },
	{ SEED1, "\xe7\x0f", 2, UINT64_C(0xB5F6E1FC485DBFF8) },
	{ SEED1, "\x37\xf4\x95", 3, UINT64_C(0xF0B07C789B8CF7E8) },
	{ SEED1, "\x86\x42\xdc\x59", 4, UINT64_C(0x7008F2E87E9CF556) },
	{ SEED1, "\x15\x3f\xb7\x98\x26", 5, UINT64_C(0xE6C08C6DA2AFA997) },
	{ SEED1, "\x09\x32\xe6\x24\x6c\x47", 6,
	  UINT64_C(0x6F04BF1A5EA24060) },
	{ SEED1, "\xab\x42\x7e\xa8\xd1\x0f\xc7", 7,
	  UINT64_C(0xE11847E4F0678C41) },

	{ SEED2, "", 0, UINT64_C(0x10A9D5D3996FD65D) },
	{ SEED2, "\xaf", 1, UINT64_C(0x68201F91960EBF91) },
	{ SEED2, "\xe7\x0f", 2, UINT64_C(0x64B581631F6AB378) },
	{ SEED2, "\x37\xf4\x95", 3, UINT64_C(0xE1F2DFA6E5131408) },
	{ SEED2, "\x86\x42\xdc\x59", 4, UINT64_C(0x36289D9654FB49F6) },
	{ SEED2, "\x15\x3f\xb7\x98\x26", 5, UINT64_C(0x0A06114B13464DBD) },
	{ SEED2, "\x09\x32\xe6\x24\x6c\x47", 6,
	  UINT64_C(0xD6DD5E40AD1BC2ED) },
	{ SEED2, "\xab\x42\x7e\xa8\xd1\x0f\xc7", 7,
	  UINT64_C(0xE203987DBA252FB3) },

	/* Zero bytes in the data, at every position of the tail dword. */
	{ SEED3, "\x00", 1, UINT64_C(0xA37FB0DA2ECAE06C) },
	{ SEED3, "\xff", 1, UINT64_C(0xFECEF370701AE054) },
	{ SEED3, "\x00\xff", 2, UINT64_C(0xA638E75700048880) },
	{ SEED3, "\xff\x00", 2, UINT64_C(0xBDFB46D969730E2A) },
	{ SEED3, "\xff\x00\xff", 3, UINT64_C(0x9D8577C0FE0D30BF) },
	{ SEED3, "\x00\xff\x00", 3, UINT64_C(0x4F9FBDDE15099497) },
	{ SEED3, "\x00\xff\x00\xff", 4, UINT64_C(0x24EAA279D9A529CA) },
	{ SEED3, "\xff\x00\xff\x00", 4, UINT64_C(0xD3BEC7726B057943) },
	{ SEED3, "\xff\x00\xff\x00\xff", 5, UINT64_C(0x920B62BBCA3E0B72) },
	{ SEED3, "\x00\xff\x00\xff\x00", 5, UINT64_C(0x1D7DDF9DFDF3C1BF) },
	{ SEED3, "\x00\xff\x00\xff\x00\xff", 6,
	  UINT64_C(0xEC21276A17E821A5) },
	{ SEED3, "\xff\x00\xff\x00\xff\x00", 6,
	  UINT64_C(0x6911A53CA8C12254) },
	{ SEED3, "\xff\x00\xff\x00\xff\x00\xff", 7,
	  UINT64_C(0xFDFD187B1D3CE784) },
	{ SEED3, "\x00\xff\x00\xff\x00\xff\x00", 7,
	  UINT64_C(0x71876F2EFB1B0EE8) },

	{ UINT64_C(0xD53CD9CECD0893B7), "abc", 3,
	  UINT64_C(0x22C74339492769BF) },
	{ UINT64_C(0x0DDDDEEEEFFFF000), "abcdefghijklmnopqrstuvwxyz", 26,
	  UINT64_C(0xA128EB7E7260ACA2) },
};

static void test_known_vectors(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
		const struct vector *v = &vectors[i];
		uint64_t got = dh_marvin32((const uint8_t *)v->data, v->len,
					   v->seed);

		if (got != v->hash)
			print_message("vector %zu (length %zu) failed\n", i,
				      v->len);
		assert_int_equal(got, v->hash);
	}
}

/* The result must not depend on where the data sits in memory (the code
 * must not assume aligned dwords). */
static void test_unaligned_input(void **state)
{
	const struct vector *v = &vectors[sizeof(vectors) / sizeof(vectors[0])
					  - 1];
	uint8_t buf[64];
	size_t off;

	(void)state;
	for (off = 0; off < 4; off++) {
		memcpy(buf + off, v->data, v->len);
		assert_int_equal(dh_marvin32(buf + off, v->len, v->seed),
				 v->hash);
	}
}

/* Each of many hashes is the input's own: every published vector in one
 * batch (lengths equal, shorter and longer side by side, odd offsets),
 * batches of 0 and 1, and an empty input among them. */
static void test_many_equals_singles(void **state)
{
	enum { N = sizeof(vectors) / sizeof(vectors[0]) };
	static uint8_t buf[N][256];
	const uint8_t *data[N + 1];
	size_t len[N + 1], n = 0;
	uint64_t out[N + 1];

	(void)state;
	for (size_t i = 0; i < N; i++) {
		if (vectors[i].seed != vectors[0].seed)
			continue;
		memcpy(buf[i] + i % 4, vectors[i].data, vectors[i].len);
		data[n] = buf[i] + i % 4;
		len[n++] = vectors[i].len;
	}
	data[n] = NULL;
	len[n++] = 0;
	dh_marvin32_many(data, len, n, vectors[0].seed, out);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(out[i], dh_marvin32(data[i], len[i],
						     vectors[0].seed));
	dh_marvin32_many(data, len, 1, vectors[0].seed, out);
	assert_int_equal(out[0], dh_marvin32(data[0], len[0], vectors[0].seed));
	dh_marvin32_many(data, len, 0, vectors[0].seed, out);
}

/* Long inputs of uneven lengths (every length mod 4, a short one between
 * long ones, so the lanes change inputs at different times), against the
 * single hash. */
static void test_many_long(void **state)
{
	static uint8_t buf[9000];
	const uint8_t *data[12];
	size_t len[12];
	uint64_t out[12];

	(void)state;
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(i * 131 + 7);
	for (size_t i = 0; i < 12; i++) {
		data[i] = buf + 97 * i;
		len[i] = i == 5 ? 3 : 4000 + 1001 * (i % 4) + i;
	}
	dh_marvin32_many(data, len, 12, DH_MARVIN32_LOG_SEED, out);
	for (size_t i = 0; i < 12; i++)
		assert_int_equal(out[i], dh_marvin32(data[i], len[i],
						     DH_MARVIN32_LOG_SEED));
}

/* Flipping any single bit of a log-entry-sized input changes the hash. */
static void test_one_bit_change(void **state)
{
	uint8_t buf[67];
	uint64_t base;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(i * 37 + 11);
	base = dh_marvin32(buf, sizeof(buf), DH_MARVIN32_LOG_SEED);
	for (i = 0; i < 8 * sizeof(buf); i++) {
		buf[i / 8] ^= (uint8_t)(1u << (i % 8));
		assert_int_not_equal(dh_marvin32(buf, sizeof(buf),
						 DH_MARVIN32_LOG_SEED), base);
		buf[i / 8] ^= (uint8_t)(1u << (i % 8));
	}
	/* The seed is a key: another seed gives another hash. */
	assert_int_not_equal(dh_marvin32(buf, sizeof(buf),
					 DH_MARVIN32_LOG_SEED ^ 1), base);
}

/* ---- Real data: entries of a transaction log written by Windows 10. ---- */

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static uint64_t get64(const uint8_t *p)
{
	return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

#define LOG_NAME "regipy/SYSTEM_B.LOG1.xz"
#define ENTRY_HEADER 40	/* HvLE header up to the page references */

/* Is there an HvLE entry at off whose size fits in the log? */
static size_t entry_size(const uint8_t *log, size_t len, size_t off)
{
	size_t size;

	if (len - off < ENTRY_HEADER || memcmp(log + off, "HvLE", 4) != 0)
		return 0;
	size = get32(log + off + 4);
	if (size < ENTRY_HEADER || size % 512 != 0 || size > len - off)
		return 0;
	return size;
}

/* Each corpus test's memory: freed by the teardown even when an assertion
 * or skip() leaves the test early. */
static int mem_setup(void **state)
{
	*state = talloc_new(NULL);
	return *state == NULL ? -1 : 0;
}

static int mem_teardown(void **state)
{
	talloc_free(*state);
	return 0;
}

static void test_log_first_entry(void **state)
{
	TALLOC_CTX *mem = *state;
	const uint8_t *e;
	uint8_t *log;
	size_t len = 0, size;
	uint64_t swapped;

	log = corpus_load(mem, LOG_NAME, &len);
	if (log == NULL)
		skip();
	assert_true(len > 512);
	size = entry_size(log, len, 512);
	assert_true(size > 0);
	e = log + 512;

	/* hash 1 covers bytes 40..size-1, hash 2 the first 32 bytes. */
	assert_int_equal(dh_marvin32(e + ENTRY_HEADER, size - ENTRY_HEADER,
				     DH_MARVIN32_LOG_SEED),
			 get64(e + 24));
	assert_int_equal(dh_marvin32(e, 32, DH_MARVIN32_LOG_SEED),
			 get64(e + 32));

	/* The seed's halves swapped (the mistake format-notes warns of) must
	 * not verify. */
	swapped = DH_MARVIN32_LOG_SEED << 32 | DH_MARVIN32_LOG_SEED >> 32;
	assert_int_not_equal(dh_marvin32(e, 32, swapped), get64(e + 32));
}

static void test_log_all_entries(void **state)
{
	TALLOC_CTX *mem = *state;
	uint8_t *log;
	size_t len = 0, off, size, verified = 0;

	log = corpus_load(mem, LOG_NAME, &len);
	if (log == NULL)
		skip();
	for (off = 512; off < len && (size = entry_size(log, len, off)) > 0;
	     off += size) {
		const uint8_t *e = log + off;

		if (dh_marvin32(e + ENTRY_HEADER, size - ENTRY_HEADER,
				DH_MARVIN32_LOG_SEED) != get64(e + 24) ||
		    dh_marvin32(e, 32, DH_MARVIN32_LOG_SEED) != get64(e + 32))
			fail_msg("entry at offset %zu (sequence %u) does not "
				 "verify", off, (unsigned)get32(e + 12));
		verified++;
	}
	print_message("# %zu entries of %s verified\n", verified, LOG_NAME);
	assert_true(verified > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_known_vectors),
		cmocka_unit_test(test_unaligned_input),
		cmocka_unit_test(test_many_equals_singles),
		cmocka_unit_test(test_many_long),
		cmocka_unit_test(test_one_bit_change),
		cmocka_unit_test_setup_teardown(test_log_first_entry,
						mem_setup, mem_teardown),
		cmocka_unit_test_setup_teardown(test_log_all_entries,
						mem_setup, mem_teardown),
	};

	return cmocka_run_group_tests_name("marvin32", tests, NULL, NULL);
}
