/* check_census.c - the capture engine and the census over synthetic heaps,
 * with a stopper of our own that changes the heap while the target is
 * "stopped" (a heap that grew between the plan and the copy, a collection
 * that starts or ends) and counts that every stop was resumed. */
#include <check.h>

#include "runner.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "heapwatch/capture.h"
#include "heapwatch/census.h"
#include "heapwatch/gcwalk.h"
#include "synth.h"

/* ------------------------------------------------------------------ */
/* a stopper over a synthetic heap */

struct tstop {
	struct hw_stopper base;
	struct synth *h;
	int stopped;                   /* between a stop and its resume */
	unsigned stops, resumes;       /* successful stops, resumes */
	uint64_t fake_elapsed_ns;      /* reported as the stop's length */
	int fail_stop;                 /* stop fails with this code */
	int fail_resume;               /* resume "fails" (releasing anyway) */
	/* called by each stop, with the number of that stop (1, 2, ...) */
	void (*on_stop)(struct tstop *t, unsigned nth);
	uint64_t type;                 /* for on_stop hooks that add objects */
	unsigned grow_until;           /* grow on stops 1..grow_until */
	unsigned busy_until;           /* collecting until this stop */
	uint64_t added;                /* objects added by hooks */
};

static int t_stop(void *ctx, struct hw_err *e)
{
	struct tstop *t = ctx;

	ck_assert_msg(!t->stopped, "stopped twice without a resume");
	if (t->fail_stop)
		return hw_err_set(e, (enum hw_code)t->fail_stop, 0, "%s (test)",
				  hw_err_code_desc((enum hw_code)t->fail_stop));
	t->stopped = 1;
	t->stops++;
	if (t->on_stop)
		t->on_stop(t, t->stops);
	return 0;
}

static int t_resume(void *ctx, struct hw_err *e)
{
	struct tstop *t = ctx;

	ck_assert_msg(t->stopped, "resumed without a stop");
	t->stopped = 0;
	t->resumes++;
	if (t->fail_resume)
		return hw_err_set(e, HW_ESYS, 5, "detaching thread 77");
	return 0;
}

static uint64_t t_elapsed(void *ctx)
{
	struct tstop *t = ctx;

	return t->fake_elapsed_ns ? t->fake_elapsed_ns : 1000;
}

static void tstop_init(struct tstop *t, struct synth *h)
{
	memset(t, 0, sizeof *t);
	t->h = h;
	t->base = (struct hw_stopper){ t_stop, t_resume, t_elapsed, t };
}

/* Objects appended far from everything copied so far: a fresh arena. */
static void grow_far(struct tstop *t, unsigned n)
{
	synth_alloc(t->h, 2 * HW_SNAP_BLOCK);
	/* start on a block boundary, so that one widened miss covers all */
	while ((SYNTH_BASE + t->h->used) % HW_SNAP_BLOCK)
		synth_alloc(t->h, 16);
	for (unsigned i = 0; i < n; i++)
		synth_obj(t->h, t->type, i % 3);
	t->added += n;
}

static void hook_grow(struct tstop *t, unsigned nth)
{
	if (nth <= t->grow_until)
		grow_far(t, 100);
}

static void set_collecting(struct synth *h, int32_t v)
{
	synth_w32(h, h->gc + (uint64_t)h->o.gc_collecting, (uint32_t)v);
}

static void hook_busy(struct tstop *t, unsigned nth)
{
	if (nth >= t->busy_until)
		set_collecting(t->h, 0);
}

/* ------------------------------------------------------------------ */
/* fixture: a 3.11-shaped heap, a session over it */

struct fx {
	struct synth h;
	struct hw_mem *m;
	struct tstop ts;
	struct hw_layout l;
	struct hw_target_desc d;
	struct hw_census_opts o;
	struct hw_session *s;
	struct hw_census c;
	struct hw_err e;
	uint64_t tm;       /* the type of the objects we count */
	uint64_t total;    /* GC objects in the heap */
};

