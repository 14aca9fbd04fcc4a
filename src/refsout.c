/* refsout.c - text, JSON and Graphviz for `refs` and `dump --leaking`;
 * see include/heapwatch/refsout.h. */
#include "heapwatch/refsout.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "heapwatch/output.h"

#define ARROW " \xe2\x86\x92 "

static void header(FILE *f, const struct hw_refs_meta *m,
		   const struct hw_refs_result *r)
{
	fprintf(f, "pid %d  python %s  objects %" PRIu64 "  references %" PRIu64
		"  pause %.3f ms  layout %s%s\n",
		(int)m->pid, m->python ? m->python : "?", r->objects, r->edges,
		(double)m->pause_ns / 1e6, m->layout_source ? m->layout_source : "?",
		m->partial || r->partial ?
		"  PARTIAL (pause budget reached: chains may be missing or longer)" : "");
}

static uint64_t unknown(const struct hw_refs_result *r)
{
	return r->status[HW_REFS_PARTIAL] + r->status[HW_REFS_OPAQUE];
}

/* "referents known for 97.8% of objects; 1790 of opaque types (...)". */
static void coverage(FILE *f, const struct hw_refs_result *r)
{
	double pct = r->objects ? 100.0 * (double)r->status[HW_REFS_EXACT] / (double)r->objects : 100.0;

	fprintf(f, "references known for %.1f%% of objects", pct);
	if (unknown(r)) {
		fprintf(f, "; %" PRIu64 " objects may hold references heapwatch cannot see (",
			unknown(r));
		for (size_t i = 0; i < r->nopaque_types; i++) {
			fputs(i ? ", " : "", f);
			hw_print_safe(f, r->opaque_types[i].type, 0);
			fprintf(f, " %" PRIu64, r->opaque_types[i].count);
		}
		fputs(unknown(r) > 0 && r->nopaque_types == 5 ? ", ...)" : ")", f);
	}
	fputc('\n', f);
	if (r->instances_how && strstr(r->instances_how, "opaque")) {
		fputs("instances of Python classes: ", f);
		hw_print_safe(f, r->instances_how, 0);
		fputs(" (a debug file or an unstripped build gives them)\n", f);
	}
	fprintf(f, "roots: %" PRIu64 " modules, %" PRIu64 " held by the interpreter, %" PRIu64
		" thread locals and state, %" PRIu64 " static types' dicts, %" PRIu64
		" held by C modules\n",
		r->roots[HW_ROOT_MODULE], r->roots[HW_ROOT_INTERP], r->roots[HW_ROOT_THREAD],
		r->roots[HW_ROOT_STATIC_TYPE], r->roots[HW_ROOT_C_HELD]);
	if (r->notes[0]) {
		fputs("not read: ", f);
		hw_print_safe(f, r->notes, 0);
		fputc('\n', f);
	}
}

static void obj(FILE *f, const struct hw_refs_obj *o)
{
	hw_print_safe(f, o->type, 0);
	fprintf(f, " at 0x%" PRIx64, o->addr);
	if (strcmp(o->status, "exact") != 0)
		fprintf(f, " [%s: its references are %s]", o->status,
			strcmp(o->status, "opaque") == 0 ? "unknown" : "partly unknown");
}

