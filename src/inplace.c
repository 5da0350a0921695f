/*
 * The in-place commit: see inplace.h for the steps and why each is safe.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"
#include "failpoint.h"
#include "format.h"
#include "inplace.h"
#include "interrupt.h"
#include "io.h"
#include "logwrite.h"
#include "overlay.h"
#include "regf.h"

/* Bytes compared or copied at a time: a few reads for a whole hive. */
#define CHUNK ((size_t)1 << 20)

/* A log's bytes before step 1, to put back if step 1 fails. */
struct saved_log {
	uint8_t *data;
	size_t len;
};

struct commit {
	TALLOC_CTX *mem;           /* errors */
	TALLOC_CTX *tmp;           /* everything else; freed at the end */
	const struct dh_inplace *w;
	uint8_t *a, *b;            /* CHUNK bytes each */
	uint32_t page;             /* the log format's unit */
	struct dh_log_range *ranges;
	size_t n_ranges, room;
	size_t target_len;         /* base block + the new bins */
	uint8_t base[DH_REGF_BASE_BLOCK_SIZE]; /* the new base block, final */
	uint32_t k;                /* the clean hive's sequence number */
	struct saved_log *saved;
	enum dh_inplace_state state;
};

/* ------------------------------------------------------------------ */
/* Messages and plain steps                                           */

static const char *outcome(struct commit *c)
{
	if (c->state == DH_INPLACE_AS_WAS)
		return DH_UNCHANGED;
	if (c->state == DH_INPLACE_RECONCILED)
		return talloc_asprintf(c->mem, "%s loads as it did: only the pending changes of its logs were written into it, as Windows does when it loads a dirty hive (with --ignore-logs: it was marked clean as it is), before this stopped; the original files are in the backup set, when one was made",
				       c->w->hive_path);
	return talloc_asprintf(c->mem, "the change is decided: %s is marked dirty and %s holds all of it, so Windows completes it when it next loads the hive, and so does the next deskheap run on it (deskheap recover %s)",
			       c->w->hive_path, c->w->logs[0].path,
			       c->w->hive_path);
}

static int failed(struct commit *c, struct dh_error **err, int errnum,
		  const char *what, const char *path)
{
	return dh_error_io(c->mem, err, errnum, outcome(c), "%s %s", what,
			   path);
}

static int file_fd(const struct commit *c, size_t file)
{
	return file == 0 ? c->w->hive : c->w->logs[file - 1].fd;
}

static const char *file_path(const struct commit *c, size_t file)
{
	return file == 0 ? c->w->hive_path : c->w->logs[file - 1].path;
}

/* Add what was just done to the record, when there is one. */
static int note(struct commit *c, enum dh_io_op_kind kind, size_t file,
		uint64_t offset, const void *data, size_t len)
{
	struct dh_io_record *r = c->w->record;
	struct dh_io_op *op;

	if (r == NULL)
		return 0;
	if (r->n == r->room) {
		r->room = r->room ? 2 * r->room : 32;
		r->ops = talloc_realloc(r, r->ops, struct dh_io_op, r->room);
		if (r->ops == NULL)
			goto nomem;
	}
	op = &r->ops[r->n];
	*op = (struct dh_io_op){ kind, file, offset, NULL, len };
	if (data != NULL && (op->data = talloc_memdup(r->ops, data, len)) == NULL)
		goto nomem;
	r->n++;
	return 0;
nomem:
	errno = ENOMEM;
	return -1;
}

static int sync_file(struct commit *c, size_t file, struct dh_error **err)
{
	if (dh_failpoint("fsync") == 0 && fsync(file_fd(c, file)) == 0 &&
	    note(c, DH_IO_SYNC, file, 0, NULL, 0) == 0)
		return 0;
	return failed(c, err, errno, "cannot write to disk", file_path(c, file));
}

static int put(struct commit *c, size_t file, const void *buf, size_t len,
	       off_t off)
{
	if (dh_failpoint("write") != 0 ||
	    dh_io_pwrite_all(file_fd(c, file), buf, len, off) != 0)
		return -1;
	return note(c, DH_IO_WRITE, file, (uint64_t)off, buf, len);
}

static int cut(struct commit *c, size_t file, size_t len)
{
	if (ftruncate(file_fd(c, file), (off_t)len) != 0)
		return -1;
	return note(c, DH_IO_TRUNCATE, file, len, NULL, 0);
}

static int read_block(int fd, uint8_t *block)
{
	ssize_t got = dh_io_pread_full(fd, block, DH_REGF_BASE_BLOCK_SIZE, 0);

	if (got == (ssize_t)DH_REGF_BASE_BLOCK_SIZE)
		return 0;
	if (got >= 0)
		errno = EIO;
	return -1;
}

