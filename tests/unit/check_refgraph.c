/* check_refgraph.c - the referrer graph on synthetic graphs: the address
 * index against a binary search, referrers and shortest chains against a
 * naive search on random graphs (seeded: the seed is printed, and
 * HW_TEST_SEED replays one), back-reference subgraphs, leaking objects,
 * the memory budget and root labels. */
#include <check.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "heapwatch/refgraph.h"
#include "runner.h"

/* Check reports every passing ck_assert to its runner (a write each):
 * these loops make millions of checks, so they only call Check on a
 * failure. */
#define CMP(a, op, b) do {                                                  \
	uint64_t a_ = (uint64_t)(a), b_ = (uint64_t)(b);                    \
	if (!(a_ op b_))                                                     \
		ck_abort_msg("%s %s %s failed: %" PRIu64 " vs %" PRIu64,    \
			     #a, #op, #b, a_, b_);                           \
} while (0)
#define SCMP(a, op, b) do {                                                 \
	int64_t a_ = (int64_t)(a), b_ = (int64_t)(b);                       \
	if (!(a_ op b_))                                                     \
		ck_abort_msg("%s %s %s failed: %" PRId64 " vs %" PRId64,    \
			     #a, #op, #b, a_, b_);                           \
} while (0)
#define CMP_eq(a, b) CMP(a, ==, b)
#define SCMP_eq(a, b) SCMP(a, ==, b)
#define CMP_ne(a, b) CMP(a, !=, b)
#define SCMP_ne(a, b) SCMP(a, !=, b)
#define CMP_le(a, b) CMP(a, <=, b)
#define SCMP_le(a, b) SCMP(a, <=, b)
#define CMP_lt(a, b) CMP(a, <, b)
#define SCMP_lt(a, b) SCMP(a, <, b)
#define CMP_ge(a, b) CMP(a, >=, b)
#define SCMP_ge(a, b) SCMP(a, >=, b)
#define CMP_gt(a, b) CMP(a, >, b)
#define SCMP_gt(a, b) SCMP(a, >, b)
#define OK(c) do { if (!(c)) ck_abort_msg("%s failed", #c); } while (0)

static uint64_t seed, rng;

static uint64_t rnd(void)
{
	/* xorshift64* */
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 2685821657736338717ull;
}

static void reseed(unsigned salt)
{
	rng = seed ^ (0x9e3779b97f4a7c15ull * (salt + 1));
	if (!rng)
		rng = 1;
}

static int cmp_u64(const void *x, const void *y)
{
	uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;

	return a < b ? -1 : a > b;
}

/* n distinct 8-aligned addresses, clustered in pages like a heap, in
 * random order; sorted copy in *sorted. */
static uint64_t *addresses(size_t n, uint64_t **sorted)
{
	uint64_t *a = malloc(n * sizeof *a), *s = malloc(n * sizeof *s);
	size_t k = 0;
	uint64_t base = 0x7f0000000000ull + (rnd() % 1024) * 4096;

	OK(a && s);
	while (k < n) {
		/* runs of objects 16..128 bytes apart, with gaps */
		uint64_t step = 16 + 8 * (rnd() % 15);

		for (unsigned r = rnd() % 64; r > 0 && k < n; r--) {
			base += step;
			a[k++] = base;
		}
		base += 8 * (rnd() % 4096);
	}
	for (size_t i = n - 1; i > 0; i--) {
		size_t j = rnd() % (i + 1);
		uint64_t t = a[i];

		a[i] = a[j];
		a[j] = t;
	}
	memcpy(s, a, n * sizeof *s);
	qsort(s, n, sizeof *s, cmp_u64);
	*sorted = s;
	return a;
}

static struct hw_refgraph *graph_of(const uint64_t *addrs, size_t n)
{
	struct hw_err e;
	struct hw_refgraph *g = hw_refgraph_new(0, &e);

	OK(g);
	for (size_t i = 0; i < n; i++)
		SCMP_eq(hw_refgraph_add_node(g, addrs[i], 0x1000 + 8 * (addrs[i] % 7), 0, &e), 0);
	SCMP_eq(hw_refgraph_index(g, &e), 0);
	return g;
}

