/* dwarf.c - struct offsets from DWARF; see hw_target_dwarf() in target.h.
 *
 * libdwfl reports the interpreter's object offline and finds its DWARF
 * either inside it or in a separate debug file (build-id under
 * /usr/lib/debug/.build-id, or .gnu_debuglink) through
 * dwfl_standard_find_debuginfo.  Types are found by name among the
 * top-level DIEs of the compile units, the CUs that define CPython's
 * internals first (gcmodule.c, dictobject.c, ...), and member offsets
 * follow dotted paths through nested and anonymous structs and unions.
 * What to look up is one table (specs[]) of alternatives per field.
 * Results are cached per file: a daemon with many workers of one build
 * reads the DWARF once.
 */
#include "heapwatch/target.h"

#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define FIELD_INDEX(name) (offsetof(struct hw_offsets, name) / sizeof(int64_t))
#define MAXALT 3

/* "Type:member.path", or "sizeof:Type". */
static const struct spec {
	size_t field;
	const char *alt[MAXALT];
} specs[] = {
	{ FIELD_INDEX(rt_interp_head), { "pyruntimestate:interpreters.head", "_PyRuntimeState:interpreters.head" } },
	{ FIELD_INDEX(rt_gc), { "pyruntimestate:gc", "_PyRuntimeState:gc" } },
	{ FIELD_INDEX(interp_next), { "_is:next" } },
	{ FIELD_INDEX(interp_gc), { "_is:gc" } },
	{ FIELD_INDEX(gc_gens), { "_gc_runtime_state:generations", "_gc_runtime_state:young" } },
	{ FIELD_INDEX(gc_gen_stride), { "sizeof:gc_generation" } },
	{ FIELD_INDEX(gc_gen_threshold), { "gc_generation:threshold" } },
	{ FIELD_INDEX(gc_permanent), { "_gc_runtime_state:permanent_generation" } },
	{ FIELD_INDEX(gc_collecting), { "_gc_runtime_state:collecting" } },
	{ FIELD_INDEX(gc_generation0), { "_gc_runtime_state:generation0" } },
	{ FIELD_INDEX(gc_size), { "sizeof:_gc_runtime_state" } },
	{ FIELD_INDEX(gchead_size), { "sizeof:PyGC_Head" } },
	{ FIELD_INDEX(gchead_next), { "PyGC_Head:_gc_next", "PyGC_Head:gc.gc_next" } },
	{ FIELD_INDEX(gchead_prev), { "PyGC_Head:_gc_prev", "PyGC_Head:gc.gc_prev" } },
	{ FIELD_INDEX(gchead_refs), { "PyGC_Head:gc.gc_refs" } },
	{ FIELD_INDEX(ob_type), { "_object:ob_type" } },
	{ FIELD_INDEX(tp_name), { "_typeobject:tp_name" } },
	{ FIELD_INDEX(tp_flags), { "_typeobject:tp_flags" } },
	{ FIELD_INDEX(tp_dict), { "_typeobject:tp_dict" } },
	{ FIELD_INDEX(ht_name), { "_heaptypeobject:ht_name" } },
	{ FIELD_INDEX(ht_qualname), { "_heaptypeobject:ht_qualname" } },
	{ FIELD_INDEX(str_length), { "PyASCIIObject:length" } },
	{ FIELD_INDEX(str_state), { "PyASCIIObject:state" } },
	{ FIELD_INDEX(str_ascii_size), { "sizeof:PyASCIIObject" } },
	{ FIELD_INDEX(str_compact_size), { "sizeof:PyCompactUnicodeObject" } },
	{ FIELD_INDEX(bytes_size), { "PyStringObject:ob_size" } },
	{ FIELD_INDEX(bytes_sval), { "PyStringObject:ob_sval" } },
	{ FIELD_INDEX(dict_keys), { "PyDictObject:ma_keys", "PyDictObject:ma_table" } },
	{ FIELD_INDEX(dict_mask), { "PyDictObject:ma_mask" } },
	{ FIELD_INDEX(dk_size), { "_dictkeysobject:dk_size" } },
	{ FIELD_INDEX(dk_log2_size), { "_dictkeysobject:dk_log2_size" } },
	{ FIELD_INDEX(dk_log2_index_bytes), { "_dictkeysobject:dk_log2_index_bytes" } },
	{ FIELD_INDEX(dk_kind), { "_dictkeysobject:dk_kind" } },
	{ FIELD_INDEX(dk_nentries), { "_dictkeysobject:dk_nentries" } },
	{ FIELD_INDEX(dk_indices), { "_dictkeysobject:dk_indices" } },
	{ FIELD_INDEX(dk_entry_size), { "sizeof:PyDictKeyEntry" } },
	{ FIELD_INDEX(dk_uentry_size), { "sizeof:PyDictUnicodeEntry" } },
};
#define NSPECS (sizeof specs / sizeof specs[0])

