/*
 * Which commit, and which log: see commitchoice.h.
 */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <strings.h>
#include <sys/vfs.h>
#include <sys/xattr.h>

#include "commitchoice.h"
#include "error.h"

/* statfs f_type values (linux/magic.h names them; not every libc has it). */
#define FUSE_MAGIC 0x65735546u      /* FUSE: ntfs-3g, guestmount */
#define NTFS_MAGIC 0x5346544eu      /* the kernel's old ntfs driver */
#define NTFS3_MAGIC 0x7366746eu     /* the kernel's ntfs3 driver */

static char *descriptor_hidden(TALLOC_CTX *mem, int fd, const char *path,
			       unsigned long type, bool *lost)
{
	*lost = type == NTFS_MAGIC || type == NTFS3_MAGIC;
	if (*lost)
		return talloc_asprintf(mem, "%s is on the kernel's NTFS driver, which cannot give a new file the hive's security descriptor", path);
	if (type != FUSE_MAGIC)
		return NULL;
	/* ntfs-3g reads it by name; guestmount answers ENODATA or ENOTSUP. */
	if (fgetxattr(fd, "system.ntfs_acl", NULL, 0) >= 0)
		return NULL;
	*lost = true;
	return talloc_asprintf(mem, "%s is on a FUSE mount that does not show its NTFS security descriptor (system.ntfs_acl: %s), as guestmount does: a new file would get another one",
			       path, strerror(errno));
}

int dh_commit_identity(TALLOC_CTX *mem, int fd, const char *path,
		       struct dh_identity *out, struct dh_error **err)
{
	struct statfs fs;

	*out = (struct dh_identity){ 0 };
	if (fstatfs(fd, &fs) != 0)
		return dh_error_errno(mem, err, DH_ERR_IO, errno,
				      "cannot stat the filesystem of %s", path);
	out->why = descriptor_hidden(mem, fd, path, (unsigned long)fs.f_type,
				     &out->descriptor_lost);
	if (out->descriptor_lost && out->why == NULL)
		return dh_error_nomem(mem, err);
	return 0;
}

static int find_suffix(const struct dh_log_file *logs, size_t n,
		       const char *suffix)
{
	for (size_t i = 0; i < n; i++)
		if (strcasecmp(logs[i].suffix, suffix) == 0)
			return (int)i;
	return -1;
}

int dh_commit_record_log(enum dh_log_format f, const struct dh_log_file *logs,
			 size_t n)
{
	static const char *const new_order[] = { ".LOG1", ".LOG2" };
	static const char *const old_order[] = { ".LOG", ".LOG1", ".LOG2" };
	const char *const *order = f == DH_LOG_OLD ? old_order : new_order;
	size_t n_order = f == DH_LOG_OLD ? 3 : 2;

	for (size_t k = 0; k < n_order; k++) {
		int i = find_suffix(logs, n, order[k]);

		if (i >= 0)
			return i;
	}
	return -1;
}
