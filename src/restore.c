/*
 * restore: the newest backup set of a target put back, hive and logs, as
 * one transaction with a backup set of what it replaces (pipeline.h).
 *
 * In place, the set's state is put back rather than its files: the hive as
 * Windows would load the set (its logs replayed when it is dirty), written
 * by the in-place commit, whose record then fills the first log (the
 * others are emptied). A dirty hive in place is brought to its own
 * replayed state first, as for set, so the two being dirty is no obstacle.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backup.h"
#include "backupfind.h"
#include "error.h"
#include "failpoint.h"
#include "io.h"
#include "pipeline.h"
#include "recover.h"
#include "regf.h"

/* A file of the backup set, open. */
struct blob {
	int fd;
	size_t len;
	const char *path;        /* for messages */
};

/* Open a file of the backup set through its directory, never through a
 * link. The descriptor lives on run->mem. */
static int open_backup_file(struct run *run, const struct dh_backup_set *set,
			    const char *name, struct blob *b,
			    struct dh_error **err)
{
	char *path = talloc_asprintf(run->mem, "%s%s", set->dir, name);
	struct stat st;
	int fd, *owned;

	if (path == NULL)
		return dh_error_nomem(run->mem, err);
	fd = openat(set->bdir->fd, name,
		    O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return dh_error_errno(run->mem, err, DH_ERR_IO, errno,
				      "cannot open backup %s", path);
	if ((owned = dh_io_fd_owned(run->mem, fd)) == NULL)
		return dh_error_nomem(run->mem, err);
	if (fstat(fd, &st) != 0)
		return dh_error_errno(run->mem, err, DH_ERR_IO, errno,
				      "cannot stat backup %s", path);
	if (!S_ISREG(st.st_mode))
		return dh_error_set(run->mem, err, DH_ERR_ARGUMENT,
				    "backup %s is not a regular file: it is "
				    "not put back", path);
	*b = (struct blob){ fd, (size_t)st.st_size, path };
	return 0;
}

/* A backup to put back must at least be a whole hive: signed, and as long
 * as its base block says (it may be dirty: deskheap keeps dirty originals). */
static int check_complete(struct run *run, const struct blob *b,
			  struct dh_error **err)
{
	struct dh_regf_header h;

	if (dh_regf_read_fd(run->mem, b->fd, b->path, &h, err) != 0)
		return -1;
	if (b->len < (size_t)DH_REGF_BASE_BLOCK_SIZE + h.bins_size)
		return dh_error_set(run->mem, err, DH_ERR_NOT_HIVE,
				    "backup %s is not a complete hive (%zu bytes, its base block says %u): it is not put back; choose another with --backup-dir or restore by hand",
				    b->path, b->len, DH_REGF_BASE_BLOCK_SIZE + h.bins_size);
	return 0;
}

/* A dirty backup goes in after its logs, while the hive in place makes
 * Windows ignore them: that needs the hive in place to be clean. */
static int check_restorable(struct run *run, const struct blob *b,
			    struct dh_error **err)
{
	struct dh_regf_header now, then;

	if (dh_regf_read_fd(run->mem, b->fd, b->path, &then, err) != 0 ||
	    dh_regf_read_fd(run->mem, run->fd, run->target->path, &now,
			    err) != 0)
		return -1;
	/* The report describes the hive put in place. */
	run->report->dirty_reason = dh_regf_dirty_reason(run->report, &then);
	run->report->dirty = run->report->dirty_reason != NULL;
	if (!run->report->dirty || dh_regf_dirty_reason(run->mem, &now) == NULL ||
	    run->commit == DH_COMMIT_IN_PLACE)
		return 0;
	return dh_error_set(run->mem, err, DH_ERR_DIRTY,
			    "%s and the backup %s are both dirty (changes only "
			    "their logs hold): putting back the backup's logs "
			    "beside the hive in place could have Windows "
			    "replay them over the wrong hive if it were "
			    "interrupted; boot Windows once and shut it down "
			    "fully (so the hive is written clean), then run "
			    "restore again; nothing was changed",
			    run->target->path, b->path);
}

/* The backed-up copy of the live log with this suffix (any letter case)
 * in the set, or NULL. */
static const char *backup_log(const struct dh_backup_set *set,
			      const char *suffix)
{
	size_t len = strlen(set->hive);

	for (size_t i = 0; i < set->n_logs; i++)
		if (strcasecmp(set->logs[i] + len, suffix) == 0)
			return set->logs[i];
	return NULL;
}

/* A backed-up log with no live log of its name is not put back: say so. */
static int warn_unmatched(struct run *run, const struct dh_backup_set *set,
			  struct dh_error **err)
{
	size_t len = strlen(set->hive);

