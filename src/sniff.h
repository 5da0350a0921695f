/*
 * What a file given where a hive was expected really is, when it is a disk
 * or a disk image: a user may well give the image of a Windows machine, or
 * its disk, rather than the hive inside. Pure: bytes in, a message out.
 */
#ifndef DH_SNIFF_H
#define DH_SNIFF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "deskheap.h"

/* How many bytes from offset 0 to give: a GPT header starts at 512. */
#define DH_SNIFF_LEN 1024u

/*
 * The bytes at the start of the file `path` (len of them, fewer when the
 * file is shorter or could not be read). device: it is a block device.
 * When it is not a registry hive ("regf") but a disk image (qcow2, VMDK,
 * VHDX, VHD, VDI), a disk (an MBR or GPT partition table), an NTFS volume,
 * or any block device: a message on mem naming path, what it is, and how
 * to mount it and give the mounted volume root instead. Otherwise (a hive,
 * or a file none of these) NULL; also NULL when memory runs out.
 */
char *dh_sniff_explain(TALLOC_CTX *mem, const char *path, bool device,
		       const uint8_t *buf, size_t len);

/* When buf (len bytes from the start of a file or device) is a disk
 * image, a disk or an NTFS volume: the name qemu gives its format
 * ("qcow2", "vmdk", "vhdx", "vpc", "vdi"; "raw" for a disk or a volume).
 * Else NULL. */
const char *dh_sniff_image_format(const uint8_t *buf, size_t len);

#endif