/* CUs that define the internals: read first (a full scan is slower). */
static const char *const first_cus[] = {
	"gcmodule.c", "gc.c", "dictobject.c", "typeobject.c", "unicodeobject.c",
	"stringobject.c", "pystate.c", "object.c",
};

#define MAXTYPES 32
struct typetab {
	const char *name[MAXTYPES];
	Dwarf_Die die[MAXTYPES];
	int found[MAXTYPES];
	size_t n;
};

static void want(struct typetab *tt, const char *name, size_t len)
{
	for (size_t i = 0; i < tt->n; i++)
		if (strlen(tt->name[i]) == len && strncmp(tt->name[i], name, len) == 0)
			return;
	if (tt->n < MAXTYPES) {
		char *copy = strndup(name, len);

		if (copy)
			tt->name[tt->n++] = copy;
	}
}

static int all_found(const struct typetab *tt)
{
	for (size_t i = 0; i < tt->n; i++)
		if (!tt->found[i])
			return 0;
	return 1;
}

/* Strip typedefs and qualifiers. */
static int peel(Dwarf_Die *die, Dwarf_Die *out)
{
	Dwarf_Die cur = *die;

	for (int i = 0; i < 16; i++) {
		int tag = dwarf_tag(&cur);
		Dwarf_Attribute a;

		if (tag != DW_TAG_typedef && tag != DW_TAG_const_type &&
		    tag != DW_TAG_volatile_type && tag != DW_TAG_atomic_type) {
			*out = cur;
			return 0;
		}
		if (!dwarf_attr(&cur, DW_AT_type, &a) || !dwarf_formref_die(&a, &cur))
			return -1;
	}
	return -1;
}

static int is_complete(Dwarf_Die *d)
{
	Dwarf_Die t;

	if (peel(d, &t) < 0)
		return 0;
	int tag = dwarf_tag(&t);

	if (tag != DW_TAG_structure_type && tag != DW_TAG_union_type)
		return 0;
	return !dwarf_hasattr(&t, DW_AT_declaration);
}

static void scan_cu(Dwarf_Die *cu, struct typetab *tt)
{
	Dwarf_Die child;

	if (dwarf_child(cu, &child) != 0)
		return;
	do {
		int tag = dwarf_tag(&child);
		const char *nm;

		if (tag != DW_TAG_structure_type && tag != DW_TAG_union_type &&
		    tag != DW_TAG_typedef)
			continue;
		nm = dwarf_diename(&child);
		if (!nm)
			continue;
		for (size_t i = 0; i < tt->n; i++)
			if (!tt->found[i] && strcmp(nm, tt->name[i]) == 0 && is_complete(&child)) {
				tt->die[i] = child;
				tt->found[i] = 1;
			}
	} while (dwarf_siblingof(&child, &child) == 0);
}

static int cu_is_first(Dwarf_Die *cu)
{
	const char *nm = dwarf_diename(cu);
	size_t l;

	if (!nm)
		return 0;
	l = strlen(nm);
	for (size_t i = 0; i < sizeof first_cus / sizeof first_cus[0]; i++) {
		size_t k = strlen(first_cus[i]);

		if (l >= k && strcmp(nm + l - k, first_cus[i]) == 0 &&
		    (l == k || nm[l - k - 1] == '/'))
			return 1;
	}
	return 0;
}

