/* gcwalk.c - walking the GC lists; see include/heapwatch/gcwalk.h.
 *
 * The path through the interpreter state is chosen from which layout
 * fields exist, never from version numbers:
 *   rt_gc set (3.7, 3.8)          one GC state at _PyRuntime + rt_gc
 *   interp_gc set (3.9+)          one per interpreter, from
 *                                 _PyRuntime.interpreters.head via next
 *   gen0 pointer symbol (2.7/3.6) *_PyGC_generation0 is generations[0]
 * Link words carry flag bits in their low two bits from 3.8 on
 * (_PyGC_PREV_MASK_FINALIZED/COLLECTING, NEXT_MASK_UNREACHABLE, and in
 * 3.14.0-3.14.4 the old-space bit on every _gc_next): they are masked;
 * list heads never carry them.
 */
#include "heapwatch/gcwalk.h"
#include "heapwatch/units.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define LINK_MASK (~(uint64_t)3)
#define PREV_COLLECTING 2u
#define CLOCK_EVERY 4096u
#define NO(x) ((x) < 0)

/* ------------------------------------------------------------------ */
/* type counts */

void hw_typecount_init(struct hw_typecount *tc) { memset(tc, 0, sizeof *tc); }

void hw_typecount_fini(struct hw_typecount *tc)
{
	free(tc->type);
	free(tc->count);
	memset(tc, 0, sizeof *tc);
}

void hw_typecount_clear(struct hw_typecount *tc)
{
	if (tc->cap) {
		memset(tc->type, 0, tc->cap * sizeof *tc->type);
		memset(tc->count, 0, tc->cap * sizeof *tc->count);
	}
	tc->n = 0;
}

static inline size_t tc_hash(uint64_t t, size_t cap)
{
	return (size_t)((t >> 3) * 0x9E3779B97F4A7C15ull >> 17) & (cap - 1);
}

static int tc_grow(struct hw_typecount *tc, struct hw_err *e)
{
	size_t nc = tc->cap ? tc->cap * 2 : 1024;
	uint64_t *nt = calloc(nc, sizeof *nt), *nn = calloc(nc, sizeof *nn);

	if (!nt || !nn) {
		free(nt);
		free(nn);
		return hw_err_set(e, HW_ENOMEM, ENOMEM, "growing the type table");
	}
	for (size_t i = 0; i < tc->cap; i++) {
		if (!tc->type[i])
			continue;
		size_t j = tc_hash(tc->type[i], nc);

		while (nt[j])
			j = (j + 1) & (nc - 1);
		nt[j] = tc->type[i];
		nn[j] = tc->count[i];
	}
	free(tc->type);
	free(tc->count);
	tc->type = nt;
	tc->count = nn;
	tc->cap = nc;
	return 0;
}

int hw_typecount_add(struct hw_typecount *tc, uint64_t type, uint64_t n,
		     struct hw_err *e)
{
	size_t i;

	if ((tc->n + 1) * 2 > tc->cap && tc_grow(tc, e) < 0)
		return -1;
	for (i = tc_hash(type, tc->cap); tc->type[i] && tc->type[i] != type;
	     i = (i + 1) & (tc->cap - 1))
		;
	if (!tc->type[i]) {
		tc->type[i] = type;
		tc->n++;
	}
	tc->count[i] += n;
	return 0;
}

/* ------------------------------------------------------------------ */
/* finding the GC states */

struct gcstate {
	uint64_t gens;   /* address of the first generation head */
	uint64_t base;   /* address of struct _gc_runtime_state, or 0 */
};

static int plausible_ptr(uint64_t p)
{
	/* User-space canonical addresses on x86_64/aarch64, 8-aligned. */
	return p >= 4096 && p < (1ull << 56) && (p & 7) == 0;
}

