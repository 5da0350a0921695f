/*
 * Tests of the pipeline (pipeline.c, restore.c, outcome.c) through
 * dh_run_target(): what each command leaves on disk and says in its
 * report, on generated fixture hives.
 */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "deskheap.h"
#include "fixtures.h"

struct fx {
	TALLOC_CTX *mem;
	char *dir;
};

static int setup(void **state)
{
	struct fx *f = talloc_zero(NULL, struct fx);

	f->mem = f;
	f->dir = tmpdir_new(f);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	talloc_free(*state);
	return 0;
}

static off_t size_of(const char *path)
{
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	return st.st_size;
}

/* The new-split dirty fixture (SYSTEM, SYSTEM.LOG1, SYSTEM.LOG2) in f->dir. */
static char *dirty_hive(struct fx *f)
{
	static const char *const names[] = { "SYSTEM", "SYSTEM.LOG1",
					     "SYSTEM.LOG2" };
	char *src;

	for (size_t i = 0; i < 3; i++) {
		src = talloc_asprintf(f->mem, "%s/new-split/%s",
				      fixtures_dir(), names[i]);
		assert_int_equal(system(talloc_asprintf(f->mem, "cp '%s' '%s'",
							src, f->dir)), 0);
	}
	return talloc_asprintf(f->mem, "%s/SYSTEM", f->dir);
}

static struct dh_report *run(struct fx *f, struct dh_options *o,
			     const char *target)
{
	struct dh_report *r = dh_run_target(f->mem, o, target);

	assert_non_null(r);
	return r;
}

/* Options passed by a program built against an older header (a smaller
 * size) are taken, the fields it does not know as zero; options too small
 * to hold the command, or none, are refused. */
static void test_options_size(void **state)
{
	struct fx *f = *state;
	char *hive = fixture_copy(f->mem, "win7.hive", f->dir);
	struct dh_options o = DH_OPTIONS_INIT(DH_CMD_SHOW);
	struct dh_report *r;

	o.size = offsetof(struct dh_options, values);
	o.control_set = 7; /* beyond size: not read, so "all" (0 is current) */
	r = run(f, &o, hive);
	assert_int_equal(r->status, DH_STATUS_SHOWN);
	assert_true(r->n_control_sets >= 1);
	o.size = offsetof(struct dh_options, command);
	r = run(f, &o, hive);
	assert_int_equal(r->status, DH_STATUS_FAILED);
	assert_int_equal(r->error->code, DH_ERR_ARGUMENT);
	assert_non_null(strstr(r->error->message, "sizeof(struct dh_options)"));
	r = run(f, NULL, hive);
	assert_int_equal(r->error->code, DH_ERR_ARGUMENT);
}

/* set: the new hive in place, a numbered backup beside it, nothing else;
 * again: unchanged, nothing made; a dry run: nothing made. */
static void test_set_clean(void **state)
{
	struct fx *f = *state;
	char *hive = fixture_copy(f->mem, "nt4.hive", f->dir);
	struct dh_options o = DH_OPTIONS_INIT(DH_CMD_SET);
	struct dh_report *r;

	o.values.non_interactive = 512;
	o.dry_run = true;
	r = run(f, &o, hive);
	assert_int_equal(r->status, DH_STATUS_WOULD_CHANGE);
	assert_int_equal(count_names(f->dir, ".deskheap-"), 0);
	o.dry_run = false;
	r = run(f, &o, hive);
	assert_int_equal(r->status, DH_STATUS_CHANGED);
	assert_non_null(r->backup);
	assert_non_null(strstr(r->backup, "/nt4.hive.deskheap-0001-"));
	assert_int_equal(count_names(f->dir, ".deskheap-"), 1);
	r = run(f, &o, hive);
	assert_int_equal(r->status, DH_STATUS_UNCHANGED);
	assert_null(r->backup);
	assert_int_equal(count_names(f->dir, ".deskheap-"), 1);
}

