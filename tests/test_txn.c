/*
 * Tests of the commit engine: the lock (lock.c), the transaction (txn.c)
 * with its metadata (metadata.c), backup sets (backup.c, backupdir.c) and
 * finding them (backupfind.c), and that every failure leaves the original
 * byte-identical with no temporary file and no backup behind. Plain files
 * stand in for hives: the test writes some bytes into the new hive as the
 * pipeline would, and reads them back as its verify step does.
 *
 * Each test works in a fresh mkdtemp() directory under /tmp, removed
 * afterwards. Permission tests act as "nobody" when run as root (root
 * bypasses permissions), as the current user otherwise.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
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
#include "lock.h"
#include "txn.h"
#include "error.h"
#include "fixtures.h"

#define NOBODY_UID 65534
#define NOBODY_GID 65534

static const char OLD[] = "old hive contents\n";
static const char NEW[] = "new hive contents, longer than the old\n";

/* A log for commit() to replace, as the pipeline hands it over. */
struct companion {
	int fd;
	const char *path;
	const char *suffix;
	const char *name;
};

struct fixture {
	TALLOC_CTX *mem;
	char *dir;      /* fresh per test, under /tmp */
	char *hive;     /* dir/SYSTEM */
	char *shm;      /* a second directory on /dev/shm, when made */
	const struct companion *comp; /* commit(): logs replaced too */
	size_t n_comp;
	const int *contents;    /* commit(): their new bytes, or NULL: empty */
	bool create_dir;        /* commit(): backup_dir_create */
};

/* ------------------------------------------------------------------ */
/* Helpers                                                            */

static int rm_entry(const char *path, const struct stat *st, int flag,
		    struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	return flag == FTW_DP ? rmdir(path) : unlink(path);
}

static void rm_tree(const char *dir)
{
	if (dir != NULL)
		nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static int setup(void **state)
{
	struct fixture *f;
	char tmpl[] = "/tmp/deskheap-commit-XXXXXX";

	f = talloc_zero(NULL, struct fixture);
	if (f == NULL || mkdtemp(tmpl) == NULL)
		return -1;
	f->mem = talloc_new(f);
	f->dir = talloc_strdup(f, tmpl);
	f->hive = talloc_asprintf(f, "%s/SYSTEM", tmpl);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	rm_tree(f->dir);
	rm_tree(f->shm);
	talloc_free(f);
	return 0;
}

static void write_file(const char *path, const char *data, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, strlen(data)), (ssize_t)strlen(data));
	assert_int_equal(fchmod(fd, mode), 0);
	assert_int_equal(close(fd), 0);
}

#define MAKE_FILES(f, names) make_files(f, names, sizeof names / sizeof *names)

static void make_files(struct fixture *f, const char *const *names, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		write_file(talloc_asprintf(f->mem, "%s/%s", f->dir, names[i]),
			   "x\n", 0600);
}

/* Whole contents of path, NUL-terminated, on mem. */
static char *read_file(TALLOC_CTX *mem, const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	char *buf;
	ssize_t n;

	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &st), 0);
	buf = talloc_array(mem, char, st.st_size + 1);
	n = pread(fd, buf, st.st_size + 1, 0);
	assert_int_equal(n, st.st_size);
	buf[n] = '\0';
	close(fd);
	return buf;
}

static char *read_fd(TALLOC_CTX *mem, int fd)
{
	char *buf = talloc_array(mem, char, 4096);
	ssize_t n = pread(fd, buf, 4095, 0);

	assert_true(n >= 0);
	buf[n] = '\0';
	return buf;
}

static const char *base_of(const char *path)
{
	const char *s = strrchr(path, '/');

	return s ? s + 1 : path;
}

/* Lock path the way a caller does: its directory opened, the hive named
 * in it. The descriptor is closed at once: the lock keeps its own. */
static int lock_path(TALLOC_CTX *mem, const char *path, struct dh_locked **l,
		     struct dh_error **err)
{
	const char *name = base_of(path);
	char *dir = name == path ? talloc_strdup(mem, ".") :
		    talloc_strndup(mem, path, name - path);
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), ret;

	if (dfd < 0)
		return dh_error_set(mem, err, DH_ERR_IO, "test: cannot open %s",
				    dir);
	ret = dh_lock_hive(mem, dfd, name, path, l, err);
	close(dfd);
	talloc_free(dir);
	return ret;
}

