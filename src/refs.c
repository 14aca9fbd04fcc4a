/* refs.c - the referrer graph as a capture job, and its answers; see
 * include/heapwatch/refs.h. */
#include "heapwatch/refs.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "heapwatch/roots.h"
#include "heapwatch/typename.h"
#include "heapwatch/units.h"

#define NO(v) ((v) < 0)
#define TPFLAGS_TYPE_SUBCLASS (1ull << 31)
#define MAX_REFERENTS (64u << 20)    /* of one object */
#define LABEL_MAX 256
#define HOLDER_PARENTS 4             /* referrers looked at per holder */
#define ARROW " \xe2\x86\x92 "       /* " → " */

/* ------------------------------------------------------------------ */
/* strings owned by a result */

struct chunk {
	struct chunk *next;
	size_t used, size;
	char text[];
};

static const char *keep(struct hw_refs_result *res, const char *s, struct hw_err *e)
{
	struct chunk *c = res->pool;
	size_t n = strlen(s) + 1;

	if (!c || c->used + n > c->size) {
		size_t size = n > 60000 ? n : 65536 - sizeof *c;

		c = malloc(sizeof *c + size);
		if (!c) {
			hw_err_set(e, HW_ENOMEM, ENOMEM, "keeping names");
			return NULL;
		}
		c->next = res->pool;
		c->used = 0;
		c->size = size;
		res->pool = c;
	}
	memcpy(c->text + c->used, s, n);
	c->used += n;
	return c->text + c->used - n;
}

void hw_refs_result_init(struct hw_refs_result *r) { memset(r, 0, sizeof *r); }

void hw_refs_result_fini(struct hw_refs_result *r)
{
	for (size_t i = 0; i < r->nchains; i++) {
		free(r->chains[i].steps);
		free(r->chains[i].suspects);
	}
	free(r->chains);
	free(r->holders);
	free(r->gnodes);
	free(r->gedges);
	free(r->similar);
	free(r->leaking);
	while (r->pool) {
		struct chunk *c = r->pool;

		r->pool = c->next;
		free(c);
	}
	memset(r, 0, sizeof *r);
}

void hw_refs_opts_default(struct hw_refs_opts *o)
{
	memset(o, 0, sizeof *o);
	o->samples = 3;
	o->max_depth = 20;
	o->graph_depth = 3;
	o->graph_refs = 10;
	o->graph_nodes = 200;
	o->holders = 10;
	o->graph_limit = 1ull << 30;
}

/* ------------------------------------------------------------------ */
/* the job */

struct hw_refs {
	struct hw_refs_opts o;
	char *type;
	struct hw_objects *objects;
	uint64_t interp_head;
	struct hw_refgraph *g;
	struct hw_refs_result res;
	struct hw_typecount tc;

	/* per run */
	struct hw_snap *s;
	const struct hw_offsets *off;
	struct hw_err *e;
	uint64_t deadline;
	int allow_misses, partial;
	const char **tnames;         /* per type id */
	size_t tnames_cap;
	struct hw_modnames *mods;
	uint64_t *buf;               /* referents of one object */
	size_t nbuf, buf_cap;
};

struct hw_refs *hw_refs_new(const struct hw_refs_opts *o,
			    struct hw_objects *objects,
			    uint64_t interp_head_addr, struct hw_err *e)
{
	struct hw_refs *r = calloc(1, sizeof *r);

	if (!r) {
		hw_err_set(e, HW_ENOMEM, ENOMEM, "allocating the referrer job");
		return NULL;
	}
	if (o)
		r->o = *o;
	else
		hw_refs_opts_default(&r->o);
	if (r->o.type && !(r->type = strdup(r->o.type))) {
		free(r);
		hw_err_set(e, HW_ENOMEM, ENOMEM, "allocating the referrer job");
		return NULL;
	}
	r->o.type = r->type;
	if (!r->o.samples)
		r->o.samples = 1;
	r->objects = objects;
	r->interp_head = interp_head_addr;
	if (!(r->g = hw_refgraph_new(r->o.graph_limit, e))) {
		free(r->type);
		free(r);
		return NULL;
	}
	hw_typecount_init(&r->tc);
	return r;
}

void hw_refs_free(struct hw_refs *r)
{
	if (!r)
		return;
	hw_refgraph_free(r->g);
	hw_refs_result_fini(&r->res);
	hw_typecount_fini(&r->tc);
	hw_modnames_free(r->mods);
	free(r->tnames);
	free(r->buf);
	free(r->type);
	free(r);
}

struct hw_refs_result *hw_refs_result(struct hw_refs *r) { return &r->res; }

static const char *status_name(unsigned st)
{
	switch (st & HW_RGF_STATUS_MASK) {
	case HW_REFS_EXACT: return "exact";
	case HW_REFS_PARTIAL: return "partial";
	default: return "opaque";
	}
}

static int past_deadline(struct hw_refs *r)
{
	return r->deadline && hw_now_ns() > r->deadline;
}

/* --- building --- */

static int visit_node(void *arg, uint64_t obj, uint64_t type, unsigned list,
		      struct hw_err *e)
{
	struct hw_refs *r = arg;

	return hw_refgraph_add_node(r->g, obj, type, list == 3 ? HW_RGF_PERMANENT : 0, e);
}

static int collect_referent(void *arg, const struct hw_edge *ed, struct hw_err *e)
{
	struct hw_refs *r = arg;

	if (r->nbuf == r->buf_cap) {
		size_t nc = r->buf_cap ? r->buf_cap * 2 : 1024;
		uint64_t *nb;

		if (r->buf_cap >= MAX_REFERENTS)
			return hw_err_set(e, HW_ELIMIT, 0, "more than %u references from one object",
					  MAX_REFERENTS);
		if (!(nb = realloc(r->buf, nc * sizeof *nb)))
			return hw_err_set(e, HW_ENOMEM, ENOMEM, "collecting references");
		r->buf = nb;
		r->buf_cap = nc;
	}
	r->buf[r->nbuf++] = ed->to_addr;
	return 0;
}

