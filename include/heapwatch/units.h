/* units.h - durations and sizes as people write them, and the clock they
 * are measured with. */
#ifndef HEAPWATCH_UNITS_H
#define HEAPWATCH_UNITS_H

#include <stdint.h>

/* "500ms", "10s", "5m", "1h", "250us", "0": a non-negative integer and a
 * unit (ns, us, ms, s, m, h; a bare 0 needs none).  Returns 0 and sets
 * *ns, or -1 (no unit, unknown unit, overflow, garbage). */
int hw_parse_duration(const char *s, uint64_t *ns);

/* "256MiB", "1GiB", "4096", "64KiB", "10MB": a non-negative integer and
 * an optional unit (B, KiB, MiB, GiB, TiB; KB, MB, GB as powers of 1000).
 * Returns 0 and sets *bytes, or -1. */
int hw_parse_size(const char *s, uint64_t *bytes);

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t hw_now_ns(void);

/* Format ns as the shortest exact duration ("1500ms", "10s"). */
void hw_format_duration(uint64_t ns, char *buf, unsigned size);

#endif
