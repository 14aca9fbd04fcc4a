/* track.c - per-process and per-target tracking; see
 * include/heapwatch/track.h. */
#include "heapwatch/track.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "heapwatch/log.h"

static uint64_t cpu_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void hw_track_conf_from(struct hw_track_conf *tc, const struct hw_config *c)
{
	memset(tc, 0, sizeof *tc);
	tc->sel.top_types = c->top_types;
	tc->sel.growth_types = c->growth_types;
	tc->sel.max_types = c->max_types;
	tc->sel.watch = (const char *const *)c->watch_types.v;
	tc->sel.nwatch = c->watch_types.n;
	tc->verdict.warmup_s = (double)c->trend.warmup_ns / 1e9;
	tc->verdict.bucket_s = (double)c->trend.bucket_ns / 1e9;
	tc->verdict.nbuckets = (uint32_t)(c->trend.window_ns / c->trend.bucket_ns);
	tc->verdict.max_types = c->max_types;
}

int hw_target_track_init(struct hw_target_track *tt, const struct hw_track_conf *c,
			 size_t round_cap)
{
	struct hw_select_conf ac = c->sel;

	memset(tt, 0, sizeof *tt);
	tt->conf = c;
	tt->said = -1;
	ac.top_types = ac.growth_types = 0;
	ac.watch = NULL;
	ac.nwatch = 0;
	ac.union_all = 1;
	tt->sel = hw_select_new(&ac);
	tt->trend = hw_target_trend_new(&c->verdict);
	tt->live_cap = round_cap;
	tt->live = calloc(round_cap ? round_cap : 1, sizeof *tt->live);
	/* The union of the round's types, before the cap of the aggregate:
	 * room for four times max_types distinct names (more are left out,
	 * as the cap would). */
	tt->merged_cap = 4 * (size_t)c->sel.max_types;
	tt->input = calloc(tt->merged_cap, sizeof *tt->input);
	tt->merged = calloc(tt->merged_cap, sizeof *tt->merged);
	for (tt->mtab_cap = 16; tt->mtab_cap < 2 * tt->merged_cap; tt->mtab_cap *= 2)
		;
	tt->mtab = calloc(tt->mtab_cap, sizeof *tt->mtab);
	if (!tt->sel || !tt->trend || !tt->live || !tt->input || !tt->merged ||
	    !tt->mtab) {
		hw_target_track_fini(tt);
		errno = ENOMEM;
		return -1;
	}
	return 0;
}

void hw_target_track_fini(struct hw_target_track *tt)
{
	hw_select_free(tt->sel);
	hw_target_trend_free(tt->trend);
	free(tt->live);
	free(tt->input);
	free(tt->merged);
	free(tt->mtab);
	memset(tt, 0, sizeof *tt);
	tt->said = -1;
}

void hw_proc_track_init(struct hw_proc_track *pt)
{
	memset(pt, 0, sizeof *pt);
	pt->said = -1;
}

void hw_proc_track_retire(struct hw_proc_track *pt, struct hw_target_track *tt)
{
	if (tt && tt->trend)
		hw_target_trend_retire(tt->trend, pt->trend);
	else
		hw_proc_trend_free(pt->trend);
	hw_select_free(pt->sel);
	hw_proc_track_init(pt);
}

static int64_t rate(double v)
{
	if (!(v == v))
		return 0;
	if (v > 9.2e18)
		return INT64_MAX;
	if (v < -9.2e18)
		return INT64_MIN + 1;
	return (int64_t)llround(v);
}

static void say(int *said, const struct hw_judged *j, const char *target, pid_t pid)
{
	if (*said == (int)j->verdict)
		return;
	*said = (int)j->verdict;
	if (pid)
		hw_log(j->verdict == HW_VERDICT_WARMING ? HW_LOG_INFO : HW_LOG_NOTICE,
		       "target %s pid %d: %s: %s", target, (int)pid,
		       hw_verdict_name(j->verdict), j->detail);
	else
		hw_log(j->verdict == HW_VERDICT_WARMING ? HW_LOG_INFO : HW_LOG_NOTICE,
		       "target %s: %s: %s", target, hw_verdict_name(j->verdict), j->detail);
}

