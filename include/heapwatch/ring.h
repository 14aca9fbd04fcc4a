/* ring.h - a fixed-capacity ring of samples, oldest first.
 *
 * hw_ring_new_pool() allocates every slot and one pool of type entries
 * that the samples share (a sample's types take as many entries as it
 * has); after that nothing here allocates.  Pushing copies a sample in
 * and, when the slots or the pool are full, overwrites the oldest samples
 * and counts them as dropped: while statsd is unreachable the newest
 * samples are kept.
 * Single-threaded (the daemon has one thread and one loop).
 */
#ifndef HEAPWATCH_RING_H
#define HEAPWATCH_RING_H

#include <stddef.h>
#include <stdint.h>

#include "heapwatch/err.h"
#include "heapwatch/sample.h"

struct hw_ring;

/* A ring of capacity samples (>= 1) of up to max_types types each,
 * whose types share a pool of pool_types entries (>= max_types; with
 * pool_types = capacity * max_types every slot can hold max_types).
 * Returns NULL with e filled (e may be NULL): HW_EUSAGE for capacity 0 or
 * a pool smaller than max_types, HW_ENOMEM when out of memory or on
 * overflow.  Free with hw_ring_free(). */
struct hw_ring *hw_ring_new_pool(size_t capacity, uint32_t max_types,
				 size_t pool_types, struct hw_err *e);

/* hw_ring_new_pool(capacity, cap_types, capacity * cap_types, e). */
struct hw_ring *hw_ring_new(size_t capacity, uint32_t cap_types,
			    struct hw_err *e);

/* Free the ring and every sample in it.  NULL is fine. */
void hw_ring_free(struct hw_ring *r);

/* Copy s in as the newest sample (hw_sample_copy(): at most max_types of
 * its types; the copy's cap_types is its ntypes).  When the slots or the
 * type pool are full the oldest samples are overwritten and
 * hw_ring_dropped() grows by one for each.  Invalidates pointers from
 * hw_ring_peek(). */
void hw_ring_push(struct hw_ring *r, const struct hw_sample *s);

/* The i-th oldest sample (0 = oldest), or NULL if i >= hw_ring_len().
 * Borrowed: valid until the next push or pop. */
const struct hw_sample *hw_ring_peek(const struct hw_ring *r, size_t i);

/* Remove the n oldest samples (all of them if n >= hw_ring_len()).
 * Popped samples are not counted as dropped. */
void hw_ring_pop(struct hw_ring *r, size_t n);

/* Samples held now; the fixed capacity; samples overwritten by pushes
 * into a full ring since hw_ring_new(). */
size_t hw_ring_len(const struct hw_ring *r);
size_t hw_ring_capacity(const struct hw_ring *r);
uint64_t hw_ring_dropped(const struct hw_ring *r);

#endif
