/* statsd.h - the flusher's statsd client: samples out of the ring, as
 * gauges, over UDP or TCP, without ever blocking the daemon's loop.
 *
 * Lines.  "<path>:<value>|g", the path from the template in the config
 * ({prefix} {target} {slot} {pid} {metric}; {slot} is the process's
 * worker slot "w0", "w1" ... (slots.h), {pid} its pid, and both are "all"
 * for a target's aggregate).  Every node that comes from target data (the target name, a
 * type name) goes through hw_statsd_sanitize(), and the finished path is
 * checked once more, so no byte outside [A-Za-z0-9_.-] can reach a path:
 * a hostile class name can add neither a path level, nor a line, nor a
 * metric.  Values are unsigned decimal, never with a sign: statsd 0.9.0
 * reads "+n" and "-n" as deltas to a gauge.
 *
 * Metrics of a sample, in this order (unknown memory figures, -1, are not
 * sent; census figures only when the census succeeded, sample->ok):
 *   pid                          (processes, when the path has no {pid})
 *   rss_bytes pss_bytes uss_bytes swap_bytes
 *   max_rss_bytes processes processes_censused        (aggregates only)
 *   gc_objects pause_us partial(0|1) types.<name>...   (ok only)
 * With {slot} in the path, a process sample whose slot is negative (the
 * process got none) gives no lines.
 *
 * Packets.  Lines are packed into packets of at most max_packet bytes and
 * split only between lines.  UDP: one datagram per packet, lines joined by
 * '\n'.  TCP: every line ends in '\n' (statsd's TCP server drops a last
 * line without one).  A line longer than max_packet is dropped and counted
 * (stats.lines_dropped); with the default template and max_packet no line
 * can be that long (names are capped, see HW_STATSD_NODE_MAX).
 *
 * Delivery.  Sockets are non-blocking.  hw_statsd_flush() sends the ring
 * oldest first, one sample at a time (its lines in one or more packets),
 * and pops a sample only once all of its packets were sent; on the first
 * failure it stops and leaves the rest in the ring, which keeps the newest
 * samples while statsd is down (ring.h).  A failure closes the socket and
 * the next address of the host is tried at once; after a failure with
 * each address the next attempt waits 1 s, then 2 s, 4 s ... up to 30 s,
 * and begins by looking the host up again.  A sample's packets that were
 * already sent are not sent again.  A TCP write cut short keeps the rest of
 * the packet and finishes it first; if the connection dies meanwhile the
 * cut line is sent whole on the next connection (statsd dropped the
 * fragment).
 * UDP errors (ECONNREFUSED from an ICMP port unreachable) are read back
 * with SO_ERROR after every datagram: on loopback they are known before
 * send() returns; from a remote host they arrive later and fail the next
 * datagram, so with UDP the datagram before a failure may be lost.
 * Note that statsd gauges carry no time stamp: samples buffered during an
 * outage all land in the statsd flush interval in which they are sent,
 * where the newest value of each path wins.
 *
 * Names.  Nothing here ever blocks on name resolution.  An IP address
 * literal is parsed once at open.  A host name is looked up on a thread
 * of its own (lookup.h) at the start of each round of attempts; while the
 * lookup runs, flushes fail at once with EINPROGRESS ("resolving") and the
 * samples wait in the ring.  When it finishes, hw_statsd_fd() becomes
 * readable: flush then (or call hw_statsd_start()) to connect without
 * waiting for the next flush.  A name that does not resolve is no error
 * at open: it counts as an unreachable server (resolve_errors, back-off,
 * hw_statsd_get_status()), so a daemon started before DNS is up, or with
 * a typo, keeps sampling and says why nothing arrives.  A lookup with no
 * answer after HW_STATSD_RESOLVE_TIMEOUT_NS is abandoned and counts as
 * failed.
 *
 * Health.  After the ring is drained, every flush sends the daemon's own
 * figures as "<prefix>.heapwatch.<name>:<value>|g":
 *   samples_taken samples_failed samples_dropped last_pause_us
 *   max_pause_us ring_len packets_sent send_errors lines_dropped
 *   resolve_errors unreachable_ms types_held_back detach_failures
 *   series_new series_deferred series_waiting   (series.h)
 * (unreachable_ms: how long statsd could not be reached, in total; a
 * server never reached yet counts from the first failed attempt).
 * Counts are GAUGES HOLDING TOTALS SINCE START, not statsd counters
 * ("|c"): statsd zeroes counters at each of its flushes, so counters would
 * need deltas, and a delta in a lost datagram is lost for good, while the
 * next total repairs a lost one.  Rates come from Graphite
 * (nonNegativeDerivative()); a restart shows as a drop to zero.
 *
 * Single-threaded (one client is used from one thread; only its lookups
 * run on threads of their own).  Nothing here logs; errors are returned
 * in hw_err.
 */
