/* census.c - one census of one process; see include/heapwatch/census.h. */
#include "heapwatch/census.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "heapwatch/freeze.h"
#include "heapwatch/gcwalk.h"
#include "heapwatch/mem.h"
#include "heapwatch/snap.h"
#include "heapwatch/target.h"
#include "heapwatch/typename.h"

struct hw_session {
	pid_t pid;
	struct hw_census_opts opts;
	struct hw_target target;
	struct hw_layout layout;
	struct hw_gcroots roots;
	struct hw_mem *mem;
	struct hw_snap *snap;
	int own_snap;
	struct hw_pageset plan;       /* pages the last census needed */
	struct hw_typecount tc;
};

void hw_census_opts_default(struct hw_census_opts *o)
{
	memset(o, 0, sizeof *o);
	o->mode = HW_MODE_SNAPSHOT;
	o->max_pause_ns = 500ull * 1000 * 1000;
	o->snapshot_limit = 1ull << 30;
	o->source = HW_SRC_NONE;
	o->busy_retries = 20;
	o->mem_kind = -1;
}

/* ------------------------------------------------------------------ */
/* results */

void hw_census_init(struct hw_census *c) { memset(c, 0, sizeof *c); }

void hw_census_fini(struct hw_census *c)
{
	free(c->types);
	free(c->pool);
	memset(c, 0, sizeof *c);
}

uint64_t hw_census_count(const struct hw_census *c, const char *name)
{
	for (size_t i = 0; i < c->ntypes; i++)
		if (strcmp(c->types[i].name, name) == 0)
			return c->types[i].count;
	return 0;
}

static void census_reset(struct hw_census *c)
{
	char *pool = c->pool;
	size_t cap = c->pool_cap;
	struct hw_census_type *types = c->types;

	memset(c, 0, sizeof *c);
	c->pool = pool;
	c->pool_cap = cap;
	c->types = types;
}

/* Name -> slot, merging types that share a name (a class defined twice
 * is counted once under its name, as objgraph does). */
struct name_agg {
	uint64_t *hash;
	size_t *off;      /* pool offset + 1 (0 = empty) */
	uint64_t *count;
	size_t cap, n;
};

static uint64_t fnv(const char *s)
{
	uint64_t h = 1469598103934665603ull;

	while (*s)
		h = (h ^ (unsigned char)*s++) * 1099511628211ull;
	return h;
}

static int pool_add(struct hw_census *c, const char *name, size_t *off,
		    struct hw_err *e)
{
	size_t n = strlen(name) + 1;

	if (c->pool_len + n > c->pool_cap) {
		size_t nc = c->pool_cap ? c->pool_cap * 2 : 65536;

		while (nc < c->pool_len + n)
			nc *= 2;
		char *np = realloc(c->pool, nc);

		if (!np)
			return hw_err_set(e, HW_ENOMEM, ENOMEM, "growing the name pool");
		c->pool = np;
		c->pool_cap = nc;
	}
	memcpy(c->pool + c->pool_len, name, n);
	*off = c->pool_len;
	c->pool_len += n;
	return 0;
}

static int agg_add(struct name_agg *a, struct hw_census *c, const char *name,
		   uint64_t count, struct hw_err *e)
{
	uint64_t h = fnv(name);
	size_t i;

	if ((a->n + 1) * 2 > a->cap) {
		size_t nc = a->cap ? a->cap * 2 : 1024;
		struct name_agg na = { calloc(nc, 8), calloc(nc, sizeof(size_t)),
				       calloc(nc, 8), nc, a->n };

		if (!na.hash || !na.off || !na.count) {
			free(na.hash);
			free(na.off);
			free(na.count);
			return hw_err_set(e, HW_ENOMEM, ENOMEM, "growing the name table");
		}
		for (size_t k = 0; k < a->cap; k++) {
			if (!a->off[k])
				continue;
			size_t j = a->hash[k] & (nc - 1);

			while (na.off[j])
				j = (j + 1) & (nc - 1);
			na.hash[j] = a->hash[k];
			na.off[j] = a->off[k];
			na.count[j] = a->count[k];
		}
		free(a->hash);
		free(a->off);
		free(a->count);
		*a = na;
	}
	for (i = h & (a->cap - 1); a->off[i]; i = (i + 1) & (a->cap - 1))
		if (a->hash[i] == h && strcmp(c->pool + a->off[i] - 1, name) == 0) {
			a->count[i] += count;
			return 0;
		}
	size_t off = 0;

	if (pool_add(c, name, &off, e) < 0)
		return -1;
	a->hash[i] = h;
	a->off[i] = off + 1;
	a->count[i] = count;
	a->n++;
	return 0;
}

static int cmp_type(const void *x, const void *y)
{
	const struct hw_census_type *a = x, *b = y;

	if (a->count != b->count)
		return a->count > b->count ? -1 : 1;
	return strcmp(a->name, b->name);
}

