#!/bin/sh
# End-to-end tests of the deskheap binary on generated fixture hives.
. "${top_srcdir:-.}/tests/lib.sh"

## show

d=$(case_dir show)
h=$(fixture nt4.hive "$d")
run show "$h"
expect_rc 0 "show on an NT 4.0 hive"
contains "$OUT" "SharedSection=1024,3072" "show prints the token"
contains "$OUT" "absent" "show says the third number is absent"
contains "$OUT" "ControlSet001" "show names the control set"
check "show writes nothing" cmp -s "$h" "$FIX/nt4.hive"

d=$(case_dir show-three)
h=$(fixture three.hive "$d")
run show "$h"
expect_rc 0 "show on three control sets"
contains "$OUT" "ControlSet003" "show lists the third control set"
contains "$OUT" "last known good" "show gives Select roles"
contains "$OUT" "SharedSection=1024,12288,512" "show prints ControlSet003's token"

## set: the classic fix

d=$(case_dir set-nt4)
h=$(fixture nt4.hive "$d")
export_hive "$h" >"$WORK/before.reg"
run set --non-interactive 512 "$h"
expect_rc 0 "set --non-interactive 512 on NT 4.0"
contains "$OUT" "SharedSection=1024,3072 -> SharedSection=1024,3072,512" "set reports before and after"
export_hive "$h" >"$WORK/after.reg"
contains "$(windows_value "$h")" "SharedSection=1024,3072,512 Windows=On" "the hive now holds the third number"
only_windows_changed "$WORK/before.reg" "$WORK/after.reg" 1 "only the Windows value changed"
backup=$(ls "$d" | grep '^SYSTEM\.deskheap-[0-9]\{4,\}-[0-9]\{8\}T[0-9]\{6\}Z\.bak$')
check "a backup named SYSTEM.deskheap-<number>-<UTC>.bak was made" test -n "$backup"
check "the backup is byte-identical to the original" cmp -s "$d/$backup" "$FIX/nt4.hive"
contains "$OUT" "$backup" "the report names the backup"
check "no temporary file is left" test "$(listing "$d")" = "SYSTEM $backup "
cp "$h" "$WORK/after-first"
run set --non-interactive 512 "$h"
expect_rc 0 "second set"
contains "$OUT" "unchanged" "second set reports unchanged"
check "second set writes nothing" cmp -s "$h" "$WORK/after-first"
check "second set makes no backup" test "$(listing "$d")" = "SYSTEM $backup "

# A wrong clock cannot reorder backups: the first set's backup renamed as
# if made in 2099 (a rescue system's clock hours or years off) is still
# older than the second's, which restore puts back.
run set --non-interactive 768 "$h"
expect_rc 0 "third set"
b2=$(ls "$d" | grep '^SYSTEM\.deskheap-0002-[0-9]\{8\}T[0-9]\{6\}Z\.bak$')
check "the next backup is number 0002" test -n "$b2"
mv "$d/$backup" "$d/SYSTEM.deskheap-0001-20991231T235959Z.bak"
run restore "$h"
expect_rc 0 "restore after a clock skew"
contains "$OUT" "$b2" "restore takes the highest number, not the latest time"
check "restore gives back the hive before the last set" cmp -s "$h" "$WORK/after-first"

## set: other eras and forms

for f in xp win7 win10; do
	d=$(case_dir "set-$f")
	h=$(fixture "$f.hive" "$d")
	export_hive "$h" >"$WORK/before.reg"
	run set --non-interactive 640 --no-backup "$h"
	expect_rc 0 "set on $f.hive"
	export_hive "$h" >"$WORK/after.reg"
	n=1
	[ "$f" = win7 ] && n=2
	only_windows_changed "$WORK/before.reg" "$WORK/after.reg" $n "$f.hive: only the Windows value of each control set changed"
	check "$f.hive: --no-backup leaves no backup" test "$(listing "$d")" = "SYSTEM "
done
contains "$(windows_value "$d/SYSTEM")" "SharedSection=1024,20480,640 Windows=On" "win10.hive: only the third number changed"
# 768 -> 640 fits the value's own cell: only those three UTF-16 code units
# (one byte each) and the SubSystems key's last-written time (8 bytes at
# +8 of its record) change past the base block, nothing else of the file.
nk=$(hive_times "$d/SYSTEM" | cut -d' ' -f4)
check "win10.hive: past the base block, exactly the three changed digits differ, and the key's time" \
	test "$(cmp -l "$FIX/win10.hive" "$d/SYSTEM" | awk -v a=$((nk + 8)) '$1 > 512 && ($1 - 1 < a || $1 - 1 >= a + 8)' | wc -l)" -eq 3
