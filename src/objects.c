/* objects.c - the object model's kinds, dispatch and per-type cache; see
 * include/heapwatch/objects.h and objmodel.h.
 *
 * CPython dispatches gc.get_referents() on tp_traverse, and so do we:
 * the builtin traverse functions are read from the exported static type
 * objects of the target (shared functions give one kind: set and
 * frozenset share set_traverse, generators and coroutines gen_traverse,
 * every descriptor type descr_traverse).  subtype_traverse, a static
 * function, comes from the symbol table (the binary's, or its debug
 * file's); without one, instances of Python classes are opaque and
 * hw_objects_how() says so.
 */
#include "heapwatch/objmodel.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NO(x) ((x) < 0)

/* Which exported type gives which kind's traverse function. */
static const struct {
	enum hw_objsym sym;
	enum hw_kind kind;
	int second;          /* fills traverse2 (a second function) */
} kind_types[] = {
	{ HW_OBJSYM_list_type, HW_K_LIST, 0 },
	{ HW_OBJSYM_tuple_type, HW_K_TUPLE, 0 },
	{ HW_OBJSYM_dict_type, HW_K_DICT, 0 },
	{ HW_OBJSYM_set_type, HW_K_SET, 0 },
	{ HW_OBJSYM_frozenset_type, HW_K_SET, 1 },
	{ HW_OBJSYM_cell_type, HW_K_CELL, 0 },
	{ HW_OBJSYM_function_type, HW_K_FUNCTION, 0 },
	{ HW_OBJSYM_method_type, HW_K_METHOD, 0 },
	{ HW_OBJSYM_module_type, HW_K_MODULE, 0 },
	{ HW_OBJSYM_type_type, HW_K_TYPE, 0 },
	{ HW_OBJSYM_frame_type, HW_K_FRAME, 0 },
	{ HW_OBJSYM_gen_type, HW_K_GEN, 0 },
	{ HW_OBJSYM_coro_type, HW_K_GEN, 1 },
	{ HW_OBJSYM_asyncgen_type, HW_K_ASYNCGEN, 0 },
	{ HW_OBJSYM_weakref_type, HW_K_WEAKREF, 0 },
	{ HW_OBJSYM_classmethod_type, HW_K_CLASSMETHOD, 0 },
	{ HW_OBJSYM_staticmethod_type, HW_K_STATICMETHOD, 0 },
	{ HW_OBJSYM_property_type, HW_K_PROPERTY, 0 },
	{ HW_OBJSYM_cfunction_type, HW_K_CFUNCTION, 0 },
	{ HW_OBJSYM_cmethod_type, HW_K_CFUNCTION, 1 },
	{ HW_OBJSYM_memberdescr_type, HW_K_DESCR, 0 },
	{ HW_OBJSYM_methodwrapper_type, HW_K_METHODWRAPPER, 0 },
	{ HW_OBJSYM_dictproxy_type, HW_K_MAPPINGPROXY, 0 },
	{ HW_OBJSYM_traceback_type, HW_K_TRACEBACK, 0 },
	{ HW_OBJSYM_base_exception, HW_K_EXCEPTION, 0 },
	{ HW_OBJSYM_slice_type, HW_K_SLICE, 0 },
	{ HW_OBJSYM_namespace_type, HW_K_NAMESPACE, 0 },
	{ HW_OBJSYM_odict_type, HW_K_ODICT, 0 },
	{ HW_OBJSYM_class_type, HW_K_CLASS, 0 },
	{ HW_OBJSYM_instance_type, HW_K_INSTANCE, 0 },
};

/* Kinds whose traverse is a static function: its symbol when the build
 * has a symbol table, else the tp_traverse of a class reached through
 * sys.modules (module, attribute; checked by the last part of its
 * tp_name).  Every CPython 3 process has _frozen_importlib; the others
 * are found when imported, which is when instances can exist. */
