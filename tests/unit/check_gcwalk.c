/* check_gcwalk.c - the GC-list walker and type namer on synthetic heaps:
 * exact counts and names, every flavour of corruption ending in a clear
 * error, snapshots that lack pages, and the 2.7 / 3.11 / 3.14.0 layouts. */
#include <check.h>

#include "runner.h"
#include <string.h>

#include "heapwatch/gcwalk.h"
#include "heapwatch/snap.h"
#include "heapwatch/typename.h"
#include "synth.h"

struct fixture {
	struct synth h;
	struct hw_mem *m;
	struct hw_snap *s;
	struct hw_typecount tc;
	struct hw_walk_stats st;
	struct hw_gcroots r;
	struct hw_err e;
};

static void fx_open(struct fixture *f)
{
	f->m = synth_mem(&f->h);
	f->s = hw_snap_new(f->m, 0, NULL);
	hw_typecount_init(&f->tc);
	memset(&f->r, 0, sizeof f->r);
	if (f->h.o.interp_gc >= 0)
		f->r.runtime_addr = f->h.runtime;
	else
		f->r.gen0_ptr_addr = f->h.runtime;
	hw_err_clear(&f->e);
}

static void fx_close(struct fixture *f)
{
	hw_typecount_fini(&f->tc);
	hw_snap_free(f->s);
	hw_mem_free(f->m);
	synth_fini(&f->h);
}

static int walk(struct fixture *f)
{
	hw_typecount_clear(&f->tc);
	return hw_gc_walk(f->s, &f->h.o, &f->r, NULL, &f->tc, &f->st, &f->e);
}

static uint64_t count_of(struct fixture *f, uint64_t type)
{
	for (size_t i = 0; i < f->tc.cap; i++)
		if (f->tc.type[i] == type)
			return f->tc.count[i];
	return 0;
}

static void name_is(struct fixture *f, uint64_t type, const char *want)
{
	char buf[HW_TYPENAME_MAX];

	ck_assert_msg(hw_type_name(f->s, &f->h.o, type, buf, sizeof buf, &f->e) == 0,
		      "naming failed: %s", f->e.msg);
	ck_assert_str_eq(buf, want);
}

/* A heap with every list populated and every naming case. */
static void populate(struct fixture *f, uint64_t *tm, uint64_t *td)
{
	*tm = synth_type(&f->h, "Marker", 1, "Outer.Marker", "app.models");
	*td = f->h.dict_type;
	for (int i = 0; i < 100; i++)
		synth_obj(&f->h, *tm, i % 3);
	for (int i = 0; i < 7; i++)
		synth_obj(&f->h, *td, 2);
	if (f->h.heads[3])
		for (int i = 0; i < 5; i++)
			synth_obj(&f->h, *td, 3);
}

static void exact_counts(const struct hw_offsets *o, uint64_t flag_next)
{
	struct fixture f;
	uint64_t tm, td;

	synth_init(&f.h, o, 1 << 20);
	f.h.flag_next = flag_next;
	populate(&f, &tm, &td);
	fx_open(&f);
	ck_assert_msg(walk(&f) == 0, "walk: %s", f.e.msg);
	ck_assert_uint_eq(count_of(&f, tm), 100);
	ck_assert_uint_eq(count_of(&f, td), f.h.heads[3] ? 12 : 7);
	ck_assert_uint_eq(f.st.objects, f.h.heads[3] ? 112 : 107);
	ck_assert_uint_eq(f.st.per_list[0], 34);
	name_is(&f, tm, "app.models.Outer.Marker");
	name_is(&f, td, "dict");
	fx_close(&f);
}

START_TEST(test_311_exact) { struct hw_offsets o; synth_layout_311(&o); exact_counts(&o, 0); }
END_TEST
START_TEST(test_3140_exact)
{
	struct hw_offsets o;

	/* 3.14.0-3.14.4: bit 0 of every object's _gc_next is the old-space
	 * bit, set at all times (pycore_gc.h _PyGC_NEXT_MASK_OLD_SPACE_1). */
	synth_layout_3140(&o);
	exact_counts(&o, 1);
}
END_TEST
START_TEST(test_27_exact) { struct hw_offsets o; synth_layout_27(&o); exact_counts(&o, 0); }
END_TEST

