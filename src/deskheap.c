/*
 * deskheap: the command line. Parses options, runs each target through the
 * library, prints the reports and chooses the exit status.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "deskheap.h"
#include "interrupt.h"
#include "io.h"
#include "jobs.h"

enum exit_status {
	EXIT_OK = 0,
	EXIT_DIFFERS = 1,
	EXIT_USAGE = 2,
	EXIT_TARGET_FAILED = 3,
};

struct cli {
	struct dh_options opts;
	bool json;
	int verbosity;
	bool quiet, verbose;          /* -q, -v: both is a contradiction */
	bool values_given;
	bool write_options_given;     /* --dry-run, --backup-dir, --no-backup */
	bool control_set_given;
	unsigned jobs;                /* worker processes, at most */
};

/* The lines of the help that describe one option each, shared by the
 * help of every command that takes it. */
#define H_VALUES \
	"VALUES (sizes in KB, 1 to 1048576; give at least one):\n" \
	"  --non-interactive KB   third number: each service (non-interactive)\n" \
	"                         desktop; the classic fix is 512\n" \
	"  --interactive KB       second number: each interactive desktop\n" \
	"  --shared KB            first number: the system-wide shared heap\n"
#define H_TARGET \
	"TARGET: a hive file, a config directory, the root of a mounted Windows\n" \
	"volume (Windows/System32/config/SYSTEM or WINNT/system32/config/SYSTEM,\n" \
	"any letter case), or a disk image or unmounted disk (opened through\n" \
	"libguestfs, without root). Symbolic links below a target are never\n" \
	"followed.\n"
#define H_DRY_RUN \
	"  -n, --dry-run          say what would change, write nothing\n"
#define H_CONTROL_SET \
	"      --control-set S    all (default), current, or a number N\n"
#define H_BACKUP \
	"      --backup-dir DIR   backups go to (restore: come from) a subdirectory\n" \
	"                         of DIR named after the target's path, not\n" \
	"                         beside the hive\n" \
	"      --no-backup        make no backup\n"
#define H_COMMIT \
	"      --commit C         auto (default): in place where a new file could\n" \
	"                         not keep the hive's identity (guestmount, the\n" \
	"                         kernel's NTFS drivers), else replace;\n" \
	"                         replace: rename a new file over it; in-place:\n" \
	"                         write it log first, as Windows does\n" \
	"      --log-format F     in place: new (Windows 8.1 and later) or old (XP\n" \
	"                         to 8), when neither the logs nor SOFTWARE tell\n"
#define H_IGNORE_LOGS \
	"      --ignore-logs      a dirty hive: use the hive file as it is and lose\n" \
	"                         the changes only its transaction logs hold\n"
#define H_COMMON \
	"      --json             one JSON object per line, per hive\n" \
	"      --format FMT       a disk image's format (qcow2, raw, vmdk...),\n" \
	"                         when its content should not decide\n" \
	"      --partition P      a disk image: only the Windows on P (sda2)\n" \
	"      --allow-hibernated write even though hiberfil.sys says Windows is\n" \
	"                         hibernated or fast-started\n" \
	"  -j, --jobs N           targets processed in parallel (default: CPUs)\n" \
	"  -q, --quiet            one line per target (not with -v)\n" \
	"  -v, --verbose          more detail\n" \
	"  -h, --help             this help\n"

