/*
 * Tests of the hive's lock (lock.c): it excludes, refuses what is not a
 * regular file (the same refusals as a reader's open), follows a rename
 * made while it waited, and removes what a killed run left. Support:
 * txnfx.h.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <regex.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "backupfind.h"
#include "error.h"
#include "fixtures.h"
#include "lock.h"
#include "txn.h"
#include "txnfx.h"

/* ------------------------------------------------------------------ */
/* dh_lock_hive                                                       */

static void test_lock_excludes(void **state)
{
	struct fixture *f = *state;
	struct dh_locked *l = NULL;
	struct dh_error *err = NULL;
	struct stat st;
	int other;

	write_file(f->hive, OLD, 0644);
	assert_int_equal(lock_path(f->mem, f->hive, &l, &err), 0);
	assert_string_equal(l->path, f->hive);
	assert_true(l->path != f->hive); /* a copy */
	assert_string_equal(l->name, "SYSTEM");
	assert_true(l->name != base_of(f->hive));
	assert_int_equal(fstat(l->dirfd, &st), 0); /* its own, still open */
	assert_true(S_ISDIR(st.st_mode));
	assert_true(st.st_ino == ino_of(f->dir));
	other = open(f->hive, O_RDONLY | O_CLOEXEC);
	assert_true(other >= 0);
	assert_int_equal(flock(other, LOCK_EX | LOCK_NB), -1);
	assert_int_equal(errno, EWOULDBLOCK);
	talloc_free(l);
	assert_int_equal(flock(other, LOCK_EX | LOCK_NB), 0);
	close(other);
}

static void test_lock_refuses_directory(void **state)
{
	struct fixture *f = *state;
	struct dh_locked *l = NULL;
	struct dh_error *err = NULL;

	assert_int_equal(lock_path(f->mem, f->dir, &l, &err), -1);
	assert_null(l);
	assert_int_equal(err->code, DH_ERR_ARGUMENT);
	assert_non_null(strstr(err->message, f->dir));
	assert_non_null(strstr(err->message, "is a directory, not a hive file"));
}

/* A FIFO where the hive should be is refused at once: opening it to read
 * would wait for a writer forever. */
static void test_lock_refuses_fifo(void **state)
{
	struct fixture *f = *state;
	struct dh_locked *l = NULL;
	struct dh_error *err = NULL;

	assert_int_equal(mkfifo(f->hive, 0600), 0);
	alarm(10); /* a hang fails the test instead of stalling the suite */
	assert_int_equal(lock_path(f->mem, f->hive, &l, &err), -1);
	alarm(0);
	assert_null(l);
	assert_int_equal(err->code, DH_ERR_ARGUMENT);
	assert_non_null(strstr(err->message, f->hive));
	assert_non_null(strstr(err->message, "is a FIFO"));
}

static void test_lock_refuses_symlink(void **state)
{
	struct fixture *f = *state;
	char *link = talloc_asprintf(f->mem, "%s/link", f->dir);
	struct dh_locked *l = NULL;
	struct dh_error *err = NULL;

	write_file(f->hive, OLD, 0644);
	assert_int_equal(symlink(f->hive, link), 0);
	assert_int_equal(lock_path(f->mem, link, &l, &err), -1);
	assert_null(l);
	/* As when a reader opens it: the same refusal has the same code. */
	assert_int_equal(err->code, DH_ERR_ARGUMENT);
	assert_non_null(strstr(err->message, link));
	assert_non_null(strstr(err->message, "symbolic link"));
}

static void test_lock_missing(void **state)
{
	struct fixture *f = *state;
	struct dh_locked *l = NULL;
	struct dh_error *err = NULL;

	assert_int_equal(lock_path(f->mem, f->hive, &l, &err), -1);
	assert_int_equal(err->code, DH_ERR_IO);
	assert_non_null(strstr(err->message, f->hive));
	assert_non_null(strstr(err->message, strerror(ENOENT)));
}

/* A symbolic link named like the hive, leading out of its directory (an
 * untrusted image can hold one): refused, nothing made, the file it
 * points to neither locked nor changed. */
static void test_lock_refuses_hive_symlink(void **state)
{
	struct fixture *f = *state;
	char *out = talloc_asprintf(f->mem, "%s/outside", f->dir);
	char *target = talloc_asprintf(f->mem, "%s/SYSTEM", out);
	struct dh_locked *l = NULL;
	struct dh_error *err = NULL;
	int fd;

	assert_int_equal(mkdir(out, 0700), 0);
	write_file(target, OLD, 0600);
	assert_int_equal(symlink(target, f->hive), 0);
	assert_int_equal(lock_path(f->mem, f->hive, &l, &err), -1);
	assert_null(l);
	assert_int_equal(err->code, DH_ERR_ARGUMENT);
	assert_non_null(strstr(err->message, f->hive));
	assert_non_null(strstr(err->message, "symbolic link"));
	err = NULL;
	assert_int_equal(commit(f, NEW, NULL, false, NULL, NULL, &err), -1);
	assert_non_null(strstr(err->message, "symbolic link"));
	fd = open(target, O_RDONLY | O_CLOEXEC);
	assert_int_equal(flock(fd, LOCK_EX | LOCK_NB), 0);
	close(fd);
	assert_string_equal(read_file(f->mem, target), OLD);
	assert_int_equal(count_names(f->dir, ".deskheap-"), 0);
	assert_int_equal(count_names(out, ".deskheap-"), 0);
}

