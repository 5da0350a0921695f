#include "config.h"

#include <dirent.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <linux/fs.h>

#include "dirio.h"
#include "error.h"
#include "io.h"
#include "sniff.h"
#include "target.h"

/* The layouts of a Windows volume, below its root. */
static const char *const LAYOUTS[][3] = {
	{ "Windows", "System32", "config" },
	{ "WINNT", "system32", "config" },
};
#define N_LAYOUTS (sizeof(LAYOUTS) / sizeof(LAYOUTS[0]))
static const char HIVE_NAME[] = "SYSTEM";

static const char *const LOG_SUFFIXES[] = { ".LOG", ".LOG1", ".LOG2" };
#define N_SUFFIXES (sizeof(LOG_SUFFIXES) / sizeof(LOG_SUFFIXES[0]))

/* Hive files are at most 4 GiB (32-bit sizes in the base block); a larger
 * "log" is not one, and reading it would only exhaust memory. */
#define MAX_FILE_SIZE ((off_t)1 << 32)

struct mapping {
	void *addr;
	size_t len;
};

static int unmap(struct mapping *m)
{
	munmap(m->addr, m->len);
	return 0;
}

int dh_target_map_fd(TALLOC_CTX *mem, int fd, const char *name,
		     const uint8_t **data, size_t *len, void **owner,
		     struct dh_error **err)
{
	struct mapping *m;
	struct stat st;

	if (fstat(fd, &st) != 0)
		return dh_error_errno(mem, err, DH_ERR_IO, errno,
				      "cannot stat %s", name);
	if (st.st_size > MAX_FILE_SIZE)
		return dh_error_set(mem, err, DH_ERR_NOT_HIVE,
				    "%s is larger than any hive file can be", name);
	if ((m = talloc_zero(mem, struct mapping)) == NULL)
		return dh_error_set(mem, err, DH_ERR_NOMEM, "out of memory reading %s", name);
	*owner = m;
	*data = NULL;
	*len = 0;
	if (st.st_size == 0)
		return 0;
	m->addr = mmap(NULL, (size_t)st.st_size, PROT_READ,
		       MAP_PRIVATE, fd, 0);
	if (m->addr == MAP_FAILED) {
		int e = errno;

		TALLOC_FREE(*owner);
		return dh_error_errno(mem, err, DH_ERR_IO, e, "cannot read %s", name);
	}
	m->len = (size_t)st.st_size;
	talloc_set_destructor(m, unmap);
	*data = m->addr;
	*len = m->len;
	return 0;
}

static int target_destructor(struct dh_target *t)
{
	if (t->dirfd >= 0)
		close(t->dirfd);
	if (t->rootfd >= 0)
		close(t->rootfd);
	return 0;
}

static int nomem(TALLOC_CTX *mem, struct dh_error **err)
{
	return dh_error_set(mem, err, DH_ERR_NOMEM, "out of memory");
}

static const char *file_kind(mode_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFIFO: return "a FIFO (named pipe)";
	case S_IFSOCK: return "a socket";
	case S_IFCHR: return "a character device";
	case S_IFBLK: return "a block device";
	case S_IFDIR: return "a directory";
	case S_IFLNK: return "a symbolic link";
	}
	return "not a regular file";
}

/* A FIFO would block the first read until someone writes to it, a device
 * could be read without end: hives and logs are regular files only. */
static int not_regular(TALLOC_CTX *mem, struct dh_error **err,
		       const char *dir, const char *name, mode_t mode)
{
	return dh_error_set(mem, err, DH_ERR_ARGUMENT,
			    "%s%s is %s, not a regular file: deskheap reads hives and transaction logs only from regular files; give the hive file itself, or move that one out of the way",
			    dir, name, file_kind(mode));
}

/*
 * The entry of the directory open at dirfd (shown as dir) named `wanted` in
 * any letter case, that is a directory (want_dir) or a regular file. *found
 * is NULL when there is none. A symbolic link of that name is refused, and
 * so are two matches: either could be the one Windows uses. A file wanted
 * that is neither a regular file nor a directory (a FIFO, a device) is
 * refused too: passed over, it would hide a log silently.
 */
static int find_entry(TALLOC_CTX *mem, int dirfd, const char *dir,
		      const char *wanted, bool want_dir, char **found,
		      struct dh_error **err)
{
	int fd = dup(dirfd);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *e;
	int rc = 0;

