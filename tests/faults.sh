#!/bin/sh
# Fault injection (issue #5): every step of the atomic commit fails (EIO,
# ENOSPC) or the process is killed there (SIGKILL), at its 1st, 2nd and 3rd
# hit, during set (backup linked beside the hive, or copied to another
# filesystem with --backup-dir), set on a dirty hive with logs, recover and
# restore. After each: the hive opens with hivex and is exactly the old one
# (byte for byte) or exactly the new one (whole-hive export equal to a clean
# reference run's), its logs as they were (or, beside the new hive, empty:
# retired); every backup is byte-identical to what it saves; an error
# exits 3 with a message and leaves no temporary file; a kill leaves only
# those in flight (the new hive's, and a backup copy's or one per retired
# log), correctly named, which the next normal run removes; and the backups
# left behind let `restore` bring the original back.
# The in-place commit (set, recover, restore of an in-place set) fails at
# each hit of write, fsync, temp-create and backup: before its point of no
# return everything as it was, after it the change completes from the log.
# Needs a build configured with --enable-failpoints; skipped otherwise.
. "${top_srcdir:-.}/tests/lib.sh"

if ! "$DESKHEAP" --version 2>/dev/null | grep -q failpoints; then
	echo "# $DESKHEAP is not a failpoint build (configure --enable-failpoints): fault injection skipped"
	skip "fault injection needs a build configured with --enable-failpoints"
	exit 0
fi

POINTS="temp-create write fsync verify metadata backup journal rename log-rename journal-remove dir-fsync"
# log-rename (a retired log's empty file put in place, after the hive's
# rename) is hit only where a replay's logs go into the backup set.
LOG_SCENARIOS="dirty recover"
retires() {
	case " $LOG_SCENARIOS " in *" $1 "*) return 0 ;; esac
	return 1
}
# Each point at each of its hits: how many a run makes is found first (the
# first N at which POINT:EIO@N lets the run succeed, less one): "write" is
# hit per write call (the new hive's, each backup copy's, the worker's
# report), so its count follows the implementation. Beyond MAX_NTH hits,
# the first three, the last, and some spread between.
MAX_NTH=16
# ENOSPC, besides EIO, where a full disk is what really happens.
NOSPACE="temp-create write fsync backup"

# Backups copied instead of linked: --backup-dir on another filesystem.
SHM=
SCENARIOS="set dirty recover restore"
if [ -d /dev/shm ] && [ -w /dev/shm ] &&
   [ "$(stat -c %d /dev/shm)" != "$(stat -c %d "$WORK")" ]; then
	SHM=$(mktemp -d /dev/shm/deskheap-faults.XXXXXX) || SHM=
fi
[ -n "$SHM" ] && SCENARIOS="set copy dirty recover restore"

faults_exit() {
	rc=$?
	[ -n "$SHM" ] && rm -rf "$SHM"
	(exit "$rc")
	finish
}
trap faults_exit EXIT
trap 'exit 1' HUP INT TERM

# cmd_of SCENARIO: the deskheap arguments (before any --backup-dir).
cmd_of() {
	case $1 in
	set|copy) echo "set --non-interactive 640" ;;
	dirty) echo "set --non-interactive 512" ;;
	recover) echo "recover" ;;
	restore) echo "restore" ;;
	ip-set) echo "set --commit in-place --log-format new --non-interactive 640" ;;
	ip-dirty|ip-old) echo "set --commit in-place --non-interactive 512" ;;
	ip-recover) echo "recover --commit in-place" ;;
	ip-restore) echo "restore --commit in-place" ;;
	esac
}

