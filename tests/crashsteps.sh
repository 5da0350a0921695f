#!/bin/sh
# A run of set, recover and restore killed from outside the process at
# each of its fsyncs and renames in turn (strace's fault injection), on a
# dirty hive with both logs and on a clean one; then the files judged as
# Windows would load them: the hive replayed with its logs when it is
# dirty, ignoring them when it is clean, and knowing nothing of deskheap's
# journal or temporary files. Each state must be exactly the old set or
# exactly the new set, byte for byte in the bins (but for the keys'
# last-written times, which only have to be new). Then the next run that
# locks the hive must finish what the killed one decided (its journal),
# giving the new set.
# The in-place commit (ip-*: set, recover, and restore of an in-place set)
# is killed at each of its writes, truncations and fsyncs, on a clean hive,
# a dirty one with both new-format logs (the new-split fixture) and an
# old-format (DIRT) dirty one, and set and recover on the corpus's dirty
# SYSTEM_B with both logs (every fsync and truncation, every 40th write):
# the same judgement, and the hive and its logs keep their inode numbers
# in every state. It writes with pwrite64 only (write carries only the
# worker's report to the parent).
# Needs strace; skipped visibly without it (or where ptrace is refused).
. "${top_srcdir:-.}/tests/lib.sh"

if ! command -v strace >/dev/null 2>&1 ||
   ! strace -f -qq -o /dev/null true 2>/dev/null; then
	skip "strace is missing or cannot trace here: kills from outside not tested"
	exit 0
fi

# view DIR FILE: FILE holds the hive in DIR as Windows would load it: a
# copy of the hive and its logs only (no journal, no temporary file),
# replayed by recover when dirty (recover ignores the logs of a clean
# hive); of it, the root cell offset and bins size from the base block,
# then every byte of the bins (a half-written page shows, where an export
# of keys and values would not).
view() {
	v="$WORK/view"
	rm -rf "$v"
	mkdir "$v"
	for f in "$1"/SYSTEM "$1"/SYSTEM.LOG*; do
		[ -f "$f" ] && cp "$f" "$v/"
	done
	if "$DESKHEAP" recover -q --no-backup "$v/SYSTEM" >/dev/null 2>&1; then
		{ dd if="$v/SYSTEM" bs=4 skip=9 count=2 2>/dev/null
		  tail -c +4097 "$v/SYSTEM"; } >"$2"
	else
		echo unloadable >"$2"
	fi
}

# groups A B: the 8-byte groups where views A and B differ, sorted.
groups() {
	cmp -l "$1" "$2" 2>/dev/null | awk '{ print int(($1 - 1) / 8) }' |
		sort -u
}

# judge DIR: the state of the hive in DIR as Windows loads it (below),
# kept by scenario and the files' contents: states repeat.
mkdir "$WORK/judged"
judge() {
	key=$(for f in "$1"/SYSTEM "$1"/SYSTEM.LOG*; do
		[ -f "$f" ] && echo "${f##*/}" && sha256sum <"$f"
	done | sha256sum | cut -c1-64)
	if [ ! -f "$WORK/judged/$scen-$key" ]; then
		view "$1" "$WORK/now"
		state "$WORK/now" >"$WORK/judged/$scen-$key"
	fi
	cat "$WORK/judged/$scen-$key"
}

