/*
 * Unit tests of target.c: from a path on the command line to the hive's
 * directory and name (a hive file, a config directory, a Windows volume
 * root, in any letter case), the links refused on the way, the logs beside
 * the hive, the hibernation check and the mapping of a file.
 *
 * Each test builds its tree in a fresh directory (tmpdir_new). A link that
 * is refused always points at a complete, valid tree: following it would
 * have succeeded, so the refusal shows it was not followed.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "error.h"
#include "fixtures.h"
#include "target.h"

struct fx {
	TALLOC_CTX *mem;
	char *dir;      /* the test's own directory */
	int cwd;        /* where the test started, for tests that chdir */
};

static const char WIN[] = "Windows/System32/config";
static const char NT[] = "WINNT/system32/config";

static int setup(void **state)
{
	struct fx *f = talloc_zero(NULL, struct fx);

	assert_non_null(f);
	f->mem = f;
	f->dir = tmpdir_new(f);
	f->cwd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(f->cwd >= 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	assert_int_equal(fchdir(f->cwd), 0);
	close(f->cwd);
	talloc_free(f);
	return 0;
}

/* ------------------------------------------------------------------ */
/* Helpers                                                            */

/* rel below the test's directory. */
static char *at(struct fx *f, const char *rel)
{
	char *p = talloc_asprintf(f->mem, "%s/%s", f->dir, rel);

	assert_non_null(p);
	return p;
}

/* mkdir -p rel below the test's directory. */
static void mkdirs(struct fx *f, const char *rel)
{
	char *p = at(f, rel);

	for (char *s = strchr(p + strlen(f->dir) + 1, '/'); s != NULL;
	     s = strchr(s + 1, '/')) {
		*s = '\0';
		assert_true(mkdir(p, 0700) == 0 || errno == EEXIST);
		*s = '/';
	}
	assert_true(mkdir(p, 0700) == 0 || errno == EEXIST);
}

/* The file rel (its directories made first) holding len bytes of data. */
static void put(struct fx *f, const char *rel, const void *data, size_t len)
{
	char *dir = talloc_strdup(f->mem, rel), *slash = strrchr(dir, '/');
	int fd;

	if (slash != NULL) {
		*slash = '\0';
		mkdirs(f, dir);
	}
	fd = open(at(f, rel), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	close(fd);
}

static void hive_at(struct fx *f, const char *dir, const char *name)
{
	put(f, talloc_asprintf(f->mem, "%s/%s", dir, name), "regf", 4);
}

static void link_at(struct fx *f, const char *target, const char *rel)
{
	assert_int_equal(symlink(target, at(f, rel)), 0);
}

static struct dh_target *resolve(struct fx *f, const char *given)
{
	struct dh_target *t = NULL;
	struct dh_error *err = NULL;

	if (dh_target_resolve(f->mem, given, &t, &err) != 0)
		fail_msg("%s refused: %s", given, err->message);
	assert_non_null(t);
	return t;
}

/* err has code and a message holding each string of the NULL-ended list. */
static void assert_error(const struct dh_error *err, enum dh_errcode code,
			 va_list words)
{
	const char *w;

	assert_non_null(err);
	assert_int_equal(err->code, code);
	while ((w = va_arg(words, const char *)) != NULL)
		if (strstr(err->message, w) == NULL)
			fail_msg("\"%s\" is not in: %s", w, err->message);
}

/* Resolving given is refused with code, the message holding each word. */
static void refused(struct fx *f, const char *given, enum dh_errcode code, ...)
{
	struct dh_target *t = NULL;
	struct dh_error *err = NULL;
	va_list words;

	assert_int_equal(dh_target_resolve(f->mem, given, &t, &err), -1);
	assert_null(t);
	va_start(words, code);
	assert_error(err, code, words);
	va_end(words);
}

static void same_file(struct stat *a, struct stat *b)
{
	assert_true(a->st_dev == b->st_dev && a->st_ino == b->st_ino);
}

/* fd is the directory rel (NULL: the test's own directory). */
static void assert_dirfd(struct fx *f, int fd, const char *rel)
{
	struct stat a, b;

	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &a), 0);
	assert_int_equal(stat(rel ? at(f, rel) : f->dir, &b), 0);
	same_file(&a, &b);
}

/* t names the file rel: its descriptor and name lead there, and the paths
 * for messages are dir and dir + name. */
