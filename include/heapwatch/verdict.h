/* verdict.h - the daemon's judgement of each process and each target:
 * warming, steady, plateau, early_explosion, surge or leak.
 *
 * A process's trend keeps the lower envelope (trend.h) of its RSS, its
 * PSS and the count of every type its selection (select.h) sends, bucket
 * by bucket of its age, and judges them when a bucket completes.  The
 * rules, in order (heapwatch(1) states them for users):
 *
 *   warming          younger than trend.warmup, or fewer than
 *                    HW_TREND_BUCKETS_MIN valleys of RSS after it;
 *   leak, python     some type's valleys rise (HW_SHAPE_RISING: p < 0.01,
 *                    by at least max(20, 0.5% of its median) over the
 *                    window, and the last third sets new valleys); the
 *                    leaking types are named, fastest first;
 *   leak, native     no type rises, but the RSS valleys do (by at least
 *                    max(256 KiB, 0.5% of the median)) and so do the PSS
 *                    valleys when PSS is known;
 *   surge            the RSS valleys made one lasting jump from one bucket
 *                    to the next (HW_SHAPE_STEP: at least 20% of the level
 *                    before it and 60% of the window's whole range), while
 *                    the jump is in the window;
 *   early_explosion  the process was seen young (first sample before half
 *                    the warmup), and its RSS valleys after the warmup are
 *                    at least twice, and 32 MiB above, its first RSS;
 *   plateau          the RSS or a type rose significantly but the last
 *                    third of the window set no new valley (a bounded
 *                    cache that filled up);
 *   steady           anything else: the sawtooth of a healthy process.
 *
 * A target's verdict is the highest of its live processes' (in the order
 * above, warming lowest) with their leaking types merged (rates summed).
 * When its workers are recycled before they live warmup + window
 * (gunicorn's max_requests), the target also pools its processes by age:
 * the live ones and the last HW_VERDICT_ARCHIVE that exited, each
 * process's valleys less its first, the median at each age bucket; if that
 * pooled series is a leak, so is the target, "seen across recycled
 * workers".
 *
 * Memory: a process's trend is allocated once, when the process is first
 * sampled, for (2 + max_types) series of window/bucket valleys, and freed
 * when it leaves its target's archive.  Judging allocates nothing.
 * Nothing here logs.  Single-threaded (one shared scratch area).
 */
#ifndef HEAPWATCH_VERDICT_H
#define HEAPWATCH_VERDICT_H

#include <stddef.h>
#include <stdint.h>

#include "heapwatch/sample.h"
#include "heapwatch/select.h"

enum hw_verdict {
	HW_VERDICT_WARMING = 0,
	HW_VERDICT_STEADY = 1,
	HW_VERDICT_PLATEAU = 2,
	HW_VERDICT_EARLY_EXPLOSION = 3,
	HW_VERDICT_SURGE = 4,
	HW_VERDICT_LEAK = 5,
};

enum hw_leak_kind {
	HW_KIND_NONE = 0,
	HW_KIND_PYTHON,
	HW_KIND_NATIVE,
};

/* "warming", "steady", ...; "python", "native", "" for none. */
const char *hw_verdict_name(enum hw_verdict v);
const char *hw_kind_name(enum hw_leak_kind k);
/* The verdict named s, or -1. */
int hw_verdict_parse(const char *s);

#define HW_VERDICT_LEAKING_MAX 8   /* leaking types named */
#define HW_VERDICT_ARCHIVE 8       /* exited processes a target pools */
#define HW_VERDICT_POOL_LIVE 16    /* live processes a target pools */

struct hw_verdict_conf {
	double warmup_s;           /* trend.warmup */
	double bucket_s;           /* trend.bucket, > 0 */
	uint32_t nbuckets;         /* trend.window / trend.bucket, 6..240 */
	uint32_t max_types;        /* as the selection's */
};

struct hw_leaking {
	char name[HW_SAMPLE_NAME_MAX];
	double per_hour;           /* objects per hour (Theil-Sen) */
	double p;                  /* one-sided Mann-Kendall */
	int64_t since_ms;          /* wall clock: the start of the window in
				      which it was first seen rising */
};

struct hw_judged {
	enum hw_verdict verdict;
	enum hw_leak_kind kind;    /* leak only */
	int recycled;              /* targets: seen across recycled workers */
	int64_t since_ms;          /* wall clock: when this verdict began */
	int has_rss;               /* rss_per_hour and rss_p are judged */
	double rss_per_hour, rss_p;
	int has_pss;
	double pss_per_hour;
	double span_s;             /* time the judged valleys cover */
	uint32_t nleaking;
	struct hw_leaking leaking[HW_VERDICT_LEAKING_MAX]; /* fastest first */
	char detail[256];          /* one line: what the verdict rests on */
};

/* ------------------------------------------------------------------ */
/* A process */

struct hw_proc_trend;

/* NULL (errno) when out of memory or c is invalid (EINVAL). */
struct hw_proc_trend *hw_proc_trend_new(const struct hw_verdict_conf *c);
void hw_proc_trend_free(struct hw_proc_trend *t);   /* NULL is fine */

/* One sample of the process: its age in seconds, the wall clock, RSS and
 * PSS in bytes (< 0 unknown), and its selection after the census (NULL
 * when the census failed: the types then miss this sample).  Returns 1
 * when the process was judged again (a bucket completed), else 0. */
int hw_proc_trend_add(struct hw_proc_trend *t, double age_s, int64_t wall_ms,
		      int64_t rss, int64_t pss, const struct hw_select *sel);

/* The latest judgement (warming before the first). */
const struct hw_judged *hw_proc_trend_judged(const struct hw_proc_trend *t);

/* Slope of the valleys of selection index i, objects per hour: 1 and
 * *per_hour when it has been judged, else 0. */
int hw_proc_trend_growth(const struct hw_proc_trend *t, uint32_t i,
			 double *per_hour);

/* The latest age fed. */
double hw_proc_trend_age(const struct hw_proc_trend *t);

/* ------------------------------------------------------------------ */
/* A target */

struct hw_target_trend;

struct hw_target_trend *hw_target_trend_new(const struct hw_verdict_conf *c);
/* Frees the archived process trends too.  NULL is fine. */
void hw_target_trend_free(struct hw_target_trend *tt);

/* A process of the target exited: its trend (t, owned from now on) joins
 * the archive the target pools; the oldest archived one is freed. */
void hw_target_trend_retire(struct hw_target_trend *tt, struct hw_proc_trend *t);

/* Judge the target from its n live processes' trends (borrowed for the
 * call; NULL entries are skipped) and its archive. */
void hw_target_trend_judge(struct hw_target_trend *tt,
			   struct hw_proc_trend *const *live, size_t n,
			   int64_t wall_ms);

const struct hw_judged *hw_target_trend_judged(const struct hw_target_trend *tt);

/* Growth of the type named name for the whole target, objects per hour:
 * the sum of its slopes over the n live processes (as given to
 * hw_target_trend_judge()) that judged it, or the pooled rate per worker
 * times the live processes when the last judgement saw it leak across
 * recycled workers; 1 and *per_hour if known, else 0. */
int hw_target_trend_growth(const struct hw_target_trend *tt,
			   struct hw_proc_trend *const *live, size_t n,
			   const char *name, double *per_hour);

#endif
