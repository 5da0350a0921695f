/*
 * Unit tests of writing transaction logs (src/logwrite.c), judged by the
 * reader side: a log written from the pages where a hive N differs from
 * the clean hive O, replayed (src/recover.c) into O made dirty the way the
 * in-place commit makes it, must give N byte for byte, beside an empty or
 * a stale second log. O is a generated fixture, then the corpus SYSTEM
 * when the corpus is there.
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

#include "error.h"
#include "fixtures.h"
#include "io.h"
#include "logcase.h"
#include "logscan.h"
#include "logwrite.h"
#include "overlay.h"
#include "recover.h"
#include "regf.h"

#define FIXTURE "long15.hive"         /* 7 pages of 4096 bytes of bins */
#define CORPUS_SYSTEM "regipy/SYSTEM.xz"
#define HOUR UINT64_C(36000000000)    /* in FILETIME units */

enum change { CHANGE_PAGES, CHANGE_GROW, CHANGE_NONE };
enum second { SECOND_EMPTY, SECOND_STALE };

struct hive {
	uint8_t *b;
	size_t len;
};

static uint32_t bins_of(const struct hive *h)
{
	return dh_le32(h->b + DH_REGF_BINS_SIZE);
}

static void seal(uint8_t *base)
{
	dh_put_le32(base + DH_REGF_CHECKSUM_OFFSET, dh_regf_checksum(base));
}

static int memfile(const struct hive *h)
{
	int fd = memfd_create("test-logwrite", MFD_CLOEXEC);

	assert_true(fd >= 0);
	assert_int_equal(dh_io_pwrite_all(fd, h->b, h->len, 0), 0);
	return fd;
}

static struct hive fixture(TALLOC_CTX *mem)
{
	struct hive h;
	char *path = talloc_asprintf(mem, "%s/%s", fixtures_dir(), FIXTURE);

	h.b = path_bytes(mem, path, &h.len);
	assert_int_equal(bins_of(&h), 7 * 4096);
	return h;
}

/* A bin of 4096 bytes at bins offset `at`: its header and one free cell. */
static void put_bin(uint8_t *bin, uint32_t at)
{
	memset(bin, 0, DH_HBIN_ALIGN);
	memcpy(bin + DH_HBIN_SIGNATURE, "hbin", 4);
	dh_put_le32(bin + DH_HBIN_OFFSET, at);
	dh_put_le32(bin + DH_HBIN_SIZE, DH_HBIN_ALIGN);
	dh_put_le32(bin + DH_HBIN_HEADER, DH_HBIN_ALIGN - DH_HBIN_HEADER);
}

/*
 * N: O changed as `c` says, its base block as the commit writes it (both
 * sequence numbers one past O's, later last-written time; new format: the
 * flags' bit 0 turned over, which only a new-format entry carries). The
 * bytes changed lie in bins pages 0, 2, 4-6 of 4096 (512-byte pages 0, 17,
 * 19, 39-40 and the last).
 */
static struct hive changed(TALLOC_CTX *mem, const struct hive *o,
			   enum change c, enum dh_log_format f)
{
	const uint32_t at[] = { 100, 8792, 9792, 20479, 20480, bins_of(o) - 1 };
	struct hive n = { talloc_memdup(mem, o->b, o->len), o->len };
	uint32_t seq = dh_le32(o->b + DH_REGF_SEQ1) + 1;

	assert_non_null(n.b);
	for (size_t i = 0; c != CHANGE_NONE && i < sizeof(at) / sizeof(at[0]); i++)
		n.b[DH_REGF_BINS_START + at[i]] ^= 0x5a;
	if (c == CHANGE_GROW) {
		n.b = talloc_realloc(mem, n.b, uint8_t, n.len + DH_HBIN_ALIGN);
		assert_non_null(n.b);
		put_bin(n.b + n.len, bins_of(o));
		n.len += DH_HBIN_ALIGN;
		dh_put_le32(n.b + DH_REGF_BINS_SIZE, bins_of(o) + DH_HBIN_ALIGN);
	}
	dh_put_le32(n.b + DH_REGF_SEQ1, seq);
	dh_put_le32(n.b + DH_REGF_SEQ2, seq);
	dh_put_le64(n.b + DH_REGF_WRITTEN, dh_le64(o->b + DH_REGF_WRITTEN) + HOUR);
	if (f == DH_LOG_NEW)
		dh_put_le32(n.b + DH_REGF_FLAGS, dh_le32(n.b + DH_REGF_FLAGS) ^ 1u);
	seal(n.b);
	return n;
}

