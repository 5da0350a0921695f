/*
 * One target, start to end: the pipeline of the design.
 * target -> resolved, locked/opened file -> base block (dirty?) -> logs ->
 * recovered copy (the new file for set and recover, else a memory file) ->
 * hivex handle -> patch plan -> commit -> report.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "commit.h"
#include "error.h"
#include "failpoint.h"
#include "hive.h"
#include "io.h"
#include "patch.h"
#include "recover.h"
#include "regf.h"
#include "target.h"

/* What one run holds while it works; everything hangs off one context. */
struct run {
	TALLOC_CTX *mem;              /* what lives until the report is done */
	const struct dh_options *opts;
	struct dh_report *report;
	struct dh_target *target;
	int fd;                       /* the hive, open (and locked for set) */
	struct dh_locked *lock;
	struct dh_hive *hive;
	struct dh_patch *patch;
	int *recovered;               /* a memory file holding the recovered
				       * hive, else NULL */
	int source;                   /* what hivex reads: fd or *recovered */
	struct dh_log_file *logs;     /* the logs found (when dirty, or restore) */
	size_t n_logs;
	struct dh_log_input *log_in;  /* their bytes, until replayed */
	bool replay_in_commit;        /* set/recover: replay into the new file */
	struct dh_recovery *recovery;
	struct dh_patch_edit *edits;  /* set: the bytes to change in place */
	size_t n_edits;
};

static bool writes(const struct dh_options *opts)
{
	return (opts->command == DH_CMD_SET || opts->command == DH_CMD_RECOVER ||
		opts->command == DH_CMD_RESTORE) && !opts->dry_run;
}

static int add_warning(struct dh_report *r, const char *text)
{
	char **w = talloc_realloc(r, r->warnings, char *, r->n_warnings + 1);

	if (w == NULL)
		return -1;
	r->warnings = w;
	if ((w[r->n_warnings] = talloc_strdup(w, text)) == NULL)
		return -1;
	r->n_warnings++;
	return 0;
}

/* A hibernated Windows would write its in-memory registry back over the
 * change: refuse to write unless told otherwise; reading only warns. */
static int check_hibernation(TALLOC_CTX *mem, struct run *run,
			     struct dh_error **err)
{
	char *why;

	if (dh_target_hibernated(mem, run->target, &why, err) != 0)
		return -1;
	if (why == NULL)
		return 0;
	if (!writes(run->opts) || run->opts->allow_hibernated)
		return add_warning(run->report, why) == 0 ? 0 :
			dh_error_set(mem, err, DH_ERR_NOMEM, "out of memory");
	return dh_error_set(mem, err, DH_ERR_HIBERNATED, "%s", why);
}

/* Writers lock the hive; readers need not: a commit replaces the file by
 * rename, so a reader sees the old inode or the new one, never a mix. */
static int open_target(TALLOC_CTX *mem, struct run *run, const char *given,
		       struct dh_error **err)
{
	struct dh_target *t;

	if (dh_target_resolve(mem, given, &run->target, err) != 0)
		return -1;
	t = run->target;
	run->report->hive = talloc_strdup(run->report, t->path);
	if (run->report->hive == NULL)
		return dh_error_set(mem, err, DH_ERR_NOMEM, "out of memory");
	if (check_hibernation(mem, run, err) != 0)
		return -1;
	/* restore locks even for a dry run: finding the backup set goes
	 * through the lock's directory. */
	if (!writes(run->opts) && run->opts->command != DH_CMD_RESTORE)
		return dh_target_open_hive(mem, t, &run->fd, err);
	if (dh_commit_lock(mem, t->dirfd, t->name, t->path, &run->lock, err) != 0)
		return -1;
	run->fd = run->lock->fd;
	return 0;
}

