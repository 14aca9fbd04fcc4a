/* ring.c - the sample ring; see include/heapwatch/ring.h. */
#include "heapwatch/ring.h"

#include <errno.h>
#include <stdlib.h>

struct hw_ring {
	struct hw_sample *slots;
	struct hw_sample_type *types;  /* cap * cap_types, slot i at i * cap_types */
	size_t cap, head, len;         /* head: slot of the oldest sample */
	uint64_t dropped;
};

struct hw_ring *hw_ring_new(size_t capacity, uint32_t cap_types)
{
	struct hw_ring *r;

	if (capacity == 0) {
		errno = EINVAL;
		return NULL;
	}
	if (cap_types && capacity > SIZE_MAX / sizeof(struct hw_sample_type) / cap_types) {
		errno = ENOMEM;
		return NULL;
	}
	r = calloc(1, sizeof *r);
	if (!r)
		return NULL;
	r->slots = calloc(capacity, sizeof *r->slots);
	/* calloc(0) may return NULL: allocate one entry so that NULL always
	 * means out of memory. */
	r->types = calloc(cap_types ? capacity * cap_types : 1, sizeof *r->types);
	if (!r->slots || !r->types) {
		hw_ring_free(r);
		errno = ENOMEM;
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
	if (r->len == r->cap) {
		r->head = (r->head + 1) % r->cap;
		r->len--;
		r->dropped++;
	}
	hw_sample_copy(&r->slots[(r->head + r->len) % r->cap], s);
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
