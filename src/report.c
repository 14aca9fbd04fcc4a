/* report.c - `heapwatch report`; see include/heapwatch/report.h. */
#include "heapwatch/report.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "heapwatch/chart.h"
#include "heapwatch/history.h"
#include "heapwatch/sample.h"
#include "heapwatch/trend.h"
#include "heapwatch/verdict.h"

#define NB 240            /* buckets along a series */
#define NV 24             /* stretches of the valley trend */
#define MARKS_MAX 32      /* slot hand-overs drawn */
#define SPARK 32          /* sparkline columns */
#define NAME_COLS 30      /* type name column in text */
#define TABLE_ROWS 60     /* rows of the growing-types table */
/* A type grew when its valleys rose by at least max(MIN_RISE, REL_RISE x
 * their median): the floor the daemon's verdicts use (heapwatch(1),
 * VERDICTS), so that noise of a few objects is not called growth. */
#define MIN_RISE 20.0
#define REL_RISE 0.005

static const char *const palette[] = {
	"#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf",
	"#bcbd22", "#7f7f7f", "#1f77b4", "#d62728",
};
#define RSS_COLOR "#1f77b4"
#define TREND_COLOR "#d62728"

/* One type's counts along a series. */
struct tser {
	char name[HW_SAMPLE_NAME_MAX];
	double *vmin;             /* NB bucket minima, NAN: none */
	double first, last;       /* first and last count seen */
	int64_t first_t;
	double growth, per_h;     /* last valley - first, slope per hour; NAN */
	int grew;                 /* growth at least max(20, 0.5% of the
				     median valley): the verdicts' floor */
};

struct mark {
	double t;
	pid_t pid;
};

/* One chart: a process, or a slot's processes one after the other. */
struct ser {
	char target[HW_TARGET_NAME_MAX];
	struct hw_history_sel sel;
	pid_t pid;                /* 0: the aggregate; slot series: first holder */
	int slot;                 /* -1: none */
	int by_slot;
	uint64_t starttime;
	int64_t t0, t1;           /* its span in the window */
	uint64_t nsamples;        /* rows */
	/* buckets */
	double bsum[NB];
	unsigned bn[NB];
	double bt[NB];            /* mean time of the bucket's rows; NAN none */
	double rmin[NB], rmax[NB];
	double rss_first, rss_last;
	double growth, per_h, slope, icpt;   /* RSS valley trend (ms); NAN none */
	/* types: all seen while reading, then the top ones */
	struct tser *types;
	size_t ntypes, names_left_out;
	struct mark marks[MARKS_MAX];
	size_t nmarks;
	pid_t last_pid;
	unsigned nprocs;          /* processes behind a slot series */
	char verdict[24], kind[16];   /* the daemon's last judgement ("" none) */
	int64_t verdict_since;    /* when that verdict began, as far as seen */
	/* hash of names -> index in types, while reading */
	int32_t *hash;
	size_t hash_cap;
	int oom;
};

struct report {
	const struct hw_report_opts *o;
	struct hw_history *h;
	struct ser *ser;
	size_t n;
	size_t left_out;          /* series past HW_REPORT_SERIES_MAX */
	int64_t t0;               /* the window's start as drawn */
};

/* ------------------------------------------------------------------ */
/* statistics */

/* Theil-Sen line through (x[i], y[i]) (trend.h): the median of the
 * pairwise slopes and the median of y - slope x.  Returns 0, or -1 for
 * fewer than 2 distinct x. */
static int theil_sen(const double *x, const double *y, size_t n, double *slope,
		     double *icpt)
{
	/* At least hw_trend_scratch_len(NV) doubles. */
	double scratch[NV * (NV - 1) / 2 + 2 * NV], r[NV];
	int distinct = 0;

	if (n > NV)
		n = NV;
	for (size_t i = 1; i < n; i++)
		distinct |= x[i] != x[0];
	if (!distinct)
		return -1;
	*slope = hw_theil_sen(x, y, n, scratch);
	for (size_t i = 0; i < n; i++)
		r[i] = y[i] - *slope * x[i];
	*icpt = hw_median(r, n);
	return 0;
}

/* The valley trend of v (NB bucket values, NAN none) at times bt: the
 * lowest value of each of NV stretches, then Theil-Sen; *rise is the last
 * valley minus the first.  Needs 3 valleys (fewer say nothing about a
 * trend).  x is taken relative to t0 so the doubles keep their
 * precision. */
static int valley_trend(const double *bt, const double *v, double t0,
			double *slope, double *icpt, double *rise, double *med)
{
	double x[NV], y[NV];
	size_t n = 0;

	for (size_t w = 0; w < NV; w++) {
		double best = NAN, bx = NAN;

		for (size_t b = w * NB / NV; b < (w + 1) * NB / NV; b++)
			if (isfinite(v[b]) && isfinite(bt[b]) && !(v[b] >= best))
				best = v[b], bx = bt[b] - t0;
		if (isfinite(best))
			x[n] = bx, y[n++] = best;
	}
	if (n < 3 || theil_sen(x, y, n, slope, icpt) < 0)
		return -1;
	*rise = y[n - 1] - y[0];
	*med = hw_median(y, n);    /* reorders y: last */
	return 0;
}

/* ------------------------------------------------------------------ */
/* reading a series */

