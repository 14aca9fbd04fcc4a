/* check_trend.c - the statistics against known values: Mann-Kendall S,
 * its variance with ties (in y, and in both x and y) and p; Theil-Sen on
 * exact series; medians; the bucket envelope; the judgement rules. */
#include <check.h>

#include "runner.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "heapwatch/trend.h"

static double scratch[HW_TREND_BUCKETS_MAX * HW_TREND_BUCKETS_MAX];

#define NEAR(a, b, tol) ck_assert_msg(fabs((a) - (b)) <= (tol), \
	"%s = %.9g, expected %.9g", #a, (double)(a), (double)(b))

START_TEST(test_mk_no_ties)
{
	/* 1..6: every pair concordant, S = 15, var = 6*5*17/18 = 85/3,
	 * z = 14 / sqrt(85/3) = 2.630142, p = 0.0042675 */
	const double y[] = { 1, 2, 3, 4, 5, 6 };
	struct hw_mk mk;

	hw_mann_kendall(NULL, y, 6, scratch, &mk);
	ck_assert(mk.s == 15);
	NEAR(mk.var, 85.0 / 3, 1e-12);
	NEAR(mk.z, 2.630142022557628, 1e-9);
	NEAR(mk.p, 0.00426746020711354, 1e-12);
}
END_TEST

START_TEST(test_mk_ties_in_y)
{
	/* Two 12s and three 15s: var = (10*9*25 - 2*1*9 - 3*2*11) / 18
	 * = 2166/18 = 361/3; S = 35; z = 34/sqrt(361/3) = 3.0994593;
	 * p = 0.00096937 */
	const double y[] = { 10, 12, 12, 11, 15, 15, 15, 18, 20, 19 };
	struct hw_mk mk;

	hw_mann_kendall(NULL, y, 10, scratch, &mk);
	ck_assert(mk.s == 35);
	NEAR(mk.var, 361.0 / 3, 1e-9);
	NEAR(mk.z, 3.0994593398600965, 1e-9);
	NEAR(mk.p, 0.0009693709329566057, 1e-12);

	/* Five tied, one higher: S = 5, var = (6*5*17 - 5*4*15)/18 = 35/3,
	 * p = 0.1208: no evidence of a trend. */
	const double flat[] = { 5, 5, 5, 5, 5, 6 };

	hw_mann_kendall(NULL, flat, 6, scratch, &mk);
	ck_assert(mk.s == 5);
	NEAR(mk.var, 35.0 / 3, 1e-12);
	NEAR(mk.p, 0.12078329348448644, 1e-12);

	/* Noise: S = 16 over 11 points, var = 478/3, p = 0.1174 */
	const double noise[] = { 3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5 };

	hw_mann_kendall(NULL, noise, 11, scratch, &mk);
	ck_assert(mk.s == 16);
	NEAR(mk.var, 478.0 / 3, 1e-9);
	NEAR(mk.p, 0.11735123897758035, 1e-12);
}
END_TEST

START_TEST(test_mk_ties_in_x_and_y)
{
	/* Kendall's variance with ties in both rankings, by hand:
	 * n = 4, x = 0 0 1 1, y = 0 1 0 1: S = 0 (pairs with equal x do
	 * not count), var = (156 - 36 - 36)/18 + (4*4)/(2*4*3) + 0 = 16/3,
	 * p = 0.5. */
	const double x[] = { 0, 0, 1, 1 }, y[] = { 0, 1, 0, 1 };
	struct hw_mk mk;

	hw_mann_kendall(x, y, 4, scratch, &mk);
	ck_assert(mk.s == 0);
	NEAR(mk.var, 16.0 / 3, 1e-12);
	NEAR(mk.p, 0.5, 1e-12);

	/* Pooled workers: two values per age, S = 17, var = 832/21,
	 * z = 16/sqrt(832/21) = 2.541956, p = 0.0055117. */
	const double x2[] = { 0, 0, 1, 1, 2, 2, 3 };
	const double y2[] = { 1, 2, 2, 3, 4, 4, 5 };

	hw_mann_kendall(x2, y2, 7, scratch, &mk);
	ck_assert(mk.s == 17);
	NEAR(mk.var, 832.0 / 21, 1e-9);
	NEAR(mk.z, 2.5419556372089698, 1e-9);
	NEAR(mk.p, 0.005511708194110732, 1e-12);

	/* Everything tied: no variance, no evidence. */
	const double same[] = { 4, 4, 4, 4, 4, 4, 4 };

	hw_mann_kendall(NULL, same, 7, scratch, &mk);
	ck_assert(mk.s == 0);
	ck_assert(mk.var == 0);
	ck_assert(mk.p == 1);
	hw_mann_kendall(NULL, same, 0, scratch, &mk);
	ck_assert(mk.p == 1);
}
END_TEST

