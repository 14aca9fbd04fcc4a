/* check_layout.c - choosing and confirming a layout.
 *
 *  - the built-in tables held against DWARF truth: every row compared,
 *    field by field, with the DWARF of each build present on this machine
 *    that the row claims (pyenv builds, Debian 12's python3.11 and
 *    python3.11d, Debian sid's python3.13+ in the test chroot); rows with
 *    no build present are counted and named, not passed;
 *  - lookup by version and patch level (3.13.0 against 3.13.18, 3.14.0-4
 *    against 3.14.5+);
 *  - the run-time confirmation on synthetic 3.15 heaps with
 *    _Py_DebugOffsets: a right layout is confirmed from every source, one
 *    wrong by 4 bytes (the lists) or 8 (ht_name) is refused naming both
 *    values, _Py_DebugOffsets finds lists the table has wrong, a version
 *    newer than every table is walked only when its checks hold;
 *  - the signature scan finding one address on 3.13.18, 3.14.5+ and 3.15
 *    shapes;
 *  - free-threaded and unknown builds refused. */
#include <check.h>

#include "runner.h"
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "heapwatch/layout.h"
#include "heapwatch/mem.h"
#include "heapwatch/target.h"
#include "synth.h"

/* ------------------------------------------------------------------ */
/* the tables against DWARF */

struct build {
	char label[64];
	char file[4096];       /* the object with the interpreter's DWARF */
	char debug_dir[4096];  /* "" or a chroot's /usr/lib/debug */
	uint32_t hex;
	int debug;
};

static uint32_t hex_of(const char *ver)
{
	unsigned a, b, c;

	if (sscanf(ver, "%u.%u.%u", &a, &b, &c) != 3)
		return 0;
	return (a << 24) | (b << 16) | (c << 8) | 0xf0;
}

static int host_hexversion(const char *exe, uint32_t *hex)
{
	char cmd[512], line[64];
	FILE *p;
	unsigned long v = 0;

	if (access(exe, X_OK) != 0)
		return -1;
	snprintf(cmd, sizeof cmd, "%s -c 'import sys; print(sys.hexversion)' 2>/dev/null", exe);
	if (!(p = popen(cmd, "r")))
		return -1;
	if (fgets(line, sizeof line, p))
		v = strtoul(line, NULL, 10);
	pclose(p);
	*hex = (uint32_t)v;
	return v ? 0 : -1;
}

/* Every build on this machine whose DWARF can be read. */
static size_t find_builds(struct build *b, size_t max)
{
	size_t n = 0;
	glob_t g;
	char pat[4200], *home = getenv("HOME");
	const char *cache = getenv("HW_TEST_CACHE");

	snprintf(pat, sizeof pat, "%s/.pyenv/versions/*", home ? home : "/root");
	if (glob(pat, 0, NULL, &g) == 0) {
		for (size_t i = 0; i < g.gl_pathc && n < max; i++) {
			const char *ver = strrchr(g.gl_pathv[i], '/') + 1;
			glob_t lg;

			snprintf(pat, sizeof pat, "%s/lib/libpython*.so.1.0", g.gl_pathv[i]);
			if (!hex_of(ver) || glob(pat, 0, NULL, &lg) != 0)
				continue;
			snprintf(b[n].label, sizeof b[n].label, "pyenv %s", ver);
			snprintf(b[n].file, sizeof b[n].file, "%s", lg.gl_pathv[0]);
			b[n].debug_dir[0] = '\0';
			b[n].hex = hex_of(ver);
			b[n].debug = 0;
			n++;
			globfree(&lg);
		}
		globfree(&g);
	}
	for (int d = 0; d < 2 && n < max; d++) {
		const char *exe = d ? "/usr/bin/python3.11d" : "/usr/bin/python3.11";

		if (host_hexversion(exe, &b[n].hex) < 0)
			continue;
		snprintf(b[n].label, sizeof b[n].label, "debian %s", exe);
		snprintf(b[n].file, sizeof b[n].file, "%s", exe);
		b[n].debug_dir[0] = '\0';
		b[n].debug = d;
		n++;
	}
	/* the sid chroot: "pythons=" and "versions=" lines of its info */
	char info[1024], line[1024], pythons[1024] = "", versions[1024] = "";
	FILE *f;

	snprintf(info, sizeof info, "%s/sid-current/info",
		 cache ? cache : "/var/cache/heapwatch-test");
	if ((f = fopen(info, "r"))) {
		while (fgets(line, sizeof line, f)) {
			line[strcspn(line, "\n")] = '\0';
			if (!strncmp(line, "pythons=", 8))
				snprintf(pythons, sizeof pythons, "%s", line + 8);
			if (!strncmp(line, "versions=", 9))
				snprintf(versions, sizeof versions, "%s", line + 9);
		}
		fclose(f);
		char *sp1, *sp2, *exe = strtok_r(pythons, " ", &sp1);
		char *ver = strtok_r(versions, " ", &sp2);
		char root[2048];

		snprintf(root, sizeof root, "%.*s/dbg", (int)(strlen(info) - 5), info);
		for (; exe && ver && n < max; exe = strtok_r(NULL, " ", &sp1),
		     ver = strtok_r(NULL, " ", &sp2)) {
			snprintf(b[n].label, sizeof b[n].label, "debian-sid %s", ver);
			snprintf(b[n].file, sizeof b[n].file, "%s%s", root, exe);
			snprintf(b[n].debug_dir, sizeof b[n].debug_dir, "%s/usr/lib/debug", root);
			b[n].hex = hex_of(ver);
			b[n].debug = 0;
			if (access(b[n].file, R_OK) == 0)
				n++;
		}
	}
	return n;
}

