/* statsd.c - gauges to statsd; see include/heapwatch/statsd.h. */
#include "heapwatch/statsd.h"

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define NODE_MAX 100
#define LINE_MAX_ 1024
#define FORMAT_MAX (64 * 1024 + 4096)

struct hw_statsd {
	struct hw_statsd_config c;
	int fd;
	int connected;           /* TCP: connection established */
	char *pkt;               /* packet being built */
	size_t pktlen;
	char *lines;             /* one sample's lines */
};

void hw_statsd_sanitize(const char *in, char *out, size_t size)
{
	size_t n = 0;
	int replaced = 0;   /* the last byte out replaced a run */

	if (size == 0)
		return;
	for (const unsigned char *p = (const unsigned char *)in; *p && n + 1 < size; p++) {
		int ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
			 (*p >= '0' && *p <= '9') || *p == '-' || *p == '_';

		if (ok) {
			out[n++] = (char)*p;
			replaced = 0;
		} else if (!replaced) {
			out[n++] = '_';
			replaced = 1;
		}
	}
	if (n == 0)
		out[n++] = '_';
	out[n] = '\0';
}

/* Render the template for one metric; metric may hold dots (types.x). */
static int render(const struct hw_statsd_config *c, const struct hw_sample *s,
		  const char *metric, char *out, size_t size)
{
	char target[NODE_MAX + 1], pid[24];
	size_t n = 0;

	hw_statsd_sanitize(s->target, target, sizeof target);
	if (s->pid)
		snprintf(pid, sizeof pid, "%d", (int)s->pid);
	else
		snprintf(pid, sizeof pid, "all");
	for (const char *t = c->path; *t;) {
		const char *v = NULL;
		size_t skip = 0;

		if (strncmp(t, "{prefix}", 8) == 0)
			v = c->prefix, skip = 8;
		else if (strncmp(t, "{target}", 8) == 0)
			v = target, skip = 8;
		else if (strncmp(t, "{pid}", 5) == 0)
			v = pid, skip = 5;
		else if (strncmp(t, "{metric}", 8) == 0)
			v = metric, skip = 8;
		if (v) {
			size_t l = strlen(v);

			if (n + l >= size)
				return -1;
			memcpy(out + n, v, l);
			n += l;
			t += skip;
		} else {
			if (n + 1 >= size)
				return -1;
			out[n++] = *t++;
		}
	}
	out[n] = '\0';
	return 0;
}

static int line(const struct hw_statsd_config *c, const struct hw_sample *s,
		const char *metric, uint64_t v, char *buf, size_t size, size_t *len)
{
	char path[LINE_MAX_];
	int w;

	if (render(c, s, metric, path, sizeof path) < 0)
		return -1;
	w = snprintf(buf + *len, size - *len, "%s:%llu|g\n", path, (unsigned long long)v);
	if (w < 0 || (size_t)w >= size - *len)
		return -1;
	*len += (size_t)w;
	return 0;
}

long hw_statsd_format(const struct hw_statsd_config *c,
		      const struct hw_sample *s, char *buf, size_t size)
{
	size_t len = 0;
	struct { const char *name; int64_t v; } mem[] = {
		{ "rss_bytes", s->rss }, { "pss_bytes", s->pss },
		{ "uss_bytes", s->uss }, { "swap_bytes", s->swap },
		{ "max_rss_bytes", s->pid ? -1 : s->max_rss },
	};

	for (size_t i = 0; i < sizeof mem / sizeof mem[0]; i++)
		if (mem[i].v >= 0 && line(c, s, mem[i].name, (uint64_t)mem[i].v, buf, size, &len) < 0)
			return -1;
	if (!s->pid && line(c, s, "processes", s->nprocs, buf, size, &len) < 0)
		return -1;
	if (!s->ok)
		return (long)len;
	if (line(c, s, "gc_objects", s->gc_objects, buf, size, &len) < 0 ||
	    line(c, s, "pause_us", s->pause_us, buf, size, &len) < 0 ||
	    line(c, s, "partial", (uint64_t)(s->partial != 0), buf, size, &len) < 0)
		return -1;
	for (uint32_t i = 0; i < s->ntypes; i++) {
		char node[NODE_MAX + 1], metric[NODE_MAX + 16];

		hw_statsd_sanitize(s->types[i].name, node, sizeof node);
		snprintf(metric, sizeof metric, "types.%s", node);
		if (line(c, s, metric, s->types[i].count, buf, size, &len) < 0)
			return -1;
	}
	return (long)len;
}

static int sock_open(struct hw_statsd *s, struct hw_err *e)
{
	struct addrinfo hints, *res = NULL, *ai;
	char port[16];
	int rc;

	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = s->c.protocol == HW_STATSD_TCP ? SOCK_STREAM : SOCK_DGRAM;
	snprintf(port, sizeof port, "%u", s->c.port);
	rc = getaddrinfo(s->c.host, port, &hints, &res);
	if (rc != 0)
		return hw_err_set(e, HW_EIO, 0, "statsd %s:%u: %s", s->c.host, s->c.port,
				  gai_strerror(rc));
	for (ai = res; ai; ai = ai->ai_next) {
		int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
				ai->ai_protocol);

		if (fd < 0)
			continue;
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0 ||
		    (errno == EINPROGRESS && s->c.protocol == HW_STATSD_TCP)) {
			s->fd = fd;
			s->connected = s->c.protocol != HW_STATSD_TCP || errno != EINPROGRESS;
			freeaddrinfo(res);
			return 0;
		}
		close(fd);
	}
	freeaddrinfo(res);
	return hw_err_set(e, HW_EIO, errno, "statsd %s:%u", s->c.host, s->c.port);
}