START_TEST(test_theil_sen)
{
	const double line[] = { 3, 5, 7, 9, 11, 13, 15 };       /* 3 + 2i */
	const double outlier[] = { 0, 1, 2, 3, 100, 5, 6 };     /* one bad */
	const double x[] = { 0, 2, 3, 7, 8, 20 };
	double y[6];

	ck_assert(hw_theil_sen(NULL, line, 7, scratch) == 2);
	/* 21 slopes; the outlier spoils 6 of them, the median is still 1 */
	ck_assert(hw_theil_sen(NULL, outlier, 7, scratch) == 1);
	/* uneven x (gaps): y = 10 - 0.5 x exactly */
	for (int i = 0; i < 6; i++)
		y[i] = 10 - 0.5 * x[i];
	ck_assert(hw_theil_sen(x, y, 6, scratch) == -0.5);
	/* even number of slopes: the mean of the middle two.
	 * y = 0 1 3: slopes 1, 1.5, 2 -> 1.5; y = 0 1 3 7 -> slopes
	 * 1 1.5 2 2.33 3 4 -> (2 + 2.333)/2 */
	const double a[] = { 0, 1, 3 }, b[] = { 0, 1, 3, 7 };

	ck_assert(hw_theil_sen(NULL, a, 3, scratch) == 1.5);
	NEAR(hw_theil_sen(NULL, b, 4, scratch), (2 + 7.0 / 3) / 2, 1e-12);
	/* pairs with equal x are skipped; none left: 0 */
	const double xs[] = { 1, 1 }, ys[] = { 0, 5 };

	ck_assert(hw_theil_sen(xs, ys, 2, scratch) == 0);
	ck_assert(hw_theil_sen(NULL, ys, 1, scratch) == 0);
}
END_TEST

START_TEST(test_median)
{
	double v[] = { 5, 3, 9, 1, 7 }, w[] = { 4, 1, 3, 2 }, z[1] = { 8 };
	double big[1001];
	unsigned seed = 12345;

	ck_assert(hw_median(v, 5) == 5);
	ck_assert(hw_median(w, 4) == 2.5);
	ck_assert(hw_median(z, 1) == 8);
	ck_assert(hw_median(z, 0) == 0);
	/* a shuffled 0..1000 (seeded) and its worst cases */
	for (int i = 0; i < 1001; i++)
		big[i] = i;
	for (int i = 1000; i > 0; i--) {
		int j = (int)(rand_r(&seed) % (unsigned)(i + 1));
		double t = big[i];

		big[i] = big[j];
		big[j] = t;
	}
	ck_assert(hw_median(big, 1001) == 500);
	for (int i = 0; i < 1001; i++)
		big[i] = 7;
	ck_assert(hw_median(big, 1001) == 7);
	for (int i = 0; i < 1000; i++)
		big[i] = 1000 - i;
	ck_assert(hw_median(big, 1000) == 500.5);
}
END_TEST

START_TEST(test_normal_sf)
{
	NEAR(hw_normal_sf(0), 0.5, 1e-15);
	NEAR(hw_normal_sf(2.326347874), 0.01, 1e-9);
	NEAR(hw_normal_sf(-1.644853627), 0.95, 1e-9);
}
END_TEST

START_TEST(test_series_envelope)
{
	int64_t idx[4];
	double val[4];
	struct hw_series s;

	hw_series_init(&s, 4, idx, val);
	/* warmup values set first/last only */
	ck_assert_int_eq(hw_series_add(&s, -1, 50, 0.5), 0);
	ck_assert_int_eq(hw_series_add(&s, -1, 70, 1.0), 0);
	ck_assert(s.first == 50 && s.first_age_s == 0.5 && s.last == 70);
	/* bucket 0: 9 8 12 -> 8; bucket 1: 3; buckets 3, 4, 5 (2 gap) */
	ck_assert_int_eq(hw_series_add(&s, 0, 9, 2), 0);
	ck_assert_int_eq(hw_series_add(&s, 0, 8, 2), 0);
	ck_assert_int_eq(hw_series_add(&s, 0, 12, 2), 0);
	ck_assert_int_eq(hw_series_add(&s, 1, 3, 3), 1);
	ck_assert_uint_eq(s.len, 1);
	ck_assert(hw_series_val(&s, 0) == 8);
	ck_assert_int_eq(hw_series_add(&s, 0, 1, 3), 0);   /* backwards: ignored */
	ck_assert_int_eq(hw_series_add(&s, 3, 6, 5), 1);
	ck_assert_int_eq(hw_series_add(&s, 4, 7, 6), 1);
	ck_assert_int_eq(hw_series_add(&s, 5, 9, 7), 1);
	/* complete: 0 1 3 4; window of 4 buckets ending at 4 = 1..4 */
	ck_assert_uint_eq(s.len, 3);
	ck_assert_int_eq(hw_series_idx(&s, 0), 1);
	ck_assert(hw_series_val(&s, 0) == 3);
	ck_assert_int_eq(hw_series_idx(&s, 2), 4);
	ck_assert(hw_series_val(&s, 2) == 7);
	ck_assert(s.last == 9);
	hw_series_reset(&s);
	ck_assert_uint_eq(s.len, 0);
	ck_assert(isnan(s.first));
}
END_TEST

