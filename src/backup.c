/*
 * Making a backup set. See backup.h for the contract; the comments here
 * say why each step is done the way it is.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>
#include <linux/fs.h>

#include "backup.h"
#include "dirio.h"
#include "error.h"
#include "failpoint.h"
#include "io.h"

/* How many backup numbers to try when names are taken. */
#define BACKUP_TRIES 1000
/* The state of one dh_backup_make() call. */
struct maker {
	TALLOC_CTX *mem;        /* the caller's: errors, the result */
	TALLOC_CTX *scratch;    /* freed before returning */
	struct dh_error **err;
	int dirfd;              /* the hive's directory */
	struct dh_backup_dir *d;
	struct dh_backup_made *made;
	const char *base;       /* the hive's name, for temporary names */
	int bfd;                /* a copy being written */
	char *ctmp;             /* ...under this temporary name, in d */
	bool copy;              /* copies only, never links */
};

#define COMMIT_XATTR "user.deskheap.commit"
#define IN_PLACE "in-place"

void dh_backup_mark_in_place(const struct dh_backup_made *made)
{
	int fd = openat(made->dir->fd, made->names[0],
			O_RDONLY | O_NOFOLLOW | O_CLOEXEC);

	/* Without the mark, restore chooses as set does: nothing is lost. */
	if (fd < 0)
		return;
	(void)fsetxattr(fd, COMMIT_XATTR, IN_PLACE, strlen(IN_PLACE), 0);
	close(fd);
}

bool dh_backup_made_in_place(int fd)
{
	char v[sizeof(IN_PLACE)];
	ssize_t n = fgetxattr(fd, COMMIT_XATTR, v, sizeof(v));

	return n == (ssize_t)strlen(IN_PLACE) && memcmp(v, IN_PLACE, (size_t)n) == 0;
}

void dh_backup_note_leftover(struct dh_error **err, const char *file,
			     int errnum)
{
	struct dh_error *e = err ? *err : NULL;

	if (e == NULL || e->message == NULL)
		return;
	e->message = talloc_asprintf_append(e->message,
					    "; could not remove %s (%s): "
					    "delete it by hand",
					    file, strerror(errnum));
}

void dh_backup_remove(struct dh_backup_made *made, struct dh_error **err)
{
	while (made->n > 0) {
		size_t i = --made->n;

		if (unlinkat(made->dir->fd, made->names[i], 0) != 0)
			dh_backup_note_leftover(err, made->paths[i], errno);
	}
}

/* ------------------------------------------------------------------ */
/* Links                                                              */

/* Hard-link the file open as src, named name in the hive's directory, as
 * bname in the backup directory. Through /proc/self/fd the link is to the
 * inode we hold, whatever name names now. Returns 0 or an errno value. */
static int link_source(struct maker *k, const struct dh_meta_source *src,
		       const char *name, const char *bname)
{
	char proc[64];

	snprintf(proc, sizeof proc, "/proc/self/fd/%d", src->fd);
	if (linkat(AT_FDCWD, proc, k->d->fd, bname, AT_SYMLINK_FOLLOW) == 0)
		return 0;
	if (errno != ENOENT)
		return errno;
	/* No /proc (a bare rescue shell): link by name; link_check() then
	 * makes sure it is the inode we hold. */
	if (linkat(k->dirfd, name, k->d->fd, bname, 0) == 0)
		return 0;
	return errno;
}

/* Errors that mean "this filesystem will not make that link", where a
 * copy can still be made. */
static bool link_refused(int e)
{
	return e == EXDEV || e == EPERM || e == EMLINK || e == ENOTSUP;
}

/* The backup bname (bpath in messages) link_source() made must be src's
 * inode: a link made by name is to whatever the name held. */
