/*
 * Unit tests of the in-place commit (src/inplace.c), judged as Windows
 * judges the files: after the commit the live hive is the new one byte for
 * byte, in the same inode, the first log holds one record and the others
 * are empty; every state a crash can leave between the steps replays
 * (src/recover.c) with the logs of that moment to exactly the old or
 * exactly the new hive; a failure before the point of no return leaves
 * every file as it was. Fixture hives first, then the corpus SYSTEM and
 * the dirty SYSTEM_B with its logs when the corpus is there.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "error.h"
#include "fixtures.h"
#include "inplace.h"
#include "io.h"
#include "logscan.h"
#include "logwrite.h"
#include "overlay.h"
#include "recover.h"
#include "regf.h"

#define HOUR UINT64_C(36000000000)    /* in FILETIME units */
#define CORPUS_SYSTEM "regipy/SYSTEM.xz"
#define CORPUS_DIRTY "regipy/SYSTEM_B"

struct hive {
	uint8_t *b;
	size_t len;
};

/* Which file a commit gets open read-only, so that writing it fails. */
enum readonly { RO_NONE = -1, RO_LOG0, RO_LOG1, RO_HIVE };

/* One commit: its files in a directory of their own, and what they held
 * before it. */
struct scene {
	TALLOC_CTX *mem;
	enum dh_log_format f;
	char *hive;
	char *log[2];             /* log[0] gets the record */
	size_t n_logs;
	struct hive old;          /* the live hive before */
	struct hive old_log[2];
	struct hive reconciled;   /* a dirty hive's replayed state, or b NULL */
	struct hive loaded;       /* the old state as Windows loads it */
	struct hive target;       /* the new hive */
	bool ignore_logs;
	ino_t ino;
};

enum part { PART_NONE, PART_HALF, PART_ALL };

/* ------------------------------------------------------------------ */
/* Hives in memory                                                    */

static uint32_t seq_of(const struct hive *h)
{
	return dh_le32(h->b + DH_REGF_SEQ1);
}

static struct hive dup_hive(TALLOC_CTX *mem, const struct hive *h)
{
	struct hive d = { talloc_memdup(mem, h->b, h->len ? h->len : 1),
			  h->len };

	assert_non_null(d.b);
	return d;
}

static struct hive fixture(TALLOC_CTX *mem, const char *name)
{
	struct hive h;
	char *path = talloc_asprintf(mem, "%s/%s", fixtures_dir(), name);

	assert_non_null(path);
	h.b = path_bytes(mem, path, &h.len);
	return h;
}

static int memfile(const struct hive *h)
{
	int fd = memfd_create("test-inplace", MFD_CLOEXEC);

	assert_true(fd >= 0);
	assert_int_equal(dh_io_pwrite_all(fd, h->b, h->len, 0), 0);
	return fd;
}

static void save(const char *path, const struct hive *h)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(dh_io_pwrite_all(fd, h->b, h->len, 0), 0);
	close(fd);
}

/* got is want, byte for byte; the first difference is named. */
static void assert_same(const struct hive *got, const struct hive *want,
			const char *what)
{
	size_t n = got->len < want->len ? got->len : want->len;

	for (size_t i = 0; i < n; i++)
		if (got->b[i] != want->b[i])
			fail_msg("%s: byte %zu is %#x, not %#x", what, i,
				 got->b[i], want->b[i]);
	if (got->len != want->len)
		fail_msg("%s: %zu bytes, not %zu", what, got->len, want->len);
}

static void assert_file(TALLOC_CTX *mem, const char *path,
			const struct hive *want)
{
	struct hive got;

	got.b = path_bytes(mem, path, &got.len);
	assert_same(&got, want, path);
}

/* n as the commit is given it after a clean hive of sequence number k:
 * both its numbers k + 1, as hivex (dh_regf_mark_written()) writes them. */
