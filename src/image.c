/*
 * Disk images through libguestfs: see image.h.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <guestfs.h>

#include "error.h"
#include "failpoint.h"
#include "image.h"
#include "io.h"
#include "target.h"

/* Bytes per pwrite or pread message: well under libguestfs' limit. */
#define IMAGE_CHUNK ((size_t)1 << 20)

struct dh_image {
	guestfs_h *g;
	char *path;              /* for messages */
	bool readonly;
};

static int image_destroy(struct dh_image *img)
{
	if (img->g != NULL)
		guestfs_close(img->g);
	return 0;
}

static int appliance_error(TALLOC_CTX *mem, const struct dh_image *img,
			   struct dh_error **err, const char *what)
{
	const char *why = img->g != NULL ? guestfs_last_error(img->g) : NULL;

	return dh_error_set(mem, err, DH_ERR_APPLIANCE, "%s: %s: %s", img->path,
			    what, why != NULL ? why : strerror(errno));
}

int dh_image_open(TALLOC_CTX *mem, const char *path, const char *format,
		  bool readonly, struct dh_image **out, struct dh_error **err)
{
	struct dh_image *img = talloc_zero(mem, struct dh_image);

	if (img == NULL || (img->path = talloc_strdup(img, path)) == NULL) {
		talloc_free(img);
		return dh_error_nomem(mem, err);
	}
	img->readonly = readonly;
	talloc_set_destructor(img, image_destroy);
	img->g = guestfs_create();
	if (img->g != NULL) {
		guestfs_set_error_handler(img->g, NULL, NULL);
		if (guestfs_add_drive_opts(img->g, path,
					   GUESTFS_ADD_DRIVE_OPTS_FORMAT, format,
					   GUESTFS_ADD_DRIVE_OPTS_READONLY,
					   readonly ? 1 : 0, -1) == 0 &&
		    guestfs_launch(img->g) == 0) {
			*out = img;
			return 0;
		}
	}
	appliance_error(mem, img, err, "cannot start the libguestfs appliance on it (libguestfs-test-tool says why; where KVM is unusable, set LIBGUESTFS_BACKEND_SETTINGS=force_tcg)");
	talloc_free(img);
	return -1;
}

/* ------------------------------------------------------------------ */
/* Finding Windows                                                    */

static void free_strings(char **v)
{
	for (size_t i = 0; v != NULL && v[i] != NULL; i++)
		free(v[i]);
	free(v);
}

/* The entry of dir named want in any letter case, as spelled there; NULL
 * when there is none, or more than one (which one Windows uses cannot be
 * told). */
static char *find_entry(TALLOC_CTX *mem, guestfs_h *g, const char *dir,
			const char *want)
{
	char **names = guestfs_ls(g, dir);
	char *found = NULL;
	unsigned n = 0;

	for (size_t i = 0; names != NULL && names[i] != NULL; i++)
		if (strcasecmp(names[i], want) == 0 && n++ == 0)
			found = talloc_strdup(mem, names[i]);
	free_strings(names);
	return n == 1 ? found : NULL;
}

/* Whether path is of kind (S_IFDIR, S_IFREG), itself: not a link. */
static bool is_kind(guestfs_h *g, const char *path, mode_t kind)
{
	struct guestfs_statns *st = guestfs_lstatns(g, path);
	bool ok = st != NULL && ((mode_t)st->st_mode & S_IFMT) == kind;

	if (st != NULL)
		guestfs_free_statns(st);
	return ok;
}

/* The path of parts[0..n) below / as spelled there, each a directory but
 * the last, which is a regular file; NULL when not so. */
static char *walk(TALLOC_CTX *mem, guestfs_h *g, const char *const *parts,
		  size_t n)
{
	char *path = talloc_strdup(mem, "");

	for (size_t i = 0; path != NULL && i < n; i++) {
		char *e = find_entry(mem, g, *path ? path : "/", parts[i]);

		if (e == NULL)
			return NULL;
		path = talloc_asprintf(mem, "%s/%s", path, e);
		if (path != NULL &&
		    !is_kind(g, path, i + 1 < n ? S_IFDIR : S_IFREG))
			return NULL;
	}
	return path;
}

