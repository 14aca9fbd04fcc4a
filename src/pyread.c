/* pyread.c - checked reads of CPython values and containers; see
 * include/heapwatch/pyread.h.
 *
 * Dict formats are chosen from the layout fields present:
 * dk_log2_size (3.11+: indices of 1 << dk_log2_index_bytes bytes, then
 * general or unicode entries by dk_kind) or dk_size (3.6-3.10: indices
 * of 1, 2, 4 or 8 bytes per slot, DK_IXSIZE in dictobject.c); split
 * values are a bare array (3.6-3.12, dv_values 0) or follow a small
 * header (3.13+, dv_values 8, with `embedded`); dict_mask (2.7: the
 * dict's own table of PyDictEntry, no keys object).
 */
#include "heapwatch/pyread.h"

#include <string.h>

#include "heapwatch/typename.h"

#define NO(x) ((x) < 0)
#define CHUNK 256   /* pointers read per snap call */

int hw_py_read_u64(struct hw_snap *s, uint64_t addr, uint64_t *v, struct hw_err *e)
{
	return hw_snap_read_u64(s, addr, v, e);
}

int hw_py_read_i64(struct hw_snap *s, uint64_t addr, int64_t *v, struct hw_err *e)
{
	return hw_snap_read(s, addr, v, 8, e);
}

int hw_py_read_obj(struct hw_snap *s, uint64_t obj, int64_t off,
		   const char *what, uint64_t *v, struct hw_err *e)
{
	*v = 0;
	if (NO(off))
		return 0;
	if (hw_snap_read_u64(s, obj + (uint64_t)off, v, e) < 0)
		return -1;
	if (*v && !hw_py_plausible(*v))
		return hw_err_set(e, HW_ECORRUPT, 0,
				  "object 0x%llx: %s holds 0x%llx, not an object",
				  (unsigned long long)obj, what,
				  (unsigned long long)*v);
	return 0;
}

int hw_py_read_ptrs(struct hw_snap *s, uint64_t addr, uint64_t n,
		    uint64_t *out, struct hw_err *e)
{
	if (n && hw_snap_read(s, addr, out, (size_t)n * 8, e) < 0)
		return -1;
	for (uint64_t i = 0; i < n; i++)
		if (out[i] && !hw_py_plausible(out[i]))
			return hw_err_set(e, HW_ECORRUPT, 0,
					  "item %llu at 0x%llx holds 0x%llx, not an object",
					  (unsigned long long)i,
					  (unsigned long long)(addr + i * 8),
					  (unsigned long long)out[i]);
	return 0;
}

/* ------------------------------------------------------------------ */
/* dicts */

int hw_keys_info(struct hw_snap *s, const struct hw_offsets *o, uint64_t keys,
		 struct hw_dict_info *di, struct hw_err *e)
{
	int64_t refcnt = 0, usable = 0, nent = 0;

