/* layout_debug_offsets.c - reading CPython's own _Py_DebugOffsets (3.13+):
 * one format per minor version, as data, chosen by the struct's version
 * and checked against the sizes it publishes.  Internal to the layout
 * module (layout_int.h). */
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
	/* pointers and longs are 8-aligned in their structs, ints 4 */
	BAD(ih & 7, "runtime_state.interpreters_head", ih);
	BAD(in & 7, "interpreter_state.next", in);
	BAD(ig & 7, "interpreter_state.gc", ig);
	BAD(ot & 7, "pyobject.ob_type", ot);
	BAD(tn & 7, "type_object.tp_name", tn);
	BAD(tf & 7, "type_object.tp_flags", tf);
	BAD(gs & 7, "gc.size", gs);
	BAD(gcoll & 3, "gc.collecting", gcoll);
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
			  "sizes and alignments it publishes", f->name, what,
			  (unsigned long long)val);
}

/* Read _Py_DebugOffsets; fill what it covers into l->off, noting where
 * it disagrees with what was there.  *free_threaded is set from it. */
int hwl_apply_debug_offsets(const struct hw_target *t, struct hw_mem *m,
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
			hwl_note(l, "%s: table %lld, _Py_DebugOffsets %lld (used)",
			     hw_offset_fields[take[i].field].name, (long long)old,
			     (long long)v);
		hw_offsets_set(&l->off, take[i].field, v);
	}
	hwl_appendf(l->detail, sizeof l->detail, "%s_Py_DebugOffsets (%s format%s)",
		l->detail[0] ? "; " : "", f->name, newer ? ", the newest known" : "");
	return 0;
}