check "win10.hive: the file keeps its length" test "$(stat -c %s "$d/SYSTEM")" -eq "$(stat -c %s "$FIX/win10.hive")"

# The time of the change: Windows sets the written key's last-written
# time and the base block's when it writes a value. Both ways of writing
# (in place: win10, 768 -> 640; hivex: nt4, ",512" appended) do.
for f in win10 nt4; do
	d=$(case_dir "times-$f")
	h=$(fixture "$f.hive" "$d")
	set -- $(hive_times "$h")
	old_key=$1 old_control=$3
	t0=$(filetime_now)
	run set --no-backup --non-interactive 640 "$h"
	t1=$(filetime_now)
	expect_rc 0 "$f.hive: set for the timestamps"
	set -- $(hive_times "$h")
	check "$f.hive: the key's last-written time is the time of the change" \
		test "$1" -ge "$t0" -a "$1" -le "$t1" -a "$1" -ne "$old_key"
	check "$f.hive: the base block has the same time" test "$2" = "$1"
	check "$f.hive: a key that did not change keeps its time" test "$3" = "$old_control"
	cp "$h" "$WORK/stamped"
	run set --no-backup --non-interactive 640 "$h"
	check "$f.hive: a hive already as asked keeps its times (not written)" cmp -s "$h" "$WORK/stamped"
done

d=$(case_dir set-all-three)
h=$(fixture win7.hive "$d")
run set --shared 2048 --interactive 4096 --non-interactive 1024 --no-backup "$h"
expect_rc 0 "set all three numbers"
contains "$(windows_value "$h" ControlSet002)" "SharedSection=2048,4096,1024 " "all three numbers replaced"

d=$(case_dir set-interactive-only)
h=$(fixture nt4.hive "$d")
run set --interactive 4096 --no-backup "$h"
expect_rc 0 "set --interactive on a two-number token"
contains "$(windows_value "$h")" "SharedSection=1024,4096 " "no third number appended when only the second is asked"

for f in regsz lower spaces noterm; do
	d=$(case_dir "form-$f")
	h=$(fixture "$f.hive" "$d")
	export_hive "$h" >"$WORK/before.reg"
	run set --non-interactive 512 --no-backup "$h"
	expect_rc 0 "set on $f.hive"
	export_hive "$h" >"$WORK/after.reg"
	only_windows_changed "$WORK/before.reg" "$WORK/after.reg" 1 "$f.hive: only the Windows value changed"
	run show "$h"
	contains "$OUT" "1024,3072,512" "$f.hive: the third number is there"
done
contains "$(windows_value "$WORK/case-form-lower/SYSTEM")" "sharedsection=1024,3072,512" "lower-case token keeps its spelling"
contains "$(export_hive "$WORK/case-form-regsz/SYSTEM")" '"Windows"=hex(1):' "REG_SZ stays REG_SZ"
check "a value without a terminator stays without one" sh -c "hivexregedit --export '$WORK/case-form-noterm/SYSTEM' '\\' | grep '^\"Windows\"=hex(2):' | grep -q '36,00\$'"
check "a value with a terminator keeps it" sh -c "hivexregedit --export '$WORK/case-form-spaces/SYSTEM' '\\' | grep '^\"Windows\"=hex(2):' | grep -q '36,00,00,00\$'"

## --control-set

d=$(case_dir cs-current)
h=$(fixture three.hive "$d")
export_hive "$h" >"$WORK/before.reg"
run set --control-set current --non-interactive 256 --no-backup "$h"
expect_rc 0 "set --control-set current"
export_hive "$h" >"$WORK/after.reg"
only_windows_changed "$WORK/before.reg" "$WORK/after.reg" 1 "--control-set current changes one control set"
run show --control-set 2 "$h"
contains "$OUT" "SharedSection=1024,3072,256" "the current set (ControlSet002) changed"
lacks "$OUT" "ControlSet001" "show --control-set 2 shows only ControlSet002"

