/* check_objects.c - the object model over synthetic heaps laid out with
 * the 3.11 layout (the pyenv 3.11.7 row of the built-in tables): the
 * referents, sizes and labels of well-formed containers and instances,
 * and clean, bounded errors for corrupt ones (huge sizes, loops in base
 * chains, unaligned and unmapped pointers, impossible dict tables). */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "heapwatch/objects.h"
#include "heapwatch/pyconst.h"
#include "heapwatch/pyread.h"
#include "heapwatch/snap.h"
#include "heapwatch/target.h"
#include "runner.h"
#include "synth.h"

#define TRAV(k) (0x7000000ull + (k) * 16)   /* fake traverse functions */

struct world {
	struct synth h;
	struct hw_layout l;
	struct hw_target t;
	struct hw_mem *m;
	struct hw_snap *s;
	struct hw_objects *o;
	uint64_t object, list, tuple, dict, set, str, type, longt, odict, deque;
};

/* A static type: name, traverse (0: none), sizes, flags, base; its
 * tp_mro is filled by set_mro(). */
static uint64_t mk_type(struct world *w, const char *name, uint64_t trav,
			int64_t basicsize, int64_t itemsize, uint64_t flags,
			uint64_t base)
{
	const struct hw_offsets *f = &w->h.o;
	uint64_t t = synth_type(&w->h, name, 0, NULL, NULL);

	synth_w64(&w->h, t + (uint64_t)f->tp_flags, flags);
	synth_w64(&w->h, t + (uint64_t)f->tp_traverse, trav);
	synth_w64(&w->h, t + (uint64_t)f->tp_basicsize, (uint64_t)basicsize);
	synth_w64(&w->h, t + (uint64_t)f->tp_itemsize, (uint64_t)itemsize);
	synth_w64(&w->h, t + (uint64_t)f->tp_base, base);
	return t;
}

/* An object of type t with room for n bytes and a 32-byte pre-header
 * (PyGC_Head and the managed words); not linked into a GC list: the
 * model reads objects, the walker finds them. */
static uint64_t mk_obj(struct world *w, uint64_t t, size_t n)
{
	uint64_t a = synth_alloc(&w->h, n + 32) + 32;

	synth_w64(&w->h, a, 1);
	synth_w64(&w->h, a + 8, t);
	return a;
}

static uint64_t mk_tuple(struct world *w, int n, const uint64_t *items)
{
	const struct hw_offsets *f = &w->h.o;
	uint64_t a = synth_alloc(&w->h, (size_t)f->tuple_items + 8 * (size_t)(n ? n : 1));

	synth_w64(&w->h, a + 8, w->tuple);
	synth_w64(&w->h, a + (uint64_t)f->ob_size, (uint64_t)n);
	for (int i = 0; i < n; i++)
		synth_w64(&w->h, a + (uint64_t)f->tuple_items + 8 * (uint64_t)i, items[i]);
	return a;
}

static void set_mro(struct world *w, uint64_t t, int n, const uint64_t *mro)
{
	synth_w64(&w->h, t + (uint64_t)w->h.o.tp_mro, mk_tuple(w, n, mro));
}

/* A C method table naming __sizeof__ for static type t, as the builtin
 * types that have a __sizeof__ of their own carry (the model takes a
 * table type's rule only when it defines one: 2.7's type does not). */
static void with_sizeof(struct world *w, uint64_t t)
{
	const struct hw_offsets *f = &w->h.o;
	uint64_t name = synth_alloc(&w->h, 16), defs, lo, hi;
	char buf[16] = "__sizeof__";

	memcpy(&lo, buf, 8);
	memcpy(&hi, buf + 8, 8);
	synth_w64(&w->h, name, lo);
	synth_w64(&w->h, name + 8, hi);
	defs = synth_alloc(&w->h, 2 * (size_t)f->methoddef_size);
	synth_w64(&w->h, defs + (uint64_t)f->methoddef_name, name);
	synth_w64(&w->h, t + (uint64_t)f->tp_methods, defs);
}