START_TEST(test_names)
{
	struct fixture f;
	struct hw_offsets o;
	uint64_t a, b, c, d, u;

	synth_layout_311(&o);
	synth_init(&f.h, &o, 1 << 20);
	a = synth_type(&f.h, "Inner", 1, "Outer.Inner", "__main__");
	b = synth_type(&f.h, "NoMod", 1, "NoMod", NULL);
	c = synth_type(&f.h, "B", 1, "B", "builtins");
	d = synth_type(&f.h, "collections.OrderedDict", 0, NULL, NULL);
	u = synth_type(&f.h, "x", 1, "\xc3\x89t\xc3\xa9\xe4\xb8\xad", "m\xc3\xb6" "d");
	fx_open(&f);
	name_is(&f, a, "__main__.Outer.Inner");
	name_is(&f, b, "NoMod");
	name_is(&f, c, "B");
	name_is(&f, d, "collections.OrderedDict");
	name_is(&f, u, "m\xc3\xb6" "d.\xc3\x89t\xc3\xa9\xe4\xb8\xad");
	fx_close(&f);
}
END_TEST

/* The per-object visitor sees every object once, with its type and list,
 * in list order; a visitor's error stops the walk with that error. */
struct seen { uint64_t n, first, per_list[4]; int fail_at; };

static int visit(void *arg, uint64_t obj, uint64_t type, unsigned list,
		 struct hw_err *e)
{
	struct seen *v = arg;

	if (!v->n)
		v->first = obj;
	v->n++;
	if (list < 4)
		v->per_list[list]++;
	(void)type;
	if (v->fail_at && v->n == (uint64_t)v->fail_at)
		return hw_err_set(e, HW_ECORRUPT, 0, "visitor says no");
	return 0;
}

START_TEST(test_visitor)
{
	struct fixture f;
	struct hw_offsets o;
	struct hw_walk_opts wo;
	struct seen v;
	uint64_t tm, td;

	synth_layout_311(&o);
	synth_init(&f.h, &o, 1 << 20);
	populate(&f, &tm, &td);
	fx_open(&f);
	memset(&v, 0, sizeof v);
	memset(&wo, 0, sizeof wo);
	wo.visit = visit;
	wo.visit_arg = &v;
	ck_assert_msg(hw_gc_walk(f.s, &f.h.o, &f.r, &wo, &f.tc, &f.st, &f.e) == 0,
		      "walk: %s", f.e.msg);
	ck_assert_uint_eq(v.n, f.st.objects);
	for (int i = 0; i < 4; i++)
		ck_assert_uint_eq(v.per_list[i], f.st.per_list[i]);
	/* the first object of generation 0 is the head's successor */
	ck_assert_uint_eq(synth_head(&f.h, v.first), synth_r64(&f.h, f.h.heads[0]));
	memset(&v, 0, sizeof v);
	v.fail_at = 5;
	hw_typecount_clear(&f.tc);
	ck_assert_int_eq(hw_gc_walk(f.s, &f.h.o, &f.r, &wo, &f.tc, &f.st, &f.e), -1);
	ck_assert_int_eq(f.e.code, HW_ECORRUPT);
	ck_assert_msg(strstr(f.e.msg, "visitor says no"), "%s", f.e.msg);
	fx_close(&f);
}
END_TEST

/* Corruptions: each gives an error, never a crash, hang or count. */
START_TEST(test_broken_backlink)
{
	struct fixture f;
	struct hw_offsets o;
	uint64_t t, x;

	synth_layout_311(&o);
	synth_init(&f.h, &o, 1 << 20);
	t = synth_type(&f.h, "T", 0, NULL, NULL);
	synth_obj(&f.h, t, 0);
	x = synth_obj(&f.h, t, 0);
	synth_obj(&f.h, t, 0);
	synth_w64(&f.h, synth_head(&f.h, x) + 8, 0x10000010);
	fx_open(&f);
	ck_assert_int_eq(walk(&f), -1);
	ck_assert_int_eq(f.e.code, HW_ECORRUPT);
	ck_assert_msg(strstr(f.e.msg, "points back"), "%s", f.e.msg);
	fx_close(&f);
}
END_TEST

START_TEST(test_cycle_without_head)
{
	struct fixture f;
	struct hw_offsets o;
	uint64_t t, x, y;

	synth_layout_311(&o);
	synth_init(&f.h, &o, 1 << 20);
	t = synth_type(&f.h, "T", 0, NULL, NULL);
	x = synth_obj(&f.h, t, 1);
	y = synth_obj(&f.h, t, 1);
	/* y.next = x: the list loops without returning to its head. */
	synth_w64(&f.h, synth_head(&f.h, y), synth_head(&f.h, x));
	fx_open(&f);
	ck_assert_int_eq(walk(&f), -1);
	ck_assert_int_eq(f.e.code, HW_ECORRUPT);
	fx_close(&f);
}
END_TEST

START_TEST(test_self_loop_consistent)
{
	/* A node whose next and prev both point to itself: consistent
	 * back-links, never returns to the head; the back-link check of the
	 * second step must stop it. */
	struct fixture f;
	struct hw_offsets o;
	uint64_t t, x, g;

	synth_layout_311(&o);
	synth_init(&f.h, &o, 1 << 20);
	t = synth_type(&f.h, "T", 0, NULL, NULL);
	x = synth_obj(&f.h, t, 0);
	g = synth_head(&f.h, x);
	synth_w64(&f.h, g, g);
	fx_open(&f);
	ck_assert_int_eq(walk(&f), -1);
	ck_assert_int_eq(f.e.code, HW_ECORRUPT);
	fx_close(&f);
}
END_TEST

