/*
 * One target, start to end (pipeline.h): show, check, set and recover;
 * restore in restore.c.
 */
#include "config.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "commitchoice.h"
#include "error.h"
#include "failpoint.h"
#include "io.h"
#include "journal.h"
#include "logformat.h"
#include "pipeline.h"
#include "regf.h"

bool dh_run_writes(const struct dh_options *opts)
{
	return (opts->command == DH_CMD_SET || opts->command == DH_CMD_RECOVER ||
		opts->command == DH_CMD_RESTORE) && !opts->dry_run;
}

static const char *command_word(enum dh_command c)
{
	return c == DH_CMD_RESTORE ? "restore" :
	       c == DH_CMD_RECOVER ? "recover" : "set";
}

/* ------------------------------------------------------------------ */
/* Open                                                               */

/* A hibernated Windows would write its in-memory registry back over the
 * change: refuse to write unless told otherwise; reading only warns. */
static int check_hibernation(struct run *run, struct dh_error **err)
{
	char *why;

	if (dh_target_hibernated(run->mem, run->target, &why, err) != 0)
		return -1;
	if (why == NULL)
		return 0;
	if (!dh_run_writes(run->opts) || run->opts->allow_hibernated)
		return dh_outcome_warn(run, why, err);
	return dh_error_set(run->mem, err, DH_ERR_HIBERNATED, "%s", why);
}

/* Readers do not lock: a commit replaces the file by rename, so a reader
 * sees the old inode or the new one, never a mix. Nor do they complete
 * what an earlier run left unfinished: they say so. (restore --dry-run
 * finds the backup set through an unlocked look at the hive.) */
static int open_to_read(struct run *run, struct dh_error **err)
{
	const struct dh_target *t = run->target;
	char *w;

	if (dh_journal_pending(t->dirfd, t->name)) {
		w = talloc_asprintf(run->mem, "an earlier run's change to %s is unfinished (journal %s.%s.deskheap-journal): what is shown is what Windows would load now; the next deskheap run that writes this hive completes it",
				    t->path, t->dir, t->name);
		if (w == NULL || dh_outcome_warn(run, w, err) != 0)
			return w == NULL ? dh_error_nomem(run->mem, err) : -1;
	}
	if (run->opts->command != DH_CMD_RESTORE)
		return dh_target_open_hive(run->mem, t, &run->fd, err);
	if (dh_lock_peek(run->mem, t->dirfd, t->name, t->path, &run->lock,
			 err) != 0)
		return -1;
	run->fd = run->lock->fd;
	return 0;
}

static enum dh_log_format asked_format(enum dh_logfmt f)
{
	return f == DH_LOGFMT_NEW ? DH_LOG_NEW :
	       f == DH_LOGFMT_OLD ? DH_LOG_OLD : DH_LOG_NONE;
}

/* In place, nothing to write the log record into: no log of a name the
 * Windows of format f reads (any, when f is not known) beside the hive. */
static int no_log(struct run *run, enum dh_log_format f, struct dh_error **err)
{
	return dh_error_set(run->mem, err, DH_ERR_ARGUMENT,
			    "an in-place commit writes a transaction log first, and %s has none beside it to write (%s, which Windows keeps): use --commit replace; %s",
			    run->target->path, f == DH_LOG_NEW ?
			    "a .LOG1 or .LOG2" : "a .LOG, .LOG1 or .LOG2",
			    DH_UNCHANGED);
}

int dh_run_choose_log(struct run *run, struct dh_error **err)
{
	const char *path = run->target->path;
	struct dh_logformat_choice c = { asked_format(run->opts->log_format),
					 NULL };
	struct dh_log_file first;
	int i;

	if (run->logs == NULL &&
	    dh_target_logs(run->mem, run->target, &run->logs, &run->n_logs,
			   err) != 0)
		return -1;
	if (run->n_logs == 0)
		return no_log(run, c.format, err);
	if (c.format == DH_LOG_NONE &&
	    dh_logformat_choose(run->mem, run->target, run->logs, run->n_logs,
				&c, err) != 0)
		return -1;
	if (c.format == DH_LOG_NONE)
		return dh_error_set(run->mem, err, DH_ERR_ARGUMENT,
				    "cannot tell which transaction-log format the Windows of %s writes (%s), and an in-place commit writes one: pass --log-format new (Windows 8.1 and later) or --log-format old (XP to 8), or --commit replace; %s",
				    path, c.why, DH_UNCHANGED);
	i = dh_commit_record_log(c.format, run->logs, run->n_logs);
	if (i < 0)
		return no_log(run, c.format, err);
	first = run->logs[0];
	run->logs[0] = run->logs[i];
	run->logs[i] = first;
	run->log_format = c.format;
	return 0;
}

