/* check_statsd.c - the statsd client and sample aggregates: names
 * sanitised against hostile type names, exact lines, aggregate math,
 * packets that never exceed max_packet and split only between lines, and
 * real sockets on 127.0.0.1: UDP and TCP delivery, statsd down (samples
 * kept, then delivered in order once it is back), a full ring while it is
 * down, TCP writes cut short and connections reset mid-line. */
#include <arpa/inet.h>
#include <check.h>

#include "runner.h"
#include <errno.h>
#include <malloc.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "heapwatch/lookup.h"
#include "heapwatch/ring.h"
#include "heapwatch/sample.h"
#include "heapwatch/slots.h"
#include "heapwatch/statsd.h"

#define NT 64
#define HOUR_NS 3600000000000ull

/* ------------------------------------------------------------------ */
/* helpers */

static struct hw_sample_type tstore[8][NT];

/* Sample number id of target "web": figures derive from id. */
static void mk(struct hw_sample *s, int slot, pid_t pid, int id, uint32_t ntypes)
{
	memset(s, 0, sizeof *s);
	snprintf(s->target, sizeof s->target, "web");
	s->pid = pid;
	s->ok = 1;
	s->rss = 1000 + id;
	s->pss = 800;
	s->uss = -1;
	s->swap = -1;
	s->max_rss = s->rss;
	s->gc_objects = 42;
	s->pause_us = 7;
	s->types = tstore[slot];
	s->cap_types = NT;
	s->ntypes = ntypes;
	for (uint32_t i = 0; i < ntypes; i++) {
		snprintf(s->types[i].name, sizeof s->types[i].name,
			 "mod.Type%u_with_a_longish_name", i);
		s->types[i].count = 1000u * (unsigned)id + i;
	}
}

static void cfg(struct hw_statsd_config *c, unsigned port, enum hw_statsd_proto proto,
		unsigned max_packet)
{
	memset(c, 0, sizeof *c);
	snprintf(c->host, sizeof c->host, "127.0.0.1");
	c->port = port;
	c->protocol = proto;
	snprintf(c->prefix, sizeof c->prefix, "hw");
	c->max_packet = max_packet;
	/* by pid: these tests are about lines and sockets; the slot template
	 * (the default) has tests of its own below */
	snprintf(c->path, sizeof c->path, "%s", "{prefix}.{target}.{pid}.{metric}");
}

/* "<nodes>:<digits>|g", nodes of [A-Za-z0-9_-] joined by single dots. */
static int valid_line(const char *l, size_t len)
{
	size_t i = 0, node = 0;

	for (; i < len && l[i] != ':'; i++) {
		char ch = l[i];

		if (ch == '.') {
			if (node == 0)
				return 0;
			node = 0;
		} else if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
			   (ch >= '0' && ch <= '9') || ch == '_' || ch == '-') {
			node++;
		} else {
			return 0;
		}
	}
	if (node == 0 || i == len || ++i == len)
		return 0;
	if (l[i] < '0' || l[i] > '9')
		return 0;
	while (i < len && l[i] >= '0' && l[i] <= '9')
		i++;
	return len - i == 2 && l[i] == '|' && l[i + 1] == 'g';
}

/* Every '\n'-ended line of text valid; returns the number of lines. */
static size_t check_lines(const char *text)
{
	size_t n = 0;

	for (const char *p = text; *p;) {
		const char *nl = strchr(p, '\n');

		ck_assert_msg(nl, "last line without newline: %s", p);
		ck_assert_msg(valid_line(p, (size_t)(nl - p)), "bad line: %.*s",
			      (int)(nl - p), p);
		n++;
		p = nl + 1;
	}
	return n;
}

static void set_timeout(int fd)
{
	/* against a hang only: everything here is on loopback */
	struct timeval tv = { .tv_sec = 10 };

	ck_assert_int_eq(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv), 0);
}

/* A socket bound to 127.0.0.1:*port (0: any free port, written back). */
static int bound(int type, unsigned *port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t l = sizeof sa;
	int one = 1, fd = socket(AF_INET, type, 0);

	ck_assert_int_ge(fd, 0);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sa.sin_port = htons((uint16_t)*port);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &l), 0);
	*port = ntohs(sa.sin_port);
	if (type == SOCK_STREAM)
		ck_assert_int_eq(listen(fd, 4), 0);
	set_timeout(fd);
	return fd;
}

/* A port nobody listens on: bind, note the port, close. */
static unsigned free_port(int type)
{
	unsigned port = 0;

	close(bound(type, &port));
	return port;
}

/* Receive datagrams until want bytes of lines came (each datagram's lines
 * joined with '\n' as sent, stored with a '\n' after each line).  Every
 * datagram at most max_packet bytes, no empty line, no trailing '\n'. */
static size_t recv_udp(int fd, char *out, size_t size, size_t want,
		       unsigned max_packet, size_t *npackets)
{
	char pkt[70000];
	size_t got = 0;

	*npackets = 0;
	while (got < want) {
		ssize_t n = recv(fd, pkt, sizeof pkt, 0);

		ck_assert_msg(n > 0, "recv: %s after %zu of %zu bytes", strerror(errno),
			      got, want);
		ck_assert_uint_le((size_t)n, max_packet);
		ck_assert_msg(pkt[n - 1] != '\n', "datagram ends in a newline");
		ck_assert_msg(pkt[0] != '\n' && !memmem(pkt, (size_t)n, "\n\n", 2),
			      "empty line in a datagram");
		ck_assert_uint_lt(got + (size_t)n + 1, size);
		memcpy(out + got, pkt, (size_t)n);
		got += (size_t)n;
		out[got++] = '\n';
		(*npackets)++;
	}
	out[got] = '\0';
	/* nothing more was sent */
	ck_assert_int_lt(recv(fd, pkt, sizeof pkt, MSG_DONTWAIT), 0);
	return got;
}

/* Read a stream until want bytes came. */
static size_t recv_tcp(int fd, char *out, size_t size, size_t want)
{
	size_t got = 0;

	ck_assert_uint_lt(want, size);
	while (got < want) {
		ssize_t n = recv(fd, out + got, want - got, 0);

		ck_assert_msg(n > 0, "recv: %s after %zu of %zu bytes",
			      n < 0 ? strerror(errno) : "EOF", got, want);
		got += (size_t)n;
	}
	out[got] = '\0';
	return got;
}

/* Append the lines of s to text (each '\n'-ended). */
static size_t expect_lines(const struct hw_statsd_config *c, const struct hw_sample *s,
			   char *text, size_t size, size_t len)
{
	long n = hw_statsd_format(c, s, text + len, size - len);

	ck_assert_int_ge(n, 0);
	return len + (size_t)n;
}

/* Flush until everything went, waiting (bounded) only while a TCP
 * connect is under way; each retry is an hour later, past any back-off. */
static void flush_all(struct hw_statsd *sd, struct hw_ring *r,
		      const struct hw_statsd_health *h, uint64_t *now)
{
	struct hw_err e;
	int rc = -1;

	for (int i = 0; i < 2000 && rc != 0; i++) {
		hw_err_clear(&e);
		rc = hw_statsd_flush(sd, r, h, *now, &e);
		if (rc != 0 && (e.sys_errno == EINPROGRESS || e.sys_errno == EAGAIN))
			usleep(1000);
		else if (rc != 0)
			*now += HOUR_NS;
	}
	ck_assert_msg(rc == 0, "flush: %s (errno %d)", e.msg, e.sys_errno);
	ck_assert_uint_eq(hw_ring_len(r), 0);
}

/* Wait (bounded) until s's lookup of its host finished: its fd readable. */
static void wait_lookup(struct hw_statsd *sd)
{
	struct pollfd p = { .fd = hw_statsd_fd(sd), .events = POLLIN };

	ck_assert_int_eq(poll(&p, 1, 60000), 1);
}

/* Until no lookup thread runs (abandoned ones free themselves). */
static void wait_lookups(void)
{
	for (int i = 0; i < 6000 && hw_lookups_running() > 0; i++)
		usleep(10000);
	ck_assert_int_eq(hw_lookups_running(), 0);
}

/* ------------------------------------------------------------------ */
/* names and lines */

START_TEST(test_sanitize_table)
{
	static const struct { const char *in, *out; } t[] = {
		{ "dict", "dict" },
		{ "ok-name_1", "ok-name_1" },
		{ "__main__.Outer.Inner", "__main___Outer_Inner" },
		{ "collections.OrderedDict", "collections_OrderedDict" },
		{ "x:1|c\nevil.metric:9|g", "x_1_c_evil_metric_9_g" },
		{ "a\r\nb", "a_b" },
		{ "", "_" },
		{ ".", "_" },
		{ "...:::", "_" },
		{ "a b/c", "a_b_c" },
		{ "<lambda>", "_lambda_" },
		{ "list[dict[str, int]]", "list_dict_str_int_" },
		{ "\xc3\x89t\xc3\xa9", "_t_" },           /* "Été" */
		{ "\xe6\x97\xa5\xe6\x9c\xac", "_" },      /* two CJK characters */
		{ "a\tb\x7f" "c\x01", "a_b_c_" },
		{ "+1", "_1" },
		{ "-1", "-1" },
	};
	char out[128];

	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
		hw_statsd_sanitize(t[i].in, out, sizeof out);
		ck_assert_msg(strcmp(out, t[i].out) == 0, "'%s' -> '%s', want '%s'",
			      t[i].in, out, t[i].out);
	}
}
END_TEST

