/* snap.c - page-granular local copies of remote memory; see snap.h. */
#include "heapwatch/snap.h"
#include "heapwatch/units.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define PAGE HW_SNAP_PAGE
#define PAGE_MASK (~(uint64_t)(PAGE - 1))
#define SLAB_MAX (64u << 20)
#define SEG_MAX HW_SNAP_BLOCK
/* Pieces of a bulk copy: larger pieces mean fewer iovecs for the kernel
 * to walk (process_vm_readv(2) measured here: 8.0 GB/s in 64 KiB pieces,
 * 10.1 GB/s in 4 MiB pieces, one reader). */
#define COPY_PIECE HW_SNAP_BLOCK

/* ------------------------------------------------------------------ */
/* page sets */

void hw_pageset_init(struct hw_pageset *ps) { memset(ps, 0, sizeof *ps); }

void hw_pageset_fini(struct hw_pageset *ps)
{
	free(ps->start);
	free(ps->end);
	memset(ps, 0, sizeof *ps);
}

void hw_pageset_clear(struct hw_pageset *ps) { ps->n = 0; }

int hw_pageset_add(struct hw_pageset *ps, uint64_t addr, uint64_t len,
		   struct hw_err *e)
{
	uint64_t s, t;

	if (len == 0)
		return 0;
	s = addr & PAGE_MASK;
	t = addr + len;
	if (t < addr)
		t = UINT64_MAX & PAGE_MASK;
	else
		t = (t + PAGE - 1) & PAGE_MASK;
	/* Extend the last range when contiguous: the common case of a
	 * walk that moves forward through an arena. */
	if (ps->n && ps->end[ps->n - 1] >= s && ps->start[ps->n - 1] <= s) {
		if (t > ps->end[ps->n - 1])
			ps->end[ps->n - 1] = t;
		return 0;
	}
	if (ps->n == ps->cap) {
		size_t nc = ps->cap ? ps->cap * 2 : 256;
		uint64_t *a = realloc(ps->start, nc * sizeof *a);

		if (!a)
			return hw_err_set(e, HW_ENOMEM, ENOMEM, "growing a page set");
		ps->start = a;
		a = realloc(ps->end, nc * sizeof *a);
		if (!a)
			return hw_err_set(e, HW_ENOMEM, ENOMEM, "growing a page set");
		ps->end = a;
		ps->cap = nc;
	}
	ps->start[ps->n] = s;
	ps->end[ps->n] = t;
	ps->n++;
	return 0;
}

struct range { uint64_t s, t; };

static int cmp_range(const void *a, const void *b)
{
	const struct range *x = a, *y = b;

	return x->s < y->s ? -1 : x->s > y->s;
}

void hw_pageset_normalize(struct hw_pageset *ps)
{
	struct range *r;
	size_t k = 0;

	if (ps->n < 2)
		return;
	r = malloc(ps->n * sizeof *r);
	if (!r) {
		/* Without scratch memory, fall back to an in-place insertion
		 * sort: slow but correct. */
		for (size_t i = 1; i < ps->n; i++) {
			uint64_t s = ps->start[i], t = ps->end[i];
			size_t j = i;

			while (j > 0 && ps->start[j - 1] > s) {
				ps->start[j] = ps->start[j - 1];
				ps->end[j] = ps->end[j - 1];
				j--;
			}
			ps->start[j] = s;
			ps->end[j] = t;
		}
	} else {
		for (size_t i = 0; i < ps->n; i++)
			r[i] = (struct range){ ps->start[i], ps->end[i] };
		qsort(r, ps->n, sizeof *r, cmp_range);
		for (size_t i = 0; i < ps->n; i++) {
			ps->start[i] = r[i].s;
			ps->end[i] = r[i].t;
		}
		free(r);
	}
	for (size_t i = 1; i < ps->n; i++) {
		if (ps->start[i] <= ps->end[k]) {
			if (ps->end[i] > ps->end[k])
				ps->end[k] = ps->end[i];
		} else {
			k++;
			ps->start[k] = ps->start[i];
			ps->end[k] = ps->end[i];
		}
	}
	ps->n = k + 1;
}

uint64_t hw_pageset_bytes(const struct hw_pageset *ps)
{
	uint64_t b = 0;

	for (size_t i = 0; i < ps->n; i++)
		b += ps->end[i] - ps->start[i];
	return b;
}