static size_t bucket_of(const struct ser *s, int64_t t)
{
	double span = (double)(s->t1 - s->t0);
	double b = span > 0 ? (double)(t - s->t0) / span * NB : 0;

	return b < 0 ? 0 : b >= NB ? NB - 1 : (size_t)b;
}

static int on_point(void *arg, const struct hw_history_point *p)
{
	struct ser *s = arg;
	size_t b = bucket_of(s, p->t_ms);
	double rss = p->rss >= 0 ? (double)p->rss : NAN;
	double peak = p->rss_max >= 0 ? (double)p->rss_max : rss;

	s->nsamples++;
	s->bsum[b] += (double)(p->t_ms - s->t0);
	s->bn[b]++;
	if (isfinite(rss)) {
		if (!(rss >= s->rmin[b]))
			s->rmin[b] = rss;
		if (!(peak <= s->rmax[b]))
			s->rmax[b] = peak;
		if (isnan(s->rss_first))
			s->rss_first = rss;
		s->rss_last = rss;
	}
	/* Only the names heapwatch writes: the file may be hand-made. */
	if (p->verdict[0] && hw_verdict_parse(p->verdict) >= 0 &&
	    (!p->kind[0] || strcmp(p->kind, "python") == 0 || strcmp(p->kind, "native") == 0)) {
		if (strcmp(p->verdict, s->verdict) != 0 || strcmp(p->kind, s->kind) != 0)
			s->verdict_since = p->t_ms;
		snprintf(s->verdict, sizeof s->verdict, "%s", p->verdict);
		snprintf(s->kind, sizeof s->kind, "%s", p->kind);
	}
	if (p->pid != s->last_pid) {
		if (s->last_pid && s->nmarks < MARKS_MAX) {
			s->marks[s->nmarks].t = (double)p->t_ms;
			s->marks[s->nmarks].pid = p->pid;
			s->nmarks++;
		}
		if (s->last_pid == 0)
			s->pid = p->pid;
		s->last_pid = p->pid;
		s->nprocs++;
	}
	return 0;
}

static uint32_t fnv(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

/* The index of name in s->types, added if new; -1 when the table is full
 * (counted) or memory ran out. */
static long type_index(struct ser *s, const char *name)
{
	size_t mask = s->hash_cap - 1, i = fnv(name) & mask;
	struct tser *t;

	for (;; i = (i + 1) & mask) {
		int32_t k = s->hash[i];

		if (k < 0)
			break;
		if (strcmp(s->types[k].name, name) == 0)
			return k;
	}
	if (s->ntypes == HW_REPORT_NAMES_MAX) {
		s->names_left_out++;
		return -1;
	}
	t = &s->types[s->ntypes];
	memset(t, 0, sizeof *t);
	snprintf(t->name, sizeof t->name, "%s", name);
	t->vmin = malloc(NB * sizeof *t->vmin);
	if (!t->vmin) {
		s->oom = 1;
		return -1;
	}
	for (size_t b = 0; b < NB; b++)
		t->vmin[b] = NAN;
	t->first = t->last = t->growth = t->per_h = NAN;
	s->hash[i] = (int32_t)s->ntypes;
	return (long)s->ntypes++;
}

static int on_count(void *arg, int64_t t_ms, const char *name, uint64_t count)
{
	struct ser *s = arg;
	size_t b = bucket_of(s, t_ms);
	long k = type_index(s, name);
	struct tser *t;
	double v = (double)count;

	if (s->oom)
		return 1;
	if (k < 0)
		return 0;
	t = &s->types[k];
	if (!(v >= t->vmin[b]))
		t->vmin[b] = v;
	if (isnan(t->first))
		t->first = v, t->first_t = t_ms;
	t->last = v;
	return 0;
}

static int cmp_type(const void *a, const void *b)
{
	const struct tser *x = a, *y = b;
	double gx = isnan(x->growth) ? -INFINITY : x->growth;
	double gy = isnan(y->growth) ? -INFINITY : y->growth;

	if (x->grew != y->grew)
		return x->grew ? -1 : 1;
	if (gx != gy)
		return gx > gy ? -1 : 1;
	/* Equal growth (a Session and the dict and list each one holds):
	 * the type that grew most for its size first, the telling one. */
	if (gx > 0 && x->first != y->first)
		return x->first < y->first ? -1 : 1;
	if (x->last != y->last)
		return x->last > y->last ? -1 : 1;
	return strcmp(x->name, y->name);
}

static void ser_free_types(struct ser *s)
{
	for (size_t i = 0; i < s->ntypes; i++)
		free(s->types[i].vmin);
	free(s->types);
	free(s->hash);
	s->types = NULL;
	s->hash = NULL;
	s->ntypes = 0;
}

/* Read series s from the history and reduce it to what is drawn. */
static int ser_load(struct report *r, struct ser *s, struct hw_err *e)
{
	unsigned keep = r->o->ntypes;
	double med;

	for (size_t b = 0; b < NB; b++)
		s->rmin[b] = s->rmax[b] = NAN;
	s->rss_first = s->rss_last = s->growth = s->per_h = NAN;
	s->hash_cap = 2 * HW_REPORT_NAMES_MAX;
	s->hash = malloc(s->hash_cap * sizeof *s->hash);
	s->types = calloc(HW_REPORT_NAMES_MAX, sizeof *s->types);
	if (!s->hash || !s->types)
		return hw_err_set(e, HW_ENOMEM, ENOMEM, "reading %s", r->o->history);
	memset(s->hash, 0xff, s->hash_cap * sizeof *s->hash);
	if (hw_history_points(r->h, &s->sel, r->o->since_ms, on_point, s, e) < 0)
		return -1;
	if (hw_history_counts(r->h, &s->sel, r->o->since_ms, on_count, s, e) != 0 || s->oom) {
		if (s->oom)
			hw_err_set(e, HW_ENOMEM, ENOMEM, "reading %s", r->o->history);
		return -1;
	}
	for (size_t b = 0; b < NB; b++)
		s->bt[b] = s->bn[b] ? (double)s->t0 + s->bsum[b] / s->bn[b] : NAN;
	if (valley_trend(s->bt, s->rmin, (double)s->t0, &s->slope, &s->icpt, &s->growth,
			 &med) == 0)
		s->per_h = s->slope * 3600e3;
	else
		s->slope = s->growth = NAN;
	for (size_t i = 0; i < s->ntypes; i++) {
		struct tser *t = &s->types[i];
		double slope, icpt;

		if (valley_trend(s->bt, t->vmin, (double)s->t0, &slope, &icpt, &t->growth,
				 &med) == 0) {
			t->per_h = slope * 3600e3;
			t->grew = t->growth >= fmax(MIN_RISE, REL_RISE * fabs(med));
		} else {
			t->growth = NAN;
		}
	}
	qsort(s->types, s->ntypes, sizeof *s->types, cmp_type);
	/* Keep the top ones (and a few more for the table of growth). */
	if (keep < 10)
		keep = 10;
	for (size_t i = keep; i < s->ntypes; i++)
		free(s->types[i].vmin);
	if (s->ntypes > keep)
		s->ntypes = keep;
	free(s->hash);
	s->hash = NULL;
	return 0;
}

/* ------------------------------------------------------------------ */
/* choosing the series */

static int cmp_ser(const void *a, const void *b)
{
	const struct ser *x = a, *y = b;
	int c = strcmp(x->target, y->target);
	double gx, gy;

	if (c)
		return c;
	if ((x->pid == 0 && !x->by_slot) != (y->pid == 0 && !y->by_slot))
		return x->pid == 0 && !x->by_slot ? -1 : 1;
	gx = isnan(x->growth) ? -INFINITY : x->growth;
	gy = isnan(y->growth) ? -INFINITY : y->growth;
	if (gx != gy)
		return gx > gy ? -1 : 1;
	if (x->t0 != y->t0)
		return x->t0 < y->t0 ? -1 : 1;
	return x->pid < y->pid ? -1 : x->pid > y->pid;
}

/* fmt is one of this file's literals (the attribute checks callers). */
__attribute__((format(strftime, 2, 0)))
static void fmt_time(int64_t ms, const char *fmt, char *buf, size_t size)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	localtime_r(&t, &tm);
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
	if (strftime(buf, size, fmt, &tm) == 0 && size)
		buf[0] = '\0';
#pragma GCC diagnostic pop
}

