/* check_dwarf.c - struct offsets from DWARF (hw_dwarf_offsets_file) for
 * every CPython build on the machine, against the numbers printed by gdb
 * (`ptype/o`, `print &((T *)0)->m`) and recorded with tag [D] in
 * shared/notes/cpython-gc-layouts.md.  A build that is not installed is
 * skipped with a "SKIP" line (runner.h).  Also prints the time each first
 * lookup takes (a NOTE, never a threshold). */
#include <check.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "heapwatch/layout.h"
#include "heapwatch/target.h"
#include "runner.h"

#define DEBIAN_DBG "/usr/lib/debug/.build-id/c5/61f3aa7232f2bd6ac6d56bd475f1c154a00486.debug"

/* Every build: PyObject.ob_type, PyTypeObject.tp_name/tp_flags/tp_dict. */
#define COMMON "ob_type=8 tp_name=24 tp_flags=168 tp_dict=264 "
/* 3.8-3.13: struct _gc_runtime_state and PyGC_Head */
#define GC38 "gc_gens=24 gc_gen_stride=24 gc_gen_threshold=16 gc_generation0=96 " \
	"gc_permanent=104 gc_collecting=200 gc_size=240 gchead_size=16 gchead_next=0 " \
	"gchead_prev=8 gchead_refs=-1 "

static const struct build {
	const char *label;
	const char *path;   /* "~/" is $HOME */
	const char *where;  /* the DWARF file expected; NULL: path itself */
	const char *expect; /* "field=value ..." */
} builds[] = {
	{ "2.7.18", "~/.pyenv/versions/2.7.18/lib/libpython2.7.so.1.0", NULL,
	  COMMON "rt_interp_head=-1 rt_gc=-1 interp_next=0 interp_gc=-1 "
	  "gc_gens=0 gc_gen_stride=40 gc_gen_threshold=32 gc_permanent=-1 gc_size=-1 "
	  "gchead_size=32 gchead_next=0 gchead_prev=8 gchead_refs=16 "
	  "ht_name=856 ht_qualname=-1 str_length=-1 bytes_size=16 bytes_sval=36 "
	  "dict_keys=40 dict_mask=32 dk_indices=-1" },
	{ "3.6.15", "~/.pyenv/versions/3.6.15/lib/libpython3.6m.so.1.0", NULL,
	  COMMON "rt_interp_head=-1 rt_gc=-1 interp_next=0 interp_gc=-1 "
	  "gc_gens=0 gc_gen_stride=48 gc_gen_threshold=32 gc_size=-1 "
	  "gchead_size=32 gchead_next=0 gchead_prev=8 gchead_refs=16 "
	  "ht_name=832 ht_qualname=848 str_state=32 str_ascii_size=48 str_compact_size=72 "
	  "bytes_size=-1 dk_size=8 dk_indices=40 dk_entry_size=24 dk_log2_size=-1" },
	{ "3.7.16", "~/.pyenv/versions/3.7.16/lib/libpython3.7m.so.1.0", NULL,
	  COMMON "rt_interp_head=24 rt_gc=320 interp_next=0 interp_gc=-1 "
	  "gc_gens=32 gc_gen_stride=48 gc_gen_threshold=32 gc_generation0=176 "
	  "gc_permanent=192 gc_collecting=312 gchead_size=32 gchead_refs=16 "
	  "ht_name=832 ht_qualname=848" },
	{ "3.8.18", "~/.pyenv/versions/3.8.18/lib/libpython3.8.so.1.0", NULL,
	  COMMON GC38 "rt_interp_head=32 rt_gc=344 interp_next=0 interp_gc=-1 "
	  "ht_name=848 ht_qualname=864 str_state=32 str_compact_size=72 "
	  "dk_size=8 dk_nentries=32" },
	{ "3.9.18", "~/.pyenv/versions/3.9.18/lib/libpython3.9.so.1.0", NULL,
	  COMMON GC38 "rt_interp_head=32 rt_gc=-1 interp_next=0 interp_gc=616 "
	  "ht_name=840 ht_qualname=856" },
	{ "3.10.13", "~/.pyenv/versions/3.10.13/lib/libpython3.10.so.1.0", NULL,
	  COMMON GC38 "rt_interp_head=32 rt_gc=-1 interp_next=0 interp_gc=616 "
	  "ht_name=848 ht_qualname=864" },
	{ "3.11.7", "~/.pyenv/versions/3.11.7/lib/libpython3.11.so.1.0", NULL,
	  COMMON GC38 "rt_interp_head=40 rt_gc=-1 interp_next=0 interp_gc=648 "
	  "ht_name=848 ht_qualname=864 str_length=16 str_state=32 str_ascii_size=48 "
	  "str_compact_size=72 dict_keys=32 dk_size=-1" },
	{ "3.12.1", "~/.pyenv/versions/3.12.1/lib/libpython3.12.so.1.0", NULL,
	  COMMON GC38 "rt_interp_head=40 rt_gc=-1 interp_next=0 interp_gc=112 "
	  "ht_name=856 ht_qualname=872 str_ascii_size=40 str_compact_size=56" },
	{ "3.13.0", "~/.pyenv/versions/3.13.0/lib/libpython3.13.so.1.0", NULL,
	  COMMON GC38 "rt_interp_head=632 rt_gc=-1 interp_next=7264 interp_gc=7400 "
	  "ht_name=856 ht_qualname=872 str_state=32 str_ascii_size=40 str_compact_size=56" },
	/* stripped, non-PIE: DWARF from python3.11-dbg's file, by build-id */
	{ "debian-3.11", "/usr/bin/python3.11", DEBIAN_DBG,
	  COMMON GC38 "rt_interp_head=40 rt_gc=-1 interp_next=0 interp_gc=648 "
	  "ht_name=848 ht_qualname=864 str_ascii_size=48" },
	/* Py_DEBUG without Py_TRACE_REFS: the same object header as 3.11 */
	{ "debian-3.11d", "/usr/bin/python3.11d", NULL,
	  COMMON GC38 "rt_interp_head=40 rt_gc=-1 interp_next=0 interp_gc=648 "
	  "str_ascii_size=48 dict_keys=32 dk_kind=10 dk_indices=32 dk_uentry_size=16" },
};
#define NBUILDS (sizeof builds / sizeof builds[0])

