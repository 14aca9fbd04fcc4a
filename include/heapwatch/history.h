/* history.h - the local history: every sample in an SQLite database.
 *
 * One file (plus SQLite's -wal and -shm beside it) holds every sample the
 * daemon took, per process and per target aggregate, with the counts of
 * the types each sample carried.  The schema is public (heapwatch(1),
 * HISTORY): people query it with sqlite3.  Version 1:
 *
 *   meta(key TEXT PRIMARY KEY, value)             created_ms, thinned_upto_ms
 *   process(id, target, pid, starttime,           pid 0: a target's aggregate
 *           first_ms, last_ms)                    UNIQUE (target, pid, starttime)
 *   sample(id, process, t_ms, slot, ok, partial,  bytes; NULL when unknown
 *          rss, pss, uss, swap, rss_peak, max_rss,
 *          nprocs, nprocs_ok, gc_objects, pause_us,
 *          verdict, kind, rss_growth_per_hour,    the daemon's judgement
 *          samples)                               (verdict.h), NULL if none
 *   type(id, name, last_ms)                       name UNIQUE
 *   type_count(sample, type, count,               PRIMARY KEY (sample, type)
 *              growth_per_hour)
 *   views samples, type_counts                    the same, joined with names
 *
 * PRAGMA application_id is HW_HISTORY_APP_ID and user_version the schema
 * version, so a file is known as ours, and a file from a newer heapwatch
 * is refused instead of misread.
 *
 * Ageing (hw_history_maintain()): rows older than full_resolution are
 * thinned to one per process and thinned_interval bucket (aligned to
 * multiples of it since the epoch): the row with the lowest RSS is kept
 * (the valley a leak's trend follows), its rss_max becomes the highest
 * RSS of the bucket and samples the number of samples it stands for.
 * Rows older than retention are deleted.
 *
 * Everything read back from a file is untrusted (it may be corrupt or
 * hand-made): names are cut to HW_SAMPLE_NAME_MAX - 1 bytes, negative
 * figures read as unknown, SQLite's own errors become HW_ECORRUPT or
 * HW_EIO.  Not thread-safe: one handle per thread.  Nothing here logs.
 */
#ifndef HEAPWATCH_HISTORY_H
#define HEAPWATCH_HISTORY_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "heapwatch/config.h"
#include "heapwatch/err.h"
#include "heapwatch/sample.h"

#define HW_HISTORY_SCHEMA 1
#define HW_HISTORY_APP_ID 0x48574831 /* "HWH1" */

struct hw_history;

/* Open the history at path.
 *
 * writable: create the file if missing (never its directory), and the
 * schema if the file is empty; WAL journal.  A file that is not an SQLite
 * database, or fails SQLite's quick_check, is renamed to
 * "PATH.corrupt-YYYYmmdd-HHMMSS" (its -wal and -shm files removed) and a
 * new one started: the new name is then written to moved_aside (size
 * bytes, NUL-terminated; may be NULL), which is otherwise set to "".
 * Read-only (writable 0): the file must exist; nothing is changed.
 *
 * Returns NULL and fills e: HW_EIO (errno when the system gave one: a
 * missing directory, a read-only file system, a full disk, a lock held
 * elsewhere past a 5 s wait); HW_EVERSION for a schema newer than
 * HW_HISTORY_SCHEMA; HW_ECORRUPT for a file that is not a heapwatch
 * history (another application's database, left alone) or, read-only, a
 * damaged one; HW_ENOMEM.  Messages start with the path.  Close with
 * hw_history_close(). */
struct hw_history *hw_history_open(const char *path, int writable,
				   char *moved_aside, size_t size,
				   struct hw_err *e);

/* Close; NULL is fine. */
void hw_history_close(struct hw_history *h);

/* The path it was opened with (borrowed, valid until close). */
const char *hw_history_path(const struct hw_history *h);

/* Write n samples (samples[i] not NULL) in one transaction; the processes
 * they name are created or their last_ms moved.  All or nothing: on
 * failure the transaction is rolled back and -1 returned with e filled
 * (HW_EIO with errno ENOSPC for a full disk, HW_ECORRUPT when the file
 * turned out damaged: close it and open again, which moves it aside). */