static void assert_hive(struct fx *f, const struct dh_target *t,
			const char *rel, const char *dir, const char *name)
{
	struct stat a, b;

	assert_string_equal(t->dir, dir);
	assert_string_equal(t->name, name);
	assert_string_equal(t->path, talloc_asprintf(f->mem, "%s%s", dir, name));
	assert_int_equal(fstatat(t->dirfd, t->name, &a, AT_SYMLINK_NOFOLLOW), 0);
	assert_int_equal(lstat(at(f, rel), &b), 0);
	same_file(&a, &b);
}

static void assert_no_root(const struct dh_target *t)
{
	assert_int_equal(t->rootfd, -1);
	assert_null(t->root);
}

static int is_open(int fd)
{
	return fcntl(fd, F_GETFD) != -1 || errno != EBADF;
}

/* Whether addr lies in a mapping of this process. */
static int is_mapped(const void *addr)
{
	FILE *maps = fopen("/proc/self/maps", "re");
	unsigned long start, end, a = (unsigned long)(uintptr_t)addr;
	int found = 0;

	assert_non_null(maps);
	while (!found && fscanf(maps, "%lx-%lx%*[^\n]", &start, &end) == 2)
		found = start <= a && a < end;
	fclose(maps);
	return found;
}

/* ------------------------------------------------------------------ */
/* A hive file                                                        */

static void test_file(void **state)
{
	struct fx *f = *state;
	struct dh_target *t;

	hive_at(f, "hives", "my-hive");
	t = resolve(f, at(f, "hives/my-hive"));
	assert_string_equal(t->given, at(f, "hives/my-hive"));
	assert_hive(f, t, "hives/my-hive", at(f, "hives/"), "my-hive");
	assert_dirfd(f, t->dirfd, "hives");
	assert_no_root(t);
}

static void test_file_relative(void **state)
{
	struct fx *f = *state;
	struct dh_target *t;

	hive_at(f, "hives", "SYSTEM");
	assert_int_equal(chdir(f->dir), 0);
	t = resolve(f, "hives/SYSTEM");
	assert_hive(f, t, "hives/SYSTEM", "hives/", "SYSTEM");
	assert_int_equal(chdir("hives"), 0);
	t = resolve(f, "SYSTEM");
	assert_hive(f, t, "hives/SYSTEM", "", "SYSTEM");
	assert_dirfd(f, t->dirfd, "hives");
	assert_no_root(t);
}

/* The path the user typed is theirs: a link on it is followed; only the
 * hive's own name is opened without following, and refused if a link. */
static void test_file_link(void **state)
{
	struct fx *f = *state;
	struct dh_target *t;
	struct dh_error *err = NULL;
	int fd = -1;

	hive_at(f, "real", "SYSTEM");
	link_at(f, "real", "via");
	t = resolve(f, at(f, "via/SYSTEM"));
	assert_hive(f, t, "real/SYSTEM", at(f, "via/"), "SYSTEM");
	link_at(f, "SYSTEM", "real/LINKED");
	t = resolve(f, at(f, "real/LINKED"));
	assert_int_equal(dh_target_open_hive(f->mem, t, &fd, &err), -1);
	assert_int_equal(fd, -1);
	assert_int_equal(err->code, DH_ERR_ARGUMENT);
	assert_string_equal(err->message, talloc_asprintf(f->mem,
		"%s is a symbolic link: give the hive file itself",
		at(f, "real/LINKED")));
}

/* ------------------------------------------------------------------ */
/* A config directory                                                 */

static void test_config_dir(void **state)
{
	struct fx *f = *state;
	struct dh_target *t;

	hive_at(f, "cfg", "system");
	t = resolve(f, at(f, "cfg"));
	assert_hive(f, t, "cfg/system", at(f, "cfg/"), "system");
	assert_dirfd(f, t->dirfd, "cfg");
	assert_no_root(t);
	t = resolve(f, at(f, "cfg/"));
	assert_hive(f, t, "cfg/system", at(f, "cfg/"), "system");
	assert_int_equal(chdir(f->dir), 0);
	t = resolve(f, "cfg");
	assert_hive(f, t, "cfg/system", "cfg/", "system");
	assert_int_equal(chdir("cfg"), 0);
	t = resolve(f, ".");
	assert_hive(f, t, "cfg/system", "./", "system");
}

static void test_config_dir_refused(void **state)
{
	struct fx *f = *state;

	hive_at(f, "two", "SYSTEM");
	hive_at(f, "two", "system");
	refused(f, at(f, "two"), DH_ERR_ARGUMENT, "both ", at(f, "two/SYSTEM"),
		at(f, "two/system"), "move the stale one away", NULL);
	hive_at(f, "linked", "REAL");
	link_at(f, "REAL", "linked/SYSTEM");
	refused(f, at(f, "linked"), DH_ERR_ARGUMENT,
		at(f, "linked/SYSTEM is a symbolic link"),
		"does not follow links", NULL);
	mkdirs(f, "dangling");
	link_at(f, "nowhere", "dangling/SYSTEM");
	refused(f, at(f, "dangling"), DH_ERR_ARGUMENT,
		at(f, "dangling/SYSTEM is a symbolic link"), NULL);
}

