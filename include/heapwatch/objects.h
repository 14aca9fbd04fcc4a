/* objects.h - what a remote object is made of: its referents (as its
 * type's tp_traverse would visit them), its size (as sys.getsizeof counts
 * it) and, for a dict, who owns it ("dict of X", as guppy says).
 *
 * This is the contract between the object model (referents, sizes,
 * owners: objects.c and the modules under it) and its users (the census's
 * --sizes, the referrer graph of `heapwatch refs`, `dump --leaking`).
 * Everything is read through a struct hw_snap, so it works the same on a
 * stopped target, on a private snapshot and on synthetic memory; every
 * remote pointer and length is checked, every loop bounded.
 *
 * Kinds are recognised the way CPython itself dispatches: by the type's
 * tp_traverse function (the addresses of the builtin ones are read from
 * the target's exported static type objects), never by type name.  A C
 * type whose tp_traverse is unknown is opaque: its referents are not
 * guessed, and users say so (an opaque node, never a silent root).
 */
#ifndef HEAPWATCH_OBJECTS_H
#define HEAPWATCH_OBJECTS_H

#include <stddef.h>
#include <stdint.h>

#include "heapwatch/err.h"
#include "heapwatch/layout.h"
#include "heapwatch/snap.h"

struct hw_target;
struct hw_objects;

/* Learn the target's builtin types (addresses of the static type objects
 * from its symbols, their tp_traverse read through s) for the layout l
 * (borrowed: must outlive the result).  Returns NULL with e filled
 * (HW_ELAYOUT when the layout lacks what referents need). */
struct hw_objects *hw_objects_new(const struct hw_target *t,
				  const struct hw_layout *l, struct hw_snap *s,
				  struct hw_err *e);
void hw_objects_free(struct hw_objects *o);

/* Drop what the model learnt per type (it caches each type object's
 * facts by address).  Call it when s is replaced by a copy taken later:
 * a type may have been freed and another allocated at its address. */
void hw_objects_forget(struct hw_objects *o);

/* Where the model found subtype_traverse ("symbol table", ...), or why
 * it did not: then instances of Python classes are opaque.  Static
 * string owned by o. */
const char *hw_objects_how(const struct hw_objects *o);

/* How well the referents of one object are known. */
enum hw_refs_status {
	HW_REFS_EXACT = 0,   /* exactly what gc.get_referents() returns */
	HW_REFS_PARTIAL,     /* the Python-level part of a subclass of an
				opaque C type; the C part is unknown */
	HW_REFS_OPAQUE,      /* a C type whose tp_traverse is unknown */
};

/* How a referent is reached from its referrer, for labels such as
 * `.__dict__['_dispatcher']`, `[3]`, `.items (cell)`. */
enum hw_edge_kind {
	HW_EDGE_INDEX = 0,   /* list or tuple item: index */
	HW_EDGE_DICT_KEY,    /* a dict's key object: key_addr is the key */
	HW_EDGE_DICT_VALUE,  /* a dict's value: key_addr is its key object */
	HW_EDGE_SET_ITEM,    /* a set or frozenset member */
	HW_EDGE_ATTR,        /* instance attribute held outside a dict object
				(3.11+ values, 3.13+ inline values):
				key_addr is the attribute name (str) */
	HW_EDGE_SLOT,        /* __slots__ member: key_addr is the remote C
				string (char *) of the member's name */
	HW_EDGE_DICT,        /* an owner's __dict__ (instance, class, module,
				function); synthetic for 3.13 managed dicts
				that no traverse reports */
	HW_EDGE_FIELD,       /* a named field of a builtin type: name, e.g.
				"__closure__", "cell_contents", "__self__",
				"__func__", "tb_frame", "__mro__" */
	HW_EDGE_LOCAL,       /* a frame's local or cell variable: key_addr is
				its name (str), index its slot; a value-stack
				entry has key_addr 0 and name "stack" */
	HW_EDGE_TYPE,        /* an instance's reference to its class */
};

struct hw_edge {
	uint64_t to_addr;        /* the referent (a PyObject *) */
	enum hw_edge_kind kind;
	uint64_t key_addr;       /* see the kind; 0 when none */
	int64_t index;           /* see the kind; -1 when none */
	const char *name;        /* static string, see the kind; NULL if none */
	int synthetic;           /* 1: not a referent gc.get_referents()
				    reports, added so that the object holding
				    it is not lost: a 3.13+ instance's
				    materialised __dict__ while its inline
				    values are valid (only the managed
				    pointer holds it) */
};

/* Called once per referent, in tp_traverse order.  Return 0 to go on,
 * -1 (with e filled) to stop. */
typedef int (*hw_edge_fn)(void *arg, const struct hw_edge *ed,
			  struct hw_err *e);

/* Visit the referents of the object at obj_addr whose type is type_addr
 * (as the walker read it).  *status says how complete they are.  Fails
 * with HW_EMISS (snapshot lacks memory: the caller widens its copy and
 * retries), HW_EIO, HW_ECORRUPT (an implausible pointer or length), or
 * the callback's error. */
int hw_obj_referents(struct hw_objects *o, struct hw_snap *s,
		     uint64_t obj_addr, uint64_t type_addr, hw_edge_fn fn,
		     void *arg, enum hw_refs_status *status, struct hw_err *e);

/* The edge as a person reads code, relative to its referrer:
 * "[3]", "['_expected']", "[42]", ".name", ".__dict__", ".__closure__",
 * "(local 'request')".  Keys are short reprs of str and int keys (capped,
 * with "..." when cut), "[<tuple>]" for others.  Writes at most size-1
 * bytes and a NUL; returns 0, or -1 when a string cannot be read (buf then
 * holds a generic label). */
int hw_edge_label(struct hw_objects *o, struct hw_snap *s,
		  const struct hw_edge *ed, char *buf, size_t size,
		  struct hw_err *e);

/* sys.getsizeof(obj): the object's own bytes, GC header (and the 3.11+
 * pre-header) included.  *approx is set when the type has a C __sizeof__
 * heapwatch cannot reproduce (then *bytes is basicsize + itemsize * size,
 * marked, not guessed further). */
int hw_obj_size(struct hw_objects *o, struct hw_snap *s, uint64_t obj_addr,
		uint64_t type_addr, uint64_t *bytes, int *approx,
		struct hw_err *e);

/* Bytes of an instance's attribute storage that neither its own
 * sys.getsizeof nor any dict object counts: the values array of a
 * 3.11/3.12 instance whose __dict__ was never materialised, or the
 * inline values of a 3.13+ one (PyDictValues, prefix included).  0 for
 * every other object, and once a __dict__ exists (its size then counts
 * the values).  The instance's own row carries these bytes in
 * `dump --sizes`. */
int hw_obj_values_size(struct hw_objects *o, struct hw_snap *s,
		       uint64_t obj_addr, uint64_t type_addr, uint64_t *bytes,
		       struct hw_err *e);

/* The dict object obj owns as its __dict__ ("dict of X", as guppy
 * says): a module's md_dict, a heap type's tp_dict, a function's
 * func_dict, an exception's dict, an instance's dict (tp_dictoffset,
 * or the managed pointer of 3.11+).  *dict_addr is 0 when it owns none
 * (or keeps its attributes in values only). */
int hw_obj_owned_dict(struct hw_objects *o, struct hw_snap *s,
		      uint64_t obj_addr, uint64_t type_addr, uint64_t *dict_addr,
		      struct hw_err *e);

#endif