int hw_pageset_merge(struct hw_pageset *dst, const struct hw_pageset *src,
		     struct hw_err *e)
{
	for (size_t i = 0; i < src->n; i++)
		if (hw_pageset_add(dst, src->start[i], src->end[i] - src->start[i], e) < 0)
			return -1;
	hw_pageset_normalize(dst);
	return 0;
}

/* ------------------------------------------------------------------ */
/* the page table: open addressing on page numbers */

#define PE_TOUCHED 1u
#define PE_BAD 2u          /* known unreadable */
#define PE_ABSENT 4u       /* planned but not (yet) copied */

struct pent {
	uint64_t key;          /* page address | 1 (0 = empty slot) */
	char *data;
	uint32_t flags;
};

struct slab {
	char *mem;
	size_t size, used;
};

#define RECENT 256         /* slots of the recent-page cache */

struct hw_snap {
	struct hw_mem *mem;
	int live;
	uint64_t limit;
	struct pent *tab;
	size_t tabcap, tabn;
	struct slab *slabs;
	size_t nslabs, cur;
	uint64_t held;
	struct hw_pageset missed;
	struct hw_pageset spill;   /* touched pages of evicted entries */
	uint64_t last_key;
	char *last_data;
	/* pages found lately, by the low bits of their number: most reads
	 * that leave the last page go back to one of a few (a type, a
	 * dict's keys) */
	struct recent { uint64_t key; char *data; } recent[RECENT];
	struct hw_snap_stats st;
	struct hw_mem_seg *segs;   /* planned pieces of a fill */
	size_t nseg, segcap, ncopied;
	uint64_t *bad;             /* pages a fill could not read */
	size_t nbad, badcap;
	char block[SEG_MAX];       /* bounce buffer for live fetches */
};

static inline size_t hash_page(uint64_t key, size_t cap)
{
	return (size_t)((key >> 12) * 0x9E3779B97F4A7C15ull >> 20) & (cap - 1);
}

static struct pent *lookup(struct hw_snap *s, uint64_t page)
{
	uint64_t key = page | 1;
	size_t i;

	if (!s->tabcap)
		return NULL;
	for (i = hash_page(key, s->tabcap);; i = (i + 1) & (s->tabcap - 1)) {
		if (s->tab[i].key == key)
			return &s->tab[i];
		if (s->tab[i].key == 0)
			return NULL;
	}
}

static int grow_table(struct hw_snap *s, struct hw_err *e)
{
	size_t nc = s->tabcap ? s->tabcap * 2 : 4096;
	struct pent *nt = calloc(nc, sizeof *nt);

	if (!nt)
		return hw_err_set(e, HW_ENOMEM, ENOMEM, "growing the page table");
	for (size_t i = 0; i < s->tabcap; i++) {
		if (!s->tab[i].key)
			continue;
		size_t j = hash_page(s->tab[i].key, nc);

		while (nt[j].key)
			j = (j + 1) & (nc - 1);
		nt[j] = s->tab[i];
	}
	free(s->tab);
	s->tab = nt;
	s->tabcap = nc;
	s->last_key = 0;
	return 0;
}

static struct pent *insert(struct hw_snap *s, uint64_t page, char *data,
			   uint32_t flags, struct hw_err *e)
{
	uint64_t key = page | 1;
	size_t i;

	if ((s->tabn + 1) * 2 > s->tabcap && grow_table(s, e) < 0)
		return NULL;
	for (i = hash_page(key, s->tabcap); s->tab[i].key && s->tab[i].key != key;
	     i = (i + 1) & (s->tabcap - 1))
		;
	if (!s->tab[i].key)
		s->tabn++;
	s->tab[i].key = key;
	s->tab[i].data = data;
	s->tab[i].flags = flags;
	return &s->tab[i];
}