/* ------------------------------------------------------------------ */
/* A Windows volume root                                              */

/* The hive of the volume root `vol` in layout `layout` (spelled as on
 * disk) is found, with the root known. */
static void assert_volume(struct fx *f, const char *vol, const char *layout)
{
	char *dir = talloc_asprintf(f->mem, "%s/%s", vol, layout);
	struct dh_target *t = resolve(f, at(f, vol));
	char *file = talloc_asprintf(f->mem, "%s/%s", dir, t->name);

	assert_hive(f, t, file, at(f, talloc_asprintf(f->mem, "%s/", dir)),
		    t->name);
	assert_string_equal(t->root, at(f, talloc_asprintf(f->mem, "%s/", vol)));
	assert_dirfd(f, t->rootfd, vol);
	t = resolve(f, at(f, talloc_asprintf(f->mem, "%s/", vol)));
	assert_hive(f, t, file, at(f, talloc_asprintf(f->mem, "%s/", dir)),
		    t->name);
}

static void test_volume(void **state)
{
	struct fx *f = *state;

	hive_at(f, "win/Windows/System32/config", "SYSTEM");
	assert_volume(f, "win", WIN);
	hive_at(f, "nt/WINNT/system32/config", "SYSTEM");
	assert_volume(f, "nt", NT);
	hive_at(f, "lower/windows/system32/config", "system");
	assert_volume(f, "lower", "windows/system32/config");
	hive_at(f, "odd/wINDOWs/SYSTEM32/Config", "System");
	assert_volume(f, "odd", "wINDOWs/SYSTEM32/Config");
	assert_string_equal(resolve(f, at(f, "odd"))->name, "System");
	hive_at(f, "oddnt/Winnt/System32/CONFIG", "sYSTEM");
	assert_volume(f, "oddnt", "Winnt/System32/CONFIG");
}

static void test_volume_relative(void **state)
{
	struct fx *f = *state;
	struct dh_target *t;

	hive_at(f, "vol/Windows/System32/config", "SYSTEM");
	assert_int_equal(chdir(f->dir), 0);
	t = resolve(f, "vol");
	assert_hive(f, t, "vol/Windows/System32/config/SYSTEM",
		    "vol/Windows/System32/config/", "SYSTEM");
	assert_string_equal(t->root, "vol/");
	assert_int_equal(chdir("vol"), 0);
	t = resolve(f, ".");
	assert_hive(f, t, "vol/Windows/System32/config/SYSTEM",
		    "./Windows/System32/config/", "SYSTEM");
	assert_string_equal(t->root, "./");
	assert_dirfd(f, t->rootfd, "vol");
}

/* Both layouts hold a hive: which one boots cannot be told. */
static void test_volume_two_layouts(void **state)
{
	struct fx *f = *state;

	hive_at(f, WIN, "SYSTEM");
	hive_at(f, NT, "SYSTEM");
	refused(f, f->dir, DH_ERR_ARGUMENT, "holds both ",
		at(f, "Windows/System32/config/SYSTEM"),
		at(f, "WINNT/system32/config/SYSTEM"), "give the one to change",
		NULL);
}

/* Two spellings of one directory on a case-sensitive mount, at each level
 * of the layout; refused even when only one of them holds a hive. */
static void test_volume_two_spellings(void **state)
{
	struct fx *f = *state;
	static const char *const twins[][2] = {
		{ "a/Windows/System32/config", "a/WINDOWS" },
		{ "b/Windows/System32/config", "b/Windows/system32" },
		{ "c/Windows/System32/config", "c/Windows/System32/CONFIG" },
		{ "d/WINNT/system32/config", "d/winnt" },
	};

	for (size_t i = 0; i < sizeof(twins) / sizeof(twins[0]); i++) {
		char vol[2] = { twins[i][0][0], '\0' };

		hive_at(f, twins[i][0], "SYSTEM");
		mkdirs(f, twins[i][1]);
		refused(f, at(f, vol), DH_ERR_ARGUMENT, "both ", at(f, twins[i][1]),
			"exist: deskheap cannot tell which one Windows uses",
			"move the stale one away", NULL);
	}
	hive_at(f, "e/Windows/System32/config", "SYSTEM");
	hive_at(f, "e/Windows/System32/config", "system");
	refused(f, at(f, "e"), DH_ERR_ARGUMENT, "both ",
		at(f, "e/Windows/System32/config/SYSTEM"),
		at(f, "e/Windows/System32/config/system"), NULL);
}

