/* trend.h - is a series of valleys climbing?  The statistics behind the
 * daemon's verdicts, and the bounded per-series state they read.
 *
 * A sampled quantity (RSS, PSS, one type's count) swings with every
 * request and every collection; a leak shows in its *lower envelope*: the
 * minimum of each time bucket, the valley after the collections.  Over
 * the last window of buckets:
 *   - the slope is Theil-Sen's: the median of the slopes between every
 *     pair of points (robust to the odd outlier bucket);
 *   - the significance is a one-sided Mann-Kendall test (is the series
 *     increasing?) with the correction for tied values, through the normal
 *     approximation with a continuity correction.
 *
 * Pure functions: nothing here logs, and nothing allocates except
 * hw_series_new().  The work of one judgement is O(n^2) in the buckets of a
 * window (n <= HW_TREND_BUCKETS_MAX), done when a bucket completes, not at
 * every sample.
 */
#ifndef HEAPWATCH_TREND_H
#define HEAPWATCH_TREND_H

#include <stddef.h>
#include <stdint.h>

/* Buckets a window may hold: the config refuses more (window / bucket). */
#define HW_TREND_BUCKETS_MAX 240
/* Fewest buckets a judgement uses: with 5 a one-sided Mann-Kendall test
 * can never reach p < 0.01 (the best is p = 0.014), with 6 it can. */
#define HW_TREND_BUCKETS_MIN 6

/* ------------------------------------------------------------------ */
/* The statistics. */

struct hw_mk {
	double s;       /* Kendall's S: concordant minus discordant pairs */
	double var;     /* variance of S under "no trend", ties corrected */
	double z;       /* (S - 1) / sqrt(var) for S > 0, (S + 1) / ... for
			   S < 0, 0 for S = 0 (continuity correction) */
	double p;       /* one-sided p of "increasing": P(Z >= z); 1 when
			   var is 0 (every value tied: no evidence) */
};

/* Mann-Kendall test of y against x for n points (n >= 0).  x may be NULL
 * for a time series (points in order, x_i = i); otherwise pairs with equal
 * x count neither way and the variance carries Kendall's correction for
 * ties in both x and y (with x distinct it reduces to the textbook
 * (n(n-1)(2n+5) - sum t(t-1)(2t+5)) / 18 over the groups of t tied y).
 * scratch: 2n doubles of working space.  Non-finite inputs are the
 * caller's to keep out. */
void hw_mann_kendall(const double *x, const double *y, size_t n,
		     double *scratch, struct hw_mk *out);

/* Theil-Sen slope of y against x (x NULL: x_i = i): the median of
 * (y_j - y_i) / (x_j - x_i) over the pairs i < j with x_i != x_j (the
 * mean of the two middle ones for an even count).  scratch: n(n-1)/2
 * doubles.  Returns 0 when there is no such pair. */
double hw_theil_sen(const double *x, const double *y, size_t n,
		    double *scratch);

/* Median of v[0..n) (the mean of the two middle values for even n);
 * reorders v.  0 for n == 0.  No allocation (quickselect). */
double hw_median(double *v, size_t n);

/* P(Z >= z) for a standard normal Z. */
double hw_normal_sf(double z);

/* Scratch doubles the functions above need for n points. */
size_t hw_trend_scratch_len(size_t n);

/* ------------------------------------------------------------------ */
/* One series: the valleys of the last window. */

/* Bucket k (k >= 0) covers ages [warmup + k*bucket, warmup + (k+1)*bucket)
 * of the process; ages below warmup go to no bucket.  The series keeps the
 * minimum of the bucket being filled and the minima of the last `nbuckets`
 * complete buckets (a bucket without samples leaves a gap). */
struct hw_series {
	uint32_t cap;          /* complete buckets kept (the window) */
	uint32_t len;          /* complete buckets held, <= cap */
	uint32_t head;         /* ring index of the oldest */
	int64_t cur;           /* bucket being filled, -1 none */
	double cur_min;
	int64_t *idx;          /* cap bucket numbers */
	double *val;           /* cap minima */
	double first;          /* first value ever added (any age), NaN none */
	double first_age_s;    /* its age */
	double last;           /* latest value added, NaN none */
};

