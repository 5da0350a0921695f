/*
 * Atomic replacement of a hive file, with a backup. See commit.h for the
 * contract; the comments here say why each step is done the way it is.
 *
 * The original hive (and every companion) is only ever opened read-only:
 * every write goes to a file this module created itself (a temporary file,
 * or a backup copy), and the original names change inode only through
 * renameat() at the end: the hive's, then the retired logs'. Everything
 * beside the hive is reached through the directory
 * descriptor the lock holds, never by path (design invariant 6): paths
 * only name files in messages.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "commit.h"
#include "failpoint.h"
#include "interrupt.h"
#include "io.h"
#include "error.h"

/* How many "-N" suffixes to try before giving up on a backup name. */
#define BACKUP_TRIES 1000
/* How many random names to try for the temporary file. */
#define TEMP_TRIES 100
/* Buffer for copying and comparing a backup copy. */
#define COPY_CHUNK (64 * 1024)

static const char UNCHANGED[] = "the hive was not changed";

/* ------------------------------------------------------------------ */
/* Messages                                                           */

/* What the user can do about errnum, or NULL when there is nothing useful
 * to say beyond the cause. */
static const char *remedy_for(int errnum)
{
	switch (errnum) {
	case ENOSPC:
	case EDQUOT:
		return "free space on that filesystem";
	case EACCES:
	case EPERM:
		return "run as root, or check that the filesystem is mounted "
		       "read-write and the directory is writable";
	case EROFS:
		return "the filesystem is mounted read-only. On NTFS the "
		       "usual cause is a Windows that was hibernated or shut "
		       "down with Fast Startup (ntfs-3g then mounts it "
		       "read-only): boot Windows, shut it down fully "
		       "(shutdown /s /t 0, or turn off Fast Startup in the "
		       "power options), then mount the volume read-write";
	case EIO:
		return "the device reported an I/O error: check the disk "
		       "(dmesg) before trying again";
	case ENOENT:
		return "check that the path exists";
	case ENOTDIR:
		return "check that the path names a directory";
	case EBADF:
		return "the file was not opened for that: a bug, please "
		       "report it";
	default:
		return dh_error_limit_remedy(errnum);
	}
}

/* DH_ERR_IO: "<action>: <cause>; <remedy>; <outcome>". outcome may be NULL
 * (nothing was being changed). */
static int __attribute__((format(printf, 5, 6)))
io_error(TALLOC_CTX *mem, struct dh_error **err, int errnum,
	 const char *outcome, const char *fmt, ...)
{
	const char *remedy = remedy_for(errnum);
	char *action;
	va_list ap;

	va_start(ap, fmt);
	action = talloc_vasprintf(mem, fmt, ap);
	va_end(ap);
	if (action == NULL)
		return dh_error_set(mem, err, DH_ERR_NOMEM, "out of memory");
	dh_error_set(mem, err, dh_error_code_for(DH_ERR_IO, errnum),
		     "%s: %s%s%s%s%s", action,
		     strerror(errnum), remedy ? "; " : "", remedy ? remedy : "",
		     outcome ? "; " : "", outcome ? outcome : "");
	talloc_free(action);
	return -1;
}

static int nomem(TALLOC_CTX *mem, struct dh_error **err)
{
	return dh_error_set(mem, err, DH_ERR_NOMEM, "out of memory");
}

/* A signal asked this process to stop (interrupt.h): -1, with why, at a
 * point where everything made so far can still be removed; else 0. */
static int stop_requested(TALLOC_CTX *mem, struct dh_error **err,
			  const char *path, const char *when)
{
	int sig = dh_interrupt_pending();

	if (sig == 0)
		return 0;
	return dh_error_set(mem, err, DH_ERR_INTERRUPTED,
			    "interrupted (signal %d, %s) %s: %s was not changed",
			    sig, strsignal(sig), when, path);
}

static bool same_file(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino;
}

/* ------------------------------------------------------------------ */
/* Locking                                                            */

static int locked_close(struct dh_locked *l)
{
	/* Closing our only descriptor of the open file releases the flock. */
	if (l->fd >= 0)
		close(l->fd);
	if (l->dirfd >= 0)
		close(l->dirfd);
	l->fd = -1;
	l->dirfd = -1;
	return 0;
}

/* A name within the directory, not a path: a '/' would leave it. */
static bool name_ok(const char *name)
{
	return name != NULL && *name != '\0' && strchr(name, '/') == NULL;
}

/* Open the hive read-only without following a final symbolic link, and
 * refuse anything but a regular file: it is about to be replaced by
 * renameat(). O_NONBLOCK, so that a FIFO is refused, not waited on. */
static int lock_open(TALLOC_CTX *mem, struct dh_locked *l,
		     struct dh_error **err)
{
	struct stat st;
	int fd;

	fd = openat(l->dirfd, l->name,
		    O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0 && errno == ELOOP)
		return dh_error_set(mem, err, DH_ERR_IO,
				    "%s is a symbolic link: refusing to "
				    "replace it; give the path of the hive "
				    "file itself",
				    l->path);
	if (fd < 0)
		return io_error(mem, err, errno, NULL, "cannot open %s",
				l->path);
	if (fstat(fd, &st) != 0) {
		int e = errno;

		close(fd);
		return io_error(mem, err, e, NULL, "cannot stat %s", l->path);
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return dh_error_set(mem, err, DH_ERR_IO,
				    "%s is not a regular file: refusing to "
				    "replace it; give the path of the hive "
				    "file",
				    l->path);
	}
	l->fd = fd;
	return 0;
}

/* Block until the exclusive lock is ours: a second run waits for the
 * first rather than failing, unless a signal asks it to stop. */
static int lock_wait(int fd)
{
	while (flock(fd, LOCK_EX) != 0)
		if (errno != EINTR || dh_interrupt_pending() != 0)
			return -1;
	return 0;
}

/* 1: name in dirfd still is the inode held at fd; 0: it is another (or
 * nothing); -1: cannot tell (errno set). */
static int still_current(int fd, int dirfd, const char *name)
{
	struct stat held, now;

	if (fstat(fd, &held) != 0)
		return -1;
	if (fstatat(dirfd, name, &now, AT_SYMLINK_NOFOLLOW) != 0)
		return errno == ENOENT ? 0 : -1;
	return same_file(&held, &now) && held.st_nlink > 0;
}

/* The lock object, its strings and its own descriptor of the directory;
 * not yet open. */
static int locked_new(TALLOC_CTX *mem, int dirfd, const char *name,
		      const char *path, struct dh_locked **out,
		      struct dh_error **err)
{
	struct dh_locked *l;

	if (!name_ok(name) || path == NULL)
		return dh_error_set(mem, err, DH_ERR_ARGUMENT,
				    "cannot lock %s: the hive must be given "
				    "as a file name (without '/') in its "
				    "directory, with a path for messages",
				    path ? path : name ? name : "a hive");
	l = talloc_zero(mem, struct dh_locked);
	if (l == NULL)
		return nomem(mem, err);
	l->fd = -1;
	l->dirfd = -1;
	talloc_set_destructor(l, locked_close);
	l->name = talloc_strdup(l, name);
	l->path = talloc_strdup(l, path);
	if (l->name == NULL || l->path == NULL) {
		talloc_free(l);
		return nomem(mem, err);
	}
	l->dirfd = fcntl(dirfd, F_DUPFD_CLOEXEC, 0);
	if (l->dirfd < 0) {
		io_error(mem, err, errno, NULL, "cannot use the directory of "
			 "%s", path);
		talloc_free(l);
		return -1;
	}
	*out = l;
	return 0;
}

/* Temporary files a killed run left in dir: the new hive's, a backup
 * copy's, or a retired log's empty file (that one even after the hive's
 * rename, when the next run may find nothing to change). Every run that
 * makes one holds the hive's lock while it exists, and we hold it now: any
 * such file is a leftover, never another run's work in progress. */
