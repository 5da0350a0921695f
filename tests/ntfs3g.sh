# Sourced by the tests that mount an NTFS image file on this machine with
# ntfs-3g (FUSE, as root): $IMG mounted on $MNT in the foreground process
# ntfs-3g runs as, so that unmounting can wait for it to write back; and
# unmounted whatever way the test ends (it sets the traps).

is_mounted() {
	grep -q " $MNT fuse" /proc/self/mounts
}

# mount_ntfs [OPTIONS]: ntfs-3g in the foreground of a background job, so
# that unmount_ntfs can wait until it has written everything and exited.
mount_ntfs() {
	ntfs-3g -o "no_detach${1:+,$1}" "$IMG" "$MNT" >>"$WORK/ntfs-3g.log" 2>&1 &
	NTFS_PID=$!
	tries=0
	while ! is_mounted; do
		tries=$((tries + 1))
		if [ $tries -gt 100 ] || ! kill -0 "$NTFS_PID" 2>/dev/null; then
			NTFS_PID=
			return 1
		fi
		sleep 0.1
	done
}

unmount_ntfs() {
	if is_mounted && ! umount "$MNT"; then
		sleep 1
		umount "$MNT" || umount -l "$MNT" || return 1
	fi
	if [ -n "$NTFS_PID" ]; then
		wait "$NTFS_PID"
		NTFS_PID=
	fi
}

# Always unmount (even on a failure or a signal) before lib.sh's finish
# removes $WORK, the image with it.
ntfs_exit() {
	rc=$?
	unmount_ntfs >/dev/null 2>&1
	is_mounted || rm -f "$IMG"
	(exit "$rc")
	finish
}
trap ntfs_exit EXIT
trap 'exit 1' HUP INT TERM
