/* check_verdict.c - verdicts of synthetic processes in compressed time
 * (warmup 5 s, bucket 2 s, window 30 s, a sample every 250 ms): each
 * shape of the issue gives its verdict, and a target whose workers are
 * recycled before a window is called a leak when they all climb. */
#include <check.h>

#include "runner.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "heapwatch/verdict.h"

#define MIB (1024.0 * 1024.0)

static const struct hw_verdict_conf conf = {
	.warmup_s = 5, .bucket_s = 2, .nbuckets = 15, .max_types = 50,
};

/* The shape of one process: memory and counts at age a. */
struct shape {
	double (*rss)(double a, unsigned *seed);
	double (*leaky)(double a, unsigned *seed);   /* a small type */
};

static double noise(unsigned *seed, double amp)
{
	return amp * (double)(rand_r(seed) % 1000) / 1000.0;
}

/* A sawtooth: each request's garbage comes and goes. */
static double saw_rss(double a, unsigned *seed)
{
	return 30 * MIB + fmod(a, 1.3) * 2 * MIB + noise(seed, 64 * 1024);
}

static double flat_count(double a, unsigned *seed)
{
	(void)a;
	return 40 + (rand_r(seed) % 3);
}

static double leak_count(double a, unsigned *seed)
{
	return 10 + 3 * a + (rand_r(seed) % 4);    /* +3 objects a second */
}

static double fast_leak_count(double a, unsigned *seed)
{
	return 10 + 6 * a + (rand_r(seed) % 4);    /* +6 objects a second */
}

static double native_rss(double a, unsigned *seed)
{
	return saw_rss(a, seed) + a * 512 * 1024;   /* +512 KiB a second */
}

static double surge_rss(double a, unsigned *seed)
{
	return saw_rss(a, seed) + (a > 20 ? 40 * MIB : 0);
}

static double early_rss(double a, unsigned *seed)
{
	return saw_rss(a, seed) + (a < 3 ? a / 3 : 1) * 90 * MIB;
}

static double plateau_rss(double a, unsigned *seed)
{
	return saw_rss(a, seed) + (a < 28 ? (a - 5 > 0 ? a - 5 : 0) : 23) * 1 * MIB;
}

/* Feed one process from age a0 to a1; returns its trend. */
static struct hw_proc_trend *run(const struct shape *sh, double a0, double a1,
				 unsigned seed, struct hw_proc_trend *t)
{
	struct hw_select_conf sc = { .max_types = 50, .union_all = 1 };
	struct hw_select *sel = hw_select_new(&sc);

	ck_assert_ptr_nonnull(sel);
	if (!t)
		t = hw_proc_trend_new(&conf);
	ck_assert_ptr_nonnull(t);
	for (double a = a0; a < a1; a += 0.25) {
		struct hw_census_type ty[2] = {
			{ "dict", 5000 + (uint64_t)(rand_r(&seed) % 500) },
			{ "app.Session", (uint64_t)sh->leaky(a, &seed) },
		};
		double rss = sh->rss(a, &seed);

		hw_select_update(sel, ty, 2, UINT32_MAX);
		hw_proc_trend_add(t, a, 1700000000000 + (int64_t)(a * 1000), (int64_t)rss,
				  (int64_t)(rss * 0.8), sel);
	}
	hw_select_free(sel);
	return t;
}

static enum hw_verdict verdict_of(const struct shape *sh, double life, unsigned seed,
				  const struct hw_judged **out)
{
	static struct hw_proc_trend *t;

	hw_proc_trend_free(t);
	t = run(sh, 0.1, life, seed, NULL);
	*out = hw_proc_trend_judged(t);
	return (*out)->verdict;
}

START_TEST(test_shapes)
{
	const struct shape sawtooth = { saw_rss, flat_count };
	const struct shape leak = { saw_rss, leak_count };
	const struct shape native = { native_rss, flat_count };
	const struct shape surge = { surge_rss, flat_count };
	const struct shape early = { early_rss, flat_count };
	const struct shape plateau = { plateau_rss, flat_count };
	const struct hw_judged *j;

	for (unsigned seed = 1; seed <= 5; seed++) {
		ck_assert_int_eq(verdict_of(&sawtooth, 4, seed, &j), HW_VERDICT_WARMING);
		ck_assert_msg(verdict_of(&sawtooth, 60, seed, &j) == HW_VERDICT_STEADY,
			      "seed %u: %s: %s", seed, hw_verdict_name(j->verdict), j->detail);
		ck_assert_msg(verdict_of(&leak, 40, seed, &j) == HW_VERDICT_LEAK,
			      "seed %u: %s: %s", seed, hw_verdict_name(j->verdict), j->detail);
		ck_assert_int_eq(j->kind, HW_KIND_PYTHON);
		ck_assert_uint_eq(j->nleaking, 1);
		ck_assert_str_eq(j->leaking[0].name, "app.Session");
		ck_assert_msg(fabs(j->leaking[0].per_hour - 3 * 3600) < 1500, "%f",
			      j->leaking[0].per_hour);
		ck_assert_msg(verdict_of(&native, 40, seed, &j) == HW_VERDICT_LEAK,
			      "seed %u: %s: %s", seed, hw_verdict_name(j->verdict), j->detail);
		ck_assert_int_eq(j->kind, HW_KIND_NATIVE);
		ck_assert_msg(verdict_of(&surge, 40, seed, &j) == HW_VERDICT_SURGE,
			      "seed %u: %s: %s", seed, hw_verdict_name(j->verdict), j->detail);
		ck_assert_msg(verdict_of(&early, 40, seed, &j) == HW_VERDICT_EARLY_EXPLOSION,
			      "seed %u: %s: %s", seed, hw_verdict_name(j->verdict), j->detail);
		ck_assert_msg(verdict_of(&plateau, 40, seed, &j) == HW_VERDICT_PLATEAU,
			      "seed %u: %s: %s", seed, hw_verdict_name(j->verdict), j->detail);
	}
}
END_TEST