/* Once locked, the hive's leftover temporary files (a killed run's) go,
 * and only those: a run finding nothing to change would never remove a
 * retired log's empty file left after the hive's rename. */
static void test_lock_removes_leftovers(void **state)
{
	static const char *const kept[] = {
		".SYSTEM.deskheap-tmp-abc",             /* not six */
		".SYSTEM.deskheap-tmp-abcdefg",         /* not six */
		".SYSTEM2.deskheap-tmp-abcdef",         /* another hive's */
		".SYSTEM.LOG3.deskheap-tmp-abcdef",     /* not a log's */
		"SYSTEM.deskheap-tmp-abcdef",           /* not hidden */
	};
	struct fixture *f = *state;
	char *dir = talloc_asprintf(f->mem, "%s/.SYSTEM.deskheap-tmp-dirdir",
				    f->dir);
	struct dh_locked *l = NULL;
	struct dh_error *err = NULL;
	size_t i;

	write_file(f->hive, OLD, 0600);
	MAKE_FILES(f, kept);
	write_file(talloc_asprintf(f->mem, "%s/.SYSTEM.deskheap-tmp-aB3xY9",
				   f->dir), "", 0600);
	/* A log's, as an older deskheap's restore made them. */
	write_file(talloc_asprintf(f->mem, "%s/.SYSTEM.log1.deskheap-tmp-"
				   "Qw3rty", f->dir), "", 0600);
	assert_int_equal(mkdir(dir, 0700), 0);
	assert_int_equal(lock_path(f->mem, f->hive, &l, &err), 0);
	assert_int_equal(count_names(f->dir, "deskheap-tmp-"), 6);
	assert_int_equal(count_names(f->dir, "aB3xY9"), 0);
	assert_int_equal(count_names(f->dir, "Qw3rty"), 0);
	for (i = 0; i < sizeof kept / sizeof *kept; i++)
		assert_string_equal(read_file(f->mem, talloc_asprintf(f->mem,
				    "%s/%s", f->dir, kept[i])), "x\n");
	talloc_free(l);
}

/* Whether /proc/locks shows a process blocked on a lock of inode ino. */
static bool lock_waiter(ino_t ino)
{
	char line[256], needle[64];
	bool found = false;
	FILE *fp = fopen("/proc/locks", "re");

	if (fp == NULL)
		return false;
	snprintf(needle, sizeof needle, ":%lu ", (unsigned long)ino);
	while (!found && fgets(line, sizeof line, fp) != NULL)
		found = strstr(line, "->") != NULL &&
			strstr(line, needle) != NULL;
	fclose(fp);
	return found;
}

/* The child holding the lock: tell the parent, wait until it blocks on
 * the lock, rename a new file over the path, exit (releasing the lock).
 * Exit status 0: the parent was seen blocked on the old inode. */
static void lock_holder(struct fixture *f, int ready)
{
	char hive[4096], next[4096];
	struct stat st;
	int fd, i, seen = 0;

	snprintf(hive, sizeof hive, "%s", f->hive);
	snprintf(next, sizeof next, "%s/next", f->dir);
	child_release(f);
	fd = open(hive, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || flock(fd, LOCK_EX) != 0 || fstat(fd, &st) != 0)
		_exit(2);
	if (write(ready, "L", 1) != 1)
		_exit(2);
	for (i = 0; i < 1000 && !seen; i++) {
		seen = lock_waiter(st.st_ino);
		if (!seen)
			usleep(10000);
	}
	fd = open(next, O_WRONLY | O_CREAT | O_EXCL, 0644);
	if (fd < 0 || write(fd, NEW, strlen(NEW)) < 0 || close(fd) != 0 ||
	    rename(next, hive) != 0)
		_exit(2);
	_exit(seen ? 0 : 3);
}

static void test_lock_follows_rename(void **state)
{
	struct fixture *f = *state;
	struct dh_locked *l = NULL;
	struct dh_error *err = NULL;
	struct stat st;
	int p[2], status, other;
	pid_t pid;
	char c;

	write_file(f->hive, OLD, 0644);
	assert_int_equal(pipe(p), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(p[0]);
		lock_holder(f, p[1]);
	}
	close(p[1]);
	assert_int_equal(read(p[0], &c, 1), 1);
	close(p[0]);
	/* Blocks on the old inode until the child has renamed and exited. */
	assert_int_equal(lock_path(f->mem, f->hive, &l, &err), 0);
	assert_int_equal(fstat(l->fd, &st), 0);
	assert_true(st.st_ino == ino_of(f->hive));
	assert_string_equal(read_fd(f->mem, l->fd), NEW);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	/* And it holds the lock on the new inode. */
	other = open(f->hive, O_RDONLY | O_CLOEXEC);
	assert_int_equal(flock(other, LOCK_EX | LOCK_NB), -1);
	close(other);
	talloc_free(l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(test_lock_excludes),
		T(test_lock_refuses_directory),
		T(test_lock_refuses_fifo),
		T(test_lock_refuses_symlink),
		T(test_lock_missing),
		T(test_lock_refuses_hive_symlink),
		T(test_lock_removes_leftovers),
		T(test_lock_follows_rename),
#undef T
	};

	return cmocka_run_group_tests_name("lock", tests, NULL, NULL);
}