static int nothing(const struct report *r, const char *targets, long ntargets,
		   struct hw_err *e)
{
	const struct hw_report_opts *o = r->o;
	char when[96] = "";

	/* " since 2026-11-30 08:00:00 UTC (last 6h)", or nothing for "all" */
	if (o->since_ms > 0) {
		char t[64];

		fmt_time(o->since_ms, "%Y-%m-%d %H:%M:%S %Z", t, sizeof t);
		snprintf(when, sizeof when, " since %s (last %s)", t, o->since_text);
	}
	if (ntargets == 0)
		return hw_err_set(e, HW_ENOPROC, 0, "%s: the history is empty", o->history);
	if (o->target) {
		struct hw_history_proc *p = NULL;
		size_t n = 0;

		/* Any process of that target, at any time? */
		if (hw_history_procs(r->h, o->target, 0, 1, &p, &n, NULL, e) < 0)
			return -1;
		free(p);
		if (n == 0)
			return hw_err_set(e, HW_ENOPROC, 0, "no target '%s' in %s (targets: %s)",
					  o->target, o->history, targets);
	}
	if (o->pid > 0)
		return hw_err_set(e, HW_ENOPROC, 0, "pid %d: no samples in %s%s%s%s",
				  (int)o->pid, o->history, o->target ? " of target " : "",
				  o->target ? o->target : "", when);
	if (o->slot >= 0)
		return hw_err_set(e, HW_ENOPROC, 0, "slot w%d: no samples in %s%s%s%s",
				  o->slot, o->history, o->target ? " of target " : "",
				  o->target ? o->target : "", when);
	return hw_err_set(e, HW_ENOPROC, 0, "%s: no samples%s%s%s", o->history,
			  o->target ? " of target " : "", o->target ? o->target : "", when);
}

static struct ser *add_ser(struct report *r)
{
	struct ser *s;

	if (r->n == HW_REPORT_SERIES_MAX) {
		r->left_out++;
		return NULL;
	}
	s = &r->ser[r->n++];
	memset(s, 0, sizeof *s);
	s->slot = -1;
	return s;
}

