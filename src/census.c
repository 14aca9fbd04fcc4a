/* census.c - sessions and the census job; see include/heapwatch/census.h. */
#include "heapwatch/census.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "heapwatch/heapsizes.h"
#include "heapwatch/objects.h"
#include "heapwatch/proc.h"
#include "heapwatch/target.h"
#include "heapwatch/typename.h"

struct hw_session {
	struct hw_target_desc desc;
	struct hw_census_opts opts;
	struct hw_layout layout;
	struct hw_mem *mem;            /* borrowed, or own_mem */
	struct hw_stopper *stopper;    /* borrowed, or &live->stopper.base */
	struct hw_capture *cap;
	struct hw_typecount tc;
	struct hw_nametab names;
	/* opts.sizes: the object model (made on the first run, over that
	 * run's snap), the rows of the last walk, and per name the objects
	 * of approximate size (count) and values bytes (bytes) */
	struct hw_objects *objects;
	struct hw_sizes sizes;
	struct hw_nametab extra;
	/* Only for a session made from a pid (hw_session_open). */
	struct live {
		struct hw_target target;
		struct hw_ptrace_stopper stopper;
		struct hw_mem *mem;
	} *live;
};

void hw_census_opts_default(struct hw_census_opts *o)
{
	memset(o, 0, sizeof *o);
	o->mode = HW_MODE_SNAPSHOT;
	o->max_pause_ns = 500ull * 1000 * 1000;
	o->max_walk_ns = HW_MAX_WALK_DEFAULT_NS;
	o->snapshot_limit = 1ull << 30;
	o->source = HW_SRC_NONE;
	o->busy_retries = 20;
	o->mem_kind = -1;
}

/* ------------------------------------------------------------------ */
/* results */

void hw_census_init(struct hw_census *c)
{
	memset(c, 0, sizeof *c);
	hw_pool_init(&c->pool);
}

void hw_census_fini(struct hw_census *c)
{
	free(c->types);
	free(c->by_name);
	hw_pool_fini(&c->pool);
	memset(c, 0, sizeof *c);
}

static int cmp_by_name(const void *x, const void *y)
{
	return strcmp((*(struct hw_census_type *const *)x)->name,
		      (*(struct hw_census_type *const *)y)->name);
}

const struct hw_census_type *hw_census_find(const struct hw_census *c,
					    const char *name)
{
	if (c->by_name) {
		struct hw_census_type key = { name, 0, 0, 0, 0 }, *kp = &key;
		struct hw_census_type **r = bsearch(&kp, c->by_name, c->ntypes,
						    sizeof *c->by_name, cmp_by_name);

		return r ? *r : NULL;
	}
	for (size_t i = 0; i < c->ntypes; i++)
		if (strcmp(c->types[i].name, name) == 0)
			return &c->types[i];
	return NULL;
}

uint64_t hw_census_count(const struct hw_census *c, const char *name)
{
	for (size_t i = 0; i < c->ntypes; i++)
		if (strcmp(c->types[i].name, name) == 0)
			return c->types[i].count;
	return 0;
}

/* Empty c, keeping its storage. */
static void census_reset(struct hw_census *c)
{
	struct hw_pool pool = c->pool;

	free(c->types);
	free(c->by_name);
	memset(c, 0, sizeof *c);
	c->pool = pool;
	hw_pool_clear(&c->pool);
	c->mem = (struct hw_proc_mem){ -1, -1, -1, -1 };
}

/* ------------------------------------------------------------------ */
/* the census job: walk, count per type address, name */

struct census_job {
	struct hw_session *s;
	struct hw_census *c;
};

/* Name every counted type and build the sorted table. */
static int name_types(struct hw_session *s, struct hw_snap *snap,
		      struct hw_census *c, struct hw_err *e)
{
	struct hw_name_row *rows;
	char name[HW_TYPENAME_MAX];
	size_t n;

