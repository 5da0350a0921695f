/*
 * Tests of the transaction (txn.c, with metadata.c and the backup set it
 * makes): success, the caller's failures, the logs replaced with the hive,
 * and that every failure leaves the original byte-identical with no
 * temporary file and no backup behind. Plain files stand in for hives: the
 * test writes some bytes into the new hive as the pipeline would, and reads
 * them back as its verify step does (txnfx.h).
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
/* A transaction: success                                             */

static void test_replace_success(void **state)
{
	struct fixture *f = *state;
	struct dh_error *err = NULL;
	struct cb cb = { .data = NEW };
	char *backup = NULL, value[16];
	struct stat st, bst;
	ino_t old_ino;
	int fd, xerr = 0;
	ssize_t n;

	write_file(f->hive, OLD, 0640);
	assert_int_equal(chown(f->hive, test_uid(), test_gid()), 0);
	fd = open(f->hive, O_RDONLY | O_CLOEXEC);
	if (fsetxattr(fd, "user.deskheap-test", "hello", 5, 0) != 0)
		xerr = errno;
	close(fd);
	old_ino = ino_of(f->hive);

	assert_int_equal(commit(f, NEW, NULL, false, &cb, &backup, &err), 0);
	assert_null(err);
	assert_int_equal(cb.verified, 1);
	assert_string_equal(read_file(f->mem, f->hive), NEW);
	assert_int_equal(lstat(f->hive, &st), 0);
	assert_true(st.st_ino != old_ino);
	assert_int_equal(st.st_mode & 07777, 0640);
	assert_int_equal(st.st_uid, test_uid());
	assert_int_equal(st.st_gid, test_gid());

	/* The backup is the original inode itself, under a new name. */
	assert_non_null(backup);
	assert_int_equal(strncmp(backup, f->dir, strlen(f->dir)), 0);
	assert_int_equal(lstat(backup, &bst), 0);
	assert_true(bst.st_ino == old_ino);
	assert_int_equal(bst.st_nlink, 1);
	assert_string_equal(read_file(f->mem, backup), OLD);
	assert_int_equal(count_names(f->dir, ".bak"), 1);
	assert_int_equal(count_names(f->dir, ".deskheap-tmp-"), 0);

	if (xerr == ENOTSUP)
		skip(); /* the filesystem has no user xattrs: nothing to copy */
	assert_int_equal(xerr, 0);
	n = getxattr(f->hive, "user.deskheap-test", value, sizeof value);
	assert_int_equal(n, 5);
	assert_memory_equal(value, "hello", 5);
}

static void test_replace_relative_path(void **state)
{
	struct fixture *f = *state;
	struct dh_error *err = NULL;
	char *backup = NULL, *abs = f->hive;
	int cwd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	write_file(f->hive, OLD, 0600);
	assert_true(cwd >= 0);
	assert_int_equal(chdir(f->dir), 0);
	f->hive = "SYSTEM";
	assert_int_equal(commit(f, NEW, NULL, false, NULL, &backup, &err), 0);
	f->hive = abs;
	assert_int_equal(fchdir(cwd), 0);
	close(cwd);
	assert_non_null(backup);
	assert_int_equal(strncmp(backup, "SYSTEM.deskheap-", 16), 0);
	assert_string_equal(read_file(f->mem, f->hive), NEW);
	assert_int_equal(count_names(f->dir, ".bak"), 1);
	assert_int_equal(count_names(f->dir, ".deskheap-tmp-"), 0);
}

/* The path is for messages only. With one that names another directory,
 * holding a file of the hive's name, the temporary file, the backup and
 * the rename all happen in the directory of the descriptor, and the
 * other directory is left alone. */
