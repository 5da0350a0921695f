/*
 * The on-disk layout of a registry hive and of its transaction logs: every
 * offset and size deskheap reads or writes, named once. Offsets are in
 * bytes, fields little-endian. The facts and where they come from are in
 * ../shared/docs/format-notes.md (after Maxim Suhanov's "Windows registry
 * file format specification"); the corpus hives bear them out.
 *
 * Constants only. Record offsets (nk, vk) count from the record, which
 * begins DH_CELL_RECORD bytes into its cell; cell and bin offsets stored
 * in a hive count from DH_REGF_BINS_START.
 */
#ifndef DH_FORMAT_H
#define DH_FORMAT_H

/* ---- base block: the first 4096 bytes of a hive file ---- */

#define DH_REGF_SIGNATURE 0u        /* "regf" */
#define DH_REGF_SEQ1 4u             /* primary sequence number */
#define DH_REGF_SEQ2 8u             /* secondary sequence number: equal to
				     * the primary one when the hive is clean */
#define DH_REGF_WRITTEN 12u         /* last-written time, FILETIME (8 bytes) */
#define DH_REGF_MAJOR 20u           /* major version: 1 */
#define DH_REGF_MINOR 24u           /* minor version: 2..6 */
#define DH_REGF_TYPE 28u            /* file type, one of DH_REGF_TYPE_* */
#define DH_REGF_FORMAT 32u          /* file format: 1 (direct memory load) */
#define DH_REGF_ROOT 36u            /* root key's cell, from the bins start */
#define DH_REGF_BINS_SIZE 40u       /* hive bins data size, a multiple of
				     * DH_HBIN_ALIGN */
#define DH_REGF_CLUSTERING 44u      /* clustering factor: 1 */
#define DH_REGF_FILE_NAME 48u       /* file name, UTF-16LE, debugging only */
#define DH_REGF_FILE_NAME_SIZE 64u  /* its room in bytes */
#define DH_REGF_FLAGS 144u          /* flags; bit 0: KTM locked (Windows 10) */
#define DH_REGF_CHECKSUM_OFFSET 508u /* XOR of the 127 dwords before it */
#define DH_REGF_HEADER_SIZE 512u    /* the part that holds every field and
				     * is checksummed; a log begins with a
				     * copy of it */
#define DH_REGF_BASE_BLOCK_SIZE 4096u /* the whole base block */
#define DH_REGF_BINS_START DH_REGF_BASE_BLOCK_SIZE /* the hive bins follow it */

/* Values of DH_REGF_TYPE. */
#define DH_REGF_TYPE_PRIMARY 0u     /* a hive file */
#define DH_REGF_TYPE_LOG_OLD 1u     /* an old-format (DIRT) log */
#define DH_REGF_TYPE_LOG_OLD_2000 2u /* the same, written by Windows 2000 */
#define DH_REGF_TYPE_LOG_NEW 6u     /* a new-format (HvLE) log */

/* ---- hive bin: the header of each bin, from the bin's start ---- */

#define DH_HBIN_SIGNATURE 0u        /* "hbin" */
#define DH_HBIN_OFFSET 4u           /* this bin's offset from the bins start */
#define DH_HBIN_SIZE 8u             /* this bin's size, a multiple of
				     * DH_HBIN_ALIGN */
#define DH_HBIN_TIME 20u            /* FILETIME; meaningful in the first bin */
#define DH_HBIN_HEADER 32u          /* where the bin's first cell begins */
#define DH_HBIN_ALIGN 4096u         /* bins, and so the hive bins data size,
				     * come in multiples of this */

/* ---- cell: every record lives in one ---- */

#define DH_CELL_SIZE 0u             /* int32: negative while allocated */
#define DH_CELL_RECORD 4u           /* where the record (or the data) begins */

/* ---- key record (nk), from the record's start ---- */

#define DH_NK_SIGNATURE 0u          /* "nk" */
#define DH_NK_TIMESTAMP 4u          /* last-written time, FILETIME */

/* ---- value record (vk), from the record's start ---- */

#define DH_VK_SIGNATURE 0u          /* "vk" */
#define DH_VK_DATA_LEN 4u           /* data length in bytes */
#define DH_VK_DATA_OFFSET 8u        /* data cell, from the bins start */
#define DH_VK_TYPE 12u              /* the value's type (REG_SZ...) */
#define DH_VK_HEADER 20u            /* the fixed part, before the value name */
/* A data length with this bit set holds the data (at most 4 bytes) in the
 * data offset field itself: no data cell. Such a length never equals a
 * plain one, so its value is never edited in place. */
#define DH_VK_DATA_INLINE 0x80000000u
/* The longest data one plain data cell holds in a hive of version 1.4 or
 * later: Windows reads longer data only through a big-data ("db") record. */
#define DH_VK_PLAIN_DATA_MAX 16344u
#define DH_VK_BIG_DATA_MINOR 4u     /* the first minor version with them */

/* ---- transaction logs: a base block copy, then records ---- */

#define DH_LOG_SECTOR 512u          /* log records start at, and come in
				     * multiples of, this */
#define DH_LOG_RECORDS DH_REGF_HEADER_SIZE /* the first record, after the
				     * base block copy */

/* New format (Windows 8.1 and later): HvLE entries, from the entry's start. */
#define DH_HVLE_SIGNATURE 0u        /* "HvLE" */
#define DH_HVLE_SIZE 4u             /* entry size, a multiple of DH_LOG_SECTOR */
#define DH_HVLE_FLAGS 8u            /* bit 0 goes into DH_REGF_FLAGS */
#define DH_HVLE_SEQ 12u             /* sequence number */
#define DH_HVLE_BINS_SIZE 16u       /* hive bins data size after this entry */
#define DH_HVLE_PAGE_COUNT 20u      /* dirty page references that follow */
#define DH_HVLE_HASH1 24u           /* Marvin32 of the bytes from DH_HVLE_HEADER
				     * to the entry's end */
#define DH_HVLE_HASH2 32u           /* Marvin32 of the 32 bytes before it */
#define DH_HVLE_HEADER 40u          /* where the page references begin */
#define DH_HVLE_REF_LEN 8u          /* one page reference; the pages follow
				     * the last, packed, in order */
#define DH_HVLE_REF_OFFSET 0u       /* the page's offset from the bins start */
#define DH_HVLE_REF_SIZE 4u         /* the page's size */
#define DH_HVLE_PAGE 4096u          /* page offsets and sizes are multiples
				     * of this, as Windows writes them */

/* Old format (Windows XP to 8): a DIRT bitmap of dirty 512-byte pages. */
#define DH_DIRT_OFFSET DH_LOG_RECORDS /* "DIRT", in the log */
#define DH_DIRT_BITMAP 4u           /* the bitmap, after "DIRT": one bit per
				     * page of the bins, low bit first */
#define DH_DIRT_PAGE 512u           /* bytes of the bins per bit; the pages
				     * follow from the next DH_LOG_SECTOR
				     * boundary, one per set bit */

#endif