static int report_logs(struct run *run)
{
	struct dh_report *r = run->report;
	const struct dh_recovery *rec = run->recovery;

	r->log_entries_applied = rec->entries_applied;
	r->log_pages_applied = rec->pages_applied;
	r->logs_applied = talloc_zero_array(r, char *, rec->n_logs);
	if (rec->n_logs > 0 && r->logs_applied == NULL)
		return -1;
	for (size_t i = 0; i < rec->n_logs; i++) {
		if (!rec->logs[i].used)
			continue;
		r->logs_applied[r->n_logs_applied] =
			talloc_strdup(r->logs_applied, rec->logs[i].path);
		if (r->logs_applied[r->n_logs_applied] == NULL)
			return -1;
		r->n_logs_applied++;
	}
	return 0;
}

/* Replay the logs into fd, a copy of the primary. Their bytes are in the
 * copy then and are let go; the descriptors stay, for the backup set. */
static int replay_into(struct run *run, int fd, struct dh_error **err)
{
	int rc = dh_recover_apply_fd(run->mem, fd, run->report->hive,
				     run->log_in, run->n_logs, &run->recovery,
				     err);

	for (size_t i = 0; i < run->n_logs; i++)
		TALLOC_FREE(run->logs[i].map);
	TALLOC_FREE(run->log_in);
	return rc != 0 ? rc : report_logs(run);
}

/* The logs of a dirty hive, read. set and recover replay them into the new
 * file itself (see write_replayed()): the hive is then copied once, in the
 * kernel. The others replay into a memory copy; show carries on without
 * the logs when they cannot be used (saying so): it changes nothing, and
 * the hive file's own values are still worth seeing. */
static int replay(TALLOC_CTX *mem, struct run *run, const char *path,
		  struct dh_error **err)
{
	size_t n = 0;
	int rc;

	if (dh_target_logs(mem, run->target, &run->logs, &n, err) != 0)
		return -1;
	run->n_logs = n;
	run->log_in = talloc_array(mem, struct dh_log_input, n ? n : 1);
	if (run->log_in == NULL)
		return dh_error_set(mem, err, DH_ERR_NOMEM, "out of memory");
	for (size_t i = 0; i < n; i++)
		run->log_in[i] = (struct dh_log_input){ run->logs[i].path,
							run->logs[i].data,
							run->logs[i].len };
	run->replay_in_commit = writes(run->opts);
	if (run->replay_in_commit)
		return 0;
	if (dh_hive_memfd(mem, run->fd, path, &run->recovered, err) != 0)
		return -1;
	rc = replay_into(run, *run->recovered, err);
	if (rc != 0)
		TALLOC_FREE(run->recovered);
	if (rc != 0 && run->opts->command == DH_CMD_SHOW && *err != NULL &&
	    (*err)->code == DH_ERR_DIRTY)
		return add_warning(run->report, (*err)->message) == 0 ? 0 :
			dh_error_set(mem, err, DH_ERR_NOMEM, "out of memory");
	return rc;
}

static int check_dirty(TALLOC_CTX *mem, struct run *run, const char *path,
		       struct dh_error **err)
{
	struct dh_regf_header hdr;
	char *why;

	if (dh_regf_read_fd(mem, run->fd, path, &hdr, err) != 0)
		return -1;
	why = dh_regf_dirty_reason(run->report, &hdr);
	run->report->dirty = why != NULL;
	run->report->dirty_reason = why;
	if (why == NULL)
		return 0;
	if (run->opts->ignore_logs)
		return add_warning(run->report, "the hive is dirty and --ignore-logs was given: the changes only its transaction logs hold are not used, and are lost if the hive is written");
	return replay(mem, run, path, err);
}

/* hivex reads the hive for planning only (it maps it, no copy): source
 * is the file itself, or a recovered copy. */
static int open_hive(TALLOC_CTX *mem, struct run *run, int source,
		     struct dh_error **err)
{
	run->source = source;
	return dh_hive_open_fd(mem, source, run->report->hive, false,
			       &run->hive, err);
}