static void world_init(struct world *w)
{
	struct hw_err e;
	char key[256];
	const struct hw_offsets *f;

	memset(w, 0, sizeof *w);
	ck_assert_int_eq(hw_layout_table(0x030b07f0, 0, &w->l.off, key, sizeof key, &e), 0);
	synth_init(&w->h, &w->l.off, 1 << 22);
	f = &w->h.o;
	w->type = w->h.type_type;
	w->str = w->h.str_type;
	w->dict = w->h.dict_type;
	/* give the basic types what the model reads */
	synth_w64(&w->h, w->type + (uint64_t)f->tp_traverse, TRAV(1));
	synth_w64(&w->h, w->dict + (uint64_t)f->tp_traverse, TRAV(2));
	synth_w64(&w->h, w->dict + (uint64_t)f->tp_basicsize, 48);
	w->object = mk_type(w, "object", 0, 16, 0, 0, 0);
	w->list = mk_type(w, "list", TRAV(3), 40, 0, (1u << 14) | (1u << 25), w->object);
	w->tuple = mk_type(w, "tuple", TRAV(4), 24, 8, (1u << 14) | (1u << 26), w->object);
	w->set = mk_type(w, "set", TRAV(5), 200, 0, 1u << 14, w->object);
	w->longt = mk_type(w, "int", 0, 24, 4, 1u << 24, w->object);
	synth_w64(&w->h, w->dict + (uint64_t)f->tp_base, w->object);
	set_mro(w, w->object, 1, &w->object);
	set_mro(w, w->list, 2, (uint64_t[]){ w->list, w->object });
	set_mro(w, w->tuple, 2, (uint64_t[]){ w->tuple, w->object });
	set_mro(w, w->set, 2, (uint64_t[]){ w->set, w->object });
	set_mro(w, w->dict, 2, (uint64_t[]){ w->dict, w->object });
	set_mro(w, w->longt, 2, (uint64_t[]){ w->longt, w->object });
	set_mro(w, w->type, 2, (uint64_t[]){ w->type, w->object });
	w->t.pid = 1;
	w->t.version_hex = 0x030b07f0;
	snprintf(w->t.version, sizeof w->t.version, "3.11.7");
	w->t.objsym[HW_OBJSYM_object_type] = w->object;
	w->t.objsym[HW_OBJSYM_type_type] = w->type;
	w->t.objsym[HW_OBJSYM_list_type] = w->list;
	w->t.objsym[HW_OBJSYM_tuple_type] = w->tuple;
	w->t.objsym[HW_OBJSYM_dict_type] = w->dict;
	w->t.objsym[HW_OBJSYM_set_type] = w->set;
	w->t.objsym[HW_OBJSYM_unicode_type] = w->str;
	w->t.objsym[HW_OBJSYM_long_type] = w->longt;
	w->t.objsym[HW_OBJSYM_subtype_traverse] = TRAV(9);
	w->t.objsym[HW_OBJSYM_deque_traverse] = TRAV(20);
	w->t.objsym[HW_OBJSYM_defdict_traverse] = TRAV(21);
	w->t.objsym[HW_OBJSYM_partial_traverse] = TRAV(22);
	w->t.objsym[HW_OBJSYM_namespace_type] =
		mk_type(w, "types.SimpleNamespace", TRAV(23), 24, 0, 1u << 14, w->object);
	w->t.objsym[HW_OBJSYM_odict_type] = w->odict =
		mk_type(w, "collections.OrderedDict", TRAV(24), 112, 0,
			(1u << 14) | (1u << 29), w->dict);
	set_mro(w, w->odict, 3, (uint64_t[]){ w->odict, w->dict, w->object });
	w->deque = mk_type(w, "collections.deque", TRAV(20), 216, 0, 1u << 14, w->object);
	set_mro(w, w->deque, 2, (uint64_t[]){ w->deque, w->object });
	with_sizeof(w, w->list);
	with_sizeof(w, w->dict);
	with_sizeof(w, w->set);
	with_sizeof(w, w->type);
	with_sizeof(w, w->longt);
	with_sizeof(w, w->str);
	/* the dummy key of deleted set slots (sets are opaque without it) */
	{
		uint64_t var = synth_alloc(&w->h, 8);

		synth_w64(&w->h, var, synth_str(&w->h, "<dummy key>"));
		w->t.objsym[HW_OBJSYM_set_dummy] = var;
	}
	w->l.source = HW_SRC_TABLE;
	w->m = synth_mem(&w->h);
	w->s = hw_snap_new(w->m, 0, &e);
	ck_assert_ptr_nonnull(w->s);
	hw_snap_reset(w->s, 1);
	w->o = hw_objects_new(&w->t, &w->l, w->s, &e);
	ck_assert_msg(w->o != NULL, "%s", e.msg);
}

static void world_fini(struct world *w)
{
	hw_objects_free(w->o);
	hw_snap_free(w->s);
	hw_mem_free(w->m);
	synth_fini(&w->h);
}

/* Edges collected for checks. */
struct edges {
	uint64_t to[64];
	struct hw_edge ed[64];
	int n;
};

static int collect(void *arg, const struct hw_edge *ed, struct hw_err *e)
{
	struct edges *es = arg;

	(void)e;
	if (es->n < 64) {
		es->to[es->n] = ed->to_addr;
		es->ed[es->n] = *ed;
	}
	es->n++;
	return 0;
}

static int refs(struct world *w, uint64_t obj, struct edges *es,
		enum hw_refs_status *st, struct hw_err *e)
{
	uint64_t type = synth_r64(&w->h, obj + 8);

	memset(es, 0, sizeof *es);
	hw_err_clear(e);
	hw_snap_reset(w->s, 1);   /* the heap was written after the last read */
	return hw_obj_referents(w->o, w->s, obj, type, collect, es, st, e);
}

static int size_of(struct world *w, uint64_t obj, uint64_t type, uint64_t *bytes,
		   int *approx, struct hw_err *e)
{
	hw_snap_reset(w->s, 1);
	return hw_obj_size(w->o, w->s, obj, type, bytes, approx, e);
}

