#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <sys/sendfile.h>
#include <talloc.h>
#include <unistd.h>

#include "failpoint.h"
#include "io.h"

static int close_owned(int *fdp)
{
	close(*fdp);
	return 0;
}

int *dh_io_fd_owned(void *mem, int fd)
{
	int *fdp = talloc(mem, int);

	if (fdp == NULL) {
		close(fd);
		return NULL;
	}
	*fdp = fd;
	talloc_set_destructor(fdp, close_owned);
	return fdp;
}

/* Write all len bytes at off, or at the file offset when off < 0. */
static int write_loop(int fd, const char *p, size_t len, off_t off)
{
	while (len > 0) {
		ssize_t w = off < 0 ? write(fd, p, len) : pwrite(fd, p, len, off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		if (w == 0) {
			errno = EIO;
			return -1;
		}
		p += w;
		if (off >= 0)
			off += w;
		len -= (size_t)w;
	}
	return 0;
}

int dh_io_write_all(int fd, const void *buf, size_t len)
{
	if (dh_failpoint("write") != 0)
		return -1;
	return write_loop(fd, buf, len, -1);
}

int dh_io_pwrite_all(int fd, const void *buf, size_t len, off_t off)
{
	return write_loop(fd, buf, len, off);
}

ssize_t dh_io_pread_full(int fd, void *buf, size_t len, off_t off)
{
	char *p = buf;
	size_t got = 0;

	while (got < len) {
		ssize_t r = pread(fd, p + got, len - got, off + (off_t)got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0)
			break;
		got += (size_t)r;
	}
	return (ssize_t)got;
}

int dh_io_same(int a, int b)
{
	static const size_t chunk = 1 << 16;
	char *x = talloc_size(NULL, 2 * chunk), *y = x + chunk;
	off_t off = 0;
	ssize_t na, nb;
	int same = 1;

	if (x == NULL) {
		errno = ENOMEM;
		return -1;
	}
	do {
		na = dh_io_pread_full(a, x, chunk, off);
		nb = na < 0 ? 0 : dh_io_pread_full(b, y, chunk, off);
		if (na < 0 || nb < 0)
			same = -1;
		else if (na != nb || memcmp(x, y, (size_t)na) != 0)
			same = 0;
		off += na;
	} while (same == 1 && na > 0);
	talloc_free(x);
	return same;
}

/* The ways to copy, best first: within a filesystem, across filesystems
 * (still in the kernel, e.g. from or to a memory file), through a buffer. */
enum way { RANGE, SENDFILE, BUFFER };

/* Errors that mean "not this way", where the next way may still copy. */
static bool cannot(int e)
{
	return e == EXDEV || e == EINVAL || e == ENOSYS || e == EOPNOTSUPP;
}

/* Copy up to len bytes at off one way: the count, or -1 with errno. */
static ssize_t copy_some(enum way way, int src, int dst, off_t off, size_t len)
{
	loff_t in = off, out = off;
	char buf[1 << 16];
	ssize_t got;

	switch (way) {
	case RANGE:
		return copy_file_range(src, &in, dst, &out, len, 0);
	case SENDFILE:
		if (lseek(dst, off, SEEK_SET) < 0)
			return -1;
		return sendfile(dst, src, &in, len);
	case BUFFER:
		break;
	}
	got = dh_io_pread_full(src, buf, len < sizeof(buf) ? len : sizeof(buf),
			       off);
	if (got > 0 && dh_io_pwrite_all(dst, buf, (size_t)got, off) != 0)
		return -1;
	return got;
}

int dh_io_copy(int src, int dst, size_t len)
{
	enum way way = RANGE;
	off_t off = 0;

	if (dh_failpoint("write") != 0)
		return -1;
	while (len > 0) {
		ssize_t n = copy_some(way, src, dst, off, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && way != BUFFER && cannot(errno)) {
			way++;
			continue;
		}
		if (n < 0)
			return -1;
		if (n == 0) {
			errno = EIO;
			return -1;
		}
		off += n;
		len -= (size_t)n;
	}
	return lseek(dst, off, SEEK_SET) < 0 ? -1 : 0;
}
