/*
 * Files in a directory reached through its descriptor: the operations the
 * commit, the lock, the backups and the journal share. Everything beside
 * a hive is made through the descriptor of its directory (resolved without
 * following links), never by a path that could lead elsewhere by now.
 */
#ifndef DH_DIRIO_H
#define DH_DIRIO_H

#include <stdbool.h>
#include <sys/stat.h>
#include <talloc.h>

#include "deskheap.h"

/* Whether name can name a file in a directory: not empty, no '/', not
 * "." or "..". */
bool dh_dirio_name_ok(const char *name);

/* Whether two stats are of one inode. */
bool dh_dirio_same_file(const struct stat *a, const struct stat *b);

/* 1: name in dirfd still is the inode open at fd (and that inode still
 * has a name); 0: another file has the name, or none does; -1 with errno
 * set when it cannot be told. */
int dh_dirio_still_current(int fd, int dirfd, const char *name);

/* Create ".<base>.deskheap-tmp-XXXXXX" (six random characters of
 * [A-Za-z0-9]) in dir, exclusively, mode 0600: never more readable than
 * the hive before it gets its metadata, and never a file or link someone
 * put there. The descriptor (read-write), or -1 with errno set; *name (on
 * mem; any earlier value freed) is the name made, NULL on failure. */
int dh_dirio_create_temp(TALLOC_CTX *mem, int dir, const char *base,
			 char **name);

/* fsync a directory so an entry made in it survives a crash. Filesystems
 * that cannot sync a directory (EINVAL, ENOTSUP) count as done: their
 * entries are as durable as they can be made. 0, or -1 with errno set.
 * Failpoint "dir-fsync". */
int dh_dirio_sync(int fd);

/*
 * Open the file name in dirfd (path in messages) read-only, never through a
 * symbolic link and never blocking: refused (DH_ERR_ARGUMENT, saying what
 * it is and what to give instead) unless it is a regular file. DH_ERR_IO,
 * with the cause and a remedy, when it cannot be opened. The same refusal
 * for every command: readers and the lock both open a hive this way.
 * *fd is the caller's to close.
 */
int dh_dirio_open_file(TALLOC_CTX *mem, int dirfd, const char *name,
		       const char *path, int *fd, struct dh_error **err);

/* path up to and including its last '/', or "" (on mem). */
char *dh_dirio_prefix(TALLOC_CTX *mem, const char *path);

#endif
