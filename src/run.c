/*
 * One target, start to end: the pipeline of the design.
 * target -> resolved, locked/opened file -> base block (dirty?) -> bytes + logs ->
 * recovered bytes -> hivex handle -> patch plan -> commit -> report.
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
	const struct dh_options *opts;
	struct dh_report *report;
	struct dh_target *target;
	int fd;                       /* the hive, open (and locked for set) */
	struct dh_locked *lock;
	struct dh_hive *hive;
	struct dh_patch *patch;
	uint8_t *bytes;               /* a recovered hive, else NULL */
	size_t len;
	int source;                   /* what hivex reads: fd, or a memory
				       * file holding the recovered hive */
	struct dh_log_file *logs;     /* the logs found (when dirty, or restore) */
	size_t n_logs;
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

/* Replay the logs of a dirty hive into memory. show carries on without
 * them (saying so): it changes nothing, and the hive file's own values are
 * still worth seeing. */
static int replay(TALLOC_CTX *mem, struct run *run, const char *path,
		  struct dh_error **err)
{
	struct dh_log_input *in;
	size_t n = 0;
	int rc;

	if (dh_target_read_fd(mem, run->fd, path, &run->bytes, &run->len, err) != 0 ||
	    dh_target_logs(mem, run->target, &run->logs, &n, err) != 0)
		return -1;
	run->n_logs = n;
	in = talloc_array(mem, struct dh_log_input, n ? n : 1);
	if (in == NULL)
		return dh_error_set(mem, err, DH_ERR_NOMEM, "out of memory");
	for (size_t i = 0; i < n; i++)
		in[i] = (struct dh_log_input){ run->logs[i].path,
					       run->logs[i].data,
					       run->logs[i].len };
	rc = dh_recover_apply(mem, &run->bytes, &run->len, path, in, n,
			      &run->recovery, err);
	/* Their bytes are in the hive now; the descriptors stay, for the
	 * backup set. */
	for (size_t i = 0; i < n; i++)
		TALLOC_FREE(run->logs[i].data);
	if (rc != 0 && run->opts->command == DH_CMD_SHOW && *err != NULL &&
	    (*err)->code == DH_ERR_DIRTY) {
		run->bytes = NULL;
		return add_warning(run->report, (*err)->message) == 0 ? 0 :
			dh_error_set(mem, err, DH_ERR_NOMEM, "out of memory");
	}
	if (rc != 0)
		run->bytes = NULL;
	return rc != 0 ? rc : report_logs(run);
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

/* hivex reads the hive for planning only (it maps it, no copy): the file
 * itself, or the recovered bytes moved into a memory file. */
static int open_hive(TALLOC_CTX *mem, struct run *run, const char *path,
		     struct dh_error **err)
{
	int *memfd;

	run->source = run->fd;
	if (run->bytes != NULL) {
		if (dh_hive_memfd(mem, &run->bytes, run->len, path, &memfd, err) != 0)
			return -1;
		run->source = *memfd;
	}
	return dh_hive_open_fd(mem, run->source, path, false, &run->hive, err);
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

/* The source copied in the kernel, then only the edited bytes written over
 * it, and the base block marked as written anew: every other byte of the
 * hive stays as it was. */
static int write_edited(void *arg, int fd, TALLOC_CTX *mem,
			struct dh_error **err)
{
	struct run *run = arg;
	const char *name = run->report->hive;
	uint8_t block[DH_REGF_BASE_BLOCK_SIZE];
	struct stat st;