static const char USAGE[] =
	"Usage: deskheap show    [OPTIONS] TARGET...\n"
	"       deskheap set     [OPTIONS] VALUES TARGET...\n"
	"       deskheap check   [OPTIONS] VALUES TARGET...\n"
	"       deskheap recover [OPTIONS] TARGET...\n"
	"       deskheap restore [OPTIONS] TARGET...\n"
	"       deskheap COMMAND --help   (that command's options, an example)\n"
	"\n"
	"Shows or fixes the desktop heap sizes (SharedSection=a,b,c of the csrss\n"
	"command line) in an offline Windows SYSTEM hive, in every control set.\n"
	"A dirty hive is first recovered from its transaction logs (HIVE.LOG1,\n"
	"HIVE.LOG2, HIVE.LOG), as Windows would at boot; recover does only that,\n"
	"for any hive, and writes it back clean. restore puts back the newest\n"
	"backup set deskheap made (keeping a backup of what it replaces).\n"
	"\n"
	H_TARGET
	"\n"
	H_VALUES
	"\n"
	"OPTIONS:\n"
	"  -n, --dry-run          set, recover, restore: say what would change,\n"
	"                         write nothing\n"
	"      --control-set S    show, set, check: all (default), current, or a\n"
	"                         number N\n"
	"      --backup-dir DIR   backups go to (restore: come from) a subdirectory\n"
	"                         of DIR named after the target's path, not\n"
	"                         beside the hive\n"
	"      --no-backup        set, recover, restore: make no backup\n"
	H_COMMIT
	"      --ignore-logs      all but restore: a dirty hive: use the hive file\n"
	"                         as it is and lose the changes only its\n"
	"                         transaction logs hold\n"
	H_COMMON
	"  -V, --version          version\n"
	"\n"
	"Exit status: 0 success; 1 check found a difference; 2 usage error;\n"
	"3 at least one target failed (the others were still processed).\n";

/* deskheap COMMAND --help: what the command does, the options it takes
 * (exactly those check_combination() lets through) and an example. */
static const struct {
	enum dh_command command;
	const char *text;
} COMMAND_HELP[] = {
	{ DH_CMD_SHOW,
	  "Usage: deskheap show [OPTIONS] TARGET...\n\n"
	  "Prints, per target: the hive, clean or dirty (and the log entries a\n"
	  "dirty one replays, in memory), each control set with its roles, its\n"
	  "SharedSection token and the three sizes. Writes nothing.\n\n"
	  H_TARGET "\nOPTIONS:\n" H_CONTROL_SET H_IGNORE_LOGS H_COMMON
	  "\nExample:\n  deskheap show /mnt/windows\n" },
	{ DH_CMD_SET,
	  "Usage: deskheap set [OPTIONS] VALUES TARGET...\n\n"
	  "Changes only the numbers given, in every chosen control set, with an\n"
	  "atomic replace and a backup; a hive already as asked is not written.\n\n"
	  H_TARGET "\n" H_VALUES "\nOPTIONS:\n" H_DRY_RUN H_CONTROL_SET H_BACKUP
	  H_COMMIT H_IGNORE_LOGS H_COMMON
	  "\nExample (the classic fix):\n"
	  "  deskheap set --non-interactive 512 /mnt/windows\n" },
	{ DH_CMD_CHECK,
	  "Usage: deskheap check [OPTIONS] VALUES TARGET...\n\n"
	  "Compares each chosen control set with VALUES and writes nothing: exit\n"
	  "status 1 when any differs, 0 when all match.\n\n"
	  H_TARGET "\n" H_VALUES "\nOPTIONS:\n" H_CONTROL_SET H_IGNORE_LOGS H_COMMON
	  "\nExample:\n  deskheap check -q --non-interactive 512 /mnt/vm*/\n" },
	{ DH_CMD_RECOVER,
	  "Usage: deskheap recover [OPTIONS] TARGET...\n\n"
	  "Replays the pending transaction logs of a dirty hive (any hive, not\n"
	  "only SYSTEM) and writes it back clean, with a backup; a clean hive is\n"
	  "left alone. With --ignore-logs, a dirty hive whose logs are lost is\n"
	  "written back clean as it is.\n\n"
	  H_TARGET "\nOPTIONS:\n" H_DRY_RUN H_BACKUP H_COMMIT H_IGNORE_LOGS H_COMMON
	  "\nExample:\n  deskheap recover /mnt/windows/Windows/System32/config/SOFTWARE\n" },
	{ DH_CMD_RESTORE,
	  "Usage: deskheap restore [OPTIONS] TARGET...\n\n"
	  "Puts back the newest backup set deskheap made of the target's hive\n"
	  "(the hive, then its logs), keeping a backup of what it replaces: a\n"
	  "second restore undoes the first. Give --backup-dir as set was given.\n\n"
	  H_TARGET "\nOPTIONS:\n" H_DRY_RUN H_BACKUP H_COMMIT H_COMMON
	  "\nExample:\n  deskheap restore /mnt/windows\n" },
};

