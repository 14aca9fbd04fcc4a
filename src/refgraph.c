/* refgraph.c - the referrer graph; see include/heapwatch/refgraph.h. */
#include "heapwatch/refgraph.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PAGE_SHIFT 12
#define GRAN_SHIFT 3                      /* 8-byte granules */
#define PAGE_WORDS ((1u << (PAGE_SHIFT - GRAN_SHIFT)) / 64)
#define LABEL_CHUNK 65536

struct node {
	uint64_t addr;
	uint32_t type;                    /* type id */
	uint32_t flags;
};

struct page {
	uint64_t page;                    /* addr >> PAGE_SHIFT */
	uint32_t base;                    /* id of its first node */
	uint16_t before[PAGE_WORDS];      /* nodes in bits[0 .. w) */
	uint64_t bits[PAGE_WORDS];        /* granules holding a node */
};

struct label_chunk {
	struct label_chunk *next;
	size_t used;
	char text[LABEL_CHUNK];
};

struct hw_refgraph {
	uint64_t max_bytes, bytes, peak;

	struct node *nodes;
	size_t nnodes, nodes_cap;
	int indexed, finished;

	uint64_t *types;                  /* type id -> address */
	size_t ntypes, types_cap;
	uint32_t *tmap;                   /* open addressing: type id + 1 */
	size_t tmap_cap;

	struct page *pages;
	size_t npages, pages_cap;
	uint32_t *pmap;                   /* open addressing: page index + 1 */
	size_t pmap_cap;

	/* forward edges while building, by ascending source */
	uint32_t *fwd_off;                /* nnodes + 1 */
	uint32_t *fwd_dst;
	size_t nfwd, fwd_cap;
	uint32_t cursor;                  /* next source allowed */

	/* reverse CSR */
	uint32_t *rev_off;                /* nnodes + 1 */
	uint32_t *rev_src;
	uint64_t nedges;

	struct hw_root *roots;
	size_t nroots, roots_cap;
	int roots_sorted;
	struct label_chunk *labels;

	/* query scratch, nnodes each, allocated on first use */
	uint32_t *mark, *next, *queue;
	uint32_t gen;
};

/* ------------------------------------------------------------------ */
/* memory, counted against the budget */

static int budget_err(struct hw_refgraph *g, const char *what, uint64_t want,
		      struct hw_err *e)
{
	return hw_err_set(e, HW_ELIMIT, 0,
			  "the referrer graph needs more than its memory budget "
			  "of %" PRIu64 " MiB (--graph-limit; %s: %" PRIu64 " MiB more)",
			  g->max_bytes >> 20, what, (want + (1u << 20) - 1) >> 20);
}

/* Resize *p from old to new elements of size sz, counting the bytes. */
static int resize(struct hw_refgraph *g, void **p, size_t old, size_t nw,
		  size_t sz, const char *what, struct hw_err *e)
{
	void *q;

	if (nw && sz > SIZE_MAX / nw)
		return budget_err(g, what, UINT64_MAX, e);
	if (nw > old && g->max_bytes &&
	    g->bytes + (uint64_t)(nw - old) * sz > g->max_bytes)
		return budget_err(g, what, (uint64_t)(nw - old) * sz, e);
	if (nw == 0) {
		free(*p);
		*p = NULL;
	} else {
		q = realloc(*p, nw * sz);
		if (!q)
			return hw_err_set(e, HW_ENOMEM, ENOMEM, "allocating the referrer graph (%s)", what);
		*p = q;
	}
	g->bytes = g->bytes - (uint64_t)old * sz + (uint64_t)nw * sz;
	if (g->bytes > g->peak)
		g->peak = g->bytes;
	return 0;
}

/* Grow an array to hold at least need elements (geometrically). */
static int reserve(struct hw_refgraph *g, void **p, size_t *cap, size_t need,
		   size_t sz, const char *what, struct hw_err *e)
{
	size_t nc;

	if (need <= *cap)
		return 0;
	nc = *cap ? *cap : 1024;
	while (nc < need)
		nc = nc > SIZE_MAX / 2 ? need : nc * 2;
	/* Near the budget, take what is needed rather than double. */
	if (g->max_bytes && g->bytes + (uint64_t)(nc - *cap) * sz > g->max_bytes &&
	    g->bytes + (uint64_t)(need - *cap) * sz <= g->max_bytes)
		nc = need + (need - *cap) / 8 + 1;
	if (g->max_bytes && g->bytes + (uint64_t)(nc - *cap) * sz > g->max_bytes)
		nc = need;
	if (resize(g, p, *cap, nc, sz, what, e) < 0)
		return -1;
	*cap = nc;
	return 0;
}