static void chain_text(FILE *f, const struct hw_refs_result *r,
		       const struct hw_refs_chain *c, size_t i)
{
	fprintf(f, "\nchain %zu of %zu: ", i + 1, r->nchains);
	obj(f, &c->target);
	fputs("\n  held by: ", f);
	hw_print_safe(f, c->holder ? c->holder : "?", 0);
	fputc('\n', f);
	if (c->found) {
		fputs("  ", f);
		hw_print_safe(f, c->line, 0);
		fputc('\n', f);
		for (size_t k = 0; k < c->nsteps; k++) {
			const struct hw_refs_step *s = &c->steps[k];

			fputs("    ", f);
			if (k == 0) {
				hw_print_safe(f, s->obj.root ? s->obj.root : "?", 0);
				fprintf(f, " (%s root): ", s->obj.root_kind ? s->obj.root_kind : "?");
			} else {
				hw_print_safe(f, s->edge ? s->edge : "?", 0);
				if (s->synthetic)
					fputs(" (only the managed __dict__ pointer holds it)", f);
				fputs(ARROW, f);
			}
			obj(f, &s->obj);
			fputc('\n', f);
		}
		return;
	}
	if (c->depth_cut)
		fprintf(f, "  no root within the references searched (--max-depth); "
			"%" PRIu64 " objects reached\n", c->visited);
	else if (!c->nsuspects)
		fprintf(f, "  no root reaches it: the %" PRIu64 " objects reached refer only to "
			"each other (a cycle: garbage that gc.collect() would free, unless an "
			"object heapwatch cannot see into holds one of them)\n", c->visited);
	else
		fprintf(f, "  no root reaches it (%" PRIu64 " objects reached)\n", c->visited);
	if (c->nsuspects) {
		fprintf(f, "  held from outside the graph (C code, an object of an opaque type, "
			"a non-GC holder), nearest first%s:\n",
			c->nsuspects_total > c->nsuspects ? " (first ones)" : "");
		for (size_t k = 0; k < c->nsuspects; k++) {
			fputs("    ", f);
			obj(f, &c->suspects[k]);
			if (c->suspects[k].addr == c->target.addr)
				fputs(" (itself)", f);
			fputc('\n', f);
		}
		if (c->nsuspects_total > c->nsuspects)
			fprintf(f, "    ... %" PRIu64 " in all\n", c->nsuspects_total);
	}
	if (unknown(r))
		fprintf(f, "  %" PRIu64 " objects of opaque types may hold it\n", unknown(r));
}

void hw_refs_print_text(FILE *f, const struct hw_refs_meta *m,
			const struct hw_refs_result *r)
{
	header(f, m, r);
	coverage(f, r);
	if (!r->type) {
		fputs("\nno GC-tracked object of type '", f);
		hw_print_safe(f, m->asked ? m->asked : "?", 0);
		fputc('\'', f);
		if (r->nsimilar) {
			fputs(" (similar:", f);
			for (size_t i = 0; i < r->nsimilar; i++) {
				fputs(i ? ", " : " ", f);
				hw_print_safe(f, r->similar[i], 0);
			}
			fputc(')', f);
		}
		fputc('\n', f);
		return;
	}
	fprintf(f, "\n%" PRIu64 " ", r->instances);
	hw_print_safe(f, r->type, 0);
	fputs(", held by:\n", f);
	for (size_t i = 0; i < r->nholders; i++) {
		fprintf(f, "  %8" PRIu64 " held by ", r->holders[i].instances);
		hw_print_safe(f, r->holders[i].what, 0);
		if (r->holders[i].referrers > 1)
			fprintf(f, "  (%" PRIu64 " holders)", r->holders[i].referrers);
		fputc('\n', f);
	}
	if (r->holders_other)
		fprintf(f, "  %8" PRIu64 " held otherwise\n", r->holders_other);
	for (size_t i = 0; i < r->nchains; i++)
		chain_text(f, r, &r->chains[i], i);
}

/* ------------------------------------------------------------------ */
/* JSON */

static void jstr(FILE *f, const char *key, const char *v, int comma)
{
	fprintf(f, "\"%s\":", key);
	if (v)
		hw_json_string(f, v);
	else
		fputs("null", f);
	if (comma)
		fputc(',', f);
}

static void jobj(FILE *f, const struct hw_refs_obj *o)
{
	fprintf(f, "{\"address\":%" PRIu64 ",", o->addr);
	jstr(f, "type", o->type, 1);
	jstr(f, "status", o->status, 1);
	jstr(f, "root", o->root, 1);
	jstr(f, "root_kind", o->root_kind, 0);
	fputc('}', f);
}

