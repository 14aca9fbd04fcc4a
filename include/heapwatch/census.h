/* census.h - the census of one process: live objects per type.
 *
 * The one piece both front ends share: `heapwatch dump` takes one census,
 * the daemon takes one per target per interval with a long-lived session.
 *
 * How a census is taken (mode HW_MODE_SNAPSHOT, the default):
 *   1. plan: the pages the walk needs, from the previous census of this
 *      session, or from a walk of the running target (no stop; racy, so
 *      used only as a plan);
 *   2. stop every thread, copy exactly those pages in bulk, resume
 *      (the pause is the copy, nothing else);
 *   3. walk the private copy and name the types, with the target running;
 *   4. if the walk needs memory the copy lacks (the heap grew), add it to
 *      the plan and repeat from 2, at most HW_CENSUS_ATTEMPTS times; then
 *      fall back to walking while stopped (mode HW_MODE_STOPPED), which
 *      reads through a block cache with the target stopped.
 * A garbage collection in progress is never walked: resume, back off,
 * retry.  The pause is bounded by max_pause: past it the target is
 * resumed and the census is marked partial.
 */
#ifndef HEAPWATCH_CENSUS_H
#define HEAPWATCH_CENSUS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "heapwatch/err.h"
#include "heapwatch/layout.h"
#include "heapwatch/proc.h"
#include "heapwatch/snap.h"

#define HW_CENSUS_ATTEMPTS 3

enum hw_census_mode {
	HW_MODE_SNAPSHOT = 0,  /* copy while stopped, walk while running */
	HW_MODE_STOPPED,       /* walk while stopped, through a block cache */
};

struct hw_census_opts {
	enum hw_census_mode mode;
	uint64_t max_pause_ns;        /* 0: no budget */
	uint64_t snapshot_limit;      /* bytes; 0: no limit.  Past it the
					 census walks while stopped */
	enum hw_layout_source source; /* HW_SRC_NONE: best available */
	unsigned busy_retries;        /* collections in progress: retries */
	int mem_kind;                 /* -1 auto, else enum hw_mem_kind */
	struct hw_snap *shared_snap;  /* NULL: the session has its own.  A
					 daemon passes one snapshot buffer to
					 all its sessions (they census one at
					 a time), so memory stays flat as
					 targets come and go. */
};
void hw_census_opts_default(struct hw_census_opts *o);

struct hw_census_type {
	const char *name;             /* points into the census's name pool */
	uint64_t count;
};

struct hw_census {
	pid_t pid;
	uint64_t starttime;           /* /proc/PID/stat field 22 */
	char python[32];              /* "3.11.7" */
	char layout_source[16];       /* "dwarf", "table", ... */
	char layout_detail[1024];
	char layout_notes[2048];      /* sources that disagree or were refused,
					 one per line; "" if none */
	int version_untested;         /* a CPython minor version no table was
					 made for: layout confirmed at run time */
	struct hw_proc_mem mem;
	uint64_t gc_objects;
	uint64_t pause_ns;            /* total time the target was stopped */
	uint64_t max_pause_ns;        /* longest single stop */
	unsigned stops;               /* times the target was stopped */
	uint64_t copied_bytes;        /* bytes copied while stopped */
	uint64_t copy_calls;          /* system calls of those copies */
	uint64_t walk_ns;             /* walking + naming time */
	uint64_t cpu_ns;              /* CPU time of the census (ours) */
	uint64_t floor_ns;            /* HEAPWATCH_BENCH only: time to copy
					 the same pages again, not stopped */
	unsigned attempts;            /* snapshot attempts */
	uint64_t misses;              /* pages the snapshots lacked */
	unsigned busy_waits;          /* retries because a GC was running */
	const char *mode;             /* "snapshot", "stopped" */
	int partial;                  /* cut short by the pause budget */
	unsigned ninterps;
	uint64_t per_list[4];         /* gen0, gen1, gen2, permanent */
	struct hw_census_type *types; /* sorted by count (desc), then name */
	size_t ntypes;
	char *pool;                   /* names */
	size_t pool_len, pool_cap;
};
void hw_census_init(struct hw_census *c);
void hw_census_fini(struct hw_census *c);
/* Count of the type with this name, 0 if absent. */
uint64_t hw_census_count(const struct hw_census *c, const char *name);

struct hw_session;

/* Identify pid's interpreter and layout and prepare the readers.
 * Errors name the pid: HW_ENOPROC, HW_EPERM, HW_ENOTPY, HW_EVERSION,
 * HW_EFREETHR. */
struct hw_session *hw_session_open(pid_t pid, const struct hw_census_opts *o,
				   struct hw_err *e);
void hw_session_free(struct hw_session *s);
const struct hw_layout *hw_session_layout(const struct hw_session *s);

/* Take a census into c (reset first).  The target is resumed on every
 * path out.  Errors name the pid. */
int hw_session_census(struct hw_session *s, struct hw_census *c,
		      struct hw_err *e);

#endif
