/* check_sdnotify.c - the systemd notify protocol: a datagram to a socket
 * path and to an abstract socket, a no-op without $NOTIFY_SOCKET, refused
 * addresses, and the watchdog variables.  Check forks for each test, so
 * setenv() stays in its test. */
#include <check.h>

#include "runner.h"
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "heapwatch/sdnotify.h"

static char dir[64];

/* A datagram socket bound to name ("@x": abstract). */
static int listener(const char *name)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = 10 };   /* against a hang only */
	size_t len = strlen(name);
	int fd = socket(AF_UNIX, SOCK_DGRAM, 0);

	ck_assert_int_ge(fd, 0);
	ck_assert_uint_lt(len, sizeof sa.sun_path);
	memcpy(sa.sun_path, name, len);
	if (name[0] == '@')
		sa.sun_path[0] = '\0';
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa,
			      (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len)), 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	return fd;
}

static void expect_datagram(int fd, const char *want)
{
	char buf[512];
	ssize_t n = recv(fd, buf, sizeof buf - 1, 0);

	ck_assert_int_gt(n, 0);
	buf[n] = '\0';
	ck_assert_str_eq(buf, want);
}

static void mkdir_tmp(void)
{
	snprintf(dir, sizeof dir, "/tmp/hw-sdnotify-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
}

START_TEST(test_unset_is_noop)
{
	unsetenv("NOTIFY_SOCKET");
	ck_assert_int_eq(hw_sd_notify("READY=1", NULL), 0);
	setenv("NOTIFY_SOCKET", "", 1);
	ck_assert_int_eq(hw_sd_notify("READY=1", NULL), 0);
}
END_TEST

START_TEST(test_path_socket)
{
	char path[128];
	int fd;

	mkdir_tmp();
	snprintf(path, sizeof path, "%s/notify", dir);
	fd = listener(path);
	setenv("NOTIFY_SOCKET", path, 1);
	ck_assert_int_eq(hw_sd_notify("READY=1", NULL), 1);
	expect_datagram(fd, "READY=1");
	ck_assert_int_eq(hw_sd_notify("STATUS=3 samples\nWATCHDOG=1", NULL), 1);
	expect_datagram(fd, "STATUS=3 samples\nWATCHDOG=1");
	close(fd);
	unlink(path);
	/* nobody listens any more: an error, not a hang */
	{
		struct hw_err e;

		hw_err_clear(&e);
		ck_assert_int_eq(hw_sd_notify("STOPPING=1", &e), -1);
		ck_assert_int_eq(e.code, HW_EIO);
		ck_assert(e.sys_errno == ENOENT || e.sys_errno == ECONNREFUSED);
		ck_assert_msg(strstr(e.msg, path), "%s", e.msg);
	}
	rmdir(dir);
}
END_TEST

START_TEST(test_abstract_socket)
{
	char name[64];
	int fd;

	snprintf(name, sizeof name, "@heapwatch-check-%d", (int)getpid());
	fd = listener(name);
	setenv("NOTIFY_SOCKET", name, 1);
	ck_assert_int_eq(hw_sd_notify("READY=1", NULL), 1);
	expect_datagram(fd, "READY=1");
	close(fd);
}
END_TEST

START_TEST(test_bad_addresses)
{
	char longname[200];
	struct hw_err e;

	setenv("NOTIFY_SOCKET", "relative/path", 1);
	ck_assert_int_eq(hw_sd_notify("READY=1", &e), -1);
	ck_assert_int_eq(e.code, HW_ECONFIG);
	ck_assert_int_eq(e.sys_errno, EAFNOSUPPORT);
	ck_assert_str_eq(e.msg, "NOTIFY_SOCKET 'relative/path' is neither a path nor @name");
	setenv("NOTIFY_SOCKET", "vsock:2:1234", 1);
	ck_assert_int_eq(hw_sd_notify("READY=1", NULL), -1);
	memset(longname, 'x', sizeof longname - 1);
	longname[0] = '/';
	longname[sizeof longname - 1] = '\0';
	setenv("NOTIFY_SOCKET", longname, 1);
	ck_assert_int_eq(hw_sd_notify("READY=1", &e), -1);
	ck_assert_int_eq(e.code, HW_ECONFIG);
	ck_assert_int_eq(e.sys_errno, ENAMETOOLONG);
}
END_TEST

START_TEST(test_watchdog)
{
	uint64_t usec = 7;
	char pid[32];

	unsetenv("WATCHDOG_USEC");
	unsetenv("WATCHDOG_PID");
	ck_assert_int_eq(hw_sd_watchdog_usec(&usec, NULL), 0);
	ck_assert_uint_eq(usec, 7);

	setenv("WATCHDOG_USEC", "30000000", 1);
	ck_assert_int_eq(hw_sd_watchdog_usec(&usec, NULL), 1);
	ck_assert_uint_eq(usec, 30000000);

	snprintf(pid, sizeof pid, "%d", (int)getpid());
	setenv("WATCHDOG_PID", pid, 1);
	usec = 0;
	ck_assert_int_eq(hw_sd_watchdog_usec(&usec, NULL), 1);
	ck_assert_uint_eq(usec, 30000000);

	/* meant for another process (our parent, say) */
	snprintf(pid, sizeof pid, "%d", (int)getppid());
	setenv("WATCHDOG_PID", pid, 1);
	ck_assert_int_eq(hw_sd_watchdog_usec(&usec, NULL), 0);
	{
		struct hw_err e;

		/* set but not a pid: a configuration error, said */
		setenv("WATCHDOG_PID", "abc", 1);
		ck_assert_int_eq(hw_sd_watchdog_usec(&usec, &e), -1);
		ck_assert_int_eq(e.code, HW_ECONFIG);
		ck_assert_str_eq(e.msg, "WATCHDOG_PID 'abc' is not a process id");
	}
	unsetenv("WATCHDOG_PID");

	static const char *const bad[] = { "0", "", "-5", "12x", " 5", "99999999999999999999999" };

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		setenv("WATCHDOG_USEC", bad[i], 1);
		usec = 7;
		struct hw_err e;

		hw_err_clear(&e);
		ck_assert_msg(hw_sd_watchdog_usec(&usec, &e) == -1, "'%s' accepted", bad[i]);
		ck_assert_int_eq(e.code, HW_ECONFIG);
		ck_assert_uint_eq(usec, 7);
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("sdnotify");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_unset_is_noop);
	tcase_add_test(tc, test_path_socket);
	tcase_add_test(tc, test_abstract_socket);
	tcase_add_test(tc, test_bad_addresses);
	tcase_add_test(tc, test_watchdog);
	suite_add_tcase(s, tc);
	return hw_run_suite(s);
}
