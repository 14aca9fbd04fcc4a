/* select.h - which types a process sends: the series selection.
 *
 * Every sample of a process sends `types.<type>` for the union of
 *   - the top_types most numerous types of this census;
 *   - the growth_types types whose count rose most above their low point
 *     (the lowest count seen since the process was first sampled; a type
 *     absent from a census counts 0 there), from the second census on;
 *   - every type matching one of watch (exact names or fnmatch(3) shell
 *     patterns: "myapp.*", "lxml.etree._Element");
 *   - every type selected before (sticky until the process exits, so a
 *     Graphite series never has holes: a sticky type absent now counts 0),
 * at most max_types in all.  New names are admitted in that priority:
 * growth first (the leak suspects), then watched, then the most numerous;
 * within each, the larger rise or count first, ties by name.  Candidates
 * the cap (or the caller's budget, max_new) keeps out are counted as held
 * back; they may get in later if room remains.
 *
 * A target's aggregate uses a selection with union_all set: every type of
 * its input (the union of its processes' selected types) is a candidate,
 * the most numerous first, and stays selected (sticky) after.
 *
 * Indices are stable: the selected set only grows, new names are appended,
 * so index i names the same type for the life of the selection (a trend,
 * a Graphite slot or a history row can be kept per index).  The names a
 * call admitted are the last hw_select_added() indices.
 *
 * Memory: everything is allocated by hw_select_new() except the table of
 * low points, allocated once by the first update and sized from it
 * (4 x its types, 2048..32768 entries of 32 bytes; types past 3/4 of it
 * are not followed for growth).  Nothing else allocates; nothing logs.
 */
#ifndef HEAPWATCH_SELECT_H
#define HEAPWATCH_SELECT_H

#include <stddef.h>
#include <stdint.h>

#include "heapwatch/census.h"
#include "heapwatch/sample.h"

struct hw_select_conf {
	unsigned top_types;        /* 0..; the config's top_types */
	unsigned growth_types;     /* 0..; the config's growth_types */
	unsigned max_types;        /* >= 1; the cap on the selected set */
	const char *const *watch;  /* nwatch exact names or patterns; borrowed:
				      must outlive the selection */
	size_t nwatch;
	int union_all;             /* aggregates: every input is a candidate */
};

struct hw_select;

/* A new, empty selection.  NULL (errno ENOMEM, or EINVAL for max_types
 * 0) on failure.  Free with hw_select_free(). */
struct hw_select *hw_select_new(const struct hw_select_conf *c);

/* NULL is fine. */
void hw_select_free(struct hw_select *s);

/* Feed one census: types[0..n), any order, each name once (a name
 * repeated is taken once, the first time).  Updates the counts of the
 * selected types, the low points, and admits new names as above, at most
 * max_new of them (UINT32_MAX: no budget).  Returns hw_select_len().
 * Returns -1 (errno ENOMEM) only when the first update cannot allocate
 * its table of low points; the selection then still works without the
 * growth candidates. */
long hw_select_update(struct hw_select *s, const struct hw_census_type *types,
		      size_t n, uint32_t max_new);

/* Types selected, <= max_types. */
uint32_t hw_select_len(const struct hw_select *s);

/* Name of index i < hw_select_len(): NUL-terminated, at most
 * HW_SAMPLE_NAME_MAX - 1 bytes (longer names are cut there: two names
 * equal over that length are one type here); borrowed until
 * hw_select_free(). */
const char *hw_select_name(const struct hw_select *s, uint32_t i);

/* Count of index i in the last census fed (0: absent from it). */
uint64_t hw_select_count(const struct hw_select *s, uint32_t i);

/* Rise of index i above its low point at the last update (0 if unknown). */
uint64_t hw_select_rise(const struct hw_select *s, uint32_t i);

/* Why index i was admitted: a mask of HW_SELECT_WHY_*. */
#define HW_SELECT_WHY_TOP    1u
#define HW_SELECT_WHY_GROWTH 2u
#define HW_SELECT_WHY_WATCH  4u
#define HW_SELECT_WHY_UNION  8u
unsigned hw_select_why(const struct hw_select *s, uint32_t i);

/* Of the last update: names admitted (the indices [len - added, len)),
 * candidates held back by max_types or max_new. */
uint32_t hw_select_added(const struct hw_select *s);
uint32_t hw_select_held_back(const struct hw_select *s);

/* Updates fed so far. */
uint64_t hw_select_updates(const struct hw_select *s);

/* Index of name, or -1 if not selected.  O(1). */
long hw_select_find(const struct hw_select *s, const char *name);

/* Whether name matches one of c's watch entries (exact, or fnmatch(3)
 * with no flags). */
int hw_select_watched(const struct hw_select_conf *c, const char *name);

#endif
