/*
 * A file's owner, mode and extended attributes, copied onto another: the
 * new hive gets the original's, a backup copy or a log's new file its
 * source's (design invariants 2 and 4).
 */
#ifndef DH_METADATA_H
#define DH_METADATA_H

#include <stdbool.h>
#include <sys/stat.h>

#include "deskheap.h"

/* A file metadata is taken from: open, with its stat taken before anything
 * was made from it. */
struct dh_meta_source {
	int fd;
	const char *path;       /* for messages */
	struct stat st;
};

/*
 * Give the file open at fd (named name in messages) src's owner (before the
 * mode: chown may clear set-id bits), mode, and extended attributes: every
 * one src lists, then system.ntfs_acl and system.ntfs_attrib read by name
 * (ntfs-3g does not list them; set last, as chmod on ntfs-3g rewrites the
 * ACL). system.* attributes fd has and src lacks (an ACL inherited from a
 * default ACL) are removed. Then the mode and owner are checked. A
 * filesystem that refuses an owner or mode it already has is fine. With
 * backup (a copy, maybe on another kind of filesystem), attributes that
 * filesystem does not support are skipped. DH_ERR_IO on failure, saying
 * the hive was not changed. Failpoint "metadata".
 */
int dh_metadata_copy(TALLOC_CTX *mem, const struct dh_meta_source *src,
		     int fd, const char *name, bool backup,
		     struct dh_error **err);

#endif