static void fx_heap(struct fx *f, size_t size, unsigned nobj)
{
	struct hw_offsets o;

	memset(f, 0, sizeof *f);
	synth_layout_311(&o);
	synth_init(&f->h, &o, size);
	f->tm = synth_type(&f->h, "Marker", 1, "Marker", "app");
	for (unsigned i = 0; i < nobj; i++)
		synth_obj(&f->h, f->tm, i % 3);
	f->total = nobj;
	f->m = synth_mem(&f->h);
	tstop_init(&f->ts, &f->h);
	f->ts.type = f->tm;
	f->l.off = o;
	f->l.source = HW_SRC_TABLE;
	snprintf(f->l.detail, sizeof f->l.detail, "synthetic 3.11");
	f->d.pid = 4242;
	snprintf(f->d.version, sizeof f->d.version, "3.11.7");
	f->d.roots.runtime_addr = synth_runtime(&f->h);
	hw_census_opts_default(&f->o);
	hw_census_init(&f->c);
	hw_err_clear(&f->e);
}

static void fx_session(struct fx *f)
{
	f->s = hw_session_new(&f->d, f->m, &f->l, &f->ts.base, &f->o, &f->e);
	ck_assert_msg(f->s != NULL, "session: %s", f->e.msg);
}

static void fx_close(struct fx *f)
{
	ck_assert_uint_eq(f->ts.stops, f->ts.resumes);
	ck_assert_int_eq(f->ts.stopped, 0);
	hw_census_fini(&f->c);
	hw_session_free(f->s);
	hw_mem_free(f->m);
	synth_fini(&f->h);
}

static int census(struct fx *f)
{
	return hw_session_census(f->s, &f->c, &f->e);
}

static void census_ok(struct fx *f)
{
	ck_assert_msg(census(f) == 0, "census: %s", f->e.msg);
	ck_assert_uint_eq(f->c.gc_objects, f->total + f->ts.added);
	ck_assert_uint_eq(hw_census_count(&f->c, "app.Marker"), f->total + f->ts.added);
	ck_assert_int_eq(f->c.partial, 0);
}

/* ------------------------------------------------------------------ */
/* the census through a session */

START_TEST(test_census_no_process)
{
	struct fx f;

	fx_heap(&f, 4 << 20, 3000);
	fx_session(&f);
	census_ok(&f);
	ck_assert_int_eq(f.c.pid, 4242);
	ck_assert_str_eq(f.c.python, "3.11.7");
	ck_assert_str_eq(f.c.layout_source, "table");
	ck_assert_str_eq(f.c.layout_detail, "synthetic 3.11");
	ck_assert_str_eq(f.c.mode, "snapshot");
	/* the pre-walk's plan was enough: one copy, nothing missed */
	ck_assert_uint_eq(f.c.attempts, 1);
	ck_assert_uint_eq(f.c.misses, 0);
	ck_assert_uint_eq(f.c.stops, 1);
	ck_assert_uint_eq(f.c.starttime, 0);
	ck_assert_int_eq(f.c.mem.rss, -1);
	ck_assert_uint_eq(f.c.per_list[0] + f.c.per_list[1] + f.c.per_list[2], 3000);
	ck_assert_uint_eq(f.c.ntypes, 1);
	ck_assert_str_eq(f.c.types[0].name, "app.Marker");
	/* the plan is kept: the second census copies once, misses nothing */
	census_ok(&f);
	ck_assert_uint_eq(f.c.attempts, 1);
	ck_assert_uint_eq(f.c.misses, 0);
	fx_close(&f);
}
END_TEST

START_TEST(test_types_merged_and_sorted)
{
	struct fx f;
	uint64_t a, b, t;

	fx_heap(&f, 4 << 20, 0);
	/* two classes of one name are one row; ties sort by name */
	a = synth_type(&f.h, "Dup", 1, "Dup", "m");
	b = synth_type(&f.h, "Dup", 1, "Dup", "m");
	t = synth_type(&f.h, "tuple", 0, NULL, NULL);
	for (int i = 0; i < 5; i++)
		synth_obj(&f.h, a, 0);
	for (int i = 0; i < 7; i++)
		synth_obj(&f.h, b, 2);
	for (int i = 0; i < 12; i++)
		synth_obj(&f.h, t, 1);
	synth_obj(&f.h, f.h.dict_type, 1);
	fx_session(&f);
	ck_assert_msg(census(&f) == 0, "census: %s", f.e.msg);
	ck_assert_uint_eq(f.c.ntypes, 3);
	ck_assert_str_eq(f.c.types[0].name, "m.Dup");
	ck_assert_uint_eq(f.c.types[0].count, 12);
	ck_assert_str_eq(f.c.types[1].name, "tuple");
	ck_assert_uint_eq(f.c.types[1].count, 12);
	ck_assert_str_eq(f.c.types[2].name, "dict");
	ck_assert_uint_eq(f.c.gc_objects, 25);
	fx_close(&f);
}
END_TEST

