/* referents.c - hw_obj_referents(): what each kind's tp_traverse visits,
 * read from outside.  See include/heapwatch/objects.h.
 *
 * One function per traverse (CPython names in comments), fields named
 * by the layout, versions told apart by which fields and constants the
 * build has (pyconst.h), never by number:
 *   - instance dicts: tp_dictoffset (3.6-3.10), the managed pre-header
 *     words (3.11: values at -32 and dict at -24; 3.12: one tagged word
 *     at -24), inline values after the fixed part (3.13+);
 *   - frames: the frame object's own fields (up to 3.10), or the
 *     interpreter frame it owns (3.11+; stack references tagged on 3.14);
 *   - generators: their frame object (up to 3.10) or embedded frame;
 *   - 2.7: dicts as tables of their own (pyread.c), old-style classes
 *     and instances, instancemethod's im_class, BaseException.message.
 * Every count is checked against what the container says and the caps
 * of pyread.h; every pointer for plausibility.
 */
#include "heapwatch/objmodel.h"

#include <stddef.h>
#include <string.h>

#define NO(x) ((x) < 0)
#define CHUNK 256
#define MAX_LOCALS (1 << 20)

struct rctx {
	struct hw_objects *o;
	struct hw_snap *s;
	const struct hw_offsets *f;
	uint64_t obj;
	hw_edge_fn fn;
	void *arg;
	enum hw_refs_status *status;
	struct hw_err *e;
};

static int emit(struct rctx *c, uint64_t to, enum hw_edge_kind kind, uint64_t key,
		int64_t index, const char *name, int synthetic)
{
	struct hw_edge ed;

	if (!to)
		return 0;
	if (!hw_py_plausible(to))
		return hw_err_set(c->e, HW_ECORRUPT, 0,
				  "object 0x%llx refers to 0x%llx, not an object",
				  (unsigned long long)c->obj, (unsigned long long)to);
	ed.to_addr = to;
	ed.kind = kind;
	ed.key_addr = key;
	ed.index = index;
	ed.name = name;
	ed.synthetic = synthetic;
	return c->fn(c->arg, &ed, c->e);
}

/* A pointer field at obj + its layout offset (absent fields skipped). */
static int field(struct rctx *c, uint64_t base, int64_t off, enum hw_edge_kind kind,
		 const char *name)
{
	uint64_t v;

	if (NO(off))
		return 0;
	if (hw_py_read_obj(c->s, base, off, name, &v, c->e) < 0)
		return -1;
	return emit(c, v, kind, 0, -1, name, 0);
}

#define FIELD(off, name) field(c, c->obj, c->f->off, HW_EDGE_FIELD, name)

/* n pointers at items, from the last to the first (list_traverse and
 * tupletraverse count down). */
static int items_reversed(struct rctx *c, uint64_t items, uint64_t n)
{
	uint64_t buf[CHUNK];

	while (n > 0) {
		uint64_t k = n < CHUNK ? n : CHUNK, start = n - k;

		if (hw_py_read_ptrs(c->s, items + start * 8, k, buf, c->e) < 0)
			return hw_err_prefix(c->e, "reading the items of 0x%llx",
					     (unsigned long long)c->obj);
		for (uint64_t i = k; i-- > 0;)
			if (emit(c, buf[i], HW_EDGE_INDEX, 0, (int64_t)(start + i), NULL, 0) < 0)
				return -1;
		n = start;
	}
	return 0;
}

/* list_traverse */
static int r_list(struct rctx *c)
{
	int64_t size, alloc;
	uint64_t items;

	if (hw_py_read_i64(c->s, c->obj + (uint64_t)c->f->ob_size, &size, c->e) < 0 ||
	    hw_py_read_i64(c->s, c->obj + (uint64_t)c->f->list_allocated, &alloc, c->e) < 0 ||
	    hw_py_read_u64(c->s, c->obj + (uint64_t)c->f->list_items, &items, c->e) < 0)
		return -1;
	if (size < 0 || alloc < size || alloc > HW_PY_MAX_ITEMS ||
	    (size > 0 && !hw_py_plausible(items)))
		return hw_err_set(c->e, HW_ECORRUPT, 0,
				  "list 0x%llx: size %lld, allocated %lld, items 0x%llx",
				  (unsigned long long)c->obj, (long long)size,
				  (long long)alloc, (unsigned long long)items);
	return items_reversed(c, items, (uint64_t)size);
}

/* tupletraverse */
static int r_tuple(struct rctx *c)
{
	uint64_t n, items;

	if (hw_tuple_items(c->s, c->f, c->obj, &n, &items, c->e) < 0)
		return -1;
	return items_reversed(c, items, n);
}

/* dict_traverse: values, and keys of general tables; nothing for the
 * values a 3.13+ object embeds (the object visits them). */
struct dctx {
	struct rctx *c;
	int general;
};

static int dict_entry(void *arg, const struct hw_dict_entry *en, struct hw_err *e)
{
	struct dctx *d = arg;

	(void)e;
	if (!en->value)
		return 0;
	if (emit(d->c, en->value, HW_EDGE_DICT_VALUE, en->key, (int64_t)en->index, NULL, 0) < 0)
		return -1;
	if (d->general && emit(d->c, en->key, HW_EDGE_DICT_KEY, en->key,
			       (int64_t)en->index, NULL, 0) < 0)
		return -1;
	return 0;
}