static void set_seq(uint8_t *block, uint32_t seq1, uint32_t seq2)
{
	dh_put_le32(block + DH_REGF_SEQ1, seq1);
	dh_put_le32(block + DH_REGF_SEQ2, seq2);
	dh_put_le32(block + DH_REGF_CHECKSUM_OFFSET, dh_regf_checksum(block));
}

/* ------------------------------------------------------------------ */
/* Which pages differ                                                 */

/* The units of to's bins that differ from its base (ranges of c), none
 * past the end of_len bytes gives. */
static int find_ranges(struct commit *c, const struct dh_overlay *to,
		       size_t len, struct dh_error **err)
{
	size_t bins = len - DH_REGF_BINS_START;

	if (dh_overlay_ranges(c->tmp, to, c->page, &c->ranges,
			      &c->n_ranges) != 0)
		return failed(c, err, errno, "cannot compare", c->w->hive_path);
	while (c->n_ranges > 0 && c->ranges[c->n_ranges - 1].offset >= bins)
		c->n_ranges--;
	if (c->n_ranges > 0) {
		struct dh_log_range *last = &c->ranges[c->n_ranges - 1];

		if (last->offset + last->size > bins)
			last->size = (uint32_t)(bins - last->offset);
	}
	return 0;
}

/* The piece of r from done on that one read or write moves: its length,
 * and in *at its offset in the file. */
static size_t piece(const struct dh_log_range *r, size_t done, size_t *at)
{
	*at = DH_REGF_BINS_START + r->offset + done;
	return r->size - done < CHUNK ? r->size - done : CHUNK;
}

/* Every range of src written to the same place in the hive. */
static int copy_ranges(struct commit *c, const struct dh_overlay *src)
{
	for (size_t i = 0; i < c->n_ranges; i++)
		for (size_t done = 0, at, n; done < c->ranges[i].size; done += n) {
			n = piece(&c->ranges[i], done, &at);
			if (dh_overlay_read(src, c->a, n, at) != 0 ||
			    put(c, 0, c->a, n, (off_t)at) != 0)
				return -1;
		}
	return 0;
}

/* ------------------------------------------------------------------ */
/* B: a dirty hive brought to the state Windows loads, clean          */

/* --ignore-logs: the hive as it is, marked clean. */
static int give_up_logs(struct commit *c, uint8_t *block,
			struct dh_error **err)
{
	uint32_t a = dh_le32(block + DH_REGF_SEQ1);
	uint32_t b = dh_le32(block + DH_REGF_SEQ2);

	c->k = a > b ? a : b;
	set_seq(block, c->k, c->k);
	c->state = DH_INPLACE_RECONCILED;
	if (put(c, 0, block, DH_REGF_HEADER_SIZE, 0) != 0)
		return failed(c, err, errno, "cannot write", c->w->hive_path);
	return sync_file(c, 0, err);
}

static int reconcile(struct commit *c, struct dh_error **err)
{
	const struct dh_inplace *w = c->w;
	uint8_t live[DH_REGF_BASE_BLOCK_SIZE], rec[DH_REGF_BASE_BLOCK_SIZE];
	struct dh_overlay *to;
	struct stat st;

	if (read_block(w->hive, live) != 0 || fstat(w->hive, &st) != 0)
		return failed(c, err, errno, "cannot read", w->hive_path);
	if (dh_regf_block_clean(live)) {
		c->k = dh_le32(live + DH_REGF_SEQ1);
		return 0;
	}
	if (w->reconciled < 0 && w->ignore_logs)
		return give_up_logs(c, live, err);
	if (w->reconciled < 0)
		return dh_error_set(c->mem, err, DH_ERR_DIRTY,
				    "%s is dirty and its logs were not replayed; %s",
				    w->hive_path, DH_UNCHANGED);
	if (read_block(w->reconciled, rec) != 0)
		return failed(c, err, errno, "cannot read the replayed",
			      w->hive_path);
	c->target_len = dh_regf_hive_len(rec);
	if ((to = dh_overlay_new(c->tmp, w->hive, (size_t)st.st_size)) == NULL)
		return dh_error_nomem(c->mem, err);
	if (dh_overlay_take(to, w->reconciled, c->target_len) != 0)
		return failed(c, err, errno, "cannot compare", w->hive_path);
	if (find_ranges(c, to, c->target_len, err) != 0)
		return -1;
	/* Still dirty: its logs would set this length and these pages. */
	c->state = DH_INPLACE_RECONCILED;
	if ((st.st_size != (off_t)c->target_len &&
	     cut(c, 0, c->target_len) != 0) ||
	    copy_ranges(c, to) != 0)
		return failed(c, err, errno, "cannot write", w->hive_path);
	if (sync_file(c, 0, err) != 0)
		return -1;
	if (put(c, 0, rec, sizeof(rec), 0) != 0)
		return failed(c, err, errno, "cannot write", w->hive_path);
	c->k = dh_le32(rec + DH_REGF_SEQ1);
	return sync_file(c, 0, err);
}

