#!/bin/sh
# What a user may give where a hive is expected that is not one: FIFOs and
# other special files (refused at once, naming them, never waited on), and
# disks and disk images where a hive file is looked for (refused, saying
# what they are: given as the target itself, they are opened, tests/image.sh).
. "${top_srcdir:-.}/tests/lib.sh"

# trun ARGS...: run, but give up after 10 s (exit 124): a FIFO opened for
# reading blocks until a writer comes, which no one does here.
trun() {
	timeout 10 "$DESKHEAP" "$@" >"$WORK/out" 2>"$WORK/err"
	RC=$?
	OUT=$(cat "$WORK/out")
	ERR=$(cat "$WORK/err")
}

## FIFOs and devices

d=$(case_dir fifo-hive)
mkdir "$d/config"
mkfifo "$d/config/SYSTEM"
for cmd in show "set --non-interactive 512" "check --non-interactive 512" \
	recover restore; do
	# shellcheck disable=SC2086
	trun $cmd "$d/config/SYSTEM"
	expect_rc 3 "a FIFO as the hive: $cmd refuses it at once"
	contains "$ERR" "$d/config/SYSTEM is a FIFO (named pipe), not a regular file" \
		"a FIFO as the hive: $cmd names it and says what it is"
done
trun show "$d/config"
expect_rc 3 "a config directory whose SYSTEM is a FIFO is refused at once"
contains "$ERR" "$d/config/SYSTEM is a FIFO" "the error names the FIFO in the config directory"
check "nothing was made beside the FIFO" test "$(listing "$d/config")" = "SYSTEM "

