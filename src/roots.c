/* roots.c - roots of the referrer graph; see include/heapwatch/roots.h. */
#include "heapwatch/roots.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "heapwatch/typename.h"

#define NO(v) ((v) < 0)
#define F(name) offsetof(struct hw_offsets, name)
#define TPFLAGS_HEAPTYPE (1ull << 9)
#define TPFLAGS_TYPE_SUBCLASS (1ull << 31)
#define MAX_EXC_ITEMS 256
#define NAME_MAX_BYTES 200

/* ------------------------------------------------------------------ */
/* module names */

struct hw_modnames {
	uint32_t *node;
	char **name;
	size_t n, cap;
	int sorted;
};

static int modnames_add(struct hw_modnames *m, uint32_t node, const char *name)
{
	char *copy;

	if (m->n == m->cap) {
		size_t nc = m->cap ? m->cap * 2 : 256;
		uint32_t *nn = realloc(m->node, nc * sizeof *nn);

		if (!nn)
			return -1;
		m->node = nn;
		char **na = realloc(m->name, nc * sizeof *na);

		if (!na)
			return -1;
		m->name = na;
		m->cap = nc;
	}
	if (!(copy = strdup(name)))
		return -1;
	m->node[m->n] = node;
	m->name[m->n++] = copy;
	m->sorted = 0;
	return 0;
}

const char *hw_modnames_get(const struct hw_modnames *m, uint32_t node)
{
	/* a few hundred modules: a linear scan is fine and keeps this const */
	if (!m)
		return NULL;
	for (size_t i = 0; i < m->n; i++)
		if (m->node[i] == node)
			return m->name[i];
	return NULL;
}

void hw_modnames_free(struct hw_modnames *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->n; i++)
		free(m->name[i]);
	free(m->node);
	free(m->name);
	free(m);
}

/* ------------------------------------------------------------------ */
/* reading */

struct rctx {
	struct hw_refgraph *g;
	struct hw_snap *s;
	const struct hw_offsets *o;
	struct hw_objects *obj;
	struct hw_roots_stats *st;
	struct hw_modnames *names;
	struct hw_err *e;
	/* what a few type addresses are */
	struct { uint64_t type; int code, module; } kinds[32];
	unsigned nkinds;
};

