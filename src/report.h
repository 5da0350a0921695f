/*
 * Rendering a dh_report: text for people, JSON Lines for pipelines. Pure:
 * returns strings allocated on mem, prints nothing.
 */
#ifndef DH_REPORT_H
#define DH_REPORT_H

#include "deskheap.h"

/*
 * Text for one target, lines ending in '\n'. verbosity: 0 normal; < 0 quiet
 * (one line: target and status, or the error); > 0 adds the full token.
 * Normal output names the hive, clean or dirty, then one line per control
 * set with its roles, its token and the effective sizes (saying when the
 * third number is absent and the second applies), "before -> after" when
 * the command changed or would change it, the backup, warnings and errors.
 */
char *dh_report_text(TALLOC_CTX *mem, const struct dh_report *r,
		     int verbosity);

/*
 * One JSON object on one line, ending in '\n', with the fields: target,
 * hive, status, dirty, log_entries_applied, control_sets[] {name, number,
 * roles[], before, after, changed, sizes_before {shared, interactive,
 * non_interactive, non_interactive_effective}, sizes_after {...}}, backup
 * (string or null), warnings[], error ({code, message} or null).
 */
char *dh_report_json(TALLOC_CTX *mem, const struct dh_report *r);

#endif