/* The Windows on the filesystem mounted at /, or NULL. */
static struct dh_image_windows *windows_here(TALLOC_CTX *mem, guestfs_h *g,
					     const char *device)
{
	static const char *const layouts[][4] = {
		{ "Windows", "System32", "config", "SYSTEM" },
		{ "WINNT", "system32", "config", "SYSTEM" },
	};

	for (size_t l = 0; l < 2; l++) {
		char *hive = walk(mem, g, layouts[l], 4);
		struct dh_image_windows *w;
		char *slash;

		if (hive == NULL)
			continue;
		w = talloc_zero(mem, struct dh_image_windows);
		if (w == NULL)
			return NULL;
		slash = strrchr(hive, '/');
		w->hive = talloc_strdup(w, slash + 1);
		w->config = talloc_strndup(w, hive, (size_t)(slash - hive));
		w->root = talloc_strndup(w, hive, strcspn(hive + 1, "/") + 1);
		w->partition = talloc_strdup(w, device);
		return w;
	}
	return NULL;
}

/* Every NTFS filesystem holding a Windows, each looked at read-only. */
static int survey(TALLOC_CTX *mem, struct dh_image *img,
		  struct dh_image_windows ***found, size_t *n,
		  struct dh_error **err)
{
	char **fs = guestfs_list_filesystems(img->g);

	if (fs == NULL)
		return appliance_error(mem, img, err,
				       "cannot list its filesystems");
	*found = talloc_array(mem, struct dh_image_windows *, 1);
	*n = 0;
	for (size_t i = 0; *found != NULL && fs[i] && fs[i + 1]; i += 2) {
		struct dh_image_windows *w;

		if (strcmp(fs[i + 1], "ntfs") != 0 ||
		    guestfs_mount_ro(img->g, fs[i], "/") != 0)
			continue;
		w = windows_here(mem, img->g, fs[i]);
		guestfs_umount_all(img->g);
		if (w == NULL)
			continue;
		*found = talloc_realloc(mem, *found, struct dh_image_windows *,
					*n + 1);
		if (*found != NULL)
			(*found)[(*n)++] = w;
	}
	free_strings(fs);
	return *found != NULL ? 0 : dh_error_nomem(mem, err);
}

static bool same_partition(const char *device, const char *asked)
{
	return strcmp(device, asked) == 0 ||
	       (strncmp(device, "/dev/", 5) == 0 &&
		strcmp(device + 5, asked) == 0);
}

static char *list_found(TALLOC_CTX *mem, struct dh_image_windows **found,
			size_t n)
{
	char *s = talloc_strdup(mem, "");

	for (size_t i = 0; s != NULL && i < n; i++)
		s = talloc_asprintf_append(s, "%s%s (%s)", i ? ", " : "",
					   found[i]->partition, found[i]->root);
	return s;
}

int dh_image_find(TALLOC_CTX *mem, struct dh_image *img,
		  const char *partition, struct dh_image_windows ***found,
		  size_t *n, struct dh_error **err)
{
	size_t kept = 0;

	if (survey(mem, img, found, n, err) != 0)
		return -1;
	if (*n == 0)
		return dh_error_set(mem, err, DH_ERR_NO_WINDOWS,
				    "%s: no Windows found (no NTFS filesystem in it holds Windows/System32/config/SYSTEM); give the image of a Windows system disk",
				    img->path);
	if (partition == NULL)
		return 0;
	for (size_t i = 0; i < *n; i++)
		if (same_partition((*found)[i]->partition, partition))
			(*found)[kept++] = (*found)[i];
	if (kept > 0) {
		*n = kept;
		return 0;
	}
	return dh_error_set(mem, err, DH_ERR_NO_WINDOWS,
			    "%s: no Windows on partition %s; Windows was found on %s",
			    img->path, partition, list_found(mem, *found, *n));
}

int dh_image_mount(TALLOC_CTX *mem, struct dh_image *img,
		   const struct dh_image_windows *w, struct dh_error **err)
{
	int rc = guestfs_umount_all(img->g);

	if (rc == 0)
		rc = img->readonly ? guestfs_mount_ro(img->g, w->partition, "/")
				   : guestfs_mount(img->g, w->partition, "/");
	if (rc != 0)
		return appliance_error(mem, img, err, "cannot mount its Windows partition");
	return 0;
}

/* ------------------------------------------------------------------ */
/* Before writing                                                     */

int dh_image_check_writable(TALLOC_CTX *mem, struct dh_image *img,
			    const struct dh_image_windows *w,
			    struct dh_error **err)
{
	struct guestfs_statvfs *st = guestfs_statvfs(img->g, "/");
	bool ro;

