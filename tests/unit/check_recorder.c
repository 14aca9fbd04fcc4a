/* check_recorder.c - the history writer thread: samples handed over reach
 * the database in order; a history that cannot be written never blocks
 * the hand-over (the buffer drops its oldest, counted); the hand-over's
 * cost, measured. */
#include <check.h>

#include "runner.h"
#include <limits.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "heapwatch/log.h"
#include "heapwatch/recorder.h"
#include "heapwatch/units.h"

static char dir[PATH_MAX];
static int64_t base_ms;

static void setup(void)
{
	struct stat st;

	snprintf(dir, sizeof dir, "%s/check_recorder.XXXXXX",
		 stat("/dev/shm", &st) == 0 && access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	hw_log_set_level(HW_LOG_ERR);   /* the warnings are expected here */
	base_ms = (int64_t)time(NULL) * 1000 - 3600 * 1000;
}

static void teardown(void)
{
	char cmd[PATH_MAX + 16];

	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
}

static struct hw_history_config conf(const char *path)
{
	struct hw_history_config c;

	memset(&c, 0, sizeof c);
	c.enabled = true;
	snprintf(c.path, sizeof c.path, "%s", path);
	c.retention_ns = 7ull * 86400 * 1000000000ull;
	c.full_resolution_ns = 86400ull * 1000000000ull;
	c.thinned_interval_ns = 60ull * 1000000000ull;
	return c;
}

static void sample(struct hw_sample *s, struct hw_sample_type *types, int i)
{
	memset(s, 0, sizeof *s);
	snprintf(s->target, sizeof s->target, "t");
	s->pid = 100;
	s->starttime = 7;
	s->slot = 0;
	/* Now-ish: the writer's maintenance expires what is older than the
	 * retention. */
	s->wall_ms = base_ms + i;
	s->ok = 1;
	s->rss = (int64_t)i << 12;
	s->pss = s->uss = s->swap = -1;
	s->max_rss = s->rss;
	s->types = types;
	s->cap_types = 2;
	s->ntypes = 2;
	snprintf(types[0].name, sizeof types[0].name, "A");
	snprintf(types[1].name, sizeof types[1].name, "B");
	types[0].count = (uint64_t)i;
	types[1].count = 2u * (uint64_t)i;
}

static int64_t sql_int(const char *path, const char *sql)
{
	sqlite3 *d;
	sqlite3_stmt *st;
	int64_t v = -1;

	ck_assert_int_eq(sqlite3_open_v2(path, &d, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	ck_assert_int_eq(sqlite3_prepare_v2(d, sql, -1, &st, NULL), SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(d);
	return v;
}

START_TEST(test_written_in_order)
{
	char path[PATH_MAX + 8];
	struct hw_history_config c;
	struct hw_recorder *r;
	struct hw_recorder_stats st;
	struct hw_sample s;
	struct hw_sample_type types[2];
	struct hw_err e;

	snprintf(path, sizeof path, "%s/h.db", dir);
	c = conf(path);
	r = hw_recorder_start(&c, 1000, 2, 2000, &e);
	ck_assert_ptr_nonnull(r);
	for (int i = 0; i < 600; i++) {
		sample(&s, types, i);
		hw_recorder_add(r, &s);
		if (i % 100 == 99)
			hw_recorder_flush(r);
	}
	hw_recorder_stop(r);   /* the last flush */
	ck_assert_int_eq(sql_int(path, "SELECT count(*) FROM sample"), 600);
	ck_assert_int_eq(sql_int(path, "SELECT count(*) FROM type_count"), 1200);
	/* In order, and each count with its sample. */
	ck_assert_int_eq(sql_int(path, "SELECT count(*) FROM sample s JOIN type_count c ON c.sample = s.id"
				       " JOIN type t ON t.id = c.type WHERE t.name = 'B'"
				       " AND c.count * 4096 = 2 * s.rss"), 600);
	ck_assert_int_eq(sql_int(path, "SELECT count(*) FROM sample a JOIN sample b ON b.id = a.id + 1"
				       " WHERE b.t_ms < a.t_ms"), 0);
	hw_recorder_get_stats(NULL, &st);
	ck_assert_uint_eq(st.written, 0);
}
END_TEST

START_TEST(test_failing_never_blocks)
{
	char path[PATH_MAX + 32];
	struct hw_history_config c;
	struct hw_recorder *r;
	struct hw_recorder_stats st;
	struct hw_sample s;
	struct hw_sample_type types[2];
	struct hw_err e;
	uint64_t t0, worst = 0, total;
	const int n = 20000;

	/* A directory that does not exist: every open fails. */
	snprintf(path, sizeof path, "%s/missing/h.db", dir);
	c = conf(path);
	r = hw_recorder_start(&c, 100, 2, 200, &e);
	ck_assert_ptr_nonnull(r);
	t0 = hw_now_ns();
	for (int i = 0; i < n; i++) {
		uint64_t a = hw_now_ns(), d;

		sample(&s, types, i);
		hw_recorder_add(r, &s);
		if (i % 50 == 0)
			hw_recorder_flush(r);
		d = hw_now_ns() - a;
		if (d > worst)
			worst = d;
	}
	total = hw_now_ns() - t0;
	printf("NOTE hw_recorder_add: %.0f ns per sample on average over %d (longest %.1f us),"
	       " the writer failing all along\n", (double)total / n, n, (double)worst / 1000);
	/* Give the writer a moment to fail at least once. */
	for (int i = 0; i < 200; i++) {
		hw_recorder_get_stats(r, &st);
		if (st.failures)
			break;
		usleep(10000);
	}
	ck_assert_uint_ge(st.failures, 1);
	ck_assert(st.failing);
	ck_assert_uint_eq(st.written, 0);
	ck_assert_uint_eq(st.pending, 100);
	ck_assert_uint_eq(st.dropped, (uint64_t)n - 100);
	hw_recorder_stop(r);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("recorder");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_written_in_order);
	tcase_add_test(tc, test_failing_never_blocks);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return hw_run_suite(suite());
}
