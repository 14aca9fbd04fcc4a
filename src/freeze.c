/* freeze.c - stopping and resuming every thread of a process with ptrace;
 * see include/heapwatch/freeze.h.
 *
 * Discipline (ptrace(2), and elfutils' libdwfl/linux-pid-attach.c):
 * PTRACE_SEIZE does not stop the tracee and sends no signal;
 * PTRACE_INTERRUPT then stops it in a PTRACE_EVENT_STOP that we collect
 * with waitpid(__WALL).  A signal that arrives meanwhile shows up as a
 * signal-delivery-stop first: we keep it and give it back with
 * PTRACE_DETACH, so the target loses nothing.  A thread already in
 * group-stop (SIGSTOP) reports its group-stop; detaching leaves it
 * stopped, as we found it.  Nothing is ever written to the tracee.
 */
#include "heapwatch/freeze.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <time.h>

#include "heapwatch/proc.h"
#include "heapwatch/units.h"

#define MAX_PASSES 100
#define MAX_WAIT_STOPS 64

void hw_freeze_init(struct hw_freeze *f)
{
	memset(f, 0, sizeof *f);
}

void hw_freeze_fini(struct hw_freeze *f)
{
	if (!f)
		return;
	hw_freeze_end(f, NULL);
	free(f->tids);
	free(f->sigs);
	memset(f, 0, sizeof *f);
}

uint64_t hw_freeze_elapsed_ns(const struct hw_freeze *f)
{
	if (!f->t_begin_ns)
		return 0;
	return (f->t_end_ns ? f->t_end_ns : hw_now_ns()) - f->t_begin_ns;
}

static int seized(const struct hw_freeze *f, pid_t tid)
{
	for (size_t i = 0; i < f->ntids; i++)
		if (f->tids[i] == tid)
			return 1;
	return 0;
}

static int push_tid(struct hw_freeze *f, pid_t tid, int sig, struct hw_err *e)
{
	if (f->ntids == f->cap) {
		size_t nc = f->cap ? f->cap * 2 : 32;
		pid_t *nt = realloc(f->tids, nc * sizeof *nt);
		int *ns;

		if (!nt)
			return hw_err_set(e, HW_ENOMEM, ENOMEM, "growing the thread list");
		f->tids = nt;
		ns = realloc(f->sigs, nc * sizeof *ns);
		if (!ns)
			return hw_err_set(e, HW_ENOMEM, ENOMEM, "growing the thread list");
		f->sigs = ns;
		f->cap = nc;
	}
	f->tids[f->ntids] = tid;
	f->sigs[f->ntids] = sig;
	f->ntids++;
	return 0;
}

/* Wait until tid is in a ptrace stop of ours.  Returns 1 when stopped
 * (*sig: a signal to hand back on detach, 0 if none), 0 when the thread
 * is gone, -1 on error. */
static int wait_stopped(pid_t tid, int *sig, int *group_stop)
{
	*sig = 0;
	*group_stop = 0;
	for (int k = 0; k < MAX_WAIT_STOPS; k++) {
		int st;
		pid_t r = waitpid(tid, &st, __WALL);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			return errno == ECHILD ? 0 : -1;
		}
		if (WIFEXITED(st) || WIFSIGNALED(st))
			return 0;
		if (!WIFSTOPPED(st))
			continue;
		int event = (unsigned)st >> 16;
		int s = WSTOPSIG(st);

		if (event == PTRACE_EVENT_STOP) {
			/* Our interrupt, or a group-stop (SIGSTOP and
			 * friends) already in effect. */
			if (s == SIGSTOP || s == SIGTSTP || s == SIGTTIN || s == SIGTTOU)
				*group_stop = 1;
			return 1;
		}
		if (event == 0) {
			/* signal-delivery-stop: keep the signal for detach,
			 * and stay stopped: the PTRACE_INTERRUPT is still
			 * pending and will report next... but only once the
			 * tracee runs.  Resume it without the signal and
			 * wait for the interrupt stop. */
			if (*sig == 0)
				*sig = s;
			if (ptrace(PTRACE_CONT, tid, 0, 0) < 0)
				return errno == ESRCH ? 0 : -1;
			if (ptrace(PTRACE_INTERRUPT, tid, 0, 0) < 0 && errno == ESRCH)
				return 0;
			continue;
		}
		/* other events (none requested): let it go on */
		if (ptrace(PTRACE_CONT, tid, 0, 0) < 0)
			return errno == ESRCH ? 0 : -1;
	}
	errno = EAGAIN;
	return -1;
}

/* A thread that is gone or a zombie (exit_state set): the kernel's
 * ptrace_attach() answers EPERM for it, which is not a permission
 * problem. */
