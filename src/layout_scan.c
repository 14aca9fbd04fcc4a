/* layout_scan.c - finding the generation list heads by signature in the
 * interpreter state, for builds with no DWARF and no _Py_DebugOffsets
 * list offsets.  Signatures are data, one per GC-state shape.  Internal to
 * the layout module (layout_int.h). */
#include "heapwatch/layout.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "heapwatch/mem.h"
#include "heapwatch/target.h"
#include "layout_int.h"

/* ------------------------------------------------------------------ */
/* signature scan for the generation lists */

struct scan_sig {
	const char *name;
	uint32_t min_hex, max_hex;            /* versions it applies to */
	int64_t head_size, stride, gens_off;   /* gens_off: in the GC state */
	int64_t self_at;      /* X + self_at holds X (generation0); -1: none */
	int64_t not_self_at;  /* X + not_self_at must not hold X; -1: none */
	int64_t perm_at, coll_at;              /* relative to X */
	int young_threshold;                   /* 3.14.0-4: gen1 threshold 10 */
};

/* X is the first list head.  3.13.18 keeps the 3.13.0 fields but its
 * generations start 4 bytes earlier (a 4-aligned PyGC_Head), so X is 4
 * mod 8 there; 3.14.0-3.14.4 has no generation0, and the 3.14.5+ state
 * passes every other test of it, so it must not hold generation0 where
 * 3.14.5+ does.  Where signatures with and without a generation0 both
 * fit one address, the one with it wins (a pointer to X is the stronger
 * evidence). */
static const struct scan_sig sigs[] = {
	{ "3.7.4+ generations", 0x03070000, 0x0307ffff, 32, 48, 32, 144, -1, 160, 280, 0 },
	{ "3.8-3.13.0 generations", 0x03080000, 0x030dffff, 16, 24, 24, 72, -1, 80, 176, 0 },
	{ "3.13.18 generations", 0x030d0000, 0x030dffff, 16, 24, 20, 76, -1, 84, 180, 0 },
	{ "3.14.5+ generations", 0x030e0000, 0x030effff, 16, 24, 24, 232, -1, 72, 168, 0 },
	{ "3.14.0-3.14.4 young/old", 0x030e0000, 0x030effff, 16, 24, 24, -1, 232, 72, 168, 1 },
	{ "3.15 generations", 0x030f0000, 0x030fffff, 16, 24, 8, 160, -1, 72, 104, 0 },
};
#define NSIGS (sizeof sigs / sizeof sigs[0])

static int buf64(const unsigned char *b, size_t len, int64_t at, uint64_t *v)
{
	if (at < 0 || (uint64_t)at + 8 > len)
		return -1;
	memcpy(v, b + at, 8);
	return 0;
}

/* A list head at local offset x of buf (remote base): empty, or its
 * neighbours point back at it (checked through m). */
static int scan_head_ok(struct hw_mem *m, const unsigned char *buf, size_t len,
			uint64_t base, int64_t x)
{
	uint64_t next, prev, back, head = base + (uint64_t)x;

	if (buf64(buf, len, x, &next) < 0 || buf64(buf, len, x + 8, &prev) < 0)
		return 0;
	if (next == head && prev == head)
		return 1;
	if (!hwl_plausible_ptr(next) || !hwl_plausible_ptr(prev) || next == head || prev == head)
		return 0;
	if (hwl_rd64(m, next + 8, &back) < 0 || (back & LINK_MASK) != head)
		return 0;
	if (hwl_rd64(m, prev, &back) < 0 || (back & LINK_MASK) != head)
		return 0;
	return 1;
}

static int sig_matches(struct hw_mem *m, const unsigned char *buf, size_t len,
		       uint64_t base, int64_t x, const struct scan_sig *g)
{
	uint64_t v;
	int32_t th0, th1;

	if (g->self_at >= 0 && (buf64(buf, len, x + g->self_at, &v) < 0 ||
				v != base + (uint64_t)x))
		return 0;
	if (g->not_self_at >= 0 && buf64(buf, len, x + g->not_self_at, &v) == 0 &&
	    v == base + (uint64_t)x)
		return 0;
	if (x + g->coll_at + 4 > (int64_t)len || x + 2 * g->stride + g->head_size + 4 > (int64_t)len)
		return 0;
	memcpy(&th0, buf + x + g->head_size, 4);
	memcpy(&th1, buf + x + g->stride + g->head_size, 4);
	if (th0 < 0 || th0 > 1000000 || th1 < 0 || th1 > 1000000)
		return 0;
	if (g->young_threshold && th1 != 10)
		return 0;
	memcpy(&th0, buf + x + g->coll_at, 4);
	if (th0 != 0 && th0 != 1)
		return 0;
	for (int i = 0; i < 3; i++)
		if (!scan_head_ok(m, buf, len, base, x + i * g->stride))
			return 0;
	return scan_head_ok(m, buf, len, base, x + g->perm_at);
}

