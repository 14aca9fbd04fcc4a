/* check_series.c - the budget of new metric names: at most N new names in
 * any 60 s (a seeded random schedule checked against a sliding window),
 * known names always pass, deferred names are counted (distinct per flush
 * in waiting), a packet that was not sent gives its budget back, names
 * are forgotten after HW_SERIES_TTL_S, a full table defers instead of
 * growing, and a reload changes the budget keeping what is known. */
#include <check.h>

#include "runner.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "heapwatch/series.h"

#define S_NS 1000000000ull

static int admit(struct hw_series *s, const char *name, uint64_t now)
{
	return hw_series_admit(s, name, strlen(name), now);
}

/* Names "<stem><i>" for i in [from, from + n): how many were admitted. */
static int admit_n(struct hw_series *s, const char *stem, int from, int n,
		   uint64_t now)
{
	char name[64];
	int ok = 0;

	for (int i = from; i < from + n; i++) {
		snprintf(name, sizeof name, "%s%d", stem, i);
		ok += hw_series_admit(s, name, strlen(name), now);
	}
	return ok;
}

START_TEST(test_budget_per_minute)
{
	struct hw_err e;
	struct hw_series *s = hw_series_new(40, &e);
	struct hw_series_stats st;
	uint64_t t0 = 1000 * S_NS;

	ck_assert_ptr_nonnull(s);
	/* 50 new names at once: 40 go, 10 wait */
	ck_assert_int_eq(admit_n(s, "a.w0.types.t", 0, 50, t0), 40);
	hw_series_done(s, 1);
	hw_series_flush_end(s, t0);
	hw_series_get_stats(s, &st);
	ck_assert_uint_eq(st.new_names, 40);
	ck_assert_uint_eq(st.deferred, 10);
	ck_assert_uint_eq(st.waiting, 10);
	/* the 40 are known: they go whatever the budget */
	ck_assert_int_eq(admit_n(s, "a.w0.types.t", 0, 40, t0 + S_NS), 40);
	/* the other 10 are held again just before the minute is over */
	ck_assert_int_eq(admit_n(s, "a.w0.types.t", 40, 10, t0 + 59 * S_NS), 0);
	ck_assert_int_eq(admit_n(s, "a.w0.types.t", 40, 10, t0 + 59 * S_NS + 999999999), 0);
	hw_series_flush_end(s, t0 + 59 * S_NS);
	hw_series_get_stats(s, &st);
	ck_assert_uint_eq(st.deferred, 30);
	ck_assert_uint_eq(st.waiting, 10);      /* distinct names, per flush */
	/* a minute after the first ones: they go */
	ck_assert_int_eq(admit_n(s, "a.w0.types.t", 40, 10, t0 + 60 * S_NS), 10);
	hw_series_done(s, 1);
	hw_series_flush_end(s, t0 + 60 * S_NS);
	hw_series_get_stats(s, &st);
	ck_assert_uint_eq(st.new_names, 50);
	ck_assert_uint_eq(st.waiting, 0);
	ck_assert_uint_eq(st.known, 50);
	ck_assert_uint_eq(st.full, 0);
	hw_series_free(s);
	hw_series_free(NULL);
}
END_TEST

START_TEST(test_bad_budget)
{
	struct hw_err e;
	struct hw_series *s;

	hw_err_clear(&e);
	ck_assert_ptr_null(hw_series_new(0, &e));
	ck_assert_int_eq(e.code, HW_ECONFIG);
	ck_assert_ptr_null(hw_series_new(HW_SERIES_BUDGET_MAX + 1, &e));
	s = hw_series_new(HW_SERIES_BUDGET_MAX, &e);
	ck_assert_ptr_nonnull(s);
	ck_assert_int_eq(hw_series_set_budget(s, 0, &e), -1);
	ck_assert_int_eq(e.code, HW_ECONFIG);
	hw_series_free(s);
}
END_TEST

/* A packet that could not be sent: its new names are new again and their
 * place in the budget is back; known names stay known. */
