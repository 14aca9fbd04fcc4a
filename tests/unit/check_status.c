/* check_status.c - the status file: written atomically, hostile type
 * names escaped into valid JSON and read back, and the one-line refusals
 * of `heapwatch status` (stale, daemon gone, corrupt, missing, not a
 * regular file). */
#include <check.h>

#include "runner.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "heapwatch/status.h"

static char dir[64], path[128];

static void setup(void)
{
	snprintf(dir, sizeof dir, "/tmp/hw-status-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/status.json", dir);
}

static void teardown(void)
{
	char cmd[128];

	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
}

static const int64_t NOW = 1796040000000;

static void write_doc(pid_t pid, int64_t updated_ms)
{
	struct hw_status_daemon d = {
		.pid = pid, .started_ms = updated_ms - 60000, .updated_ms = updated_ms,
		.interval_ns = 250000000, .flush_interval_ns = 500000000,
		.trend = { 5000000000ull, 2000000000ull, 30000000000ull },
		.census_cpu_us = 1000, .trend_cpu_us = 9,
	};
	struct hw_judged j;
	struct hw_status_w w;
	struct hw_err e;

	memset(&j, 0, sizeof j);
	j.verdict = HW_VERDICT_LEAK;
	j.kind = HW_KIND_PYTHON;
	j.since_ms = updated_ms - 5000;
	j.has_rss = 1;
	j.rss_per_hour = 1258291;
	j.nleaking = 1;
	snprintf(j.leaking[0].name, sizeof j.leaking[0].name, "evil\"\n\\\xff.Name\xc3\xa9");
	j.leaking[0].per_hour = 61;
	j.leaking[0].p = 0.0004;
	snprintf(j.detail, sizeof j.detail, "evil\"\n.Name +61/h");
	ck_assert_int_eq(hw_status_open(&w, path, &d, &e), 0);
	hw_status_target(&w, "web", &j, 1000, -1, 2);
	hw_status_process(&w, 4242, "w0", 12.5, 1000, -1, &j);
	hw_status_process(&w, 4243, NULL, 1, -1, -1, NULL);
	hw_status_target(&w, "idle", NULL, -1, -1, 0);
	ck_assert_int_eq(hw_status_commit(&w, &e), 0);
}

static int show(int json, int64_t now, char **out, struct hw_err *e)
{
	size_t n = 0;
	FILE *f = open_memstream(out, &n);
	int rc;

	ck_assert_ptr_nonnull(f);
	hw_err_clear(e);
	rc = hw_status_show(path, json, f, now, e);
	fclose(f);
	return rc;
}

START_TEST(test_round_trip)
{
	struct hw_err e;
	struct stat st;
	char *out = NULL, buf[HW_ERR_MSG_MAX + 256];

	write_doc(getpid(), NOW);
	ck_assert_int_eq(stat(path, &st), 0);
	/* the temporary file is gone */
	snprintf(buf, sizeof buf, "%s.tmp", path);
	ck_assert_int_ne(access(buf, F_OK), 0);
	ck_assert_msg(show(1, NOW + 1000, &out, &e) == 0, "%s", hw_err_str(&e, buf, sizeof buf));
	/* escaped, and the bad byte became U+FFFD; a valid UTF-8 letter stays */
	ck_assert_msg(strstr(out, "\"type\": \"evil\\\"\\u000a\\\\\xef\xbf\xbd.Name\xc3\xa9\""), "%s", out);
	ck_assert(strstr(out, "\"verdict\": \"leak\", \"kind\": \"python\""));
	ck_assert(strstr(out, "\"pss_bytes\": null"));
	ck_assert(strstr(out, "\"slot\": null"));
	free(out);
	ck_assert_int_eq(show(0, NOW + 1000, &out, &e), 0);
	ck_assert_msg(strstr(out, "target web: leak python for 6 s, 2 processes"), "%s", out);
	ck_assert_msg(strstr(out, "4242     w0    12 s"), "%s", out);
	ck_assert_msg(strstr(out, "target idle: warming"), "%s", out);
	free(out);
}
END_TEST

