/*
 * Where a hive's backups go and what they are called. See backupdir.h.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backupdir.h"
#include "dirio.h"
#include "error.h"

/* Backup numbers have at least this many digits, so that names sort. */
#define BACKUP_SEQ_DIGITS 4

/* ------------------------------------------------------------------ */
/* The directory                                                      */

/* The backup directory as a path prefix for messages: dir with a '/'
 * appended, or with dir NULL or "", the hive's (on mem). */
static char *backup_prefix(TALLOC_CTX *mem, const struct dh_locked *hive,
			   const char *dir)
{
	size_t len;

	if (dir == NULL || *dir == '\0')
		return dh_dirio_prefix(mem, hive->path);
	len = strlen(dir);
	return talloc_asprintf(mem, "%s%s", dir,
			       dir[len - 1] == '/' ? "" : "/");
}

/* A backup directory another user could write to would let them swap a
 * backup, which a restore as root then puts in place: it must be a real
 * directory (not a link to one) of the user running deskheap, and nobody
 * else's to write. */
static int backup_dir_trusted(TALLOC_CTX *mem, int fd, const char *dir,
			      const char *outcome, struct dh_error **err)
{
	struct stat st;
	const char *why = NULL;

	if (fstat(fd, &st) != 0)
		return dh_error_io(mem, err, errno, outcome,
				"cannot stat backup directory %s", dir);
	if (st.st_uid != geteuid())
		why = "it belongs to another user";
	else if (st.st_mode & (S_IWGRP | S_IWOTH))
		why = "others can write to it";
	if (why == NULL)
		return 0;
	return dh_error_set(mem, err, DH_ERR_ARGUMENT,
			    "backup directory %s is refused: %s (uid %u, mode "
			    "%04o), so someone else could replace a backup; "
			    "use a directory of your own that only you can "
			    "write (deskheap makes it, mode 0700, when it does "
			    "not exist)%s%s", dir, why, (unsigned)st.st_uid,
			    (unsigned)(st.st_mode & 07777),
			    outcome ? "; " : "", outcome ? outcome : "");
}

/* A descriptor of our own of the backup directory: dir, opened by path
 * (the user named it) but never through a symbolic link, and only when
 * backup_dir_trusted(); or with dir NULL or "", the hive's directory. */
static int open_dir(TALLOC_CTX *mem, const struct dh_locked *hive,
		    const char *dir, const char *outcome, int *fdp,
		    struct dh_error **err)
{
	if (dir == NULL || *dir == '\0') {
		*fdp = fcntl(hive->dirfd, F_DUPFD_CLOEXEC, 0);
		if (*fdp < 0)
			return dh_error_io(mem, err, errno, outcome,
					"cannot use the directory of %s",
					hive->path);
		return 0;
	}
	/* "link/" would be followed whatever the flags say. */
	size_t len = strlen(dir);
	struct stat st;
	char *bare;

	while (len > 1 && dir[len - 1] == '/')
		len--;
	if ((bare = talloc_strndup(mem, dir, len)) == NULL)
		return dh_error_nomem(mem, err);
	*fdp = open(bare, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	/* With O_DIRECTORY a link fails as ENOTDIR, not ELOOP. */
	if (*fdp < 0 && (errno == ENOTDIR || errno == ELOOP))
		errno = lstat(bare, &st) == 0 && S_ISLNK(st.st_mode) ? ELOOP :
									ENOTDIR;
	talloc_free(bare);
	if (*fdp < 0 && errno == ELOOP)
		return dh_error_set(mem, err, DH_ERR_ARGUMENT,
				    "backup directory %s is refused: it is a "
				    "symbolic link, which someone else could "
				    "point elsewhere; name the directory "
				    "itself%s%s", dir, outcome ? "; " : "",
				    outcome ? outcome : "");
	if (*fdp < 0)
		return dh_error_io(mem, err, errno, outcome,
				"cannot open backup directory %s", dir);
	if (backup_dir_trusted(mem, *fdp, dir, outcome, err) == 0)
		return 0;
	close(*fdp);
	*fdp = -1;
	return -1;
}

static int dir_close(struct dh_backup_dir *d)
{
	if (d->fd >= 0)
		close(d->fd);
	return 0;
}

/* create: make the directory, private. Only the last component: a
 * mistyped parent should fail, not grow a tree. One that exists is used
 * if open_dir() trusts it. */
static int make_dir(TALLOC_CTX *mem, struct dh_backup_dir *d, const char *dir,
		    const char *outcome, struct dh_error **err)
{
	if (mkdir(dir, 0700) == 0) {
		d->made = true;
		return 0;
	}
	if (errno == EEXIST)
		return 0;
	return dh_error_io(mem, err, errno, outcome,
			   "cannot create backup directory %s", dir);
}

int dh_backup_dir_open(TALLOC_CTX *mem, const struct dh_locked *hive,
		       const char *dir, bool create, const char *outcome,
		       struct dh_backup_dir **out, struct dh_error **err)
{
	struct dh_backup_dir *d = talloc_zero(mem, struct dh_backup_dir);