/* A target's aggregate of a single process repeats that process. */
static void drop_lone_aggregates(struct report *r)
{
	size_t w = 0;

	for (size_t i = 0; i < r->n; i++) {
		const struct ser *s = &r->ser[i];
		size_t procs = 0;

		if (s->pid == 0 && !s->by_slot) {
			for (size_t k = 0; k < r->n; k++)
				if (k != i && strcmp(r->ser[k].target, s->target) == 0 &&
				    r->ser[k].pid != 0)
					procs++;
			if (procs == 1)
				continue;
		}
		r->ser[w++] = r->ser[i];
	}
	for (size_t i = w; i < r->n; i++)
		memset(&r->ser[i], 0, sizeof r->ser[i]);
	r->n = w;
}

static int choose(struct report *r, struct hw_err *e)
{
	const struct hw_report_opts *o = r->o;
	struct hw_history_proc *p = NULL;
	size_t np = 0;
	int trunc = 0;
	char targets[512];
	long ntargets;

	/* Past this many processes the report says how many were left out:
	 * a year of gunicorn recycling fits. */
	if (hw_history_procs(r->h, o->target, o->since_ms, 100000, &p, &np, &trunc, e) < 0)
		return -1;
	r->ser = calloc(HW_REPORT_SERIES_MAX, sizeof *r->ser);
	if (!r->ser) {
		free(p);
		return hw_err_set(e, HW_ENOMEM, ENOMEM, "reading %s", o->history);
	}
	for (size_t i = 0; i < np; i++) {
		struct ser *s;

		if (o->pid > 0 && p[i].pid != o->pid)
			continue;
		if (o->slot >= 0) {
			size_t k;

			if (p[i].slot != o->slot)
				continue;
			/* One series per target for the slot. */
			for (k = 0; k < r->n; k++)
				if (strcmp(r->ser[k].target, p[i].target) == 0)
					break;
			if (k < r->n) {
				s = &r->ser[k];
				s->t0 = p[i].first_ms < s->t0 ? p[i].first_ms : s->t0;
				s->t1 = p[i].last_ms > s->t1 ? p[i].last_ms : s->t1;
				continue;
			}
		}
		s = add_ser(r);
		if (!s)
			continue;
		snprintf(s->target, sizeof s->target, "%s", p[i].target);
		s->pid = p[i].pid;
		s->slot = p[i].slot;
		s->starttime = p[i].starttime;
		s->t0 = p[i].first_ms;
		s->t1 = p[i].last_ms;
		if (o->slot >= 0) {
			s->by_slot = 1;
			s->sel.proc_id = 0;
			s->sel.target = s->target;
			s->sel.slot = o->slot;
		} else {
			s->sel.proc_id = p[i].id;
		}
	}
	free(p);
	if (r->n == 0) {
		ntargets = hw_history_targets(r->h, targets, sizeof targets, e);
		if (ntargets < 0)
			return -1;
		return nothing(r, targets, ntargets, e);
	}
	drop_lone_aggregates(r);
	for (size_t i = 0; i < r->n; i++)
		if (ser_load(r, &r->ser[i], e) < 0)
			return -1;
	qsort(r->ser, r->n, sizeof *r->ser, cmp_ser);
	/* The window as drawn: from the oldest series when "all". */
	r->t0 = o->since_ms;
	for (size_t i = 0; i < r->n; i++)
		if (r->t0 <= 0 || r->ser[i].t0 < r->t0)
			r->t0 = r->ser[i].t0;
	if (trunc)
		r->left_out++;
	return 0;
}

/* How many of s's types to show: those that grew, up to ntypes; when none
 * grew, the largest ones (so a chart still shows what the heap holds). */
static size_t shown_types(const struct ser *s, unsigned ntypes, int *grew)
{
	size_t n = 0;

	while (n < s->ntypes && n < ntypes && s->types[n].grew)
		n++;
	*grew = n > 0;
	if (n == 0)
		n = s->ntypes < ntypes ? s->ntypes : ntypes;
	return n;
}

/* ------------------------------------------------------------------ */
/* words */

/* "leak (python) since 13:04:05", or "" without a verdict. */
static void fmt_verdict(const struct ser *s, char *buf, size_t size)
{
	char when[32];

	if (!s->verdict[0]) {
		snprintf(buf, size, "%s", "");
		return;
	}
	fmt_time(s->verdict_since, "%H:%M:%S", when, sizeof when);
	snprintf(buf, size, "%s%s%s%s since %s", s->verdict, s->kind[0] ? " (" : "", s->kind,
		 s->kind[0] ? ")" : "", when);
}

static const char *verdict_color(const char *v)
{
	static const struct { const char *name, *color; } c[] = {
		{ "leak", "#c0392b" }, { "surge", "#d35400" },
		{ "early_explosion", "#8e44ad" }, { "plateau", "#9a7d0a" },
		{ "steady", "#27ae60" }, { "warming", "#7f8c8d" },
	};

	for (size_t i = 0; i < sizeof c / sizeof c[0]; i++)
		if (strcmp(v, c[i].name) == 0)
			return c[i].color;
	return "#555555";
}

static void ser_name(const struct ser *s, char *buf, size_t size)
{
	if (s->by_slot)
		snprintf(buf, size, "slot w%d (%u process%s)", s->slot, s->nprocs,
			 s->nprocs == 1 ? "" : "es");
	else if (s->pid == 0)
		snprintf(buf, size, "all processes");
	else if (s->slot >= 0)
		snprintf(buf, size, "pid %d (slot w%d)", (int)s->pid, s->slot);
	else
		snprintf(buf, size, "pid %d", (int)s->pid);
}