static ino_t ino_of(const char *path)
{
	struct stat st;

	assert_int_equal(lstat(path, &st), 0);
	return st.st_ino;
}

/* The uid/gid the tests give files: nobody's when root (so keeping the
 * owner is a real change from root's), our own otherwise. */
static uid_t test_uid(void)
{
	return geteuid() == 0 ? NOBODY_UID : geteuid();
}

static gid_t test_gid(void)
{
	return geteuid() == 0 ? NOBODY_GID : getegid();
}

/* The state after a failed commit: original bytes and inode, no temporary
 * file, no backup. */
static void assert_untouched(struct fixture *f, ino_t ino, const char *dir)
{
	assert_string_equal(read_file(f->mem, f->hive), OLD);
	assert_true(ino_of(f->hive) == ino);
	assert_int_equal(count_names(f->dir, ".deskheap-tmp-"), 0);
	assert_int_equal(count_names(dir ? dir : f->dir, ".bak"), 0);
}

/* ------------------------------------------------------------------ */
/* Callbacks                                                          */

struct cb {
	const char *data;
	const char *intrude_at; /* while writing, another file goes there */
	const char *intrude_keep; /* ...the old one kept under this name */
	bool fail_write;
	bool nothing;           /* write, then find nothing to replace */
	bool fail_verify;
	int verified;
	bool path_elsewhere;    /* the path names no file: not checked */
	const char *tmp_dir;    /* where to count temporary files, or NULL */
	int tmp_seen;           /* how many there were, while verifying */
};

/* Another program, ignoring the lock, renames a new file holding
 * "intruder\n" over path; the old file stays as keep, or with keep NULL,
 * is gone. */
static void intrude(const char *path, const char *keep)
{
	char *tmp = talloc_asprintf(NULL, "%s.intruder", path);

	if (keep != NULL)
		assert_int_equal(link(path, keep), 0);
	write_file(tmp, "intruder\n", 0600);
	assert_int_equal(rename(tmp, path), 0);
	talloc_free(tmp);
}

static int cb_write(void *arg, int fd, TALLOC_CTX *mem, struct dh_error **err)
{
	struct cb *cb = arg;
	size_t len = strlen(cb->data);

	if (cb->intrude_at != NULL)
		intrude(cb->intrude_at, cb->intrude_keep);
	if (cb->fail_write) {
		/* Half written, as a real failure would leave it. */
		if (write(fd, cb->data, len / 2) < 0)
			return -1;
		return dh_error_set(mem, err, DH_ERR_NOT_HIVE,
					 "test write failure");
	}
	if (write(fd, cb->data, len) != (ssize_t)len)
		return dh_error_set(mem, err, DH_ERR_IO, "short write");
	return cb->nothing ? 1 : 0;
}

static int cb_verify(void *arg, int fd, const char *path, TALLOC_CTX *mem,
		     struct dh_error **err)
{
	struct cb *cb = arg;
	char buf[256];
	ssize_t n = pread(fd, buf, sizeof buf - 1, 0);

	cb->verified++;
	if (cb->tmp_dir != NULL)
		cb->tmp_seen = count_names(cb->tmp_dir, ".deskheap-tmp-");
	if (strstr(path, ".deskheap-tmp-") == NULL ||
	    (!cb->path_elsewhere && access(path, F_OK) != 0))
		return dh_error_set(mem, err, DH_ERR_VERIFY, "bad path");
	if (n < 0 || (size_t)n != strlen(cb->data) ||
	    memcmp(buf, cb->data, n) != 0)
		return dh_error_set(mem, err, DH_ERR_VERIFY, "mismatch");
	if (cb->fail_verify)
		return dh_error_set(mem, err, DH_ERR_VALUE,
					 "test verify failure");
	return 0;
}

