/* main.c - the command line: `heapwatch dump`, `daemon`, `check-config`,
 * `report` (reportcmd.c).
 * Only this file turns errors into exit statuses: 0 success, 1 runtime
 * failure, 2 usage or configuration error. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "heapwatch/census.h"
#include "heapwatch/cli.h"
#include "heapwatch/config.h"
#include "heapwatch/daemon.h"
#include "heapwatch/err.h"
#include "heapwatch/log.h"
#include "heapwatch/mem.h"
#include "heapwatch/objects.h"
#include "heapwatch/output.h"
#include "heapwatch/refs.h"
#include "heapwatch/refsout.h"
#include "heapwatch/statsd.h"
#include "heapwatch/status.h"
#include "heapwatch/target.h"
#include "heapwatch/report.h"
#include "heapwatch/units.h"

#ifndef HW_VERSION
#define HW_VERSION "0.1.0"
#endif

static const char usage_text[] =
"Usage: heapwatch dump [OPTIONS] PID\n"
"       heapwatch refs [OPTIONS] PID TYPE\n"
"       heapwatch daemon --config FILE [--log-level LEVEL]\n"
"       heapwatch check-config [--dump] FILE\n"
"       heapwatch status [--json] [--status-file FILE | --config FILE]\n"
"       heapwatch report [OPTIONS] (--text | --svg FILE | --html FILE)\n"
"       heapwatch --help | --version\n"
"\n"
"Count the live objects per type of a running CPython process from outside:\n"
"no code injected, nothing written, the process stopped only to copy memory.\n"
"\n"
"dump options:\n"
"  -j, --json               print one JSON document\n"
"  -n, --top N              show the N most common types (default 20; 0 = all)\n"
"  -g, --growth DURATION    take two censuses DURATION apart (at most 1d; a\n"
"                           bare number counts seconds), print the change\n"
"      --mode MODE          snapshot (copy while stopped, walk after; default)\n"
"                           or stopped (walk while stopped)\n"
"      --max-pause DURATION longest stop of the target (default 500ms; 0 = none),\n"
"                           stopping every thread included (at least 100ms for\n"
"                           that); past it the census is cut short and marked\n"
"                           partial, or fails if a thread would not stop\n"
"      --max-walk DURATION  longest walk of the heap (default 60s; 0 = none);\n"
"                           past it the census is cut short and marked partial\n"
"      --snapshot-limit SIZE largest private copy (default 1GiB); past it the\n"
"                           census walks while stopped\n"
"      --layout-source SRC  auto (default), dwarf, debug_offsets, table or scan\n"
"                           (also $HEAPWATCH_LAYOUT_SOURCE)\n"
"      --reader KIND        auto (default), vm (process_vm_readv) or procfs\n"
"      --measure-floor      also time the same copy again with the target\n"
"                           running (JSON floor_us; for benchmarks)\n"
"  -s, --sizes              also bytes per type as sys.getsizeof counts them,\n"
"                           with instance dicts as \"dict of CLASS\" rows\n"
"      --sort KEY           order rows by count (default) or bytes (--sizes)\n"
"      --leaking            objects no known object refers to, per type\n"
"                           (objgraph's get_leaking_objects; a census of the\n"
"                           referrer graph, see refs)\n"
"\n"
"refs: who holds the objects of TYPE (a name as dump prints it, or its last\n"
"part when that is unambiguous): the shortest chain of references from a\n"
"root (a module in sys.modules, a thread's frame local, an object the\n"
"interpreter holds) to a few instances, and who holds all of them.\n"
"refs options (and --json, --mode, --max-pause, --snapshot-limit,\n"
"--layout-source, --reader as for dump):\n"
"  -k, --samples K          instances to explain, chosen from different\n"
"                           holders (default 3)\n"
"  -d, --max-depth N        longest chain searched, in references (default\n"
"                           20; 0 = no limit)\n"
"  -n, --top N              holder rows to show (default 10)\n"
"      --dot FILE           write the back-references of the instances as a\n"
"                           Graphviz graph (\"-\": standard output)\n"
"      --svg FILE           draw that graph with Graphviz's dot\n"
"      --graph-depth N      references drawn back from the instances (default 3)\n"
"      --graph-limit SIZE   memory for the referrer graph (default 1GiB; also\n"
"                           for dump --leaking)\n"
"\n"
"Durations: a number and a unit, " HW_DURATION_UNITS " (500ms, 1.5s).\n"
"Sizes: bytes, or a number and a unit (powers of 1024):\n"
"  " HW_SIZE_UNITS " (256MiB, 1G).\n"
"\n"
"status options (what the running daemon knows: verdicts, growing types):\n"
"  -j, --json               print the status file itself (one JSON document)\n"
"  -f, --status-file FILE   read FILE\n"
"  -c, --config FILE        read the status_file FILE names (default: the one\n"
"                           " HW_CONFIG_DEFAULT " names, if it\n"
"                           exists, else " HW_STATUS_FILE_DEFAULT ")\n"
"\n";

static const char usage_tail[] =
"\n"
"Exit status: 0 success, 1 runtime failure, 2 usage or configuration error.\n"
"See heapwatch(1) and heapwatch.yaml(5).\n";

static void print_usage(void)
{
	fputs(usage_text, stdout);
	fputs(hw_report_usage, stdout);
	fputs(usage_tail, stdout);
}

static int parse_pid(const char *s, pid_t *pid)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || end == s || v <= 0 || v > 4194304)
		return -1;
	*pid = (pid_t)v;
	return 0;
}

/* An option's duration or size (units.h: one grammar with the config
 * file); 0, or 2 after saying why. */
