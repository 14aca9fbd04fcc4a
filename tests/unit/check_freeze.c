/* check_freeze.c - stopping and resuming real processes (forked children).
 *
 * Every child is killed and reaped by the test that made it, and dies with
 * the test process if an assertion ends it first (PR_SET_PDEATHSIG).
 * Waits are bounded loops on an observable condition, never a timing
 * threshold; the only fixed sleeps are "nothing may happen during this
 * time" checks. */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <grp.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "heapwatch/freeze.h"
#include "heapwatch/proc.h"
#include "children.h"
#include "runner.h"

#define NTHREADS 4

/* Shared with the children (MAP_SHARED, made before fork). */
struct shared {
	volatile unsigned long spin[64];  /* one counter per spinning thread */
	volatile unsigned long usr1;      /* SIGUSR1 handler runs */
	volatile unsigned long rt;        /* SIGRTMIN handler runs */
	volatile unsigned long churn;     /* threads created and joined */
	volatile unsigned long sent;      /* storm: signals queued */
	volatile int stop;                /* storm: sender should stop */
	volatile int done;                /* storm: sender has stopped */
	volatile int status;              /* a helper's result */
	volatile int go, started, release;/* vfork rounds: asked, in the
					     vfork child, may leave it */
	char msg[HW_ERR_MSG_MAX];         /* a helper's error texts */
	char msg2[HW_ERR_MSG_MAX];
};

static struct shared *sh;
static int child_nthreads = NTHREADS;

static void setup(void)
{
	sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ck_assert_ptr_ne(sh, MAP_FAILED);
	memset(sh, 0, sizeof *sh);
}

static void teardown(void)
{
	munmap(sh, sizeof *sh);
}

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
	__atomic_fetch_add(&sh->usr1, 1, __ATOMIC_SEQ_CST);
}

static void on_rt(int sig)
{
	(void)sig;
	__atomic_fetch_add(&sh->rt, 1, __ATOMIC_SEQ_CST);
}

/* child_nthreads spinning threads, a main thread in pause() */
static void spinner_body(const void *unused)
{
	(void)unused;
	struct sigaction sa;
	pthread_t th;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_usr1;
	sa.sa_flags = SA_RESTART;
	sigaction(SIGUSR1, &sa, NULL);
	sa.sa_handler = on_rt;
	sigaction(SIGRTMIN, &sa, NULL);
	for (int i = 0; i < child_nthreads; i++)
		pthread_create(&th, NULL, spin, (void *)&sh->spin[i]);
	say_ready();
	for (;;)
		pause();
}

static void *churn_thread(void *arg)
{
	(void)arg;
	__atomic_fetch_add(&sh->churn, 1, __ATOMIC_SEQ_CST);
	return NULL;
}

static void *churner(void *arg)
{
	(void)arg;
	for (;;) {
		pthread_t th;

		if (pthread_create(&th, NULL, churn_thread, NULL) == 0)
			pthread_join(th, NULL);
	}
	return NULL;
}

/* Two threads creating and joining threads as fast as they can. */
static void churn_body(const void *unused)
{
	(void)unused;
	pthread_t th;

	pthread_create(&th, NULL, churner, NULL);
	pthread_create(&th, NULL, churner, NULL);
	while (sh->churn < 100)
		sched_yield();
	say_ready();
	for (;;)
		pause();
}

/* The main thread leaves with pthread_exit: a zombie leader stays in
 * /proc/PID/task while the others spin. */
static void zombie_leader_body(const void *unused)
{
	(void)unused;
	pthread_t th;

	for (int i = 0; i < 2; i++)
		pthread_create(&th, NULL, spin, (void *)&sh->spin[i]);
	say_ready();
	pthread_exit(NULL);
}

/* Threads of pid in state want; -1 if the process is gone. */
static int count_state(pid_t pid, char want)
{
	pid_t *tids;
	size_t n;
	int k = 0;

	if (hw_proc_tasks(pid, &tids, &n, NULL) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		struct hw_proc_stat st;

		if (hw_proc_task_stat(pid, tids[i], &st, NULL) == 0 && st.state == want)
			k++;
	}
	free(tids);
	return k;
}

