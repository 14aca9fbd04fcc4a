/* chart.c - time-series charts as SVG; see include/heapwatch/chart.h. */
#include "heapwatch/chart.h"

#include <math.h>
#include <string.h>
#include <time.h>

#define W          ((double)HW_CHART_WIDTH)
#define ML         72.0     /* plot's left edge (y labels to its left) */
#define LEGEND_W   262.0    /* legend column on the right */
#define PW         (W - ML - LEGEND_W - 14.0)
#define TITLE_H    46.0
#define PANEL_HEAD 28.0     /* above each plot: its y axis title */
#define AXIS_H     40.0     /* below the last plot: time labels */
#define PAD        12.0
#define LEGEND_ROW 16.0
#define LEGEND_CHARS 38

/* ------------------------------------------------------------------ */
/* text */

/* Decode one UTF-8 character at s (n bytes available).  Returns its
 * length and sets *cp, or returns 1 with *cp = -1 for an invalid byte. */
static size_t utf8_next(const unsigned char *s, size_t n, long *cp)
{
	unsigned c = s[0];
	size_t len;
	long v, min;

	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if (c >= 0xc2 && c <= 0xdf)
		len = 2, v = c & 0x1f, min = 0x80;
	else if (c >= 0xe0 && c <= 0xef)
		len = 3, v = c & 0x0f, min = 0x800;
	else if (c >= 0xf0 && c <= 0xf4)
		len = 4, v = c & 0x07, min = 0x10000;
	else
		goto bad;
	if (len > n)
		goto bad;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			goto bad;
		v = (v << 6) | (s[i] & 0x3f);
	}
	if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
		goto bad;
	*cp = v;
	return len;
bad:
	*cp = -1;
	return 1;
}

/* Characters no document or terminal should get raw. */
static int unfit(long cp)
{
	return cp < 0 || cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp <= 0x9f) ||
	       cp == 0xfffe || cp == 0xffff;
}

void hw_xml_text(FILE *f, const char *s, size_t max_chars)
{
	const unsigned char *p = (const unsigned char *)(s ? s : "");
	size_t n = strlen((const char *)p), chars = 0;

	while (n > 0) {
		long cp;
		size_t len = utf8_next(p, n, &cp);

		if (max_chars && chars == max_chars) {
			fputs("\xe2\x80\xa6", f);   /* … */
			return;
		}
		if (unfit(cp))
			fputs("\xef\xbf\xbd", f);   /* U+FFFD */
		else if (cp == '&')
			fputs("&amp;", f);
		else if (cp == '<')
			fputs("&lt;", f);
		else if (cp == '>')
			fputs("&gt;", f);
		else if (cp == '"')
			fputs("&quot;", f);
		else if (cp == '\'')
			fputs("&#39;", f);
		else
			fwrite(p, 1, len, f);
		chars++;
		p += len;
		n -= len;
	}
}

size_t hw_term_text(char *out, size_t size, const char *s, size_t max_cols)
{
	const unsigned char *p = (const unsigned char *)(s ? s : "");
	size_t n = strlen((const char *)p), used = 0, cols = 0;

	if (size == 0)
		return 0;
	while (n > 0) {
		long cp;
		size_t len = utf8_next(p, n, &cp);
		size_t room = size - 1 - used;

		if (max_cols && cols + 1 == max_cols && n > len) {
			/* One column left and more to come: the ellipsis. */
			if (room >= 3) {
				memcpy(out + used, "\xe2\x80\xa6", 3);
				used += 3;
				cols++;
			}
			break;
		}
		if (unfit(cp)) {
			if (room < 1)
				break;
			out[used++] = '?';
		} else {
			if (room < len)
				break;
			memcpy(out + used, p, len);
			used += len;
		}
		cols++;
		p += len;
		n -= len;
	}
	out[used] = '\0';
	return cols;
}

/* "1,234,567" from a non-negative integer. */
static void group_digits(unsigned long long v, char *buf, size_t size)
{
	char tmp[32], out[48];
	int n = snprintf(tmp, sizeof tmp, "%llu", v), o = 0;

	for (int i = 0; i < n; i++) {
		if (i && (n - i) % 3 == 0)
			out[o++] = ',';
		out[o++] = tmp[i];
	}
	out[o] = '\0';
	snprintf(buf, size, "%s", out);
}

