#!/bin/sh
# deskheap through guestmount, the README's way into a disk image: a raw
# image with an NTFS volume holding the real, dirty Windows 10 SYSTEM_B
# and both its logs (../shared/corpus), each with a descriptor of its own.
# guestmount serves no system.ntfs_acl, so a replace commit could not keep
# the descriptor: auto must commit in place, replace must be refused, and
# the image, read back in the appliance, must have the same descriptors,
# inode numbers and named stream, the new value and no leftover file.
# Three appliance launches: build and read, guestmount, read back.
# Skipped, with the reason, where libguestfs, guestmount or FUSE cannot
# run, or the corpus is absent.
. "${top_srcdir:-.}/tests/lib.sh"
. "${top_srcdir:-.}/tests/guestfs.sh"

CORPUS=${DESKHEAP_CORPUS:-${top_srcdir:-.}/../shared/corpus}
IMG="$WORK/win.img"
MNT="$WORK/mnt"
SRC="$WORK/src"
CFG=$GUESTFS_CFG
GM_PID=

is_mounted() {
	grep -q " $MNT fuse" /proc/self/mounts
}

# unmount: guestunmount, then wait until guestmount has exited, which it
# does once the appliance has synced and shut down.
unmount() {
	is_mounted && guestunmount "$MNT"
	[ -n "$GM_PID" ] || return 0
	tries=0
	while kill -0 "$GM_PID" 2>/dev/null; do
		tries=$((tries + 1))
		[ $tries -le 600 ] || return 1
		sleep 0.1
	done
	GM_PID=
}

guestmount_exit() {
	rc=$?
	unmount >/dev/null 2>&1
	(exit "$rc")
	finish
}
trap guestmount_exit EXIT
trap 'exit 1' HUP INT TERM

# timed WHAT COMMAND...: runs COMMAND, saying how long it took in a TAP
# comment (on fd 3, the test's output, whatever COMMAND's output goes to).
exec 3>&1
timed() {
	what=$1
	shift
	t0=$(date +%s)
	"$@"
	trc=$?
	echo "# $what: $(($(date +%s) - t0)) s" >&3
	return $trc
}

missing=$(guestfs_missing guestmount guestunmount getfattr)
[ -w /dev/fuse ] || missing="$missing /dev/fuse"
if [ -n "$missing" ]; then
	skip "guestmount tests need libguestfs (guestfish, guestmount, a kernel in /boot), FUSE and attr; missing:$missing"
	exit 0
fi
if [ ! -d "$CORPUS/regipy" ]; then
	skip "guestmount tests: corpus absent at $CORPUS (set DESKHEAP_CORPUS)"
	exit 0
fi
mkdir "$SRC" "$MNT" "$WORK/back" "$WORK/bk"
for f in SYSTEM_B SYSTEM_B.LOG1 SYSTEM_B.LOG2; do
	xz -dc "$CORPUS/regipy/$f.xz" >"$SRC/SYSTEM${f#SYSTEM_B}"
done

# facts_of_hive: the guestfish commands that read the hive's and its logs'
# descriptors and inode numbers, the hive's named stream and the folder.
facts_of_hive() {
	guestfs_facts hive "$CFG/SYSTEM"
	guestfs_facts log1 "$CFG/SYSTEM.LOG1"
	guestfs_facts log2 "$CFG/SYSTEM.LOG2"
	printf 'getxattr "%s/SYSTEM" user.deskheap-test | { printf "hive.stream "; cat; echo; }\n' "$CFG"
	printf 'ls "%s" | { printf "cfg "; sort | tr "\\n" " "; echo; }\n' "$CFG"
}

## launch 1: the image, a named stream on the hive, what it has, and the
## descriptor of a file made under the appliance's default mount

if ! {
	printf 'setxattr user.deskheap-test stream-marker 13 "%s/SYSTEM"\n' "$CFG"
	facts_of_hive
	printf 'umount /\nmount /dev/sda1 /\ntouch /plain\n'
	guestfs_facts plain /plain
} | timed "appliance launch 1 (build the image, read it)" guestfs_image "$IMG" "$SRC" >"$WORK/before" 2>"$WORK/gf.err"; then
	skip "guestmount tests: libguestfs cannot build an image here: $(tail -n 3 "$WORK/gf.err" | tr '\n' ' ')"
	exit 0
fi
ACL0=$(fact hive.acl "$WORK/before")
INO0=$(fact hive.ino "$WORK/before")
check "the hive has a descriptor in the image ($((${#ACL0} / 2)) bytes)" test -n "$ACL0"
check "the hive's descriptor is not the one a new file gets" test "$ACL0" != "$(fact plain.acl "$WORK/before")"
check "the hive has an inode number ($INO0)" test -n "$INO0"
check "the hive has the named stream" test "$(fact hive.stream "$WORK/before")" = stream-marker
check "the folder holds the hive and its two logs" test "$(fact cfg "$WORK/before")" = "SYSTEM SYSTEM.LOG1 SYSTEM.LOG2 "

