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
 * target before a census trusts it (layout_confirm.c):
 *   - inside the GC state [gc, gc + sizeof), exactly one word points
 *     elsewhere into the state: generation0, which holds the address of
 *     generations[0] (true of every CPython with a generation0 field,
 *     3.7 to 3.15; a list head's own links to itself are excluded).  The
 *     source's generation lists and generation0 must be where that word
 *     says, the three heads and the permanent one must be list heads
 *     whose neighbours point back, and `collecting` must read 0 or 1;
 *   - every object walked on the lists (a few thousand at most, from
 *     their tails) must be of a type with Py_TPFLAGS_HAVE_GC, and a few
 *     classes found there must have an ht_name that is a str whose
 *     characters are the class's tp_name (or its last dotted part), and
 *     an ht_qualname that is a str: this holds ob_type, tp_flags,
 *     tp_name, ht_name, ht_qualname and the str layout to the target's
 *     own objects.
 * A source that fails either check is refused, naming the field and both
 * values; auto mode then tries the next one.  The debug_offsets source
 * takes the list heads from the check itself (3.13.18 moved them without
 * changing _Py_DebugOffsets), and says so in the layout's detail.
 *
 * Every source is data: the _Py_DebugOffsets formats
 * (layout_debug_offsets.c) and the scan signatures (layout_scan.c) are
 * tables keyed by version, not code paths; the checks are in
 * layout_confirm.c.
 */
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
/* small helpers */

void hwl_appendf(char *buf, size_t size, const char *fmt, ...)
{
	size_t n = strlen(buf);
	va_list ap;

	if (n + 1 >= size)
		return;
	va_start(ap, fmt);
	vsnprintf(buf + n, size - n, fmt, ap);
	va_end(ap);
}

void hwl_note(struct hw_layout *l, const char *fmt, ...)
{
	size_t n = strlen(l->notes);
	va_list ap;

	if (n + 3 >= sizeof l->notes)
		return;
	if (n)
		hwl_appendf(l->notes, sizeof l->notes, "\n");
	n = strlen(l->notes);
	va_start(ap, fmt);
	vsnprintf(l->notes + n, sizeof l->notes - n, fmt, ap);
	va_end(ap);
}

int hwl_plausible_ptr(uint64_t p)
{
	return p >= 4096 && p < (1ull << 56) && (p & 7) == 0;
}

int hwl_rd64(struct hw_mem *m, uint64_t addr, uint64_t *v)
{
	return hw_mem_read(m, addr, v, sizeof *v, NULL);
}

void hwl_pause_1ms(void)
{
	struct timespec ts = { 0, 1000000L };

	nanosleep(&ts, NULL);
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
	if (hwl_apply_debug_offsets(t, m, l, &ft, e) < 0)
		return -1;
	if (ft)
		return hw_err_set(e, HW_EFREETHR, 0,
				  "free-threaded CPython build (%s): it keeps no GC "
				  "object lists to walk; not supported",
				  t->version[0] ? t->version : "3.13t+");
	hwl_appendf(l->detail, sizeof l->detail, " + %s%s",
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
	if (hwl_apply_debug_offsets(t, m, l, &ft, &te) == 0 && ft)
		return hw_err_set(e, HW_EFREETHR, 0, "free-threaded CPython build");
	if (hwl_apply_scan(t, m, l, e) < 0)
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
	if (hwl_confirm_gc(t, m, l, name, src == HW_SRC_DEBUG_OFFSETS, e) < 0 ||
	    hwl_confirm_names(t, m, l, name, e) < 0) {
		*refused = e->code == HW_ELAYOUT;
		return -1;
	}
	if (l->confirmed)
		hwl_appendf(l->detail, sizeof l->detail, "; GC lists confirmed in the target");
	if (l->names_confirmed)
		hwl_appendf(l->detail, sizeof l->detail, "; names confirmed on %d classes",
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
		    hwl_apply_debug_offsets(t, m, x, &ft, &e) < 0 || ft)
			goto out;
	}
	for (size_t i = 0; i < hw_offset_nfields; i++) {
		int64_t a = hw_offsets_get(&l->off, i), b = hw_offsets_get(&x->off, i);

		if (a < 0 || b < 0 || a == b)
			continue;
		if (n++ < 6)
			hwl_appendf(diffs, sizeof diffs, "%s%s %lld, %s %lld", n > 1 ? ", " : "",
				hw_offset_fields[i].name, (long long)b,
				hw_layout_source_name(l->source), (long long)a);
	}
	if (n)
		hwl_note(l, "%s disagrees with %s on %d field%s: %s%s",
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
		hwl_appendf(tried, sizeof tried, "%s%s: %s", tried[0] ? "; " : "",
			hw_layout_source_name(order[i]), hw_err_str(&se, b, sizeof b));
		if (refused)
			hwl_appendf(refusals, sizeof refusals, "%s%s refused: %s",
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
		hwl_note(l, "%s", refusals);
	if (l->source != HW_SRC_TABLE)
		cross_check(t, m, l, HW_SRC_TABLE);
	if (l->source != HW_SRC_DEBUG_OFFSETS)
		cross_check(t, m, l, HW_SRC_DEBUG_OFFSETS);
	return 0;
}
