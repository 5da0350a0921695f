/*
 * libFuzzer harness over the whole pipeline of `deskheap set`, on memory files,
 * from hive + log bytes to patched bytes, step for step as src/run.c
 * drives it (check_dirty, write_replayed, plan, prepare_edits,
 * write_edited / write_patched, verify_patched):
 *
 *   the primary's bytes in a memory file (the hive file) -> dh_regf_read_fd
 *   -> when the base block is dirty: dh_hive_memfd (a copy, as run.c's
 *      write_replayed copies the hive into the new file) and
 *      dh_recover_apply_fd into it, which is then the "source"
 *   -> dh_hive_open_fd (hivex, read-only) -> dh_patch_plan
 *      (want {non_interactive = N from the input})
 *   -> dh_patch_edits: when the new values fit their data cells, the
 *      source is copied (dh_io_copy) into an output memory file, the edits
 *      are written over it and its base block is marked written
 *      (dh_regf_mark_written), as run.c's write_edited does;
 *      otherwise (or when the input asks for it, see REWRITE below) hivex
 *      opens the source writable, dh_patch_apply, dh_hive_commit_fd into
 *      the output memory file, as run.c's write_patched does
 *   -> the output re-read: dh_regf_read_fd (clean base block),
 *      dh_hive_open_fd, dh_patch_verify.
 *
 * Built and run by tests/fuzz/run.sh pipeline; seeds come from
 * tests/fuzz/mkseeds.sh (those of fuzz_recover plus every clean SYSTEM
 * fixture). hivex is linked as installed, not instrumented: what it does
 * wrong inside itself is not seen, but every byte it hands back is, and
 * its leaks are (LeakSanitizer sees every malloc).
 *
 * Input layout: that of fuzz_recover.c (same header, same parts, same
 * FIX_LOGS / FIX_PRIMARY bits 0 and 1), with more of FLAGS used:
 *
 *   bits 2..3     which control sets: 0 all, 1 the current one (Select),
 *                 2 ControlSet001, 3 ControlSet002
 *   bit 4         REWRITE: let hivex rewrite the hive even when the values
 *                 fit in place (the path run.c takes when they do not)
 *   bits 12..31   the requested non-interactive size minus 1: every value
 *                 asks for a size in DH_KB_MIN..DH_KB_MAX (1..1048576 KB)
 *
 * Invariants checked (abort() when broken, which libFuzzer reports as a
 * crash):
 *  - every failing step fails with an error and a message; nothing after
 *    it runs (as in run.c);
 *  - recovery of a dirty primary leaves a clean base block;
 *  - dh_hive_memfd consumes the bytes (*bytes == NULL after);
 *  - a plan has at least one item; each item's after-token holds the
 *    requested non-interactive size and the before-token's other numbers;
 *    after == before exactly when !changed; any_change is the OR of them;
 *    both tokens render (dh_sharedsection_token_text) at their length;
 *  - in-place edits: two per changed item (data, then length), none of
 *    them in the base block or past the end of the source; the output is
 *    the source's length, and every byte of it outside the edits is the
 *    source's, but for the sequence numbers and checksum of the base block;
 *  - whenever plan and the writing step succeed (the commit is made even
 *    when nothing changed: the same code must then write back what it
 *    read): the output has a clean base block (checksum right, sequence
 *    numbers equal), hivex opens it, and dh_patch_verify finds exactly the
 *    planned values in it.
 * Everything is freed on return: libFuzzer runs with leak detection.
 */
#include "config.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <talloc.h>

#include "error.h"
#include "hive.h"
#include "fuzz_input.h"
#include "io.h"
#include "patch.h"
#include "recover.h"
#include "regf.h"
#include "sharedsection.h"

