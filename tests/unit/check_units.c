/* check_units.c - the one grammar of durations and sizes (units.h) that
 * the command line and the configuration share: every unit, fractions
 * that come out whole, the edges of 64 bits, and the messages. */
#include <check.h>

#include "runner.h"
#include <stdio.h>
#include <string.h>

#include "heapwatch/units.h"

#define US 1000ull
#define MS (1000 * US)
#define SEC (1000 * MS)
/* a case: refused, or taken as the value v */
#define NOPE 1, 0
#define YES(v) 0, (v)

START_TEST(test_durations)
{
	static const struct { const char *text; int refused; uint64_t ns; } cases[] = {
		{ "1ns", YES(1) }, { "250us", YES(250 * US) }, { "500ms", YES(500 * MS) },
		{ "10s", YES(10 * SEC) }, { "5m", YES(300 * SEC) }, { "1h", YES(3600 * SEC) },
		{ "7d", YES(7 * 86400 * SEC) }, { "0", YES(0) }, { "0s", YES(0) }, { "0.0ms", YES(0) },
		{ "000010s", YES(10 * SEC) }, { "1.5s", YES(1500 * MS) }, { "0.25ms", YES(250 * US) },
		{ "2.000000000s", YES(2 * SEC) }, { "0.001us", YES(1) },
		{ "1.0000000000000000000000h", YES(3600 * SEC) },
		{ "18446744073709551615ns", YES(UINT64_MAX) },
		{ "18446744073.709551615s", YES(UINT64_MAX) },
		/* refused */
		{ "", NOPE }, { "s", NOPE }, { "10", NOPE }, { "1.5", NOPE },
		{ "10sec", NOPE }, { "10S", NOPE }, { "10 s", NOPE }, { " 10s", NOPE },
		{ "10s ", NOPE }, { "+1s", NOPE }, { "-1s", NOPE }, { "1e3ms", NOPE },
		{ "1_000ms", NOPE }, { "1,5s", NOPE }, { ".5s", NOPE }, { "5.s", NOPE },
		{ "1.5ns", NOPE }, { "0.0001us", NOPE }, { "1.00000000000000000001s", NOPE },
		{ "18446744073709551616ns", NOPE }, { "18446744073.709551616s", NOPE },
		{ "213503982335h", NOPE }, { "99999999999999999999999ms", NOPE },
		{ "1s1s", NOPE }, { "1..5s", NOPE }, { "0x10s", NOPE }, { "1µs", NOPE },
	};
	struct hw_err e;
	uint64_t v;

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const char *t = cases[i].text;
		int rc;

		v = 12345;
		hw_err_clear(&e);
		rc = hw_duration_parse(t, strlen(t), 0, &v, &e);
		if (cases[i].refused) {
			ck_assert_msg(rc == -1, "accepted '%s' as %llu", t, (unsigned long long)v);
			ck_assert(e.code == HW_EUSAGE ||
				  (e.code == HW_ELIMIT && strstr(e.msg, "too large")));
			ck_assert_uint_eq(v, 12345);
		} else {
			ck_assert_msg(rc == 0, "'%s': %s", t, e.msg);
			ck_assert_uint_eq(v, cases[i].ns);
		}
	}
}
END_TEST

START_TEST(test_bare_durations)
{
	struct hw_err e;
	uint64_t v;

	/* a caller may let a bare number count seconds (--growth 10) */
	ck_assert_int_eq(hw_duration_parse("10", 2, SEC, &v, &e), 0);
	ck_assert_uint_eq(v, 10 * SEC);
	ck_assert_int_eq(hw_duration_parse("0.5", 3, SEC, &v, &e), 0);
	ck_assert_uint_eq(v, 500 * MS);
	ck_assert_int_eq(hw_duration_parse("2m", 2, SEC, &v, &e), 0);
	ck_assert_uint_eq(v, 120 * SEC);
	ck_assert_int_eq(hw_duration_parse("0.0000000001", 12, SEC, &v, &e), -1);
	/* the length counts, not a NUL: bytes after it are the caller's */
	ck_assert_int_eq(hw_duration_parse("10sXYZ", 3, 0, &v, &e), 0);
	ck_assert_uint_eq(v, 10 * SEC);
	ck_assert_int_eq(hw_duration_parse("1\0s", 3, 0, &v, &e), -1);
	/* the NUL-terminated convenience takes the same grammar */
	ck_assert_int_eq(hw_parse_duration("1.5s", &v), 0);
	ck_assert_uint_eq(v, 1500 * MS);
	ck_assert_int_eq(hw_parse_duration("15", &v), -1);
	ck_assert_int_eq(hw_parse_duration(NULL, &v), -1);
}
END_TEST