d=$(case_dir fifo-log)
cp "$FIX/new-one"/* "$d/"
rm "$d/SYSTEM.LOG1"
mkfifo "$d/SYSTEM.LOG1"
for cmd in show "set --non-interactive 512" recover; do
	# shellcheck disable=SC2086
	trun $cmd "$d/SYSTEM"
	expect_rc 3 "a FIFO named SYSTEM.LOG1 beside a dirty hive: $cmd refuses it"
	contains "$ERR" "$d/SYSTEM.LOG1 is a FIFO (named pipe), not a regular file" \
		"a FIFO log: $cmd names it"
done
check "a FIFO log: the hive is unchanged" cmp -s "$d/SYSTEM" "$FIX/new-one/SYSTEM"
check "a FIFO log: nothing was added" test "$(listing "$d")" = "SYSTEM SYSTEM.LOG1 SYSTEM.LOG2 "

trun show /dev/null
expect_rc 3 "a character device as the hive is refused"
contains "$ERR" "/dev/null is a character device, not a regular file" "the error says what it is"

## disk images, disks and volumes, found as the SYSTEM of a config directory

# image NAME: a config directory $d/NAME whose SYSTEM is a file of 64 KiB
# whose first bytes are those python3 prints to stdout, as each format's
# specification lays them out.
image() {
	mkdir "$d/$1"
	python3 -c "import sys; b = bytearray(65536); h = $2; b[:len(h)] = h; sys.stdout.buffer.write(b)" \
		>"$d/$1/SYSTEM"
}

d=$(case_dir images)
image qcow2 "b'QFI\xfb\0\0\0\3'"
image vmdk "b'KDMV\1\0\0\0'"
image vmdk-descriptor "b'# Disk DescriptorFile\nversion=1\n'"
image vhdx "b'vhdxfile'"
image vhd "b'conectix\0\0\0\2'"
image vdi "b'<<< Oracle VM VirtualBox Disk Image >>>\n'.ljust(64, b'\0') + bytes([0x7f, 0x10, 0xda, 0xbe])"
image ntfs "b'\xebR\x90NTFS    '.ljust(510, b'\0') + b'\x55\xaa'"
image mbr "bytes(446) + b'\x80' + bytes(63) + b'\x55\xaa'"
image gpt "bytes(510) + b'\x55\xaaEFI PART'"
for c in "qcow2:a qcow2 disk image:guestmount -a" \
	"vmdk:a VMDK disk image:qemu-nbd" \
	"vmdk-descriptor:a VMDK disk image:guestmount -a" \
	"vhdx:a VHDX disk image:guestmount -a" \
	"vhd:a VHD disk image:guestmount -a" \
	"vdi:a VirtualBox VDI disk image:qemu-nbd" \
	"ntfs:an NTFS volume:ntfs-3g $d/ntfs/SYSTEM /mnt" \
	"mbr:a disk with an MBR partition table:losetup" \
	"gpt:a disk with a GPT partition table:losetup"; do
	f=${c%%:*} rest=${c#*:}
	what=${rest%%:*} how=${rest#*:}
	cp "$d/$f/SYSTEM" "$WORK/orig"
	for cmd in show "set --non-interactive 512"; do
		# shellcheck disable=SC2086
		trun $cmd "$d/$f"
		expect_rc 3 "$f: $cmd refuses it"
		contains "$ERR" "$d/$f/SYSTEM is $what, not a registry hive" "$f: $cmd says it is $what"
		contains "$ERR" "give the disk or image itself as the target" "$f: $cmd says to give it as the target"
		contains "$ERR" "$how" "$f: $cmd says how to mount it"
		contains "$ERR" "give the mounted volume root" "$f: $cmd says what to give instead"
	done
	check "$f: the file is unchanged, nothing was made beside it" \
		sh -c 'cmp -s "$1/SYSTEM" "$2" && test "$(ls "$1")" = SYSTEM' sh "$d/$f" "$WORK/orig"
done

# The same from the tools that make them, where they are installed.
if command -v sfdisk >/dev/null 2>&1; then
	d=$(case_dir sfdisk)
	for label in gpt dos; do
		truncate -s 4M "$d/SYSTEM"
		echo "label: $label" | sfdisk -q "$d/SYSTEM" >/dev/null 2>&1
		run show "$d"
		expect_rc 3 "a disk image sfdisk gave a $label label is refused"
		contains "$ERR" "$(case $label in gpt) echo GPT ;; *) echo MBR ;; esac) partition table" \
			"sfdisk $label: the error names the partition table"
		rm "$d/SYSTEM"
	done
else
	skip "sfdisk is not installed: real partition tables not tried"
fi
if command -v mkntfs >/dev/null 2>&1; then
	d=$(case_dir mkntfs)
	truncate -s 8M "$d/SYSTEM"
	if mkntfs -F -Q -q "$d/SYSTEM" >/dev/null 2>&1; then
		run show "$d"
		expect_rc 3 "a volume mkntfs made is refused"
		contains "$ERR" "$d/SYSTEM is an NTFS volume" "mkntfs: the error says it is an NTFS volume"
		contains "$ERR" "ntfs-3g $d/SYSTEM /mnt" "mkntfs: the error says how to mount it"
	else
		skip "mkntfs could not make an 8 MB volume"
	fi
else
	skip "mkntfs is not installed: a real NTFS volume not tried"
fi

# A block device holding nothing deskheap knows (root only): a disk or a
# volume would be opened as an image; this one is refused at once.
dev=
if [ "$(id -u)" -eq 0 ] && command -v losetup >/dev/null 2>&1; then
	truncate -s 64K "$WORK/blank"
	dev=$(losetup --find --show "$WORK/blank" 2>/dev/null)
fi
if [ -n "$dev" ]; then
	run show "$dev"
	losetup -d "$dev"
	expect_rc 3 "a block device is refused"
	contains "$ERR" "$dev is a block device, not a registry hive" \
		"the error says it is a block device"
	contains "$ERR" "ntfs-3g /dev/sdXN /mnt" "the error says to mount its Windows partition"
else
	skip "no loop device here (needs root and losetup): a block device not tried"
fi
