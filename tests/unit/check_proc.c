/* check_proc.c - reading /proc: this process and forked children with
 * awkward names, titles, maps and parents.  Every child is killed and
 * reaped by the test that made it (and dies with the test process if an
 * assertion ends it first: PR_SET_PDEATHSIG). */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "heapwatch/proc.h"
#include "children.h"
#include "runner.h"

static int g_argc;
static char **g_argv;

static void named_body(const void *name)
{
	prctl(PR_SET_NAME, name, 0, 0, 0);
	say_ready();
	for (;;)
		pause();
}

static void *sleeper(void *arg)
{
	(void)arg;
	for (;;)
		pause();
	return NULL;
}

static void threads_body(const void *n)
{
	pthread_t th;

	for (int i = 0; i < *(const int *)n; i++)
		pthread_create(&th, NULL, sleeper, NULL);
	say_ready();
	for (;;)
		pause();
}

/* What setproctitle does: overwrite the argv area with a title and pad
 * the rest with NULs. */
static void title_body(const void *title)
{
	char *start = g_argv[0];
	char *end = g_argv[g_argc - 1] + strlen(g_argv[g_argc - 1]);

	memset(start, 0, (size_t)(end - start));
	strncpy(start, title, (size_t)(end - start));
	say_ready();
	for (;;)
		pause();
}

static pid_t nonexistent_pid(void)
{
	char buf[32] = "";
	FILE *fp = fopen("/proc/sys/kernel/pid_max", "r");

	ck_assert_ptr_nonnull(fp);
	ck_assert_ptr_nonnull(fgets(buf, sizeof buf, fp));
	fclose(fp);
	return (pid_t)atoi(buf);  /* pids are < pid_max */
}

static void self_comm(char *buf, size_t size)
{
	FILE *fp = fopen("/proc/self/comm", "r");

	ck_assert_ptr_nonnull(fp);
	ck_assert_ptr_nonnull(fgets(buf, (int)size, fp));
	fclose(fp);
	buf[strcspn(buf, "\n")] = '\0';
}

START_TEST(test_stat_self)
{
	struct hw_proc_stat st;
	struct hw_proc_status ps;
	struct hw_err e;
	char comm[64];

	self_comm(comm, sizeof comm);
	ck_assert_int_eq(hw_proc_stat(getpid(), &st, &e), 0);
	ck_assert_int_eq(st.pid, getpid());
	ck_assert_int_eq(st.ppid, getppid());
	ck_assert_int_eq(st.state, 'R');
	ck_assert_str_eq(st.comm, comm);
	ck_assert_uint_gt(st.starttime, 0);
	ck_assert_int_eq(st.num_threads, 1);
	ck_assert_int_eq(hw_proc_status(getpid(), &ps, &e), 0);
	ck_assert_int_eq(ps.tracer_pid, 0);
	ck_assert_uint_eq(ps.uid, getuid());
	ck_assert_str_eq(ps.name, comm);
	ck_assert_int_eq(hw_proc_task_stat(getpid(), getpid(), &st, &e), 0);
	ck_assert_str_eq(st.comm, comm);
}
END_TEST

/* comm may contain spaces and ')': the stat line is split after the last
 * ')', so the fields after it are right too. */
START_TEST(test_stat_odd_comm)
{
	static const char *const names[] = { "a b) c", ") R 1 2 (", "))", "x y" };
	struct hw_proc_stat self, st;
	struct hw_proc_status ps;
	struct hw_err e;

	ck_assert_int_eq(hw_proc_stat(getpid(), &self, &e), 0);
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		pid_t pid = spawn(named_body, names[i]);

		/* it says "ready" just before pause(): wait until it sleeps */
		for (int k = 0; k < 2000; k++) {
			ck_assert_int_eq(hw_proc_stat(pid, &st, &e), 0);
			if (st.state == 'S')
				break;
			usleep(1000);
		}
		ck_assert_str_eq(st.comm, names[i]);
		ck_assert_int_eq(st.pid, pid);
		ck_assert_int_eq(st.ppid, getpid());
		ck_assert_int_eq(st.state, 'S');          /* in pause() */
		ck_assert_int_eq(st.num_threads, 1);
		ck_assert_uint_ge(st.starttime, self.starttime);
		ck_assert_int_eq(hw_proc_status(pid, &ps, &e), 0);
		ck_assert_str_eq(ps.name, names[i]);
		reap(pid);
	}
}
END_TEST