	hw_nametab_clear(&s->names);
	hw_pool_clear(&c->pool);
	for (size_t i = 0; i < s->tc.cap; i++) {
		if (!s->tc.type[i])
			continue;
		if (hw_type_name(snap, &s->layout.off, s->tc.type[i], name,
				 sizeof name, e) < 0)
			return -1;
		if (hw_nametab_add(&s->names, &c->pool, name, s->tc.count[i], 0, e) < 0)
			return -1;
	}
	if (hw_nametab_rows(&s->names, &c->pool, HW_ORDER_COUNT, &rows, &n, e) < 0)
		return -1;
	free(c->types);
	c->types = (struct hw_census_type *)calloc(n ? n : 1, sizeof *c->types);
	if (!c->types) {
		free(rows);
		return hw_err_set(e, HW_ENOMEM, ENOMEM, "allocating the census");
	}
	for (size_t i = 0; i < n; i++)
		c->types[i] = (struct hw_census_type){ rows[i].name, rows[i].count };
	c->ntypes = n;
	free(rows);
	return 0;
}

/* "dict of X" for a dict owned by an object of type owner. */
static int row_name(struct hw_session *s, struct hw_snap *snap, const struct hw_sizes_row *r,
		    char *name, size_t size, struct hw_err *e)
{
	char owner[HW_TYPENAME_MAX];

	if (hw_type_name(snap, &s->layout.off, r->type_addr, name, size, e) < 0)
		return -1;
	if (!r->owner_addr)
		return 0;
	if (hw_type_name(snap, &s->layout.off, r->owner_addr, owner, sizeof owner, e) < 0)
		return -1;
	snprintf(name, size, "dict of %.*s", (int)(size > 9 ? size - 9 : 0), owner);
	return 0;
}

static int cmp_row_name(const void *x, const void *y)
{
	return strcmp(((const struct hw_name_row *)x)->name,
		      ((const struct hw_name_row *)y)->name);
}

/* The sizes walk's rows, named and merged by name as the census merges
 * its counts. */
static int name_sized(struct hw_session *s, struct hw_snap *snap,
		      struct hw_census *c, struct hw_err *e)
{
	struct hw_name_row *rows = NULL, *extra = NULL;
	char name[HW_TYPENAME_MAX];
	size_t n, nx;
	int rc = -1;

