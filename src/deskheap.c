/*
 * deskheap: the command line. Parses options, runs each target through the
 * library, prints the reports and chooses the exit status.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "deskheap.h"
#include "report.h"

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
	bool values_given;
	bool write_options_given;     /* --dry-run, --backup-dir, --no-backup */
	bool control_set_given;
};

static const char USAGE[] =
	"Usage: deskheap show  [OPTIONS] HIVE...\n"
	"       deskheap set   [OPTIONS] VALUES HIVE...\n"
	"       deskheap check [OPTIONS] VALUES HIVE...\n"
	"       deskheap recover [OPTIONS] HIVE...\n"
	"\n"
	"Shows or fixes the desktop heap sizes (SharedSection=a,b,c of the csrss\n"
	"command line) in an offline Windows SYSTEM hive, in every control set.\n"
	"A dirty hive is first recovered from its transaction logs (HIVE.LOG1,\n"
	"HIVE.LOG2, HIVE.LOG), as Windows would at boot; recover does only that,\n"
	"for any hive, and writes it back clean.\n"
	"\n"
	"VALUES (sizes in KB, 1 to 1048576; give at least one):\n"
	"  --non-interactive KB   third number: each service (non-interactive)\n"
	"                         desktop; the classic fix is 512\n"
	"  --interactive KB       second number: each interactive desktop\n"
	"  --shared KB            first number: the system-wide shared heap\n"
	"\n"
	"OPTIONS:\n"
	"  -n, --dry-run          set, recover: show what would change, write nothing\n"
	"      --json             one JSON object per target per line\n"
	"      --control-set S    all (default), current, or a number N\n"
	"      --backup-dir DIR   set, recover: put the backup in DIR, not beside\n"
	"                         the hive\n"
	"      --no-backup        set, recover: make no backup\n"
	"      --ignore-logs      a dirty hive: use the hive file as it is and lose\n"
	"                         the changes only its transaction logs hold\n"
	"  -q, --quiet            one line per target\n"
	"  -v, --verbose          more detail\n"
	"  -h, --help             this help\n"
	"  -V, --version          version\n"
	"\n"
	"Exit status: 0 success; 1 check found a difference; 2 usage error;\n"
	"3 at least one target failed (the others were still processed).\n";

enum long_only {
	OPT_JSON = 256,
	OPT_CONTROL_SET,
	OPT_BACKUP_DIR,
	OPT_NO_BACKUP,
	OPT_NON_INTERACTIVE,
	OPT_INTERACTIVE,
	OPT_SHARED,
	OPT_IGNORE_LOGS,
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
	case OPT_BACKUP_DIR:
		cli->opts.backup_dir = arg;
		cli->write_options_given = true;
		break;
	case OPT_NO_BACKUP: cli->opts.no_backup = cli->write_options_given = true; break;
	case OPT_NON_INTERACTIVE:
		cli->values_given = true;
		return parse_size("--non-interactive", arg, &v->non_interactive);
	case OPT_INTERACTIVE:
		cli->values_given = true;
		return parse_size("--interactive", arg, &v->interactive);
	case OPT_SHARED:
		cli->values_given = true;
		return parse_size("--shared", arg, &v->shared);
	case 'q': cli->verbosity = -1; break;
	case 'v': cli->verbosity = 1; break;
	default: return usage_error("unknown option");
	}
	return EXIT_OK;
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
	};

	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (strcmp(word, commands[i].name) == 0) {
			*out = commands[i].command;
			return EXIT_OK;
		}
	}
	return usage_error("unknown command '%s' (show, set, check or recover)", word);
}

/* Options that make no sense for the command are errors, not ignored. */
static int check_combination(const struct cli *cli)
{
	enum dh_command c = cli->opts.command;
	bool sizes = c == DH_CMD_SET || c == DH_CMD_CHECK;
	bool writer = c == DH_CMD_SET || c == DH_CMD_RECOVER;

	if (!sizes && cli->values_given)
		return usage_error("%s takes no sizes; did you mean set or check?",
				   c == DH_CMD_SHOW ? "show" : "recover");
	if (sizes && !cli->values_given)
		return usage_error("give at least one of --non-interactive, --interactive, --shared");
	if (!writer && cli->write_options_given)
		return usage_error("--dry-run, --backup-dir and --no-backup apply to set and recover only");
	if (c == DH_CMD_RECOVER && (cli->opts.ignore_logs || cli->control_set_given))
		return usage_error("recover takes neither --ignore-logs nor --control-set");
	if (cli->opts.no_backup && cli->opts.backup_dir != NULL)
		return usage_error("--no-backup and --backup-dir contradict each other");
	return EXIT_OK;
}

static void print_version(void)
{
	printf("deskheap %s\n", PACKAGE_VERSION);
}

static int parse_args(struct cli *cli, int argc, char **argv, int *first_target)
{
	int c, rc;

	cli->opts.control_set = DH_CONTROL_SET_ALL;
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
	while ((c = getopt_long(argc, argv, "nqvhV", LONG_OPTIONS, NULL)) != -1) {
		if (c == 'h') {
			fputs(USAGE, stdout);
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
		return usage_error("no target given (a SYSTEM hive file)");
	*first_target = optind;
	return check_combination(cli);
}

static int print_report(const struct cli *cli, const struct dh_report *r)
{
	TALLOC_CTX *tmp = talloc_new(NULL);
	char *text = cli->json ? dh_report_json(tmp, r)
			       : dh_report_text(tmp, r, cli->verbosity);
	/* Text errors go to stderr so that stdout stays the results; JSON
	 * keeps every target's line on stdout. */
	FILE *out = !cli->json && r->status == DH_STATUS_FAILED ? stderr : stdout;
	int rc = text != NULL && fputs(text, out) >= 0 ? 0 : -1;

	fflush(out);
	talloc_free(tmp);
	return rc;
}

static int run_all(const struct cli *cli, int argc, char **argv, int first)
{
	int status = EXIT_OK;

	for (int i = first; i < argc; i++) {
		TALLOC_CTX *target_ctx = talloc_new(NULL);
		struct dh_report *r = dh_run_target(target_ctx, &cli->opts, argv[i]);

		if (r == NULL) {
			fprintf(stderr, "deskheap: %s: out of memory\n", argv[i]);
			status = EXIT_TARGET_FAILED;
		} else if (print_report(cli, r) != 0 ||
			   r->status == DH_STATUS_FAILED) {
			status = EXIT_TARGET_FAILED;
		} else if (cli->opts.command == DH_CMD_CHECK &&
			   r->status == DH_STATUS_WOULD_CHANGE &&
			   status == EXIT_OK) {
			status = EXIT_DIFFERS;
		}
		talloc_free(target_ctx);
	}
	return status;
}

int main(int argc, char **argv)
{
	struct cli cli = { 0 };
	int first = 0;
	int rc = parse_args(&cli, argc, argv, &first);

	if (rc != EXIT_OK)
		return rc;
	return run_all(&cli, argc, argv, first);
}
