/* hw_objdump.c - test-only: every GC object of a process with its
 * referents and sizes, as heapwatch's object model reads them.
 *
 * Usage: hw-objdump [--labels] [--layout-source SRC] PID
 * Stops the target (ptrace, nothing written), walks every GC list
 * through a live snap, and for each object prints one JSON line:
 *   {"a": addr, "t": type name, "st": "exact"|"partial"|"opaque",
 *    "s": sys.getsizeof, "x": 1 if approximate, "v": values bytes,
 *    "d": owned __dict__ (0 if none), "r": [[to, synthetic, label?], ...]}
 * after a first line {"python": ..., "how": ..., "layout": ...}.  The
 * target is resumed before anything is printed.  Built by `make check`
 * as build/tests/hw-objdump for tests/integration/test_objects.py; not
 * installed. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "heapwatch/census.h"
#include "heapwatch/freeze.h"
#include "heapwatch/gcwalk.h"
#include "heapwatch/mem.h"
#include "heapwatch/objects.h"
#include "heapwatch/snap.h"
#include "heapwatch/target.h"
#include "heapwatch/typename.h"

struct dump {
	struct hw_objects *o;
	struct hw_snap *s;
	const struct hw_layout *l;
	FILE *out;
	int labels;
	uint64_t objects;
};

struct refs {
	struct dump *d;
	int first;
};

static int on_edge(void *arg, const struct hw_edge *ed, struct hw_err *e)
{
	struct refs *r = arg;
	char label[512];

	fprintf(r->d->out, "%s[%llu,%d", r->first ? "" : ",",
		(unsigned long long)ed->to_addr, ed->synthetic);
	if (r->d->labels) {
		struct hw_err le;

		if (hw_edge_label(r->d->o, r->d->s, ed, label, sizeof label, &le) < 0 &&
		    le.code == HW_EMISS) {
			hw_err_copy(e, &le);
			return -1;
		}
		fputs(",\"", r->d->out);
		for (const char *p = label; *p; p++) {
			if (*p == '"' || *p == '\\')
				fputc('\\', r->d->out);
			if ((unsigned char)*p < 0x20)
				fprintf(r->d->out, "\\u%04x", (unsigned char)*p);
			else
				fputc(*p, r->d->out);
		}
		fputc('"', r->d->out);
	}
	fputc(']', r->d->out);
	r->first = 0;
	return 0;
}

static int visit(void *arg, uint64_t obj, uint64_t type, unsigned list,
		 struct hw_err *e)
{
	struct dump *d = arg;
	char name[HW_TYPENAME_MAX];
	enum hw_refs_status st;
	uint64_t size, values, dict;
	int approx;
	struct refs r = { d, 1 };
	static const char *const sts[] = { "exact", "partial", "opaque" };

	(void)list;
	if (hw_type_name(d->s, &d->l->off, type, name, sizeof name, e) < 0 ||
	    hw_obj_size(d->o, d->s, obj, type, &size, &approx, e) < 0 ||
	    hw_obj_values_size(d->o, d->s, obj, type, &values, e) < 0 ||
	    hw_obj_owned_dict(d->o, d->s, obj, type, &dict, e) < 0)
		return -1;
	fprintf(d->out, "{\"a\":%llu,\"t\":\"%s\",\"s\":%llu,\"x\":%d,\"v\":%llu,\"d\":%llu,\"r\":[",
		(unsigned long long)obj, name, (unsigned long long)size, approx,
		(unsigned long long)values, (unsigned long long)dict);
	if (hw_obj_referents(d->o, d->s, obj, type, on_edge, &r, &st, e) < 0)
		return -1;
	fprintf(d->out, "],\"st\":\"%s\"}\n", sts[st]);
	d->objects++;
	return 0;
}

int main(int argc, char **argv)
{
	struct hw_target t;
	struct hw_layout l;
	struct hw_err e;
	struct hw_mem *m = NULL;
	struct hw_snap *s = NULL;
	struct hw_freeze f;
	struct hw_walk_opts wo;
	struct hw_walk_stats ws;
	struct hw_typecount tc;
	struct hw_gcroots roots;
	struct dump d;
	enum hw_layout_source src = HW_SRC_NONE;
	char *buf = NULL;
	size_t len = 0;
	sigset_t old;
	int labels = 0, rc = 1, i;
	pid_t pid = 0;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--labels") == 0)
			labels = 1;
		else if (strcmp(argv[i], "--layout-source") == 0 && i + 1 < argc)
			hw_layout_source_parse(argv[++i], &src);
		else
			pid = (pid_t)atoi(argv[i]);
	}
	if (pid <= 0) {
		fprintf(stderr, "usage: hw-objdump [--labels] [--layout-source SRC] PID\n");
		return 2;
	}
	hw_typecount_init(&tc);
	if (hw_target_open(&t, pid, &e) < 0 || !(m = hw_mem_open_pid(pid, -1, &e)) ||
	    hw_layout_resolve(&t, m, src, &l, &e) < 0 || !(s = hw_snap_new(m, 0, &e)))
		goto out;
	hw_snap_reset(s, 1);
	memset(&d, 0, sizeof d);
	d.s = s;
	d.l = &l;
	d.labels = labels;
	d.out = open_memstream(&buf, &len);
	if (!d.out)
		goto out;
	roots.runtime_addr = t.runtime_addr;
	roots.gen0_ptr_addr = t.gen0_ptr_addr;
	hw_freeze_init(&f);
	hw_freeze_block_signals(&old);
	if (hw_freeze_begin(&f, pid, &e) < 0) {
		hw_freeze_restore_signals(&old);
		goto out;
	}
	d.o = hw_objects_new(&t, &l, s, &e);
	if (d.o) {
		memset(&wo, 0, sizeof wo);
		wo.visit = visit;
		wo.visit_arg = &d;
		rc = hw_gc_walk(s, &l.off, &roots, &wo, &tc, &ws, &e) < 0 ? 1 : 0;
	}
	hw_freeze_end(&f, NULL);
	hw_freeze_restore_signals(&old);
	hw_freeze_fini(&f);
	fclose(d.out);
	if (!d.o)
		goto out;
	if (rc == 0) {
		printf("{\"python\":\"%s\",\"how\":\"%s\",\"layout\":\"%s\",\"objects\":%llu}\n",
		       t.version, hw_objects_how(d.o), hw_layout_source_name(l.source),
		       (unsigned long long)d.objects);
		fwrite(buf, 1, len, stdout);
	}
	hw_objects_free(d.o);
out:
	if (rc) {
		char b[HW_ERR_MSG_MAX + 64];

		fprintf(stderr, "hw-objdump: %s\n", hw_err_str(&e, b, sizeof b));
	}
	free(buf);
	hw_typecount_fini(&tc);
	hw_snap_free(s);
	hw_mem_free(m);
	return rc;
}
