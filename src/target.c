#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"
#include "target.h"

static const char *const LOG_SUFFIXES[] = { ".LOG", ".LOG1", ".LOG2" };
#define N_SUFFIXES (sizeof(LOG_SUFFIXES) / sizeof(LOG_SUFFIXES[0]))

/* Hive files are at most 4 GiB (32-bit sizes in the base block); a larger
 * "log" is not one, and reading it would only exhaust memory. */
#define MAX_FILE_SIZE ((off_t)1 << 32)

int dh_target_read_fd(TALLOC_CTX *mem, int fd, const char *name,
		      uint8_t **data, size_t *len, struct dh_error **err)
{
	struct stat st;
	uint8_t *buf;
	size_t got = 0;

	if (fstat(fd, &st) != 0)
		return dh_error_errno(mem, err, DH_ERR_IO, errno,
				      "cannot stat %s", name);
	if (st.st_size > MAX_FILE_SIZE)
		return dh_error_set(mem, err, DH_ERR_NOT_HIVE,
				    "%s is larger than any hive file can be", name);
	buf = talloc_array(mem, uint8_t, st.st_size ? (size_t)st.st_size : 1);
	if (buf == NULL)
		return dh_error_set(mem, err, DH_ERR_NOMEM, "out of memory reading %s", name);
	while (got < (size_t)st.st_size) {
		ssize_t r = pread(fd, buf + got, (size_t)st.st_size - got, (off_t)got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			talloc_free(buf);
			return dh_error_errno(mem, err, DH_ERR_IO,
					      r < 0 ? errno : EIO,
					      "cannot read %s", name);
		}
		got += (size_t)r;
	}
	*data = buf;
	*len = got;
	return 0;
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

/* Which log suffix (index) entry names for hive file `base`, or -1. */
static int log_kind(const char *entry, const char *base)
{
	size_t blen = strlen(base);

	if (strncasecmp(entry, base, blen) != 0)
		return -1;
	for (size_t i = 0; i < N_SUFFIXES; i++)
		if (strcasecmp(entry + blen, LOG_SUFFIXES[i]) == 0)
			return (int)i;
	return -1;
}

static int open_log(struct dh_log_file *list, const char *dir,
		    const char *entry, size_t base_len, struct dh_log_file *log,
		    struct dh_error **err)
{
	struct stat st;

	log->path = talloc_asprintf(list, "%s%s", dir, entry);
	if (log->path == NULL)
		return dh_error_set(list, err, DH_ERR_NOMEM, "out of memory");
	log->suffix = log->path + strlen(dir) + base_len;
	log->fd = open(log->path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (log->fd < 0)
		return dh_error_errno(list, err, DH_ERR_IO, errno,
				      "cannot open transaction log %s (a symbolic link is refused)",
				      log->path);
	if (fstat(log->fd, &st) != 0 || !S_ISREG(st.st_mode))
		return dh_error_set(list, err, DH_ERR_IO,
				    "transaction log %s is not a regular file",
				    log->path);
	return dh_target_read_fd(list, log->fd, log->path, &log->data,
				 &log->len, err);
}

/* The directory part of path (through its last '/'), and its base name. */
static char *split(TALLOC_CTX *mem, const char *path, const char **base)
{
	const char *slash = strrchr(path, '/');

	*base = slash ? slash + 1 : path;
	return talloc_strndup(mem, path, (size_t)(*base - path));
}

/* Scan dir for the logs of base: names[k] is the entry for suffix k. */
static int find_names(TALLOC_CTX *mem, const char *dir, const char *base,
		      char *names[N_SUFFIXES], struct dh_error **err)
{
	DIR *d = opendir(*dir ? dir : ".");
	struct dirent *e;
	int rc = 0;

	if (d == NULL)
		return dh_error_errno(mem, err, DH_ERR_IO, errno,
				      "cannot list %s for transaction logs",
				      *dir ? dir : ".");
	while (rc == 0 && (e = readdir(d)) != NULL) {
		int k = log_kind(e->d_name, base);

		if (k < 0)
			continue;
		if (names[k] != NULL)
			rc = dh_error_set(mem, err, DH_ERR_IO,
					  "both %s%s and %s%s are there: deskheap cannot tell which log Windows would use; move the stale one away",
					  dir, names[k], dir, e->d_name);
		else if ((names[k] = talloc_strdup(mem, e->d_name)) == NULL)
			rc = dh_error_set(mem, err, DH_ERR_NOMEM, "out of memory");
	}
	closedir(d);
	return rc;
}

int dh_target_logs(TALLOC_CTX *mem, const char *hive_path,
		   struct dh_log_file **logs, size_t *n, struct dh_error **err)
{
	TALLOC_CTX *tmp = talloc_new(mem);
	char *names[N_SUFFIXES] = { NULL };
	const char *base;
	char *dir = split(tmp, hive_path, &base);
	struct dh_log_file *list = new_log_array(mem);
	size_t count = 0;
	int rc = -1;

	if (dir == NULL || list == NULL) {
		dh_error_set(mem, err, DH_ERR_NOMEM, "out of memory");
		goto out;
	}
	if (find_names(tmp, dir, base, names, err) != 0)
		goto out;
	for (size_t k = 0; k < N_SUFFIXES; k++) {
		if (names[k] == NULL)
			continue;
		if (open_log(list, dir, names[k], strlen(base), &list[count], err) != 0)
			goto out;
		count++;
	}
	rc = 0;
out:
	if (rc != 0 && err != NULL && *err != NULL)
		talloc_steal(mem, *err);
	if (rc != 0) {
		talloc_free(list);
	} else {
		*logs = list;
		*n = count;
	}
	talloc_free(tmp);
	return rc;
}