static struct dh_log_range *diff(TALLOC_CTX *mem, const struct hive *o,
				 const struct hive *n, uint32_t page,
				 size_t *count)
{
	struct dh_log_range *r = logcase_diff(mem, o->b, n->b, page, count);

	assert_non_null(r);
	return r;
}

/* O as the in-place commit leaves it before writing pages. */
static struct hive dirty(TALLOC_CTX *mem, const struct hive *o,
			 const struct hive *n, enum dh_log_format f)
{
	struct hive p = { logcase_dirty(mem, o->b, o->len, n->b, f), o->len };

	assert_non_null(p.b);
	return p;
}

static struct dh_log_input build(TALLOC_CTX *mem, enum dh_log_format f,
				 const struct hive *h, uint32_t seq,
				 const struct dh_log_range *r, size_t n,
				 const char *path)
{
	struct dh_log_input in = { path, NULL, 0 };
	struct dh_error *err = NULL;
	uint8_t *out = NULL;
	int fd = memfile(h);

	if (dh_logwrite_build(mem, f, fd_overlay(mem, fd), "N", seq, r, n, &out, &in.len,
			      &err) != 0)
		fail_msg("dh_logwrite_build: %s", err->message);
	close(fd);
	in.data = out;
	return in;
}

/* What a log of ranges r[0..n) of hive h must measure. */
static size_t log_size(enum dh_log_format f, const struct hive *h,
		       const struct dh_log_range *r, size_t n)
{
	size_t data = 0, head;

	for (size_t i = 0; i < n; i++)
		data += r[i].size;
	if (f == DH_LOG_NEW)
		head = (40 + 8 * n + data + 511) / 512 * 512 - data;
	else
		head = (4 + bins_of(h) / 512 / 8 + 511) / 512 * 512;
	return 512 + head + data;
}

/* The second log: empty, or one a hive at O's state minus one would have
 * written (new format: an older sequence number; old: O's last-written
 * time, which the dirty primary no longer has). */
static struct dh_log_input second_log(TALLOC_CTX *mem, enum dh_log_format f,
				      const struct hive *o, enum second s)
{
	struct dh_log_range one = { 0, dh_logwrite_page(f) };

	if (s == SECOND_EMPTY)
		return (struct dh_log_input){ "SECOND", (const uint8_t *)"", 0 };
	return build(mem, f, o, dh_le32(o->b + DH_REGF_SEQ1) - 1, &one, 1,
		     "SECOND");
}

/* N's base block as the replay of its log into the dirty O gives it: the
 * new format keeps the dirty primary's last-written time (O's). */
static void expected_base(uint8_t *want, const struct hive *o,
			  const struct hive *n, enum dh_log_format f)
{
	memcpy(want, n->b, DH_REGF_BASE_BLOCK_SIZE);
	if (f == DH_LOG_NEW)
		dh_put_le64(want + DH_REGF_WRITTEN, dh_le64(o->b + DH_REGF_WRITTEN));
	seal(want);
}

/* Log N against O, replay it into the dirty O beside a second log: N. */
static void roundtrip(TALLOC_CTX *mem, const struct hive *o, enum change c,
		      enum dh_log_format f, enum second s)
{
	struct hive n = changed(mem, o, c, f), p = dirty(mem, o, &n, f), got;
	size_t count, pages = 0;
	struct dh_log_range *r = diff(mem, o, &n, dh_logwrite_page(f), &count);
	struct dh_log_input in[2];
	struct dh_recovery *rec = NULL;
	struct dh_error *err = NULL;
	uint8_t want[DH_REGF_BASE_BLOCK_SIZE];
	int fd = memfile(&p);

