/* check_select.c - the series selection: top, growth from the low point,
 * watch patterns, stickiness with zero counts, the cap and its held-back
 * count, the admission budget, aggregates' union, stable indices, and no
 * allocation after the first update. */
#include <check.h>

#include "runner.h"
#include <malloc.h>
#include <stdio.h>
#include <string.h>

#include "heapwatch/select.h"

#define T(n, c) { (n), (c) }

static struct hw_select *mk(unsigned top, unsigned growth, unsigned max,
			    const char *const *watch, size_t nwatch)
{
	struct hw_select_conf c = {
		.top_types = top, .growth_types = growth, .max_types = max,
		.watch = watch, .nwatch = nwatch,
	};
	struct hw_select *s = hw_select_new(&c);

	ck_assert_ptr_nonnull(s);
	return s;
}

static int has(const struct hw_select *s, const char *name)
{
	return hw_select_find(s, name) >= 0;
}

static uint64_t count_of(const struct hw_select *s, const char *name)
{
	long i = hw_select_find(s, name);

	ck_assert_msg(i >= 0, "%s not selected", name);
	return hw_select_count(s, (uint32_t)i);
}

START_TEST(test_top_then_growth_then_sticky)
{
	struct hw_select *s = mk(2, 2, 50, NULL, 0);
	struct hw_census_type c1[] = {
		T("dict", 5000), T("list", 3000), T("tuple", 2000),
		T("app.Session", 10), T("app.Cache", 7),
	};
	struct hw_census_type c2[] = {
		T("tuple", 9000), T("dict", 4990), T("list", 2500),
		T("app.Session", 13), T("app.Cache", 7), T("app.New", 1),
	};
	struct hw_census_type c3[] = {
		T("tuple", 9000), T("dict", 4990), T("list", 2500),
		T("app.Cache", 7),
	};

	/* first census: the top two; nothing has grown yet */
	ck_assert_int_eq(hw_select_update(s, c1, 5, UINT32_MAX), 2);
	ck_assert_str_eq(hw_select_name(s, 0), "dict");
	ck_assert_str_eq(hw_select_name(s, 1), "list");
	ck_assert_uint_eq(hw_select_added(s), 2);
	ck_assert_uint_eq(hw_select_why(s, 0), HW_SELECT_WHY_TOP);

	/* second: tuple grew by 7000, Session by 3, New appeared (+1);
	 * growth_types 2 takes tuple and Session; top is tuple and dict;
	 * list stays (sticky) */
	ck_assert_int_eq(hw_select_update(s, c2, 6, UINT32_MAX), 4);
	ck_assert_str_eq(hw_select_name(s, 2), "tuple");
	ck_assert_str_eq(hw_select_name(s, 3), "app.Session");
	ck_assert_uint_eq(hw_select_why(s, 2), HW_SELECT_WHY_GROWTH | HW_SELECT_WHY_TOP);
	ck_assert_uint_eq(hw_select_rise(s, 3), 3);
	ck_assert(!has(s, "app.New"));
	ck_assert(!has(s, "app.Cache"));
	ck_assert_uint_eq(count_of(s, "list"), 2500);
	ck_assert_uint_eq(hw_select_added(s), 2);
	ck_assert_uint_eq(hw_select_held_back(s), 0);

	/* third: Session is gone from the census: still selected, count 0 */
	ck_assert_int_eq(hw_select_update(s, c3, 4, UINT32_MAX), 4);
	ck_assert_uint_eq(count_of(s, "app.Session"), 0);
	ck_assert_uint_eq(count_of(s, "dict"), 4990);
	ck_assert_str_eq(hw_select_name(s, 0), "dict");   /* stable */
	ck_assert_uint_eq(hw_select_updates(s), 3);
	hw_select_free(s);
	hw_select_free(NULL);
}
END_TEST

