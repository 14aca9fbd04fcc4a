/* refs.h - who holds the objects of a type: the referrer graph of a
 * target's heap, built by a capture job (capture.h) from a private copy,
 * and the answers `heapwatch refs` and `heapwatch dump --leaking` print.
 *
 * One run of the job, over a struct hw_snap:
 *   1. walk every GC list (gcwalk.h): the nodes;
 *   2. ask the object model (objects.h) for every node's referents: the
 *      edges, and each node's status (exact, partial, opaque);
 *   3. find the roots (roots.h): modules in sys.modules, objects the
 *      interpreter holds, every thread's running frames' locals and
 *      per-thread state, static types' dicts, C modules' dict copies;
 *   4. answer: the instances of TYPE, who holds them (grouped the way
 *      guppy's byrcs does), the shortest chain from a root to a few of
 *      them, a back-reference graph for Graphviz; or the objects nothing
 *      known refers to (objgraph's get_leaking_objects), per type.
 * Everything the answer prints (names, edge labels) is read during the
 * run, so that the pages it needs are in the plan the pre-walk learns and
 * in the copy; the result owns its strings and outlives the snap.
 *
 * The run reads only through the snap and fails with HW_EMISS when the
 * copy lacks memory (the capture engine copies more and runs it again).
 * Every remote pointer is checked and every loop bounded; the graph's
 * memory is bounded by graph_limit (HW_ELIMIT past it).
 */
#ifndef HEAPWATCH_REFS_H
#define HEAPWATCH_REFS_H

#include <stddef.h>
#include <stdint.h>

#include "heapwatch/capture.h"
#include "heapwatch/err.h"
#include "heapwatch/gcwalk.h"
#include "heapwatch/layout.h"
#include "heapwatch/objects.h"
#include "heapwatch/refgraph.h"
#include "heapwatch/snap.h"

struct hw_refs_opts {
	const char *type;         /* TYPE to explain: a name as dump prints
				     it, or an unambiguous last component
				     ("Iq"); NULL: no query */
	unsigned samples;         /* instances to explain (default 3) */
	unsigned max_depth;       /* longest chain searched, in references
				     (default 20, as objgraph; 0: none) */
	int want_graph;           /* build the back-reference graph */
	unsigned graph_depth;     /* its depth (default 3, as show_backrefs) */
	unsigned graph_refs;      /* referrers drawn per node (default 10,
				     show_backrefs' too_many) */
	unsigned graph_nodes;     /* most nodes drawn (default 200) */
	unsigned holders;         /* summary rows kept (default 10) */
	int want_leaking;         /* count leaking objects per type */
	uint64_t graph_limit;     /* bytes for the graph (default 1 GiB) */
};
void hw_refs_opts_default(struct hw_refs_opts *o);

/* An object as printed. */
struct hw_refs_obj {
	uint64_t addr;
	const char *type;         /* full type name */
	const char *status;       /* "exact", "partial" or "opaque" */
	const char *root;         /* how it is held from outside the graph
				     (best root's label), or NULL */
	const char *root_kind;    /* hw_root_kind_name(), or NULL */
};

struct hw_refs_step {
	struct hw_refs_obj obj;
	const char *edge;         /* the reference from the previous step to
				     this object (hw_edge_label), NULL for
				     the root */
	int synthetic;            /* a reference gc.get_referents() does not
				     report (objects.h: 3.13+ managed dict) */
};

struct hw_refs_chain {
	struct hw_refs_obj target;
	const char *holder;       /* its summary row (struct hw_refs_holder) */
	int found;
	struct hw_refs_step *steps; /* the root first, the target last */
	size_t nsteps;
	const char *line;         /* the chain on one line, as a person reads
				     code: "sys.modules['m'] → .__dict__['d']
				     → Dispatcher._expected → dict['9'] →
				     m.Iq" */
	uint64_t visited;         /* objects the search reached */
	int depth_cut;            /* not found within max_depth */
	/* not found: reached objects that nothing known refers to and no root
	 * holds (what holds them is outside the graph), nearest first */
	struct hw_refs_obj *suspects;
	size_t nsuspects;
	uint64_t nsuspects_total;
};

