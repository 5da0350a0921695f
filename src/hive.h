/*
 * hivex glue: open a hive, find its control sets and Select, read and write
 * the csrss command line value ("Windows" under
 * ControlSetNNN\Control\Session Manager\SubSystems), commit to a file.
 * Names compare case-insensitively, as Windows does.
 */
#ifndef DH_HIVE_H
#define DH_HIVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <hivex.h>

#include "deskheap.h"

/* An open hive. A talloc object: freeing it closes the hivex handle. */
struct dh_hive;

/* Open the hive file open at fd (the descriptor, not a path, so the file
 * read is the one the caller locked or checked). name is used in messages.
 * writable: open for editing (hivex reads it wholly into memory). */
int dh_hive_open_fd(TALLOC_CTX *mem, int fd, const char *name, bool writable,
		    struct dh_hive **out, struct dh_error **err);

/* A copy of the hive file open at src, whole, in an anonymous memory file
 * (copied in the kernel, not through this process): what a replay writes
 * the recovered hive into, and hivex then reads, as it opens files only.
 * The original is only read. *fd is a talloc'd descriptor on mem, open
 * read-write: freeing it closes the file. DH_ERR_NOT_HIVE for a file
 * larger than any hive can be. */
int dh_hive_memfd(TALLOC_CTX *mem, int src, const char *name, int **fd,
		  struct dh_error **err);

struct dh_controlset {
	char *name;          /* as spelled in the hive */
	unsigned number;     /* NNN */
	unsigned roles;      /* enum dh_role bits, from Select */
	hive_node_h node;
};

/* The root keys named ControlSet + three digits, in number order, with
 * their roles. DH_ERR_NOT_SYSTEM when there is no Select key or no control
 * set. */
int dh_hive_control_sets(TALLOC_CTX *mem, struct dh_hive *h,
			 struct dh_controlset **sets, size_t *n,
			 struct dh_error **err);

/* The Windows value: its type and its data as UTF-16 code units in host
 * order, terminator (if any) included. */
struct dh_winvalue {
	hive_type type;
	uint16_t *units;
	size_t n_units;
};

/* Read the Windows value of a control set. DH_ERR_NOT_SYSTEM when the key
 * or value is missing; DH_ERR_VALUE when it is not REG_SZ/REG_EXPAND_SZ or
 * its length is odd. */
int dh_hive_read_windows(TALLOC_CTX *mem, struct dh_hive *h,
			 const struct dh_controlset *cs, struct dh_winvalue *out,
			 struct dh_error **err);

/* Replace the Windows value of a control set, same name spelling. The
 * change is in memory until dh_hive_commit_fd(). */
int dh_hive_write_windows(TALLOC_CTX *mem, struct dh_hive *h,
			  const struct dh_controlset *cs,
			  const struct dh_winvalue *v, struct dh_error **err);

/* Where the Windows value of a control set lies in the hive file: the
 * file offsets of its key record (nk, the SubSystems key), of its value
 * record (vk) and of its data cell. */
struct dh_value_place {
	uint64_t key;
	uint64_t vk;
	uint64_t data;
};

int dh_hive_windows_place(TALLOC_CTX *mem, struct dh_hive *h,
			  const struct dh_controlset *cs,
			  struct dh_value_place *out, struct dh_error **err);

/* Write the whole hive (hivex commit) into the file open at fd. */
int dh_hive_commit_fd(TALLOC_CTX *mem, struct dh_hive *h, int fd,
		      struct dh_error **err);

/* The string value `value` (REG_SZ or REG_EXPAND_SZ) of the key at path
 * (names separated by '\', from the root; letter case ignored), as UTF-8 on
 * mem. *out is NULL when the key or the value is missing or not a string.
 * -1 only when hivex fails for want of memory or descriptors. */
int dh_hive_read_string(TALLOC_CTX *mem, struct dh_hive *h, const char *path,
			const char *value, char **out, struct dh_error **err);

/* The name given at open, for messages. */
const char *dh_hive_name(const struct dh_hive *h);

/* The minor format version of its base block (1.3 = 3, 1.5 = 5): what the
 * Windows that reads it expects, e.g. big-data records from 1.4 on. */
uint32_t dh_hive_minor_version(const struct dh_hive *h);

#endif