static int thread_exiting(pid_t pid, pid_t tid)
{
	char path[96], buf[512];
	FILE *fp;
	size_t n;
	char *p;

	snprintf(path, sizeof path, "/proc/%d/task/%d/stat", (int)pid, (int)tid);
	fp = fopen(path, "re");
	if (!fp)
		return 1;
	n = fread(buf, 1, sizeof buf - 1, fp);
	fclose(fp);
	buf[n] = '\0';
	p = strrchr(buf, ')');
	return !p || p[1] != ' ' || p[2] == 'Z' || p[2] == 'X' || p[2] == 'x';
}

static int seize_one(struct hw_freeze *f, pid_t tid, struct hw_err *e)
{
	int sig, gs, r;

	if (ptrace(PTRACE_SEIZE, tid, 0, 0) < 0) {
		int err = errno;

		if (err == ESRCH)
			return 0; /* exited meanwhile */
		if (err == EPERM && thread_exiting(f->pid, tid))
			return 0; /* ptrace_attach refuses a task already exiting */
		if (err == EPERM) {
			char why[512];

			hw_proc_explain_eperm(f->pid, why, sizeof why);
			return hw_err_set(e, HW_EPERM, 0, "pid %d: %s", (int)f->pid, why);
		}
		return hw_err_set(e, HW_ESYS, err, "pid %d: PTRACE_SEIZE of thread %d",
				  (int)f->pid, (int)tid);
	}
	if (!f->t_begin_ns)
		f->t_begin_ns = hw_now_ns();
	if (push_tid(f, tid, 0, e) < 0) {
		ptrace(PTRACE_DETACH, tid, 0, 0);
		return -1;
	}
	if (ptrace(PTRACE_INTERRUPT, tid, 0, 0) < 0) {
		if (errno == ESRCH) {
			f->ntids--;
			return 0;
		}
		return hw_err_set(e, HW_ESYS, errno, "pid %d: PTRACE_INTERRUPT of thread %d",
				  (int)f->pid, (int)tid);
	}
	r = wait_stopped(tid, &sig, &gs);
	if (r == 0) {
		f->ntids--; /* gone */
		return 0;
	}
	if (r < 0)
		return hw_err_set(e, HW_ESYS, errno, "pid %d: waiting for thread %d to stop",
				  (int)f->pid, (int)tid);
	f->sigs[f->ntids - 1] = sig;
	if (gs)
		f->was_stopped = 1;
	return 0;
}

int hw_freeze_begin(struct hw_freeze *f, pid_t pid, struct hw_err *e)
{
	struct hw_proc_status ps;
	char path[64];

	f->pid = pid;
	f->ntids = 0;
	f->t_begin_ns = f->t_end_ns = 0;
	f->was_stopped = 0;
	if (hw_proc_status(pid, &ps, e) < 0)
		return -1;
	if (ps.tracer_pid && ps.tracer_pid != getpid()) {
		struct hw_proc_stat ts;
		const char *who = hw_proc_stat(ps.tracer_pid, &ts, NULL) == 0 ? ts.comm : "?";

		return hw_err_set(e, HW_ETRACED, 0, "pid %d: already traced by pid %d (%s)",
				  (int)pid, (int)ps.tracer_pid, who);
	}
	snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
	for (int pass = 0; pass < MAX_PASSES; pass++) {
		DIR *d = opendir(path);
		struct dirent *de;
		int added = 0;

		if (!d) {
			if (f->ntids == 0)
				return hw_err_set(e, HW_ENOPROC, 0, "pid %d: no such process", (int)pid);
			hw_freeze_end(f, NULL);
			return hw_err_set(e, HW_EEXITED, 0, "pid %d: process exited", (int)pid);
		}
		while ((de = readdir(d))) {
			char *end;
			long tid = strtol(de->d_name, &end, 10);

			if (*end || tid <= 0 || seized(f, (pid_t)tid))
				continue;
			if (seize_one(f, (pid_t)tid, e) < 0) {
				int keep = errno;

				closedir(d);
				hw_freeze_end(f, NULL);
				errno = keep;
				return -1;
			}
			added = 1;
		}
		closedir(d);
		if (!added) {
			if (f->ntids == 0)
				return hw_err_set(e, HW_EEXITED, 0, "pid %d: process exited", (int)pid);
			f->active = 1;
			return 0;
		}
	}
	hw_freeze_end(f, NULL);
	return hw_err_set(e, HW_ELIMIT, 0,
			  "pid %d: threads kept appearing after %d passes", (int)pid, MAX_PASSES);
}

int hw_freeze_end(struct hw_freeze *f, struct hw_err *e)
{
	int rc = 0, keep = errno;

	for (size_t i = 0; i < f->ntids; i++) {
		/* Hand back a signal caught while stopping the thread. */
		if (ptrace(PTRACE_DETACH, f->tids[i], 0, (void *)(long)f->sigs[i]) < 0 &&
		    errno != ESRCH)
			rc = hw_err_set(e, HW_ESYS, errno, "pid %d: detaching thread %d",
					(int)f->pid, (int)f->tids[i]);
	}
	if (f->ntids || f->active)
		f->t_end_ns = hw_now_ns();
	f->ntids = 0;
	f->active = 0;
	errno = keep;
	return rc;
}