static int name_types(struct hw_refs *r)
{
	uint32_t nt = hw_refgraph_ntypes(r->g);

	if (nt > r->tnames_cap) {
		const char **nn = realloc(r->tnames, nt * sizeof *nn);

		if (!nn)
			return hw_err_set(r->e, HW_ENOMEM, ENOMEM, "naming types");
		r->tnames = nn;
		r->tnames_cap = nt;
	}
	for (uint32_t t = 0; t < nt; t++) {
		char name[HW_TYPENAME_MAX];
		uint64_t ta = hw_refgraph_type_addr(r->g, t);

		if (hw_type_name(r->s, r->off, ta, name, sizeof name, r->e) < 0)
			return hw_err_prefix(r->e, "naming the type at 0x%" PRIx64, ta);
		if (!(r->tnames[t] = keep(&r->res, name, r->e)))
			return -1;
	}
	return 0;
}

static const char *tname(struct hw_refs *r, uint32_t n)
{
	return r->tnames[hw_refgraph_type_id(r->g, n)];
}

static int build_edges(struct hw_refs *r)
{
	uint32_t n = hw_refgraph_nnodes(r->g);

	for (uint32_t u = 0; u < n; u++) {
		enum hw_refs_status st = HW_REFS_OPAQUE;

		if ((u & 1023) == 0 && past_deadline(r))
			return hw_err_set(r->e, HW_ETIMEOUT, 0,
					  "the referrer graph could not be built within the "
					  "pause budget (--max-pause) with the target stopped "
					  "(%u of %u objects read)", u, n);
		r->nbuf = 0;
		if (hw_obj_referents(r->objects, r->s, hw_refgraph_addr(r->g, u),
				     hw_refgraph_type(r->g, u), collect_referent, r,
				     &st, r->e) < 0) {
			if (r->e->code == HW_EMISS && r->allow_misses) {
				/* the copy was cut short: this object's
				 * references are unknown */
				r->partial = 1;
				hw_refgraph_set_status(r->g, u, HW_REFS_OPAQUE);
				continue;
			}
			if (r->e->code == HW_EMISS || r->e->code == HW_ENOMEM ||
			    r->e->code == HW_ELIMIT)
				return -1;
			return hw_err_prefix(r->e, "references of %s at 0x%" PRIx64,
					     tname(r, u), hw_refgraph_addr(r->g, u));
		}
		if (hw_refgraph_add_edges(r->g, u, r->buf, r->nbuf, r->e) < 0)
			return -1;
		hw_refgraph_set_status(r->g, u, st);
		r->res.status[st < 3 ? st : 2]++;
	}
	return hw_refgraph_finish(r->g, r->e);
}

/* The most common types whose references are not (all) known. */
static int opaque_types(struct hw_refs *r)
{
	uint32_t nt = hw_refgraph_ntypes(r->g), n = hw_refgraph_nnodes(r->g);
	uint64_t *cnt = calloc(nt ? nt : 1, sizeof *cnt);
	struct hw_refs_result *res = &r->res;

	if (!cnt)
		return hw_err_set(r->e, HW_ENOMEM, ENOMEM, "counting opaque types");
	for (uint32_t u = 0; u < n; u++)
		if ((hw_refgraph_flags(r->g, u) & HW_RGF_STATUS_MASK) != HW_REFS_EXACT)
			cnt[hw_refgraph_type_id(r->g, u)]++;
	/* types sharing a name count together */
	for (uint32_t t = 0; t < nt; t++) {
		size_t k;

		if (!cnt[t])
			continue;
		for (k = 0; k < res->nopaque_types; k++)
			if (strcmp(res->opaque_types[k].type, r->tnames[t]) == 0)
				break;
		if (k < res->nopaque_types) {
			res->opaque_types[k].count += cnt[t];
		} else if (res->nopaque_types < 5) {
			res->opaque_types[res->nopaque_types++] =
				(struct hw_refs_leak){ r->tnames[t], cnt[t] };
		} else {
			size_t min = 0;

			for (k = 1; k < 5; k++)
				if (res->opaque_types[k].count < res->opaque_types[min].count)
					min = k;
			if (cnt[t] > res->opaque_types[min].count)
				res->opaque_types[min] = (struct hw_refs_leak){ r->tnames[t], cnt[t] };
		}
	}
	free(cnt);
	for (size_t i = 1; i < res->nopaque_types; i++)
		for (size_t k = i; k > 0 && res->opaque_types[k].count >
					     res->opaque_types[k - 1].count; k--) {
			struct hw_refs_leak t = res->opaque_types[k];

			res->opaque_types[k] = res->opaque_types[k - 1];
			res->opaque_types[k - 1] = t;
		}
	return 0;
}

/* --- edges between given nodes, read again (labels are never stored) --- */

struct einfo {
	uint32_t from, to;
	int found;
	enum hw_edge_kind kind;
	uint64_t key_addr;
	int64_t index;
	const char *name;            /* static, from the object model */
	const char *label;           /* kept string, when asked for */
	int synthetic;               /* not a gc.get_referents() edge */
};

static int cmp_einfo(const void *x, const void *y)
{
	const struct einfo *a = x, *b = y;

	if (a->from != b->from)
		return a->from < b->from ? -1 : 1;
	return a->to < b->to ? -1 : a->to > b->to;
}

struct escan {
	struct hw_refs *r;
	struct einfo *lo;
	size_t n;
	int labels;
};

static int match_edge(void *arg, const struct hw_edge *ed, struct hw_err *e)
{
	struct escan *x = arg;
	uint32_t to = hw_refgraph_find(x->r->g, ed->to_addr);
	size_t lo = 0, hi = x->n;

	if (to == HW_RG_NONE)
		return 0;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (x->lo[mid].to < to)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == x->n || x->lo[lo].to != to || x->lo[lo].found)
		return 0;
	x->lo[lo].found = 1;
	x->lo[lo].kind = ed->kind;
	x->lo[lo].key_addr = ed->key_addr;
	x->lo[lo].index = ed->index;
	x->lo[lo].name = ed->name;
	x->lo[lo].synthetic = ed->synthetic;
	if (x->labels) {
		char buf[LABEL_MAX];
		struct hw_err tmp;

		if (hw_edge_label(x->r->objects, x->r->s, ed, buf, sizeof buf, &tmp) < 0 &&
		    tmp.code == HW_EMISS)
			return hw_err_copy(e, &tmp), -1;
		if (!(x->lo[lo].label = keep(&x->r->res, buf, e)))
			return -1;
	}
	return 0;
}