static int find_states(struct hw_snap *s, const struct hw_offsets *o,
		       const struct hw_gcroots *r, struct gcstate *st,
		       unsigned *n, struct hw_err *e)
{
	*n = 0;
	if (NO(o->gc_gens) || NO(o->gc_gen_stride) || NO(o->gchead_size))
		return hw_err_set(e, HW_ELAYOUT, 0,
				  "layout lacks the generation list fields");
	if (r->runtime_addr && !NO(o->rt_gc)) {
		uint64_t base = r->runtime_addr + (uint64_t)o->rt_gc;

		st[(*n)++] = (struct gcstate){ base + (uint64_t)o->gc_gens, base };
		return 0;
	}
	if (r->runtime_addr && !NO(o->interp_gc) && !NO(o->rt_interp_head) &&
	    !NO(o->interp_next)) {
		uint64_t interp, seen[HW_GC_MAX_INTERPS];

		if (hw_snap_read_u64(s, r->runtime_addr + (uint64_t)o->rt_interp_head,
				     &interp, e) < 0)
			return hw_err_prefix(e, "reading the interpreter list head");
		while (interp) {
			if (!plausible_ptr(interp))
				return hw_err_set(e, HW_ECORRUPT, 0,
						  "interpreter pointer 0x%llx is not plausible",
						  (unsigned long long)interp);
			for (unsigned i = 0; i < *n; i++)
				if (seen[i] == interp)
					return hw_err_set(e, HW_ECORRUPT, 0,
							  "interpreter list loops at 0x%llx",
							  (unsigned long long)interp);
			if (*n == HW_GC_MAX_INTERPS)
				return hw_err_set(e, HW_ELIMIT, 0,
						  "more than %d interpreters",
						  HW_GC_MAX_INTERPS);
			seen[*n] = interp;
			uint64_t base = interp + (uint64_t)o->interp_gc;

			st[(*n)++] = (struct gcstate){ base + (uint64_t)o->gc_gens,
						       base };
			if (hw_snap_read_u64(s, interp + (uint64_t)o->interp_next,
					     &interp, e) < 0)
				return hw_err_prefix(e, "reading the next interpreter");
		}
		if (*n == 0)
			return hw_err_set(e, HW_ECORRUPT, 0,
					  "no interpreter (not initialised or finalising)");
		return 0;
	}
	if (r->gen0_ptr_addr) {
		uint64_t g0;

		if (hw_snap_read_u64(s, r->gen0_ptr_addr, &g0, e) < 0)
			return hw_err_prefix(e, "reading _PyGC_generation0");
		if (!plausible_ptr(g0))
			return hw_err_set(e, HW_ECORRUPT, 0,
					  "_PyGC_generation0 holds 0x%llx",
					  (unsigned long long)g0);
		/* generations[] is a static array: no enclosing struct. */
		st[(*n)++] = (struct gcstate){ g0, 0 };
		return 0;
	}
	return hw_err_set(e, HW_ELAYOUT, 0,
			  "no way to the GC state: neither _PyRuntime with a known "
			  "layout nor _PyGC_generation0");
}

/* Heads of one state: the generations, then the permanent one. */
static unsigned list_heads(const struct hw_offsets *o, const struct gcstate *g,
			   uint64_t *heads)
{
	unsigned n = 0;

	for (unsigned i = 0; i < 3; i++)
		heads[n++] = g->gens + i * (uint64_t)o->gc_gen_stride;
	if (!NO(o->gc_permanent) && g->base)
		heads[n++] = g->base + (uint64_t)o->gc_permanent;
	return n;
}

static int check_collecting(struct hw_snap *s, const struct hw_offsets *o,
			    const struct gcstate *g, struct hw_err *e)
{
	int32_t collecting;

	if (NO(o->gc_collecting) || !g->base)
		return 0;
	if (hw_snap_read(s, g->base + (uint64_t)o->gc_collecting, &collecting,
			 sizeof collecting, e) < 0)
		return hw_err_prefix(e, "reading gc.collecting");
	if (collecting != 0)
		return hw_err_set(e, HW_EBUSY, 0,
				  "a garbage collection is running (collecting=%d)",
				  (int)collecting);
	return 0;
}

static int check_head(struct hw_snap *s, const struct hw_offsets *o,
		      uint64_t head, struct hw_err *e)
{
	uint64_t next, prev, back;

	if (hw_snap_read_u64(s, head + (uint64_t)o->gchead_next, &next, e) < 0 ||
	    hw_snap_read_u64(s, head + (uint64_t)o->gchead_prev, &prev, e) < 0)
		return hw_err_prefix(e, "reading list head 0x%llx",
				     (unsigned long long)head);
	if (next == head && prev == head)
		return 0;
	if (!plausible_ptr(next & LINK_MASK) || !plausible_ptr(prev & LINK_MASK) ||
	    (next & ~LINK_MASK) || (prev & ~LINK_MASK))
		return hw_err_set(e, HW_ECORRUPT, 0,
				  "list head 0x%llx has implausible links 0x%llx/0x%llx",
				  (unsigned long long)head, (unsigned long long)next,
				  (unsigned long long)prev);
	/* The first node must point back at the head. */
	if (hw_snap_read_u64(s, next + (uint64_t)o->gchead_prev, &back, e) < 0)
		return hw_err_prefix(e, "reading the first object of list 0x%llx",
				     (unsigned long long)head);
	if ((back & LINK_MASK) != head)
		return hw_err_set(e, HW_ECORRUPT, 0,
				  "list head 0x%llx: first object 0x%llx points back to 0x%llx",
				  (unsigned long long)head, (unsigned long long)next,
				  (unsigned long long)back);
	return 0;
}

