/* objsize.c - hw_obj_size(): sys.getsizeof from outside, and the
 * attribute storage no getsizeof counts (hw_obj_values_size).
 *
 * sys.getsizeof(o) = type(o).__sizeof__(o) + the GC part: PyGC_Head
 * when o is a GC object (up to 3.10), or _PyType_PreHeaderSize(type(o))
 * (3.11+: PyGC_Head, plus the two managed words when the type has
 * them).  __sizeof__ is the one the type's MRO finds (objects.c
 * size_rule); a C __sizeof__ the model does not know is reported as
 * basicsize + itemsize * size and marked approximate.  2.7's dicts
 * count their own table (dict_sizeof of 2.7.18).  Formulas from
 * Objects/{object,list,dict,set,type,long,unicode,bytearray,frame,gen}
 * object.c of each release; see shared/notes/cpython-referents.md §5.
 */
#include "heapwatch/objmodel.h"

#include <string.h>

#define NO(x) ((x) < 0)
#define ROUND8(x) (((x) + 7) & ~(uint64_t)7)

static int rd_i32(struct hw_snap *s, uint64_t a, int64_t *v, struct hw_err *e)
{
	int32_t x;

	if (hw_snap_read(s, a, &x, 4, e) < 0)
		return -1;
	*v = x;
	return 0;
}

/* _PyDict_KeysSize */
static uint64_t keys_size(const struct hw_offsets *f, const struct hw_dict_info *di)
{
	return (uint64_t)f->dk_indices + di->index_bytes +
	       (di->dk_size * 2 / 3) * di->entry_size;
}

/* USABLE_FRACTION of the shared keys, for a split table's values:
 * 3.6-3.10 2n/3 of the keys' size; 3.11+ dk_nentries + dk_usable
 * (shared_keys_usable_size) */
static uint64_t split_usable(const struct hw_offsets *f, const struct hw_dict_info *di)
{
	if (!NO(f->dk_log2_size))
		return di->dk_nentries + di->dk_usable;
	return di->dk_size * 2 / 3;
}

static int sz_dict(struct hw_objects *o, struct hw_snap *s, uint64_t obj,
		   const struct hw_typeinfo *ti, uint64_t *n, struct hw_err *e)
{
	struct hw_dict_info di;

	if (hw_dict_info(s, o->o, obj, o->lookdict, o->sym[HW_OBJSYM_unicode_type], &di, e) < 0)
		return -1;
	*n = (uint64_t)ti->basicsize;
	if (!NO(o->o->dict_mask)) {
		/* 2.7 dict_sizeof: the table when it is not ma_smalltable */
		if (di.entries != obj + (uint64_t)o->o->dict_smalltable)
			*n += di.dk_size * di.entry_size;
		return 0;
	}
	if (di.split)
		*n += split_usable(o->o, &di) * 8;
	if (di.dk_refcnt == 1)
		*n += keys_size(o->o, &di);
	return 0;
}

static int sz_long(struct hw_objects *o, struct hw_snap *s, uint64_t obj,
		   uint64_t *n, struct hw_err *e)
{
	const struct hw_offsets *f = o->o;
	uint64_t ndig;

	if (NO(f->long_digits))
		return hw_err_set(e, HW_ELAYOUT, 0, "layout lacks PyLongObject.ob_digit");
	if (o->c->long_size_rule == 2) {
		uint64_t tag;

		if (NO(f->long_tag) || hw_py_read_u64(s, obj + (uint64_t)f->long_tag, &tag, e) < 0)
			return NO(f->long_tag) ? hw_err_set(e, HW_ELAYOUT, 0, "no lv_tag") : -1;
		ndig = tag >> 3;
		if (ndig < 1)
			ndig = 1;
	} else {
		int64_t size;

		if (hw_py_read_i64(s, obj + (uint64_t)f->ob_size, &size, e) < 0)
			return -1;
		ndig = (uint64_t)(size < 0 ? -size : size);
		if (o->c->long_size_rule == 1 && ndig < 1)
			ndig = 1;
	}
	if (ndig > HW_PY_MAX_ITEMS)
		return hw_err_set(e, HW_ECORRUPT, 0, "int 0x%llx: %llu digits",
				  (unsigned long long)obj, (unsigned long long)ndig);
	*n = (uint64_t)f->long_digits + ndig * (uint64_t)o->c->long_digit_size;
	return 0;
}

