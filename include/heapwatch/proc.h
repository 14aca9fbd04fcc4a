/* proc.h - facts about a process from /proc.
 *
 * Identity: a pid alone is reused by the kernel; (pid, starttime) is not.
 * Freezing a process is freeze.h's business.
 * Errors never name the pid (or tid) asked about: the caller, which owns
 * that context, does.
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

/* Parse /proc/PID/stat (splitting after the LAST ')').  Returns 0, or -1
 * with HW_ENOPROC ("no such process"), HW_EPERM (EACCES) or
 * HW_ESYS (unreadable text).  e may be NULL. */
int hw_proc_stat(pid_t pid, struct hw_proc_stat *st, struct hw_err *e);

/* The same for one thread: /proc/PID/task/TID/stat (st->pid is tid, state
 * and comm are the thread's).  HW_ENOPROC when the thread is gone. */
int hw_proc_task_stat(pid_t pid, pid_t tid, struct hw_proc_stat *st,
		      struct hw_err *e);

struct hw_proc_status {
	pid_t tracer_pid;           /* TracerPid:, 0 if not traced */
	uid_t uid;                  /* real uid */
	char name[HW_COMM_MAX];     /* Name:, as /proc escapes it */
};
/* Parse /proc/PID/status.  Returns 0, or -1 with HW_ENOPROC or HW_EPERM.
 * Fields the kernel did not give are 0 / "". */
int hw_proc_status(pid_t pid, struct hw_proc_status *st, struct hw_err *e);

/* The same for one thread (/proc/PID/task/TID/status): a tracer may hold
 * one thread and not the others. */
int hw_proc_task_status(pid_t pid, pid_t tid, struct hw_proc_status *st,
			struct hw_err *e);

/* Memory figures in bytes; -1 where the kernel did not give one. */
struct hw_proc_mem {
	int64_t rss;
	int64_t pss;
	int64_t uss;   /* Private_Clean + Private_Dirty */
	int64_t swap;
};
/* smaps_rollup when readable (kB turned into bytes), else VmRSS from
 * status (pss/uss/swap -1; rss -1 too for a kernel thread).  Returns 0, or
 * -1 with HW_ENOPROC / HW_EPERM; *m is filled with -1 first. */
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
/* Read /proc/PID/maps, in the kernel's order (ascending, disjoint).  On
 * success fill *out, which the caller owns (free with hw_maps_fini); on
 * failure *out is empty and -1 is returned with HW_ENOPROC, HW_EPERM or
 * HW_ENOMEM.  Paths longer than path[] are cut (still NUL-terminated). */
int hw_proc_maps(pid_t pid, struct hw_maps *out, struct hw_err *e);
/* Free what hw_proc_maps filled and leave *m empty.  m may be NULL. */
void hw_maps_fini(struct hw_maps *m);
/* The mapping containing addr, or NULL.  Borrowed: valid until
 * hw_maps_fini(m).  Binary search: m must be sorted as hw_proc_maps
 * leaves it. */
const struct hw_map *hw_maps_find(const struct hw_maps *m, uint64_t addr);

/* The pages of [start, end) (page aligned) that hold memory now, in RAM
 * or in swap (/proc/PID/pagemap, bits 63 and 62; needs ptrace access):
 * fn(arg, s, t) is called once for each maximal run [s, t) of them, in
 * ascending order, and may return -1 to stop (that is returned).
 * 0, or -1 with HW_ENOPROC, HW_EPERM or HW_ESYS; e may be filled by fn. */
int hw_proc_resident(pid_t pid, uint64_t start, uint64_t end,
		     int (*fn)(void *arg, uint64_t s, uint64_t t, struct hw_err *e),
		     void *arg, struct hw_err *e);

/* Command line with NULs turned into spaces (trailing NULs and spaces, as
 * setproctitle leaves them, dropped), capped at size-1 bytes and always
 * NUL-terminated when size > 0.  Returns its length (0 for a kernel thread
 * or a zombie), or -1 with HW_ENOPROC / HW_EPERM (HW_EUSAGE if size is 0). */
ssize_t hw_proc_cmdline(pid_t pid, char *buf, size_t size, struct hw_err *e);

/* readlink(/proc/PID/exe) into buf (NUL-terminated; HW_ELIMIT if it does
 * not fit); " (deleted)" stripped and reported in *deleted (may be NULL).
 * Returns 0, or -1 with HW_ENOPROC (gone, or no executable: a zombie or a
 * kernel thread) or HW_EPERM. */
int hw_proc_exe(pid_t pid, char *buf, size_t size, int *deleted,
		struct hw_err *e);

/* Direct children of pid (all threads' /proc/PID/task/TID/children, or a
 * scan of /proc for ppid == pid on kernels without CONFIG_PROC_CHILDREN).
 * On success *out is malloc'ed (the caller free()s it; NULL when *n is 0).
 * Returns 0, or -1 with HW_ENOPROC / HW_EPERM / HW_ENOMEM (*out NULL). */
int hw_proc_children(pid_t pid, pid_t **out, size_t *n, struct hw_err *e);

/* Thread ids from /proc/PID/task, in the kernel's order (the leader
 * first).  *out malloc'ed as for hw_proc_children.  Returns 0/-1. */
int hw_proc_tasks(pid_t pid, pid_t **out, size_t *n, struct hw_err *e);

/* All pids in /proc.  *out malloc'ed as for hw_proc_children.
 * Returns 0/-1. */
int hw_proc_list(pid_t **out, size_t *n, struct hw_err *e);

/* Explain why we may not trace pid, as text for an error message:
 *   "permission denied: need root or CAP_SYS_PTRACE
 *    (kernel.yama.ptrace_scope=1 allows only descendants); already traced
 *    by pid 77 (gdb); it runs as uid 1000, we as uid 1001"
 * The ptrace_scope part only where /proc/sys/kernel/yama/ptrace_scope
 * exists and is not 0; the others only when they apply.  Always
 * NUL-terminates buf (when size > 0); never fails. */
void hw_proc_explain_eperm(pid_t pid, char *buf, size_t size);

#endif