/* A link at each step below the volume root, pointing at a complete
 * layout elsewhere, is refused and named. */
static void test_volume_links(void **state)
{
	struct fx *f = *state;
	static const char *const steps[][2] = {
		{ "a", "Windows" },
		{ "b", "Windows/System32" },
		{ "c", "Windows/System32/config" },
		{ "d", "Windows/System32/config/SYSTEM" },
		{ "e", "WINNT" },
		{ "f", "WINNT/system32/config/SYSTEM" },
	};

	hive_at(f, "elsewhere/Windows/System32/config", "SYSTEM");
	hive_at(f, "elsewhere/WINNT/system32/config", "SYSTEM");
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		char *link = talloc_asprintf(f->mem, "%s/%s", steps[i][0], steps[i][1]);
		char *parent = talloc_strndup(f->mem, link, strrchr(link, '/') - link);

		mkdirs(f, parent);
		link_at(f, at(f, talloc_asprintf(f->mem, "elsewhere/%s", steps[i][1])),
			link);
		refused(f, at(f, steps[i][0]), DH_ERR_ARGUMENT,
			talloc_asprintf(f->mem, "%s is a symbolic link", at(f, link)),
			"does not follow links inside a target", NULL);
	}
	/* A link on the other layout than the hive's is refused too. */
	hive_at(f, "g/Windows/System32/config", "SYSTEM");
	link_at(f, at(f, "elsewhere/WINNT"), "g/WINNT");
	refused(f, at(f, "g"), DH_ERR_ARGUMENT,
		at(f, "g/WINNT is a symbolic link"), NULL);
}

/* The volume root as the user typed it may be a link. */
static void test_volume_given_link(void **state)
{
	struct fx *f = *state;
	struct dh_target *t;

	hive_at(f, "vol/Windows/System32/config", "SYSTEM");
	link_at(f, "vol", "mnt");
	t = resolve(f, at(f, "mnt"));
	assert_hive(f, t, "vol/Windows/System32/config/SYSTEM",
		    at(f, "mnt/Windows/System32/config/"), "SYSTEM");
	assert_string_equal(t->root, at(f, "mnt/"));
}

/* ------------------------------------------------------------------ */
/* Missing pieces                                                     */

static void test_missing(void **state)
{
	struct fx *f = *state;
	static const char *const partial[] = {
		"a/Windows", "b/Windows/System32", "c/Windows/System32/config",
		"d/WINNT/system32/config", "e/Windows/System32/config/SYSTEM",
		"f/Windows/System32/config/SYSTEM.LOG1",
	};

	refused(f, at(f, "nothing"), DH_ERR_IO, "cannot find ",
		at(f, "nothing"), "check the path, and that the volume is mounted",
		strerror(ENOENT), NULL);
	refused(f, at(f, "nothing/SYSTEM"), DH_ERR_IO,
		at(f, "nothing/SYSTEM"), strerror(ENOENT), NULL);
	for (size_t i = 0; i < sizeof(partial) / sizeof(partial[0]); i++) {
		char vol[2] = { partial[i][0], '\0' };

		mkdirs(f, partial[i]);
		refused(f, at(f, vol), DH_ERR_ARGUMENT, "no SYSTEM hive in ",
			at(f, vol), "Windows/System32/config/SYSTEM",
			"WINNT/system32/config/SYSTEM", "any letter case",
			"give the root of the mounted Windows volume", NULL);
	}
	/* A file where a directory should be is not a layout. */
	put(f, "g/Windows", "x", 1);
	refused(f, at(f, "g"), DH_ERR_ARGUMENT, "no SYSTEM hive in ", NULL);
}

/* The hive taken away between resolving and opening. */
static void test_open_hive(void **state)
{
	struct fx *f = *state;
	TALLOC_CTX *mem = talloc_new(f->mem);
	struct dh_target *t;
	struct dh_error *err = NULL;
	char buf[8] = "";
	int fd = -1;

	hive_at(f, "cfg", "SYSTEM");
	t = resolve(f, at(f, "cfg"));
	assert_int_equal(dh_target_open_hive(mem, t, &fd, &err), 0);
	assert_int_equal(read(fd, buf, sizeof(buf)), 4);
	assert_memory_equal(buf, "regf", 4);
	assert_int_equal(fcntl(fd, F_GETFL) & O_ACCMODE, O_RDONLY);
	talloc_free(mem);
	assert_false(is_open(fd));
	assert_int_equal(unlink(at(f, "cfg/SYSTEM")), 0);
	fd = -1;
	assert_int_equal(dh_target_open_hive(f->mem, t, &fd, &err), -1);
	assert_int_equal(fd, -1);
	assert_int_equal(err->code, DH_ERR_IO);
	assert_non_null(strstr(err->message, at(f, "cfg/SYSTEM")));
	assert_non_null(strstr(err->message, "check that the path exists"));
	assert_non_null(strstr(err->message, strerror(ENOENT)));
}