	assert_int_equal(count == 0, c == CHANGE_NONE);
	in[0] = second_log(mem, f, o, s);
	in[1] = build(mem, f, &n, dh_le32(n.b + DH_REGF_SEQ1), r, count, "OURS");
	assert_int_equal(in[1].len, log_size(f, &n, r, count));
	if (dh_recover_apply_fd(mem, fd, "P", in, 2, &rec, &err) != 0)
		fail_msg("replay: %s", err->message);
	got.b = file_bytes(mem, fd, &got.len);
	close(fd);
	for (size_t i = 0; i < count; i++)
		pages += f == DH_LOG_NEW ? 1 : r[i].size / 512;
	assert_true(rec->dirty);
	assert_int_equal(rec->entries_applied, 1);
	assert_int_equal(rec->pages_applied, pages);
	assert_false(rec->logs[0].used);
	assert_true(rec->logs[1].used);
	assert_int_equal(got.len, n.len);
	expected_base(want, o, &n, f);
	assert_memory_equal(got.b, want, DH_REGF_BASE_BLOCK_SIZE);
	assert_memory_equal(got.b + DH_REGF_BINS_START, n.b + DH_REGF_BINS_START,
			    n.len - DH_REGF_BINS_START);
}

static void roundtrip_all(TALLOC_CTX *mem, const struct hive *o,
			  enum dh_log_format f)
{
	for (enum change c = CHANGE_PAGES; c <= CHANGE_NONE; c++) {
		roundtrip(mem, o, c, f, SECOND_EMPTY);
		roundtrip(mem, o, c, f, SECOND_STALE);
	}
}

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

static void test_replay_new(void **state)
{
	struct hive o = fixture(*state);

	roundtrip_all(*state, &o, DH_LOG_NEW);
}

static void test_replay_old(void **state)
{
	struct hive o = fixture(*state);

	roundtrip_all(*state, &o, DH_LOG_OLD);
}

static void test_replay_corpus(void **state)
{
	struct hive o;

	o.b = corpus_load(*state, CORPUS_SYSTEM, &o.len);
	if (o.b == NULL)
		skip();
	roundtrip(*state, &o, CHANGE_PAGES, DH_LOG_NEW, SECOND_STALE);
	roundtrip(*state, &o, CHANGE_GROW, DH_LOG_NEW, SECOND_EMPTY);
	roundtrip(*state, &o, CHANGE_PAGES, DH_LOG_OLD, SECOND_STALE);
	roundtrip(*state, &o, CHANGE_GROW, DH_LOG_OLD, SECOND_EMPTY);
}

/* A log of N's changed pages and the scan of it against the dirty O. */
static const char *scan(TALLOC_CTX *mem, const struct hive *o,
			const struct dh_log_input *log, struct dh_logscan *sc)
{
	return dh_logscan(mem, log->data, log->len, o->b, true,
			  dh_le32(o->b + DH_REGF_SEQ2), sc);
}

/* Each hash covers what it should: a byte changed in the pages, in the
 * zero tail, in the header or in a hash makes the entry invalid. */
static void test_hashes(void **state)
{
	TALLOC_CTX *mem = *state;
	struct hive o = fixture(mem), n = changed(mem, &o, CHANGE_PAGES, DH_LOG_NEW);
	size_t count;
	struct dh_log_range *r = diff(mem, &o, &n, DH_HVLE_PAGE, &count);
	struct dh_log_input log = build(mem, DH_LOG_NEW, &n,
					dh_le32(n.b + DH_REGF_SEQ1), r, count, "L");
	const size_t e = DH_LOG_RECORDS;
	const size_t flip[] = { e + 40 + 8 * count + 7, log.len - 1, e + 8 + 1,
				e + DH_HVLE_HASH1, e + DH_HVLE_HASH2 + 7 };
	struct dh_logscan sc;

	assert_int_equal(count, 3);
	assert_null(scan(mem, &o, &log, &sc));
	assert_int_equal(sc.format, DH_LOG_NEW);
	assert_int_equal(sc.new_log.n, 1);
	assert_int_equal(sc.new_log.entries[0].n_pages, 3);
	assert_int_equal(log.data[log.len - 1], 0);
	for (size_t i = 0; i < sizeof(flip) / sizeof(flip[0]); i++) {
		uint8_t *bad = talloc_memdup(mem, log.data, log.len);
		struct dh_log_input b = { "L", bad, log.len };

		bad[flip[i]] ^= 0x10;
		assert_string_equal(scan(mem, &o, &b, &sc),
				    "an entry's hash is wrong");
		assert_int_equal(sc.new_log.n, 0);
	}
}

