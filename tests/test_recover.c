/*
 * Unit tests of transaction-log replay on the generated dirty fixtures
 * (see the replay section of testdata/mkfixtures.c), each into a memory
 * file holding the primary, as the pipeline replays into the new file: each must
 * give exactly the hive bins of the state the generator says, and every
 * broken log must stop the replay where Windows stops, or be refused.
 */
#include "config.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "fixtures.h"
#include "io.h"
#include "recover.h"
#include "regf.h"
#include "target.h"

struct loaded {
	char *path;
	uint8_t *hive;
	size_t len;
	struct dh_log_input *in;
	size_t n;
};

/* The dirty SYSTEM of fixture directory `dir` and its logs. */
static struct loaded *load(TALLOC_CTX *mem, const char *dir)
{
	struct loaded *l = talloc_zero(mem, struct loaded);
	struct dh_log_file *logs;
	struct dh_target *t;

	l->path = talloc_asprintf(l, "%s/%s/SYSTEM", fixtures_dir(), dir);
	l->hive = path_bytes(l, l->path, &l->len);
	assert_int_equal(dh_target_resolve(l, l->path, &t, NULL), 0);
	assert_int_equal(dh_target_logs(l, t, &logs, &l->n, NULL), 0);
	l->in = talloc_array(l, struct dh_log_input, l->n + 1);
	for (size_t i = 0; i < l->n; i++)
		l->in[i] = (struct dh_log_input){ logs[i].path, logs[i].data,
						  logs[i].len };
	return l;
}

/* The replayed hive's bins are exactly those of state `expect`, and its
 * base block is clean with both sequence numbers at `seq`. */
static void assert_state(TALLOC_CTX *mem, const struct loaded *l,
			 const char *expect, uint32_t seq)
{
	char *path = talloc_asprintf(mem, "%s/replay/%s", fixtures_dir(), expect);
	size_t want_len;
	uint8_t *want = path_bytes(mem, path, &want_len);
	struct dh_regf_header h;

	assert_int_equal(l->len, want_len);
	assert_memory_equal(l->hive + DH_REGF_BASE_BLOCK_SIZE,
			    want + DH_REGF_BASE_BLOCK_SIZE,
			    want_len - DH_REGF_BASE_BLOCK_SIZE);
	assert_int_equal(dh_regf_parse(mem, l->hive, l->len, "x", &h, NULL), 0);
	assert_null(dh_regf_dirty_reason(mem, &h));
	assert_int_equal(h.seq_primary, seq);
	assert_int_equal(h.bins_size, want_len - DH_REGF_BASE_BLOCK_SIZE);
}

/* A memory file holding the primary l had when loaded. */
static int primary_file(const uint8_t *bytes, size_t len)
{
	int fd = memfd_create("test-primary", MFD_CLOEXEC);

	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, bytes, len, 0), (ssize_t)len);
	return fd;
}

/* The replay, on bytes: *hive (a talloc array of *len bytes) goes into a
 * memory file, is replayed there, and is whatever the file then holds
 * (also after a refusal, so "untouched" is checked on the file). */
static int replay(TALLOC_CTX *mem, uint8_t **hive, size_t *len,
		  const char *path, const struct dh_log_input *in, size_t n,
		  struct dh_recovery **rec, struct dh_error **err)
{
	int fd = primary_file(*hive, *len);
	int rc = dh_recover_apply_fd(mem, fd, path, in, n, rec, err);

	talloc_free(*hive);
	*hive = file_bytes(mem, fd, len);
	close(fd);
	return rc;
}

static struct dh_recovery *replay_ok(TALLOC_CTX *mem, struct loaded *l)
{
	struct dh_recovery *rec = NULL;
	struct dh_error *err = NULL;
	int rc = replay(mem, &l->hive, &l->len, l->path, l->in, l->n, &rec,
			&err);

	if (rc != 0)
		fail_msg("replay failed: %s", err ? err->message : "?");
	assert_non_null(rec);
	assert_true(rec->dirty);
	return rec;
}