enum long_only {
	OPT_JSON = 256,
	OPT_CONTROL_SET,
	OPT_BACKUP_DIR,
	OPT_NO_BACKUP,
	OPT_NON_INTERACTIVE,
	OPT_INTERACTIVE,
	OPT_SHARED,
	OPT_IGNORE_LOGS,
	OPT_ALLOW_HIBERNATED,
	OPT_COMMIT,
	OPT_LOG_FORMAT,
	OPT_FORMAT,
	OPT_PARTITION,
};

static const struct option LONG_OPTIONS[] = {
	{ "dry-run", no_argument, NULL, 'n' },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "control-set", required_argument, NULL, OPT_CONTROL_SET },
	{ "backup-dir", required_argument, NULL, OPT_BACKUP_DIR },
	{ "no-backup", no_argument, NULL, OPT_NO_BACKUP },
	{ "non-interactive", required_argument, NULL, OPT_NON_INTERACTIVE },
	{ "interactive", required_argument, NULL, OPT_INTERACTIVE },
	{ "shared", required_argument, NULL, OPT_SHARED },
	{ "ignore-logs", no_argument, NULL, OPT_IGNORE_LOGS },
	{ "allow-hibernated", no_argument, NULL, OPT_ALLOW_HIBERNATED },
	{ "commit", required_argument, NULL, OPT_COMMIT },
	{ "log-format", required_argument, NULL, OPT_LOG_FORMAT },
	{ "format", required_argument, NULL, OPT_FORMAT },
	{ "partition", required_argument, NULL, OPT_PARTITION },
	{ "jobs", required_argument, NULL, 'j' },
	{ "quiet", no_argument, NULL, 'q' },
	{ "verbose", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 },
};

static int usage_error(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));

static int usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("deskheap: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\nTry 'deskheap --help'.\n", stderr);
	return EXIT_USAGE;
}

/* A plain decimal number from lo to hi; no sign, no spaces, no suffix. */
static bool parse_number(const char *s, unsigned long lo, unsigned long hi,
			 unsigned long *out)
{
	char *end;

	if (*s < '0' || *s > '9')
		return false;
	errno = 0;
	*out = strtoul(s, &end, 10);
	return errno == 0 && *end == '\0' && *out >= lo && *out <= hi;
}

static int parse_size(const char *opt, const char *arg, uint32_t *out)
{
	unsigned long v;

	if (!parse_number(arg, DH_KB_MIN, DH_KB_MAX, &v)) {
		fprintf(stderr,
			"deskheap: %s '%s': give a size in KB from %u to %u\n",
			opt, arg, DH_KB_MIN, DH_KB_MAX);
		return EXIT_USAGE;
	}
	*out = (uint32_t)v;
	return EXIT_OK;
}

static int parse_control_set(const char *arg, int *out)
{
	unsigned long n;

	if (strcmp(arg, "all") == 0)
		*out = DH_CONTROL_SET_ALL;
	else if (strcmp(arg, "current") == 0)
		*out = DH_CONTROL_SET_CURRENT;
	else if (parse_number(arg, 1, 999, &n))
		*out = (int)n;
	else
		return usage_error("--control-set '%s': give all, current or a number from 1 to 999",
				   arg);
	return EXIT_OK;
}

static int parse_jobs(const char *arg, unsigned *out)
{
	unsigned long n;

	if (!parse_number(arg, 1, 256, &n))
		return usage_error("--jobs '%s': give a number from 1 to 256", arg);
	*out = (unsigned)n;
	return EXIT_OK;
}

static int parse_commit(const char *arg, enum dh_commit *out)
{
	for (enum dh_commit c = DH_COMMIT_AUTO; c <= DH_COMMIT_IN_PLACE; c++)
		if (strcmp(arg, dh_commit_name(c)) == 0) {
			*out = c;
			return EXIT_OK;
		}
	return usage_error("--commit '%s': give auto, replace or in-place", arg);
}

