/*
 * One target, start to end: the pipeline of the design, for a hive file.
 * target -> locked/opened file -> base block (dirty?) -> bytes + logs ->
 * recovered bytes -> hivex handle -> patch plan -> commit -> report.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "commit.h"
#include "error.h"
#include "hive.h"
#include "patch.h"
#include "recover.h"
#include "regf.h"
#include "target.h"

/* What one run holds while it works; everything hangs off one context. */
struct run {
	const struct dh_options *opts;
	struct dh_report *report;
	int fd;                       /* the hive, open (and locked for set) */
	struct dh_locked *lock;
	struct dh_hive *hive;
	struct dh_patch *patch;
	uint8_t *bytes;               /* a recovered hive, else NULL */
	size_t len;
	struct dh_log_file *logs;     /* the logs found, when dirty */
	struct dh_recovery *recovery;
};

static bool writes(const struct dh_options *opts)
{
	return (opts->command == DH_CMD_SET ||
		opts->command == DH_CMD_RECOVER) && !opts->dry_run;
}

static int close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	return 0;
}

/* show and check read without a lock: a commit replaces the file by rename,
 * so a reader sees the old inode or the new one, never a mix. */
static int open_for_reading(TALLOC_CTX *mem, struct run *run, const char *path,
			    struct dh_error **err)
{
	int *fdp = talloc(mem, int);

	if (fdp == NULL)
		return dh_error_set(mem, err, DH_ERR_NOMEM, "out of memory");
	*fdp = open(path, O_RDONLY | O_CLOEXEC);
	if (*fdp < 0)
		return dh_error_errno(mem, err, DH_ERR_IO, errno,
				      "cannot open %s (check the path, and that the volume is mounted and readable)",
				      path);
	talloc_set_destructor(fdp, close_fd);
	run->fd = *fdp;
	return 0;
}

static int open_target(TALLOC_CTX *mem, struct run *run, const char *path,
		       struct dh_error **err)
{
	struct stat st;

	if (writes(run->opts)) {
		if (dh_commit_lock(mem, path, &run->lock, err) != 0)
			return -1;
		run->fd = run->lock->fd;
	} else if (open_for_reading(mem, run, path, err) != 0) {
		return -1;
	}
	if (fstat(run->fd, &st) != 0)
		return dh_error_errno(mem, err, DH_ERR_IO, errno,
				      "cannot stat %s", path);
	if (S_ISDIR(st.st_mode))
		return dh_error_set(mem, err, DH_ERR_ARGUMENT,
				    "%s is a directory: give the hive file itself, e.g. %s/Windows/System32/config/SYSTEM",
				    path, path);
	if (!S_ISREG(st.st_mode))
		return dh_error_set(mem, err, DH_ERR_ARGUMENT,
				    "%s is not a regular file", path);
	return 0;
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
	    dh_target_logs(mem, path, &run->logs, &n, err) != 0)
		return -1;
	in = talloc_array(mem, struct dh_log_input, n ? n : 1);
	if (in == NULL)
		return dh_error_set(mem, err, DH_ERR_NOMEM, "out of memory");
	for (size_t i = 0; i < n; i++)
		in[i] = (struct dh_log_input){ run->logs[i].path,
					       run->logs[i].data,
					       run->logs[i].len };
	rc = dh_recover_apply(mem, &run->bytes, &run->len, path, in, n,
			      &run->recovery, err);
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

/* hivex reads the recovered bytes, or the file itself when there are none. */
static int open_hive(TALLOC_CTX *mem, struct run *run, const char *path,
		     struct dh_error **err)
{
	bool edit = writes(run->opts) && run->opts->command == DH_CMD_SET;

	if (run->bytes != NULL)
		return dh_hive_open_bytes(mem, run->bytes, run->len, path,
					  edit, &run->hive, err);
	return dh_hive_open_fd(mem, run->fd, path, edit, &run->hive, err);
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

static int write_patched(void *arg, int fd, TALLOC_CTX *mem,
			 struct dh_error **err)
{
	struct run *run = arg;

