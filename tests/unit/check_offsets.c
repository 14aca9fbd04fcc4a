/* check_offsets.c - hw_offsets_validate: every layout heapwatch ships or
 * builds for tests passes, and a field that would index one of
 * heapwatch's fixed buffers out of bounds is refused, named. */
#include <check.h>

#include "runner.h"
#include <stdio.h>
#include <string.h>

#include "heapwatch/layout.h"
#include "synth.h"

START_TEST(test_tables_pass)
{
	struct hw_layout_table_info info;
	struct hw_err e;
	size_t n = 0;

	for (size_t i = 0; hw_layout_table_row(i, &info) == 0; i++, n++)
		ck_assert_msg(hw_offsets_validate(&info.off, &e) == 0, "%s: %s",
			      info.origin, e.msg);
	ck_assert_uint_gt(n, 10);
}
END_TEST

START_TEST(test_synth_pass)
{
	struct hw_offsets o;
	struct hw_err e;

	synth_layout_311(&o);
	ck_assert_msg(hw_offsets_validate(&o, &e) == 0, "%s", e.msg);
	synth_layout_3140(&o);
	ck_assert_msg(hw_offsets_validate(&o, &e) == 0, "%s", e.msg);
	synth_layout_27(&o);
	ck_assert_msg(hw_offsets_validate(&o, &e) == 0, "%s", e.msg);
	hw_offsets_init(&o);
	ck_assert_msg(hw_offsets_validate(&o, &e) == 0, "%s", e.msg);
}
END_TEST

/* Each case: one field changed on the 3.11 or 2.7 layout, and the error. */
static const struct bad {
	int l27;
	const char *field;
	int64_t value;
	const char *msg;
} bads[] = {
	{ 1, "gchead_refs", 200, "gchead_refs 200 outside PyGC_Head (32 bytes)" },
	{ 1, "gchead_refs", 25, "gchead_refs 25 outside PyGC_Head (32 bytes)" },
	{ 0, "gchead_next", 9, "gchead_next 9 outside PyGC_Head (16 bytes)" },
	{ 0, "gchead_prev", 1 << 20, "gchead_prev 1048576 outside PyGC_Head (16 bytes)" },
	{ 0, "gchead_size", 8, "gchead_size 8 is not a PyGC_Head size (16 to 64)" },
	{ 0, "gchead_size", 4096, "gchead_size 4096 is not a PyGC_Head size (16 to 64)" },
	{ 0, "ob_type", 105, "ob_type 105 outside the object header read with PyGC_Head (112 bytes)" },
	{ 1, "ob_type", 90, "ob_type 90 outside the object header read with PyGC_Head (96 bytes)" },
	{ 0, "ob_type", -8, "ob_type -8 is not an offset or size (0 to 16777215)" },
	{ 0, "interp_gc", 1ll << 40, "interp_gc 1099511627776 is not an offset or size (0 to 16777215)" },
	{ 0, "tp_name", -2, "tp_name -2 is not an offset or size (0 to 16777215)" },
	{ 0, "gc_gen_stride", 8, "gc_gen_stride 8 is smaller than a list head (16 bytes)" },
	{ 0, "gc_collecting", 240, "gc_collecting 240 outside the GC state (240 bytes)" },
	{ 0, "gc_permanent", 230, "gc_permanent 230 outside the GC state (240 bytes)" },
	{ 0, "gc_gens", 200, "gc_gens 200 outside the GC state (240 bytes)" },
	{ 0, "gc_gen_threshold", 22, "gc_gen_threshold 22 outside a generation (24 bytes)" },
	{ 0, "dk_entry_size", 4096, "dict entry sizes 4096/16 are not 16 to 24 bytes" },
};

START_TEST(test_bad_fields)
{
	const struct bad *b = &bads[_i];
	struct hw_offsets o;
	struct hw_err e;
	size_t k;

	if (b->l27)
		synth_layout_27(&o);
	else
		synth_layout_311(&o);
	for (k = 0; k < hw_offset_nfields; k++)
		if (strcmp(hw_offset_fields[k].name, b->field) == 0)
			break;
	ck_assert_uint_lt(k, hw_offset_nfields);
	hw_offsets_set(&o, k, b->value);
	hw_err_clear(&e);
	ck_assert_int_eq(hw_offsets_validate(&o, &e), -1);
	ck_assert_int_eq(e.code, HW_ELAYOUT);
	ck_assert_str_eq(e.msg, b->msg);
}
END_TEST

START_TEST(test_links_without_size)
{
	struct hw_offsets o;
	struct hw_err e;

	hw_offsets_init(&o);
	o.gchead_next = 0;
	ck_assert_int_eq(hw_offsets_validate(&o, &e), -1);
	ck_assert_str_eq(e.msg, "PyGC_Head fields without gchead_size");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("offsets");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_tables_pass);
	tcase_add_test(tc, test_synth_pass);
	tcase_add_loop_test(tc, test_bad_fields, 0, (int)(sizeof bads / sizeof bads[0]));
	tcase_add_test(tc, test_links_without_size);
	suite_add_tcase(s, tc);
	return hw_run_suite(s);
}
