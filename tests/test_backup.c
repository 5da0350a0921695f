/*
 * Tests of backups (backup.c, backupdir.c, backupfind.c): numbered names,
 * backup directories (made, refused when planted, unwritable), copies
 * where links are refused, and finding the newest set. Support: txnfx.h.
 * Permission tests act as "nobody" when run as root (root bypasses
 * permissions), as the current user otherwise.
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
/* Backup names                                                       */

/* Backups are numbered: one more than the highest of the hive's in the
 * directory, whatever the clock says (two in one second, or a clock set
 * back between them, still come out in order). */
static void test_backup_numbered(void **state)
{
	struct fixture *f = *state;
	struct dh_error *err = NULL;
	char *b1 = NULL, *b2 = NULL, *b3 = NULL;
	regex_t re;

	assert_int_equal(regcomp(&re, "^SYSTEM\\.deskheap-[0-9]{4}-[0-9]{8}T"
				 "[0-9]{6}Z\\.bak$", REG_EXTENDED | REG_NOSUB),
			 0);
	write_file(f->hive, OLD, 0600);
	assert_int_equal(commit(f, NEW, NULL, false, NULL, &b1, &err), 0);
	assert_int_equal(commit(f, "third\n", NULL, false, NULL, &b2, &err),
			 0);
	assert_int_equal(regexec(&re, base_of(b1), 0, NULL, 0), 0);
	assert_int_equal(regexec(&re, base_of(b2), 0, NULL, 0), 0);
	regfree(&re);
	assert_int_equal(strncmp(base_of(b1), "SYSTEM.deskheap-0001-", 21), 0);
	assert_int_equal(strncmp(base_of(b2), "SYSTEM.deskheap-0002-", 21), 0);
	assert_string_equal(read_file(f->mem, b1), OLD);
	assert_string_equal(read_file(f->mem, b2), NEW);
	/* A backup dated far in the future does not hold the numbers back,
	 * nor does an unnumbered one of an older deskheap. */
	write_file(talloc_asprintf(f->mem, "%s/SYSTEM.deskheap-0041-"
				   "20990101T000000Z.bak", f->dir), "x", 0600);
	write_file(talloc_asprintf(f->mem, "%s/SYSTEM.deskheap-"
				   "21000101T000000Z-99.bak", f->dir), "x", 0600);
	assert_int_equal(commit(f, "fourth\n", NULL, false, NULL, &b3, &err),
			 0);
	assert_int_equal(strncmp(base_of(b3), "SYSTEM.deskheap-0042-", 21), 0);
	assert_string_equal(read_file(f->mem, b3), "third\n");
	assert_int_equal(count_names(f->dir, ".bak"), 5);
}

/* Files named like backups of other hives, or like backups but not quite,
 * take no number and are left alone. */
static void test_backup_never_overwrites(void **state)
{
	struct fixture *f = *state;
	struct dh_error *err = NULL;
	char *backup = NULL;
	static const char *const others[] = {
		"SYSTEM2.deskheap-0001-20240101T000000Z.bak",
		"SYSTEM.deskheap-001-20240101T000000Z.bak",
		"SYSTEM.deskheap-0001-20240101T000000Z.bak.LOG3",
	};

	write_file(f->hive, OLD, 0600);
	for (size_t i = 0; i < sizeof others / sizeof *others; i++)
		write_file(talloc_asprintf(f->mem, "%s/%s", f->dir, others[i]),
			   "decoy\n", 0600);
	assert_int_equal(commit(f, NEW, NULL, false, NULL, &backup, &err), 0);
	assert_int_equal(strncmp(base_of(backup), "SYSTEM.deskheap-0001-", 21),
			 0);
	assert_string_equal(read_file(f->mem, backup), OLD);
	for (size_t i = 0; i < sizeof others / sizeof *others; i++)
		assert_string_equal(read_file(f->mem, talloc_asprintf(
			f->mem, "%s/%s", f->dir, others[i])), "decoy\n");
}

/* ------------------------------------------------------------------ */
/* Backup directories                                                 */

