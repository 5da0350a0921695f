/*
 * Support for the tests of the commit engine. See txnfx.h.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "error.h"
#include "fixtures.h"
#include "txn.h"
#include "txnfx.h"

const char OLD[] = "old hive contents\n";
const char NEW[] = "new hive contents, longer than the old\n";

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

int setup(void **state)
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

int teardown(void **state)
{
	struct fixture *f = *state;

	rm_tree(f->dir);
	rm_tree(f->shm);
	talloc_free(f);
	return 0;
}

void write_file(const char *path, const char *data, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, strlen(data)), (ssize_t)strlen(data));
	assert_int_equal(fchmod(fd, mode), 0);
	assert_int_equal(close(fd), 0);
}

void make_files(struct fixture *f, const char *const *names, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		write_file(talloc_asprintf(f->mem, "%s/%s", f->dir, names[i]),
			   "x\n", 0600);
}

/* Whole contents of path, NUL-terminated, on mem. */
char *read_file(TALLOC_CTX *mem, const char *path)
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

char *read_fd(TALLOC_CTX *mem, int fd)
{
	char *buf = talloc_array(mem, char, 4096);
	ssize_t n = pread(fd, buf, 4095, 0);

	assert_true(n >= 0);
	buf[n] = '\0';
	return buf;
}

const char *base_of(const char *path)
{
	const char *s = strrchr(path, '/');

	return s ? s + 1 : path;
}

/* Lock path the way a caller does: its directory opened, the hive named
 * in it. The descriptor is closed at once: the lock keeps its own. */
int lock_path(TALLOC_CTX *mem, const char *path, struct dh_locked **l,
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

ino_t ino_of(const char *path)
{
	struct stat st;

	assert_int_equal(lstat(path, &st), 0);
	return st.st_ino;
}

/* The uid/gid the tests give files: nobody's when root (so keeping the
 * owner is a real change from root's), our own otherwise. */
uid_t test_uid(void)
{
	return geteuid() == 0 ? NOBODY_UID : geteuid();
}

gid_t test_gid(void)
{
	return geteuid() == 0 ? NOBODY_GID : getegid();
}

/* The state after a failed commit: original bytes and inode, no temporary
 * file, no backup. */
void assert_untouched(struct fixture *f, ino_t ino, const char *dir)
{
	assert_string_equal(read_file(f->mem, f->hive), OLD);
	assert_true(ino_of(f->hive) == ino);
	assert_int_equal(count_names(f->dir, ".deskheap-tmp-"), 0);
	assert_int_equal(count_names(dir ? dir : f->dir, ".bak"), 0);
}

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

int cb_write(void *arg, int fd, TALLOC_CTX *mem, struct dh_error **err)
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

int cb_verify(void *arg, int fd, const char *path, TALLOC_CTX *mem,
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
int run_txn(struct fixture *f, struct dh_locked *l, struct cb *cb,
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
int commit(struct fixture *f, const char *data, const char *backup_dir,
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

/* A forked child ends with _exit() and never returns to cmocka: it frees
 * the fixture first so that valgrind, which follows it, finds no leak. It
 * keeps what it needs in copies on the stack. */
void child_release(struct fixture *f)
{
	talloc_free(f);
}

void stamp_at(time_t t, char *buf, size_t size)
{
	struct tm tm;

	assert_non_null(gmtime_r(&t, &tm));
	assert_true(strftime(buf, size, "%Y%m%dT%H%M%SZ", &tm) > 0);
}

/* dir/SYSTEM.deskheap-0001-<stamp of t>.bak<suffix>: the name the first
 * backup made at t gets, plus suffix. */
char *decoy_path(struct fixture *f, const char *dir, time_t t,
			const char *suffix)
{
	char stamp[32];

	stamp_at(t, stamp, sizeof stamp);
	return talloc_asprintf(f->mem, "%s/SYSTEM.deskheap-0001-%s.bak%s", dir,
			       stamp, suffix);
}

/* Decoys for this second and the next few; with check, assert instead
 * that they are still there, unchanged. */
void decoys(struct fixture *f, const char *dir, time_t now,
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
struct logs *make_logs(struct fixture *f)
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
void swap_log_fd(struct logs *lg, int i, int fd)
{
	assert_true(fd >= 0);
	close(lg->comp[i].fd);
	lg->comp[i].fd = fd;
}

/* A backup directory on another filesystem than f->dir (links refused
 * there), as f->shm; false (and a message) where there is none. */
bool other_fs(struct fixture *f)
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

/* The logs' inodes as the commit will see them: through their fds. */
void stat_logs(const struct logs *lg, struct stat was[N_LOGS])
{
	int i;

	for (i = 0; i < N_LOGS; i++)
		assert_int_equal(fstat(lg->comp[i].fd, &was[i]), 0);
}

bool same_inode(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino;
}

/* Log i's backup beside backup is the inode the log was (was), holding
 * its data, with nlink names in all (1: no live log shares it). */
void assert_log_linked(struct fixture *f, const struct logs *lg,
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
void assert_log_emptied(const struct logs *lg, int i,
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
void assert_logs_untouched(struct fixture *f, const struct logs *lg,
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

/* Lock f->hive and find its newest backup in backup_dir. */
int find(struct fixture *f, const char *backup_dir,
		struct dh_backup_set **set, struct dh_error **err)
{
	struct dh_locked *l = NULL;
	int ret;

	assert_int_equal(lock_path(f->mem, f->hive, &l, err), 0);
	ret = dh_backup_find(f->mem, l, backup_dir, false, set, err);
	talloc_free(l);
	return ret;
}
