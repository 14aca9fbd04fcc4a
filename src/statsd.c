/* statsd.c - the statsd client; see include/heapwatch/statsd.h. */
#include "heapwatch/statsd.h"

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "heapwatch/lookup.h"
#include "heapwatch/slots.h"

/* The longest path: a 256-byte template of "{prefix}" placeholders, each
 * 128 bytes, and ":" 20 digits "|g". */
_Static_assert(HW_STATSD_LINE_MAX >=
	       HW_CONFIG_PATH_MAX / 8 * HW_CONFIG_PREFIX_MAX + 1 + 20 + 2 + 1,
	       "a line of the longest template does not fit");

/* CLOSED -> (RESOLVING ->) CONNECTING (TCP) -> READY; any failure back to
 * CLOSED with a retry time. */
enum conn_state { CONN_CLOSED, CONN_RESOLVING, CONN_CONNECTING, CONN_READY };

struct hw_statsd {
	struct hw_statsd_config c;   /* defaults filled in */
	char host[HW_CONFIG_HOST_MAX + 1]; /* without [] around IPv6 */
	char label[HW_CONFIG_HOST_MAX + 32]; /* "statsd HOST:PORT/udp" */
	int tcp;

	int fd;
	enum conn_state state;
	int efd;                     /* eventfd: a lookup finished */
	struct hw_lookup *lookup;    /* RESOLVING: the one running */
	uint64_t lookup_since_ns;
	struct addrinfo *res;        /* the addresses to try, or NULL */
	int numeric;                 /* host is an address literal: res is
					fixed, never looked up */
	int fresh;                   /* res came from a lookup begun for
					this round of attempts */
	unsigned addr_next;          /* index of the address to try next */
	unsigned naddr;              /* addresses in res */
	uint64_t retry_at_ns;        /* CLOSED: no attempt before */
	uint64_t backoff_ns;         /* 0 after a success */
	uint64_t connect_since_ns;   /* CONNECTING: first seen at, 0 unset */
	int last_errno;

	/* Reachability, for hw_statsd_get_status() and unreachable_ms. */
	int up;                      /* the last attempt reached statsd */
	int noname;                  /* the last lookup: no such name */
	uint64_t down_since_ns;      /* 0: not down */
	uint64_t down_total_ns;      /* finished stretches of being down */
	char why[HW_STATSD_WHY_MAX];

	/* The head sample's lines [0, cur_line) are sent; valid while the
	 * ring's dropped count is cur_dropped (else the head was
	 * overwritten). */
	size_t cur_line;
	uint64_t cur_dropped;

	/* TCP: a packet cut short; pkt[pkt_off..pkt_len) is still to go,
	 * before anything else.  pend_pop: it ends a sample, pop that
	 * sample once written (if the ring did not drop it meanwhile,
	 * pend_dropped). */
	int pending;
	int pend_pop;
	uint64_t pend_dropped;
	size_t pkt_off;

	struct hw_statsd_stats st;
	struct hw_statsd_filter filter; /* admit NULL: none */
	size_t budget;               /* bytes of lines + '\n's per packet */
	size_t pkt_len;
	char pkt[];                  /* budget bytes */
};

/* ------------------------------------------------------------------ */
/* names and lines */

static int node_char(unsigned char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
	       (ch >= '0' && ch <= '9') || ch == '-' || ch == '_';
}

void hw_statsd_sanitize(const char *in, char *out, size_t outsize)
{
	const unsigned char *p = (const unsigned char *)in;
	size_t cap, n = 0;
	int in_run = 0, cut = 0;
	uint32_t h = 2166136261u;   /* FNV-1a */

	if (outsize == 0)
		return;
	cap = outsize - 1 < HW_STATSD_NODE_MAX ? outsize - 1 : HW_STATSD_NODE_MAX;
	for (; *p; p++) {
		h = (h ^ *p) * 16777619u;
		if (cut)
			continue;
		if (node_char(*p)) {
			in_run = 0;
		} else if (in_run) {
			continue;
		} else {
			in_run = 1;
		}
		if (n == cap) {
			cut = 1;
			continue;
		}
		out[n++] = in_run ? '_' : (char)*p;
	}
	if (cut && cap >= 16) {
		n = cap - 9;
		snprintf(out + n, 10, "_%08x", (unsigned)h);
		n += 9;
	}
	if (n == 0 && cap > 0)
		out[n++] = '_';
	out[n] = '\0';
}

