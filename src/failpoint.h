/*
 * Fault injection for the reliability tests. In a build configured with
 * --enable-failpoints, the environment variable DESKHEAP_FAILPOINT names
 * one point and what happens there:
 *   DESKHEAP_FAILPOINT=rename:EIO     the step fails with that errno
 *   DESKHEAP_FAILPOINT=fsync:kill     the process dies on the spot (SIGKILL)
 *   DESKHEAP_FAILPOINT=write:kill@3   ...at the third time the point is hit
 *   DESKHEAP_FAILPOINT=rename:stop    the process stops (SIGSTOP) there, and
 *                                     goes on when continued (SIGCONT)
 * Points: temp-create, write, fsync, verify, metadata, backup, journal
 * (the last step before the change is decided), rename (the hive's),
 * log-rename (a log's new file going in), journal-remove, dir-fsync. In any
 * other build dh_failpoint() is an inline 0 and the variable is ignored:
 * release builds carry none of it.
 */
#ifndef DH_FAILPOINT_H
#define DH_FAILPOINT_H

#ifdef DH_FAILPOINTS
/* 0 to go on; -1 with errno set to fail the step here; or no return. */
int dh_failpoint(const char *point);
#else
static inline int dh_failpoint(const char *point)
{
	(void)point;
	return 0;
}
#endif

#endif
