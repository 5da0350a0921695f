#include "config.h"

#include <string.h>

#include "io.h"
#include "sniff.h"

enum kind {
	UNKNOWN,
	HIVE,
	IMAGE,      /* a virtual disk format: libguestfs or qemu-nbd */
	DISK,       /* a partition table: the disk, raw */
	VOLUME,     /* a file system: one partition */
};

struct found {
	enum kind kind;
	const char *what;
};

static bool at(const uint8_t *buf, size_t len, size_t off, const char *magic,
	       size_t n)
{
	return len >= off + n && memcmp(buf + off, magic, n) == 0;
}

/* The signatures of each format's first sector, as their specifications
 * give them. "regf" first: a hive's checksum may end in 55 AA. */
static struct found identify(const uint8_t *buf, size_t len)
{
	if (at(buf, len, 0, "regf", 4))
		return (struct found){ HIVE, NULL };
	if (at(buf, len, 0, "QFI\xfb", 4))
		return (struct found){ IMAGE, "a qcow2 disk image" };
	if (at(buf, len, 0, "KDMV", 4) || at(buf, len, 0, "# Disk DescriptorFile", 21))
		return (struct found){ IMAGE, "a VMDK disk image" };
	if (at(buf, len, 0, "vhdxfile", 8))
		return (struct found){ IMAGE, "a VHDX disk image" };
	if (at(buf, len, 0, "conectix", 8))
		return (struct found){ IMAGE, "a VHD disk image" };
	if (len >= 68 && dh_le32(buf + 64) == 0xbeda107fu)
		return (struct found){ IMAGE, "a VirtualBox VDI disk image" };
	if (at(buf, len, 3, "NTFS    ", 8))
		return (struct found){ VOLUME, "an NTFS volume" };
	if (at(buf, len, 512, "EFI PART", 8))
		return (struct found){ DISK, "a disk with a GPT partition table" };
	if (at(buf, len, 510, "\x55\xaa", 2))
		return (struct found){ DISK, "a disk with an MBR partition table" };
	return (struct found){ UNKNOWN, NULL };
}

const char *dh_sniff_image_format(const uint8_t *buf, size_t len)
{
	struct found f = identify(buf, len);

	if (f.kind == DISK || f.kind == VOLUME)
		return "raw";
	if (f.kind != IMAGE)
		return NULL;
	if (at(buf, len, 0, "QFI\xfb", 4))
		return "qcow2";
	if (at(buf, len, 0, "vhdxfile", 8))
		return "vhdx";
	if (at(buf, len, 0, "conectix", 8))
		return "vpc";
	if (len >= 68 && dh_le32(buf + 64) == 0xbeda107fu)
		return "vdi";
	return "vmdk";
}

/* How to get from what it is to a mounted volume root, /mnt. */
static char *remedy(TALLOC_CTX *mem, enum kind kind, bool device,
		    const char *path)
{
	if (kind == IMAGE)
		return talloc_asprintf(mem, "mount the Windows volume inside it, e.g. guestmount -a %s -i /mnt, or qemu-nbd --connect=/dev/nbd0 %s then ntfs-3g /dev/nbd0pN /mnt", path, path);
	if (kind == DISK && !device)
		return talloc_asprintf(mem, "mount the Windows partition inside it, e.g. losetup --find --show --partscan %s then ntfs-3g /dev/loopXpN /mnt, or guestmount -a %s -i /mnt", path, path);
	if (kind == VOLUME)
		return talloc_asprintf(mem, "mount it, e.g. ntfs-3g %s /mnt", path);
	return talloc_strdup(mem, "mount its Windows partition, e.g. ntfs-3g /dev/sdXN /mnt");
}

char *dh_sniff_explain(TALLOC_CTX *mem, const char *path, bool device,
		       const uint8_t *buf, size_t len)
{
	struct found f = identify(buf, len);
	char *what, *todo, *msg;

	if (!device && (f.kind == HIVE || f.kind == UNKNOWN))
		return NULL;
	what = !device ? talloc_strdup(mem, f.what) :
	       f.what ? talloc_asprintf(mem, "a block device holding %s", f.what) :
			talloc_strdup(mem, "a block device");
	todo = remedy(mem, f.kind, device, path);
	msg = what && todo ? talloc_asprintf(mem,
		"%s is %s, not a registry hive: give the disk or image itself as the target (deskheap opens it through libguestfs, when built with it), or %s, and give the mounted volume root (/mnt)",
		path, what, todo) : NULL;
	talloc_free(what);
	talloc_free(todo);
	return msg;
}