START_TEST(test_sanitize_long)
{
	char big[4096 + 1], big2[4096 + 1], out[256], out2[256], exact[101];

	/* 4 KiB: capped at HW_STATSD_NODE_MAX, ending in _ and 8 hex digits */
	memset(big, 'A', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	hw_statsd_sanitize(big, out, sizeof out);
	ck_assert_uint_eq(strlen(out), HW_STATSD_NODE_MAX);
	ck_assert_int_eq(out[HW_STATSD_NODE_MAX - 9], '_');
	for (int i = HW_STATSD_NODE_MAX - 8; i < HW_STATSD_NODE_MAX; i++)
		ck_assert(strchr("0123456789abcdef", out[i]));
	/* same beginning, different end: different nodes */
	memcpy(big2, big, sizeof big);
	big2[4000] = 'B';
	hw_statsd_sanitize(big2, out2, sizeof out2);
	ck_assert_uint_eq(strlen(out2), HW_STATSD_NODE_MAX);
	ck_assert_str_ne(out, out2);
	ck_assert_int_eq(memcmp(out, out2, HW_STATSD_NODE_MAX - 9), 0);

	/* exactly the cap: kept as is; one more: cut and hashed */
	memset(exact, 'b', 100);
	exact[100] = '\0';
	hw_statsd_sanitize(exact, out, sizeof out);
	ck_assert_str_eq(out, exact);
	memcpy(big, exact, 100);
	big[100] = 'c';
	big[101] = '\0';
	hw_statsd_sanitize(big, out, sizeof out);
	ck_assert_uint_eq(strlen(out), 100);
	ck_assert_str_ne(out, exact);

	/* the output size caps too; a tiny one cuts without a hash */
	hw_statsd_sanitize("abcdefghij", out, 5);
	ck_assert_str_eq(out, "abcd");
	hw_statsd_sanitize("x.y", out, 1);
	ck_assert_str_eq(out, "");
	hw_statsd_sanitize("", out, 2);
	ck_assert_str_eq(out, "_");
	hw_statsd_sanitize("abc", out, 0);   /* nothing written, no crash */
}
END_TEST

START_TEST(test_sanitize_any_bytes)
{
	char in[300], out[HW_STATSD_NODE_MAX + 1];
	unsigned x = 12345;

	/* pseudo-random strings of every byte value: the result is always
	 * one non-empty node of [A-Za-z0-9_-] */
	for (int k = 0; k < 20000; k++) {
		size_t len = (x = x * 1103515245u + 12345u) % sizeof in;

		for (size_t i = 0; i < len; i++) {
			x = x * 1103515245u + 12345u;
			in[i] = (char)(1 + (x >> 16) % 255);
		}
		in[len] = '\0';
		hw_statsd_sanitize(in, out, sizeof out);
		ck_assert_uint_ge(strlen(out), 1);
		ck_assert_uint_le(strlen(out), HW_STATSD_NODE_MAX);
		ck_assert_uint_eq(strspn(out, "abcdefghijklmnopqrstuvwxyz"
					      "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-"),
				  strlen(out));
	}
}
END_TEST

START_TEST(test_format_process)
{
	struct hw_statsd_config c;
	struct hw_sample s;
	char buf[4096];

	cfg(&c, 8125, HW_STATSD_UDP, 1432);
	mk(&s, 0, 123, 0, 3);
	s.rss = 1000;
	s.uss = 0;                      /* 0 is known, and sent */
	s.partial = 1;
	s.pause_us = 1500;
	snprintf(s.types[0].name, sizeof s.types[0].name, "__main__.Leak");
	s.types[0].count = 5;
	snprintf(s.types[1].name, sizeof s.types[1].name, "x:1|c\nevil.metric:9|g");
	s.types[1].count = 3;
	snprintf(s.types[2].name, sizeof s.types[2].name, "dict");
	s.types[2].count = UINT64_MAX;
	ck_assert_int_eq(hw_statsd_format(&c, &s, buf, sizeof buf), (long)strlen(buf));
	ck_assert_str_eq(buf,
		"hw.web.123.rss_bytes:1000|g\n"
		"hw.web.123.pss_bytes:800|g\n"
		"hw.web.123.uss_bytes:0|g\n"
		"hw.web.123.gc_objects:42|g\n"
		"hw.web.123.pause_us:1500|g\n"
		"hw.web.123.partial:1|g\n"
		"hw.web.123.types.__main___Leak:5|g\n"
		"hw.web.123.types.x_1_c_evil_metric_9_g:3|g\n"
		"hw.web.123.types.dict:18446744073709551615|g\n");
	ck_assert_uint_eq(check_lines(buf), 9);

	/* too small a buffer: -1, and what is there is whole lines */
	ck_assert_int_eq(hw_statsd_format(&c, &s, buf, 60), -1);
	ck_assert_str_eq(buf, "hw.web.123.rss_bytes:1000|g\nhw.web.123.pss_bytes:800|g\n");
}
END_TEST

/* Verdicts and growth rates: the verdict as a number, and signed rates
 * sent as "0" then "-n" (statsd reads a bare "-n" as a delta). */
START_TEST(test_format_verdict_and_growth)
{
	struct hw_statsd_config c;
	struct hw_sample s;
	char buf[4096];

	cfg(&c, 8125, HW_STATSD_UDP, 1432);
	mk(&s, 0, 123, 0, 2);
	s.pss = -1;
	s.has_verdict = 1;
	s.verdict = 5;
	s.has_rss_growth = 1;
	s.rss_growth_per_hour = -4096;
	snprintf(s.types[0].name, sizeof s.types[0].name, "app.Session");
	s.types[0].count = 7;
	s.types[0].has_growth = 1;
	s.types[0].growth_per_hour = 61;
	snprintf(s.types[1].name, sizeof s.types[1].name, "dict");
	s.types[1].count = 9;
	s.types[1].has_growth = 1;
	s.types[1].growth_per_hour = -3;
	hw_statsd_format(&c, &s, buf, sizeof buf);
	ck_assert_str_eq(buf,
		"hw.web.123.rss_bytes:1000|g\n"
		"hw.web.123.gc_objects:42|g\n"
		"hw.web.123.pause_us:7|g\n"
		"hw.web.123.partial:0|g\n"
		"hw.web.123.verdict:5|g\n"
		"hw.web.123.rss_growth_bytes_per_hour:0|g\n"
		"hw.web.123.rss_growth_bytes_per_hour:-4096|g\n"
		"hw.web.123.types.app_Session:7|g\n"
		"hw.web.123.types.dict:9|g\n"
		"hw.web.123.growth.app_Session:61|g\n"
		"hw.web.123.growth.dict:0|g\n"
		"hw.web.123.growth.dict:-3|g\n");
	/* a failed census still has a verdict and its RSS trend */
	s.ok = 0;
	s.rss_growth_per_hour = 10;
	hw_statsd_format(&c, &s, buf, sizeof buf);
	ck_assert_str_eq(buf,
		"hw.web.123.rss_bytes:1000|g\n"
		"hw.web.123.verdict:5|g\n"
		"hw.web.123.rss_growth_bytes_per_hour:10|g\n");
}
END_TEST

START_TEST(test_format_aggregate_and_failed)
{
	struct hw_statsd_config c;
	struct hw_sample s;
	char buf[4096];

	cfg(&c, 8125, HW_STATSD_UDP, 1432);
	mk(&s, 0, 0, 0, 1);
	s.rss = 3000;
	s.swap = 4096;
	s.max_rss = 2000;
	s.nprocs = 3;
	s.nprocs_ok = 2;
	snprintf(s.types[0].name, sizeof s.types[0].name, "builtins.dict");
	s.types[0].count = 77;
	hw_statsd_format(&c, &s, buf, sizeof buf);
	ck_assert_str_eq(buf,
		"hw.web.all.rss_bytes:3000|g\n"
		"hw.web.all.pss_bytes:800|g\n"
		"hw.web.all.swap_bytes:4096|g\n"
		"hw.web.all.max_rss_bytes:2000|g\n"
		"hw.web.all.processes:3|g\n"
		"hw.web.all.processes_censused:2|g\n"
		"hw.web.all.gc_objects:42|g\n"
		"hw.web.all.pause_us:7|g\n"
		"hw.web.all.partial:0|g\n"
		"hw.web.all.types.builtins_dict:77|g\n");

	/* census failed: memory figures only (the types are ignored) */
	mk(&s, 0, 99, 0, 1);
	s.ok = 0;
	s.rss = 5;
	s.pss = -1;
	hw_statsd_format(&c, &s, buf, sizeof buf);
	ck_assert_str_eq(buf, "hw.web.99.rss_bytes:5|g\n");
	/* nothing known at all: no line */
	s.rss = -1;
	ck_assert_int_eq(hw_statsd_format(&c, &s, buf, sizeof buf), 0);
	ck_assert_str_eq(buf, "");
}
END_TEST

START_TEST(test_format_hostile_names)
{
	static const char *const names[] = {
		"x:1|c\nevil.metric:9|g", "\n", ":", "|", "|c", "a\n\nb", " ", "..",
		"-5", "+5", "\xff\xfe", "<module 'os'>", "x:-1|g",
	};
	struct hw_statsd_config c;
	struct hw_sample s;
	char buf[16384];
	size_t n = sizeof names / sizeof names[0];

	cfg(&c, 8125, HW_STATSD_TCP, 1432);
	mk(&s, 0, 4242, 0, (uint32_t)n);
	/* a target name that is not what config allows, too */
	snprintf(s.target, sizeof s.target, "we.b:1|c\nx");
	for (size_t i = 0; i < n; i++)
		snprintf(s.types[i].name, sizeof s.types[i].name, "%s", names[i]);
	ck_assert_int_gt(hw_statsd_format(&c, &s, buf, sizeof buf), 0);
	/* one valid line per metric: 5 figures + one per type */
	ck_assert_uint_eq(check_lines(buf), 5 + n);
	ck_assert_ptr_nonnull(strstr(buf, "hw.we_b_1_c_x.4242.types.x_1_c_evil_metric_9_g:0|g\n"));
	ck_assert_ptr_null(strstr(buf, "evil.metric"));
	ck_assert_ptr_null(strstr(buf, ":-"));
	ck_assert_ptr_null(strstr(buf, ":+"));
}
END_TEST

START_TEST(test_format_template)
{
	struct hw_statsd_config c;
	struct hw_sample s;
	char buf[4096];

	cfg(&c, 8125, HW_STATSD_UDP, 1432);
	mk(&s, 0, 7, 0, 0);
	s.ok = 0;
	s.pss = -1;
	snprintf(c.path, sizeof c.path, "{metric}.by_pid.{pid}.{target}.{prefix}");
	hw_statsd_format(&c, &s, buf, sizeof buf);
	ck_assert_str_eq(buf, "rss_bytes.by_pid.7.web.hw:1000|g\n");
	/* an empty prefix leaves no empty node */
	c.prefix[0] = '\0';
	hw_statsd_format(&c, &s, buf, sizeof buf);
	ck_assert_str_eq(buf, "rss_bytes.by_pid.7.web:1000|g\n");
	snprintf(c.path, sizeof c.path, "{prefix}.{target}.{pid}.{metric}");
	hw_statsd_format(&c, &s, buf, sizeof buf);
	ck_assert_str_eq(buf, "web.7.rss_bytes:1000|g\n");
	/* an empty template is the default one, by slot */
	snprintf(c.prefix, sizeof c.prefix, "a.b");
	c.path[0] = '\0';
	s.slot = 3;
	hw_statsd_format(&c, &s, buf, sizeof buf);
	ck_assert_str_eq(buf, "a.b.web.w3.pid:7|g\na.b.web.w3.rss_bytes:1000|g\n");
	/* a template config would refuse still cannot break a line */
	snprintf(c.path, sizeof c.path, "x:{metric}|c\n{pid}..{unknown}");
	hw_statsd_format(&c, &s, buf, sizeof buf);
	ck_assert_str_eq(buf, "x_rss_bytes_c_7._unknown_:1000|g\n");
}
END_TEST

/* By slot (the default template): "w<N>" for a process, with a "pid"
 * gauge first, "all" for the aggregate, which has no pid gauge; a process
 * that has no slot sends nothing; both placeholders may be used at once,
 * and then no pid gauge is needed. */
START_TEST(test_format_slots)
{
	struct hw_statsd_config c;
	struct hw_sample s;
	char buf[4096];

	cfg(&c, 8125, HW_STATSD_UDP, 1432);
	c.path[0] = '\0';
	ck_assert_int_eq(hw_statsd_path_has_slot(&c), 1);
	ck_assert_int_eq(hw_statsd_path_has_pid(&c), 0);
	mk(&s, 0, 4242, 0, 1);
	s.slot = 0;
	s.uss = 0;
	snprintf(s.types[0].name, sizeof s.types[0].name, "__main__.Leak");
	s.types[0].count = 5;
	hw_statsd_format(&c, &s, buf, sizeof buf);
	ck_assert_str_eq(buf,
		"hw.web.w0.pid:4242|g\n"
		"hw.web.w0.rss_bytes:1000|g\n"
		"hw.web.w0.pss_bytes:800|g\n"
		"hw.web.w0.uss_bytes:0|g\n"
		"hw.web.w0.gc_objects:42|g\n"
		"hw.web.w0.pause_us:7|g\n"
		"hw.web.w0.partial:0|g\n"
		"hw.web.w0.types.__main___Leak:5|g\n");
	/* a failed census still says which process holds the slot */
	s.ok = 0;
	s.slot = 12;
	s.pss = -1;
	s.uss = -1;
	hw_statsd_format(&c, &s, buf, sizeof buf);
	ck_assert_str_eq(buf, "hw.web.w12.pid:4242|g\nhw.web.w12.rss_bytes:1000|g\n");
	/* no slot: nothing */
	s.slot = -1;
	ck_assert_int_eq(hw_statsd_format(&c, &s, buf, sizeof buf), 0);
	/* the aggregate is "all", whatever its slot field says */
	mk(&s, 0, 0, 0, 0);
	s.slot = 5;
	s.ok = 0;
	s.pss = -1;
	s.nprocs = 2;
	hw_statsd_format(&c, &s, buf, sizeof buf);
	ck_assert_str_eq(buf,
		"hw.web.all.rss_bytes:1000|g\n"
		"hw.web.all.max_rss_bytes:1000|g\n"
		"hw.web.all.processes:2|g\n"
		"hw.web.all.processes_censused:0|g\n");
	/* both: the pid is in the path already */
	snprintf(c.path, sizeof c.path, "{prefix}.{target}.{slot}.{pid}.{metric}");
	ck_assert_int_eq(hw_statsd_path_has_pid(&c), 1);
	mk(&s, 0, 77, 0, 0);
	s.slot = 1;
	s.ok = 0;
	s.pss = -1;
	hw_statsd_format(&c, &s, buf, sizeof buf);
	ck_assert_str_eq(buf, "hw.web.w1.77.rss_bytes:1000|g\n");
}
END_TEST

/* The longest line the default template can give, with every part at its
 * largest, fits the default max_packet many times over: a line is never
 * dropped for its length. */
START_TEST(test_longest_line_fits)
{
	struct hw_statsd_config c;
	struct hw_sample s;
	char buf[16384];
	size_t longest = 0;

	cfg(&c, 8125, HW_STATSD_UDP, HW_STATSD_MAX_PACKET_DEFAULT);
	memset(c.prefix, 'p', HW_CONFIG_PREFIX_MAX);
	c.prefix[HW_CONFIG_PREFIX_MAX] = '\0';
	mk(&s, 0, 2147483647, 0, 2);
	memset(s.target, 't', HW_TARGET_NAME_MAX - 1);
	s.target[HW_TARGET_NAME_MAX - 1] = '\0';
	memset(s.types[0].name, 'n', sizeof s.types[0].name);  /* no NUL at all */
	s.types[0].count = UINT64_MAX;
	memset(s.types[1].name, 0, sizeof s.types[1].name);
	memset(s.types[1].name, ':', sizeof s.types[1].name - 1);
	s.types[1].count = UINT64_MAX;
	s.rss = s.pss = s.uss = s.swap = INT64_MAX;
	s.gc_objects = s.pause_us = UINT64_MAX;
	ck_assert_int_gt(hw_statsd_format(&c, &s, buf, sizeof buf), 0);
	check_lines(buf);
	for (char *p = buf; *p;) {
		char *nl = strchr(p, '\n');

		if ((size_t)(nl - p) > longest)
			longest = (size_t)(nl - p);
		p = nl + 1;
	}
	/* 128 + 1 + 64 + 1 + 10 + 1 + 6 + 100 + 1 + 20 + 2 */
	ck_assert_uint_eq(longest, 334);
	ck_assert_uint_lt(longest + 1, HW_STATSD_MAX_PACKET_DEFAULT);
	/* the default template, by slot: "w65535" is shorter than a pid */
	c.path[0] = '\0';
	s.slot = HW_SLOTS_MAX - 1;
	ck_assert_int_gt(hw_statsd_format(&c, &s, buf, sizeof buf), 0);
	check_lines(buf);
	longest = 0;
	for (char *p = buf; *p;) {
		char *nl = strchr(p, '\n');

		if ((size_t)(nl - p) > longest)
			longest = (size_t)(nl - p);
		p = nl + 1;
	}
	ck_assert_uint_eq(longest, 334 - 10 + 6);
}
END_TEST

/* ------------------------------------------------------------------ */
/* aggregates */

static size_t heap_in_use(void)
{
	struct mallinfo2 mi = mallinfo2();

	return mi.uordblks + mi.hblkhd;
}

START_TEST(test_aggregate_math)
{
	struct hw_sample a, b, f, out;
	struct hw_sample_type ta[] = { { "dict", 10 }, { "A", 1 }, { "tuple", 4 } };
	struct hw_sample_type tb[] = { { "dict", 5 }, { "B", 7 }, { "tuple", 4 } };
	struct hw_sample_type tf[] = { { "dict", 1000 } };
	struct hw_sample_type to[3], scratch[16];
	const struct hw_sample *v[3] = { &a, &f, &b };
	size_t before;

	mk(&a, 0, 1, 0, 0);
	mk(&b, 1, 2, 0, 0);
	mk(&f, 2, 3, 0, 0);
	a.types = ta, a.ntypes = 3;
	b.types = tb, b.ntypes = 3;
	f.types = tf, f.ntypes = 1;
	a.rss = 1000, b.rss = 3000, f.rss = 500;
	a.pss = -1, b.pss = 2000, f.pss = -1;
	a.uss = b.uss = f.uss = -1;
	a.swap = 0, b.swap = -1, f.swap = 10;
	a.pause_us = 9, b.pause_us = 3;
	a.partial = 0, b.partial = 1;
	a.wall_ms = 100, b.wall_ms = 300, f.wall_ms = 200;
	f.ok = 0;                 /* census failed: memory only */
	f.gc_objects = 1u << 20;
	f.pause_us = 1u << 20;
	memset(&out, 0, sizeof out);
	out.types = to;
	out.cap_types = 3;
	before = heap_in_use();
	ck_assert_int_eq(hw_sample_aggregate(v, 3, &out, scratch, 16), 0);
	ck_assert_uint_eq(heap_in_use(), before);
	ck_assert_str_eq(out.target, "web");
	ck_assert_int_eq(out.pid, 0);
	ck_assert_int_eq(out.wall_ms, 300);
	ck_assert_int_eq(out.rss, 4500);
	ck_assert_int_eq(out.max_rss, 3000);
	ck_assert_int_eq(out.pss, 2000);          /* known in one of three */
	ck_assert_int_eq(out.uss, -1);            /* known in none */
	ck_assert_int_eq(out.swap, 10);
	ck_assert_uint_eq(out.nprocs, 3);
	ck_assert_uint_eq(out.nprocs_ok, 2);
	ck_assert_int_eq(out.ok, 1);
	ck_assert_int_eq(out.partial, 1);
	ck_assert_uint_eq(out.gc_objects, 84);    /* f not counted */
	ck_assert_uint_eq(out.pause_us, 9);
	ck_assert_uint_eq(out.ntypes, 3);         /* of dict, tuple, B, A */
	ck_assert_str_eq(out.types[0].name, "dict");
	ck_assert_uint_eq(out.types[0].count, 15);
	ck_assert_str_eq(out.types[1].name, "tuple");
	ck_assert_uint_eq(out.types[1].count, 8);
	ck_assert_str_eq(out.types[2].name, "B");
	ck_assert_uint_eq(out.types[2].count, 7);

	/* no sample: an empty aggregate */
	ck_assert_int_eq(hw_sample_aggregate(v, 0, &out, scratch, 16), 0);
	ck_assert_int_eq(out.ok, 0);
	ck_assert_int_eq(out.rss, -1);
	ck_assert_uint_eq(out.nprocs, 0);
	ck_assert_uint_eq(out.ntypes, 0);

	/* no census at all: memory figures only */
	v[0] = &f;
	ck_assert_int_eq(hw_sample_aggregate(v, 1, &out, scratch, 16), 0);
	ck_assert_int_eq(out.ok, 0);
	ck_assert_int_eq(out.rss, 500);
	ck_assert_uint_eq(out.ntypes, 0);
	ck_assert_uint_eq(out.gc_objects, 0);
}
END_TEST

START_TEST(test_aggregate_ties_and_limits)
{
	enum { P = 8, T = 40 };
	static struct hw_sample_type ts[P][T], scratch[P * T], to[10];
	struct hw_sample s[P], out;
	const struct hw_sample *v[P];

	/* process p has types "t<i>" with count 1 for i in [p, p + T):
	 * "t<i>" sums to min(i + 1, P, ...) -- the middle ones to P */
	for (int p = 0; p < P; p++) {
		mk(&s[p], 0, p + 1, 0, 0);
		s[p].types = ts[p];
		s[p].ntypes = T;
		for (int i = 0; i < T; i++) {
			snprintf(ts[p][i].name, sizeof ts[p][i].name, "t%02d", p + i);
			ts[p][i].count = 1;
		}
		v[p] = &s[p];
	}
	memset(&out, 0, sizeof out);
	out.types = to;
	out.cap_types = 10;
	ck_assert_int_eq(hw_sample_aggregate(v, P, &out, scratch, P * T), 0);
	/* t07..t39 all have count 8: ties by name keep t07..t16 */
	ck_assert_uint_eq(out.ntypes, 10);
	for (int i = 0; i < 10; i++) {
		char want[8];

		snprintf(want, sizeof want, "t%02d", 7 + i);
		ck_assert_str_eq(out.types[i].name, want);
		ck_assert_uint_eq(out.types[i].count, 8);
	}
	ck_assert_int_eq(out.partial, 0);

	/* scratch too small: -1, partial, still sorted and well-formed */
	ck_assert_int_eq(hw_sample_aggregate(v, P, &out, scratch, T + 5), -1);
	ck_assert_int_eq(out.partial, 1);
	ck_assert_uint_eq(out.ntypes, 10);
	for (uint32_t i = 1; i < out.ntypes; i++)
		ck_assert(out.types[i - 1].count > out.types[i].count ||
			  (out.types[i - 1].count == out.types[i].count &&
			   strcmp(out.types[i - 1].name, out.types[i].name) < 0));

	/* cap_types 0: figures only */
	out.cap_types = 0;
	ck_assert_int_eq(hw_sample_aggregate(v, P, &out, scratch, P * T), 0);
	ck_assert_uint_eq(out.ntypes, 0);
	ck_assert_uint_eq(out.gc_objects, 42u * P);
}
END_TEST

/* ------------------------------------------------------------------ */
/* sockets */

START_TEST(test_udp_exact_lines)
{
	struct hw_statsd_config c;
	struct hw_ring *r = hw_ring_new(16, NT, NULL);
	struct hw_statsd_stats st;
	struct hw_sample s;
	struct hw_err e;
	static char want[65536], got[65536];
	size_t wl = 0, np;
	unsigned port = 0;
	int fd = bound(SOCK_DGRAM, &port);
	uint64_t now = HOUR_NS;

	cfg(&c, port, HW_STATSD_UDP, 1432);
	struct hw_statsd *sd = hw_statsd_open(&c, &e);

	ck_assert_ptr_nonnull(sd);
	for (int i = 0; i < 3; i++) {
		mk(&s, 0, 100 + i, i, 3);
		hw_ring_push(r, &s);
		wl = expect_lines(&c, &s, want, sizeof want, wl);
	}
	ck_assert_int_eq(hw_statsd_flush(sd, r, NULL, now, &e), 0);
	ck_assert_uint_eq(hw_ring_len(r), 0);
	recv_udp(fd, got, sizeof got, wl, 1432, &np);
	ck_assert_str_eq(got, want);
	ck_assert_uint_eq(np, 3);        /* one packet per sample */
	hw_statsd_get_stats(sd, &st);
	ck_assert_uint_eq(st.packets_sent, 3);
	ck_assert_uint_eq(st.send_errors, 0);
	ck_assert_uint_eq(st.lines_dropped, 0);
	/* an empty ring: nothing to send, and success */
	ck_assert_int_eq(hw_statsd_flush(sd, r, NULL, now, &e), 0);
	ck_assert_int_lt(recv(fd, got, sizeof got, MSG_DONTWAIT), 0);
	hw_statsd_close(sd);
	hw_statsd_close(NULL);
	close(fd);
	hw_ring_free(r);
}
END_TEST

START_TEST(test_udp_batching)
{
	static const unsigned sizes[] = { 64, 100, 200, 333, 1432, 9000 };
	struct hw_statsd_config c;
	struct hw_ring *r = hw_ring_new(16, NT, NULL);
	struct hw_sample s;
	struct hw_err e;
	static char want[262144], got[262144];
	unsigned port = 0;
	int fd = bound(SOCK_DGRAM, &port);
	uint64_t now = HOUR_NS;

	for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
		size_t wl = 0, np, lines;

		cfg(&c, port, HW_STATSD_UDP, sizes[k]);
		/* the shortest template keeps lines under 64 bytes */
		snprintf(c.path, sizeof c.path, "{target}{pid}{metric}");
		c.prefix[0] = '\0';
		struct hw_statsd *sd = hw_statsd_open(&c, &e);

		ck_assert_ptr_nonnull(sd);
		for (int i = 0; i < 4; i++) {
			mk(&s, 0, 10 + i, i, NT);
			for (uint32_t j = 0; j < NT; j++)
				snprintf(s.types[j].name, sizeof s.types[j].name, "T%u", j);
			hw_ring_push(r, &s);
			wl = expect_lines(&c, &s, want, sizeof want, wl);
		}
		lines = check_lines(want);
		ck_assert_int_eq(hw_statsd_flush(sd, r, NULL, now, &e), 0);
		/* datagrams at most max_packet (recv_udp), cut only between
		 * lines (same lines, in order), and full: no two consecutive
		 * datagrams of a sample would have fitted in one */
		recv_udp(fd, got, sizeof got, wl, sizes[k], &np);
		ck_assert_str_eq(got, want);
		ck_assert_uint_le(np, 4 + wl / (sizes[k] / 2));
		if (sizes[k] >= 9000)
			ck_assert_uint_eq(np, 4);
		ck_assert_uint_gt(lines, 4 * NT);
		hw_statsd_close(sd);
	}
	close(fd);
	hw_ring_free(r);
}
END_TEST

