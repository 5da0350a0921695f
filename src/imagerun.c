/*
 * A disk image or an unmounted block device as a target (pipeline.h): its
 * Windows found in a libguestfs appliance, and for each one the hive
 * copied out, the usual steps run on the copy, a committed change written
 * back in place; one launch for them all.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"
#include "io.h"
#include "pipeline.h"
#include "sniff.h"

#ifdef HAVE_LIBGUESTFS
#include "image.h"
#endif

/* The format of the image at given, when it is one: --format, or what its
 * first bytes say. NULL for anything else (a hive, a directory). */
static const char *image_format(const struct dh_options *o, const char *given)
{
	uint8_t head[DH_SNIFF_LEN];
	struct stat st;
	ssize_t got;
	int fd;

	if (stat(given, &st) != 0 || !(S_ISREG(st.st_mode) || S_ISBLK(st.st_mode)))
		return NULL;
	if (o->image_format != NULL)
		return o->image_format;
	fd = open(given, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	got = dh_io_pread_full(fd, head, sizeof(head), 0);
	close(fd);
	return got > 0 ? dh_sniff_image_format(head, (size_t)got) : NULL;
}

#ifndef HAVE_LIBGUESTFS

int dh_image_run(const struct dh_options *o, const char *given,
		 struct dh_report *first, struct dh_error **err)
{
	if (image_format(o, given) == NULL)
		return 0;
	return dh_error_set(first, err, DH_ERR_APPLIANCE,
			    "%s is a disk image or a disk, and this deskheap was built without libguestfs (a static build, or one without libguestfs-dev): mount the Windows volume inside it (guestmount -a %s -i /mnt) and give the mount point",
			    given, given);
}

#else

/* An image open in its appliance, and the Windows found in it. */
struct image {
	const char *given;
	const char *format;
	struct dh_image *img;
	struct dh_image_windows **found;
	size_t n;
	bool written;                /* a change was played into it */
};

/* What a Windows of the image holds while the steps run on its copy. */
struct dh_image_stage {
	struct image *im;
	struct dh_image_windows *w;
	char *dir;                   /* the private copy directory */
	struct dh_image_file *files;
	size_t n_files;
};

/* The copies go; they hold the hive (the key to the SAM's hashes). */
static int stage_destroy(struct dh_image_stage *s)
{
	for (size_t i = 0; s->dir != NULL && i < s->n_files; i++) {
		char *p = talloc_asprintf(s, "%s/%s", s->dir, s->files[i].name);

		if (p != NULL)
			unlink(p);
	}
	if (s->dir != NULL)
		rmdir(s->dir);
	return 0;
}

/* A directory of mode 0700 made if missing; anything else there (a link, a
 * file) is refused by dh_backup_dir_open() later. */
static int make_private(struct run *run, const char *dir,
			struct dh_error **err)
{
	if (mkdir(dir, 0700) == 0 || errno == EEXIST)
		return 0;
	return dh_error_io(run->mem, err, errno, DH_UNCHANGED,
			   "cannot make the backup directory %s", dir);
}

/* Backups: IMAGE.deskheap/ beside the image, or --backup-dir's directory
 * for it, then one directory per partition ("sda2"). */
static int backup_place(struct run *run, struct dh_error **err)
{
	const char *part = strrchr(run->image->w->partition, '/');
	char *parent = run->backup_dir != NULL ?
		talloc_strdup(run->mem, run->backup_dir) :
		talloc_asprintf(run->mem, "%s.deskheap", run->image->im->given);

	if (parent == NULL)
		return dh_error_nomem(run->mem, err);
	if (!run->opts->no_backup && make_private(run, parent, err) != 0)
		return -1;
	run->backup_dir = talloc_asprintf(run->mem, "%s/%s", parent,
					  part != NULL ? part + 1 : "fs");
	run->backup_dir_create = true;
	return run->backup_dir != NULL ? 0 : dh_error_nomem(run->mem, err);
}

/* The report names the hive after where it is in the image,
 * "IMAGE:/dev/sda2:/Windows/System32/config/SYSTEM", and says so in its
 * image object. */
static int report_image(struct run *run, struct dh_error **err)
{
	const struct dh_image_stage *s = run->image;
	struct dh_report *rep = run->report;
	struct dh_image_report *r = talloc_zero(rep, struct dh_image_report);

	if (r == NULL)
		return dh_error_nomem(run->mem, err);
	r->path = talloc_strdup(r, s->im->given);
	r->format = talloc_strdup(r, s->im->format);
	r->partition = talloc_strdup(r, s->w->partition);
	r->system_root = talloc_strdup(r, s->w->root);
	rep->image = r;
	rep->hive = talloc_asprintf(rep, "%s:%s:%s/%s", s->im->given,
				    s->w->partition, s->w->config, s->w->hive);
	if (r->path == NULL || r->format == NULL || r->partition == NULL ||
	    r->system_root == NULL || rep->hive == NULL)
		return dh_error_nomem(run->mem, err);
	return 0;
}

/* The copy as the run's target, named as the report names it. */
static int copy_target(struct run *run, struct dh_error **err)
{
	struct dh_image_stage *s = run->image;
	struct dh_target *t = talloc_zero(run->mem, struct dh_target);
	int *fd;

	if (t == NULL)
		return dh_error_nomem(run->mem, err);
	t->given = talloc_strdup(t, s->im->given);
	t->path = talloc_strdup(t, run->report->hive);
	t->name = talloc_strdup(t, s->w->hive);
	t->dir = t->path != NULL ?
		talloc_strndup(t, t->path, strlen(t->path) - strlen(s->w->hive)) :
		NULL;
	t->rootfd = -1;
	t->dirfd = open(s->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (t->dirfd < 0)
		return dh_error_io(run->mem, err, errno, NULL,
				   "cannot open %s", s->dir);
	fd = dh_io_fd_owned(t, t->dirfd);
	if (fd == NULL || t->given == NULL || t->dir == NULL ||
	    t->name == NULL || t->path == NULL)
		return dh_error_nomem(run->mem, err);
	run->target = t;
	return 0;
}

/* Hibernation refuses a write (unless --allow-hibernated); a read-only
 * mount of a volume ntfs-3g found unsafe too. */
static int check_image(struct run *run, struct dh_error **err)
{
	struct dh_image_stage *s = run->image;
	char *why;

	if (dh_image_hibernated(run->mem, s->im->img, s->w, &why, err) != 0)
		return -1;
	if (why != NULL && dh_run_writes(run->opts) && !run->opts->allow_hibernated)
		return dh_error_set(run->mem, err, DH_ERR_HIBERNATED, "%s", why);
	if (why != NULL && dh_outcome_warn(run, why, err) != 0)
		return -1;
	if (!dh_run_writes(run->opts))
		return 0;
	return dh_image_check_writable(run->mem, s->im->img, s->w, err);
}

static int copy_out(struct run *run, struct dh_error **err)
{
	struct dh_image_stage *s = run->image;
	const char *tmp = getenv("TMPDIR");

	s->dir = talloc_asprintf(s, "%s/deskheap-image-XXXXXX",
				 tmp != NULL && *tmp ? tmp : "/tmp");
	if (s->dir == NULL)
		return dh_error_nomem(run->mem, err);
	if (mkdtemp(s->dir) == NULL) {
		int e = errno;

		TALLOC_FREE(s->dir);
		return dh_error_io(run->mem, err, e, NULL,
				   "cannot make a private directory for the hive's copy");
	}
	/* SOFTWARE (often over 50 MB) only where a log format may be
	 * chosen from it: a write not told the format. */
	return dh_image_copy_out(s, s->im->img, s->w, s->dir,
				 dh_run_writes(run->opts) &&
				 run->opts->log_format == DH_LOGFMT_AUTO,
				 &s->files, &s->n_files, err);
}

/* Windows w of the image, mounted, checked and copied out: run's target. */
static int stage(struct run *run, struct image *im, struct dh_image_windows *w,
		 struct dh_error **err)
{
	struct dh_image_stage *s = talloc_zero(run->mem, struct dh_image_stage);

	if (s == NULL)
		return dh_error_nomem(run->mem, err);
	talloc_set_destructor(s, stage_destroy);
	*s = (struct dh_image_stage){ .im = im, .w = w };
	run->image = s;
	if (report_image(run, err) != 0 ||
	    dh_image_mount(s, im->img, w, err) != 0 ||
	    check_image(run, err) != 0 || copy_out(run, err) != 0 ||
	    copy_target(run, err) != 0)
		return -1;
	if (!dh_run_writes(run->opts))
		return 0;
	run->record = talloc_zero(s, struct dh_io_record);
	if (run->record == NULL)
		return dh_error_nomem(run->mem, err);
	return backup_place(run, err);
}

/* The names in the image of the logs the commit wrote, in its order. */
static const char **written_logs(struct run *run)
{
	const char **names = talloc_array(run->mem, const char *,
					  run->n_logs ? run->n_logs : 1);
	size_t dirlen = strlen(run->target->dir);

	for (size_t i = 0; names != NULL && i < run->n_logs; i++)
		names[i] = run->logs[i].path + dirlen;
	return names;
}

/* After the steps (rc their result): a committed change played into the
 * image, and the copies removed. */
static int finish(struct run *run, int rc, struct dh_error **err)
{
	struct dh_image_stage *s = run->image;
	const char **logs;

	if (rc == 0 && run->record != NULL && run->record->n > 0) {
		s->im->written = true;
		logs = written_logs(run);
		rc = logs != NULL ?
			dh_image_write_back(run->mem, s->im->img, s->w, s->dir,
					    logs, run->record, err) :
			dh_error_nomem(run->mem, err);
	} else if (rc != 0 && *err != NULL && (*err)->message != NULL) {
		(*err)->message = talloc_asprintf_append((*err)->message,
							 " (nothing was written to its partition)");
	}
	/* Errors of the stage's own steps live on it: keep them. */
	if (rc != 0 && *err != NULL)
		talloc_steal(run->mem, *err);
	run->image = NULL;
	talloc_free(s);
	return rc;
}

/* One Windows of the image, start to end, into report r. */
static int run_windows(struct image *im, const struct dh_options *o,
		       struct dh_image_windows *w, struct dh_report *r)
{
	struct dh_error *err = NULL;
	struct run run;
	int rc;

	if (dh_run_begin(&run, r, o) != 0)
		return -1;
	rc = stage(&run, im, w, &err);
	if (rc == 0)
		rc = dh_run_steps(&run, im->given, &err);
	if (run.image != NULL)
		rc = finish(&run, rc, &err);
	return dh_run_end(&run, rc, err);
}

/* Not shut down cleanly: no report may say the change is in the image. */
static int unwritten(struct dh_report *first, const struct dh_error *e)
{
	for (struct dh_report *r = first; r != NULL; r = r->next) {
		if (r->status != DH_STATUS_CHANGED)
			continue;
		r->status = DH_STATUS_FAILED;
		if (dh_error_set(r, &r->error, e->code, "%s", e->message) != 0 &&
		    r->error == NULL)
			return -1;
	}
	return 0;
}

/* The next report, after r, for the same target. */
static struct dh_report *next_report(struct dh_report *first,
				     struct dh_report *r)
{
	r->next = talloc_zero(first, struct dh_report);
	if (r->next == NULL)
		return NULL;
	r->next->target = talloc_strdup(r->next, first->target);
	r->next->hive = talloc_strdup(r->next, first->target);
	return r->next->target != NULL && r->next->hive != NULL ? r->next
								: NULL;
}

static int run_all(struct image *im, const struct dh_options *o,
		   struct dh_report *first)
{
	struct dh_error *e = NULL;
	struct dh_report *r = first;

	for (size_t i = 0; i < im->n; i++) {
		if ((i > 0 && (r = next_report(first, r)) == NULL) ||
		    run_windows(im, o, im->found[i], r) != 0)
			return -1;
	}
	if (!im->written || dh_image_shutdown(im, im->img, &e) == 0)
		return 1;
	return unwritten(first, e) == 0 ? 1 : -1;
}

int dh_image_run(const struct dh_options *o, const char *given,
		 struct dh_report *first, struct dh_error **err)
{
	const char *format = image_format(o, given);
	struct image *im;
	int rc;

	if (format == NULL)
		return 0;
	if ((im = talloc_zero(NULL, struct image)) == NULL)
		return -1;
	im->given = given;
	im->format = format;
	rc = dh_image_open(im, given, im->format, !dh_run_writes(o), &im->img,
			   err) != 0 ||
	     dh_image_find(im, im->img, o->partition, &im->found, &im->n,
			   err) != 0 ? -1 : run_all(im, o, first);
	if (rc < 0 && *err != NULL)
		talloc_steal(first, *err);
	talloc_free(im);
	return rc;
}

#endif