	if (st == NULL)
		return appliance_error(mem, img, err, "cannot look at its Windows partition");
	ro = (st->flag & ST_RDONLY) != 0;
	guestfs_free_statvfs(st);
	if (!ro)
		return 0;
	return dh_error_set(mem, err, DH_ERR_IO,
			    "%s: partition %s is mounted read-only in the appliance (%s): "
			    "the usual cause is a Windows that was hibernated or shut down with Fast Startup, "
			    "or did not shut down cleanly (ntfs-3g then mounts it read-only): boot Windows, "
			    "shut it down fully (shutdown /s /t 0, or turn off Fast Startup), then run again; "
			    "nothing was written to it",
			    img->path, w->partition, strerror(EROFS));
}

int dh_image_hibernated(TALLOC_CTX *mem, struct dh_image *img,
			const struct dh_image_windows *w, char **msg,
			struct dh_error **err)
{
	char *name = find_entry(mem, img->g, "/", "hiberfil.sys");
	char *where, *path, *sig;
	size_t got = 0;

	*msg = NULL;
	if (name == NULL || (path = talloc_asprintf(mem, "/%s", name)) == NULL ||
	    !is_kind(img->g, path, S_IFREG))
		return 0;
	sig = guestfs_pread(img->g, path, 4, 0, &got);
	if (sig == NULL)
		return appliance_error(mem, img, err, "cannot read hiberfil.sys");
	where = talloc_asprintf(mem, "%s:%s:/", img->path, w->partition);
	if (got == 4 && where != NULL)
		*msg = dh_target_hibernation(mem, where, name, sig);
	free(sig);
	return 0;
}

/* ------------------------------------------------------------------ */
/* Copying out                                                        */

static bool is_log_of(const char *hive, const char *name)
{
	size_t n = strlen(hive);

	return strncasecmp(name, hive, n) == 0 &&
	       (strcasecmp(name + n, ".LOG") == 0 ||
		strcasecmp(name + n, ".LOG1") == 0 ||
		strcasecmp(name + n, ".LOG2") == 0);
}

/* The names to copy: the hive, its logs, SOFTWARE (with software);
 * regular files only. */
static int names_to_copy(TALLOC_CTX *mem, struct dh_image *img,
			 const struct dh_image_windows *w, bool software,
			 struct dh_image_file **files, size_t *n,
			 struct dh_error **err)
{
	char **names = guestfs_ls(img->g, w->config);

	if (names == NULL)
		return appliance_error(mem, img, err, "cannot list its config directory");
	*files = talloc_array(mem, struct dh_image_file, 1);
	*n = 0;
	if (*files != NULL)
		(*files)[(*n)++] = (struct dh_image_file){
			talloc_strdup(*files, w->hive), false };
	for (size_t i = 0; *files != NULL && names[i] != NULL; i++) {
		bool log = is_log_of(w->hive, names[i]);
		char *path = talloc_asprintf(mem, "%s/%s", w->config, names[i]);

		if ((!log && (!software ||
			      strcasecmp(names[i], "SOFTWARE") != 0)) ||
		    path == NULL || !is_kind(img->g, path, S_IFREG))
			continue;
		*files = talloc_realloc(mem, *files, struct dh_image_file, *n + 1);
		if (*files != NULL)
			(*files)[(*n)++] = (struct dh_image_file){
				talloc_strdup(*files, names[i]), log };
	}
	free_strings(names);
	return *files != NULL ? 0 : dh_error_nomem(mem, err);
}