/* set on a dirty hive: replayed into the new hive, the logs' entries
 * reported, the logs emptied and kept in the backup set; with
 * --no-backup the logs stay as they are (their only copy). */
static void test_set_dirty(void **state)
{
	struct fx *f = *state;
	char *hive = dirty_hive(f);
	char *log1 = talloc_asprintf(f->mem, "%s.LOG1", hive);
	off_t log1_size = size_of(log1);
	struct dh_options o = DH_OPTIONS_INIT(DH_CMD_SET);
	struct dh_report *r;

	o.values.non_interactive = 768; /* the replayed hive says 640 */
	o.no_backup = true;
	r = run(f, &o, hive);
	assert_int_equal(r->status, DH_STATUS_CHANGED);
	assert_true(r->dirty);
	assert_true(r->log_entries_applied > 0);
	assert_int_equal(size_of(log1), log1_size);
	assert_int_equal(count_names(f->dir, ".deskheap-"), 0);

	hive = dirty_hive(f);
	o.no_backup = false;
	r = run(f, &o, hive);
	assert_int_equal(r->status, DH_STATUS_CHANGED);
	assert_int_equal(r->n_backup_logs, 2);
	assert_int_equal(size_of(log1), 0);
	assert_int_equal(size_of(r->backup_logs[0]), log1_size);
	assert_int_equal(count_names(f->dir, ".deskheap-tmp-"), 0);
	assert_int_equal(count_names(f->dir, ".deskheap-journal"), 0);
}

/* recover: a dirty hive without logs is refused, naming the way out; with
 * ignore_logs it is written clean as it is; a clean hive: nothing to do. */
static void test_recover(void **state)
{
	struct fx *f = *state;
	char *hive = dirty_hive(f);
	struct dh_options o = DH_OPTIONS_INIT(DH_CMD_RECOVER);
	struct dh_report *r;

	assert_int_equal(unlink(talloc_asprintf(f->mem, "%s.LOG1", hive)), 0);
	assert_int_equal(unlink(talloc_asprintf(f->mem, "%s.LOG2", hive)), 0);
	r = run(f, &o, hive);
	assert_int_equal(r->status, DH_STATUS_FAILED);
	assert_int_equal(r->error->code, DH_ERR_DIRTY);
	assert_non_null(strstr(r->error->message, "--ignore-logs"));
	o.ignore_logs = true;
	r = run(f, &o, hive);
	assert_int_equal(r->status, DH_STATUS_CHANGED);
	assert_non_null(r->backup);
	o.ignore_logs = false;
	r = run(f, &o, hive);
	assert_int_equal(r->status, DH_STATUS_UNCHANGED);
	assert_false(r->dirty);
}

/* restore puts back the newest set, hive and logs, and describes the hive
 * now in place (dirty: the set's logs hold its changes). */
static void test_restore(void **state)
{
	struct fx *f = *state;
	char *hive = dirty_hive(f), *orig;
	char *log1 = talloc_asprintf(f->mem, "%s.LOG1", hive);
	struct dh_options set = DH_OPTIONS_INIT(DH_CMD_SET);
	struct dh_options restore = DH_OPTIONS_INIT(DH_CMD_RESTORE);
	off_t log1_size = size_of(log1);
	struct dh_report *r;

	orig = talloc_asprintf(f->mem, "%s/original", f->dir);
	assert_int_equal(system(talloc_asprintf(f->mem, "cp '%s' '%s'", hive,
						orig)), 0);
	set.values.non_interactive = 768;
	assert_int_equal(run(f, &set, hive)->status, DH_STATUS_CHANGED);
	r = run(f, &restore, hive);
	assert_int_equal(r->status, DH_STATUS_CHANGED);
	assert_non_null(r->restored_from);
	assert_true(r->dirty);
	assert_int_equal(file_equal(hive, orig), 1);
	assert_int_equal(size_of(log1), log1_size);
	assert_int_equal(r->n_backup_logs, 2);
	assert_int_equal(count_names(f->dir, ".deskheap-tmp-"), 0);
}

