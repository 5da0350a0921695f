#!/bin/sh
# The in-place commit from the command line (issue 13): set, recover and
# restore with --commit in-place write the hive and its logs themselves, so
# the hive keeps its inode; the result is the one a replace gives; the
# report says which commit wrote it and which log; backups are copies,
# never links; auto replaces on an ordinary filesystem; what cannot be done
# in place is refused with its remedy, nothing changed; and a reader waits
# for a commit in progress instead of reading it half-written.
. "${top_srcdir:-.}/tests/lib.sh"

CORPUS=${DESKHEAP_CORPUS:-${top_srcdir:-.}/../shared/corpus}

ino() {
	stat -c %i "$1"
}

# empty_logs DIR: an empty SYSTEM.LOG1 and SYSTEM.LOG2 beside DIR/SYSTEM.
empty_logs() {
	: >"$1/SYSTEM.LOG1"
	: >"$1/SYSTEM.LOG2"
}

# json_value KEY: the string the JSON report in OUT gives KEY.
json_value() {
	printf '%s' "$OUT" | sed -n "s/.*\"$1\":\"\\([^\"]*\\)\".*/\\1/p"
}

# is_copy COPY ORIGINAL DESCRIPTION: COPY has ORIGINAL's bytes in a file of
# its own (another inode, one link).
is_copy() {
	if cmp -s "$1" "$2" && [ "$(stat -c %h "$1")" -eq 1 ] &&
	   [ "$(ino "$1")" != "$(ino "$3")" ]; then
		ok "$4"
	else
		not_ok "$4" "$1: inode $(ino "$1"), $(stat -c %h "$1") link(s)" \
			"live file: inode $(ino "$3")"
	fi
}

# same_export A B DESCRIPTION: the exports A and B are equal, and not empty.
same_export() {
	if [ -s "$1" ] && cmp -s "$1" "$2"; then
		ok "$3"
	else
		not_ok "$3" "$(diff "$1" "$2" | head -5)"
	fi
}

## set --commit in-place on a clean hive

d=$(case_dir set)
h=$(fixture win7.hive "$d")
empty_logs "$d"
export_hive "$h" >"$WORK/win7.reg"
i=$(ino "$h")
run set --json --commit in-place --log-format new --non-interactive 768 "$h"
expect_rc 0 "set --commit in-place on a clean hive"
check "the hive keeps its inode" test "$(ino "$h")" = "$i"
contains "$(windows_value "$h")" "SharedSection=1024,12288,768 " "the value is changed"
export_hive "$h" >"$WORK/set.reg"
only_windows_changed "$WORK/win7.reg" "$WORK/set.reg" 2 "nothing else is changed"
contains "$OUT" '"commit":"in-place","commit_reason":"asked for with --commit in-place"' \
	"JSON: commit in-place, and why"
contains "$OUT" '"log_format":"new"' "JSON: the log format"
contains "$OUT" "\"log_written\":\"$d/SYSTEM.LOG1\"" "JSON names the log written"
check "LOG1 holds the record, LOG2 is empty" test -s "$d/SYSTEM.LOG1" -a ! -s "$d/SYSTEM.LOG2"
b=$(json_value backup)
is_copy "$b" "$FIX/win7.hive" "$h" "the backup is a copy of the hive, not a link"
is_copy "$b.LOG1" /dev/null "$d/SYSTEM.LOG1" "the backed-up log is a copy, not a link"
run show "$h"
contains "$OUT" "(hive clean)" "the hive is clean afterwards"

run set --commit in-place --non-interactive 640 "$h"
expect_rc 0 "a second set in place: the format from the log the first wrote"
contains "$OUT" "commit: in-place (log $d/SYSTEM.LOG1, new format): asked for with --commit in-place" \
	"text: the commit line names the log and its format"

d=$(case_dir set-old)
h=$(fixture xp.hive "$d")
: >"$d/SYSTEM.LOG"
i=$(ino "$h")
run set --json --commit in-place --log-format old --non-interactive 768 "$h"
expect_rc 0 "set --commit in-place --log-format old beside an empty SYSTEM.LOG"
check "the hive keeps its inode" test "$(ino "$h")" = "$i"
contains "$OUT" "\"log_format\":\"old\",\"log_written\":\"$d/SYSTEM.LOG\"" \
	"JSON: old format, written to SYSTEM.LOG"
contains "$(windows_value "$h")" ",768 " "the value is changed"

## the dirty SYSTEM_B with both logs: the same hive as a replace gives

