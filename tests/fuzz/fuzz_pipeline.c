/*
 * libFuzzer harness over the whole pipeline of `deskheap set`, on memory files,
 * from hive + log bytes to patched bytes, step for step as src/pipeline.c
 * drives it (read_hive, read_dirty, replay_logs, plan, edit or rewrite,
 * stamp, verify; begin_txn and write_out, which deal with the files on
 * disk, have no part here):
 *
 *   read_hive: the primary's bytes in a memory file (the hive file),
 *      dh_regf_read_fd
 *   read_dirty, replay_logs: when the base block is dirty, dh_hive_memfd
 *      (a copy of the hive) and dh_recover_apply_fd into it, which is then
 *      the "source"
 *   plan: dh_hive_open_fd (hivex, read-only), dh_patch_plan (want
 *      {non_interactive = N from the input}), dh_patch_edits and
 *      dh_patch_stamps (the changed keys' times, at a fixed FILETIME)
 *   edit, when the new values fit their data cells: the source copied
 *      (dh_io_copy) into an output memory file, the edits written over it;
 *   rewrite, otherwise (or when the input asks for it, see REWRITE below):
 *      hivex opens the source writable, dh_patch_apply, dh_hive_commit_fd
 *      into the output memory file
 *   stamp: the key times written over the output, its base block's
 *      last-written time set (dh_regf_set_written_time) and, after edit,
 *      the base block marked written (dh_regf_mark_written; hivex did that
 *      after rewrite)
 *   verify: the output re-read: dh_regf_read_fd (clean base block),
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
 *                 fit in place (the path rewrite takes when they do not)
 *   bits 12..31   the requested non-interactive size minus 1: every value
 *                 asks for a size in DH_KB_MIN..DH_KB_MAX (1..1048576 KB)
 *
 * Invariants checked (abort() when broken, which libFuzzer reports as a
 * crash):
 *  - every failing step fails with an error and a message; nothing after
 *    it runs (as in pipeline.c);
 *  - recovery of a dirty primary leaves a clean base block;
 *  - dh_hive_memfd consumes the bytes (*bytes == NULL after);
 *  - a plan has at least one item; each item's after-token holds the
 *    requested non-interactive size and the before-token's other numbers;
 *    after == before exactly when !changed; any_change is the OR of them;
 *    both tokens render (dh_sharedsection_token_text) at their length;
 *  - in-place edits: two per changed item (data, then length), none of
 *    them in the base block or past the end of the source; the output is
 *    the source's length, and every byte of it outside the edits and the
 *    key times is the source's, but for the sequence numbers, last-written
 *    time and checksum of the base block;
 *  - key times: one per changed item, none in the base block, each on the
 *    timestamp of a key record ("nk") of the output whichever way it was
 *    written (hivex keeps a key record where it is), and holding the
 *    stamp's time;
 *  - whenever plan and the writing step succeed (the commit is made even
 *    when nothing changed: the same code must then write back what it
 *    read): the output has a clean base block (checksum right, sequence
 *    numbers equal) whose last-written time is the stamp's, hivex opens
 *    it, and dh_patch_verify finds exactly the planned values in it.
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

/* The time of the change: fixed, so that a run can be replayed. */
#define STAMP_TIME UINT64_C(133485408000000000)   /* 2024-01-01 UTC */

/* What plan hands on to the writing steps. */
struct planned {
	const struct dh_patch *p;
	struct dh_patch_edit *edits;    /* in-place edits, when fit */
	size_t n_edits;
	bool fit;
	struct dh_patch_edit *stamps;   /* the changed keys' times */
	size_t n_stamps;
};

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
		/* as the report shows them */
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

/* verify on the output: all must succeed. */
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
	CHECK(hdr.last_written == STAMP_TIME);
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

static void put_edits(int fd, const struct dh_patch_edit *e, size_t n)
{
	for (size_t i = 0; i < n; i++)
		CHECK(pwrite(fd, e[i].bytes, e[i].len, (off_t)e[i].offset) ==
		      (ssize_t)e[i].len);
}

/* Edits, or key times, that lie past the base block and within len
 * bytes: marked in mask. */
static void mark_edits(uint8_t *mask, size_t len,
		       const struct dh_patch_edit *e, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		CHECK(e[i].offset >= DH_REGF_BASE_BLOCK_SIZE);
		CHECK(e[i].offset <= len && e[i].len <= len - e[i].offset);
		memset(mask + e[i].offset, 1, e[i].len);
	}
}

/* stamp: the key times and the base block's time; renumbered unless
 * hivex, which wrote out, did that already. Each key time on a key. */
static void stamp(int out, const struct planned *w, bool mark)
{
	uint8_t block[DH_REGF_BASE_BLOCK_SIZE], nk[DH_CELL_RECORD + 2];
	size_t changed = 0;

	for (size_t i = 0; i < w->p->n_items; i++)
		changed += w->p->items[i].changed;
	CHECK(w->n_stamps == changed);
	put_edits(out, w->stamps, w->n_stamps);
	for (size_t i = 0; i < w->n_stamps; i++) {
		uint64_t key = w->stamps[i].offset - DH_NK_TIMESTAMP -
			       DH_CELL_RECORD;

		CHECK(w->stamps[i].offset >= DH_REGF_BASE_BLOCK_SIZE);
		CHECK(w->stamps[i].len == 8);
		CHECK(dh_io_pread_full(out, nk, sizeof(nk), (off_t)key) ==
		      (ssize_t)sizeof(nk));
		CHECK(memcmp(nk + DH_CELL_RECORD + DH_NK_SIGNATURE, "nk", 2) == 0);
		CHECK(dh_le64(w->stamps[i].bytes) == STAMP_TIME);
	}
	CHECK(dh_io_pread_full(out, block, sizeof(block), 0) ==
	      (ssize_t)sizeof(block));
	dh_regf_set_written_time(block, STAMP_TIME);
	if (mark)
		dh_regf_mark_written(block);
	CHECK(pwrite(out, block, sizeof(block), 0) == (ssize_t)sizeof(block));
}