static int opt_duration(const char *opt, const char *arg, uint64_t bare_unit_ns,
			uint64_t *ns)
{
	struct hw_err e;

	hw_err_clear(&e);
	if (hw_duration_parse(arg, strlen(arg), bare_unit_ns, ns, &e) < 0)
		return hw_cli_usage(NULL, "%s: %s", opt, e.msg);
	return 0;
}

static int opt_size(const char *opt, const char *arg, uint64_t min,
		    uint64_t *bytes)
{
	struct hw_err e;
	char lo[32];

	hw_err_clear(&e);
	if (hw_size_parse(arg, strlen(arg), bytes, &e) < 0)
		return hw_cli_usage(NULL, "%s: %s", opt, e.msg);
	if (*bytes < min) {
		hw_format_size(min, lo, sizeof lo);
		return hw_cli_usage(NULL, "%s: '%s' is less than %s", opt, arg, lo);
	}
	return 0;
}

static int parse_count(const char *s, long max, long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || end == s || v < 0 || v > max)
		return -1;
	*out = v;
	return 0;
}

/* Sleep that a signal ends early (SIGINT during --growth). */
static volatile sig_atomic_t interrupted;
static void on_signal(int sig) { interrupted = sig; }

static int wait_seconds(double secs)
{
	struct sigaction sa;
	struct timespec ts;
	uint64_t total_ms = (uint64_t)(secs * 1000.0), done = 0;
	int tty = isatty(STDERR_FILENO);

	if (!tty)
		fprintf(stderr, "heapwatch: first census taken; second in %.3g s\n", secs);
	fflush(stderr);
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	while (done < total_ms && !interrupted) {
		uint64_t step = total_ms - done < 200 ? total_ms - done : 200;

		ts.tv_sec = (time_t)(step / 1000);
		ts.tv_nsec = (long)(step % 1000) * 1000000L;
		nanosleep(&ts, NULL);
		done += step;
		if (tty)
			fprintf(stderr, "\rheapwatch: second census in %.1f s ",
				(double)(total_ms - done) / 1000.0);
	}
	if (tty)
		fputs("\r\033[K", stderr);
	return interrupted ? -1 : 0;
}

static int dump_leaking(pid_t pid, const struct hw_census_opts *o,
			struct hw_refs_opts *ro, int json, size_t top);

/* The capture options dump and refs share (--mode, --max-pause,
 * --max-walk, --snapshot-limit, --layout-source, --reader): 0, or -1
 * after a usage error was printed. */