/* Name every counted type and build the sorted table. */
static int name_types(struct hw_session *s, struct hw_census *c,
		      struct hw_err *e)
{
	struct name_agg a = { 0 };
	char name[HW_TYPENAME_MAX];
	int rc = -1;

	c->pool_len = 0;
	for (size_t i = 0; i < s->tc.cap; i++) {
		if (!s->tc.type[i])
			continue;
		if (hw_type_name(s->snap, &s->layout.off, s->tc.type[i], name,
				 sizeof name, e) < 0)
			goto out;
		if (agg_add(&a, c, name, s->tc.count[i], e) < 0)
			goto out;
	}
	free(c->types);
	c->types = calloc(a.n ? a.n : 1, sizeof *c->types);
	if (!c->types) {
		hw_err_set(e, HW_ENOMEM, ENOMEM, "allocating the census");
		goto out;
	}
	c->ntypes = 0;
	for (size_t i = 0; i < a.cap; i++)
		if (a.off[i])
			c->types[c->ntypes++] = (struct hw_census_type){
				c->pool + a.off[i] - 1, a.count[i] };
	qsort(c->types, c->ntypes, sizeof *c->types, cmp_type);
	rc = 0;
out:
	free(a.hash);
	free(a.off);
	free(a.count);
	return rc;
}

/* ------------------------------------------------------------------ */
/* sessions */

struct hw_session *hw_session_open(pid_t pid, const struct hw_census_opts *o,
				   struct hw_err *e)
{
	struct hw_session *s = calloc(1, sizeof *s);

	if (!s) {
		hw_err_set(e, HW_ENOMEM, ENOMEM, "allocating a session");
		return NULL;
	}
	s->pid = pid;
	if (o)
		s->opts = *o;
	else
		hw_census_opts_default(&s->opts);
	hw_pageset_init(&s->plan);
	hw_typecount_init(&s->tc);
	if (hw_target_open(&s->target, pid, e) < 0) {
		if (e->code == HW_EPERM) {
			/* Say what grants access, not just what failed. */
			char why[512];

			hw_proc_explain_eperm(pid, why, sizeof why);
			hw_err_set(e, HW_EPERM, 0, "pid %d: %s", (int)pid, why);
		}
		goto fail;
	}
	if (!(s->mem = hw_mem_open_pid(pid, s->opts.mem_kind, e))) {
		hw_err_prefix(e, "pid %d", (int)pid);
		goto fail;
	}
	if (hw_layout_resolve(&s->target, s->mem, s->opts.source, &s->layout, e) < 0) {
		hw_err_prefix(e, "pid %d: CPython %s", (int)pid,
			      s->target.version[0] ? s->target.version : "?");
		goto fail;
	}
	s->roots.runtime_addr = s->target.runtime_addr;
	s->roots.gen0_ptr_addr = s->target.gen0_ptr_addr;
	if (s->opts.shared_snap) {
		s->snap = s->opts.shared_snap;
	} else if (!(s->snap = hw_snap_new(s->mem, s->opts.snapshot_limit, e))) {
		hw_err_prefix(e, "pid %d", (int)pid);
		goto fail;
	} else {
		s->own_snap = 1;
	}
	return s;
fail:
	hw_session_free(s);
	return NULL;
}

void hw_session_free(struct hw_session *s)
{
	if (!s)
		return;
	if (s->own_snap)
		hw_snap_free(s->snap);
	hw_mem_free(s->mem);
	hw_pageset_fini(&s->plan);
	hw_typecount_fini(&s->tc);
	free(s);
}