	hw_nametab_clear(&s->names);
	hw_nametab_clear(&s->extra);
	hw_pool_clear(&c->pool);
	for (size_t i = 0; i < s->sizes.cap; i++) {
		const struct hw_sizes_row *r = &s->sizes.rows[i];

		if (!r->type_addr)
			continue;
		if (row_name(s, snap, r, name, sizeof name, e) < 0 ||
		    hw_nametab_add(&s->names, &c->pool, name, r->count, r->bytes, e) < 0 ||
		    hw_nametab_add(&s->extra, &c->pool, name, r->approx, r->values_bytes, e) < 0)
			return -1;
	}
	if (hw_nametab_rows(&s->names, &c->pool, HW_ORDER_COUNT, &rows, &n, e) < 0 ||
	    hw_nametab_rows(&s->extra, &c->pool, HW_ORDER_COUNT, &extra, &nx, e) < 0)
		goto out;
	qsort(extra, nx, sizeof *extra, cmp_row_name);
	free(c->types);
	c->types = (struct hw_census_type *)calloc(n ? n : 1, sizeof *c->types);
	if (!c->types) {
		hw_err_set(e, HW_ENOMEM, ENOMEM, "allocating the census");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		struct hw_name_row key = { rows[i].name, 0, 0 };
		const struct hw_name_row *x = bsearch(&key, extra, nx, sizeof *extra, cmp_row_name);

		c->types[i] = (struct hw_census_type){ rows[i].name, rows[i].count, rows[i].bytes,
						       x ? x->bytes : 0, x ? x->count : 0 };
	}
	c->ntypes = n;
	c->sizes = 1;
	c->bytes = s->sizes.bytes;
	/* an index by name, for the daemon's bytes of the types it sends */
	free(c->by_name);
	c->by_name = malloc((n ? n : 1) * sizeof *c->by_name);
	if (!c->by_name) {
		hw_err_set(e, HW_ENOMEM, ENOMEM, "indexing the census");
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		c->by_name[i] = &c->types[i];
	qsort(c->by_name, n, sizeof *c->by_name, cmp_by_name);
	rc = 0;
out:
	free(rows);
	free(extra);
	return rc;
}

/* The sizes job: the census walk, sizing every object on the way. */
static int sizes_run(struct hw_session *s, struct hw_census *c, struct hw_job_ctx *x,
		     const struct hw_walk_opts *wo, struct hw_walk_stats *ws, struct hw_err *e)
{
	if (!s->live)
		return hw_err_set(e, HW_EUSAGE, 0, "sizes need a session of a live process");
	if (!s->objects) {
		/* read the target's builtin types through this run's snap: the
		 * pre-walk puts their pages into the plan */
		s->objects = hw_objects_new(&s->live->target, &s->layout, x->snap, e);
		if (!s->objects)
			return -1;
	}
	if (hw_sizes_walk(s->objects, 1, x->snap, &x->layout->off, x->roots, wo,
			  &s->tc, ws, &s->sizes, e) < 0)
		return -1;
	return name_sized(s, x->snap, c, e);
}

static int census_run(void *arg, struct hw_job_ctx *x, struct hw_err *e)
{
	struct census_job *j = arg;
	struct hw_session *s = j->s;
	struct hw_census *c = j->c;
	struct hw_walk_opts wo;
	struct hw_walk_stats ws;

	memset(&wo, 0, sizeof wo);
	wo.deadline_ns = x->deadline_ns;
	wo.allow_misses = x->allow_misses;
	hw_typecount_clear(&s->tc);
	c->ntypes = 0;
	c->sizes = 0;
	if (s->opts.sizes) {
		if (sizes_run(s, c, x, &wo, &ws, e) < 0)
			return -1;
	} else if (hw_gc_walk(x->snap, &x->layout->off, x->roots, &wo, &s->tc, &ws, e) < 0 ||
		   name_types(s, x->snap, c, e) < 0) {
		return -1;
	}
	c->gc_objects = ws.objects;
	c->ninterps = ws.ninterps;
	for (unsigned i = 0; i < 4; i++)
		c->per_list[i] = ws.per_list[i];
	x->partial = ws.partial;
	return 0;
}

/* ------------------------------------------------------------------ */
/* sessions */

static void capture_opts(const struct hw_census_opts *o, struct hw_capture_opts *co)
{
	hw_capture_opts_default(co);
	co->mode = o->mode == HW_MODE_STOPPED ? HW_CAPTURE_STOPPED : HW_CAPTURE_SNAPSHOT;
	co->max_pause_ns = o->max_pause_ns;
	co->max_walk_ns = o->max_walk_ns;
	co->busy_retries = o->busy_retries;
}

/* Everything but the parts, which the caller has set. */
static int session_finish(struct hw_session *s, struct hw_err *e)
{
	struct hw_capture_opts co;

	/* Whatever its source, a layout is adopted only if none of its
	 * fields can index past a buffer of ours. */
	if (hw_offsets_validate(&s->layout.off, e) < 0)
		return hw_err_prefix(e, "layout from %s",
				     hw_layout_source_name(s->layout.source));
	capture_opts(&s->opts, &co);
	hw_typecount_init(&s->tc);
	hw_nametab_init(&s->names);
	hw_nametab_init(&s->extra);
	hw_sizes_init(&s->sizes);
	s->cap = hw_capture_new(s->mem, s->stopper, &s->layout, &s->desc.roots,
				s->opts.shared_snap, s->opts.snapshot_limit, &co, e);
	return s->cap ? 0 : -1;
}

struct hw_session *hw_session_new(const struct hw_target_desc *t,
				  struct hw_mem *m, const struct hw_layout *l,
				  struct hw_stopper *st,
				  const struct hw_census_opts *o,
				  struct hw_err *e)
{
	struct hw_session *s = calloc(1, sizeof *s);