static int link_check(struct maker *k, const struct dh_meta_source *src,
		      const char *bname, const char *bpath)
{
	struct stat st;

	if (fstatat(k->d->fd, bname, &st, AT_SYMLINK_NOFOLLOW) != 0)
		return dh_error_io(k->mem, k->err, errno, DH_UNCHANGED,
				   "cannot stat backup %s", bpath);
	if (!dh_dirio_same_file(&st, &src->st))
		return dh_error_set(k->mem, k->err, DH_ERR_IO,
				    "backup %s is not the %s this run read: "
				    "another program replaced it meanwhile, "
				    "ignoring the lock; run again; %s", bpath,
				    src->path, DH_UNCHANGED);
	return 0;
}

/* ------------------------------------------------------------------ */
/* Copies                                                             */

/* A copy is written under a temporary name beside where it goes, and gets
 * its own name only once complete, checked and synced (publish_copy): a run
 * killed midway leaves a temporary file (removed by the next run), never a
 * truncated file that looks like a backup. Returns 0 or an errno value;
 * EEXIST when name exists, which is never replaced. */
static int create_copy(struct maker *k, const char *name)
{
	struct stat st;

	if (fstatat(k->d->fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0)
		return EEXIST;
	if (errno != ENOENT)
		return errno;
	if (k->bfd >= 0)
		close(k->bfd);
	/* 0600 until its metadata: never more readable than its source. */
	k->bfd = dh_dirio_create_temp(k->scratch, k->d->fd, k->base, &k->ctmp);
	return k->bfd < 0 ? errno : 0;
}

/* Give the finished copy its name, never replacing a file of that name. */
static int publish_copy(struct maker *k, const char *name, const char *path)
{
	int rc = renameat2(k->d->fd, k->ctmp, k->d->fd, name,
			   RENAME_NOREPLACE);

	if (rc != 0 && (errno == EINVAL || errno == ENOSYS)) {
		/* No RENAME_NOREPLACE here: a link cannot replace either. */
		rc = linkat(k->d->fd, k->ctmp, k->d->fd, name, 0);
		if (rc == 0)
			unlinkat(k->d->fd, k->ctmp, 0);
		else if (link_refused(errno))
			/* Nor links: we hold the lock, and create_copy()
			 * saw no file of that name. */
			rc = renameat(k->d->fd, k->ctmp, k->d->fd, name);
	}
	if (rc != 0)
		return dh_error_io(k->mem, k->err, errno, DH_UNCHANGED,
				   "cannot name backup %s", path);
	k->ctmp = NULL;
	return 0;
}

/* Copy src to k->bfd, named name, as long as src is now (under the lock):
 * a reflink where the filesystem shares data between files (btrfs, xfs),
 * else in the kernel. */
static int copy_data(struct maker *k, const struct dh_meta_source *src,
		     const char *name)
{
	struct stat st;

	if (fstat(src->fd, &st) != 0)
		return dh_error_io(k->mem, k->err, errno, DH_UNCHANGED,
				   "cannot stat %s", src->path);
	if (ioctl(k->bfd, FICLONE, src->fd) == 0)
		return 0;
	if (dh_io_copy(src->fd, k->bfd, (size_t)st.st_size) != 0)
		return dh_error_io(k->mem, k->err, errno, DH_UNCHANGED,
				   "cannot copy %s to backup %s", src->path,
				   name);
	return 0;
}

/* Read the synced copy back and compare it with src. Dropping the copy's
 * cached pages first makes the read come from the device. */
static int compare_copy(struct maker *k, const struct dh_meta_source *src,
			const char *name)
{
	int same;

	posix_fadvise(k->bfd, 0, 0, POSIX_FADV_DONTNEED);
	same = dh_io_same(src->fd, k->bfd);
	if (same < 0)
		return dh_error_io(k->mem, k->err, errno, DH_UNCHANGED,
				   "cannot read back backup %s and %s to "
				   "compare them", name, src->path);
	if (same == 0)
		return dh_error_set(k->mem, k->err, DH_ERR_VERIFY,
				    "backup %s does not read back equal to "
				    "%s: check the disk it is on; %s", name,
				    src->path, DH_UNCHANGED);
	return 0;
}

static int sync_copy(struct maker *k, const char *name)
{
	if (fsync(k->bfd) == 0)
		return 0;
	return dh_error_io(k->mem, k->err, errno, DH_UNCHANGED,
			   "cannot write backup %s to disk", name);
}

/* Fill the new copy k->bfd, named name, from src: data and metadata,
 * synced once, then the data read back and checked. */
static int fill_copy(struct maker *k, const struct dh_meta_source *src,
		     const char *name)
{
	int ret = copy_data(k, src, name);

	if (ret == 0)
		ret = dh_metadata_copy(k->mem, src, k->bfd, name, true, k->err);
	if (ret == 0)
		ret = sync_copy(k, name);
	if (ret == 0)
		ret = compare_copy(k, src, name);
	return ret;
}

/* ------------------------------------------------------------------ */
/* The set                                                            */

/* A log's backup name taken is never replaced: the set would not be one
 * backup's. */
static int member_exists(struct maker *k, const struct dh_backup_member *m,
			 const char *path)
{
	return dh_error_set(k->mem, k->err, DH_ERR_IO,
			    "cannot copy %s to %s beside backup %s: that file "
			    "exists already, and replacing it could mix two "
			    "backups; move it away and run again; %s",
			    m->src.path, path, k->made->paths[0],
			    DH_UNCHANGED);
}

/* name (path in messages) is now this run's, to remove on failure. */
static int record(struct maker *k, const char *name, const char *path)
{
	struct dh_backup_made *b = k->made;

	b->names[b->n] = talloc_strdup(b->names, name);
	b->paths[b->n] = talloc_strdup(b->paths, path);
	if (b->names[b->n] == NULL || b->paths[b->n] == NULL)
		return dh_error_nomem(k->mem, k->err);
	b->n++;
	return 0;
}

/* Member m as name (path in messages): its own inode, linked; or a copy
 * where links are refused or the inode has no name left (another file was
 * renamed over it: linking by name would take the other file). 0, -1 with
 * *err set, or EEXIST when name is taken (nothing made, nothing set). */
static int keep(struct maker *k, const struct dh_backup_member *m,
		const char *name, const char *path)
{
	struct stat st;
	int e = EXDEV;

	if (fstat(m->src.fd, &st) != 0)
		return dh_error_io(k->mem, k->err, errno, DH_UNCHANGED,
				   "cannot stat %s", m->src.path);
	if (st.st_nlink > 0 && !k->copy)
		e = link_source(k, &m->src, m->name, name);
	if (e == 0)
		return record(k, name, path) == 0 ?
			link_check(k, &m->src, name, path) : -1;
	if (link_refused(e))
		e = create_copy(k, name);
	if (e == EEXIST)
		return EEXIST;
	if (e != 0)
		return dh_error_io(k->mem, k->err, e, DH_UNCHANGED,
				   "cannot create backup %s", path);
	if (fill_copy(k, &m->src, path) != 0 ||
	    publish_copy(k, name, path) != 0)
		return -1;
	return record(k, name, path);
}

static int utc_stamp(struct maker *k, char *buf, size_t size)
{
	time_t now = time(NULL);
	struct tm tm;

	if (gmtime_r(&now, &tm) == NULL ||
	    strftime(buf, size, "%Y%m%dT%H%M%SZ", &tm) == 0)
		return dh_error_set(k->mem, k->err, DH_ERR_IO,
				    "cannot format the current time for a "
				    "backup name; %s", DH_UNCHANGED);
	return 0;
}

/* The hive's backup: the next number, and after it the ones above (a name
 * taken meanwhile is never replaced). */
static int keep_hive(struct maker *k, const struct dh_backup_member *m,
		     const char *base)
{
	char stamp[32], *name, *path;
	unsigned long seq = 0;
	int e;

	if (dh_failpoint("backup") != 0)
		return dh_error_io(k->mem, k->err, errno, DH_UNCHANGED,
				   "cannot create a backup of %s", m->src.path);
	if (utc_stamp(k, stamp, sizeof stamp) != 0)
		return -1;
	if (dh_backup_next_number(k->d, base, &seq) != 0)
		return dh_error_io(k->mem, k->err, errno, DH_UNCHANGED,
				   "cannot list backup directory %s",
				   k->d->prefix);
	for (int tries = 0; tries < BACKUP_TRIES; tries++, seq++) {
		name = dh_backup_name(k->scratch, base, seq, stamp);
		path = talloc_asprintf(k->scratch, "%s%s", k->d->prefix, name);
		if (name == NULL || path == NULL)
			return dh_error_nomem(k->mem, k->err);
		if ((e = keep(k, m, name, path)) != EEXIST)
			return e;
	}
	return dh_error_set(k->mem, k->err, DH_ERR_IO,
			    "%d files named like the next backups of %s "
			    "(%s%s.deskheap-<number>-*.bak) exist already "
			    "without being backups: move them away; %s",
			    BACKUP_TRIES, m->src.path, k->d->prefix, base,
			    DH_UNCHANGED);
}

/* A log's backup: the hive's backup name + its suffix. */
static int keep_log(struct maker *k, const struct dh_backup_member *m)
{
	const struct dh_backup_made *b = k->made;
	char *name = talloc_asprintf(k->scratch, "%s%s", b->names[0], m->suffix);
	char *path = talloc_asprintf(k->scratch, "%s%s", b->paths[0], m->suffix);
	int e;

	if (name == NULL || path == NULL)
		return dh_error_nomem(k->mem, k->err);
	e = keep(k, m, name, path);
	return e == EEXIST ? member_exists(k, m, path) : e;
}

static int make_set(struct maker *k, const char *base,
		    const struct dh_backup_member *m, size_t n)
{
	if (keep_hive(k, &m[0], base) != 0)
		return -1;
	for (size_t i = 1; i < n; i++)
		if (keep_log(k, &m[i]) != 0)
			return -1;
	if (dh_backup_dir_sync(k->d) != 0)
		return dh_error_io(k->mem, k->err, errno, DH_UNCHANGED,
				   "cannot write the directory of backup %s "
				   "to disk", k->made->paths[0]);
	return 0;
}

int dh_backup_make(TALLOC_CTX *mem, int dirfd, const char *base,
		   struct dh_backup_dir *d, const struct dh_backup_member *m,
		   size_t n, bool copy, struct dh_backup_made **out,
		   struct dh_error **err)
{
	struct maker k = { .mem = mem, .err = err, .dirfd = dirfd, .d = d,
			   .base = base, .bfd = -1, .copy = copy };
	struct dh_backup_made *b = talloc_zero(mem, struct dh_backup_made);
	int ret;

	if (b == NULL || n == 0 ||
	    (b->names = talloc_zero_array(b, char *, n)) == NULL ||
	    (b->paths = talloc_zero_array(b, char *, n)) == NULL ||
	    (k.scratch = talloc_new(mem)) == NULL) {
		talloc_free(b);
		return n == 0 ? dh_error_set(mem, err, DH_ERR_ARGUMENT,
					     "a backup set needs the hive") :
				dh_error_nomem(mem, err);
	}
	b->dir = d;
	k.made = b;
	ret = make_set(&k, base, m, n);
	if (k.bfd >= 0)
		close(k.bfd);
	if (k.ctmp != NULL && unlinkat(d->fd, k.ctmp, 0) != 0)
		dh_backup_note_leftover(err, k.ctmp, errno);
	if (ret != 0) {
		dh_backup_remove(b, err);
		talloc_free(b);
	} else {
		*out = b;
	}
	talloc_free(k.scratch);
	return ret;
}
