/*
 * Tests for report.c: the text for people and the JSON line for pipelines,
 * on reports built by hand. JSON is checked twice: exact bytes where the
 * layout is the contract, and Python's strict json parser (over popen) for
 * validity and for what the escapes decode to.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "deskheap.h"

#define SYSTEM "/mnt/win/Windows/System32/config/SYSTEM"
#define BACKUP SYSTEM ".deskheap-20261125T101010Z.bak"
#define LOG1 SYSTEM ".LOG1"
#define LOG2 SYSTEM ".LOG2"
#define REASON "sequence numbers differ (4711 and 4710): Windows had " \
	       "not finished writing it"
#define TOK2 "SharedSection=1024,3072"
#define TOK3 "SharedSection=1024,3072,512"

static const struct dh_values v2 = { 1024, 3072, 0 };
static const struct dh_values v3 = { 1024, 3072, 512 };

static int setup(void **state)
{
	*state = talloc_new(NULL);
	return *state != NULL ? 0 : -1;
}

static int teardown(void **state)
{
	talloc_free(*state);
	return 0;
}

static struct dh_report *new_report(TALLOC_CTX *mem, const char *target,
				    const char *hive, enum dh_status status)
{
	struct dh_report *r = talloc_zero(mem, struct dh_report);

	assert_non_null(r);
	r->target = target != NULL ? talloc_strdup(r, target) : NULL;
	r->hive = hive != NULL ? talloc_strdup(r, hive) : NULL;
	r->status = status;
	return r;
}

/* Append a control set; changed is whether the tokens differ. */
static void add_cs(struct dh_report *r, unsigned number, unsigned roles,
		   const char *before, struct dh_values bv,
		   const char *after, struct dh_values av)
{
	struct dh_controlset_report *cs;

	r->control_sets = talloc_realloc(r, r->control_sets,
					 struct dh_controlset_report,
					 r->n_control_sets + 1);
	assert_non_null(r->control_sets);
	cs = &r->control_sets[r->n_control_sets++];
	memset(cs, 0, sizeof(*cs));
	cs->name = talloc_asprintf(r, "ControlSet%03u", number);
	cs->number = number;
	cs->roles = roles;
	cs->before = before != NULL ? talloc_strdup(r, before) : NULL;
	cs->after = after != NULL ? talloc_strdup(r, after) : NULL;
	cs->before_values = bv;
	cs->after_values = av;
	cs->changed = before != NULL && after != NULL &&
		      strcmp(before, after) != 0;
}

static void add_warning(struct dh_report *r, const char *msg)
{
	r->warnings = talloc_realloc(r, r->warnings, char *,
				     r->n_warnings + 1);
	assert_non_null(r->warnings);
	r->warnings[r->n_warnings++] = talloc_strdup(r, msg);
}

/* Append a copy of s (NULL stays NULL) to the list *list of *n strings. */
static void add_str(struct dh_report *r, char ***list, size_t *n,
		    const char *s)
{
	*list = talloc_realloc(r, *list, char *, *n + 1);
	assert_non_null(*list);
	(*list)[*n] = s != NULL ? talloc_strdup(*list, s) : NULL;
	assert_true(s == NULL || (*list)[*n] != NULL);
	(*n)++;
}

static void add_log(struct dh_report *r, const char *path)
{
	add_str(r, &r->logs_applied, &r->n_logs_applied, path);
}

static void add_backup_log(struct dh_report *r, const char *path)
{
	add_str(r, &r->backup_logs, &r->n_backup_logs, path);
}

static void set_error(struct dh_report *r, enum dh_errcode code,
		      const char *msg)
{
	r->error = talloc_zero(r, struct dh_error);
	assert_non_null(r->error);
	r->error->code = code;
	r->error->message = talloc_strdup(r->error, msg);
}

static size_t count(const char *hay, const char *needle)
{
	size_t n = 0;
	const char *p = hay;

	while ((p = strstr(p, needle)) != NULL) {
		n++;
		p += strlen(needle);
	}
	return n;
}

/* ---- Python's json module as the strict validator ---- */

static bool have_python(void)
{
	static int have = -1;

	if (have < 0)
		have = system("python3 -c '' >/dev/null 2>&1") == 0;
	return have;
}

/*
 * Feed json to python3: exit 0 when it is one valid UTF-8 JSON object and
 * the Python expression check (on d, the parsed object) is true. The
 * expression travels in the environment so no shell quoting can bend it.
 */
