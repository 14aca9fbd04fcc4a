/* target.h - which CPython a process runs, and where its state lives.
 *
 * hw_target_open() finds the ELF object that defines the interpreter
 * (the executable, or a mapped libpython*.so), computes its load bias
 * from /proc/PID/maps, resolves the entry symbols and reads the version.
 * Files are opened through /proc/PID/root (containers, other mount
 * namespaces) and /proc/PID/exe or /proc/PID/map_files when the file on
 * disk was deleted or replaced (identity checked by build-id / inode).
 *
 * hw_target_dwarf() fills struct hw_offsets from DWARF, found in the
 * object itself or a separate debug file (build-id, .gnu_debuglink,
 * /usr/lib/debug) through libdwfl's standard lookup.
 */
#ifndef HEAPWATCH_TARGET_H
#define HEAPWATCH_TARGET_H

#include <stdint.h>
#include <sys/types.h>

#include "heapwatch/err.h"
#include "heapwatch/layout.h"

/* Symbols the object model (objects.h) recognises object kinds by:
 * X(id, symbol name, how).  how: HW_SYM_DATA an exported static object
 * (.dynsym; a type object's address), HW_SYM_PTR an exported pointer
 * variable (the object is *symbol: PyExc_BaseException, _PySet_Dummy),
 * HW_SYM_STATIC a static function, only in a .symtab (the binary's, or
 * its separate debug file's: hw_target_debug_symbols), HW_SYM_FILEPTR a
 * static pointer variable of one source file, named "file.c:variable"
 * (the .symtab's local symbols that follow that file's STT_FILE entry;
 * the object is *symbol: 2.7's set dummy, one of two statics "dummy"). */
enum { HW_SYM_DATA, HW_SYM_PTR, HW_SYM_STATIC, HW_SYM_FILEPTR };
#define HW_OBJSYMS(X)                                                        \
	X(type_type,        "PyType_Type",            HW_SYM_DATA)           \
	X(object_type,      "PyBaseObject_Type",      HW_SYM_DATA)           \
	X(list_type,        "PyList_Type",            HW_SYM_DATA)           \
	X(tuple_type,       "PyTuple_Type",           HW_SYM_DATA)           \
	X(dict_type,        "PyDict_Type",            HW_SYM_DATA)           \
	X(set_type,         "PySet_Type",             HW_SYM_DATA)           \
	X(frozenset_type,   "PyFrozenSet_Type",       HW_SYM_DATA)           \
	X(cell_type,        "PyCell_Type",            HW_SYM_DATA)           \
	X(function_type,    "PyFunction_Type",        HW_SYM_DATA)           \
	X(method_type,      "PyMethod_Type",          HW_SYM_DATA)           \
	X(module_type,      "PyModule_Type",          HW_SYM_DATA)           \
	X(frame_type,       "PyFrame_Type",           HW_SYM_DATA)           \
	X(gen_type,         "PyGen_Type",             HW_SYM_DATA)           \
	X(coro_type,        "PyCoro_Type",            HW_SYM_DATA)           \
	X(asyncgen_type,    "PyAsyncGen_Type",        HW_SYM_DATA)           \
	X(weakref_type,     "_PyWeakref_RefType",     HW_SYM_DATA)           \
	X(classmethod_type, "PyClassMethod_Type",     HW_SYM_DATA)           \
	X(staticmethod_type,"PyStaticMethod_Type",    HW_SYM_DATA)           \
	X(property_type,    "PyProperty_Type",        HW_SYM_DATA)           \
	X(cfunction_type,   "PyCFunction_Type",       HW_SYM_DATA)           \
	X(memberdescr_type, "PyMemberDescr_Type",     HW_SYM_DATA)           \
	X(cmethod_type,     "PyCMethod_Type",         HW_SYM_DATA)           \
	X(methodwrapper_type, "_PyMethodWrapper_Type", HW_SYM_DATA)          \
	X(dictproxy_type,   "PyDictProxy_Type",       HW_SYM_DATA)           \
	X(traceback_type,   "PyTraceBack_Type",       HW_SYM_DATA)           \
	X(code_type,        "PyCode_Type",            HW_SYM_DATA)           \
	X(long_type,        "PyLong_Type",            HW_SYM_DATA)           \
	X(bool_type,        "PyBool_Type",            HW_SYM_DATA)           \
	X(float_type,       "PyFloat_Type",           HW_SYM_DATA)           \
	X(unicode_type,     "PyUnicode_Type",         HW_SYM_DATA)           \
	X(bytes_type,       "PyBytes_Type",           HW_SYM_DATA)           \
	X(bytearray_type,   "PyByteArray_Type",       HW_SYM_DATA)           \
	X(odict_type,       "PyODict_Type",           HW_SYM_DATA)           \
	X(namespace_type,   "_PyNamespace_Type",      HW_SYM_DATA)           \
	X(slice_type,       "PySlice_Type",           HW_SYM_DATA)           \
	X(base_exception,   "PyExc_BaseException",    HW_SYM_PTR)            \
	X(set_dummy,        "_PySet_Dummy",           HW_SYM_PTR)            \
	/* Python 2.7: str, int, old-style classes, the set dummy */        \
	X(string_type,      "PyString_Type",          HW_SYM_DATA)           \
	X(int_type,         "PyInt_Type",             HW_SYM_DATA)           \
	X(class_type,       "PyClass_Type",           HW_SYM_DATA)           \
	X(instance_type,    "PyInstance_Type",        HW_SYM_DATA)           \
	X(set_dummy27,      "setobject.c:dummy",      HW_SYM_FILEPTR)        \
	X(subtype_traverse, "subtype_traverse",       HW_SYM_STATIC)         \
	X(lookdict,         "lookdict",               HW_SYM_STATIC)         \
	X(lru_traverse,     "lru_cache_tp_traverse",  HW_SYM_STATIC)         \
	X(partial_traverse, "partial_traverse",       HW_SYM_STATIC)         \
	X(deque_traverse,   "deque_traverse",         HW_SYM_STATIC)         \
	X(defdict_traverse, "defdict_traverse",       HW_SYM_STATIC)

