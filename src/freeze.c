/* freeze.c - stopping and resuming every thread of a process with ptrace;
 * see include/heapwatch/freeze.h.
 *
 * Discipline (ptrace(2) "Signal-delivery-stop", "Group-stop", "PTRACE_EVENT
 * stops"; elfutils libdwfl/linux-pid-attach.c):
 *
 * - PTRACE_SEIZE neither stops the thread nor sends it a signal;
 *   PTRACE_INTERRUPT then asks for a PTRACE_EVENT_STOP, collected with
 *   waitpid(tid, __WALL).  We seize and interrupt a whole pass of threads
 *   before collecting any stop, so the threads stop in parallel.
 *
 * - A signal dequeued by the thread before our interrupt is reported first
 *   as a signal-delivery-stop.  That stop is as good a freeze as ours: we
 *   leave the thread in it and PTRACE_DETACH it later with the signal as
 *   data, which delivers it with its siginfo (ptrace_signal() in
 *   kernel/signal.c).  Passing a signal to PTRACE_DETACH from any other
 *   stop is ignored by the kernel, so resuming with PTRACE_CONT(0) and
 *   "remembering" the signal would lose it.  The interrupt still pending is
 *   dropped by the detach (__ptrace_unlink clears JOBCTL_TRAP_MASK).
 *
 * - A seized thread in group-stop reports PTRACE_EVENT_STOP with the stop
 *   signal instead of SIGTRAP.  Detaching leaves it in group-stop, so a
 *   SIGSTOPped target stays stopped, as we found it.
 *
 * - A stop is collected by blocking in waitpid for every thread except the
 *   group leader.  A leader that exits while other threads live is a
 *   zombie that waitpid does not report until the whole group is gone
 *   (delay_group_leader in kernel/exit.c), and those other threads may be
 *   stopped by us: blocking on it could wait forever.  So the leader is
 *   collected last, polled with WNOHANG and checked in /proc meanwhile.
 *
 * - Completeness: stopped threads neither create nor end threads.  A pass
 *   over /proc/PID/task that finds every listed thread either stopped by us
 *   or dead therefore proves no thread runs; passes repeat until one does.
 *
 * - Release: PTRACE_DETACH needs the thread in a ptrace-stop, so a thread
 *   seized but not yet collected (failure half-way) is collected first.  A
 *   thread that died while stopped (SIGKILL) stays our zombie until we
 *   reap it: non-leaders first, the leader (bounded poll) last.
 *
 * Nothing here writes to the tracee: no PTRACE_POKE*, no SETREGS, no
 * signal of our own.
 */
#include "heapwatch/freeze.h"

#include <dirent.h>
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "heapwatch/proc.h"

#define MAX_PASSES 100
/* Polling the leader: yield this many times, then sleep POLL_SLEEP_NS
 * between polls (a thread in uninterruptible sleep may take long). */
#define POLL_SPINS 200
#define POLL_SLEEP_NS 200000L
/* Reaping a dead leader after the release: give up after this many polls
 * (the kernel reaps it when we exit). */
#define REAP_POLLS 2000
/* PTRACE_DETACH attempts per thread and release. */
#define DETACH_TRIES 3

void hw_freeze_init(struct hw_freeze *f)
{
	memset(f, 0, sizeof *f);
}

void hw_freeze_fini(struct hw_freeze *f)
{
	if (!f)
		return;
	hw_freeze_end(f, NULL);
	free(f->threads);
	memset(f, 0, sizeof *f);
}

uint64_t hw_freeze_elapsed_ns(const struct hw_freeze *f)
{
	if (!f->t_begin_ns)
		return 0;
	return (f->t_end_ns ? f->t_end_ns : hw_now_ns()) - f->t_begin_ns;
}

void hw_freeze_block_signals(sigset_t *old)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGPIPE);
	sigaddset(&set, SIGQUIT);
	/* and every other signal whose default action ends the process */
	sigaddset(&set, SIGALRM);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGUSR2);
	/* Fails only for an invalid `how`. */
	pthread_sigmask(SIG_BLOCK, &set, old);
}