/* Copy v into out at *n, at most size - 1 bytes in all; -1 if cut. */
static int put(char *out, size_t size, size_t *n, const char *v, size_t len)
{
	if (len >= size - *n)
		return -1;
	memcpy(out + *n, v, len);
	*n += len;
	out[*n] = '\0';
	return 0;
}

/* Only [A-Za-z0-9_-] and '.' between non-empty nodes may reach a path,
 * whatever the template, prefix or names held: other bytes become '_',
 * empty nodes (a leading, trailing or double '.') go.  Config already
 * refuses such templates and prefixes; this holds for any struct. */
static size_t clean_path(char *p, size_t len)
{
	size_t n = 0;

	for (size_t i = 0; i < len; i++) {
		char ch = p[i];

		if (ch == '.') {
			if (n == 0 || p[n - 1] == '.')
				continue;
		} else if (!node_char((unsigned char)ch)) {
			ch = '_';
		}
		p[n++] = ch;
	}
	while (n > 0 && p[n - 1] == '.')
		n--;
	p[n] = '\0';
	return n;
}

static const char *tmpl(const struct hw_statsd_config *c)
{
	return c->path[0] ? c->path : HW_STATSD_PATH_DEFAULT;
}

int hw_statsd_path_has_slot(const struct hw_statsd_config *c)
{
	return strstr(tmpl(c), "{slot}") != NULL;
}

int hw_statsd_path_has_pid(const struct hw_statsd_config *c)
{
	return strstr(tmpl(c), "{pid}") != NULL;
}

/* "<path>:<v>|g" into line (HW_STATSD_LINE_MAX); returns its length, or
 * 0 if it did not fit (impossible for a NUL-terminated config, see the
 * static assertion). */
static size_t render(const struct hw_statsd_config *c, const char *target,
		     const char *pid, const char *slot, const char *metric,
		     uint64_t v, char *line)
{
	const size_t size = HW_STATSD_LINE_MAX;
	char val[32];
	size_t n = 0;
	int w;

	line[0] = '\0';
	for (const char *t = tmpl(c); *t;) {
		static const struct { const char *key; size_t len; int which; } ph[] = {
			{ "{prefix}", 8, 0 }, { "{target}", 8, 1 },
			{ "{pid}", 5, 2 }, { "{metric}", 8, 3 },
			{ "{slot}", 6, 4 },
		};
		const char *vals[5] = { c->prefix, target, pid, metric, slot };
		size_t i;

		for (i = 0; i < 5; i++)
			if (strncmp(t, ph[i].key, ph[i].len) == 0)
				break;
		if (i < 5) {
			const char *x = vals[ph[i].which];

			if (put(line, size, &n, x, strnlen(x, size)) < 0)
				return 0;
			t += ph[i].len;
		} else {
			if (put(line, size, &n, t, 1) < 0)
				return 0;
			t++;
		}
	}
	n = clean_path(line, n);
	if (n == 0)
		return 0;
	w = snprintf(val, sizeof val, ":%llu|g", (unsigned long long)v);
	if (put(line, size, &n, val, (size_t)w) < 0)
		return 0;
	return n;
}

/* A gauge that may be negative: statsd reads "-n" as a delta, so a
 * negative value is sent as "0" then "-n" (in this order, in one packet
 * when they fit), which sets it. */
static int signed_gauge(const struct hw_statsd_config *c, const char *target,
			const char *pid, const char *slot, const char *metric,
			int64_t v, char *line, hw_statsd_line_fn fn, void *arg)
{
	size_t len = render(c, target, pid, slot, metric, v < 0 ? 0 : (uint64_t)v, line);
	int w, rc;

	if (!len)
		return 0;
	if ((rc = fn(arg, line, len)) != 0 || v >= 0)
		return rc;
	/* the line ends in ":0|g": put "-n|g" in place of "0|g" */
	len -= 3;
	w = snprintf(line + len, HW_STATSD_LINE_MAX - len, "-%llu|g",
		     (unsigned long long)(v == INT64_MIN ? (uint64_t)INT64_MAX + 1 : (uint64_t)-v));
	if (w < 0 || (size_t)w >= HW_STATSD_LINE_MAX - len)
		return 0;
	return fn(arg, line, len + (size_t)w);
}