/* Find the heads in [base, base+len), 4-byte steps, with the signatures
 * of version: exactly one address, or an error. */
static int scan_region(struct hw_mem *m, uint32_t version, uint64_t base, size_t len,
		       const struct scan_sig **hit_sig, int64_t *hit_x,
		       struct hw_err *e)
{
	unsigned char *buf = malloc(len);
	int64_t first_x = -1;
	int addrs = 0, conflict = 0;

	if (!buf)
		return hw_err_set(e, HW_ENOMEM, 0, "allocating a scan buffer");
	if (hw_mem_read(m, base, buf, len, e) < 0) {
		free(buf);
		return hw_err_prefix(e, "reading the state to scan");
	}
	for (int64_t x = 0; x + 256 <= (int64_t)len; x += 4) {
		const struct scan_sig *here = NULL;
		int clash = 0;

		for (size_t k = 0; k < NSIGS; k++) {
			const struct scan_sig *g = &sigs[k];

			if ((version && (version < g->min_hex || version > g->max_hex)) ||
			    !sig_matches(m, buf, len, base, x, g))
				continue;
			if (!here || (here->self_at < 0 && g->self_at >= 0)) {
				here = g;
				clash = 0;
			} else if ((here->self_at >= 0) == (g->self_at >= 0) &&
				   (here->perm_at != g->perm_at || here->coll_at != g->coll_at ||
				    here->gens_off != g->gens_off)) {
				clash = 1;
			}
		}
		if (!here)
			continue;
		if (!addrs) {
			*hit_sig = here;
			first_x = x;
			conflict = clash;
		}
		addrs++;
	}
	free(buf);
	if (addrs != 1)
		return hw_err_set(e, HW_ELAYOUT, 0,
				  "signature scan of %zu bytes at 0x%llx found %d candidate addresses",
				  len, (unsigned long long)base, addrs);
	if (conflict)
		return hw_err_set(e, HW_ELAYOUT, 0,
				  "signature scan: the list heads at 0x%llx fit signatures "
				  "that disagree", (unsigned long long)(base + (uint64_t)first_x));
	*hit_x = first_x;
	return 0;
}

int hwl_apply_scan(const struct hw_target *t, struct hw_mem *m,
		      struct hw_layout *l, struct hw_err *e)
{
	struct hw_offsets *o = &l->off;
	const struct scan_sig *g = NULL;
	int64_t x = 0;
	uint64_t base, interp = 0;
	size_t len;

	if (!m || !t->runtime_addr)
		return hw_err_set(e, HW_ELAYOUT, 0, "nothing to scan (no _PyRuntime)");
	if (o->interp_gc >= 0 && o->rt_interp_head >= 0 && o->interp_next >= 0) {
		/* the main interpreter is the last of the list */
		uint64_t p;

		if (hw_mem_read(m, t->runtime_addr + (uint64_t)o->rt_interp_head, &p, 8, e) < 0)
			return hw_err_prefix(e, "reading the interpreter list");
		for (int i = 0; p && i < 256; i++) {
			interp = p;
			if (hw_mem_read(m, p + (uint64_t)o->interp_next, &p, 8, e) < 0)
				return hw_err_prefix(e, "reading the interpreter list");
		}
		if (!interp)
			return hw_err_set(e, HW_ELAYOUT, 0, "no interpreter to scan");
		base = interp;
		len = 64 * 1024;
	} else {
		base = t->runtime_addr;
		len = t->runtime_size && t->runtime_size < (4u << 20) ? t->runtime_size : 4096;
	}
	if (scan_region(m, t->version_hex, base, len, &g, &x, e) < 0)
		return -1;
	int64_t gc_at = x - g->gens_off;    /* the GC state, relative to base */
	int64_t old_gc = interp ? o->interp_gc : o->rt_gc;

	if (old_gc >= 0 && old_gc != gc_at)
		hwl_note(l, "%s: %lld before the scan, %lld found by it (used)",
		     interp ? "interp_gc" : "rt_gc", (long long)old_gc, (long long)gc_at);
	if (interp)
		o->interp_gc = gc_at;
	else
		o->rt_gc = gc_at;
	o->gc_gens = g->gens_off;
	o->gc_gen_stride = g->stride;
	o->gchead_size = g->head_size;
	o->gc_permanent = g->gens_off + g->perm_at;
	o->gc_collecting = g->gens_off + g->coll_at;
	o->gc_generation0 = g->self_at >= 0 ? g->gens_off + g->self_at : HW_NOFIELD;
	o->gc_gen_threshold = g->head_size;
	hwl_appendf(l->detail, sizeof l->detail, "; scan: %s at +%lld", g->name, (long long)x);
	return 0;
}

