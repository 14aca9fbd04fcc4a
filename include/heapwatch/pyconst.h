/* pyconst.h - CPython constants that are macros, not struct members.
 *
 * DWARF and the layout tables give where fields are (layout.h); what a
 * flag bit means, where the pre-header words sit before PyGC_Head, which
 * member type marks an object slot, or which value of a frame's owner
 * byte means "owned by the frame object" are #defines, invisible to
 * DWARF.  They live here, once, as one row per range of versions; the
 * object model chooses its path from these values (a field of 0 or
 * HW_NOCONST means "this build has no such thing"), never from a
 * version number.
 *
 * Sources: Include/object.h, Include/cpython/object.h,
 * Include/internal/pycore_object.h, pycore_frame.h, pycore_dict.h,
 * structmember.h, methodobject.h of each release (2.7, 3.6-3.15), and the
 * live checks recorded in shared/notes/cpython-referents.md.
 */
#ifndef HEAPWATCH_PYCONST_H
#define HEAPWATCH_PYCONST_H

#include <stdint.h>

#define HW_NOCONST INT64_MIN

struct hw_pyconst {
	uint32_t min_hex, max_hex;    /* PY_VERSION_HEX range, inclusive */
	const char *origin;           /* the headers the row was read from */

	/* tp_flags bits (0: the build has no such flag) */
	uint64_t tpf_heaptype;        /* Py_TPFLAGS_HEAPTYPE */
	uint64_t tpf_have_gc;         /* Py_TPFLAGS_HAVE_GC */
	uint64_t tpf_managed_dict;    /* Py_TPFLAGS_MANAGED_DICT (3.11+) */
	uint64_t tpf_managed_weakref; /* Py_TPFLAGS_MANAGED_WEAKREF (3.12+) */
	uint64_t tpf_inline_values;   /* Py_TPFLAGS_INLINE_VALUES (3.13+) */
	uint64_t tpf_long_subclass;   /* Py_TPFLAGS_LONG_SUBCLASS ... */
	uint64_t tpf_unicode_subclass;
	uint64_t tpf_type_subclass;

	/* The pre-header: words before PyGC_Head of objects whose type has
	 * MANAGED_DICT (and MANAGED_WEAKREF).  Offsets are from the object
	 * (PyObject *), HW_NOCONST when absent. */
	int64_t managed_dict_at;      /* dict pointer (3.11), PyDictOrValues
					 (3.12), PyManagedDictPointer (3.13+) */
	int64_t managed_values_at;    /* PyDictValues * (3.11 only) */
	int managed_tagged;           /* 3.12: bit 0 of the word at
					 managed_dict_at set means "values at
					 word + 1", else a dict pointer */
	uint64_t preheader_flags;     /* type flags that add the pre-header
					 (16 bytes) to sys.getsizeof: 3.11
					 MANAGED_DICT, 3.12+ either flag */
	int64_t preheader_size;       /* those 2 words: 16 */

	/* sys.getsizeof's GC part: 0 = add sizeof(PyGC_Head) when the
	 * object is GC (tp_is_gc: heap types only for type objects; up to
	 * 3.10); 1 = add _PyType_PreHeaderSize(type(o)) (3.11+). */
	int sizeof_preheader_rule;
	/* 3.11/3.12 add the pre-header to static type objects too; 3.13+
	 * skip it for any `type` instance that is not a heap type. */
	int sizeof_static_type_preheader;

	/* subtype_traverse visits the instance's type: 0 always (up to
	 * 3.8), 1 unless the first non-subtype base is a heap type with a
	 * traverse of its own (3.9+, which then visits it). */
	int subtype_visit_type_rule;
	/* module_traverse runs m_traverse only when m_size <= 0 or
	 * md_state != NULL (3.9+); 0 = whenever m_traverse is set. */
	int module_traverse_needs_state;

	int64_t t_object_ex;          /* PyMemberDef.type of a slot: 16 */
	uint64_t meth_method;         /* METH_METHOD (3.9+), 0 before */

	/* frames and generators (3.11+) */
	int64_t frame_owned_by_frame_object; /* _frameowner value: 2 */
	int64_t frame_cleared;        /* gi_frame_state FRAME_CLEARED: 4 */
	uint64_t stackref_tag_mask;   /* 3.14+: tag bits of _PyStackRef */
	uint64_t stackref_int_tag;    /* value of those bits for a tagged
					 int (not an object); 0 = none */

	/* 3.13+ instances with inline values and a materialised __dict__
	 * (gh-130327, backported to 3.13 and 3.14 on 2026-03-02): 0 = the
	 * object visits its valid inline values and the dict visits
	 * nothing of them (3.13.0); 1 = the object visits the dict when
	 * there is one, and the dict visits the embedded values. */
	int managed_dict_first;

	/* dicts */
	int64_t dict_kind_general;    /* DICT_KEYS_GENERAL (3.11+): 0 */
	int dict_values_prefix_rule;  /* bytes of an instance's values
					 storage: 0 none, 1 3.11/3.12
					 (round_up_8(n + 2) + 8n, before the
					 pointer), 2 3.13+ inline
					 (round_up_8(n) + 8(n + 1)) */

	/* int: PyLong digits count */
	int long_size_rule;           /* 0 abs(ob_size) (<= 3.10), 1
					 max(1, abs(ob_size)) (3.11), 2
					 max(1, lv_tag >> 3) (3.12+) */
	int64_t long_digit_size;      /* sizeof(digit): 4 */
};

/* The row for version_hex (PY_VERSION_HEX), or NULL when none applies
 * (anything older than 2.7, and 3.0-3.5).  The last row covers every later
 * 3.x: these constants have moved rarely, and a version newer than the
 * tested ones is said to be untested by the layout, not here. */
const struct hw_pyconst *hw_pyconst_for(uint32_t version_hex);

#endif
