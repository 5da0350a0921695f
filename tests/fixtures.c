/*
 * Test support: see fixtures.h.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "fixtures.h"
#include "io.h"
#include "overlay.h"

static const char *tmp_base(void)
{
	const char *t = getenv("TMPDIR");

	return t != NULL && t[0] != '\0' ? t : "/tmp";
}

static int remove_entry(const char *path, const struct stat *st, int flag,
			struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	if (remove(path) != 0)
		fprintf(stderr, "fixtures: cannot remove %s: %s\n", path,
			strerror(errno));
	return 0;
}

static void remove_tree(const char *path)
{
	nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* ------------------------------------------------------------------ */

static char *fixtures_path;     /* malloc'd; lives until exit */
static pid_t fixtures_owner;    /* only this process removes it */

static void fixtures_cleanup(void)
{
	if (fixtures_path != NULL && getpid() == fixtures_owner)
		remove_tree(fixtures_path);
	free(fixtures_path);
	fixtures_path = NULL;
}

const char *fixtures_dir(void)
{
	const char *gen = getenv("MKFIXTURES");
	char *dir;
	pid_t pid;
	int status;

	if (fixtures_path != NULL)
		return fixtures_path;
	if (gen == NULL || gen[0] == '\0')
		fail_msg("MKFIXTURES is not set: run the tests with 'make check', "
			 "or set MKFIXTURES to the path of the mkfixtures program");

	if (asprintf(&dir, "%s/deskheap-fixtures-XXXXXX", tmp_base()) < 0)
		fail_msg("out of memory");
	if (mkdtemp(dir) == NULL) {
		int e = errno;
		free(dir);
		fail_msg("mkdtemp under %s: %s", tmp_base(), strerror(e));
	}

	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		int e = errno;
		remove_tree(dir);
		free(dir);
		fail_msg("fork: %s", strerror(e));
	}
	if (pid == 0) {
		execl(gen, gen, dir, (char *)NULL);
		fprintf(stderr, "fixtures: cannot run %s: %s\n", gen,
			strerror(errno));
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			status = -1;
			break;
		}
	}
	if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		remove_tree(dir);
		free(dir);
		fail_msg("'%s DIR' failed (wait status %d): no fixtures", gen,
			 status);
	}

	fixtures_path = dir;
	fixtures_owner = getpid();
	atexit(fixtures_cleanup);
	return fixtures_path;
}

/* ------------------------------------------------------------------ */

/* 0, or an errno value. */
static int copy_file(const char *src, const char *dst)
{
	char buf[65536];
	int in, out, err = 0;
	ssize_t n;

	in = open(src, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return errno;
	out = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (out < 0) {
		err = errno;
		close(in);
		return err;
	}
	while (err == 0 && (n = read(in, buf, sizeof buf)) != 0) {
		if (n < 0) {
			if (errno != EINTR)
				err = errno;
			continue;
		}
		for (ssize_t done = 0; err == 0 && done < n;) {
			ssize_t w = write(out, buf + done, (size_t)(n - done));
			if (w < 0 && errno != EINTR)
				err = errno;
			else if (w > 0)
				done += w;
		}
	}
	close(in);
	if (close(out) != 0 && err == 0)
		err = errno;
	return err;
}

char *fixture_copy(TALLOC_CTX *mem, const char *name, const char *dir)
{
	char *src = talloc_asprintf(mem, "%s/%s", fixtures_dir(), name);
	char *dst = talloc_asprintf(mem, "%s/%s", dir, name);
	int err;

	if (src == NULL || dst == NULL)
		fail_msg("out of memory");
	err = copy_file(src, dst);
	if (err != 0)
		fail_msg("copying fixture %s to %s: %s", src, dst, strerror(err));
	talloc_free(src);
	return dst;
}

/* ------------------------------------------------------------------ */

static int tmpdir_destructor(char *path)
{
	remove_tree(path);
	return 0;
}

char *tmpdir_new(TALLOC_CTX *mem)
{
	char *path = talloc_asprintf(mem, "%s/deskheap-test-XXXXXX", tmp_base());

	if (path == NULL)
		fail_msg("out of memory");
	if (mkdtemp(path) == NULL)
		fail_msg("mkdtemp under %s: %s", tmp_base(), strerror(errno));
	talloc_set_destructor(path, tmpdir_destructor);
	return path;
}

/* ------------------------------------------------------------------ */

int file_equal(const char *a, const char *b)
{
	int fa = open(a, O_RDONLY | O_CLOEXEC), fb = -1, equal = 0, same;
	struct stat sa, sb;

	if (fa < 0) {
		fprintf(stderr, "file_equal: %s: %s\n", a, strerror(errno));
		return 0;
	}
	fb = open(b, O_RDONLY | O_CLOEXEC);
	if (fb < 0) {
		fprintf(stderr, "file_equal: %s: %s\n", b, strerror(errno));
		goto out;
	}
	if (fstat(fa, &sa) != 0 || fstat(fb, &sb) != 0 ||
	    sa.st_size != sb.st_size)
		goto out;
	same = dh_io_same(fa, fb);
	if (same < 0)
		fprintf(stderr, "file_equal: reading %s or %s: %s\n", a, b,
			strerror(errno));
	equal = same == 1;
out:
	close(fa);
	if (fb >= 0)
		close(fb);
	return equal;
}

struct dh_hive *fixture_open(TALLOC_CTX *mem, const char *name, bool writable)
{
	char *path = talloc_asprintf(mem, "%s/%s", fixtures_dir(), name);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct dh_hive *h = NULL;

	assert_true(fd >= 0);
	assert_int_equal(dh_hive_open_fd(mem, fd, path, writable, &h, NULL), 0);
	close(fd);
	return h;
}

int count_names(const char *dir, const char *needle)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	if (d == NULL)
		fail_msg("cannot list %s: %s", dir, strerror(errno));
	while ((e = readdir(d)) != NULL)
		n += strstr(e->d_name, needle) != NULL;
	closedir(d);
	return n;
}

