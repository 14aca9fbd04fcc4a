/* freeze.h - stopping every thread of a process with ptrace, and
 * resuming it.  See src/freeze.c for the discipline.
 *
 * hw_freeze_begin..hw_freeze_end should run with SIGINT, SIGTERM, SIGHUP,
 * SIGPIPE and SIGQUIT blocked (the census does), so that no signal kills
 * us while the target is stopped; they are delivered after the resume.
 * SIGKILL cannot be blocked: the kernel then detaches every tracee itself
 * (exit_ptrace), resuming the target.
 *
 * Threads are stopped with PTRACE_SEIZE + PTRACE_INTERRUPT (never SIGSTOP,
 * never a write to memory or registers) and resumed with PTRACE_DETACH.
 * All ptrace calls of one freeze must come from the thread that called
 * hw_freeze_begin() (the kernel's tracer is a thread, not a process).
 */
#ifndef HEAPWATCH_FREEZE_H
#define HEAPWATCH_FREEZE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "heapwatch/err.h"
#include "heapwatch/units.h"



struct hw_freeze {
	pid_t pid;
	pid_t *tids;          /* seized threads */
	size_t ntids, cap;
	int active;           /* some threads are seized */
	uint64_t t_begin_ns;  /* CLOCK_MONOTONIC when the first thread was seized */
	uint64_t t_end_ns;    /* when the last was released */
	int was_stopped;      /* target was in group-stop (SIGSTOP) before */
	int *sigs;            /* per thread: a signal to hand back on detach */
};

void hw_freeze_init(struct hw_freeze *f);

/* Seize and stop every thread of pid, including threads created while we
 * work (re-list /proc/PID/task until stable).  On failure everything
 * seized so far is released again before returning -1, with HW_ENOPROC,
 * HW_EPERM (message from hw_proc_explain_eperm), HW_ETRACED (names the
 * tracer) or HW_EEXITED.  Threads that exit meanwhile are dropped. */
int hw_freeze_begin(struct hw_freeze *f, pid_t pid, struct hw_err *e);

/* Release every seized thread (PTRACE_DETACH, no signal).  Safe to call
 * twice and on a never-begun freeze.  A target that was SIGSTOPped before
 * stays stopped, as we found it.  Returns 0, or -1 if some thread could not
 * be detached (it is then gone). */
int hw_freeze_end(struct hw_freeze *f, struct hw_err *e);

/* Nanoseconds the target was (or has so far been) stopped. */
uint64_t hw_freeze_elapsed_ns(const struct hw_freeze *f);

void hw_freeze_fini(struct hw_freeze *f);

/* (hw_now_ns(), the clock of t_begin_ns/t_end_ns, is in units.h.) */

#endif
