#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <talloc.h>

#include "error.h"
#include "sharedsection.h"

/* A string literal and its length, embedded NULs included. */
#define LIT(s) (s), (sizeof(s) - 1)

#define WIN7 "%SystemRoot%\\system32\\csrss.exe ObjectDirectory=\\Windows " \
	"SharedSection=1024,12288,512 Windows=On SubSystemType=Windows " \
	"ServerDll=basesrv,1 " \
	"ServerDll=winsrv:UserServerDllInitialization,3 " \
	"ServerDll=winsrv:ConServerDllInitialization,2 " \
	"ServerDll=sxssrv,4 ProfileControl=Off MaxRequestThreads=16"

/* Bytes to code units, one to one (the tests' lines are ASCII). Exactly
 * len units, so that valgrind and ASan see any read past the end. */
static uint16_t *u16(TALLOC_CTX *mem, const char *s, size_t len)
{
	uint16_t *u = talloc_array(mem, uint16_t, len);
	size_t i;

	assert_non_null(u);
	for (i = 0; i < len; i++)
		u[i] = (unsigned char)s[i];
	return u;
}

/* Units as a readable, injective string: printable ASCII as is, '\' and
 * everything else escaped, so assert_string_equal shows whole lines. */
static char *render(TALLOC_CTX *mem, const uint16_t *u, size_t n)
{
	char *s = talloc_strdup(mem, "");
	size_t i;

	for (i = 0; i < n; i++) {
		if (u[i] >= 0x20 && u[i] < 0x7f && u[i] != '\\')
			s = talloc_asprintf_append(s, "%c", (char)u[i]);
		else
			s = talloc_asprintf_append(s, "\\u%04x", u[i]);
		assert_non_null(s);
	}
	return s;
}

static void assert_units_equal(TALLOC_CTX *mem, const uint16_t *got,
			       size_t got_n, const uint16_t *want,
			       size_t want_n)
{
	assert_string_equal(render(mem, got, got_n), render(mem, want, want_n));
	assert_int_equal(got_n, want_n);
	if (want_n > 0)
		assert_memory_equal(got, want, want_n * sizeof(*want));
}

static void assert_values(const struct dh_values *v, uint32_t a, uint32_t b,
			  uint32_t c)
{
	assert_int_equal(v->shared, a);
	assert_int_equal(v->interactive, b);
	assert_int_equal(v->non_interactive, c);
}

static struct dh_values vals(uint32_t a, uint32_t b, uint32_t c)
{
	struct dh_values v = { a, b, c };

	return v;
}

/*
 * Find the token of in, apply want, and check the whole result against
 * out. The token found in the result must be exactly *after, and the
 * input must not have been touched.
 */
static void check_edit_units(const uint16_t *in, size_t in_n,
			     struct dh_values want, const uint16_t *exp,
			     size_t exp_n, bool exp_changed)
{
	TALLOC_CTX *mem = talloc_new(NULL);
	struct dh_error *err = NULL;
	struct dh_token tok, after, again;
	uint16_t *copy, *out = NULL;
	size_t out_n = 0;
	bool changed = !exp_changed;

	copy = talloc_memdup(mem, in, in_n * sizeof(*in));
	assert_non_null(copy);
	assert_int_equal(dh_sharedsection_find(mem, in, in_n, "ControlSet001",
					       &tok, &err), 0);
	assert_null(err);
	assert_int_equal(dh_sharedsection_edit(mem, in, in_n, &tok, &want,
					       &out, &out_n, &after, &changed,
					       &err), 0);
	assert_null(err);
	assert_non_null(out);
	assert_true(talloc_parent(out) == mem);
	assert_units_equal(mem, out, out_n, exp, exp_n);
	assert_int_equal(changed, exp_changed);
	if (in_n > 0)
		assert_memory_equal(in, copy, in_n * sizeof(*in));

	assert_int_equal(dh_sharedsection_find(mem, out, out_n, "result",
					       &again, &err), 0);
	assert_int_equal(after.start, again.start);
	assert_int_equal(after.len, again.len);
	assert_values(&after.values, again.values.shared,
		      again.values.interactive, again.values.non_interactive);
	assert_int_equal(after.start, tok.start);
	talloc_free(mem);
}