static int owned_of(struct world *w, uint64_t obj, uint64_t type, uint64_t *dict,
		    struct hw_err *e)
{
	hw_snap_reset(w->s, 1);
	return hw_obj_owned_dict(w->o, w->s, obj, type, dict, e);
}

static uint64_t mk_list(struct world *w, int64_t size, int64_t alloc, uint64_t items)
{
	const struct hw_offsets *f = &w->h.o;
	uint64_t l = mk_obj(w, w->list, 64);

	synth_w64(&w->h, l + (uint64_t)f->ob_size, (uint64_t)size);
	synth_w64(&w->h, l + (uint64_t)f->list_allocated, (uint64_t)alloc);
	synth_w64(&w->h, l + (uint64_t)f->list_items, items);
	return l;
}

START_TEST(test_list)
{
	struct world w;
	struct edges es;
	enum hw_refs_status st;
	struct hw_err e;
	uint64_t items, a, b, bytes, l;
	int approx;
	char label[64];

	world_init(&w);
	a = synth_str(&w.h, "a");
	b = synth_str(&w.h, "b");
	items = synth_alloc(&w.h, 8 * 4);
	synth_w64(&w.h, items, a);
	synth_w64(&w.h, items + 8, 0);       /* NULL: skipped, as Py_VISIT does */
	synth_w64(&w.h, items + 16, b);
	l = mk_list(&w, 3, 4, items);
	ck_assert_int_eq(refs(&w, l, &es, &st, &e), 0);
	ck_assert_int_eq(st, HW_REFS_EXACT);
	ck_assert_int_eq(es.n, 2);
	/* list_traverse counts down */
	ck_assert(es.to[0] == b && es.ed[0].index == 2 && es.ed[0].kind == HW_EDGE_INDEX);
	ck_assert(es.to[1] == a && es.ed[1].index == 0);
	ck_assert_int_eq(hw_edge_label(w.o, w.s, &es.ed[0], label, sizeof label, &e), 0);
	ck_assert_str_eq(label, "[2]");
	/* sys.getsizeof: basicsize + 8 * allocated + PyGC_Head */
	ck_assert_int_eq(size_of(&w, l, w.list, &bytes, &approx, &e), 0);
	ck_assert_int_eq(bytes, 40 + 8 * 4 + 16);
	ck_assert_int_eq(approx, 0);
	world_fini(&w);
}
END_TEST

START_TEST(test_list_corrupt)
{
	struct world w;
	struct edges es;
	enum hw_refs_status st;
	struct hw_err e;
	uint64_t items, l;

	world_init(&w);
	items = synth_alloc(&w.h, 64);
	/* size beyond allocated */
	l = mk_list(&w, 9, 4, items);
	ck_assert_int_eq(refs(&w, l, &es, &st, &e), -1);
	ck_assert_int_eq(e.code, HW_ECORRUPT);
	/* a huge allocation claim is refused before any read */
	l = mk_list(&w, 1ll << 40, 1ll << 40, items);
	ck_assert_int_eq(refs(&w, l, &es, &st, &e), -1);
	ck_assert_int_eq(e.code, HW_ECORRUPT);
	/* negative size */
	l = mk_list(&w, -1, 4, items);
	ck_assert_int_eq(refs(&w, l, &es, &st, &e), -1);
	ck_assert_int_eq(e.code, HW_ECORRUPT);
	/* an unaligned item pointer */
	synth_w64(&w.h, items, SYNTH_BASE + 4097);
	l = mk_list(&w, 1, 1, items);
	ck_assert_int_eq(refs(&w, l, &es, &st, &e), -1);
	ck_assert_int_eq(e.code, HW_ECORRUPT);
	ck_assert_msg(strstr(e.msg, "not an object"), "%s", e.msg);
	/* a plausible claim whose items are not mapped: an I/O error, fast */
	l = mk_list(&w, 1 << 20, 1 << 20, SYNTH_BASE + (4u << 20) - 4096);
	ck_assert_int_eq(refs(&w, l, &es, &st, &e), -1);
	ck_assert_int_eq(e.code, HW_EIO);
	ck_assert_int_eq(es.n, 0);
	/* an items pointer that is not a pointer */
	l = mk_list(&w, 2, 2, 12345);
	ck_assert_int_eq(refs(&w, l, &es, &st, &e), -1);
	ck_assert_int_eq(e.code, HW_ECORRUPT);
	world_fini(&w);
}
END_TEST

START_TEST(test_tuple_corrupt)
{
	struct world w;
	struct edges es;
	enum hw_refs_status st;
	struct hw_err e;
	uint64_t t, x = 0;

	world_init(&w);
	t = mk_tuple(&w, 1, &x);
	synth_w64(&w.h, t + (uint64_t)w.h.o.ob_size, 1ull << 62);
	ck_assert_int_eq(refs(&w, t, &es, &st, &e), -1);
	ck_assert_int_eq(e.code, HW_ECORRUPT);
	world_fini(&w);
}
END_TEST

/* A combined dict of n entries; kind 0 general (24-byte entries with
 * the hash) or 1 unicode (16-byte). */
