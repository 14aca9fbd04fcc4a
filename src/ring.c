/* ring.c - the sample ring; see include/heapwatch/ring.h. */
#include "heapwatch/ring.h"

#include <stdlib.h>

struct hw_ring {
	struct hw_sample *slots;
	struct hw_sample_type *types;
	size_t cap, head, len;     /* head: index of the oldest */
	uint64_t dropped;
};

struct hw_ring *hw_ring_new(size_t capacity, uint32_t cap_types)
{
	struct hw_ring *r;

	if (capacity == 0)
		return NULL;
	r = calloc(1, sizeof *r);
	if (!r)
		return NULL;
	r->slots = calloc(capacity, sizeof *r->slots);
	r->types = calloc(capacity * (cap_types ? cap_types : 1), sizeof *r->types);
	if (!r->slots || !r->types) {
		hw_ring_free(r);
		return NULL;
	}
	for (size_t i = 0; i < capacity; i++) {
		r->slots[i].types = r->types + i * cap_types;
		r->slots[i].cap_types = cap_types;
	}
	r->cap = capacity;
	return r;
}

void hw_ring_free(struct hw_ring *r)
{
	if (!r)
		return;
	free(r->slots);
	free(r->types);
	free(r);
}

void hw_ring_push(struct hw_ring *r, const struct hw_sample *s)
{
	size_t at;

	if (r->len == r->cap) {
		/* full: the oldest goes */
		r->head = (r->head + 1) % r->cap;
		r->len--;
		r->dropped++;
	}
	at = (r->head + r->len) % r->cap;
	hw_sample_copy(&r->slots[at], s);
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
	r->head = (r->head + n) % r->cap;
	r->len -= n;
}

size_t hw_ring_len(const struct hw_ring *r) { return r->len; }
size_t hw_ring_capacity(const struct hw_ring *r) { return r->cap; }
uint64_t hw_ring_dropped(const struct hw_ring *r) { return r->dropped; }