START_TEST(test_grew_between_plan_and_copy)
{
	struct fx f;

	fx_heap(&f, 8 << 20, 3000);
	f.ts.on_stop = hook_grow;
	f.ts.grow_until = 1;
	fx_session(&f);
	census_ok(&f);
	ck_assert_uint_eq(f.ts.added, 100);
	ck_assert_str_eq(f.c.mode, "snapshot");
	ck_assert_uint_eq(f.c.attempts, 2);
	ck_assert_uint_gt(f.c.misses, 0);
	ck_assert_uint_eq(f.c.stops, 2);
	/* the widened plan is kept */
	census_ok(&f);
	ck_assert_uint_eq(f.c.attempts, 1);
	ck_assert_uint_eq(f.c.misses, 0);
	fx_close(&f);
}
END_TEST

START_TEST(test_keeps_growing_falls_back)
{
	struct fx f;

	fx_heap(&f, 8 << 20, 3000);
	f.ts.on_stop = hook_grow;
	f.ts.grow_until = 1000;
	fx_session(&f);
	census_ok(&f);
	ck_assert_str_eq(f.c.mode, "stopped");
	ck_assert_uint_eq(f.c.attempts, HW_CENSUS_ATTEMPTS);
	ck_assert_uint_eq(f.c.stops, HW_CENSUS_ATTEMPTS + 1);
	ck_assert_uint_eq(f.ts.added, 100 * (HW_CENSUS_ATTEMPTS + 1));
	fx_close(&f);
}
END_TEST

START_TEST(test_snapshot_limit_walks_stopped)
{
	struct fx f;

	/* 10000 objects, about 480 KiB: over a 192 KiB limit */
	fx_heap(&f, 4 << 20, 10000);
	f.o.snapshot_limit = 3 * HW_SNAP_BLOCK;
	fx_session(&f);
	census_ok(&f);
	ck_assert_str_eq(f.c.mode, "stopped");
	ck_assert_uint_eq(f.c.attempts, 0);
	ck_assert_uint_eq(f.c.stops, 1);
	fx_close(&f);
}
END_TEST

START_TEST(test_mode_stopped)
{
	struct fx f;

	fx_heap(&f, 4 << 20, 3000);
	f.o.mode = HW_MODE_STOPPED;
	fx_session(&f);
	census_ok(&f);
	ck_assert_str_eq(f.c.mode, "stopped");
	ck_assert_uint_eq(f.c.stops, 1);
	ck_assert_uint_eq(f.c.attempts, 0);
	fx_close(&f);
}
END_TEST

START_TEST(test_busy_then_clear)
{
	struct fx f;

	fx_heap(&f, 4 << 20, 500);
	set_collecting(&f.h, 1);
	f.ts.on_stop = hook_busy;
	f.ts.busy_until = 3;      /* clears at the third stop */
	fx_session(&f);
	census_ok(&f);
	ck_assert_uint_eq(f.c.busy_waits, 2);
	ck_assert_uint_ge(f.c.stops, 3);
	fx_close(&f);
}
END_TEST

START_TEST(test_busy_forever)
{
	struct fx f;

	fx_heap(&f, 4 << 20, 500);
	set_collecting(&f.h, 1);
	f.o.busy_retries = 3;
	fx_session(&f);
	ck_assert_int_eq(census(&f), -1);
	ck_assert_int_eq(f.e.code, HW_EBUSY);
	ck_assert_uint_eq(f.c.busy_waits, 3);
	ck_assert_uint_eq(f.ts.stops, 4);
	/* the session names its pid, once */
	ck_assert_msg(strncmp(f.e.msg, "pid 4242: ", 10) == 0, "%s", f.e.msg);
	ck_assert_msg(!strstr(f.e.msg + 1, "pid 4242"), "%s", f.e.msg);
	fx_close(&f);
}
END_TEST

