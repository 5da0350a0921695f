/*
 * Atomic replacement of a hive file, with a backup (design invariants 1-3, 8).
 *
 * dh_commit_lock() opens the hive and takes an exclusive flock on it, then
 * checks that the path still names the locked inode: another run may have
 * renamed a new file over it while this one waited, and a lock on a replaced
 * inode protects nothing. It retries until the two agree.
 *
 * dh_commit_replace() then:
 *   1. creates a temporary file ".NAME.deskheap-tmp-XXXXXX" in the hive's
 *      directory, mode 0600;
 *   2. calls req->write to fill it, then fsyncs it;
 *   3. calls req->verify on it (re-open and read back what was patched);
 *   4. gives it the original's mode, owner and extended attributes;
 *   5. makes the backup (unless no_backup): "NAME.deskheap-<UTC>.bak" beside
 *      the hive or in backup_dir, a hard link to the original inode where the
 *      filesystem allows it, else a copy that is fsynced, compared byte for
 *      byte with the original, and given the original's mode and owner;
 *   6. renames the temporary file over the hive and fsyncs the directory
 *      (and the backup directory).
 * On any failure before the rename the temporary file and any backup made
 * are removed and the hive is untouched.
 */
#ifndef DH_COMMIT_H
#define DH_COMMIT_H

#include <stdbool.h>

#include "deskheap.h"

/* An open, exclusively locked hive. A talloc object: freeing it unlocks and
 * closes. */
struct dh_locked {
	int fd;
	char *path;
};

int dh_commit_lock(TALLOC_CTX *mem, const char *path, struct dh_locked **out,
		   struct dh_error **err);

/* Fill the temporary file open at fd (empty, writable). */
typedef int (*dh_commit_write_fn)(void *arg, int fd, TALLOC_CTX *mem,
				  struct dh_error **err);
/* Check the synced temporary file open at fd, named path for messages. */
typedef int (*dh_commit_verify_fn)(void *arg, int fd, const char *path,
				   TALLOC_CTX *mem, struct dh_error **err);

struct dh_commit_request {
	const struct dh_locked *hive;  /* the original, locked */
	const char *backup_dir;        /* NULL: beside the hive */
	bool no_backup;
	dh_commit_write_fn write;
	dh_commit_verify_fn verify;
	void *arg;                     /* passed to write and verify */
};

/* Replace req->hive->path as above. *backup_path receives the backup's path
 * on mem, or NULL when none was made. */
int dh_commit_replace(TALLOC_CTX *mem, const struct dh_commit_request *req,
		      char **backup_path, struct dh_error **err);

#endif