/* Fill v[0..n) (pairs from -> to) with the reference each from makes to
 * its to: one pass over each distinct from's referents.  v is sorted and
 * made distinct; returns the new count, or -1. */
static long edge_infos(struct hw_refs *r, struct einfo *v, size_t n, int labels)
{
	size_t k = 0;

	if (!v || !n)
		return 0;
	qsort(v, n, sizeof *v, cmp_einfo);
	for (size_t i = 0; i < n; i++)
		if (!k || v[i].from != v[k - 1].from || v[i].to != v[k - 1].to) {
			v[k] = v[i];
			v[k].found = 0;
			v[k].label = NULL;
			k++;
		}
	for (size_t i = 0; i < k;) {
		size_t j = i;
		struct escan x = { r, v + i, 0, labels };
		enum hw_refs_status st = HW_REFS_OPAQUE;

		while (j < k && v[j].from == v[i].from)
			j++;
		x.n = j - i;
		if (hw_obj_referents(r->objects, r->s, hw_refgraph_addr(r->g, v[i].from),
				     hw_refgraph_type(r->g, v[i].from), match_edge, &x,
				     &st, r->e) < 0 &&
		    (r->e->code == HW_EMISS || r->e->code == HW_ENOMEM))
			return -1;
		i = j;
	}
	return (long)k;
}

static struct einfo *find_einfo(struct einfo *v, size_t n, uint32_t from, uint32_t to)
{
	struct einfo key = { .from = from, .to = to };

	return bsearch(&key, v, n, sizeof *v, cmp_einfo);
}

/* --- describing objects --- */

static int fill_obj(struct hw_refs *r, uint32_t n, struct hw_refs_obj *o)
{
	const struct hw_root *rt;

	o->addr = hw_refgraph_addr(r->g, n);
	o->type = tname(r, n);
	o->status = status_name(hw_refgraph_flags(r->g, n));
	o->root = o->root_kind = NULL;
	if (hw_refgraph_roots_of(r->g, n, &rt)) {
		o->root = rt[0].label;
		o->root_kind = hw_root_kind_name(rt[0].kind);
	}
	return 0;
}

static const char *short_name(const char *full)
{
	const char *dot = strrchr(full, '.');

	return dot ? dot + 1 : full;
}

/* Who owns a namespace: "module xmpp.dispatcher", "class m.C", "m.C". */
static int owner_desc(struct hw_refs *r, uint32_t o, char *buf, size_t size)
{
	const char *t = tname(r, o);
	const char *mod = hw_modnames_get(r->mods, o);
	uint64_t meta_flags = 0, ta = hw_refgraph_type(r->g, o);
	struct hw_err tmp;

	if (mod) {
		snprintf(buf, size, "module %s", mod);
		return 0;
	}
	if (hw_snap_read(r->s, ta + (uint64_t)r->off->tp_flags, &meta_flags, 8, &tmp) < 0 &&
	    tmp.code == HW_EMISS)
		return hw_err_copy(r->e, &tmp), -1;
	if (meta_flags & TPFLAGS_TYPE_SUBCLASS) {
		char name[HW_TYPENAME_MAX];

		if (hw_type_name(r->s, r->off, hw_refgraph_addr(r->g, o), name, sizeof name, &tmp) < 0) {
			if (tmp.code == HW_EMISS)
				return hw_err_copy(r->e, &tmp), -1;
			snprintf(name, sizeof name, "?");
		}
		snprintf(buf, size, "class %s", name);
		return 0;
	}
	snprintf(buf, size, "%s", t);
	return 0;
}

/* A remote C string (a slot's name), at most size-1 bytes: 0, 1 when
 * unreadable or not text, -1 (HW_EMISS). */
static int cstr_at(struct hw_refs *r, uint64_t addr, char *buf, size_t size)
{
	struct hw_err tmp;
	size_t n = 0;

	if (!addr || size < 2)
		return 1;
	while (n < size - 1) {
		char c;

		if (hw_snap_read(r->s, addr + n, &c, 1, &tmp) < 0)
			return tmp.code == HW_EMISS ? (hw_err_copy(r->e, &tmp), -1) : 1;
		if (!c)
			break;
		if ((unsigned char)c < 0x20 || c == 0x7f)
			return 1;
		buf[n++] = c;
	}
	buf[n] = 0;
	return n ? 0 : 1;
}

/* The attribute name an edge stands for, if it is one: a str key of a
 * dict, an attribute kept outside a dict, a slot.  0 and name, 1 none. */
static int attr_name(struct hw_refs *r, const struct einfo *ei, char *buf, size_t size)
{
	struct hw_err tmp;
	char big[LABEL_MAX];

	if (!ei || !ei->found)
		return 1;
	if (ei->kind == HW_EDGE_SLOT)
		return cstr_at(r, ei->key_addr, buf, size);
	if (ei->kind != HW_EDGE_DICT_VALUE && ei->kind != HW_EDGE_ATTR)
		return 1;
	if (!ei->key_addr)
		return 1;
	if (hw_read_str(r->s, r->off, ei->key_addr, big, sizeof big, &tmp) < 0)
		return tmp.code == HW_EMISS ? (hw_err_copy(r->e, &tmp), -1) : 1;
	snprintf(buf, size, "%.*s", (int)size - 1, big);
	return 0;
}

/* --- who holds the instances (guppy's byrcs) --- */

struct hrow {
	const char *what;
	uint64_t instances, referrers;
	uint32_t first;              /* lowest instance node */
};

struct holders {
	struct hrow *rows;
	size_t n, cap;
	size_t *map;                 /* open addressing: row + 1 */
	size_t map_cap;
};

static uint64_t strhash(const char *s)
{
	uint64_t h = 1469598103934665603ull;

	while (*s)
		h = (h ^ (unsigned char)*s++) * 1099511628211ull;
	return h;
}