#define REWRITE 16u

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                       \
	do {                                                              \
		if (!(cond)) {                                            \
			fprintf(stderr, "fuzz_pipeline: invariant broken: " \
				"%s (%s:%d)\n", #cond, __FILE__, __LINE__); \
			abort();                                          \
		}                                                         \
	} while (0)

/* A failed step: an error with a message. */
#define FAILED(err) CHECK((err) != NULL && (err)->message != NULL)

static bool same_value(const struct dh_winvalue *a, const struct dh_winvalue *b)
{
	return a->type == b->type && a->n_units == b->n_units &&
	       (a->n_units == 0 ||
		memcmp(a->units, b->units, a->n_units * sizeof(uint16_t)) == 0);
}

static void check_plan(TALLOC_CTX *mem, const struct dh_patch *p,
		       uint32_t ni)
{
	bool any = false;
	char *text;

	CHECK(p->n_items >= 1);
	for (size_t i = 0; i < p->n_items; i++) {
		const struct dh_patch_item *it = &p->items[i];
		const struct dh_values *b = &it->tok_before.values;
		const struct dh_values *a = &it->tok_after.values;

		CHECK(a->non_interactive == ni);
		CHECK(a->shared == b->shared && a->interactive == b->interactive);
		CHECK(it->changed == (b->non_interactive != ni));
		CHECK(it->changed == !same_value(&it->before, &it->after));
		any |= it->changed;
		/* as run.c shows them */
		text = dh_sharedsection_token_text(mem, it->before.units,
						   &it->tok_before);
		CHECK(text != NULL && strlen(text) == it->tok_before.len);
		talloc_free(text);
		text = dh_sharedsection_token_text(mem, it->after.units,
						   &it->tok_after);
		CHECK(text != NULL && strlen(text) == it->tok_after.len);
		talloc_free(text);
	}
	CHECK(p->any_change == any);
}

/* run.c's verify_patched on the output: all must succeed. */
static void check_output(TALLOC_CTX *mem, int out, const struct dh_patch *p)
{
	struct dh_regf_header hdr;
	struct dh_hive *back = NULL;
	struct dh_error *err = NULL;
	int rc;

	rc = dh_regf_read_fd(mem, out, "written", &hdr, &err);
	if (rc != 0)
		fprintf(stderr, "fuzz_pipeline: read back: %s\n", err->message);
	CHECK(rc == 0);
	CHECK(dh_regf_dirty_reason(mem, &hdr) == NULL);
	rc = dh_hive_open_fd(mem, out, "written", false, &back, &err);
	if (rc != 0)
		fprintf(stderr, "fuzz_pipeline: re-open: %s\n", err->message);
	CHECK(rc == 0);
	rc = dh_patch_verify(mem, back, p, &err);
	if (rc != 0)
		fprintf(stderr, "fuzz_pipeline: verify: %s\n", err->message);
	CHECK(rc == 0);
	talloc_free(back);
}

/* run.c's write_edited, then the checks on what it wrote. */
static void write_in_place(int src, int out, const struct dh_patch *p,
			   const struct dh_patch_edit *edits, size_t n)
{
	uint8_t block[DH_REGF_BASE_BLOCK_SIZE], *before, *after, *mask;
	size_t len, out_len, changed = 0;

	for (size_t i = 0; i < p->n_items; i++)
		changed += p->items[i].changed;
	CHECK(n == 2 * changed);
	before = fuzz_slurp(src, &len);
	mask = calloc(len ? len : 1, 1);
	CHECK(mask != NULL);
	for (size_t i = 0; i < n; i++) {
		CHECK(edits[i].offset >= DH_REGF_BASE_BLOCK_SIZE);
		CHECK(edits[i].offset <= len && edits[i].len <= len - edits[i].offset);
		memset(mask + edits[i].offset, 1, edits[i].len);
	}
	/* the base block fields that mark_written changes */
	memset(mask + 4, 1, 8);
	memset(mask + DH_REGF_CHECKSUM_OFFSET, 1, 4);

	CHECK(dh_io_copy(src, out, len) == 0);
	for (size_t i = 0; i < n; i++)
		CHECK(pwrite(out, edits[i].bytes, edits[i].len,
			     (off_t)edits[i].offset) == (ssize_t)edits[i].len);
	CHECK(dh_io_pread_full(out, block, sizeof(block), 0) ==
	      (ssize_t)sizeof(block));
	dh_regf_mark_written(block);
	CHECK(pwrite(out, block, sizeof(block), 0) == (ssize_t)sizeof(block));

	after = fuzz_slurp(out, &out_len);
	CHECK(out_len == len);
	for (size_t i = 0; i < len; i++)
		CHECK(mask[i] || before[i] == after[i]);
	free(after);
	free(mask);
	free(before);
}

static void pipeline(TALLOC_CTX *mem, const uint8_t *primary, size_t len,
		     const struct dh_log_input *logs, size_t n_logs,
		     uint32_t flags)
{
	static const int sets[4] = { DH_CONTROL_SET_ALL, DH_CONTROL_SET_CURRENT,
				     1, 2 };
	struct dh_values want = { 0, 0, (flags >> 12) + 1 };
	struct dh_regf_header hdr;
	struct dh_recovery *rec = NULL;
	struct dh_hive *h = NULL;
	struct dh_patch *p = NULL;
	struct dh_patch_edit *edits = NULL;
	struct dh_error *err = NULL;
	size_t n_edits = 0;
	bool fit = false;
	int *copyp, src, out;

	/* run.c: check_dirty */
	copyp = dh_io_fd_owned(mem, fuzz_memfile(primary, len));
	CHECK(copyp != NULL);
	src = *copyp;
	if (dh_regf_read_fd(mem, src, "SYSTEM", &hdr, &err) != 0) {
		FAILED(err);
		return;
	}
	/* run.c: write_replayed (dirty): the hive copied in the kernel, the
	 * logs replayed into the copy, which is then the source */
	if (dh_regf_dirty_reason(mem, &hdr) != NULL) {
		if (dh_hive_memfd(mem, src, "SYSTEM", &copyp, &err) != 0 ||
		    dh_recover_apply_fd(mem, *copyp, "SYSTEM", logs, n_logs,
					&rec, &err) != 0) {
			FAILED(err);
			return;
		}
		CHECK(rec->dirty);
		src = *copyp;
		CHECK(dh_regf_read_fd(mem, src, "SYSTEM", &hdr, &err) == 0);
		CHECK(dh_regf_dirty_reason(mem, &hdr) == NULL);
	}

	/* run.c: plan (hivex read-only on the source) */
	if (dh_hive_open_fd(mem, src, "SYSTEM", false, &h, &err) != 0) {
		FAILED(err);
		return;
	}

	/* run.c: run_patch */
	if (dh_patch_plan(mem, h, sets[(flags >> 2) & 3], &want, &p,
			  &err) != 0) {
		FAILED(err);
		return;
	}
	check_plan(mem, p, want.non_interactive);

	/* run.c: commit_patch */
	if (!(flags & REWRITE) &&
	    dh_patch_edits(mem, h, src, p, &edits, &n_edits, &fit, &err) != 0) {
		FAILED(err);
		return;
	}
	TALLOC_FREE(h);
	out = memfd_create("fuzz-pipeline-out", MFD_CLOEXEC);
	CHECK(out >= 0);
	if (fit) {
		write_in_place(src, out, p, edits, n_edits);
	} else {
		CHECK(edits == NULL && n_edits == 0);
		if (dh_hive_open_fd(mem, src, "SYSTEM", true, &h, &err) != 0 ||
		    dh_patch_apply(mem, h, p, &err) != 0) {
			FAILED(err);
			close(out);
			return;
		}
		if (dh_hive_commit_fd(mem, h, out, &err) != 0) {
			fprintf(stderr, "fuzz_pipeline: commit: %s\n",
				err->message);
			CHECK(!"hivex commits the hive it opened");
		}
		TALLOC_FREE(h);
	}
	check_output(mem, out, p);
	close(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_files f;
	TALLOC_CTX *mem;

	fuzz_files_split(data, size, &f);
	mem = talloc_new(NULL);
	if (mem == NULL)
		abort();
	pipeline(mem, f.primary, f.primary_len, f.logs, f.n_logs, f.flags);

	talloc_free(mem);
	fuzz_files_free(&f);
	return 0;
}