static int parse_log_format(const char *arg, enum dh_logfmt *out)
{
	for (enum dh_logfmt f = DH_LOGFMT_NEW; f <= DH_LOGFMT_OLD; f++)
		if (strcmp(arg, dh_logfmt_name(f)) == 0) {
			*out = f;
			return EXIT_OK;
		}
	return usage_error("--log-format '%s': give new (Windows 8.1 and later) or old (XP to 8)", arg);
}

static int parse_option(struct cli *cli, int c, const char *arg)
{
	struct dh_values *v = &cli->opts.values;

	switch (c) {
	case 'n': cli->opts.dry_run = cli->write_options_given = true; break;
	case OPT_JSON: cli->json = true; break;
	case OPT_CONTROL_SET:
		cli->control_set_given = true;
		return parse_control_set(arg, &cli->opts.control_set);
	case OPT_IGNORE_LOGS: cli->opts.ignore_logs = true; break;
	case OPT_ALLOW_HIBERNATED: cli->opts.allow_hibernated = true; break;
	case 'j': return parse_jobs(arg, &cli->jobs);
	case OPT_BACKUP_DIR:
		cli->opts.backup_dir = arg;
		cli->write_options_given = true;
		break;
	case OPT_NO_BACKUP: cli->opts.no_backup = cli->write_options_given = true; break;
	case OPT_COMMIT:
		cli->write_options_given = true;
		return parse_commit(arg, &cli->opts.commit);
	case OPT_FORMAT:
		if (strspn(arg, "abcdefghijklmnopqrstuvwxyz0123456789") != strlen(arg) || !*arg)
			return usage_error("--format '%s': give a format name as qemu-img knows it, e.g. qcow2, raw, vmdk, vhdx, vpc or vdi", arg);
		cli->opts.image_format = arg;
		break;
	case OPT_PARTITION:
		cli->opts.partition = arg;
		break;
	case OPT_LOG_FORMAT:
		cli->write_options_given = true;
		return parse_log_format(arg, &cli->opts.log_format);
	case OPT_NON_INTERACTIVE:
		cli->values_given = true;
		return parse_size("--non-interactive", arg, &v->non_interactive);
	case OPT_INTERACTIVE:
		cli->values_given = true;
		return parse_size("--interactive", arg, &v->interactive);
	case OPT_SHARED:
		cli->values_given = true;
		return parse_size("--shared", arg, &v->shared);
	case 'q': cli->quiet = true; cli->verbosity = -1; break;
	case 'v': cli->verbose = true; cli->verbosity = 1; break;
	default: return usage_error("unknown option");
	}
	return EXIT_OK;
}

static const char *command_help(enum dh_command command)
{
	for (size_t i = 0; i < sizeof(COMMAND_HELP) / sizeof(COMMAND_HELP[0]); i++)
		if (COMMAND_HELP[i].command == command)
			return COMMAND_HELP[i].text;
	return USAGE;
}

static int parse_command(const char *word, enum dh_command *out)
{
	static const struct {
		const char *name;
		enum dh_command command;
	} commands[] = {
		{ "show", DH_CMD_SHOW },
		{ "set", DH_CMD_SET },
		{ "check", DH_CMD_CHECK },
		{ "recover", DH_CMD_RECOVER },
		{ "restore", DH_CMD_RESTORE },
	};

	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (strcmp(word, commands[i].name) == 0) {
			*out = commands[i].command;
			return EXIT_OK;
		}
	}
	return usage_error("unknown command '%s' (show, set, check, recover or restore)", word);
}