START_TEST(test_refusals)
{
	struct hw_err e;
	char *out = NULL, buf[HW_ERR_MSG_MAX + 256];
	pid_t gone = fork();
	FILE *f;

	ck_assert_int_ge(gone, 0);
	if (gone == 0)
		_exit(0);
	ck_assert_int_eq(waitpid(gone, NULL, 0), gone);

	/* missing */
	ck_assert_int_eq(show(0, NOW, &out, &e), -1);
	free(out);
	ck_assert_msg(strstr(hw_err_str(&e, buf, sizeof buf), "No such file or directory; is the daemon running?"),
		      "%s", buf);
	/* stale: three flush intervals, at least 30 s */
	write_doc(getpid(), NOW - 31000);
	ck_assert_int_eq(show(0, NOW, &out, &e), -1);
	free(out);
	ck_assert_msg(strstr(hw_err_str(&e, buf, sizeof buf), "is stale: last updated 31 s ago ("),
		      "%s", buf);
	write_doc(getpid(), NOW - 29000);
	ck_assert_int_eq(show(0, NOW, &out, &e), 0);
	free(out);
	/* the daemon is gone */
	write_doc(gone, NOW - 2000);
	ck_assert_int_eq(show(0, NOW, &out, &e), -1);
	free(out);
	ck_assert_msg(strstr(hw_err_str(&e, buf, sizeof buf), "which is not running; last updated 2 s ago"),
		      "%s", buf);
	/* corrupt, cut, or not ours */
	static const char *const bad[] = {
		"", "{", "[]", "{\"version\": 1}", "{\"version\": 2, \"updated\": 1, \"targets\": []}",
		"{\"version\": 1, \"updated\": 1, \"targets\": [] } x",
		"{\"version\": 1, \"updated\": 1, \"targets\": [\"\\u00\"]}",
		"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		f = fopen(path, "w");
		ck_assert_ptr_nonnull(f);
		fputs(bad[i], f);
		fclose(f);
		ck_assert_int_eq(show(1, NOW, &out, &e), -1);
		free(out);
		ck_assert_msg(strstr(hw_err_str(&e, buf, sizeof buf), "not a heapwatch status file"),
			      "%s: %s", bad[i], buf);
		ck_assert(!strchr(buf, '\n'));
	}
	/* never written over something that is not a regular file */
	unlink(path);
	ck_assert_int_eq(mkdir(path, 0700), 0);
	{
		struct hw_status_daemon d = { .pid = getpid(), .updated_ms = NOW };
		struct hw_status_w w;

		ck_assert_int_eq(hw_status_open(&w, path, &d, &e), -1);
		ck_assert_msg(strstr(hw_err_str(&e, buf, sizeof buf), "not a regular file"), "%s", buf);
	}
	rmdir(path);
}
END_TEST

/* A status file of this process, updated at NOW, with target name and
 * one leaking type as given (JSON text, quotes included). */
static char *doc_with(const char *name, const char *type, const char *extra)
{
	char *d = NULL;

	ck_assert_int_ge(asprintf(&d, "{\"version\": 1, \"updated\": %.3f, \"daemon\": {\"pid\": %d%s},\n"
				  " \"targets\": [{\"name\": %s, \"verdict\": \"leak\", \"detail\": \"d\","
				  " \"leaking\": [{\"type\": %s, \"per_hour\": 61, \"p\": 0.0004}],"
				  " \"processes\": []}]}\n",
				  (double)NOW / 1000, (int)getpid(), extra, name, type), 0);
	return d;
}

/* hw_status_show_buf on text; the output (NULL when refused: nothing may
 * have been printed then) and e. */
static char *show_text(const char *text, size_t len, int json, struct hw_err *e)
{
	char *out = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&out, &n);
	int rc;

	ck_assert_ptr_nonnull(f);
	hw_err_clear(e);
	rc = hw_status_show_buf("s.json", text, len, json, f, NOW + 1000, e);
	fclose(f);
	if (rc < 0) {
		ck_assert_int_eq(rc, -1);
		ck_assert_int_eq(n, 0);
		ck_assert_int_ne(e->code, HW_OK);
		ck_assert(!strchr(e->msg, '\n'));
		free(out);
		return NULL;
	}
	ck_assert_int_eq(rc, 0);
	ck_assert(n > 0 && out[n - 1] == '\n');
	return out;
}