START_TEST(test_unsent_gives_back)
{
	struct hw_err e;
	struct hw_series *s = hw_series_new(5, &e);
	struct hw_series_stats st;
	uint64_t t = 50 * S_NS;

	ck_assert_int_eq(admit_n(s, "k", 0, 2, t), 2);
	hw_series_done(s, 1);
	ck_assert_int_eq(admit_n(s, "n", 0, 3, t), 3);    /* budget now spent */
	ck_assert_int_eq(admit(s, "k0", t), 1);
	ck_assert_int_eq(admit(s, "x", t), 0);
	hw_series_done(s, 0);                               /* statsd refused */
	hw_series_get_stats(s, &st);
	ck_assert_uint_eq(st.new_names, 2);
	ck_assert_uint_eq(st.known, 3);                     /* k0 k1, x waits */
	/* the three are admitted again, and x with them: the budget is back */
	ck_assert_int_eq(admit_n(s, "n", 0, 3, t + S_NS), 3);
	ck_assert_int_eq(admit(s, "k1", t + S_NS), 1);
	hw_series_done(s, 1);
	ck_assert_int_eq(admit(s, "x", t + S_NS), 0);       /* 2 + 3 = 5 */
	hw_series_get_stats(s, &st);
	ck_assert_uint_eq(st.new_names, 5);
	hw_series_free(s);
}
END_TEST

/* Whatever the schedule, no 60 s window holds more than the budget of
 * names admitted and sent, and a name is never refused while fewer went
 * in the last 60 s. */
START_TEST(test_sliding_window_random)
{
	const unsigned seed = 424242u, budget = 17;
	struct hw_err e;
	struct hw_series *s = hw_series_new(budget, &e);
	uint64_t *sent = calloc(100000, sizeof *sent);
	size_t nsent = 0;
	uint64_t t = 7 * S_NS;
	int next_name = 0;

	printf("check_series: seed %u\n", seed);
	srand(seed);
	for (int step = 0; step < 20000; step++) {
		char name[32];
		size_t in_window = 0;
		int sent_ok = rand() % 10 != 0;     /* 1 in 10 packets lost */
		int ok;

		t += (uint64_t)(rand() % 3000) * 1000000u;   /* 0..3 s */
		snprintf(name, sizeof name, "n%d", next_name);
		for (size_t i = nsent; i > 0 && t - sent[i - 1] < 60 * S_NS; i--)
			in_window++;
		ok = admit(s, name, t);
		if (ok != (in_window < budget))
			ck_abort_msg("step %d: admitted %d with %zu in the window", step, ok,
				     in_window);
		hw_series_done(s, sent_ok);
		if (ok && sent_ok) {
			sent[nsent++] = t;
			next_name++;
		}
	}
	ck_assert_uint_gt(nsent, 1000);
	hw_series_free(s);
	free(sent);
}
END_TEST

START_TEST(test_forgotten_after_ttl)
{
	struct hw_err e;
	struct hw_series *s = hw_series_new(3, &e);
	struct hw_series_stats st;
	uint64_t t = 100 * S_NS;

	ck_assert_int_eq(admit_n(s, "old", 0, 3, t), 3);
	hw_series_done(s, 1);
	hw_series_flush_end(s, t);
	/* old0 is still sent now and then, old1 and old2 are not */
	for (int m = 1; m <= 70; m++) {
		ck_assert_int_eq(admit(s, "old0", t + (uint64_t)m * 60 * S_NS), 1);
		hw_series_done(s, 1);
		hw_series_flush_end(s, t + (uint64_t)m * 60 * S_NS);
	}
	hw_series_get_stats(s, &st);
	ck_assert_uint_eq(st.known, 1);
	/* old1 is new again (and costs budget) */
	ck_assert_int_eq(admit(s, "old1", t + 71 * 60 * S_NS), 1);
	hw_series_done(s, 1);
	hw_series_get_stats(s, &st);
	ck_assert_uint_eq(st.new_names, 4);
	hw_series_free(s);
}
END_TEST

/* The table never grows: past its limit new names wait and are counted
 * as full; known names still go.  Then the TTL frees room. */