static struct hive target_of(TALLOC_CTX *mem, const struct hive *n, uint32_t k)
{
	struct hive t = dup_hive(mem, n);

	dh_put_le32(t.b + DH_REGF_SEQ1, k);
	dh_put_le32(t.b + DH_REGF_SEQ2, k);
	dh_regf_mark_written(t.b);
	return t;
}

/* h with a byte changed in its first, a middle and its last page of bins,
 * and a later last-written time (which an old-format log must carry). */
static struct hive edited(TALLOC_CTX *mem, const struct hive *h)
{
	struct hive e = dup_hive(mem, h);
	size_t bins = dh_le32(h->b + DH_REGF_BINS_SIZE);
	const size_t at[] = { 100, bins / 2, bins - 1 };

	for (size_t i = 0; i < sizeof(at) / sizeof(at[0]); i++)
		e.b[DH_REGF_BINS_START + at[i]] ^= 0x5a;
	dh_put_le64(e.b + DH_REGF_WRITTEN,
		    dh_le64(e.b + DH_REGF_WRITTEN) + HOUR);
	return e;
}

/* What a crash while writing `to` over `from` leaves: from, len bytes long
 * (zeros past its end), with `part` of the pages of `page` bytes where it
 * differs from `to` written (half: every other one), and, when header is
 * given, that first DH_REGF_HEADER_SIZE bytes. */
static struct hive partial(TALLOC_CTX *mem, const struct hive *from,
			   const struct hive *to, const uint8_t *header,
			   uint32_t page, enum part part, size_t len)
{
	struct hive p = { talloc_zero_size(mem, len), len };
	size_t common = len < to->len ? len : to->len, n = 0;

	assert_non_null(p.b);
	memcpy(p.b, from->b, from->len < len ? from->len : len);
	for (size_t at = DH_REGF_BINS_START; at + page <= common; at += page) {
		if (memcmp(p.b + at, to->b + at, page) == 0)
			continue;
		if (part == PART_ALL || (part == PART_HALF && n % 2 == 0))
			memcpy(p.b + at, to->b + at, page);
		n++;
	}
	assert_true(part == PART_NONE || n >= 2);
	if (header != NULL)
		memcpy(p.b, header, DH_REGF_HEADER_SIZE);
	return p;
}

/* p as Windows loads it beside logs: replayed when dirty, else as it is.
 * *dirty says which. */
static struct hive replayed(TALLOC_CTX *mem, const struct hive *p,
			    const struct hive *logs, size_t n_logs,
			    bool *dirty)
{
	struct dh_log_input in[2];
	struct dh_recovery *rec = NULL;
	struct dh_error *err = NULL;
	struct hive got;
	int fd = memfile(p);

	for (size_t i = 0; i < n_logs; i++)
		in[i] = (struct dh_log_input){ "LOG", logs[i].b, logs[i].len };
	if (dh_recover_apply_fd(mem, fd, "crashed", in, n_logs, &rec,
				&err) != 0)
		fail_msg("replay: %s", err->message);
	*dirty = rec->dirty;
	got.b = file_bytes(mem, fd, &got.len);
	close(fd);
	return got;
}

/* ------------------------------------------------------------------ */
/* Scenes                                                             */

static struct scene *scene_new(TALLOC_CTX *mem, enum dh_log_format f,
			       const struct hive *live,
			       const struct hive *logs, size_t n_logs)
{
	struct scene *s = talloc_zero(mem, struct scene);
	char *dir = tmpdir_new(s);
	struct stat st;

	assert_non_null(dir);
	s->mem = s;
	s->f = f;
	s->n_logs = n_logs;
	s->hive = talloc_asprintf(s, "%s/SYSTEM", dir);
	s->old = dup_hive(s, live);
	s->loaded = s->old;
	save(s->hive, live);
	for (size_t i = 0; i < n_logs; i++) {
		s->log[i] = talloc_asprintf(s, "%s/SYSTEM.LOG%zu", dir, i + 1);
		s->old_log[i] = dup_hive(s, &logs[i]);
		save(s->log[i], &logs[i]);
	}
	assert_int_equal(stat(s->hive, &st), 0);
	s->ino = st.st_ino;
	return s;
}