static long row_of(struct hw_refs *r, struct holders *h, const char *what)
{
	size_t i;

	if ((h->n + 1) * 2 > h->map_cap) {
		size_t nc = h->map_cap ? h->map_cap * 2 : 64;
		size_t *nm = calloc(nc, sizeof *nm);

		if (!nm)
			return hw_err_set(r->e, HW_ENOMEM, ENOMEM, "grouping holders");
		for (size_t k = 0; k < h->n; k++) {
			size_t j = strhash(h->rows[k].what) & (nc - 1);

			while (nm[j])
				j = (j + 1) & (nc - 1);
			nm[j] = k + 1;
		}
		free(h->map);
		h->map = nm;
		h->map_cap = nc;
	}
	for (i = strhash(what) & (h->map_cap - 1); h->map[i]; i = (i + 1) & (h->map_cap - 1))
		if (strcmp(h->rows[h->map[i] - 1].what, what) == 0)
			return (long)h->map[i] - 1;
	if (h->n == h->cap) {
		size_t nc = h->cap ? h->cap * 2 : 64;
		struct hrow *nr = realloc(h->rows, nc * sizeof *nr);

		if (!nr)
			return hw_err_set(r->e, HW_ENOMEM, ENOMEM, "grouping holders");
		h->rows = nr;
		h->cap = nc;
	}
	if (!(what = keep(&r->res, what, r->e)))
		return -1;
	h->rows[h->n] = (struct hrow){ what, 0, 0, HW_RG_NONE };
	h->map[i] = h->n + 1;
	return (long)h->n++;
}

static int grow_einfo(struct hw_refs *r, struct einfo **v, size_t *n, size_t *cap)
{
	if (*n < *cap)
		return 0;
	size_t nc = *cap ? *cap * 2 : 1024;
	struct einfo *nv = realloc(*v, nc * sizeof *nv);

	if (!nv)
		return hw_err_set(r->e, HW_ENOMEM, ENOMEM, "reading references");
	*v = nv;
	*cap = nc;
	return 0;
}

/* Pairs (p, x) for the first HOLDER_PARENTS distinct referrers p of x. */
static int add_parents(struct hw_refs *r, uint32_t x, struct einfo **v, size_t *n,
		       size_t *cap)
{
	const uint32_t *src;
	size_t m = hw_refgraph_referrers(r->g, x, &src);
	unsigned k = 0;

	for (size_t i = 0; i < m && k < HOLDER_PARENTS; i++) {
		if (i && src[i] == src[i - 1])
			continue;
		if (grow_einfo(r, v, n, cap) < 0)
			return -1;
		(*v)[(*n)++] = (struct einfo){ .from = src[i], .to = x };
		k++;
	}
	return 0;
}

/* The owner of a namespace dict d: a referrer reaching it as __dict__. */
static uint32_t owner_of(struct hw_refs *r, uint32_t d, struct einfo *v, size_t n)
{
	const uint32_t *src;
	size_t m = hw_refgraph_referrers(r->g, d, &src);
	unsigned k = 0;

	for (size_t i = 0; i < m && k < HOLDER_PARENTS; i++) {
		struct einfo *ei;

		if (i && src[i] == src[i - 1])
			continue;
		k++;
		ei = find_einfo(v, n, src[i], d);
		if (ei && ei->found && ei->kind == HW_EDGE_DICT)
			return src[i];
	}
	return HW_RG_NONE;
}

/* The named slot a container x sits in ("m.C['items']"): 0 and text, 1 if
 * it sits in no named slot. */
static int slot_of(struct hw_refs *r, uint32_t x, struct einfo *v2, size_t n2,
		   struct einfo *v3, size_t n3, char *buf, size_t size)
{
	const uint32_t *src;
	size_t m = hw_refgraph_referrers(r->g, x, &src);
	unsigned k = 0;

	for (size_t i = 0; i < m && k < HOLDER_PARENTS; i++) {
		struct einfo *ei;
		char name[128], own[HW_TYPENAME_MAX + 16];
		uint32_t p = src[i], o;
		int a;

		if (i && src[i] == src[i - 1])
			continue;
		k++;
		ei = find_einfo(v2, n2, p, x);
		if ((a = attr_name(r, ei, name, sizeof name)) < 0)
			return -1;
		if (a)
			continue;
		if (ei->kind == HW_EDGE_DICT_VALUE) {
			/* a str key of a namespace dict only */
			if ((o = owner_of(r, p, v3, n3)) == HW_RG_NONE)
				continue;
		} else {
			o = p;
		}
		if (owner_desc(r, o, own, sizeof own) < 0)
			return -1;
		snprintf(buf, size, "%.*s['%s']", (int)size / 2, own, name);
		return 0;
	}
	return 1;
}

static int cmp_u64(const void *x, const void *y)
{
	uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;

	return a < b ? -1 : a > b;
}

static int grow_pairs(struct hw_refs *r, uint64_t **p, size_t *n, size_t *cap)
{
	if (*n < *cap)
		return 0;
	size_t nc = *cap ? *cap * 2 : 1024;
	uint64_t *np = realloc(*p, nc * sizeof *np);

	if (!np)
		return hw_err_set(r->e, HW_ENOMEM, ENOMEM, "grouping holders");
	*p = np;
	*cap = nc;
	return 0;
}

static int cmp_hrow(const void *x, const void *y)
{
	const struct hrow *a = x, *b = y;

	if (a->instances != b->instances)
		return a->instances > b->instances ? -1 : 1;
	return strcmp(a->what, b->what);
}

/* Group the instances by holder; *rowof[i] gets instance i's row (in the
 * sorted order) for choosing samples. */
static int holders(struct hw_refs *r, const uint32_t *inst, size_t ninst,
		   struct holders *h, uint32_t **rowof)
{
	struct einfo *v1 = NULL, *v2 = NULL, *v3 = NULL;
	size_t n1 = 0, c1 = 0, n2 = 0, c2 = 0, n3 = 0, c3 = 0;
	long k;
	int rc = -1;
	size_t *order = NULL, npairs = 0, cpairs = 0;
	uint32_t *rows = NULL;
	uint64_t *pairs = NULL;

	*rowof = NULL;
	/* 1: instance <- referrer R */
	for (size_t i = 0; i < ninst; i++) {
		const uint32_t *src;
		size_t m = hw_refgraph_referrers(r->g, inst[i], &src);

		for (size_t j = 0; j < m; j++) {
			if (j && src[j] == src[j - 1])
				continue;
			if (grow_einfo(r, &v1, &n1, &c1) < 0)
				goto out;
			v1[n1++] = (struct einfo){ .from = src[j], .to = inst[i] };
		}
	}
	if ((k = edge_infos(r, v1, n1, 0)) < 0)
		goto out;
	n1 = (size_t)k;
	/* 2: R <- its referrers P (owner of a namespace dict R, or the slot R
	 * sits in) */
	for (size_t i = 0; i < n1; i++) {
		if (i && v1[i].from == v1[i - 1].from)
			continue;
		if (add_parents(r, v1[i].from, &v2, &n2, &c2) < 0)
			goto out;
	}
	if ((k = edge_infos(r, v2, n2, 0)) < 0)
		goto out;
	n2 = (size_t)k;
	/* 3: P <- its referrers (owner of a namespace dict P) */
	for (size_t i = 0; i < n2; i++) {
		if (i && v2[i].from == v2[i - 1].from)
			continue;
		if (add_parents(r, v2[i].from, &v3, &n3, &c3) < 0)
			goto out;
	}
	if ((k = edge_infos(r, v3, n3, 0)) < 0)
		goto out;
	n3 = (size_t)k;

