/*
 * The input layout the replay harnesses (fuzz_recover, fuzz_pipeline)
 * share: four little-endian 32-bit words, then the files' bytes.
 *   PRIMARY_LEN, LOG1_LEN, LOG2_LEN (0xFFFFFFFF: that log is absent),
 *   FLAGS: bit 0 re-signs each log (base block checksum and both Marvin32
 *   hashes of every HvLE entry) so mutations reach past the hash checks;
 *   bit 1 recomputes the primary's checksum; higher bits are the harness's.
 * Lengths are cut to what is left; an input shorter than the header is all
 * primary. Each file gets a heap block of exactly its size, so a read past
 * its end is caught.
 */
#ifndef FUZZ_INPUT_H
#define FUZZ_INPUT_H

#include <stddef.h>
#include <stdint.h>

#include "recover.h"

#define FUZZ_FIX_LOGS 1u
#define FUZZ_FIX_PRIMARY 2u

struct fuzz_files {
	uint8_t *primary;
	size_t primary_len;
	uint8_t *bufs[2];
	struct dh_log_input logs[2];
	size_t n_logs;
	size_t total_logs;       /* bytes of all logs */
	uint32_t flags;
};

uint32_t fuzz_rd32(const uint8_t *p);

/* Split data into the files; free them with fuzz_files_free(). */
void fuzz_files_split(const uint8_t *data, size_t size, struct fuzz_files *f);

void fuzz_files_free(struct fuzz_files *f);

/* A memory file holding len bytes (a primary, as the hive file a replay
 * copies from); the caller closes it. abort() when it cannot be made. */
int fuzz_memfile(const uint8_t *bytes, size_t len);

/* The whole of the file open at fd, in a heap block of exactly its size
 * (free() it), so a read past its end is caught; abort() on an error. */
uint8_t *fuzz_slurp(int fd, size_t *len);

#endif