/* Options that make no sense for the command are errors, not ignored. */
static int check_combination(const struct cli *cli)
{
	enum dh_command c = cli->opts.command;
	bool sizes = c == DH_CMD_SET || c == DH_CMD_CHECK;
	bool writer = c == DH_CMD_SET || c == DH_CMD_RECOVER ||
		      c == DH_CMD_RESTORE;

	if (!sizes && cli->values_given)
		return usage_error("this command takes no sizes; did you mean set or check?");
	if (sizes && !cli->values_given)
		return usage_error("give at least one of --non-interactive, --interactive, --shared");
	if (!writer && cli->write_options_given)
		return usage_error("--dry-run, --backup-dir, --no-backup, --commit and --log-format apply to set, recover and restore only");
	if (c == DH_CMD_RESTORE && cli->opts.ignore_logs)
		return usage_error("restore takes no --ignore-logs: it puts back a backup set, logs included");
	if ((c == DH_CMD_RECOVER || c == DH_CMD_RESTORE) && cli->control_set_given)
		return usage_error("recover and restore take no --control-set: they act on the whole hive");
	if (cli->opts.no_backup && cli->opts.backup_dir != NULL)
		return usage_error("--no-backup and --backup-dir contradict each other");
	if (cli->quiet && cli->verbose)
		return usage_error("-q (--quiet) and -v (--verbose) contradict each other");
	return EXIT_OK;
}

/* "deskheap 0.1.0 (hivex 1.3.23, talloc 2.4.0, libguestfs 1.48.6)": the
 * library versions are those of the headers and pkg-config files it was
 * built with; libguestfs only where disk images can be opened. */
static void print_version(void)
{
#ifdef HAVE_LIBGUESTFS
	const char *images = ", libguestfs " DH_GUESTFS_VERSION;
#else
	const char *images = "";
#endif
#ifdef DH_FAILPOINTS
	const char *test = " (failpoints: a test build, not for real use)";
#else
	const char *test = "";
#endif

	printf("deskheap %s (hivex %s, talloc %s%s)%s\n", PACKAGE_VERSION,
	       DH_HIVEX_VERSION, DH_TALLOC_VERSION, images, test);
}

static int parse_args(struct cli *cli, int argc, char **argv, int *first_target)
{
	int c, rc;

	cli->opts = (struct dh_options)DH_OPTIONS_INIT(DH_CMD_SHOW);
	if (argc < 2)
		return usage_error("no command given");
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
		fputs(USAGE, stdout);
		exit(EXIT_OK);
	}
	if (strcmp(argv[1], "-V") == 0 || strcmp(argv[1], "--version") == 0) {
		print_version();
		exit(EXIT_OK);
	}
	if ((rc = parse_command(argv[1], &cli->opts.command)) != EXIT_OK)
		return rc;
	opterr = 0;
	optind = 2;
	while ((c = getopt_long(argc, argv, "nqvhVj:", LONG_OPTIONS, NULL)) != -1) {
		if (c == 'h') {
			fputs(command_help(cli->opts.command), stdout);
			exit(EXIT_OK);
		}
		if (c == 'V') {
			print_version();
			exit(EXIT_OK);
		}
		if (c == '?' || c == ':')
			return usage_error("bad option or missing argument: %s",
					   argv[optind - 1]);
		if ((rc = parse_option(cli, c, optarg)) != EXIT_OK)
			return rc;
	}
	if (optind >= argc)
		return usage_error("no target given (a hive file, a config directory or a Windows volume root)");
	*first_target = optind;
	if (cli->jobs == 0) {
		long cpus = sysconf(_SC_NPROCESSORS_ONLN);

		cli->jobs = cpus > 0 ? (unsigned)cpus : 1;
	}
	return check_combination(cli);
}

/* The batch: per target, its options (its own backup subdirectory) and
 * what became of it. */
struct batch {
	TALLOC_CTX *mem;              /* holds backup_dirs */
	const struct cli *cli;
	char **targets;
	size_t n;
	char **backup_dirs;           /* per target, or NULL */
	size_t failed;
	int status;
	bool progress;                /* a progress line on stderr */
};

static bool taken(char *const *dirs, size_t n, const char *d)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(dirs[i], d) == 0)
			return true;
	return false;
}

/* Each target keeps its backups apart: dh_backup_subdir(), with "-2",
 * "-3"... when two targets would share one. One target too, so that
 * restore finds with the same command line what set made, batch or not. */
