# TAP helpers and fixtures for the end-to-end tests (sourced, POSIX sh + bash).
# Each check prints "ok N - what" or "not ok N - what"; plan printed at exit.

: "${DESKHEAP:?DESKHEAP must name the deskheap binary (make check sets it)}"
: "${MKFIXTURES:?MKFIXTURES must name the fixture generator (make check sets it)}"

TEST_N=0
TEST_FAILED=0
WORK=$(mktemp -d "${TMPDIR:-/tmp}/deskheap-e2e.XXXXXX")
FIX="$WORK/fixtures"
mkdir "$FIX"
"$MKFIXTURES" "$FIX" >/dev/null || { echo "Bail out! mkfixtures failed"; exit 1; }

finish() {
	rc=$?
	rm -rf "$WORK"
	echo "1..$TEST_N"
	# An explicit exit: dash does not take a trap's last status as the
	# script's.
	if [ "$TEST_FAILED" -eq 0 ] && [ "$rc" -eq 0 ]; then exit 0; fi
	exit 1
}
trap finish EXIT

ok() {
	TEST_N=$((TEST_N + 1))
	echo "ok $TEST_N - $1"
}

not_ok() {
	TEST_N=$((TEST_N + 1))
	TEST_FAILED=$((TEST_FAILED + 1))
	echo "not ok $TEST_N - $1"
	shift
	for line in "$@"; do echo "# $line"; done
}

skip() {
	TEST_N=$((TEST_N + 1))
	echo "ok $TEST_N # SKIP $1"
}

# check DESCRIPTION COMMAND...: passes when COMMAND succeeds.
check() {
	desc=$1
	shift
	if "$@"; then ok "$desc"; else not_ok "$desc" "failed: $*"; fi
}

# run CMD...: runs deskheap, keeping stdout, stderr and status in OUT ERR RC.
run() {
	"$DESKHEAP" "$@" >"$WORK/out" 2>"$WORK/err"
	RC=$?
	OUT=$(cat "$WORK/out")
	ERR=$(cat "$WORK/err")
}

# expect_rc N DESCRIPTION: the last run exited with N.
expect_rc() {
	if [ "$RC" -eq "$1" ]; then ok "$2 (exit $1)"
	else not_ok "$2 (exit $1)" "exit was $RC" "stdout: $OUT" "stderr: $ERR"; fi
}

# contains TEXT NEEDLE DESCRIPTION
contains() {
	case $1 in
	*"$2"*) ok "$3" ;;
	*) not_ok "$3" "missing: $2" "in: $1" ;;
	esac
}

lacks() {
	case $1 in
	*"$2"*) not_ok "$3" "unexpected: $2" "in: $1" ;;
	*) ok "$3" ;;
	esac
}

# case_dir NAME: a fresh directory for one case.
case_dir() {
	d="$WORK/case-$1"
	rm -rf "$d"
	mkdir -p "$d"
	echo "$d"
}

# fixture NAME DIR: copy a generated fixture into DIR as SYSTEM; print path.
fixture() {
	cp "$FIX/$1" "$2/SYSTEM"
	echo "$2/SYSTEM"
}

# listing DIR: the names in DIR, sorted, one line.
listing() {
	ls -A "$1" | sort | tr '\n' ' '
}

# export_hive FILE: the whole hive as .reg text (hivexregedit), for
# comparing every key and value before and after.
export_hive() {
	hivexregedit --export "$1" '\' 2>/dev/null
}

# changed_lines A B: the lines of export A that are not in export B, and
# the reverse, without the "[key]" lines they belong to (diff's < and >).
changed_lines() {
	diff "$1" "$2" | grep '^[<>]'
}

# only_windows_changed BEFORE AFTER COUNT DESCRIPTION: the two exports differ
# in exactly COUNT "Windows" values and in nothing else.
only_windows_changed() {
	lines=$(changed_lines "$1" "$2")
	total=$(printf '%s\n' "$lines" | grep -c .)
	windows=$(printf '%s\n' "$lines" | grep -c '^[<>] "Windows"=')
	if [ "$total" -eq $(($3 * 2)) ] && [ "$windows" -eq "$total" ]; then
		ok "$4"
	else
		not_ok "$4" "expected $3 Windows value(s) to differ, got:" "$lines"
	fi
}

# windows_value FILE [CONTROLSET]: the Windows value as hivexsh prints it,
# e.g. "Windows"=str(2):"...SharedSection=1024,3072,512 ...".
windows_value() {
	printf 'cd %s\\Control\\Session Manager\\SubSystems\nlsval Windows\n' \
		"${2:-ControlSet001}" | hivexsh "$1" 2>&1
}

# backup_subdir TARGET: the subdirectory of --backup-dir that deskheap uses
# for TARGET, computed here independently: its real path with '/' as '_'
# (runs collapsed, ends trimmed), '-', and the FNV-1a 32-bit hash of that
# real path in 8 hex digits.
backup_subdir() {
	python3 -c '
import os, re, sys
p = os.path.realpath(sys.argv[1]) if os.path.exists(sys.argv[1]) else sys.argv[1]
h = 2166136261
for b in p.encode():
    h = ((h ^ b) * 16777619) & 0xFFFFFFFF
name = re.sub("_+", "_", p.replace("/", "_")).strip("_") or "root"
print("%s-%08x" % (name, h))
' "$1"
}

# hive_times FILE [CONTROLSET]: "KEY BASE CONTROL OFFSET": the last-written
# times (FILETIME) of CONTROLSET's SubSystems key, of the base block and of
# its Control key, and the file offset of the SubSystems key record, read
# with hivex's Perl binding.
hive_times() {
	perl -MWin::Hivex -e '
my $h = Win::Hivex->open($ARGV[0]);
my $n = $h->root;
$n = $h->node_get_child($n, $_) for ($ARGV[1], "Control");
my $control = $n;
$n = $h->node_get_child($n, $_) for ("Session Manager", "SubSystems");
print join(" ", $h->node_timestamp($n), $h->last_modified,
	   $h->node_timestamp($control), $n), "\n";
' "$1" "${2:-ControlSet001}"
}

# filetime_now: the time now as a Windows FILETIME (100 ns since 1601).
filetime_now() {
	python3 -c 'import time; print(int(time.time() * 10**7) + 116444736000000000)'
}
