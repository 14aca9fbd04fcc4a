/* ring.c - the sample ring; see include/heapwatch/ring.h.
 *
 * Samples sit in a circle of fixed-size slots; their types sit in one
 * circular pool, each sample's types in one contiguous run.  A run that
 * does not fit before the end of the pool starts again at its beginning,
 * and the entries skipped at the end count against that sample (its
 * span), so the pool's free room is always pool - used. */
#include "heapwatch/ring.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

struct hw_ring {
	struct hw_sample *slots;
	size_t *span;                  /* pool entries each slot holds */
	struct hw_sample_type *pool;
	size_t cap, head, len;         /* head: slot of the oldest sample */
	size_t pool_cap, pool_head, pool_used;
	uint32_t max_types;
	uint64_t dropped;
};

struct hw_ring *hw_ring_new_pool(size_t capacity, uint32_t max_types,
				 size_t pool_types, struct hw_err *e)
{
	struct hw_ring *r;

	if (capacity == 0)
		return hw_err_set(e, HW_EUSAGE, EINVAL, "a ring of 0 samples"), NULL;
	if (pool_types < max_types)
		return hw_err_set(e, HW_EUSAGE, EINVAL,
				  "a ring pool of %zu types cannot hold one sample of %u",
				  pool_types, (unsigned)max_types), NULL;
	if (pool_types > SIZE_MAX / sizeof(struct hw_sample_type) ||
	    capacity > SIZE_MAX / sizeof(struct hw_sample))
		return hw_err_set(e, HW_ENOMEM, ENOMEM,
				  "a ring of %zu samples and %zu types is too large",
				  capacity, pool_types), NULL;
	r = calloc(1, sizeof *r);
	if (!r)
		return hw_err_set(e, HW_ENOMEM, ENOMEM, "allocating the ring"), NULL;
	r->slots = calloc(capacity, sizeof *r->slots);
	r->span = calloc(capacity, sizeof *r->span);
	/* calloc(0) may return NULL: allocate one entry so that NULL always
	 * means out of memory. */
	r->pool = calloc(pool_types ? pool_types : 1, sizeof *r->pool);
	if (!r->slots || !r->span || !r->pool) {
		hw_ring_free(r);
		return hw_err_set(e, HW_ENOMEM, ENOMEM,
				  "allocating a ring of %zu samples and %zu types",
				  capacity, pool_types), NULL;
	}
	r->cap = capacity;
	r->pool_cap = pool_types;
	r->max_types = max_types;
	return r;
}

struct hw_ring *hw_ring_new(size_t capacity, uint32_t cap_types,
			    struct hw_err *e)
{
	if (cap_types && capacity > SIZE_MAX / cap_types)
		return hw_err_set(e, HW_ENOMEM, ENOMEM,
				  "a ring of %zu samples of %u types is too large",
				  capacity, (unsigned)cap_types), NULL;
	return hw_ring_new_pool(capacity, cap_types, capacity * cap_types, e);
}

void hw_ring_free(struct hw_ring *r)
{
	if (!r)
		return;
	free(r->slots);
	free(r->span);
	free(r->pool);
	free(r);
}

static void drop_oldest(struct hw_ring *r)
{
	r->pool_head = (r->pool_head + r->span[r->head]) % (r->pool_cap ? r->pool_cap : 1);
	r->pool_used -= r->span[r->head];
	r->head = (r->head + 1) % r->cap;
	r->len--;
	if (r->len == 0)
		r->pool_head = r->pool_used = 0;
}

void hw_ring_push(struct hw_ring *r, const struct hw_sample *s)
{
	size_t n = s->ntypes < r->max_types ? s->ntypes : r->max_types;
	size_t off, span, tail;
	struct hw_sample *slot;

	if (r->len == r->cap) {
		drop_oldest(r);
		r->dropped++;
	}
	for (;;) {
		tail = r->pool_cap ? (r->pool_head + r->pool_used) % r->pool_cap : 0;
		if (tail + n <= r->pool_cap) {
			off = tail;
			span = n;
		} else {
			off = 0;
			span = r->pool_cap - tail + n;
		}
		if (r->pool_used + span <= r->pool_cap || r->len == 0)
			break;
		drop_oldest(r);
		r->dropped++;
	}
	if (r->len == 0) {             /* an empty pool: start at 0 */
		off = 0;
		span = n;
	}
	slot = &r->slots[(r->head + r->len) % r->cap];
	slot->types = r->pool + off;
	slot->cap_types = (uint32_t)n;
	hw_sample_copy(slot, s);
	r->span[(r->head + r->len) % r->cap] = span;
	r->pool_used += span;
	r->len++;
}

const struct hw_sample *hw_ring_peek(const struct hw_ring *r, size_t i)
{
	if (i >= r->len)
		return NULL;
	return &r->slots[(r->head + i) % r->cap];
}

void hw_ring_pop(struct hw_ring *r, size_t n)
{
	if (n > r->len)
		n = r->len;
	while (n-- > 0)
		drop_oldest(r);
}

size_t hw_ring_len(const struct hw_ring *r)
{
	return r->len;
}

size_t hw_ring_capacity(const struct hw_ring *r)
{
	return r->cap;
}

uint64_t hw_ring_dropped(const struct hw_ring *r)
{
	return r->dropped;
}