# template SCENARIO: $WORK/tpl-SCENARIO, the directory every case of the
# scenario starts from (its SYSTEM is "the old hive").
template() {
	t="$WORK/tpl-$1"
	mkdir "$t"
	case $1 in
	set|copy) cp "$FIX/win7.hive" "$t/SYSTEM" ;;
	dirty|recover) cp "$FIX/new-split"/* "$t/" ;;
	restore)
		cp "$FIX/win7.hive" "$t/SYSTEM"
		"$DESKHEAP" set --non-interactive 640 "$t/SYSTEM" >/dev/null 2>&1 ;;
	ip-set|ip-restore)
		cp "$FIX/win7.hive" "$t/SYSTEM"
		: >"$t/SYSTEM.LOG1"
		: >"$t/SYSTEM.LOG2"
		# shellcheck disable=SC2046
		[ "$1" = ip-set ] || "$DESKHEAP" $(cmd_of ip-set) "$t/SYSTEM" >/dev/null 2>&1 ;;
	ip-dirty|ip-recover) cp "$FIX/new-split"/* "$t/" ;;
	ip-old) cp "$FIX/old"/* "$t/" ;;
	esac
}

CASE_N=0
# new_case SCENARIO: a fresh copy of the template in $D; $BKOPT is the
# --backup-dir option (a fresh directory) for the copy scenario.
new_case() {
	CASE_N=$((CASE_N + 1))
	D="$WORK/c$CASE_N"
	cp -a "$WORK/tpl-$1" "$D"
	BK='' BKOPT=''
	if [ "$1" = copy ]; then
		BK="$SHM/bk$CASE_N"
		mkdir "$BK"
		BKOPT="--backup-dir $BK"
	fi
}

# opens FILE: hivex opens it.
opens() {
	printf 'ls\n' | hivexsh "$1" >/dev/null 2>&1
}

# state_of SCENARIO FILE: "old" (byte-identical to the template's hive),
# "new" (whole-hive export equal to the reference run's), or what is wrong.
state_of() {
	if cmp -s "$2" "$WORK/tpl-$1/SYSTEM"; then
		echo old
	elif ! opens "$2"; then
		echo "hivex cannot open it"
	elif export_hive "$2" >"$WORK/now.reg" &&
	     cmp -s "$WORK/now.reg" "$WORK/new-$1.reg"; then
		echo new
	else
		echo "neither the old nor the new hive: $(diff "$WORK/new-$1.reg" "$WORK/now.reg" | grep '^[<>]' | head -n 4 | tr '\n' ' ')"
	fi
}

# backups_in DIR BK: every deskheap backup file in DIR or under BK.
backups_in() {
	ls -A "$1" | grep '\.deskheap-[0-9]\{4,\}-[0-9]\{8\}T[0-9]\{6\}Z\.bak' | sed "s|^|$1/|"
	# In BK, every file but the temporary copies a killed run can leave
	# (named like the hive's temporary files, and removed the same way).
	[ -z "$2" ] || find "$2" -type f ! -name '.*.deskheap-tmp-*'
}

# new_lines OLD NEW: the lines of file NEW that are not in file OLD.
new_lines() {
	sort "$1" >"$WORK/nl.a"
	sort "$2" >"$WORK/nl.b"
	comm -13 "$WORK/nl.a" "$WORK/nl.b"
}

# bad_backups ORIGDIR LIST: the backups named in file LIST that are not
# byte-identical to what they save (ORIGDIR/SYSTEM, or ORIGDIR/SYSTEM.LOGn
# for a ".bak.LOGn"), with why.
bad_backups() {
	while read -r b; do
		suffix=${b##*.bak}
		if [ ! -f "$1/SYSTEM$suffix" ]; then
			echo "$b: saves SYSTEM$suffix, which did not exist"
		elif ! cmp -s "$b" "$1/SYSTEM$suffix"; then
			echo "$b ($(stat -c %s "$b") bytes) differs from SYSTEM$suffix ($(stat -c %s "$1/SYSTEM$suffix") bytes)"
		fi
	done <"$2"
}

# temps DIR: the deskheap temporary files in DIR.
temps() {
	ls -A "$1" | grep '^\.SYSTEM\.deskheap-tmp' || true
}

# bad_temps DIR SCENARIO: temporary files misnamed, or more than can be in
# flight at once: the new hive's and a backup copy's, or the new hive's, a
# replacement per log and the journal being written.
bad_temps() {
	t=$(temps "$1")
	[ -z "$t" ] && return 0
	max=$(($(ls "$WORK/tpl-$2" | grep -c '^SYSTEM\.LOG') + 2))
	[ "$max" -ge 2 ] || max=2
	printf '%s\n' "$t" | grep -v '^\.SYSTEM\.deskheap-tmp-[A-Za-z0-9]\{6\}$' | sed 's/^/misnamed: /'
	[ "$(printf '%s\n' "$t" | wc -l)" -le "$max" ] || echo "more than $max: $(printf '%s ' $t)"
}

# logs_as_template SCENARIO DIR [STATE]: the logs in DIR are the
# template's; beside the new hive (STATE "new") each may instead be empty:
# retired, as the new hive is clean and its logs hold nothing to replay.
logs_as_template() {
	for l in "$WORK/tpl-$1"/SYSTEM.LOG*; do
		[ -e "$l" ] || continue
		cmp -s "$l" "$2/$(basename "$l")" && continue
		[ "$3" = new ] && [ -f "$2/$(basename "$l")" ] &&
			[ ! -s "$2/$(basename "$l")" ] && continue
		return 1
	done
	return 0
}

# verdict DESCRIPTION PROBLEMS: ok when PROBLEMS is empty.
verdict() {
	if [ -z "$2" ]; then ok "$1"; else not_ok "$1" "$2"; fi
}

FIRED=0 KILLED=0

# hits SCENARIO POINT: sets HITS, how many times a run hits POINT (at most
# 64).
hits() {
	HITS=0
	while [ "$HITS" -lt 64 ]; do
		new_case "$1"
		DESKHEAP_FAILPOINT="$2:EIO@$((HITS + 1))" "$DESKHEAP" $(cmd_of "$1") \
			$BKOPT "$D/SYSTEM" >/dev/null 2>&1
		rc=$?
		rm -rf "$D" ${BK:+"$BK"}
		[ "$rc" -ne 0 ] || break
		HITS=$((HITS + 1))
	done
}

# nths COUNT: the hits to try.
nths() {
	awk -v n="$1" -v max="$MAX_NTH" 'BEGIN {
		for (i = 1; i <= n; i++)
			if (n <= max || i <= 3 || i == n || i % int(n / (max - 4) + 1) == 0)
				printf "%d ", i }'
}

# one_case SCENARIO POINT ACTION N
one_case() {
	scen=$1 spec="$2:$3@$4"
	name="$scen, $spec"
	new_case "$scen"
	tpl="$WORK/tpl-$scen"
	# shellcheck disable=SC2046
	DESKHEAP_FAILPOINT=$spec "$DESKHEAP" $(cmd_of "$scen") $BKOPT "$D/SYSTEM" \
		>"$WORK/out" 2>"$WORK/err"
	RC=$?
	ERR=$(cat "$WORK/err")
	backups_in "$tpl" "" | sed "s|^$tpl/|$D/|" >"$WORK/bk.tpl"
	backups_in "$D" "$BK" >"$WORK/bk.now"
	new_lines "$WORK/bk.tpl" "$WORK/bk.now" >"$WORK/bk.new"
	state=$(state_of "$scen" "$D/SYSTEM")

	if [ "$RC" -eq 0 ]; then
		# The point was hit fewer times than the probe found.
		not_ok "$name: the failpoint fires" "exit 0: the point was not hit $4 times"
		verdict "$name: the hive is the new one" "$([ "$state" = new ] || echo "$state")"
		p=$(bad_backups "$tpl" "$WORK/bk.new")
		grep -q '\.bak$' "$WORK/bk.new" || p="$p${p:+; }no backup was made"
		verdict "$name: the backup is the original" "$p"
		verdict "$name: no temporary file" "$(temps "$D")"
		return
	fi
	FIRED=$((FIRED + 1))

	# Exit status and message.
	p=
	[ "$RC" -eq 3 ] || p="exit $RC, not 3"
	case $3 in
	kill)
		KILLED=$((KILLED + 1))
		case $ERR in *"signal 9"*) ;; *) p="$p${p:+; }no report of the worker's death (signal 9): $ERR" ;; esac ;;
	*)
		case $3 in EIO) why="Input/output error" ;; ENOSPC) why="No space left on device" ;; esac
		case $ERR in
		*"$why"*|*"did not verify"*|*"without a result (exit status 3)"*) ;;
		*) p="$p${p:+; }the message lacks the cause ($why): $ERR" ;;
		esac ;;
	esac
	verdict "$name: exit 3 with a message" "$p"

	# The hive: exactly the old or exactly the new one, and what the
	# message says it is.
	p=
	case $state in old|new) ;; *) p=$state ;; esac
	case $ERR in
	*"the hive was not changed"*) [ "$state" = old ] || p="$p${p:+; }the message says not changed, but the hive is $state" ;;
	*"the hive was replaced"*) [ "$state" = new ] || p="$p${p:+; }the message says replaced, but the hive is $state" ;;
	esac
	logs_as_template "$scen" "$D" "$state" || p="$p${p:+; }a transaction log changed"
	verdict "$name: the hive is exactly the old or the new one ($state)" "$p"

	# Backups: each identical to what it saves; none left when the hive
	# was not replaced by an error (the commit removes what it made).
	p=$(bad_backups "$tpl" "$WORK/bk.new")
	if [ "$3" != kill ] && [ "$state" = old ] && [ -s "$WORK/bk.new" ]; then
		p="$p${p:+; }an error left backup files: $(tr '\n' ' ' <"$WORK/bk.new")"
	fi
	verdict "$name: every backup left is byte-identical to what it saves" "$p"

	# An error after the first rename leaves the change decided: its
	# journal stays, with the files still to rename, and the next run
	# completes it (checked below as after a kill).
	if [ "$3" != kill ] && [ ! -e "$D/.SYSTEM.deskheap-journal" ]; then
		verdict "$name: no temporary file is left" "$(temps "$D")"
		return
	fi
	if [ "$3" != kill ]; then
		verdict "$name: the error says the next run completes the change" \
			"$(grep -q 'the next deskheap run on this hive completes it' "$WORK/err" || cat "$WORK/err")"
	fi
	verdict "$name: leftover temporary files are few, named .SYSTEM.deskheap-tmp-XXXXXX" "$(bad_temps "$D" "$scen")"

	# The next normal run, on a copy (the kill's state stays in $D for
	# the restore below): it succeeds, removes the leftover, and gives the
	# new hive. A restore already done is not run again: a second restore
	# undoes the first.
	D2="$D.next"
	cp -a "$D" "$D2"
	if [ "$scen" = restore ] && [ "$state" = new ]; then
		:
	else
		backups_in "$D2" "$BK" >"$WORK/bk.before"
		"$DESKHEAP" $(cmd_of "$scen") $BKOPT "$D2/SYSTEM" >"$WORK/out" 2>"$WORK/err"
		RC=$?
		backups_in "$D2" "$BK" >"$WORK/bk.after"
		new_lines "$WORK/bk.before" "$WORK/bk.after" >"$WORK/bk.new2"
		p=
		[ "$RC" -eq 0 ] || p="exit $RC: $(cat "$WORK/err")"
		[ -z "$(temps "$D2")" ] || p="$p${p:+; }left: $(temps "$D2" | tr '\n' ' ')"
		s2=$(state_of "$scen" "$D2/SYSTEM")
		[ "$s2" = new ] || p="$p${p:+; }the hive is $s2, not the new one"
		logs_as_template "$scen" "$D2" "$s2" || p="$p${p:+; }a transaction log changed"
		b=$(bad_backups "$tpl" "$WORK/bk.new2")
		[ -z "$b" ] || p="$p${p:+; }$b"
		verdict "$name: the next normal run succeeds, removes the leftover and gives the new hive" "$p"
	fi

	# What the kill left lets restore bring the original back (or
	# refuse, changing nothing): never a partial backup put in place.
	[ "$scen" = restore ] && return
	cp "$D/SYSTEM" "$WORK/killed.hive"
	"$DESKHEAP" restore $BKOPT "$D/SYSTEM" >"$WORK/out" 2>"$WORK/err"
	RC=$?
	p=
	if [ "$RC" -eq 0 ]; then
		cmp -s "$D/SYSTEM" "$tpl/SYSTEM" ||
			p="restore exited 0 but the hive is not the original ($(stat -c %s "$D/SYSTEM") bytes; $(grep 'restored from' "$WORK/out"))"
		logs_as_template "$scen" "$D" || p="$p${p:+; }restore left a transaction log that is not the original"
	elif [ "$RC" -eq 3 ]; then
		cmp -s "$D/SYSTEM" "$WORK/killed.hive" || p="restore failed (exit 3) but changed the hive"
		# A refusal is fine while the original is still in place.
		[ "$state" = old ] || p="$p${p:+; }restore refused, and the hive is $state: $(cat "$WORK/err")"
	else
		p="restore exited $RC: $(cat "$WORK/err")"
	fi
	verdict "$name: restore after the kill gives back the original" "$p"
}

for scen in $SCENARIOS; do
	template "$scen"
	# The reference: the same run without a failpoint.
	new_case "$scen"
	"$DESKHEAP" $(cmd_of "$scen") $BKOPT "$D/SYSTEM" >"$WORK/out" 2>"$WORK/err"
	RC=$? OUT=$(cat "$WORK/out") ERR=$(cat "$WORK/err")
	expect_rc 0 "$scen: the reference run"
	export_hive "$D/SYSTEM" >"$WORK/new-$scen.reg"
	check "$scen: the reference result differs from the old hive" \
		sh -c "! cmp -s '$D/SYSTEM' '$WORK/tpl-$scen/SYSTEM'"
	if [ "$scen" = restore ]; then
		check "restore: the reference run gives back the hive before set" cmp -s "$D/SYSTEM" "$FIX/win7.hive"
	fi

	counts=
	for point in $POINTS; do
		hits "$scen" "$point"
		counts="$counts $point $HITS,"
		if [ "$point" = log-rename ] && ! retires "$scen"; then
			verdict "$scen: $point is not hit (no logs to retire)" \
				"$([ "$HITS" -eq 0 ] || echo "hit $HITS times")"
			continue
		fi
		if [ "$HITS" -eq 0 ]; then
			not_ok "$scen: $point is hit" "DESKHEAP_FAILPOINT=$point:EIO@1 did not fail the run"
			continue
		fi
		for n in $(nths "$HITS"); do
			one_case "$scen" "$point" EIO "$n"
			one_case "$scen" "$point" kill "$n"
		done
		case " $NOSPACE " in *" $point "*) one_case "$scen" "$point" ENOSPC 1 ;; esac
	done
	echo "# $scen: hits per point:${counts%,}"
	rm -rf "$WORK"/c[0-9]*
	[ -z "$SHM" ] || rm -rf "$SHM"/bk*
done
[ -n "$SHM" ] || skip "backups copied to another filesystem: /dev/shm is not one here"

# The in-place commit: a clean hive (new-format logs), a dirty one with both
# new-format logs, recover of it, an old-format (DIRT) dirty one, and
# restore of an in-place set. Each hit of each point fails the run: before
# the point of no return it says the hive was not changed and every file
# is as it was, none added; after it, it says Windows completes the change
# from the log, and the hive replayed with its logs is the new one. The
# hive keeps its inode number either way.
IP_POINTS="write fsync temp-create backup"
# The last write and fsync (the hive's clean base block) are past the
# point of no return; the memory file (recover and restore: a set's edits
# are held as pages, with none) and the backups are made before.
IP_DECIDED="write fsync"

# replayed DIR: the hive in DIR as Windows loads it (its logs replayed on
# a copy), as an export.
replayed() {
	rm -rf "$WORK/replay"
	mkdir "$WORK/replay"
	cp "$1"/SYSTEM "$1"/SYSTEM.LOG* "$WORK/replay/" 2>/dev/null
	"$DESKHEAP" recover -q --no-backup "$WORK/replay/SYSTEM" >/dev/null 2>&1 ||
		{ echo unloadable; return; }
	export_hive "$WORK/replay/SYSTEM"
}

# not_as_template SCENARIO DIR: what in DIR is not the template's, byte for
# byte: files added or changed.
not_as_template() {
	[ "$(listing "$2")" = "$(listing "$WORK/tpl-$1")" ] ||
		echo "files now: $(listing "$2")"
	for f in "$WORK/tpl-$1"/*; do
		cmp -s "$f" "$2/${f##*/}" || echo "${f##*/} changed"
	done
}

