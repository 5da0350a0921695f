/* Unit tests of the patch module: plan, apply, verify on fixture hives. */
#include "config.h"

#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "error.h"
#include "fixtures.h"
#include "patch.h"

static char *token_after(TALLOC_CTX *mem, const struct dh_patch_item *it)
{
	return dh_sharedsection_token_text(mem, it->after.units, &it->tok_after);
}

static void test_plan_show_reads_only(void **state)
{
	TALLOC_CTX *mem = talloc_new(NULL);
	struct dh_hive *h = fixture_open(mem, "nt4.hive", false);
	struct dh_patch *p;

	(void)state;
	assert_int_equal(dh_patch_plan(mem, h, DH_CONTROL_SET_ALL, NULL, &p, NULL), 0);
	assert_int_equal(p->n_items, 1);
	assert_false(p->any_change);
	assert_false(p->items[0].changed);
	assert_int_equal(p->items[0].tok_before.values.shared, 1024);
	assert_int_equal(p->items[0].tok_before.values.interactive, 3072);
	assert_int_equal(p->items[0].tok_before.values.non_interactive, 0);
	assert_int_equal(p->n_warnings, 0);
	talloc_free(mem);
}

static void test_plan_every_control_set(void **state)
{
	TALLOC_CTX *mem = talloc_new(NULL);
	struct dh_hive *h = fixture_open(mem, "three.hive", false);
	struct dh_values want = { .non_interactive = 512 };
	struct dh_patch *p;

	(void)state;
	assert_int_equal(dh_patch_plan(mem, h, DH_CONTROL_SET_ALL, &want, &p, NULL), 0);
	assert_int_equal(p->n_items, 3);
	assert_true(p->any_change);
	assert_true(p->items[0].changed);   /* 1024,3072 gains ,512 */
	assert_false(p->items[1].changed);  /* already 1024,3072,512 */
	assert_false(p->items[2].changed);  /* 1024,12288,512: as asked */
	assert_string_equal(token_after(mem, &p->items[0]), "SharedSection=1024,3072,512");
	assert_string_equal(token_after(mem, &p->items[1]), "SharedSection=1024,3072,512");
	talloc_free(mem);
}

static void test_plan_unchanged(void **state)
{
	TALLOC_CTX *mem = talloc_new(NULL);
	struct dh_hive *h = fixture_open(mem, "win10.hive", false);
	struct dh_values want = { .shared = 1024, .non_interactive = 768 };
	struct dh_patch *p;

	(void)state;
	assert_int_equal(dh_patch_plan(mem, h, DH_CONTROL_SET_ALL, &want, &p, NULL), 0);
	assert_false(p->any_change);
	assert_int_equal(p->items[0].after.n_units, p->items[0].before.n_units);
	assert_memory_equal(p->items[0].after.units, p->items[0].before.units,
			    p->items[0].before.n_units * 2);
	talloc_free(mem);
}

static void test_plan_choose_control_set(void **state)
{
	TALLOC_CTX *mem = talloc_new(NULL);
	struct dh_hive *h = fixture_open(mem, "three.hive", false);
	struct dh_patch *p;
	struct dh_error *err = NULL;

	(void)state;
	assert_int_equal(dh_patch_plan(mem, h, DH_CONTROL_SET_CURRENT, NULL, &p, NULL), 0);
	assert_int_equal(p->n_items, 1);
	assert_int_equal(p->items[0].cs.number, 2);
	assert_int_equal(dh_patch_plan(mem, h, 3, NULL, &p, NULL), 0);
	assert_int_equal(p->n_items, 1);
	assert_string_equal(p->items[0].cs.name, "ControlSet003");
	assert_int_equal(dh_patch_plan(mem, h, 7, NULL, &p, &err), -1);
	assert_int_equal(err->code, DH_ERR_ARGUMENT);
	assert_non_null(strstr(err->message, "ControlSet007"));
	talloc_free(mem);
}

static void test_plan_whole_or_nothing(void **state)
{
	TALLOC_CTX *mem = talloc_new(NULL);
	struct dh_hive *h = fixture_open(mem, "partial.hive", false);
	struct dh_values want = { .non_interactive = 512 };
	struct dh_patch *p = NULL;
	struct dh_error *err = NULL;

	(void)state;
	assert_int_equal(dh_patch_plan(mem, h, DH_CONTROL_SET_ALL, &want, &p, &err), -1);
	assert_null(p);
	assert_int_equal(err->code, DH_ERR_NOT_SYSTEM);
	assert_non_null(strstr(err->message, "ControlSet002"));
	talloc_free(mem);
}