START_TEST(test_tables_against_dwarf)
{
	static struct build b[64];
	size_t nb = find_builds(b, 64), nrows = hw_layout_table_count();
	int *compared = calloc(nrows, sizeof *compared), bad = 0;
	struct hw_layout_table_info r;

	for (size_t i = 0; i < nb; i++) {
		struct hw_offsets truth, row;
		struct hw_err e;
		char key[256], where[4096];
		size_t k;

		if (hw_layout_table(b[i].hex, b[i].debug, &row, key, sizeof key, &e) < 0) {
			printf("NOTE check_layout: %s: no row claims it (%s)\n", b[i].label, e.msg);
			continue;
		}
		for (k = 0; k < nrows; k++)
			if (hw_layout_table_row(k, &r) == 0 && strcmp(r.origin, key) == 0)
				break;
		if (hw_dwarf_offsets_file_in(b[i].file, b[i].debug_dir[0] ? b[i].debug_dir : NULL,
					     &truth, where, sizeof where, &e) < 0) {
			printf("FAIL %s: %s\n", b[i].label, e.msg);
			bad++;
			continue;
		}
		for (size_t f = 0; f < hw_offset_nfields; f++) {
			int64_t want = hw_offsets_get(&truth, f), got = hw_offsets_get(&row, f);

			if (want != got) {
				printf("FAIL row \"%s\" claims %s: %s = %lld, its DWARF %lld\n",
				       key, b[i].label, hw_offset_fields[f].name,
				       (long long)got, (long long)want);
				bad++;
			}
		}
		if (k < nrows)
			compared[k]++;
		printf("NOTE check_layout: row \"%s\" = DWARF of %s\n", key, b[i].label);
	}
	int ncomp = 0;
	char missing[2048] = "";

	for (size_t k = 0; k < nrows; k++) {
		if (compared[k]) {
			ncomp++;
		} else if (hw_layout_table_row(k, &r) == 0) {
			size_t len = strlen(missing);

			snprintf(missing + len, sizeof missing - len, "%s\"%s\"",
				 len ? ", " : "", r.origin);
		}
	}
	printf("NOTE check_layout: %d of %zu rows held against the DWARF of %zu builds; "
	       "%zu skipped (no build they claim is present): %s\n",
	       ncomp, nrows, nb, nrows - (size_t)ncomp, missing[0] ? missing : "none");
	if ((size_t)ncomp < nrows)
		hw_skip_part("layout: %zu table rows not held against DWARF (no build they "
			     "claim is present)", nrows - (size_t)ncomp);
	free(compared);
	ck_assert_msg(bad == 0, "%d fields differ from DWARF", bad);
}
END_TEST