/* Storage for len bytes (a multiple of PAGE), contiguous. */
static char *alloc_pages(struct hw_snap *s, size_t len, struct hw_err *e)
{
	if (s->limit && s->held + len > s->limit)
		return hw_err_set(e, HW_ELIMIT, 0,
				  "snapshot would exceed its limit of %llu bytes",
				  (unsigned long long)s->limit), NULL;
	while (s->cur < s->nslabs) {
		struct slab *sl = &s->slabs[s->cur];

		if (sl->size - sl->used >= len) {
			char *p = sl->mem + sl->used;

			sl->used += len;
			s->held += len;
			return p;
		}
		s->cur++;
	}
	struct slab *ns = realloc(s->slabs, (s->nslabs + 1) * sizeof *ns);

	if (!ns)
		return hw_err_set(e, HW_ENOMEM, ENOMEM, "allocating snapshot storage"), NULL;
	s->slabs = ns;
	/* Slabs grow geometrically from 1 MiB to SLAB_MAX: small heaps
	 * stay small, large ones need few slabs. */
	size_t grow = s->nslabs < 6 ? (size_t)1 << (20 + s->nslabs) : SLAB_MAX;
	size_t size = len > grow ? len : grow;
	char *mem = NULL;

	/* 2 MiB aligned, and huge pages where the kernel allows: a copy of
	 * tens of megabytes then misses the TLB far less. */
	size = (size + (2u << 20) - 1) & ~(size_t)((2u << 20) - 1);
	if (posix_memalign((void **)&mem, 2u << 20, size) != 0)
		mem = NULL;
	else
		(void)madvise(mem, size, MADV_HUGEPAGE);

	if (!mem)
		return hw_err_set(e, HW_ENOMEM, ENOMEM,
				  "allocating %zu bytes of snapshot storage", size), NULL;
	s->slabs[s->nslabs] = (struct slab){ mem, size, len };
	s->cur = s->nslabs;
	s->nslabs++;
	s->st.storage += size;
	s->held += len;
	return mem;
}

struct hw_snap *hw_snap_new(struct hw_mem *m, uint64_t limit, struct hw_err *e)
{
	struct hw_snap *s = calloc(1, sizeof *s);

	if (!s) {
		hw_err_set(e, HW_ENOMEM, ENOMEM, "allocating a snapshot");
		return NULL;
	}
	s->mem = m;
	s->limit = limit;
	s->live = 1;
	hw_pageset_init(&s->missed);
	hw_pageset_init(&s->spill);
	return s;
}

void hw_snap_free(struct hw_snap *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->nslabs; i++)
		free(s->slabs[i].mem);
	free(s->slabs);
	free(s->tab);
	hw_pageset_fini(&s->missed);
	hw_pageset_fini(&s->spill);
	free(s->segs);
	free(s->bad);
	free(s);
}

/* The page table is about to change what a page holds. */
static void forget_recent(struct hw_snap *s)
{
	s->last_key = 0;
	s->last_data = NULL;
	memset(s->recent, 0, sizeof s->recent);
}

static void drop_pages(struct hw_snap *s)
{
	if (s->tabn)
		memset(s->tab, 0, s->tabcap * sizeof *s->tab);
	s->tabn = 0;
	for (size_t i = 0; i < s->nslabs; i++)
		s->slabs[i].used = 0;
	s->cur = 0;
	s->held = 0;
	forget_recent(s);
}

void hw_snap_reset(struct hw_snap *s, int live)
{
	uint64_t storage = s->st.storage;

	drop_pages(s);
	hw_pageset_clear(&s->missed);
	hw_pageset_clear(&s->spill);
	memset(&s->st, 0, sizeof s->st);
	s->st.storage = storage;
	s->live = live;
}

void hw_snap_set_live(struct hw_snap *s, int live) { s->live = live; }
void hw_snap_set_mem(struct hw_snap *s, struct hw_mem *m) { s->mem = m; }

/* Live mode, at the limit: keep the touched marks, drop the pages. */
static int evict_all(struct hw_snap *s, struct hw_err *e)
{
	for (size_t i = 0; i < s->tabcap; i++)
		if (s->tab[i].key && (s->tab[i].flags & PE_TOUCHED))
			if (hw_pageset_add(&s->spill, s->tab[i].key & PAGE_MASK,
					   PAGE, e) < 0)
				return -1;
	drop_pages(s);
	return 0;
}