d=$(case_dir cs-number)
h=$(fixture three.hive "$d")
run set --control-set 3 --non-interactive 256 --no-backup "$h"
expect_rc 0 "set --control-set 3"
run show "$h"
contains "$OUT" "SharedSection=1024,12288,256" "ControlSet003 changed"
contains "$OUT" "[failed]: SharedSection=1024,3072
" "ControlSet001 untouched"
run set --control-set 9 --non-interactive 256 "$h"
expect_rc 3 "a control set that does not exist"
contains "$ERR" "ControlSet009" "the error names the missing control set"

## check and dry-run

d=$(case_dir check)
h=$(fixture xp.hive "$d")
run check --non-interactive 512 "$h"
expect_rc 0 "check when every control set matches"
contains "$OUT" "$h: matches (hive clean)" "check says the hive matches"
run check --non-interactive 768 "$h"
expect_rc 1 "check when a control set differs"
contains "$OUT" "$h: differs (hive clean)" "check says the hive differs"
run check --json --non-interactive 768 "$h"
contains "$OUT" '"status":"would-change"' "check --json keeps the status name would-change"
run check --interactive 3072 --non-interactive 512 "$h"
expect_rc 0 "check of two numbers that match"
d=$(case_dir check-nt4)
h=$(fixture nt4.hive "$d")
run check --non-interactive 3072 "$h"
expect_rc 1 "check counts an absent third number as a difference"
check "check writes nothing" cmp -s "$h" "$FIX/nt4.hive"
check "check leaves no file" test "$(listing "$d")" = "SYSTEM "

d=$(case_dir dry-run)
h=$(fixture nt4.hive "$d")
run set -n --non-interactive 512 "$h"
expect_rc 0 "set --dry-run"
contains "$OUT" "would change" "dry run says it would change"
contains "$OUT" "SharedSection=1024,3072,512" "dry run shows the result"
check "dry run writes nothing" cmp -s "$h" "$FIX/nt4.hive"
check "dry run makes no backup" test "$(listing "$d")" = "SYSTEM "

## --backup-dir

d=$(case_dir backup-dir)
h=$(fixture nt4.hive "$d")
mkdir "$WORK/backups"
run set --backup-dir "$WORK/backups" --non-interactive 512 "$h"
expect_rc 0 "set --backup-dir"
sub=$(backup_subdir "$h")
check "the backup is in the target's subdirectory of the backup directory" cmp -s "$WORK/backups/$sub"/SYSTEM.deskheap-*.bak "$FIX/nt4.hive"
check "the subdirectory is private (0700)" test "$(stat -c %a "$WORK/backups/$sub")" = 700
check "nothing but the hive beside it" test "$(listing "$d")" = "SYSTEM "
d=$(case_dir backup-dir-missing)
h=$(fixture nt4.hive "$d")
run set --backup-dir "$WORK/no/such/dir" --non-interactive 512 "$h"
expect_rc 3 "a backup directory that does not exist"
contains "$ERR" "$WORK/no/such/dir" "the error names the backup directory"
check "the hive is unchanged" cmp -s "$h" "$FIX/nt4.hive"
check "no file is left" test "$(listing "$d")" = "SYSTEM "

# The per-target subdirectory has a predictable name: one planted there by
# someone else (writable by others, or a link) is refused, nothing is put
# in it, and restore will not take a backup from it.
d=$(case_dir backup-dir-planted)
h=$(fixture nt4.hive "$d")
mkdir -m 700 "$WORK/bk2"
sub=$(backup_subdir "$h")
mkdir -m 777 "$WORK/bk2/$sub"
run set --backup-dir "$WORK/bk2" --non-interactive 512 "$h"
expect_rc 3 "a planted world-writable backup subdirectory"
contains "$ERR" "others can write to it" "the error says why it is refused"
contains "$ERR" "$WORK/bk2/$sub" "the error names it"
check "nothing was put in it" test -z "$(ls -A "$WORK/bk2/$sub")"
check "the hive is unchanged" cmp -s "$h" "$FIX/nt4.hive"
rmdir "$WORK/bk2/$sub"
mkdir -m 700 "$WORK/elsewhere"
ln -s "$WORK/elsewhere" "$WORK/bk2/$sub"
run restore --backup-dir "$WORK/bk2" "$h"
expect_rc 3 "restore from a backup subdirectory that is a symbolic link"
contains "$ERR" "symbolic link" "the error says it is a link"
run set --backup-dir "$WORK/bk2" --non-interactive 512 "$h"
expect_rc 3 "set into a backup subdirectory that is a symbolic link"
check "nothing was put where it points" test -z "$(ls -A "$WORK/elsewhere")"

