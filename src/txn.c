/*
 * A transaction over a hive and its logs. See txn.h for the contract; the
 * comments here say why each step is done the way it is.
 *
 * Replace: the original hive and logs are only ever opened read-only:
 * every write goes to a file this module (or backup.c) created itself, and
 * the original names change inode only through the renames of the journal.
 * In place: they are opened for writing at the commit, and only
 * dh_inplace_commit() writes them.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backup.h"
#include "dirio.h"
#include "error.h"
#include "failpoint.h"
#include "inplace.h"
#include "interrupt.h"
#include "io.h"
#include "journal.h"
#include "metadata.h"
#include "overlay.h"
#include "regf.h"
#include "txn.h"

/* A file of the set: the hive, or a log, and the new file staged for it. */
struct staged {
	struct dh_meta_source old;  /* the live file, as locked and read */
	const char *name;           /* its name in the hive's directory */
	const char *suffix;         /* "" for the hive */
	int content;                /* a log's new bytes, or -1: empty */
	char *tmp;                  /* the new file's name, once made */
	char *tmppath;              /* for messages */
	int fd;                     /* the new file, or -1 */
	int rw;                     /* in place: the live file, read-write */
};

struct dh_txn {
	TALLOC_CTX *mem;            /* the caller's: errors, results */
	const struct dh_locked *hive;
	struct dh_txn_options o;
	char *prefix;               /* the hive's directory, for messages */
	struct staged *files;       /* [0] the hive, then the logs */
	size_t n;
	struct dh_backup_dir *bdir; /* NULL with no_backup */
	struct dh_backup_made *backup;
	bool decided;               /* the journal is on disk, or the
				     * in-place commit wrote into the hive:
				     * the backup set is kept */
	int reconciled;             /* in place: dh_txn_reconciled() */
	struct dh_overlay *edits;   /* in place with o.edits: the writes,
				     * made when the first comes */
};

/* ------------------------------------------------------------------ */
/* Undoing                                                            */

/* Remove what t made. The originals were never written, so removing our
 * own files restores the directories as they were. */
static void discard(struct dh_txn *t, struct dh_error **err)
{
	for (size_t i = 0; i < t->n; i++) {
		struct staged *s = &t->files[i];

		if (s->fd >= 0)
			close(s->fd);
		if (s->rw >= 0)
			close(s->rw);
		s->fd = s->rw = -1;
		if (s->tmp != NULL && !t->decided &&
		    unlinkat(t->hive->dirfd, s->tmp, 0) != 0)
			dh_backup_note_leftover(err, s->tmppath, errno);
		s->tmp = NULL;
	}
	if (t->backup != NULL && !t->decided)
		dh_backup_remove(t->backup, err);
	t->backup = NULL;
	if (t->bdir != NULL)
		dh_backup_dir_discard(t->bdir);
	t->bdir = NULL;
}

static int txn_destroy(struct dh_txn *t)
{
	discard(t, NULL);
	return 0;
}

void dh_txn_abort(struct dh_txn *t, struct dh_error **err)
{
	discard(t, err);
	talloc_free(t);
}

/* A safe point: a signal asked to stop, and nothing is decided yet. */
static int stopped(struct dh_txn *t, struct dh_error **err)
{
	return dh_interrupt_stop(t->mem, err, t->hive->path,
				 "before the hive was replaced");
}

/* ------------------------------------------------------------------ */
/* Beginning                                                          */

static int stat_source(struct dh_txn *t, struct dh_meta_source *src,
		       const char *outcome, struct dh_error **err)
{
	if (fstat(src->fd, &src->st) != 0)
		return dh_error_io(t->mem, err, errno, outcome,
				   "cannot stat %s", src->path);
	return 0;
}

/* The new file for s, beside the hive. */
static int make_temp(struct dh_txn *t, struct staged *s,
		     struct dh_error **err)
{
	if (dh_failpoint("temp-create") != 0 ||
	    (s->fd = dh_dirio_create_temp(t, t->hive->dirfd, t->hive->name,
					  &s->tmp)) < 0)
		return dh_error_io(t->mem, err, errno, DH_UNCHANGED,
				   "cannot create a temporary file beside %s",
				   s->old.path);
	s->tmppath = talloc_asprintf(t, "%s%s", t->prefix, s->tmp);
	return s->tmppath ? 0 : dh_error_nomem(t->mem, err);
}

