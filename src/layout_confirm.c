/* layout_confirm.c - holding a layout to the running target before a
 * census trusts it (see layout.c for the rules and why).  Reads the live
 * target through hw_mem: every read may race with the target, so a check
 * that fails is read again before the layout is refused.  Internal to the
 * layout module (layout_int.h). */
#include "heapwatch/layout.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "heapwatch/mem.h"
#include "heapwatch/target.h"
#include "layout_int.h"

#define BUSY_WAITS 200          /* 10 ms each: a collection in progress */

/* ------------------------------------------------------------------ */
/* run-time confirmation: the GC state */

/* A list head at addr, read now (the target runs: a neighbour that moved
 * between two reads is read again, a few times). */
static int head_ok(struct hw_mem *m, const struct hw_offsets *o, uint64_t head)
{
	for (int attempt = 0; attempt < 4; attempt++) {
		uint64_t next, prev, back;

		if (attempt)
			hwl_pause_1ms();
		if (hwl_rd64(m, head + (uint64_t)o->gchead_next, &next) < 0 ||
		    hwl_rd64(m, head + (uint64_t)o->gchead_prev, &prev) < 0)
			return 0;
		if (next == head && prev == head)
			return 1;
		/* heads carry no flag bits; objects' heads are 8-aligned */
		if (!hwl_plausible_ptr(next) || !hwl_plausible_ptr(prev) || next == head || prev == head)
			return 0;
		if (hwl_rd64(m, next + (uint64_t)o->gchead_prev, &back) < 0 ||
		    (back & LINK_MASK) != head)
			continue;
		if (hwl_rd64(m, prev + (uint64_t)o->gchead_next, &back) < 0 ||
		    (back & LINK_MASK) != head)
			continue;
		return 1;
	}
	return 0;
}

/* Address of the first interpreter's GC state (or the runtime's, 3.7 and
 * 3.8); 0 when the layout has none (2.7, 3.6). */
static int gc_state_addr(const struct hw_target *t, struct hw_mem *m,
			 const struct hw_offsets *o, uint64_t *base,
			 struct hw_err *e)
{
	uint64_t interp;

	*base = 0;
	if (!t->runtime_addr || !m)
		return 0;
	if (o->rt_gc >= 0) {
		*base = t->runtime_addr + (uint64_t)o->rt_gc;
		return 0;
	}
	if (o->interp_gc < 0 || o->rt_interp_head < 0)
		return 0;
	if (hw_mem_read(m, t->runtime_addr + (uint64_t)o->rt_interp_head, &interp,
			sizeof interp, e) < 0)
		return hw_err_prefix(e, "reading the interpreter list");
	if (!hwl_plausible_ptr(interp))
		return hw_err_set(e, HW_ELAYOUT, 0,
				  "the interpreter list head holds 0x%llx (not initialised, "
				  "or interp_head %lld is wrong)",
				  (unsigned long long)interp, (long long)o->rt_interp_head);
	*base = interp + (uint64_t)o->interp_gc;
	return 0;
}

/* The generation0 rule: exactly one 4-aligned word of the GC state points
 * elsewhere into it.  Returns the number of such words; the first one's
 * offset and target offset in *at, *to. */
static int find_generation0(const unsigned char *buf, size_t size, uint64_t base,
			    int64_t *at, int64_t *to)
{
	int hits = 0;

	for (size_t k = 0; k + 8 <= size; k += 4) {
		uint64_t v, w = base + k;

		memcpy(&v, buf + k, 8);
		if (v < base || v >= base + size || v == w || v == w - 8)
			continue;
		if (!hits) {
			*at = (int64_t)k;
			*to = (int64_t)(v - base);
		}
		hits++;
	}
	return hits;
}

/* Confirm where l says the lists are, in the target's own GC state.
 * derive: the source does not know where the generation lists are
 * (debug_offsets): take them from the state, noting it; the permanent
 * generation, when the source has no offset for it either, is the first
 * list head after the generations.  Otherwise a difference refuses the
 * layout. */