static void set_verdict_fields(struct hw_sample *s, const struct hw_judged *j)
{
	s->has_verdict = 1;
	s->verdict = (int)j->verdict;
	s->kind = (int)j->kind;
	s->has_rss_growth = j->has_rss && j->verdict != HW_VERDICT_WARMING;
	s->rss_growth_per_hour = rate(j->rss_per_hour);
}

void hw_proc_track_sample(struct hw_proc_track *pt, struct hw_target_track *tt,
			  const char *target, const struct hw_census *c,
			  double age_s, struct hw_sample *s)
{
	const struct hw_track_conf *conf = tt->conf;
	uint64_t t0 = cpu_now();
	const struct hw_select *sel = NULL;

	s->ntypes = 0;
	s->types_held_back = 0;
	s->has_verdict = 0;
	if (!pt->trend && !pt->failed_alloc) {
		pt->trend = hw_proc_trend_new(&conf->verdict);
		if (!pt->trend) {
			pt->failed_alloc = 1;
			hw_log(HW_LOG_WARNING, "target %s pid %d: no memory for its trend: %s",
			       target, (int)s->pid, strerror(errno));
		}
	}
	if (s->ok && !pt->sel)
		pt->sel = hw_select_new(&conf->sel);
	if (s->ok && pt->sel) {
		if (hw_select_update(pt->sel, c->types, c->ntypes, UINT32_MAX) < 0 &&
		    hw_select_updates(pt->sel) == 1)
			hw_log(HW_LOG_WARNING, "target %s pid %d: no memory to follow growth",
			       target, (int)s->pid);
		sel = pt->sel;
		s->types_held_back = hw_select_held_back(sel);
	}
	if (pt->trend) {
		hw_proc_trend_add(pt->trend, age_s, s->wall_ms, s->rss, s->pss, sel);
		set_verdict_fields(s, hw_proc_trend_judged(pt->trend));
	}
	if (sel) {
		uint32_t n = hw_select_len(sel);

		for (uint32_t i = 0; i < n && s->ntypes < s->cap_types; i++) {
			struct hw_sample_type *ty = &s->types[s->ntypes++];
			double g;

			snprintf(ty->name, sizeof ty->name, "%s", hw_select_name(sel, i));
			ty->count = hw_select_count(sel, i);
			ty->has_growth = pt->trend && hw_proc_trend_growth(pt->trend, i, &g);
			ty->growth_per_hour = ty->has_growth ? rate(g) : 0;
			if (c->sizes) {   /* `sizes: true`: its bytes too */
				const struct hw_census_type *ct = hw_census_find(c, ty->name);

				ty->bytes = ct ? ct->bytes : 0;
				ty->has_bytes = ct != NULL;
			} else {
				ty->has_bytes = 0;
			}
		}
	}
	tt->cpu_ns += cpu_now() - t0;
	if (pt->trend)
		say(&pt->said, hw_proc_trend_judged(pt->trend), target, s->pid);
}