# state VIEW: "new" when VIEW is the new hive byte for byte, but for its
# times of writing (the groups $TIMES, where two reference runs differ:
# keys' last-written times), each of which must be a time other than the
# old one's; else "old" when it is the old hive byte for byte (recover:
# the same); else "neither".
state() {
	groups "$1" "$NEW" >"$WORK/differs"
	groups "$1" "$OLD" >"$WORK/from-old"
	if [ "$(wc -c <"$1")" -eq "$(wc -c <"$NEW")" ] &&
	   [ -z "$(comm -23 "$WORK/differs" "$TIMES")" ] &&
	   [ -z "$(comm -23 "$TIMES" "$WORK/from-old")" ]; then
		echo new
	elif cmp -s "$1" "$OLD"; then
		echo old
	else
		echo neither
	fi
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
	ip-set-clean)
		cp "$FIX/win7.hive" "$t/SYSTEM"
		: >"$t/SYSTEM.LOG1"
		: >"$t/SYSTEM.LOG2" ;;
	ip-set-dirty|ip-recover) cp "$FIX/new-split"/* "$t/" ;;
	ip-*-corpus)
		for f in SYSTEM_B SYSTEM_B.LOG1 SYSTEM_B.LOG2; do
			xz -dc "$CORPUS/regipy/$f.xz" >"$t/SYSTEM${f#SYSTEM_B}"
		done ;;
	ip-set-old|ip-recover-old) cp "$FIX/old"/* "$t/" ;;
	ip-restore-*)
		# After the ip-set scenario of the same kind (its template).
		rmdir "$t"
		cp -a "$WORK/tpl-ip-set-${1#ip-restore-}" "$t"
		# shellcheck disable=SC2046
		"$DESKHEAP" $(cmd_of "ip-set-${1#ip-restore-}") "$t/SYSTEM" >/dev/null ;;
	esac
}

cmd_of() {
	case $1 in
	set-clean) echo "set -q --non-interactive 640" ;;
	set-dirty) echo "set -q --non-interactive 768" ;;
	recover) echo "recover -q" ;;
	restore-*) echo "restore -q" ;;
	ip-set-clean) echo "set -q --commit in-place --log-format new --non-interactive 640" ;;
	ip-set-corpus) echo "set -q --commit in-place --non-interactive 2048" ;;
	ip-set-*) echo "set -q --commit in-place --non-interactive 768" ;;
	ip-recover*) echo "recover -q --commit in-place" ;;
	ip-restore-*) echo "restore -q --commit in-place" ;;
	esac
}

# next_of SCEN: the next run, which must finish what a killed run decided,
# with the commit SCEN uses.
next_of() {
	case $1 in
	ip-*clean) echo "recover -q --no-backup --commit in-place --log-format new" ;;
	ip-*) echo "recover -q --no-backup --commit in-place" ;;
	*) echo "recover -q --no-backup" ;;
	esac
}

# inodes DIR: the inode numbers of the hive and its logs in DIR.
inodes() {
	for f in "$1"/SYSTEM "$1"/SYSTEM.LOG*; do
		[ -f "$f" ] && printf '%s=%s ' "${f##*/}" "$(stat -c %i "$f")"
	done
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

# same_inodes SCEN DIR BEFORE WHEN: in-place scenarios keep every file's
# identity: adds to $p when the inode numbers in DIR are not BEFORE.
same_inodes() {
	case $1 in ip-*) ;; *) return ;; esac
	[ "$(inodes "$2")" = "$3" ] ||
		p="$p${p:+; }inode numbers $4: $(inodes "$2"), were $3"
}

