/*
 * A file's owner, mode and extended attributes, copied onto another. See
 * metadata.h; the comments here say why each step is done as it is.
 */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "error.h"
#include "failpoint.h"
#include "metadata.h"

struct meta {
	TALLOC_CTX *mem;        /* the caller's: errors */
	TALLOC_CTX *scratch;    /* freed before returning */
	struct dh_error **err;
};

/* Owner before mode: chown() may clear set-id bits that chmod() sets. */
static int copy_owner(struct meta *c, const struct dh_meta_source *src, int fd,
		      const char *name)
{
	struct stat st;
	int e;

	if (fchown(fd, src->st.st_uid, src->st.st_gid) == 0)
		return 0;
	e = errno;
	/* Filesystems without Unix owners (ntfs-3g without a user mapping,
	 * vfat) refuse any chown; that is fine when the owner already is the
	 * source's. Anything else would hand the file to someone else. */
	if (e == EPERM && fstat(fd, &st) == 0 &&
	    st.st_uid == src->st.st_uid && st.st_gid == src->st.st_gid)
		return 0;
	return dh_error_set(c->mem, c->err, DH_ERR_IO,
			    "cannot give %s the owner of %s (uid %u, gid %u): "
			    "%s; run as root, which can keep another user's "
			    "ownership; %s", name, src->path,
			    (unsigned)src->st.st_uid, (unsigned)src->st.st_gid,
			    strerror(e), DH_UNCHANGED);
}

static int copy_mode(struct meta *c, const struct dh_meta_source *src, int fd,
		     const char *name)
{
	mode_t want = src->st.st_mode & 07777;
	struct stat st;

	if (fchmod(fd, want) == 0)
		return 0;
	/* Same reasoning as for the owner: a filesystem with fixed modes
	 * may refuse, and that is fine when the mode is already right. */
	if (fstat(fd, &st) == 0 && (st.st_mode & 07777) == want)
		return 0;
	return dh_error_io(c->mem, c->err, errno, DH_UNCHANGED,
			"cannot give %s the mode of %s (%04o)", name, src->path,
			(unsigned)want);
}

/* The extended attribute names of fd, NUL-separated, in *names (on
 * scratch), *len bytes. A filesystem without them gives an empty list. */
static int list_xattrs(struct meta *c, int fd, const char *name,
		       char **names, ssize_t *len)
{
	for (;;) {
		ssize_t n = flistxattr(fd, NULL, 0);
		char *buf;

		if (n < 0 && errno == ENOTSUP) {
			*names = NULL;
			*len = 0;
			return 0;
		}
		if (n < 0)
			break;
		/* One spare byte: a size of 0 would only ask for the size. */
		buf = talloc_array(c->scratch, char, n + 1);
		if (buf == NULL)
			return dh_error_nomem(c->mem, c->err);
		*len = flistxattr(fd, buf, n + 1);
		if (*len >= 0) {
			*names = buf;
			return 0;
		}
		talloc_free(buf);
		if (errno != ERANGE) /* ERANGE: the list grew; ask again */
			break;
	}
	return dh_error_io(c->mem, c->err, errno, DH_UNCHANGED,
			"cannot list the extended attributes of %s", name);
}

static bool has_name(const char *names, ssize_t len, const char *name)
{
	ssize_t i;

	for (i = 0; i < len; i += strlen(names + i) + 1)
		if (strcmp(names + i, name) == 0)
			return true;
	return false;
}

/* Read attribute attr of fd into *value (on scratch). Returns 0 or an
 * errno value; ENOMEM stands for talloc failing. */
static int get_xattr(struct meta *c, int fd, const char *attr, void **value,
		     ssize_t *size)
{
	for (;;) {
		ssize_t n = fgetxattr(fd, attr, NULL, 0);
		void *buf;

		if (n < 0)
			return errno;
		/* One spare byte: a size of 0 would only ask for the size. */
		buf = talloc_size(c->scratch, n + 1);
		if (buf == NULL)
			return ENOMEM;
		*size = fgetxattr(fd, attr, buf, n + 1);
		if (*size >= 0) {
			*value = buf;
			return 0;
		}
		talloc_free(buf);
		if (errno != ERANGE) /* ERANGE: the value grew; ask again */
			return errno;
	}
}

/* Copy attribute attr from src to fd. Returns 0 or an errno value;
 * ENODATA when src does not have it. */
static int copy_xattr(struct meta *c, const struct dh_meta_source *src, int fd,
		      const char *attr)
{
	void *value = NULL;
	ssize_t size = 0;
	int e;

	e = get_xattr(c, src->fd, attr, &value, &size);
	if (e == 0 && fsetxattr(fd, attr, value, size, 0) != 0)
		e = errno;
	talloc_free(value);
	return e;
}

/* A new file can inherit attributes its source lacks, above all a POSIX
 * ACL from the directory's default ACL, which could let someone read a
 * copy of the hive who cannot read the hive. Remove those. Only system.*
 * (ACLs) must go; a leftover of another namespace is harmless. */