/* A failure once the new hive is staged: everything staged removed, and
 * the message says, once, that the hive was not changed. */
static void test_failure_after_staging(void **state)
{
	struct fx *f = *state;
	char *hive = fixture_copy(f->mem, "nt4.hive", f->dir);
	struct dh_options o = DH_OPTIONS_INIT(DH_CMD_SET);
	struct dh_report *r;
	const char *first;

#ifndef DH_FAILPOINTS
	print_message("not a failpoint build: a failed verify not tested\n");
	skip();
#endif
	o.values.non_interactive = 512;
	assert_int_equal(setenv("DESKHEAP_FAILPOINT", "verify:EIO@1", 1), 0);
	r = run(f, &o, hive);
	unsetenv("DESKHEAP_FAILPOINT");
	assert_int_equal(r->status, DH_STATUS_FAILED);
	assert_int_equal(r->error->code, DH_ERR_VERIFY);
	first = strstr(r->error->message, "the hive was not changed");
	assert_non_null(first);
	assert_null(strstr(first + 1, "the hive was not changed"));
	assert_int_equal(count_names(f->dir, ".deskheap-"), 0);
}

/* A run that dies after its journal is durable: the next run that locks
 * the hive completes it and says so, and a restore after a killed restore
 * is that restore, not a second step back. */
static void test_completes_journal(void **state)
{
	struct fx *f = *state;
	char *hive = fixture_copy(f->mem, "nt4.hive", f->dir);
	char *orig = talloc_asprintf(f->mem, "%s/original", f->dir);
	struct dh_options set = DH_OPTIONS_INIT(DH_CMD_SET);
	struct dh_options restore = DH_OPTIONS_INIT(DH_CMD_RESTORE);
	struct dh_options show = DH_OPTIONS_INIT(DH_CMD_SHOW);
	struct dh_report *r;

#ifndef DH_FAILPOINTS
	print_message("not a failpoint build: an unfinished journal not tested\n");
	skip();
#endif
	assert_int_equal(system(talloc_asprintf(f->mem, "cp '%s' '%s'", hive,
						orig)), 0);
	set.values.non_interactive = 512;
	assert_int_equal(run(f, &set, hive)->status, DH_STATUS_CHANGED);
	/* The journal is written, then the dir fsync after the renames
	 * fails: the change is decided but unfinished. */
	assert_int_equal(setenv("DESKHEAP_FAILPOINT", "journal-remove:EIO@1", 1), 0);
	r = run(f, &restore, hive);
	unsetenv("DESKHEAP_FAILPOINT");
	assert_int_equal(r->status, DH_STATUS_FAILED);
	assert_non_null(strstr(r->error->message, "completes it"));
	assert_int_equal(count_names(f->dir, ".deskheap-journal"), 1);
	/* Readers, and a dry run, say so and leave it. */
	r = run(f, &show, hive);
	assert_int_equal(r->status, DH_STATUS_SHOWN);
	assert_int_equal(r->n_warnings, 1);
	assert_non_null(strstr(r->warnings[0], "is unfinished"));
	restore.dry_run = true;
	run(f, &restore, hive);
	restore.dry_run = false;
	assert_int_equal(count_names(f->dir, ".deskheap-journal"), 1);
	r = run(f, &restore, hive);
	assert_int_equal(r->status, DH_STATUS_CHANGED);
	assert_int_equal(r->n_warnings, 1);
	assert_non_null(strstr(r->warnings[0], "completed the restore"));
	assert_int_equal(count_names(f->dir, ".deskheap-journal"), 0);
	assert_int_equal(file_equal(hive, orig), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(test_options_size),
		T(test_set_clean),
		T(test_set_dirty),
		T(test_recover),
		T(test_restore),
		T(test_failure_after_staging),
		T(test_completes_journal),
#undef T
	};

	return cmocka_run_group_tests_name("pipeline", tests, NULL, NULL);
}
