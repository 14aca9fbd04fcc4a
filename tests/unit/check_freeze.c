/* check_freeze.c - stopping and resuming real processes (forked children):
 * every thread stopped in a tracing stop and resumed after; a SIGSTOPped
 * process left stopped; a signal sent meanwhile delivered once after; an
 * already traced process refused; a vanished one a clean error.  Also the
 * /proc readers on the same children. */
#include <check.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <unistd.h>

#include "heapwatch/freeze.h"
#include "heapwatch/proc.h"
#include "runner.h"

#define NTHREADS 4

static volatile unsigned long *counters; /* shared with the child */

static void *spin(void *arg)
{
	volatile unsigned long *c = arg;

	for (;;)
		(*c)++;
	return NULL;
}

static void on_usr1(int sig)
{
	(void)sig;
	counters[NTHREADS + 1]++;
}

/* A child with NTHREADS spinning threads; returns its pid. */
static pid_t spawn_spinner(void)
{
	int p[2];
	pid_t pid;
	char c;

	if (!counters)
		counters = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	memset((void *)counters, 0, 4096);
	ck_assert_int_eq(pipe(p), 0);
	pid = fork();
	if (pid == 0) {
		pthread_t th;

		prctl(PR_SET_NAME, "a b) c", 0, 0, 0);
		signal(SIGUSR1, on_usr1);
		for (int i = 0; i < NTHREADS; i++)
			pthread_create(&th, NULL, spin, (void *)&counters[i]);
		if (write(p[1], "r", 1) != 1)
			_exit(1);
		for (;;)
			pause();
	}
	close(p[1]);
	ck_assert_int_eq(read(p[0], &c, 1), 1);
	close(p[0]);
	return pid;
}