/* Replace, or in place where a new file could not have the hive's
 * identity (commitchoice.h); a replace that would lose the hive's security
 * descriptor is refused, even when asked for. */
static int choose_commit(struct run *run, struct dh_error **err)
{
	enum dh_commit asked = run->opts->commit;
	struct dh_identity id;

	if (dh_commit_identity(run->mem, run->fd, run->target->path, &id,
			       err) != 0)
		return -1;
	if (run->image != NULL) {
		id.descriptor_lost = true;
		id.why = "a hive in a disk image is written in place: a file made there would get a new security descriptor, which nothing can set";
	}
	if (asked == DH_COMMIT_REPLACE && id.descriptor_lost)
		return dh_error_set(run->mem, err, DH_ERR_ARGUMENT,
				    "%s; --commit replace would give the hive that new descriptor: use --commit in-place (auto does); %s",
				    id.why, DH_UNCHANGED);
	run->commit = asked;
	if (asked == DH_COMMIT_AUTO) {
		run->commit = id.why != NULL ? DH_COMMIT_IN_PLACE
					     : DH_COMMIT_REPLACE;
		run->commit_reason = id.why;
	} else {
		run->commit_reason = talloc_asprintf(run->mem,
						     "asked for with --commit %s",
						     dh_commit_name(asked));
	}
	return run->commit == DH_COMMIT_IN_PLACE ? dh_run_choose_log(run, err) : 0;
}

/* Writers lock the hive (restore included), completing first what an
 * earlier run left unfinished. */
static int open_target(struct run *run, const char *given,
		       struct dh_error **err)
{
	struct dh_target *t;

	if (run->target == NULL &&
	    dh_target_resolve(run->mem, given, &run->target, err) != 0)
		return -1;
	t = run->target;
	run->report->hive = talloc_strdup(run->report, t->path);
	if (run->report->hive == NULL)
		return dh_error_nomem(run->mem, err);
	if (check_hibernation(run, err) != 0)
		return -1;
	if (!dh_run_writes(run->opts))
		return open_to_read(run, err);
	if (dh_lock_hive(run->mem, t->dirfd, t->name, t->path, &run->lock,
			 err) != 0)
		return -1;
	run->fd = run->lock->fd;
	if (run->lock->completed != NULL &&
	    dh_outcome_warn(run, run->lock->completed, err) != 0)
		return -1;
	if (!dh_run_writes(run->opts))
		return 0;
	if (choose_commit(run, err) != 0)
		return -1;
	return dh_target_replaceable(run->mem, t, run->fd, err);
}

/* ------------------------------------------------------------------ */
/* Read                                                               */

struct dh_txn_options dh_run_txn_options(const struct run *run)
{
	return (struct dh_txn_options){
		.backup_dir = run->backup_dir,
		.backup_dir_create = run->backup_dir_create,
		.no_backup = run->opts->no_backup,
		.command = command_word(run->opts->command),
		.in_place = run->commit == DH_COMMIT_IN_PLACE,
		.log_format = run->log_format,
		.ignore_logs = run->opts->ignore_logs,
		.record = run->record,
	};
}

/* Writers stage the new hive now: a copy of what the plan reads (the
 * hive, or in place its replayed state), in the kernel. */
static int begin_txn(struct run *run, struct dh_error **err)
{
	struct dh_txn_options o = dh_run_txn_options(run);
	struct stat st;
	int fd;

	if (dh_txn_begin(run->mem, run->lock, &o, &run->txn, err) != 0)
		return -1;
	if (run->reconciled >= 0)
		dh_txn_reconciled(run->txn, run->reconciled);
	fd = dh_txn_hive_fd(run->txn);
	if (fstat(run->source, &st) != 0 ||
	    dh_io_copy(run->source, fd, (size_t)st.st_size) != 0)
		return dh_error_io(run->mem, err, errno, DH_UNCHANGED,
				   "cannot copy %s to %s", run->report->hive,
				   dh_txn_hive_path(run->txn));
	run->source = fd;
	return 0;
}