static void release(struct hw_refgraph *g, void **p, size_t *cap, size_t sz)
{
	free(*p);
	*p = NULL;
	g->bytes -= (uint64_t)*cap * sz;
	*cap = 0;
}

/* ------------------------------------------------------------------ */

const char *hw_root_kind_name(enum hw_root_kind k)
{
	static const char *const names[] = {
		[HW_ROOT_MODULE] = "module", [HW_ROOT_INTERP] = "interpreter",
		[HW_ROOT_THREAD] = "thread", [HW_ROOT_STATIC_TYPE] = "static type",
		[HW_ROOT_C_HELD] = "C",
	};

	if ((unsigned)k >= HW_ROOT_NKINDS)
		return "?";
	return names[k];
}

struct hw_refgraph *hw_refgraph_new(uint64_t max_bytes, struct hw_err *e)
{
	struct hw_refgraph *g = calloc(1, sizeof *g);

	if (!g) {
		hw_err_set(e, HW_ENOMEM, ENOMEM, "allocating the referrer graph");
		return NULL;
	}
	g->max_bytes = max_bytes;
	return g;
}

static void free_scratch(struct hw_refgraph *g)
{
	size_t n = g->mark ? g->nnodes : 0;

	release(g, (void **)&g->mark, &n, sizeof(uint32_t));
	n = g->next ? g->nnodes : 0;
	release(g, (void **)&g->next, &n, sizeof(uint32_t));
	n = g->queue ? g->nnodes : 0;
	release(g, (void **)&g->queue, &n, sizeof(uint32_t));
	g->gen = 0;
}

void hw_refgraph_clear(struct hw_refgraph *g)
{
	size_t n;

	free_scratch(g);
	n = g->fwd_off ? g->nnodes + 1 : 0;
	release(g, (void **)&g->fwd_off, &n, sizeof(uint32_t));
	release(g, (void **)&g->fwd_dst, &g->fwd_cap, sizeof(uint32_t));
	n = g->rev_off ? g->nnodes + 1 : 0;
	release(g, (void **)&g->rev_off, &n, sizeof(uint32_t));
	n = g->rev_src ? (size_t)g->nedges : 0;
	release(g, (void **)&g->rev_src, &n, sizeof(uint32_t));
	release(g, (void **)&g->pmap, &g->pmap_cap, sizeof(uint32_t));
	release(g, (void **)&g->pages, &g->pages_cap, sizeof(struct page));
	while (g->labels) {
		struct label_chunk *c = g->labels;

		g->labels = c->next;
		g->bytes -= sizeof *c;
		free(c);
	}
	g->nnodes = g->ntypes = g->npages = g->nfwd = g->nroots = 0;
	g->nedges = 0;
	g->cursor = 0;
	g->indexed = g->finished = 0;
	g->roots_sorted = 1;
	if (g->tmap)
		memset(g->tmap, 0, g->tmap_cap * sizeof *g->tmap);
}

void hw_refgraph_free(struct hw_refgraph *g)
{
	if (!g)
		return;
	hw_refgraph_clear(g);
	free(g->nodes);
	free(g->types);
	free(g->tmap);
	free(g->roots);
	free(g);
}

/* ------------------------------------------------------------------ */
/* nodes */

/* Bits set in x, without relying on the POPCNT instruction (a call into
 * libgcc for the default x86_64 target). */
static inline unsigned popcount64(uint64_t x)
{
	x = x - ((x >> 1) & 0x5555555555555555ull);
	x = (x & 0x3333333333333333ull) + ((x >> 2) & 0x3333333333333333ull);
	x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0full;
	return (unsigned)((x * 0x0101010101010101ull) >> 56);
}

static uint64_t mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	return x;
}

static int type_id(struct hw_refgraph *g, uint64_t type_addr, uint32_t *id,
		   struct hw_err *e)
{
	size_t i;

	if ((g->ntypes + 1) * 2 > g->tmap_cap) {
		size_t nc = g->tmap_cap ? g->tmap_cap * 2 : 256, old = g->tmap_cap;
		uint32_t *nm = NULL;

		if (resize(g, (void **)&nm, 0, nc, sizeof *nm, "type table", e) < 0)
			return -1;
		memset(nm, 0, nc * sizeof *nm);
		for (size_t k = 0; k < g->ntypes; k++) {
			size_t j = mix(g->types[k]) & (nc - 1);

			while (nm[j])
				j = (j + 1) & (nc - 1);
			nm[j] = (uint32_t)k + 1;
		}
		release(g, (void **)&g->tmap, &old, sizeof *nm);
		g->tmap = nm;
		g->tmap_cap = nc;
	}
	for (i = mix(type_addr) & (g->tmap_cap - 1); g->tmap[i];
	     i = (i + 1) & (g->tmap_cap - 1))
		if (g->types[g->tmap[i] - 1] == type_addr) {
			*id = g->tmap[i] - 1;
			return 0;
		}
	if (reserve(g, (void **)&g->types, &g->types_cap, g->ntypes + 1,
		    sizeof *g->types, "type table", e) < 0)
		return -1;
	g->types[g->ntypes] = type_addr;
	g->tmap[i] = (uint32_t)++g->ntypes;
	*id = (uint32_t)g->ntypes - 1;
	return 0;
}