int hwl_confirm_gc(const struct hw_target *t, struct hw_mem *m,
		      struct hw_layout *l, const char *src, int derive,
		      struct hw_err *e)
{
	struct hw_offsets *o = &l->off;
	unsigned char *buf = NULL;
	uint64_t base;
	int64_t at = -1, to = -1, size = o->gc_size;
	int hits, rc = -1;
	int32_t coll;

	if (gc_state_addr(t, m, o, &base, e) < 0)
		return -1;
	if (!base || size < 0) {
		/* 2.7 and 3.6: the lists are a static array, found through
		 * _PyGC_generation0; the walker checks every head. */
		return 0;
	}
	if (size < 64 || size > MAX_GC_STATE)
		return hw_err_set(e, HW_ELAYOUT, 0, "%s: sizeof the GC state = %lld is implausible",
				  src, (long long)size);
	if (o->gc_gen_stride <= 0 || o->gchead_size <= 0 || o->gc_gen_stride > 256)
		return hw_err_set(e, HW_ELAYOUT, 0, "%s: no generation layout", src);
	if (!(buf = malloc((size_t)size)))
		return hw_err_set(e, HW_ENOMEM, 0, "allocating %lld bytes", (long long)size);
	/* A collection rewrites the links of every object it visits: wait
	 * for it to end (the census itself does the same) before checking. */
	for (int wait = 0;; wait++) {
		if (hw_mem_read(m, base, buf, (size_t)size, e) < 0) {
			hw_err_prefix(e, "reading the GC state at 0x%llx", (unsigned long long)base);
			goto out;
		}
		if (o->gc_collecting < 0 || o->gc_collecting + 4 > size)
			break;
		memcpy(&coll, buf + o->gc_collecting, 4);
		if (coll != 1)
			break;
		if (wait == BUSY_WAITS) {
			hw_err_set(e, HW_EBUSY, 0, "%s: a garbage collection ran through "
				   "%d ms of waiting to confirm the layout", src, BUSY_WAITS * 10);
			goto out;
		}
		struct timespec ts = { 0, 10000000L };

		nanosleep(&ts, NULL);
	}
	hits = find_generation0(buf, (size_t)size, base, &at, &to);
	if (hits > 1) {
		hw_err_set(e, HW_ELAYOUT, 0,
			   "%s: the GC state at 0x%llx (%lld bytes) has %d words pointing "
			   "into itself where generation0 alone should", src,
			   (unsigned long long)base, (long long)size, hits);
		goto out;
	}
	if (hits == 0) {
		/* 3.14.0-3.14.4 have no generation0: only the heads can be
		 * checked, where the source (or, for debug_offsets, the table
		 * of that version) says they are. */
		if (o->gc_generation0 >= 0 || o->gc_gens < 0) {
			hw_err_set(e, HW_ELAYOUT, 0,
				   "%s: no generation0 pointer in the GC state at 0x%llx "
				   "(%lld bytes): it is not where the layout says",
				   src, (unsigned long long)base, (long long)size);
			goto out;
		}
	} else {
		if (o->gc_generation0 >= 0 && o->gc_generation0 != at) {
			hw_err_set(e, HW_ELAYOUT, 0,
				   "%s puts generation0 at gc+%lld, but in this process "
				   "the word that points into the GC state is at gc+%lld",
				   src, (long long)o->gc_generation0, (long long)at);
			goto out;
		}
		if (to + 3 * o->gc_gen_stride > size || (to & 3)) {
			hw_err_set(e, HW_ELAYOUT, 0,
				   "%s: generation0 (gc+%lld) points at gc+%lld, which cannot "
				   "hold three generations", src, (long long)at, (long long)to);
			goto out;
		}
		if (o->gc_gens >= 0 && o->gc_gens != to && !derive) {
			hw_err_set(e, HW_ELAYOUT, 0,
				   "%s puts the generation lists at gc+%lld, but this process "
				   "has them at gc+%lld (where generation0, at gc+%lld, points)",
				   src, (long long)o->gc_gens, (long long)to, (long long)at);
			goto out;
		}
		if (derive && o->gc_gens != to) {
			if (o->gc_gens >= 0)
				hwl_note(l, "gc_gens: table %lld, found at run time %lld (used)",
				     (long long)o->gc_gens, (long long)to);
			o->gc_gens = to;
			hwl_appendf(l->detail, sizeof l->detail,
				"; generation lists found at run time at gc+%lld "
				"(generation0 at gc+%lld)", (long long)to, (long long)at);
		}
		o->gc_generation0 = at;
	}
	for (int i = 0; i < 3; i++) {
		uint64_t h = base + (uint64_t)o->gc_gens + (uint64_t)(i * o->gc_gen_stride);

		if (!head_ok(m, o, h)) {
			hw_err_set(e, HW_ELAYOUT, 0,
				   "%s: generation %d at gc+%lld (0x%llx) is not a list head",
				   src, i, (long long)(o->gc_gens + i * o->gc_gen_stride),
				   (unsigned long long)h);
			goto out;
		}
	}
	if (o->gc_permanent < 0 && derive) {
		/* the first list head after the generations (3.13: after the
		 * generation0 word; 3.14, 3.15: right after them) */
		for (int64_t p = o->gc_gens + 3 * o->gc_gen_stride; p + o->gchead_size <= size; p += 4)
			if (p != at && p + 8 != at && head_ok(m, o, base + (uint64_t)p)) {
				o->gc_permanent = p;
				hwl_appendf(l->detail, sizeof l->detail,
					"; permanent generation found at run time at gc+%lld",
					(long long)p);
				break;
			}
		if (o->gc_permanent < 0) {
			hw_err_set(e, HW_ELAYOUT, 0,
				   "%s: no list head after the generations for the permanent "
				   "generation", src);
			goto out;
		}
	}
	if (o->gc_permanent >= 0) {
		if (o->gc_permanent + o->gchead_size > size ||
		    (o->gc_permanent < o->gc_gens + 3 * o->gc_gen_stride &&
		     o->gc_permanent + o->gchead_size > o->gc_gens) ||
		    !head_ok(m, o, base + (uint64_t)o->gc_permanent)) {
			hw_err_set(e, HW_ELAYOUT, 0,
				   "%s: the permanent generation at gc+%lld is not a list head",
				   src, (long long)o->gc_permanent);
			goto out;
		}
	}
	if (o->gc_collecting >= 0) {
		if (o->gc_collecting + 4 > size) {
			hw_err_set(e, HW_ELAYOUT, 0, "%s: collecting at gc+%lld is outside the state",
				   src, (long long)o->gc_collecting);
			goto out;
		}
		memcpy(&coll, buf + o->gc_collecting, 4);
		if (coll != 0 && coll != 1) {
			hw_err_set(e, HW_ELAYOUT, 0, "%s: collecting (gc+%lld) holds %d, not 0 or 1",
				   src, (long long)o->gc_collecting, (int)coll);
			goto out;
		}
	}
	l->confirmed = 1;
	rc = 0;
out:
	free(buf);
	return rc;
}

