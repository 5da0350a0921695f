/*
 * One target, start to end: the pipeline of the design, for a hive file.
 * target -> locked/opened file -> base block (dirty?) -> hivex handle ->
 * patch plan -> commit -> report.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "commit.h"
#include "error.h"
#include "hive.h"
#include "patch.h"
#include "regf.h"

/* What one run holds while it works; everything hangs off one context. */
struct run {
	const struct dh_options *opts;
	struct dh_report *report;
	int fd;                       /* the hive, open (and locked for set) */
	struct dh_locked *lock;
	struct dh_hive *hive;
	struct dh_patch *patch;
};

static bool writes(const struct dh_options *opts)
{
	return opts->command == DH_CMD_SET && !opts->dry_run;
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

	if (run->opts->command == DH_CMD_SET) {
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

static int check_dirty(TALLOC_CTX *mem, struct run *run, const char *path,
		       struct dh_error **err)
{
	struct dh_regf_header hdr;
	char *why;

	if (dh_regf_read_fd(mem, run->fd, path, &hdr, err) != 0)
		return -1;
	why = dh_regf_dirty_reason(mem, &hdr);
	run->report->dirty = why != NULL;
	if (why == NULL || run->opts->command != DH_CMD_SET)
		return 0;
	return dh_error_set(mem, err, DH_ERR_DIRTY,
			    "%s is dirty (%s): its newest changes are only in its transaction logs (%s.LOG1, %s.LOG2), and writing it would throw them away. Boot Windows once and shut it down fully (not Fast Startup or hibernation), then run deskheap again",
			    path, why, path, path);
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
	r->warnings = talloc_steal(r, p->warnings);
	r->n_warnings = p->n_warnings;
	return 0;
}

static int write_hive(void *arg, int fd, TALLOC_CTX *mem, struct dh_error **err)
{
	struct run *run = arg;

	return dh_hive_commit_fd(mem, run->hive, fd, err);
}

/* The new file must be a clean hive that hivex opens and that holds exactly
 * the planned values. */
static int verify_hive(void *arg, int fd, const char *path, TALLOC_CTX *mem,
		       struct dh_error **err)
{
	struct run *run = arg;
	struct dh_regf_header hdr;
	struct dh_hive *written;
	int rc;

	if (dh_regf_read_fd(mem, fd, path, &hdr, err) != 0)
		return -1;
	if (dh_regf_dirty_reason(mem, &hdr) != NULL)
		return dh_error_set(mem, err, DH_ERR_VERIFY,
				    "the new hive %s has an invalid base block; the original was left as it was",
				    path);
	if (dh_hive_open_fd(mem, fd, path, false, &written, err) != 0)
		return -1;
	rc = dh_patch_verify(mem, written, run->patch, err);
	talloc_free(written);
	return rc;
}

static int commit(TALLOC_CTX *mem, struct run *run, struct dh_error **err)
{
	struct dh_commit_request req = {
		.hive = run->lock,
		.backup_dir = run->opts->backup_dir,
		.no_backup = run->opts->no_backup,
		.write = write_hive,
		.verify = verify_hive,
		.arg = run,
	};
	char *backup = NULL;

	if (dh_patch_apply(mem, run->hive, run->patch, err) != 0 ||
	    dh_commit_replace(mem, &req, &backup, err) != 0)
		return -1;
	run->report->backup = talloc_steal(run->report, backup);
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

static int run_steps(TALLOC_CTX *mem, struct run *run, const char *path,
		     struct dh_error **err)
{
	const struct dh_options *opts = run->opts;
	const struct dh_values *want =
		opts->command == DH_CMD_SHOW ? NULL : &opts->values;

	if (open_target(mem, run, path, err) != 0 ||
	    check_dirty(mem, run, path, err) != 0 ||
	    dh_hive_open_fd(mem, run->fd, path, writes(opts), &run->hive,
			    err) != 0 ||
	    dh_patch_plan(mem, run->hive, opts->control_set, want, &run->patch,
			  err) != 0)
		return -1;
	if (fill_control_sets(run->report, run->patch) != 0)
		return dh_error_set(mem, err, DH_ERR_NOMEM, "out of memory");
	run->report->status = outcome(opts, run->patch->any_change);
	if (run->report->status == DH_STATUS_CHANGED)
		return commit(mem, run, err);
	return 0;
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
