/*
 * deskheap: fix the Windows desktop-heap limit (the SharedSection setting of
 * the csrss command line) in an offline SYSTEM hive.
 *
 * The public library API. One call, dh_run_target(), takes one target through
 * the whole pipeline (open, check, patch, commit) and returns a report that
 * says what happened. Every result is allocated on the talloc context the
 * caller passes; freeing that context frees the report and everything in it.
 * The library never prints and never exits.
 */
#ifndef DESKHEAP_H
#define DESKHEAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <talloc.h>

/* Sizes are kilobytes; a requested size must lie in this range. */
#define DH_KB_MIN 1u
#define DH_KB_MAX 1048576u

/* What went wrong, in categories a pipeline can act on. */
enum dh_errcode {
	DH_OK = 0,
	DH_ERR_IO,          /* a file could not be read, written or synced */
	DH_ERR_NOT_HIVE,    /* not a registry hive, or hivex cannot read it */
	DH_ERR_NOT_SYSTEM,  /* a hive, but not a SYSTEM hive (no Select, no value) */
	DH_ERR_VALUE,       /* the Windows value cannot be edited safely */
	DH_ERR_DIRTY,       /* the hive holds changes only its logs have */
	DH_ERR_VERIFY,      /* the written file did not read back as intended */
	DH_ERR_ARGUMENT,    /* a request the library refuses (bad size, no set) */
	DH_ERR_HIBERNATED,  /* Windows is hibernated: it would undo the change */
	DH_ERR_INTERNAL,    /* deskheap itself failed (a worker died) */
	DH_ERR_NOMEM,       /* out of memory (ENOMEM), e.g. under ulimit -v */
	DH_ERR_FD_LIMIT,    /* out of file descriptors (EMFILE, ENFILE) */
	DH_ERR_INTERRUPTED, /* a signal stopped it before the hive changed */
	DH_ERR_NO_WINDOWS,  /* a disk image with no Windows (on --partition) */
	DH_ERR_APPLIANCE,   /* libguestfs could not open or write the image */
};

/* An error: a code and a message that names the file and the remedy. */
struct dh_error {
	enum dh_errcode code;
	char *message;
};

/* Stable short name of a code, as used in JSON ("io", "dirty", ...). */
const char *dh_errcode_name(enum dh_errcode code);

/* The three SharedSection numbers, in KB. 0 means "absent" (third number)
 * or "not asked for" (a request). */
struct dh_values {
	uint32_t shared;          /* first number: system-wide heap */
	uint32_t interactive;     /* second: each interactive desktop */
	uint32_t non_interactive; /* third: each non-interactive desktop */
};

/* Roles the Select key gives a control set (bit set). */
enum dh_role {
	DH_ROLE_CURRENT = 1u << 0,
	DH_ROLE_DEFAULT = 1u << 1,
	DH_ROLE_LASTKNOWNGOOD = 1u << 2,
	DH_ROLE_FAILED = 1u << 3,
};

enum dh_command {
	DH_CMD_SHOW,
	DH_CMD_SET,
	DH_CMD_CHECK,
	DH_CMD_RECOVER,   /* replay the logs of a dirty hive, write it clean */
	DH_CMD_RESTORE,   /* put back the newest backup set deskheap made */
};

/* Which control sets a command acts on. */
#define DH_CONTROL_SET_ALL (-1)
#define DH_CONTROL_SET_CURRENT 0

/*
 * What to do with a target. Set size to sizeof(struct dh_options) (the
 * DH_OPTIONS_INIT() initialiser does): fields may be added at the end in
 * later versions, and the library reads only as many bytes as size says,
 * taking the rest as zero, so a program built against this header keeps
 * working with a later library.
 */
/* How a change is written (design invariant 2). */
enum dh_commit {
	DH_COMMIT_AUTO,         /* in place where a new file could not be
				 * given the hive's identity (a FUSE mount
				 * hiding the NTFS security descriptor, such
				 * as guestmount; the kernel's NTFS drivers),
				 * else replace */
	DH_COMMIT_REPLACE,      /* a new file renamed over the old one */
	DH_COMMIT_IN_PLACE,     /* the files themselves, log first, as
				 * Windows writes a hive */
};

/* "auto", "replace", "in-place". */
const char *dh_commit_name(enum dh_commit commit);