int hw_gc_check(struct hw_snap *s, const struct hw_offsets *o,
		const struct hw_gcroots *r, struct hw_err *e)
{
	struct gcstate st[HW_GC_MAX_INTERPS];
	uint64_t heads[HW_GC_MAX_LISTS];
	unsigned n;

	if (hw_offsets_validate(o, e) < 0 || find_states(s, o, r, st, &n, e) < 0)
		return -1;
	for (unsigned i = 0; i < n; i++) {
		if (check_collecting(s, o, &st[i], e) < 0)
			return -1;
		unsigned nh = list_heads(o, &st[i], heads);

		for (unsigned h = 0; h < nh; h++)
			if (check_head(s, o, heads[h], e) < 0)
				return hw_err_prefix(e, "interpreter %u, list %u", i, h);
	}
	return 0;
}

/* 2.7 to 3.7 keep gc_refs in its own word; outside a collection every
 * tracked object holds _PyGC_REFS_REACHABLE: -3 in 2.7, and (-3 << 1) |
 * finalized bit = -6 or -5 in 3.6/3.7 (objimpl.h of each).  Any other
 * value means a collection is running. */
static int refs_reachable(int64_t refs)
{
	return refs == -3 || refs == -5 || refs == -6;
}

struct walker {
	struct hw_snap *s;
	const struct hw_offsets *o;
	const struct hw_walk_opts *opts;
	struct hw_typecount *tc;
	struct hw_walk_stats *st;
	uint64_t max;
	size_t hdr;          /* bytes read per object */
	/* the type seen last: runs of one type are common */
	uint64_t last_type, last_run;
	int out_of_time;
};

static int flush_run(struct walker *w, struct hw_err *e)
{
	if (w->last_run && hw_typecount_add(w->tc, w->last_type, w->last_run, e) < 0)
		return -1;
	w->last_run = 0;
	return 0;
}

static int walk_list(struct walker *w, uint64_t head, unsigned idx,
		     struct hw_err *e)
{
	const struct hw_offsets *o = w->o;
	unsigned char buf[128];
	uint64_t cur = head, next;
	uint64_t count = 0;

