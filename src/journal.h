/*
 * The roll-forward journal that makes a change to several files one
 * transaction (design invariant 3): a hive and its logs, or a restore.
 *
 * Every new file is first written completely under a temporary name in
 * the hive's directory and synced. Then the journal, ".NAME.deskheap-journal"
 * beside the hive, names each rename still to do, in order, with what the
 * file at the target name is before it and what the staged file is: size
 * and a Marvin32 hash of the content. Once the journal is durable the
 * change is decided: the renames follow, the directory is synced, the
 * journal is removed. A run that takes the hive's lock and finds a journal
 * completes it before anything else.
 *
 * The journal is written under a temporary name (".NAME.deskheap-tmp-...")
 * and renamed into place, so it is complete or absent. Its last line holds
 * a hash of the lines before it.
 */
#ifndef DH_JOURNAL_H
#define DH_JOURNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "deskheap.h"

/* What a file is: enough to tell it from any other state of that name. */
struct dh_journal_file {
	bool exists;
	uint64_t size;
	uint64_t hash;      /* Marvin32 of its content (DH_JOURNAL_SEED) */
};

/* One rename: the staged file tmp goes over name, both in the directory. */
struct dh_journal_entry {
	char *tmp;
	char *name;
	struct dh_journal_file before;  /* name, before this rename */
	struct dh_journal_file after;   /* tmp, which name then is */
};

struct dh_journal {
	char *command;      /* "set", "recover", "restore": for messages */
	char *note;         /* free text for the report (e.g. the backup a
			     * restore puts back), or "" */
	struct dh_journal_entry *entries;
	size_t n_entries;
};

/* Describe the file name in dirfd (not following links) into *out: an
 * absent name is {exists = false}. Reads the whole file to hash it.
 * 0, or -1 with errno set. */
int dh_journal_describe(int dirfd, const char *name,
			struct dh_journal_file *out);

/* Same, for the file open at fd. */
int dh_journal_describe_fd(int fd, struct dh_journal_file *out);

/*
 * Make the journal of hive `base` in dirfd durable: written under a
 * temporary name, synced, renamed to ".<base>.deskheap-journal", the
 * directory synced. path_prefix ("" or ending in '/') names files in
 * messages. DH_ERR_IO on failure, when no journal is left behind.
 */
int dh_journal_write(TALLOC_CTX *mem, int dirfd, const char *base,
		     const char *path_prefix, const struct dh_journal *j,
		     struct dh_error **err);

/* Carry out the renames of j, in order, then sync the directory and
 * remove the journal (synced again). DH_ERR_IO when a step fails, and
 * *renamed (may be NULL) says how many renames were done: with none, the
 * caller may still withdraw the journal (dh_journal_withdraw()); else it
 * stays, for the next run to complete. */
int dh_journal_apply(TALLOC_CTX *mem, int dirfd, const char *base,
		     const char *path_prefix, const struct dh_journal *j,
		     size_t *renamed, struct dh_error **err);

/* Remove the journal of base before any of its renames was done, synced:
 * 0, or -1 with errno set (then it stays, and will be completed). */
int dh_journal_withdraw(int dirfd, const char *base);

/*
 * Finish what an earlier run left: with the hive's lock held, look for
 * ".<base>.deskheap-journal" in dirfd. None: 0, *done NULL. One whose
 * files are each either still as before their rename (the staged file
 * intact) or already renamed, in journal order: the rest is applied and
 * *done says so (on mem). One whose files have changed since (Windows
 * ran on what the earlier run had put in place): nothing is renamed, the
 * staged files and the journal are removed, and *done says that. A
 * journal that cannot be read or is damaged: DH_ERR_IO naming it, and
 * nothing is touched. *command (on mem) is the journal's command ("set",
 * "restore"...) when it was completed, else NULL.
 */
/* Whether hive base in dirfd has a journal an earlier run left: readers,
 * which do not lock, can say so. */
bool dh_journal_pending(int dirfd, const char *base);

int dh_journal_recover(TALLOC_CTX *mem, int dirfd, const char *base,
		       const char *path_prefix, char **done, char **command,
		       struct dh_error **err);

#endif