	if (!(rows = malloc((ninst ? ninst : 1) * sizeof *rows)))
		goto nomem;
	for (size_t i = 0; i < ninst; i++) {
		const uint32_t *src;
		size_t m = hw_refgraph_referrers(r->g, inst[i], &src);
		char what[2048] = "";
		const struct hw_root *rt;
		long row;

		if (!m) {
			if (hw_refgraph_roots_of(r->g, inst[i], &rt))
				snprintf(what, sizeof what, "%s", rt[0].label);
			else
				snprintf(what, sizeof what, "(no known referrer)");
		}
		for (size_t j = 0, shown = 0; j < m; j++) {
			char one[1400], name[128], own[HW_TYPENAME_MAX + 16], slot[700];
			uint32_t R = src[j], o;
			struct einfo *ei;
			int a;

			if (j && src[j] == src[j - 1])
				continue;
			ei = find_einfo(v1, n1, R, inst[i]);
			if ((a = attr_name(r, ei, name, sizeof name)) < 0)
				goto out;
			o = HW_RG_NONE;
			if (!a && ei->kind == HW_EDGE_DICT_VALUE)
				o = owner_of(r, R, v2, n2);
			else if (!a)
				o = R;
			if (o != HW_RG_NONE) {
				/* held in a named slot of a namespace */
				if (owner_desc(r, o, own, sizeof own) < 0)
					goto out;
				snprintf(one, sizeof one, "%s['%s']", own, name);
			} else if ((o = owner_of(r, R, v2, n2)) != HW_RG_NONE) {
				/* the __dict__ of o, under a key that is no name */
				if (owner_desc(r, o, own, sizeof own) < 0)
					goto out;
				snprintf(one, sizeof one, "dict of %s", own);
			} else {
				int sl = slot_of(r, R, v2, n2, v3, n3, slot, sizeof slot);

				if (sl < 0)
					goto out;
				if (sl == 0)
					snprintf(one, sizeof one, "%s of %s", tname(r, R), slot);
				else
					snprintf(one, sizeof one, "%s", tname(r, R));
			}
			if (strstr(what, one))
				continue;
			if (shown++ == 3) {
				strncat(what, ", ...", sizeof what - strlen(what) - 1);
				break;
			}
			if (*what)
				strncat(what, ", ", sizeof what - strlen(what) - 1);
			strncat(what, one, sizeof what - strlen(what) - 1);
		}
		if ((row = row_of(r, h, what)) < 0)
			goto out;
		h->rows[row].instances++;
		if (h->rows[row].first == HW_RG_NONE)
			h->rows[row].first = inst[i];
		rows[i] = (uint32_t)row;
		for (size_t j = 0; j < m; j++) {
			if (j && src[j] == src[j - 1])
				continue;
			if (grow_pairs(r, &pairs, &npairs, &cpairs) < 0)
				goto out;
			pairs[npairs++] = ((uint64_t)row << 32) | src[j];
		}
	}
	/* distinct holders per row */
	if (npairs)
		qsort(pairs, npairs, sizeof *pairs, cmp_u64);
	for (size_t i = 0; i < npairs; i++)
		if (!i || pairs[i] != pairs[i - 1])
			h->rows[pairs[i] >> 32].referrers++;
	/* sort the rows, and renumber the instances' rows */
	if (!(order = malloc((h->n ? h->n : 1) * sizeof *order)))
		goto nomem;
	{
		struct hrow *sorted = malloc((h->n ? h->n : 1) * sizeof *sorted);

		if (!sorted)
			goto nomem;
		memcpy(sorted, h->rows, h->n * sizeof *sorted);
		qsort(sorted, h->n, sizeof *sorted, cmp_hrow);
		for (size_t i = 0; i < h->n; i++)
			for (size_t j = 0; j < h->n; j++)
				if (sorted[j].what == h->rows[i].what) {
					order[i] = j;
					break;
				}
		free(h->rows);
		h->rows = sorted;
		h->cap = h->n;
	}
	for (size_t i = 0; i < ninst; i++)
		rows[i] = (uint32_t)order[rows[i]];
	*rowof = rows;
	rows = NULL;
	rc = 0;
	goto out;
nomem:
	hw_err_set(r->e, HW_ENOMEM, ENOMEM, "grouping holders");
out:
	free(order);
	free(rows);
	free(pairs);
	free(v1);
	free(v2);
	free(v3);
	return rc;
}

/* --- TYPE --- */

static int match_type(struct hw_refs *r, const char **matched)
{
	uint32_t nt = hw_refgraph_ntypes(r->g);
	const char *want = r->o.type, *found[8];
	size_t nfound = 0, wl = strlen(want);
	struct hw_refs_result *res = &r->res;

	*matched = NULL;
	for (uint32_t t = 0; t < nt; t++)
		if (strcmp(r->tnames[t], want) == 0) {
			*matched = r->tnames[t];
			return 0;
		}
	/* objgraph accepts a short name: here the last components */
	for (uint32_t t = 0; t < nt; t++) {
		const char *n = r->tnames[t];
		size_t nl = strlen(n), k;

		if (nl <= wl || n[nl - wl - 1] != '.' || strcmp(n + nl - wl, want) != 0)
			continue;
		for (k = 0; k < nfound; k++)
			if (strcmp(found[k], n) == 0)
				break;
		if (k == nfound && nfound < sizeof found / sizeof found[0])
			found[nfound++] = n;
	}
	if (nfound == 1) {
		*matched = found[0];
		return 0;
	}
	if (nfound > 1) {
		char list[1024] = "";

		for (size_t k = 0; k < nfound; k++) {
			if (k)
				strncat(list, ", ", sizeof list - strlen(list) - 1);
			strncat(list, found[k], sizeof list - strlen(list) - 1);
		}
		return hw_err_set(r->e, HW_EUSAGE, 0,
				  "type '%s' is ambiguous: %s%s (give the full name)",
				  want, list, nfound == sizeof found / sizeof found[0] ? ", ..." : "");
	}
	/* not found: names that look alike */
	res->similar = calloc(5, sizeof *res->similar);
	if (!res->similar)
		return hw_err_set(r->e, HW_ENOMEM, ENOMEM, "listing type names");
	for (uint32_t t = 0; t < nt && res->nsimilar < 5; t++) {
		const char *n = r->tnames[t];
		int dup = 0;

		if (!strcasestr(n, want))
			continue;
		for (size_t k = 0; k < res->nsimilar; k++)
			dup |= strcmp(res->similar[k], n) == 0;
		if (!dup)
			res->similar[res->nsimilar++] = n;
	}
	return 0;
}