static void check_edit(const char *in, size_t in_n, struct dh_values want,
		       const char *exp, size_t exp_n, bool exp_changed)
{
	TALLOC_CTX *mem = talloc_new(NULL);

	check_edit_units(u16(mem, in, in_n), in_n, want, u16(mem, exp, exp_n),
			 exp_n, exp_changed);
	talloc_free(mem);
}

/* Find the token and check where it stands and what it says. */
static void check_find(const char *in, size_t in_n, size_t start, size_t len,
		       uint32_t a, uint32_t b, uint32_t c)
{
	TALLOC_CTX *mem = talloc_new(NULL);
	struct dh_error *err = NULL;
	struct dh_token tok;
	size_t blocks = talloc_total_blocks(mem);

	assert_int_equal(dh_sharedsection_find(mem, u16(mem, in, in_n), in_n,
					       "ControlSet001", &tok, &err), 0);
	assert_null(err);
	assert_int_equal(tok.start, start);
	assert_int_equal(tok.len, len);
	assert_values(&tok.values, a, b, c);
	/* Only the input array was added: no scratch left behind. */
	assert_int_equal(talloc_total_blocks(mem), blocks + 1);
	talloc_free(mem);
}

/*
 * Expect find to fail with DH_ERR_VALUE, a message holding each of the
 * given fragments, the token left untouched and nothing else left on mem.
 */
static void check_find_fails(const char *in, size_t in_n, const char *frag1,
			     const char *frag2)
{
	TALLOC_CTX *mem = talloc_new(NULL);
	struct dh_error *err = NULL;
	struct dh_token tok, orig;
	uint16_t *u = u16(mem, in, in_n);
	size_t blocks = talloc_total_blocks(mem);

	memset(&tok, 0xa5, sizeof(tok));
	orig = tok;
	assert_int_equal(dh_sharedsection_find(mem, u, in_n, "ControlSet002",
					       &tok, &err), -1);
	assert_non_null(err);
	assert_int_equal(err->code, DH_ERR_VALUE);
	assert_non_null(err->message);
	assert_non_null(strstr(err->message, "ControlSet002's Windows value"));
	assert_non_null(strstr(err->message, "registry editor"));
	if (strstr(err->message, frag1) == NULL)
		fail_msg("\"%s\" not in \"%s\"", frag1, err->message);
	if (frag2 != NULL && strstr(err->message, frag2) == NULL)
		fail_msg("\"%s\" not in \"%s\"", frag2, err->message);
	assert_memory_equal(&tok, &orig, sizeof(tok));
	/* The error struct and its message, nothing more. */
	assert_true(talloc_parent(err) == mem);
	assert_int_equal(talloc_total_blocks(mem), blocks + 2);
	talloc_free(mem);
}

/* --- edits by Windows era --- */

static void nt4_appends_third(void **state)
{
	(void)state;
	check_edit(LIT("csrss.exe SharedSection=1024,3072 Windows=On"),
		   vals(0, 0, 512),
		   LIT("csrss.exe SharedSection=1024,3072,512 Windows=On"),
		   true);
}

static void xp_changes_only_third(void **state)
{
	(void)state;
	check_edit(LIT("a SharedSection=1024,3072,512 b"), vals(0, 0, 768),
		   LIT("a SharedSection=1024,3072,768 b"), true);
}

static void win7_changes_only_second(void **state)
{
	(void)state;
	check_edit(LIT("a SharedSection=1024,12288,512 b"), vals(0, 20480, 0),
		   LIT("a SharedSection=1024,20480,512 b"), true);
}

static void win10_changes_only_first(void **state)
{
	(void)state;
	check_edit(LIT("a SharedSection=1024,20480,768 b"), vals(2048, 0, 0),
		   LIT("a SharedSection=2048,20480,768 b"), true);
}

static void all_three_at_once(void **state)
{
	(void)state;
	check_edit(LIT("a SharedSection=1024,20480,768 b"),
		   vals(4096, 40960, 1536),
		   LIT("a SharedSection=4096,40960,1536 b"), true);
}

static void two_fields_first_and_second(void **state)
{
	(void)state;
	/* Nothing asked for the third: the two-number form stays. */
	check_edit(LIT("a SharedSection=1024,3072 b"), vals(2048, 4096, 0),
		   LIT("a SharedSection=2048,4096 b"), true);
}

static void two_fields_all_three(void **state)
{
	(void)state;
	check_edit(LIT("a SharedSection=1024,3072 b"), vals(2048, 4096, 512),
		   LIT("a SharedSection=2048,4096,512 b"), true);
}

