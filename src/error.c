#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <string.h>

#include "error.h"

const char *dh_errcode_name(enum dh_errcode code)
{
	switch (code) {
	case DH_OK: return "ok";
	case DH_ERR_IO: return "io";
	case DH_ERR_NOT_HIVE: return "not-a-hive";
	case DH_ERR_NOT_SYSTEM: return "not-a-system-hive";
	case DH_ERR_VALUE: return "value";
	case DH_ERR_DIRTY: return "dirty";
	case DH_ERR_VERIFY: return "verify";
	case DH_ERR_ARGUMENT: return "argument";
	case DH_ERR_HIBERNATED: return "hibernated";
	case DH_ERR_INTERNAL: return "internal";
	case DH_ERR_NOMEM: return "nomem";
	case DH_ERR_FD_LIMIT: return "fd-limit";
	case DH_ERR_INTERRUPTED: return "interrupted";
	case DH_ERR_NO_WINDOWS: return "no-windows";
	case DH_ERR_APPLIANCE: return "appliance-failed";
	}
	return "unknown";
}

const char *dh_error_limit_remedy(int errnum)
{
	switch (errnum) {
	case EFBIG:
		return "the file-size limit (ulimit -f) is below the size of the file: raise it (ulimit -f unlimited) and run deskheap again";
	case EMFILE:
		return "the limit on open files (ulimit -n) is too low: raise it (ulimit -n 1024) and run deskheap again";
	case ENFILE:
		return "the system's table of open files is full: close files other programs hold, or raise fs.file-max, and run deskheap again";
	case ENOMEM:
		return "free memory, or raise the memory limit (ulimit -v), and run deskheap again";
	}
	return NULL;
}

enum dh_errcode dh_error_code_for(enum dh_errcode code, int errnum)
{
	if (errnum == ENOMEM)
		return DH_ERR_NOMEM;
	if (errnum == EMFILE || errnum == ENFILE)
		return DH_ERR_FD_LIMIT;
	return code;
}

bool dh_error_out_of_resources(int errnum)
{
	return dh_error_code_for(DH_OK, errnum) != DH_OK;
}

/* The message, then ": cause" and "; remedy" when given. fmt is the printf
 * format that dh_error_set's callers were checked against; saying so lets
 * clang's -Wformat-nonliteral accept passing it on. */
__attribute__((format(printf, 6, 0)))
static int set_va(TALLOC_CTX *mem, struct dh_error **err, enum dh_errcode code,
		  const char *cause, const char *remedy, const char *fmt,
		  va_list ap)
{
	struct dh_error *e;

	if (err == NULL)
		return -1;
	e = talloc_zero(mem, struct dh_error);
	if (e == NULL) {
		*err = NULL;
		return -1;
	}
	e->code = code;
	e->message = talloc_vasprintf(e, fmt, ap);
	if (e->message != NULL && cause != NULL)
		e->message = talloc_asprintf_append(e->message, ": %s", cause);
	if (e->message != NULL && remedy != NULL)
		e->message = talloc_asprintf_append(e->message, "; %s", remedy);
	if (e->message == NULL)
		e->code = DH_ERR_NOMEM;
	*err = e;
	return -1;
}

int dh_error_set(TALLOC_CTX *mem, struct dh_error **err, enum dh_errcode code,
		 const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	set_va(mem, err, code, NULL, NULL, fmt, ap);
	va_end(ap);
	return -1;
}

int dh_error_errno(TALLOC_CTX *mem, struct dh_error **err, enum dh_errcode code,
		   int errnum, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	set_va(mem, err, dh_error_code_for(code, errnum), strerror(errnum),
	       dh_error_limit_remedy(errnum), fmt, ap);
	va_end(ap);
	return -1;
}

/* What the user can do about errnum, or NULL when there is nothing useful
 * to say beyond the cause. */
static const char *remedy_for(int errnum)
{
	switch (errnum) {
	case ENOSPC:
	case EDQUOT:
		return "free space on that filesystem";
	case EACCES:
	case EPERM:
		return "run as root, or check that the filesystem is mounted "
		       "read-write and the directory is writable";
	case EROFS:
		return "the filesystem is mounted read-only. On NTFS the "
		       "usual cause is a Windows that was hibernated or shut "
		       "down with Fast Startup (ntfs-3g then mounts it "
		       "read-only): boot Windows, shut it down fully "
		       "(shutdown /s /t 0, or turn off Fast Startup in the "
		       "power options), then mount the volume read-write";
	case EIO:
		return "the device reported an I/O error: check the disk "
		       "(dmesg) before trying again";
	case ENOENT:
		return "check that the path exists";
	case ENOTDIR:
		return "check that the path names a directory";
	case EBADF:
		return "the file was not opened for that: a bug, please "
		       "report it";
	default:
		return dh_error_limit_remedy(errnum);
	}
}

int dh_error_io(TALLOC_CTX *mem, struct dh_error **err, int errnum,
		const char *outcome, const char *fmt, ...)
{
	const char *remedy = remedy_for(errnum);
	char *action;
	va_list ap;

	va_start(ap, fmt);
	action = talloc_vasprintf(mem, fmt, ap);
	va_end(ap);
	if (action == NULL)
		return dh_error_set(mem, err, DH_ERR_NOMEM, "out of memory");
	dh_error_set(mem, err, dh_error_code_for(DH_ERR_IO, errnum),
		     "%s: %s%s%s%s%s", action, strerror(errnum),
		     remedy ? "; " : "", remedy ? remedy : "",
		     outcome ? "; " : "", outcome ? outcome : "");
	talloc_free(action);
	return -1;
}


int dh_error_nomem(TALLOC_CTX *mem, struct dh_error **err)
{
	return dh_error_set(mem, err, DH_ERR_NOMEM, "out of memory");
}
