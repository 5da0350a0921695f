/*
 * Stopping at a safe point when deskheap is interrupted (design invariant
 * 10). The program installs dh_interrupt_request() as its handler of
 * SIGINT, SIGTERM and SIGHUP; the transaction (txn.c) and the lock ask
 * before each of their steps and right before the point of no return (the
 * journal: from there on the change is decided), and when asked to stop,
 * fail there with DH_ERR_INTERRUPTED, removing what they made, the hive
 * untouched. Past that point a change must be completed, not stopped
 * halfway (a restore still has its logs to put back):
 * dh_interrupt_past_no_return() makes every later dh_interrupt_pending()
 * answer 0.
 *
 * The state is the process's own: each worker process has its own copy,
 * which starts clear, and deals with one target.
 */
#ifndef DH_INTERRUPT_H
#define DH_INTERRUPT_H

#include "deskheap.h"

/* Record that signal sig asks this process to stop. Async-signal-safe: a
 * signal handler. */
void dh_interrupt_request(int sig);

/* The signal that asked this process to stop, or 0: none did, or it is
 * past its point of no return. */
int dh_interrupt_pending(void);

/* This process has begun a change that must be completed: stop asking. */
void dh_interrupt_past_no_return(void);

/* At a safe point: -1 with *err set (DH_ERR_INTERRUPTED: the signal, when,
 * and that path was not changed) when a signal asked to stop; else 0. */
int dh_interrupt_stop(TALLOC_CTX *mem, struct dh_error **err,
		      const char *path, const char *when);

#endif
