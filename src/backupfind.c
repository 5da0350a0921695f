/*
 * Finding the newest backup set of a hive, for restore. See backupfind.h.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backupfind.h"
#include "dirio.h"
#include "error.h"
#include "io.h"

struct candidate {
	char *name;
	struct dh_backup_key key;
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

/* Not a link, a directory or a device that merely has the name. */
static bool is_regular(DIR *d, const char *name)
{
	struct stat st;

	return fstatat(dirfd(d), name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	       S_ISREG(st.st_mode);
}

static int consider_backup(struct find *f, const char *name)
{
	struct dh_backup_key k;
	struct candidate *c;

	if (!dh_backup_name_parse(f->hive->name, name, &k) || !is_regular(f->d, name))
		return 0;
	c = talloc_realloc(f->set, f->cands, struct candidate, f->n_cands + 1);
	if (c == NULL)
		return dh_error_nomem(f->mem, f->err);
	f->cands = c;
	c[f->n_cands].key = k;
	c[f->n_cands].name = talloc_strdup(c, name);
	if (c[f->n_cands].name == NULL)
		return dh_error_nomem(f->mem, f->err);
	f->n_cands++;
	return 0;
}

/* Newest first. */
static int cmp_candidates(const void *a, const void *b)
{
	const struct candidate *x = a, *y = b;

	return dh_backup_key_greater(&x->key, &y->key) ? -1 :
	       dh_backup_key_greater(&y->key, &x->key) ? 1 : 0;
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
		return dh_error_nomem(f->mem, f->err);
	set->logs = logs;
	logs[set->n_logs] = talloc_strdup(logs, name);
	if (logs[set->n_logs] == NULL)
		return dh_error_nomem(f->mem, f->err);
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
		return dh_error_io(f->mem, f->err, errno, NULL,
				"cannot list backup directory %s",
				f->set->dir);
	return 0;
}

static int open_listing(struct find *f, const char *backup_dir)
{
	int fd;

	/* On the caller's context, as its errors are: f->set is freed
	 * when finding fails. */
	if (dh_backup_dir_open(f->mem, f->hive, backup_dir, false, NULL,
			       &f->set->bdir, f->err) != 0)
		return -1;
	talloc_steal(f->set, f->set->bdir);
	f->set->dir = f->set->bdir->prefix;
	fd = fcntl(f->set->bdir->fd, F_DUPFD_CLOEXEC, 0);
	f->d = fd >= 0 ? fdopendir(fd) : NULL; /* owns fd, when it succeeds */
	if (f->d != NULL)
		return 0;
	if (fd >= 0)
		close(fd);
	return dh_error_io(f->mem, f->err, errno, NULL,
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

int dh_backup_find(TALLOC_CTX *mem, const struct dh_locked *hive,
		   const char *backup_dir, bool skip_identical,
		   struct dh_backup_set **out, struct dh_error **err)
{
	struct find f = { .mem = mem, .err = err, .hive = hive };
	int ret;

	if (hive == NULL || hive->dirfd < 0 || !dh_dirio_name_ok(hive->name) ||
	    hive->path == NULL)
		return dh_error_set(mem, err, DH_ERR_ARGUMENT,
				    "finding a backup needs a locked hive");
	f.set = talloc_zero(mem, struct dh_backup_set);
	if (f.set == NULL)
		return dh_error_nomem(mem, err);
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
