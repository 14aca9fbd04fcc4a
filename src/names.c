/* names.c - name table and string pool; see include/heapwatch/names.h. */
#include "heapwatch/names.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ */
/* pool */

void hw_pool_init(struct hw_pool *p) { memset(p, 0, sizeof *p); }

void hw_pool_fini(struct hw_pool *p)
{
	if (!p)
		return;
	free(p->buf);
	memset(p, 0, sizeof *p);
}

void hw_pool_clear(struct hw_pool *p) { p->len = 0; }

int hw_pool_add(struct hw_pool *p, const char *s, size_t *off,
		struct hw_err *e)
{
	size_t n = strlen(s) + 1;

	if (p->len + n > p->cap) {
		size_t nc = p->cap ? p->cap * 2 : 65536;

		while (nc < p->len + n)
			nc *= 2;
		char *nb = realloc(p->buf, nc);

		if (!nb)
			return hw_err_set(e, HW_ENOMEM, ENOMEM, "growing the name pool");
		p->buf = nb;
		p->cap = nc;
	}
	memcpy(p->buf + p->len, s, n);
	*off = p->len;
	p->len += n;
	return 0;
}

const char *hw_pool_str(const struct hw_pool *p, size_t off)
{
	return p->buf + off;
}

/* ------------------------------------------------------------------ */
/* table */

void hw_nametab_init(struct hw_nametab *t) { memset(t, 0, sizeof *t); }

void hw_nametab_fini(struct hw_nametab *t)
{
	if (!t)
		return;
	free(t->hash);
	free(t->off);
	free(t->count);
	free(t->bytes);
	memset(t, 0, sizeof *t);
}

void hw_nametab_clear(struct hw_nametab *t)
{
	if (t->cap)
		memset(t->off, 0, t->cap * sizeof *t->off);
	t->n = 0;
}

static uint64_t fnv(const char *s)
{
	uint64_t h = 1469598103934665603ull;

	while (*s)
		h = (h ^ (unsigned char)*s++) * 1099511628211ull;
	return h;
}

static int grow(struct hw_nametab *t, struct hw_err *e)
{
	size_t nc = t->cap ? t->cap * 2 : 1024;
	struct hw_nametab g = { calloc(nc, sizeof *g.hash), calloc(nc, sizeof *g.off),
				calloc(nc, sizeof *g.count), calloc(nc, sizeof *g.bytes),
				nc, t->n };

	if (!g.hash || !g.off || !g.count || !g.bytes) {
		hw_nametab_fini(&g);
		return hw_err_set(e, HW_ENOMEM, ENOMEM, "growing the name table");
	}
	for (size_t k = 0; k < t->cap; k++) {
		if (!t->off[k])
			continue;
		size_t j = t->hash[k] & (nc - 1);

		while (g.off[j])
			j = (j + 1) & (nc - 1);
		g.hash[j] = t->hash[k];
		g.off[j] = t->off[k];
		g.count[j] = t->count[k];
		g.bytes[j] = t->bytes[k];
	}
	hw_nametab_fini(t);
	*t = g;
	return 0;
}

int hw_nametab_add(struct hw_nametab *t, struct hw_pool *p, const char *name,
		   uint64_t count, uint64_t bytes, struct hw_err *e)
{
	uint64_t h = fnv(name);
	size_t i, off;

	if ((t->n + 1) * 2 > t->cap && grow(t, e) < 0)
		return -1;
	for (i = h & (t->cap - 1); t->off[i]; i = (i + 1) & (t->cap - 1))
		if (t->hash[i] == h && strcmp(hw_pool_str(p, t->off[i] - 1), name) == 0) {
			t->count[i] += count;
			t->bytes[i] += bytes;
			return 0;
		}
	if (hw_pool_add(p, name, &off, e) < 0)
		return -1;
	t->hash[i] = h;
	t->off[i] = off + 1;
	t->count[i] = count;
	t->bytes[i] = bytes;
	t->n++;
	return 0;
}

static int cmp_count(const void *x, const void *y)
{
	const struct hw_name_row *a = x, *b = y;

	if (a->count != b->count)
		return a->count > b->count ? -1 : 1;
	if (a->bytes != b->bytes)
		return a->bytes > b->bytes ? -1 : 1;
	return strcmp(a->name, b->name);
}

static int cmp_bytes(const void *x, const void *y)
{
	const struct hw_name_row *a = x, *b = y;

	if (a->bytes != b->bytes)
		return a->bytes > b->bytes ? -1 : 1;
	if (a->count != b->count)
		return a->count > b->count ? -1 : 1;
	return strcmp(a->name, b->name);
}

int hw_nametab_rows(const struct hw_nametab *t, const struct hw_pool *p,
		    enum hw_name_order order, struct hw_name_row **rows,
		    size_t *n, struct hw_err *e)
{
	struct hw_name_row *r = calloc(t->n ? t->n : 1, sizeof *r);
	size_t k = 0;

	*rows = NULL;
	*n = 0;
	if (!r)
		return hw_err_set(e, HW_ENOMEM, ENOMEM, "sorting the names");
	for (size_t i = 0; i < t->cap; i++)
		if (t->off[i])
			r[k++] = (struct hw_name_row){ hw_pool_str(p, t->off[i] - 1),
						       t->count[i], t->bytes[i] };
	qsort(r, k, sizeof *r, order == HW_ORDER_BYTES ? cmp_bytes : cmp_count);
	*rows = r;
	*n = k;
	return 0;
}
