/*
 * A transaction over a hive and its logs: the commit (design invariants 1
 * to 3). The caller stages the new files, then commits or aborts; the
 * transaction never calls back into the caller.
 *
 * Two commits. The replace commit, described first, renames new files
 * over the old ones. The in-place commit (in_place; inplace.h) writes the
 * live hive and its logs themselves, as Windows does, so that they keep
 * their identity; it is described at the end.
 *
 *   dh_txn_begin()        a temporary file ".NAME.deskheap-tmp-XXXXXX"
 *                         beside the locked hive (mode 0600), for the new
 *                         hive; the caller fills it (dh_txn_hive_fd())
 *   dh_txn_replace_log()  a log to replace too: by given bytes, or by an
 *                         empty file
 *   dh_txn_flush()        the new hive synced: the caller then reads it
 *                         back to verify what reached the disk
 *   dh_txn_commit()       put it all in place, with a backup set
 *   dh_txn_abort()        or remove everything the transaction made
 *
 * dh_txn_commit():
 *   1. gives the new hive the original's owner, mode and extended
 *      attributes (metadata.h), and syncs it again;
 *   2. makes the backup set (backup.h), unless no_backup: the hive and
 *      each log being replaced, linked (they are replaced by rename, never
 *      written), durable before anything can make it the only copy;
 *   3. stages each log's new file beside it (its bytes, or empty; the
 *      live log's owner, mode and attributes), synced;
 *   4. checks that each name still is the file locked and read (the lock
 *      binds only programs that take it), locks the new hive, and makes
 *      the journal durable (journal.h): the commit point;
 *   5. renames each staged file over its name: a clean new hive first (a
 *      clean primary makes Windows ignore its logs, so any state between
 *      two renames loads as the new set), a dirty one (a restored backup)
 *      last, after its logs (the hive in place is then the old one, which
 *      the caller makes sure is clean); then syncs the directory and
 *      removes the journal.
 * A failure of dh_txn_begin() or dh_txn_commit() before step 4, or at the
 * first rename (the journal is then withdrawn), removes every file the
 * transaction made: the hive, its logs and the directories are as they
 * were, and the message says "the hive was not changed". (The messages of
 * the steps between, dh_txn_replace_log() and dh_txn_flush(), say nothing
 * of the outcome: the caller, who then aborts, does.) A failure after a rename leaves the change decided: the
 * message says the next run completes it, which dh_lock_hive() does.
 *
 * Everything beside the hive goes through the lock's directory descriptor;
 * only backup_dir is opened by path (backupdir.h).
 *
 * In place: the new hive is staged in memory, never beside the hive (a
 * file made there would get a new identity, e.g. a security descriptor
 * that lets Everyone read it): whole in a memory file, or (edits) as the
 * pages changed by dh_txn_write(), so that a change of a few bytes costs a
 * few pages, not a copy of the hive. The commit takes the pages of the
 * new hive that differ from the state it starts from (overlay.h). The
 * logs given (dh_txn_replace_log(), with content -1) are the live logs,
 * the first one to hold the log record, the others emptied. dh_txn_commit() opens the hive and those logs for
 * writing (each must still be the file locked and read), makes the backup
 * set by verified copies (a reflink where offered; never a link: the
 * inode itself changes), then runs dh_inplace_commit(), with the state
 * Windows loads of a dirty live hive given by dh_txn_reconciled(). There
 * is no journal: the log written first is what completes an interrupted
 * commit, as for Windows.
 */
#ifndef DH_TXN_H
#define DH_TXN_H

#include <stdbool.h>
#include <stddef.h>

#include "deskheap.h"
#include "lock.h"
#include "inplace.h"
#include "logscan.h"

struct dh_txn_options {
	const char *backup_dir;    /* NULL: backups beside the hive */
	bool backup_dir_create;    /* make backup_dir (0700) if missing */
	bool no_backup;
	const char *command;       /* named in the journal: "set"... */
	bool in_place;             /* the in-place commit */
	enum dh_log_format log_format; /* in place: the logs' format */
	bool ignore_logs;          /* in place: a dirty live hive without
				    * dh_txn_reconciled() is marked clean
				    * as it is (else refused) */
	struct dh_io_record *record; /* in place: NULL, or where each write
				    * is recorded (inplace.h) */
	bool edits;                /* in place: no file is staged; the new
				    * hive is the state the commit starts
				    * from with dh_txn_write()s over it */
};

/* What a committed transaction made. */
struct dh_txn_result {
	char *backup;              /* the hive's backup, or NULL */
	char **backup_logs;        /* n_backup_logs logs' backups */
	size_t n_backup_logs;
};

struct dh_txn;

/* Begin a transaction on the locked hive (which must stay locked, and
 * open, until the transaction is committed or freed). Checks what can be
 * checked before a file is made (the backup directory: backupdir.h), then
 * creates the new hive's temporary file. The transaction is on mem;
 * freeing it before dh_txn_commit() aborts it. Failpoint "temp-create". */
int dh_txn_begin(TALLOC_CTX *mem, const struct dh_locked *hive,
		 const struct dh_txn_options *o, struct dh_txn **out,
		 struct dh_error **err);

/* The new hive: open read-write (-1 with edits); its path, for
 * messages. */
int dh_txn_hive_fd(const struct dh_txn *t);
const char *dh_txn_hive_path(const struct dh_txn *t);

/* len bytes of the new hive written, or read, at off: in its file, or with
 * edits over the state the commit starts from (dh_txn_reconciled()'s, else
 * the hive's), held in memory page by page (overlay.h). A read of the
 * staged file must not reach past its end. */
int dh_txn_write(struct dh_txn *t, const void *buf, size_t len,
		 uint64_t off, struct dh_error **err);
int dh_txn_read(struct dh_txn *t, void *buf, size_t len, uint64_t off,
		struct dh_error **err);

/* Replace the log open at fd (readable, a regular file: checked now) and
 * named name in the hive's directory (path in messages; suffix, e.g.
 * ".LOG1", names its backup) too: by the bytes of the file open at
 * content, or with content -1 by an empty file. */
int dh_txn_replace_log(struct dh_txn *t, int fd, const char *path,
		       const char *name, const char *suffix, int content,
		       struct dh_error **err);

/* In place, when the live hive is dirty: the file open at fd holds its
 * state as Windows loads it (its logs replayed). The caller keeps fd open
 * until the commit, and calls this before the first dh_txn_write(). */
void dh_txn_reconciled(struct dh_txn *t, int fd);

/* Sync the new hive and rewind it (nothing to do with edits). Failpoint
 * "fsync". */
int dh_txn_flush(struct dh_txn *t, struct dh_error **err);

/* Steps 1 to 5 above. note goes into the journal, for the message of a
 * run that completes it (e.g. the backup a restore puts back; may be
 * NULL). *res (may be NULL) is on mem, also when the change is decided but
 * unfinished (then -1 is returned, and the message says so). Whatever the
 * outcome, t is spent: free it. */
int dh_txn_commit(struct dh_txn *t, const char *note, TALLOC_CTX *mem,
		  struct dh_txn_result **res, struct dh_error **err);

/* Remove every file t made, and free it. What cannot be removed is named
 * in (*err)'s message (when err holds one). */
void dh_txn_abort(struct dh_txn *t, struct dh_error **err);

#endif
