#!/bin/sh
# Resource limits met on the way (ulimit -f, -n, -v): each is reported as
# what it is, with its own error code and the remedy, never as a damaged
# hive; every file stays as it was and nothing is left behind.
. "${top_srcdir:-.}/tests/lib.sh"

# limited ULIMIT-OPTIONS ARGS...: deskheap ARGS... under "ulimit
# ULIMIT-OPTIONS" (dash counts -f in 512-byte blocks, -v in KiB), keeping
# stdout, stderr and status as run does.
limited() {
	lim=$1
	shift
	sh -c "ulimit $lim && exec \"\$@\"" sh "$DESKHEAP" "$@" >"$WORK/out" 2>"$WORK/err"
	RC=$?
	OUT=$(cat "$WORK/out")
	ERR=$(cat "$WORK/err")
}

# verdict CODE: what is wrong with the last run's --json report when it
# failed (its code must be CODE, its message must not blame the hive and
# must say "not changed" at most once), or nothing when it is fine. A run
# that could not even start its worker says so on stderr instead.
verdict() {
	python3 - "$1" "$WORK/out" "$WORK/err" <<'EOF'
import json, sys
code, out, err = sys.argv[1], open(sys.argv[2]).read(), open(sys.argv[3]).read()
if not out.strip():
    if "Too many open files" not in err and "Cannot allocate memory" not in err:
        print("no report, and stderr does not say why: " + err.strip())
    sys.exit(0)
r = json.loads(out.splitlines()[0])
if r["status"] != "failed":
    sys.exit(0)
e = r["error"]
m = e["message"]
if e["code"] != code:
    print("code %s, not %s: %s" % (e["code"], code, m))
elif "damaged" in m or "not a registry hive" in m or "not a SYSTEM hive" in m:
    print("blames the hive: " + m)
elif m.count("not changed") + m.count("nothing was changed") > 1:
    print("says nothing was changed twice: " + m)
else:
    print("ok " + m)
EOF
}

## the file-size limit: EFBIG, not SIGXFSZ

# win10.hive is 12 KiB; 8 blocks of 512 bytes are 4 KiB.
d=$(case_dir fsize-set)
h=$(fixture win10.hive "$d")
limited "-f 8" set --non-interactive 512 "$h"
expect_rc 3 "set under ulimit -f below the hive's size fails"
contains "$ERR" "File too large" "the error gives the cause"
contains "$ERR" "ulimit -f" "the error gives the remedy"
lacks "$ERR" "signal" "the worker was not killed by SIGXFSZ"
check "the hive is unchanged" cmp -s "$h" "$FIX/win10.hive"
check "no temporary file is left" test "$(listing "$d")" = "SYSTEM "

d=$(case_dir fsize-recover)
cp "$FIX/new-one"/* "$d/"
limited "-f 8" recover "$d/SYSTEM"
expect_rc 3 "recover under ulimit -f fails"
contains "$ERR" "ulimit -f" "recover: the error gives the remedy"
check "recover: the hive is unchanged" cmp -s "$d/SYSTEM" "$FIX/new-one/SYSTEM"
check "recover: nothing is left" test "$(listing "$d")" = "SYSTEM SYSTEM.LOG1 SYSTEM.LOG2 "

d=$(case_dir fsize-restore)
h=$(fixture win10.hive "$d")
run set --non-interactive 512 "$h"
cp "$h" "$WORK/set"
before=$(listing "$d")
limited "-f 8" restore "$h"
expect_rc 3 "restore under ulimit -f fails"
contains "$ERR" "ulimit -f" "restore: the error gives the remedy"
check "restore: the hive is unchanged" cmp -s "$h" "$WORK/set"
check "restore: nothing is left" test "$(listing "$d")" = "$before"

## out of file descriptors

# sweep OPTION CODE ORIGINAL VALUE LIMIT...: show and set VALUE on a copy of
# ORIGINAL in $d under "ulimit OPTION LIMIT" for each LIMIT, from one a
# normal run fits in down to one it cannot start with. Sets BAD to what
# went wrong (a failure that is not CODE with its remedy, or that changed
# the hive or left a file) and HIVEX when hivex's own failure was among
# them (which it reports as a missing key or a damaged hive).
sweep() {
	opt=$1 code=$2 orig=$3 value=$4
	shift 4
	BAD= HIVEX=
	for lim in "$@"; do
		for cmd in show "set --non-interactive $value"; do
			cp "$orig" "$d/SYSTEM"
			# shellcheck disable=SC2086
			limited "$opt $lim" $cmd --json "$d/SYSTEM"
			v=$(verdict "$code")
			case $v in
			"ok hivex cannot read"*) HIVEX=1 ;;
			ok*|"") ;;
			*) BAD="$BAD; ulimit $opt $lim, $cmd: $v" ;;
			esac
			cmp -s "$d/SYSTEM" "$orig" || [ "$RC" -eq 0 ] ||
				BAD="$BAD; ulimit $opt $lim, $cmd: failed, yet the hive changed"
			[ "$(listing "$d")" = "SYSTEM " ] || [ "$RC" -eq 0 ] ||
				BAD="$BAD; ulimit $opt $lim, $cmd: failed, and left $(listing "$d")"
			rm -f "$d"/SYSTEM.deskheap-*
		done
	done
}

d=$(case_dir nofile)
sweep -n fd-limit "$FIX/win10.hive" 512 14 13 12 11 10 9 8 7 6 5
check "out of descriptors: every failure is fd-limit, with the remedy, the hive untouched${BAD:+ (not so$BAD)}" \
	test -z "$BAD"
check "out of descriptors inside hivex is reported as fd-limit, not as a damaged hive" \
	test -n "$HIVEX"

## out of memory

CORPUS=${DESKHEAP_CORPUS:-${top_srcdir:-.}/../shared/corpus}
if [ ! -f "$CORPUS/regipy/SYSTEM.xz" ]; then
	skip "out of memory: the corpus's regipy SYSTEM (a large hive) is absent"
elif ! sh -c 'ulimit -v 200000 && exec "$@" --version' sh "$DESKHEAP" >/dev/null 2>&1; then
	# AddressSanitizer reserves terabytes of address space at start.
	skip "out of memory: this deskheap cannot start under ulimit -v (a sanitizer build?)"
else
	# The limits count from the least address space deskheap starts in
	# (its shared libraries: libguestfs brings some 60), to 500 KB.
	lo=0 hi=200000
	while [ $((hi - lo)) -gt 500 ]; do
		mid=$(((lo + hi) / 2))
		if sh -c 'ulimit -v "$1" && exec "$2" --version' sh "$mid" "$DESKHEAP" >/dev/null 2>&1; then
			hi=$mid
		else
			lo=$mid
		fi
	done
	echo "# deskheap starts under ulimit -v $hi"
	d=$(case_dir nomem)
	xz -dc "$CORPUS/regipy/SYSTEM.xz" >"$WORK/big"
	# shellcheck disable=SC2046
	sweep -v nomem "$WORK/big" 640 $(for k in 52000 32000 22000 16000 12000 8000 6000 4000 2000 0; do echo $((hi + k)); done)
	check "out of memory: every failure is nomem, with the remedy, the hive untouched${BAD:+ (not so$BAD)}" \
		test -z "$BAD"
	check "out of memory inside hivex is reported as nomem, not as a damaged hive" \
		test -n "$HIVEX"
fi