/* Only reading, a control set that cannot be read does not hide the
 * others: it is marked with why. */
static void test_plan_show_marks_unreadable(void **state)
{
	TALLOC_CTX *mem = talloc_new(NULL);
	struct dh_hive *h = fixture_open(mem, "partial.hive", false);
	struct dh_patch *p = NULL;
	struct dh_error *err = NULL;

	(void)state;
	assert_int_equal(dh_patch_plan(mem, h, DH_CONTROL_SET_ALL, NULL, &p, &err), 0);
	assert_null(err);
	assert_int_equal(p->n_items, 2);
	assert_int_equal(p->n_unreadable, 1);
	assert_null(p->items[0].error);
	assert_int_equal(p->items[0].tok_before.values.interactive, 3072);
	assert_non_null(p->items[1].error);
	assert_int_equal(p->items[1].error->code, DH_ERR_NOT_SYSTEM);
	assert_non_null(strstr(p->items[1].error->message, "ControlSet002"));
	assert_int_equal(p->items[1].cs.number, 2);
	talloc_free(mem);
}

/* A 16,344-byte value: one byte more would need a big-data record in a
 * 1.4+ hive (refused); a 1.3 hive has none, and an edit that keeps the
 * length is fine anywhere. */
static void test_plan_refuses_big_data(void **state)
{
	TALLOC_CTX *mem = talloc_new(NULL);
	struct dh_hive *h = fixture_open(mem, "long15.hive", false);
	struct dh_values third = { .non_interactive = 512 };
	struct dh_values second = { .interactive = 4096 };
	struct dh_patch *p = NULL;
	struct dh_error *err = NULL;

	(void)state;
	assert_int_equal(dh_patch_plan(mem, h, DH_CONTROL_SET_ALL, &third, &p, &err), -1);
	assert_null(p);
	assert_int_equal(err->code, DH_ERR_VALUE);
	assert_non_null(strstr(err->message, "16352 bytes"));
	assert_non_null(strstr(err->message, "16344"));
	assert_non_null(strstr(err->message, "ControlSet001"));
	assert_int_equal(dh_patch_plan(mem, h, DH_CONTROL_SET_ALL, &second, &p, NULL), 0);
	assert_true(p->items[0].changed);
	assert_int_equal(p->items[0].after.n_units, 16344 / 2);
	h = fixture_open(mem, "long13.hive", false);
	assert_int_equal(dh_patch_plan(mem, h, DH_CONTROL_SET_ALL, &third, &p, NULL), 0);
	assert_int_equal(p->items[0].after.n_units, 16352 / 2);
	talloc_free(mem);
}

/* The SubSystems key record of ControlSet001 in fixture `name`, found
 * with hivex itself: its handle is its file offset. */
static hive_node_h subsystems_nk(const char *name)
{
	char path[4096];
	hive_h *h;
	hive_node_h n;
	static const char *const keys[] = { "ControlSet001", "Control",
					    "Session Manager", "SubSystems" };

	snprintf(path, sizeof(path), "%s/%s", fixtures_dir(), name);
	h = hivex_open(path, 0);
	assert_non_null(h);
	n = hivex_root(h);
	for (size_t i = 0; i < 4; i++)
		n = hivex_node_get_child(h, n, keys[i]);
	assert_true(n != 0);
	hivex_close(h);
	return n;
}

/* A changed value's key gets the time of the change: one 8-byte edit at
 * +8 of its nk record; an unchanged plan stamps nothing. */