static int r_dict(struct rctx *c)
{
	struct hw_dict_info di;
	struct dctx d = { c, 0 };

	if (hw_dict_info(c->s, c->f, c->obj, c->o->lookdict,
			 c->o->sym[HW_OBJSYM_unicode_type], &di, c->e) < 0)
		return -1;
	if (di.split && di.embedded && !c->o->c->managed_dict_first)
		return 0;
	d.general = di.general && !di.split;
	return hw_dict_entries(c->s, c->f, &di, dict_entry, &d, c->e);
}

/* set_traverse: every key but NULL and the dummy */
static int r_set(struct rctx *c)
{
	int64_t mask;
	uint64_t table, n, esize = (uint64_t)c->f->setentry_size;
	unsigned char buf[CHUNK * 16];
	uint64_t dummy = c->o->sym[HW_OBJSYM_set_dummy];

	if (hw_py_read_i64(c->s, c->obj + (uint64_t)c->f->set_mask, &mask, c->e) < 0 ||
	    hw_py_read_u64(c->s, c->obj + (uint64_t)c->f->set_table, &table, c->e) < 0)
		return -1;
	if (mask < 0 || mask >= HW_PY_MAX_ITEMS || ((mask + 1) & mask) ||
	    !hw_py_plausible(table) || esize < 16 || esize > 16)
		return hw_err_set(c->e, HW_ECORRUPT, 0, "set 0x%llx: mask %lld, table 0x%llx",
				  (unsigned long long)c->obj, (long long)mask,
				  (unsigned long long)table);
	n = (uint64_t)mask + 1;
	for (uint64_t i = 0; i < n; i += CHUNK) {
		uint64_t k = n - i < CHUNK ? n - i : CHUNK;

		if (hw_snap_read(c->s, table + i * esize, buf, (size_t)(k * esize), c->e) < 0)
			return hw_err_prefix(c->e, "reading the table of set 0x%llx",
					     (unsigned long long)c->obj);
		for (uint64_t j = 0; j < k; j++) {
			uint64_t key;

			memcpy(&key, buf + j * esize + (uint64_t)c->f->setentry_key, 8);
			if (!key || key == dummy)
				continue;
			if (emit(c, key, HW_EDGE_SET_ITEM, 0, (int64_t)(i + j), NULL, 0) < 0)
				return -1;
		}
	}
	return 0;
}

/* func_traverse (3.8 order; builtins 3.10+, typeparams 3.12+, annotate
 * 3.14+) */
static int r_function(struct rctx *c)
{
	return FIELD(func_code, "__code__") || FIELD(func_globals, "__globals__") ||
	       FIELD(func_builtins, "__builtins__") || FIELD(func_module, "__module__") ||
	       FIELD(func_defaults, "__defaults__") ||
	       FIELD(func_kwdefaults, "__kwdefaults__") || FIELD(func_doc, "__doc__") ||
	       FIELD(func_name, "__name__") ||
	       field(c, c->obj, c->f->func_dict, HW_EDGE_DICT, "__dict__") ||
	       FIELD(func_closure, "__closure__") ||
	       FIELD(func_annotations, "__annotations__") ||
	       FIELD(func_qualname, "__qualname__") ||
	       FIELD(func_typeparams, "__type_params__") ||
	       FIELD(func_annotate, "__annotate__") ? -1 : 0;
}

/* module_traverse: the C module's m_traverse (unknown: partial), then
 * md_dict.  The traverse and state size are the PyModuleDef's up to
 * 3.14, the module's own from 3.15 (PEP 793). */
static int r_module(struct rctx *c)
{
	uint64_t def = 0, trav = 0, state = 0;
	int64_t size = 0;

	if (!NO(c->f->mod_state_traverse)) {
		if (hw_py_read_u64(c->s, c->obj + (uint64_t)c->f->mod_state_traverse, &trav, c->e) < 0 ||
		    (!NO(c->f->mod_state_size) &&
		     hw_py_read_i64(c->s, c->obj + (uint64_t)c->f->mod_state_size, &size, c->e) < 0) ||
		    (!NO(c->f->mod_state) &&
		     hw_py_read_u64(c->s, c->obj + (uint64_t)c->f->mod_state, &state, c->e) < 0))
			return -1;
		if (trav && (size <= 0 || state))
			*c->status = HW_REFS_PARTIAL;
		return field(c, c->obj, c->f->mod_dict, HW_EDGE_DICT, "__dict__");
	}
	if (!NO(c->f->mod_def) &&
	    hw_py_read_u64(c->s, c->obj + (uint64_t)c->f->mod_def, &def, c->e) < 0)
		return -1;
	if (def && !NO(c->f->moddef_traverse)) {
		if (hw_py_read_u64(c->s, def + (uint64_t)c->f->moddef_traverse, &trav, c->e) < 0 ||
		    (!NO(c->f->moddef_size) &&
		     hw_py_read_i64(c->s, def + (uint64_t)c->f->moddef_size, &size, c->e) < 0) ||
		    (!NO(c->f->mod_state) &&
		     hw_py_read_u64(c->s, c->obj + (uint64_t)c->f->mod_state, &state, c->e) < 0))
			return -1;
		if (trav && (!c->o->c->module_traverse_needs_state || size <= 0 || state))
			*c->status = HW_REFS_PARTIAL;
	}
	return field(c, c->obj, c->f->mod_dict, HW_EDGE_DICT, "__dict__");
}

