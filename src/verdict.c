/* verdict.c - process and target verdicts; see include/heapwatch/verdict.h. */
#include "heapwatch/verdict.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "heapwatch/trend.h"

#define MIB (1024.0 * 1024.0)

/* The rules' constants (heapwatch(1) states them). */
#define ALPHA          0.01
#define REL_RISE       0.005
#define TYPE_MIN_RISE  20.0           /* objects */
#define MEM_MIN_RISE   (256.0 * 1024) /* bytes */
#define STEP_SHARE     0.6
#define TYPE_STEP_REL  0.25
#define MEM_STEP_REL   0.2
#define EARLY_FACTOR   2.0
#define EARLY_MIN      (32.0 * MIB)

/* One shared scratch area: the daemon has one thread. */
static double scratch[HW_TREND_BUCKETS_MAX * HW_TREND_BUCKETS_MAX / 2 +
		      2 * HW_TREND_BUCKETS_MAX];

static const char *const verdict_names[] = {
	"warming", "steady", "plateau", "early_explosion", "surge", "leak",
};

const char *hw_verdict_name(enum hw_verdict v)
{
	return (unsigned)v < sizeof verdict_names / sizeof verdict_names[0] ?
	       verdict_names[v] : "?";
}

const char *hw_kind_name(enum hw_leak_kind k)
{
	return k == HW_KIND_PYTHON ? "python" : k == HW_KIND_NATIVE ? "native" : "";
}

int hw_verdict_parse(const char *s)
{
	for (size_t i = 0; i < sizeof verdict_names / sizeof verdict_names[0]; i++)
		if (strcmp(s, verdict_names[i]) == 0)
			return (int)i;
	return -1;
}

/* ------------------------------------------------------------------ */
/* formatting for the detail line */

static void fmt_bytes(double b, char *buf, size_t size)
{
	const char *sign = b < 0 ? "-" : "";
	double a = fabs(b);

	if (a >= 1024.0 * MIB)
		snprintf(buf, size, "%s%.1f GiB", sign, a / (1024.0 * MIB));
	else if (a >= MIB)
		snprintf(buf, size, "%s%.1f MiB", sign, a / MIB);
	else if (a >= 1024)
		snprintf(buf, size, "%s%.1f KiB", sign, a / 1024);
	else
		snprintf(buf, size, "%s%.0f B", sign, a);
}

static void fmt_span(double s, char *buf, size_t size)
{
	if (s >= 7200)
		snprintf(buf, size, "%.1f h", s / 3600);
	else if (s >= 120)
		snprintf(buf, size, "%.0f min", s / 60);
	else
		snprintf(buf, size, "%.0f s", s);
}

static void fmt_p(double p, char *buf, size_t size)
{
	if (p < 0.001)
		snprintf(buf, size, "p<0.001");
	else
		snprintf(buf, size, "p=%.3f", p);
}

/* Append to j->detail. */
__attribute__((format(printf, 2, 3)))
static void add(struct hw_judged *j, const char *fmt, ...)
{
	size_t n = strlen(j->detail);
	va_list ap;

	if (n + 1 >= sizeof j->detail)
		return;
	va_start(ap, fmt);
	vsnprintf(j->detail + n, sizeof j->detail - n, fmt, ap);
	va_end(ap);
}

/* ------------------------------------------------------------------ */
/* a process */

struct judge_cache {
	enum hw_shape shape;
	double slope_per_h, p, rise, step, level;
	uint32_t n;
	int64_t since_ms;          /* while RISING: start of the first window */
};

struct hw_proc_trend {
	struct hw_verdict_conf c;
	uint32_t nseries, cap;     /* series in use, allocated (2 + max_types) */
	struct hw_series *s;       /* [0] rss, [1] pss, [2 + i] type i */
	struct judge_cache *j;
	char (*names)[HW_SAMPLE_NAME_MAX]; /* of the types */
	uint64_t *hashes;
	uint32_t *tab;             /* series by name hash: index + 1 */
	uint32_t tab_cap;
	int64_t *idx;
	double *val;
	double age_s, first_age_s, first_rss;
	int64_t wall_ms;
	uint64_t generation;       /* judgements made */
	struct hw_judged out;
};

