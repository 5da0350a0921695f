#!/bin/sh
# End-to-end tests on real hives written by Windows (../shared/corpus, or
# $DESKHEAP_CORPUS). Skipped, visibly, where the corpus is absent.
. "${top_srcdir:-.}/tests/lib.sh"

CORPUS=${DESKHEAP_CORPUS:-${top_srcdir:-.}/../shared/corpus}
if [ ! -d "$CORPUS/regipy" ]; then
	echo "# corpus not found at $CORPUS: set DESKHEAP_CORPUS to run these tests"
	skip "real hives: corpus absent"
	exit 0
fi

# unxz_to NAME DIR [AS]: decompress a corpus file into DIR; print its path.
unxz_to() {
	xz -dc "$CORPUS/$1.xz" >"$2/${3:-$(basename "$1")}"
	echo "$2/${3:-$(basename "$1")}"
}

## regipy SYSTEM: Windows 7 era, clean, two control sets

d=$(case_dir regipy-system)
h=$(unxz_to regipy/SYSTEM "$d")
cp "$h" "$WORK/original"
export_hive "$h" >"$WORK/before.reg"
run show "$h"
expect_rc 0 "show on regipy SYSTEM"
contains "$OUT" "ControlSet002 [last known good]" "LastKnownGood is ControlSet002"
contains "$OUT" "SharedSection=1024,12288,512" "the Windows 7 default token"
run set --non-interactive 768 "$h"
expect_rc 0 "set --non-interactive 768 on regipy SYSTEM"
export_hive "$h" >"$WORK/after.reg"
only_windows_changed "$WORK/before.reg" "$WORK/after.reg" 2 "exactly the two Windows values changed (whole-hive export)"
contains "$(windows_value "$h")" "SharedSection=1024,12288,768 Windows=On" "ControlSet001 has the new third number"
contains "$(windows_value "$h" ControlSet002)" "SharedSection=1024,12288,768 Windows=On" "ControlSet002 has the new third number"
backup=$(ls "$d" | grep '^SYSTEM\.deskheap-.*\.bak$')
check "the backup is byte-identical to the original" cmp -s "$d/$backup" "$WORK/original"
check "no temporary file is left" test "$(listing "$d")" = "SYSTEM $backup "
cp "$h" "$WORK/after-first"
run set --non-interactive 768 "$h"
expect_rc 0 "a second set"
contains "$OUT" "unchanged" "reports unchanged"
check "the second run writes nothing" cmp -s "$h" "$WORK/after-first"
check "the second run makes no backup" test "$(listing "$d")" = "SYSTEM $backup "
run check --non-interactive 768 "$h"
expect_rc 0 "check agrees after set"

## regipy corrupted_system_hive: hivex refuses it

d=$(case_dir corrupted)
h=$(unxz_to regipy/corrupted_system_hive "$d" SYSTEM)
cp "$h" "$WORK/original"
run set --non-interactive 512 "$h"
expect_rc 3 "corrupted_system_hive fails"
contains "$ERR" "$h" "the error names the file"
check "the corrupted hive is unchanged" cmp -s "$h" "$WORK/original"
check "no file is left behind" test "$(listing "$d")" = "SYSTEM "

## regipy SYSTEM_B: Windows 10, dirty, with its new-format logs

# system_b DIR: SYSTEM_B and its logs in DIR as SYSTEM, SYSTEM.LOG1/2.
system_b() {
	unxz_to regipy/SYSTEM_B "$1" SYSTEM >/dev/null
	unxz_to regipy/SYSTEM_B.LOG1 "$1" SYSTEM.LOG1 >/dev/null
	unxz_to regipy/SYSTEM_B.LOG2 "$1" SYSTEM.LOG2 >/dev/null
}

d=$(case_dir system-b-recover)
system_b "$d"
cp "$d/SYSTEM" "$WORK/original"
run show --json "$d/SYSTEM"
expect_rc 0 "show on dirty SYSTEM_B"
check "show replays the 24 entries (2107..2130), 315 pages" python3 -c '
import json, sys
r = json.loads(sys.stdin.read())
assert r["dirty"] and r["log_entries_applied"] == 24 and r["log_pages_applied"] == 315, r
assert r["control_sets"][0]["before"] == "SharedSection=1024,20480,768"
' <"$WORK/out"
run recover "$d/SYSTEM"
expect_rc 0 "recover SYSTEM_B"
check "the hive grew from 12,398,592 to 12,591,104 bytes of bins" test "$(stat -c %s "$d/SYSTEM")" -eq $((4096 + 12591104))
check "the backup is the dirty original" cmp -s "$d"/SYSTEM.deskheap-*.bak "$WORK/original"
check "the backup set holds LOG1" test -s "$(ls "$d"/SYSTEM.deskheap-*.bak.LOG1)"
check "the backup set holds LOG2" test -s "$(ls "$d"/SYSTEM.deskheap-*.bak.LOG2)"
export_hive "$d/SYSTEM" >"$WORK/recovered.reg"
export_hive "$WORK/original" >"$WORK/stale.reg"
check "the recovered hive differs from the stale file (the logs held changes)" sh -c "! cmp -s '$WORK/recovered.reg' '$WORK/stale.reg'"