int hw_statsd_format_sample(const struct hw_statsd_config *c,
			    const struct hw_sample *s, hw_statsd_line_fn fn,
			    void *arg)
{
	char line[HW_STATSD_LINE_MAX];
	char target[HW_TARGET_NAME_MAX], pid[24], slot[HW_SLOT_NAME_MAX];
	char metric[7 + HW_STATSD_NODE_MAX + 1];
	const int agg = s->pid == 0;
	const int by_slot = hw_statsd_path_has_slot(c);
	/* Memory figures are signed only to say "unknown" (-1): those are
	 * left out, the rest sent unsigned. */
	const struct { const char *name; int on; uint64_t v; } fig[] = {
		{ "pid", !agg && !hw_statsd_path_has_pid(c), (uint64_t)s->pid },
		{ "rss_bytes", s->rss >= 0, (uint64_t)s->rss },
		{ "pss_bytes", s->pss >= 0, (uint64_t)s->pss },
		{ "uss_bytes", s->uss >= 0, (uint64_t)s->uss },
		{ "swap_bytes", s->swap >= 0, (uint64_t)s->swap },
		{ "max_rss_bytes", agg && s->max_rss >= 0, (uint64_t)s->max_rss },
		{ "processes", agg, s->nprocs },
		{ "processes_censused", agg, s->nprocs_ok },
		{ "gc_objects", s->ok, s->gc_objects },
		{ "pause_us", s->ok, s->pause_us },
		{ "partial", s->ok, s->partial != 0 },
		{ "verdict", s->has_verdict, (uint64_t)s->verdict },
	};
	size_t len;
	int rc;

	/* A process without a slot has no path of its own. */
	if (by_slot && !agg && s->slot < 0)
		return 0;
	hw_statsd_sanitize(s->target, target, sizeof target);
	if (agg)
		snprintf(pid, sizeof pid, "all");
	else
		snprintf(pid, sizeof pid, "%lld", (long long)s->pid);
	hw_slot_name(agg ? HW_SLOT_NONE : s->slot, slot, sizeof slot);
	for (size_t i = 0; i < sizeof fig / sizeof fig[0]; i++) {
		if (!fig[i].on)
			continue;
		len = render(c, target, pid, slot, fig[i].name, fig[i].v, line);
		if (len && (rc = fn(arg, line, len)) != 0)
			return rc;
	}
	if (s->has_verdict && s->has_rss_growth &&
	    (rc = signed_gauge(c, target, pid, slot, "rss_growth_bytes_per_hour",
			       s->rss_growth_per_hour, line, fn, arg)) != 0)
		return rc;
	if (!s->ok)
		return 0;
	/* Per type: its count, then its bytes (sizes: true), then its
	 * growth (signed), each family in the sample's order. */
	for (int fam = 0; fam < 3; fam++) {
		static const char *const family[] = { "types.", "bytes.", "growth." };
		const size_t plen = strlen(family[fam]);

		for (uint32_t i = 0; i < s->ntypes && i < s->cap_types; i++) {
			const struct hw_sample_type *t = &s->types[i];
			char name[HW_SAMPLE_NAME_MAX];

			if ((fam == 1 && !t->has_bytes) || (fam == 2 && !t->has_growth))
				continue;
			/* the type's name may fill its array without a NUL */
			memcpy(name, t->name, sizeof name);
			name[sizeof name - 1] = '\0';
			memcpy(metric, family[fam], plen);
			hw_statsd_sanitize(name, metric + plen, sizeof metric - plen);
			if (fam == 2) {
				rc = signed_gauge(c, target, pid, slot, metric,
						  t->growth_per_hour, line, fn, arg);
			} else {
				len = render(c, target, pid, slot, metric,
					     fam ? t->bytes : t->count, line);
				rc = len ? fn(arg, line, len) : 0;
			}
			if (rc)
				return rc;
		}
	}
	return 0;
}

struct fmt_buf {
	char *buf;
	size_t size, len;
};

static int to_buf(void *arg, const char *line, size_t len)
{
	struct fmt_buf *b = arg;

	if (b->len + len + 1 >= b->size)
		return 1;
	memcpy(b->buf + b->len, line, len);
	b->len += len;
	b->buf[b->len++] = '\n';
	b->buf[b->len] = '\0';
	return 0;
}

long hw_statsd_format(const struct hw_statsd_config *c,
		      const struct hw_sample *s, char *buf, size_t size)
{
	struct fmt_buf b = { buf, size, 0 };

	if (size == 0)
		return -1;
	buf[0] = '\0';
	if (hw_statsd_format_sample(c, s, to_buf, &b) != 0)
		return -1;
	return (long)b.len;
}

/* ------------------------------------------------------------------ */
/* the socket */

static void rewind_pending(struct hw_statsd *s);
static void unbracket(const char *host, char *out);

