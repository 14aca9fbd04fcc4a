/* gcwalk.h - walking the garbage collector's object lists.
 *
 * From the runtime symbols of a target (struct hw_gcroots) and a layout
 * (struct hw_offsets) the walker finds every interpreter's GC state,
 * checks that no collection is running, and follows every generation list
 * and the permanent generation (gc.freeze()), counting objects per type
 * address.  It reads only through a struct hw_snap, so it works the same
 * on a stopped target, on a snapshot and on synthetic memory.
 *
 * Untrusted input: every list link is checked both ways (next->prev ==
 * cur, flag bits masked), every pointer for alignment, every loop is
 * bounded, and the walk must come back to each list head.
 */
#ifndef HEAPWATCH_GCWALK_H
#define HEAPWATCH_GCWALK_H

#include <stddef.h>
#include <stdint.h>

#include "heapwatch/err.h"
#include "heapwatch/layout.h"
#include "heapwatch/snap.h"

/* Where the walk starts, from the target's symbols. */
struct hw_gcroots {
	uint64_t runtime_addr;   /* &_PyRuntime, 0 if none (2.7, 3.6) */
	uint64_t gen0_ptr_addr;  /* &_PyGC_generation0, 0 if none */
};

#define HW_GC_MAX_INTERPS 256
#define HW_GC_MAX_LISTS 8       /* per interpreter: 3 generations + permanent */

/* Counts per type address: an open-addressing table, reused across walks. */
struct hw_typecount {
	uint64_t *type;          /* 0 = empty slot */
	uint64_t *count;
	size_t cap, n;
};
void hw_typecount_init(struct hw_typecount *tc);
void hw_typecount_fini(struct hw_typecount *tc);
void hw_typecount_clear(struct hw_typecount *tc);
int hw_typecount_add(struct hw_typecount *tc, uint64_t type, uint64_t n,
		     struct hw_err *e);

/* Called for every object walked, in list order: obj_addr is the object
 * (PyObject *, after its PyGC_Head), type_addr its ob_type, list the list
 * index (0..2 generations, 3 permanent).  Return 0 to go on; -1 (with e
 * filled) stops the walk, which then fails with that error (HW_EMISS from
 * a visitor reading the snapshot is treated as a miss of the walk). */
typedef int (*hw_gc_visit_fn)(void *arg, uint64_t obj_addr, uint64_t type_addr,
			      unsigned list, struct hw_err *e);

struct hw_walk_opts {
	uint64_t max_objects;    /* bound on objects per walk (0: 1<<30) */
	hw_gc_visit_fn visit;    /* NULL: count only */
	void *visit_arg;
	uint64_t deadline_ns;    /* CLOCK_MONOTONIC; 0 = none.  Past it the
				    walk stops and reports partial = 1 */
	int allow_misses;        /* snapshot walk: a list whose memory is
				    missing is cut short (partial) instead of
				    failing with HW_EMISS */
};

struct hw_walk_stats {
	uint64_t objects;               /* objects counted */
	unsigned ninterps;              /* interpreters walked */
	unsigned nlists;                /* lists walked (per interpreter) */
	uint64_t per_list[HW_GC_MAX_LISTS]; /* objects per list index, summed
					       over interpreters: 0..2 the
					       generations, 3 permanent */
	int partial;                    /* cut short (deadline or misses) */
	int collecting;                 /* a collection was found running */
};

/* Check the lists' state without walking the objects: every interpreter
 * found, its `collecting` flag clear, every list head plausible.
 * HW_EBUSY when a collection runs, HW_ECORRUPT/HW_ELAYOUT when the heads
 * are not lists. */
int hw_gc_check(struct hw_snap *s, const struct hw_offsets *o,
		const struct hw_gcroots *r, struct hw_err *e);

/* Walk every list of every interpreter and add each object's type to tc
 * (not cleared first).  On failure tc holds what was counted so far. */
int hw_gc_walk(struct hw_snap *s, const struct hw_offsets *o,
	       const struct hw_gcroots *r, const struct hw_walk_opts *opts,
	       struct hw_typecount *tc, struct hw_walk_stats *st,
	       struct hw_err *e);

#endif