static int plan_backup_dirs(TALLOC_CTX *mem, struct batch *b)
{
	const char *dir = b->cli->opts.backup_dir;

	if (dir == NULL)
		return 0;
	b->backup_dirs = talloc_zero_array(mem, char *, b->n);
	for (size_t i = 0; b->backup_dirs != NULL && i < b->n; i++) {
		char *base = dh_backup_subdir(b->backup_dirs, dir,
					      b->targets[i]), *d = base;

		if (base == NULL)
			return -1;
		for (int k = 2; d != NULL && taken(b->backup_dirs, i, d); k++)
			d = talloc_asprintf(b->backup_dirs, "%s-%d", base, k);
		if (d == NULL)
			return -1;
		b->backup_dirs[i] = d;
	}
	return b->backup_dirs == NULL ? -1 : 0;
}

static int exit_for(const struct cli *cli, const struct dh_report *r)
{
	if (r->status == DH_STATUS_FAILED)
		return EXIT_TARGET_FAILED;
	if (cli->opts.command == DH_CMD_CHECK && r->status == DH_STATUS_WOULD_CHANGE)
		return EXIT_DIFFERS;
	return EXIT_OK;
}

static char *render(TALLOC_CTX *mem, const struct cli *cli,
		    const struct dh_report *r)
{
	return cli->json ? dh_report_json(mem, r)
			 : dh_report_text(mem, r, cli->verbosity);
}

/* In a worker process: one target, each of its reports (a disk image has
 * one per Windows) rendered into the pipe as a record: its exit status as
 * one digit, the text, a NUL. The worker's status is the worst of them. */
static int work(void *arg, size_t i, int fd)
{
	struct batch *b = arg;
	struct dh_options opts = b->cli->opts;
	TALLOC_CTX *ctx = talloc_new(NULL);
	struct dh_report *r;
	int status = EXIT_OK;

	if (b->backup_dirs != NULL) {
		opts.backup_dir = b->backup_dirs[i];
		opts.backup_dir_create = true;
	}
	r = dh_run_target(ctx, &opts, b->targets[i]);
	if (r == NULL)
		status = EXIT_TARGET_FAILED;
	for (; r != NULL; r = r->next) {
		int code = exit_for(b->cli, r);
		char *text = render(ctx, b->cli, r);
		char *rec = text ? talloc_asprintf(ctx, "%d%s", code, text) : NULL;

		if (rec == NULL || dh_io_write_all(fd, rec, strlen(rec) + 1) != 0)
			code = EXIT_TARGET_FAILED;
		status = code > status ? code : status;
	}
	talloc_free(ctx);
	/* This worker process ends now: its copy of the batch goes too. */
	TALLOC_FREE(b->mem);
	return status;
}

/* The report of a worker that died without one. */
static char *died(TALLOC_CTX *mem, const struct batch *b, size_t i,
		  int status, int sig)
{
	struct dh_error e = { DH_ERR_INTERNAL, NULL };
	struct dh_report r = { .target = b->targets[i], .hive = b->targets[i],
			       .status = DH_STATUS_FAILED, .error = &e };

	e.message = talloc_asprintf(mem,
		"deskheap stopped on this target without a result (%s %d%s%s): the hive is either as it was or fully replaced, never half-written; run deskheap show on it, and please report this",
		sig ? "signal" : "exit status", sig ? sig : status,
		sig ? ", " : "", sig ? strsignal(sig) : "");
	return e.message ? render(mem, b->cli, &r) : NULL;
}

/* The report of a target the batch was stopped before. */
static char *not_started(TALLOC_CTX *mem, const struct batch *b, size_t i,
			 int sig)
{
	struct dh_error e = { DH_ERR_INTERRUPTED, NULL };
	struct dh_report r = { .target = b->targets[i], .hive = b->targets[i],
			       .status = DH_STATUS_FAILED, .error = &e };

	e.message = talloc_asprintf(mem,
		"interrupted (signal %d, %s) before deskheap came to this target: nothing was changed",
		sig, strsignal(sig));
	return e.message ? render(mem, b->cli, &r) : NULL;
}

static void clear_progress(const struct batch *b)
{
	if (b->progress)
		fputs("\r\033[K", stderr);
}

