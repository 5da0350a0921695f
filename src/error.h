/*
 * Errors inside the library. A failing function returns -1 and sets *err,
 * allocated on the talloc context it was given, to a code and a message that
 * names the file and says what the user can do. Success returns 0 and leaves
 * *err alone. Nothing here prints.
 */
#ifndef DH_ERROR_H
#define DH_ERROR_H

#include <stdbool.h>

#include "deskheap.h"

/* Set *err (when err is not NULL) and return -1, so a caller can write
 * `return dh_error_set(...)`. The message is printf-formatted. */
int dh_error_set(TALLOC_CTX *mem, struct dh_error **err, enum dh_errcode code,
		 const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* What to do when a call fails with errnum because the process or the
 * system ran out of something (EFBIG: the file-size limit; EMFILE, ENFILE:
 * file descriptors; ENOMEM: memory), the same wherever it happens; NULL
 * for any other errnum. */
const char *dh_error_limit_remedy(int errnum);

/* The code of a failure with errnum: DH_ERR_NOMEM for ENOMEM,
 * DH_ERR_FD_LIMIT for EMFILE and ENFILE (the process ran out of memory or
 * descriptors: the cause, not the file at hand, failed), else code. */
enum dh_errcode dh_error_code_for(enum dh_errcode code, int errnum);

/* Whether errnum is one of those: a failure that says nothing about the
 * file being read (hivex fails the same way on a sound hive then). */
bool dh_error_out_of_resources(int errnum);

/* Same, with ": strerror(errnum)" appended to the message, then "; " and
 * dh_error_limit_remedy(errnum) when there is one; the code is
 * dh_error_code_for(code, errnum). */
int dh_error_errno(TALLOC_CTX *mem, struct dh_error **err, enum dh_errcode code,
		   int errnum, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

/* DH_ERR_IO: "<action>: <strerror(errnum)>; <what the user can do about
 * errnum, when there is something>; <outcome>". outcome may be NULL
 * (nothing was being changed). */
int dh_error_io(TALLOC_CTX *mem, struct dh_error **err, int errnum,
		const char *outcome, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

/* DH_ERR_NOMEM, "out of memory". */
int dh_error_nomem(TALLOC_CTX *mem, struct dh_error **err);

/* The outcome of a write that failed before its commit point. */
#define DH_UNCHANGED "the hive was not changed"

#endif
