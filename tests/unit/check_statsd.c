/* check_statsd.c - sample ring, aggregates, and the statsd client: name
 * sanitising against hostile type names, exact lines, packet batching,
 * delivery over a real UDP socket, and samples kept while statsd is down. */
#include <arpa/inet.h>
#include <check.h>

#include "runner.h"
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "heapwatch/ring.h"
#include "heapwatch/sample.h"
#include "heapwatch/statsd.h"

static struct hw_sample_type tbuf[8];

static void mk(struct hw_sample *s, const char *target, pid_t pid)
{
	memset(s, 0, sizeof *s);
	snprintf(s->target, sizeof s->target, "%s", target);
	s->pid = pid;
	s->ok = 1;
	s->rss = 1000;
	s->pss = 800;
	s->uss = -1;
	s->swap = -1;
	s->gc_objects = 42;
	s->pause_us = 7;
	s->types = tbuf;
	s->cap_types = 8;
}

static void cfg(struct hw_statsd_config *c, unsigned port, unsigned max_packet)
{
	memset(c, 0, sizeof *c);
	snprintf(c->host, sizeof c->host, "127.0.0.1");
	c->port = port;
	c->protocol = HW_STATSD_UDP;
	snprintf(c->prefix, sizeof c->prefix, "hw");
	c->max_packet = max_packet;
	snprintf(c->path, sizeof c->path, "{prefix}.{target}.{pid}.{metric}");
}

START_TEST(test_sanitize)
{
	static const struct { const char *in, *out; } t[] = {
		{ "dict", "dict" },
		{ "__main__.Outer.Inner", "__main___Outer_Inner" },
		{ "x:1|c\nevil.metric:9|g", "x_1_c_evil_metric_9_g" },
		{ "", "_" },
		{ "a b/c", "a_b_c" },
		{ "\xc3\x89t\xc3\xa9", "_t_" },
		{ "ok-name_1", "ok-name_1" },
	};
	char out[128];

	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
		hw_statsd_sanitize(t[i].in, out, sizeof out);
		ck_assert_str_eq(out, t[i].out);
	}
	char big[5000];

	memset(big, 'A', sizeof big - 1);
	big[sizeof big - 1] = 0;
	hw_statsd_sanitize(big, out, sizeof out);
	ck_assert_uint_eq(strlen(out), sizeof out - 1);
}
END_TEST

START_TEST(test_format)
{
	struct hw_statsd_config c;
	struct hw_sample s;
	char buf[4096];
	long n;

	cfg(&c, 8125, 1432);
	mk(&s, "web", 123);
	s.ntypes = 2;
	snprintf(tbuf[0].name, sizeof tbuf[0].name, "__main__.Leak");
	tbuf[0].count = 5;
	snprintf(tbuf[1].name, sizeof tbuf[1].name, "x:1|c\nevil:9|g");
	tbuf[1].count = 3;
	n = hw_statsd_format(&c, &s, buf, sizeof buf);
	ck_assert_int_gt(n, 0);
	ck_assert_str_eq(buf,
		"hw.web.123.rss_bytes:1000|g\n"
		"hw.web.123.pss_bytes:800|g\n"
		"hw.web.123.gc_objects:42|g\n"
		"hw.web.123.pause_us:7|g\n"
		"hw.web.123.partial:0|g\n"
		"hw.web.123.types.__main___Leak:5|g\n"
		"hw.web.123.types.x_1_c_evil_9_g:3|g\n");
	/* every line: one '|g', one ':' - no injected metric */
	int lines = 0;

	for (char *p = buf; *p; p++)
		lines += *p == '\n';
	ck_assert_int_eq(lines, 7);
	mk(&s, "web", 0);
	s.ok = 0;
	s.max_rss = 900;
	s.nprocs = 2;
	n = hw_statsd_format(&c, &s, buf, sizeof buf);
	ck_assert_str_eq(buf, "hw.web.all.rss_bytes:1000|g\nhw.web.all.pss_bytes:800|g\n"
			      "hw.web.all.max_rss_bytes:900|g\nhw.web.all.processes:2|g\n");
}
END_TEST