	if (fstat(run->source, &st) != 0 ||
	    dh_io_copy(run->source, fd, (size_t)st.st_size) != 0)
		return dh_error_errno(mem, err, DH_ERR_IO, errno,
				      "cannot copy %s", name);
	for (size_t i = 0; i < run->n_edits; i++)
		if (dh_failpoint("write") != 0 ||
		    pwrite(fd, run->edits[i].bytes, run->edits[i].len,
			   (off_t)run->edits[i].offset) != (ssize_t)run->edits[i].len)
			return dh_error_errno(mem, err, DH_ERR_IO, errno,
					      "cannot write the new %s", name);
	if (dh_io_pread_full(fd, block, sizeof(block), 0) != (ssize_t)sizeof(block))
		return dh_error_errno(mem, err, DH_ERR_IO, errno,
				      "cannot read back the new %s", name);
	dh_regf_mark_written(block);
	if (pwrite(fd, block, sizeof(block), 0) != (ssize_t)sizeof(block))
		return dh_error_errno(mem, err, DH_ERR_IO, errno,
				      "cannot write the new %s", name);
	return 0;
}

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

/* Bytes to install as the new file (a recovered hive, a backup being
 * restored), and how strictly to check them once written. */
struct blob {
	const uint8_t *data;
	size_t len;
	const char *what;        /* for messages: "the recovered copy of X" */
	bool clean_hive;         /* also a clean base block that hivex opens */
};

static int write_blob(void *arg, int fd, TALLOC_CTX *mem, struct dh_error **err)
{
	const struct blob *b = arg;

	if (dh_io_write_all(fd, b->data, b->len) != 0)
		return dh_error_errno(mem, err, DH_ERR_IO, errno,
				      "cannot write %s", b->what);
	return 0;
}

/* The written file must read back byte for byte as the blob. */
static int verify_blob(void *arg, int fd, const char *path, TALLOC_CTX *mem,
		       struct dh_error **err)
{
	const struct blob *b = arg;
	struct dh_hive *written;
	uint8_t chunk[65536];
	size_t off = 0;
	ssize_t got;

	if (b->clean_hive) {
		if (verify_clean(mem, fd, path, &written, err) != 0)
			return -1;
		talloc_free(written);
	}
	/* In chunks: a whole second copy would double the memory needed. */
	do {
		got = dh_io_pread_full(fd, chunk, sizeof(chunk), (off_t)off);
		if (got < 0)
			return dh_error_errno(mem, err, DH_ERR_IO, errno,
					      "cannot read back %s", path);
		if ((size_t)got > b->len - off ||
		    memcmp(chunk, b->data + off, (size_t)got) != 0)
			break;
		off += (size_t)got;
	} while (got > 0);
	if (got != 0 || off != b->len)
		return dh_error_set(mem, err, DH_ERR_VERIFY,
				    "%s did not read back as written", path);
	return 0;
}

/* The logs that go into the backup set with the hive: those a replay used,
 * or (all) every log there is. */
static int companions(TALLOC_CTX *mem, const struct run *run, bool all,
		      struct dh_commit_request *req)
{
	const struct dh_recovery *rec = run->recovery;
	struct dh_commit_companion *c;
	size_t n = 0;

	c = talloc_array(mem, struct dh_commit_companion, run->n_logs ? run->n_logs : 1);
	if (c == NULL)
		return -1;
	for (size_t i = 0; i < run->n_logs; i++)
		if (all || (rec != NULL && rec->logs[i].used))
			c[n++] = (struct dh_commit_companion){
				run->logs[i].fd, run->logs[i].path,
				run->logs[i].suffix };
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
		.write = write,
		.verify = verify,
		.arg = arg,
	};
	char *backup = NULL;

	if (companions(mem, run, run->opts->command == DH_CMD_RESTORE, &req) != 0)
		return dh_error_set(mem, err, DH_ERR_NOMEM, "out of memory");
	if (dh_commit_replace(mem, &req, &backup, err) != 0)
		return -1;
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

/* recover: any hive, no SharedSection; the replayed bytes are the result,
 * once hivex has shown it can read them. */
static int run_recover(TALLOC_CTX *mem, struct run *run, const char *path,
		       struct dh_error **err)
{
	struct blob blob;

