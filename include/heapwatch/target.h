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
};

/* Identify the interpreter of pid: reads /proc and the ELF files only
 * (no ptrace, no read of the target's memory).  Candidates are the
 * executable, then every mapped libpython*; the first that defines
 * _PyRuntime or _PyGC_generation0 wins.  Errors name the pid: HW_ENOPROC,
 * HW_EPERM (including a deleted libpython that /proc/PID/map_files would
 * need CAP_SYS_ADMIN to open), HW_ENOTPY ("pid N: not a CPython process
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
