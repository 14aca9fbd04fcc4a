/* recorder.h - the daemon's history writer: the loop hands samples over,
 * a thread of its own writes them to the history (history.h).
 *
 * Why a thread: an SQLite commit is quick on a healthy disk (measured in
 * heapwatch(1), HISTORY), but a checkpoint's fsync on a busy disk, a lock
 * held by a reader or a stalled network file system can take seconds, and
 * the daemon's loop must never wait for that (ptrace pauses are timed
 * against the sample interval).  So the loop only copies each sample into
 * a bounded buffer under a mutex held for that copy (hw_recorder_add()),
 * and asks for a flush (hw_recorder_flush()); the writer takes what is
 * buffered, writes it in one transaction, then thins and expires
 * (hw_history_maintain()) at most once per min(thinned_interval, 1 min).
 *
 * Failures never stop sampling: a missing or read-only directory, a full
 * disk, a lock held elsewhere or a newer schema is logged once (warning),
 * the samples wait in the buffer (the oldest dropped when it is full,
 * counted), the file is opened again after 1 s, then 2 s ... up to 60 s,
 * and success after a failure is logged once (notice).  A damaged file is
 * moved aside by hw_history_open() and a new one started (warning naming
 * both).  The writer thread blocks every signal, holds no capability the
 * loop gave up, and only ever touches the history file.
 */
#ifndef HEAPWATCH_RECORDER_H
#define HEAPWATCH_RECORDER_H

#include <stddef.h>
#include <stdint.h>

#include "heapwatch/config.h"
#include "heapwatch/err.h"
#include "heapwatch/sample.h"

struct hw_recorder;

struct hw_recorder_stats {
	uint64_t written;          /* samples committed */
	uint64_t dropped;          /* samples lost from a full buffer */
	uint64_t failures;         /* failed opens, writes and maintenance */
	uint64_t flushes;          /* transactions committed */
	uint64_t last_flush_us;    /* duration of the last write transaction */
	uint64_t max_flush_us;     /* and of the longest */
	uint64_t flush_cpu_us;     /* the writer's CPU time in writes, total */
	uint64_t maintain_us;      /* duration of the last maintenance */
	uint64_t pending;          /* samples in the buffer now */
	int failing;               /* the last attempt failed */
};

/* Start a writer for the history c describes (c is copied), buffering up
 * to capacity samples of up to max_types types each, sharing pool_types
 * type entries (ring.h: the oldest samples go when either is full).  The database is
 * opened by the thread, not here: a start never fails because of the
 * file.  The calling thread's signal mask is not changed.  Returns NULL
 * with e filled for HW_EUSAGE (capacity 0), HW_ENOMEM, HW_ESYS (no
 * thread).  Stop with hw_recorder_stop(). */
struct hw_recorder *hw_recorder_start(const struct hw_history_config *c,
				      size_t capacity, uint32_t max_types,
				      size_t pool_types, struct hw_err *e);

/* Copy s into the buffer (at most max_types of its types).  Never waits
 * for the disk: the mutex it takes is held by the writer only while it
 * copies samples out.  Allocates nothing.  r may be NULL (no-op). */
void hw_recorder_add(struct hw_recorder *r, const struct hw_sample *s);

/* Ask the writer to flush now; returns at once.  r may be NULL. */
void hw_recorder_flush(struct hw_recorder *r);

/* A consistent copy of the counts.  r may be NULL (all zero). */
void hw_recorder_get_stats(struct hw_recorder *r, struct hw_recorder_stats *out);

/* Flush what is buffered (one last attempt, whatever the back-off), stop
 * and join the thread, close the database, free.  Takes as long as that
 * flush (bounded by SQLite's 5 s lock wait when another process holds the
 * file).  NULL is fine. */
void hw_recorder_stop(struct hw_recorder *r);

#endif