/* A dirty scene: its state as Windows loads it is its logs replayed. */
static void scene_replay(struct scene *s)
{
	bool dirty;

	s->reconciled = replayed(s, &s->old, s->old_log, s->n_logs, &dirty);
	assert_true(dirty);
	s->loaded = s->reconciled;
}

/* Every file back as it was before the commit. */
static void scene_reset(const struct scene *s)
{
	save(s->hive, &s->old);
	for (size_t i = 0; i < s->n_logs; i++)
		save(s->log[i], &s->old_log[i]);
}

static int open_or_fail(const char *path, int flags)
{
	int fd = open(path, flags | O_CLOEXEC);

	if (fd < 0)
		fail_msg("cannot open %s: %s", path, strerror(errno));
	return fd;
}

static size_t bins_end(const struct hive *h)
{
	return DH_REGF_BINS_START + dh_le32(h->b + DH_REGF_BINS_SIZE);
}

/* The target as the transaction gives it: its pages that differ from the
 * state the commit starts from (the replayed hive, else the hive, open at
 * base and holding `from`). */
static const struct dh_overlay *changes(struct scene *s, int base,
					const struct hive *from)
{
	struct dh_overlay *o = dh_overlay_new(s->mem, base, bins_end(from));
	int fd = memfile(&s->target);

	assert_non_null(o);
	assert_int_equal(dh_overlay_take(o, fd, bins_end(&s->target)), 0);
	close(fd);
	return o;
}

static int run(struct scene *s, enum readonly ro, enum dh_inplace_state *decided,
	       struct dh_error **err)
{
	struct dh_inplace_log logs[2];
	int base = s->reconciled.b ? memfile(&s->reconciled)
				   : open_or_fail(s->hive, O_RDONLY);
	struct dh_inplace w = {
		.hive = open_or_fail(s->hive, ro == RO_HIVE ? O_RDONLY : O_RDWR),
		.hive_path = s->hive, .ignore_logs = s->ignore_logs,
		.reconciled = s->reconciled.b ? base : -1,
		.target = changes(s, base, s->reconciled.b ? &s->reconciled
							    : &s->old),
		.target_path = "the new hive",
		.format = s->f, .logs = logs, .n_logs = s->n_logs,
	};
	int rc;

	for (size_t i = 0; i < s->n_logs; i++)
		logs[i] = (struct dh_inplace_log){
			open_or_fail(s->log[i], (int)i == (int)ro ? O_RDONLY
								  : O_RDWR),
			s->log[i] };
	rc = dh_inplace_commit(s->mem, &w, decided, err);
	for (size_t i = 0; i < s->n_logs; i++)
		close(logs[i].fd);
	close(w.hive);
	close(base);
	return rc;
}

static void run_ok(struct scene *s)
{
	struct dh_error *err = NULL;
	enum dh_inplace_state state = DH_INPLACE_AS_WAS;

	if (run(s, RO_NONE, &state, &err) != 0)
		fail_msg("commit: %s", err->message);
	assert_int_equal(state, DH_INPLACE_DECIDED);
}

/* The logs' bytes now. */
static void current_logs(const struct scene *s, struct hive *logs)
{
	for (size_t i = 0; i < s->n_logs; i++)
		logs[i].b = path_bytes(s->mem, s->log[i], &logs[i].len);
}

/* ------------------------------------------------------------------ */
/* Judging                                                            */

static void assert_untouched(const struct scene *s)
{
	assert_file(s->mem, s->hive, &s->old);
	for (size_t i = 0; i < s->n_logs; i++)
		assert_file(s->mem, s->log[i], &s->old_log[i]);
}

