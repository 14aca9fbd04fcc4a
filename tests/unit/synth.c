/* synth.c - synthetic heaps; see synth.h. */
#include "synth.h"

#include <stdlib.h>
#include <string.h>

void synth_layout_311(struct hw_offsets *o)
{
	hw_offsets_init(o);
	o->rt_interp_head = 40;
	o->interp_next = 0;
	o->interp_gc = 648;
	o->gc_gens = 24;
	o->gc_gen_stride = 24;
	o->gc_gen_threshold = 16;
	o->gc_permanent = 104;
	o->gc_collecting = 200;
	o->gc_generation0 = 96;
	o->gc_size = 240;
	o->gchead_size = 16;
	o->gchead_next = 0;
	o->gchead_prev = 8;
	o->ob_type = 8;
	o->tp_name = 24;
	o->tp_flags = 168;
	o->tp_dict = 264;
	o->ht_name = 848;
	o->ht_qualname = 864;
	o->str_length = 16;
	o->str_state = 32;
	o->str_ascii_size = 48;
	o->str_compact_size = 72;
	o->dict_keys = 32;
	o->dk_log2_size = 8;
	o->dk_log2_index_bytes = 9;
	o->dk_kind = 10;
	o->dk_nentries = 24;
	o->dk_indices = 32;
	o->dk_entry_size = 24;
	o->dk_uentry_size = 16;
}

/* 3.14.0 from the 3.14.0 headers (py-spy's generated v3_14_0.rs, see
 * ../shared notes): interpreters.head 808, next 7272, gc 7408, young at
 * gc+24, old[0..1] at +48/+72, permanent at +96, collecting +192, no
 * generation0; str header 40 bytes (3.12+), dict keys as 3.11. */
void synth_layout_3140(struct hw_offsets *o)
{
	synth_layout_311(o);
	o->rt_interp_head = 808;
	o->interp_next = 7272;
	o->interp_gc = 7408;
	o->gc_gens = 24;
	o->gc_permanent = 96;
	o->gc_collecting = 192;
	o->gc_generation0 = HW_NOFIELD;
	o->ht_name = 856;
	o->ht_qualname = 872;
	o->str_ascii_size = 40;
	o->str_compact_size = 56;
}

void synth_layout_27(struct hw_offsets *o)
{
	hw_offsets_init(o);
	o->gc_gens = 0;
	o->gc_gen_stride = 40;
	o->gc_gen_threshold = 32;
	o->gchead_size = 32;
	o->gchead_next = 0;
	o->gchead_prev = 8;
	o->gchead_refs = 16;
	o->ob_type = 8;
	o->tp_name = 24;
	o->tp_flags = 168;
	o->tp_dict = 264;
	o->ht_name = 856;
	o->bytes_size = 16;
	o->bytes_sval = 36;
	o->dict_keys = 40;
	o->dict_mask = 32;
}

uint64_t synth_alloc(struct synth *h, size_t n)
{
	uint64_t a = SYNTH_BASE + h->used;

	n = (n + 15) & ~(size_t)15;
	if (h->used + n > h->size)
		abort();
	h->used += n;
	return a;
}

static unsigned char *at(struct synth *h, uint64_t addr, size_t n)
{
	if (addr < SYNTH_BASE || addr - SYNTH_BASE + n > h->size)
		abort();
	return h->buf + (addr - SYNTH_BASE);
}

void synth_w64(struct synth *h, uint64_t a, uint64_t v) { memcpy(at(h, a, 8), &v, 8); }
void synth_w32(struct synth *h, uint64_t a, uint32_t v) { memcpy(at(h, a, 4), &v, 4); }
void synth_w8(struct synth *h, uint64_t a, uint8_t v) { *at(h, a, 1) = v; }

uint64_t synth_r64(struct synth *h, uint64_t a)
{
	uint64_t v;

	memcpy(&v, at(h, a, 8), 8);
	return v;
}

static int is27(const struct synth *h) { return h->o.str_state < 0; }