/* A line longer than max_packet is dropped and counted, the rest sent. */
START_TEST(test_line_too_long_dropped)
{
	struct hw_statsd_config c;
	struct hw_ring *r = hw_ring_new(4, NT, NULL);
	struct hw_statsd_stats st;
	struct hw_sample s;
	struct hw_err e;
	char got[4096];
	size_t np;
	unsigned port = 0;
	int fd = bound(SOCK_DGRAM, &port);

	cfg(&c, port, HW_STATSD_UDP, 64);
	struct hw_statsd *sd = hw_statsd_open(&c, &e);

	mk(&s, 0, 5, 0, 1);
	s.ok = 0;
	s.pss = -1;
	hw_ring_push(r, &s);
	mk(&s, 0, 5, 0, 2);
	s.rss = -1;
	s.pss = -1;
	memset(s.types[1].name, 'L', 80);
	s.types[1].name[80] = '\0';
	hw_ring_push(r, &s);
	const char *want = "hw.web.5.rss_bytes:1000|g\n"
			   "hw.web.5.gc_objects:42|g\nhw.web.5.pause_us:7|g\n"
			   "hw.web.5.partial:0|g\n"
			   "hw.web.5.types.mod_Type0_with_a_longish_name:0|g\n";

	ck_assert_int_eq(hw_statsd_flush(sd, r, NULL, HOUR_NS, &e), 0);
	recv_udp(fd, got, sizeof got, strlen(want), 64, &np);
	ck_assert_str_eq(got, want);
	hw_statsd_get_stats(sd, &st);
	ck_assert_uint_eq(st.lines_dropped, 1);
	hw_statsd_close(sd);
	close(fd);
	hw_ring_free(r);
}
END_TEST

