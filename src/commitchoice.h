/*
 * Which commit writes a hive (design invariant 2), and where an in-place
 * commit writes its log record.
 *
 * A rename replaces the hive by a new file, which deskheap gives the old
 * one's owner, mode and extended attributes (metadata.h). That keeps the
 * file's identity only where all of it can be read and set: not on a FUSE
 * mount that hides the NTFS security descriptor (guestmount: ntfs-3g does
 * not list system.ntfs_acl and guestmount serves only what is listed),
 * not on the kernel's NTFS drivers (no descriptor to copy). There the
 * in-place commit is the one that keeps it (inplace.h). (A rename also
 * splits a file's hard links, and drops NTFS streams and object IDs that
 * ntfs-3g does not copy: --commit in-place keeps those too.)
 */
#ifndef DH_COMMITCHOICE_H
#define DH_COMMITCHOICE_H

#include <stdbool.h>
#include <stddef.h>

#include "deskheap.h"
#include "logscan.h"
#include "target.h"

/* Why a new file renamed over the hive open at fd could not have its
 * identity. */
struct dh_identity {
	bool descriptor_lost;  /* its Windows security descriptor would be
				* lost: a replace is refused, auto is in
				* place */
	char *why;             /* why, on mem; NULL when a rename keeps it */
};

/* Look at the hive open at fd (path in messages). Only DH_ERR_IO (fstat or
 * fstatfs failed) or DH_ERR_NOMEM are errors. */
int dh_commit_identity(TALLOC_CTX *mem, int fd, const char *path,
		       struct dh_identity *out, struct dh_error **err);

/* Of the logs beside a hive (target.h), the one an in-place commit of
 * format f writes its record into, as that Windows reads it: new format
 * NAME.LOG1, else NAME.LOG2; old format NAME.LOG (XP), else NAME.LOG1,
 * else NAME.LOG2. -1 when there is none. */
int dh_commit_record_log(enum dh_log_format f, const struct dh_log_file *logs,
			 size_t n);

#endif
