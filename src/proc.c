/* proc.c - facts about processes from /proc; see include/heapwatch/proc.h.
 *
 * /proc text is parsed defensively (proc(5)): comm may hold spaces and ')'
 * (split stat after the LAST ')'), cmdline is NUL-separated and may be
 * padded (setproctitle), map paths may hold spaces and end in
 * " (deleted)".  A process can vanish between any two reads: ENOENT and
 * ESRCH both mean "no such process".
 */
#include "heapwatch/proc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DELETED_SUFFIX " (deleted)"
#define DELETED_LEN (sizeof DELETED_SUFFIX - 1)

/* Errors name no pid: the caller that owns the context does. */
static int proc_fail(struct hw_err *e, const char *what, int err)
{
	if (err == ENOENT || err == ESRCH)
		return hw_err_set(e, HW_ENOPROC, 0, strncmp(what, "thread", 6) == 0 ?
				  "no such thread" : "no such process");
	if (err == EACCES || err == EPERM)
		return hw_err_set(e, HW_EPERM, err, "reading %s", what);
	return hw_err_set(e, HW_ESYS, err, "reading %s", what);
}

/* Read a small /proc file into buf (NUL-terminated, at most size-1 bytes);
 * returns its length or -1 with errno. */
static ssize_t slurp(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t n = 0;

	if (fd < 0)
		return -1;
	while (n + 1 < size) {
		ssize_t r = read(fd, buf + n, size - 1 - n);

		if (r < 0) {
			int keep = errno;

			if (keep == EINTR)
				continue;
			close(fd);
			errno = keep;
			return -1;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	buf[n] = '\0';
	return (ssize_t)n;
}

/* Read a whole /proc file of any length into a malloc'ed, NUL-terminated
 * buffer (*out, caller frees); returns its length or -1 with errno. */
static ssize_t slurp_all(const char *path, char **out)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t n = 0, cap = 4096;
	char *buf = NULL;
	int keep;

	*out = NULL;
	if (fd < 0)
		return -1;
	buf = malloc(cap);
	if (!buf) {
		keep = ENOMEM;
		goto fail;
	}
	for (;;) {
		ssize_t r;

		if (n + 1 == cap) {
			char *nb = realloc(buf, cap * 2);

			if (!nb) {
				keep = ENOMEM;
				goto fail;
			}
			buf = nb;
			cap *= 2;
		}
		r = read(fd, buf + n, cap - 1 - n);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			keep = errno;
			goto fail;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	buf[n] = '\0';
	*out = buf;
	return (ssize_t)n;
fail:
	free(buf);
	close(fd);
	errno = keep;
	return -1;
}

/* Parse the text of a stat file (proc(5) field numbers). */
static int parse_stat(char *buf, pid_t id, struct hw_proc_stat *st, struct hw_err *e)
{
	char *open_p, *close_p, *p;
	size_t cl;

	memset(st, 0, sizeof *st);
	st->pid = id;
	open_p = strchr(buf, '(');
	close_p = strrchr(buf, ')');
	if (!open_p || !close_p || close_p < open_p || close_p[1] != ' ' || !close_p[2])
		return hw_err_set(e, HW_ESYS, 0, "unreadable /proc stat of %d", (int)id);
	cl = (size_t)(close_p - open_p - 1);
	if (cl >= sizeof st->comm)
		cl = sizeof st->comm - 1;
	memcpy(st->comm, open_p + 1, cl);
	st->comm[cl] = '\0';
	p = close_p + 2;
	st->state = *p;
	/* p is at field 3; 4 ppid, 20 num_threads, 22 starttime */
	for (int field = 3; field <= 22; field++) {
		if (field == 4)
			st->ppid = (pid_t)strtol(p, NULL, 10);
		else if (field == 20)
			st->num_threads = (int64_t)strtoll(p, NULL, 10);
		else if (field == 22)
			st->starttime = (uint64_t)strtoull(p, NULL, 10);
		p = strchr(p, ' ');
		if (!p)
			break;
		p++;
	}
	return 0;
}

int hw_proc_stat(pid_t pid, struct hw_proc_stat *st, struct hw_err *e)
{
	char path[64], buf[1024];

	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	if (slurp(path, buf, sizeof buf) < 0)
		return proc_fail(e, "stat", errno);
	return parse_stat(buf, pid, st, e);
}

int hw_proc_task_stat(pid_t pid, pid_t tid, struct hw_proc_stat *st,
		      struct hw_err *e)
{
	char path[96], buf[1024];

	snprintf(path, sizeof path, "/proc/%d/task/%d/stat", (int)pid, (int)tid);
	if (slurp(path, buf, sizeof buf) < 0)
		return proc_fail(e, "thread stat", errno);
	return parse_stat(buf, tid, st, e);
}

static void parse_status(const char *buf, struct hw_proc_status *st)
{
	memset(st, 0, sizeof *st);
	for (const char *line = buf; line && *line;) {
		const char *nl = strchr(line, '\n');

		if (strncmp(line, "TracerPid:", 10) == 0) {
			st->tracer_pid = (pid_t)strtol(line + 10, NULL, 10);
		} else if (strncmp(line, "Uid:", 4) == 0) {
			st->uid = (uid_t)strtoul(line + 4, NULL, 10);
		} else if (strncmp(line, "Name:", 5) == 0) {
			const char *s = line + 5;
			size_t n = 0;

			while (*s == '\t' || *s == ' ')
				s++;
			while (s[n] && s[n] != '\n' && n + 1 < sizeof st->name)
				n++;
			memcpy(st->name, s, n);
			st->name[n] = '\0';
		}
		line = nl ? nl + 1 : NULL;
	}
}

int hw_proc_status(pid_t pid, struct hw_proc_status *st, struct hw_err *e)
{
	char path[64], buf[8192];

	snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
	if (slurp(path, buf, sizeof buf) < 0)
		return proc_fail(e, "status", errno);
	parse_status(buf, st);
	return 0;
}

int hw_proc_task_status(pid_t pid, pid_t tid, struct hw_proc_status *st,
			struct hw_err *e)
{
	char path[96], buf[8192];

	snprintf(path, sizeof path, "/proc/%d/task/%d/status", (int)pid, (int)tid);
	if (slurp(path, buf, sizeof buf) < 0)
		return proc_fail(e, "thread status", errno);
	parse_status(buf, st);
	return 0;
}

/* "Key:   123 kB" at the start of a line, in bytes; -1 when absent.  The
 * key includes its ':' so "Pss:" does not match "Pss_Anon:". */
static int64_t kb_field(const char *buf, const char *key)
{
	size_t kl = strlen(key);

	for (const char *p = buf; (p = strstr(p, key)); p += kl) {
		if (p == buf || p[-1] == '\n') {
			char *end;
			long long v = strtoll(p + kl, &end, 10);

			if (end == p + kl || v < 0)
				return -1;
			return (int64_t)v * 1024;
		}
	}
	return -1;
}

int hw_proc_mem(pid_t pid, struct hw_proc_mem *m, struct hw_err *e)
{
	char path[64], buf[4096];

	m->rss = m->pss = m->uss = m->swap = -1;
	/* smaps_rollup needs PTRACE_MODE_READ; status does not. */
	snprintf(path, sizeof path, "/proc/%d/smaps_rollup", (int)pid);
	if (slurp(path, buf, sizeof buf) >= 0) {
		int64_t rss = kb_field(buf, "Rss:");

		if (rss >= 0) {
			int64_t pc = kb_field(buf, "Private_Clean:");
			int64_t pd = kb_field(buf, "Private_Dirty:");

			m->rss = rss;
			m->pss = kb_field(buf, "Pss:");
			m->uss = pc >= 0 && pd >= 0 ? pc + pd : -1;
			m->swap = kb_field(buf, "Swap:");
			return 0;
		}
	}
	snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
	if (slurp(path, buf, sizeof buf) < 0)
		return proc_fail(e, "status", errno);
	m->rss = kb_field(buf, "VmRSS:");
	return 0;
}

/* One line of maps: "start-end perms offset dev inode   path".  Returns 0,
 * or -1 for a line that is not one. */
static int parse_map_line(char *line, struct hw_map *m)
{
	unsigned long long s, t, off, ino;
	char perm[8];
	int pos = -1;
	char *pp;
	size_t n;

	memset(m, 0, sizeof *m);
	if (sscanf(line, "%llx-%llx %7s %llx %*s %llu%n", &s, &t, perm, &off, &ino, &pos) < 5 ||
	    pos < 0 || strlen(perm) < 4 || t < s)
		return -1;
	m->start = s;
	m->end = t;
	m->offset = off;
	m->inode = ino;
	m->r = perm[0] == 'r';
	m->w = perm[1] == 'w';
	m->x = perm[2] == 'x';
	m->p = perm[3] == 'p';
	/* The path starts after the padding; names never start with a
	 * space ("/...", "[heap]", "[anon:...]"), so skipping spaces is
	 * exact. */
	pp = line + pos;
	while (*pp == ' ' || *pp == '\t')
		pp++;
	n = strcspn(pp, "\n");
	if (n >= DELETED_LEN && memcmp(pp + n - DELETED_LEN, DELETED_SUFFIX, DELETED_LEN) == 0) {
		m->deleted = 1;
		n -= DELETED_LEN;
	}
	if (n >= sizeof m->path)
		n = sizeof m->path - 1;
	memcpy(m->path, pp, n);
	m->path[n] = '\0';
	return 0;
}

int hw_proc_maps(pid_t pid, struct hw_maps *out, struct hw_err *e)
{
	char path[64];
	char *line = NULL;
	size_t linecap = 0, cap = 0;
	struct hw_map *m = NULL;
	FILE *f;
	int rc = -1;

	out->v = NULL;
	out->n = 0;
	snprintf(path, sizeof path, "/proc/%d/maps", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return proc_fail(e, "maps", errno);
	m = malloc(sizeof *m);
	if (!m) {
		hw_err_set(e, HW_ENOMEM, ENOMEM, "reading maps");
		goto cleanup;
	}
	/* getline: a line is as long as its path, which may exceed PATH_MAX. */
	errno = 0;
	while (getline(&line, &linecap, f) >= 0) {
		if (parse_map_line(line, m) < 0)
			continue;
		if (out->n == cap) {
			size_t nc = cap ? cap * 2 : 64;
			struct hw_map *nv = realloc(out->v, nc * sizeof *nv);

			if (!nv) {
				hw_err_set(e, HW_ENOMEM, ENOMEM, "reading maps");
				goto cleanup;
			}
			out->v = nv;
			cap = nc;
		}
		out->v[out->n++] = *m;
	}
	if (ferror(f)) {
		proc_fail(e, "maps", errno ? errno : EIO);
		goto cleanup;
	}
	rc = 0;
cleanup:
	if (rc < 0)
		hw_maps_fini(out);
	free(m);
	free(line);
	fclose(f);
	return rc;
}

void hw_maps_fini(struct hw_maps *m)
{
	if (!m)
		return;
	free(m->v);
	m->v = NULL;
	m->n = 0;
}

int hw_proc_resident(pid_t pid, uint64_t start, uint64_t end,
		     int (*fn)(void *arg, uint64_t s, uint64_t t, struct hw_err *e),
		     void *arg, struct hw_err *e)
{
	enum { CHUNK = 4096 };      /* pagemap entries a read */
	const uint64_t page = 4096;
	uint64_t *ent = NULL, run = 0, a = start & ~(page - 1);
	char path[64];
	int fd, rc = -1, in = 0;

	snprintf(path, sizeof path, "/proc/%d/pagemap", (int)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return proc_fail(e, "pagemap", errno);
	if (!(ent = malloc(CHUNK * sizeof *ent))) {
		hw_err_set(e, HW_ENOMEM, ENOMEM, "reading pagemap");
		goto out;
	}
	while (a < end) {
		uint64_t n = (end - a + page - 1) / page;
		ssize_t got;

		if (n > CHUNK)
			n = CHUNK;
		got = pread(fd, ent, n * sizeof *ent, (off_t)(a / page * sizeof *ent));
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0 || got % (ssize_t)sizeof *ent) {
			proc_fail(e, "pagemap", got < 0 ? errno : EIO);
			goto out;
		}
		n = (uint64_t)got / sizeof *ent;
		for (uint64_t i = 0; i < n; i++, a += page) {
			int held = (ent[i] >> 62) & 3;   /* present or swapped */

			if (held && !in) {
				run = a;
				in = 1;
			} else if (!held && in) {
				in = 0;
				if (fn(arg, run, a, e) < 0)
					goto out;
			}
		}
	}
	if (in && fn(arg, run, a, e) < 0)
		goto out;
	rc = 0;
out:
	free(ent);
	close(fd);
	return rc;
}

const struct hw_map *hw_maps_find(const struct hw_maps *m, uint64_t addr)
{
	size_t lo = 0, hi = m->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (addr < m->v[mid].start)
			hi = mid;
		else if (addr >= m->v[mid].end)
			lo = mid + 1;
		else
			return &m->v[mid];
	}
	return NULL;
}

ssize_t hw_proc_cmdline(pid_t pid, char *buf, size_t size, struct hw_err *e)
{
	char path[64];
	ssize_t n;

	if (size == 0)
		return hw_err_set(e, HW_EUSAGE, 0, "no room for the command line");
	snprintf(path, sizeof path, "/proc/%d/cmdline", (int)pid);
	n = slurp(path, buf, size);
	if (n < 0)
		return proc_fail(e, "cmdline", errno);
	for (ssize_t i = 0; i < n; i++)
		if (buf[i] == '\0')
			buf[i] = ' ';
	while (n > 0 && buf[n - 1] == ' ')
		n--;
	buf[n] = '\0';
	return n;
}

int hw_proc_exe(pid_t pid, char *buf, size_t size, int *deleted, struct hw_err *e)
{
	char path[64];
	ssize_t n;

	if (deleted)
		*deleted = 0;
	if (size < 2)
		return hw_err_set(e, HW_EUSAGE, 0, "no room for the executable path");
	snprintf(path, sizeof path, "/proc/%d/exe", (int)pid);
	n = readlink(path, buf, size);
	if (n < 0) {
		int err = errno;

		buf[0] = '\0';
		snprintf(path, sizeof path, "/proc/%d", (int)pid);
		if (err == ENOENT && access(path, F_OK) == 0)
			return hw_err_set(e, HW_ENOPROC, 0,
					  "no executable (a zombie or a kernel thread)");
		return proc_fail(e, "exe", err);
	}
	if ((size_t)n >= size) {
		buf[size - 1] = '\0';
		return hw_err_set(e, HW_ELIMIT, 0, "executable path longer than %zu bytes",
				  size - 1);
	}
	buf[n] = '\0';
	if ((size_t)n > DELETED_LEN && strcmp(buf + n - DELETED_LEN, DELETED_SUFFIX) == 0) {
		buf[n - DELETED_LEN] = '\0';
		if (deleted)
			*deleted = 1;
	}
	return 0;
}

struct pid_vec {
	pid_t *v;
	size_t n, cap;
};

static int push_pid(struct pid_vec *pv, pid_t p, struct hw_err *e)
{
	if (pv->n == pv->cap) {
		size_t nc = pv->cap ? pv->cap * 2 : 64;
		pid_t *nv = realloc(pv->v, nc * sizeof *nv);

		if (!nv)
			return hw_err_set(e, HW_ENOMEM, ENOMEM, "growing a pid list");
		pv->v = nv;
		pv->cap = nc;
	}
	pv->v[pv->n++] = p;
	return 0;
}

/* Numeric entries of a /proc directory, appended to *pv. */
static int list_dir(const char *path, struct pid_vec *pv, pid_t pid, struct hw_err *e)
{
	DIR *d = opendir(path);
	struct dirent *de;

	if (!d) {
		if (pid > 0)
			return proc_fail(e, "its threads", errno);
		return hw_err_set(e, HW_ESYS, errno, "listing %s", path);
	}
	while ((de = readdir(d))) {
		char *end;
		long v = strtol(de->d_name, &end, 10);

		if (*end || v <= 0)
			continue;
		if (push_pid(pv, (pid_t)v, e) < 0) {
			closedir(d);
			return -1;
		}
	}
	closedir(d);
	return 0;
}

static int list_out(int rc, struct pid_vec *pv, pid_t **out, size_t *n)
{
	if (rc < 0) {
		free(pv->v);
		*out = NULL;
		*n = 0;
		return -1;
	}
	*out = pv->v;
	*n = pv->n;
	return 0;
}

int hw_proc_tasks(pid_t pid, pid_t **out, size_t *n, struct hw_err *e)
{
	struct pid_vec pv = { NULL, 0, 0 };
	char path[64];

	snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
	return list_out(list_dir(path, &pv, pid, e), &pv, out, n);
}

int hw_proc_list(pid_t **out, size_t *n, struct hw_err *e)
{
	struct pid_vec pv = { NULL, 0, 0 };
	return list_out(list_dir("/proc", &pv, 0, e), &pv, out, n);
}

/* Whether this kernel has /proc/PID/task/TID/children
 * (CONFIG_PROC_CHILDREN): asked of ourselves, so that a target vanishing
 * is not mistaken for its absence. */
static int have_children_files(void)
{
	char path[96];

	snprintf(path, sizeof path, "/proc/%d/task/%d/children", (int)getpid(), (int)gettid());
	return access(path, F_OK) == 0;
}

static int children_from_files(pid_t pid, struct pid_vec *pv, struct hw_err *e)
{
	pid_t *tasks = NULL;
	size_t nt = 0, nread = 0;
	int rc = -1;

	if (hw_proc_tasks(pid, &tasks, &nt, e) < 0)
		return -1;
	for (size_t i = 0; i < nt; i++) {
		char path[96], *buf;

		snprintf(path, sizeof path, "/proc/%d/task/%d/children", (int)pid, (int)tasks[i]);
		if (slurp_all(path, &buf) < 0) {
			if (errno == ENOENT || errno == ESRCH)
				continue; /* that thread exited meanwhile */
			proc_fail(e, "children", errno);
			goto cleanup;
		}
		nread++;
		for (char *p = buf;;) {
			char *end;
			long v = strtol(p, &end, 10);

			if (end == p)
				break;
			if (v > 0 && push_pid(pv, (pid_t)v, e) < 0) {
				free(buf);
				goto cleanup;
			}
			p = end;
		}
		free(buf);
	}
	/* Every thread vanished while we read: so did the process. */
	rc = nread ? 0 : proc_fail(e, "children", ENOENT);
cleanup:
	free(tasks);
	return rc;
}

static int children_from_scan(pid_t pid, struct pid_vec *pv, struct hw_err *e)
{
	struct hw_proc_stat st;
	pid_t *all = NULL;
	size_t na = 0;
	int rc = -1;

	if (hw_proc_stat(pid, &st, e) < 0)
		return -1;
	if (hw_proc_list(&all, &na, e) < 0)
		return -1;
	for (size_t i = 0; i < na; i++) {
		if (hw_proc_stat(all[i], &st, NULL) == 0 && st.ppid == pid &&
		    push_pid(pv, all[i], e) < 0)
			goto cleanup;
	}
	rc = 0;
cleanup:
	free(all);
	return rc;
}

int hw_proc_children(pid_t pid, pid_t **out, size_t *n, struct hw_err *e)
{
	struct pid_vec pv = { NULL, 0, 0 };
	int rc;

	if (have_children_files())
		rc = children_from_files(pid, &pv, e);
	else
		rc = children_from_scan(pid, &pv, e);
	return list_out(rc, &pv, out, n);
}

/* Append printf-style text to buf[*len..size), keeping *len <= size-1. */
static void __attribute__((format(printf, 4, 5)))
append(char *buf, size_t size, size_t *len, const char *fmt, ...)
{
	va_list ap;
	int r;

	if (*len + 1 >= size)
		return;
	va_start(ap, fmt);
	r = vsnprintf(buf + *len, size - *len, fmt, ap);
	va_end(ap);
	if (r < 0)
		return;
	*len += (size_t)r;
	if (*len >= size)
		*len = size - 1;
}

/* A capability mask line ("CapEff:\t000001ffffffffff") of a status
 * file; 0 when absent. */
static uint64_t status_caps(const char *path, const char *key)
{
	char buf[4096];
	const char *p;

	if (slurp(path, buf, sizeof buf) <= 0 || !(p = strstr(buf, key)))
		return 0;
	return strtoull(p + strlen(key), NULL, 16);
}

void hw_proc_explain_eperm(pid_t pid, char *buf, size_t size)
{
	struct hw_proc_status st;
	char scope[16], path[64];
	uint64_t ours, theirs;
	size_t n = 0;

	if (!buf || size == 0)
		return;
	buf[0] = '\0';
	ours = status_caps("/proc/self/status", "CapEff:");
	snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
	theirs = status_caps(path, "CapPrm:");
	if (hw_proc_status(pid, &st, NULL) == 0 && st.tracer_pid) {
		/* Only one tracer at a time: nothing else to say. */
		struct hw_proc_stat ts;

		append(buf, size, &n, "permission denied");
		if (hw_proc_stat(st.tracer_pid, &ts, NULL) == 0)
			append(buf, size, &n, ": already traced by pid %d (%s)",
			       (int)st.tracer_pid, ts.comm);
		else
			append(buf, size, &n, ": already traced by pid %d", (int)st.tracer_pid);
		return;
	}
	if (ours & (1ull << 19)) {
		/* We hold CAP_SYS_PTRACE (capability.h: 19) and were refused
		 * anyway: ptrace(2) "Ptrace access mode checking" also wants
		 * the target's permitted capabilities to be a subset of ours
		 * (in its user namespace), and a security module may say no. */
		append(buf, size, &n, "permission denied although we hold CAP_SYS_PTRACE");
		if (theirs & ~ours)
			append(buf, size, &n, " (the target holds capabilities we lack: "
			       "CapPrm %llx, ours %llx)", (unsigned long long)theirs,
			       (unsigned long long)ours);
		else
			append(buf, size, &n, " (another user namespace, or a security "
			       "module such as AppArmor or SELinux, forbids it)");
	} else {
		append(buf, size, &n, "permission denied: need root or CAP_SYS_PTRACE");
	}
	/* Yama (Documentation/admin-guide/LSM/Yama.rst) exists only on
	 * kernels built with it; 0 restricts nothing. */
	if (slurp("/proc/sys/kernel/yama/ptrace_scope", scope, sizeof scope) > 0) {
		int v = atoi(scope);

		if (v == 1)
			append(buf, size, &n, " (kernel.yama.ptrace_scope=1 allows only descendants)");
		else if (v == 2)
			append(buf, size, &n, " (kernel.yama.ptrace_scope=2 allows only CAP_SYS_PTRACE)");
		else if (v >= 3)
			append(buf, size, &n, " (kernel.yama.ptrace_scope=%d forbids ptrace)", v);
	}
	if (hw_proc_status(pid, &st, NULL) < 0)
		return;
	if (st.uid != getuid()) {
		append(buf, size, &n, "; it runs as uid %u, we as uid %u",
		       (unsigned)st.uid, (unsigned)getuid());
	} else {
		/* A process that is not dumpable (set-id program, or
		 * prctl(PR_SET_DUMPABLE, 0)) has the files in /proc/PID owned
		 * by root (proc(5)) and refuses tracers of its own uid. */
		struct stat sb;

		if (stat(path, &sb) == 0 && sb.st_uid != st.uid)
			append(buf, size, &n, "; it is not dumpable (set-id, or PR_SET_DUMPABLE 0)");
	}
}
