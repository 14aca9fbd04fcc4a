/* status.c - the status file and `heapwatch status`; see
 * include/heapwatch/status.h. */
#include "heapwatch/status.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define STATUS_VERSION 1
#define STATUS_FILE_MAX (16u << 20)   /* bytes read back */
#define JSON_DEPTH_MAX 16
#define JSON_VALUES_MAX (1u << 20)    /* values in one document */
#define JSON_NUMBER_MAX 64            /* characters in one number */
#define STALE_MIN_S 30.0

/* ------------------------------------------------------------------ */
/* writing */

/* The length of the valid UTF-8 sequence at p, of at most n bytes (a NUL
 * ends it too), or 0 when there is none: no overlong forms, no
 * surrogates, nothing above U+10FFFF.  *cp: the code point. */
static size_t utf8_seq(const unsigned char *p, size_t n, unsigned *cp)
{
	unsigned c = p[0], v;
	size_t len, i;

	if (c < 0x80)
		len = 1, v = c;
	else if (c >= 0xc2 && c <= 0xdf)
		len = 2, v = c & 0x1f;
	else if (c >= 0xe0 && c <= 0xef)
		len = 3, v = c & 0x0f;
	else if (c >= 0xf0 && c <= 0xf4)
		len = 4, v = c & 0x07;
	else
		return 0;
	if (n < len)
		return 0;
	for (i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		v = v << 6 | (p[i] & 0x3f);
	}
	if ((len == 3 && v < 0x800) || (len == 4 && v < 0x10000) || v > 0x10ffff ||
	    (v >= 0xd800 && v <= 0xdfff))
		return 0;
	*cp = v;
	return len;
}

/* A control character: C0, DEL or C1 (which some terminals obey even
 * in UTF-8). */
static int is_control(unsigned cp)
{
	return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f);
}

/* s as a JSON string: escaped (controls as \uXXXX), valid UTF-8 (U+FFFD
 * for bad bytes), so that `status --json` can print the file as it is. */
static void put_str(FILE *f, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	fputc('"', f);
	while (*p) {
		unsigned cp = 0;
		size_t len = utf8_seq(p, 4, &cp);

		if (len == 0) {
			fputs("\xef\xbf\xbd", f);
			p++;
		} else if (cp == '"' || cp == '\\') {
			fprintf(f, "\\%c", (char)cp);
			p++;
		} else if (is_control(cp)) {
			fprintf(f, "\\u%04x", cp);
			p += len;
		} else {
			fwrite(p, 1, len, f);
			p += len;
		}
	}
	fputc('"', f);
}

static void put_num(FILE *f, double v)
{
	if (!isfinite(v))
		fputs("null", f);
	else if (v == floor(v) && fabs(v) < 1e15)
		fprintf(f, "%.0f", v);
	else
		fprintf(f, "%.6g", v);
}

static void put_time(FILE *f, int64_t ms)
{
	if (ms <= 0)
		fputs("null", f);
	else
		fprintf(f, "%.3f", (double)ms / 1000.0);
}

/* The fields a process and a target share. */
static void put_judged(FILE *f, const struct hw_judged *j)
{
	if (!j) {
		fputs("\"verdict\": \"warming\", \"kind\": null, \"since\": null, "
		      "\"detail\": \"not sampled yet\", \"leaking\": []", f);
		return;
	}
	fputs("\"verdict\": ", f);
	put_str(f, hw_verdict_name(j->verdict));
	fputs(", \"kind\": ", f);
	if (j->kind == HW_KIND_NONE)
		fputs("null", f);
	else
		put_str(f, hw_kind_name(j->kind));
	fputs(", \"since\": ", f);
	put_time(f, j->since_ms);
	fputs(", \"detail\": ", f);
	put_str(f, j->detail);
	fputs(", \"rss_growth_bytes_per_hour\": ", f);
	if (j->has_rss && j->verdict != HW_VERDICT_WARMING)
		put_num(f, round(j->rss_per_hour));
	else
		fputs("null", f);
	fputs(", \"window_s\": ", f);
	put_num(f, j->span_s);
	fputs(", \"leaking\": [", f);
	for (uint32_t i = 0; i < j->nleaking; i++) {
		fputs(i ? ", {\"type\": " : "{\"type\": ", f);
		put_str(f, j->leaking[i].name);
		fputs(", \"per_hour\": ", f);
		put_num(f, round(j->leaking[i].per_hour * 10) / 10);
		fputs(", \"p\": ", f);
		put_num(f, j->leaking[i].p);
		fputs(", \"since\": ", f);
		put_time(f, j->leaking[i].since_ms);
		fputc('}', f);
	}
	fputc(']', f);
}