START_TEST(test_ring)
{
	struct hw_ring *r = hw_ring_new(3, 4);
	struct hw_sample s;

	ck_assert_ptr_nonnull(r);
	for (int i = 1; i <= 5; i++) {
		mk(&s, "t", i);
		hw_ring_push(r, &s);
	}
	ck_assert_uint_eq(hw_ring_len(r), 3);
	ck_assert_uint_eq(hw_ring_dropped(r), 2);
	ck_assert_int_eq(hw_ring_peek(r, 0)->pid, 3);
	ck_assert_int_eq(hw_ring_peek(r, 2)->pid, 5);
	hw_ring_pop(r, 2);
	ck_assert_int_eq(hw_ring_peek(r, 0)->pid, 5);
	hw_ring_pop(r, 10);
	ck_assert_uint_eq(hw_ring_len(r), 0);
	hw_ring_free(r);
	hw_ring_free(NULL);
}
END_TEST

START_TEST(test_aggregate)
{
	struct hw_sample a, b, out;
	struct hw_sample_type ta[2] = { { "dict", 10 }, { "A", 1 } }, tb[2] = { { "dict", 5 }, { "B", 7 } };
	struct hw_sample_type to[2], scratch[8];
	const struct hw_sample *v[2] = { &a, &b };

	mk(&a, "t", 1);
	mk(&b, "t", 2);
	a.types = ta;
	a.ntypes = 2;
	b.types = tb;
	b.ntypes = 2;
	b.rss = 3000;
	b.pause_us = 9;
	memset(&out, 0, sizeof out);
	out.types = to;
	out.cap_types = 2;
	hw_sample_aggregate(v, 2, &out, scratch, 8);
	ck_assert_int_eq(out.rss, 4000);
	ck_assert_int_eq(out.max_rss, 3000);
	ck_assert_int_eq(out.uss, -1);
	ck_assert_uint_eq(out.gc_objects, 84);
	ck_assert_uint_eq(out.pause_us, 9);
	ck_assert_uint_eq(out.ntypes, 2);
	ck_assert_str_eq(out.types[0].name, "dict");
	ck_assert_uint_eq(out.types[0].count, 15);
	ck_assert_str_eq(out.types[1].name, "B");
}
END_TEST

static int udp_listener(unsigned *port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t l = sizeof sa;
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	bind(fd, (struct sockaddr *)&sa, sizeof sa);
	getsockname(fd, (struct sockaddr *)&sa, &l);
	*port = ntohs(sa.sin_port);
	return fd;
}

START_TEST(test_udp_delivery_and_batching)
{
	struct hw_statsd_config c;
	struct hw_ring *r = hw_ring_new(16, 8);
	struct hw_sample s;
	struct hw_err e;
	unsigned port;
	int fd = udp_listener(&port);
	char pkt[2048];
	size_t total_lines = 0;
	ssize_t n;

	cfg(&c, port, 200);
	struct hw_statsd *sd = hw_statsd_open(&c, &e);

	ck_assert_ptr_nonnull(sd);
	for (int i = 0; i < 3; i++) {
		mk(&s, "web", 100 + i);
		hw_ring_push(r, &s);
	}
	ck_assert_int_eq(hw_statsd_flush(sd, r, NULL, &e), 0);
	ck_assert_uint_eq(hw_ring_len(r), 0);
	while ((n = recv(fd, pkt, sizeof pkt - 1, MSG_DONTWAIT)) > 0) {
		pkt[n] = 0;
		ck_assert_int_le(n, 200);
		ck_assert(pkt[n - 1] != '\n');
		total_lines++;
		for (char *p = pkt; *p; p++)
			total_lines += *p == '\n';
	}
	ck_assert_uint_eq(total_lines, 3 * 5);
	hw_statsd_close(sd);
	close(fd);
	hw_ring_free(r);
}
END_TEST

