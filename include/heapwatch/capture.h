/* capture.h - running a job over a consistent copy of a target's memory.
 *
 * Anything that reads a target's heap (the census, `dump --sizes`, the
 * referrer graph of `heapwatch refs`) is a *job*: a function that reads
 * only through a struct hw_snap and fails with HW_EMISS when the memory
 * it needs is not there.  The capture engine runs a job so that what it
 * sees is consistent while the target is stopped as briefly as possible:
 *
 *   1. plan: the pages this kind of job read the last time it succeeded
 *      on this capture, or a plan its caller seeded (hw_capture_seed:
 *      e.g. every resident page of the target's writable mappings, when
 *      copying those costs less than learning a plan), or, the first
 *      time, the pages touched by a *pre-walk*: the job run over the
 *      running target through a live snap (racy: its errors are
 *      ignored, only the pages count);
 *   2. stop every thread (the stopper), copy the plan in bulk, resume;
 *   3. run the job over the copy (offline: a read of a page the copy
 *      lacks fails with HW_EMISS);
 *   4. on HW_EMISS: add the missed pages, widened to HW_SNAP_BLOCK, to
 *      the plan and go back to 2, at most HW_CENSUS_ATTEMPTS copies in
 *      all; then, or when the plan is over the snapshot limit, run the
 *      job once with the target stopped, reading through a live snap.
 *   HW_EBUSY (a collection is running) from any attempt: resume, back off
 *   (2 ms, then 100 ms) and start over, at most busy_retries times.
 *   The pause budget (max_pause_ns) bounds every stop: a copy cut short by
 *   it is walked with misses allowed, a stopped run is given the deadline;
 *   either way the result is partial.  Every run of the job is also given
 *   a walk deadline (max_walk_ns): a huge or hostile heap cannot hold it
 *   forever, and a run cut by it is partial too (partial_reason says
 *   which).
 *
 * The target is resumed on every path out, whatever the job returns.
 *
 * The stopper, the memory reader and the snap are interfaces: the live
 * ones stop with ptrace (freeze.h) and read with process_vm_readv; a test
 * gives a buffer reader over a synthetic heap and a stopper that changes
 * that heap while "stopped".
 */
#ifndef HEAPWATCH_CAPTURE_H
#define HEAPWATCH_CAPTURE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "heapwatch/err.h"
#include "heapwatch/freeze.h"
#include "heapwatch/gcwalk.h"
#include "heapwatch/layout.h"
#include "heapwatch/mem.h"
#include "heapwatch/snap.h"

#define HW_CENSUS_ATTEMPTS 3   /* bulk copies per capture before stopping */
#define HW_CAPTURE_KINDS 8     /* job kinds (plans) one capture keeps */
#define HW_JOB_KIND_MAX 32     /* bytes of a kind's name, NUL included */
#define HW_MAX_WALK_DEFAULT_NS (60ull * 1000 * 1000 * 1000) /* 60 s */

/* ------------------------------------------------------------------ */
/* stoppers */

/* How the engine stops and resumes a target.  The engine calls stop, then
 * exactly one resume for every stop that returned 0, from the thread that
 * called stop.  elapsed_ns reports the current stop (while stopped) or the
 * last one (after resume).
 *   stop:   0 with every thread stopped, or -1 (e filled) with nothing
 *           left stopped;
 *   resume: releases everything stop stopped, even when it fails; 0, or
 *           -1 (e filled) when something could not be released cleanly.
 */
struct hw_stopper {
	int (*stop)(void *ctx, struct hw_err *e);
	int (*resume)(void *ctx, struct hw_err *e);
	uint64_t (*elapsed_ns)(void *ctx);
	void *ctx;
};

/* The live stopper: freeze.h's ptrace freeze of every thread of pid, with
 * heapwatch's terminating signals held meanwhile (hw_freeze_block_signals).
 * Every thread must stop within budget_ns (0: no bound), else stop fails
 * with HW_ETIMEOUT (see freeze.h for the thread it cannot release yet). */
struct hw_ptrace_stopper {
	struct hw_stopper base;  /* what the engine is given */
	pid_t pid;
	struct hw_freeze f;
	sigset_t old_mask;
};
/* Make p a stopper of pid; never fails.  p must stay where it is while
 * p->base is in use (base.ctx points at it).  Release with _fini. */
void hw_ptrace_stopper_init(struct hw_ptrace_stopper *p, pid_t pid,
			    uint64_t budget_ns);
void hw_ptrace_stopper_fini(struct hw_ptrace_stopper *p);

/* ------------------------------------------------------------------ */
/* jobs */

enum hw_job_phase {
	HW_PHASE_PLAN = 0,   /* pre-walk of the running target (live snap):
				results are thrown away, errors ignored */
	HW_PHASE_COPY,       /* over a private copy (offline snap) */
	HW_PHASE_STOPPED,    /* target stopped, live snap */
};

/* What a job is given.  Borrowed: valid during the call only. */
struct hw_job_ctx {
	struct hw_snap *snap;            /* the job reads only through this */
	const struct hw_layout *layout;
	const struct hw_gcroots *roots;
	enum hw_job_phase phase;
	uint64_t deadline_ns;            /* 0 = none; pass to hw_walk_opts */
	int allow_misses;                /* pass to hw_walk_opts: the copy was
					    cut short by the pause budget */
	int partial;                     /* out: set by the job when it
					    stopped short (deadline, misses
					    allowed); the engine ORs in its
					    own reasons */
};