/* type_traverse: heap types only (static types are not GC objects) */
static int r_type(struct rctx *c)
{
	uint64_t flags;

	if (hw_py_read_u64(c->s, c->obj + (uint64_t)c->f->tp_flags, &flags, c->e) < 0)
		return -1;
	if (!(flags & c->o->c->tpf_heaptype))
		return 0;
	return field(c, c->obj, c->f->tp_dict, HW_EDGE_DICT, "__dict__") ||
	       FIELD(tp_cache, "tp_cache") || FIELD(tp_mro, "__mro__") ||
	       FIELD(tp_bases, "__bases__") || FIELD(tp_base, "__base__") ||
	       FIELD(ht_module, "ht_module") ? -1 : 0;
}

/* BaseException_traverse (2.7: and message) */
static int r_exception(struct rctx *c)
{
	return field(c, c->obj, c->f->exc_dict, HW_EDGE_DICT, "__dict__") ||
	       FIELD(exc_args, "args") || FIELD(exc_message, "message") ||
	       FIELD(exc_notes, "__notes__") ||
	       FIELD(exc_traceback, "__traceback__") || FIELD(exc_cause, "__cause__") ||
	       FIELD(exc_context, "__context__") ? -1 : 0;
}

/* meth_traverse: the defining class (METH_METHOD, 3.9+), self, module */
static int r_cfunction(struct rctx *c)
{
	if (c->o->c->meth_method && !NO(c->f->cmeth_class) && !NO(c->f->cfunc_ml) &&
	    !NO(c->f->methoddef_flags)) {
		uint64_t ml;
		int32_t flags;

		if (hw_py_read_u64(c->s, c->obj + (uint64_t)c->f->cfunc_ml, &ml, c->e) < 0)
			return -1;
		if (ml) {
			if (hw_snap_read(c->s, ml + (uint64_t)c->f->methoddef_flags, &flags, 4, c->e) < 0)
				return -1;
			if (((uint64_t)(uint32_t)flags & c->o->c->meth_method) &&
			    FIELD(cmeth_class, "__defining_class__"))
				return -1;
		}
	}
	return FIELD(cfunc_self, "__self__") || FIELD(cfunc_module, "__module__") ? -1 : 0;
}

/* ---- frames ---- */

/* A stack reference (3.14+): tag bits cleared; a tagged int is no
 * object. */
static uint64_t stackref(const struct rctx *c, uint64_t v)
{
	const struct hw_pyconst *k = c->o->c;

	if (!k->stackref_tag_mask)
		return v;
	if (k->stackref_int_tag && (v & k->stackref_tag_mask) == k->stackref_int_tag)
		return 0;
	return v & ~k->stackref_tag_mask;
}

/* The names of the first n local slots: a tuple, or up to three tuples
 * one after another (co_varnames, co_cellvars, co_freevars). */
struct names {
	uint64_t items[3];
	uint64_t n[3];
	int ntuples;
};

static int names_add(struct rctx *c, struct names *nm, uint64_t tuple)
{
	int i = nm->ntuples++;

	nm->n[i] = 0;
	nm->items[i] = 0;
	if (!tuple)
		return 0;
	return hw_tuple_items(c->s, c->f, tuple, &nm->n[i], &nm->items[i], c->e);
}

static int names_get(struct rctx *c, const struct names *nm, uint64_t slot, uint64_t *name)
{
	*name = 0;
	for (int i = 0; i < nm->ntuples; i++) {
		if (slot < nm->n[i])
			return hw_py_read_obj(c->s, nm->items[i], (int64_t)(slot * 8),
					      "local name", name, c->e);
		slot -= nm->n[i];
	}
	return 0;
}

/* n local or stack slots at addr; slots >= nlocals are the stack. */
static int slots(struct rctx *c, uint64_t addr, uint64_t n, uint64_t nlocals,
		 const struct names *nm)
{
	uint64_t buf[CHUNK];

	if (n > MAX_LOCALS)
		return hw_err_set(c->e, HW_ECORRUPT, 0, "frame 0x%llx: %llu slots",
				  (unsigned long long)c->obj, (unsigned long long)n);
	for (uint64_t i = 0; i < n; i += CHUNK) {
		uint64_t k = n - i < CHUNK ? n - i : CHUNK;

		if (hw_snap_read(c->s, addr + i * 8, buf, (size_t)k * 8, c->e) < 0)
			return hw_err_prefix(c->e, "reading the locals of 0x%llx",
					     (unsigned long long)c->obj);
		for (uint64_t j = 0; j < k; j++) {
			uint64_t v = stackref(c, buf[j]), name = 0;

			if (!v)
				continue;
			if (i + j < nlocals && names_get(c, nm, i + j, &name) < 0)
				return -1;
			if (emit(c, v, HW_EDGE_LOCAL, name, (int64_t)(i + j),
				 i + j < nlocals ? NULL : "stack", 0) < 0)
				return -1;
		}
	}
	return 0;
}

static int read_int32(struct rctx *c, uint64_t addr, int64_t *v)
{
	int32_t x;

	if (hw_snap_read(c->s, addr, &x, 4, c->e) < 0)
		return -1;
	*v = x;
	return 0;
}

