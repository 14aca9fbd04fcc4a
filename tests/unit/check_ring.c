/* check_ring.c - the sample ring and sample copies: order, wraparound,
 * drop counting, pop, capacity 1, type truncation, and no allocation after
 * hw_ring_new(, NULL). */
#include <check.h>

#include "runner.h"
#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "heapwatch/ring.h"
#include "heapwatch/sample.h"

#define NT 8

static struct hw_sample_type tbuf[NT];

/* A sample whose figures all derive from id, so a copy can be checked. */
static void mk(struct hw_sample *s, int id, uint32_t ntypes)
{
	memset(s, 0, sizeof *s);
	snprintf(s->target, sizeof s->target, "t%d", id);
	s->pid = id;
	s->starttime = 1000u + (unsigned)id;
	s->wall_ms = 5000 + id;
	s->ok = 1;
	s->rss = 100 * id;
	s->pss = s->uss = s->swap = -1;
	s->gc_objects = 7u * (unsigned)id;
	s->types = tbuf;
	s->cap_types = NT;
	s->ntypes = ntypes;
	for (uint32_t i = 0; i < ntypes; i++) {
		snprintf(tbuf[i].name, sizeof tbuf[i].name, "type%d_%u", id, i);
		tbuf[i].count = (uint64_t)id * 10 + i;
	}
}

static void expect(const struct hw_sample *s, int id, uint32_t ntypes)
{
	char name[32];

	ck_assert_ptr_nonnull(s);
	ck_assert_int_eq(s->pid, id);
	ck_assert_str_eq(s->target, (snprintf(name, sizeof name, "t%d", id), name));
	ck_assert_uint_eq(s->starttime, 1000u + (unsigned)id);
	ck_assert_int_eq(s->rss, 100 * id);
	ck_assert_int_eq(s->pss, -1);
	ck_assert_uint_eq(s->gc_objects, 7u * (unsigned)id);
	ck_assert_uint_eq(s->ntypes, ntypes);
	for (uint32_t i = 0; i < ntypes; i++) {
		snprintf(name, sizeof name, "type%d_%u", id, i);
		ck_assert_str_eq(s->types[i].name, name);
		ck_assert_uint_eq(s->types[i].count, (uint64_t)id * 10 + i);
	}
}

START_TEST(test_order_and_wraparound)
{
	struct hw_ring *r = hw_ring_new(3, 4, NULL);
	struct hw_sample s;

	ck_assert_ptr_nonnull(r);
	ck_assert_uint_eq(hw_ring_capacity(r), 3);
	ck_assert_uint_eq(hw_ring_len(r), 0);
	ck_assert_ptr_null(hw_ring_peek(r, 0));
	for (int i = 1; i <= 2; i++) {
		mk(&s, i, 2);
		hw_ring_push(r, &s);
	}
	ck_assert_uint_eq(hw_ring_len(r), 2);
	ck_assert_uint_eq(hw_ring_dropped(r), 0);
	expect(hw_ring_peek(r, 0), 1, 2);
	expect(hw_ring_peek(r, 1), 2, 2);
	ck_assert_ptr_null(hw_ring_peek(r, 2));

	/* 3 fills it; 4 and 5 overwrite the two oldest */
	for (int i = 3; i <= 5; i++) {
		mk(&s, i, 2);
		hw_ring_push(r, &s);
	}
	ck_assert_uint_eq(hw_ring_len(r), 3);
	ck_assert_uint_eq(hw_ring_dropped(r), 2);
	for (int i = 0; i < 3; i++)
		expect(hw_ring_peek(r, (size_t)i), 3 + i, 2);
	ck_assert_ptr_null(hw_ring_peek(r, 3));

	/* many turns round the ring: always the newest three, in order */
	for (int i = 6; i <= 100; i++) {
		mk(&s, i, (uint32_t)(i % 5));
		hw_ring_push(r, &s);
	}
	ck_assert_uint_eq(hw_ring_dropped(r), 97);
	for (int i = 0; i < 3; i++) {
		int id = 98 + i;

		expect(hw_ring_peek(r, (size_t)i), id, (uint32_t)(id % 5 < 4 ? id % 5 : 4));
	}
	hw_ring_free(r);
	hw_ring_free(NULL);
}
END_TEST

