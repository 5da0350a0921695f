#!/bin/sh
# Concurrency (issue #5): 8 `set` runs with different values (501..508)
# started at once on the same hive, and on the same mounted volume (the
# targets a mix of its root, its config directory and the hive file), in
# several rounds. Every run ends with status 0; their JSON reports form one
# chain of changes (the first replaces the original value, each other one
# the value another run wrote, no value replaced twice), so no report
# claims a value the file never held; the hive ends valid, holding the
# chain's last value, with nothing else changed; each run's backup is the
# hive it replaced (its "before" value, nothing else changed) and no
# temporary file is left.
. "${top_srcdir:-.}/tests/lib.sh"

ROUNDS=${CONCURRENCY_ROUNDS:-5}
RUNS=8
CFG=Windows/System32/config

if ! command -v flock >/dev/null 2>&1; then
	skip "concurrency: flock(1) missing (util-linux), needed to start the runs at once"
	exit 0
fi

export_hive "$FIX/win7.hive" >"$WORK/original.reg"

# start_all OUTDIR TARGET...: one `set --json` per target, value 501, 502...
# in that order, all released at once (they wait on a shared lock of a
# file this shell holds exclusively); waits for all. OUTDIR/N.out, .err,
# .rc: run N's report, messages and exit status.
start_all() {
	out=$1
	shift
	mkdir -p "$out"
	exec 9>"$WORK/barrier"
	flock -x 9
	k=0
	for t in "$@"; do
		k=$((k + 1))
		(
			flock -s "$WORK/barrier" "$DESKHEAP" set --json \
				--non-interactive $((500 + k)) "$t" \
				>"$out/$k.out" 2>"$out/$k.err"
			echo $? >"$out/$k.rc"
		) 9>&- &
	done
	# Every run is waiting on the barrier by then (or soon after: the
	# lock makes it wait all the same).
	sleep 0.3
	flock -u 9
	exec 9>&-
	wait
}

# chain OUTDIR ORIGINAL: checks the reports; prints "ok" lines for the
# shell, or problems; then "FINAL value" and "BACKUP path before" lines.
chain() {
	python3 - "$1" "$2" "$RUNS" <<'EOF'
import json, os, sys
out, original, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
problems = []
reports = {}
for k in range(1, n + 1):
    rc = open(os.path.join(out, "%d.rc" % k)).read().strip()
    text = open(os.path.join(out, "%d.out" % k)).read()
    err = open(os.path.join(out, "%d.err" % k)).read().strip()
    if rc != "0":
        problems.append("run %d (value %d) exited %s: %s" % (k, 500 + k, rc, err or text))
        continue
    lines = text.splitlines()
    if len(lines) != 1:
        problems.append("run %d: %d report lines" % (k, len(lines)))
        continue
    r = json.loads(lines[0])
    if r["status"] != "changed" or r["error"] is not None:
        problems.append("run %d: status %s, error %s" % (k, r["status"], r["error"]))
        continue
    befores = {c["before"] for c in r["control_sets"]}
    afters = {c["after"] for c in r["control_sets"]}
    if len(befores) != 1 or len(afters) != 1 or len(r["control_sets"]) != 2:
        problems.append("run %d: control sets disagree: %s" % (k, r["control_sets"]))
        continue
    before, after = befores.pop(), afters.pop()
    if after != "SharedSection=1024,12288,%d" % (500 + k):
        problems.append("run %d asked for %d but reports %s" % (k, 500 + k, after))
    reports[k] = (before, after, r["backup"])
if problems:
    print("\n".join("PROBLEM " + p for p in problems))
    sys.exit(0)
print("ok every run exited 0 with one report, status changed")
# The chain: the original is replaced once; every other before is some
# run's after, and no after is replaced twice; one after is left: the end.
befores = [b for b, a, _ in reports.values()]
afters = {a: k for k, (b, a, _) in reports.items()}
if befores.count(original) != 1:
    print("PROBLEM %d runs report replacing the original %s" % (befores.count(original), original))
for k, (b, a, _) in sorted(reports.items()):
    if b != original and b not in afters:
        print("PROBLEM run %d reports replacing %s, which no run wrote" % (k, b))
for b in set(befores):
    if befores.count(b) > 1:
        print("PROBLEM %s was replaced by %d runs" % (b, befores.count(b)))
ends = [a for a in afters if a not in befores]
if len(ends) != 1:
    print("PROBLEM the chain has %d ends: %s" % (len(ends), ends))
else:
    # Walk it: from the original through all runs.
    order, cur, seen = [], original, set()
    by_before = {b: k for k, (b, a, _) in reports.items()}
    while cur in by_before and by_before[cur] not in seen:
        k = by_before[cur]
        seen.add(k)
        order.append(k)
        cur = reports[k][1]
    if len(order) != n:
        print("PROBLEM the chain from the original covers %d runs, not %d" % (len(order), n))
    else:
        print("ok the reports form one chain: " + " -> ".join(str(500 + k) for k in order))
        print("FINAL " + ends[0])
backups = [bk for _, _, bk in reports.values()]
if None in backups or len(set(backups)) != n:
    print("PROBLEM the runs do not name %d distinct backups: %s" % (n, backups))
else:
    print("ok %d distinct backups named" % n)
for k, (b, a, bk) in sorted(reports.items()):
    print("BACKUP %s %s" % (bk, b))
EOF
}