/* frame_traverse up to 3.10 */
static int r_frame_old(struct rctx *c)
{
	const struct hw_offsets *f = c->f;
	uint64_t code, cell = 0, free_ = 0, varnames = 0;
	int64_t nlocals;
	uint64_t ncell = 0, nfree = 0, items;
	struct names nm = { .ntuples = 0 };

	if (FIELD(frame_back, "f_back") || FIELD(frame_code, "f_code") ||
	    FIELD(frame_builtins, "f_builtins") || FIELD(frame_globals, "f_globals") ||
	    FIELD(frame_locals, "f_locals") || FIELD(frame_trace, "f_trace") ||
	    FIELD(frame_exc_type, "f_exc_type") || FIELD(frame_exc_value, "f_exc_value") ||
	    FIELD(frame_exc_tb, "f_exc_traceback"))
		return -1;
	if (hw_py_read_obj(c->s, c->obj, f->frame_code, "f_code", &code, c->e) < 0)
		return -1;
	if (!code)
		return hw_err_set(c->e, HW_ECORRUPT, 0, "frame 0x%llx has no code",
				  (unsigned long long)c->obj);
	if (read_int32(c, code + (uint64_t)f->code_nlocals, &nlocals) < 0 ||
	    hw_py_read_obj(c->s, code, f->code_varnames, "co_varnames", &varnames, c->e) < 0 ||
	    hw_py_read_obj(c->s, code, f->code_cellvars, "co_cellvars", &cell, c->e) < 0 ||
	    hw_py_read_obj(c->s, code, f->code_freevars, "co_freevars", &free_, c->e) < 0)
		return -1;
	if (cell && hw_tuple_items(c->s, f, cell, &ncell, &items, c->e) < 0)
		return -1;
	if (free_ && hw_tuple_items(c->s, f, free_, &nfree, &items, c->e) < 0)
		return -1;
	if (nlocals < 0 || nlocals > MAX_LOCALS)
		return hw_err_set(c->e, HW_ECORRUPT, 0, "code 0x%llx: %lld locals",
				  (unsigned long long)code, (long long)nlocals);
	if (names_add(c, &nm, varnames) < 0 || names_add(c, &nm, cell) < 0 ||
	    names_add(c, &nm, free_) < 0)
		return -1;
	if (nm.n[0] > (uint64_t)nlocals)
		nm.n[0] = (uint64_t)nlocals;
	uint64_t nslots = (uint64_t)nlocals + ncell + nfree;

	if (slots(c, c->obj + (uint64_t)f->frame_localsplus, nslots, nslots, &nm) < 0)
		return -1;
	/* the value stack: up to f_stacktop (3.6-3.9) or f_stackdepth
	 * entries (3.10) */
	uint64_t vs, top;
	int64_t depth = -1;

	if (hw_py_read_u64(c->s, c->obj + (uint64_t)f->frame_valuestack, &vs, c->e) < 0)
		return -1;
	if (!NO(f->frame_stacktop)) {
		if (hw_py_read_u64(c->s, c->obj + (uint64_t)f->frame_stacktop, &top, c->e) < 0)
			return -1;
		if (!top)
			return 0;
		if (top < vs || ((top - vs) & 7))
			return hw_err_set(c->e, HW_ECORRUPT, 0,
					  "frame 0x%llx: stack 0x%llx..0x%llx",
					  (unsigned long long)c->obj, (unsigned long long)vs,
					  (unsigned long long)top);
		depth = (int64_t)((top - vs) / 8);
	} else if (!NO(f->frame_stackdepth)) {
		if (read_int32(c, c->obj + (uint64_t)f->frame_stackdepth, &depth) < 0)
			return -1;
	}
	if (depth <= 0)
		return 0;
	return slots(c, vs, (uint64_t)depth, 0, &nm);
}

/* _PyFrame_Traverse (3.11+): the interpreter frame's objects and its
 * locals and stack */
static int iframe(struct rctx *c, uint64_t fr)
{
	const struct hw_offsets *f = c->f;
	uint64_t code, func, names = 0, n, top;
	int64_t nlocalsplus = 0;
	struct names nm = { .ntuples = 0 };

	if (!hw_py_plausible(fr))
		return hw_err_set(c->e, HW_ECORRUPT, 0, "0x%llx: interpreter frame 0x%llx",
				  (unsigned long long)c->obj, (unsigned long long)fr);
	if (field(c, fr, f->iframe_frame_obj, HW_EDGE_FIELD, "frame_obj") ||
	    field(c, fr, f->iframe_locals, HW_EDGE_FIELD, "f_locals"))
		return -1;
	if (hw_py_read_u64(c->s, fr + (uint64_t)f->iframe_func, &func, c->e) < 0 ||
	    hw_py_read_u64(c->s, fr + (uint64_t)f->iframe_code, &code, c->e) < 0)
		return -1;
	func = stackref(c, func);
	code = stackref(c, code);
	if (emit(c, func, HW_EDGE_FIELD, 0, -1, "f_func", 0) < 0 ||
	    emit(c, code, HW_EDGE_FIELD, 0, -1, "f_code", 0) < 0)
		return -1;
	if (!NO(f->iframe_stacktop)) {
		int64_t st;

		if (read_int32(c, fr + (uint64_t)f->iframe_stacktop, &st) < 0)
			return -1;
		if (st < 0 || st > MAX_LOCALS)
			return hw_err_set(c->e, HW_ECORRUPT, 0, "frame 0x%llx: stacktop %lld",
					  (unsigned long long)fr, (long long)st);
		n = (uint64_t)st;
	} else if (!NO(f->iframe_stackpointer)) {
		uint64_t base = fr + (uint64_t)f->iframe_localsplus;

		if (hw_py_read_u64(c->s, fr + (uint64_t)f->iframe_stackpointer, &top, c->e) < 0)
			return -1;
		if (top < base || ((top - base) & 7))
			return hw_err_set(c->e, HW_ECORRUPT, 0,
					  "frame 0x%llx: stack pointer 0x%llx",
					  (unsigned long long)fr, (unsigned long long)top);
		n = (top - base) / 8;
	} else {
		return hw_err_set(c->e, HW_ELAYOUT, 0, "layout lacks the frame's stack top");
	}
	/* names for labels: co_localsplusnames of a code object */
	if (code && !NO(f->code_localsplusnames) && !NO(f->code_nlocalsplus)) {
		if (read_int32(c, code + (uint64_t)f->code_nlocalsplus, &nlocalsplus) < 0 ||
		    hw_py_read_obj(c->s, code, f->code_localsplusnames, "co_localsplusnames",
				   &names, c->e) < 0 || names_add(c, &nm, names) < 0)
			return -1;
		if (nlocalsplus < 0)
			nlocalsplus = 0;
	}
	return slots(c, fr + (uint64_t)f->iframe_localsplus, n, (uint64_t)nlocalsplus, &nm);
}

