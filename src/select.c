/* select.c - the series selection; see include/heapwatch/select.h. */
#include "heapwatch/select.h"

#include <errno.h>
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>

#include "heapwatch/sample.h"

#define NAME_CUT (HW_SAMPLE_NAME_MAX - 1)
#define LOWS_MIN 2048u
#define LOWS_MAX 32768u

/* A type followed for growth: its lowest count so far. */
struct low {
	uint64_t hash;          /* 0: empty slot */
	uint64_t low;
	uint32_t gen;           /* update that last saw it */
	uint32_t held_gen;      /* update that held it back (counted once) */
	uint8_t watched;        /* 1 matches a watch entry, 0 not, 2 unknown */
};

struct cand {
	uint64_t key;
	const char *name;
	uint64_t count, rise;
};

struct hw_select {
	struct hw_select_conf c;
	uint32_t len, added, held;
	uint64_t updates;
	char (*names)[HW_SAMPLE_NAME_MAX];
	uint64_t *hashes, *counts, *rises;
	uint32_t *stamp;        /* update that set counts[i] */
	uint8_t *why;
	uint32_t *table;        /* selected names by hash: index + 1, 0 empty */
	uint32_t tcap;          /* power of two >= 2 * max_types */
	struct low *lows;
	uint32_t lcap, lused;
	int lows_failed;
	struct cand *heap;      /* max(top_types, growth_types) */
	uint32_t hcap;
};

static uint64_t name_hash(const char *s, size_t n)
{
	uint64_t h = 14695981039346656037ull;   /* FNV-1a */

	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
	return h ? h : 1;
}

static size_t cut_len(const char *name)
{
	return strnlen(name, NAME_CUT);
}

struct hw_select *hw_select_new(const struct hw_select_conf *c)
{
	struct hw_select *s;
	uint32_t m;

	if (!c || c->max_types == 0 || c->max_types > (1u << 24)) {
		errno = EINVAL;
		return NULL;
	}
	s = calloc(1, sizeof *s);
	if (!s)
		return NULL;
	s->c = *c;
	m = c->max_types;
	for (s->tcap = 16; s->tcap < 2 * m; s->tcap *= 2)
		;
	s->hcap = c->top_types > c->growth_types ? c->top_types : c->growth_types;
	s->names = calloc(m, sizeof *s->names);
	s->hashes = calloc(m, sizeof *s->hashes);
	s->counts = calloc(m, sizeof *s->counts);
	s->rises = calloc(m, sizeof *s->rises);
	s->stamp = calloc(m, sizeof *s->stamp);
	s->why = calloc(m, sizeof *s->why);
	s->table = calloc(s->tcap, sizeof *s->table);
	s->heap = calloc(s->hcap ? s->hcap : 1, sizeof *s->heap);
	if (!s->names || !s->hashes || !s->counts || !s->rises || !s->stamp ||
	    !s->why || !s->table || !s->heap) {
		hw_select_free(s);
		errno = ENOMEM;
		return NULL;
	}
	return s;
}

void hw_select_free(struct hw_select *s)
{
	if (!s)
		return;
	free(s->names);
	free(s->hashes);
	free(s->counts);
	free(s->rises);
	free(s->stamp);
	free(s->why);
	free(s->table);
	free(s->lows);
	free(s->heap);
	free(s);
}

/* ------------------------------------------------------------------ */
/* the selected names */

static long find(const struct hw_select *s, uint64_t h, const char *name,
		 size_t n)
{
	for (uint32_t at = (uint32_t)h & (s->tcap - 1);; at = (at + 1) & (s->tcap - 1)) {
		uint32_t v = s->table[at];

		if (v == 0)
			return -1;
		if (s->hashes[v - 1] == h && strncmp(s->names[v - 1], name, n) == 0 &&
		    s->names[v - 1][n] == '\0')
			return (long)v - 1;
	}
}

long hw_select_find(const struct hw_select *s, const char *name)
{
	size_t n = cut_len(name);

	return find(s, name_hash(name, n), name, n);
}