static const struct hw_judge_opts opts = {
	.bucket_s = 60, .min_rise = 20, .rel_rise = 0.005, .alpha = 0.01,
	.step_share = 0.6, .step_rel = 0.25,
};

START_TEST(test_judge_shapes)
{
	double y[15];
	struct hw_judgement j;
	unsigned seed = 4242;

	/* too few buckets */
	hw_judge(NULL, (const double[]){ 1, 2, 3, 4, 5 }, 5, &opts, scratch, &j);
	ck_assert_int_eq(j.shape, HW_SHAPE_NONE);

	/* a leak: +3 objects a bucket (a minute) over 5000, with noise
	 * below one step */
	for (int i = 0; i < 15; i++)
		y[i] = 5000 + 3 * i + (double)(rand_r(&seed) % 2);
	hw_judge(NULL, y, 15, &opts, scratch, &j);
	ck_assert_int_eq(j.shape, HW_SHAPE_RISING);
	ck_assert(j.mk.p < 0.01);
	NEAR(j.slope_per_h, 180, 30);
	ck_assert(j.rise >= 20);

	/* the same slope, too small to matter: 1 per bucket is 14 < 20 */
	for (int i = 0; i < 15; i++)
		y[i] = 5000 + i;
	hw_judge(NULL, y, 15, &opts, scratch, &j);
	ck_assert_int_eq(j.shape, HW_SHAPE_FLAT);
	NEAR(j.rise, 14, 1e-9);
	NEAR(j.threshold, 25.035, 1e-9);   /* 0.5% of the median 5007 */

	/* a bounded cache: climbs, then flat for the last third */
	for (int i = 0; i < 15; i++)
		y[i] = 1000 + 40 * (i < 9 ? i : 9);
	hw_judge(NULL, y, 15, &opts, scratch, &j);
	ck_assert_int_eq(j.shape, HW_SHAPE_PLATEAU);

	/* a surge: one bucket keeps 100k objects, nothing after */
	for (int i = 0; i < 15; i++)
		y[i] = 20000 + (i >= 11 ? 100000 : 0) + (i % 3);
	hw_judge(NULL, y, 15, &opts, scratch, &j);
	ck_assert_int_eq(j.shape, HW_SHAPE_STEP);
	ck_assert(j.step_x == 11);
	ck_assert(j.step >= 99990);

	/* a sawtooth's valleys: flat */
	for (int i = 0; i < 15; i++)
		y[i] = 3000 + (double)(rand_r(&seed) % 40);
	hw_judge(NULL, y, 15, &opts, scratch, &j);
	ck_assert_int_eq(j.shape, HW_SHAPE_FLAT);

	/* falling: never a leak */
	for (int i = 0; i < 15; i++)
		y[i] = 9000 - 50 * i;
	hw_judge(NULL, y, 15, &opts, scratch, &j);
	ck_assert_int_eq(j.shape, HW_SHAPE_FLAT);
	ck_assert(j.slope_per_h < 0);
}
END_TEST

START_TEST(test_judge_series_gaps)
{
	int64_t idx[12];
	double val[12];
	struct hw_series s;
	struct hw_judgement j;

	hw_series_init(&s, 12, idx, val);
	/* buckets 0..13, bucket 5 missing; 10 per bucket; the last pushed
	 * is 12 (13 is being filled) */
	for (int k = 0; k <= 13; k++)
		if (k != 5) {
			hw_series_add(&s, k, 100 + 10 * k + 5, k * 60.0);
			hw_series_add(&s, k, 100 + 10 * k, k * 60.0 + 30);
		}
	ck_assert_uint_eq(s.len, 11);    /* 1..12 without 5 */
	hw_series_judge(&s, &opts, scratch, &j);
	ck_assert_int_eq(j.shape, HW_SHAPE_RISING);
	ck_assert(j.slope_per_h == 600);
	ck_assert(j.rise == 110);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("trend");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_mk_no_ties);
	tcase_add_test(tc, test_mk_ties_in_y);
	tcase_add_test(tc, test_mk_ties_in_x_and_y);
	tcase_add_test(tc, test_theil_sen);
	tcase_add_test(tc, test_median);
	tcase_add_test(tc, test_normal_sf);
	tcase_add_test(tc, test_series_envelope);
	tcase_add_test(tc, test_judge_shapes);
	tcase_add_test(tc, test_judge_series_gaps);
	suite_add_tcase(s, tc);
	return hw_run_suite(s);
}