START_TEST(test_unmapped_pointer)
{
	struct fixture f;
	struct hw_offsets o;
	uint64_t t, x;

	synth_layout_311(&o);
	synth_init(&f.h, &o, 1 << 20);
	t = synth_type(&f.h, "T", 0, NULL, NULL);
	x = synth_obj(&f.h, t, 0);
	synth_w64(&f.h, synth_head(&f.h, x), 0x7f0000000000ull);
	fx_open(&f);
	ck_assert_int_eq(walk(&f), -1);
	ck_assert_int_eq(f.e.code, HW_EIO);
	ck_assert_msg(strstr(f.e.msg, "generation 0"), "%s", f.e.msg);
	fx_close(&f);
}
END_TEST

START_TEST(test_misaligned_and_null)
{
	struct fixture f;
	struct hw_offsets o;
	uint64_t t, x;

	synth_layout_311(&o);
	synth_init(&f.h, &o, 1 << 20);
	t = synth_type(&f.h, "T", 0, NULL, NULL);
	x = synth_obj(&f.h, t, 0);
	synth_w64(&f.h, synth_head(&f.h, x), 0);  /* next = NULL */
	fx_open(&f);
	ck_assert_int_eq(walk(&f), -1);
	ck_assert_int_eq(f.e.code, HW_ECORRUPT);
	synth_w64(&f.h, x + 8, 0x10000003);       /* misaligned type */
	synth_w64(&f.h, synth_head(&f.h, x), f.h.heads[0]);
	hw_snap_reset(f.s, 1);
	ck_assert_int_eq(walk(&f), -1);
	ck_assert_int_eq(f.e.code, HW_ECORRUPT);
	fx_close(&f);
}
END_TEST

START_TEST(test_collecting)
{
	struct fixture f;
	struct hw_offsets o;
	uint64_t t, x;

	synth_layout_311(&o);
	synth_init(&f.h, &o, 1 << 20);
	t = synth_type(&f.h, "T", 0, NULL, NULL);
	x = synth_obj(&f.h, t, 0);
	synth_w32(&f.h, f.h.gc + 200, 1);
	fx_open(&f);
	ck_assert_int_eq(walk(&f), -1);
	ck_assert_int_eq(f.e.code, HW_EBUSY);
	synth_w32(&f.h, f.h.gc + 200, 0);
	/* _gc_prev holding refs<<2|COLLECTING, as inside move_unreachable */
	synth_w64(&f.h, synth_head(&f.h, x) + 8, (5u << 2) | 2u);
	hw_snap_reset(f.s, 1);
	ck_assert_int_eq(walk(&f), -1);
	ck_assert(f.e.code == HW_EBUSY || f.e.code == HW_ECORRUPT);
	fx_close(&f);
}
END_TEST

START_TEST(test_27_collecting)
{
	struct fixture f;
	struct hw_offsets o;
	uint64_t t, x;

	synth_layout_27(&o);
	synth_init(&f.h, &o, 1 << 20);
	t = synth_type(&f.h, "T", 0, NULL, NULL);
	x = synth_obj(&f.h, t, 2);
	synth_w64(&f.h, synth_head(&f.h, x) + 16, 3); /* copied refcount */
	fx_open(&f);
	ck_assert_int_eq(walk(&f), -1);
	ck_assert_int_eq(f.e.code, HW_EBUSY);
	fx_close(&f);
}
END_TEST

START_TEST(test_interp_loop)
{
	struct fixture f;
	struct hw_offsets o;

	synth_layout_311(&o);
	synth_init(&f.h, &o, 1 << 20);
	synth_w64(&f.h, f.h.interp + 0, f.h.interp);  /* interp->next = itself */
	fx_open(&f);
	ck_assert_int_eq(walk(&f), -1);
	ck_assert_int_eq(f.e.code, HW_ECORRUPT);
	ck_assert_msg(strstr(f.e.msg, "loops"), "%s", f.e.msg);
	fx_close(&f);
}
END_TEST