/* In place, the new hive in memory: nothing is made beside the hive. */
static int make_memory(struct dh_txn *t, struct staged *s,
		       struct dh_error **err)
{
	s->tmppath = talloc_asprintf(t, "the new %s (in memory)", s->old.path);
	if (s->tmppath == NULL)
		return dh_error_nomem(t->mem, err);
	if (t->o.edits)
		return 0;
	if (dh_failpoint("temp-create") != 0 ||
	    (s->fd = memfd_create("deskheap-new-hive", MFD_CLOEXEC)) < 0)
		return dh_error_io(t->mem, err, errno, DH_UNCHANGED,
				   "cannot create a memory file for %s",
				   s->tmppath);
	return 0;
}

static int begin(struct dh_txn *t, struct dh_error **err)
{
	struct staged *h = &t->files[0];

	*h = (struct staged){ .old = { t->hive->fd, t->hive->path },
			      .name = t->hive->name, .suffix = "",
			      .content = -1, .fd = -1, .rw = -1 };
	t->n = 1;
	if (t->prefix == NULL)
		return dh_error_nomem(t->mem, err);
	if (stat_source(t, &h->old, DH_UNCHANGED, err) != 0)
		return -1;
	if (stopped(t, err) != 0)
		return -1;
	if (!t->o.no_backup &&
	    dh_backup_dir_open(t->mem, t->hive, t->o.backup_dir,
			       t->o.backup_dir_create, DH_UNCHANGED, &t->bdir,
			       err) != 0)
		return -1;
	return t->o.in_place ? make_memory(t, h, err) : make_temp(t, h, err);
}

int dh_txn_begin(TALLOC_CTX *mem, const struct dh_locked *hive,
		 const struct dh_txn_options *o, struct dh_txn **out,
		 struct dh_error **err)
{
	struct dh_txn *t;

	if (hive == NULL || hive->fd < 0 || hive->dirfd < 0 ||
	    !dh_dirio_name_ok(hive->name) || hive->path == NULL || o == NULL ||
	    (o->edits && !o->in_place))
		return dh_error_set(mem, err, DH_ERR_ARGUMENT,
				    "a transaction needs a locked hive and "
				    "its options (edits only in place)");
	t = talloc_zero(mem, struct dh_txn);
	if (t == NULL || (t->files = talloc_array(t, struct staged, 1)) == NULL) {
		talloc_free(t);
		return dh_error_nomem(mem, err);
	}
	t->mem = mem;
	t->hive = hive;
	t->o = *o;
	t->reconciled = -1;
	t->prefix = dh_dirio_prefix(t, hive->path);
	talloc_set_destructor(t, txn_destroy);
	if (begin(t, err) != 0) {
		dh_txn_abort(t, err);
		return -1;
	}
	*out = t;
	return 0;
}

int dh_txn_hive_fd(const struct dh_txn *t)
{
	return t->files[0].fd;
}

const char *dh_txn_hive_path(const struct dh_txn *t)
{
	return t->files[0].tmppath;
}

/* Where the bins of the hive open at fd end, as its base block says; 0
 * when it cannot be read. */
static size_t bins_end(int fd)
{
	uint8_t block[DH_REGF_HEADER_SIZE];

	if (dh_io_pread_full(fd, block, sizeof(block), 0) != (ssize_t)sizeof(block))
		return 0;
	return dh_regf_hive_len(block);
}

/* The state the in-place commit starts from: the replayed hive when it was
 * dirty, else the hive; its length as its base block gives it, so that
 * whatever lies past its bins counts as new (overlay.h). */
static struct dh_overlay *base_state(struct dh_txn *t)
{
	int fd = t->reconciled >= 0 ? t->reconciled : t->hive->fd;
	size_t len = bins_end(fd);

	return len != 0 ? dh_overlay_new(t, fd, len) : NULL;
}

/* With edits: the writes, made over the state when first needed. */
static struct dh_overlay *edits(struct dh_txn *t, struct dh_error **err)
{
	errno = 0;
	if (t->edits == NULL && (t->edits = base_state(t)) == NULL)
		dh_error_io(t->mem, err, errno ? errno : EIO, NULL,
			    "cannot read %s to stage its change", t->hive->path);
	return t->edits;
}