/* ------------------------------------------------------------------ */
/* run-time confirmation: type names */

enum { NAME_OK, NAME_SKIP, NAME_BAD };

/* Read a NUL-terminated string of at most size-1 bytes at addr; -1 when
 * unreadable or longer. */
static int read_cstr(struct hw_mem *m, uint64_t addr, char *buf, size_t size)
{
	size_t got = 0;

	while (got + 1 < size) {
		size_t chunk = 64 - (size_t)((addr + got) & 63);

		if (chunk > size - 1 - got)
			chunk = size - 1 - got;
		if (hw_mem_read(m, addr + got, buf + got, chunk, NULL) < 0)
			return -1;
		if (memchr(buf + got, 0, chunk))
			return 0;
		got += chunk;
	}
	return -1;
}

/* Whether the heap type at ty has names the layout reads right: ht_name
 * a str (2.7: a bytes) whose characters, as str_length and the str
 * layout say, are the class's tp_name or its last dotted part (types
 * made from a PyType_Spec keep "module.Name" in tp_name), ht_qualname a
 * str.  why gets the first thing that did not hold. */
static int check_heap_type(struct hw_mem *m, const struct hw_offsets *o, uint64_t ty,
			   char *why, size_t why_size)
{
	uint64_t name_p, s, st, sflags, q, qt, qflags, len, data;
	uint32_t state;
	char tpname[512], name[256];
	size_t tl;

	if (hwl_rd64(m, ty + (uint64_t)o->tp_name, &name_p) < 0 ||
	    hwl_rd64(m, ty + (uint64_t)o->ht_name, &s) < 0)
		return NAME_SKIP;
	if (!hwl_plausible_ptr(s) || hwl_rd64(m, s + (uint64_t)o->ob_type, &st) < 0 ||
	    hwl_rd64(m, st + (uint64_t)o->tp_flags, &sflags) < 0) {
		snprintf(why, why_size, "ht_name (+%lld) of class 0x%llx holds 0x%llx, not a str",
			 (long long)o->ht_name, (unsigned long long)ty, (unsigned long long)s);
		return NAME_BAD;
	}
	if (o->str_ascii_size >= 0 && o->str_length >= 0 && o->str_state >= 0) {
		if (!(sflags & TPFLAGS_UNICODE_SUBCLASS)) {
			snprintf(why, why_size, "ht_name (+%lld) of class 0x%llx is not a str",
				 (long long)o->ht_name, (unsigned long long)ty);
			return NAME_BAD;
		}
		if (hw_mem_read(m, s + (uint64_t)o->str_state, &state, 4, NULL) < 0 ||
		    hwl_rd64(m, s + (uint64_t)o->str_length, &len) < 0)
			return NAME_SKIP;
		/* compact (bit 5) and ascii (bit 6): the characters follow the
		 * PyASCIIObject */
		if (((state >> 5) & 3) != 3)
			return NAME_SKIP;
		data = s + (uint64_t)o->str_ascii_size;
	} else if (o->bytes_sval >= 0 && o->bytes_size >= 0) {
		if (!(sflags & TPFLAGS_STRING_SUBCLASS_27)) {
			snprintf(why, why_size, "ht_name (+%lld) of class 0x%llx is not a str",
				 (long long)o->ht_name, (unsigned long long)ty);
			return NAME_BAD;
		}
		if (hwl_rd64(m, s + (uint64_t)o->bytes_size, &len) < 0)
			return NAME_SKIP;
		data = s + (uint64_t)o->bytes_sval;
	} else {
		return NAME_SKIP;
	}
	if (len == 0 || len >= sizeof name)
		return NAME_SKIP;
	if (hw_mem_read(m, data, name, len + 1, NULL) < 0 || name[len] != 0 ||
	    memchr(name, 0, len)) {
		snprintf(why, why_size, "the ht_name str of class 0x%llx does not hold %llu "
			 "characters and a NUL at +%lld", (unsigned long long)ty,
			 (unsigned long long)len, (long long)(data - s));
		return NAME_BAD;
	}
	if (read_cstr(m, name_p, tpname, sizeof tpname) < 0) {
		snprintf(why, why_size, "tp_name (+%lld) of class 0x%llx holds 0x%llx, not a "
			 "readable name", (long long)o->tp_name, (unsigned long long)ty,
			 (unsigned long long)name_p);
		return NAME_BAD;
	}
	tl = strlen(tpname);
	if (!(tl == len && memcmp(tpname, name, len) == 0) &&
	    !(tl > len && tpname[tl - len - 1] == '.' && memcmp(tpname + tl - len, name, len) == 0)) {
		snprintf(why, why_size, "class 0x%llx: tp_name (+%lld) reads \"%.60s\" but "
			 "ht_name (+%lld) reads \"%.60s\"", (unsigned long long)ty,
			 (long long)o->tp_name, tpname, (long long)o->ht_name, name);
		return NAME_BAD;
	}
	if (o->ht_qualname >= 0) {
		if (hwl_rd64(m, ty + (uint64_t)o->ht_qualname, &q) < 0 || !hwl_plausible_ptr(q) ||
		    hwl_rd64(m, q + (uint64_t)o->ob_type, &qt) < 0 ||
		    hwl_rd64(m, qt + (uint64_t)o->tp_flags, &qflags) < 0 ||
		    !(qflags & TPFLAGS_UNICODE_SUBCLASS)) {
			snprintf(why, why_size, "ht_qualname (+%lld) of class 0x%llx is not a str",
				 (long long)o->ht_qualname, (unsigned long long)ty);
			return NAME_BAD;
		}
	}
	return NAME_OK;
}

