/* check_target.c - hw_target_open() on real CPython children, one per
 * build installed (others are skipped with a "SKIP" line): the version
 * equals the child's own platform.python_version(); the entry symbol lies
 * in the object's image and what it points at is what the DWARF offsets
 * say (the generation-0 list head found through it, which proves bias,
 * symbol and offsets together); 3.13's _PyRuntime starts with
 * "xdebugpy".  Then a non-Python process, a vanished pid, an executable
 * and a libpython replaced on disk after start, and a process in another
 * mount namespace.  Every child is killed and reaped; children also die
 * with the test process (PR_SET_PDEATHSIG). */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "heapwatch/proc.h"
#include "heapwatch/target.h"
#include "runner.h"

/* The child prints its version (the handshake), then waits to be killed. */
#define CHILD_CODE "import sys, time, platform; sys.stdout.write(platform.python_version() + '\\n'); " \
	"sys.stdout.flush(); time.sleep(30)"

static const struct build {
	const char *label;
	const char *exe;    /* "~/" is $HOME */
} builds[] = {
	{ "2.7.18", "~/.pyenv/versions/2.7.18/bin/python2.7" },
	{ "3.6.15", "~/.pyenv/versions/3.6.15/bin/python3.6" },
	{ "3.7.16", "~/.pyenv/versions/3.7.16/bin/python3.7" },
	{ "3.8.18", "~/.pyenv/versions/3.8.18/bin/python3.8" },
	{ "3.9.18", "~/.pyenv/versions/3.9.18/bin/python3.9" },
	{ "3.10.13", "~/.pyenv/versions/3.10.13/bin/python3.10" },
	{ "3.11.7", "~/.pyenv/versions/3.11.7/bin/python3.11" },
	{ "3.12.1", "~/.pyenv/versions/3.12.1/bin/python3.12" },
	{ "3.13.0", "~/.pyenv/versions/3.13.0/bin/python3.13" },
	{ "debian-3.11", "/usr/bin/python3.11" },
	{ "debian-3.11d", "/usr/bin/python3.11d" },
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

/* ---- children ---- */

struct child {
	pid_t pid;
	char line[128];  /* the handshake line, without '\n' */
};

/* What the child does between fork and exec (NULL: nothing).  Returns
 * 0, or -1 to make the child exit 127. */
typedef int (*pre_exec_fn)(void *arg);

/* Start argv[0] with argv and env (NULL: ours) and wait (at most 20 s)
 * for its first line on stdout.  Returns 0, or -1 when it exited first
 * (c->pid then 0, already reaped). */
static int spawn(struct child *c, char *const argv[], char *const envp[],
		 pre_exec_fn pre, void *arg)
{
	int p[2];
	size_t n = 0;

	memset(c, 0, sizeof *c);
	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	c->pid = fork();
	ck_assert_int_ge(c->pid, 0);
	if (c->pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(p[1], 1);
		if (pre && pre(arg) < 0)
			_exit(127);
		if (envp)
			execve(argv[0], argv, envp);
		else
			execv(argv[0], argv);
		_exit(127);
	}
	close(p[1]);
	while (n < sizeof c->line - 1) {
		struct pollfd pfd = { .fd = p[0], .events = POLLIN };
		ssize_t r;

		if (poll(&pfd, 1, 20000) <= 0)
			break;
		r = read(p[0], c->line + n, 1);
		if (r <= 0 || c->line[n] == '\n')
			break;
		n++;
	}
	close(p[0]);
	c->line[n] = '\0';
	if (n == 0) {
		kill(c->pid, SIGKILL);
		waitpid(c->pid, NULL, 0);
		c->pid = 0;
		return -1;
	}
	return 0;
}

static int spawn_python(struct child *c, const char *exe, char *const envp[],
			pre_exec_fn pre, void *arg)
{
	char *argv[] = { (char *)exe, "-c", CHILD_CODE, NULL };

	return spawn(c, argv, envp, pre, arg);
}

static void reap(struct child *c)
{
	if (c->pid > 0) {
		kill(c->pid, SIGKILL);
		waitpid(c->pid, NULL, 0);
		c->pid = 0;
	}
}

static int rread(pid_t pid, uint64_t addr, void *buf, size_t len)
{
	struct iovec local = { buf, len };
	struct iovec remote = { (void *)(uintptr_t)addr, len };

	return process_vm_readv(pid, &local, 1, &remote, 1, 0) == (ssize_t)len ? 0 : -1;
}

static uint64_t rptr(pid_t pid, uint64_t addr)
{
	uint64_t v = 0;

	ck_assert_msg(rread(pid, addr, &v, sizeof v) == 0, "reading 0x%llx: %s",
		      (unsigned long long)addr, strerror(errno));
	return v;
}

/* addr lies in a mapping of path, or in the anonymous mapping that
 * continues one (.bss beyond the file: 3.7-3.9 keep _PyRuntime there). */
static int in_image(const struct hw_maps *maps, const char *path, uint64_t addr)
{
	for (size_t i = 0; i < maps->n; i++) {
		const struct hw_map *m = &maps->v[i];

		if (addr < m->start || addr >= m->end)
			continue;
		if (strcmp(m->path, path) == 0)
			return 1;
		return m->path[0] == '\0' && i > 0 && maps->v[i - 1].end == m->start &&
		       strcmp(maps->v[i - 1].path, path) == 0;
	}
	return 0;
}

/* ---- one build ---- */

/* Follow what the DWARF offsets say from the entry symbol to the first
 * generation's list head, and check the head is one. */
static void check_gc_state(const struct hw_target *t, const char *label)
{
	struct hw_offsets o;
	struct hw_err e;
	char where[4096];
	uint64_t gc, g0;
	int32_t threshold;

	hw_err_clear(&e);
	if (hw_target_dwarf(t, &o, where, sizeof where, &e) < 0) {
		/* the rest of the check ran: only this part is left out */
		hw_skip_part("target %s: no DWARF (%s), GC state not followed", label, e.msg);
		return;
	}
	if (t->gen0_ptr_addr) {
		/* 2.7, 3.6: *_PyGC_generation0 = &generations[0].head */
		g0 = rptr(t->pid, t->gen0_ptr_addr);
		ck_assert_uint_ne(t->interp_head_addr, 0);
		ck_assert_uint_ne(rptr(t->pid, t->interp_head_addr), 0);
	} else if (o.rt_gc >= 0) {
		/* 3.7, 3.8: _PyRuntime.gc */
		gc = t->runtime_addr + (uint64_t)o.rt_gc;
		g0 = gc + (uint64_t)o.gc_gens;
		ck_assert_uint_eq(rptr(t->pid, gc + (uint64_t)o.gc_generation0), g0);
	} else {
		/* 3.9+: the newest interpreter's gc (the only one here) */
		uint64_t interp = rptr(t->pid, t->runtime_addr + (uint64_t)o.rt_interp_head);

		ck_assert_uint_ne(interp, 0);
		ck_assert_uint_eq(rptr(t->pid, interp + (uint64_t)o.interp_next), 0);
		gc = interp + (uint64_t)o.interp_gc;
		g0 = gc + (uint64_t)o.gc_gens;
		ck_assert_uint_eq(rptr(t->pid, gc + (uint64_t)o.gc_generation0), g0);
	}
	/* a list head: non-NULL links, a threshold of 700 (2000 in 3.13) */
	ck_assert_uint_ne(rptr(t->pid, g0 + (uint64_t)o.gchead_next), 0);
	ck_assert_uint_ne(rptr(t->pid, g0 + (uint64_t)o.gchead_prev), 0);
	ck_assert_int_eq(rread(t->pid, g0 + (uint64_t)o.gc_gen_threshold, &threshold, 4), 0);
	ck_assert_int_eq(threshold, t->version_hex >= 0x030d0000 ? 2000 : 700);
}

START_TEST(test_build)
{
	const struct build *b = &builds[_i];
	char exe[4096];
	struct child c;
	struct hw_target t;
	struct hw_maps maps;
	struct hw_err e;
	uint64_t entry;

	expand(b->exe, exe, sizeof exe);
	if (access(exe, X_OK) != 0) {
		HW_SKIP("target %s: %s not installed", b->label, exe);
	}
	ck_assert_int_eq(spawn_python(&c, exe, NULL, NULL, NULL), 0);
	hw_err_clear(&e);
	ck_assert_msg(hw_target_open(&t, c.pid, &e) == 0, "%s: %s", b->label, e.msg);
	ck_assert_str_eq(t.version, c.line);
	ck_assert_int_eq(t.pid, c.pid);
	ck_assert_uint_ne(t.version_hex, 0);
	ck_assert_int_eq(t.major, (int)(t.version_hex >> 24));
	ck_assert_int_eq(t.minor, (int)((t.version_hex >> 16) & 0xff));
	ck_assert_int_eq(t.micro, (int)((t.version_hex >> 8) & 0xff));
	ck_assert_uint_eq(strlen(t.build_id), 40);
	ck_assert_int_eq(t.trace_refs, 0);

	/* the entry symbol is in this object's image */
	entry = t.runtime_addr ? t.runtime_addr : t.gen0_ptr_addr;
	ck_assert_uint_ne(entry, 0);
	ck_assert_int_eq(hw_proc_maps(c.pid, &maps, &e), 0);
	ck_assert_msg(in_image(&maps, t.elf_path, entry), "%s: 0x%llx not in %s", b->label,
		      (unsigned long long)entry, t.elf_path);
	hw_maps_fini(&maps);
	if (t.version_hex >= 0x03070000) {
		ck_assert_uint_ne(t.runtime_size, 0);
		ck_assert_uint_eq(t.gen0_ptr_addr, 0);
	} else {
		ck_assert_uint_eq(t.runtime_addr, 0);
	}

	/* Py_Version read from the file equals the process's own */
	if (t.version_hex >= 0x030b0000) {
		uint32_t v = 0;

		ck_assert_uint_ne(t.py_version_addr, 0);
		ck_assert_int_eq(rread(c.pid, t.py_version_addr, &v, 4), 0);
		ck_assert_uint_eq(v, t.version_hex);
	} else {
		ck_assert_uint_eq(t.py_version_addr, 0);
	}
	if (t.version_hex >= 0x030d0000) {
		char cookie[8];

		ck_assert_int_eq(rread(c.pid, t.runtime_addr, cookie, 8), 0);
		ck_assert(memcmp(cookie, "xdebugpy", 8) == 0);
		ck_assert_int_eq(t.free_threaded, 0);
	} else {
		ck_assert_int_eq(t.free_threaded, -1);
	}

	if (strncmp(b->label, "debian", 6) == 0) {
		/* non-PIE, libpython linked in */
		ck_assert_str_eq(t.elf_path, exe);
		ck_assert_uint_eq(t.bias, 0);
		ck_assert_int_eq(t.debug_build, strcmp(b->label, "debian-3.11d") == 0);
		if (!t.debug_build) {
			ck_assert_uint_eq(t.runtime_addr, 0xa56220);
			ck_assert_uint_eq(t.runtime_size, 0x28b20);
		}
	} else {
		/* a PIE executable linked to libpython*.so: the library wins */
		ck_assert_ptr_nonnull(strstr(t.elf_path, "/libpython"));
		ck_assert_uint_ne(t.bias, 0);
		ck_assert_uint_eq(t.bias & 4095, 0);
		ck_assert_int_eq(t.debug_build, 0);
	}
	{
		char want[4200];

		snprintf(want, sizeof want, "/proc/%d/root%s", (int)c.pid, t.elf_path);
		ck_assert_str_eq(t.open_path, want);
	}
	check_gc_state(&t, b->label);
	reap(&c);
}
END_TEST

/* ---- not a CPython, or no process ---- */

START_TEST(test_not_python)
{
	char *argv[] = { "/bin/sh", "-c", "echo r; exec /bin/sleep 30", NULL };
	char exe[4096] = "", want[64];
	struct child c;
	struct hw_target t;
	struct hw_err e;

	ck_assert_int_eq(spawn(&c, argv, NULL, NULL, NULL), 0);
	/* wait (bounded) for the exec to happen */
	for (int i = 0; i < 2000; i++) {
		if (hw_proc_exe(c.pid, exe, sizeof exe, NULL, &e) == 0 && strstr(exe, "sleep"))
			break;
		usleep(1000);
	}
	ck_assert_ptr_nonnull(strstr(exe, "sleep"));
	hw_err_clear(&e);
	ck_assert_int_eq(hw_target_open(&t, c.pid, &e), -1);
	ck_assert_int_eq(e.code, HW_ENOTPY);
	/* the session names the pid; the target's own errors do not */
	snprintf(want, sizeof want, "not a CPython process");
	ck_assert_msg(strncmp(e.msg, want, strlen(want)) == 0, "%s", e.msg);
	ck_assert_msg(!strstr(e.msg, "pid "), "%s", e.msg);
	ck_assert_ptr_nonnull(strstr(e.msg, exe));
	reap(&c);

	/* the test itself links no libpython either */
	hw_err_clear(&e);
	ck_assert_int_eq(hw_target_open(&t, getpid(), &e), -1);
	ck_assert_int_eq(e.code, HW_ENOTPY);
}
END_TEST

START_TEST(test_no_process)
{
	struct hw_target t;
	struct hw_err e;
	char want[64];
	pid_t pid = fork();

	ck_assert_int_ge(pid, 0);
	if (pid == 0)
		_exit(0);
	ck_assert_int_eq(waitpid(pid, NULL, 0), pid);
	hw_err_clear(&e);
	ck_assert_int_eq(hw_target_open(&t, pid, &e), -1);
	ck_assert_int_eq(e.code, HW_ENOPROC);
	snprintf(want, sizeof want, "pid %d", (int)pid);
	ck_assert_ptr_null(strstr(e.msg, want));
}
END_TEST

/* ---- files replaced on disk after start ---- */

static int copy_file(const char *from, const char *to, mode_t mode)
{
	char buf[1 << 16];
	int in = open(from, O_RDONLY | O_CLOEXEC), out;
	ssize_t n;

	if (in < 0)
		return -1;
	out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (out < 0) {
		close(in);
		return -1;
	}
	while ((n = read(in, buf, sizeof buf)) > 0)
		if (write(out, buf, (size_t)n) != n) {
			n = -1;
			break;
		}
	close(in);
	close(out);
	return n < 0 ? -1 : 0;
}

/* Replace path with another file (a new inode; maps then says
 * "(deleted)" and the name leads to something else). */
static void replace_file(const char *path)
{
	char tmp[4200];

	snprintf(tmp, sizeof tmp, "%s.new", path);
	ck_assert_int_eq(copy_file("/bin/true", tmp, 0755), 0);
	ck_assert_int_eq(rename(tmp, path), 0);
}

START_TEST(test_exe_replaced)
{
	const char *src = "/usr/bin/python3.11";
	char dir[] = "/tmp/hw-target-XXXXXX", exe[64], want[64];
	struct child c;
	struct hw_target t;
	struct hw_err e;
	int rc;

	if (access(src, X_OK) != 0) {
		HW_SKIP("target exe_replaced: %s not installed", src);
	}
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(exe, sizeof exe, "%s/python3.11", dir);
	ck_assert_int_eq(copy_file(src, exe, 0755), 0);
	hw_err_clear(&e);
	rc = spawn_python(&c, exe, NULL, NULL, NULL);
	if (rc == 0) {
		replace_file(exe);
		hw_err_clear(&e);
		rc = hw_target_open(&t, c.pid, &e);
	}
	/* clean up first: a failed assertion ends the test */
	unlink(exe);
	rmdir(dir);
	ck_assert_msg(rc == 0, "%s", e.msg);
	snprintf(want, sizeof want, "/proc/%d/exe", (int)c.pid);
	ck_assert_str_eq(t.open_path, want);
	ck_assert_str_eq(t.elf_path, exe);
	ck_assert_str_eq(t.version, c.line);
	ck_assert_uint_eq(t.runtime_addr, 0xa56220);
	reap(&c);
}
END_TEST

START_TEST(test_libpython_replaced)
{
	char exe[4096], lib[4096], dir[] = "/tmp/hw-target-XXXXXX", copy[4200];
	char env_ld[4300], want[64];
	char *envp[] = { env_ld, NULL };
	struct child c;
	struct hw_target t;
	struct hw_err e;
	int rc;

	expand("~/.pyenv/versions/3.12.1/bin/python3.12", exe, sizeof exe);
	expand("~/.pyenv/versions/3.12.1/lib/libpython3.12.so.1.0", lib, sizeof lib);
	if (access(exe, X_OK) != 0 || access(lib, R_OK) != 0) {
		HW_SKIP("target libpython_replaced: pyenv 3.12.1 not installed");
	}
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(copy, sizeof copy, "%s/libpython3.12.so.1.0", dir);
	ck_assert_int_eq(copy_file(lib, copy, 0644), 0);
	/* LD_LIBRARY_PATH comes before the executable's RUNPATH */
	snprintf(env_ld, sizeof env_ld, "LD_LIBRARY_PATH=%s", dir);
	hw_err_clear(&e);
	rc = spawn_python(&c, exe, envp, NULL, NULL);
	if (rc == 0) {
		replace_file(copy);
		hw_err_clear(&e);
		rc = hw_target_open(&t, c.pid, &e);
	}
	unlink(copy);
	rmdir(dir);
	if (geteuid() != 0) {
		/* /proc/PID/map_files needs CAP_SYS_ADMIN */
		ck_assert_int_eq(rc, -1);
		ck_assert_int_eq(e.code, HW_EPERM);
		ck_assert_ptr_nonnull(strstr(e.msg, "map_files"));
		hw_skip_part("target libpython_replaced: not root, HW_EPERM checked only");
	} else {
		ck_assert_msg(rc == 0, "%s", e.msg);
		ck_assert_str_eq(t.elf_path, copy);
		snprintf(want, sizeof want, "/proc/%d/map_files/", (int)c.pid);
		ck_assert_msg(strncmp(t.open_path, want, strlen(want)) == 0, "%s", t.open_path);
		ck_assert_str_eq(t.version, c.line);
		ck_assert_uint_eq(t.version_hex, 0x030c01f0);
		check_gc_state(&t, "3.12.1 (replaced)");
	}
	reap(&c);
}
END_TEST

/* ---- a process in another mount namespace (a container) ---- */

struct ns_arg {
	const char *dir;  /* a tmpfs is mounted here in the child's namespace */
	const char *src;
};

static int enter_ns(void *p)
{
	const struct ns_arg *a = p;
	char to[4200];

	if (unshare(CLONE_NEWNS) < 0 ||
	    mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL) < 0 ||
	    mount("hwtest", a->dir, "tmpfs", 0, "size=64m") < 0)
		return -1;
	snprintf(to, sizeof to, "%s/python3.11", a->dir);
	return copy_file(a->src, to, 0755);
}