int dh_txn_write(struct dh_txn *t, const void *buf, size_t len,
		 uint64_t off, struct dh_error **err)
{
	const struct staged *h = &t->files[0];
	struct dh_overlay *o;

	if (!t->o.edits)
		return dh_io_pwrite_all(h->fd, buf, len, (off_t)off) == 0 ? 0 :
		       dh_error_io(t->mem, err, errno, NULL, "cannot write %s",
				   h->tmppath);
	if ((o = edits(t, err)) == NULL)
		return -1;
	if (dh_overlay_write(o, buf, len, off) != 0)
		return dh_error_io(t->mem, err, errno, NULL, "cannot write %s",
				   h->tmppath);
	return 0;
}

int dh_txn_read(struct dh_txn *t, void *buf, size_t len, uint64_t off,
		struct dh_error **err)
{
	const struct staged *h = &t->files[0];
	struct dh_overlay *o;
	int rc;

	if (!t->o.edits)
		rc = dh_io_pread_full(h->fd, buf, len, (off_t)off) ==
		     (ssize_t)len ? 0 : -1;
	else if ((o = edits(t, err)) == NULL)
		return -1;
	else
		rc = dh_overlay_read(o, buf, len, off);
	if (rc != 0)
		return dh_error_io(t->mem, err, errno ? errno : EIO, NULL,
				   "cannot read %s", h->tmppath);
	return 0;
}

/* A log must be a regular file open for reading: found out now, before
 * anything else is made, rather than halfway through the backup set. */
static int check_log(struct dh_txn *t, const struct staged *s,
		     struct dh_error **err)
{
	int fl = fcntl(s->old.fd, F_GETFL);

	if (fl < 0)
		return dh_error_io(t->mem, err, errno, NULL,
				   "cannot use log %s", s->old.path);
	if (!S_ISREG(s->old.st.st_mode))
		return dh_error_set(t->mem, err, DH_ERR_IO,
				    "log %s is not a regular file: cannot "
				    "back it up", s->old.path);
	if ((fl & O_ACCMODE) == O_WRONLY)
		return dh_error_set(t->mem, err, DH_ERR_ARGUMENT,
				    "log %s is not open for reading: cannot "
				    "back it up", s->old.path);
	return 0;
}

int dh_txn_replace_log(struct dh_txn *t, int fd, const char *path,
		       const char *name, const char *suffix, int content,
		       struct dh_error **err)
{
	struct staged *files, *s;

	if (path == NULL || !dh_dirio_name_ok(name) || suffix == NULL ||
	    *suffix == '\0' || strchr(suffix, '/') != NULL)
		return dh_error_set(t->mem, err, DH_ERR_ARGUMENT,
				    "log %s: its name in the hive's directory "
				    "and a non-empty suffix without '/' are "
				    "required", path ? path : "(no path)");
	files = talloc_realloc(t, t->files, struct staged, t->n + 1);
	if (files == NULL)
		return dh_error_nomem(t->mem, err);
	t->files = files;
	s = &files[t->n];
	*s = (struct staged){ .old = { fd, path }, .name = name,
			      .suffix = suffix, .content = content, .fd = -1,
			      .rw = -1 };
	if (stat_source(t, &s->old, NULL, err) != 0 ||
	    check_log(t, s, err) != 0)
		return -1;
	t->n++;
	return 0;
}

static int sync_staged(struct dh_txn *t, const struct staged *s,
		       const char *outcome, struct dh_error **err)
{
	if (dh_failpoint("fsync") == 0 && fsync(s->fd) == 0)
		return 0;
	return dh_error_io(t->mem, err, errno, outcome,
			   "cannot write %s to disk", s->tmppath);
}

int dh_txn_flush(struct dh_txn *t, struct dh_error **err)
{
	const struct staged *h = &t->files[0];

	if (t->o.edits)
		return 0;
	if (sync_staged(t, h, NULL, err) != 0)
		return -1;
	if (lseek(h->fd, 0, SEEK_SET) != 0)
		return dh_error_io(t->mem, err, errno, NULL,
				   "cannot seek in %s", h->tmppath);
	return 0;
}