/* The XOR of a base block's first 127 dwords, without Windows' rule. */
static uint32_t raw_xor(const uint8_t *b)
{
	uint32_t x = 0;

	for (unsigned off = 0; off < DH_REGF_CHECKSUM_OFFSET; off += 4)
		x ^= dh_le32(b + off);
	return x;
}

/* A log base block whose XOR is 0 stores 1, one whose XOR is 0xFFFFFFFF
 * stores 0xFFFFFFFE (Windows' rule), and reads back as valid. */
static void checksum_rule(TALLOC_CTX *mem, enum dh_log_format f)
{
	const uint32_t xor_to[] = { 0, 0xFFFFFFFFu }, stored[] = { 1, 0xFFFFFFFEu };
	struct hive o = fixture(mem);

	for (size_t i = 0; i < 2; i++) {
		struct hive h = { talloc_memdup(mem, o.b, o.len), o.len };
		struct dh_log_input log = build(mem, f, &h, 77, NULL, 0, "L");
		struct dh_logscan sc;

		/* dword 500 is reserved: steer the log's XOR through it */
		dh_put_le32(h.b + 500, dh_le32(h.b + 500) ^ raw_xor(log.data) ^
				       xor_to[i]);
		seal(h.b);
		log = build(mem, f, &h, 77, NULL, 0, "L");
		assert_int_equal(raw_xor(log.data), xor_to[i]);
		assert_int_equal(dh_le32(log.data + DH_REGF_CHECKSUM_OFFSET),
				 stored[i]);
		assert_int_equal(dh_le32(log.data + DH_REGF_TYPE),
				 f == DH_LOG_NEW ? 6 : 1);
		assert_null(dh_logscan(mem, log.data, log.len, h.b, true, 76, &sc));
		assert_int_equal(sc.format, f);
	}
}

static void test_checksum_rule(void **state)
{
	checksum_rule(*state, DH_LOG_NEW);
	checksum_rule(*state, DH_LOG_OLD);
}

/* A record of no page: a base block and an empty entry (new), or a
 * bitmap with no bit set (old); either reads back as usable. */
static void test_no_page(void **state)
{
	TALLOC_CTX *mem = *state;
	struct hive o = fixture(mem);
	struct dh_log_input log = build(mem, DH_LOG_NEW, &o, 9, NULL, 0, "L");
	struct dh_logscan sc;

	assert_int_equal(log.len, 1024);
	assert_null(dh_logscan(mem, log.data, log.len, o.b, true, 2, &sc));
	assert_int_equal(sc.new_log.n, 1);
	assert_int_equal(sc.new_log.entries[0].n_pages, 0);
	assert_int_equal(sc.new_log.entries[0].seq, 9);
	assert_int_equal(sc.new_log.entries[0].bins_size, bins_of(&o));

	log = build(mem, DH_LOG_OLD, &o, 9, NULL, 0, "L");
	assert_int_equal(log.len, 1024);
	assert_null(dh_logscan(mem, log.data, log.len, o.b, true, 2, &sc));
	assert_int_equal(sc.old_log.n_pages, 0);
	assert_int_equal(sc.old_log.bins_size, bins_of(&o));
}