START_TEST(test_pause_budget_partial)
{
	struct fx f;

	/* every stop says it has already lasted 1 s: past a 5 ms budget
	 * before anything is copied.  The copies come back empty, the
	 * stopped walk is cut at its first clock check (4096 objects). */
	fx_heap(&f, 4 << 20, 10000);
	f.o.max_pause_ns = 5000000;
	f.ts.fake_elapsed_ns = 1000000000;
	fx_session(&f);
	ck_assert_msg(census(&f) == 0, "census: %s", f.e.msg);
	ck_assert_int_eq(f.c.partial, 1);
	ck_assert_str_eq(f.c.partial_reason, "pause budget reached");
	ck_assert_uint_lt(f.c.gc_objects, 10000);
	ck_assert_uint_eq(f.c.copied_bytes > 0 || f.c.attempts > 0, 1);
	fx_close(&f);
}
END_TEST

/* A walk of the copy has a deadline of its own: a huge or hostile heap
 * cannot hold the census forever.  Cut short, partial, and said. */
START_TEST(test_walk_deadline_partial)
{
	struct fx f;

	fx_heap(&f, 4 << 20, 10000);
	f.o.max_walk_ns = 1;
	fx_session(&f);
	ck_assert_msg(census(&f) == 0, "census: %s", f.e.msg);
	ck_assert_int_eq(f.c.partial, 1);
	ck_assert_str_eq(f.c.partial_reason, "walk deadline reached");
	ck_assert_str_eq(f.c.mode, "snapshot");
	ck_assert_uint_lt(f.c.gc_objects, 10000);
	ck_assert_uint_gt(f.c.gc_objects, 0);
	/* and while stopped */
	hw_session_free(f.s);
	f.o.mode = HW_MODE_STOPPED;
	f.o.max_pause_ns = 0;
	fx_session(&f);
	ck_assert_msg(census(&f) == 0, "census: %s", f.e.msg);
	ck_assert_str_eq(f.c.partial_reason, "walk deadline reached");
	ck_assert_uint_lt(f.c.gc_objects, 10000);
	fx_close(&f);
}
END_TEST

START_TEST(test_stop_fails)
{
	struct fx f;

	fx_heap(&f, 4 << 20, 100);
	f.ts.fail_stop = HW_ETRACED;
	fx_session(&f);
	ck_assert_int_eq(census(&f), -1);
	ck_assert_int_eq(f.e.code, HW_ETRACED);
	ck_assert_uint_eq(f.ts.stops, 0);
	ck_assert_str_eq(f.e.msg, "pid 4242: already traced (test)");
	ck_assert_uint_eq(f.c.detach_failures, 0);
	fx_close(&f);
}
END_TEST

/* A stop that runs out of time holds a thread: the census fails, and
 * says how many threads it could not give back. */
START_TEST(test_stop_times_out)
{
	struct fx f;

	fx_heap(&f, 4 << 20, 100);
	f.ts.fail_stop = HW_ETIMEOUT;
	fx_session(&f);
	ck_assert_int_eq(census(&f), -1);
	ck_assert_int_eq(f.e.code, HW_ETIMEOUT);
	ck_assert_uint_eq(f.c.detach_failures, 1);
	ck_assert_str_eq(f.c.detach_error, "pause budget exceeded (test)");
	fx_close(&f);
}
END_TEST

/* A resume that fails: the counts are sound and kept, the failure is
 * counted and said; never silent. */
START_TEST(test_resume_fails)
{
	struct fx f;

	fx_heap(&f, 4 << 20, 100);
	f.ts.fail_resume = 1;
	fx_session(&f);
	census_ok(&f);
	ck_assert_uint_eq(f.c.detach_failures, 1);
	ck_assert_str_eq(f.c.detach_error, "detaching thread 77");
	fx_close(&f);
}
END_TEST

/* A layout is adopted only if the validator passes it, whatever its
 * source; the error names the source. */
START_TEST(test_bad_layout_refused)
{
	struct fx f;

	fx_heap(&f, 1 << 20, 10);
	f.l.off.gchead_prev = 200;
	f.s = hw_session_new(&f.d, f.m, &f.l, &f.ts.base, &f.o, &f.e);
	ck_assert_ptr_null(f.s);
	ck_assert_int_eq(f.e.code, HW_ELAYOUT);
	ck_assert_str_eq(f.e.msg, "layout from table: gchead_prev 200 outside PyGC_Head (16 bytes)");
	fx_close(&f);
}
END_TEST

