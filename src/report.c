#include "config.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "deskheap.h"
#include "strbuf.h"

const char *dh_status_name(enum dh_status status)
{
	switch (status) {
	case DH_STATUS_SHOWN: return "shown";
	case DH_STATUS_CHANGED: return "changed";
	case DH_STATUS_UNCHANGED: return "unchanged";
	case DH_STATUS_WOULD_CHANGE: return "would-change";
	case DH_STATUS_FAILED: return "failed";
	}
	return "unknown";
}

const char *dh_commit_name(enum dh_commit commit)
{
	switch (commit) {
	case DH_COMMIT_AUTO: return "auto";
	case DH_COMMIT_REPLACE: return "replace";
	case DH_COMMIT_IN_PLACE: return "in-place";
	}
	return "unknown";
}

const char *dh_logfmt_name(enum dh_logfmt fmt)
{
	switch (fmt) {
	case DH_LOGFMT_AUTO: return "auto";
	case DH_LOGFMT_NEW: return "new";
	case DH_LOGFMT_OLD: return "old";
	}
	return "unknown";
}

uint32_t dh_values_effective_non_interactive(const struct dh_values *v)
{
	return v->non_interactive != 0 ? v->non_interactive : v->interactive;
}


/* ---- text ---- */

/* What the header and the one-line forms call the file: the hive when one
 * was found, else what the user typed. */
static const char *report_name(const struct dh_report *r)
{
	if (r->hive != NULL)
		return r->hive;
	return r->target != NULL ? r->target : "(no target)";
}

/* A failure may come before any hive was found, so it names the target;
 * a Windows of a disk image is named by its hive (image:partition:path),
 * which tells it from the image's others. */
static const char *failed_name(const struct dh_report *r)
{
	if (r->image != NULL && r->hive != NULL)
		return r->hive;
	if (r->target != NULL)
		return r->target;
	return r->hive != NULL ? r->hive : "(no target)";
}

static bool differs(const char *a, const char *b)
{
	return a != NULL && b != NULL && strcmp(a, b) != 0;
}

/* The status in words for people: what it means depends on the command
 * (check changes nothing, so it matches or differs; a clean hive gives
 * recover nothing to do). JSON keeps the status names. */
static const char *status_phrase(const struct dh_report *r)
{
	if (r->command == DH_CMD_CHECK && r->status == DH_STATUS_UNCHANGED)
		return "matches";
	if (r->command == DH_CMD_CHECK && r->status == DH_STATUS_WOULD_CHANGE)
		return "differs";
	if (r->command == DH_CMD_RECOVER && r->status == DH_STATUS_UNCHANGED)
		return "nothing to replay";
	switch (r->status) {
	case DH_STATUS_UNCHANGED: return "unchanged (already as asked)";
	case DH_STATUS_WOULD_CHANGE: return "would change";
	default: return dh_status_name(r->status);
	}
}

static void text_header(struct dh_sb *b, const struct dh_report *r)
{
	dh_sb_text(b, report_name(r));
	dh_sb_printf(b, ": %s (", status_phrase(r));
	if (!r->dirty)
		dh_sb_puts(b, "hive clean");
	else if (r->log_entries_applied == 0)
		dh_sb_puts(b, "hive dirty");
	else
		dh_sb_printf(b, "hive dirty, %u log %s applied",
			  r->log_entries_applied,
			  r->log_entries_applied == 1 ? "entry" : "entries");
	dh_sb_puts(b, ")\n");
}

static void text_roles(struct dh_sb *b, unsigned roles)
{
	static const struct {
		unsigned bit;
		const char *name;
	} names[] = {
		{ DH_ROLE_CURRENT, "current" },
		{ DH_ROLE_DEFAULT, "default" },
		{ DH_ROLE_LASTKNOWNGOOD, "last known good" },
		{ DH_ROLE_FAILED, "failed" },
	};
	const char *sep = " [";
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (roles & names[i].bit) {
			dh_sb_printf(b, "%s%s", sep, names[i].name);
			sep = ", ";
		}
	}
	if (roles & (DH_ROLE_CURRENT | DH_ROLE_DEFAULT |
		     DH_ROLE_LASTKNOWNGOOD | DH_ROLE_FAILED))
		dh_sb_puts(b, "]");
}

static void text_token(struct dh_sb *b, const char *token)
{
	if (token != NULL)
		dh_sb_text(b, token);
	else
		dh_sb_puts(b, "(no SharedSection token)");
}