/* Live mode: bring in the aligned block around page. */
static int fetch_block(struct hw_snap *s, uint64_t page, struct hw_err *e)
{
	uint64_t b0 = page & ~(uint64_t)(SEG_MAX - 1);
	struct hw_err tmp;
	char *dst;

	s->st.fetches++;
	if (s->limit && s->held + SEG_MAX > s->limit && evict_all(s, e) < 0)
		return -1;
	if (hw_mem_read(s->mem, b0, s->block, SEG_MAX, &tmp) == 0) {
		if (!(dst = alloc_pages(s, SEG_MAX, e)))
			return -1;
		memcpy(dst, s->block, SEG_MAX);
		for (uint64_t p = 0; p < SEG_MAX; p += PAGE) {
			struct pent *pe = lookup(s, b0 + p);

			if (pe && !(pe->flags & PE_ABSENT))
				continue;
			if (!insert(s, b0 + p, dst + p, pe ? pe->flags & ~PE_ABSENT : 0, e))
				return -1;
		}
		return 0;
	}
	if (tmp.code == HW_EEXITED) {
		hw_err_copy(e, &tmp);
		return -1;
	}
	/* Part of the block is unmapped: read just the page asked for, and
	 * remember it as bad if that fails too. */
	if (hw_mem_read(s->mem, page, s->block, PAGE, &tmp) == 0) {
		if (!(dst = alloc_pages(s, PAGE, e)))
			return -1;
		memcpy(dst, s->block, PAGE);
		return insert(s, page, dst, 0, e) ? 0 : -1;
	}
	if (tmp.code == HW_EEXITED) {
		hw_err_copy(e, &tmp);
		return -1;
	}
	return insert(s, page, NULL, PE_BAD, e) ? 0 : -1;
}

static char *page_data(struct hw_snap *s, uint64_t page, uint64_t addr,
		       struct hw_err *e)
{
	struct pent *pe;
	struct recent *rc;

	if (s->last_key == (page | 1))
		return s->last_data;
	rc = &s->recent[(page / PAGE) & (RECENT - 1)];
	if (rc->key == (page | 1)) {
		s->last_key = page | 1;
		s->last_data = rc->data;
		return rc->data;
	}
	pe = lookup(s, page);
	if (pe && (pe->flags & PE_ABSENT))
		pe = NULL;
	if (!pe) {
		if (!s->live) {
			s->st.misses++;
			hw_pageset_add(&s->missed, page, PAGE, NULL);
			hw_err_set(e, HW_EMISS, 0, "address 0x%llx not in the snapshot",
				   (unsigned long long)addr);
			return NULL;
		}
		if (fetch_block(s, page, e) < 0)
			return NULL;
		pe = lookup(s, page);
		if (!pe || (pe->flags & PE_ABSENT)) {
			hw_err_set(e, HW_EIO, EFAULT, "reading 0x%llx",
				   (unsigned long long)addr);
			return NULL;
		}
	}
	pe->flags |= PE_TOUCHED;
	if (!pe->data) {
		hw_err_set(e, HW_EIO, EFAULT, "reading 0x%llx",
			   (unsigned long long)addr);
		return NULL;
	}
	s->last_key = rc->key = page | 1;
	s->last_data = rc->data = pe->data;
	return pe->data;
}

static int read_pages(struct hw_snap *s, uint64_t addr, void *dst, size_t len,
		      struct hw_err *e)
{
	char *out = dst;

	if (addr + len < addr)
		return hw_err_set(e, HW_EIO, EFAULT, "reading 0x%llx",
				  (unsigned long long)addr);
	while (len) {
		uint64_t page = addr & PAGE_MASK;
		size_t off = (size_t)(addr - page);
		size_t n = PAGE - off < len ? PAGE - off : len;
		char *p = page_data(s, page, addr, e);

		if (!p)
			return -1;
		memcpy(out, p + off, n);
		out += n;
		addr += n;
		len -= n;
	}
	return 0;
}

/* Most reads fall in the page the last one used (an object's fields one
 * after another): served without the page table or the loop. */
static inline int read_fast(struct hw_snap *s, uint64_t addr, void *dst,
			    size_t len, struct hw_err *e)
{
	uint64_t page = addr & PAGE_MASK;

	s->st.reads++;
	if (s->last_key == (page | 1) && len <= PAGE - (addr - page)) {
		memcpy(dst, s->last_data + (addr - page), len);
		return 0;
	}
	return read_pages(s, addr, dst, len, e);
}

int hw_snap_read(struct hw_snap *s, uint64_t addr, void *dst, size_t len,
		 struct hw_err *e)
{
	return read_fast(s, addr, dst, len, e);
}

