/* units.c - durations and sizes; see include/heapwatch/units.h. */
#include "heapwatch/units.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

struct unit {
	const char *name;
	uint64_t mul;
};

#define US 1000ull
#define MS (1000 * US)
#define SEC (1000 * MS)
#define MIN (60 * SEC)
#define HOUR (60 * MIN)
#define DAY (24 * HOUR)

/* Largest first: hw_format_*() take the first that divides exactly. */
static const struct unit duration_units[] = {
	{ "d", DAY }, { "h", HOUR }, { "m", MIN }, { "s", SEC },
	{ "ms", MS }, { "us", US }, { "ns", 1 }, { NULL, 0 },
};

static const struct unit size_units[] = {
	{ "TiB", 1ull << 40 }, { "GiB", 1ull << 30 }, { "MiB", 1ull << 20 },
	{ "KiB", 1ull << 10 }, { "B", 1 },
	{ "T", 1ull << 40 }, { "G", 1ull << 30 }, { "M", 1ull << 20 },
	{ "K", 1ull << 10 }, { NULL, 0 },
};

/* Decimal units people write for sizes: refused, since some mean 1000
 * and some 1024 by them (the command line once took MB as 10^6 while the
 * configuration file took no MB at all). */
static const struct unit decimal_units[] = {
	{ "kB", 0 }, { "KB", 0 }, { "MB", 0 }, { "GB", 0 }, { "TB", 0 },
	{ NULL, 0 },
};

static const struct unit *find(const struct unit *u, const char *s, size_t n)
{
	for (; u->name; u++)
		if (strlen(u->name) == n && memcmp(u->name, s, n) == 0)
			return u;
	return NULL;
}

/* NUMBER UNIT at s[0..len) (units.h).  units: the table; what ("a
 * duration"), list (the units) and base ("nanoseconds") for messages;
 * bare_mul: what a bare number counts (0: a unit is needed, except for 0
 * itself).  The arithmetic is 128-bit: a 20-digit number times the
 * largest unit, or 19 fraction digits times it, cannot overflow it. */
static int parse(const char *s, size_t len, const struct unit *units,
		 const char *what, const char *list, uint64_t bare_mul,
		 const char *base, uint64_t *out, struct hw_err *e)
{
	char v[64], u[64];
	unsigned __int128 whole = 0, frac = 0, den = 1, total;
	size_t i = 0, unit_at;
	const struct unit *unit;
	uint64_t mul;
	int fdigits = 0;

	hw_err_quote(v, sizeof v, s, len);
	if (len > 0 && s[0] == '-')
		return hw_err_set(e, HW_EUSAGE, 0, "'%s' is negative", v);
	for (; i < len && s[i] >= '0' && s[i] <= '9'; i++) {
		whole = whole * 10 + (unsigned)(s[i] - '0');
		if (whole > UINT64_MAX)
			return hw_err_set(e, HW_ELIMIT, 0, "'%s' is too large", v);
	}
	if (i == 0)
		return hw_err_set(e, HW_EUSAGE, 0,
				  "'%s' is not %s (a number and a unit: %s)", v, what, list);
	if (i < len && s[i] == '.') {
		size_t d = ++i;

		for (; i < len && s[i] >= '0' && s[i] <= '9'; i++) {
			/* past 19 digits only zeros can keep it exact */
			if (fdigits == 19) {
				if (s[i] != '0')
					return hw_err_set(e, HW_EUSAGE, 0,
							  "'%s' is not a whole number of %s", v, base);
				continue;
			}
			frac = frac * 10 + (unsigned)(s[i] - '0');
			den *= 10;
			fdigits++;
		}
		if (i == d)
			return hw_err_set(e, HW_EUSAGE, 0,
					  "'%s' is not %s (a number and a unit: %s)", v, what, list);
	}
	unit_at = i;
	if (unit_at == len) {
		if (!bare_mul && (whole || frac))
			return hw_err_set(e, HW_EUSAGE, 0, "'%s' needs a unit (%s)", v, list);
		mul = bare_mul ? bare_mul : 1;
	} else if ((unit = find(units, s + unit_at, len - unit_at))) {
		mul = unit->mul;
	} else {
		hw_err_quote(u, sizeof u, s + unit_at, len - unit_at);
		if (units == size_units && find(decimal_units, s + unit_at, len - unit_at)) {
			char num[48];

			hw_err_quote(num, sizeof num, s, unit_at);
			return hw_err_set(e, HW_EUSAGE, 0,
					  "'%s' has a decimal unit '%s': sizes count in powers of 1024, write %s%ciB (or %s%c) or a number of bytes",
					  v, u, num, u[0] == 'k' ? 'K' : u[0], num, u[0] == 'k' ? 'K' : u[0]);
		}
		return hw_err_set(e, HW_EUSAGE, 0, "'%s' has an unknown unit '%s' (%s)", v, u, list);
	}
	if ((frac * mul) % den)
		return hw_err_set(e, HW_EUSAGE, 0, "'%s' is not a whole number of %s", v, base);
	total = whole * mul + frac * mul / den;
	if (total > UINT64_MAX)
		return hw_err_set(e, HW_ELIMIT, 0, "'%s' is too large", v);
	*out = (uint64_t)total;
	return 0;
}

int hw_duration_parse(const char *s, size_t len, uint64_t bare_unit_ns,
		      uint64_t *ns, struct hw_err *e)
{
	return parse(s, len, duration_units, "a duration", HW_DURATION_UNITS,
		     bare_unit_ns, "nanoseconds", ns, e);
}

int hw_size_parse(const char *s, size_t len, uint64_t *bytes,
		  struct hw_err *e)
{
	return parse(s, len, size_units, "a size", HW_SIZE_UNITS, 1, "bytes",
		     bytes, e);
}

int hw_parse_duration(const char *s, uint64_t *ns)
{
	return s ? hw_duration_parse(s, strlen(s), 0, ns, NULL) : -1;
}

int hw_parse_size(const char *s, uint64_t *bytes)
{
	return s ? hw_size_parse(s, strlen(s), bytes, NULL) : -1;
}

/* v in the first unit of u (largest first) that divides it; 0 as "0"
 * and zero's unit. */
static void format(uint64_t v, const struct unit *u, const char *zero,
		   char *buf, size_t size)
{
	if (v == 0) {
		snprintf(buf, size, "0%s", zero);
		return;
	}
	for (; u->name; u++)
		if (v % u->mul == 0)
			break;
	snprintf(buf, size, "%llu%s", (unsigned long long)(v / u->mul), u->name);
}

void hw_format_duration(uint64_t ns, char *buf, size_t size)
{
	format(ns, duration_units, "s", buf, size);
}

void hw_format_size(uint64_t bytes, char *buf, size_t size)
{
	format(bytes, size_units, "B", buf, size);
}

uint64_t hw_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}
