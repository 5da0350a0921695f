#!/bin/sh
# deskheap on a real NTFS volume: mkntfs on an image file, mounted with
# ntfs-3g, Windows/System32/config laid out, the hive given a distinctive
# security descriptor, attributes and a named stream, patched through the
# volume root; the NTFS metadata must be as before, also after an unmount
# and a remount; then restore. Skipped, with a message, without root, FUSE,
# ntfs-3g (mkntfs) or attr (getfattr, setfattr).
. "${top_srcdir:-.}/tests/lib.sh"

PATH=$PATH:/sbin:/usr/sbin
CFG=Windows/System32/config
IMG="$WORK/ntfs.img"
MNT="$WORK/mnt"
NTFS_PID=

. "${top_srcdir:-.}/tests/ntfs3g.sh"

missing=
[ "$(id -u)" -eq 0 ] || missing="$missing root"
[ -c /dev/fuse ] || missing="$missing /dev/fuse"
for t in truncate mkntfs ntfs-3g getfattr setfattr umount; do
	command -v "$t" >/dev/null 2>&1 || missing="$missing $t"
done
if [ -n "$missing" ]; then
	skip "NTFS tests need root, /dev/fuse, ntfs-3g (mkntfs) and attr (getfattr, setfattr); missing:$missing"
	exit 0
fi
mkdir "$MNT"
if ! truncate -s 64M "$IMG" || ! mkntfs -F -Q -q "$IMG" >/dev/null 2>&1; then
	skip "NTFS tests: mkntfs could not make a 64 MB image"
	exit 0
fi
if ! mount_ntfs; then
	skip "NTFS tests: ntfs-3g could not mount an image here (FUSE unavailable?): $(tail -n 3 "$WORK/ntfs-3g.log" | tr '\n' ' ')"
	exit 0
fi

# xattr NAME FILE: the attribute's value in hex, empty when it has none.
xattr() {
	getfattr -n "$1" -e hex "$2" 2>/dev/null | sed -n "s/^$1=//p"
}

ino() {
	stat -c %i "$1"
}

backups() {
	ls -A "$1" | grep -E '\.deskheap-[0-9]{4,}-[0-9]{8}T[0-9]{6}Z\.bak$'
}

## lay out the volume; a distinctive descriptor, attributes, a named stream

D="$MNT/$CFG"
H="$D/SYSTEM"
mkdir -p "$D"
cp "$FIX/win10.hive" "$H"
: >"$MNT/plain"
ACL_DEFAULT=$(xattr system.ntfs_acl "$MNT/plain")
# $Boot's descriptor (a SYSTEM and Administrators-only one), not the default
# one a new file gets.
ACL_WANT=$(xattr system.ntfs_acl "$MNT/\$Boot")
[ -n "$ACL_WANT" ] && setfattr -n system.ntfs_acl -v "$ACL_WANT" "$H"
setfattr -n system.ntfs_attrib -v 0x26000000 "$H"       # hidden, system, archive
setfattr -n user.deskheap-test -v 0x0123456789abcdef "$H" # a named data stream
ACL0=$(xattr system.ntfs_acl "$H")
ATTR0=$(xattr system.ntfs_attrib "$H")
ADS0=$(xattr user.deskheap-test "$H")
INO0=$(ino "$H")
check "the hive has a descriptor ($ACL0)" test -n "$ACL0"
check "the hive's descriptor is not the default one" test "$ACL0" != "$ACL_DEFAULT"
check "the hive's descriptor is the one set" test "$ACL0" = "$ACL_WANT"
check "the hive is hidden, system, archive" test "$ATTR0" = 0x26000000
check "the hive has a named data stream" test "$ADS0" = 0x0123456789abcdef

# same_metadata WHEN FILE: FILE has the hive's original NTFS metadata.
same_metadata() {
	check "$1: the security descriptor (system.ntfs_acl) is the original's" test "$(xattr system.ntfs_acl "$2")" = "$ACL0"
	check "$1: the attributes (system.ntfs_attrib) are the original's" test "$(xattr system.ntfs_attrib "$2")" = "$ATTR0"
	check "$1: the named data stream is the original's" test "$(xattr user.deskheap-test "$2")" = "$ADS0"
}

## set through the volume root

run set --non-interactive 512 "$MNT"
expect_rc 0 "set through the root of an ntfs-3g mount"
contains "$OUT" "$H: changed" "the report names the hive on NTFS"
B=$(backups "$D")

# patched WHEN: the state right after set.
patched() {
	contains "$(windows_value "$H")" "SharedSection=1024,20480,512 " "$1: the hive holds the new value"
	same_metadata "$1: the new hive" "$H"
	check "$1: the hive is a new file (replaced, not written in place)" test "$(ino "$H")" != "$INO0"
	check "$1: the backup is byte-identical to the original" cmp -s "$D/$B" "$FIX/win10.hive"
	check "$1: the backup is the original file itself (hard link, same inode)" test "$(ino "$D/$B")" = "$INO0"
	check "$1: the backup has one link left (the hive's name went to the new file)" test "$(stat -c %h "$D/$B")" -eq 1
	same_metadata "$1: the backup" "$D/$B"
	check "$1: nothing but the hive and its backup in config" test "$(listing "$D")" = "SYSTEM $B "
}
patched "after set"
unmount_ntfs
check "the volume unmounts after set" test $? -eq 0
mount_ntfs
check "the volume mounts again" is_mounted
patched "after a remount"
run check --non-interactive 512 "$MNT"
expect_rc 0 "check through the remounted root agrees"
run show "$MNT"
contains "$OUT" "(hive clean)" "the hive written on NTFS is clean"