void hw_freeze_restore_signals(const sigset_t *old)
{
	pthread_sigmask(SIG_SETMASK, old, NULL);
}

static int is_seized(const struct hw_freeze *f, pid_t tid)
{
	for (size_t i = 0; i < f->ntids; i++)
		if (f->threads[i].tid == tid)
			return 1;
	return 0;
}

/* Room for one more thread, made before seizing it: a seized thread must
 * never be left unrecorded. */
static int reserve(struct hw_freeze *f, struct hw_err *e)
{
	struct hw_frozen_thread *nt;
	size_t nc;

	if (f->ntids < f->cap)
		return 0;
	nc = f->cap ? f->cap * 2 : 16;
	nt = realloc(f->threads, nc * sizeof *nt);
	if (!nt)
		return hw_err_set(e, HW_ENOMEM, ENOMEM, "growing the thread list");
	f->threads = nt;
	f->cap = nc;
	return 0;
}

static void pause_poll(unsigned polls)
{
	if (polls < POLL_SPINS) {
		sched_yield();
	} else {
		struct timespec ts = { 0, POLL_SLEEP_NS };

		nanosleep(&ts, NULL);
	}
}

/* The thread has exited: gone from /proc, or a zombie / dead. */
static int thread_dead(pid_t pid, pid_t tid)
{
	struct hw_proc_stat st;

	if (hw_proc_task_stat(pid, tid, &st, NULL) < 0)
		return 1;
	return st.state == 'Z' || st.state == 'X' || st.state == 'x';
}

/* Collect th's ptrace-stop (it has been seized and interrupted).
 * Returns 1 when it is stopped (th->sig set), 0 when it is gone, 2 when
 * deadline (hw_now_ns clock; 0 = none) passed first, -1 with errno when
 * waitpid failed.  Without a deadline non-leaders are waited for in a
 * blocking waitpid; with one every thread is polled, so that a thread
 * that cannot stop (uninterruptible sleep, a vfork parent) cannot hold
 * us past it. */
static int collect_stop(struct hw_freeze *f, struct hw_frozen_thread *th,
			uint64_t deadline)
{
	int poll = th->tid == f->pid || deadline;

	for (unsigned polls = 0;; polls++) {
		int st, event;
		pid_t r = waitpid(th->tid, &st, __WALL | (poll ? WNOHANG : 0));

		if (r < 0) {
			if (errno == EINTR)
				continue;
			/* ECHILD: no longer our tracee, i.e. it died and
			 * was released. */
			return errno == ECHILD ? 0 : -1;
		}
		if (r == 0) {
			/* /proc costs a few us: look only now and then */
			if (polls % 16 == 15 && thread_dead(f->pid, th->tid))
				return 0;
			if (deadline && hw_now_ns() >= deadline)
				return 2;
			pause_poll(polls);
			continue;
		}
		if (WIFEXITED(st) || WIFSIGNALED(st))
			return 0;
		if (!WIFSTOPPED(st))
			continue;
		th->stopped = 1;
		event = (int)((unsigned)st >> 16);
		if (event == 0) {
			/* signal-delivery-stop: hold it, deliver on detach */
			th->sig = WSTOPSIG(st);
		} else {
			th->sig = 0;
			/* PTRACE_EVENT_STOP with a stop signal: group-stop */
			if (event == PTRACE_EVENT_STOP && WSTOPSIG(st) != SIGTRAP)
				f->was_stopped = 1;
		}
		return 1;
	}
}

/* Reap a thread that died while it was our tracee.  Non-leaders report
 * promptly; the leader only once its group is empty, so it is polled, a
 * bounded number of times.  A leader whose real parent we are is left to
 * our caller, whose exit status it is. */