static void put_mem(FILE *f, const char *name, int64_t v)
{
	fprintf(f, ", \"%s\": ", name);
	if (v < 0)
		fputs("null", f);
	else
		fprintf(f, "%lld", (long long)v);
}

int hw_status_open(struct hw_status_w *w, const char *path,
		   const struct hw_status_daemon *d, struct hw_err *e)
{
	struct stat st;
	int fd;

	memset(w, 0, sizeof *w);
	snprintf(w->path, sizeof w->path, "%s", path);
	snprintf(w->tmp, sizeof w->tmp, "%s.tmp", path);
	if (lstat(path, &st) == 0 && !S_ISREG(st.st_mode))
		return hw_err_set(e, HW_EIO, 0, "%s: not a regular file; not replacing it",
				  path);
	fd = open(w->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0)
		return hw_err_set(e, HW_EIO, errno, "%s", w->tmp);
	w->f = fdopen(fd, "w");
	if (!w->f) {
		close(fd);
		unlink(w->tmp);
		return hw_err_set(e, HW_EIO, errno, "%s", w->tmp);
	}
	fprintf(w->f, "{\"version\": %d, \"updated\": ", STATUS_VERSION);
	put_time(w->f, d->updated_ms);
	fprintf(w->f, ",\n \"daemon\": {\"pid\": %d, \"started\": ", (int)d->pid);
	put_time(w->f, d->started_ms);
	fprintf(w->f, ", \"interval_s\": %.3f, \"flush_interval_s\": %.3f, "
		"\"trend\": {\"warmup_s\": %.3f, \"bucket_s\": %.3f, \"window_s\": %.3f}, "
		"\"cpu\": {\"census_us\": %llu, \"trend_us\": %llu}},\n \"targets\": [",
		(double)d->interval_ns / 1e9, (double)d->flush_interval_ns / 1e9,
		(double)d->trend.warmup_ns / 1e9, (double)d->trend.bucket_ns / 1e9,
		(double)d->trend.window_ns / 1e9,
		(unsigned long long)d->census_cpu_us, (unsigned long long)d->trend_cpu_us);
	return 0;
}

static void end_target(struct hw_status_w *w)
{
	if (w->in_target)
		fputs("]}", w->f);
	w->in_target = 0;
}

void hw_status_target(struct hw_status_w *w, const char *name,
		      const struct hw_judged *j, int64_t rss, int64_t pss,
		      unsigned nprocs)
{
	end_target(w);
	fputs(w->ntargets++ ? ",\n  {\"name\": " : "\n  {\"name\": ", w->f);
	put_str(w->f, name);
	fputs(", ", w->f);
	put_judged(w->f, j);
	fprintf(w->f, ", \"recycled\": %s", j && j->recycled ? "true" : "false");
	put_mem(w->f, "rss_bytes", rss);
	put_mem(w->f, "pss_bytes", pss);
	fprintf(w->f, ", \"nprocs\": %u,\n   \"processes\": [", nprocs);
	w->in_target = 1;
	w->nprocs = 0;
}

void hw_status_process(struct hw_status_w *w, pid_t pid, const char *slot,
		       double age_s, int64_t rss, int64_t pss,
		       const struct hw_judged *j)
{
	if (!w->in_target)
		return;
	fprintf(w->f, "%s{\"pid\": %d, \"slot\": ", w->nprocs++ ? ",\n    " : "\n    ",
		(int)pid);
	if (slot)
		put_str(w->f, slot);
	else
		fputs("null", w->f);
	fputs(", \"age_s\": ", w->f);
	put_num(w->f, round(age_s * 10) / 10);
	put_mem(w->f, "rss_bytes", rss);
	put_mem(w->f, "pss_bytes", pss);
	fputs(", ", w->f);
	put_judged(w->f, j);
	fputc('}', w->f);
}

