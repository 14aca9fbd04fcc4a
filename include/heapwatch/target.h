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

	uint32_t version_hex;    /* PY_VERSION_HEX; 0 if unknown */
	char version[32];        /* "3.11.7", or "3.9" if the patch level is
				    unknown */
	int major, minor, micro; /* -1 when unknown */
	int debug_build;         /* Py_DEBUG (python3.11-dbg): object header
				    has _ob_next/_ob_prev (Py_TRACE_REFS) */
};

/* Identify the interpreter of pid.  HW_ENOPROC, HW_EPERM, or HW_ENOTPY
 * ("pid N: not a CPython process (executable /usr/bin/foo maps no
 * libpython and defines no _PyRuntime)"). */
int hw_target_open(struct hw_target *t, pid_t pid, struct hw_err *e);

/* Fill *o from DWARF of the object (or its separate debug file).  Fields
 * the build lacks stay HW_NOFIELD.  On success *where gets the file the
 * DWARF came from (may be NULL).  HW_ELAYOUT when no DWARF is found. */
int hw_target_dwarf(const struct hw_target *t, struct hw_offsets *o,
		    char *where, size_t where_size, struct hw_err *e);

/* Same, for a file on disk (used by `make layouts` and tests). */
int hw_dwarf_offsets_file(const char *path, struct hw_offsets *o,
			  char *where, size_t where_size, struct hw_err *e);

#endif