static int make_chain(struct hw_refs *r, uint32_t target, const char *holder,
		      struct hw_refs_chain *c, struct hw_rg_chain *rc)
{
	c->holder = holder;
	fill_obj(r, target, &c->target);
	if (hw_refgraph_chain(r->g, target, r->o.max_depth, 0, rc, r->e) < 0)
		return -1;
	c->found = rc->found;
	c->visited = rc->visited;
	c->depth_cut = rc->depth_cut;
	if (!rc->found) {
		c->nsuspects_total = rc->nsuspects_total;
		if (rc->nsuspects &&
		    !(c->suspects = calloc(rc->nsuspects, sizeof *c->suspects)))
			return hw_err_set(r->e, HW_ENOMEM, ENOMEM, "describing a chain");
		for (size_t i = 0; i < rc->nsuspects; i++)
			fill_obj(r, rc->suspects[i], &c->suspects[i]);
		c->nsuspects = rc->nsuspects;
		return 0;
	}
	if (!(c->steps = calloc(rc->len, sizeof *c->steps)))
		return hw_err_set(r->e, HW_ENOMEM, ENOMEM, "describing a chain");
	c->nsteps = rc->len;
	for (size_t i = 0; i < rc->len; i++)
		fill_obj(r, rc->path[i], &c->steps[i].obj);
	return 0;
}

/* How a holder is named in a one-line chain: a class by its own name
 * ("Registry"), anything else by its type's ("Dispatcher", "dict"). */
static int holder_name(struct hw_refs *r, uint32_t n, char *buf, size_t size)
{
	uint64_t flags = 0;
	struct hw_err tmp;
	char name[HW_TYPENAME_MAX];

	if (hw_snap_read(r->s, hw_refgraph_type(r->g, n) + (uint64_t)r->off->tp_flags,
			 &flags, 8, &tmp) < 0 && tmp.code == HW_EMISS)
		return hw_err_copy(r->e, &tmp), -1;
	if ((flags & TPFLAGS_TYPE_SUBCLASS) &&
	    hw_type_name(r->s, r->off, hw_refgraph_addr(r->g, n), name, sizeof name, &tmp) == 0) {
		snprintf(buf, size, "%s", short_name(name));
		return 0;
	}
	if (tmp.code == HW_EMISS && (flags & TPFLAGS_TYPE_SUBCLASS))
		return hw_err_copy(r->e, &tmp), -1;
	snprintf(buf, size, "%s", short_name(tname(r, n)));
	return 0;
}

/* Labels for every chain's edges, and each chain on one line. */
static int label_chains(struct hw_refs *r, uint32_t **paths)
{
	struct hw_refs_result *res = &r->res;
	struct einfo *v = NULL;
	size_t n = 0, cap = 0;
	long k;
	int rc = -1;

	for (size_t c = 0; c < res->nchains; c++)
		for (size_t i = 0; i + 1 < res->chains[c].nsteps; i++) {
			if (grow_einfo(r, &v, &n, &cap) < 0)
				goto out;
			v[n++] = (struct einfo){ .from = paths[c][i], .to = paths[c][i + 1] };
		}
	if ((k = edge_infos(r, v, n, 1)) < 0)
		goto out;
	n = (size_t)k;
	for (size_t c = 0; c < res->nchains; c++) {
		struct hw_refs_chain *ch = &res->chains[c];
		char line[4096];
		size_t len;

		if (!ch->found)
			continue;
		snprintf(line, sizeof line, "%s", ch->steps[0].obj.root ? ch->steps[0].obj.root : "?");
		for (size_t i = 0; i + 1 < ch->nsteps; i++) {
			struct einfo *ei = find_einfo(v, n, paths[c][i], paths[c][i + 1]);
			const char *lab = ei && ei->found && ei->label ? ei->label : "(?)";

			ch->steps[i + 1].edge = lab;
			ch->steps[i + 1].synthetic = ei && ei->found && ei->synthetic;
		}
		/* one line: each step is the holder's short type and the
		 * reference; an owner's __dict__ and the key in it make one
		 * step (".__dict__['x']") */
		for (size_t i = 0; i + 1 < ch->nsteps;) {
			struct einfo *ei = find_einfo(v, n, paths[c][i], paths[c][i + 1]);
			struct einfo *nx = i + 2 < ch->nsteps ?
				find_einfo(v, n, paths[c][i + 1], paths[c][i + 2]) : NULL;
			char hbuf[HW_TYPENAME_MAX];
			const char *holder = "";

			if (i > 0 && holder_name(r, paths[c][i], hbuf, sizeof hbuf) < 0)
				goto out;
			if (i > 0)
				holder = hbuf;

			len = strlen(line);
			if (ei && ei->found && ei->kind == HW_EDGE_DICT && nx && nx->found) {
				snprintf(line + len, sizeof line - len, "%s%s%s%s", ARROW, holder,
					 ch->steps[i + 1].edge, ch->steps[i + 2].edge);
				i += 2;
			} else {
				snprintf(line + len, sizeof line - len, "%s%s%s", ARROW, holder,
					 ch->steps[i + 1].edge);
				i += 1;
			}
		}
		len = strlen(line);
		snprintf(line + len, sizeof line - len, "%s%s", ARROW, ch->target.type);
		if (!(ch->line = keep(res, line, r->e)))
			goto out;
	}
	rc = 0;
out:
	free(v);
	return rc;
}

