/* units.h - durations and sizes as people write them, and the clock they
 * are measured with.
 *
 * One grammar for each, used by the command line (--max-pause, --growth,
 * --snapshot-limit) and by the configuration file (heapwatch.yaml(5)), so
 * that what one accepts the other does, with the same messages:
 *
 *   duration  NUMBER UNIT, UNIT one of ns us ms s m h d ("500ms", "10s",
 *             "1.5s", "7d"); a bare 0 needs none.  A caller may let a
 *             bare NUMBER count in a unit of its choice (--growth 10 is
 *             10 seconds).
 *   size      NUMBER [UNIT], UNIT one of B, K or KiB, M or MiB, G or GiB,
 *             T or TiB, all powers of 1024 ("256MiB", "1G", "1.5GiB");
 *             a bare NUMBER counts bytes.  KB, MB, GB and TB are refused
 *             as ambiguous (1000 or 1024?) with a hint.
 *   NUMBER    decimal digits, optionally a '.' and more digits ("0.25");
 *             no sign, no exponent, no spaces, no digit separators.  The
 *             value must come out as a whole number of nanoseconds or
 *             bytes, and fit in 64 bits.
 * Units are case-sensitive.  Bounds are the caller's business.
 */
#ifndef HEAPWATCH_UNITS_H
#define HEAPWATCH_UNITS_H

#include <stddef.h>
#include <stdint.h>

#include "heapwatch/err.h"

/* The units as listed in messages and help texts. */
#define HW_DURATION_UNITS "ns, us, ms, s, m, h or d"
#define HW_SIZE_UNITS "B, K or KiB, M or MiB, G or GiB, T or TiB"

#define HW_NS_PER_S 1000000000ull

/* Parse the len bytes at s (they need not be NUL-terminated and may hold
 * anything) as a duration.  bare_unit_ns: what a NUMBER without a unit
 * counts (HW_NS_PER_S for seconds), or 0 when a unit is required (a bare
 * 0 is still fine).  Returns 0 and sets *ns, or -1 with e filled: one
 * line that quotes s (at most 40 bytes, control bytes shown as '?') and
 * says why, HW_EUSAGE for what is not a duration ("'10sec' has an
 * unknown unit 'sec' (ns, us, ms, s, m, h or d)"), HW_ELIMIT for one past
 * 2^64 - 1 ns ("'99999999999h' is too large"; a caller with bounds may
 * say "out of range" instead). */
int hw_duration_parse(const char *s, size_t len, uint64_t bare_unit_ns,
		      uint64_t *ns, struct hw_err *e);

/* The same for a size in bytes (a bare NUMBER counts bytes). */
int hw_size_parse(const char *s, size_t len, uint64_t *bytes,
		  struct hw_err *e);

/* The same grammars for a NUL-terminated s (NULL is refused), a unit
 * required for a duration; 0, or -1 without saying why. */
int hw_parse_duration(const char *s, uint64_t *ns);
int hw_parse_size(const char *s, uint64_t *bytes);

/* ns with the largest unit that divides it exactly ("1500ms", "10s",
 * "7d"; 0 is "0s"), which hw_parse_duration() reads back to ns. */
void hw_format_duration(uint64_t ns, char *buf, size_t size);

/* bytes the same way ("256MiB", "1TiB", "1000B"; 0 is "0B"). */
void hw_format_size(uint64_t bytes, char *buf, size_t size);

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t hw_now_ns(void);

#endif