if [ -f "$CORPUS/regipy/SYSTEM_B.xz" ]; then
	for c in in-place replace; do
		d=$(case_dir "dirty-$c")
		for f in "" .LOG1 .LOG2; do
			xz -dc "$CORPUS/regipy/SYSTEM_B$f.xz" >"$d/SYSTEM$f"
		done
		cp "$d/SYSTEM.LOG1" "$WORK/B.LOG1"
		[ "$c" = in-place ] && i=$(ino "$d/SYSTEM")
		run set --json --commit "$c" --non-interactive 640 "$d/SYSTEM"
		expect_rc 0 "dirty SYSTEM_B: set --commit $c"
		export_hive "$d/SYSTEM" >"$WORK/dirty-$c.reg"
	done
	d=$WORK/case-dirty-in-place
	check "dirty SYSTEM_B: the hive keeps its inode" test "$(ino "$d/SYSTEM")" = "$i"
	same_export "$WORK/dirty-in-place.reg" "$WORK/dirty-replace.reg" \
		"dirty SYSTEM_B: in place gives the hive a replace gives (whole export)"
	contains "$(windows_value "$d/SYSTEM")" ",640 " "dirty SYSTEM_B: the value is changed"
	run show "$d/SYSTEM"
	contains "$OUT" "(hive clean)" "dirty SYSTEM_B: clean afterwards"
	check "dirty SYSTEM_B: LOG1 holds the record, LOG2 is empty" \
		test -s "$d/SYSTEM.LOG1" -a ! -s "$d/SYSTEM.LOG2"
	b=$(ls "$d"/SYSTEM.deskheap-*.bak.LOG1)
	is_copy "$b" "$WORK/B.LOG1" "$d/SYSTEM.LOG1" \
		"dirty SYSTEM_B: the backed-up LOG1 is a copy of the original"
else
	echo "# corpus not found at $CORPUS: set DESKHEAP_CORPUS to run the SYSTEM_B case"
	skip "in place on the dirty SYSTEM_B: corpus absent"
fi

## recover --commit in-place on the old-format dirty fixture

d=$(case_dir recover-old)
cp "$FIX/old/"* "$d/"
i=$(ino "$d/SYSTEM")
run recover --json --commit in-place "$d/SYSTEM"
expect_rc 0 "recover --commit in-place on a dirty hive with an old-format log"
check "the hive keeps its inode" test "$(ino "$d/SYSTEM")" = "$i"
contains "$OUT" "\"log_format\":\"old\",\"log_written\":\"$d/SYSTEM.LOG\"" \
	"JSON: the old format, from the log"
export_hive "$FIX/replay/B.hive" >"$WORK/B.reg"
export_hive "$d/SYSTEM" >"$WORK/recovered.reg"
same_export "$WORK/recovered.reg" "$WORK/B.reg" \
	"the hive is the one its log leads to (whole export)"
run show "$d/SYSTEM"
contains "$OUT" "(hive clean)" "clean afterwards"

d=$(case_dir restore-dirty)
cp "$FIX/old/"* "$d/"
i=$(ino "$d/SYSTEM")
run set --commit in-place --non-interactive 768 "$d/SYSTEM"
expect_rc 0 "set in place on the dirty old-format hive"
run restore --commit in-place "$d/SYSTEM"
expect_rc 0 "restore in place of its dirty backup"
check "the hive keeps its inode" test "$(ino "$d/SYSTEM")" = "$i"
export_hive "$d/SYSTEM" >"$WORK/restored-dirty.reg"
same_export "$WORK/restored-dirty.reg" "$WORK/B.reg" \
	"the dirty backup goes back with its log replayed (whole export)"

## restore after a set in place

d=$(case_dir restore)
h=$(fixture win7.hive "$d")
empty_logs "$d"
i=$(ino "$h")
run set --commit in-place --log-format new --non-interactive 768 "$h"
expect_rc 0 "set in place, to restore"
run restore --commit in-place "$h"
expect_rc 0 "restore --commit in-place"
check "restore: the hive keeps its inode" test "$(ino "$h")" = "$i"
export_hive "$h" >"$WORK/restored.reg"
same_export "$WORK/restored.reg" "$WORK/win7.reg" \
	"restore: the hive is the original again (whole export)"
run restore --commit in-place "$h"
expect_rc 0 "a second restore in place"
check "the second restore keeps the inode" test "$(ino "$h")" = "$i"
contains "$(windows_value "$h")" ",768 " "the second restore undoes the first"

## restore of an in-place set, without --commit: in place too

d=$(case_dir restore-auto)
h=$(fixture win7.hive "$d")
empty_logs "$d"
i=$(ino "$h")
run set --commit in-place --log-format new --non-interactive 640 "$h"
expect_rc 0 "an in-place set, to be restored with auto"
b=$(ls "$h".deskheap-*.bak)
if getfattr -n user.deskheap.commit "$b" >/dev/null 2>&1; then
	run restore --json "$h"
	expect_rc 0 "restore without --commit"
	contains "$OUT" '"commit":"in-place"' "goes back in place, as the set was made"
	contains "$OUT" "was made by an in-place commit" "and says why"
	check "the hive keeps its inode" test "$(ino "$h")" = "$i"
elif command -v getfattr >/dev/null 2>&1; then
	skip "this filesystem keeps no user.* extended attributes: restore then chooses as set does"
else
	skip "getfattr (attr) is missing: the in-place mark of a backup set is not looked at"
fi

## auto