/* ------------------------------------------------------------------ */
/* 1: the logs                                                        */

static int save_logs(struct commit *c, struct dh_error **err)
{
	c->saved = talloc_zero_array(c->tmp, struct saved_log, c->w->n_logs);
	if (c->saved == NULL)
		return dh_error_nomem(c->mem, err);
	for (size_t i = 0; i < c->w->n_logs; i++) {
		const struct dh_inplace_log *l = &c->w->logs[i];
		struct saved_log *s = &c->saved[i];
		struct stat st;

		if (fstat(l->fd, &st) != 0)
			return failed(c, err, errno, "cannot stat", l->path);
		s->len = (size_t)st.st_size;
		s->data = talloc_size(c->saved, s->len ? s->len : 1);
		if (s->data == NULL)
			return dh_error_nomem(c->mem, err);
		if (dh_io_pread_full(l->fd, s->data, s->len, 0) !=
		    (ssize_t)s->len)
			return failed(c, err, errno ? errno : EIO,
				      "cannot read", l->path);
	}
	return 0;
}

/* Step 1 failed: each log gets its old bytes back (no failpoints: this
 * is the undoing). Windows ignores them beside the clean hive either way,
 * so what cannot be put back is only named. */
static void undo_logs(struct commit *c, struct dh_error **err)
{
	for (size_t i = 0; i < c->w->n_logs; i++) {
		const struct dh_inplace_log *l = &c->w->logs[i];
		const struct saved_log *s = &c->saved[i];

		if (dh_io_pwrite_all(l->fd, s->data, s->len, 0) == 0 &&
		    ftruncate(l->fd, (off_t)s->len) == 0 && fsync(l->fd) == 0)
			continue;
		if (err != NULL && *err != NULL && (*err)->message != NULL)
			(*err)->message = talloc_asprintf_append(
				(*err)->message, "; %s could not be put back "
				"as it was (%s): Windows ignores it beside the "
				"clean hive", l->path, strerror(errno));
	}
}

static int put_logs(struct commit *c, const uint8_t *rec, size_t len,
		    struct dh_error **err)
{
	const struct dh_inplace_log *l = c->w->logs;

	if (put(c, 1, rec, len, 0) != 0 || cut(c, 1, len) != 0)
		return failed(c, err, errno, "cannot write", l[0].path);
	for (size_t i = 1; i < c->w->n_logs; i++)
		if (c->saved[i].len != 0 && cut(c, i + 1, 0) != 0)
			return failed(c, err, errno, "cannot empty", l[i].path);
	for (size_t i = 0; i < c->w->n_logs; i++)
		if (sync_file(c, i + 1, err) != 0)
			return -1;
	return 0;
}

static int write_logs(struct commit *c, struct dh_error **err)
{
	uint8_t *rec;
	size_t len;

	if (dh_logwrite_build(c->tmp, c->w->format, c->w->target,
			      c->w->target_path, c->k + 1, c->ranges,
			      c->n_ranges, &rec, &len, err) != 0 ||
	    save_logs(c, err) != 0)
		return -1;
	if (put_logs(c, rec, len, err) == 0)
		return 0;
	undo_logs(c, err);
	return -1;
}

/* ------------------------------------------------------------------ */
/* 2 to 4: the hive                                                   */

/* The new base block, with the sequence number that follows the hive's. */
static int take_target(struct commit *c, struct dh_error **err)
{
	if (dh_overlay_read(c->w->target, c->base, sizeof(c->base), 0) != 0)
		return failed(c, err, errno, "cannot read", c->w->target_path);
	c->target_len = dh_regf_hive_len(c->base);
	if (dh_overlay_len(c->w->target) < c->target_len)
		return dh_error_set(c->mem, err, DH_ERR_VERIFY,
				    "%s is shorter than its base block says; %s",
				    c->w->target_path, DH_UNCHANGED);
	set_seq(c->base, c->k + 1, c->k + 1);
	return 0;
}

static int mark_dirty(struct commit *c, struct dh_error **err)
{
	uint8_t marker[DH_REGF_HEADER_SIZE];

	memcpy(marker, c->base, sizeof(marker));
	set_seq(marker, c->k + 1, c->k);
	/* The last safe point, unless step B has written into the hive:
	 * then it goes on, as past the point of no return. */
	if (c->state == DH_INPLACE_AS_WAS &&
	    dh_interrupt_stop(c->mem, err, c->w->hive_path,
			      "before the hive was written") != 0) {
		undo_logs(c, err);
		return -1;
	}
	dh_interrupt_past_no_return();
	if (put(c, 0, marker, sizeof(marker), 0) != 0) {
		failed(c, err, errno, "cannot write", c->w->hive_path);
		undo_logs(c, err);
		return -1;
	}
	/* From here on a crash loads the new hive: the log completes it. */
	c->state = DH_INPLACE_DECIDED;
	return sync_file(c, 0, err);
}