START_TEST(test_corrupt_heap_resumed)
{
	struct fx f;
	uint64_t x;

	fx_heap(&f, 4 << 20, 100);
	x = synth_obj(&f.h, f.tm, 0);
	synth_obj(&f.h, f.tm, 0);
	synth_w64(&f.h, synth_head(&f.h, x) + 8, SYNTH_BASE + 16); /* bad back-link */
	fx_session(&f);
	ck_assert_int_eq(census(&f), -1);
	ck_assert_int_eq(f.e.code, HW_ECORRUPT);
	ck_assert_uint_ge(f.ts.stops, 1);
	fx_close(&f);
}
END_TEST

/* ------------------------------------------------------------------ */
/* jobs of other kinds, through the engine directly */

struct xjob {
	int fail_phase;             /* fail (HW_ECORRUPT) in this phase + 1 */
	unsigned runs[3];           /* per phase */
	uint64_t objects, payload;  /* counted by the last run */
};

/* Reads each object's "payload": a pointer at obj+16 to 64 bytes far
 * from the GC lists (as a list's item array would be). */
static int xvisit(void *arg, uint64_t obj, uint64_t type, unsigned list,
		  struct hw_err *e)
{
	struct hw_job_ctx *x = arg;
	uint64_t p, v[8];

	(void)type;
	(void)list;
	if (hw_snap_read_u64(x->snap, obj + 16, &p, e) < 0)
		return -1;
	if (p && hw_snap_read(x->snap, p, v, sizeof v, e) < 0)
		return -1;
	return 0;
}

struct xarg {
	struct xjob *j;
	struct hw_typecount tc;
};

static int xrun(void *arg, struct hw_job_ctx *x, struct hw_err *e)
{
	struct xarg *a = arg;
	struct hw_walk_opts wo;
	struct hw_walk_stats ws;

	a->j->runs[x->phase]++;
	if (a->j->fail_phase == (int)x->phase + 1)
		return hw_err_set(e, HW_ECORRUPT, 0, "job says no");
	memset(&wo, 0, sizeof wo);
	wo.visit = xvisit;
	wo.visit_arg = x;
	wo.deadline_ns = x->deadline_ns;
	wo.allow_misses = x->allow_misses;
	hw_typecount_clear(&a->tc);
	if (hw_gc_walk(x->snap, &x->layout->off, x->roots, &wo, &a->tc, &ws, e) < 0)
		return -1;
	a->j->objects = ws.objects;
	x->partial = ws.partial;
	return 0;
}

/* Payloads for every object, allocated after a gap. */
static void add_payloads(struct fx *f)
{
	uint64_t heads[3] = { f->h.heads[0], f->h.heads[1], f->h.heads[2] };

	synth_alloc(&f->h, 4 * HW_SNAP_BLOCK);
	for (int l = 0; l < 3; l++)
		for (uint64_t g = synth_r64(&f->h, heads[l]); g != heads[l];
		     g = synth_r64(&f->h, g)) {
			uint64_t p = synth_alloc(&f->h, 64);

			synth_w64(&f->h, g + (uint64_t)f->h.o.gchead_size + 16, p);
			synth_w64(&f->h, p, 0x5050);
		}
}