/* The logs' changes into the copy at run->source. Their bytes are then let
 * go; their descriptors stay, for the backup set. */
struct dh_log_input *dh_run_log_inputs(struct run *run)
{
	struct dh_log_input *in = talloc_array(run->mem, struct dh_log_input,
					       run->n_logs ? run->n_logs : 1);

	for (size_t i = 0; in != NULL && i < run->n_logs; i++)
		in[i] = (struct dh_log_input){ run->logs[i].path,
					       run->logs[i].data,
					       run->logs[i].len };
	return in;
}

static int replay_logs(struct run *run, struct dh_error **err)
{
	struct dh_log_input *in = dh_run_log_inputs(run);
	struct dh_recovery *rec = NULL;
	int rc;

	if (in == NULL)
		return dh_error_nomem(run->mem, err);
	rc = dh_recover_apply_fd(run->mem, run->source, run->report->hive, in,
				 run->n_logs, &rec, err);
	for (size_t i = 0; i < run->n_logs; i++)
		TALLOC_FREE(run->logs[i].map);
	talloc_free(in);
	if (rc != 0)
		return -1;
	run->replayed = true;
	return dh_outcome_replay(run, rec, err);
}

/* A dirty hive, read: replayed into the staged new hive (replace) or into
 * a memory file (readers; in place, where it is also the state the commit
 * writes first). show carries on without the logs when they cannot be
 * used, saying so: it changes nothing, and the hive file's own values are
 * still worth seeing. */
static int read_dirty(struct run *run, struct dh_error **err)
{
	int *memfd;

	if (run->logs == NULL &&
	    dh_target_logs(run->mem, run->target, &run->logs, &run->n_logs,
			   err) != 0)
		return -1;
	if (dh_run_writes(run->opts) && run->commit != DH_COMMIT_IN_PLACE)
		return begin_txn(run, err) == 0 ? replay_logs(run, err) : -1;
	if (dh_hive_memfd(run->mem, run->fd, run->report->hive, &memfd,
			  err) != 0) {
		if (dh_run_writes(run->opts) && (*err)->message != NULL)
			(*err)->message = talloc_asprintf_append(
				(*err)->message, "; %s", DH_UNCHANGED);
		return -1;
	}
	run->source = *memfd;
	if (replay_logs(run, err) == 0) {
		if (dh_run_writes(run->opts))
			run->reconciled = run->source;
		return 0;
	}
	run->source = run->fd;
	if (run->opts->command == DH_CMD_SHOW && *err != NULL &&
	    (*err)->code == DH_ERR_DIRTY)
		return dh_outcome_warn(run, (*err)->message, err);
	return -1;
}

static int read_hive(struct run *run, struct dh_error **err)
{
	struct dh_report *r = run->report;
	struct dh_regf_header hdr;

	run->source = run->fd;
	if (dh_regf_read_fd(run->mem, run->fd, r->hive, &hdr, err) != 0)
		return -1;
	r->dirty_reason = dh_regf_dirty_reason(r, &hdr);
	r->dirty = r->dirty_reason != NULL;
	if (!r->dirty)
		return 0;
	if (run->opts->ignore_logs)
		return dh_outcome_warn(run, "the hive is dirty and --ignore-logs was given: the changes only its transaction logs hold are not used, and are lost if the hive is written", err);
	return read_dirty(run, err);
}

/* ------------------------------------------------------------------ */
/* Plan and edit                                                      */

static int plan(struct run *run, struct dh_error **err)
{
	const struct dh_options *opts = run->opts;
	const struct dh_values *want =
		opts->command == DH_CMD_SHOW ? NULL : &opts->values;

	if (dh_hive_open_fd(run->mem, run->source, run->report->hive, false,
			    &run->hive, err) != 0 ||
	    dh_patch_plan(run->mem, run->hive, opts->control_set, want,
			  &run->patch, err) != 0)
		return -1;
	return dh_outcome_plan(run, err);
}

static int put_edits(struct run *run, const struct dh_patch_edit *e,
		     size_t n, struct dh_error **err)
{
	for (size_t i = 0; i < n; i++) {
		if (dh_failpoint("write") != 0)
			return dh_error_errno(run->mem, err, DH_ERR_IO, errno,
					      "cannot write the new %s",
					      run->report->hive);
		if (dh_txn_write(run->txn, e[i].bytes, e[i].len, e[i].offset,
				 err) != 0)
			return -1;
	}
	return 0;
}