/* unicode___sizeof__ */
static int sz_str(struct hw_objects *o, struct hw_snap *s, uint64_t obj,
		  uint64_t *n, struct hw_err *e)
{
	const struct hw_offsets *f = o->o;
	int64_t len, ulen = 0, wlen = 0;
	uint32_t state;
	unsigned kind, compact, ascii;
	uint64_t data, utf8 = 0, wstr = 0;

	if (NO(f->str_state) || NO(f->str_length) || NO(f->str_ascii_size) ||
	    NO(f->str_compact_size) || NO(f->str_size))
		return hw_err_set(e, HW_ELAYOUT, 0, "layout lacks str fields");
	if (hw_py_read_i64(s, obj + (uint64_t)f->str_length, &len, e) < 0 ||
	    hw_snap_read(s, obj + (uint64_t)f->str_state, &state, 4, e) < 0)
		return -1;
	if (len < 0 || len > HW_PY_MAX_ITEMS * 4)
		return hw_err_set(e, HW_ECORRUPT, 0, "str 0x%llx: length %lld",
				  (unsigned long long)obj, (long long)len);
	kind = (state >> 2) & 7;
	compact = (state >> 5) & 1;
	ascii = (state >> 6) & 1;
	if (compact && ascii) {
		*n = (uint64_t)f->str_ascii_size + (uint64_t)len + 1;
		data = obj + (uint64_t)f->str_ascii_size;
	} else if (compact) {
		*n = (uint64_t)f->str_compact_size + ((uint64_t)len + 1) * kind;
		data = obj + (uint64_t)f->str_compact_size;
	} else {
		if (NO(f->str_data) || hw_py_read_u64(s, obj + (uint64_t)f->str_data, &data, e) < 0)
			return NO(f->str_data) ? hw_err_set(e, HW_ELAYOUT, 0, "no str data") : -1;
		*n = (uint64_t)f->str_size + (data ? ((uint64_t)len + 1) * kind : 0);
	}
	if (!(compact && ascii)) {
		if (NO(f->str_utf8) || NO(f->str_utf8_length) ||
		    hw_py_read_u64(s, obj + (uint64_t)f->str_utf8, &utf8, e) < 0 ||
		    hw_py_read_i64(s, obj + (uint64_t)f->str_utf8_length, &ulen, e) < 0)
			return -1;
		if (utf8 && utf8 != data && ulen >= 0)
			*n += (uint64_t)ulen + 1;
	}
	if (!NO(f->str_wstr)) {
		/* up to 3.11: a wchar_t copy unless shared with the data */
		if (hw_py_read_u64(s, obj + (uint64_t)f->str_wstr, &wstr, e) < 0)
			return -1;
		if (wstr && wstr != data) {
			if (compact && ascii)
				wlen = len;
			else if (NO(f->str_wstr_length) ||
				 hw_py_read_i64(s, obj + (uint64_t)f->str_wstr_length, &wlen, e) < 0)
				return -1;
			if (wlen >= 0)
				*n += ((uint64_t)wlen + 1) * 4;
		}
	}
	return 0;
}

/* The code object behind a frame or generator, tags cleared (3.14). */
static uint64_t untag(const struct hw_objects *o, uint64_t v)
{
	return o->c->stackref_tag_mask ? v & ~o->c->stackref_tag_mask : v;
}

static int code_slots(struct hw_objects *o, struct hw_snap *s, uint64_t code,
		      uint64_t *nslots, struct hw_err *e)
{
	const struct hw_offsets *f = o->o;
	int64_t a, b;

	if (!hw_py_plausible(code))
		return hw_err_set(e, HW_ECORRUPT, 0, "code pointer 0x%llx",
				  (unsigned long long)code);
	if (rd_i32(s, code + (uint64_t)f->code_nlocalsplus, &a, e) < 0 ||
	    rd_i32(s, code + (uint64_t)f->code_stacksize, &b, e) < 0)
		return -1;
	if (a < 0 || b < 0 || a + b > (1 << 24))
		return hw_err_set(e, HW_ECORRUPT, 0, "code 0x%llx: %lld locals, stack %lld",
				  (unsigned long long)code, (long long)a, (long long)b);
	*nslots = (uint64_t)(a + b);
	return 0;
}