static void fmt_span(int64_t t0, int64_t t1, char *buf, size_t size)
{
	char a[48], b[48];
	time_t x = (time_t)(t0 / 1000), y = (time_t)(t1 / 1000);
	struct tm ta, tb;

	localtime_r(&x, &ta);
	localtime_r(&y, &tb);
	fmt_time(t0, "%Y-%m-%d %H:%M:%S", a, sizeof a);
	fmt_time(t1, ta.tm_yday == tb.tm_yday && ta.tm_year == tb.tm_year ? "%H:%M:%S %Z"
									    : "%Y-%m-%d %H:%M:%S %Z",
		 b, sizeof b);
	snprintf(buf, size, "%s \xe2\x80\x93 %s", a, b);
}

/* "+3.1 MiB/h" */
static void fmt_rate_bytes(double per_h, char *buf, size_t size)
{
	char v[32];

	if (isnan(per_h)) {
		snprintf(buf, size, "no trend yet");
		return;
	}
	hw_fmt_bytes(per_h, v, sizeof v);
	snprintf(buf, size, "%s%s/h", per_h >= 0 ? "+" : "", v);
}

static void fmt_rate_count(double per_h, char *buf, size_t size)
{
	char v[32];

	if (isnan(per_h)) {
		snprintf(buf, size, "no trend");
		return;
	}
	hw_fmt_count(per_h, 1, v, sizeof v);
	snprintf(buf, size, "%s/h", v);
}

/* ------------------------------------------------------------------ */
/* text */

static const char *const blocks[] = {
	"\xe2\x96\x81", "\xe2\x96\x82", "\xe2\x96\x83", "\xe2\x96\x84",
	"\xe2\x96\x85", "\xe2\x96\x86", "\xe2\x96\x87", "\xe2\x96\x88",
};

/* SPARK columns of the lowest values of v (NB buckets) along time, a gap
 * where there was no sample; with SPARK buckets or fewer holding values,
 * one column each. */
static void sparkline(FILE *f, const double *v)
{
	double col[SPARK], lo = INFINITY, hi = -INFINITY;
	size_t have = 0;

	for (size_t b = 0; b < NB; b++)
		have += isfinite(v[b]) != 0;
	for (size_t c = 0; c < SPARK; c++)
		col[c] = NAN;
	if (have <= SPARK) {
		size_t c = 0;

		for (size_t b = 0; b < NB; b++)
			if (isfinite(v[b]))
				col[c++] = v[b];
	} else {
		for (size_t c = 0; c < SPARK; c++)
			for (size_t b = c * NB / SPARK; b < (c + 1) * NB / SPARK; b++)
				if (isfinite(v[b]) && !(v[b] >= col[c]))
					col[c] = v[b];
	}
	for (size_t c = 0; c < SPARK; c++)
		if (isfinite(col[c]))
			lo = fmin(lo, col[c]), hi = fmax(hi, col[c]);
	/* A range under 5% of the values draws as flat: a sparkline scaled
	 * to its own range would make 1141 -> 1135 look like a cliff. */
	if (hi - lo < 0.05 * fabs(hi))
		hi = lo + 0.05 * fabs(hi);
	for (size_t c = 0; c < SPARK; c++) {
		int k;

		if (!isfinite(col[c])) {
			fputc(' ', f);
			continue;
		}
		k = hi > lo ? (int)lround((col[c] - lo) / (hi - lo) * 7) : 0;
		fputs(blocks[k < 0 ? 0 : k > 7 ? 7 : k], f);
	}
}

static void pad_name(FILE *f, const char *name, size_t cols)
{
	char buf[HW_SAMPLE_NAME_MAX * 3 + 8];
	size_t w = hw_term_text(buf, sizeof buf, name, cols);

	fputs(buf, f);
	for (; w < cols; w++)
		fputc(' ', f);
}

static void text_report(const struct report *r, FILE *f)
{
	const struct hw_report_opts *o = r->o;
	char span[128], a[32], b[32], rate[48], name[96], verdict[80];

	fmt_span(r->t0, o->now_ms, span, sizeof span);
	fprintf(f, "heapwatch report: %s, %s (%s%s)\n", o->history, span,
		o->since_ms > 0 ? "last " : "", o->since_ms > 0 ? o->since_text : "all of it");
	for (size_t i = 0; i < r->n; i++) {
		const struct ser *s = &r->ser[i];
		int grew;
		size_t shown = shown_types(s, o->ntypes, &grew);

		ser_name(s, name, sizeof name);
		fmt_span(s->t0, s->t1, span, sizeof span);
		fprintf(f, "\n");
		pad_name(f, s->target, 0);
		fmt_verdict(s, verdict, sizeof verdict);
		fprintf(f, " \xc2\xb7 %s \xc2\xb7 %s \xc2\xb7 %llu samples%s%s\n", name, span,
			(unsigned long long)s->nsamples, verdict[0] ? " \xc2\xb7 verdict " : "",
			verdict);
		fputs("  ", f);
		pad_name(f, "RSS", NAME_COLS);
		fputc(' ', f);
		sparkline(f, s->rmin);
		hw_fmt_bytes(s->rss_first, a, sizeof a);
		hw_fmt_bytes(s->rss_last, b, sizeof b);
		fmt_rate_bytes(s->per_h, rate, sizeof rate);
		fprintf(f, "  %s \xe2\x86\x92 %s  valleys %s\n", a, b, rate);
		if (!grew)
			fprintf(f, "  (no type's valleys rose; the largest types:)\n");
		for (size_t k = 0; k < shown; k++) {
			const struct tser *t = &s->types[k];
			char g[32];

			fputs("  ", f);
			pad_name(f, t->name, NAME_COLS);
			fputc(' ', f);
			sparkline(f, t->vmin);
			hw_fmt_count(t->first, 0, a, sizeof a);
			hw_fmt_count(t->last, 0, b, sizeof b);
			hw_fmt_count(t->growth, 1, g, sizeof g);
			fmt_rate_count(t->per_h, rate, sizeof rate);
			if (!grew || isnan(t->growth))
				fprintf(f, "  %s \xe2\x86\x92 %s\n", a, b);
			else
				fprintf(f, "  %s \xe2\x86\x92 %s  %s (%s)\n", a, b, g, rate);
		}
		if (s->names_left_out)
			fprintf(f, "  (%zu more type names than the report follows were left out)\n",
				s->names_left_out);
	}
	if (r->left_out)
		fprintf(f, "\n(more series than the %d a report shows: narrow it with --target, --pid or --since)\n",
			HW_REPORT_SERIES_MAX);
}

