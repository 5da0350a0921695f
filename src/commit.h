/*
 * Atomic replacement of a hive file, with a backup (design invariants 1-3, 8).
 *
 * dh_commit_lock() opens the hive and takes an exclusive flock on it, then
 * checks that its name in the directory still is the locked inode: another
 * run may have renamed a new file over it while this one waited, and a lock
 * on a replaced inode protects nothing. It retries until the two agree.
 * Then it removes the temporary files (regular files named as in step 1)
 * a killed run left beside it: only a run holding the lock makes them.
 *
 * dh_commit_replace() then:
 *   1. creates a temporary file ".NAME.deskheap-tmp-XXXXXX" (a random
 *      suffix) in the hive's directory, exclusively, mode 0600;
 *   2. calls req->write to fill it, then fsyncs it;
 *   3. calls req->verify on it (re-open and read back what was patched);
 *   4. gives it the original's owner, mode and extended attributes: every
 *      listed one, plus system.ntfs_acl and system.ntfs_attrib read by name
 *      (ntfs-3g does not list them; set last, as chmod on ntfs-3g rewrites
 *      the ACL); system.* attributes the original lacks (an ACL inherited
 *      from a default ACL) are removed; the resulting mode and owner are
 *      checked; then fsyncs it again;
 *   5. makes the backup (unless no_backup): "NAME.deskheap-<UTC>.bak" beside
 *      the hive or in backup_dir (made, 0700, when missing and
 *      backup_dir_create is set; "NAME.deskheap-<UTC>-2.bak", -3... when
 *      the name exists; never overwrites), a hard link to the original inode
 *      where the filesystem allows it, else a copy that is fsynced, compared
 *      byte for byte with the original, and given the original's mode, owner
 *      and extended attributes (those the backup's filesystem supports);
 *      then each of req->companions joins it as the backup's final name
 *      + the companion's suffix ("NAME.deskheap-<UTC>.bak.LOG1", or
 *      "...-2.bak.LOG1"): without retire_companions a copy, created
 *      exclusively mode 0600, read from offset 0 to end of file, fsynced,
 *      compared byte for byte with the companion, and given the
 *      companion's own mode, owner and extended attributes; with
 *      retire_companions a hard link to the companion's inode (the one
 *      open at its fd, checked after linking), or that copy where the
 *      filesystem refuses links or the inode has no name left to link.
 *      A file that already has such a name is a failure (never
 *      overwritten: the set would mix two backups). A companion that is
 *      not a regular file (DH_ERR_IO), not open for reading, or without a
 *      path, a non-empty suffix free of '/', or (to retire it) a name free
 *      of '/' (DH_ERR_ARGUMENT) is refused before anything is made. The
 *      backup directory is fsynced (after the companions) before step 7,
 *      so the whole set is on disk before it becomes the only copy of the
 *      old hive;
 *   6. with retire_companions (and a backup): for each companion, an
 *      empty temporary file beside the hive, made as in step 1, given the
 *      companion's owner, mode and extended attributes as in step 4, and
 *      fsynced;
 *   7. checks once more that the name is the locked inode (the lock binds
 *      only programs that take it) and renames the temporary file over the
 *      hive; then renames each empty file of step 6 over its companion's
 *      name, if that name still is the companion's inode (else the empty
 *      file is removed: another file took the name, and it is not ours to
 *      replace); then fsyncs the hive's directory. The hive goes first so
 *      that a crash between the renames leaves a clean hive beside stale
 *      logs, which Windows ignores; logs first could leave the old dirty
 *      hive beside empty logs, without the changes it needs replayed.
 *
 * Why retiring is safe: the hive is written clean, so its logs hold
 * nothing Windows will replay and a live log may start empty (0-byte logs
 * are normal). The backup then keeps the untouched original inode of each
 * log, as it does the hive's, and no longer shares it with a file Windows
 * writes in place; no copy is written and read back.
 *
 * Steps 1, 5 (beside the hive), 6 and 7 go through the lock's directory
 * descriptor; only backup_dir is opened by path. On any failure before the
 * hive's rename the temporary files and every backup file this call made
 * (the hive's and the companions', and backup_dir if this call created it
 * and it is empty) are removed and the hive and its logs are untouched.
 * Errors are DH_ERR_IO with the file, the cause and a remedy, except those
 * of the callbacks, which keep their own code and message (with "; the
 * hive was not changed" appended).
 */
#ifndef DH_COMMIT_H
#define DH_COMMIT_H

#include <stdbool.h>

#include "deskheap.h"

/* An open (read-only), exclusively locked hive. A talloc object: freeing it
 * unlocks and closes. Read the hive through fd, after locking: that is the
 * content the lock protects. After a successful dh_commit_replace() fd still
 * refers to the old inode (the backup, when linked); free the lock then, and
 * a run waiting for it sees the new hive. */
struct dh_locked {
	int fd;          /* the hive, read-only, flocked */
	int dirfd;       /* its directory (a descriptor of the lock's own) */
	char *name;      /* its name in dirfd */
	char *path;      /* for messages: the directory's path + name */
	char *completed; /* set when locking finished an earlier run's
			  * unfinished transaction: what it did (see
			  * dh_journal_recover()); else NULL */
	char *completed_command; /* the command it had ("restore"...) */
};