START_TEST(test_tables_by_version)
{
	struct hw_offsets o;
	struct hw_err e;
	char key[256];

	/* a minor split where a patch release moved the lists */
	ck_assert_int_eq(hw_layout_table(0x030d00f0, 0, &o, key, sizeof key, &e), 0);
	ck_assert_int_eq(o.gc_gens, 24);
	ck_assert_int_eq(hw_layout_table(0x030d12f0, 0, &o, key, sizeof key, &e), 0);
	ck_assert_int_eq(o.gc_gens, 20);
	ck_assert_msg(strstr(key, "3.13.18"), "%s", key);
	ck_assert_int_eq(hw_layout_table(0x030d1af0, 0, &o, key, sizeof key, &e), 0);
	ck_assert_int_eq(o.gc_gens, 20);             /* later patches: the newest row */
	/* 3.14.0-3.14.4: the 3.14.5+ row with the incremental collector's state */
	ck_assert_int_eq(hw_layout_table(0x030e02f0, 0, &o, key, sizeof key, &e), 0);
	ck_assert_int_eq(o.gc_generation0, -1);
	ck_assert_int_eq(o.gc_size, 240);
	ck_assert_int_eq(o.ht_name, 856);
	ck_assert_msg(strstr(key, "not verified"), "%s", key);
	ck_assert_int_eq(hw_layout_table(0x030e0af0, 0, &o, key, sizeof key, &e), 0);
	ck_assert_int_eq(o.gc_generation0, 256);
	ck_assert_int_eq(o.gc_size, 264);
	ck_assert_msg(strstr(key, "DWARF"), "%s", key);
	/* 3.15: PyTypeObject grew by 8 */
	ck_assert_int_eq(hw_layout_table(0x030f02f0, 0, &o, key, sizeof key, &e), 0);
	ck_assert_int_eq(o.gc_gens, 8);
	ck_assert_int_eq(o.ht_name, 864);
	ck_assert_int_eq(hw_layout_table(0x030b02f0, 1, &o, key, sizeof key, &e), 0);
	ck_assert_msg(strstr(key, "3.11.2"), "%s", key); /* the debug build's own row */
	ck_assert_int_eq(hw_layout_table(0x031000a1, 0, &o, key, sizeof key, &e), -1);
	ck_assert_int_eq(e.code, HW_EVERSION);
	ck_assert_msg(strstr(e.msg, "3.16.0"), "%s", e.msg);
	/* 3.7.0-3.7.3 had another PyGC_Head: no row pretends to know it */
	ck_assert_int_eq(hw_layout_table(0x030702f0, 0, &o, key, sizeof key, &e), -1);
	ck_assert(hw_layout_table_minor_known(0x030f0000));
	ck_assert(!hw_layout_table_minor_known(0x031000f0));
}
END_TEST

/* ------------------------------------------------------------------ */
/* synthetic 3.15 targets */

#define RT_SIZE 1000
#define FIELD_INDEX_T(name) (offsetof(struct hw_offsets, name) / sizeof(int64_t))

/* The 3.15 row (generated from 3.15.2's DWARF), moved where a test wants. */
static void layout_315(struct hw_offsets *o)
{
	char key[256];
	struct hw_err e;

	ck_assert_int_eq(hw_layout_table(0x030f02f0, 0, o, key, sizeof key, &e), 0);
}

/* Where a _Py_DebugOffsets format keeps the fields heapwatch reads (from
 * the DWARF of 3.14.10 and 3.15.2). */
struct fmt {
	uint32_t obj_size, ob_type, type_size, tp_name, tp_flags, gc_size, gc_coll;
	uint64_t type_sizeof;
};
static const struct fmt fmt_314 = { 400, 408, 416, 424, 440, 648, 656, 416 };
static const struct fmt fmt_315 = { 464, 472, 480, 488, 504, 752, 760, 424 };

static void write_debug_offsets_fmt(struct synth *h, const struct fmt *f, uint32_t version,
				    uint64_t interp_size)
{
	const struct hw_offsets *o = &h->o;
	uint64_t rt = h->runtime;

	synth_w64(h, rt, 0x7970677562656478ull); /* "xdebugpy" */
	synth_w64(h, rt + 8, version);
	synth_w64(h, rt + 16, 0);                  /* free_threaded */
	synth_w64(h, rt + 24, RT_SIZE);
	synth_w64(h, rt + 40, (uint64_t)o->rt_interp_head);
	synth_w64(h, rt + 48, interp_size);
	synth_w64(h, rt + 64, (uint64_t)o->interp_next);
	synth_w64(h, rt + 88, (uint64_t)o->interp_gc);
	synth_w64(h, rt + f->obj_size, 16);
	synth_w64(h, rt + f->ob_type, (uint64_t)o->ob_type);
	synth_w64(h, rt + f->type_size, f->type_sizeof);
	synth_w64(h, rt + f->tp_name, (uint64_t)o->tp_name);
	synth_w64(h, rt + f->tp_flags, (uint64_t)o->tp_flags);
	synth_w64(h, rt + f->gc_size, (uint64_t)o->gc_size);
	synth_w64(h, rt + f->gc_coll, (uint64_t)o->gc_collecting);
}