/* The first log holds one record taking a hive of sequence number k to
 * the target; the other logs are empty. */
static void assert_record(const struct scene *s, uint32_t k)
{
	struct hive logs[2];
	struct dh_logscan sc;

	current_logs(s, logs);
	assert_null(dh_logscan(s->mem, logs[0].b, logs[0].len, s->target.b,
			       true, k, &sc));
	assert_int_equal(sc.format, s->f);
	if (s->f == DH_LOG_NEW) {
		assert_int_equal(sc.new_log.n, 1);
		assert_int_equal(sc.new_log.parsed, 1);
		assert_int_equal(sc.new_log.entries[0].seq, k + 1);
		assert_int_equal(sc.new_log.entries[0].bins_size,
				 s->target.len - DH_REGF_BINS_START);
	} else {
		assert_int_equal(sc.old_log.seq, k + 1);
		assert_int_equal(sc.old_log.bins_size,
				 s->target.len - DH_REGF_BINS_START);
	}
	for (size_t i = 1; i < s->n_logs; i++)
		assert_int_equal(logs[i].len, 0);
}

/* The commit done: the target in the same inode, the logs as above. */
static void assert_committed(const struct scene *s)
{
	struct stat st;

	assert_file(s->mem, s->hive, &s->target);
	assert_int_equal(stat(s->hive, &st), 0);
	assert_int_equal(st.st_ino, s->ino);
	assert_record(s, seq_of(&s->target) - 1);
}

/* Every state a crash after step 1 leaves, built from the files: the
 * loaded state beside the new logs (step 1 done) loads as it is; marked
 * dirty (step 2), with none, half or all of the pages written at the old
 * or the new length (step 3), it replays to the target. */
static void assert_crashes_complete(const struct scene *s)
{
	uint8_t marker[DH_REGF_HEADER_SIZE];
	uint32_t k = seq_of(&s->target) - 1;
	const size_t lens[] = { s->loaded.len, s->target.len };
	struct hive logs[2], got;
	bool dirty;

	current_logs(s, logs);
	got = replayed(s->mem, &s->loaded, logs, s->n_logs, &dirty);
	assert_false(dirty);
	assert_same(&got, &s->loaded, "step 1 done");
	memcpy(marker, s->target.b, sizeof(marker));
	dh_put_le32(marker + DH_REGF_SEQ1, k + 1);
	dh_put_le32(marker + DH_REGF_SEQ2, k);
	dh_put_le32(marker + DH_REGF_CHECKSUM_OFFSET, dh_regf_checksum(marker));
	for (enum part p = PART_NONE; p <= PART_ALL; p++)
		for (size_t i = 0; i < 2; i++) {
			struct hive c = partial(s->mem, &s->loaded, &s->target,
						marker, dh_logwrite_page(s->f),
						p, lens[i]);

			got = replayed(s->mem, &c, logs, s->n_logs, &dirty);
			assert_true(dirty);
			assert_same(&got, &s->target, "marked dirty");
		}
}

/* Every state a crash in step B leaves (the dirty primary with some of
 * the reconciled pages, at its length or the reconciled one; the original
 * logs) replays to the reconciled state. */
static void assert_crashes_reconcile(const struct scene *s)
{
	const size_t lens[] = { s->old.len, s->reconciled.len };
	struct hive got;
	bool dirty;

	for (enum part p = PART_NONE; p <= PART_ALL; p++)
		for (size_t i = 0; i < 2; i++) {
			struct hive c = partial(s->mem, &s->old, &s->reconciled,
						NULL, dh_logwrite_page(s->f),
						p, lens[i]);

			got = replayed(s->mem, &c, s->old_log, s->n_logs,
				       &dirty);
			assert_true(dirty);
			assert_same(&got, &s->reconciled, "reconciling");
		}
}

/* ------------------------------------------------------------------ */
/* Commits                                                            */