static void append(struct hw_select *s, uint64_t h, const char *name,
		   size_t n, uint64_t count, uint64_t rise, unsigned why,
		   uint32_t gen)
{
	uint32_t i = s->len++, at;

	memcpy(s->names[i], name, n);
	s->names[i][n] = '\0';
	s->hashes[i] = h;
	s->counts[i] = count;
	s->rises[i] = rise;
	s->stamp[i] = gen;
	s->why[i] = (uint8_t)why;
	for (at = (uint32_t)h & (s->tcap - 1); s->table[at]; at = (at + 1) & (s->tcap - 1))
		;
	s->table[at] = i + 1;
}

/* ------------------------------------------------------------------ */
/* low points */

static struct low *low_slot(struct hw_select *s, uint64_t h, int insert)
{
	if (!s->lows)
		return NULL;
	for (uint32_t at = (uint32_t)h & (s->lcap - 1);; at = (at + 1) & (s->lcap - 1)) {
		struct low *e = &s->lows[at];

		if (e->hash == h)
			return e;
		if (e->hash == 0) {
			/* keep a quarter free: probes stay short */
			if (!insert || s->lused >= s->lcap / 4 * 3)
				return NULL;
			s->lused++;
			e->hash = h;
			e->gen = e->held_gen = 0;
			e->watched = 2;     /* not yet matched */
			return e;
		}
	}
}

int hw_select_watched(const struct hw_select_conf *c, const char *name)
{
	for (size_t i = 0; i < c->nwatch; i++)
		if (strcmp(c->watch[i], name) == 0 || fnmatch(c->watch[i], name, 0) == 0)
			return 1;
	return 0;
}

static int watched(struct hw_select *s, struct low *e, const char *name)
{
	if (s->c.nwatch == 0)
		return 0;
	if (!e)
		return hw_select_watched(&s->c, name);
	if (e->watched == 2)
		e->watched = (uint8_t)hw_select_watched(&s->c, name);
	return e->watched;
}

/* ------------------------------------------------------------------ */
/* candidates: the k best by key (larger first, ties by name) */

static int better(const struct cand *a, const struct cand *b)
{
	if (a->key != b->key)
		return a->key > b->key;
	return strncmp(a->name, b->name, NAME_CUT) < 0;
}

static void cswap(struct cand *a, struct cand *b)
{
	struct cand t = *a;

	*a = *b;
	*b = t;
}

/* Heap whose root is the worst: sift v[i] down within v[0..n). */
static void csift(struct cand *v, size_t i, size_t n)
{
	for (;;) {
		size_t c = 2 * i + 1, w = i;

		if (c < n && better(&v[w], &v[c]))
			w = c;
		if (c + 1 < n && better(&v[w], &v[c + 1]))
			w = c + 1;
		if (w == i)
			return;
		cswap(&v[i], &v[w]);
		i = w;
	}
}

static void cpush(struct cand *v, uint32_t *n, uint32_t k, const struct cand *c)
{
	if (*n < k) {
		size_t i = (*n)++;

		v[i] = *c;
		while (i > 0 && better(&v[(i - 1) / 2], &v[i])) {
			cswap(&v[(i - 1) / 2], &v[i]);
			i = (i - 1) / 2;
		}
	} else if (k > 0 && better(c, &v[0])) {
		v[0] = *c;
		csift(v, 0, *n);
	}
}

/* Sort the heap best first. */
static void cfinish(struct cand *v, uint32_t n)
{
	for (uint32_t end = n; end > 1; end--) {
		cswap(&v[0], &v[end - 1]);
		csift(v, 0, end - 1);
	}
}

/* ------------------------------------------------------------------ */

static void admit(struct hw_select *s, const char *name, uint64_t count,
		  uint64_t rise, unsigned why, uint32_t max_new, uint32_t gen)
{
	size_t n = cut_len(name);
	uint64_t h = name_hash(name, n);
	long i = find(s, h, name, n);
	struct low *e;

	if (i >= 0) {
		s->why[i] |= (uint8_t)why;
		return;
	}
	if (s->len < s->c.max_types && s->added < max_new) {
		append(s, h, name, n, count, rise, why, gen);
		s->added++;
		return;
	}
	e = low_slot(s, h, 0);
	if (e && e->held_gen == gen)
		return;            /* already counted this update */
	if (e)
		e->held_gen = gen;
	s->held++;
}