static void remove_stale_temps(TALLOC_CTX *mem, int dir, const char *base)
{
	char *prefix = talloc_asprintf(mem, ".%s.deskheap-tmp-", base);
	int fd = prefix != NULL ? dup(dir) : -1;
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *e;
	struct stat st;

	if (d == NULL) {
		if (fd >= 0)
			close(fd);
		talloc_free(prefix);
		return;
	}
	rewinddir(d);
	while ((e = readdir(d)) != NULL)
		if (strncmp(e->d_name, prefix, strlen(prefix)) == 0 &&
		    strlen(e->d_name) == strlen(prefix) + 6 &&
		    fstatat(dir, e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISREG(st.st_mode))
			unlinkat(dir, e->d_name, 0);
	closedir(d);
	talloc_free(prefix);
}

int dh_commit_lock(TALLOC_CTX *mem, int dirfd, const char *name,
		   const char *path, struct dh_locked **out,
		   struct dh_error **err)
{
	struct dh_locked *l = NULL;
	int cur;

	if (locked_new(mem, dirfd, name, path, &l, err) != 0)
		return -1;
	for (;;) {
		if (lock_open(mem, l, err) != 0)
			goto fail;
		if (lock_wait(l->fd) != 0) {
			if (stop_requested(mem, err, path,
					   "while waiting for another run's lock") == 0)
				io_error(mem, err, errno, NULL, "cannot lock %s", path);
			goto fail;
		}
		cur = still_current(l->fd, l->dirfd, l->name);
		if (cur == 1)
			break;
		if (cur < 0) {
			io_error(mem, err, errno, NULL, "cannot stat %s", path);
			goto fail;
		}
		/* Another run renamed a new hive over name while we waited:
		 * a lock on the old inode protects nothing. Start again on
		 * whatever name is now. */
		close(l->fd);
		l->fd = -1;
	}
	remove_stale_temps(mem, l->dirfd, l->name);
	*out = l;
	return 0;
fail:
	talloc_free(l);
	return -1;
}

/* ------------------------------------------------------------------ */
/* The state of one dh_commit_replace() call                          */

/* A file a copy takes its data and metadata from: the locked original,
 * or a companion. */
struct source {
	int fd;
	const char *path;
	struct stat st;         /* taken before anything was made */
};

/* A file this call made for a companion: its backup, in the backup
 * directory, or its empty replacement, beside the hive. */
struct made {
	char *name;
	char *path;             /* for messages */
	bool linked;            /* a backup that is the companion's inode */
};

struct commit {
	TALLOC_CTX *mem;        /* the caller's: errors, backup path */
	TALLOC_CTX *scratch;    /* everything else; freed before returning */
	struct dh_error **err;
	const struct dh_commit_request *req;
	struct source orig;     /* the hive, locked */
	struct source *comp;    /* the companions, or NULL with no_backup */
	struct made *made;      /* their backups made so far */
	size_t n_made;
	struct made *empty;     /* with retire_companions, per companion,
				 * its empty replacement (name NULL until
				 * made and once renamed or removed) */
	char *prefix;           /* path up to its last '/', or "" */
	const char *base;       /* the hive's name in dirfd */
	int dirfd;              /* the hive's directory (the lock's) */
	char *tmpname;          /* the temporary file in dirfd, once made */
	char *tmppath;          /* prefix + tmpname, for messages */
	int tmpfd;
	char *bprefix;          /* backup directory, as a path prefix */
	int bdirfd;             /* backup directory, or -1 with no_backup */
	bool bdir_made;         /* this call created backup_dir */
	char *bname;            /* the backup this call made, or NULL */
	char *bpath;            /* bprefix + bname, for messages */
	int bfd;                /* a backup copy being written */
	char *ctmp;             /* ...under this temporary name, in bdirfd */
};

/* retire_companions means nothing without a backup to retire them into. */
static bool retiring(const struct commit *c)
{
	return c->req->retire_companions && !c->req->no_backup;
}

static void note_leftover(struct commit *c, const char *file, int errnum)
{
	struct dh_error *e = c->err ? *c->err : NULL;

	if (e == NULL || e->message == NULL)
		return;
	e->message = talloc_asprintf_append(e->message,
					    "; could not remove %s (%s): "
					    "delete it by hand",
					    file, strerror(errnum));
}

/* Undo what this call made. The original was never written, so removing
 * our own files restores the directory as it was. */
static void commit_discard(struct commit *c)
{
	if (c->tmpname != NULL && unlinkat(c->dirfd, c->tmpname, 0) != 0)
		note_leftover(c, c->tmppath ? c->tmppath : c->tmpname, errno);
	if (c->ctmp != NULL && unlinkat(c->bdirfd, c->ctmp, 0) != 0)
		note_leftover(c, c->ctmp, errno);
	c->ctmp = NULL;
	for (size_t i = 0; c->empty != NULL && i < c->req->n_companions; i++)
		if (c->empty[i].name != NULL &&
		    unlinkat(c->dirfd, c->empty[i].name, 0) != 0)
			note_leftover(c, c->empty[i].path ?
					 c->empty[i].path : c->empty[i].name,
				      errno);
	c->empty = NULL;
	while (c->n_made > 0) {
		const struct made *m = &c->made[--c->n_made];

		if (unlinkat(c->bdirfd, m->name, 0) != 0)
			note_leftover(c, m->path, errno);
	}
	if (c->bname != NULL && unlinkat(c->bdirfd, c->bname, 0) != 0)
		note_leftover(c, c->bpath, errno);
	/* Only if empty: a directory someone else has put files in since
	 * is theirs too. */
	if (c->bdir_made && rmdir(c->req->backup_dir) != 0 &&
	    errno != ENOTEMPTY && errno != EEXIST)
		note_leftover(c, c->req->backup_dir, errno);
	c->tmpname = NULL;
	c->bname = NULL;
	c->bdir_made = false;
}

static void commit_finish(struct commit *c)
{
	if (c->bfd >= 0)
		close(c->bfd);
	if (c->tmpfd >= 0)
		close(c->tmpfd);
	if (c->bdirfd >= 0)
		close(c->bdirfd);
	talloc_free(c->scratch);
}

/* A suffix with a '/' would put the backup elsewhere, an empty one would
 * name the hive's backup itself. The name is what gets replaced when
 * retiring: given, not derived from a path meant for messages. */
static bool companion_ok(const struct dh_commit_companion *cc, bool retire)
{
	return cc->fd >= 0 && cc->path != NULL && cc->suffix != NULL &&
	       *cc->suffix != '\0' && strchr(cc->suffix, '/') == NULL &&
	       (!retire || name_ok(cc->name));
}

static int bad_companion(TALLOC_CTX *mem, const struct dh_commit_request *req,
			 size_t i, struct dh_error **err)
{
	const char *path = req->companions[i].path;

	return dh_error_set(mem, err, DH_ERR_ARGUMENT,
			    "companion %zu (%s) of the commit request "
			    "incomplete: an open file, its path, a "
			    "non-empty suffix without '/' and, to retire "
			    "it, its name in the hive's directory are "
			    "required",
			    i + 1, path ? path : "no path");
}

static int check_request(TALLOC_CTX *mem, const struct dh_commit_request *req,
			 struct dh_error **err)
{
	size_t i;

	if (req == NULL || req->hive == NULL || req->hive->fd < 0 ||
	    req->hive->dirfd < 0 || !name_ok(req->hive->name) ||
	    req->hive->path == NULL || req->write == NULL ||
	    req->verify == NULL)
		return dh_error_set(mem, err, DH_ERR_ARGUMENT,
				    "commit request incomplete: a locked hive, "
				    "a write and a verify step are required");
	if (req->n_companions > 0 && req->companions == NULL)
		return dh_error_set(mem, err, DH_ERR_ARGUMENT,
				    "commit request names %zu companions but "
				    "gives none", req->n_companions);
	for (i = 0; i < req->n_companions; i++)
		if (!companion_ok(&req->companions[i],
				  req->retire_companions))
			return bad_companion(mem, req, i, err);
	return 0;
}

/* path up to and including its last '/', or "" (on mem). */
static char *path_prefix(TALLOC_CTX *mem, const char *path)
{
	const char *slash = strrchr(path, '/');

	return talloc_strndup(mem, path, slash ? slash + 1 - path : 0);
}

/* The backup directory as a path prefix for messages: dir with a '/'
 * appended, or with dir NULL or "", the hive's (on mem). */
static char *backup_prefix(TALLOC_CTX *mem, const struct dh_locked *hive,
			   const char *dir)
{
	size_t len;

	if (dir == NULL || *dir == '\0')
		return path_prefix(mem, hive->path);
	len = strlen(dir);
	return talloc_asprintf(mem, "%s%s", dir,
			       dir[len - 1] == '/' ? "" : "/");
}

/* A descriptor of our own of the backup directory: dir, opened by path
 * (the user named it), or with dir NULL or "", the hive's directory. */
static int backup_dir_open(TALLOC_CTX *mem, const struct dh_locked *hive,
			   const char *dir, const char *outcome, int *fdp,
			   struct dh_error **err)
{
	if (dir == NULL || *dir == '\0') {
		*fdp = fcntl(hive->dirfd, F_DUPFD_CLOEXEC, 0);
		if (*fdp < 0)
			return io_error(mem, err, errno, outcome,
					"cannot use the directory of %s",
					hive->path);
		return 0;
	}
	*fdp = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (*fdp < 0)
		return io_error(mem, err, errno, outcome,
				"cannot open backup directory %s", dir);
	return 0;
}

/* backup_dir_create: make the directory, private. Only the last
 * component: a mistyped parent should fail, not grow a tree. One that
 * exists is used as it is (backup_dir_open() refuses a non-directory). */
static int make_backup_dir(struct commit *c, const char *dir)
{
	if (mkdir(dir, 0700) == 0) {
		c->bdir_made = true;
		return 0;
	}
	if (errno == EEXIST)
		return 0;
	return io_error(c->mem, c->err, errno, UNCHANGED,
			"cannot create backup directory %s", dir);
}

static int open_backup_dir(struct commit *c)
{
	const char *dir = c->req->backup_dir;

	if (c->req->no_backup)
		return 0;
	c->bprefix = backup_prefix(c->scratch, c->req->hive, dir);
	if (c->bprefix == NULL)
		return nomem(c->mem, c->err);
	if (dir != NULL && *dir != '\0' && c->req->backup_dir_create &&
	    make_backup_dir(c, dir) != 0)
		return -1;
	return backup_dir_open(c->mem, c->req->hive, dir, UNCHANGED,
			       &c->bdirfd, c->err);
}

/* A companion must be a regular file open for reading: found out here,
 * before anything is made, rather than halfway through the backup set. */
static int check_companion(struct commit *c, const struct source *s)
{
	int fl = fcntl(s->fd, F_GETFL);

	if (fl < 0)
		return io_error(c->mem, c->err, errno, UNCHANGED,
				"cannot use companion %s", s->path);
	if (!S_ISREG(s->st.st_mode))
		return dh_error_set(c->mem, c->err, DH_ERR_IO,
				    "companion %s is not a regular file: "
				    "cannot copy it with the backup; give the "
				    "hive's log file; %s", s->path, UNCHANGED);
	if ((fl & O_ACCMODE) == O_WRONLY)
		return dh_error_set(c->mem, c->err, DH_ERR_ARGUMENT,
				    "companion %s is not open for reading: "
				    "cannot copy it with the backup; open it "
				    "read-only; %s", s->path, UNCHANGED);
	return 0;
}

static int open_companions(struct commit *c)
{
	const struct dh_commit_request *r = c->req;
	size_t i;

	if (r->no_backup || r->n_companions == 0)
		return 0;
	c->comp = talloc_zero_array(c->scratch, struct source, r->n_companions);
	c->made = talloc_zero_array(c->scratch, struct made, r->n_companions);
	if (c->comp == NULL || c->made == NULL)
		return nomem(c->mem, c->err);
	if (retiring(c)) {
		c->empty = talloc_zero_array(c->scratch, struct made,
					     r->n_companions);
		if (c->empty == NULL)
			return nomem(c->mem, c->err);
	}
	for (i = 0; i < r->n_companions; i++) {
		struct source *s = &c->comp[i];

		s->fd = r->companions[i].fd;
		s->path = r->companions[i].path;
		if (fstat(s->fd, &s->st) != 0)
			return io_error(c->mem, c->err, errno, UNCHANGED,
					"cannot stat companion %s", s->path);
		if (check_companion(c, s) != 0)
			return -1;
	}
	return 0;
}

/* Everything that can fail before a file is created: so such failures
 * leave nothing to clean up. */
static int commit_init(struct commit *c)
{
	if (fstat(c->orig.fd, &c->orig.st) != 0)
		return io_error(c->mem, c->err, errno, UNCHANGED,
				"cannot stat %s", c->orig.path);
	c->prefix = path_prefix(c->scratch, c->orig.path);
	if (c->prefix == NULL)
		return nomem(c->mem, c->err);
	if (open_companions(c) != 0)
		return -1;
	if (open_backup_dir(c) != 0)
		return -1;
	/* Backup copies are made under the same kind of name; beside the
	 * hive, the lock removed them. */
	if (c->bdirfd >= 0 && c->req->backup_dir != NULL &&
	    *c->req->backup_dir != '\0')
		remove_stale_temps(c->scratch, c->bdirfd, c->base);
	return 0;
}

/* ------------------------------------------------------------------ */
/* Temporary file, write, verify                                      */

/* Six characters of [A-Za-z0-9] for a temporary file's name. O_EXCL
 * keeps any name safe; randomness only makes a clash (or someone
 * planting the name beforehand) unlikely. Without getentropy() (a kernel
 * older than 3.17), the clock, pid and attempt number must do. */
static void random_suffix(char out[7], unsigned attempt)
{
	static const char set[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
				  "abcdefghijklmnopqrstuvwxyz0123456789";
	unsigned char r[6];
	struct timespec ts;
	unsigned long x;
	int i;

	if (getentropy(r, sizeof r) != 0) {
		clock_gettime(CLOCK_REALTIME, &ts);
		x = (unsigned long)ts.tv_nsec ^ (unsigned long)ts.tv_sec ^
		    (unsigned long)getpid() << 20 ^ attempt * 2654435761UL;
		for (i = 0; i < 6; i++)
			r[i] = (unsigned char)(x >> (5 * i));
	}
	for (i = 0; i < 6; i++)
		out[i] = set[r[i] % (sizeof set - 1)];
	out[6] = '\0';
}

/* Create ".NAME.deskheap-tmp-XXXXXX" in dir, mode 0600: never more
 * readable than the hive before it gets its metadata. O_EXCL | O_NOFOLLOW:
 * never a file or link someone put there. The descriptor, or -1 with errno
 * set; *name (on scratch) is the name made, NULL on failure. */
static int open_temp(struct commit *c, int dir, char **name)
{
	char rnd[7];
	int fd = -1;

	errno = EEXIST;
	for (unsigned i = 0; i < TEMP_TRIES && fd < 0 && errno == EEXIST; i++) {
		random_suffix(rnd, i);
		talloc_free(*name);
		*name = talloc_asprintf(c->scratch, ".%s.deskheap-tmp-%s",
					c->base, rnd);
		if (*name == NULL) {
			errno = ENOMEM;
			return -1;
		}
		fd = openat(dir, *name, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW |
			    O_CLOEXEC, 0600);
	}
	if (fd < 0)
		TALLOC_FREE(*name);
	return fd;
}

static int make_temp(struct commit *c)
{
	if (dh_failpoint("temp-create") != 0 ||
	    (c->tmpfd = open_temp(c, c->dirfd, &c->tmpname)) < 0)
		return io_error(c->mem, c->err, errno, UNCHANGED,
				"cannot create a temporary file beside %s",
				c->orig.path);
	c->tmppath = talloc_asprintf(c->scratch, "%s%s", c->prefix,
				     c->tmpname);
	return c->tmppath ? 0 : nomem(c->mem, c->err);
}

/* A failed callback keeps its own code and message, moved onto the
 * caller's context, plus the news that nothing was changed. */
static int callback_failed(struct commit *c, struct dh_error *cb_err,
			   enum dh_errcode code, const char *step)
{
	if (cb_err == NULL)
		return dh_error_set(c->mem, c->err, code,
				    "%s of %s failed without a reason; %s",
				    step, c->tmppath, UNCHANGED);
	if (c->err == NULL)
		return -1;
	*c->err = talloc_steal(c->mem, cb_err);
	if (cb_err->message != NULL)
		cb_err->message = talloc_asprintf_append(cb_err->message,
							 "; %s", UNCHANGED);
	return -1;
}

static int rewind_temp(struct commit *c)
{
	if (lseek(c->tmpfd, 0, SEEK_SET) != 0)
		return io_error(c->mem, c->err, errno, UNCHANGED,
				"cannot seek in %s", c->tmppath);
	return 0;
}

static int sync_temp(struct commit *c)
{
	if (dh_failpoint("fsync") != 0 || fsync(c->tmpfd) != 0)
		return io_error(c->mem, c->err, errno, UNCHANGED,
				"cannot write %s to disk", c->tmppath);
	return 0;
}

static int write_temp(struct commit *c)
{
	const struct dh_commit_request *r = c->req;
	struct dh_error *cb_err = NULL;
	int ret;

	if (dh_failpoint("write") != 0)
		return io_error(c->mem, c->err, errno, UNCHANGED,
				"cannot write %s", c->tmppath);
	ret = r->write(r->arg, c->tmpfd, c->scratch, &cb_err);
	if (ret > 0)
		return 1;       /* nothing to write after all */
	if (ret != 0)
		return callback_failed(c, cb_err, DH_ERR_IO, "writing");
	/* Synced before verifying, so verify reads what reached the disk
	 * (as far as the kernel tells), not only what we meant to write. */
	if (sync_temp(c) != 0 || rewind_temp(c) != 0)
		return -1;
	if (dh_failpoint("verify") != 0)
		return dh_error_set(c->mem, c->err, DH_ERR_VERIFY,
				    "%s did not verify (injected); %s",
				    c->tmppath, UNCHANGED);
	if (r->verify(r->arg, c->tmpfd, c->tmppath, c->scratch, &cb_err) != 0)
		return callback_failed(c, cb_err, DH_ERR_VERIFY, "verifying");
	return 0;
}

/* ------------------------------------------------------------------ */
/* Metadata: owner, mode, extended attributes                         */

/* Owner before mode: chown() may clear set-id bits that chmod() sets. */
static int copy_owner(struct commit *c, const struct source *src, int fd,
		      const char *name)
{
	struct stat st;
	int e;

	if (fchown(fd, src->st.st_uid, src->st.st_gid) == 0)
		return 0;
	e = errno;
	/* Filesystems without Unix owners (ntfs-3g without a user mapping,
	 * vfat) refuse any chown; that is fine when the owner already is the
	 * source's. Anything else would hand the file to someone else. */
	if (e == EPERM && fstat(fd, &st) == 0 &&
	    st.st_uid == src->st.st_uid && st.st_gid == src->st.st_gid)
		return 0;
	return dh_error_set(c->mem, c->err, DH_ERR_IO,
			    "cannot give %s the owner of %s (uid %u, gid %u): "
			    "%s; run as root, which can keep another user's "
			    "ownership; %s", name, src->path,
			    (unsigned)src->st.st_uid, (unsigned)src->st.st_gid,
			    strerror(e), UNCHANGED);
}

static int copy_mode(struct commit *c, const struct source *src, int fd,
		     const char *name)
{
	mode_t want = src->st.st_mode & 07777;
	struct stat st;

	if (fchmod(fd, want) == 0)
		return 0;
	/* Same reasoning as for the owner: a filesystem with fixed modes
	 * may refuse, and that is fine when the mode is already right. */
	if (fstat(fd, &st) == 0 && (st.st_mode & 07777) == want)
		return 0;
	return io_error(c->mem, c->err, errno, UNCHANGED,
			"cannot give %s the mode of %s (%04o)", name, src->path,
			(unsigned)want);
}

/* The extended attribute names of fd, NUL-separated, in *names (on
 * scratch), *len bytes. A filesystem without them gives an empty list. */
static int list_xattrs(struct commit *c, int fd, const char *name,
		       char **names, ssize_t *len)
{
	for (;;) {
		ssize_t n = flistxattr(fd, NULL, 0);
		char *buf;

		if (n < 0 && errno == ENOTSUP) {
			*names = NULL;
			*len = 0;
			return 0;
		}
		if (n < 0)
			break;
		/* One spare byte: a size of 0 would only ask for the size. */
		buf = talloc_array(c->scratch, char, n + 1);
		if (buf == NULL)
			return nomem(c->mem, c->err);
		*len = flistxattr(fd, buf, n + 1);
		if (*len >= 0) {
			*names = buf;
			return 0;
		}
		talloc_free(buf);
		if (errno != ERANGE) /* ERANGE: the list grew; ask again */
			break;
	}
	return io_error(c->mem, c->err, errno, UNCHANGED,
			"cannot list the extended attributes of %s", name);
}

static bool has_name(const char *names, ssize_t len, const char *name)
{
	ssize_t i;

	for (i = 0; i < len; i += strlen(names + i) + 1)
		if (strcmp(names + i, name) == 0)
			return true;
	return false;
}

/* Read attribute attr of fd into *value (on scratch). Returns 0 or an
 * errno value; ENOMEM stands for talloc failing. */
static int get_xattr(struct commit *c, int fd, const char *attr, void **value,
		     ssize_t *size)
{
	for (;;) {
		ssize_t n = fgetxattr(fd, attr, NULL, 0);
		void *buf;

		if (n < 0)
			return errno;
		/* One spare byte: a size of 0 would only ask for the size. */
		buf = talloc_size(c->scratch, n + 1);
		if (buf == NULL)
			return ENOMEM;
		*size = fgetxattr(fd, attr, buf, n + 1);
		if (*size >= 0) {
			*value = buf;
			return 0;
		}
		talloc_free(buf);
		if (errno != ERANGE) /* ERANGE: the value grew; ask again */
			return errno;
	}
}

/* Copy attribute attr from src to fd. Returns 0 or an errno value;
 * ENODATA when src does not have it. */
static int copy_xattr(struct commit *c, const struct source *src, int fd,
		      const char *attr)
{
	void *value = NULL;
	ssize_t size = 0;
	int e;

	e = get_xattr(c, src->fd, attr, &value, &size);
	if (e == 0 && fsetxattr(fd, attr, value, size, 0) != 0)
		e = errno;
	talloc_free(value);
	return e;
}

/* A new file can inherit attributes its source lacks, above all a POSIX
 * ACL from the directory's default ACL, which could let someone read a
 * copy of the hive who cannot read the hive. Remove those. Only system.*
 * (ACLs) must go; a leftover of another namespace is harmless. */
static int drop_extra_xattrs(struct commit *c, const struct source *src,
			     int fd, const char *name, const char *orig,
			     ssize_t orig_len)
{
	char *names;
	ssize_t len, i;

	if (list_xattrs(c, fd, name, &names, &len) != 0)
		return -1;
	for (i = 0; i < len; i += strlen(names + i) + 1) {
		const char *attr = names + i;

		if (has_name(orig, orig_len, attr))
			continue;
		if (fremovexattr(fd, attr) != 0 && errno != ENODATA &&
		    strncmp(attr, "system.", 7) == 0)
			return io_error(c->mem, c->err, errno, UNCHANGED,
					"cannot remove extended attribute %s "
					"(which %s does not have) from %s",
					attr, src->path, name);
	}
	talloc_free(names);
	return 0;
}

/* Every attribute src lists. A backup copy may live on another kind of
 * filesystem, so for it an unsupported attribute is skipped; the
 * replacement hive sits beside the original and must get them all. */
static int copy_listed_xattrs(struct commit *c, const struct source *src,
			      int fd, const char *name, const char *orig,
			      ssize_t orig_len, bool backup)
{
	ssize_t i;
	int e;

	for (i = 0; i < orig_len; i += strlen(orig + i) + 1) {
		const char *attr = orig + i;

		e = copy_xattr(c, src, fd, attr);
		if (e == 0 || e == ENODATA) /* ENODATA: removed meanwhile */
			continue;
		if (backup && e == ENOTSUP)
			continue;
		if (e == ENOMEM)
			return nomem(c->mem, c->err);
		return io_error(c->mem, c->err, e, UNCHANGED,
				"cannot copy extended attribute %s of %s to %s",
				attr, src->path, name);
	}
	return 0;
}

/* ntfs-3g keeps the Windows security descriptor and DOS attributes in
 * these, readable by name only (listxattr does not show them). They come
 * last: with the "permissions" mount option, ntfs-3g rewrites the
 * descriptor on chmod/chown, and the original's must win. */
static int copy_ntfs_xattrs(struct commit *c, const struct source *src,
			    int fd, const char *name, const char *orig,
			    ssize_t orig_len)
{
	static const char *const attrs[] = {
		"system.ntfs_acl", "system.ntfs_attrib",
	};
	size_t i;
	int e;

	for (i = 0; i < sizeof attrs / sizeof attrs[0]; i++) {
		if (has_name(orig, orig_len, attrs[i]))
			continue; /* copied with the listed ones */
		e = copy_xattr(c, src, fd, attrs[i]);
		if (e == 0 || e == ENODATA || e == ENOTSUP)
			continue; /* not NTFS, or no such attribute */
		if (e == ENOMEM)
			return nomem(c->mem, c->err);
		return io_error(c->mem, c->err, e, UNCHANGED,
				"cannot copy %s of %s to %s", attrs[i],
				src->path, name);
	}
	return 0;
}

/* The result must have its source's mode and owner exactly: checked
 * rather than assumed, since ACL attributes also set mode bits. */
static int check_metadata(struct commit *c, const struct source *src, int fd,
			  const char *name)
{
	struct stat st;

	if (fstat(fd, &st) != 0)
		return io_error(c->mem, c->err, errno, UNCHANGED,
				"cannot stat %s", name);
	if ((st.st_mode & 07777) == (src->st.st_mode & 07777) &&
	    st.st_uid == src->st.st_uid && st.st_gid == src->st.st_gid)
		return 0;
	return dh_error_set(c->mem, c->err, DH_ERR_IO,
			    "%s got mode %04o uid %u gid %u, not those of %s "
			    "(%04o uid %u gid %u): the filesystem does not "
			    "keep them; use a filesystem with Unix "
			    "permissions; %s",
			    name, (unsigned)(st.st_mode & 07777),
			    (unsigned)st.st_uid, (unsigned)st.st_gid, src->path,
			    (unsigned)(src->st.st_mode & 07777),
			    (unsigned)src->st.st_uid, (unsigned)src->st.st_gid,
			    UNCHANGED);
}

/* Give fd (named name) the owner, mode and extended attributes of src. */
static int copy_metadata(struct commit *c, const struct source *src, int fd,
			 const char *name, bool backup)
{
	if (dh_failpoint("metadata") != 0)
		return io_error(c->mem, c->err, errno, UNCHANGED,
				"cannot copy the metadata of %s to %s",
				src->path, name);
	char *orig;
	ssize_t len;
	int ret;

	if (copy_owner(c, src, fd, name) != 0 ||
	    copy_mode(c, src, fd, name) != 0)
		return -1;
	if (list_xattrs(c, src->fd, src->path, &orig, &len) != 0)
		return -1;
	ret = drop_extra_xattrs(c, src, fd, name, orig, len);
	if (ret == 0)
		ret = copy_listed_xattrs(c, src, fd, name, orig, len, backup);
	if (ret == 0)
		ret = copy_ntfs_xattrs(c, src, fd, name, orig, len);
	if (ret == 0)
		ret = check_metadata(c, src, fd, name);
	talloc_free(orig);
	return ret;
}

/* ------------------------------------------------------------------ */
/* Backup                                                             */

static int backup_stamp(struct commit *c, char *buf, size_t size)
{
	time_t now = time(NULL);
	struct tm tm;

	if (gmtime_r(&now, &tm) == NULL ||
	    strftime(buf, size, "%Y%m%dT%H%M%SZ", &tm) == 0)
		return dh_error_set(c->mem, c->err, DH_ERR_IO,
				    "cannot format the current time for a "
				    "backup name; %s", UNCHANGED);
	return 0;
}

/* "NAME.deskheap-<stamp>.bak", or "...-<n>.bak" from n = 2 on. */
static char *backup_name(struct commit *c, const char *stamp, int n)
{
	if (n == 1)
		return talloc_asprintf(c->scratch, "%s.deskheap-%s.bak",
				       c->base, stamp);
	return talloc_asprintf(c->scratch, "%s.deskheap-%s-%d.bak", c->base,
			       stamp, n);
}

/* Hard-link the file open as src, named name in the hive's directory, as
 * bname in the backup directory. Through /proc/self/fd the link is to the
 * inode we hold, whatever name names now. Returns 0 or an errno value. */
static int link_source(struct commit *c, const struct source *src,
		       const char *name, const char *bname)
{
	char proc[64];

	snprintf(proc, sizeof proc, "/proc/self/fd/%d", src->fd);
	if (linkat(AT_FDCWD, proc, c->bdirfd, bname, AT_SYMLINK_FOLLOW) == 0)
		return 0;
	if (errno != ENOENT)
		return errno;
	/* No /proc (a bare rescue shell): link by name; link_check() then
	 * makes sure it is the inode we hold. */
	if (linkat(c->dirfd, name, c->bdirfd, bname, 0) == 0)
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
static int link_check(struct commit *c, const struct source *src,
		      const char *bname, const char *bpath)
{
	struct stat st;

	if (fstatat(c->bdirfd, bname, &st, AT_SYMLINK_NOFOLLOW) != 0)
		return io_error(c->mem, c->err, errno, UNCHANGED,
				"cannot stat backup %s", bpath);
	if (!same_file(&st, &src->st))
		return dh_error_set(c->mem, c->err, DH_ERR_IO,
				    "backup %s is not the %s this run read: "
				    "another program replaced it meanwhile, "
				    "ignoring the lock; run again; %s", bpath,
				    src->path, UNCHANGED);
	return 0;
}

/* A copy is written under a temporary name beside where it goes, and gets
 * its own name only once complete, checked and synced (publish_copy): a run
 * killed midway leaves a temporary file (removed by the next run), never a
 * truncated file that looks like a backup. Returns 0 or an errno value;
 * EEXIST when name exists, which is never replaced. */
static int create_copy(struct commit *c, const char *name)
{
	struct stat st;

	if (fstatat(c->bdirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0)
		return EEXIST;
	if (errno != ENOENT)
		return errno;
	if (c->bfd >= 0)
		close(c->bfd);
	/* 0600 until copy_metadata(): never more readable than its source. */
	c->bfd = open_temp(c, c->bdirfd, &c->ctmp);
	return c->bfd < 0 ? errno : 0;
}

/* Give the finished copy its name, never replacing a file of that name. */
static int publish_copy(struct commit *c, const char *name, const char *path)
{
	int rc = renameat2(c->bdirfd, c->ctmp, c->bdirfd, name,
			   RENAME_NOREPLACE);

	if (rc != 0 && (errno == EINVAL || errno == ENOSYS)) {
		/* No RENAME_NOREPLACE here: a link cannot replace either. */
		rc = linkat(c->bdirfd, c->ctmp, c->bdirfd, name, 0);
		if (rc == 0)
			unlinkat(c->bdirfd, c->ctmp, 0);
		else if (link_refused(errno))
			/* Nor links: we hold the lock, and create_copy()
			 * saw no file of that name. */
			rc = renameat(c->bdirfd, c->ctmp, c->bdirfd, name);
	}
	if (rc != 0)
		return io_error(c->mem, c->err, errno, UNCHANGED,
				"cannot name backup %s", path);
	c->ctmp = NULL;
	return 0;
}

/* Copy src to c->bfd, named name, up to src's end of file (not a size
 * taken earlier). */
static int copy_data(struct commit *c, const struct source *src,
		     const char *name, char *buf)
{
	off_t off = 0;
	ssize_t n;

	for (;;) {
		n = dh_io_pread_full(src->fd, buf, COPY_CHUNK, off);
		if (n < 0)
			return io_error(c->mem, c->err, errno, UNCHANGED,
					"cannot read %s", src->path);
		if (n == 0)
			return 0;
		if (dh_io_write_all(c->bfd, buf, n) != 0)
			return io_error(c->mem, c->err, errno, UNCHANGED,
					"cannot write backup %s", name);
		off += n;
	}
}

/* Read the synced copy back and compare it with src. Dropping the copy's
 * cached pages first makes the read come from the device. */
static int compare_copy(struct commit *c, const struct source *src,
			const char *name)
{
	int same;

	posix_fadvise(c->bfd, 0, 0, POSIX_FADV_DONTNEED);
	same = dh_io_same(src->fd, c->bfd);
	if (same < 0)
		return io_error(c->mem, c->err, errno, UNCHANGED,
				"cannot read back backup %s and %s to "
				"compare them", name, src->path);
	if (same == 0)
		return dh_error_set(c->mem, c->err, DH_ERR_VERIFY,
				    "backup %s does not read back equal to "
				    "%s: check the disk it is on; %s", name,
				    src->path, UNCHANGED);
	return 0;
}

/* Fill the new copy c->bfd, named name, from src: data, checked, then
 * metadata; synced. */
static int fill_copy(struct commit *c, const struct source *src,
		     const char *name)
{
	char *buf;
	int ret;

	buf = talloc_size(c->scratch, COPY_CHUNK);
	if (buf == NULL)
		return nomem(c->mem, c->err);
	ret = copy_data(c, src, name, buf);
	if (ret == 0 && fsync(c->bfd) != 0)
		ret = io_error(c->mem, c->err, errno, UNCHANGED,
			       "cannot write backup %s to disk", name);
	if (ret == 0)
		ret = compare_copy(c, src, name);
	if (ret == 0)
		ret = copy_metadata(c, src, c->bfd, name, true);
	if (ret == 0 && fsync(c->bfd) != 0)
		ret = io_error(c->mem, c->err, errno, UNCHANGED,
			       "cannot write backup %s to disk", name);
	talloc_free(buf);
	return ret;
}

/* Try name after name (never replacing an existing file): first as a
 * hard link, and once the filesystem refuses links, as a copy. */
static int make_backup(struct commit *c)
{
	char stamp[32], *name;
	bool copy = false;
	int n = 1, e;

	if (dh_failpoint("backup") != 0)
		return io_error(c->mem, c->err, errno, UNCHANGED,
				"cannot create a backup of %s", c->orig.path);
	if (backup_stamp(c, stamp, sizeof stamp) != 0)
		return -1;
	while (n <= BACKUP_TRIES) {
		name = backup_name(c, stamp, n);
		if (name == NULL)
			return nomem(c->mem, c->err);
		e = copy ? create_copy(c, name) :
			   link_source(c, &c->orig, c->base, name);
		if (e == EEXIST) {
			n++;
			continue;
		}
		if (!copy && link_refused(e)) {
			copy = true;
			continue;
		}
		c->bpath = talloc_asprintf(c->scratch, "%s%s", c->bprefix,
					   name);
		if (c->bpath == NULL)
			return nomem(c->mem, c->err);
		if (e != 0)
			return io_error(c->mem, c->err, e, UNCHANGED,
					"cannot create backup %s", c->bpath);
		if (!copy) {
			c->bname = name;
			return link_check(c, &c->orig, name, c->bpath);
		}
		if (fill_copy(c, &c->orig, c->bpath) != 0 ||
		    publish_copy(c, name, c->bpath) != 0)
			return -1;
		c->bname = name;
		return 0;
	}
	return dh_error_set(c->mem, c->err, DH_ERR_IO,
			    "%d backups of %s named %s%s.deskheap-%s*.bak "
			    "exist already: remove some; %s", BACKUP_TRIES,
			    c->orig.path, c->bprefix, c->base, stamp,
			    UNCHANGED);
}

/* A file with the name of a companion's backup is never replaced: the set
 * would not be one backup's. */
static int companion_exists(struct commit *c, size_t i, const struct made *m)
{
	return dh_error_set(c->mem, c->err, DH_ERR_IO,
			    "cannot copy %s to %s beside backup %s: that file "
			    "exists already, and replacing it could mix two "
			    "backups; move it away and run again; %s",
			    c->comp[i].path, m->path, c->bpath, UNCHANGED);
}

/* A verified copy of companion i as m: without retiring, the log stays in
 * use beside the new hive and Windows rewrites it in place, which would
 * change a linked "backup" too. */
static int copy_companion(struct commit *c, size_t i, struct made *m)
{
	int e = create_copy(c, m->name);

	if (e == EEXIST)
		return companion_exists(c, i, m);
	if (e != 0)
		return io_error(c->mem, c->err, e, UNCHANGED,
				"cannot create backup %s", m->path);
	if (fill_copy(c, &c->comp[i], m->path) != 0 ||
	    publish_copy(c, m->name, m->path) != 0)
		return -1;
	c->n_made++;
	return 0;
}

/* Retiring: companion i's own inode as m, as the hive's backup is the
 * hive's, since an empty file takes its live name. A copy where links are
 * refused, or when the inode has no name left (another file was renamed
 * over it): then no link can be made, and linking by name would take the
 * other file. */
static int link_companion(struct commit *c, size_t i, struct made *m)
{
	const struct source *s = &c->comp[i];
	struct stat st;
	int e;

	if (fstat(s->fd, &st) != 0)
		return io_error(c->mem, c->err, errno, UNCHANGED,
				"cannot stat companion %s", s->path);
	if (st.st_nlink == 0)
		return copy_companion(c, i, m);
	e = link_source(c, s, c->req->companions[i].name, m->name);
	if (link_refused(e))
		return copy_companion(c, i, m);
	if (e == EEXIST)
		return companion_exists(c, i, m);
	if (e != 0)
		return io_error(c->mem, c->err, e, UNCHANGED,
				"cannot create backup %s", m->path);
	m->linked = true;
	c->n_made++;
	return link_check(c, s, m->name, m->path);
}

/* Companion i's backup, named the backup's name + its suffix. */
static int backup_companion(struct commit *c, size_t i)
{
	const char *suffix = c->req->companions[i].suffix;
	struct made *m = &c->made[c->n_made];

	m->name = talloc_asprintf(c->scratch, "%s%s", c->bname, suffix);
	m->path = talloc_asprintf(c->scratch, "%s%s", c->bpath, suffix);
	if (m->name == NULL || m->path == NULL)
		return nomem(c->mem, c->err);
	return retiring(c) ? link_companion(c, i, m) : copy_companion(c, i, m);
}

static int backup_companions(struct commit *c)
{
	size_t i;

	for (i = 0; i < c->req->n_companions; i++)
		if (backup_companion(c, i) != 0)
			return -1;
	return 0;
}

/* Step 6: the empty file that takes companion i's name once the hive is
 * replaced, with its owner, mode and attributes as the new hive gets the
 * original's; synced, so what the rename puts in place is complete. */
static int make_empty(struct commit *c, size_t i)
{
	const struct source *s = &c->comp[i];
	struct made *m = &c->empty[i];
	int fd, ret;

	if (dh_failpoint("temp-create") != 0 ||
	    (fd = open_temp(c, c->dirfd, &m->name)) < 0)
		return io_error(c->mem, c->err, errno, UNCHANGED,
				"cannot create a temporary file beside %s",
				s->path);
	m->path = talloc_asprintf(c->scratch, "%s%s", c->prefix, m->name);
	if (m->path == NULL)
		ret = nomem(c->mem, c->err);
	else
		ret = copy_metadata(c, s, fd, m->path, false);
	if (ret == 0 && (dh_failpoint("fsync") != 0 || fsync(fd) != 0))
		ret = io_error(c->mem, c->err, errno, UNCHANGED,
			       "cannot write %s to disk", m->path);
	close(fd);
	return ret;
}

static int make_empties(struct commit *c)
{
	size_t i;

	for (i = 0; retiring(c) && i < c->req->n_companions; i++)
		if (make_empty(c, i) != 0)
			return -1;
	return 0;
}

/* fsync a directory so an entry made in it survives a crash. Some
 * filesystems cannot sync a directory (EINVAL): their entries are then as
 * durable as they can be made. */
static int sync_dir(int fd)
{
	if (dh_failpoint("dir-fsync") != 0)
		return -1;
	if (fsync(fd) == 0 || errno == EINVAL || errno == ENOTSUP)
		return 0;
	return -1;
}

/* A backup directory this call made is an entry in its parent, which
 * must reach the disk too. ".." of the descriptor is where that entry is,
 * whatever the path names by now. */
static int sync_made_dir(struct commit *c)
{
	int fd, ret;

	if (!c->bdir_made)
		return 0;
	fd = openat(c->bdirfd, "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ret = fd < 0 ? -1 : sync_dir(fd);
	if (ret != 0)
		io_error(c->mem, c->err, errno, UNCHANGED,
			 "cannot write the directory holding %s to disk",
			 c->req->backup_dir);
	if (fd >= 0)
		close(fd);
	return ret;
}

/* ------------------------------------------------------------------ */
/* The commit                                                         */

/* Steps 1-6 of commit.h, and the backup set made durable before the
 * rename can make it the only copy of the old hive. */
static int stopped(struct commit *c)
{
	return stop_requested(c->mem, c->err, c->orig.path,
			      "before the hive was replaced");
}

static int commit_prepare(struct commit *c)
{
	int ret;

	if (stopped(c) != 0 || make_temp(c) != 0)
		return -1;
	if ((ret = write_temp(c)) != 0)
		return ret;
	if (stopped(c) != 0 ||
	    copy_metadata(c, &c->orig, c->tmpfd, c->tmppath, false) != 0)
		return -1;
	if (sync_temp(c) != 0) /* the metadata too, before the rename */
		return -1;
	if (c->req->no_backup)
		return 0;
	if (stopped(c) != 0 || make_backup(c) != 0 ||
	    backup_companions(c) != 0)
		return -1;
	if (sync_dir(c->bdirfd) != 0) /* the companions' entries too */
		return io_error(c->mem, c->err, errno, UNCHANGED,
				"cannot write the directory of backup %s to "
				"disk", c->bpath);
	if (sync_made_dir(c) != 0)
		return -1;
	return make_empties(c);
}

/* Step 7. The lock only binds programs that take it, so check once more
 * that the name is the file we locked, read and backed up. */
static int commit_rename(struct commit *c)
{
	int cur = still_current(c->orig.fd, c->dirfd, c->base);

	if (cur < 0)
		return io_error(c->mem, c->err, errno, UNCHANGED,
				"cannot stat %s", c->orig.path);
	if (cur == 0)
		return dh_error_set(c->mem, c->err, DH_ERR_IO,
				    "%s was replaced by another program while "
				    "locked: run again; %s", c->orig.path,
				    UNCHANGED);
	if (dh_failpoint("rename") != 0)
		return io_error(c->mem, c->err, errno, UNCHANGED,
				"cannot rename %s to %s", c->tmppath,
				c->orig.path);
	/* The last safe point: from the rename on, the change completes. */
	if (stopped(c) != 0)
		return -1;
	dh_interrupt_past_no_return();
	if (renameat(c->dirfd, c->tmpname, c->dirfd, c->base) != 0)
		return io_error(c->mem, c->err, errno, UNCHANGED,
				"cannot rename %s to %s", c->tmppath,
				c->orig.path);
	c->tmpname = NULL; /* it is the hive now */
	return 0;
}

/* The end of step 7: the renames made durable. */
static int commit_sync(struct commit *c)
{
	if (sync_dir(c->dirfd) == 0)
		return 0;
	return io_error(c->mem, c->err, errno,
			"the hive was replaced but may not survive a crash: "
			"run sync before shutting down",
			"cannot write the directory of %s to disk",
			c->orig.path);
}

/* After the hive's rename: live log i could not be replaced by its empty
 * file. Stale, it is harmless beside the clean hive; but a linked backup
 * still shares its inode, which Windows would write into. */
static int log_kept(struct commit *c, size_t i, int errnum)
{
	const char *live = c->comp[i].path, *bak = c->made[i].path;
	char *outcome;

	if (c->made[i].linked)
		outcome = talloc_asprintf(c->scratch, "the hive was replaced, "
					  "but %s still shares its data with "
					  "the backup %s, and Windows would "
					  "write into both: copy %s somewhere "
					  "safe, then delete %s (Windows makes "
					  "a new one)", live, bak, bak, live);
	else
		outcome = talloc_asprintf(c->scratch, "the hive was replaced; "
					  "%s keeps its old data, which "
					  "Windows ignores beside the clean "
					  "hive, and the backup %s is a copy "
					  "of its own", live, bak);
	if (outcome == NULL)
		return nomem(c->mem, c->err);
	return io_error(c->mem, c->err, errnum, outcome,
			"cannot replace %s by an empty log", live);
}

/* Step 7, for companion i: its empty file goes over its name, unless
 * another file has the name by now: that is not ours to replace, and the
 * backup no longer shares an inode with the live log. */
static int retire_one(struct commit *c, size_t i)
{
	const char *name = c->req->companions[i].name;
	struct made *m = &c->empty[i];
	int cur = still_current(c->comp[i].fd, c->dirfd, name), ret = 0;

	if (cur == 1 && dh_failpoint("log-rename") == 0 &&
	    renameat(c->dirfd, m->name, c->dirfd, name) == 0) {
		m->name = NULL;
		return 0;
	}
	if (cur != 0)
		ret = log_kept(c, i, errno);
	/* A leftover is removed by the next run, as after a kill. */
	if (unlinkat(c->dirfd, m->name, 0) != 0 && ret != 0)
		note_leftover(c, m->path, errno);
	m->name = NULL;
	return ret;
}

/* After the rename nothing is undone, and each failure names something the
 * user must see to: a later one is added to the first (returned, for the
 * next), not put in its place. */
static struct dh_error *late_error(struct commit *c, struct dh_error *first)
{
	struct dh_error *e = c->err != NULL ? *c->err : NULL;

	if (first == NULL || e == NULL || first->message == NULL ||
	    e->message == NULL)
		return e;
	first->message = talloc_asprintf_append(first->message, "; also, %s",
						e->message);
	*c->err = first;
	talloc_free(e);
	return first;
}

/* The new hive is in place and the backup (if any) is the only copy of
 * the old one. The logs go after the hive, deliberately: a crash between
 * the renames leaves a clean hive with stale logs, which Windows ignores;
 * logs first could leave the old dirty hive with empty logs, its pending
 * changes lost. */
static int commit_after(struct commit *c)
{
	struct dh_error *first = NULL;
	int ret = 0;
	size_t i;

	for (i = 0; retiring(c) && i < c->req->n_companions; i++)
		if (retire_one(c, i) != 0) {
			first = late_error(c, first);
			ret = -1;
		}
	if (commit_sync(c) != 0) {
		late_error(c, first);
		ret = -1;
	}
	return ret;
}

int dh_commit_replace(TALLOC_CTX *mem, const struct dh_commit_request *req,
		      char **backup_path, struct dh_error **err)
{
	struct commit c = {
		.mem = mem, .err = err, .req = req,
		.tmpfd = -1, .bdirfd = -1, .bfd = -1,
	};
	int ret;

	if (backup_path != NULL)
		*backup_path = NULL;
	if (check_request(mem, req, err) != 0)
		return -1;
	c.orig.fd = req->hive->fd;
	c.orig.path = req->hive->path;
	c.dirfd = req->hive->dirfd;
	c.base = req->hive->name;
	c.scratch = talloc_new(mem);
	if (c.scratch == NULL)
		return nomem(mem, err);
	ret = commit_init(&c);
	if (ret == 0)
		ret = commit_prepare(&c);
	if (ret == 0 && commit_rename(&c) != 0)
		ret = -1;
	if (ret != 0)
		commit_discard(&c);
	if (ret == 0 && backup_path != NULL && c.bpath != NULL)
		*backup_path = talloc_steal(mem, c.bpath);
	if (ret == 0)
		ret = commit_after(&c);
	commit_finish(&c);
	return ret;
}

/* ------------------------------------------------------------------ */
/* Finding the newest backup set                                      */

/* A backup's place in the order: its stamp, then its n. */
struct backup_key {
	char stamp[17];         /* YYYYmmddTHHMMSSZ: sorts as time does */
	unsigned long n;        /* 1 without "-n" */
};

struct candidate {
	char *name;
	struct backup_key key;
};

struct find {
	TALLOC_CTX *mem;        /* the caller's: errors */
	struct dh_error **err;
	const struct dh_locked *hive;
	struct dh_backup_set *set;  /* the result, on mem */
	DIR *d;
	struct candidate *cands;    /* every backup of the hive, on set */
	size_t n_cands;
};

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

/* Whether name is exactly "<base>.deskheap-YYYYmmddTHHMMSSZ[-n].bak";
 * if so, its key. */
static bool parse_backup_name(const char *base, const char *name,
			      struct backup_key *k)
{
	static const char shape[] = "########T######Z";
	size_t len = strlen(base), i;
	const char *p;

	if (strncmp(name, base, len) != 0 ||
	    strncmp(name + len, ".deskheap-", 10) != 0)
		return false;
	p = name + len + 10;
	for (i = 0; i < sizeof shape - 1; i++)
		if (shape[i] == '#' ? p[i] < '0' || p[i] > '9' :
				      p[i] != shape[i])
			return false;
	memcpy(k->stamp, p, sizeof shape - 1);
	k->stamp[sizeof shape - 1] = '\0';
	p += sizeof shape - 1;
	k->n = 1;
	if (*p == '-' && (p = parse_n(p + 1, &k->n)) == NULL)
		return false;
	return strcmp(p, ".bak") == 0;
}

static bool key_greater(const struct backup_key *a,
			const struct backup_key *b)
{
	int c = strcmp(a->stamp, b->stamp);

	return c > 0 || (c == 0 && a->n > b->n);
}

/* Not a link, a directory or a device that merely has the name. */
static bool is_regular(DIR *d, const char *name)
{
	struct stat st;

	return fstatat(dirfd(d), name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	       S_ISREG(st.st_mode);
}

static int consider_backup(struct find *f, const char *name)
{
	struct backup_key k;
	struct candidate *c;

	if (!parse_backup_name(f->hive->name, name, &k) || !is_regular(f->d, name))
		return 0;
	c = talloc_realloc(f->set, f->cands, struct candidate, f->n_cands + 1);
	if (c == NULL)
		return nomem(f->mem, f->err);
	f->cands = c;
	c[f->n_cands].key = k;
	c[f->n_cands].name = talloc_strdup(c, name);
	if (c[f->n_cands].name == NULL)
		return nomem(f->mem, f->err);
	f->n_cands++;
	return 0;
}

/* Newest first. */
static int cmp_candidates(const void *a, const void *b)
{
	const struct candidate *x = a, *y = b;

	return key_greater(&x->key, &y->key) ? -1 :
	       key_greater(&y->key, &x->key) ? 1 : 0;
}

/* Whether the file `name` of the listing holds the same bytes as the file
 * open at fd. */
static bool same_content(struct find *f, const char *name, int fd)
{
	int bfd = openat(dirfd(f->d), name,
			 O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);
	bool same = bfd >= 0 && dh_io_same(fd, bfd) == 1;

	if (bfd >= 0)
		close(bfd);
	return same;
}

/* The newest backup, passing over those identical to the hive as it is
 * now when asked: restoring one would change nothing (the backup a killed
 * restore made of it, say), and the one before it is what was meant. */
static int choose_backup(struct find *f, bool skip_identical)
{
	if (f->n_cands > 1)
		qsort(f->cands, f->n_cands, sizeof *f->cands, cmp_candidates);
	for (size_t i = 0; i < f->n_cands; i++) {
		if (skip_identical && same_content(f, f->cands[i].name, f->hive->fd))
			continue;
		f->set->hive = f->cands[i].name;
		return 0;
	}
	if (f->n_cands > 0)
		return dh_error_set(f->mem, f->err, DH_ERR_ARGUMENT,
				    "every deskheap backup of %s in %s holds what it holds now: nothing to restore",
				    f->hive->path, *f->set->dir ? f->set->dir : "the current directory");
	return 0;
}

/* ".LOG", ".LOG1" or ".LOG2", in any case, as Windows names logs. */
static bool log_suffix(const char *s)
{
	return strcasecmp(s, ".LOG") == 0 || strcasecmp(s, ".LOG1") == 0 ||
	       strcasecmp(s, ".LOG2") == 0;
}

static int consider_log(struct find *f, const char *name)
{
	struct dh_backup_set *set = f->set;
	size_t len = strlen(set->hive);
	char **logs;

	if (strncmp(name, set->hive, len) != 0 || !log_suffix(name + len) ||
	    !is_regular(f->d, name))
		return 0;
	logs = talloc_realloc(set, set->logs, char *, set->n_logs + 1);
	if (logs == NULL)
		return nomem(f->mem, f->err);
	set->logs = logs;
	logs[set->n_logs] = talloc_strdup(logs, name);
	if (logs[set->n_logs] == NULL)
		return nomem(f->mem, f->err);
	set->n_logs++;
	return 0;
}

/* Call fn on every entry of the directory, from its start. */
static int each_entry(struct find *f,
		      int (*fn)(struct find *, const char *))
{
	struct dirent *e;

	rewinddir(f->d);
	for (;;) {
		errno = 0;
		e = readdir(f->d);
		if (e == NULL)
			break;
		if (fn(f, e->d_name) != 0)
			return -1;
	}
	if (errno != 0)
		return io_error(f->mem, f->err, errno, NULL,
				"cannot list backup directory %s",
				f->set->dir);
	return 0;
}

static int open_listing(struct find *f, const char *backup_dir)
{
	int fd;

	f->set->dir = backup_prefix(f->set, f->hive, backup_dir);
	if (f->set->dir == NULL)
		return nomem(f->mem, f->err);
	if (backup_dir_open(f->mem, f->hive, backup_dir, NULL, &fd,
			    f->err) != 0)
		return -1;
	f->d = fdopendir(fd); /* owns fd from here on, when it succeeds */
	if (f->d != NULL)
		return 0;
	close(fd);
	return io_error(f->mem, f->err, errno, NULL,
			"cannot list backup directory %s", f->set->dir);
}

static int no_backup_found(struct find *f)
{
	const char *dir = *f->set->dir ? f->set->dir : "the current directory";

	return dh_error_set(f->mem, f->err, DH_ERR_ARGUMENT,
			    "no deskheap backup of %s in %s: no regular file "
			    "there is named %s.deskheap-<UTC time>.bak; if "
			    "the backups were made in another directory, "
			    "name it with --backup-dir",
			    f->hive->path, dir, f->hive->name);
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int dh_commit_find_backup(TALLOC_CTX *mem, const struct dh_locked *hive,
			  const char *backup_dir, bool skip_identical,
			  struct dh_backup_set **out, struct dh_error **err)
{
	struct find f = { .mem = mem, .err = err, .hive = hive };
	int ret;

	if (hive == NULL || hive->dirfd < 0 || !name_ok(hive->name) ||
	    hive->path == NULL)
		return dh_error_set(mem, err, DH_ERR_ARGUMENT,
				    "finding a backup needs a locked hive");
	f.set = talloc_zero(mem, struct dh_backup_set);
	if (f.set == NULL)
		return nomem(mem, err);
	ret = open_listing(&f, backup_dir);
	if (ret == 0)
		ret = each_entry(&f, consider_backup);
	if (ret == 0)
		ret = choose_backup(&f, skip_identical);
	if (ret == 0 && f.set->hive == NULL)
		ret = no_backup_found(&f);
	if (ret == 0)
		ret = each_entry(&f, consider_log);
	if (f.d != NULL)
		closedir(f.d);
	if (ret != 0) {
		talloc_free(f.set);
		return -1;
	}
	if (f.set->n_logs > 1)
		qsort(f.set->logs, f.set->n_logs, sizeof *f.set->logs,
		      cmp_names);
	*out = f.set;
	return 0;
}