START_TEST(test_tcp_exact_lines)
{
	struct hw_statsd_config c;
	struct hw_ring *r = hw_ring_new(8, NT, NULL);
	struct hw_sample s;
	struct hw_err e;
	static char want[65536], got[65536];
	size_t wl = 0;
	unsigned port = 0;
	int lfd = bound(SOCK_STREAM, &port), cfd;
	uint64_t now = HOUR_NS;

	cfg(&c, port, HW_STATSD_TCP, 200);
	struct hw_statsd *sd = hw_statsd_open(&c, &e);

	ck_assert_ptr_nonnull(sd);
	for (int i = 0; i < 3; i++) {
		mk(&s, 0, 7 + i, i, 5);
		hw_ring_push(r, &s);
		wl = expect_lines(&c, &s, want, sizeof want, wl);
	}
	flush_all(sd, r, NULL, &now);
	cfd = accept(lfd, NULL, NULL);
	ck_assert_int_ge(cfd, 0);
	set_timeout(cfd);
	recv_tcp(cfd, got, sizeof got, wl);
	/* every line newline-terminated, the last one too: statsd's TCP
	 * server drops a last line without one */
	ck_assert_str_eq(got, want);
	ck_assert_int_eq(got[wl - 1], '\n');
	ck_assert_int_lt(recv(cfd, got, sizeof got, MSG_DONTWAIT), 0);
	close(cfd);
	close(lfd);
	hw_statsd_close(sd);
	hw_ring_free(r);
}
END_TEST