START_TEST(test_other_mount_ns)
{
	char dir[] = "/tmp/hw-target-XXXXXX", exe[64], want[4300];
	struct ns_arg a = { dir, "/usr/bin/python3.11" };
	struct child c;
	struct hw_target t;
	struct hw_err e;
	struct stat st;
	int rc, seen_here;

	if (access(a.src, X_OK) != 0) {
		HW_SKIP("target other_mount_ns: %s not installed", a.src);
	}
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(exe, sizeof exe, "%s/python3.11", dir);
	if (spawn_python(&c, exe, NULL, enter_ns, &a) < 0) {
		rmdir(dir);
		HW_SKIP("target other_mount_ns: cannot make a mount namespace here");
	}
	/* the file exists only in the child's namespace */
	seen_here = stat(exe, &st) == 0;
	hw_err_clear(&e);
	rc = hw_target_open(&t, c.pid, &e);
	reap(&c);
	rmdir(dir);
	ck_assert(!seen_here);
	ck_assert_msg(rc == 0, "%s", e.msg);
	ck_assert_str_eq(t.elf_path, exe);
	snprintf(want, sizeof want, "/proc/%d/root%s", (int)t.pid, exe);
	ck_assert_str_eq(t.open_path, want);
	ck_assert_str_eq(t.version, c.line);
	ck_assert_uint_eq(t.runtime_addr, 0xa56220);
}
END_TEST