static int fill_control_sets(struct dh_report *r, const struct dh_patch *p)
{
	r->control_sets = talloc_zero_array(r, struct dh_controlset_report,
					    p->n_items);
	if (r->control_sets == NULL)
		return -1;
	for (size_t i = 0; i < p->n_items; i++) {
		const struct dh_patch_item *it = &p->items[i];
		struct dh_controlset_report *c = &r->control_sets[i];

		c->name = talloc_strdup(r->control_sets, it->cs.name);
		c->number = it->cs.number;
		c->roles = it->cs.roles;
		c->before = dh_sharedsection_token_text(r->control_sets,
							it->before.units,
							&it->tok_before);
		c->after = dh_sharedsection_token_text(r->control_sets,
						       it->after.units,
						       &it->tok_after);
		c->before_values = it->tok_before.values;
		c->after_values = it->tok_after.values;
		c->changed = it->changed;
		if (c->name == NULL || c->before == NULL || c->after == NULL)
			return -1;
	}
	r->n_control_sets = p->n_items;
	for (size_t i = 0; i < p->n_warnings; i++)
		if (add_warning(r, p->warnings[i]) != 0)
			return -1;
	return 0;
}

/* A written hive must have a clean base block and open with hivex. */
static int verify_clean(TALLOC_CTX *mem, int fd, const char *path,
			struct dh_hive **written, struct dh_error **err)
{
	struct dh_regf_header hdr;

	if (dh_regf_read_fd(mem, fd, path, &hdr, err) != 0)
		return -1;
	if (dh_regf_dirty_reason(mem, &hdr) != NULL)
		return dh_error_set(mem, err, DH_ERR_VERIFY,
				    "the new hive %s has an invalid base block",
				    path);
	return dh_hive_open_fd(mem, fd, path, false, written, err);
}

/* Only the edited bytes written over fd, a copy of the hive they were
 * planned on, and the base block marked as written anew: every other byte
 * of the hive stays as it was. */
static int write_edits(struct run *run, int fd, TALLOC_CTX *mem,
		       struct dh_error **err)
{
	const char *name = run->report->hive;
	uint8_t block[DH_REGF_BASE_BLOCK_SIZE];

	for (size_t i = 0; i < run->n_edits; i++)
		if (dh_failpoint("write") != 0 ||
		    dh_io_pwrite_all(fd, run->edits[i].bytes, run->edits[i].len,
				     (off_t)run->edits[i].offset) != 0)
			return dh_error_errno(mem, err, DH_ERR_IO, errno,
					      "cannot write the new %s", name);
	if (dh_io_pread_full(fd, block, sizeof(block), 0) != (ssize_t)sizeof(block))
		return dh_error_errno(mem, err, DH_ERR_IO, errno,
				      "cannot read back the new %s", name);
	dh_regf_mark_written(block);
	if (dh_io_pwrite_all(fd, block, sizeof(block), 0) != 0)
		return dh_error_errno(mem, err, DH_ERR_IO, errno,
				      "cannot write the new %s", name);
	return 0;
}

/* The whole of the file open at src into fd, in the kernel. */
static int copy_file(int src, int fd, const char *name, TALLOC_CTX *mem,
		     struct dh_error **err)
{
	struct stat st;

	if (fstat(src, &st) != 0 || dh_io_copy(src, fd, (size_t)st.st_size) != 0)
		return dh_error_errno(mem, err, DH_ERR_IO, errno,
				      "cannot copy %s", name);
	return 0;
}

/* A clean hive: the source copied, then the edits. */
static int write_edited(void *arg, int fd, TALLOC_CTX *mem,
			struct dh_error **err)
{
	struct run *run = arg;

	if (copy_file(run->source, fd, run->report->hive, mem, err) != 0)
		return -1;
	return write_edits(run, fd, mem, err);
}

/* Edits that do not fit in place: hivex, which holds the edited hive
 * whole in memory, writes all of it. */
static int write_patched(void *arg, int fd, TALLOC_CTX *mem,
			 struct dh_error **err)
{
	struct run *run = arg;
	int rc = dh_failpoint("write") != 0 ?
		dh_error_errno(mem, err, DH_ERR_IO, errno, "cannot write the new %s",
			       dh_hive_name(run->hive)) :
		dh_hive_commit_fd(mem, run->hive, fd, err);

	/* Written: its in-memory copy of the hive is not needed again, and
	 * the verify step is about to read the file. */
	TALLOC_FREE(run->hive);
	return rc;
}

