/*
 * mklogcase new|old CLEAN CHANGED DIR: the files a crash during an
 * in-place commit from hive CLEAN to hive CHANGED leaves once the primary
 * is marked dirty, for tests/logreader.sh to hand to another reader:
 *   DIR/HIVE       CLEAN, dirty (logcase_dirty())
 *   DIR/HIVE.LOG1  the log (src/logwrite.h) of the pages where CHANGED
 *                  differs, in the format given
 *   DIR/HIVE.LOG2  empty
 * Exits 0, or prints why not and exits 1.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "deskheap.h"
#include "format.h"
#include "io.h"
#include "logcase.h"
#include "logwrite.h"
#include "overlay.h"

static int fail(const char *what, const char *why)
{
	fprintf(stderr, "mklogcase: %s: %s\n", what, why);
	return 1;
}

/* The whole file at path, on mem; NULL with errno set. */
static uint8_t *slurp(TALLOC_CTX *mem, const char *path, int *fd, size_t *len)
{
	struct stat st;
	uint8_t *b;

	*fd = open(path, O_RDONLY | O_CLOEXEC);
	if (*fd < 0 || fstat(*fd, &st) != 0)
		return NULL;
	b = talloc_size(mem, (size_t)st.st_size + 1);
	if (b == NULL ||
	    dh_io_pread_full(*fd, b, (size_t)st.st_size, 0) != st.st_size)
		return NULL;
	*len = (size_t)st.st_size;
	return b;
}

static int put(const char *dir, const char *name, const uint8_t *b, size_t len)
{
	char path[4096];
	int fd, rc;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	rc = fd < 0 || dh_io_write_all(fd, b, len) != 0 ? fail(path, strerror(errno)) : 0;
	if (fd >= 0)
		close(fd);
	return rc;
}

int main(int argc, char **argv)
{
	TALLOC_CTX *mem = talloc_new(NULL);
	enum dh_log_format f = argc == 5 && strcmp(argv[1], "new") == 0 ? DH_LOG_NEW :
			       argc == 5 && strcmp(argv[1], "old") == 0 ? DH_LOG_OLD :
			       DH_LOG_NONE;
	struct dh_error *err = NULL;
	struct dh_log_range *r;
	uint8_t *old, *nw, *log, *dirty;
	size_t olen, nlen, n, len;
	int ofd, nfd;

	if (f == DH_LOG_NONE)
		return fail("usage", "mklogcase new|old CLEAN CHANGED DIR");
	if ((old = slurp(mem, argv[2], &ofd, &olen)) == NULL)
		return fail(argv[2], strerror(errno));
	if ((nw = slurp(mem, argv[3], &nfd, &nlen)) == NULL)
		return fail(argv[3], strerror(errno));
	r = logcase_diff(mem, old, nw, dh_logwrite_page(f), &n);
	if (r == NULL)
		return fail("diff", strerror(ENOMEM));
	if (dh_logwrite_build(mem, f, dh_overlay_new(mem, nfd, nlen), argv[3], dh_le32(nw + DH_REGF_SEQ1),
			      r, n, &log, &len, &err) != 0)
		return fail("log", err->message);
	if ((dirty = logcase_dirty(mem, old, olen, nw, f)) == NULL)
		return fail("dirty", strerror(ENOMEM));
	printf("%s log: %zu ranges, %zu bytes\n", argv[1], n, len);
	if (put(argv[4], "HIVE", dirty, olen) != 0 ||
	    put(argv[4], "HIVE.LOG1", log, len) != 0 ||
	    put(argv[4], "HIVE.LOG2", log, 0) != 0)
		return 1;
	talloc_free(mem);
	return 0;
}