# loads_as SCENARIO: how the hive in $D loads (its logs replayed): "old",
# "new" (the reference run's) or "neither".
loads_as() {
	replayed "$D" >"$WORK/now.reg"
	if cmp -s "$WORK/now.reg" "$WORK/new-$1.reg"; then echo new
	elif cmp -s "$WORK/now.reg" "$WORK/old-$1.reg"; then echo old
	else echo neither; fi
}

# ip_case SCENARIO POINT N: sets SIDE to "before" or "after" the point of
# no return, as the message says.
ip_case() {
	name="$1, $2:EIO@$3"
	new_case "$1"
	tpl="$WORK/tpl-$1"
	ino=$(stat -c %i "$D/SYSTEM")
	# shellcheck disable=SC2046
	DESKHEAP_FAILPOINT="$2:EIO@$3" "$DESKHEAP" $(cmd_of "$1") "$D/SYSTEM" \
		>"$WORK/out" 2>"$WORK/err"
	RC=$?
	ERR=$(cat "$WORK/err")
	FIRED=$((FIRED + 1))
	p=
	[ "$RC" -eq 3 ] || p="exit $RC, not 3"
	case $ERR in
	*"Input/output error"*|*"did not verify"*|*"without a result (exit status 3)"*) ;;
	*) p="$p${p:+; }the message lacks the cause: $ERR" ;;
	esac
	[ "$(stat -c %i "$D/SYSTEM")" = "$ino" ] ||
		p="$p${p:+; }the hive's inode number changed"
	case $ERR in
	*"the hive was not changed"*)
		SIDE=before
		changed=$(not_as_template "$1" "$D" | tr '\n' ' ')
		[ -z "$changed" ] ||
			p="$p${p:+; }the message says not changed, but: $changed(it loads as the $(loads_as "$1") hive)" ;;
	*"loads as it did"*)
		# A dirty hive's logs were written into it (step B), and no
		# more: it loads as before, its logs as they were, the
		# backup set of the original kept.
		SIDE=between
		la=$(loads_as "$1")
		# (recover's new hive loads as its old one: only replayed)
		[ "$la" = old ] || { [ "$la" = new ] &&
			cmp -s "$WORK/old-$1.reg" "$WORK/new-$1.reg"; } ||
			p="$p${p:+; }the message says it loads as it did, but it loads as the $la hive"
		for f in "$tpl"/SYSTEM.LOG*; do
			cmp -s "$f" "$D/${f##*/}" || p="$p${p:+; }${f##*/} changed"
		done
		backups_in "$tpl" "" | sed "s|^$tpl/|$D/|" >"$WORK/bk.tpl"
		backups_in "$D" "" >"$WORK/bk.now"
		new_lines "$WORK/bk.tpl" "$WORK/bk.now" >"$WORK/bk.new"
		[ -s "$WORK/bk.new" ] || p="$p${p:+; }no backup set was kept"
		p="$p${p:+; }$(bad_backups "$tpl" "$WORK/bk.new")"
		p=${p%; } ;;
	*"without a result (exit status 3)"*)
		# The worker's report failed (its last write): the commit ran.
		SIDE=after
		[ "$(loads_as "$1")" = new ] ||
			p="$p${p:+; }the report failed, and the hive loads as the $(loads_as "$1") one" ;;
	*"Windows completes it when it next loads the hive"*)
		SIDE=after
		[ "$(loads_as "$1")" = new ] ||
			p="$p${p:+; }the hive replayed with its logs is not the new one"
		[ -z "$(temps "$D")" ] || p="$p${p:+; }left: $(temps "$D" | tr '\n' ' ')"
		backups_in "$tpl" "" | sed "s|^$tpl/|$D/|" >"$WORK/bk.tpl"
		backups_in "$D" "" >"$WORK/bk.now"
		new_lines "$WORK/bk.tpl" "$WORK/bk.now" >"$WORK/bk.new"
		p="$p${p:+; }$(bad_backups "$tpl" "$WORK/bk.new")"
		p=${p%; } ;;
	*)
		SIDE=
		p="$p${p:+; }the message says neither that the hive was not changed nor that the change completes from the log: $ERR" ;;
	esac
	verdict "$name: fails cleanly ($SIDE the point of no return)" "$p"
}