uint64_t synth_str(struct synth *h, const char *s)
{
	size_t n = strlen(s);
	uint64_t a;

	if (is27(h)) {
		a = synth_alloc(h, (size_t)h->o.bytes_sval + n + 1);
		synth_w64(h, a + 8, h->str_type);
		synth_w64(h, a + (uint64_t)h->o.bytes_size, n);
		memcpy(at(h, a + (uint64_t)h->o.bytes_sval, n + 1), s, n + 1);
		return a;
	}
	int ascii = 1;

	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] >= 0x80)
			ascii = 0;
	if (ascii) {
		a = synth_alloc(h, (size_t)h->o.str_ascii_size + n + 1);
		synth_w64(h, a + 8, h->str_type);
		synth_w64(h, a + (uint64_t)h->o.str_length, n);
		/* kind 1, compact, ascii */
		synth_w32(h, a + (uint64_t)h->o.str_state, (1u << 2) | (1u << 5) | (1u << 6));
		memcpy(at(h, a + (uint64_t)h->o.str_ascii_size, n), s, n);
		return a;
	}
	/* decode UTF-8 into UCS-4 (kind 4, compact, not ascii) */
	uint32_t cps[256];
	size_t k = 0;

	for (size_t i = 0; i < n && k < 256;) {
		unsigned char c = (unsigned char)s[i];
		uint32_t cp;
		size_t l = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;

		cp = l == 1 ? c : l == 2 ? c & 0x1F : l == 3 ? c & 0x0F : c & 0x07;
		for (size_t j = 1; j < l; j++)
			cp = (cp << 6) | ((unsigned char)s[i + j] & 0x3F);
		cps[k++] = cp;
		i += l;
	}
	a = synth_alloc(h, (size_t)h->o.str_compact_size + 4 * (k + 1));
	synth_w64(h, a + 8, h->str_type);
	synth_w64(h, a + (uint64_t)h->o.str_length, k);
	synth_w32(h, a + (uint64_t)h->o.str_state, (4u << 2) | (1u << 5));
	memcpy(at(h, a + (uint64_t)h->o.str_compact_size, 4 * k), cps, 4 * k);
	return a;
}

/* A dict {key: value} of one entry. */
static uint64_t synth_dict1(struct synth *h, uint64_t key, uint64_t value)
{
	uint64_t d = synth_alloc(h, 64);

	synth_w64(h, d + 8, h->dict_type);
	if (is27(h)) {
		uint64_t table = synth_alloc(h, 8 * 24);

		synth_w64(h, d + (uint64_t)h->o.dict_mask, 7);
		synth_w64(h, d + (uint64_t)h->o.dict_keys, table);
		/* slot 3: {hash, key, value} */
		synth_w64(h, table + 3 * 24 + 8, key);
		synth_w64(h, table + 3 * 24 + 16, value);
		return d;
	}
	uint64_t k = synth_alloc(h, (size_t)h->o.dk_indices + 8 + 4 * 24);

	synth_w64(h, d + (uint64_t)h->o.dict_keys, k);
	synth_w8(h, k + (uint64_t)h->o.dk_log2_size, 3);
	synth_w8(h, k + (uint64_t)h->o.dk_log2_index_bytes, 3);
	synth_w8(h, k + (uint64_t)h->o.dk_kind, 1); /* unicode keys */
	synth_w64(h, k + (uint64_t)h->o.dk_nentries, 2);
	uint64_t ent = k + (uint64_t)h->o.dk_indices + 8;
	/* entry 0: another key, entry 1: the one we want */
	synth_w64(h, ent, synth_str(h, "__doc__"));
	synth_w64(h, ent + 8, 0);
	synth_w64(h, ent + (uint64_t)h->o.dk_uentry_size, key);
	synth_w64(h, ent + (uint64_t)h->o.dk_uentry_size + 8, value);
	return d;
}

static uint64_t raw_type(struct synth *h, uint64_t meta, uint64_t flags,
			 const char *tp_name)
{
	uint64_t t = synth_alloc(h, 1024);
	uint64_t name = synth_alloc(h, strlen(tp_name) + 1);

	memcpy(at(h, name, strlen(tp_name) + 1), tp_name, strlen(tp_name) + 1);
	synth_w64(h, t + 8, meta ? meta : t);
	synth_w64(h, t + (uint64_t)h->o.tp_name, name);
	synth_w64(h, t + (uint64_t)h->o.tp_flags, flags);
	return t;
}

uint64_t synth_type(struct synth *h, const char *tp_name, int heap,
		    const char *qualname, const char *module)
{
	uint64_t t = raw_type(h, h->type_type, (1u << 14) | (heap ? 1u << 9 : 0),
			      tp_name);

	if (heap) {
		uint64_t q = synth_str(h, qualname ? qualname : tp_name);
		const char *dot = strrchr(tp_name, '.');

		/* 3.x: ht_name is __name__ (tp_name after its last dot, for
		 * types made from a spec), ht_qualname __qualname__; 2.7 has
		 * only ht_name */
		if (h->o.ht_qualname >= 0) {
			synth_w64(h, t + (uint64_t)h->o.ht_name,
				  synth_str(h, dot ? dot + 1 : tp_name));
			synth_w64(h, t + (uint64_t)h->o.ht_qualname, q);
		} else {
			synth_w64(h, t + (uint64_t)h->o.ht_name, q);
		}
		if (module)
			synth_w64(h, t + (uint64_t)h->o.tp_dict,
				  synth_dict1(h, synth_str(h, "__module__"),
					      synth_str(h, module)));
	}
	return t;
}

