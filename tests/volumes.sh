#!/bin/sh
# End-to-end tests of deskheap on what it is really given: Windows volume
# roots and config directories (any letter case, NT 4.0 layout, missing and
# duplicate hives), symbolic-link traps, hiberfil.sys, batches of images
# (-j, --json, --backup-dir) and restore.
. "${top_srcdir:-.}/tests/lib.sh"

CFG=Windows/System32/config
BAK_RE='\.deskheap-[0-9]{4,}-[0-9]{8}T[0-9]{6}Z\.bak$'

# layout ROOT DIRS FIXTURE [NAME]: ROOT/DIRS/NAME (default SYSTEM), a copy of
# a generated fixture; prints its path.
layout() {
	mkdir -p "$1/$2"
	cp "$FIX/$3" "$1/$2/${4:-SYSTEM}"
	echo "$1/$2/${4:-SYSTEM}"
}

# backups DIR: the names of the deskheap backups in DIR, one per line.
backups() {
	ls -A "$1" | grep -E "$BAK_RE"
}

# nbackups DIR: how many there are.
nbackups() {
	ls -A "$1" | grep -cE "$BAK_RE"
}

# jget FIELD: FIELD of the first JSON line of the last run's stdout
# ("null" for null); fails when that line is not JSON.
jget() {
	python3 -c '
import json, sys
v = json.loads(sys.stdin.readline())[sys.argv[1]]
print("null" if v is None else v)
' "$1" <"$WORK/out"
}

# subdir PATH: the backup subdirectory name of a target.
subdir() {
	backup_subdir "$1"
}

# value_is HIVE N: ControlSet001's third number is N.
value_is() {
	windows_value "$1" | grep -q "SharedSection=[0-9]*,[0-9]*,$2 "
}

## targets: a volume root, odd letter cases, NT 4.0, a config directory

d=$(case_dir root)
h=$(layout "$d" "$CFG" nt4.hive)
run show --json "$d"
expect_rc 0 "show on a volume root"
check "the report's hive is the resolved file" test "$(jget hive)" = "$h"
check "the report's target is the root as given" test "$(jget target)" = "$d"
run set --non-interactive 512 "$d"
expect_rc 0 "set through a volume root"
contains "$OUT" "$h: changed" "the text report names the resolved hive"
contains "$(windows_value "$h")" "SharedSection=1024,3072,512 " "set through the root changed the hive"
b=$(backups "$d/$CFG")
check "the backup is beside the hive and byte-identical to the original" cmp -s "$d/$CFG/$b" "$FIX/nt4.hive"
check "nothing is created at the root" test "$(listing "$d")" = "Windows "
check "nothing but the backup is created beside the hive" test "$(listing "$d/$CFG")" = "SYSTEM $b "

for p in windows/SYSTEM32/Config/system WINDOWS/SYSTEM32/CONFIG/SYSTEM \
	Windows/system32/config/System WinNT/System32/Config/SYSTEM; do
	d=$(case_dir "case-$(subdir "$p")")
	h=$(layout "$d" "${p%/*}" win10.hive "${p##*/}")
	run show --json "$d"
	expect_rc 0 "show on a root holding $p"
	check "$p: the report's hive is the file in its own case" test "$(jget hive)" = "$h"
done
d=$(case_dir odd-case-set)
h=$(layout "$d" windows/SYSTEM32/Config win10.hive system)
run set --non-interactive 512 "$d"
expect_rc 0 "set through a root with odd letter cases"
contains "$OUT" "$h: changed" "the report names windows/SYSTEM32/Config/system"
contains "$(windows_value "$h")" "SharedSection=1024,20480,512 " "the odd-case hive was changed"
check "its backup is named after it (system.deskheap-...)" test "$(backups "$d/windows/SYSTEM32/Config" | grep -c '^system\.deskheap-')" -eq 1
check "no SYSTEM file was created beside it" test ! -e "$d/windows/SYSTEM32/Config/SYSTEM"

d=$(case_dir nt4-layout)
h=$(layout "$d" WINNT/system32/config nt4.hive)
run show --json "$d"
expect_rc 0 "show on an NT 4.0 volume root"
check "the NT 4.0 hive is WINNT/system32/config/SYSTEM" test "$(jget hive)" = "$h"
run set --non-interactive 512 "$d"
expect_rc 0 "set through an NT 4.0 root"
contains "$(windows_value "$h")" "SharedSection=1024,3072,512 " "the NT 4.0 hive was changed"
check "NT 4.0: the backup is byte-identical to the original" cmp -s "$d/WINNT/system32/config/$(backups "$d/WINNT/system32/config")" "$FIX/nt4.hive"