int hw_refgraph_add_node(struct hw_refgraph *g, uint64_t addr,
			 uint64_t type_addr, unsigned flags, struct hw_err *e)
{
	uint32_t t;

	if (g->indexed)
		return hw_err_set(e, HW_ESYS, 0, "referrer graph: node added after indexing");
	if (!addr || (addr & ((1u << GRAN_SHIFT) - 1)) || addr >> 63)
		return hw_err_set(e, HW_ECORRUPT, 0, "object address 0x%" PRIx64
				  " is not a plausible object", addr);
	if (g->nnodes >= HW_RG_MAX_NODES)
		return hw_err_set(e, HW_ELIMIT, 0, "more than %u objects",
				  HW_RG_MAX_NODES);
	if (type_id(g, type_addr, &t, e) < 0)
		return -1;
	if (reserve(g, (void **)&g->nodes, &g->nodes_cap, g->nnodes + 1,
		    sizeof *g->nodes, "node table", e) < 0)
		return -1;
	g->nodes[g->nnodes++] = (struct node){ addr, t, flags & HW_RGF_PERMANENT };
	return 0;
}

static int cmp_node(const void *x, const void *y)
{
	const struct node *a = x, *b = y;

	return a->addr < b->addr ? -1 : a->addr > b->addr;
}

/* LSD radix sort by address, 15 bits a pass, only as many passes as the
 * addresses have significant bits above the 8-byte granule (three for
 * x86_64 user space). */
static int sort_nodes(struct hw_refgraph *g, struct hw_err *e)
{
	enum { BITS = 15, NB = 1 << BITS };
	struct node *tmp = NULL, *src, *dst;
	uint32_t *cnt = NULL;
	uint64_t all = 0;
	size_t n = g->nnodes, tcap = 0, ccap = 0;

	if (n < 4096) {
		qsort(g->nodes, n, sizeof *g->nodes, cmp_node);
		return 0;
	}
	for (size_t i = 0; i < n; i++)
		all |= g->nodes[i].addr;
	all >>= GRAN_SHIFT;
	if (resize(g, (void **)&tmp, 0, n, sizeof *tmp, "sorting the nodes", e) < 0)
		return -1;
	tcap = n;
	if (resize(g, (void **)&cnt, 0, NB, sizeof *cnt, "sorting the nodes", e) < 0) {
		release(g, (void **)&tmp, &tcap, sizeof *tmp);
		return -1;
	}
	ccap = NB;
	src = g->nodes;
	dst = tmp;
	for (unsigned shift = 0; shift < 64 && (all >> shift); shift += BITS) {
		uint32_t sum = 0;
		struct node *sw;

		memset(cnt, 0, NB * sizeof *cnt);
		for (size_t i = 0; i < n; i++)
			cnt[((src[i].addr >> GRAN_SHIFT) >> shift) & (NB - 1)]++;
		for (size_t b = 0; b < NB; b++) {
			uint32_t c = cnt[b];

			cnt[b] = sum;
			sum += c;
		}
		for (size_t i = 0; i < n; i++)
			dst[cnt[((src[i].addr >> GRAN_SHIFT) >> shift) & (NB - 1)]++] = src[i];
		sw = src;
		src = dst;
		dst = sw;
	}
	if (src != g->nodes)
		memcpy(g->nodes, src, n * sizeof *src);
	release(g, (void **)&tmp, &tcap, sizeof *tmp);
	release(g, (void **)&cnt, &ccap, sizeof *cnt);
	return 0;
}