static void check_index(size_t n)
{
	uint64_t *sorted, *a;
	struct hw_refgraph *g;

	reseed((unsigned)n);
	a = addresses(n, &sorted);
	g = graph_of(a, n);
	CMP_eq(hw_refgraph_nnodes(g), n);
	for (size_t i = 0; i < n; i++) {
		CMP_eq(hw_refgraph_addr(g, (uint32_t)i), sorted[i]);
		CMP_eq(hw_refgraph_find(g, sorted[i]), i);
		CMP_eq(hw_refgraph_type(g, (uint32_t)i), 0x1000 + 8 * (sorted[i] % 7));
	}
	/* addresses that are not nodes: neighbours, unaligned, far away */
	for (size_t i = 0; i < n; i++) {
		uint64_t probe[] = { sorted[i] + 8, sorted[i] - 8, sorted[i] + 1,
				     sorted[i] + 4, sorted[i] ^ (1ull << 40), 0 };

		for (unsigned k = 0; k < sizeof probe / sizeof probe[0]; k++) {
			uint64_t *hit = bsearch(&probe[k], sorted, n, sizeof *sorted, cmp_u64);
			uint32_t want = hit && !(probe[k] & 7) ? (uint32_t)(hit - sorted) : HW_RG_NONE;

			CMP_eq(hw_refgraph_find(g, probe[k]), want);
		}
	}
	CMP_eq(hw_refgraph_ntypes(g), n >= 7 ? 7 : hw_refgraph_ntypes(g));
	hw_refgraph_free(g);
	free(a);
	free(sorted);
}

START_TEST(index_small) { check_index(1); check_index(100); check_index(4095); }
END_TEST

START_TEST(index_large) { check_index(4096); check_index(300000); }
END_TEST

START_TEST(bad_nodes)
{
	struct hw_err e;
	struct hw_refgraph *g = hw_refgraph_new(0, &e);

	SCMP_eq(hw_refgraph_add_node(g, 0, 1, 0, &e), -1);
	SCMP_eq(e.code, HW_ECORRUPT);
	SCMP_eq(hw_refgraph_add_node(g, 0x1004, 1, 0, &e), -1);
	SCMP_eq(e.code, HW_ECORRUPT);
	ck_assert_ptr_nonnull(strstr(e.msg, "0x1004"));
	SCMP_eq(hw_refgraph_add_node(g, 0x2000, 1, 0, &e), 0);
	SCMP_eq(hw_refgraph_add_node(g, 0x3000, 1, 0, &e), 0);
	SCMP_eq(hw_refgraph_add_node(g, 0x2000, 2, 0, &e), 0);
	SCMP_eq(hw_refgraph_index(g, &e), -1);
	SCMP_eq(e.code, HW_ECORRUPT);
	ck_assert_ptr_nonnull(strstr(e.msg, "0x2000 is listed twice"));
	/* clear, then the same graph without the duplicate */
	hw_refgraph_clear(g);
	SCMP_eq(hw_refgraph_add_node(g, 0x2000, 1, HW_RGF_PERMANENT, &e), 0);
	SCMP_eq(hw_refgraph_index(g, &e), 0);
	CMP_eq(hw_refgraph_flags(g, 0) & HW_RGF_PERMANENT, HW_RGF_PERMANENT);
	/* edges out of order are refused */
	SCMP_eq(hw_refgraph_add_edges(g, 0, NULL, 0, &e), 0);
	SCMP_eq(hw_refgraph_add_edges(g, 0, NULL, 0, &e), -1);
	hw_refgraph_free(g);
}
END_TEST

/* A random graph: nodes 0..n-1 (by address order), each with up to maxdeg
 * referents (some to non-nodes, some repeated), and roots. */
struct rgraph {
	size_t n;
	uint64_t *sorted, *shuffled;
	uint32_t **out;        /* referents (node ids), per node */
	size_t *nout;
	int *root;             /* -1 none, else kind */
	struct hw_refgraph *g;
};