/* The changed keys and the base block get the time of the change, as
 * Windows gives them when it writes a value; renumbered (mark) unless
 * hivex, which wrote the new hive, did that already. */
static int stamp(struct run *run, const struct dh_patch_edit *stamps,
		 size_t n, uint64_t now, bool mark, struct dh_error **err)
{
	uint8_t block[DH_REGF_BASE_BLOCK_SIZE];

	if (put_edits(run, stamps, n, err) != 0 ||
	    dh_txn_read(run->txn, block, sizeof(block), 0, err) != 0)
		return -1;
	dh_regf_set_written_time(block, now);
	if (mark)
		dh_regf_mark_written(block);
	return dh_txn_write(run->txn, block, sizeof(block), 0, err);
}

/* Edits that do not fit in the value's own data cell: hivex, which holds
 * the edited hive whole in memory, rewrites all of it. */
static int rewrite(struct run *run, struct dh_error **err)
{
	int fd = dh_txn_hive_fd(run->txn), rc;

	if (dh_hive_open_fd(run->mem, fd, run->report->hive, true, &run->hive,
			    err) != 0 ||
	    dh_patch_apply(run->mem, run->hive, run->patch, err) != 0)
		return -1;
	rc = dh_failpoint("write") != 0 ?
		dh_error_errno(run->mem, err, DH_ERR_IO, errno,
			       "cannot write the new %s", run->report->hive) :
		dh_hive_commit_fd(run->mem, run->hive, fd, err);
	/* Written: its in-memory copy of the hive is not needed again. */
	TALLOC_FREE(run->hive);
	return rc;
}

/* In place, edits that fit: nothing is copied. The new hive is the
 * hive's state (replayed, when dirty) with the edits over it, held page by
 * page (txn.h); hivex stays open on the hive for verify_edits(). */
static int edit_in_place(struct run *run, const struct dh_patch_edit *edits,
			 size_t n_edits, const struct dh_patch_edit *stamps,
			 size_t n_stamps, uint64_t now, struct dh_error **err)
{
	struct dh_txn_options o = dh_run_txn_options(run);

	o.edits = true;
	if (dh_txn_begin(run->mem, run->lock, &o, &run->txn, err) != 0)
		return -1;
	if (run->reconciled >= 0)
		dh_txn_reconciled(run->txn, run->reconciled);
	if (put_edits(run, edits, n_edits, err) != 0)
		return -1;
	return stamp(run, stamps, n_stamps, now, true, err);
}

/* The plan carried out on the staged new hive. Most edits fit in the
 * value's own data cell: then only those bytes change, and every other
 * byte of the hive stays as it was. */
static int edit(struct run *run, struct dh_error **err)
{
	uint64_t now = dh_regf_filetime_now();
	struct dh_patch_edit *edits, *stamps;
	size_t n_edits, n_stamps;
	bool fit;

	if (dh_patch_edits(run->mem, run->hive, run->source, run->patch,
			   &edits, &n_edits, &fit, err) != 0 ||
	    dh_patch_stamps(run->mem, run->hive, run->patch, now, &stamps,
			    &n_stamps, err) != 0)
		return -1;
	if (fit && run->commit == DH_COMMIT_IN_PLACE && run->txn == NULL)
		return edit_in_place(run, edits, n_edits, stamps, n_stamps,
				     now, err);
	TALLOC_FREE(run->hive); /* done reading: let go of hivex's map */
	if (run->txn == NULL && begin_txn(run, err) != 0)
		return -1;
	if (!fit)
		return rewrite(run, err) == 0 ?
			stamp(run, stamps, n_stamps, now, false, err) : -1;
	if (put_edits(run, edits, n_edits, err) != 0)
		return -1;
	return stamp(run, stamps, n_stamps, now, true, err);
}

/* ------------------------------------------------------------------ */
/* Verify and commit                                                  */

static int read_new(void *txn, void *buf, size_t len, uint64_t off,
		    struct dh_error **err)
{
	return dh_txn_read(txn, buf, len, off, err);
}

/* The new hive's base block, read as hdr: it must be clean. */
static int check_block(struct run *run, const struct dh_regf_header *hdr,
		       const char *path, struct dh_error **err)
{
	if (dh_regf_dirty_reason(run->mem, hdr) == NULL)
		return 0;
	return dh_error_set(run->mem, err, DH_ERR_VERIFY,
			    "the new hive %s has an invalid base block", path);
}