int hw_refgraph_index(struct hw_refgraph *g, struct hw_err *e)
{
	size_t np = 0;

	if (g->indexed)
		return 0;
	if (sort_nodes(g, e) < 0)
		return -1;
	for (size_t i = 0; i < g->nnodes; i++) {
		if (i && g->nodes[i].addr == g->nodes[i - 1].addr)
			return hw_err_set(e, HW_ECORRUPT, 0, "object 0x%" PRIx64
					  " is listed twice in the GC lists",
					  g->nodes[i].addr);
		if (!i || (g->nodes[i].addr >> PAGE_SHIFT) !=
			  (g->nodes[i - 1].addr >> PAGE_SHIFT))
			np++;
	}
	if (reserve(g, (void **)&g->pages, &g->pages_cap, np ? np : 1,
		    sizeof *g->pages, "address index", e) < 0)
		return -1;
	g->npages = 0;
	for (size_t i = 0; i < g->nnodes; i++) {
		uint64_t pg = g->nodes[i].addr >> PAGE_SHIFT;
		unsigned gr = (unsigned)((g->nodes[i].addr & ((1u << PAGE_SHIFT) - 1)) >> GRAN_SHIFT);
		struct page *p;

		if (!g->npages || g->pages[g->npages - 1].page != pg) {
			p = &g->pages[g->npages++];
			memset(p, 0, sizeof *p);
			p->page = pg;
			p->base = (uint32_t)i;
		}
		p = &g->pages[g->npages - 1];
		p->bits[gr / 64] |= 1ull << (gr % 64);
	}
	/* each word's rank within its page, so that a lookup counts the
	 * bits of one word only */
	for (size_t k = 0; k < g->npages; k++) {
		unsigned sum = 0;

		for (unsigned w = 0; w < PAGE_WORDS; w++) {
			g->pages[k].before[w] = (uint16_t)sum;
			sum += popcount64(g->pages[k].bits[w]);
		}
	}
	{
		size_t nc = 16;

		while (nc < g->npages * 2)
			nc *= 2;
		if (reserve(g, (void **)&g->pmap, &g->pmap_cap, nc, sizeof *g->pmap,
			    "address index", e) < 0)
			return -1;
		memset(g->pmap, 0, g->pmap_cap * sizeof *g->pmap);
		for (size_t k = 0; k < g->npages; k++) {
			size_t j = mix(g->pages[k].page) & (g->pmap_cap - 1);

			while (g->pmap[j])
				j = (j + 1) & (g->pmap_cap - 1);
			g->pmap[j] = (uint32_t)k + 1;
		}
	}
	g->indexed = 1;
	g->roots_sorted = 1;
	return 0;
}

uint32_t hw_refgraph_find(const struct hw_refgraph *g, uint64_t addr)
{
	uint64_t pg = addr >> PAGE_SHIFT;
	const struct page *p;
	unsigned gr, w;
	uint32_t rank;

	if (!g->indexed || !g->npages || (addr & ((1u << GRAN_SHIFT) - 1)))
		return HW_RG_NONE;
	/* the map is at most half full, so the probe ends */
	for (size_t i = mix(pg) & (g->pmap_cap - 1);; i = (i + 1) & (g->pmap_cap - 1)) {
		if (!g->pmap[i])
			return HW_RG_NONE;
		p = &g->pages[g->pmap[i] - 1];
		if (p->page == pg)
			break;
	}
	gr = (unsigned)((addr & ((1u << PAGE_SHIFT) - 1)) >> GRAN_SHIFT);
	w = gr / 64;
	if (!(p->bits[w] >> (gr % 64) & 1))
		return HW_RG_NONE;
	rank = p->base + p->before[w];
	rank += (uint32_t)popcount64(p->bits[w] & ((1ull << (gr % 64)) - 1));
	return rank;
}

/* ------------------------------------------------------------------ */
/* edges */

long hw_refgraph_add_edges(struct hw_refgraph *g, uint32_t from,
			   const uint64_t *to_addrs, size_t n,
			   struct hw_err *e)
{
	long added = 0;

	if (!g->indexed || g->finished || from >= g->nnodes || from < g->cursor)
		return hw_err_set(e, HW_ESYS, 0, "referrer graph: edges of node %u out of order",
				  (unsigned)from);
	if (!g->fwd_off) {
		size_t z = 0;

		if (resize(g, (void **)&g->fwd_off, z, g->nnodes + 1, sizeof(uint32_t),
			   "edges", e) < 0)
			return -1;
	}
	for (uint32_t k = g->cursor; k <= from; k++)
		g->fwd_off[k] = (uint32_t)g->nfwd;
	g->cursor = from + 1;
	g->nodes[from].flags |= HW_RGF_SEEN;
	for (size_t i = 0; i < n; i++) {
		uint32_t to = hw_refgraph_find(g, to_addrs[i]);

		if (to == HW_RG_NONE)
			continue;
		if (g->nfwd >= HW_RG_MAX_EDGES)
			return hw_err_set(e, HW_ELIMIT, 0, "more than %u references",
					  HW_RG_MAX_EDGES);
		if (g->nfwd == g->fwd_cap &&
		    reserve(g, (void **)&g->fwd_dst, &g->fwd_cap, g->nfwd + 1,
			    sizeof *g->fwd_dst, "edges", e) < 0)
			return -1;
		g->fwd_dst[g->nfwd++] = to;
		added++;
	}
	return added;
}

