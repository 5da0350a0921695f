#include "config.h"

#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"
#include "io.h"
#include "logscan.h"
#include "recover.h"
#include "regf.h"

struct replay {
	TALLOC_CTX *mem;
	struct dh_recovery *rec;
	const struct dh_log_input *logs;
	size_t n_logs;
	const uint8_t *primary; /* its base block (DH_REGF_HEADER_SIZE bytes) */
	bool primary_valid;     /* its base block checksum is right */
	uint32_t primary_seq2;
	size_t grow_limit;      /* the hive may not outgrow what logs hold */
	struct dh_logscan *scans;
	int fd;                 /* the copy the hive is recovered into */
	size_t len;             /* its length so far */
	uint8_t base[DH_REGF_HEADER_SIZE]; /* its base block, written last */
};

static void scan_logs(struct replay *r)
{
	for (size_t i = 0; i < r->n_logs; i++) {
		struct dh_log_status *st = &r->rec->logs[i];
		struct dh_logscan *sc = &r->scans[i];
		const char *why = dh_logscan(r->scans, r->logs[i].data,
					     r->logs[i].len, r->primary,
					     r->primary_valid, r->primary_seq2,
					     sc);

		st->path = r->logs[i].path;
		st->usable = sc->format != DH_LOG_NONE;
		st->why_not = (char *)(sc->format == DH_LOG_NEW ?
				       sc->new_log.stop : why);
	}
}

/* The base block replay starts from: the primary's, or when that is
 * damaged, the copy in the log (made a primary again). */
static void take_base_block(struct replay *r, size_t log)
{
	if (r->primary_valid)
		return;
	memcpy(r->base, r->logs[log].data, DH_REGF_HEADER_SIZE);
	dh_put_le32(r->base + DH_REGF_TYPE, DH_REGF_TYPE_PRIMARY);
	r->rec->base_block_from_log = true;
}

static int resize(struct replay *r, uint32_t bins_size)
{
	size_t want = (size_t)DH_REGF_BINS_START + bins_size;

	if (want == r->len)
		return 0;
	if (ftruncate(r->fd, (off_t)want) != 0)
		return -1;
	r->len = want;
	return 0;
}

/* Sequence numbers, size and checksum, then the block itself: the last
 * write, so a hive whose pages failed to go in is never signed clean. */
static int finish_base_block(struct replay *r, uint32_t seq, uint32_t bins_size)
{
	dh_put_le32(r->base + DH_REGF_SEQ1, seq);
	dh_put_le32(r->base + DH_REGF_SEQ2, seq);
	dh_put_le32(r->base + DH_REGF_BINS_SIZE, bins_size);
	dh_put_le32(r->base + DH_REGF_CHECKSUM_OFFSET, dh_regf_checksum(r->base));
	return dh_io_pwrite_all(r->fd, r->base, sizeof(r->base), 0);
}

static int apply_entry(struct replay *r, const struct dh_hvle *e)
{
	const uint8_t *ref = e->p + DH_HVLE_HEADER;
	const uint8_t *data = ref + (size_t)DH_HVLE_REF_LEN * e->n_pages;
	uint32_t flags;

	if (resize(r, e->bins_size) != 0)
		return -1;
	for (uint32_t i = 0; i < e->n_pages; i++, ref += DH_HVLE_REF_LEN) {
		uint32_t at = dh_le32(ref + DH_HVLE_REF_OFFSET);
		uint32_t sz = dh_le32(ref + DH_HVLE_REF_SIZE);

		if (dh_io_pwrite_all(r->fd, data, sz,
				     (off_t)DH_REGF_BINS_START + at) != 0)
			return -1;
		data += sz;
	}
	flags = (dh_le32(r->base + DH_REGF_FLAGS) & ~1u) | (e->flags & 1u);
	dh_put_le32(r->base + DH_REGF_FLAGS, flags);
	r->rec->pages_applied += e->n_pages;
	r->rec->entries_applied++;
	r->rec->last_sequence = e->seq;
	return 0;
}

static uint32_t first_seq(const struct replay *r, size_t log)
{
	return r->scans[log].new_log.entries[0].seq;
}

/* Order of the usable new-format logs: the one holding earlier entries
 * first. */