/* Every thread of pid is stopped by us ('t') or dead; returns how many
 * are stopped, or -1 if one is neither. */
static int all_stopped_or_dead(pid_t pid)
{
	pid_t *tids;
	size_t n;
	int k = 0;

	ck_assert_int_eq(hw_proc_tasks(pid, &tids, &n, NULL), 0);
	for (size_t i = 0; i < n && k >= 0; i++) {
		struct hw_proc_stat st;

		if (hw_proc_task_stat(pid, tids[i], &st, NULL) < 0)
			continue; /* gone */
		if (st.state == 't')
			k++;
		else if (st.state != 'Z' && st.state != 'X')
			k = -1;
	}
	free(tids);
	return k;
}

/* No thread of pid is traced by anyone. */
static int untraced(pid_t pid)
{
	pid_t *tids;
	size_t n;
	int ok = 1;

	if (hw_proc_tasks(pid, &tids, &n, NULL) < 0)
		return 1;
	for (size_t i = 0; i < n; i++) {
		struct hw_proc_status ps;

		if (hw_proc_task_status(pid, tids[i], &ps, NULL) == 0 && ps.tracer_pid)
			ok = 0;
	}
	free(tids);
	return ok;
}

/* Wait (bounded) until cond(pid) holds. */
static int eventually(int (*cond)(pid_t), pid_t pid)
{
	for (int i = 0; i < 2000; i++) {
		if (cond(pid))
			return 1;
		usleep(5000);
	}
	return 0;
}

static void snapshot(unsigned long *v, int n)
{
	for (int i = 0; i < n; i++)
		v[i] = sh->spin[i];
}

/* Wait (bounded) until every counter moved past before[]. */
static void assert_progress(const unsigned long *before, int n)
{
	for (int i = 0; i < n; i++) {
		for (int k = 0; k < 2000 && sh->spin[i] == before[i]; k++)
			usleep(5000);
		ck_assert_msg(sh->spin[i] != before[i], "thread %d did not resume", i);
	}
}

START_TEST(test_freeze_and_thaw)
{
	struct hw_freeze f;
	struct hw_err e;
	unsigned long before[NTHREADS], after[NTHREADS];
	pid_t pid = spawn(spinner_body, NULL);

	hw_freeze_init(&f);
	ck_assert_msg(hw_freeze_begin(&f, pid, &e) == 0, "%s", e.msg);
	ck_assert(f.active);
	ck_assert(!f.was_stopped);
	ck_assert_uint_eq(f.ntids, NTHREADS + 1);
	ck_assert_int_eq(count_state(pid, 't'), NTHREADS + 1);
	snapshot(before, NTHREADS);
	usleep(20000);
	snapshot(after, NTHREADS);
	ck_assert_mem_eq(before, after, sizeof before); /* nothing ran */
	ck_assert_int_eq(hw_freeze_end(&f, &e), 0);
	ck_assert(!f.active);
	ck_assert_uint_gt(f.t_begin_ns, 0);
	ck_assert_uint_ge(f.t_end_ns, f.t_begin_ns);
	ck_assert_uint_eq(hw_freeze_elapsed_ns(&f), f.t_end_ns - f.t_begin_ns);
	assert_progress(after, NTHREADS);
	ck_assert_int_eq(count_state(pid, 't'), 0);
	ck_assert(untraced(pid));
	hw_freeze_fini(&f);
	reap(pid);
}
END_TEST

