/*
 * The lock on a hive (design invariant 9), and what a run finds when it
 * takes it (invariant 3).
 *
 * dh_lock_hive() opens the hive and takes an exclusive flock on it, then
 * checks that its name in the directory still is the locked inode: another
 * run may have renamed a new file over it while this one waited, and a lock
 * on a replaced inode protects nothing. It retries until the two agree.
 * Holding the lock, it completes an earlier run's unfinished transaction
 * (dh_journal_recover(): then the name is another inode, so it locks
 * again), and removes the temporary files a killed run left beside the
 * hive (".NAME.deskheap-tmp-XXXXXX", and ".NAME.LOG1.deskheap-tmp-XXXXXX"
 * of older versions): only a run holding the lock makes them.
 */
#ifndef DH_LOCK_H
#define DH_LOCK_H

#include "deskheap.h"

/* An open (read-only), exclusively locked hive. A talloc object: freeing it
 * unlocks and closes. Read the hive through fd, after locking: that is the
 * content the lock protects. After a committed transaction (txn.h) fd still
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
 * file made beside the hive (by the transaction, the backups, the journal)
 * is made through the lock's directory descriptor, never by path: the
 * directory was resolved without following symbolic links, and a path
 * could lead elsewhere by now. Blocks while another run holds the lock.
 * The hive is opened as dh_dirio_open_file() does (a symbolic link or
 * anything but a regular file: DH_ERR_ARGUMENT, as for a reader);
 * DH_ERR_ARGUMENT also for a name that is empty or holds a '/', or no
 * path. A damaged journal: DH_ERR_IO (dh_journal_recover()). The result
 * and its strings are on mem.
 */
int dh_lock_hive(TALLOC_CTX *mem, int dirfd, const char *name,
		 const char *path, struct dh_locked **out,
		 struct dh_error **err);

/* The same, for a look that writes nothing (restore --dry-run): the hive
 * opened as dh_lock_hive() opens it, but not locked, and an unfinished
 * journal neither completed nor dropped, and no leftover removed. The
 * result must not be given to a transaction. */
int dh_lock_peek(TALLOC_CTX *mem, int dirfd, const char *name,
		 const char *path, struct dh_locked **out,
		 struct dh_error **err);

#endif
