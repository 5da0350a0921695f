/*
 * Where a hive's backups go, and what they are called (design invariant 4).
 *
 * A backup set is "NAME.deskheap-<number>-<UTC>.bak" (the hive) and that
 * name + ".LOG1", ".LOG2" or ".LOG" (its logs). The number is one more than
 * the highest of NAME's backups in that directory and decides which set is
 * newest; the UTC time is for people (a rescue system's clock may be off).
 * Names of older deskheap builds, "NAME.deskheap-<UTC>[-n].bak", are still
 * recognised, as older than every numbered one.
 *
 * The directory is the hive's own, or one the user names (--backup-dir).
 * A named one is opened without following a symbolic link and used only if
 * it belongs to the user running deskheap and neither group nor others can
 * write to it: anyone else who could would be able to swap a backup that a
 * restore run as root then puts in place.
 */
#ifndef DH_BACKUPDIR_H
#define DH_BACKUPDIR_H

#include <stdbool.h>

#include "deskheap.h"
#include "lock.h"

/* An open backup directory. A talloc object: freeing it closes fd. */
struct dh_backup_dir {
	int fd;             /* a descriptor of its own */
	char *prefix;       /* for messages: "" or a path ending in '/' */
	char *path;         /* as named, or NULL: the hive's directory */
	bool made;          /* dh_backup_dir_open() created it */
};

/*
 * Open the backup directory of the locked hive: dir, or with dir NULL or
 * "", the hive's own (through the lock's descriptor). With create, a
 * missing dir is made, mode 0700 (only its last component). Refused,
 * DH_ERR_ARGUMENT naming it and why: a symbolic link, another user's, or
 * writable by group or others. DH_ERR_IO when it cannot be made or opened.
 * outcome (may be NULL) ends every message. The result is on mem.
 */
int dh_backup_dir_open(TALLOC_CTX *mem, const struct dh_locked *hive,
		       const char *dir, bool create, const char *outcome,
		       struct dh_backup_dir **out, struct dh_error **err);

/* Free d, and remove it if dh_backup_dir_open() made it and it is still
 * empty (a run that failed leaves no trace). */
void dh_backup_dir_discard(struct dh_backup_dir *d);

/* fsync d, and when it was made by this run, its parent too. 0, or -1 with
 * errno set. */
int dh_backup_dir_sync(const struct dh_backup_dir *d);

/* A backup's place in the order of its hive's backups. */
struct dh_backup_key {
	unsigned long seq;      /* its number; 0 for an unnumbered name */
	char stamp[17];         /* YYYYmmddTHHMMSSZ */
	unsigned long n;        /* unnumbered names: 1, or the "-n" */
};

/* Whether name is exactly the name of a backup of the hive named base
 * (numbered or not; see above); if so, its key. */
bool dh_backup_name_parse(const char *base, const char *name,
			  struct dh_backup_key *k);

/* Whether a is newer than b: the higher number; between unnumbered names,
 * the later stamp, then the higher n. */
bool dh_backup_key_greater(const struct dh_backup_key *a,
			   const struct dh_backup_key *b);

/* "<base>.deskheap-<seq, 4 digits at least>-<stamp>.bak", on mem. */
char *dh_backup_name(TALLOC_CTX *mem, const char *base, unsigned long seq,
		     const char *stamp);

/* One more than the highest number of base's backups in d (1 when there
 * are none). 0, or -1 with errno set when d cannot be listed. */
int dh_backup_next_number(const struct dh_backup_dir *d, const char *base,
			  unsigned long *seq);

#endif