static void test_backup_dir_same_fs(void **state)
{
	struct fixture *f = *state;
	struct dh_error *err = NULL;
	char *bdir = talloc_asprintf(f->mem, "%s/backups/", f->dir);
	char *backup = NULL;
	ino_t old_ino;

	write_file(f->hive, OLD, 0600);
	old_ino = ino_of(f->hive);
	assert_int_equal(mkdir(bdir, 0700), 0);
	assert_int_equal(commit(f, NEW, bdir, false, NULL, &backup, &err), 0);
	assert_int_equal(strncmp(backup, bdir, strlen(bdir)), 0);
	assert_null(strstr(backup, "//"));
	assert_true(ino_of(backup) == old_ino);
	assert_string_equal(read_file(f->mem, backup), OLD);
	assert_int_equal(count_names(f->dir, ".bak"), 0);
	assert_int_equal(count_names(bdir, ".bak"), 1);
	assert_int_equal(count_names(f->dir, ".deskheap-tmp-"), 0);
}

static void test_backup_copy_fallback(void **state)
{
	struct fixture *f = *state;
	struct dh_error *err = NULL;
	char *backup = NULL;
	struct stat dst, bst;
	ino_t old_ino;

	if (!other_fs(f))
		skip();
	assert_int_equal(stat(f->dir, &dst), 0);
	write_file(f->hive, OLD, 0640);
	assert_int_equal(chown(f->hive, test_uid(), test_gid()), 0);
	old_ino = ino_of(f->hive);
	assert_int_equal(commit(f, NEW, f->shm, false, NULL, &backup, &err),
			 0);
	assert_int_equal(strncmp(backup, f->shm, strlen(f->shm)), 0);
	assert_string_equal(read_file(f->mem, backup), OLD);
	assert_int_equal(lstat(backup, &bst), 0);
	assert_true(S_ISREG(bst.st_mode));
	assert_true(bst.st_ino != old_ino || bst.st_dev != dst.st_dev);
	assert_int_equal(bst.st_mode & 07777 & ~0640, 0); /* not more open */
	assert_int_equal(bst.st_uid, test_uid());
	assert_int_equal(bst.st_gid, test_gid());
	assert_string_equal(read_file(f->mem, f->hive), NEW);
	assert_int_equal(count_names(f->dir, ".deskheap-tmp-"), 0);
}

static void test_backup_dir_missing(void **state)
{
	struct fixture *f = *state;
	struct dh_error *err = NULL;
	char *bdir = talloc_asprintf(f->mem, "%s/nope", f->dir);
	char *backup = NULL;
	ino_t ino;

	write_file(f->hive, OLD, 0600);
	ino = ino_of(f->hive);
	assert_int_equal(commit(f, NEW, bdir, false, NULL, &backup, &err), -1);
	assert_null(backup);
	assert_int_equal(err->code, DH_ERR_IO);
	assert_non_null(strstr(err->message, bdir));
	assert_non_null(strstr(err->message, strerror(ENOENT)));
	assert_non_null(strstr(err->message, "not changed"));
	assert_untouched(f, ino, NULL);
}

/* backup_dir_create: a missing directory is made, private; one that
 * exists is used as it is. */
