/* heapsizes.h - bytes per type and guppy's "dict of X" rows, from a walk.
 *
 * The job behind `heapwatch dump --sizes` and the daemon's `sizes: true`:
 * one walk of every GC object (hw_gc_walk's visitor) that sizes each one
 * (hw_obj_size, as sys.getsizeof counts it) and learns which dicts are
 * some object's __dict__ (hw_obj_owned_dict).  Rows partition the GC
 * objects: a dict that is the __dict__ of an object of class X counts in
 * the row "dict of X" (X as the census names types: "module", "type",
 * "function", "__main__.Session"), every other object in its type's row.
 * Instances that keep attributes in values storage no dict object owns
 * (3.11/3.12 values arrays, 3.13+ inline values, see
 * hw_obj_values_size) carry those bytes in their own row, as
 * `values_bytes` on top of what sys.getsizeof says.
 *
 * Everything is read through the snap: a missing page is HW_EMISS from
 * the walk (the caller widens its copy and walks again).  Result
 * storage is kept across walks (reset, not freed).
 */
#ifndef HEAPWATCH_HEAPSIZES_H
#define HEAPWATCH_HEAPSIZES_H

#include <stddef.h>
#include <stdint.h>

#include "heapwatch/err.h"
#include "heapwatch/gcwalk.h"
#include "heapwatch/objects.h"
#include "heapwatch/snap.h"

struct hw_sizes_row {
	uint64_t type_addr;      /* the objects' type */
	uint64_t owner_addr;     /* "dict of X": X's type; 0 otherwise */
	uint64_t count;
	uint64_t bytes;          /* sum of sys.getsizeof (approximations
				    included) plus values_bytes */
	uint64_t values_bytes;   /* attribute values storage (part of bytes) */
	uint64_t approx;         /* objects whose size is approximate */
};

struct hw_sizes {
	struct hw_sizes_row *rows;   /* open addressing; type_addr 0 = empty */
	size_t cap, n;
	/* dict address -> owner type, and the dicts met, for attribution
	 * after the walk */
	uint64_t *own_key, *own_val;
	size_t own_cap, own_n;
	struct { uint64_t addr, type, bytes; int approx; } *dicts;
	size_t ndicts, capdicts;
	uint64_t dict_type;          /* PyDict_Type of the target */
	uint64_t objects, bytes, approx;
};

void hw_sizes_init(struct hw_sizes *z);
void hw_sizes_fini(struct hw_sizes *z);
void hw_sizes_reset(struct hw_sizes *z);

/* Walk every GC list through s (as hw_gc_walk does, with opts: deadline,
 * misses allowed) and fill z (reset first) with one row per (type,
 * owner).  tc, st: as hw_gc_walk's (the counts per type, the walk's
 * figures).  o: the object model of the same target (its caches are
 * dropped first when forget is set: a new copy).  Fails as hw_gc_walk,
 * or with the object model's errors. */
int hw_sizes_walk(struct hw_objects *o, int forget, struct hw_snap *s,
		  const struct hw_offsets *off, const struct hw_gcroots *r,
		  const struct hw_walk_opts *opts, struct hw_typecount *tc,
		  struct hw_walk_stats *st, struct hw_sizes *z, struct hw_err *e);

#endif
