#!/bin/sh
# Disk images as targets, opened by deskheap itself through libguestfs.
# An appliance launch costs 15 to 50 s where only TCG runs, so the test
# makes few of them, each with many checks, and runs the deskheap runs on
# different images side by side (a TCG appliance keeps one core busy):
#   build  one guestfish launch makes
#          A  raw, one NTFS partition: the real, dirty Windows 10 SYSTEM_B
#             and both its logs (../shared/corpus), each with a descriptor
#             of its own;
#          C  qcow2, three NTFS partitions: sda1 and sda2 each a Windows
#             XP with the clean sample SYSTEM and an empty SYSTEM.LOG, sda1
#             hibernated (hiberfil.sys starting "hibr"), sda3 nothing;
#          D  raw, one NTFS partition and no Windows;
#   round 1, side by side: set -n on a copy of A and on D (one deskheap,
#          -j 2); set on A; set --backup-dir on C (both Windows: two
#          reports, in text); in a failpoints build, set on a copy of A
#          killed during the write-back;
#   round 2, side by side: restore A; restore --partition sda2
#          --backup-dir on C;
#   read   one guestfish launch reads back A as set left it (a copy), A
#          restored, C as set left it (a copy), C restored, the killed copy.
# Read-only runs must leave an image byte-identical; a set must keep the
# hive's descriptor and inode. Skipped, with the reason, where libguestfs
# cannot run, this deskheap has no libguestfs, or the corpus is absent.
. "${top_srcdir:-.}/tests/lib.sh"
. "${top_srcdir:-.}/tests/guestfs.sh"

CORPUS=${DESKHEAP_CORPUS:-${top_srcdir:-.}/../shared/corpus}
SAMPLE="$WORK/sample/SYSTEM"
CFG=$GUESTFS_CFG
A="$WORK/a.img"
C="$WORK/c.img"
CQ="$WORK/c.qcow2"
D="$WORK/d.img"
SRC="$WORK/src"
BD="$WORK/backups"
T0=$(date +%s)

# took WHAT: a TAP comment saying how long the test has run, after WHAT.
took() {
	echo "# $1: $(($(date +%s) - T0)) s"
}