static void rgraph_build(struct rgraph *r, size_t n, unsigned maxdeg,
			 unsigned root_permille, unsigned salt)
{
	struct hw_err e;
	uint64_t *buf = malloc((maxdeg + 4) * sizeof *buf);

	reseed(salt);
	memset(r, 0, sizeof *r);
	r->n = n;
	r->shuffled = addresses(n, &r->sorted);
	r->out = calloc(n, sizeof *r->out);
	r->nout = calloc(n, sizeof *r->nout);
	r->root = malloc(n * sizeof *r->root);
	r->g = graph_of(r->shuffled, n);
	for (size_t u = 0; u < n; u++) {
		unsigned d = (unsigned)(rnd() % (maxdeg + 1)), k = 0;

		r->out[u] = malloc((d + 1) * sizeof **r->out);
		for (unsigned i = 0; i < d; i++) {
			if (rnd() % 5 == 0) {
				buf[k++] = r->sorted[rnd() % n] + 8 * (1 + rnd() % 2) + 1; /* not a node */
				buf[k - 1] &= ~7ull;
				if (bsearch(&buf[k - 1], r->sorted, n, 8, cmp_u64))
					k--;
				continue;
			}
			uint32_t v = (uint32_t)(rnd() % n);

			buf[k++] = r->sorted[v];
			r->out[u][r->nout[u]++] = v;
		}
		if (d || rnd() % 2)
			SCMP_eq(hw_refgraph_add_edges(r->g, (uint32_t)u, buf, k, &e),
					 (long)r->nout[u]);
		hw_refgraph_set_status(r->g, (uint32_t)u, (unsigned)(rnd() % 3));
	}
	SCMP_eq(hw_refgraph_finish(r->g, &e), 0);
	for (size_t u = 0; u < n; u++) {
		r->root[u] = -1;
		if (rnd() % 1000 < root_permille) {
			char label[64];
			int kind = (int)(rnd() % HW_ROOT_NKINDS);

			snprintf(label, sizeof label, "root %zu", u);
			SCMP_eq(hw_refgraph_add_root(r->g, (uint32_t)u,
							      (enum hw_root_kind)kind, label, &e), 0);
			r->root[u] = kind;
			if (rnd() % 4 == 0) {   /* a second, worse root record */
				SCMP_eq(hw_refgraph_add_root(r->g, (uint32_t)u,
								      HW_ROOT_C_HELD, "second", &e), 0);
			}
		}
	}
	free(buf);
}

static void rgraph_free(struct rgraph *r)
{
	for (size_t u = 0; u < r->n; u++)
		free(r->out[u]);
	free(r->out);
	free(r->nout);
	free(r->root);
	free(r->sorted);
	free(r->shuffled);
	hw_refgraph_free(r->g);
}

/* naive: distance from each node to target following edges forward */
static unsigned *naive_dist(const struct rgraph *r, uint32_t target)
{
	unsigned *d = malloc(r->n * sizeof *d);
	int changed = 1;

	for (size_t i = 0; i < r->n; i++)
		d[i] = UINT32_MAX;
	d[target] = 0;
	while (changed) {
		changed = 0;
		for (size_t u = 0; u < r->n; u++)
			for (size_t k = 0; k < r->nout[u]; k++) {
				uint32_t v = r->out[u][k];

				if (d[v] != UINT32_MAX && d[v] + 1 < d[u]) {
					d[u] = d[v] + 1;
					changed = 1;
				}
			}
	}
	return d;
}

static int has_edge(const struct rgraph *r, uint32_t u, uint32_t v)
{
	for (size_t k = 0; k < r->nout[u]; k++)
		if (r->out[u][k] == v)
			return 1;
	return 0;
}

START_TEST(referrers_random)
{
	struct rgraph r;
	uint64_t edges = 0;

	rgraph_build(&r, 3000, 6, 10, 1);
	for (size_t u = 0; u < r.n; u++)
		edges += r.nout[u];
	CMP_eq(hw_refgraph_nedges(r.g), edges);
	for (uint32_t v = 0; v < r.n; v++) {
		const uint32_t *src;
		size_t m = hw_refgraph_referrers(r.g, v, &src), want = 0;

		for (uint32_t u = 0; u < r.n; u++)
			for (size_t k = 0; k < r.nout[u]; k++)
				want += r.out[u][k] == v;
		CMP_eq(m, want);
		for (size_t i = 0; i < m; i++) {
			OK(has_edge(&r, src[i], v));
			if (i)
				CMP_le(src[i - 1], src[i]);
		}
	}
	rgraph_free(&r);
}
END_TEST