static void write_debug_offsets(struct synth *h, uint32_t version, uint64_t interp_size)
{
	write_debug_offsets_fmt(h, &fmt_315, version, interp_size);
}

/* A 3.15-shaped heap laid out by o (which a test may get wrong on
 * purpose), some classes and instances on every list. */
static void heap_315(struct synth *h, const struct hw_offsets *o, uint32_t version)
{
	uint64_t interp_size = (uint64_t)(o->interp_gc + o->gc_size + 64);

	synth_init(h, o, 1 << 20);
	ck_assert_uint_ge(h->interp - h->runtime, 888); /* sizeof 3.15 _Py_DebugOffsets */
	write_debug_offsets(h, version, interp_size);
	uint64_t marker = synth_type(h, "Marker", 1, "Marker", "__main__");
	uint64_t inner = synth_type(h, "Inner", 1, "Outer.Inner", "__main__");
	uint64_t spec = synth_type(h, "_io.Spec", 1, "Spec", "_io");

	for (int l = 0; l < 4; l++) {
		synth_obj(h, marker, l);
		synth_obj(h, inner, l);
		synth_obj(h, spec, l);
	}
}

static void target_for(struct hw_target *t, struct synth *h, uint32_t version)
{
	memset(t, 0, sizeof *t);
	t->pid = 1;
	t->runtime_addr = h->runtime;
	t->runtime_size = RT_SIZE;
	t->version_hex = version;
	snprintf(t->version, sizeof t->version, "%u.%u.%u", version >> 24,
		 (version >> 16) & 0xff, (version >> 8) & 0xff);
	snprintf(t->open_path, sizeof t->open_path, "/nonexistent/python");
}

START_TEST(test_confirmed_from_every_source)
{
	static const enum hw_layout_source srcs[] = {
		HW_SRC_DEBUG_OFFSETS, HW_SRC_TABLE, HW_SRC_SCAN, HW_SRC_NONE,
	};
	struct hw_offsets o;
	struct synth h;
	struct hw_target t;
	struct hw_layout l;
	struct hw_err e;
	struct hw_mem *m;

	layout_315(&o);
	heap_315(&h, &o, 0x030f02f0);
	m = synth_mem(&h);
	target_for(&t, &h, 0x030f02f0);
	for (size_t i = 0; i < sizeof srcs / sizeof srcs[0]; i++) {
		int rc = hw_layout_resolve(&t, m, srcs[i], &l, &e);

		ck_assert_msg(rc == 0, "%s: %s", hw_layout_source_name(srcs[i]), e.msg);
		ck_assert_int_eq(l.confirmed, 1);
		ck_assert_int_eq(l.names_confirmed, 3);
		ck_assert_int_eq(l.untested, 0);
		ck_assert_int_eq(l.off.gc_gens, 8);
		ck_assert_int_eq(l.off.gc_permanent, 80);
		ck_assert_msg(strstr(l.detail, "confirmed"), "%s", l.detail);
	}
	ck_assert_int_eq(l.source, HW_SRC_DEBUG_OFFSETS); /* auto: no DWARF here */
	ck_assert_msg(l.notes[0] == '\0', "%s", l.notes);
	hw_mem_free(m);
	synth_fini(&h);
}
END_TEST

/* The process has its lists 4 bytes earlier than the table says (what
 * Debian's 3.13.18 did to a 3.13.0 table). */