/* Edits in place (edit_in_place()): each changed value read back from the
 * records and cells that hold it. The hive's structure is hivex's reading
 * of it: the edits changed no record's place or size, only data within
 * allocated cells. */
static int verify_edits(struct run *run, const struct dh_patch *patch,
			const char *path, struct dh_error **err)
{
	uint8_t block[DH_REGF_BASE_BLOCK_SIZE];
	struct dh_regf_header hdr;
	int rc;

	if (dh_txn_read(run->txn, block, sizeof(block), 0, err) != 0 ||
	    dh_regf_parse(run->mem, block, sizeof(block), path, &hdr, err) != 0 ||
	    check_block(run, &hdr, path, err) != 0)
		return -1;
	rc = dh_patch_verify_cells(run->mem, run->hive, read_new, run->txn,
				   patch, err);
	TALLOC_FREE(run->hive);
	return rc;
}

/* A whole new hive, read back as a hive: hivex opens it. */
static int verify_file(struct run *run, int fd, const struct dh_patch *patch,
		       const char *path, struct dh_error **err)
{
	struct dh_regf_header hdr;
	struct dh_hive *written;

	if (dh_regf_read_fd(run->mem, fd, path, &hdr, err) != 0 ||
	    check_block(run, &hdr, path, err) != 0 ||
	    dh_hive_open_fd(run->mem, fd, path, false, &written, err) != 0)
		return -1;
	if (patch != NULL && dh_patch_verify(run->mem, written, patch, err) != 0)
		return -1;
	talloc_free(written);
	return 0;
}

/* The new hive, synced, read back: a clean base block, and (patch) every
 * planned value there. */
static int verify(struct run *run, const struct dh_patch *patch,
		  struct dh_error **err)
{
	int fd = dh_txn_hive_fd(run->txn);
	const char *path = dh_txn_hive_path(run->txn);

	if (dh_txn_flush(run->txn, err) != 0)
		return -1;
	if (dh_failpoint("verify") != 0)
		return dh_error_set(run->mem, err, DH_ERR_VERIFY,
				    "%s did not verify (injected)", path);
	return fd < 0 ? verify_edits(run, patch, path, err) :
			verify_file(run, fd, patch, path, err);
}

int dh_run_commit(struct run *run, const char *note, struct dh_error **err)
{
	struct dh_txn *t = run->txn;
	struct dh_txn_result *res = NULL;
	int rc;

	run->txn = NULL; /* spent, whatever happens */
	rc = dh_txn_commit(t, note, run->mem, &res, err);
	talloc_free(t);
	dh_outcome_backup(run, res);
	if (rc == 0 || res != NULL)
		dh_outcome_commit(run);
	if (rc == 0)
		rc = dh_outcome_read_only(run, err);
	return rc;
}

/* A replayed hive is written clean: its logs then hold nothing Windows
 * would replay, so each is replaced by an empty file, the original kept
 * in the backup set. Without a backup they are left as they are (the
 * only copy of their data, and ignored beside a clean hive). In place,
 * every log is given: the first takes the record, the others are emptied
 * (inplace.h). */
static int retire_logs(struct run *run, struct dh_error **err)
{
	size_t dirlen = strlen(run->target->dir);

	if (run->commit != DH_COMMIT_IN_PLACE &&
	    (!run->replayed || run->opts->no_backup))
		return 0;
	for (size_t i = 0; i < run->n_logs; i++) {
		const struct dh_log_file *l = &run->logs[i];

		if (dh_txn_replace_log(run->txn, l->fd, l->path,
				       l->path + dirlen, l->suffix, -1,
				       err) != 0)
			return -1;
	}
	return 0;
}

static int write_out(struct run *run, const struct dh_patch *patch,
		     struct dh_error **err)
{
	if (verify(run, patch, err) != 0 || retire_logs(run, err) != 0)
		return -1;
	return dh_run_commit(run, NULL, err);
}

/* ------------------------------------------------------------------ */
/* The commands                                                       */

static int run_set(struct run *run, struct dh_error **err)
{
	if (plan(run, err) != 0)
		return -1;
	if (run->report->status != DH_STATUS_CHANGED)
		return 0;
	if (edit(run, err) != 0)
		return -1;
	return write_out(run, run->patch, err);
}

