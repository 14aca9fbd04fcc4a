/* freeze.h - stopping every thread of a process with ptrace, and
 * resuming it exactly as it was.  See src/freeze.c for the discipline.
 *
 * What a freeze does to the target, and nothing more:
 *   - threads are stopped with PTRACE_SEIZE + PTRACE_INTERRUPT (never
 *     SIGSTOP) and resumed with PTRACE_DETACH; nothing is ever written to
 *     the target's memory or registers;
 *   - no signal is lost or added: one that arrives while a thread is being
 *     stopped is left pending in that thread's signal-delivery-stop and
 *     handed back, with its siginfo, by the detach; one that arrives while
 *     frozen stays queued and is delivered after the resume;
 *   - a process already stopped by SIGSTOP (state 'T') is found stopped
 *     and left stopped (was_stopped is set).
 *
 * Signals to heapwatch: hw_freeze_begin..hw_freeze_end should run with
 * SIGINT, SIGTERM, SIGHUP, SIGPIPE, SIGQUIT, SIGALRM, SIGUSR1, SIGUSR2 blocked
 * (hw_freeze_block_signals), so that no signal ends us while the target is
 * stopped; they are delivered once hw_freeze_restore_signals unblocks them.
 * SIGKILL cannot be blocked: if heapwatch dies the kernel detaches every
 * tracee itself (exit_ptrace), and the target resumes.
 *
 * Threads: the kernel's tracer is a thread, not a process, so every call
 * on one struct hw_freeze must come from the thread that called
 * hw_freeze_begin().  The calls wait for the target's threads with
 * waitpid(tid, __WALL), so the caller must not reap those tids elsewhere
 * meanwhile; if the caller is also the target's parent, a target that
 * exits during a freeze may be reaped by it (its status is then lost).
 *
 * Time (2-CPU VM, sleeping threads): begin + end about 10 us for one
 * thread, 0.3-0.5 ms for 64.  A thread in an uninterruptible sleep
 * (state 'D': a vfork parent, I/O on a hung file system) stops only when
 * the sleep ends.  Without a budget the freeze waits for it; with one
 * (budget_ns) it gives up, resumes every thread it stopped and keeps that
 * one thread seized with its stop request pending: ptrace cannot release
 * a thread that is not in a stop.  When the thread stops, the next begin
 * or end of the same freeze collects and releases it; if none comes, the
 * kernel releases it when heapwatch exits.  Such threads are counted in
 * detach_failures.
 */
#ifndef HEAPWATCH_FREEZE_H
#define HEAPWATCH_FREEZE_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "heapwatch/err.h"
#include "heapwatch/units.h"  /* hw_now_ns(), the clock of t_begin_ns/t_end_ns */

/* One seized thread (internal to freeze.c; read-only for others). */
struct hw_frozen_thread {
	pid_t tid;
	int sig;       /* signal of the signal-delivery-stop it is held in, or 0 */
	int stopped;   /* its stop has been collected with waitpid */
	int dead, kept;/* scratch of a release */
};

struct hw_freeze {
	pid_t pid;
	struct hw_frozen_thread *threads; /* seized threads, ntids of them */
	size_t ntids, cap;
	int active;           /* between a successful begin and its end */
	uint64_t t_begin_ns;  /* CLOCK_MONOTONIC when the first thread was seized */
	uint64_t t_end_ns;    /* when the last was released; 0 while frozen */
	int was_stopped;      /* target was in group-stop (SIGSTOP) before */
	uint64_t budget_ns;   /* set by the caller (0 = none, the default):
				 longest wait for every thread to stop, and
				 for a kept thread to stop to be released */
	unsigned detach_failures; /* threads a release could not free, since
				     init (each kept and tried again) */
};

/* Make f an empty, inactive freeze.  Never fails. */
void hw_freeze_init(struct hw_freeze *f);

/* Seize and stop every thread of process pid (a thread-group id, not the
 * id of a non-leader thread), including threads created while we
 * work (/proc/PID/task is re-listed until a pass finds no thread that is
 * neither stopped by us nor dead, at most 100 passes).  Threads that exit
 * meanwhile are dropped; threads kept by an earlier begin of f that ran
 * out of time are collected as part of this one.  Every thread must stop
 * within f->budget_ns of the call (0: no bound).  Returns 0 with
 * f->active set and every live thread in a tracing stop ('t'), or -1
 * after releasing everything seized so far (but a thread that has not
 * stopped, which stays kept: see above), with (messages never name pid:
 * the caller does):
 *   HW_ENOPROC  no process pid ("no such process");
 *   HW_EEXITED  it exited (or is a zombie) before all was stopped;
 *   HW_ETRACED  a thread is traced by another process ("already traced
 *               by pid M (gdb)");
 *   HW_EPERM    ptrace refused (text from hw_proc_explain_eperm), or pid
 *               is our own process;
 *   HW_ELIMIT   threads kept appearing for 100 passes;
 *   HW_ETIMEOUT a thread did not stop within the budget ("thread 123 did
 *               not stop within 500 ms (state D, in do_vfork)");
 *   HW_ESYS     f is already active, holds threads of another pid, or
 *               ptrace/waitpid failed otherwise.
 * f must have been initialised (hw_freeze_init) and may be reused after
 * hw_freeze_end. */
int hw_freeze_begin(struct hw_freeze *f, pid_t pid, struct hw_err *e);

/* Release every seized thread with PTRACE_DETACH, handing back any signal
 * a thread was held on.  Safe to call twice and on a never-begun freeze
 * (it then does nothing and returns 0).  A target that was SIGSTOPped
 * before, or is sent SIGSTOP while frozen, stays stopped.  Threads that
 * died while frozen (SIGKILL) are reaped here, unless the thread is the
 * group leader and we are also its real parent (the caller reaps it).
 * Threads kept by a begin that ran out of time are polled (within
 * budget_ns) and released if they have stopped.  Sets t_end_ns.  Returns
 * 0, or -1 if a thread could not be released: HW_ESYS when PTRACE_DETACH
 * failed (tried three times), HW_ETIMEOUT when a kept thread has
 * still not stopped; each such thread stays kept, is counted in
 * detach_failures and is tried again by the next begin or end (or
 * released by the kernel when we exit).  Every other thread is released
 * either way.  e may be NULL. */
int hw_freeze_end(struct hw_freeze *f, struct hw_err *e);

/* Nanoseconds the target was (or, while active, has so far been)
 * stopped: from t_begin_ns to t_end_ns or now.  0 if never begun. */
uint64_t hw_freeze_elapsed_ns(const struct hw_freeze *f);

/* hw_freeze_end, then free the thread list (a thread still kept is
 * forgotten: the kernel releases it when heapwatch exits).  f may be
 * NULL. */
void hw_freeze_fini(struct hw_freeze *f);

/* Block SIGINT, SIGTERM, SIGHUP, SIGPIPE, SIGQUIT, SIGALRM, SIGUSR1 and SIGUSR2 in the calling thread
 * (pthread_sigmask) and store the previous mask in *old.  Cannot fail. */
void hw_freeze_block_signals(sigset_t *old);

/* Put back the mask saved by hw_freeze_block_signals; signals that arrived
 * meanwhile are delivered now.  Cannot fail. */
void hw_freeze_restore_signals(const sigset_t *old);

#endif