/* A clean live hive committed to next: the files, then the crashes. */
static void clean_commit(TALLOC_CTX *mem, enum dh_log_format f,
			 const struct hive *live, const struct hive *next,
			 const struct hive *logs, size_t n_logs)
{
	struct scene *s = scene_new(mem, f, live, logs, n_logs);

	s->target = target_of(s, next, seq_of(live));
	run_ok(s);
	assert_committed(s);
	assert_crashes_complete(s);
	talloc_free(s);
}

/* The logs of an earlier session beside a clean hive: new format, the
 * two of new-split (longer than a record); old, new-split's SYSTEM.LOG
 * and an empty one. */
static const struct hive *stale_logs(TALLOC_CTX *mem, enum dh_log_format f)
{
	struct hive *l = talloc_zero_array(mem, struct hive, 2);

	assert_non_null(l);
	l[0] = fixture(mem, f == DH_LOG_NEW ? "new-split/SYSTEM.LOG1"
					    : "old/SYSTEM.LOG");
	l[1] = f == DH_LOG_NEW ? fixture(mem, "new-split/SYSTEM.LOG2")
			       : (struct hive){ (uint8_t *)"", 0 };
	return l;
}

static void clean_both(TALLOC_CTX *mem, const struct hive *live,
		       const struct hive *next)
{
	for (enum dh_log_format f = DH_LOG_OLD; f <= DH_LOG_NEW; f++)
		clean_commit(mem, f, live, next, stale_logs(mem, f), 2);
}

/* A dirty live hive and its logs; the target is its reconciled state
 * edited. */
static struct scene *dirty_scene(TALLOC_CTX *mem, enum dh_log_format f,
				 const struct hive *live,
				 const struct hive *logs, size_t n_logs)
{
	struct scene *s = scene_new(mem, f, live, logs, n_logs);
	struct hive next;

	scene_replay(s);
	next = edited(s, &s->reconciled);
	s->target = target_of(s, &next, seq_of(&s->reconciled));
	return s;
}

/* The dirty SYSTEM of fixture directory dir, and its logs. */
static struct scene *fixture_scene(TALLOC_CTX *mem, enum dh_log_format f,
				   const char *dir)
{
	struct hive live = fixture(mem, talloc_asprintf(mem, "%s/SYSTEM", dir));
	struct hive logs[2];
	size_t n = f == DH_LOG_NEW ? 2 : 1;

	for (size_t i = 0; i < n; i++)
		logs[i] = fixture(mem, f == DH_LOG_NEW ?
				  talloc_asprintf(mem, "%s/SYSTEM.LOG%zu", dir,
						  i + 1) :
				  talloc_asprintf(mem, "%s/SYSTEM.LOG", dir));
	return dirty_scene(mem, f, &live, logs, n);
}

/* Crashes while reconciling, the commit, crashes after. */
static void dirty_commit(struct scene *s)
{
	assert_crashes_reconcile(s);
	run_ok(s);
	assert_committed(s);
	assert_crashes_complete(s);
}

/* ------------------------------------------------------------------ */
/* Tests                                                              */

static int mem_setup(void **state)
{
	*state = talloc_new(NULL);
	return *state == NULL ? -1 : 0;
}

static int mem_teardown(void **state)
{
	talloc_free(*state);
	return 0;
}

static void test_clean(void **state)
{
	struct hive live = fixture(*state, "win7.hive");
	struct hive next = edited(*state, &live);

	clean_both(*state, &live, &next);
}

/* A (12 KB) to B (180 KB) and back: the file grows, then shrinks. */
static void test_grow_shrink(void **state)
{
	struct hive a = fixture(*state, "replay/A.hive");
	struct hive b = fixture(*state, "replay/B.hive");

	assert_true(b.len > a.len);
	clean_both(*state, &a, &b);
	clean_both(*state, &b, &a);
}

