/* fuzz_walk.c - libFuzzer target: arbitrary memory images through the
 * walker and the type namer.
 *
 * Input: byte 0 chooses the layout (3.11, 3.14.0, 2.7) and byte 1 the
 * mode (live cache, or an offline snapshot of a prefix of the image);
 * the rest is the memory at SYNTH_BASE, as tests/fuzz/gen_seeds.c lays
 * out valid heaps.  Every input must end in a census or a clear error:
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

	if (size < 2 || size > (1u << 20) + 2)
		return 0;
	switch (data[0] % 3) {
	case 0: synth_layout_311(&o); r.runtime_addr = SYNTH_BASE; break;
	case 1: synth_layout_3140(&o); r.runtime_addr = SYNTH_BASE; break;
	default: synth_layout_27(&o); r.gen0_ptr_addr = SYNTH_BASE + 128; break;
	}
	/* A private copy: the walker must not depend on the input staying
	 * put, and ASan then sees any read past the image. */
	size_t len = size - 2;
	unsigned char *img = malloc(len ? len : 1);

	if (!img)
		return 0;
	memcpy(img, data + 2, len);
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
		(void)hw_gc_walk(s, &o, &r, &wo, &tc, &st, &e);
		{
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
