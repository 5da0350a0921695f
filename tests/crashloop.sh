#!/bin/sh
# Crash loop (issue #5): CRASHLOOP_RUNS (default 300) runs of `set` on the
# 12 MB regipy SYSTEM hive, alternating two values, each killed with SIGKILL
# (its whole process group: the command and its worker) at a random moment
# spread over a normal run's duration. After every one: the hive opens with
# hivex and is exactly the hive before the run (byte for byte) or exactly
# the one the run asked for (whole-hive export equal to a reference); every
# backup is byte-identical to the hive before the run; a leftover temporary
# file is one at most, correctly named. The random delays come from a fixed
# seed (CRASHLOOP_SEED), so a failure can be replayed.
# Skipped, visibly, where the corpus is absent.
. "${top_srcdir:-.}/tests/lib.sh"

CORPUS=${DESKHEAP_CORPUS:-${top_srcdir:-.}/../shared/corpus}
RUNS=${CRASHLOOP_RUNS:-300}
SEED=${CRASHLOOP_SEED:-5}
if [ ! -f "$CORPUS/regipy/SYSTEM.xz" ]; then
	echo "# corpus not found at $CORPUS: set DESKHEAP_CORPUS to run the crash loop"
	skip "crash loop: regipy SYSTEM absent"
	exit 0
fi
for tool in setsid hivexml sha256sum; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		skip "crash loop: $tool missing"
		exit 0
	fi
done

d=$(case_dir crashloop)
H="$d/SYSTEM"
xz -dc "$CORPUS/regipy/SYSTEM.xz" >"$WORK/original"
cp "$WORK/original" "$H"

# xml_id FILE: the sha256 of hivexml's export of FILE, without the cells'
# file offsets, the base block's timestamp and the SubSystems keys'
# timestamps; empty when hivex cannot open FILE.
xml_id() {
	if hivexml "$1" >"$WORK/x.xml" 2>/dev/null; then
		perl -pe 's|<byte_runs>.*?</byte_runs>||g; s|^<hive><mtime>[^<]*</mtime>|<hive>|; s|(<node name="SubSystems"><mtime>)[^<]*|$1|g' \
			"$WORK/x.xml" | sha256sum | cut -c1-64
	fi
}

# export_id FILE: the sha256 of the whole hive exported by hivexml (every
# key, value, class and key timestamp), without what a commit rewrites in
# any case: the file offsets of cells, the base block's timestamp and that
# of the key whose value changes (both are the time of the change). Equal
# ids: the same registry content. Cached by the file's own sha256 (a hive's
# bytes differ from run to run, but a killed run often leaves them as they
# were). Empty when hivex cannot open the file.
export_id() {
	sum=$(sha256sum <"$1" | cut -c1-64)
	cached=$(grep "^$sum " "$WORK/cache" 2>/dev/null | cut -d' ' -f2)
	if [ -n "$cached" ]; then
		echo "$cached"
		return
	fi
	id=$(xml_id "$1")
	echo "$sum ${id:-unreadable}" >>"$WORK/cache"
	[ -n "$id" ] && echo "$id"
}

# The references: the original holds 512 in both control sets; a clean run
# to 640, and back to 512, give the two exports every state must match.
REF512=$(export_id "$H")
run set -q --no-backup --non-interactive 640 "$H"
expect_rc 0 "reference run to 640"
REF640=$(export_id "$H")
run set -q --no-backup --non-interactive 512 "$H"
expect_rc 0 "reference run back to 512"
check "back to 512 exports as the original (the comparison is exact)" test "$(export_id "$H")" = "$REF512"
check "640 and 512 export differently (the comparison can fail)" test -n "$REF640" -a "$REF640" != "$REF512"
cp "$H" "$WORK/other"
"$DESKHEAP" set -q --no-backup --non-interactive 700 "$WORK/other" >/dev/null 2>&1
other=$(xml_id "$WORK/other")
check "a hive with another value exports differently from both" \
	test -n "$other" -a "$other" != "$REF512" -a "$other" != "$REF640"
rm -f "$WORK/other"

# now_ms: milliseconds since the epoch.
now_ms() {
	echo $(($(date +%s%N) / 1000000))
}

# How long a run takes, over which the kills spread: measured first on five
# normal runs, then again every 10th run of the loop, which is not killed:
# in the loop a run takes longer (it removes the 12 MB file a killed run
# left, and the disk is still busy with the one before), and only runs
# that are let finish show how long.
for v in 640 512 640 512 640; do
	t0=$(now_ms)
	setsid "$DESKHEAP" set -q --non-interactive "$v" "$H" >/dev/null 2>&1
	echo $(($(now_ms) - t0))
done >"$WORK/times"
T=$(($(sort -n "$WORK/times" | sed -n 3p) * 2))
[ "$T" -gt 0 ] || T=1
rm -f "$d"/SYSTEM.deskheap-*.bak
echo "# a normal set on the $(($(stat -c %s "$H") / 1048576)) MB hive takes $(tr '\n' ' ' <"$WORK/times")ms; kills spread over 0..$T ms to start with (seed $SEED)"

# The delays, as fractions of the run's duration: uniform over 0..1.
awk -v n="$RUNS" -v seed="$SEED" 'BEGIN {
	srand(seed); for (i = 0; i < n; i++) printf "%.6f\n", rand() }' >"$WORK/delays"

