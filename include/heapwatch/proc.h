/* proc.h - facts about a process from /proc.
 *
 * Identity: a pid alone is reused by the kernel; (pid, starttime) is not.
 * Freezing a process is freeze.h's business.
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

#endif
