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

## regipy SYSTEM_B: Windows 10, dirty, with logs

d=$(case_dir system-b)
h=$(unxz_to regipy/SYSTEM_B "$d" SYSTEM)
unxz_to regipy/SYSTEM_B.LOG1 "$d" SYSTEM.LOG1 >/dev/null
unxz_to regipy/SYSTEM_B.LOG2 "$d" SYSTEM.LOG2 >/dev/null
cp "$h" "$WORK/original"
run set --non-interactive 512 "$h"
expect_rc 3 "dirty SYSTEM_B is refused"
contains "$ERR" "dirty" "the error says the hive is dirty"
contains "$ERR" "sequence numbers differ (1622 and 1621)" "the error says why it is dirty"
contains "$ERR" "transaction logs" "the error says what would be lost"
check "SYSTEM_B is unchanged" cmp -s "$h" "$WORK/original"
check "nothing added beside it" test "$(listing "$d")" = "SYSTEM SYSTEM.LOG1 SYSTEM.LOG2 "
run show "$h"
expect_rc 0 "show reads dirty SYSTEM_B"
contains "$OUT" "dirty" "show says it is dirty"
contains "$OUT" "SharedSection=1024,20480,768" "the Windows 10 default token"

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