	if (!s) {
		hw_err_set(e, HW_ENOMEM, ENOMEM, "allocating a session");
		return NULL;
	}
	s->desc = *t;
	s->layout = *l;
	s->mem = m;
	s->stopper = st;
	if (o)
		s->opts = *o;
	else
		hw_census_opts_default(&s->opts);
	if (session_finish(s, e) < 0) {
		hw_session_free(s);
		return NULL;
	}
	return s;
}

/* The live target runs another program than the one it was opened with
 * (it called exec): *now gets the new one. */
static int replaced_program(const struct live *lv, pid_t pid, char *now, size_t size)
{
	return lv->target.exe[0] && hw_proc_exe(pid, now, size, NULL, NULL) == 0 &&
	       strcmp(now, lv->target.exe) != 0;
}

struct hw_session *hw_session_open(pid_t pid, const struct hw_census_opts *o,
				   struct hw_err *e)
{
	struct hw_session *s = calloc(1, sizeof *s);
	struct live *lv;

	if (!s || !(s->live = lv = calloc(1, sizeof *lv))) {
		free(s);
		hw_err_set(e, HW_ENOMEM, ENOMEM, "allocating a session");
		return NULL;
	}
	s->desc.pid = pid;
	if (o)
		s->opts = *o;
	else
		hw_census_opts_default(&s->opts);
	/* Stopping every thread is bounded by the pause budget too, but
	 * never below HW_STOP_BUDGET_MIN_NS: that bound is for a thread
	 * that cannot stop, not for one the scheduler is slow to run (a
	 * stop that eats a tiny budget only makes the census partial). */
	hw_ptrace_stopper_init(&lv->stopper, pid, !s->opts.max_pause_ns ? 0 :
			       s->opts.max_pause_ns > HW_STOP_BUDGET_MIN_NS ?
			       s->opts.max_pause_ns : HW_STOP_BUDGET_MIN_NS);
	s->stopper = &lv->stopper.base;
	if (hw_target_open(&lv->target, pid, e) < 0) {
		if (e->code == HW_EPERM) {
			/* Say what grants access, not just what failed. */
			char why[512];

			hw_proc_explain_eperm(pid, why, sizeof why);
			hw_err_set(e, HW_EPERM, 0, "%s", why);
		}
		goto fail;
	}
	snprintf(s->desc.version, sizeof s->desc.version, "%s", lv->target.version);
	s->desc.roots.runtime_addr = lv->target.runtime_addr;
	s->desc.roots.gen0_ptr_addr = lv->target.gen0_ptr_addr;
	if (!(s->mem = lv->mem = hw_mem_open_pid(pid, s->opts.mem_kind, e)))
		goto fail;
	if (hw_layout_resolve(&lv->target, s->mem, s->opts.source, &s->layout, e) < 0) {
		hw_err_prefix(e, "CPython %s",
			      lv->target.version[0] ? lv->target.version : "?");
		goto fail;
	}
	if (session_finish(s, e) < 0)
		goto fail;
	return s;
fail:
	{
		char now[512];

		if (e->code != HW_ENOPROC && replaced_program(lv, pid, now, sizeof now))
			hw_err_set(e, HW_EEXITED, 0, "process replaced its program while "
				   "heapwatch looked at it (now %s)", now);
	}
	/* The one place that names the pid of a failed open: the layers
	 * below never do. */
	hw_err_prefix(e, "pid %d", (int)pid);
	hw_session_free(s);
	return NULL;
}

void hw_session_free(struct hw_session *s)
{
	if (!s)
		return;
	hw_capture_free(s->cap);
	if (s->live) {
		hw_mem_free(s->live->mem);
		hw_ptrace_stopper_fini(&s->live->stopper);
		free(s->live);
	}
	hw_typecount_fini(&s->tc);
	hw_nametab_fini(&s->names);
	hw_nametab_fini(&s->extra);
	hw_sizes_fini(&s->sizes);
	hw_objects_free(s->objects);
	free(s);
}

const struct hw_layout *hw_session_layout(const struct hw_session *s)
{
	return &s->layout;
}

const struct hw_target *hw_session_target(const struct hw_session *s)
{
	return s->live ? &s->live->target : NULL;
}

struct hw_snap *hw_session_live_snap(struct hw_session *s)
{
	return hw_capture_live_snap(s->cap);
}

/* Errors of a session name its pid, once: the layers below never do. */
static int name_pid(const struct hw_session *s, struct hw_err *e)
{
	if (!s->desc.pid)
		return -1;
	return hw_err_prefix(e, "pid %d", (int)s->desc.pid);
}

static uint64_t cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* A run failed: did the live target go away under us? */
/* A run failed: did the live target go away, or exec, under us?  Then
 * that is the error, not what the walk of its vanishing heap found. */
static void check_exited(const struct hw_session *s, uint64_t starttime,
			 struct hw_err *e)
{
	struct hw_proc_stat st;
	char now[512];