/* ------------------------------------------------------------------ */
/* charts */

struct drawn {
	double t[NB], rss[NB], rlo[NB], trend_t[2], trend_y[2];
	struct hw_chart_line rss_lines[2], type_lines[HW_REPORT_TYPES_MAX];
	char rss_label[96], trend_label[96];
	char type_labels[HW_REPORT_TYPES_MAX][HW_SAMPLE_NAME_MAX + 96];
	struct hw_chart_panel panels[2];
	struct hw_chart_mark marks[MARKS_MAX];
	char mark_labels[MARKS_MAX][32];
	char title[HW_TARGET_NAME_MAX + 128], subtitle[320], badge[48];
	struct hw_chart c;
};

/* Fill d with the chart of s (d must outlive the drawing). */
static void chart_of(const struct report *r, const struct ser *s, struct drawn *d)
{
	char a[32], b[32], rate[48], name[96], span[128], g[32], verdict[80];
	int grew;
	size_t nt, show = shown_types(s, r->o->ntypes, &grew);

	memset(d, 0, sizeof *d);
	for (size_t i = 0; i < NB; i++) {
		d->t[i] = s->bt[i];
		d->rss[i] = isfinite(s->bt[i]) ? s->rmax[i] : NAN;
		d->rlo[i] = isfinite(s->bt[i]) ? s->rmin[i] : NAN;
	}
	hw_fmt_bytes(s->rss_first, a, sizeof a);
	hw_fmt_bytes(s->rss_last, b, sizeof b);
	snprintf(d->rss_label, sizeof d->rss_label, "RSS %s \xe2\x86\x92 %s", a, b);
	d->rss_lines[0] = (struct hw_chart_line){ d->rss_label, d->t, d->rss, d->rlo, NB,
						  RSS_COLOR, 0, 1.5 };
	d->panels[0].lines = d->rss_lines;
	d->panels[0].nlines = 1;
	if (isfinite(s->slope)) {
		d->trend_t[0] = (double)s->t0;
		d->trend_t[1] = (double)s->t1;
		d->trend_y[0] = s->icpt;
		d->trend_y[1] = s->icpt + s->slope * (double)(s->t1 - s->t0);
		fmt_rate_bytes(s->per_h, rate, sizeof rate);
		snprintf(d->trend_label, sizeof d->trend_label, "valley trend %s", rate);
		d->rss_lines[1] = (struct hw_chart_line){ d->trend_label, d->trend_t, d->trend_y,
							  NULL, 2, TREND_COLOR, 1, 2 };
		d->panels[0].nlines = 2;
	}
	d->panels[0].title = "RSS";
	d->panels[0].unit = HW_CHART_BYTES;
	d->panels[0].height = 150;
	for (nt = 0; nt < show; nt++) {
		const struct tser *t = &s->types[nt];

		hw_fmt_count(t->growth, 1, g, sizeof g);
		fmt_rate_count(t->per_h, rate, sizeof rate);
		if (!grew || isnan(t->growth))
			snprintf(d->type_labels[nt], sizeof d->type_labels[nt], "%s", t->name);
		else
			snprintf(d->type_labels[nt], sizeof d->type_labels[nt], "%s %s (%s)",
				 t->name, g, rate);
		d->type_lines[nt] = (struct hw_chart_line){ d->type_labels[nt], d->t, t->vmin, NULL,
							    NB, palette[nt % 10], 0, 1.5 };
	}
	d->panels[1] = (struct hw_chart_panel){ grew ? "Objects of the types that grew most"
						     : "Objects of the largest types (none grew)",
						HW_CHART_COUNT, d->type_lines, nt,
						nt > 9 ? 16.0 * (double)nt + 20 : 170, 0 };
	for (size_t i = 0; i < s->nmarks; i++) {
		snprintf(d->mark_labels[i], sizeof d->mark_labels[i], "pid %d", (int)s->marks[i].pid);
		d->marks[i].t = s->marks[i].t;
		d->marks[i].label = d->mark_labels[i];
	}
	ser_name(s, name, sizeof name);
	snprintf(d->title, sizeof d->title, "%s \xc2\xb7 %s", s->target, name);
	fmt_span(s->t0, s->t1, span, sizeof span);
	fmt_rate_bytes(s->per_h, rate, sizeof rate);
	fmt_verdict(s, verdict, sizeof verdict);
	snprintf(d->subtitle, sizeof d->subtitle, "%s \xc2\xb7 %llu samples \xc2\xb7 RSS valleys %s%s%s",
		 span, (unsigned long long)s->nsamples, rate, verdict[0] ? " \xc2\xb7 verdict " : "",
		 verdict);
	if (s->verdict[0]) {
		snprintf(d->badge, sizeof d->badge, "%s%s%s%s", s->verdict, s->kind[0] ? " (" : "",
			 s->kind, s->kind[0] ? ")" : "");
		d->c.badge = d->badge;
		d->c.badge_color = verdict_color(s->verdict);
	}
	d->c.title = d->title;
	d->c.subtitle = d->subtitle;
	d->c.t0 = (double)s->t0;
	d->c.t1 = (double)s->t1;
	d->c.panels = d->panels;
	d->c.npanels = 2;
	d->c.marks = d->marks;
	d->c.nmarks = s->nmarks;
}

