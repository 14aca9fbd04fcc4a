/* children.h - forked test children for the suites that need a real
 * process (check_freeze, check_proc): spawn one running body(arg), wait
 * until it says it is set up, and reap it whatever state it is in. */
#ifndef HW_TEST_CHILDREN_H
#define HW_TEST_CHILDREN_H

#include <check.h>
#include <errno.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

static int ready_fd = -1;   /* in a child: write a byte when ready */

/* In a child: tell the parent it is set up. */
static inline void say_ready(void)
{
	if (write(ready_fd, "r", 1) != 1)
		_exit(111);
}

/* Fork a child running body(arg), which calls say_ready() once set up;
 * return its pid once it has.  The child dies with its parent. */
static inline pid_t spawn(void (*body)(const void *), const void *arg)
{
	int p[2];
	pid_t pid;
	char c;

	ck_assert_int_eq(pipe(p), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
		close(p[0]);
		ready_fd = p[1];
		body(arg);
		_exit(0);
	}
	close(p[1]);
	ck_assert_int_eq(read(p[0], &c, 1), 1);
	close(p[0]);
	return pid;
}

/* Kill and reap a child, stopped or not.  ECHILD is fine: as its tracer,
 * a freeze may have reaped it already. */
static inline void reap(pid_t pid)
{
	kill(pid, SIGKILL);
	kill(pid, SIGCONT);
	while (waitpid(pid, NULL, __WALL) < 0 && errno == EINTR)
		;
}

#endif
