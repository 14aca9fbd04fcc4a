/* check_layout.c - choosing a layout: the built-in tables by version and
 * patch range (3.14.0-3.14.4 against 3.14.5+), _Py_DebugOffsets read from
 * (synthetic) target memory, and clear refusals for free-threaded and
 * unknown builds. */
#include <check.h>

#include "runner.h"
#include <stdio.h>
#include <string.h>

#include "heapwatch/layout.h"
#include "heapwatch/mem.h"
#include "heapwatch/target.h"

START_TEST(test_tables_by_version)
{
	struct hw_offsets o;
	struct hw_err e;
	char key[256];

	ck_assert_int_eq(hw_layout_table(0x030e02f0, 0, &o, key, sizeof key, &e), 0);
	ck_assert_int_eq(o.gc_generation0, -1);       /* incremental collector */
	ck_assert_int_eq(o.gc_size, 240);
	ck_assert_int_eq(hw_layout_table(0x030e05f0, 0, &o, key, sizeof key, &e), 0);
	ck_assert_int_eq(o.gc_generation0, 256);      /* generational again */
	ck_assert_int_eq(o.gc_size, 264);
	ck_assert_int_eq(hw_layout_table(0x030b07f0, 0, &o, key, sizeof key, &e), 0);
	ck_assert_int_eq(o.interp_gc, 648);
	ck_assert_msg(strstr(key, "DWARF"), "%s", key); /* rows name their origin */
	ck_assert_int_eq(hw_layout_table(0x030b02f0, 1, &o, key, sizeof key, &e), 0);
	ck_assert_msg(strstr(key, "3.11.2"), "%s", key); /* the debug build's own row */
	ck_assert_int_eq(hw_layout_table(0x030f00a1, 0, &o, key, sizeof key, &e), -1);
	ck_assert_int_eq(e.code, HW_EVERSION);
	ck_assert_msg(strstr(e.msg, "3.15.0"), "%s", e.msg);
	/* 3.7.0-3.7.3 had another PyGC_Head: no row pretends to know it */
	ck_assert_int_eq(hw_layout_table(0x030702f0, 0, &o, key, sizeof key, &e), -1);
}
END_TEST

/* A target whose _PyRuntime starts with a 3.13 _Py_DebugOffsets. */
static unsigned char rt[4096];

static void debug_offsets_313(int free_threaded)
{
	uint64_t v;

	memset(rt, 0, sizeof rt);
	memcpy(rt, "xdebugpy", 8);
	v = 0x030d00f0;
	memcpy(rt + 8, &v, 8);
	v = (uint64_t)free_threaded;
	memcpy(rt + 16, &v, 8);
	v = 632;  memcpy(rt + 40, &v, 8);   /* interpreters_head */
	v = 7264; memcpy(rt + 64, &v, 8);   /* interpreter_state.next */
	v = 7408; memcpy(rt + 80, &v, 8);   /* interpreter_state.gc: not 7400 */
	v = 8;    memcpy(rt + 360, &v, 8);  /* ob_type */
	v = 24;   memcpy(rt + 376, &v, 8);  /* tp_name */
	v = 168;  memcpy(rt + 392, &v, 8);  /* tp_flags */
	v = 240;  memcpy(rt + 568, &v, 8);  /* gc.size */
	v = 200;  memcpy(rt + 576, &v, 8);  /* gc.collecting */
}

static void fake_target(struct hw_target *t)
{
	memset(t, 0, sizeof *t);
	t->pid = 1;
	t->runtime_addr = 0x100000;
	t->version_hex = 0x030d00f0;
	snprintf(t->version, sizeof t->version, "3.13.0");
}

START_TEST(test_debug_offsets_and_crosscheck)
{
	struct hw_mem_region r = { 0x100000, rt, sizeof rt };
	struct hw_mem *m;
	struct hw_target t;
	struct hw_layout l;
	struct hw_err e;

	debug_offsets_313(0);
	m = hw_mem_open_buffer(&r, 1, NULL);
	fake_target(&t);
	ck_assert_int_eq(hw_layout_resolve(&t, m, HW_SRC_DEBUG_OFFSETS, &l, &e), 0);
	ck_assert_int_eq(l.source, HW_SRC_DEBUG_OFFSETS);
	ck_assert_int_eq(l.off.interp_gc, 7408);
	ck_assert_int_eq(l.off.gc_gens, 24);          /* from the 3.13 table */
	/* the table said 7400: the disagreement is named with both values */
	ck_assert_msg(strstr(l.notes, "interp_gc: 7400 before, debug_offsets 7408"), "%s", l.notes);
	hw_mem_free(m);
}
END_TEST

START_TEST(test_free_threaded_refused)
{
	struct hw_mem_region r = { 0x100000, rt, sizeof rt };
	struct hw_mem *m;
	struct hw_target t;
	struct hw_layout l;
	struct hw_err e;

	debug_offsets_313(1);
	m = hw_mem_open_buffer(&r, 1, NULL);
	fake_target(&t);
	ck_assert_int_eq(hw_layout_resolve(&t, m, HW_SRC_NONE, &l, &e), -1);
	ck_assert_int_eq(e.code, HW_EFREETHR);
	ck_assert_msg(strstr(e.msg, "free-threaded"), "%s", e.msg);
	ck_assert_int_eq(hw_err_exit_status(&e), 1);
	hw_mem_free(m);
}
END_TEST

START_TEST(test_unknown_version_refused)
{
	struct hw_target t;
	struct hw_layout l;
	struct hw_err e;

	memset(&t, 0, sizeof t);
	t.pid = 1;
	t.version_hex = 0x031000f0;
	snprintf(t.version, sizeof t.version, "3.16.0");
	snprintf(t.open_path, sizeof t.open_path, "/nonexistent");
	ck_assert_int_eq(hw_layout_resolve(&t, NULL, HW_SRC_NONE, &l, &e), -1);
	ck_assert(e.code == HW_EVERSION);
	ck_assert_msg(strstr(e.msg, "3.16.0"), "%s", e.msg);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("layout");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_tables_by_version);
	tcase_add_test(tc, test_debug_offsets_and_crosscheck);
	tcase_add_test(tc, test_free_threaded_refused);
	tcase_add_test(tc, test_unknown_version_refused);
	suite_add_tcase(s, tc);
	return hw_run_suite(s);
}