/* ... and hold exactly the planned values. */
static int verify_patched(void *arg, int fd, const char *path,
			  TALLOC_CTX *mem, struct dh_error **err)
{
	struct run *run = arg;
	struct dh_hive *written;

	if (verify_clean(mem, fd, path, &written, err) != 0)
		return -1;
	return dh_patch_verify(mem, written, run->patch, err);
}

/* A file of a backup set being put back: its bytes become the new file. */
struct blob {
	int fd;                  /* read from offset 0 to len */
	size_t len;
	const char *what;        /* its path, for messages */
};

static int write_blob(void *arg, int fd, TALLOC_CTX *mem, struct dh_error **err)
{
	const struct blob *b = arg;

	if (dh_io_copy(b->fd, fd, b->len) != 0)
		return dh_error_errno(mem, err, DH_ERR_IO, errno,
				      "cannot write %s", b->what);
	return 0;
}

/* The written file must read back byte for byte as the blob. */
static int verify_blob(void *arg, int fd, const char *path, TALLOC_CTX *mem,
		       struct dh_error **err)
{
	const struct blob *b = arg;
	int same = dh_io_same(fd, b->fd);

	if (same < 0)
		return dh_error_errno(mem, err, DH_ERR_IO, errno,
				      "cannot read back %s", path);
	if (same == 0)
		return dh_error_set(mem, err, DH_ERR_VERIFY,
				    "%s did not read back as written", path);
	return 0;
}

/* The logs that go into the backup set with the hive: every log there is
 * when the commit replays them (which ones it uses is known only then),
 * or restores; else none. */
static int companions(TALLOC_CTX *mem, const struct run *run,
		      struct dh_commit_request *req)
{
	bool all = run->replay_in_commit ||
		   run->opts->command == DH_CMD_RESTORE;
	struct dh_commit_companion *c;
	size_t n = all ? run->n_logs : 0;

	c = talloc_array(mem, struct dh_commit_companion, n ? n : 1);
	if (c == NULL)
		return -1;
	for (size_t i = 0; i < n; i++)
		c[i] = (struct dh_commit_companion){
			run->logs[i].fd, run->logs[i].path, run->logs[i].suffix,
			run->logs[i].path + strlen(run->target->dir) };
	req->companions = c;
	req->n_companions = n;
	return 0;
}

static int report_backup(struct dh_report *r, char *backup,
			 const struct dh_commit_request *req)
{
	r->backup = talloc_steal(r, backup);
	if (backup == NULL)
		return 0;
	r->backup_logs = talloc_array(r, char *, req->n_companions ? req->n_companions : 1);
	if (r->backup_logs == NULL)
		return -1;
	for (size_t i = 0; i < req->n_companions; i++) {
		char *p = talloc_asprintf(r->backup_logs, "%s%s", backup,
					  req->companions[i].suffix);

		if (p == NULL)
			return -1;
		r->backup_logs[r->n_backup_logs++] = p;
	}
	return 0;
}

static int commit(TALLOC_CTX *mem, struct run *run, dh_commit_write_fn write,
		  dh_commit_verify_fn verify, void *arg, struct dh_error **err)
{
	struct dh_commit_request req = {
		.hive = run->lock,
		.backup_dir = run->opts->backup_dir,
		.backup_dir_create = run->opts->backup_dir_create,
		.no_backup = run->opts->no_backup,
		/* Replayed: the hive is written clean, so its logs hold nothing
		 * more for Windows; the originals go into the backup set. */
		.retire_companions = run->replay_in_commit,
		.write = write,
		.verify = verify,
		.arg = arg,
	};
	char *backup = NULL;
	int rc;

	if (companions(mem, run, &req) != 0)
		return dh_error_set(mem, err, DH_ERR_NOMEM, "out of memory");
	rc = dh_commit_replace(mem, &req, &backup, err);
	if (rc != 0)
		return rc < 0 ? -1 : 0;  /* 1: nothing to write, none made */
	if (report_backup(run->report, backup, &req) != 0)
		return dh_error_set(mem, err, DH_ERR_NOMEM, "out of memory");
	return 0;
}