void hw_fmt_count(double v, int signed_, char *buf, size_t size)
{
	char digits[48];
	double a = fabs(v);

	if (isnan(v)) {
		snprintf(buf, size, "?");
		return;
	}
	group_digits(a >= 1e19 ? 10000000000000000000ull : (unsigned long long)llround(a),
		     digits, sizeof digits);
	snprintf(buf, size, "%s%s", v < 0 && llround(a) != 0 ? "-" : signed_ ? "+" : "",
		 digits);
}

void hw_fmt_bytes(double v, char *buf, size_t size)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	double a = fabs(v);
	const char *sign = v < 0 ? "-" : "";
	int u = 0;

	if (isnan(v)) {
		snprintf(buf, size, "?");
		return;
	}
	while (a >= 1024 && u < 4)
		a /= 1024, u++;
	if (u == 0)
		snprintf(buf, size, "%s%.0f B", sign, a);
	else
		snprintf(buf, size, "%s%.*f %s", sign, a < 10 ? 2 : a < 100 ? 1 : 0, a, units[u]);
}

/* ------------------------------------------------------------------ */
/* scales */

struct yscale {
	double lo, hi, step;     /* in display units */
	double div;              /* value / div = display unit */
	const char *unit;        /* "MiB", "objects" */
	int have;                /* any data */
};

static double nice_step(double raw)
{
	double mag, norm;

	if (!(raw > 0))
		return 1;
	mag = pow(10, floor(log10(raw)));
	norm = raw / mag;
	return (norm < 1.5 ? 1 : norm < 3 ? 2 : norm < 7 ? 5 : 10) * mag;
}

static void y_scale(const struct hw_chart_panel *p, struct yscale *s)
{
	double mn = INFINITY, mx = -INFINITY;

	for (size_t i = 0; i < p->nlines; i++) {
		const struct hw_chart_line *l = &p->lines[i];

		for (size_t k = 0; k < l->n; k++) {
			if (isfinite(l->y[k])) {
				mn = fmin(mn, l->y[k]);
				mx = fmax(mx, l->y[k]);
			}
			if (l->ylo && isfinite(l->ylo[k])) {
				mn = fmin(mn, l->ylo[k]);
				mx = fmax(mx, l->ylo[k]);
			}
		}
	}
	s->have = mn <= mx;
	if (!s->have)
		mn = 0, mx = 1;
	if (p->from_zero || mn < 0)
		mn = fmin(mn, 0);
	s->div = 1;
	s->unit = "objects";
	if (p->unit == HW_CHART_BYTES) {
		s->unit = "bytes";
		if (mx >= 1024.0 * 1024 * 1024 * 2)
			s->div = 1024.0 * 1024 * 1024, s->unit = "GiB";
		else if (mx >= 1024.0 * 1024 * 2)
			s->div = 1024.0 * 1024, s->unit = "MiB";
		else if (mx >= 1024.0 * 2)
			s->div = 1024.0, s->unit = "KiB";
	}
	mn /= s->div;
	mx /= s->div;
	if (mx - mn < 1e-9) {
		double pad = fabs(mx) > 0 ? fabs(mx) * 0.05 : 1;

		mn -= pad;
		mx += pad;
		if (p->from_zero || mn < 0)
			mn = fmax(mn, 0) == 0 && mx > 0 ? 0 : mn;
	}
	s->step = nice_step((mx - mn) / 4.5);
	s->lo = floor(mn / s->step) * s->step;
	s->hi = ceil(mx / s->step) * s->step;
	if (s->hi <= s->lo)
		s->hi = s->lo + s->step;
}

