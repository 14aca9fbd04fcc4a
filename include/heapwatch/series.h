/* series.h - how fast new metric names appear: the daemon's budget of new
 * series (max_new_series_per_minute) and the names it has sent.
 *
 * Every name statsd hands on becomes a whisper file in Graphite, and
 * carbon creates at most MAX_CREATES_PER_MINUTE (default 50) of them a
 * minute, silently dropping the data of the rest.  So the daemon asks for
 * at most per_minute NEW names in any 60 seconds (a sliding window, which
 * fits carbon's token bucket of the same or a larger rate); a line whose
 * name is new while the budget is spent is held back (deferred), and the
 * next sample of the same process brings it again, until the budget
 * allows it.  Names already sent go at once, always.
 *
 * "New" means: not sent by this daemon within the last HW_SERIES_TTL_S
 * seconds (names are remembered by a 64-bit hash of the path, in a table
 * of fixed size allocated at start).  A name forgotten and then sent again
 * counts as new once more, which errs on the safe side.  A name admitted
 * into a packet that could not be sent gives its place in the budget back
 * (hw_series_done()).
 *
 * Time is the monotonic clock in nanoseconds, passed in, so tests can
 * drive it.  Nothing here logs; after hw_series_new() nothing allocates
 * except hw_series_set_budget() (a reload).  Single-threaded.
 */
#ifndef HEAPWATCH_SERIES_H
#define HEAPWATCH_SERIES_H

#include <stddef.h>
#include <stdint.h>

#include "heapwatch/err.h"

#define HW_SERIES_BUDGET_DEFAULT 40       /* below carbon's default 50 */
#define HW_SERIES_BUDGET_MAX 100000
/* Names remembered at most (about 16 bytes each). */
#define HW_SERIES_CAPACITY 65536
/* A name not sent for this long is forgotten. */
#define HW_SERIES_TTL_S 3600
/* New names admitted into one packet that can still be given back; more
 * in one packet are deferred (a packet of 65507 bytes holds fewer lines). */
#define HW_SERIES_PENDING_MAX 8192

struct hw_series;

struct hw_series_stats {
	uint64_t new_names;   /* names sent for the first time (total) */
	uint64_t deferred;    /* lines held back by the budget (total) */
	uint64_t waiting;     /* distinct names held back during the last
				 completed flush (hw_series_flush_end()) */
	uint64_t known;       /* names remembered now, sent or waiting */
	uint64_t full;        /* lines held back because the table was
				 full (total; also counted in deferred) */
};

/* A budget of per_minute new names (1..HW_SERIES_BUDGET_MAX).  NULL with
 * e filled: HW_ECONFIG for a budget out of range, HW_ENOMEM. */
struct hw_series *hw_series_new(unsigned per_minute, struct hw_err *e);

/* Free it.  NULL is fine. */
void hw_series_free(struct hw_series *s);

/* Change the budget (a reload), keeping the names known.  Admissions of
 * the last minute count against the new budget as far as it holds them.
 * 0, or -1 with e filled (then nothing changed). */
int hw_series_set_budget(struct hw_series *s, unsigned per_minute,
			 struct hw_err *e);

/* May the gauge named path[0..len) be sent now?  1: yes, a known name, or
 * a new one that the budget allows (it is then pending until
 * hw_series_done()); 0: held back, counted as deferred. */
int hw_series_admit(struct hw_series *s, const char *path, size_t len,
		    uint64_t now_ns);

/* The lines admitted since the last call were sent (sent = 1: their new
 * names are known from now on) or were not (sent = 0: their new names are
 * forgotten again and their place in the budget returned). */
void hw_series_done(struct hw_series *s, int sent);

/* Mark the end of a flush: the names held back since the previous call
 * become stats.waiting, and names not sent for HW_SERIES_TTL_S are
 * forgotten (at most once a minute). */
void hw_series_flush_end(struct hw_series *s, uint64_t now_ns);

void hw_series_get_stats(const struct hw_series *s,
			 struct hw_series_stats *out);

#endif