START_TEST(test_low_point)
{
	struct hw_select *s = mk(1, 1, 50, NULL, 0);
	struct hw_census_type a[] = { T("big", 100000), T("x", 50), T("y", 40) };
	struct hw_census_type b[] = { T("big", 100000), T("x", 10), T("y", 40) };
	struct hw_census_type c[] = { T("big", 100000), T("y", 40) };
	struct hw_census_type d[] = { T("big", 100000), T("x", 30), T("y", 45) };

	hw_select_update(s, a, 3, UINT32_MAX);
	hw_select_update(s, b, 3, UINT32_MAX);   /* x drops to 10: its low */
	ck_assert(!has(s, "x"));
	hw_select_update(s, c, 2, UINT32_MAX);   /* x absent: low 0 */
	/* x came back at 30, above its low 0 (absent in between): +30 beats
	 * y's +5 */
	hw_select_update(s, d, 3, UINT32_MAX);
	ck_assert(has(s, "x"));
	ck_assert_uint_eq(hw_select_rise(s, (uint32_t)hw_select_find(s, "x")), 30);
	ck_assert(!has(s, "y"));
	hw_select_free(s);
}
END_TEST

START_TEST(test_watch)
{
	const char *const watch[] = { "myapp.*", "lxml.etree._Element" };
	struct hw_select *s = mk(1, 0, 50, watch, 2);
	struct hw_census_type c[] = {
		T("dict", 900), T("myapp.Session", 3), T("myapp.models.User", 2),
		T("lxml.etree._Element", 1), T("lxml.etree._ElementTree", 1),
		T("notmyapp.X", 5),
	};

	ck_assert_int_eq(hw_select_update(s, c, 6, UINT32_MAX), 4);
	ck_assert(has(s, "dict"));
	ck_assert(has(s, "myapp.Session"));
	ck_assert(has(s, "myapp.models.User"));   /* '*' crosses dots */
	ck_assert(has(s, "lxml.etree._Element"));
	ck_assert(!has(s, "lxml.etree._ElementTree"));
	ck_assert(!has(s, "notmyapp.X"));
	ck_assert_uint_eq(hw_select_why(s, (uint32_t)hw_select_find(s, "myapp.Session")),
			  HW_SELECT_WHY_WATCH);
	ck_assert(hw_select_watched(&(struct hw_select_conf){ .watch = watch, .nwatch = 2 },
				    "myapp.a"));
	hw_select_free(s);
}
END_TEST

START_TEST(test_cap_and_budget)
{
	struct hw_select *s = mk(3, 2, 3, NULL, 0);
	struct hw_census_type a[] = { T("a", 100), T("b", 90), T("c", 80), T("d", 70), T("e", 1) };
	struct hw_census_type b[] = { T("a", 100), T("b", 90), T("c", 80), T("d", 70), T("e", 9),
				      T("f", 5) };

	ck_assert_int_eq(hw_select_update(s, a, 5, UINT32_MAX), 3);
	ck_assert_uint_eq(hw_select_held_back(s), 0);
	/* e and f grew but the cap is full: held back, each once */
	ck_assert_int_eq(hw_select_update(s, b, 6, UINT32_MAX), 3);
	ck_assert_uint_eq(hw_select_held_back(s), 2);
	ck_assert(!has(s, "e"));
	hw_select_free(s);

	/* growth is admitted before top when room is short */
	s = mk(3, 2, 4, NULL, 0);
	hw_select_update(s, a, 5, UINT32_MAX);
	hw_select_update(s, b, 6, UINT32_MAX);
	ck_assert(has(s, "e"));     /* +8, the largest rise */
	ck_assert(!has(s, "f"));
	ck_assert_uint_eq(hw_select_held_back(s), 1);
	hw_select_free(s);

	/* a budget of new names per update */
	s = mk(3, 0, 50, NULL, 0);
	ck_assert_int_eq(hw_select_update(s, a, 5, 2), 2);
	ck_assert_uint_eq(hw_select_held_back(s), 1);
	ck_assert_int_eq(hw_select_update(s, a, 5, 2), 3);
	ck_assert_uint_eq(hw_select_added(s), 1);
	ck_assert_str_eq(hw_select_name(s, 2), "c");
	hw_select_free(s);
}
END_TEST