static uint64_t mk_dict(struct world *w, int kind, int n, const uint64_t *keys,
			const uint64_t *vals, uint64_t *keysobj)
{
	const struct hw_offsets *f = &w->h.o;
	uint64_t d = mk_obj(w, w->dict, 64);
	uint64_t es = (uint64_t)(kind ? f->dk_uentry_size : f->dk_entry_size);
	uint64_t k = synth_alloc(&w->h, (size_t)f->dk_indices + 8 + 8 * es);
	uint64_t ent = k + (uint64_t)f->dk_indices + 8;

	synth_w64(&w->h, d + (uint64_t)f->dict_keys, k);
	synth_w64(&w->h, d + (uint64_t)f->dict_values, 0);
	synth_w64(&w->h, k + (uint64_t)f->dk_refcnt, 1);
	synth_w8(&w->h, k + (uint64_t)f->dk_log2_size, 3);
	synth_w8(&w->h, k + (uint64_t)f->dk_log2_index_bytes, 3);
	synth_w8(&w->h, k + (uint64_t)f->dk_kind, (uint8_t)kind);
	synth_w64(&w->h, k + (uint64_t)f->dk_nentries, (uint64_t)n);
	synth_w64(&w->h, k + (uint64_t)f->dk_usable, (uint64_t)(5 - n));
	for (int i = 0; i < n; i++) {
		synth_w64(&w->h, ent + es * (uint64_t)i +
			  (uint64_t)(kind ? f->dk_uentry_key : f->dk_entry_key), keys[i]);
		synth_w64(&w->h, ent + es * (uint64_t)i +
			  (uint64_t)(kind ? f->dk_uentry_value : f->dk_entry_value), vals[i]);
	}
	if (keysobj)
		*keysobj = k;
	return d;
}

static uint64_t mk_int(struct world *w, int64_t v)
{
	uint64_t a = synth_alloc(&w->h, 32);

	synth_w64(&w->h, a + 8, w->longt);
	synth_w64(&w->h, a + (uint64_t)w->h.o.ob_size, v ? 1 : 0);
	synth_w32(&w->h, a + (uint64_t)w->h.o.long_digits, (uint32_t)v);
	return a;
}

START_TEST(test_dict)
{
	struct world w;
	struct edges es;
	enum hw_refs_status st;
	struct hw_err e;
	uint64_t keys[3], vals[3], d, k, bytes;
	int approx;
	char label[128];

	world_init(&w);
	keys[0] = synth_str(&w.h, "_expected");
	keys[1] = synth_str(&w.h, "it's");
	keys[2] = synth_str(&w.h, "zz");
	vals[0] = mk_list(&w, 0, 0, 0);
	vals[1] = 0;                       /* a deleted entry */
	vals[2] = mk_list(&w, 0, 0, 0);
	/* unicode keys: values only */
	d = mk_dict(&w, 1, 3, keys, vals, &k);
	ck_assert_int_eq(refs(&w, d, &es, &st, &e), 0);
	ck_assert_int_eq(es.n, 2);
	ck_assert_int_eq(es.ed[0].kind, HW_EDGE_DICT_VALUE);
	ck_assert_int_eq(hw_edge_label(w.o, w.s, &es.ed[0], label, sizeof label, &e), 0);
	ck_assert_str_eq(label, "['_expected']");
	/* 48 + keys: 32 + 8 index bytes + 5 usable * 16 + GC head */
	ck_assert_int_eq(size_of(&w, d, w.dict, &bytes, &approx, &e), 0);
	ck_assert_int_eq(bytes, 48 + 32 + 8 + 5 * 16 + 16);
	/* shared keys (dk_refcnt 2): counted in the class, not here */
	synth_w64(&w.h, k + (uint64_t)w.h.o.dk_refcnt, 2);
	ck_assert_int_eq(size_of(&w, d, w.dict, &bytes, &approx, &e), 0);
	ck_assert_int_eq(bytes, 48 + 16);
	/* general keys: value then key; an int key labels as [42], a
	 * quote is escaped */
	keys[0] = mk_int(&w, 42);
	d = mk_dict(&w, 0, 3, keys, vals, NULL);
	ck_assert_int_eq(refs(&w, d, &es, &st, &e), 0);
	ck_assert_int_eq(es.n, 4);
	ck_assert(es.ed[1].kind == HW_EDGE_DICT_KEY && es.to[1] == keys[0]);
	ck_assert_int_eq(hw_edge_label(w.o, w.s, &es.ed[0], label, sizeof label, &e), 0);
	ck_assert_str_eq(label, "[42]");
	ck_assert_int_eq(hw_edge_label(w.o, w.s, &es.ed[2], label, sizeof label, &e), 0);
	ck_assert_str_eq(label, "['zz']");
	vals[0] = mk_list(&w, 0, 0, 0);
	keys[0] = keys[1];
	d = mk_dict(&w, 1, 1, keys, vals, NULL);
	ck_assert_int_eq(refs(&w, d, &es, &st, &e), 0);
	ck_assert_int_eq(hw_edge_label(w.o, w.s, &es.ed[0], label, sizeof label, &e), 0);
	ck_assert_str_eq(label, "['it\\'s']");
	world_fini(&w);
}
END_TEST