/* Freeing the target closes its directory and its volume root. */
static void test_free_closes(void **state)
{
	struct fx *f = *state;
	struct dh_target *t;
	int dirfd, rootfd;

	hive_at(f, WIN, "SYSTEM");
	t = resolve(f, f->dir);
	dirfd = t->dirfd;
	rootfd = t->rootfd;
	assert_true(is_open(dirfd) && is_open(rootfd) && dirfd != rootfd);
	talloc_free(t);
	assert_false(is_open(dirfd));
	assert_false(is_open(rootfd));
}

/* ------------------------------------------------------------------ */
/* The volume root found above a config directory or a hive file      */

static void test_root_above(void **state)
{
	struct fx *f = *state;
	struct dh_target *t;

	hive_at(f, "v/Windows/System32/config", "SYSTEM");
	t = resolve(f, at(f, "v/Windows/System32/config/SYSTEM"));
	assert_string_equal(t->root, at(f, "v/Windows/System32/config/../../../"));
	assert_dirfd(f, t->rootfd, "v");
	t = resolve(f, at(f, "v/Windows/System32/config"));
	assert_string_equal(t->root, at(f, "v/Windows/System32/config/../../../"));
	assert_dirfd(f, t->rootfd, "v");
	hive_at(f, "n/winnt/SYSTEM32/Config", "hive");
	t = resolve(f, at(f, "n/winnt/SYSTEM32/Config/hive"));
	assert_dirfd(f, t->rootfd, "n");
	assert_int_equal(chdir(at(f, "v/Windows/System32/config")), 0);
	t = resolve(f, "SYSTEM");
	assert_string_equal(t->root, "../../../");
	assert_dirfd(f, t->rootfd, "v");
	/* Not a Windows layout above: no root. */
	hive_at(f, "x/Windows/Other/config", "SYSTEM");
	assert_no_root(resolve(f, at(f, "x/Windows/Other/config/SYSTEM")));
	hive_at(f, "y/System32/config", "SYSTEM");
	assert_no_root(resolve(f, at(f, "y/System32/config")));
}

/* ------------------------------------------------------------------ */
/* Hibernation                                                        */

/* dh_target_hibernated on t: NULL, or a message holding each word. */
static void hibernated(struct fx *f, const struct dh_target *t, ...)
{
	struct dh_error *err = NULL;
	char *msg = (char *)"unset";
	const char *w;
	va_list words;

	assert_int_equal(dh_target_hibernated(f->mem, t, &msg, &err), 0);
	va_start(words, t);
	w = va_arg(words, const char *);
	if (w == NULL)
		assert_null(msg);
	for (; w != NULL; w = va_arg(words, const char *)) {
		assert_non_null(msg);
		if (strstr(msg, w) == NULL)
			fail_msg("\"%s\" is not in: %s", w, msg);
	}
	va_end(words);
}

static void test_hibernated(void **state)
{
	struct fx *f = *state;
	static const char zeros[4096];
	struct dh_target *t;
	char *file = at(f, "hiberfil.sys");

	hive_at(f, WIN, "SYSTEM");
	t = resolve(f, f->dir);
	hibernated(f, t, NULL);
	put(f, "hiberfil.sys", "hibr\0\0\0\0", 8);
	hibernated(f, t, "Windows on ", t->root, file, "begins with \"hibr\"",
		   "shut it down fully", "Fast Startup", "--allow-hibernated",
		   NULL);
	put(f, "hiberfil.sys", "HIBRxxxx", 8);
	hibernated(f, t, file, "\"HIBR\"", NULL);
	put(f, "hiberfil.sys", "wake", 4);
	hibernated(f, t, NULL);
	put(f, "hiberfil.sys", zeros, sizeof(zeros));
	hibernated(f, t, NULL);
	put(f, "hiberfil.sys", "Hibr", 4);
	hibernated(f, t, NULL);
	put(f, "hiberfil.sys", "hibx", 4);
	hibernated(f, t, NULL);
	put(f, "hiberfil.sys", "hib", 3);
	hibernated(f, t, NULL);
	put(f, "hiberfil.sys", "", 0);
	hibernated(f, t, NULL);
	assert_int_equal(rename(file, at(f, "HiberFil.SYS")), 0);
	put(f, "HiberFil.SYS", "hibr", 4);
	hibernated(f, t, at(f, "HiberFil.SYS"), NULL);
}