int hw_history_write(struct hw_history *h,
		     const struct hw_sample *const *samples, size_t n,
		     struct hw_err *e);

/* What one hw_history_maintain() call did. */
struct hw_history_maint {
	uint64_t thinned;   /* rows merged into others */
	uint64_t expired;   /* rows deleted past retention */
	uint64_t processes; /* process rows deleted (no samples left) */
	int more;           /* thinning work is left for the next call */
};

/* Thin rows older than now_ms - full_resolution and delete rows older
 * than now_ms - retention (c's durations), in one transaction.  Thinning
 * resumes where the last call stopped (meta.thinned_upto_ms) and handles
 * at most a bounded stretch of time per call (out->more says whether more
 * is left), so each call's work stays bounded.  Returns 0 or -1 (as
 * hw_history_write()).  out may be NULL. */
int hw_history_maintain(struct hw_history *h, int64_t now_ms,
			const struct hw_history_config *c,
			struct hw_history_maint *out, struct hw_err *e);

/* ---- reading (heapwatch report) ---- */

struct hw_history_proc {
	int64_t id;                      /* process.id */
	char target[HW_TARGET_NAME_MAX];
	pid_t pid;                       /* 0: the target's aggregate */
	uint64_t starttime;
	int slot;                        /* its worker slot, -1 if none */
	int64_t first_ms, last_ms;       /* of its samples in the range */
	uint64_t nsamples;               /* rows in the range */
};

/* The processes with samples at or after since_ms (since_ms <= 0: all),
 * of target (NULL: every target), ordered by target, then pid 0 first,
 * then first sample.  *out is malloc'ed (free() it; NULL when *n is 0).
 * At most max entries (the rest left out, *truncated set if not NULL). */
int hw_history_procs(struct hw_history *h, const char *target,
		     int64_t since_ms, size_t max, struct hw_history_proc **out,
		     size_t *n, int *truncated, struct hw_err *e);

/* The distinct target names in the file, for messages ("targets: web,
 * celery"), joined by ", " into buf (size bytes, NUL-terminated, cut with
 * "..." if needed).  Returns the number of targets or -1. */
long hw_history_targets(struct hw_history *h, char *buf, size_t size,
			struct hw_err *e);

/* Total sample rows and the time range they span (0 when empty). */
int hw_history_extent(struct hw_history *h, uint64_t *rows,
		      int64_t *first_ms, int64_t *last_ms, struct hw_err *e);

/* What to read: one process (proc_id > 0), or one worker slot of a target
 * (proc_id 0): the processes that held it, one after the other. */
struct hw_history_sel {
	int64_t proc_id;
	const char *target;
	int slot;
};

/* One row of sample, as read back.  Figures are -1 when unknown. */
struct hw_history_point {
	int64_t t_ms;
	pid_t pid;                       /* whose sample (slots change hands) */
	int ok, partial;
	int64_t rss, pss, uss, swap, rss_max;
	int64_t gc_objects, pause_us;
	uint32_t samples;                /* samples the row stands for, >= 1 */
	char verdict[24];                /* "leak", "steady"...; "" none */
	char kind[16];                   /* "python", "native"; "" none */
};

/* Called per row, oldest first; return non-zero to stop (that value is
 * returned). */
typedef int (*hw_history_point_fn)(void *arg, const struct hw_history_point *p);
/* Called per type count, ordered by time (a sample's counts together, in
 * no particular order); name is
 * borrowed for the call, at most HW_SAMPLE_NAME_MAX - 1 bytes. */
typedef int (*hw_history_count_fn)(void *arg, int64_t t_ms, const char *name,
				   uint64_t count);

/* The rows of sel at or after since_ms. */
int hw_history_points(struct hw_history *h, const struct hw_history_sel *sel,
		      int64_t since_ms, hw_history_point_fn fn, void *arg,
		      struct hw_err *e);
/* Their type counts. */
int hw_history_counts(struct hw_history *h, const struct hw_history_sel *sel,
		      int64_t since_ms, hw_history_count_fn fn, void *arg,
		      struct hw_err *e);

#endif
