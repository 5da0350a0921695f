/*
 * A hive's new state as the pages that differ from its old bytes: what the
 * in-place commit logs and writes (inplace.h). The old bytes stay in their
 * file (the base) and are read from it when needed; only changed pages are
 * held, so a change of a few bytes of a 12 MB hive costs a few pages of
 * memory and a few reads, not a copy of the hive and a compare of both.
 *
 * The base is a descriptor the caller keeps open and unchanged while the
 * overlay is used; the overlay never writes to it.
 */
#ifndef DH_OVERLAY_H
#define DH_OVERLAY_H

#include <stddef.h>
#include <stdint.h>

#include "deskheap.h"
#include "logwrite.h"

/* The unit an overlay holds: the hive bins' page. */
#define DH_OVERLAY_PAGE 4096u

struct dh_overlay;

/* An overlay over the first len bytes of the file open at base, with no
 * change yet: it reads as those bytes. NULL when memory runs out. */
struct dh_overlay *dh_overlay_new(TALLOC_CTX *mem, int base, size_t len);

/* len bytes written at off: each page they touch is read from the base
 * the first time. Writing past the end makes the new state longer (zeros
 * between). 0, or -1 with errno set. */
int dh_overlay_write(struct dh_overlay *o, const void *buf, size_t len,
		     uint64_t off);

/* The new state becomes the first len bytes of the file open at fd: each
 * page of it that differs from the base is taken in, and every change
 * made before is dropped. 0, or -1 with errno set. */
int dh_overlay_take(struct dh_overlay *o, int fd, size_t len);

/* len bytes of the new state at off, zeros past its end. 0, or -1 with
 * errno set. */
int dh_overlay_read(const struct dh_overlay *o, void *buf, size_t len,
		    uint64_t off);

/* The length of the new state. */
size_t dh_overlay_len(const struct dh_overlay *o);

/*
 * Where the new state's hive bins differ from the base, in units of unit
 * bytes (a power of two up to DH_OVERLAY_PAGE): each unit that differs,
 * and each unit past the base's end, zeros too (a replay of the log
 * extends a hive only as far as the pages it names: recover.c). Ranges
 * counted from the bins start (DH_REGF_BINS_START), sorted, neighbours
 * merged; the base block is not among them. *out on mem. 0, or -1 with
 * errno set.
 */
int dh_overlay_ranges(TALLOC_CTX *mem, const struct dh_overlay *o,
		      uint32_t unit, struct dh_log_range **out, size_t *n);

#endif