START_TEST(test_bad_names)
{
	struct fixture f;
	struct hw_offsets o;
	uint64_t t, n, q;
	char buf[HW_TYPENAME_MAX];

	synth_layout_311(&o);
	synth_init(&f.h, &o, 1 << 20);
	/* tp_name without a terminator within the cap */
	t = synth_type(&f.h, "x", 0, NULL, NULL);
	n = synth_alloc(&f.h, 4096);
	memset(f.h.buf + (n - SYNTH_BASE), 'A', 4096);
	synth_w64(&f.h, t + 24, n);
	/* heap type whose qualname has a huge length: falls back to tp_name */
	q = synth_type(&f.h, "Short", 1, "Long", "m");
	synth_w64(&f.h, synth_r64(&f.h, q + 864) + 16, 1ull << 40);
	fx_open(&f);
	ck_assert_int_eq(hw_type_name(f.s, &o, t, buf, sizeof buf, &f.e), -1);
	ck_assert_int_eq(f.e.code, HW_ECORRUPT);
	name_is(&f, q, "Short");
	/* unreadable tp_name pointer */
	synth_w64(&f.h, t + 24, 0x7f0000000000ull);
	hw_snap_reset(f.s, 1);
	ck_assert_int_eq(hw_type_name(f.s, &o, t, buf, sizeof buf, &f.e), -1);
	fx_close(&f);
}
END_TEST

START_TEST(test_snapshot_misses)
{
	struct fixture f;
	struct hw_offsets o;
	struct hw_pageset plan, miss;
	uint64_t tm, td;

	synth_layout_311(&o);
	synth_init(&f.h, &o, 1 << 20);
	populate(&f, &tm, &td);
	fx_open(&f);
	/* learn the plan live, then walk offline from a copy of it */
	ck_assert_int_eq(walk(&f), 0);
	hw_pageset_init(&plan);
	hw_pageset_init(&miss);
	ck_assert_int_eq(hw_snap_touched(f.s, &plan, NULL), 0);
	ck_assert_uint_gt(plan.n, 0);
	hw_snap_reset(f.s, 0);
	ck_assert_int_eq(hw_snap_fill(f.s, &plan, 0, &f.e), 0);
	ck_assert_int_eq(walk(&f), 0);
	ck_assert_uint_eq(count_of(&f, tm), 100);
	/* an offline snapshot without the plan misses, and says where */
	hw_snap_reset(f.s, 0);
	ck_assert_int_eq(walk(&f), -1);
	ck_assert_int_eq(f.e.code, HW_EMISS);
	ck_assert_int_eq(hw_snap_missed(f.s, &miss, NULL), 0);
	ck_assert_uint_gt(miss.n, 0);
	hw_pageset_fini(&plan);
	hw_pageset_fini(&miss);
	fx_close(&f);
}
END_TEST

START_TEST(test_max_objects)
{
	struct fixture f;
	struct hw_offsets o;
	struct hw_walk_opts wo = { .max_objects = 10 };
	uint64_t t;

	synth_layout_311(&o);
	synth_init(&f.h, &o, 1 << 20);
	t = synth_type(&f.h, "T", 0, NULL, NULL);
	for (int i = 0; i < 20; i++)
		synth_obj(&f.h, t, 0);
	fx_open(&f);
	ck_assert_int_eq(hw_gc_walk(f.s, &o, &f.r, &wo, &f.tc, &f.st, &f.e), -1);
	ck_assert_int_eq(f.e.code, HW_ELIMIT);
	fx_close(&f);
}
END_TEST

START_TEST(test_pageset)
{
	struct hw_pageset ps;

	hw_pageset_init(&ps);
	hw_pageset_add(&ps, 0x5000, 10, NULL);
	hw_pageset_add(&ps, 0x1000, 0x2000, NULL);
	hw_pageset_add(&ps, 0x2fff, 2, NULL);
	hw_pageset_add(&ps, 0x9000, 1, NULL);
	hw_pageset_normalize(&ps);
	ck_assert_uint_eq(ps.n, 3);
	ck_assert_uint_eq(ps.start[0], 0x1000);
	ck_assert_uint_eq(ps.end[0], 0x4000);
	ck_assert_uint_eq(hw_pageset_bytes(&ps), 0x3000 + 0x1000 + 0x1000);
	hw_pageset_fini(&ps);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("gcwalk");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_311_exact);
	tcase_add_test(tc, test_3140_exact);
	tcase_add_test(tc, test_27_exact);
	tcase_add_test(tc, test_names);
	tcase_add_test(tc, test_visitor);
	tcase_add_test(tc, test_broken_backlink);
	tcase_add_test(tc, test_cycle_without_head);
	tcase_add_test(tc, test_self_loop_consistent);
	tcase_add_test(tc, test_unmapped_pointer);
	tcase_add_test(tc, test_misaligned_and_null);
	tcase_add_test(tc, test_collecting);
	tcase_add_test(tc, test_27_collecting);
	tcase_add_test(tc, test_interp_loop);
	tcase_add_test(tc, test_bad_names);
	tcase_add_test(tc, test_snapshot_misses);
	tcase_add_test(tc, test_max_objects);
	tcase_add_test(tc, test_pageset);
	suite_add_tcase(s, tc);
	return hw_run_suite(s);
}