static void reap_dead(struct hw_freeze *f, pid_t tid)
{
	int leader = tid == f->pid;
	struct hw_proc_stat ps;

	if (leader && hw_proc_stat(tid, &ps, NULL) == 0 && ps.ppid == getpid())
		return;
	for (unsigned polls = 0; polls < REAP_POLLS; polls++) {
		int st;
		pid_t r = waitpid(tid, &st, __WALL | (leader ? WNOHANG : 0));

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 || (r > 0 && (WIFEXITED(st) || WIFSIGNALED(st))))
			return;
		if (r > 0) {
			/* A stop after all: release it. */
			if (ptrace(PTRACE_DETACH, tid, 0, 0) == 0)
				return;
			continue;
		}
		pause_poll(polls);
	}
}

/* Release one thread; 1 if it turned out dead (to be reaped), 0 done,
 * 2 if it has not stopped by deadline (0 = wait as long as it takes), -1
 * with errno if it could not be detached. */
static int release_one(struct hw_freeze *f, struct hw_frozen_thread *th,
		       uint64_t deadline)
{
	if (!th->stopped) {
		/* Seized, interrupt maybe never sent: ask (again; a pending
		 * interrupt is not doubled) and wait for the stop. */
		if (ptrace(PTRACE_INTERRUPT, th->tid, 0, 0) < 0 && errno == ESRCH)
			return 1;
		int r = collect_stop(f, th, deadline);

		if (r == 0 || r == 2)
			return r;
		if (r < 0)
			return -1;
	}
	/* PTRACE_DETACH of a thread in a ptrace-stop fails only with ESRCH
	 * (SIGKILL woke it to die) in practice; anything else is retried
	 * and, if it persists, the thread is kept to be tried again. */
	for (int tries = 0; tries < DETACH_TRIES; tries++) {
		if (ptrace(PTRACE_DETACH, th->tid, 0, (void *)(long)th->sig) == 0) {
			th->stopped = 0;
			return 0;
		}
		if (errno == ESRCH)
			return 1;
	}
	return -1;
}

/* Release every seized thread.  Threads that cannot be released now (not
 * stopped by deadline, or a detach that keeps failing) stay in f->threads,
 * counted in f->detach_failures, and are tried again by the next begin or
 * end.  Returns 0, or -1 with e set (the first failure). */
static int release_all(struct hw_freeze *f, uint64_t deadline, struct hw_err *e)
{
	int rc = 0;
	size_t nkept = 0;

	for (size_t i = 0; i < f->ntids; i++) {
		struct hw_frozen_thread *th = &f->threads[i];
		int r = release_one(f, th, deadline);

		th->dead = r == 1;
		th->kept = r == 2 || r < 0;
		if (!th->kept)
			continue;
		if (rc == 0)
			rc = r == 2 ?
				hw_err_set(e, HW_ETIMEOUT, 0, "thread %d has not stopped to be "
					   "released (it stays seized until it stops or "
					   "heapwatch exits)", (int)th->tid) :
				hw_err_set(e, HW_ESYS, errno, "detaching thread %d",
					   (int)th->tid);
		f->detach_failures++;
	}
	/* The dead are reaped once every live thread is released: non-leaders
	 * first, the leader (reported only when its group is empty) last. */
	for (int leader = 0; leader < 2; leader++)
		for (size_t i = 0; i < f->ntids; i++)
			if (f->threads[i].dead && (f->threads[i].tid == f->pid) == leader)
				reap_dead(f, f->threads[i].tid);
	for (size_t i = 0; i < f->ntids; i++)
		if (f->threads[i].kept)
			f->threads[nkept++] = f->threads[i];
	f->ntids = nkept;
	return rc;
}

/* PTRACE_SEIZE of tid failed with EPERM: a thread already exiting (0,
 * drop it), another tracer (HW_ETRACED) or a lack of privilege
 * (HW_EPERM).  Returns 0 or -1. */