#ifndef HEAPWATCH_STATSD_H
#define HEAPWATCH_STATSD_H

#include <stddef.h>
#include <stdint.h>

#include "heapwatch/config.h"
#include "heapwatch/err.h"
#include "heapwatch/ring.h"
#include "heapwatch/sample.h"

#define HW_STATSD_MAX_PACKET_DEFAULT 1432  /* fits a 1500-byte MTU */
#define HW_STATSD_PATH_DEFAULT "{prefix}.{target}.{slot}.{metric}"
/* Longest node made from a name (hw_statsd_sanitize()). */
#define HW_STATSD_NODE_MAX 100
/* Longest line any template of a struct hw_statsd_config can produce. */
#define HW_STATSD_LINE_MAX 4160

/* Back-off between connection attempts after a failure. */
#define HW_STATSD_BACKOFF_MIN_NS 1000000000ull
#define HW_STATSD_BACKOFF_MAX_NS 30000000000ull
/* A TCP connect still in progress after this long counts as failed. */
#define HW_STATSD_CONNECT_TIMEOUT_NS 10000000000ull
/* A host name lookup still running after this long counts as failed. */
#define HW_STATSD_RESOLVE_TIMEOUT_NS 30000000000ull
/* hw_statsd_status.why */
#define HW_STATSD_WHY_MAX 384

struct hw_statsd;

/* The daemon's own figures, filled by the daemon before each flush.  All
 * are totals since start except last_pause_us, max_pause_us,
 * types_held_back and series_waiting. */
struct hw_statsd_health {
	uint64_t samples_taken, samples_failed;
	uint64_t samples_dropped;     /* hw_ring_dropped() */
	uint64_t last_pause_us, max_pause_us;
	uint64_t types_held_back;     /* now, not a total: type candidates
					 that max_types kept out of the last
					 samples, summed over processes */
	/* the budget of new names (series.h): names sent for the first time,
	 * lines held back (totals), names waiting at the last flush */
	uint64_t series_new, series_deferred, series_waiting;
	uint64_t detach_failures;     /* threads a census could not give
					 back at once (census.h) */
};

/* A filter between the lines formatted and the packets sent: the daemon's
 * budget of new metric names (series.h).  admit() is called for every
 * line about to be packed (samples' and health lines alike) with its
 * path, line[0..path_len); it returns 1 to send the line, 0 to leave it
 * out (it is not kept: the next sample brings it again).  done() is
 * called once the packet holding the lines admitted since the last call
 * was sent (sent = 1; a TCP packet cut short counts as sent) or could not
 * be (sent = 0: nothing of it left). */
struct hw_statsd_filter {
	int (*admit)(void *arg, const char *line, size_t path_len);
	void (*done)(void *arg, int sent);
	void *arg;
};

/* The client's own counts, totals since hw_statsd_open(). */
struct hw_statsd_stats {
	uint64_t packets_sent;   /* datagrams, or TCP batches fully written */
	uint64_t send_errors;    /* failed connection and send attempts */
	uint64_t lines_dropped;  /* lines longer than max_packet */
	uint64_t connects;       /* connections established (TCP) or
				    sockets opened (UDP) */
	uint64_t resolve_errors; /* host name lookups that failed or timed
				    out */
};

/* Whether statsd can be reached, for logs and systemd's STATUS=. */
struct hw_statsd_status {
	int up;                  /* the last attempt reached statsd (a packet
				    went out); 0 before the first */
	int resolving;           /* a lookup of the host runs now */
	int noname;              /* the last lookup: the name does not exist */
	uint64_t unreachable_ns; /* in total, as the unreachable_ms gauge */
	char why[HW_STATSD_WHY_MAX]; /* the last failure while not up, one
					line; "" if none */
};

/* A client for the statsd server in c (copied: c need not outlive it).
 * max_packet 0 means HW_STATSD_MAX_PACKET_DEFAULT, an empty path
 * HW_STATSD_PATH_DEFAULT.  Nothing is sent, connected or looked up yet
 * (see hw_statsd_start()); a server that is down or a name that does not
 * resolve is not an error here.  Returns NULL and fills e: HW_ECONFIG for
 * a port outside 1..65535, a max_packet above 65507, an empty host;
 * HW_ENOMEM; HW_ESYS (no eventfd). */
struct hw_statsd *hw_statsd_open(const struct hw_statsd_config *c,
				 struct hw_err *e);

/* Close the socket and free the client; a lookup still running is
 * abandoned (lookup.h), never waited for.  A TCP packet cut short is
 * dropped.  NULL is fine. */
void hw_statsd_close(struct hw_statsd *s);

/* Begin reaching the server now, as a flush would (start the lookup or
 * the TCP connection), but send nothing: the first flush then finds the
 * way ready.  Never blocks; failures show in hw_statsd_get_status(). */