static void sock_close(struct hw_statsd *s)
{
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
	s->connected = 0;
}

struct hw_statsd *hw_statsd_open(const struct hw_statsd_config *c,
				 struct hw_err *e)
{
	struct hw_statsd *s = calloc(1, sizeof *s);

	if (!s || !(s->pkt = malloc(c->max_packet + 1)) ||
	    !(s->lines = malloc(FORMAT_MAX))) {
		hw_statsd_close(s);
		hw_err_set(e, HW_ENOMEM, ENOMEM, "allocating the statsd client");
		return NULL;
	}
	s->c = *c;
	s->fd = -1;
	/* A name that does not resolve now may later: only warn by error
	 * at flush time, but check the syntax of the address here. */
	if (sock_open(s, e) < 0 && e && e->sys_errno == 0 &&
	    strstr(e->msg, "Name or service not known")) {
		hw_statsd_close(s);
		return NULL;
	}
	return s;
}

void hw_statsd_close(struct hw_statsd *s)
{
	if (!s)
		return;
	sock_close(s);
	free(s->pkt);
	free(s->lines);
	free(s);
}

/* Send the packet being built; 0 sent (or empty), -1 failed. */
static int send_pkt(struct hw_statsd *s, struct hw_err *e)
{
	ssize_t w;

	if (!s->pktlen)
		return 0;
	if (s->fd < 0 && sock_open(s, e) < 0)
		return -1;
	if (s->c.protocol == HW_STATSD_TCP && !s->connected) {
		struct pollfd p = { s->fd, POLLOUT, 0 };
		int err = 0;
		socklen_t el = sizeof err;

		if (poll(&p, 1, 0) <= 0)
			return hw_err_set(e, HW_EIO, EINPROGRESS, "statsd %s:%u: connecting",
					  s->c.host, s->c.port);
		getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &el);
		if (err) {
			sock_close(s);
			return hw_err_set(e, HW_EIO, err, "statsd %s:%u", s->c.host, s->c.port);
		}
		s->connected = 1;
	}
	/* UDP datagrams drop the final newline; TCP keeps it (statsd needs
	 * it to take the last line). */
	size_t len = s->c.protocol == HW_STATSD_TCP ? s->pktlen : s->pktlen - 1;

	w = send(s->fd, s->pkt, len, MSG_DONTWAIT | MSG_NOSIGNAL);
	if (w < 0 || (size_t)w != len) {
		int err = w < 0 ? errno : EAGAIN;

		/* A part-sent TCP stream is cut mid-line: start afresh. */
		sock_close(s);
		return hw_err_set(e, HW_EIO, err, "statsd %s:%u", s->c.host, s->c.port);
	}
	s->pktlen = 0;
	return 0;
}

/* Append lines (each '\n'-ended) to packets, sending full ones. */
static int put_lines(struct hw_statsd *s, const char *lines, size_t len,
		     struct hw_err *e)
{
	const char *p = lines, *end = lines + len;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t l = (size_t)(nl - p) + 1;

		if (l > s->c.max_packet) { /* cannot happen with capped names */
			p += l;
			continue;
		}
		if (s->pktlen + l > s->c.max_packet && send_pkt(s, e) < 0)
			return -1;
		memcpy(s->pkt + s->pktlen, p, l);
		s->pktlen += l;
		p += l;
	}
	return 0;
}

int hw_statsd_flush(struct hw_statsd *s, struct hw_ring *r,
		    const struct hw_statsd_health *h, struct hw_err *e)
{
	struct hw_sample hs;
	size_t len = 0;

	s->pktlen = 0;
	while (hw_ring_len(r)) {
		const struct hw_sample *smp = hw_ring_peek(r, 0);
		long n = hw_statsd_format(&s->c, smp, s->lines, FORMAT_MAX);

		if (n > 0 && (put_lines(s, s->lines, (size_t)n, e) < 0 || send_pkt(s, e) < 0))
			return -1;
		hw_ring_pop(r, 1);
	}
	if (!h)
		return 0;
	memset(&hs, 0, sizeof hs);
	snprintf(hs.target, sizeof hs.target, "heapwatch");
	struct { const char *name; uint64_t v; } hv[] = {
		{ "samples_taken", h->samples_taken }, { "samples_failed", h->samples_failed },
		{ "samples_dropped", h->samples_dropped }, { "last_pause_us", h->last_pause_us },
		{ "max_pause_us", h->max_pause_us }, { "ring_len", hw_ring_len(r) },
	};
	for (size_t i = 0; i < sizeof hv / sizeof hv[0]; i++) {
		int w = snprintf(s->lines + len, FORMAT_MAX - len, "%s.heapwatch.%s:%llu|g\n",
				 s->c.prefix, hv[i].name, (unsigned long long)hv[i].v);

		if (w > 0 && (size_t)w < FORMAT_MAX - len)
			len += (size_t)w;
	}
	if (put_lines(s, s->lines, len, e) < 0 || send_pkt(s, e) < 0)
		return -1;
	return 0;
}
