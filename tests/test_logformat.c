/*
 * Unit tests of logformat.c: which log format a hive's Windows writes,
 * told by its logs (of each type, empty, damaged, disagreeing) or else by
 * the SOFTWARE hive beside it (generated with builds 7601, 9600, 19045,
 * and missing, damaged, refused or without a build number).
 *
 * Each test works in a fresh directory holding SYSTEM (a fixture), the
 * logs it writes (real logs from logwrite.c, of no page) and SOFTWARE.
 */
#include "config.h"

#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "error.h"
#include "fixtures.h"
#include "io.h"
#include "logformat.h"
#include "logwrite.h"
#include "regf.h"
#include "target.h"

/* A log of one of these kinds, or none. */
enum kind { ABSENT, EMPTY, NEW, OLD, OLD_2000, DAMAGED, SHORT, PRIMARY };

struct fx {
	TALLOC_CTX *mem;
	char *dir;
	char *system;
};

static int setup(void **state)
{
	struct fx *f = talloc_zero(NULL, struct fx);

	assert_non_null(f);
	f->mem = f;
	f->dir = tmpdir_new(f);
	f->system = talloc_asprintf(f, "%s/SYSTEM", f->dir);
	assert_int_equal(rename(fixture_copy(f, "win7.hive", f->dir), f->system), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	talloc_free(*state);
	return 0;
}

static void put(struct fx *f, const char *name, const uint8_t *b, size_t len)
{
	char *path = talloc_asprintf(f->mem, "%s/%s", f->dir, name);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	assert_true(fd >= 0);
	assert_int_equal(dh_io_write_all(fd, b, len), 0);
	close(fd);
}

/* Write log `name` beside SYSTEM: kind k, base-block sequence number seq. */
static void log_file(struct fx *f, const char *name, enum kind k, uint32_t seq)
{
	int fd = open(f->system, O_RDONLY | O_CLOEXEC);
	uint8_t *b = NULL;
	size_t len = 0;

	assert_true(fd >= 0);
	if (k == ABSENT)
		unlinkat(AT_FDCWD, talloc_asprintf(f->mem, "%s/%s", f->dir, name), 0);
	if (k == NEW || k == OLD || k == OLD_2000 || k == DAMAGED)
		assert_int_equal(dh_logwrite_build(f->mem, k == NEW ? DH_LOG_NEW : DH_LOG_OLD,
						   fd_overlay(f->mem, fd), f->system, seq, NULL, 0,
						   &b, &len, NULL), 0);
	if (k == PRIMARY || k == SHORT)
		b = file_bytes(f->mem, fd, &len);
	close(fd);
	if (k == OLD_2000)
		dh_put_le32(b + DH_REGF_TYPE, DH_REGF_TYPE_LOG_OLD_2000);
	if (k == OLD_2000 || k == PRIMARY)
		dh_put_le32(b + DH_REGF_CHECKSUM_OFFSET, dh_regf_checksum(b));
	if (k == DAMAGED)
		b[DH_REGF_WRITTEN] ^= 1;
	if (k == SHORT)
		len = 300;
	if (k != ABSENT)
		put(f, name, b, len);
}

/* SOFTWARE (as `as`) from fixture `fixture`. */
static void software(struct fx *f, const char *fixture, const char *as)
{
	char *from = fixture_copy(f->mem, fixture, f->dir);

	assert_int_equal(rename(from, talloc_asprintf(f->mem, "%s/%s", f->dir, as)), 0);
}

/* The choice for SYSTEM with logs LOG, LOG1, LOG2 of kinds k[] and
 * sequence numbers seq[]; *why gets the reason. */
static enum dh_log_format choose3(struct fx *f, const enum kind k[3],
				  const uint32_t seq[3], const char **why)
{
	static const char *const names[] = { "SYSTEM.LOG", "SYSTEM.LOG1", "SYSTEM.LOG2" };
	struct dh_logformat_choice c = { DH_LOG_NONE, NULL };
	struct dh_error *err = NULL;
	struct dh_log_file *logs;
	struct dh_target *t;
	size_t n;

	for (size_t i = 0; i < 3; i++)
		log_file(f, names[i], k[i], seq[i]);
	assert_int_equal(dh_target_resolve(f->mem, f->system, &t, NULL), 0);
	assert_int_equal(dh_target_logs(f->mem, t, &logs, &n, NULL), 0);
	if (dh_logformat_choose(f->mem, t, logs, n, &c, &err) != 0)
		fail_msg("dh_logformat_choose: %s", err->message);
	assert_non_null(c.why);
	*why = c.why;
	return c.format;
}

static enum dh_log_format choose(struct fx *f, enum kind log, enum kind log1,
				 enum kind log2, const char **why)
{
	const enum kind k[3] = { log, log1, log2 };
	const uint32_t seq[3] = { 7, 7, 7 };

	return choose3(f, k, seq, why);
}

static void assert_contains(const char *s, const char *part)
{
	if (strstr(s, part) == NULL)
		fail_msg("\"%s\" does not contain \"%s\"", s, part);
}

/* With SOFTWARE from fixture sw (NULL: as it is), logs of kinds log, log1
 * and log2 give format want, for a reason that contains why. */
static void expect(struct fx *f, const char *sw, enum kind log, enum kind log1,
		   enum kind log2, enum dh_log_format want, const char *why)
{
	const char *got;

	if (sw != NULL)
		software(f, sw, "SOFTWARE");
	assert_int_equal(choose(f, log, log1, log2, &got), want);
	assert_contains(got, why);
}

/* Each type of log tells its format, whatever SOFTWARE says. */
static void test_log_types(void **state)
{
	expect(*state, "software-7601.hive", ABSENT, NEW, EMPTY, DH_LOG_NEW,
	       "/SYSTEM.LOG1 is a new-format log");
	expect(*state, "software-19045.hive", ABSENT, EMPTY, OLD, DH_LOG_OLD,
	       "/SYSTEM.LOG2 is an old-format log");
	expect(*state, NULL, OLD_2000, ABSENT, ABSENT, DH_LOG_OLD,
	       "/SYSTEM.LOG is an old-format log");
}

/* Empty, damaged, cut short, or not a log at all: they tell nothing, and
 * without SOFTWARE nothing can be told. */
static void test_logs_tell_nothing(void **state)
{
	expect(*state, NULL, ABSENT, EMPTY, EMPTY, DH_LOG_NONE,
	       "cannot tell which log format Windows writes for ");
	expect(*state, NULL, ABSENT, EMPTY, EMPTY, DH_LOG_NONE, "no SOFTWARE hive");
	expect(*state, NULL, PRIMARY, DAMAGED, SHORT, DH_LOG_NONE,
	       "empty, damaged or disagree");
	expect(*state, NULL, ABSENT, ABSENT, ABSENT, DH_LOG_NONE,
	       "no transaction log");
}

/* An old SYSTEM.LOG left beside new LOG1 and LOG2 loses to them, even
 * with a higher sequence number; between LOG1 and LOG2 the higher number
 * wins; a tie tells nothing (SOFTWARE decides). */
static void test_logs_disagree(void **state)
{
	struct fx *f = *state;
	const enum kind upgrade[3] = { OLD, NEW, EMPTY }, mixed[3] = { ABSENT, OLD, NEW };
	const uint32_t log_newer[3] = { 900, 5, 0 }, two_newer[3] = { 0, 10, 11 },
		       one_newer[3] = { 0, 12, 11 }, same[3] = { 0, 11, 11 };
	const char *why;

	assert_int_equal(choose3(f, upgrade, log_newer, &why), DH_LOG_NEW);
	assert_contains(why, "SYSTEM.LOG1 is a new-format log; it outranks");
	assert_contains(why, "/SYSTEM.LOG, an old-format log");
	assert_int_equal(choose3(f, mixed, two_newer, &why), DH_LOG_NEW);
	assert_contains(why, "SYSTEM.LOG2 is a new-format log");
	assert_int_equal(choose3(f, mixed, one_newer, &why), DH_LOG_OLD);
	assert_contains(why, "SYSTEM.LOG1 is an old-format log");
	assert_int_equal(choose3(f, mixed, same, &why), DH_LOG_NONE);
	software(f, "software-9600.hive", "SOFTWARE");
	assert_int_equal(choose3(f, mixed, same, &why), DH_LOG_NEW);
	assert_contains(why, "/SOFTWARE: CurrentBuild 9600 (9600 or later)");
}

/* Where the logs tell nothing, SOFTWARE's build number does (any letter
 * case of its name; CurrentBuildNumber where CurrentBuild is missing). */
static void test_software_builds(void **state)
{
	struct fx *f = *state;

	expect(f, "software-7601.hive", ABSENT, EMPTY, EMPTY, DH_LOG_OLD,
	       "/SOFTWARE: CurrentBuild 7601 (before 9600)");
	expect(f, "software-19045.hive", ABSENT, ABSENT, ABSENT, DH_LOG_NEW,
	       "/SOFTWARE: CurrentBuild 19045 (9600 or later)");
	assert_int_equal(unlink(talloc_asprintf(f->mem, "%s/SOFTWARE", f->dir)), 0);
	software(f, "software-6002.hive", "Software");
	expect(f, NULL, ABSENT, EMPTY, DAMAGED, DH_LOG_OLD,
	       "/Software: CurrentBuildNumber 6002 (before 9600)");
}

/* A SOFTWARE that cannot be read or tells no build: cannot tell, and no
 * error. */
static void test_software_untold(void **state)
{
	struct fx *f = *state;
	char *sw = talloc_asprintf(f->mem, "%s/SOFTWARE", f->dir);

	expect(f, "garbage.hive", ABSENT, EMPTY, EMPTY, DH_LOG_NONE,
	       "the SOFTWARE hive cannot be read (hivex cannot read");
	expect(f, "software-nobuild.hive", ABSENT, EMPTY, EMPTY, DH_LOG_NONE,
	       "has no Microsoft\\Windows NT\\CurrentVersion value CurrentBuild");
	expect(f, "software-text.hive", ABSENT, EMPTY, EMPTY, DH_LOG_NONE,
	       "CurrentBuild \"9600a\" is not a build number");
	/* a link to a sound SOFTWARE is not followed */
	assert_int_equal(unlink(sw), 0);
	software(f, "software-19045.hive", "real");
	assert_int_equal(symlink("real", sw), 0);
	expect(f, NULL, ABSENT, EMPTY, EMPTY, DH_LOG_NONE, "is a symbolic link");
	assert_int_equal(unlink(sw), 0);
	assert_int_equal(mkfifo(sw, 0600), 0);
	expect(f, NULL, ABSENT, EMPTY, EMPTY, DH_LOG_NONE, "a FIFO");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_log_types, setup, teardown),
		cmocka_unit_test_setup_teardown(test_logs_tell_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_logs_disagree, setup, teardown),
		cmocka_unit_test_setup_teardown(test_software_builds, setup, teardown),
		cmocka_unit_test_setup_teardown(test_software_untold, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
