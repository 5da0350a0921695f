#!/bin/sh
# deskheap set on a disk image in one appliance launch, the image made and
# read back on this machine (mkntfs and an ntfs-3g mount, as root): an NTFS
# filesystem filling the image (no partition table) holding the sample
# SYSTEM and the empty SYSTEM.LOG XP keeps. The set must find it, write
# in place through libguestfs, keep the hive's and the log's descriptor
# and inode number, leave no other file, and put its backup in
# --backup-dir. tests/image.sh covers the rest (nine launches); this is the
# one CI can afford. Skipped, with the reason, where libguestfs, FUSE or
# ntfs-3g cannot run.
. "${top_srcdir:-.}/tests/lib.sh"
. "${top_srcdir:-.}/tests/guestfs.sh"

PATH=$PATH:/sbin:/usr/sbin
IMG="$WORK/win.img"
MNT="$WORK/mnt"
CFG="$MNT/Windows/System32/config"
SAMPLE="${top_srcdir:-.}/testdata/SYSTEM.sample"
NTFS_PID=

. "${top_srcdir:-.}/tests/ntfs3g.sh"

missing=$(guestfs_missing mkntfs ntfs-3g getfattr)
[ "$(id -u)" -eq 0 ] || missing="$missing root"
[ -c /dev/fuse ] || missing="$missing /dev/fuse"
if [ -n "$missing" ]; then
	skip "a disk image made on this machine needs libguestfs, root, FUSE, ntfs-3g and attr; missing:$missing"
	exit 0
fi
if ! "$DESKHEAP" --version | grep -q libguestfs; then
	skip "$DESKHEAP was built without libguestfs (its --version names none)"
	exit 0
fi

# facts NAME: "NAME ACL-HEX INODE" of the file NAME in config, mounted.
facts() {
	printf '%s %s %s\n' "$1" \
		"$(getfattr -h -e hex -n system.ntfs_acl --only-values "$CFG/$1" 2>/dev/null | od -An -v -tx1 | tr -d ' \n')" \
		"$(stat -c %i "$CFG/$1")"
}

mkdir "$MNT" "$WORK/bk"
truncate -s 32M "$IMG"
mkntfs -F -Q -q "$IMG" >/dev/null 2>&1 || { skip "mkntfs could not make an image"; exit 0; }
mount_ntfs permissions || { skip "ntfs-3g cannot mount here: $(tail -n 2 "$WORK/ntfs-3g.log")"; exit 0; }
mkdir -p "$CFG"
cp "$SAMPLE" "$CFG/SYSTEM"
: >"$CFG/SYSTEM.LOG"
chmod 0640 "$CFG/SYSTEM" "$CFG/SYSTEM.LOG"
before=$(facts SYSTEM; facts SYSTEM.LOG)
unmount_ntfs
check "the hive has a descriptor and an inode number in the image" \
	test "$(echo "$before" | awk '$2 != "" && $3 != "" { n++ } END { print n }')" = 2

t0=$(date +%s)
run set --json --log-format old --non-interactive 512 --backup-dir "$WORK/bk" "$IMG"
echo "# one appliance launch: $(($(date +%s) - t0)) s"
expect_rc 0 "set on the image"
contains "$OUT" '"image":{"path":"'"$IMG"'","format":"raw","partition":"/dev/sda","system_root":"/Windows"}' \
	"the report names the image, its format, the filesystem and the system root"
contains "$OUT" '"status":"changed"' "the hive in the image is reported changed"
contains "$OUT" '"commit":"in-place"' "written in place"
check "--backup-dir holds the backup, the sample byte for byte" \
	sh -c 'cmp -s "$(find "$1" -name "SYSTEM.deskheap-*.bak" | head -n 1)" "$2"' sh "$WORK/bk" "$SAMPLE"

mount_ntfs ro || { not_ok "the image mounts again" "$(tail -n 2 "$WORK/ntfs-3g.log")"; exit 1; }
after=$(facts SYSTEM; facts SYSTEM.LOG)
check "the hive and its log keep their descriptors and inode numbers" test "$after" = "$before"
check "config holds no other file" test "$(listing "$CFG")" = "SYSTEM SYSTEM.LOG "
contains "$(windows_value "$CFG/SYSTEM")" ",512 " "the hive in the image holds the new value"
run show "$CFG/SYSTEM"
contains "$OUT" "(hive clean)" "the hive in the image is clean"
unmount_ntfs