/* frame_tp_traverse (3.11+) */
static int r_frame_new(struct rctx *c)
{
	const struct hw_offsets *f = c->f;
	uint64_t fr;
	uint8_t owner;

	if (FIELD(frame_back, "f_back") || FIELD(frame_trace, "f_trace") ||
	    FIELD(frame_extra_locals, "f_extra_locals") ||
	    FIELD(frame_locals_cache, "f_locals_cache") ||
	    FIELD(frame_overwritten, "f_overwritten_fast_locals"))
		return -1;
	if (hw_py_read_u64(c->s, c->obj + (uint64_t)f->frame_frame, &fr, c->e) < 0)
		return -1;
	if (!fr || NO(f->iframe_owner))
		return 0;
	if (hw_snap_read(c->s, fr + (uint64_t)f->iframe_owner, &owner, 1, c->e) < 0)
		return -1;
	if (owner != c->o->c->frame_owned_by_frame_object)
		return 0;
	return iframe(c, fr);
}

/* gen_traverse / async_gen_traverse */
static int r_gen(struct rctx *c, int async)
{
	const struct hw_offsets *f = c->f;

	if (async && FIELD(agen_finalizer, "ag_finalizer"))
		return -1;
	if (!NO(f->gen_frame)) {
		/* up to 3.10: a frame object */
		return FIELD(gen_frame, "gi_frame") || FIELD(gen_code, "gi_code") ||
		       FIELD(gen_name, "__name__") || FIELD(gen_qualname, "__qualname__") ||
		       FIELD(gen_exc_type, "exc_type") || FIELD(gen_exc_value, "exc_value") ||
		       FIELD(gen_exc_tb, "exc_traceback") ? -1 : 0;
	}
	if (FIELD(gen_code, "gi_code") || FIELD(gen_name, "__name__") ||
	    FIELD(gen_qualname, "__qualname__"))
		return -1;
	if (!NO(f->gen_frame_state) && !NO(f->gen_iframe)) {
		int8_t st;

		if (hw_snap_read(c->s, c->obj + (uint64_t)f->gen_frame_state, &st, 1, c->e) < 0)
			return -1;
		if (st < c->o->c->frame_cleared && iframe(c, c->obj + (uint64_t)f->gen_iframe) < 0)
			return -1;
	}
	return FIELD(gen_exc_value, "exc_value");
}

/* ---- instances of Python classes: subtype_traverse ---- */

static int attr_key(struct rctx *c, const struct hw_typeinfo *ti,
		    struct hw_dict_info *ki, int *have, uint64_t i, uint64_t *key)
{
	*key = 0;
	if (!ti->cached_keys)
		return 0;
	if (!*have) {
		if (hw_keys_info(c->s, c->f, ti->cached_keys, ki, c->e) < 0)
			return hw_err_prefix(c->e, "the cached keys of type 0x%llx",
					     (unsigned long long)ti->addr);
		*have = 1;
	}
	if (i >= ki->dk_nentries)
		return 0;
	return hw_keys_entry_key(c->s, c->f, ki, i, key, c->e);
}

/* Values of an instance: n pointers at values (3.11/3.12: n is the
 * cached keys' dk_nentries; 3.13+: the values' capacity). */
static int instance_values(struct rctx *c, const struct hw_typeinfo *ti,
			   uint64_t values, uint64_t n)
{
	struct hw_dict_info ki;
	int have = 0;
	uint64_t buf[CHUNK];

	if (n > HW_PY_MAX_ITEMS)
		return hw_err_set(c->e, HW_ECORRUPT, 0, "instance 0x%llx: %llu values",
				  (unsigned long long)c->obj, (unsigned long long)n);
	for (uint64_t i = 0; i < n; i += CHUNK) {
		uint64_t k = n - i < CHUNK ? n - i : CHUNK;

		if (hw_py_read_ptrs(c->s, values + i * 8, k, buf, c->e) < 0)
			return hw_err_prefix(c->e, "reading the values of 0x%llx",
					     (unsigned long long)c->obj);
		for (uint64_t j = 0; j < k; j++) {
			uint64_t key;

			if (!buf[j])
				continue;
			if (attr_key(c, ti, &ki, &have, i + j, &key) < 0 ||
			    emit(c, buf[j], HW_EDGE_ATTR, key, (int64_t)(i + j), NULL, 0) < 0)
				return -1;
		}
	}
	return 0;
}

static int cached_nentries(struct rctx *c, const struct hw_typeinfo *ti, uint64_t *n)
{
	struct hw_dict_info ki;

	*n = 0;
	if (!ti->cached_keys)
		return 0;
	if (hw_keys_info(c->s, c->f, ti->cached_keys, &ki, c->e) < 0)
		return -1;
	*n = ki.dk_nentries;
	return 0;
}

