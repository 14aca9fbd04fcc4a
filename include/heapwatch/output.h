/* output.h - printing censuses for people (tables) and programs (JSON). */
#ifndef HEAPWATCH_OUTPUT_H
#define HEAPWATCH_OUTPUT_H

#include <stdio.h>

#include "heapwatch/census.h"

/* Header line, then a table like objgraph's show_most_common_types:
 * type, count, share of all objects; with sizes (c->sizes) also bytes
 * and their share, as guppy's heap() shows them, "~" marking rows that
 * hold approximate sizes.  top: rows to print (0 = all). */
void hw_print_table(FILE *f, const struct hw_census *c, size_t top);

/* One JSON document (see heapwatch(1) for the fields), newline-ended.
 * types holds the top entries (0 = all); with sizes each has "bytes"
 * (and "values_bytes", "approx" when not 0). */
void hw_print_json(FILE *f, const struct hw_census *c, size_t top);

/* Order c's rows by bytes (descending, then count, then name) or by
 * count (the census's own order). */
void hw_census_sort(struct hw_census *c, int by_bytes);

/* The change between two censuses of one process, like objgraph's
 * show_growth: types whose count rose, largest increase first. */
void hw_print_growth_table(FILE *f, const struct hw_census *before,
			   const struct hw_census *after, size_t top);
void hw_print_growth_json(FILE *f, const struct hw_census *before,
			  const struct hw_census *after, double seconds,
			  size_t top);

/* Write s as a JSON string literal (quotes included); bytes that are not
 * valid UTF-8 become U+FFFD, control characters are escaped. */
void hw_json_string(FILE *f, const char *s);

/* For terminals: s with control characters and invalid UTF-8 shown as
 * '?' (a hostile type name cannot move the cursor or forge lines), padded
 * with spaces to width characters. */
void hw_print_safe(FILE *f, const char *s, int width);

#endif