int hw_status_commit(struct hw_status_w *w, struct hw_err *e)
{
	int bad;

	end_target(w);
	fputs("]}\n", w->f);
	bad = ferror(w->f);
	if (fclose(w->f) != 0 || bad) {
		int err = errno ? errno : EIO;

		w->f = NULL;
		unlink(w->tmp);
		return hw_err_set(e, HW_EIO, err, "writing %s", w->tmp);
	}
	w->f = NULL;
	if (rename(w->tmp, w->path) < 0) {
		int err = errno;

		unlink(w->tmp);
		return hw_err_set(e, HW_EIO, err, "renaming %s to %s", w->tmp, w->path);
	}
	return 0;
}

void hw_status_abort(struct hw_status_w *w)
{
	if (w->f) {
		fclose(w->f);
		unlink(w->tmp);
	}
	w->f = NULL;
}

/* ------------------------------------------------------------------ */
/* a small JSON reader: objects, arrays, strings, numbers, literals */

enum jt { J_NULL, J_BOOL, J_NUM, J_STR, J_ARR, J_OBJ };

struct jv {
	enum jt t;
	double num;               /* J_NUM; J_BOOL 0 or 1 */
	char *str;                /* J_STR */
	size_t n;                 /* J_ARR, J_OBJ: items */
	struct jv *items;         /* J_ARR, J_OBJ */
	char **keys;              /* J_OBJ */
};

struct jp {
	const char *s, *end, *p;
	size_t nvalues;
	char why[96];
};

static void jv_free(struct jv *v)
{
	if (!v)
		return;
	free(v->str);
	for (size_t i = 0; i < v->n; i++) {
		jv_free(&v->items[i]);
		if (v->keys)
			free(v->keys[i]);
	}
	free(v->items);
	free(v->keys);
	memset(v, 0, sizeof *v);
}

static void ws(struct jp *p)
{
	while (p->p < p->end && (*p->p == ' ' || *p->p == '\n' || *p->p == '\r' ||
				 *p->p == '\t'))
		p->p++;
}

static int fail(struct jp *p, const char *why)
{
	snprintf(p->why, sizeof p->why, "%s", why);
	return -1;
}