static enum dh_status outcome(const struct dh_options *opts, bool any_change)
{
	if (opts->command == DH_CMD_SHOW)
		return DH_STATUS_SHOWN;
	if (!any_change)
		return DH_STATUS_UNCHANGED;
	if (opts->command == DH_CMD_CHECK || opts->dry_run)
		return DH_STATUS_WOULD_CHANGE;
	return DH_STATUS_CHANGED;
}

/* recover, dirty: the primary copied into the new file in the kernel, and
 * the logs replayed into it there. */
static int write_recovered(void *arg, int fd, TALLOC_CTX *mem,
			   struct dh_error **err)
{
	struct run *run = arg;

	if (copy_file(run->fd, fd, run->report->hive, mem, err) != 0)
		return -1;
	return replay_into(run, fd, err);
}

static int verify_recovered(void *arg, int fd, const char *path,
			    TALLOC_CTX *mem, struct dh_error **err)
{
	struct dh_hive *written;

	(void)arg;
	if (verify_clean(mem, fd, path, &written, err) != 0)
		return -1;
	talloc_free(written);
	return 0;
}

/* recover: any hive, no SharedSection; the replayed hive is the result,
 * once hivex has shown it can read it. With --ignore-logs, the hive file
 * as it is, written back clean (write_edited with no edits), as set
 * does. */
static int run_recover(TALLOC_CTX *mem, struct run *run,
		       struct dh_error **err)
{
	bool dirty = run->report->dirty;
	int replayed = run->recovered != NULL ? *run->recovered : run->fd;

	run->report->status = outcome(run->opts, dirty);
	if (!dirty)
		return 0;
	/* A dry run still shows whether hivex reads the result; a real run
	 * finds out when it verifies the written file. */
	if (run->report->status == DH_STATUS_WOULD_CHANGE)
		return open_hive(mem, run, replayed, err);
	if (!run->opts->ignore_logs)
		return commit(mem, run, write_recovered, verify_recovered, run,
			      err);
	run->source = run->fd;
	return commit(mem, run, write_edited, verify_recovered, run, err);
}

/* The edits the plan needs, against the hive open at run->source. Most fit
 * in the value's own data cell: then only those bytes change (*write is
 * write_edits). Otherwise hivex rewrites the hive, from a writable copy
 * (write_patched). */
static int prepare_edits(TALLOC_CTX *mem, struct run *run, bool *fit,
			 struct dh_error **err)
{
	if (dh_patch_edits(mem, run->hive, run->source, run->patch, &run->edits,
			   &run->n_edits, fit, err) != 0)
		return -1;
	/* Done reading: let go of hivex's map of the source. */
	TALLOC_FREE(run->hive);
	if (*fit)
		return 0;
	if (dh_hive_open_fd(mem, run->source, run->report->hive, true,
			    &run->hive, err) != 0)
		return -1;
	return dh_patch_apply(mem, run->hive, run->patch, err);
}

/* Open the hive at source with hivex, plan, and report the plan. */
static int plan(TALLOC_CTX *mem, struct run *run, int source,
		struct dh_error **err)
{
	const struct dh_options *opts = run->opts;
	const struct dh_values *want =
		opts->command == DH_CMD_SHOW ? NULL : &opts->values;

	if (open_hive(mem, run, source, err) != 0)
		return -1;
	if (dh_patch_plan(mem, run->hive, opts->control_set, want, &run->patch,
			  err) != 0)
		return -1;
	if (fill_control_sets(run->report, run->patch) != 0)
		return dh_error_set(mem, err, DH_ERR_NOMEM, "out of memory");
	run->report->status = outcome(opts, run->patch->any_change);
	return 0;
}

/* set, dirty: the primary copied into the new file in the kernel, the logs
 * replayed into it there, and the plan made and carried out on it. Nothing
 * to change: 1, and the commit makes nothing. */
static int write_replayed(void *arg, int fd, TALLOC_CTX *mem,
			  struct dh_error **err)
{
	struct run *run = arg;
	bool fit;

