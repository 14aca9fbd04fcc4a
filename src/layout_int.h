/* layout_int.h - what the files of the layout module share (layout.c,
 * layout_debug_offsets.c, layout_confirm.c, layout_scan.c); not part of
 * the public interface in include/heapwatch/layout.h. */
#ifndef HEAPWATCH_LAYOUT_INT_H
#define HEAPWATCH_LAYOUT_INT_H

#include <stddef.h>
#include <stdint.h>

#include "heapwatch/err.h"
#include "heapwatch/layout.h"

struct hw_mem;
struct hw_target;

#define FIELD_INDEX(name) (offsetof(struct hw_offsets, name) / sizeof(int64_t))
#define LINK_MASK (~(uint64_t)3)
#define TPFLAGS_HEAPTYPE (1ull << 9)
#define TPFLAGS_HAVE_GC (1ull << 14)
#define TPFLAGS_STRING_SUBCLASS_27 (1ull << 27)
#define TPFLAGS_UNICODE_SUBCLASS (1ull << 28)
#define TPFLAGS_TYPE_SUBCLASS (1ull << 31)
#define MAX_GC_STATE 65536      /* sizeof(struct _gc_runtime_state) cap */

/* Append to a NUL-terminated buffer, truncating. */
void hwl_appendf(char *buf, size_t size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* A line in l->notes (something the user should know about the layout). */
void hwl_note(struct hw_layout *l, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* A user-space, 8-aligned address. */
int hwl_plausible_ptr(uint64_t p);
/* One remote word; -1 when unreadable (no error filled). */
int hwl_rd64(struct hw_mem *m, uint64_t addr, uint64_t *v);
void hwl_pause_1ms(void);

/* Read _Py_DebugOffsets of t into l->off (fields it publishes; a note for
 * each that differs from what l->off held) and name it in l->detail.
 * *free_threaded is set from it (then l is not filled).  HW_ELAYOUT when
 * it is absent or does not fit its format's sizes, HW_EVERSION when no
 * format fits its version. */
int hwl_apply_debug_offsets(const struct hw_target *t, struct hw_mem *m,
			    struct hw_layout *l, int *free_threaded,
			    struct hw_err *e);

/* Confirm l's GC lists in the target's own GC state (derive: find the
 * generation lists, and the permanent one when l has no offset for it,
 * instead of refusing a difference).  Sets l->confirmed.  HW_ELAYOUT
 * naming src and what did not hold; HW_EBUSY when a collection runs
 * throughout. */
int hwl_confirm_gc(const struct hw_target *t, struct hw_mem *m,
		   struct hw_layout *l, const char *src, int derive,
		   struct hw_err *e);

/* Check a few classes' names as l reads them.  Sets l->names_confirmed
 * (0 when no class was found: inconclusive, not an error).  HW_ELAYOUT
 * naming src and the field when one reads wrong. */
int hwl_confirm_names(const struct hw_target *t, struct hw_mem *m,
		      struct hw_layout *l, const char *src, struct hw_err *e);

/* Find the generation lists by signature in the interpreter state (or
 * _PyRuntime for 3.7 and 3.8) and set l's GC-state fields from the one
 * address found.  HW_ELAYOUT when none or several fit. */
int hwl_apply_scan(const struct hw_target *t, struct hw_mem *m,
		   struct hw_layout *l, struct hw_err *e);

#endif