static int census_opt(int opt, const char *arg, struct hw_census_opts *o,
		      const char **src)
{
	switch (opt) {
	case 'M':
		if (strcmp(arg, "snapshot") == 0)
			o->mode = HW_MODE_SNAPSHOT;
		else if (strcmp(arg, "stopped") == 0)
			o->mode = HW_MODE_STOPPED;
		else
			return hw_cli_usage(NULL, "--mode: '%s' is not snapshot or stopped", arg) ? -1 : 0;
		return 0;
	case 'P':
		return opt_duration("--max-pause", arg, 0, &o->max_pause_ns) ? -1 : 0;
	case 'W':
		return opt_duration("--max-walk", arg, 0, &o->max_walk_ns) ? -1 : 0;
	case 'L':
		return opt_size("--snapshot-limit", arg, 0, &o->snapshot_limit) ? -1 : 0;
	case 'S':
		*src = arg;
		return 0;
	default: /* 'R' */
		if (strcmp(arg, "auto") == 0)
			o->mem_kind = -1;
		else if (strcmp(arg, "vm") == 0)
			o->mem_kind = HW_MEM_VMREADV;
		else if (strcmp(arg, "procfs") == 0)
			o->mem_kind = HW_MEM_PROCFS;
		else
			return hw_cli_usage(NULL, "--reader: '%s' is not auto, vm or procfs", arg) ? -1 : 0;
		return 0;
	}
}

/* --layout-source, or $HEAPWATCH_LAYOUT_SOURCE when it is not given:
 * 0, or -1 after a usage error was printed. */
static int layout_source_opt(const char *src, struct hw_census_opts *o)
{
	if (src && *src && strcmp(src, "auto") != 0 &&
	    hw_layout_source_parse(src, &o->source) < 0)
		return hw_cli_usage(NULL, "layout source '%s' is not auto, dwarf, "
				    "debug_offsets, table or scan", src) ? -1 : 0;
	return 0;
}