/* What the pipeline does with the locked hive l: begin, write into the new
 * hive (cb_write), replace f's logs, flush, read back (cb_verify), commit.
 * 1 when the writer found nothing to replace: the transaction is then
 * abandoned. */
static int run_txn(struct fixture *f, struct dh_locked *l, struct cb *cb,
		   const char *backup_dir, bool no_backup, char **backup,
		   struct dh_error **err)
{
	struct dh_txn_options o = {
		.backup_dir = backup_dir, .no_backup = no_backup,
		.backup_dir_create = f->create_dir, .command = "set",
	};
	struct dh_txn_result *res = NULL;
	struct dh_txn *t = NULL;
	int rc;

	if (backup != NULL)
		*backup = NULL;
	if (dh_txn_begin(f->mem, l, &o, &t, err) != 0)
		return -1;
	rc = cb_write(cb, dh_txn_hive_fd(t), f->mem, err);
	for (size_t i = 0; rc == 0 && i < f->n_comp; i++)
		rc = dh_txn_replace_log(t, f->comp[i].fd, f->comp[i].path,
					f->comp[i].name, f->comp[i].suffix,
					f->contents ? f->contents[i] : -1, err);
	if (rc == 0)
		rc = dh_txn_flush(t, err);
	if (rc == 0)
		rc = cb_verify(cb, dh_txn_hive_fd(t), dh_txn_hive_path(t),
			       f->mem, err);
	if (rc != 0) {
		dh_txn_abort(t, err);
		return rc;
	}
	rc = dh_txn_commit(t, NULL, f->mem, &res, err);
	talloc_free(t);
	if (backup != NULL && res != NULL)
		*backup = res->backup;
	return rc;
}

/* Lock f->hive and replace it with data, with f's logs. */
static int commit(struct fixture *f, const char *data, const char *backup_dir,
		  bool no_backup, struct cb *cbp, char **backup,
		  struct dh_error **err)
{
	struct cb local = { .data = data };
	struct dh_locked *l = NULL;
	int ret;

	if (lock_path(f->mem, f->hive, &l, err) != 0)
		return -1;
	ret = run_txn(f, l, cbp ? cbp : &local, backup_dir, no_backup, backup,
		      err);
	talloc_free(l);
	return ret;
}

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

/* A forked child ends with _exit() and never returns to cmocka: it frees
 * the fixture first so that valgrind, which follows it, finds no leak. It
 * keeps what it needs in copies on the stack. */
