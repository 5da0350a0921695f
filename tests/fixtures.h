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

#endif