int hw_snap_read_u64(struct hw_snap *s, uint64_t addr, uint64_t *out,
		     struct hw_err *e)
{
	return read_fast(s, addr, out, sizeof *out, e);
}

int hw_snap_fill_prepare(struct hw_snap *s, const struct hw_pageset *ps,
			 struct hw_err *e)
{
	uint64_t total = hw_pageset_bytes(ps);

	s->nseg = 0;
	s->ncopied = 0;
	forget_recent(s);
	if (s->limit && total > s->limit)
		return hw_err_set(e, HW_ELIMIT, 0,
				  "snapshot of %llu bytes exceeds its limit of %llu bytes",
				  (unsigned long long)total,
				  (unsigned long long)s->limit);
	/* Storage, pieces and page table are prepared before anything is
	 * read: a caller holding the target stopped pays only for the copy.
	 * Pages start ABSENT and become present once read. */
	for (size_t i = 0; i < ps->n; i++) {
		uint64_t a = ps->start[i], t = ps->end[i];
		char *dst;

		if (!(dst = alloc_pages(s, (size_t)(t - a), e)))
			return -1;
		/* Fault the destination in now: a first touch costs more than
		 * the copy of its page, and must not happen in the pause. */
		for (uint64_t p = 0; p < t - a; p += PAGE)
			((volatile char *)dst)[p] = 0;
		for (uint64_t p = a; p < t; p += COPY_PIECE) {
			uint64_t q = p + COPY_PIECE < t ? p + COPY_PIECE : t;

			if (s->nseg == s->segcap) {
				size_t nc = s->segcap ? s->segcap * 2 : 1024;
				struct hw_mem_seg *ns = realloc(s->segs, nc * sizeof *ns);

				if (!ns)
					return hw_err_set(e, HW_ENOMEM, ENOMEM,
							  "planning a copy");
				s->segs = ns;
				s->segcap = nc;
			}
			s->segs[s->nseg++] = (struct hw_mem_seg){
				p, dst + (p - a), (size_t)(q - p), 0 };
			for (uint64_t r = p; r < q; r += PAGE)
				if (!insert(s, r, dst + (r - a), PE_ABSENT, e))
					return -1;
		}
	}
	return 0;
}

/* One reader's share of a copy: pieces [from, to). */
struct copy_job {
	struct hw_snap *s;
	size_t from, to, done;
	uint64_t deadline_ns;
	int rc;
	struct hw_err e;
};

static void *copy_range(void *arg)
{
	struct copy_job *j = arg;

	j->done = j->from;
	j->rc = 0;
	while (j->done < j->to) {
		size_t n = j->to - j->done < 1024 ? j->to - j->done : 1024;

		if (j->deadline_ns && hw_now_ns() > j->deadline_ns) {
			j->rc = 1;
			break;
		}
		if (hw_mem_readv(j->s->mem, j->s->segs + j->done, n, &j->e) < 0) {
			j->rc = -1;
			break;
		}
		j->done += n;
	}
	return NULL;
}

