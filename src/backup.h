/*
 * Making a backup set: the files a commit is about to replace, kept under
 * backup names (design invariant 4; names and directory: backupdir.h).
 *
 * Each file is kept as a hard link to its own inode, which the replace
 * commit then replaces by rename and so never writes: the backup is the
 * original, not a copy of it. The in-place commit writes the inode itself,
 * so it asks for copies. The link is made to the inode the caller holds open
 * (through /proc/self/fd; without /proc by name, then checked). Where the
 * filesystem refuses links (another filesystem, vfat), or the inode has no
 * name left to link, a copy is made instead: written under a temporary
 * name (a reflink where the filesystem shares data, else copied in the
 * kernel), synced, read back and compared byte for byte with its source
 * (from the device: its cached pages dropped first), given the source's
 * owner, mode and extended attributes (those the filesystem supports),
 * synced, and only then given its backup name, so that a run killed midway
 * never leaves a partial file that looks like a backup. A backup is never
 * more readable than its source, and no file is ever replaced.
 */
#ifndef DH_BACKUP_H
#define DH_BACKUP_H

#include <stdbool.h>
#include <stddef.h>

#include "backupdir.h"
#include "deskheap.h"
#include "metadata.h"

/* One file of a set: the hive (first, suffix "") or one of its logs. */
struct dh_backup_member {
	struct dh_meta_source src;   /* open for reading, stat taken */
	const char *name;            /* its name in the hive's directory */
	const char *suffix;          /* "" for the hive, ".LOG1"... */
};

/* A set this run made. */
struct dh_backup_made {
	char **paths;                /* per member: dir prefix + name */
	char **names;                /* per member, in the directory */
	size_t n;
	struct dh_backup_dir *dir;   /* where (not owned) */
};

/*
 * Make the backup set of members m[0..n-1] (m[0] the hive, named base in
 * the directory open at dirfd) in d, by copies only when copy is set: the hive as the next numbered name
 * (a name taken meanwhile: the number after it), each log as that name +
 * its suffix; then d synced (and its parent, when d was made by this run),
 * so the set is on disk before anything can make it the only copy of the
 * old files. A log's backup name that exists already is an error (never
 * replaced: the set would mix two). On failure (DH_ERR_IO, DH_ERR_VERIFY,
 * with "the hive was not changed"), what was made is removed. Failpoints
 * "backup", and "write" for each write of a copy. The result is on mem.
 */
int dh_backup_make(TALLOC_CTX *mem, int dirfd, const char *base,
		   struct dh_backup_dir *d, const struct dh_backup_member *m,
		   size_t n, bool copy, struct dh_backup_made **out,
		   struct dh_error **err);

/* Mark the set made as one an in-place commit made (an extended attribute
 * on the hive's backup, user.deskheap.commit = "in-place", where the
 * filesystem keeps them), so that restore writes it back the same way. */
void dh_backup_mark_in_place(const struct dh_backup_made *made);

/* Whether the backup open at fd is so marked. */
bool dh_backup_made_in_place(int fd);

/* Remove the set made (a later step failed, nothing was replaced): what
 * cannot be removed is named in (*err)'s message, when err holds one. */
void dh_backup_remove(struct dh_backup_made *made, struct dh_error **err);

/* Append "; could not remove <file> (<cause>): delete it by hand" to the
 * message of *err (when there is one). */
void dh_backup_note_leftover(struct dh_error **err, const char *file,
			     int errnum);

#endif