static int hexval(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 :
	       c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

static int parse_string(struct jp *p, char **out)
{
	size_t cap = 32, n = 0;
	char *b = malloc(cap);

	if (!b)
		return fail(p, "out of memory");
	p->p++;                     /* the quote */
	while (p->p < p->end && *p->p != '"') {
		unsigned c = (unsigned char)*p->p++;

		if (n + 5 >= cap) {
			char *nb = realloc(b, cap *= 2);

			if (!nb) {
				free(b);
				return fail(p, "out of memory");
			}
			b = nb;
		}
		if (c >= 0x80) {
			/* raw: valid UTF-8 and no C1 control, so that the file
			 * itself is safe to print */
			unsigned cp = 0;
			size_t l = utf8_seq((const unsigned char *)p->p - 1,
					    (size_t)(p->end - p->p) + 1, &cp);

			if (l == 0 || is_control(cp)) {
				p->p--;
				free(b);
				return fail(p, l ? "a control character in a string" :
					    "invalid UTF-8 in a string");
			}
			memcpy(b + n, p->p - 1, l);
			n += l;
			p->p += l - 1;
			continue;
		}
		if (c < 0x20 || c == 0x7f) {
			p->p--;
			free(b);
			return fail(p, "a control character in a string");
		}
		if (c != '\\') {
			b[n++] = (char)c;
			continue;
		}
		if (p->p >= p->end)
			break;
		c = (unsigned char)*p->p++;
		switch (c) {
		case '"': case '\\': case '/': b[n++] = (char)c; break;
		case 'b': b[n++] = '\b'; break;
		case 'f': b[n++] = '\f'; break;
		case 'n': b[n++] = '\n'; break;
		case 'r': b[n++] = '\r'; break;
		case 't': b[n++] = '\t'; break;
		case 'u': {
			unsigned u = 0;

			for (int i = 0; i < 4; i++) {
				int h = p->p < p->end ? hexval(*p->p++) : -1;

				if (h < 0) {
					free(b);
					return fail(p, "a bad \\u escape");
				}
				u = u * 16 + (unsigned)h;
			}
			/* U+0000 and surrogates (the writer never pairs
			 * them) as U+FFFD; controls are kept here and
			 * made visible when shown (jv_clean()) */
			if (u == 0 || (u >= 0xd800 && u <= 0xdfff))
				u = 0xfffd;
			if (u < 0x80) {
				b[n++] = (char)u;
			} else if (u < 0x800) {
				b[n++] = (char)(0xc0 | (u >> 6));
				b[n++] = (char)(0x80 | (u & 0x3f));
			} else {
				b[n++] = (char)(0xe0 | (u >> 12));
				b[n++] = (char)(0x80 | ((u >> 6) & 0x3f));
				b[n++] = (char)(0x80 | (u & 0x3f));
			}
			break;
		}
		default:
			free(b);
			return fail(p, "a bad escape");
		}
	}
	if (p->p >= p->end) {
		free(b);
		return fail(p, "an unterminated string");
	}
	p->p++;
	b[n] = '\0';
	*out = b;
	return 0;
}

static int parse_value(struct jp *p, struct jv *v, int depth);

static int parse_items(struct jp *p, struct jv *v, int depth, int obj)
{
	size_t cap = 0;

	p->p++;
	ws(p);
	if (p->p < p->end && *p->p == (obj ? '}' : ']')) {
		p->p++;
		return 0;
	}
	for (;;) {
		char *key = NULL;

		ws(p);
		if (obj) {
			if (p->p >= p->end || *p->p != '"')
				return fail(p, "expected a key");
			if (parse_string(p, &key))
				return -1;
			ws(p);
			if (p->p >= p->end || *p->p != ':') {
				free(key);
				return fail(p, "expected ':'");
			}
			p->p++;
		}
		if (v->n == cap) {
			size_t nc = cap ? 2 * cap : 8;
			struct jv *ni = realloc(v->items, nc * sizeof *ni);
			char **nk = obj ? realloc(v->keys, nc * sizeof *nk) : NULL;

			if (ni)
				v->items = ni;
			if (nk)
				v->keys = nk;
			if (!ni || (obj && !nk)) {
				free(key);
				return fail(p, "out of memory");
			}
			cap = nc;
		}
		memset(&v->items[v->n], 0, sizeof v->items[0]);
		if (obj)
			v->keys[v->n] = key;
		v->n++;
		if (parse_value(p, &v->items[v->n - 1], depth + 1))
			return -1;
		ws(p);
		if (p->p < p->end && *p->p == ',') {
			p->p++;
			continue;
		}
		if (p->p < p->end && *p->p == (obj ? '}' : ']')) {
			p->p++;
			return 0;
		}
		return fail(p, obj ? "expected ',' or '}'" : "expected ',' or ']'");
	}
}

static int isdig(const struct jp *p, const char *q)
{
	return q < p->end && *q >= '0' && *q <= '9';
}

/* A JSON number (RFC 8259: no hex, no inf or nan, no leading '+' or
 * zeros), finite as a double. */
static int parse_number(struct jp *p, struct jv *v)
{
	const char *q = p->p;
	char tmp[JSON_NUMBER_MAX + 1], *end;

	if (q < p->end && *q == '-')
		q++;
	if (!isdig(p, q))
		return fail(p, "unexpected character");
	if (*q == '0')
		q++;
	else
		while (isdig(p, q))
			q++;
	if (q < p->end && *q == '.') {
		if (!isdig(p, ++q))
			return fail(p, "a bad number");
		while (isdig(p, q))
			q++;
	}
	if (q < p->end && (*q == 'e' || *q == 'E')) {
		q++;
		if (q < p->end && (*q == '+' || *q == '-'))
			q++;
		if (!isdig(p, q))
			return fail(p, "a bad number");
		while (isdig(p, q))
			q++;
	}
	if ((size_t)(q - p->p) > JSON_NUMBER_MAX)
		return fail(p, "a number too long");
	memcpy(tmp, p->p, (size_t)(q - p->p));
	tmp[q - p->p] = '\0';
	v->num = strtod(tmp, &end);
	if (end != tmp + (q - p->p))
		return fail(p, "a bad number");
	if (!isfinite(v->num))
		return fail(p, "a number out of range");
	v->t = J_NUM;
	p->p = q;
	return 0;
}

static int parse_value(struct jp *p, struct jv *v, int depth)
{
	if (depth > JSON_DEPTH_MAX)
		return fail(p, "nested too deep");
	if (++p->nvalues > JSON_VALUES_MAX)
		return fail(p, "too many values");
	ws(p);
	if (p->p >= p->end)
		return fail(p, "unexpected end");
	switch (*p->p) {
	case '{':
		v->t = J_OBJ;
		return parse_items(p, v, depth, 1);
	case '[':
		v->t = J_ARR;
		return parse_items(p, v, depth, 0);
	case '"':
		v->t = J_STR;
		return parse_string(p, &v->str);
	case 't': case 'f': case 'n': {
		static const char *const lit[] = { "true", "false", "null" };

		for (int i = 0; i < 3; i++) {
			size_t l = strlen(lit[i]);

			if ((size_t)(p->end - p->p) >= l && memcmp(p->p, lit[i], l) == 0) {
				v->t = i == 2 ? J_NULL : J_BOOL;
				v->num = i == 0;
				p->p += l;
				return 0;
			}
		}
		return fail(p, "an unknown word");
	}
	default:
		return parse_number(p, v);
	}
}

static const struct jv *get(const struct jv *o, const char *key)
{
	if (!o || o->t != J_OBJ)
		return NULL;
	for (size_t i = 0; i < o->n; i++)
		if (strcmp(o->keys[i], key) == 0)
			return &o->items[i];
	return NULL;
}

static double num(const struct jv *o, const char *key, double dflt)
{
	const struct jv *v = get(o, key);

	return v && v->t == J_NUM ? v->num : dflt;
}

static const char *str(const struct jv *o, const char *key, const char *dflt)
{
	const struct jv *v = get(o, key);

	return v && v->t == J_STR ? v->str : dflt;
}

/* ------------------------------------------------------------------ */
/* showing */

/* Make every string of v safe to print on a terminal: controls decoded
 * from \u escapes (C0, DEL, C1) become visible escapes, "\x1b" or
 * "\u009b".  Strings are valid UTF-8 once parsed.  On running out of
 * memory such a string is emptied. */
static void jv_clean(struct jv *v)
{
	if (v->t == J_STR && v->str) {
		const unsigned char *q = (const unsigned char *)v->str;
		size_t n = strlen(v->str), i = 0, k = 0;
		int dirty = 0;
		char *b;
		unsigned cp;

		for (i = 0; i < n && !dirty; i++)
			dirty = q[i] < 0x20 || q[i] == 0x7f ||
				(q[i] == 0xc2 && q[i + 1] >= 0x80 && q[i + 1] <= 0x9f);
		if (!dirty)
			return;
		b = malloc(4 * n + 1);   /* each byte: at most 4 */
		if (!b) {
			v->str[0] = '\0';
			return;
		}
		for (i = 0; i < n;) {
			size_t l = utf8_seq(q + i, n - i, &cp);

			if (l == 0) {   /* not after parse_string(); to be safe */
				memcpy(b + k, "\xef\xbf\xbd", 3);
				k += 3;
				i++;
			} else if (cp < 0x80 && is_control(cp)) {
				k += (size_t)sprintf(b + k, "\\x%02x", cp);
				i += l;
			} else if (is_control(cp)) {
				k += (size_t)sprintf(b + k, "\\u%04x", cp);
				i += l;
			} else {
				memcpy(b + k, q + i, l);
				k += l;
				i += l;
			}
		}
		b[k] = '\0';
		free(v->str);
		v->str = b;
	}
	for (size_t i = 0; i < v->n; i++)
		jv_clean(&v->items[i]);
}

static void ago(double s, char *buf, size_t size)
{
	if (s < 0)
		s = 0;
	if (s < 120)
		snprintf(buf, size, "%.0f s", s);
	else if (s < 7200)
		snprintf(buf, size, "%.0f min %.0f s", floor(s / 60), fmod(s, 60));
	else if (s < 172800)
		snprintf(buf, size, "%.0f h %.0f min", floor(s / 3600), fmod(s, 3600) / 60);
	else
		snprintf(buf, size, "%.0f days", s / 86400);
}

static void clock_of(double t, char *buf, size_t size)
{
	time_t tt;
	struct tm tm;

	/* up to the year 33658: beyond, the conversion would be undefined */
	if (!(t > 0 && t < 1e12) || (tt = (time_t)t, !localtime_r(&tt, &tm))) {
		snprintf(buf, size, "?");
		return;
	}
	strftime(buf, size, "%Y-%m-%d %H:%M:%S", &tm);
}

static void bytes(double b, char *buf, size_t size)
{
	if (!(b >= 0))
		snprintf(buf, size, "-");
	else if (b >= 1073741824.0)
		snprintf(buf, size, "%.1f GiB", b / 1073741824.0);
	else if (b >= 1048576.0)
		snprintf(buf, size, "%.1f MiB", b / 1048576.0);
	else
		snprintf(buf, size, "%.0f KiB", b / 1024.0);
}

static void verdict_text(const struct jv *o, char *buf, size_t size)
{
	const char *kind = str(o, "kind", NULL);
	const struct jv *rec = get(o, "recycled");

	snprintf(buf, size, "%s%s%s%s", str(o, "verdict", "?"), kind ? " " : "",
		 kind ? kind : "", rec && rec->t == J_BOOL && rec->num ? " (recycled workers)" : "");
}

static void show_leaking(FILE *out, const struct jv *o, const char *indent, double now)
{
	const struct jv *l = get(o, "leaking");

	for (size_t i = 0; l && l->t == J_ARR && i < l->n; i++) {
		const struct jv *t = &l->items[i];
		double since = num(t, "since", 0);
		char a[64] = "", b[64];

		if (since > 0) {
			clock_of(since, b, sizeof b);
			ago(now - since, a, sizeof a);
			fprintf(out, "%sgrowing: %s %+.0f/h (p=%.2g), since %s (%s ago)\n", indent,
				str(t, "type", "?"), num(t, "per_hour", 0), num(t, "p", 1), b, a);
		} else {
			fprintf(out, "%sgrowing: %s %+.0f/h (p=%.2g)\n", indent,
				str(t, "type", "?"), num(t, "per_hour", 0), num(t, "p", 1));
		}
	}
}

static void show(FILE *out, const struct jv *doc, double now)
{
	const struct jv *d = get(doc, "daemon"), *ts = get(doc, "targets");
	double updated = num(doc, "updated", 0);
	char a[64], b[64], c[64];

	ago(now - updated, a, sizeof a);
	fprintf(out, "heapwatch daemon pid %.0f, status of %s ago; sampling every %gs, trend warmup %gs, bucket %gs, window %gs\n",
		num(d, "pid", 0), a, num(d, "interval_s", 0),
		num(get(d, "trend"), "warmup_s", 0), num(get(d, "trend"), "bucket_s", 0),
		num(get(d, "trend"), "window_s", 0));
	if (!ts || ts->t != J_ARR || ts->n == 0) {
		fprintf(out, "no targets\n");
		return;
	}
	for (size_t i = 0; i < ts->n; i++) {
		const struct jv *t = &ts->items[i], *ps = get(t, "processes");
		double since = num(t, "since", 0);

		verdict_text(t, a, sizeof a);
		bytes(num(t, "rss_bytes", -1), b, sizeof b);
		ago(now - since, c, sizeof c);
		fprintf(out, "\ntarget %s: %s for %s, %.0f processes, rss %s\n",
			str(t, "name", "?"), a, since > 0 ? c : "?", num(t, "nprocs", 0), b);
		fprintf(out, "  %s\n", str(t, "detail", ""));
		show_leaking(out, t, "  ", now);
		if (!ps || ps->t != J_ARR || ps->n == 0)
			continue;
		fprintf(out, "  %-8s %-5s %-10s %-10s %-22s %s\n", "PID", "SLOT", "AGE", "RSS",
			"VERDICT", "DETAIL");
		for (size_t k = 0; k < ps->n; k++) {
			const struct jv *p = &ps->items[k];

			verdict_text(p, a, sizeof a);
			bytes(num(p, "rss_bytes", -1), b, sizeof b);
			ago(num(p, "age_s", 0), c, sizeof c);
			fprintf(out, "  %-8.0f %-5s %-10s %-10s %-22s %s\n", num(p, "pid", 0),
				str(p, "slot", "-"), c, b, a, str(p, "detail", ""));
			show_leaking(out, p, "           ", now);
		}
	}
}

int hw_status_show(const char *path, int json, FILE *out, int64_t now_ms,
		   struct hw_err *e)
{
	char *buf;
	size_t len = 0;
	int fd, rc = -1;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT)
		return hw_err_set(e, HW_EIO, 0, "%s: %s; is the daemon running? (its status_file may be elsewhere: --config or --status-file)",
				  path, strerror(ENOENT));
	if (fd < 0)
		return hw_err_set(e, HW_EIO, errno, "%s", path);
	buf = malloc(STATUS_FILE_MAX + 1);
	if (!buf) {
		close(fd);
		return hw_err_set(e, HW_ENOMEM, ENOMEM, "%s", path);
	}
	while (len <= STATUS_FILE_MAX) {
		ssize_t r = read(fd, buf + len, STATUS_FILE_MAX + 1 - len);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			hw_err_set(e, HW_EIO, errno, "%s", path);
			goto out;
		}
		if (r == 0)
			break;
		len += (size_t)r;
	}
	rc = hw_status_show_buf(path, buf, len, json, out, now_ms, e);
