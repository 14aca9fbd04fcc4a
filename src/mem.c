/* mem.c - remote memory readers; see include/heapwatch/mem.h. */
#include "heapwatch/mem.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#ifndef IOV_MAX
#define IOV_MAX 1024
#endif

struct hw_mem {
	enum hw_mem_kind kind;
	pid_t pid;
	int fd;                      /* /proc/PID/mem for HW_MEM_PROCFS */
	struct hw_mem_region *regions;
	size_t nregions;
	struct hw_mem_stats st;
};

/* Errors name no pid: the caller that owns the context does. */
static int fail_errno(struct hw_err *e, int err, uint64_t addr, size_t len)
{
	if (err == ESRCH)
		return hw_err_set(e, HW_EEXITED, 0, "process exited");
	if (err == EPERM || err == EACCES)
		return hw_err_set(e, HW_EPERM, err,
				  "reading %zu bytes at 0x%llx", len,
				  (unsigned long long)addr);
	return hw_err_set(e, HW_EIO, err, "reading %zu bytes at 0x%llx", len,
			  (unsigned long long)addr);
}

static int open_procfs(struct hw_mem *m, struct hw_err *e)
{
	char path[64];

	snprintf(path, sizeof path, "/proc/%d/mem", (int)m->pid);
	m->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (m->fd < 0) {
		int err = errno;

		if (err == ENOENT)
			return hw_err_set(e, HW_ENOPROC, 0, "no such process");
		return hw_err_set(e, err == EACCES || err == EPERM ? HW_EPERM :
				  HW_ESYS, err, "opening %s", path);
	}
	m->kind = HW_MEM_PROCFS;
	return 0;
}

struct hw_mem *hw_mem_open_pid(pid_t pid, int kind_pref, struct hw_err *e)
{
	struct hw_mem *m = calloc(1, sizeof *m);
	char probe;

	if (!m) {
		hw_err_set(e, HW_ENOMEM, ENOMEM, "allocating a memory reader");
		return NULL;
	}
	m->pid = pid;
	m->fd = -1;
	if (kind_pref == HW_MEM_PROCFS) {
		if (open_procfs(m, e) < 0)
			goto fail;
		return m;
	}
	/* Probe process_vm_readv with a zero-length read: it checks the
	 * permission and the pid without touching memory. */
	{
		struct iovec l = { &probe, 0 }, r = { NULL, 0 };

		if (process_vm_readv(pid, &l, 1, &r, 1, 0) < 0) {
			int err = errno;

			if (err == ESRCH) {
				hw_err_set(e, HW_ENOPROC, 0, "no such process");
				goto fail;
			}
			if (kind_pref == HW_MEM_VMREADV ||
			    (err != ENOSYS && err != EPERM)) {
				hw_err_set(e, err == EPERM ? HW_EPERM : HW_ESYS, err,
					   "process_vm_readv");
				goto fail;
			}
			/* ENOSYS (seccomp, old kernel) or EPERM under
			 * some LSMs: /proc/PID/mem may still work. */
			if (open_procfs(m, e) < 0)
				goto fail;
			return m;
		}
	}
	m->kind = HW_MEM_VMREADV;
	return m;
fail:
	free(m);
	return NULL;
}

struct hw_mem *hw_mem_open_buffer(const struct hw_mem_region *regions,
				  size_t n, struct hw_err *e)
{
	struct hw_mem *m = calloc(1, sizeof *m);

	if (!m || (n && !(m->regions = calloc(n, sizeof *regions)))) {
		free(m);
		hw_err_set(e, HW_ENOMEM, ENOMEM, "allocating a memory reader");
		return NULL;
	}
	if (n)
		memcpy(m->regions, regions, n * sizeof *regions);
	m->nregions = n;
	m->kind = HW_MEM_BUFFER;
	m->fd = -1;
	return m;
}

void hw_mem_free(struct hw_mem *m)
{
	if (!m)
		return;
	if (m->fd >= 0)
		close(m->fd);
	free(m->regions);
	free(m);
}

enum hw_mem_kind hw_mem_kind(const struct hw_mem *m) { return m->kind; }

const char *hw_mem_kind_name(const struct hw_mem *m)
{
	switch (m->kind) {
	case HW_MEM_VMREADV: return "process_vm_readv";
	case HW_MEM_PROCFS: return "/proc/PID/mem";
	case HW_MEM_BUFFER: return "buffer";
	}
	return "?";
}

void hw_mem_get_stats(const struct hw_mem *m, struct hw_mem_stats *st)
{
	*st = m->st;
}

/* Buffer back end: the piece must lie inside one region. */
static int buffer_read(struct hw_mem *m, uint64_t addr, void *dst, size_t len)
{
	for (size_t i = 0; i < m->nregions; i++) {
		const struct hw_mem_region *r = &m->regions[i];

		if (addr >= r->addr && addr - r->addr <= r->len &&
		    len <= r->len - (addr - r->addr)) {
			memcpy(dst, (const char *)r->data + (addr - r->addr), len);
			return 0;
		}
	}
	errno = EFAULT;
	return -1;
}

