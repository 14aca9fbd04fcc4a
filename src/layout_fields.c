/* layout_fields.c - the field table generated from HW_OFFSET_FIELDS. */
#include "heapwatch/layout.h"

#include "heapwatch/err.h"

const struct hw_offset_field hw_offset_fields[] = {
#define HW_OFFSET_ROW(name, desc) { #name, desc, offsetof(struct hw_offsets, name) },
	HW_OFFSET_FIELDS(HW_OFFSET_ROW)
#undef HW_OFFSET_ROW
};
const size_t hw_offset_nfields =
	sizeof hw_offset_fields / sizeof hw_offset_fields[0];

void hw_offsets_init(struct hw_offsets *o)
{
	for (size_t i = 0; i < hw_offset_nfields; i++)
		hw_offsets_set(o, i, HW_NOFIELD);
}

int64_t hw_offsets_get(const struct hw_offsets *o, size_t i)
{
	return *(const int64_t *)((const char *)o + hw_offset_fields[i].off);
}

void hw_offsets_set(struct hw_offsets *o, size_t i, int64_t v)
{
	*(int64_t *)((char *)o + hw_offset_fields[i].off) = v;
}

/* ------------------------------------------------------------------ */
/* validation */

#define HAS(f) (o->f != HW_NOFIELD)

/* off + size <= room, for a field within a struct of room bytes. */
static int within(struct hw_err *e, const char *field, int64_t off, int64_t size,
		  const char *what, int64_t room)
{
	if (off + size <= room)
		return 0;
	return hw_err_set(e, HW_ELAYOUT, 0, "%s %lld outside %s (%lld bytes)", field,
			  (long long)off, what, (long long)room);
}

int hw_offsets_validate(const struct hw_offsets *o, struct hw_err *e)
{
	for (size_t i = 0; i < hw_offset_nfields; i++) {
		int64_t v = hw_offsets_get(o, i);

		if (v != HW_NOFIELD && (v < 0 || v >= HW_FIELD_MAX))
			return hw_err_set(e, HW_ELAYOUT, 0,
					  "%s %lld is not an offset or size (0 to %lld)",
					  hw_offset_fields[i].name, (long long)v,
					  (long long)HW_FIELD_MAX - 1);
	}
	/* PyGC_Head: gcwalk.c reads its links out of a local copy */
	if (HAS(gchead_size) && (o->gchead_size < 16 || o->gchead_size > 64))
		return hw_err_set(e, HW_ELAYOUT, 0,
				  "gchead_size %lld is not a PyGC_Head size (16 to 64)",
				  (long long)o->gchead_size);
	if ((HAS(gchead_next) || HAS(gchead_prev) || HAS(gchead_refs)) && !HAS(gchead_size))
		return hw_err_set(e, HW_ELAYOUT, 0, "PyGC_Head fields without gchead_size");
	if ((HAS(gchead_next) && within(e, "gchead_next", o->gchead_next, 8, "PyGC_Head",
					o->gchead_size) < 0) ||
	    (HAS(gchead_prev) && within(e, "gchead_prev", o->gchead_prev, 8, "PyGC_Head",
					o->gchead_size) < 0) ||
	    (HAS(gchead_refs) && within(e, "gchead_refs", o->gchead_refs, 8, "PyGC_Head",
					o->gchead_size) < 0))
		return -1;
	/* the walker reads PyGC_Head and ob_type in one 128-byte piece */
	if (HAS(ob_type) && within(e, "ob_type", o->ob_type, 8,
				   "the object header read with PyGC_Head",
				   128 - (HAS(gchead_size) ? o->gchead_size : 0)) < 0)
		return -1;
	/* struct _gc_runtime_state */
	if (HAS(gc_gen_stride) && o->gc_gen_stride < 16)
		return hw_err_set(e, HW_ELAYOUT, 0,
				  "gc_gen_stride %lld is smaller than a list head (16 bytes)",
				  (long long)o->gc_gen_stride);
	if (HAS(gc_gen_threshold) && HAS(gc_gen_stride) &&
	    within(e, "gc_gen_threshold", o->gc_gen_threshold, 4, "a generation",
		   o->gc_gen_stride) < 0)
		return -1;
	if (HAS(gc_size)) {
		if ((HAS(gc_gens) && HAS(gc_gen_stride) &&
		     within(e, "gc_gens", o->gc_gens, 3 * o->gc_gen_stride,
			    "the GC state", o->gc_size) < 0) ||
		    (HAS(gc_permanent) && within(e, "gc_permanent", o->gc_permanent, 16,
						 "the GC state", o->gc_size) < 0) ||
		    (HAS(gc_collecting) && within(e, "gc_collecting", o->gc_collecting, 4,
						  "the GC state", o->gc_size) < 0) ||
		    (HAS(gc_generation0) && within(e, "gc_generation0", o->gc_generation0, 8,
						   "the GC state", o->gc_size) < 0))
			return -1;
	}
	/* dict entries are read in runs into buffers of 24-byte entries */
	if ((HAS(dk_entry_size) && (o->dk_entry_size < 16 || o->dk_entry_size > 24)) ||
	    (HAS(dk_uentry_size) && (o->dk_uentry_size < 16 || o->dk_uentry_size > 24)))
		return hw_err_set(e, HW_ELAYOUT, 0,
				  "dict entry sizes %lld/%lld are not 16 to 24 bytes",
				  (long long)o->dk_entry_size, (long long)o->dk_uentry_size);
	if ((HAS(dk_entry_key) && HAS(dk_entry_size) &&
	     within(e, "dk_entry_key", o->dk_entry_key, 8, "a dict entry", o->dk_entry_size) < 0) ||
	    (HAS(dk_entry_value) && HAS(dk_entry_size) &&
	     within(e, "dk_entry_value", o->dk_entry_value, 8, "a dict entry",
		    o->dk_entry_size) < 0) ||
	    (HAS(dk_uentry_key) && HAS(dk_uentry_size) &&
	     within(e, "dk_uentry_key", o->dk_uentry_key, 8, "a dict entry",
		    o->dk_uentry_size) < 0) ||
	    (HAS(dk_uentry_value) && HAS(dk_uentry_size) &&
	     within(e, "dk_uentry_value", o->dk_uentry_value, 8, "a dict entry",
		    o->dk_uentry_size) < 0))
		return -1;
	/* set entries likewise, 16 bytes */
	if (HAS(setentry_size) && o->setentry_size != 16)
		return hw_err_set(e, HW_ELAYOUT, 0, "setentry_size %lld is not 16 bytes",
				  (long long)o->setentry_size);
	if (HAS(setentry_key) && HAS(setentry_size) &&
	    within(e, "setentry_key", o->setentry_key, 8, "a set entry", o->setentry_size) < 0)
		return -1;
	return 0;
}

static const char *const source_names[] = {
	[HW_SRC_NONE] = "none", [HW_SRC_DWARF] = "dwarf",
	[HW_SRC_DEBUG_OFFSETS] = "debug_offsets", [HW_SRC_TABLE] = "table",
	[HW_SRC_SCAN] = "scan",
};

const char *hw_layout_source_name(enum hw_layout_source s)
{
	if ((unsigned)s >= sizeof source_names / sizeof source_names[0])
		return "none";
	return source_names[s];
}

int hw_layout_source_parse(const char *name, enum hw_layout_source *out)
{
	for (unsigned i = 0; i < sizeof source_names / sizeof source_names[0]; i++) {
		if (name && source_names[i] && __builtin_strcmp(name, source_names[i]) == 0) {
			*out = (enum hw_layout_source)i;
			return 0;
		}
	}
	return -1;
}
