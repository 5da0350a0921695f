#!/bin/sh
# Design invariant 10: SIGINT, SIGTERM or SIGHUP sent to deskheap stops
# every worker at its next safe point (before the hive is replaced; one
# past that point finishes), each target not done is reported
# "interrupted", deskheap exits as killed by that signal once every worker
# has ended, and nothing is written after it has exited.
. "${top_srcdir:-.}/tests/lib.sh"

for tool in ps python3; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		skip "signal tests: $tool missing"
		exit 0
	fi
done
if ! env --default-signal=INT true 2>/dev/null; then
	skip "signal tests: env --default-signal (coreutils 8.31) missing"
	exit 0
fi

# within N COMMAND...: until COMMAND succeeds, for N tenths of a second
# at most; fails after that.
within() {
	n=$1
	shift
	until "$@"; do
		n=$((n - 1))
		[ "$n" -gt 0 ] || return 1
		sleep 0.1
	done
}

# hold_lock FILE: a process that holds an exclusive flock on FILE (as a
# running deskheap would) until it is killed; its pid in HOLDER.
hold_lock() {
	rm -f "$WORK/held"
	python3 -c '
import fcntl, sys, time
f = open(sys.argv[1])
fcntl.flock(f, fcntl.LOCK_EX)
print("held", flush=True)
time.sleep(120)
' "$1" >"$WORK/held" &
	HOLDER=$!
	within 100 test -s "$WORK/held"
}

# start ARGS...: deskheap ARGS... in the background with SIGINT, SIGTERM
# and SIGHUP at their defaults (a shell's background job ignores SIGINT,
# a test harness may ignore SIGHUP), output to $WORK/out and $WORK/err;
# its pid in PID.
start() {
	env --default-signal=INT,TERM,HUP "$DESKHEAP" "$@" \
		>"$WORK/out" 2>"$WORK/err" &
	PID=$!
}

# the_worker: the pid of the child of PID that is a deskheap (the one
# worker of a one-target run, or the first of a batch).
the_worker() {
	ps -o pid=,comm= --ppid "$PID" | awk '$2 == "deskheap" { print $1; exit }'
}

has_worker() {
	test -n "$(the_worker)"
}

# worker: the pid of deskheap's worker process, once there is one.
worker() {
	within 100 has_worker
	the_worker
}

lock_waiter() {
	grep -q -- "-> FLOCK .*:$1 " /proc/locks
}

# waiting_for_lock FILE: until some process waits for a flock on FILE
# (a "->" line of /proc/locks with its inode).
waiting_for_lock() {
	within 100 lock_waiter "$(stat -c %i "$1")"
}

is_stopped() {
	test "$(ps -o stat= -p "$1" | cut -c1)" = T
}

# stopped PID: until the process is stopped (SIGSTOP).
stopped() {
	within 100 is_stopped "$1"
}

term_pending() {
	pnd=$(sed -n 's/^ShdPnd:[[:space:]]*//p' "/proc/$1/status" 2>/dev/null)
	[ -n "$pnd" ] && [ $((0x$pnd & 0x4000)) -ne 0 ]
}

# forwarded PID: until SIGTERM is pending for the (stopped) worker PID:
# deskheap has sent it on, and the worker sees it once continued.
forwarded() {
	within 100 term_pending "$1"
}

# finish_run: wait for deskheap; its status in RC, its output in OUT, ERR.
finish_run() {
	wait "$PID"
	RC=$?
	OUT=$(cat "$WORK/out")
	ERR=$(cat "$WORK/err")
}

# json_codes: the status and error code of each JSON line of OUT.
json_codes() {
	python3 -c '
import json, sys
for line in sys.stdin:
    r = json.loads(line)
    print(r["status"], (r["error"] or {}).get("code"))
' <"$WORK/out" | tr '\n' ' '
}

## a batch waiting for a lock: stopped, nothing written, then or later