static void test_new_one_log(void **state)
{
	TALLOC_CTX *mem = talloc_new(NULL);
	struct loaded *l = load(mem, "new-one");
	struct dh_recovery *rec = replay_ok(mem, l);

	(void)state;
	assert_int_equal(rec->entries_applied, 3);
	assert_int_equal(rec->last_sequence, 102);
	assert_true(rec->pages_applied > 0);
	assert_int_equal(rec->n_logs, 2);
	assert_true(rec->logs[0].used);
	assert_false(rec->logs[1].used);     /* the empty LOG2 */
	assert_state(mem, l, "B.hive", 102);
	talloc_free(mem);
}

static void replay_to_b_from_both(const char *dir)
{
	TALLOC_CTX *mem = talloc_new(NULL);
	struct loaded *l = load(mem, dir);
	struct dh_recovery *rec = replay_ok(mem, l);

	assert_int_equal(rec->entries_applied, 3);
	assert_true(rec->logs[0].used);
	assert_true(rec->logs[1].used);
	assert_state(mem, l, "B.hive", 102);
	talloc_free(mem);
}

static void test_new_split(void **state)
{
	(void)state;
	replay_to_b_from_both("new-split");
}

static void test_new_swapped(void **state)
{
	(void)state;
	replay_to_b_from_both("new-swapped");
}

/* Where a replay stopped short of newer entries (left_out 0: it did not;
 * an entry that cannot be parsed has no sequence number to leave out). */
struct stop_want {
	unsigned left_out;
	size_t log;
	unsigned index;
	uint32_t sequence;
	const char *why;
};

static void assert_stop(const struct dh_recovery *rec,
			const struct stop_want *w)
{
	if (w->left_out == 0) {
		assert_null(rec->stop);
		return;
	}
	assert_non_null(rec->stop);
	assert_int_equal(rec->stop->left_out, w->left_out);
	assert_int_equal(rec->stop->log, w->log);
	assert_int_equal(rec->stop->index, w->index);
	assert_int_equal(rec->stop->sequence, w->sequence);
	assert_int_equal(rec->stop->after, rec->last_sequence);
	if (strstr(rec->stop->why, w->why) == NULL)
		fail_msg("'%s' not in: %s", w->why, rec->stop->why);
}

/* A damaged log stops the replay at the last good entry. */
static void replay_stops(const char *dir, const char *expect,
			 unsigned entries, const struct stop_want *w)
{
	TALLOC_CTX *mem = talloc_new(NULL);
	struct loaded *l = load(mem, dir);
	struct dh_recovery *rec = replay_ok(mem, l);

	assert_int_equal(rec->entries_applied, entries);
	assert_int_equal(rec->last_sequence, 99 + entries);
	assert_state(mem, l, expect, 99 + entries);
	assert_non_null(rec->logs[0].why_not);
	assert_stop(rec, w);
	assert_int_equal(rec->logs[0].left_out, w->left_out);
	talloc_free(mem);
}

static void test_new_bad_hash(void **state)
{
	static const struct stop_want w = { 2, 0, 2, 101, "hash" };

	(void)state;
	replay_stops("new-badhash", "A1.hive", 1, &w);
}

static void test_new_gap(void **state)
{
	static const struct stop_want w = { 1, 0, 3, 103, "gap" };

	(void)state;
	replay_stops("new-gap", "A2.hive", 2, &w);
}

static void test_new_truncated(void **state)
{
	static const struct stop_want w = { 0 };

	(void)state;
	replay_stops("new-truncated", "A2.hive", 2, &w);
}

static void test_new_page_past_end(void **state)
{
	static const struct stop_want w = { 0 };

	(void)state;
	replay_stops("new-pastend", "A2.hive", 2, &w);
}

static void test_new_huge_bins(void **state)
{
	static const struct stop_want w = { 1, 0, 3, 102, "grows the hive" };

	(void)state;
	replay_stops("new-hugebins", "A2.hive", 2, &w);
}

/* new-split (LOG1: 100, 101; LOG2: 102) with LOG1 changed by `damage`:
 * the replay applies `entries` and stops as w says. */
static void split_stops(void (*damage)(uint8_t *log, size_t *len),
			unsigned entries, const struct stop_want *w)
{
	TALLOC_CTX *mem = talloc_new(NULL);
	struct loaded *l = load(mem, "new-split");
	uint8_t *log1 = talloc_memdup(mem, l->in[0].data, l->in[0].len);
	struct dh_recovery *rec;

	damage(log1, &l->in[0].len);
	l->in[0].data = log1;
	rec = replay_ok(mem, l);
	assert_int_equal(rec->entries_applied, entries);
	assert_stop(rec, w);
	talloc_free(mem);
}