	if (!s->live || e->code == HW_ENOPROC)
		return;
	if (hw_proc_stat(s->desc.pid, &st, NULL) < 0)
		hw_err_set(e, HW_EEXITED, 0, "process exited during the census");
	else if (st.starttime != starttime)
		hw_err_set(e, HW_EEXITED, 0,
			   "process exited during the census (pid reused)");
	else if (replaced_program(s->live, s->desc.pid, now, sizeof now))
		hw_err_set(e, HW_EEXITED, 0,
			   "process replaced its program during the census (now %s)", now);
}

int hw_session_capture(struct hw_session *s, const struct hw_job *job,
		       struct hw_capture_stats *st, struct hw_err *e)
{
	struct hw_proc_stat ps;
	uint64_t starttime = 0;

	if (s->live) {
		if (hw_proc_stat(s->desc.pid, &ps, e) < 0)
			return name_pid(s, e);
		starttime = ps.starttime;
	}
	if (hw_capture_run(s->cap, job, st, e) < 0) {
		check_exited(s, starttime, e);
		return name_pid(s, e);
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* a plan from the resident pages */

/* Beyond this much writable address space, reading pagemap costs more
 * than it saves (8 bytes a page). */
#define SEED_MAX_SPAN (16ull << 30)

struct seed {
	struct hw_pageset ps;
	uint64_t bytes, max;
};

static int seed_run(void *arg, uint64_t start, uint64_t end, struct hw_err *e)
{
	struct seed *sd = arg;

	sd->bytes += end - start;
	if (sd->bytes > sd->max)
		return hw_err_set(e, HW_ELIMIT, 0, "more than %llu resident bytes",
				  (unsigned long long)sd->max);
	return hw_pageset_add(&sd->ps, start, end - start, e);
}

/* Mappings a job reads: private, readable and not code (the heap, the
 * anonymous arenas, the .data and .bss of the interpreter and its
 * extensions, their read-only data: type names, static strings); not a
 * device's. */
static int seed_map(const struct hw_map *m)
{
	return m->r && !m->x && m->p && strncmp(m->path, "/dev/", 5) != 0 &&
	       strcmp(m->path, "[vvar]") != 0 && strcmp(m->path, "[vsyscall]") != 0;
}

int hw_session_seed_resident(struct hw_session *s, const char *kind,
			     uint64_t max_bytes, struct hw_err *e)
{
	struct hw_maps maps = { NULL, 0 };
	struct seed sd;
	struct hw_err tmp;
	uint64_t span = 0;
	int rc = 0;

	if (!s->live)
		return 0;
	memset(&sd, 0, sizeof sd);
	hw_pageset_init(&sd.ps);
	sd.max = max_bytes;
	if (s->opts.snapshot_limit && s->opts.snapshot_limit < sd.max)
		sd.max = s->opts.snapshot_limit;
	hw_err_clear(&tmp);
	if (hw_proc_maps(s->desc.pid, &maps, &tmp) < 0) {
		rc = tmp.code == HW_ENOMEM ? -1 : 0;
		goto out;
	}
	for (size_t i = 0; i < maps.n; i++)
		if (seed_map(&maps.v[i]))
			span += maps.v[i].end - maps.v[i].start;
	if (span > SEED_MAX_SPAN)
		goto out;
	for (size_t i = 0; i < maps.n; i++) {
		if (!seed_map(&maps.v[i]))
			continue;
		if (hw_proc_resident(s->desc.pid, maps.v[i].start, maps.v[i].end,
				     seed_run, &sd, &tmp) < 0) {
			rc = tmp.code == HW_ENOMEM ? -1 : 0;
			goto out;
		}
	}
	hw_pageset_normalize(&sd.ps);
	if (sd.ps.n && hw_capture_seed(s->cap, kind, &sd.ps, &tmp) == 0)
		rc = 1;
	else if (sd.ps.n && tmp.code == HW_ENOMEM)
		rc = -1;
out:
	if (rc < 0)
		hw_err_copy(e, &tmp);
	hw_maps_fini(&maps);
	hw_pageset_fini(&sd.ps);
	return rc;
}

int hw_session_census(struct hw_session *s, struct hw_census *c,
		      struct hw_err *e)
{
	struct census_job j = { s, c };
	struct hw_job job = { s->opts.sizes ? "sizes" : "census", census_run, &j };
	struct hw_capture_stats st;
	struct hw_proc_stat ps;
	uint64_t cpu0 = cpu_ns();

	census_reset(c);
	c->pid = s->desc.pid;
	snprintf(c->python, sizeof c->python, "%s", s->desc.version);
	snprintf(c->layout_source, sizeof c->layout_source, "%s",
		 hw_layout_source_name(s->layout.source));
	snprintf(c->layout_detail, sizeof c->layout_detail, "%.*s",
		 (int)sizeof c->layout_detail - 1, s->layout.detail);
	snprintf(c->layout_notes, sizeof c->layout_notes, "%.*s",
		 (int)sizeof c->layout_notes - 1, s->layout.notes);
	c->version_untested = s->layout.untested;
	/* The live target: its identity and memory figures, from /proc. */
	if (s->live) {
		if (hw_proc_stat(s->desc.pid, &ps, e) < 0 ||
		    hw_proc_mem(s->desc.pid, &c->mem, e) < 0)
			return name_pid(s, e);
		c->starttime = ps.starttime;
	}
	if (hw_capture_run(s->cap, &job, &st, e) < 0) {
		c->busy_waits = st.busy_waits;
		c->detach_failures = st.detach_failures;
		memcpy(c->detach_error, st.detach_error, sizeof c->detach_error);
		check_exited(s, c->starttime, e);
		return name_pid(s, e);
	}
	c->mode = st.mode;
	c->partial = st.partial;
	c->partial_reason = st.partial_reason;
	c->pause_ns = st.pause_ns;
	c->max_pause_ns = st.max_pause_ns;
	c->stops = st.stops;
	c->copied_bytes = st.copied_bytes;
	c->copy_calls = st.copy_calls;
	c->walk_ns = st.job_ns;
	c->attempts = st.attempts;
	c->misses = st.misses;
	c->busy_waits = st.busy_waits;
	c->detach_failures = st.detach_failures;
	memcpy(c->detach_error, st.detach_error, sizeof c->detach_error);
	c->cpu_ns = cpu_ns() - cpu0;
	if (s->opts.measure_floor)
		(void)hw_capture_floor(s->cap, job.kind, &c->floor_ns, NULL);
	return 0;
}