START_TEST(test_recycled_workers)
{
	const struct shape leak = { saw_rss, fast_leak_count };
	const struct shape sawtooth = { saw_rss, flat_count };
	struct hw_target_trend *tt = hw_target_trend_new(&conf);
	struct hw_proc_trend *live[2];
	const struct hw_judged *j;
	double g;

	/* workers that live 14.5 s (the window is 30 s after a 5 s warmup):
	 * four valleys each, too few to judge one alone; the target pools
	 * them by age */
	for (unsigned w = 0; w < 4; w++)
		hw_target_trend_retire(tt, run(&leak, 0.1, 14.5, 10 + w, NULL));
	live[0] = run(&leak, 0.1, 12, 20, NULL);
	live[1] = run(&leak, 0.1, 14, 21, NULL);
	ck_assert_int_eq(hw_proc_trend_judged(live[0])->verdict, HW_VERDICT_WARMING);
	ck_assert_int_eq(hw_proc_trend_judged(live[1])->verdict, HW_VERDICT_WARMING);
	hw_target_trend_judge(tt, live, 2, 1700000100000);
	j = hw_target_trend_judged(tt);
	ck_assert_msg(j->verdict == HW_VERDICT_LEAK, "%s: %s", hw_verdict_name(j->verdict),
		      j->detail);
	ck_assert(j->recycled);
	ck_assert_int_eq(j->kind, HW_KIND_PYTHON);
	ck_assert_str_eq(j->leaking[0].name, "app.Session");
	ck_assert(strstr(j->detail, "recycled"));
	ck_assert_int_eq(hw_target_trend_growth(tt, live, 2, "app.Session", &g), 1);
	ck_assert_msg(fabs(g - 2 * 6 * 3600) < 8000, "%f", g);
	hw_proc_trend_free(live[0]);
	hw_proc_trend_free(live[1]);
	hw_target_trend_free(tt);

	/* the same recycling without a leak: not a leak */
	tt = hw_target_trend_new(&conf);
	for (unsigned w = 0; w < 4; w++)
		hw_target_trend_retire(tt, run(&sawtooth, 0.1, 14.5, 30 + w, NULL));
	live[0] = run(&sawtooth, 0.1, 15, 40, NULL);
	hw_target_trend_judge(tt, live, 1, 1700000100000);
	j = hw_target_trend_judged(tt);
	ck_assert_msg(j->verdict != HW_VERDICT_LEAK, "%s", j->detail);
	hw_proc_trend_free(live[0]);
	hw_target_trend_free(tt);
}
END_TEST

START_TEST(test_target_merges_processes)
{
	const struct shape leak = { saw_rss, leak_count };
	const struct shape sawtooth = { saw_rss, flat_count };
	struct hw_target_trend *tt = hw_target_trend_new(&conf);
	struct hw_proc_trend *live[3];
	const struct hw_judged *j;

	live[0] = run(&leak, 0.1, 40, 1, NULL);
	live[1] = run(&sawtooth, 0.1, 40, 2, NULL);
	live[2] = run(&leak, 0.1, 40, 3, NULL);
	hw_target_trend_judge(tt, live, 3, 1700000100000);
	j = hw_target_trend_judged(tt);
	ck_assert_int_eq(j->verdict, HW_VERDICT_LEAK);
	ck_assert(!j->recycled);
	ck_assert_uint_eq(j->nleaking, 1);
	ck_assert_msg(fabs(j->leaking[0].per_hour - 2 * 3 * 3600) < 3000, "%f",
		      j->leaking[0].per_hour);
	ck_assert_msg(strstr(j->detail, "2 of 3 processes"), "%s", j->detail);
	for (int i = 0; i < 3; i++)
		hw_proc_trend_free(live[i]);
	/* no live process: warming; an empty archive frees nothing twice */
	hw_target_trend_judge(tt, NULL, 0, 1700000200000);
	ck_assert_int_eq(hw_target_trend_judged(tt)->verdict, HW_VERDICT_WARMING);
	hw_target_trend_free(tt);

	ck_assert_str_eq(hw_verdict_name(HW_VERDICT_EARLY_EXPLOSION), "early_explosion");
	ck_assert_int_eq(hw_verdict_parse("surge"), HW_VERDICT_SURGE);
	ck_assert_int_eq(hw_verdict_parse("nope"), -1);
	ck_assert_str_eq(hw_kind_name(HW_KIND_NATIVE), "native");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("verdict");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_shapes);
	tcase_add_test(tc, test_recycled_workers);
	tcase_add_test(tc, test_target_merges_processes);
	suite_add_tcase(s, tc);
	return hw_run_suite(s);
}
