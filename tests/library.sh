#!/bin/sh
# libdeskheap as another program uses it (tests/libuser.c: the public
# header and the exported functions only): the same JSON line as
# `deskheap --json` for a target, and a restore that finds the backups the
# command line made with --backup-dir, and the reverse.
# LIBUSER names that program (make check: the one linked against the
# library libdeskheap.la builds; CI also builds one against the installed
# library, through pkg-config).
. "${top_srcdir:-.}/tests/lib.sh"
: "${LIBUSER:?LIBUSER must name tests/libuser (make check sets it)}"

# lib CMD...: runs libuser, keeping stdout, stderr and status in OUT ERR RC.
lib() {
	"$LIBUSER" "$@" >"$WORK/out" 2>"$WORK/err"
	RC=$?
	OUT=$(cat "$WORK/out")
	ERR=$(cat "$WORK/err")
}

d=$(case_dir same)
h=$(fixture win7.hive "$d")
run show --json "$h"
cli=$OUT
lib show "$h"
expect_rc 0 "the library shows the hive"
check "show: the library's JSON line is the command line's" test "$OUT" = "$cli"

run check --json --non-interactive 512 "$h"
cli_rc=$RC cli=$OUT
lib check "$h" 512
check "check: the same exit status as the command line ($cli_rc)" test "$RC" = "$cli_rc"
check "check: the library's JSON line is the command line's" test "$OUT" = "$cli"

run show --json "$d/missing"
cli=$OUT
lib show "$d/missing"
expect_rc 3 "a missing target fails"
check "a failure: the library's JSON line is the command line's" test "$OUT" = "$cli"

# A dirty hive with its logs: the replay, reported the same way.
d=$(case_dir dirty)
cp "$FIX/new-split"/* "$d/"
run show --json "$d/SYSTEM"
cli=$OUT
lib show "$d/SYSTEM"
check "a dirty hive: the library's JSON line is the command line's" test "$OUT" = "$cli"

# Backups the command line made, restored by the library, and the reverse.
bk="$WORK/bk"
mkdir -m 700 "$bk"
d=$(case_dir restore)
h=$(fixture win7.hive "$d")
cp "$h" "$WORK/original"
run set -q --non-interactive 640 --backup-dir "$bk" "$h"
expect_rc 0 "the command line sets, backing up into --backup-dir"
lib restore "$h" --backup-dir "$bk"
expect_rc 0 "the library restores from the same --backup-dir"
contains "$OUT" "\"restored_from\":\"$bk/$(backup_subdir "$h")/SYSTEM.deskheap-0001-" "it finds the command line's backup"
check "the hive is the original again" cmp -s "$h" "$WORK/original"

lib set "$h" 768 --backup-dir "$bk"
expect_rc 0 "the library sets, backing up into the command line's place"
run restore --json --backup-dir "$bk" "$h"
expect_rc 0 "the command line restores what the library backed up"
check "the hive is the original again" cmp -s "$h" "$WORK/original"