static void went_down(struct hw_statsd *s, uint64_t now, const struct hw_err *e)
{
	if (s->up || s->down_since_ns == 0)
		s->down_since_ns = now ? now : 1;
	s->up = 0;
	if (e)
		hw_err_str(e, s->why, sizeof s->why);
}

static void went_up(struct hw_statsd *s, uint64_t now)
{
	if (s->down_since_ns && now > s->down_since_ns)
		s->down_total_ns += now - s->down_since_ns;
	s->down_since_ns = 0;
	s->up = 1;
	s->why[0] = '\0';
	s->backoff_ns = 0;
}

static void conn_close(struct hw_statsd *s)
{
	/* A TCP packet cut short went partly to this connection; statsd
	 * drops the fragment of the last line with it. */
	if (s->pending)
		rewind_pending(s);
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
	s->state = CONN_CLOSED;
	s->connect_since_ns = 0;
}

/* The next attempt: the next address at once, or, once every address
 * failed, a new lookup after the back-off. */
static void schedule_retry(struct hw_statsd *s, uint64_t now)
{
	if (++s->addr_next < s->naddr) {
		s->retry_at_ns = now;
		return;
	}
	s->addr_next = 0;
	s->fresh = 0;
	s->backoff_ns = s->backoff_ns == 0 ? HW_STATSD_BACKOFF_MIN_NS :
			s->backoff_ns >= HW_STATSD_BACKOFF_MAX_NS / 2 ?
			HW_STATSD_BACKOFF_MAX_NS : s->backoff_ns * 2;
	s->retry_at_ns = now + s->backoff_ns;
}

/* A connection or send attempt failed with err: close, and schedule the
 * next attempt.  Returns -1 after filling e. */
static int conn_fail(struct hw_statsd *s, uint64_t now, int err,
		     struct hw_err *e, const char *what)
{
	struct hw_err le;

	conn_close(s);
	s->last_errno = err;
	s->st.send_errors++;
	schedule_retry(s, now);
	hw_err_set(&le, HW_EIO, err, "%s: %s", s->label, what);
	went_down(s, now, &le);
	hw_err_copy(e, &le);
	return -1;
}

/* The lookup failed (le says why): no addresses; retry after the
 * back-off.  Returns -1 after filling e. */
static int resolve_fail(struct hw_statsd *s, uint64_t now,
			struct hw_err *le, struct hw_err *e)
{
	if (s->res)
		freeaddrinfo(s->res);
	s->res = NULL;
	s->naddr = 0;
	s->st.resolve_errors++;
	s->last_errno = le->sys_errno;
	schedule_retry(s, now);
	hw_err_prefix(le, "%s", s->label);
	went_down(s, now, le);
	hw_err_copy(e, le);
	return -1;
}

static void drain_efd(struct hw_statsd *s)
{
	uint64_t v;

	if (s->efd >= 0)
		while (read(s->efd, &v, sizeof v) == (ssize_t)sizeof v)
			;
}

/* Begin an attempt: a lookup of the host when the round needs one (see
 * statsd.h), else a connection to addresses[addr_next]. */
static int conn_open(struct hw_statsd *s, uint64_t now, struct hw_err *e)
{
	struct addrinfo *ai;
	struct hw_err le;
	unsigned i = 0;
	int rc, fd;

	if (!s->numeric && (!s->res || (s->addr_next == 0 && !s->fresh))) {
		hw_err_clear(&le);
		s->lookup = hw_lookup_start(s->host, s->c.port,
					    s->tcp ? SOCK_STREAM : SOCK_DGRAM,
					    s->efd, &le);
		if (!s->lookup)
			return resolve_fail(s, now, &le, e);
		s->state = CONN_RESOLVING;
		s->lookup_since_ns = now;
		return hw_err_set(e, HW_EIO, EINPROGRESS, "%s: resolving '%s'",
				  s->label, s->host);
	}
	if (s->addr_next >= s->naddr)
		s->addr_next = 0;
	for (ai = s->res; i < s->addr_next; ai = ai->ai_next)
		i++;
	fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    ai->ai_protocol);
	if (fd < 0)
		return conn_fail(s, now, errno, e, "socket");
	s->fd = fd;
	/* UDP: connect() only sets the destination, so that send() can
	 * report ICMP errors (ECONNREFUSED) for it. */
	rc = connect(fd, ai->ai_addr, ai->ai_addrlen);
	if (rc == 0) {
		s->state = CONN_READY;
		s->st.connects++;
		s->fresh = 0;
		return 0;
	}
	if (errno == EINPROGRESS && s->tcp) {
		s->state = CONN_CONNECTING;
		s->connect_since_ns = 0;
		return 0;
	}
	return conn_fail(s, now, errno, e, "connecting");
}