/* Only a known volume root is looked at: a hive file or config directory
 * outside a Windows layout has none; inside one, its root is found. */
static void test_hibernated_root(void **state)
{
	struct fx *f = *state;

	hive_at(f, "plain", "SYSTEM");
	put(f, "plain/hiberfil.sys", "hibr", 4);
	hibernated(f, resolve(f, at(f, "plain/SYSTEM")), NULL);
	hibernated(f, resolve(f, at(f, "plain")), NULL);
	hive_at(f, "v/Windows/System32/config", "SYSTEM");
	put(f, "v/hiberfil.sys", "hibr", 4);
	hibernated(f, resolve(f, at(f, "v/Windows/System32/config/SYSTEM")),
		   at(f, "v/Windows/System32/config/../../../hiberfil.sys"), NULL);
	hibernated(f, resolve(f, at(f, "v/Windows/System32/config")),
		   "hiberfil.sys begins with \"hibr\"", NULL);
	assert_int_equal(chdir(at(f, "v/Windows/System32/config")), 0);
	hibernated(f, resolve(f, "SYSTEM"), "../../../hiberfil.sys", NULL);
}

/* A hiberfil.sys that is a link, or two of them, is refused; one that is
 * a directory is not a hibernation file. */
static void test_hibernated_refused(void **state)
{
	struct fx *f = *state;
	struct dh_target *t;
	struct dh_error *err = NULL;
	char *msg = NULL;

	hive_at(f, WIN, "SYSTEM");
	t = resolve(f, f->dir);
	put(f, "elsewhere", "hibr", 4);
	link_at(f, "elsewhere", "hiberfil.sys");
	assert_int_equal(dh_target_hibernated(f->mem, t, &msg, &err), -1);
	assert_null(msg);
	assert_int_equal(err->code, DH_ERR_ARGUMENT);
	assert_non_null(strstr(err->message, "hiberfil.sys is a symbolic link"));
	assert_int_equal(unlink(at(f, "hiberfil.sys")), 0);
	put(f, "hiberfil.sys", "wake", 4);
	put(f, "HIBERFIL.SYS", "hibr", 4);
	err = NULL;
	assert_int_equal(dh_target_hibernated(f->mem, t, &msg, &err), -1);
	assert_int_equal(err->code, DH_ERR_ARGUMENT);
	assert_non_null(strstr(err->message, "move the stale one away"));
	assert_int_equal(unlink(at(f, "hiberfil.sys")), 0);
	assert_int_equal(unlink(at(f, "HIBERFIL.SYS")), 0);
	mkdirs(f, "hiberfil.sys");
	hibernated(f, t, NULL);
}

/* ------------------------------------------------------------------ */
/* Logs                                                               */

/* The logs beside the hive `given` resolves to, which must be read; *n of
 * them, on the test's context. */
static struct dh_log_file *logs_of(struct fx *f, const char *given, size_t *n)
{
	struct dh_log_file *logs = NULL;
	struct dh_error *err = NULL;

	*n = 99;
	if (dh_target_logs(f->mem, resolve(f, given), &logs, n, &err) != 0)
		fail_msg("logs of %s refused: %s", given, err->message);
	assert_non_null(logs);
	return logs;
}

static void test_logs(void **state)
{
	struct fx *f = *state;
	static const char *const names[] = { "SYSTEM.LOG2", "SYSTEM.LOG", "SYSTEM.LOG1" };
	static const char *const suffixes[] = { ".LOG", ".LOG1", ".LOG2" };
	struct dh_log_file *logs;
	const void *maps[3];
	int fds[3];
	size_t n;

	hive_at(f, "cfg", "SYSTEM");
	logs_of(f, at(f, "cfg"), &n);
	assert_int_equal(n, 0);
	for (size_t i = 0; i < 3; i++)
		put(f, talloc_asprintf(f->mem, "cfg/%s", names[i]), names[i],
		    strlen(names[i]));
	logs = logs_of(f, at(f, "cfg"), &n);
	assert_int_equal(n, 3);
	for (size_t i = 0; i < 3; i++) {
		char *name = talloc_asprintf(f->mem, "SYSTEM%s", suffixes[i]);

		assert_string_equal(logs[i].path, at(f, talloc_asprintf(f->mem, "cfg/%s", name)));
		assert_string_equal(logs[i].suffix, suffixes[i]);
		assert_ptr_equal(logs[i].suffix, logs[i].path + strlen(logs[i].path) - strlen(suffixes[i]));
		assert_int_equal(logs[i].len, strlen(name));
		assert_memory_equal(logs[i].data, name, logs[i].len);
		assert_true(is_open(logs[i].fd));
		assert_int_equal(fcntl(logs[i].fd, F_GETFL) & O_ACCMODE, O_RDONLY);
		maps[i] = logs[i].data;
		fds[i] = logs[i].fd;
		assert_true(is_mapped(maps[i]));
	}
	talloc_free(logs);
	for (size_t i = 0; i < 3; i++) {
		assert_false(is_mapped(maps[i]));
		assert_false(is_open(fds[i]));
	}
}