/* statsd is down: flush fails, the samples stay; it comes back on the same
 * port: a later flush delivers them all, in order. */
static void down_then_up(int type)
{
	struct hw_statsd_config c;
	struct hw_ring *r = hw_ring_new(8, NT, NULL);
	struct hw_statsd_stats st;
	struct hw_sample s;
	struct hw_err e;
	static char want[65536], got[65536];
	size_t wl = 0, np;
	unsigned port = free_port(type);
	uint64_t now = HOUR_NS;
	int fd, cfd;

	cfg(&c, port, type == SOCK_STREAM ? HW_STATSD_TCP : HW_STATSD_UDP, 1432);
	struct hw_statsd *sd = hw_statsd_open(&c, &e);

	ck_assert_ptr_nonnull(sd);
	for (int i = 0; i < 2; i++) {
		mk(&s, 0, 100 + i, i, 2);
		hw_ring_push(r, &s);
		wl = expect_lines(&c, &s, want, sizeof want, wl);
	}
	/* Refused at once: on loopback the ICMP port unreachable (UDP) or
	 * the RST (TCP) is back before the system call returns. */
	hw_err_clear(&e);
	ck_assert_int_eq(hw_statsd_flush(sd, r, NULL, now, &e), -1);
	ck_assert_int_eq(e.code, HW_EIO);
	ck_assert_int_eq(e.sys_errno, ECONNREFUSED);
	ck_assert_uint_eq(hw_ring_len(r), 2);
	ck_assert_int_eq(hw_ring_peek(r, 0)->pid, 100);
	/* within the back-off: no attempt, still failing, still kept */
	mk(&s, 0, 102, 2, 2);
	hw_ring_push(r, &s);
	wl = expect_lines(&c, &s, want, sizeof want, wl);
	ck_assert_int_eq(hw_statsd_flush(sd, r, NULL, now + 1, &e), -1);
	ck_assert_ptr_nonnull(strstr(e.msg, "next attempt"));
	ck_assert_uint_eq(hw_ring_len(r), 3);
	hw_statsd_get_stats(sd, &st);
	ck_assert_uint_eq(st.send_errors, 1);
	ck_assert_uint_eq(st.packets_sent, 0);

	/* statsd is back */
	fd = bound(type, &port);
	now += HOUR_NS;
	flush_all(sd, r, NULL, &now);
	if (type == SOCK_STREAM) {
		cfd = accept(fd, NULL, NULL);
		ck_assert_int_ge(cfd, 0);
		set_timeout(cfd);
		recv_tcp(cfd, got, sizeof got, wl);
		close(cfd);
	} else {
		recv_udp(fd, got, sizeof got, wl, 1432, &np);
	}
	ck_assert_str_eq(got, want);
	close(fd);
	hw_statsd_close(sd);
	hw_ring_free(r);
}

START_TEST(test_udp_down_then_up)
{
	down_then_up(SOCK_DGRAM);
}
END_TEST

START_TEST(test_tcp_down_then_up)
{
	down_then_up(SOCK_STREAM);
}
END_TEST

/* The ring fills while statsd is down: the oldest go, counted; what is
 * left arrives in order. */
START_TEST(test_overflow_while_down)
{
	struct hw_statsd_config c;
	struct hw_ring *r = hw_ring_new(3, NT, NULL);
	struct hw_sample s;
	struct hw_err e;
	static char want[65536], got[65536];
	size_t wl = 0, np;
	unsigned port = free_port(SOCK_DGRAM);
	uint64_t now = HOUR_NS;
	int fd;

	cfg(&c, port, HW_STATSD_UDP, 1432);
	struct hw_statsd *sd = hw_statsd_open(&c, &e);

	for (int i = 0; i < 8; i++) {
		mk(&s, 0, 100 + i, i, 2);
		hw_ring_push(r, &s);
		if (i >= 5)
			wl = expect_lines(&c, &s, want, sizeof want, wl);
		now += HOUR_NS;    /* past the back-off: a real attempt each time */
		ck_assert_int_eq(hw_statsd_flush(sd, r, NULL, now, &e), -1);
	}
	ck_assert_uint_eq(hw_ring_len(r), 3);
	ck_assert_uint_eq(hw_ring_dropped(r), 5);
	ck_assert_int_eq(hw_ring_peek(r, 0)->pid, 105);
	fd = bound(SOCK_DGRAM, &port);
	now += HOUR_NS;
	flush_all(sd, r, NULL, &now);
	recv_udp(fd, got, sizeof got, wl, 1432, &np);
	ck_assert_str_eq(got, want);
	close(fd);
	hw_statsd_close(sd);
	hw_ring_free(r);
}
END_TEST