/* RESOLVING: collect the answer if it came.  0 with the addresses in
 * place (state CLOSED, ready to connect), or -1 with e filled (still
 * running: EINPROGRESS). */
static int conn_resolved(struct hw_statsd *s, uint64_t now, struct hw_err *e)
{
	struct addrinfo *res = NULL;
	struct hw_err le;

	hw_err_clear(&le);
	if (!hw_lookup_result(s->lookup, &res, &le)) {
		if (now - s->lookup_since_ns < HW_STATSD_RESOLVE_TIMEOUT_NS)
			return hw_err_set(e, HW_EIO, EINPROGRESS, "%s: resolving '%s'",
					  s->label, s->host);
		/* Abandoned: its thread frees the answer when it comes. */
		hw_lookup_release(s->lookup);
		s->lookup = NULL;
		s->state = CONN_CLOSED;
		s->noname = 0;
		hw_err_set(&le, HW_EIO, ETIMEDOUT, "resolving '%s': no answer in %llu s",
			   s->host,
			   (unsigned long long)(HW_STATSD_RESOLVE_TIMEOUT_NS / 1000000000u));
		return resolve_fail(s, now, &le, e);
	}
	s->noname = hw_lookup_noname(s->lookup);
	hw_lookup_release(s->lookup);
	s->lookup = NULL;
	s->state = CONN_CLOSED;
	if (!res)
		return resolve_fail(s, now, &le, e);
	if (s->res)
		freeaddrinfo(s->res);
	s->res = res;
	s->naddr = 0;
	for (struct addrinfo *ai = res; ai; ai = ai->ai_next)
		s->naddr++;
	s->addr_next = 0;
	s->fresh = 1;
	return 0;
}

/* The TCP line being written when a connection died reached statsd only
 * in part, and statsd drops a last line without '\n': send it whole on
 * the next connection. */
static void rewind_pending(struct hw_statsd *s)
{
	while (s->pkt_off > 0 && s->pkt[s->pkt_off - 1] != '\n')
		s->pkt_off--;
}

/* Make the connection usable: 0, or -1 with e filled. */
static int conn_ready(struct hw_statsd *s, uint64_t now, struct hw_err *e)
{
	if (s->state == CONN_READY && s->tcp) {
		/* statsd never writes to us: readable means it closed or
		 * reset the connection, and what we wrote now would be lost. */
		struct pollfd p = { .fd = s->fd, .events = POLLIN | POLLRDHUP };

		if (poll(&p, 1, 0) > 0) {
			int err = 0;
			socklen_t el = sizeof err;

			(void)getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &el);
			conn_close(s);
			s->last_errno = err ? err : ECONNRESET;
			s->retry_at_ns = now;   /* a restart: reconnect now */
		}
	}
	if (s->state == CONN_READY)
		return 0;
	if (s->state == CONN_RESOLVING && conn_resolved(s, now, e) < 0)
		return -1;
	if (s->state == CONN_CLOSED) {
		if (now < s->retry_at_ns)
			return hw_err_set(e, HW_EIO, s->last_errno,
					  "%s: next attempt in %llu ms", s->label,
					  (unsigned long long)((s->retry_at_ns - now) / 1000000));
		if (conn_open(s, now, e) < 0)
			return -1;
		/* a lookup begun above answers later */
	}
	if (s->state == CONN_CONNECTING) {
		struct pollfd p = { .fd = s->fd, .events = POLLOUT };
		int err = 0;
		socklen_t el = sizeof err;

		if (s->connect_since_ns == 0)
			s->connect_since_ns = now ? now : 1;
		if (poll(&p, 1, 0) <= 0) {
			if (now - s->connect_since_ns >= HW_STATSD_CONNECT_TIMEOUT_NS)
				return conn_fail(s, now, ETIMEDOUT, e, "connecting");
			return hw_err_set(e, HW_EIO, EINPROGRESS, "%s: connecting",
					  s->label);
		}
		if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0)
			err = errno;
		if (err)
			return conn_fail(s, now, err, e, "connecting");
		s->state = CONN_READY;
		s->st.connects++;
		s->fresh = 0;
	}
	return 0;
}

static int transient(int err)
{
	return err == EAGAIN || err == EWOULDBLOCK || err == ENOBUFS || err == EINTR;
}

/* Send pkt.  0: all of it went.  1 (TCP only): part of it went, the rest
 * is kept as pending (e filled).  -1: nothing went (e filled). */