	if (copy_file(run->fd, fd, run->report->hive, mem, err) != 0 ||
	    replay_into(run, fd, err) != 0 || plan(run->mem, run, fd, err) != 0)
		return -1;
	if (run->report->status != DH_STATUS_CHANGED)
		return 1;
	if (prepare_edits(run->mem, run, &fit, err) != 0)
		return -1;
	return fit ? write_edits(run, fd, mem, err)
		   : write_patched(run, fd, mem, err);
}

static int commit_patch(TALLOC_CTX *mem, struct run *run,
			struct dh_error **err)
{
	bool fit;

	if (prepare_edits(mem, run, &fit, err) != 0)
		return -1;
	return commit(mem, run, fit ? write_edited : write_patched,
		      verify_patched, run, err);
}

static int run_patch(TALLOC_CTX *mem, struct run *run, struct dh_error **err)
{
	if (run->replay_in_commit)
		return commit(mem, run, write_replayed, verify_patched, run, err);
	if (plan(mem, run, run->recovered != NULL ? *run->recovered : run->fd,
		 err) != 0)
		return -1;
	if (run->report->status != DH_STATUS_CHANGED)
		return 0;
	return commit_patch(mem, run, err);
}

/* Open a file of the backup set, never through a link. */
static int open_backup_file(TALLOC_CTX *mem, const struct run *run,
			    const struct dh_backup_set *set, const char *name,
			    struct blob *b, struct dh_error **err)
{
	char *path = talloc_asprintf(mem, "%s%s", set->dir, name);
	struct stat st;
	int fd, *owned;

	if (path == NULL)
		return dh_error_set(mem, err, DH_ERR_NOMEM, "out of memory");
	/* O_NONBLOCK: a FIFO that took the name is refused below, not
	 * waited on. */
	fd = run->opts->backup_dir ?
		open(path, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC) :
		openat(run->lock->dirfd, name,
		       O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return dh_error_errno(mem, err, DH_ERR_IO, errno,
				      "cannot open backup %s", path);
	if ((owned = dh_io_fd_owned(mem, fd)) == NULL)
		return dh_error_set(mem, err, DH_ERR_NOMEM, "out of memory");
	if (fstat(fd, &st) != 0)
		return dh_error_errno(mem, err, DH_ERR_IO, errno,
				      "cannot stat backup %s", path);
	if (!S_ISREG(st.st_mode))
		return dh_error_set(mem, err, DH_ERR_ARGUMENT,
				    "backup %s is not a regular file: it is not put back",
				    path);
	*b = (struct blob){ fd, (size_t)st.st_size, path };
	return 0;
}

/* A backup to put back must at least be a whole hive: signed, and as long
 * as its base block says (it may be dirty: deskheap keeps dirty originals). */
static int check_complete(TALLOC_CTX *mem, const struct blob *b,
			  struct dh_error **err)
{
	struct dh_regf_header h;

	if (dh_regf_read_fd(mem, b->fd, b->what, &h, err) != 0)
		return -1;
	if (b->len < (size_t)DH_REGF_BASE_BLOCK_SIZE + h.bins_size)
		return dh_error_set(mem, err, DH_ERR_NOT_HIVE,
				    "backup %s is not a complete hive (%zu bytes, its base block says %u): it is not put back; choose another with --backup-dir or restore by hand",
				    b->what, b->len, DH_REGF_BASE_BLOCK_SIZE + h.bins_size);
	return 0;
}

/* The live log a backed-up log copy goes back over: same suffix, any
 * letter case. */
static const struct dh_log_file *live_log(const struct run *run,
					  const char *suffix)
{
	for (size_t i = 0; i < run->n_logs; i++)
		if (strcasecmp(run->logs[i].suffix, suffix) == 0)
			return &run->logs[i];
	return NULL;
}

/* Put a backed-up log back, atomically, unless it already is as saved.
 * Its present state is already in the backup set this restore made. */
static int restore_log(TALLOC_CTX *mem, struct run *run,
		       const struct dh_backup_set *set, const char *copy,
		       struct dh_error **err)
{
	const char *suffix = copy + strlen(set->hive);
	const struct dh_log_file *live = live_log(run, suffix);
	struct dh_commit_request req = { .no_backup = true,
					 .write = write_blob,
					 .verify = verify_blob };
	struct dh_locked *lock;
	struct blob b;
	int same;