static void append_even_when_equal_to_second(void **state)
{
	(void)state;
	/* Effective size unchanged, but the value itself does change. */
	check_edit(LIT("a SharedSection=1024,3072 b"), vals(0, 0, 3072),
		   LIT("a SharedSection=1024,3072,3072 b"), true);
}

static void shorter_and_longer_numbers(void **state)
{
	(void)state;
	check_edit(LIT("a SharedSection=1024,20480,768 b"),
		   vals(7, 4294967295u, 12),
		   LIT("a SharedSection=7,4294967295,12 b"), true);
}

static void nothing_asked(void **state)
{
	(void)state;
	check_edit(LIT("a SharedSection=1024,3072 b"), vals(0, 0, 0),
		   LIT("a SharedSection=1024,3072 b"), false);
}

/* --- unchanged when already as asked --- */

static void unchanged_when_equal(void **state)
{
	(void)state;
	check_edit(LIT("a SharedSection=1024,20480,768 b"),
		   vals(1024, 20480, 768),
		   LIT("a SharedSection=1024,20480,768 b"), false);
	check_edit(LIT("a SharedSection=1024,3072,512 b"), vals(0, 0, 512),
		   LIT("a SharedSection=1024,3072,512 b"), false);
}

static void leading_zeros_kept_when_equal(void **state)
{
	(void)state;
	check_edit(LIT("a SharedSection=01024,3072,0512 b"), vals(1024, 0, 512),
		   LIT("a SharedSection=01024,3072,0512 b"), false);
	check_edit(LIT("a SharedSection=01024,3072,0512 b"), vals(2048, 0, 512),
		   LIT("a SharedSection=2048,3072,0512 b"), true);
	check_edit(LIT("a SharedSection=1024,3072,0512 b"), vals(0, 0, 768),
		   LIT("a SharedSection=1024,3072,768 b"), true);
	/* Ten digits with leading zeros are still a valid number. */
	check_edit(LIT("a SharedSection=1024,3072,0000000512 b"),
		   vals(0, 0, 512),
		   LIT("a SharedSection=1024,3072,0000000512 b"), false);
}

static void after_values_reported(void **state)
{
	TALLOC_CTX *mem = talloc_new(NULL);
	const char in[] = "x SharedSection=1024,3072 y";
	uint16_t *u = u16(mem, in, sizeof(in) - 1);
	struct dh_values want = vals(0, 4096, 512);
	struct dh_error *err = NULL;
	struct dh_token tok, after;
	uint16_t *out;
	size_t out_n;
	bool changed = false;

	(void)state;
	assert_int_equal(dh_sharedsection_find(mem, u, sizeof(in) - 1, "cs",
					       &tok, &err), 0);
	assert_values(&tok.values, 1024, 3072, 0);
	assert_int_equal(dh_sharedsection_edit(mem, u, sizeof(in) - 1, &tok,
					       &want, &out, &out_n, &after,
					       &changed, &err), 0);
	assert_true(changed);
	assert_int_equal(after.start, 2);
	assert_int_equal(after.len, strlen("SharedSection=1024,4096,512"));
	assert_values(&after.values, 1024, 4096, 512);
	assert_string_equal(dh_sharedsection_token_text(mem, out, &after),
			    "SharedSection=1024,4096,512");
	assert_string_equal(dh_sharedsection_token_text(mem, u, &tok),
			    "SharedSection=1024,3072");
	talloc_free(mem);
}

/* --- spelling, spacing, position --- */

static void lower_case_found_and_kept(void **state)
{
	(void)state;
	check_edit(LIT("a sharedsection=1024,3072 b"), vals(0, 0, 512),
		   LIT("a sharedsection=1024,3072,512 b"), true);
	check_edit(LIT("a SHAREDsection=1024,3072,512 b"), vals(0, 8192, 0),
		   LIT("a SHAREDsection=1024,8192,512 b"), true);
}

static void spaces_and_tabs_kept(void **state)
{
	(void)state;
	check_edit(LIT("  a  \t SharedSection=1024,3072\t\t b \t"),
		   vals(0, 0, 512),
		   LIT("  a  \t SharedSection=1024,3072,512\t\t b \t"), true);
	check_edit(LIT("a\tSharedSection=1024,3072,512\tb"), vals(0, 0, 768),
		   LIT("a\tSharedSection=1024,3072,768\tb"), true);
}