/* Initialise s over caller storage of cap entries each (cap >= 1). */
void hw_series_init(struct hw_series *s, uint32_t cap, int64_t *idx,
		    double *val);

/* Forget every value (the storage stays). */
void hw_series_reset(struct hw_series *s);

/* Add value v (finite) seen at bucket k (-1: during warmup; it then only
 * sets first/last).  Buckets must not go backwards (an older k is
 * ignored).  Returns 1 when a bucket completed (a judgement may change),
 * else 0. */
int hw_series_add(struct hw_series *s, int64_t k, double v, double age_s);

/* Complete buckets in [0, len): i = 0 the oldest.  Buckets older than
 * newest - cap + 1 are dropped as newer ones complete, so the series
 * spans at most one window even with gaps. */
double hw_series_val(const struct hw_series *s, uint32_t i);
int64_t hw_series_idx(const struct hw_series *s, uint32_t i);

/* ------------------------------------------------------------------ */
/* The judgement of one series over its window. */

enum hw_shape {
	HW_SHAPE_NONE = 0,     /* too few buckets to judge */
	HW_SHAPE_FLAT,         /* no significant rise */
	HW_SHAPE_RISING,       /* leaking: rises significantly, by enough,
				  and the last third sets new valleys */
	HW_SHAPE_PLATEAU,      /* rose significantly but the last third
				  sets no new valley (a bounded cache) */
	HW_SHAPE_STEP,         /* rose by enough, but mostly in one bucket
				  to the next: a surge */
};

struct hw_judge_opts {
	double bucket_s;       /* bucket length, seconds */
	double min_rise;       /* absolute floor of a rise (20 objects) */
	double rel_rise;       /* relative floor, of the median (0.005) */
	double alpha;          /* significance (0.01) */
	double step_share;     /* a step makes at least this share of the
				  valleys' whole range (0.6) ... */
	double step_rel;       /* ... and at least this share of the level
				  before it (0.25) */
};

struct hw_judgement {
	enum hw_shape shape;
	uint32_t n;            /* buckets judged */
	double slope_per_h;    /* Theil-Sen, units per hour */
	double rise;           /* slope * span of the buckets judged */
	double threshold;      /* max(min_rise, rel_rise * |median|) */
	double median;         /* of the valleys */
	struct hw_mk mk;
	double step;           /* lowest valley from the largest one-bucket
				  rise on, minus the highest valley before
				  it (<= 0: no lasting step) */
	double step_x;         /* x of the first valley after that rise */
	double first_x, last_x;
};

/* Judge n points (x increasing, in buckets; NULL means 0..n-1; y the
 * valleys).  With j the point after the largest one-bucket rise, the
 * lasting step is min(y[j..n)) - max(y[0..j)).  In order:
 *   n < HW_TREND_BUCKETS_MIN                                  -> NONE
 *   step >= threshold, step >= step_rel * |median(y[0..j))|
 *   and step >= step_share * (max(y) - min(y))                -> STEP
 *   Mann-Kendall p >= alpha or rise < threshold               -> FLAT
 *   the highest valley of the last third (the last ceil(n/3)
 *   points) is not above every valley before it by more than
 *   a tenth of the rise                                       -> PLATEAU
 *   otherwise                                                 -> RISING
 * where rise = Theil-Sen slope (per bucket) * (x_last - x_first), in the
 * units of y, and threshold = max(min_rise, rel_rise * |median(y)|).
 * scratch: hw_trend_scratch_len(n) doubles. */
void hw_judge(const double *x, const double *y, size_t n,
	      const struct hw_judge_opts *o, double *scratch,
	      struct hw_judgement *out);

/* The judgement of a series' window (its buckets as x). */
void hw_series_judge(const struct hw_series *s, const struct hw_judge_opts *o,
		     double *scratch, struct hw_judgement *out);

const char *hw_shape_name(enum hw_shape s);

#endif