static void test_dirty_new(void **state)
{
	struct scene *s = fixture_scene(*state, DH_LOG_NEW, "new-split");
	struct hive b = fixture(*state, "replay/B.hive");

	assert_same(&s->reconciled, &b, "new-split replayed");
	dirty_commit(s);
}

static void test_dirty_old(void **state)
{
	struct scene *s = fixture_scene(*state, DH_LOG_OLD, "old");
	struct hive b = fixture(*state, "replay/B.hive");
	struct hive got = { s->reconciled.b + DH_REGF_BINS_START,
			    s->reconciled.len - DH_REGF_BINS_START };

	b.b += DH_REGF_BINS_START;
	b.len -= DH_REGF_BINS_START;
	assert_same(&got, &b, "old replayed (bins)");
	dirty_commit(s);
}

static void test_corpus(void **state)
{
	TALLOC_CTX *mem = *state;
	struct hive live, next, logs[2];
	const char *names[] = { CORPUS_DIRTY ".xz", CORPUS_DIRTY ".LOG1.xz",
				CORPUS_DIRTY ".LOG2.xz" };

	live.b = corpus_load(mem, CORPUS_SYSTEM, &live.len);
	if (live.b == NULL)
		skip();
	next = edited(mem, &live);
	clean_both(mem, &live, &next);
	live.b = corpus_load(mem, names[0], &live.len);
	for (size_t i = 0; i < 2; i++)
		logs[i].b = corpus_load(mem, names[i + 1], &logs[i].len);
	if (live.b == NULL || logs[0].b == NULL || logs[1].b == NULL)
		skip();
	dirty_commit(dirty_scene(mem, DH_LOG_NEW, &live, logs, 2));
}

/* A failure before the point of no return (a log or the hive cannot be
 * written): not decided; when nothing was written, the message says the
 * hive was not changed and every file is as it was; a dirty hive that
 * step B wrote is reconciled, which loads as before, and the message says
 * that instead. */
static void assert_not_decided(struct scene *s, enum readonly ro)
{
	struct dh_error *err = NULL;
	enum dh_inplace_state state = DH_INPLACE_DECIDED;
	struct hive got;

	scene_reset(s);
	assert_int_equal(run(s, ro, &state, &err), -1);
	assert_int_not_equal(state, DH_INPLACE_DECIDED);
	if (s->reconciled.b == NULL) {
		assert_int_equal(state, DH_INPLACE_AS_WAS);
		assert_non_null(strstr(err->message, DH_UNCHANGED));
		assert_untouched(s);
		return;
	}
	/* Step B was begun: said so even when its first write failed. */
	assert_int_equal(state, DH_INPLACE_RECONCILED);
	assert_non_null(strstr(err->message, "loads as it did"));
	assert_null(strstr(err->message, DH_UNCHANGED));
	if (ro == RO_HIVE) {
		assert_untouched(s);
		return;
	}
	for (size_t i = 0; i < s->n_logs; i++)
		assert_file(s->mem, s->log[i], &s->old_log[i]);
	got.b = path_bytes(s->mem, s->hive, &got.len);
	assert_same(&got, &s->reconciled, "reconciled, then failed");
}

static void test_fail_before_decided(void **state)
{
	struct hive live = fixture(*state, "win7.hive");
	struct hive next = edited(*state, &live);
	struct scene *s = scene_new(*state, DH_LOG_NEW, &live,
				    stale_logs(*state, DH_LOG_NEW), 2);

	s->target = target_of(s, &next, seq_of(&live));
	for (enum readonly ro = RO_LOG0; ro <= RO_HIVE; ro++)
		assert_not_decided(s, ro);
	s = fixture_scene(*state, DH_LOG_NEW, "new-split");
	for (enum readonly ro = RO_LOG0; ro <= RO_HIVE; ro++)
		assert_not_decided(s, ro);
}