START_TEST(test_twice_and_idempotent)
{
	struct hw_freeze f;
	struct hw_err e;
	unsigned long before[NTHREADS];
	pid_t pid = spawn(spinner_body, NULL);

	hw_freeze_init(&f);
	ck_assert_int_eq(hw_freeze_end(&f, &e), 0);        /* never begun */
	ck_assert_uint_eq(hw_freeze_elapsed_ns(&f), 0);
	for (int round = 0; round < 2; round++) {
		ck_assert_msg(hw_freeze_begin(&f, pid, &e) == 0, "%s", e.msg);
		ck_assert_int_eq(count_state(pid, 't'), NTHREADS + 1);
		/* a second begin on an active freeze is refused, harmlessly */
		ck_assert_int_eq(hw_freeze_begin(&f, pid, &e), -1);
		ck_assert_int_eq(e.code, HW_ESYS);
		ck_assert_int_eq(count_state(pid, 't'), NTHREADS + 1);
		ck_assert_int_eq(hw_freeze_end(&f, &e), 0);
		ck_assert_int_eq(hw_freeze_end(&f, &e), 0);
		snapshot(before, NTHREADS);
		assert_progress(before, NTHREADS);
		ck_assert(untraced(pid));
	}
	hw_freeze_fini(&f);
	hw_freeze_fini(&f);
	hw_freeze_fini(NULL);
	reap(pid);
}
END_TEST

/* Threads appear and exit throughout: each freeze still stops every live
 * thread, nothing is created while frozen, all resume after. */
START_TEST(test_thread_churn)
{
	struct hw_freeze f;
	struct hw_err e;
	pid_t pid = spawn(churn_body, NULL);

	hw_freeze_init(&f);
	for (int i = 0; i < 200; i++) {
		unsigned long c0, c1;
		int k;

		ck_assert_msg(hw_freeze_begin(&f, pid, &e) == 0, "round %d: %s", i, e.msg);
		k = all_stopped_or_dead(pid);
		ck_assert_msg(k >= 3, "round %d: a thread runs (%d)", i, k);
		c0 = sh->churn;
		if (i % 20 == 0)
			usleep(5000);
		c1 = sh->churn;
		ck_assert_uint_eq(c0, c1);
		ck_assert_int_eq(hw_freeze_end(&f, &e), 0);
		for (int w = 0; w < 2000 && sh->churn == c1; w++)
			usleep(1000);
		ck_assert_uint_gt(sh->churn, c1);
	}
	ck_assert(untraced(pid));
	hw_freeze_fini(&f);
	reap(pid);
}
END_TEST

/* A process whose main thread called pthread_exit (zombie leader in
 * /proc/PID/task) can still be frozen, without spinning on the leader. */
START_TEST(test_zombie_leader)
{
	struct hw_freeze f;
	struct hw_err e;
	unsigned long before[2], after[2];
	pid_t pid = spawn(zombie_leader_body, NULL);

	for (int i = 0; i < 2000 && count_state(pid, 'Z') != 1; i++)
		usleep(1000);
	ck_assert_int_eq(count_state(pid, 'Z'), 1);
	hw_freeze_init(&f);
	ck_assert_msg(hw_freeze_begin(&f, pid, &e) == 0, "%s", e.msg);
	ck_assert_uint_eq(f.ntids, 2);
	ck_assert_int_eq(count_state(pid, 't'), 2);
	snapshot(before, 2);
	usleep(10000);
	snapshot(after, 2);
	ck_assert_mem_eq(before, after, sizeof before);
	ck_assert_int_eq(hw_freeze_end(&f, &e), 0);
	assert_progress(after, 2);
	ck_assert(untraced(pid));
	hw_freeze_fini(&f);
	reap(pid);
}
END_TEST

static int all_group_stopped(pid_t pid)
{
	return count_state(pid, 'T') == NTHREADS + 1;
}

START_TEST(test_sigstopped_left_stopped)
{
	struct hw_freeze f;
	struct hw_err e;
	unsigned long before[NTHREADS], after[NTHREADS];
	pid_t pid = spawn(spinner_body, NULL);

	kill(pid, SIGSTOP);
	ck_assert(eventually(all_group_stopped, pid));
	hw_freeze_init(&f);
	ck_assert_msg(hw_freeze_begin(&f, pid, &e) == 0, "%s", e.msg);
	ck_assert(f.was_stopped);
	ck_assert_int_eq(count_state(pid, 't'), NTHREADS + 1);
	ck_assert_int_eq(hw_freeze_end(&f, &e), 0);
	/* back in group-stop, not running */
	ck_assert(eventually(all_group_stopped, pid));
	ck_assert(untraced(pid));
	snapshot(before, NTHREADS);
	usleep(20000);
	snapshot(after, NTHREADS);
	ck_assert_mem_eq(before, after, sizeof before);
	/* and SIGCONT still works */
	kill(pid, SIGCONT);
	assert_progress(after, NTHREADS);
	hw_freeze_fini(&f);
	reap(pid);
}
END_TEST