static int cmd_dump(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "top", required_argument, NULL, 'n' },
		{ "growth", required_argument, NULL, 'g' },
		{ "mode", required_argument, NULL, 'M' },
		{ "max-pause", required_argument, NULL, 'P' },
		{ "max-walk", required_argument, NULL, 'W' },
		{ "snapshot-limit", required_argument, NULL, 'L' },
		{ "layout-source", required_argument, NULL, 'S' },
		{ "reader", required_argument, NULL, 'R' },
		{ "measure-floor", no_argument, NULL, 'F' },
		{ "leaking", no_argument, NULL, 'K' },
		{ "graph-limit", required_argument, NULL, 'B' },
		{ "sizes", no_argument, NULL, 's' },
		{ "sort", required_argument, NULL, 'O' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct hw_census_opts o;
	struct hw_session *s = NULL;
	struct hw_census c1, c2;
	struct hw_refs_opts ro;
	struct hw_err e;
	int json = 0, opt, rc, leaking = 0, by_bytes = 0;
	long top = -1;
	double growth = -1;
	pid_t pid;
	const char *src = getenv("HEAPWATCH_LAYOUT_SOURCE");

	hw_census_opts_default(&o);
	hw_refs_opts_default(&ro);
	hw_err_clear(&e);
	optind = 1;
	while ((opt = getopt_long(argc, argv, "+jn:g:sh", lopts, NULL)) != -1) {
		switch (opt) {
		case 'j':
			json = 1;
			break;
		case 'n':
			if (parse_count(optarg, 1000000, &top) < 0)
				return hw_cli_usage(NULL, "--top: '%s' is not a count from 0 to 1000000", optarg);
			break;
		case 'g': {
			uint64_t ns;

			/* "--growth 60" was seconds before it took units */
			if (opt_duration("--growth", optarg, HW_NS_PER_S, &ns))
				return 2;
			if (ns > 86400 * HW_NS_PER_S)
				return hw_cli_usage(NULL, "--growth: '%s' is longer than a day (1d)", optarg);
			growth = (double)ns / (double)HW_NS_PER_S;
			break;
		}
		case 'M':
		case 'P':
		case 'W':
		case 'L':
		case 'S':
		case 'R':
			if (census_opt(opt, optarg, &o, &src) < 0)
				return 2;
			break;
		case 'F':
			o.measure_floor = 1;
			break;
		case 'K':
			leaking = 1;
			break;
		case 'B':
			if (opt_size("--graph-limit", optarg, 1u << 20, &ro.graph_limit))
				return 2;
			break;
		case 's':
			o.sizes = 1;
			break;
		case 'O':
			if (strcmp(optarg, "count") == 0)
				by_bytes = 0;
			else if (strcmp(optarg, "bytes") == 0)
				by_bytes = 1;
			else
				return hw_cli_usage(NULL, "--sort: '%s' is not count or bytes", optarg);
			break;
		case 'h':
			print_usage();
			return 0;
		default:
			fputs("Try 'heapwatch --help'.\n", stderr);
			return 2;
		}
	}
	if (layout_source_opt(src, &o) < 0)
		return 2;
	if (optind >= argc)
		return hw_cli_usage(NULL, "dump: missing %s", "PID");
	if (optind + 1 < argc)
		return hw_cli_usage(NULL, "dump: unexpected argument '%s'", argv[optind + 1]);
	if (parse_pid(argv[optind], &pid) < 0)
		return hw_cli_usage(NULL, "dump: '%s' is not a process id", argv[optind]);
	if (top < 0)
		top = json ? 0 : 20;
	if (by_bytes && !o.sizes)
		return hw_cli_usage(NULL, "--sort bytes needs --sizes");
	if (o.sizes && growth >= 0)
		return hw_cli_usage(NULL, "--sizes and --growth cannot be combined");
	if (o.sizes && leaking)
		return hw_cli_usage(NULL, "dump: --sizes and --leaking do not go together%s", "");
	if (leaking && growth >= 0)
		return hw_cli_usage(NULL, "dump: --leaking and --growth do not go together%s", "");
	if (leaking)
		return dump_leaking(pid, &o, &ro, json, (size_t)top);

	hw_census_init(&c1);
	hw_census_init(&c2);
	s = hw_session_open(pid, &o, &e);
	if (!s)
		return hw_cli_fail(&e);
	rc = hw_session_census(s, &c1, &e);
	if (rc == 0 && growth >= 0) {
		if (wait_seconds(growth) < 0)
			hw_err_set(&e, HW_EINTR, 0, "interrupted before the second census"),
			rc = -1;
		else
			rc = hw_session_census(s, &c2, &e);
	}
	/* The counts are sound, but a thread was not given back at once:
	 * say so (the kernel releases it when we exit, just after). */
	for (int i = 0; rc == 0 && i < 2; i++) {
		const struct hw_census *c = i ? &c2 : &c1;

		if (c->detach_failures)
			fprintf(stderr, "heapwatch: warning: pid %d: %u thread(s) not released "
				"at once: %s\n", (int)pid, c->detach_failures, c->detach_error);
	}
	if (rc == 0 && c1.version_untested)
		fprintf(stderr, "heapwatch: warning: pid %d: CPython %s is newer than any "
			"version heapwatch was tested on; its layout (%s) was confirmed "
			"in the process before the census\n", (int)pid, c1.python,
			c1.layout_source);
	if (rc == 0) {
		if (by_bytes)
			hw_census_sort(&c1, 1);
		if (growth >= 0 && json)
			hw_print_growth_json(stdout, &c1, &c2, growth, (size_t)top);
		else if (growth >= 0)
			hw_print_growth_table(stdout, &c1, &c2, (size_t)top);
		else if (json)
			hw_print_json(stdout, &c1, (size_t)top);
		else
			hw_print_table(stdout, &c1, (size_t)top);
		if (fflush(stdout) != 0 || ferror(stdout)) {
			hw_err_set(&e, HW_EIO, errno, "writing the output");
			rc = -1;
		}
	}
	hw_census_fini(&c1);
	hw_census_fini(&c2);
	hw_session_free(s);
	return rc == 0 ? 0 : hw_cli_fail(&e);
}

/* ---- the referrer graph: `refs` and `dump --leaking` ---- */

/* Take the referrer graph of pid through a capture; on success *job
 * holds the answers (free with hw_refs_free) and m the figures. */
/* Largest copy of the whole resident heap `refs` takes instead of a
 * pre-walk: beyond it the copy would stop the target longer than the
 * pre-walk costs in CPU. */
#define REFS_SEED_MAX (256ull << 20)