static void token_at_start(void **state)
{
	(void)state;
	check_find(LIT("SharedSection=1024,3072 Windows=On"), 0, 23, 1024,
		   3072, 0);
	check_edit(LIT("SharedSection=1024,3072 Windows=On"), vals(0, 0, 512),
		   LIT("SharedSection=1024,3072,512 Windows=On"), true);
}

static void token_at_end(void **state)
{
	(void)state;
	check_find(LIT("Windows=On SharedSection=1,2,3"), 11, 19, 1, 2, 3);
	check_edit(LIT("Windows=On SharedSection=1024,3072"), vals(0, 0, 512),
		   LIT("Windows=On SharedSection=1024,3072,512"), true);
	check_edit(LIT("SharedSection=1024,3072"), vals(0, 0, 512),
		   LIT("SharedSection=1024,3072,512"), true);
}

static void no_nul_terminator(void **state)
{
	(void)state;
	/* The literals carry no NUL within the given lengths. */
	check_edit(LIT("a SharedSection=1024,3072"), vals(0, 0, 512),
		   LIT("a SharedSection=1024,3072,512"), true);
}

static void nul_terminator_kept(void **state)
{
	(void)state;
	check_edit(LIT("a SharedSection=1024,3072\0"), vals(0, 0, 512),
		   LIT("a SharedSection=1024,3072,512\0"), true);
	check_edit(LIT("a SharedSection=1024,3072 b\0\0"), vals(0, 0, 512),
		   LIT("a SharedSection=1024,3072,512 b\0\0"), true);
}

static void after_nul_copied_not_searched(void **state)
{
	TALLOC_CTX *mem = talloc_new(NULL);
	static const uint16_t in[] = {
		'a', ' ', 'S', 'h', 'a', 'r', 'e', 'd', 'S', 'e', 'c', 't',
		'i', 'o', 'n', '=', '1', ',', '2', 0,
		'S', 'h', 'a', 'r', 'e', 'd', 'S', 'e', 'c', 't', 'i', 'o', 'n',
		'=', '9', ',', '9', ' ', 0xd800, 0xffff, 0, 'z',
	};
	static const uint16_t exp[] = {
		'a', ' ', 'S', 'h', 'a', 'r', 'e', 'd', 'S', 'e', 'c', 't',
		'i', 'o', 'n', '=', '1', ',', '2', ',', '3', 0,
		'S', 'h', 'a', 'r', 'e', 'd', 'S', 'e', 'c', 't', 'i', 'o', 'n',
		'=', '9', ',', '9', ' ', 0xd800, 0xffff, 0, 'z',
	};

	(void)state;
	check_edit_units(in, sizeof(in) / 2, vals(0, 0, 3), exp,
			 sizeof(exp) / 2, true);
	/* The only token after the NUL: not found. Nor one split by it. */
	check_find_fails(LIT("a b\0SharedSection=1,2"), "no SharedSection=",
			 NULL);
	check_find_fails(LIT("a Shared\0Section=1,2"), "no SharedSection=",
			 NULL);
	/* A NUL ends the token: its numbers stop there. */
	check_edit(LIT("a SharedSection=1,2\0,5"), vals(0, 0, 3),
		   LIT("a SharedSection=1,2,3\0,5"), true);
	talloc_free(mem);
}

static void non_ascii_elsewhere_kept(void **state)
{
	static const uint16_t in[] = {
		0x00e9, '=', 0x4e2d, ' ', 0xd83d, 0xde00, '\t',
		'S', 'h', 'a', 'r', 'e', 'd', 'S', 'e', 'c', 't', 'i', 'o', 'n',
		'=', '1', ',', '2', ' ', 0xfffe, 0x00a0, 0x3000, 0xdc00,
	};
	static const uint16_t exp[] = {
		0x00e9, '=', 0x4e2d, ' ', 0xd83d, 0xde00, '\t',
		'S', 'h', 'a', 'r', 'e', 'd', 'S', 'e', 'c', 't', 'i', 'o', 'n',
		'=', '5', ',', '2', ',', '7', ' ', 0xfffe, 0x00a0, 0x3000,
		0xdc00,
	};

	(void)state;
	check_edit_units(in, sizeof(in) / 2, vals(5, 0, 7), exp,
			 sizeof(exp) / 2, true);
}

