/* snap.h - a page-granular local copy of remote memory.
 *
 * The walker never issues a system call per object: it reads through a
 * struct hw_snap, which serves reads from local copies of whole pages.
 *
 * Two modes:
 *  - live: a read of a page we lack fetches the aligned block around it
 *    (HW_SNAP_BLOCK bytes, page by page where part of it is unmapped) from
 *    the target.  Used while the target is stopped ("walk while stopped")
 *    and for the racy pre-walk that learns which pages a census needs.
 *  - offline: a read of a page we lack fails with HW_EMISS and the page is
 *    recorded in the miss list.  Used to walk a snapshot copied in bulk
 *    while the target was stopped, after it has been resumed.
 *
 * Every page a read touches is marked; hw_snap_touched() returns those
 * pages as the plan for the next bulk copy.  Storage is allocated in slabs
 * and kept across hw_snap_reset(), so a daemon that censuses the same
 * targets again reuses it.  The total is capped by a byte limit.
 */
#ifndef HEAPWATCH_SNAP_H
#define HEAPWATCH_SNAP_H

#include <stddef.h>
#include <stdint.h>

#include "heapwatch/err.h"
#include "heapwatch/mem.h"

#define HW_SNAP_PAGE 4096u
#define HW_SNAP_BLOCK 65536u

struct hw_snap;

/* A set of pages as sorted, disjoint [start, end) ranges (page aligned). */
struct hw_pageset {
	uint64_t *start, *end;
	size_t n, cap;
};
void hw_pageset_init(struct hw_pageset *ps);
void hw_pageset_fini(struct hw_pageset *ps);
void hw_pageset_clear(struct hw_pageset *ps);
/* Add the pages covering [addr, addr+len).  Ranges are kept sorted and
 * merged lazily: call hw_pageset_normalize before reading them. */
int hw_pageset_add(struct hw_pageset *ps, uint64_t addr, uint64_t len,
		   struct hw_err *e);
void hw_pageset_normalize(struct hw_pageset *ps);
uint64_t hw_pageset_bytes(const struct hw_pageset *ps);
/* Union of src into dst. */
int hw_pageset_merge(struct hw_pageset *dst, const struct hw_pageset *src,
		     struct hw_err *e);

/* New cache over m (borrowed), holding at most limit bytes of pages
 * (0: no limit).  NULL on allocation failure. */
struct hw_snap *hw_snap_new(struct hw_mem *m, uint64_t limit,
			    struct hw_err *e);
void hw_snap_free(struct hw_snap *s);

/* Drop every page (keeping the storage for reuse) and the touch/miss
 * marks; set the mode (1 = live, 0 = offline). */
void hw_snap_reset(struct hw_snap *s, int live);
void hw_snap_set_live(struct hw_snap *s, int live);
/* Borrowed reader may change (a daemon reuses one snap for many pids). */
void hw_snap_set_mem(struct hw_snap *s, struct hw_mem *m);

/* Copy every page of ps from the target in as few system calls as the
 * kernel allows.  Pages that cannot be read (unmapped since the plan was
 * made) are simply absent.  HW_ELIMIT if ps is larger than the limit;
 * HW_EEXITED if the process is gone.  deadline_ns (CLOCK_MONOTONIC, 0 =
 * none): stop copying when passed and return 1 (the copy is partial). */
int hw_snap_fill(struct hw_snap *s, const struct hw_pageset *ps,
		 uint64_t deadline_ns, struct hw_err *e);

/* The same in three steps, so that a caller holding the target stopped
 * pays only for the middle one: prepare (storage, page table, pieces),
 * copy (the system calls; returns 0, 1 if the deadline cut it short, or
 * -1), finish (mark what was read as present; after the target resumed). */
int hw_snap_fill_prepare(struct hw_snap *s, const struct hw_pageset *ps,
			 struct hw_err *e);
int hw_snap_fill_copy(struct hw_snap *s, uint64_t deadline_ns,
		      struct hw_err *e);
void hw_snap_fill_finish(struct hw_snap *s);

/* Copy len bytes at remote addr into dst, from local pages; in live mode
 * fetching what is missing.  HW_EMISS (offline, page absent) or HW_EIO
 * (unreadable) on failure; the message names the address. */
int hw_snap_read(struct hw_snap *s, uint64_t addr, void *dst, size_t len,
		 struct hw_err *e);

/* Convenience for 8-byte words. */
int hw_snap_read_u64(struct hw_snap *s, uint64_t addr, uint64_t *out,
		     struct hw_err *e);

/* Pages touched by reads since the last reset, merged into ps. */
int hw_snap_touched(const struct hw_snap *s, struct hw_pageset *ps,
		    struct hw_err *e);
/* Pages that offline reads missed since the last reset, merged into ps. */
int hw_snap_missed(const struct hw_snap *s, struct hw_pageset *ps,
		   struct hw_err *e);

struct hw_snap_stats {
	uint64_t pages;        /* pages held now */
	uint64_t bytes;        /* bytes held now */
	uint64_t fetches;      /* live-mode block fetches */
	uint64_t misses;       /* offline reads that lacked a page */
	uint64_t reads;        /* hw_snap_read calls */
	uint64_t fill_bytes;   /* bytes copied by the last hw_snap_fill */
	uint64_t fill_calls;   /* system calls of the last hw_snap_fill */
	uint64_t fill_ns;      /* time of the last copy's system calls */
	uint64_t storage;      /* bytes of storage allocated (kept) */
};
void hw_snap_get_stats(const struct hw_snap *s, struct hw_snap_stats *st);

#endif
