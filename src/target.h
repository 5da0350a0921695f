/*
 * From a target to the files deskheap reads: the hive's transaction logs
 * beside it, and whole-file reads. Symbolic links are never followed.
 */
#ifndef DH_TARGET_H
#define DH_TARGET_H

#include <stddef.h>
#include <stdint.h>

#include "deskheap.h"

/* A transaction log found beside a hive. */
struct dh_log_file {
	char *path;
	const char *suffix;     /* within path: ".LOG1", as spelled there */
	int fd;                 /* open read-only; closed with the array */
	uint8_t *data;          /* its bytes */
	size_t len;
};

/*
 * Find and read NAME.LOG, NAME.LOG1 and NAME.LOG2 beside the hive at
 * hive_path (letter case of the suffix and name ignored, as on Windows),
 * in that order; missing ones are left out. Two files that differ only by
 * case (possible on a case-sensitive mount) are refused: which one Windows
 * would use cannot be told. A link or a non-regular file is refused. The
 * array is on mem and owns every path, buffer and descriptor in it; freeing
 * it closes the logs.
 */
int dh_target_logs(TALLOC_CTX *mem, const char *hive_path,
		   struct dh_log_file **logs, size_t *n, struct dh_error **err);

/* Read the whole file open at fd into a talloc array on mem. */
int dh_target_read_fd(TALLOC_CTX *mem, int fd, const char *name,
		      uint8_t **data, size_t *len, struct dh_error **err);

#endif
