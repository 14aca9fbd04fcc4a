/* units.c - durations and sizes; see include/heapwatch/units.h. */
#include "heapwatch/units.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

/* Leading decimal digits into *v; returns the rest, or NULL on overflow
 * or when there are no digits. */
static const char *digits(const char *s, uint64_t *v)
{
	uint64_t x = 0;
	const char *p = s;

	while (*p >= '0' && *p <= '9') {
		unsigned d = (unsigned)(*p - '0');

		if (x > (UINT64_MAX - d) / 10)
			return NULL;
		x = x * 10 + d;
		p++;
	}
	if (p == s || p - s > 20)
		return NULL;
	*v = x;
	return p;
}

static int scale(uint64_t v, uint64_t mul, uint64_t *out)
{
	if (mul && v > UINT64_MAX / mul)
		return -1;
	*out = v * mul;
	return 0;
}

int hw_parse_duration(const char *s, uint64_t *ns)
{
	static const struct { const char *unit; uint64_t mul; } units[] = {
		{ "ns", 1ull }, { "us", 1000ull }, { "ms", 1000000ull },
		{ "s", 1000000000ull }, { "m", 60000000000ull },
		{ "h", 3600000000000ull },
	};
	uint64_t v;
	const char *rest;

	if (!s || !(rest = digits(s, &v)))
		return -1;
	if (*rest == '\0')
		return v == 0 ? (*ns = 0, 0) : -1;
	for (unsigned i = 0; i < sizeof units / sizeof units[0]; i++)
		if (strcmp(rest, units[i].unit) == 0)
			return scale(v, units[i].mul, ns);
	return -1;
}

int hw_parse_size(const char *s, uint64_t *bytes)
{
	static const struct { const char *unit; uint64_t mul; } units[] = {
		{ "", 1ull }, { "B", 1ull }, { "KiB", 1ull << 10 },
		{ "MiB", 1ull << 20 }, { "GiB", 1ull << 30 }, { "TiB", 1ull << 40 },
		{ "KB", 1000ull }, { "MB", 1000000ull }, { "GB", 1000000000ull },
		{ "k", 1ull << 10 }, { "K", 1ull << 10 }, { "M", 1ull << 20 },
		{ "G", 1ull << 30 },
	};
	uint64_t v;
	const char *rest;

	if (!s || !(rest = digits(s, &v)))
		return -1;
	for (unsigned i = 0; i < sizeof units / sizeof units[0]; i++)
		if (strcmp(rest, units[i].unit) == 0)
			return scale(v, units[i].mul, bytes);
	return -1;
}

void hw_format_duration(uint64_t ns, char *buf, unsigned size)
{
	static const struct { const char *unit; uint64_t mul; } units[] = {
		{ "h", 3600000000000ull }, { "m", 60000000000ull },
		{ "s", 1000000000ull }, { "ms", 1000000ull }, { "us", 1000ull },
	};

	for (unsigned i = 0; i < sizeof units / sizeof units[0]; i++)
		if (ns && ns % units[i].mul == 0) {
			snprintf(buf, size, "%llu%s",
				 (unsigned long long)(ns / units[i].mul), units[i].unit);
			return;
		}
	snprintf(buf, size, "%lluns", (unsigned long long)ns);
}

uint64_t hw_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}