START_TEST(test_kinds_keep_their_plans)
{
	struct fx f;
	struct hw_capture_stats st;
	struct xjob j;
	struct xarg a;
	struct hw_job xj = { "payloads", xrun, &a };
	uint64_t census_plan, payload_plan;

	fx_heap(&f, 8 << 20, 3000);
	add_payloads(&f);
	memset(&j, 0, sizeof j);
	a.j = &j;
	hw_typecount_init(&a.tc);
	fx_session(&f);

	/* the census learns its plan */
	census_ok(&f);
	ck_assert_uint_eq(f.c.attempts, 1);
	/* a second kind learns its own, by its own pre-walk */
	ck_assert_msg(hw_session_capture(f.s, &xj, &st, &f.e) == 0, "job: %s", f.e.msg);
	ck_assert_int_eq(st.prewalk, 1);
	ck_assert_uint_eq(j.runs[HW_PHASE_PLAN], 1);
	ck_assert_uint_eq(j.runs[HW_PHASE_COPY], 1);
	ck_assert_uint_eq(st.attempts, 1);
	ck_assert_uint_eq(st.misses, 0);
	ck_assert_uint_eq(j.objects, 3000);
	payload_plan = st.plan_bytes;
	/* ... and neither disturbs the other */
	census_ok(&f);
	ck_assert_uint_eq(f.c.attempts, 1);
	ck_assert_uint_eq(f.c.misses, 0);
	ck_assert_msg(hw_session_capture(f.s, &xj, &st, &f.e) == 0, "job: %s", f.e.msg);
	ck_assert_int_eq(st.prewalk, 0);
	ck_assert_uint_eq(j.runs[HW_PHASE_PLAN], 1);
	ck_assert_uint_eq(st.misses, 0);
	ck_assert_uint_eq(st.plan_bytes, payload_plan);
	/* the census's plan lacks the payloads (3000 x 64 bytes) */
	census_plan = f.c.copied_bytes;
	ck_assert_uint_ge(payload_plan, 3000 * 64);
	ck_assert_uint_gt(payload_plan, census_plan);
	hw_typecount_fini(&a.tc);
	fx_close(&f);
}
END_TEST

/* A job that fails in any phase: the error comes out, and every stop was
 * resumed (fx_close checks). */
static void job_fails_in(enum hw_job_phase ph, int stopped_mode)
{
	struct fx f;
	struct hw_capture_stats st;
	struct xjob j;
	struct xarg a;
	struct hw_job xj = { "failing", xrun, &a };

	fx_heap(&f, 4 << 20, 300);
	memset(&j, 0, sizeof j);
	j.fail_phase = (int)ph + 1;
	a.j = &j;
	hw_typecount_init(&a.tc);
	if (stopped_mode)
		f.o.mode = HW_MODE_STOPPED;
	fx_session(&f);
	if (ph == HW_PHASE_PLAN) {
		/* the pre-walk's errors are ignored: an empty plan, then
		 * misses, then a walk while stopped */
		ck_assert_msg(hw_session_capture(f.s, &xj, &st, &f.e) == 0,
			      "job: %s", f.e.msg);
		ck_assert_uint_eq(j.objects, 300);
	} else {
		ck_assert_int_eq(hw_session_capture(f.s, &xj, &st, &f.e), -1);
		ck_assert_int_eq(f.e.code, HW_ECORRUPT);
		ck_assert_str_eq(f.e.msg, "pid 4242: job says no");
		ck_assert_uint_eq(j.runs[ph], 1);
		ck_assert_uint_eq(f.ts.stops, 1);
	}
	hw_typecount_fini(&a.tc);
	fx_close(&f);
}

START_TEST(test_job_fails_plan) { job_fails_in(HW_PHASE_PLAN, 0); }
END_TEST
START_TEST(test_job_fails_copy) { job_fails_in(HW_PHASE_COPY, 0); }
END_TEST
START_TEST(test_job_fails_stopped) { job_fails_in(HW_PHASE_STOPPED, 1); }
END_TEST