d=$(case_dir config-dir)
h=$(layout "$d" "$CFG" win7.hive)
for t in "$d/$CFG" "$d/$CFG/"; do
	run show --json "$t"
	expect_rc 0 "show on a config directory ($t)"
	check "the config directory's hive is its SYSTEM ($t)" test "$(jget hive)" = "$h"
done
run set --non-interactive 640 "$d/$CFG"
expect_rc 0 "set through a config directory"
contains "$(windows_value "$h" ControlSet002)" "SharedSection=1024,12288,640 " "set through the config directory changed the hive"
check "the config directory's backup is the original" cmp -s "$d/$CFG/$(backups "$d/$CFG")" "$FIX/win7.hive"

d=$(case_dir plain-dir)
h=$(layout "$d" hives nt4.hive)
run set --json --non-interactive 512 "$d/hives"
expect_rc 0 "set on a plain directory holding SYSTEM"
check "its hive is the SYSTEM inside" test "$(jget hive)" = "$h"
check "and it was changed" value_is "$h" 512

## no hive, two hives: exit 3, saying what was looked for or naming both

d=$(case_dir nohive)
for cmd in "show" "set --non-interactive 512"; do
	run $cmd "$d"
	expect_rc 3 "$cmd on a directory with no hive"
	contains "$ERR" "no SYSTEM hive in $d" "$cmd: the error names the directory"
	contains "$ERR" "Windows/System32/config/SYSTEM" "$cmd: the error says the Windows layout was looked for"
	contains "$ERR" "WINNT/system32/config/SYSTEM" "$cmd: the error says the NT 4.0 layout was looked for"
done
check "nothing is created in an empty directory" test -z "$(listing "$d")"

d=$(case_dir emptyconfig)
mkdir -p "$d/$CFG" "$d/WINNT/system32/config/SYSTEM"
run set --non-interactive 512 "$d"
expect_rc 3 "a root whose config directories hold no hive file (one SYSTEM is a directory)"
contains "$ERR" "no SYSTEM hive in $d" "the error says there is no hive"
check "nothing is created in the empty config directory" test -z "$(listing "$d/$CFG")"

