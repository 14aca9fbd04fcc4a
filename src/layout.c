/* layout.c - choosing where a target's layout comes from, and confirming
 * it against the target itself.
 *
 * Sources, best first:
 *   dwarf          exact for this very build (the binary's or a separate
 *                  debug file's DWARF);
 *   debug_offsets  CPython 3.13+ publishes _Py_DebugOffsets at the start
 *                  of _PyRuntime: the interpreter list, the GC state's
 *                  start, size and collecting flag, ob_type, tp_name,
 *                  tp_flags.  Where the generation lists sit inside the GC
 *                  state is not published: it is found at run time (below);
 *                  strings, dicts and heap type names come from the
 *                  built-in table of that version (the newest one for a
 *                  version newer than any table);
 *   table          built-in rows per version (layout_tables.c);
 *   scan           the table for everything but where the generation
 *                  lists are, which a signature scan of the interpreter
 *                  state finds.
 *
 * Whatever the source, the layout is confirmed against the running
 * target before a census trusts it (confirm_gc, confirm_names):
 *   - inside the GC state [gc, gc + sizeof), exactly one word points
 *     elsewhere into the state: generation0, which holds the address of
 *     generations[0] (true of every CPython with a generation0 field,
 *     3.7 to 3.15; a list head's own links to itself are excluded).  The
 *     source's generation lists and generation0 must be where that word
 *     says, the three heads and the permanent one must be list heads
 *     whose neighbours point back, and `collecting` must read 0 or 1;
 *   - a few classes found on the lists must have an ht_name that is a str
 *     whose characters are the class's tp_name, and an ht_qualname that
 *     is a str: this holds ob_type, tp_flags, tp_name, ht_name,
 *     ht_qualname and the str layout to the target's own objects.
 * A source that fails either check is refused, naming the field and both
 * values; auto mode then tries the next one.  The debug_offsets source
 * takes the list heads from the check itself (3.13.18 moved them without
 * changing _Py_DebugOffsets), and says so in the layout's detail.
 *
 * Every source is data: the _Py_DebugOffsets formats and the scan
 * signatures are tables below, keyed by version, not code paths.
 */
#include "heapwatch/layout.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "heapwatch/mem.h"
#include "heapwatch/target.h"

#define FIELD_INDEX(name) (offsetof(struct hw_offsets, name) / sizeof(int64_t))
#define LINK_MASK (~(uint64_t)3)
#define TPFLAGS_HEAPTYPE (1ull << 9)
#define TPFLAGS_STRING_SUBCLASS_27 (1ull << 27)
#define TPFLAGS_UNICODE_SUBCLASS (1ull << 28)
#define TPFLAGS_TYPE_SUBCLASS (1ull << 31)
#define MAX_GC_STATE 65536      /* sizeof(struct _gc_runtime_state) cap */
#define BUSY_WAITS 200          /* 10 ms each: a collection in progress */

/* ------------------------------------------------------------------ */
/* small helpers */