# walk SCEN SYSCALLS [EVERY]: every kill point of SYSCALLS in SCEN, or
# every EVERY-th from the first, and the last.
walk() {
	scen=$1 calls=$2 every=${3:-1} n=1
	tpl="$WORK/tpl-$scen"
	total=$(count_calls "$scen" "$calls")
	while [ "$n" -le "$total" ]; do
		d="$WORK/case"
		rm -rf "$d"
		cp -a "$tpl" "$d"
		ino=$(inodes "$d")
		kill_at "$scen" "$d" "$calls" "$n"
		now=$(judge "$d")
		p=
		[ "$now" != neither ] ||
			p="the hive as Windows loads it is neither the old nor the new one"
		same_inodes "$scen" "$d" "$ino" "after the kill"
		journal=no
		[ -e "$d/.SYSTEM.deskheap-journal" ] && journal=yes
		# shellcheck disable=SC2046
		"$DESKHEAP" $(next_of "$scen") "$d/SYSTEM" >"$WORK/out" 2>&1 ||
			p="$p${p:+; }the next run failed: $(cat "$WORK/out")"
		after=$(judge "$d")
		same_inodes "$scen" "$d" "$ino" "after the next run"
		if [ "$journal" = yes ] && [ "$after" != new ]; then
			p="$p${p:+; }the next run did not complete the journal"
		fi
		if [ "$now" = new ] && [ "$after" != new ]; then
			p="$p${p:+; }the next run went back from the new state"
		fi
		[ "$after" != neither ] ||
			p="$p${p:+; }after the next run the hive is neither the old nor the new one"
		[ -z "$(ls -A "$d" | grep '^\.SYSTEM\.deskheap-')" ] ||
			p="$p${p:+; }left after the next run: $(ls -A "$d" | grep '^\.SYSTEM\.deskheap-' | tr '\n' ' ')"
		if [ -z "$p" ]; then
			ok "$scen: killed at $calls #$n: $now as Windows loads it (journal: $journal), then the next run gives the $after set"
		else
			not_ok "$scen: killed at $calls #$n" "$p"
		fi
		KILLS=$((KILLS + 1))
		if [ "$n" -lt "$total" ] && [ $((n + every)) -gt "$total" ]; then
			n=$total
		else
			n=$((n + every))
		fi
	done
	[ "$total" -gt 0 ] || not_ok "$scen: no $calls to kill at" "the run made none"
}

# The real dirty SYSTEM_B with both its logs, when the corpus is there: a
# kill at every fsync and truncation, and at every CORPUS_EVERY-th write
# (its logs' pages are written into it first: hundreds of writes, each
# state judged on 12 MB).
CORPUS=${DESKHEAP_CORPUS:-${top_srcdir:-.}/../shared/corpus}
CORPUS_EVERY=${CORPUS_EVERY:-40}
corpus_scens=
if [ -f "$CORPUS/regipy/SYSTEM_B.LOG2.xz" ]; then
	corpus_scens="ip-set-corpus ip-recover-corpus"
else
	skip "in-place kills on the corpus SYSTEM_B: corpus absent at $CORPUS"
fi

KILLS=0
for scen in set-clean set-dirty recover restore-clean restore-dirty \
	    ip-set-clean ip-set-dirty ip-recover ip-set-old ip-recover-old \
	    ip-restore-clean ip-restore-dirty ip-restore-old $corpus_scens; do
	template "$scen"
	OLD="$WORK/old-$scen"
	view "$WORK/tpl-$scen" "$OLD"
	for ref in "$WORK/ref-$scen" "$WORK/ref2-$scen"; do
		cp -a "$WORK/tpl-$scen" "$ref"
		# shellcheck disable=SC2046
		"$DESKHEAP" $(cmd_of "$scen") "$ref/SYSTEM" >/dev/null 2>&1
		check "$scen: the reference run succeeds" test $? -eq 0
	done
	NEW="$WORK/new-$scen"
	view "$WORK/ref-$scen" "$NEW"
	view "$WORK/ref2-$scen" "$WORK/new2"
	TIMES="$WORK/times-$scen"
	groups "$NEW" "$WORK/new2" >"$TIMES"
	# recover changes the files, not what Windows loads from them.
	case $scen in
	*recover*) ;;
	*) check "$scen: the old and the new set load differently" \
		test "$(state "$OLD")" = old ;;
	esac
	case $scen in
	ip-*-corpus)
		walk "$scen" pwrite64 "$CORPUS_EVERY"
		walk "$scen" ftruncate
		walk "$scen" fsync ;;
	ip-*)
		walk "$scen" pwrite64
		walk "$scen" ftruncate
		walk "$scen" fsync ;;
	*)
		walk "$scen" fsync
		walk "$scen" rename,renameat,renameat2 ;;
	esac
done
echo "# $KILLS kills from outside"
