/* roots.h - what holds a heap's objects from outside the GC graph.
 *
 * The referrer graph (refgraph.h) knows which GC object refers to which;
 * a chain must start somewhere that is held from outside: this module
 * finds those places in a target's memory and records them as roots of
 * the graph, each with its kind and a label a person can read:
 *   - modules in sys.modules ("sys.modules['xmpp.dispatcher']"), found
 *     through the interpreter's modules dict;
 *   - objects the interpreter state holds: sys.modules itself,
 *     sys.__dict__, builtins, builtins_copy, the codec registry, the
 *     import machinery, fork and audit hooks ("interpreter sysdict");
 *   - every thread's running frames' locals (3.11+ interpreter frames,
 *     <= 3.10 frame objects, which are not GC-tracked while they run)
 *     and per-thread state (thread dict, the exception being raised or
 *     handled, context) ("thread 1402 frame serve local 'request'");
 *   - static types' dicts: 3.12+ keep them in the interpreter; before,
 *     a static type's dict is only found from the dict itself (a dict
 *     nothing refers to whose values' types point back at a static type
 *     whose tp_dict is that dict);
 *   - dict copies C extension modules keep in their PyModuleDef (m_copy).
 * The fields come from the layout (layout.h); a build that lacks some
 * gets fewer roots, and the notes say which were skipped.
 */
#ifndef HEAPWATCH_ROOTS_H
#define HEAPWATCH_ROOTS_H

#include <stddef.h>
#include <stdint.h>

#include "heapwatch/err.h"
#include "heapwatch/gcwalk.h"
#include "heapwatch/layout.h"
#include "heapwatch/objects.h"
#include "heapwatch/refgraph.h"
#include "heapwatch/snap.h"

#define HW_ROOTS_MAX_THREADS 4096
#define HW_ROOTS_MAX_FRAMES 100000   /* per thread */
#define HW_ROOTS_MAX_LOCALS 65536    /* per frame */

struct hw_roots_stats {
	unsigned interps, threads;
	uint64_t frames, locals;      /* frames walked, locals rooted */
	uint64_t modules;             /* modules found in sys.modules */
	uint64_t static_dicts;        /* static types' dicts */
	uint64_t module_copies;       /* C modules' dict copies */
	char notes[512];              /* what was skipped and why */
};

/* Module names by node, for descriptions ("module xmpp.dispatcher"). */
struct hw_modnames;
const char *hw_modnames_get(const struct hw_modnames *m, uint32_t node);
void hw_modnames_free(struct hw_modnames *m);

/* Find the roots of g (indexed and finished) in the memory s holds and
 * add them to g.  objects gives sys.modules' entries; *names (may be
 * NULL) receives the module names (free with hw_modnames_free).
 * interp_head_addr: the interp_head symbol (2.7, 3.6), 0 if none.
 * Unreadable roots are skipped and said in st->notes; fails only with
 * HW_EMISS (the copy lacks memory), HW_ELIMIT or HW_ENOMEM. */
int hw_roots_find(struct hw_refgraph *g, struct hw_snap *s,
		  const struct hw_offsets *off, struct hw_objects *objects,
		  const struct hw_gcroots *gr, uint64_t interp_head_addr,
		  struct hw_modnames **names, struct hw_roots_stats *st,
		  struct hw_err *e);

/* Dicts nothing refers to that are a static type's dict (before 3.12,
 * or an extension's static type): add them as HW_ROOT_STATIC_TYPE roots.
 * dict_type is the address of the dict type (0: unknown, nothing done).
 * Same errors as hw_roots_find. */
int hw_roots_static_dicts(struct hw_refgraph *g, struct hw_snap *s,
			  const struct hw_offsets *off,
			  struct hw_objects *objects, uint64_t dict_type,
			  struct hw_roots_stats *st, struct hw_err *e);

#endif
