/*
 * Transaction-log replay: what Windows does at boot to a dirty hive, done
 * on a copy of it, from untrusted bytes. The primary file is never touched
 * here.
 *
 * A hive is dirty when its base block checksum is wrong or its sequence
 * numbers differ. Its newest changes are then in NAME.LOG1/NAME.LOG2 (or
 * NAME.LOG before Vista):
 *  - new format (Windows 8.1+, log file type 6): HvLE entries, each with
 *    two Marvin32 hashes, applied in sequence order across both logs;
 *  - old format (XP to 8, file type 1 or 2): a DIRT bitmap of dirty 512-byte
 *    pages, applied from one log whose base block matches the primary.
 * See ../shared/docs/format-notes.md for the rules followed here; logscan.h
 * reads each log, this module decides what applies and applies it.
 *
 * Every offset, size and count read from a file is checked against the
 * bytes there; the hive may only grow by as much as the logs hold.
 */
#ifndef DH_RECOVER_H
#define DH_RECOVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "deskheap.h"

/* One log file's bytes, as read by the caller. */
struct dh_log_input {
	const char *path;         /* for messages and for the report */
	const uint8_t *data;
	size_t len;
};

/* What one log offers, whether or not it was used. */
struct dh_log_status {
	const char *path;
	bool usable;
	bool used;                /* at least one of its entries was applied */
	unsigned entries;         /* entries applied from it */
	char *why_not;            /* when !usable or stopped early: the reason */
	unsigned left_out;        /* entries newer than the last applied one
				   * that were not applied */
};

/* Where a new-format replay stopped short of newer entries the logs hold
 * (one bad entry ends the chain, as it does for Windows at boot). */
struct dh_replay_stop {
	size_t log;               /* index in dh_recovery.logs */
	unsigned index;           /* the entry's position in that log, from 1 */
	uint64_t offset;          /* and its offset in the file */
	uint32_t sequence;        /* its sequence number; 0 when unreadable */
	uint32_t after;           /* the last sequence number applied */
	const char *why;          /* why it was not applied */
	unsigned left_out;        /* newer entries not applied, in all logs */
};

struct dh_recovery {
	bool dirty;               /* the primary needed recovery */
	char *dirty_reason;       /* why (regf.c), or NULL when clean */
	unsigned entries_applied; /* log entries (new format) or 1 (old) */
	unsigned pages_applied;   /* dirty pages written into the hive */
	uint32_t last_sequence;   /* base block sequence numbers after replay */
	bool base_block_from_log; /* the primary's base block was damaged */
	struct dh_log_status *logs;
	size_t n_logs;
	struct dh_replay_stop *stop; /* NULL when no newer entry was left out */
};

/*
 * Replay logs[0..n_logs) into fd (open read-write), a copy of the primary
 * hive file: only the pages the logs hold are written (pwrite), the length
 * set (ftruncate) and the base block written last, so a copy whose pages
 * failed to go in is never signed clean; nothing else of it is read or
 * copied. The primary file itself is never touched here.
 * A clean primary is left alone: *out says dirty = false (logs are ignored,
 * as Windows ignores them). A dirty primary with at least one usable log is
 * recovered: sequence numbers both equal to the last applied entry's, bins
 * size the last entry's, checksum recomputed. A dirty primary with no usable
 * log fails with DH_ERR_DIRTY naming each log and why it cannot be used;
 * *out is still set then (what each log offered), and the file is
 * untouched. When a recovery leaves out entries newer than the last one
 * applied (a damaged entry or a gap ends it), (*out)->stop says where it
 * stopped and why, and each log how many it left out. A failed write is
 * DH_ERR_IO and leaves the copy partly
 * written, with its old base block: the caller discards it. The report
 * *out is allocated on mem.
 */
int dh_recover_apply_fd(TALLOC_CTX *mem, int fd, const char *name,
			const struct dh_log_input *logs, size_t n_logs,
			struct dh_recovery **out, struct dh_error **err);

#endif