START_TEST(test_signal_delivered_once_after)
{
	struct hw_freeze f;
	struct hw_err e;
	pid_t pid = spawn(spinner_body, NULL);

	hw_freeze_init(&f);
	ck_assert_int_eq(hw_freeze_begin(&f, pid, &e), 0);
	ck_assert_int_eq(kill(pid, SIGUSR1), 0);
	usleep(20000);
	ck_assert_uint_eq(sh->usr1, 0);          /* not while frozen */
	ck_assert_int_eq(hw_freeze_end(&f, &e), 0);
	for (int i = 0; i < 2000 && !sh->usr1; i++)
		usleep(1000);
	usleep(20000);
	ck_assert_uint_eq(sh->usr1, 1);          /* once after */
	hw_freeze_fini(&f);
	reap(pid);
}
END_TEST

/* At most STORM_INFLIGHT queued at a time: queued signals count against
 * the user's RLIMIT_SIGPENDING, which other processes (timer_create) of
 * the same user need too. */
#define STORM_INFLIGHT 32

static void storm_sender(pid_t target)
{
	union sigval v = { 0 };

	while (!sh->stop) {
		if (sh->sent - sh->rt < STORM_INFLIGHT && sigqueue(target, SIGRTMIN, v) == 0)
			sh->sent++;
		else
			sched_yield();
	}
	sh->done = 1;
	_exit(0);
}

/* Real-time signals queue one by one, so counting them shows any lost
 * (or doubled): many freezes while a sender keeps queueing them, some
 * caught by a thread between our seize and our interrupt. */
START_TEST(test_signal_storm_none_lost)
{
	struct hw_freeze f;
	struct hw_err e;
	pid_t pid = spawn(spinner_body, NULL), sender;
	unsigned held = 0;

	sender = fork();
	ck_assert_int_ge(sender, 0);
	if (sender == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
		storm_sender(pid);
	}
	hw_freeze_init(&f);
	for (int i = 0; i < 2000; i++) {
		ck_assert_msg(hw_freeze_begin(&f, pid, &e) == 0, "%s", e.msg);
		for (size_t k = 0; k < f.ntids; k++)
			held += f.threads[k].sig != 0;
		ck_assert_int_eq(hw_freeze_end(&f, &e), 0);
	}
	sh->stop = 1;
	while (!sh->done)
		usleep(1000);
	waitpid(sender, NULL, 0);
	for (int i = 0; i < 2000 && sh->rt != sh->sent; i++)
		usleep(5000);
	printf("NOTE: %lu signals during 2000 freezes, %u threads held in a "
	       "signal-delivery-stop\n", sh->sent, held);
	ck_assert_uint_gt(sh->sent, 0);
	ck_assert_uint_eq(sh->rt, sh->sent);
	hw_freeze_fini(&f);
	reap(pid);
}
END_TEST