static int take_refs(pid_t pid, const struct hw_census_opts *o,
		     const struct hw_refs_opts *ro, struct hw_refs **job,
		     struct hw_refs_meta *m, struct hw_err *e)
{
	struct hw_session *s = hw_session_open(pid, o, e);
	const struct hw_target *t;
	struct hw_objects *objects = NULL;
	struct hw_capture_stats st;
	struct hw_job j;
	static char python[32], source[16];
	int rc = -1, seeded = 0;

	*job = NULL;
	if (!s)
		return -1;
	t = hw_session_target(s);
	objects = hw_objects_new(t, hw_session_layout(s), hw_session_live_snap(s), e);
	if (!objects) {
		hw_err_prefix(e, "pid %d", (int)pid);
		goto out;
	}
	if (!(*job = hw_refs_new(ro, objects, t->interp_head_addr, e)))
		goto out;
	hw_refs_job(*job, &j);
	/* The graph reads nearly every page of the heap: copying the resident
	 * writable memory whole costs about the same pause as a learnt plan
	 * and spares the pre-walk, a second run of the whole job. */
	if ((seeded = hw_session_seed_resident(s, j.kind, REFS_SEED_MAX, e)) < 0)
		goto out;
	if (hw_session_capture(s, &j, &st, e) < 0)
		goto out;
	snprintf(python, sizeof python, "%s", t->version);
	snprintf(source, sizeof source, "%s", hw_layout_source_name(hw_session_layout(s)->source));
	memset(m, 0, sizeof *m);
	m->pid = pid;
	m->python = python;
	m->layout_source = source;
	m->mode = st.mode;
	m->pause_ns = st.pause_ns;
	m->max_pause_ns = st.max_pause_ns;
	m->copied_bytes = st.copied_bytes;
	m->job_ns = st.job_ns;
	m->stops = st.stops;
	m->attempts = st.attempts;
	m->partial = st.partial;
	m->plan = !st.attempts ? NULL : seeded ? "resident" : "pre-walk";
	rc = 0;
out:
	if (rc < 0) {
		hw_refs_free(*job);
		*job = NULL;
	}
	/* the answers own their strings: the model and session can go */
	hw_objects_free(objects);
	hw_session_free(s);
	return rc;
}

static int on_path(const char *prog)
{
	const char *path = getenv("PATH");
	char buf[4096];

	if (!path || !*path)
		path = "/usr/bin:/bin";
	while (*path) {
		size_t n = strcspn(path, ":");

		if (n && n + strlen(prog) + 2 < sizeof buf) {
			memcpy(buf, path, n);
			buf[n] = '/';
			strcpy(buf + n + 1, prog);
			if (access(buf, X_OK) == 0)
				return 1;
		}
		path += n + (path[n] == ':');
	}
	return 0;
}

/* Draw the graph into svg with Graphviz's dot (no shell). */
static int write_svg(const char *svg, const struct hw_refs_meta *m,
		     const struct hw_refs_result *r, struct hw_err *e)
{
	int fds[2], status;
	pid_t child;
	FILE *f;

	if (pipe(fds) < 0)
		return hw_err_set(e, HW_ESYS, errno, "--svg: pipe");
	child = fork();
	if (child < 0) {
		close(fds[0]);
		close(fds[1]);
		return hw_err_set(e, HW_ESYS, errno, "--svg: fork");
	}
	if (child == 0) {
		dup2(fds[0], 0);
		close(fds[0]);
		close(fds[1]);
		execlp("dot", "dot", "-Tsvg", "-o", svg, (char *)NULL);
		_exit(127);
	}
	close(fds[0]);
	f = fdopen(fds[1], "w");
	if (!f) {
		close(fds[1]);
		waitpid(child, &status, 0);
		return hw_err_set(e, HW_ESYS, errno, "--svg: fdopen");
	}
	hw_refs_print_dot(f, m, r);
	fclose(f);
	while (waitpid(child, &status, 0) < 0)
		if (errno != EINTR)
			return hw_err_set(e, HW_ESYS, errno, "--svg: waiting for dot");
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return hw_err_set(e, HW_EIO, 0, "--svg: Graphviz's dot failed writing '%s' (%s %d)",
				  svg, WIFEXITED(status) ? "exit status" : "signal",
				  WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
	return 0;
}

static int write_dot(const char *path, const struct hw_refs_meta *m,
		     const struct hw_refs_result *r, struct hw_err *e)
{
	FILE *f = strcmp(path, "-") == 0 ? stdout : fopen(path, "w");
	int bad;

	if (!f)
		return hw_err_set(e, HW_EIO, errno, "--dot: cannot write '%s'", path);
	bad = hw_refs_print_dot(f, m, r) < 0;
	if (f != stdout)
		bad |= fclose(f) != 0;
	else
		bad |= fflush(f) != 0;
	return bad ? hw_err_set(e, HW_EIO, errno, "--dot: writing '%s'", path) : 0;
}

static int dump_leaking(pid_t pid, const struct hw_census_opts *o,
			struct hw_refs_opts *ro, int json, size_t top)
{
	struct hw_refs *job;
	struct hw_refs_meta m;
	struct hw_err e;

	ro->want_leaking = 1;
	if (take_refs(pid, o, ro, &job, &m, &e) < 0)
		return hw_cli_fail(&e);
	if (json)
		hw_leaking_print_json(stdout, &m, hw_refs_result(job), top);
	else
		hw_leaking_print_text(stdout, &m, hw_refs_result(job), top);
	hw_refs_free(job);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		hw_err_set(&e, HW_EIO, errno, "writing the output");
		return hw_cli_fail(&e);
	}
	return 0;
}