static void note(struct rctx *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void note(struct rctx *c, const char *fmt, ...)
{
	char line[256];
	size_t len = strlen(c->st->notes);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	if (strstr(c->st->notes, line))
		return;
	snprintf(c->st->notes + len, sizeof c->st->notes - len, "%s%s",
		 len ? "; " : "", line);
}

/* 0: read; 1: unreadable (skip it); -1: the copy lacks the memory or
 * another failure that ends the run (c->e filled). */
static int rd(struct rctx *c, uint64_t addr, void *out, size_t n)
{
	struct hw_err tmp;

	if (hw_snap_read(c->s, addr, out, n, &tmp) == 0)
		return 0;
	if (tmp.code == HW_EMISS) {
		hw_err_copy(c->e, &tmp);
		return -1;
	}
	return 1;
}

static int rd64(struct rctx *c, uint64_t addr, uint64_t *v)
{
	*v = 0;
	return rd(c, addr, v, 8);
}

/* A pointer field: 0 and the pointer, 1 when unreadable or implausible. */
static int ptr_at(struct rctx *c, uint64_t base, int64_t off, uint64_t *v)
{
	int r;

	*v = 0;
	if (NO(off) || !base)
		return 1;
	r = rd64(c, base + (uint64_t)off, v);
	if (r)
		return r;
	if (*v & 7 || *v >> 63)
		return *v = 0, 1;
	return *v ? 0 : 1;
}

static int add_root(struct rctx *c, uint64_t addr, enum hw_root_kind k,
		    const char *label)
{
	uint32_t n;

	if (!addr)
		return 0;
	n = hw_refgraph_find(c->g, addr);
	if (n == HW_RG_NONE)
		return 0; /* not GC-tracked: nothing to hold in the graph */
	return hw_refgraph_add_root(c->g, n, k, label, c->e);
}

/* A str as UTF-8, cut to size with "..."; "?" when unreadable. */
static int str_at(struct rctx *c, uint64_t addr, char *buf, size_t size)
{
	struct hw_err tmp;
	char big[1024];
	long n = hw_read_str(c->s, c->o, addr, big, sizeof big, &tmp);

	if (n < 0) {
		if (tmp.code == HW_EMISS) {
			hw_err_copy(c->e, &tmp);
			return -1;
		}
		snprintf(buf, size, "?");
		return 1;
	}
	if ((size_t)n < size) {
		memcpy(buf, big, (size_t)n + 1);
	} else {
		size_t k = size > 4 ? size - 4 : 0;

		while (k > 0 && ((unsigned char)big[k] & 0xc0) == 0x80)
			k--;
		memcpy(buf, big, k);
		memcpy(buf + k, "...", 4);
	}
	return 0;
}

/* Is the object at addr a code object / a module?  By its type's name,
 * cached per type address. */
static int kind_of(struct rctx *c, uint64_t addr, int *code, int *module)
{
	uint64_t t;
	char name[64];
	struct hw_err tmp;
	int r;

	*code = *module = 0;
	if ((r = ptr_at(c, addr, c->o->ob_type, &t)))
		return r;
	for (unsigned i = 0; i < c->nkinds; i++)
		if (c->kinds[i].type == t) {
			*code = c->kinds[i].code;
			*module = c->kinds[i].module;
			return 0;
		}
	if (hw_type_name(c->s, c->o, t, name, sizeof name, &tmp) < 0) {
		if (tmp.code == HW_EMISS) {
			hw_err_copy(c->e, &tmp);
			return -1;
		}
		return 1;
	}
	*code = strcmp(name, "code") == 0;
	*module = strcmp(name, "module") == 0;
	if (c->nkinds < sizeof c->kinds / sizeof c->kinds[0])
		c->kinds[c->nkinds++] = (typeof(c->kinds[0])){ t, *code, *module };
	return 0;
}

/* ------------------------------------------------------------------ */
/* interpreters */

static int interps(struct rctx *c, const struct hw_gcroots *gr,
		   uint64_t interp_head_addr, uint64_t *out, unsigned *n)
{
	const struct hw_offsets *o = c->o;
	uint64_t ip = 0;
	int r;

	*n = 0;
	if (gr->runtime_addr && !NO(o->rt_interp_head))
		r = ptr_at(c, gr->runtime_addr, o->rt_interp_head, &ip);
	else if (interp_head_addr)
		r = ptr_at(c, interp_head_addr, 0, &ip);
	else
		return note(c, "no interpreter list in this layout"), 0;
	if (r < 0)
		return -1;
	while (ip && *n < HW_GC_MAX_INTERPS) {
		for (unsigned k = 0; k < *n; k++)
			if (out[k] == ip)
				return 0;
		out[(*n)++] = ip;
		if (NO(o->interp_next) || (r = ptr_at(c, ip, o->interp_next, &ip)) > 0)
			break;
		if (r < 0)
			return -1;
	}
	return 0;
}

static const struct { size_t off; const char *label; } interp_held[] = {
	{ F(interp_modules), "sys.modules" },
	{ F(interp_modules_by_index), "interpreter modules_by_index (C modules)" },
	{ F(interp_sysdict), "sys.__dict__" },
	{ F(interp_builtins), "builtins.__dict__" },
	{ F(interp_builtins_copy), "interpreter builtins_copy" },
	{ F(interp_dict), "interpreter dict" },
	{ F(interp_importlib), "interpreter importlib" },
	{ F(interp_import_func), "interpreter import_func" },
	{ F(interp_codec_search_path), "codecs search path" },
	{ F(interp_codec_search_cache), "codecs search cache" },
	{ F(interp_codec_error_registry), "codecs error registry" },
	{ F(interp_before_forkers), "os.register_at_fork before" },
	{ F(interp_after_forkers_parent), "os.register_at_fork after_in_parent" },
	{ F(interp_after_forkers_child), "os.register_at_fork after_in_child" },
	{ F(interp_audit_hooks), "sys.addaudithook hooks" },
};

static int64_t field(const struct hw_offsets *o, size_t off)
{
	return *(const int64_t *)((const char *)o + off);
}

struct modlist {
	struct rctx *c;
	uint64_t *val, *key;
	size_t n, cap;
};

static int collect_modules(void *arg, const struct hw_edge *ed, struct hw_err *e)
{
	struct modlist *m = arg;

	(void)e;
	if (ed->kind != HW_EDGE_DICT_VALUE)
		return 0;
	if (m->n == m->cap) {
		size_t nc = m->cap ? m->cap * 2 : 256;
		uint64_t *v = realloc(m->val, nc * 8), *k;

		if (!v)
			return hw_err_set(e, HW_ENOMEM, ENOMEM, "listing sys.modules");
		m->val = v;
		if (!(k = realloc(m->key, nc * 8)))
			return hw_err_set(e, HW_ENOMEM, ENOMEM, "listing sys.modules");
		m->key = k;
		m->cap = nc;
	}
	m->val[m->n] = ed->to_addr;
	m->key[m->n++] = ed->key_addr;
	return 0;
}

static int module_roots(struct rctx *c, uint64_t interp, const char *prefix)
{
	const struct hw_offsets *o = c->o;
	uint64_t d, t;
	struct modlist m = { c, NULL, NULL, 0, 0 };
	enum hw_refs_status status = HW_REFS_OPAQUE;
	int r, rc = -1;

	if ((r = ptr_at(c, interp, o->interp_modules, &d)))
		return r < 0 ? -1 : (note(c, "sys.modules not readable"), 0);
	if ((r = ptr_at(c, d, o->ob_type, &t)))
		return r < 0 ? -1 : (note(c, "sys.modules not readable"), 0);
	if (hw_obj_referents(c->obj, c->s, d, t, collect_modules, &m, &status, c->e) < 0) {
		if (c->e->code == HW_EMISS || c->e->code == HW_ENOMEM)
			goto out;
		note(c, "sys.modules: %s", c->e->msg);
		rc = 0;
		goto out;
	}
	if (status == HW_REFS_OPAQUE)
		note(c, "sys.modules' entries unknown (dict referents not available)");
	for (size_t i = 0; i < m.n; i++) {
		char name[NAME_MAX_BYTES], label[NAME_MAX_BYTES + 64];
		int is_code, is_module;
		uint64_t def, copy;
		uint32_t node;

		if ((r = str_at(c, m.key[i], name, sizeof name)) < 0)
			goto out;
		snprintf(label, sizeof label, "%ssys.modules['%s']", prefix, name);
		if (add_root(c, m.val[i], HW_ROOT_MODULE, label) < 0)
			goto out;
		node = hw_refgraph_find(c->g, m.val[i]);
		if (node != HW_RG_NONE) {
			c->st->modules++;
			if (c->names && !hw_modnames_get(c->names, node) &&
			    modnames_add(c->names, node, name) < 0) {
				hw_err_set(c->e, HW_ENOMEM, ENOMEM, "module names");
				goto out;
			}
		}
		/* A single-phase C extension keeps a copy of its module's
		 * dict in its PyModuleDef (m_base.m_copy, import.c): that dict
		 * has no GC referrer but is no leak. */
		if (NO(o->mod_def) || NO(o->moduledef_copy))
			continue;
		if ((r = kind_of(c, m.val[i], &is_code, &is_module)) < 0)
			goto out;
		if (r || !is_module)
			continue;
		if ((r = ptr_at(c, m.val[i], o->mod_def, &def)) < 0)
			goto out;
		if (r)
			continue;
		if ((r = ptr_at(c, def, o->moduledef_copy, &copy)) < 0)
			goto out;
		if (r)
			continue;
		snprintf(label, sizeof label, "%sdict copy of module %s kept by its C definition (m_copy)",
			 prefix, name);
		if (hw_refgraph_find(c->g, copy) != HW_RG_NONE)
			c->st->module_copies++;
		if (add_root(c, copy, HW_ROOT_C_HELD, label) < 0)
			goto out;
	}
	rc = 0;
out:
	free(m.val);
	free(m.key);
	return rc;
}

/* 3.12+: the dicts of static types live in the interpreter, one entry per
 * type (static_builtin_state / managed_static_type_state). */
static int static_type_array(struct rctx *c, uint64_t interp, int64_t arr,
			     int64_t count)
{
	const struct hw_offsets *o = c->o;
	uint64_t n;
	int r;

	if (NO(arr) || NO(count) || NO(o->static_state_size) ||
	    NO(o->static_state_type) || NO(o->static_state_dict) ||
	    o->static_state_size <= 0)
		return 0;
	if ((r = rd64(c, interp + (uint64_t)count, &n)))
		return r < 0 ? -1 : 0;
	if (n > 4096) {
		note(c, "static types: implausible count %" PRIu64, n);
		return 0;
	}
	for (uint64_t i = 0; i < n; i++) {
		uint64_t ent = interp + (uint64_t)arr + i * (uint64_t)o->static_state_size;
		uint64_t type, dict;
		char name[HW_TYPENAME_MAX], label[HW_TYPENAME_MAX + 32];
		struct hw_err tmp;

		if ((r = ptr_at(c, ent, o->static_state_type, &type)) < 0 ||
		    (r == 0 && (r = ptr_at(c, ent, o->static_state_dict, &dict)) < 0))
			return -1;
		if (r)
			continue;
		if (hw_type_name(c->s, o, type, name, sizeof name, &tmp) < 0) {
			if (tmp.code == HW_EMISS)
				return hw_err_copy(c->e, &tmp), -1;
			snprintf(name, sizeof name, "at 0x%" PRIx64, type);
		}
		snprintf(label, sizeof label, "dict of static type %s", name);
		if (hw_refgraph_find(c->g, dict) != HW_RG_NONE)
			c->st->static_dicts++;
		if (add_root(c, dict, HW_ROOT_STATIC_TYPE, label) < 0)
			return -1;
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* threads */

/* The name of local i of a frame: from the names tuple, "?" if none. */
static int local_name(struct rctx *c, uint64_t names, uint64_t i, uint64_t count,
		      char *buf, size_t size)
{
	uint64_t s;
	int r;

	snprintf(buf, size, "?");
	if (!names || i >= count || NO(c->o->tuple_items))
		return 0;
	if ((r = rd64(c, names + (uint64_t)c->o->tuple_items + 8 * i, &s)))
		return r < 0 ? -1 : 0;
	return str_at(c, s, buf, size) < 0 ? -1 : 0;
}

static int tuple_len(struct rctx *c, uint64_t t, uint64_t *n)
{
	int64_t v = 0;
	int r;

	*n = 0;
	if (!t || NO(c->o->ob_size))
		return 0;
	if ((r = rd(c, t + (uint64_t)c->o->ob_size, &v, 8)))
		return r < 0 ? -1 : 0;
	if (v < 0 || v > HW_ROOTS_MAX_LOCALS)
		return note(c, "implausible tuple of names"), 0;
	*n = (uint64_t)v;
	return 0;
}

static int code_name(struct rctx *c, uint64_t code, char *buf, size_t size)
{
	uint64_t s = 0;
	int r;

	r = ptr_at(c, code, c->o->code_qualname, &s);
	if (r > 0)
		r = ptr_at(c, code, c->o->code_name, &s);
	if (r)
		return r < 0 ? -1 : (snprintf(buf, size, "?"), 0);
	return str_at(c, s, buf, size) < 0 ? -1 : 0;
}

/* Root the nslots slots at `slots` of a frame running code. */
static int frame_slots(struct rctx *c, const char *who, uint64_t code,
		       uint64_t slots, uint64_t nslots, uint64_t *names,
		       uint64_t *counts, unsigned ngroups)
{
	char fname[128], lname[NAME_MAX_BYTES], label[512];
	int stackrefs = !NO(c->o->stackref_size);

	if (code_name(c, code, fname, sizeof fname) < 0)
		return -1;
	if (nslots > HW_ROOTS_MAX_LOCALS) {
		note(c, "a frame with %" PRIu64 " locals skipped", nslots);
		return 0;
	}
	for (uint64_t i = 0; i < nslots; i++) {
		uint64_t v, k = i;
		unsigned gi = 0;
		int r;

		if ((r = rd64(c, slots + 8 * i, &v)) < 0)
			return -1;
		if (r)
			break;
		/* 3.14+ frame slots are _PyStackRef: tag bits in the low
		 * two; both set is a tagged int, not an object */
		if (stackrefs) {
			if ((v & 3) == 3)
				continue;
			v &= ~(uint64_t)3;
		}
		if (!v || hw_refgraph_find(c->g, v) == HW_RG_NONE)
			continue;
		while (gi + 1 < ngroups && k >= counts[gi])
			k -= counts[gi++];
		if (local_name(c, names[gi], k, counts[gi], lname, sizeof lname) < 0)
			return -1;
		snprintf(label, sizeof label, "%s frame %s local '%s'", who, fname, lname);
		if (add_root(c, v, HW_ROOT_THREAD, label) < 0)
			return -1;
		c->st->locals++;
	}
	return 0;
}


/* A frame's locals namespace when it is not its globals (a class body's;
 * a module's is its globals): a root named after the frame's code. */
static int namespace_root(struct rctx *c, const char *who, uint64_t code,
			  uint64_t f, int64_t locals_off, int64_t globals_off)
{
	uint64_t loc, glob;
	char label[512], fname[128];
	int r;

	if ((r = ptr_at(c, f, locals_off, &loc)) < 0)
		return -1;
	if (r || ptr_at(c, f, globals_off, &glob) < 0)
		return r ? 0 : -1;
	if (loc == glob)
		return 0;
	if (code_name(c, code, fname, sizeof fname) < 0)
		return -1;
	snprintf(label, sizeof label, "%s frame %s locals", who, fname);
	return add_root(c, loc, HW_ROOT_THREAD, label) < 0 ? -1 : 0;
}

/* <= 3.10: PyFrameObject chain from tstate->frame by f_back; locals are
 * f_localsplus[0 .. co_nlocals + len(co_cellvars) + len(co_freevars)). */
static int frames_objects(struct rctx *c, uint64_t f, const char *who)
{
	const struct hw_offsets *o = c->o;

	for (unsigned depth = 0; f && depth < HW_ROOTS_MAX_FRAMES; depth++) {
		uint64_t code, names[3] = { 0 }, counts[3] = { 0 };
		int32_t nlocals = 0;
		int r, is_code, is_module;

		c->st->frames++;
		if ((r = ptr_at(c, f, o->frame_code, &code)) < 0)
			return -1;
		if (r == 0 && (r = kind_of(c, code, &is_code, &is_module)) < 0)
			return -1;
		if (r == 0 && is_code && !NO(o->code_nlocals) && !NO(o->frame_localsplus)) {
			if ((r = rd(c, code + (uint64_t)o->code_nlocals, &nlocals, 4)) < 0)
				return -1;
			if (ptr_at(c, code, o->code_varnames, &names[0]) < 0 ||
			    ptr_at(c, code, o->code_cellvars, &names[1]) < 0 ||
			    ptr_at(c, code, o->code_freevars, &names[2]) < 0 ||
			    tuple_len(c, names[1], &counts[1]) < 0 ||
			    tuple_len(c, names[2], &counts[2]) < 0)
				return -1;
			if (r == 0 && nlocals >= 0) {
				counts[0] = (uint64_t)nlocals;
				if (frame_slots(c, who, code, f + (uint64_t)o->frame_localsplus,
						counts[0] + counts[1] + counts[2], names, counts, 3) < 0)
					return -1;
			}
			if (namespace_root(c, who, code, f, o->frame_locals,
					   o->frame_globals) < 0)
				return -1;
		}
		if ((r = ptr_at(c, f, o->frame_back, &f)) < 0)
			return -1;
		if (r)
			break;
	}
	return 0;
}

/* 3.11+: _PyInterpreterFrame chain by previous; locals are
 * localsplus[0 .. co_nlocalsplus), named by co_localsplusnames.  Shim
 * frames (C-stack entries, 3.12+) hold no code object: skipped. */
static int frames_interp(struct rctx *c, uint64_t f, const char *who)
{
	const struct hw_offsets *o = c->o;

	for (unsigned depth = 0; f && depth < HW_ROOTS_MAX_FRAMES; depth++) {
		uint64_t code, names = 0, count = 0;
		int32_t n = 0;
		int r, is_code = 0, is_module;

		c->st->frames++;
		if ((r = rd64(c, f + (uint64_t)o->iframe_code, &code)) < 0)
			return -1;
		if (!NO(o->stackref_size))
			code &= ~(uint64_t)3;
		if (r == 0 && code && !(code & 7) &&
		    (r = kind_of(c, code, &is_code, &is_module)) < 0)
			return -1;
		if (r == 0 && is_code && !NO(o->code_nlocalsplus)) {
			if ((r = rd(c, code + (uint64_t)o->code_nlocalsplus, &n, 4)) < 0)
				return -1;
			if (ptr_at(c, code, o->code_localsplusnames, &names) < 0 ||
			    tuple_len(c, names, &count) < 0)
				return -1;
			if (r == 0 && n >= 0 &&
			    frame_slots(c, who, code, f + (uint64_t)o->iframe_localsplus,
					(uint64_t)n, &names, &count, 1) < 0)
				return -1;
			if (namespace_root(c, who, code, f, o->iframe_locals,
					   o->iframe_globals) < 0)
				return -1;
		}
		if ((r = ptr_at(c, f, o->iframe_previous, &f)) < 0)
			return -1;
		if (r)
			break;
	}
	return 0;
}

static const struct { size_t off; const char *what; } thread_held[] = {
	{ F(ts_dict), "state dict" },
	{ F(ts_async_exc), "pending async exception" },
	{ F(ts_curexc_type), "exception being raised" },
	{ F(ts_curexc_value), "exception being raised" },
	{ F(ts_curexc_tb), "exception being raised" },
	{ F(ts_current_exception), "exception being raised" },
	{ F(ts_context), "contextvars context" },
	{ F(ts_async_gen_firstiter), "async generator hooks" },
	{ F(ts_async_gen_finalizer), "async generator hooks" },
};

static int thread_roots(struct rctx *c, uint64_t interp, const char *prefix)
{
	const struct hw_offsets *o = c->o;
	uint64_t ts, first;
	int r;

	if (NO(o->interp_threads) || NO(o->ts_next)) {
		note(c, "threads: not in this layout");
		return 0;
	}
	if ((r = ptr_at(c, interp, o->interp_threads, &ts)))
		return r < 0 ? -1 : 0;
	first = ts;
	for (unsigned k = 0; ts && k < HW_ROOTS_MAX_THREADS; k++) {
		uint64_t tid = 0, f, p;
		char who[96], label[256];

		c->st->threads++;
		if (!NO(o->ts_thread_id) && rd64(c, ts + (uint64_t)o->ts_thread_id, &tid) < 0)
			return -1;
		snprintf(who, sizeof who, "%sthread %" PRIu64, prefix, tid);
		for (size_t i = 0; i < sizeof thread_held / sizeof thread_held[0]; i++) {
			if ((r = ptr_at(c, ts, field(o, thread_held[i].off), &p)) < 0)
				return -1;
			snprintf(label, sizeof label, "%s %s", who, thread_held[i].what);
			if (r == 0 && add_root(c, p, HW_ROOT_THREAD, label) < 0)
				return -1;
		}
		/* exceptions being handled: the exc_info stack */
		if ((r = ptr_at(c, ts, o->ts_exc_info, &p)) < 0)
			return -1;
		for (unsigned d = 0; r == 0 && p && d < MAX_EXC_ITEMS; d++) {
			const int64_t offs[3] = { o->excitem_type, o->excitem_value, o->excitem_tb };
			uint64_t v;

			snprintf(label, sizeof label, "%s exception being handled", who);
			for (unsigned i = 0; i < 3; i++) {
				int rr = ptr_at(c, p, offs[i], &v);

				if (rr < 0)
					return -1;
				if (rr == 0 && add_root(c, v, HW_ROOT_THREAD, label) < 0)
					return -1;
			}
			if ((r = ptr_at(c, p, o->excitem_previous, &p)) < 0)
				return -1;
		}
		/* running frames */
		if (!NO(o->ts_frame) && !NO(o->frame_back)) {
			if ((r = ptr_at(c, ts, o->ts_frame, &f)) < 0 ||
			    (r == 0 && frames_objects(c, f, who) < 0))
				return -1;
		} else if (!NO(o->iframe_previous) && !NO(o->iframe_code) &&
			   !NO(o->iframe_localsplus)) {
			if (!NO(o->ts_current_frame))
				r = ptr_at(c, ts, o->ts_current_frame, &f);
			else if (!NO(o->ts_cframe) && !NO(o->cframe_current_frame) &&
				 (r = ptr_at(c, ts, o->ts_cframe, &p)) == 0)
				r = ptr_at(c, p, o->cframe_current_frame, &f);
			else
				r = r < 0 ? -1 : 1;
			if (r < 0 || (r == 0 && frames_interp(c, f, who) < 0))
				return -1;
		} else {
			note(c, "frames: not in this layout");
		}
		if ((r = ptr_at(c, ts, o->ts_next, &ts)) < 0)
			return -1;
		if (r || ts == first)
			break;
	}
	return 0;
}

/* ------------------------------------------------------------------ */

int hw_roots_find(struct hw_refgraph *g, struct hw_snap *s,
		  const struct hw_offsets *off, struct hw_objects *objects,
		  const struct hw_gcroots *gr, uint64_t interp_head_addr,
		  struct hw_modnames **names, struct hw_roots_stats *st,
		  struct hw_err *e)
{
	struct rctx c = { g, s, off, objects, st, NULL, e, { { 0, 0, 0 } }, 0 };
	uint64_t ips[HW_GC_MAX_INTERPS];
	unsigned n;

	memset(st, 0, sizeof *st);
	if (names) {
		*names = calloc(1, sizeof **names);
		if (!*names)
			return hw_err_set(e, HW_ENOMEM, ENOMEM, "module names");
		c.names = *names;
	}
	if (interps(&c, gr, interp_head_addr, ips, &n) < 0)
		goto fail;
	st->interps = n;
	for (unsigned i = 0; i < n; i++) {
		char prefix[32] = "";

		if (i)
			snprintf(prefix, sizeof prefix, "interpreter %u: ", i);
		for (size_t k = 0; k < sizeof interp_held / sizeof interp_held[0]; k++) {
			uint64_t p;
			char label[128];
			int r = ptr_at(&c, ips[i], field(off, interp_held[k].off), &p);

			if (r < 0)
				goto fail;
			snprintf(label, sizeof label, "%s%s", prefix, interp_held[k].label);
			if (r == 0 && add_root(&c, p, HW_ROOT_INTERP, label) < 0)
				goto fail;
		}
		if (module_roots(&c, ips[i], prefix) < 0 ||
		    static_type_array(&c, ips[i], off->interp_static_types,
				      off->interp_static_types_n) < 0 ||
		    static_type_array(&c, ips[i], off->interp_ext_types,
				      off->interp_ext_types_n) < 0 ||
		    thread_roots(&c, ips[i], prefix) < 0)
			goto fail;
	}
	return 0;
fail:
	if (names) {
		hw_modnames_free(*names);
		*names = NULL;
	}
	return -1;
}

/* ------------------------------------------------------------------ */
/* static types' dicts before 3.12 */

struct addrs {
	uint64_t a[16];
	unsigned n;
	int values_only;
};

static int collect_values(void *arg, const struct hw_edge *ed, struct hw_err *e)
{
	struct addrs *x = arg;

	(void)e;
	if (x->values_only && ed->kind != HW_EDGE_DICT_VALUE)
		return 0;
	if (x->n < sizeof x->a / sizeof x->a[0])
		x->a[x->n++] = ed->to_addr;
	return 0;
}

/* Is t a static type whose tp_dict is dict?  0 no, 1 yes, -1 error. */
static int static_type_of(struct rctx *c, uint64_t t, uint64_t dict)
{
	uint64_t meta, mflags, flags, d;
	int r;

	if ((r = ptr_at(c, t, c->o->ob_type, &meta)) ||
	    (r = rd64(c, meta + (uint64_t)c->o->tp_flags, &mflags)))
		return r < 0 ? -1 : 0;
	if (!(mflags & TPFLAGS_TYPE_SUBCLASS))
		return 0;
	if ((r = rd64(c, t + (uint64_t)c->o->tp_flags, &flags)))
		return r < 0 ? -1 : 0;
	if (flags & TPFLAGS_HEAPTYPE)
		return 0;
	if ((r = rd64(c, t + (uint64_t)c->o->tp_dict, &d)))
		return r < 0 ? -1 : 0;
	return d == dict;
}

static int referents_into(struct rctx *c, uint64_t addr, struct addrs *x)
{
	uint64_t t;
	enum hw_refs_status status = HW_REFS_OPAQUE;
	int r;

	if ((r = ptr_at(c, addr, c->o->ob_type, &t)))
		return r < 0 ? -1 : 0;
	if (hw_obj_referents(c->obj, c->s, addr, t, collect_values, x, &status, c->e) < 0)
		return c->e->code == HW_EMISS || c->e->code == HW_ENOMEM ? -1 : 0;
	return 0;
}

int hw_roots_static_dicts(struct hw_refgraph *g, struct hw_snap *s,
			  const struct hw_offsets *off,
			  struct hw_objects *objects, uint64_t dict_type,
			  struct hw_roots_stats *st, struct hw_err *e)
{
	struct rctx c = { g, s, off, objects, st, NULL, e, { { 0, 0, 0 } }, 0 };
	uint32_t n = hw_refgraph_nnodes(g);

	if (!dict_type || NO(off->tp_dict) || NO(off->tp_flags))
		return 0;
	for (uint32_t d = 0; d < n; d++) {
		const uint32_t *src;
		struct addrs vals = { { 0 }, 0, 1 };
		uint64_t daddr = hw_refgraph_addr(g, d);
		int found = 0;

		if (hw_refgraph_type(g, d) != dict_type ||
		    (hw_refgraph_flags(g, d) & HW_RGF_ROOT) ||
		    hw_refgraph_referrers(g, d, &src))
			continue;
		if (referents_into(&c, daddr, &vals) < 0)
			return -1;
		/* its values' referents that are no GC objects: a descriptor's
		 * d_type, a builtin __new__'s __self__ */
		for (unsigned i = 0; i < vals.n && !found; i++) {
			struct addrs refs = { { 0 }, 0, 0 };

			if (hw_refgraph_find(g, vals.a[i]) == HW_RG_NONE)
				continue;
			if (referents_into(&c, vals.a[i], &refs) < 0)
				return -1;
			for (unsigned k = 0; k < refs.n && !found; k++) {
				char name[HW_TYPENAME_MAX], label[HW_TYPENAME_MAX + 32];
				struct hw_err tmp;
				int r;

				if (hw_refgraph_find(g, refs.a[k]) != HW_RG_NONE)
					continue;
				if ((r = static_type_of(&c, refs.a[k], daddr)) < 0)
					return -1;
				if (!r)
					continue;
				if (hw_type_name(s, off, refs.a[k], name, sizeof name, &tmp) < 0) {
					if (tmp.code == HW_EMISS)
						return hw_err_copy(e, &tmp), -1;
					snprintf(name, sizeof name, "at 0x%" PRIx64, refs.a[k]);
				}
				snprintf(label, sizeof label, "dict of static type %s", name);
				if (hw_refgraph_add_root(g, d, HW_ROOT_STATIC_TYPE, label, e) < 0)
					return -1;
				st->static_dicts++;
				found = 1;
			}
		}
	}
	return 0;
}