START_TEST(test_statsd_down_keeps_samples)
{
	struct hw_statsd_config c;
	struct hw_ring *r = hw_ring_new(4, 8);
	struct hw_sample s;
	struct hw_err e;
	unsigned port;
	int fd = udp_listener(&port);

	close(fd); /* nobody listens on port now: ECONNREFUSED */
	cfg(&c, port, 1432);
	struct hw_statsd *sd = hw_statsd_open(&c, &e);

	ck_assert_ptr_nonnull(sd);
	int failed = 0;

	/* A send can pass before the ICMP "port unreachable" comes back;
	 * the next one then fails, and what it carried must stay. */
	for (int i = 0; i < 20 && !failed; i++) {
		mk(&s, "web", 100 + i);
		hw_ring_push(r, &s);
		if (hw_statsd_flush(sd, r, NULL, &e) < 0) {
			failed = 1;
			ck_assert_uint_ge(hw_ring_len(r), 1);
			ck_assert_int_eq(hw_ring_peek(r, hw_ring_len(r) - 1)->pid, 100 + i);
		}
		usleep(10000);
	}
	ck_assert_msg(failed, "flush never reported statsd unreachable");
	hw_statsd_close(sd);
	hw_ring_free(r);
}
END_TEST

START_TEST(test_tcp_delivery)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t l = sizeof sa;
	struct hw_statsd_config c;
	struct hw_ring *r = hw_ring_new(8, 8);
	struct hw_sample s;
	struct hw_err e;
	char buf[8192];
	size_t got = 0;
	int lfd = socket(AF_INET, SOCK_STREAM, 0), cfd = -1;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(lfd, (struct sockaddr *)&sa, sizeof sa), 0);
	ck_assert_int_eq(listen(lfd, 1), 0);
	getsockname(lfd, (struct sockaddr *)&sa, &l);
	cfg(&c, ntohs(sa.sin_port), 1432);
	c.protocol = HW_STATSD_TCP;
	struct hw_statsd *sd = hw_statsd_open(&c, &e);

	ck_assert_ptr_nonnull(sd);
	mk(&s, "web", 7);
	hw_ring_push(r, &s);
	/* the non-blocking connect may need a moment: retry, bounded */
	for (int i = 0; i < 100 && hw_ring_len(r); i++) {
		(void)hw_statsd_flush(sd, r, NULL, &e);
		if (hw_ring_len(r))
			usleep(10000);
	}
	ck_assert_uint_eq(hw_ring_len(r), 0);
	cfd = accept(lfd, NULL, NULL);
	ck_assert_int_ge(cfd, 0);
	while (got < sizeof buf - 1) {
		ssize_t n = recv(cfd, buf + got, sizeof buf - 1 - got, MSG_DONTWAIT);

		if (n <= 0)
			break;
		got += (size_t)n;
	}
	buf[got] = 0;
	/* every line newline-terminated: statsd's TCP server drops a last
	 * line without one */
	ck_assert_msg(got > 0 && buf[got - 1] == '\n', "%s", buf);
	ck_assert_msg(strstr(buf, "hw.web.7.gc_objects:42|g\n"), "%s", buf);
	close(cfd);
	close(lfd);
	hw_statsd_close(sd);
	hw_ring_free(r);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("statsd");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_sanitize);
	tcase_add_test(tc, test_format);
	tcase_add_test(tc, test_ring);
	tcase_add_test(tc, test_aggregate);
	tcase_add_test(tc, test_udp_delivery_and_batching);
	tcase_add_test(tc, test_statsd_down_keeps_samples);
	tcase_add_test(tc, test_tcp_delivery);
	suite_add_tcase(s, tc);
	return hw_run_suite(s);
}