d=$(case_dir system-b-set)
system_b "$d"
run set --non-interactive 512 "$d/SYSTEM"
expect_rc 0 "set on dirty SYSTEM_B"
contains "$OUT" "logs replayed: 24 entries, 315 pages" "set says it replayed the logs"
export_hive "$d/SYSTEM" >"$WORK/set.reg"
only_windows_changed "$WORK/recovered.reg" "$WORK/set.reg" 1 "set = recover + only the Windows value (whole-hive exports)"
contains "$(windows_value "$d/SYSTEM")" "SharedSection=1024,20480,512 " "SYSTEM_B has the new third number"

# One flipped byte in the pages of LOG1's third entry (sequence 2109, at
# 0x7000): its hash is wrong, and the replay stops there as Windows does,
# after 2107 and 2108; LOG1's 2109, 2110 and LOG2's 2111..2130 are left out.
d=$(case_dir system-b-flipped)
system_b "$d"
printf '\377' | dd of="$d/SYSTEM.LOG1" bs=1 seek=$((0x7000 + 1000)) conv=notrunc 2>/dev/null
run recover "$d/SYSTEM"
expect_rc 0 "recover SYSTEM_B with a damaged LOG1 entry applies the entries before it"
contains "$OUT" "logs replayed: 2 entries" "2 of the 24 entries are applied"
contains "$OUT" "warning: $d/SYSTEM.LOG1: the log replay stopped at entry 3 (sequence 2109, offset 0x7000), after sequence 2108: an entry's hash is wrong" "a warning names the log, the entry and why"
contains "$OUT" "Windows stops there too" "the warning says Windows would do the same"
contains "$OUT" "22 later log entries were not applied (2 in $d/SYSTEM.LOG1, 20 in $d/SYSTEM.LOG2)" "the warning counts the entries left out, per log"
system_b "$d"
printf '\377' | dd of="$d/SYSTEM.LOG1" bs=1 seek=$((0x7000 + 1000)) conv=notrunc 2>/dev/null
run show --json "$d/SYSTEM"
check "show --json reports the 22 entries left out and the warning" python3 -c '
import json, sys
r = json.loads(sys.stdin.read())
assert r["log_entries_applied"] == 2 and r["log_entries_not_applied"] == 22, r
assert any("stopped at entry 3 (sequence 2109" in w for w in r["warnings"]), r
' <"$WORK/out"
d=$(case_dir system-b-intact)
system_b "$d"
run show --json "$d/SYSTEM"
check "an intact SYSTEM_B replays without that warning" python3 -c '
import json, sys
r = json.loads(sys.stdin.read())
assert r["log_entries_not_applied"] == 0 and r["warnings"] == [], r
' <"$WORK/out"

d=$(case_dir system-b-nologs)
unxz_to regipy/SYSTEM_B "$d" SYSTEM >/dev/null
cp "$d/SYSTEM" "$WORK/original"
run set --non-interactive 512 "$d/SYSTEM"
expect_rc 3 "SYSTEM_B without its logs is refused"
contains "$ERR" "sequence numbers differ (1622 and 1621)" "the error says why it is dirty"
contains "$ERR" "--ignore-logs" "the error gives the remedy"
check "SYSTEM_B is unchanged" cmp -s "$d/SYSTEM" "$WORK/original"
check "nothing added beside it" test "$(listing "$d")" = "SYSTEM "

## yarp: transaction-log recovery against Windows' own results

# has_key HIVE PATH / lacks_key HIVE PATH: hivexsh's cd is silent when the
# key exists and complains when it does not.
has_key() {
	[ -z "$(printf 'cd %s\n' "$2" | hivexsh "$1" 2>&1)" ]
}
lacks_key() {
	[ -n "$(printf 'cd %s\n' "$2" | hivexsh "$1" 2>&1)" ]
}

