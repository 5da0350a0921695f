/*
 * Writing a transaction log: the bytes of a complete log file holding one
 * record that takes a hive from its present state to a new one, in either
 * format Windows reads (layouts: format.h). What is written here reads
 * back through logscan.h and recover.h exactly, page for page. Nothing is
 * written to any file here: the caller writes the bytes where they go.
 */
#ifndef DH_LOGWRITE_H
#define DH_LOGWRITE_H

#include <stddef.h>
#include <stdint.h>

#include "deskheap.h"
#include "logscan.h"

struct dh_overlay;

/* A run of changed bytes of the new hive, counted from the bins start
 * (file offset DH_REGF_BINS_START); offset and size are multiples of the
 * format's page (dh_logwrite_page()); sorted, not overlapping. */
struct dh_log_range {
	uint32_t offset;
	uint32_t size;
};

/* The unit a log of format f records changes in: DH_HVLE_PAGE (4096) for
 * the new format, DH_DIRT_PAGE (512) for the old; 0 for DH_LOG_NONE. */
uint32_t dh_logwrite_page(enum dh_log_format f);

/*
 * The bytes of a complete log file holding one record that takes a hive to
 * the state `hive` holds (overlay.h; complete: its base block
 * gives the bins size, the flags and the last-written time; hive_path names
 * it in messages), with sequence number seq, recording the ranges
 * r[0..n) (n may be 0: a record of no page, which still sets the bins size
 * and the sequence numbers):
 *  new (DH_LOG_NEW): the hive's first 512 bytes with file type 6, both
 *    sequence numbers seq and the checksum recomputed; then one HvLE entry
 *    (sequence seq, the hive's bins size, bit 0 of its flags, the ranges as
 *    page references followed by their bytes, both Marvin32 hashes), its
 *    size a multiple of 512, the tail zero;
 *  old (DH_LOG_OLD): the same base block copy with file type 1 (it keeps
 *    the hive's last-written time, which an old log must share with the
 *    primary it applies to); "DIRT" and the bitmap (one bit per 512 bytes
 *    of the bins), zero up to the next 512 bytes; then the pages in bit
 *    order.
 * A replay applies it to a primary whose first sequence number is seq and
 * whose second is below it (and, old format, whose last-written time is
 * the hive's), giving the hive's bins byte for byte where the ranges cover
 * every page that differs.
 * *out (on mem) and *len are set on success. DH_ERR_IO, naming hive_path,
 * when it cannot be read or ends before a range does; DH_ERR_NOT_HIVE when
 * it has no base block; DH_ERR_ARGUMENT when f is DH_LOG_NONE or a range is
 * empty, not aligned, out of order, overlapping or outside the bins;
 * DH_ERR_NOMEM.
 */
int dh_logwrite_build(TALLOC_CTX *mem, enum dh_log_format f,
		      const struct dh_overlay *hive,
		      const char *hive_path, uint32_t seq,
		      const struct dh_log_range *r, size_t n,
		      uint8_t **out, size_t *len, struct dh_error **err);

#endif