## --json

d=$(case_dir json)
h1=$(fixture win7.hive "$d")
mkdir "$d/b"
h2=$(fixture garbage.hive "$d/b")
run set --json --non-interactive 768 --no-backup "$h1" "$h2"
expect_rc 3 "a batch with one bad hive exits 3"
check "one JSON line per target" test "$(printf '%s\n' "$OUT" | wc -l)" -eq 2
check "every line is valid JSON" python3 -c '
import json, sys
lines = sys.stdin.read().splitlines()
a, b = (json.loads(l) for l in lines)
assert a["status"] == "changed" and a["dirty"] is False
assert [c["name"] for c in a["control_sets"]] == ["ControlSet001", "ControlSet002"]
assert a["control_sets"][0]["before"] == "SharedSection=1024,12288,512"
assert a["control_sets"][0]["after"] == "SharedSection=1024,12288,768"
assert a["control_sets"][0]["changed"] is True
assert a["backup"] is None and a["error"] is None
assert b["status"] == "failed" and b["error"]["code"] == "not-a-hive"
assert b["target"].endswith("/b/SYSTEM")
' <"$WORK/out"
contains "$(windows_value "$h1" ControlSet002)" "SharedSection=1024,12288,768" "the good hive in the batch was still changed"

## refusals: a clear error, exit 3, every file as it was

refuse() {
	name=$1
	expect=$2
	d=$(case_dir "refuse-$name")
	h=$(fixture "$name.hive" "$d")
	run set --non-interactive 512 "$h"
	expect_rc 3 "$name.hive is refused"
	contains "$ERR" "$h" "$name.hive: the error names the file"
	contains "$ERR" "$expect" "$name.hive: the error says why ($expect)"
	check "$name.hive: the hive is byte-identical" cmp -s "$h" "$FIX/$name.hive"
	check "$name.hive: no file is left behind" test "$(listing "$d")" = "SYSTEM "
}
refuse twotokens "SharedSection= tokens"
refuse notoken "no SharedSection= token"
refuse nonnumeric "0x300"
refuse noselect "no Select key"
refuse novalue "no Windows value"
refuse partial "ControlSet002"
refuse empty "no Select key"
refuse long15 "would grow to 16352 bytes, more than the 16344"
refuse garbage "not a registry hive"
refuse truncated "damaged or not a registry hive"
refuse dirty-seq "no transaction log can be replayed"
refuse dirty-sum "checksum"

# show reads every control set it can: the unreadable one is marked, the
# hive still fails (exit 3).
d=$(case_dir show-partial)
h=$(fixture partial.hive "$d")
run show "$h"
expect_rc 3 "show of a hive with an unreadable control set fails"
contains "$ERR" "ControlSet001 [current, default]: SharedSection=1024,3072" "show still shows the control set it can read"
contains "$ERR" "ControlSet002 [last known good]: cannot be read" "show marks the control set it cannot read"
contains "$ERR" "ControlSet002\\Control\\Session Manager\\SubSystems has no Windows value" "and says why"
run show --json "$h"
check "show --json lists both control sets, the unreadable one with its error" python3 -c '
import json, sys
r = json.loads(sys.stdin.read())
assert r["status"] == "failed" and r["error"]["code"] == "not-a-system-hive", r
a, b = r["control_sets"]
assert a["before"] == "SharedSection=1024,3072" and a["error"] is None, a
assert b["name"] == "ControlSet002" and b["before"] is None, b
assert b["error"]["code"] == "not-a-system-hive" and "no Windows value" in b["error"]["message"], b
' <"$WORK/out"

d=$(case_dir long13)
h=$(fixture long13.hive "$d")
run set --no-backup --non-interactive 512 "$h"
expect_rc 0 "a 1.3 hive (no big-data records) takes a value past 16,344 bytes"
contains "$(windows_value "$h")" "SharedSection=1024,3072,512 " "the long value was patched"

d=$(case_dir show-dirty)
h=$(fixture dirty-seq.hive "$d")
run show "$h"
expect_rc 0 "show reads a dirty hive"
contains "$OUT" "dirty" "show says the hive is dirty"

