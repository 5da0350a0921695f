/*
 * Unit tests of io.c: whole reads and writes through short counts and
 * EINTR, comparing files, owned descriptors, copying within and across
 * filesystems, and the little-endian fields.
 *
 * A pipe drained late by a thread, with a timer signal interrupting the
 * write, gives
 * the kernel's own short count and EINTR. pread and pwrite on a regular
 * file never return short before the end of file, and the kernel's ways
 * to copy cannot be turned off from outside: this program is linked with
 * -Wl,--wrap for pread, pwrite, copy_file_range and sendfile, and the
 * wrappers below cut each call short, fail every other one with EINTR,
 * or refuse a way to copy, when a test asks them to.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "fixtures.h"
#include "io.h"

/* ------------------------------------------------------------------ */
/* The wrapped system calls                                           */

static struct {
	size_t chop;            /* > 0: move at most this many bytes a call */
	bool eintr;             /* fail every other call with EINTR */
	unsigned calls;
	bool no_range;          /* copy_file_range: ENOSYS */
	bool no_sendfile;       /* sendfile: EINVAL */
	unsigned sendfiles;     /* sendfile calls that moved bytes */
} fault;

ssize_t __real_pread(int fd, void *buf, size_t len, off_t off);
ssize_t __wrap_pread(int fd, void *buf, size_t len, off_t off);
ssize_t __real_pwrite(int fd, const void *buf, size_t len, off_t off);
ssize_t __wrap_pwrite(int fd, const void *buf, size_t len, off_t off);
ssize_t __real_copy_file_range(int in, loff_t *inoff, int out, loff_t *outoff,
			       size_t len, unsigned flags);
ssize_t __wrap_copy_file_range(int in, loff_t *inoff, int out, loff_t *outoff,
			       size_t len, unsigned flags);
ssize_t __real_sendfile(int out, int in, off_t *off, size_t len);
ssize_t __wrap_sendfile(int out, int in, off_t *off, size_t len);

/* Whether this call fails with EINTR; else its length, chopped. */
static bool interrupt(size_t *len)
{
	if (fault.eintr && fault.calls++ % 2 == 0) {
		errno = EINTR;
		return true;
	}
	if (fault.chop > 0 && *len > fault.chop)
		*len = fault.chop;
	return false;
}

ssize_t __wrap_pread(int fd, void *buf, size_t len, off_t off)
{
	return interrupt(&len) ? -1 : __real_pread(fd, buf, len, off);
}

ssize_t __wrap_pwrite(int fd, const void *buf, size_t len, off_t off)
{
	return interrupt(&len) ? -1 : __real_pwrite(fd, buf, len, off);
}

ssize_t __wrap_copy_file_range(int in, loff_t *inoff, int out, loff_t *outoff,
			       size_t len, unsigned flags)
{
	if (fault.no_range) {
		errno = ENOSYS;
		return -1;
	}
	if (interrupt(&len))
		return -1;
	return __real_copy_file_range(in, inoff, out, outoff, len, flags);
}

ssize_t __wrap_sendfile(int out, int in, off_t *off, size_t len)
{
	ssize_t n;

	if (fault.no_sendfile) {
		errno = EINVAL;
		return -1;
	}
	if (interrupt(&len))
		return -1;
	n = __real_sendfile(out, in, off, len);
	if (n > 0)
		fault.sendfiles++;
	return n;
}

/* ------------------------------------------------------------------ */
/* Helpers                                                            */

struct fx {
	TALLOC_CTX *mem;
	char *dir;
};

static int setup(void **state)
{
	struct fx *f = talloc_zero(NULL, struct fx);

	assert_non_null(f);
	f->mem = f;
	f->dir = tmpdir_new(f);
	memset(&fault, 0, sizeof(fault));
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	memset(&fault, 0, sizeof(fault));
	talloc_free(*state);
	return 0;
}

/* len bytes that differ from one offset to the next (a shifted copy or a
 * dropped chunk shows), seeded so two patterns can differ. */
static uint8_t *pattern(TALLOC_CTX *mem, size_t len, unsigned seed)
{
	uint8_t *p = talloc_array(mem, uint8_t, len ? len : 1);

	assert_non_null(p);
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)((i * 131 + i / 251 + seed) & 0xff);
	return p;
}