static void y_label(const struct yscale *s, const struct hw_chart_panel *p,
		    double v, char *buf, size_t size)
{
	int dec = s->step >= 1 ? 0 : (int)ceil(-log10(s->step) - 1e-9);

	if (dec > 6)
		dec = 6;
	if (p->unit == HW_CHART_COUNT) {
		/* One style for the whole axis, from its largest label. */
		double top = fmax(fabs(s->hi), fabs(s->lo));

		if (top >= 1e6 && s->step >= 1e5)
			snprintf(buf, size, "%.*fM", s->step >= 1e6 ? 0 : 1, v / 1e6);
		else if (top >= 1e4 && s->step >= 1e3)
			snprintf(buf, size, "%.0fk", v / 1e3);
		else if (top >= 1e4 && s->step >= 1e2)
			snprintf(buf, size, "%.1fk", v / 1e3);
		else
			hw_fmt_count(v, 0, buf, size);
		return;
	}
	snprintf(buf, size, "%.*f", dec, v);
}

/* Round steps for the time axis, in ms. */
static const double time_steps[] = {
	1e3, 2e3, 5e3, 10e3, 15e3, 30e3, 60e3, 120e3, 300e3, 600e3, 900e3,
	1800e3, 3600e3, 7200e3, 10800e3, 21600e3, 43200e3, 86400e3, 172800e3,
	604800e3,
};

static double local_offset_ms(double t_ms)
{
	time_t t = (time_t)(t_ms / 1000);
	struct tm tm;

	localtime_r(&t, &tm);
	return (double)tm.tm_gmtoff * 1000.0;
}

/* ------------------------------------------------------------------ */
/* drawing */

static double chart_t0(const struct hw_chart *c)
{
	return c->t1 > c->t0 ? c->t0 : c->t0 - 30e3;
}

static double chart_t1(const struct hw_chart *c)
{
	return c->t1 > c->t0 ? c->t1 : c->t0 + 30e3;
}

static double x_of(const struct hw_chart *c, double t)
{
	double t0 = chart_t0(c), t1 = chart_t1(c);
	double x = ML + (t - t0) / (t1 - t0) * PW;

	return x < ML ? ML : x > ML + PW ? ML + PW : x;
}

static double panel_h(const struct hw_chart_panel *p)
{
	return p->height > 0 ? p->height : 170;
}

double hw_chart_height(const struct hw_chart *c)
{
	double h = TITLE_H + AXIS_H + PAD;

	for (size_t i = 0; i < c->npanels; i++)
		h += PANEL_HEAD + panel_h(&c->panels[i]);
	return h;
}

static void poly(FILE *f, const struct hw_chart *c, const struct hw_chart_line *l,
		 const struct yscale *s, double top, double h)
{
	double lw = l->width > 0 ? l->width : 1.5;
	size_t npts = 0;

#define YPX(v) (top + h - ((v) / s->div - s->lo) / (s->hi - s->lo) * h)
	if (l->ylo) {
		/* The band: forward along y, back along ylo. */
		fprintf(f, "<polygon fill=\"%s\" fill-opacity=\"0.18\" stroke=\"none\" points=\"",
			l->color);
		for (size_t k = 0; k < l->n; k++)
			if (isfinite(l->y[k]) && isfinite(l->ylo[k]))
				fprintf(f, "%.1f,%.1f ", x_of(c, l->t[k]), YPX(l->y[k]));
		for (size_t k = l->n; k-- > 0;)
			if (isfinite(l->y[k]) && isfinite(l->ylo[k]))
				fprintf(f, "%.1f,%.1f ", x_of(c, l->t[k]), YPX(l->ylo[k]));
		fputs("\"/>\n", f);
	}
	for (size_t k = 0; k < l->n; k++)
		npts += isfinite(l->y[k]) != 0;
	if (npts == 1) {
		for (size_t k = 0; k < l->n; k++)
			if (isfinite(l->y[k]))
				fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"2.5\" fill=\"%s\"/>\n",
					x_of(c, l->t[k]), YPX(l->y[k]), l->color);
		return;
	}
	if (npts == 0)
		return;
	fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"%.1f\"%s"
		   " stroke-linejoin=\"round\" points=\"", l->color, lw,
		l->dashed ? " stroke-dasharray=\"7 4\"" : "");
	for (size_t k = 0; k < l->n; k++)
		if (isfinite(l->y[k]))
			fprintf(f, "%.1f,%.1f ", x_of(c, l->t[k]), YPX(l->y[k]));
	fputs("\"/>\n", f);
