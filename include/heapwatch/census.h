/* census.h - the census of one process: live objects per type.
 *
 * The one piece both front ends share: `heapwatch dump` takes one census,
 * the daemon takes one per target per interval with a long-lived session.
 *
 * A session is made of four parts: what the census needs to know of the
 * target (struct hw_target_desc: a pid for messages, the version, the GC
 * roots), a memory reader (mem.h), a layout (layout.h) and a stopper
 * (capture.h).  hw_session_open() builds all four for a live pid; tests
 * give a buffer reader over a synthetic heap and a stopper of their own
 * (hw_session_new), with no process at all.
 *
 * A census is one job (capture.h) of kind "census": walk every GC list,
 * count objects per type, name the types.  The capture engine runs it
 * over a private copy taken while the target was stopped (mode
 * HW_MODE_SNAPSHOT, the default: plan, stop, copy, resume, walk, widen
 * and retry on misses, then fall back to walking while stopped), or with
 * the target stopped throughout (HW_MODE_STOPPED).  A collection in
 * progress is never walked: resume, back off, retry.  The pause is
 * bounded by max_pause: past it the target is resumed and the census is
 * marked partial.  Other jobs run through the same session
 * (hw_session_capture), each kind keeping its own plan.
 */
#ifndef HEAPWATCH_CENSUS_H
#define HEAPWATCH_CENSUS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "heapwatch/capture.h"
#include "heapwatch/err.h"
#include "heapwatch/gcwalk.h"
#include "heapwatch/layout.h"
#include "heapwatch/mem.h"
#include "heapwatch/names.h"
#include "heapwatch/proc.h"
#include "heapwatch/snap.h"

#define HW_STOP_BUDGET_MIN_NS (100ull * 1000 * 1000)  /* 100 ms */

enum hw_census_mode {
	HW_MODE_SNAPSHOT = 0,  /* copy while stopped, walk while running */
	HW_MODE_STOPPED,       /* walk while stopped, through a block cache */
};

struct hw_census_opts {
	enum hw_census_mode mode;
	uint64_t max_pause_ns;        /* 0: no budget.  Bounds stopping every
					 thread too, but with at least
					 HW_STOP_BUDGET_MIN_NS */
	uint64_t max_walk_ns;         /* bound on one walk, stopped or over a
					 copy (default 60 s); 0: none */
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
	int measure_floor;            /* also time the same copy again with
					 the target running (floor_ns; for
					 `make bench`) */
	int sizes;                    /* also bytes per type as sys.getsizeof
					 counts them, and "dict of X" rows
					 (heapsizes.h; a job of kind "sizes"
					 with its own plan).  Needs a session
					 made by hw_session_open */
};
void hw_census_opts_default(struct hw_census_opts *o);

struct hw_census_type {
	const char *name;             /* points into the census's name pool */
	uint64_t count;
	/* with sizes (hw_census.sizes): */
	uint64_t bytes;               /* sys.getsizeof summed, plus values_bytes */
	uint64_t values_bytes;        /* attribute values no getsizeof counts
					 (objects.h hw_obj_values_size) */
	uint64_t approx;              /* objects whose size is approximate */
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
	uint64_t floor_ns;            /* measure_floor only: time to copy
					 the same pages again, not stopped */
	unsigned attempts;            /* snapshot attempts */
	uint64_t misses;              /* pages the snapshots lacked */
	unsigned busy_waits;          /* retries because a GC was running */
	unsigned detach_failures;     /* threads that could not be given back
					 at once (a failed detach, a thread
					 that would not stop in time): each
					 is kept and released as soon as it
					 can be; set on failure too */
	char detach_error[256];       /* the first of those, "" if none (as
					 struct hw_capture_stats's) */
	const char *mode;             /* "snapshot", "stopped" */
	int partial;                  /* cut short: */
	const char *partial_reason;   /* "pause budget reached", "walk
					 deadline reached" (static); NULL */
	int sizes;                    /* types carry bytes; "dict of X" rows
					 split the dicts by owner */
	uint64_t bytes;               /* with sizes: all rows' bytes */
	struct hw_census_type **by_name; /* with sizes: rows sorted by name */
	unsigned ninterps;
	uint64_t per_list[4];         /* gen0, gen1, gen2, permanent */
	struct hw_census_type *types; /* sorted by count (desc), then name */
	size_t ntypes;
	struct hw_pool pool;          /* names */
};
void hw_census_init(struct hw_census *c);
void hw_census_fini(struct hw_census *c);
/* Count of the type with this name, 0 if absent. */
uint64_t hw_census_count(const struct hw_census *c, const char *name);
/* The row of the type with this name, or NULL: a binary search when
 * the census was taken with sizes (rows indexed by name), else a scan.
 * Borrowed: valid until the census is reset or freed. */