/* A new file `name` in the test's directory holding data, open read-write
 * at offset 0. */
static int new_file(struct fx *f, const char *name, const void *data,
		    size_t len)
{
	char *path = talloc_asprintf(f->mem, "%s/%s", f->dir, name);
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(__real_pwrite(fd, data, len, 0), (ssize_t)len);
	return fd;
}

/* The file `name` of the test's directory, opened again read-only. */
static int open_ro(struct fx *f, const char *name)
{
	int fd = open(talloc_asprintf(f->mem, "%s/%s", f->dir, name),
		      O_RDONLY | O_CLOEXEC);

	assert_true(fd >= 0);
	return fd;
}

static int new_memfd(const void *data, size_t len)
{
	int fd = memfd_create("deskheap-test", MFD_CLOEXEC);

	assert_true(fd >= 0);
	assert_int_equal(__real_pwrite(fd, data, len, 0), (ssize_t)len);
	return fd;
}

/* The whole file open at fd, which must be len bytes long. */
static void assert_holds(int fd, const uint8_t *want, size_t len)
{
	uint8_t *got = talloc_array(NULL, uint8_t, len + 1);

	assert_non_null(got);
	assert_int_equal(__real_pread(fd, got, len + 1, 0), (ssize_t)len);
	assert_memory_equal(got, want, len);
	talloc_free(got);
}

static off_t offset_of(int fd)
{
	return lseek(fd, 0, SEEK_CUR);
}

static bool is_open(int fd)
{
	return fcntl(fd, F_GETFD) != -1 || errno != EBADF;
}

/* ------------------------------------------------------------------ */
/* dh_io_write_all                                                    */

static volatile sig_atomic_t alarms;

static void on_alarm(int sig)
{
	(void)sig;
	alarms++;
}

struct late_reader {
	int fd;
	const uint8_t *want;
	size_t len;
	bool ok;        /* it read want, whole */
};

/* The reader of test_write_all_pipe (a thread, SIGALRM blocked): waits
 * until the writer has been interrupted twice, then reads to the end. */
static void *late_reader(void *arg)
{
	const struct timespec wait = { 0, 300 * 1000 * 1000 };
	struct late_reader *r = arg;
	uint8_t *got = talloc_array(NULL, uint8_t, r->len + 1);
	size_t have = 0;
	ssize_t n;

	nanosleep(&wait, NULL);
	while (got != NULL && have <= r->len &&
	       (n = read(r->fd, got + have, r->len + 1 - have)) > 0)
		have += (size_t)n;
	r->ok = got != NULL && have == r->len &&
		memcmp(got, r->want, r->len) == 0;
	talloc_free(got);
	return NULL;
}

/* A pipe holding one page, read only after 300 ms, and a signal every
 * 50 ms (no SA_RESTART): the first signal ends a write that moved one
 * page (a short count), the next ones a write that moved nothing (EINTR).
 * Every byte still arrives, once and in order. */
static void test_write_all_pipe(void **state)
{
	struct sigaction sa = { .sa_handler = on_alarm }, old;
	const struct itimerval every = { { 0, 50000 }, { 0, 50000 } }, off = { 0 };
	struct late_reader r = { 0 };
	sigset_t alrm;
	pthread_t reader;
	int p[2];
	long page;

	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	page = fcntl(p[1], F_SETPIPE_SZ, 4096);
	assert_true(page > 0);
	r.fd = p[0];
	r.len = 4 * (size_t)page;
	r.want = pattern(*state, r.len, 1);
	sigemptyset(&alrm);
	sigaddset(&alrm, SIGALRM);
	assert_int_equal(pthread_sigmask(SIG_BLOCK, &alrm, NULL), 0);
	assert_int_equal(pthread_create(&reader, NULL, late_reader, &r), 0);
	assert_int_equal(pthread_sigmask(SIG_UNBLOCK, &alrm, NULL), 0);
	alarms = 0;
	assert_int_equal(sigaction(SIGALRM, &sa, &old), 0);
	assert_int_equal(setitimer(ITIMER_REAL, &every, NULL), 0);
	assert_int_equal(dh_io_write_all(p[1], r.want, r.len), 0);
	assert_int_equal(setitimer(ITIMER_REAL, &off, NULL), 0);
	assert_int_equal(sigaction(SIGALRM, &old, NULL), 0);
	close(p[1]);
	assert_int_equal(pthread_join(reader, NULL), 0);
	close(p[0]);
	assert_true(r.ok);
	assert_true(alarms >= 2);
}