static const struct {
	enum hw_kind kind;
	int sym;                 /* enum hw_objsym of the function, or -1 */
	const char *module, *attr;
} static_kinds[] = {
	{ HW_K_SUBTYPE, HW_OBJSYM_subtype_traverse, "_frozen_importlib", "ModuleSpec" },
	{ HW_K_DEQUE, HW_OBJSYM_deque_traverse, "_collections", "deque" },
	{ HW_K_DEFDICT, HW_OBJSYM_defdict_traverse, "_collections", "defaultdict" },
	{ HW_K_PARTIAL, HW_OBJSYM_partial_traverse, "_functools", "partial" },
	/* _PyNamespace_Type is not exported by every build (sid's 3.13+) */
	{ HW_K_NAMESPACE, -1, "types", "SimpleNamespace" },
};

/* Static types whose __sizeof__ the model reproduces. */
static const struct {
	enum hw_objsym sym;
	enum hw_sizerule rule;
} size_types[] = {
	{ HW_OBJSYM_object_type, HW_SZ_DEFAULT },
	{ HW_OBJSYM_list_type, HW_SZ_LIST },
	{ HW_OBJSYM_dict_type, HW_SZ_DICT },
	{ HW_OBJSYM_set_type, HW_SZ_SET },
	{ HW_OBJSYM_frozenset_type, HW_SZ_SET },
	{ HW_OBJSYM_type_type, HW_SZ_TYPE },
	{ HW_OBJSYM_long_type, HW_SZ_LONG },
	{ HW_OBJSYM_unicode_type, HW_SZ_STR },
	{ HW_OBJSYM_bytes_type, HW_SZ_DEFAULT },
	{ HW_OBJSYM_tuple_type, HW_SZ_DEFAULT },
	{ HW_OBJSYM_float_type, HW_SZ_DEFAULT },
	{ HW_OBJSYM_bytearray_type, HW_SZ_BYTEARRAY },
	{ HW_OBJSYM_frame_type, HW_SZ_FRAME },
	{ HW_OBJSYM_gen_type, HW_SZ_GEN },
	{ HW_OBJSYM_coro_type, HW_SZ_GEN },
	{ HW_OBJSYM_asyncgen_type, HW_SZ_GEN },
	{ HW_OBJSYM_code_type, HW_SZ_CODE },
	{ HW_OBJSYM_module_type, HW_SZ_MODULE },
	{ HW_OBJSYM_string_type, HW_SZ_DEFAULT },  /* 2.7 string_sizeof */
};

/* What every rule needs from the layout. */
static const char *missing_field(const struct hw_offsets *f)
{
#define NEED(x) if (NO(f->x)) return #x
	NEED(ob_type); NEED(ob_size); NEED(tp_flags); NEED(tp_basicsize);
	NEED(tp_itemsize); NEED(tp_traverse); NEED(tp_dictoffset); NEED(tp_base);
	NEED(tp_mro); NEED(tp_dict); NEED(tp_methods); NEED(gchead_size);
	NEED(list_items); NEED(list_allocated); NEED(tuple_items);
	NEED(dict_keys);
	if (NO(f->dict_mask)) {
		NEED(dict_values); NEED(dk_nentries); NEED(dk_indices);
	} else {
		NEED(dict_smalltable);   /* 2.7: the dict's own table */
	}
	NEED(dk_entry_size); NEED(dk_entry_key); NEED(dk_entry_value);
	NEED(set_mask); NEED(set_table); NEED(set_smalltable); NEED(setentry_size);
	NEED(setentry_key); NEED(memberdef_size); NEED(memberdef_type);
	NEED(memberdef_offset); NEED(methoddef_name); NEED(methoddef_size);
#undef NEED
	return NULL;
}

enum hw_kind hw_objects_kind_of(const struct hw_objects *o, uint64_t traverse)
{
	if (!traverse)
		return HW_K_NONE;
	for (int k = HW_K_SUBTYPE; k < HW_K_COUNT; k++)
		if (o->traverse[k] == traverse || o->traverse2[k] == traverse)
			return (enum hw_kind)k;
	return HW_K_OPAQUE;
}