/* ------------------------------------------------------------------ */
/* Committing                                                         */

/* Step 2. */
static int make_backups(struct dh_txn *t, struct dh_error **err)
{
	struct dh_backup_member *m;

	if (t->bdir == NULL)
		return 0;
	m = talloc_array(t, struct dh_backup_member, t->n);
	if (m == NULL)
		return dh_error_nomem(t->mem, err);
	for (size_t i = 0; i < t->n; i++)
		m[i] = (struct dh_backup_member){ t->files[i].old,
						  t->files[i].name,
						  t->files[i].suffix };
	/* On the caller's context: its errors outlive t. */
	return dh_backup_make(t->mem, t->hive->dirfd, t->hive->name, t->bdir, m,
			      t->n, t->o.in_place, &t->backup, err);
}

/* A log's new bytes, copied, synced and read back. */
static int fill_log(struct dh_txn *t, const struct staged *s,
		    struct dh_error **err)
{
	struct stat st;
	int same;

	if (s->content < 0)
		return 0;
	if (fstat(s->content, &st) != 0 ||
	    dh_io_copy(s->content, s->fd, (size_t)st.st_size) != 0)
		return dh_error_io(t->mem, err, errno, DH_UNCHANGED,
				   "cannot write %s (the new %s)", s->tmppath,
				   s->old.path);
	if (sync_staged(t, s, DH_UNCHANGED, err) != 0)
		return -1;
	posix_fadvise(s->fd, 0, 0, POSIX_FADV_DONTNEED);
	same = dh_io_same(s->content, s->fd);
	if (same == 1)
		return 0;
	if (same < 0)
		return dh_error_io(t->mem, err, errno, DH_UNCHANGED,
				   "cannot read back %s", s->tmppath);
	return dh_error_set(t->mem, err, DH_ERR_VERIFY,
			    "%s (the new %s) does not read back as written: "
			    "check the disk; %s", s->tmppath, s->old.path,
			    DH_UNCHANGED);
}

/* Steps 1 and 3: each new file complete, with its metadata, synced, so
 * that what a rename puts in place is whole. */
static int finish_files(struct dh_txn *t, struct dh_error **err)
{
	for (size_t i = 0; i < t->n; i++) {
		struct staged *s = &t->files[i];

		if (stopped(t, err) != 0)
			return -1;
		if (i > 0 && (make_temp(t, s, err) != 0 ||
			      fill_log(t, s, err) != 0))
			return -1;
		if (dh_metadata_copy(t->mem, &s->old, s->fd, s->tmppath, false,
				     err) != 0 ||
		    sync_staged(t, s, DH_UNCHANGED, err) != 0)
			return -1;
		if (i == 0 && make_backups(t, err) != 0)
			return -1;
	}
	return 0;
}

/* The lock only binds programs that take it: each name must still be the
 * file locked and read. */
static int describe(struct dh_txn *t, const struct staged *s,
		    struct dh_journal_entry *e, struct dh_error **err)
{
	int cur = dh_dirio_still_current(s->old.fd, t->hive->dirfd, s->name);

	if (cur < 0)
		return dh_error_io(t->mem, err, errno, DH_UNCHANGED,
				   "cannot stat %s", s->old.path);
	if (cur == 0)
		return dh_error_set(t->mem, err, DH_ERR_IO,
				    "%s was replaced by another program while "
				    "locked: run again; %s", s->old.path,
				    DH_UNCHANGED);
	e->tmp = s->tmp;
	e->name = (char *)s->name;
	if (dh_journal_describe_fd(s->old.fd, &e->before) != 0 ||
	    dh_journal_describe_fd(s->fd, &e->after) != 0)
		return dh_error_io(t->mem, err, errno, DH_UNCHANGED,
				   "cannot read %s or %s", s->old.path,
				   s->tmppath);
	return 0;
}

/* Whether the new hive is dirty: its logs then hold what it lacks, and it
 * goes in last. What is not a hive has no logs to order it by. */