START_TEST(test_lists_off_by_4)
{
	struct hw_offsets o;
	struct synth h;
	struct hw_target t;
	struct hw_layout l;
	struct hw_err e;
	struct hw_mem *m;

	layout_315(&o);
	o.gc_gens = 4;
	heap_315(&h, &o, 0x030f02f0);
	m = synth_mem(&h);
	target_for(&t, &h, 0x030f02f0);
	ck_assert_int_eq(hw_layout_resolve(&t, m, HW_SRC_TABLE, &l, &e), -1);
	ck_assert_int_eq(e.code, HW_ELAYOUT);
	ck_assert_msg(strstr(e.msg, "table puts the generation lists at gc+8, but this "
			     "process has them at gc+4"), "%s", e.msg);
	/* _Py_DebugOffsets does not say where the lists are: found, and said */
	ck_assert_int_eq(hw_layout_resolve(&t, m, HW_SRC_DEBUG_OFFSETS, &l, &e), 0);
	ck_assert_int_eq(l.off.gc_gens, 4);
	ck_assert_msg(strstr(l.detail, "found at run time at gc+4"), "%s", l.detail);
	ck_assert_msg(strstr(l.notes, "gc_gens: table 8, found at run time 4"), "%s", l.notes);
	/* auto: debug_offsets, and the table's difference in the notes */
	ck_assert_int_eq(hw_layout_resolve(&t, m, HW_SRC_NONE, &l, &e), 0);
	ck_assert_int_eq(l.source, HW_SRC_DEBUG_OFFSETS);
	ck_assert_msg(strstr(l.notes, "disagrees with debug_offsets on 1 field: gc_gens 8, "
			      "debug_offsets 4"), "%s", l.notes);
	hw_mem_free(m);
	synth_fini(&h);
}
END_TEST

/* _Py_DebugOffsets puts the GC state 8 bytes off. */
START_TEST(test_debug_offsets_off_by_8)
{
	struct hw_offsets o;
	struct synth h;
	struct hw_target t;
	struct hw_layout l;
	struct hw_err e;
	struct hw_mem *m;

	layout_315(&o);
	heap_315(&h, &o, 0x030f02f0);
	synth_w64(&h, h.runtime + 88, (uint64_t)o.interp_gc + 8);
	m = synth_mem(&h);
	target_for(&t, &h, 0x030f02f0);
	ck_assert_int_eq(hw_layout_resolve(&t, m, HW_SRC_DEBUG_OFFSETS, &l, &e), -1);
	ck_assert_msg(strstr(e.msg, "generation0 at gc+168, but in this process the word "
			     "that points into the GC state is at gc+160"), "%s", e.msg);
	ck_assert_int_eq(hw_layout_resolve(&t, m, HW_SRC_NONE, &l, &e), 0);
	ck_assert_int_eq(l.source, HW_SRC_TABLE);
	ck_assert_msg(strstr(l.notes, "debug_offsets refused"), "%s", l.notes);
	ck_assert_msg(strstr(l.notes, "interp_gc 7408, table 7400"), "%s", l.notes);
	hw_mem_free(m);
	synth_fini(&h);
}
END_TEST

/* The heap's classes keep their names 8 bytes earlier than the layout
 * says (a 3.14 table on 3.15 would). */
START_TEST(test_names_off_by_8)
{
	struct hw_offsets o;
	struct synth h;
	struct hw_target t;
	struct hw_layout l;
	struct hw_err e;
	struct hw_mem *m;

	layout_315(&o);
	o.ht_name -= 8;
	o.ht_qualname -= 8;
	heap_315(&h, &o, 0x030f02f0);
	m = synth_mem(&h);
	target_for(&t, &h, 0x030f02f0);
	ck_assert_int_eq(hw_layout_resolve(&t, m, HW_SRC_TABLE, &l, &e), -1);
	ck_assert_int_eq(e.code, HW_ELAYOUT);
	ck_assert_msg(strstr(e.msg, "ht_name (+864)"), "%s", e.msg);
	ck_assert_int_eq(hw_layout_resolve(&t, m, HW_SRC_NONE, &l, &e), -1);
	hw_mem_free(m);
	synth_fini(&h);
}
END_TEST

/* A version no table knows: walked when its checks hold, with the GC
 * state found in the target; refused, naming it, when they do not. */