START_TEST(test_traced_elsewhere)
{
	struct hw_freeze f;
	struct hw_err e;
	pid_t pid = spawn(spinner_body, NULL), tracer;
	struct hw_proc_status ps;
	unsigned long before[NTHREADS];
	char want[128];
	int p[2];
	char c;

	ck_assert_int_eq(pipe(p), 0);
	tracer = fork();
	ck_assert_int_ge(tracer, 0);
	if (tracer == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
		prctl(PR_SET_NAME, "hwtracer", 0, 0, 0);
		if (ptrace(PTRACE_SEIZE, pid, 0, 0) < 0)
			_exit(1);
		if (write(p[1], "t", 1) != 1)
			_exit(1);
		for (;;)
			pause();
	}
	ck_assert_int_eq(read(p[0], &c, 1), 1);
	close(p[0]);
	close(p[1]);
	hw_freeze_init(&f);
	ck_assert_int_eq(hw_freeze_begin(&f, pid, &e), -1);
	ck_assert_int_eq(e.code, HW_ETRACED);
	/* the caller names the pid; freeze names only the tracer */
	snprintf(want, sizeof want, "already traced by pid %d (hwtracer)",
		 (int)tracer);
	ck_assert_str_eq(e.msg, want);
	ck_assert_uint_eq(f.ntids, 0);
	/* the other tracer keeps its tracee; nothing of ours stopped it */
	ck_assert_int_eq(hw_proc_status(pid, &ps, &e), 0);
	ck_assert_int_eq(ps.tracer_pid, tracer);
	snapshot(before, NTHREADS);
	assert_progress(before, NTHREADS);
	hw_freeze_fini(&f);
	reap(tracer);
	reap(pid);
}
END_TEST

static pid_t pid_max(void)
{
	char buf[32] = "";
	FILE *fp = fopen("/proc/sys/kernel/pid_max", "r");

	ck_assert_ptr_nonnull(fp);
	ck_assert_ptr_nonnull(fgets(buf, sizeof buf, fp));
	fclose(fp);
	return (pid_t)atoi(buf);  /* pids are < pid_max: never a process */
}

START_TEST(test_vanished)
{
	struct hw_freeze f;
	struct hw_err e;
	char want[64];
	pid_t pid = pid_max(), z;
	int st;

	hw_freeze_init(&f);
	ck_assert_int_eq(hw_freeze_begin(&f, pid, &e), -1);
	ck_assert_int_eq(e.code, HW_ENOPROC);
	snprintf(want, sizeof want, "no such process");
	ck_assert_str_eq(e.msg, want);
	/* a zombie: refused, left as it was for its parent to reap */
	z = fork();
	ck_assert_int_ge(z, 0);
	if (z == 0)
		_exit(7);
	while (count_state(z, 'Z') != 1)
		usleep(1000);
	ck_assert_int_eq(hw_freeze_begin(&f, z, &e), -1);
	ck_assert_int_eq(e.code, HW_EEXITED);
	ck_assert_uint_eq(f.ntids, 0);
	ck_assert(!f.active);
	ck_assert_int_eq(waitpid(z, &st, 0), z);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 7);
	/* ourselves */
	ck_assert_int_eq(hw_freeze_begin(&f, getpid(), &e), -1);
	ck_assert_int_eq(e.code, HW_EPERM);
	hw_freeze_fini(&f);
}
END_TEST

/* Processes that exit while we freeze them: each attempt succeeds or
 * fails cleanly, never hangs, and leaves nothing traced. */
static void short_lived_body(const void *unused)
{
	(void)unused;
	pthread_t th;
	struct timespec ts = { 0, 0 };

	for (int i = 0; i < 3; i++)
		pthread_create(&th, NULL, spin, (void *)&sh->spin[i]);
	say_ready();
	ts.tv_nsec = (long)(getpid() % 50) * 20000L;   /* 0..1 ms */
	nanosleep(&ts, NULL);
	_exit(3);  /* exit_group while we may be seizing (no atexit: LSan would ptrace) */
}

START_TEST(test_exits_meanwhile)
{
	struct hw_freeze f;
	struct hw_err e;
	int ok = 0, gone = 0;

	hw_freeze_init(&f);
	for (int round = 0; round < 100; round++) {
		pid_t pid = spawn(short_lived_body, NULL);

		for (;;) {
			if (hw_freeze_begin(&f, pid, &e) < 0) {
				ck_assert_msg(e.code == HW_EEXITED || e.code == HW_ENOPROC,
					      "%s: %s", hw_err_code_name(e.code), e.msg);
				ck_assert_uint_eq(f.ntids, 0);
				gone++;
				break;
			}
			ok++;
			ck_assert_int_eq(hw_freeze_end(&f, &e), 0);
		}
		reap(pid);
	}
	printf("NOTE: %d freezes of exiting processes, %d refused cleanly\n", ok, gone);
	hw_freeze_fini(&f);
}
END_TEST

