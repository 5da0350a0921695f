#!/bin/sh
# Disk images as targets, opened by deskheap itself through libguestfs.
# One guestfish launch builds three images:
#   A  raw, one NTFS partition: the real, dirty Windows 10 SYSTEM_B and both
#      its logs (../shared/corpus), each with a descriptor of its own;
#   C  converted to qcow2, three NTFS partitions: sda1 and sda2 each hold a
#      Windows with the clean sample SYSTEM, sda1 hibernated (hiberfil.sys
#      starting "hibr"), sda3 nothing;
#   D  raw, one NTFS partition and no Windows.
# Then each deskheap run is one appliance launch, and a last guestfish
# launch reads back A as set left it (a copy), A after restore and, in a
# failpoints build, a copy of A whose set was killed during the write-back.
# Read-only runs must leave an image byte-identical; a set must keep the
# hive's descriptor and inode. Skipped, with the reason, where libguestfs
# cannot run, this deskheap has no libguestfs, or the corpus is absent.
. "${top_srcdir:-.}/tests/lib.sh"
. "${top_srcdir:-.}/tests/guestfs.sh"

CORPUS=${DESKHEAP_CORPUS:-${top_srcdir:-.}/../shared/corpus}
SAMPLE="${top_srcdir:-.}/testdata/SYSTEM.sample"
CFG=$GUESTFS_CFG
A="$WORK/a.img"
C="$WORK/c.img"
CQ="$WORK/c.qcow2"
D="$WORK/d.img"
SRC="$WORK/src"

# timed WHAT COMMAND...: runs COMMAND, saying how long it took in a TAP
# comment (on fd 3, the test's output).
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

missing=$(guestfs_missing qemu-img)
if [ -n "$missing" ]; then
	skip "image tests need libguestfs (guestfish, qemu, a kernel in /boot) and qemu-img; missing:$missing"
	exit 0
fi
if [ ! -d "$CORPUS/regipy" ]; then
	skip "image tests: corpus absent at $CORPUS (set DESKHEAP_CORPUS)"
	exit 0
fi
mkdir "$SRC" "$WORK/back"
for f in SYSTEM_B SYSTEM_B.LOG1 SYSTEM_B.LOG2; do
	xz -dc "$CORPUS/regipy/$f.xz" >"$SRC/SYSTEM${f#SYSTEM_B}"
done

# A deskheap without libguestfs says so, and that is all it can be asked.
truncate -s 1M "$WORK/probe.img"
run show --format raw "$WORK/probe.img"
case $ERR in
*"built without libguestfs"*)
	contains "$ERR" "guestmount" "without libguestfs, an image target is refused with the way to mount it"
	skip "image tests: $DESKHEAP was built without libguestfs"
	exit 0 ;;
esac

## launch 1: the three images, and the facts of A's files

# windows DEV HIVE: the guestfish commands that format DEV and put HIVE
# there as config/SYSTEM, mode 0640 (a descriptor of its own).
windows() {
	printf 'mkfs ntfs %s\nmount-options permissions %s /\nmkdir-p %s\n' "$1" "$1" "$CFG"
	printf 'upload "%s" "%s/SYSTEM"\nchmod 0640 "%s/SYSTEM"\n' "$2" "$CFG" "$CFG"
}
facts_of_a() {
	guestfs_facts hive "$CFG/SYSTEM"
	guestfs_facts log1 "$CFG/SYSTEM.LOG1"
	guestfs_facts log2 "$CFG/SYSTEM.LOG2"
}
truncate -s 96M "$C"
truncate -s 16M "$D"
if ! {
	facts_of_a
	printf 'umount /\npart-init /dev/sdb mbr\n'
	printf 'part-add /dev/sdb p 2048 63487\npart-add /dev/sdb p 63488 124927\npart-add /dev/sdb p 124928 190000\n'
	windows /dev/sdb1 "$SAMPLE"
	printf 'write /hiberfil.sys "hibrXXXXXXXXXXXX"\numount /\n'
	windows /dev/sdb2 "$SAMPLE"
	printf 'umount /\nmkfs ntfs /dev/sdb3\n'
	printf 'part-disk /dev/sdc mbr\nmkfs ntfs /dev/sdc1\nmount /dev/sdc1 /\nmkdir-p /Windows/System32\n'
} | timed "appliance launch 1 (build three images, read A)" guestfs_image "$A" "$SRC" "$C" "$D" >"$WORK/before" 2>"$WORK/gf.err"; then
	skip "image tests: libguestfs cannot build an image here: $(tail -n 3 "$WORK/gf.err" | tr '\n' ' ')"
	exit 0