static int cmd_refs(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "samples", required_argument, NULL, 'k' },
		{ "max-depth", required_argument, NULL, 'd' },
		{ "top", required_argument, NULL, 'n' },
		{ "dot", required_argument, NULL, 'D' },
		{ "svg", required_argument, NULL, 'V' },
		{ "graph-depth", required_argument, NULL, 'G' },
		{ "graph-limit", required_argument, NULL, 'B' },
		{ "mode", required_argument, NULL, 'M' },
		{ "max-pause", required_argument, NULL, 'P' },
		{ "snapshot-limit", required_argument, NULL, 'L' },
		{ "layout-source", required_argument, NULL, 'S' },
		{ "reader", required_argument, NULL, 'R' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct hw_census_opts o;
	struct hw_refs_opts ro;
	struct hw_refs_meta m;
	struct hw_refs *job = NULL;
	struct hw_refs_result *r;
	struct hw_err e;
	const char *src = getenv("HEAPWATCH_LAYOUT_SOURCE"), *dot = NULL, *svg = NULL;
	int json = 0, opt, rc = -1;
	long v;
	pid_t pid;

	hw_census_opts_default(&o);
	hw_refs_opts_default(&ro);
	hw_err_clear(&e);
	optind = 1;
	while ((opt = getopt_long(argc, argv, "+jk:d:n:h", lopts, NULL)) != -1) {
		switch (opt) {
		case 'j':
			json = 1;
			break;
		case 'k':
			if (parse_count(optarg, 1000, &v) < 0 || v == 0)
				return hw_cli_usage(NULL, "--samples: '%s' is not a count from 1 to 1000", optarg);
			ro.samples = (unsigned)v;
			break;
		case 'd':
			if (parse_count(optarg, 100000, &v) < 0)
				return hw_cli_usage(NULL, "--max-depth: '%s' is not a count from 0 to 100000", optarg);
			ro.max_depth = (unsigned)v;
			break;
		case 'n':
			if (parse_count(optarg, 100000, &v) < 0)
				return hw_cli_usage(NULL, "--top: '%s' is not a count from 0 to 100000", optarg);
			ro.holders = v ? (unsigned)v : 100000;
			break;
		case 'D':
			dot = optarg;
			break;
		case 'V':
			svg = optarg;
			break;
		case 'G':
			if (parse_count(optarg, 50, &v) < 0 || v == 0)
				return hw_cli_usage(NULL, "--graph-depth: '%s' is not a count from 1 to 50", optarg);
			ro.graph_depth = (unsigned)v;
			break;
		case 'B':
			if (opt_size("--graph-limit", optarg, 1u << 20, &ro.graph_limit))
				return 2;
			break;
		case 'M':
		case 'P':
		case 'W':
		case 'L':
		case 'S':
		case 'R':
			if (census_opt(opt, optarg, &o, &src) < 0)
				return 2;
			break;
		case 'h':
			print_usage();
			return 0;
		default:
			fputs("Try 'heapwatch --help'.\n", stderr);
			return 2;
		}
	}
	if (layout_source_opt(src, &o) < 0)
		return 2;
	if (optind >= argc)
		return hw_cli_usage(NULL, "refs: missing %s", "PID");
	if (parse_pid(argv[optind], &pid) < 0)
		return hw_cli_usage(NULL, "refs: '%s' is not a process id", argv[optind]);
	if (optind + 1 >= argc)
		return hw_cli_usage(NULL, "refs: missing %s", "TYPE");
	if (optind + 2 < argc)
		return hw_cli_usage(NULL, "refs: unexpected argument '%s'", argv[optind + 2]);
	if (!argv[optind + 1][0])
		return hw_cli_usage(NULL, "refs: %s is empty", "TYPE");
	if (svg && !on_path("dot")) {
		hw_err_set(&e, HW_EIO, 0, "--svg needs Graphviz's dot, which is not installed "
			   "(Debian: apt install graphviz); --dot FILE writes the graph without it");
		return hw_cli_fail(&e);
	}
	ro.type = argv[optind + 1];
	ro.want_graph = dot || svg;
	if (take_refs(pid, &o, &ro, &job, &m, &e) < 0)
		return hw_cli_fail(&e);
	r = hw_refs_result(job);
	m.asked = ro.type;
	if (json)
		hw_refs_print_json(stdout, &m, r);
	else
		hw_refs_print_text(stdout, &m, r);
	if (fflush(stdout) != 0 || ferror(stdout))
		hw_err_set(&e, HW_EIO, errno, "writing the output");
	else if (dot && r->type && write_dot(dot, &m, r, &e) < 0)
		;
	else if (svg && r->type && write_svg(svg, &m, r, &e) < 0)
		;
	else if (!r->type)
		hw_err_set(&e, HW_EIO, 0, "pid %d: no GC-tracked object of type '%s'%s", (int)pid,
			   ro.type, r->nsimilar ? " (see the similar names above)" : "");
	else
		rc = 0;
	hw_refs_free(job);
	return rc == 0 ? 0 : hw_cli_fail(&e);
}