static void non_breaking_space_is_not_a_separator(void **state)
{
	TALLOC_CTX *mem = talloc_new(NULL);
	/* U+00A0 and U+3000 glue tokens together: no token starts there. */
	static const uint16_t in[] = {
		'a', 0x00a0, 'S', 'h', 'a', 'r', 'e', 'd', 'S', 'e', 'c', 't',
		'i', 'o', 'n', '=', '1', ',', '2',
	};
	struct dh_error *err = NULL;
	struct dh_token tok;

	(void)state;
	assert_int_equal(dh_sharedsection_find(mem, in, sizeof(in) / 2, "cs",
					       &tok, &err), -1);
	assert_non_null(err);
	assert_int_equal(err->code, DH_ERR_VALUE);
	assert_non_null(strstr(err->message, "no SharedSection= token"));
	talloc_free(mem);
}

static void non_ascii_letters_do_not_fold(void **state)
{
	TALLOC_CTX *mem = talloc_new(NULL);
	/* U+017F (long s) and U+0131 (dotless i) upper-case to ASCII in
	 * Unicode, but the match is ASCII only. */
	static const uint16_t s_long[] = {
		0x017f, 'h', 'a', 'r', 'e', 'd', 'S', 'e', 'c', 't',
		'i', 'o', 'n', '=', '1', ',', '2',
	};
	static const uint16_t i_dotless[] = {
		'S', 'h', 'a', 'r', 'e', 'd', 'S', 'e', 'c', 't',
		0x0131, 'o', 'n', '=', '1', ',', '2',
	};
	struct dh_error *err = NULL;
	struct dh_token tok;

	(void)state;
	assert_int_equal(dh_sharedsection_find(mem, s_long, 17, "cs", &tok,
					       &err), -1);
	assert_int_equal(err->code, DH_ERR_VALUE);
	err = NULL;
	assert_int_equal(dh_sharedsection_find(mem, i_dotless, 17, "cs", &tok,
					       &err), -1);
	assert_int_equal(err->code, DH_ERR_VALUE);
	talloc_free(mem);
}

static void windows7_real_line(void **state)
{
	(void)state;
	check_find(LIT(WIN7), strlen("%SystemRoot%\\system32\\csrss.exe "
				     "ObjectDirectory=\\Windows "),
		   strlen("SharedSection=1024,12288,512"), 1024, 12288, 512);
	check_edit(LIT(WIN7 "\0"), vals(0, 0, 768),
		   LIT("%SystemRoot%\\system32\\csrss.exe "
		       "ObjectDirectory=\\Windows "
		       "SharedSection=1024,12288,768 Windows=On "
		       "SubSystemType=Windows ServerDll=basesrv,1 "
		       "ServerDll=winsrv:UserServerDllInitialization,3 "
		       "ServerDll=winsrv:ConServerDllInitialization,2 "
		       "ServerDll=sxssrv,4 ProfileControl=Off "
		       "MaxRequestThreads=16\0"), true);
	check_edit(LIT(WIN7 "\0"), vals(1024, 12288, 512), LIT(WIN7 "\0"),
		   false);
}

/* --- what is not a SharedSection token --- */

static void prefixed_tokens_do_not_match(void **state)
{
	(void)state;
	check_find_fails(LIT("a XSharedSection=1,2 b"), "no SharedSection=",
			 NULL);
	check_find_fails(LIT("ServerDll=SharedSection=1,2,3"),
			 "no SharedSection=", NULL);
	check_find_fails(LIT("a ServerDll=SharedSection=1,2,3 b"),
			 "no SharedSection=", NULL);
	/* Beside a real token, they are neither counted nor edited. */
	check_find(LIT("XSharedSection=1,2 SharedSection=3,4"), 19, 17, 3, 4,
		   0);
	check_edit(LIT("ServerDll=SharedSection=1,2,3 SharedSection=1024,3072"),
		   vals(0, 0, 512),
		   LIT("ServerDll=SharedSection=1,2,3 "
		       "SharedSection=1024,3072,512"), true);
}

/* --- errors --- */

static void error_no_token(void **state)
{
	(void)state;
	check_find_fails(LIT("csrss.exe Windows=On"), "no SharedSection= token",
			 NULL);
	check_find_fails(LIT(""), "no SharedSection= token", NULL);
	check_find_fails(LIT("\0"), "no SharedSection= token", NULL);
	check_find_fails(LIT("  \t "), "no SharedSection= token", NULL);
}