static int procfs_read(struct hw_mem *m, uint64_t addr, void *dst, size_t len)
{
	size_t done = 0;

	if (addr > (uint64_t)INT64_MAX) {
		errno = EFAULT;
		return -1;
	}
	while (done < len) {
		ssize_t n = pread(m->fd, (char *)dst + done, len - done,
				  (off_t)(addr + done));

		__atomic_add_fetch(&m->st.calls, 1, __ATOMIC_RELAXED);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0) {
			errno = EIO;
			return -1;
		}
		done += (size_t)n;
	}
	__atomic_add_fetch(&m->st.bytes, len, __ATOMIC_RELAXED);
	return 0;
}

int hw_mem_read(struct hw_mem *m, uint64_t addr, void *dst, size_t len,
		struct hw_err *e)
{
	if (len == 0)
		return 0;
	if (addr + len < addr) {
		errno = EFAULT;
		return fail_errno(e, EFAULT, addr, len);
	}
	switch (m->kind) {
	case HW_MEM_BUFFER:
		__atomic_add_fetch(&m->st.calls, 1, __ATOMIC_RELAXED);
		if (buffer_read(m, addr, dst, len) < 0)
			return fail_errno(e, errno, addr, len);
		__atomic_add_fetch(&m->st.bytes, len, __ATOMIC_RELAXED);
		return 0;
	case HW_MEM_PROCFS:
		if (procfs_read(m, addr, dst, len) < 0)
			return fail_errno(e, errno, addr, len);
		return 0;
	case HW_MEM_VMREADV: {
		struct iovec l = { dst, len };
		struct iovec r = { (void *)(uintptr_t)addr, len };
		ssize_t n;

		do {
			n = process_vm_readv(m->pid, &l, 1, &r, 1, 0);
		} while (n < 0 && errno == EINTR);
		__atomic_add_fetch(&m->st.calls, 1, __ATOMIC_RELAXED);
		if (n < 0)
			return fail_errno(e, errno, addr, len);
		if ((size_t)n != len)
			return fail_errno(e, EFAULT, addr, len);
		__atomic_add_fetch(&m->st.bytes, len, __ATOMIC_RELAXED);
		return 0;
	}
	}
	return hw_err_set(e, HW_ESYS, 0, "bad reader");
}

/* One process_vm_readv over segs[0..n): returns how many leading pieces
 * were read whole, and sets *stop when the piece after them failed. */
static long vm_batch(struct hw_mem *m, struct hw_mem_seg *segs, size_t n,
		     int *gone)
{
	struct iovec l[IOV_MAX], r[IOV_MAX];
	size_t total = 0, k;
	ssize_t got;

	if (n > IOV_MAX)
		n = IOV_MAX;
	for (k = 0; k < n; k++) {
		l[k].iov_base = segs[k].dst;
		l[k].iov_len = segs[k].len;
		r[k].iov_base = (void *)(uintptr_t)segs[k].addr;
		r[k].iov_len = segs[k].len;
		total += segs[k].len;
	}
	do {
		got = process_vm_readv(m->pid, l, n, r, n, 0);
	} while (got < 0 && errno == EINTR);
	__atomic_add_fetch(&m->st.calls, 1, __ATOMIC_RELAXED);
	if (got < 0) {
		if (errno == ESRCH)
			*gone = 1;
		return 0;
	}
	__atomic_add_fetch(&m->st.bytes, (uint64_t)got, __ATOMIC_RELAXED);
	/* The kernel stops at the first remote piece it cannot read
	 * (process_vm_readv(2): partial reads end at an iovec boundary
	 * granularity of pages); count the pieces that were read whole. */
	size_t acc = 0;
	for (k = 0; k < n; k++) {
		if (acc + segs[k].len > (size_t)got)
			break;
		acc += segs[k].len;
		segs[k].ok = 1;
	}
	(void)total;
	return (long)k;
}

long hw_mem_readv(struct hw_mem *m, struct hw_mem_seg *segs, size_t n,
		  struct hw_err *e)
{
	long okcount = 0;
	size_t i = 0;

	for (size_t k = 0; k < n; k++)
		segs[k].ok = 0;
	if (m->kind != HW_MEM_VMREADV) {
		for (i = 0; i < n; i++) {
			struct hw_err tmp;

			if (hw_mem_read(m, segs[i].addr, segs[i].dst,
					segs[i].len, &tmp) == 0) {
				segs[i].ok = 1;
				okcount++;
			} else if (tmp.code == HW_EEXITED) {
				hw_err_copy(e, &tmp);
				return -1;
			}
		}
		return okcount;
	}
	while (i < n) {
		int gone = 0;
		long got = vm_batch(m, segs + i, n - i, &gone);

		if (gone)
			return hw_err_set(e, HW_EEXITED, 0, "process exited");
		okcount += got;
		i += (size_t)got;
		if (i < n && (size_t)got < IOV_MAX && !segs[i].ok) {
			/* segs[i] failed (or only partly read): retry it
			 * alone so a readable prefix is not lost, then go
			 * on after it. */
			struct hw_err tmp;

			if (hw_mem_read(m, segs[i].addr, segs[i].dst, segs[i].len,
					&tmp) == 0) {
				segs[i].ok = 1;
				okcount++;
			} else if (tmp.code == HW_EEXITED) {
				hw_err_copy(e, &tmp);
				return -1;
			}
			i++;
		}
	}
	return okcount;
}
