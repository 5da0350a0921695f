/*
 * libFuzzer harness over transaction-log replay (src/recover.c,
 * dh_recover_apply_fd, into a memory file holding the primary) on
 * arbitrary primary + log bytes. Built and run by
 * tests/fuzz/run.sh; seeds come from tests/fuzz/mkseeds.sh.
 *
 * Input layout (every input is valid; all numbers little-endian):
 *
 *   bytes 0..3    P:  length of the primary (the hive file)
 *   bytes 4..7    L1: length of LOG1, or 0xFFFFFFFF when there is no LOG1
 *   bytes 8..11   L2: length of LOG2, or 0xFFFFFFFF when there is no LOG2
 *   bytes 12..15  FLAGS: bit 0 (FIX_LOGS): before replay, re-sign each log
 *                 as Windows would have written it: its base block checksum
 *                 (when it has 512 bytes) and both Marvin32 hashes of each
 *                 HvLE entry in the chain from offset 512 (while the entry
 *                 says "HvLE" and its size, at least 40, fits in the log);
 *                 bit 1 (FIX_PRIMARY): recompute the primary's base block
 *                 checksum (when it has 512 bytes); other bits ignored
 *   bytes 16..    P bytes of primary, then L1 bytes of LOG1, then L2 of LOG2
 *
 * Each length is cut to the bytes that remain, so a short input just gives
 * shorter files; bytes after the three parts are ignored. An input shorter
 * than 16 bytes is all primary, with no log and no flag. Present logs are
 * passed in order (LOG1, LOG2), an absent one is left out (0, 1 or 2 logs);
 * a present log of length 0 is passed as an empty file, like an empty
 * SYSTEM.LOG2. Without the FIX flags nearly every mutation of a log is
 * refused at its checksum or hash; with them the fuzzer reaches the checks
 * behind (page offsets, bins sizes, sequence chains, growth limit).
 *
 * Each log gets its own heap block of exactly its size, so
 * AddressSanitizer catches a read past the end of any one file; the
 * primary goes into a memory file, read back whole after the replay.
 *
 * Invariants checked (abort() when broken, which libFuzzer reports as a
 * crash), from src/recover.h:
 *  - success, primary clean: the hive is left alone (same length, bytes);
 *  - success, primary dirty (recovered): "regf" signature, base block
 *    checksum right, both sequence numbers equal to each other and to the
 *    report's last_sequence, length == 4096 + the base block's hive bins
 *    size, the hive grew by no more than the logs hold (length <= P + all
 *    log bytes), at least one entry applied, every log marked used is also
 *    usable and at least one is used;
 *  - failure: an error with a message, and *hive untouched (same length,
 *    same bytes).
 * Everything is freed on return: libFuzzer runs with leak detection.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <talloc.h>

#include "fuzz_input.h"
#include "recover.h"
#include "regf.h"


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                       \
	do {                                                              \
		if (!(cond)) {                                            \
			fprintf(stderr, "fuzz_recover: invariant broken: %s " \
				"(%s:%d)\n", #cond, __FILE__, __LINE__);   \
			abort();                                          \
		}                                                         \
	} while (0)

static void check_recovered(const uint8_t *hive, size_t len, size_t grow_max,
			    const struct dh_recovery *rec, size_t n_logs)
{
	struct dh_regf_header h;
	bool any_used = false;

	CHECK(len >= DH_REGF_BASE_BLOCK_SIZE);
	CHECK(dh_regf_parse(NULL, hive, len, "SYSTEM", &h, NULL) == 0);
	CHECK(h.checksum_stored == h.checksum_computed);
	CHECK(h.seq_primary == h.seq_secondary);
	CHECK(h.seq_primary == rec->last_sequence);
	CHECK(len == (size_t)DH_REGF_BASE_BLOCK_SIZE + h.bins_size);
	CHECK(len <= grow_max);
	CHECK(rec->entries_applied >= 1);
	CHECK(rec->n_logs == n_logs);
	for (size_t i = 0; i < rec->n_logs; i++) {
		CHECK(!rec->logs[i].used || rec->logs[i].usable);
		any_used |= rec->logs[i].used;
	}
	CHECK(any_used);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_files f;
	struct dh_recovery *rec = NULL;
	struct dh_error *err = NULL;
	TALLOC_CTX *mem;
	uint8_t *hive;
	size_t len;
	int fd, rc;

	fuzz_files_split(data, size, &f);
	mem = talloc_new(NULL);
	if (mem == NULL)
		abort();
	fd = fuzz_memfile(f.primary, f.primary_len);
	rc = dh_recover_apply_fd(mem, fd, "SYSTEM", f.logs, f.n_logs, &rec,
				 &err);
	hive = fuzz_slurp(fd, &len);
	close(fd);
	if (rc == 0) {
		CHECK(rec != NULL);
		if (rec->dirty) {
			check_recovered(hive, len, f.primary_len + f.total_logs,
					rec, f.n_logs);
		} else {
			CHECK(rec->dirty_reason == NULL);
			CHECK(len == f.primary_len);
			CHECK(memcmp(hive, f.primary, len) == 0);
		}
	} else {
		CHECK(rc == -1);
		CHECK(err != NULL && err->message != NULL);
		CHECK(len == f.primary_len);
		CHECK(memcmp(hive, f.primary, len) == 0);
	}

	free(hive);
	talloc_free(mem);
	fuzz_files_free(&f);
	return 0;
}