	*found = NULL;
	if (d == NULL) {
		if (fd >= 0)
			close(fd);
		return dh_error_errno(mem, err, DH_ERR_IO, errno, "cannot list %s", dir);
	}
	/* A dup shares its offset with dirfd: an earlier listing left it at
	 * the end. */
	rewinddir(d);
	while (rc == 0 && (e = readdir(d)) != NULL) {
		struct stat st;

		if (strcasecmp(e->d_name, wanted) != 0)
			continue;
		if (fstatat(dirfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0)
			rc = dh_error_errno(mem, err, DH_ERR_IO, errno, "cannot stat %s%s", dir, e->d_name);
		else if (S_ISLNK(st.st_mode))
			rc = dh_error_set(mem, err, DH_ERR_ARGUMENT,
					  "%s%s is a symbolic link: deskheap does not follow links inside a target (a mounted image could point it anywhere)",
					  dir, e->d_name);
		else if (!want_dir && !S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode))
			rc = not_regular(mem, err, dir, e->d_name, st.st_mode);
		else if (want_dir ? !S_ISDIR(st.st_mode) : !S_ISREG(st.st_mode))
			continue;
		else if (*found != NULL)
			rc = dh_error_set(mem, err, DH_ERR_ARGUMENT,
					  "both %s%s and %s%s exist: deskheap cannot tell which one Windows uses; move the stale one away",
					  dir, *found, dir, e->d_name);
		else if ((*found = talloc_strdup(mem, e->d_name)) == NULL)
			rc = nomem(mem, err);
	}
	closedir(d);
	return rc;
}

/* Open subdirectory `name` of dirfd without following a link. */
static int open_subdir(TALLOC_CTX *mem, int dirfd, const char *path,
		       const char *name, int *out, struct dh_error **err)
{
	*out = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (*out < 0)
		return dh_error_errno(mem, err, DH_ERR_IO, errno, "cannot open %s%s", path, name);
	return 0;
}

/* Walk one layout from the volume root; *dirfd is -1 when it is not there. */
static int walk_layout(TALLOC_CTX *mem, struct dh_target *t, size_t layout,
		       int *dirfd, char **dir, char **name, struct dh_error **err)
{
	char *path = talloc_strdup(mem, t->root);
	int cur = dup(t->rootfd), next, rc = -1;

	*dirfd = -1;
	*name = NULL;
	if (cur < 0)
		return dh_error_errno(mem, err, DH_ERR_IO, errno, "cannot open %s", t->root);
	for (size_t i = 0; i < 3; i++) {
		char *entry;

		if (path == NULL) {
			nomem(mem, err);
			goto out;
		}
		if (find_entry(mem, cur, path, LAYOUTS[layout][i], true, &entry, err) != 0)
			goto out;
		if (entry == NULL) {
			rc = 0;
			goto out;
		}
		if (open_subdir(mem, cur, path, entry, &next, err) != 0)
			goto out;
		close(cur);
		cur = next;
		path = talloc_asprintf_append(path, "%s/", entry);
	}
	if (path == NULL) {
		nomem(mem, err);
		goto out;
	}
	if (find_entry(mem, cur, path, HIVE_NAME, false, name, err) != 0)
		goto out;
	rc = 0;
	if (*name != NULL) {
		*dirfd = cur;
		*dir = path;
		return 0;
	}
out:
	close(cur);
	return rc;
}

/* A volume root: exactly one layout must hold a SYSTEM hive. */
static int resolve_root(TALLOC_CTX *mem, struct dh_target *t, bool *found,
			struct dh_error **err)
{
	for (size_t i = 0; i < N_LAYOUTS; i++) {
		int fd;
		char *dir = NULL, *name = NULL;

		if (walk_layout(mem, t, i, &fd, &dir, &name, err) != 0)
			return -1;
		if (fd < 0)
			continue;
		if (*found) {
			close(fd);
			return dh_error_set(mem, err, DH_ERR_ARGUMENT,
					    "%s holds both %s%s and %s%s: give the one to change",
					    t->given, t->dir, t->name, dir, name);
		}
		*found = true;
		t->dirfd = fd;
		t->dir = talloc_steal(t, dir);
		t->name = talloc_steal(t, name);
	}
	return 0;
}

/* "a/b" -> "a/b/"; "" stays "" (the current directory). */
static char *dir_prefix(TALLOC_CTX *mem, const char *dir)
{
	size_t len = strlen(dir);

	if (len == 0 || dir[len - 1] == '/')
		return talloc_strdup(mem, dir);
	return talloc_asprintf(mem, "%s/", dir);
}

/* The name under which the directory open at dirfd stands in its parent
 * (opened into *parent), found by inode: the path the user typed may be
 * "." or relative, and only the directories themselves tell the truth.
 * *name is NULL when it cannot be told (a mount point, a loop). */
