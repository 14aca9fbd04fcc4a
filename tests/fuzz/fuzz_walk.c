/* fuzz_walk.c - libFuzzer target: arbitrary memory images and layouts
 * through the layout validator, the walker and the type namer.
 *
 * Input: byte 0 chooses the layout (3.11, 3.14.0, 2.7) and byte 1 the
 * mode (bit 0: an offline snapshot of a prefix of the image, not the
 * live cache; bit 1: misses allowed; bit 7: the layout is perturbed).
 * With bit 7, the next PERTURB_BYTES bytes are PERTURBS (field, change)
 * pairs applied to the layout's fields that the walker and the namer
 * read.  The rest is the memory at SYNTH_BASE, as tests/fuzz/gen_seeds.c
 * lays out valid heaps.  Every input must end in a census or a clear
 * error: a layout the validator refuses is refused by the walker too;
 * no crash, no hang, no unbounded allocation. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "heapwatch/gcwalk.h"
#include "heapwatch/snap.h"
#include "heapwatch/typename.h"
#include "synth.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define PERTURBS 4
#define PERTURB_BYTES (2 * PERTURBS)

/* The fields the walker and the type namer read (by name: the order of
 * HW_OFFSET_FIELDS changes as fields are added). */
static const char *const walked[] = {
	"rt_interp_head", "rt_gc", "interp_next", "interp_gc", "gc_gens",
	"gc_gen_stride", "gc_gen_threshold", "gc_permanent", "gc_collecting",
	"gc_generation0", "gc_size", "gchead_size", "gchead_next", "gchead_prev",
	"gchead_refs", "ob_type", "tp_name", "tp_flags", "tp_dict", "ht_name",
	"ht_qualname", "str_length", "str_state", "str_ascii_size",
	"str_compact_size", "bytes_size", "bytes_sval", "dict_keys", "dict_mask",
	"dk_size", "dk_log2_size", "dk_log2_index_bytes", "dk_kind",
	"dk_nentries", "dk_indices", "dk_entry_size", "dk_uentry_size",
};
#define NWALKED (sizeof walked / sizeof walked[0])

/* Change one field: small steps either way, absent, or far out. */
static void perturb(struct hw_offsets *o, uint8_t which, uint8_t how)
{
	const char *name = walked[which % NWALKED];
	int64_t v;

	for (size_t i = 0; i < hw_offset_nfields; i++) {
		if (strcmp(hw_offset_fields[i].name, name) != 0)
			continue;
		v = hw_offsets_get(o, i);
		switch (how >> 6) {
		case 0: v += (int64_t)(how & 63); break;
		case 1: v -= (int64_t)(how & 63); break;
		case 2: v = (how & 1) ? HW_NOFIELD : (int64_t)(how & 63) * 8; break;
		default: v = (how & 1) ? -(int64_t)(how & 63) - 2 :
				(int64_t)((uint64_t)1 << (how & 62)); break;
		}
		hw_offsets_set(o, i, v);
		return;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct hw_offsets o;
	struct hw_gcroots r = { 0 };
	struct hw_walk_opts wo = { .max_objects = 1u << 20 };
	struct hw_walk_stats st;
	struct hw_typecount tc;
	struct hw_mem *m;
	struct hw_snap *s;
	struct hw_err e;
	char name[HW_TYPENAME_MAX];

	size_t hdr = 2;
	int valid;

	if (size < 2 || size > (1u << 20) + 2 + PERTURB_BYTES)
		return 0;
	switch (data[0] % 3) {
	case 0: synth_layout_311(&o); r.runtime_addr = SYNTH_BASE; break;
	case 1: synth_layout_3140(&o); r.runtime_addr = SYNTH_BASE; break;
	default: synth_layout_27(&o); r.gen0_ptr_addr = SYNTH_BASE + 128; break;
	}
	if (data[1] & 0x80) {
		if (size < 2 + PERTURB_BYTES)
			return 0;
		for (int k = 0; k < PERTURBS; k++)
			perturb(&o, data[2 + 2 * k], data[3 + 2 * k]);
		hdr += PERTURB_BYTES;
	}
	valid = hw_offsets_validate(&o, &e) == 0;
	/* A private copy: the walker must not depend on the input staying
	 * put, and ASan then sees any read past the image. */
	size_t len = size - hdr;
	unsigned char *img = malloc(len ? len : 1);

	if (!img)
		return 0;
	memcpy(img, data + hdr, len);
	struct hw_mem_region reg = { SYNTH_BASE, img, len };

	m = hw_mem_open_buffer(&reg, 1, NULL);
	s = hw_snap_new(m, 64u << 20, NULL);
	hw_typecount_init(&tc);
	if (m && s) {
		if (data[1] & 1) {
			/* offline: a snapshot of the image's first half */
			struct hw_pageset ps;

			hw_pageset_init(&ps);
			hw_pageset_add(&ps, SYNTH_BASE, len / 2, NULL);
			hw_snap_reset(s, 0);
			(void)hw_snap_fill(s, &ps, 0, &e);
			hw_pageset_fini(&ps);
			wo.allow_misses = (data[1] & 2) != 0;
		}
		(void)hw_gc_check(s, &o, &r, &e);
		/* name whatever was counted, even when the walk failed */
		if (hw_gc_walk(s, &o, &r, &wo, &tc, &st, &e) == 0 ? !valid :
		    !valid && e.code != HW_ELAYOUT)
			abort(); /* an invalid layout must be refused as such */
		if (!valid && tc.n)
			abort(); /* ... before anything is counted */
		if (valid) {
			for (size_t i = 0; i < tc.cap; i++)
				if (tc.type[i])
					(void)hw_type_name(s, &o, tc.type[i], name,
							   sizeof name, &e);
		}
	}
	hw_typecount_fini(&tc);
	hw_snap_free(s);
	hw_mem_free(m);
	free(img);
	return 0;
}