	if (hw_snap_read_u64(w->s, head + (uint64_t)o->gchead_next, &next, e) < 0)
		return hw_err_prefix(e, "reading list head 0x%llx",
				     (unsigned long long)head);
	next &= LINK_MASK;
	while (next != head) {
		uint64_t prev, type, nn;

		if (!plausible_ptr(next))
			return hw_err_set(e, HW_ECORRUPT, 0,
					  "object link 0x%llx after 0x%llx is not plausible",
					  (unsigned long long)next,
					  (unsigned long long)cur);
		if (w->st->objects + count >= w->max)
			return hw_err_set(e, HW_ELIMIT, 0,
					  "more than %llu objects: list does not end",
					  (unsigned long long)w->max);
		/* The clock is read every CLOCK_EVERY objects of the walk,
		 * not of each list: many short lists must not escape it. */
		if (((w->st->objects + count) & (CLOCK_EVERY - 1)) == CLOCK_EVERY - 1 &&
		    w->opts && w->opts->deadline_ns && hw_now_ns() > w->opts->deadline_ns) {
			w->st->partial = 1;
			w->out_of_time = 1;
			break;
		}
		if (hw_snap_read(w->s, next, buf, w->hdr, e) < 0) {
			if (e && e->code == HW_EMISS && w->opts && w->opts->allow_misses) {
				w->st->partial = 1;
				break;
			}
			return hw_err_prefix(e, "reading object at 0x%llx",
					     (unsigned long long)next);
		}
		memcpy(&prev, buf + o->gchead_prev, 8);
		memcpy(&nn, buf + o->gchead_next, 8);
		memcpy(&type, buf + o->gchead_size + o->ob_type, 8);
		if ((prev & LINK_MASK) != cur)
			return hw_err_set(e, HW_ECORRUPT, 0,
					  "object 0x%llx points back to 0x%llx, not 0x%llx",
					  (unsigned long long)next,
					  (unsigned long long)(prev & LINK_MASK),
					  (unsigned long long)cur);
		if (!NO(o->gchead_refs)) {
			int64_t refs;

			memcpy(&refs, buf + o->gchead_refs, 8);
			if (!refs_reachable(refs)) {
				w->st->collecting = 1;
				return hw_err_set(e, HW_EBUSY, 0,
						  "a garbage collection is running "
						  "(gc_refs %lld at 0x%llx)",
						  (long long)refs,
						  (unsigned long long)next);
			}
		} else if (prev & PREV_COLLECTING) {
			w->st->collecting = 1;
			return hw_err_set(e, HW_EBUSY, 0,
					  "a garbage collection is running "
					  "(object 0x%llx marked collecting)",
					  (unsigned long long)next);
		}
		if (!plausible_ptr(type))
			return hw_err_set(e, HW_ECORRUPT, 0,
					  "object 0x%llx has type pointer 0x%llx",
					  (unsigned long long)(next + (uint64_t)o->gchead_size),
					  (unsigned long long)type);
		if (w->opts && w->opts->visit &&
		    w->opts->visit(w->opts->visit_arg, next + (uint64_t)o->gchead_size,
				   type, idx, e) < 0) {
			if (e && e->code == HW_EMISS && w->opts->allow_misses) {
				w->st->partial = 1;
				break;
			}
			return hw_err_prefix(e, "visiting object at 0x%llx",
					     (unsigned long long)(next + (uint64_t)o->gchead_size));
		}
		if (type != w->last_type) {
			if (flush_run(w, e) < 0)
				return -1;
			w->last_type = type;
		}
		w->last_run++;
		count++;
		cur = next;
		next = nn & LINK_MASK;
	}
	if (flush_run(w, e) < 0)
		return -1;
	w->st->objects += count;
	if (idx < HW_GC_MAX_LISTS)
		w->st->per_list[idx] += count;
	return 0;
}

int hw_gc_walk(struct hw_snap *s, const struct hw_offsets *o,
	       const struct hw_gcroots *r, const struct hw_walk_opts *opts,
	       struct hw_typecount *tc, struct hw_walk_stats *st,
	       struct hw_err *e)
{
	struct gcstate gs[HW_GC_MAX_INTERPS];
	uint64_t heads[HW_GC_MAX_LISTS];
	struct walker w;
	unsigned n;

	memset(st, 0, sizeof *st);
	/* The header is read into a 128-byte buffer and indexed by layout
	 * fields: never without the validator's word that they fit. */
	if (hw_offsets_validate(o, e) < 0)
		return -1;
	if (NO(o->ob_type) || NO(o->gchead_next) || NO(o->gchead_prev) || NO(o->gchead_size))
		return hw_err_set(e, HW_ELAYOUT, 0, "layout lacks object header fields");
	memset(&w, 0, sizeof w);
	w.s = s;
	w.o = o;
	w.opts = opts;
	w.tc = tc;
	w.st = st;
	w.max = opts && opts->max_objects ? opts->max_objects : (1ull << 30);
	w.hdr = (size_t)(o->gchead_size + o->ob_type + 8);
	if (find_states(s, o, r, gs, &n, e) < 0)
		return -1;
	st->ninterps = n;
	for (unsigned i = 0; i < n; i++) {
		if (check_collecting(s, o, &gs[i], e) < 0) {
			st->collecting = e && e->code == HW_EBUSY;
			return hw_err_prefix(e, "interpreter %u", i);
		}
		unsigned nh = list_heads(o, &gs[i], heads);

		st->nlists = nh;
		for (unsigned h = 0; h < nh; h++) {
			if (check_head(s, o, heads[h], e) < 0 ||
			    walk_list(&w, heads[h], h, e) < 0)
				return hw_err_prefix(e, "interpreter %u, %s", i,
						     h < 3 ? (h == 0 ? "generation 0" :
							      h == 1 ? "generation 1" :
							      "generation 2")
							   : "permanent generation");
			if (w.out_of_time)
				return 0;
		}
	}
	return 0;
}
