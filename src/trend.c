/* trend.c - lower envelopes, Theil-Sen, Mann-Kendall; see
 * include/heapwatch/trend.h.
 *
 * References: H. B. Mann, "Nonparametric tests against trend",
 * Econometrica 13 (1945); M. G. Kendall, "Rank Correlation Methods"
 * (4th ed., 1970), ch. 4, for the variance of S with ties in both
 * rankings; P. K. Sen, "Estimates of the regression coefficient based on
 * Kendall's tau", JASA 63 (1968). */
#include "heapwatch/trend.h"

#include <math.h>
#include <string.h>

/* ------------------------------------------------------------------ */
/* Order statistics without qsort(3) (glibc's may allocate). */

static void swapd(double *a, double *b)
{
	double t = *a;

	*a = *b;
	*b = t;
}

/* The k-th smallest of v[0..n) (k < n); reorders v.  Hoare's selection
 * with a median-of-three pivot: expected O(n). */
static double select_kth(double *v, size_t n, size_t k)
{
	size_t lo = 0, hi = n - 1;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2, i, j;
		double pivot;

		if (v[mid] < v[lo])
			swapd(&v[mid], &v[lo]);
		if (v[hi] < v[lo])
			swapd(&v[hi], &v[lo]);
		if (v[hi] < v[mid])
			swapd(&v[hi], &v[mid]);
		pivot = v[mid];
		i = lo;
		j = hi;
		for (;;) {
			while (v[i] < pivot)
				i++;
			while (pivot < v[j])
				j--;
			if (i >= j)
				break;
			swapd(&v[i], &v[j]);
			i++;
			j--;
		}
		/* v[lo..j] <= pivot <= v[j+1..hi] */
		if (k <= j)
			hi = j;
		else
			lo = j + 1;
	}
	return v[k];
}

double hw_median(double *v, size_t n)
{
	double hi, lo;

	if (n == 0)
		return 0;
	hi = select_kth(v, n, n / 2);
	if (n % 2)
		return hi;
	/* the largest of the lower half, now in v[0..n/2) */
	lo = v[0];
	for (size_t i = 1; i < n / 2; i++)
		if (v[i] > lo)
			lo = v[i];
	return (lo + hi) / 2;
}

/* In-place heapsort of doubles (for counting ties). */
static void sift(double *v, size_t i, size_t n)
{
	for (;;) {
		size_t c = 2 * i + 1, big = i;

		if (c < n && v[c] > v[big])
			big = c;
		if (c + 1 < n && v[c + 1] > v[big])
			big = c + 1;
		if (big == i)
			return;
		swapd(&v[i], &v[big]);
		i = big;
	}
}

static void sortd(double *v, size_t n)
{
	for (size_t i = n / 2; i-- > 0;)
		sift(v, i, n);
	for (size_t end = n; end > 1; end--) {
		swapd(&v[0], &v[end - 1]);
		sift(v, 0, end - 1);
	}
}

/* Sums over the groups of tied values of v (sorted in place):
 * a = sum t(t-1), b = sum t(t-1)(t-2), c = sum t(t-1)(2t+5). */
static void tie_sums(double *v, size_t n, double *a, double *b, double *c)
{
	*a = *b = *c = 0;
	sortd(v, n);
	for (size_t i = 0; i < n;) {
		size_t j = i + 1;
		double t;

		while (j < n && v[j] == v[i])
			j++;
		t = (double)(j - i);
		*a += t * (t - 1);
		*b += t * (t - 1) * (t - 2);
		*c += t * (t - 1) * (2 * t + 5);
		i = j;
	}
}

double hw_normal_sf(double z)
{
	return 0.5 * erfc(z / sqrt(2.0));
}

size_t hw_trend_scratch_len(size_t n)
{
	size_t pairs = n > 1 ? n * (n - 1) / 2 : 0;

	return pairs > 2 * n ? pairs : 2 * n;
}

static int sign(double d)
{
	return (d > 0) - (d < 0);
}

void hw_mann_kendall(const double *x, const double *y, size_t n,
		     double *scratch, struct hw_mk *out)
{
	double s = 0, nn = (double)n;
	double ta = 0, tb = 0, tc = 0, ua, ub, uc, var;

	for (size_t i = 0; i < n; i++)
		for (size_t j = i + 1; j < n; j++) {
			int sx = x ? sign(x[j] - x[i]) : 1;

			s += sx * sign(y[j] - y[i]);
		}
	memcpy(scratch, y, n * sizeof *y);
	tie_sums(scratch, n, &ua, &ub, &uc);
	if (x) {
		memcpy(scratch + n, x, n * sizeof *x);
		tie_sums(scratch + n, n, &ta, &tb, &tc);
	}
	var = n < 2 ? 0 : (nn * (nn - 1) * (2 * nn + 5) - tc - uc) / 18;
	if (n >= 2 && ta > 0)
		var += ta * ua / (2 * nn * (nn - 1));
	if (n >= 3 && tb > 0)
		var += tb * ub / (9 * nn * (nn - 1) * (nn - 2));
	out->s = s;
	out->var = var;
	if (var <= 0) {
		out->z = 0;
		out->p = 1;
		return;
	}
	out->z = s > 0 ? (s - 1) / sqrt(var) : s < 0 ? (s + 1) / sqrt(var) : 0;
	out->p = hw_normal_sf(out->z);
}

double hw_theil_sen(const double *x, const double *y, size_t n,
		    double *scratch)
{
	size_t m = 0;

	for (size_t i = 0; i < n; i++)
		for (size_t j = i + 1; j < n; j++) {
			double dx = x ? x[j] - x[i] : (double)(j - i);

			if (dx != 0)
				scratch[m++] = (y[j] - y[i]) / dx;
		}
	return m ? hw_median(scratch, m) : 0;
}

