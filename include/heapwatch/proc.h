/* proc.h - facts about a process from /proc, and freezing it with ptrace.
 *
 * Identity: a pid alone is reused by the kernel; (pid, starttime) is not.
 * Freezing: hw_freeze_* stop every thread with PTRACE_SEIZE +
 * PTRACE_INTERRUPT (never SIGSTOP, never writes memory or registers) and
 * resume them with PTRACE_DETACH.  All ptrace calls of one freeze must come
 * from the thread that called hw_freeze_begin().
 */
#ifndef HEAPWATCH_PROC_H
#define HEAPWATCH_PROC_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "heapwatch/err.h"

#define HW_COMM_MAX 64

struct hw_proc_stat {
	pid_t pid;
	pid_t ppid;
	char state;                 /* 'R', 'S', 'T', 't', 'Z', ... */
	char comm[HW_COMM_MAX];     /* may contain spaces and parentheses */
	uint64_t starttime;         /* clock ticks since boot (field 22) */
	int64_t num_threads;
};

/* Parse /proc/PID/stat (splitting after the LAST ')').  HW_ENOPROC if the
 * process does not exist. */
int hw_proc_stat(pid_t pid, struct hw_proc_stat *st, struct hw_err *e);

struct hw_proc_status {
	pid_t tracer_pid;           /* TracerPid:, 0 if not traced */
	uid_t uid;                  /* real uid */
	char name[HW_COMM_MAX];
};
int hw_proc_status(pid_t pid, struct hw_proc_status *st, struct hw_err *e);

/* Memory figures in bytes; -1 where the kernel did not give one. */
struct hw_proc_mem {
	int64_t rss;
	int64_t pss;
	int64_t uss;   /* Private_Clean + Private_Dirty */
	int64_t swap;
};
/* smaps_rollup when readable, else VmRSS from status (pss/uss/swap -1). */
int hw_proc_mem(pid_t pid, struct hw_proc_mem *m, struct hw_err *e);

struct hw_map {
	uint64_t start, end;        /* [start, end) */
	uint64_t offset;            /* file offset */
	unsigned char r, w, x, p;   /* permissions; p = private */
	uint64_t inode;
	int deleted;                /* path ended in " (deleted)" */
	char path[4096];            /* "" for anonymous; without " (deleted)" */
};

struct hw_maps {
	struct hw_map *v;
	size_t n;
};
/* Read /proc/PID/maps.  On success fill *out (free with hw_maps_fini). */
int hw_proc_maps(pid_t pid, struct hw_maps *out, struct hw_err *e);
void hw_maps_fini(struct hw_maps *m);
/* The mapping containing addr, or NULL. */
const struct hw_map *hw_maps_find(const struct hw_maps *m, uint64_t addr);

/* Command line with NULs turned into spaces (trailing ones dropped),
 * capped at size-1 bytes.  Returns length or -1. */
ssize_t hw_proc_cmdline(pid_t pid, char *buf, size_t size, struct hw_err *e);

/* readlink(/proc/PID/exe); " (deleted)" stripped and reported in *deleted
 * (may be NULL).  Returns 0/-1. */
int hw_proc_exe(pid_t pid, char *buf, size_t size, int *deleted,
		struct hw_err *e);

/* Direct children of pid (all threads' /proc/PID/task/TID/children, or a
 * scan of /proc for ppid == pid when that file is missing).  *out is
 * malloc'ed (free()); *n set.  Returns 0/-1. */
int hw_proc_children(pid_t pid, pid_t **out, size_t *n, struct hw_err *e);

/* Thread ids from /proc/PID/task.  *out malloc'ed.  Returns 0/-1. */
int hw_proc_tasks(pid_t pid, pid_t **out, size_t *n, struct hw_err *e);

/* All pids in /proc.  *out malloc'ed.  Returns 0/-1. */
int hw_proc_list(pid_t **out, size_t *n, struct hw_err *e);

/* Explain why we may not trace pid, as text for an error message:
 * names root/CAP_SYS_PTRACE, kernel.yama.ptrace_scope when present, and
 * the tracer from TracerPid.  Always NUL-terminates buf. */
void hw_proc_explain_eperm(pid_t pid, char *buf, size_t size);

/* ---- freezing ---- */

struct hw_freeze {
	pid_t pid;
	pid_t *tids;          /* seized threads */
	size_t ntids, cap;
	int active;           /* some threads are seized */
	uint64_t t_begin_ns;  /* CLOCK_MONOTONIC when the first thread was seized */
	uint64_t t_end_ns;    /* when the last was released */
	int was_stopped;      /* target was in group-stop (SIGSTOP) before */
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

/* CLOCK_MONOTONIC in ns. */
uint64_t hw_now_ns(void);

#endif