static size_t new_log_order(struct replay *r, size_t *order)
{
	size_t n = 0;

	for (size_t i = 0; i < r->n_logs; i++) {
		size_t j;

		if (r->scans[i].format != DH_LOG_NEW)
			continue;
		for (j = n; j > 0 && first_seq(r, order[j - 1]) > first_seq(r, i);
		     j--)
			order[j] = order[j - 1];
		order[j] = i;
		n++;
	}
	return n;
}

/* Which entries apply, without touching the hive: a chain of sequence
 * numbers, each the previous plus one, continuing from one log into the
 * next, stopping at a gap or where the hive would grow beyond the logs. */
static size_t plan_new(struct replay *r, const size_t *order, size_t n_order,
		       const struct dh_hvle **plan, size_t *from)
{
	size_t n = 0;
	uint32_t last = 0;

	for (size_t k = 0; k < n_order; k++) {
		const struct dh_new_log *l = &r->scans[order[k]].new_log;

		for (size_t i = 0; i < l->n; i++) {
			const struct dh_hvle *e = &l->entries[i];

			if (n > 0 && e->seq <= last)
				continue;
			if (n > 0 && e->seq != last + 1)
				return n;
			if ((size_t)e->bins_size > r->grow_limit) {
				r->rec->logs[order[k]].why_not =
					"an entry grows the hive beyond what the logs hold";
				return n;
			}
			plan[n] = e;
			from[n++] = order[k];
			last = e->seq;
		}
	}
	return n;
}

/* Count, per log, the sound entries newer than seq (none was applied). */
static unsigned count_left_out(struct replay *r, uint32_t seq)
{
	unsigned total = 0;

	for (size_t i = 0; i < r->n_logs; i++) {
		const struct dh_new_log *l = &r->scans[i].new_log;

		for (size_t j = 0; j < l->parsed; j++)
			r->rec->logs[i].left_out += l->entries[j].seq > seq;
		total += r->rec->logs[i].left_out;
	}
	return total;
}

/* The entry at j of log i, as where the replay stopped. */
static void stop_at(struct replay *r, size_t i, size_t j, const char *why)
{
	const struct dh_hvle *e = &r->scans[i].new_log.entries[j];
	struct dh_replay_stop *s = r->rec->stop;

	s->log = i;
	s->index = (unsigned)j + 1;
	s->offset = (uint64_t)(e->p - r->logs[i].data);
	s->sequence = e->seq;
	s->why = why;
}

/* Where the chain broke after the last applied entry (log li, entry k):
 * the next newer entry of that log, or an entry there that could not be
 * parsed, or else the oldest newer entry of another log, whose sequence
 * number does not follow. */
static void find_stop(struct replay *r, size_t li, size_t k)
{
	const struct dh_new_log *l = &r->scans[li].new_log;
	uint32_t seq = l->entries[k].seq;
	size_t bi = SIZE_MAX, bj = 0;

	for (size_t j = k + 1; j < l->parsed; j++) {
		if (l->entries[j].seq > seq) {
			stop_at(r, li, j, j < l->n ? r->rec->logs[li].why_not
						   : l->stop);
			return;
		}
	}
	if (l->bad_off != 0) {
		*r->rec->stop = (struct dh_replay_stop){
			li, (unsigned)l->parsed + 1, l->bad_off, 0, 0, l->stop, 0 };
		return;
	}
	for (size_t i = 0; i < r->n_logs; i++) {
		const struct dh_new_log *o = &r->scans[i].new_log;

		for (size_t j = 0; j < o->parsed; j++)
			if (o->entries[j].seq > seq &&
			    (bi == SIZE_MAX || o->entries[j].seq <
				r->scans[bi].new_log.entries[bj].seq))
				bi = i, bj = j;
	}
	/* there is one: the caller counted it */
	stop_at(r, bi, bj, bj < r->scans[bi].new_log.n ?
		"its sequence number does not follow the last one applied" :
		r->scans[bi].new_log.stop);
}

/* After a replay whose last entry was e, from log li: whether newer
 * entries were left out, where and why. */