#define NAME_PROBE_OBJECTS 5000
#define NAME_PROBE_CLASSES 3
#define TCACHE 64

/* tp_flags of the types seen, so the built-in types that most objects
 * have are read once. */
struct tflag {
	uint64_t type, flags;
};

static int type_flags(struct hw_mem *m, const struct hw_offsets *o, uint64_t ty,
		      struct tflag *cache, uint64_t *flags)
{
	struct tflag *c = &cache[(ty >> 4) % TCACHE];

	if (c->type == ty) {
		*flags = c->flags;
		return 0;
	}
	if (hwl_rd64(m, ty + (uint64_t)o->tp_flags, flags) < 0)
		return -1;
	c->type = ty;
	c->flags = *flags;
	return 0;
}

/* Every object on a GC list is of a type with Py_TPFLAGS_HAVE_GC (only
 * such objects are ever tracked): this holds ob_type and tp_flags to
 * every object walked.  0 when it does not hold for the object whose GC
 * head is at cur (still linked before next); *ty and *flags as read. */
static int gc_typed(struct hw_mem *m, const struct hw_offsets *o, uint64_t cur,
		    uint64_t next, struct tflag *cache, uint64_t *ty, uint64_t *flags)
{
	uint64_t fwd;

	*ty = *flags = 0;
	if (hwl_rd64(m, cur + (uint64_t)o->gchead_next, &fwd) < 0 || (fwd & LINK_MASK) != next)
		return 1; /* no longer on the list: nothing to say */
	if (hwl_rd64(m, cur + (uint64_t)o->gchead_size + (uint64_t)o->ob_type, ty) < 0 ||
	    !hwl_plausible_ptr(*ty) || type_flags(m, o, *ty, cache, flags) < 0)
		return 0;
	return (*flags & TPFLAGS_HAVE_GC) != 0;
}

