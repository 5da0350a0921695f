/*
 * Rendering a dh_report: text for people, JSON Lines for pipelines. Pure:
 * returns strings allocated on mem, prints nothing.
 */
#ifndef DH_REPORT_H
#define DH_REPORT_H

#include "deskheap.h"

/*
 * Text for one target, lines ending in '\n'. The header line names the hive
 * (the target when no hive was found), the status in words (for check
 * "matches" or "differs", for recover of a clean hive "nothing to
 * replay") and clean/dirty; for a
 * dirty hive, "dirty: <reason>" and "logs replayed: N entries, P pages,
 * from <logs>"; then per control set one line with its roles and its token ("before -> after" when
 * the command changed or would change it) and one with the three effective
 * sizes (saying when the third number is absent and the second applies, and
 * what a changed size was); then "restored from: <backup>" (restore), the
 * backup, one line per log copied into the backup set, and warnings.
 * A failure is "<target>: failed: <message>", then the control sets (show
 * of a hive with one it cannot read: that one "cannot be read: <why>"),
 * backup and warnings if any.
 * verbosity < 0 (quiet): exactly one line, "<hive or target>: <status name>"
 * or the failure line. verbosity > 0: also the target when it differs from
 * the hive, and the error code of a failure.
 * Control characters and bytes that are not UTF-8 in names are shown as
 * \xNN (C1 controls as \u00XX), so a name cannot split a line or send
 * escape sequences to the terminal. NULL only when memory runs out.
 */
char *dh_report_text(TALLOC_CTX *mem, const struct dh_report *r,
		     int verbosity);

/*
 * One JSON object on one line, ending in '\n', with the fields: target,
 * hive, status, dirty, dirty_reason (string or null), log_entries_applied,
 * log_pages_applied, log_entries_not_applied, logs_applied[], control_sets[] {name, number,
 * roles[], before, after, changed, sizes_before {shared, interactive,
 * non_interactive, non_interactive_effective}, sizes_after {...}, error
 * ({code, message} or null)}, backup
 * (string or null), backup_logs[], restored_from (string or null),
 * warnings[], error ({code, message} or null).
 * Roles are "current", "default", "last-known-good", "failed". A size of 0
 * (absent third number) and a NULL string are null. Strings escape '"',
 * '\\' and control characters (as \u00XX); bytes that are not UTF-8
 * become U+FFFD, so the line is always valid JSON in UTF-8.
 * NULL only when memory runs out.
 */
char *dh_report_json(TALLOC_CTX *mem, const struct dh_report *r);

#endif
