# libguestfs helpers for the tests that use disk images (sourced after
# lib.sh). Each appliance launch costs 15 to 50 s where KVM is unusable,
# so a test builds its image and reads what it needs in as few launches as
# it can: guestfs_image takes more commands for the launch that builds.
# Needs libguestfs-tools and a kernel in /boot for supermin (.ci/deps).

# The direct backend (no libvirtd); TCG where KVM cannot run a vCPU (here
# qemu aborts on "failed to set MSR 0x10a" with -cpu host, as libguestfs
# runs it). A setting the caller exported is kept.
export LIBGUESTFS_BACKEND="${LIBGUESTFS_BACKEND:-direct}"
if [ -z "${LIBGUESTFS_BACKEND_SETTINGS+set}" ]; then
	# (In a subshell: the shell's own "Aborted" goes to /dev/null too.)
	if ! (echo quit | qemu-system-x86_64 -machine accel=kvm -cpu host -display none \
		-nodefaults -S -monitor stdio) >/dev/null 2>&1; then
		export LIBGUESTFS_BACKEND_SETTINGS=force_tcg
	fi
fi

# The folder of the hive in every image these tests build.
GUESTFS_CFG=/Windows/System32/config

# guestfs_missing TOOL...: the tools (and the kernel supermin builds the
# appliance from) that are absent, each after a space; empty when none is.
guestfs_missing() {
	m=
	for t in guestfish qemu-system-x86_64 "$@"; do
		command -v "$t" >/dev/null 2>&1 || m="$m $t"
	done
	ls /boot/vmlinuz-* >/dev/null 2>&1 || m="$m /boot/vmlinuz-*"
	echo "$m"
}

# guestfs_image IMG DIR [MORE...] < COMMANDS: one launch makes IMG, a 64 MB sparse
# raw disk with one MBR partition formatted NTFS, copies DIR's files into
# its $GUESTFS_CFG with mode 0640 (under ntfs-3g's "permissions" option:
# they get a descriptor of their own, owner, group and others, not the
# Everyone-full-control one of a new file), then runs COMMANDS (guestfish
# commands; the volume is mounted at /) in the same launch. MORE are raw
# images (made by the caller) added after IMG, as /dev/sdb, /dev/sdc...,
# for COMMANDS to build too. Prints what
# they print; guestfish's errors go to stderr; fails on the first one.
guestfs_image() {
	truncate -s 64M "$1" || return 1
	{
		img=$1
		dir=$2
		shift 2
		for f in "$img" "$@"; do printf 'add "%s" format:raw\n' "$f"; done
		printf 'run\n'
		printf 'part-disk /dev/sda mbr\nmkfs ntfs /dev/sda1\n'
		printf 'mount-options permissions /dev/sda1 /\nmkdir-p %s\n' "$GUESTFS_CFG"
		for f in "$dir"/*; do
			printf 'upload "%s" "%s/%s"\n' "$f" "$GUESTFS_CFG" "${f##*/}"
			printf 'chmod 0640 "%s/%s"\n' "$GUESTFS_CFG" "${f##*/}"
		done
		cat
	} | guestfish
}

# guestfs_facts NAME PATH: guestfish commands that print "NAME.acl HEX"
# (PATH's NTFS security descriptor, the system.ntfs_acl xattr ntfs-3g
# serves by name though it lists it nowhere) and "NAME.ino N" (its NTFS
# inode, the MFT record number).
guestfs_facts() {
	printf 'getxattr "%s" system.ntfs_acl | { printf "%s.acl "; od -An -v -tx1 | tr -d " \\n"; echo; }\n' "$2" "$1"
	printf 'statns "%s" | sed -n "s/^st_ino: /%s.ino /p"\n' "$2" "$1"
}

# fact NAME FILE: the value of the line "NAME VALUE" in FILE.
fact() {
	sed -n "s/^$1 //p" "$2"
}