static void scan_all(Dwarf *dw, struct typetab *tt, int first_only)
{
	Dwarf_Off off = 0, next;
	size_t hsize;

	while (!all_found(tt) && dwarf_nextcu(dw, off, &next, &hsize, NULL, NULL, NULL) == 0) {
		Dwarf_Die cu;

		if (dwarf_offdie(dw, off + hsize, &cu) && cu_is_first(&cu) == first_only)
			scan_cu(&cu, tt);
		off = next;
	}
}

/* Offset of a member along a dotted path, through anonymous members. */
static int member_offset(Dwarf_Die *type, const char *path, int64_t *out)
{
	Dwarf_Die t, m;
	const char *dot = strchr(path, '.');
	size_t len = dot ? (size_t)(dot - path) : strlen(path);

	if (peel(type, &t) < 0 || dwarf_child(&t, &m) != 0)
		return -1;
	do {
		Dwarf_Attribute a;
		Dwarf_Word loc = 0;
		const char *nm;

		if (dwarf_tag(&m) != DW_TAG_member)
			continue;
		if (dwarf_attr(&m, DW_AT_data_member_location, &a) && dwarf_formudata(&a, &loc) != 0)
			continue;
		nm = dwarf_diename(&m);
		Dwarf_Die mt;

		if (!dwarf_attr(&m, DW_AT_type, &a) || !dwarf_formref_die(&a, &mt))
			continue;
		if (!nm) {
			/* anonymous struct or union: look inside */
			int64_t inner;

			if (member_offset(&mt, path, &inner) == 0) {
				*out = (int64_t)loc + inner;
				return 0;
			}
			continue;
		}
		if (strlen(nm) != len || strncmp(nm, path, len) != 0)
			continue;
		if (!dot) {
			*out = (int64_t)loc;
			return 0;
		}
		int64_t inner;

		if (member_offset(&mt, dot + 1, &inner) < 0)
			return -1;
		*out = (int64_t)loc + inner;
		return 0;
	} while (dwarf_siblingof(&m, &m) == 0);
	return -1;
}

static Dwarf_Die *lookup_type(struct typetab *tt, const char *name, size_t len)
{
	for (size_t i = 0; i < tt->n; i++)
		if (tt->found[i] && strlen(tt->name[i]) == len &&
		    strncmp(tt->name[i], name, len) == 0)
			return &tt->die[i];
	return NULL;
}

static void fill(struct typetab *tt, struct hw_offsets *o)
{
	for (size_t s = 0; s < NSPECS; s++) {
		for (int k = 0; k < MAXALT && specs[s].alt[k]; k++) {
			const char *a = specs[s].alt[k];
			const char *colon = strchr(a, ':');
			int64_t v;

			if (strncmp(a, "sizeof:", 7) == 0) {
				Dwarf_Die *d = lookup_type(tt, a + 7, strlen(a + 7));
				Dwarf_Die t;
				Dwarf_Word size;

				if (d && peel(d, &t) == 0 && dwarf_aggregate_size(&t, &size) == 0) {
					hw_offsets_set(o, specs[s].field, (int64_t)size);
					break;
				}
				continue;
			}
			Dwarf_Die *d = lookup_type(tt, a, (size_t)(colon - a));

			if (d && member_offset(d, colon + 1, &v) == 0) {
				hw_offsets_set(o, specs[s].field, v);
				break;
			}
		}
	}
	/* 2.7 and 3.6 keep generations[] as a static array, not a member:
	 * the lists start at *_PyGC_generation0 itself. */
	if (o->gc_gens < 0 && o->gc_gen_stride > 0 && o->rt_gc < 0 && o->interp_gc < 0)
		o->gc_gens = 0;
}

/* ---- a small cache, keyed by file identity ---- */

#define CACHE_SLOTS 8
static struct cache_ent {
	dev_t dev;
	ino_t ino;
	time_t mtime;
	int valid;
	struct hw_offsets off;
	char where[4096];
} cache[CACHE_SLOTS];
static unsigned cache_next;

