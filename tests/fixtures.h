/*
 * Test support: the generated fixture hives and scratch directories.
 *
 * Any failure here (no MKFIXTURES, the generator failing, a copy failing)
 * fails the running cmocka test with a message; these helpers never return
 * an error to the caller.
 */
#ifndef DH_TESTS_FIXTURES_H
#define DH_TESTS_FIXTURES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <talloc.h>

#include "hive.h"

/* The directory holding every fixture. The first call runs
 * "$MKFIXTURES DIR" into a fresh directory (mkdtemp under $TMPDIR or /tmp);
 * later calls return the same path. The directory is removed when the
 * process exits. */
const char *fixtures_dir(void);

/* Copy fixture `name` into `dir` (a test's own directory) under the same
 * name; returns the copy's path, allocated on mem. */
char *fixture_copy(TALLOC_CTX *mem, const char *name, const char *dir);

/* A new empty directory (mkdtemp under $TMPDIR or /tmp), its path allocated
 * on mem; the directory and everything in it are removed when that path is
 * freed, so freeing mem cleans up. */
char *tmpdir_new(TALLOC_CTX *mem);

/* How many entries of dir have needle in their name (a failure when dir
 * cannot be listed). */
int count_names(const char *dir, const char *needle);

/* 1 when files a and b are byte-identical, else 0 (also when either cannot
 * be read; the reason goes to stderr). */
int file_equal(const char *a, const char *b);

/* Open fixture `name` with hivex (for editing when writable); the handle
 * is allocated on mem. */
struct dh_hive *fixture_open(TALLOC_CTX *mem, const char *name, bool writable);

/* The whole of the file open at fd (on mem, *len its length), or of the
 * file at path. */
uint8_t *file_bytes(TALLOC_CTX *mem, int fd, size_t *len);
/* An overlay (overlay.h) with no change over the whole file open at fd. */
struct dh_overlay *fd_overlay(TALLOC_CTX *mem, int fd);
uint8_t *path_bytes(TALLOC_CTX *mem, const char *path, size_t *len);

/* The corpus file `name` (a path below ../shared/corpus, or below
 * $DESKHEAP_CORPUS when set, ending in .xz) decompressed into memory on mem,
 * *len its length; NULL, with a "# corpus file ... not found" line printed,
 * when the corpus is absent: the test should then skip(). Fails the test
 * when the file is there but cannot be decompressed. */
uint8_t *corpus_load(TALLOC_CTX *mem, const char *name, size_t *len);

#endif
