/* objmodel.h - the inside of the object model, shared by its modules:
 * objects.c (kinds and dispatch, the per-type cache), referents.c,
 * objsize.c, owners.c and labels.c.  Users include objects.h only.
 *
 * A kind is what CPython's own tp_traverse of a type is: the builtin
 * traverse functions are learnt from the target's exported static type
 * objects (their tp_traverse read through the snap), subtype_traverse
 * (every class statement) from the symbol table or from a class that
 * always exists (_frozen_importlib.ModuleSpec).  Everything else a type
 * needs (flags, sizes, dict offset, its first non-subtype base, its
 * slots, how sys.getsizeof sizes it) is read once per type address and
 * kept in a cache; hw_objects_forget() drops it when the snapshot is
 * replaced (a type may be freed and another allocated at its address).
 */
#ifndef HEAPWATCH_OBJMODEL_H
#define HEAPWATCH_OBJMODEL_H

#include <stdint.h>

#include "heapwatch/objects.h"
#include "heapwatch/pyconst.h"
#include "heapwatch/pyread.h"
#include "heapwatch/target.h"

enum hw_kind {
	HW_K_OPAQUE = 0,   /* unknown tp_traverse */
	HW_K_NONE,         /* tp_traverse NULL: no referents (not GC) */
	HW_K_SUBTYPE,      /* subtype_traverse: instances of Python classes */
	HW_K_LIST,
	HW_K_TUPLE,
	HW_K_DICT,
	HW_K_SET,          /* set and frozenset */
	HW_K_CELL,
	HW_K_FUNCTION,
	HW_K_METHOD,
	HW_K_MODULE,
	HW_K_TYPE,
	HW_K_FRAME,
	HW_K_GEN,          /* generator and coroutine */
	HW_K_ASYNCGEN,
	HW_K_WEAKREF,
	HW_K_CLASSMETHOD,
	HW_K_STATICMETHOD,
	HW_K_PROPERTY,
	HW_K_CFUNCTION,
	HW_K_DESCR,
	HW_K_METHODWRAPPER,
	HW_K_MAPPINGPROXY,
	HW_K_TRACEBACK,
	HW_K_EXCEPTION,
	HW_K_CLASS,        /* 2.7 old-style class (classobj) */
	HW_K_INSTANCE,     /* 2.7 old-style instance */
	/* C types hand-coded (not builtins): */
	HW_K_SLICE,
	HW_K_NAMESPACE,    /* types.SimpleNamespace */
	HW_K_ODICT,        /* collections.OrderedDict */
	HW_K_DEFDICT,      /* collections.defaultdict */
	HW_K_PARTIAL,      /* functools.partial */
	HW_K_DEQUE,        /* collections.deque */
	HW_K_COUNT
};

/* How sys.getsizeof sizes instances: the __sizeof__ the MRO finds. */
enum hw_sizerule {
	HW_SZ_UNKNOWN = 0, /* a C __sizeof__ we cannot reproduce: approx */
	HW_SZ_DEFAULT,     /* object.__sizeof__: basicsize + itemsize*|size| */
	HW_SZ_LIST,
	HW_SZ_DICT,
	HW_SZ_SET,
	HW_SZ_TYPE,
	HW_SZ_LONG,
	HW_SZ_STR,
	HW_SZ_BYTEARRAY,
	HW_SZ_FRAME,
	HW_SZ_GEN,
	HW_SZ_CODE,
	HW_SZ_MODULE,
};

#define HW_MAX_SLOTS 256    /* __slots__ members kept per type */

/* What the model knows of one type object. */
struct hw_typeinfo {
	uint64_t addr;
	uint64_t flags;
	int64_t basicsize, itemsize, dictoffset;
	uint64_t traverse;
	enum hw_kind kind;       /* of the type itself */
	/* instances of Python classes: the first base whose tp_traverse
	 * is not subtype_traverse, and its kind (HW_K_NONE: object) */
	uint64_t base;
	enum hw_kind base_kind;
	int64_t base_dictoffset;
	uint64_t base_flags;
	uint64_t base_traverse;
	/* __slots__ members of the subtype chain, in traverse order:
	 * (offset in the instance, address of the C name) */
	uint32_t slot_first, nslots;
	enum hw_sizerule sizerule;
	uint64_t cached_keys;    /* ht_cached_keys, heap types only */
	int ready;
};

struct hw_slot {
	int64_t offset;
	uint64_t name_addr;      /* remote char *, NUL terminated */
};

struct hw_objects {
	const struct hw_layout *l;
	const struct hw_offsets *o;
	const struct hw_pyconst *c;
	uint32_t version_hex;
	uint64_t sym[HW_OBJSYM_COUNT];    /* from the target; PTR symbols
					     already dereferenced */
	uint64_t traverse[HW_K_COUNT];    /* tp_traverse of each kind */
	uint64_t traverse2[HW_K_COUNT];   /* a second function of the
					     same kind (coroutines) */
	uint64_t lookdict;                /* 3.6-3.10 general lookup */
	char how_subtype[192];            /* where subtype_traverse came from */
	/* per-type cache: open addressing on the type address */
	struct hw_typeinfo *types;
	size_t ntypes, cap;
	struct hw_slot *slots;
	size_t nslots, capslots;
};

/* The cached facts of a type (computed on first use).  NULL with e set
 * on a read failure (not cached: a miss can be retried). */
const struct hw_typeinfo *hw_objects_type(struct hw_objects *o, struct hw_snap *s,
					  uint64_t type_addr, struct hw_err *e);

/* Kind of a tp_traverse function. */
enum hw_kind hw_objects_kind_of(const struct hw_objects *o, uint64_t traverse);

/* The address of the instance's __dict__ pointer slot (not managed
 * pre-header dicts), per the tp_dictoffset rule; 0 when none. */
int hw_objects_dictptr(struct hw_objects *o, struct hw_snap *s, uint64_t obj,
		       const struct hw_typeinfo *ti, uint64_t *slot, struct hw_err *e);

#endif
