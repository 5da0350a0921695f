/* Unit tests of the hivex glue on generated fixture hives. */
#include "config.h"

#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "fixtures.h"
#include "hive.h"

/* Open fixture `name` (read-only unless writable); the fd closes with mem. */
static void test_control_sets_and_roles(void **state)
{
	TALLOC_CTX *mem = talloc_new(NULL);
	struct dh_hive *h = fixture_open(mem, "three.hive", false);
	struct dh_controlset *sets;
	size_t n;

	(void)state;
	assert_int_equal(dh_hive_control_sets(mem, h, &sets, &n, NULL), 0);
	assert_int_equal(n, 3);
	assert_string_equal(sets[0].name, "ControlSet001");
	assert_int_equal(sets[0].number, 1);
	assert_int_equal(sets[0].roles, DH_ROLE_FAILED);
	assert_int_equal(sets[1].number, 2);
	assert_int_equal(sets[1].roles, DH_ROLE_CURRENT | DH_ROLE_DEFAULT);
	assert_int_equal(sets[2].number, 3);
	assert_int_equal(sets[2].roles, DH_ROLE_LASTKNOWNGOOD);
	talloc_free(mem);
}

/* Select\Failed = 0 means no failed control set: a stray ControlSet000
 * gets no role from it. */
static void test_select_zero_is_none(void **state)
{
	TALLOC_CTX *mem = talloc_new(NULL);
	struct dh_hive *h = fixture_open(mem, "stray000.hive", false);
	struct dh_controlset *sets;
	size_t n;

	(void)state;
	assert_int_equal(dh_hive_control_sets(mem, h, &sets, &n, NULL), 0);
	assert_int_equal(n, 2);
	assert_string_equal(sets[0].name, "ControlSet000");
	assert_int_equal(sets[0].roles, 0);
	assert_int_equal(sets[1].roles, DH_ROLE_CURRENT | DH_ROLE_DEFAULT |
					DH_ROLE_LASTKNOWNGOOD);
	talloc_free(mem);
}

static void test_read_windows_value(void **state)
{
	static const char expect[] = "%SystemRoot%\\system32\\csrss.exe ObjectDirectory=\\Windows SharedSection=1024,3072 Windows=On";
	TALLOC_CTX *mem = talloc_new(NULL);
	struct dh_hive *h = fixture_open(mem, "nt4.hive", false);
	struct dh_controlset *sets;
	struct dh_winvalue v;
	size_t n;

	(void)state;
	assert_int_equal(dh_hive_control_sets(mem, h, &sets, &n, NULL), 0);
	assert_int_equal(dh_hive_read_windows(mem, h, &sets[0], &v, NULL), 0);
	assert_int_equal(v.type, hive_t_REG_EXPAND_SZ);
	assert_true(v.n_units > sizeof(expect));
	for (size_t i = 0; i + 1 < sizeof(expect); i++)
		assert_int_equal(v.units[i], (uint16_t)expect[i]);
	assert_int_equal(v.units[v.n_units - 1], 0);
	talloc_free(mem);
}

static void test_read_type_and_terminator_kept(void **state)
{
	TALLOC_CTX *mem = talloc_new(NULL);
	struct dh_controlset *sets;
	struct dh_winvalue v;
	size_t n;
	struct dh_hive *h = fixture_open(mem, "regsz.hive", false);

	(void)state;
	assert_int_equal(dh_hive_control_sets(mem, h, &sets, &n, NULL), 0);
	assert_int_equal(dh_hive_read_windows(mem, h, &sets[0], &v, NULL), 0);
	assert_int_equal(v.type, hive_t_REG_SZ);
	h = fixture_open(mem, "noterm.hive", false);
	assert_int_equal(dh_hive_control_sets(mem, h, &sets, &n, NULL), 0);
	assert_int_equal(dh_hive_read_windows(mem, h, &sets[0], &v, NULL), 0);
	assert_int_not_equal(v.units[v.n_units - 1], 0);
	talloc_free(mem);
}