/* The dict pointer in the pre-header (a negative offset, 3.13+). */
static int managed_dict_word(struct rctx *c, uint64_t *word)
{
	if (hw_py_read_u64(c->s, c->obj + (uint64_t)c->o->c->managed_dict_at, word, c->e) < 0)
		return -1;
	if (*word && !hw_py_plausible(*word))
		return hw_err_set(c->e, HW_ECORRUPT, 0, "object 0x%llx: managed dict 0x%llx",
				  (unsigned long long)c->obj, (unsigned long long)*word);
	return 0;
}

/* The managed dict of 3.11+ (pre-header words, inline values). */
static int managed(struct rctx *c, const struct hw_typeinfo *ti)
{
	const struct hw_pyconst *k = c->o->c;
	const struct hw_offsets *f = c->f;
	uint64_t word, n;

	if (k->tpf_inline_values && (ti->flags & k->tpf_inline_values)) {
		/* 3.13+ _PyObject_VisitManagedDict: valid inline values,
		 * else the dict; since gh-130327 the dict first */
		uint64_t values = c->obj + (uint64_t)ti->basicsize;
		uint8_t valid = 0, cap = 0;

		if (k->managed_dict_first) {
			if (managed_dict_word(c, &word) < 0)
				return -1;
			if (word)
				return emit(c, word, HW_EDGE_DICT, 0, -1, "__dict__", 0);
		}

		if (NO(f->dv_valid) || NO(f->dv_capacity) || NO(f->dv_values))
			return hw_err_set(c->e, HW_ELAYOUT, 0, "layout lacks _dictvalues fields");
		if (hw_snap_read(c->s, values + (uint64_t)f->dv_valid, &valid, 1, c->e) < 0 ||
		    hw_snap_read(c->s, values + (uint64_t)f->dv_capacity, &cap, 1, c->e) < 0)
			return -1;
		if (valid) {
			if (instance_values(c, ti, values + (uint64_t)f->dv_values, cap) < 0)
				return -1;
			/* the materialised dict only the managed pointer
			 * holds: synthetic, so that it has an owner */
			if (managed_dict_word(c, &word) < 0)
				return -1;
			return emit(c, word, HW_EDGE_DICT, 0, -1, "__dict__", 1);
		}
	}
	if (hw_py_read_u64(c->s, c->obj + (uint64_t)k->managed_dict_at, &word, c->e) < 0)
		return -1;
	if (k->managed_tagged && (word & 1)) {
		/* 3.12: values at word + 1, as many as the cached keys */
		if (cached_nentries(c, ti, &n) < 0)
			return -1;
		return instance_values(c, ti, word + 1 + (uint64_t)(NO(f->dv_values) ? 0 : f->dv_values), n);
	}
	if (k->managed_values_at != HW_NOCONST) {
		/* 3.11: values first, then the dict */
		uint64_t values;

		if (hw_py_read_u64(c->s, c->obj + (uint64_t)k->managed_values_at, &values, c->e) < 0)
			return -1;
		if (values) {
			if ((values & 7) || cached_nentries(c, ti, &n) < 0)
				return (values & 7) ? hw_err_set(c->e, HW_ECORRUPT, 0,
								 "values pointer 0x%llx",
								 (unsigned long long)values) : -1;
			if (instance_values(c, ti, values + (uint64_t)(NO(f->dv_values) ? 0 : f->dv_values), n) < 0)
				return -1;
		}
	}
	if (word && !hw_py_plausible(word))
		return hw_err_set(c->e, HW_ECORRUPT, 0, "object 0x%llx: managed dict 0x%llx",
				  (unsigned long long)c->obj, (unsigned long long)word);
	return emit(c, word, HW_EDGE_DICT, 0, -1, "__dict__", 0);
}

static int by_kind(struct rctx *c, enum hw_kind kind, uint64_t type);

/* A C type that is a heap type (PyType_FromSpec, 3.9+ convention)
 * visits Py_TYPE(self) in its traverse: the object's own type, a
 * subclass's when the object is an instance of one. */
static int c_type_edge(struct rctx *c, uint64_t ctype)
{
	uint64_t flags, t;

	if (hw_py_read_u64(c->s, ctype + (uint64_t)c->f->tp_flags, &flags, c->e) < 0)
		return -1;
	if (!(flags & c->o->c->tpf_heaptype))
		return 0;
	if (hw_py_read_obj(c->s, c->obj, c->f->ob_type, "ob_type", &t, c->e) < 0)
		return -1;
	return emit(c, t, HW_EDGE_TYPE, 0, -1, "__class__", 0);
}

/* odict_traverse: the instance dict, the key of every node, the dict */
static int r_odict(struct rctx *c)
{
	const struct hw_offsets *f = c->f;
	struct hw_dict_info di;
	uint64_t node, key;
	uint64_t steps = 0;

	if (NO(f->odict_first) || NO(f->odictnode_key) || NO(f->odictnode_next)) {
		*c->status = HW_REFS_OPAQUE;
		return 0;
	}
	if (field(c, c->obj, f->odict_inst_dict, HW_EDGE_DICT, "__dict__") < 0 ||
	    hw_dict_info(c->s, f, c->obj, c->o->lookdict,
			 c->o->sym[HW_OBJSYM_unicode_type], &di, c->e) < 0 ||
	    hw_py_read_u64(c->s, c->obj + (uint64_t)f->odict_first, &node, c->e) < 0)
		return -1;
	while (node) {
		/* one node per key: more than the table's entries is a loop */
		if (!hw_py_plausible(node) || ++steps > di.dk_nentries + 1)
			return hw_err_set(c->e, HW_ECORRUPT, 0,
					  "OrderedDict 0x%llx: node 0x%llx after %llu nodes",
					  (unsigned long long)c->obj, (unsigned long long)node,
					  (unsigned long long)steps);
		if (hw_py_read_obj(c->s, node, f->odictnode_key, "node key", &key, c->e) < 0 ||
		    emit(c, key, HW_EDGE_DICT_KEY, key, (int64_t)steps - 1, NULL, 0) < 0 ||
		    hw_py_read_u64(c->s, node + (uint64_t)f->odictnode_next, &node, c->e) < 0)
			return -1;
	}
	return r_dict(c);
}

