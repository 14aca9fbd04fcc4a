/* resolve.c - daemon targets to processes; see include/heapwatch/resolve.h. */
#include "heapwatch/resolve.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "heapwatch/proc.h"

#define CMDLINE_MAX 4096

int hw_selector_init(struct hw_selector *s, pid_t pid, const char *pidfile,
		     const char *match, int children, struct hw_err *e)
{
	int given = (pid > 0) + (pidfile != NULL) + (match != NULL);

	memset(s, 0, sizeof *s);
	if (given != 1)
		return hw_err_set(e, HW_ECONFIG, 0,
				  "a target needs exactly one of pid, pidfile, match");
	s->pid = pid > 0 ? pid : 0;
	s->children = children;
	if (pidfile && !(s->pidfile = strdup(pidfile)))
		return hw_err_set(e, HW_ENOMEM, ENOMEM, "copying a pidfile path");
	if (match) {
		int rc = regcomp(&s->match, match, REG_EXTENDED | REG_NOSUB);

		if (rc != 0) {
			char msg[256];

			regerror(rc, &s->match, msg, sizeof msg);
			free(s->pidfile);
			s->pidfile = NULL;
			return hw_err_set(e, HW_ECONFIG, 0,
					  "bad regular expression '%s': %s", match, msg);
		}
		s->has_match = 1;
	}
	return 0;
}

void hw_selector_fini(struct hw_selector *s)
{
	if (!s)
		return;
	free(s->pidfile);
	if (s->has_match)
		regfree(&s->match);
	memset(s, 0, sizeof *s);
}

static int read_pidfile(const char *path, pid_t *pid, struct hw_err *e)
{
	char buf[64];
	FILE *f = fopen(path, "re");
	size_t n;
	long v;
	char *end;

	if (!f)
		return hw_err_set(e, errno == ENOENT ? HW_ENOPROC : HW_EIO, errno,
				  "pidfile %s", path);
	n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	errno = 0;
	v = strtol(buf, &end, 10);
	if (errno || end == buf || v <= 0 || v > 4194304 ||
	    (*end && *end != '\n' && *end != ' ' && *end != '\t'))
		return hw_err_set(e, HW_EIO, 0, "pidfile %s holds no pid", path);
	*pid = (pid_t)v;
	return 0;
}

struct idvec {
	struct hw_pid_id *v;
	size_t n, cap;
};

static int push(struct idvec *iv, pid_t pid, struct hw_err *e)
{
	struct hw_proc_stat st;

	if (pid == getpid())
		return 0;
	if (hw_proc_stat(pid, &st, NULL) < 0 || st.state == 'Z' || st.state == 'X')
		return 0; /* gone meanwhile, or a zombie: nothing to sample */
	for (size_t i = 0; i < iv->n; i++)
		if (iv->v[i].pid == pid)
			return 0;
	if (iv->n == iv->cap) {
		size_t nc = iv->cap ? iv->cap * 2 : 16;
		struct hw_pid_id *nv = realloc(iv->v, nc * sizeof *nv);

		if (!nv)
			return hw_err_set(e, HW_ENOMEM, ENOMEM, "growing a pid list");
		iv->v = nv;
		iv->cap = nc;
	}
	iv->v[iv->n++] = (struct hw_pid_id){ pid, st.starttime };
	return 0;
}

static int cmp_id(const void *a, const void *b)
{
	const struct hw_pid_id *x = a, *y = b;

	return (x->pid > y->pid) - (x->pid < y->pid);
}

/* The selected processes themselves, before `children` is applied. */
static int roots(const struct hw_selector *s, struct idvec *iv,
		 struct hw_err *e)
{
	pid_t pid = 0;

	if (s->pid || s->pidfile) {
		if (s->pid)
			pid = s->pid;
		else if (read_pidfile(s->pidfile, &pid, e) < 0)
			return -1;
		struct hw_proc_stat st;

		if (hw_proc_stat(pid, &st, NULL) < 0) {
			if (s->pidfile)
				return hw_err_set(e, HW_ENOPROC, 0,
						  "pid %d (from %s): no such process",
						  (int)pid, s->pidfile);
			return hw_err_set(e, HW_ENOPROC, 0, "pid %d: no such process",
					  (int)pid);
		}
		return push(iv, pid, e);
	}
	pid_t *all = NULL;
	size_t n = 0;
	char cmd[CMDLINE_MAX];

	if (hw_proc_list(&all, &n, e) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (hw_proc_cmdline(all[i], cmd, sizeof cmd, NULL) <= 0)
			continue; /* kernel threads have none; gone ones fail */
		if (regexec(&s->match, cmd, 0, NULL, 0) == 0 && push(iv, all[i], e) < 0) {
			free(all);
			return -1;
		}
	}
	free(all);
	return 0;
}

int hw_selector_resolve(const struct hw_selector *s, struct hw_pid_id **out,
			size_t *n, struct hw_err *e)
{
	struct idvec r = { 0 }, c = { 0 };

	*out = NULL;
	*n = 0;
	if (roots(s, &r, e) < 0)
		goto fail;
	if (s->children) {
		for (size_t i = 0; i < r.n; i++) {
			pid_t *kids = NULL;
			size_t nk = 0;

			if (hw_proc_children(r.v[i].pid, &kids, &nk, NULL) < 0)
				continue;
			for (size_t k = 0; k < nk; k++)
				if (push(&c, kids[k], e) < 0) {
					free(kids);
					goto fail;
				}
			free(kids);
		}
		free(r.v);
		r = c;
		c = (struct idvec){ 0 };
	}
	qsort(r.v, r.n, sizeof *r.v, cmp_id);
	*out = r.v;
	*n = r.n;
	return 0;
fail:
	free(r.v);
	free(c.v);
	return -1;
}