/* frame_sizeof */
static int sz_frame(struct hw_objects *o, struct hw_snap *s, uint64_t obj,
		    uint64_t *n, struct hw_err *e)
{
	const struct hw_offsets *f = o->o;
	uint64_t code, fr, nslots;

	if (NO(f->frame_frame)) {
		/* up to 3.10: sizeof(PyFrameObject) + (extras - 1) words */
		int64_t nlocals, stack;
		uint64_t cell, free_, nc = 0, nf = 0, items;

		if (NO(f->frame_code) || NO(f->frame_size) || NO(f->code_nlocals) ||
		    NO(f->code_stacksize))
			return hw_err_set(e, HW_ELAYOUT, 0, "layout lacks frame fields");
		if (hw_py_read_obj(s, obj, f->frame_code, "f_code", &code, e) < 0 || !code ||
		    rd_i32(s, code + (uint64_t)f->code_nlocals, &nlocals, e) < 0 ||
		    rd_i32(s, code + (uint64_t)f->code_stacksize, &stack, e) < 0 ||
		    hw_py_read_obj(s, code, f->code_cellvars, "co_cellvars", &cell, e) < 0 ||
		    hw_py_read_obj(s, code, f->code_freevars, "co_freevars", &free_, e) < 0)
			return code ? -1 : hw_err_set(e, HW_ECORRUPT, 0, "frame without code");
		if ((cell && hw_tuple_items(s, f, cell, &nc, &items, e) < 0) ||
		    (free_ && hw_tuple_items(s, f, free_, &nf, &items, e) < 0))
			return -1;
		if (nlocals < 0 || stack < 0)
			return hw_err_set(e, HW_ECORRUPT, 0, "code 0x%llx", (unsigned long long)code);
		*n = (uint64_t)f->frame_size +
		     ((uint64_t)nlocals + (uint64_t)stack + nc + nf - 1) * 8;
		return 0;
	}
	/* 3.11+: up to the interpreter frame's locals, then one word per
	 * local and stack slot */
	if (NO(f->frame_data) || NO(f->iframe_localsplus) || NO(f->iframe_code) ||
	    NO(f->code_nlocalsplus))
		return hw_err_set(e, HW_ELAYOUT, 0, "layout lacks frame fields");
	if (hw_py_read_u64(s, obj + (uint64_t)f->frame_frame, &fr, e) < 0)
		return -1;
	if (!hw_py_plausible(fr))
		return hw_err_set(e, HW_ECORRUPT, 0, "frame 0x%llx: f_frame 0x%llx",
				  (unsigned long long)obj, (unsigned long long)fr);
	if (hw_py_read_u64(s, fr + (uint64_t)f->iframe_code, &code, e) < 0 ||
	    code_slots(o, s, untag(o, code), &nslots, e) < 0)
		return -1;
	*n = (uint64_t)f->frame_data + (uint64_t)f->iframe_localsplus + nslots * 8;
	return 0;
}

/* gen_sizeof: default up to 3.10; 3.11 the embedded frame's slots;
 * 3.12+ co_framesize words (specials included) */
static int sz_gen(struct hw_objects *o, struct hw_snap *s, uint64_t obj,
		  const struct hw_typeinfo *ti, uint64_t *n, struct hw_err *e)
{
	const struct hw_offsets *f = o->o;
	uint64_t code, nslots;

	if (NO(f->gen_iframe)) {
		*n = (uint64_t)ti->basicsize;
		return 0;
	}
	if (!NO(f->gen_code)) {
		if (hw_py_read_u64(s, obj + (uint64_t)f->gen_code, &code, e) < 0)
			return -1;
	} else if (hw_py_read_u64(s, obj + (uint64_t)f->gen_iframe + (uint64_t)f->iframe_code,
				  &code, e) < 0) {
		return -1;
	}
	code = untag(o, code);
	if (!NO(f->code_framesize)) {
		int64_t fs;

		if (!hw_py_plausible(code) || rd_i32(s, code + (uint64_t)f->code_framesize, &fs, e) < 0)
			return hw_py_plausible(code) ? -1 :
				hw_err_set(e, HW_ECORRUPT, 0, "generator 0x%llx: code 0x%llx",
					   (unsigned long long)obj, (unsigned long long)code);
		if (fs < 0 || fs > (1 << 24))
			return hw_err_set(e, HW_ECORRUPT, 0, "code 0x%llx: framesize %lld",
					  (unsigned long long)code, (long long)fs);
		*n = (uint64_t)f->gen_iframe + (uint64_t)fs * 8;
		return 0;
	}
	if (code_slots(o, s, code, &nslots, e) < 0)
		return -1;
	*n = (uint64_t)f->gen_iframe + (uint64_t)f->iframe_localsplus + nslots * 8;
	return 0;
}