START_TEST(chains_random)
{
	struct rgraph r;
	struct hw_rg_chain c;
	struct hw_err e;
	unsigned found = 0, missing = 0;

	hw_rg_chain_init(&c);
	for (unsigned round = 0; round < 3; round++) {
		rgraph_build(&r, 1500, round + 1, 5 + 10 * round, 10 + round);
		for (unsigned q = 0; q < 150; q++) {
			uint32_t t = (uint32_t)(rnd() % r.n);
			unsigned *d = naive_dist(&r, t), best = UINT32_MAX;
			int bestkind = HW_ROOT_NKINDS;

			for (size_t u = 0; u < r.n; u++)
				if (r.root[u] >= 0 && d[u] < best)
					best = d[u];
			for (size_t u = 0; u < r.n; u++)
				if (r.root[u] >= 0 && d[u] == best && r.root[u] < bestkind)
					bestkind = r.root[u];
			SCMP_eq(hw_refgraph_chain(r.g, t, 0, 0, &c, &e), 0);
			if (best == UINT32_MAX) {
				SCMP_eq(c.found, 0);
				SCMP_eq(c.depth_cut, 0);
				missing++;
				/* every suspect was reached and has no referrer */
				for (size_t i = 0; i < c.nsuspects; i++) {
					const uint32_t *src;

					CMP_eq(hw_refgraph_referrers(r.g, c.suspects[i], &src), 0);
					CMP_ne(d[c.suspects[i]], UINT32_MAX);
				}
			} else {
				SCMP_eq(c.found, 1);
				CMP_eq(c.len, best + 1);
				CMP_eq(c.path[c.len - 1], t);
				SCMP_ge(r.root[c.path[0]], 0);
				SCMP_eq(r.root[c.path[0]], bestkind);
				SCMP_eq((int)c.root->kind, bestkind);
				CMP_eq(c.root->node, c.path[0]);
				for (size_t i = 0; i + 1 < c.len; i++)
					OK(has_edge(&r, c.path[i], c.path[i + 1]));
				found++;
				/* a depth limit below the distance finds nothing */
				if (best > 1) {
					SCMP_eq(hw_refgraph_chain(r.g, t, best - 1, 0, &c, &e), 0);
					SCMP_eq(c.found, 0);
					SCMP_eq(c.depth_cut, 1);
					SCMP_eq(hw_refgraph_chain(r.g, t, best, 0, &c, &e), 0);
					SCMP_eq(c.found, 1);
				}
			}
			free(d);
		}
		rgraph_free(&r);
	}
	/* both outcomes were exercised */
	CMP_gt(found, 10);
	CMP_gt(missing, 10);
	hw_rg_chain_fini(&c);
}
END_TEST

/* The hand-made xmpp shape: module -> dict -> Dispatcher -> dict -> Iq,
 * plus a thread local holding the Dispatcher and a C-held root nearer. */
