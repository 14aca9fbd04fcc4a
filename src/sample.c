/* sample.c - samples and their aggregates; see include/heapwatch/sample.h. */
#include "heapwatch/sample.h"

#include <stdlib.h>
#include <string.h>

void hw_sample_copy(struct hw_sample *dst, const struct hw_sample *src)
{
	struct hw_sample_type *types = dst->types;
	uint32_t cap = dst->cap_types;

	*dst = *src;
	dst->types = types;
	dst->cap_types = cap;
	dst->ntypes = src->ntypes < cap ? src->ntypes : cap;
	if (dst->ntypes)
		memcpy(types, src->types, dst->ntypes * sizeof *types);
}

static int by_count(const void *a, const void *b)
{
	const struct hw_sample_type *x = a, *y = b;

	if (x->count != y->count)
		return x->count > y->count ? -1 : 1;
	return strcmp(x->name, y->name);
}

static void add_mem(int64_t *sum, int64_t v)
{
	if (v < 0)
		return;
	*sum = *sum < 0 ? v : *sum + v;
}

void hw_sample_aggregate(const struct hw_sample *const *samples, size_t n,
			 struct hw_sample *out, struct hw_sample_type *scratch,
			 size_t scratch_cap)
{
	size_t m = 0;

	out->ok = 0;
	out->partial = 0;
	out->rss = out->pss = out->uss = out->swap = out->max_rss = -1;
	out->gc_objects = out->pause_us = 0;
	out->nprocs = 0;
	out->ntypes = 0;
	for (size_t i = 0; i < n; i++) {
		const struct hw_sample *s = samples[i];

		out->nprocs++;
		add_mem(&out->rss, s->rss);
		add_mem(&out->pss, s->pss);
		add_mem(&out->uss, s->uss);
		add_mem(&out->swap, s->swap);
		if (s->rss > out->max_rss)
			out->max_rss = s->rss;
		if (!s->ok)
			continue;
		out->ok = 1;
		out->partial |= s->partial;
		out->gc_objects += s->gc_objects;
		if (s->pause_us > out->pause_us)
			out->pause_us = s->pause_us;
		for (uint32_t k = 0; k < s->ntypes; k++) {
			size_t j;

			for (j = 0; j < m; j++)
				if (strcmp(scratch[j].name, s->types[k].name) == 0)
					break;
			if (j == m) {
				if (m == scratch_cap)
					continue;
				scratch[m++] = s->types[k];
			} else {
				scratch[j].count += s->types[k].count;
			}
		}
	}
	qsort(scratch, m, sizeof *scratch, by_count);
	out->ntypes = m < out->cap_types ? (uint32_t)m : out->cap_types;
	if (out->ntypes)
		memcpy(out->types, scratch, out->ntypes * sizeof *scratch);
}