	if (open_backup_file(mem, run, set, copy, &b, err) != 0)
		return -1;
	if (live == NULL) {
		char *w = talloc_asprintf(mem, "%s%s: no such log beside the hive, so it was not put back (%s%s is in the backup set)",
					  run->target->path, suffix, set->dir, copy);

		return w != NULL && add_warning(run->report, w) == 0 ? 0 :
			dh_error_set(mem, err, DH_ERR_NOMEM, "out of memory");
	}
	same = dh_io_same(live->fd, b.fd);
	if (same < 0)
		return dh_error_errno(mem, err, DH_ERR_IO, errno,
				      "cannot compare %s with %s", live->path,
				      b.what);
	if (same == 1)
		return 0;
	if (dh_commit_lock(mem, run->target->dirfd, live->path + strlen(run->target->dir),
			   live->path, &lock, err) != 0)
		return -1;
	req.hive = lock;
	req.arg = &b;
	return dh_commit_replace(mem, &req, NULL, err);
}

/* restore: the newest backup set goes back, hive first (with a backup of
 * what it replaces, logs included), then its logs. deskheap never writes
 * the logs itself, so they normally match already. */
static int run_restore(TALLOC_CTX *mem, struct run *run,
		       struct dh_error **err)
{
	struct dh_backup_set *set;
	struct blob b;

	if (dh_commit_find_backup(mem, run->lock, run->opts->backup_dir, true,
				  &set, err) != 0)
		return -1;
	run->report->restored_from = talloc_asprintf(run->report, "%s%s", set->dir, set->hive);
	if (run->report->restored_from == NULL)
		return dh_error_set(mem, err, DH_ERR_NOMEM, "out of memory");
	run->report->status = run->opts->dry_run ? DH_STATUS_WOULD_CHANGE
						 : DH_STATUS_CHANGED;
	if (run->opts->dry_run)
		return 0;
	if (dh_target_logs(mem, run->target, &run->logs, &run->n_logs, err) != 0 ||
	    open_backup_file(mem, run, set, set->hive, &b, err) != 0 ||
	    check_complete(mem, &b, err) != 0 ||
	    commit(mem, run, write_blob, verify_blob, &b, err) != 0)
		return -1;
	for (size_t i = 0; i < set->n_logs; i++)
		if (restore_log(mem, run, set, set->logs[i], err) != 0)
			return -1;
	return 0;
}

static int run_steps(TALLOC_CTX *mem, struct run *run, const char *given,
		     struct dh_error **err)
{
	const char *path;

	if (open_target(mem, run, given, err) != 0)
		return -1;
	path = run->target->path;
	if (run->opts->command == DH_CMD_RESTORE)
		return run_restore(mem, run, err);
	if (check_dirty(mem, run, path, err) != 0)
		return -1;
	if (run->opts->command == DH_CMD_RECOVER)
		return run_recover(mem, run, err);
	return run_patch(mem, run, err);
}

struct dh_report *dh_run_target(TALLOC_CTX *mem, const struct dh_options *opts,
				const char *target)
{
	struct dh_report *r = talloc_zero(mem, struct dh_report);
	TALLOC_CTX *work = talloc_new(r);
	struct run run = { .opts = opts, .report = r, .fd = -1 };
	struct dh_error *err = NULL;

	if (r == NULL || work == NULL)
		goto nomem;
	r->target = talloc_strdup(r, target);
	r->hive = talloc_strdup(r, target);
	if (r->target == NULL || r->hive == NULL)
		goto nomem;
	run.mem = work;
	if (run_steps(work, &run, target, &err) != 0) {
		if (err == NULL)
			goto nomem;
		r->status = DH_STATUS_FAILED;
		r->error = talloc_steal(r, err);
	}
	talloc_free(work);
	return r;
nomem:
	talloc_free(r);
	return NULL;
}