/* recover: any hive, no SharedSection. The replayed hive is the result,
 * once hivex has shown it can read it; with --ignore-logs, the hive file
 * as it is, marked clean. A dry run still shows whether hivex reads what
 * it would write. */
static int run_recover(struct run *run, struct dh_error **err)
{
	struct dh_report *r = run->report;

	r->status = dh_outcome_status(run->opts, r->dirty);
	if (!r->dirty)
		return 0;
	if (r->status == DH_STATUS_WOULD_CHANGE)
		return dh_hive_open_fd(run->mem, run->source, r->hive, false,
				       &run->hive, err);
	if (run->txn == NULL && (begin_txn(run, err) != 0 ||
				 stamp(run, NULL, 0, dh_regf_filetime_now(),
				       true, err) != 0))
		return -1;
	return write_out(run, NULL, err);
}

int dh_run_steps(struct run *run, const char *given, struct dh_error **err)
{
	if (open_target(run, given, err) != 0)
		return -1;
	if (run->opts->command == DH_CMD_RESTORE)
		return dh_run_restore(run, err);
	if (read_hive(run, err) != 0)
		return -1;
	if (run->opts->command == DH_CMD_RECOVER)
		return run_recover(run, err);
	return run_set(run, err);
}

/* A run that stopped with its new hive staged: everything it made goes,
 * and the message says that the hive was not changed. */
static void abandon(struct run *run, struct dh_error *err)
{
	if (err != NULL && err->message != NULL)
		err->message = talloc_asprintf_append(err->message, "; %s",
						      DH_UNCHANGED);
	dh_txn_abort(run->txn, &err);
	run->txn = NULL;
}

/* The caller's options, as many bytes of them as its size says (a program
 * built against an older header passes fewer), the rest zero. */
static int take_options(TALLOC_CTX *mem, const struct dh_options *given,
			struct dh_options *o, struct dh_error **err)
{
	size_t need = offsetof(struct dh_options, command) + sizeof o->command;

	*o = (struct dh_options){ .size = sizeof *o };
	if (given == NULL || given->size < need)
		return dh_error_set(mem, err, DH_ERR_ARGUMENT,
				    "the options passed to dh_run_target() "
				    "are missing or too small (size %zu); set "
				    "size to sizeof(struct dh_options), or use "
				    "DH_OPTIONS_INIT()",
				    given ? given->size : 0);
	memcpy(o, given, given->size < sizeof *o ? given->size : sizeof *o);
	o->size = sizeof *o;
	return 0;
}

int dh_run_begin(struct run *run, struct dh_report *r,
		 const struct dh_options *o)
{
	*run = (struct run){ .report = r, .opts = o, .fd = -1, .source = -1,
			     .reconciled = -1, .backup_dir = o->backup_dir,
			     .backup_dir_create = o->backup_dir_create };
	r->command = o->command;
	run->mem = talloc_new(r);
	return run->mem != NULL ? 0 : -1;
}

static int failed(struct dh_report *r, struct dh_error *err)
{
	if (err == NULL)
		return -1;
	r->status = DH_STATUS_FAILED;
	r->error = talloc_steal(r, err);
	return 0;
}

int dh_run_end(struct run *run, int rc, struct dh_error *err)
{
	if (run->txn != NULL) /* failed, or found nothing to write */
		abandon(run, rc != 0 ? err : NULL);
	rc = rc != 0 ? failed(run->report, err) : 0;
	TALLOC_FREE(run->mem);
	return rc;
}

struct dh_report *dh_run_target(TALLOC_CTX *mem, const struct dh_options *opts,
				const char *target)
{
	struct dh_report *r = talloc_zero(mem, struct dh_report);
	struct dh_error *err = NULL;
	struct dh_options o;
	struct run run;
	int rc;

	if (r == NULL || (r->target = talloc_strdup(r, target)) == NULL ||
	    (r->hive = talloc_strdup(r, target)) == NULL)
		goto nomem;
	rc = take_options(r, opts, &o, &err);
	if (rc == 0)
		rc = dh_image_run(&o, target, r, &err);
	if (rc < 0 && failed(r, err) != 0)
		goto nomem;
	if (rc != 0)
		return r;
	if (dh_run_begin(&run, r, &o) != 0)
		goto nomem;
	rc = dh_run_steps(&run, target, &err);
	if (dh_run_end(&run, rc, err) != 0)
		goto nomem;
	return r;
nomem:
	talloc_free(r);
	return NULL;
}