for scen in ip-set ip-dirty ip-recover ip-old ip-restore; do
	template "$scen"
	new_case "$scen"
	"$DESKHEAP" $(cmd_of "$scen") "$D/SYSTEM" >"$WORK/out" 2>"$WORK/err"
	RC=$? OUT=$(cat "$WORK/out") ERR=$(cat "$WORK/err")
	expect_rc 0 "$scen: the reference run"
	replayed "$D" >"$WORK/new-$scen.reg"
	replayed "$WORK/tpl-$scen" >"$WORK/old-$scen.reg"
	[ "$scen" = ip-recover ] ||
		check "$scen: the reference result loads differently from the old hive" \
			sh -c "! cmp -s '$WORK/new-$scen.reg' '$WORK/old-$scen.reg'"
	counts=
	for point in $IP_POINTS; do
		hits "$scen" "$point"
		counts="$counts $point $HITS,"
		case $scen:$point in
		ip-set:temp-create|ip-dirty:temp-create|ip-old:temp-create)
			# Edits that fit are held as pages: no memory file.
			verdict "$scen: no whole new hive is staged (temp-create is not hit)" \
				"$([ "$HITS" -eq 0 ] || echo "hit $HITS times")"
			continue ;;
		esac
		after=0
		for n in $(nths "$HITS"); do
			ip_case "$scen" "$point" "$n"
			[ "$SIDE" = after ] && after=$((after + 1))
		done
		case " $IP_DECIDED " in
		*" $point "*) verdict "$scen: $point is hit past the point of no return" \
			"$([ "$after" -gt 0 ] || echo "no hit of $HITS was")" ;;
		*) verdict "$scen: $point is hit, only before the point of no return" \
			"$([ "$HITS" -gt 0 ] && [ "$after" -eq 0 ] || echo "hit $HITS times, $after past it")" ;;
		esac
	done
	echo "# $scen: hits per point:${counts%,}"
	rm -rf "$WORK"/c[0-9]*
done

echo "# $FIRED failpoints fired ($KILLED kills)"