	if (d == NULL)
		return dh_error_nomem(mem, err);
	d->fd = -1;
	talloc_set_destructor(d, dir_close);
	if (dir != NULL && *dir == '\0')
		dir = NULL;
	d->path = dir ? talloc_strdup(d, dir) : NULL;
	d->prefix = backup_prefix(d, hive, dir);
	if ((dir != NULL && d->path == NULL) || d->prefix == NULL) {
		talloc_free(d);
		return dh_error_nomem(mem, err);
	}
	if ((dir != NULL && create &&
	     make_dir(mem, d, dir, outcome, err) != 0) ||
	    open_dir(mem, hive, dir, outcome, &d->fd, err) != 0) {
		dh_backup_dir_discard(d);
		return -1;
	}
	*out = d;
	return 0;
}

void dh_backup_dir_discard(struct dh_backup_dir *d)
{
	/* Only if empty: a directory someone else has put files in since
	 * is theirs too. */
	if (d->made)
		rmdir(d->path);
	talloc_free(d);
}

int dh_backup_dir_sync(const struct dh_backup_dir *d)
{
	int fd, ret;

	if (dh_dirio_sync(d->fd) != 0)
		return -1;
	if (!d->made)
		return 0;
	/* A directory made by this run is an entry in its parent, which must
	 * reach the disk too: ".." of the descriptor is where that entry is,
	 * whatever the path names by now. */
	fd = openat(d->fd, "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ret = fd < 0 ? -1 : dh_dirio_sync(fd);
	if (fd >= 0)
		close(fd);
	return ret;
}

/* ------------------------------------------------------------------ */
/* Names                                                              */


/* "-n" with n >= 2, decimal, no leading zero: the end of it, or NULL. */
static const char *parse_n(const char *p, unsigned long *n)
{
	unsigned long v = 0;
	int i;

	if (*p < '1' || *p > '9')
		return NULL;
	for (i = 0; i < 9 && *p >= '0' && *p <= '9'; i++, p++)
		v = v * 10 + (unsigned long)(*p - '0');
	*n = v;
	return v >= 2 ? p : NULL;
}

/* A backup number as backup_name() writes it: at least BACKUP_SEQ_DIGITS
 * digits, no more leading zeros than that needs, at least 1. The end of
 * it, or NULL. */
static const char *parse_seq(const char *p, unsigned long *seq)
{
	char canon[24];
	size_t len = strspn(p, "0123456789");
	unsigned long v = 0;

	if (len == 0 || len > 9)
		return NULL;
	for (size_t i = 0; i < len; i++)
		v = v * 10 + (unsigned long)(p[i] - '0');
	snprintf(canon, sizeof canon, "%0*lu", BACKUP_SEQ_DIGITS, v);
	if (v == 0 || strlen(canon) != len || strncmp(canon, p, len) != 0)
		return NULL;
	*seq = v;
	return p + len;
}

/* "YYYYmmddTHHMMSSZ" into k->stamp: the end of it, or NULL. */
static const char *parse_stamp(const char *p, struct dh_backup_key *k)
{
	static const char shape[] = "########T######Z";
	size_t i;

	for (i = 0; i < sizeof shape - 1; i++)
		if (shape[i] == '#' ? p[i] < '0' || p[i] > '9' :
				      p[i] != shape[i])
			return NULL;
	memcpy(k->stamp, p, sizeof shape - 1);
	k->stamp[sizeof shape - 1] = '\0';
	return p + sizeof shape - 1;
}

/* Whether name is exactly "<base>.deskheap-<seq>-YYYYmmddTHHMMSSZ.bak",
 * or an unnumbered "<base>.deskheap-YYYYmmddTHHMMSSZ[-n].bak" of an older
 * deskheap; if so, its key. */
bool dh_backup_name_parse(const char *base, const char *name,
			  struct dh_backup_key *k)
{
	size_t len = strlen(base);
	const char *p, *q;

	if (strncmp(name, base, len) != 0 ||
	    strncmp(name + len, ".deskheap-", 10) != 0)
		return false;
	p = name + len + 10;
	*k = (struct dh_backup_key){ .n = 1 };
	q = parse_seq(p, &k->seq);
	if (q != NULL && *q == '-' && (q = parse_stamp(q + 1, k)) != NULL)
		return strcmp(q, ".bak") == 0;
	k->seq = 0;
	if ((p = parse_stamp(p, k)) == NULL)
		return false;
	if (*p == '-' && (p = parse_n(p + 1, &k->n)) == NULL)
		return false;
	return strcmp(p, ".bak") == 0;
}

/* The number decides; the clock only orders unnumbered names, which all
 * come before numbered ones. */
bool dh_backup_key_greater(const struct dh_backup_key *a,
			   const struct dh_backup_key *b)
{
	int c = strcmp(a->stamp, b->stamp);

	if (a->seq != b->seq)
		return a->seq > b->seq;
	return c > 0 || (c == 0 && a->n > b->n);
}

char *dh_backup_name(TALLOC_CTX *mem, const char *base, unsigned long seq,
		     const char *stamp)
{
	return talloc_asprintf(mem, "%s.deskheap-%0*lu-%s.bak", base,
			       BACKUP_SEQ_DIGITS, seq, stamp);
}

int dh_backup_next_number(const struct dh_backup_dir *d, const char *base,
			  unsigned long *seq)
{
	int fd = fcntl(d->fd, F_DUPFD_CLOEXEC, 0), e;
	DIR *dir = fd >= 0 ? fdopendir(fd) : NULL;
	struct dh_backup_key k;
	struct dirent *ent;

	if (dir == NULL) {
		e = errno;
		if (fd >= 0)
			close(fd);
		errno = e;
		return -1;
	}
	rewinddir(dir);
	*seq = 0;
	while ((errno = 0, ent = readdir(dir)) != NULL)
		if (dh_backup_name_parse(base, ent->d_name, &k) && k.seq > *seq)
			*seq = k.seq;
	e = errno;
	closedir(dir);
	errno = e;
	if (e != 0)
		return -1;
	*seq += 1;
	return 0;
}

/* ------------------------------------------------------------------ */
/* Per-target subdirectories of --backup-dir                          */

/* FNV-1a: a short, stable fingerprint of a path. */
static uint32_t fingerprint(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

/* The name of the subdirectory (see dh_backup_subdir()). */
static char *subdir_name(TALLOC_CTX *mem, const char *target)
{
	char *real = realpath(target, NULL);
	const char *path = real ? real : target;
	char *s = talloc_strdup(mem, path), *w = s;

	if (s != NULL) {
		for (const char *r = path; *r; r++) {
			char c = *r == '/' ? '_' : *r;

			if (c == '_' && (w == s || w[-1] == '_'))
				continue;
			*w++ = c;
		}
		while (w > s && w[-1] == '_')
			w--;
		*w = '\0';
		s = talloc_asprintf(mem, "%s-%08x", *s ? s : "root",
				    fingerprint(path));
	}
	free(real);
	return s;
}

char *dh_backup_subdir(TALLOC_CTX *mem, const char *backup_dir,
		       const char *target)
{
	char *name = subdir_name(mem, target);
	char *dir = name ? talloc_asprintf(mem, "%s/%s", backup_dir, name)
			 : NULL;

	talloc_free(name);
	return dir;
}