static void test_replace_through_dirfd(void **state)
{
	struct fixture *f = *state;
	char *other = talloc_asprintf(f->mem, "%s/other", f->dir);
	char *decoy = talloc_asprintf(f->mem, "%s/SYSTEM", other);
	struct cb cb = { .data = NEW, .path_elsewhere = true,
			 .tmp_dir = f->dir };
	struct dh_locked *l = NULL;
	struct dh_error *err = NULL;
	char *backup = NULL, *real;
	struct stat st;
	ino_t old_ino;
	int dfd;

	write_file(f->hive, OLD, 0600);
	old_ino = ino_of(f->hive);
	assert_int_equal(mkdir(other, 0700), 0);
	write_file(decoy, "decoy\n", 0600);
	dfd = open(f->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(dfd >= 0);
	assert_int_equal(dh_lock_hive(f->mem, dfd, "SYSTEM", decoy, &l,
					&err), 0);
	close(dfd);
	assert_int_equal(fstat(l->fd, &st), 0);
	assert_true(st.st_ino == old_ino);
	assert_int_equal(run_txn(f, l, &cb, NULL, false, &backup, &err), 0);
	talloc_free(l);
	assert_int_equal(cb.verified, 1);
	assert_int_equal(cb.tmp_seen, 1);
	assert_string_equal(read_file(f->mem, f->hive), NEW);
	assert_int_equal(count_names(f->dir, ".deskheap-tmp-"), 0);
	assert_int_equal(count_names(f->dir, ".bak"), 1);
	/* Reported under the messages' path, made beside the real hive. */
	assert_int_equal(strncmp(backup, other, strlen(other)), 0);
	real = talloc_asprintf(f->mem, "%s/%s", f->dir, base_of(backup));
	assert_true(ino_of(real) == old_ino);
	assert_string_equal(read_file(f->mem, real), OLD);
	assert_string_equal(read_file(f->mem, decoy), "decoy\n");
	assert_int_equal(count_names(other, ".deskheap-"), 0);
}

static void test_replace_no_backup(void **state)
{
	struct fixture *f = *state;
	struct dh_error *err = NULL;
	char *backup = (char *)"untouched";

	write_file(f->hive, OLD, 0600);
	assert_int_equal(commit(f, NEW, NULL, true, NULL, &backup, &err), 0);
	assert_null(backup);
	assert_string_equal(read_file(f->mem, f->hive), NEW);
	assert_int_equal(count_names(f->dir, ".bak"), 0);
	assert_int_equal(count_names(f->dir, ".deskheap-tmp-"), 0);
}

/* A directory default ACL must not make the new hive readable by someone
 * the old one did not let read it. */
static void test_replace_drops_inherited_acl(void **state)
{
	struct fixture *f = *state;
	struct dh_error *err = NULL;
	char acl[4 + 5 * 8], buf[256];
	const struct { uint16_t tag, perm; uint32_t id; } e[] = {
		{ 0x01, 6, UINT32_MAX }, /* user::rw- */
		{ 0x02, 4, NOBODY_UID }, /* user:nobody:r-- */
		{ 0x04, 4, UINT32_MAX }, /* group::r-- */
		{ 0x10, 4, UINT32_MAX }, /* mask::r-- */
		{ 0x20, 0, UINT32_MAX }, /* other::--- */
	};
	uint32_t version = 2;
	size_t i;
	struct stat st;

	memcpy(acl, &version, 4);
	for (i = 0; i < 5; i++) {
		memcpy(acl + 4 + 8 * i, &e[i].tag, 2);
		memcpy(acl + 6 + 8 * i, &e[i].perm, 2);
		memcpy(acl + 8 + 8 * i, &e[i].id, 4);
	}
	write_file(f->hive, OLD, 0640);
	if (setxattr(f->dir, "system.posix_acl_default", acl, sizeof acl, 0)
	    != 0) {
		print_message("no POSIX ACLs on %s (%s): skipped\n", f->dir,
			      strerror(errno));
		skip();
	}
	assert_int_equal(commit(f, NEW, NULL, false, NULL, NULL, &err), 0);
	assert_int_equal(getxattr(f->hive, "system.posix_acl_access", buf,
				  sizeof buf), -1);
	assert_int_equal(errno, ENODATA);
	assert_int_equal(stat(f->hive, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0640);
}

/* ------------------------------------------------------------------ */
/* Failures of the callbacks and of the original                     */

/* The caller's write or verify step fails: its error as it is, nothing
 * made. */
static void assert_step_fails(struct fixture *f, struct cb *cb,
			      enum dh_errcode code, const char *why,
			      int verified)
{
	struct dh_error *err = NULL;
	char *backup = NULL;
	ino_t ino;

	write_file(f->hive, OLD, 0600);
	ino = ino_of(f->hive);
	assert_int_equal(commit(f, NEW, NULL, false, cb, &backup, &err), -1);
	assert_null(backup);
	assert_int_equal(err->code, code);
	assert_non_null(strstr(err->message, why));
	assert_int_equal(cb->verified, verified);
	assert_untouched(f, ino, NULL);
}

static void test_write_fails(void **state)
{
	struct cb cb = { .data = NEW, .fail_write = true };

	assert_step_fails(*state, &cb, DH_ERR_NOT_HIVE, "test write failure", 0);
}

static void test_verify_fails(void **state)
{
	struct cb cb = { .data = NEW, .fail_verify = true };

	assert_step_fails(*state, &cb, DH_ERR_VALUE, "test verify failure", 1);
}

/* A program that ignores the lock renames another file over the hive
 * after we locked it: the commit must refuse, and remove the backup it had
 * already linked to the locked inode. */
static void test_replaced_after_lock(void **state)
{
	struct fixture *f = *state;
	char *other = talloc_asprintf(f->mem, "%s/other", f->dir);
	struct cb cb = { .data = NEW };
	struct dh_locked *l = NULL;
	struct dh_error *err = NULL;
	char *backup = NULL;

	write_file(f->hive, OLD, 0600);
	assert_int_equal(lock_path(f->mem, f->hive, &l, &err), 0);
	write_file(other, "intruder\n", 0600);
	assert_int_equal(rename(other, f->hive), 0);
	assert_int_equal(run_txn(f, l, &cb, NULL, false, &backup, &err), -1);
	assert_null(backup);
	assert_int_equal(err->code, DH_ERR_IO);
	assert_non_null(strstr(err->message, "replaced"));
	assert_string_equal(read_file(f->mem, f->hive), "intruder\n");
	assert_int_equal(count_names(f->dir, ".deskheap-tmp-"), 0);
	assert_int_equal(count_names(f->dir, ".bak"), 0);
	talloc_free(l);
}

/* A transaction needs a locked hive and its options. */
static void test_incomplete_request(void **state)
{
	struct fixture *f = *state;
	struct dh_txn_options o = { .command = "set" };
	struct dh_locked *l = NULL;
	struct dh_txn *t = NULL;
	struct dh_error *err = NULL;
	ino_t ino;

	write_file(f->hive, OLD, 0600);
	ino = ino_of(f->hive);
	assert_int_equal(lock_path(f->mem, f->hive, &l, &err), 0);
	assert_int_equal(dh_txn_begin(f->mem, l, NULL, &t, &err), -1);
	assert_int_equal(err->code, DH_ERR_ARGUMENT);
	assert_null(t);
	err = NULL;
	assert_int_equal(dh_txn_begin(f->mem, NULL, &o, &t, &err), -1);
	assert_int_equal(err->code, DH_ERR_ARGUMENT);
	talloc_free(l);
	assert_untouched(f, ino, NULL);
}

/* ------------------------------------------------------------------ */
/* Companions                                                         */

/* A file with the name LOG2's copy would get: refused (never replaced),
 * and the hive's backup and LOG1's copy, made already, removed. */
static void test_companion_target_exists(void **state)
{
	struct fixture *f = *state;
	struct dh_error *err = NULL;
	char *backup = NULL;
	time_t now = time(NULL);
	ino_t ino;

	write_file(f->hive, OLD, 0600);
	ino = ino_of(f->hive);
	decoys(f, f->dir, now, ".LOG2", false);
	make_logs(f);
	assert_int_equal(commit(f, NEW, NULL, false, NULL, &backup, &err), -1);
	assert_null(backup);
	assert_int_equal(err->code, DH_ERR_IO);
	assert_non_null(strstr(err->message, ".bak.LOG2"));
	assert_non_null(strstr(err->message, "exists already"));
	assert_non_null(strstr(err->message, "move it away"));
	assert_non_null(strstr(err->message, "not changed"));
	assert_string_equal(read_file(f->mem, f->hive), OLD);
	assert_true(ino_of(f->hive) == ino);
	assert_int_equal(count_names(f->dir, ".deskheap-tmp-"), 0);
	assert_int_equal(count_names(f->dir, ".bak"), DECOYS); /* theirs */
	assert_int_equal(count_names(f->dir, ".bak.LOG2"), DECOYS);
	decoys(f, f->dir, now, ".LOG2", true);
}

/* A commit with the logs fails with code, its message naming the log and
 * why (and, from the commit itself, that nothing was changed), and leaves
 * everything as it was. */
static void assert_refused(struct fixture *f, const struct logs *lg,
			   enum dh_errcode code, const char *why)
{
	struct dh_error *err = NULL;
	char *backup = NULL;
	ino_t ino = ino_of(f->hive);
	int i;

	assert_int_equal(commit(f, NEW, f->shm, false, NULL, &backup, &err),
			 -1);
	assert_null(backup);
	assert_int_equal(err->code, code);
	assert_non_null(strstr(err->message, why));
	assert_untouched(f, ino, f->shm);
	for (i = 0; i < N_LOGS; i++)
		assert_string_equal(read_file(f->mem, lg->path[i]),
				    lg->data[i]);
	if (lg->comp[1].path != NULL)
		assert_non_null(strstr(err->message, lg->path[1]));
}

/* Refused before anything is made. */
static void test_companion_unreadable(void **state)
{
	struct fixture *f = *state;
	struct logs *lg;

	write_file(f->hive, OLD, 0600);
	lg = make_logs(f);
	swap_log_fd(lg, 1, open(f->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC));
	assert_refused(f, lg, DH_ERR_IO, "not a regular file");
	swap_log_fd(lg, 1, open(lg->path[1], O_WRONLY | O_CLOEXEC));
	assert_refused(f, lg, DH_ERR_ARGUMENT, "not open for reading");
}

/* LOG2 cannot be read while its backup is copied (to another filesystem),
 * once the hive's backup and LOG1's exist: all removed. */
static void test_companion_read_fails(void **state)
{
	struct fixture *f = *state;
	struct logs *lg;

	if (!other_fs(f))
		skip();
	write_file(f->hive, OLD, 0600);
	lg = make_logs(f);
	swap_log_fd(lg, 1, open(lg->path[1], O_PATH | O_CLOEXEC));
	assert_refused(f, lg, DH_ERR_IO, strerror(EBADF));
}

static void test_companion_bad_request(void **state)
{
	struct fixture *f = *state;
	struct logs *lg;

	write_file(f->hive, OLD, 0600);
	lg = make_logs(f);
	lg->comp[1].suffix = "/../LOG2";
	assert_refused(f, lg, DH_ERR_ARGUMENT, "suffix without '/'");
	lg->comp[1].suffix = "";
	assert_refused(f, lg, DH_ERR_ARGUMENT, "suffix without '/'");
	lg->comp[1].suffix = ".LOG2";
	lg->comp[1].path = NULL;
	assert_refused(f, lg, DH_ERR_ARGUMENT, "(no path)");
}

/* ------------------------------------------------------------------ */
/* Retiring the companions                                            */

/* The writer finds nothing to change once it has written: 1, no error,
 * nothing made, the logs to retire untouched. */
static void test_nothing_to_write(void **state)
{
	struct fixture *f = *state;
	struct dh_error *err = NULL;
	struct cb cb = { .data = NEW, .nothing = true };
	struct stat was[N_LOGS];
	char *backup = NULL;
	struct logs *lg;
	ino_t ino;

	write_file(f->hive, OLD, 0600);
	ino = ino_of(f->hive);
	lg = make_logs(f);
	stat_logs(lg, was);
	assert_int_equal(commit(f, NEW, NULL, false, &cb, &backup, &err), 1);
	assert_null(err);
	assert_null(backup);
	assert_int_equal(cb.verified, 0);
	assert_untouched(f, ino, NULL);
	assert_logs_untouched(f, lg, was);
}

static void test_retire_links(void **state)
{
	struct fixture *f = *state;
	struct dh_error *err = NULL;
	struct stat was[N_LOGS];
	char *backup = NULL, value[16];
	struct logs *lg;
	ino_t old_ino;
	ssize_t n;
	int i;

	write_file(f->hive, OLD, 0600);
	old_ino = ino_of(f->hive);
	lg = make_logs(f);
	stat_logs(lg, was);
	assert_int_equal(was[0].st_mode & 07777, 0640);
	assert_int_equal(commit(f, NEW, NULL, false, NULL, &backup, &err), 0);
	assert_null(err);
	assert_string_equal(read_file(f->mem, f->hive), NEW);
	assert_true(ino_of(backup) == old_ino);
	for (i = 0; i < N_LOGS; i++) {
		assert_log_linked(f, lg, i, backup, &was[i], 1);
		assert_log_emptied(lg, i, &was[i]);
	}
	assert_int_equal(count_names(f->dir, ".bak"), 3);
	assert_int_equal(count_names(f->dir, ".deskheap-tmp-"), 0);

	if (lg->xerr == ENOTSUP)
		skip(); /* the filesystem has no user xattrs: nothing to copy */
	assert_int_equal(lg->xerr, 0);
	n = getxattr(lg->path[0], "user.deskheap-test", value, sizeof value);
	assert_int_equal(n, 3);
	assert_memory_equal(value, "log", 3);
}

/* A backup directory on the same filesystem: still links. */
static void test_retire_backup_dir(void **state)
{
	struct fixture *f = *state;
	struct dh_error *err = NULL;
	char *bdir = talloc_asprintf(f->mem, "%s/backups", f->dir);
	struct stat was[N_LOGS];
	char *backup = NULL;
	struct logs *lg;
	int i;

	write_file(f->hive, OLD, 0600);
	assert_int_equal(mkdir(bdir, 0700), 0);
	lg = make_logs(f);
	stat_logs(lg, was);
	assert_int_equal(commit(f, NEW, bdir, false, NULL, &backup, &err), 0);
	assert_int_equal(strncmp(backup, bdir, strlen(bdir)), 0);
	for (i = 0; i < N_LOGS; i++) {
		assert_log_linked(f, lg, i, backup, &was[i], 1);
		assert_log_emptied(lg, i, &was[i]);
	}
	assert_int_equal(count_names(bdir, ".bak.LOG"), 2);
	assert_int_equal(count_names(f->dir, ".bak"), 0);
	assert_int_equal(count_names(f->dir, ".deskheap-tmp-"), 0);
	assert_int_equal(count_names(bdir, ".deskheap-tmp-"), 0);
}

/* A backup directory on another filesystem refuses links (EXDEV): the
 * backup logs are verified copies, and the live logs are emptied all the
 * same. */
static void test_retire_copy_fallback(void **state)
{
	struct fixture *f = *state;
	struct dh_error *err = NULL;
	struct stat was[N_LOGS], sst, bs;
	char *backup = NULL, *b;
	struct logs *lg;
	int i;

	if (!other_fs(f))
		skip();
	assert_int_equal(stat(f->shm, &sst), 0);
	write_file(f->hive, OLD, 0600);
	lg = make_logs(f);
	stat_logs(lg, was);
	assert_int_equal(commit(f, NEW, f->shm, false, NULL, &backup, &err),
			 0);
	assert_int_equal(strncmp(backup, f->shm, strlen(f->shm)), 0);
	for (i = 0; i < N_LOGS; i++) {
		b = talloc_asprintf(f->mem, "%s%s", backup,
				    lg->comp[i].suffix);
		assert_int_equal(lstat(b, &bs), 0);
		assert_true(S_ISREG(bs.st_mode));
		assert_true(bs.st_dev == sst.st_dev);
		assert_int_equal(bs.st_mode & 07777, was[i].st_mode & 07777);
		assert_int_equal(bs.st_uid, was[i].st_uid);
		assert_string_equal(read_file(f->mem, b), lg->data[i]);
		assert_log_emptied(lg, i, &was[i]);
	}
	assert_int_equal(count_names(f->dir, ".deskheap-tmp-"), 0);
	assert_int_equal(count_names(f->shm, ".deskheap-tmp-"), 0);
}

/* Nothing to retire them into: the logs stay as they are. */
/* Without a backup the logs are replaced all the same: the transaction
 * does what it is asked (the pipeline does not ask it to empty logs it
 * cannot keep). */
static void test_retire_no_backup(void **state)
{
	struct fixture *f = *state;
	struct dh_error *err = NULL;
	struct stat was[N_LOGS];
	char *backup = NULL;
	struct logs *lg;

	write_file(f->hive, OLD, 0600);
	lg = make_logs(f);
	stat_logs(lg, was);
	assert_int_equal(commit(f, NEW, NULL, true, NULL, &backup, &err), 0);
	assert_null(backup);
	assert_string_equal(read_file(f->mem, f->hive), NEW);
	for (int i = 0; i < N_LOGS; i++)
		assert_log_emptied(lg, i, &was[i]);
	assert_int_equal(count_names(f->dir, ".bak"), 0);
	assert_int_equal(count_names(f->dir, ".deskheap-tmp-"), 0);
}

/* Logs replaced by given bytes (as restore does), each read back and
 * given the live log's metadata. */
static void test_replace_with_contents(void **state)
{
	struct fixture *f = *state;
	struct dh_error *err = NULL;
	char *src = talloc_asprintf(f->mem, "%s/restored", f->dir);
	struct stat was[N_LOGS], st;
	int contents[N_LOGS];
	char *backup = NULL;
	struct logs *lg;

	write_file(f->hive, OLD, 0600);
	write_file(src, "restored log\n", 0600);
	lg = make_logs(f);
	stat_logs(lg, was);
	contents[0] = open(src, O_RDONLY | O_CLOEXEC);
	contents[1] = -1;
	f->contents = contents;
	assert_int_equal(commit(f, NEW, NULL, false, NULL, &backup, &err), 0);
	close(contents[0]);
	assert_string_equal(read_file(f->mem, lg->path[0]), "restored log\n");
	assert_int_equal(stat(lg->path[0], &st), 0);
	assert_int_equal(st.st_mode & 07777, 0640);
	assert_int_equal(st.st_uid, test_uid());
	assert_log_emptied(lg, 1, &was[1]);
	assert_log_linked(f, lg, 0, backup, &was[0], 1);
	assert_log_linked(f, lg, 1, backup, &was[1], 1);
}

/* Failures before the hive's rename: before the backup (the write), at
 * LOG2's backup (a file has its name; LOG1's link is made by then), and
 * at the rename itself (the hive replaced, its inode still linked
 * elsewhere: the backup set and the empty files all made by then). Each
 * time the logs and the hive are as they were, and nothing is left. */
static void test_retire_fails_before_rename(void **state)
{
	struct fixture *f = *state;
	char *moved = talloc_asprintf(f->mem, "%s/moved", f->dir);
	struct cb fail = { .data = NEW, .fail_write = true };
	struct cb replace = { .data = NEW, .intrude_at = f->hive,
			      .intrude_keep = moved };
	struct dh_error *err = NULL;
	struct stat was[N_LOGS];
	char *backup = NULL;
	time_t now = time(NULL);
	struct logs *lg;
	ino_t ino;
	int i;

	write_file(f->hive, OLD, 0600);
	ino = ino_of(f->hive);
	lg = make_logs(f);
	stat_logs(lg, was);
	assert_int_equal(commit(f, NEW, NULL, false, &fail, &backup, &err),
			 -1);
	assert_non_null(strstr(err->message, "test write failure"));
	assert_untouched(f, ino, NULL);
	assert_logs_untouched(f, lg, was);

	decoys(f, f->dir, now, ".LOG2", false);
	assert_int_equal(commit(f, NEW, NULL, false, NULL, &backup, &err), -1);
	assert_non_null(strstr(err->message, "exists already"));
	assert_non_null(strstr(err->message, "not changed"));
	assert_string_equal(read_file(f->mem, f->hive), OLD);
	assert_int_equal(count_names(f->dir, ".bak"), DECOYS);
	assert_int_equal(count_names(f->dir, ".deskheap-tmp-"), 0);
	assert_logs_untouched(f, lg, was);
	decoys(f, f->dir, now, ".LOG2", true);
	for (i = 0; i < DECOYS; i++)
		assert_int_equal(unlink(decoy_path(f, f->dir, now + i,
						   ".LOG2")), 0);

	assert_int_equal(commit(f, NEW, NULL, false, &replace, &backup, &err),
			 -1);
	assert_null(backup);
	assert_non_null(strstr(err->message, "replaced by another program"));
	assert_string_equal(read_file(f->mem, f->hive), "intruder\n");
	assert_true(ino_of(moved) == ino);
	assert_int_equal(count_names(f->dir, ".bak"), 0);
	assert_int_equal(count_names(f->dir, ".deskheap-tmp-"), 0);
	assert_logs_untouched(f, lg, was);
}

/* Another file renamed over LOG1 while the hive was being written (the
 * old LOG1 kept under another name, or gone): the set is no longer the
 * one read, so nothing is changed and the run says to run again. */
static void test_retire_log_replaced(void **state)
{
	struct fixture *f = *state;
	struct dh_error *err = NULL;
	struct stat was[N_LOGS];
	char *backup = NULL;
	struct logs *lg;
	struct cb cb = { .data = NEW };

	for (int keep = 0; keep < 2; keep++) {
		write_file(f->hive, OLD, 0600);
		lg = make_logs(f);
		stat_logs(lg, was);
		cb.intrude_at = lg->path[0];
		cb.intrude_keep = keep ? talloc_asprintf(f->mem, "%s/kept",
							 f->dir) : NULL;
		assert_int_equal(commit(f, NEW, NULL, false, &cb, &backup,
					&err), -1);
		assert_null(backup);
		assert_non_null(strstr(err->message, lg->path[0]));
		assert_non_null(strstr(err->message,
				       "replaced by another program"));
		assert_non_null(strstr(err->message, "not changed"));
		assert_string_equal(read_file(f->mem, f->hive), OLD);
		assert_string_equal(read_file(f->mem, lg->path[0]),
				    "intruder\n");
		assert_string_equal(read_file(f->mem, lg->path[1]),
				    lg->data[1]);
		assert_int_equal(count_names(f->dir, ".bak"), 0);
		assert_int_equal(count_names(f->dir, ".deskheap-"), 0);
	}
}

/* LOG1's rename fails after the hive's: the change is decided (its journal
 * is on disk), the error says so, and the next lock completes it. Needs a
 * failpoint build. */
static void test_retire_log_rename_fails(void **state)
{
	struct fixture *f = *state;
	struct dh_error *err = NULL;
	struct dh_locked *l = NULL;
	struct stat was[N_LOGS];
	char *backup = NULL;
	struct logs *lg;
	int ret;

#ifndef DH_FAILPOINTS
	print_message("not a failpoint build (configure --enable-failpoints): "
		      "a failed log rename not tested\n");
	skip();
#endif
	write_file(f->hive, OLD, 0600);
	lg = make_logs(f);
	stat_logs(lg, was);
	assert_int_equal(setenv("DESKHEAP_FAILPOINT", "log-rename:EIO@1", 1),
			 0);
	ret = commit(f, NEW, NULL, false, NULL, &backup, &err);
	unsetenv("DESKHEAP_FAILPOINT");
	assert_int_equal(ret, -1);
	assert_non_null(backup);
	assert_int_equal(err->code, DH_ERR_IO);
	assert_non_null(strstr(err->message, strerror(EIO)));
	assert_non_null(strstr(err->message, "recorded in the journal"));
	assert_non_null(strstr(err->message, "completes it"));
	/* A clean new hive goes first; then the logs do not matter. */
	assert_string_equal(read_file(f->mem, f->hive), NEW);
	assert_string_equal(read_file(f->mem, lg->path[0]), lg->data[0]);
	assert_int_equal(count_names(f->dir, ".deskheap-journal"), 1);

	assert_int_equal(lock_path(f->mem, f->hive, &l, &err), 0);
	assert_non_null(l->completed);
	assert_non_null(strstr(l->completed, "completed"));
	assert_int_equal(count_names(f->dir, ".deskheap-journal"), 0);
	assert_int_equal(count_names(f->dir, ".deskheap-tmp-"), 0);
	assert_string_equal(read_file(f->mem, f->hive), NEW);
	assert_log_emptied(lg, 0, &was[0]);
	assert_log_emptied(lg, 1, &was[1]);
	assert_log_linked(f, lg, 0, backup, &was[0], 1);
	assert_log_linked(f, lg, 1, backup, &was[1], 1);
	talloc_free(l);
}

/* Retiring needs each companion's name in the hive's directory; without
 * retiring none is needed. */
static void test_retire_needs_name(void **state)
{
	struct fixture *f = *state;
	struct logs *lg;

	write_file(f->hive, OLD, 0600);
	lg = make_logs(f);
	lg->comp[1].name = NULL;
	assert_refused(f, lg, DH_ERR_ARGUMENT, "its name in the hive's directory");
	lg->comp[1].name = "../SYSTEM.LOG2";
	assert_refused(f, lg, DH_ERR_ARGUMENT, "its name in the hive's directory");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(test_replace_success),
		T(test_replace_relative_path),
		T(test_replace_through_dirfd),
		T(test_replace_no_backup),
		T(test_replace_drops_inherited_acl),
		T(test_write_fails),
		T(test_verify_fails),
		T(test_replaced_after_lock),
		T(test_incomplete_request),
		T(test_companion_target_exists),
		T(test_companion_unreadable),
		T(test_companion_read_fails),
		T(test_companion_bad_request),
		T(test_nothing_to_write),
		T(test_retire_links),
		T(test_retire_backup_dir),
		T(test_retire_copy_fallback),
		T(test_retire_no_backup),
		T(test_replace_with_contents),
		T(test_retire_fails_before_rename),
		T(test_retire_log_replaced),
		T(test_retire_log_rename_fails),
		T(test_retire_needs_name),
#undef T
	};

	return cmocka_run_group_tests_name("txn", tests, NULL, NULL);
}