static void expect_error(const char *fixture, enum dh_errcode code,
			 const char *needle, bool read_value)
{
	TALLOC_CTX *mem = talloc_new(NULL);
	struct dh_hive *h = fixture_open(mem, fixture, false);
	struct dh_controlset *sets;
	struct dh_winvalue v;
	struct dh_error *err = NULL;
	size_t n;
	int rc = dh_hive_control_sets(mem, h, &sets, &n, &err);

	if (read_value) {
		assert_int_equal(rc, 0);
		rc = dh_hive_read_windows(mem, h, &sets[0], &v, &err);
	}
	assert_int_equal(rc, -1);
	assert_non_null(err);
	assert_int_equal(err->code, code);
	assert_non_null(strstr(err->message, needle));
	assert_non_null(strstr(err->message, fixture));
	talloc_free(mem);
}

static void test_not_system(void **state)
{
	(void)state;
	expect_error("noselect.hive", DH_ERR_NOT_SYSTEM, "no Select key", false);
	expect_error("empty.hive", DH_ERR_NOT_SYSTEM, "no Select key", false);
	expect_error("novalue.hive", DH_ERR_NOT_SYSTEM, "no Windows value", true);
}

static void test_open_refuses_garbage(void **state)
{
	TALLOC_CTX *mem = talloc_new(NULL);
	char *path = talloc_asprintf(mem, "%s/garbage.hive", fixtures_dir());
	int fd = open(path, O_RDONLY);
	struct dh_hive *h = NULL;
	struct dh_error *err = NULL;

	(void)state;
	assert_int_equal(dh_hive_open_fd(mem, fd, path, true, &h, &err), -1);
	assert_null(h);
	assert_int_equal(err->code, DH_ERR_NOT_HIVE);
	assert_non_null(strstr(err->message, path));
	close(fd);
	talloc_free(mem);
}

/* Write a value, commit to a new file, and read it back from that file. */
static void test_write_commit_read_back(void **state)
{
	TALLOC_CTX *mem = talloc_new(NULL);
	char *dir = tmpdir_new(mem);
	char *out = talloc_asprintf(mem, "%s/out.hive", dir);
	struct dh_hive *h = fixture_open(mem, "win7.hive", true);
	struct dh_controlset *sets;
	struct dh_winvalue v, got;
	size_t n;
	int fd;

	(void)state;
	assert_int_equal(dh_hive_control_sets(mem, h, &sets, &n, NULL), 0);
	assert_int_equal(dh_hive_read_windows(mem, h, &sets[1], &v, NULL), 0);
	v.units[0] = 'X';
	assert_int_equal(dh_hive_write_windows(mem, h, &sets[1], &v, NULL), 0);
	fd = open(out, O_RDWR | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	assert_int_equal(dh_hive_commit_fd(mem, h, fd, NULL), 0);
	h = NULL;
	assert_int_equal(dh_hive_open_fd(mem, fd, out, false, &h, NULL), 0);
	close(fd);
	assert_int_equal(dh_hive_control_sets(mem, h, &sets, &n, NULL), 0);
	assert_int_equal(dh_hive_read_windows(mem, h, &sets[1], &got, NULL), 0);
	assert_int_equal(got.type, v.type);
	assert_int_equal(got.n_units, v.n_units);
	assert_memory_equal(got.units, v.units, v.n_units * 2);
	/* The other control set is as it was. */
	assert_int_equal(dh_hive_read_windows(mem, h, &sets[0], &got, NULL), 0);
	assert_int_equal(got.units[0], '%');
	talloc_free(mem);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_control_sets_and_roles),
		cmocka_unit_test(test_select_zero_is_none),
		cmocka_unit_test(test_read_windows_value),
		cmocka_unit_test(test_read_type_and_terminator_kept),
		cmocka_unit_test(test_not_system),
		cmocka_unit_test(test_open_refuses_garbage),
		cmocka_unit_test(test_write_commit_read_back),
	};

	return cmocka_run_group_tests_name("hive", tests, NULL, NULL);
}
