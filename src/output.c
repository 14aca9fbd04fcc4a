/* output.c - tables and JSON; see include/heapwatch/output.h. */
#include "heapwatch/output.h"

#include <stdlib.h>
#include <sys/resource.h>
#include <string.h>

/* Length of a valid UTF-8 sequence at s, or 0. */
static size_t utf8_len(const unsigned char *s)
{
	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xC2 && s[0] <= 0xDF)
		return (s[1] & 0xC0) == 0x80 ? 2 : 0;
	if (s[0] >= 0xE0 && s[0] <= 0xEF) {
		if ((s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80)
			return 0;
		if (s[0] == 0xE0 && s[1] < 0xA0)
			return 0;
		if (s[0] == 0xED && s[1] >= 0xA0)
			return 0;
		return 3;
	}
	if (s[0] >= 0xF0 && s[0] <= 0xF4) {
		if ((s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80 ||
		    (s[3] & 0xC0) != 0x80)
			return 0;
		if ((s[0] == 0xF0 && s[1] < 0x90) || (s[0] == 0xF4 && s[1] >= 0x90))
			return 0;
		return 4;
	}
	return 0;
}

void hw_json_string(FILE *f, const char *str)
{
	const unsigned char *s = (const unsigned char *)str;

	fputc('"', f);
	while (*s) {
		size_t n = utf8_len(s);

		if (n == 0) {
			fputs("\\ufffd", f);
			s++;
			continue;
		}
		if (n > 1) {
			fwrite(s, 1, n, f);
			s += n;
			continue;
		}
		switch (*s) {
		case '"': fputs("\\\"", f); break;
		case '\\': fputs("\\\\", f); break;
		case '\n': fputs("\\n", f); break;
		case '\r': fputs("\\r", f); break;
		case '\t': fputs("\\t", f); break;
		default:
			if (*s < 0x20 || *s == 0x7f)
				fprintf(f, "\\u%04x", *s);
			else
				fputc(*s, f);
		}
		s++;
	}
	fputc('"', f);
}

void hw_print_safe(FILE *f, const char *str, int width)
{
	const unsigned char *s = (const unsigned char *)str;
	int col = 0;

	while (*s) {
		size_t n = utf8_len(s);

		if (n == 0 || (n == 1 && (*s < 0x20 || *s == 0x7f))) {
			fputc('?', f);
			s++;
		} else {
			fwrite(s, 1, n, f);
			s += n;
		}
		col++;
	}
	for (; col < width; col++)
		fputc(' ', f);
}

static void human_bytes(char *buf, size_t size, int64_t b)
{
	if (b < 0)
		snprintf(buf, size, "?");
	else if (b >= (1ll << 30))
		snprintf(buf, size, "%.1f GiB", (double)b / (1 << 30));
	else if (b >= (1ll << 20))
		snprintf(buf, size, "%.1f MiB", (double)b / (1 << 20));
	else if (b >= 1024)
		snprintf(buf, size, "%.1f KiB", (double)b / 1024);
	else
		snprintf(buf, size, "%lld B", (long long)b);
}

static void header(FILE *f, const struct hw_census *c)
{
	char rss[32], pss[32];

	human_bytes(rss, sizeof rss, c->mem.rss);
	human_bytes(pss, sizeof pss, c->mem.pss);
	fprintf(f, "pid %d  python %s  rss %s  pss %s  objects %llu  pause %.3f ms"
		"  layout %s%s%s%s\n",
		(int)c->pid, c->python, rss, pss,
		(unsigned long long)c->gc_objects, (double)c->pause_ns / 1e6,
		c->layout_source, c->partial ? "  PARTIAL (" : "",
		c->partial ? (c->partial_reason ? c->partial_reason : "cut short") : "",
		c->partial ? ")" : "");
	for (const char *n = c->layout_notes; *n;) {
		size_t len = strcspn(n, "\n");

		fputs("layout note: ", f);
		fwrite(n, 1, len, f);
		fputc('\n', f);
		n += len;
		n += *n == '\n';
	}
}

/* The notes as a JSON array of strings, one per line. */
static void json_notes(FILE *f, const char *notes)
{
	char one[sizeof ((struct hw_census *)0)->layout_notes];
	int first = 1;

	fputc('[', f);
	while (*notes) {
		size_t len = strcspn(notes, "\n");

		if (len >= sizeof one)
			len = sizeof one - 1;
		memcpy(one, notes, len);
		one[len] = '\0';
		if (!first)
			fputs(", ", f);
		hw_json_string(f, one);
		first = 0;
		notes += strcspn(notes, "\n");
		notes += *notes == '\n';
	}
	fputc(']', f);
}

static int name_width(const struct hw_census *c, size_t n)
{
	int w = 4;

	for (size_t i = 0; i < n; i++) {
		int l = (int)strlen(c->types[i].name);

		if (l > w)
			w = l;
	}
	return w > 60 ? 60 : w;
}

void hw_print_table(FILE *f, const struct hw_census *c, size_t top)
{
	size_t n = top && top < c->ntypes ? top : c->ntypes;
	int w = name_width(c, n), approx = 0;

	header(f, c);
	if (c->sizes)
		fprintf(f, "%-*s %12s %7s %14s %7s\n", w, "type", "count", "share",
			"bytes", "share");
	else
		fprintf(f, "%-*s %12s %7s\n", w, "type", "count", "share");
	for (size_t i = 0; i < n; i++) {
		const struct hw_census_type *t = &c->types[i];
		double share = c->gc_objects ?
			100.0 * (double)t->count / (double)c->gc_objects : 0;

		hw_print_safe(f, t->name, w);
		fprintf(f, " %12llu %6.1f%%", (unsigned long long)t->count, share);
		if (c->sizes) {
			double bshare = c->bytes ? 100.0 * (double)t->bytes / (double)c->bytes : 0;

			fprintf(f, " %c%13llu %6.1f%%", t->approx ? '~' : ' ',
				(unsigned long long)t->bytes, bshare);
			approx |= t->approx != 0;
		}
		fputc('\n', f);
	}
	if (n < c->ntypes)
		fprintf(f, "(%zu more types)\n", c->ntypes - n);
	if (c->sizes)
		fprintf(f, "total %llu bytes%s\n", (unsigned long long)c->bytes,
			approx ? "; ~ rows hold objects whose C __sizeof__ heapwatch does "
				 "not reproduce (basicsize + itemsize * size counted)" : "");
}

static int cmp_bytes(const void *x, const void *y)
{
	const struct hw_census_type *a = x, *b = y;

	if (a->bytes != b->bytes)
		return a->bytes > b->bytes ? -1 : 1;
	if (a->count != b->count)
		return a->count > b->count ? -1 : 1;
	return strcmp(a->name, b->name);
}

static int cmp_count(const void *x, const void *y)
{
	const struct hw_census_type *a = x, *b = y;

	if (a->count != b->count)
		return a->count > b->count ? -1 : 1;
	if (a->bytes != b->bytes)
		return a->bytes > b->bytes ? -1 : 1;
	return strcmp(a->name, b->name);
}

void hw_census_sort(struct hw_census *c, int by_bytes)
{
	free(c->by_name);      /* points at rows that are about to move */
	c->by_name = NULL;
	if (c->ntypes)
		qsort(c->types, c->ntypes, sizeof *c->types, by_bytes ? cmp_bytes : cmp_count);
}

static void json_num(FILE *f, const char *key, long long v, int comma)
{
	fprintf(f, "\"%s\": %lld%s", key, v, comma ? ", " : "");
}

static void json_body(FILE *f, const struct hw_census *c)
{
	fprintf(f, "\"pid\": %d, \"python\": ", (int)c->pid);
	hw_json_string(f, c->python);
	fputs(", ", f);
	json_num(f, "rss_bytes", c->mem.rss, 1);
	json_num(f, "pss_bytes", c->mem.pss, 1);
	json_num(f, "uss_bytes", c->mem.uss, 1);
	json_num(f, "swap_bytes", c->mem.swap, 1);
	json_num(f, "gc_objects", (long long)c->gc_objects, 1);
	json_num(f, "pause_us", (long long)(c->pause_ns / 1000), 1);
	json_num(f, "max_pause_us", (long long)(c->max_pause_ns / 1000), 1);
	json_num(f, "stops", c->stops, 1);
	fputs("\"layout_source\": ", f);
	hw_json_string(f, c->layout_source);
	fputs(", \"layout_detail\": ", f);
	hw_json_string(f, c->layout_detail);
	fputs(", \"layout_notes\": ", f);
	json_notes(f, c->layout_notes);
	fprintf(f, ", \"version_untested\": %s", c->version_untested ? "true" : "false");
	fputs(", \"mode\": ", f);
	hw_json_string(f, c->mode ? c->mode : "");
	fprintf(f, ", \"partial\": %s, ", c->partial ? "true" : "false");
	if (c->partial) {
		fputs("\"partial_reason\": ", f);
		hw_json_string(f, c->partial_reason ? c->partial_reason : "cut short");
		fputs(", ", f);
	}
	json_num(f, "copied_bytes", (long long)c->copied_bytes, 1);
	json_num(f, "copy_calls", (long long)c->copy_calls, 1);
	json_num(f, "walk_us", (long long)(c->walk_ns / 1000), 1);
	json_num(f, "cpu_us", (long long)(c->cpu_ns / 1000), 1);
	{
		struct rusage ru;

		if (getrusage(RUSAGE_SELF, &ru) == 0)
			json_num(f, "heapwatch_maxrss_kb", ru.ru_maxrss, 1);
	}
	if (c->floor_ns)
		json_num(f, "floor_us", (long long)(c->floor_ns / 1000), 1);
	json_num(f, "attempts", c->attempts, 1);
	json_num(f, "misses", (long long)c->misses, 1);
	json_num(f, "busy_waits", c->busy_waits, 1);
	json_num(f, "detach_failures", c->detach_failures, 1);
	json_num(f, "interpreters", c->ninterps, 1);
	fprintf(f, "\"lists\": {\"gen0\": %llu, \"gen1\": %llu, \"gen2\": %llu, "
		"\"permanent\": %llu}",
		(unsigned long long)c->per_list[0], (unsigned long long)c->per_list[1],
		(unsigned long long)c->per_list[2], (unsigned long long)c->per_list[3]);
}

void hw_print_json(FILE *f, const struct hw_census *c, size_t top)
{
	size_t n = top && top < c->ntypes ? top : c->ntypes;

	fputc('{', f);
	json_body(f, c);
	if (c->sizes)
		fprintf(f, ", \"bytes\": %llu", (unsigned long long)c->bytes);
	fprintf(f, ", \"ntypes\": %zu, \"types\": [", c->ntypes);
	for (size_t i = 0; i < n; i++) {
		fputs(i ? ", {\"name\": " : "{\"name\": ", f);
		hw_json_string(f, c->types[i].name);
		fprintf(f, ", \"count\": %llu", (unsigned long long)c->types[i].count);
		if (c->sizes) {
			fprintf(f, ", \"bytes\": %llu", (unsigned long long)c->types[i].bytes);
			if (c->types[i].values_bytes)
				fprintf(f, ", \"values_bytes\": %llu",
					(unsigned long long)c->types[i].values_bytes);
			if (c->types[i].approx)
				fprintf(f, ", \"approx\": %llu",
					(unsigned long long)c->types[i].approx);
		}
		fputc('}', f);
	}
	fputs("]}\n", f);
}

struct delta {
	const char *name;
	uint64_t count;
	int64_t delta;
};

static int cmp_delta(const void *x, const void *y)
{
	const struct delta *a = x, *b = y;

	if (a->delta != b->delta)
		return a->delta > b->delta ? -1 : 1;
	return strcmp(a->name, b->name);
}

static int cmp_type_name(const void *x, const void *y)
{
	const struct hw_census_type *a = x, *b = y;

	return strcmp(a->name, b->name);
}

/* Every name whose count changed, by a merge of both name-sorted lists. */
static struct delta *deltas(const struct hw_census *b, const struct hw_census *a,
			    size_t *n)
{
	struct delta *d = calloc(a->ntypes + b->ntypes + 1, sizeof *d);
	struct hw_census_type *x = calloc(b->ntypes + 1, sizeof *x);
	struct hw_census_type *y = calloc(a->ntypes + 1, sizeof *y);
	size_t i = 0, j = 0, k = 0;

	if (!d || !x || !y) {
		free(d);
		free(x);
		free(y);
		return NULL;
	}
	memcpy(x, b->types, b->ntypes * sizeof *x);
	memcpy(y, a->types, a->ntypes * sizeof *y);
	qsort(x, b->ntypes, sizeof *x, cmp_type_name);
	qsort(y, a->ntypes, sizeof *y, cmp_type_name);
	while (i < b->ntypes || j < a->ntypes) {
		int c = i == b->ntypes ? 1 : j == a->ntypes ? -1 :
			strcmp(x[i].name, y[j].name);

		if (c < 0) {
			d[k++] = (struct delta){ x[i].name, 0, -(int64_t)x[i].count };
			i++;
		} else if (c > 0) {
			d[k++] = (struct delta){ y[j].name, y[j].count,
						 (int64_t)y[j].count };
			j++;
		} else {
			if (x[i].count != y[j].count)
				d[k++] = (struct delta){ y[j].name, y[j].count,
					(int64_t)y[j].count - (int64_t)x[i].count };
			i++;
			j++;
		}
	}
	free(x);
	free(y);
	qsort(d, k, sizeof *d, cmp_delta);
	*n = k;
	return d;
}

void hw_print_growth_table(FILE *f, const struct hw_census *before,
			   const struct hw_census *after, size_t top)
{
	size_t n = 0, shown = 0;
	struct delta *d = deltas(before, after, &n);
	int w = 4;

	header(f, after);
	if (!d) {
		fputs("(out of memory)\n", f);
		return;
	}
	for (size_t i = 0; i < n; i++)
		if (d[i].delta > 0 && (int)strlen(d[i].name) > w)
			w = (int)strlen(d[i].name);
	if (w > 60)
		w = 60;
	fprintf(f, "%-*s %12s %12s\n", w, "type", "count", "delta");
	for (size_t i = 0; i < n && (!top || shown < top); i++) {
		if (d[i].delta <= 0)
			continue;
		hw_print_safe(f, d[i].name, w);
		fprintf(f, " %12llu %+12lld\n", (unsigned long long)d[i].count,
			(long long)d[i].delta);
		shown++;
	}
	if (!shown)
		fputs("(no type grew)\n", f);
	free(d);
}

void hw_print_growth_json(FILE *f, const struct hw_census *before,
			  const struct hw_census *after, double seconds,
			  size_t top)
{
	size_t n = 0;
	struct delta *d = deltas(before, after, &n);

	fputc('{', f);
	json_body(f, after);
	fprintf(f, ", \"interval_s\": %.3f, \"gc_objects_before\": %llu, "
		"\"pause_us_before\": %llu, \"growth\": [",
		seconds, (unsigned long long)before->gc_objects,
		(unsigned long long)(before->pause_ns / 1000));
	for (size_t i = 0; d && i < n && (!top || i < top); i++) {
		fputs(i ? ", {\"name\": " : "{\"name\": ", f);
		hw_json_string(f, d[i].name);
		fprintf(f, ", \"count\": %llu, \"delta\": %lld}",
			(unsigned long long)d[i].count, (long long)d[i].delta);
	}
	fputs("]}\n", f);
	free(d);
}