void hw_statsd_start(struct hw_statsd *s, uint64_t now_ns);

/* An eventfd that becomes readable when a lookup of the host finished;
 * watch it for EPOLLIN and call hw_statsd_flush() or hw_statsd_start()
 * then (they read it).  Valid until hw_statsd_close(). */
int hw_statsd_fd(const struct hw_statsd *s);

/* Whether the server can be reached, as of the last attempt.  now_ns as
 * for hw_statsd_flush(). */
void hw_statsd_get_status(const struct hw_statsd *s, uint64_t now_ns,
			  struct hw_statsd_status *out);

/* to replaces from (a reload changed the statsd settings): to's counts
 * (hw_statsd_stats, unreachable time) go on from from's totals, so the
 * health gauges stay totals since the daemon started. */
void hw_statsd_inherit(struct hw_statsd *to, const struct hw_statsd *from,
		       uint64_t now_ns);

/* The ring that s flushes was replaced by another (holding the same
 * samples, or fewer): forget how far into its oldest sample s had got, so
 * that sample is sent whole (a gauge sent twice is harmless; one skipped
 * is lost). */
void hw_statsd_ring_replaced(struct hw_statsd *s);

/* Look c's host up now, blocking (for check-config; never from the
 * daemon's loop).  0 when it is an address or resolves; -1 with e filled
 * (HW_EIO, "resolving 'HOST': Name or service not known") and *noname set
 * when the name does not exist rather than the lookup failing. */
int hw_statsd_check_host(const struct hw_statsd_config *c, int *noname,
			 struct hw_err *e);

/* Write in as one path node into out (outsize bytes, always
 * NUL-terminated when outsize > 0): bytes of [A-Za-z0-9_-] are kept, every
 * run of other bytes (dots, colons, pipes, newlines, spaces, '<', '>',
 * UTF-8 sequences ...) becomes one '_'; an empty result becomes "_".  The
 * result is at most min(outsize - 1, HW_STATSD_NODE_MAX) bytes; a longer
 * one is cut and ends in '_' and 8 hex digits of a hash of the whole of
 * in, so long names that share a beginning stay apart (when outsize
 * leaves room for that: at least 17 bytes).
 * "__main__.Outer.Inner" -> "__main___Outer_Inner". */
void hw_statsd_sanitize(const char *in, char *out, size_t outsize);

/* Whether c's template (the default when empty) holds {slot}, or {pid}:
 * 1 or 0. */
int hw_statsd_path_has_slot(const struct hw_statsd_config *c);
int hw_statsd_path_has_pid(const struct hw_statsd_config *c);

/* Called once per line: line[0..len) without the '\n' (line is also
 * NUL-terminated), borrowed for the call.  Return 0 to go on, anything
 * else to stop. */
typedef int (*hw_statsd_line_fn)(void *arg, const char *line, size_t len);

/* Format the gauge lines of s (see the top of this file) with the
 * template and prefix of c, calling fn for each, in order.  Returns 0
 * after the last line, or the first non-zero value fn returned.
 * Allocates nothing (one HW_STATSD_LINE_MAX buffer on the stack). */
int hw_statsd_format_sample(const struct hw_statsd_config *c,
			    const struct hw_sample *s, hw_statsd_line_fn fn,
			    void *arg);

/* The same lines into buf, each ending in '\n', NUL-terminated.  Returns
 * the length without the NUL, or -1 if size is too small (buf then holds
 * the lines that fit, NUL-terminated). */
long hw_statsd_format(const struct hw_statsd_config *c,
		      const struct hw_sample *s, char *buf, size_t size);

/* Send the samples in r, oldest first, popping each once all its packets
 * are sent, then (if h is not NULL) the health gauges.  now_ns is the
 * monotonic clock (hw_now_ns()); it times the back-off and the connect
 * timeout, the lookup timeout and unreachable_ms, nothing else.  Never
 * blocks; allocates nothing except to start a lookup of the host name.
 * Returns 0 when everything was sent.  -1 with e filled (HW_EIO, the
 * socket's errno: ECONNREFUSED, EINPROGRESS while a lookup or a TCP
 * connect is under way, EAGAIN when the socket buffer is full, 0 with the
 * resolver's reason when the name did not resolve, ...) when it stopped early:
 * what was not sent stays in r, and the next flush resumes there.  Use
 * one ring with one client. */
int hw_statsd_flush(struct hw_statsd *s, struct hw_ring *r,
		    const struct hw_statsd_health *h, uint64_t now_ns,
		    struct hw_err *e);

/* Put f (copied; NULL removes the filter) between the lines and the
 * packets of every later flush. */
void hw_statsd_set_filter(struct hw_statsd *s, const struct hw_statsd_filter *f);

/* The client's counts so far into *out. */
void hw_statsd_get_stats(const struct hw_statsd *s,
			 struct hw_statsd_stats *out);

#endif