static int build_rc(TALLOC_CTX *mem, enum dh_log_format f,
		    const struct dh_overlay *hive,
		    const struct dh_log_range *r, size_t n, enum dh_errcode *code)
{
	struct dh_error *err = NULL;
	uint8_t *out = NULL;
	size_t len = 0;
	int rc = dh_logwrite_build(mem, f, hive, "HIVE-PATH", 5, r, n, &out,
				   &len, &err);

	if (rc != 0) {
		assert_non_null(strstr(err->message, "HIVE-PATH"));
		*code = err->code;
	}
	return rc;
}

/* Ranges that are not whole pages of the format, out of order,
 * overlapping or outside the bins are refused; so is no format. */
static void test_ranges_refused(void **state)
{
	TALLOC_CTX *mem = *state;
	struct hive o = fixture(mem);
	const uint32_t bins = bins_of(&o);
	const struct dh_log_range bad[][2] = {
		{ { 512, 4096 } }, { { 0, 512 } }, { { 0, 0 } }, { { 100, 4096 } },
		{ { 4096, 4096 }, { 0, 4096 } }, { { 0, 8192 }, { 4096, 4096 } },
		{ { bins - 4096, 8192 } }, { { bins, 4096 } },
	};
	const struct dh_log_range ok512 = { 512, 512 }, bad_old = { 100, 512 };
	enum dh_errcode code = DH_ERR_INTERNAL;
	int fd = memfile(&o);

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		size_t n = bad[i][1].size ? 2 : 1;

		code = DH_ERR_INTERNAL;
		assert_int_equal(build_rc(mem, DH_LOG_NEW, fd_overlay(mem, fd), bad[i], n, &code), -1);
		assert_int_equal(code, DH_ERR_ARGUMENT);
	}
	assert_int_equal(build_rc(mem, DH_LOG_OLD, fd_overlay(mem, fd), &ok512, 1, &code), 0);
	assert_int_equal(build_rc(mem, DH_LOG_OLD, fd_overlay(mem, fd), &bad_old, 1, &code), -1);
	assert_int_equal(code, DH_ERR_ARGUMENT);
	code = DH_ERR_INTERNAL;
	assert_int_equal(build_rc(mem, DH_LOG_NONE, fd_overlay(mem, fd), NULL, 0, &code), -1);
	assert_int_equal(code, DH_ERR_ARGUMENT);
	close(fd);
}

/* A hive that ends before its bins, or cannot be read: DH_ERR_IO. */
static void test_read_failure(void **state)
{
	TALLOC_CTX *mem = *state;
	struct hive o = fixture(mem);
	const struct dh_log_range last = { bins_of(&o) - 4096, 4096 };
	enum dh_errcode code = DH_ERR_INTERNAL;
	int fd = memfile(&o);

	assert_int_equal(ftruncate(fd, (off_t)o.len - 1), 0);
	assert_int_equal(build_rc(mem, DH_LOG_NEW, fd_overlay(mem, fd), &last, 1,
				  &code), -1);
	assert_int_equal(code, DH_ERR_IO);
	close(fd);
	code = DH_ERR_INTERNAL;
	/* A hive that cannot be read at all. */
	fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(build_rc(mem, DH_LOG_OLD, dh_overlay_new(mem, fd, o.len),
				  &last, 1, &code), -1);
	assert_int_equal(code, DH_ERR_IO);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_replay_new, mem_setup, mem_teardown),
		cmocka_unit_test_setup_teardown(test_replay_old, mem_setup, mem_teardown),
		cmocka_unit_test_setup_teardown(test_replay_corpus, mem_setup, mem_teardown),
		cmocka_unit_test_setup_teardown(test_hashes, mem_setup, mem_teardown),
		cmocka_unit_test_setup_teardown(test_checksum_rule, mem_setup, mem_teardown),
		cmocka_unit_test_setup_teardown(test_no_page, mem_setup, mem_teardown),
		cmocka_unit_test_setup_teardown(test_ranges_refused, mem_setup, mem_teardown),
		cmocka_unit_test_setup_teardown(test_read_failure, mem_setup, mem_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