void hw_refgraph_set_status(struct hw_refgraph *g, uint32_t n, unsigned status)
{
	if (n < g->nnodes)
		g->nodes[n].flags = (g->nodes[n].flags & ~(uint32_t)HW_RGF_STATUS_MASK) |
				    (status & HW_RGF_STATUS_MASK);
}

int hw_refgraph_finish(struct hw_refgraph *g, struct hw_err *e)
{
	size_t n = g->nnodes, z = 0;

	if (!g->indexed)
		return hw_err_set(e, HW_ESYS, 0, "referrer graph: finish before index");
	if (g->finished)
		return 0;
	if (!g->fwd_off &&
	    resize(g, (void **)&g->fwd_off, 0, n + 1, sizeof(uint32_t), "edges", e) < 0)
		return -1;
	for (uint32_t k = g->cursor; k <= n; k++)
		g->fwd_off[k] = (uint32_t)g->nfwd;
	g->cursor = (uint32_t)n;
	if (resize(g, (void **)&g->rev_off, 0, n + 1, sizeof(uint32_t), "referrer index", e) < 0)
		return -1;
	memset(g->rev_off, 0, (n + 1) * sizeof(uint32_t));
	if (resize(g, (void **)&g->rev_src, 0, g->nfwd, sizeof(uint32_t), "referrer index", e) < 0) {
		z = n + 1;
		release(g, (void **)&g->rev_off, &z, sizeof(uint32_t));
		return -1;
	}
	/* count in-degrees into rev_off[v + 1], prefix-sum, then fill by
	 * ascending source so each referrer list is sorted */
	for (size_t i = 0; i < g->nfwd; i++)
		g->rev_off[g->fwd_dst[i] + 1]++;
	for (size_t v = 0; v < n; v++)
		g->rev_off[v + 1] += g->rev_off[v];
	for (uint32_t u = 0; u < n; u++)
		for (uint32_t i = g->fwd_off[u]; i < g->fwd_off[u + 1]; i++) {
			uint32_t v = g->fwd_dst[i];

			/* rev_off[v] is used as the fill cursor, then restored */
			g->rev_src[g->rev_off[v]++] = u;
		}
	for (size_t v = n; v > 0; v--)
		g->rev_off[v] = g->rev_off[v - 1];
	g->rev_off[0] = 0;
	g->nedges = g->nfwd;
	z = n + 1;
	release(g, (void **)&g->fwd_off, &z, sizeof(uint32_t));
	release(g, (void **)&g->fwd_dst, &g->fwd_cap, sizeof(uint32_t));
	g->nfwd = 0;
	g->finished = 1;
	return 0;
}

/* ------------------------------------------------------------------ */
/* roots */

static const char *keep_label(struct hw_refgraph *g, const char *label,
			      struct hw_err *e)
{
	size_t len = strnlen(label ? label : "", HW_RG_LABEL_MAX - 1);
	struct label_chunk *c = g->labels;
	char *p;

	if (!c || c->used + len + 1 > LABEL_CHUNK) {
		if (g->max_bytes && g->bytes + sizeof *c > g->max_bytes) {
			budget_err(g, "root labels", sizeof *c, e);
			return NULL;
		}
		c = malloc(sizeof *c);
		if (!c) {
			hw_err_set(e, HW_ENOMEM, ENOMEM, "allocating root labels");
			return NULL;
		}
		c->next = g->labels;
		c->used = 0;
		g->labels = c;
		g->bytes += sizeof *c;
		if (g->bytes > g->peak)
			g->peak = g->bytes;
	}
	p = c->text + c->used;
	memcpy(p, label ? label : "", len);
	if (label && label[len]) {
		/* cut: do not leave half a UTF-8 sequence at the end */
		size_t k = len;
		unsigned char lead;
		size_t want;

		while (k > 0 && ((unsigned char)p[k - 1] & 0xc0) == 0x80)
			k--;
		if (k > 0) {
			lead = (unsigned char)p[k - 1];
			want = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 1;
			if (k - 1 + want > len)
				len = k - 1;
		}
	}
	p[len] = 0;
	c->used += len + 1;
	return p;
}

int hw_refgraph_add_root(struct hw_refgraph *g, uint32_t n,
			 enum hw_root_kind kind, const char *label,
			 struct hw_err *e)
{
	const char *l;