/* object.__sizeof__ */
static int sz_default(struct hw_objects *o, struct hw_snap *s, uint64_t obj,
		      const struct hw_typeinfo *ti, uint64_t *n, struct hw_err *e)
{
	int64_t size;

	*n = (uint64_t)ti->basicsize;
	if (ti->itemsize > 0) {
		if (hw_py_read_i64(s, obj + (uint64_t)o->o->ob_size, &size, e) < 0)
			return -1;
		if (size < -HW_PY_MAX_ITEMS || size > HW_PY_MAX_ITEMS)
			return hw_err_set(e, HW_ECORRUPT, 0, "object 0x%llx: size %lld",
					  (unsigned long long)obj, (long long)size);
		*n += (uint64_t)(size * ti->itemsize);
	}
	return 0;
}

static int is_type_object(const struct hw_objects *o, const struct hw_typeinfo *ti)
{
	return (ti->flags & o->c->tpf_type_subclass) != 0;
}

int hw_obj_size(struct hw_objects *o, struct hw_snap *s, uint64_t obj_addr,
		uint64_t type_addr, uint64_t *bytes, int *approx,
		struct hw_err *e)
{
	const struct hw_offsets *f = o->o;
	const struct hw_pyconst *k = o->c;
	const struct hw_typeinfo *ti;
	uint64_t n = 0, pre = 0, objflags = 0;
	int64_t v;
	int rc = 0;

	*bytes = 0;
	*approx = 0;
	if (!hw_py_plausible(obj_addr))
		return hw_err_set(e, HW_ECORRUPT, 0, "object pointer 0x%llx",
				  (unsigned long long)obj_addr);
	ti = hw_objects_type(o, s, type_addr, e);
	if (!ti)
		return hw_err_prefix(e, "object 0x%llx", (unsigned long long)obj_addr);
	if (is_type_object(o, ti) &&
	    hw_py_read_u64(s, obj_addr + (uint64_t)f->tp_flags, &objflags, e) < 0)
		return -1;
	switch (ti->sizerule) {
	case HW_SZ_LIST:
		rc = hw_py_read_i64(s, obj_addr + (uint64_t)f->list_allocated, &v, e);
		if (rc == 0 && (v < 0 || v > HW_PY_MAX_ITEMS))
			rc = hw_err_set(e, HW_ECORRUPT, 0, "list 0x%llx: allocated %lld",
					(unsigned long long)obj_addr, (long long)v);
		n = (uint64_t)ti->basicsize + (uint64_t)v * 8;
		break;
	case HW_SZ_DICT:
		rc = sz_dict(o, s, obj_addr, ti, &n, e);
		break;
	case HW_SZ_SET: {
		uint64_t table = 0;

		rc = hw_py_read_i64(s, obj_addr + (uint64_t)f->set_mask, &v, e);
		if (rc == 0)
			rc = hw_py_read_u64(s, obj_addr + (uint64_t)f->set_table, &table, e);
		if (rc == 0 && (v < 0 || v >= HW_PY_MAX_ITEMS))
			rc = hw_err_set(e, HW_ECORRUPT, 0, "set 0x%llx: mask %lld",
					(unsigned long long)obj_addr, (long long)v);
		n = (uint64_t)ti->basicsize;
		if (rc == 0 && table != obj_addr + (uint64_t)f->set_smalltable)
			n += ((uint64_t)v + 1) * (uint64_t)f->setentry_size;
		break;
	}
	case HW_SZ_TYPE:
		if (!(objflags & k->tpf_heaptype)) {
			n = (uint64_t)f->type_size;
			break;
		}
		n = (uint64_t)f->ht_size;
		if (!NO(f->ht_cached_keys)) {
			uint64_t keys;
			struct hw_dict_info di;

			rc = hw_py_read_u64(s, obj_addr + (uint64_t)f->ht_cached_keys, &keys, e);
			if (rc == 0 && keys) {
				rc = hw_keys_info(s, f, keys, &di, e);
				n += keys_size(f, &di);
			}
		}
		break;
	case HW_SZ_LONG:
		rc = sz_long(o, s, obj_addr, &n, e);
		break;
	case HW_SZ_STR:
		if (NO(f->str_state)) {
			/* 2.7 unicode: not a PEP 393 str; not modelled */
			*approx = 1;
			rc = sz_default(o, s, obj_addr, ti, &n, e);
			break;
		}
		rc = sz_str(o, s, obj_addr, &n, e);
		break;
	case HW_SZ_BYTEARRAY:
		if (NO(f->bytearray_alloc))
			return hw_err_set(e, HW_ELAYOUT, 0, "no ob_alloc");
		rc = hw_py_read_i64(s, obj_addr + (uint64_t)f->bytearray_alloc, &v, e);
		n = (uint64_t)ti->basicsize + (uint64_t)(v < 0 ? 0 : v);
		break;
	case HW_SZ_FRAME:
		rc = sz_frame(o, s, obj_addr, &n, e);
		break;
	case HW_SZ_GEN:
		rc = sz_gen(o, s, obj_addr, ti, &n, e);
		break;
	case HW_SZ_DEFAULT:
	case HW_SZ_MODULE:
		rc = sz_default(o, s, obj_addr, ti, &n, e);
		break;
	case HW_SZ_CODE:
	case HW_SZ_UNKNOWN:
		*approx = 1;
		rc = sz_default(o, s, obj_addr, ti, &n, e);
		break;
	}
	if (rc < 0)
		return hw_err_prefix(e, "sizing object 0x%llx", (unsigned long long)obj_addr);
	/* the GC part */
	if (k->sizeof_preheader_rule == 0) {
		if ((ti->flags & k->tpf_have_gc) &&
		    (!is_type_object(o, ti) || (objflags & k->tpf_heaptype)))
			pre = (uint64_t)f->gchead_size;
	} else if (!(!k->sizeof_static_type_preheader && type_addr == o->sym[HW_OBJSYM_type_type] &&
		     !(objflags & k->tpf_heaptype))) {
		if (ti->flags & k->tpf_have_gc)
			pre += (uint64_t)f->gchead_size;
		if (ti->flags & k->preheader_flags)
			pre += (uint64_t)k->preheader_size;
	}
	*bytes = n + pre;
	return 0;
}