START_TEST(test_pop)
{
	struct hw_ring *r = hw_ring_new(3, 2, NULL);
	struct hw_sample s;

	hw_ring_pop(r, 1);      /* empty: nothing happens */
	ck_assert_uint_eq(hw_ring_len(r), 0);
	for (int i = 1; i <= 3; i++) {
		mk(&s, i, 1);
		hw_ring_push(r, &s);
	}
	hw_ring_pop(r, 1);
	ck_assert_uint_eq(hw_ring_len(r), 2);
	expect(hw_ring_peek(r, 0), 2, 1);
	/* room again: no drop */
	mk(&s, 4, 1);
	hw_ring_push(r, &s);
	ck_assert_uint_eq(hw_ring_dropped(r), 0);
	mk(&s, 5, 1);
	hw_ring_push(r, &s);
	ck_assert_uint_eq(hw_ring_dropped(r), 1);
	expect(hw_ring_peek(r, 0), 3, 1);
	expect(hw_ring_peek(r, 2), 5, 1);
	hw_ring_pop(r, 2);
	expect(hw_ring_peek(r, 0), 5, 1);
	hw_ring_pop(r, 10);   /* more than held: all */
	ck_assert_uint_eq(hw_ring_len(r), 0);
	ck_assert_ptr_null(hw_ring_peek(r, 0));
	/* popped samples are not dropped ones */
	ck_assert_uint_eq(hw_ring_dropped(r), 1);
	mk(&s, 6, 1);
	hw_ring_push(r, &s);
	expect(hw_ring_peek(r, 0), 6, 1);
	hw_ring_free(r);
}
END_TEST

START_TEST(test_capacity_one)
{
	struct hw_ring *r = hw_ring_new(1, 3, NULL);
	struct hw_sample s;

	ck_assert_ptr_nonnull(r);
	mk(&s, 1, 3);
	hw_ring_push(r, &s);
	expect(hw_ring_peek(r, 0), 1, 3);
	mk(&s, 2, 3);
	hw_ring_push(r, &s);
	ck_assert_uint_eq(hw_ring_len(r), 1);
	ck_assert_uint_eq(hw_ring_dropped(r), 1);
	expect(hw_ring_peek(r, 0), 2, 3);
	hw_ring_pop(r, 1);
	ck_assert_uint_eq(hw_ring_len(r), 0);
	hw_ring_free(r);

	{
		struct hw_err e;

		hw_err_clear(&e);
		ck_assert_ptr_null(hw_ring_new(0, 3, &e));
		ck_assert_int_eq(e.code, HW_EUSAGE);
		ck_assert_str_eq(e.msg, "a ring of 0 samples");
		hw_err_clear(&e);
		ck_assert_ptr_null(hw_ring_new(SIZE_MAX / 2, 1000, &e));
		ck_assert_int_eq(e.code, HW_ENOMEM);
		ck_assert_msg(strstr(e.msg, "too large"), "%s", e.msg);
		hw_err_clear(&e);
		ck_assert_ptr_null(hw_ring_new_pool(SIZE_MAX / 8, 1, 1, &e));
		ck_assert_int_eq(e.code, HW_ENOMEM);
		/* and without an error struct */
		ck_assert_ptr_null(hw_ring_new(0, 3, NULL));
	}
}
END_TEST

START_TEST(test_copy_is_a_copy)
{
	struct hw_ring *r = hw_ring_new(2, NT, NULL);
	struct hw_sample s;

	mk(&s, 1, 3);
	hw_ring_push(r, &s);
	/* the caller reuses its buffers: the ring keeps its own copy */
	mk(&s, 2, 5);
	expect(hw_ring_peek(r, 0), 1, 3);
	ck_assert_ptr_ne(hw_ring_peek(r, 0)->types, tbuf);
	ck_assert_uint_eq(hw_ring_peek(r, 0)->cap_types, 3);   /* its types only */
	hw_ring_free(r);
}
END_TEST

START_TEST(test_type_truncation)
{
	struct hw_ring *r = hw_ring_new(2, 2, NULL);
	struct hw_ring *r0 = hw_ring_new(2, 0, NULL);
	struct hw_sample s;
	const struct hw_sample *p;

	mk(&s, 1, 5);
	/* a name filling its array without a NUL */
	memset(tbuf[1].name, 'x', sizeof tbuf[1].name);
	hw_ring_push(r, &s);
	p = hw_ring_peek(r, 0);
	ck_assert_uint_eq(p->ntypes, 2);      /* the first two, of five */
	ck_assert_uint_eq(p->cap_types, 2);
	ck_assert_str_eq(p->types[0].name, "type1_0");
	ck_assert_uint_eq(strlen(p->types[1].name), HW_SAMPLE_NAME_MAX - 1);
	ck_assert_uint_eq(p->types[1].count, 11);

	/* a ring without types still keeps the figures */
	mk(&s, 2, 5);
	hw_ring_push(r0, &s);
	p = hw_ring_peek(r0, 0);
	ck_assert_uint_eq(p->ntypes, 0);
	ck_assert_int_eq(p->rss, 200);
	hw_ring_free(r);
	hw_ring_free(r0);

	/* copying a sample onto itself changes nothing */
	mk(&s, 3, 4);
	hw_sample_copy(&s, &s);
	expect(&s, 3, 4);
}
END_TEST