	for (size_t i = 0; i < set->n_logs; i++) {
		const char *suffix = set->logs[i] + len;
		bool live = false;
		char *w;

		for (size_t k = 0; k < run->n_logs; k++)
			live = live || strcasecmp(run->logs[k].suffix,
						  suffix) == 0;
		if (live)
			continue;
		w = talloc_asprintf(run->mem, "%s%s: no such log beside the hive, so it was not put back (%s%s is in the backup set)",
				    run->target->path, suffix, set->dir,
				    set->logs[i]);
		if (w == NULL)
			return dh_error_nomem(run->mem, err);
		if (dh_outcome_warn(run, w, err) != 0)
			return -1;
	}
	return 0;
}

/* Each live log gets the backed-up copy of its name, or when the set has
 * none, an empty file: a log of the state being replaced must not be
 * replayed over the restored hive. */
static int stage_logs(struct run *run, const struct dh_backup_set *set,
		      struct dh_error **err)
{
	size_t dirlen = strlen(run->target->dir);

	for (size_t i = 0; i < run->n_logs; i++) {
		const struct dh_log_file *l = &run->logs[i];
		const char *copy = backup_log(set, l->suffix);
		struct blob b = { .fd = -1 };

		if (run->commit == DH_COMMIT_IN_PLACE)
			copy = NULL;
		if (copy != NULL && open_backup_file(run, set, copy, &b, err) != 0)
			return -1;
		if (dh_txn_replace_log(run->txn, l->fd, l->path,
				       l->path + dirlen, l->suffix, b.fd,
				       err) != 0)
			return -1;
	}
	return run->commit == DH_COMMIT_IN_PLACE ? 0 :
						   warn_unmatched(run, set, err);
}

/* In place, a dirty backup: its own logs replayed into the staged hive
 * at fd, as Windows would load the set. */
static int replay_backup(struct run *run, const struct dh_backup_set *set,
			 const struct blob *hive, int fd, struct dh_error **err)
{
	struct dh_log_input *in = talloc_array(run->mem, struct dh_log_input,
					       set->n_logs ? set->n_logs : 1);
	struct dh_recovery *rec;

	if (in == NULL)
		return dh_error_nomem(run->mem, err);
	for (size_t i = 0; i < set->n_logs; i++) {
		struct blob b;
		void *owner;

		if (open_backup_file(run, set, set->logs[i], &b, err) != 0 ||
		    dh_target_map_fd(run->mem, b.fd, b.path, &in[i].data,
				     &in[i].len, &owner, err) != 0)
			return -1;
		in[i].path = b.path;
	}
	return dh_recover_apply_fd(run->mem, fd, hive->path, in, set->n_logs,
				   &rec, err);
}

/* In place, a dirty hive in place: its state as Windows loads it, which
 * the commit writes first. Logs Windows could not replay either are given
 * up, saying so: the backup goes in over the hive as it is. */
static int reconcile_live(struct run *run, struct dh_txn_options *o,
			  struct dh_error **err)
{
	struct dh_log_input *in = dh_run_log_inputs(run);
	struct dh_regf_header h;
	struct dh_recovery *rec;
	int *memfd;