int hw_obj_values_size(struct hw_objects *o, struct hw_snap *s,
		       uint64_t obj_addr, uint64_t type_addr, uint64_t *bytes,
		       struct hw_err *e)
{
	const struct hw_offsets *f = o->o;
	const struct hw_pyconst *k = o->c;
	const struct hw_typeinfo *ti;
	uint64_t word, values = 0, nvals = 0;

	*bytes = 0;
	ti = hw_objects_type(o, s, type_addr, e);
	if (!ti)
		return -1;
	if (!k->tpf_managed_dict || !(ti->flags & k->tpf_managed_dict) ||
	    !k->dict_values_prefix_rule)
		return 0;
	if (hw_py_read_u64(s, obj_addr + (uint64_t)k->managed_dict_at, &word, e) < 0)
		return -1;
	if (k->tpf_inline_values && (ti->flags & k->tpf_inline_values)) {
		uint8_t cap;

		if (word)
			return 0;   /* a dict exists and counts the values */
		if (NO(f->dv_capacity) ||
		    hw_snap_read(s, obj_addr + (uint64_t)ti->basicsize + (uint64_t)f->dv_capacity,
				 &cap, 1, e) < 0)
			return NO(f->dv_capacity) ? 0 : -1;
		/* _PyInlineValuesSize: prefix, then capacity + 1 words */
		*bytes = ROUND8((uint64_t)cap) + ((uint64_t)cap + 1) * 8;
		return 0;
	}
	if (k->managed_tagged) {
		if (!(word & 1))
			return 0;
		values = word + 1;
	} else if (k->managed_values_at != HW_NOCONST) {
		if (word)
			return 0;
		if (hw_py_read_u64(s, obj_addr + (uint64_t)k->managed_values_at, &values, e) < 0)
			return -1;
	}
	if (!values)
		return 0;
	if (ti->cached_keys) {
		struct hw_dict_info ki;

		if (hw_keys_info(s, f, ti->cached_keys, &ki, e) < 0)
			return -1;
		nvals = ki.dk_nentries + ki.dk_usable;
	}
	/* new_values(): an order prefix of round_up_8(n + 2) bytes */
	*bytes = ROUND8(nvals + 2) + nvals * 8;
	return 0;
}