/* show: why a control set cannot be read; the failure line above already
 * says it when it is the same error, and it is not said twice. */
static void text_cs_error(struct dh_sb *b, const struct dh_report *r,
			  const struct dh_error *e)
{
	const char *msg = e->message != NULL ? e->message : "unknown error";

	if (r->error != NULL && r->error->message != NULL &&
	    strcmp(r->error->message, msg) == 0) {
		dh_sb_puts(b, "cannot be read (the error above)\n");
		return;
	}
	dh_sb_puts(b, "cannot be read: ");
	dh_sb_text(b, msg);
	dh_sb_puts(b, "\n");
}

/* "ControlSet001 [current, default]: before[ -> after]" */
static void text_cs_line(struct dh_sb *b, const struct dh_report *r,
			 const struct dh_controlset_report *cs)
{
	dh_sb_puts(b, "  ");
	dh_sb_text(b, cs->name != NULL ? cs->name : "(unnamed control set)");
	text_roles(b, cs->roles);
	dh_sb_puts(b, ": ");
	if (cs->error != NULL) {
		text_cs_error(b, r, cs->error);
		return;
	}
	text_token(b, cs->before);
	if (cs->changed) {
		dh_sb_puts(b, " -> ");
		text_token(b, cs->after);
	} else if (r->status == DH_STATUS_CHANGED ||
		   r->status == DH_STATUS_WOULD_CHANGE) {
		/* others in the same hive changed: say why this one did not */
		dh_sb_puts(b, r->command == DH_CMD_CHECK ? " (matches)"
						       : " (already as asked)");
	}
	dh_sb_puts(b, "\n");
}

static void text_kb(struct dh_sb *b, const char *what, uint32_t kb)
{
	if (kb != 0)
		dh_sb_printf(b, "%s %u KB", what, (unsigned)kb);
	else
		dh_sb_printf(b, "%s absent", what);
}

/* " (was N KB)" after a size the command changed (or would change). */
static void text_was(struct dh_sb *b, const char *was, uint32_t before,
		     uint32_t after)
{
	if (before == after)
		return;
	dh_sb_puts(b, " (");
	text_kb(b, was, before);
	dh_sb_puts(b, ")");
}

/*
 * The non-interactive size, with why it is what it is: Windows gives
 * non-interactive desktops the interactive size when the third number is
 * absent, which is exactly the trap this tool exists to fix, so say so.
 * was_v is NULL when there is nothing to compare with.
 */
static void text_non_interactive(struct dh_sb *b, const struct dh_values *now,
				 const struct dh_values *was_v, bool pending)
{
	uint32_t eff = dh_values_effective_non_interactive(now);
	bool absent = now->non_interactive == 0;
	bool show_was = false, was_absent = false;
	uint32_t was_eff = 0;

	if (was_v != NULL) {
		was_eff = dh_values_effective_non_interactive(was_v);
		was_absent = was_v->non_interactive == 0;
		show_was = was_eff != eff || was_absent != absent;
	}
	text_kb(b, ", non-interactive", eff);
	if (!absent && !show_was)
		return;
	dh_sb_puts(b, " (");
	if (absent)
		dh_sb_puts(b, "third number absent: the interactive size applies");
	if (show_was) {
		if (absent)
			dh_sb_puts(b, "; ");
		text_kb(b, pending ? "now" : "was", was_eff);
		if (was_absent && !absent)
			dh_sb_printf(b, ": third number absent, the "
				  "interactive size %s",
				  pending ? "applies" : "applied");
	}
	dh_sb_puts(b, ")");
}

/*
 * The effective sizes: as they are (show, unchanged) or, for a set that
 * changed or would change, as they will be, with what they were.
 */
static void text_sizes(struct dh_sb *b, const struct dh_report *r,
		       const struct dh_controlset_report *cs)
{
	bool pending = r->status == DH_STATUS_WOULD_CHANGE;
	const char *was = pending ? "now" : "was";
	const struct dh_values *now = cs->changed ? &cs->after_values
						  : &cs->before_values;
	const struct dh_values *before = cs->changed ? &cs->before_values
						     : NULL;

	if ((cs->changed ? cs->after : cs->before) == NULL)
		return;
	dh_sb_puts(b, "    ");
	text_kb(b, "shared", now->shared);
	if (before != NULL)
		text_was(b, was, before->shared, now->shared);
	text_kb(b, ", interactive", now->interactive);
	if (before != NULL)
		text_was(b, was, before->interactive, now->interactive);
	text_non_interactive(b, now, before, pending);
	dh_sb_puts(b, "\n");
}