START_TEST(chain_shape)
{
	enum { MOD, MODDICT, DISP, EXPECTED, IQ1, IQ2, LONE, HOLDER, N };
	uint64_t a[N];
	struct hw_err e;
	struct hw_refgraph *g = hw_refgraph_new(0, &e);
	struct hw_rg_chain c;
	uint32_t id[N];

	for (unsigned i = 0; i < N; i++) {
		a[i] = 0x10000 + 0x1000 * (N - i);   /* reverse address order */
		SCMP_eq(hw_refgraph_add_node(g, a[i], 0x500 + i, 0, &e), 0);
	}
	SCMP_eq(hw_refgraph_index(g, &e), 0);
	for (unsigned i = 0; i < N; i++)
		id[i] = hw_refgraph_find(g, a[i]);
	/* ids are by address: HOLDER (lowest address) first */
	for (uint32_t u = 0; u < N; u++) {
		uint64_t to[3];
		size_t k = 0;
		unsigned which = N;

		for (unsigned i = 0; i < N; i++)
			if (id[i] == u)
				which = i;
		switch (which) {
		case MOD: to[k++] = a[MODDICT]; break;
		case MODDICT: to[k++] = a[DISP]; to[k++] = a[MOD]; break;
		case DISP: to[k++] = a[EXPECTED]; break;
		case EXPECTED: to[k++] = a[IQ1]; to[k++] = a[IQ2]; to[k++] = a[IQ1]; break;
		case HOLDER: to[k++] = a[LONE]; break;
		}
		SCMP_ge(hw_refgraph_add_edges(g, u, to, k, &e), 0);
	}
	SCMP_eq(hw_refgraph_finish(g, &e), 0);
	SCMP_eq(hw_refgraph_add_root(g, id[MOD], HW_ROOT_MODULE,
					      "sys.modules['xmpp.dispatcher']", &e), 0);
	SCMP_eq(hw_refgraph_add_root(g, id[DISP], HW_ROOT_THREAD,
					      "thread 1 frame main local 'd'", &e), 0);
	hw_rg_chain_init(&c);
	/* the thread local is nearer than the module */
	SCMP_eq(hw_refgraph_chain(g, id[IQ2], 0, 0, &c, &e), 0);
	SCMP_eq(c.found, 1);
	CMP_eq(c.len, 3);
	CMP_eq(c.path[0], id[DISP]);
	ck_assert_str_eq(c.root->label, "thread 1 frame main local 'd'");
	/* at equal distance the module wins over the thread */
	SCMP_eq(hw_refgraph_add_root(g, id[MODDICT], HW_ROOT_C_HELD, "c", &e), 0);
	SCMP_eq(hw_refgraph_add_root(g, id[DISP], HW_ROOT_C_HELD, "c2", &e), 0);
	SCMP_eq(hw_refgraph_chain(g, id[DISP], 0, 0, &c, &e), 0);
	CMP_eq(c.len, 1);
	SCMP_eq(c.root->kind, HW_ROOT_THREAD);
	/* the lone object: held by a node nothing holds */
	SCMP_eq(hw_refgraph_chain(g, id[LONE], 0, 0, &c, &e), 0);
	SCMP_eq(c.found, 0);
	CMP_eq(c.visited, 2);
	CMP_eq(c.nsuspects, 1);
	CMP_eq(c.suspects[0], id[HOLDER]);
	/* visits bounded */
	SCMP_eq(hw_refgraph_chain(g, id[IQ1], 0, 1, &c, &e), 0);
	SCMP_eq(c.found, 0);
	SCMP_eq(c.visit_cut, 1);
	hw_rg_chain_fini(&c);
	{
		const uint32_t *src;

		/* IQ1 is held twice by the same dict */
		CMP_eq(hw_refgraph_referrers(g, id[IQ1], &src), 2);
		CMP_eq(src[0], id[EXPECTED]);
		CMP_eq(src[1], id[EXPECTED]);
	}
	hw_refgraph_free(g);
}
END_TEST

static int collect(void *arg, uint32_t n)
{
	uint32_t **p = arg;

	*(*p)++ = n;
	return 0;
}

START_TEST(leaking_and_backrefs)
{
	struct rgraph r;
	struct hw_err e;
	uint32_t *got, *p;
	size_t ngot, want = 0;
	struct hw_rg_sub s;
	uint32_t targets[3];

	rgraph_build(&r, 2000, 2, 20, 99);
	got = malloc(r.n * sizeof *got);
	p = got;
	SCMP_eq(hw_refgraph_leaking(r.g, collect, &p), 0);
	ngot = (size_t)(p - got);
	for (uint32_t v = 0; v < r.n; v++) {
		int held = r.root[v] >= 0;

		for (uint32_t u = 0; u < r.n && !held; u++)
			held = has_edge(&r, u, v);
		if (!held) {
			CMP_lt(want, ngot);
			CMP_eq(got[want], v);
			want++;
		}
	}
	CMP_eq(ngot, want);
	free(got);

	hw_rg_sub_init(&s);
	for (unsigned i = 0; i < 3; i++)
		targets[i] = (uint32_t)(rnd() % r.n);
	for (unsigned depth = 0; depth < 5; depth++)
		for (unsigned maxrefs = 1; maxrefs < 4; maxrefs++) {
			SCMP_eq(hw_refgraph_backrefs(r.g, targets, 3, depth, maxrefs,
							      0, &s, &e), 0);
			CMP_ge(s.nnodes, 1);
			for (size_t i = 0; i < s.nnodes; i++) {
				const uint32_t *src;
				size_t m = hw_refgraph_referrers(r.g, s.nodes[i], &src), distinct = 0;
				size_t drawn = 0;

				CMP_le(s.depth[i], depth);
				for (size_t k = 0; k < m; k++)
					distinct += !k || src[k] != src[k - 1];
				for (size_t k = 0; k < s.nedges; k++)
					drawn += s.edges[k].to == s.nodes[i];
				if (s.depth[i] < depth && !(s.depth[i] > 0 && r.root[s.nodes[i]] >= 0)) {
					CMP_eq(drawn + s.hidden[i], distinct);
					CMP_le(drawn, maxrefs);
				} else {
					CMP_eq(drawn, 0);
				}
			}
			for (size_t k = 0; k < s.nedges; k++)
				OK(has_edge(&r, s.edges[k].from, s.edges[k].to));
		}
	/* a node cap */
	SCMP_eq(hw_refgraph_backrefs(r.g, targets, 3, 50, 50, 5, &s, &e), 0);
	CMP_le(s.nnodes, 5);
	hw_rg_sub_fini(&s);
	rgraph_free(&r);
}
END_TEST