/* A dirty hive whose logs were not replayed is refused, nothing written;
 * with ignore_logs it is marked clean as it is (its larger sequence
 * number), then committed. */
static void test_dirty_unreplayed(void **state)
{
	struct scene *s = fixture_scene(*state, DH_LOG_NEW, "new-split");
	struct dh_error *err = NULL;
	enum dh_inplace_state got = DH_INPLACE_DECIDED;
	struct hive next;

	s->reconciled.b = NULL;
	assert_int_equal(run(s, RO_NONE, &got, &err), -1);
	assert_int_equal(got, DH_INPLACE_AS_WAS);
	assert_int_equal(err->code, DH_ERR_DIRTY);
	assert_non_null(strstr(err->message, DH_UNCHANGED));
	assert_untouched(s);

	s->ignore_logs = true;
	s->loaded = s->old;
	assert_int_equal(dh_le32(s->old.b + DH_REGF_SEQ1), 101);
	next = edited(s, &s->old);
	s->target = target_of(s, &next, 101);
	run_ok(s);
	assert_committed(s);
}

/* The first failure at each write and each sync (failpoint build): not
 * decided, every file as it was (a dirty hive: as Windows loads it); or
 * decided, the message says so, and the files replay to the target. */
static void fail_each(struct scene *s, const char *point)
{
	struct dh_error *err = NULL;
	struct hive logs[2], got;
	enum dh_inplace_state state;
	bool dirty;
	unsigned n;
	int rc;

	for (n = 1;; n++) {
		char *spec = talloc_asprintf(s, "%s:EIO@%u", point, n);

		scene_reset(s);
		assert_int_equal(setenv("DESKHEAP_FAILPOINT", spec, 1), 0);
		rc = run(s, RO_NONE, &state, &err);
		unsetenv("DESKHEAP_FAILPOINT");
		if (rc == 0)
			break;
		assert_non_null(strstr(err->message, strerror(EIO)));
		assert_non_null(strstr(err->message,
				       state == DH_INPLACE_DECIDED ? "the change is decided" :
				       state == DH_INPLACE_RECONCILED ? "loads as it did" :
				       DH_UNCHANGED));
		if (state == DH_INPLACE_AS_WAS) {
			assert_untouched(s);
			continue;
		}
		current_logs(s, logs);
		got.b = path_bytes(s->mem, s->hive, &got.len);
		got = replayed(s->mem, &got, logs, s->n_logs, &dirty);
		assert_same(&got, state == DH_INPLACE_DECIDED ? &s->target
							      : &s->loaded,
			    spec);
	}
	assert_true(n > 3);
	assert_committed(s);
}

static void test_failpoints(void **state)
{
	struct hive live = fixture(*state, "win7.hive");
	struct hive next = edited(*state, &live);
	const char *points[] = { "write", "fsync" };

#ifndef DH_FAILPOINTS
	print_message("not a failpoint build (configure --enable-failpoints): "
		      "failures at each write and sync not tested\n");
	skip();
#endif
	for (size_t i = 0; i < 2; i++) {
		struct scene *s;

		for (enum dh_log_format f = DH_LOG_OLD; f <= DH_LOG_NEW; f++) {
			s = scene_new(*state, f, &live, stale_logs(*state, f),
				      2);
			s->target = target_of(s, &next, seq_of(&live));
			fail_each(s, points[i]);
		}
		fail_each(fixture_scene(*state, DH_LOG_NEW, "new-split"),
			  points[i]);
		fail_each(fixture_scene(*state, DH_LOG_OLD, "old"), points[i]);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, mem_setup, mem_teardown)
		T(test_clean),
		T(test_grow_shrink),
		T(test_dirty_new),
		T(test_dirty_old),
		T(test_corpus),
		T(test_fail_before_decided),
		T(test_dirty_unreplayed),
		T(test_failpoints),
#undef T
	};

	return cmocka_run_group_tests_name("inplace", tests, NULL, NULL);
}