const struct hw_census_type *hw_census_find(const struct hw_census *c,
					    const char *name);

/* What a census needs to know of its target: no live process needed. */
struct hw_target_desc {
	pid_t pid;                    /* named once in errors ("pid N: ...")
					 and in results; 0: none */
	char version[32];             /* "3.11.7", for results; may be "" */
	struct hw_gcroots roots;      /* where the GC lists start */
};

struct hw_session;

/* A session over the parts of a target: t and l are copied; m and st are
 * borrowed and must outlive the session.  No /proc reads: results carry
 * no memory figures (-1) and starttime 0.  NULL on failure (HW_ENOMEM). */
struct hw_session *hw_session_new(const struct hw_target_desc *t,
				  struct hw_mem *m, const struct hw_layout *l,
				  struct hw_stopper *st,
				  const struct hw_census_opts *o,
				  struct hw_err *e);

/* Identify pid's interpreter and layout and prepare the readers: builds
 * the four parts of a live target.  Its censuses also read pid's memory
 * figures from /proc and tell a target that exited (HW_EEXITED).
 * Errors name the pid: HW_ENOPROC, HW_EPERM, HW_ENOTPY, HW_EVERSION,
 * HW_EFREETHR, HW_ELAYOUT. */
struct hw_session *hw_session_open(pid_t pid, const struct hw_census_opts *o,
				   struct hw_err *e);
void hw_session_free(struct hw_session *s);
const struct hw_layout *hw_session_layout(const struct hw_session *s);
/* The live target (symbols, paths) of a session made by hw_session_open;
 * NULL for one made by hw_session_new.  Borrowed: valid while s is. */
const struct hw_target *hw_session_target(const struct hw_session *s);
/* The session's snap over its reader, emptied and in live mode, for reads
 * outside a capture (e.g. hw_objects_new reading static types).
 * Borrowed: valid while s is; the next capture empties it again. */
struct hw_snap *hw_session_live_snap(struct hw_session *s);

/* Take a census into c (reset first).  The target is resumed on every
 * path out.  Errors name the pid. */
int hw_session_census(struct hw_session *s, struct hw_census *c,
		      struct hw_err *e);

/* Run any job through the session's capture engine (capture.h): each job
 * kind keeps its own plan.  The target is resumed on every path out.
 * Errors name the pid. */
int hw_session_capture(struct hw_session *s, const struct hw_job *job,
		       struct hw_capture_stats *st, struct hw_err *e);

/* Seed kind's plan (hw_capture_seed) with every resident page (in RAM or
 * swap) of the live target's private, readable, non-code mappings (its
 * heap, arenas, data and read-only data), when those total
 * at most max_bytes and fit the snapshot limit: a job that reads most of
 * the heap (the referrer graph) then needs no pre-walk, for a copy about
 * as large as the plan a pre-walk would learn.  Returns 1 if seeded, 0 if
 * not (a session without a live target, more than max_bytes, pagemap not
 * readable: the job pre-walks as before), -1 with e filled only when
 * memory ran out. */
int hw_session_seed_resident(struct hw_session *s, const char *kind,
			     uint64_t max_bytes, struct hw_err *e);

#endif