static void error_two_tokens(void **state)
{
	(void)state;
	check_find_fails(LIT("SharedSection=1024,3072 a SharedSection=1,2"),
			 "2 SharedSection= tokens", NULL);
	check_find_fails(LIT("sharedsection=1,2 SHAREDSECTION=1,2 "
			     "SharedSection=1,2"),
			 "3 SharedSection= tokens", NULL);
	/* Counted even when one of them is not valid. */
	check_find_fails(LIT("SharedSection=1024,3072 SharedSection=x"),
			 "2 SharedSection= tokens", NULL);
}

static void error_no_equals(void **state)
{
	(void)state;
	check_find_fails(LIT("a SharedSection 1024,3072 b"),
			 "no SharedSection= token", NULL);
	check_find_fails(LIT("a SharedSection:1024,3072 b"),
			 "no SharedSection= token", NULL);
	check_find_fails(LIT("a SharedSectio=1024,3072 b"),
			 "no SharedSection= token", NULL);
}

static void error_field_count(void **state)
{
	(void)state;
	check_find_fails(LIT("a SharedSection=1024 b"),
			 "\"SharedSection=1024\"", "1 comma-separated field,");
	check_find_fails(LIT("a SharedSection= b"), "\"SharedSection=\"",
			 "1 comma-separated field,");
	check_find_fails(LIT("a SharedSection=1024,3072,512,4 b"),
			 "\"SharedSection=1024,3072,512,4\"",
			 "4 comma-separated fields");
	check_find_fails(LIT("a SharedSection=1024,3072,512, b"),
			 "\"SharedSection=1024,3072,512,\"",
			 "4 comma-separated fields");
}

static void error_empty_field(void **state)
{
	(void)state;
	check_find_fails(LIT("a SharedSection=1024,,512 b"),
			 "\"SharedSection=1024,,512\"", "number 2 is empty");
	check_find_fails(LIT("a SharedSection=,3072 b"),
			 "\"SharedSection=,3072\"", "number 1 is empty");
	check_find_fails(LIT("a SharedSection=1024,3072, b"),
			 "\"SharedSection=1024,3072,\"", "number 3 is empty");
}

static void error_not_decimal(void **state)
{
	(void)state;
	check_find_fails(LIT("a SharedSection=1024,0x300 b"),
			 "\"SharedSection=1024,0x300\"",
			 "number 2 is not a plain decimal number");
	check_find_fails(LIT("a SharedSection=1024,3072,-5 b"),
			 "\"SharedSection=1024,3072,-5\"",
			 "number 3 is not a plain decimal number");
	check_find_fails(LIT("a SharedSection=+1024,3072 b"),
			 "\"SharedSection=+1024,3072\"",
			 "number 1 is not a plain decimal number");
	check_find_fails(LIT("a SharedSection=1024,3072,512K b"),
			 "\"SharedSection=1024,3072,512K\"",
			 "number 3 is not a plain decimal number");
	check_find_fails(LIT("a SharedSection=1024,30.72 b"),
			 "\"SharedSection=1024,30.72\"",
			 "number 2 is not a plain decimal number");
}

static void error_non_ascii_digit(void **state)
{
	TALLOC_CTX *mem = talloc_new(NULL);
	/* U+FF15 FULLWIDTH DIGIT FIVE and U+0665 ARABIC-INDIC DIGIT FIVE */
	static const uint16_t in[] = {
		'S', 'h', 'a', 'r', 'e', 'd', 'S', 'e', 'c', 't', 'i', 'o', 'n',
		'=', '1', ',', 0xff15, ',', 0x0665,
	};
	struct dh_error *err = NULL;
	struct dh_token tok;

	(void)state;
	assert_int_equal(dh_sharedsection_find(mem, in, sizeof(in) / 2, "cs",
					       &tok, &err), -1);
	assert_non_null(err);
	assert_int_equal(err->code, DH_ERR_VALUE);
	assert_non_null(strstr(err->message, "\"SharedSection=1,?,?\""));
	assert_non_null(strstr(err->message,
			       "number 2 is not a plain decimal number"));
	talloc_free(mem);
}

