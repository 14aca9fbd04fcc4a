/* sample.h - one sample of one process, or the aggregate of a target's
 * processes in one sampling round.
 *
 * A sample has a fixed size and points at type storage it does not own,
 * so a ring (ring.h) can preallocate every slot and the sampling path
 * allocates nothing after start-up.  Nothing here logs or allocates.
 */
#ifndef HEAPWATCH_SAMPLE_H
#define HEAPWATCH_SAMPLE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Type names are cut to 127 bytes and always NUL-terminated. */
#define HW_SAMPLE_NAME_MAX 128
/* Target names: up to 64 characters (HW_CONFIG_NAME_MAX) and the NUL, so
 * two configured names never collide by truncation. */
#define HW_TARGET_NAME_MAX 65

struct hw_sample_type {
	char name[HW_SAMPLE_NAME_MAX];
	uint64_t count;
	int64_t growth_per_hour;   /* Theil-Sen slope of its valleys, objects
				      per hour; valid if has_growth */
	int has_growth;
	uint64_t bytes;            /* sys.getsizeof summed (`sizes: true`);
				      valid if has_bytes */
	int has_bytes;
};

struct hw_sample {
	char target[HW_TARGET_NAME_MAX];
	pid_t pid;                 /* 0: the target's aggregate ("all") */
	int slot;                  /* the process's worker slot (slots.h);
				      -1 in aggregates and for a process
				      that has none */
	uint64_t starttime;        /* /proc/PID/stat field 22; 0 in aggregates */
	int64_t wall_ms;           /* when, ms since the epoch */
	int ok;                    /* census taken; if 0 only the memory
				      figures are valid */
	int partial;               /* census cut short by the pause budget */
	int64_t rss, pss, uss, swap; /* bytes, -1 unknown */
	int64_t max_rss;           /* aggregates: largest rss of the round,
				      -1 unknown; per process: its rss */
	uint32_t nprocs;           /* aggregates: processes in the round */
	uint32_t nprocs_ok;        /* aggregates: of which censused (ok) */
	uint64_t gc_objects, pause_us;
	int has_verdict;           /* the fields below are set (verdict.h) */
	int verdict;               /* enum hw_verdict */
	int kind;                  /* enum hw_leak_kind */
	int has_rss_growth;
	int64_t rss_growth_per_hour; /* bytes per hour, Theil-Sen of the RSS
					valleys; valid if has_rss_growth */
	uint32_t types_held_back;  /* type candidates max_types kept out */
	uint32_t ntypes, cap_types; /* types[0..ntypes) valid, ntypes <= cap */
	struct hw_sample_type *types; /* cap_types entries, owned by whoever
					 initialised the sample */
};

/* Copy src into dst, keeping dst's type storage and cap_types: at most
 * dst->cap_types types are copied (the first ones, so a list sorted by
 * count keeps its top).  Names and target are NUL-terminated in dst even
 * if they were not in src.  dst == src is a no-op.  Never allocates. */
void hw_sample_copy(struct hw_sample *dst, const struct hw_sample *src);

/* Build the aggregate ("all") sample of one round from n samples of the
 * same target (n may be 0; samples[i] must not be out):
 *   - rss, pss, uss, swap: sums of the known (>= 0) values; -1 only if
 *     unknown in every sample;  max_rss: the largest known rss, or -1;
 *   - nprocs = n; nprocs_ok = samples with ok set; ok = nprocs_ok > 0;
 *   - over the ok samples only: gc_objects summed, pause_us the largest,
 *     partial if any was partial, type counts summed by name;
 *   - types: the out->cap_types largest counts, sorted by count
 *     (descending), ties by name (ascending, strcmp);
 *   - pid = 0, slot = -1, starttime = 0, wall_ms the latest of the samples, target
 *     copied from samples[0] (the caller may overwrite these).
 * out->types and out->cap_types are kept (out's storage).
 *
 * scratch is caller-provided working space of scratch_cap entries; it
 * must hold at least the sum of samples[i]->ntypes over the ok samples
 * (n * cap_types is always enough when every sample was copied into a
 * slot of cap_types).  Its contents on return are unspecified.
 * Nothing is allocated; the work is O(T log T) for T types in total (an
 * in-place heapsort: glibc's qsort may call malloc).
 *
 * Returns 0, or -1 if scratch was too small: the result is then still
 * well-formed, but the types that did not fit are left out and
 * out->partial is set. */
int hw_sample_aggregate(const struct hw_sample *const *samples, size_t n,
			struct hw_sample *out, struct hw_sample_type *scratch,
			size_t scratch_cap);

#endif