/* Killed while frozen, and we are its tracer but not its parent: after
 * hw_freeze_end its real parent can reap it (no traced zombie left). */
START_TEST(test_killed_while_frozen)
{
	struct hw_freeze f;
	struct hw_err e;
	int p[2], st;
	pid_t mid, pid;

	ck_assert_int_eq(pipe(p), 0);
	mid = fork();
	ck_assert_int_ge(mid, 0);
	if (mid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
		pid = spawn(spinner_body, NULL);
		if (write(p[1], &pid, sizeof pid) != (ssize_t)sizeof pid)
			_exit(1);
		while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
			;
		_exit(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL ? 0 : 2);
	}
	ck_assert_int_eq(read(p[0], &pid, sizeof pid), (ssize_t)sizeof pid);
	hw_freeze_init(&f);
	ck_assert_msg(hw_freeze_begin(&f, pid, &e) == 0, "%s", e.msg);
	ck_assert_int_eq(kill(pid, SIGKILL), 0);
	ck_assert_int_eq(hw_freeze_end(&f, &e), 0);
	/* the middle process reaps its child and says how it died */
	ck_assert_int_eq(waitpid(mid, &st, 0), mid);
	ck_assert(WIFEXITED(st));
	ck_assert_int_eq(WEXITSTATUS(st), 0);
	hw_freeze_fini(&f);
}
END_TEST

/* A thread that cannot stop: each round (sh->go) it vforks, and the
 * child waits for sh->release before it exits.  Meanwhile the parent
 * thread sits in an uninterruptible wait for the child (state D): a
 * PTRACE_INTERRUPT does not wake it. */
static void *vforker(void *unused)
{
	(void)unused;
	/* volatile: r lives across vfork() */
	for (volatile int r = 1;; r++) {
		pid_t c;

		while (sh->go < r)
			usleep(1000);
		sh->status = (int)gettid();
		c = vfork();
		if (c == 0) {
			sh->started = r;
			while (sh->release < r) {
				struct timespec ts = { 0, 1000000 };

				nanosleep(&ts, NULL);
			}
			_exit(0);
		}
		if (c > 0)
			while (waitpid(c, NULL, 0) < 0 && errno == EINTR)
				;
	}
	return NULL;
}

static void vfork_body(const void *unused)
{
	(void)unused;
	pthread_t th;

	for (int i = 0; i < NTHREADS; i++)
		pthread_create(&th, NULL, spin, (void *)&sh->spin[i]);
	pthread_create(&th, NULL, vforker, NULL);
	say_ready();
	for (;;)
		pause();
}

/* Round r: the vforker is in its vfork wait (state D) once its child runs. */
static void vfork_round(pid_t pid, int r)
{
	struct hw_proc_stat st;

	sh->go = r;
	for (int i = 0; i < 2000 && sh->started < r; i++)
		usleep(1000);
	ck_assert_int_eq(sh->started, r);
	for (int i = 0; i < 2000; i++) {
		if (hw_proc_task_stat(pid, (pid_t)sh->status, &st, NULL) == 0 &&
		    st.state == 'D')
			break;
		usleep(1000);
	}
	ck_assert_int_eq(st.state, 'D');
}

/* The budget: a thread that cannot stop ends the freeze with HW_ETIMEOUT
 * naming it, every other thread running again ('S'/'R', never 't'); once
 * it can stop, the next begin (round 1) or end (round 2) collects and
 * releases it. */