static void test_write_all_error(void **state)
{
	struct fx *f = *state;
	int fd = new_file(f, "ro", "x", 1), ro = open_ro(f, "ro");

	errno = 0;
	assert_int_equal(dh_io_write_all(ro, "abc", 3), -1);
	assert_int_equal(errno, EBADF);
	close(fd);
	close(ro);
}

/* The file offset is where the bytes go, and moves past them. */
static void test_write_all_offset(void **state)
{
	struct fx *f = *state;
	int fd = new_file(f, "w", "0123456789", 10);

	assert_int_equal(lseek(fd, 3, SEEK_SET), 3);
	assert_int_equal(dh_io_write_all(fd, "abc", 3), 0);
	assert_int_equal(offset_of(fd), 6);
	assert_holds(fd, (const uint8_t *)"012abc6789", 10);
	close(fd);
}

/* ------------------------------------------------------------------ */
/* dh_io_pwrite_all and dh_io_pread_full                              */

static void test_pwrite_all(void **state)
{
	struct fx *f = *state;
	size_t len = 70000;
	uint8_t *data = pattern(f->mem, len, 2), *want;
	int fd = new_file(f, "pw", "", 0);

	want = talloc_zero_array(f->mem, uint8_t, len + 100);
	memcpy(want + 100, data, len);
	assert_int_equal(lseek(fd, 7, SEEK_SET), 7);
	fault.chop = 1000;
	fault.eintr = true;
	assert_int_equal(dh_io_pwrite_all(fd, data, len, 100), 0);
	assert_true(fault.calls >= 2 * (len / 1000));
	fault.chop = 0;
	fault.eintr = false;
	assert_int_equal(offset_of(fd), 7);
	assert_holds(fd, want, len + 100);
	close(fd);
}

static void test_pwrite_all_error(void **state)
{
	int p[2];

	(void)state;
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	errno = 0;
	assert_int_equal(dh_io_pwrite_all(p[1], "abc", 3, 0), -1);
	assert_int_equal(errno, ESPIPE);
	close(p[0]);
	close(p[1]);
}

/* Short counts and EINTR inside the file are read through; fewer bytes
 * come back only at its end. */
static void test_pread_full(void **state)
{
	struct fx *f = *state;
	size_t len = 70000;
	uint8_t *data = pattern(f->mem, len, 3);
	uint8_t *buf = talloc_array(f->mem, uint8_t, len + 10);
	int fd = new_file(f, "pr", data, len);

	fault.chop = 999;
	fault.eintr = true;
	assert_int_equal(dh_io_pread_full(fd, buf, 5000, 10), 5000);
	assert_memory_equal(buf, data + 10, 5000);
	assert_int_equal(dh_io_pread_full(fd, buf, len + 10, 0), (ssize_t)len);
	assert_memory_equal(buf, data, len);
	assert_int_equal(dh_io_pread_full(fd, buf, 100, (off_t)len - 40), 40);
	assert_memory_equal(buf, data + len - 40, 40);
	assert_int_equal(dh_io_pread_full(fd, buf, 100, (off_t)len + 5), 0);
	assert_int_equal(dh_io_pread_full(fd, buf, 0, 0), 0);
	assert_true(fault.calls >= 2 * (len / 999));
	close(fd);
}