START_TEST(budget)
{
	struct hw_err e;
	struct hw_refgraph *g = hw_refgraph_new(64 * 1024, &e);
	int rc = 0;
	uint64_t i;

	for (i = 0; i < 100000 && rc == 0; i++)
		rc = hw_refgraph_add_node(g, 0x100000 + 16 * i, 0x10, 0, &e);
	SCMP_eq(rc, -1);
	SCMP_eq(e.code, HW_ELIMIT);
	ck_assert_ptr_nonnull(strstr(e.msg, "memory budget"));
	CMP_le(hw_refgraph_bytes(g), 64 * 1024);
	CMP_le(hw_refgraph_peak_bytes(g), 64 * 1024);
	/* what fits can still be indexed and searched within the budget,
	 * or fails cleanly */
	rc = hw_refgraph_index(g, &e);
	if (rc == 0)
		rc = hw_refgraph_finish(g, &e);
	OK(rc == 0 || e.code == HW_ELIMIT);
	CMP_le(hw_refgraph_peak_bytes(g), 64 * 1024);
	hw_refgraph_clear(g);
	CMP_le(hw_refgraph_bytes(g), 64 * 1024);
	hw_refgraph_free(g);
}
END_TEST

START_TEST(labels)
{
	struct hw_err e;
	struct hw_refgraph *g = hw_refgraph_new(0, &e);
	const struct hw_root *r;
	char big[1000];

	SCMP_eq(hw_refgraph_add_node(g, 0x1000, 1, 0, &e), 0);
	SCMP_eq(hw_refgraph_index(g, &e), 0);
	SCMP_eq(hw_refgraph_finish(g, &e), 0);
	/* "xyz" then 'é' (2 bytes) repeated: a cut must fall between
	 * characters */
	memcpy(big, "xyz", 3);
	for (size_t i = 3; i + 2 < sizeof big; i += 2) {
		big[i] = (char)0xc3;
		big[i + 1] = (char)0xa9;
	}
	big[sizeof big - 1] = 0;
	big[sizeof big - 2] = 0;
	for (int i = 0; i < 2000; i++)   /* several label chunks */
		SCMP_eq(hw_refgraph_add_root(g, 0, HW_ROOT_INTERP, big, &e), 0);
	CMP_eq(hw_refgraph_roots_of(g, 0, &r), 2000);
	CMP_lt(strlen(r[0].label), HW_RG_LABEL_MAX);
	CMP_gt(strlen(r[0].label), HW_RG_LABEL_MAX - 4);
	/* ends with a whole character: xyz + pairs */
	CMP_eq((strlen(r[0].label) - 3) % 2, 0);
	ck_assert_str_eq(r[1999].label, r[0].label);
	ck_assert_str_eq(hw_root_kind_name(HW_ROOT_MODULE), "module");
	ck_assert_str_eq(hw_root_kind_name(HW_ROOT_NKINDS), "?");
	hw_refgraph_free(g);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("refgraph");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, index_small);
	tcase_add_test(tc, index_large);
	tcase_add_test(tc, bad_nodes);
	tcase_add_test(tc, referrers_random);
	tcase_add_test(tc, chains_random);
	tcase_add_test(tc, chain_shape);
	tcase_add_test(tc, leaking_and_backrefs);
	tcase_add_test(tc, budget);
	tcase_add_test(tc, labels);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	const char *env = getenv("HW_TEST_SEED");

	seed = env ? strtoull(env, NULL, 0) : (uint64_t)time(NULL) * 2654435761u;
	printf("NOTE check_refgraph seed %" PRIu64 " (HW_TEST_SEED=%" PRIu64 " replays it)\n",
	       seed, seed);
	fflush(stdout);
	return hw_run_suite(suite());
}