/* ---- fake interpreters: small programs compiled here ----
 *
 * Each defines _PyRuntime (and what its case asks for) and prints the
 * address of _PyRuntime as its handshake, which checks the load bias of a
 * PIE executable exactly.  They cover what the installed builds do not:
 * a PY_VERSION literal of its own (not merged into a path), an
 * executable whose name gives no version, release levels, a 3.13
 * _Py_DebugOffsets that disagrees with Py_Version, debug flavours. */

static const char fake_src[] =
	"#include <stdint.h>\n#include <stdio.h>\n#include <unistd.h>\n"
	"#ifdef LIT\nconst char lit[] = \"\\0\" LIT;\n#endif\n"
	"#ifdef LIT2\nconst char lit2[] = \"\\0\" LIT2;\n#endif\n"
	"#ifdef PYHEX\nconst uint32_t Py_Version = PYHEX;\n#endif\n"
	"#ifdef DBGHEX\nstruct { char cookie[8]; uint64_t version, ft; char rest[64]; }\n"
	"  _PyRuntime = { \"xdebugpy\", DBGHEX, FT };\n"
	"#else\nchar _PyRuntime[96];\n#endif\n"
	"#ifdef NEGREF\nvoid _Py_NegativeRefcount(void) {}\n#endif\n"
	"#ifdef PRINTREFS\nvoid _Py_PrintReferences(void) {}\n#endif\n"
	"int main(void) { printf(\"%p\\n\", (void *)&_PyRuntime); fflush(stdout);\n"
	"  sleep(30); return 0; }\n";