#define SVG_HEAD 54.0
#define SVG_GAP 18.0

static void svg_report(const struct report *r, FILE *f, int standalone)
{
	const struct hw_report_opts *o = r->o;
	struct drawn *d = malloc(sizeof *d);
	double height = SVG_HEAD, y;
	char span[128], title[256];

	if (!d)
		return;
	for (size_t i = 0; i < r->n; i++) {
		chart_of(r, &r->ser[i], d);
		height += hw_chart_height(&d->c) + SVG_GAP;
	}
	fmt_span(r->t0, o->now_ms, span, sizeof span);
	snprintf(title, sizeof title, "heapwatch report%s%s, %s", o->target ? ": " : "",
		 o->target ? o->target : "", span);
	hw_svg_begin(f, height, title, standalone);
	if (standalone) {
		fputs("<text class=\"t\" x=\"12\" y=\"22\">", f);
		hw_xml_text(f, title, 120);
		fputs("</text>\n<text class=\"st\" x=\"12\" y=\"40\">history ", f);
		hw_xml_text(f, o->history, 100);
		fprintf(f, ", %zu series, largest RSS growth first</text>\n", r->n);
		y = SVG_HEAD;
	} else {
		y = 0;
	}
	for (size_t i = 0; i < r->n; i++) {
		chart_of(r, &r->ser[i], d);
		hw_chart_svg(f, &d->c, y);
		y += hw_chart_height(&d->c) + SVG_GAP;
	}
	hw_svg_end(f);
	free(d);
}

/* One chart as its own inline <svg>. */
static void svg_one(const struct report *r, const struct ser *s, FILE *f,
		    struct drawn *d)
{
	chart_of(r, s, d);
	hw_svg_begin(f, hw_chart_height(&d->c), d->title, 0);
	hw_chart_svg(f, &d->c, 0);
	hw_svg_end(f);
}

/* ------------------------------------------------------------------ */
/* html */

struct row {
	const struct ser *s;
	const struct tser *t;
};

static int cmp_row(const void *a, const void *b)
{
	const struct row *x = a, *y = b;

	if (x->t->growth != y->t->growth)
		return x->t->growth > y->t->growth ? -1 : 1;
	return strcmp(x->t->name, y->t->name);
}