static int send_pkt(struct hw_statsd *s, uint64_t now, struct hw_err *e)
{
	ssize_t w;

	if (conn_ready(s, now, e) < 0)
		return s->pending ? 1 : -1;
	if (!s->tcp) {
		int err = 0;
		socklen_t el = sizeof err;

		/* the last '\n' is not sent: lines are joined by '\n' */
		w = send(s->fd, s->pkt, s->pkt_len - 1, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (w < 0) {
			err = errno;
			if (transient(err)) {
				s->st.send_errors++;
				return hw_err_set(e, HW_EIO, err, "%s: sending", s->label);
			}
			return conn_fail(s, now, err, e, "sending");
		}
		/* On loopback an ICMP port unreachable is back before send()
		 * returns: this datagram was refused. */
		if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &el) == 0 && err)
			return conn_fail(s, now, err, e, "sending");
		s->st.packets_sent++;
		went_up(s, now);
		return 0;
	}
	while (s->pkt_off < s->pkt_len) {
		w = send(s->fd, s->pkt + s->pkt_off, s->pkt_len - s->pkt_off,
			 MSG_DONTWAIT | MSG_NOSIGNAL);
		if (w > 0) {
			s->pkt_off += (size_t)w;
			continue;
		}
		int err = w < 0 ? errno : EPIPE;

		if (err == EINTR)
			continue;
		/* Part of it went: the rest must follow before anything else
		 * (set before conn_fail(), which rewinds a pending packet). */
		if (s->pkt_off > 0)
			s->pending = 1;
		if (transient(err)) {
			s->st.send_errors++;
			hw_err_set(e, HW_EIO, err, "%s: sending", s->label);
		} else {
			conn_fail(s, now, err, e, "sending");
		}
		return s->pending ? 1 : -1;
	}
	s->pending = 0;
	s->pkt_off = 0;
	s->st.packets_sent++;
	went_up(s, now);
	return 0;
}

/* ------------------------------------------------------------------ */
/* packing */

struct pack {
	struct hw_statsd *s;
	struct hw_ring *r;           /* NULL for the health lines */
	uint64_t now;
	struct hw_err *e;
	size_t idx;                  /* lines of the sample seen so far */
	size_t skip;                 /* lines already sent */
	int failed;
};

/* Send the packet being built.  last: it ends the head sample, which is
 * popped once the packet is sent.  0 or -1 (e filled). */
static int ship(struct pack *k, int last)
{
	struct hw_statsd *s = k->s;
	int rc = 0;

	if (s->pkt_len > 0)
		rc = send_pkt(s, k->now, k->e);
	if (s->filter.done)
		s->filter.done(s->filter.arg, rc >= 0);
	if (rc < 0) {
		s->pkt_len = 0;        /* formatted again next time */
		return -1;
	}
	if (k->r)
		s->cur_line = k->idx;
	if (rc == 1) {
		/* cut short: the rest goes first next time */
		s->pend_pop = last && k->r;
		s->pend_dropped = k->r ? hw_ring_dropped(k->r) : 0;
		return -1;
	}
	s->pkt_len = 0;
	if (last && k->r) {
		hw_ring_pop(k->r, 1);
		s->cur_line = 0;
	}
	return 0;
}

static int pack_line(void *arg, const char *line, size_t len)
{
	struct pack *k = arg;
	struct hw_statsd *s = k->s;

	if (k->idx++ < k->skip)
		return 0;
	if (len + 1 > s->budget) {
		s->st.lines_dropped++;
		return 0;
	}
	if (s->pkt_len + len + 1 > s->budget) {
		size_t idx = k->idx;

		k->idx--;            /* this line is not in the packet */
		if (ship(k, 0) < 0) {
			k->failed = 1;
			return 1;
		}
		k->idx = idx;
	}
	/* Asked only now, after a full packet went: what it admits goes
	 * into the packet being built, and is settled with it. */
	if (s->filter.admit) {
		const char *colon = memrchr(line, ':', len);

		if (!s->filter.admit(s->filter.arg, line, colon ? (size_t)(colon - line) : len))
			return 0;
	}
	memcpy(s->pkt + s->pkt_len, line, len);
	s->pkt[s->pkt_len + len] = '\n';
	s->pkt_len += len + 1;
	return 0;
}

/* Finish a TCP packet cut short by the last flush. */
static int finish_pending(struct hw_statsd *s, struct hw_ring *r, uint64_t now,
			  struct hw_err *e)
{
	if (send_pkt(s, now, e) != 0)
		return -1;
	s->pkt_len = 0;
	if (s->pend_pop) {
		if (hw_ring_dropped(r) == s->pend_dropped && hw_ring_len(r) > 0)
			hw_ring_pop(r, 1);
		s->cur_line = 0;
		s->pend_pop = 0;
	}
	return 0;
}