d=$(case_dir missing)
run set --non-interactive 512 "$d/SYSTEM"
expect_rc 3 "a hive that does not exist"
contains "$ERR" "$d/SYSTEM" "the error names the missing file"
run show "$d"
expect_rc 3 "a directory is not a hive file"

d=$(case_dir symlink)
h=$(fixture nt4.hive "$d")
ln -s "$h" "$d/LINK"
run set --non-interactive 512 "$d/LINK"
expect_rc 3 "set refuses a symbolic link"
check "the link's target is untouched" cmp -s "$h" "$FIX/nt4.hive"

## warnings

d=$(case_dir warn)
h=$(fixture nt4.hive "$d")
run set --non-interactive 8192 --no-backup "$h"
expect_rc 0 "a non-interactive size above the interactive one is allowed"
contains "$OUT" "warning" "with a warning"

## usage errors: exit 2, nothing touched

d=$(case_dir usage)
h=$(fixture nt4.hive "$d")
usage() {
	desc=$1
	shift
	run "$@"
	expect_rc 2 "usage: $desc"
	check "usage: $desc: the hive is untouched" cmp -s "$h" "$FIX/nt4.hive"
}
usage "no arguments"
usage "unknown command" frobnicate "$h"
usage "set without sizes" set "$h"
usage "size 0" set --non-interactive 0 "$h"
usage "size above 1048576" set --non-interactive 1048577 "$h"
usage "size not a number" set --non-interactive 5x "$h"
usage "negative size" set --interactive -5 "$h"
usage "show with a size" show --non-interactive 512 "$h"
usage "check with --dry-run" check -n --non-interactive 512 "$h"
usage "--no-backup with --backup-dir" set --no-backup --backup-dir /tmp --non-interactive 512 "$h"
usage "bad --control-set" show --control-set lkg "$h"
usage "no target" show
usage "unknown option" show --frob "$h"
usage "-q with -v" show -q -v "$h"
usage "--quiet with --verbose" show --verbose --quiet "$h"
run --help
expect_rc 0 "--help"
contains "$OUT" "--non-interactive" "--help lists the options"
lacks "$OUT" "HIVE..." "--help calls what every command takes TARGET, not HIVE"
for c in show "set" check recover restore; do
	run "$c" --help
	expect_rc 0 "$c --help"
	contains "$OUT" "Usage: deskheap $c [OPTIONS] " "$c --help gives that command's usage"
	contains "$OUT" "Example" "$c --help gives an example"
	contains "$OUT" "  deskheap $c " "$c --help's example runs that command"
done
run --version
expect_rc 0 "--version"
contains "$OUT" "deskheap" "--version names the program"

## quiet

d=$(case_dir quiet)
h=$(fixture win7.hive "$d")
run show -q "$h"
expect_rc 0 "show -q"
check "show -q prints one line" test "$(printf '%s\n' "$OUT" | wc -l)" -eq 1

## real conditions: no permission, no space, read-only

as_nobody() {
	setpriv --reuid=nobody --regid=nogroup --clear-groups "$@"
}
chmod 755 "$WORK"
if [ "$(id -u)" -ne 0 ] || ! as_nobody "$DESKHEAP" --version >/dev/null 2>&1; then
	skip "permission tests need root (to act as nobody) and a binary nobody can run"
else
	d=$(case_dir noperm)
	chmod 755 "$d"
	h=$(fixture nt4.hive "$d")
	chmod 644 "$h"
	as_nobody "$DESKHEAP" set --non-interactive 512 "$h" >"$WORK/out" 2>"$WORK/err"
	RC=$? OUT=$(cat "$WORK/out") ERR=$(cat "$WORK/err")
	expect_rc 3 "a directory the user cannot write"
	contains "$ERR" "Permission denied" "the error gives the cause"
	contains "$ERR" "$d" "the error names the directory's file"
	check "the hive is unchanged" cmp -s "$h" "$FIX/nt4.hive"
	check "no file is left" test "$(listing "$d")" = "SYSTEM "
	chmod 600 "$h"
	as_nobody "$DESKHEAP" show "$h" >"$WORK/out" 2>"$WORK/err"
	RC=$? OUT=$(cat "$WORK/out") ERR=$(cat "$WORK/err")
	expect_rc 3 "a hive the user cannot read"
	contains "$ERR" "cannot open $h" "the error names the unreadable hive"
