/*
 * Disk images and unmounted block devices, opened through libguestfs
 * (design invariant 7): an image is untrusted, so its partition table and
 * filesystems are parsed by the kernel of the libguestfs appliance, a
 * virtual machine, never by the host's; nothing is mounted on the host and
 * no root is needed.
 *
 * deskheap does not edit a hive inside the appliance. It copies the hive,
 * its logs and SOFTWARE out (dh_image_copy_out()), runs the same replay,
 * plan, verification and in-place commit on those copies as on any hive,
 * recording each write, truncation and sync the commit made (inplace.h),
 * and plays that record into the image in the same order
 * (dh_image_write_back()). The files in the image so go through the states
 * the in-place commit is made of, each Windows loads as the old or the new
 * hive, and keep their identity (ntfs-3g gives a file created or renamed
 * in the image a new security descriptor, which no call can set).
 *
 * Built only with libguestfs (configure finds it); without it imagerun.c
 * refuses an image with DH_ERR_APPLIANCE saying how to mount it instead.
 */
#ifndef DH_IMAGE_H
#define DH_IMAGE_H

#include <stdbool.h>
#include <stddef.h>

#include "deskheap.h"
#include "inplace.h"

struct dh_image;

/* A Windows found in the image: paths in the appliance, as spelled there. */
struct dh_image_windows {
	char *partition;        /* the filesystem's device, "/dev/sda2" */
	char *root;             /* the system root, "/Windows" */
	char *config;           /* "/Windows/System32/config" */
	char *hive;             /* its SYSTEM's name in config, "SYSTEM" */
};

/* A file copied out: its name in config and on the host. */
struct dh_image_file {
	char *name;
	bool is_log;
};

/*
 * Add path (format: a qemu format name, e.g. "qcow2" or "raw") to a new
 * appliance, read-only when readonly (the image is then not written at
 * all), and launch it. DH_ERR_APPLIANCE naming path and libguestfs' error.
 * Freeing *out shuts the appliance down and closes it.
 */
int dh_image_open(TALLOC_CTX *mem, const char *path, const char *format,
		  bool readonly, struct dh_image **out, struct dh_error **err);

/*
 * Every NTFS filesystem with Windows/System32/config/SYSTEM (or
 * WINNT/system32/config/SYSTEM) in any letter case, each component a real
 * directory (no symbolic link) and SYSTEM a regular file: *n of them in
 * *found (on mem), in the order of the filesystems. partition, when not
 * NULL, keeps only the one there ("/dev/sda2" or "sda2"). None:
 * DH_ERR_NO_WINDOWS, listing those found elsewhere when partition
 * excluded them. Nothing stays mounted.
 */
int dh_image_find(TALLOC_CTX *mem, struct dh_image *img,
		  const char *partition, struct dh_image_windows ***found,
		  size_t *n, struct dh_error **err);

/* Mount w's filesystem at / (read-only for a read-only image), instead of
 * whatever was mounted there. */
int dh_image_mount(TALLOC_CTX *mem, struct dh_image *img,
		   const struct dh_image_windows *w, struct dh_error **err);

/*
 * For writers: DH_ERR_IO with the Fast Startup remedy when the filesystem
 * is mounted read-only all the same (ntfs-3g falls back to read-only on a
 * hibernated or unclean volume, without failing the mount).
 */
int dh_image_check_writable(TALLOC_CTX *mem, struct dh_image *img,
			    const struct dh_image_windows *w,
			    struct dh_error **err);

/* What hiberfil.sys (any case) at the volume root says: NULL, or a message
 * on mem that Windows is hibernated or fast-started ("hibr"/"HIBR"). */
int dh_image_hibernated(TALLOC_CTX *mem, struct dh_image *img,
			const struct dh_image_windows *w, char **msg,
			struct dh_error **err);

/*
 * Copy the hive, its logs (regular files named hive + ".LOG", ".LOG1",
 * ".LOG2", any letter case) and, with software, SOFTWARE (when it is a
 * regular file: the log format when the logs do not tell it) out of config
 * into dir on the host (a private directory), under their own names.
 * *files (on mem) lists them, the hive first.
 */
int dh_image_copy_out(TALLOC_CTX *mem, struct dh_image *img,
		      const struct dh_image_windows *w, const char *dir,
		      bool software, struct dh_image_file **files, size_t *n,
		      struct dh_error **err);

/*
 * Play rec into the image (w mounted): rec's file 0 is config/hive, file
 * i + 1 the log named logs[i]; each write, truncation and sync in order.
 * Then read back every range written and compare it with the copy of that
 * file in dir (what the commit left there). DH_ERR_APPLIANCE or
 * DH_ERR_VERIFY otherwise; the message then says what the hive in the
 * image holds. The image holds the change only once dh_image_shutdown()
 * has succeeded.
 */
int dh_image_write_back(TALLOC_CTX *mem, struct dh_image *img,
			const struct dh_image_windows *w, const char *dir,
			const char *const *logs, const struct dh_io_record *rec,
			struct dh_error **err);

/*
 * Unmount, sync and shut the appliance down: only when that succeeds is
 * what was written in the image (libguestfs: a failed shutdown may mean
 * it was not). DH_ERR_APPLIANCE otherwise.
 */
int dh_image_shutdown(TALLOC_CTX *mem, struct dh_image *img,
		      struct dh_error **err);

#endif
