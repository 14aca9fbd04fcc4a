/* refsout.h - printing what `heapwatch refs` and `dump --leaking` found:
 * text for people, one JSON document for programs, Graphviz for a
 * drawing (the shape of objgraph's show_backrefs). */
#ifndef HEAPWATCH_REFSOUT_H
#define HEAPWATCH_REFSOUT_H

#include <stdio.h>
#include <stdint.h>
#include <sys/types.h>

#include "heapwatch/refs.h"

/* What was measured around the job, for the header line and JSON. */
struct hw_refs_meta {
	pid_t pid;
	const char *python;          /* "3.11.7" */
	const char *layout_source;   /* "dwarf" ... */
	const char *mode;            /* "snapshot", "stopped" */
	const char *plan;            /* how the copy was planned: "resident",
					"pre-walk" (static); NULL: no copy */
	uint64_t pause_ns, max_pause_ns, copied_bytes, job_ns;
	unsigned stops, attempts;
	int partial;
	const char *asked;           /* TYPE as the user wrote it */
};

/* `heapwatch refs`: header, who holds the instances, each sample's chain
 * (or why none was found), the graph's coverage. */
void hw_refs_print_text(FILE *f, const struct hw_refs_meta *m,
			const struct hw_refs_result *r);
void hw_refs_print_json(FILE *f, const struct hw_refs_meta *m,
			const struct hw_refs_result *r);

/* The back-reference graph in Graphviz's dot language.  Returns 0, or -1
 * when writing failed (errno set). */
int hw_refs_print_dot(FILE *f, const struct hw_refs_meta *m,
		      const struct hw_refs_result *r);

/* `heapwatch dump --leaking`: objects with no known referrer, per type.
 * top: rows (0 = all). */
void hw_leaking_print_text(FILE *f, const struct hw_refs_meta *m,
			   const struct hw_refs_result *r, size_t top);
void hw_leaking_print_json(FILE *f, const struct hw_refs_meta *m,
			   const struct hw_refs_result *r, size_t top);

#endif