/* deque_traverse: the items of every block from leftindex of the
 * first to rightindex of the last */
static int r_deque(struct rctx *c, uint64_t ctype)
{
	const struct hw_offsets *f = c->f;
	uint64_t b, right, blocklen, buf[128];
	int64_t lo, hi, size;
	uint64_t nblocks = 0, maxblocks;

	if (NO(f->deque_leftblock) || NO(f->block_data) || NO(f->block_rightlink)) {
		*c->status = HW_REFS_OPAQUE;
		return 0;
	}
	blocklen = (uint64_t)(f->block_rightlink - f->block_data) / 8;
	if (blocklen == 0 || blocklen > 128)
		return hw_err_set(c->e, HW_ELAYOUT, 0, "deque blocks of %llu items",
				  (unsigned long long)blocklen);
	if (c_type_edge(c, ctype) < 0 ||
	    hw_py_read_u64(c->s, c->obj + (uint64_t)f->deque_leftblock, &b, c->e) < 0 ||
	    hw_py_read_u64(c->s, c->obj + (uint64_t)f->deque_rightblock, &right, c->e) < 0 ||
	    hw_py_read_i64(c->s, c->obj + (uint64_t)f->deque_leftindex, &lo, c->e) < 0 ||
	    hw_py_read_i64(c->s, c->obj + (uint64_t)f->deque_rightindex, &hi, c->e) < 0 ||
	    hw_py_read_i64(c->s, c->obj + (uint64_t)f->ob_size, &size, c->e) < 0)
		return -1;
	if (size < 0 || size > HW_PY_MAX_ITEMS || lo < 0 || lo >= (int64_t)blocklen ||
	    hi < -1 || hi >= (int64_t)blocklen)
		return hw_err_set(c->e, HW_ECORRUPT, 0, "deque 0x%llx: size %lld, indexes %lld..%lld",
				  (unsigned long long)c->obj, (long long)size, (long long)lo,
				  (long long)hi);
	maxblocks = (uint64_t)size / blocklen + 2;
	for (;;) {
		int64_t end = b == right ? hi : (int64_t)blocklen - 1;

		if (!hw_py_plausible(b) || ++nblocks > maxblocks)
			return hw_err_set(c->e, HW_ECORRUPT, 0,
					  "deque 0x%llx: block 0x%llx after %llu blocks",
					  (unsigned long long)c->obj, (unsigned long long)b,
					  (unsigned long long)nblocks);
		if (end >= lo) {
			uint64_t n = (uint64_t)(end - lo + 1);

			if (hw_py_read_ptrs(c->s, b + (uint64_t)f->block_data + (uint64_t)lo * 8,
					    n, buf, c->e) < 0)
				return -1;
			for (uint64_t i = 0; i < n; i++)
				if (emit(c, buf[i], HW_EDGE_INDEX, 0, -1, NULL, 0) < 0)
					return -1;
		}
		if (b == right)
			return 0;
		if (hw_py_read_u64(c->s, b + (uint64_t)f->block_rightlink, &b, c->e) < 0)
			return -1;
		lo = 0;
	}
}

static int r_subtype(struct rctx *c, const struct hw_typeinfo *ti)
{
	const struct hw_pyconst *k = c->o->c;

	for (uint32_t i = 0; i < ti->nslots; i++) {
		const struct hw_slot *sl = &c->o->slots[ti->slot_first + i];
		uint64_t v;

		if (hw_py_read_obj(c->s, c->obj, sl->offset, "slot", &v, c->e) < 0 ||
		    emit(c, v, HW_EDGE_SLOT, sl->name_addr, sl->offset, NULL, 0) < 0)
			return -1;
	}
	if (k->tpf_managed_dict && (ti->flags & k->tpf_managed_dict)) {
		if (managed(c, ti) < 0)
			return -1;
	} else if (ti->dictoffset != ti->base_dictoffset) {
		uint64_t slot, d;

		if (hw_objects_dictptr(c->o, c->s, c->obj, ti, &slot, c->e) < 0)
			return -1;
		if (slot) {
			if (hw_py_read_obj(c->s, slot, 0, "__dict__", &d, c->e) < 0 ||
			    emit(c, d, HW_EDGE_DICT, 0, -1, "__dict__", 0) < 0)
				return -1;
		}
	}
	if ((ti->flags & k->tpf_heaptype) &&
	    (k->subtype_visit_type_rule == 0 || !ti->base_traverse ||
	     !(ti->base_flags & k->tpf_heaptype)) &&
	    emit(c, ti->addr, HW_EDGE_TYPE, 0, -1, "__class__", 0) < 0)
		return -1;
	switch (ti->base_kind) {
	case HW_K_NONE:
		return 0;
	case HW_K_OPAQUE:
	case HW_K_SUBTYPE:
		*c->status = HW_REFS_PARTIAL;
		return 0;
	default:
		return by_kind(c, ti->base_kind, ti->base);
	}
}