START_TEST(test_untested_version)
{
	struct hw_offsets o;
	struct synth h;
	struct hw_target t;
	struct hw_layout l;
	struct hw_err e;
	struct hw_mem *m;

	layout_315(&o);
	/* 3.16 might move the lists and the permanent generation */
	o.gc_gens = 16;
	o.gc_generation0 = 176;
	o.gc_permanent = 88;
	o.gc_size = 192;
	heap_315(&h, &o, 0x031000f0);
	m = synth_mem(&h);
	target_for(&t, &h, 0x031000f0);
	ck_assert_int_eq(hw_layout_resolve(&t, m, HW_SRC_NONE, &l, &e), 0);
	ck_assert_int_eq(l.source, HW_SRC_DEBUG_OFFSETS);
	ck_assert_int_eq(l.untested, 1);
	ck_assert_int_eq(l.off.gc_gens, 16);
	ck_assert_int_eq(l.off.gc_permanent, 88);
	ck_assert_int_eq(l.names_confirmed, 3);
	ck_assert_msg(strstr(l.detail, "the newest known"), "%s", l.detail);
	ck_assert_msg(strstr(l.detail, "permanent generation found at run time"), "%s", l.detail);
	/* its _Py_DebugOffsets grew: the 3.15 format reads nonsense */
	synth_w64(&h, h.runtime + 464, 424);
	ck_assert_int_eq(hw_layout_resolve(&t, m, HW_SRC_NONE, &l, &e), -1);
	ck_assert_int_eq(e.code, HW_EVERSION);
	ck_assert_msg(strstr(e.msg, "CPython 3.16.0, a version newer than any heapwatch was "
			     "tested on"), "%s", e.msg);
	ck_assert_msg(strstr(e.msg, "pyobject.size = 424"), "%s", e.msg);
	hw_mem_free(m);
	synth_fini(&h);
}
END_TEST

/* The scan finds one address for each shape, at 4-byte steps (3.13.18's
 * heads are 4 mod 8), and the 3.14.0-3.14.4 signature only where there is
 * no generation0. */
START_TEST(test_scan_one_answer)
{
	static const struct { uint32_t version; int64_t gens, gen0, perm, coll, size; } shapes[] = {
		{ 0x030d12f0, 20, 96, 104, 200, 240 },    /* 3.13.18 */
		{ 0x030e0af0, 24, 256, 96, 192, 264 },    /* 3.14.5+ */
		{ 0x030f02f0, 8, 168, 80, 112, 176 },     /* 3.15 */
		{ 0x030e02f0, 24, -1, 96, 192, 240 },     /* 3.14.0-3.14.4 young/old */
	};
	for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
		struct hw_offsets o;
		struct synth h;
		struct hw_target t;
		struct hw_layout l;
		struct hw_err e;
		struct hw_mem *m;
		char key[256];

		ck_assert_int_eq(hw_layout_table(shapes[i].version, 0, &o, key, sizeof key, &e), 0);
		o.gc_gens = shapes[i].gens;
		o.gc_generation0 = shapes[i].gen0;
		o.gc_permanent = shapes[i].perm;
		o.gc_collecting = shapes[i].coll;
		o.gc_size = shapes[i].size;
		synth_init(&h, &o, 1 << 20);
		synth_obj(&h, synth_type(&h, "Marker", 1, "Marker", "__main__"), 2);
		m = synth_mem(&h);
		target_for(&t, &h, shapes[i].version);
		t.runtime_size = 0;
		ck_assert_msg(hw_layout_resolve(&t, m, HW_SRC_SCAN, &l, &e) == 0, "%s: %s",
			      t.version, e.msg);
		ck_assert_int_eq(l.off.gc_gens, shapes[i].gens);
		ck_assert_int_eq(l.off.gc_permanent, shapes[i].perm);
		ck_assert_int_eq(l.off.interp_gc, o.interp_gc);
		ck_assert_msg(!strstr(l.detail, "young/old") == (shapes[i].gen0 >= 0), "%s",
			      l.detail);
		hw_mem_free(m);
		synth_fini(&h);
	}
}
END_TEST

/* A collection that does not end: no layout is confirmed from a heap
 * whose links it is rewriting, and the error says why. */
