/* ring.h - a fixed-capacity ring of samples.  Everything is allocated by
 * hw_ring_new(); pushing copies in and, when full, overwrites the oldest
 * sample and counts it as dropped.  Single-threaded. */
#ifndef HEAPWATCH_RING_H
#define HEAPWATCH_RING_H

#include <stddef.h>
#include <stdint.h>

#include "heapwatch/sample.h"

struct hw_ring;

/* capacity samples of up to cap_types types each; NULL if out of memory. */
struct hw_ring *hw_ring_new(size_t capacity, uint32_t cap_types);
void hw_ring_free(struct hw_ring *r);   /* NULL is fine */

void hw_ring_push(struct hw_ring *r, const struct hw_sample *s);
/* The i-th oldest sample (i < hw_ring_len), borrowed until the next push
 * or pop. */
const struct hw_sample *hw_ring_peek(const struct hw_ring *r, size_t i);
/* Drop the n oldest (n > len drops all). */
void hw_ring_pop(struct hw_ring *r, size_t n);
size_t hw_ring_len(const struct hw_ring *r);
size_t hw_ring_capacity(const struct hw_ring *r);
uint64_t hw_ring_dropped(const struct hw_ring *r);

#endif
