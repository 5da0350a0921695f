/*
 * Files in a directory reached through its descriptor. See dirio.h.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "dirio.h"
#include "error.h"
#include "failpoint.h"

/* How many random names to try for a temporary file. */
#define TEMP_TRIES 100

bool dh_dirio_name_ok(const char *name)
{
	return name != NULL && *name != '\0' && strchr(name, '/') == NULL &&
	       strcmp(name, ".") != 0 && strcmp(name, "..") != 0;
}

bool dh_dirio_same_file(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino;
}

int dh_dirio_still_current(int fd, int dirfd, const char *name)
{
	struct stat held, now;

	if (fstat(fd, &held) != 0)
		return -1;
	if (fstatat(dirfd, name, &now, AT_SYMLINK_NOFOLLOW) != 0)
		return errno == ENOENT ? 0 : -1;
	return dh_dirio_same_file(&held, &now) && held.st_nlink > 0;
}

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

/* O_EXCL | O_NOFOLLOW: never a file or link someone put there. */
int dh_dirio_create_temp(TALLOC_CTX *mem, int dir, const char *base,
			 char **name)
{
	char rnd[7];
	int fd = -1;

	errno = EEXIST;
	for (unsigned i = 0; i < TEMP_TRIES && fd < 0 && errno == EEXIST; i++) {
		random_suffix(rnd, i);
		talloc_free(*name);
		*name = talloc_asprintf(mem, ".%s.deskheap-tmp-%s",
					base, rnd);
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

int dh_dirio_sync(int fd)
{
	if (dh_failpoint("dir-fsync") != 0)
		return -1;
	if (fsync(fd) == 0 || errno == EINVAL || errno == ENOTSUP)
		return 0;
	return -1;
}

char *dh_dirio_prefix(TALLOC_CTX *mem, const char *path)
{
	const char *slash = strrchr(path, '/');

	return talloc_strndup(mem, path, slash ? slash + 1 - path : 0);
}

/* What kind of file st is, for a message. */
static const char *kind(const struct stat *st)
{
	return S_ISDIR(st->st_mode) ? "a directory" :
	       S_ISFIFO(st->st_mode) ? "a FIFO" :
	       S_ISSOCK(st->st_mode) ? "a socket" :
	       S_ISCHR(st->st_mode) ? "a character device" :
	       S_ISBLK(st->st_mode) ? "a block device" : "not a regular file";
}

/* Refuse fd (named path) unless it is a regular file, then drop the
 * O_NONBLOCK it was opened with. */
static int regular_only(TALLOC_CTX *mem, int fd, const char *path,
			struct dh_error **err)
{
	struct stat st;
	int fl;

	if (fstat(fd, &st) != 0)
		return dh_error_io(mem, err, errno, NULL, "cannot stat %s",
				   path);
	if (S_ISBLK(st.st_mode))
		return dh_error_set(mem, err, DH_ERR_ARGUMENT,
				    "%s is a block device, not a hive file: "
				    "mount the Windows volume on it (ntfs-3g) "
				    "and give the mount point", path);
	if (!S_ISREG(st.st_mode))
		return dh_error_set(mem, err, DH_ERR_ARGUMENT,
				    "%s is %s, not a hive file: give the hive "
				    "file itself", path, kind(&st));
	if ((fl = fcntl(fd, F_GETFL)) < 0 ||
	    fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) != 0)
		return dh_error_io(mem, err, errno, NULL, "cannot use %s",
				   path);
	return 0;
}

int dh_dirio_open_file(TALLOC_CTX *mem, int dirfd, const char *name,
		       const char *path, int *fd, struct dh_error **err)
{
	/* O_NONBLOCK: opening a FIFO would otherwise wait for a writer. */
	int raw = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK |
			 O_CLOEXEC);

	if (raw < 0 && errno == ELOOP)
		return dh_error_set(mem, err, DH_ERR_ARGUMENT,
				    "%s is a symbolic link: give the hive "
				    "file itself", path);
	if (raw < 0)
		return dh_error_io(mem, err, errno, NULL, "cannot open %s",
				   path);
	if (regular_only(mem, raw, path, err) != 0) {
		close(raw);
		return -1;
	}
	*fd = raw;
	return 0;
}