	memset(di, 0, sizeof *di);
	di->kind = -1;
	if (!hw_py_plausible(keys))
		return hw_err_set(e, HW_ECORRUPT, 0, "dict keys pointer 0x%llx",
				  (unsigned long long)keys);
	if (NO(o->dk_nentries) || NO(o->dk_indices) || NO(o->dk_entry_size))
		return hw_err_set(e, HW_ELAYOUT, 0, "layout lacks dict keys fields");
	di->keys = keys;
	if (hw_py_read_i64(s, keys + (uint64_t)o->dk_nentries, &nent, e) < 0 ||
	    (!NO(o->dk_usable) &&
	     hw_py_read_i64(s, keys + (uint64_t)o->dk_usable, &usable, e) < 0) ||
	    (!NO(o->dk_refcnt) &&
	     hw_py_read_i64(s, keys + (uint64_t)o->dk_refcnt, &refcnt, e) < 0))
		return hw_err_prefix(e, "reading dict keys 0x%llx", (unsigned long long)keys);
	if (!NO(o->dk_log2_size)) {
		uint8_t log2, log2ix, kind;

		if (hw_snap_read(s, keys + (uint64_t)o->dk_log2_size, &log2, 1, e) < 0 ||
		    hw_snap_read(s, keys + (uint64_t)o->dk_log2_index_bytes, &log2ix, 1, e) < 0 ||
		    (!NO(o->dk_kind) &&
		     hw_snap_read(s, keys + (uint64_t)o->dk_kind, &kind, 1, e) < 0))
			return hw_err_prefix(e, "reading dict keys 0x%llx",
					     (unsigned long long)keys);
		if (NO(o->dk_kind))
			kind = 0;
		if (log2 > 40 || log2ix > 43 || log2ix < log2 || kind > 2)
			return hw_err_set(e, HW_ECORRUPT, 0,
					  "dict keys 0x%llx: 2^%u slots, 2^%u index bytes, kind %u",
					  (unsigned long long)keys, log2, log2ix, kind);
		di->dk_size = 1ull << log2;
		di->index_bytes = 1ull << log2ix;
		di->kind = kind;
		di->entry_size = (uint64_t)(kind == 0 ? o->dk_entry_size : o->dk_uentry_size);
	} else if (!NO(o->dk_size)) {
		int64_t size;

		if (hw_py_read_i64(s, keys + (uint64_t)o->dk_size, &size, e) < 0)
			return hw_err_prefix(e, "reading dict keys 0x%llx",
					     (unsigned long long)keys);
		if (size <= 0 || size > HW_PY_MAX_ITEMS * 2 || (size & (size - 1)))
			return hw_err_set(e, HW_ECORRUPT, 0, "dict keys 0x%llx: size %lld",
					  (unsigned long long)keys, (long long)size);
		di->dk_size = (uint64_t)size;
		/* DK_IXSIZE: the narrowest int that holds a slot index */
		di->index_bytes = (uint64_t)size *
			(size <= 0xff ? 1 : size <= 0xffff ? 2 : size <= 0xffffffffll ? 4 : 8);
		di->entry_size = (uint64_t)o->dk_entry_size;
	} else {
		return hw_err_set(e, HW_ELAYOUT, 0, "layout has no 3.x dict keys format");
	}
	if (di->entry_size < 16 || di->entry_size > 64)
		return hw_err_set(e, HW_ELAYOUT, 0, "dict entry size %llu",
				  (unsigned long long)di->entry_size);
	if (nent < 0 || (uint64_t)nent > di->dk_size || usable < 0 ||
	    (uint64_t)usable > di->dk_size)
		return hw_err_set(e, HW_ECORRUPT, 0,
				  "dict keys 0x%llx: %lld entries, %lld usable, %llu slots",
				  (unsigned long long)keys, (long long)nent,
				  (long long)usable, (unsigned long long)di->dk_size);
	di->dk_refcnt = refcnt;
	di->dk_usable = (uint64_t)usable;
	di->dk_nentries = (uint64_t)nent;
	di->entries = keys + (uint64_t)o->dk_indices + di->index_bytes;
	return 0;
}

/* 3.6-3.10 without the address of lookdict: a table is general when
 * one of its keys is not an exact str (the unicode lookups refuse
 * those); a general table that only ever held str keys would pass for
 * a unicode one (documented in objects.h). */
static int any_nonstr_key(struct hw_snap *s, const struct hw_offsets *o,
			  const struct hw_dict_info *di, uint64_t str_type,
			  int *out, struct hw_err *e)
{
	*out = 0;
	for (uint64_t i = 0; i < di->dk_nentries; i++) {
		uint64_t key, t;

		if (hw_keys_entry_key(s, o, di, i, &key, e) < 0)
			return -1;
		if (!key)
			continue;
		if (hw_py_read_u64(s, key + (uint64_t)o->ob_type, &t, e) < 0)
			return -1;
		if (t != str_type) {
			*out = 1;
			return 0;
		}
	}
	return 0;
}

