/* statsd.h - sending samples to statsd as gauges.
 *
 * Metric paths come from a template ("{prefix}.{target}.{pid}.{metric}";
 * {pid} is "all" for a target's aggregate).  Every node that comes from
 * target data (type names) is sanitised into [A-Za-z0-9_-], so a hostile
 * class name can neither add a path level nor inject a line.  Values are
 * never signed (statsd reads "+n"/"-n" as deltas).  Lines are packed into
 * packets of at most max_packet bytes; UDP or TCP (lines end in '\n').
 * Sockets are non-blocking: the flusher never waits on the network; what
 * could not be sent stays in the ring.
 */
#ifndef HEAPWATCH_STATSD_H
#define HEAPWATCH_STATSD_H

#include <stddef.h>
#include <stdint.h>

#include "heapwatch/config.h"
#include "heapwatch/err.h"
#include "heapwatch/ring.h"
#include "heapwatch/sample.h"

struct hw_statsd;

/* The daemon's own health, sent with every flush as gauges under
 * "<prefix>.heapwatch.". */
struct hw_statsd_health {
	uint64_t samples_taken, samples_failed, samples_dropped;
	uint64_t last_pause_us, max_pause_us;
};

/* Resolve and open (no connection is needed yet for TCP: it is made on
 * flush).  NULL on failure (HW_ECONFIG for a host that does not resolve). */
struct hw_statsd *hw_statsd_open(const struct hw_statsd_config *c,
				 struct hw_err *e);
void hw_statsd_close(struct hw_statsd *s);   /* NULL is fine */

/* out gets at most size-1 bytes of [A-Za-z0-9_-] (other bytes, runs
 * collapsed, become '_'; empty becomes "_"). */
void hw_statsd_sanitize(const char *in, char *out, size_t size);

/* Format s as gauge lines, each ending in '\n', into buf; returns the
 * length, or -1 if it does not fit.  (For tests and for flushing.) */
long hw_statsd_format(const struct hw_statsd_config *c,
		      const struct hw_sample *s, char *buf, size_t size);

/* Send every sample in the ring, oldest first, then the health gauges;
 * a sample leaves the ring once all its packets were sent.  -1 with the
 * reason when statsd cannot be reached (what is left stays). */
int hw_statsd_flush(struct hw_statsd *s, struct hw_ring *r,
		    const struct hw_statsd_health *h, struct hw_err *e);

#endif