static void html_report(const struct report *r, FILE *f)
{
	const struct hw_report_opts *o = r->o;
	struct drawn *d = malloc(sizeof *d);
	struct row *rows;
	size_t nrows = 0, cap = 0;
	char span[128], a[32], b[32], rate[48], name[96], g[32], now[64], verdict[80];

	if (!d)
		return;
	for (size_t i = 0; i < r->n; i++)
		cap += r->ser[i].ntypes;
	rows = calloc(cap ? cap : 1, sizeof *rows);
	fmt_span(r->t0, o->now_ms, span, sizeof span);
	fmt_time(o->now_ms, "%Y-%m-%d %H:%M:%S %Z", now, sizeof now);
	fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
	      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
	      "<title>heapwatch report", f);
	if (o->target) {
		fputs(": ", f);
		hw_xml_text(f, o->target, 64);
	}
	fputs("</title>\n<style>\n"
	      "body{font-family:'DejaVu Sans',Verdana,Arial,sans-serif;color:#222;margin:24px auto;"
	      "max-width:1120px;padding:0 12px;font-size:14px}\n"
	      "h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px}\n"
	      ".meta{color:#666;margin:0 0 16px}\n"
	      "table{border-collapse:collapse;margin:4px 0 8px}\n"
	      "th,td{padding:4px 10px;border-bottom:1px solid #e2e2e2;text-align:right;"
	      "vertical-align:top;white-space:nowrap}\n"
	      "th{background:#f5f5f5;font-weight:600}\n"
	      "td.l,th.l{text-align:left}td.n{font-family:'DejaVu Sans Mono',monospace;"
	      "white-space:normal;word-break:break-all}\n"
	      ".up{color:#b0281a;font-weight:600}.down{color:#2a7a2a}\n"
	      "svg{display:block;margin:6px 0 26px;max-width:100%;height:auto}\n"
	      "a{color:#1f5fa8}\n"
	      "</style>\n</head>\n<body>\n<h1>heapwatch report</h1>\n<p class=\"meta\">", f);
	hw_xml_text(f, o->target ? o->target : "every target", 64);
	fputs(" \xc2\xb7 ", f);
	hw_xml_text(f, span, 0);
	fprintf(f, " (%s%s) \xc2\xb7 history <code>", o->since_ms > 0 ? "last " : "",
		o->since_ms > 0 ? o->since_text : "all of it");
	hw_xml_text(f, o->history, 200);
	fputs("</code> \xc2\xb7 made ", f);
	hw_xml_text(f, now, 0);
	fputs("</p>\n", f);

	fputs("<h2>Processes, largest RSS growth first</h2>\n<table>\n<tr><th class=\"l\">target</th>"
	      "<th class=\"l\">process</th><th class=\"l\">from \xe2\x80\x93 to</th><th>samples</th>"
	      "<th>RSS first</th><th>RSS last</th><th>RSS valleys</th>"
	      "<th class=\"l\">verdict</th></tr>\n", f);
	for (size_t i = 0; i < r->n; i++) {
		const struct ser *s = &r->ser[i];

		ser_name(s, name, sizeof name);
		fmt_span(s->t0, s->t1, span, sizeof span);
		hw_fmt_bytes(s->rss_first, a, sizeof a);
		hw_fmt_bytes(s->rss_last, b, sizeof b);
		fmt_rate_bytes(s->per_h, rate, sizeof rate);
		fputs("<tr><td class=\"l\">", f);
		hw_xml_text(f, s->target, 0);
		fprintf(f, "</td><td class=\"l\"><a href=\"#s%zu\">%s</a></td><td class=\"l\">", i, name);
		hw_xml_text(f, span, 0);
		fmt_verdict(s, verdict, sizeof verdict);
		fprintf(f, "</td><td>%llu</td><td>%s</td><td>%s</td><td class=\"%s\">%s</td>"
			   "<td class=\"l\" style=\"color:%s\">%s</td></tr>\n",
			(unsigned long long)s->nsamples, a, b,
			s->per_h > 0 ? "up" : "down", rate, verdict_color(s->verdict),
			verdict[0] ? verdict : "\xe2\x80\x93");
		for (size_t k = 0; rows && k < s->ntypes; k++)
			if (s->types[k].grew)
				rows[nrows++] = (struct row){ s, &s->types[k] };
	}
	fputs("</table>\n", f);
	if (r->left_out)
		fprintf(f, "<p>More series than the %d a report shows were left out: narrow it with "
			   "<code>--target</code>, <code>--pid</code> or <code>--since</code>.</p>\n",
			HW_REPORT_SERIES_MAX);

	fputs("<h2>Growing types</h2>\n", f);
	if (nrows == 0) {
		fputs("<p>No type's valleys rose in this window.</p>\n", f);
	} else {
		qsort(rows, nrows, sizeof *rows, cmp_row);
		fputs("<table>\n<tr><th class=\"l\">type</th><th class=\"l\">target</th>"
		      "<th class=\"l\">process</th><th>first</th><th>last</th><th>growth</th>"
		      "<th>per hour</th></tr>\n", f);
		for (size_t i = 0; i < nrows && i < TABLE_ROWS; i++) {
			const struct tser *t = rows[i].t;

			ser_name(rows[i].s, name, sizeof name);
			hw_fmt_count(t->first, 0, a, sizeof a);
			hw_fmt_count(t->last, 0, b, sizeof b);
			hw_fmt_count(t->growth, 1, g, sizeof g);
			fmt_rate_count(t->per_h, rate, sizeof rate);
			fputs("<tr><td class=\"l n\">", f);
			hw_xml_text(f, t->name, 0);
			fputs("</td><td class=\"l\">", f);
			hw_xml_text(f, rows[i].s->target, 0);
			fprintf(f, "</td><td class=\"l\">%s</td><td>%s</td><td>%s</td>"
				   "<td class=\"up\">%s</td><td>%s</td></tr>\n", name, a, b, g, rate);
		}
		fputs("</table>\n", f);
	}
	for (size_t i = 0; i < r->n; i++) {
		const struct ser *s = &r->ser[i];

		ser_name(s, name, sizeof name);
		fprintf(f, "<h2 id=\"s%zu\">", i);
		hw_xml_text(f, s->target, 0);
		fprintf(f, " \xc2\xb7 %s</h2>\n", name);
		svg_one(r, s, f, d);
	}
	fputs("</body>\n</html>\n", f);
	free(rows);
	free(d);
}

/* ------------------------------------------------------------------ */

int hw_report_write(const struct hw_report_opts *o, FILE *out, struct hw_err *e)
{
	struct report r;
	int rc = -1;

	memset(&r, 0, sizeof r);
	r.o = o;
	r.h = hw_history_open(o->history, 0, NULL, 0, e);
	if (!r.h)
		return -1;
	if (choose(&r, e) < 0)
		goto out;
	switch (o->format) {
	case HW_REPORT_TEXT:
		text_report(&r, out);
		break;
	case HW_REPORT_SVG:
		svg_report(&r, out, 1);
		break;
	case HW_REPORT_HTML:
		html_report(&r, out);
		break;
	}
	rc = 0;
out:
	for (size_t i = 0; r.ser && i < r.n; i++)
		ser_free_types(&r.ser[i]);
	free(r.ser);
	hw_history_close(r.h);
	return rc;
}
