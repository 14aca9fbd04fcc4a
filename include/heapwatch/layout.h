/* layout.h - where a CPython build keeps what the census reads.
 *
 * CPython versions are data: every byte offset the walker and the type
 * namer use is one field of struct hw_offsets, listed once in
 * HW_OFFSET_FIELDS.  That one list generates the struct, the table of
 * field names (for printing, comparing sources and the DWARF fill) and
 * the built-in per-version tables' format.  A field a build does not have
 * holds HW_NOFIELD (-1); the walker chooses its path from which fields
 * are present (for example rt_gc >= 0 means one process-wide GC state,
 * as in 3.7 and 3.8), never from version numbers.
 *
 * Sources, in order of preference (enum hw_layout_source): DWARF debug
 * info, CPython's own _Py_DebugOffsets (3.13+), built-in tables keyed by
 * the target's version, and a signature scan for the list heads.
 */
#ifndef HEAPWATCH_LAYOUT_H
#define HEAPWATCH_LAYOUT_H

#include <stddef.h>
#include <stdint.h>

#include "heapwatch/err.h"

#define HW_NOFIELD ((int64_t)-1)

/* X(field, description).  Offsets are bytes from the start of the named
 * struct; sizes are sizeof.  "(27)" marks Python 2.7 only fields. */
#define HW_OFFSET_FIELDS(X)                                                   \
	/* runtime and interpreter state */                                  \
	X(rt_interp_head,  "_PyRuntimeState.interpreters.head")              \
	X(rt_gc,           "_PyRuntimeState.gc (3.7, 3.8: one GC state)")    \
	X(interp_next,     "PyInterpreterState.next")                        \
	X(interp_gc,       "PyInterpreterState.gc (3.9+)")                   \
	/* struct _gc_runtime_state */                                       \
	X(gc_gens,         "_gc_runtime_state.generations (or .young)")      \
	X(gc_gen_stride,   "sizeof(struct gc_generation)")                  \
	X(gc_gen_threshold,"gc_generation.threshold")                       \
	X(gc_permanent,    "_gc_runtime_state.permanent_generation")        \
	X(gc_collecting,   "_gc_runtime_state.collecting")                  \
	X(gc_generation0,  "_gc_runtime_state.generation0")                 \
	X(gc_size,         "sizeof(struct _gc_runtime_state)")              \
	/* PyGC_Head */                                                      \
	X(gchead_size,     "sizeof(PyGC_Head)")                             \
	X(gchead_next,     "PyGC_Head._gc_next (gc.gc_next before 3.8)")    \
	X(gchead_prev,     "PyGC_Head._gc_prev (gc.gc_prev before 3.8)")    \
	X(gchead_refs,     "PyGC_Head.gc.gc_refs (before 3.8)")             \
	/* objects and types */                                              \
	X(ob_type,         "PyObject.ob_type")                               \
	X(tp_name,         "PyTypeObject.tp_name")                           \
	X(tp_flags,        "PyTypeObject.tp_flags")                          \
	X(tp_dict,         "PyTypeObject.tp_dict")                           \
	X(ht_name,         "PyHeapTypeObject.ht_name")                       \
	X(ht_qualname,     "PyHeapTypeObject.ht_qualname (3.3+)")            \
	/* str (3.x: PEP 393 unicode) */                                     \
	X(str_length,      "PyASCIIObject.length")                           \
	X(str_state,       "PyASCIIObject.state")                            \
	X(str_ascii_size,  "sizeof(PyASCIIObject)")                          \
	X(str_compact_size,"sizeof(PyCompactUnicodeObject)")                 \
	/* str (27: PyStringObject) */                                       \
	X(bytes_size,      "PyStringObject.ob_size (27)")                    \
	X(bytes_sval,      "PyStringObject.ob_sval (27)")                    \
	/* dict, to read a type's __module__ */                              \
	X(dict_keys,       "PyDictObject.ma_keys (ma_table in 27)")          \
	X(dict_mask,       "PyDictObject.ma_mask (27)")                      \
	X(dk_size,         "PyDictKeysObject.dk_size (3.6-3.10)")            \
	X(dk_log2_size,    "PyDictKeysObject.dk_log2_size (3.11+)")          \
	X(dk_log2_index_bytes, "PyDictKeysObject.dk_log2_index_bytes (3.11+)") \
	X(dk_kind,         "PyDictKeysObject.dk_kind (3.11+)")               \
	X(dk_nentries,     "PyDictKeysObject.dk_nentries")                   \
	X(dk_indices,      "PyDictKeysObject.dk_indices")                    \
	X(dk_entry_size,   "sizeof(PyDictKeyEntry)")                         \
	X(dk_uentry_size,  "sizeof(PyDictUnicodeEntry) (3.11+)")