static void list_init(struct synth *h, uint64_t head)
{
	synth_w64(h, head + (uint64_t)h->o.gchead_next, head);
	synth_w64(h, head + (uint64_t)h->o.gchead_prev, head);
}

void synth_init(struct synth *h, const struct hw_offsets *o, size_t size)
{
	memset(h, 0, sizeof *h);
	h->o = *o;
	h->size = size;
	h->buf = calloc(1, size);
	if (!h->buf)
		abort();
	if (o->interp_gc >= 0) {
		h->runtime = synth_alloc(h, (size_t)o->rt_interp_head + 64);
		h->interp = synth_alloc(h, (size_t)(o->interp_gc + o->gc_size +
						    (o->interp_next > o->interp_gc ?
						     o->interp_next : 0) + 64));
		synth_w64(h, h->runtime + (uint64_t)o->rt_interp_head, h->interp);
		h->gc = h->interp + (uint64_t)o->interp_gc;
		for (int i = 0; i < 3; i++)
			h->heads[i] = h->gc + (uint64_t)o->gc_gens + (uint64_t)(i * o->gc_gen_stride);
		h->heads[3] = h->gc + (uint64_t)o->gc_permanent;
		for (int i = 0; i < 3; i++)
			synth_w32(h, h->heads[i] + (uint64_t)o->gc_gen_threshold,
				  i == 0 ? 2000 : 10);
		if (o->gc_generation0 >= 0)
			synth_w64(h, h->gc + (uint64_t)o->gc_generation0, h->heads[0]);
	} else {
		/* 2.7: a static generations[3] and _PyGC_generation0. */
		uint64_t gens = synth_alloc(h, 3 * (size_t)o->gc_gen_stride);

		h->runtime = synth_alloc(h, 16);
		synth_w64(h, h->runtime, gens);
		for (int i = 0; i < 3; i++)
			h->heads[i] = gens + (uint64_t)(i * o->gc_gen_stride);
		h->heads[3] = 0;
	}
	for (int i = 0; i < 4; i++) {
		if (h->heads[i])
			list_init(h, h->heads[i]);
		h->tail[i] = h->heads[i];
	}
	h->type_type = raw_type(h, 0, (1u << 14) | (1u << 31), "type");
	h->str_type = raw_type(h, h->type_type, is27(h) ? 1u << 27 : 1u << 28, "str");
	h->dict_type = raw_type(h, h->type_type, (1u << 14) | (1u << 29), "dict");
}

void synth_fini(struct synth *h)
{
	free(h->buf);
	memset(h, 0, sizeof *h);
}

uint64_t synth_obj(struct synth *h, uint64_t t, int list)
{
	uint64_t head = h->heads[list];
	uint64_t g = synth_alloc(h, (size_t)h->o.gchead_size + 32);
	uint64_t obj = g + (uint64_t)h->o.gchead_size;
	uint64_t tail = h->tail[list];

	synth_w64(h, obj + (uint64_t)h->o.ob_type, t);
	synth_w64(h, obj, 1); /* refcount */
	if (h->o.gchead_refs >= 0)
		synth_w64(h, g + (uint64_t)h->o.gchead_refs, (uint64_t)-3);
	/* tail.next = g | flags (heads carry no flags), g.prev = tail,
	 * g.next = head, head.prev = g */
	synth_w64(h, tail + (uint64_t)h->o.gchead_next,
		  g | (tail == head ? 0 : h->flag_next));
	synth_w64(h, g + (uint64_t)h->o.gchead_prev, tail);
	synth_w64(h, g + (uint64_t)h->o.gchead_next, head | h->flag_next);
	synth_w64(h, head + (uint64_t)h->o.gchead_prev, g);
	h->tail[list] = g;
	return obj;
}

uint64_t synth_head(struct synth *h, uint64_t obj)
{
	return obj - (uint64_t)h->o.gchead_size;
}

struct hw_mem *synth_mem(struct synth *h)
{
	struct hw_mem_region r = { SYNTH_BASE, h->buf, h->size };

	return hw_mem_open_buffer(&r, 1, NULL);
}

uint64_t synth_runtime(struct synth *h) { return h->runtime; }
