/*
 * Test support for the logs deskheap writes: the pages where a changed
 * hive differs from the clean one, and the clean one made dirty the way
 * the in-place commit leaves it before it writes those pages. Plain C (no
 * cmocka): tests/test_logwrite.c and tests/mklogcase.c share it.
 */
#ifndef DH_TESTS_LOGCASE_H
#define DH_TESTS_LOGCASE_H

#include <stddef.h>
#include <stdint.h>
#include <talloc.h>

#include "logscan.h"
#include "logwrite.h"

/* The runs of pages of `page` bytes where the bins of hive nw differ from
 * those of hive old (every page old lacks included), sorted, adjacent
 * pages joined, on mem; *n their count. Both are whole hive files whose
 * base blocks give their bins sizes. NULL when memory runs out. */
struct dh_log_range *logcase_diff(TALLOC_CTX *mem, const uint8_t *old,
				  const uint8_t *nw, uint32_t page, size_t *n);

/* A copy (on mem) of hive old, len bytes, as the in-place commit leaves it
 * before writing pages: first sequence number nw's (the log's), second
 * old's; old format (f): nw's last-written time too, which an old log
 * must share with the primary; checksum recomputed. NULL when memory runs
 * out. */
uint8_t *logcase_dirty(TALLOC_CTX *mem, const uint8_t *old, size_t len,
		       const uint8_t *nw, enum dh_log_format f);

#endif