/* The transaction-log format an in-place commit writes. */
enum dh_logfmt {
	DH_LOGFMT_AUTO,         /* the format of the hive's logs, else the
				 * one the Windows in SOFTWARE writes */
	DH_LOGFMT_NEW,          /* HvLE: Windows 8.1 and later */
	DH_LOGFMT_OLD,          /* DIRT: Windows XP to 8 */
};

/* "auto", "new", "old". */
const char *dh_logfmt_name(enum dh_logfmt fmt);

struct dh_options {
	size_t size;              /* sizeof(struct dh_options) */
	enum dh_command command;
	struct dh_values values;  /* set/check: what to ask for */
	int control_set;          /* DH_CONTROL_SET_ALL, _CURRENT, or N */
	bool dry_run;             /* set: report, write nothing */
	bool no_backup;           /* set: commit without a backup */
	const char *backup_dir;   /* backups here, not beside the hive */
	bool backup_dir_create;   /* make backup_dir (mode 0700) if missing */
	bool ignore_logs;         /* a dirty hive: use the hive file as it is,
				   * losing the changes only its logs hold */
	bool allow_hibernated;    /* write even when hiberfil.sys says Windows
				   * is hibernated or fast-started */
	enum dh_commit commit;    /* how to write (zero: auto) */
	enum dh_logfmt log_format; /* in place: which log format (zero:
				   * from the logs or SOFTWARE) */
	const char *image_format; /* a disk image's format as qemu names it
				   * ("qcow2", "raw"...); NULL: from its
				   * content */
	const char *partition;    /* a disk image: only the Windows on this
				   * filesystem ("sda2"); NULL: every one */
};

/* Options for command: every other field zero, all control sets. */
#define DH_OPTIONS_INIT(cmd) \
	{ .size = sizeof(struct dh_options), .command = (cmd), \
	  .control_set = DH_CONTROL_SET_ALL }

enum dh_status {
	DH_STATUS_SHOWN,        /* show: read, nothing asked */
	DH_STATUS_CHANGED,      /* set/recover: written */
	DH_STATUS_UNCHANGED,    /* set/check: already as asked */
	DH_STATUS_WOULD_CHANGE, /* set --dry-run, or check found a difference */
	DH_STATUS_FAILED,
};

const char *dh_status_name(enum dh_status status);

/* One control set as found, and as it is (or would be) after the command. */
struct dh_controlset_report {
	char *name;                 /* "ControlSet001", as spelled in the hive */
	unsigned number;            /* 1 for ControlSet001 */
	unsigned roles;             /* enum dh_role bits */
	char *before;               /* the SharedSection token, UTF-8 */
	char *after;                /* equal to before when unchanged */
	struct dh_values before_values;
	struct dh_values after_values;
	bool changed;
	struct dh_error *error;     /* show: why this control set cannot be
				     * read (before and after are then NULL) */
};

/* Effective non-interactive size: the third number, or the second when the
 * third is absent (that is how Windows reads a two-number token). */
uint32_t dh_values_effective_non_interactive(const struct dh_values *v);

/* A target that was a disk image or a block device (opened through
 * libguestfs): where in it the hive was. */
struct dh_image_report {
	char *path;                 /* the image or device, as given */
	char *format;               /* its format, as qemu names it */
	char *partition;            /* the Windows filesystem: "/dev/sda2" */
	char *system_root;          /* "/Windows", as spelled there */
};

struct dh_report {
	char *target;               /* as given */
	char *hive;                 /* the hive file acted on (the target until
				     * it is resolved) */
	enum dh_status status;
	bool dirty;
	char *dirty_reason;         /* why it is dirty, or NULL */
	unsigned log_entries_applied;  /* replayed (in memory for show) */
	unsigned log_pages_applied;
	char **logs_applied;        /* n_logs_applied logs whose entries apply */
	size_t n_logs_applied;
	struct dh_controlset_report *control_sets;
	size_t n_control_sets;
	char *backup;               /* path of the backup made, or NULL */
	char **backup_logs;         /* n_backup_logs copies of logs beside it */
	char *restored_from;        /* restore: the backup put back */
	size_t n_backup_logs;
	char **warnings;            /* n_warnings messages that did not stop it */
	size_t n_warnings;
	struct dh_error *error;     /* set when status is DH_STATUS_FAILED */
	enum dh_command command;    /* the command that made it (what the
				     * status means depends on it) */
	unsigned log_entries_not_applied; /* newer log entries a replay left
				     * out (a damaged entry stopped it) */
	enum dh_commit commit;      /* how it was (or would be) written:
				     * replace or in place; auto when the
				     * command writes nothing */
	char *commit_reason;        /* why, in words */
	enum dh_logfmt log_format;  /* in place: the log format written */
	char *log_written;          /* in place: the log holding the record */
	struct dh_image_report *image; /* a disk image target, else NULL */
	struct dh_report *next;     /* a disk image with several Windows: the
				     * report of the next one, else NULL */
};

