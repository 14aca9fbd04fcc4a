/* capture.c - the capture engine and the ptrace stopper; see
 * include/heapwatch/capture.h. */
#include "heapwatch/capture.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "heapwatch/units.h"

struct plan {
	char kind[HW_JOB_KIND_MAX];   /* "" = unused slot */
	struct hw_pageset pages;
};

struct hw_capture {
	struct hw_mem *mem;
	struct hw_stopper *stopper;
	const struct hw_layout *layout;
	const struct hw_gcroots *roots;
	struct hw_snap *snap;
	int own_snap;
	uint64_t snapshot_limit;   /* 0: none */
	struct hw_capture_opts opts;
	struct plan plans[HW_CAPTURE_KINDS];
};

/* ------------------------------------------------------------------ */
/* the ptrace stopper */

static int ptrace_stop(void *ctx, struct hw_err *e)
{
	struct hw_ptrace_stopper *p = ctx;

	hw_freeze_block_signals(&p->old_mask);
	if (hw_freeze_begin(&p->f, p->pid, e) < 0) {
		hw_freeze_restore_signals(&p->old_mask);
		return -1;
	}
	return 0;
}

static int ptrace_resume(void *ctx, struct hw_err *e)
{
	struct hw_ptrace_stopper *p = ctx;
	int rc = hw_freeze_end(&p->f, e);

	hw_freeze_restore_signals(&p->old_mask);
	return rc;
}

static uint64_t ptrace_elapsed(void *ctx)
{
	struct hw_ptrace_stopper *p = ctx;

	return hw_freeze_elapsed_ns(&p->f);
}

void hw_ptrace_stopper_init(struct hw_ptrace_stopper *p, pid_t pid,
			    uint64_t budget_ns)
{
	memset(p, 0, sizeof *p);
	p->pid = pid;
	hw_freeze_init(&p->f);
	p->f.budget_ns = budget_ns;
	p->base = (struct hw_stopper){ ptrace_stop, ptrace_resume,
				       ptrace_elapsed, p };
}

void hw_ptrace_stopper_fini(struct hw_ptrace_stopper *p)
{
	if (p)
		hw_freeze_fini(&p->f);
}

/* ------------------------------------------------------------------ */
/* engines */

void hw_capture_opts_default(struct hw_capture_opts *o)
{
	memset(o, 0, sizeof *o);
	o->mode = HW_CAPTURE_SNAPSHOT;
	o->max_pause_ns = 500ull * 1000 * 1000;
	o->max_walk_ns = HW_MAX_WALK_DEFAULT_NS;
	o->busy_retries = 20;
}

struct hw_capture *hw_capture_new(struct hw_mem *m, struct hw_stopper *st,
				  const struct hw_layout *l,
				  const struct hw_gcroots *r,
				  struct hw_snap *snap, uint64_t snapshot_limit,
				  const struct hw_capture_opts *o,
				  struct hw_err *e)
{
	struct hw_capture *c = calloc(1, sizeof *c);

	if (!c) {
		hw_err_set(e, HW_ENOMEM, ENOMEM, "allocating a capture");
		return NULL;
	}
	c->mem = m;
	c->stopper = st;
	c->layout = l;
	c->roots = r;
	c->snapshot_limit = snapshot_limit;
	if (o)
		c->opts = *o;
	else
		hw_capture_opts_default(&c->opts);
	for (size_t i = 0; i < HW_CAPTURE_KINDS; i++)
		hw_pageset_init(&c->plans[i].pages);
	if (snap) {
		c->snap = snap;
	} else if (!(c->snap = hw_snap_new(m, snapshot_limit, e))) {
		free(c);
		return NULL;
	} else {
		c->own_snap = 1;
	}
	return c;
}

void hw_capture_free(struct hw_capture *c)
{
	if (!c)
		return;
	if (c->own_snap)
		hw_snap_free(c->snap);
	for (size_t i = 0; i < HW_CAPTURE_KINDS; i++)
		hw_pageset_fini(&c->plans[i].pages);
	free(c);
}

static struct plan *find_plan(const struct hw_capture *c, const char *kind)
{
	for (size_t i = 0; i < HW_CAPTURE_KINDS; i++)
		if (c->plans[i].kind[0] && strcmp(c->plans[i].kind, kind) == 0)
			return (struct plan *)&c->plans[i];
	return NULL;
}