static const struct fake {
	const char *name;     /* the executable's file name */
	const char *flags;    /* cc flags */
	const char *version;  /* expected; NULL: hw_target_open fails */
	uint32_t version_hex;
	enum hw_code code;    /* when it fails */
} fakes[] = {
	{ "python3.9", "-no-pie -DLIT='\"3.9.7\"'", "3.9.7", 0x030907f0, HW_OK },
	{ "python3.10", "-pie -fPIE -DLIT='\"3.10.0rc2\"' -DLIT2='\"3.9.1\"'", "3.10.0rc2",
	  0x030a00c2, HW_OK },
	{ "python2.7", "-pie -fPIE -DLIT='\"2.7.18+\"'", "2.7.18+", 0x020712f0, HW_OK },
	/* no M.m in the name: one literal is taken, two are not guessed between */
	{ "fakepy", "-pie -fPIE -DLIT='\"3.8.5\"'", "3.8.5", 0x030805f0, HW_OK },
	{ "fakepy2", "-pie -fPIE -DLIT='\"3.8.5\"' -DLIT2='\"3.9.1\"'", "", 0, HW_OK },
	{ "fakepy3", "-no-pie -DPYHEX=0x030b04a1", "3.11.4a1", 0x030b04a1, HW_OK },
	{ "fakepy4", "-pie -fPIE -DPYHEX=0x030d00c2 -DDBGHEX=0x030d00c2 -DFT=1",
	  "3.13.0rc2", 0x030d00c2, HW_OK },
	{ "fakepy5", "-pie -fPIE -DPYHEX=0x030d01f0 -DDBGHEX=0x030d00f0 -DFT=0",
	  NULL, 0, HW_EVERSION },
	{ "fakepy6", "-pie -fPIE -DPYHEX=0x030d01f0", NULL, 0, HW_EVERSION },
	{ "python3.12d", "-pie -fPIE -DPYHEX=0x030c01f0 -DNEGREF -DPRINTREFS", "3.12.1",
	  0x030c01f0, HW_OK },
};
#define NFAKES (sizeof fakes / sizeof fakes[0])