## read-only mount: refused, nothing changed

unmount_ntfs
if ! mount_ntfs ro; then
	not_ok "the volume mounts read-only"
	mount_ntfs
else
	cp "$H" "$WORK/patched"
	run set --non-interactive 256 "$MNT"
	expect_rc 3 "set on a read-only ntfs-3g mount"
	contains "$ERR" "Read-only file system" "the error gives the cause"
	check "the hive on the read-only mount is unchanged" cmp -s "$H" "$WORK/patched"
	unmount_ntfs
	mount_ntfs
fi

## restore round trip on NTFS

cp "$H" "$WORK/patched"
run restore --json "$MNT"
expect_rc 0 "restore through the root of an ntfs-3g mount"
R=$(python3 -c 'import json, sys; print(json.loads(sys.stdin.readline())["backup"])' <"$WORK/out")

restored() {
	check "$1: the hive is byte-identical to the original" cmp -s "$H" "$FIX/win10.hive"
	same_metadata "$1: the restored hive" "$H"
	check "$1: restore's backup is the patched hive" cmp -s "$R" "$WORK/patched"
	check "$1: the first backup is still the original" cmp -s "$D/$B" "$FIX/win10.hive"
	check "$1: two backups, no temporary file" test "$(listing "$D")" = "SYSTEM $(backups "$D" | sort | tr '\n' ' ')"
	check "$1: two backups" test "$(backups "$D" | wc -l)" -eq 2
}
restored "after restore"
unmount_ntfs
mount_ntfs
check "the volume mounts again after restore" is_mounted
restored "after restore and a remount"
run check --non-interactive 768 "$MNT"
expect_rc 0 "check sees the original value again"

## --commit in-place: the hive written where it is, log first; restore too

# Windows keeps two logs beside a hive, with the hive's descriptor; an
# in-place commit writes into one of them and creates none.
for f in LOG1 LOG2; do
	: >"$H.$f"
	[ -n "$ACL_WANT" ] && setfattr -n system.ntfs_acl -v "$ACL_WANT" "$H.$f"
done
INO1=$(ino "$H")
INO_LOG=$(ino "$H.LOG1")
cp "$H" "$WORK/before-in-place"
run set --json --commit in-place --log-format new --non-interactive 512 "$MNT"
expect_rc 0 "set --commit in-place through the root of an ntfs-3g mount"
contains "$OUT" '"commit":"in-place"' "the JSON says the commit was in place"
contains "$OUT" "\"log_written\":\"$H.LOG1\"" "the JSON names the log written"
B=$(python3 -c 'import json, sys; print(json.loads(sys.stdin.readline())["backup"])' <"$WORK/out")

# in_place WHEN VALUE: the hive holds SharedSection=1024,20480,VALUE and is
# still the same file, with its descriptor, attributes and stream; so is
# the log written.
in_place() {
	contains "$(windows_value "$H")" "SharedSection=1024,20480,$2 " "$1: the hive holds the third number $2"
	check "$1: the hive keeps its inode number" test "$(ino "$H")" = "$INO1"
	same_metadata "$1: the hive written in place" "$H"
	check "$1: the log written keeps its inode number" test "$(ino "$H.LOG1")" = "$INO_LOG"
	check "$1: the log written keeps its descriptor" test "$(xattr system.ntfs_acl "$H.LOG1")" = "$ACL0"
}
in_place "after set --commit in-place" 512
check "the in-place backup is byte-identical to the hive before" cmp -s "$B" "$WORK/before-in-place"
check "the in-place backup is a copy, not a link to the hive" test "$(ino "$B")" != "$INO1"
unmount_ntfs
mount_ntfs
in_place "after set --commit in-place and a remount" 512
run show "$MNT"
contains "$OUT" "(hive clean)" "the hive written in place is clean"

run restore --json --commit in-place "$MNT"
expect_rc 0 "restore --commit in-place through the root of an ntfs-3g mount"
contains "$OUT" '"commit":"in-place"' "the JSON says the restore was in place"
unmount_ntfs
mount_ntfs
in_place "after restore --commit in-place and a remount" 768
# Past the signature and the two sequence numbers (in place, the next
# ones), the hive is the one before set.
check "after restore in place, the hive is the one before set but for its sequence numbers" \
	cmp -s -i 12 "$H" "$WORK/before-in-place"

## a dirty hive on NTFS: the backup set holds the logs, restore puts all back

N="$MNT/dirty/WINNT/system32/config"
mkdir -p "$N"
cp "$FIX/new-split"/* "$N/"
setfattr -n system.ntfs_attrib -v 0x26000000 "$N/SYSTEM"
run set --non-interactive 512 "$MNT/dirty"
expect_rc 0 "set on a dirty hive with its logs on NTFS"
contains "$(windows_value "$N/SYSTEM")" "SharedSection=1024,20480,512 " "the replayed, patched hive is on NTFS"
check "the dirty hive's attributes survive" test "$(xattr system.ntfs_attrib "$N/SYSTEM")" = 0x26000000
check "the backup set holds both logs" test "$(ls "$N" | grep -cE '\.bak\.LOG[12]$')" -eq 2
run restore "$MNT/dirty"
expect_rc 0 "restore of the dirty hive on NTFS"
unmount_ntfs
mount_ntfs
for f in SYSTEM SYSTEM.LOG1 SYSTEM.LOG2; do
	check "after restore and a remount, $f is byte-identical to the original" cmp -s "$N/$f" "$FIX/new-split/$f"
done

unmount_ntfs
check "the volume unmounts at the end" test $? -eq 0
