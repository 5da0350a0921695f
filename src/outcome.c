/*
 * What the pipeline tells the report: the plan's control sets, the replay,
 * the backup set, and the warnings that did not stop the run.
 */
#include "config.h"

#include <string.h>
#include <sys/stat.h>

#include "error.h"
#include "pipeline.h"
#include "sharedsection.h"

int dh_outcome_warn(struct run *run, const char *text, struct dh_error **err)
{
	struct dh_report *r = run->report;
	char **w = talloc_realloc(r, r->warnings, char *, r->n_warnings + 1);

	if (w == NULL)
		return dh_error_nomem(run->mem, err);
	r->warnings = w;
	if ((w[r->n_warnings] = talloc_strdup(w, text)) == NULL)
		return dh_error_nomem(run->mem, err);
	r->n_warnings++;
	return 0;
}

enum dh_status dh_outcome_status(const struct dh_options *opts,
				 bool any_change)
{
	if (opts->command == DH_CMD_SHOW)
		return DH_STATUS_SHOWN;
	if (!any_change)
		return DH_STATUS_UNCHANGED;
	if (opts->command == DH_CMD_CHECK || opts->dry_run)
		return DH_STATUS_WOULD_CHANGE;
	return DH_STATUS_CHANGED;
}

/* Control set i of the plan, as the report shows it. */
static int fill_one(struct dh_report *r, const struct dh_patch_item *it,
		    struct dh_controlset_report *c)
{
	c->name = talloc_strdup(r->control_sets, it->cs.name);
	c->number = it->cs.number;
	c->roles = it->cs.roles;
	if (c->name == NULL)
		return -1;
	if (it->error != NULL) {
		c->error = talloc_steal(r->control_sets, it->error);
		return 0;
	}
	c->before = dh_sharedsection_token_text(r->control_sets,
						it->before.units,
						&it->tok_before);
	c->after = dh_sharedsection_token_text(r->control_sets,
					       it->after.units, &it->tok_after);
	c->before_values = it->tok_before.values;
	c->after_values = it->tok_after.values;
	c->changed = it->changed;
	return c->before == NULL || c->after == NULL ? -1 : 0;
}

/* show: the hive fails on the first control set it cannot read, which the
 * report shows with the others. */
static int unreadable(struct run *run, struct dh_error **err)
{
	const struct dh_report *r = run->report;

	for (size_t i = 0; i < r->n_control_sets; i++)
		if (r->control_sets[i].error != NULL)
			return dh_error_set(run->mem, err,
					    r->control_sets[i].error->code, "%s",
					    r->control_sets[i].error->message);
	return 0;
}

int dh_outcome_plan(struct run *run, struct dh_error **err)
{
	struct dh_report *r = run->report;
	const struct dh_patch *p = run->patch;

	r->control_sets = talloc_zero_array(r, struct dh_controlset_report,
					    p->n_items);
	if (r->control_sets == NULL)
		return dh_error_nomem(run->mem, err);
	for (size_t i = 0; i < p->n_items; i++)
		if (fill_one(r, &p->items[i], &r->control_sets[i]) != 0)
			return dh_error_nomem(run->mem, err);
	r->n_control_sets = p->n_items;
	for (size_t i = 0; i < p->n_warnings; i++)
		if (dh_outcome_warn(run, p->warnings[i], err) != 0)
			return -1;
	r->status = dh_outcome_status(run->opts, p->any_change);
	return p->n_unreadable > 0 ? unreadable(run, err) : 0;
}

/* A replay that stopped short of newer entries: where, why, and what was
 * left out, log by log. Windows stops at the same entry: the result is
 * the hive it would load, and the newer changes are in neither. */
static int warn_stop(struct run *run, const struct dh_recovery *rec,
		     struct dh_error **err)
{
	const struct dh_replay_stop *s = rec->stop;
	char *w = talloc_asprintf(run->mem, "%s: the log replay stopped at entry %u (",
				  rec->logs[s->log].path, s->index);
	const char *sep = " (";

	if (w != NULL && s->sequence != 0)
		w = talloc_asprintf_append(w, "sequence %u, ", s->sequence);
	if (w != NULL)
		w = talloc_asprintf_append(w, "offset 0x%llx), after sequence %u: %s. Windows stops there too when it loads this hive: %u later log %s not applied",
					   (unsigned long long)s->offset,
					   s->after, s->why ? s->why : "it cannot be used",
					   s->left_out,
					   s->left_out == 1 ? "entry was" : "entries were");
	for (size_t i = 0; w != NULL && i < rec->n_logs; i++) {
		if (rec->logs[i].left_out == 0)
			continue;
		w = talloc_asprintf_append(w, "%s%u in %s", sep,
					   rec->logs[i].left_out,
					   rec->logs[i].path);
		sep = ", ";
	}
	if (w != NULL)
		w = talloc_asprintf_append(w, "), and the changes they hold are not in the result");
	run->report->log_entries_not_applied = s->left_out;
	return w != NULL ? dh_outcome_warn(run, w, err) :
			   dh_error_nomem(run->mem, err);
}

int dh_outcome_replay(struct run *run, const struct dh_recovery *rec,
		      struct dh_error **err)
{
	struct dh_report *r = run->report;

	r->log_entries_applied = rec->entries_applied;
	r->log_pages_applied = rec->pages_applied;
	r->logs_applied = talloc_zero_array(r, char *, rec->n_logs);
	if (rec->n_logs > 0 && r->logs_applied == NULL)
		return dh_error_nomem(run->mem, err);
	for (size_t i = 0; i < rec->n_logs; i++) {
		if (!rec->logs[i].used)
			continue;
		r->logs_applied[r->n_logs_applied] =
			talloc_strdup(r->logs_applied, rec->logs[i].path);
		if (r->logs_applied[r->n_logs_applied] == NULL)
			return dh_error_nomem(run->mem, err);
		r->n_logs_applied++;
	}
	return rec->stop != NULL ? warn_stop(run, rec, err) : 0;
}

void dh_outcome_backup(struct run *run, struct dh_txn_result *res)
{
	struct dh_report *r = run->report;

	if (res == NULL || res->backup == NULL)
		return;
	r->backup = talloc_steal(r, res->backup);
	r->backup_logs = talloc_steal(r, res->backup_logs);
	r->n_backup_logs = res->n_backup_logs;
}

void dh_outcome_commit(struct run *run)
{
	struct dh_report *r = run->report;

	r->commit = run->commit;
	r->commit_reason = talloc_strdup(r, run->commit_reason);
	if (run->commit != DH_COMMIT_IN_PLACE)
		return;
	r->log_format = run->log_format == DH_LOG_OLD ? DH_LOGFMT_OLD
						      : DH_LOGFMT_NEW;
	r->log_written = talloc_strdup(r, run->logs[0].path);
}

/* A hive without write permission is replaced all the same (the rename
 * needs only the directory's): say so, since its owner may have meant it
 * to stay as it was. */
int dh_outcome_read_only(struct run *run, struct dh_error **err)
{
	struct stat st;
	char *w;

	if (fstat(run->fd, &st) != 0 || (st.st_mode & 0222) != 0)
		return 0;
	w = talloc_asprintf(run->mem, run->commit == DH_COMMIT_IN_PLACE ?
			    "%s was read-only (mode %04o) and was written all the same; it keeps that mode" :
			    "%s was read-only (mode %04o) and was replaced all the same; the new file keeps that mode",
			    run->report->hive, (unsigned)(st.st_mode & 07777));
	return w != NULL ? dh_outcome_warn(run, w, err) :
			   dh_error_nomem(run->mem, err);
}