static int by_kind(struct rctx *c, enum hw_kind kind, uint64_t type)
{
	switch (kind) {
	case HW_K_NONE:
		return 0;
	case HW_K_LIST:
		return r_list(c);
	case HW_K_TUPLE:
		return r_tuple(c);
	case HW_K_DICT:
		return r_dict(c);
	case HW_K_SET:
		return r_set(c);
	case HW_K_CELL:
		return FIELD(cell_ref, "cell_contents");
	case HW_K_FUNCTION:
		return r_function(c);
	case HW_K_METHOD:
		/* method_traverse; 2.7 instancemethod_traverse: and im_class */
		return FIELD(method_func, "__func__") || FIELD(method_self, "__self__") ||
		       FIELD(method_class, "im_class") ? -1 : 0;
	case HW_K_CLASS:
		/* 2.7 class_traverse */
		return FIELD(class_bases, "__bases__") ||
		       field(c, c->obj, c->f->class_dict, HW_EDGE_DICT, "__dict__") ||
		       FIELD(class_name, "__name__") || FIELD(class_getattr, "__getattr__") ||
		       FIELD(class_setattr, "__setattr__") ||
		       FIELD(class_delattr, "__delattr__") ? -1 : 0;
	case HW_K_INSTANCE:
		/* 2.7 instance_traverse */
		return field(c, c->obj, c->f->inst_class, HW_EDGE_TYPE, "__class__") ||
		       field(c, c->obj, c->f->inst_dict, HW_EDGE_DICT, "__dict__") ? -1 : 0;
	case HW_K_MODULE:
		return r_module(c);
	case HW_K_TYPE:
		return r_type(c);
	case HW_K_FRAME:
		return NO(c->f->frame_frame) ? r_frame_old(c) : r_frame_new(c);
	case HW_K_GEN:
		return r_gen(c, 0);
	case HW_K_ASYNCGEN:
		return r_gen(c, 1);
	case HW_K_WEAKREF:
		return FIELD(wr_callback, "__callback__");
	case HW_K_CLASSMETHOD:
	case HW_K_STATICMETHOD:
		return FIELD(cm_callable, "__func__") ||
		       field(c, c->obj, c->f->cm_dict, HW_EDGE_DICT, "__dict__") ? -1 : 0;
	case HW_K_PROPERTY:
		return FIELD(prop_get, "fget") || FIELD(prop_set, "fset") ||
		       FIELD(prop_del, "fdel") || FIELD(prop_doc, "__doc__") ||
		       FIELD(prop_name, "__name__") ? -1 : 0;
	case HW_K_CFUNCTION:
		return r_cfunction(c);
	case HW_K_DESCR:
		return FIELD(descr_type, "__objclass__");
	case HW_K_METHODWRAPPER:
		return FIELD(wrapper_descr, "descr") || FIELD(wrapper_self, "__self__") ? -1 : 0;
	case HW_K_MAPPINGPROXY:
		return FIELD(mappingproxy_mapping, "mapping");
	case HW_K_TRACEBACK:
		return FIELD(tb_next, "tb_next") || FIELD(tb_frame, "tb_frame") ? -1 : 0;
	case HW_K_EXCEPTION:
		return r_exception(c);
	case HW_K_SLICE:
		return FIELD(slice_start, "start") || FIELD(slice_stop, "stop") ||
		       FIELD(slice_step, "step") ? -1 : 0;
	case HW_K_NAMESPACE:
		return field(c, c->obj, c->f->ns_dict, HW_EDGE_DICT, "__dict__");
	case HW_K_ODICT:
		return r_odict(c);
	case HW_K_DEFDICT:
		if (NO(c->f->defdict_factory))
			break;
		return c_type_edge(c, type) || FIELD(defdict_factory, "default_factory") ||
		       r_dict(c) ? -1 : 0;
	case HW_K_PARTIAL:
		if (NO(c->f->partial_fn))
			break;
		return c_type_edge(c, type) || FIELD(partial_fn, "func") ||
		       FIELD(partial_args, "args") || FIELD(partial_kw, "keywords") ||
		       field(c, c->obj, c->f->partial_dict, HW_EDGE_DICT, "__dict__") ? -1 : 0;
	case HW_K_DEQUE:
		return r_deque(c, type);
	case HW_K_SUBTYPE:
	case HW_K_OPAQUE:
	case HW_K_COUNT:
		break;
	}
	*c->status = HW_REFS_OPAQUE;
	return 0;
}

int hw_obj_referents(struct hw_objects *o, struct hw_snap *s,
		     uint64_t obj_addr, uint64_t type_addr, hw_edge_fn fn,
		     void *arg, enum hw_refs_status *status, struct hw_err *e)
{
	const struct hw_typeinfo *ti;
	struct rctx c = { o, s, o->o, obj_addr, fn, arg, status, e };

	*status = HW_REFS_EXACT;
	if (!hw_py_plausible(obj_addr))
		return hw_err_set(e, HW_ECORRUPT, 0, "object pointer 0x%llx",
				  (unsigned long long)obj_addr);
	ti = hw_objects_type(o, s, type_addr, e);
	if (!ti)
		return hw_err_prefix(e, "object 0x%llx", (unsigned long long)obj_addr);
	if (ti->kind == HW_K_SUBTYPE)
		return r_subtype(&c, ti);
	return by_kind(&c, ti->kind, type_addr);
}