static int name_in_parent(TALLOC_CTX *mem, int dirfd, int *parent, char **name)
{
	struct stat self, st;
	struct dirent *e;
	DIR *d;
	int fd;

	*name = NULL;
	*parent = openat(dirfd, "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (*parent < 0 || fstat(dirfd, &self) != 0)
		return -1;
	fd = dup(*parent);
	d = fd >= 0 ? fdopendir(fd) : NULL;
	if (d == NULL) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	while (*name == NULL && (e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (fstatat(*parent, e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    st.st_ino == self.st_ino && st.st_dev == self.st_dev)
			*name = talloc_strdup(mem, e->d_name);
	}
	closedir(d);
	return 0;
}

/* Whether the hive's directory is config under System32 under Windows (or
 * the NT layout); if so, *rootfd gets the volume root above them. */
static void walk_up(TALLOC_CTX *mem, int dirfd, int *rootfd)
{
	char *names[3];
	int cur = dirfd, parent = -1;
	bool match = false;

	*rootfd = -1;
	for (size_t i = 0; i < 3; i++) {
		int rc = name_in_parent(mem, cur, &parent, &names[2 - i]);

		if (cur != dirfd)
			close(cur);
		cur = parent;
		if (rc != 0 || names[2 - i] == NULL) {
			if (cur >= 0)
				close(cur);
			return;
		}
	}
	for (size_t l = 0; l < N_LAYOUTS && !match; l++)
		match = strcasecmp(names[0], LAYOUTS[l][0]) == 0 &&
			strcasecmp(names[1], LAYOUTS[l][1]) == 0 &&
			strcasecmp(names[2], LAYOUTS[l][2]) == 0;
	if (match)
		*rootfd = cur;
	else
		close(cur);
}

/* A config directory or a hive file: its volume root, when the directories
 * above it are a Windows layout, for the hibernation check. */
static int find_root(TALLOC_CTX *mem, struct dh_target *t, struct dh_error **err)
{
	TALLOC_CTX *tmp = talloc_new(mem);

	if (tmp == NULL)
		return nomem(mem, err);
	walk_up(tmp, t->dirfd, &t->rootfd);
	talloc_free(tmp);
	if (t->rootfd < 0)
		return 0;
	t->root = talloc_asprintf(t, "%s../../../", t->dir);
	return t->root ? 0 : nomem(mem, err);
}

static int resolve_dir(TALLOC_CTX *mem, struct dh_target *t, struct dh_error **err)
{
	bool found = false;
	char *name;

	t->root = dir_prefix(t, t->given);
	if (t->root == NULL)
		return nomem(mem, err);
	t->rootfd = open(t->given, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (t->rootfd < 0)
		return dh_error_errno(mem, err, DH_ERR_IO, errno, "cannot open %s", t->given);
	if (resolve_root(mem, t, &found, err) != 0)
		return -1;
	if (found)
		return 0;
	/* Not a volume root: a config directory? */
	if (find_entry(mem, t->rootfd, t->root, HIVE_NAME, false, &name, err) != 0)
		return -1;
	if (name == NULL)
		return dh_error_set(mem, err, DH_ERR_ARGUMENT,
				    "no SYSTEM hive in %s: looked for Windows/System32/config/SYSTEM, WINNT/system32/config/SYSTEM and SYSTEM itself (names in any letter case); give the root of the mounted Windows volume, its config directory, or the hive file",
				    t->given);
	t->dirfd = t->rootfd;
	t->dir = t->root;
	t->name = talloc_steal(t, name);
	t->rootfd = -1;
	t->root = NULL;
	return find_root(mem, t, err);
}

/* A file named by the user: its own path leads to it (the user chose it),
 * only the hive's name itself is opened without following a link. */
static int resolve_file(TALLOC_CTX *mem, struct dh_target *t, struct dh_error **err)
{
	const char *slash = strrchr(t->given, '/');
	char *dir;

	t->name = talloc_strdup(t, slash ? slash + 1 : t->given);
	dir = talloc_strndup(t, t->given, slash ? (size_t)(slash - t->given + 1) : 0);
	if (t->name == NULL || dir == NULL)
		return nomem(mem, err);
	t->dir = dir;
	t->dirfd = open(*dir ? dir : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (t->dirfd < 0)
		return dh_error_errno(mem, err, DH_ERR_IO, errno, "cannot open the directory of %s", t->given);
	return find_root(mem, t, err);
}

/* The hive must be a regular file and not a disk or disk image (those get
 * what they are and what to do). A symbolic link is left to the open,
 * which refuses it. Opened without blocking, only to look. */
static int check_hive_file(TALLOC_CTX *mem, const struct dh_target *t,
			   struct dh_error **err)
{
	uint8_t head[DH_SNIFF_LEN];
	ssize_t got = -1;
	struct stat st;
	char *why;
	int fd;

	if (fstatat(t->dirfd, t->name, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
	    S_ISLNK(st.st_mode))
		return 0;
	if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode))
		return not_regular(mem, err, t->dir, t->name, st.st_mode);
	fd = openat(t->dirfd, t->name, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);
	if (fd >= 0) {
		got = dh_io_pread_full(fd, head, sizeof(head), 0);
		close(fd);
	}
	why = dh_sniff_explain(mem, t->path, S_ISBLK(st.st_mode), head,
			       got > 0 ? (size_t)got : 0);
	return why ? dh_error_set(mem, err, DH_ERR_NOT_HIVE, "%s", why) : 0;
}

int dh_target_resolve(TALLOC_CTX *mem, const char *given,
		      struct dh_target **out, struct dh_error **err)
{
	struct dh_target *t = talloc_zero(mem, struct dh_target);
	struct stat st;
	int rc;

	if (t == NULL)
		return nomem(mem, err);
	t->dirfd = t->rootfd = -1;
	talloc_set_destructor(t, target_destructor);
	t->given = talloc_strdup(t, given);
	if (t->given == NULL) {
		talloc_free(t);
		return nomem(mem, err);
	}
	if (stat(given, &st) != 0)
		rc = dh_error_errno(mem, err, DH_ERR_IO, errno,
				    "cannot find %s (check the path, and that the volume is mounted)",
				    given);
	else if (S_ISDIR(st.st_mode))
		rc = resolve_dir(mem, t, err);
	else
		rc = resolve_file(mem, t, err);
	if (rc == 0)
		t->path = talloc_asprintf(t, "%s%s", t->dir, t->name);
	if (rc == 0 && t->path == NULL)
		rc = nomem(mem, err);
	if (rc == 0)
		rc = check_hive_file(mem, t, err);
	if (rc != 0) {
		talloc_free(t);
		return -1;
	}
	*out = t;
	return 0;
}

int dh_target_open_hive(TALLOC_CTX *mem, const struct dh_target *t, int *fd,
			struct dh_error **err)
{
	int raw, *fdp;

	for (;;) {
		if (dh_dirio_open_file(mem, t->dirfd, t->name, t->path, &raw,
				       err) != 0)
			return -1;
		/* A filesystem without locks is read as it is. */
		if (flock(raw, LOCK_SH) != 0 && errno != ENOLCK &&
		    errno != EOPNOTSUPP && errno != ENOSYS) {
			int e = errno;

			close(raw);
			return dh_error_errno(mem, err, DH_ERR_IO, e,
					      "cannot lock %s for reading",
					      t->path);
		}
		if (dh_dirio_still_current(raw, t->dirfd, t->name) != 0)
			break;
		close(raw); /* replaced while we waited: read the new one */
	}
	fdp = dh_io_fd_owned(mem, raw);
	if (fdp == NULL)
		return nomem(mem, err);
	*fd = *fdp;
	return 0;
}

int dh_target_hibernated(TALLOC_CTX *mem, const struct dh_target *t,
			 char **hibernated, struct dh_error **err)
{
	char *name, sig[4];
	int fd;
	ssize_t got;

	*hibernated = NULL;
	if (t->rootfd < 0)
		return 0;
	if (find_entry(mem, t->rootfd, t->root, "hiberfil.sys", false, &name, err) != 0)
		return -1;
	if (name == NULL)
		return 0;
	fd = openat(t->rootfd, name, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return dh_error_errno(mem, err, DH_ERR_IO, errno, "cannot read %s%s", t->root, name);
	got = pread(fd, sig, sizeof(sig), 0);
	close(fd);
	if (got == (ssize_t)sizeof(sig))
		*hibernated = dh_target_hibernation(mem, t->root, name, sig);
	return 0;
}

char *dh_target_hibernation(TALLOC_CTX *mem, const char *root,
			    const char *name, const char sig[4])
{
	if (memcmp(sig, "hibr", 4) != 0 && memcmp(sig, "HIBR", 4) != 0)
		return NULL;
	return talloc_asprintf(mem,
		"Windows on %s is hibernated or was shut down with Fast Startup (%s%s begins with \"%.4s\"): it keeps the registry in memory and will write it back over any change when it resumes. Boot Windows and shut it down fully (shutdown /s /t 0, or turn off Fast Startup), or pass --allow-hibernated if Windows will never resume from it",
		root, root, name, sig);
}

/* The array's destructor: each log's descriptor closes with it. */
static int close_logs(struct dh_log_file *list)
{
	for (size_t i = 0; i < talloc_array_length(list); i++)
		if (list[i].fd >= 0)
			close(list[i].fd);
	return 0;
}

static struct dh_log_file *new_log_array(TALLOC_CTX *mem)
{
	struct dh_log_file *list = talloc_zero_array(mem, struct dh_log_file,
						     N_SUFFIXES);

	if (list == NULL)
		return NULL;
	for (size_t i = 0; i < N_SUFFIXES; i++)
		list[i].fd = -1;
	talloc_set_destructor(list, close_logs);
	return list;
}

int dh_target_open_beside(TALLOC_CTX *mem, const struct dh_target *t,
			  const char *name, int *fd, char **path,
			  struct dh_error **err)
{
	char *found = NULL;
	struct stat st;
	int rc = 0;

	*fd = -1;
	*path = NULL;
	if (find_entry(mem, t->dirfd, t->dir, name, false, &found, err) != 0)
		return -1;
	if (found == NULL)
		return 0;
	*path = talloc_asprintf(mem, "%s%s", t->dir, found);
	if (*path == NULL)
		return nomem(mem, err);
	*fd = openat(t->dirfd, found,
		     O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);
	if (*fd < 0)
		return dh_error_errno(mem, err, DH_ERR_IO, errno,
				      "cannot open %s (a symbolic link is refused)",
				      *path);
	if (fstat(*fd, &st) != 0)
		rc = dh_error_errno(mem, err, DH_ERR_IO, errno, "cannot stat %s",
				    *path);
	else if (!S_ISREG(st.st_mode))
		rc = not_regular(mem, err, t->dir, found, st.st_mode);
	if (rc != 0) {
		close(*fd);
		*fd = -1;
	}
	return rc;
}

int dh_target_logs(TALLOC_CTX *mem, const struct dh_target *t,
		   struct dh_log_file **logs, size_t *n, struct dh_error **err)
{
	struct dh_log_file *list = new_log_array(mem);
	size_t count = 0;

	if (list == NULL)
		return nomem(mem, err);
	for (size_t k = 0; k < N_SUFFIXES; k++) {
		char *want = talloc_asprintf(list, "%s%s", t->name, LOG_SUFFIXES[k]);
		struct dh_log_file *log = &list[count];

		if (want == NULL) {
			nomem(list, err);
			goto fail;
		}
		if (dh_target_open_beside(list, t, want, &log->fd, &log->path,
					  err) != 0)
			goto fail;
		if (log->fd < 0)
			continue;
		count++;
		log->suffix = log->path + strlen(t->dir) + strlen(t->name);
		if (dh_target_map_fd(list, log->fd, log->path, &log->data,
				     &log->len, &log->map, err) != 0)
			goto fail;
	}
	*logs = list;
	*n = count;
	return 0;
fail:
	if (err != NULL && *err != NULL)
		talloc_steal(mem, *err);
	talloc_free(list);
	return -1;
}

/* The file (or directory) open at fd is immutable or append-only: chattr
 * flags that make rename and unlink fail with EPERM even for root. The
 * flag's chattr letter, or 0. Filesystems without such flags (FUSE,
 * tmpfs) answer ENOTTY: none there. */
static char locked_flag(int fd)
{
	int flags = 0;

	if (ioctl(fd, FS_IOC_GETFLAGS, &flags) != 0)
		return 0;
	if (flags & FS_IMMUTABLE_FL)
		return 'i';
	return (flags & FS_APPEND_FL) ? 'a' : 0;
}

int dh_target_replaceable(TALLOC_CTX *mem, const struct dh_target *t,
			  int fd, struct dh_error **err)
{
	const char *what = t->path, *which = "it";
	char flag = locked_flag(fd);

	if (flag == 0) {
		flag = locked_flag(t->dirfd);
		what = *t->dir ? t->dir : ".";
		which = "the hive in it";
	}
	if (flag == 0)
		return 0;
	return dh_error_set(mem, err, DH_ERR_IO,
			    "%s is %s (chattr +%c): %s cannot be replaced, not even by root; clear the flag with chattr -%c %s and run again (chattr +%c puts it back); nothing was changed",
			    what, flag == 'i' ? "immutable" : "append-only",
			    flag, which, flag, what, flag);
}