	if (!g->indexed || n >= g->nnodes || (unsigned)kind >= HW_ROOT_NKINDS)
		return hw_err_set(e, HW_ESYS, 0, "referrer graph: bad root");
	if (!(l = keep_label(g, label, e)))
		return -1;
	if (reserve(g, (void **)&g->roots, &g->roots_cap, g->nroots + 1,
		    sizeof *g->roots, "roots", e) < 0)
		return -1;
	g->roots[g->nroots++] = (struct hw_root){ n, kind, l };
	g->nodes[n].flags |= HW_RGF_ROOT;
	g->roots_sorted = g->nroots == 1 ||
		(g->roots_sorted && (g->roots[g->nroots - 2].node < n ||
				     (g->roots[g->nroots - 2].node == n &&
				      g->roots[g->nroots - 2].kind <= kind)));
	return 0;
}

static int cmp_root(const void *x, const void *y)
{
	const struct hw_root *a = x, *b = y;

	if (a->node != b->node)
		return a->node < b->node ? -1 : 1;
	if (a->kind != b->kind)
		return a->kind < b->kind ? -1 : 1;
	return strcmp(a->label, b->label);
}

static void sort_roots(struct hw_refgraph *g)
{
	if (!g->roots_sorted) {
		qsort(g->roots, g->nroots, sizeof *g->roots, cmp_root);
		g->roots_sorted = 1;
	}
}

size_t hw_refgraph_roots_of(struct hw_refgraph *g, uint32_t n,
			    const struct hw_root **out)
{
	size_t lo = 0, hi, k;

	*out = NULL;
	if (n >= g->nnodes || !(g->nodes[n].flags & HW_RGF_ROOT))
		return 0;
	sort_roots(g);
	hi = g->nroots;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (g->roots[mid].node < n)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (k = lo; k < g->nroots && g->roots[k].node == n; k++)
		;
	*out = g->roots + lo;
	return k - lo;
}

size_t hw_refgraph_nroots(const struct hw_refgraph *g) { return g->nroots; }

const struct hw_root *hw_refgraph_root(struct hw_refgraph *g, size_t i)
{
	sort_roots(g);
	return i < g->nroots ? &g->roots[i] : NULL;
}

/* ------------------------------------------------------------------ */
/* reading */

uint32_t hw_refgraph_nnodes(const struct hw_refgraph *g) { return (uint32_t)g->nnodes; }
uint64_t hw_refgraph_nedges(const struct hw_refgraph *g)
{
	return g->finished ? g->nedges : g->nfwd;
}
uint64_t hw_refgraph_addr(const struct hw_refgraph *g, uint32_t n)
{
	return n < g->nnodes ? g->nodes[n].addr : 0;
}
uint64_t hw_refgraph_type(const struct hw_refgraph *g, uint32_t n)
{
	return n < g->nnodes ? g->types[g->nodes[n].type] : 0;
}
uint32_t hw_refgraph_ntypes(const struct hw_refgraph *g) { return (uint32_t)g->ntypes; }
uint64_t hw_refgraph_type_addr(const struct hw_refgraph *g, uint32_t t)
{
	return t < g->ntypes ? g->types[t] : 0;
}
uint32_t hw_refgraph_type_id(const struct hw_refgraph *g, uint32_t n)
{
	return n < g->nnodes ? g->nodes[n].type : HW_RG_NONE;
}
unsigned hw_refgraph_flags(const struct hw_refgraph *g, uint32_t n)
{
	return n < g->nnodes ? g->nodes[n].flags : 0;
}

size_t hw_refgraph_referrers(const struct hw_refgraph *g, uint32_t n,
			     const uint32_t **out)
{
	if (!g->finished || n >= g->nnodes) {
		*out = NULL;
		return 0;
	}
	*out = g->rev_src + g->rev_off[n];
	return g->rev_off[n + 1] - g->rev_off[n];
}

static size_t indeg(const struct hw_refgraph *g, uint32_t n)
{
	return g->rev_off[n + 1] - g->rev_off[n];
}

uint64_t hw_refgraph_bytes(const struct hw_refgraph *g) { return g->bytes; }
uint64_t hw_refgraph_peak_bytes(const struct hw_refgraph *g) { return g->peak; }

/* ------------------------------------------------------------------ */
/* queries */

