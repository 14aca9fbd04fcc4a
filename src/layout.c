/* layout.c - choosing where a target's layout comes from.
 *
 * Sources, best first:
 *   dwarf          exact for this very build (the binary's or a separate
 *                  debug file's DWARF);
 *   debug_offsets  CPython 3.13+ publishes _Py_DebugOffsets at the start
 *                  of _PyRuntime: the interpreter list, the GC state's
 *                  start and collecting flag, ob_type, tp_name, tp_flags.
 *                  The rest (list heads inside the GC state, strings,
 *                  dicts) comes from the built-in table of that version;
 *   table          built-in rows per version (layout_tables.c);
 *   scan           the table for everything but where the generation
 *                  lists are, which a signature scan of the interpreter
 *                  state finds and validates.
 * Every source is data: the debug-offsets formats and the scan
 * signatures are tables below, keyed by version, not code paths.
 */
#include "heapwatch/layout.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "heapwatch/mem.h"
#include "heapwatch/target.h"

#define FIELD_INDEX(name) (offsetof(struct hw_offsets, name) / sizeof(int64_t))

/* ------------------------------------------------------------------ */
/* _Py_DebugOffsets: where each format keeps what we take from it */

struct dbg_take {
	size_t field;      /* index into struct hw_offsets */
	uint32_t at;       /* byte offset of the uint64_t in _Py_DebugOffsets */
};

struct dbg_format {
	uint32_t min_hex, max_hex;
	uint32_t size;           /* bytes to read */
	uint32_t free_threaded;  /* offset of the free_threaded flag */
	struct dbg_take take[8];
	unsigned ntake;
};

/* 3.13: Include/internal/pycore_runtime.h (v3.13.0); 3.14:
 * pycore_debug_offsets.h (v3.14.0).  Offsets inside the struct, each
 * field a uint64_t. */
static const struct dbg_format dbg_formats[] = {
	{ 0x030d0000, 0x030dffff, 584, 16,
	  { { FIELD_INDEX(rt_interp_head), 40 }, { FIELD_INDEX(interp_next), 64 },
	    { FIELD_INDEX(interp_gc), 80 }, { FIELD_INDEX(ob_type), 360 },
	    { FIELD_INDEX(tp_name), 376 }, { FIELD_INDEX(tp_flags), 392 },
	    { FIELD_INDEX(gc_size), 568 }, { FIELD_INDEX(gc_collecting), 576 } }, 8 },
	{ 0x030e0000, 0x030effff, 760, 16,
	  { { FIELD_INDEX(rt_interp_head), 40 }, { FIELD_INDEX(interp_next), 64 },
	    { FIELD_INDEX(interp_gc), 88 }, { FIELD_INDEX(ob_type), 408 },
	    { FIELD_INDEX(tp_name), 424 }, { FIELD_INDEX(tp_flags), 440 },
	    { FIELD_INDEX(gc_size), 648 }, { FIELD_INDEX(gc_collecting), 656 } }, 8 },
};

/* Record a disagreement: "field: 7400 before, debug_offsets 7408". */
static void note(struct hw_layout *l, const char *field, int64_t a,
		 const char *src, int64_t b)
{
	size_t n = strlen(l->notes);

	if (n + 2 >= sizeof l->notes)
		return;
	snprintf(l->notes + n, sizeof l->notes - n, "%s%s: %lld before, %s %lld",
		 n ? "; " : "", field, (long long)a, src, (long long)b);
}

/* Read _Py_DebugOffsets; fill what it covers into o (recording where it
 * disagrees with what o held).  Also the free-threaded check. */
static int apply_debug_offsets(const struct hw_target *t, struct hw_mem *m,
			       struct hw_layout *l, int *free_threaded,
			       struct hw_err *e)
{
	const struct dbg_format *f = NULL;
	unsigned char buf[1024];
	uint64_t version, v;

