/* chart.h - time-series charts as SVG, and the text helpers reports need.
 *
 * Written by hand rather than with a library: what `heapwatch report`
 * draws is a few polylines, a band, axes and a legend, and the candidates
 * Debian has (cairo's SVG surface, libplot) would pull in a font and
 * rendering stack to emit text we control better ourselves (plain <text>
 * that stays searchable and scales with the page).
 *
 * A chart is one or more panels stacked on one time axis: each panel has
 * its own y axis (bytes shown in KiB/MiB/GiB, or object counts), grid
 * lines at round values, and a legend on its right; the x axis at the
 * bottom shows local time at round steps (seconds to days, the date where
 * it changes) and names the time zone.  Text from the target (type names)
 * goes through hw_xml_text(): escaped, invalid UTF-8 and control bytes
 * replaced, length capped, so no input can break the document.
 * Nothing here allocates or logs; output errors stay in the FILE.
 */
#ifndef HEAPWATCH_CHART_H
#define HEAPWATCH_CHART_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Chart width in px (height follows from the panels). */
#define HW_CHART_WIDTH 960

struct hw_chart_line {
	const char *label;        /* legend text (any bytes; escaped) */
	const double *t;          /* ms since the epoch, increasing */
	const double *y;          /* values; NAN: no value at t[i] */
	const double *ylo;        /* optional: a band from ylo to y */
	size_t n;
	const char *color;        /* "#rrggbb" */
	int dashed;
	double width;             /* stroke px; 0: 1.5 */
};

enum hw_chart_unit {
	HW_CHART_BYTES,
	HW_CHART_COUNT,
};

struct hw_chart_panel {
	const char *title;        /* y axis title, "RSS" */
	enum hw_chart_unit unit;
	const struct hw_chart_line *lines;
	size_t nlines;
	double height;            /* plot area px; 0: 170 */
	int from_zero;            /* y axis starts at 0 */
};

/* A vertical marker across the panels: "pid 4243" where a worker slot
 * changed hands. */
struct hw_chart_mark {
	double t;
	const char *label;
};

struct hw_chart {
	const char *title;        /* first line, bold (escaped) */
	const char *subtitle;     /* second line, or NULL (escaped) */
	const char *badge;        /* short word drawn in a box, or NULL */
	const char *badge_color;  /* its colour */
	double t0, t1;            /* the time axis, ms since the epoch */
	const struct hw_chart_panel *panels;
	size_t npanels;
	const struct hw_chart_mark *marks;
	size_t nmarks;
};

/* Height in px of c as hw_chart_svg() draws it. */
double hw_chart_height(const struct hw_chart *c);

/* Draw c as a <g> whose top is at y px of the enclosing <svg>. */
void hw_chart_svg(FILE *f, const struct hw_chart *c, double y);

/* "<svg ...>" for a document of the given height (HW_CHART_WIDTH wide),
 * with the style the charts use; standalone adds the XML declaration and
 * namespace declarations of a .svg file.  title (escaped) becomes the
 * <title>.  Close with hw_svg_end(). */
void hw_svg_begin(FILE *f, double height, const char *title, int standalone);
void hw_svg_end(FILE *f);

/* Write s as XML text (fit for element content and quoted attributes):
 * & < > " ' escaped; bytes that are not valid UTF-8, C0 and C1 controls
 * and DEL become U+FFFD; at most max_chars characters, then "…"
 * (max_chars 0: no limit). */
void hw_xml_text(FILE *f, const char *s, size_t max_chars);

/* s for a terminal, into out (size bytes, always NUL-terminated when
 * size > 0): controls (escape sequences included) and invalid UTF-8
 * become '?'; at most max_cols characters, the last of a cut one "…".
 * Returns the characters written (columns, counting each as one). */
size_t hw_term_text(char *out, size_t size, const char *s, size_t max_cols);

/* "182.4 MiB", "950 KiB", "1.50 GiB"; negative values get a sign (a
 * change).  "?" for NAN. */
void hw_fmt_bytes(double v, char *buf, size_t size);
/* "31,000", "1,234,567"; with sign when signed_ (a change).  Rounds. */
void hw_fmt_count(double v, int signed_, char *buf, size_t size);

#endif