/* Suffix and name in any letter case; a hive of another name; an empty
 * log; only some of the logs. */
static void test_logs_case(void **state)
{
	struct fx *f = *state;
	struct dh_log_file *logs;
	size_t n;

	hive_at(f, "cfg", "system");
	put(f, "cfg/SYSTEM.log1", "one", 3);
	put(f, "cfg/System.Log2", "", 0);
	logs = logs_of(f, at(f, "cfg"), &n);
	assert_int_equal(n, 2);
	assert_string_equal(logs[0].path, at(f, "cfg/SYSTEM.log1"));
	assert_string_equal(logs[0].suffix, ".log1");
	assert_int_equal(logs[0].len, 3);
	assert_string_equal(logs[1].path, at(f, "cfg/System.Log2"));
	assert_string_equal(logs[1].suffix, ".Log2");
	assert_int_equal(logs[1].len, 0);
	assert_null(logs[1].data);
	hive_at(f, "file", "my.hive");
	put(f, "file/MY.HIVE.LOG", "log", 3);
	put(f, "file/my.hive.LOG3", "not a log", 9);
	put(f, "file/SYSTEM.LOG1", "another hive's", 14);
	logs = logs_of(f, at(f, "file/my.hive"), &n);
	assert_int_equal(n, 1);
	assert_string_equal(logs[0].path, at(f, "file/MY.HIVE.LOG"));
	assert_string_equal(logs[0].suffix, ".LOG");
	assert_memory_equal(logs[0].data, "log", 3);
}

/* dh_target_logs on t is refused with code, the message holding each
 * word; *logs and *n are left alone and only the error is left on mem. */
static void logs_refused(const struct dh_target *t, enum dh_errcode code, ...)
{
	TALLOC_CTX *mem = talloc_new(NULL);
	struct dh_log_file *logs = NULL;
	struct dh_error *err = NULL;
	size_t n = 99;
	va_list words;

	assert_int_equal(dh_target_logs(mem, t, &logs, &n, &err), -1);
	assert_null(logs);
	assert_int_equal(n, 99);
	va_start(words, code);
	assert_error(err, code, words);
	va_end(words);
	assert_ptr_equal(talloc_parent(err), mem);
	assert_int_equal(talloc_total_blocks(mem), 1 + talloc_total_blocks(err));
	talloc_free(mem);
}

static void test_logs_refused(void **state)
{
	struct fx *f = *state;
	struct dh_target *t;

	hive_at(f, "two", "SYSTEM");
	put(f, "two/SYSTEM.LOG", "ok", 2);
	put(f, "two/SYSTEM.LOG1", "a", 1);
	put(f, "two/system.LOG1", "b", 1);
	t = resolve(f, at(f, "two"));
	logs_refused(t, DH_ERR_ARGUMENT, "both ", at(f, "two/SYSTEM.LOG1"),
		     at(f, "two/system.LOG1"), "move the stale one away", NULL);
	hive_at(f, "link", "SYSTEM");
	put(f, "link/SYSTEM.LOG1", "ok", 2);
	put(f, "elsewhere", "a log elsewhere", 15);
	link_at(f, at(f, "elsewhere"), "link/SYSTEM.LOG2");
	t = resolve(f, at(f, "link"));
	logs_refused(t, DH_ERR_ARGUMENT,
		     at(f, "link/SYSTEM.LOG2 is a symbolic link"),
		     "does not follow links", NULL);
}

/* What is not a regular file is no log: left out, never opened (a FIFO
 * would block the open). */
/* A directory named like a log is passed over; a FIFO (or a device) is
 * refused, naming it: left out, it would hide a log without a word, and
 * read, it would block. */
