/* pyread.h - checked reads of CPython values and containers from a snap.
 *
 * The object model's building blocks: a pointer that must look like an
 * object, a tuple's items, a dict's entries (every table format from
 * 3.6 to 3.15: general, unicode and split keys, 3.13 embedded values),
 * a short str or int for a label.  Everything is read through struct
 * hw_snap, so a missing page is HW_EMISS (the caller widens its copy);
 * every length is checked against what the container itself says and
 * against fixed caps, so a corrupt heap gives HW_ECORRUPT, never a
 * crash or an endless loop.  Offsets come from struct hw_offsets, never
 * from version numbers.
 */
#ifndef HEAPWATCH_PYREAD_H
#define HEAPWATCH_PYREAD_H

#include <stddef.h>
#include <stdint.h>

#include "heapwatch/err.h"
#include "heapwatch/layout.h"
#include "heapwatch/snap.h"

/* Caps on what one container may claim; past them it is corrupt. */
#define HW_PY_MAX_ITEMS   (1ll << 28)  /* list, tuple, set slots, dict entries */
#define HW_PY_MAX_CHAIN   64           /* tp_base / MRO walks */

/* A remote object pointer is plausible: non-NULL, 8-aligned, in the
 * user half of a 64-bit address space. */
static inline int hw_py_plausible(uint64_t p)
{
	return p >= 4096 && p < (1ull << 56) && (p & 7) == 0;
}

int hw_py_read_u64(struct hw_snap *s, uint64_t addr, uint64_t *v, struct hw_err *e);
int hw_py_read_i64(struct hw_snap *s, uint64_t addr, int64_t *v, struct hw_err *e);

/* The pointer field at obj + off (off >= 0, else *v = 0: the build has
 * no such field).  A value that is neither NULL nor plausible is
 * HW_ECORRUPT naming the field. */
int hw_py_read_obj(struct hw_snap *s, uint64_t obj, int64_t off,
		   const char *what, uint64_t *v, struct hw_err *e);

/* Read n object pointers starting at addr into out (NULL slots kept as
 * 0); an implausible non-NULL slot is HW_ECORRUPT. */
int hw_py_read_ptrs(struct hw_snap *s, uint64_t addr, uint64_t n,
		    uint64_t *out, struct hw_err *e);

/* One entry of a dict, in table order. */
struct hw_dict_entry {
	uint64_t key;          /* key object, 0 for an unused slot */
	uint64_t value;        /* value object, 0 for deleted/unused */
	uint64_t index;        /* entry index in the keys table */
};

/* What a dict's tables say about it, for sizes and referents. */
struct hw_dict_info {
	uint64_t keys;          /* PyDictKeysObject * */
	uint64_t values;        /* ma_values, 0 when combined */
	uint64_t values_array;  /* where value i is: values + dv_values */
	int64_t dk_refcnt;
	uint64_t dk_size;       /* slots (1 << dk_log2_size, or dk_size) */
	uint64_t dk_usable;
	uint64_t dk_nentries;
	uint64_t index_bytes;   /* bytes of the index table */
	uint64_t entries;       /* address of entry 0 */
	uint64_t entry_size;    /* 24 general, 16 unicode/split (3.11+) */
	int general;            /* general table: visit keys too.  3.11+:
				   dk_kind == general; 3.6-3.10: dk_lookup
				   is lookdict (when known, else keys are
				   checked for str, see hw_dict_info) */
	int split;              /* ma_values != NULL */
	int embedded;           /* 3.13+: values embedded in an object */
	int kind;               /* dk_kind (3.11+), -1 before */
};

/* Read and check a dict's headers.  lookdict_addr: the general lookup
 * function on 3.6-3.10 (0 when unknown: general is then decided by
 * whether any key is not an exact str, see pyread.c).  str_type: the
 * address of PyUnicode_Type (for that check). */
int hw_dict_info(struct hw_snap *s, const struct hw_offsets *o,
		 uint64_t dict, uint64_t lookdict_addr, uint64_t str_type,
		 struct hw_dict_info *di, struct hw_err *e);

/* Entries of a keys table (of a dict, or a heap type's cached keys),
 * with the values of di (combined or split).  Calls fn for every entry
 * in [0, dk_nentries), including unused ones (key 0) so indexes line
 * up with split values.  fn returns 0 to go on, -1 to stop with e
 * set. */
typedef int (*hw_dict_entry_fn)(void *arg, const struct hw_dict_entry *en,
				struct hw_err *e);
int hw_dict_entries(struct hw_snap *s, const struct hw_offsets *o,
		    const struct hw_dict_info *di, hw_dict_entry_fn fn,
		    void *arg, struct hw_err *e);

/* Read a keys table alone (a heap type's ht_cached_keys): fills di with
 * no values. */
int hw_keys_info(struct hw_snap *s, const struct hw_offsets *o,
		 uint64_t keys, struct hw_dict_info *di, struct hw_err *e);

/* The key object of entry i of a keys table, 0 if none. */
int hw_keys_entry_key(struct hw_snap *s, const struct hw_offsets *o,
		      const struct hw_dict_info *di, uint64_t i, uint64_t *key,
		      struct hw_err *e);

/* Look up a str key in a dict: *value = its value or 0.  Keys that are
 * not str are skipped. */
int hw_dict_get_str(struct hw_snap *s, const struct hw_offsets *o,
		    uint64_t dict, const char *want, uint64_t *value,
		    struct hw_err *e);

/* The object at obj is a str equal to want (1), another str or not a
 * str (0), or unreadable (-1). */
int hw_str_equals(struct hw_snap *s, const struct hw_offsets *o,
		  uint64_t obj, const char *want, struct hw_err *e);

/* Read an int object's value when it fits in int64 (1), or say it does
 * not (0: *v untouched).  long_rule: hw_pyconst.long_size_rule. */
int hw_read_small_int(struct hw_snap *s, const struct hw_offsets *o,
		      int long_rule, uint64_t obj, int64_t *v, struct hw_err *e);

/* A tuple's size and its item pointer array address. */
int hw_tuple_items(struct hw_snap *s, const struct hw_offsets *o,
		   uint64_t tuple, uint64_t *n, uint64_t *items, struct hw_err *e);

#endif