/* Walk the lists (oldest first: they change least while the target runs)
 * until a few classes are checked.  A class that fails is checked again a
 * moment later before the layout is refused: it may have been freed
 * under us. */
int hwl_confirm_names(const struct hw_target *t, struct hw_mem *m,
			 struct hw_layout *l, const char *src, struct hw_err *e)
{
	const struct hw_offsets *o = &l->off;
	uint64_t base, heads[4], done[64];
	struct tflag tcache[TCACHE] = { { 0, 0 } };
	unsigned nheads = 0, nseen = 0, ndone = 0, steps = 0;
	char why[512];

	if (o->ht_name < 0 || o->tp_name < 0 || o->tp_flags < 0 || o->ob_type < 0 ||
	    o->gchead_size < 0)
		return 0;
	if (gc_state_addr(t, m, o, &base, e) < 0)
		return -1;
	if (base && o->gc_gens >= 0) {
		heads[nheads++] = base + (uint64_t)o->gc_gens + 2 * (uint64_t)o->gc_gen_stride;
		if (o->gc_permanent >= 0)
			heads[nheads++] = base + (uint64_t)o->gc_permanent;
		heads[nheads++] = base + (uint64_t)o->gc_gens + (uint64_t)o->gc_gen_stride;
		heads[nheads++] = base + (uint64_t)o->gc_gens;
	} else if (t->gen0_ptr_addr && o->gc_gens >= 0) {
		uint64_t g0;

		if (hwl_rd64(m, t->gen0_ptr_addr, &g0) < 0 || !hwl_plausible_ptr(g0))
			return 0;
		for (int i = 2; i >= 0; i--)
			heads[nheads++] = g0 + (uint64_t)(i * o->gc_gen_stride);
	}
	for (unsigned h = 0; h < nheads && nseen < NAME_PROBE_CLASSES; h++) {
		uint64_t cur, next = heads[h];

		/* from the tail: the objects promoted last, where a running
		 * program's own classes are; the first few thousand objects
		 * of the oldest list are the interpreter's built-in ones */
		if (hwl_rd64(m, heads[h] + (uint64_t)o->gchead_prev, &cur) < 0)
			continue;
		cur &= LINK_MASK;
		while (cur != heads[h] && steps++ < NAME_PROBE_OBJECTS &&
		       nseen < NAME_PROBE_CLASSES) {
			uint64_t obj = cur + (uint64_t)o->gchead_size, ty, flags, fwd, cand[2];
			unsigned nc = 0;

			if (!hwl_plausible_ptr(cur) ||
			    hwl_rd64(m, cur + (uint64_t)o->gchead_next, &fwd) < 0 ||
			    (fwd & LINK_MASK) != next)
				break; /* the list changed under us */
			if (!gc_typed(m, o, cur, next, tcache, &ty, &flags)) {
				/* read again a moment later: an object freed under
				 * us leaves its list */
				hwl_pause_1ms();
				memset(tcache, 0, sizeof tcache);
				if (!gc_typed(m, o, cur, next, tcache, &ty, &flags))
					return hw_err_set(e, HW_ELAYOUT, 0,
							  "%s: the object at 0x%llx on a GC list has "
							  "ob_type (+%lld) 0x%llx whose tp_flags (+%lld) "
							  "0x%llx lack Py_TPFLAGS_HAVE_GC", src,
							  (unsigned long long)obj, (long long)o->ob_type,
							  (unsigned long long)ty, (long long)o->tp_flags,
							  (unsigned long long)flags);
			}
			if (flags & TPFLAGS_HAVE_GC) {
				if (flags & TPFLAGS_HEAPTYPE)
					cand[nc++] = ty;
				if (flags & TPFLAGS_TYPE_SUBCLASS) {
					uint64_t own;

					if (hwl_rd64(m, obj + (uint64_t)o->tp_flags, &own) == 0 &&
					    (own & TPFLAGS_HEAPTYPE))
						cand[nc++] = obj;
				}
			}
			for (unsigned k = 0; k < nc && nseen < NAME_PROBE_CLASSES; k++) {
				int dup = 0, r;

				for (unsigned j = 0; j < ndone; j++)
					dup |= done[j] == cand[k];
				if (dup)
					continue;
				r = check_heap_type(m, o, cand[k], why, sizeof why);
				if (r == NAME_BAD) {
					hwl_pause_1ms();
					r = check_heap_type(m, o, cand[k], why, sizeof why);
				}
				if (r == NAME_BAD)
					return hw_err_set(e, HW_ELAYOUT, 0, "%s: %s", src, why);
				if (ndone < sizeof done / sizeof done[0])
					done[ndone++] = cand[k];
				if (r == NAME_OK)
					nseen++;
			}
			next = cur;
			if (hwl_rd64(m, cur + (uint64_t)o->gchead_prev, &cur) < 0)
				break;
			cur &= LINK_MASK;
		}
	}
	if (nseen)
		l->names_confirmed = (int)nseen;
	return 0;
}