d=$(case_dir auto)
h=$(fixture win7.hive "$d")
run set --json --non-interactive 768 "$h"
expect_rc 0 "auto on a plain file"
contains "$OUT" '"commit":"replace","commit_reason":null' "auto replaces a plain file"
ln "$h" "$d/LINK"
run set --json --non-interactive 640 "$h"
expect_rc 0 "auto on a hive with a second hard link"
contains "$OUT" '"commit":"replace"' "auto replaces a hive with hard links too (links do not count)"

## refused: a hive with another name, which in place would change too

d=$(case_dir linked)
h=$(fixture win7.hive "$d")
empty_logs "$d"
ln "$h" "$d/SYSTEM.deskheap-0001-20260101T000000Z.bak"
run set --commit in-place --log-format new --non-interactive 768 "$h"
expect_rc 3 "in place on a hive with a second hard link"
contains "$ERR" "has 2 hard links" "the message says why"
contains "$ERR" "the hive was not changed" "and that nothing changed"
check "the hive, its link and its logs are as they were" \
	sh -c "cmp -s '$h' '$FIX/win7.hive' && test ! -s '$d/SYSTEM.LOG1' && test \"\$(ls -A '$d' | wc -l)\" = 4"

## refused: nothing to write in place

d=$(case_dir nolog)
h=$(fixture win7.hive "$d")
run set --commit in-place --log-format new --non-interactive 768 "$h"
expect_rc 3 "in place without any log beside the hive"
contains "$ERR" "has none beside it to write" "the message says there is no log"
contains "$ERR" "use --commit replace" "and names the remedy"
run set --commit in-place --non-interactive 768 "$h"
contains "$ERR" "has none beside it to write" "without --log-format too, the missing log is named first"
check "nothing is changed or made" \
	sh -c "cmp -s '$h' '$FIX/win7.hive' && test \"\$(ls -A '$d')\" = SYSTEM"

d=$(case_dir noformat)
h=$(fixture win7.hive "$d")
empty_logs "$d"
run set --commit in-place --non-interactive 768 "$h"
expect_rc 3 "in place beside empty logs, no --log-format, no SOFTWARE"
contains "$ERR" "pass --log-format new (Windows 8.1 and later) or --log-format old (XP to 8)" \
	"the message names --log-format"
check "nothing is changed" sh -c "cmp -s '$h' '$FIX/win7.hive' && test ! -s '$d/SYSTEM.LOG1'"
check "nothing is made" test "$(listing "$d")" = "SYSTEM SYSTEM.LOG1 SYSTEM.LOG2 "

## usage errors

run set --commit bogus --non-interactive 768 "$h"
expect_rc 2 "--commit bogus"
contains "$ERR" "--commit 'bogus': give auto, replace or in-place" "the message names the choices"
run set --log-format bogus --non-interactive 768 "$h"
expect_rc 2 "--log-format bogus"
run show --commit in-place "$h"
expect_rc 2 "show --commit in-place"
contains "$ERR" "apply to set, recover and restore only" "the message says where --commit applies"
run check --commit replace --non-interactive 768 "$h"
expect_rc 2 "check --commit replace"
run show --log-format new "$h"
expect_rc 2 "show --log-format new"

## a reader waits for a commit in place

if ! "$DESKHEAP" --version | grep -q failpoints; then
	skip "a reader during a commit in place: needs a build with --enable-failpoints"
	exit 0
fi
d=$(case_dir reader)
h=$(fixture win7.hive "$d")
empty_logs "$d"
# The second sync of an in-place set is LOG2's (the edits are held as
# pages: no staged file is synced first): the record is in LOG1, the hive
# not yet written, so a reader that did not wait would read 512.
DESKHEAP_FAILPOINT=fsync:stop@2 "$DESKHEAP" set --no-backup --commit in-place \
	--log-format new --non-interactive 768 "$h" >"$WORK/set.out" 2>&1 &
SET=$!
# Its worker, once stopped there.
n=100
w=
while [ "$n" -gt 0 ] && [ -z "$w" ]; do
	sleep 0.1
	n=$((n - 1))
	w=$(ps -o pid=,stat= --ppid "$SET" | awk '$2 ~ /^T/ { print $1 }')
done
check "the set stops in its commit, with the log written and the hive not yet" \
	sh -c "test -n '$w' && test -s '$d/SYSTEM.LOG1' && cmp -s '$h' '$FIX/win7.hive'"
w=$(ps -o pid= --ppid "$SET")
"$DESKHEAP" show "$h" >"$WORK/show.out" 2>&1 &
SHOW=$!
n=50
until grep -q -- "-> FLOCK .*:$(ino "$h") " /proc/locks || [ "$n" -eq 0 ]; do
	sleep 0.1
	n=$((n - 1))
done
check "the reader waits for the lock" sh -c "kill -0 $SHOW 2>/dev/null && test ! -s '$WORK/show.out'"
[ -n "$w" ] && kill -CONT $w
wait "$SET"
check "the set completes" test $? -eq 0
wait "$SHOW"
check "the reader ends well" test $? -eq 0
contains "$(cat "$WORK/show.out")" "SharedSection=1024,12288,768" "the reader shows the new value"
lacks "$(cat "$WORK/show.out")" "SharedSection=1024,12288,512" "and not the old one"
