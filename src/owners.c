/* owners.c - hw_obj_owned_dict(): which dict an object owns as its
 * __dict__, for guppy's "dict of X" rows.
 *
 * Up to 3.10 every owner finds its dict the same way: the type's
 * tp_dictoffset (modules md_dict, classes tp_dict, functions func_dict,
 * exceptions dict, instances their slot, negative offsets from the end
 * of var-sized instances).  3.11+ instances with MANAGED_DICT keep the
 * pointer in the pre-header instead: the word at -24 (3.12: unless it
 * is tagged values); no dict object exists while the attributes live in
 * values only.  2.7's old-style instances and classes keep it in
 * in_dict and cl_dict (their types have no tp_dictoffset).
 */
#include "heapwatch/objmodel.h"

int hw_obj_owned_dict(struct hw_objects *o, struct hw_snap *s,
		      uint64_t obj_addr, uint64_t type_addr, uint64_t *dict_addr,
		      struct hw_err *e)
{
	const struct hw_pyconst *k = o->c;
	const struct hw_typeinfo *ti;
	uint64_t slot, d;

	*dict_addr = 0;
	ti = hw_objects_type(o, s, type_addr, e);
	if (!ti)
		return -1;
	if (ti->kind == HW_K_INSTANCE || ti->kind == HW_K_CLASS) {
		/* 2.7 old-style: in_dict, cl_dict (no tp_dictoffset) */
		int64_t off = ti->kind == HW_K_INSTANCE ? o->o->inst_dict : o->o->class_dict;

		if (off < 0)
			return 0;
		if (hw_py_read_u64(s, obj_addr + (uint64_t)off, &d, e) < 0)
			return -1;
	} else if (k->tpf_managed_dict && (ti->flags & k->tpf_managed_dict)) {
		if (hw_py_read_u64(s, obj_addr + (uint64_t)k->managed_dict_at, &d, e) < 0)
			return -1;
		if (k->managed_tagged && (d & 1))
			return 0;
	} else {
		if (hw_objects_dictptr(o, s, obj_addr, ti, &slot, e) < 0)
			return -1;
		if (!slot)
			return 0;
		if (hw_py_read_u64(s, slot, &d, e) < 0)
			return -1;
	}
	if (d && !hw_py_plausible(d))
		return hw_err_set(e, HW_ECORRUPT, 0, "object 0x%llx: __dict__ 0x%llx",
				  (unsigned long long)obj_addr, (unsigned long long)d);
	*dict_addr = d;
	return 0;
}
