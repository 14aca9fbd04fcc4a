/* layoutgen.c - print a built-in layout table row from a CPython build's
 * DWARF.  Maintainer tool behind `make layouts` (tools/gen-layouts.sh).
 * Usage: layoutgen MIN_HEX MAX_HEX DEBUG ORIGIN FILE [DEBUG_DIR]
 * DEBUG_DIR: where else to look for FILE's separate debug file (a
 * chroot's /usr/lib/debug).  Prints one C initializer of struct
 * hw_layout_row (layout_tables.c). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "heapwatch/layout.h"
#include "heapwatch/target.h"

int main(int argc, char **argv)
{
	struct hw_offsets o;
	struct hw_err e;
	char where[4096];

	if (argc != 6 && argc != 7) {
		fprintf(stderr, "usage: layoutgen MIN_HEX MAX_HEX DEBUG ORIGIN FILE [DEBUG_DIR]\n");
		return 2;
	}
	hw_offsets_init(&o);
	if (hw_dwarf_offsets_file_in(argv[5], argc == 7 ? argv[6] : NULL, &o, where,
				     sizeof where, &e) < 0) {
		fprintf(stderr, "layoutgen: %s: %s\n", argv[5], e.msg);
		return 1;
	}
	printf("\t{ %s, %s, %s,\n\t  \"%s\",\n\t  {", argv[1], argv[2], argv[3], argv[4]);
	for (size_t i = 0; i < hw_offset_nfields; i++)
		printf("%s.%s = %" PRId64, i == 0 ? "\n\t    " : i % 4 ? ", " : ",\n\t    ",
		       hw_offset_fields[i].name, hw_offsets_get(&o, i));
	printf(" } },\n");
	return 0;
}