static void reap(pid_t pid)
{
	kill(pid, SIGCONT);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

static int count_states(pid_t pid, char want)
{
	pid_t *tids;
	size_t n;
	int k = 0;

	if (hw_proc_tasks(pid, &tids, &n, NULL) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		char path[96], buf[512];
		FILE *f;

		snprintf(path, sizeof path, "/proc/%d/task/%d/stat", (int)pid, (int)tids[i]);
		f = fopen(path, "r");
		if (!f)
			continue;
		size_t r = fread(buf, 1, sizeof buf - 1, f);

		fclose(f);
		buf[r] = 0;
		if (strrchr(buf, ')')[2] == want)
			k++;
	}
	free(tids);
	return k;
}

START_TEST(test_freeze_and_thaw)
{
	struct hw_freeze f;
	struct hw_err e;
	pid_t pid = spawn_spinner();
	unsigned long before[NTHREADS];

	hw_freeze_init(&f);
	ck_assert_msg(hw_freeze_begin(&f, pid, &e) == 0, "%s", e.msg);
	ck_assert_uint_eq(f.ntids, NTHREADS + 1);
	ck_assert_int_eq(count_states(pid, 't'), NTHREADS + 1);
	for (int i = 0; i < NTHREADS; i++)
		before[i] = counters[i];
	usleep(20000);
	for (int i = 0; i < NTHREADS; i++)
		ck_assert_uint_eq(counters[i], before[i]); /* nothing ran */
	ck_assert_int_eq(hw_freeze_end(&f, &e), 0);
	ck_assert_uint_gt(hw_freeze_elapsed_ns(&f), 0);
	/* running again: every thread makes progress (bounded wait, no
	 * speed assumed) */
	for (int i = 0; i < NTHREADS; i++) {
		for (int k = 0; k < 1000 && counters[i] == before[i]; k++)
			usleep(10000);
		ck_assert_uint_gt(counters[i], before[i]);
	}
	ck_assert_int_eq(count_states(pid, 't'), 0);
	/* twice in a row, and end is idempotent */
	ck_assert_int_eq(hw_freeze_begin(&f, pid, &e), 0);
	ck_assert_int_eq(hw_freeze_end(&f, &e), 0);
	ck_assert_int_eq(hw_freeze_end(&f, &e), 0);
	hw_freeze_fini(&f);
	reap(pid);
}
END_TEST

START_TEST(test_sigstopped_left_stopped)
{
	struct hw_freeze f;
	struct hw_err e;
	pid_t pid = spawn_spinner();

	kill(pid, SIGSTOP);
	usleep(20000);
	hw_freeze_init(&f);
	ck_assert_int_eq(hw_freeze_begin(&f, pid, &e), 0);
	ck_assert_int_eq(hw_freeze_end(&f, &e), 0);
	usleep(20000);
	ck_assert_int_eq(count_states(pid, 'T'), NTHREADS + 1);
	hw_freeze_fini(&f);
	reap(pid);
}
END_TEST

START_TEST(test_signal_delivered_once_after)
{
	struct hw_freeze f;
	struct hw_err e;
	pid_t pid = spawn_spinner();

	hw_freeze_init(&f);
	ck_assert_int_eq(hw_freeze_begin(&f, pid, &e), 0);
	kill(pid, SIGUSR1);
	usleep(20000);
	ck_assert_uint_eq(counters[NTHREADS + 1], 0);
	ck_assert_int_eq(hw_freeze_end(&f, &e), 0);
	for (int i = 0; i < 100 && !counters[NTHREADS + 1]; i++)
		usleep(5000);
	ck_assert_uint_eq(counters[NTHREADS + 1], 1);
	hw_freeze_fini(&f);
	reap(pid);
}
END_TEST

START_TEST(test_refusals)
{
	struct hw_freeze f;
	struct hw_err e;
	pid_t pid = spawn_spinner(), tracer;
	int p[2];
	char c;

	/* another tracer holds it */
	ck_assert_int_eq(pipe(p), 0);
	tracer = fork();
	if (tracer == 0) {
		if (ptrace(PTRACE_SEIZE, pid, 0, 0) < 0)
			_exit(1);
		if (write(p[1], "t", 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	ck_assert_int_eq(read(p[0], &c, 1), 1);
	hw_freeze_init(&f);
	ck_assert_int_eq(hw_freeze_begin(&f, pid, &e), -1);
	ck_assert_int_eq(e.code, HW_ETRACED);
	ck_assert_msg(strstr(e.msg, "already traced by pid"), "%s", e.msg);
	kill(tracer, SIGKILL);
	waitpid(tracer, NULL, 0);
	reap(pid);
	/* gone */
	ck_assert_int_eq(hw_freeze_begin(&f, pid, &e), -1);
	ck_assert(e.code == HW_ENOPROC || e.code == HW_EEXITED);
	hw_freeze_fini(&f);
}
END_TEST

START_TEST(test_proc_readers)
{
	struct hw_proc_stat st;
	struct hw_proc_mem m;
	struct hw_err e;
	pid_t pid = spawn_spinner(), *kids;
	size_t n;
	char cmd[256];
	int found = 0;

	ck_assert_int_eq(hw_proc_stat(pid, &st, &e), 0);
	ck_assert_str_eq(st.comm, "a b) c");   /* split after the LAST ')' */
	ck_assert_int_eq(st.ppid, getpid());
	ck_assert_int_eq(st.num_threads, NTHREADS + 1);
	ck_assert_uint_gt(st.starttime, 0);
	ck_assert_int_eq(hw_proc_mem(pid, &m, &e), 0);
	ck_assert_int_gt(m.rss, 0);
	ck_assert_int_gt(hw_proc_cmdline(pid, cmd, sizeof cmd, &e), 0);
	ck_assert_int_eq(hw_proc_children(getpid(), &kids, &n, &e), 0);
	for (size_t i = 0; i < n; i++)
		found |= kids[i] == pid;
	free(kids);
	ck_assert(found);
	reap(pid);
	ck_assert_int_eq(hw_proc_stat(pid, &st, &e), -1);
	ck_assert_int_eq(e.code, HW_ENOPROC);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("freeze");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_freeze_and_thaw);
	tcase_add_test(tc, test_sigstopped_left_stopped);
	tcase_add_test(tc, test_signal_delivered_once_after);
	tcase_add_test(tc, test_refusals);
	tcase_add_test(tc, test_proc_readers);
	suite_add_tcase(s, tc);
	return hw_run_suite(s);
}