static int dwarf_file(const char *path, struct hw_offsets *o, char *where,
		      size_t where_size, struct hw_err *e)
{
	static const Dwfl_Callbacks cb = {
		.find_elf = dwfl_build_id_find_elf,
		.find_debuginfo = dwfl_standard_find_debuginfo,
		.section_address = dwfl_offline_section_address,
	};
	struct typetab tt;
	struct stat st;
	Dwfl *dwfl = NULL;
	Dwfl_Module *mod;
	Dwarf *dw;
	Dwarf_Addr bias;
	int rc = -1;

	if (stat(path, &st) == 0)
		for (unsigned i = 0; i < CACHE_SLOTS; i++)
			if (cache[i].valid && cache[i].dev == st.st_dev &&
			    cache[i].ino == st.st_ino && cache[i].mtime == st.st_mtime) {
				*o = cache[i].off;
				if (where_size)
					snprintf(where, where_size, "%s", cache[i].where);
				return 0;
			}
	memset(&tt, 0, sizeof tt);
	for (size_t s = 0; s < NSPECS; s++)
		for (int k = 0; k < MAXALT && specs[s].alt[k]; k++) {
			const char *a = specs[s].alt[k];

			if (strncmp(a, "sizeof:", 7) == 0)
				want(&tt, a + 7, strlen(a + 7));
			else
				want(&tt, a, (size_t)(strchr(a, ':') - a));
		}
	dwfl = dwfl_begin(&cb);
	if (!dwfl) {
		hw_err_set(e, HW_ESYS, 0, "dwfl_begin: %s", dwfl_errmsg(-1));
		goto out;
	}
	mod = dwfl_report_offline(dwfl, "python", path, -1);
	if (!mod || dwfl_report_end(dwfl, NULL, NULL) != 0) {
		hw_err_set(e, HW_ELAYOUT, 0, "%s: %s", path, dwfl_errmsg(-1));
		goto out;
	}
	dw = dwfl_module_getdwarf(mod, &bias);
	if (!dw) {
		hw_err_set(e, HW_ELAYOUT, 0,
			   "%s: no DWARF debug info in it or in a debug file found by "
			   "build-id or .gnu_debuglink (install the -dbg package)", path);
		goto out;
	}
	scan_all(dw, &tt, 1);
	scan_all(dw, &tt, 0);
	hw_offsets_init(o);
	fill(&tt, o);
	if (o->ob_type < 0 || o->tp_name < 0 || o->gchead_size < 0) {
		hw_err_set(e, HW_ELAYOUT, 0, "%s: its DWARF lacks CPython's object types", path);
		goto out;
	}
	{
		const char *dbg = NULL;

		dwfl_module_info(mod, NULL, NULL, NULL, NULL, NULL, NULL, &dbg);
		if (where_size)
			snprintf(where, where_size, "%s", dbg ? dbg : path);
	}
	if (stat(path, &st) == 0) {
		struct cache_ent *c = &cache[cache_next++ % CACHE_SLOTS];

		c->dev = st.st_dev;
		c->ino = st.st_ino;
		c->mtime = st.st_mtime;
		c->off = *o;
		snprintf(c->where, sizeof c->where, "%s", where_size ? where : path);
		c->valid = 1;
	}
	rc = 0;
out:
	for (size_t i = 0; i < tt.n; i++)
		free((char *)tt.name[i]);
	if (dwfl)
		dwfl_end(dwfl);
	return rc;
}

int hw_dwarf_offsets_file(const char *path, struct hw_offsets *o, char *where,
			  size_t where_size, struct hw_err *e)
{
	return dwarf_file(path, o, where, where_size, e);
}

int hw_target_dwarf(const struct hw_target *t, struct hw_offsets *o,
		    char *where, size_t where_size, struct hw_err *e)
{
	if (dwarf_file(t->open_path, o, where, where_size, e) < 0)
		return hw_err_prefix(e, "pid %d", (int)t->pid);
	return 0;
}
