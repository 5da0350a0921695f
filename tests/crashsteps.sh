#!/bin/sh
# A run of set, recover and restore killed from outside the process at
# each of its fsyncs and renames in turn (strace's fault injection), on a
# dirty hive with both logs and on a clean one; then the files judged as
# Windows would load them: the hive replayed with its logs when it is
# dirty, ignoring them when it is clean, and knowing nothing of deskheap's
# journal or temporary files. Each state must be exactly the old set or
# exactly the new set. Then the next run that locks the hive must finish
# what the killed one decided (its journal), giving the new set.
# Needs strace; skipped visibly without it (or where ptrace is refused).
. "${top_srcdir:-.}/tests/lib.sh"

if ! command -v strace >/dev/null 2>&1 ||
   ! strace -f -qq -o /dev/null true 2>/dev/null; then
	skip "strace is missing or cannot trace here: kills from outside not tested"
	exit 0
fi

# view DIR: the hive in DIR as Windows would load it, as an export: a copy
# of the hive and its logs only (no journal, no temporary file), replayed
# by recover when dirty (recover ignores the logs of a clean hive).
view() {
	v="$WORK/view"
	rm -rf "$v"
	mkdir "$v"
	for f in "$1"/SYSTEM "$1"/SYSTEM.LOG*; do
		[ -f "$f" ] && cp "$f" "$v/"
	done
	"$DESKHEAP" recover -q --no-backup "$v/SYSTEM" >/dev/null 2>&1 ||
		{ echo "unloadable"; return; }
	export_hive "$v/SYSTEM" | cksum
}

# template NAME: $WORK/tpl-NAME, the state every case starts from.
template() {
	t="$WORK/tpl-$1"
	mkdir "$t"
	case $1 in
	set-clean) cp "$FIX/win7.hive" "$t/SYSTEM" ;;
	set-dirty|recover) cp "$FIX/new-split"/* "$t/" ;;
	restore-clean)
		cp "$FIX/win7.hive" "$t/SYSTEM"
		"$DESKHEAP" set -q --non-interactive 640 "$t/SYSTEM" >/dev/null ;;
	restore-dirty)
		cp "$FIX/new-split"/* "$t/"
		"$DESKHEAP" set -q --non-interactive 768 "$t/SYSTEM" >/dev/null ;;
	esac
}

cmd_of() {
	case $1 in
	set-clean) echo "set -q --non-interactive 640" ;;
	set-dirty) echo "set -q --non-interactive 768" ;;
	recover) echo "recover -q" ;;
	restore-*) echo "restore -q" ;;
	esac
}

# LeakSanitizer cannot work under ptrace (a sanitizer build would fail
# every traced run at exit); the untraced runs still check for leaks.
ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
export ASAN_OPTIONS

# count_calls SCEN SYSCALLS: how many of SYSCALLS a run of SCEN makes.
count_calls() {
	d="$WORK/count"
	rm -rf "$d"
	cp -a "$WORK/tpl-$1" "$d"
	# shellcheck disable=SC2046
	strace -f -qq -o "$WORK/trace" -e trace="$2" \
		"$DESKHEAP" $(cmd_of "$1") "$d/SYSTEM" >/dev/null 2>&1
	# strace pads the pid to a width: one space or more.
	grep -cE '^[0-9]+ +[a-z0-9]+\(' "$WORK/trace"
}

# kill_at SCEN DIR SYSCALLS N: run SCEN's command on DIR, killed at the
# N-th of SYSCALLS (counted in the process that makes them).
kill_at() {
	# shellcheck disable=SC2046
	strace -f -qq -o /dev/null -e trace="$3" \
		-e inject="$3":signal=KILL:when="$4" \
		"$DESKHEAP" $(cmd_of "$1") "$2/SYSTEM" >/dev/null 2>&1
}

# walk SCEN SYSCALLS: every kill point of SYSCALLS in SCEN.
walk() {
	scen=$1 calls=$2 n=1
	tpl="$WORK/tpl-$scen"
	total=$(count_calls "$scen" "$calls")
	while [ "$n" -le "$total" ]; do
		d="$WORK/case"
		rm -rf "$d"
		cp -a "$tpl" "$d"
		kill_at "$scen" "$d" "$calls" "$n"
		now=$(view "$d")
		p=
		[ "$now" = "$OLD" ] || [ "$now" = "$NEW" ] ||
			p="the hive as Windows loads it is neither the old nor the new one ($now)"
		journal=no
		[ -e "$d/.SYSTEM.deskheap-journal" ] && journal=yes
		"$DESKHEAP" recover -q --no-backup "$d/SYSTEM" >"$WORK/out" 2>&1 ||
			p="$p${p:+; }the next run failed: $(cat "$WORK/out")"
		after=$(view "$d")
		if [ "$journal" = yes ] && [ "$after" != "$NEW" ]; then
			p="$p${p:+; }the next run did not complete the journal"
		fi
		[ "$after" = "$OLD" ] || [ "$after" = "$NEW" ] ||
			p="$p${p:+; }after the next run the hive is neither the old nor the new one"
		[ -z "$(ls -A "$d" | grep '^\.SYSTEM\.deskheap-')" ] ||
			p="$p${p:+; }left after the next run: $(ls -A "$d" | grep '^\.SYSTEM\.deskheap-' | tr '\n' ' ')"
		state=old
		[ "$now" = "$NEW" ] && state=new
		if [ -z "$p" ]; then
			ok "$scen: killed at $calls #$n: $state as Windows loads it (journal: $journal), then the next run gives the $( [ "$after" = "$NEW" ] && echo new || echo old) set"
		else
			not_ok "$scen: killed at $calls #$n" "$p"
		fi
		KILLS=$((KILLS + 1))
		n=$((n + 1))
	done
	[ "$total" -gt 0 ] || not_ok "$scen: no $calls to kill at" "the run made none"
}

KILLS=0
for scen in set-clean set-dirty recover restore-clean restore-dirty; do
	template "$scen"
	OLD=$(view "$WORK/tpl-$scen")
	ref="$WORK/ref-$scen"
	cp -a "$WORK/tpl-$scen" "$ref"
	# shellcheck disable=SC2046
	"$DESKHEAP" $(cmd_of "$scen") "$ref/SYSTEM" >/dev/null 2>&1
	check "$scen: the reference run succeeds" test $? -eq 0
	NEW=$(view "$ref")
	# recover changes the files, not what Windows loads from them.
	[ "$scen" = recover ] ||
		check "$scen: the old and the new set load differently" test "$OLD" != "$NEW"
	walk "$scen" fsync
	walk "$scen" rename,renameat,renameat2
done
echo "# $KILLS kills from outside"
