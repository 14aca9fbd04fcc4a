/* proc.c - facts about processes from /proc; see include/heapwatch/proc.h.
 * /proc text is parsed defensively: comm may hold spaces and ')' (split
 * stat after the LAST ')'), cmdline is NUL-separated and may be padded
 * (setproctitle), map paths may hold spaces and end in " (deleted)". */
#include "heapwatch/proc.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int proc_fail(struct hw_err *e, pid_t pid, const char *what, int err)
{
	if (err == ENOENT || err == ESRCH)
		return hw_err_set(e, HW_ENOPROC, 0, "pid %d: no such process", (int)pid);
	if (err == EACCES || err == EPERM)
		return hw_err_set(e, HW_EPERM, err, "pid %d: reading %s", (int)pid, what);
	return hw_err_set(e, HW_ESYS, err, "pid %d: reading %s", (int)pid, what);
}

/* Read a whole small /proc file into buf (NUL-terminated); returns its
 * length or -1 with errno. */
static ssize_t slurp(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t n = 0;

	if (fd < 0)
		return -1;
	while (n + 1 < size) {
		ssize_t r = read(fd, buf + n, size - 1 - n);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			int keep = errno;

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

int hw_proc_stat(pid_t pid, struct hw_proc_stat *st, struct hw_err *e)
{
	char path[64], buf[4096];
	char *open_p, *close_p, *p;
	unsigned long long v;

	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	if (slurp(path, buf, sizeof buf) < 0)
		return proc_fail(e, pid, "stat", errno);
	memset(st, 0, sizeof *st);
	st->pid = pid;
	open_p = strchr(buf, '(');
	close_p = strrchr(buf, ')');
	if (!open_p || !close_p || close_p < open_p || close_p[1] != ' ')
		return hw_err_set(e, HW_ESYS, 0, "pid %d: unreadable /proc stat", (int)pid);
	size_t cl = (size_t)(close_p - open_p - 1);

	if (cl >= sizeof st->comm)
		cl = sizeof st->comm - 1;
	memcpy(st->comm, open_p + 1, cl);
	st->comm[cl] = '\0';
	p = close_p + 2;
	st->state = *p;
	/* fields after comm: 3 state, 4 ppid, ..., 20 num_threads, 22 starttime */
	for (int field = 3; field <= 22 && p; field++) {
		if (field == 4 || field == 20 || field == 22) {
			v = strtoull(p, NULL, 10);
			if (field == 4)
				st->ppid = (pid_t)v;
			else if (field == 20)
				st->num_threads = (int64_t)v;
			else
				st->starttime = v;
		}
		p = strchr(p, ' ');
		if (p)
			p++;
	}
	return 0;
}

int hw_proc_status(pid_t pid, struct hw_proc_status *st, struct hw_err *e)
{
	char path[64], buf[8192];
	char *line;

	snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
	if (slurp(path, buf, sizeof buf) < 0)
		return proc_fail(e, pid, "status", errno);
	memset(st, 0, sizeof *st);
	for (line = buf; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
		if (strncmp(line, "TracerPid:", 10) == 0)
			st->tracer_pid = (pid_t)strtol(line + 10, NULL, 10);
		else if (strncmp(line, "Uid:", 4) == 0)
			st->uid = (uid_t)strtoul(line + 4, NULL, 10);
		else if (strncmp(line, "Name:", 5) == 0) {
			const char *s = line + 5;
			size_t n = 0;

			while (*s == '\t' || *s == ' ')
				s++;
			while (s[n] && s[n] != '\n' && n + 1 < sizeof st->name)
				n++;
			memcpy(st->name, s, n);
			st->name[n] = '\0';
		}
	}
	return 0;
}

static int64_t kb_field(const char *buf, const char *key)
{
	const char *p = buf;
	size_t kl = strlen(key);

	while ((p = strstr(p, key))) {
		if (p == buf || p[-1] == '\n') {
			p += kl;
			while (*p == ' ' || *p == '\t')
				p++;
			return (int64_t)strtoll(p, NULL, 10) * 1024;
		}
		p += kl;
	}
	return -1;
}

int hw_proc_mem(pid_t pid, struct hw_proc_mem *m, struct hw_err *e)
{
	char path[64], buf[8192];

	m->rss = m->pss = m->uss = m->swap = -1;
	snprintf(path, sizeof path, "/proc/%d/smaps_rollup", (int)pid);
	if (slurp(path, buf, sizeof buf) >= 0) {
		int64_t pc = kb_field(buf, "Private_Clean:");
		int64_t pd = kb_field(buf, "Private_Dirty:");

		m->rss = kb_field(buf, "Rss:");
		m->pss = kb_field(buf, "Pss:");
		m->uss = pc >= 0 && pd >= 0 ? pc + pd : -1;
		m->swap = kb_field(buf, "Swap:");
		if (m->rss >= 0)
			return 0;
	}
	snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
	if (slurp(path, buf, sizeof buf) < 0)
		return proc_fail(e, pid, "status", errno);
	m->rss = kb_field(buf, "VmRSS:");
	return 0;
}

int hw_proc_maps(pid_t pid, struct hw_maps *out, struct hw_err *e)
{
	char path[64], line[4300];
	FILE *f;

	out->v = NULL;
	out->n = 0;
	snprintf(path, sizeof path, "/proc/%d/maps", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return proc_fail(e, pid, "maps", errno);
	size_t cap = 0;

	while (fgets(line, sizeof line, f)) {
		struct hw_map m;
		unsigned long long s, t, off, ino;
		char perm[8];
		int pos = 0;

		memset(&m, 0, sizeof m);
		if (sscanf(line, "%llx-%llx %7s %llx %*s %llu %n", &s, &t, perm, &off, &ino, &pos) < 5)
			continue;
		m.start = s;
		m.end = t;
		m.offset = off;
		m.inode = ino;
		m.r = perm[0] == 'r';
		m.w = perm[1] == 'w';
		m.x = perm[2] == 'x';
		m.p = perm[3] == 'p';
		if (pos > 0) {
			char *pp = line + pos;
			size_t n = strcspn(pp, "\n");

			while (*pp == ' ' && n) {
				pp++;
				n--;
			}
			if (n > 10 && strncmp(pp + n - 10, " (deleted)", 10) == 0) {
				m.deleted = 1;
				n -= 10;
			}
			if (n >= sizeof m.path)
				n = sizeof m.path - 1;
			memcpy(m.path, pp, n);
			m.path[n] = '\0';
		}
		if (out->n == cap) {
			size_t nc = cap ? cap * 2 : 64;
			struct hw_map *nv = realloc(out->v, nc * sizeof *nv);

			if (!nv) {
				fclose(f);
				hw_maps_fini(out);
				return hw_err_set(e, HW_ENOMEM, ENOMEM, "reading maps");
			}
			out->v = nv;
			cap = nc;
		}
		out->v[out->n++] = m;
	}
	fclose(f);
	return 0;
}

void hw_maps_fini(struct hw_maps *m)
{
	if (!m)
		return;
	free(m->v);
	m->v = NULL;
	m->n = 0;
}

const struct hw_map *hw_maps_find(const struct hw_maps *m, uint64_t addr)
{
	for (size_t i = 0; i < m->n; i++)
		if (addr >= m->v[i].start && addr < m->v[i].end)
			return &m->v[i];
	return NULL;
}

ssize_t hw_proc_cmdline(pid_t pid, char *buf, size_t size, struct hw_err *e)
{
	char path[64];
	ssize_t n;

	if (size == 0)
		return -1;
	snprintf(path, sizeof path, "/proc/%d/cmdline", (int)pid);
	n = slurp(path, buf, size);
	if (n < 0)
		return proc_fail(e, pid, "cmdline", errno);
	while (n > 0 && buf[n - 1] == '\0')
		n--;
	for (ssize_t i = 0; i < n; i++)
		if (buf[i] == '\0')
			buf[i] = ' ';
	/* setproctitle pads with NULs turned spaces: trim the tail */
	while (n > 0 && buf[n - 1] == ' ')
		n--;
	buf[n] = '\0';
	return n;
}

int hw_proc_exe(pid_t pid, char *buf, size_t size, int *deleted, struct hw_err *e)
{
	char path[64];
	ssize_t n;

	snprintf(path, sizeof path, "/proc/%d/exe", (int)pid);
	n = readlink(path, buf, size - 1);
	if (n < 0)
		return proc_fail(e, pid, "exe", errno);
	buf[n] = '\0';
	if (deleted)
		*deleted = 0;
	if (n > 10 && strcmp(buf + n - 10, " (deleted)") == 0) {
		buf[n - 10] = '\0';
		if (deleted)
			*deleted = 1;
	}
	return 0;
}

static int push_pid(pid_t **v, size_t *n, size_t *cap, pid_t p, struct hw_err *e)
{
	if (*n == *cap) {
		size_t nc = *cap ? *cap * 2 : 64;
		pid_t *nv = realloc(*v, nc * sizeof *nv);

		if (!nv)
			return hw_err_set(e, HW_ENOMEM, ENOMEM, "growing a pid list");
		*v = nv;
		*cap = nc;
	}
	(*v)[(*n)++] = p;
	return 0;
}

/* Numeric entries of a /proc directory. */
static int list_dir(const char *path, pid_t **out, size_t *n, struct hw_err *e,
		    pid_t pid)
{
	DIR *d = opendir(path);
	struct dirent *de;
	size_t cap = 0;

	*out = NULL;
	*n = 0;
	if (!d)
		return proc_fail(e, pid, path, errno);
	while ((de = readdir(d))) {
		char *end;
		long v = strtol(de->d_name, &end, 10);

		if (*end || v <= 0)
			continue;
		if (push_pid(out, n, &cap, (pid_t)v, e) < 0) {
			closedir(d);
			free(*out);
			*out = NULL;
			return -1;
		}
	}
	closedir(d);
	return 0;
}

int hw_proc_tasks(pid_t pid, pid_t **out, size_t *n, struct hw_err *e)
{
	char path[64];

	snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
	return list_dir(path, out, n, e, pid);
}

int hw_proc_list(pid_t **out, size_t *n, struct hw_err *e)
{
	return list_dir("/proc", out, n, e, 0);
}

int hw_proc_children(pid_t pid, pid_t **out, size_t *n, struct hw_err *e)
{
	pid_t *tasks = NULL, *all = NULL;
	size_t nt = 0, na = 0, cap = 0;
	char path[96], buf[65536];
	int have_children_file = 0;

	*out = NULL;
	*n = 0;
	if (hw_proc_tasks(pid, &tasks, &nt, e) < 0)
		return -1;
	for (size_t i = 0; i < nt; i++) {
		snprintf(path, sizeof path, "/proc/%d/task/%d/children", (int)pid, (int)tasks[i]);
		if (slurp(path, buf, sizeof buf) < 0)
			continue;
		have_children_file = 1;
		for (char *p = buf; *p;) {
			char *end;
			long v = strtol(p, &end, 10);

			if (end == p)
				break;
			if (v > 0 && push_pid(out, n, &cap, (pid_t)v, e) < 0)
				goto fail;
			p = end;
		}
	}
	free(tasks);
	if (have_children_file)
		return 0;
	/* No CONFIG_PROC_CHILDREN: scan every process's parent. */
	if (hw_proc_list(&all, &na, e) < 0)
		return -1;
	for (size_t i = 0; i < na; i++) {
		struct hw_proc_stat st;

		if (hw_proc_stat(all[i], &st, NULL) == 0 && st.ppid == pid &&
		    push_pid(out, n, &cap, all[i], e) < 0) {
			free(all);
			free(*out);
			*out = NULL;
			return -1;
		}
	}
	free(all);
	return 0;
fail:
	free(tasks);
	free(*out);
	*out = NULL;
	return -1;
}

void hw_proc_explain_eperm(pid_t pid, char *buf, size_t size)
{
	struct hw_proc_status st;
	char scope[16] = "";
	size_t n;

	n = (size_t)snprintf(buf, size, "permission denied: need root or CAP_SYS_PTRACE");
	if (slurp("/proc/sys/kernel/yama/ptrace_scope", scope, sizeof scope) > 0) {
		int v = atoi(scope);

		if (v >= 1 && n < size)
			n += (size_t)snprintf(buf + n, size - n,
					      " (kernel.yama.ptrace_scope=%d%s)", v,
					      v == 1 ? ": only descendants without CAP_SYS_PTRACE" :
					      v == 2 ? ": only with CAP_SYS_PTRACE" :
					      ": ptrace disabled");
	}
	if (hw_proc_status(pid, &st, NULL) == 0 && n < size) {
		if (st.tracer_pid)
			n += (size_t)snprintf(buf + n, size - n, "; already traced by pid %d",
					      (int)st.tracer_pid);
		else if (st.uid != getuid() && n < size)
			n += (size_t)snprintf(buf + n, size - n, " (it runs as uid %u, we as %u)",
					      (unsigned)st.uid, (unsigned)getuid());
	}
}