	*free_threaded = 0;
	if (!t->runtime_addr || !m)
		return hw_err_set(e, HW_ELAYOUT, 0, "no _PyRuntime to read _Py_DebugOffsets from");
	if (hw_mem_read(m, t->runtime_addr, buf, 24, e) < 0)
		return hw_err_prefix(e, "reading _Py_DebugOffsets");
	if (memcmp(buf, "xdebugpy", 8) != 0)
		return hw_err_set(e, HW_ELAYOUT, 0,
				  "_PyRuntime does not start with _Py_DebugOffsets (CPython < 3.13)");
	memcpy(&version, buf + 8, 8);
	for (size_t i = 0; i < sizeof dbg_formats / sizeof dbg_formats[0]; i++)
		if (version >= dbg_formats[i].min_hex && version <= dbg_formats[i].max_hex)
			f = &dbg_formats[i];
	if (!f)
		return hw_err_set(e, HW_EVERSION, 0,
				  "_Py_DebugOffsets version 0x%08llx has no known format",
				  (unsigned long long)version);
	if (t->version_hex && (t->version_hex >> 16) != (version >> 16))
		return hw_err_set(e, HW_ELAYOUT, 0,
				  "_Py_DebugOffsets says version 0x%08llx, Py_Version 0x%08x",
				  (unsigned long long)version, (unsigned)t->version_hex);
	if (hw_mem_read(m, t->runtime_addr, buf, f->size, e) < 0)
		return hw_err_prefix(e, "reading _Py_DebugOffsets");
	memcpy(&v, buf + f->free_threaded, 8);
	if (v) {
		*free_threaded = 1;
		return 0;
	}
	for (unsigned i = 0; i < f->ntake; i++) {
		int64_t old = hw_offsets_get(&l->off, f->take[i].field);

		memcpy(&v, buf + f->take[i].at, 8);
		if (v > (1u << 24))
			return hw_err_set(e, HW_ELAYOUT, 0,
					  "_Py_DebugOffsets: %s = %llu is implausible",
					  hw_offset_fields[f->take[i].field].name,
					  (unsigned long long)v);
		if (old >= 0 && old != (int64_t)v)
			note(l, hw_offset_fields[f->take[i].field].name, old,
			     "debug_offsets", (int64_t)v);
		hw_offsets_set(&l->off, f->take[i].field, (int64_t)v);
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* signature scan for the generation lists */

struct scan_sig {
	const char *name;
	int64_t head_size, stride, gens_off;   /* gens_off: in the GC state */
	int64_t self_at;      /* X + self_at holds X (generation0); -1: none */
	int64_t perm_at, coll_at;              /* relative to X */
	int young_threshold_min;               /* 3.14.0-4: no self pointer */
};

static const struct scan_sig sigs[] = {
	{ "3.8-3.13 generations", 16, 24, 24, 72, 80, 176, 0 },
	{ "3.14.5+ generations", 16, 24, 24, 232, 72, 168, 0 },
	{ "3.7.4+ generations", 32, 48, 32, 144, 160, 280, 0 },
	{ "3.14.0-3.14.4 young/old", 16, 24, 24, -1, 72, 168, 1 },
};

static int rd64(const unsigned char *b, size_t len, int64_t at, uint64_t *v)
{
	if (at < 0 || (uint64_t)at + 8 > len)
		return -1;
	memcpy(v, b + at, 8);
	return 0;
}

/* A list head at local offset x of buf (remote base): empty, or its
 * neighbours point back at it (checked through m). */
static int head_ok(struct hw_mem *m, const unsigned char *buf, size_t len,
		   uint64_t base, int64_t x)
{
	uint64_t next, prev, back, head = base + (uint64_t)x;

	if (rd64(buf, len, x, &next) < 0 || rd64(buf, len, x + 8, &prev) < 0)
		return 0;
	if (next == head && prev == head)
		return 1;
	if (!next || !prev || (next & 7) || (prev & 7) || next == head || prev == head)
		return 0;
	if (hw_mem_read(m, next + 8, &back, 8, NULL) < 0 || (back & ~3ull) != head)
		return 0;
	if (hw_mem_read(m, prev, &back, 8, NULL) < 0 || (back & ~3ull) != head)
		return 0;
	return 1;
}

static int sig_matches(struct hw_mem *m, const unsigned char *buf, size_t len,
		       uint64_t base, int64_t x, const struct scan_sig *g)
{
	uint64_t v;
	int32_t th0, th1;

	if (g->self_at >= 0 && (rd64(buf, len, x + g->self_at, &v) < 0 ||
				v != base + (uint64_t)x))
		return 0;
	for (int i = 0; i < 3; i++)
		if (!head_ok(m, buf, len, base, x + i * g->stride))
			return 0;
	if (!head_ok(m, buf, len, base, x + g->perm_at))
		return 0;
	if (x + g->coll_at + 4 > (int64_t)len || x + 2 * g->stride + g->head_size + 4 > (int64_t)len)
		return 0;
	memcpy(&th0, buf + x + g->head_size, 4);
	memcpy(&th1, buf + x + g->stride + g->head_size, 4);
	if (th0 <= 0 || th0 > 1000000 || th1 < 0 || th1 > 1000000)
		return 0;
	if (g->young_threshold_min && th1 != 10)
		return 0;
	memcpy(&th0, buf + x + g->coll_at, 4);
	return th0 == 0 || th0 == 1;
}

/* Find the heads in [base, base+len): exactly one hit, or an error. */
static int scan_region(struct hw_mem *m, uint64_t base, size_t len,
		       const struct scan_sig **hit_sig, int64_t *hit_x,
		       struct hw_err *e)
{
	unsigned char *buf = malloc(len);
	int hits = 0;

	if (!buf)
		return hw_err_set(e, HW_ENOMEM, 0, "allocating a scan buffer");
	if (hw_mem_read(m, base, buf, len, e) < 0) {
		free(buf);
		return hw_err_prefix(e, "reading the state to scan");
	}
	for (size_t k = 0; k < sizeof sigs / sizeof sigs[0]; k++)
		for (int64_t x = 0; x + 256 <= (int64_t)len; x += 8)
			if (sig_matches(m, buf, len, base, x, &sigs[k])) {
				if (!hits) {
					*hit_sig = &sigs[k];
					*hit_x = x;
				}
				hits++;
			}
	free(buf);
	if (hits != 1)
		return hw_err_set(e, HW_ELAYOUT, 0,
				  "signature scan of %zu bytes at 0x%llx found %d candidates",
				  len, (unsigned long long)base, hits);
	return 0;
}

static int apply_scan(const struct hw_target *t, struct hw_mem *m,
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
	if (scan_region(m, base, len, &g, &x, e) < 0)
		return -1;
	int64_t gc_at = x - g->gens_off;    /* the GC state, relative to base */
	int64_t old_gc = interp ? o->interp_gc : o->rt_gc;

	if (old_gc >= 0 && old_gc != gc_at)
		note(l, interp ? "interp_gc" : "rt_gc", old_gc, "scan", gc_at);
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
	snprintf(l->detail + strlen(l->detail), sizeof l->detail - strlen(l->detail),
		 "; scan: %s at +%lld", g->name, (long long)x);
	return 0;
}

/* ------------------------------------------------------------------ */

static int from_dwarf(const struct hw_target *t, struct hw_layout *l,
		      struct hw_err *e)
{
	char where[4096];

	if (hw_target_dwarf(t, &l->off, where, sizeof where, e) < 0)
		return -1;
	l->source = HW_SRC_DWARF;
	snprintf(l->detail, sizeof l->detail, "%s", where);
	return 0;
}

static int from_table(const struct hw_target *t, struct hw_layout *l,
		      struct hw_err *e)
{
	char key[256];

	if (!t->version_hex)
		return hw_err_set(e, HW_EVERSION, 0,
				  "version %s is not known precisely enough for a table",
				  t->version[0] ? t->version : "(unknown)");
	if (hw_layout_table(t->version_hex, t->debug_build, &l->off, key,
			    sizeof key, e) < 0)
		return -1;
	l->source = HW_SRC_TABLE;
	snprintf(l->detail, sizeof l->detail, "table: %s", key);
	return 0;
}

static int from_debug_offsets(const struct hw_target *t, struct hw_mem *m,
			      struct hw_layout *l, struct hw_err *e)
{
	struct hw_err te;
	int ft;

	/* The table supplies what _Py_DebugOffsets does not cover. */
	if (from_table(t, l, &te) < 0)
		hw_offsets_init(&l->off);
	if (apply_debug_offsets(t, m, l, &ft, e) < 0)
		return -1;
	if (ft)
		return hw_err_set(e, HW_EFREETHR, 0,
				  "free-threaded CPython build (%s): it keeps no GC "
				  "object lists to walk; not supported",
				  t->version[0] ? t->version : "3.13t+");
	if (l->off.gc_gens < 0)
		return hw_err_set(e, HW_ELAYOUT, 0,
				  "_Py_DebugOffsets does not say where the generation "
				  "lists are, and no table covers %s", t->version);
	l->source = HW_SRC_DEBUG_OFFSETS;
	snprintf(l->detail, sizeof l->detail, "_Py_DebugOffsets + %s",
		 te.code == HW_OK ? "table" : "no table");
	return 0;
}

static int from_scan(const struct hw_target *t, struct hw_mem *m,
		     struct hw_layout *l, struct hw_err *e)
{
	struct hw_err te;
	int ft;

	hw_err_clear(&te);
	if (from_table(t, l, &te) < 0)
		return hw_err_set(e, te.code, 0, "scan needs the object layout of a table: %s",
				  te.msg);
	/* Where 3.13+ publishes the interpreter offsets, use them. */
	if (apply_debug_offsets(t, m, l, &ft, &te) == 0 && ft)
		return hw_err_set(e, HW_EFREETHR, 0, "free-threaded CPython build");
	if (apply_scan(t, m, l, e) < 0)
		return -1;
	l->source = HW_SRC_SCAN;
	return 0;
}

/* Free-threaded builds are refused whatever the source. */
static int check_free_threaded(const struct hw_target *t, struct hw_mem *m,
			       struct hw_err *e)
{
	unsigned char buf[24];
	uint64_t ft;

	if (!m || !t->runtime_addr || t->version_hex < 0x030d0000)
		return 0;
	if (hw_mem_read(m, t->runtime_addr, buf, sizeof buf, NULL) < 0 ||
	    memcmp(buf, "xdebugpy", 8) != 0)
		return 0;
	memcpy(&ft, buf + 16, 8);
	if (ft)
		return hw_err_set(e, HW_EFREETHR, 0,
				  "free-threaded CPython build (%s): it keeps no GC "
				  "object lists to walk; not supported", t->version);
	return 0;
}

int hw_layout_resolve(const struct hw_target *t, struct hw_mem *m,
		      enum hw_layout_source only, struct hw_layout *l,
		      struct hw_err *e)
{
	struct hw_err first, second;
	char b1[HW_ERR_MSG_MAX], b2[HW_ERR_MSG_MAX];

	memset(l, 0, sizeof *l);
	hw_offsets_init(&l->off);
	hw_err_clear(&first);
	hw_err_clear(&second);
	if (check_free_threaded(t, m, e) < 0)
		return -1;
	switch (only) {
	case HW_SRC_DWARF:
		return from_dwarf(t, l, e);
	case HW_SRC_TABLE:
		return from_table(t, l, e);
	case HW_SRC_DEBUG_OFFSETS:
		return from_debug_offsets(t, m, l, e);
	case HW_SRC_SCAN:
		return from_scan(t, m, l, e);
	case HW_SRC_NONE:
		break;
	}
	if (from_dwarf(t, l, &first) == 0)
		return 0;
	hw_offsets_init(&l->off);
	if (t->version_hex >= 0x030d0000 && from_debug_offsets(t, m, l, &second) == 0)
		return 0;
	if (second.code == HW_EFREETHR) {
		hw_err_copy(e, &second);
		return -1;
	}
	hw_offsets_init(&l->off);
	l->notes[0] = '\0';
	if (from_table(t, l, e) == 0)
		return 0;
	return hw_err_set(e, HW_EVERSION, 0,
			  "no layout for CPython %s: dwarf: %s; tables: %s",
			  t->version[0] ? t->version : "(unknown version)",
			  hw_err_str(&first, b1, sizeof b1), hw_err_str(e, b2, sizeof b2));
}
