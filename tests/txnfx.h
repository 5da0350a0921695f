/*
 * Support for the tests of the commit engine (test_lock, test_txn,
 * test_backup): a fresh directory per test with a hive of plain bytes
 * (OLD), a transaction run the way the pipeline runs one (run_txn(),
 * commit()), logs to replace with it, and the checks they share.
 *
 * Each test works in a fresh mkdtemp() directory under /tmp, removed
 * afterwards.
 */
#ifndef DH_TESTS_TXNFX_H
#define DH_TESTS_TXNFX_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>

#include "deskheap.h"
#include "backupfind.h"
#include "lock.h"

#define NOBODY_UID 65534
#define NOBODY_GID 65534

#define N_LOGS 2

/* How many seconds of decoys: a commit starting now names its backup
 * within them. */
#define DECOYS 4

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

extern const char OLD[];
extern const char NEW[];

#define MAKE_FILES(f, names) make_files(f, names, sizeof names / sizeof *names)

int setup(void **state);

int teardown(void **state);

void write_file(const char *path, const char *data, mode_t mode);

void make_files(struct fixture *f, const char *const *names, size_t n);

/* Whole contents of path, NUL-terminated, on mem. */
char *read_file(TALLOC_CTX *mem, const char *path);

char *read_fd(TALLOC_CTX *mem, int fd);

const char *base_of(const char *path);

/* Lock path the way a caller does: its directory opened, the hive named
 * in it. The descriptor is closed at once: the lock keeps its own. */
int lock_path(TALLOC_CTX *mem, const char *path, struct dh_locked **l,
		     struct dh_error **err);

ino_t ino_of(const char *path);

/* The uid/gid the tests give files: nobody's when root (so keeping the
 * owner is a real change from root's), our own otherwise. */
uid_t test_uid(void);

gid_t test_gid(void);

/* The state after a failed commit: original bytes and inode, no temporary
 * file, no backup. */
void assert_untouched(struct fixture *f, ino_t ino, const char *dir);

int cb_write(void *arg, int fd, TALLOC_CTX *mem, struct dh_error **err);

int cb_verify(void *arg, int fd, const char *path, TALLOC_CTX *mem,
		     struct dh_error **err);

/* What the pipeline does with the locked hive l: begin, write into the new
 * hive (cb_write), replace f's logs, flush, read back (cb_verify), commit.
 * 1 when the writer found nothing to replace: the transaction is then
 * abandoned. */
int run_txn(struct fixture *f, struct dh_locked *l, struct cb *cb,
		   const char *backup_dir, bool no_backup, char **backup,
		   struct dh_error **err);

/* Lock f->hive and replace it with data, with f's logs. */
int commit(struct fixture *f, const char *data, const char *backup_dir,
		  bool no_backup, struct cb *cbp, char **backup,
		  struct dh_error **err);

/* A forked child ends with _exit() and never returns to cmocka: it frees
 * the fixture first so that valgrind, which follows it, finds no leak. It
 * keeps what it needs in copies on the stack. */
void child_release(struct fixture *f);

void stamp_at(time_t t, char *buf, size_t size);

/* dir/SYSTEM.deskheap-0001-<stamp of t>.bak<suffix>: the name the first
 * backup made at t gets, plus suffix. */
char *decoy_path(struct fixture *f, const char *dir, time_t t,
			const char *suffix);

/* Decoys for this second and the next few; with check, assert instead
 * that they are still there, unchanged. */
void decoys(struct fixture *f, const char *dir, time_t now,
		   const char *suffix, bool check);

/* Make the logs and hand them to commit() through f. */
struct logs *make_logs(struct fixture *f);

/* Give companion i descriptor fd instead. */
void swap_log_fd(struct logs *lg, int i, int fd);

/* A backup directory on another filesystem than f->dir (links refused
 * there), as f->shm; false (and a message) where there is none. */
bool other_fs(struct fixture *f);

/* The logs' inodes as the commit will see them: through their fds. */
void stat_logs(const struct logs *lg, struct stat was[N_LOGS]);

bool same_inode(const struct stat *a, const struct stat *b);

/* Log i's backup beside backup is the inode the log was (was), holding
 * its data, with nlink names in all (1: no live log shares it). */
void assert_log_linked(struct fixture *f, const struct logs *lg,
			      int i, const char *backup,
			      const struct stat *was, nlink_t nlink);

/* The live log i is a new, empty file with the old one's mode and owner. */
void assert_log_emptied(const struct logs *lg, int i,
			       const struct stat *was);

/* The logs are what they were: same inodes, no other name (no backup
 * link left), same data. */
void assert_logs_untouched(struct fixture *f, const struct logs *lg,
				  const struct stat was[N_LOGS]);

/* Lock f->hive and find its newest backup in backup_dir. */
int find(struct fixture *f, const char *backup_dir,
		struct dh_backup_set **set, struct dh_error **err);

#endif