static int scratch(struct hw_refgraph *g, struct hw_err *e)
{
	if (!g->finished)
		return hw_err_set(e, HW_ESYS, 0, "referrer graph: query before finish");
	if (!g->mark) {
		if (resize(g, (void **)&g->mark, 0, g->nnodes ? g->nnodes : 1,
			   sizeof(uint32_t), "search state", e) < 0)
			return -1;
		memset(g->mark, 0, (g->nnodes ? g->nnodes : 1) * sizeof(uint32_t));
		if (resize(g, (void **)&g->next, 0, g->nnodes ? g->nnodes : 1,
			   sizeof(uint32_t), "search state", e) < 0 ||
		    resize(g, (void **)&g->queue, 0, g->nnodes ? g->nnodes : 1,
			   sizeof(uint32_t), "search state", e) < 0) {
			free_scratch(g);
			return -1;
		}
		g->gen = 0;
	}
	if (++g->gen == 0) {
		memset(g->mark, 0, g->nnodes * sizeof(uint32_t));
		g->gen = 1;
	}
	return 0;
}

void hw_rg_chain_init(struct hw_rg_chain *c) { memset(c, 0, sizeof *c); }
void hw_rg_chain_fini(struct hw_rg_chain *c)
{
	free(c->path);
	memset(c, 0, sizeof *c);
}

static int is_root(const struct hw_refgraph *g, uint32_t n)
{
	return (g->nodes[n].flags & HW_RGF_ROOT) != 0;
}

static enum hw_root_kind best_kind(struct hw_refgraph *g, uint32_t n,
				   const struct hw_root **r)
{
	const struct hw_root *rs;
	size_t k = hw_refgraph_roots_of(g, n, &rs);

	*r = k ? rs : NULL;
	return k ? rs[0].kind : HW_ROOT_NKINDS;
}

static void note_suspect(const struct hw_refgraph *g, struct hw_rg_chain *c,
			 uint32_t n)
{
	if (indeg(g, n) || is_root(g, n))
		return;
	if (c->nsuspects < HW_RG_SUSPECTS)
		c->suspects[c->nsuspects++] = n;
	c->nsuspects_total++;
}

int hw_refgraph_chain(struct hw_refgraph *g, uint32_t target,
		      unsigned max_depth, uint64_t max_visits,
		      struct hw_rg_chain *c, struct hw_err *e)
{
	size_t head = 0, tail = 0, level_end;
	uint32_t best = HW_RG_NONE;
	enum hw_root_kind bk = HW_ROOT_NKINDS;
	const struct hw_root *br = NULL;
	unsigned depth = 0;

	hw_rg_chain_fini(c);
	if (target >= g->nnodes)
		return hw_err_set(e, HW_ESYS, 0, "referrer graph: no node %u", (unsigned)target);
	if (scratch(g, e) < 0)
		return -1;
	sort_roots(g);
	g->mark[target] = g->gen;
	g->next[target] = HW_RG_NONE;
	g->queue[tail++] = target;
	c->visited = 1;
	if (is_root(g, target)) {
		best = target;
		bk = best_kind(g, target, &br);
	}
	note_suspect(g, c, target);
	while (best == HW_RG_NONE && head < tail) {
		if (max_depth && depth >= max_depth) {
			for (size_t i = head; i < tail; i++)
				if (indeg(g, g->queue[i]))
					c->depth_cut = 1;
			break;
		}
		level_end = tail;
		for (; head < level_end && !c->visit_cut; head++) {
			uint32_t v = g->queue[head];

			for (uint32_t i = g->rev_off[v]; i < g->rev_off[v + 1]; i++) {
				uint32_t u = g->rev_src[i];
				const struct hw_root *r;
				enum hw_root_kind k;

				if (g->mark[u] == g->gen)
					continue;
				if (max_visits && c->visited >= max_visits) {
					c->visit_cut = 1;
					break;
				}
				g->mark[u] = g->gen;
				g->next[u] = v;
				g->queue[tail++] = u;
				c->visited++;
				note_suspect(g, c, u);
				if (!is_root(g, u))
					continue;
				k = best_kind(g, u, &r);
				if (best == HW_RG_NONE || k < bk || (k == bk && u < best)) {
					best = u;
					bk = k;
					br = r;
				}
			}
		}
		depth++;
		if (c->visit_cut)
			break;
	}
	if (best == HW_RG_NONE)
		return 0;
	{
		size_t len = 0;

		for (uint32_t n = best; n != HW_RG_NONE; n = g->next[n])
			len++;
		c->path = malloc(len * sizeof *c->path);
		if (!c->path)
			return hw_err_set(e, HW_ENOMEM, ENOMEM, "allocating a chain");
		len = 0;
		for (uint32_t n = best; n != HW_RG_NONE; n = g->next[n])
			c->path[len++] = n;
		c->len = len;
	}
	c->found = 1;
	c->root = br;
	c->nsuspects = 0;
	c->nsuspects_total = 0;
	return 0;
}