static int refused(struct hw_freeze *f, pid_t tid, struct hw_err *e)
{
	struct hw_proc_status ts;
	char why[512];

	if (thread_dead(f->pid, tid))
		return 0; /* ptrace_attach() refuses tasks with exit_state */
	if (hw_proc_task_status(f->pid, tid, &ts, NULL) == 0 && ts.tracer_pid) {
		struct hw_proc_stat tr;

		if (hw_proc_stat(ts.tracer_pid, &tr, NULL) == 0)
			return hw_err_set(e, HW_ETRACED, 0, "already traced by pid %d (%s)",
					  (int)ts.tracer_pid, tr.comm);
		return hw_err_set(e, HW_ETRACED, 0, "already traced by pid %d",
				  (int)ts.tracer_pid);
	}
	hw_proc_explain_eperm(f->pid, why, sizeof why);
	return hw_err_set(e, HW_EPERM, 0, "%s", why);
}

/* A thread did not stop within the budget: say which, and why if /proc
 * can tell (state D: an uninterruptible sleep, e.g. a vfork parent or I/O
 * on a hung file system). */
static int timed_out(const struct hw_freeze *f, pid_t tid, struct hw_err *e)
{
	struct hw_proc_stat st;
	char wchan[64] = "", path[96];
	FILE *fp;

	snprintf(path, sizeof path, "/proc/%d/task/%d/wchan", (int)f->pid, (int)tid);
	if ((fp = fopen(path, "re"))) {
		if (!fgets(wchan, sizeof wchan, fp))
			wchan[0] = '\0';
		fclose(fp);
	}
	if (hw_proc_task_stat(f->pid, tid, &st, NULL) < 0)
		st.state = '?';
	return hw_err_set(e, HW_ETIMEOUT, 0,
			  "thread %d did not stop within %llu ms (state %c%s%s)",
			  (int)tid, (unsigned long long)(f->budget_ns / 1000000),
			  st.state, wchan[0] && wchan[0] != '0' ? ", in " : "",
			  wchan[0] && wchan[0] != '0' ? wchan : "");
}

/* One pass over /proc/PID/task: seize and interrupt every thread not yet
 * seized, then collect the stops of every thread not stopped yet, by
 * deadline (0 = none).  *added: threads newly stopped. */
static int seize_pass(struct hw_freeze *f, uint64_t deadline, size_t *added,
		      struct hw_err *e)
{
	char path[64];
	struct dirent *de;
	size_t first = f->ntids, kept;
	DIR *d;

	*added = 0;
	snprintf(path, sizeof path, "/proc/%d/task", (int)f->pid);
	d = opendir(path);
	if (!d) {
		if (errno == ENOENT || errno == ESRCH)
			return hw_err_set(e, first ? HW_EEXITED : HW_ENOPROC, 0,
					  first ? "process exited" : "no such process");
		return hw_err_set(e, errno == EACCES ? HW_EPERM : HW_ESYS, errno,
				  "listing its threads");
	}
	while ((de = readdir(d))) {
		char *end;
		long v = strtol(de->d_name, &end, 10);
		pid_t tid = (pid_t)v;

		if (*end || v <= 0 || is_seized(f, tid))
			continue;
		if (reserve(f, e) < 0)
			goto fail;
		if (ptrace(PTRACE_SEIZE, tid, 0, 0) < 0) {
			if (errno == ESRCH)
				continue; /* exited meanwhile */
			if (errno == EPERM) {
				if (refused(f, tid, e) < 0)
					goto fail;
				continue;
			}
			hw_err_set(e, HW_ESYS, errno, "PTRACE_SEIZE of thread %d",
				   (int)tid);
			goto fail;
		}
		if (!f->t_begin_ns)
			f->t_begin_ns = hw_now_ns();
		f->threads[f->ntids++] = (struct hw_frozen_thread){ .tid = tid };
		/* ESRCH: it died already; collecting says so. */
		if (ptrace(PTRACE_INTERRUPT, tid, 0, 0) < 0 && errno != ESRCH) {
			hw_err_set(e, HW_ESYS, errno, "PTRACE_INTERRUPT of thread %d",
				   (int)tid);
			goto fail;
		}
	}
	closedir(d);
	d = NULL;
	/* Non-leaders first (blocking, or polled under a budget), the leader
	 * last (polled).  Every thread not stopped yet: this pass's, and any
	 * left seized by an earlier freeze that ran out of time. */
	for (int leader_round = 0; leader_round < 2; leader_round++) {
		for (size_t i = 0; i < f->ntids; i++) {
			struct hw_frozen_thread *th = &f->threads[i];

			if (th->stopped || !th->tid || (th->tid == f->pid) != leader_round)
				continue;
			int r = collect_stop(f, th, deadline);

			if (r < 0) {
				hw_err_set(e, HW_ESYS, errno, "waiting for thread %d to stop",
					   (int)th->tid);
				goto fail;
			}
			if (r == 2) {
				timed_out(f, th->tid, e);
				goto fail;
			}
			if (r == 0)
				th->tid = 0; /* gone */
			else
				(*added)++;
		}
	}
	kept = 0;
	for (size_t i = 0; i < f->ntids; i++)
		if (f->threads[i].tid)
			f->threads[kept++] = f->threads[i];
	f->ntids = kept;
	return 0;
fail:
	if (d)
		closedir(d);
	/* Drop the dead (tid 0) so that release_all does not see them. */
	kept = 0;
	for (size_t i = 0; i < f->ntids; i++)
		if (f->threads[i].tid)
			f->threads[kept++] = f->threads[i];
	f->ntids = kept;
	return -1;
}

