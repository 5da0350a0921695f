/*
 * From a TARGET on the command line to the files deskheap reads and writes.
 *
 * A target is a hive file, a config directory (holding SYSTEM), or the root
 * of a mounted Windows volume (Windows/System32/config/SYSTEM, or
 * WINNT/system32/config/SYSTEM on NT 4.0 and 2000). Names below the target
 * are matched case-insensitively, as Windows does, since a mount may be
 * case-sensitive. A mounted image is untrusted and the tool often runs as
 * root: every component below what the user named is opened with
 * O_NOFOLLOW, one at a time, and a symbolic link anywhere on the way is
 * refused, not followed. The result is a directory descriptor and a name;
 * every later file operation goes through that descriptor.
 */
#ifndef DH_TARGET_H
#define DH_TARGET_H

#include <stddef.h>
#include <stdint.h>

#include "deskheap.h"

struct dh_target {
	char *given;         /* as on the command line */
	char *dir;           /* the hive's directory, for messages: "" or
			      * a path ending in '/' */
	char *path;          /* dir + name, for messages */
	char *name;          /* the hive's name in its directory */
	int dirfd;           /* the hive's directory; closed when freed */
	int rootfd;          /* the Windows volume root when known, else -1 */
	char *root;          /* its path for messages, or NULL */
};

/*
 * Resolve `given`. DH_ERR_ARGUMENT with a message saying what was looked
 * for when a directory holds no hive or several (e.g. Windows and WINDOWS
 * on a case-sensitive mount), or a link stands on the way. The hive's own
 * name is not opened here. The result is on mem.
 */
int dh_target_resolve(TALLOC_CTX *mem, const char *given,
		      struct dh_target **out, struct dh_error **err);

/* Open the hive read-only (O_NOFOLLOW), with a shared lock: a writer holds
 * the exclusive one while it commits, and the in-place commit writes the
 * file itself, so a reader waits to see it before or after, never between
 * (a hive replaced meanwhile is opened again). A talloc'd descriptor on mem
 * closes it, and so unlocks it, when freed. */
int dh_target_open_hive(TALLOC_CTX *mem, const struct dh_target *t, int *fd,
			struct dh_error **err);

/*
 * Hibernation and Fast Startup: when the volume root is known and holds a
 * hiberfil.sys (any case) that starts with "hibr" or "HIBR", Windows will
 * write its in-memory registry back over any change when it resumes.
 * Returns 0 and sets *hibernated to a message (on mem) naming the file and
 * the remedy in that case, else to NULL.
 */
int dh_target_hibernated(TALLOC_CTX *mem, const struct dh_target *t,
			 char **hibernated, struct dh_error **err);

/* What the first bytes sig of root + name (a hiberfil.sys; root ends in
 * '/') say: a message on mem when they are "hibr" or "HIBR" (Windows is
 * hibernated or fast-started), else NULL. */
char *dh_target_hibernation(TALLOC_CTX *mem, const char *root,
			    const char *name, const char sig[4]);

/*
 * Open the file `name` beside the hive (in its directory, letter case
 * ignored), read-only, without following a link. *fd is -1 when there is
 * none (a directory of that name is passed over); the caller closes it
 * otherwise. *path (on mem) names it for messages. A symbolic link, a FIFO
 * or a device of that name, or two names that differ only by case, are
 * refused (DH_ERR_ARGUMENT, naming it); *fd is -1 then.
 */
int dh_target_open_beside(TALLOC_CTX *mem, const struct dh_target *t,
			  const char *name, int *fd, char **path,
			  struct dh_error **err);

/* A transaction log found beside a hive. */
struct dh_log_file {
	char *path;
	const char *suffix;     /* within path: ".LOG1", as spelled there */
	int fd;                 /* open read-only; closed with the array */
	const uint8_t *data;    /* its bytes, mapped */
	size_t len;
	void *map;              /* owns data: free it to let go of them */
};

/*
 * Find and read NAME.LOG, NAME.LOG1 and NAME.LOG2 beside the hive (letter
 * case of the suffix and name ignored, as on Windows), in that order;
 * missing ones are left out. Two files that differ only by case are
 * refused: which one Windows would use cannot be told. A link, a FIFO or
 * a device of such a name is refused (DH_ERR_ARGUMENT, naming it); a
 * directory of such a name is passed over. The array is on mem and owns every path,
 * buffer and descriptor in it; freeing it closes the logs.
 */
int dh_target_logs(TALLOC_CTX *mem, const struct dh_target *t,
		   struct dh_log_file **logs, size_t *n, struct dh_error **err);

/* The whole file open at fd, mapped read-only (no copy: a replay reads
 * each byte of a log once or twice). *data (NULL for an empty file) stays
 * valid until *owner, a talloc object on mem, is freed. A file cut short
 * by another program while mapped ends the process with SIGBUS, before
 * anything is renamed: only a temporary file can be left, which the next
 * run that writes removes. */
int dh_target_map_fd(TALLOC_CTX *mem, int fd, const char *name,
		     const uint8_t **data, size_t *len, void **owner,
		     struct dh_error **err);

/*
 * Whether the hive open at fd can be replaced: DH_ERR_IO, naming the file
 * (or its directory) and the remedy, when it is immutable or append-only
 * (chattr +i, +a), which even root cannot rename over; else 0.
 */
int dh_target_replaceable(TALLOC_CTX *mem, const struct dh_target *t,
			  int fd, struct dh_error **err);

#endif