/* Whether every written range of the hive reads as the target's: 1, 0,
 * or -1 with errno set. */
static int same_ranges(struct commit *c)
{
	for (size_t i = 0; i < c->n_ranges; i++)
		for (size_t done = 0, at, n; done < c->ranges[i].size; done += n) {
			ssize_t got;

			n = piece(&c->ranges[i], done, &at);
			got = dh_io_pread_full(c->w->hive, c->a, n, (off_t)at);
			if (got < 0 || dh_overlay_read(c->w->target, c->b, n, at) != 0)
				return -1;
			if ((size_t)got != n || memcmp(c->a, c->b, n) != 0)
				return 0;
		}
	return 1;
}

/* Every written range, and the base block, read back from the disk. */
static int read_back(struct commit *c, struct dh_error **err)
{
	const struct dh_inplace *w = c->w;
	uint8_t block[DH_REGF_BASE_BLOCK_SIZE];
	int same;

	/* Only the pages written are dropped from the cache and read again
	 * (the kernel drops only the whole pages inside a range it is given). */
	posix_fadvise(w->hive, 0, DH_REGF_BASE_BLOCK_SIZE, POSIX_FADV_DONTNEED);
	for (size_t i = 0; i < c->n_ranges; i++) {
		size_t at = DH_REGF_BINS_START + c->ranges[i].offset;
		size_t from = at / DH_OVERLAY_PAGE * DH_OVERLAY_PAGE;

		posix_fadvise(w->hive, (off_t)from,
			      (off_t)(at + c->ranges[i].size - from +
				      DH_OVERLAY_PAGE - 1) /
			      DH_OVERLAY_PAGE * DH_OVERLAY_PAGE,
			      POSIX_FADV_DONTNEED);
	}
	if (read_block(w->hive, block) != 0)
		return failed(c, err, errno, "cannot read back", w->hive_path);
	same = memcmp(block, c->base, sizeof(block)) == 0 ? same_ranges(c) : 0;
	if (same < 0)
		return failed(c, err, errno, "cannot read back", w->hive_path);
	if (same == 1)
		return 0;
	return dh_error_set(c->mem, err, DH_ERR_VERIFY,
			    "%s does not read back as written: check the disk; its log %s holds the change (deskheap restore puts the backup back)",
			    w->hive_path, w->logs[0].path);
}

static int write_hive(struct commit *c, struct dh_error **err)
{
	const struct dh_inplace *w = c->w;
	struct stat st;

	if (mark_dirty(c, err) != 0)
		return -1;
	if (fstat(w->hive, &st) != 0 ||
	    (st.st_size != (off_t)c->target_len &&
	     cut(c, 0, c->target_len) != 0) ||
	    copy_ranges(c, w->target) != 0)
		return failed(c, err, errno, "cannot write", w->hive_path);
	if (sync_file(c, 0, err) != 0)
		return -1;
	if (put(c, 0, c->base, sizeof(c->base), 0) != 0)
		return failed(c, err, errno, "cannot write", w->hive_path);
	if (sync_file(c, 0, err) != 0)
		return -1;
	return read_back(c, err);
}

static int commit(struct commit *c, struct dh_error **err)
{
	const struct dh_inplace *w = c->w;

	if (w->n_logs == 0 || (w->format != DH_LOG_NEW &&
			       w->format != DH_LOG_OLD))
		return dh_error_set(c->mem, err, DH_ERR_ARGUMENT,
				    "an in-place commit of %s needs a log to write and its format; %s",
				    w->hive_path, DH_UNCHANGED);
	c->page = dh_logwrite_page(w->format);
	c->a = talloc_size(c->tmp, CHUNK);
	c->b = talloc_size(c->tmp, CHUNK);
	if (c->a == NULL || c->b == NULL)
		return dh_error_nomem(c->mem, err);
	if (dh_interrupt_stop(c->mem, err, w->hive_path,
			      "before the hive was written") != 0 ||
	    reconcile(c, err) != 0 || take_target(c, err) != 0)
		return -1;
	if (find_ranges(c, w->target, c->target_len, err) != 0 ||
	    write_logs(c, err) != 0)
		return -1;
	return write_hive(c, err);
}

int dh_inplace_commit(TALLOC_CTX *mem, const struct dh_inplace *w,
		      enum dh_inplace_state *state, struct dh_error **err)
{
	struct commit c = { .mem = mem, .w = w };
	int rc;

	c.tmp = talloc_new(mem);
	rc = c.tmp != NULL ? commit(&c, err) : dh_error_nomem(mem, err);
	*state = c.state;
	talloc_free(c.tmp);
	return rc;
}