int hw_freeze_begin(struct hw_freeze *f, pid_t pid, struct hw_err *e)
{
	uint64_t deadline;
	int keep;

	if (f->active)
		return hw_err_set(e, HW_ESYS, EALREADY, "a freeze of pid %d is already in effect",
				  (int)f->pid);
	if (f->ntids && f->pid != pid)
		return hw_err_set(e, HW_ESYS, EALREADY, "threads of pid %d are still held",
				  (int)f->pid);
	f->pid = pid;
	f->t_begin_ns = f->t_end_ns = 0;
	f->was_stopped = 0;
	if (pid <= 0)
		return hw_err_set(e, HW_ENOPROC, 0, "no such process");
	if (pid == getpid())
		return hw_err_set(e, HW_EPERM, 0, "that is heapwatch itself");
	/* Another tracer is named when PTRACE_SEIZE refuses a thread
	 * (refused()), from that thread's own TracerPid: the same answer as
	 * reading TracerPid first, 4 us cheaper, and also right for a tracer
	 * that attaches meanwhile or holds only some threads. */
	deadline = f->budget_ns ? hw_now_ns() + f->budget_ns : 0;
	for (int pass = 0; pass < MAX_PASSES; pass++) {
		size_t added;

		if (seize_pass(f, deadline, &added, e) < 0)
			goto fail;
		if (added == 0) {
			if (f->ntids == 0) {
				hw_err_set(e, HW_EEXITED, 0, "process exited");
				goto fail;
			}
			f->active = 1;
			return 0;
		}
	}
	hw_err_set(e, HW_ELIMIT, 0, "threads kept appearing after %d passes",
		   MAX_PASSES);
fail:
	keep = errno;
	/* Past the budget already: a thread that has not stopped is polled
	 * once more, not waited for. */
	release_all(f, deadline ? hw_now_ns() : 0, NULL);
	if (f->t_begin_ns)
		f->t_end_ns = hw_now_ns();
	errno = keep;
	return -1;
}

int hw_freeze_end(struct hw_freeze *f, struct hw_err *e)
{
	int rc, keep = errno;

	if (!f->active && !f->ntids)
		return 0;
	/* Every thread of an active freeze is stopped: nothing to wait for.
	 * Threads kept from a failed begin are polled within the budget. */
	rc = release_all(f, f->budget_ns ? hw_now_ns() + f->budget_ns : 0, e);
	if (f->active || f->t_begin_ns)
		f->t_end_ns = hw_now_ns();
	f->active = 0;
	errno = keep;
	return rc;
}