fi
qemu-img convert -f raw -O qcow2 "$C" "$CQ" && rm -f "$C"
check "the hive has a descriptor and an inode number in image A" \
	test -n "$(fact hive.acl "$WORK/before")" -a -n "$(fact hive.ino "$WORK/before")"
cp "$A" "$WORK/a.orig"
cp "$A" "$WORK/ak.img"
cp "$CQ" "$WORK/c.orig"
cp "$D" "$WORK/d.orig"

## read-only runs: the images stay byte-identical

timed "set -n on A" run set --json -n --non-interactive 512 "$A"
expect_rc 0 "set -n on the raw image A (dirty SYSTEM_B, both logs)"
contains "$OUT" "\"image\":{\"path\":\"$A\",\"format\":\"raw\",\"partition\":\"/dev/sda1\",\"system_root\":\"/Windows\"}" \
	"JSON has the image object: path, format (sniffed), partition, system root"
contains "$OUT" '"status":"would-change"' "set -n says the hive would change"
check "set -n leaves image A byte-identical" cmp -s "$A" "$WORK/a.orig"

timed "show on C" run show --json "$CQ"
expect_rc 3 "show on C, two Windows, without --partition"
contains "$OUT" '"code":"several-windows"' "the error code is several-windows"
contains "$OUT" "/dev/sda1 (/Windows), /dev/sda2 (/Windows)" "the message lists both Windows"
contains "$OUT" "--partition" "the message names --partition"

timed "show --partition sda1 on C" run show --json --partition sda1 "$CQ"
expect_rc 0 "show --partition sda1 on C picks the hibernated Windows"
contains "$OUT" '"format":"qcow2","partition":"/dev/sda1"' "the qcow2 format is sniffed, partition sda1 is the one shown"
contains "$OUT$ERR" "hibernated" "show warns that Windows is hibernated"
contains "$OUT" "SharedSection=1024,3072" "show reads the sample's value out of the image"
check "show and the refusal leave image C byte-identical" cmp -s "$CQ" "$WORK/c.orig"

timed "set on hibernated C" run set --json --non-interactive 512 --partition /dev/sda1 "$CQ"
expect_rc 3 "set on the hibernated Windows of C is refused"
contains "$OUT" '"code":"hibernated"' "the error code is hibernated"
check "the refused set leaves image C byte-identical" cmp -s "$CQ" "$WORK/c.orig"
check "the refused set made no backup directory" test ! -e "$CQ.deskheap"

timed "check on D" run check --json --non-interactive 512 "$D"
expect_rc 3 "check on D, an NTFS volume without Windows"
contains "$OUT" '"code":"no-windows"' "the error code is no-windows"
check "check leaves image D byte-identical" cmp -s "$D" "$WORK/d.orig"

## set, then restore, on A

timed "set on A" run set --json --non-interactive 512 "$A"
expect_rc 0 "set on image A"
contains "$OUT" '"status":"changed"' "the hive in A is reported changed"
contains "$OUT" '"commit":"in-place"' "an image is always committed in place"
for f in SYSTEM SYSTEM.LOG1 SYSTEM.LOG2; do
	b=$(ls "$A.deskheap/sda1" 2>/dev/null | grep -E "^SYSTEM\.deskheap-.*\.bak${f#SYSTEM}\$")
	check "A.deskheap/sda1 holds a backup of $f, byte-identical to the original" \
		cmp -s "$A.deskheap/sda1/$b" "$SRC/$f"
done
check "A.deskheap is private (0700)" test "$(stat -c %a "$A.deskheap")" = 700
cp "$A" "$WORK/aset.img"

timed "restore A" run restore --json "$A"
expect_rc 0 "restore A"

if "$DESKHEAP" --version | grep -q failpoints; then
	DESKHEAP_FAILPOINT=image-write:kill@4 timed "set killed at image-write 4" \
		run set --non-interactive 512 --no-backup "$WORK/ak.img"
	check "the set on a copy of A is killed at its fourth image write (exit $RC)" test "$RC" -eq 137
	KILLED=yes
else
	skip "the kill during the write-back needs a failpoints build (configure --enable-failpoints)"
	KILLED=
fi

## the last launch: the images read back