START_TEST(test_collection_running)
{
	struct hw_offsets o;
	struct synth h;
	struct hw_target t;
	struct hw_layout l;
	struct hw_err e;
	struct hw_mem *m;

	layout_315(&o);
	heap_315(&h, &o, 0x030f02f0);
	synth_w32(&h, h.gc + (uint64_t)o.gc_collecting, 1);
	m = synth_mem(&h);
	target_for(&t, &h, 0x030f02f0);
	ck_assert_int_eq(hw_layout_resolve(&t, m, HW_SRC_NONE, &l, &e), -1);
	ck_assert_int_eq(e.code, HW_EBUSY);
	ck_assert_msg(strstr(e.msg, "garbage collection"), "%s", e.msg);
	hw_mem_free(m);
	synth_fini(&h);
}
END_TEST

/* 3.14.0-3.14.4 keep no generation0: _Py_DebugOffsets and the table of
 * that version still give a layout, its heads checked where the table
 * says. */
START_TEST(test_no_generation0)
{
	struct hw_offsets o;
	struct synth h;
	struct hw_target t;
	struct hw_layout l;
	struct hw_err e;
	struct hw_mem *m;
	char key[256];

	ck_assert_int_eq(hw_layout_table(0x030e02f0, 0, &o, key, sizeof key, &e), 0);
	synth_init(&h, &o, 1 << 20);
	ck_assert_uint_ge(h.interp - h.runtime, 760);
	write_debug_offsets_fmt(&h, &fmt_314, 0x030e02f0,
				(uint64_t)(o.interp_gc + o.gc_size + 64));
	synth_obj(&h, synth_type(&h, "Marker", 1, "Marker", "__main__"), 2);
	m = synth_mem(&h);
	target_for(&t, &h, 0x030e02f0);
	ck_assert_msg(hw_layout_resolve(&t, m, HW_SRC_NONE, &l, &e) == 0, "%s", e.msg);
	ck_assert_int_eq(l.source, HW_SRC_DEBUG_OFFSETS);
	ck_assert_int_eq(l.off.gc_gens, 24);
	ck_assert_int_eq(l.off.gc_generation0, -1);
	ck_assert_int_eq(l.confirmed, 1);
	ck_assert_msg(l.notes[0] == '\0', "%s", l.notes);
	hw_mem_free(m);
	synth_fini(&h);
}
END_TEST

/* Target memory is untrusted: bytes flipped at random in
 * _Py_DebugOffsets, the GC state, the list heads' neighbours and the
 * classes give a confirmed layout that is the right one, or a refusal;
 * never a crash, never a wrong layout.  Seeded (HW_TEST_SEED replays). */
static uint64_t seed;

static uint64_t rnd(void)
{
	seed ^= seed << 13;
	seed ^= seed >> 7;
	seed ^= seed << 17;
	return seed;
}

START_TEST(test_corrupt_never_wrong)
{
	/* What the run-time checks establish: where the lists are, and how
	 * objects name their types.  Not: gc_size, gc_collecting and
	 * interp_next where _Py_DebugOffsets alone publishes them and a
	 * wrong value reads a field that holds 0 as well (3.15's `frame`
	 * for `collecting`, the main interpreter's `id` for `next`); their
	 * alignment and bounds are checked, and a table that disagrees says
	 * so in the notes. */
	static const size_t checked[] = {
		FIELD_INDEX_T(rt_interp_head),
		FIELD_INDEX_T(interp_gc), FIELD_INDEX_T(gc_gens),
		FIELD_INDEX_T(gc_permanent), FIELD_INDEX_T(gc_generation0),
		FIELD_INDEX_T(ob_type), FIELD_INDEX_T(tp_name), FIELD_INDEX_T(tp_flags),
		FIELD_INDEX_T(ht_name), FIELD_INDEX_T(ht_qualname),
	};
	unsigned accepted = 0, refused = 0;
	struct hw_offsets o;

	layout_315(&o);
	for (int round = 0; round < 300; round++) {
		struct synth h;
		struct hw_target t;
		struct hw_layout l;
		struct hw_err e;
		struct hw_mem *m;
		uint64_t at;

		heap_315(&h, &o, 0x030f02f0);
		for (int k = 0, n = 1 + (int)(rnd() % 4); k < n; k++) {
			switch (rnd() % 4) {
			case 0: /* a published offset or size */
				at = h.runtime + 24 + (rnd() % (888 - 24));
				break;
			case 1: /* the GC state */
				at = h.gc + rnd() % (uint64_t)o.gc_size;
				break;
			case 2: /* an object's GC head or header, a class, a name */
			default:
				at = h.interp + (uint64_t)o.interp_gc + (uint64_t)o.gc_size + 64 +
				     rnd() % (h.used - (h.interp - SYNTH_BASE) -
					      (uint64_t)(o.interp_gc + o.gc_size + 64));
				break;
			}
			synth_w8(&h, at, (uint8_t)(1u << (rnd() % 8)) ^
				 (uint8_t)(synth_r64(&h, at & ~7ull) >> (8 * (at & 7))));
		}
		m = synth_mem(&h);
		target_for(&t, &h, 0x030f02f0);
		if (hw_layout_resolve(&t, m, HW_SRC_NONE, &l, &e) == 0) {
			accepted++;
			for (size_t i = 0; i < sizeof checked / sizeof checked[0]; i++)
				ck_assert_msg(hw_offsets_get(&l.off, checked[i]) ==
					      hw_offsets_get(&o, checked[i]),
					      "round %d: %s accepted as %lld, truth %lld (%s)", round,
					      hw_offset_fields[checked[i]].name,
					      (long long)hw_offsets_get(&l.off, checked[i]),
					      (long long)hw_offsets_get(&o, checked[i]), l.detail);
		} else {
			refused++;
			ck_assert_int_ne(e.code, HW_OK);
			ck_assert_msg(e.msg[0], "round %d: an error without a message", round);
		}
		hw_mem_free(m);
		synth_fini(&h);
	}
	printf("NOTE check_layout: 300 corrupted heaps: %u confirmed right, %u refused\n",
	       accepted, refused);
}
END_TEST