/* A job.  run() is called several times per capture (pre-walk, each
 * copy, maybe a stopped run): each call starts over and must leave its
 * output describing that call alone.  It returns 0 on success, or -1 with
 * e filled: HW_EMISS when the copy lacks memory (never a reason to give
 * up: the engine copies more), HW_EBUSY when a collection is running,
 * anything else to end the capture with that error.  A job must bound
 * every loop (the memory is untrusted) and may keep state in arg
 * (borrowed: the engine never frees it).
 *
 * kind names the job's plan ("census", "sizes", "refs"): jobs of one
 * kind must read the same kind of memory, so that one run's pages are
 * a good plan for the next. */
struct hw_job {
	const char *kind;
	int (*run)(void *arg, struct hw_job_ctx *ctx, struct hw_err *e);
	void *arg;
};

/* ------------------------------------------------------------------ */
/* the engine */

enum hw_capture_mode {
	HW_CAPTURE_SNAPSHOT = 0, /* copy while stopped, run the job after */
	HW_CAPTURE_STOPPED,      /* run the job while stopped */
};

struct hw_capture_opts {
	enum hw_capture_mode mode;
	uint64_t max_pause_ns;    /* bound on one stop; 0 = none */
	uint64_t max_walk_ns;     /* bound on one run of the job, stopped or
				     not (a huge or hostile copy); 0 = none */
	unsigned busy_retries;    /* HW_EBUSY: attempts after the first */
};
void hw_capture_opts_default(struct hw_capture_opts *o);

/* Figures of one capture (hw_capture_run resets them first). */
struct hw_capture_stats {
	const char *mode;         /* "snapshot" or "stopped" (static) */
	int partial;              /* cut short: */
	const char *partial_reason; /* "pause budget reached" or "walk
				     deadline reached" (static), NULL if not */
	int prewalk;              /* this capture learnt its plan by a pre-walk */
	uint64_t plan_bytes;      /* size of the plan of the first copy */
	uint64_t pause_ns;        /* total time stopped */
	uint64_t max_pause_ns;    /* longest stop */
	unsigned stops;           /* stops (each resumed) */
	unsigned attempts;        /* bulk copies */
	uint64_t misses;          /* pages the copies lacked */
	unsigned busy_waits;      /* back-offs for a running collection */
	uint64_t copied_bytes;    /* bytes copied while stopped */
	uint64_t copy_calls;      /* system calls of those copies */
	uint64_t job_ns;          /* the successful run of the job */
	unsigned detach_failures; /* resumes that failed, and stops that ran
				     out of time holding a thread: threads the
				     stopper could not give back at once */
	char detach_error[256];   /* the first of those errors, "" if none */
};

struct hw_capture;

/* An engine over m (reads), st (stops) and l, r (what jobs are given);
 * all borrowed: they must outlive the capture.  snap: a snap to work in
 * (borrowed; a daemon shares one among its captures, which must then run
 * one at a time), or NULL for one of its own holding at most
 * snapshot_limit bytes (0: no limit).  NULL on allocation failure. */
struct hw_capture *hw_capture_new(struct hw_mem *m, struct hw_stopper *st,
				  const struct hw_layout *l,
				  const struct hw_gcroots *r,
				  struct hw_snap *snap, uint64_t snapshot_limit,
				  const struct hw_capture_opts *o,
				  struct hw_err *e);
void hw_capture_free(struct hw_capture *c);  /* NULL is fine */

/* Run job as described above, filling *st.  0 on success; -1 with e
 * filled (the job's error, the stopper's, HW_ELIMIT with more than
 * HW_CAPTURE_KINDS kinds).  Errors carry no pid: the caller names it.
 * A resume that fails does not fail the run (what was copied is sound):
 * it is counted in st->detach_failures, which the caller must report. */
int hw_capture_run(struct hw_capture *c, const struct hw_job *job,
		   struct hw_capture_stats *st, struct hw_err *e);

/* The plan kept for kind (NULL if none yet).  Borrowed: valid until the
 * next run or free. */
const struct hw_pageset *hw_capture_plan(const struct hw_capture *c,
					 const char *kind);
/* The floor under a pause, for `make bench`: copy kind's plan again with
 * the target running and put the time of the copy's system calls alone
 * in *ns.  0, or -1 (no plan for kind yet: HW_EUSAGE; a failed copy). */
int hw_capture_floor(struct hw_capture *c, const char *kind, uint64_t *ns,
		     struct hw_err *e);

/* The capture's snap over its reader, emptied and in live mode (for reads
 * outside a run).  Borrowed: the next run empties it again. */
struct hw_snap *hw_capture_live_snap(struct hw_capture *c);

/* Give kind a plan before its first run, so that it needs no pre-walk:
 * ps (borrowed, copied) replaces what kind had.  Any set of pages will
 * do for exactness (a page the job lacks is a miss, copied on the next
 * attempt); a good seed holds every page the job reads.  0, or -1 with
 * HW_ENOMEM, or HW_ELIMIT (more than HW_CAPTURE_KINDS kinds, or ps
 * larger than the snapshot limit: the plan is left as it was). */
int hw_capture_seed(struct hw_capture *c, const char *kind,
		    const struct hw_pageset *ps, struct hw_err *e);

/* Forget every plan (the next run of each kind pre-walks). */
void hw_capture_forget(struct hw_capture *c);

#endif
