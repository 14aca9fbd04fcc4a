/* synth.h - synthetic CPython heaps laid out in a buffer, for tests and
 * fuzzing the walker without a live process.  The layout is a struct
 * hw_offsets chosen by the test (e.g. 3.11's or 3.14's numbers); the heap
 * is one region at SYNTH_BASE served through the buffer memory reader. */
#ifndef HW_TEST_SYNTH_H
#define HW_TEST_SYNTH_H

#include <stddef.h>
#include <stdint.h>

#include "heapwatch/layout.h"
#include "heapwatch/mem.h"

#define SYNTH_BASE 0x10000000ull

struct synth {
	struct hw_offsets o;
	unsigned char *buf;
	size_t size, used;
	uint64_t runtime, interp, gc;   /* addresses */
	uint64_t heads[4];              /* gen0..2, permanent */
	uint64_t type_type, str_type, dict_type;
	uint64_t tail[4];               /* last object of each list */
	uint64_t flag_next;             /* OR-ed into every object's _gc_next
					   (3.14.0-3.14.4 old-space bit) */
};

/* The 3.11 layout (pyenv 3.11.7 DWARF) and 3.14.0's (from the 3.14.0
 * headers: see tests/unit/check_gcwalk.c). */
void synth_layout_311(struct hw_offsets *o);
void synth_layout_3140(struct hw_offsets *o);
void synth_layout_27(struct hw_offsets *o);

/* New heap of size bytes with runtime, one interpreter, its GC state and
 * the basic types (type, str, dict).  For a 2.7 layout (rt_gc, interp_gc
 * absent) the generations sit at the start and runtime is the address of
 * a _PyGC_generation0 pointer. */
void synth_init(struct synth *h, const struct hw_offsets *o, size_t size);
void synth_fini(struct synth *h);

uint64_t synth_alloc(struct synth *h, size_t n);
void synth_w64(struct synth *h, uint64_t addr, uint64_t v);
uint64_t synth_r64(struct synth *h, uint64_t addr);
void synth_w32(struct synth *h, uint64_t addr, uint32_t v);
void synth_w8(struct synth *h, uint64_t addr, uint8_t v);

/* A str object holding utf8 (ASCII, or kind 2/4 compact when wide). */
uint64_t synth_str(struct synth *h, const char *utf8);
/* A type object.  heap: a heap type with ht_qualname = qualname and a
 * dict holding __module__ = module (NULL: no __module__). */
uint64_t synth_type(struct synth *h, const char *tp_name, int heap,
		    const char *qualname, const char *module);
/* A GC-tracked object of type t appended to list (0..3); returns the
 * object address (after its PyGC_Head). */
uint64_t synth_obj(struct synth *h, uint64_t t, int list);

/* The buffer reader over the heap (free with hw_mem_free). */
struct hw_mem *synth_mem(struct synth *h);
/* Roots for hw_gc_walk. */
uint64_t synth_runtime(struct synth *h);
/* GC head address of an object. */
uint64_t synth_head(struct synth *h, uint64_t obj);

#endif