/* ------------------------------------------------------------------ */

uint8_t *corpus_load(TALLOC_CTX *mem, const char *name, size_t *len)
{
	const char *corpus = getenv("DESKHEAP_CORPUS");
	const char *top = getenv("top_srcdir");
	char *path, *cmd, *q;
	uint8_t *buf = NULL;
	size_t cap = 0, n = 0, got;
	FILE *f;
	int status;

	if (corpus == NULL || *corpus == '\0')
		corpus = talloc_asprintf(mem, "%s/../shared/corpus",
					 top != NULL && *top != '\0' ? top
								     : ".");
	assert_non_null(corpus);
	path = talloc_asprintf(mem, "%s/%s", corpus, name);
	assert_non_null(path);
	f = fopen(path, "rb");
	if (f == NULL) {
		print_message("# corpus file %s not found: set DESKHEAP_CORPUS "
			      "to run this test\n", path);
		return NULL;
	}
	fclose(f);

	/* Single-quote the path for the shell, ' becoming '\''. */
	cmd = talloc_strdup(mem, "xz -dc -- '");
	for (q = path; cmd != NULL && *q != '\0'; q++)
		cmd = *q == '\'' ? talloc_strdup_append(cmd, "'\\''")
				 : talloc_asprintf_append(cmd, "%c", *q);
	cmd = talloc_strdup_append(cmd, "'");
	assert_non_null(cmd);

	f = popen(cmd, "r");
	assert_non_null(f);
	do {
		if (cap - n < 65536) {
			cap = cap == 0 ? 1 << 20 : cap * 2;
			buf = talloc_realloc(mem, buf, uint8_t, cap);
			assert_non_null(buf);
		}
		got = fread(buf + n, 1, cap - n, f);
		n += got;
	} while (got > 0);
	status = pclose(f);
	if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
		fail_msg("%s failed (status %d)", cmd, status);
	*len = n;
	return buf;
}

/* ------------------------------------------------------------------ */

uint8_t *file_bytes(TALLOC_CTX *mem, int fd, size_t *len)
{
	struct stat st;
	uint8_t *b;

	assert_int_equal(fstat(fd, &st), 0);
	b = talloc_size(mem, st.st_size ? (size_t)st.st_size : 1);
	assert_non_null(b);
	assert_int_equal(pread(fd, b, (size_t)st.st_size, 0), st.st_size);
	*len = (size_t)st.st_size;
	return b;
}

struct dh_overlay *fd_overlay(TALLOC_CTX *mem, int fd)
{
	struct stat st;
	struct dh_overlay *o;

	assert_int_equal(fstat(fd, &st), 0);
	o = dh_overlay_new(mem, fd, (size_t)st.st_size);
	assert_non_null(o);
	return o;
}

uint8_t *path_bytes(TALLOC_CTX *mem, const char *path, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	uint8_t *data;

	if (fd < 0)
		fail_msg("cannot open %s: %s", path, strerror(errno));
	data = file_bytes(mem, fd, len);
	close(fd);
	return data;
}
