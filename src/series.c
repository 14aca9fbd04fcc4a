/* series.c - the budget of new metric names; see include/heapwatch/series.h.
 *
 * Two structures, both allocated once:
 *   - a ring of the times of the last `budget` admissions of new names:
 *     a new name may go when fewer than `budget` went in the last 60 s,
 *     that is, when the ring is not full or its oldest time is 60 s old;
 *   - an open-addressing table (linear probing, deletion by backward
 *     shift, so no tombstones) of path hashes with their state.
 */
#include "heapwatch/series.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define WINDOW_NS 60000000000ull
#define SWEEP_NS 60000000000ull
#define TAB_MASK (HW_SERIES_CAPACITY - 1)
/* At most 7/8 full: probes stay short. */
#define TAB_LIMIT (HW_SERIES_CAPACITY / 8 * 7)

_Static_assert((HW_SERIES_CAPACITY & TAB_MASK) == 0, "capacity is a power of two");

enum state { E_EMPTY, E_KNOWN, E_PENDING, E_WAITING };

struct entry {
	uint64_t h;
	uint32_t seen_s;      /* last asked for, monotonic seconds */
	uint16_t gen;         /* E_WAITING: the flush it was last held in */
	uint8_t state;
};

struct hw_series {
	unsigned budget;
	uint64_t *ts;          /* budget entries; [head, head + len) mod budget */
	size_t head, len;
	struct entry *tab;     /* HW_SERIES_CAPACITY entries */
	size_t used;
	uint64_t pend[HW_SERIES_PENDING_MAX];
	size_t npend;
	uint16_t gen;
	uint64_t waiting_now;  /* held back since the last flush_end */
	uint64_t last_sweep_ns;
	struct hw_series_stats st;
};

/* FNV-1a, then MurmurHash3's finaliser so the low bits (the table index)
 * depend on every byte. */
static uint64_t hash(const char *p, size_t len)
{
	uint64_t h = 14695981039346656037ull;

	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)p[i]) * 1099511628211ull;
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ull;
	h ^= h >> 33;
	return h;
}

/* ------------------------------------------------------------------ */
/* the table */

static long find(const struct hw_series *s, uint64_t h)
{
	for (size_t i = h & TAB_MASK;; i = (i + 1) & TAB_MASK) {
		if (s->tab[i].state == E_EMPTY)
			return -1;
		if (s->tab[i].h == h)
			return (long)i;
	}
}

/* Insert h (not present); NULL when the table is at its limit. */
static struct entry *insert(struct hw_series *s, uint64_t h, enum state st,
			    uint32_t now_s)
{
	size_t i;

	if (s->used >= TAB_LIMIT)
		return NULL;
	for (i = h & TAB_MASK; s->tab[i].state != E_EMPTY; i = (i + 1) & TAB_MASK)
		;
	s->tab[i].h = h;
	s->tab[i].state = (uint8_t)st;
	s->tab[i].seen_s = now_s;
	s->tab[i].gen = s->gen;
	s->used++;
	return &s->tab[i];
}

/* Empty slot i and move later entries of its probe run back, so that
 * every entry stays reachable from its home slot. */
static void erase(struct hw_series *s, size_t i)
{
	size_t j = i;

	s->tab[i].state = E_EMPTY;
	s->used--;
	for (;;) {
		size_t home;

		j = (j + 1) & TAB_MASK;
		if (s->tab[j].state == E_EMPTY)
			return;
		home = s->tab[j].h & TAB_MASK;
		/* j's entry may move to i unless its home lies in (i, j]
		 * (cyclically). */
		if (i <= j ? (home > i && home <= j) : (home > i || home <= j))
			continue;
		s->tab[i] = s->tab[j];
		s->tab[j].state = E_EMPTY;
		i = j;
	}
}

/* ------------------------------------------------------------------ */
/* the window */

static int window_open(const struct hw_series *s, uint64_t now)
{
	if (s->len < s->budget)
		return 1;
	return now - s->ts[s->head] >= WINDOW_NS;
}

static void window_push(struct hw_series *s, uint64_t now)
{
	if (s->len < s->budget) {
		s->ts[(s->head + s->len) % s->budget] = now;
		s->len++;
	} else {
		/* the oldest is out of the window: its place is taken */
		s->ts[s->head] = now;
		s->head = (s->head + 1) % s->budget;
	}
}

/* Take back the newest admission (what it replaced was out of the window
 * already). */
static void window_pop_newest(struct hw_series *s)
{
	if (s->len > 0)
		s->len--;
}

/* ------------------------------------------------------------------ */

struct hw_series *hw_series_new(unsigned per_minute, struct hw_err *e)
{
	struct hw_series *s;