START_TEST(test_union)
{
	struct hw_select_conf c = { .max_types = 3, .union_all = 1 };
	struct hw_select *s = hw_select_new(&c);
	struct hw_census_type a[] = { T("a", 10), T("b", 5) };
	struct hw_census_type b[] = { T("c", 50), T("a", 1), T("d", 4) };

	ck_assert_int_eq(hw_select_update(s, a, 2, UINT32_MAX), 2);
	ck_assert_int_eq(hw_select_update(s, b, 3, UINT32_MAX), 3);
	ck_assert(has(s, "c"));
	ck_assert(!has(s, "d"));
	ck_assert_uint_eq(hw_select_held_back(s), 1);
	ck_assert_uint_eq(count_of(s, "b"), 0);
	ck_assert_uint_eq(count_of(s, "a"), 1);
	hw_select_free(s);
}
END_TEST

START_TEST(test_names_and_repeats)
{
	struct hw_select *s = mk(5, 0, 50, NULL, 0);
	char long1[300], long2[300];
	struct hw_census_type c[3];

	memset(long1, 'x', sizeof long1);
	long1[299] = '\0';
	memcpy(long2, long1, sizeof long2);
	long2[200] = 'y';          /* differs after the cut: the same type */
	c[0] = (struct hw_census_type){ long1, 7 };
	c[1] = (struct hw_census_type){ long2, 3 };
	c[2] = (struct hw_census_type){ "dup", 1 };
	ck_assert_int_eq(hw_select_update(s, c, 3, UINT32_MAX), 2);
	ck_assert_uint_eq(strlen(hw_select_name(s, 0)), HW_SAMPLE_NAME_MAX - 1);
	ck_assert_uint_eq(hw_select_count(s, 0), 7);
	ck_assert_int_eq(hw_select_find(s, long2), 0);
	ck_assert_ptr_null(hw_select_name(s, 2));
	ck_assert_int_eq(hw_select_find(s, "nope"), -1);
	hw_select_free(s);

	struct hw_select_conf bad = { .max_types = 0 };

	ck_assert_ptr_null(hw_select_new(&bad));
}
END_TEST

static size_t heap_in_use(void)
{
	struct mallinfo2 mi = mallinfo2();

	return mi.uordblks + mi.hblkhd;
}

START_TEST(test_no_alloc_after_first_update)
{
	const char *const watch[] = { "t1*" };
	struct hw_select *s = mk(20, 20, 200, watch, 1);
	static struct hw_census_type c[3000];
	static char names[3000][16];
	size_t before;

	for (int i = 0; i < 3000; i++) {
		snprintf(names[i], sizeof names[i], "t%d", i);
		c[i].name = names[i];
		c[i].count = (uint64_t)(3000 - i);
	}
	hw_select_update(s, c, 3000, UINT32_MAX);
	before = heap_in_use();
	for (int round = 0; round < 50; round++) {
		for (int i = 0; i < 3000; i++)
			c[i].count += (uint64_t)((i * 7 + round) % 5);
		hw_select_update(s, c, 3000, UINT32_MAX);
	}
	ck_assert_uint_eq(heap_in_use(), before);
	ck_assert_uint_eq(hw_select_len(s), 200);
	ck_assert_uint_gt(hw_select_held_back(s), 0);
	hw_select_free(s);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("select");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_top_then_growth_then_sticky);
	tcase_add_test(tc, test_low_point);
	tcase_add_test(tc, test_watch);
	tcase_add_test(tc, test_cap_and_budget);
	tcase_add_test(tc, test_union);
	tcase_add_test(tc, test_names_and_repeats);
	tcase_add_test(tc, test_no_alloc_after_first_update);
	suite_add_tcase(s, tc);
	return hw_run_suite(s);
}
