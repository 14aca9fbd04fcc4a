/* sample.c - samples and their aggregates; see include/heapwatch/sample.h. */
#include "heapwatch/sample.h"

#include <string.h>

void hw_sample_copy(struct hw_sample *dst, const struct hw_sample *src)
{
	struct hw_sample_type *types = dst->types;
	uint32_t cap = dst->cap_types;

	if (dst == src)
		return;
	*dst = *src;
	dst->types = types;
	dst->cap_types = cap;
	dst->ntypes = src->ntypes < cap ? src->ntypes : cap;
	if (dst->ntypes)
		memcpy(types, src->types, dst->ntypes * sizeof *types);
	dst->target[sizeof dst->target - 1] = '\0';
	for (uint32_t i = 0; i < dst->ntypes; i++)
		types[i].name[sizeof types[i].name - 1] = '\0';
}

/* ------------------------------------------------------------------ */
/* In-place heaps.  Not qsort(3): glibc's qsort mallocs a buffer as large
 * as the array, and the sampling path must not allocate. */

static void swap_types(struct hw_sample_type *a, struct hw_sample_type *b)
{
	struct hw_sample_type t = *a;

	*a = *b;
	*b = t;
}

/* a ranks before b in the final list: larger count, then smaller name. */
static int ranks_before(const struct hw_sample_type *a,
			const struct hw_sample_type *b)
{
	if (a->count != b->count)
		return a->count > b->count;
	return strcmp(a->name, b->name) < 0;
}

/* Max-heap by name: sift v[i] down within v[0..n). */
static void name_sift(struct hw_sample_type *v, size_t i, size_t n)
{
	for (;;) {
		size_t c = 2 * i + 1, big = i;

		if (c < n && strcmp(v[c].name, v[big].name) > 0)
			big = c;
		if (c + 1 < n && strcmp(v[c + 1].name, v[big].name) > 0)
			big = c + 1;
		if (big == i)
			return;
		swap_types(&v[i], &v[big]);
		i = big;
	}
}

static void sort_by_name(struct hw_sample_type *v, size_t n)
{
	for (size_t i = n / 2; i-- > 0;)
		name_sift(v, i, n);
	for (size_t end = n; end > 1; end--) {
		swap_types(&v[0], &v[end - 1]);
		name_sift(v, 0, end - 1);
	}
}

/* Heap whose root is the entry ranking last: sift v[i] down in v[0..n). */
static void rank_sift(struct hw_sample_type *v, size_t i, size_t n)
{
	for (;;) {
		size_t c = 2 * i + 1, last = i;

		if (c < n && ranks_before(&v[last], &v[c]))
			last = c;
		if (c + 1 < n && ranks_before(&v[last], &v[c + 1]))
			last = c + 1;
		if (last == i)
			return;
		swap_types(&v[i], &v[last]);
		i = last;
	}
}

static void rank_sift_up(struct hw_sample_type *v, size_t i)
{
	while (i > 0) {
		size_t p = (i - 1) / 2;

		if (!ranks_before(&v[p], &v[i]))
			return;
		swap_types(&v[p], &v[i]);
		i = p;
	}
}

/* Keep the k best of v[0..m) in top[0..k), sorted best first. */
static uint32_t select_top(const struct hw_sample_type *v, size_t m,
			   struct hw_sample_type *top, uint32_t k)
{
	uint32_t n = 0;

	if (k == 0)
		return 0;
	for (size_t i = 0; i < m; i++) {
		if (n < k) {
			top[n] = v[i];
			rank_sift_up(top, n++);
		} else if (ranks_before(&v[i], &top[0])) {
			top[0] = v[i];
			rank_sift(top, 0, n);
		}
	}
	for (uint32_t end = n; end > 1; end--) {
		swap_types(&top[0], &top[end - 1]);
		rank_sift(top, 0, end - 1);
	}
	return n;
}

/* ------------------------------------------------------------------ */

static void add_mem(int64_t *sum, int64_t v)
{
	if (v < 0)
		return;
	*sum = *sum < 0 ? v : *sum + v;
}

int hw_sample_aggregate(const struct hw_sample *const *samples, size_t n,
			struct hw_sample *out, struct hw_sample_type *scratch,
			size_t scratch_cap)
{
	size_t t = 0, m = 0;
	int rc = 0;

	out->pid = 0;
	out->slot = -1;
	out->starttime = 0;
	out->wall_ms = 0;
	out->ok = out->partial = 0;
	out->rss = out->pss = out->uss = out->swap = out->max_rss = -1;
	out->gc_objects = out->pause_us = 0;
	out->nprocs = out->nprocs_ok = 0;
	out->ntypes = 0;
	if (n > 0 && samples[0] != out)
		memcpy(out->target, samples[0]->target, sizeof out->target);
	out->target[sizeof out->target - 1] = '\0';

	for (size_t i = 0; i < n; i++) {
		const struct hw_sample *s = samples[i];

		out->nprocs++;
		add_mem(&out->rss, s->rss);
		add_mem(&out->pss, s->pss);
		add_mem(&out->uss, s->uss);
		add_mem(&out->swap, s->swap);
		if (s->rss > out->max_rss)
			out->max_rss = s->rss;
		if (s->wall_ms > out->wall_ms)
			out->wall_ms = s->wall_ms;
		if (!s->ok)
			continue;
		out->nprocs_ok++;
		out->ok = 1;
		out->partial |= s->partial != 0;
		out->gc_objects += s->gc_objects;
		if (s->pause_us > out->pause_us)
			out->pause_us = s->pause_us;
		for (uint32_t k = 0; k < s->ntypes; k++) {
			if (t == scratch_cap) {
				rc = -1;
				break;
			}
			scratch[t] = s->types[k];
			scratch[t].name[sizeof scratch[t].name - 1] = '\0';
			t++;
		}
	}
	if (rc < 0)
		out->partial = 1;

	/* Merge equal names: sort by name, then fold runs in place. */
	sort_by_name(scratch, t);
	for (size_t i = 0; i < t; i++) {
		if (m > 0 && strcmp(scratch[m - 1].name, scratch[i].name) == 0) {
			scratch[m - 1].count += scratch[i].count;
			scratch[m - 1].bytes += scratch[i].bytes;
			scratch[m - 1].has_bytes |= scratch[i].has_bytes;
			continue;
		}
		if (m != i)
			scratch[m] = scratch[i];
		m++;
	}
	out->ntypes = select_top(scratch, m, out->types, out->cap_types);
	return rc;
}