static void test_stamps(void **state)
{
	TALLOC_CTX *mem = talloc_new(NULL);
	struct dh_hive *h = fixture_open(mem, "win10.hive", false);
	struct dh_values want = { .non_interactive = 640 };
	struct dh_values same = { .non_interactive = 768 };
	struct dh_patch_edit *e;
	struct dh_patch *p;
	size_t n;

	(void)state;
	assert_int_equal(dh_patch_plan(mem, h, DH_CONTROL_SET_ALL, &want, &p, NULL), 0);
	assert_int_equal(dh_patch_stamps(mem, h, p, 0x0123456789abcdefull, &e, &n, NULL), 0);
	assert_int_equal(n, 1);
	assert_int_equal(e[0].offset, subsystems_nk("win10.hive") + 8);
	assert_int_equal(e[0].len, 8);
	assert_memory_equal(e[0].bytes, "\xef\xcd\xab\x89\x67\x45\x23\x01", 8);
	assert_int_equal(dh_patch_plan(mem, h, DH_CONTROL_SET_ALL, &same, &p, NULL), 0);
	assert_int_equal(dh_patch_stamps(mem, h, p, 1, &e, &n, NULL), 0);
	assert_int_equal(n, 0);
	talloc_free(mem);
}

static void test_plan_refuses_bad_requests(void **state)
{
	TALLOC_CTX *mem = talloc_new(NULL);
	struct dh_hive *h = fixture_open(mem, "nt4.hive", false);
	struct dh_values none = { 0 };
	struct dh_values big = { .interactive = DH_KB_MAX + 1 };
	struct dh_values max = { .interactive = DH_KB_MAX };
	struct dh_patch *p;
	struct dh_error *err = NULL;

	(void)state;
	assert_int_equal(dh_patch_plan(mem, h, DH_CONTROL_SET_ALL, &none, &p, &err), -1);
	assert_int_equal(err->code, DH_ERR_ARGUMENT);
	err = NULL;
	assert_int_equal(dh_patch_plan(mem, h, DH_CONTROL_SET_ALL, &big, &p, &err), -1);
	assert_int_equal(err->code, DH_ERR_ARGUMENT);
	assert_int_equal(dh_patch_plan(mem, h, DH_CONTROL_SET_ALL, &max, &p, NULL), 0);
	talloc_free(mem);
}

static void test_plan_edit_errors_name_control_set(void **state)
{
	TALLOC_CTX *mem = talloc_new(NULL);
	struct dh_hive *h = fixture_open(mem, "twotokens.hive", false);
	struct dh_values want = { .non_interactive = 512 };
	struct dh_patch *p;
	struct dh_error *err = NULL;

	(void)state;
	assert_int_equal(dh_patch_plan(mem, h, DH_CONTROL_SET_ALL, &want, &p, &err), -1);
	assert_int_equal(err->code, DH_ERR_VALUE);
	assert_non_null(strstr(err->message, "ControlSet001"));
	assert_non_null(strstr(err->message, "twotokens.hive"));
	talloc_free(mem);
}

static void test_warns_when_non_interactive_is_larger(void **state)
{
	TALLOC_CTX *mem = talloc_new(NULL);
	struct dh_hive *h = fixture_open(mem, "nt4.hive", false);
	struct dh_values ok = { .non_interactive = 3072 };
	struct dh_values big = { .non_interactive = 3073 };
	struct dh_patch *p;

	(void)state;
	assert_int_equal(dh_patch_plan(mem, h, DH_CONTROL_SET_ALL, &ok, &p, NULL), 0);
	assert_int_equal(p->n_warnings, 0);
	assert_int_equal(dh_patch_plan(mem, h, DH_CONTROL_SET_ALL, &big, &p, NULL), 0);
	assert_int_equal(p->n_warnings, 1);
	assert_non_null(strstr(p->warnings[0], "3073 KB"));
	assert_non_null(strstr(p->warnings[0], "3072 KB"));
	talloc_free(mem);
}

/* Apply, commit to a new file; verify passes there and fails on the
 * unpatched original. */