/* How the hive was written, and why: said when it was in place or asked
 * for (a replace by default goes without saying). */
static void text_commit(struct dh_sb *b, const struct dh_report *r)
{
	if (r->commit == DH_COMMIT_AUTO ||
	    (r->commit == DH_COMMIT_REPLACE && r->commit_reason == NULL))
		return;
	dh_sb_printf(b, "  commit: %s", dh_commit_name(r->commit));
	if (r->log_written != NULL) {
		dh_sb_printf(b, " (log ");
		dh_sb_text(b, r->log_written);
		dh_sb_printf(b, ", %s format)", dh_logfmt_name(r->log_format));
	}
	if (r->commit_reason != NULL) {
		dh_sb_puts(b, ": ");
		dh_sb_text(b, r->commit_reason);
	}
	dh_sb_puts(b, "\n");
}

/* Backup, warnings and a stray error: lines every non-quiet form ends with. */
static void text_trailer(struct dh_sb *b, const struct dh_report *r)
{
	size_t i;

	if (r->restored_from != NULL) {
		dh_sb_puts(b, "  restored from: ");
		dh_sb_text(b, r->restored_from);
		dh_sb_puts(b, "\n");
	}
	text_commit(b, r);
	if (r->backup != NULL) {
		dh_sb_puts(b, "  backup: ");
		dh_sb_text(b, r->backup);
		dh_sb_puts(b, "\n");
	}
	for (i = 0; r->backup_logs != NULL && i < r->n_backup_logs; i++) {
		if (r->backup_logs[i] == NULL)
			continue;
		dh_sb_puts(b, "  backup: ");
		dh_sb_text(b, r->backup_logs[i]);
		dh_sb_puts(b, "\n");
	}
	for (i = 0; r->warnings != NULL && i < r->n_warnings; i++) {
		if (r->warnings[i] == NULL)
			continue;
		dh_sb_puts(b, "  warning: ");
		dh_sb_text(b, r->warnings[i]);
		dh_sb_puts(b, "\n");
	}
}

static void text_control_sets(struct dh_sb *b, const struct dh_report *r)
{
	for (size_t i = 0; r->control_sets != NULL && i < r->n_control_sets; i++) {
		text_cs_line(b, r, &r->control_sets[i]);
		text_sizes(b, r, &r->control_sets[i]);
	}
}

static const char *error_message(const struct dh_report *r)
{
	if (r->error != NULL && r->error->message != NULL)
		return r->error->message;
	return "unknown error";
}

static void text_failed(struct dh_sb *b, const struct dh_report *r,
			int verbosity)
{
	dh_sb_text(b, failed_name(r));
	dh_sb_puts(b, ": failed: ");
	dh_sb_text(b, error_message(r));
	dh_sb_puts(b, "\n");
	if (verbosity < 0)
		return;
	if (verbosity > 0) {
		dh_sb_printf(b, "  error code: %s\n",
			  dh_errcode_name(r->error != NULL ? r->error->code
							   : DH_OK));
		if (r->hive != NULL && differs(r->hive, r->target)) {
			dh_sb_puts(b, "  hive: ");
			dh_sb_text(b, r->hive);
			dh_sb_puts(b, "\n");
		}
	}
	/* show: the control sets it could read, and the one it could not */
	text_control_sets(b, r);
	text_trailer(b, r);
}

static void text_quiet(struct dh_sb *b, const struct dh_report *r)
{
	dh_sb_text(b, report_name(r));
	dh_sb_printf(b, ": %s\n", dh_status_name(r->status));
}

/* Why the hive is dirty, and which logs a replay took its changes from. */
static void text_dirty(struct dh_sb *b, const struct dh_report *r)
{
	const char *sep;

	if (r->dirty_reason != NULL) {
		dh_sb_puts(b, "  dirty: ");
		dh_sb_text(b, r->dirty_reason);
		dh_sb_puts(b, "\n");
	}
	if (r->log_entries_applied == 0)
		return;
	dh_sb_printf(b, "  logs replayed: %u %s, %u %s",
		  r->log_entries_applied,
		  r->log_entries_applied == 1 ? "entry" : "entries",
		  r->log_pages_applied,
		  r->log_pages_applied == 1 ? "page" : "pages");
	sep = ", from ";
	for (size_t i = 0; r->logs_applied != NULL && i < r->n_logs_applied; i++) {
		/* a NULL entry (allocation failed mid-list) is skipped, as
		 * for warnings, rather than passed to strlen */
		if (r->logs_applied[i] == NULL)
			continue;
		dh_sb_puts(b, sep);
		dh_sb_text(b, r->logs_applied[i]);
		sep = ", ";
	}
	dh_sb_puts(b, "\n");
}