static void refused(const char *text, const char *why)
{
	struct hw_err e;
	char buf[HW_ERR_MSG_MAX + 256];

	for (int json = 0; json < 2; json++) {
		ck_assert_msg(show_text(text, strlen(text), json, &e) == NULL, "accepted: %s", text);
		ck_assert_msg(strstr(hw_err_str(&e, buf, sizeof buf), why), "%s: %s", text, buf);
	}
}

/* fuzz_status found raw bytes of the file reaching the terminal: bytes
 * that are not UTF-8, DEL and C1 controls in strings are refused (the
 * writer never leaves them raw) */
START_TEST(test_raw_bytes_refused)
{
	static const char *const bad[][2] = {
		{ "\"w\xcd\xcd\"", "invalid UTF-8 in a string" },
		{ "\"w\xff\"", "invalid UTF-8 in a string" },
		{ "\"w\xc0\xaf\"", "invalid UTF-8 in a string" },         /* overlong */
		{ "\"w\xed\xa0\x80\"", "invalid UTF-8 in a string" },     /* surrogate */
		{ "\"w\xf4\x90\x80\x80\"", "invalid UTF-8 in a string" }, /* > U+10FFFF */
		{ "\"w\xe2\x82\"", "invalid UTF-8 in a string" },         /* cut */
		{ "\"w\x7f\"", "a control character in a string" },
		{ "\"w\xc2\x9b" "31m\"", "a control character in a string" },
		{ "\"w\x1b[31m\"", "a control character in a string" },
	};

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char *d = doc_with(bad[i][0], "\"t\"", "");

		refused(d, bad[i][1]);
		free(d);
	}
	/* where: the offset of the bad byte */
	refused("{\"version\": 1, \"x\": \"\xff\"}", "byte 21: invalid UTF-8 in a string");
}
END_TEST

/* fuzz_status: a target name with a terminal escape, written as \u001b,
 * reached the terminal raw; it is shown as a visible escape now, and
 * --json prints the file (the escape stays escaped) */
START_TEST(test_escapes_shown)
{
	struct hw_err e;
	char *d = doc_with("\"web\\u001b[2J\\u0007\\u009b1m\\u007f\\u0000\\ud800\"",
			   "\"evil\\r\\nfake\\u00e9\\u20ac\"", ""), *out;

	out = show_text(d, strlen(d), 0, &e);
	ck_assert_ptr_nonnull(out);
	ck_assert_msg(strstr(out, "target web\\x1b[2J\\x07\\u009b1m\\x7f\xef\xbf\xbd\xef\xbf\xbd: leak"),
		      "%s", out);
	ck_assert_msg(strstr(out, "growing: evil\\x0d\\x0afake\xc3\xa9\xe2\x82\xac +61/h"), "%s", out);
	free(out);
	out = show_text(d, strlen(d), 1, &e);
	ck_assert_ptr_nonnull(out);
	ck_assert_str_eq(out, d);
	free(out);
	free(d);
}
END_TEST

/* the writer escapes C1 controls and DEL as \u, so its files are read */
START_TEST(test_writer_escapes_c1)
{
	struct hw_status_daemon d = { .pid = getpid(), .updated_ms = NOW,
				      .flush_interval_ns = 500000000 };
	struct hw_status_w w;
	struct hw_err e;
	char *out = NULL, buf[HW_ERR_MSG_MAX + 256];

	ck_assert_int_eq(hw_status_open(&w, path, &d, &e), 0);
	hw_status_target(&w, "a\xc2\x9b" "b\x7f" "c\xed\xa0\x80" "d\xf4\x90\x80\x80", NULL, -1, -1, 0);
	ck_assert_int_eq(hw_status_commit(&w, &e), 0);
	ck_assert_msg(show(1, NOW + 1000, &out, &e) == 0, "%s", hw_err_str(&e, buf, sizeof buf));
	ck_assert_msg(strstr(out, "\"name\": \"a\\u009bb\\u007fc\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"
			     "d\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\""), "%s", out);
	free(out);
	ck_assert_int_eq(show(0, NOW + 1000, &out, &e), 0);
	ck_assert_msg(strstr(out, "target a\\u009bb\\x7fc"), "%s", out);
	free(out);
}
END_TEST