# one_round NAME HIVE TARGET...: the runs and the checks.
one_round() {
	name=$1 h=$2
	shift 2
	dir=$(dirname "$h")
	out="$WORK/out-$name"
	start_all "$out" "$@"
	chain "$out" "SharedSection=1024,12288,512" >"$WORK/chain"
	grep -q '^PROBLEM' "$WORK/chain" &&
		not_ok "$name: the reports" "$(grep '^PROBLEM' "$WORK/chain" | cut -c9-)"
	grep '^ok ' "$WORK/chain" | cut -c4- >"$WORK/chain.ok"
	while read -r line; do ok "$name: $line"; done <"$WORK/chain.ok"

	final=$(grep '^FINAL ' "$WORK/chain" | cut -c7-)
	if [ -n "$final" ]; then
		v="$(windows_value "$h") $(windows_value "$h" ControlSet002)"
		case $v in
		*"$final "*"$final "*) ok "$name: the hive holds the chain's last value ($final) in both control sets" ;;
		*) not_ok "$name: the hive holds the chain's last value ($final) in both control sets" "it holds: $v" ;;
		esac
	else
		not_ok "$name: the hive holds the chain's last value" "no chain end"
	fi
	export_hive "$h" >"$WORK/after.reg"
	only_windows_changed "$WORK/original.reg" "$WORK/after.reg" 2 "$name: the final hive opens, only its two Windows values changed"

	# Each backup: the hive the run replaced.
	nb=0
	grep '^BACKUP ' "$WORK/chain" >"$WORK/backups"
	while read -r _ bk before; do
		nb=$((nb + 1))
		if [ ! -f "$bk" ]; then
			not_ok "$name: backup $nb exists" "missing: $bk"
			continue
		fi
		if [ "$before" = "SharedSection=1024,12288,512" ]; then
			check "$name: the first run's backup is byte-identical to the original" cmp -s "$bk" "$FIX/win7.hive"
			continue
		fi
		export_hive "$bk" >"$WORK/bk.reg"
		v=$(windows_value "$bk")
		case $v in
		*"$before "*) ok "$name: backup $(basename "$bk") holds $before, the value its run replaced" ;;
		*) not_ok "$name: backup $(basename "$bk") holds $before, the value its run replaced" "it holds: $v" ;;
		esac
		only_windows_changed "$WORK/original.reg" "$WORK/bk.reg" 2 "$name: backup $(basename "$bk"): nothing else differs from the original"
	done <"$WORK/backups"
	listed=$(ls -A "$dir" | grep -c '\.deskheap-.*\.bak$')
	check "$name: the backups named are all the backups there are ($listed)" test "$listed" -eq "$nb"
	check "$name: no temporary file is left" sh -c "! ls -A '$dir' | grep -q deskheap-tmp"
}

r=0
while [ "$r" -lt "$ROUNDS" ]; do
	r=$((r + 1))
	# The same hive file, eight times.
	d=$(case_dir "hive-$r")
	h=$(fixture win7.hive "$d")
	set --
	k=0
	while [ "$k" -lt "$RUNS" ]; do k=$((k + 1)); set -- "$@" "$h"; done
	one_round "round $r, one hive" "$h" "$@"

	# The same volume: its root, its config directory, the hive.
	d=$(case_dir "volume-$r")
	mkdir -p "$d/vol/$CFG"
	h="$d/vol/$CFG/SYSTEM"
	cp "$FIX/win7.hive" "$h"
	one_round "round $r, one volume" "$h" "$d/vol" "$d/vol/$CFG" "$h" "$d/vol" \
		"$d/vol/$CFG" "$h" "$d/vol" "$d/vol/$CFG"
done