/*
 * Lock the hive `name` in the directory open at dirfd (the descriptor is
 * duplicated; the caller keeps its own). path names it in messages. Every
 * file this module makes beside the hive (temporary file, backup, rename)
 * is made through that directory descriptor, never by path: the directory
 * was resolved without following symbolic links, and a path could lead
 * elsewhere by now. Blocks while another run holds the lock. Refuses
 * (DH_ERR_IO) a symbolic link (O_NOFOLLOW) and anything but a regular
 * file; (DH_ERR_ARGUMENT) a name that is empty or holds a '/', or no path.
 * The result and its strings are on mem.
 */
int dh_commit_lock(TALLOC_CTX *mem, int dirfd, const char *name,
		   const char *path, struct dh_locked **out,
		   struct dh_error **err);

/* Fill the temporary file open at fd (empty, read-write, at offset 0):
 * 0; or -1 with *err set; or 1 when the caller finds, from what it wrote,
 * that there is nothing to replace after all (then the temporary file is
 * removed, nothing else is made, and dh_commit_replace() returns 1). mem
 * is a scratch context freed when dh_commit_replace() returns; an error
 * set on it is moved to the caller's context. */
typedef int (*dh_commit_write_fn)(void *arg, int fd, TALLOC_CTX *mem,
				  struct dh_error **err);
/* Check the synced temporary file open at fd (at offset 0), named path for
 * messages. mem as for the write callback. */
typedef int (*dh_commit_verify_fn)(void *arg, int fd, const char *path,
				   TALLOC_CTX *mem, struct dh_error **err);

/* A file that belongs with the hive (a transaction log a replay used): it
 * joins the backup set as the backup's name + suffix, e.g.
 * "SYSTEM.deskheap-<UTC>.bak.LOG1". A verified copy, as the log stays in
 * use beside the new hive and Windows rewrites it in place; or, with
 * retire_companions, its own inode, linked, once an empty file takes its
 * live name. */
struct dh_commit_companion {
	int fd;                  /* open for reading */
	const char *path;        /* for messages */
	const char *suffix;      /* e.g. ".LOG1" */
	const char *name;        /* in the hive's directory (the lock's
				  * dirfd), e.g. "SYSTEM.LOG1"; required
				  * with retire_companions */
};

struct dh_commit_request {
	const struct dh_locked *hive;  /* the original, locked */
	const char *backup_dir;        /* NULL: beside the hive (dirfd) */
	bool backup_dir_create;        /* make backup_dir (0700) if missing;
					* its parent must exist */
	bool no_backup;
	dh_commit_write_fn write;      /* required */
	dh_commit_verify_fn verify;    /* required (DH_ERR_ARGUMENT if not) */
	void *arg;                     /* passed to write and verify */
	const struct dh_commit_companion *companions; /* with the backup */
	size_t n_companions;
	bool retire_companions;        /* link them into the backup set and
					* put new ones in their place
					* (steps 5-7); nothing with no_backup */
	const int *companion_contents; /* with retire_companions: per
					* companion, a file (open for
					* reading) whose bytes its new file
					* gets, or -1 for an empty one;
					* NULL: all empty */
	const char *command;           /* for the journal: "set", ... */
	const char *note;              /* for the journal: free text */
};

/* Replace the locked hive as above: 0, or 1 when the write callback found
 * nothing to write (the hive untouched, nothing made). *backup_path (may be
 * NULL) receives the backup's path on mem, or NULL when none was made. The failures after the
 * hive's rename are a log that cannot be replaced by its empty file (the
 * message names it, the backup it still shares its inode with, and what to
 * do) and the final directory fsync: then the hive IS replaced, -1 is
 * returned (DH_ERR_IO, saying so, one message for all such failures) and
 * *backup_path is set all the same. */
int dh_commit_replace(TALLOC_CTX *mem, const struct dh_commit_request *req,
		      char **backup_path, struct dh_error **err);

/* The newest backup set deskheap made of a hive: the backup and the log
 * copies that go with it. */
struct dh_backup_set {
	char *dir;           /* the directory holding it, as a path prefix
			      * for messages: "" or ending in '/' */
	char *hive;          /* "NAME.deskheap-<UTC>[-n].bak" */
	char **logs;         /* n_logs names "<hive>.LOG1"... in that directory,
			      * sorted (strcmp) */
	size_t n_logs;
};

/*
 * Find the newest backup set of the locked hive in backup_dir (NULL: beside
 * the hive): the greatest <UTC>, then the greatest -n. Names must match
 * exactly "NAME.deskheap-YYYYmmddTHHMMSSZ[-n].bak" (n >= 2, no leading
 * zero); a link or non-regular file is skipped. Its logs are the regular
 * files named exactly the backup's name + ".LOG", ".LOG1" or ".LOG2" in
 * any letter case. backup_dir is opened by path; the hive's directory
 * through the lock's descriptor. DH_ERR_ARGUMENT, naming where it looked,
 * when there is none; DH_ERR_IO when the directory cannot be listed.
 * skip_identical: pass over backups byte-identical to the hive as it is
 * now (restoring one would change nothing: the backup a killed restore
 * made of it, say), and take the newest that differs; DH_ERR_ARGUMENT
 * when all are identical. The result is on mem.
 */
int dh_commit_find_backup(TALLOC_CTX *mem, const struct dh_locked *hive,
			  const char *backup_dir, bool skip_identical,
			  struct dh_backup_set **out, struct dh_error **err);

#endif