void hw_rg_sub_init(struct hw_rg_sub *s) { memset(s, 0, sizeof *s); }
void hw_rg_sub_fini(struct hw_rg_sub *s)
{
	free(s->nodes);
	free(s->depth);
	free(s->hidden);
	free(s->edges);
	memset(s, 0, sizeof *s);
}

static int sub_grow(void **p, size_t *cap, size_t need, size_t sz,
		    struct hw_err *e)
{
	size_t nc;
	void *q;

	if (need <= *cap)
		return 0;
	nc = *cap ? *cap * 2 : 64;
	while (nc < need)
		nc *= 2;
	q = realloc(*p, nc * sz);
	if (!q)
		return hw_err_set(e, HW_ENOMEM, ENOMEM, "allocating a back-reference graph");
	*p = q;
	*cap = nc;
	return 0;
}

int hw_refgraph_backrefs(struct hw_refgraph *g, const uint32_t *targets,
			 size_t ntargets, unsigned max_depth,
			 unsigned max_refs, size_t max_nodes,
			 struct hw_rg_sub *s, struct hw_err *e)
{
	size_t ncap = 0, dcap = 0, hcap = 0, ecap = 0;

	hw_rg_sub_fini(s);
	if (scratch(g, e) < 0)
		return -1;
	if (!max_nodes)
		max_nodes = SIZE_MAX;
	/* g->next[n] holds n's index in s->nodes while marked */
	for (size_t i = 0; i < ntargets; i++) {
		uint32_t t = targets[i];

		if (t >= g->nnodes || g->mark[t] == g->gen)
			continue;
		if (s->nnodes >= max_nodes) {
			s->truncated = 1;
			break;
		}
		if (sub_grow((void **)&s->nodes, &ncap, s->nnodes + 1, sizeof *s->nodes, e) < 0 ||
		    sub_grow((void **)&s->depth, &dcap, s->nnodes + 1, sizeof *s->depth, e) < 0 ||
		    sub_grow((void **)&s->hidden, &hcap, s->nnodes + 1, sizeof *s->hidden, e) < 0)
			goto fail;
		g->mark[t] = g->gen;
		g->next[t] = (uint32_t)s->nnodes;
		s->nodes[s->nnodes] = t;
		s->depth[s->nnodes] = 0;
		s->hidden[s->nnodes] = 0;
		s->nnodes++;
	}
	for (size_t head = 0; head < s->nnodes; head++) {
		uint32_t v = s->nodes[head];
		unsigned drawn = 0;
		uint32_t prev = HW_RG_NONE;

		if (s->depth[head] >= max_depth || (is_root(g, v) && s->depth[head] > 0))
			continue;
		for (uint32_t i = g->rev_off[v]; i < g->rev_off[v + 1]; i++) {
			uint32_t u = g->rev_src[i];

			if (u == prev)  /* the same referrer again (sorted) */
				continue;
			prev = u;
			if (drawn >= max_refs || (g->mark[u] != g->gen && s->nnodes >= max_nodes)) {
				s->hidden[head]++;
				if (g->mark[u] != g->gen && s->nnodes >= max_nodes)
					s->truncated = 1;
				continue;
			}
			drawn++;
			if (g->mark[u] != g->gen) {
				if (sub_grow((void **)&s->nodes, &ncap, s->nnodes + 1, sizeof *s->nodes, e) < 0 ||
				    sub_grow((void **)&s->depth, &dcap, s->nnodes + 1, sizeof *s->depth, e) < 0 ||
				    sub_grow((void **)&s->hidden, &hcap, s->nnodes + 1, sizeof *s->hidden, e) < 0)
					goto fail;
				g->mark[u] = g->gen;
				g->next[u] = (uint32_t)s->nnodes;
				s->nodes[s->nnodes] = u;
				s->depth[s->nnodes] = s->depth[head] + 1;
				s->hidden[s->nnodes] = 0;
				s->nnodes++;
			}
			if (sub_grow((void **)&s->edges, &ecap, s->nedges + 1, sizeof *s->edges, e) < 0)
				goto fail;
			s->edges[s->nedges++] = (struct hw_rg_subedge){ u, v };
		}
	}
	return 0;
fail:
	hw_rg_sub_fini(s);
	return -1;
}

int hw_refgraph_leaking(const struct hw_refgraph *g,
			int (*fn)(void *arg, uint32_t n), void *arg)
{
	if (!g->finished)
		return 0;
	for (uint32_t n = 0; n < g->nnodes; n++)
		if (!indeg(g, n) && !is_root(g, n) && fn(arg, n) < 0)
			return -1;
	return 0;
}
