/*
 * The SharedSection patch of one open hive: for each chosen control set,
 * read the Windows value, find the token, compute the edited value, compare.
 * Planning touches nothing; applying writes the changed values into the
 * hivex handle (in memory; the pipeline writes the file).
 */
#ifndef DH_PATCH_H
#define DH_PATCH_H

#include "hive.h"
#include "sharedsection.h"

struct dh_patch_item {
	struct dh_controlset cs;
	struct dh_winvalue before;
	struct dh_winvalue after;      /* equal to before when !changed */
	struct dh_token tok_before;
	struct dh_token tok_after;
	bool changed;
	struct dh_error *error;        /* show: why this control set cannot be
					* read (the rest is then unset) */
};

struct dh_patch {
	struct dh_patch_item *items;
	size_t n_items;
	bool any_change;
	size_t n_unreadable;           /* show: items with error set */
	char **warnings;               /* n_warnings messages, children of the array */
	size_t n_warnings;
};

/*
 * Plan the patch. control_set is DH_CONTROL_SET_ALL, _CURRENT (the one
 * Select marks current) or a number. want is NULL to only read (show).
 * Fails when a chosen control set lacks the value or its token cannot be
 * edited, or when a requested size is outside DH_KB_MIN..DH_KB_MAX: a hive
 * is patched whole or not at all. Only reading, a control set that cannot
 * be read does not stop the others: its item has error set (on the plan)
 * and n_unreadable counts it. Warns when the effective non-interactive
 * size would exceed the interactive one.
 */
int dh_patch_plan(TALLOC_CTX *mem, struct dh_hive *h, int control_set,
		  const struct dh_values *want, struct dh_patch **out,
		  struct dh_error **err);

/* A run of bytes to write over the hive file at offset. */
struct dh_patch_edit {
	uint64_t offset;
	uint8_t *bytes;
	size_t len;
};

/*
 * The plan's changed values as byte edits of the hive file h was opened
 * from (read through fd): each new value written into its own data cell,
 * and its new length into its value record; nothing else of the file
 * changes. *fit is false, with no edits, when a new value is longer than
 * its cell holds or the cell is not what hivex described: the caller then
 * lets hivex rewrite the hive (dh_patch_apply). Results on mem.
 */
int dh_patch_edits(TALLOC_CTX *mem, struct dh_hive *h, int fd,
		   const struct dh_patch *p, struct dh_patch_edit **edits,
		   size_t *n, bool *fit, struct dh_error **err);

/*
 * The last-written time of the key holding each changed value set to
 * filetime, as Windows sets it when it writes a value: one 8-byte edit of
 * each such key record (nk) of the file h was opened from. hivex keeps a
 * key record where it is, so the edits also fit the file it rewrites from
 * that one. Results on mem.
 */
int dh_patch_stamps(TALLOC_CTX *mem, struct dh_hive *h,
		    const struct dh_patch *p, uint64_t filetime,
		    struct dh_patch_edit **edits, size_t *n,
		    struct dh_error **err);

/* Write each changed value of the plan into the hive handle. */
int dh_patch_apply(TALLOC_CTX *mem, struct dh_hive *h,
		   const struct dh_patch *p, struct dh_error **err);

/* Check that the hive open at h holds exactly the plan's after-values
 * (type and every code unit) in its control sets: the read-back of a
 * committed file. */
int dh_patch_verify(TALLOC_CTX *mem, struct dh_hive *h,
		    const struct dh_patch *p, struct dh_error **err);

/* Reads len bytes of a hive file at off into buf: 0, or -1 with *err set
 * (err may be NULL). */
typedef int dh_patch_read_fn(void *ctx, void *buf, size_t len, uint64_t off,
			     struct dh_error **err);

/* Check, cell by cell, that the hive file read holds the plan's changed
 * after-values (type, length and every code unit) in the value records and
 * data cells where h (open on the hive before the edits, which keep every
 * record where it is) has them: the check of dh_patch_edits()' result
 * where no whole file of it is made. DH_ERR_VERIFY when one does not. */
int dh_patch_verify_cells(TALLOC_CTX *mem, struct dh_hive *h,
			  dh_patch_read_fn *read, void *ctx,
			  const struct dh_patch *p, struct dh_error **err);

#endif
