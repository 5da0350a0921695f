/*
 * A program that uses libdeskheap as another project would: only the
 * public header and the exported functions. tests/library.sh compares what
 * it prints with what the deskheap command prints.
 *
 *   libuser COMMAND TARGET [KB] [--backup-dir DIR]
 *
 * COMMAND is show, check, set or restore; KB the non-interactive size for
 * check and set. With --backup-dir, backups go to (restore: come from)
 * the subdirectory of DIR the command line uses for TARGET. Prints the
 * report as one JSON line; exit status 0, 1 (check: differs) or 3
 * (failed), as the command line's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <deskheap.h>

static int command_of(const char *word, enum dh_command *c)
{
	static const struct { const char *word; enum dh_command c; } cmds[] = {
		{ "show", DH_CMD_SHOW }, { "check", DH_CMD_CHECK },
		{ "set", DH_CMD_SET }, { "restore", DH_CMD_RESTORE },
	};

	for (size_t i = 0; i < sizeof cmds / sizeof *cmds; i++)
		if (strcmp(word, cmds[i].word) == 0) {
			*c = cmds[i].c;
			return 0;
		}
	return -1;
}

static int parse(int argc, char **argv, struct dh_options *o,
		 TALLOC_CTX *mem)
{
	enum dh_command c;
	int i = 3;

	if (argc < 3 || command_of(argv[1], &c) != 0)
		return -1;
	*o = (struct dh_options)DH_OPTIONS_INIT(c);
	if (c == DH_CMD_SET || c == DH_CMD_CHECK) {
		if (argc < 4)
			return -1;
		o->values.non_interactive = (uint32_t)strtoul(argv[i++], NULL,
							       10);
	}
	if (i + 1 < argc && strcmp(argv[i], "--backup-dir") == 0) {
		o->backup_dir = dh_backup_subdir(mem, argv[i + 1], argv[2]);
		o->backup_dir_create = true;
		if (o->backup_dir == NULL)
			return -1;
		i += 2;
	}
	return i == argc ? 0 : -1;
}

int main(int argc, char **argv)
{
	TALLOC_CTX *mem = talloc_new(NULL);
	struct dh_options o;
	struct dh_report *r;
	char *line;
	int rc;

	if (parse(argc, argv, &o, mem) != 0) {
		fprintf(stderr, "usage: %s show|check|set|restore TARGET [KB] "
			"[--backup-dir DIR]\n", argv[0]);
		talloc_free(mem);
		return 2;
	}
	r = dh_run_target(mem, &o, argv[2]);
	line = r ? dh_report_json(mem, r) : NULL;
	if (line == NULL) {
		fprintf(stderr, "%s: out of memory\n", argv[0]);
		talloc_free(mem);
		return 3;
	}
	fputs(line, stdout);
	rc = r->status == DH_STATUS_FAILED ? 3 :
	     o.command == DH_CMD_CHECK && r->status == DH_STATUS_WOULD_CHANGE;
	talloc_free(mem);
	return rc;
}