START_TEST(test_health)
{
	struct hw_statsd_config c;
	struct hw_ring *r = hw_ring_new(3, NT, NULL);
	struct hw_statsd_health h = { .samples_taken = 5, .samples_failed = 2,
				      .samples_dropped = 1, .last_pause_us = 300,
				      .max_pause_us = 900, .types_held_back = 4,
				      .series_new = 31, .series_deferred = 7,
				      .series_waiting = 3, .detach_failures = 2 };
	struct hw_sample s;
	struct hw_err e;
	static char want[65536], got[65536];
	size_t wl = 0, np;
	unsigned port = 0;
	int fd = bound(SOCK_DGRAM, &port);
	uint64_t now = HOUR_NS;

	cfg(&c, port, HW_STATSD_UDP, 1432);
	struct hw_statsd *sd = hw_statsd_open(&c, &e);

	mk(&s, 0, 100, 0, 0);
	s.ok = 0;
	s.pss = -1;
	hw_ring_push(r, &s);
	wl = expect_lines(&c, &s, want, sizeof want, wl);
	const char *health =
		"hw.heapwatch.samples_taken:5|g\n"
		"hw.heapwatch.samples_failed:2|g\n"
		"hw.heapwatch.samples_dropped:1|g\n"
		"hw.heapwatch.last_pause_us:300|g\n"
		"hw.heapwatch.max_pause_us:900|g\n"
		"hw.heapwatch.ring_len:0|g\n"
		"hw.heapwatch.packets_sent:1|g\n"
		"hw.heapwatch.send_errors:0|g\n"
		"hw.heapwatch.lines_dropped:0|g\n"
		"hw.heapwatch.resolve_errors:0|g\n"
		"hw.heapwatch.unreachable_ms:0|g\n"
		"hw.heapwatch.types_held_back:4|g\n"
		"hw.heapwatch.detach_failures:2|g\n"
		"hw.heapwatch.series_new:31|g\n"
		"hw.heapwatch.series_deferred:7|g\n"
		"hw.heapwatch.series_waiting:3|g\n";
	memcpy(want + wl, health, strlen(health) + 1);
	wl += strlen(health);
	ck_assert_int_eq(hw_statsd_flush(sd, r, &h, now, &e), 0);
	recv_udp(fd, got, sizeof got, wl, 1432, &np);
	ck_assert_str_eq(got, want);
	ck_assert_uint_eq(np, 2);
	close(fd);
	hw_statsd_close(sd);
	hw_ring_free(r);
}
END_TEST

/* Every datagram that arrives within 200 ms of the last, as lines. */
static size_t recv_udp_all(int fd, char *out, size_t size)
{
	size_t got = 0;
	char pkt[70000];
	struct pollfd p = { .fd = fd, .events = POLLIN };

	while (poll(&p, 1, 200) > 0) {
		ssize_t n = recv(fd, pkt, sizeof pkt, MSG_DONTWAIT);

		if (n <= 0)
			break;
		ck_assert_uint_lt(got + (size_t)n + 1, size);
		memcpy(out + got, pkt, (size_t)n);
		got += (size_t)n;
		out[got++] = '\n';
	}
	out[got] = '\0';
	return got;
}

/* A filter sees every line before it is packed, with the length of its
 * path; what it refuses is left out (and not kept); done() settles each
 * packet: 1 once sent, 0 when statsd refused it. */
struct filter_log {
	int admitted, refused, done_sent, done_unsent;
	char last_path[256];
};

static int refuse_types(void *arg, const char *line, size_t path_len)
{
	struct filter_log *f = arg;

	ck_assert_uint_lt(path_len, sizeof f->last_path);
	memcpy(f->last_path, line, path_len);
	f->last_path[path_len] = '\0';
	ck_assert_int_eq(line[path_len], ':');
	if (strstr(f->last_path, ".types.")) {
		f->refused++;
		return 0;
	}
	f->admitted++;
	return 1;
}

static void count_done(void *arg, int sent)
{
	struct filter_log *f = arg;

	if (sent)
		f->done_sent++;
	else
		f->done_unsent++;
}

START_TEST(test_filter)
{
	struct hw_statsd_config c;
	struct hw_ring *r = hw_ring_new(4, NT, NULL);
	struct hw_statsd_health h = { .samples_taken = 1 };
	struct filter_log fl = { 0 };
	const struct hw_statsd_filter f = { refuse_types, count_done, &fl };
	struct hw_sample s;
	struct hw_err e;
	static char got[65536];
	unsigned port = free_port(SOCK_DGRAM);
	uint64_t now = HOUR_NS;
	int fd;

	cfg(&c, port, HW_STATSD_UDP, 1432);
	struct hw_statsd *sd = hw_statsd_open(&c, &e);

	hw_statsd_set_filter(sd, &f);
	mk(&s, 0, 100, 0, 3);
	hw_ring_push(r, &s);
	/* statsd down: the packet is refused and said so */
	ck_assert_int_eq(hw_statsd_flush(sd, r, &h, now, &e), -1);
	ck_assert_int_eq(fl.done_unsent, 1);
	ck_assert_int_eq(fl.done_sent, 0);
	ck_assert_int_eq(fl.refused, 3);          /* the sample fits one packet */
	ck_assert_int_eq(fl.admitted, 5);
	memset(&fl, 0, sizeof fl);
	fd = bound(SOCK_DGRAM, &port);
	now += HOUR_NS;
	ck_assert_int_eq(hw_statsd_flush(sd, r, &h, now, &e), 0);
	recv_udp_all(fd, got, sizeof got);
	ck_assert_ptr_null(strstr(got, ".types."));
	ck_assert_ptr_nonnull(strstr(got, "hw.web.100.rss_bytes:1000|g\n"));
	ck_assert_ptr_nonnull(strstr(got, "hw.heapwatch.series_waiting:0|g"));
	ck_assert_int_eq(fl.refused, 3);
	/* 5 figures of the sample (uss, swap unknown) + 16 health lines */
	ck_assert_int_eq(fl.admitted, 5 + 16);
	ck_assert_str_eq(fl.last_path, "hw.heapwatch.series_waiting");
	ck_assert_int_eq(fl.done_unsent, 0);
	ck_assert_int_ge(fl.done_sent, 2);        /* the sample's packet, health's */
	/* no filter: every line */
	hw_statsd_set_filter(sd, NULL);
	mk(&s, 0, 100, 0, 3);
	hw_ring_push(r, &s);
	ck_assert_int_eq(hw_statsd_flush(sd, r, NULL, now, &e), 0);
	recv_udp_all(fd, got, sizeof got);
	ck_assert_ptr_nonnull(strstr(got, ".types."));
	close(fd);
	hw_statsd_close(sd);
	hw_ring_free(r);
}
END_TEST

/* The expected stream of samples 0..n-1 of test_tcp_*_writes. */
static size_t stream_of(const struct hw_statsd_config *c, int n, char *text, size_t size)
{
	struct hw_sample s;
	size_t len = 0;

	for (int i = 0; i < n; i++) {
		mk(&s, 1, 1000 + i, i, 20);
		len = expect_lines(c, &s, text, size, len);
	}
	return len;
}

/* Nobody reads: the socket buffers fill, a write is cut short, flush
 * stops; statsd reads again: the stream goes on exactly where it was, each
 * sample once, no line cut or repeated. */
START_TEST(test_tcp_partial_writes)
{
	struct hw_statsd_config c;
	struct hw_ring *r = hw_ring_new(4, NT, NULL);
	struct hw_sample s;
	struct hw_err e;
	static char want[32 << 20], got[32 << 20];
	size_t wl, gl = 0;
	unsigned port = 0;
	int lfd = bound(SOCK_STREAM, &port), cfd, small = 4096, n = 0, stopped = 0;
	uint64_t now = HOUR_NS;

	ck_assert_int_eq(setsockopt(lfd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small), 0);
	cfg(&c, port, HW_STATSD_TCP, 1432);
	struct hw_statsd *sd = hw_statsd_open(&c, &e);

	ck_assert_ptr_nonnull(sd);
	hw_statsd_start(sd, now);              /* connect now */
	flush_all(sd, r, NULL, &now);          /* connected */
	cfd = accept(lfd, NULL, NULL);
	ck_assert_int_ge(cfd, 0);
	set_timeout(cfd);
	/* bounded: the buffers of one loopback connection hold a few MiB */
	while (n < 40000 && !stopped) {
		mk(&s, 1, 1000 + n, n, 20);
		hw_ring_push(r, &s);
		n++;
		hw_err_clear(&e);
		if (hw_statsd_flush(sd, r, NULL, now, &e) < 0) {
			ck_assert_msg(e.sys_errno == EAGAIN, "%s", e.msg);
			stopped = 1;
		}
	}
	ck_assert_msg(stopped, "the socket buffers never filled");
	ck_assert_uint_ge(hw_ring_len(r), 1);
	wl = stream_of(&c, n, want, sizeof want);
	/* read, flushing in between, until all came */
	while (gl < wl) {
		ssize_t k = recv(cfd, got + gl, wl - gl, 0);

		ck_assert_msg(k > 0, "recv after %zu of %zu bytes", gl, wl);
		gl += (size_t)k;
		(void)hw_statsd_flush(sd, r, NULL, now, &e);
	}
	got[gl] = '\0';
	ck_assert_uint_eq(hw_ring_len(r), 0);
	ck_assert_msg(memcmp(got, want, wl) == 0, "stream differs");
	ck_assert_int_lt(recv(cfd, got, 16, MSG_DONTWAIT), 0);
	close(cfd);
	close(lfd);
	hw_statsd_close(sd);
	hw_ring_free(r);
}
END_TEST