static void test_pread_full_error(void **state)
{
	struct fx *f = *state;
	char buf[8];
	int fd = open(f->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	assert_true(fd >= 0);
	errno = 0;
	assert_int_equal(dh_io_pread_full(fd, buf, sizeof(buf), 0), -1);
	assert_int_equal(errno, EISDIR);
	close(fd);
}

/* ------------------------------------------------------------------ */
/* dh_io_same                                                         */

/* Files larger than the 64 KiB chunk, so a difference or an end in the
 * second chunk must be seen; read in short counts with EINTR. */
static void test_same(void **state)
{
	struct fx *f = *state;
	size_t len = 150000;
	uint8_t *data = pattern(f->mem, len, 4);
	int fds[7], a = new_file(f, "a", data, len), b, c, d, e, z1, z2;

	b = new_file(f, "b", data, len);
	data[len - 1] ^= 1;
	c = new_file(f, "c", data, len);
	data[len - 1] ^= 1;
	d = new_file(f, "d", data, len - 1);
	e = new_file(f, "e", data, 70000);
	z1 = new_file(f, "z1", "", 0);
	z2 = new_file(f, "z2", "", 0);
	fault.chop = 4000;
	fault.eintr = true;
	assert_int_equal(dh_io_same(a, b), 1);
	assert_int_equal(dh_io_same(a, a), 1);
	assert_int_equal(dh_io_same(z1, z2), 1);
	assert_int_equal(dh_io_same(a, c), 0);
	assert_int_equal(dh_io_same(c, a), 0);
	assert_int_equal(dh_io_same(a, d), 0);
	assert_int_equal(dh_io_same(d, a), 0);
	assert_int_equal(dh_io_same(a, e), 0);
	assert_int_equal(dh_io_same(e, a), 0);
	assert_int_equal(dh_io_same(a, z1), 0);
	assert_int_equal(dh_io_same(z1, a), 0);
	memcpy(fds, (int[]){ a, b, c, d, e, z1, z2 }, sizeof(fds));
	for (size_t i = 0; i < 7; i++)
		close(fds[i]);
}

static void test_same_unreadable(void **state)
{
	struct fx *f = *state;
	int a = new_file(f, "a", "abc", 3);
	int dir = open(f->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	assert_true(dir >= 0);
	errno = 0;
	assert_int_equal(dh_io_same(a, dir), -1);
	assert_int_equal(errno, EISDIR);
	errno = 0;
	assert_int_equal(dh_io_same(dir, a), -1);
	assert_int_equal(errno, EISDIR);
	close(a);
	close(dir);
}

/* ------------------------------------------------------------------ */
/* dh_io_fd_owned                                                     */

static void test_fd_owned(void **state)
{
	struct fx *f = *state;
	TALLOC_CTX *mem = talloc_new(f->mem);
	int fd = new_file(f, "owned", "x", 1);
	int *owned = dh_io_fd_owned(mem, fd);

	assert_non_null(owned);
	assert_int_equal(*owned, fd);
	assert_true(talloc_is_parent(owned, mem));
	assert_true(is_open(fd));
	talloc_free(mem);
	assert_false(is_open(fd));
}

/* ------------------------------------------------------------------ */
/* dh_io_copy                                                         */

/* Copy all len bytes of data from src to dst, both open; neither's own
 * file offset is where the copy starts. */
static void copy_and_check(int src, int dst, const uint8_t *data, size_t len)
{
	assert_int_equal(lseek(src, 0, SEEK_END), (off_t)len);
	assert_int_equal(lseek(dst, 77, SEEK_SET), 77);
	assert_int_equal(dh_io_copy(src, dst, len), 0);
	assert_int_equal(offset_of(dst), (off_t)len);
	assert_holds(dst, data, len);
}

static void test_copy_within(void **state)
{
	struct fx *f = *state;
	size_t len = 200000;
	uint8_t *data = pattern(f->mem, len, 5);
	int src = new_file(f, "src", data, len), dst = new_file(f, "dst", "", 0);

	copy_and_check(src, dst, data, len);
	close(src);
	close(dst);
}

/* From and to a memory file: another filesystem than the test's
 * directory's. */
static void test_copy_across(void **state)
{
	struct fx *f = *state;
	size_t len = 200000;
	uint8_t *data = pattern(f->mem, len, 6);
	int mem = new_memfd(data, len), file = new_file(f, "file", "", 0);
	int back = new_memfd("", 0);

	copy_and_check(mem, file, data, len);
	copy_and_check(file, back, data, len);
	close(mem);
	close(file);
	close(back);
}

/* Only len bytes, though the source holds more: the destination is
 * written over from its start and keeps what lies past the copy. */
static void test_copy_part(void **state)
{
	struct fx *f = *state;
	size_t len = 100000;
	uint8_t *data = pattern(f->mem, len, 7), *old = pattern(f->mem, len, 8);
	int src = new_file(f, "src", data, len), dst = new_file(f, "dst", old, len);

	memcpy(old, data, 1000);
	assert_int_equal(dh_io_copy(src, dst, 1000), 0);
	assert_int_equal(offset_of(dst), 1000);
	assert_holds(dst, old, len);
	close(src);
	close(dst);
}

static void test_copy_src_short(void **state)
{
	struct fx *f = *state;
	uint8_t *data = pattern(f->mem, 5000, 9);
	int src = new_file(f, "src", data, 5000), dst = new_file(f, "dst", "", 0);
	int mem = new_memfd(data, 5000);

	errno = 0;
	assert_int_equal(dh_io_copy(src, dst, 5001), -1);
	assert_int_equal(errno, EIO);
	errno = 0;
	assert_int_equal(dh_io_copy(mem, dst, 8000), -1);
	assert_int_equal(errno, EIO);
	fault.no_range = fault.no_sendfile = true;
	errno = 0;
	assert_int_equal(dh_io_copy(src, dst, 5001), -1);
	assert_int_equal(errno, EIO);
	close(src);
	close(dst);
	close(mem);
}

/* An error that is not "not this way" is the copy's error. */
static void test_copy_error(void **state)
{
	struct fx *f = *state;
	int src = new_file(f, "src", "abc", 3), dst = new_file(f, "dst", "", 0);
	int ro = open_ro(f, "dst");

	errno = 0;
	assert_int_equal(dh_io_copy(src, ro, 3), -1);
	assert_int_equal(errno, EBADF);
	close(src);
	close(dst);
	close(ro);
}

/* Where the kernel cannot copy within a filesystem, sendfile does; where
 * it cannot either, a buffer does; each through short counts and EINTR. */
static void test_copy_fallbacks(void **state)
{
	struct fx *f = *state;
	size_t len = 150000;
	uint8_t *data = pattern(f->mem, len, 10);
	int src = new_file(f, "src", data, len), d1 = new_file(f, "d1", "", 0);
	int d2 = new_file(f, "d2", "", 0), d3 = new_file(f, "d3", "", 0);

	fault.chop = 3000;
	fault.eintr = true;
	copy_and_check(src, d1, data, len);
	fault.no_range = true;
	copy_and_check(src, d2, data, len);
	assert_true(fault.sendfiles >= len / 3000);
	fault.no_sendfile = true;
	fault.sendfiles = 0;
	copy_and_check(src, d3, data, len);
	assert_int_equal(fault.sendfiles, 0);
	close(src);
	close(d1);
	close(d2);
	close(d3);
}

/* ------------------------------------------------------------------ */
/* Little-endian fields                                               */

static void test_le(void **state)
{
	uint8_t b[12] = { 0xff, 0x78, 0x56, 0x34, 0x12, 0xf0, 0xde, 0xbc, 0x9a,
			  0xee };

	(void)state;
	/* b + 1: on-disk fields are read from unaligned bytes */
	assert_int_equal(dh_le32(b + 1), 0x12345678u);
	assert_true(dh_le64(b + 1) == 0x9abcdef012345678ull);
	dh_put_le32(b + 5, 0xa1b2c3d4u);
	assert_int_equal(b[5], 0xd4);
	assert_int_equal(b[6], 0xc3);
	assert_int_equal(b[7], 0xb2);
	assert_int_equal(b[8], 0xa1);
	assert_int_equal(b[9], 0xee);
	assert_int_equal(b[4], 0x12);
	assert_int_equal(dh_le32(b + 5), 0xa1b2c3d4u);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(test_write_all_pipe),
		T(test_write_all_error),
		T(test_write_all_offset),
		T(test_pwrite_all),
		T(test_pwrite_all_error),
		T(test_pread_full),
		T(test_pread_full_error),
		T(test_same),
		T(test_same_unreadable),
		T(test_fd_owned),
		T(test_copy_within),
		T(test_copy_across),
		T(test_copy_part),
		T(test_copy_src_short),
		T(test_copy_error),
		T(test_copy_fallbacks),
		T(test_le),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