START_TEST(test_engine_plan_and_kinds)
{
	struct fx f;
	struct hw_capture *cap;
	struct hw_capture_stats st;
	struct xjob j;
	struct xarg a;
	struct hw_job xj = { "k0", xrun, &a };
	char kind[HW_CAPTURE_KINDS + 1][8];
	uint64_t floor_ns;

	fx_heap(&f, 4 << 20, 1000);
	memset(&j, 0, sizeof j);
	a.j = &j;
	hw_typecount_init(&a.tc);
	cap = hw_capture_new(f.m, &f.ts.base, &f.l, &f.d.roots, NULL, 0, NULL, &f.e);
	ck_assert_ptr_nonnull(cap);
	ck_assert_ptr_null(hw_capture_plan(cap, "k0"));
	ck_assert_int_eq(hw_capture_floor(cap, "k0", &floor_ns, &f.e), -1);
	/* the pre-walk's pages are the plan, and enough */
	ck_assert_int_eq(hw_capture_run(cap, &xj, &st, &f.e), 0);
	ck_assert_int_eq(st.prewalk, 1);
	ck_assert_ptr_nonnull(hw_capture_plan(cap, "k0"));
	ck_assert_uint_gt(hw_pageset_bytes(hw_capture_plan(cap, "k0")), 0);
	ck_assert_uint_eq(st.attempts, 1);
	ck_assert_uint_eq(st.misses, 0);
	ck_assert_str_eq(st.mode, "snapshot");
	/* errors carry no pid: the session adds it */
	ck_assert_int_eq(hw_capture_floor(cap, "k0", &floor_ns, &f.e), 0);
	/* at most HW_CAPTURE_KINDS kinds */
	for (int i = 1; i <= HW_CAPTURE_KINDS; i++) {
		snprintf(kind[i], sizeof kind[i], "k%d", i);
		xj.kind = kind[i];
		if (i < HW_CAPTURE_KINDS) {
			ck_assert_int_eq(hw_capture_run(cap, &xj, &st, &f.e), 0);
		} else {
			ck_assert_int_eq(hw_capture_run(cap, &xj, &st, &f.e), -1);
			ck_assert_int_eq(f.e.code, HW_ELIMIT);
		}
	}
	/* forgetting: the next run pre-walks again */
	hw_capture_forget(cap);
	xj.kind = "k0";
	ck_assert_int_eq(hw_capture_run(cap, &xj, &st, &f.e), 0);
	ck_assert_int_eq(st.prewalk, 1);
	hw_capture_free(cap);
	hw_typecount_fini(&a.tc);
	fx_close(&f);
}
END_TEST

/* A seeded plan spares the pre-walk; any seed gives the exact answer
 * (what it lacks is missed and copied), and a seed over the snapshot
 * limit is refused. */
START_TEST(test_engine_seeded_plan)
{
	struct fx f;
	struct hw_capture *cap;
	struct hw_capture_stats st;
	struct xjob j;
	struct xarg a;
	struct hw_job xj = { "seeded", xrun, &a };
	struct hw_pageset ps;

	fx_heap(&f, 4 << 20, 3000);
	add_payloads(&f);
	memset(&j, 0, sizeof j);
	a.j = &j;
	hw_typecount_init(&a.tc);
	hw_pageset_init(&ps);
	cap = hw_capture_new(f.m, &f.ts.base, &f.l, &f.d.roots, NULL, 8 << 20, NULL, &f.e);
	ck_assert_ptr_nonnull(cap);
	/* the whole heap: one copy, no pre-walk, no miss */
	ck_assert_int_eq(hw_pageset_add(&ps, SYNTH_BASE, f.h.used, &f.e), 0);
	hw_pageset_normalize(&ps);
	ck_assert_int_eq(hw_capture_seed(cap, "seeded", &ps, &f.e), 0);
	ck_assert_uint_eq(hw_pageset_bytes(hw_capture_plan(cap, "seeded")),
			  hw_pageset_bytes(&ps));
	ck_assert_msg(hw_capture_run(cap, &xj, &st, &f.e) == 0, "job: %s", f.e.msg);
	ck_assert_int_eq(st.prewalk, 0);
	ck_assert_uint_eq(j.runs[HW_PHASE_PLAN], 0);
	ck_assert_uint_eq(j.runs[HW_PHASE_COPY], 1);
	ck_assert_uint_eq(st.attempts, 1);
	ck_assert_uint_eq(st.misses, 0);
	ck_assert_uint_eq(st.plan_bytes, hw_pageset_bytes(&ps));
	ck_assert_uint_eq(j.objects, 3000);
	/* the plan is now what the run read: no more than the seed */
	ck_assert_uint_le(hw_pageset_bytes(hw_capture_plan(cap, "seeded")),
			  hw_pageset_bytes(&ps));
	/* one page of it: misses, copied on the next attempts, exact */
	hw_pageset_clear(&ps);
	ck_assert_int_eq(hw_pageset_add(&ps, SYNTH_BASE, HW_SNAP_PAGE, &f.e), 0);
	hw_pageset_normalize(&ps);
	ck_assert_int_eq(hw_capture_seed(cap, "seeded", &ps, &f.e), 0);
	memset(&j, 0, sizeof j);
	ck_assert_msg(hw_capture_run(cap, &xj, &st, &f.e) == 0, "job: %s", f.e.msg);
	ck_assert_int_eq(st.prewalk, 0);
	ck_assert_uint_eq(j.runs[HW_PHASE_PLAN], 0);
	ck_assert_uint_gt(st.misses, 0);
	ck_assert_uint_eq(j.objects, 3000);
	/* over the snapshot limit: refused, the plan kept */
	hw_pageset_clear(&ps);
	ck_assert_int_eq(hw_pageset_add(&ps, SYNTH_BASE, 16 << 20, &f.e), 0);
	hw_pageset_normalize(&ps);
	ck_assert_int_eq(hw_capture_seed(cap, "other", &ps, &f.e), -1);
	ck_assert_int_eq(f.e.code, HW_ELIMIT);
	ck_assert_ptr_null(hw_capture_plan(cap, "other"));
	hw_capture_free(cap);
	/* a session without a live target seeds nothing */
	fx_session(&f);
	ck_assert_int_eq(hw_session_seed_resident(f.s, "refs", 1 << 30, &f.e), 0);
	hw_pageset_fini(&ps);
	hw_typecount_fini(&a.tc);
	fx_close(&f);
}
END_TEST