/* The main interpreter's sys.modules (the last interpreter of the
 * list), or an error saying why not. */
static int sys_modules(struct hw_objects *o, const struct hw_target *t,
		       struct hw_snap *s, uint64_t *modules, struct hw_err *e)
{
	const struct hw_offsets *f = o->o;
	uint64_t interp = 0, p;

	*modules = 0;
	if (NO(f->interp_next) || NO(f->interp_modules) || NO(f->mod_dict))
		return hw_err_set(e, HW_ELAYOUT, 0, "no way to sys.modules");
	if (t->runtime_addr && !NO(f->rt_interp_head)) {
		if (hw_py_read_u64(s, t->runtime_addr + (uint64_t)f->rt_interp_head, &p, e) < 0)
			return -1;
	} else if (t->interp_head_addr) {
		/* 2.7, 3.6: the static interp_head of pystate.c */
		if (hw_py_read_u64(s, t->interp_head_addr, &p, e) < 0)
			return -1;
	} else {
		return hw_err_set(e, HW_ELAYOUT, 0, "no way to sys.modules");
	}
	for (int i = 0; p && i < 256; i++) {
		if (!hw_py_plausible(p))
			return hw_err_set(e, HW_ECORRUPT, 0, "interpreter 0x%llx",
					  (unsigned long long)p);
		interp = p;
		if (hw_py_read_u64(s, p + (uint64_t)f->interp_next, &p, e) < 0)
			return -1;
	}
	if (!interp || p)
		return hw_err_set(e, HW_ECORRUPT, 0, "no main interpreter");
	if (hw_py_read_obj(s, interp, f->interp_modules, "sys.modules", modules, e) < 0)
		return -1;
	if (!*modules)
		return hw_err_set(e, HW_ELAYOUT, 0, "sys.modules not set");
	return 0;
}

/* The tp_traverse of sys.modules[module].attr, checked to be a type
 * whose tp_name ends in attr; 0 in *trav when the module or the
 * attribute is not there. */
static int class_traverse(struct hw_objects *o, struct hw_snap *s, uint64_t modules,
			  const char *module, const char *attr, uint64_t *trav,
			  struct hw_err *e)
{
	const struct hw_offsets *f = o->o;
	uint64_t mod, md, cls, meta, name;
	char buf[64];
	size_t n = strlen(attr), k;

	*trav = 0;
	if (hw_dict_get_str(s, f, modules, module, &mod, e) < 0)
		return -1;
	if (!mod)
		return 0;
	if (hw_py_read_obj(s, mod, f->mod_dict, "md_dict", &md, e) < 0 || !md ||
	    hw_dict_get_str(s, f, md, attr, &cls, e) < 0)
		return md ? -1 : 0;
	if (!cls)
		return 0;
	if (hw_py_read_obj(s, cls, f->ob_type, "ob_type", &meta, e) < 0 ||
	    hw_py_read_u64(s, cls + (uint64_t)f->tp_name, &name, e) < 0)
		return -1;
	if (meta != o->sym[HW_OBJSYM_type_type] || !name || n + 1 >= sizeof buf)
		return hw_err_set(e, HW_ECORRUPT, 0, "%s.%s 0x%llx is not a class",
				  module, attr, (unsigned long long)cls);
	for (k = 0; k < sizeof buf - 1; k++) {
		if (hw_snap_read(s, name + k, &buf[k], 1, e) < 0)
			return -1;
		if (!buf[k])
			break;
	}
	buf[k] = '\0';
	if (k < n || strcmp(buf + k - n, attr) != 0 || (k > n && buf[k - n - 1] != '.'))
		return hw_err_set(e, HW_ECORRUPT, 0, "%s.%s is named %s",
				  module, attr, buf);
	return hw_py_read_u64(s, cls + (uint64_t)f->tp_traverse, trav, e);
}