static int back_graph(struct hw_refs *r, const uint32_t *samples, size_t ns)
{
	struct hw_refs_result *res = &r->res;
	struct hw_rg_sub sub;
	struct einfo *v = NULL;
	long k;
	int rc = -1;

	hw_rg_sub_init(&sub);
	if (hw_refgraph_backrefs(r->g, samples, ns, r->o.graph_depth, r->o.graph_refs,
				 r->o.graph_nodes, &sub, r->e) < 0)
		return -1;
	res->graph_truncated = sub.truncated;
	if (!(res->gnodes = calloc(sub.nnodes ? sub.nnodes : 1, sizeof *res->gnodes)) ||
	    !(res->gedges = calloc(sub.nedges ? sub.nedges : 1, sizeof *res->gedges)) ||
	    !(v = calloc(sub.nedges ? sub.nedges : 1, sizeof *v))) {
		hw_err_set(r->e, HW_ENOMEM, ENOMEM, "drawing the graph");
		goto out;
	}
	for (size_t i = 0; i < sub.nnodes; i++) {
		fill_obj(r, sub.nodes[i], &res->gnodes[i].obj);
		res->gnodes[i].depth = sub.depth[i];
		res->gnodes[i].hidden = sub.hidden[i];
		res->gnodes[i].target = sub.depth[i] == 0;
	}
	res->ngnodes = sub.nnodes;
	for (size_t i = 0; i < sub.nedges; i++)
		v[i] = (struct einfo){ .from = sub.edges[i].from, .to = sub.edges[i].to };
	if ((k = edge_infos(r, v, sub.nedges, 1)) < 0)
		goto out;
	for (size_t i = 0; i < sub.nedges; i++) {
		struct einfo *ei = find_einfo(v, (size_t)k, sub.edges[i].from, sub.edges[i].to);
		size_t a = 0, b = 0;

		for (size_t j = 0; j < sub.nnodes; j++) {
			if (sub.nodes[j] == sub.edges[i].from)
				a = j;
			if (sub.nodes[j] == sub.edges[i].to)
				b = j;
		}
		res->gedges[i] = (struct hw_refs_gedge){ a, b,
			ei && ei->found && ei->label ? ei->label : "" };
	}
	res->ngedges = sub.nedges;
	rc = 0;
out:
	free(v);
	hw_rg_sub_fini(&sub);
	return rc;
}

static int query(struct hw_refs *r)
{
	struct hw_refs_result *res = &r->res;
	uint32_t n = hw_refgraph_nnodes(r->g), *inst = NULL, *rowof = NULL;
	uint32_t *samples = NULL, **paths = NULL;
	size_t ninst = 0, ns = 0;
	struct holders h = { 0 };
	struct hw_rg_chain rc;
	const char *matched;
	unsigned char *is_match = NULL;
	int ret = -1;

	hw_rg_chain_init(&rc);
	if (match_type(r, &matched) < 0)
		return -1;
	res->type = matched;
	if (!matched)
		return 0;
	/* by type first: types are few, nodes many (two types may share
	 * the name) */
	if (!(is_match = calloc(hw_refgraph_ntypes(r->g) + 1, 1)))
		goto nomem;
	for (uint32_t t = 0; t < hw_refgraph_ntypes(r->g); t++)
		is_match[t] = r->tnames[t] == matched || strcmp(r->tnames[t], matched) == 0;
	for (uint32_t u = 0; u < n; u++)
		ninst += is_match[hw_refgraph_type_id(r->g, u)];
	res->instances = ninst;
	if (!ninst) {
		free(is_match);
		return 0;
	}
	if (!(inst = malloc(ninst * sizeof *inst)))
		goto nomem;
	ninst = 0;
	for (uint32_t u = 0; u < n; u++)
		if (is_match[hw_refgraph_type_id(r->g, u)])
			inst[ninst++] = u;
	if (holders(r, inst, ninst, &h, &rowof) < 0)
		goto out;
	/* summary rows */
	res->nholders = h.n < r->o.holders ? h.n : r->o.holders;
	if (!(res->holders = calloc(res->nholders ? res->nholders : 1, sizeof *res->holders)))
		goto nomem;
	for (size_t i = 0; i < h.n; i++) {
		if (i < res->nholders)
			res->holders[i] = (struct hw_refs_holder){ h.rows[i].what,
				h.rows[i].instances, h.rows[i].referrers };
		else
			res->holders_other += h.rows[i].instances;
	}
	/* samples: the first instance of each holder row, most common rows
	 * first, then more of them round-robin */
	if (!(samples = malloc(r->o.samples * sizeof *samples)))
		goto nomem;
	for (size_t pass = 0; ns < r->o.samples && ns < ninst; pass++) {
		size_t before = ns;

		for (size_t row = 0; row < h.n && ns < r->o.samples; row++) {
			size_t seen = 0;

			for (size_t i = 0; i < ninst; i++)
				if (rowof[i] == row && seen++ == pass) {
					samples[ns++] = inst[i];
					break;
				}
		}
		if (ns == before)
			break;
	}
	if (!(res->chains = calloc(ns ? ns : 1, sizeof *res->chains)) ||
	    !(paths = calloc(ns ? ns : 1, sizeof *paths)))
		goto nomem;
	for (size_t i = 0; i < ns; i++) {
		size_t idx = 0;

		while (inst[idx] != samples[i])
			idx++;
		if (make_chain(r, samples[i], h.rows[rowof[idx]].what, &res->chains[i], &rc) < 0)
			goto out;
		res->nchains++;
		if (rc.found) {
			paths[i] = rc.path;
			rc.path = NULL;
			rc.len = 0;
		}
	}
	if (label_chains(r, paths) < 0)
		goto out;
	if (r->o.want_graph && back_graph(r, samples, ns) < 0)
		goto out;
	ret = 0;
	goto out;
nomem:
	hw_err_set(r->e, HW_ENOMEM, ENOMEM, "answering the query");
out:
	if (paths)
		for (size_t i = 0; i < ns; i++)
			free(paths[i]);
	free(paths);
	hw_rg_chain_fini(&rc);
	free(samples);
	free(rowof);
	free(inst);
	free(is_match);
	free(h.rows);
	free(h.map);
	return ret;
}

/* --- leaking objects --- */