/* The connection is reset while a write was cut short: the next
 * connection starts with the cut line, whole, and goes on in order. */
START_TEST(test_tcp_reset_mid_line)
{
	struct hw_statsd_config c;
	struct hw_ring *r = hw_ring_new(4, NT, NULL);
	struct hw_sample s;
	struct hw_err e;
	static char want[32 << 20], got[8 << 20];
	size_t wl, gl = 0;
	unsigned port = 0;
	int lfd = bound(SOCK_STREAM, &port), cfd, small = 4096, n = 0, stopped = 0;
	uint64_t now = HOUR_NS;
	struct linger lg = { 1, 0 };

	ck_assert_int_eq(setsockopt(lfd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small), 0);
	cfg(&c, port, HW_STATSD_TCP, 1432);
	struct hw_statsd *sd = hw_statsd_open(&c, &e);

	hw_statsd_start(sd, now);
	flush_all(sd, r, NULL, &now);
	cfd = accept(lfd, NULL, NULL);
	ck_assert_int_ge(cfd, 0);
	while (n < 40000 && !stopped) {
		mk(&s, 1, 1000 + n, n, 20);
		hw_ring_push(r, &s);
		n++;
		if (hw_statsd_flush(sd, r, NULL, now, &e) < 0)
			stopped = 1;
	}
	ck_assert(stopped);
	/* statsd dies without reading: RST, the buffered data is gone */
	ck_assert_int_eq(setsockopt(cfd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg), 0);
	close(cfd);
	now += HOUR_NS;
	flush_all(sd, r, NULL, &now);
	cfd = accept(lfd, NULL, NULL);
	ck_assert_int_ge(cfd, 0);
	set_timeout(cfd);
	wl = stream_of(&c, n, want, sizeof want);
	/* the new stream is a tail of the expected one that starts at a
	 * line: find its first line there, then compare the rest */
	while (!memchr(got, '\n', gl)) {
		ssize_t k = recv(cfd, got + gl, sizeof got - 1 - gl, 0);

		ck_assert_int_gt(k, 0);
		gl += (size_t)k;
	}
	got[gl] = '\0';
	ck_assert_msg(strncmp(got, "hw.web.", 7) == 0, "starts mid-line: %.40s", got);
	size_t first = (size_t)((char *)memchr(got, '\n', gl) - got) + 1;
	char *at = NULL;

	for (char *p = want; (p = memmem(p, wl - (size_t)(p - want), got, first)); p++)
		if (p == want || p[-1] == '\n') {
			at = p;
			break;
		}
	ck_assert_msg(at, "first line not in the stream: %.*s", (int)first, got);
	size_t rest = wl - (size_t)(at - want);

	ck_assert_uint_le(rest, sizeof got - 1);
	recv_tcp(cfd, got + gl, sizeof got - gl, rest - gl);
	ck_assert_msg(memcmp(got, at, rest) == 0, "stream differs after the reset");
	close(cfd);
	close(lfd);
	hw_statsd_close(sd);
	hw_ring_free(r);
}
END_TEST

START_TEST(test_open_errors)
{
	struct hw_statsd_config c;
	struct hw_err e;
	struct hw_statsd *sd;

	cfg(&c, 0, HW_STATSD_UDP, 1432);
	hw_err_clear(&e);
	ck_assert_ptr_null(hw_statsd_open(&c, &e));
	ck_assert_int_eq(e.code, HW_ECONFIG);
	cfg(&c, 8125, HW_STATSD_UDP, 70000);
	ck_assert_ptr_null(hw_statsd_open(&c, &e));
	ck_assert_int_eq(e.code, HW_ECONFIG);

	/* a name that does not resolve is no error at open (see
	 * test_unresolvable_name) */
	cfg(&c, 8125, HW_STATSD_UDP, 1432);
	snprintf(c.host, sizeof c.host, "no-such-host.invalid");
	sd = hw_statsd_open(&c, &e);
	ck_assert_ptr_nonnull(sd);
	hw_statsd_close(sd);
	wait_lookups();

	/* defaults: max_packet 0 and an empty template */
	cfg(&c, 8125, HW_STATSD_UDP, 0);
	c.path[0] = '\0';
	sd = hw_statsd_open(&c, &e);
	ck_assert_ptr_nonnull(sd);
	hw_statsd_close(sd);
}
END_TEST

/* A host name is looked up off the caller's thread: the first flush
 * starts the lookup and fails at once (EINPROGRESS, samples kept); once
 * the fd says the answer came, a flush delivers. */
START_TEST(test_name_lookup)
{
	struct hw_statsd_config c;
	struct hw_ring *r = hw_ring_new(4, NT, NULL);
	struct hw_statsd_status ss;
	struct hw_sample s;
	struct hw_err e;
	static char want[65536], got[65536];
	size_t wl, np;
	unsigned port = 0;
	int fd = bound(SOCK_DGRAM, &port);
	uint64_t now = HOUR_NS;

	cfg(&c, port, HW_STATSD_UDP, 1432);
	snprintf(c.host, sizeof c.host, "localhost");
	struct hw_statsd *sd = hw_statsd_open(&c, &e);

	ck_assert_ptr_nonnull(sd);
	mk(&s, 0, 100, 1, 3);
	hw_ring_push(r, &s);
	wl = expect_lines(&c, &s, want, sizeof want, 0);
	hw_statsd_get_status(sd, now, &ss);
	ck_assert_int_eq(ss.up, 0);
	ck_assert_str_eq(ss.why, "");
	hw_err_clear(&e);
	ck_assert_int_eq(hw_statsd_flush(sd, r, NULL, now, &e), -1);
	ck_assert_int_eq(e.sys_errno, EINPROGRESS);
	ck_assert_ptr_nonnull(strstr(e.msg, "resolving 'localhost'"));
	ck_assert_uint_eq(hw_ring_len(r), 1);
	hw_statsd_get_status(sd, now, &ss);
	ck_assert_int_eq(ss.resolving, 1);
	wait_lookup(sd);
	/* localhost may be ::1 first, where nobody listens: the next
	 * address follows at once */
	flush_all(sd, r, NULL, &now);
	recv_udp(fd, got, sizeof got, wl, 1432, &np);
	ck_assert_str_eq(got, want);
	hw_statsd_get_status(sd, now, &ss);
	ck_assert_int_eq(ss.up, 1);
	ck_assert_int_eq(ss.resolving, 0);
	close(fd);
	hw_statsd_close(sd);
	hw_ring_free(r);
	wait_lookups();
}
END_TEST

/* A name that does not resolve: the samples stay, the failure is counted
 * and said (status, resolve_errors, unreachable_ms), the next lookup waits
 * for the back-off; closing the client with a lookup running is fine. */
START_TEST(test_unresolvable_name)
{
	struct hw_statsd_config c;
	struct hw_ring *r = hw_ring_new(4, NT, NULL);
	struct hw_statsd_status ss;
	struct hw_statsd_stats st;
	struct hw_sample s;
	struct hw_err e;
	uint64_t now = HOUR_NS;

	cfg(&c, 8125, HW_STATSD_UDP, 1432);
	snprintf(c.host, sizeof c.host, "no-such-host.invalid");
	struct hw_statsd *sd = hw_statsd_open(&c, &e);

	ck_assert_ptr_nonnull(sd);
	mk(&s, 0, 100, 1, 3);
	hw_ring_push(r, &s);
	hw_statsd_start(sd, now);
	hw_statsd_get_status(sd, now, &ss);
	ck_assert_int_eq(ss.resolving, 1);
	wait_lookup(sd);
	hw_err_clear(&e);
	ck_assert_int_eq(hw_statsd_flush(sd, r, NULL, now, &e), -1);
	ck_assert_msg(strstr(e.msg, "statsd no-such-host.invalid:8125/udp: resolving 'no-such-host.invalid': "),
		      "%s", e.msg);
	ck_assert_uint_eq(hw_ring_len(r), 1);
	hw_statsd_get_status(sd, now, &ss);
	ck_assert_int_eq(ss.up, 0);
	ck_assert_int_eq(ss.resolving, 0);
	ck_assert_str_eq(ss.why, e.msg);
	hw_statsd_get_stats(sd, &st);
	ck_assert_uint_eq(st.resolve_errors, 1);
	ck_assert_uint_eq(st.send_errors, 0);
	/* within the back-off: no new lookup */
	ck_assert_int_eq(hw_statsd_flush(sd, r, NULL, now + 1, &e), -1);
	ck_assert_ptr_nonnull(strstr(e.msg, "next attempt"));
	hw_statsd_get_status(sd, now + 1, &ss);
	ck_assert_int_eq(ss.resolving, 0);
	/* 2 s later, past the back-off: a new lookup; unreachable 2 s */
	now += 2000000000ull;
	ck_assert_int_eq(hw_statsd_flush(sd, r, NULL, now, &e), -1);
	ck_assert_int_eq(e.sys_errno, EINPROGRESS);
	hw_statsd_get_status(sd, now, &ss);
	ck_assert_int_eq(ss.resolving, 1);
	ck_assert_uint_eq(ss.unreachable_ns, 2000000000ull);
	/* closed while looking up: abandoned, freed by its thread */
	hw_statsd_close(sd);
	hw_ring_free(r);
	wait_lookups();
}
END_TEST

