/*
 * Whole reads and writes on file descriptors: the loops every module would
 * otherwise write again (short counts and EINTR handled here), and
 * little-endian fields of on-disk structures read from unaligned bytes.
 */
#ifndef DH_IO_H
#define DH_IO_H

#include <endian.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>

/* Write all len bytes at the file offset. 0, or -1 with errno set. */
int dh_io_write_all(int fd, const void *buf, size_t len);

/* Write all len bytes at off (the file offset is not used). 0, or -1 with
 * errno set. */
int dh_io_pwrite_all(int fd, const void *buf, size_t len, off_t off);

/* Read up to len bytes at off; fewer only at end of file. The count, or -1
 * with errno set. */
ssize_t dh_io_pread_full(int fd, void *buf, size_t len, off_t off);

/* Whether the files open at a and b hold the same bytes, from offset 0 to
 * their ends: 1 when they do, 0 when not, -1 with errno set when one cannot
 * be read. */
int dh_io_same(int a, int b);

/* A talloc object owning the descriptor fd (>= 0): freeing it closes fd.
 * NULL when memory runs out, fd then closed already. */
int *dh_io_fd_owned(void *mem, int fd);

/* Copy len bytes from the start of src to the start of dst, in the kernel
 * where it can (copy_file_range within a filesystem, sendfile across
 * filesystems, e.g. from or to a memory file), else through a buffer. dst's
 * file offset ends up past the copy. 0, or -1 with errno set (EIO when src
 * is shorter). */
int dh_io_copy(int src, int dst, size_t len);

static inline uint32_t dh_le32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return le32toh(v);
}

static inline uint64_t dh_le64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return le64toh(v);
}

static inline void dh_put_le32(uint8_t *p, uint32_t v)
{
	v = htole32(v);
	memcpy(p, &v, sizeof(v));
}

static inline void dh_put_le64(uint8_t *p, uint64_t v)
{
	v = htole64(v);
	memcpy(p, &v, sizeof(v));
}

#endif
