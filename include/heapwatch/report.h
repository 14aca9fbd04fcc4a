/* report.h - `heapwatch report`: the history (history.h) drawn for people.
 *
 * A report covers a window of time [since_ms, now_ms] and a set of
 * series: one per process (and one per target aggregate, "all"), or the
 * processes that held one worker slot (slots.h), one after the other.
 * Per series it shows RSS with the trend of its valleys, and the counts of
 * the types that grew most, on one time axis.
 *
 * The trend of a quantity is the Theil-Sen line through its lower
 * envelope: the span of the series is cut into 24 stretches, the lowest
 * value of each (the valley after the collections) is a point, and the
 * slope is the median of the slopes between every two points (shown per
 * hour, and drawn for RSS); "growth" is the last valley minus the first
 * (at least 3 valleys, or no trend).  Series are ordered by RSS growth
 * (largest first) after each target's aggregate (left out when it holds a
 * single process); types by their growth (ties: the one that started
 * smaller first), and only those that grew are shown (the largest, when
 * none did).
 *
 *   HW_REPORT_TEXT  one line per series and per top type, with Unicode
 *                   sparklines (the lowest value of each column);
 *   HW_REPORT_SVG   one SVG document, a chart per series;
 *   HW_REPORT_HTML  one self-contained page (no script, no external
 *                   resource): a table of the series, the table of
 *                   growing types, then every chart as inline SVG.
 *
 * Everything read from the history is untrusted: names are escaped for
 * XML or made safe for a terminal (chart.h), loops are bounded (at most
 * HW_REPORT_SERIES_MAX series and HW_REPORT_NAMES_MAX type names each;
 * what is left out is said).  Nothing here logs.
 */
#ifndef HEAPWATCH_REPORT_H
#define HEAPWATCH_REPORT_H

#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "heapwatch/err.h"

#define HW_REPORT_TYPES_MAX 20     /* --types */
#define HW_REPORT_SERIES_MAX 200   /* charts in one report */
#define HW_REPORT_NAMES_MAX 512    /* distinct type names per series */

enum hw_report_format {
	HW_REPORT_TEXT,
	HW_REPORT_SVG,
	HW_REPORT_HTML,
};

struct hw_report_opts {
	const char *history;        /* the database (opened read-only) */
	const char *target;         /* NULL: every target */
	pid_t pid;                  /* > 0: only this process */
	int slot;                   /* >= 0: only this worker slot */
	int64_t since_ms, now_ms;   /* the window */
	const char *since_text;     /* the window as the user wrote it ("6h") */
	unsigned ntypes;            /* types per series, 1..HW_REPORT_TYPES_MAX */
	enum hw_report_format format;
};

/* Write the report to out.  Returns 0, or -1 with e filled: HW_ENOPROC
 * when nothing in the history matches ("no target 'x' in FILE (targets:
 * web, celery)", "pid 42: no samples in FILE since ...", "FILE: no
 * samples since ..."), and the errors of hw_history_open() (HW_EIO,
 * HW_EVERSION for a newer schema, HW_ECORRUPT), HW_ENOMEM.  Nothing is
 * written to out on failure before the first chart; a write error is
 * the caller's to find in out. */
int hw_report_write(const struct hw_report_opts *o, FILE *out,
		    struct hw_err *e);

/* `heapwatch report ARGS...` (argv[0] is "report"): parse the options,
 * find the history, write the report.  Returns the exit status: 0, 1 for
 * a runtime failure, 2 for a usage or configuration error (one line on
 * stderr saying what).  The options, for --help: */
int hw_report_main(int argc, char **argv);
extern const char hw_report_usage[];

#endif
