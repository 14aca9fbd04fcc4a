/* check_chart.c - the text that reaches a document or a terminal: XML
 * escaping and UTF-8 repair of hostile names, terminal-safe names, number
 * formats; a chart of awkward data (gaps, one point, no point, constant,
 * huge values) written whole. */
#include <check.h>

#include "runner.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "heapwatch/chart.h"

static char *xml(const char *s, size_t max)
{
	static char buf[4096];
	FILE *f;

	memset(buf, 0, sizeof buf);
	f = fmemopen(buf, sizeof buf, "w");

	ck_assert_ptr_nonnull(f);
	hw_xml_text(f, s, max);
	fclose(f);
	return buf;
}

START_TEST(test_xml_text)
{
	ck_assert_str_eq(xml("a<b>&\"c'", 0), "a&lt;b&gt;&amp;&quot;c&#39;");
	ck_assert_str_eq(xml("__main__.Outer.Inner", 0), "__main__.Outer.Inner");
	/* Valid UTF-8 stays; controls, C1, DEL and broken bytes become U+FFFD. */
	ck_assert_str_eq(xml("\xc3\x89t\xc3\xa9\xe4\xb8\xad", 0), "\xc3\x89t\xc3\xa9\xe4\xb8\xad");
	ck_assert_str_eq(xml("a\x1b[31mb", 0), "a\xef\xbf\xbd[31mb");
	ck_assert_str_eq(xml("\n\t\x7f", 0), "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
	ck_assert_str_eq(xml("\xc2\x85", 0), "\xef\xbf\xbd");            /* C1 NEL */
	ck_assert_str_eq(xml("\xff\xfe", 0), "\xef\xbf\xbd\xef\xbf\xbd");
	ck_assert_str_eq(xml("\xc0\xaf", 0), "\xef\xbf\xbd\xef\xbf\xbd"); /* overlong '/' */
	ck_assert_str_eq(xml("\xed\xa0\x80", 0), "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"); /* surrogate */
	ck_assert_str_eq(xml("\xe4\xb8", 0), "\xef\xbf\xbd\xef\xbf\xbd"); /* cut short */
	ck_assert_str_eq(xml("\xef\xbf\xbf", 0), "\xef\xbf\xbd");         /* U+FFFF */
	/* Capped in characters, not bytes. */
	ck_assert_str_eq(xml("\xc3\xa9\xc3\xa9\xc3\xa9", 2), "\xc3\xa9\xc3\xa9\xe2\x80\xa6");
	ck_assert_str_eq(xml("abc", 3), "abc");
	ck_assert_str_eq(xml(NULL, 0), "");
}
END_TEST

START_TEST(test_term_text)
{
	char buf[64];

	ck_assert_uint_eq(hw_term_text(buf, sizeof buf, "dict", 10), 4);
	ck_assert_str_eq(buf, "dict");
	ck_assert_uint_eq(hw_term_text(buf, sizeof buf, "x\x1b]0;pwned\x07y", 0), 12);
	ck_assert_str_eq(buf, "x?]0;pwned?y");
	ck_assert_uint_eq(hw_term_text(buf, sizeof buf, "\xc3\x89t\xc3\xa9", 0), 3);
	ck_assert_str_eq(buf, "\xc3\x89t\xc3\xa9");
	ck_assert_uint_eq(hw_term_text(buf, sizeof buf, "abcdef", 4), 4);
	ck_assert_str_eq(buf, "abc\xe2\x80\xa6");
	ck_assert_uint_eq(hw_term_text(buf, sizeof buf, "abcd", 4), 4);
	ck_assert_str_eq(buf, "abcd");
	/* Never past the buffer, never a cut character. */
	ck_assert_uint_eq(hw_term_text(buf, 4, "\xc3\xa9\xc3\xa9\xc3\xa9", 0), 1);
	ck_assert_str_eq(buf, "\xc3\xa9");
	ck_assert_uint_eq(hw_term_text(buf, 1, "abc", 0), 0);
	ck_assert_str_eq(buf, "");
}
END_TEST

START_TEST(test_numbers)
{
	char buf[32];

	hw_fmt_count(31000, 0, buf, sizeof buf);
	ck_assert_str_eq(buf, "31,000");
	hw_fmt_count(1234567, 1, buf, sizeof buf);
	ck_assert_str_eq(buf, "+1,234,567");
	hw_fmt_count(-42.4, 1, buf, sizeof buf);
	ck_assert_str_eq(buf, "-42");
	hw_fmt_count(0, 1, buf, sizeof buf);
	ck_assert_str_eq(buf, "+0");
	hw_fmt_count(NAN, 0, buf, sizeof buf);
	ck_assert_str_eq(buf, "?");
	hw_fmt_count(1e300, 0, buf, sizeof buf);
	ck_assert_str_eq(buf, "10,000,000,000,000,000,000");
	hw_fmt_bytes(512, buf, sizeof buf);
	ck_assert_str_eq(buf, "512 B");
	hw_fmt_bytes(13.7 * 1048576, buf, sizeof buf);
	ck_assert_str_eq(buf, "13.7 MiB");
	hw_fmt_bytes(1.5 * 1073741824, buf, sizeof buf);
	ck_assert_str_eq(buf, "1.50 GiB");
	hw_fmt_bytes(-3.1 * 1048576, buf, sizeof buf);
	ck_assert_str_eq(buf, "-3.10 MiB");
}
END_TEST

/* Every '<' opens a tag we know, and every tag is closed or self-closed:
 * a cheap well-formedness check (the integration test parses real ones). */
static void balanced(const char *doc)
{
	int depth = 0;

	for (const char *p = strchr(doc, '<'); p; p = strchr(p + 1, '<')) {
		const char *end = strchr(p, '>');

		ck_assert_ptr_nonnull(end);
		if (p[1] == '?')
			continue;
		if (p[1] == '/')
			depth--;
		else if (end[-1] != '/')
			depth++;
		ck_assert_int_ge(depth, 0);
	}
	ck_assert_int_eq(depth, 0);
}

START_TEST(test_chart_awkward)
{
	static char doc[1 << 20];
	double t[6] = { 1e12, 1e12 + 1000, 1e12 + 2000, 1e12 + 3000, 1e12 + 4000, 1e12 + 5000 };
	double gaps[6] = { 1, NAN, 3, NAN, NAN, 6 };
	double one[6] = { NAN, NAN, 5e18, NAN, NAN, NAN };
	double none[6] = { NAN, NAN, NAN, NAN, NAN, NAN };
	double flat[6] = { 7, 7, 7, 7, 7, 7 };
	struct hw_chart_line l1[] = {
		{ "gaps <&>", t, gaps, flat, 6, "#123456", 0, 0 },
		{ "one\x1b", t, one, NULL, 6, "#654321", 1, 2 },
	};
	struct hw_chart_line l2[] = {
		{ NULL, t, none, NULL, 6, "#000000", 0, 0 },
		{ "flat", t, flat, NULL, 6, "#00ff00", 0, 0 },
	};
	struct hw_chart_panel p[] = {
		{ "RSS", HW_CHART_BYTES, l1, 2, 0, 0 },
		{ "none", HW_CHART_COUNT, l2, 1, 50, 1 },
		{ "flat", HW_CHART_COUNT, l2 + 1, 1, 0, 0 },
	};
	struct hw_chart_mark m[] = { { 1e12 + 2500, "pid 2" } };
	struct hw_chart c = { "title \xff", "sub", "leak", "#b00", 1e12, 1e12 + 5000, p, 3, m, 1 };
	struct hw_chart same = c;
	FILE *f = fmemopen(doc, sizeof doc, "w");

	ck_assert_ptr_nonnull(f);
	hw_svg_begin(f, hw_chart_height(&c) * 2, "t", 1);
	hw_chart_svg(f, &c, 0);
	same.t1 = same.t0;      /* one instant: the axis still spans time */
	hw_chart_svg(f, &same, hw_chart_height(&c));
	hw_svg_end(f);
	ck_assert(!ferror(f));
	fclose(f);
	balanced(doc);
	ck_assert_ptr_null(strstr(doc, "nan"));
	ck_assert_ptr_null(strstr(doc, "inf"));
	ck_assert_ptr_nonnull(strstr(doc, "gaps &lt;&amp;&gt;"));
	ck_assert_ptr_nonnull(strstr(doc, "no data"));
	ck_assert_ptr_nonnull(strstr(doc, "<circle"));       /* the lone point */
	ck_assert_ptr_nonnull(strstr(doc, ">pid 2<"));
	ck_assert_ptr_null(strchr(doc, '\x1b'));
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("chart");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_xml_text);
	tcase_add_test(tc, test_term_text);
	tcase_add_test(tc, test_numbers);
	tcase_add_test(tc, test_chart_awkward);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return hw_run_suite(suite());
}
