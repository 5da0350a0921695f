/*
 * Unit tests of a hive's new state as pages over its old bytes
 * (src/overlay.c): what it reads as, and which units it says differ, the
 * ranges the in-place commit logs and writes. The base is a memory file of
 * PAGES pages, each byte a function of its offset.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <cmocka.h>

#include "fixtures.h"
#include "format.h"
#include "io.h"
#include "overlay.h"

#define PAGE DH_OVERLAY_PAGE
#define PAGES 5u
#define BINS(off) ((uint32_t)(off) - DH_REGF_BINS_START)

struct fx {
	TALLOC_CTX *mem;
	int base;
	uint8_t old[PAGES * PAGE];
};

static uint8_t byte_at(size_t off)
{
	return (uint8_t)(off * 7 + off / 251);
}

static int setup(void **state)
{
	struct fx *f = talloc_zero(NULL, struct fx);

	assert_non_null(f);
	f->mem = f;
	for (size_t i = 0; i < sizeof(f->old); i++)
		f->old[i] = byte_at(i);
	f->base = memfd_create("test-overlay", MFD_CLOEXEC);
	assert_true(f->base >= 0);
	assert_int_equal(dh_io_pwrite_all(f->base, f->old, sizeof(f->old), 0), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	close(f->base);
	talloc_free(f);
	return 0;
}

static struct dh_overlay *over(struct fx *f, size_t len)
{
	struct dh_overlay *o = dh_overlay_new(f->mem, f->base, len);

	assert_non_null(o);
	return o;
}

/* The ranges of o in units of unit, which must be exactly want[0..n). */
static void ranges_are(struct fx *f, const struct dh_overlay *o, uint32_t unit,
		       const struct dh_log_range *want, size_t n)
{
	struct dh_log_range *r = NULL;
	size_t got = 99;

	assert_int_equal(dh_overlay_ranges(f->mem, o, unit, &r, &got), 0);
	assert_int_equal(got, n);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(r[i].offset, want[i].offset);
		assert_int_equal(r[i].size, want[i].size);
	}
}

static void reads_as(const struct dh_overlay *o, const uint8_t *want,
		     size_t len)
{
	uint8_t got[(PAGES + 3) * PAGE];

	assert_true(len <= sizeof(got));
	memset(got, 0xee, sizeof(got));
	assert_int_equal(dh_overlay_read(o, got, len, 0), 0);
	assert_memory_equal(got, want, len);
}

static void test_unchanged(void **state)
{
	struct fx *f = *state;
	struct dh_overlay *o = over(f, sizeof(f->old));
	uint8_t past[100];

	assert_int_equal(dh_overlay_len(o), sizeof(f->old));
	reads_as(o, f->old, sizeof(f->old));
	memset(past, 0xee, sizeof(past));
	assert_int_equal(dh_overlay_read(o, past, sizeof(past), sizeof(f->old) - 50), 0);
	assert_memory_equal(past, f->old + sizeof(f->old) - 50, 50);
	for (size_t i = 50; i < sizeof(past); i++)
		assert_int_equal(past[i], 0);
	ranges_are(f, o, PAGE, NULL, 0);
}

/* A few bytes in one page, then bytes across a page boundary: each unit
 * they change, and no other; the base stays as it was. */
static void test_writes(void **state)
{
	struct fx *f = *state;
	struct dh_overlay *o = over(f, sizeof(f->old));
	uint8_t want[sizeof(f->old)], now[sizeof(f->old)];
	const uint8_t a[3] = { 1, 2, 3 }, b[4] = { 9, 9, 9, 9 };
	const struct dh_log_range pages[] = { { 0, 3 * PAGE } };
	const struct dh_log_range sectors[] = {
		{ 0, 512 }, { 2 * PAGE - 512, 1024 } };

	memcpy(want, f->old, sizeof(want));
	memcpy(want + PAGE + 100, a, sizeof(a));
	memcpy(want + 3 * PAGE - 2, b, sizeof(b));
	assert_int_equal(dh_overlay_write(o, a, sizeof(a), PAGE + 100), 0);
	assert_int_equal(dh_overlay_write(o, b, sizeof(b), 3 * PAGE - 2), 0);
	reads_as(o, want, sizeof(want));
	ranges_are(f, o, PAGE, pages, 1);
	ranges_are(f, o, 512, sectors, 2);
	assert_int_equal(dh_io_pread_full(f->base, now, sizeof(now), 0),
			 (ssize_t)sizeof(now));
	assert_memory_equal(now, f->old, sizeof(now));
}

/* Bytes written as they were: the page is held, but nothing differs. The
 * base block is never among the ranges, though it reads as written. */