/* ------------------------------------------------------------------ */
/* Series */

void hw_series_init(struct hw_series *s, uint32_t cap, int64_t *idx,
		    double *val)
{
	s->cap = cap;
	s->idx = idx;
	s->val = val;
	hw_series_reset(s);
}

void hw_series_reset(struct hw_series *s)
{
	s->len = s->head = 0;
	s->cur = -1;
	s->cur_min = 0;
	s->first = s->last = NAN;
	s->first_age_s = 0;
}

static void push_bucket(struct hw_series *s, int64_t k, double v)
{
	uint32_t at;

	if (s->len == s->cap) {
		s->head = (s->head + 1) % s->cap;
		s->len--;
	}
	at = (s->head + s->len) % s->cap;
	s->idx[at] = k;
	s->val[at] = v;
	s->len++;
	/* a window's worth of buckets, gaps included */
	while (s->len > 0 && s->idx[s->head] <= k - (int64_t)s->cap) {
		s->head = (s->head + 1) % s->cap;
		s->len--;
	}
}

int hw_series_add(struct hw_series *s, int64_t k, double v, double age_s)
{
	int done = 0;

	if (isnan(s->first)) {
		s->first = v;
		s->first_age_s = age_s;
	}
	s->last = v;
	if (k < 0 || k < s->cur)
		return 0;
	if (k > s->cur) {
		if (s->cur >= 0) {
			push_bucket(s, s->cur, s->cur_min);
			done = 1;
		}
		s->cur = k;
		s->cur_min = v;
	} else if (v < s->cur_min) {
		s->cur_min = v;
	}
	return done;
}

double hw_series_val(const struct hw_series *s, uint32_t i)
{
	return s->val[(s->head + i) % s->cap];
}

int64_t hw_series_idx(const struct hw_series *s, uint32_t i)
{
	return s->idx[(s->head + i) % s->cap];
}

/* ------------------------------------------------------------------ */
/* Judgement */

void hw_judge(const double *x, const double *y, size_t n,
	      const struct hw_judge_opts *o, double *scratch,
	      struct hw_judgement *out)
{
	double slope, lo, hi, before_max, after_min, biggest;
	size_t j = 0, third;

	memset(out, 0, sizeof *out);
	out->n = (uint32_t)n;
	out->mk.p = 1;
	out->shape = HW_SHAPE_NONE;
	if (n == 0)
		return;
	out->first_x = x ? x[0] : 0;
	out->last_x = x ? x[n - 1] : (double)(n - 1);
	if (n < HW_TREND_BUCKETS_MIN)
		return;

	memcpy(scratch, y, n * sizeof *y);
	out->median = hw_median(scratch, n);
	out->threshold = fmax(o->min_rise, o->rel_rise * fabs(out->median));
	slope = hw_theil_sen(x, y, n, scratch);
	out->slope_per_h = slope * 3600.0 / o->bucket_s;
	out->rise = slope * (out->last_x - out->first_x);
	hw_mann_kendall(x, y, n, scratch, &out->mk);

	/* The largest one-bucket rise, and how much of it lasted. */
	lo = hi = y[0];
	biggest = -INFINITY;
	for (size_t i = 1; i < n; i++) {
		if (y[i] - y[i - 1] > biggest) {
			biggest = y[i] - y[i - 1];
			j = i;
		}
		lo = fmin(lo, y[i]);
		hi = fmax(hi, y[i]);
	}
	before_max = y[0];
	for (size_t i = 1; i < j; i++)
		before_max = fmax(before_max, y[i]);
	after_min = y[j];
	for (size_t i = j + 1; i < n; i++)
		after_min = fmin(after_min, y[i]);
	out->step = after_min - before_max;
	out->step_x = x ? x[j] : (double)j;
	if (out->step > 0 && out->step >= out->threshold &&
	    out->step >= o->step_share * (hi - lo)) {
		double level;

		memcpy(scratch, y, j * sizeof *y);
		level = hw_median(scratch, j);
		if (out->step >= o->step_rel * fabs(level)) {
			out->shape = HW_SHAPE_STEP;
			return;
		}
	}
	if (!(out->mk.p < o->alpha) || out->rise < out->threshold) {
		out->shape = HW_SHAPE_FLAT;
		return;
	}
	third = (n + 2) / 3;
	before_max = y[0];
	for (size_t i = 1; i < n - third; i++)
		before_max = fmax(before_max, y[i]);
	after_min = -INFINITY;   /* here: the last third's highest */
	for (size_t i = n - third; i < n; i++)
		after_min = fmax(after_min, y[i]);
	out->shape = after_min > before_max + 0.1 * out->rise ?
		     HW_SHAPE_RISING : HW_SHAPE_PLATEAU;
}

void hw_series_judge(const struct hw_series *s, const struct hw_judge_opts *o,
		     double *scratch, struct hw_judgement *out)
{
	double x[HW_TREND_BUCKETS_MAX], y[HW_TREND_BUCKETS_MAX];
	uint32_t n = s->len < HW_TREND_BUCKETS_MAX ? s->len : HW_TREND_BUCKETS_MAX;

	for (uint32_t i = 0; i < n; i++) {
		x[i] = (double)hw_series_idx(s, s->len - n + i);
		y[i] = hw_series_val(s, s->len - n + i);
	}
	hw_judge(x, y, n, o, scratch, out);
}

const char *hw_shape_name(enum hw_shape s)
{
	switch (s) {
	case HW_SHAPE_NONE: return "none";
	case HW_SHAPE_FLAT: return "flat";
	case HW_SHAPE_RISING: return "rising";
	case HW_SHAPE_PLATEAU: return "plateau";
	case HW_SHAPE_STEP: return "step";
	}
	return "?";
}
