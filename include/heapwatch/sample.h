/* sample.h - one sample of one process, or the aggregate of a target's
 * processes in one sampling round.  Fixed size, so that a ring can hold
 * samples without allocating after start-up. */
#ifndef HEAPWATCH_SAMPLE_H
#define HEAPWATCH_SAMPLE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define HW_SAMPLE_NAME_MAX 128   /* type names are cut to 127 bytes */
#define HW_TARGET_NAME_MAX 65

struct hw_sample_type {
	char name[HW_SAMPLE_NAME_MAX];
	uint64_t count;
};

struct hw_sample {
	char target[HW_TARGET_NAME_MAX];
	pid_t pid;                 /* 0: the target's aggregate ("all") */
	uint64_t starttime;
	int64_t wall_ms;           /* when, ms since the epoch */
	int ok;                    /* census taken; else memory figures only */
	int partial;               /* census cut short by the pause budget */
	int64_t rss, pss, uss, swap; /* bytes, -1 unknown */
	int64_t max_rss;           /* aggregates: largest rss of the round */
	unsigned nprocs;           /* aggregates: processes summed */
	uint64_t gc_objects, pause_us;
	uint32_t ntypes, cap_types;
	struct hw_sample_type *types; /* storage owned by whoever set it up */
};

/* Copy src into dst, keeping dst's type storage (up to dst->cap_types). */
void hw_sample_copy(struct hw_sample *dst, const struct hw_sample *src);

/* The aggregate of one round: rss/pss/uss/swap, gc_objects and type
 * counts summed (types merged by name, the top out->cap_types kept), the
 * largest rss and pause.  scratch must hold at least
 * n * (largest ntypes) entries; nothing is allocated.  out->target and
 * out->pid are left to the caller. */
void hw_sample_aggregate(const struct hw_sample *const *samples, size_t n,
			 struct hw_sample *out, struct hw_sample_type *scratch,
			 size_t scratch_cap);

#endif
