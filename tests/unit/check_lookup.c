/* check_lookup.c - host name lookups off the caller's thread: address
 * literals without a lookup, an answer signalled on the eventfd and handed
 * out once, a lookup abandoned while it runs (freed by its thread: ASan
 * and valgrind see no leak), the caller's signal mask untouched. */
#include <check.h>

#include "runner.h"
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "heapwatch/lookup.h"

static void wait_idle(void)
{
	for (int i = 0; i < 6000 && hw_lookups_running() > 0; i++)
		usleep(10000);
	ck_assert_int_eq(hw_lookups_running(), 0);
}

START_TEST(test_numeric)
{
	static const char *const yes[] = { "127.0.0.1", "::1", "10.1.2.3", "fe80::1%lo" };
	static const char *const no[] = { "localhost", "example.invalid", "1.2.3.4.5", "" };
	struct addrinfo *res;

	for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) {
		ck_assert_msg(hw_lookup_numeric(yes[i], 8125, SOCK_DGRAM, &res) == 0, "%s", yes[i]);
		ck_assert_ptr_nonnull(res);
		ck_assert_int_eq(res->ai_socktype, SOCK_DGRAM);
		freeaddrinfo(res);
	}
	for (size_t i = 0; i < sizeof no / sizeof no[0]; i++) {
		ck_assert_msg(hw_lookup_numeric(no[i], 8125, SOCK_STREAM, &res) == -1, "%s", no[i]);
		ck_assert_ptr_null(res);
	}
}
END_TEST

START_TEST(test_answer_on_eventfd)
{
	int efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	struct pollfd p = { .fd = efd, .events = POLLIN };
	struct addrinfo *res = (struct addrinfo *)&res;
	struct hw_err e;
	struct hw_lookup *l;
	uint64_t v;

	ck_assert_int_ge(efd, 0);
	hw_err_clear(&e);
	l = hw_lookup_start("localhost", 8125, SOCK_STREAM, efd, &e);
	ck_assert_msg(l != NULL, "%s", e.msg);
	ck_assert_int_eq(poll(&p, 1, 60000), 1);
	ck_assert_int_eq(read(efd, &v, sizeof v), (ssize_t)sizeof v);
	ck_assert_uint_eq(v, 1);
	ck_assert_int_eq(hw_lookup_result(l, &res, &e), 1);
	ck_assert_ptr_nonnull(res);
	ck_assert_int_eq(res->ai_socktype, SOCK_STREAM);
	ck_assert_int_eq(hw_lookup_noname(l), 0);
	freeaddrinfo(res);
	/* handed out once */
	ck_assert_int_eq(hw_lookup_result(l, &res, &e), 1);
	ck_assert_ptr_null(res);
	hw_lookup_release(l);
	close(efd);
	wait_idle();
}
END_TEST

START_TEST(test_no_such_name)
{
	int efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	struct pollfd p = { .fd = efd, .events = POLLIN };
	struct addrinfo *res;
	struct hw_err e;
	struct hw_lookup *l = hw_lookup_start("no-such-host.invalid", 1, SOCK_DGRAM, efd, &e);

	ck_assert_ptr_nonnull(l);
	ck_assert_int_eq(poll(&p, 1, 60000), 1);
	hw_err_clear(&e);
	ck_assert_int_eq(hw_lookup_result(l, &res, &e), 1);
	ck_assert_ptr_null(res);
	ck_assert_int_eq(e.code, HW_EIO);
	ck_assert_msg(strncmp(e.msg, "resolving 'no-such-host.invalid': ", 34) == 0, "%s", e.msg);
	hw_lookup_release(l);
	close(efd);
	wait_idle();
}
END_TEST

/* Released before it answers, its eventfd closed by the caller: the
 * thread finishes alone and frees everything. */
START_TEST(test_abandoned)
{
	for (int i = 0; i < 20; i++) {
		int efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		struct hw_err e;
		struct hw_lookup *l;

		l = hw_lookup_start(i % 2 ? "localhost" : "no-such-host.invalid", 80,
				    SOCK_DGRAM, i % 3 ? efd : -1, &e);
		ck_assert_msg(l != NULL || e.code == HW_ELIMIT, "%s", e.msg);
		close(efd);
		hw_lookup_release(l);
		if (!l)
			wait_idle();
	}
	wait_idle();
}
END_TEST

/* Starting a lookup (its thread blocks every signal) leaves the
 * caller's signal mask as it was. */
START_TEST(test_caller_mask_kept)
{
	sigset_t none, cur;
	struct hw_err e;
	struct addrinfo *res;
	int efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	struct pollfd p = { .fd = efd, .events = POLLIN };
	struct hw_lookup *l;

	sigemptyset(&none);
	pthread_sigmask(SIG_SETMASK, &none, NULL);
	l = hw_lookup_start("localhost", 80, SOCK_DGRAM, efd, &e);
	ck_assert_ptr_nonnull(l);
	/* the caller's mask is as it was */
	pthread_sigmask(SIG_SETMASK, NULL, &cur);
	ck_assert_int_eq(sigismember(&cur, SIGTERM), 0);
	ck_assert_int_eq(sigismember(&cur, SIGHUP), 0);
	ck_assert_int_eq(poll(&p, 1, 60000), 1);
	ck_assert_int_eq(hw_lookup_result(l, &res, &e), 1);
	freeaddrinfo(res);
	hw_lookup_release(l);
	close(efd);
	wait_idle();
}
END_TEST

START_TEST(test_now)
{
	struct addrinfo *res;
	struct hw_err e;
	int noname = -1;

	ck_assert_int_eq(hw_lookup_now("localhost", 8125, SOCK_DGRAM, &res, &noname, &e), 0);
	ck_assert_int_eq(noname, 0);
	freeaddrinfo(res);
	ck_assert_int_eq(hw_lookup_now("no-such-host.invalid", 8125, SOCK_DGRAM, &res, &noname, &e), -1);
	ck_assert_ptr_null(res);
	ck_assert_int_eq(e.code, HW_EIO);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("lookup");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_numeric);
	tcase_add_test(tc, test_answer_on_eventfd);
	tcase_add_test(tc, test_no_such_name);
	tcase_add_test(tc, test_abandoned);
	tcase_add_test(tc, test_caller_mask_kept);
	tcase_add_test(tc, test_now);
	suite_add_tcase(s, tc);
	return hw_run_suite(s);
}
