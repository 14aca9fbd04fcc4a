/* layout_tables.c - built-in layouts, one row per CPython build flavour.
 *
 * Rows for the builds on the maintainers' machines are generated from
 * their DWARF by `make layouts` (tools/gen-layouts.sh) into
 * layout_tables.inc; each names the build it came from.  A row covers a
 * PY_VERSION_HEX range: a minor version, split where a patch release
 * changed the layout (3.7.4 grew PyGC_Head; 3.14.5 reverted the
 * incremental collector).  The 3.14 rows below are written by hand from
 * the 3.14 headers (no 3.14 build to read DWARF from here): see the
 * origin strings, and check them against a live 3.14 as soon as one is
 * available.
 */
#include "heapwatch/layout.h"

#include <stdio.h>

struct hw_layout_row {
	uint32_t min_hex, max_hex;   /* PY_VERSION_HEX range, inclusive */
	int debug;                   /* Py_DEBUG build */
	const char *origin;          /* where the numbers came from */
	struct hw_offsets off;
};

#define ROW_314_COMMON                                                        \
	.rt_interp_head = 808, .rt_gc = -1, .interp_next = 7272,             \
	.interp_gc = 7408, .gc_gens = 24, .gc_gen_stride = 24,               \
	.gc_gen_threshold = 16, .gc_permanent = 96, .gc_collecting = 192,    \
	.gchead_size = 16, .gchead_next = 0, .gchead_prev = 8,               \
	.gchead_refs = -1, .ob_type = 8, .tp_name = 24, .tp_flags = 168,     \
	.tp_dict = 264, .ht_name = 856, .ht_qualname = 872,                  \
	.str_length = 16, .str_state = 32, .str_ascii_size = 40,             \
	.str_compact_size = 56, .bytes_size = -1, .bytes_sval = -1,          \
	.dict_keys = 32, .dict_mask = -1, .dk_size = -1, .dk_log2_size = 8,  \
	.dk_log2_index_bytes = 9, .dk_kind = 10, .dk_nentries = 24,          \
	.dk_indices = 32, .dk_entry_size = 24, .dk_uentry_size = 16

static const struct hw_layout_row rows[] = {
#include "layout_tables.inc"
	/* 3.14.0-3.14.4: incremental collector: young, old[0], old[1] at
	 * gc+24/+48/+72, permanent +96, collecting +192, no generation0,
	 * sizeof 240 (pycore_interp_structs.h at v3.14.0; offsets computed
	 * from the 3.14.0 headers). */
	{ 0x030e0000, 0x030e04ff, 0, "3.14.0 headers (pycore_interp_structs.h), not verified live",
	  { ROW_314_COMMON, .gc_generation0 = -1, .gc_size = 240 } },
	/* 3.14.5+: generational again; generations[3] where young/old
	 * were, generation0 appended at +256, sizeof 264. */
	{ 0x030e0500, 0x030effff, 0, "3.14.5 headers (generational gc state), not verified live",
	  { ROW_314_COMMON, .gc_generation0 = 256, .gc_size = 264 } },
};

int hw_layout_table(uint32_t version_hex, int debug, struct hw_offsets *o,
		    char *key, size_t key_size, struct hw_err *e)
{
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		if (version_hex < rows[i].min_hex || version_hex > rows[i].max_hex ||
		    rows[i].debug != (debug != 0))
			continue;
		*o = rows[i].off;
		if (key_size)
			snprintf(key, key_size, "%s", rows[i].origin);
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