static uint64_t unreachable_ns(const struct hw_statsd *s, uint64_t now)
{
	return s->down_total_ns +
	       (s->down_since_ns && now > s->down_since_ns ? now - s->down_since_ns : 0);
}

static int send_health(struct hw_statsd *s, struct hw_ring *r,
		       const struct hw_statsd_health *h, uint64_t now,
		       struct hw_err *e)
{
	const struct { const char *name; uint64_t v; } hv[] = {
		{ "samples_taken", h->samples_taken },
		{ "samples_failed", h->samples_failed },
		{ "samples_dropped", h->samples_dropped },
		{ "last_pause_us", h->last_pause_us },
		{ "max_pause_us", h->max_pause_us },
		{ "ring_len", hw_ring_len(r) },
		{ "packets_sent", s->st.packets_sent },
		{ "send_errors", s->st.send_errors },
		{ "lines_dropped", s->st.lines_dropped },
		{ "resolve_errors", s->st.resolve_errors },
		{ "unreachable_ms", unreachable_ns(s, now) / 1000000u },
		{ "types_held_back", h->types_held_back },
		{ "detach_failures", h->detach_failures },
		{ "series_new", h->series_new },
		{ "series_deferred", h->series_deferred },
		{ "series_waiting", h->series_waiting },
	};
	struct pack k = { .s = s, .now = now, .e = e };
	char line[HW_CONFIG_PREFIX_MAX + 64];

	for (size_t i = 0; i < sizeof hv / sizeof hv[0]; i++) {
		size_t n = strnlen(s->c.prefix, HW_CONFIG_PREFIX_MAX);

		memcpy(line, s->c.prefix, n);
		n += (size_t)snprintf(line + n, sizeof line - n, ".heapwatch.%s", hv[i].name);
		n = clean_path(line, n);
		n += (size_t)snprintf(line + n, sizeof line - n, ":%llu|g",
				      (unsigned long long)hv[i].v);
		if (pack_line(&k, line, n) != 0)
			return -1;
	}
	return ship(&k, 0);
}

int hw_statsd_flush(struct hw_statsd *s, struct hw_ring *r,
		    const struct hw_statsd_health *h, uint64_t now_ns,
		    struct hw_err *e)
{
	drain_efd(s);
	if (s->pending && finish_pending(s, r, now_ns, e) < 0)
		return -1;
	if (s->cur_dropped != hw_ring_dropped(r)) {
		s->cur_line = 0;     /* the head we had begun was overwritten */
		s->cur_dropped = hw_ring_dropped(r);
	}
	while (hw_ring_len(r) > 0) {
		struct pack k = { .s = s, .r = r, .now = now_ns, .e = e,
				  .skip = s->cur_line };

		s->pkt_len = 0;
		if (hw_statsd_format_sample(&s->c, hw_ring_peek(r, 0), pack_line, &k) != 0 ||
		    k.failed || ship(&k, 1) < 0)
			return -1;
	}
	if (h && send_health(s, r, h, now_ns, e) < 0)
		return -1;
	return 0;
}

void hw_statsd_set_filter(struct hw_statsd *s, const struct hw_statsd_filter *f)
{
	if (f)
		s->filter = *f;
	else
		memset(&s->filter, 0, sizeof s->filter);
}

void hw_statsd_get_stats(const struct hw_statsd *s, struct hw_statsd_stats *out)
{
	*out = s->st;
}

void hw_statsd_get_status(const struct hw_statsd *s, uint64_t now_ns,
			  struct hw_statsd_status *out)
{
	out->up = s->up;
	out->resolving = s->state == CONN_RESOLVING;
	out->noname = s->noname;
	out->unreachable_ns = unreachable_ns(s, now_ns);
	memcpy(out->why, s->why, sizeof out->why);
}

void hw_statsd_start(struct hw_statsd *s, uint64_t now_ns)
{
	struct hw_err e;

	drain_efd(s);
	if (s->state == CONN_CLOSED && now_ns >= s->retry_at_ns)
		(void)conn_ready(s, now_ns, &e);
}

int hw_statsd_fd(const struct hw_statsd *s)
{
	return s->efd;
}