# yarp_dir NAME: a fresh copy of a yarp fixture directory.
yarp_dir() {
	d=$(case_dir "yarp-dir-$1")
	for f in "$CORPUS/yarp/$1"/*.xz; do
		xz -dc "$f" >"$d/$(basename "$f" .xz)"
	done
	echo "$d"
}

d=$(yarp_dir NewDirtyHive1)
run recover "$d/NewDirtyHive"
expect_rc 0 "recover NewDirtyHive1"
export_hive "$d/RecoveredHive_Windows10" >"$WORK/win.reg"
export_hive "$d/NewDirtyHive" >"$WORK/ours.reg"
check "NewDirtyHive1 = RecoveredHive_Windows10 (whole-hive exports)" cmp -s "$WORK/win.reg" "$WORK/ours.reg"
d=$(yarp_dir NewDirtyHive1)
mv "$d/NewDirtyHive.LOG1" "$d/x" && mv "$d/NewDirtyHive.LOG2" "$d/NewDirtyHive.LOG1" && mv "$d/x" "$d/NewDirtyHive.LOG2"
run recover "$d/NewDirtyHive"
expect_rc 0 "recover NewDirtyHive1 with LOG1 and LOG2 swapped"
export_hive "$d/NewDirtyHive" >"$WORK/ours.reg"
check "the logs in either order give the same result" cmp -s "$WORK/win.reg" "$WORK/ours.reg"

d=$(yarp_dir NewDirtyHive2)
run recover --json "$d/NewDirtyHive"
expect_rc 0 "recover NewDirtyHive2"
check "only LOG2 was applied" python3 -c '
import json, sys
r = json.loads(sys.stdin.read())
assert [p.rsplit("/", 1)[1] for p in r["logs_applied"]] == ["NewDirtyHive.LOG2"], r
' <"$WORK/out"
check "the last sequence number applied is 5" test "$(od -An -tu4 -j4 -N8 "$d/NewDirtyHive" | tr -s ' ')" = " 5 5"

d=$(yarp_dir OldDirtyHive)
check "before replay: key_with_many_subkeys\\1 exists" has_key "$d/OldDirtyHive" 'key_with_many_subkeys\1'
check "before replay: find_me_in_log does not" lacks_key "$d/OldDirtyHive" 'key_with_many_subkeys\5000\find_me_in_log'
run recover "$d/OldDirtyHive"
expect_rc 0 "recover OldDirtyHive (old-format log)"
export_hive "$d/RecoveredHive_Windows7" >"$WORK/win.reg"
export_hive "$d/OldDirtyHive" >"$WORK/ours.reg"
check "OldDirtyHive = RecoveredHive_Windows7 (whole-hive exports)" cmp -s "$WORK/win.reg" "$WORK/ours.reg"
check "after replay: find_me_in_log exists" has_key "$d/OldDirtyHive" 'key_with_many_subkeys\5000\find_me_in_log'
check "after replay: key_with_many_subkeys\\1 is gone" lacks_key "$d/OldDirtyHive" 'key_with_many_subkeys\1'

d=$(yarp_dir BadBaseBlockHive)
run recover "$d/BadBaseBlockHive"
expect_rc 0 "recover BadBaseBlockHive (base block from the log)"
check "key_with_many_subkeys is readable afterwards" has_key "$d/BadBaseBlockHive" 'key_with_many_subkeys'

for c in BadLogHive1 BadLogHive2 BadLogHive3; do
	d=$(yarp_dir "$c")
	cp "$d/BadLogHive" "$WORK/original"
	before=$(listing "$d")
	run recover "$d/BadLogHive"
	expect_rc 3 "$c: no usable log, refused"
	contains "$ERR" "no transaction log can be replayed" "$c: the error says so"
	check "$c: nothing written" sh -c "cmp -s '$d/BadLogHive' '$WORK/original' && test \"\$(ls -A '$d' | sort | tr '\n' ' ')\" = '$before'"
done

d=$(case_dir yarp-truncated-dirty)
h=$(unxz_to yarp/TruncatedDirtyHive "$d" SYSTEM)
cp "$h" "$WORK/original"
run recover "$h"
expect_rc 3 "TruncatedDirtyHive (no logs) is refused"
check "TruncatedDirtyHive is unchanged" cmp -s "$h" "$WORK/original"

## yarp: malformed and unusual hives give a clear error, never a crash

for f in BadListHive BadSubkeyHive TruncatedHive GarbageHive EmptyHive BigDataHive UnicodeHive ManySubkeysHive; do
	d=$(case_dir "yarp-$f")
	h=$(unxz_to "yarp/$f" "$d" SYSTEM)
	cp "$h" "$WORK/original"
	run set --non-interactive 512 "$h"
	expect_rc 3 "yarp $f is refused"
	contains "$ERR" "$h" "yarp $f: the error names the file"
	check "yarp $f: unchanged, nothing left behind" sh -c "cmp -s '$h' '$WORK/original' && test \"\$(ls -A '$d')\" = SYSTEM"
done