START_TEST(test_cmdline)
{
	char buf[4096], want[4096] = "";
	size_t n = 0;
	pid_t pid;
	struct hw_err e;

	for (int i = 0; i < g_argc; i++)
		n += (size_t)snprintf(want + n, sizeof want - n, "%s%s", i ? " " : "", g_argv[i]);
	ck_assert_int_eq(hw_proc_cmdline(getpid(), buf, sizeof buf, &e), (ssize_t)strlen(want));
	ck_assert_str_eq(buf, want);
	/* capped, still terminated */
	ck_assert_int_eq(hw_proc_cmdline(getpid(), buf, 4, &e), 3);
	ck_assert_int_eq(strlen(buf), 3);
	ck_assert_int_eq(hw_proc_cmdline(getpid(), buf, 0, &e), -1);
	/* a title padded with NULs, as setproctitle leaves it */
	pid = spawn(title_body, "hw: title");
	ck_assert_int_eq(hw_proc_cmdline(pid, buf, sizeof buf, &e), 9);
	ck_assert_str_eq(buf, "hw: title");
	reap(pid);
}
END_TEST

/* A file with spaces and ')' in its name, mapped, then deleted. */
START_TEST(test_maps)
{
	char tmpl[] = "/tmp/hw map ) x.XXXXXX";
	char exe[PATH_MAX];
	struct hw_maps maps;
	const struct hw_map *m;
	struct hw_err e;
	struct stat sb;
	long pg = sysconf(_SC_PAGESIZE);
	void *p;
	int fd, deleted;

	fd = mkstemp(tmpl);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ftruncate(fd, pg * 2), 0);
	ck_assert_int_eq(fstat(fd, &sb), 0);
	p = mmap(NULL, (size_t)pg, PROT_READ, MAP_PRIVATE, fd, pg);
	ck_assert_ptr_ne(p, MAP_FAILED);
	close(fd);
	ck_assert_int_eq(unlink(tmpl), 0);

	ck_assert_int_eq(hw_proc_maps(getpid(), &maps, &e), 0);
	ck_assert_uint_gt(maps.n, 5);
	for (size_t i = 1; i < maps.n; i++)
		ck_assert_uint_ge(maps.v[i].start, maps.v[i - 1].end);
	m = hw_maps_find(&maps, (uint64_t)(uintptr_t)p + 10);
	ck_assert_ptr_nonnull(m);
	ck_assert_str_eq(m->path, tmpl);
	ck_assert_int_eq(m->deleted, 1);
	ck_assert_uint_eq(m->start, (uint64_t)(uintptr_t)p);
	ck_assert_uint_eq(m->end - m->start, (uint64_t)pg);
	ck_assert_uint_eq(m->offset, (uint64_t)pg);
	ck_assert_uint_eq(m->inode, (uint64_t)sb.st_ino);
	ck_assert(m->r && !m->w && !m->x && m->p);
	/* the test binary: our code lives in one of its executable maps */
	ck_assert_int_eq(hw_proc_exe(getpid(), exe, sizeof exe, &deleted, &e), 0);
	m = hw_maps_find(&maps, (uint64_t)(uintptr_t)&spawn);
	ck_assert_ptr_nonnull(m);
	ck_assert_str_eq(m->path, exe);
	ck_assert(m->x && !m->deleted);
	/* an anonymous map has no path */
	m = hw_maps_find(&maps, (uint64_t)(uintptr_t)&e);   /* the stack */
	ck_assert_ptr_nonnull(m);
	ck_assert_str_eq(m->path, "[stack]");
	ck_assert_ptr_null(hw_maps_find(&maps, 0));
	ck_assert_ptr_null(hw_maps_find(&maps, UINT64_MAX));
	hw_maps_fini(&maps);
	ck_assert_ptr_null(maps.v);
	ck_assert_uint_eq(maps.n, 0);
	hw_maps_fini(&maps);
	hw_maps_fini(NULL);
	munmap(p, (size_t)pg);
}
END_TEST

static int add_run(void *arg, uint64_t s, uint64_t t, struct hw_err *e)
{
	uint64_t *v = arg;

	(void)e;
	ck_assert_uint_lt(v[0], 8);
	v[1 + 2 * v[0]] = s;
	v[2 + 2 * v[0]] = t;
	v[0]++;
	return 0;
}