## launch 2: guestmount, read-write

if ! timed "appliance launch 2 (guestmount)" guestmount --format=raw -a "$IMG" -m /dev/sda1 \
	--pid-file "$WORK/gm.pid" "$MNT" 2>"$WORK/gm.err"; then
	not_ok "guestmount mounts the image" "$(cat "$WORK/gm.err")"
	exit 1
fi
GM_PID=$(cat "$WORK/gm.pid")
H="$MNT$CFG/SYSTEM"
check "the hive reads through guestmount as uploaded" cmp -s "$H" "$SRC/SYSTEM"
check "guestmount serves no system.ntfs_acl (the descriptor cannot be read)" \
	sh -c '! getfattr -n system.ntfs_acl "$1" >/dev/null 2>&1' sh "$H"

run set --json --non-interactive 256 --commit replace "$MNT"
expect_rc 3 "set --commit replace through guestmount is refused"
contains "$OUT" '"code":"argument"' "the refusal is an argument error"
check "after the refusal the hive is as it was" cmp -s "$H" "$SRC/SYSTEM"
check "after the refusal the logs are as they were" \
	sh -c 'cmp -s "$1.LOG1" "$2.LOG1" && cmp -s "$1.LOG2" "$2.LOG2"' sh "$H" "$SRC/SYSTEM"
check "after the refusal the folder holds nothing new" test "$(listing "$MNT$CFG")" = "SYSTEM SYSTEM.LOG1 SYSTEM.LOG2 "

timed "set through guestmount" run set --json --non-interactive 512 --backup-dir "$WORK/bk" "$MNT"
expect_rc 0 "set (commit auto) through guestmount"
contains "$OUT" '"commit":"in-place"' "auto commits in place where the descriptor cannot be read"
contains "$OUT" '"status":"changed"' "the hive is reported changed"
contains "$OUT" '"log_format":"new"' "the log written is in the format of SYSTEM_B's logs"
bk="$WORK/bk/$(backup_subdir "$MNT")"
for f in SYSTEM SYSTEM.LOG1 SYSTEM.LOG2; do
	b=$(ls "$bk" | grep -E "^SYSTEM\.deskheap-.*\.bak${f#SYSTEM}\$")
	check "the backup of $f is byte-identical to the original" cmp -s "$bk/$b" "$SRC/$f"
done

timed "guestunmount until guestmount exits" unmount
check "guestmount unmounts and exits" test $? -eq 0

## launch 3: read back in the appliance

if ! {
	facts_of_hive
	for f in SYSTEM SYSTEM.LOG1 SYSTEM.LOG2; do
		printf 'download "%s/%s" "%s/%s"\n' "$CFG" "$f" "$WORK/back" "$f"
	done
} | timed "appliance launch 3 (read the image back)" guestfish --ro --format=raw -a "$IMG" -m /dev/sda1 \
	>"$WORK/after" 2>"$WORK/gf.err"; then
	not_ok "the image reads back in the appliance" "$(cat "$WORK/gf.err")"
	exit 1
fi
for k in hive log1 log2; do
	check "$k: the security descriptor is the same bytes" test "$(fact "$k.acl" "$WORK/after")" = "$(fact "$k.acl" "$WORK/before")"
	check "$k: the inode number is the same" test "$(fact "$k.ino" "$WORK/after")" = "$(fact "$k.ino" "$WORK/before")"
done
check "the hive keeps its named stream" test "$(fact hive.stream "$WORK/after")" = stream-marker
check "no temporary file is left in config" test "$(fact cfg "$WORK/after")" = "SYSTEM SYSTEM.LOG1 SYSTEM.LOG2 "
contains "$(windows_value "$WORK/back/SYSTEM")" "SharedSection=1024,20480,512 " "the hive in the image holds the new value"
run show "$WORK/back/SYSTEM"
expect_rc 0 "show on the hive read out of the image"
contains "$OUT" "(hive clean)" "the hive read out is clean"

# The same set on a copy on this filesystem (a replace commit): the image's
# hive must hold the same keys and values, the log entries replayed.
mkdir "$WORK/host"
cp "$SRC"/* "$WORK/host/"
run set --non-interactive 512 --no-backup "$WORK/host/SYSTEM"
expect_rc 0 "the same set on a copy on this filesystem"
export_hive "$WORK/host/SYSTEM" >"$WORK/host.reg"
export_hive "$WORK/back/SYSTEM" >"$WORK/back.reg"
check "the image's hive has every key and value of the hive set on the host" cmp -s "$WORK/host.reg" "$WORK/back.reg"
