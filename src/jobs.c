#include "config.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <talloc.h>
#include <unistd.h>

#include "interrupt.h"
#include "jobs.h"

/* The signals that stop a batch (design invariant 10). */
static const int STOP_SIGNALS[] = { SIGINT, SIGTERM, SIGHUP };
#define N_STOP (sizeof(STOP_SIGNALS) / sizeof(STOP_SIGNALS[0]))

struct job {
	pid_t pid;
	int fd;              /* read end of the child's pipe, -1 when read */
	char *out;           /* talloc'd output so far */
	size_t len;
	int status, signal;
	int ended;
};

struct pool {
	struct job *jobs;
	size_t n, started, ended, handed;
	unsigned running, max;
	dh_job_work_fn work;
	dh_job_done_fn done;
	dh_job_progress_fn progress;
	void *arg;
	sigset_t old_mask;           /* the caller's */
	sigset_t run_mask;           /* it, the stop signals unblocked: for
				      * ppoll() and the workers */
	struct sigaction old_act[N_STOP];
	bool stopping;               /* stop signal forwarded to the workers */
};

/* The child's side: its exit status is the target's; _exit, so that
 * nothing the parent had buffered or registered runs twice. */
static void child(struct pool *p, size_t i, int fd)
{
	int status;

	/* The parent's table of jobs, and the read ends of the other
	 * children's pipes in it, are not this process's to keep. */
	for (size_t k = 0; k < i; k++)
		if (p->jobs[k].fd >= 0)
			close(p->jobs[k].fd);
	TALLOC_FREE(p->jobs);
	/* The handlers stay (a stop signal is recorded, for the commit to
	 * see at its next safe point); only the parent blocks them. */
	sigprocmask(SIG_SETMASK, &p->run_mask, NULL);
	status = p->work(p->arg, i, fd);
	close(fd);
	_exit(status);
}

static int start(struct pool *p)
{
	struct job *j = &p->jobs[p->started];
	int pipefd[2];

	if (pipe(pipefd) != 0)
		return -1;
	/* Anything buffered now would be written twice, by both processes. */
	fflush(NULL);
	j->pid = fork();
	if (j->pid < 0) {
		close(pipefd[0]);
		close(pipefd[1]);
		return -1;
	}
	if (j->pid == 0) {
		close(pipefd[0]);
		child(p, p->started, pipefd[1]);
	}
	close(pipefd[1]);
	j->fd = pipefd[0];
	p->started++;
	p->running++;
	return 0;
}

static void reap(struct pool *p, struct job *j)
{
	int ws;

	while (waitpid(j->pid, &ws, 0) < 0 && errno == EINTR)
		;
	j->status = WIFEXITED(ws) ? WEXITSTATUS(ws) : -1;
	j->signal = WIFSIGNALED(ws) ? WTERMSIG(ws) : 0;
	j->ended = 1;
	p->ended++;
	p->running--;
	if (p->progress != NULL)
		p->progress(p->arg, p->ended, p->n);
}

/* Read what the child wrote; at end of file, the child is done. */
static int drain(struct pool *p, struct job *j)
{
	char buf[65536];
	ssize_t r = read(j->fd, buf, sizeof(buf));

	if (r < 0 && (errno == EINTR || errno == EAGAIN))
		return 0;
	if (r > 0) {
		char *out = talloc_realloc(p->jobs, j->out, char, j->len + (size_t)r + 1);

		if (out == NULL)
			return -1;
		memcpy(out + j->len, buf, (size_t)r);
		j->len += (size_t)r;
		out[j->len] = '\0';
		j->out = out;
		return 0;
	}
	close(j->fd);
	j->fd = -1;
	reap(p, j);
	return 0;
}

static void hand_over(struct pool *p)
{
	while (p->handed < p->n && p->jobs[p->handed].ended) {
		struct job *j = &p->jobs[p->handed];

		p->done(p->arg, p->handed, j->out ? j->out : "", j->len,
			j->status, j->signal);
		TALLOC_FREE(j->out);
		p->handed++;
	}
}

