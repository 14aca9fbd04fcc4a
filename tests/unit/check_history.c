/* check_history.c - the SQLite history: schema, round trip, refusals
 * (newer schema, another application's database, missing directory),
 * damaged files moved aside, thinning and retention exact per bucket, and
 * a 30-day run in compressed time whose file stays bounded. */
#include <check.h>

#include "runner.h"
#include <errno.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "heapwatch/history.h"
#include "heapwatch/units.h"
#include "heapwatch/verdict.h"

#define MIN_MS (60 * 1000LL)
#define DAY_MS (24 * 60 * MIN_MS)
#define NS_PER_MS 1000000ull
#define T0 1700000000000LL  /* a Tuesday in November 2023, ms */

static char dir[PATH_MAX];
static char db[PATH_MAX + 32];

/* On tmpfs when there is one: the tests count rows and bytes, and a
 * disk's fsyncs would only make them slow. */
static void setup(void)
{
	struct stat st;

	snprintf(dir, sizeof dir, "%s/check_history.XXXXXX",
		 stat("/dev/shm", &st) == 0 && access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(db, sizeof db, "%s/h.db", dir);
}

static void teardown(void)
{
	char cmd[PATH_MAX + 16];

	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
}

static struct hw_history *open_ok(const char *path, int writable)
{
	struct hw_err e;
	char buf[HW_ERR_MSG_MAX + 256], aside[PATH_MAX + 64];
	struct hw_history *h;

	hw_err_clear(&e);
	h = hw_history_open(path, writable, aside, sizeof aside, &e);
	ck_assert_msg(h != NULL, "%s", hw_err_str(&e, buf, sizeof buf));
	ck_assert_str_eq(aside, "");
	return h;
}

/* A sample of target/pid with ntypes types named T0..Tn counting
 * base + i. */
struct ts {
	struct hw_sample s;
	struct hw_sample_type types[8];
};

static void mk(struct ts *t, const char *target, pid_t pid, int64_t when,
	       int64_t rss, uint32_t ntypes, uint64_t base)
{
	memset(t, 0, sizeof *t);
	snprintf(t->s.target, sizeof t->s.target, "%s", target);
	t->s.pid = pid;
	t->s.starttime = pid ? 1000u + (uint64_t)pid : 0;
	t->s.wall_ms = when;
	t->s.ok = 1;
	t->s.rss = rss;
	t->s.pss = rss / 2;
	t->s.uss = rss / 4;
	t->s.swap = -1;
	t->s.max_rss = rss;
	t->s.slot = pid ? pid % 3 : -1;
	t->s.nprocs = pid ? 0 : 2;
	t->s.nprocs_ok = pid ? 0 : 2;
	t->s.gc_objects = 1000 + base;
	t->s.pause_us = 321;
	t->s.types = t->types;
	t->s.cap_types = 8;
	t->s.ntypes = ntypes;
	for (uint32_t i = 0; i < ntypes; i++) {
		snprintf(t->types[i].name, sizeof t->types[i].name, "T%u", i);
		t->types[i].count = base + i;
	}
}

static void write_ok(struct hw_history *h, struct ts *v, size_t n)
{
	const struct hw_sample *p[64];
	struct hw_err e;
	char buf[HW_ERR_MSG_MAX + 256];

	ck_assert_uint_le(n, 64);
	for (size_t i = 0; i < n; i++)
		p[i] = &v[i].s;
	hw_err_clear(&e);
	ck_assert_msg(hw_history_write(h, p, n, &e) == 0, "%s",
		      hw_err_str(&e, buf, sizeof buf));
}

static int64_t sql_int(const char *path, const char *sql)
{
	sqlite3 *d;
	sqlite3_stmt *st;
	int64_t v = -1;

	ck_assert_int_eq(sqlite3_open_v2(path, &d, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	ck_assert_msg(sqlite3_prepare_v2(d, sql, -1, &st, NULL) == SQLITE_OK, "%s: %s",
		      sql, sqlite3_errmsg(d));
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(d);
	return v;
}

static void sql_exec(const char *path, const char *sql)
{
	sqlite3 *d;

	ck_assert_int_eq(sqlite3_open(path, &d), SQLITE_OK);
	ck_assert_msg(sqlite3_exec(d, sql, NULL, NULL, NULL) == SQLITE_OK, "%s: %s",
		      sql, sqlite3_errmsg(d));
	sqlite3_close(d);
}

/* ---- collecting what the reader gives ---- */

struct got {
	struct hw_history_point pts[64];
	size_t npts;
	int64_t ct[256];
	char cname[256][HW_SAMPLE_NAME_MAX];
	uint64_t cv[256];
	size_t ncounts;
};

static int on_point(void *arg, const struct hw_history_point *p)
{
	struct got *g = arg;

	if (g->npts < 64)
		g->pts[g->npts++] = *p;
	return 0;
}

static int on_count(void *arg, int64_t t, const char *name, uint64_t count)
{
	struct got *g = arg;

	if (g->ncounts < 256) {
		g->ct[g->ncounts] = t;
		snprintf(g->cname[g->ncounts], HW_SAMPLE_NAME_MAX, "%s", name);
		g->cv[g->ncounts++] = count;
	}
	return 0;
}

START_TEST(test_round_trip)
{
	struct hw_history *h;
	struct hw_history_proc *procs;
	struct hw_history_sel sel = { 0, NULL, -1 };
	struct ts v[4];
	struct got g;
	struct hw_err e;
	size_t n;
	int trunc;
	char names[128];

	h = open_ok(db, 1);
	mk(&v[0], "web", 4242, T0, 10 << 20, 3, 100);
	mk(&v[1], "web", 0, T0, 20 << 20, 2, 200);
	mk(&v[2], "web", 4242, T0 + 1000, 11 << 20, 3, 110);
	mk(&v[3], "celery", 77, T0 + 1000, -1, 0, 0);
	v[3].s.ok = 0;  /* no census: only memory figures, and unknown RSS */
	/* The daemon's judgement (verdict.h) goes in by name. */
	v[2].s.has_verdict = 1;
	v[2].s.verdict = HW_VERDICT_LEAK;
	v[2].s.kind = HW_KIND_PYTHON;
	v[2].s.has_rss_growth = 1;
	v[2].s.rss_growth_per_hour = -5000;
	v[2].types[0].has_growth = 1;
	v[2].types[0].growth_per_hour = 1234;
	/* A hostile class name goes in and comes out as it was. */
	snprintf(v[2].types[2].name, HW_SAMPLE_NAME_MAX, "x'); DROP TABLE type; --\n\x1b[31m");
	write_ok(h, v, 4);
	hw_history_close(h);

	ck_assert_int_eq(sql_int(db, "PRAGMA application_id"), HW_HISTORY_APP_ID);
	ck_assert_int_eq(sql_int(db, "PRAGMA user_version"), HW_HISTORY_SCHEMA);
	ck_assert_int_eq(sql_int(db, "SELECT count(*) FROM samples"), 4);
	ck_assert_int_eq(sql_int(db, "SELECT count(*) FROM type_counts"), 8);
	ck_assert_int_eq(sql_int(db, "SELECT nprocs FROM samples WHERE pid = 0"), 2);
	ck_assert_int_eq(sql_int(db, "SELECT count(*) FROM samples WHERE pid = 4242 AND nprocs IS NULL"), 2);
	ck_assert_int_eq(sql_int(db, "SELECT count(*) FROM samples WHERE target = 'celery'"
				     " AND rss IS NULL AND gc_objects IS NULL AND ok = 0"), 1);
	ck_assert_int_eq(sql_int(db, "SELECT count FROM type_counts WHERE pid = 4242 AND t_ms = 1700000001000"
				     " AND type = 'T1'"), 111);
	ck_assert_int_eq(sql_int(db, "SELECT count(*) FROM samples WHERE verdict = 'leak' AND kind = 'python'"
				     " AND rss_growth_per_hour = -5000"), 1);
	ck_assert_int_eq(sql_int(db, "SELECT count(*) FROM samples WHERE verdict IS NULL"), 3);
	ck_assert_int_eq(sql_int(db, "SELECT growth_per_hour FROM type_counts WHERE type = 'T0'"
				     " AND t_ms = 1700000001000"), 1234);
	ck_assert_int_eq(sql_int(db, "SELECT count(*) FROM type_counts WHERE growth_per_hour IS NULL"), 7);

	h = open_ok(db, 0);
	hw_err_clear(&e);
	ck_assert_int_eq(hw_history_targets(h, names, sizeof names, &e), 2);
	ck_assert_str_eq(names, "celery, web");
	ck_assert_int_eq(hw_history_procs(h, "web", 0, 100, &procs, &n, &trunc, &e), 0);
	ck_assert_uint_eq(n, 2);
	ck_assert_int_eq(procs[0].pid, 0);      /* the aggregate first */
	ck_assert_int_eq(procs[1].pid, 4242);
	ck_assert_uint_eq(procs[1].starttime, 1000 + 4242);
	ck_assert_int_eq(procs[1].first_ms, T0);
	ck_assert_int_eq(procs[1].last_ms, T0 + 1000);
	ck_assert_uint_eq(procs[1].nsamples, 2);
	memset(&g, 0, sizeof g);
	sel.proc_id = procs[1].id;
	ck_assert_int_eq(hw_history_points(h, &sel, 0, on_point, &g, &e), 0);
	ck_assert_uint_eq(g.npts, 2);
	ck_assert_int_eq(g.pts[1].rss, 11 << 20);
	ck_assert_int_eq(g.pts[1].pss, (11 << 20) / 2);
	ck_assert_int_eq(g.pts[1].swap, -1);
	ck_assert_int_eq(g.pts[1].gc_objects, 1110);
	ck_assert_int_eq(g.pts[1].pause_us, 321);
	ck_assert_uint_eq(g.pts[1].samples, 1);
	ck_assert_str_eq(g.pts[1].verdict, "leak");
	ck_assert_str_eq(g.pts[1].kind, "python");
	ck_assert_str_eq(g.pts[0].verdict, "");
	ck_assert_int_eq(hw_history_counts(h, &sel, T0 + 1, on_count, &g, &e), 0);
	ck_assert_uint_eq(g.ncounts, 3);
	/* A sample's counts come together, in no promised order. */
	for (size_t i = 0; i < 3; i++) {
		ck_assert_int_eq(g.ct[i], T0 + 1000);
		if (strcmp(g.cname[i], "T0") == 0)
			ck_assert_uint_eq(g.cv[i], 110);
		else if (strcmp(g.cname[i], "T1") == 0)
			ck_assert_uint_eq(g.cv[i], 111);
		else
			ck_assert_msg(strcmp(g.cname[i], "x'); DROP TABLE type; --\n\x1b[31m") == 0 &&
				      g.cv[i] == 112, "%s = %llu", g.cname[i],
				      (unsigned long long)g.cv[i]);
	}
	ck_assert_int_eq(procs[1].slot, 4242 % 3);
	ck_assert_int_eq(procs[0].slot, -1);
	free(procs);
	/* A slot's series: the processes that held it. */
	sel.proc_id = 0;
	sel.target = "web";
	sel.slot = 4242 % 3;
	memset(&g, 0, sizeof g);
	ck_assert_int_eq(hw_history_points(h, &sel, 0, on_point, &g, &e), 0);
	ck_assert_uint_eq(g.npts, 2);
	ck_assert_int_eq(g.pts[0].pid, 4242);
	sel.slot = 2;
	memset(&g, 0, sizeof g);
	ck_assert_int_eq(hw_history_points(h, &sel, 0, on_point, &g, &e), 0);
	ck_assert_uint_eq(g.npts, 0);
	/* since_ms filters; max truncates. */
	ck_assert_int_eq(hw_history_procs(h, NULL, T0 + 1, 1, &procs, &n, &trunc, &e), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert(trunc);
	ck_assert_str_eq(procs[0].target, "celery");
	free(procs);
	ck_assert_int_eq(hw_history_procs(h, "nosuch", 0, 10, &procs, &n, &trunc, &e), 0);
	ck_assert_uint_eq(n, 0);
	ck_assert_ptr_null(procs);
	/* The reader cannot write. */
	ck_assert_int_eq(hw_history_write(h, NULL, 0, &e), -1);
	hw_history_close(h);
}
END_TEST

START_TEST(test_refusals)
{
	struct hw_err e;
	char buf[HW_ERR_MSG_MAX + 256], path[PATH_MAX + 64], aside[PATH_MAX + 64];

	/* A missing directory is not created. */
	snprintf(path, sizeof path, "%s/nodir/h.db", dir);
	hw_err_clear(&e);
	ck_assert_ptr_null(hw_history_open(path, 1, aside, sizeof aside, &e));
	ck_assert_int_eq(e.code, HW_EIO);
	ck_assert_int_eq(e.sys_errno, ENOENT);
	ck_assert_msg(strstr(hw_err_str(&e, buf, sizeof buf), path), "%s", buf);
	/* Read-only: the file must exist. */
	ck_assert_ptr_null(hw_history_open(db, 0, NULL, 0, &e));
	ck_assert_int_eq(e.sys_errno, ENOENT);

	/* A newer schema is refused, read-only and writable, and kept. */
	hw_history_close(open_ok(db, 1));
	sql_exec(db, "PRAGMA user_version = 7");
	for (int w = 0; w < 2; w++) {
		hw_err_clear(&e);
		ck_assert_ptr_null(hw_history_open(db, w, aside, sizeof aside, &e));
		ck_assert_int_eq(e.code, HW_EVERSION);
		hw_err_str(&e, buf, sizeof buf);
		ck_assert_msg(strstr(buf, "schema version 7 is newer than this heapwatch reads (1)"),
			      "%s", buf);
		ck_assert_str_eq(aside, "");
	}
	ck_assert_int_eq(sql_int(db, "PRAGMA user_version"), 7);
	unlink(db);

	/* Another application's database is left alone. */
	sql_exec(db, "CREATE TABLE mine (x); INSERT INTO mine VALUES (42)");
	hw_err_clear(&e);
	ck_assert_ptr_null(hw_history_open(db, 1, aside, sizeof aside, &e));
	ck_assert_int_eq(e.code, HW_ECORRUPT);
	ck_assert_msg(strstr(hw_err_str(&e, buf, sizeof buf), "not a heapwatch history"), "%s", buf);
	ck_assert_int_eq(sql_int(db, "SELECT x FROM mine"), 42);
	unlink(db);
}
END_TEST

static void write_file(const char *path, const void *data, size_t n)
{
	FILE *f = fopen(path, "wb");

	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(data, 1, n, f), n);
	ck_assert_int_eq(fclose(f), 0);
}

START_TEST(test_damaged_moved_aside)
{
	struct hw_history *h;
	struct hw_err e;
	char buf[HW_ERR_MSG_MAX + 256], aside[PATH_MAX + 64], junk[8192];
	struct ts v[1];
	struct stat st;
	FILE *f;

	/* Not a database at all. */
	memset(junk, 'x', sizeof junk);
	write_file(db, junk, sizeof junk);
	hw_err_clear(&e);
	ck_assert_ptr_null(hw_history_open(db, 0, NULL, 0, &e));   /* reader: refused */
	ck_assert_int_eq(e.code, HW_ECORRUPT);
	h = hw_history_open(db, 1, aside, sizeof aside, &e);
	ck_assert_msg(h != NULL, "%s", hw_err_str(&e, buf, sizeof buf));
	ck_assert_msg(strncmp(aside, db, strlen(db)) == 0 && strstr(aside, ".corrupt-"), "%s", aside);
	ck_assert_int_eq(stat(aside, &st), 0);
	ck_assert_int_eq(st.st_size, sizeof junk);
	mk(&v[0], "web", 1, T0, 1 << 20, 2, 5);
	write_ok(h, v, 1);
	hw_history_close(h);
	ck_assert_int_eq(sql_int(db, "SELECT count(*) FROM sample"), 1);

	/* A real history with pages overwritten in the middle: quick_check
	 * finds it. */
	h = open_ok(db, 1);
	for (int i = 0; i < 40; i++) {
		struct ts w[50];

		for (int k = 0; k < 50; k++)
			mk(&w[k], "web", 1 + k, T0 + 1000 * (i + 1), 1 << 20, 8, (uint64_t)k);
		write_ok(h, w, 50);
	}
	hw_history_close(h);
	sql_exec(db, "PRAGMA wal_checkpoint(TRUNCATE)");
	ck_assert_int_eq(stat(db, &st), 0);
	ck_assert_int_gt(st.st_size, 16 * 4096);
	f = fopen(db, "r+b");
	ck_assert_ptr_nonnull(f);
	memset(junk, 0x5a, sizeof junk);
	ck_assert_int_eq(fseek(f, 4 * 4096, SEEK_SET), 0);
	ck_assert_uint_eq(fwrite(junk, 1, sizeof junk, f), sizeof junk);
	ck_assert_int_eq(fclose(f), 0);
	hw_err_clear(&e);
	h = hw_history_open(db, 1, aside, sizeof aside, &e);
	ck_assert_msg(h != NULL, "%s", hw_err_str(&e, buf, sizeof buf));
	ck_assert_msg(strstr(aside, ".corrupt-"), "not moved aside");
	hw_history_close(h);
	ck_assert_int_eq(sql_int(db, "SELECT count(*) FROM sample"), 0);
}
END_TEST

static struct hw_history_config ages(int64_t retention_ms, int64_t full_ms,
				     int64_t step_ms)
{
	struct hw_history_config c;

	memset(&c, 0, sizeof c);
	c.enabled = true;
	c.retention_ns = (uint64_t)retention_ms * NS_PER_MS;
	c.full_resolution_ns = (uint64_t)full_ms * NS_PER_MS;
	c.thinned_interval_ns = (uint64_t)step_ms * NS_PER_MS;
	return c;
}

static void maintain_all(struct hw_history *h, int64_t now,
			 const struct hw_history_config *c,
			 struct hw_history_maint *sum)
{
	struct hw_history_maint m;
	struct hw_err e;
	char buf[HW_ERR_MSG_MAX + 256];
	int rounds = 0;

	memset(sum, 0, sizeof *sum);
	do {
		hw_err_clear(&e);
		ck_assert_msg(hw_history_maintain(h, now, c, &m, &e) == 0, "%s",
			      hw_err_str(&e, buf, sizeof buf));
		sum->thinned += m.thinned;
		sum->expired += m.expired;
		sum->processes += m.processes;
		ck_assert_int_lt(++rounds, 10000);
	} while (m.more);
}

/* Samples every 10 s for 3 hours of two processes, RSS a sawtooth; ages:
 * full resolution 1 h, one per 5 min after, retention 2.5 h.  Every
 * bucket is checked against what it must hold. */
START_TEST(test_thinning_exact)
{
	const int64_t step = 5 * MIN_MS, full = 60 * MIN_MS, keep = 150 * MIN_MS;
	const int64_t start = T0 - T0 % step, end = start + 180 * MIN_MS;
	struct hw_history_config c = ages(keep, full, step);
	struct hw_history_maint sum;
	struct hw_history *h = open_ok(db, 1);
	char sql[512];

	for (int64_t t = start; t < end; t += 60 * 1000) {
		struct ts v[12];
		size_t n = 0;

		for (int64_t u = t; u < t + 60 * 1000; u += 10 * 1000)
			for (pid_t pid = 1; pid <= 2; pid++)
				mk(&v[n++], "web", pid, u,
				   (int64_t)(1 << 20) * (pid + (u / 10000) % 7), 3, (uint64_t)(u / 1000));
		write_ok(h, v, n);
	}
	maintain_all(h, end, &c, &sum);
	hw_history_close(h);
	/* Nothing older than the retention. */
	snprintf(sql, sizeof sql, "SELECT count(*) FROM sample WHERE t_ms < %lld",
		 (long long)(end - keep));
	ck_assert_int_eq(sql_int(db, sql), 0);
	/* The last hour untouched: 360 samples per process. */
	snprintf(sql, sizeof sql, "SELECT count(*) FROM sample WHERE t_ms >= %lld AND samples = 1",
		 (long long)(end - full));
	ck_assert_int_eq(sql_int(db, sql), 2 * 360);
	/* In between: one row per process and 5-minute bucket, standing for
	 * its 30 samples, holding their lowest RSS and highest peak. */
	snprintf(sql, sizeof sql,
		 "SELECT count(*) FROM sample WHERE t_ms >= %lld AND t_ms < %lld",
		 (long long)(end - keep), (long long)(end - full));
	ck_assert_int_eq(sql_int(db, sql), 2 * 18);
	snprintf(sql, sizeof sql,
		 "SELECT count(*) FROM sample s JOIN process p ON p.id = s.process"
		 " WHERE t_ms < %lld AND samples = 30"
		 " AND rss = %lld * p.pid AND rss_peak = %lld * (p.pid + 6)",
		 (long long)(end - full), 1ll << 20, 1ll << 20);
	ck_assert_int_eq(sql_int(db, sql), 2 * 18);
	/* The kept rows keep their own type counts; the others' are gone. */
	ck_assert_int_eq(sql_int(db, "SELECT count(*) FROM type_count"),
			 sql_int(db, "SELECT count(*) FROM sample") * 3);
	ck_assert_int_eq(sql_int(db, "SELECT count(*) FROM type_count c LEFT JOIN sample s"
				     " ON s.id = c.sample WHERE s.id IS NULL"), 0);
	ck_assert_uint_eq(sum.expired + sum.thinned, 2 * 1080 - 2 * 360 - 2 * 18);
	/* Running it again changes nothing. */
	h = open_ok(db, 1);
	maintain_all(h, end, &c, &sum);
	ck_assert_uint_eq(sum.thinned + sum.expired, 0);
	/* Past the retention of everything: processes go too. */
	maintain_all(h, end + keep + 1, &c, &sum);
	ck_assert_uint_eq(sum.processes, 2);
	hw_history_close(h);
	ck_assert_int_eq(sql_int(db, "SELECT count(*) FROM process"), 0);
	ck_assert_int_eq(sql_int(db, "SELECT count(*) FROM type"), 0);
}
END_TEST

/* 30 days in compressed time: two processes sampled every 5 minutes, 4
 * types, written every simulated half hour and maintained every hour,
 * with retention 7d and full resolution 1d (the defaults) and one row per
 * hour after that (coarser than the default minute, so that the thinning
 * has work to do at this sampling rate).  The rows never pass
 * their bound and the file stops growing once retention is reached. */
START_TEST(test_bounded_over_30_days)
{
	const int64_t every = 5 * MIN_MS, step = 60 * MIN_MS;
	struct hw_history_config c = ages(7 * DAY_MS, DAY_MS, step);
	struct hw_history_maint sum;
	struct hw_history *h = open_ok(db, 1);
	/* per process: a day of every sample (and the bucket the cut-off
	 * falls in), then one per bucket of the other 6 days (and the edges) */
	const int64_t bound = 2 * (DAY_MS / every + step / every + 6 * DAY_MS / step + 2);
	int64_t size_day8 = 0, size_max = 0, rows_max = 0, wal_max = 0;
	unsigned seed = 14;
	struct stat st;
	char wal[PATH_MAX + 64];

	uint64_t t_start = hw_now_ns();

	printf("NOTE seed %u\n", seed);
	snprintf(wal, sizeof wal, "%s-wal", db);
	for (int64_t t = T0; t < T0 + 30 * DAY_MS; t += 30 * MIN_MS) {
		struct ts v[12];
		size_t n = 0;

		for (int64_t u = t; u < t + 30 * MIN_MS; u += every)
			for (pid_t pid = 1; pid <= 2; pid++)
				mk(&v[n++], "web", pid, u, (int64_t)(rand_r(&seed) % 1000 + 1000) << 20,
				   4, (uint64_t)(u - T0) / every);
		write_ok(h, v, n);
		if ((t - T0) % (60 * MIN_MS) == 0)
			maintain_all(h, t + 30 * MIN_MS, &c, &sum);
		if ((t - T0) % DAY_MS == 0) {
			int64_t rows = sql_int(db, "SELECT count(*) FROM sample"), size;

			ck_assert_int_eq(stat(db, &st), 0);
			size = st.st_size;
			if (stat(wal, &st) == 0 && st.st_size > wal_max)
				wal_max = st.st_size;
			if (rows > rows_max)
				rows_max = rows;
			if (t - T0 == 8 * DAY_MS)
				size_day8 = size;
			if (t - T0 >= 8 * DAY_MS && size > size_max)
				size_max = size;
			ck_assert_msg(rows <= bound, "day %lld: %lld rows > %lld",
				      (long long)((t - T0) / DAY_MS), (long long)rows,
				      (long long)bound);
		}
	}
	hw_history_close(h);
	printf("NOTE 30 days compressed: at most %lld sample rows (bound %lld); file %lld bytes at day 8, at most %lld after (-wal at most %lld); %.1f s\n",
	       (long long)rows_max, (long long)bound, (long long)size_day8, (long long)size_max,
	       (long long)wal_max,
	       (double)(hw_now_ns() - t_start) / 1e9);
	ck_assert_int_gt(size_day8, 0);
	/* Flat: free pages are reused, never more than a little growth. */
	ck_assert_msg(size_max <= size_day8 + size_day8 / 4, "file grew from %lld to %lld",
		      (long long)size_day8, (long long)size_max);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("history");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, test_round_trip);
	tcase_add_test(tc, test_refusals);
	tcase_add_test(tc, test_damaged_moved_aside);
	tcase_add_test(tc, test_thinning_exact);
	tcase_add_test(tc, test_bounded_over_30_days);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return hw_run_suite(suite());
}
