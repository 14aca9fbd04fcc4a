/* objects.c - referents, sizes and dict owners; see objects.h.
 *
 * Placeholder: the contract is in place so that its users can be built
 * against it; every object reports opaque until the rules land. */
#include "heapwatch/objects.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

struct hw_objects {
	const struct hw_layout *l;
};

struct hw_objects *hw_objects_new(const struct hw_target *t,
				  const struct hw_layout *l, struct hw_snap *s,
				  struct hw_err *e)
{
	struct hw_objects *o = calloc(1, sizeof *o);

	(void)t;
	(void)s;
	if (!o) {
		hw_err_set(e, HW_ENOMEM, ENOMEM, "allocating the object model");
		return NULL;
	}
	o->l = l;
	return o;
}

void hw_objects_free(struct hw_objects *o)
{
	free(o);
}

int hw_obj_referents(struct hw_objects *o, struct hw_snap *s,
		     uint64_t obj_addr, uint64_t type_addr, hw_edge_fn fn,
		     void *arg, enum hw_refs_status *status, struct hw_err *e)
{
	(void)o; (void)s; (void)obj_addr; (void)type_addr; (void)fn; (void)arg; (void)e;
	*status = HW_REFS_OPAQUE;
	return 0;
}

int hw_edge_label(struct hw_objects *o, struct hw_snap *s,
		  const struct hw_edge *ed, char *buf, size_t size,
		  struct hw_err *e)
{
	(void)o; (void)s; (void)e;
	if (size)
		snprintf(buf, size, "->%d", (int)ed->kind);
	return 0;
}

int hw_obj_size(struct hw_objects *o, struct hw_snap *s, uint64_t obj_addr,
		uint64_t type_addr, uint64_t *bytes, int *approx,
		struct hw_err *e)
{
	(void)o; (void)s; (void)obj_addr; (void)type_addr;
	*bytes = 0;
	*approx = 1;
	return hw_err_set(e, HW_ELAYOUT, 0, "object sizes are not implemented yet");
}
