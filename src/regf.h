/*
 * The hive base block (the first 4096 bytes of a hive file): parse, checksum,
 * dirty state. Plain bytes, no hivex; safe on any input.
 */
#ifndef DH_REGF_H
#define DH_REGF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "deskheap.h"
#include "format.h"

struct dh_regf_header {
	uint32_t seq_primary;
	uint32_t seq_secondary;
	uint64_t last_written;     /* FILETIME */
	uint32_t major, minor;
	uint32_t file_type;        /* 0 primary, 1/2 old log, 6 new log */
	uint32_t root_offset;
	uint32_t bins_size;
	uint32_t flags;
	uint32_t checksum_stored;
	uint32_t checksum_computed;
};

/* The checksum of a base block's first 508 bytes, as Windows computes it
 * (XOR of 127 little-endian dwords, 0xFFFFFFFF stored as 0xFFFFFFFE and 0
 * as 1). */
uint32_t dh_regf_checksum(const uint8_t *block);

/* Parse the base block at buf (len bytes available). Fails with
 * DH_ERR_NOT_HIVE, naming `name`, when fewer than 512 bytes are given or the
 * "regf" signature is missing. Does not judge the checksum: see dirty. */
int dh_regf_parse(TALLOC_CTX *mem, const uint8_t *buf, size_t len,
		  const char *name, struct dh_regf_header *out,
		  struct dh_error **err);

/* Why the hive is dirty ("checksum ..." or "sequence numbers ..."), as a
 * message on mem, or NULL when it is clean. */
char *dh_regf_dirty_reason(TALLOC_CTX *mem, const struct dh_regf_header *h);

/* Whether the base block at block (at least 512 bytes) is clean: its
 * checksum right and its two sequence numbers equal, so that Windows loads
 * the file without its logs (a log's base block is valid so). */
bool dh_regf_block_clean(const uint8_t *block);

/* The length of the hive whose base block is at block (at least 512
 * bytes): the base block and the bins its header counts. */
size_t dh_regf_hive_len(const uint8_t *block);

/* Mark a base block as written anew, as hivex and Windows do: both
 * sequence numbers one past the larger, checksum recomputed. The block is
 * at least 512 bytes. */
void dh_regf_mark_written(uint8_t *block);

/* The time now as a Windows FILETIME: 100-nanosecond intervals since
 * 1601-01-01 UTC. */
uint64_t dh_regf_filetime_now(void);

/* Set a base block's last-written time (FILETIME) and recompute its
 * checksum, as Windows does when it writes the hive. The block is at
 * least 512 bytes. */
void dh_regf_set_written_time(uint8_t *block, uint64_t filetime);

/* Read and parse the base block of the file open at fd. */
int dh_regf_read_fd(TALLOC_CTX *mem, int fd, const char *name,
		    struct dh_regf_header *out, struct dh_error **err);

#endif
