/*
 * Finding the newest backup set deskheap made of a hive (names and
 * directories: backupdir.h), for restore.
 */
#ifndef DH_BACKUPFIND_H
#define DH_BACKUPFIND_H

#include <stdbool.h>
#include <stddef.h>

#include "backupdir.h"
#include "deskheap.h"
#include "lock.h"

/* The newest backup set deskheap made of a hive: the backup and the log
 * copies that go with it. */
struct dh_backup_set {
	struct dh_backup_dir *bdir; /* the directory holding it, open */
	char *dir;           /* bdir's prefix, for messages: "" or ending
			      * in '/' */
	char *hive;          /* its name, e.g. "NAME.deskheap-0003-<UTC>.bak" */
	char **logs;         /* n_logs names "<hive>.LOG1"... in that directory,
			      * sorted (strcmp) */
	size_t n_logs;
};

/*
 * Find the newest backup set of the locked hive in backup_dir (NULL: beside
 * the hive): the highest number (dh_backup_key_greater(); names as
 * dh_backup_name_parse() recognises them); a link or non-regular file is
 * skipped. Its logs are the regular files named exactly the backup's name + ".LOG", ".LOG1" or ".LOG2" in
 * any letter case. backup_dir is opened as dh_backup_dir_open() does (a
 * directory it would refuse to write to, it refuses to read from); the
 * hive's directory through the lock's descriptor. DH_ERR_ARGUMENT, naming
 * where it looked, when there is none; DH_ERR_IO when the directory cannot
 * be listed. Open the set's files through bdir->fd.
 * skip_identical: pass over backups byte-identical to the hive as it is
 * now (restoring one would change nothing: the backup a killed restore
 * made of it, say), and take the newest that differs; DH_ERR_ARGUMENT
 * when all are identical. The result is on mem.
 */
int dh_backup_find(TALLOC_CTX *mem, const struct dh_locked *hive,
		   const char *backup_dir, bool skip_identical,
		   struct dh_backup_set **out, struct dh_error **err);

#endif