static int drop_extra_xattrs(struct meta *c, const struct dh_meta_source *src,
			     int fd, const char *name, const char *orig,
			     ssize_t orig_len)
{
	char *names;
	ssize_t len, i;

	if (list_xattrs(c, fd, name, &names, &len) != 0)
		return -1;
	for (i = 0; i < len; i += strlen(names + i) + 1) {
		const char *attr = names + i;

		if (has_name(orig, orig_len, attr))
			continue;
		if (fremovexattr(fd, attr) != 0 && errno != ENODATA &&
		    strncmp(attr, "system.", 7) == 0)
			return dh_error_io(c->mem, c->err, errno, DH_UNCHANGED,
					"cannot remove extended attribute %s "
					"(which %s does not have) from %s",
					attr, src->path, name);
	}
	talloc_free(names);
	return 0;
}

/* Every attribute src lists. A backup copy may live on another kind of
 * filesystem, so for it an unsupported attribute is skipped; the
 * replacement hive sits beside the original and must get them all. */
static int copy_listed_xattrs(struct meta *c, const struct dh_meta_source *src,
			      int fd, const char *name, const char *orig,
			      ssize_t orig_len, bool backup)
{
	ssize_t i;
	int e;

	for (i = 0; i < orig_len; i += strlen(orig + i) + 1) {
		const char *attr = orig + i;

		e = copy_xattr(c, src, fd, attr);
		if (e == 0 || e == ENODATA) /* ENODATA: removed meanwhile */
			continue;
		if (backup && e == ENOTSUP)
			continue;
		if (e == ENOMEM)
			return dh_error_nomem(c->mem, c->err);
		return dh_error_io(c->mem, c->err, e, DH_UNCHANGED,
				"cannot copy extended attribute %s of %s to %s",
				attr, src->path, name);
	}
	return 0;
}

/* ntfs-3g keeps the Windows security descriptor and DOS attributes in
 * these, readable by name only (listxattr does not show them). They come
 * last: with the "permissions" mount option, ntfs-3g rewrites the
 * descriptor on chmod/chown, and the original's must win. */
static int copy_ntfs_xattrs(struct meta *c, const struct dh_meta_source *src,
			    int fd, const char *name, const char *orig,
			    ssize_t orig_len)
{
	static const char *const attrs[] = {
		"system.ntfs_acl", "system.ntfs_attrib",
	};
	size_t i;
	int e;

	for (i = 0; i < sizeof attrs / sizeof attrs[0]; i++) {
		if (has_name(orig, orig_len, attrs[i]))
			continue; /* copied with the listed ones */
		e = copy_xattr(c, src, fd, attrs[i]);
		if (e == 0 || e == ENODATA || e == ENOTSUP)
			continue; /* not NTFS, or no such attribute */
		if (e == ENOMEM)
			return dh_error_nomem(c->mem, c->err);
		return dh_error_io(c->mem, c->err, e, DH_UNCHANGED,
				"cannot copy %s of %s to %s", attrs[i],
				src->path, name);
	}
	return 0;
}

/* The result must have its source's mode and owner exactly: checked
 * rather than assumed, since ACL attributes also set mode bits. */
static int check_metadata(struct meta *c, const struct dh_meta_source *src, int fd,
			  const char *name)
{
	struct stat st;

	if (fstat(fd, &st) != 0)
		return dh_error_io(c->mem, c->err, errno, DH_UNCHANGED,
				"cannot stat %s", name);
	if ((st.st_mode & 07777) == (src->st.st_mode & 07777) &&
	    st.st_uid == src->st.st_uid && st.st_gid == src->st.st_gid)
		return 0;
	return dh_error_set(c->mem, c->err, DH_ERR_IO,
			    "%s got mode %04o uid %u gid %u, not those of %s "
			    "(%04o uid %u gid %u): the filesystem does not "
			    "keep them; use a filesystem with Unix "
			    "permissions; %s",
			    name, (unsigned)(st.st_mode & 07777),
			    (unsigned)st.st_uid, (unsigned)st.st_gid, src->path,
			    (unsigned)(src->st.st_mode & 07777),
			    (unsigned)src->st.st_uid, (unsigned)src->st.st_gid,
			    DH_UNCHANGED);
}

/* Give fd (named name) the owner, mode and extended attributes of src. */
static int copy_metadata(struct meta *c, const struct dh_meta_source *src,
			 int fd, const char *name, bool backup)
{
	if (dh_failpoint("metadata") != 0)
		return dh_error_io(c->mem, c->err, errno, DH_UNCHANGED,
				"cannot copy the metadata of %s to %s",
				src->path, name);
	char *orig;
	ssize_t len;
	int ret;

	if (copy_owner(c, src, fd, name) != 0 ||
	    copy_mode(c, src, fd, name) != 0)
		return -1;
	if (list_xattrs(c, src->fd, src->path, &orig, &len) != 0)
		return -1;
	ret = drop_extra_xattrs(c, src, fd, name, orig, len);
	if (ret == 0)
		ret = copy_listed_xattrs(c, src, fd, name, orig, len, backup);
	if (ret == 0)
		ret = copy_ntfs_xattrs(c, src, fd, name, orig, len);
	if (ret == 0)
		ret = check_metadata(c, src, fd, name);
	talloc_free(orig);
	return ret;
}

int dh_metadata_copy(TALLOC_CTX *mem, const struct dh_meta_source *src,
		     int fd, const char *name, bool backup,
		     struct dh_error **err)
{
	struct meta m = { mem, talloc_new(mem), err };
	int ret;

	if (m.scratch == NULL)
		return dh_error_nomem(mem, err);
	ret = copy_metadata(&m, src, fd, name, backup);
	talloc_free(m.scratch);
	return ret;
}