/* Stop signals are blocked in the parent except while it waits in
 * ppoll(), so that one cannot slip in between a check and the wait. Each is
 * recorded by dh_interrupt_request(), without SA_RESTART: a worker waiting
 * for a hive's lock is woken. A signal the caller ignores (nohup, a
 * background job's SIGINT) stays ignored. */
static int catch_stop_signals(struct pool *p)
{
	struct sigaction sa = { .sa_handler = dh_interrupt_request };
	sigset_t stop;

	sigemptyset(&sa.sa_mask);
	sigemptyset(&stop);
	for (size_t i = 0; i < N_STOP; i++)
		sigaddset(&stop, STOP_SIGNALS[i]);
	if (sigprocmask(SIG_BLOCK, &stop, &p->old_mask) != 0)
		return -1;
	p->run_mask = p->old_mask;
	for (size_t i = 0; i < N_STOP; i++) {
		sigdelset(&p->run_mask, STOP_SIGNALS[i]);
		if (sigaction(STOP_SIGNALS[i], NULL, &p->old_act[i]) != 0 ||
		    (p->old_act[i].sa_handler != SIG_IGN &&
		     sigaction(STOP_SIGNALS[i], &sa, NULL) != 0))
			return -1;
	}
	return 0;
}

/* Unblocked first, while the handlers still only record: one more signal
 * pending must not end the process before the caller has reported. */
static void release_stop_signals(struct pool *p)
{
	sigprocmask(SIG_SETMASK, &p->old_mask, NULL);
	for (size_t i = 0; i < N_STOP; i++)
		sigaction(STOP_SIGNALS[i], &p->old_act[i], NULL);
}

/* Stopped by a signal: it reaches every running worker (a kill of the
 * parent alone would leave them writing on), and no target is started. */
static void stop(struct pool *p, int sig)
{
	p->stopping = true;
	for (size_t i = p->handed; i < p->started; i++)
		if (!p->jobs[i].ended)
			kill(p->jobs[i].pid, sig);
	for (size_t i = p->started; i < p->n; i++)
		p->jobs[i] = (struct job){ .fd = -1, .status = DH_JOB_NOT_STARTED,
					   .signal = sig, .ended = 1 };
	p->started = p->n;
}

static int wait_some(struct pool *p)
{
	struct pollfd *fds = talloc_array(p->jobs, struct pollfd, p->running);
	size_t *which = talloc_array(p->jobs, size_t, p->running);
	size_t k = 0;
	int rc = 0;

	if (fds == NULL || which == NULL)
		return -1;
	for (size_t i = p->handed; i < p->started; i++) {
		if (p->jobs[i].fd < 0)
			continue;
		fds[k] = (struct pollfd){ .fd = p->jobs[i].fd, .events = POLLIN };
		which[k++] = i;
	}
	if (ppoll(fds, k, NULL, &p->run_mask) < 0 && errno != EINTR)
		rc = -1;
	if (!p->stopping && dh_interrupt_pending() != 0)
		stop(p, dh_interrupt_pending());
	for (size_t i = 0; rc == 0 && i < k; i++)
		if (fds[i].revents != 0)
			rc = drain(p, &p->jobs[which[i]]);
	talloc_free(fds);
	talloc_free(which);
	return rc;
}

int dh_jobs_run(size_t n, unsigned jobs, dh_job_work_fn work,
		dh_job_done_fn done, dh_job_progress_fn progress, void *arg)
{
	struct pool p = { .n = n, .max = jobs ? jobs : 1, .work = work,
			  .done = done, .progress = progress, .arg = arg };
	int rc = 0;

	p.jobs = talloc_zero_array(NULL, struct job, n ? n : 1);
	if (p.jobs == NULL)
		return -1;
	if (catch_stop_signals(&p) != 0) {
		release_stop_signals(&p);
		talloc_free(p.jobs);
		return -1;
	}
	while (rc == 0 && p.handed < n) {
		while (rc == 0 && p.running < p.max && p.started < n)
			rc = start(&p);
		if (rc == 0 && p.running > 0)
			rc = wait_some(&p);
		hand_over(&p);
	}
	/* On a pool failure, children already started still finish. */
	while (p.running > 0 && wait_some(&p) == 0)
		hand_over(&p);
	release_stop_signals(&p);
	talloc_free(p.jobs);
	return rc;
}
