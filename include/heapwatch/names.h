/* names.h - a table of names with a count and a byte total each, merging
 * equal names, and the string pool that holds them.
 *
 * The census names every counted type address and adds its count under
 * that name: two types that share a name (a class defined twice) are one
 * row, as objgraph counts them.  `dump --sizes` adds bytes the same way.
 */
#ifndef HEAPWATCH_NAMES_H
#define HEAPWATCH_NAMES_H

#include <stddef.h>
#include <stdint.h>

#include "heapwatch/err.h"

/* NUL-terminated strings stored back to back, referred to by offset
 * (pointers into buf move when it grows). */
struct hw_pool {
	char *buf;
	size_t len, cap;
};
void hw_pool_init(struct hw_pool *p);
void hw_pool_fini(struct hw_pool *p);        /* frees buf; p may be NULL */
void hw_pool_clear(struct hw_pool *p);       /* keeps the storage */
/* Copy s into the pool; *off gets its offset.  -1 (HW_ENOMEM) on failure. */
int hw_pool_add(struct hw_pool *p, const char *s, size_t *off,
		struct hw_err *e);
/* The string at off (from hw_pool_add).  Borrowed: valid until the next
 * add, clear or fini. */
const char *hw_pool_str(const struct hw_pool *p, size_t off);

/* Name -> (count, bytes), open addressing over pool offsets. */
struct hw_nametab {
	uint64_t *hash;
	size_t *off;       /* pool offset + 1; 0 = empty slot */
	uint64_t *count, *bytes;
	size_t cap, n;
};
void hw_nametab_init(struct hw_nametab *t);
void hw_nametab_fini(struct hw_nametab *t);  /* t may be NULL */
void hw_nametab_clear(struct hw_nametab *t); /* keeps the storage */

/* Add count and bytes to name's row, creating it (name copied into p)
 * when new.  Every add to one table must use the same pool.  -1 with
 * HW_ENOMEM on failure (the table is then unchanged). */
int hw_nametab_add(struct hw_nametab *t, struct hw_pool *p, const char *name,
		   uint64_t count, uint64_t bytes, struct hw_err *e);

struct hw_name_row {
	const char *name;  /* in the pool: valid until it changes */
	uint64_t count;
	uint64_t bytes;
};

enum hw_name_order {
	HW_ORDER_COUNT = 0,  /* count descending, then bytes, then name */
	HW_ORDER_BYTES,      /* bytes descending, then count, then name */
};

/* Every row of t, sorted, in a new array *rows of *n entries (the caller
 * free()s it; never NULL on success, even when empty).  -1 with HW_ENOMEM. */
int hw_nametab_rows(const struct hw_nametab *t, const struct hw_pool *p,
		    enum hw_name_order order, struct hw_name_row **rows,
		    size_t *n, struct hw_err *e);

#endif