START_TEST(test_full_table)
{
	struct hw_err e;
	struct hw_series *s = hw_series_new(HW_SERIES_BUDGET_MAX, &e);
	struct hw_series_stats st;
	uint64_t t = 10 * S_NS;
	int admitted = 0, i;
	char name[32];

	for (i = 0; i < HW_SERIES_CAPACITY; i++) {
		snprintf(name, sizeof name, "fill.%d", i);
		admitted += admit(s, name, t + (uint64_t)(i / HW_SERIES_BUDGET_MAX) * 61 * S_NS);
		hw_series_done(s, 1);
	}
	hw_series_get_stats(s, &st);
	ck_assert_uint_eq(st.known, HW_SERIES_CAPACITY / 8 * 7);
	ck_assert_uint_eq((unsigned)admitted, HW_SERIES_CAPACITY / 8 * 7);
	ck_assert_uint_eq(st.full, HW_SERIES_CAPACITY / 8);
	ck_assert_int_eq(admit(s, "fill.0", t), 1);
	ck_assert_int_eq(admit(s, "fill.57343", t), 1);
	/* every lookup still ends: a name absent from a nearly full table */
	ck_assert_int_eq(admit(s, "absent", t), 0);
	/* an hour and more later, the sweep empties it */
	hw_series_flush_end(s, t + (HW_SERIES_TTL_S + 120) * S_NS);
	hw_series_get_stats(s, &st);
	ck_assert_uint_eq(st.known, 0);
	ck_assert_int_eq(admit(s, "absent", t + (HW_SERIES_TTL_S + 121) * S_NS), 1);
	hw_series_free(s);
}
END_TEST

/* Deleting from the middle of probe runs keeps every other name
 * reachable (backward-shift deletion): many names, half forgotten. */
START_TEST(test_erase_keeps_others)
{
	struct hw_err e;
	struct hw_series *s = hw_series_new(HW_SERIES_BUDGET_MAX, &e);
	struct hw_series_stats st;
	uint64_t t0 = 10 * S_NS, t1 = t0 + 2000 * S_NS;
	char name[32];

	for (int i = 0; i < 40000; i++) {
		snprintf(name, sizeof name, "n.%d", i);
		ck_assert(admit(s, name, i % 2 ? t1 : t0));
		hw_series_done(s, 1);
	}
	/* the even ones (seen at t0) expire, the odd ones (t1) stay */
	hw_series_flush_end(s, t0 + (HW_SERIES_TTL_S + 1) * S_NS);
	hw_series_get_stats(s, &st);
	ck_assert_uint_eq(st.known, 20000);
	for (int i = 1; i < 40000; i += 2) {
		snprintf(name, sizeof name, "n.%d", i);
		if (!admit(s, name, t1 + 3 * 60 * S_NS))
			ck_abort_msg("%s lost", name);
	}
	hw_series_get_stats(s, &st);
	ck_assert_uint_eq(st.new_names, 40000);    /* none was new again */
	hw_series_free(s);
}
END_TEST

START_TEST(test_set_budget)
{
	struct hw_err e;
	struct hw_series *s = hw_series_new(10, &e);
	uint64_t t = 5 * S_NS;

	ck_assert_int_eq(admit_n(s, "a", 0, 8, t), 8);
	hw_series_done(s, 1);
	/* down to 5: the 8 of this minute hold the window */
	ck_assert_int_eq(hw_series_set_budget(s, 5, &e), 0);
	ck_assert_int_eq(admit(s, "b", t + S_NS), 0);
	ck_assert_int_eq(admit(s, "a3", t + S_NS), 1);
	/* up to 20: 12 more this minute */
	ck_assert_int_eq(hw_series_set_budget(s, 20, &e), 0);
	ck_assert_int_eq(admit_n(s, "c", 0, 20, t + 2 * S_NS), 15);
	hw_series_done(s, 1);
	ck_assert_int_eq(hw_series_set_budget(s, 20, &e), 0);
	hw_series_free(s);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("series");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_budget_per_minute);
	tcase_add_test(tc, test_bad_budget);
	tcase_add_test(tc, test_unsent_gives_back);
	tcase_add_test(tc, test_sliding_window_random);
	tcase_add_test(tc, test_forgotten_after_ttl);
	tcase_add_test(tc, test_full_table);
	tcase_add_test(tc, test_erase_keeps_others);
	tcase_add_test(tc, test_set_budget);
	suite_add_tcase(s, tc);
	return hw_run_suite(s);
}