START_TEST(test_budget_thread_cannot_stop)
{
	struct hw_freeze f;
	struct hw_err e;
	char want[64];
	unsigned long before[NTHREADS];
	pid_t pid = spawn(vfork_body, NULL);

	hw_freeze_init(&f);
	f.budget_ns = 200u * 1000 * 1000;
	for (int r = 1; r <= 2; r++) {
		vfork_round(pid, r);
		hw_err_clear(&e);
		ck_assert_int_eq(hw_freeze_begin(&f, pid, &e), -1);
		ck_assert_int_eq(e.code, HW_ETIMEOUT);
		snprintf(want, sizeof want, "thread %d did not stop within 200 ms (state D",
			 sh->status);
		ck_assert_msg(strncmp(e.msg, want, strlen(want)) == 0, "%s", e.msg);
		ck_assert(!f.active);
		/* only the vforker is kept, still in its vfork wait; the rest run */
		ck_assert_uint_eq(f.ntids, 1);
		ck_assert_int_eq(f.threads[0].tid, sh->status);
		ck_assert_uint_eq(f.detach_failures, (unsigned)r);
		ck_assert_int_eq(count_state(pid, 't'), 0);
		snapshot(before, NTHREADS);
		assert_progress(before, NTHREADS);
		/* the vfork ends: the vforker stops on our pending request */
		sh->release = r;
		for (int i = 0; i < 2000 && count_state(pid, 't') != 1; i++)
			usleep(1000);
		ck_assert_int_eq(count_state(pid, 't'), 1);
		if (r == 1) {
			/* the next freeze takes it in and releases it with the rest */
			ck_assert_msg(hw_freeze_begin(&f, pid, &e) == 0, "%s", e.msg);
			ck_assert_uint_eq(f.ntids, NTHREADS + 2);
			ck_assert_int_eq(count_state(pid, 't'), NTHREADS + 2);
		}
		ck_assert_msg(hw_freeze_end(&f, &e) == 0, "%s", e.msg);
		ck_assert_uint_eq(f.ntids, 0);
		ck_assert(eventually(untraced, pid));
		ck_assert_int_eq(count_state(pid, 't'), 0);
	}
	hw_freeze_fini(&f);
	reap(pid);
}
END_TEST

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void *sleeper(void *arg)
{
	(void)arg;
	for (;;)
		pause();
	return NULL;
}

static void sleepers_body(const void *unused)
{
	(void)unused;
	pthread_t th;

	for (int i = 0; i < child_nthreads - 1; i++)
		pthread_create(&th, NULL, sleeper, NULL);
	say_ready();
	for (;;)
		pause();
}

static void undumpable_body(const void *unused)
{
	(void)unused;
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	say_ready();
	for (;;)
		pause();
}

/* Without privilege: HW_EPERM with the explanation, target untouched. */
START_TEST(test_eperm)
{
	pid_t pid, prober;
	int st;

	if (geteuid() != 0) {
		HW_SKIP("freeze eperm: needs root to drop privilege");
	}
	pid = spawn(spinner_body, NULL);
	prober = fork();
	ck_assert_int_ge(prober, 0);
	if (prober == 0) {
		struct hw_freeze f;
		struct hw_err e;
		pid_t own;

		prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
		if (setgroups(0, NULL) < 0 || setgid(65534) < 0 || setuid(65534) < 0)
			_exit(1);
		/* changing uid made us (and our children) undumpable */
		prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
		hw_freeze_init(&f);
		sh->status = hw_freeze_begin(&f, pid, &e) == 0 ? -1 : (int)e.code;
		snprintf(sh->msg, sizeof sh->msg, "%s", e.msg);
		/* our own child, same uid: allowed (no Yama here) ... */
		own = spawn(sleepers_body, NULL);
		if (hw_freeze_begin(&f, own, &e) < 0 || hw_freeze_end(&f, &e) < 0)
			_exit(2);
		/* ... unless it is not dumpable */
		kill(own, SIGKILL);
		waitpid(own, NULL, 0);
		own = spawn(undumpable_body, NULL);
		if (hw_freeze_begin(&f, own, &e) == 0 || e.code != HW_EPERM)
			_exit(3);
		snprintf(sh->msg2, sizeof sh->msg2, "%s", e.msg);
		kill(own, SIGKILL);
		waitpid(own, NULL, 0);
		hw_freeze_fini(&f);
		_exit(0);
	}
	ck_assert_int_eq(waitpid(prober, &st, 0), prober);
	ck_assert(WIFEXITED(st));
	ck_assert_int_eq(WEXITSTATUS(st), 0);
	ck_assert_msg(sh->status == HW_EPERM, "%d: %s", sh->status, sh->msg);
	ck_assert_msg(strstr(sh->msg, "need root or CAP_SYS_PTRACE"), "%s", sh->msg);
	ck_assert_msg(strstr(sh->msg, "it runs as uid 0, we as uid 65534"), "%s", sh->msg);
	ck_assert_msg(strstr(sh->msg2, "it is not dumpable"), "%s", sh->msg2);
	ck_assert(untraced(pid));
	ck_assert_int_eq(count_state(pid, 't'), 0);
	reap(pid);
}
END_TEST

