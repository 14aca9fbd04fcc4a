/* mem.h - reading another process's memory.
 *
 * One interface, three back ends: process_vm_readv(2) (the default: needs
 * only ptrace access, no DAC access to /proc/PID/mem), pread(2) on
 * /proc/PID/mem (the fallback when process_vm_readv is unavailable, e.g.
 * blocked by seccomp), and a set of in-memory regions (tests and fuzzers
 * lay out synthetic heaps this way).  Reads never write to the target.
 */
#ifndef HEAPWATCH_MEM_H
#define HEAPWATCH_MEM_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "heapwatch/err.h"

struct hw_mem;

enum hw_mem_kind {
	HW_MEM_VMREADV,
	HW_MEM_PROCFS,
	HW_MEM_BUFFER,
};

/* A region of the buffer back end: remote address -> local bytes
 * (borrowed: must outlive the hw_mem). */
struct hw_mem_region {
	uint64_t addr;
	const void *data;
	size_t len;
};

/* One piece of a batch read: len bytes at remote addr into local dst.
 * ok is set to 1 if the whole piece was read, 0 otherwise. */
struct hw_mem_seg {
	uint64_t addr;
	void *dst;
	size_t len;
	int ok;
};

/* Open a reader for pid.  kind_pref: -1 = process_vm_readv with fallback
 * to /proc/PID/mem, else the back end to use.  Returns NULL on failure
 * (HW_ENOPROC, HW_EPERM, HW_ESYS). */
struct hw_mem *hw_mem_open_pid(pid_t pid, int kind_pref, struct hw_err *e);

/* Open the buffer back end over n regions (copied descriptors, borrowed
 * data).  Returns NULL only on allocation failure. */
struct hw_mem *hw_mem_open_buffer(const struct hw_mem_region *regions,
				  size_t n, struct hw_err *e);

void hw_mem_free(struct hw_mem *m);

enum hw_mem_kind hw_mem_kind(const struct hw_mem *m);
const char *hw_mem_kind_name(const struct hw_mem *m);

/* Read exactly len bytes at addr.  -1 with HW_EIO (errno EFAULT/EIO: the
 * range is not mapped) or HW_EEXITED (ESRCH). */
int hw_mem_read(struct hw_mem *m, uint64_t addr, void *dst, size_t len,
		struct hw_err *e);

/* Batch read with as few system calls as possible (up to IOV_MAX pieces
 * per process_vm_readv call).  Pieces that cannot be read get ok = 0; the
 * others are read whole.  Returns the number of pieces read whole, or -1
 * only when the process is gone or the reader itself failed. */
long hw_mem_readv(struct hw_mem *m, struct hw_mem_seg *segs, size_t n,
		  struct hw_err *e);

/* Counters since open: system calls made and bytes read. */
struct hw_mem_stats {
	uint64_t calls;
	uint64_t bytes;
};
void hw_mem_get_stats(const struct hw_mem *m, struct hw_mem_stats *st);

#endif