enum hw_objsym {
#define HW_OBJSYM_ENUM(id, name, how) HW_OBJSYM_##id,
	HW_OBJSYMS(HW_OBJSYM_ENUM)
#undef HW_OBJSYM_ENUM
	HW_OBJSYM_COUNT
};
struct hw_objsym_desc {
	const char *name;
	int how;
};
extern const struct hw_objsym_desc hw_objsyms[HW_OBJSYM_COUNT];

struct hw_target {
	pid_t pid;
	char exe[4096];          /* /proc/PID/exe target, for messages */
	char elf_path[4096];     /* path (as the target sees it) of the object
				    that defines the symbols below */
	char open_path[4200];    /* path we opened it by (/proc/PID/root/..) */
	uint64_t bias;           /* load bias of that object */
	char build_id[129];      /* hex, "" if none */

	/* Runtime addresses in the target (bias applied); 0 if absent. */
	uint64_t runtime_addr;   /* _PyRuntime (3.7+) */
	uint64_t runtime_size;   /* its st_size */
	uint64_t gen0_ptr_addr;  /* _PyGC_generation0 (2.7, 3.6) */
	uint64_t interp_head_addr; /* interp_head (static, .symtab; 2.7, 3.6), 0 if unknown */
	uint64_t py_version_addr;/* Py_Version (3.11+) */

	uint32_t version_hex;    /* PY_VERSION_HEX; 0 if unknown.  From
				    Py_Version (3.11+), else built from the
				    PY_VERSION literal as a final release */
	char version[32];        /* "3.11.7" (as platform.python_version()),
				    or "3.9" if the patch level is unknown */
	int major, minor, micro; /* -1 when unknown */
	int debug_build;         /* Py_DEBUG (python3.11d): defines
				    _Py_NegativeRefcount / _Py_RefTotal.  The
				    object header is unchanged unless
				    trace_refs is also set */
	int trace_refs;          /* Py_TRACE_REFS (defines _Py_PrintReferences):
				    PyObject starts with _ob_next/_ob_prev */
	int free_threaded;       /* _Py_DebugOffsets.free_threaded read from
				    the file (3.13+); -1 when unknown */
	/* Addresses (bias applied) of the HW_OBJSYMS symbols the object
	 * defines in .dynsym or its own .symtab; 0 when absent.  For
	 * HW_SYM_PTR it is the variable's address, not its value. */
	uint64_t objsym[HW_OBJSYM_COUNT];
};

/* Identify the interpreter of pid: reads /proc and the ELF files only
 * (no ptrace, no read of the target's memory).  Candidates are the
 * executable, then every mapped libpython*; the first that defines
 * _PyRuntime or _PyGC_generation0 wins.  Errors do not name the pid (the
 * session does): HW_ENOPROC,
 * HW_EPERM (including a deleted libpython that /proc/PID/map_files would
 * need CAP_SYS_ADMIN to open), HW_ENOTPY ("not a CPython process
 * (executable /usr/bin/foo maps no libpython and defines no _PyRuntime)"),
 * HW_EVERSION (3.13+: Py_Version and _Py_DebugOffsets disagree),
 * HW_ELAYOUT (the symbol's address falls outside the object's mappings). */
int hw_target_open(struct hw_target *t, pid_t pid, struct hw_err *e);

/* Fill *o from DWARF of the object (or its separate debug file, also
 * looked for under the target's own root).  Fields the build lacks stay
 * HW_NOFIELD.  On success *where gets the file the DWARF came from (may
 * be NULL).  HW_ELAYOUT when no DWARF is found.  Results are cached per
 * file (device, inode, size, mtime) in a static table: not thread-safe. */
int hw_target_dwarf(const struct hw_target *t, struct hw_offsets *o,
		    char *where, size_t where_size, struct hw_err *e);

/* Addresses (bias applied) of static symbols from the symbol table of
 * t's object or of its separate debug file (found as for DWARF): for
 * each names[i], addrs[i] is set when the name is defined exactly once
 * (a name defined at two addresses stays 0: ambiguous).  Returns the
 * number found, or -1 (HW_ELAYOUT: no symbol table anywhere). */
int hw_target_debug_symbols(const struct hw_target *t, const char *const *names,
			    uint64_t *addrs, size_t n, struct hw_err *e);

/* Is sym the static function `name`: the same name, or as link-time
 * optimisation renames it ("subtype_traverse.lto_priv.0" in Debian's
 * LTO build)?  Clones (.isra, .constprop, .part) and split-off parts
 * (.cold) are other code and do not count. */
int hw_symbol_is(const char *sym, const char *name);

/* Same, for a file on disk (used by `make layouts` and tests). */
int hw_dwarf_offsets_file(const char *path, struct hw_offsets *o,
			  char *where, size_t where_size, struct hw_err *e);

/* Same, also looking for its separate debug file (by build-id or
 * .gnu_debuglink) under debug_dir, e.g. a chroot's /usr/lib/debug
 * (NULL: only the standard places). */
int hw_dwarf_offsets_file_in(const char *path, const char *debug_dir,
			     struct hw_offsets *o, char *where, size_t where_size,
			     struct hw_err *e);

#endif