static void text_full(struct dh_sb *b, const struct dh_report *r, int verbosity)
{
	text_header(b, r);
	text_dirty(b, r);
	if (verbosity > 0 && differs(r->target, r->hive)) {
		dh_sb_puts(b, "  target: ");
		dh_sb_text(b, r->target);
		dh_sb_puts(b, "\n");
	}
	text_control_sets(b, r);
	text_trailer(b, r);
	if (r->error != NULL) {
		/* not failed, yet an error was recorded: do not hide it */
		dh_sb_puts(b, "  error: ");
		dh_sb_text(b, error_message(r));
		if (verbosity > 0)
			dh_sb_printf(b, " (%s)", dh_errcode_name(r->error->code));
		dh_sb_puts(b, "\n");
	}
}

char *dh_report_text(TALLOC_CTX *mem, const struct dh_report *r,
		     int verbosity)
{
	struct dh_sb b;

	if (r == NULL)
		return NULL;
	b.s = talloc_strdup(mem, "");
	if (r->status == DH_STATUS_FAILED)
		text_failed(&b, r, verbosity);
	else if (verbosity < 0)
		text_quiet(&b, r);
	else
		text_full(&b, r, verbosity);
	return b.s;
}

/* ---- JSON ---- */

/* A JSON string, or null for NULL. */
static void json_str(struct dh_sb *b, const char *str)
{
	if (str == NULL) {
		dh_sb_puts(b, "null");
		return;
	}
	dh_sb_puts(b, "\"");
	dh_sb_escaped(b, str, DH_ESC_JSON);
	dh_sb_puts(b, "\"");
}

/* "key": then a string or null. */
static void json_key_str(struct dh_sb *b, const char *key, const char *str)
{
	dh_sb_printf(b, "\"%s\":", key);
	json_str(b, str);
}

/* A size: 0 means absent (or not known), which JSON says as null. */
static void json_key_kb(struct dh_sb *b, const char *key, uint32_t kb)
{
	if (kb != 0)
		dh_sb_printf(b, "\"%s\":%u", key, (unsigned)kb);
	else
		dh_sb_printf(b, "\"%s\":null", key);
}

static void json_sizes(struct dh_sb *b, const char *key,
		       const struct dh_values *v)
{
	dh_sb_printf(b, "\"%s\":{", key);
	json_key_kb(b, "shared", v->shared);
	dh_sb_puts(b, ",");
	json_key_kb(b, "interactive", v->interactive);
	dh_sb_puts(b, ",");
	json_key_kb(b, "non_interactive", v->non_interactive);
	dh_sb_puts(b, ",");
	json_key_kb(b, "non_interactive_effective",
		    dh_values_effective_non_interactive(v));
	dh_sb_puts(b, "}");
}

static void json_roles(struct dh_sb *b, unsigned roles)
{
	const char *sep = "";

	dh_sb_puts(b, "\"roles\":[");
	if (roles & DH_ROLE_CURRENT)
		dh_sb_printf(b, "%s\"current\"", sep), sep = ",";
	if (roles & DH_ROLE_DEFAULT)
		dh_sb_printf(b, "%s\"default\"", sep), sep = ",";
	if (roles & DH_ROLE_LASTKNOWNGOOD)
		dh_sb_printf(b, "%s\"last-known-good\"", sep), sep = ",";
	if (roles & DH_ROLE_FAILED)
		dh_sb_printf(b, "%s\"failed\"", sep);
	dh_sb_puts(b, "]");
}

/* "commit" (null when nothing is written), its reason, and for in place
 * the log format and the log written. */
static void json_commit(struct dh_sb *b, const struct dh_report *r)
{
	bool in_place = r->commit == DH_COMMIT_IN_PLACE;

	json_key_str(b, "commit", r->commit == DH_COMMIT_AUTO ? NULL :
				  dh_commit_name(r->commit));
	dh_sb_puts(b, ",");
	json_key_str(b, "commit_reason", r->commit_reason);
	dh_sb_puts(b, ",");
	json_key_str(b, "log_format", in_place && r->log_format != DH_LOGFMT_AUTO ?
				      dh_logfmt_name(r->log_format) : NULL);
	dh_sb_puts(b, ",");
	json_key_str(b, "log_written", r->log_written);
}

