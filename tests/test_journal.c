/*
 * Unit tests of the roll-forward journal: a set of renames applied whole,
 * completed by recovery after any number of them, refused when damaged,
 * abandoned when the files changed since.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "error.h"
#include "journal.h"

struct fx {
	TALLOC_CTX *mem;
	char dir[64];
	int dfd;
};

static int setup(void **state)
{
	struct fx *f = talloc_zero(NULL, struct fx);

	assert_non_null(f);
	f->mem = f;
	snprintf(f->dir, sizeof f->dir, "/tmp/deskheap-journal-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	f->dfd = open(f->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(f->dfd >= 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	char cmd[128];

	close(f->dfd);
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
	assert_int_equal(system(cmd), 0);
	talloc_free(f);
	return 0;
}

static void put(struct fx *f, const char *name, const char *text)
{
	int fd = openat(f->dfd, name, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

/* The content of name, or "(none)". */
static char *get(struct fx *f, const char *name)
{
	char *buf = talloc_zero_size(f->mem, 256);
	int fd = openat(f->dfd, name, O_RDONLY);

	if (fd < 0)
		return talloc_strdup(f->mem, "(none)");
	assert_true(read(fd, buf, 255) >= 0);
	close(fd);
	return buf;
}

static bool exists(struct fx *f, const char *name)
{
	return faccessat(f->dfd, name, F_OK, AT_SYMLINK_NOFOLLOW) == 0;
}

/* A journal over SYSTEM and SYSTEM.LOG1, staged as .t-hive and .t-log1
 * (with `twice`, the hive staged twice: an interim then the final). */
static struct dh_journal *make(struct fx *f, bool twice)
{
	struct dh_journal *j = talloc_zero(f->mem, struct dh_journal);
	static const char *const spec[][3] = {
		{ ".t-hive", "SYSTEM", "new hive" },
		{ ".t-log1", "SYSTEM.LOG1", "" },
		{ ".t-hive2", "SYSTEM", "final hive" },
	};

	put(f, "SYSTEM", "old hive");
	put(f, "SYSTEM.LOG1", "old log");
	j->command = "set";
	j->note = "a note with spaces/and %";
	j->n_entries = twice ? 3 : 2;
	j->entries = talloc_zero_array(j, struct dh_journal_entry, 3);
	for (size_t i = 0; i < j->n_entries; i++) {
		struct dh_journal_entry *e = &j->entries[i];

		put(f, spec[i][0], spec[i][2]);
		e->tmp = (char *)spec[i][0];
		e->name = (char *)spec[i][1];
		assert_int_equal(dh_journal_describe(f->dfd, e->name,
						     &e->before), 0);
		assert_int_equal(dh_journal_describe(f->dfd, e->tmp,
						     &e->after), 0);
	}
	if (twice) /* the final hive goes over the interim one */
		j->entries[2].before = j->entries[0].after;
	return j;
}

static void assert_new(struct fx *f, bool twice)
{
	assert_string_equal(get(f, "SYSTEM"), twice ? "final hive" :
						      "new hive");
	assert_string_equal(get(f, "SYSTEM.LOG1"), "");
	assert_false(exists(f, ".t-hive"));
	assert_false(exists(f, ".t-log1"));
	assert_false(exists(f, ".SYSTEM.deskheap-journal"));
}

static void test_apply(void **state)
{
	struct fx *f = *state;
	struct dh_error *err = NULL;
	struct dh_journal *j = make(f, false);

	assert_int_equal(dh_journal_write(f->mem, f->dfd, "SYSTEM", "", j,
					  &err), 0);
	assert_true(exists(f, ".SYSTEM.deskheap-journal"));
	assert_string_equal(get(f, "SYSTEM"), "old hive");
	assert_int_equal(dh_journal_apply(f->mem, f->dfd, "SYSTEM", "", j,
					  NULL, &err), 0);
	assert_new(f, false);
}

/* Killed after k renames, for every k: the next recovery finishes it. */
static void test_recover_after_each_rename(void **state)
{
	struct fx *f = *state;

	for (int twice = 0; twice < 2; twice++)
		for (size_t k = 0; k <= (twice ? 3u : 2u); k++) {
			struct dh_error *err = NULL;
			struct dh_journal *j = make(f, twice);
			char *done = NULL, *cmd = NULL;

			assert_int_equal(dh_journal_write(f->mem, f->dfd,
							  "SYSTEM", "", j,
							  &err), 0);
			for (size_t i = 0; i < k; i++)
				assert_int_equal(renameat(f->dfd,
					j->entries[i].tmp, f->dfd,
					j->entries[i].name), 0);
			assert_int_equal(dh_journal_recover(f->mem, f->dfd,
				"SYSTEM", "", &done, &cmd, &err), 0);
			assert_non_null(done);
			assert_non_null(strstr(done, "completed the set a note "
					       "with spaces/and %"));
			assert_string_equal(cmd, "set");
			assert_new(f, twice);
		}
}