d=$(case_dir two-cases)
h1=$(layout "$d" "$CFG" nt4.hive)
h2=$(layout "$d" WINDOWS/System32/config win10.hive)
run set --non-interactive 512 "$d"
expect_rc 3 "a root holding both Windows and WINDOWS"
contains "$ERR" "$d/Windows" "the error names Windows"
contains "$ERR" "$d/WINDOWS" "the error names WINDOWS"
check "Windows/... is unchanged" cmp -s "$h1" "$FIX/nt4.hive"
check "WINDOWS/... is unchanged" cmp -s "$h2" "$FIX/win10.hive"
check "no backup beside either" test "$(listing "${h1%/*}")$(listing "${h2%/*}")" = "SYSTEM SYSTEM "

d=$(case_dir two-layouts)
h1=$(layout "$d" "$CFG" win10.hive)
h2=$(layout "$d" WINNT/system32/config nt4.hive)
for cmd in "show" "set --non-interactive 512"; do
	run $cmd "$d"
	expect_rc 3 "$cmd on a root holding both Windows and WINNT"
	contains "$ERR" "$h1" "$cmd: the error names the Windows hive"
	contains "$ERR" "$h2" "$cmd: the error names the WINNT hive"
done
check "the Windows hive is unchanged" cmp -s "$h1" "$FIX/win10.hive"
check "the WINNT hive is unchanged" cmp -s "$h2" "$FIX/nt4.hive"

d=$(case_dir two-files)
h1=$(layout "$d" "$CFG" nt4.hive)
h2=$(layout "$d" "$CFG" win7.hive system)
for t in "$d" "$d/$CFG"; do
	run set --non-interactive 512 "$t"
	expect_rc 3 "SYSTEM and system in one config directory ($t)"
	contains "$ERR" "$h1" "the error names SYSTEM ($t)"
	contains "$ERR" "$h2" "the error names system ($t)"
done
check "SYSTEM and system are unchanged, nothing added" test "$(listing "$d/$CFG")" = "SYSTEM system "
check "SYSTEM is byte-identical" cmp -s "$h1" "$FIX/nt4.hive"

## symbolic-link traps: refused, and nothing outside the root changes

O="$WORK/outside"
mkdir -p "$O/config" "$O/Windows/System32/config"
cp "$FIX/nt4.hive" "$O/config/SYSTEM"
cp "$FIX/win10.hive" "$O/SYSTEM"
cp "$FIX/win7.hive" "$O/Windows/System32/config/SYSTEM"
cp "$FIX/new-split/SYSTEM.LOG1" "$O/SYSTEM.LOG1"
printf 'hibr' >"$O/hiberfil.sys"
truncate -s 4096 "$O/hiberfil.sys"

# outside: every path under $O with its mode, size and checksum.
outside() {
	(cd "$O" && find . -printf '%p %y %m %s\n' | LC_ALL=C sort &&
		find . -type f -exec cksum {} + | LC_ALL=C sort)
}
OUTSIDE=$(outside)

# trapped DESC TARGET LINK COMMAND...: each command on TARGET exits 3 with
# an error naming LINK as a symbolic link; $O is as it was.
trapped() {
	desc=$1 target=$2 link=$3
	shift 3
	for cmd in "$@"; do
		run $cmd "$target"
		expect_rc 3 "$desc: $cmd is refused"
		contains "$ERR" "$link" "$desc: $cmd: the error names the link"
		contains "$ERR" "symbolic link" "$desc: $cmd: the error says it is a symbolic link"
	done
	check "$desc: the files outside the root are byte-identical, nothing added" test "$(outside)" = "$OUTSIDE"
}

d=$(case_dir trap-config)
mkdir -p "$d/Windows/System32"
ln -s "$O/config" "$d/$CFG"
trapped "config directory linked outside" "$d" "$d/$CFG" \
	"set --non-interactive 512" "recover" "restore" "show"

d=$(case_dir trap-hive)
mkdir -p "$d/$CFG"
ln -s "$O/SYSTEM" "$d/$CFG/SYSTEM"
trapped "SYSTEM linked outside, through the root" "$d" "$d/$CFG/SYSTEM" \
	"set --non-interactive 512" "recover" "restore"
trapped "SYSTEM linked outside, through the config directory" "$d/$CFG" "$d/$CFG/SYSTEM" \
	"set --non-interactive 512" "recover"
trapped "SYSTEM linked outside, given directly" "$d/$CFG/SYSTEM" "$d/$CFG/SYSTEM" \
	"set --non-interactive 512" "recover" "restore"
check "the trap's config directory holds only the link" test "$(listing "$d/$CFG")" = "SYSTEM "
# The same refusal has the same error code whichever command meets it
# (readers open the hive, writers lock it: one function does both).
for cmd in "show" "set --non-interactive 512" "recover" "restore"; do
	run $cmd --json "$d/$CFG/SYSTEM"
	contains "$OUT" '"error":{"code":"argument"' "a linked hive given directly: $cmd says argument"
done

d=$(case_dir trap-windows)
ln -s "$O/Windows" "$d/Windows"
trapped "Windows linked outside" "$d" "$d/Windows" "set --non-interactive 512" "show"

d=$(case_dir trap-system32)
mkdir "$d/Windows"
ln -s "$O/Windows/System32" "$d/Windows/System32"
trapped "System32 linked outside" "$d" "$d/Windows/System32" "set --non-interactive 512"

d=$(case_dir trap-log)
mkdir -p "$d/$CFG"
cp "$FIX/new-split/SYSTEM" "$FIX/new-split/SYSTEM.LOG2" "$d/$CFG/"
ln -s "$O/SYSTEM.LOG1" "$d/$CFG/SYSTEM.LOG1"
trapped "a dirty hive's SYSTEM.LOG1 linked outside" "$d" "$d/$CFG/SYSTEM.LOG1" \
	"set --non-interactive 512" "recover"
trapped "a dirty hive's SYSTEM.LOG1 linked outside, hive given" "$d/$CFG/SYSTEM" "$d/$CFG/SYSTEM.LOG1" \
	"set --non-interactive 512" "recover"
check "the dirty hive beside the linked log is unchanged" cmp -s "$d/$CFG/SYSTEM" "$FIX/new-split/SYSTEM"
check "nothing is added beside the linked log" test "$(listing "$d/$CFG")" = "SYSTEM SYSTEM.LOG1 SYSTEM.LOG2 "

d=$(case_dir trap-hiberfil)
h=$(layout "$d" "$CFG" win10.hive)
ln -s "$O/hiberfil.sys" "$d/hiberfil.sys"
run set --non-interactive 512 "$d"
expect_rc 3 "hiberfil.sys linked outside: set is refused"
contains "$ERR" "$d/hiberfil.sys" "the error names the hiberfil.sys link"
check "the hive under a linked hiberfil.sys is unchanged" cmp -s "$h" "$FIX/win10.hive"
check "hiberfil.sys linked outside: the outside files are byte-identical" test "$(outside)" = "$OUTSIDE"

## hiberfil.sys: Windows hibernated or fast-started

# hibvol NAME SIG [FILE]: a volume root holding win10.hive and a 4 KiB
# hiberfil.sys (or FILE) that begins with SIG (zeros after it); sets d, h.
hibvol() {
	d=$(case_dir "hib-$1")
	h=$(layout "$d" "$CFG" win10.hive)
	printf '%s' "$2" >"$d/${3:-hiberfil.sys}"
	truncate -s 4096 "$d/${3:-hiberfil.sys}"
}

for sig in hibr HIBR; do
	hibvol "$sig" "$sig"
	run set --non-interactive 512 "$d"
	expect_rc 3 "set on a volume whose hiberfil.sys begins with $sig is refused"
	contains "$ERR" "Fast Startup" "$sig: the error mentions Fast Startup"
	contains "$ERR" "--allow-hibernated" "$sig: the error gives --allow-hibernated"
	contains "$ERR" "hiberfil.sys" "$sig: the error names hiberfil.sys"
	check "$sig: the hive is unchanged" cmp -s "$h" "$FIX/win10.hive"
	check "$sig: no backup, no temporary file" test "$(listing "$d/$CFG")" = "SYSTEM "
	run show "$d"
	expect_rc 0 "$sig: show on a hibernated volume"
	contains "$OUT" "warning" "$sig: show warns"
	contains "$OUT" "hibernated" "$sig: show says Windows is hibernated"
	run set -n --non-interactive 512 "$d"
	expect_rc 0 "$sig: set --dry-run only warns"
	contains "$OUT" "would change" "$sig: the dry run says what would change"
	check "$sig: the dry run writes nothing" cmp -s "$h" "$FIX/win10.hive"
	run set --allow-hibernated --non-interactive 512 "$d"
	expect_rc 0 "$sig: set --allow-hibernated"
	check "$sig: --allow-hibernated changed the hive" value_is "$h" 512
	contains "$OUT" "hibernated" "$sig: --allow-hibernated still warns"
	run restore "$d"
	expect_rc 3 "$sig: restore on a hibernated volume is refused"
	check "$sig: the refused restore wrote nothing" value_is "$h" 512
	run restore --allow-hibernated "$d"
	expect_rc 0 "$sig: restore --allow-hibernated"
	check "$sig: restore --allow-hibernated put the original back" cmp -s "$h" "$FIX/win10.hive"
done

hibvol upper hibr HIBERFIL.SYS
run set --non-interactive 512 "$d"
expect_rc 3 "HIBERFIL.SYS (upper case) beginning with hibr is refused"
check "HIBERFIL.SYS: the hive is unchanged" cmp -s "$h" "$FIX/win10.hive"

for sig in wake WAKE zeros; do
	hibvol "$sig" "$([ "$sig" = zeros ] || echo "$sig")"
	run set --non-interactive 512 "$d"
	expect_rc 0 "set on a volume whose hiberfil.sys begins with $sig"
	check "$sig: the hive was changed" value_is "$h" 512
	lacks "$OUT" "hibernated" "$sig: no hibernation warning"
done

hibvol cfgdir hibr
for t in "$d/$CFG" "$d/$CFG/" "$d/$CFG/SYSTEM"; do
	run set --non-interactive 512 "$t"
	expect_rc 3 "below a hibernated root, $t is refused"
	contains "$ERR" "Fast Startup" "$t: the error mentions Fast Startup"
done
check "below a hibernated root: the hive is unchanged" cmp -s "$h" "$FIX/win10.hive"
d=$(case_dir hib-oddcase)
h=$(layout "$d" windows/system32/CONFIG win10.hive)
printf 'HIBR' >"$d/hiberfil.sys"
run set --non-interactive 512 "$d/windows/system32/CONFIG"
expect_rc 3 "a config directory in odd case below a hibernated root is refused"
# The root is found from the path: the same directory reached by a relative
# path from inside the volume (cd /mnt/win/Windows/System32/config) must be
# refused just the same.
for t in SYSTEM . ./SYSTEM; do
	cp "$FIX/win10.hive" "$h"
	(cd "$d/windows/system32/CONFIG" && "$DESKHEAP" set --non-interactive 512 "$t") >"$WORK/out" 2>"$WORK/err"
	RC=$? OUT=$(cat "$WORK/out") ERR=$(cat "$WORK/err")
	expect_rc 3 "inside a hibernated volume, the relative target $t is refused"
	check "relative target $t in a hibernated volume: the hive is unchanged" cmp -s "$h" "$FIX/win10.hive"
done

## a batch of 40 images, two broken, -j 2 --json

B="$WORK/batch"
mkdir "$B"
: >"$WORK/batch.targets"
: >"$WORK/batch.hives"
i=1
set --
while [ $i -le 40 ]; do
	r=$(printf '%s/img%02d' "$B" $i)
	case $((i % 4)) in
	0) l=$CFG ;;
	1) l=WINDOWS/SYSTEM32/CONFIG ;;
	2) l=WINNT/system32/config ;;
	3) l=windows/System32/Config ;;
	esac
	case $((i % 3)) in
	0) f=nt4.hive ;;
	1) f=win7.hive ;;
	2) f=win10.hive ;;
	esac
	mkdir -p "$r/$l"
	if [ $i -eq 7 ]; then
		cp "$FIX/garbage.hive" "$r/$l/SYSTEM"
	elif [ $i -ne 23 ]; then
		cp "$FIX/$f" "$r/$l/SYSTEM"
		echo "$r/$l/SYSTEM $f" >>"$WORK/batch.hives"
	fi
	echo "$r" >>"$WORK/batch.targets"
	set -- "$@" "$r"
	i=$((i + 1))
done
BAD7="$B/img07/windows/System32/Config"
BAD23="$B/img23/windows/System32/Config"

run set -j 2 --json --non-interactive 640 "$@"
expect_rc 3 "a batch of 40 images with two broken ones"
cp "$WORK/out" "$WORK/batch1.jsonl"
check "exactly 40 lines on stdout" test "$(wc -l <"$WORK/out")" -eq 40
check "every line is one valid JSON object" python3 -c '
import json, sys
for line in open(sys.argv[1]):
    assert isinstance(json.loads(line), dict)
' "$WORK/out"
check "the lines are in the order the targets were given" python3 -c '
import json, sys
got = [json.loads(l)["target"] for l in open(sys.argv[1])]
want = open(sys.argv[2]).read().split()
assert got == want, (got, want)
' "$WORK/out" "$WORK/batch.targets"
check "exactly img07 and img23 failed, the 38 others changed" python3 -c '
import json, sys
rs = [json.loads(l) for l in open(sys.argv[1])]
failed = [r["target"].rsplit("/", 1)[1] for r in rs if r["status"] == "failed"]
assert failed == ["img07", "img23"], failed
assert sum(r["status"] == "changed" for r in rs) == 38
' "$WORK/out"
check "the failures say why (not a hive; no SYSTEM hive)" python3 -c '
import json, sys
rs = {json.loads(l)["target"].rsplit("/", 1)[1]: json.loads(l) for l in open(sys.argv[1])}
assert rs["img07"]["error"]["code"] == "not-a-hive", rs["img07"]["error"]
assert "no SYSTEM hive" in rs["img23"]["error"]["message"], rs["img23"]["error"]
assert all(r["error"] is None for k, r in rs.items() if k not in ("img07", "img23"))
' "$WORK/out"
check "each changed report names its resolved hive and its backup" python3 -c '
import json, sys
hives = [l.split()[0] for l in open(sys.argv[2])]
rs = [json.loads(l) for l in open(sys.argv[1])]
got = [r["hive"] for r in rs if r["status"] == "changed"]
assert got == hives, (got, hives)
for r in rs:
    if r["status"] == "changed":
        assert r["backup"].startswith(r["hive"] + ".deskheap-"), r["backup"]
' "$WORK/out" "$WORK/batch.hives"
n=0
nb=0
while read -r hv f; do
	value_is "$hv" 640 && n=$((n + 1))
	b=$(backups "${hv%/*}")
	[ "$(nbackups "${hv%/*}")" -eq 1 ] && cmp -s "${hv%/*}/$b" "$FIX/$f" && nb=$((nb + 1))
done <"$WORK/batch.hives"
check "each of the 38 hives now holds 640 (found $n)" test "$n" -eq 38
check "each of the 38 has one backup, byte-identical to its original (found $nb)" test "$nb" -eq 38
run check --non-interactive 640 $(cut -d' ' -f1 "$WORK/batch.hives")
expect_rc 0 "check agrees on every control set of the 38"
check "the garbage image is unchanged" cmp -s "$BAD7/SYSTEM" "$FIX/garbage.hive"
check "the garbage image got nothing beside it" test "$(listing "$BAD7")" = "SYSTEM "
check "the image without a hive got nothing" test -z "$(listing "$BAD23")"

run set -j 2 --json --non-interactive 640 "$@"
expect_rc 3 "the same batch again"
cp "$WORK/out" "$WORK/batch2.jsonl"
check "the second batch: 38 unchanged, img07 and img23 failed, in order" python3 -c '
import json, sys
rs = [json.loads(l) for l in open(sys.argv[1])]
assert [r["target"] for r in rs] == open(sys.argv[2]).read().split()
st = [r["status"] for r in rs]
assert st.count("unchanged") == 38 and st[6] == st[22] == "failed", st
assert all(r["backup"] is None for r in rs)
' "$WORK/out" "$WORK/batch.targets"
nb=0
while read -r hv f; do
	[ "$(nbackups "${hv%/*}")" -eq 1 ] && nb=$((nb + 1))
done <"$WORK/batch.hives"
check "the second batch made no backup (found $nb single backups of 38)" test "$nb" -eq 38

run set -j 1 --json --non-interactive 640 "$@"
expect_rc 3 "the same batch with -j 1"
check "-j 1 gives the same statuses and targets as -j 2" python3 -c '
import json, sys
a, b = ([(r["target"], r["status"]) for r in map(json.loads, open(p))] for p in sys.argv[1:3])
assert a == b, (a, b)
' "$WORK/out" "$WORK/batch2.jsonl"
check "-j 1 output is byte-identical to -j 2 when nothing is written" cmp -s "$WORK/out" "$WORK/batch2.jsonl"
for j in 1 2 8; do
	run set -n -j $j --json --non-interactive 704 "$@"
	cp "$WORK/out" "$WORK/dry-$j.jsonl"
done
check "dry-run batch: -j 1, -j 2 and -j 8 print the same" sh -c 'cmp -s "$1" "$2" && cmp -s "$1" "$3"' - "$WORK/dry-1.jsonl" "$WORK/dry-2.jsonl" "$WORK/dry-8.jsonl"
check "dry-run batch: 38 would-change, 2 failed" python3 -c '
import json, sys
st = [json.loads(l)["status"] for l in open(sys.argv[1])]
assert len(st) == 40 and st.count("would-change") == 38 and st.count("failed") == 2, st
' "$WORK/dry-2.jsonl"

## --backup-dir with several targets: one subdirectory each

BD="$WORK/bd"
R="$WORK/bdroots"
mkdir "$BD"
h1=$(layout "$R/img01" "$CFG" nt4.hive)
h2=$(layout "$R/img02" WINNT/system32/config win10.hive)
h3=$(layout "$R/a_b" "$CFG" win7.hive)
h4=$(layout "$R/a/b" "$CFG" nt4.hive)
h5=$(layout "$R/img05" "$CFG" win10.hive)
run set -j 2 --json --backup-dir "$BD" --non-interactive 640 "$R/img01" "$R/img02" "$R/a_b" "$R/a/b" "$R/img05/"
cp "$WORK/out" "$WORK/bd.jsonl"
expect_rc 0 "set --backup-dir on five targets"
s1=$(subdir "$R/img01")
check "img01's backup is in DIR/<its path, / as _>, byte-identical" cmp -s "$BD/$s1/$(backups "$BD/$s1")" "$FIX/nt4.hive"
check "img02's backup is in its own subdirectory" cmp -s "$BD/$(subdir "$R/img02")/$(backups "$BD/$(subdir "$R/img02")")" "$FIX/win10.hive"
check "a target given with a trailing slash: the same name without it" cmp -s "$BD/$(subdir "$R/img05")/$(backups "$BD/$(subdir "$R/img05")")" "$FIX/win10.hive"
s3=$(subdir "$R/a_b")
s4=$(subdir "$R/a/b")
check "a_b and a/b read alike, their fingerprints differ" test "$s3" != "$s4"
check "a_b's backup is in its own subdirectory" cmp -s "$BD/$s3/$(backups "$BD/$s3")" "$FIX/win7.hive"
check "and a/b's in its own" cmp -s "$BD/$s4/$(backups "$BD/$s4")" "$FIX/nt4.hive"
check "five targets, five subdirectories, one backup in each" sh -c '
	[ "$(ls -A "$1" | wc -l)" -eq 5 ] || exit 1
	for s in "$1"/*; do [ "$(ls -A "$s" | wc -l)" -eq 1 ] || exit 1; done' - "$BD"
check "the reports name five different backup directories under DIR" python3 -c '
import json, os, sys
dirs = [os.path.dirname(json.loads(l)["backup"]) for l in open(sys.argv[1])]
assert len(set(dirs)) == 5 and all(os.path.dirname(d) == sys.argv[2] for d in dirs), dirs
' "$WORK/out" "$BD"
check "no backup beside the hives" test "$(listing "${h1%/*}")$(listing "${h4%/*}")" = "SYSTEM SYSTEM "

run restore --json -j 2 --backup-dir "$BD" "$R/img01" "$R/img02" "$R/a_b" "$R/a/b" "$R/img05/"
expect_rc 0 "restore --backup-dir with the same targets"
check "restore --backup-dir put img01 back" cmp -s "$h1" "$FIX/nt4.hive"
check "restore --backup-dir put img02 back" cmp -s "$h2" "$FIX/win10.hive"
check "restore --backup-dir put a_b back (win7)" cmp -s "$h3" "$FIX/win7.hive"
check "restore --backup-dir put a/b back (nt4)" cmp -s "$h4" "$FIX/nt4.hive"
check "restore --backup-dir put img05 back" cmp -s "$h5" "$FIX/win10.hive"
check "restore kept its own backup in the target's subdirectory" test "$(nbackups "$BD/$s1")" -eq 2

# Two targets never share a subdirectory, even in separate runs: a_b and
# a/b set one after the other, then a_b restored, must get a_b's own hive
# back, never a/b's.
R2="$WORK/bdroots2"
BD2="$WORK/bd2"
mkdir "$BD2"
h6=$(layout "$R2/a_b" "$CFG" win7.hive)
h7=$(layout "$R2/a/b" "$CFG" nt4.hive)
run set --backup-dir "$BD2" --non-interactive 640 "$R2/a_b"
expect_rc 0 "set --backup-dir on a_b alone"
run set --backup-dir "$BD2" --non-interactive 640 "$R2/a/b"
expect_rc 0 "then set --backup-dir on a/b alone"
check "a_b and a/b, set in two runs, do not share a backup subdirectory" test "$(nbackups "$BD2/$(subdir "$R2/a_b")")" -eq 1
run restore --backup-dir "$BD2" "$R2/a_b"
check "restore of a_b never installs a/b's hive" test "$(cmp -s "$h6" "$FIX/nt4.hive"; echo $?)" -ne 0
check "restore of a_b puts a_b's original back" cmp -s "$h6" "$FIX/win7.hive"

## text mode batch: results on stdout, failures on stderr, no progress

d=$(case_dir text-batch)
t1=$d/good1
t2=$d/bad
t3=$d/good2
g1=$(layout "$t1" "$CFG" nt4.hive)
layout "$t2" "$CFG" garbage.hive >/dev/null
g3=$(layout "$t3" "$CFG" win10.hive)
run set -j 2 --non-interactive 640 "$t1" "$t2" "$t3"
expect_rc 3 "a text batch with one bad image"
contains "$OUT" "$g1: changed" "stdout has the first good result"
contains "$OUT" "$g3: changed" "stdout has the second good result"
check "stdout keeps the order given" sh -c 'grep -n ": changed" "$1" | cut -d: -f2 | tr "\n" " " | grep -qx "$2 $3 "' - "$WORK/out" "$g1" "$g3"
lacks "$OUT" "$t2" "stdout has nothing of the failure"
contains "$ERR" "$t2: failed" "stderr has the failure"
check "stderr has only the failure line (no progress line when not a terminal)" test "$(grep -vc "^$t2: failed: " "$WORK/err")" -eq 0
lacks "$ERR" "$(printf '\r')" "no carriage return on stderr"
lacks "$ERR" "done" "no progress counter on stderr"
if ! command -v script >/dev/null 2>&1 || ! script -qec true /dev/null >/dev/null 2>&1; then
	skip "the progress line needs script(1) and a pseudo-terminal"
else
	d=$(case_dir tty-batch)
	layout "$d/a" "$CFG" nt4.hive >/dev/null
	layout "$d/b" "$CFG" win10.hive >/dev/null
	script -qec "'$DESKHEAP' set -j 2 --non-interactive 640 '$d/a' '$d/b' >'$WORK/tty-out'" "$WORK/tty-typescript" >/dev/null 2>&1
	contains "$(cat "$WORK/tty-typescript")" "2/2 done" "on a terminal, stderr shows the progress line (the test above can fail)"
fi

## restore

d=$(case_dir restore)
h=$(fixture nt4.hive "$d")
run set --non-interactive 512 "$h"
expect_rc 0 "set before restore"
cp "$h" "$WORK/after-set"
b1=$(backups "$d")
run restore -n "$h"
expect_rc 0 "restore --dry-run"
contains "$OUT" "$d/$b1" "restore --dry-run names the backup"
contains "$OUT" "would change" "restore --dry-run says it would change"
check "restore --dry-run changes nothing" cmp -s "$h" "$WORK/after-set"
check "restore --dry-run makes no backup" test "$(listing "$d")" = "SYSTEM $b1 "
run restore --json "$h"
expect_rc 0 "restore"
check "restore: the hive is byte-identical to the original" cmp -s "$h" "$FIX/nt4.hive"
check "restore names what it restored from" test "$(jget restored_from)" = "$d/$b1"
b2=$(jget backup)
check "restore made a backup of what it replaced (the patched hive)" cmp -s "$b2" "$WORK/after-set"
check "restore's backup is beside the hive" test "$(nbackups "$d")" -eq 2
check "no temporary file is left" test "$(ls -A "$d" | grep -cvE "$BAK_RE|^SYSTEM\$")" -eq 0
run restore "$h"
expect_rc 0 "a second restore"
check "the second restore brings the patched hive back, byte-identical" cmp -s "$h" "$WORK/after-set"
check "the first backup is still the original" cmp -s "$d/$b1" "$FIX/nt4.hive"

d=$(case_dir restore-none)
h=$(fixture nt4.hive "$d")
run restore "$h"
expect_rc 3 "restore with no backup"
contains "$ERR" "no deskheap backup" "the error says there is no backup"
contains "$ERR" "$h" "the error names the hive"
check "restore with no backup changes nothing" cmp -s "$h" "$FIX/nt4.hive"
check "restore with no backup adds nothing" test "$(listing "$d")" = "SYSTEM "

d=$(case_dir restore-bdir)
h=$(fixture win10.hive "$d")
mkdir "$d/bk"
run set --backup-dir "$d/bk" --non-interactive 512 "$h"
expect_rc 0 "set --backup-dir"
cp "$h" "$WORK/after-set"
run restore "$h"
expect_rc 3 "restore without the --backup-dir set used finds no backup"
check "that restore changed nothing" cmp -s "$h" "$WORK/after-set"
run restore --backup-dir "$d/bk" "$h"
expect_rc 0 "restore --backup-dir"
check "restore --backup-dir: the hive is byte-identical to the original" cmp -s "$h" "$FIX/win10.hive"
check "restore --backup-dir: its own backup is in the same subdirectory" test "$(nbackups "$d/bk/$(subdir "$h")")" -eq 2

d=$(case_dir restore-root)
h=$(layout "$d" windows/system32/config win7.hive)
run set --non-interactive 640 "$d"
expect_rc 0 "set through a root, before restore"
run restore "$d"
expect_rc 0 "restore through the root"
check "restore through the root: byte-identical to the original" cmp -s "$h" "$FIX/win7.hive"

d=$(case_dir restore-dirty)
cp "$FIX/new-split"/* "$d/"
run set --non-interactive 512 "$d/SYSTEM"
expect_rc 0 "set on a dirty hive before restore"
check "the dirty hive was changed" value_is "$d/SYSTEM" 512
run restore "$d/SYSTEM"
expect_rc 0 "restore of a dirty hive's backup set"
check "restore: SYSTEM is byte-identical to the dirty original" cmp -s "$d/SYSTEM" "$FIX/new-split/SYSTEM"
check "restore: SYSTEM.LOG1 is byte-identical to the original" cmp -s "$d/SYSTEM.LOG1" "$FIX/new-split/SYSTEM.LOG1"
check "restore: SYSTEM.LOG2 is byte-identical to the original" cmp -s "$d/SYSTEM.LOG2" "$FIX/new-split/SYSTEM.LOG2"
run show "$d/SYSTEM"
contains "$OUT" "SharedSection=1024,20480,640" "the restored dirty hive replays to its old value again"

# Logs rewritten after set (Windows booted, say): restore puts the saved
# ones back, and keeps the rewritten ones in its own backup set.
d=$(case_dir restore-dirty-logs)
cp "$FIX/new-split"/* "$d/"
run set --non-interactive 512 "$d/SYSTEM"
expect_rc 0 "set on a dirty hive, logs to be rewritten"
head -c 512 /dev/urandom >"$d/SYSTEM.LOG1"
: >"$d/SYSTEM.LOG2"
cp "$d/SYSTEM.LOG1" "$WORK/rewritten-log1"
run restore --json "$d/SYSTEM"
expect_rc 0 "restore over rewritten logs"
check "restore: SYSTEM is the dirty original" cmp -s "$d/SYSTEM" "$FIX/new-split/SYSTEM"
check "restore: the rewritten SYSTEM.LOG1 is the original again" cmp -s "$d/SYSTEM.LOG1" "$FIX/new-split/SYSTEM.LOG1"
check "restore: the emptied SYSTEM.LOG2 is the original again" cmp -s "$d/SYSTEM.LOG2" "$FIX/new-split/SYSTEM.LOG2"
check "restore's backup set holds the rewritten SYSTEM.LOG1" cmp -s "$(jget backup).LOG1" "$WORK/rewritten-log1"