static void appendf(char *buf, size_t size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void appendf(char *buf, size_t size, const char *fmt, ...)
{
	size_t n = strlen(buf);
	va_list ap;

	if (n + 1 >= size)
		return;
	va_start(ap, fmt);
	vsnprintf(buf + n, size - n, fmt, ap);
	va_end(ap);
}

/* Record something a user should know about the layout in l->notes. */
static void note(struct hw_layout *l, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void note(struct hw_layout *l, const char *fmt, ...)
{
	size_t n = strlen(l->notes);
	va_list ap;

	if (n + 3 >= sizeof l->notes)
		return;
	if (n)
		appendf(l->notes, sizeof l->notes, "\n");
	n = strlen(l->notes);
	va_start(ap, fmt);
	vsnprintf(l->notes + n, sizeof l->notes - n, fmt, ap);
	va_end(ap);
}

static int plausible_ptr(uint64_t p)
{
	return p >= 4096 && p < (1ull << 56) && (p & 7) == 0;
}

static int rd64(struct hw_mem *m, uint64_t addr, uint64_t *v)
{
	return hw_mem_read(m, addr, v, sizeof *v, NULL);
}

static void pause_1ms(void)
{
	struct timespec ts = { 0, 1000000L };

	nanosleep(&ts, NULL);
}

/* ------------------------------------------------------------------ */
/* _Py_DebugOffsets: where each format keeps what we take from it */

/* Byte offsets of uint64_t fields inside _Py_DebugOffsets. */
struct dbg_format {
	uint32_t min_hex, max_hex;
	const char *name;
	uint32_t size;               /* sizeof(_Py_DebugOffsets) */
	uint32_t free_threaded;
	uint32_t rt_size, rt_interp_head;
	uint32_t interp_size, interp_next, interp_gc;
	uint32_t obj_size, ob_type;
	uint32_t type_size, tp_name, tp_flags;
	uint32_t gc_size, gc_collecting;
};

/* 3.13: Include/internal/pycore_runtime.h; 3.14 and 3.15:
 * pycore_debug_offsets.h.  Every offset below was read from the DWARF of
 * 3.13.0, 3.13.18, 3.14.10 and 3.15.2 (ptype /o struct _Py_DebugOffsets)
 * and the values behind them from live targets.  3.14 grew
 * interpreter_state (threads_main, code_object_generation, ...) and added
 * set_object, gen_object, llist_node, debugger_support; 3.15 grew
 * thread_state, added err_stackitem and heap_type_object, and grew
 * type_object, unicode_object and gc, so everything after thread_state
 * moved. */
static const struct dbg_format dbg_formats[] = {
	{ 0x030d0000, 0x030dffff, "3.13", 584, 16, 24, 40, 48, 64, 80,
	  352, 360, 368, 376, 392, 568, 576 },
	{ 0x030e0000, 0x030effff, "3.14", 760, 16, 24, 40, 48, 64, 88,
	  400, 408, 416, 424, 440, 648, 656 },
	{ 0x030f0000, 0x030fffff, "3.15", 888, 16, 24, 40, 48, 64, 88,
	  464, 472, 480, 488, 504, 752, 760 },
};
#define NFORMATS (sizeof dbg_formats / sizeof dbg_formats[0])

static uint64_t get64(const unsigned char *buf, uint32_t at)
{
	uint64_t v;

	memcpy(&v, buf + at, 8);
	return v;
}

/* The format of a _Py_DebugOffsets version: its own, or for a version
 * newer than every format, the newest (*newer set). */
static const struct dbg_format *dbg_format_for(uint64_t version, int *newer)
{
	const struct dbg_format *newest = &dbg_formats[NFORMATS - 1];

	*newer = 0;
	for (size_t i = 0; i < NFORMATS; i++)
		if (version >= dbg_formats[i].min_hex && version <= dbg_formats[i].max_hex)
			return &dbg_formats[i];
	if (version > newest->max_hex && (version >> 24) == 3) {
		*newer = 1;
		return newest;
	}
	return NULL;
}

/* The struct's own size fields hold each other in check: a format
 * applied to the wrong version reads offsets where sizes should be. */
static int dbg_check(const struct hw_target *t, const struct dbg_format *f,
		     const unsigned char *b, struct hw_err *e)
{
	uint64_t rt = get64(b, f->rt_size), ih = get64(b, f->rt_interp_head);
	uint64_t is = get64(b, f->interp_size), in = get64(b, f->interp_next);
	uint64_t ig = get64(b, f->interp_gc), os = get64(b, f->obj_size);
	uint64_t ot = get64(b, f->ob_type), ts = get64(b, f->type_size);
	uint64_t tn = get64(b, f->tp_name), tf = get64(b, f->tp_flags);
	uint64_t gs = get64(b, f->gc_size), gcoll = get64(b, f->gc_collecting);
	const char *what = NULL;
	uint64_t val = 0;

#define BAD(cond, field, v) \
	if (!what && (cond)) { what = field; val = v; }
	BAD(t->runtime_size && rt != t->runtime_size, "runtime_state.size", rt);
	BAD(rt < 64 || rt > (64u << 20), "runtime_state.size", rt);
	BAD(ih + 8 > rt, "runtime_state.interpreters_head", ih);
	BAD(is < 64 || is > (64u << 20), "interpreter_state.size", is);
	BAD(in + 8 > is, "interpreter_state.next", in);
	BAD(gs < 64 || gs > MAX_GC_STATE, "gc.size", gs);
	BAD(ig + gs > is, "interpreter_state.gc", ig);
	BAD(gcoll + 4 > gs, "gc.collecting", gcoll);
	BAD(os != 16 && os != 32, "pyobject.size", os);
	BAD(ot + 8 > os, "pyobject.ob_type", ot);
	BAD(ts < 256 || ts > 4096, "type_object.size", ts);
	BAD(tn + 8 > ts, "type_object.tp_name", tn);
	BAD(tf + 8 > ts, "type_object.tp_flags", tf);
#undef BAD
	if (!what)
		return 0;
	if (t->runtime_size && rt != t->runtime_size && strcmp(what, "runtime_state.size") == 0)
		return hw_err_set(e, HW_ELAYOUT, 0,
				  "_Py_DebugOffsets (%s format) says runtime_state.size = %llu, "
				  "but the _PyRuntime symbol is %llu bytes",
				  f->name, (unsigned long long)rt,
				  (unsigned long long)t->runtime_size);
	return hw_err_set(e, HW_ELAYOUT, 0,
			  "_Py_DebugOffsets (%s format): %s = %llu does not fit the "
			  "sizes it publishes", f->name, what, (unsigned long long)val);
}

/* Read _Py_DebugOffsets; fill what it covers into l->off, noting where
 * it disagrees with what was there.  *free_threaded is set from it. */
static int apply_debug_offsets(const struct hw_target *t, struct hw_mem *m,
			       struct hw_layout *l, int *free_threaded,
			       struct hw_err *e)
{
	const struct dbg_format *f;
	unsigned char buf[1024];
	uint64_t version;
	int newer;

	*free_threaded = 0;
	if (!t->runtime_addr || !m)
		return hw_err_set(e, HW_ELAYOUT, 0, "no _PyRuntime to read _Py_DebugOffsets from");
	if (hw_mem_read(m, t->runtime_addr, buf, 24, e) < 0)
		return hw_err_prefix(e, "reading _Py_DebugOffsets");
	if (memcmp(buf, "xdebugpy", 8) != 0)
		return hw_err_set(e, HW_ELAYOUT, 0,
				  "_PyRuntime does not start with _Py_DebugOffsets (CPython < 3.13)");
	version = get64(buf, 8);
	f = dbg_format_for(version, &newer);
	if (!f)
		return hw_err_set(e, HW_EVERSION, 0,
				  "_Py_DebugOffsets version 0x%08llx has no known format",
				  (unsigned long long)version);
	if (t->version_hex && (t->version_hex >> 16) != (version >> 16))
		return hw_err_set(e, HW_ELAYOUT, 0,
				  "_Py_DebugOffsets says version 0x%08llx, Py_Version 0x%08x",
				  (unsigned long long)version, (unsigned)t->version_hex);
	if (f->size > sizeof buf)
		return hw_err_set(e, HW_ELAYOUT, 0, "_Py_DebugOffsets format too large");
	if (hw_mem_read(m, t->runtime_addr, buf, f->size, e) < 0)
		return hw_err_prefix(e, "reading _Py_DebugOffsets");
	if (get64(buf, f->free_threaded)) {
		*free_threaded = 1;
		return 0;
	}
	if (dbg_check(t, f, buf, e) < 0) {
		if (newer)
			return hw_err_prefix(e, "_Py_DebugOffsets of version 0x%08llx is "
					     "newer than every format heapwatch knows, and "
					     "does not read as the %s one",
					     (unsigned long long)version, f->name);
		return -1;
	}
	const struct { size_t field; uint32_t at; } take[] = {
		{ FIELD_INDEX(rt_interp_head), f->rt_interp_head },
		{ FIELD_INDEX(interp_next), f->interp_next },
		{ FIELD_INDEX(interp_gc), f->interp_gc },
		{ FIELD_INDEX(ob_type), f->ob_type },
		{ FIELD_INDEX(tp_name), f->tp_name },
		{ FIELD_INDEX(tp_flags), f->tp_flags },
		{ FIELD_INDEX(gc_size), f->gc_size },
		{ FIELD_INDEX(gc_collecting), f->gc_collecting },
	};
	for (size_t i = 0; i < sizeof take / sizeof take[0]; i++) {
		int64_t old = hw_offsets_get(&l->off, take[i].field);
		int64_t v = (int64_t)get64(buf, take[i].at);

		if (old >= 0 && old != v)
			note(l, "%s: table %lld, _Py_DebugOffsets %lld (used)",
			     hw_offset_fields[take[i].field].name, (long long)old,
			     (long long)v);
		hw_offsets_set(&l->off, take[i].field, v);
	}
	appendf(l->detail, sizeof l->detail, "%s_Py_DebugOffsets (%s format%s)",
		l->detail[0] ? "; " : "", f->name, newer ? ", the newest known" : "");
	return 0;
}

/* ------------------------------------------------------------------ */
/* run-time confirmation: the GC state */

/* A list head at addr, read now (the target runs: a neighbour that moved
 * between two reads is read again, a few times). */
static int head_ok(struct hw_mem *m, const struct hw_offsets *o, uint64_t head)
{
	for (int attempt = 0; attempt < 4; attempt++) {
		uint64_t next, prev, back;

		if (attempt)
			pause_1ms();
		if (rd64(m, head + (uint64_t)o->gchead_next, &next) < 0 ||
		    rd64(m, head + (uint64_t)o->gchead_prev, &prev) < 0)
			return 0;
		if (next == head && prev == head)
			return 1;
		/* heads carry no flag bits; objects' heads are 8-aligned */
		if (!plausible_ptr(next) || !plausible_ptr(prev) || next == head || prev == head)
			return 0;
		if (rd64(m, next + (uint64_t)o->gchead_prev, &back) < 0 ||
		    (back & LINK_MASK) != head)
			continue;
		if (rd64(m, prev + (uint64_t)o->gchead_next, &back) < 0 ||
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
	if (!plausible_ptr(interp))
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
static int confirm_gc(const struct hw_target *t, struct hw_mem *m,
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
				note(l, "gc_gens: table %lld, found at run time %lld (used)",
				     (long long)o->gc_gens, (long long)to);
			o->gc_gens = to;
			appendf(l->detail, sizeof l->detail,
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
				appendf(l->detail, sizeof l->detail,
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

	if (rd64(m, ty + (uint64_t)o->tp_name, &name_p) < 0 ||
	    rd64(m, ty + (uint64_t)o->ht_name, &s) < 0)
		return NAME_SKIP;
	if (!plausible_ptr(s) || rd64(m, s + (uint64_t)o->ob_type, &st) < 0 ||
	    rd64(m, st + (uint64_t)o->tp_flags, &sflags) < 0) {
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
		    rd64(m, s + (uint64_t)o->str_length, &len) < 0)
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
		if (rd64(m, s + (uint64_t)o->bytes_size, &len) < 0)
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
	if (read_cstr(m, name_p, tpname, sizeof tpname) < 0)
		return NAME_SKIP;
	tl = strlen(tpname);
	if (!(tl == len && memcmp(tpname, name, len) == 0) &&
	    !(tl > len && tpname[tl - len - 1] == '.' && memcmp(tpname + tl - len, name, len) == 0)) {
		snprintf(why, why_size, "class 0x%llx: tp_name (+%lld) reads \"%.60s\" but "
			 "ht_name (+%lld) reads \"%.60s\"", (unsigned long long)ty,
			 (long long)o->tp_name, tpname, (long long)o->ht_name, name);
		return NAME_BAD;
	}
	if (o->ht_qualname >= 0) {
		if (rd64(m, ty + (uint64_t)o->ht_qualname, &q) < 0 || !plausible_ptr(q) ||
		    rd64(m, q + (uint64_t)o->ob_type, &qt) < 0 ||
		    rd64(m, qt + (uint64_t)o->tp_flags, &qflags) < 0 ||
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
	if (rd64(m, ty + (uint64_t)o->tp_flags, flags) < 0)
		return -1;
	c->type = ty;
	c->flags = *flags;
	return 0;
}

/* Walk the lists (oldest first: they change least while the target runs)
 * until a few classes are checked.  A class that fails is checked again a
 * moment later before the layout is refused: it may have been freed
 * under us. */
static int confirm_names(const struct hw_target *t, struct hw_mem *m,
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

		if (rd64(m, t->gen0_ptr_addr, &g0) < 0 || !plausible_ptr(g0))
			return 0;
		for (int i = 2; i >= 0; i--)
			heads[nheads++] = g0 + (uint64_t)(i * o->gc_gen_stride);
	}
	for (unsigned h = 0; h < nheads && nseen < NAME_PROBE_CLASSES; h++) {
		uint64_t cur, next = heads[h];

		/* from the tail: the objects promoted last, where a running
		 * program's own classes are; the first few thousand objects
		 * of the oldest list are the interpreter's built-in ones */
		if (rd64(m, heads[h] + (uint64_t)o->gchead_prev, &cur) < 0)
			continue;
		cur &= LINK_MASK;
		while (cur != heads[h] && steps++ < NAME_PROBE_OBJECTS &&
		       nseen < NAME_PROBE_CLASSES) {
			uint64_t obj = cur + (uint64_t)o->gchead_size, ty, flags, fwd, cand[2];
			unsigned nc = 0;

			if (!plausible_ptr(cur) ||
			    rd64(m, cur + (uint64_t)o->gchead_next, &fwd) < 0 ||
			    (fwd & LINK_MASK) != next)
				break; /* the list changed under us */
			if (rd64(m, obj + (uint64_t)o->ob_type, &ty) == 0 && plausible_ptr(ty) &&
			    type_flags(m, o, ty, tcache, &flags) == 0) {
				if (flags & TPFLAGS_HEAPTYPE)
					cand[nc++] = ty;
				if (flags & TPFLAGS_TYPE_SUBCLASS) {
					uint64_t own;

					if (rd64(m, obj + (uint64_t)o->tp_flags, &own) == 0 &&
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
					pause_1ms();
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
			if (rd64(m, cur + (uint64_t)o->gchead_prev, &cur) < 0)
				break;
			cur &= LINK_MASK;
		}
	}
	if (nseen)
		l->names_confirmed = (int)nseen;
	return 0;
}

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
	if (!plausible_ptr(next) || !plausible_ptr(prev) || next == head || prev == head)
		return 0;
	if (rd64(m, next + 8, &back) < 0 || (back & LINK_MASK) != head)
		return 0;
	if (rd64(m, prev, &back) < 0 || (back & LINK_MASK) != head)
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
	if (scan_region(m, t->version_hex, base, len, &g, &x, e) < 0)
		return -1;
	int64_t gc_at = x - g->gens_off;    /* the GC state, relative to base */
	int64_t old_gc = interp ? o->interp_gc : o->rt_gc;

	if (old_gc >= 0 && old_gc != gc_at)
		note(l, "%s: %lld before the scan, %lld found by it (used)",
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
	appendf(l->detail, sizeof l->detail, "; scan: %s at +%lld", g->name, (long long)x);
	return 0;
}

/* ------------------------------------------------------------------ */
/* the sources */

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

/* The newest generated row of an older version than t's (a version newer
 * than every table borrows its object layouts). */
static int newest_older_row(const struct hw_target *t, struct hw_offsets *o,
			    char *key, size_t key_size)
{
	struct hw_layout_table_info r, best = { 0 };
	int have = 0;

	for (size_t i = 0; hw_layout_table_row(i, &r) == 0; i++) {
		if (!r.verified || r.debug != (t->debug_build != 0) ||
		    r.min_hex > t->version_hex)
			continue;
		if (!have || r.min_hex > best.min_hex) {
			best = r;
			have = 1;
		}
	}
	if (!have)
		return -1;
	*o = best.off;
	snprintf(key, key_size, "%s", best.origin);
	return 0;
}

static int from_debug_offsets(const struct hw_target *t, struct hw_mem *m,
			      struct hw_layout *l, struct hw_err *e)
{
	struct hw_err te;
	char key[256] = "";
	int ft;

	/* The table supplies what _Py_DebugOffsets does not cover.  For a
	 * version newer than every table, the newest table's object layouts
	 * (checked below), and nothing of its GC state: that is found in the
	 * target. */
	hw_err_clear(&te);
	if (hw_layout_table(t->version_hex, t->debug_build, &l->off, key, sizeof key, &te) < 0) {
		if (newest_older_row(t, &l->off, key, sizeof key) < 0)
			hw_offsets_init(&l->off);
		l->off.gc_gens = l->off.gc_permanent = l->off.gc_generation0 = HW_NOFIELD;
		l->off.gc_collecting = l->off.gc_size = HW_NOFIELD;
	}
	if (apply_debug_offsets(t, m, l, &ft, e) < 0)
		return -1;
	if (ft)
		return hw_err_set(e, HW_EFREETHR, 0,
				  "free-threaded CPython build (%s): it keeps no GC "
				  "object lists to walk; not supported",
				  t->version[0] ? t->version : "3.13t+");
	appendf(l->detail, sizeof l->detail, " + %s%s",
		te.code == HW_OK ? "table: " : key[0] ? "object layouts of table: " : "no table",
		key);
	l->source = HW_SRC_DEBUG_OFFSETS;
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

/* One source, confirmed.  *refused is set when the source gave a layout
 * that the run-time checks refused (rather than giving none). */
static int try_source(enum hw_layout_source src, const struct hw_target *t,
		      struct hw_mem *m, struct hw_layout *l, int *refused,
		      struct hw_err *e)
{
	const char *name = hw_layout_source_name(src);
	int rc;

	*refused = 0;
	l->source = HW_SRC_NONE;
	l->detail[0] = '\0';
	l->notes[0] = '\0';
	l->confirmed = l->names_confirmed = 0;
	hw_offsets_init(&l->off);
	switch (src) {
	case HW_SRC_DWARF: rc = from_dwarf(t, l, e); break;
	case HW_SRC_DEBUG_OFFSETS: rc = from_debug_offsets(t, m, l, e); break;
	case HW_SRC_TABLE: rc = from_table(t, l, e); break;
	case HW_SRC_SCAN: rc = from_scan(t, m, l, e); break;
	default: return hw_err_set(e, HW_ELAYOUT, 0, "no layout source");
	}
	if (rc < 0)
		return -1;
	if (!m)
		return 0;
	if (confirm_gc(t, m, l, name, src == HW_SRC_DEBUG_OFFSETS, e) < 0 ||
	    confirm_names(t, m, l, name, e) < 0) {
		*refused = e->code == HW_ELAYOUT;
		return -1;
	}
	if (l->confirmed)
		appendf(l->detail, sizeof l->detail, "; GC lists confirmed in the target");
	if (l->names_confirmed)
		appendf(l->detail, sizeof l->detail, "; names confirmed on %d classes",
			l->names_confirmed);
	return 0;
}

/* Compare the chosen layout with another source where both have a field:
 * every difference goes to the notes. */
static void cross_check(const struct hw_target *t, struct hw_mem *m,
			struct hw_layout *l, enum hw_layout_source other)
{
	struct hw_layout *x = calloc(1, sizeof *x);
	struct hw_err e;
	int ft, n = 0;
	char diffs[512] = "";

	if (!x)
		return;
	hw_offsets_init(&x->off);
	if (other == HW_SRC_TABLE) {
		if (from_table(t, x, &e) < 0)
			goto out;
	} else if (other == HW_SRC_DEBUG_OFFSETS) {
		if (!m || t->version_hex < 0x030d0000 ||
		    apply_debug_offsets(t, m, x, &ft, &e) < 0 || ft)
			goto out;
	}
	for (size_t i = 0; i < hw_offset_nfields; i++) {
		int64_t a = hw_offsets_get(&l->off, i), b = hw_offsets_get(&x->off, i);

		if (a < 0 || b < 0 || a == b)
			continue;
		if (n++ < 6)
			appendf(diffs, sizeof diffs, "%s%s %lld, %s %lld", n > 1 ? ", " : "",
				hw_offset_fields[i].name, (long long)b,
				hw_layout_source_name(l->source), (long long)a);
	}
	if (n)
		note(l, "%s disagrees with %s on %d field%s: %s%s",
		     other == HW_SRC_TABLE ? x->detail : "_Py_DebugOffsets",
		     hw_layout_source_name(l->source), n, n > 1 ? "s" : "", diffs,
		     n > 6 ? ", ..." : "");
out:
	free(x);
}

int hw_layout_resolve(const struct hw_target *t, struct hw_mem *m,
		      enum hw_layout_source only, struct hw_layout *l,
		      struct hw_err *e)
{
	static const enum hw_layout_source order[] = {
		HW_SRC_DWARF, HW_SRC_DEBUG_OFFSETS, HW_SRC_TABLE, HW_SRC_SCAN,
	};
	struct hw_layout *cand;
	char tried[2048] = "", refusals[1024] = "";
	int refused, ok = 0;

	memset(l, 0, sizeof *l);
	hw_offsets_init(&l->off);
	if (check_free_threaded(t, m, e) < 0)
		return -1;
	l->untested = t->version_hex && (t->version_hex >> 24) == 3 &&
		      !hw_layout_table_minor_known(t->version_hex);
	if (only != HW_SRC_NONE) {
		if (try_source(only, t, m, l, &refused, e) < 0)
			return l->untested ? hw_err_prefix(e, "a version newer than any "
							   "heapwatch was tested on") : -1;
		return 0;
	}
	if (!(cand = calloc(1, sizeof *cand)))
		return hw_err_set(e, HW_ENOMEM, 0, "allocating a layout");
	for (size_t i = 0; i < sizeof order / sizeof order[0] && !ok; i++) {
		struct hw_err se;
		char b[HW_ERR_MSG_MAX];

		hw_err_clear(&se);
		if (order[i] == HW_SRC_DEBUG_OFFSETS && t->version_hex < 0x030d0000)
			continue;
		if (order[i] == HW_SRC_SCAN && t->version_hex < 0x03070000)
			continue;
		if (try_source(order[i], t, m, cand, &refused, &se) == 0) {
			ok = 1;
			break;
		}
		if (se.code == HW_EFREETHR || se.code == HW_EBUSY) {
			hw_err_copy(e, &se);
			free(cand);
			return -1;
		}
		appendf(tried, sizeof tried, "%s%s: %s", tried[0] ? "; " : "",
			hw_layout_source_name(order[i]), hw_err_str(&se, b, sizeof b));
		if (refused)
			appendf(refusals, sizeof refusals, "%s%s refused: %s",
				refusals[0] ? "\n" : "", hw_layout_source_name(order[i]), se.msg);
	}
	if (!ok) {
		free(cand);
		return hw_err_set(e, l->untested ? HW_EVERSION : HW_ELAYOUT, 0,
				  "no layout for CPython %s%s: %s",
				  t->version[0] ? t->version : "(unknown version)",
				  l->untested ? ", a version newer than any heapwatch was tested on" : "",
				  tried);
	}
	cand->untested = l->untested;
	*l = *cand;
	free(cand);
	if (refusals[0])
		note(l, "%s", refusals);
	if (l->source != HW_SRC_TABLE)
		cross_check(t, m, l, HW_SRC_TABLE);
	if (l->source != HW_SRC_DEBUG_OFFSETS)
		cross_check(t, m, l, HW_SRC_DEBUG_OFFSETS);
	return 0;
}
