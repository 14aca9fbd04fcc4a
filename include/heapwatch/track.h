/* track.h - what the daemon keeps per process and per target between
 * samples: the series selection (select.h), the trend and verdict
 * (verdict.h), and the last verdict logged.  The daemon calls three hooks:
 * a process's census (or its failure) fills its sample's types, growth
 * rates and verdict; the end of a target's round fills the aggregate
 * ("all"); a process that is gone hands its trend to its target's pool.
 *
 * Each verdict change is logged (log.h, NOTICE; INFO for warming):
 *   target web pid 4242: leak: myapp.Session +61/h over 42 min (p<0.001), rss +1.2 MiB/h
 *   target web: leak: ...
 * Allocation: a process's selection and trend when it is first sampled,
 * a target's once at set-up; sampling allocates nothing else.
 */
#ifndef HEAPWATCH_TRACK_H
#define HEAPWATCH_TRACK_H

#include <stddef.h>
#include <stdint.h>

#include "heapwatch/census.h"
#include "heapwatch/config.h"
#include "heapwatch/sample.h"
#include "heapwatch/select.h"
#include "heapwatch/verdict.h"

struct hw_track_conf {
	struct hw_select_conf sel;     /* watch borrowed from the config */
	struct hw_verdict_conf verdict;
};

/* From a loaded configuration (borrowed: c must outlive the tracks). */
void hw_track_conf_from(struct hw_track_conf *tc, const struct hw_config *c);

struct hw_proc_track {
	struct hw_select *sel;         /* NULL until the first census */
	struct hw_proc_trend *trend;   /* NULL until the first sample */
	int said;                      /* verdict last logged, -1 none */
	int failed_alloc;              /* logged once */
};

struct hw_target_track {
	const struct hw_track_conf *conf;
	struct hw_select *sel;         /* the aggregate's, union of processes' */
	struct hw_target_trend *trend;
	int said;
	struct hw_proc_trend **live;   /* scratch: the round's trends */
	size_t live_cap;
	struct hw_sample_type *merged; /* scratch: the round's types merged */
	struct hw_census_type *input;  /* scratch: the same, as select input */
	size_t merged_cap;
	uint32_t *mtab;                /* scratch: merged by name */
	uint32_t mtab_cap;
	uint32_t held_back;            /* of the last round, processes and all */
	uint64_t cpu_ns;               /* spent in selection and trends */
};

/* round_cap: most processes in one round.  -1 (errno) on failure. */
int hw_target_track_init(struct hw_target_track *tt, const struct hw_track_conf *c,
			 size_t round_cap);
void hw_target_track_fini(struct hw_target_track *tt);

void hw_proc_track_init(struct hw_proc_track *pt);

/* The process left: its trend goes to the target's pool, the rest is
 * freed; pt is left initialised (empty). */
void hw_proc_track_retire(struct hw_proc_track *pt, struct hw_target_track *tt);

/* A sample of the process: s has its memory figures, ok and census
 * figures filled; c is its census (ignored unless s->ok).  age_s is the
 * process's age.  Fills s->types (the selection, index order, with
 * counts and growth rates; at most s->cap_types), s->types_held_back and
 * the verdict fields, and logs a verdict change naming target and pid. */
void hw_proc_track_sample(struct hw_proc_track *pt, struct hw_target_track *tt,
			  const char *target, const struct hw_census *c,
			  double age_s, struct hw_sample *s);

/* The end of a target's round: samples[0..n) were its processes'
 * (tracks[i] theirs); agg was filled by hw_sample_aggregate() except its
 * types, which this replaces by the aggregate's selection; sets agg's
 * verdict fields, logs a change of the target's verdict. */
void hw_target_track_round(struct hw_target_track *tt, const char *target,
			   struct hw_proc_track *const *tracks,
			   const struct hw_sample *const *samples, size_t n,
			   struct hw_sample *agg);

#endif