START_TEST(test_fake)
{
	const struct fake *f = &fakes[_i];
	char dir[] = "/tmp/hw-target-XXXXXX", src[64], exe[128], cmd[1024];
	char *argv[] = { exe, NULL };
	struct child c;
	struct hw_target t;
	struct hw_err e;
	FILE *fp;
	int rc;

	if (system("command -v cc >/dev/null 2>&1") != 0) {
		HW_SKIP("target fake %s: no C compiler", f->name);
	}
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(src, sizeof src, "%s/fake.c", dir);
	snprintf(exe, sizeof exe, "%s/%s", dir, f->name);
	fp = fopen(src, "w");
	ck_assert_ptr_nonnull(fp);
	fputs(fake_src, fp);
	fclose(fp);
	snprintf(cmd, sizeof cmd, "cc -O0 -o '%s' %s '%s'", exe, f->flags, src);
	rc = system(cmd);
	hw_err_clear(&e);
	if (rc == 0) {
		rc = spawn(&c, argv, NULL, NULL, NULL);
		if (rc == 0)
			rc = hw_target_open(&t, c.pid, &e);
	}
	unlink(src);
	unlink(exe);
	rmdir(dir);
	ck_assert_msg(c.pid > 0, "%s: did not start (%s)", f->name, cmd);
	if (!f->version) {
		ck_assert_int_eq(rc, -1);
		ck_assert_int_eq(e.code, f->code);
		ck_assert_ptr_nonnull(strstr(e.msg, "Py_Version"));
		ck_assert_ptr_null(strstr(e.msg, "pid "));
		reap(&c);
		return;
	}
	ck_assert_msg(rc == 0, "%s: %s", f->name, e.msg);
	ck_assert_str_eq(t.version, f->version);
	ck_assert_uint_eq(t.version_hex, f->version_hex);
	ck_assert_uint_eq(t.runtime_addr, strtoull(c.line, NULL, 16));
	ck_assert_str_eq(t.elf_path, exe);
	ck_assert_int_eq(t.bias != 0, strstr(f->flags, "-no-pie") == NULL);
	ck_assert_int_eq(t.debug_build, strstr(f->flags, "NEGREF") != NULL);
	ck_assert_int_eq(t.trace_refs, strstr(f->flags, "PRINTREFS") != NULL);
	ck_assert_int_eq(t.free_threaded, strstr(f->flags, "FT=1") ? 1 : -1);
	if (!f->version[0]) {
		ck_assert_int_eq(t.major, -1);
		ck_assert_int_eq(t.micro, -1);
	}
	reap(&c);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("target");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, test_build, 0, (int)NBUILDS);
	tcase_add_test(tc, test_not_python);
	tcase_add_test(tc, test_no_process);
	tcase_add_test(tc, test_exe_replaced);
	tcase_add_test(tc, test_libpython_replaced);
	tcase_add_test(tc, test_other_mount_ns);
	tcase_add_loop_test(tc, test_fake, 0, (int)NFAKES);
	suite_add_tcase(s, tc);
	return hw_run_suite(s);
}