START_TEST(test_dict_corrupt)
{
	struct world w;
	struct edges es;
	enum hw_refs_status st;
	struct hw_err e;
	uint64_t keys[1], vals[1], d, k;

	world_init(&w);
	keys[0] = synth_str(&w.h, "a");
	vals[0] = keys[0];
	d = mk_dict(&w, 1, 1, keys, vals, &k);
	/* more entries than slots */
	synth_w64(&w.h, k + (uint64_t)w.h.o.dk_nentries, 1000);
	ck_assert_int_eq(refs(&w, d, &es, &st, &e), -1);
	ck_assert_int_eq(e.code, HW_ECORRUPT);
	/* 2^60 slots */
	synth_w64(&w.h, k + (uint64_t)w.h.o.dk_nentries, 1);
	synth_w8(&w.h, k + (uint64_t)w.h.o.dk_log2_size, 60);
	synth_w8(&w.h, k + (uint64_t)w.h.o.dk_log2_index_bytes, 60);
	ck_assert_int_eq(refs(&w, d, &es, &st, &e), -1);
	ck_assert_int_eq(e.code, HW_ECORRUPT);
	/* an unknown keys kind */
	synth_w8(&w.h, k + (uint64_t)w.h.o.dk_log2_size, 3);
	synth_w8(&w.h, k + (uint64_t)w.h.o.dk_log2_index_bytes, 3);
	synth_w8(&w.h, k + (uint64_t)w.h.o.dk_kind, 7);
	ck_assert_int_eq(refs(&w, d, &es, &st, &e), -1);
	ck_assert_int_eq(e.code, HW_ECORRUPT);
	/* keys pointer NULL */
	synth_w64(&w.h, d + (uint64_t)w.h.o.dict_keys, 0);
	ck_assert_int_eq(refs(&w, d, &es, &st, &e), -1);
	ck_assert_int_eq(e.code, HW_ECORRUPT);
	world_fini(&w);
}
END_TEST

START_TEST(test_set)
{
	struct world w;
	struct edges es;
	enum hw_refs_status st;
	struct hw_err e;
	uint64_t s, a, bytes;
	int approx;
	const struct hw_offsets *f;

	world_init(&w);
	f = &w.h.o;
	a = synth_str(&w.h, "x");
	s = mk_obj(&w, w.set, 256);
	synth_w64(&w.h, s + (uint64_t)f->set_mask, 7);
	synth_w64(&w.h, s + (uint64_t)f->set_table, s + (uint64_t)f->set_smalltable);
	synth_w64(&w.h, s + (uint64_t)f->set_smalltable + 16 * 3 + (uint64_t)f->setentry_key, a);
	ck_assert_int_eq(refs(&w, s, &es, &st, &e), 0);
	ck_assert_int_eq(es.n, 1);
	ck_assert(es.to[0] == a);
	ck_assert_int_eq(size_of(&w, s, w.set, &bytes, &approx, &e), 0);
	ck_assert_int_eq(bytes, 200 + 16);   /* small table: no extra */
	/* a mask that is not 2^n - 1 */
	synth_w64(&w.h, s + (uint64_t)f->set_mask, 6);
	ck_assert_int_eq(refs(&w, s, &es, &st, &e), -1);
	ck_assert_int_eq(e.code, HW_ECORRUPT);
	world_fini(&w);
}
END_TEST

/* A heap type made by a class statement: subtype_traverse, managed dict
 * (3.11), optional slots (PyMemberDef array after the type object). */
static uint64_t mk_class(struct world *w, uint64_t base, int nslots, int64_t basicsize)
{
	const struct hw_offsets *f = &w->h.o;
	uint64_t t = synth_type(&w->h, "C", 1, "C", "__main__");
	uint64_t members = t + (uint64_t)f->ht_size;

	synth_w64(&w->h, w->type + (uint64_t)f->tp_basicsize, (uint64_t)f->ht_size);
	synth_w64(&w->h, t + (uint64_t)f->tp_flags,
		  (1u << 9) | (1u << 14) | (nslots ? 0 : (1u << 4)));
	synth_w64(&w->h, t + (uint64_t)f->tp_traverse, TRAV(9));
	synth_w64(&w->h, t + (uint64_t)f->tp_basicsize, (uint64_t)basicsize);
	synth_w64(&w->h, t + (uint64_t)f->tp_base, base);
	synth_w64(&w->h, t + (uint64_t)f->ob_size, (uint64_t)nslots);
	for (int i = 0; i < nslots; i++) {
		uint64_t m = members + (uint64_t)i * (uint64_t)f->memberdef_size;
		uint64_t name = synth_alloc(&w->h, 8);

		synth_w8(&w->h, name, (uint8_t)('a' + i));
		synth_w64(&w->h, m + (uint64_t)f->memberdef_name, name);
		synth_w32(&w->h, m + (uint64_t)f->memberdef_type, 16);   /* T_OBJECT_EX */
		synth_w64(&w->h, m + (uint64_t)f->memberdef_offset, 16 + 8 * (uint64_t)i);
	}
	set_mro(w, t, 2, (uint64_t[]){ t, w->object });
	return t;
}