/*
 * Run one command on one target: a hive file, its config directory, the
 * root of a mounted Windows volume, or a disk image or block device. A
 * dirty hive is first recovered from its transaction logs, as Windows
 * would at boot. Always returns a report allocated on mem (NULL only when
 * memory runs out); a disk image gives one report per Windows found in
 * it, in the order of its partitions, each linked to the next by next
 * (one failed report when none could be reached). A failure is a report
 * with status DH_STATUS_FAILED and error set (DH_ERR_ARGUMENT for options
 * whose size is too small to hold the command). On any failure the hive
 * and its logs are as they were, or, when a failure came after the change
 * was decided, the message says that the next run completes it.
 */
struct dh_report *dh_run_target(TALLOC_CTX *mem, const struct dh_options *opts,
				const char *target);

/*
 * Text for one target, lines ending in '\n'. The header line names the hive
 * (the target when no hive was found), the status in words (for check
 * "matches" or "differs", for recover of a clean hive "nothing to
 * replay") and clean/dirty; for a
 * dirty hive, "dirty: <reason>" and "logs replayed: N entries, P pages,
 * from <logs>"; then per control set one line with its roles and its token ("before -> after" when
 * the command changed or would change it) and one with the three effective
 * sizes (saying when the third number is absent and the second applies, and
 * what a changed size was); then "restored from: <backup>" (restore), the
 * backup, one line per log copied into the backup set, and warnings.
 * A failure is "<target>: failed: <message>", then the control sets (show
 * of a hive with one it cannot read: that one "cannot be read: <why>"),
 * backup and warnings if any.
 * verbosity < 0 (quiet): exactly one line, "<hive or target>: <status name>"
 * or the failure line. verbosity > 0: also the target when it differs from
 * the hive, and the error code of a failure.
 * Control characters and bytes that are not UTF-8 in names are shown as
 * \xNN (C1 controls as \u00XX), so a name cannot split a line or send
 * escape sequences to the terminal. NULL only when memory runs out.
 */
char *dh_report_text(TALLOC_CTX *mem, const struct dh_report *r,
		     int verbosity);

/*
 * One JSON object on one line, ending in '\n', with the fields: target,
 * hive, status, dirty, dirty_reason (string or null), log_entries_applied,
 * log_pages_applied, log_entries_not_applied, logs_applied[], control_sets[] {name, number,
 * roles[], before, after, changed, sizes_before {shared, interactive,
 * non_interactive, non_interactive_effective}, sizes_after {...}, error
 * ({code, message} or null)}, backup
 * (string or null), backup_logs[], restored_from (string or null),
 * warnings[], error ({code, message} or null).
 * Roles are "current", "default", "last-known-good", "failed". A size of 0
 * (absent third number) and a NULL string are null. Strings escape '"',
 * '\\' and control characters (as \u00XX); bytes that are not UTF-8
 * become U+FFFD, so the line is always valid JSON in UTF-8.
 * NULL only when memory runs out.
 */
char *dh_report_json(TALLOC_CTX *mem, const struct dh_report *r);

/*
 * Where the command line keeps a target's backups when given --backup-dir
 * DIR: "DIR/<name>", name being the target's real path (as given when it
 * cannot be resolved) with '/' as '_', then a fingerprint of that path
 * ("/mnt/vm01" -> "mnt_vm01-1c3a9e07"), so that no two targets share one,
 * in a run or across runs. Pass it as backup_dir (with backup_dir_create)
 * to keep backups where deskheap set --backup-dir DIR does, and to
 * restore what it saved. (Two targets of one command line whose real
 * paths are the same get "-2", "-3"... appended in order.) On mem; NULL
 * when memory runs out.
 */
char *dh_backup_subdir(TALLOC_CTX *mem, const char *backup_dir,
		       const char *target);

#endif