/* pagemap: the pages we touched, and only those, in maximal runs */
START_TEST(test_resident)
{
	long pg = sysconf(_SC_PAGESIZE);
	unsigned char *m = mmap(NULL, 16 * (size_t)pg, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint64_t v[17] = { 0 }, a = (uint64_t)(uintptr_t)m;
	struct hw_err e;

	ck_assert_ptr_ne(m, MAP_FAILED);
	for (int i = 0; i < 4; i++)
		m[i * pg] = 1;
	m[9 * pg + 5] = 1;
	ck_assert_int_eq(hw_proc_resident(getpid(), a, a + 16 * (uint64_t)pg, add_run, v, &e), 0);
	ck_assert_uint_eq(v[0], 2);
	ck_assert_uint_eq(v[1], a);
	ck_assert_uint_eq(v[2], a + 4 * (uint64_t)pg);
	ck_assert_uint_eq(v[3], a + 9 * (uint64_t)pg);
	ck_assert_uint_eq(v[4], a + 10 * (uint64_t)pg);
	munmap(m, 16 * (size_t)pg);
	/* gone: no such process */
	ck_assert_int_eq(hw_proc_resident(nonexistent_pid(), a, a + (uint64_t)pg, add_run, v, &e), -1);
	ck_assert_int_eq(e.code, HW_ENOPROC);
}
END_TEST

START_TEST(test_mem)
{
	struct hw_proc_mem m;
	struct hw_err e;
	pid_t pid;

	ck_assert_int_eq(hw_proc_mem(getpid(), &m, &e), 0);
	ck_assert_int_gt(m.rss, 0);
	ck_assert_int_gt(m.pss, 0);
	ck_assert_int_gt(m.uss, 0);
	ck_assert_int_ge(m.swap, 0);
	ck_assert_int_eq(m.rss % 1024, 0);             /* kB turned into bytes */
	ck_assert_int_le(m.pss, m.rss);
	ck_assert_int_le(m.uss, m.rss);
	pid = spawn(named_body, "mem");
	ck_assert_int_eq(hw_proc_mem(pid, &m, &e), 0);
	ck_assert_int_gt(m.rss, 0);
	ck_assert_int_gt(m.pss, 0);
	reap(pid);
}
END_TEST

static void *fork_from_thread(void *arg)
{
	pid_t *out = arg;
	int p[2];
	char c;

	if (pipe(p) < 0)
		return NULL;
	*out = fork();
	if (*out == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
		for (;;)
			pause();
	}
	/* stay alive: a child is listed under the thread that forked it */
	if (read(p[0], &c, 1) < 0)
		return NULL;
	return NULL;
}

START_TEST(test_children)
{
	pid_t kids[3], from_thread = 0, *got;
	size_t n;
	struct hw_err e;
	pthread_t th;
	int found[4] = { 0 };

	for (int i = 0; i < 3; i++)
		kids[i] = spawn(named_body, "kid");
	ck_assert_int_eq(pthread_create(&th, NULL, fork_from_thread, &from_thread), 0);
	while (!__atomic_load_n(&from_thread, __ATOMIC_SEQ_CST))
		usleep(1000);
	ck_assert_int_gt(from_thread, 0);
	ck_assert_int_eq(hw_proc_children(getpid(), &got, &n, &e), 0);
	for (size_t i = 0; i < n; i++) {
		for (int k = 0; k < 3; k++)
			found[k] |= got[i] == kids[k];
		found[3] |= got[i] == from_thread;
	}
	free(got);
	ck_assert(found[0] && found[1] && found[2]);
	ck_assert_msg(found[3], "a child forked by another thread is missing");
	/* a process without children */
	ck_assert_int_eq(hw_proc_children(kids[0], &got, &n, &e), 0);
	ck_assert_uint_eq(n, 0);
	free(got);
	for (int i = 0; i < 3; i++)
		reap(kids[i]);
	reap(from_thread);
}
END_TEST

START_TEST(test_tasks)
{
	const int n = 5;
	pid_t pid = spawn(threads_body, &n), *tids;
	size_t nt;
	struct hw_proc_stat st;
	struct hw_err e;

	ck_assert_int_eq(hw_proc_tasks(pid, &tids, &nt, &e), 0);
	ck_assert_uint_eq(nt, (size_t)n + 1);
	ck_assert_int_eq(tids[0], pid);                  /* the leader first */
	for (size_t i = 0; i < nt; i++) {
		for (size_t k = i + 1; k < nt; k++)
			ck_assert_int_ne(tids[i], tids[k]);
		ck_assert_int_eq(hw_proc_task_stat(pid, tids[i], &st, &e), 0);
		ck_assert_int_eq(st.pid, tids[i]);
	}
	free(tids);
	ck_assert_int_eq(hw_proc_stat(pid, &st, &e), 0);
	ck_assert_int_eq(st.num_threads, n + 1);
	reap(pid);
}
END_TEST

START_TEST(test_list)
{
	pid_t *all;
	size_t n;
	struct hw_err e;
	int self = 0, init = 0;

	ck_assert_int_eq(hw_proc_list(&all, &n, &e), 0);
	for (size_t i = 0; i < n; i++) {
		self |= all[i] == getpid();
		init |= all[i] == 1;
	}
	free(all);
	ck_assert(self && init);
}
END_TEST

START_TEST(test_nonexistent)
{
	pid_t pid = nonexistent_pid(), *v;
	struct hw_proc_stat st;
	struct hw_proc_status ps;
	struct hw_proc_mem m;
	struct hw_maps maps;
	struct hw_err e;
	size_t n;
	char buf[256], want[64];

	/* the caller names the pid, not /proc's reader */
	snprintf(want, sizeof want, "no such process");
#define EXPECT_NOPROC(call)                                             \
	do {                                                            \
		hw_err_clear(&e);                                       \
		ck_assert_int_eq((call), -1);                           \
		ck_assert_int_eq(e.code, HW_ENOPROC);                   \
		ck_assert_str_eq(e.msg, want);                          \
	} while (0)
	EXPECT_NOPROC(hw_proc_stat(pid, &st, &e));
	EXPECT_NOPROC(hw_proc_status(pid, &ps, &e));
	EXPECT_NOPROC(hw_proc_mem(pid, &m, &e));
	EXPECT_NOPROC(hw_proc_maps(pid, &maps, &e));
	EXPECT_NOPROC(hw_proc_cmdline(pid, buf, sizeof buf, &e));
	EXPECT_NOPROC(hw_proc_exe(pid, buf, sizeof buf, NULL, &e));
	EXPECT_NOPROC(hw_proc_tasks(pid, &v, &n, &e));
	EXPECT_NOPROC(hw_proc_children(pid, &v, &n, &e));
#undef EXPECT_NOPROC
	ck_assert_int_eq(hw_proc_task_stat(getpid(), pid, &st, &e), -1);
	ck_assert_int_eq(e.code, HW_ENOPROC);
	ck_assert_ptr_null(maps.v);
	ck_assert_int_eq(m.rss, -1);
	/* e may be NULL */
	ck_assert_int_eq(hw_proc_stat(pid, &st, NULL), -1);
}
END_TEST

START_TEST(test_exe)
{
	char self[PATH_MAX], want[PATH_MAX], tiny[4];
	char tmpl[] = "/tmp/hw exe ) x.XXXXXX";
	struct hw_err e;
	int deleted = -1, fd, in, p[2];
	pid_t pid;
	char c;

	ck_assert_ptr_nonnull(realpath("/proc/self/exe", want));
	ck_assert_int_eq(hw_proc_exe(getpid(), self, sizeof self, &deleted, &e), 0);
	ck_assert_str_eq(self, want);
	ck_assert_int_eq(deleted, 0);
	ck_assert_int_eq(hw_proc_exe(getpid(), tiny, sizeof tiny, NULL, &e), -1);
	ck_assert_int_eq(e.code, HW_ELIMIT);
	ck_assert_int_eq(strlen(tiny), 3);

	/* a deleted executable with spaces in its name: a copy of sleep */
	fd = mkstemp(tmpl);
	ck_assert_int_ge(fd, 0);
	in = open("/bin/sleep", O_RDONLY);
	ck_assert_int_ge(in, 0);
	for (;;) {
		char b[65536];
		ssize_t r = read(in, b, sizeof b);

		ck_assert_int_ge(r, 0);
		if (r == 0)
			break;
		ck_assert_int_eq(write(fd, b, (size_t)r), r);
	}
	close(in);
	ck_assert_int_eq(fchmod(fd, 0700), 0);
	close(fd);
	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
		execl(tmpl, "sleep", "100", (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	ck_assert_int_eq(read(p[0], &c, 1), 0);   /* EOF: exec done */
	close(p[0]);
	ck_assert_int_eq(unlink(tmpl), 0);
	ck_assert_int_eq(hw_proc_exe(pid, self, sizeof self, &deleted, &e), 0);
	ck_assert_str_eq(self, tmpl);
	ck_assert_int_eq(deleted, 1);
	ck_assert_int_eq(hw_proc_cmdline(pid, self, sizeof self, &e), 9);
	ck_assert_str_eq(self, "sleep 100");
	reap(pid);
}
END_TEST

START_TEST(test_zombie)
{
	struct hw_proc_stat st;
	struct hw_err e;
	char buf[256];
	pid_t pid = fork();

	ck_assert_int_ge(pid, 0);
	if (pid == 0)
		_exit(0);
	do {
		ck_assert_int_eq(hw_proc_stat(pid, &st, &e), 0);
	} while (st.state != 'Z' && usleep(1000) == 0);
	ck_assert_int_eq(hw_proc_cmdline(pid, buf, sizeof buf, &e), 0);
	ck_assert_str_eq(buf, "");
	ck_assert_int_eq(hw_proc_exe(pid, buf, sizeof buf, NULL, &e), -1);
	ck_assert_int_eq(e.code, HW_ENOPROC);
	ck_assert_msg(strstr(e.msg, "no executable"), "%s", e.msg);
	reap(pid);
}
END_TEST

/* Why we may not trace: another tracer named by pid and comm. */
START_TEST(test_explain_traced)
{
	pid_t pid = spawn(named_body, "target"), tracer;
	char buf[512], want[128];
	int p[2];
	char c;

	ck_assert_int_eq(pipe(p), 0);
	tracer = fork();
	ck_assert_int_ge(tracer, 0);
	if (tracer == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
		prctl(PR_SET_NAME, "hwtracer", 0, 0, 0);
		if (ptrace(PTRACE_SEIZE, pid, 0, 0) < 0 || write(p[1], "t", 1) != 1)
			_exit(1);
		for (;;)
			pause();
	}
	ck_assert_int_eq(read(p[0], &c, 1), 1);
	hw_proc_explain_eperm(pid, buf, sizeof buf);
	/* the tracer is the whole story, whatever our capabilities */
	snprintf(want, sizeof want, "permission denied: already traced by pid %d (hwtracer)",
		 (int)tracer);
	ck_assert_str_eq(buf, want);
	/* never overflows, always terminated */
	hw_proc_explain_eperm(pid, buf, 10);
	ck_assert_str_eq(buf, "permissio");
	hw_proc_explain_eperm(pid, buf, 1);
	ck_assert_str_eq(buf, "");
	reap(tracer);
	reap(pid);
}
END_TEST

/* Without privilege: EACCES is HW_EPERM, and the explanation names the
 * uids. */
START_TEST(test_eperm)
{
	pid_t parent = getpid(), child;
	int st;

	if (geteuid() != 0) {
		HW_SKIP("proc eperm: needs root to drop privilege");
	}
	child = fork();
	ck_assert_int_ge(child, 0);
	if (child == 0) {
		struct hw_maps maps;
		struct hw_err e;
		char buf[512];

		if (setgroups(0, NULL) < 0 || setgid(65534) < 0 || setuid(65534) < 0)
			_exit(10);
		if (hw_proc_maps(parent, &maps, &e) == 0 || e.code != HW_EPERM)
			_exit(11);
		hw_proc_explain_eperm(parent, buf, sizeof buf);
		if (!strstr(buf, "need root or CAP_SYS_PTRACE"))
			_exit(12);
		if (!strstr(buf, "it runs as uid 0, we as uid 65534"))
			_exit(13);
		if (strstr(buf, "already traced"))
			_exit(14);
		_exit(0);
	}
	ck_assert_int_eq(waitpid(child, &st, 0), child);
	ck_assert(WIFEXITED(st));
	ck_assert_int_eq(WEXITSTATUS(st), 0);
}
END_TEST

int main(int argc, char **argv)
{
	Suite *s = suite_create("proc");
	TCase *tc = tcase_create("core");

	g_argc = argc;
	g_argv = argv;
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_stat_self);
	tcase_add_test(tc, test_stat_odd_comm);
	tcase_add_test(tc, test_cmdline);
	tcase_add_test(tc, test_maps);
	tcase_add_test(tc, test_mem);
	tcase_add_test(tc, test_resident);
	tcase_add_test(tc, test_children);
	tcase_add_test(tc, test_tasks);
	tcase_add_test(tc, test_list);
	tcase_add_test(tc, test_nonexistent);
	tcase_add_test(tc, test_exe);
	tcase_add_test(tc, test_zombie);
	tcase_add_test(tc, test_explain_traced);
	tcase_add_test(tc, test_eperm);
	suite_add_tcase(s, tc);
	return hw_run_suite(s);
}