/* Traverse functions of the static_kinds[] without a symbol. */
static int discover_statics(struct hw_objects *o, const struct hw_target *t,
			    struct hw_snap *s, struct hw_err *e)
{
	uint64_t modules = 0, trav;
	int need = 0;

	for (size_t i = 0; i < sizeof static_kinds / sizeof static_kinds[0]; i++) {
		uint64_t v = static_kinds[i].sym >= 0 ? o->sym[static_kinds[i].sym] : 0;

		if (v)
			o->traverse[static_kinds[i].kind] = v;
		else if (!o->traverse[static_kinds[i].kind])
			need = 1;
	}
	if (o->traverse[HW_K_SUBTYPE])
		snprintf(o->how_subtype, sizeof o->how_subtype, "symbol table");
	if (!need)
		return 0;
	if (sys_modules(o, t, s, &modules, e) < 0)
		return -1;
	for (size_t i = 0; i < sizeof static_kinds / sizeof static_kinds[0]; i++) {
		if (o->traverse[static_kinds[i].kind])
			continue;
		if (class_traverse(o, s, modules, static_kinds[i].module,
				   static_kinds[i].attr, &trav, e) < 0)
			return -1;
		o->traverse[static_kinds[i].kind] = trav;
		if (static_kinds[i].kind == HW_K_SUBTYPE && trav)
			snprintf(o->how_subtype, sizeof o->how_subtype,
				 "_frozen_importlib.ModuleSpec");
	}
	return 0;
}

struct hw_objects *hw_objects_new(const struct hw_target *t,
				  const struct hw_layout *l, struct hw_snap *s,
				  struct hw_err *e)
{
	struct hw_objects *o;
	const char *miss;

	if (!hw_pyconst_for(t->version_hex)) {
		hw_err_set(e, HW_EVERSION, 0,
			   "referents and sizes need CPython 2.7 or 3.6 and later (this is %s)",
			   t->version[0] ? t->version : "an unknown version");
		return NULL;
	}
	miss = missing_field(&l->off);
	if (miss) {
		hw_err_set(e, HW_ELAYOUT, 0,
			   "the layout (%s) lacks %s, which referents and sizes need",
			   hw_layout_source_name(l->source), miss);
		return NULL;
	}
	o = calloc(1, sizeof *o);
	if (!o) {
		hw_err_set(e, HW_ENOMEM, ENOMEM, "allocating the object model");
		return NULL;
	}
	o->l = l;
	o->o = &l->off;
	o->c = hw_pyconst_for(t->version_hex);
	o->version_hex = t->version_hex;
	for (int k = 0; k < HW_OBJSYM_COUNT; k++)
		o->sym[k] = t->objsym[k];