#undef YPX
}

static void panel(FILE *f, const struct hw_chart *c, const struct hw_chart_panel *p,
		  double top)
{
	double h = panel_h(p), lx = ML + PW + 16;
	struct yscale s;
	char buf[64];
	size_t shown = 0, rows = (size_t)(h / LEGEND_ROW);

	y_scale(p, &s);
	fprintf(f, "<text class=\"pt\" x=\"%.1f\" y=\"%.1f\">", ML, top - 7);
	hw_xml_text(f, p->title, 40);
	fprintf(f, " (%s)</text>\n", s.unit);
	/* Grid and y labels. */
	for (double v = s.lo; v <= s.hi + s.step / 2; v += s.step) {
		double y = top + h - (v - s.lo) / (s.hi - s.lo) * h;

		y_label(&s, p, fabs(v) < s.step / 1e6 ? 0 : v, buf, sizeof buf);
		fprintf(f, "<line class=\"gr\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>"
			   "<text class=\"yl\" x=\"%.1f\" y=\"%.1f\">%s</text>\n",
			ML, y, ML + PW, y, ML - 6, y + 4, buf);
	}
	fprintf(f, "<rect class=\"fr\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\"/>\n",
		ML, top, PW, h);
	if (!s.have)
		fprintf(f, "<text class=\"st\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">no data</text>\n",
			ML + PW / 2, top + h / 2);
	for (size_t i = 0; i < p->nlines; i++)
		poly(f, c, &p->lines[i], &s, top, h);
	/* Legend. */
	for (size_t i = 0; i < p->nlines; i++) {
		const struct hw_chart_line *l = &p->lines[i];
		double y = top + 10 + (double)shown * LEGEND_ROW;

		if (!l->label)
			continue;
		if (shown + 1 == rows && i + 1 < p->nlines) {
			fprintf(f, "<text class=\"lg\" x=\"%.1f\" y=\"%.1f\">+%zu more</text>\n",
				lx + 20, y + 4, p->nlines - i);
			break;
		}
		fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\""
			   " stroke-width=\"%s\"%s/>", lx, y, lx + 16, y, l->color,
			l->dashed ? "2" : "3", l->dashed ? " stroke-dasharray=\"5 3\"" : "");
		fprintf(f, "<text class=\"lg\" x=\"%.1f\" y=\"%.1f\">", lx + 20, y + 4);
		hw_xml_text(f, l->label, LEGEND_CHARS);
		fputs("</text>\n", f);
		shown++;
	}
}

static void time_axis(FILE *f, const struct hw_chart *c, double y)
{
	double t0 = chart_t0(c), t1 = chart_t1(c), step = time_steps[0];
	double off = local_offset_ms(t0);
	char label[32], day[32], prev_day[32] = "", zone[16];
	time_t tt = (time_t)(t0 / 1000);
	struct tm tm;

	for (size_t i = 0; i < sizeof time_steps / sizeof time_steps[0]; i++) {
		step = time_steps[i];
		if ((t1 - t0) / step <= 7)
			break;
	}
	localtime_r(&tt, &tm);
	strftime(zone, sizeof zone, "%Z", &tm);
	fprintf(f, "<line class=\"ax\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n",
		ML, y, ML + PW, y);
	for (double t = ceil((t0 + off) / step) * step - off; t <= t1; t += step) {
		double x = x_of(c, t);

		tt = (time_t)(t / 1000);
		localtime_r(&tt, &tm);
		strftime(label, sizeof label, step < 60e3 ? "%H:%M:%S" : step < 86400e3 ? "%H:%M" : "%b %d",
			 &tm);
		strftime(day, sizeof day, "%b %d", &tm);
		fprintf(f, "<line class=\"ax\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>"
			   "<text class=\"xl\" x=\"%.1f\" y=\"%.1f\">%s</text>\n",
			x, y, x, y + 5, x, y + 17, label);
		if (step < 86400e3 && strcmp(day, prev_day) != 0)
			fprintf(f, "<text class=\"xd\" x=\"%.1f\" y=\"%.1f\">%s</text>\n", x, y + 31, day);
		snprintf(prev_day, sizeof prev_day, "%s", day);
	}
	fprintf(f, "<text class=\"xt\" x=\"%.1f\" y=\"%.1f\">time (", ML + PW, y + 31);
	hw_xml_text(f, zone, 10);
	fputs(")</text>\n", f);
}