static void test_recover_none(void **state)
{
	struct fx *f = *state;
	struct dh_error *err = NULL;
	char *done = (char *)"x", *cmd = (char *)"x";

	put(f, "SYSTEM", "old hive");
	assert_int_equal(dh_journal_recover(f->mem, f->dfd, "SYSTEM", "",
					    &done, &cmd, &err), 0);
	assert_null(done);
	assert_null(cmd);
	assert_null(err);
}

/* Any byte changed: refused, nothing renamed, the journal kept. */
static void test_recover_damaged(void **state)
{
	struct fx *f = *state;
	struct dh_journal *j = make(f, false);
	struct dh_error *err = NULL;
	char *done, *cmd, *text;
	struct stat st;

	assert_int_equal(dh_journal_write(f->mem, f->dfd, "SYSTEM", "pre/", j,
					  &err), 0);
	text = get(f, ".SYSTEM.deskheap-journal");
	assert_int_equal(fstatat(f->dfd, ".SYSTEM.deskheap-journal", &st, 0), 0);
	for (size_t at = 0; at < (size_t)st.st_size; at += 7) {
		char *bad = talloc_strdup(f->mem, text);

		bad[at] ^= 0x01;
		put(f, ".SYSTEM.deskheap-journal", bad);
		err = NULL;
		assert_int_equal(dh_journal_recover(f->mem, f->dfd, "SYSTEM",
						    "pre/", &done, &cmd, &err),
				 -1);
		assert_int_equal(err->code, DH_ERR_IO);
		assert_non_null(strstr(err->message,
				       "pre/.SYSTEM.deskheap-journal"));
		assert_non_null(strstr(err->message, "damaged"));
		assert_string_equal(get(f, "SYSTEM"), "old hive");
		assert_true(exists(f, ".t-hive"));
	}
}

/* The log changed after the hive's rename (Windows ran on the new clean
 * hive and wrote its log): what is there is Windows', so the journal is
 * dropped and nothing renamed. */
static void test_recover_overtaken(void **state)
{
	struct fx *f = *state;
	struct dh_journal *j = make(f, false);
	struct dh_error *err = NULL;
	char *done = NULL, *cmd = NULL;

	assert_int_equal(dh_journal_write(f->mem, f->dfd, "SYSTEM", "", j,
					  &err), 0);
	assert_int_equal(renameat(f->dfd, ".t-hive", f->dfd, "SYSTEM"), 0);
	put(f, "SYSTEM.LOG1", "windows wrote this");
	assert_int_equal(dh_journal_recover(f->mem, f->dfd, "SYSTEM", "",
					    &done, &cmd, &err), 0);
	assert_non_null(strstr(done, "changed since"));
	assert_null(cmd); /* not completed: nothing for a caller to skip */
	assert_string_equal(get(f, "SYSTEM"), "new hive");
	assert_string_equal(get(f, "SYSTEM.LOG1"), "windows wrote this");
	assert_false(exists(f, ".t-log1"));
	assert_false(exists(f, ".SYSTEM.deskheap-journal"));
}

/* The directory copied mid-way (new inodes, same contents: a backup of
 * the volume, say): the journal still matches it, and is completed. */
static void test_recover_in_a_copy(void **state)
{
	struct fx *f = *state;
	struct dh_journal *j = make(f, false);
	struct dh_error *err = NULL;
	char *done = NULL, *cmd = NULL, copy[80];
	int dfd = f->dfd;

	assert_int_equal(dh_journal_write(f->mem, f->dfd, "SYSTEM", "", j,
					  &err), 0);
	assert_int_equal(renameat(f->dfd, ".t-hive", f->dfd, "SYSTEM"), 0);
	snprintf(copy, sizeof copy, "%s-copy", f->dir);
	assert_int_equal(system(talloc_asprintf(f->mem, "cp -r '%s' '%s'",
						f->dir, copy)), 0);
	f->dfd = open(copy, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(f->dfd >= 0);
	assert_int_equal(dh_journal_recover(f->mem, f->dfd, "SYSTEM", "",
					    &done, &cmd, &err), 0);
	assert_non_null(strstr(done, "completed"));
	assert_new(f, false);
	close(f->dfd);
	f->dfd = dfd;
	assert_int_equal(system(talloc_asprintf(f->mem, "rm -rf '%s'", copy)),
			 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(test_apply),
		T(test_recover_after_each_rename),
		T(test_recover_none),
		T(test_recover_damaged),
		T(test_recover_overtaken),
		T(test_recover_in_a_copy),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