START_TEST(test_free_threaded_refused)
{
	struct hw_offsets o;
	struct synth h;
	struct hw_target t;
	struct hw_layout l;
	struct hw_err e;
	struct hw_mem *m;

	layout_315(&o);
	heap_315(&h, &o, 0x030f02f0);
	synth_w64(&h, h.runtime + 16, 1);
	m = synth_mem(&h);
	target_for(&t, &h, 0x030f02f0);
	ck_assert_int_eq(hw_layout_resolve(&t, m, HW_SRC_NONE, &l, &e), -1);
	ck_assert_int_eq(e.code, HW_EFREETHR);
	ck_assert_msg(strstr(e.msg, "free-threaded"), "%s", e.msg);
	ck_assert_int_eq(hw_err_exit_status(&e), 1);
	hw_mem_free(m);
	synth_fini(&h);
}
END_TEST

START_TEST(test_unknown_version_refused)
{
	struct hw_target t;
	struct hw_layout l;
	struct hw_err e;

	memset(&t, 0, sizeof t);
	t.pid = 1;
	t.version_hex = 0x031000f0;
	snprintf(t.version, sizeof t.version, "3.16.0");
	snprintf(t.open_path, sizeof t.open_path, "/nonexistent");
	ck_assert_int_eq(hw_layout_resolve(&t, NULL, HW_SRC_NONE, &l, &e), -1);
	ck_assert(e.code == HW_EVERSION);
	ck_assert_msg(strstr(e.msg, "3.16.0"), "%s", e.msg);
}
END_TEST

int main(void)
{
	const char *env = getenv("HW_TEST_SEED");

	seed = env ? strtoull(env, NULL, 0) : (uint64_t)time(NULL) * 2654435761u | 1;
	printf("NOTE check_layout seed %llu (HW_TEST_SEED=%llu replays it)\n",
	       (unsigned long long)seed, (unsigned long long)seed);
	fflush(stdout);
	Suite *s = suite_create("layout");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_tables_against_dwarf);
	tcase_add_test(tc, test_tables_by_version);
	tcase_add_test(tc, test_confirmed_from_every_source);
	tcase_add_test(tc, test_lists_off_by_4);
	tcase_add_test(tc, test_debug_offsets_off_by_8);
	tcase_add_test(tc, test_names_off_by_8);
	tcase_add_test(tc, test_untested_version);
	tcase_add_test(tc, test_scan_one_answer);
	tcase_add_test(tc, test_collection_running);
	tcase_add_test(tc, test_no_generation0);
	tcase_add_test(tc, test_corrupt_never_wrong);
	tcase_add_test(tc, test_free_threaded_refused);
	tcase_add_test(tc, test_unknown_version_refused);
	suite_add_tcase(s, tc);
	return hw_run_suite(s);
}