START_TEST(test_names_table)
{
	struct hw_pool p;
	struct hw_nametab t;
	struct hw_name_row *rows;
	size_t n;
	char name[32];

	hw_pool_init(&p);
	hw_nametab_init(&t);
	/* enough names to grow the table several times */
	for (int i = 0; i < 5000; i++) {
		snprintf(name, sizeof name, "t%d", i % 2500);
		ck_assert_int_eq(hw_nametab_add(&t, &p, name, (uint64_t)(i % 2500),
						(uint64_t)(2500 - i % 2500), NULL), 0);
	}
	ck_assert_uint_eq(t.n, 2500);
	ck_assert_int_eq(hw_nametab_rows(&t, &p, HW_ORDER_COUNT, &rows, &n, NULL), 0);
	ck_assert_uint_eq(n, 2500);
	ck_assert_str_eq(rows[0].name, "t2499");
	ck_assert_uint_eq(rows[0].count, 2 * 2499);
	ck_assert_uint_eq(rows[0].bytes, 2);
	free(rows);
	ck_assert_int_eq(hw_nametab_rows(&t, &p, HW_ORDER_BYTES, &rows, &n, NULL), 0);
	ck_assert_str_eq(rows[0].name, "t0");
	ck_assert_uint_eq(rows[0].bytes, 5000);
	ck_assert_str_eq(rows[n - 1].name, "t2499");
	free(rows);
	hw_nametab_clear(&t);
	hw_pool_clear(&p);
	ck_assert_int_eq(hw_nametab_rows(&t, &p, HW_ORDER_COUNT, &rows, &n, NULL), 0);
	ck_assert_uint_eq(n, 0);
	ck_assert_ptr_nonnull(rows);
	free(rows);
	hw_nametab_fini(&t);
	hw_pool_fini(&p);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("census");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_census_no_process);
	tcase_add_test(tc, test_types_merged_and_sorted);
	tcase_add_test(tc, test_grew_between_plan_and_copy);
	tcase_add_test(tc, test_keeps_growing_falls_back);
	tcase_add_test(tc, test_snapshot_limit_walks_stopped);
	tcase_add_test(tc, test_mode_stopped);
	tcase_add_test(tc, test_busy_then_clear);
	tcase_add_test(tc, test_busy_forever);
	tcase_add_test(tc, test_pause_budget_partial);
	tcase_add_test(tc, test_walk_deadline_partial);
	tcase_add_test(tc, test_stop_fails);
	tcase_add_test(tc, test_stop_times_out);
	tcase_add_test(tc, test_resume_fails);
	tcase_add_test(tc, test_bad_layout_refused);
	tcase_add_test(tc, test_corrupt_heap_resumed);
	tcase_add_test(tc, test_kinds_keep_their_plans);
	tcase_add_test(tc, test_job_fails_plan);
	tcase_add_test(tc, test_job_fails_copy);
	tcase_add_test(tc, test_job_fails_stopped);
	tcase_add_test(tc, test_engine_plan_and_kinds);
	tcase_add_test(tc, test_engine_seeded_plan);
	tcase_add_test(tc, test_names_table);
	suite_add_tcase(s, tc);
	return hw_run_suite(s);
}
