/* status.h - what the running daemon knows now: the status file it
 * rewrites at every flush, and `heapwatch status`, which reads it.
 *
 * The file is one JSON document (heapwatch(1), STATUS FILE):
 *   {"version": 1, "updated": <epoch seconds>, "daemon": {...},
 *    "targets": [{"name": ..., "verdict": ..., "kind": ..., "leaking":
 *      [{"type": ..., "per_hour": ..., "p": ..., "since": ...}], ...,
 *      "processes": [{"pid": ..., "age_s": ..., "rss_bytes": ...,
 *        "verdict": ..., "kind": ..., "leaking": [...]}]}]}
 * Strings from the targets (type names) are escaped (control characters,
 * DEL and C1 as \uXXXX) and made valid UTF-8 (U+FFFD for bytes that are
 * not), so the file itself is safe to print on a terminal.
 *
 * Writing: into PATH.tmp beside the file, then rename(2) over it, so a
 * reader sees the old file or the new one, never half of one.  A PATH
 * that exists and is not a regular file is never replaced.
 */
#ifndef HEAPWATCH_STATUS_H
#define HEAPWATCH_STATUS_H

#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "heapwatch/config.h"
#include "heapwatch/err.h"
#include "heapwatch/verdict.h"

/* The status_file default (heapwatch.yaml(5)). */
#define HW_STATUS_FILE_DEFAULT "/run/heapwatch/status.json"

struct hw_status_w {
	FILE *f;
	char path[HW_CONFIG_STATUS_MAX + 1];
	char tmp[HW_CONFIG_STATUS_MAX + 8];
	int ntargets, nprocs;        /* written in this document, this target */
	int in_target;
};

struct hw_status_daemon {
	pid_t pid;
	int64_t started_ms, updated_ms;
	uint64_t interval_ns, flush_interval_ns;
	struct hw_trend_config trend;
	uint64_t census_cpu_us;     /* CPU of every census so far */
	uint64_t trend_cpu_us;      /* CPU of selections and trends so far */
};

/* Start a new document for path.  -1 and e (HW_EIO with errno: the
 * directory is missing, not writable, or path is not a regular file). */
int hw_status_open(struct hw_status_w *w, const char *path,
		   const struct hw_status_daemon *d, struct hw_err *e);

/* A target (its processes follow, each with hw_status_process()). */
void hw_status_target(struct hw_status_w *w, const char *name,
		      const struct hw_judged *j, int64_t rss, int64_t pss,
		      unsigned nprocs);

/* A process of the last target; slot may be NULL, j NULL when it has no
 * judgement yet. */
void hw_status_process(struct hw_status_w *w, pid_t pid, const char *slot,
		       double age_s, int64_t rss, int64_t pss,
		       const struct hw_judged *j);

/* Finish, write and rename into place.  -1 and e on a write error (the
 * temporary file is removed). */
int hw_status_commit(struct hw_status_w *w, struct hw_err *e);

/* Drop the document being written (the file keeps its old content). */
void hw_status_abort(struct hw_status_w *w);

/* `heapwatch status`: read path and print it to out, as a table or (json)
 * as the file itself (a carriage return as a space, ending in a newline).
 * Only valid JSON in UTF-8 without raw controls in strings is accepted;
 * controls decoded from \u escapes are shown as \x1b or \u009b.  now_ms: the wall clock.  Fails (-1, HW_EIO; e says
 * what and how old) when the file is missing, unreadable, not a status
 * file, older than three flush intervals (at least 30 s), or written by
 * a daemon that is no longer running. */
int hw_status_show(const char *path, int json, FILE *out, int64_t now_ms,
		   struct hw_err *e);

/* The same for a status file already read: buf[0..len) (need not be
 * NUL-terminated; not modified), name says where it came from in e.
 * Nothing is written to out when it fails. */
int hw_status_show_buf(const char *name, const char *buf, size_t len, int json,
		       FILE *out, int64_t now_ms, struct hw_err *e);

#endif