static struct plan *plan_for(struct hw_capture *c, const char *kind,
			     struct hw_err *e)
{
	struct plan *p = find_plan(c, kind);

	if (p)
		return p;
	if (!kind[0] || strlen(kind) >= HW_JOB_KIND_MAX)
		return hw_err_set(e, HW_EUSAGE, 0, "job kind '%.40s' is empty or too long",
				  kind), NULL;
	for (size_t i = 0; i < HW_CAPTURE_KINDS; i++)
		if (!c->plans[i].kind[0]) {
			snprintf(c->plans[i].kind, sizeof c->plans[i].kind, "%s", kind);
			hw_pageset_clear(&c->plans[i].pages);
			return &c->plans[i];
		}
	return hw_err_set(e, HW_ELIMIT, 0, "more than %d kinds of job on one target",
			  HW_CAPTURE_KINDS), NULL;
}

const struct hw_pageset *hw_capture_plan(const struct hw_capture *c,
					 const char *kind)
{
	const struct plan *p = find_plan(c, kind);

	return p ? &p->pages : NULL;
}

int hw_capture_seed(struct hw_capture *c, const char *kind,
		    const struct hw_pageset *ps, struct hw_err *e)
{
	struct plan *p;

	if (c->snapshot_limit && hw_pageset_bytes(ps) > c->snapshot_limit)
		return hw_err_set(e, HW_ELIMIT, 0, "a plan of %llu bytes is over the "
				  "snapshot limit", (unsigned long long)hw_pageset_bytes(ps));
	if (!(p = plan_for(c, kind, e)))
		return -1;
	hw_pageset_clear(&p->pages);
	if (hw_pageset_merge(&p->pages, ps, e) < 0) {
		hw_pageset_clear(&p->pages);
		return -1;
	}
	hw_pageset_normalize(&p->pages);
	return 0;
}

void hw_capture_forget(struct hw_capture *c)
{
	for (size_t i = 0; i < HW_CAPTURE_KINDS; i++) {
		c->plans[i].kind[0] = 0;
		hw_pageset_clear(&c->plans[i].pages);
	}
}

static const char PAUSE_BUDGET[] = "pause budget reached";
static const char WALK_DEADLINE[] = "walk deadline reached";

static void cut_short(struct hw_capture_stats *st, const char *why)
{
	if (!st->partial)
		st->partial_reason = why;
	st->partial = 1;
}

/* The earlier of two deadlines (0 = none). */
static uint64_t earlier(uint64_t a, uint64_t b)
{
	return !a ? b : !b ? a : a < b ? a : b;
}

/* The walk deadline of a run starting now (0 = none). */
static uint64_t walk_deadline(const struct hw_capture *c)
{
	return c->opts.max_walk_ns ? hw_now_ns() + c->opts.max_walk_ns : 0;
}

/* One run of the job; times the successful one.  *partial: the job
 * stopped short. */