for sig in TERM HUP INT; do
	case $sig in TERM) want=143 ;; HUP) want=129 ;; INT) want=130 ;; esac
	d=$(case_dir "lock-$sig")
	cp "$FIX/win10.hive" "$d/SYSTEM"
	cp "$FIX/win7.hive" "$d/B"
	cp "$FIX/xp.hive" "$d/C"
	hold_lock "$d/SYSTEM"
	start set -j 1 --json --non-interactive 512 "$d/SYSTEM" "$d/B" "$d/C"
	w=$(worker)
	if ! waiting_for_lock "$d/SYSTEM"; then
		not_ok "SIG$sig: the worker waits for the lock" "$(cat /proc/locks)"
	fi
	kill -"$sig" "$PID"
	finish_run
	expect_rc "$want" "SIG$sig to deskheap: it exits as killed by SIG$sig"
	check "SIG$sig: its worker has ended too" sh -c "! kill -0 $w 2>/dev/null"
	check "SIG$sig: each target is reported interrupted, in order" \
		test "$(json_codes)" = "failed interrupted failed interrupted failed interrupted "
	contains "$OUT" "while waiting for another run's lock" \
		"SIG$sig: the first says it was stopped waiting for the lock"
	contains "$OUT" "before deskheap came to this target" \
		"SIG$sig: the others say they were not started"
	kill "$HOLDER"
	wait "$HOLDER" 2>/dev/null
	# The lock is free now: a worker left running would write now.
	sleep 0.5
	check "SIG$sig: the hives are unchanged, also once the lock is free" \
		sh -c "cmp -s '$d/SYSTEM' '$FIX/win10.hive' && cmp -s '$d/B' '$FIX/win7.hive' && cmp -s '$d/C' '$FIX/xp.hive'"
	check "SIG$sig: no file was made" test "$(listing "$d")" = "B C SYSTEM "
done

d=$(case_dir lock-text)
cp "$FIX/win10.hive" "$d/SYSTEM"
hold_lock "$d/SYSTEM"
start set --non-interactive 512 "$d/SYSTEM"
waiting_for_lock "$d/SYSTEM"
kill -TERM "$PID"
finish_run
kill "$HOLDER"
wait "$HOLDER" 2>/dev/null
expect_rc 143 "text output: SIGTERM"
contains "$ERR" "$d/SYSTEM: failed: interrupted (signal 15" "the text report says interrupted, naming the hive"
contains "$ERR" "was not changed" "and that it was not changed"

## the commit's safe points (a failpoint stops the worker there)

if ! "$DESKHEAP" --version | grep -q failpoints; then
	skip "the commit's safe points need a build with --enable-failpoints"
	exit 0
fi

# term_at POINT ARGS...: deskheap ARGS... with its worker stopped at the
# failpoint POINT; SIGTERM to deskheap, passed on to the worker, which is
# then continued; its pid in W, the run's outcome as finish_run gives it.
term_at() {
	point=$1
	shift
	DESKHEAP_FAILPOINT=$point:stop start "$@"
	W=$(worker)
	stopped "$W"
	kill -TERM "$PID"
	forwarded "$W"
	kill -CONT "$W"
	finish_run
}

# At the journal, the last safe point: stopped, everything it made removed.
for point in write backup journal; do
	d=$(case_dir "stop-$point")
	cp "$FIX/new-one"/* "$d/"
	term_at "$point" set --non-interactive 512 "$d/SYSTEM"
	w=$W
	expect_rc 143 "stopped at $point, SIGTERM: deskheap exits as killed by it"
	contains "$ERR" "interrupted (signal 15, Terminated) before the hive was replaced" \
		"stopped at $point: the report says interrupted before the hive was replaced"
	check "stopped at $point: the hive and its logs are unchanged" \
		sh -c "cmp -s '$d/SYSTEM' '$FIX/new-one/SYSTEM' && cmp -s '$d/SYSTEM.LOG1' '$FIX/new-one/SYSTEM.LOG1'"
	check "stopped at $point: no temporary file or backup is left" \
		test "$(listing "$d")" = "SYSTEM SYSTEM.LOG1 SYSTEM.LOG2 "
	check "stopped at $point: the worker has ended" sh -c "! kill -0 $w 2>/dev/null"
done

# Past the hive's rename (a retired log's empty file going in): the change
# is completed, not left half-done.
d=$(case_dir stop-after-rename)
cp "$FIX/new-one"/* "$d/"
term_at log-rename set --json --non-interactive 512 "$d/SYSTEM"
w=$W
expect_rc 143 "past the point of no return, SIGTERM: deskheap still exits as killed by it"
check "past the point of no return: the worker finished and reports changed" \
	test "$(json_codes)" = "changed None "
contains "$(windows_value "$d/SYSTEM")" "SharedSection=1024,20480,512 " "the hive holds the change"
check "both logs were retired (empty beside the hive)" \
	test ! -s "$d/SYSTEM.LOG1" -a ! -s "$d/SYSTEM.LOG2"
check "the worker has ended" sh -c "! kill -0 $w 2>/dev/null"