read_image() { # DEV NAME: facts and files of the Windows on DEV, into $WORK/back/NAME
	mkdir "$WORK/back/$2"
	printf 'mount-ro %s /\n' "$1"
	guestfs_facts "$2.hive" "$CFG/SYSTEM"
	guestfs_facts "$2.log1" "$CFG/SYSTEM.LOG1"
	guestfs_facts "$2.log2" "$CFG/SYSTEM.LOG2"
	printf 'ls "%s" | { printf "%s.cfg "; sort | tr "\\n" " "; echo; }\n' "$CFG" "$2"
	for f in SYSTEM SYSTEM.LOG1 SYSTEM.LOG2; do
		printf 'download "%s/%s" "%s/%s/%s"\n' "$CFG" "$f" "$WORK/back" "$2" "$f"
	done
	printf 'umount /\n'
}
if ! {
	printf 'add "%s" readonly:true format:raw\nadd "%s" readonly:true format:raw\n' "$WORK/aset.img" "$A"
	[ -z "$KILLED" ] || printf 'add "%s" readonly:true format:raw\n' "$WORK/ak.img"
	printf 'run\n'
	read_image /dev/sda1 set
	read_image /dev/sdb1 restored
	[ -z "$KILLED" ] || read_image /dev/sdc1 killed
} | timed "appliance launch (read the images back)" guestfish >"$WORK/after" 2>"$WORK/gf.err"; then
	not_ok "the images read back in the appliance" "$(cat "$WORK/gf.err")"
	exit 1
fi
for k in hive log1 log2; do
	check "after set, $k: the security descriptor is the same bytes" \
		test "$(fact "set.$k.acl" "$WORK/after")" = "$(fact "$k.acl" "$WORK/before")"
	check "after set, $k: the inode number is the same" \
		test "$(fact "set.$k.ino" "$WORK/after")" = "$(fact "$k.ino" "$WORK/before")"
done
check "after set, config holds no other file" test "$(fact set.cfg "$WORK/after")" = "SYSTEM SYSTEM.LOG1 SYSTEM.LOG2 "
contains "$(windows_value "$WORK/back/set/SYSTEM")" "SharedSection=1024,20480,512 " "the hive in the image holds the new value"
run show "$WORK/back/set/SYSTEM"
contains "$OUT" "(hive clean)" "the hive read out after set is clean"

# The same set on a copy on this filesystem: the image's hive must hold
# the same keys and values, the pending log entries replayed.
mkdir "$WORK/host"
cp "$SRC"/* "$WORK/host/"
run set --non-interactive 512 --no-backup "$WORK/host/SYSTEM"
export_hive "$WORK/host/SYSTEM" >"$WORK/host.reg"
export_hive "$WORK/back/set/SYSTEM" >"$WORK/set.reg"
check "the image's hive has every key and value of the same set on the host" cmp -s "$WORK/host.reg" "$WORK/set.reg"

for f in SYSTEM SYSTEM.LOG1 SYSTEM.LOG2; do
	check "after restore, $f in the image is the original, byte for byte" \
		cmp -s "$WORK/back/restored/$f" "$SRC/$f"
done
check "after restore, the hive's descriptor and inode are the original ones" \
	test "$(fact restored.hive.acl "$WORK/after") $(fact restored.hive.ino "$WORK/after")" = \
	"$(fact hive.acl "$WORK/before") $(fact hive.ino "$WORK/before")"

[ -n "$KILLED" ] || exit 0

# view DIR: the hive Windows would load from DIR's hive and logs (they
# replayed on a copy by deskheap recover): a checksum of its export.
view() {
	v="$WORK/view"
	rm -rf "$v"
	mkdir "$v"
	cp "$1"/SYSTEM* "$v/"
	"$DESKHEAP" recover -q --no-backup "$v/SYSTEM" >/dev/null 2>&1 ||
		{ echo "unloadable"; return; }
	export_hive "$v/SYSTEM" | cksum
}
old=$(view "$SRC")
new=$(view "$WORK/back/set")
killed=$(view "$WORK/back/killed")
check "the kill left the image's files other than they were (a write was played)" \
	sh -c '! cmp -s "$1/SYSTEM" "$2/SYSTEM" || ! cmp -s "$1/SYSTEM.LOG1" "$2/SYSTEM.LOG1" || ! cmp -s "$1/SYSTEM.LOG2" "$2/SYSTEM.LOG2"' \
	sh "$WORK/back/killed" "$SRC"
check "after the kill, the image's hive replayed with its logs is the old or the new one" \
	test "$killed" = "$old" -o "$killed" = "$new"
check "the old and the new hive differ (the check above can tell them apart)" test "$old" != "$new"