static void error_zero(void **state)
{
	(void)state;
	check_find_fails(LIT("a SharedSection=1024,3072,0 b"),
			 "\"SharedSection=1024,3072,0\"", "number 3 is 0");
	check_find_fails(LIT("a SharedSection=000,3072 b"),
			 "\"SharedSection=000,3072\"", "number 1 is 0");
}

static void error_too_many_digits(void **state)
{
	(void)state;
	check_find_fails(LIT("a SharedSection=1024,3072,00000000512 b"),
			 "\"SharedSection=1024,3072,00000000512\"",
			 "number 3 has more than 10 digits");
	check_find_fails(LIT("a SharedSection=1024,30720000000 b"),
			 "\"SharedSection=1024,30720000000\"",
			 "number 2 has more than 10 digits");
}

static void error_too_large(void **state)
{
	(void)state;
	check_find_fails(LIT("a SharedSection=1024,4294967296 b"),
			 "\"SharedSection=1024,4294967296\"",
			 "number 2 is larger than 4294967295");
	check_find_fails(LIT("a SharedSection=9999999999,1 b"),
			 "\"SharedSection=9999999999,1\"",
			 "number 1 is larger than 4294967295");
	/* The limit itself is fine. */
	check_find(LIT("SharedSection=4294967295,1,4294967295"), 0, 37,
		   4294967295u, 1, 4294967295u);
}

static void error_long_token_shortened(void **state)
{
	TALLOC_CTX *mem = talloc_new(NULL);
	char *line = talloc_strdup(mem, "SharedSection=1,2,3,");
	struct dh_error *err = NULL;
	struct dh_token tok;
	size_t i;

	(void)state;
	for (i = 0; i < 1000; i++)
		line = talloc_strdup_append(line, "9");
	assert_int_equal(dh_sharedsection_find(mem,
			u16(mem, line, strlen(line)), strlen(line), "cs", &tok,
			&err), -1);
	assert_int_equal(err->code, DH_ERR_VALUE);
	assert_non_null(strstr(err->message, "\"SharedSection=1,2,3,999"));
	assert_non_null(strstr(err->message, "999...\""));
	assert_true(strlen(err->message) < 600);
	talloc_free(mem);
}

/* --- contract misuse --- */

static void edit_rejects_foreign_token(void **state)
{
	TALLOC_CTX *mem = talloc_new(NULL);
	const char a[] = "x SharedSection=1024,3072 y";
	const char b[] = "xy SharedSection=1024,3072";
	const char c[] = "x SharedSection=1024,4096 y";
	uint16_t *ua = u16(mem, a, sizeof(a) - 1);
	struct dh_values want = vals(0, 0, 512);
	struct dh_error *err = NULL;
	struct dh_token tok, after, bad;
	uint16_t *out = NULL;
	size_t out_n = 99, blocks;
	bool changed = false;

	(void)state;
	assert_int_equal(dh_sharedsection_find(mem, ua, sizeof(a) - 1, "cs",
					       &tok, &err), 0);
	blocks = talloc_total_blocks(mem);
	/* Same token, different units: wrong place. */
	assert_int_equal(dh_sharedsection_edit(mem,
			u16(mem, b, sizeof(b) - 1), sizeof(b) - 1, &tok, &want,
			&out, &out_n, &after, &changed, &err), -1);
	assert_int_equal(err->code, DH_ERR_ARGUMENT);
	/* Same place, different numbers. */
	err = NULL;
	assert_int_equal(dh_sharedsection_edit(mem,
			u16(mem, c, sizeof(c) - 1), sizeof(c) - 1, &tok, &want,
			&out, &out_n, &after, &changed, &err), -1);
	assert_int_equal(err->code, DH_ERR_ARGUMENT);
	/* Outside the units. */
	bad = tok;
	bad.start = sizeof(a);
	err = NULL;
	assert_int_equal(dh_sharedsection_edit(mem, ua, sizeof(a) - 1, &bad,
			&want, &out, &out_n, &after, &changed, &err), -1);
	assert_int_equal(err->code, DH_ERR_ARGUMENT);
	bad = tok;
	bad.len = SIZE_MAX;
	err = NULL;
	assert_int_equal(dh_sharedsection_edit(mem, ua, sizeof(a) - 1, &bad,
			&want, &out, &out_n, &after, &changed, &err), -1);
	assert_int_equal(err->code, DH_ERR_ARGUMENT);
	err = NULL;
	assert_int_equal(dh_sharedsection_edit(mem, ua, sizeof(a) - 1, &tok,
			NULL, &out, &out_n, &after, &changed, &err), -1);
	assert_int_equal(err->code, DH_ERR_ARGUMENT);
	/* Outputs untouched on failure. */
	assert_null(out);
	assert_int_equal(out_n, 99);
	assert_false(changed);
	/* Two input copies, five errors with a message each. */
	assert_int_equal(talloc_total_blocks(mem), blocks + 2 + 5 * 2);
	talloc_free(mem);
}