START_TEST(test_instances)
{
	struct world w;
	struct edges es;
	enum hw_refs_status st;
	struct hw_err e;
	uint64_t c, x, v, d, bytes, keys[1], vals[1];
	int approx;
	char label[64];

	world_init(&w);
	/* __slots__ = ('a', 'b'): a set, b empty */
	c = mk_class(&w, w.object, 2, 32);
	x = mk_obj(&w, c, 64);
	v = mk_list(&w, 0, 0, 0);
	synth_w64(&w.h, x + 16, v);
	ck_assert_int_eq(refs(&w, x, &es, &st, &e), 0);
	ck_assert_int_eq(st, HW_REFS_EXACT);
	ck_assert_int_eq(es.n, 2);                 /* the slot, the type */
	ck_assert(es.to[0] == v && es.ed[0].kind == HW_EDGE_SLOT);
	ck_assert(es.to[1] == c && es.ed[1].kind == HW_EDGE_TYPE);
	ck_assert_int_eq(hw_edge_label(w.o, w.s, &es.ed[0], label, sizeof label, &e), 0);
	ck_assert_str_eq(label, ".a");
	ck_assert_int_eq(size_of(&w, x, c, &bytes, &approx, &e), 0);
	ck_assert_int_eq(bytes, 32 + 16);
	/* a managed dict (3.11: the pointer at -24, values at -32) */
	c = mk_class(&w, w.object, 0, 16);
	x = mk_obj(&w, c, 64);
	keys[0] = synth_str(&w.h, "k");
	vals[0] = v;
	d = mk_dict(&w, 1, 1, keys, vals, NULL);
	synth_w64(&w.h, x - 24, d);
	ck_assert_int_eq(refs(&w, x, &es, &st, &e), 0);
	ck_assert_int_eq(es.n, 2);
	ck_assert(es.to[0] == d && es.ed[0].kind == HW_EDGE_DICT);
	ck_assert_int_eq(owned_of(&w, x, c, &v, &e), 0);
	ck_assert(v == d);
	/* pre-header: GC head + the two managed words */
	ck_assert_int_eq(size_of(&w, x, c, &bytes, &approx, &e), 0);
	ck_assert_int_eq(bytes, 16 + 16 + 16);
	/* a dict pointer that is not one */
	synth_w64(&w.h, x - 24, 0x1234567);
	ck_assert_int_eq(refs(&w, x, &es, &st, &e), -1);
	ck_assert_int_eq(e.code, HW_ECORRUPT);
	world_fini(&w);
}
END_TEST

START_TEST(test_types_corrupt)
{
	struct world w;
	struct edges es;
	enum hw_refs_status st;
	struct hw_err e;
	uint64_t c, x;

	world_init(&w);
	/* a base chain that loops: bounded, refused */
	c = mk_class(&w, 0, 0, 16);
	synth_w64(&w.h, c + (uint64_t)w.h.o.tp_base, c);
	x = mk_obj(&w, c, 64);
	ck_assert_int_eq(refs(&w, x, &es, &st, &e), -1);
	ck_assert_int_eq(e.code, HW_ECORRUPT);
	ck_assert_msg(strstr(e.msg, "base chain"), "%s", e.msg);
	/* a million slots */
	hw_objects_forget(w.o);
	c = mk_class(&w, w.object, 0, 16);
	synth_w64(&w.h, c + (uint64_t)w.h.o.ob_size, 1000000);
	x = mk_obj(&w, c, 64);
	ck_assert_int_eq(refs(&w, x, &es, &st, &e), -1);
	ck_assert_int_eq(e.code, HW_ECORRUPT);
	/* an absurd basicsize */
	c = mk_class(&w, w.object, 0, 1ll << 40);
	x = mk_obj(&w, c, 64);
	ck_assert_int_eq(refs(&w, x, &es, &st, &e), -1);
	ck_assert_int_eq(e.code, HW_ECORRUPT);
	/* an unknown traverse: opaque, nothing guessed */
	c = mk_type(&w, "ext.Thing", 0x6000000, 48, 0, 1u << 14, w.object);
	x = mk_obj(&w, c, 64);
	ck_assert_int_eq(refs(&w, x, &es, &st, &e), 0);
	ck_assert_int_eq(st, HW_REFS_OPAQUE);
	ck_assert_int_eq(es.n, 0);
	/* a type pointer that is not one */
	ck_assert_int_eq(hw_obj_referents(w.o, w.s, x, 12345, collect, &es, &st, &e), -1);
	ck_assert_int_eq(e.code, HW_ECORRUPT);
	world_fini(&w);
}
END_TEST

