/*
 * The in-place commit (design invariant 2): a hive and its logs written as
 * Windows writes them, never renamed, so every file keeps its identity
 * (inode, NTFS security descriptor, hard links, streams). See
 * ../shared/docs/format-notes.md, "How Windows writes a hive".
 *
 * dh_inplace_commit() takes the live hive from its state as Windows loads
 * it (the old state) to the new hive, in steps each synced before the next:
 *
 *  B. Only when the live hive is dirty: the pages where its reconciled
 *     state (its logs replayed) differs are written into it while it stays
 *     dirty and its logs stay as they are, so that an interruption replays
 *     the same logs over them to the same state; then the reconciled base
 *     block, clean. Now the logs hold nothing the hive lacks.
 *  1. The log: logs[0] gets one record (logwrite.h) taking the clean hive,
 *     sequence number K, to the new one, sequence number M = K + 1; it is
 *     written from its start and cut to its length, and every other log is
 *     emptied. Windows ignores the logs of a clean hive, so nothing it
 *     loads has changed yet; a failure here puts the logs' old bytes back.
 *  2. The hive's base block: the new one with its first sequence number M
 *     and its second K, so dirty: Windows (and deskheap's replay) now
 *     completes the change from the log. This is the point of no return.
 *  3. The hive resized, and every page that differs written.
 *  4. The new base block, both sequence numbers M, checksum; then every
 *     range written is read back from the disk and compared.
 * After it, logs[0] holds the record of the state the hive is in (Windows
 * applying it again changes nothing, and ignores it once the hive has a
 * later sequence number); the other logs are empty.
 */
#ifndef DH_INPLACE_H
#define DH_INPLACE_H

#include <stdbool.h>
#include <stddef.h>

#include "deskheap.h"
#include "logscan.h"
#include "overlay.h"

/* A live log, open read-write. */
struct dh_inplace_log {
	int fd;
	const char *path;          /* for messages */
};

/* What a commit wrote, in order, when asked: the same writes, truncations
 * and syncs replayed elsewhere (image.c: into a disk image) take the files
 * there through the same states. file: 0 the hive, i + 1 logs[i]. */
enum dh_io_op_kind { DH_IO_WRITE, DH_IO_TRUNCATE, DH_IO_SYNC };

struct dh_io_op {
	enum dh_io_op_kind kind;
	size_t file;
	uint64_t offset;           /* write: where; truncate: the new length */
	uint8_t *data;             /* write: len bytes, on the record */
	size_t len;
};

struct dh_io_record {
	struct dh_io_op *ops;      /* on the record */
	size_t n, room;
};

struct dh_inplace {
	int hive;                  /* the live hive, read-write, locked */
	const char *hive_path;
	int reconciled;            /* when the hive is dirty: its state as
				    * Windows loads it, or -1 */
	bool ignore_logs;          /* a dirty hive without reconciled is
				    * marked clean as it is, its logs given
				    * up (--ignore-logs); else refused */
	const struct dh_overlay *target; /* the new hive (overlay.h): its
				    * changes over the hive's state after
				    * step B (reconciled when the hive is
				    * dirty and it is given, else the hive
				    * itself), which are read before the
				    * hive is written; complete, clean,
				    * verified (its sequence numbers are
				    * replaced) */
	const char *target_path;
	enum dh_log_format format; /* DH_LOG_NEW or DH_LOG_OLD */
	const struct dh_inplace_log *logs; /* logs[0] gets the record */
	size_t n_logs;             /* at least 1 */
	struct dh_io_record *record; /* NULL, or each write is added to it */
};

/* Where a commit got to (also when it failed). */
enum dh_inplace_state {
	DH_INPLACE_AS_WAS,      /* every file holds what it held */
	DH_INPLACE_RECONCILED,  /* a dirty hive's step B wrote into it: it
				 * loads as before, but its bytes changed */
	DH_INPLACE_DECIDED,     /* past step 2: the log completes the change */
};

/*
 * Steps B to 4 above. Failpoints "write" (each write) and "fsync" (each
 * sync); a signal stops it at the safe points before step B and (when B
 * wrote nothing) before step 2. *state
 * says where it got to. A failure's message says what the files hold:
 * as it was, "the hive was not changed"; reconciled, that the hive loads
 * as it did with its logs' changes written into it; decided, that the
 * change completes from the log when the hive is next loaded. Allocations
 * are on mem.
 */
int dh_inplace_commit(TALLOC_CTX *mem, const struct dh_inplace *w,
		      enum dh_inplace_state *state, struct dh_error **err);

#endif