# spawn NAME COMMAND...: COMMAND in the background, its output, error
# output and exit status in $WORK/NAME.{out,err,rc}; after wait, result
# NAME sets OUT, ERR and RC as run does.
spawn() {
	name=$1
	shift
	{
		s=$(date +%s)
		"$@" >"$WORK/$name.out" 2>"$WORK/$name.err"
		echo $? >"$WORK/$name.rc"
		echo "# $name: $(($(date +%s) - s)) s"
	} &
}
result() {
	OUT=$(cat "$WORK/$1.out")
	ERR=$(cat "$WORK/$1.err")
	RC=$(cat "$WORK/$1.rc")
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
mkdir "$SRC" "$WORK/back" "$BD" "$WORK/sample"
cp "${top_srcdir:-.}/testdata/SYSTEM.sample" "$SAMPLE"
for f in SYSTEM_B SYSTEM_B.LOG1 SYSTEM_B.LOG2; do
	xz -dc "$CORPUS/regipy/$f.xz" >"$SRC/SYSTEM${f#SYSTEM_B}"
done

# A deskheap without libguestfs (its --version names none) says so, and
# that is all it can be asked.
if ! "$DESKHEAP" --version | grep -q libguestfs; then
	truncate -s 1M "$WORK/probe.img"
	run show --format raw "$WORK/probe.img"
	contains "$ERR" "built without libguestfs" "without libguestfs, an image target is refused"
	contains "$ERR" "guestmount" "the refusal gives the way to mount it instead"
	skip "image tests: $DESKHEAP was built without libguestfs"
	exit 0
fi

## build: the three images, and the facts of their hives

# windows DEV: the guestfish commands that format DEV and put the sample
# (an XP hive) there as config/SYSTEM, mode 0640 (a descriptor of its
# own), beside an empty SYSTEM.LOG, as XP keeps it.
windows() {
	printf 'mkfs ntfs %s\nmount-options permissions %s /\nmkdir-p %s\n' "$1" "$1" "$CFG"
	printf 'upload "%s" "%s/SYSTEM"\nchmod 0640 "%s/SYSTEM"\n' "$SAMPLE" "$CFG" "$CFG"
	printf 'touch "%s/SYSTEM.LOG"\nchmod 0640 "%s/SYSTEM.LOG"\n' "$CFG" "$CFG"
}
truncate -s 96M "$C"
truncate -s 16M "$D"
if ! {
	for f in SYSTEM SYSTEM.LOG1 SYSTEM.LOG2; do guestfs_facts "$f" "$CFG/$f"; done
	printf 'umount /\npart-init /dev/sdb mbr\n'
	printf 'part-add /dev/sdb p 2048 63487\npart-add /dev/sdb p 63488 124927\npart-add /dev/sdb p 124928 190000\n'
	windows /dev/sdb1
	printf 'write /hiberfil.sys "hibrXXXXXXXXXXXX"\numount /\n'
	windows /dev/sdb2
	guestfs_facts c2 "$CFG/SYSTEM"
	printf 'umount /\nmkfs ntfs /dev/sdb3\n'
	printf 'part-disk /dev/sdc mbr\nmkfs ntfs /dev/sdc1\nmount /dev/sdc1 /\nmkdir-p /Windows/System32\n'
} | guestfs_image "$A" "$SRC" "$C" "$D" >"$WORK/before" 2>"$WORK/gf.err"; then
	skip "image tests: libguestfs cannot build an image here: $(tail -n 3 "$WORK/gf.err" | tr '\n' ' ')"
	exit 0
fi
took "images built"
qemu-img convert -f raw -O qcow2 "$C" "$CQ" && rm -f "$C"
check "the hives have a descriptor and an inode number in images A and C" \
	test -n "$(fact SYSTEM.acl "$WORK/before")" -a -n "$(fact SYSTEM.ino "$WORK/before")" -a \
	-n "$(fact c2.acl "$WORK/before")"
for f in a.ro a.orig ak; do cp --sparse=always "$A" "$WORK/$f.img"; done
cp "$D" "$WORK/d.orig"

## round 1: read-only runs, set on A and C, the kill

spawn ro "$DESKHEAP" set --json -n -j 2 --non-interactive 512 "$WORK/a.ro.img" "$D"
spawn seta "$DESKHEAP" set --json --non-interactive 512 "$A"
spawn setc "$DESKHEAP" set --non-interactive 512 --log-format old --backup-dir "$BD" "$CQ"
KILLED=
if "$DESKHEAP" --version | grep -q failpoints; then
	KILLED=yes
	spawn kill env DESKHEAP_FAILPOINT=image-write:kill@4 \
		"$DESKHEAP" set --non-interactive 512 --no-backup "$WORK/ak.img"
fi
wait
took "round 1 (set -n on A and D, set A, set C${KILLED:+, the kill})"

result ro
expect_rc 3 "set -n -j 2 on a copy of A and on D (D has no Windows)"
contains "$OUT" "\"image\":{\"path\":\"$WORK/a.ro.img\",\"format\":\"raw\",\"partition\":\"/dev/sda1\",\"system_root\":\"/Windows\"}" \
	"JSON has the image object: path, format (sniffed), partition, system root"
contains "$OUT" '"status":"would-change"' "set -n says the dirty hive in A would change"
contains "$OUT" '"code":"no-windows"' "D: the error code is no-windows"
check "set -n: the report of A comes first, as given, then D's" \
	test "$(printf '%s\n' "$OUT" | sed -n 's/^{"target":"\([^"]*\)".*/\1/p' | tr '\n' ' ')" = "$WORK/a.ro.img $D "
check "set -n leaves the copy of A byte-identical" cmp -s "$WORK/a.ro.img" "$WORK/a.orig.img"
check "set -n leaves image D byte-identical" cmp -s "$D" "$WORK/d.orig"

result seta
expect_rc 0 "set on image A"
contains "$OUT" '"status":"changed"' "the hive in A is reported changed"
contains "$OUT" '"commit":"in-place"' "an image is always committed in place"
for f in SYSTEM SYSTEM.LOG1 SYSTEM.LOG2; do
	b=$(ls "$A.deskheap/sda1" 2>/dev/null | grep -E "^SYSTEM\.deskheap-.*\.bak${f#SYSTEM}\$")
	check "A.deskheap/sda1 holds a backup of $f, byte-identical to the original" \
		cmp -s "$A.deskheap/sda1/$b" "$SRC/$f"
done
check "A.deskheap is private (0700)" test "$(stat -c %a "$A.deskheap")" = 700

result setc
expect_rc 3 "set on C, two Windows, one hibernated: the other is still set"
contains "$OUT" "$CQ:/dev/sda2:$CFG/SYSTEM: changed" "text: sda2's report, changed, on stdout (the hive named image:partition:path)"
lacks "$OUT" "sda1" "text: nothing of the failed sda1 on stdout"
contains "$ERR" "$CQ:/dev/sda1:$CFG/SYSTEM: failed: Windows on $CQ:/dev/sda1:/ is hibernated" \
	"text: sda1's report, refused as hibernated, on stderr"
sub="$BD/$(backup_subdir "$CQ")"
check "--backup-dir: C's backup is in DIR/<the image's subdirectory>/sda2, the sample" \
	sh -c 'cmp -s "$1"/SYSTEM.deskheap-*.bak "$2"' sh "$sub/sda2" "$SAMPLE"
check "--backup-dir: nothing for the refused sda1, nothing beside the image" \
	test ! -e "$sub/sda1" -a ! -e "$CQ.deskheap"
if [ -n "$KILLED" ]; then
	result kill
	expect_rc 3 "the set on a copy of A, its worker killed at its fourth image write"
	contains "$ERR" "without a result (signal 9" "the worker's death is reported"
else
	skip "the kill during the write-back needs a failpoints build (configure --enable-failpoints)"
fi

## round 2: restore A and C

cp --sparse=always "$A" "$WORK/aset.img"
cp "$CQ" "$WORK/cset.qcow2"
spawn resa "$DESKHEAP" restore --json "$A"
spawn resc "$DESKHEAP" restore --json --partition sda2 --backup-dir "$BD" "$CQ"
wait
took "round 2 (restore A, restore C)"
result resa
expect_rc 0 "restore A"
result resc
expect_rc 0 "restore --partition sda2 C --backup-dir finds the backup of sda2 there"
contains "$OUT" '"format":"qcow2","partition":"/dev/sda2"' "restore C: the qcow2 format is sniffed, sda2 restored"
check "restore --partition sda2: one report, of sda2" \
	test "$(printf '%s\n' "$OUT" | grep -c '"partition":"/dev/sda2"') $(printf '%s\n' "$OUT" | wc -l)" = "1 1"

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

## read: the images read back

# read_image DEV NAME FILE...: the facts of each FILE of config on DEV, its
# listing, and each FILE, into $WORK/back/NAME.
read_image() {
	dev=$1 name=$2
	shift 2
	mkdir "$WORK/back/$name"
	printf 'mount-ro %s /\n' "$dev"
	printf 'ls "%s" | { printf "%s.cfg "; sort | tr "\\n" " "; echo; }\n' "$CFG" "$name"
	for f in "$@"; do
		guestfs_facts "$name.$f" "$CFG/$f"
		printf 'download "%s/%s" "%s/%s/%s"\n' "$CFG" "$f" "$WORK/back" "$name" "$f"
	done
	printf 'umount /\n'
}
if ! {
	printf 'add "%s" readonly:true format:raw\n' "$WORK/aset.img" "$A"
	printf 'add "%s" readonly:true format:qcow2\n' "$WORK/cset.qcow2" "$CQ"
	[ -z "$KILLED" ] || printf 'add "%s" readonly:true format:raw\n' "$WORK/ak.img"
	printf 'run\n'
	read_image /dev/sda1 set SYSTEM SYSTEM.LOG1 SYSTEM.LOG2
	read_image /dev/sdb1 restored SYSTEM SYSTEM.LOG1 SYSTEM.LOG2
	read_image /dev/sdc1 cset1 SYSTEM
	read_image /dev/sdc2 cset2 SYSTEM SYSTEM.LOG
	read_image /dev/sdd2 crestored SYSTEM SYSTEM.LOG
	[ -z "$KILLED" ] || read_image /dev/sde1 killed SYSTEM SYSTEM.LOG1 SYSTEM.LOG2
} | guestfish >"$WORK/after" 2>"$WORK/gf.err"; then
	not_ok "the images read back in the appliance" "$(cat "$WORK/gf.err")"
	exit 1
fi
took "images read back"

for f in SYSTEM SYSTEM.LOG1 SYSTEM.LOG2; do
	check "after set, A's $f: the security descriptor is the same bytes" \
		test "$(fact "set.$f.acl" "$WORK/after")" = "$(fact "$f.acl" "$WORK/before")"
	check "after set, A's $f: the inode number is the same" \
		test "$(fact "set.$f.ino" "$WORK/after")" = "$(fact "$f.ino" "$WORK/before")"
done
check "after set, A's config holds no other file" test "$(fact set.cfg "$WORK/after")" = "SYSTEM SYSTEM.LOG1 SYSTEM.LOG2 "
contains "$(windows_value "$WORK/back/set/SYSTEM")" "SharedSection=1024,20480,512 " "the hive in A holds the new value"
run show "$WORK/back/set/SYSTEM"
contains "$OUT" "(hive clean)" "the hive read out of A after set is clean"

# The same set on a copy on this filesystem: the image's hive must hold
# the same keys and values, the pending log entries replayed.
mkdir "$WORK/host"
cp "$SRC"/* "$WORK/host/"
run set --non-interactive 512 --no-backup "$WORK/host/SYSTEM"
export_hive "$WORK/host/SYSTEM" >"$WORK/host.reg"
export_hive "$WORK/back/set/SYSTEM" >"$WORK/set.reg"
check "A's hive has every key and value of the same set on the host" cmp -s "$WORK/host.reg" "$WORK/set.reg"

# In place, restore puts the backup's state back (its logs replayed), not
# its bytes (restore.c).
old=$(view "$SRC")
check "after restore, A's hive with its logs loads as the original" \
	test "$(view "$WORK/back/restored")" = "$old"
check "after restore, A's hive has its original descriptor and inode" \
	test "$(fact restored.SYSTEM.acl "$WORK/after") $(fact restored.SYSTEM.ino "$WORK/after")" = \
	"$(fact SYSTEM.acl "$WORK/before") $(fact SYSTEM.ino "$WORK/before")"

check "after set, C's hibernated sda1 is untouched" cmp -s "$WORK/back/cset1/SYSTEM" "$SAMPLE"
contains "$(windows_value "$WORK/back/cset2/SYSTEM")" ",512 " "after set, C's sda2 holds the new value"
check "after set, C's sda2 hive has its descriptor and inode" \
	test "$(fact cset2.SYSTEM.acl "$WORK/after") $(fact cset2.SYSTEM.ino "$WORK/after")" = \
	"$(fact c2.acl "$WORK/before") $(fact c2.ino "$WORK/before")"
check "after restore, C's sda2 hive loads as the sample again" \
	test "$(view "$WORK/back/crestored")" = "$(view "$WORK/sample")"

[ -n "$KILLED" ] || exit 0

new=$(view "$WORK/back/set")
killed=$(view "$WORK/back/killed")
check "the kill left the image's files other than they were (a write was played)" \
	sh -c '! cmp -s "$1/SYSTEM" "$2/SYSTEM" || ! cmp -s "$1/SYSTEM.LOG1" "$2/SYSTEM.LOG1" || ! cmp -s "$1/SYSTEM.LOG2" "$2/SYSTEM.LOG2"' \
	sh "$WORK/back/killed" "$SRC"
check "after the kill, the image's hive replayed with its logs is the old or the new one" \
	test "$killed" = "$old" -o "$killed" = "$new"
check "the old and the new hive differ (the check above can tell them apart)" test "$old" != "$new"