static int note_stop(struct replay *r, const struct dh_hvle *e, size_t li)
{
	unsigned left_out = count_left_out(r, e->seq);

	if (left_out == 0)
		return 0;
	r->rec->stop = talloc_zero(r->rec, struct dh_replay_stop);
	if (r->rec->stop == NULL)
		return -1;
	find_stop(r, li, (size_t)(e - r->scans[li].new_log.entries));
	r->rec->stop->after = e->seq;
	r->rec->stop->left_out = left_out;
	return 0;
}

static int replay_new(struct replay *r)
{
	size_t total = 0, n_order, n;
	size_t *order = talloc_array(r->mem, size_t, r->n_logs);
	const struct dh_hvle **plan;
	size_t *from;

	for (size_t i = 0; i < r->n_logs; i++)
		total += r->scans[i].new_log.n;
	plan = talloc_array(r->mem, const struct dh_hvle *, total);
	from = talloc_array(r->mem, size_t, total);
	if (order == NULL || plan == NULL || from == NULL) {
		errno = ENOMEM;
		return -1;
	}
	n_order = new_log_order(r, order);
	n = plan_new(r, order, n_order, plan, from);
	if (n == 0)
		return 1;
	take_base_block(r, from[0]);
	for (size_t i = 0; i < n; i++) {
		if (apply_entry(r, plan[i]) != 0)
			return -1;
		r->rec->logs[from[i]].used = true;
		r->rec->logs[from[i]].entries++;
	}
	if (note_stop(r, plan[n - 1], from[n - 1]) != 0) {
		errno = ENOMEM;
		return -1;
	}
	return finish_base_block(r, r->rec->last_sequence,
				 plan[n - 1]->bins_size);
}

/* Of the usable old-format logs, the newest (highest sequence). */
static int pick_old(struct replay *r)
{
	int best = -1;

	for (size_t i = 0; i < r->n_logs; i++)
		if (r->scans[i].format == DH_LOG_OLD &&
		    (best < 0 ||
		     r->scans[i].old_log.seq > r->scans[best].old_log.seq))
			best = (int)i;
	return best;
}

/* Runs of dirty 512-byte pages, each run one write: consecutive bits are
 * consecutive pages in the log too. */
static int write_dirty_pages(struct replay *r, const struct dh_old_log *l)
{
	const uint8_t *page = l->pages;
	uint32_t bits = l->bins_size / DH_DIRT_PAGE;

	for (uint32_t bit = 0; bit < bits;) {
		uint32_t end = bit;

		while (end < bits && (l->bitmap[end / 8] & (1u << (end % 8))))
			end++;
		if (end == bit) {
			bit++;
			continue;
		}
		if (dh_io_pwrite_all(r->fd, page, (size_t)(end - bit) * DH_DIRT_PAGE,
				     (off_t)DH_REGF_BINS_START +
				     (off_t)bit * DH_DIRT_PAGE) != 0)
			return -1;
		page += (size_t)(end - bit) * DH_DIRT_PAGE;
		bit = end;
	}
	return 0;
}

static int replay_old(struct replay *r)
{
	int i = pick_old(r);
	const struct dh_old_log *l;
	uint32_t seq;

	if (i < 0)
		return 1;
	l = &r->scans[i].old_log;
	if ((size_t)l->bins_size > r->grow_limit) {
		r->rec->logs[i].why_not = "it grows the hive beyond what the logs hold";
		return 1;
	}
	take_base_block(r, (size_t)i);
	seq = dh_le32(r->base + DH_REGF_SEQ1);
	if (resize(r, l->bins_size) != 0 || write_dirty_pages(r, l) != 0)
		return -1;
	r->rec->pages_applied = l->n_pages;
	r->rec->entries_applied = 1;
	r->rec->last_sequence = seq;
	r->rec->logs[i].used = true;
	r->rec->logs[i].entries = 1;
	return finish_base_block(r, seq, l->bins_size);
}

static int refuse(struct replay *r, const char *name, struct dh_error **err)
{
	char *why = talloc_asprintf(r->mem, "%s is dirty (%s) and no transaction log can be replayed",
				    name, r->rec->dirty_reason);

	if (r->n_logs == 0)
		why = talloc_asprintf_append(why, " (no %s.LOG, .LOG1 or .LOG2 beside it)", name);
	for (size_t i = 0; why != NULL && i < r->n_logs; i++)
		why = talloc_asprintf_append(why, "; %s: %s", r->logs[i].path,
					     r->rec->logs[i].why_not ?
					     r->rec->logs[i].why_not : "not needed");
	if (why == NULL)
		return dh_error_set(r->mem, err, DH_ERR_NOMEM, "out of memory");
	return dh_error_set(r->mem, err, DH_ERR_DIRTY,
			    "%s. Its newest changes are not in the hive file: boot Windows once and shut it down fully, or pass --ignore-logs to accept losing them",
			    why);
}