void hw_chart_svg(FILE *f, const struct hw_chart *c, double y)
{
	double top = y + TITLE_H, first_top = 0, bottom;

	fprintf(f, "<g class=\"chart\">\n<text class=\"t\" x=\"%.1f\" y=\"%.1f\">", 12.0, y + 19);
	hw_xml_text(f, c->title, 90);
	fputs("</text>\n", f);
	if (c->subtitle) {
		fprintf(f, "<text class=\"st\" x=\"%.1f\" y=\"%.1f\">", 12.0, y + 37);
		hw_xml_text(f, c->subtitle, 130);
		fputs("</text>\n", f);
	}
	if (c->badge) {
		double bw = (double)strlen(c->badge) * 8.0 + 16;

		fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"20\" rx=\"4\" fill=\"%s\"/>"
			   "<text class=\"bd\" x=\"%.1f\" y=\"%.1f\">", W - 14 - bw, y + 5, bw,
			c->badge_color ? c->badge_color : "#555", W - 14 - bw / 2, y + 19);
		hw_xml_text(f, c->badge, 24);
		fputs("</text>\n", f);
	}
	for (size_t i = 0; i < c->npanels; i++) {
		top += PANEL_HEAD;
		if (i == 0)
			first_top = top;
		panel(f, c, &c->panels[i], top);
		top += panel_h(&c->panels[i]);
	}
	bottom = top;
	for (size_t i = 0; i < c->nmarks; i++) {
		double x = x_of(c, c->marks[i].t);

		fprintf(f, "<line class=\"mk\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>",
			x, first_top, x, bottom);
		if (c->marks[i].label) {
			fprintf(f, "<text class=\"ml\" x=\"%.1f\" y=\"%.1f\">", x + 3, first_top + 11);
			hw_xml_text(f, c->marks[i].label, 24);
			fputs("</text>", f);
		}
		fputc('\n', f);
	}
	time_axis(f, c, bottom);
	fputs("</g>\n", f);
}

void hw_svg_begin(FILE *f, double height, const char *title, int standalone)
{
	if (standalone)
		fputs("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n", f);
	fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\""
		   " viewBox=\"0 0 %.0f %.0f\" role=\"img\">\n", W, height, W, height);
	fputs("<title>", f);
	hw_xml_text(f, title, 200);
	fputs("</title>\n", f);
	fputs("<style>\n"
	      "text{font-family:'DejaVu Sans',Verdana,Arial,sans-serif;font-size:11px;fill:#333}\n"
	      ".t{font-size:15px;font-weight:bold;fill:#111}\n"
	      ".st{font-size:12px;fill:#555}\n"
	      ".pt{font-size:12px;font-weight:bold;fill:#444}\n"
	      ".yl{text-anchor:end;fill:#666}\n"
	      ".xl{text-anchor:middle;fill:#666}\n"
	      ".xd{text-anchor:middle;fill:#888;font-size:10px}\n"
	      ".xt{text-anchor:end;fill:#888;font-size:10px}\n"
	      ".lg{fill:#333}\n"
	      ".bd{text-anchor:middle;fill:#fff;font-weight:bold;font-size:12px}\n"
	      ".ml{fill:#888;font-size:10px}\n"
	      ".gr{stroke:#e8e8e8;stroke-width:1}\n"
	      ".ax{stroke:#999;stroke-width:1}\n"
	      ".fr{fill:none;stroke:#ccc;stroke-width:1}\n"
	      ".mk{stroke:#aaa;stroke-width:1;stroke-dasharray:3 3}\n"
	      "</style>\n"
	      "<rect width=\"100%\" height=\"100%\" fill=\"#fff\"/>\n", f);
}

void hw_svg_end(FILE *f)
{
	fputs("</svg>\n", f);
}