static uint64_t hash_name(const char *s)
{
	uint64_t h = 14695981039346656037ull;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

/* Merge the round's types by name into tt->input (first seen first),
 * through an open-addressing table of indices + 1. */
static size_t merge_types(struct hw_target_track *tt,
			  const struct hw_sample *const *samples, size_t n)
{
	const uint32_t mask = tt->mtab_cap - 1;
	size_t m = 0;

	memset(tt->mtab, 0, tt->mtab_cap * sizeof *tt->mtab);
	for (size_t i = 0; i < n; i++) {
		const struct hw_sample *s = samples[i];

		if (!s->ok)
			continue;
		for (uint32_t k = 0; k < s->ntypes; k++) {
			const char *name = s->types[k].name;
			uint32_t at = (uint32_t)hash_name(name) & mask;

			for (; tt->mtab[at]; at = (at + 1) & mask)
				if (strcmp(tt->merged[tt->mtab[at] - 1].name, name) == 0)
					break;
			if (tt->mtab[at]) {
				tt->merged[tt->mtab[at] - 1].count += s->types[k].count;
				tt->merged[tt->mtab[at] - 1].bytes += s->types[k].bytes;
				tt->merged[tt->mtab[at] - 1].has_bytes |= s->types[k].has_bytes;
				continue;
			}
			if (m == tt->merged_cap)
				continue;
			memcpy(tt->merged[m].name, name, sizeof tt->merged[m].name);
			tt->merged[m].name[sizeof tt->merged[m].name - 1] = '\0';
			tt->merged[m].count = s->types[k].count;
			tt->merged[m].bytes = s->types[k].bytes;
			tt->merged[m].has_bytes = s->types[k].has_bytes;
			tt->mtab[at] = (uint32_t)++m;
		}
	}
	for (size_t i = 0; i < m; i++) {
		tt->input[i].name = tt->merged[i].name;
		tt->input[i].count = tt->merged[i].count;
	}
	return m;
}

/* The round's merged row of a name (merge_types), or NULL. */
static const struct hw_sample_type *merged_find(const struct hw_target_track *tt,
						const char *name)
{
	const uint32_t mask = tt->mtab_cap - 1;

	for (uint32_t at = (uint32_t)hash_name(name) & mask; tt->mtab[at]; at = (at + 1) & mask)
		if (strcmp(tt->merged[tt->mtab[at] - 1].name, name) == 0)
			return &tt->merged[tt->mtab[at] - 1];
	return NULL;
}

void hw_target_track_round(struct hw_target_track *tt, const char *target,
			   struct hw_proc_track *const *tracks,
			   const struct hw_sample *const *samples, size_t n,
			   struct hw_sample *agg)
{
	uint64_t t0 = cpu_now();
	size_t nl = 0, m;
	uint32_t held = 0;

	agg->partial = 0;
	for (size_t i = 0; i < n; i++) {
		if (samples[i]->ok)
			agg->partial |= samples[i]->partial != 0;
		held += samples[i]->types_held_back;
		if (nl < tt->live_cap)
			tt->live[nl++] = tracks[i] ? tracks[i]->trend : NULL;
	}
	m = merge_types(tt, samples, n);
	agg->ntypes = 0;
	agg->types_held_back = 0;
	if (tt->sel && agg->ok) {
		hw_select_update(tt->sel, tt->input, m, UINT32_MAX);
		agg->types_held_back = hw_select_held_back(tt->sel);
		held += agg->types_held_back;
	}
	hw_target_trend_judge(tt->trend, tt->live, nl, agg->wall_ms);
	set_verdict_fields(agg, hw_target_trend_judged(tt->trend));
	if (tt->sel && agg->ok) {
		uint32_t len = hw_select_len(tt->sel);

		for (uint32_t i = 0; i < len && agg->ntypes < agg->cap_types; i++) {
			struct hw_sample_type *ty = &agg->types[agg->ntypes++];
			double g;

			snprintf(ty->name, sizeof ty->name, "%s", hw_select_name(tt->sel, i));
			ty->count = hw_select_count(tt->sel, i);
			ty->has_growth = hw_target_trend_growth(tt->trend, tt->live, nl,
								ty->name, &g);
			ty->growth_per_hour = ty->has_growth ? rate(g) : 0;
			{   /* `sizes: true`: the processes' bytes summed */
				const struct hw_sample_type *mt = merged_find(tt, ty->name);

				ty->has_bytes = mt && mt->has_bytes;
				ty->bytes = ty->has_bytes ? mt->bytes : 0;
			}
		}
	}
	tt->held_back = held;
	tt->cpu_ns += cpu_now() - t0;
	say(&tt->said, hw_target_trend_judged(tt->trend), target, 0);
}
