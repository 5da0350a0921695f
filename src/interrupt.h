/*
 * Stopping at a safe point when deskheap is interrupted (design invariant
 * 10). The program installs dh_interrupt_request() as its handler of
 * SIGINT, SIGTERM and SIGHUP; the commit asks dh_interrupt_pending()
 * before each of its steps and right before its point of no return (the
 * rename over the hive), and when asked to stop, fails there with
 * DH_ERR_INTERRUPTED, removing what it made, the hive untouched. Past
 * that point a change must be completed, not stopped halfway (a restore
 * still has its logs to put back): dh_interrupt_past_no_return() makes
 * every later dh_interrupt_pending() answer 0.
 *
 * The state is the process's own: each worker process has its own copy,
 * which starts clear, and deals with one target.
 */
#ifndef DH_INTERRUPT_H
#define DH_INTERRUPT_H

/* Record that signal sig asks this process to stop. Async-signal-safe: a
 * signal handler. */
void dh_interrupt_request(int sig);

/* The signal that asked this process to stop, or 0: none did, or it is
 * past its point of no return. */
int dh_interrupt_pending(void);

/* This process has begun a change that must be completed: stop asking. */
void dh_interrupt_past_no_return(void);

#endif