struct hw_offsets {
#define HW_OFFSET_MEMBER(name, desc) int64_t name;
	HW_OFFSET_FIELDS(HW_OFFSET_MEMBER)
#undef HW_OFFSET_MEMBER
};

/* One row per field of struct hw_offsets, in declaration order. */
struct hw_offset_field {
	const char *name;
	const char *desc;
	size_t off; /* offsetof(struct hw_offsets, name) */
};
extern const struct hw_offset_field hw_offset_fields[];
extern const size_t hw_offset_nfields;

/* Every field set to HW_NOFIELD. */
void hw_offsets_init(struct hw_offsets *o);
/* Field value by row index (0 <= i < hw_offset_nfields). */
int64_t hw_offsets_get(const struct hw_offsets *o, size_t i);
void hw_offsets_set(struct hw_offsets *o, size_t i, int64_t v);

enum hw_layout_source {
	HW_SRC_NONE = 0,
	HW_SRC_DWARF,         /* debug info of the binary or a debug file */
	HW_SRC_DEBUG_OFFSETS, /* _Py_DebugOffsets (3.13+) + table for the rest */
	HW_SRC_TABLE,         /* built-in table for the target's version */
	HW_SRC_SCAN,          /* table for the rest + signature scan of heads */
};
/* "dwarf", "debug_offsets", "table", "scan", "none". */
const char *hw_layout_source_name(enum hw_layout_source s);
/* Parse those names; returns 0, or -1 if unknown. */
int hw_layout_source_parse(const char *name, enum hw_layout_source *out);


/* ---- choosing a layout for a target ---- */

struct hw_target;

struct hw_layout {
	struct hw_offsets off;
	enum hw_layout_source source;
	char detail[4300];       /* the DWARF file, the table's key, and what
				    was confirmed or found in the target */
	char notes[2048];        /* sources that disagree with the one used
				    or were refused, one per line; "" if none */
	int confirmed;           /* GC lists confirmed in the target's own
				    GC state (0 for 2.7 and 3.6: no state) */
	int names_confirmed;     /* classes whose names were checked */
	int untested;            /* a CPython minor version no table was
				    generated for (newer than heapwatch) */
};

struct hw_mem;

/* Find the layout of t's build, reading the target through m where a
 * source needs its memory (_Py_DebugOffsets, the signature scan): the
 * best source that applies (dwarf, debug_offsets, table, scan), or only
 * `only` when it is not HW_SRC_NONE (to test each source alone).
 *
 * With m, every layout is confirmed against the running target before
 * it is returned (layout.c explains the checks): the GC lists where the
 * target's own generation0 pointer says, list heads that are lists, a
 * few classes whose names read right.  A source that fails is refused
 * (HW_ELAYOUT naming the source, the field and both values) and auto
 * mode goes on to the next.  The chosen layout is compared with the
 * table and _Py_DebugOffsets where they apply; differences and refused
 * sources are written to l->notes ("table: pyenv 3.13.0 ... disagrees
 * with dwarf on 1 field: gc_gens 24, dwarf 20").
 *
 * A 3.x version newer than every table (l->untested) is walked only
 * when _Py_DebugOffsets (read with the newest format it fits) and the
 * run-time checks hold; otherwise HW_EVERSION naming the version and
 * what failed.  HW_EFREETHR for a free-threaded build (it has no GC
 * lists); HW_EVERSION / HW_ELAYOUT when nothing applies, naming what
 * was tried.  Without m nothing is read or confirmed. */
int hw_layout_resolve(const struct hw_target *t, struct hw_mem *m,
		      enum hw_layout_source only, struct hw_layout *l,
		      struct hw_err *e);

/* Built-in tables: the offsets of a known build, keyed by version and
 * build flavour (debug = Py_DEBUG).  Returns 0 and fills *o, or -1 when no
 * table matches (HW_EVERSION).  key gets the row's origin ("pyenv 3.13.0
 * DWARF libpython3.13.so.1.0"). */
int hw_layout_table(uint32_t version_hex, int debug, struct hw_offsets *o,
		    char *key, size_t key_size, struct hw_err *e);

/* Whether a row generated from a real build's DWARF exists for the minor
 * version of version_hex: heapwatch was tested on that minor. */
int hw_layout_table_minor_known(uint32_t version_hex);

/* The rows, for tests that hold them against DWARF: 0 <= i < count. */
struct hw_layout_table_info {
	uint32_t min_hex, max_hex;   /* PY_VERSION_HEX range it claims */
	int debug;                   /* Py_DEBUG builds */
	int verified;                /* generated from a build's DWARF; 0 for
					the few written from headers */
	const char *origin;          /* static string */
	struct hw_offsets off;
};
size_t hw_layout_table_count(void);
/* Returns 0, or -1 when i is out of range. */
int hw_layout_table_row(size_t i, struct hw_layout_table_info *info);

#endif
