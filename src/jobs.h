/*
 * A pool of worker processes for a batch of targets. Each target runs in a
 * child process of its own: one image that crashes hivex or exhausts memory
 * costs only its own result, never the batch. Results come back to the
 * parent through a pipe and are handed over in the order the targets were
 * given, whatever order they finish in.
 */
#ifndef DH_JOBS_H
#define DH_JOBS_H

#include <stddef.h>

/* In the child: do target i, write its output to fd, return its exit
 * status (0..255). */
typedef int (*dh_job_work_fn)(void *arg, size_t i, int fd);

/* In the parent, in order of i: target i's output and how its child ended:
 * status is its exit status, or -1 when it was killed by signal `signal`,
 * or DH_JOB_NOT_STARTED when the batch was stopped by signal `signal`
 * before target i had a child. */
typedef void (*dh_job_done_fn)(void *arg, size_t i, const char *output,
			       size_t len, int status, int signal);

/* In the parent, after each child ends: how many have ended. */
typedef void (*dh_job_progress_fn)(void *arg, size_t ended, size_t total);

#define DH_JOB_NOT_STARTED (-2)

/* Run n targets, at most `jobs` at a time. Returns 0, or -1 with errno set
 * when the pool itself fails (no pipe, no fork); results already handed
 * over stay handed over. SIGINT, SIGTERM and SIGHUP (those not ignored)
 * are caught meanwhile (dh_interrupt_request(), interrupt.h): the first
 * is sent on to every running child, which stops at its next safe point,
 * no further child is started, and dh_jobs_run() returns once every child
 * has ended; dh_interrupt_pending() then names the signal. Each child runs
 * with the caller's signal mask and those handlers. */
int dh_jobs_run(size_t n, unsigned jobs, dh_job_work_fn work,
		dh_job_done_fn done, dh_job_progress_fn progress, void *arg);

#endif
