/* heapsizes.c - bytes per type and "dict of X" rows; see heapsizes.h.
 *
 * One walk: every object is sized as it is met; the dicts it owns go
 * into an owner map (dict address -> owner's type), and dict objects
 * themselves are set aside, since their owner may come later in the
 * lists.  After the walk each set-aside dict lands in "dict of <owner>"
 * or in the plain dict row.
 */
#include "heapwatch/heapsizes.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "heapwatch/objmodel.h"

#define TPF_DICT_SUBCLASS (1ull << 29)   /* object.h, every 3.x */

void hw_sizes_init(struct hw_sizes *z) { memset(z, 0, sizeof *z); }

void hw_sizes_fini(struct hw_sizes *z)
{
	free(z->rows);
	free(z->own_key);
	free(z->own_val);
	free(z->dicts);
	memset(z, 0, sizeof *z);
}

void hw_sizes_reset(struct hw_sizes *z)
{
	if (z->cap)
		memset(z->rows, 0, z->cap * sizeof *z->rows);
	if (z->own_cap)
		memset(z->own_key, 0, z->own_cap * sizeof *z->own_key);
	z->n = z->own_n = z->ndicts = 0;
	z->objects = z->bytes = z->approx = 0;
}

static size_t mix(uint64_t a, uint64_t b, size_t cap)
{
	return (size_t)(((a >> 3) ^ (b * 0x9E3779B97F4A7C15ull)) * 0xD6E8FEB86659FD93ull >> 17) &
	       (cap - 1);
}

static int row_add(struct hw_sizes *z, uint64_t type, uint64_t owner, uint64_t bytes,
		   uint64_t values, int approx, struct hw_err *e)
{
	size_t i;

	if ((z->n + 1) * 2 > z->cap) {
		size_t nc = z->cap ? z->cap * 2 : 1024;
		struct hw_sizes_row *nr = calloc(nc, sizeof *nr);

		if (!nr)
			return hw_err_set(e, HW_ENOMEM, ENOMEM, "growing the size table");
		for (size_t k = 0; k < z->cap; k++) {
			if (!z->rows[k].type_addr)
				continue;
			for (i = mix(z->rows[k].type_addr, z->rows[k].owner_addr, nc); nr[i].type_addr;
			     i = (i + 1) & (nc - 1))
				;
			nr[i] = z->rows[k];
		}
		free(z->rows);
		z->rows = nr;
		z->cap = nc;
	}
	for (i = mix(type, owner, z->cap);
	     z->rows[i].type_addr && (z->rows[i].type_addr != type || z->rows[i].owner_addr != owner);
	     i = (i + 1) & (z->cap - 1))
		;
	if (!z->rows[i].type_addr) {
		z->rows[i].type_addr = type;
		z->rows[i].owner_addr = owner;
		z->n++;
	}
	z->rows[i].count++;
	z->rows[i].bytes += bytes + values;
	z->rows[i].values_bytes += values;
	z->rows[i].approx += approx != 0;
	z->objects++;
	z->bytes += bytes + values;
	z->approx += approx != 0;
	return 0;
}

static int own_put(struct hw_sizes *z, uint64_t dict, uint64_t owner, struct hw_err *e)
{
	size_t i;

	if ((z->own_n + 1) * 2 > z->own_cap) {
		size_t nc = z->own_cap ? z->own_cap * 2 : 1024;
		uint64_t *nk = calloc(nc, 8), *nv = calloc(nc, 8);

		if (!nk || !nv) {
			free(nk);
			free(nv);
			return hw_err_set(e, HW_ENOMEM, ENOMEM, "growing the owner map");
		}
		for (size_t k = 0; k < z->own_cap; k++) {
			if (!z->own_key[k])
				continue;
			for (i = mix(z->own_key[k], 0, nc); nk[i]; i = (i + 1) & (nc - 1))
				;
			nk[i] = z->own_key[k];
			nv[i] = z->own_val[k];
		}
		free(z->own_key);
		free(z->own_val);
		z->own_key = nk;
		z->own_val = nv;
		z->own_cap = nc;
	}
	for (i = mix(dict, 0, z->own_cap); z->own_key[i] && z->own_key[i] != dict;
	     i = (i + 1) & (z->own_cap - 1))
		;
	if (!z->own_key[i])
		z->own_n++;
	z->own_key[i] = dict;
	z->own_val[i] = owner;
	return 0;
}

static uint64_t own_get(const struct hw_sizes *z, uint64_t dict)
{
	if (!z->own_cap)
		return 0;
	for (size_t i = mix(dict, 0, z->own_cap); z->own_key[i]; i = (i + 1) & (z->own_cap - 1))
		if (z->own_key[i] == dict)
			return z->own_val[i];
	return 0;
}

struct walkctx {
	struct hw_objects *o;
	struct hw_snap *s;
	struct hw_sizes *z;
};

static int visit(void *arg, uint64_t obj, uint64_t type, unsigned list, struct hw_err *e)
{
	struct walkctx *w = arg;
	struct hw_sizes *z = w->z;
	const struct hw_typeinfo *ti;
	uint64_t bytes, values, dict;
	int approx;

	(void)list;
	ti = hw_objects_type(w->o, w->s, type, e);
	if (!ti || hw_obj_size(w->o, w->s, obj, type, &bytes, &approx, e) < 0 ||
	    hw_obj_values_size(w->o, w->s, obj, type, &values, e) < 0 ||
	    hw_obj_owned_dict(w->o, w->s, obj, type, &dict, e) < 0)
		return -1;
	if (dict && own_put(z, dict, type, e) < 0)
		return -1;
	if (!(ti->flags & TPF_DICT_SUBCLASS))
		return row_add(z, type, 0, bytes, values, approx, e);
	if (z->ndicts == z->capdicts) {
		size_t nc = z->capdicts ? z->capdicts * 2 : 1024;
		void *nd = realloc(z->dicts, nc * sizeof *z->dicts);

		if (!nd)
			return hw_err_set(e, HW_ENOMEM, ENOMEM, "growing the dict list");
		z->dicts = nd;
		z->capdicts = nc;
	}
	z->dicts[z->ndicts].addr = obj;
	z->dicts[z->ndicts].type = type;
	z->dicts[z->ndicts].bytes = bytes + values;
	z->dicts[z->ndicts++].approx = approx;
	return 0;
}

int hw_sizes_walk(struct hw_objects *o, int forget, struct hw_snap *s,
		  const struct hw_offsets *off, const struct hw_gcroots *r,
		  const struct hw_walk_opts *opts, struct hw_typecount *tc,
		  struct hw_walk_stats *st, struct hw_sizes *z, struct hw_err *e)
{
	struct walkctx w = { o, s, z };
	struct hw_walk_opts wo;

	hw_sizes_reset(z);
	if (forget)
		hw_objects_forget(o);
	if (opts)
		wo = *opts;
	else
		memset(&wo, 0, sizeof wo);
	wo.visit = visit;
	wo.visit_arg = &w;
	if (hw_gc_walk(s, off, r, &wo, tc, st, e) < 0)
		return -1;
	for (size_t i = 0; i < z->ndicts; i++)
		if (row_add(z, z->dicts[i].type, own_get(z, z->dicts[i].addr),
			    z->dicts[i].bytes, 0, z->dicts[i].approx, e) < 0)
			return -1;
	return 0;
}