/* A client replacing another (a reload) goes on from its totals. */
START_TEST(test_inherit)
{
	struct hw_statsd_config c;
	struct hw_ring *r = hw_ring_new(4, NT, NULL);
	struct hw_statsd_stats st;
	struct hw_statsd_status ss;
	struct hw_sample s;
	struct hw_err e;
	char buf[4096];
	unsigned port = 0, dead = free_port(SOCK_DGRAM);
	int fd = bound(SOCK_DGRAM, &port);
	uint64_t now = HOUR_NS;

	cfg(&c, dead, HW_STATSD_UDP, 1432);
	struct hw_statsd *a = hw_statsd_open(&c, &e);

	mk(&s, 0, 100, 1, 3);
	hw_ring_push(r, &s);
	ck_assert_int_eq(hw_statsd_flush(a, r, NULL, now, &e), -1);  /* refused */
	cfg(&c, port, HW_STATSD_UDP, 1432);
	struct hw_statsd *b = hw_statsd_open(&c, &e);

	hw_statsd_inherit(b, a, now + 3000000000ull);
	hw_statsd_close(a);
	hw_statsd_ring_replaced(b);
	ck_assert_int_eq(hw_statsd_flush(b, r, NULL, now + 3000000000ull, &e), 0);
	hw_statsd_get_stats(b, &st);
	ck_assert_uint_eq(st.send_errors, 1);
	ck_assert_uint_eq(st.packets_sent, 1);
	hw_statsd_get_status(b, now + 5000000000ull, &ss);
	ck_assert_int_eq(ss.up, 1);
	ck_assert_uint_eq(ss.unreachable_ns, 3000000000ull);
	while (recv(fd, buf, sizeof buf, MSG_DONTWAIT) > 0)
		;
	close(fd);
	hw_statsd_close(b);
	hw_ring_free(r);
}
END_TEST

/* check-config's look-up: addresses pass without one; a name that does
 * not exist fails, saying so. */
START_TEST(test_check_host)
{
	struct hw_statsd_config c;
	struct hw_err e;
	int noname = -1;

	cfg(&c, 8125, HW_STATSD_UDP, 1432);
	ck_assert_int_eq(hw_statsd_check_host(&c, &noname, &e), 0);
	snprintf(c.host, sizeof c.host, "[::1]");
	ck_assert_int_eq(hw_statsd_check_host(&c, &noname, &e), 0);
	snprintf(c.host, sizeof c.host, "localhost");
	ck_assert_int_eq(hw_statsd_check_host(&c, &noname, &e), 0);
	snprintf(c.host, sizeof c.host, "no-such-host.invalid");
	hw_err_clear(&e);
	ck_assert_int_eq(hw_statsd_check_host(&c, &noname, &e), -1);
	ck_assert_int_eq(e.code, HW_EIO);
	ck_assert_msg(strncmp(e.msg, "resolving 'no-such-host.invalid': ", 34) == 0, "%s", e.msg);
	/* no DNS at all (a sandbox) is EAI_AGAIN, not EAI_NONAME */
	if (!noname)
		fprintf(stderr, "NOTE: no-such-host.invalid: %s (not EAI_NONAME)\n", e.msg);
}
END_TEST

/* IPv6 literals, bare and in brackets; skipped where ::1 is absent. */
START_TEST(test_ipv6)
{
	struct sockaddr_in6 sa = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT };
	socklen_t l = sizeof sa;
	struct hw_statsd_config c;
	struct hw_ring *r = hw_ring_new(2, NT, NULL);
	struct hw_sample s;
	struct hw_err e;
	char want[4096], got[4096];
	size_t wl, np;
	int fd = socket(AF_INET6, SOCK_DGRAM, 0);

	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
		if (fd >= 0)
			close(fd);
		hw_ring_free(r);
		HW_SKIP("statsd ipv6: no IPv6 loopback here");
	}
	set_timeout(fd);
	getsockname(fd, (struct sockaddr *)&sa, &l);
	for (int k = 0; k < 2; k++) {
		cfg(&c, ntohs(sa.sin6_port), HW_STATSD_UDP, 1432);
		snprintf(c.host, sizeof c.host, k ? "[::1]" : "::1");
		struct hw_statsd *sd = hw_statsd_open(&c, &e);

		ck_assert_msg(sd != NULL, "%s", e.msg);
		mk(&s, 0, 6, k, 1);
		hw_ring_push(r, &s);
		wl = expect_lines(&c, &s, want, sizeof want, 0);
		ck_assert_int_eq(hw_statsd_flush(sd, r, NULL, HOUR_NS, &e), 0);
		recv_udp(fd, got, sizeof got, wl, 1432, &np);
		ck_assert_str_eq(got, want);
		hw_statsd_close(sd);
	}
	close(fd);
	hw_ring_free(r);
}
END_TEST

/* A connected client flushing into a ring allocates nothing. */
START_TEST(test_flush_no_alloc)
{
	struct hw_statsd_config c;
	struct hw_ring *r = hw_ring_new(4, NT, NULL);
	struct hw_statsd_health h = { 1, 2, 3, 4, 5 };
	struct hw_sample s;
	struct hw_err e;
	char buf[70000];
	unsigned port = 0;
	int fd = bound(SOCK_DGRAM, &port);
	size_t before;

	cfg(&c, port, HW_STATSD_UDP, 1432);
	struct hw_statsd *sd = hw_statsd_open(&c, &e);

	mk(&s, 0, 9, 1, NT);
	before = heap_in_use();
	for (int i = 0; i < 50; i++) {
		hw_ring_push(r, &s);
		ck_assert_int_eq(hw_statsd_flush(sd, r, &h, HOUR_NS, &e), 0);
		while (recv(fd, buf, sizeof buf, MSG_DONTWAIT) > 0)
			;
	}
	ck_assert_uint_eq(heap_in_use(), before);
	close(fd);
	hw_statsd_close(sd);
	hw_ring_free(r);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("statsd");
	TCase *names = tcase_create("lines");
	TCase *agg = tcase_create("aggregate");
	TCase *net = tcase_create("sockets");

	tcase_add_test(names, test_sanitize_table);
	tcase_add_test(names, test_sanitize_long);
	tcase_add_test(names, test_sanitize_any_bytes);
	tcase_add_test(names, test_format_process);
	tcase_add_test(names, test_format_verdict_and_growth);
	tcase_add_test(names, test_format_aggregate_and_failed);
	tcase_add_test(names, test_format_hostile_names);
	tcase_add_test(names, test_format_template);
	tcase_add_test(names, test_format_slots);
	tcase_add_test(names, test_longest_line_fits);
	tcase_add_test(agg, test_aggregate_math);
	tcase_add_test(agg, test_aggregate_ties_and_limits);
	tcase_add_test(net, test_udp_exact_lines);
	tcase_add_test(net, test_udp_batching);
	tcase_add_test(net, test_line_too_long_dropped);
	tcase_add_test(net, test_tcp_exact_lines);
	tcase_add_test(net, test_udp_down_then_up);
	tcase_add_test(net, test_tcp_down_then_up);
	tcase_add_test(net, test_overflow_while_down);
	tcase_add_test(net, test_health);
	tcase_add_test(net, test_filter);
	tcase_add_test(net, test_tcp_partial_writes);
	tcase_add_test(net, test_tcp_reset_mid_line);
	tcase_add_test(net, test_open_errors);
	tcase_add_test(net, test_name_lookup);
	tcase_add_test(net, test_unresolvable_name);
	tcase_add_test(net, test_inherit);
	tcase_add_test(net, test_check_host);
	tcase_add_test(net, test_ipv6);
	tcase_add_test(net, test_flush_no_alloc);
	suite_add_tcase(s, names);
	suite_add_tcase(s, agg);
	suite_add_tcase(s, net);
	return hw_run_suite(s);
}