static uint64_t hash_name(const char *s)
{
	uint64_t h = 14695981039346656037ull;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

struct hw_proc_trend *hw_proc_trend_new(const struct hw_verdict_conf *c)
{
	struct hw_proc_trend *t;
	size_t n, w;

	if (!c || !(c->bucket_s > 0) || c->nbuckets < 1 ||
	    c->nbuckets > HW_TREND_BUCKETS_MAX || c->max_types > (1u << 20)) {
		errno = EINVAL;
		return NULL;
	}
	t = calloc(1, sizeof *t);
	if (!t)
		return NULL;
	t->c = *c;
	t->cap = 2 + c->max_types;
	n = t->cap;
	w = c->nbuckets;
	t->s = calloc(n, sizeof *t->s);
	t->j = calloc(n, sizeof *t->j);
	t->names = calloc(c->max_types ? c->max_types : 1, sizeof *t->names);
	t->hashes = calloc(c->max_types ? c->max_types : 1, sizeof *t->hashes);
	for (t->tab_cap = 16; t->tab_cap < 2 * n; t->tab_cap *= 2)
		;
	t->tab = calloc(t->tab_cap, sizeof *t->tab);
	t->idx = calloc(n * w, sizeof *t->idx);
	t->val = calloc(n * w, sizeof *t->val);
	if (!t->s || !t->j || !t->names || !t->hashes || !t->tab || !t->idx ||
	    !t->val) {
		hw_proc_trend_free(t);
		errno = ENOMEM;
		return NULL;
	}
	for (size_t i = 0; i < n; i++)
		hw_series_init(&t->s[i], (uint32_t)w, t->idx + i * w, t->val + i * w);
	t->nseries = 2;
	t->first_age_s = -1;
	t->first_rss = -1;
	t->out.verdict = HW_VERDICT_WARMING;
	snprintf(t->out.detail, sizeof t->out.detail, "no sample yet");
	return t;
}

void hw_proc_trend_free(struct hw_proc_trend *t)
{
	if (!t)
		return;
	free(t->s);
	free(t->j);
	free(t->names);
	free(t->hashes);
	free(t->tab);
	free(t->idx);
	free(t->val);
	free(t);
}

static long find_series(const struct hw_proc_trend *t, uint64_t h, const char *name)
{
	const uint32_t mask = t->tab_cap - 1;

	for (uint32_t at = (uint32_t)h & mask; t->tab[at]; at = (at + 1) & mask) {
		uint32_t i = t->tab[at] - 1;      /* a series index >= 2 */

		if (t->hashes[i - 2] == h && strcmp(t->names[i - 2], name) == 0)
			return (long)i;
	}
	return -1;
}

static void index_series(struct hw_proc_trend *t, uint32_t i)
{
	const uint32_t mask = t->tab_cap - 1;
	uint32_t at = (uint32_t)t->hashes[i - 2] & mask;

	while (t->tab[at])
		at = (at + 1) & mask;
	t->tab[at] = i + 1;
}

static int64_t bucket_of(const struct hw_proc_trend *t, double age_s)
{
	if (age_s < t->c.warmup_s)
		return -1;
	return (int64_t)floor((age_s - t->c.warmup_s) / t->c.bucket_s);
}

/* Wall clock at the start of bucket k, from the latest sample. */
static int64_t wall_of_bucket(const struct hw_proc_trend *t, double k)
{
	double age = t->c.warmup_s + k * t->c.bucket_s;

	return t->wall_ms - (int64_t)((t->age_s - age) * 1000.0);
}

static void judge_series(struct hw_proc_trend *t, uint32_t i, int mem)
{
	struct hw_judge_opts o = {
		.bucket_s = t->c.bucket_s,
		.min_rise = mem ? MEM_MIN_RISE : TYPE_MIN_RISE,
		.rel_rise = REL_RISE, .alpha = ALPHA, .step_share = STEP_SHARE,
		.step_rel = mem ? MEM_STEP_REL : TYPE_STEP_REL,
	};
	struct hw_judgement r;
	struct judge_cache *c = &t->j[i];
	int was_rising = c->shape == HW_SHAPE_RISING;

	hw_series_judge(&t->s[i], &o, scratch, &r);
	c->shape = r.shape;
	c->slope_per_h = r.slope_per_h;
	c->p = r.mk.p;
	c->rise = r.rise;
	c->step = r.step;
	c->level = r.median;
	c->n = r.n;
	if (r.shape == HW_SHAPE_RISING && !was_rising)
		c->since_ms = wall_of_bucket(t, r.first_x);
	else if (r.shape != HW_SHAPE_RISING)
		c->since_ms = 0;
}

static void set_verdict(struct hw_judged *j, enum hw_verdict v, int64_t now)
{
	if (j->verdict != v || j->since_ms == 0)
		j->since_ms = now;
	j->verdict = v;
}

/* The leaking types of t, fastest first, into j. */
static void collect_leaking(const struct hw_proc_trend *t, struct hw_judged *j)
{
	j->nleaking = 0;
	for (uint32_t i = 2; i < t->nseries; i++) {
		const struct judge_cache *c = &t->j[i];
		uint32_t at;

		if (c->shape != HW_SHAPE_RISING)
			continue;
		/* insertion into the sorted list, dropping the slowest */
		for (at = j->nleaking; at > 0 && j->leaking[at - 1].per_hour < c->slope_per_h; at--)
			;
		if (at >= HW_VERDICT_LEAKING_MAX)
			continue;
		memmove(&j->leaking[at + 1], &j->leaking[at],
			(size_t)((j->nleaking < HW_VERDICT_LEAKING_MAX ? j->nleaking :
				  HW_VERDICT_LEAKING_MAX - 1) - at) * sizeof j->leaking[0]);
		snprintf(j->leaking[at].name, sizeof j->leaking[at].name, "%s", t->names[i - 2]);
		j->leaking[at].per_hour = c->slope_per_h;
		j->leaking[at].p = c->p;
		j->leaking[at].since_ms = c->since_ms;
		if (j->nleaking < HW_VERDICT_LEAKING_MAX)
			j->nleaking++;
	}
}

static void leak_detail(struct hw_judged *j, double span_s, double rss_per_h,
			int has_rss)
{
	char a[32], b[32];
	double best_p = 1;

	for (uint32_t i = 0; i < j->nleaking && i < 3; i++) {
		add(j, "%s%s %+.0f/h", i ? ", " : "", j->leaking[i].name,
		    j->leaking[i].per_hour);
		if (j->leaking[i].p < best_p)
			best_p = j->leaking[i].p;
	}
	if (j->nleaking > 3)
		add(j, " and %u more", j->nleaking - 3);
	fmt_span(span_s, a, sizeof a);
	fmt_p(best_p, b, sizeof b);
	add(j, " over %s (%s)", a, b);
	if (has_rss) {
		fmt_bytes(rss_per_h, a, sizeof a);
		add(j, ", rss %s%s/h", rss_per_h >= 0 ? "+" : "", a);
	}
}

static void judge_process(struct hw_proc_trend *t)
{
	struct hw_judged *j = &t->out;
	const struct judge_cache *rss = &t->j[0], *pss = &t->j[1];
	int64_t now = t->wall_ms;
	char a[32], b[32], c[32];
	uint32_t plateau = 0;

	for (uint32_t i = 0; i < t->nseries; i++)
		judge_series(t, i, i < 2);
	t->generation++;
	j->detail[0] = '\0';
	j->kind = HW_KIND_NONE;
	j->recycled = 0;
	j->has_rss = rss->shape != HW_SHAPE_NONE;
	j->rss_per_hour = rss->slope_per_h;
	j->rss_p = rss->p;
	j->has_pss = pss->shape != HW_SHAPE_NONE;
	j->pss_per_hour = pss->slope_per_h;
	j->span_s = rss->n * t->c.bucket_s;
	j->nleaking = 0;

	if (t->age_s < t->c.warmup_s || rss->shape == HW_SHAPE_NONE) {
		set_verdict(j, HW_VERDICT_WARMING, now);
		if (t->age_s < t->c.warmup_s)
			add(j, "%.0f s old, warmup %.0f s", t->age_s, t->c.warmup_s);
		else
			add(j, "%u of %d valleys after the warmup", rss->n,
			    HW_TREND_BUCKETS_MIN);
		return;
	}
	collect_leaking(t, j);
	if (j->nleaking) {
		set_verdict(j, HW_VERDICT_LEAK, now);
		j->kind = HW_KIND_PYTHON;
		leak_detail(j, j->span_s, j->rss_per_hour, 1);
		return;
	}
	if (rss->shape == HW_SHAPE_RISING &&
	    (pss->shape == HW_SHAPE_NONE || pss->shape == HW_SHAPE_RISING)) {
		set_verdict(j, HW_VERDICT_LEAK, now);
		j->kind = HW_KIND_NATIVE;
		fmt_bytes(rss->slope_per_h, a, sizeof a);
		fmt_span(j->span_s, b, sizeof b);
		fmt_p(rss->p, c, sizeof c);
		add(j, "rss +%s/h over %s (%s) and no Python type grows with it", a, b, c);
		return;
	}
	if (rss->shape == HW_SHAPE_STEP) {
		set_verdict(j, HW_VERDICT_SURGE, now);
		fmt_bytes(rss->step, a, sizeof a);
		fmt_bytes(rss->level, b, sizeof b);
		add(j, "rss valleys jumped by %s from one bucket to the next and stayed up (median %s)",
		    a, b);
		return;
	}
	if (t->first_age_s >= 0 && t->first_age_s <= t->c.warmup_s / 2 &&
	    t->first_rss > 0 && rss->level >= EARLY_FACTOR * t->first_rss &&
	    rss->level - t->first_rss >= EARLY_MIN) {
		set_verdict(j, HW_VERDICT_EARLY_EXPLOSION, now);
		fmt_bytes(t->first_rss, a, sizeof a);
		fmt_bytes(rss->level, b, sizeof b);
		add(j, "rss %s at %.1f s of age, %s after the warmup, flat since",
		    a, t->first_age_s, b);
		return;
	}
	if (rss->shape == HW_SHAPE_PLATEAU)
		plateau = 1;
	for (uint32_t i = 2; !plateau && i < t->nseries; i++)
		if (t->j[i].shape == HW_SHAPE_PLATEAU)
			plateau = i;
	if (plateau) {
		set_verdict(j, HW_VERDICT_PLATEAU, now);
		if (plateau == 1) {
			fmt_bytes(rss->level, a, sizeof a);
			add(j, "rss rose, then stopped near %s", a);
		} else {
			add(j, "%s rose by %.0f, then stopped", t->names[plateau - 2],
			    t->j[plateau].rise);
		}
		return;
	}
	set_verdict(j, HW_VERDICT_STEADY, now);
	fmt_bytes(rss->slope_per_h, a, sizeof a);
	fmt_span(j->span_s, b, sizeof b);
	fmt_p(rss->p, c, sizeof c);
	add(j, "rss %s%s/h over %s (%s)", rss->slope_per_h >= 0 ? "+" : "", a, b, c);
}

int hw_proc_trend_add(struct hw_proc_trend *t, double age_s, int64_t wall_ms,
		      int64_t rss, int64_t pss, const struct hw_select *sel)
{
	int64_t k = bucket_of(t, age_s);
	int done = 0;

	t->age_s = age_s;
	t->wall_ms = wall_ms;
	if (t->first_age_s < 0) {
		t->first_age_s = age_s;
		t->first_rss = (double)rss;
	}
	if (rss >= 0)
		done |= hw_series_add(&t->s[0], k, (double)rss, age_s);
	if (pss >= 0)
		done |= hw_series_add(&t->s[1], k, (double)pss, age_s);
	if (sel) {
		uint32_t n = hw_select_len(sel);

		/* the selection only grows: new indices get new series */
		while (t->nseries - 2 < n && t->nseries < t->cap) {
			uint32_t i = t->nseries - 2;

			snprintf(t->names[i], sizeof t->names[i], "%s", hw_select_name(sel, i));
			t->hashes[i] = hash_name(t->names[i]);
			hw_series_reset(&t->s[t->nseries]);
			memset(&t->j[t->nseries], 0, sizeof t->j[0]);
			index_series(t, t->nseries);
			t->nseries++;
		}
		for (uint32_t i = 0; i < n && i + 2 < t->nseries; i++)
			done |= hw_series_add(&t->s[i + 2], k,
					      (double)hw_select_count(sel, i), age_s);
	}
	if (done) {
		judge_process(t);
		return 1;
	}
	if (t->generation == 0) {      /* not judged yet: still warming */
		t->out.detail[0] = '\0';
		add(&t->out, "%.0f s old, warmup %.0f s", age_s, t->c.warmup_s);
		if (!t->out.since_ms)
			t->out.since_ms = wall_ms;
	}
	return 0;
}

const struct hw_judged *hw_proc_trend_judged(const struct hw_proc_trend *t)
{
	return &t->out;
}

int hw_proc_trend_growth(const struct hw_proc_trend *t, uint32_t i,
			 double *per_hour)
{
	if (i + 2 >= t->nseries || t->j[i + 2].shape == HW_SHAPE_NONE)
		return 0;
	*per_hour = t->j[i + 2].slope_per_h;
	return 1;
}

double hw_proc_trend_age(const struct hw_proc_trend *t)
{
	return t->age_s;
}

/* ------------------------------------------------------------------ */
/* a target */

struct hw_target_trend {
	struct hw_verdict_conf c;
	struct hw_proc_trend *archive[HW_VERDICT_ARCHIVE];
	uint32_t narchive;             /* oldest first */
	uint64_t signature;            /* of the inputs last judged */
	struct hw_judged out;
	/* pooled leak: rates per worker */
	int pooled;
	struct hw_judged pool;
	/* scratch for pooling */
	double *cell;                  /* nbuckets x POOL contributors */
	uint32_t *ncell;
	uint64_t *seen;                /* names already pooled (hashes) */
	uint32_t seen_cap;
};

#define POOL (HW_VERDICT_ARCHIVE + HW_VERDICT_POOL_LIVE)

struct hw_target_trend *hw_target_trend_new(const struct hw_verdict_conf *c)
{
	struct hw_target_trend *tt;

	if (!c || !(c->bucket_s > 0) || c->nbuckets < 1 ||
	    c->nbuckets > HW_TREND_BUCKETS_MAX) {
		errno = EINVAL;
		return NULL;
	}
	tt = calloc(1, sizeof *tt);
	if (!tt)
		return NULL;
	tt->c = *c;
	for (tt->seen_cap = 64; tt->seen_cap < 2u * POOL * (c->max_types + 1); tt->seen_cap *= 2)
		;
	tt->cell = calloc((size_t)c->nbuckets * POOL, sizeof *tt->cell);
	tt->ncell = calloc(c->nbuckets, sizeof *tt->ncell);
	tt->seen = calloc(tt->seen_cap, sizeof *tt->seen);
	if (!tt->cell || !tt->ncell || !tt->seen) {
		hw_target_trend_free(tt);
		errno = ENOMEM;
		return NULL;
	}
	tt->out.verdict = HW_VERDICT_WARMING;
	snprintf(tt->out.detail, sizeof tt->out.detail, "no process yet");
	return tt;
}

void hw_target_trend_free(struct hw_target_trend *tt)
{
	if (!tt)
		return;
	for (uint32_t i = 0; i < tt->narchive; i++)
		hw_proc_trend_free(tt->archive[i]);
	free(tt->cell);
	free(tt->ncell);
	free(tt->seen);
	free(tt);
}

void hw_target_trend_retire(struct hw_target_trend *tt, struct hw_proc_trend *t)
{
	if (!t)
		return;
	/* a process that never got past its warmup has nothing to pool */
	if (t->s[0].len == 0) {
		hw_proc_trend_free(t);
		return;
	}
	if (tt->narchive == HW_VERDICT_ARCHIVE) {
		hw_proc_trend_free(tt->archive[0]);
		memmove(tt->archive, tt->archive + 1,
			(HW_VERDICT_ARCHIVE - 1) * sizeof tt->archive[0]);
		tt->narchive--;
	}
	tt->archive[tt->narchive++] = t;
	tt->signature++;              /* judge again */
}

/* Judge pooled points (x = age bucket, y = valley less the process's
 * first valley; x ascending, ties allowed): Theil-Sen over the pairs of
 * different ages, Mann-Kendall with Kendall's variance for ties in both,
 * the rise over the ages covered against min_rise, and the last third of
 * the ages (by their medians) above every earlier age's median by a tenth
 * of the rise.  At least POOL_MIN_AGES ages and POOL_MIN_POINTS points. */
#define POOL_MIN_AGES 4
#define POOL_MIN_POINTS 12
#define POOL_POINTS_MAX HW_TREND_BUCKETS_MAX

static void judge_points(const double *x, const double *y, size_t n,
			 double min_rise, double bucket_s, struct hw_judgement *out)
{
	double med[HW_TREND_BUCKETS_MAX], ages[HW_TREND_BUCKETS_MAX];
	double before = -INFINITY, last = -INFINITY, slope;
	size_t m = 0, third;

	memset(out, 0, sizeof *out);
	out->shape = HW_SHAPE_NONE;
	out->mk.p = 1;
	out->n = (uint32_t)n;
	/* the median of each age */
	for (size_t i = 0; i < n;) {
		size_t j = i;

		while (j < n && x[j] == x[i])
			j++;
		memcpy(scratch, y + i, (j - i) * sizeof *y);
		ages[m] = x[i];
		med[m++] = hw_median(scratch, j - i);
		i = j;
	}
	if (m < POOL_MIN_AGES || n < POOL_MIN_POINTS)
		return;
	out->first_x = ages[0];
	out->last_x = ages[m - 1];
	slope = hw_theil_sen(x, y, n, scratch);
	out->slope_per_h = slope * 3600.0 / bucket_s;
	out->rise = slope * (out->last_x - out->first_x);
	out->threshold = min_rise;
	hw_mann_kendall(x, y, n, scratch, &out->mk);
	if (!(out->mk.p < ALPHA) || out->rise < min_rise) {
		out->shape = HW_SHAPE_FLAT;
		return;
	}
	third = (m + 2) / 3;
	for (size_t i = 0; i < m; i++) {
		if (i < m - third)
			before = fmax(before, med[i]);
		else
			last = fmax(last, med[i]);
	}
	out->shape = last > before + 0.1 * out->rise ? HW_SHAPE_RISING : HW_SHAPE_PLATEAU;
}

/* Pool series si (0 rss, 1 pss) or the type hashed h named name of the
 * contributors by age: for each age bucket below nbuckets, each process's
 * valley less its first valley.  Up to POOL_POINTS_MAX points are judged
 * as such; more are reduced to the median of each age first. */
static void pool_series(struct hw_target_trend *tt, struct hw_proc_trend *const *p,
			uint32_t np, int si, uint64_t h, const char *name,
			struct hw_judgement *out, uint32_t *contributors)
{
	const uint32_t w = tt->c.nbuckets;
	double x[POOL_POINTS_MAX], y[POOL_POINTS_MAX], firsts[POOL];
	uint32_t n = 0, nf = 0, total = 0;
	double min_rise;

	memset(tt->ncell, 0, w * sizeof *tt->ncell);
	for (uint32_t q = 0; q < np; q++) {
		const struct hw_series *s;
		long at = si >= 0 ? si : find_series(p[q], h, name);
		double first;

		if (at < 0)
			continue;
		s = &p[q]->s[at];
		if (s->len == 0)
			continue;
		first = hw_series_val(s, 0);
		firsts[nf++] = first;
		for (uint32_t i = 0; i < s->len; i++) {
			int64_t k = hw_series_idx(s, i);

			if (k < 0 || k >= (int64_t)w)
				continue;
			tt->cell[(size_t)k * POOL + tt->ncell[k]++] = hw_series_val(s, i) - first;
			total++;
		}
	}
	*contributors = nf;
	for (uint32_t k = 0; k < w; k++) {
		if (total <= POOL_POINTS_MAX) {
			for (uint32_t i = 0; i < tt->ncell[k]; i++) {
				x[n] = k;
				y[n++] = tt->cell[(size_t)k * POOL + i];
			}
		} else if (tt->ncell[k]) {
			x[n] = k;
			y[n++] = hw_median(&tt->cell[(size_t)k * POOL], tt->ncell[k]);
		}
	}
	/* the threshold is relative to the level, not to the deltas */
	min_rise = fmax(si >= 0 ? MEM_MIN_RISE : TYPE_MIN_RISE,
			REL_RISE * fabs(hw_median(firsts, nf)));
	if (nf < 2) {
		memset(out, 0, sizeof *out);
		out->shape = HW_SHAPE_NONE;
		out->mk.p = 1;
		return;
	}
	if (total > POOL_POINTS_MAX) {
		/* one point per age: a plain time series */
		struct hw_judge_opts o = {
			.bucket_s = tt->c.bucket_s, .min_rise = min_rise, .rel_rise = 0,
			.alpha = ALPHA, .step_share = 2,   /* no step rule */
		};

		hw_judge(x, y, n, &o, scratch, out);
		return;
	}
	judge_points(x, y, n, min_rise, tt->c.bucket_s, out);
}

static int seen_add(struct hw_target_trend *tt, uint64_t h)
{
	uint32_t m = tt->seen_cap - 1;

	h = h ? h : 1;
	for (uint32_t at = (uint32_t)h & m;; at = (at + 1) & m) {
		if (tt->seen[at] == h)
			return 0;
		if (tt->seen[at] == 0) {
			tt->seen[at] = h;
			return 1;
		}
	}
}

/* Is the target's pool of recycled workers leaking?  Fills tt->pool. */
static int judge_pool(struct hw_target_trend *tt, struct hw_proc_trend *const *live,
		      size_t nlive)
{
	struct hw_proc_trend *p[POOL];
	uint32_t np = 0, nc;
	struct hw_judgement rss, pss, r;
	struct hw_judged *j = &tt->pool;
	double life[HW_VERDICT_ARCHIVE];
	char a[32], b[32], c[32];

	if (tt->narchive == 0)
		return 0;
	/* only when workers do not live a whole window */
	for (uint32_t i = 0; i < tt->narchive; i++)
		life[i] = tt->archive[i]->age_s;
	if (hw_median(life, tt->narchive) >= tt->c.warmup_s + tt->c.nbuckets * tt->c.bucket_s)
		return 0;
	for (uint32_t i = 0; i < tt->narchive; i++)
		p[np++] = tt->archive[i];
	for (size_t i = 0; i < nlive && np < POOL; i++)
		if (live[i] && live[i]->s[0].len)
			p[np++] = live[i];
	if (np < 2)
		return 0;

	memset(j, 0, sizeof *j);
	pool_series(tt, p, np, 0, 0, NULL, &rss, &nc);
	pool_series(tt, p, np, 1, 0, NULL, &pss, &nc);
	memset(tt->seen, 0, tt->seen_cap * sizeof *tt->seen);
	for (uint32_t q = 0; q < np; q++)
		for (uint32_t i = 2; i < p[q]->nseries; i++) {
			uint32_t at;

			if (!seen_add(tt, p[q]->hashes[i - 2]))
				continue;
			pool_series(tt, p, np, -1, p[q]->hashes[i - 2], p[q]->names[i - 2],
				    &r, &nc);
			if (r.shape != HW_SHAPE_RISING || nc < 2)
				continue;
			for (at = j->nleaking; at > 0 && j->leaking[at - 1].per_hour < r.slope_per_h; at--)
				;
			if (at >= HW_VERDICT_LEAKING_MAX)
				continue;
			memmove(&j->leaking[at + 1], &j->leaking[at],
				(size_t)((j->nleaking < HW_VERDICT_LEAKING_MAX ? j->nleaking :
					  HW_VERDICT_LEAKING_MAX - 1) - at) * sizeof j->leaking[0]);
			snprintf(j->leaking[at].name, sizeof j->leaking[at].name, "%s",
				 p[q]->names[i - 2]);
			j->leaking[at].per_hour = r.slope_per_h;
			j->leaking[at].p = r.mk.p;
			j->leaking[at].since_ms = 0;
			if (j->nleaking < HW_VERDICT_LEAKING_MAX)
				j->nleaking++;
		}
	j->has_rss = rss.shape != HW_SHAPE_NONE;
	j->rss_per_hour = rss.slope_per_h;
	j->rss_p = rss.mk.p;
	j->has_pss = pss.shape != HW_SHAPE_NONE;
	j->pss_per_hour = pss.slope_per_h;
	j->span_s = rss.n ? (rss.last_x - rss.first_x + 1) * tt->c.bucket_s : 0;
	j->recycled = 1;
	if (j->nleaking) {
		j->verdict = HW_VERDICT_LEAK;
		j->kind = HW_KIND_PYTHON;
	} else if (rss.shape == HW_SHAPE_RISING &&
		   (pss.shape == HW_SHAPE_NONE || pss.shape == HW_SHAPE_RISING)) {
		j->verdict = HW_VERDICT_LEAK;
		j->kind = HW_KIND_NATIVE;
	} else {
		return 0;
	}
	if (j->kind == HW_KIND_PYTHON) {
		leak_detail(j, j->span_s, j->rss_per_hour, j->has_rss);
	} else {
		fmt_bytes(rss.slope_per_h, a, sizeof a);
		fmt_span(j->span_s, b, sizeof b);
		fmt_p(rss.mk.p, c, sizeof c);
		add(j, "rss +%s/h over %s (%s) and no Python type grows with it", a, b, c);
	}
	add(j, "; seen across %u recycled workers by age, per worker", np);
	return 1;
}

void hw_target_trend_judge(struct hw_target_trend *tt,
			   struct hw_proc_trend *const *live, size_t n,
			   int64_t wall_ms)
{
	struct hw_judged *j = &tt->out;
	enum hw_verdict v = HW_VERDICT_WARMING;
	const struct hw_judged *worst = NULL;
	uint64_t sig = tt->signature * 1000003u + n;
	double rss = 0, pss = 0;
	int has_rss = 0, has_pss = 0, python = 0;
	uint32_t nlive = 0;

	for (size_t i = 0; i < n; i++)
		if (live[i])
			sig = sig * 31 + live[i]->generation + (uint64_t)(uintptr_t)live[i];
	if (sig == tt->signature && j->since_ms)
		return;                /* nothing new since the last judgement */
	tt->signature = sig;

	j->nleaking = 0;
	for (size_t i = 0; i < n; i++) {
		const struct hw_judged *pj;

		if (!live[i])
			continue;
		nlive++;
		pj = &live[i]->out;
		if (!worst || pj->verdict > worst->verdict)
			worst = pj;
		if (pj->verdict > v)
			v = pj->verdict;
		if (pj->has_rss && pj->verdict != HW_VERDICT_WARMING) {
			rss += pj->rss_per_hour;
			has_rss = 1;
		}
		if (pj->has_pss && pj->verdict != HW_VERDICT_WARMING) {
			pss += pj->pss_per_hour;
			has_pss = 1;
		}
		if (pj->verdict != HW_VERDICT_LEAK)
			continue;
		python |= pj->kind == HW_KIND_PYTHON;
		/* merge its leaking types, summing the rates by name */
		for (uint32_t k = 0; k < pj->nleaking; k++) {
			uint32_t m;

			for (m = 0; m < j->nleaking; m++)
				if (strcmp(j->leaking[m].name, pj->leaking[k].name) == 0)
					break;
			if (m == j->nleaking) {
				if (m == HW_VERDICT_LEAKING_MAX)
					continue;
				j->leaking[m] = pj->leaking[k];
				j->nleaking++;
				continue;
			}
			j->leaking[m].per_hour += pj->leaking[k].per_hour;
			if (pj->leaking[k].p < j->leaking[m].p)
				j->leaking[m].p = pj->leaking[k].p;
			if (pj->leaking[k].since_ms &&
			    (!j->leaking[m].since_ms || pj->leaking[k].since_ms < j->leaking[m].since_ms))
				j->leaking[m].since_ms = pj->leaking[k].since_ms;
		}
	}
	/* fastest first */
	for (uint32_t a = 1; a < j->nleaking; a++)
		for (uint32_t b = a; b > 0 && j->leaking[b - 1].per_hour < j->leaking[b].per_hour; b--) {
			struct hw_leaking t = j->leaking[b];

			j->leaking[b] = j->leaking[b - 1];
			j->leaking[b - 1] = t;
		}
	j->recycled = 0;
	j->has_rss = has_rss;
	j->rss_per_hour = rss;
	j->has_pss = has_pss;
	j->pss_per_hour = pss;
	j->span_s = worst ? worst->span_s : 0;
	j->kind = v == HW_VERDICT_LEAK ? (python ? HW_KIND_PYTHON : HW_KIND_NATIVE) : HW_KIND_NONE;
	j->detail[0] = '\0';

	tt->pooled = v != HW_VERDICT_LEAK && judge_pool(tt, live, n);
	if (tt->pooled) {
		const struct hw_judged *pj = &tt->pool;
		double f = nlive ? nlive : 1;

		v = HW_VERDICT_LEAK;
		j->kind = pj->kind;
		j->recycled = 1;
		j->nleaking = pj->nleaking;
		for (uint32_t k = 0; k < pj->nleaking; k++) {
			j->leaking[k] = pj->leaking[k];
			j->leaking[k].per_hour *= f;
		}
		j->has_rss = pj->has_rss;
		j->rss_per_hour = pj->rss_per_hour * f;
		j->has_pss = pj->has_pss;
		j->pss_per_hour = pj->pss_per_hour * f;
		j->span_s = pj->span_s;
		snprintf(j->detail, sizeof j->detail, "%s", pj->detail);
	} else if (v == HW_VERDICT_LEAK && j->kind == HW_KIND_PYTHON) {
		uint32_t nl = 0;

		for (size_t i = 0; i < n; i++)
			nl += live[i] && live[i]->out.verdict == HW_VERDICT_LEAK;
		leak_detail(j, j->span_s, j->rss_per_hour, j->has_rss);
		add(j, "; %u of %u processes", nl, nlive);
	} else if (worst) {
		snprintf(j->detail, sizeof j->detail, "%s", worst->detail);
		if (nlive > 1)
			add(j, " (the most notable of %u processes)", nlive);
	} else {
		snprintf(j->detail, sizeof j->detail, "no process");
	}
	set_verdict(j, v, wall_ms);
}

const struct hw_judged *hw_target_trend_judged(const struct hw_target_trend *tt)
{
	return &tt->out;
}

int hw_target_trend_growth(const struct hw_target_trend *tt,
			   struct hw_proc_trend *const *live, size_t n,
			   const char *name, double *per_hour)
{
	uint64_t h = hash_name(name);
	double sum = 0;
	int known = 0;
	uint32_t nlive = 0;

	for (size_t i = 0; i < n; i++) {
		long at;

		if (!live[i])
			continue;
		nlive++;
		at = find_series(live[i], h, name);
		if (at < 0 || live[i]->j[at].shape == HW_SHAPE_NONE)
			continue;
		sum += live[i]->j[at].slope_per_h;
		known = 1;
	}
	if (tt->pooled)
		for (uint32_t k = 0; k < tt->pool.nleaking; k++)
			if (strcmp(tt->pool.leaking[k].name, name) == 0) {
				*per_hour = tt->pool.leaking[k].per_hour * (nlive ? nlive : 1);
				return 1;
			}
	if (known)
		*per_hour = sum;
	return known;
}