/* A byte of entry 101's pages flipped: its hash is wrong. */
static void flip_second_entry(uint8_t *log, size_t *len)
{
	size_t second = DH_LOG_RECORDS +
			dh_le32(log + DH_LOG_RECORDS + DH_HVLE_SIZE);

	assert_true(second + 600 < *len);
	log[second + 600] ^= 0x01;
}

/* LOG1 cut after entry 100: the next one there is, 102, does not follow. */
static void cut_after_first(uint8_t *log, size_t *len)
{
	*len = DH_LOG_RECORDS + dh_le32(log + DH_LOG_RECORDS + DH_HVLE_SIZE);
}

/* Windows stops at the bad entry: 101 and LOG2's 102 are left out. */
static void test_split_bad_hash_leaves_out_both_logs(void **state)
{
	static const struct stop_want w = { 2, 0, 2, 101, "hash" };

	(void)state;
	split_stops(flip_second_entry, 1, &w);
}

static void test_split_gap_between_logs(void **state)
{
	static const struct stop_want w = { 1, 1, 1, 102, "does not follow" };

	(void)state;
	split_stops(cut_after_first, 1, &w);
}

/* Refused: DH_ERR_DIRTY naming the reason, the bytes untouched. */
static void replay_refused(const char *dir, const char *needle)
{
	TALLOC_CTX *mem = talloc_new(NULL);
	struct loaded *l = load(mem, dir);
	uint8_t *before = talloc_memdup(mem, l->hive, l->len);
	size_t before_len = l->len;
	struct dh_recovery *rec = NULL;
	struct dh_error *err = NULL;

	assert_int_equal(replay(l, &l->hive, &l->len, l->path, l->in, l->n,
				&rec, &err), -1);
	assert_non_null(err);
	assert_int_equal(err->code, DH_ERR_DIRTY);
	if (strstr(err->message, needle) == NULL)
		fail_msg("'%s' not in: %s", needle, err->message);
	assert_non_null(strstr(err->message, l->path));
	assert_non_null(strstr(err->message, "--ignore-logs"));
	assert_int_equal(l->len, before_len);
	assert_memory_equal(l->hive, before, before_len);
	talloc_free(mem);
}

static void test_new_bad_base_block(void **state)
{
	(void)state;
	replay_refused("new-badbase", "base block is damaged");
}

static void test_new_stale(void **state)
{
	(void)state;
	replay_refused("new-stale", "stale");
}

static void test_old_format(void **state)
{
	TALLOC_CTX *mem = talloc_new(NULL);
	struct loaded *l = load(mem, "old");
	struct dh_recovery *rec = replay_ok(mem, l);

	(void)state;
	assert_int_equal(rec->entries_applied, 1);
	assert_false(rec->base_block_from_log);
	assert_true(rec->logs[0].used);
	assert_state(mem, l, "B.hive", 101);
	talloc_free(mem);
}

static void test_old_bad_primary_base_block(void **state)
{
	TALLOC_CTX *mem = talloc_new(NULL);
	struct loaded *l = load(mem, "old-badbase");
	struct dh_recovery *rec = replay_ok(mem, l);

	(void)state;
	assert_true(rec->base_block_from_log);
	assert_non_null(strstr(rec->dirty_reason, "checksum"));
	assert_state(mem, l, "B.hive", 101);
	/* a primary again, not a log */
	assert_int_equal(dh_le32(l->hive + DH_REGF_TYPE), DH_REGF_TYPE_PRIMARY);
	talloc_free(mem);
}

static void test_old_timestamp_mismatch(void **state)
{
	(void)state;
	replay_refused("old-timestamp", "last-written time");
}

static void test_no_logs(void **state)
{
	(void)state;
	replay_refused("nologs", "no ");
}