static int cmd_daemon(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "log-level", required_argument, NULL, 'l' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *path = NULL;
	int opt, forced = 0;
	enum hw_log_level lvl = HW_LOG_INFO;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "+c:l:h", lopts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			path = optarg;
			break;
		case 'l':
			if (hw_log_level_parse(optarg, &lvl) < 0)
				return hw_cli_usage(NULL, "--log-level: '%s' is not error, warning, "
						   "notice, info or debug", optarg);
			forced = 1;
			break;
		case 'h':
			print_usage();
			return 0;
		default:
			fputs("Try 'heapwatch --help'.\n", stderr);
			return 2;
		}
	}
	if (optind < argc)
		return hw_cli_usage(NULL, "daemon: unexpected argument '%s'", argv[optind]);
	if (!path)
		return hw_cli_usage(NULL, "daemon: missing --config %s", "FILE");
	if (forced)
		hw_log_set_level(lvl);
	return hw_daemon_main(path, forced ? (int)lvl : -1);
}

/* A statsd host that does not resolve now is no error (the daemon keeps
 * trying, and DNS may simply not be up yet), but worth a warning. */
static void warn_host(const char *path, const struct hw_config *c)
{
	struct hw_err e;
	unsigned line = 0, col = 0;
	int noname;
	char where[64] = "", buf[HW_ERR_MSG_MAX + 256];
	const char *why;

	hw_err_clear(&e);
	if (hw_statsd_check_host(&c->statsd, &noname, &e) == 0)
		return;
	if (hw_config_where(c, "statsd.host", &line, &col) == 0)
		snprintf(where, sizeof where, ":%u:%u", line, col);
	/* "resolving 'HOST': REASON": the reason only, the host is named */
	hw_err_str(&e, buf, sizeof buf);
	why = strstr(buf, "': ") ? strstr(buf, "': ") + 3 : buf;
	fprintf(stderr, "heapwatch: warning: %s%s: key 'statsd.host': '%s' %s now (%s); "
		"the daemon will start and keep trying\n", path, where, c->statsd.host,
		noname ? "does not resolve" : "cannot be resolved", why);
}