static bool new_hive_dirty(struct dh_txn *t)
{
	const struct staged *h = &t->files[0];
	TALLOC_CTX *tmp = talloc_new(t);
	struct dh_regf_header hdr;
	struct dh_error *e = NULL;
	bool dirty = tmp != NULL &&
		     dh_regf_read_fd(tmp, h->fd, h->tmppath, &hdr, &e) == 0 &&
		     dh_regf_dirty_reason(tmp, &hdr) != NULL;

	talloc_free(tmp);
	return dirty;
}

/* Step 4: the renames in the order of txn.h. */
static int build_journal(struct dh_txn *t, struct dh_journal *j,
			 struct dh_error **err)
{
	bool last = new_hive_dirty(t);

	j->n_entries = t->n;
	j->entries = talloc_zero_array(t, struct dh_journal_entry, t->n);
	if (j->entries == NULL)
		return dh_error_nomem(t->mem, err);
	for (size_t i = 0; i < t->n; i++) {
		size_t at = !last ? i : i == 0 ? t->n - 1 : i - 1;

		if (describe(t, &t->files[i], &j->entries[at], err) != 0)
			return -1;
	}
	return 0;
}

/* Step 5 failed: with no rename done the journal can still be withdrawn,
 * and the transaction is undone as after any earlier failure. Else the
 * change is decided, and the next run completes it. */
static int after_failure(struct dh_txn *t, size_t renamed,
			 struct dh_error **err)
{
	struct dh_error *e = err != NULL ? *err : NULL;

	if (renamed == 0 &&
	    dh_journal_withdraw(t->hive->dirfd, t->hive->name) == 0) {
		if (e != NULL && e->message != NULL)
			e->message = talloc_asprintf_append(e->message, "; %s",
							    DH_UNCHANGED);
		return -1;
	}
	t->decided = true;
	if (e != NULL && e->message != NULL)
		e->message = talloc_asprintf_append(
			e->message, "; the change is recorded in the journal "
			"%s.%s.deskheap-journal: the next deskheap run on this "
			"hive completes it (run deskheap show on it)",
			t->prefix, t->hive->name);
	return -1;
}

static int rename_into_place(struct dh_txn *t, const char *note,
			struct dh_error **err)
{
	struct dh_journal j = { .command = (char *)t->o.command,
				.note = (char *)(note ? note : "") };
	size_t renamed = 0;

	if (j.command == NULL)
		j.command = "commit";
	/* The new hive is locked before it takes the name: a run that opens
	 * it then waits until the journal is done and gone, rather than
	 * taking it for an unfinished one. Ours alone, so this never waits. */
	if (flock(t->files[0].fd, LOCK_EX | LOCK_NB) != 0)
		return dh_error_io(t->mem, err, errno, DH_UNCHANGED,
				   "cannot lock %s", t->files[0].tmppath);
	if (build_journal(t, &j, err) != 0)
		return -1;
	/* The last safe point: once the journal is written, the change is
	 * decided and completes, signal or not. */
	if (dh_failpoint("journal") != 0)
		return dh_error_io(t->mem, err, errno, DH_UNCHANGED,
				   "cannot write the journal of %s",
				   t->hive->path);
	if (stopped(t, err) != 0)
		return -1;
	dh_interrupt_past_no_return();
	if (dh_journal_write(t->mem, t->hive->dirfd, t->hive->name,
			     t->prefix, &j, err) != 0)
		return -1;
	if (dh_journal_apply(t->mem, t->hive->dirfd, t->hive->name, t->prefix,
			     &j, &renamed, err) != 0)
		return after_failure(t, renamed, err);
	t->decided = true;
	return 0;
}

static int result(struct dh_txn *t, TALLOC_CTX *mem,
		  struct dh_txn_result **res)
{
	struct dh_txn_result *r = talloc_zero(mem, struct dh_txn_result);
	const struct dh_backup_made *b = t->backup;

	if (r == NULL)
		return -1;
	if (b != NULL) {
		r->backup = talloc_steal(r, b->paths[0]);
		r->backup_logs = talloc_array(r, char *, b->n);
		if (r->backup_logs == NULL)
			return -1;
		for (size_t i = 1; i < b->n; i++)
			r->backup_logs[r->n_backup_logs++] =
				talloc_steal(r->backup_logs, b->paths[i]);
	}
	*res = r;
	return 0;
}