/* "image": where in a disk image the hive was, or null. */
static void json_image(struct dh_sb *b, const struct dh_image_report *i)
{
	if (i == NULL) {
		dh_sb_puts(b, "\"image\":null");
		return;
	}
	dh_sb_puts(b, "\"image\":{");
	json_key_str(b, "path", i->path);
	dh_sb_puts(b, ",");
	json_key_str(b, "format", i->format);
	dh_sb_puts(b, ",");
	json_key_str(b, "partition", i->partition);
	dh_sb_puts(b, ",");
	json_key_str(b, "system_root", i->system_root);
	dh_sb_puts(b, "}");
}

static void json_error(struct dh_sb *b, const struct dh_error *e)
{
	if (e == NULL) {
		dh_sb_puts(b, "\"error\":null");
		return;
	}
	dh_sb_puts(b, "\"error\":{");
	json_key_str(b, "code", dh_errcode_name(e->code));
	dh_sb_puts(b, ",");
	json_key_str(b, "message", e->message);
	dh_sb_puts(b, "}");
}

static void json_control_set(struct dh_sb *b,
			     const struct dh_controlset_report *cs)
{
	dh_sb_puts(b, "{");
	json_key_str(b, "name", cs->name);
	dh_sb_printf(b, ",\"number\":%u,", cs->number);
	json_roles(b, cs->roles);
	dh_sb_puts(b, ",");
	json_key_str(b, "before", cs->before);
	dh_sb_puts(b, ",");
	json_key_str(b, "after", cs->after);
	dh_sb_printf(b, ",\"changed\":%s,", cs->changed ? "true" : "false");
	json_sizes(b, "sizes_before", &cs->before_values);
	dh_sb_puts(b, ",");
	json_sizes(b, "sizes_after", &cs->after_values);
	dh_sb_puts(b, ",");
	json_error(b, cs->error);
	dh_sb_puts(b, "}");
}

static void json_control_sets(struct dh_sb *b, const struct dh_report *r)
{
	size_t i;

	dh_sb_puts(b, "\"control_sets\":[");
	for (i = 0; r->control_sets != NULL && i < r->n_control_sets; i++) {
		if (i > 0)
			dh_sb_puts(b, ",");
		json_control_set(b, &r->control_sets[i]);
	}
	dh_sb_puts(b, "]");
}

static void json_strings(struct dh_sb *b, const char *key, char *const *list,
			 size_t n)
{
	dh_sb_printf(b, "\"%s\":[", key);
	for (size_t i = 0; list != NULL && i < n; i++) {
		if (i > 0)
			dh_sb_puts(b, ",");
		json_str(b, list[i]);
	}
	dh_sb_puts(b, "]");
}

char *dh_report_json(TALLOC_CTX *mem, const struct dh_report *r)
{
	struct dh_sb b;

	if (r == NULL)
		return NULL;
	b.s = talloc_strdup(mem, "{");
	json_key_str(&b, "target", r->target);
	dh_sb_puts(&b, ",");
	json_key_str(&b, "hive", r->hive);
	dh_sb_puts(&b, ",");
	json_image(&b, r->image);
	dh_sb_puts(&b, ",");
	json_key_str(&b, "status", dh_status_name(r->status));
	dh_sb_printf(&b, ",\"dirty\":%s,", r->dirty ? "true" : "false");
	json_key_str(&b, "dirty_reason", r->dirty_reason);
	dh_sb_printf(&b, ",\"log_entries_applied\":%u,\"log_pages_applied\":%u,"
		  "\"log_entries_not_applied\":%u,",
		  r->log_entries_applied, r->log_pages_applied,
		  r->log_entries_not_applied);
	json_strings(&b, "logs_applied", r->logs_applied, r->n_logs_applied);
	dh_sb_puts(&b, ",");
	json_control_sets(&b, r);
	dh_sb_puts(&b, ",");
	json_key_str(&b, "backup", r->backup);
	dh_sb_puts(&b, ",");
	json_strings(&b, "backup_logs", r->backup_logs, r->n_backup_logs);
	dh_sb_puts(&b, ",");
	json_key_str(&b, "restored_from", r->restored_from);
	dh_sb_puts(&b, ",");
	json_commit(&b, r);
	dh_sb_puts(&b, ",");
	json_strings(&b, "warnings", r->warnings, r->n_warnings);
	dh_sb_puts(&b, ",");
	json_error(&b, r->error);
	dh_sb_puts(&b, "}\n");
	return b.s;
}