	/* Statics the binary's own .symtab lacks: its debug file's. */
	{
		const char *names[HW_OBJSYM_COUNT];
		uint64_t addrs[HW_OBJSYM_COUNT];
		int idx[HW_OBJSYM_COUNT];
		size_t n = 0;

		for (int k = 0; k < HW_OBJSYM_COUNT; k++)
			if (hw_objsyms[k].how == HW_SYM_STATIC && !o->sym[k]) {
				idx[n] = k;
				names[n++] = hw_objsyms[k].name;
			}
		if (n && t->open_path[0] &&
		    hw_target_debug_symbols(t, names, addrs, n, NULL) > 0)
			for (size_t i = 0; i < n; i++)
				o->sym[idx[i]] = addrs[i];
	}
	for (int k = 0; k < HW_OBJSYM_COUNT; k++) {
		uint64_t v;

		if ((hw_objsyms[k].how != HW_SYM_PTR && hw_objsyms[k].how != HW_SYM_FILEPTR) ||
		    !o->sym[k])
			continue;
		if (hw_snap_read_u64(s, o->sym[k], &v, e) < 0) {
			hw_err_prefix(e, "reading %s", hw_objsyms[k].name);
			goto fail;
		}
		o->sym[k] = hw_py_plausible(v) ? v : 0;
	}
	for (size_t i = 0; i < sizeof kind_types / sizeof kind_types[0]; i++) {
		uint64_t type = o->sym[kind_types[i].sym], trav;

		if (!type)
			continue;
		if (hw_snap_read_u64(s, type + (uint64_t)o->o->tp_traverse, &trav, e) < 0) {
			hw_err_prefix(e, "reading the tp_traverse of %s",
				      hw_objsyms[kind_types[i].sym].name);
			goto fail;
		}
		if (kind_types[i].second)
			o->traverse2[kind_types[i].kind] = trav;
		else
			o->traverse[kind_types[i].kind] = trav;
	}
	o->lookdict = o->sym[HW_OBJSYM_lookdict];
	/* set_traverse skips the dummy of deleted slots: 3.x exports it,
	 * 2.7 keeps it in a static of setobject.c.  Unknown, a set's
	 * referents would include it: sets are then opaque. */
	if (!o->sym[HW_OBJSYM_set_dummy])
		o->sym[HW_OBJSYM_set_dummy] = o->sym[HW_OBJSYM_set_dummy27];
	if (!o->sym[HW_OBJSYM_set_dummy])
		o->traverse[HW_K_SET] = o->traverse2[HW_K_SET] = 0;
	{
		struct hw_err de;

		hw_err_clear(&de);
		if (discover_statics(o, t, s, &de) < 0 &&
		    (de.code == HW_EMISS || de.code == HW_EEXITED)) {
			hw_err_copy(e, &de);   /* a copy to widen, not a verdict */
			goto fail;
		}
		if (!o->traverse[HW_K_SUBTYPE])
			snprintf(o->how_subtype, sizeof o->how_subtype,
				 "unknown (no symbol table, no ModuleSpec: %.60s): "
				 "instances of Python classes are opaque",
				 de.msg[0] ? de.msg : "not found");
	}
	return o;
fail:
	hw_objects_free(o);
	return NULL;
}

void hw_objects_free(struct hw_objects *o)
{
	if (!o)
		return;
	free(o->types);
	free(o->slots);
	free(o);
}

void hw_objects_forget(struct hw_objects *o)
{
	if (o->types)
		memset(o->types, 0, o->cap * sizeof *o->types);
	o->ntypes = 0;
	o->nslots = 0;
}

const char *hw_objects_how(const struct hw_objects *o)
{
	return o->how_subtype;
}

/* ------------------------------------------------------------------ */
/* per-type facts */

static size_t type_hash(uint64_t a, size_t cap)
{
	return (size_t)((a >> 3) * 0x9E3779B97F4A7C15ull >> 20) & (cap - 1);
}

static struct hw_typeinfo *cache_slot(struct hw_objects *o, uint64_t addr,
				      struct hw_err *e)
{
	size_t i;

	if ((o->ntypes + 1) * 2 > o->cap) {
		size_t nc = o->cap ? o->cap * 2 : 256;
		struct hw_typeinfo *nt = calloc(nc, sizeof *nt);

		if (!nt) {
			hw_err_set(e, HW_ENOMEM, ENOMEM, "growing the type cache");
			return NULL;
		}
		for (size_t k = 0; k < o->cap; k++) {
			if (!o->types[k].ready)
				continue;
			for (i = type_hash(o->types[k].addr, nc); nt[i].ready; i = (i + 1) & (nc - 1))
				;
			nt[i] = o->types[k];
		}
		free(o->types);
		o->types = nt;
		o->cap = nc;
	}
	for (i = type_hash(addr, o->cap); o->types[i].ready && o->types[i].addr != addr;
	     i = (i + 1) & (o->cap - 1))
		;
	return &o->types[i];
}

struct basic {
	uint64_t flags, traverse, base, mro, dict, methods, metatype;
	int64_t basicsize, itemsize, dictoffset, size;
};