START_TEST(test_c_types_corrupt)
{
	struct world w;
	struct edges es;
	enum hw_refs_status st;
	struct hw_err e;
	const struct hw_offsets *f;
	uint64_t keys[2], vals[2], od, n1, n2, dq, b1, b2;

	world_init(&w);
	f = &w.h.o;
	/* an OrderedDict whose node list loops */
	keys[0] = synth_str(&w.h, "a");
	keys[1] = synth_str(&w.h, "b");
	vals[0] = vals[1] = keys[0];
	od = mk_dict(&w, 1, 2, keys, vals, NULL);
	synth_w64(&w.h, od + 8, w.odict);
	n1 = synth_alloc(&w.h, 32);
	n2 = synth_alloc(&w.h, 32);
	synth_w64(&w.h, n1 + (uint64_t)f->odictnode_key, keys[0]);
	synth_w64(&w.h, n1 + (uint64_t)f->odictnode_next, n2);
	synth_w64(&w.h, n2 + (uint64_t)f->odictnode_key, keys[1]);
	synth_w64(&w.h, n2 + (uint64_t)f->odictnode_next, 0);
	synth_w64(&w.h, od + (uint64_t)f->odict_first, n1);
	ck_assert_int_eq(refs(&w, od, &es, &st, &e), 0);
	ck_assert_int_eq(st, HW_REFS_EXACT);
	ck_assert_int_eq(es.n, 4);         /* two node keys, two values */
	synth_w64(&w.h, n2 + (uint64_t)f->odictnode_next, n1);
	ck_assert_int_eq(refs(&w, od, &es, &st, &e), -1);
	ck_assert_int_eq(e.code, HW_ECORRUPT);
	/* a deque of two blocks, then one whose blocks loop */
	dq = mk_obj(&w, w.deque, 256);
	b1 = synth_alloc(&w.h, 528);
	b2 = synth_alloc(&w.h, 528);
	synth_w64(&w.h, b1 + (uint64_t)f->block_rightlink, b2);
	synth_w64(&w.h, b1 + (uint64_t)f->block_data + 63 * 8, keys[0]);
	synth_w64(&w.h, b2 + (uint64_t)f->block_data, keys[1]);
	synth_w64(&w.h, dq + (uint64_t)f->ob_size, 2);
	synth_w64(&w.h, dq + (uint64_t)f->deque_leftblock, b1);
	synth_w64(&w.h, dq + (uint64_t)f->deque_rightblock, b2);
	synth_w64(&w.h, dq + (uint64_t)f->deque_leftindex, 63);
	synth_w64(&w.h, dq + (uint64_t)f->deque_rightindex, 0);
	ck_assert_int_eq(refs(&w, dq, &es, &st, &e), 0);
	ck_assert_int_eq(es.n, 2);
	ck_assert(es.to[0] == keys[0] && es.to[1] == keys[1]);
	synth_w64(&w.h, b2 + (uint64_t)f->block_rightlink, b1);
	synth_w64(&w.h, dq + (uint64_t)f->deque_rightblock, synth_alloc(&w.h, 528));
	ck_assert_int_eq(refs(&w, dq, &es, &st, &e), -1);
	ck_assert_int_eq(e.code, HW_ECORRUPT);
	ck_assert_msg(strstr(e.msg, "blocks"), "%s", e.msg);
	/* an index outside a block */
	synth_w64(&w.h, dq + (uint64_t)f->deque_leftindex, 64);
	ck_assert_int_eq(refs(&w, dq, &es, &st, &e), -1);
	ck_assert_int_eq(e.code, HW_ECORRUPT);
	world_fini(&w);
}
END_TEST

/* Entries of a 2.7 table, for test_dict27. */
struct entries27 {
	uint64_t key[16], value[16];
	int n;
};

static int collect27(void *arg, const struct hw_dict_entry *en, struct hw_err *e)
{
	struct entries27 *x = arg;

	(void)e;
	if (x->n < 16) {
		x->key[x->n] = en->key;
		x->value[x->n] = en->value;
	}
	x->n++;
	return 0;
}

/* 2.7 dicts: a table of their own (ma_mask + 1 PyDictEntry at ma_table,
 * ma_smalltable inside the object), chosen by the layout's dict_mask;
 * a deleted slot keeps the dummy key and no value; a mask that is no
 * power of two less one, or a table pointer no object could have, is
 * corrupt. */