/* fuzz_status: "updated": 1.79604e21 converted to time_t (undefined
 * behaviour, UBSan); numbers are JSON numbers, finite, and a pid or a
 * time out of range is not used as one */
START_TEST(test_numbers)
{
	struct hw_err e;
	char buf[HW_ERR_MSG_MAX + 256], *out;
	static const char *const bad[] = {
		"0x10", "+1", "01", "1.", ".5", "1e", "-", "\f1", "inf", "-nan", "1e999", "-1e400",
	};
	const char *big = "{\"version\": 1, \"updated\": -1.79604e21, \"targets\": []}";
	const char *far = "{\"version\": 1, \"updated\": 1e300, \"daemon\": {\"pid\": 1e300}, \"targets\": []}";
	char text[256];

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		snprintf(text, sizeof text, "{\"version\": 1, \"updated\": %s, \"targets\": []}", bad[i]);
		refused(text, "not a heapwatch status file: byte ");
	}
	refused("{\"version\": 1, \"updated\": 1e999, \"targets\": []}", "byte 26: a number out of range");
	{
		char *d = doc_with("\"w\"", "\"t\"", ", \"x\": 1111111111111111111111111111111111111111111111111111111111111111111");

		refused(d, "a number too long");
		free(d);
	}
	ck_assert_ptr_null(show_text(big, strlen(big), 0, &e));
	ck_assert_msg(strstr(hw_err_str(&e, buf, sizeof buf), "is stale: last updated ")
		      && strstr(buf, " ago (?)"), "%s", buf);
	/* in the future (1.79604e21 s), with a pid out of range: shown, the pid
	 * not used */
	out = show_text(far, strlen(far), 0, &e);
	ck_assert_ptr_nonnull(out);
	ck_assert_msg(strstr(out, "heapwatch daemon pid 1"), "%s", out);
	free(out);
	/* exact numbers still read */
	{
		char *d = doc_with("\"w\"", "\"t\"", ", \"x\": [-0, 0.5e-3, 12E+2, -1.25e1]");

		out = show_text(d, strlen(d), 0, &e);
		ck_assert_ptr_nonnull(out);
		free(out);
		free(d);
	}
}
END_TEST

/* --json prints the file itself; it always ends in a newline, and a
 * carriage return (only white space there) goes out as a space */
START_TEST(test_json_output_safe)
{
	struct hw_err e;
	char *d = doc_with("\"w\"", "\"t\"", ""), *out;
	size_t n = strlen(d);

	d[n - 1] = '\r';   /* "...}\r" instead of "...}\n" */
	out = show_text(d, n, 1, &e);
	ck_assert_ptr_nonnull(out);
	ck_assert_int_eq(strlen(out), n + 1);
	ck_assert(!strchr(out, '\r'));
	ck_assert(memcmp(out, d, n - 1) == 0 && strcmp(out + n - 1, " \n") == 0);
	free(out);
	/* no NUL terminator needed: the buffer ends where len says */
	out = show_text(d, n - 1, 1, &e);
	ck_assert_ptr_nonnull(out);
	ck_assert_int_eq(strlen(out), n);
	free(out);
	free(d);
}
END_TEST

/* deep nesting, many values: refused with a reason, in bounded time */
START_TEST(test_bounds)
{
	size_t n = (1u << 20) * 2 + 64;
	char *d = malloc(n + 1), *p = d;

	ck_assert_ptr_nonnull(d);
	p += sprintf(p, "{\"version\": 1, \"updated\": %.3f, \"targets\": [", (double)NOW / 1000);
	for (size_t i = 0; i < (1u << 20); i++)
		p += sprintf(p, "0,");
	sprintf(p - 1, "]}");
	refused(d, "too many values");
	memset(d, '[', 1000);
	d[1000] = '\0';
	refused(d, "nested too deep");
	free(d);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("status");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_round_trip);
	tcase_add_test(tc, test_refusals);
	tcase_add_test(tc, test_raw_bytes_refused);
	tcase_add_test(tc, test_escapes_shown);
	tcase_add_test(tc, test_writer_escapes_c1);
	tcase_add_test(tc, test_numbers);
	tcase_add_test(tc, test_json_output_safe);
	tcase_add_test(tc, test_bounds);
	suite_add_tcase(s, tc);
	return hw_run_suite(s);
}
