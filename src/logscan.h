/*
 * What one transaction log offers a dirty hive: its format and, from
 * untrusted bytes, the records a replay may use. Reading only: every
 * offset, size and count is checked against the bytes that are there
 * before it is used; nothing is written. recover.c decides which of them
 * apply and applies them. Layouts: format.h.
 */
#ifndef DH_LOGSCAN_H
#define DH_LOGSCAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "deskheap.h"

enum dh_log_format { DH_LOG_NONE, DH_LOG_OLD, DH_LOG_NEW };

/* One new-format (HvLE) entry, pointing into its log. */
struct dh_hvle {
	const uint8_t *p;       /* the entry, within its log */
	uint32_t size;
	uint32_t flags;
	uint32_t seq;
	uint32_t bins_size;
	uint32_t n_pages;       /* its page references */
};

/* A new-format log: its sound entries, the valid ones first. */
struct dh_new_log {
	struct dh_hvle *entries;
	size_t n;               /* valid: hashes right, sequence unbroken */
	size_t parsed;          /* sound: fields within the log */
	const char *stop;       /* why the scan stopped, when not at the end */
	size_t bad_off;         /* where an entry that could not be parsed
				 * begins, else 0 */
};

/* An old-format log: its DIRT bitmap and the dirty pages it holds. */
struct dh_old_log {
	const uint8_t *bitmap;  /* one bit per DH_DIRT_PAGE of the bins */
	const uint8_t *pages;   /* n_pages of them, in bit order */
	uint32_t bins_size;
	uint32_t n_pages;
	uint32_t seq;           /* its base block's sequence number */
};

struct dh_logscan {
	enum dh_log_format format;
	struct dh_new_log new_log;  /* when format is DH_LOG_NEW */
	struct dh_old_log old_log;  /* when format is DH_LOG_OLD */
};

/* The format a log's base block declares: DH_LOG_NONE when the log is
 * empty, its base block damaged (signature, checksum, or sequence numbers
 * that differ) or of another file type. Looks at nothing else. */
enum dh_log_format dh_logscan_format(const uint8_t *data, size_t len);

/*
 * Scan the log data[0..len) for a primary whose base block is primary (at
 * least DH_REGF_HEADER_SIZE bytes; primary_valid: its checksum is right;
 * primary_seq2: its secondary sequence number, 0 when it is damaged).
 * Returns NULL when the log is usable, with out->format DH_LOG_NEW or
 * DH_LOG_OLD (a new-format log's stop then says why it holds no more valid
 * entries, or is NULL); else why not, a static string, with out->format
 * DH_LOG_NONE. A new-format log's entries are allocated on mem; they are
 * kept (parsed counts them) even when the log is not usable, so that a
 * replay can tell which newer entries it left out.
 */
const char *dh_logscan(TALLOC_CTX *mem, const uint8_t *data, size_t len,
		       const uint8_t *primary, bool primary_valid,
		       uint32_t primary_seq2, struct dh_logscan *out);

#endif