/* guppy's byrcs: instances grouped by what holds them. */
struct hw_refs_holder {
	const char *what;         /* "dict of xmpp.dispatcher.Dispatcher
				     ['_expected']", "list", "(no known
				     referrer)" ... */
	uint64_t instances;
	uint64_t referrers;       /* distinct holders */
};

struct hw_refs_gnode {
	struct hw_refs_obj obj;
	unsigned depth;           /* references from a target */
	uint32_t hidden;          /* referrers not drawn */
	int target;
};
struct hw_refs_gedge {
	size_t from, to;          /* indexes into the graph's nodes */
	const char *label;
};

struct hw_refs_leak {
	const char *type;
	uint64_t count;
};

struct hw_refs_result {
	/* the graph */
	uint64_t objects;         /* GC objects (nodes) */
	uint64_t edges;           /* references between them */
	uint64_t status[3];       /* nodes by enum hw_refs_status */
	struct hw_refs_leak opaque_types[5]; /* most common opaque/partial
						types */
	size_t nopaque_types;
	uint64_t roots[HW_ROOT_NKINDS]; /* root records by kind */
	uint64_t graph_bytes;     /* peak memory of the graph's arrays */
	uint64_t walk_ns, edges_ns, roots_ns, query_ns; /* time of each step
				     of the last run */
	int partial;              /* built from a copy cut short: chains may
				     be missing or longer than they are */
	char notes[512];          /* what could not be read (roots skipped) */
	const char *instances_how; /* how instances of Python classes are
				     read (hw_objects_how): "symbol table",
				     or why they are opaque */

	/* TYPE */
	const char *type;         /* the full name TYPE matched, NULL if none */
	uint64_t instances;
	struct hw_refs_holder *holders;
	size_t nholders;
	uint64_t holders_other;   /* instances in rows not kept */
	struct hw_refs_chain *chains;
	size_t nchains;
	struct hw_refs_gnode *gnodes;
	size_t ngnodes;
	struct hw_refs_gedge *gedges;
	size_t ngedges;
	int graph_truncated;
	const char **similar;     /* TYPE not found: names that look alike */
	size_t nsimilar;

	/* leaking */
	struct hw_refs_leak *leaking;   /* per type, most first */
	size_t nleaking;
	uint64_t leaking_total;
	uint64_t leaking_known;   /* removed: held for a known reason (static
				     types' dicts, C modules' dict copies) */

	void *pool;               /* strings (internal) */
};
void hw_refs_result_init(struct hw_refs_result *r);
void hw_refs_result_fini(struct hw_refs_result *r);

struct hw_refs;

/* A job's state: opts are copied (type is copied too), objects borrowed
 * (must outlive the job).  interp_head_addr: the target's interp_head
 * symbol (2.7, 3.6: no _PyRuntime), 0 if none.  NULL on HW_ENOMEM. */
struct hw_refs *hw_refs_new(const struct hw_refs_opts *o,
			    struct hw_objects *objects,
			    uint64_t interp_head_addr, struct hw_err *e);
void hw_refs_free(struct hw_refs *r);

/* One run over s (see above); the result it fills (reset first) is
 * hw_refs_result(r).  deadline_ns, allow_misses: as struct hw_walk_opts;
 * *partial is set when the run stopped short.  Errors: HW_EMISS, HW_EBUSY
 * (a collection runs), HW_ECORRUPT, HW_ELIMIT (graph_limit), HW_ETIMEOUT
 * (deadline passed), HW_EUSAGE (TYPE is ambiguous: the message lists the
 * candidates). */
int hw_refs_run(struct hw_refs *r, struct hw_snap *s,
		const struct hw_offsets *off, const struct hw_gcroots *roots,
		uint64_t deadline_ns, int allow_misses, int *partial,
		struct hw_err *e);
struct hw_refs_result *hw_refs_result(struct hw_refs *r);

/* r as a capture job of kind "refs" (capture.h): each run calls
 * hw_refs_run over the snap the engine gives.  job borrows r. */
void hw_refs_job(struct hw_refs *r, struct hw_job *job);

#endif