int hw_snap_fill_copy(struct hw_snap *s, uint64_t deadline_ns, struct hw_err *e)
{
	struct hw_mem_stats before, after;
	uint64_t t0 = hw_now_ns();
	size_t done = 0;
	int partial = 0;
	struct copy_job jobs[2];
	pthread_t th;
	int threaded = 0;

	hw_mem_get_stats(s->mem, &before);
	/* Two readers when there is enough to copy: one thread's
	 * process_vm_readv moves about 8 GB/s here, two about 14 GB/s.
	 * The second reader's pieces come after the first's, so what the
	 * first finished is a prefix either way. */
	size_t half = s->nseg / 2;

	memset(jobs, 0, sizeof jobs);
	jobs[0] = (struct copy_job){ s, 0, s->nseg, 0, deadline_ns, 0, { 0 } };
	if (s->nseg >= 64 && hw_mem_kind(s->mem) == HW_MEM_VMREADV) {
		jobs[0].to = half;
		jobs[1] = (struct copy_job){ s, half, s->nseg, 0, deadline_ns, 0, { 0 } };
		threaded = pthread_create(&th, NULL, copy_range, &jobs[1]) == 0;
		if (!threaded)
			jobs[0].to = s->nseg;
	}
	copy_range(&jobs[0]);
	if (threaded)
		pthread_join(th, NULL);
	for (int k = 0; k < 1 + threaded; k++) {
		if (jobs[k].rc < 0) {
			hw_err_copy(e, &jobs[k].e);
			return -1;
		}
		if (jobs[k].rc == 1)
			partial = 1;
	}
	/* What was copied: a prefix of each reader's share. */
	done = jobs[0].done;
	if (threaded && jobs[0].done == jobs[0].to)
		done = jobs[1].done;
	else if (threaded)
		for (size_t i = jobs[1].from; i < jobs[1].done; i++)
			s->segs[i].ok = 0; /* not a prefix: treat as absent */
	/* A piece that straddles an unmapped page (an arena freed since the
	 * plan) is salvaged page by page while the target is still stopped;
	 * the pages that stay unreadable are remembered as bad. */
	s->nbad = 0;
	for (size_t i = 0; i < done; i++) {
		if (s->segs[i].ok)
			continue;
		for (uint64_t p = 0; p < s->segs[i].len; p += PAGE) {
			struct hw_err tmp;

			if (hw_mem_read(s->mem, s->segs[i].addr + p,
					(char *)s->segs[i].dst + p, PAGE, &tmp) == 0)
				continue;
			if (tmp.code == HW_EEXITED) {
				hw_err_copy(e, &tmp);
				return -1;
			}
			if (s->nbad == s->badcap) {
				size_t nc = s->badcap ? s->badcap * 2 : 64;
				uint64_t *nb = realloc(s->bad, nc * sizeof *nb);

				if (!nb)
					return hw_err_set(e, HW_ENOMEM, ENOMEM,
							  "noting unreadable pages");
				s->bad = nb;
				s->badcap = nc;
			}
			s->bad[s->nbad++] = s->segs[i].addr + p;
		}
	}
	s->ncopied = done;
	hw_mem_get_stats(s->mem, &after);
	s->st.fill_bytes = after.bytes - before.bytes;
	s->st.fill_calls = after.calls - before.calls;
	s->st.fill_ns = hw_now_ns() - t0;
	return partial;
}

void hw_snap_fill_finish(struct hw_snap *s)
{
	forget_recent(s);
	for (size_t i = 0; i < s->ncopied; i++) {
		for (uint64_t p = 0; p < s->segs[i].len; p += PAGE) {
			struct pent *pe = lookup(s, s->segs[i].addr + p);

			if (pe)
				pe->flags &= ~PE_ABSENT;
		}
	}
	for (size_t i = 0; i < s->nbad; i++) {
		struct pent *pe = lookup(s, s->bad[i]);

		if (pe) {
			pe->data = NULL;
			pe->flags = PE_BAD;
		}
	}
	s->nseg = s->ncopied = s->nbad = 0;
}

int hw_snap_fill(struct hw_snap *s, const struct hw_pageset *ps,
		 uint64_t deadline_ns, struct hw_err *e)
{
	int rc;

	if (hw_snap_fill_prepare(s, ps, e) < 0)
		return -1;
	rc = hw_snap_fill_copy(s, deadline_ns, e);
	if (rc >= 0)
		hw_snap_fill_finish(s);
	return rc;
}

static int collect(const struct hw_snap *s, uint32_t flag,
		   struct hw_pageset *ps, struct hw_err *e)
{
	for (size_t i = 0; i < s->tabcap; i++)
		if (s->tab[i].key && (s->tab[i].flags & flag))
			if (hw_pageset_add(ps, s->tab[i].key & PAGE_MASK, PAGE, e) < 0)
				return -1;
	return 0;
}

int hw_snap_touched(const struct hw_snap *s, struct hw_pageset *ps,
		    struct hw_err *e)
{
	if (collect(s, PE_TOUCHED, ps, e) < 0)
		return -1;
	return hw_pageset_merge(ps, &s->spill, e);
}

int hw_snap_missed(const struct hw_snap *s, struct hw_pageset *ps,
		   struct hw_err *e)
{
	return hw_pageset_merge(ps, &s->missed, e);
}

void hw_snap_get_stats(const struct hw_snap *s, struct hw_snap_stats *st)
{
	*st = s->st;
	st->pages = s->tabn;
	st->bytes = s->held;
}