static void alloc_lows(struct hw_select *s, size_t n)
{
	uint32_t cap = LOWS_MIN;

	while (cap < LOWS_MAX && cap < 4 * n)
		cap *= 2;
	s->lows = calloc(cap, sizeof *s->lows);
	if (!s->lows) {
		s->lows_failed = 1;
		return;
	}
	s->lcap = cap;
}

long hw_select_update(struct hw_select *s, const struct hw_census_type *types,
		      size_t n, uint32_t max_new)
{
	uint32_t gen, nh = 0;
	int first = s->updates == 0;
	int rc = 0;

	gen = (uint32_t)++s->updates;
	if (gen == 0)                  /* 2^32 updates: skip the "never" */
		gen = (uint32_t)++s->updates;
	s->added = s->held = 0;
	for (uint32_t i = 0; i < s->len; i++)
		s->counts[i] = s->rises[i] = 0;
	if (first && !s->lows) {
		alloc_lows(s, n);
		if (!s->lows)
			rc = -1;
	}

	/* Counts of the selected, low points, growth candidates. */
	for (size_t k = 0; k < n; k++) {
		const char *name = types[k].name;
		uint64_t count = types[k].count, rise = 0;
		size_t len;
		uint64_t h;
		long i;
		struct low *e;

		if (!name)
			continue;
		len = cut_len(name);
		h = name_hash(name, len);
		e = low_slot(s, h, 1);
		if (e) {
			if (e->gen == gen)
				continue;          /* a repeated name */
			if (e->gen == 0)
				e->low = first ? count : 0;  /* absent before */
			else if (e->gen != gen - 1)
				e->low = 0;        /* absent in between */
			if (count < e->low)
				e->low = count;
			rise = count - e->low;
			e->gen = gen;
		}
		i = find(s, h, name, len);
		if (i >= 0 && s->stamp[i] != gen) {
			s->counts[i] = count;
			s->rises[i] = rise;
			s->stamp[i] = gen;
		}
		if (rise > 0 && s->c.growth_types) {
			struct cand c = { rise, name, count, rise };

			cpush(s->heap, &nh, s->c.growth_types, &c);
		}
	}
	cfinish(s->heap, nh);
	for (uint32_t j = 0; j < nh; j++)
		admit(s, s->heap[j].name, s->heap[j].count, s->heap[j].rise,
		      HW_SELECT_WHY_GROWTH, max_new, gen);

	if (s->c.nwatch)
		for (size_t k = 0; k < n; k++) {
			const char *name = types[k].name;
			struct low *e;

			if (!name)
				continue;
			e = low_slot(s, name_hash(name, cut_len(name)), 0);
			if (watched(s, e, name))
				admit(s, name, types[k].count, 0, HW_SELECT_WHY_WATCH,
				      max_new, gen);
		}

	nh = 0;
	for (size_t k = 0; s->c.top_types && k < n; k++) {
		struct cand c = { types[k].count, types[k].name, types[k].count, 0 };

		if (c.name)
			cpush(s->heap, &nh, s->c.top_types, &c);
	}
	cfinish(s->heap, nh);
	for (uint32_t j = 0; j < nh; j++)
		admit(s, s->heap[j].name, s->heap[j].count, 0, HW_SELECT_WHY_TOP,
		      max_new, gen);

	for (size_t k = 0; s->c.union_all && k < n; k++)
		if (types[k].name)
			admit(s, types[k].name, types[k].count, 0, HW_SELECT_WHY_UNION,
			      max_new, gen);
	return rc < 0 ? -1 : (long)s->len;
}

uint32_t hw_select_len(const struct hw_select *s)
{
	return s->len;
}

const char *hw_select_name(const struct hw_select *s, uint32_t i)
{
	return i < s->len ? s->names[i] : NULL;
}

uint64_t hw_select_count(const struct hw_select *s, uint32_t i)
{
	return i < s->len ? s->counts[i] : 0;
}

uint64_t hw_select_rise(const struct hw_select *s, uint32_t i)
{
	return i < s->len ? s->rises[i] : 0;
}

unsigned hw_select_why(const struct hw_select *s, uint32_t i)
{
	return i < s->len ? s->why[i] : 0;
}

uint32_t hw_select_added(const struct hw_select *s)
{
	return s->added;
}

uint32_t hw_select_held_back(const struct hw_select *s)
{
	return s->held;
}

uint64_t hw_select_updates(const struct hw_select *s)
{
	return s->updates;
}