static int read_basic(struct hw_objects *o, struct hw_snap *s, uint64_t t,
		      struct basic *b, struct hw_err *e)
{
	const struct hw_offsets *f = o->o;

	if (!hw_py_plausible(t))
		return hw_err_set(e, HW_ECORRUPT, 0, "type pointer 0x%llx",
				  (unsigned long long)t);
	if (hw_py_read_u64(s, t + (uint64_t)f->tp_flags, &b->flags, e) < 0 ||
	    hw_py_read_u64(s, t + (uint64_t)f->tp_traverse, &b->traverse, e) < 0 ||
	    hw_py_read_obj(s, t, f->tp_base, "tp_base", &b->base, e) < 0 ||
	    hw_py_read_obj(s, t, f->tp_mro, "tp_mro", &b->mro, e) < 0 ||
	    hw_py_read_obj(s, t, f->tp_dict, "tp_dict", &b->dict, e) < 0 ||
	    hw_py_read_obj(s, t, f->ob_type, "ob_type", &b->metatype, e) < 0 ||
	    hw_py_read_u64(s, t + (uint64_t)f->tp_methods, &b->methods, e) < 0 ||
	    hw_py_read_i64(s, t + (uint64_t)f->tp_basicsize, &b->basicsize, e) < 0 ||
	    hw_py_read_i64(s, t + (uint64_t)f->tp_itemsize, &b->itemsize, e) < 0 ||
	    hw_py_read_i64(s, t + (uint64_t)f->tp_dictoffset, &b->dictoffset, e) < 0 ||
	    hw_py_read_i64(s, t + (uint64_t)f->ob_size, &b->size, e) < 0)
		return hw_err_prefix(e, "reading type object 0x%llx", (unsigned long long)t);
	if (b->basicsize < 0 || b->basicsize > (1 << 20) || b->itemsize < 0 ||
	    b->itemsize > (1 << 16) || b->dictoffset > (1 << 20) ||
	    b->dictoffset < -(1 << 20))
		return hw_err_set(e, HW_ECORRUPT, 0,
				  "type 0x%llx: basicsize %lld, itemsize %lld, dictoffset %lld",
				  (unsigned long long)t, (long long)b->basicsize,
				  (long long)b->itemsize, (long long)b->dictoffset);
	return 0;
}

/* Append the T_OBJECT_EX members of a heap type's own PyMemberDef array
 * (right after the type object: at type + type(type)->tp_basicsize,
 * Py_SIZE(type) entries; typeobject.c traverse_slots). */
static int add_slots(struct hw_objects *o, struct hw_snap *s, uint64_t t,
		     const struct basic *b, struct hw_err *e)
{
	const struct hw_offsets *f = o->o;
	int64_t meta_bs;
	uint64_t members;

	if (b->size <= 0)
		return 0;
	if (b->size > HW_MAX_SLOTS)
		return hw_err_set(e, HW_ECORRUPT, 0, "type 0x%llx claims %lld slots",
				  (unsigned long long)t, (long long)b->size);
	if (hw_py_read_i64(s, b->metatype + (uint64_t)f->tp_basicsize, &meta_bs, e) < 0)
		return -1;
	if (meta_bs <= 0 || meta_bs > (1 << 20))
		return hw_err_set(e, HW_ECORRUPT, 0, "metatype basicsize %lld",
				  (long long)meta_bs);
	members = t + (uint64_t)meta_bs;
	for (int64_t i = 0; i < b->size; i++) {
		uint64_t m = members + (uint64_t)i * (uint64_t)f->memberdef_size;
		int32_t mtype;
		int64_t moff;
		uint64_t name = 0;

		if (hw_snap_read(s, m + (uint64_t)f->memberdef_type, &mtype, 4, e) < 0 ||
		    hw_py_read_i64(s, m + (uint64_t)f->memberdef_offset, &moff, e) < 0 ||
		    (!NO(f->memberdef_name) &&
		     hw_py_read_u64(s, m + (uint64_t)f->memberdef_name, &name, e) < 0))
			return hw_err_prefix(e, "reading the slots of type 0x%llx",
					     (unsigned long long)t);
		if (mtype != o->c->t_object_ex)
			continue;
		if (moff < 0 || moff > (1 << 20) || (moff & 7))
			return hw_err_set(e, HW_ECORRUPT, 0, "type 0x%llx: slot at offset %lld",
					  (unsigned long long)t, (long long)moff);
		if (o->nslots == o->capslots) {
			size_t nc = o->capslots ? o->capslots * 2 : 64;
			struct hw_slot *ns = realloc(o->slots, nc * sizeof *ns);

			if (!ns)
				return hw_err_set(e, HW_ENOMEM, ENOMEM, "growing the slot table");
			o->slots = ns;
			o->capslots = nc;
		}
		o->slots[o->nslots].offset = moff;
		o->slots[o->nslots++].name_addr = name;
	}
	return 0;
}