/* 2.7: the dict is its own table, ma_mask + 1 PyDictEntry at ma_table
 * (ma_smalltable inside the object, or a block of its own); every slot
 * is an "entry" (key NULL: never used; value NULL: a deleted slot whose
 * key is the dummy).  dict_traverse visits the key and the value of
 * every slot with a value. */
static int dict_info_27(struct hw_snap *s, const struct hw_offsets *o, uint64_t dict,
			struct hw_dict_info *di, struct hw_err *e)
{
	int64_t mask;
	uint64_t table;

	memset(di, 0, sizeof *di);
	di->kind = -1;
	if (NO(o->dict_keys) || NO(o->dk_entry_size) || NO(o->dk_entry_key) ||
	    NO(o->dk_entry_value))
		return hw_err_set(e, HW_ELAYOUT, 0, "layout lacks 2.7 dict fields");
	if (hw_py_read_i64(s, dict + (uint64_t)o->dict_mask, &mask, e) < 0 ||
	    hw_py_read_u64(s, dict + (uint64_t)o->dict_keys, &table, e) < 0)
		return hw_err_prefix(e, "reading dict 0x%llx", (unsigned long long)dict);
	if (mask < 0 || mask >= HW_PY_MAX_ITEMS * 2 || ((mask + 1) & mask) ||
	    !hw_py_plausible(table) || (table & 7))
		return hw_err_set(e, HW_ECORRUPT, 0, "dict 0x%llx: mask %lld, table 0x%llx",
				  (unsigned long long)dict, (long long)mask,
				  (unsigned long long)table);
	di->keys = table;
	di->entries = table;
	di->dk_size = (uint64_t)mask + 1;
	di->dk_nentries = (uint64_t)mask + 1;
	di->dk_refcnt = 1;
	di->entry_size = (uint64_t)o->dk_entry_size;
	di->general = 1;
	if (di->entry_size < 16 || di->entry_size > 24)
		return hw_err_set(e, HW_ELAYOUT, 0, "dict entry size %llu",
				  (unsigned long long)di->entry_size);
	return 0;
}

int hw_dict_info(struct hw_snap *s, const struct hw_offsets *o, uint64_t dict,
		 uint64_t lookdict_addr, uint64_t str_type,
		 struct hw_dict_info *di, struct hw_err *e)
{
	uint64_t keys, values;

	if (!NO(o->dict_mask))
		return dict_info_27(s, o, dict, di, e);
	if (NO(o->dict_keys) || NO(o->dict_values))
		return hw_err_set(e, HW_ELAYOUT, 0, "layout lacks dict fields");
	if (hw_py_read_u64(s, dict + (uint64_t)o->dict_keys, &keys, e) < 0 ||
	    hw_py_read_u64(s, dict + (uint64_t)o->dict_values, &values, e) < 0)
		return hw_err_prefix(e, "reading dict 0x%llx", (unsigned long long)dict);
	if (hw_keys_info(s, o, keys, di, e) < 0)
		return hw_err_prefix(e, "dict 0x%llx", (unsigned long long)dict);
	if (values && (values & 7))
		return hw_err_set(e, HW_ECORRUPT, 0, "dict 0x%llx: values pointer 0x%llx",
				  (unsigned long long)dict, (unsigned long long)values);
	di->values = values;
	di->split = values != 0;
	di->values_array = values + (uint64_t)(NO(o->dv_values) ? 0 : o->dv_values);
	if (values && !NO(o->dv_embedded)) {
		uint8_t emb;

		if (hw_snap_read(s, values + (uint64_t)o->dv_embedded, &emb, 1, e) < 0)
			return hw_err_prefix(e, "reading dict 0x%llx values",
					     (unsigned long long)dict);
		di->embedded = emb != 0;
	}
	if (di->kind >= 0) {
		di->general = di->kind == 0;
	} else if (!NO(o->dk_lookup) && lookdict_addr) {
		uint64_t lk;

		if (hw_py_read_u64(s, keys + (uint64_t)o->dk_lookup, &lk, e) < 0)
			return -1;
		di->general = lk == lookdict_addr;
	} else if (!di->split) {
		if (any_nonstr_key(s, o, di, str_type, &di->general, e) < 0)
			return -1;
	}
	return 0;
}