void hw_statsd_inherit(struct hw_statsd *to, const struct hw_statsd *from,
		       uint64_t now_ns)
{
	to->st.packets_sent += from->st.packets_sent;
	to->st.send_errors += from->st.send_errors;
	to->st.lines_dropped += from->st.lines_dropped;
	to->st.connects += from->st.connects;
	to->st.resolve_errors += from->st.resolve_errors;
	to->down_total_ns += unreachable_ns(from, now_ns);
}

void hw_statsd_ring_replaced(struct hw_statsd *s)
{
	s->cur_line = 0;
	s->cur_dropped = 0;
	s->pend_pop = 0;
}

int hw_statsd_check_host(const struct hw_statsd_config *c, int *noname,
			 struct hw_err *e)
{
	char host[HW_CONFIG_HOST_MAX + 1];
	struct addrinfo *res = NULL;
	int st = c->protocol == HW_STATSD_TCP ? SOCK_STREAM : SOCK_DGRAM;

	*noname = 0;
	unbracket(c->host, host);
	if (hw_lookup_numeric(host, c->port, st, &res) == 0 ||
	    hw_lookup_now(host, c->port, st, &res, noname, e) == 0) {
		freeaddrinfo(res);
		return 0;
	}
	return -1;
}

/* ------------------------------------------------------------------ */
/* open, close */

/* host without the brackets of "[::1]" into out (HW_CONFIG_HOST_MAX + 1
 * bytes). */
static void unbracket(const char *host, char *out)
{
	size_t hl = strnlen(host, HW_CONFIG_HOST_MAX);

	if (hl > 2 && host[0] == '[' && host[hl - 1] == ']') {
		host++;
		hl -= 2;
	}
	memcpy(out, host, hl);
	out[hl] = '\0';
}

struct hw_statsd *hw_statsd_open(const struct hw_statsd_config *c,
				 struct hw_err *e)
{
	struct hw_statsd *s;
	unsigned max_packet = c->max_packet ? c->max_packet : HW_STATSD_MAX_PACKET_DEFAULT;
	size_t hl = strnlen(c->host, sizeof c->host);

	if (c->port == 0 || c->port > 65535) {
		hw_err_set(e, HW_ECONFIG, 0, "statsd port %u is out of range 1..65535", c->port);
		return NULL;
	}
	if (max_packet > 65507) {
		hw_err_set(e, HW_ECONFIG, 0, "statsd max_packet %u is above 65507", max_packet);
		return NULL;
	}
	if (hl == 0 || hl == sizeof c->host) {
		hw_err_set(e, HW_ECONFIG, 0, "statsd host is empty or too long");
		return NULL;
	}
	s = calloc(1, sizeof *s + max_packet + 1);
	if (!s) {
		hw_err_set(e, HW_ENOMEM, ENOMEM, "allocating the statsd client");
		return NULL;
	}
	s->c = *c;
	s->c.max_packet = max_packet;
	s->c.prefix[sizeof s->c.prefix - 1] = '\0';
	s->c.path[sizeof s->c.path - 1] = '\0';
	if (!s->c.path[0])
		snprintf(s->c.path, sizeof s->c.path, "%s", HW_STATSD_PATH_DEFAULT);
	s->tcp = c->protocol == HW_STATSD_TCP;
	unbracket(c->host, s->host);
	snprintf(s->label, sizeof s->label, "statsd %s%s%s:%u/%s",
		 strchr(s->host, ':') ? "[" : "", s->host,
		 strchr(s->host, ':') ? "]" : "", s->c.port, s->tcp ? "tcp" : "udp");
	/* UDP datagrams are joined lines (no '\n' after the last); TCP
	 * batches end every line in '\n'. */
	s->budget = max_packet + (s->tcp ? 0 : 1);
	s->fd = -1;
	s->efd = -1;
	/* An address literal is parsed once, here; a name is looked up at
	 * the first attempt (hw_statsd_start() or the first flush). */
	if (hw_lookup_numeric(s->host, s->c.port, s->tcp ? SOCK_STREAM : SOCK_DGRAM,
			      &s->res) == 0) {
		s->numeric = 1;
		for (struct addrinfo *ai = s->res; ai; ai = ai->ai_next)
			s->naddr++;
	}
	s->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (s->efd < 0) {
		hw_err_set(e, HW_ESYS, errno, "statsd client: eventfd");
		hw_statsd_close(s);
		return NULL;
	}
	return s;
}

void hw_statsd_close(struct hw_statsd *s)
{
	if (!s)
		return;
	conn_close(s);
	hw_lookup_release(s->lookup);
	if (s->res)
		freeaddrinfo(s->res);
	if (s->efd >= 0)
		close(s->efd);
	free(s);
}
