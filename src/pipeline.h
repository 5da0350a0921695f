/*
 * The pipeline of one target (design, "Architecture"): internal to
 * pipeline.c (show, check, set, recover), restore.c and outcome.c (what the
 * report says). Data flows one way:
 *
 *   resolve the target -> open it (writers lock it) -> read it, replaying
 *   a dirty hive's logs -> plan -> edit the new file -> commit -> report
 *
 * Writers stage the new hive in a transaction (txn.h) as soon as they read:
 * a dirty hive is replayed into the staged file itself, so it is copied
 * once, in the kernel. Readers replay into a memory file.
 */
#ifndef DH_PIPELINE_H
#define DH_PIPELINE_H

#include <stdbool.h>
#include <stdint.h>

#include "deskheap.h"
#include "hive.h"
#include "lock.h"
#include "patch.h"
#include "recover.h"
#include "target.h"
#include "txn.h"

/* What one run holds while it works; everything hangs off mem. */
struct run {
	TALLOC_CTX *mem;              /* freed when the report is done */
	const struct dh_options *opts;
	struct dh_report *report;
	struct dh_target *target;
	int fd;                       /* the hive (locked when writing) */
	struct dh_locked *lock;       /* writers, and restore */
	struct dh_log_file *logs;     /* when dirty, or restoring */
	size_t n_logs;
	struct dh_txn *txn;           /* writers, once reading */
	int source;                   /* what the plan reads: fd, a replayed
				       * memory file, or the staged hive */
	bool replayed;                /* source holds the logs' changes */
	struct dh_hive *hive;
	struct dh_patch *patch;
	enum dh_commit commit;        /* writers: replace or in place */
	char *commit_reason;          /* why, or NULL */
	enum dh_log_format log_format; /* in place: the logs' format; the
				       * log for the record is logs[0] */
	int reconciled;               /* in place, a dirty hive: a memory
				       * file of its state as Windows loads
				       * it, else -1 */
	const char *backup_dir;       /* opts->backup_dir, or an image's */
	bool backup_dir_create;
	struct dh_image_stage *image; /* a Windows in a disk image: its copies */
	struct dh_io_record *record;  /* an image's: what the commit wrote */
};

/* Whether the command writes (set, recover, restore, not --dry-run). */
bool dh_run_writes(const struct dh_options *opts);

/* run->logs as a replay takes them (on run->mem; NULL: out of memory). */
struct dh_log_input *dh_run_log_inputs(struct run *run);

/* In place: the log format, and the log that takes the record, made
 * run->logs[0] (the logs read when they are not yet). Both are known
 * before anything is staged. Without any log, that is said first: the
 * format would not help. */
int dh_run_choose_log(struct run *run, struct dh_error **err);

/* The transaction options of run's command (commit, backups). */
struct dh_txn_options dh_run_txn_options(const struct run *run);

/* A run of one target into report r, in three calls: begin (o as
 * dh_run_target() took it; 0, or -1 when memory runs out), the steps
 * (from resolving given, unless run->target is set already), end (rc the
 * steps' result, err their error: a staged change abandoned, the error
 * into r, run's memory freed; -1 when memory ran out on the way to a
 * report). */
int dh_run_begin(struct run *run, struct dh_report *r,
		 const struct dh_options *o);
int dh_run_steps(struct run *run, const char *given, struct dh_error **err);
int dh_run_end(struct run *run, int rc, struct dh_error *err);

/* imagerun.c: given, when it is a disk image or a block device (else 0,
 * nothing done): an appliance started on it, its Windows found, and for
 * each one a run: the hive, its logs and SOFTWARE copied out to a private
 * directory, run->target that copy (named in messages after the image),
 * the backups in the image's backup directory, the in-place commit
 * recording its writes, a committed change written back into the image.
 * first is the first Windows' report, the others linked after it (on
 * first); returns 1. -1 with *err set when no Windows could be reached (the
 * appliance failed, none found), or memory ran out (*err NULL). A change
 * is reported only once the appliance has shut down cleanly. */
int dh_image_run(const struct dh_options *o, const char *given,
		 struct dh_report *first, struct dh_error **err);

/* Commit run->txn (which the caller has filled, flushed and verified):
 * the report gets the backup set. note: for the journal. */
int dh_run_commit(struct run *run, const char *note, struct dh_error **err);

/* restore.c: the newest backup set put back. */
int dh_run_restore(struct run *run, struct dh_error **err);

/* outcome.c: what the report says. Each returns 0, or -1 with *err set
 * (out of memory). */
int dh_outcome_warn(struct run *run, const char *text, struct dh_error **err);
enum dh_status dh_outcome_status(const struct dh_options *opts,
				 bool any_change);
int dh_outcome_plan(struct run *run, struct dh_error **err);
int dh_outcome_replay(struct run *run, const struct dh_recovery *rec,
		      struct dh_error **err);
void dh_outcome_backup(struct run *run, struct dh_txn_result *res);
/* How the hive was written: run's commit, into the report. */
void dh_outcome_commit(struct run *run);
int dh_outcome_read_only(struct run *run, struct dh_error **err);

#endif