static int run_job(struct hw_capture *c, const struct hw_job *job,
		   enum hw_job_phase phase, uint64_t deadline, int allow_misses,
		   int *partial, struct hw_capture_stats *st, struct hw_err *e)
{
	struct hw_job_ctx ctx = { c->snap, c->layout, c->roots, phase,
				  deadline, allow_misses, 0 };
	uint64_t t0 = hw_now_ns();

	*partial = 0;
	if (job->run(job->arg, &ctx, e) < 0)
		return -1;
	st->job_ns = hw_now_ns() - t0;
	*partial = ctx.partial;
	return 0;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static void detach_failed(struct hw_capture_stats *st, const struct hw_err *e)
{
	if (!st->detach_failures++)
		snprintf(st->detach_error, sizeof st->detach_error, "%.*s",
			 (int)sizeof st->detach_error - 1, e->msg);
}

static int stop(struct hw_capture *c, struct hw_capture_stats *st,
		uint64_t *deadline, struct hw_err *e)
{
	if (c->stopper->stop(c->stopper->ctx, e) < 0) {
		/* A thread that would not stop in time is still held. */
		if (e->code == HW_ETIMEOUT)
			detach_failed(st, e);
		return -1;
	}
	/* The budget counts from the first thread stopped, not from now. */
	*deadline = c->opts.max_pause_ns ?
		hw_now_ns() - c->stopper->elapsed_ns(c->stopper->ctx) +
		c->opts.max_pause_ns : 0;
	return 0;
}

static void resume(struct hw_capture *c, struct hw_capture_stats *st)
{
	struct hw_err tmp;
	uint64_t ns;

	hw_err_clear(&tmp);
	if (c->stopper->resume(c->stopper->ctx, &tmp) < 0)
		detach_failed(st, &tmp);
	ns = c->stopper->elapsed_ns(c->stopper->ctx);
	st->pause_ns += ns;
	if (ns > st->max_pause_ns)
		st->max_pause_ns = ns;
	st->stops++;
}

/* Learn the pages the job needs by running it on the live target.  The
 * heap moves under us, so its errors only end the plan early. */
static void prewalk(struct hw_capture *c, const struct hw_job *job,
		    struct plan *p, struct hw_capture_stats *st)
{
	struct hw_capture_stats scratch;
	struct hw_err tmp;
	int partial;

	memset(&scratch, 0, sizeof scratch);
	hw_snap_reset(c->snap, 1);
	(void)run_job(c, job, HW_PHASE_PLAN, walk_deadline(c), 0, &partial, &scratch, &tmp);
	hw_pageset_clear(&p->pages);
	(void)hw_snap_touched(c->snap, &p->pages, &tmp);
	hw_pageset_normalize(&p->pages);
	st->prewalk = 1;
}

/* Widen each missed page to its aligned block: a heap that grew did so
 * in fresh pools and arenas, next to the page we missed. */
static int add_misses(struct hw_capture *c, struct plan *p, struct hw_err *e)
{
	struct hw_pageset miss;
	int rc = 0;

	hw_pageset_init(&miss);
	if (hw_snap_missed(c->snap, &miss, e) < 0)
		rc = -1;
	for (size_t i = 0; rc == 0 && i < miss.n; i++) {
		uint64_t a = miss.start[i] & ~(uint64_t)(HW_SNAP_BLOCK - 1);
		uint64_t t = (miss.end[i] + HW_SNAP_BLOCK - 1) & ~(uint64_t)(HW_SNAP_BLOCK - 1);

		rc = hw_pageset_add(&p->pages, a, t - a, e);
	}
	hw_pageset_normalize(&p->pages);
	hw_pageset_fini(&miss);
	return rc;
}

enum { DONE = 0, RETRY = 1, FAIL = -1, FALLBACK = 2 };

/* One bulk copy and a run over it. */
static int snapshot_once(struct hw_capture *c, const struct hw_job *job,
			 struct plan *p, struct hw_capture_stats *st,
			 struct hw_err *e)
{
	struct hw_snap_stats ss;
	uint64_t deadline;
	int fill_rc, partial;
	struct hw_err fe;

	hw_snap_reset(c->snap, 0);
	if (st->attempts == 0)
		st->plan_bytes = hw_pageset_bytes(&p->pages);
	if (hw_snap_fill_prepare(c->snap, &p->pages, &fe) < 0) {
		hw_err_copy(e, &fe);
		return fe.code == HW_ELIMIT ? FALLBACK : FAIL;
	}
	if (stop(c, st, &deadline, e) < 0)
		return FAIL;
	fill_rc = hw_snap_fill_copy(c->snap, deadline, &fe);
	resume(c, st);
	if (fill_rc >= 0)
		hw_snap_fill_finish(c->snap);
	st->attempts++;
	hw_snap_get_stats(c->snap, &ss);
	st->copied_bytes += ss.fill_bytes;
	st->copy_calls += ss.fill_calls;
	if (fill_rc < 0) {
		hw_err_copy(e, &fe);
		return FAIL;
	}
	/* Out of time: run over what we have, and say so.  A hostile or
	 * huge copy cannot hold the run forever either: the walk deadline. */
	if (run_job(c, job, HW_PHASE_COPY, walk_deadline(c), fill_rc == 1,
		    &partial, st, e) == 0) {
		if (fill_rc == 1)
			cut_short(st, PAUSE_BUDGET);
		else if (partial)
			cut_short(st, WALK_DEADLINE);
		/* What this run touched is the next plan. */
		hw_pageset_clear(&p->pages);
		if (hw_snap_touched(c->snap, &p->pages, e) < 0)
			return FAIL;
		hw_pageset_normalize(&p->pages);
		return DONE;
	}
	if (e->code == HW_EMISS) {
		hw_snap_get_stats(c->snap, &ss);
		st->misses += ss.misses;
		return add_misses(c, p, e) < 0 ? FAIL : RETRY;
	}
	return FAIL;
}

/* A run with the target stopped, reading through the block cache. */
static int stopped_once(struct hw_capture *c, const struct hw_job *job,
			struct hw_capture_stats *st, struct hw_err *e)
{
	struct hw_snap_stats ss;
	uint64_t deadline, wd;
	int rc, partial;

	st->mode = "stopped";
	hw_snap_reset(c->snap, 1);
	if (stop(c, st, &deadline, e) < 0)
		return -1;
	wd = walk_deadline(c);
	rc = run_job(c, job, HW_PHASE_STOPPED, earlier(deadline, wd), 0, &partial, st, e);
	resume(c, st);
	if (rc == 0 && partial)
		cut_short(st, deadline && (!wd || deadline <= wd) ? PAUSE_BUDGET : WALK_DEADLINE);
	hw_snap_get_stats(c->snap, &ss);
	st->copied_bytes += ss.bytes;
	st->copy_calls += ss.fetches;
	return rc;
}

static int capture_body(struct hw_capture *c, const struct hw_job *job,
			struct plan *p, struct hw_capture_stats *st,
			struct hw_err *e)
{
	int rc;

	if (c->opts.mode == HW_CAPTURE_STOPPED)
		return stopped_once(c, job, st, e);
	st->mode = "snapshot";
	if (p->pages.n == 0)
		prewalk(c, job, p, st);
	for (unsigned a = 0; a < HW_CENSUS_ATTEMPTS; a++) {
		rc = snapshot_once(c, job, p, st, e);
		if (rc == DONE)
			return 0;
		if (rc == FAIL)
			return -1;
		if (rc == FALLBACK)
			break;
	}
	/* The heap keeps outgrowing the plan, or the plan is over the
	 * snapshot limit: run while stopped instead. */
	hw_pageset_clear(&p->pages);
	return stopped_once(c, job, st, e);
}

int hw_capture_run(struct hw_capture *c, const struct hw_job *job,
		   struct hw_capture_stats *st, struct hw_err *e)
{
	struct plan *p;
	int rc;

	memset(st, 0, sizeof *st);
	if (!(p = plan_for(c, job->kind ? job->kind : "", e)))
		return -1;
	hw_snap_set_mem(c->snap, c->mem);
	for (unsigned b = 0;; b++) {
		rc = capture_body(c, job, p, st, e);
		if (rc == 0 || e->code != HW_EBUSY || b >= c->opts.busy_retries)
			break;
		/* A collection is running: let it finish (most take
		 * milliseconds; one paused in a __del__ can take longer). */
		st->busy_waits++;
		sleep_ms(b < 5 ? 2 : 100);
	}
	return rc;
}

int hw_capture_floor(struct hw_capture *c, const char *kind, uint64_t *ns,
		     struct hw_err *e)
{
	const struct plan *p = find_plan(c, kind);
	struct hw_snap *tmp;
	struct hw_snap_stats ss;
	int rc = -1;

	*ns = 0;
	if (!p || !p->pages.n)
		return hw_err_set(e, HW_EUSAGE, 0, "no plan for '%s' jobs yet", kind);
	if (!(tmp = hw_snap_new(c->mem, 0, e)))
		return -1;
	hw_snap_reset(tmp, 0);
	if (hw_snap_fill_prepare(tmp, &p->pages, e) == 0 &&
	    hw_snap_fill_copy(tmp, 0, e) >= 0) {
		hw_snap_get_stats(tmp, &ss);
		*ns = ss.fill_ns;
		rc = 0;
	}
	hw_snap_free(tmp);
	return rc;
}

struct hw_snap *hw_capture_live_snap(struct hw_capture *c)
{
	hw_snap_set_mem(c->snap, c->mem);
	hw_snap_reset(c->snap, 1);
	return c->snap;
}