/* Does a static or heap type define __sizeof__ itself?  In its C
 * method table (tp_methods), or, for heap types, in its dict. */
static int defines_sizeof(struct hw_objects *o, struct hw_snap *s,
			  const struct basic *b, int *out, struct hw_err *e)
{
	const struct hw_offsets *f = o->o;
	uint64_t v;

	*out = 0;
	if (b->methods) {
		for (int i = 0; i < 1024; i++) {
			uint64_t name;
			char buf[16];

			if (hw_py_read_u64(s, b->methods + (uint64_t)i * (uint64_t)f->methoddef_size +
					   (uint64_t)f->methoddef_name, &name, e) < 0)
				return -1;
			if (!name)
				break;
			if (hw_snap_read(s, name, buf, 11, e) < 0)
				return -1;
			if (memcmp(buf, "__sizeof__", 11) == 0) {
				*out = 1;
				return 0;
			}
		}
	}
	if ((b->flags & o->c->tpf_heaptype) && b->dict) {
		if (hw_dict_get_str(s, f, b->dict, "__sizeof__", &v, e) < 0)
			return -1;
		*out = v != 0;
	}
	return 0;
}

/* The __sizeof__ rule the MRO of t finds. */
static int size_rule(struct hw_objects *o, struct hw_snap *s, const struct basic *tb,
		     enum hw_sizerule *rule, struct hw_err *e)
{
	uint64_t n, items, mro[HW_PY_MAX_CHAIN];

	*rule = HW_SZ_UNKNOWN;
	if (!tb->mro)
		return 0;
	if (hw_tuple_items(s, o->o, tb->mro, &n, &items, e) < 0)
		return -1;
	if (n > HW_PY_MAX_CHAIN)
		return 0;
	if (hw_py_read_ptrs(s, items, n, mro, e) < 0)
		return -1;
	for (uint64_t i = 0; i < n; i++) {
		struct basic b;
		int def;

		if (!mro[i])
			return 0;
		if (read_basic(o, s, mro[i], &b, e) < 0 || defines_sizeof(o, s, &b, &def, e) < 0)
			return -1;
		/* a type of the table whose build defines no __sizeof__ of
		 * its own (2.7's type) inherits one, as CPython's MRO does */
		for (size_t k = 0; k < sizeof size_types / sizeof size_types[0]; k++)
			if (o->sym[size_types[k].sym] == mro[i] &&
			    (def || size_types[k].rule == HW_SZ_DEFAULT)) {
				*rule = size_types[k].rule;
				return 0;
			}
		if (def)
			return 0;
	}
	return 0;
}

static int fill_type(struct hw_objects *o, struct hw_snap *s, uint64_t t,
		     struct hw_typeinfo *ti, struct hw_err *e)
{
	struct basic b, cur;
	uint64_t base;
	int steps = 0;