	run->report->status = outcome(run->opts, run->bytes != NULL);
	if (run->bytes == NULL)
		return 0;
	/* A dry run still shows whether hivex reads the result; a real run
	 * finds out when it verifies the written file. */
	if (run->report->status == DH_STATUS_WOULD_CHANGE)
		return open_hive(mem, run, path, err);
	blob = (struct blob){ run->bytes, run->len, "the recovered hive", true };
	return commit(mem, run, write_blob, verify_blob, &blob, err);
}

/* Most edits fit in the value's own data cell: then only those bytes
 * change. Otherwise hivex rewrites the hive, from a writable copy. */
static int commit_patch(TALLOC_CTX *mem, struct run *run, const char *path,
			struct dh_error **err)
{
	bool fit;

	if (dh_patch_edits(mem, run->hive, run->source, run->patch, &run->edits,
			   &run->n_edits, &fit, err) != 0)
		return -1;
	/* Done reading: let go of hivex's map of the source. */
	TALLOC_FREE(run->hive);
	if (fit)
		return commit(mem, run, write_edited, verify_patched, run, err);
	if (dh_hive_open_fd(mem, run->source, path, true, &run->hive, err) != 0 ||
	    dh_patch_apply(mem, run->hive, run->patch, err) != 0)
		return -1;
	return commit(mem, run, write_patched, verify_patched, run, err);
}

static int run_patch(TALLOC_CTX *mem, struct run *run, const char *path,
		     struct dh_error **err)
{
	const struct dh_options *opts = run->opts;
	const struct dh_values *want =
		opts->command == DH_CMD_SHOW ? NULL : &opts->values;

	if (open_hive(mem, run, path, err) != 0)
		return -1;
	if (dh_patch_plan(mem, run->hive, opts->control_set, want, &run->patch,
			  err) != 0)
		return -1;
	if (fill_control_sets(run->report, run->patch) != 0)
		return dh_error_set(mem, err, DH_ERR_NOMEM, "out of memory");
	run->report->status = outcome(opts, run->patch->any_change);
	if (run->report->status != DH_STATUS_CHANGED)
		return 0;
	return commit_patch(mem, run, path, err);
}

/* Read a file of the backup set, never through a link. */
static int read_backup_file(TALLOC_CTX *mem, const struct run *run,
			    const struct dh_backup_set *set, const char *name,
			    struct blob *b, struct dh_error **err)
{
	char *path = talloc_asprintf(mem, "%s%s", set->dir, name);
	int fd;
	int rc;

	if (path == NULL)
		return dh_error_set(mem, err, DH_ERR_NOMEM, "out of memory");
	fd = run->opts->backup_dir ? open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
				   : openat(run->lock->dirfd, name,
					    O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return dh_error_errno(mem, err, DH_ERR_IO, errno,
				      "cannot open backup %s", path);
	rc = dh_target_read_fd(mem, fd, path, (uint8_t **)&b->data, &b->len, err);
	close(fd);
	b->what = path;
	b->clean_hive = false;
	return rc;
}

/* A backup to put back must at least be a whole hive: signed, and as long
 * as its base block says (it may be dirty: deskheap keeps dirty originals). */
static int check_complete(TALLOC_CTX *mem, const struct blob *b,
			  struct dh_error **err)
{
	struct dh_regf_header h;

	if (dh_regf_parse(mem, b->data, b->len, b->what, &h, err) != 0)
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

	if (read_backup_file(mem, run, set, copy, &b, err) != 0)
		return -1;
	if (live == NULL) {
		char *w = talloc_asprintf(mem, "%s%s: no such log beside the hive, so it was not put back (%s%s is in the backup set)",
					  run->target->path, suffix, set->dir, copy);

		return w != NULL && add_warning(run->report, w) == 0 ? 0 :
			dh_error_set(mem, err, DH_ERR_NOMEM, "out of memory");
	}
	if (live->len == b.len && memcmp(live->data, b.data, b.len) == 0)
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
	    read_backup_file(mem, run, set, set->hive, &b, err) != 0 ||
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
		return run_recover(mem, run, path, err);
	return run_patch(mem, run, path, err);
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