/* edit and stamp, then the checks on what they wrote. */
static void write_in_place(int src, int out, const struct planned *w)
{
	uint8_t *before, *after, *mask;
	size_t len, out_len, changed = 0;

	for (size_t i = 0; i < w->p->n_items; i++)
		changed += w->p->items[i].changed;
	CHECK(w->n_edits == 2 * changed);
	before = fuzz_slurp(src, &len);
	mask = calloc(len ? len : 1, 1);
	CHECK(mask != NULL);
	mark_edits(mask, len, w->edits, w->n_edits);
	mark_edits(mask, len, w->stamps, w->n_stamps);
	/* the base block fields that stamp changes: sequence numbers, time */
	memset(mask + DH_REGF_SEQ1, 1, DH_REGF_WRITTEN + 8 - DH_REGF_SEQ1);
	memset(mask + DH_REGF_CHECKSUM_OFFSET, 1, 4);

	CHECK(dh_io_copy(src, out, len) == 0);
	put_edits(out, w->edits, w->n_edits);
	stamp(out, w, true);

	after = fuzz_slurp(out, &out_len);
	CHECK(out_len == len);
	for (size_t i = 0; i < len; i++)
		CHECK(mask[i] || before[i] == after[i]);
	free(after);
	free(mask);
	free(before);
}

/* rewrite: hivex writes the whole edited hive, then stamp. */
static bool rewrite(TALLOC_CTX *mem, int src, int out,
		    const struct planned *w)
{
	struct dh_hive *h = NULL;
	struct dh_error *err = NULL;

	CHECK(w->edits == NULL && w->n_edits == 0);
	if (dh_hive_open_fd(mem, src, "SYSTEM", true, &h, &err) != 0 ||
	    dh_patch_apply(mem, h, w->p, &err) != 0) {
		FAILED(err);
		return false;
	}
	if (dh_hive_commit_fd(mem, h, out, &err) != 0) {
		fprintf(stderr, "fuzz_pipeline: commit: %s\n", err->message);
		CHECK(!"hivex commits the hive it opened");
	}
	talloc_free(h);
	stamp(out, w, false);
	return true;
}

/* read_hive, and when it is dirty read_dirty and replay_logs: the fd to
 * plan on, or -1 when a step failed. */
static int read_source(TALLOC_CTX *mem, const uint8_t *primary, size_t len,
		       const struct dh_log_input *logs, size_t n_logs)
{
	struct dh_regf_header hdr;
	struct dh_recovery *rec = NULL;
	struct dh_error *err = NULL;
	int *copyp = dh_io_fd_owned(mem, fuzz_memfile(primary, len));

	CHECK(copyp != NULL);
	if (dh_regf_read_fd(mem, *copyp, "SYSTEM", &hdr, &err) != 0) {
		FAILED(err);
		return -1;
	}
	if (dh_regf_dirty_reason(mem, &hdr) == NULL)
		return *copyp;
	/* the hive copied in the kernel, the logs replayed into the copy */
	if (dh_hive_memfd(mem, *copyp, "SYSTEM", &copyp, &err) != 0 ||
	    dh_recover_apply_fd(mem, *copyp, "SYSTEM", logs, n_logs, &rec,
				&err) != 0) {
		FAILED(err);
		return -1;
	}
	CHECK(rec->dirty);
	CHECK(dh_regf_read_fd(mem, *copyp, "SYSTEM", &hdr, &err) == 0);
	CHECK(dh_regf_dirty_reason(mem, &hdr) == NULL);
	return *copyp;
}

/* plan, with hivex read-only on the source: false when a step failed. */
static bool plan(TALLOC_CTX *mem, int src, uint32_t flags,
		 struct dh_patch **p, struct planned *w)
{
	static const int sets[4] = { DH_CONTROL_SET_ALL, DH_CONTROL_SET_CURRENT,
				     1, 2 };
	struct dh_values want = { 0, 0, (flags >> 12) + 1 };
	struct dh_hive *h = NULL;
	struct dh_error *err = NULL;
	bool ok;

	if (dh_hive_open_fd(mem, src, "SYSTEM", false, &h, &err) != 0) {
		FAILED(err);
		return false;
	}
	ok = dh_patch_plan(mem, h, sets[(flags >> 2) & 3], &want, p, &err) == 0;
	if (ok) {
		check_plan(mem, *p, want.non_interactive);
		w->p = *p;
	}
	ok = ok && ((flags & REWRITE) ||
		    dh_patch_edits(mem, h, src, *p, &w->edits, &w->n_edits,
				   &w->fit, &err) == 0);
	ok = ok && dh_patch_stamps(mem, h, *p, STAMP_TIME, &w->stamps,
				   &w->n_stamps, &err) == 0;
	if (!ok)
		FAILED(err);
	talloc_free(h);
	return ok;
}

static void pipeline(TALLOC_CTX *mem, const uint8_t *primary, size_t len,
		     const struct dh_log_input *logs, size_t n_logs,
		     uint32_t flags)
{
	struct dh_patch *p = NULL;
	struct planned w = { 0 };
	int src = read_source(mem, primary, len, logs, n_logs), out;

	if (src < 0 || !plan(mem, src, flags, &p, &w))
		return;
	out = memfd_create("fuzz-pipeline-out", MFD_CLOEXEC);
	CHECK(out >= 0);
	if (w.fit)
		write_in_place(src, out, &w);
	else if (!rewrite(mem, src, out, &w)) {
		close(out);
		return;
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