static void jmeta(FILE *f, const struct hw_refs_meta *m, const struct hw_refs_result *r)
{
	fprintf(f, "\"pid\":%d,", (int)m->pid);
	jstr(f, "python", m->python, 1);
	jstr(f, "layout_source", m->layout_source, 1);
	jstr(f, "mode", m->mode, 1);
	if (m->plan)
		jstr(f, "plan", m->plan, 1);
	fprintf(f, "\"pause_us\":%" PRIu64 ",\"max_pause_us\":%" PRIu64
		",\"stops\":%u,\"attempts\":%u,\"copied_bytes\":%" PRIu64
		",\"job_us\":%" PRIu64 ",\"partial\":%s,",
		m->pause_ns / 1000, m->max_pause_ns / 1000, m->stops, m->attempts,
		m->copied_bytes, m->job_ns / 1000, m->partial || r->partial ? "true" : "false");
	fprintf(f, "\"graph\":{\"objects\":%" PRIu64 ",\"references\":%" PRIu64
		",\"exact\":%" PRIu64 ",\"partial\":%" PRIu64 ",\"opaque\":%" PRIu64
		",\"memory_bytes\":%" PRIu64 ",\"walk_us\":%" PRIu64 ",\"references_us\":%" PRIu64
		",\"roots_us\":%" PRIu64 ",\"query_us\":%" PRIu64 ",\"opaque_types\":[",
		r->objects, r->edges, r->status[0], r->status[1], r->status[2], r->graph_bytes,
		r->walk_ns / 1000, r->edges_ns / 1000, r->roots_ns / 1000, r->query_ns / 1000);
	for (size_t i = 0; i < r->nopaque_types; i++) {
		fputs(i ? ",{" : "{", f);
		jstr(f, "type", r->opaque_types[i].type, 1);
		fprintf(f, "\"count\":%" PRIu64 "}", r->opaque_types[i].count);
	}
	fputs("],\"roots\":{", f);
	for (int k = 0; k < HW_ROOT_NKINDS; k++)
		fprintf(f, "%s\"%s\":%" PRIu64, k ? "," : "", hw_root_kind_name((enum hw_root_kind)k),
			r->roots[k]);
	fputs("},", f);
	jstr(f, "instances", r->instances_how, 1);
	jstr(f, "notes", r->notes[0] ? r->notes : NULL, 0);
	fputs("},", f);
}

void hw_refs_print_json(FILE *f, const struct hw_refs_meta *m,
			const struct hw_refs_result *r)
{
	fputc('{', f);
	jmeta(f, m, r);
	jstr(f, "asked", m->asked, 1);
	jstr(f, "type", r->type, 1);
	fprintf(f, "\"instances\":%" PRIu64 ",\"similar\":[", r->instances);
	for (size_t i = 0; i < r->nsimilar; i++) {
		fputs(i ? "," : "", f);
		hw_json_string(f, r->similar[i]);
	}
	fputs("],\"holders\":[", f);
	for (size_t i = 0; i < r->nholders; i++) {
		fputs(i ? ",{" : "{", f);
		jstr(f, "held_by", r->holders[i].what, 1);
		fprintf(f, "\"instances\":%" PRIu64 ",\"referrers\":%" PRIu64 "}",
			r->holders[i].instances, r->holders[i].referrers);
	}
	fprintf(f, "],\"holders_other\":%" PRIu64 ",\"chains\":[", r->holders_other);
	for (size_t i = 0; i < r->nchains; i++) {
		const struct hw_refs_chain *c = &r->chains[i];

		fputs(i ? ",{" : "{", f);
		fputs("\"target\":", f);
		jobj(f, &c->target);
		fputc(',', f);
		jstr(f, "held_by", c->holder, 1);
		fprintf(f, "\"found\":%s,", c->found ? "true" : "false");
		jstr(f, "line", c->line, 1);
		fputs("\"steps\":[", f);
		for (size_t k = 0; k < c->nsteps; k++) {
			fputs(k ? ",{" : "{", f);
			jstr(f, "edge", c->steps[k].edge, 1);
			fprintf(f, "\"synthetic\":%s,", c->steps[k].synthetic ? "true" : "false");
			fputs("\"object\":", f);
			jobj(f, &c->steps[k].obj);
			fputc('}', f);
		}
		fprintf(f, "],\"searched\":%" PRIu64 ",\"depth_cut\":%s,\"suspects\":[",
			c->visited, c->depth_cut ? "true" : "false");
		for (size_t k = 0; k < c->nsuspects; k++) {
			fputs(k ? "," : "", f);
			jobj(f, &c->suspects[k]);
		}
		fprintf(f, "],\"suspects_total\":%" PRIu64 "}", c->nsuspects_total);
	}
	fputs("]}\n", f);
}

/* ------------------------------------------------------------------ */
/* Graphviz */

/* A string inside a dot "..." label: quotes and backslashes escaped,
 * control characters and invalid UTF-8 as '?', cut at max bytes. */
static void dot_str(FILE *f, const char *s, size_t max)
{
	size_t n = 0;

	for (const unsigned char *p = (const unsigned char *)s; *p && n < max; p++, n++) {
		if (*p == '"' || *p == '\\')
			fputc('\\', f);
		if (*p < 0x20 || *p == 0x7f)
			fputc('?', f);
		else
			fputc(*p, f);
	}
	if (n == max && s[n])
		fputs("...", f);
}

