/* status.c - the status file and `heapwatch status`; see
 * include/heapwatch/status.h. */
#include "heapwatch/status.h"

#include <errno.h>
#include <fcntl.h>
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
#define STALE_MIN_S 30.0

/* ------------------------------------------------------------------ */
/* writing */

/* s as a JSON string: escaped, valid UTF-8 (U+FFFD for bad bytes). */
static void put_str(FILE *f, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	fputc('"', f);
	while (*p) {
		unsigned char c = *p;
		size_t len = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 ? 2 :
			     (c & 0xf0) == 0xe0 ? 3 : (c & 0xf8) == 0xf0 ? 4 : 0;
		size_t i;

		if (c == '"' || c == '\\') {
			fprintf(f, "\\%c", c);
			p++;
			continue;
		}
		if (c < 0x20 || c == 0x7f) {
			fprintf(f, "\\u%04x", c);
			p++;
			continue;
		}
		for (i = 1; len > 1 && i < len; i++)
			if ((p[i] & 0xc0) != 0x80)
				break;
		/* overlong two-byte forms and bare continuation bytes */
		if (len == 0 || i < len || (len == 2 && c < 0xc2)) {
			fputs("\xef\xbf\xbd", f);
			p++;
			continue;
		}
		fwrite(p, 1, len, f);
		p += len;
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
		if (c < 0x20) {
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
			/* enough for what the writer escapes (U+0000..U+07FF);
			 * others as U+FFFD */
			if (u < 0x80) {
				b[n++] = (char)u;
			} else if (u < 0x800) {
				b[n++] = (char)(0xc0 | (u >> 6));
				b[n++] = (char)(0x80 | (u & 0x3f));
			} else {
				memcpy(b + n, "\xef\xbf\xbd", 3);
				n += 3;
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

static int parse_value(struct jp *p, struct jv *v, int depth)
{
	char *end;

	if (depth > JSON_DEPTH_MAX)
		return fail(p, "nested too deep");
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
		/* the buffer is NUL-terminated: strtod stops there */
		v->num = strtod(p->p, &end);
		if (end == p->p)
			return fail(p, "unexpected character");
		v->t = J_NUM;
		p->p = end;
		return 0;
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
	time_t tt = (time_t)t;
	struct tm tm;

	if (!(t > 0) || !localtime_r(&tt, &tm)) {
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
	struct jp p;
	struct jv doc;
	char *buf = NULL;
	size_t len = 0;
	int fd, rc = -1;
	double now = (double)now_ms / 1000.0, updated, flush, age, stale;
	pid_t dpid;
	char a[64], when[64];

	memset(&doc, 0, sizeof doc);
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
	buf[len > STATUS_FILE_MAX ? STATUS_FILE_MAX : len] = '\0';
	if (len > STATUS_FILE_MAX) {
		hw_err_set(e, HW_EIO, 0, "%s: larger than %u bytes: not a status file", path,
			   STATUS_FILE_MAX);
		goto out;
	}
	memset(&p, 0, sizeof p);
	p.s = p.p = buf;
	p.end = buf + len;
	if (parse_value(&p, &doc, 0) == 0) {
		ws(&p);
		if (p.p != p.end)
			fail(&p, "text after the document");
	}
	if (p.why[0]) {
		hw_err_set(e, HW_EIO, 0, "%s: not a heapwatch status file: byte %zu: %s", path,
			   (size_t)(p.p - buf), p.why);
		goto out;
	}
	if (doc.t != J_OBJ || num(&doc, "version", 0) != STATUS_VERSION ||
	    !get(&doc, "updated") || !get(&doc, "targets") ||
	    get(&doc, "targets")->t != J_ARR) {
		hw_err_set(e, HW_EIO, 0, "%s: not a heapwatch status file (version %d with updated and targets)",
			   path, STATUS_VERSION);
		goto out;
	}
	updated = num(&doc, "updated", 0);
	flush = num(get(&doc, "daemon"), "flush_interval_s", 10);
	age = now - updated;
	stale = 3 * flush > STALE_MIN_S ? 3 * flush : STALE_MIN_S;
	ago(age, a, sizeof a);
	clock_of(updated, when, sizeof when);
	dpid = (pid_t)num(get(&doc, "daemon"), "pid", 0);
	if (dpid > 0 && kill(dpid, 0) < 0 && errno == ESRCH) {
		hw_err_set(e, HW_EIO, 0, "%s: written by daemon pid %d, which is not running; last updated %s ago (%s)",
			   path, (int)dpid, a, when);
		goto out;
	}
	if (age > stale) {
		hw_err_set(e, HW_EIO, 0, "%s is stale: last updated %s ago (%s); the daemon writes it every %gs",
			   path, a, when, flush);
		goto out;
	}
	if (json)
		fwrite(buf, 1, len, out);
	else
		show(out, &doc, now);
	rc = 0;
out:
	jv_free(&doc);
	free(buf);
	close(fd);
	return rc;
}