out:
	free(buf);
	close(fd);
	return rc;
}

int hw_status_show_buf(const char *name, const char *buf, size_t len, int json,
		       FILE *out, int64_t now_ms, struct hw_err *e)
{
	struct jp p;
	struct jv doc;
	int rc = -1;
	double now = (double)now_ms / 1000.0, updated, flush, age, stale, v;
	pid_t dpid;
	char a[64], when[64];

	memset(&doc, 0, sizeof doc);
	if (len > STATUS_FILE_MAX)
		return hw_err_set(e, HW_EIO, 0, "%s: larger than %u bytes: not a status file",
				  name, STATUS_FILE_MAX);
	memset(&p, 0, sizeof p);
	p.s = p.p = buf;
	p.end = buf + len;
	if (parse_value(&p, &doc, 0) == 0) {
		ws(&p);
		if (p.p != p.end)
			fail(&p, "text after the document");
	}
	if (p.why[0]) {
		hw_err_set(e, HW_EIO, 0, "%s: not a heapwatch status file: byte %zu: %s", name,
			   (size_t)(p.p - buf), p.why);
		goto out;
	}
	if (doc.t != J_OBJ || num(&doc, "version", 0) != STATUS_VERSION ||
	    !get(&doc, "updated") || !get(&doc, "targets") ||
	    get(&doc, "targets")->t != J_ARR) {
		hw_err_set(e, HW_EIO, 0, "%s: not a heapwatch status file (version %d with updated and targets)",
			   name, STATUS_VERSION);
		goto out;
	}
	updated = num(&doc, "updated", 0);
	flush = num(get(&doc, "daemon"), "flush_interval_s", 10);
	age = now - updated;
	stale = 3 * flush > STALE_MIN_S ? 3 * flush : STALE_MIN_S;
	ago(age, a, sizeof a);
	clock_of(updated, when, sizeof when);
	v = num(get(&doc, "daemon"), "pid", 0);
	dpid = v >= 1 && v <= INT_MAX ? (pid_t)v : 0;
	if (dpid > 0 && kill(dpid, 0) < 0 && errno == ESRCH) {
		hw_err_set(e, HW_EIO, 0, "%s: written by daemon pid %d, which is not running; last updated %s ago (%s)",
			   name, (int)dpid, a, when);
		goto out;
	}
	if (age > stale) {
		hw_err_set(e, HW_EIO, 0, "%s is stale: last updated %s ago (%s); the daemon writes it every %gs",
			   name, a, when, flush);
		goto out;
	}
	if (json) {
		/* the file itself: parsed, so every byte is JSON text or valid
		 * UTF-8 without controls in a string; a carriage return can
		 * only be white space, and goes out as a space */
		for (size_t i = 0; i < len; i++)
			fputc(buf[i] == '\r' ? ' ' : buf[i], out);
		if (len == 0 || buf[len - 1] != '\n')
			fputc('\n', out);
	} else {
		jv_clean(&doc);
		show(out, &doc, now);
	}
	rc = 0;
out:
	jv_free(&doc);
	return rc;
}