	if (per_minute < 1 || per_minute > HW_SERIES_BUDGET_MAX) {
		hw_err_set(e, HW_ECONFIG, 0, "max_new_series_per_minute %u is out of range 1..%u",
			   per_minute, HW_SERIES_BUDGET_MAX);
		return NULL;
	}
	s = calloc(1, sizeof *s);
	if (s) {
		s->ts = calloc(per_minute, sizeof *s->ts);
		s->tab = calloc(HW_SERIES_CAPACITY, sizeof *s->tab);
	}
	if (!s || !s->ts || !s->tab) {
		hw_series_free(s);
		hw_err_set(e, HW_ENOMEM, ENOMEM, "allocating the table of metric names");
		return NULL;
	}
	s->budget = per_minute;
	return s;
}

void hw_series_free(struct hw_series *s)
{
	if (!s)
		return;
	free(s->ts);
	free(s->tab);
	free(s);
}

int hw_series_set_budget(struct hw_series *s, unsigned per_minute,
			 struct hw_err *e)
{
	uint64_t *nts;
	size_t keep;

	if (per_minute < 1 || per_minute > HW_SERIES_BUDGET_MAX)
		return hw_err_set(e, HW_ECONFIG, 0, "max_new_series_per_minute %u is out of range 1..%u",
				  per_minute, HW_SERIES_BUDGET_MAX);
	if (per_minute == s->budget)
		return 0;
	nts = calloc(per_minute, sizeof *nts);
	if (!nts)
		return hw_err_set(e, HW_ENOMEM, ENOMEM, "allocating the budget of new names");
	/* keep the newest admissions, oldest first */
	keep = s->len < per_minute ? s->len : per_minute;
	for (size_t i = 0; i < keep; i++)
		nts[i] = s->ts[(s->head + s->len - keep + i) % s->budget];
	free(s->ts);
	s->ts = nts;
	s->budget = per_minute;
	s->head = 0;
	s->len = keep;
	return 0;
}

/* A name held back: counted, and remembered as waiting so that it counts
 * once per flush in stats.waiting. */
static int defer(struct hw_series *s, struct entry *en, uint64_t h,
		 uint32_t now_s)
{
	s->st.deferred++;
	if (!en) {
		en = insert(s, h, E_WAITING, now_s);
		if (!en) {
			s->st.full++;
			s->waiting_now++;
			return 0;
		}
		s->waiting_now++;
		return 0;
	}
	en->seen_s = now_s;
	if (en->gen != s->gen) {
		en->gen = s->gen;
		s->waiting_now++;
	}
	return 0;
}

int hw_series_admit(struct hw_series *s, const char *path, size_t len,
		    uint64_t now_ns)
{
	uint64_t h = hash(path, len);
	uint32_t now_s = (uint32_t)(now_ns / 1000000000u);
	long i = find(s, h);
	struct entry *en = i >= 0 ? &s->tab[i] : NULL;
	int can = window_open(s, now_ns) && s->npend < HW_SERIES_PENDING_MAX;

	if (en && (en->state == E_KNOWN || en->state == E_PENDING)) {
		en->seen_s = now_s;
		return 1;
	}
	if (!can)
		return defer(s, en, h, now_s);
	if (en) {                       /* waiting, and now it may go */
		en->state = E_PENDING;
		en->seen_s = now_s;
	} else if (!insert(s, h, E_PENDING, now_s)) {
		return defer(s, NULL, h, now_s);
	}
	window_push(s, now_ns);
	s->pend[s->npend++] = h;
	return 1;
}

void hw_series_done(struct hw_series *s, int sent)
{
	/* newest first, so that window_pop_newest() takes the right ones */
	while (s->npend > 0) {
		long i = find(s, s->pend[--s->npend]);

		if (i < 0 || s->tab[i].state != E_PENDING)
			continue;
		if (sent) {
			s->tab[i].state = E_KNOWN;
			s->st.new_names++;
		} else {
			erase(s, (size_t)i);
			window_pop_newest(s);
		}
	}
}

void hw_series_flush_end(struct hw_series *s, uint64_t now_ns)
{
	uint32_t now_s = (uint32_t)(now_ns / 1000000000u);

	s->st.waiting = s->waiting_now;
	s->waiting_now = 0;
	s->gen++;
	if (s->last_sweep_ns && now_ns - s->last_sweep_ns < SWEEP_NS)
		return;
	s->last_sweep_ns = now_ns ? now_ns : 1;
	for (size_t i = 0; i < HW_SERIES_CAPACITY;) {
		struct entry *en = &s->tab[i];

		if (en->state != E_EMPTY && en->state != E_PENDING &&
		    now_s - en->seen_s > HW_SERIES_TTL_S) {
			erase(s, i);    /* a later entry may have moved here */
			continue;
		}
		i++;
	}
}

void hw_series_get_stats(const struct hw_series *s, struct hw_series_stats *out)
{
	*out = s->st;
	out->known = s->used;
}