	if (in == NULL)
		return dh_error_nomem(run->mem, err);
	if (dh_regf_read_fd(run->mem, run->fd, run->target->path, &h,
			    err) != 0)
		return -1;
	if (dh_regf_dirty_reason(run->mem, &h) == NULL)
		return 0;
	if (dh_hive_memfd(run->mem, run->fd, run->target->path, &memfd,
			  err) != 0)
		return -1;
	if (dh_recover_apply_fd(run->mem, *memfd, run->target->path, in,
				run->n_logs, &rec, err) == 0) {
		run->reconciled = *memfd;
		return 0;
	}
	if ((*err)->code != DH_ERR_DIRTY)
		return -1;
	o->ignore_logs = true;
	return dh_outcome_warn(run, (*err)->message, err);
}

/* The backup's bytes as the new hive, synced and read back; in place, a
 * dirty one then replayed with its logs. */
static int stage_hive(struct run *run, const struct dh_backup_set *set,
		      const struct blob *b, struct dh_error **err)
{
	struct dh_txn_options o = dh_run_txn_options(run);
	bool in_place = run->commit == DH_COMMIT_IN_PLACE;
	int fd, same;

	if (in_place && reconcile_live(run, &o, err) != 0)
		return -1;
	if (dh_txn_begin(run->mem, run->lock, &o, &run->txn, err) != 0)
		return -1;
	if (run->reconciled >= 0)
		dh_txn_reconciled(run->txn, run->reconciled);
	fd = dh_txn_hive_fd(run->txn);
	if (dh_io_copy(b->fd, fd, b->len) != 0)
		return dh_error_errno(run->mem, err, DH_ERR_IO, errno,
				      "cannot write %s",
				      dh_txn_hive_path(run->txn));
	if (dh_txn_flush(run->txn, err) != 0)
		return -1;
	if (dh_failpoint("verify") != 0)
		return dh_error_set(run->mem, err, DH_ERR_VERIFY,
				    "%s did not verify (injected)",
				    dh_txn_hive_path(run->txn));
	same = dh_io_same(fd, b->fd);
	if (same < 0)
		return dh_error_errno(run->mem, err, DH_ERR_IO, errno,
				      "cannot read back %s",
				      dh_txn_hive_path(run->txn));
	if (same == 0)
		return dh_error_set(run->mem, err, DH_ERR_VERIFY,
				    "%s did not read back as written",
				    dh_txn_hive_path(run->txn));
	if (!in_place || !run->report->dirty)
		return 0;
	return replay_backup(run, set, b, fd, err) == 0 ?
		dh_txn_flush(run->txn, err) : -1;
}

/* A restore an earlier run left unfinished, completed when locking, is
 * what a restore run after it is for: not a second step back. */
static bool completed_already(struct run *run)
{
	const char *cmd = run->lock->completed_command;

	if (cmd == NULL || strcmp(cmd, "restore") != 0 || run->opts->dry_run)
		return false;
	run->report->status = DH_STATUS_CHANGED;
	return true;
}

/* A set an in-place commit made goes back in place too, unless --commit
 * said otherwise (backup.h: the mark). */
static int same_commit(struct run *run, const struct blob *b,
		       struct dh_error **err)
{
	if (run->opts->dry_run || run->opts->commit != DH_COMMIT_AUTO ||
	    run->commit != DH_COMMIT_REPLACE || !dh_backup_made_in_place(b->fd))
		return 0;
	run->commit = DH_COMMIT_IN_PLACE;
	run->commit_reason = talloc_asprintf(run->mem,
					     "%s was made by an in-place commit",
					     b->path);
	if (run->commit_reason == NULL)
		return dh_error_nomem(run->mem, err);
	return dh_run_choose_log(run, err);
}

int dh_run_restore(struct run *run, struct dh_error **err)
{
	struct dh_report *r = run->report;
	struct dh_backup_set *set;
	struct blob b;

	if (completed_already(run))
		return 0;
	if (dh_backup_find(run->mem, run->lock, run->backup_dir, true,
			   &set, err) != 0 ||
	    (run->logs == NULL &&
	     dh_target_logs(run->mem, run->target, &run->logs, &run->n_logs,
			    err) != 0) ||
	    open_backup_file(run, set, set->hive, &b, err) != 0 ||
	    same_commit(run, &b, err) != 0 ||
	    check_complete(run, &b, err) != 0 ||
	    check_restorable(run, &b, err) != 0)
		return -1;
	r->status = run->opts->dry_run ? DH_STATUS_WOULD_CHANGE
				       : DH_STATUS_CHANGED;
	if (run->opts->dry_run) {
		r->restored_from = talloc_strdup(r, b.path);
		return r->restored_from ? 0 : dh_error_nomem(run->mem, err);
	}
	if (stage_hive(run, set, &b, err) != 0 || stage_logs(run, set, err) != 0 ||
	    dh_run_commit(run, b.path, err) != 0)
		return -1;
	/* Only now: a failed restore put nothing back. */
	r->restored_from = talloc_strdup(r, b.path);
	return r->restored_from ? 0 : dh_error_nomem(run->mem, err);
}