static void expand(const char *path, char *out, size_t size)
{
	const char *home = getenv("HOME");

	if (strncmp(path, "~/", 2) == 0)
		snprintf(out, size, "%s/%s", home ? home : "/root", path + 2);
	else
		snprintf(out, size, "%s", path);
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static size_t field_index(const char *name, size_t len)
{
	for (size_t i = 0; i < hw_offset_nfields; i++)
		if (strlen(hw_offset_fields[i].name) == len &&
		    strncmp(hw_offset_fields[i].name, name, len) == 0)
			return i;
	ck_abort_msg("no field %.*s in struct hw_offsets", (int)len, name);
	return 0;
}

/* Check "field=value ..." against o. */
static void check_expect(const char *label, const char *expect, const struct hw_offsets *o)
{
	const char *p = expect;

	while (*p) {
		const char *eq = strchr(p, '='), *end;
		char *num_end;
		long long want;
		size_t i;

		ck_assert_ptr_nonnull(eq);
		i = field_index(p, (size_t)(eq - p));
		want = strtoll(eq + 1, &num_end, 10);
		end = num_end;
		ck_assert_msg(hw_offsets_get(o, i) == want, "%s: %s is %" PRId64 ", want %lld",
			      label, hw_offset_fields[i].name, hw_offsets_get(o, i), want);
		while (*end == ' ')
			end++;
		p = end;
	}
}

/* What holds in every build, whatever the numbers. */
static void check_sane(const char *label, const struct hw_offsets *o)
{
	for (size_t i = 0; i < hw_offset_nfields; i++) {
		int64_t v = hw_offsets_get(o, i);

		ck_assert_msg(v == HW_NOFIELD || (v >= 0 && v < (1 << 20)),
			      "%s: %s = %" PRId64, label, hw_offset_fields[i].name, v);
	}
	ck_assert_int_gt(o->gc_gen_stride, 0);
	ck_assert_int_ge(o->gc_gens, 0);
	ck_assert_int_lt(o->gchead_next, o->gchead_size);
	ck_assert_int_lt(o->gchead_prev, o->gchead_size);
	ck_assert_int_lt(o->gc_gen_threshold, o->gc_gen_stride);
	if (o->gc_size >= 0) {
		ck_assert_int_le(o->gc_gens + 3 * o->gc_gen_stride, o->gc_size);
		ck_assert_int_lt(o->gc_collecting, o->gc_size);
	}
	/* one GC state per process (3.7, 3.8) or per interpreter (3.9+),
	 * or neither (2.7, 3.6: a static array) */
	ck_assert_msg(!(o->rt_gc >= 0 && o->interp_gc >= 0), "%s: rt_gc and interp_gc", label);
	ck_assert_msg((o->dict_keys >= 0), "%s: dict_keys", label);
}

START_TEST(test_build)
{
	const struct build *b = &builds[_i];
	char path[4096], where[4096] = "", want_where[4096];
	struct hw_offsets o;
	struct hw_err e;
	double t0;

	expand(b->path, path, sizeof path);
	if (access(path, R_OK) != 0) {
		HW_SKIP("dwarf %s: %s not installed", b->label, path);
	}
	if (b->where && access(b->where, R_OK) != 0) {
		HW_SKIP("dwarf %s: its debug file %s is not installed", b->label, b->where);
	}
	hw_err_clear(&e);
	t0 = now_ms();
	ck_assert_msg(hw_dwarf_offsets_file(path, &o, where, sizeof where, &e) == 0,
		      "%s: %s", b->label, e.msg);
	/* a figure, not a test: no threshold */
	printf("NOTE dwarf %s: first lookup %.1f ms\n", b->label, now_ms() - t0);
	expand(b->where ? b->where : b->path, want_where, sizeof want_where);
	ck_assert_str_eq(where, want_where);
	check_expect(b->label, b->expect, &o);
	check_sane(b->label, &o);
}
END_TEST

/* A copy of path in a new temporary directory (dir, copy filled). */
static int copy_to_tmp(const char *path, char *dir, size_t dsize, char *copy,
		       size_t csize)
{
	char buf[1 << 16];
	FILE *in, *out;
	size_t n;
	int rc = 0;

	snprintf(dir, dsize, "/tmp/hw-dwarf-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(copy, csize, "%s/lib.so", dir);
	in = fopen(path, "rb");
	out = fopen(copy, "wb");
	if (!in || !out)
		rc = -1;
	while (rc == 0 && (n = fread(buf, 1, sizeof buf, in)) > 0)
		if (fwrite(buf, 1, n, out) != n)
			rc = -1;
	if (in)
		fclose(in);
	if (out && fclose(out) != 0)
		rc = -1;
	return rc;
}

/* Overwrite the file with zeros, keeping its size and times (what the
 * cache keys on besides device and inode). */
static void blank_keep_times(const char *path)
{
	struct stat st;
	struct timespec times[2];
	char zero[1 << 16];
	FILE *f;

	memset(zero, 0, sizeof zero);
	ck_assert_int_eq(stat(path, &st), 0);
	f = fopen(path, "r+b");
	ck_assert_ptr_nonnull(f);
	for (off_t done = 0; done < st.st_size;) {
		size_t n = (size_t)(st.st_size - done) < sizeof zero ?
			(size_t)(st.st_size - done) : sizeof zero;

		ck_assert_uint_eq(fwrite(zero, 1, n, f), n);
		done += (off_t)n;
	}
	ck_assert_int_eq(fclose(f), 0);
	times[0] = st.st_atim;
	times[1] = st.st_mtim;
	ck_assert_int_eq(utimensat(AT_FDCWD, path, times, 0), 0);
}

/* The second lookup of a file comes from the cache, keyed on the file's
 * identity (device, inode, size, mtime): proved without a clock, by
 * erasing the DWARF between the lookups (same answer: the cache), then
 * changing the mtime (the lookup reads the file again, and finds none). */
START_TEST(test_cache)
{
	char path[4096], dir[64], copy[128], w1[4096], w2[4096];
	struct hw_offsets a, b;
	struct hw_err e;
	size_t k;

	for (k = 0; k < NBUILDS; k++) {
		expand(builds[k].path, path, sizeof path);
		if (!builds[k].where && access(path, R_OK) == 0)
			break;
	}
	if (k == NBUILDS)
		HW_SKIP("dwarf cache: no CPython build with DWARF in its own file installed");
	ck_assert_int_eq(copy_to_tmp(path, dir, sizeof dir, copy, sizeof copy), 0);
	ck_assert_msg(hw_dwarf_offsets_file(copy, &a, w1, sizeof w1, &e) == 0, "%s", e.msg);
	blank_keep_times(copy);
	ck_assert_msg(hw_dwarf_offsets_file(copy, &b, w2, sizeof w2, &e) == 0,
		      "not from the cache: %s", e.msg);
	ck_assert(memcmp(&a, &b, sizeof a) == 0);
	ck_assert_str_eq(w1, w2);
	/* where may be NULL */
	ck_assert_int_eq(hw_dwarf_offsets_file(copy, &b, NULL, 0, &e), 0);
	/* a new mtime is a new file: read again, and there is no DWARF now */
	ck_assert_int_eq(utimensat(AT_FDCWD, copy, NULL, 0), 0);
	hw_err_clear(&e);
	ck_assert_int_eq(hw_dwarf_offsets_file(copy, &b, NULL, 0, &e), -1);
	ck_assert_int_eq(e.code, HW_ELAYOUT);
	unlink(copy);
	rmdir(dir);
}
END_TEST

START_TEST(test_no_dwarf)
{
	struct hw_offsets o;
	struct hw_err e;
	char where[256] = "untouched";

	/* an ELF file without CPython's DWARF */
	hw_err_clear(&e);
	ck_assert_int_eq(hw_dwarf_offsets_file("/bin/sleep", &o, where, sizeof where, &e), -1);
	ck_assert_int_eq(e.code, HW_ELAYOUT);
	ck_assert_ptr_nonnull(strstr(e.msg, "/bin/sleep"));
	ck_assert_str_eq(where, "untouched");

	/* not a file */
	hw_err_clear(&e);
	ck_assert_int_eq(hw_dwarf_offsets_file("/nonexistent/libpython3.11.so", &o, NULL, 0, &e), -1);
	ck_assert_int_eq(e.sys_errno, ENOENT);
	ck_assert_ptr_nonnull(strstr(e.msg, "/nonexistent/libpython3.11.so"));

	/* not ELF */
	hw_err_clear(&e);
	ck_assert_int_eq(hw_dwarf_offsets_file("/etc/passwd", &o, NULL, 0, &e), -1);
	ck_assert_int_eq(e.code, HW_ELAYOUT);
}
END_TEST

/* A debug file compressed by dwz (as Fedora's and some Debian -dbgsym
 * packages are) keeps shared types in partial units that CUs import, and
 * with -m in a common file named by .gnu_debugaltlink: same answers. */
START_TEST(test_dwz)
{
	char path[4096], dir[] = "/tmp/hw-dwarf-XXXXXX", a[64], b[64], m[64], common[64];
	char cmd[16384];
	struct hw_offsets want, got;
	struct hw_err e, e1, e2;
	int rc_single = -1, rc_multi = -1, ran_multi;

	expand("~/.pyenv/versions/3.11.7/lib/libpython3.11.so.1.0", path, sizeof path);
	if (access("/usr/bin/dwz", X_OK) != 0 || access(path, R_OK) != 0) {
		HW_SKIP("dwarf dwz: needs /usr/bin/dwz and pyenv 3.11.7");
	}
	ck_assert_int_eq(hw_dwarf_offsets_file(path, &want, NULL, 0, &e), 0);
	hw_err_set(&e1, HW_EIO, 0, "dwz failed");
	hw_err_clear(&e2);
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(a, sizeof a, "%s/a.so", dir);
	snprintf(b, sizeof b, "%s/b.so", dir);
	snprintf(m, sizeof m, "%s/m.so", dir);
	snprintf(common, sizeof common, "%s/common.debug", dir);

	snprintf(cmd, sizeof cmd, "cp '%s' '%s' && dwz '%s'", path, a, a);
	if (system(cmd) == 0) {
		rc_single = hw_dwarf_offsets_file(a, &got, NULL, 0, &e1);
		if (rc_single == 0 && memcmp(&got, &want, sizeof got) != 0)
			rc_single = hw_err_set(&e1, HW_ELAYOUT, 0, "offsets differ");
	}
	snprintf(cmd, sizeof cmd, "cp '%s' '%s' && cp '%s' '%s' && dwz -m '%s' -M '%s' '%s' '%s' "
		 "&& readelf -S '%s' | grep -q gnu_debugaltlink", path, m, path, b, common,
		 common, m, b, m);
	ran_multi = system(cmd) == 0;
	if (ran_multi)
		rc_multi = hw_dwarf_offsets_file(m, &got, NULL, 0, &e2);
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
	ck_assert_msg(rc_single == 0, "dwz single file: %s", e1.msg);
	if (!ran_multi) {
		hw_skip_part("dwarf dwz -m: dwz made no common file");
		return;
	}
	ck_assert_msg(rc_multi == 0 && memcmp(&got, &want, sizeof got) == 0,
		      "dwz -m: %s", rc_multi ? e2.msg : "offsets differ");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("dwarf");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, test_build, 0, (int)NBUILDS);
	tcase_add_test(tc, test_cache);
	tcase_add_test(tc, test_no_dwarf);
	tcase_add_test(tc, test_dwz);
	suite_add_tcase(s, tc);
	return hw_run_suite(s);
}