static void test_logs_not_regular(void **state)
{
	struct fx *f = *state;
	struct dh_log_file *logs = NULL;
	struct dh_error *err = NULL;
	size_t n;

	hive_at(f, "cfg", "SYSTEM");
	put(f, "cfg/SYSTEM.LOG1", "one", 3);
	mkdirs(f, "cfg/SYSTEM.LOG");
	logs = logs_of(f, at(f, "cfg"), &n);
	assert_int_equal(n, 1);
	assert_string_equal(logs[0].suffix, ".LOG1");
	assert_int_equal(mkfifo(at(f, "cfg/SYSTEM.LOG2"), 0600), 0);
	logs = NULL;
	assert_int_equal(dh_target_logs(f->mem, resolve(f, at(f, "cfg")), &logs,
					&n, &err), -1);
	assert_null(logs);
	assert_int_equal(err->code, DH_ERR_ARGUMENT);
	assert_non_null(strstr(err->message, "SYSTEM.LOG2 is a FIFO"));
}

/* ------------------------------------------------------------------ */
/* Mapping a file                                                     */

static void map_refused(struct fx *f, int fd, enum dh_errcode code, ...)
{
	struct dh_error *err = NULL;
	const uint8_t *data = NULL;
	size_t len = 0;
	void *owner = NULL;
	va_list words;

	assert_int_equal(dh_target_map_fd(f->mem, fd, "the-file", &data, &len,
					  &owner, &err), -1);
	assert_null(owner);
	va_start(words, code);
	assert_error(err, code, words);
	va_end(words);
}

/* dh_target_map_fd on the file rel, which must map; the owner. */
static void *map_ok(struct fx *f, const char *rel, const uint8_t **data,
		    size_t *len)
{
	struct dh_error *err = NULL;
	void *owner = NULL;
	int fd = open(at(f, rel), O_RDONLY | O_CLOEXEC);

	assert_true(fd >= 0);
	assert_int_equal(dh_target_map_fd(f->mem, fd, rel, data, len, &owner,
					  &err), 0);
	close(fd);
	assert_ptr_equal(talloc_parent(owner), f->mem);
	return owner;
}

static void test_map_fd(void **state)
{
	struct fx *f = *state;
	const uint8_t *data = (const uint8_t *)"unset";
	size_t len = 1;
	void *owner;

	put(f, "empty", "", 0);
	talloc_free(map_ok(f, "empty", &data, &len));
	assert_null(data);
	assert_int_equal(len, 0);
	put(f, "full", "hive bytes", 10);
	owner = map_ok(f, "full", &data, &len);
	assert_int_equal(len, 10);
	assert_memory_equal(data, "hive bytes", 10);
	assert_true(is_mapped(data));
	talloc_free(owner);
	assert_false(is_mapped(data));
}

/* The largest a hive can be, 4 GiB (a sparse file), is still mapped. */
static void test_map_fd_largest(void **state)
{
	struct fx *f = *state;
	const uint8_t *data = NULL;
	size_t len = 0;
	void *owner;

	put(f, "largest", "regf", 4);
	assert_int_equal(truncate(at(f, "largest"), (off_t)1 << 32), 0);
	owner = map_ok(f, "largest", &data, &len);
	assert_true(len == (size_t)1 << 32);
	assert_memory_equal(data, "regf", 4);
	talloc_free(owner);
}

static void test_map_fd_refused(void **state)
{
	struct fx *f = *state;
	int fd, dir;

	put(f, "huge", "", 0);
	fd = open(at(f, "huge"), O_RDWR | O_CLOEXEC);
	assert_int_equal(ftruncate(fd, ((off_t)1 << 32) + 1), 0);
	map_refused(f, fd, DH_ERR_NOT_HIVE,
		    "the-file is larger than any hive file can be", NULL);
	close(fd);
	map_refused(f, fd, DH_ERR_IO, "cannot stat the-file", strerror(EBADF),
		    NULL);
	dir = open(f->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	map_refused(f, dir, DH_ERR_IO, "cannot read the-file", NULL);
	close(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(test_file),
		T(test_file_relative),
		T(test_file_link),
		T(test_config_dir),
		T(test_config_dir_refused),
		T(test_volume),
		T(test_volume_relative),
		T(test_volume_two_layouts),
		T(test_volume_two_spellings),
		T(test_volume_links),
		T(test_volume_given_link),
		T(test_missing),
		T(test_open_hive),
		T(test_free_closes),
		T(test_root_above),
		T(test_hibernated),
		T(test_hibernated_root),
		T(test_hibernated_refused),
		T(test_logs),
		T(test_logs_case),
		T(test_logs_refused),
		T(test_logs_not_regular),
		T(test_map_fd),
		T(test_map_fd_largest),
		T(test_map_fd_refused),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