static void test_apply_and_verify(void **state)
{
	TALLOC_CTX *mem = talloc_new(NULL);
	char *dir = tmpdir_new(mem);
	char *out = talloc_asprintf(mem, "%s/out.hive", dir);
	struct dh_hive *h = fixture_open(mem, "win7.hive", true);
	struct dh_values want = { .interactive = 20480 };
	struct dh_patch *p;
	struct dh_error *err = NULL;
	struct dh_hive *written, *original;
	int fd;

	(void)state;
	assert_int_equal(dh_patch_plan(mem, h, DH_CONTROL_SET_ALL, &want, &p, NULL), 0);
	assert_int_equal(dh_patch_apply(mem, h, p, NULL), 0);
	fd = open(out, O_RDWR | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	assert_int_equal(dh_hive_commit_fd(mem, h, fd, NULL), 0);
	assert_int_equal(dh_hive_open_fd(mem, fd, out, false, &written, NULL), 0);
	close(fd);
	assert_int_equal(dh_patch_verify(mem, written, p, NULL), 0);
	original = fixture_open(mem, "win7.hive", false);
	assert_int_equal(dh_patch_verify(mem, original, p, &err), -1);
	assert_int_equal(err->code, DH_ERR_VERIFY);
	talloc_free(mem);
}

/* A hive file in memory, for dh_patch_verify_cells(). */
struct image {
	TALLOC_CTX *mem;
	uint8_t *b;
	size_t len;
};

static int read_image(void *ctx, void *buf, size_t len, uint64_t off,
		      struct dh_error **err)
{
	const struct image *im = ctx;

	if (off > im->len || len > im->len - off)
		return dh_error_set(im->mem, err, DH_ERR_IO, "cannot read %zu "
				    "bytes at %llu", len, (unsigned long long)off);
	memcpy(buf, im->b + off, len);
	return 0;
}

/* The edits, applied to the file's bytes, read back cell by cell as the
 * plan's values; the file without them, or with a byte of the value or of
 * its length wrong, does not; a reader's error is passed on. */
static void test_edits_verify_cells(void **state)
{
	TALLOC_CTX *mem = talloc_new(NULL);
	char *path = fixture_copy(mem, "win10.hive", tmpdir_new(mem));
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct dh_values want = { .non_interactive = 640 };
	struct image old = { mem, NULL, 0 }, now;
	struct dh_error *err = NULL;
	struct dh_patch_edit *e;
	struct dh_patch *p;
	struct dh_hive *h;
	size_t n;
	bool fit;

	(void)state;
	assert_true(fd >= 0);
	old.b = file_bytes(mem, fd, &old.len);
	assert_int_equal(dh_hive_open_fd(mem, fd, path, false, &h, NULL), 0);
	assert_int_equal(dh_patch_plan(mem, h, DH_CONTROL_SET_ALL, &want, &p, NULL), 0);
	assert_int_equal(dh_patch_edits(mem, h, fd, p, &e, &n, &fit, NULL), 0);
	assert_true(fit);
	now = (struct image){ mem, talloc_memdup(mem, old.b, old.len), old.len };
	for (size_t i = 0; i < n; i++)
		memcpy(now.b + e[i].offset, e[i].bytes, e[i].len);
	assert_int_equal(dh_patch_verify_cells(mem, h, read_image, &now, p, NULL), 0);
	assert_int_equal(dh_patch_verify_cells(mem, h, read_image, &old, p, &err), -1);
	assert_int_equal(err->code, DH_ERR_VERIFY);
	for (size_t i = 0; i < n; i++) {
		err = NULL;
		now.b[e[i].offset + e[i].len - 1] ^= 1;
		assert_int_equal(dh_patch_verify_cells(mem, h, read_image, &now, p, &err), -1);
		assert_int_equal(err->code, DH_ERR_VERIFY);
		now.b[e[i].offset + e[i].len - 1] ^= 1;
	}
	err = NULL;
	now.len = (size_t)e[0].offset;
	assert_int_equal(dh_patch_verify_cells(mem, h, read_image, &now, p, &err), -1);
	assert_int_equal(err->code, DH_ERR_IO);
	close(fd);
	talloc_free(mem);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plan_show_reads_only),
		cmocka_unit_test(test_plan_every_control_set),
		cmocka_unit_test(test_plan_unchanged),
		cmocka_unit_test(test_plan_choose_control_set),
		cmocka_unit_test(test_plan_whole_or_nothing),
		cmocka_unit_test(test_plan_show_marks_unreadable),
		cmocka_unit_test(test_plan_refuses_big_data),
		cmocka_unit_test(test_edits_verify_cells),
		cmocka_unit_test(test_stamps),
		cmocka_unit_test(test_plan_refuses_bad_requests),
		cmocka_unit_test(test_plan_edit_errors_name_control_set),
		cmocka_unit_test(test_warns_when_non_interactive_is_larger),
		cmocka_unit_test(test_apply_and_verify),
	};

	return cmocka_run_group_tests_name("patch", tests, NULL, NULL);
}
