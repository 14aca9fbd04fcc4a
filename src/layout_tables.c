/* layout_tables.c - built-in layouts, one row per CPython build flavour.
 *
 * Rows for real builds are generated from their DWARF by `make layouts`
 * (tools/gen-layouts.sh) into layout_tables.inc; each names the build it
 * came from.  A row covers a PY_VERSION_HEX range of one minor version,
 * from its own patch level (or the minor's first release that shares its
 * layout) to the next row of that minor.  A few ranges have no build to
 * read: derived[] below describes each as a generated row plus the fields
 * that differ (so fields added to HW_OFFSET_FIELDS later reach them too),
 * marked unverified.  heapwatch confirms whatever row it takes against
 * the target's own GC state at run time (layout.c).
 */
#include "heapwatch/layout.h"

#include <stdio.h>

#define FIELD_INDEX(name) (offsetof(struct hw_offsets, name) / sizeof(int64_t))

struct hw_layout_row {
	uint32_t min_hex, max_hex;   /* PY_VERSION_HEX range, inclusive */
	int debug;                   /* Py_DEBUG build */
	const char *origin;          /* where the numbers came from */
	struct hw_offsets off;
};

static const struct hw_layout_row rows[] = {
#include "layout_tables.inc"
};
#define NROWS (sizeof rows / sizeof rows[0])

struct field_value {
	size_t field;                /* index into struct hw_offsets */
	int64_t value;
};

static const struct derived_row {
	uint32_t min_hex, max_hex;
	int debug;
	uint32_t like_hex;           /* start from the row for this version */
	const char *origin;
	struct field_value set[4];
	unsigned nset;
} derived[] = {
	/* 3.14.0-3.14.4: the incremental collector.  young, old[0], old[1]
	 * where 3.14.5+ has generations[3] (gc+24/+48/+72), permanent +96,
	 * collecting +192 as in 3.14.5+; no generation0, sizeof 240
	 * (pycore_interp_structs.h at v3.14.0).  Object layouts as 3.14.5+. */
	{ 0x030e0000, 0x030e04ff, 0, 0x030e0500,
	  "3.14.0 headers (incremental collector) over the 3.14.5+ row, not verified live",
	  { { FIELD_INDEX(gc_generation0), -1 }, { FIELD_INDEX(gc_size), 240 } }, 2 },
};
#define NDERIVED (sizeof derived / sizeof derived[0])

/* The generated row for a version: among the rows of its flavour whose
 * range holds it, the one that starts last. */
static const struct hw_layout_row *find_row(uint32_t version_hex, int debug)
{
	const struct hw_layout_row *best = NULL;

	for (size_t i = 0; i < NROWS; i++) {
		if (version_hex < rows[i].min_hex || version_hex > rows[i].max_hex ||
		    rows[i].debug != (debug != 0))
			continue;
		if (!best || rows[i].min_hex > best->min_hex)
			best = &rows[i];
	}
	return best;
}

/* Fill info with the row for i < NROWS + NDERIVED; -1 when a derived
 * row's base is missing. */
static int get_row(size_t i, struct hw_layout_table_info *info)
{
	if (i < NROWS) {
		info->min_hex = rows[i].min_hex;
		info->max_hex = rows[i].max_hex;
		info->debug = rows[i].debug;
		info->verified = 1;
		info->origin = rows[i].origin;
		info->off = rows[i].off;
		return 0;
	}
	const struct derived_row *d = &derived[i - NROWS];
	const struct hw_layout_row *base = find_row(d->like_hex, d->debug);

	if (!base)
		return -1;
	info->min_hex = d->min_hex;
	info->max_hex = d->max_hex;
	info->debug = d->debug;
	info->verified = 0;
	info->origin = d->origin;
	info->off = base->off;
	for (unsigned k = 0; k < d->nset; k++)
		hw_offsets_set(&info->off, d->set[k].field, d->set[k].value);
	return 0;
}

int hw_layout_table(uint32_t version_hex, int debug, struct hw_offsets *o,
		    char *key, size_t key_size, struct hw_err *e)
{
	struct hw_layout_table_info best = { 0 }, cur;
	int have = 0;

	for (size_t i = 0; i < NROWS + NDERIVED; i++) {
		if (get_row(i, &cur) < 0 || version_hex < cur.min_hex ||
		    version_hex > cur.max_hex || cur.debug != (debug != 0))
			continue;
		if (!have || cur.min_hex > best.min_hex) {
			best = cur;
			have = 1;
		}
	}
	if (have) {
		*o = best.off;
		if (key_size)
			snprintf(key, key_size, "%s", best.origin);
		return 0;
	}
	if (key_size)
		snprintf(key, key_size, "none");
	return hw_err_set(e, HW_EVERSION, 0,
			  "no built-in table for CPython %u.%u.%u%s",
			  (unsigned)(version_hex >> 24), (unsigned)((version_hex >> 16) & 0xff),
			  (unsigned)((version_hex >> 8) & 0xff),
			  debug ? " (debug build)" : "");
}

int hw_layout_table_minor_known(uint32_t version_hex)
{
	for (size_t i = 0; i < NROWS; i++)
		if ((rows[i].min_hex >> 16) == (version_hex >> 16))
			return 1;
	return 0;
}

size_t hw_layout_table_count(void)
{
	return NROWS + NDERIVED;
}

int hw_layout_table_row(size_t i, struct hw_layout_table_info *info)
{
	if (i >= NROWS + NDERIVED)
		return -1;
	return get_row(i, info);
}
