/* layout_tables.c - built-in layouts per CPython version.
 * Filled by tools/gen-layouts (make layouts) from the DWARF of real
 * builds; until then no table is known. */
#include "heapwatch/layout.h"

#include <stdio.h>

int hw_layout_table(uint32_t version_hex, int debug, struct hw_offsets *o,
		    char *key, size_t key_size, struct hw_err *e)
{
	(void)o;
	if (key_size)
		snprintf(key, key_size, "none");
	return hw_err_set(e, HW_EVERSION, 0,
			  "no built-in table for version 0x%08x%s",
			  (unsigned)version_hex, debug ? " (debug build)" : "");
}