static void test_backup_dir_create(void **state)
{
	struct fixture *f = *state;
	struct dh_error *err = NULL;
	char *bdir = talloc_asprintf(f->mem, "%s/backups", f->dir);
	char *backup = NULL;
	mode_t mask = umask(022);
	struct stat st;
	ino_t old_ino;

	write_file(f->hive, OLD, 0600);
	old_ino = ino_of(f->hive);
	f->create_dir = true;
	assert_int_equal(commit(f, NEW, bdir, false, NULL, &backup, &err), 0);
	umask(mask);
	assert_int_equal(lstat(bdir, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0700);
	assert_int_equal(strncmp(backup, bdir, strlen(bdir)), 0);
	assert_true(ino_of(backup) == old_ino);
	assert_int_equal(commit(f, "third\n", bdir, false, NULL, NULL, &err),
			 0);
	assert_int_equal(count_names(bdir, ".bak"), 2);
	assert_int_equal(count_names(f->dir, ".bak"), 0);
}

/* A commit with backup_dir_create and backup directory bdir fails with
 * DH_ERR_IO naming bdir and why, and leaves the hive as it was. */
static void assert_create_refused(struct fixture *f, const char *bdir,
				  struct cb *cb, const char *why)
{
	struct dh_error *err = NULL;
	char *backup = NULL;
	ino_t ino = ino_of(f->hive);

	f->create_dir = true;
	assert_int_equal(commit(f, NEW, bdir, false, cb, &backup, &err), -1);
	assert_null(backup);
	assert_non_null(strstr(err->message, why));
	if (cb == NULL) {
		/* The transaction's own failure says so; the caller's write
		 * or verify step failing is the caller's to report. */
		assert_non_null(strstr(err->message, "not changed"));
		assert_int_equal(err->code, DH_ERR_IO);
		assert_non_null(strstr(err->message, bdir));
	}
	assert_untouched(f, ino, NULL);
}

/* A file where the directory should be; a missing parent (no tree is
 * grown); and a directory made by a commit that then failed: removed. */
static void test_backup_dir_create_refused(void **state)
{
	struct fixture *f = *state;
	char *file = talloc_asprintf(f->mem, "%s/backups", f->dir);
	char *deep = talloc_asprintf(f->mem, "%s/no/backups", f->dir);
	char *made = talloc_asprintf(f->mem, "%s/made", f->dir);
	struct cb cb = { .data = NEW, .fail_verify = true };
	struct stat st;

	write_file(f->hive, OLD, 0600);
	write_file(file, "not a directory\n", 0600);
	assert_create_refused(f, file, NULL, strerror(ENOTDIR));
	assert_string_equal(read_file(f->mem, file), "not a directory\n");
	assert_create_refused(f, deep, NULL, strerror(ENOENT));
	assert_int_equal(lstat(deep, &st), -1);
	assert_int_equal(lstat(made, &st), -1);
	assert_create_refused(f, made, &cb, "test verify failure");
	assert_int_equal(lstat(made, &st), -1);
	assert_int_equal(errno, ENOENT);
}

/* A backup directory someone else could write to, or a link to one, is
 * refused (DH_ERR_ARGUMENT, naming it and why), whether it was given or
 * found existing where backup_dir_create would make it; nothing is put in
 * it, and restore will not read from it either. */

static void assert_dir_refused(struct fixture *f, const char *bdir,
			       const char *why)
{
	struct dh_backup_set *set = NULL;
	struct dh_error *err = NULL;
	char *backup = NULL;
	ino_t ino = ino_of(f->hive);

	for (int create = 0; create < 2; create++) {
		f->create_dir = create;
		assert_int_equal(commit(f, NEW, bdir, false, NULL, &backup,
					&err), -1);
		assert_null(backup);
		assert_int_equal(err->code, DH_ERR_ARGUMENT);
		assert_non_null(strstr(err->message, bdir));
		assert_non_null(strstr(err->message, why));
		assert_non_null(strstr(err->message, "not changed"));
		assert_untouched(f, ino, NULL);
		assert_int_equal(count_names(bdir, ".bak"), 1); /* planted */
	}
	assert_int_equal(find(f, bdir, &set, &err), -1);
	assert_null(set);
	assert_int_equal(err->code, DH_ERR_ARGUMENT);
	assert_non_null(strstr(err->message, why));
}

static void test_backup_dir_planted(void **state)
{
	struct fixture *f = *state;
	char *real = talloc_asprintf(f->mem, "%s/real", f->dir);
	char *link = talloc_asprintf(f->mem, "%s/link", f->dir);
	char *slash = talloc_asprintf(f->mem, "%s/link/", f->dir);
	char *planted = talloc_asprintf(f->mem, "%s/real/SYSTEM.deskheap-0001-"
					"20240101T000000Z.bak", f->dir);

	write_file(f->hive, OLD, 0600);
	assert_int_equal(mkdir(real, 0700), 0);
	write_file(planted, "theirs\n", 0600);
	assert_int_equal(symlink(real, link), 0);
	assert_dir_refused(f, link, "symbolic link");
	assert_dir_refused(f, slash, "symbolic link");
	assert_int_equal(chmod(real, 0770), 0);
	assert_dir_refused(f, real, "others can write to it");
	assert_int_equal(chmod(real, 0702), 0);
	assert_dir_refused(f, real, "others can write to it");
	assert_int_equal(chmod(real, 0700), 0);
	if (geteuid() != 0) {
		print_message("not root: the foreign-owned directory case is "
			      "not tested\n");
		return;
	}
	assert_int_equal(chown(real, test_uid(), test_gid()), 0);
	assert_dir_refused(f, real, "belongs to another user");
}

/* ------------------------------------------------------------------ */
/* Permission failures, as an unprivileged user                       */

struct as_user {
	const char *hive;
	const char *backup_dir;
	const char *expect[3];  /* substrings the message must contain */
};

/* In the child: lock and commit, and exit 0 when it fails as expected. */
static int as_user_child(const struct as_user *u)
{
	TALLOC_CTX *mem = talloc_new(NULL);
	struct fixture cf = { .mem = mem };
	struct cb cb = { .data = NEW };
	struct dh_locked *l = NULL;
	struct dh_error *err = NULL;
	int ret = 0, i;

	if (lock_path(mem, u->hive, &l, &err) != 0) {
		ret = 10;
		goto out;
	}
	if (run_txn(&cf, l, &cb, u->backup_dir, false, NULL, &err) != -1) {
		ret = 11;
		goto out;
	}
	if (err->code != DH_ERR_IO)
		ret = 12;
	for (i = 0; i < 3 && ret == 0; i++)
		if (u->expect[i] && strstr(err->message, u->expect[i]) == NULL)
			ret = 13 + i;
out:
	if (ret != 0)
		fprintf(stderr, "child: %d: %s\n", ret,
			err ? err->message : "(no error)");
	talloc_free(mem);
	return ret;
}

/* Run as_user_child as nobody (as root) or as ourselves. */
static void run_as_user(struct fixture *f, const struct as_user *u)
{
	char hive[4096], bdir[4096], expect[3][4096];
	struct as_user copy = { .hive = hive };
	int status, i;
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		snprintf(hive, sizeof hive, "%s", u->hive);
		if (u->backup_dir != NULL) {
			snprintf(bdir, sizeof bdir, "%s", u->backup_dir);
			copy.backup_dir = bdir;
		}
		for (i = 0; i < 3; i++)
			if (u->expect[i] != NULL) {
				snprintf(expect[i], sizeof expect[i], "%s",
					 u->expect[i]);
				copy.expect[i] = expect[i];
			}
		child_release(f);
		if (geteuid() == 0 &&
		    (setgroups(0, NULL) != 0 || setgid(NOBODY_GID) != 0 ||
		     setuid(NOBODY_UID) != 0))
			_exit(9);
		_exit(as_user_child(&copy));
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

static void test_backup_dir_unwritable(void **state)
{
	struct fixture *f = *state;
	char *bdir = talloc_asprintf(f->mem, "%s/ro", f->dir);
	struct as_user u = {
		.hive = f->hive, .backup_dir = bdir,
		.expect = { bdir, strerror(EACCES), "run as root" },
	};
	ino_t ino;

	/* The hive's directory writable by the user, the backup dir not. */
	assert_int_equal(chmod(f->dir, 0755), 0);
	assert_int_equal(chown(f->dir, test_uid(), test_gid()), 0);
	assert_int_equal(mkdir(bdir, 0555), 0);
	assert_int_equal(chown(bdir, test_uid(), test_gid()), 0);
	write_file(f->hive, OLD, 0600);
	assert_int_equal(chown(f->hive, test_uid(), test_gid()), 0);
	ino = ino_of(f->hive);
	run_as_user(f, &u);
	assert_untouched(f, ino, bdir);
}

static void test_hive_dir_unwritable(void **state)
{
	struct fixture *f = *state;
	char *dir = talloc_asprintf(f->mem, "%s/ro", f->dir);
	char *hive = talloc_asprintf(f->mem, "%s/SYSTEM", dir);
	struct as_user u = {
		.hive = hive,
		.expect = { dir, strerror(EACCES), "run as root" },
	};

	assert_int_equal(chmod(f->dir, 0755), 0);
	assert_int_equal(mkdir(dir, 0755), 0);
	write_file(hive, OLD, 0644);
	assert_int_equal(chmod(dir, 0555), 0);
	run_as_user(f, &u);
	assert_string_equal(read_file(f->mem, hive), OLD);
	assert_int_equal(count_names(dir, ".deskheap-tmp-"), 0);
	assert_int_equal(count_names(dir, ".bak"), 0);
	assert_int_equal(chmod(dir, 0755), 0); /* for the cleanup, as user */
}

/* ------------------------------------------------------------------ */
/* dh_backup_find                                                     */

/* The highest number, though not the latest time: a rescue system's
 * clock may be hours off (Windows keeps the hardware clock in local time). */
#define NEWEST "SYSTEM.deskheap-0010-20240301T110000Z.bak"

/* Backups of several numbers and stamps, in no order, with logs and names
 * that only look like logs; unnumbered ones of an older deskheap. */
static const char *const BACKUPS[] = {
	"SYSTEM.deskheap-0009-20240301T130000Z.bak",
	"SYSTEM.deskheap-20240101T000000Z.bak",
	NEWEST,
	"SYSTEM.deskheap-20991231T235959Z-12.bak",
	"SYSTEM.deskheap-0002-20990301T120000Z.bak",
	"SYSTEM.deskheap-0001-20240301T120000Z.bak",
	NEWEST ".LOG1",
	NEWEST ".log2",
	NEWEST ".LOG3",
	NEWEST ".LOG1.old",
	NEWEST "X.LOG1",
	"SYSTEM.deskheap-0009-20240301T130000Z.bak.LOG2",
};

/* Names that only look like backups, all with higher numbers. */
static const char *const LOOKALIKES[] = {
	"SYSTEM.deskheap-20990101T000000Z-1.bak",
	"SYSTEM.deskheap-20990101T000000Z-02.bak",
	"SYSTEM.deskheap-20990101T000000Z-10000000000.bak",
	"SYSTEM.deskheap-0011-20990101T000000Z.bak.tmp",
	"SYSTEM.deskheap-0011-2099010T1000000Z.bak",
	"SYSTEM.deskheap-0011-20990101T000000.bak",
	"SYSTEM.deskheap-0011-20990101T000000Z.BAK",
	"SYSTEM.deskheap-011-20990101T000000Z.bak",
	"SYSTEM.deskheap-00011-20990101T000000Z.bak",
	"SYSTEM.deskheap-0000-20990101T000000Z.bak",
	"SYSTEM.deskheap-1234567890-20990101T000000Z.bak",
	"SYSTEM.deskheap-0011-20990101T000000Z-2.bak",
	"SYSTEM.deskheap-0011.bak",
	"system.deskheap-0011-20990101T000000Z.bak",
	"SYSTEM2.deskheap-0011-20990101T000000Z.bak",
	"XSYSTEM.deskheap-0011-20990101T000000Z.bak",
	".SYSTEM.deskheap-tmp-abcdef",
};

static void test_find_backup_newest(void **state)
{
	struct fixture *f = *state;
	char *at = talloc_asprintf(f->mem, "%s/", f->dir);
	struct dh_backup_set *set = NULL;
	struct dh_error *err = NULL;
	int dfd = open(f->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	write_file(f->hive, OLD, 0600);
	MAKE_FILES(f, BACKUPS);
	MAKE_FILES(f, LOOKALIKES);
	/* Named like newer backups or a log, but a link or a directory. */
	assert_int_equal(symlinkat(NEWEST, dfd, "SYSTEM.deskheap-0012-"
				   "20990101T000000Z.bak"), 0);
	assert_int_equal(symlinkat(NEWEST ".LOG1", dfd, NEWEST ".LOG"), 0);
	assert_int_equal(mkdirat(dfd, "SYSTEM.deskheap-0013-20980101T000000Z.bak",
				 0700), 0);
	close(dfd);

	assert_int_equal(find(f, NULL, &set, &err), 0);
	assert_string_equal(set->dir, at);
	assert_string_equal(set->hive, NEWEST);
	assert_int_equal(set->n_logs, 2);
	assert_string_equal(set->logs[0], NEWEST ".LOG1");
	assert_string_equal(set->logs[1], NEWEST ".log2");
	assert_ptr_equal(talloc_parent(set), f->mem);
}

/* What two commits made in a backup directory: the second set. */
static void test_find_backup_after_commits(void **state)
{
	struct fixture *f = *state;
	char *bdir = talloc_asprintf(f->mem, "%s/backups", f->dir);
	struct dh_backup_set *set = NULL;
	struct dh_error *err = NULL;
	char *b1 = NULL, *b2 = NULL;

	write_file(f->hive, OLD, 0600);
	assert_int_equal(mkdir(bdir, 0700), 0);
	make_logs(f);
	assert_int_equal(commit(f, NEW, bdir, false, NULL, &b1, &err), 0);
	make_logs(f); /* the first commit emptied them */
	assert_int_equal(commit(f, "third\n", bdir, false, NULL, &b2, &err),
			 0);
	assert_int_equal(count_names(bdir, ".bak.LOG"), 4);
	assert_int_equal(find(f, bdir, &set, &err), 0);
	assert_string_equal(talloc_asprintf(f->mem, "%s%s", set->dir,
					    set->hive), b2);
	assert_int_equal(set->n_logs, 2);
	assert_string_equal(set->logs[0],
			    talloc_asprintf(f->mem, "%s.LOG1", set->hive));
	assert_string_equal(set->logs[1],
			    talloc_asprintf(f->mem, "%s.LOG2", set->hive));
	assert_string_equal(read_file(f->mem, b2), NEW);
}

static void test_find_backup_none(void **state)
{
	struct fixture *f = *state;
	char *bdir = talloc_asprintf(f->mem, "%s/backups", f->dir);
	struct dh_backup_set *set = NULL;
	struct dh_error *err = NULL;

	write_file(f->hive, OLD, 0600);
	MAKE_FILES(f, LOOKALIKES);
	assert_int_equal(symlink(f->hive, talloc_asprintf(f->mem,
		"%s/SYSTEM.deskheap-20240101T000000Z.bak", f->dir)), 0);
	assert_int_equal(find(f, NULL, &set, &err), -1);
	assert_null(set);
	assert_int_equal(err->code, DH_ERR_ARGUMENT);
	assert_non_null(strstr(err->message, "no deskheap backup of"));
	assert_non_null(strstr(err->message, f->hive));
	assert_non_null(strstr(err->message, "--backup-dir"));

	assert_int_equal(find(f, bdir, &set, &err), -1);
	assert_int_equal(err->code, DH_ERR_IO);
	assert_non_null(strstr(err->message, bdir));
	assert_non_null(strstr(err->message, strerror(ENOENT)));

	assert_int_equal(mkdir(bdir, 0700), 0);
	assert_int_equal(find(f, bdir, &set, &err), -1);
	assert_int_equal(err->code, DH_ERR_ARGUMENT);
	assert_non_null(strstr(err->message, bdir));
	assert_null(set);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(test_backup_numbered),
		T(test_backup_never_overwrites),
		T(test_backup_dir_same_fs),
		T(test_backup_copy_fallback),
		T(test_backup_dir_missing),
		T(test_backup_dir_create),
		T(test_backup_dir_create_refused),
		T(test_backup_dir_planted),
		T(test_backup_dir_unwritable),
		T(test_hive_dir_unwritable),
		T(test_find_backup_newest),
		T(test_find_backup_after_commits),
		T(test_find_backup_none),
#undef T
	};

	return cmocka_run_group_tests_name("backup", tests, NULL, NULL);
}