int hw_keys_entry_key(struct hw_snap *s, const struct hw_offsets *o,
		      const struct hw_dict_info *di, uint64_t i, uint64_t *key,
		      struct hw_err *e)
{
	int64_t koff = di->kind > 0 ? o->dk_uentry_key : o->dk_entry_key;

	if (NO(koff))
		return hw_err_set(e, HW_ELAYOUT, 0, "layout lacks dict entry fields");
	return hw_py_read_obj(s, di->entries + i * di->entry_size, koff,
			      "dict entry key", key, e);
}

int hw_dict_entries(struct hw_snap *s, const struct hw_offsets *o,
		    const struct hw_dict_info *di, hw_dict_entry_fn fn,
		    void *arg, struct hw_err *e)
{
	int64_t koff = di->kind > 0 ? o->dk_uentry_key : o->dk_entry_key;
	int64_t voff = di->kind > 0 ? o->dk_uentry_value : o->dk_entry_value;
	unsigned char buf[CHUNK * 24];
	uint64_t vals[CHUNK];

	if (NO(koff) || NO(voff) || (uint64_t)koff + 8 > di->entry_size ||
	    (uint64_t)voff + 8 > di->entry_size || di->entry_size > 24)
		return hw_err_set(e, HW_ELAYOUT, 0, "layout lacks dict entry fields");
	for (uint64_t i = 0; i < di->dk_nentries; i += CHUNK) {
		uint64_t n = di->dk_nentries - i < CHUNK ? di->dk_nentries - i : CHUNK;

		if (hw_snap_read(s, di->entries + i * di->entry_size, buf,
				 (size_t)(n * di->entry_size), e) < 0)
			return hw_err_prefix(e, "reading the entries of dict keys 0x%llx",
					     (unsigned long long)di->keys);
		if (di->split && hw_py_read_ptrs(s, di->values_array + i * 8, n, vals, e) < 0)
			return hw_err_prefix(e, "reading split values 0x%llx",
					     (unsigned long long)di->values);
		for (uint64_t k = 0; k < n; k++) {
			struct hw_dict_entry en;

			memcpy(&en.key, buf + k * di->entry_size + koff, 8);
			if (di->split)
				en.value = vals[k];
			else
				memcpy(&en.value, buf + k * di->entry_size + voff, 8);
			en.index = i + k;
			if ((en.key && !hw_py_plausible(en.key)) ||
			    (en.value && !hw_py_plausible(en.value)))
				return hw_err_set(e, HW_ECORRUPT, 0,
						  "dict keys 0x%llx entry %llu: key 0x%llx value 0x%llx",
						  (unsigned long long)di->keys,
						  (unsigned long long)en.index,
						  (unsigned long long)en.key,
						  (unsigned long long)en.value);
			if (fn(arg, &en, e) < 0)
				return -1;
		}
	}
	return 0;
}

struct get_str {
	struct hw_snap *s;
	const struct hw_offsets *o;
	const char *want;
	uint64_t value;
	int found;
};

static int get_str_fn(void *arg, const struct hw_dict_entry *en, struct hw_err *e)
{
	struct get_str *g = arg;
	int r;

	if (g->found || !en->key || !en->value)
		return 0;
	r = hw_str_equals(g->s, g->o, en->key, g->want, e);
	if (r < 0)
		return -1;
	if (r) {
		g->value = en->value;
		g->found = 1;
	}
	return 0;
}

int hw_dict_get_str(struct hw_snap *s, const struct hw_offsets *o,
		    uint64_t dict, const char *want, uint64_t *value,
		    struct hw_err *e)
{
	struct hw_dict_info di;
	struct get_str g = { s, o, want, 0, 0 };