int dh_image_copy_out(TALLOC_CTX *mem, struct dh_image *img,
		      const struct dh_image_windows *w, const char *dir,
		      bool software, struct dh_image_file **files, size_t *n,
		      struct dh_error **err)
{
	if (names_to_copy(mem, img, w, software, files, n, err) != 0)
		return -1;
	for (size_t i = 0; i < *n; i++) {
		char *from = talloc_asprintf(mem, "%s/%s", w->config,
					     (*files)[i].name);
		char *to = talloc_asprintf(mem, "%s/%s", dir, (*files)[i].name);

		if (from == NULL || to == NULL)
			return dh_error_nomem(mem, err);
		if (guestfs_download(img->g, from, to) != 0)
			return appliance_error(mem, img, err, "cannot copy a file out of it");
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* Writing back                                                       */

static int put(struct dh_image *img, const char *path, const uint8_t *data,
	       size_t len, uint64_t off)
{
	while (len > 0) {
		size_t n = len < IMAGE_CHUNK ? len : IMAGE_CHUNK;
		int done = guestfs_pwrite(img->g, path, (const char *)data, n,
					  (int64_t)off);

		if (done <= 0)
			return -1;
		data += done;
		len -= (size_t)done;
		off += (uint64_t)done;
	}
	return 0;
}

static int play(struct dh_image *img, char *const *paths,
		const struct dh_io_op *op)
{
	if (dh_failpoint("image-write") != 0)
		return -1;
	switch (op->kind) {
	case DH_IO_WRITE:
		return put(img, paths[op->file], op->data, op->len, op->offset);
	case DH_IO_TRUNCATE:
		return guestfs_truncate_size(img->g, paths[op->file],
					     (int64_t)op->offset);
	case DH_IO_SYNC:
		return guestfs_sync(img->g);
	}
	return -1;
}

/* The range of op, read from the image and from the local file at fd
 * (the copy the commit wrote, as it ended): the same bytes? */
static int same_range(struct dh_image *img, const char *path, int fd,
		      const struct dh_io_op *op, uint8_t *local)
{
	for (size_t done = 0; done < op->len;) {
		size_t want = op->len - done, got = 0;
		off_t at = (off_t)(op->offset + done);
		char *b;
		int same;

		want = want < IMAGE_CHUNK ? want : IMAGE_CHUNK;
		b = guestfs_pread(img->g, path, (int)want, (int64_t)at, &got);
		if (b == NULL)
			return -1;
		same = dh_io_pread_full(fd, local, want, at) == (ssize_t)got &&
		       memcmp(b, local, got) == 0;
		free(b);
		if (!same)
			return 0;
		done += want;
	}
	return 1;
}

/* Every range rec wrote, read back from the image and compared with the
 * copies in dir, which hold what the files must end as. */
static int read_back(TALLOC_CTX *mem, struct dh_image *img, char *const *paths,
		     char *const *local, const struct dh_io_record *rec,
		     struct dh_error **err)
{
	uint8_t *buf = talloc_size(mem, IMAGE_CHUNK);
	int same = 1;

	if (buf == NULL)
		return dh_error_nomem(mem, err);
	for (size_t i = 0; same == 1 && i < rec->n; i++) {
		const struct dh_io_op *op = &rec->ops[i];
		int fd;

		if (op->kind != DH_IO_WRITE)
			continue;
		fd = open(local[op->file], O_RDONLY | O_CLOEXEC);
		same = fd < 0 ? -1 : same_range(img, paths[op->file], fd, op, buf);
		if (fd >= 0)
			close(fd);
		if (same < 0)
			return appliance_error(mem, img, err, "cannot read back what was written");
		if (same == 0)
			return dh_error_set(mem, err, DH_ERR_VERIFY,
					    "%s: %s does not read back as written: check the image; its log holds the change (deskheap restore puts the backup back)",
					    img->path, paths[op->file]);
	}
	talloc_free(buf);
	return 0;
}

int dh_image_write_back(TALLOC_CTX *mem, struct dh_image *img,
			const struct dh_image_windows *w, const char *dir,
			const char *const *logs, const struct dh_io_record *rec,
			struct dh_error **err)
{
	size_t n_files = 1;
	char **paths, **local;

	for (size_t i = 0; i < rec->n; i++)
		if (rec->ops[i].file + 1 > n_files)
			n_files = rec->ops[i].file + 1;
	paths = talloc_array(mem, char *, n_files);
	local = talloc_array(mem, char *, n_files);
	if (paths == NULL || local == NULL)
		return dh_error_nomem(mem, err);
	for (size_t f = 0; f < n_files; f++) {
		const char *name = f == 0 ? w->hive : logs[f - 1];

		paths[f] = talloc_asprintf(paths, "%s/%s", w->config, name);
		local[f] = talloc_asprintf(local, "%s/%s", dir, name);
		if (paths[f] == NULL || local[f] == NULL)
			return dh_error_nomem(mem, err);
	}
	for (size_t i = 0; i < rec->n; i++)
		if (play(img, paths, &rec->ops[i]) != 0)
			return appliance_error(mem, img, err, "writing the change into it failed; the hive there is the old one or a dirty one its log completes, as Windows loads it");
	return read_back(mem, img, paths, local, rec, err);
}

int dh_image_shutdown(TALLOC_CTX *mem, struct dh_image *img,
		      struct dh_error **err)
{
	if (guestfs_umount_all(img->g) != 0 || guestfs_shutdown(img->g) != 0)
		return appliance_error(mem, img, err, "the appliance did not shut down cleanly, so the image may not hold the change; run deskheap show on it");
	return 0;
}
