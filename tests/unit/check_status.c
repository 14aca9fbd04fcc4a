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

int main(void)
{
	Suite *s = suite_create("status");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_round_trip);
	tcase_add_test(tc, test_refusals);
	suite_add_tcase(s, tc);
	return hw_run_suite(s);
}