static void test_clean_hive_untouched(void **state)
{
	TALLOC_CTX *mem = talloc_new(NULL);
	char *path = talloc_asprintf(mem, "%s/nt4.hive", fixtures_dir());
	size_t len;
	uint8_t *hive = path_bytes(mem, path, &len);
	uint8_t *before = talloc_memdup(mem, hive, len);
	struct dh_recovery *rec = NULL;
	struct dh_log_input junk = { "junk.LOG1", (const uint8_t *)"HvLE", 4 };

	(void)state;
	assert_int_equal(replay(mem, &hive, &len, path, &junk, 1, &rec, NULL),
			 0);
	assert_false(rec->dirty);
	assert_null(rec->dirty_reason);
	assert_int_equal(rec->entries_applied, 0);
	assert_memory_equal(hive, before, len);
	talloc_free(mem);
}

/* A file the replay cannot write: DH_ERR_IO naming the hive, and the
 * file's base block never signed clean. */
static void test_file_write_fails(void **state)
{
	TALLOC_CTX *mem = talloc_new(NULL);
	struct loaded *l = load(mem, "new-one");
	struct dh_recovery *rec = NULL;
	struct dh_error *err = NULL;
	int fd = open(l->path, O_RDONLY | O_CLOEXEC);
	uint8_t *after;
	size_t len;

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(dh_recover_apply_fd(mem, fd, l->path, l->in, l->n,
					     &rec, &err), -1);
	assert_int_equal(err->code, DH_ERR_IO);
	assert_non_null(strstr(err->message, l->path));
	after = file_bytes(mem, fd, &len);
	close(fd);
	assert_int_equal(len, l->len);
	assert_memory_equal(after, l->hive, len);
	talloc_free(mem);
}

/* Thousands of damaged copies of a good log: every replay ends in a result
 * or a refusal, never a crash (run under ASan and valgrind in CI). */
static void test_mutated_logs_never_crash(void **state)
{
	TALLOC_CTX *mem = talloc_new(NULL);
	struct loaded *l = load(mem, "new-split");
	unsigned seed = 12345;
	unsigned ok = 0, refused = 0;

	(void)state;
	for (int round = 0; round < 3000; round++) {
		TALLOC_CTX *tmp = talloc_new(mem);
		uint8_t *hive = talloc_memdup(tmp, l->hive, l->len);
		size_t len = l->len;
		struct dh_log_input in[2];
		struct dh_recovery *rec;

		for (size_t i = 0; i < 2; i++) {
			uint8_t *d = talloc_memdup(tmp, l->in[i].data, l->in[i].len);
			size_t cut = l->in[i].len;

			for (int k = 0; k < 1 + round % 8; k++) {
				seed = seed * 1103515245u + 12345u;
				d[(seed >> 8) % l->in[i].len] ^= (uint8_t)(1u << (seed % 8));
			}
			if (round % 5 == 0)
				cut = (seed >> 4) % (l->in[i].len + 1);
			in[i] = (struct dh_log_input){ l->in[i].path, d, cut };
		}
		if (replay(tmp, &hive, &len, l->path, in, 2, &rec, NULL) == 0)
			ok++;
		else
			refused++;
		talloc_free(tmp);
	}
	assert_int_equal(ok + refused, 3000);
	assert_true(ok > 0);
	assert_true(refused > 0);
	talloc_free(mem);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_new_one_log),
		cmocka_unit_test(test_new_split),
		cmocka_unit_test(test_new_swapped),
		cmocka_unit_test(test_new_bad_hash),
		cmocka_unit_test(test_new_gap),
		cmocka_unit_test(test_split_bad_hash_leaves_out_both_logs),
		cmocka_unit_test(test_split_gap_between_logs),
		cmocka_unit_test(test_new_truncated),
		cmocka_unit_test(test_new_page_past_end),
		cmocka_unit_test(test_new_huge_bins),
		cmocka_unit_test(test_new_bad_base_block),
		cmocka_unit_test(test_new_stale),
		cmocka_unit_test(test_old_format),
		cmocka_unit_test(test_old_bad_primary_base_block),
		cmocka_unit_test(test_old_timestamp_mismatch),
		cmocka_unit_test(test_no_logs),
		cmocka_unit_test(test_clean_hive_untouched),
		cmocka_unit_test(test_file_write_fails),
		cmocka_unit_test(test_mutated_logs_never_crash),
	};

	return cmocka_run_group_tests_name("recover", tests, NULL, NULL);
}