static void child_release(struct fixture *f)
{
	talloc_free(f);
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
/* Backup names                                                       */

static void stamp_at(time_t t, char *buf, size_t size)
{
	struct tm tm;

	assert_non_null(gmtime_r(&t, &tm));
	assert_true(strftime(buf, size, "%Y%m%dT%H%M%SZ", &tm) > 0);
}

/* How many seconds of decoys: a commit starting now names its backup
 * within them. */
#define DECOYS 4

/* dir/SYSTEM.deskheap-0001-<stamp of t>.bak<suffix>: the name the first
 * backup made at t gets, plus suffix. */
static char *decoy_path(struct fixture *f, const char *dir, time_t t,
			const char *suffix)
{
	char stamp[32];

	stamp_at(t, stamp, sizeof stamp);
	return talloc_asprintf(f->mem, "%s/SYSTEM.deskheap-0001-%s.bak%s", dir,
			       stamp, suffix);
}

/* Decoys for this second and the next few; with check, assert instead
 * that they are still there, unchanged. */
static void decoys(struct fixture *f, const char *dir, time_t now,
		   const char *suffix, bool check)
{
	int i;

	for (i = 0; i < DECOYS; i++) {
		char *decoy = decoy_path(f, dir, now + i, suffix);

		if (check)
			assert_string_equal(read_file(f->mem, decoy),
					    "decoy\n");
		else
			write_file(decoy, "decoy\n", 0600);
	}
}

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
	char tmpl[] = "/dev/shm/deskheap-commit-XXXXXX";
	char *backup = NULL;
	struct stat dst, sst, bst;
	ino_t old_ino;

	if (stat("/dev/shm", &sst) != 0 || stat(f->dir, &dst) != 0 ||
	    sst.st_dev == dst.st_dev || mkdtemp(tmpl) == NULL) {
		print_message("no /dev/shm on another filesystem than %s: "
			      "copy fallback not tested\n", f->dir);
		skip();
	}
	f->shm = talloc_strdup(f, tmpl);
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
static int find(struct fixture *f, const char *backup_dir,
		struct dh_backup_set **set, struct dh_error **err);

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

#define N_LOGS 2

/* Two logs beside the hive, open read-only as its companions: SYSTEM.LOG1,
 * small, mode 0640 and a user xattr (xerr: why it could not be set);
 * SYSTEM.LOG2, several copy chunks long, mode 0600. Both owned as
 * test_uid(). A talloc object: freeing it closes the descriptors. */
struct logs {
	char *path[N_LOGS];
	char *data[N_LOGS];
	struct companion comp[N_LOGS];
	int xerr;
};

static int logs_close(struct logs *lg)
{
	int i;

	for (i = 0; i < N_LOGS; i++)
		if (lg->comp[i].fd >= 0)
			close(lg->comp[i].fd);
	return 0;
}

static char *long_data(TALLOC_CTX *mem, size_t len)
{
	char *data = talloc_array(mem, char, len + 1);
	size_t i;

	for (i = 0; i < len; i++)
		data[i] = 'a' + i % 23;
	data[len] = '\0';
	return data;
}

/* Make the logs and hand them to commit() through f. */
static struct logs *make_logs(struct fixture *f)
{
	static const char *const suffix[N_LOGS] = { ".LOG1", ".LOG2" };
	static const mode_t mode[N_LOGS] = { 0640, 0600 };
	struct logs *lg = talloc_zero(f->mem, struct logs);
	int i;

	lg->data[0] = talloc_strdup(lg, "log one\n");
	lg->data[1] = long_data(lg, 3 * 64 * 1024 + 17);
	for (i = 0; i < N_LOGS; i++) {
		lg->comp[i].fd = -1;
		lg->path[i] = talloc_asprintf(lg, "%s%s", f->hive, suffix[i]);
		write_file(lg->path[i], lg->data[i], mode[i]);
		assert_int_equal(chown(lg->path[i], test_uid(), test_gid()),
				 0);
	}
	talloc_set_destructor(lg, logs_close);
	for (i = 0; i < N_LOGS; i++) {
		lg->comp[i].fd = open(lg->path[i], O_RDONLY | O_CLOEXEC);
		assert_true(lg->comp[i].fd >= 0);
		lg->comp[i].path = lg->path[i];
		lg->comp[i].suffix = suffix[i];
		lg->comp[i].name = base_of(lg->path[i]);
	}
	if (setxattr(lg->path[0], "user.deskheap-test", "log", 3, 0) != 0)
		lg->xerr = errno;
	f->comp = lg->comp;
	f->n_comp = N_LOGS;
	return lg;
}

/* Give companion i descriptor fd instead. */
static void swap_log_fd(struct logs *lg, int i, int fd)
{
	assert_true(fd >= 0);
	close(lg->comp[i].fd);
	lg->comp[i].fd = fd;
}

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

/* A backup directory on another filesystem than f->dir (links refused
 * there), as f->shm; false (and a message) where there is none. */
static bool other_fs(struct fixture *f)
{
	char tmpl[] = "/dev/shm/deskheap-commit-XXXXXX";
	struct stat sst, dst;

	if (stat("/dev/shm", &sst) != 0 || stat(f->dir, &dst) != 0 ||
	    sst.st_dev == dst.st_dev || mkdtemp(tmpl) == NULL) {
		print_message("no /dev/shm on another filesystem than %s: "
			      "backup copies not tested\n", f->dir);
		return false;
	}
	f->shm = talloc_strdup(f, tmpl);
	return true;
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

/* The logs' inodes as the commit will see them: through their fds. */
static void stat_logs(const struct logs *lg, struct stat was[N_LOGS])
{
	int i;

	for (i = 0; i < N_LOGS; i++)
		assert_int_equal(fstat(lg->comp[i].fd, &was[i]), 0);
}

static bool same_inode(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino;
}

/* Log i's backup beside backup is the inode the log was (was), holding
 * its data, with nlink names in all (1: no live log shares it). */
static void assert_log_linked(struct fixture *f, const struct logs *lg,
			      int i, const char *backup,
			      const struct stat *was, nlink_t nlink)
{
	char *b = talloc_asprintf(f->mem, "%s%s", backup, lg->comp[i].suffix);
	struct stat bs;

	assert_int_equal(lstat(b, &bs), 0);
	assert_true(same_inode(&bs, was));
	assert_int_equal(bs.st_nlink, nlink);
	assert_string_equal(read_file(f->mem, b), lg->data[i]);
}

/* The live log i is a new, empty file with the old one's mode and owner. */
static void assert_log_emptied(const struct logs *lg, int i,
			       const struct stat *was)
{
	struct stat ls;

	assert_int_equal(lstat(lg->path[i], &ls), 0);
	assert_true(S_ISREG(ls.st_mode));
	assert_false(same_inode(&ls, was));
	assert_int_equal(ls.st_size, 0);
	assert_int_equal(ls.st_nlink, 1);
	assert_int_equal(ls.st_mode & 07777, was->st_mode & 07777);
	assert_int_equal(ls.st_uid, was->st_uid);
	assert_int_equal(ls.st_gid, was->st_gid);
}

/* The logs are what they were: same inodes, no other name (no backup
 * link left), same data. */
static void assert_logs_untouched(struct fixture *f, const struct logs *lg,
				  const struct stat was[N_LOGS])
{
	struct stat ls;
	int i;

	for (i = 0; i < N_LOGS; i++) {
		assert_int_equal(lstat(lg->path[i], &ls), 0);
		assert_true(same_inode(&ls, &was[i]));
		assert_int_equal(ls.st_nlink, 1);
		assert_string_equal(read_file(f->mem, lg->path[i]),
				    lg->data[i]);
	}
}

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
	char tmpl[] = "/dev/shm/deskheap-commit-XXXXXX";
	struct stat was[N_LOGS], sst, dst, bs;
	char *backup = NULL, *b;
	struct logs *lg;
	int i;

	if (stat("/dev/shm", &sst) != 0 || stat(f->dir, &dst) != 0 ||
	    sst.st_dev == dst.st_dev || mkdtemp(tmpl) == NULL) {
		print_message("no /dev/shm on another filesystem than %s: "
			      "retiring with copies not tested\n", f->dir);
		skip();
	}
	f->shm = talloc_strdup(f, tmpl);
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

/* Lock f->hive and find its newest backup in backup_dir. */
static int find(struct fixture *f, const char *backup_dir,
		struct dh_backup_set **set, struct dh_error **err)
{
	struct dh_locked *l = NULL;
	int ret;

	assert_int_equal(lock_path(f->mem, f->hive, &l, err), 0);
	ret = dh_backup_find(f->mem, l, backup_dir, false, set, err);
	talloc_free(l);
	return ret;
}

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
		T(test_lock_excludes),
		T(test_lock_refuses_directory),
		T(test_lock_refuses_fifo),
		T(test_lock_refuses_symlink),
		T(test_lock_missing),
		T(test_lock_refuses_hive_symlink),
		T(test_lock_follows_rename),
		T(test_lock_removes_leftovers),
		T(test_replace_success),
		T(test_replace_relative_path),
		T(test_replace_through_dirfd),
		T(test_replace_no_backup),
		T(test_replace_drops_inherited_acl),
		T(test_backup_numbered),
		T(test_backup_never_overwrites),
		T(test_backup_dir_same_fs),
		T(test_backup_copy_fallback),
		T(test_backup_dir_missing),
		T(test_backup_dir_planted),
		T(test_backup_dir_create),
		T(test_backup_dir_create_refused),
		T(test_backup_dir_unwritable),
		T(test_hive_dir_unwritable),
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
		T(test_find_backup_newest),
		T(test_find_backup_after_commits),
		T(test_find_backup_none),
#undef T
	};

	return cmocka_run_group_tests_name("txn", tests, NULL, NULL);
}