START_TEST(test_sizes)
{
	static const struct { const char *text; int refused; uint64_t bytes; } cases[] = {
		{ "0", YES(0) }, { "4096", YES(4096) }, { "4096B", YES(4096) }, { "64K", YES(65536) },
		{ "64KiB", YES(65536) }, { "1M", YES(1ull << 20) }, { "256MiB", YES(256ull << 20) },
		{ "1G", YES(1ull << 30) }, { "1GiB", YES(1ull << 30) }, { "2T", YES(2ull << 40) },
		{ "1TiB", YES(1ull << 40) }, { "1.5GiB", YES(3ull << 29) }, { "0.5K", YES(512) },
		{ "1.25", NOPE }, { "0.1KiB", NOPE }, { "1.0B", YES(1) },
		{ "16383.99999999999999999999TiB", NOPE },
		{ "16777215TiB", YES(16777215ull << 40) }, { "16777216TiB", NOPE },
		{ "18446744073709551615", YES(UINT64_MAX) }, { "18446744073709551616", NOPE },
		{ "1MB", NOPE }, { "1KB", NOPE }, { "1kB", NOPE }, { "1GB", NOPE },
		{ "1mib", NOPE }, { "1k", NOPE }, { "1 MiB", NOPE }, { "MiB", NOPE },
		{ "-1MiB", NOPE }, { "+1MiB", NOPE }, { "1MiBB", NOPE }, { "1Mi", NOPE },
		{ "", NOPE },
	};
	struct hw_err e;
	uint64_t v;

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const char *t = cases[i].text;
		int rc;

		v = 12345;
		hw_err_clear(&e);
		rc = hw_size_parse(t, strlen(t), &v, &e);
		if (cases[i].refused) {
			ck_assert_msg(rc == -1, "accepted '%s' as %llu", t, (unsigned long long)v);
			ck_assert(e.code == HW_EUSAGE ||
				  (e.code == HW_ELIMIT && strstr(e.msg, "too large")));
		} else {
			ck_assert_msg(rc == 0, "'%s': %s", t, e.msg);
			ck_assert_uint_eq(v, cases[i].bytes);
		}
	}
	ck_assert_int_eq(hw_parse_size("1G", &v), 0);
	ck_assert_uint_eq(v, 1ull << 30);
}
END_TEST

/* The messages both front ends show, word for word. */
START_TEST(test_messages)
{
	static const struct { int size; const char *text, *msg; } cases[] = {
		{ 0, "10sec", "'10sec' has an unknown unit 'sec' (ns, us, ms, s, m, h or d)" },
		{ 0, "500", "'500' needs a unit (ns, us, ms, s, m, h or d)" },
		{ 0, "-1s", "'-1s' is negative" },
		{ 0, "fast", "'fast' is not a duration (a number and a unit: ns, us, ms, s, m, h or d)" },
		{ 0, "1.5ns", "'1.5ns' is not a whole number of nanoseconds" },
		{ 0, "99999999999999999999999ms", "'99999999999999999999999ms' is too large" },
		{ 0, "1\ts", "'1?s' has an unknown unit '?s' (ns, us, ms, s, m, h or d)" },
		{ 1, "256MB", "'256MB' has a decimal unit 'MB': sizes count in powers of 1024, "
			      "write 256MiB (or 256M) or a number of bytes" },
		{ 1, "1kB", "'1kB' has a decimal unit 'kB': sizes count in powers of 1024, "
			    "write 1KiB (or 1K) or a number of bytes" },
		{ 1, "2 GiB", "'2 GiB' has an unknown unit ' GiB' (B, K or KiB, M or MiB, G or GiB, T or TiB)" },
		{ 1, "big", "'big' is not a size (a number and a unit: B, K or KiB, M or MiB, G or GiB, T or TiB)" },
		{ 1, "0.3B", "'0.3B' is not a whole number of bytes" },
		{ 1, "1234567890123456789012345678901234567890123456789MiB",
		  "'1234567890123456789012345678901234567890...' is too large" },
	};
	struct hw_err e;
	uint64_t v;

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const char *t = cases[i].text;

		hw_err_clear(&e);
		if (cases[i].size)
			ck_assert_int_eq(hw_size_parse(t, strlen(t), &v, &e), -1);
		else
			ck_assert_int_eq(hw_duration_parse(t, strlen(t), 0, &v, &e), -1);
		ck_assert_str_eq(e.msg, cases[i].msg);
	}
}
END_TEST

/* Formatting takes the largest exact unit and reads back to the value. */
START_TEST(test_format_round_trip)
{
	static const struct { uint64_t v; const char *d, *s; } cases[] = {
		{ 0, "0s", "0B" }, { 1, "1ns", "1B" }, { 1000, "1us", "1000B" },
		{ 1024, "1024ns", "1KiB" }, { 1500 * MS, "1500ms", "1500000000B" },
		{ 60 * SEC, "1m", "58593750KiB" }, { 86400 * SEC, "1d", "84375000000KiB" },
		{ 3ull << 29, "1610612736ns", "1536MiB" }, { 1ull << 40, "1099511627776ns", "1TiB" },
		{ UINT64_MAX, "18446744073709551615ns", "18446744073709551615B" },
	};
	char buf[64];
	struct hw_err e;
	uint64_t v;

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		hw_format_duration(cases[i].v, buf, sizeof buf);
		ck_assert_str_eq(buf, cases[i].d);
		ck_assert_int_eq(hw_duration_parse(buf, strlen(buf), 0, &v, &e), 0);
		ck_assert_uint_eq(v, cases[i].v);
		hw_format_size(cases[i].v, buf, sizeof buf);
		ck_assert_str_eq(buf, cases[i].s);
		ck_assert_int_eq(hw_size_parse(buf, strlen(buf), &v, &e), 0);
		ck_assert_uint_eq(v, cases[i].v);
	}
	/* cut to the buffer, NUL-terminated */
	hw_format_size(1ull << 40, buf, 3);
	ck_assert_str_eq(buf, "1T");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("units");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_durations);
	tcase_add_test(tc, test_bare_durations);
	tcase_add_test(tc, test_sizes);
	tcase_add_test(tc, test_messages);
	tcase_add_test(tc, test_format_round_trip);
	suite_add_tcase(s, tc);
	return hw_run_suite(s);
}