struct leakctx {
	struct hw_refs *r;
	uint64_t *count;             /* per type id */
};

static int count_leak(void *arg, uint32_t n)
{
	struct leakctx *l = arg;

	l->count[hw_refgraph_type_id(l->r->g, n)]++;
	l->r->res.leaking_total++;
	return 0;
}

static int cmp_leak(const void *x, const void *y)
{
	const struct hw_refs_leak *a = x, *b = y;

	if (a->count != b->count)
		return a->count > b->count ? -1 : 1;
	return strcmp(a->type, b->type);
}

static int leaking(struct hw_refs *r)
{
	struct hw_refs_result *res = &r->res;
	uint32_t nt = hw_refgraph_ntypes(r->g), n = hw_refgraph_nnodes(r->g);
	struct leakctx l = { r, calloc(nt ? nt : 1, sizeof(uint64_t)) };

	if (!l.count)
		return hw_err_set(r->e, HW_ENOMEM, ENOMEM, "counting leaking objects");
	hw_refgraph_leaking(r->g, count_leak, &l);
	/* held for a known reason: no referrer, but a static type's or a C
	 * module's dict */
	for (uint32_t u = 0; u < n; u++) {
		const uint32_t *src;
		const struct hw_root *rt;
		size_t k = hw_refgraph_roots_of(r->g, u, &rt);

		if (!k || hw_refgraph_referrers(r->g, u, &src))
			continue;
		for (size_t i = 0; i < k; i++)
			if (rt[i].kind == HW_ROOT_STATIC_TYPE || rt[i].kind == HW_ROOT_C_HELD) {
				res->leaking_known++;
				break;
			}
	}
	res->leaking = calloc(nt ? nt : 1, sizeof *res->leaking);
	if (!res->leaking) {
		free(l.count);
		return hw_err_set(r->e, HW_ENOMEM, ENOMEM, "counting leaking objects");
	}
	for (uint32_t t = 0; t < nt; t++) {
		size_t k;

		if (!l.count[t])
			continue;
		for (k = 0; k < res->nleaking; k++)
			if (strcmp(res->leaking[k].type, r->tnames[t]) == 0)
				break;
		if (k == res->nleaking)
			res->leaking[res->nleaking++] = (struct hw_refs_leak){ r->tnames[t], 0 };
		res->leaking[k].count += l.count[t];
	}
	qsort(res->leaking, res->nleaking, sizeof *res->leaking, cmp_leak);
	free(l.count);
	return 0;
}

/* ------------------------------------------------------------------ */

int hw_refs_run(struct hw_refs *r, struct hw_snap *s,
		const struct hw_offsets *off, const struct hw_gcroots *roots,
		uint64_t deadline_ns, int allow_misses, int *partial,
		struct hw_err *e)
{
	struct hw_refs_result *res = &r->res;
	struct hw_walk_opts wo;
	struct hw_walk_stats ws;
	struct hw_roots_stats rs;
	uint64_t dict_type = 0, t0 = hw_now_ns(), t1;

	hw_refs_result_fini(res);
	hw_refgraph_clear(r->g);
	hw_modnames_free(r->mods);
	r->mods = NULL;
	r->s = s;
	r->off = off;
	r->e = e;
	r->deadline = deadline_ns;
	r->allow_misses = allow_misses;
	r->partial = 0;
	*partial = 0;

	memset(&wo, 0, sizeof wo);
	wo.visit = visit_node;
	wo.visit_arg = r;
	wo.deadline_ns = deadline_ns;
	wo.allow_misses = allow_misses;
	hw_typecount_clear(&r->tc);
	if (hw_gc_walk(s, off, roots, &wo, &r->tc, &ws, e) < 0)
		return -1;
	if (ws.partial) {
		if (!allow_misses)
			return hw_err_set(e, HW_ETIMEOUT, 0,
					  "the GC lists could not be walked within the pause "
					  "budget (--max-pause) with the target stopped: no "
					  "partial graph is shown, its chains could be wrong");
		r->partial = 1;
	}
	if (hw_refgraph_index(r->g, e) < 0 || name_types(r) < 0)
		return -1;
	res->objects = hw_refgraph_nnodes(r->g);
	t1 = hw_now_ns();
	res->walk_ns = t1 - t0;
	if (build_edges(r) < 0)
		return -1;
	res->edges = hw_refgraph_nedges(r->g);
	t0 = hw_now_ns();
	res->edges_ns = t0 - t1;
	if (hw_roots_find(r->g, s, off, r->objects, roots, r->interp_head, &r->mods, &rs, e) < 0)
		return -1;
	for (uint32_t t = 0; t < hw_refgraph_ntypes(r->g); t++)
		if (strcmp(r->tnames[t], "dict") == 0)
			dict_type = hw_refgraph_type_addr(r->g, t);
	if (hw_roots_static_dicts(r->g, s, off, r->objects, dict_type, &rs, e) < 0)
		return -1;
	snprintf(res->notes, sizeof res->notes, "%s", rs.notes);
	if (!(res->instances_how = keep(res, hw_objects_how(r->objects), e)))
		return -1;
	for (size_t i = 0; i < hw_refgraph_nroots(r->g); i++)
		res->roots[hw_refgraph_root(r->g, i)->kind]++;
	if (opaque_types(r) < 0)
		return -1;
	t1 = hw_now_ns();
	res->roots_ns = t1 - t0;
	if (r->o.type && query(r) < 0)
		return -1;
	if (r->o.want_leaking && leaking(r) < 0)
		return -1;
	res->query_ns = hw_now_ns() - t1;
	res->graph_bytes = hw_refgraph_peak_bytes(r->g);
	res->partial = r->partial;
	*partial = r->partial;
	return 0;
}

static int job_run(void *arg, struct hw_job_ctx *ctx, struct hw_err *e)
{
	struct hw_refs *r = arg;
	int partial = 0, rc;

	/* a copy taken later may hold another type at a freed one's address */
	hw_objects_forget(r->objects);
	rc = hw_refs_run(r, ctx->snap, &ctx->layout->off, ctx->roots, ctx->deadline_ns,
			 ctx->allow_misses, &partial, e);
	ctx->partial |= partial;
	return rc;
}

void hw_refs_job(struct hw_refs *r, struct hw_job *job)
{
	job->kind = "refs";
	job->run = job_run;
	job->arg = r;
}