static void test_same_bytes_and_base_block(void **state)
{
	struct fx *f = *state;
	struct dh_overlay *o = over(f, sizeof(f->old));
	uint8_t block[PAGE], got[PAGE];

	assert_int_equal(dh_overlay_write(o, f->old + 2 * PAGE + 7, 300,
					  2 * PAGE + 7), 0);
	memset(block, 0x5a, sizeof(block));
	assert_int_equal(dh_overlay_write(o, block, sizeof(block), 0), 0);
	assert_int_equal(dh_overlay_read(o, got, sizeof(got), 0), 0);
	assert_memory_equal(got, block, sizeof(block));
	ranges_are(f, o, 512, NULL, 0);
}

/* Past the base's end every unit counts, zeros too: a replay extends a
 * hive only as far as the pages its log names. */
static void test_grow(void **state)
{
	struct fx *f = *state;
	struct dh_overlay *o = over(f, sizeof(f->old));
	uint8_t want[(PAGES + 3) * PAGE];
	const uint8_t x = 0x42;
	const struct dh_log_range tail[] = {
		{ BINS(PAGES * PAGE), 2 * PAGE + 1 * 512 } };

	assert_int_equal(dh_overlay_write(o, &x, 1, (PAGES + 2) * PAGE + 3), 0);
	assert_int_equal(dh_overlay_len(o), (PAGES + 2) * PAGE + 4);
	memset(want, 0, sizeof(want));
	memcpy(want, f->old, sizeof(f->old));
	want[(PAGES + 2) * PAGE + 3] = x;
	reads_as(o, want, (PAGES + 2) * PAGE + 4);
	ranges_are(f, o, 512, tail, 1);
}

/* A base whose end is not a unit's: the unit it ends in counts, though
 * what it holds before the end is written as it was. */
static void test_base_ends_inside_a_unit(void **state)
{
	struct fx *f = *state;
	struct dh_overlay *o = over(f, 4 * PAGE + 100);
	const struct dh_log_range want[] = { { BINS(4 * PAGE), 512 } };

	assert_int_equal(dh_overlay_write(o, f->old + 4 * PAGE + 50, 1,
					  4 * PAGE + 50), 0);
	assert_int_equal(dh_overlay_len(o), 4 * PAGE + 100);
	ranges_are(f, o, 512, want, 1);
}

/* A whole new file taken: the pages that differ from the base, earlier
 * writes dropped; a file like the base leaves nothing. */
static void test_take(void **state)
{
	struct fx *f = *state;
	struct dh_overlay *o = over(f, sizeof(f->old));
	uint8_t file[PAGES * PAGE + PAGE];
	const struct dh_log_range want[] = {
		{ BINS(2 * PAGE), 512 }, { BINS(PAGES * PAGE), PAGE } };
	const uint8_t x = 7;
	int fd = memfd_create("test-overlay-file", MFD_CLOEXEC);

	assert_true(fd >= 0);
	assert_int_equal(dh_overlay_write(o, &x, 1, 3 * PAGE), 0);
	memcpy(file, f->old, sizeof(f->old));
	memset(file + PAGES * PAGE, 0, PAGE);
	file[2 * PAGE + 10] ^= 0xff;
	assert_int_equal(dh_io_pwrite_all(fd, file, sizeof(file), 0), 0);
	assert_int_equal(dh_overlay_take(o, fd, sizeof(file)), 0);
	assert_int_equal(dh_overlay_len(o), sizeof(file));
	reads_as(o, file, sizeof(file));
	ranges_are(f, o, 512, want, 2);
	assert_int_equal(dh_overlay_take(o, f->base, sizeof(f->old)), 0);
	ranges_are(f, o, PAGE, NULL, 0);
	close(fd);
}

/* A base that cannot be read: a write that needs its page fails, with
 * errno. */
static void test_unreadable_base(void **state)
{
	struct fx *f = *state;
	int fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	struct dh_overlay *o;
	uint8_t b[10];

	assert_true(fd >= 0);
	o = dh_overlay_new(f->mem, fd, sizeof(f->old));
	assert_non_null(o);
	errno = 0;
	assert_int_equal(dh_overlay_write(o, "x", 1, PAGE), -1);
	assert_int_equal(errno, EBADF);
	assert_int_equal(dh_overlay_read(o, b, sizeof(b), PAGE), -1);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_unchanged, setup, teardown),
		cmocka_unit_test_setup_teardown(test_writes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_same_bytes_and_base_block, setup, teardown),
		cmocka_unit_test_setup_teardown(test_grow, setup, teardown),
		cmocka_unit_test_setup_teardown(test_base_ends_inside_a_unit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_take, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unreadable_base, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
