/* refgraph.h - the referrer graph of a heap, in memory: who holds each
 * GC object, and the shortest chain of references to it from a root.
 *
 * A pure data structure: it reads no remote memory and knows no CPython
 * layout, so it is tested on synthetic graphs.  Its user (refs.c) walks
 * the GC lists of a private copy, asks the object model (objects.h) for
 * each object's referents and feeds them here.
 *
 * Shape, for 1M+ objects (notes: cpython-referents.md section 10):
 *  - nodes are the GC objects, numbered by address order (node id = rank
 *    of the address; ids are uint32_t);
 *  - an address is resolved to its node through a page index: one record
 *    per 4 KiB page holding nodes (base rank + a bitmap of 8-byte
 *    granules), found by a small hash on the page number, then a popcount;
 *  - referrers are a reverse CSR: the referrers of node v are
 *    src[off[v] .. off[v+1]), one entry per reference (a list holding an
 *    object twice is listed twice).  Edge labels are never stored: the
 *    user recomputes them for the few edges it prints;
 *  - a root is a node held from outside the graph (a module in
 *    sys.modules, an interpreter dict, a thread's frame local, a static
 *    type's dict ...); each root record says which kind and carries a
 *    label ("sys.modules['xmpp.dispatcher']").
 *
 * Building goes in this order: add_node (any order) -> index ->
 * add_edges (by ascending source node) and set_status -> finish.  Roots
 * may be added any time after index.  Queries (chain, backrefs, leaking)
 * need finish.  Every array the graph holds counts against the byte
 * budget given at creation: past it a call fails with HW_ELIMIT, naming
 * what needed the memory.
 *
 * Not thread-safe; queries share scratch arrays inside the graph.
 */
#ifndef HEAPWATCH_REFGRAPH_H
#define HEAPWATCH_REFGRAPH_H

#include <stddef.h>
#include <stdint.h>

#include "heapwatch/err.h"

#define HW_RG_NONE UINT32_MAX          /* "no node" */
#define HW_RG_MAX_NODES 0x7fffffffu
#define HW_RG_MAX_EDGES 0xfffffffeu
#define HW_RG_LABEL_MAX 256            /* root labels, bytes incl. NUL */

struct hw_refgraph;

/* Per-node flags (hw_refgraph_add_node's flags, hw_refgraph_flags). */
enum {
	HW_RGF_STATUS_MASK = 3,    /* enum hw_refs_status (objects.h): set by
				      hw_refgraph_set_status */
	HW_RGF_ROOT = 4,           /* has at least one root record */
	HW_RGF_PERMANENT = 8,      /* in the permanent generation (gc.freeze) */
	HW_RGF_SEEN = 16,          /* its referents were added (add_edges) */
};

/* Kinds of roots, best first: when several roots are equally near, a
 * chain ends at the best kind. */
enum hw_root_kind {
	HW_ROOT_MODULE = 0,     /* a module in sys.modules */
	HW_ROOT_INTERP,         /* held by the interpreter: sys.modules
				   itself, sys.__dict__, builtins ... */
	HW_ROOT_THREAD,         /* a running frame's local, or per-thread
				   state (thread dict, exception) */
	HW_ROOT_STATIC_TYPE,    /* the dict of a static (C) type */
	HW_ROOT_C_HELD,         /* held by C for a known reason: a C
				   extension module's dict copy (m_copy) */
	HW_ROOT_NKINDS
};
/* "module", "interpreter", "thread", "static type", "C"; never NULL. */
const char *hw_root_kind_name(enum hw_root_kind k);

struct hw_root {
	uint32_t node;
	enum hw_root_kind kind;
	const char *label;         /* into the graph's pool, valid until
				      clear or free */
};

/* New, empty graph whose arrays may use at most max_bytes (0: no limit). */
struct hw_refgraph *hw_refgraph_new(uint64_t max_bytes, struct hw_err *e);
void hw_refgraph_free(struct hw_refgraph *g);
/* Drop nodes, edges and roots (keeping the storage): to build again,
 * e.g. after a retry on a wider copy. */
void hw_refgraph_clear(struct hw_refgraph *g);

/* ---- building ---- */

/* A GC object at addr (non-zero, 8-byte aligned) of type type_addr.
 * flags: HW_RGF_PERMANENT or 0.  HW_ECORRUPT for an impossible address,
 * HW_ELIMIT past the budget or HW_RG_MAX_NODES. */
int hw_refgraph_add_node(struct hw_refgraph *g, uint64_t addr,
			 uint64_t type_addr, unsigned flags, struct hw_err *e);

/* Sort the nodes and build the address index.  HW_ECORRUPT when an
 * address was added twice (an object on two GC lists). */
int hw_refgraph_index(struct hw_refgraph *g, struct hw_err *e);

/* The referents of node `from`: each address that is a node becomes an
 * edge from -> node, the others (non-GC objects) are dropped.  Calls must
 * come by ascending `from`, each node at most once (nodes never given get
 * no referents).  Returns the number of edges added, or -1 (HW_ELIMIT). */
long hw_refgraph_add_edges(struct hw_refgraph *g, uint32_t from,
			   const uint64_t *to_addrs, size_t n,
			   struct hw_err *e);
/* How completely the referents of n are known (enum hw_refs_status). */
void hw_refgraph_set_status(struct hw_refgraph *g, uint32_t n,
			    unsigned status);