/* Text to stdout or, a failure in text, to stderr, so that stdout stays
 * the results; JSON keeps every line on stdout. */
static bool print_text(const struct batch *b, const char *text, bool fail)
{
	FILE *out = !b->cli->json && fail ? stderr : stdout;

	return text != NULL && fputs(text, out) >= 0 && fflush(out) == 0;
}

/* A worker's records (see work()), printed; how many were whole (a killed
 * worker's last may be cut short). */
static size_t print_records(const struct batch *b, const char *output,
			    size_t len, bool *ok)
{
	const char *p = output, *end;
	size_t n = 0;

	for (; (end = memchr(p, '\0', (size_t)(output + len - p))) != NULL;
	     p = end + 1, n++) {
		bool fail = *p != '0' + EXIT_OK && *p != '0' + EXIT_DIFFERS;

		if (!print_text(b, p + 1, fail))
			*ok = false;
	}
	return n;
}

static void done(void *arg, size_t i, const char *output, size_t len,
		 int status, int sig)
{
	struct batch *b = arg;
	TALLOC_CTX *tmp = talloc_new(NULL);
	bool skipped = status == DH_JOB_NOT_STARTED, ok = true;
	int code = status;

	clear_progress(b);
	if (skipped) {
		ok = print_text(b, not_started(tmp, b, i, sig), true);
		code = EXIT_TARGET_FAILED;
	} else if (print_records(b, output, len, &ok) == 0 || status < 0) {
		/* what came before a worker died stays printed */
		ok = print_text(b, died(tmp, b, i, status, sig), true) && ok;
		code = EXIT_TARGET_FAILED;
	}
	if (!ok)
		code = EXIT_TARGET_FAILED;
	if (code == EXIT_TARGET_FAILED) {
		b->failed++;
		b->status = EXIT_TARGET_FAILED;
	} else if (code == EXIT_DIFFERS && b->status == EXIT_OK) {
		b->status = EXIT_DIFFERS;
	}
	talloc_free(tmp);
}

static void progress(void *arg, size_t ended, size_t total)
{
	struct batch *b = arg;

	if (b->progress)
		fprintf(stderr, "\r\033[Kdeskheap: %zu/%zu done, %zu failed",
			ended, total, b->failed);
}

static int run_all(const struct cli *cli, int argc, char **argv, int first)
{
	TALLOC_CTX *mem = talloc_new(NULL);
	struct batch b = { .mem = mem, .cli = cli, .targets = argv + first,
			   .n = (size_t)(argc - first), .status = EXIT_OK };
	int rc;

	b.progress = b.n > 1 && isatty(STDERR_FILENO);
	if (plan_backup_dirs(mem, &b) != 0) {
		fputs("deskheap: out of memory\n", stderr);
		talloc_free(mem);
		return EXIT_TARGET_FAILED;
	}
	rc = dh_jobs_run(b.n, cli->jobs, work, done, progress, &b);
	clear_progress(&b);
	if (rc != 0) {
		fprintf(stderr, "deskheap: cannot start worker processes: %s\n",
			strerror(errno));
		b.status = EXIT_TARGET_FAILED;
	}
	talloc_free(mem);
	return b.status;
}

/* Stopped by a signal: every worker has ended and every report is out;
 * deskheap now ends as killed by that signal (a shell sees 128 + its
 * number), so that a script or loop running it stops too. */
static void end_as_signalled(void)
{
	int sig = dh_interrupt_pending();

	if (sig == 0)
		return;
	fflush(NULL);
	signal(sig, SIG_DFL);
	raise(sig);
}

int main(int argc, char **argv)
{
	struct cli cli = { 0 };
	int first = 0;
	int rc = parse_args(&cli, argc, argv, &first);

	if (rc != EXIT_OK)
		return rc;
	/* Past the file-size limit (ulimit -f) a write is to fail with
	 * EFBIG, an error the commit reports and cleans up after, not kill
	 * the worker and leave its temporary file. */
	signal(SIGXFSZ, SIG_IGN);
	rc = run_all(&cli, argc, argv, first);
	end_as_signalled();
	return rc;
}