fi

d=$(case_dir read-only)
h=$(fixture nt4.hive "$d")
chmod 444 "$h"
run set --non-interactive 512 "$h"
expect_rc 0 "a read-only (0444) hive is replaced"
contains "$OUT" "warning: $h was read-only (mode 0444)" "a warning says the hive was read-only"
check "the new hive keeps mode 0444" test "$(stat -c %a "$h")" = 444
contains "$(windows_value "$h")" "SharedSection=1024,3072,512 " "the read-only hive was patched"

d=$(case_dir immutable)
h=$(fixture nt4.hive "$d")
if ! chattr +i "$h" 2>/dev/null; then
	skip "chattr +i is not supported here ($(stat -f -c %T "$d")) or needs root"
else
	run set --non-interactive 512 "$h"
	chattr -i "$h"
	expect_rc 3 "an immutable hive is refused"
	contains "$ERR" "$h is immutable (chattr +i)" "the error says the hive is immutable"
	contains "$ERR" "chattr -i $h" "the error gives the remedy"
	lacks "$ERR" "run as root" "the error does not send root to become root"
	check "the immutable hive is unchanged" cmp -s "$h" "$FIX/nt4.hive"
	check "nothing is left beside the immutable hive" test "$(listing "$d")" = "SYSTEM "
	chattr +i "$d"
	run set --non-interactive 512 "$h"
	chattr -i "$d"
	expect_rc 3 "a hive in an immutable directory is refused"
	contains "$ERR" "$d/ is immutable (chattr +i): the hive in it cannot be replaced" "the error names the immutable directory"
fi

d=$(case_dir full)
if [ "$(id -u)" -ne 0 ] || ! mount -t tmpfs -o size=64k tmpfs "$d" 2>/dev/null; then
	skip "full and read-only filesystem tests need root to mount a small tmpfs"
else
	h=$(fixture nt4.hive "$d")
	dd if=/dev/zero of="$d/filler" bs=4096 2>/dev/null
	run set --non-interactive 512 "$h"
	expect_rc 3 "a full filesystem"
	contains "$ERR" "No space left on device" "the error gives the cause"
	contains "$ERR" "$d" "the error names the file"
	check "the hive is unchanged on a full filesystem" cmp -s "$h" "$FIX/nt4.hive"
	check "no temporary file is left on a full filesystem" test "$(listing "$d")" = "SYSTEM filler "
	# restore on a full disk: the error names the file it could not
	# write (its new hive, not the backup it reads), and nothing claims
	# a restore that did not happen.
	rm "$d/filler"
	run set -q --non-interactive 512 "$h"
	cp "$h" "$WORK/full-set"
	bak=$(ls "$d" | grep '\.bak$')
	dd if=/dev/zero of="$d/filler" bs=4096 2>/dev/null
	run restore "$h"
	expect_rc 3 "restore on a full filesystem"
	contains "$ERR" "No space left on device" "restore: the error gives the cause"
	contains "$ERR" ".SYSTEM.deskheap-tmp-" "restore: the error names the file it could not write"
	lacks "$ERR" "cannot write $d/$bak" "restore: the error does not blame the backup"
	lacks "$OUT$ERR" "restored from" "restore: no restore is claimed"
	check "restore: the hive is unchanged on a full filesystem" cmp -s "$h" "$WORK/full-set"
	rm -f "$d/filler" "$d/$bak"
	cp "$FIX/nt4.hive" "$h"
	mount -o remount,ro "$d"
	run set --non-interactive 512 "$h"
	expect_rc 3 "a read-only filesystem"
	contains "$ERR" "Read-only file system" "the error gives the cause"
	contains "$ERR" "Fast Startup" "the error names Fast Startup as the usual cause on NTFS"
	contains "$ERR" "shutdown /s /t 0" "and how to clear it"
	check "the hive is unchanged on a read-only filesystem" cmp -s "$h" "$FIX/nt4.hive"
	umount "$d"
fi

## dirty hives: replay the transaction logs first