	memset(ti, 0, sizeof *ti);
	if (read_basic(o, s, t, &b, e) < 0)
		return -1;
	ti->addr = t;
	ti->flags = b.flags;
	ti->basicsize = b.basicsize;
	ti->itemsize = b.itemsize;
	ti->dictoffset = b.dictoffset;
	ti->traverse = b.traverse;
	ti->kind = hw_objects_kind_of(o, b.traverse);
	if ((b.flags & o->c->tpf_heaptype) && !NO(o->o->ht_cached_keys) &&
	    hw_py_read_u64(s, t + (uint64_t)o->o->ht_cached_keys, &ti->cached_keys, e) < 0)
		return -1;
	ti->slot_first = (uint32_t)o->nslots;
	if (ti->kind == HW_K_SUBTYPE) {
		/* subtype_traverse: slots of every base while the traverse
		 * stays subtype_traverse, then the first other base. */
		cur = b;
		base = t;
		while (cur.traverse == o->traverse[HW_K_SUBTYPE]) {
			if (++steps > HW_PY_MAX_CHAIN)
				return hw_err_set(e, HW_ECORRUPT, 0,
						  "type 0x%llx: base chain does not end",
						  (unsigned long long)t);
			if (add_slots(o, s, base, &cur, e) < 0)
				return -1;
			base = cur.base;
			if (!base)
				return hw_err_set(e, HW_ECORRUPT, 0,
						  "type 0x%llx: subtype without a base",
						  (unsigned long long)t);
			if (read_basic(o, s, base, &cur, e) < 0)
				return -1;
		}
		ti->base = base;
		ti->base_kind = hw_objects_kind_of(o, cur.traverse);
		ti->base_dictoffset = cur.dictoffset;
		ti->base_flags = cur.flags;
		ti->base_traverse = cur.traverse;
	}
	ti->nslots = (uint32_t)(o->nslots - ti->slot_first);
	if (size_rule(o, s, &b, &ti->sizerule, e) < 0)
		return -1;
	return 0;
}

const struct hw_typeinfo *hw_objects_type(struct hw_objects *o, struct hw_snap *s,
					  uint64_t type_addr, struct hw_err *e)
{
	struct hw_typeinfo *slot = cache_slot(o, type_addr, e), ti;
	size_t nslots = o->nslots;

	if (!slot)
		return NULL;
	if (slot->ready)
		return slot;
	if (fill_type(o, s, type_addr, &ti, e) < 0) {
		o->nslots = nslots;   /* drop a half-read slot list */
		return NULL;
	}
	/* fill_type may not grow the cache: the slot stays valid */
	*slot = ti;
	slot->ready = 1;
	o->ntypes++;
	return slot;
}

int hw_objects_dictptr(struct hw_objects *o, struct hw_snap *s, uint64_t obj,
		       const struct hw_typeinfo *ti, uint64_t *slot, struct hw_err *e)
{
	int64_t off = ti->dictoffset, size;

	*slot = 0;
	if (off == 0)
		return 0;
	if (off < 0) {
		/* _PyObject_GetDictPtr: from the end of the variable part,
		 * rounded up to a pointer (_PyObject_VAR_SIZE) */
		uint64_t total;

		if (o->c->tpf_managed_dict && (ti->flags & o->c->tpf_managed_dict))
			return 0;   /* -1 marks a managed dict (3.12+) */
		if (hw_py_read_i64(s, obj + (uint64_t)o->o->ob_size, &size, e) < 0)
			return -1;
		if (size < 0)
			size = -size;
		if (size > HW_PY_MAX_ITEMS)
			return hw_err_set(e, HW_ECORRUPT, 0, "object 0x%llx: size %lld",
					  (unsigned long long)obj, (long long)size);
		total = ((uint64_t)ti->basicsize + (uint64_t)size * (uint64_t)ti->itemsize + 7) & ~7ull;
		off += (int64_t)total;
		if (off < 0)
			return hw_err_set(e, HW_ECORRUPT, 0, "object 0x%llx: dict offset %lld",
					  (unsigned long long)obj, (long long)off);
	}
	*slot = obj + (uint64_t)off;
	return 0;
}