	return dh_hive_commit_fd(mem, run->hive, fd, err);
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

static int write_recovered(void *arg, int fd, TALLOC_CTX *mem,
			   struct dh_error **err)
{
	struct run *run = arg;
	size_t done = 0;

	while (done < run->len) {
		ssize_t w = write(fd, run->bytes + done, run->len - done);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return dh_error_errno(mem, err, DH_ERR_IO, errno,
					      "cannot write the recovered copy of %s",
					      run->report->hive);
		done += (size_t)w;
	}
	return 0;
}

/* ... and be, byte for byte, the hive the replay produced. */
static int verify_recovered(void *arg, int fd, const char *path,
			    TALLOC_CTX *mem, struct dh_error **err)
{
	struct run *run = arg;
	struct dh_hive *written;
	uint8_t *back;
	size_t len;

	if (verify_clean(mem, fd, path, &written, err) != 0 ||
	    dh_target_read_fd(mem, fd, path, &back, &len, err) != 0)
		return -1;
	if (len != run->len || memcmp(back, run->bytes, len) != 0)
		return dh_error_set(mem, err, DH_ERR_VERIFY,
				    "the new hive %s did not read back as written",
				    path);
	return 0;
}

/* The logs a replay used go into the backup set with the hive. */
static int companions(TALLOC_CTX *mem, struct run *run,
		      struct dh_commit_request *req)
{
	const struct dh_recovery *rec = run->recovery;
	struct dh_commit_companion *c;
	size_t n = 0;

	if (rec == NULL)
		return 0;
	c = talloc_array(mem, struct dh_commit_companion, rec->n_logs ? rec->n_logs : 1);
	if (c == NULL)
		return -1;
	for (size_t i = 0; i < rec->n_logs; i++)
		if (rec->logs[i].used)
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

static int commit(TALLOC_CTX *mem, struct run *run, struct dh_error **err)
{
	bool patch = run->opts->command == DH_CMD_SET;
	struct dh_commit_request req = {
		.hive = run->lock,
		.backup_dir = run->opts->backup_dir,
		.no_backup = run->opts->no_backup,
		.write = patch ? write_patched : write_recovered,
		.verify = patch ? verify_patched : verify_recovered,
		.arg = run,
	};
	char *backup = NULL;

	if (companions(mem, run, &req) != 0)
		return dh_error_set(mem, err, DH_ERR_NOMEM, "out of memory");
	if (patch && dh_patch_apply(mem, run->hive, run->patch, err) != 0)
		return -1;
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
	struct dh_hive *check;

	run->report->status = outcome(run->opts, run->bytes != NULL);
	if (run->bytes == NULL)
		return 0;
	if (dh_hive_open_bytes(mem, run->bytes, run->len, path, false, &check,
			       err) != 0)
		return -1;
	talloc_free(check);
	if (run->report->status == DH_STATUS_CHANGED)
		return commit(mem, run, err);
	return 0;
}

static int run_patch(TALLOC_CTX *mem, struct run *run, const char *path,
		     struct dh_error **err)
{
	const struct dh_options *opts = run->opts;
	const struct dh_values *want =
		opts->command == DH_CMD_SHOW ? NULL : &opts->values;

	if (open_hive(mem, run, path, err) != 0)
		return -1;
	/* hivex holds its own copy now. */
	TALLOC_FREE(run->bytes);
	if (dh_patch_plan(mem, run->hive, opts->control_set, want, &run->patch,
			  err) != 0)
		return -1;
	if (fill_control_sets(run->report, run->patch) != 0)
		return dh_error_set(mem, err, DH_ERR_NOMEM, "out of memory");
	run->report->status = outcome(opts, run->patch->any_change);
	if (run->report->status == DH_STATUS_CHANGED)
		return commit(mem, run, err);
	return 0;
}

static int run_steps(TALLOC_CTX *mem, struct run *run, const char *path,
		     struct dh_error **err)
{
	if (open_target(mem, run, path, err) != 0 ||
	    check_dirty(mem, run, path, err) != 0)
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