# dirty_case NAME: a fresh copy of fixture directory NAME (SYSTEM + logs).
dirty_case() {
	d=$(case_dir "dirty-$1")
	cp "$FIX/$1"/* "$d/"
	echo "$d"
}
R="$FIX/replay"

d=$(dirty_case new-split)
run show "$d/SYSTEM"
expect_rc 0 "show on a dirty hive with new-format logs"
contains "$OUT" "logs replayed: 3 entries" "show says which entries it replayed"
contains "$OUT" "SharedSection=1024,20480,640" "show gives the value as the logs leave it"
check "show writes nothing" test "$(listing "$d")" = "SYSTEM SYSTEM.LOG1 SYSTEM.LOG2 "
run check --non-interactive 640 "$d/SYSTEM"
expect_rc 0 "check compares the replayed value"

for c in new-one new-split new-swapped old; do
	d=$(dirty_case "$c")
	cp "$d/SYSTEM" "$WORK/dirty-original"
	inodes=$(for l in "$d"/SYSTEM.LOG*; do printf '%s ' "$(stat -c %i "$l")"; done)
	chmod 0640 "$d"/SYSTEM.LOG*
	run set --non-interactive 512 "$d/SYSTEM"
	expect_rc 0 "set on dirty $c"
	export_hive "$R/B.hive" >"$WORK/before.reg"
	export_hive "$d/SYSTEM" >"$WORK/after.reg"
	only_windows_changed "$WORK/before.reg" "$WORK/after.reg" 1 "$c: the result is the replayed hive with only the Windows value changed"
	contains "$(windows_value "$d/SYSTEM")" "SharedSection=1024,20480,512 " "$c: the new value is there"
	b=$(ls "$d" | grep '^SYSTEM\.deskheap-.*\.bak$')
	check "$c: the backup is the dirty original" cmp -s "$d/$b" "$WORK/dirty-original"
	# Every log is retired into the backup set: the backup's is the
	# original file itself (a hard link), the live one a new empty file
	# with the original's mode, for Windows to start afresh.
	for log in "$FIX/$c"/SYSTEM.LOG*; do
		n=$(basename "$log")
		ino=$(stat -c %i "$d/$b${n#SYSTEM}" 2>/dev/null)
		check "$c: the backup set holds $n" cmp -s "$d/$b${n#SYSTEM}" "$log"
		check "$c: the backup's $n is the original file" \
			sh -c 'case " $1" in *" $2 "*) exit 0 ;; esac; exit 1' - "$inodes" "$ino"
		check "$c: $n itself is now empty" test -f "$d/$n" -a ! -s "$d/$n"
		check "$c: the empty $n keeps the log's mode" test "$(stat -c %a "$d/$n")" = 640
		contains "$OUT" "backup: $d/$b${n#SYSTEM}" "$c: the report names the backup's $n"
	done
	run show "$d/SYSTEM"
	contains "$OUT" "(hive clean)" "$c: the written hive is clean"
done

# A value too long for its cell on a dirty hive: hivex rewrites the
# replayed hive, in the new file the replay went into.
d=$(dirty_case new-split)
run set --shared 1048576 --interactive 1048576 --non-interactive 1048576 "$d/SYSTEM"
expect_rc 0 "set on a dirty hive, a value that does not fit its cell"
check "the hive was rewritten (it grew)" test "$(stat -c %s "$d/SYSTEM")" -ne "$(stat -c %s "$R/B.hive")"
export_hive "$R/B.hive" >"$WORK/before.reg"
export_hive "$d/SYSTEM" >"$WORK/after.reg"
only_windows_changed "$WORK/before.reg" "$WORK/after.reg" 1 "rewritten: the replayed hive with only the Windows value changed"
contains "$(windows_value "$d/SYSTEM")" "SharedSection=1048576,1048576,1048576 " "rewritten: the new value is there"
check "rewritten: both logs are in the backup set, emptied beside the hive" \
	test -s "$(ls "$d"/SYSTEM.deskheap-*.bak.LOG2)" -a ! -s "$d/SYSTEM.LOG2"

d=$(dirty_case new-one)
run recover "$d/SYSTEM"
expect_rc 0 "recover on a dirty hive"
contains "$OUT" "changed" "recover reports it changed"
check "recover gives the state Windows would, byte for byte" cmp -s "$d/SYSTEM" "$R/B.hive"
check "recover keeps a backup set" test -n "$(ls "$d" | grep '^SYSTEM\.deskheap-.*\.bak\.LOG1$')"
run recover "$d/SYSTEM"
expect_rc 0 "recover on the now clean hive"
contains "$OUT" "nothing to replay" "a clean hive is not written again"

for c in new-badhash:A1 new-gap:A2 new-truncated:A2 new-pastend:A2 new-hugebins:A2; do
	d=$(dirty_case "${c%%:*}")
	run recover "$d/SYSTEM"
	expect_rc 0 "recover on ${c%%:*} applies the entries before the damage"
	check "${c%%:*}: the result is ${c#*:}" cmp -s "$d/SYSTEM" "$R/${c#*:}.hive"
done

d=$(dirty_case new-split)
run recover -n --json "$d/SYSTEM"
expect_rc 0 "recover --dry-run"
check "recover --dry-run writes nothing" cmp -s "$d/SYSTEM" "$FIX/new-split/SYSTEM"
check "recover --json reports the replay" python3 -c '
import json, sys
r = json.loads(sys.stdin.read())
assert r["status"] == "would-change" and r["dirty"] is True
assert r["log_entries_applied"] == 3 and r["log_pages_applied"] == 8
assert [p.rsplit("/", 1)[1] for p in r["logs_applied"]] == ["SYSTEM.LOG1", "SYSTEM.LOG2"]
assert r["dirty_reason"].startswith("sequence numbers differ (101 and 100)")
' <"$WORK/out"

d=$(case_dir recover-clean)
h=$(fixture win7.hive "$d")
run recover "$h"
expect_rc 0 "recover on a clean hive"
contains "$OUT" "$h: nothing to replay (hive clean)" "recover says a clean hive has nothing to replay"
check "recover writes nothing to a clean hive" test "$(listing "$d")" = "SYSTEM "

for c in new-badbase new-stale old-timestamp nologs; do
	d=$(dirty_case "$c")
	before=$(listing "$d")
	for cmd in "set --non-interactive 512" "recover" "check --non-interactive 512"; do
		run $cmd "$d/SYSTEM"
		expect_rc 3 "$c: $cmd is refused"
	done
	contains "$ERR" "no transaction log can be replayed" "$c: the error says no log can be replayed"
	contains "$ERR" "$d/SYSTEM" "$c: the error names the hive"
	contains "$ERR" "--ignore-logs" "$c: the error gives the remedy"
	check "$c: the hive is unchanged" cmp -s "$d/SYSTEM" "$FIX/$c/SYSTEM"
	check "$c: nothing added" test "$(listing "$d")" = "$before"
	run show "$d/SYSTEM"
	expect_rc 0 "$c: show still reads the hive file"
	contains "$OUT" "warning" "$c: show warns the logs cannot be replayed"
done

d=$(dirty_case nologs)
run set --ignore-logs --non-interactive 512 "$d/SYSTEM"
expect_rc 0 "set --ignore-logs on a dirty hive without logs"
contains "$OUT" "--ignore-logs" "a warning says the logs were ignored"
contains "$(windows_value "$d/SYSTEM")" "SharedSection=1024,20480,512 " "the hive file's own value was patched"
run show "$d/SYSTEM"
contains "$OUT" "(hive clean)" "the result is clean"

# The remedy the refusal above offers works for recover too: the hive file
# as it is, written back clean, with a backup of the dirty original.
for c in nologs new-stale; do
	d=$(dirty_case "$c")
	run recover --ignore-logs -n "$d/SYSTEM"
	expect_rc 0 "$c: recover --ignore-logs --dry-run"
	check "$c: the dry run writes nothing" cmp -s "$d/SYSTEM" "$FIX/$c/SYSTEM"
	run recover --ignore-logs "$d/SYSTEM"
	expect_rc 0 "$c: recover --ignore-logs, the remedy the refusal offers"
	contains "$OUT" "--ignore-logs" "$c: a warning says the logs were ignored"
	check "$c: the backup is the dirty original" \
		cmp -s "$(ls "$d"/SYSTEM.deskheap-*.bak)" "$FIX/$c/SYSTEM"
	check "$c: past its base block, the hive is the file as it was" \
		cmp -s -i 4096 "$d/SYSTEM" "$FIX/$c/SYSTEM"
	run show "$d/SYSTEM"
	contains "$OUT" "(hive clean)" "$c: recover --ignore-logs wrote it clean"
done

h=$(fixture nt4.hive "$(case_dir usage-recover)")
usage "recover with sizes" recover --non-interactive 512 "$h"
usage "recover with --control-set" recover --control-set 1 "$h"
usage "restore with --ignore-logs" restore --ignore-logs "$h"