const struct hw_layout *hw_session_layout(const struct hw_session *s)
{
	return &s->layout;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static void account_stop(struct hw_census *c, const struct hw_freeze *f)
{
	uint64_t ns = hw_freeze_elapsed_ns(f);

	c->pause_ns += ns;
	if (ns > c->max_pause_ns)
		c->max_pause_ns = ns;
	c->stops++;
}

static void walk_opts(struct hw_walk_opts *w, uint64_t deadline)
{
	memset(w, 0, sizeof *w);
	w->deadline_ns = deadline;
}

/* Walk what the snap holds and name the types. */
static int walk_and_name(struct hw_session *s, struct hw_census *c,
			 const struct hw_walk_opts *wo, struct hw_err *e)
{
	struct hw_walk_stats ws;
	uint64_t t0 = hw_now_ns();

	hw_typecount_clear(&s->tc);
	if (hw_gc_walk(s->snap, &s->layout.off, &s->roots, wo, &s->tc, &ws, e) < 0)
		return -1;
	if (name_types(s, c, e) < 0)
		return -1;
	c->gc_objects = ws.objects;
	c->ninterps = ws.ninterps;
	for (unsigned i = 0; i < 4; i++)
		c->per_list[i] = ws.per_list[i];
	c->partial = ws.partial;
	c->walk_ns += hw_now_ns() - t0;
	return 0;
}

/* Learn the pages a census needs by walking the running target.  The
 * heap moves under us, so errors only end the plan early. */
static void plan_by_prewalk(struct hw_session *s)
{
	struct hw_walk_opts wo;
	struct hw_walk_stats ws;
	struct hw_err tmp;
	char name[HW_TYPENAME_MAX];

	hw_snap_reset(s->snap, 1);
	hw_typecount_clear(&s->tc);
	walk_opts(&wo, 0);
	(void)hw_gc_walk(s->snap, &s->layout.off, &s->roots, &wo, &s->tc, &ws, &tmp);
	for (size_t i = 0; i < s->tc.cap; i++)
		if (s->tc.type[i])
			(void)hw_type_name(s->snap, &s->layout.off, s->tc.type[i],
					   name, sizeof name, &tmp);
	hw_pageset_clear(&s->plan);
	(void)hw_snap_touched(s->snap, &s->plan, &tmp);
}

/* Widen each missed page to its aligned block: a heap that grew did so
 * in fresh pools and arenas, next to the page we missed. */
static int add_misses(struct hw_session *s, struct hw_err *e)
{
	struct hw_pageset miss;
	int rc = 0;

	hw_pageset_init(&miss);
	if (hw_snap_missed(s->snap, &miss, e) < 0)
		rc = -1;
	for (size_t i = 0; rc == 0 && i < miss.n; i++) {
		uint64_t a = miss.start[i] & ~(uint64_t)(HW_SNAP_BLOCK - 1);
		uint64_t t = (miss.end[i] + HW_SNAP_BLOCK - 1) & ~(uint64_t)(HW_SNAP_BLOCK - 1);

		rc = hw_pageset_add(&s->plan, a, t - a, e);
	}
	hw_pageset_normalize(&s->plan);
	hw_pageset_fini(&miss);
	return rc;
}

enum { DONE = 0, RETRY = 1, FAIL = -1, FALLBACK = 2 };

/* One snapshot attempt. */
static int snapshot_once(struct hw_session *s, struct hw_census *c,
			 struct hw_err *e)
{
	struct hw_freeze f;
	struct hw_walk_opts wo;
	struct hw_snap_stats ss;
	sigset_t old;
	int fill_rc, rc;
	struct hw_err fe;

	hw_snap_reset(s->snap, 0);
	if (hw_snap_fill_prepare(s->snap, &s->plan, &fe) < 0) {
		hw_err_copy(e, &fe);
		return fe.code == HW_ELIMIT ? FALLBACK : FAIL;
	}
	hw_freeze_init(&f);
	hw_freeze_block_signals(&old);
	if (hw_freeze_begin(&f, s->pid, e) < 0) {
		hw_freeze_restore_signals(&old);
		hw_freeze_fini(&f);
		return FAIL;
	}
	fill_rc = hw_snap_fill_copy(s->snap,
				    s->opts.max_pause_ns ? f.t_begin_ns + s->opts.max_pause_ns : 0,
				    &fe);
	hw_freeze_end(&f, NULL);
	hw_freeze_restore_signals(&old);
	account_stop(c, &f);
	hw_freeze_fini(&f);
	if (fill_rc >= 0)
		hw_snap_fill_finish(s->snap);
	c->attempts++;
	hw_snap_get_stats(s->snap, &ss);
	c->copied_bytes += ss.fill_bytes;
	c->copy_calls += ss.fill_calls;
	if (fill_rc < 0) {
		hw_err_copy(e, &fe);
		return FAIL;
	}
	walk_opts(&wo, 0);
	wo.allow_misses = fill_rc == 1; /* out of time: count what we have */
	if (walk_and_name(s, c, &wo, e) == 0) {
		c->partial |= fill_rc == 1;
		/* Keep what this census touched as the next plan. */
		hw_pageset_clear(&s->plan);
		rc = hw_snap_touched(s->snap, &s->plan, e) < 0 ? FAIL : DONE;
		return rc;
	}
	if (e->code == HW_EMISS) {
		hw_snap_get_stats(s->snap, &ss);
		c->misses += ss.misses;
		return add_misses(s, e) < 0 ? FAIL : RETRY;
	}
	return FAIL;
}

/* Walk with the target stopped, reading through the block cache. */
static int stopped_once(struct hw_session *s, struct hw_census *c,
			struct hw_err *e)
{
	struct hw_freeze f;
	struct hw_walk_opts wo;
	struct hw_snap_stats ss;
	sigset_t old;
	int rc;

	hw_snap_reset(s->snap, 1);
	hw_freeze_init(&f);
	hw_freeze_block_signals(&old);
	if (hw_freeze_begin(&f, s->pid, e) < 0) {
		hw_freeze_restore_signals(&old);
		hw_freeze_fini(&f);
		return -1;
	}
	walk_opts(&wo, s->opts.max_pause_ns ? f.t_begin_ns + s->opts.max_pause_ns : 0);
	rc = walk_and_name(s, c, &wo, e);
	hw_freeze_end(&f, NULL);
	hw_freeze_restore_signals(&old);
	account_stop(c, &f);
	hw_freeze_fini(&f);
	hw_snap_get_stats(s->snap, &ss);
	c->copied_bytes += ss.bytes;
	c->copy_calls += ss.fetches;
	c->mode = "stopped";
	return rc;
}

static int census_body(struct hw_session *s, struct hw_census *c,
		       struct hw_err *e)
{
	int rc;

	if (s->opts.mode == HW_MODE_STOPPED)
		return stopped_once(s, c, e);
	c->mode = "snapshot";
	if (s->plan.n == 0)
		plan_by_prewalk(s);
	for (unsigned a = 0; a < HW_CENSUS_ATTEMPTS; a++) {
		rc = snapshot_once(s, c, e);
		if (rc == DONE)
			return 0;
		if (rc == FAIL)
			return -1;
		if (rc == FALLBACK)
			break;
	}
	/* The heap keeps outgrowing the plan, or the plan is over the
	 * snapshot limit: walk while stopped instead. */
	hw_pageset_clear(&s->plan);
	return stopped_once(s, c, e);
}

/* Name the pid once: lower layers may have named it already. */
static int prefix_pid(struct hw_err *e, pid_t pid)
{
	char head[32];

	snprintf(head, sizeof head, "pid %d:", (int)pid);
	if (strncmp(e->msg, head, strlen(head)) == 0)
		return -1;
	return hw_err_prefix(e, "pid %d", (int)pid);
}

static uint64_t cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* For `make bench`: the same pages copied again without stopping the
 * target, timing the system calls alone: the floor for the pause. */
static void measure_floor(struct hw_session *s, struct hw_census *c)
{
	struct hw_snap *tmp;
	struct hw_snap_stats ss;
	struct hw_err e;

	if (!getenv("HEAPWATCH_BENCH") || !s->plan.n)
		return;
	tmp = hw_snap_new(s->mem, 0, &e);
	if (!tmp)
		return;
	hw_snap_reset(tmp, 0);
	if (hw_snap_fill_prepare(tmp, &s->plan, &e) == 0 &&
	    hw_snap_fill_copy(tmp, 0, &e) >= 0) {
		hw_snap_get_stats(tmp, &ss);
		c->floor_ns = ss.fill_ns;
	}
	hw_snap_free(tmp);
}

int hw_session_census(struct hw_session *s, struct hw_census *c,
		      struct hw_err *e)
{
	struct hw_proc_stat st;
	uint64_t cpu0 = cpu_ns();
	int rc;

	census_reset(c);
	hw_snap_set_mem(s->snap, s->mem);
	c->pid = s->pid;
	snprintf(c->python, sizeof c->python, "%s", s->target.version);
	snprintf(c->layout_source, sizeof c->layout_source, "%s",
		 hw_layout_source_name(s->layout.source));
	snprintf(c->layout_detail, sizeof c->layout_detail, "%.*s",
		 (int)sizeof c->layout_detail - 1, s->layout.detail);
	snprintf(c->layout_notes, sizeof c->layout_notes, "%.*s",
		 (int)sizeof c->layout_notes - 1, s->layout.notes);
	c->version_untested = s->layout.untested;
	if (hw_proc_stat(s->pid, &st, e) < 0)
		return -1;
	c->starttime = st.starttime;
	if (hw_proc_mem(s->pid, &c->mem, e) < 0)
		return prefix_pid(e, s->pid);
	for (unsigned b = 0;; b++) {
		rc = census_body(s, c, e);
		if (rc == 0 || e->code != HW_EBUSY || b >= s->opts.busy_retries)
			break;
		/* A collection is running: let it finish (most take
		 * milliseconds; one paused in a __del__ can take longer). */
		c->busy_waits++;
		sleep_ms(b < 5 ? 2 : 100);
	}
	if (rc < 0) {
		/* Did the target go away under us? */
		if (e->code != HW_ENOPROC && hw_proc_stat(s->pid, &st, NULL) < 0)
			hw_err_set(e, HW_EEXITED, 0, "process exited during the census");
		else if (e->code != HW_ENOPROC && st.starttime != c->starttime)
			hw_err_set(e, HW_EEXITED, 0,
				   "process exited during the census (pid reused)");
		return prefix_pid(e, s->pid);
	}
	c->cpu_ns = cpu_ns() - cpu0;
	measure_floor(s, c);
	return 0;
}
