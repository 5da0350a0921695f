/*
 * The hive's lock, and what a run holding it finds first. See lock.h.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dirio.h"
#include "error.h"
#include "interrupt.h"
#include "journal.h"
#include "lock.h"

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

/* The same opening as readers get (dh_dirio_open_file()): the same
 * refusals, with the same codes. */
static int lock_open(TALLOC_CTX *mem, struct dh_locked *l,
		     struct dh_error **err)
{
	return dh_dirio_open_file(mem, l->dirfd, l->name, l->path, &l->fd,
				  err);
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

/* The lock object, its strings and its own descriptor of the directory;
 * not yet open. */
static int locked_new(TALLOC_CTX *mem, int dirfd, const char *name,
		      const char *path, struct dh_locked **out,
		      struct dh_error **err)
{
	struct dh_locked *l;

	if (!dh_dirio_name_ok(name) || path == NULL)
		return dh_error_set(mem, err, DH_ERR_ARGUMENT,
				    "cannot lock %s: the hive must be given "
				    "as a file name (without '/') in its "
				    "directory, with a path for messages",
				    path ? path : name ? name : "a hive");
	l = talloc_zero(mem, struct dh_locked);
	if (l == NULL)
		return dh_error_nomem(mem, err);
	l->fd = -1;
	l->dirfd = -1;
	talloc_set_destructor(l, locked_close);
	l->name = talloc_strdup(l, name);
	l->path = talloc_strdup(l, path);
	if (l->name == NULL || l->path == NULL) {
		talloc_free(l);
		return dh_error_nomem(mem, err);
	}
	l->dirfd = fcntl(dirfd, F_DUPFD_CLOEXEC, 0);
	if (l->dirfd < 0) {
		dh_error_io(mem, err, errno, NULL, "cannot use the directory of "
			 "%s", path);
		talloc_free(l);
		return -1;
	}
	*out = l;
	return 0;
}

/* Whether name is ".<base>[.LOG|.LOG1|.LOG2].deskheap-tmp-XXXXXX": a
 * temporary file of this hive's (or, from older versions, of one of its
 * logs'). */
static bool stale_temp_name(const char *base, const char *name)
{
	static const char *const mid[] = { "", ".LOG", ".LOG1", ".LOG2" };
	static const char tail[] = ".deskheap-tmp-";
	size_t len = strlen(base);

	if (name[0] != '.' || strncmp(name + 1, base, len) != 0)
		return false;
	name += 1 + len;
	for (size_t i = 0; i < sizeof mid / sizeof *mid; i++) {
		size_t m = strlen(mid[i]);

		if (strncasecmp(name, mid[i], m) == 0 &&
		    strncmp(name + m, tail, sizeof tail - 1) == 0 &&
		    strlen(name + m + sizeof tail - 1) == 6)
			return true;
	}
	return false;
}

/* Temporary files a killed run left in dir: the new hive's, a backup
 * copy's, a log's new content, a journal being written. Every run that
 * makes one holds the hive's lock while it exists, and we hold it now,
 * with any unfinished journal completed: any such file is a leftover,
 * never another run's work in progress. */
static void remove_stale_temps(TALLOC_CTX *mem, int dir, const char *base)
{
	int fd = dup(dir);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *e;
	struct stat st;

	(void)mem;
	if (d == NULL) {
		if (fd >= 0)
			close(fd);
		return;
	}
	rewinddir(d);
	while ((e = readdir(d)) != NULL)
		if (stale_temp_name(base, e->d_name) &&
		    fstatat(dir, e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISREG(st.st_mode))
			unlinkat(dir, e->d_name, 0);
	closedir(d);
}

/* An earlier run's unfinished transaction is completed (or found stale)
 * before anything else: 1 when it changed which file the name is (lock
 * again), 0 when there was none, -1 on error. */
static int finish_earlier(TALLOC_CTX *mem, struct dh_locked *l,
			  struct dh_error **err)
{
	char *prefix = dh_dirio_prefix(mem, l->path), *done = NULL, *cmd = NULL;
	int ret;

	if (prefix == NULL)
		return dh_error_nomem(mem, err);
	/* Errors on mem: l is freed when locking fails. */
	ret = dh_journal_recover(mem, l->dirfd, l->name, prefix, &done, &cmd,
				 err);
	talloc_free(prefix);
	if (ret != 0)
		return -1;
	if (done == NULL)
		return 0;
	talloc_free(l->completed);
	talloc_free(l->completed_command);
	l->completed = talloc_steal(l, done);
	l->completed_command = talloc_steal(l, cmd);
	return 1;
}

int dh_lock_hive(TALLOC_CTX *mem, int dirfd, const char *name,
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
			if (dh_interrupt_stop(mem, err, path, "while waiting "
					      "for another run's lock") == 0)
				dh_error_io(mem, err, errno, NULL,
					    "cannot lock %s", path);
			goto fail;
		}
		cur = dh_dirio_still_current(l->fd, l->dirfd, l->name);
		if (cur < 0) {
			dh_error_io(mem, err, errno, NULL, "cannot stat %s", path);
			goto fail;
		}
		if (cur == 1) {
			cur = finish_earlier(mem, l, err);
			if (cur < 0)
				goto fail;
			if (cur == 0)
				break;
		}
		/* Another run renamed a new hive over name while we waited,
		 * or we just completed an earlier run's renames: a lock on
		 * the old inode protects nothing. Start again on whatever
		 * name is now. */
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

int dh_lock_peek(TALLOC_CTX *mem, int dirfd, const char *name,
		 const char *path, struct dh_locked **out,
		 struct dh_error **err)
{
	struct dh_locked *l = NULL;

	if (locked_new(mem, dirfd, name, path, &l, err) != 0)
		return -1;
	if (lock_open(mem, l, err) != 0) {
		talloc_free(l);
		return -1;
	}
	*out = l;
	return 0;
}