/* ------------------------------------------------------------------ */
/* In place                                                           */

void dh_txn_reconciled(struct dh_txn *t, int fd)
{
	t->reconciled = fd;
}

/* The live file of s, for writing: still the file locked and read. */
static int open_live(struct dh_txn *t, struct staged *s,
		     struct dh_error **err)
{
	struct stat st;

	s->rw = openat(t->hive->dirfd, s->name,
		       O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (s->rw < 0)
		return dh_error_io(t->mem, err, errno, DH_UNCHANGED,
				   "cannot open %s for writing", s->old.path);
	if (fstat(s->rw, &st) != 0)
		return dh_error_io(t->mem, err, errno, DH_UNCHANGED,
				   "cannot stat %s", s->old.path);
	if (!dh_dirio_same_file(&st, &s->old.st))
		return dh_error_set(t->mem, err, DH_ERR_IO,
				    "%s was replaced by another program while "
				    "locked: run again; %s", s->old.path,
				    DH_UNCHANGED);
	/* Written in place, every name of the inode changes: a backup that
	 * a killed run left as a link would no longer be one. */
	if (st.st_nlink > 1)
		return dh_error_set(t->mem, err, DH_ERR_ARGUMENT,
				    "%s has %lu hard links, and writing it in place would change each of them (a backup an interrupted deskheap run left as a link among them); find them with find -samefile, remove the extra ones, or use --commit replace; %s",
				    s->old.path, (unsigned long)st.st_nlink,
				    DH_UNCHANGED);
	return 0;
}

/* The new hive as changes over the state the commit starts from: the
 * writes made, or the staged file's pages that differ. */
static const struct dh_overlay *target(struct dh_txn *t,
				       struct dh_error **err)
{
	const struct staged *h = &t->files[0];
	struct dh_overlay *o;
	size_t len;

	if (t->o.edits)
		return edits(t, err);
	errno = 0;
	if ((o = base_state(t)) == NULL || (len = bins_end(h->fd)) == 0 ||
	    dh_overlay_take(o, h->fd, len) != 0) {
		dh_error_io(t->mem, err, errno ? errno : EIO, DH_UNCHANGED,
			    "cannot compare %s with %s", h->tmppath,
			    t->hive->path);
		return NULL;
	}
	return o;
}

static int commit_in_place(struct dh_txn *t, struct dh_error **err)
{
	struct dh_inplace_log *logs = talloc_array(t, struct dh_inplace_log,
						   t->n);
	struct dh_inplace w = {
		.hive_path = t->hive->path, .reconciled = t->reconciled,
		.ignore_logs = t->o.ignore_logs,
		.target_path = t->files[0].tmppath,
		.format = t->o.log_format, .logs = logs, .n_logs = t->n - 1,
		.record = t->o.record,
	};
	enum dh_inplace_state state;
	int rc;

	if (logs == NULL)
		return dh_error_nomem(t->mem, err);
	for (size_t i = 0; i < t->n; i++) {
		if (stopped(t, err) != 0 || open_live(t, &t->files[i], err) != 0)
			return -1;
		if (i > 0)
			logs[i - 1] = (struct dh_inplace_log){
				t->files[i].rw, t->files[i].old.path };
	}
	w.hive = t->files[0].rw;
	if ((w.target = target(t, err)) == NULL || make_backups(t, err) != 0)
		return -1;
	if (t->backup != NULL)
		dh_backup_mark_in_place(t->backup);
	rc = dh_inplace_commit(t->mem, &w, &state, err);
	/* The backup set is kept once the hive's bytes changed. */
	t->decided = state != DH_INPLACE_AS_WAS;
	return rc;
}

int dh_txn_commit(struct dh_txn *t, const char *note, TALLOC_CTX *mem,
		  struct dh_txn_result **res, struct dh_error **err)
{
	int ret;

	if (t->o.in_place) {
		ret = commit_in_place(t, err);
	} else {
		ret = finish_files(t, err);
		if (ret == 0)
			ret = rename_into_place(t, note, err);
	}
	if (res != NULL && (ret == 0 || t->decided) &&
	    result(t, mem, res) != 0)
		ret = dh_error_nomem(t->mem, err);
	discard(t, err);
	return ret;
}