static void edit_allocates_only_the_result(void **state)
{
	TALLOC_CTX *mem = talloc_new(NULL);
	const char a[] = "x SharedSection=1024,3072 y";
	uint16_t *ua = u16(mem, a, sizeof(a) - 1);
	struct dh_values want = vals(0, 0, 512);
	struct dh_error *err = NULL;
	struct dh_token tok, after;
	uint16_t *out = NULL;
	size_t out_n, blocks;
	bool changed;

	(void)state;
	assert_int_equal(dh_sharedsection_find(mem, ua, sizeof(a) - 1, "cs",
					       &tok, &err), 0);
	blocks = talloc_total_blocks(mem);
	assert_int_equal(dh_sharedsection_edit(mem, ua, sizeof(a) - 1, &tok,
			&want, &out, &out_n, &after, &changed, &err), 0);
	assert_int_equal(talloc_total_blocks(mem), blocks + 1);
	assert_true(talloc_parent(out) == mem);
	talloc_free(mem);
}

static void token_text_masks_non_ascii(void **state)
{
	TALLOC_CTX *mem = talloc_new(NULL);
	static const uint16_t in[] = { 'a', 'B', 0x00e9, '=', 0x4e2d, '1', 9 };
	struct dh_token tok = { 1, 6, { 0, 0, 0 } };
	char *s;

	(void)state;
	s = dh_sharedsection_token_text(mem, in, &tok);
	assert_string_equal(s, "B?=?1?");
	assert_true(talloc_parent(s) == mem);
	talloc_free(mem);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(nt4_appends_third),
		cmocka_unit_test(xp_changes_only_third),
		cmocka_unit_test(win7_changes_only_second),
		cmocka_unit_test(win10_changes_only_first),
		cmocka_unit_test(all_three_at_once),
		cmocka_unit_test(two_fields_first_and_second),
		cmocka_unit_test(two_fields_all_three),
		cmocka_unit_test(append_even_when_equal_to_second),
		cmocka_unit_test(shorter_and_longer_numbers),
		cmocka_unit_test(nothing_asked),
		cmocka_unit_test(unchanged_when_equal),
		cmocka_unit_test(leading_zeros_kept_when_equal),
		cmocka_unit_test(after_values_reported),
		cmocka_unit_test(lower_case_found_and_kept),
		cmocka_unit_test(spaces_and_tabs_kept),
		cmocka_unit_test(token_at_start),
		cmocka_unit_test(token_at_end),
		cmocka_unit_test(no_nul_terminator),
		cmocka_unit_test(nul_terminator_kept),
		cmocka_unit_test(after_nul_copied_not_searched),
		cmocka_unit_test(non_ascii_elsewhere_kept),
		cmocka_unit_test(non_breaking_space_is_not_a_separator),
		cmocka_unit_test(non_ascii_letters_do_not_fold),
		cmocka_unit_test(windows7_real_line),
		cmocka_unit_test(prefixed_tokens_do_not_match),
		cmocka_unit_test(error_no_token),
		cmocka_unit_test(error_two_tokens),
		cmocka_unit_test(error_no_equals),
		cmocka_unit_test(error_field_count),
		cmocka_unit_test(error_empty_field),
		cmocka_unit_test(error_not_decimal),
		cmocka_unit_test(error_non_ascii_digit),
		cmocka_unit_test(error_zero),
		cmocka_unit_test(error_too_many_digits),
		cmocka_unit_test(error_too_large),
		cmocka_unit_test(error_long_token_shortened),
		cmocka_unit_test(edit_rejects_foreign_token),
		cmocka_unit_test(edit_allocates_only_the_result),
		cmocka_unit_test(token_text_masks_non_ascii),
	};

	return cmocka_run_group_tests_name("sharedsection", tests, NULL, NULL);
}