static int py_check(const char *json, size_t len, const char *check)
{
	FILE *p;
	int status;

	if (!have_python())
		return -1;
	setenv("DH_TEST_CHECK", check, 1);
	p = popen("python3 -c 'import json,os,sys\n"
		  "d = json.loads(sys.stdin.buffer.read().decode(\"utf-8\"))\n"
		  "sys.exit(0 if isinstance(d, dict) and "
		  "eval(os.environ[\"DH_TEST_CHECK\"]) else 3)' 2>/dev/null",
		  "w");
	assert_non_null(p);
	assert_int_equal(fwrite(json, 1, len, p), len);
	status = pclose(p);
	unsetenv("DH_TEST_CHECK");
	if (status == -1 || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

static void assert_json(const char *json, const char *check)
{
	if (!have_python())
		skip();
	assert_int_equal(py_check(json, strlen(json), check), 0);
}

/* One line: the only newline is the last byte. */
static void assert_one_line(const char *s)
{
	size_t len = strlen(s);

	assert_true(len > 0);
	assert_ptr_equal(strchr(s, '\n'), s + len - 1);
}

/* ---- small functions ---- */

static void test_status_names(void **state)
{
	(void)state;
	assert_string_equal(dh_status_name(DH_STATUS_SHOWN), "shown");
	assert_string_equal(dh_status_name(DH_STATUS_CHANGED), "changed");
	assert_string_equal(dh_status_name(DH_STATUS_UNCHANGED), "unchanged");
	assert_string_equal(dh_status_name(DH_STATUS_WOULD_CHANGE),
			    "would-change");
	assert_string_equal(dh_status_name(DH_STATUS_FAILED), "failed");
	assert_string_equal(dh_status_name((enum dh_status)99), "unknown");
}

static void test_effective_non_interactive(void **state)
{
	struct dh_values v = { 1024, 20480, 768 };

	(void)state;
	assert_int_equal(dh_values_effective_non_interactive(&v), 768);
	v.non_interactive = 0;
	assert_int_equal(dh_values_effective_non_interactive(&v), 20480);
	assert_int_equal(dh_values_effective_non_interactive(&v2), 3072);
	assert_int_equal(dh_values_effective_non_interactive(&v3), 512);
}

/* ---- text ---- */

static void test_text_show_two_and_three(void **state)
{
	struct dh_report *r = new_report(*state, "/mnt/win", SYSTEM,
					 DH_STATUS_SHOWN);
	char *t;

	add_cs(r, 1, DH_ROLE_CURRENT | DH_ROLE_DEFAULT, TOK2, v2, TOK2, v2);
	add_cs(r, 2, DH_ROLE_LASTKNOWNGOOD, TOK3, v3, TOK3, v3);
	t = dh_report_text(*state, r, 0);
	assert_non_null(t);
	assert_string_equal(t,
		SYSTEM ": shown (hive clean)\n"
		"  ControlSet001 [current, default]: " TOK2 "\n"
		"    shared 1024 KB, interactive 3072 KB, non-interactive "
		"3072 KB (third number absent: the interactive size applies)\n"
		"  ControlSet002 [last known good]: " TOK3 "\n"
		"    shared 1024 KB, interactive 3072 KB, non-interactive "
		"512 KB\n");
	assert_int_equal(count(t, "absent"), 1);
}

static void test_text_show_three_only(void **state)
{
	struct dh_values w10 = { 1024, 20480, 768 };
	struct dh_report *r = new_report(*state, SYSTEM, SYSTEM,
					 DH_STATUS_SHOWN);
	char *t;

	add_cs(r, 1, DH_ROLE_CURRENT | DH_ROLE_DEFAULT | DH_ROLE_FAILED,
	       "SharedSection=1024,20480,768", w10,
	       "SharedSection=1024,20480,768", w10);
	t = dh_report_text(*state, r, 0);
	assert_string_equal(t,
		SYSTEM ": shown (hive clean)\n"
		"  ControlSet001 [current, default, failed]: "
		"SharedSection=1024,20480,768\n"
		"    shared 1024 KB, interactive 20480 KB, non-interactive "
		"768 KB\n");
	assert_int_equal(count(t, "absent"), 0);
	/* verbose adds no target line when target and hive are the same */
	assert_string_equal(dh_report_text(*state, r, 1), t);
}

static void test_text_dirty(void **state)
{
	struct dh_report *r = new_report(*state, "/mnt/win", SYSTEM,
					 DH_STATUS_SHOWN);

	r->dirty = true;
	r->log_entries_applied = 3;
	r->log_pages_applied = 5;
	add_log(r, LOG1);
	assert_string_equal(dh_report_text(*state, r, 0),
			    SYSTEM ": shown (hive dirty, 3 log entries "
			    "applied)\n"
			    "  logs replayed: 3 entries, 5 pages, from "
			    LOG1 "\n");
	/* singular entry and page */
	r->log_entries_applied = 1;
	r->log_pages_applied = 1;
	assert_string_equal(dh_report_text(*state, r, 0),
			    SYSTEM ": shown (hive dirty, 1 log entry "
			    "applied)\n"
			    "  logs replayed: 1 entry, 1 page, from "
			    LOG1 "\n");
	/* nothing replayed: no "logs replayed" line, even with a log named */
	r->log_entries_applied = 0;
	r->log_pages_applied = 0;
	assert_string_equal(dh_report_text(*state, r, 0),
			    SYSTEM ": shown (hive dirty)\n");
	/* no log named: the line does not end in a dangling "from " */
	r->log_entries_applied = 2;
	r->log_pages_applied = 2;
	r->n_logs_applied = 0;
	assert_string_equal(dh_report_text(*state, r, 0),
			    SYSTEM ": shown (hive dirty, 2 log entries "
			    "applied)\n"
			    "  logs replayed: 2 entries, 2 pages\n");
	/* quiet output stays one line */
	assert_string_equal(dh_report_text(*state, r, -1),
			    SYSTEM ": shown\n");
}

static void test_text_set_changed(void **state)
{
	struct dh_report *r = new_report(*state, "/mnt/win", SYSTEM,
					 DH_STATUS_CHANGED);

	add_cs(r, 1, DH_ROLE_CURRENT | DH_ROLE_DEFAULT, TOK2, v2, TOK3, v3);
	add_cs(r, 2, DH_ROLE_LASTKNOWNGOOD, TOK3, v3, TOK3, v3);
	r->backup = talloc_strdup(r, BACKUP);
	add_warning(r, "non-interactive 512 KB is less than before");
	assert_string_equal(dh_report_text(*state, r, 0),
		SYSTEM ": changed (hive clean)\n"
		"  ControlSet001 [current, default]: " TOK2 " -> " TOK3 "\n"
		"    shared 1024 KB, interactive 3072 KB, non-interactive "
		"512 KB (was 3072 KB: third number absent, the interactive "
		"size applied)\n"
		"  ControlSet002 [last known good]: " TOK3
		" (already as asked)\n"
		"    shared 1024 KB, interactive 3072 KB, non-interactive "
		"512 KB\n"
		"  backup: " BACKUP "\n"
		"  warning: non-interactive 512 KB is less than before\n");
}

/* Changing the first two numbers of a two-number token: each changed size
 * says what it was, and the third stays absent. */
static void test_text_set_first_two(void **state)
{
	struct dh_values after = { 2048, 4096, 0 };
	struct dh_report *r = new_report(*state, NULL, SYSTEM,
					 DH_STATUS_CHANGED);
	char *t;

	add_cs(r, 1, 0, TOK2, v2, "SharedSection=2048,4096", after);
	t = dh_report_text(*state, r, 0);
	assert_string_equal(t,
		SYSTEM ": changed (hive clean)\n"
		"  ControlSet001: " TOK2 " -> SharedSection=2048,4096\n"
		"    shared 2048 KB (was 1024 KB), interactive 4096 KB "
		"(was 3072 KB), non-interactive 4096 KB (third number absent: "
		"the interactive size applies; was 3072 KB)\n");
	assert_null(strstr(t, "backup"));
}

static void test_text_unchanged(void **state)
{
	struct dh_report *r = new_report(*state, "/mnt/win", SYSTEM,
					 DH_STATUS_UNCHANGED);

	add_cs(r, 1, DH_ROLE_CURRENT, TOK3, v3, TOK3, v3);
	assert_string_equal(dh_report_text(*state, r, 0),
		SYSTEM ": unchanged (already as asked) (hive clean)\n"
		"  ControlSet001 [current]: " TOK3 "\n"
		"    shared 1024 KB, interactive 3072 KB, non-interactive "
		"512 KB\n");
}

static void test_text_would_change(void **state)
{
	struct dh_report *r = new_report(*state, "/mnt/win", SYSTEM,
					 DH_STATUS_WOULD_CHANGE);
	char *t;

	r->dirty = true;
	r->log_entries_applied = 2;
	r->log_pages_applied = 4;
	add_log(r, LOG1);
	add_cs(r, 1, DH_ROLE_CURRENT, TOK2, v2, TOK3, v3);
	t = dh_report_text(*state, r, 0);
	assert_string_equal(t,
		SYSTEM ": would change (hive dirty, 2 log entries applied)\n"
		"  logs replayed: 2 entries, 4 pages, from " LOG1 "\n"
		"  ControlSet001 [current]: " TOK2 " -> " TOK3 "\n"
		"    shared 1024 KB, interactive 3072 KB, non-interactive "
		"512 KB (now 3072 KB: third number absent, the interactive "
		"size applies)\n");
}

/* check changes nothing: its words are "matches" and "differs". */
static void test_text_check_words(void **state)
{
	struct dh_report *r = new_report(*state, "/mnt/win", SYSTEM,
					 DH_STATUS_WOULD_CHANGE);

	r->command = DH_CMD_CHECK;
	add_cs(r, 1, DH_ROLE_CURRENT, TOK2, v2, TOK3, v3);
	add_cs(r, 2, 0, TOK3, v3, TOK3, v3);
	assert_string_equal(dh_report_text(*state, r, 0),
		SYSTEM ": differs (hive clean)\n"
		"  ControlSet001 [current]: " TOK2 " -> " TOK3 "\n"
		"    shared 1024 KB, interactive 3072 KB, non-interactive "
		"512 KB (now 3072 KB: third number absent, the interactive "
		"size applies)\n"
		"  ControlSet002: " TOK3 " (matches)\n"
		"    shared 1024 KB, interactive 3072 KB, non-interactive "
		"512 KB\n");
	r->status = DH_STATUS_UNCHANGED;
	r->n_control_sets = 0;
	assert_string_equal(dh_report_text(*state, r, 0),
			    SYSTEM ": matches (hive clean)\n");
	assert_non_null(strstr(dh_report_json(*state, r),
			       "\"status\":\"unchanged\""));
}

static void test_text_recover_clean(void **state)
{
	struct dh_report *r = new_report(*state, "/mnt/win", SYSTEM,
					 DH_STATUS_UNCHANGED);

	r->command = DH_CMD_RECOVER;
	assert_string_equal(dh_report_text(*state, r, 0),
			    SYSTEM ": nothing to replay (hive clean)\n");
}

static void test_text_failed(void **state)
{
	struct dh_report *r = new_report(*state, "/mnt/win", SYSTEM,
					 DH_STATUS_FAILED);
	const char *line = "/mnt/win: failed: hive is dirty and LOG1/LOG2 "
			   "are missing; boot Windows once or pass "
			   "--ignore-logs\n";
	char *t;

	set_error(r, DH_ERR_DIRTY, "hive is dirty and LOG1/LOG2 are missing;"
		  " boot Windows once or pass --ignore-logs");
	assert_string_equal(dh_report_text(*state, r, 0), line);
	assert_string_equal(dh_report_text(*state, r, -1), line);
	t = dh_report_text(*state, r, 1);
	assert_string_equal(t, talloc_asprintf(*state,
			    "%s  error code: dirty\n  hive: " SYSTEM "\n",
			    line));

	/* a warning shows in normal output, never in quiet output */
	add_warning(r, "logs LOG1, LOG2 not found");
	assert_string_equal(dh_report_text(*state, r, 0),
			    talloc_asprintf(*state, "%s  warning: logs LOG1, "
					    "LOG2 not found\n", line));
	assert_string_equal(dh_report_text(*state, r, -1), line);

	/* no hive found, no message: still one line naming the target */
	r->hive = NULL;
	r->error = NULL;
	r->n_warnings = 0;
	assert_string_equal(dh_report_text(*state, r, 0),
			    "/mnt/win: failed: unknown error\n");
}

/* show of a hive with one control set it cannot read: failed, with the
 * others shown and that one marked, in text and in JSON. */
static void test_show_unreadable_control_set(void **state)
{
	struct dh_report *r = new_report(*state, SYSTEM, SYSTEM,
					 DH_STATUS_FAILED);
	struct dh_controlset_report *cs;
	char *j;

	add_cs(r, 1, DH_ROLE_CURRENT, TOK2, v2, TOK2, v2);
	add_cs(r, 2, DH_ROLE_LASTKNOWNGOOD, NULL, v2, NULL, v2);
	add_cs(r, 3, 0, NULL, v2, NULL, v2);
	cs = r->control_sets;
	cs[1].before_values = cs[1].after_values = (struct dh_values){ 0 };
	cs[2].before_values = cs[2].after_values = (struct dh_values){ 0 };
	cs[1].error = talloc_zero(r, struct dh_error);
	cs[1].error->code = DH_ERR_VALUE;
	cs[1].error->message = talloc_strdup(r, "bad token");
	cs[2].error = talloc_zero(r, struct dh_error);
	cs[2].error->code = DH_ERR_NOT_SYSTEM;
	cs[2].error->message = talloc_strdup(r, "no value");
	set_error(r, DH_ERR_VALUE, "bad token");
	assert_string_equal(dh_report_text(*state, r, 0),
		SYSTEM ": failed: bad token\n"
		"  ControlSet001 [current]: " TOK2 "\n"
		"    shared 1024 KB, interactive 3072 KB, non-interactive "
		"3072 KB (third number absent: the interactive size "
		"applies)\n"
		"  ControlSet002 [last known good]: cannot be read (the error "
		"above)\n"
		"  ControlSet003: cannot be read: no value\n");
	assert_string_equal(dh_report_text(*state, r, -1),
			    SYSTEM ": failed: bad token\n");
	j = dh_report_json(*state, r);
	assert_json(j, "d['status'] == 'failed' and "
		    "d['error'] == {'code': 'value', 'message': 'bad token'} and "
		    "[c['error'] for c in d['control_sets']] == [None, "
		    "{'code': 'value', 'message': 'bad token'}, "
		    "{'code': 'not-a-system-hive', 'message': 'no value'}] and "
		    "d['control_sets'][0]['before'] == '" TOK2 "' and "
		    "d['control_sets'][1]['before'] is None");
}

static void test_text_quiet(void **state)
{
	static const struct {
		enum dh_status status;
		const char *line;
	} cases[] = {
		{ DH_STATUS_SHOWN, SYSTEM ": shown\n" },
		{ DH_STATUS_CHANGED, SYSTEM ": changed\n" },
		{ DH_STATUS_UNCHANGED, SYSTEM ": unchanged\n" },
		{ DH_STATUS_WOULD_CHANGE, SYSTEM ": would-change\n" },
	};
	struct dh_report *r = new_report(*state, "/mnt/win", SYSTEM,
					 DH_STATUS_SHOWN);
	size_t i;

	add_cs(r, 1, DH_ROLE_CURRENT, TOK2, v2, TOK3, v3);
	r->backup = talloc_strdup(r, BACKUP);
	add_warning(r, "a warning quiet mode leaves out");
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		r->status = cases[i].status;
		assert_string_equal(dh_report_text(*state, r, -1),
				    cases[i].line);
	}
	/* without a hive, the target names it */
	r->hive = NULL;
	assert_string_equal(dh_report_text(*state, r, -1),
			    "/mnt/win: would-change\n");
}

static void test_text_verbose(void **state)
{
	struct dh_report *r = new_report(*state, "/mnt/win", SYSTEM,
					 DH_STATUS_UNCHANGED);

	add_cs(r, 1, DH_ROLE_CURRENT, TOK3, v3, TOK3, v3);
	assert_string_equal(dh_report_text(*state, r, 1),
		SYSTEM ": unchanged (already as asked) (hive clean)\n"
		"  target: /mnt/win\n"
		"  ControlSet001 [current]: " TOK3 "\n"
		"    shared 1024 KB, interactive 3072 KB, non-interactive "
		"512 KB\n");
	assert_null(strstr(dh_report_text(*state, r, 0), "target:"));
}

static void test_text_header_without_hive(void **state)
{
	struct dh_report *r = new_report(*state, "/mnt/win", NULL,
					 DH_STATUS_SHOWN);

	assert_string_equal(dh_report_text(*state, r, 0),
			    "/mnt/win: shown (hive clean)\n");
	assert_string_equal(dh_report_text(*state, r, 1),
			    "/mnt/win: shown (hive clean)\n");
}

/* Names from an image cannot steer the terminal or split a line. */
static void test_text_escapes_controls(void **state)
{
	struct dh_report *r = new_report(*state, NULL, "/mnt/a\x1b[31mb\nc"
					 "\xff-\xc2\x9b-\xc3\xa9",
					 DH_STATUS_SHOWN);
	char *t;

	t = dh_report_text(*state, r, -1);
	assert_string_equal(t, "/mnt/a\\x1b[31mb\\x0ac\\xff-\\u009b-\xc3\xa9: "
			    "shown\n");
	assert_one_line(t);
}

static void test_text_missing_token(void **state)
{
	struct dh_values none = { 0, 0, 0 };
	struct dh_report *r = new_report(*state, NULL, SYSTEM,
					 DH_STATUS_SHOWN);

	add_cs(r, 3, 0, NULL, none, NULL, none);
	assert_string_equal(dh_report_text(*state, r, 0),
			    SYSTEM ": shown (hive clean)\n"
			    "  ControlSet003: (no SharedSection token)\n");
}

/* ---- JSON ---- */

static void test_json_changed_exact(void **state)
{
	struct dh_report *r = new_report(*state, "/mnt/win", SYSTEM,
					 DH_STATUS_CHANGED);
	char *j;

	r->dirty = true;
	r->log_entries_applied = 3;
	r->log_pages_applied = 7;
	r->log_entries_not_applied = 2;
	add_log(r, LOG2);
	add_cs(r, 1, DH_ROLE_CURRENT | DH_ROLE_DEFAULT, TOK2, v2, TOK3, v3);
	r->backup = talloc_strdup(r, BACKUP);
	add_warning(r, "w1");
	j = dh_report_json(*state, r);
	assert_non_null(j);
	assert_string_equal(j,
		"{\"target\":\"/mnt/win\",\"hive\":\"" SYSTEM "\","
		"\"status\":\"changed\",\"dirty\":true,"
		"\"dirty_reason\":null,"
		"\"log_entries_applied\":3,\"log_pages_applied\":7,"
		"\"log_entries_not_applied\":2,"
		"\"logs_applied\":[\"" LOG2 "\"],\"control_sets\":[{"
		"\"name\":\"ControlSet001\",\"number\":1,"
		"\"roles\":[\"current\",\"default\"],"
		"\"before\":\"" TOK2 "\",\"after\":\"" TOK3 "\","
		"\"changed\":true,"
		"\"sizes_before\":{\"shared\":1024,\"interactive\":3072,"
		"\"non_interactive\":null,\"non_interactive_effective\":3072},"
		"\"sizes_after\":{\"shared\":1024,\"interactive\":3072,"
		"\"non_interactive\":512,\"non_interactive_effective\":512},"
		"\"error\":null}],"
		"\"backup\":\"" BACKUP "\",\"backup_logs\":[],\"restored_from\":null,"
		"\"commit\":null,\"commit_reason\":null,\"log_format\":null,\"log_written\":null,"
		"\"warnings\":[\"w1\"],\"error\":null}\n");
	assert_one_line(j);
	assert_json(j, "d['status'] == 'changed' and d['dirty'] is True and "
		    "d['control_sets'][0]['sizes_before']['non_interactive'] "
		    "is None and d['control_sets'][0]['sizes_after']"
		    "['non_interactive'] == 512 and d['error'] is None and "
		    "d['backup'].endswith('Z.bak') and "
		    "d['warnings'] == ['w1']");
}

static void test_json_show_roles_and_nulls(void **state)
{
	struct dh_report *r = new_report(*state, "/mnt/win", SYSTEM,
					 DH_STATUS_SHOWN);
	char *j;

	add_cs(r, 1, DH_ROLE_CURRENT | DH_ROLE_DEFAULT, TOK3, v3, TOK3, v3);
	add_cs(r, 2, DH_ROLE_LASTKNOWNGOOD | DH_ROLE_FAILED, TOK2, v2,
	       TOK2, v2);
	add_cs(r, 3, 0, TOK2, v2, TOK2, v2);
	j = dh_report_json(*state, r);
	assert_one_line(j);
	assert_non_null(strstr(j, "\"status\":\"shown\""));
	assert_non_null(strstr(j, "\"backup\":null,\"backup_logs\":[],\"restored_from\":null,"
			       "\"commit\":null,\"commit_reason\":null,\"log_format\":null,\"log_written\":null,"
			       "\"warnings\":[],\"error\":null}\n"));
	assert_non_null(strstr(j, "\"roles\":[\"last-known-good\","
			       "\"failed\"]"));
	assert_non_null(strstr(j, "\"roles\":[],"));
	assert_int_equal(count(j, "\"non_interactive\":null"), 4);
	assert_int_equal(count(j, "\"changed\":false"), 3);
	assert_json(j, "[c['number'] for c in d['control_sets']] == [1, 2, 3]"
		    " and d['control_sets'][1]['roles'] == "
		    "['last-known-good', 'failed'] and "
		    "d['control_sets'][1]['sizes_after'] == {'shared': 1024, "
		    "'interactive': 3072, 'non_interactive': None, "
		    "'non_interactive_effective': 3072} and "
		    "d['control_sets'][0]['sizes_before']['non_interactive']"
		    " == 512 and d['backup'] is None and d['warnings'] == []");
}

static void test_json_escaping(void **state)
{
	struct dh_report *r = new_report(*state, "a\"b\\c\nd\te\xff",
					 NULL, DH_STATUS_SHOWN);
	char *j;

	j = dh_report_json(*state, r);
	assert_one_line(j);
	assert_non_null(strstr(j, "{\"target\":\"a\\\"b\\\\c\\u000ad\\u0009e"
			       "\\ufffd\",\"hive\":null,"));
	assert_json(j, "d['target'] == 'a\"b\\\\c\\nd\\te\\ufffd' and "
		    "d['hive'] is None");
}

/* Every way bytes can fail to be UTF-8 becomes U+FFFD, one per byte that
 * cannot start a sequence; valid multibyte characters pass through. */
static void test_json_utf8(void **state)
{
	struct dh_report *r = new_report(*state, "t",
		"ok-\xc3\xa9-\xe2\x82\xac-\xf0\x9f\x98\x80|\xc0\xaf|"
		"\xed\xa0\x80|\xe2\x82|\xf4\x90\x80\x80|\x80|\x7f|\x01",
		DH_STATUS_SHOWN);
	char *j;

	add_warning(r, "bell\a and esc\x1b");
	add_warning(r, "second");
	j = dh_report_json(*state, r);
	assert_one_line(j);
	assert_non_null(strstr(j,
		"\"hive\":\"ok-\xc3\xa9-\xe2\x82\xac-\xf0\x9f\x98\x80|"
		"\\ufffd\\ufffd|\\ufffd\\ufffd\\ufffd|\\ufffd\\ufffd|"
		"\\ufffd\\ufffd\\ufffd\\ufffd|\\ufffd|\\u007f|\\u0001\","));
	assert_non_null(strstr(j, "\"warnings\":[\"bell\\u0007 and "
			       "esc\\u001b\",\"second\"]"));
	assert_json(j, "d['hive'] == 'ok-\\u00e9-\\u20ac-\\U0001f600|"
		    "\\ufffd\\ufffd|\\ufffd\\ufffd\\ufffd|\\ufffd\\ufffd|"
		    "\\ufffd\\ufffd\\ufffd\\ufffd|\\ufffd|\\x7f|\\x01' and "
		    "d['warnings'] == ['bell\\x07 and esc\\x1b', 'second']");
}

static void test_json_failed(void **state)
{
	struct dh_report *r = new_report(*state, "/mnt/x", NULL,
					 DH_STATUS_FAILED);
	char *j;

	set_error(r, DH_ERR_NOT_SYSTEM, "/mnt/x: no \"Select\" key");
	j = dh_report_json(*state, r);
	assert_string_equal(j,
		"{\"target\":\"/mnt/x\",\"hive\":null,\"status\":\"failed\","
		"\"dirty\":false,\"dirty_reason\":null,"
		"\"log_entries_applied\":0,\"log_pages_applied\":0,"
		"\"log_entries_not_applied\":0,"
		"\"logs_applied\":[],"
		"\"control_sets\":[],\"backup\":null,\"backup_logs\":[],\"restored_from\":null,"
		"\"commit\":null,\"commit_reason\":null,\"log_format\":null,\"log_written\":null,"
		"\"warnings\":[],"
		"\"error\":{\"code\":\"not-a-system-hive\","
		"\"message\":\"/mnt/x: no \\\"Select\\\" key\"}}\n");
	assert_json(j, "d['error'] == {'code': 'not-a-system-hive', "
		    "'message': '/mnt/x: no \"Select\" key'}");

	r->target = NULL;
	r->error->code = DH_ERR_IO;
	j = dh_report_json(*state, r);
	assert_non_null(strstr(j, "{\"target\":null,\"hive\":null,"));
	assert_json(j, "d['target'] is None and d['error']['code'] == 'io'");
}

/* ---- dirty hives, replayed logs, backups of logs ---- */

/* A dirty hive shown after replaying 24 entries (315 pages) from two logs. */
static struct dh_report *replayed_report(TALLOC_CTX *mem)
{
	struct dh_report *r = new_report(mem, "/mnt/win", SYSTEM,
					 DH_STATUS_SHOWN);

	r->dirty = true;
	r->dirty_reason = talloc_strdup(r, REASON);
	r->log_entries_applied = 24;
	r->log_pages_applied = 315;
	add_log(r, LOG1);
	add_log(r, LOG2);
	add_cs(r, 1, DH_ROLE_CURRENT, TOK3, v3, TOK3, v3);
	return r;
}

static void test_text_replayed_exact(void **state)
{
	struct dh_report *r = replayed_report(*state);
	const char *head =
		SYSTEM ": shown (hive dirty, 24 log entries applied)\n"
		"  dirty: " REASON "\n"
		"  logs replayed: 24 entries, 315 pages, from " LOG1 ", "
		LOG2 "\n";
	const char *body =
		"  ControlSet001 [current]: " TOK3 "\n"
		"    shared 1024 KB, interactive 3072 KB, non-interactive "
		"512 KB\n";

	assert_string_equal(dh_report_text(*state, r, 0),
			    talloc_asprintf(*state, "%s%s", head, body));
	/* verbose: the target comes after what the header line explains */
	assert_string_equal(dh_report_text(*state, r, 1),
			    talloc_asprintf(*state, "%s  target: /mnt/win\n%s",
					    head, body));
	assert_string_equal(dh_report_text(*state, r, -1),
			    SYSTEM ": shown\n");

	/* dirty, logs ignored: the reason, and no replay line */
	r->log_entries_applied = 0;
	r->log_pages_applied = 0;
	r->n_logs_applied = 0;
	assert_string_equal(dh_report_text(*state, r, 0),
			    talloc_asprintf(*state, "%s  dirty: " REASON "\n%s",
					    SYSTEM ": shown (hive dirty)\n",
					    body));
}

static void test_json_replayed_exact(void **state)
{
	struct dh_report *r = replayed_report(*state);
	char *j;

	j = dh_report_json(*state, r);
	assert_string_equal(j,
		"{\"target\":\"/mnt/win\",\"hive\":\"" SYSTEM "\","
		"\"status\":\"shown\",\"dirty\":true,"
		"\"dirty_reason\":\"" REASON "\","
		"\"log_entries_applied\":24,\"log_pages_applied\":315,"
		"\"log_entries_not_applied\":0,"
		"\"logs_applied\":[\"" LOG1 "\",\"" LOG2 "\"],"
		"\"control_sets\":[{"
		"\"name\":\"ControlSet001\",\"number\":1,"
		"\"roles\":[\"current\"],"
		"\"before\":\"" TOK3 "\",\"after\":\"" TOK3 "\","
		"\"changed\":false,"
		"\"sizes_before\":{\"shared\":1024,\"interactive\":3072,"
		"\"non_interactive\":512,\"non_interactive_effective\":512},"
		"\"sizes_after\":{\"shared\":1024,\"interactive\":3072,"
		"\"non_interactive\":512,\"non_interactive_effective\":512},"
		"\"error\":null}],"
		"\"backup\":null,\"backup_logs\":[],\"restored_from\":null,"
		"\"commit\":null,\"commit_reason\":null,\"log_format\":null,\"log_written\":null,\"warnings\":[],"
		"\"error\":null}\n");
	assert_one_line(j);
	assert_json(j, "d['dirty'] is True and d['dirty_reason'] == '"
		    REASON "' and d['log_entries_applied'] == 24 and "
		    "d['log_pages_applied'] == 315 and d['logs_applied'] == "
		    "['" LOG1 "', '" LOG2 "'] and d['backup_logs'] == [] and "
		    "list(d) == ['target', 'hive', 'status', 'dirty', "
		    "'dirty_reason', 'log_entries_applied', "
		    "'log_pages_applied', 'log_entries_not_applied', "
		    "'logs_applied', 'control_sets', "
		    "'backup', 'backup_logs', 'restored_from', 'commit', "
		    "'commit_reason', 'log_format', 'log_written', 'warnings', "
		    "'error']");
}

/* An in-place commit: which log holds the record, its format and why, as a
 * text line before the backup and as JSON fields; a replace says only
 * "commit: replace". */
static void test_commit_in_place(void **state)
{
	struct dh_report *r = new_report(*state, SYSTEM, SYSTEM,
					 DH_STATUS_CHANGED);
	char *t, *j;

	r->commit = DH_COMMIT_IN_PLACE;
	r->commit_reason = talloc_strdup(r, "why");
	r->log_format = DH_LOGFMT_OLD;
	r->log_written = talloc_strdup(r, LOG1);
	r->backup = talloc_strdup(r, BACKUP);
	t = dh_report_text(*state, r, 0);
	assert_non_null(strstr(t, "  commit: in-place (log " LOG1
			       ", old format): why\n  backup: " BACKUP "\n"));
	j = dh_report_json(*state, r);
	assert_non_null(strstr(j, "\"commit\":\"in-place\",\"commit_reason\":"
			       "\"why\",\"log_format\":\"old\",\"log_written\":\""
			       LOG1 "\","));
	r->commit = DH_COMMIT_REPLACE;
	r->commit_reason = talloc_strdup(r, "asked");
	r->log_written = NULL;
	t = dh_report_text(*state, r, 0);
	assert_non_null(strstr(t, "  commit: replace: asked\n"));
	r->commit_reason = NULL;
	t = dh_report_text(*state, r, 0);
	assert_null(strstr(t, "commit:"));
	j = dh_report_json(*state, r);
	assert_non_null(strstr(j, "\"commit\":\"replace\",\"commit_reason\":"
			       "null,\"log_format\":null,\"log_written\":null,"));
	assert_string_equal(dh_commit_name(DH_COMMIT_AUTO), "auto");
	assert_string_equal(dh_logfmt_name(DH_LOGFMT_NEW), "new");
}

/* recover (or set) with a backup: the logs copied beside it, one line each
 * after the hive's backup, and a JSON array after "backup". */
static void test_backup_logs(void **state)
{
	struct dh_report *r = new_report(*state, SYSTEM, SYSTEM,
					 DH_STATUS_CHANGED);
	const char *lines =
		"  backup: " BACKUP "\n"
		"  backup: " BACKUP ".LOG1\n"
		"  backup: " BACKUP ".LOG2\n"
		"  warning: w\n";
	char *t, *j;

	r->dirty = true;
	r->dirty_reason = talloc_strdup(r, REASON);
	r->log_entries_applied = 1;
	r->log_pages_applied = 2;
	add_log(r, LOG1);
	r->backup = talloc_strdup(r, BACKUP);
	add_backup_log(r, BACKUP ".LOG1");
	add_backup_log(r, BACKUP ".LOG2");
	add_warning(r, "w");
	t = dh_report_text(*state, r, 0);
	assert_string_equal(t, talloc_asprintf(*state,
		SYSTEM ": changed (hive dirty, 1 log entry applied)\n"
		"  dirty: " REASON "\n"
		"  logs replayed: 1 entry, 2 pages, from " LOG1 "\n%s",
		lines));
	assert_int_equal(count(t, "  backup: "), 3);
	assert_string_equal(dh_report_text(*state, r, -1),
			    SYSTEM ": changed\n");

	j = dh_report_json(*state, r);
	assert_one_line(j);
	assert_non_null(strstr(j, "\"backup\":\"" BACKUP "\","
			       "\"backup_logs\":[\"" BACKUP ".LOG1\",\""
			       BACKUP ".LOG2\"],\"restored_from\":null,"
			       "\"commit\":null,\"commit_reason\":null,\"log_format\":null,\"log_written\":null,\"warnings\":[\"w\"],"));
	assert_json(j, "d['backup_logs'] == ['" BACKUP ".LOG1', '" BACKUP
		    ".LOG2'] and d['backup'] == '" BACKUP "' and "
		    "d['logs_applied'] == ['" LOG1 "']");

	/* a failure after the backup still lists every copy made */
	r->status = DH_STATUS_FAILED;
	set_error(r, DH_ERR_IO, "cannot rename");
	assert_string_equal(dh_report_text(*state, r, 0), talloc_asprintf(
			    *state, SYSTEM ": failed: cannot rename\n%s",
			    lines));
}

/* A clean hive says so in JSON with null and empty arrays, never by
 * leaving keys out; its text has none of the new lines. */
static void test_clean_report_empty_fields(void **state)
{
	struct dh_report *r = new_report(*state, "/mnt/win", SYSTEM,
					 DH_STATUS_UNCHANGED);
	char *t, *j;

	add_cs(r, 1, DH_ROLE_CURRENT, TOK3, v3, TOK3, v3);
	j = dh_report_json(*state, r);
	assert_one_line(j);
	assert_non_null(strstr(j, "\"dirty\":false,\"dirty_reason\":null,"
			       "\"log_entries_applied\":0,"
			       "\"log_pages_applied\":0,"
			       "\"log_entries_not_applied\":0,"
			       "\"logs_applied\":[],\"control_sets\":["));
	assert_non_null(strstr(j, "\"backup\":null,\"backup_logs\":[],\"restored_from\":null,"
			       "\"commit\":null,\"commit_reason\":null,\"log_format\":null,\"log_written\":null,"
			       "\"warnings\":[],\"error\":null}\n"));
	assert_json(j, "d['dirty'] is False and d['dirty_reason'] is None "
		    "and d['logs_applied'] == [] and d['backup_logs'] == [] "
		    "and d['log_pages_applied'] == 0 and d['backup'] is None");
	t = dh_report_text(*state, r, 1);
	assert_null(strstr(t, "dirty"));
	assert_null(strstr(t, "logs replayed"));
	assert_null(strstr(t, "backup"));
}

/* Log paths come from the image like every other name: a quote and a byte
 * that is not UTF-8 go out escaped, in text and in JSON. */
#define QDIR "/mnt/q\"uote\xff" "d"
static void test_log_path_escaping(void **state)
{
	struct dh_report *r = new_report(*state, QDIR "/SYSTEM",
					 QDIR "/SYSTEM", DH_STATUS_CHANGED);
	char *t, *j;

	r->dirty = true;
	r->dirty_reason = talloc_strdup(r, "bad \"seq\"\xfe\n");
	r->log_entries_applied = 2;
	r->log_pages_applied = 3;
	add_log(r, QDIR "/SYSTEM.LOG1");
	add_log(r, QDIR "/SYSTEM.LOG2");
	r->backup = talloc_strdup(r, QDIR "/SYSTEM.bak");
	add_backup_log(r, QDIR "/SYSTEM.bak.LOG1");
	t = dh_report_text(*state, r, 0);
	assert_string_equal(t,
		"/mnt/q\"uote\\xffd/SYSTEM: changed (hive dirty, 2 log "
		"entries applied)\n"
		"  dirty: bad \"seq\"\\xfe\\x0a\n"
		"  logs replayed: 2 entries, 3 pages, from "
		"/mnt/q\"uote\\xffd/SYSTEM.LOG1, /mnt/q\"uote\\xffd/SYSTEM.LOG2\n"
		"  backup: /mnt/q\"uote\\xffd/SYSTEM.bak\n"
		"  backup: /mnt/q\"uote\\xffd/SYSTEM.bak.LOG1\n");
	assert_null(strchr(t, '\xff'));
	assert_null(strchr(t, '\xfe'));

	j = dh_report_json(*state, r);
	assert_one_line(j);
	assert_null(strchr(j, '\xff'));
	assert_non_null(strstr(j, "\"dirty_reason\":\"bad \\\"seq\\\"\\ufffd"
			       "\\u000a\","));
	assert_non_null(strstr(j, "\"logs_applied\":["
			       "\"/mnt/q\\\"uote\\ufffdd/SYSTEM.LOG1\","
			       "\"/mnt/q\\\"uote\\ufffdd/SYSTEM.LOG2\"],"));
	assert_non_null(strstr(j, "\"backup_logs\":["
			       "\"/mnt/q\\\"uote\\ufffdd/SYSTEM.bak.LOG1\"],"));
	assert_json(j, "d['logs_applied'] == ['/mnt/q\"uote\\ufffdd/SYSTEM"
		    ".LOG1', '/mnt/q\"uote\\ufffdd/SYSTEM.LOG2'] and "
		    "d['backup_logs'] == ['/mnt/q\"uote\\ufffdd/SYSTEM.bak"
		    ".LOG1'] and d['dirty_reason'] == 'bad \"seq\"\\ufffd\\n'");
}
#undef QDIR

/* A list left with a NULL entry (an allocation failed while filling it) is
 * still rendered: text skips the entry, JSON says null. */
static void test_null_list_entries(void **state)
{
	struct dh_report *r = new_report(*state, SYSTEM, SYSTEM,
					 DH_STATUS_CHANGED);
	char *j;

	r->dirty = true;
	r->log_entries_applied = 2;
	r->log_pages_applied = 2;
	add_log(r, NULL);
	add_log(r, LOG2);
	r->backup = talloc_strdup(r, BACKUP);
	add_backup_log(r, BACKUP ".LOG1");
	add_backup_log(r, NULL);
	assert_string_equal(dh_report_text(*state, r, 0),
		SYSTEM ": changed (hive dirty, 2 log entries applied)\n"
		"  logs replayed: 2 entries, 2 pages, from " LOG2 "\n"
		"  backup: " BACKUP "\n"
		"  backup: " BACKUP ".LOG1\n");
	r->status = DH_STATUS_FAILED;
	assert_string_equal(dh_report_text(*state, r, 0),
		SYSTEM ": failed: unknown error\n"
		"  backup: " BACKUP "\n"
		"  backup: " BACKUP ".LOG1\n");
	j = dh_report_json(*state, r);
	assert_non_null(strstr(j, "\"logs_applied\":[null,\"" LOG2 "\"],"));
	assert_non_null(strstr(j, "\"backup_logs\":[\"" BACKUP ".LOG1\","
			       "null],"));
	assert_json(j, "d['logs_applied'] == [None, '" LOG2 "']");
}

/* The validator itself must be able to say no, or the checks above prove
 * nothing. */
static void test_json_validator_rejects(void **state)
{
	static const char *bad[] = {
		"{\"a\":\"x\ny\"}\n",	/* raw newline in a string */
		"{\"a\":\"\xff\"}\n",	/* not UTF-8 */
		"{\"a\":1,}\n",		/* trailing comma */
		"{\"a\":\"\\x41\"}\n",	/* not a JSON escape */
		"[1]\n",		/* not an object */
	};
	size_t i;

	(void)state;
	if (!have_python())
		skip();
	assert_int_equal(py_check("{\"a\":1}\n", 8, "d['a'] == 1"), 0);
	assert_int_not_equal(py_check("{\"a\":1}\n", 8, "d['a'] == 2"), 0);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_not_equal(py_check(bad[i], strlen(bad[i]), "True"),
				     0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
		T(test_status_names),
		T(test_effective_non_interactive),
		T(test_text_show_two_and_three),
		T(test_text_show_three_only),
		T(test_text_dirty),
		T(test_text_set_changed),
		T(test_text_set_first_two),
		T(test_text_unchanged),
		T(test_text_would_change),
		T(test_text_check_words),
		T(test_show_unreadable_control_set),
		T(test_text_recover_clean),
		T(test_text_failed),
		T(test_text_quiet),
		T(test_text_verbose),
		T(test_text_header_without_hive),
		T(test_text_escapes_controls),
		T(test_text_missing_token),
		T(test_json_changed_exact),
		T(test_json_show_roles_and_nulls),
		T(test_json_escaping),
		T(test_json_utf8),
		T(test_json_failed),
		T(test_text_replayed_exact),
		T(test_json_replayed_exact),
		T(test_backup_logs),
		T(test_commit_in_place),
		T(test_clean_report_empty_fields),
		T(test_log_path_escaping),
		T(test_null_list_entries),
		T(test_json_validator_rejects),
#undef T
	};

	if (!have_python())
		fprintf(stderr, "python3 not found: JSON validity checks are "
			"skipped\n");
	return cmocka_run_group_tests_name("report", tests, NULL, NULL);
}