static int replay_init(TALLOC_CTX *mem, struct replay *r, const uint8_t *head,
		       size_t len, const struct dh_log_input *logs,
		       size_t n_logs)
{
	size_t total = 0;

	r->rec = talloc_zero(mem, struct dh_recovery);
	if (r->rec == NULL)
		return -1;
	r->mem = r->rec;
	r->logs = logs;
	r->n_logs = n_logs;
	r->primary = head;
	r->len = len;
	memcpy(r->base, head, sizeof(r->base));
	r->primary_valid = dh_le32(head + DH_REGF_CHECKSUM_OFFSET) ==
			   dh_regf_checksum(head);
	/* A damaged base block's sequence numbers mean nothing: the log's
	 * own copy replaces it, so nothing can be judged stale against it. */
	r->primary_seq2 = r->primary_valid ? dh_le32(head + DH_REGF_SEQ2) : 0;
	for (size_t i = 0; i < n_logs; i++)
		total += logs[i].len;
	r->grow_limit = (len > DH_REGF_BINS_START ? len - DH_REGF_BINS_START : 0) +
			 total;
	r->rec->logs = talloc_zero_array(r->rec, struct dh_log_status, n_logs);
	r->rec->n_logs = n_logs;
	r->scans = talloc_zero_array(r->rec, struct dh_logscan, n_logs);
	if (n_logs > 0 && (r->rec->logs == NULL || r->scans == NULL))
		return -1;
	return 0;
}

static int recover_dirty(struct replay *r, const char *name,
			 struct dh_error **err)
{
	bool any_new = false;
	int rc;

	scan_logs(r);
	for (size_t i = 0; i < r->n_logs; i++)
		any_new |= r->scans[i].format == DH_LOG_NEW;
	rc = any_new ? replay_new(r) : replay_old(r);
	if (rc < 0)
		return dh_error_errno(r->mem, err,
				      errno == ENOMEM ? DH_ERR_NOMEM : DH_ERR_IO,
				      errno, "cannot write the recovered copy of %s",
				      name);
	if (rc > 0)
		return refuse(r, name, err);
	return 0;
}

int dh_recover_apply_fd(TALLOC_CTX *mem, int fd, const char *name,
			const struct dh_log_input *logs, size_t n_logs,
			struct dh_recovery **out, struct dh_error **err)
{
	struct dh_regf_header hdr;
	struct replay r = { .fd = fd };
	uint8_t head[DH_REGF_BASE_BLOCK_SIZE];
	struct stat st;
	ssize_t got;
	int rc;

	if (fstat(fd, &st) != 0 ||
	    (got = dh_io_pread_full(fd, head, sizeof(head), 0)) < 0)
		return dh_error_errno(mem, err, DH_ERR_IO, errno,
				      "cannot read the copy of %s", name);
	if (dh_regf_parse(mem, head, (size_t)got, name, &hdr, err) != 0)
		return -1;
	if (st.st_size < (off_t)DH_REGF_BASE_BLOCK_SIZE)
		return dh_error_set(mem, err, DH_ERR_NOT_HIVE,
				    "%s is too short to be a hive (%lld bytes)",
				    name, (long long)st.st_size);
	if (replay_init(mem, &r, head, (size_t)st.st_size, logs, n_logs) != 0)
		return dh_error_set(mem, err, DH_ERR_NOMEM, "out of memory");
	*out = r.rec;
	r.rec->dirty_reason = dh_regf_dirty_reason(r.rec, &hdr);
	r.rec->dirty = r.rec->dirty_reason != NULL;
	if (!r.rec->dirty)
		return 0;
	rc = recover_dirty(&r, name, err);
	if (rc != 0 && err != NULL && *err != NULL)
		talloc_steal(mem, *err);
	return rc;
}
