/* typename.h - the names users know for remote type objects.
 *
 * Classes defined in Python (heap types) are named "module.qualname",
 * from the type's __qualname__ (ht_qualname; ht_name in 2.7) and the
 * "__module__" entry of its dict, as objgraph's long names do
 * ("__main__.Outer.Inner", "xmpp.protocol.Iq"); a module of "builtins"
 * is left out.  Static types keep their tp_name ("dict",
 * "collections.OrderedDict").  Every remote string is length-capped and
 * type-checked (its type must carry the str subclass flag) before use.
 */
#ifndef HEAPWATCH_TYPENAME_H
#define HEAPWATCH_TYPENAME_H

#include <stddef.h>
#include <stdint.h>

#include "heapwatch/err.h"
#include "heapwatch/layout.h"
#include "heapwatch/snap.h"

#define HW_TYPENAME_MAX 512   /* longest name kept, bytes incl. NUL */

/* Write the name of the type object at type_addr into buf (UTF-8, NUL
 * terminated, at most size-1 bytes; a longer name is cut at a character
 * boundary).  When the qualified name cannot be had (module or qualname
 * missing or not a str) the tp_name is used.  Fails with HW_EIO/HW_EMISS
 * when the type object or its tp_name cannot be read, HW_ECORRUPT when
 * tp_name is not a NUL-terminated string within HW_TYPENAME_MAX bytes. */
int hw_type_name(struct hw_snap *s, const struct hw_offsets *o,
		 uint64_t type_addr, char *buf, size_t size, struct hw_err *e);

/* Read a remote str object (3.x unicode, or 2.7 str) as UTF-8 into buf,
 * at most size-1 bytes.  Returns its length in bytes, or -1 (HW_ECORRUPT
 * if the object is not a str, or too long for buf). */
long hw_read_str(struct hw_snap *s, const struct hw_offsets *o,
		 uint64_t str_addr, char *buf, size_t size, struct hw_err *e);

#endif
