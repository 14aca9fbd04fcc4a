/* pyconst.c - CPython constants that are macros; see pyconst.h. */
#include "heapwatch/pyconst.h"

#include <stddef.h>

/* Flag bits of Include/object.h, identical in 2.7 and from 3.0 to 3.15. */
#define COMMON_FLAGS                                                         \
	.tpf_heaptype = 1ull << 9, .tpf_have_gc = 1ull << 14,                \
	.tpf_long_subclass = 1ull << 24, .tpf_unicode_subclass = 1ull << 28, \
	.tpf_type_subclass = 1ull << 31,                                     \
	.t_object_ex = 16, .long_digit_size = 4, .preheader_size = 16,       \
	.frame_owned_by_frame_object = 2, .frame_cleared = 4,                \
	.dict_kind_general = 0

#define ROW_313                                                              \
	COMMON_FLAGS, .tpf_managed_dict = 1ull << 4,                         \
	.tpf_managed_weakref = 1ull << 3, .tpf_inline_values = 1ull << 2,    \
	.managed_dict_at = -24, .managed_values_at = HW_NOCONST,             \
	.preheader_flags = (1ull << 4) | (1ull << 3),                        \
	.sizeof_preheader_rule = 1, .sizeof_static_type_preheader = 0,       \
	.subtype_visit_type_rule = 1, .module_traverse_needs_state = 1,      \
	.meth_method = 0x200, .dict_values_prefix_rule = 2, .long_size_rule = 2
#define ROW_314 ROW_313, .stackref_tag_mask = 3, .stackref_int_tag = 3

static const struct hw_pyconst rows[] = {
	/* 2.7: the flag bits, T_OBJECT_EX and the 30-bit digits as 3.6
	 * (object.h, structmember.h, longintrepr.h of 2.7.18); getsizeof
	 * adds PyGC_Head when PyObject_IS_GC (sysmodule.c); subtype_traverse
	 * always visits the type (typeobject.c).  Dicts are tables of their
	 * own (PyDictEntry), told apart by the layout's dict_mask. */
	{ 0x02070000, 0x0207ffff, "2.7 object.h, structmember.h, sysmodule.c, typeobject.c",
	  COMMON_FLAGS,
	  .managed_dict_at = HW_NOCONST, .managed_values_at = HW_NOCONST,
	  .sizeof_preheader_rule = 0, .subtype_visit_type_rule = 0,
	  .module_traverse_needs_state = 0, .meth_method = 0,
	  .long_size_rule = 0 },
	/* 3.6-3.8: no pre-header; getsizeof adds PyGC_Head when
	 * _PyObject_IS_GC; subtype_traverse always visits the type. */
	{ 0x03060000, 0x0308ffff, "3.6-3.8 object.h, typeobject.c",
	  COMMON_FLAGS,
	  .managed_dict_at = HW_NOCONST, .managed_values_at = HW_NOCONST,
	  .sizeof_preheader_rule = 0, .subtype_visit_type_rule = 0,
	  .module_traverse_needs_state = 0, .meth_method = 0,
	  .long_size_rule = 0 },
	/* 3.9-3.10: METH_METHOD and PyCMethodObject; heap C types visit
	 * their own type; module m_traverse needs state. */
	{ 0x03090000, 0x030affff, "3.9-3.10 object.h, methodobject.h, moduleobject.c",
	  COMMON_FLAGS,
	  .managed_dict_at = HW_NOCONST, .managed_values_at = HW_NOCONST,
	  .sizeof_preheader_rule = 0, .subtype_visit_type_rule = 1,
	  .module_traverse_needs_state = 1, .meth_method = 0x200,
	  .long_size_rule = 0 },
	/* 3.11: MANAGED_DICT: dict at -3 words, values pointer at -4
	 * (pycore_object.h _PyObject_ManagedDictPointer/ValuesPointer). */
	{ 0x030b0000, 0x030bffff, "3.11 pycore_object.h, pycore_dict.h",
	  COMMON_FLAGS, .tpf_managed_dict = 1ull << 4,
	  .managed_dict_at = -24, .managed_values_at = -32,
	  .preheader_flags = 1ull << 4,
	  .sizeof_preheader_rule = 1, .sizeof_static_type_preheader = 1,
	  .subtype_visit_type_rule = 1, .module_traverse_needs_state = 1,
	  .meth_method = 0x200, .dict_values_prefix_rule = 1,
	  .long_size_rule = 1 },
	/* 3.12: one PyDictOrValues word at -3, tagged; MANAGED_WEAKREF;
	 * lv_tag. */
	{ 0x030c0000, 0x030cffff, "3.12 pycore_object.h, longintrepr.h",
	  COMMON_FLAGS, .tpf_managed_dict = 1ull << 4,
	  .tpf_managed_weakref = 1ull << 3,
	  .managed_dict_at = -24, .managed_values_at = HW_NOCONST,
	  .managed_tagged = 1, .preheader_flags = (1ull << 4) | (1ull << 3),
	  .sizeof_preheader_rule = 1, .sizeof_static_type_preheader = 1,
	  .subtype_visit_type_rule = 1, .module_traverse_needs_state = 1,
	  .meth_method = 0x200, .dict_values_prefix_rule = 1,
	  .long_size_rule = 2 },
	/* 3.13: PyManagedDictPointer at -3; INLINE_VALUES after the
	 * object's fixed part; static types get no pre-header in
	 * sys.getsizeof.  Inline values are visited before a materialised
	 * dict up to the first patch releases after 2026-03-02, when
	 * gh-130327 (python/cpython#145440) reached the 3.13 and 3.14
	 * branches: 3.13.13 and 3.14.4 by the release calendar (3.13.0
	 * and 3.13.18, 3.14.10 verified live on either side). */
	{ 0x030d0000, 0x030d0cff, "3.13.0-3.13.12 pycore_object.h, sysmodule.c",
	  ROW_313 },
	{ 0x030d0d00, 0x030dffff, "3.13.13+ pycore_object.h, dictobject.c (gh-130327)",
	  ROW_313, .managed_dict_first = 1 },
	/* 3.14+: as 3.13, and interpreter frames hold _PyStackRef words
	 * (pycore_stackref.h: Py_TAG_BITS, Py_INT_TAG). */
	{ 0x030e0000, 0x030e03ff, "3.14.0-3.14.3 pycore_stackref.h", ROW_314 },
	{ 0x030e0400, 0x03ffffff, "3.14.4+ pycore_stackref.h, dictobject.c (gh-130327)",
	  ROW_314, .managed_dict_first = 1 },
};

const struct hw_pyconst *hw_pyconst_for(uint32_t version_hex)
{
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
		if (version_hex >= rows[i].min_hex && version_hex <= rows[i].max_hex)
			return &rows[i];
	return NULL;
}
