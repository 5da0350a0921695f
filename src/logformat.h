/*
 * Which transaction log format the Windows that owns a hive writes: the
 * new one (HvLE, Windows 8.1 and later) or the old one (DIRT, XP to 8).
 * An in-place commit writes its log in that format, since an older Windows
 * cannot read a new-format log. Reading only.
 */
#ifndef DH_LOGFORMAT_H
#define DH_LOGFORMAT_H

#include <stddef.h>

#include "deskheap.h"
#include "logscan.h"
#include "target.h"

struct dh_logformat_choice {
	enum dh_log_format format;   /* DH_LOG_NONE: cannot tell */
	char *why;                   /* on mem: "SYSTEM.LOG1 is a new-format
				      * log", "SOFTWARE: CurrentBuild 7601
				      * (before 9600)", or why it cannot tell */
};

/* The first build of Windows 8.1, the first to write new-format logs. */
#define DH_LOGFORMAT_NEW_BUILD 9600u

/*
 * Choose for the hive of t, whose logs (dh_target_logs()) are
 * logs[0..n_logs):
 *  1. From the logs: the file type in a log's base block (6: new; 1 or 2:
 *     old). An empty log, or one whose base block is damaged or of another
 *     type, tells nothing. When logs disagree (an upgrade leaves the old
 *     Windows' log beside the new one's), NAME.LOG1 and NAME.LOG2 outrank
 *     NAME.LOG (Windows Vista and later write those, XP only NAME.LOG), and
 *     between two of the same rank the higher base-block sequence number,
 *     the one written last, wins; two of the same rank and number that
 *     disagree tell nothing.
 *  2. Else from the SOFTWARE hive in the same directory (name in any
 *     letter case; a link, a FIFO or a device is not read): its
 *     Microsoft\Windows NT\CurrentVersion value CurrentBuild, or
 *     CurrentBuildNumber where that is missing: DH_LOGFORMAT_NEW_BUILD and
 *     later new, earlier old.
 *  3. Else DH_LOG_NONE, and why says what was missing.
 * A SOFTWARE hive that is absent, refused or unreadable only means
 * "cannot tell": -1 (DH_ERR_NOMEM or DH_ERR_FD_LIMIT) only when the
 * process runs out of memory or descriptors. out->why is on mem.
 */
int dh_logformat_choose(TALLOC_CTX *mem, const struct dh_target *t,
			const struct dh_log_file *logs, size_t n_logs,
			struct dh_logformat_choice *out, struct dh_error **err);

#endif