int hw_refs_print_dot(FILE *f, const struct hw_refs_meta *m,
		      const struct hw_refs_result *r)
{
	fputs("digraph ObjectGraph {\n"
	      "  // heapwatch refs: back-references of the sampled instances\n", f);
	fprintf(f, "  // pid %d, python %s; %s\n", (int)m->pid, m->python ? m->python : "?",
		r->graph_truncated ? "node limit reached: graph cut" : "complete to the depth asked");
	fputs("  node[shape=box, style=filled, fillcolor=white, fontname=\"Helvetica\"];\n"
	      "  edge[fontname=\"Helvetica\", fontsize=10];\n", f);
	for (size_t i = 0; i < r->ngnodes; i++) {
		const struct hw_refs_gnode *g = &r->gnodes[i];
		const char *fill = g->target ? "#ff9999" : g->obj.root ? "#99ff99" :
			strcmp(g->obj.status, "exact") ? "gray85" : "white";

		fprintf(f, "  o%zu [label=\"", i);
		dot_str(f, g->obj.type, 120);
		fprintf(f, "\\n0x%" PRIx64, g->obj.addr);
		if (g->obj.root) {
			fputs("\\n", f);
			dot_str(f, g->obj.root, 120);
		}
		if (strcmp(g->obj.status, "exact"))
			fprintf(f, "\\n(%s: references unknown)", g->obj.status);
		if (g->hidden)
			fprintf(f, "\\n(+%u referrers not drawn)", g->hidden);
		fprintf(f, "\", fillcolor=\"%s\"%s];\n", fill,
			strcmp(g->obj.status, "exact") ? ", style=\"filled,dashed\"" : "");
	}
	for (size_t i = 0; i < r->ngedges; i++) {
		fprintf(f, "  o%zu -> o%zu [label=\"", r->gedges[i].from, r->gedges[i].to);
		dot_str(f, r->gedges[i].label ? r->gedges[i].label : "", 80);
		fputs("\"];\n", f);
	}
	fputs("}\n", f);
	return ferror(f) ? -1 : 0;
}

/* ------------------------------------------------------------------ */
/* leaking */

void hw_leaking_print_text(FILE *f, const struct hw_refs_meta *m,
			   const struct hw_refs_result *r, size_t top)
{
	size_t n = top && top < r->nleaking ? top : r->nleaking;
	int w = 4;

	header(f, m, r);
	coverage(f, r);
	fprintf(f, "\n%" PRIu64 " objects have no known referrer (objgraph's get_leaking_objects)",
		r->leaking_total);
	if (r->leaking_known)
		fprintf(f, "; %" PRIu64 " more are held for a known reason (static types' dicts,"
			" C modules' dict copies) and not counted", r->leaking_known);
	fputs("\n", f);
	if (unknown(r))
		fprintf(f, "(an upper bound: %" PRIu64 " objects of opaque types may refer to some)\n",
			unknown(r));
	for (size_t i = 0; i < n; i++) {
		int l = (int)strlen(r->leaking[i].type);

		w = l > w ? (l > 60 ? 60 : l) : w;
	}
	fprintf(f, "%-*s  %10s\n", w, "type", "count");
	for (size_t i = 0; i < n; i++) {
		hw_print_safe(f, r->leaking[i].type, w);
		fprintf(f, "  %10" PRIu64 "\n", r->leaking[i].count);
	}
	if (n < r->nleaking)
		fprintf(f, "(%zu more types)\n", r->nleaking - n);
}

void hw_leaking_print_json(FILE *f, const struct hw_refs_meta *m,
			   const struct hw_refs_result *r, size_t top)
{
	size_t n = top && top < r->nleaking ? top : r->nleaking;

	fputc('{', f);
	jmeta(f, m, r);
	fprintf(f, "\"leaking\":%" PRIu64 ",\"leaking_known\":%" PRIu64 ",\"types\":[",
		r->leaking_total, r->leaking_known);
	for (size_t i = 0; i < n; i++) {
		fputs(i ? ",{" : "{", f);
		jstr(f, "name", r->leaking[i].type, 1);
		fprintf(f, "\"count\":%" PRIu64 "}", r->leaking[i].count);
	}
	fputs("]}\n", f);
}