START_TEST(test_dict27)
{
	struct world w;
	struct hw_offsets o27;
	struct hw_dict_info di;
	struct entries27 x;
	struct hw_err e;
	uint64_t d, k1, v1, dummy;

	world_init(&w);
	o27 = w.h.o;
	o27.dict_mask = 32;
	o27.dict_keys = 40;
	o27.dict_smalltable = 56;
	o27.dict_values = HW_NOFIELD;
	o27.dk_entry_size = 24;
	o27.dk_entry_key = 8;
	o27.dk_entry_value = 16;
	d = synth_alloc(&w.h, 56 + 8 * 24);
	k1 = synth_alloc(&w.h, 64);
	v1 = synth_alloc(&w.h, 64);
	dummy = synth_alloc(&w.h, 64);
	synth_w64(&w.h, d + 32, 7);
	synth_w64(&w.h, d + 40, d + 56);
	synth_w64(&w.h, d + 56 + 2 * 24 + 8, k1);
	synth_w64(&w.h, d + 56 + 2 * 24 + 16, v1);
	synth_w64(&w.h, d + 56 + 5 * 24 + 8, dummy);   /* deleted */
	hw_snap_reset(w.s, 1);
	ck_assert_int_eq(hw_dict_info(w.s, &o27, d, 0, 0, &di, &e), 0);
	ck_assert_int_eq(di.dk_nentries, 8);
	ck_assert(di.general && !di.split);
	ck_assert(di.entries == d + 56);
	memset(&x, 0, sizeof x);
	ck_assert_int_eq(hw_dict_entries(w.s, &o27, &di, collect27, &x, &e), 0);
	ck_assert_int_eq(x.n, 8);
	ck_assert(x.key[2] == k1 && x.value[2] == v1);
	ck_assert(x.key[5] == dummy && x.value[5] == 0);
	/* corrupt: a mask of 6, then a table at 0x10 */
	synth_w64(&w.h, d + 32, 6);
	hw_snap_reset(w.s, 1);
	ck_assert_int_eq(hw_dict_info(w.s, &o27, d, 0, 0, &di, &e), -1);
	ck_assert_int_eq(e.code, HW_ECORRUPT);
	synth_w64(&w.h, d + 32, 7);
	synth_w64(&w.h, d + 40, 0x10);
	hw_snap_reset(w.s, 1);
	ck_assert_int_eq(hw_dict_info(w.s, &o27, d, 0, 0, &di, &e), -1);
	ck_assert_int_eq(e.code, HW_ECORRUPT);
	world_fini(&w);
}
END_TEST

START_TEST(test_refused)
{
	struct world w;
	struct hw_layout l;
	struct hw_target t;
	struct hw_err e;

	world_init(&w);
	/* 3.0-3.5 have no model */
	t = w.t;
	t.version_hex = 0x030509f0;
	ck_assert_ptr_null(hw_objects_new(&t, &w.l, w.s, &e));
	ck_assert_int_eq(e.code, HW_EVERSION);
	/* a layout without the object fields (a hand-written row) */
	l = w.l;
	l.off.list_items = HW_NOFIELD;
	ck_assert_ptr_null(hw_objects_new(&w.t, &l, w.s, &e));
	ck_assert_int_eq(e.code, HW_ELAYOUT);
	ck_assert_msg(strstr(e.msg, "list_items"), "%s", e.msg);
	world_fini(&w);
}
END_TEST

START_TEST(test_pyconst_rows)
{
	/* 2.7 and every version from 3.6 have a row; gh-130327 by patch
	 * release */
	ck_assert_ptr_null(hw_pyconst_for(0x020600f0));
	ck_assert_ptr_null(hw_pyconst_for(0x030509f0));
	ck_assert_ptr_nonnull(hw_pyconst_for(0x02070ff0));
	ck_assert_int_eq(hw_pyconst_for(0x02070ff0)->sizeof_preheader_rule, 0);
	ck_assert_int_eq(hw_pyconst_for(0x02070ff0)->subtype_visit_type_rule, 0);
	ck_assert_int_eq(hw_pyconst_for(0x02070ff0)->managed_dict_at, HW_NOCONST);
	ck_assert_ptr_nonnull(hw_pyconst_for(0x030600f0));
	ck_assert_int_eq(hw_pyconst_for(0x030d00f0)->managed_dict_first, 0);
	ck_assert_int_eq(hw_pyconst_for(0x030d12f0)->managed_dict_first, 1);
	ck_assert_int_eq(hw_pyconst_for(0x030e0af0)->managed_dict_first, 1);
	ck_assert_int_eq(hw_pyconst_for(0x030b07f0)->managed_values_at, -32);
	ck_assert_int_eq(hw_pyconst_for(0x030c01f0)->managed_tagged, 1);
	ck_assert_int_eq((int)hw_pyconst_for(0x030f02f0)->stackref_tag_mask, 3);
	ck_assert(hw_symbol_is("subtype_traverse.lto_priv.0", "subtype_traverse"));
	ck_assert(hw_symbol_is("subtype_traverse", "subtype_traverse"));
	ck_assert(!hw_symbol_is("subtype_traverse.cold", "subtype_traverse"));
	ck_assert(!hw_symbol_is("subtype_traverse.lto_priv.", "subtype_traverse"));
	ck_assert(!hw_symbol_is("lookdict_index.lto_priv.0", "lookdict"));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("objects");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_list);
	tcase_add_test(tc, test_list_corrupt);
	tcase_add_test(tc, test_tuple_corrupt);
	tcase_add_test(tc, test_dict);
	tcase_add_test(tc, test_dict_corrupt);
	tcase_add_test(tc, test_set);
	tcase_add_test(tc, test_instances);
	tcase_add_test(tc, test_types_corrupt);
	tcase_add_test(tc, test_c_types_corrupt);
	tcase_add_test(tc, test_dict27);
	tcase_add_test(tc, test_refused);
	tcase_add_test(tc, test_pyconst_rows);
	suite_add_tcase(s, tc);
	return hw_run_suite(s);
}