/* Build the referrer index; add_edges can no longer be called. */
int hw_refgraph_finish(struct hw_refgraph *g, struct hw_err *e);

/* Record that node n is held from outside the graph.  label (copied, cut
 * to HW_RG_LABEL_MAX - 1 bytes) says how: "sys.modules['os']".  A node
 * may have several roots.  HW_ELIMIT past the budget. */
int hw_refgraph_add_root(struct hw_refgraph *g, uint32_t n,
			 enum hw_root_kind kind, const char *label,
			 struct hw_err *e);

/* ---- reading ---- */

uint32_t hw_refgraph_nnodes(const struct hw_refgraph *g);
uint64_t hw_refgraph_nedges(const struct hw_refgraph *g);
/* Node of the object at addr, or HW_RG_NONE (after index). */
uint32_t hw_refgraph_find(const struct hw_refgraph *g, uint64_t addr);
uint64_t hw_refgraph_addr(const struct hw_refgraph *g, uint32_t n);
uint64_t hw_refgraph_type(const struct hw_refgraph *g, uint32_t n);
/* Types: distinct type addresses, numbered 0 .. ntypes-1 in the order
 * first seen; type_id(n) is node n's. */
uint32_t hw_refgraph_ntypes(const struct hw_refgraph *g);
uint64_t hw_refgraph_type_addr(const struct hw_refgraph *g, uint32_t type_id);
uint32_t hw_refgraph_type_id(const struct hw_refgraph *g, uint32_t n);
unsigned hw_refgraph_flags(const struct hw_refgraph *g, uint32_t n);

/* Referrers of n (after finish): *out points into the graph (valid until
 * clear or free), one entry per reference, in ascending node order. */
size_t hw_refgraph_referrers(const struct hw_refgraph *g, uint32_t n,
			     const uint32_t **out);

/* Root records of n (none: returns 0), best kind first. */
size_t hw_refgraph_roots_of(struct hw_refgraph *g, uint32_t n,
			    const struct hw_root **out);
/* All root records, by node then kind (valid until the next add_root). */
size_t hw_refgraph_nroots(const struct hw_refgraph *g);
const struct hw_root *hw_refgraph_root(struct hw_refgraph *g, size_t i);

/* Bytes the graph's arrays use now, and the most they used. */
uint64_t hw_refgraph_bytes(const struct hw_refgraph *g);
uint64_t hw_refgraph_peak_bytes(const struct hw_refgraph *g);

/* ---- queries ---- */

#define HW_RG_SUSPECTS 8

struct hw_rg_chain {
	int found;                 /* 1: path holds root .. target */
	uint32_t *path;            /* path[0] the root, path[len-1] the
				      target; owned, free with
				      hw_rg_chain_fini */
	size_t len;
	const struct hw_root *root; /* the root record path[0] is held by */
	uint64_t visited;          /* nodes the search reached */
	int depth_cut;             /* nodes at max_depth still had referrers */
	int visit_cut;             /* stopped at max_visits */
	/* When not found: nodes the search reached that have no known
	 * referrer and are no root (nearest first): what holds them is
	 * outside the graph (C code, an opaque object, a non-GC holder). */
	uint32_t suspects[HW_RG_SUSPECTS];
	size_t nsuspects;
	uint64_t nsuspects_total;
};
void hw_rg_chain_init(struct hw_rg_chain *c);
void hw_rg_chain_fini(struct hw_rg_chain *c);

/* Shortest chain of references from a root to node target: a backward
 * breadth-first search over referrers, at most max_depth references long
 * (0: no limit) and visiting at most max_visits nodes (0: no limit).
 * Among the roots nearest to target, the best kind wins, then the lowest
 * node.  A target that is itself a root gives a chain of length 1.
 * Returns 0 (c->found says whether a root was reached), -1 on HW_ELIMIT
 * (scratch arrays past the budget). */
int hw_refgraph_chain(struct hw_refgraph *g, uint32_t target,
		      unsigned max_depth, uint64_t max_visits,
		      struct hw_rg_chain *c, struct hw_err *e);

/* A back-reference subgraph, the shape of objgraph's show_backrefs: the
 * targets, their referrers, theirs, ... up to max_depth references away,
 * at most max_refs referrers per node (the rest counted in `hidden`),
 * at most max_nodes nodes; roots are not expanded further. */
struct hw_rg_sub {
	uint32_t *nodes;           /* targets first */
	unsigned *depth;           /* per node: references from a target */
	uint32_t *hidden;          /* per node: referrers not drawn */
	size_t nnodes;
	struct hw_rg_subedge { uint32_t from, to; } *edges; /* distinct */
	size_t nedges;
	int truncated;             /* max_nodes was reached */
};
void hw_rg_sub_init(struct hw_rg_sub *s);
void hw_rg_sub_fini(struct hw_rg_sub *s);
int hw_refgraph_backrefs(struct hw_refgraph *g, const uint32_t *targets,
			 size_t ntargets, unsigned max_depth,
			 unsigned max_refs, size_t max_nodes,
			 struct hw_rg_sub *s, struct hw_err *e);

/* objgraph's get_leaking_objects: nodes no node refers to and no root
 * holds.  Calls fn(arg, n) for each, in node order; fn returns 0 to go
 * on, -1 to stop (the return value). */
int hw_refgraph_leaking(const struct hw_refgraph *g,
			int (*fn)(void *arg, uint32_t n), void *arg);

#endif