	*value = 0;
	if (hw_dict_info(s, o, dict, 0, 0, &di, e) < 0)
		return -1;
	di.general = 0;
	if (hw_dict_entries(s, o, &di, get_str_fn, &g, e) < 0)
		return -1;
	*value = g.value;
	return 0;
}

/* ------------------------------------------------------------------ */
/* str, int, tuple */

int hw_str_equals(struct hw_snap *s, const struct hw_offsets *o, uint64_t obj,
		  const char *want, struct hw_err *e)
{
	char buf[256];
	int64_t len;
	int64_t lenoff = NO(o->str_state) ? o->bytes_size : o->str_length;
	struct hw_err tmp;

	if (!hw_py_plausible(obj) || NO(lenoff))
		return 0;
	if (hw_py_read_i64(s, obj + (uint64_t)lenoff, &len, e) < 0)
		return -1;
	if (len != (int64_t)strlen(want) || len >= (int64_t)sizeof buf)
		return 0;
	hw_err_clear(&tmp);
	if (hw_read_str(s, o, obj, buf, sizeof buf, &tmp) < 0) {
		if (tmp.code == HW_ECORRUPT)
			return 0;   /* not a str */
		hw_err_copy(e, &tmp);
		return -1;
	}
	return strcmp(buf, want) == 0;
}

int hw_read_small_int(struct hw_snap *s, const struct hw_offsets *o,
		      int long_rule, uint64_t obj, int64_t *v, struct hw_err *e)
{
	uint64_t ndig, tag;
	int64_t size;
	int neg;
	uint32_t d[3] = { 0, 0, 0 };
	unsigned __int128 acc = 0;

	if (NO(o->long_digits))
		return 0;
	if (long_rule == 2) {
		if (NO(o->long_tag) ||
		    hw_py_read_u64(s, obj + (uint64_t)o->long_tag, &tag, e) < 0)
			return NO(o->long_tag) ? 0 : -1;
		/* lv_tag: digit count << 3 | sign (0 positive, 1 zero,
		 * 2 negative): longintrepr.h of 3.12+ */
		ndig = tag >> 3;
		neg = (tag & 3) == 2;
		if ((tag & 3) == 1) {
			*v = 0;
			return 1;
		}
	} else {
		if (NO(o->ob_size) ||
		    hw_py_read_i64(s, obj + (uint64_t)o->ob_size, &size, e) < 0)
			return NO(o->ob_size) ? 0 : -1;
		neg = size < 0;
		ndig = (uint64_t)(size < 0 ? -size : size);
	}
	if (ndig > 3)
		return 0;
	if (ndig && hw_snap_read(s, obj + (uint64_t)o->long_digits, d, (size_t)ndig * 4, e) < 0)
		return -1;
	for (uint64_t i = ndig; i-- > 0;)
		acc = (acc << 30) | (d[i] & 0x3fffffffu);
	if (acc > (unsigned __int128)INT64_MAX)
		return 0;
	*v = neg ? -(int64_t)acc : (int64_t)acc;
	return 1;
}

int hw_tuple_items(struct hw_snap *s, const struct hw_offsets *o, uint64_t tuple,
		   uint64_t *n, uint64_t *items, struct hw_err *e)
{
	int64_t size;

	if (NO(o->ob_size) || NO(o->tuple_items))
		return hw_err_set(e, HW_ELAYOUT, 0, "layout lacks tuple fields");
	if (hw_py_read_i64(s, tuple + (uint64_t)o->ob_size, &size, e) < 0)
		return -1;
	if (size < 0 || size > HW_PY_MAX_ITEMS)
		return hw_err_set(e, HW_ECORRUPT, 0, "tuple 0x%llx has size %lld",
				  (unsigned long long)tuple, (long long)size);
	*n = (uint64_t)size;
	*items = tuple + (uint64_t)o->tuple_items;
	return 0;
}
