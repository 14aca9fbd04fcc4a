/* layout_fields.c - the field table generated from HW_OFFSET_FIELDS. */
#include "heapwatch/layout.h"

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