static int cmd_check_config(int argc, char **argv)
{
	struct hw_config c;
	struct hw_err e;
	int dump = 0, i;
	const char *path = NULL;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--dump") == 0)
			dump = 1;
		else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			print_usage();
			return 0;
		} else if (argv[i][0] == '-' && argv[i][1])
			return hw_cli_usage(NULL, "check-config: unknown option '%s'", argv[i]);
		else if (path)
			return hw_cli_usage(NULL, "check-config: unexpected argument '%s'", argv[i]);
		else
			path = argv[i];
	}
	if (!path)
		return hw_cli_usage(NULL, "check-config: missing %s", "FILE");
	hw_config_defaults(&c);
	if (hw_config_load(path, &c, &e) < 0 || hw_config_check_perms(path, &e) < 0) {
		hw_config_fini(&c);
		return hw_cli_fail(&e);
	}
	warn_host(path, &c);
	if (dump)
		hw_config_dump(stdout, &c);
	else
		printf("%s: valid (%zu targets)\n", path, c.ntargets);
	hw_config_fini(&c);
	return 0;
}

static int cmd_status(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "status-file", required_argument, NULL, 'f' },
		{ "config", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *path = NULL, *config = NULL;
	char from_config[HW_CONFIG_STATUS_MAX + 1];
	struct hw_config cfg;
	struct timespec ts;
	struct hw_err e;
	int json = 0, opt, rc;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "+jf:c:h", lopts, NULL)) != -1) {
		switch (opt) {
		case 'j':
			json = 1;
			break;
		case 'f':
			path = optarg;
			break;
		case 'c':
			config = optarg;
			break;
		case 'h':
			print_usage();
			return 0;
		default:
			fputs("Try 'heapwatch --help'.\n", stderr);
			return 2;
		}
	}
	if (optind < argc)
		return hw_cli_usage(NULL, "status: unexpected argument '%s'", argv[optind]);
	if (path && config)
		return hw_cli_usage(NULL, "status: --status-file and --config both name the file; %s",
				   "give one");
	hw_err_clear(&e);
	if (!path) {
		/* The file the daemon writes: the configuration says where. */
		rc = hw_config_load_used(config, &cfg, &e);
		if (rc < 0)
			return hw_cli_fail(&e);
		snprintf(from_config, sizeof from_config, "%s",
			 rc ? cfg.status_file : HW_STATUS_FILE_DEFAULT);
		if (rc)
			hw_config_fini(&cfg);
		path = from_config;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	if (hw_status_show(path, json, stdout,
			   (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000, &e) < 0) {
		char buf[HW_ERR_MSG_MAX + 256];

		fflush(stdout);
		fprintf(stderr, "heapwatch: status: %s\n", hw_err_str(&e, buf, sizeof buf));
		return 1;
	}
	if (fflush(stdout) != 0 || ferror(stdout)) {
		hw_err_set(&e, HW_EIO, errno, "writing the output");
		return hw_cli_fail(&e);
	}
	return 0;
}

int main(int argc, char **argv)
{
	const char *cmd;

	/* A closed stdout pipe is an error to report, not a death. */
	signal(SIGPIPE, SIG_IGN);
	if (argc < 2)
		return hw_cli_usage(NULL, "missing command (dump, refs, daemon, check-config or %s)", "status");
	cmd = argv[1];
	if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 ||
	    strcmp(cmd, "help") == 0) {
		print_usage();
		return 0;
	}
	if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "-V") == 0) {
		printf("heapwatch %s\n", HW_VERSION);
		return 0;
	}
	if (strcmp(cmd, "dump") == 0)
		return cmd_dump(argc - 1, argv + 1);
	if (strcmp(cmd, "refs") == 0)
		return cmd_refs(argc - 1, argv + 1);
	if (strcmp(cmd, "daemon") == 0)
		return cmd_daemon(argc - 1, argv + 1);
	if (strcmp(cmd, "check-config") == 0)
		return cmd_check_config(argc - 1, argv + 1);
	if (strcmp(cmd, "status") == 0)
		return cmd_status(argc - 1, argv + 1);
	if (strcmp(cmd, "report") == 0)
		return hw_report_main(argc - 1, argv + 1);
	return hw_cli_usage(NULL, "unknown command '%s' (dump, refs, daemon, check-config, status, report)", cmd);
}