/* Samples of different sizes share the pool: contents survive wraps, the
 * oldest go when the pool (not the slots) is full, and each drop counts. */
START_TEST(test_shared_pool)
{
	struct hw_ring *r = hw_ring_new_pool(64, NT, 20, NULL);
	struct hw_sample s;
	unsigned seed = 777;
	int first = 1, next = 1;
	uint64_t dropped = 0;

	ck_assert_ptr_nonnull(r);
	{
		struct hw_err e;

		ck_assert_ptr_null(hw_ring_new_pool(4, 8, 7, &e));
		ck_assert_int_eq(e.code, HW_EUSAGE);
		ck_assert_str_eq(e.msg, "a ring pool of 7 types cannot hold one sample of 8");
	}
	/* 8 + 8 fit in 20, a third 8 drops the first */
	mk(&s, next++, 8);
	hw_ring_push(r, &s);
	mk(&s, next++, 8);
	hw_ring_push(r, &s);
	ck_assert_uint_eq(hw_ring_dropped(r), 0);
	mk(&s, next++, 8);
	hw_ring_push(r, &s);
	ck_assert_uint_eq(hw_ring_dropped(r), 1);
	ck_assert_uint_eq(hw_ring_len(r), 2);
	expect(hw_ring_peek(r, 0), 2, 8);
	expect(hw_ring_peek(r, 1), 3, 8);
	first = 2;
	dropped = 1;
	/* random sizes, pops now and then: every held sample intact, the
	 * ones missing were dropped, oldest first */
	for (int i = 0; i < 5000; i++) {
		uint32_t nt = (uint32_t)(rand_r(&seed) % (NT + 1));
		size_t len_before = hw_ring_len(r);
		uint64_t d0 = hw_ring_dropped(r);

		mk(&s, next, nt);
		hw_ring_push(r, &s);
		next++;
		first += (int)(hw_ring_dropped(r) - d0);
		dropped = hw_ring_dropped(r);
		ck_assert_uint_eq(hw_ring_len(r), len_before + 1 - (hw_ring_dropped(r) - d0));
		for (size_t k = 0; k < hw_ring_len(r); k++)
			ck_assert_int_eq(hw_ring_peek(r, k)->pid, first + (int)k);
		expect(hw_ring_peek(r, hw_ring_len(r) - 1), next - 1, nt);
		for (size_t k = 0; k < hw_ring_len(r); k++)
			expect(hw_ring_peek(r, k), first + (int)k, hw_ring_peek(r, k)->ntypes);
		if (rand_r(&seed) % 4 == 0) {
			size_t n = hw_ring_len(r) ? (size_t)(rand_r(&seed) % hw_ring_len(r)) : 0;

			hw_ring_pop(r, n);
			first += (int)n;
		}
	}
	ck_assert_uint_gt(dropped, 100);
	hw_ring_free(r);
}
END_TEST

/* Bytes the allocator has handed out (0 under ASan, which replaces
 * malloc: the check is then vacuous). */
static size_t heap_in_use(void)
{
	struct mallinfo2 mi = mallinfo2();

	return mi.uordblks + mi.hblkhd;
}

START_TEST(test_no_alloc_after_new)
{
	struct hw_ring *r = hw_ring_new(16, NT, NULL);
	struct hw_sample s;
	size_t before, seen = 0;

	mk(&s, 1, NT);
	before = heap_in_use();
	for (int i = 0; i < 10000; i++) {
		s.pid = i;
		hw_ring_push(r, &s);
		if (i % 3 == 0) {
			seen += hw_ring_peek(r, 0)->ntypes;
			hw_ring_pop(r, 2);
		}
	}
	ck_assert_uint_eq(heap_in_use(), before);
	ck_assert_uint_gt(seen, 0);
	hw_ring_free(r);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("ring");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_order_and_wraparound);
	tcase_add_test(tc, test_pop);
	tcase_add_test(tc, test_capacity_one);
	tcase_add_test(tc, test_copy_is_a_copy);
	tcase_add_test(tc, test_type_truncation);
	tcase_add_test(tc, test_shared_pool);
	tcase_add_test(tc, test_no_alloc_after_new);
	suite_add_tcase(s, tc);
	return hw_run_suite(s);
}
