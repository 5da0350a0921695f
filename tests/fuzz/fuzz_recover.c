/*
 * libFuzzer harness over transaction-log replay (src/recover.c,
 * dh_recover_apply) on arbitrary primary + log bytes. Built and run by
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
 * Each part gets its own heap block of exactly its size (the primary a
 * talloc array, as the API wants), so AddressSanitizer catches a read past
 * the end of any one file.
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

#include <talloc.h>

#include "marvin32.h"
#include "recover.h"
#include "regf.h"

#define HEADER 16u
#define FIX_LOGS 1u
#define FIX_PRIMARY 2u
#define ABSENT 0xFFFFFFFFu

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

#define CHECK(cond)                                                       \
	do {                                                              \
		if (!(cond)) {                                            \
			fprintf(stderr, "fuzz_recover: invariant broken: %s " \
				"(%s:%d)\n", #cond, __FILE__, __LINE__);   \
			abort();                                          \
		}                                                         \
	} while (0)

/* Take up to want bytes from *p (rem bytes left) into a fresh heap block
 * of exactly that size. */
static uint8_t *take(const uint8_t **p, size_t *rem, uint32_t want,
		     size_t *len)
{
	size_t n = want < *rem ? want : *rem;
	uint8_t *b = malloc(n ? n : 1);

	if (b == NULL)
		abort();
	if (n)
		memcpy(b, *p, n);
	*p += n;
	*rem -= n;
	*len = n;
	return b;
}

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void fix_base_block(uint8_t *b, size_t len)
{
	if (len >= 512)
		put32(b + DH_REGF_CHECKSUM_OFFSET, dh_regf_checksum(b));
}

/* Give every HvLE entry of the chain from offset 512 its right hashes:
 * first over its pages (stored at +24), then over its first 32 bytes,
 * which hold the first hash (stored at +32). */
static void fix_log(uint8_t *log, size_t len)
{
	size_t off = 512;

	fix_base_block(log, len);
	while (off < len && len - off >= 40 && memcmp(log + off, "HvLE", 4) == 0) {
		uint8_t *e = log + off;
		uint32_t size = rd32(e + 4);

		if (size < 40 || size > len - off)
			break;
		put64(e + 24, dh_marvin32(e + 40, size - 40,
					  DH_MARVIN32_LOG_SEED));
		put64(e + 32, dh_marvin32(e, 32, DH_MARVIN32_LOG_SEED));
		off += size;
	}
}

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
	const uint8_t *p = data;
	size_t rem = size;
	uint32_t want[3] = { ABSENT, ABSENT, ABSENT }, flags = 0;
	static const char *const names[2] = { "SYSTEM.LOG1", "SYSTEM.LOG2" };
	struct dh_log_input logs[2];
	uint8_t *bufs[2] = { NULL, NULL };
	size_t n_logs = 0, total_logs = 0, primary_len, len;
	TALLOC_CTX *mem;
	uint8_t *primary, *hive;
	struct dh_recovery *rec = NULL;
	struct dh_error *err = NULL;
	int rc;

	if (size >= HEADER) {
		for (int i = 0; i < 3; i++)
			want[i] = rd32(data + 4 * i);
		flags = rd32(data + 12);
		p += HEADER;
		rem -= HEADER;
	}
	primary = take(&p, &rem, want[0], &primary_len);
	if (flags & FIX_PRIMARY)
		fix_base_block(primary, primary_len);
	for (int i = 0; i < 2; i++) {
		size_t n;

		if (want[i + 1] == ABSENT)
			continue;
		bufs[i] = take(&p, &rem, want[i + 1], &n);
		if (flags & FIX_LOGS)
			fix_log(bufs[i], n);
		logs[n_logs++] = (struct dh_log_input){ names[i], bufs[i], n };
		total_logs += n;
	}

	mem = talloc_new(NULL);
	if (mem == NULL)
		abort();
	len = primary_len;
	hive = talloc_array(mem, uint8_t, len);
	if (hive == NULL)
		abort();
	memcpy(hive, primary, len);

	rc = dh_recover_apply(mem, &hive, &len, "SYSTEM", logs, n_logs, &rec,
			      &err);
	if (rc == 0) {
		CHECK(rec != NULL);
		if (rec->dirty) {
			check_recovered(hive, len, primary_len + total_logs,
					rec, n_logs);
		} else {
			CHECK(rec->dirty_reason == NULL);
			CHECK(len == primary_len);
			CHECK(memcmp(hive, primary, len) == 0);
		}
	} else {
		CHECK(rc == -1);
		CHECK(err != NULL && err->message != NULL);
		CHECK(len == primary_len);
		CHECK(memcmp(hive, primary, len) == 0);
	}

	talloc_free(mem);
	free(bufs[0]);
	free(bufs[1]);
	free(primary);
	return 0;
}