PREV=$(sha256sum <"$H" | cut -c1-64)
i=0 KILLED=0 DONE=0 CHANGED=0 KEPT=0 TEMPS=0 BACKUPS=0 LEFT=0
START=$(date +%s)
CUR=640
while read -r frac; do
	i=$((i + 1))
	calibrate=
	if [ $((i % 10)) -eq 0 ]; then
		# Not killed: it sets the value the hive does not hold, so it
		# writes, and shows how long that takes.
		calibrate=1
		[ "$CUR" = 640 ] && i_want=512 || i_want=640
	elif [ $((i % 2)) -eq 1 ]; then i_want=640; else i_want=512; fi
	if [ "$i_want" = 640 ]; then want=640 ref=$REF640; else want=512 ref=$REF512; fi
	t0=$(now_ms)
	setsid "$DESKHEAP" set -q --non-interactive "$want" "$H" >/dev/null 2>&1 &
	pid=$!
	if [ -n "$calibrate" ]; then
		what="not killed"
	else
		delay=$(awk -v f="$frac" -v t="$T" 'BEGIN { printf "%.6f", f * t / 1000 }')
		sleep "$delay"
		kill -KILL "-$pid" 2>/dev/null
		what="kill after ${delay}s"
	fi
	wait "$pid"
	rc=$?
	if [ -n "$calibrate" ] && [ "$rc" -eq 0 ]; then
		# The new spread: halfway to this run's duration, plus 10%.
		T=$(((T + $(now_ms) - t0) * 55 / 100 + 1))
		what="$what, took $(($(now_ms) - t0)) ms: kills now spread over 0..$T ms"
	fi
	[ "$rc" -eq 0 ] && DONE=$((DONE + 1))
	[ "$rc" -eq 137 ] && KILLED=$((KILLED + 1))

	p=
	# Killed after its journal was made durable: the change is decided,
	# and the next run that locks the hive completes it (recover, which
	# then finds nothing to replay, is such a run).
	if [ -e "$d/.SYSTEM.deskheap-journal" ]; then
		"$DESKHEAP" recover -q --no-backup "$H" >/dev/null 2>&1 ||
			p="the next run did not complete the journal"
		[ ! -e "$d/.SYSTEM.deskheap-journal" ] || p="$p${p:+; }the journal is still there"
		[ "$(export_id "$H")" = "$ref" ] || p="$p${p:+; }the completed journal did not give $want"
	fi
	# The hive: the one before the run, or the one asked for.
	sum=$(sha256sum <"$H" | cut -c1-64)
	if [ "$sum" = "$PREV" ]; then
		KEPT=$((KEPT + 1))
	else
		id=$(export_id "$H")
		if [ -z "$id" ]; then
			p="hivex cannot open the hive"
			cp "$H" "$WORK/bad-hive-$i"
		elif [ "$id" != "$ref" ]; then
			p="the hive is neither the one before the run nor one holding $want"
		else
			CHANGED=$((CHANGED + 1))
			CUR=$want
		fi
	fi
	# A run that finished says so only when the hive holds its value.
	if [ "$rc" -eq 0 ] && [ "$(export_id "$H")" != "$ref" ]; then
		p="$p${p:+; }exit 0, but the hive does not hold $want"
	fi
	# Backups: each is the hive before the run; then removed, so that the
	# loop does not keep 300 copies of 12 MB.
	for b in "$d"/SYSTEM.deskheap-*.bak*; do
		[ -e "$b" ] || continue
		BACKUPS=$((BACKUPS + 1))
		[ "$(sha256sum <"$b" | cut -c1-64)" = "$PREV" ] ||
			p="$p${p:+; }backup $(basename "$b") ($(stat -c %s "$b") bytes) is not the hive before the run"
		rm -f "$b"
	done
	# Temporary files: at most the new hive's and the journal being
	# written (a committing run removes older ones), named
	# .SYSTEM.deskheap-tmp-XXXXXX.
	t=$(ls -A "$d" | grep '^\.SYSTEM\.deskheap-tmp' || true)
	if [ -n "$t" ]; then
		TEMPS=$((TEMPS + 1))
		n=$(printf '%s\n' "$t" | wc -l)
		[ "$n" -le 2 ] || p="$p${p:+; }$n temporary files: $(printf '%s ' $t)"
		bad=$(printf '%s\n' "$t" | grep -v '^\.SYSTEM\.deskheap-tmp-[A-Za-z0-9]\{6\}$' || true)
		[ -z "$bad" ] || p="$p${p:+; }misnamed: $bad"
	fi
	others=$(ls -A "$d" | grep -v '^SYSTEM$' | grep -v '^\.SYSTEM\.deskheap-tmp-' || true)
	[ -z "$others" ] || p="$p${p:+; }stray files: $(printf '%s ' $others)"
	if [ -z "$p" ]; then
		ok "run $i: set $want, $what (exit $rc): the hive is exactly the old or the new one"
	else
		not_ok "run $i: set $want, $what (exit $rc)" "$p"
	fi
	PREV=$sum
done <"$WORK/delays"
SECS=$(($(date +%s) - START))
echo "# $RUNS runs in $SECS s: $KILLED killed, $DONE completed; the hive changed $CHANGED times, kept $KEPT times; $BACKUPS backups checked; a temporary file was left after $TEMPS runs"

check "some runs were killed before they changed the hive" test "$KEPT" -gt 0
check "some runs changed the hive" test "$CHANGED" -gt 0

# A final normal run to the other value: it succeeds, leaves no temporary
# file, and the hive holds it.
if [ "$(export_id "$H")" = "$REF640" ]; then want=512 ref=$REF512; else want=640 ref=$REF640; fi
run set -q --no-backup --non-interactive "$want" "$H"
expect_rc 0 "a normal run after the loop"
check "it holds $want" test "$(export_id "$H")" = "$ref"
check "no temporary file is left after a normal run" test "$(listing "$d")" = "SYSTEM "