static volatile sig_atomic_t got_term;

static void on_term(int sig)
{
	(void)sig;
	got_term = 1;
}

START_TEST(test_block_signals)
{
	sigset_t old, now;
	const int sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGPIPE, SIGQUIT };

	signal(SIGTERM, on_term);
	hw_freeze_block_signals(&old);
	ck_assert(!sigismember(&old, SIGTERM));
	pthread_sigmask(SIG_SETMASK, NULL, &now);
	for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
		ck_assert(sigismember(&now, sigs[i]));
	raise(SIGTERM);
	ck_assert(!got_term);                 /* held */
	hw_freeze_restore_signals(&old);
	ck_assert(got_term);                  /* delivered on restore */
	pthread_sigmask(SIG_SETMASK, NULL, &now);
	ck_assert(!sigismember(&now, SIGTERM));
}
END_TEST

/* Not a test of speed (no threshold): reports what a freeze costs. */
START_TEST(test_cost_note)
{
	static const int sizes[] = { 1, 64 };

	for (size_t s = 0; s < 2; s++) {
		enum { N = 101 };
		uint64_t begin[N], end[N];
		struct hw_freeze f;
		struct hw_err e;
		pid_t pid;

		child_nthreads = sizes[s];
		pid = spawn(sleepers_body, NULL);
		hw_freeze_init(&f);
		for (int i = 0; i < N; i++) {
			uint64_t t0 = hw_now_ns(), t1;

			ck_assert_int_eq(hw_freeze_begin(&f, pid, &e), 0);
			t1 = hw_now_ns();
			ck_assert_int_eq(hw_freeze_end(&f, &e), 0);
			begin[i] = t1 - t0;
			end[i] = hw_now_ns() - t1;
		}
		qsort(begin, N, sizeof begin[0], cmp_u64);
		qsort(end, N, sizeof end[0], cmp_u64);
		printf("NOTE: %d sleeping thread(s): median begin %.1f us, end %.1f us "
		       "(%.1f us per thread)\n", sizes[s], begin[N / 2] / 1e3,
		       end[N / 2] / 1e3, (begin[N / 2] + end[N / 2]) / 1e3 / sizes[s]);
		hw_freeze_fini(&f);
		reap(pid);
	}
	child_nthreads = NTHREADS;
}
END_TEST

int main(void)
{
	Suite *s = suite_create("freeze");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 120);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_freeze_and_thaw);
	tcase_add_test(tc, test_twice_and_idempotent);
	tcase_add_test(tc, test_thread_churn);
	tcase_add_test(tc, test_zombie_leader);
	tcase_add_test(tc, test_sigstopped_left_stopped);
	tcase_add_test(tc, test_signal_delivered_once_after);
	tcase_add_test(tc, test_signal_storm_none_lost);
	tcase_add_test(tc, test_traced_elsewhere);
	tcase_add_test(tc, test_vanished);
	tcase_add_test(tc, test_exits_meanwhile);
	tcase_add_test(tc, test_killed_while_frozen);
	tcase_add_test(tc, test_eperm);
	tcase_add_test(tc, test_budget_thread_cannot_stop);
	tcase_add_test(tc, test_block_signals);
	tcase_add_test(tc, test_cost_note);
	suite_add_tcase(s, tc);
	return hw_run_suite(s);
}
