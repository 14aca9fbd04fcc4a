/* check_config.c - heapwatch.yaml: defaults, the shipped file, a full
 * example, units, every broken file in tests/unit/config/ with its exact
 * message (expected.txt), limits, robustness, dump, diff, permissions.
 * Run from the project root. */
#include <check.h>

#include "runner.h"
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "heapwatch/config.h"

#define DIR_ "tests/unit/config/"
#define MS 1000000ull
#define SEC (1000 * MS)

/* ---- helpers ---- */

/* The whole file at path, NUL-terminated; *len gets its size. */
static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	ck_assert_msg(f != NULL, "%s: %s", path, strerror(errno));
	ck_assert_int_eq(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	ck_assert_int_ge(n, 0);
	rewind(f);
	buf = malloc((size_t)n + 1);
	ck_assert_ptr_nonnull(buf);
	ck_assert_uint_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	if (len)
		*len = (size_t)n;
	return buf;
}

/* Parse a NUL-terminated text; returns the parse's result. */
static int parse(const char *text, struct hw_config *c, struct hw_err *e)
{
	hw_err_clear(e);
	return hw_config_parse_buffer("t.yaml", text, strlen(text), c, e);
}

/* Parse text that must fail, and check the message. */
static void parse_fails(const char *text, const char *msg)
{
	struct hw_config c;
	struct hw_err e;
	char buf[HW_ERR_MSG_MAX + 256];

	ck_assert_msg(parse(text, &c, &e) == -1, "parsed: %s", text);
	ck_assert_int_eq(e.code, HW_ECONFIG);
	ck_assert_str_eq(hw_err_str(&e, buf, sizeof buf), msg);
	hw_config_fini(&c);
}

static char *dump_to_string(const struct hw_config *c)
{
	char *out = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&out, &n);

	ck_assert_ptr_nonnull(f);
	hw_config_dump(f, c);
	ck_assert_int_eq(fclose(f), 0);
	return out;
}

static int is_default(const struct hw_config *c, char *which, size_t size)
{
	struct hw_config d;
	int rc;

	hw_config_defaults(&d);
	rc = hw_config_diff(&d, c, which, size);
	hw_config_fini(&d);
	return rc == 0 && c->ntargets == 0 && c->targets == NULL;
}

/* ---- defaults and documentation ---- */

START_TEST(test_defaults)
{
	struct hw_config c;

	memset(&c, 0xa5, sizeof c);
	hw_config_defaults(&c);
	ck_assert_uint_eq(c.interval_ns, 10 * SEC);
	ck_assert_uint_eq(c.flush_interval_ns, 10 * SEC);
	ck_assert_uint_eq(c.top_types, 20);
	ck_assert_uint_eq(c.growth_types, 20);
	ck_assert_uint_eq(c.max_types, 200);
	ck_assert_uint_eq(c.watch_types.n, 0);
	ck_assert_ptr_null(c.watch_types.v);
	ck_assert_uint_eq(c.trend.warmup_ns, 20 * 60 * SEC);
	ck_assert_uint_eq(c.trend.bucket_ns, 5 * 60 * SEC);
	ck_assert_uint_eq(c.trend.window_ns, 60 * 60 * SEC);
	ck_assert_str_eq(c.status_file, "/run/heapwatch/status.json");
	ck_assert_uint_eq(c.max_new_series, 40);
	ck_assert_uint_eq(c.ring_capacity, 4096);
	ck_assert_uint_eq(c.max_pause_ns, 500 * MS);
	ck_assert_uint_eq(c.snapshot_limit, 256ull << 20);
	ck_assert_int_eq(c.log_level, HW_LOG_INFO);
	ck_assert_str_eq(c.statsd.host, "127.0.0.1");
	ck_assert_uint_eq(c.statsd.port, 8125);
	ck_assert_int_eq(c.statsd.protocol, HW_STATSD_UDP);
	ck_assert_str_eq(c.statsd.prefix, "heapwatch");
	ck_assert_uint_eq(c.statsd.max_packet, 1432);
	ck_assert_str_eq(c.statsd.path, "{prefix}.{target}.{slot}.{metric}");
	ck_assert(c.history.enabled);
	ck_assert_str_eq(c.history.path, HW_HISTORY_PATH_DEFAULT);
	ck_assert_uint_eq(c.history.retention_ns, 7ull * 86400 * SEC);
	ck_assert_uint_eq(c.history.full_resolution_ns, 86400 * SEC);
	ck_assert_uint_eq(c.history.thinned_interval_ns, 60 * SEC);
	ck_assert_ptr_null(c.targets);
	ck_assert_uint_eq(c.ntargets, 0);
	hw_config_fini(&c);
}
END_TEST

START_TEST(test_key_list)
{
	size_t n = 0;

	while (hw_config_key(n))
		n++;
	ck_assert_uint_ge(n, 20);
	ck_assert_str_eq(hw_config_key(0), "interval");
	ck_assert_ptr_null(hw_config_key(n));
	ck_assert_ptr_null(hw_config_key((size_t)-1));
	for (size_t i = 0; i < n; i++)
		for (size_t j = i + 1; j < n; j++)
			ck_assert_str_ne(hw_config_key(i), hw_config_key(j));
}
END_TEST

/* The shipped file loads to exactly the defaults, sets every top-level and
 * statsd key explicitly, and shows every target key in its examples; the
 * man page has a ".B key" paragraph for every key. */
START_TEST(test_shipped_file)
{
	struct hw_config c;
	struct hw_err e;
	char buf[HW_ERR_MSG_MAX + 256], which[64] = "";
	char *conf = slurp("conf/heapwatch.yaml", NULL);
	char *man = slurp("man/heapwatch.yaml.5", NULL);

	hw_err_clear(&e);
	ck_assert_msg(hw_config_load("conf/heapwatch.yaml", &c, &e) == 0, "%s",
		      hw_err_str(&e, buf, sizeof buf));
	ck_assert_msg(is_default(&c, which, sizeof which),
		      "conf/heapwatch.yaml: %s differs from its default", which);
	for (size_t i = 0; hw_config_key(i); i++) {
		const char *path = hw_config_key(i);
		const char *dot = strrchr(path, '.');
		const char *leaf = dot ? dot + 1 : path;
		char line[96];

		if (strncmp(path, "targets[]", 9) == 0)
			snprintf(line, sizeof line, "#    %s: ", leaf);
		else if (dot)
			snprintf(line, sizeof line, "\n  %s:", leaf);
		else
			snprintf(line, sizeof line, "\n%s:", leaf);
		if (strncmp(path, "targets[].name", 14) == 0)
			snprintf(line, sizeof line, "#  - name: ");
		ck_assert_msg(strstr(conf, line), "conf/heapwatch.yaml lacks '%s'", line);
		snprintf(line, sizeof line, "\n.B %s\n", leaf);
		ck_assert_msg(strstr(man, line), "man/heapwatch.yaml.5 lacks '.B %s'", leaf);
	}
	free(conf);
	free(man);
	hw_config_fini(&c);
}
END_TEST

/* ---- good files ---- */

START_TEST(test_full_example)
{
	struct hw_config c, back;
	struct hw_err e;
	char buf[HW_ERR_MSG_MAX + 256], which[64] = "";
	char *dump, *want;

	hw_err_clear(&e);
	ck_assert_msg(hw_config_load(DIR_ "good-full.yaml", &c, &e) == 0, "%s",
		      hw_err_str(&e, buf, sizeof buf));
	ck_assert_uint_eq(c.interval_ns, 5 * SEC);
	ck_assert_uint_eq(c.flush_interval_ns, 60 * SEC);
	ck_assert_uint_eq(c.top_types, 50);
	ck_assert_uint_eq(c.growth_types, 10);
	ck_assert_uint_eq(c.max_types, 300);
	ck_assert_uint_eq(c.watch_types.n, 2);
	ck_assert_str_eq(c.watch_types.v[0], "myapp.*");
	ck_assert_str_eq(c.watch_types.v[1], "lxml.etree._Element");
	ck_assert_uint_eq(c.trend.warmup_ns, 10 * 60 * SEC);
	ck_assert_uint_eq(c.trend.bucket_ns, 60 * SEC);
	ck_assert_uint_eq(c.trend.window_ns, 30 * 60 * SEC);
	ck_assert_str_eq(c.status_file, "/var/lib/heapwatch/status.json");
	ck_assert_uint_eq(c.max_new_series, 25);
	ck_assert_uint_eq(c.ring_capacity, 100000);
	ck_assert_uint_eq(c.max_pause_ns, 250 * MS);
	ck_assert_uint_eq(c.snapshot_limit, 1ull << 30);
	ck_assert_int_eq(c.log_level, HW_LOG_DEBUG);
	ck_assert_str_eq(c.statsd.host, "statsd.example.internal");
	ck_assert_uint_eq(c.statsd.port, 9125);
	ck_assert_int_eq(c.statsd.protocol, HW_STATSD_TCP);
	ck_assert_str_eq(c.statsd.prefix, "apps.heapwatch");
	ck_assert_uint_eq(c.statsd.max_packet, 8932);
	ck_assert_str_eq(c.statsd.path, "{prefix}.{metric}.{target}.{pid}");
	ck_assert(!c.history.enabled);
	ck_assert_str_eq(c.history.path, "/srv/heapwatch/h.db");
	ck_assert_uint_eq(c.history.retention_ns, 30ull * 86400 * SEC);
	ck_assert_uint_eq(c.history.full_resolution_ns, 2ull * 86400 * SEC);
	ck_assert_uint_eq(c.history.thinned_interval_ns, 300 * SEC);
	ck_assert_uint_eq(c.ntargets, 4);

	ck_assert_str_eq(c.targets[0].name, "web");
	ck_assert_int_eq(c.targets[0].by, HW_TARGET_PIDFILE);
	ck_assert_str_eq(c.targets[0].pidfile, "/run/gunicorn/web.pid");
	ck_assert_ptr_null(c.targets[0].match);
	ck_assert_int_eq(c.targets[0].pid, 0);
	ck_assert(c.targets[0].children);

	ck_assert_str_eq(c.targets[1].name, "celery");
	ck_assert_int_eq(c.targets[1].by, HW_TARGET_MATCH);
	ck_assert_str_eq(c.targets[1].match, "celery .*worker");
	ck_assert_ptr_null(c.targets[1].pidfile);
	ck_assert(!c.targets[1].children);

	ck_assert_str_eq(c.targets[2].name, "one");
	ck_assert_int_eq(c.targets[2].by, HW_TARGET_PID);
	ck_assert_int_eq(c.targets[2].pid, 1234);
	ck_assert(!c.targets[2].children);

	ck_assert_str_eq(c.targets[3].name, "flow_style-2");
	ck_assert_int_eq(c.targets[3].pid, 4194304);

	/* The dump is the expected text, and reads back to the same. */
	dump = dump_to_string(&c);
	want = slurp(DIR_ "good-full.expected", NULL);
	ck_assert_str_eq(dump, want);
	ck_assert_msg(parse(dump, &back, &e) == 0, "%s", hw_err_str(&e, buf, sizeof buf));
	ck_assert_msg(hw_config_diff(&c, &back, which, sizeof which) == 0,
		      "dump round trip changes %s", which);
	free(dump);
	free(want);
	hw_config_fini(&back);
	hw_config_fini(&c);
}
END_TEST

START_TEST(test_defaults_files)
{
	static const char *const files[] = {
		"good-empty.yaml", "good-comments.yaml", "good-null-sections.yaml",
		"good-empty-targets.yaml",
	};
	struct hw_config c;
	struct hw_err e;
	char path[256], buf[HW_ERR_MSG_MAX + 256], which[64] = "";

	for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
		snprintf(path, sizeof path, DIR_ "%s", files[i]);
		hw_err_clear(&e);
		ck_assert_msg(hw_config_load(path, &c, &e) == 0, "%s",
			      hw_err_str(&e, buf, sizeof buf));
		ck_assert_msg(is_default(&c, which, sizeof which), "%s: %s", path, which);
		hw_config_fini(&c);
	}
	/* A NULL buffer of length 0 is an empty file. */
	ck_assert_int_eq(hw_config_parse_buffer(NULL, NULL, 0, &c, &e), 0);
	ck_assert(is_default(&c, which, sizeof which));
	hw_config_fini(&c);
}
END_TEST

START_TEST(test_dump_defaults_round_trip)
{
	struct hw_config d, back;
	struct hw_err e;
	char buf[HW_ERR_MSG_MAX + 256], which[64] = "";
	char *dump;

	hw_config_defaults(&d);
	dump = dump_to_string(&d);
	ck_assert_msg(strstr(dump, "targets: []"), "%s", dump);
	ck_assert_msg(parse(dump, &back, &e) == 0, "%s", hw_err_str(&e, buf, sizeof buf));
	ck_assert_msg(is_default(&back, which, sizeof which), "%s", which);
	free(dump);
	hw_config_fini(&back);
	hw_config_fini(&d);
}
END_TEST

/* ---- units ---- */

START_TEST(test_watch_and_trend)
{
	struct hw_config c, d;
	struct hw_err e;
	char *text, which[64], name[200];
	size_t len = 0;

	/* empty list, null, a block list */
	ck_assert_int_eq(parse("watch_types: []\n", &c, &e), 0);
	ck_assert_uint_eq(c.watch_types.n, 0);
	hw_config_fini(&c);
	ck_assert_int_eq(parse("watch_types:\n", &c, &e), 0);
	ck_assert_uint_eq(c.watch_types.n, 0);
	hw_config_fini(&c);
	ck_assert_int_eq(parse("watch_types:\n  - a.*\n  - '[ab]?c'\n", &c, &e), 0);
	ck_assert_uint_eq(c.watch_types.n, 2);
	ck_assert_str_eq(c.watch_types.v[1], "[ab]?c");
	/* a changed entry is a change */
	ck_assert_int_eq(parse("watch_types:\n  - a.*\n  - '[ab]?d'\n", &d, &e), 0);
	ck_assert_int_eq(hw_config_diff(&c, &d, which, sizeof which), 1);
	ck_assert_str_eq(which, "watch_types");
	hw_config_fini(&c);
	hw_config_fini(&d);

	/* 127 characters fit, 128 do not; 256 entries fit, 257 do not */
	memset(name, 'x', 128);
	name[128] = '\0';
	text = malloc(16384);
	ck_assert_ptr_nonnull(text);
	snprintf(text, 16384, "watch_types: [%.127s]\n", name);
	ck_assert_int_eq(parse(text, &c, &e), 0);
	hw_config_fini(&c);
	snprintf(text, 16384, "watch_types: [%s]\n", name);
	parse_fails(text, "t.yaml:1:15: key 'watch_types[0]': "
		    "'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx...' is longer than 127 characters "
		    "(type names are cut there)");
	len = (size_t)snprintf(text, 16384, "watch_types:\n");
	for (int i = 0; i < 257; i++)
		len += (size_t)snprintf(text + len, 16384 - len, "  - t%d\n", i);
	parse_fails(text, "t.yaml:258:5: key 'watch_types': more than 256 entries");
	free(text);
	parse_fails("watch_types: [\"a\\x01\"]\n",
		    "t.yaml:1:15: key 'watch_types[0]': 'a?' contains a control character");
	parse_fails("watch_types: [\"\"]\n",
		    "t.yaml:1:15: key 'watch_types[0]': must not be empty");

	/* trend: 6 and 240 buckets; durations through the common units */
	ck_assert_int_eq(parse("trend: {bucket: 10s, window: 1m, warmup: 0s}\n", &c, &e), 0);
	ck_assert_uint_eq(c.trend.window_ns, 60 * SEC);
	ck_assert_uint_eq(c.trend.warmup_ns, 0);
	hw_config_fini(&c);
	ck_assert_int_eq(parse("trend: {bucket: 1s, window: 240s}\n", &c, &e), 0);
	hw_config_fini(&c);
	parse_fails("trend: {bucket: 1s, window: 241s}\n",
		    "t.yaml:1:29: key 'trend.window': 241s is 241 buckets of 1s; "
		    "a window needs a whole number of them from 6 to 240");
	parse_fails("trend:\n  bucket: 7m\n",
		    "t.yaml:2:11: key 'trend.window': 1h is 8.57 buckets of 7m; "
		    "a window needs a whole number of them from 6 to 240");
	parse_fails("trend: {bucket: 500ms}\n",
		    "t.yaml:1:17: key 'trend.bucket': 500ms is out of range 1s..1d");
	parse_fails("max_types: 0\n",
		    "t.yaml:1:12: key 'max_types': 0 is out of range 1..10000");
	parse_fails("max_types: 19\n",
		    "t.yaml:1:12: key 'max_types': 19 is below top_types (20); "
		    "it caps all the types a process sends");
	parse_fails("status_file: run/x.json\n",
		    "t.yaml:1:14: key 'status_file': 'run/x.json' is not an absolute path");
	parse_fails("status_file: /run/heapwatch/\n",
		    "t.yaml:1:14: key 'status_file': '/run/heapwatch/' names a directory; name the file");
}
END_TEST

START_TEST(test_durations)
{
	static const struct {
		const char *text;
		uint64_t ns;     /* 0: must fail */
	} cases[] = {
		{ "1ms", 1 * MS }, { "500ms", 500 * MS }, { "1s", SEC },
		{ "60s", 60 * SEC }, { "1m", 60 * SEC }, { "0000001s", SEC },
		{ "\"2s\"", 2 * SEC }, { "'3s'", 3 * SEC },
		{ "0ms", 0 }, { "0", 0 }, { "61s", 0 }, { "2m", 0 },
		{ "1000000ns", 1 * MS }, { "1.5s", 1500 * MS }, { "0.5m", 30 * SEC },
		{ "1h", 0 }, { "999us", 0 }, { "999999ns", 0 }, { "1.0000000005s", 0 },
		{ "1S", 0 }, { "1 s", 0 }, { "s", 0 }, { "1sec", 0 },
		{ "+1s", 0 }, { "-1s", 0 }, { "1e3ms", 0 }, { "1_000ms", 0 },
		{ "18446744073709551616ms", 0 }, { "213503982335h", 0 },
	};
	struct hw_config c;
	struct hw_err e;
	char text[128], buf[HW_ERR_MSG_MAX + 256];

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		snprintf(text, sizeof text, "max_pause: %s\n", cases[i].text);
		if (cases[i].ns) {
			ck_assert_msg(parse(text, &c, &e) == 0, "%s: %s", text,
				      hw_err_str(&e, buf, sizeof buf));
			ck_assert_uint_eq(c.max_pause_ns, cases[i].ns);
		} else {
			ck_assert_msg(parse(text, &c, &e) == -1, "accepted %s", text);
			ck_assert_int_eq(e.code, HW_ECONFIG);
		}
		hw_config_fini(&c);
	}
	/* The bounds themselves are in range; one step past is not. */
	ck_assert_int_eq(parse("interval: 100ms\nflush_interval: 1h\n", &c, &e), 0);
	ck_assert_uint_eq(c.interval_ns, 100 * MS);
	ck_assert_uint_eq(c.flush_interval_ns, 3600 * SEC);
	hw_config_fini(&c);
	ck_assert_int_eq(parse("interval: 60m\n", &c, &e), 0);
	hw_config_fini(&c);
	parse_fails("interval: 99ms\n",
		    "t.yaml:1:11: key 'interval': 99ms is out of range 100ms..1h");
	parse_fails("flush_interval: 3601s\n",
		    "t.yaml:1:17: key 'flush_interval': 3601s is out of range 100ms..1h");
	parse_fails("max_pause: 0ms\n",
		    "t.yaml:1:12: key 'max_pause': 0ms is out of range 1ms..1m");
}
END_TEST

START_TEST(test_sizes)
{
	static const struct {
		const char *text;
		uint64_t bytes;  /* 0: must fail */
	} cases[] = {
		{ "1048576", 1ull << 20 }, { "1048576B", 1ull << 20 },
		{ "1024KiB", 1ull << 20 }, { "1MiB", 1ull << 20 },
		{ "1GiB", 1ull << 30 }, { "1024GiB", 1ull << 40 },
		{ "3000MiB", 3000ull << 20 }, { "\"64MiB\"", 64ull << 20 },
		{ "1048575", 0 }, { "1023KiB", 0 }, { "1025GiB", 0 },
		{ "1TiB", 1ull << 40 }, { "1G", 1ull << 30 }, { "1.5GiB", 3ull << 29 },
		{ "2T", 0 }, { "1MB", 0 }, { "1mib", 0 }, { "1 MiB", 0 },
		{ "0.5B", 0 }, { "-1MiB", 0 }, { "MiB", 0 },
		{ "17179869184GiB", 0 }, { "99999999999999999999999", 0 },
	};
	struct hw_config c;
	struct hw_err e;
	char text[128], buf[HW_ERR_MSG_MAX + 256];

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		snprintf(text, sizeof text, "snapshot_limit: %s\n", cases[i].text);
		if (cases[i].bytes) {
			ck_assert_msg(parse(text, &c, &e) == 0, "%s: %s", text,
				      hw_err_str(&e, buf, sizeof buf));
			ck_assert_uint_eq(c.snapshot_limit, cases[i].bytes);
		} else {
			ck_assert_msg(parse(text, &c, &e) == -1, "accepted %s", text);
			ck_assert_int_eq(e.code, HW_ECONFIG);
		}
		hw_config_fini(&c);
	}
}
END_TEST

START_TEST(test_integers_and_booleans)
{
	struct hw_config c;
	struct hw_err e;

	ck_assert_int_eq(parse("top_types: 1\nring_capacity: 1000000\n"
			       "statsd: {port: 65535, max_packet: 64}\n", &c, &e), 0);
	ck_assert_uint_eq(c.top_types, 1);
	ck_assert_uint_eq(c.ring_capacity, 1000000);
	ck_assert_uint_eq(c.statsd.port, 65535);
	ck_assert_uint_eq(c.statsd.max_packet, 64);
	hw_config_fini(&c);
	ck_assert_int_eq(parse("top_types: 0010\n", &c, &e), 0);
	ck_assert_uint_eq(c.top_types, 10);   /* decimal, not YAML 1.1 octal */
	hw_config_fini(&c);
	parse_fails("top_types: 1001\n",
		    "t.yaml:1:12: key 'top_types': 1001 is out of range 1..1000");
	parse_fails("ring_capacity: 1000001\n",
		    "t.yaml:1:16: key 'ring_capacity': 1000001 is out of range 1..1000000");
	parse_fails("statsd:\n  max_packet: 63\n",
		    "t.yaml:2:15: key 'statsd.max_packet': 63 is out of range 64..65507");
	parse_fails("top_types: +5\n",
		    "t.yaml:1:12: key 'top_types': '+5' is not an integer");
	parse_fails("top_types: 1e3\n",
		    "t.yaml:1:12: key 'top_types': '1e3' is not an integer");

	ck_assert_int_eq(parse("targets:\n- {name: a, pid: 1, children: true}\n"
			       "- {name: b, pid: 2, children: false}\n", &c, &e), 0);
	ck_assert(c.targets[0].children);
	ck_assert(!c.targets[1].children);
	hw_config_fini(&c);
	static const char *const not_bools[] = {
		"yes", "no", "on", "off", "y", "n", "True", "FALSE", "1", "0", "~",
	};
	for (size_t i = 0; i < sizeof not_bools / sizeof not_bools[0]; i++) {
		char text[128];

		snprintf(text, sizeof text, "targets:\n- {name: a, pid: 1, children: %s}\n",
			 not_bools[i]);
		ck_assert_msg(parse(text, &c, &e) == -1, "accepted %s", not_bools[i]);
		hw_config_fini(&c);
	}
	ck_assert_int_eq(parse("log_level: \"debug\"\nstatsd: {protocol: tcp}\n",
			       &c, &e), 0);
	ck_assert_int_eq(c.log_level, HW_LOG_DEBUG);
	ck_assert_int_eq(c.statsd.protocol, HW_STATSD_TCP);
	hw_config_fini(&c);
	parse_fails("log_level: Info\n",
		    "t.yaml:1:12: key 'log_level': 'Info' is not one of error, warning, notice, info or debug");
}
END_TEST

/* ---- strings ---- */

START_TEST(test_strings)
{
	struct hw_config c;
	struct hw_err e;

	ck_assert_int_eq(parse("statsd:\n  host: \"::1\"\n  prefix: a.b_c-d\n"
			       "  path: \"x.{target}-{pid}.{metric}\"\n", &c, &e), 0);
	ck_assert_str_eq(c.statsd.host, "::1");
	ck_assert_str_eq(c.statsd.prefix, "a.b_c-d");
	ck_assert_str_eq(c.statsd.path, "x.{target}-{pid}.{metric}");
	hw_config_fini(&c);
	/* Strings are typed by their key: a plain 10 is the host "10". */
	ck_assert_int_eq(parse("statsd: {host: 10}\ntargets: [{name: 1, pid: 5}]\n",
			       &c, &e), 0);
	ck_assert_str_eq(c.statsd.host, "10");
	ck_assert_str_eq(c.targets[0].name, "1");
	hw_config_fini(&c);
	parse_fails("statsd:\n  host: \"a\\0b\"\n",
		    "t.yaml:2:9: key 'statsd.host': 'a?b' contains a NUL character");
	parse_fails("statsd:\n  host: -oProxy\n",
		    "t.yaml:2:9: key 'statsd.host': '-oProxy' is not a host name or IP address");
	parse_fails("statsd:\n  prefix: .a\n",
		    "t.yaml:2:11: key 'statsd.prefix': '.a' has an empty metric path node (a leading, trailing or double '.')");
	parse_fails("statsd:\n  path: \"{target}.{pid}.{metric\"\n",
		    "t.yaml:2:9: key 'statsd.path': '{' at character 16 is not closed");
	parse_fails("statsd:\n  path: \"{target}}.{pid}.{metric}\"\n",
		    "t.yaml:2:9: key 'statsd.path': '}' at character 9 has no '{'");
	parse_fails("statsd:\n  path: \"{target}:{pid}.{metric}\"\n",
		    "t.yaml:2:9: key 'statsd.path': ':' may not appear in a metric path (letters, digits, '_', '-', '.' and placeholders)");
	parse_fails("statsd:\n  path: \"{prefix}.{pid}.{metric}\"\n",
		    "t.yaml:2:9: key 'statsd.path': lacks {target}: the metrics of different targets would collide");
	parse_fails("statsd:\n  path: \"{prefix}.{target}.{pid}.\"\n",
		    "t.yaml:2:9: key 'statsd.path': lacks {metric}: the metrics of different kinds would collide");
	parse_fails("targets:\n- name: a\n  pidfile: \"/run/a\\n.pid\"\n",
		    "t.yaml:3:12: key 'targets[0].pidfile': '/run/a?.pid' contains a control character");
	parse_fails("targets:\n- name: \"\"\n  pid: 1\n",
		    "t.yaml:2:9: key 'targets[0].name': must not be empty");
	/* Non-ASCII text is kept as UTF-8 where a string allows it. */
	ck_assert_int_eq(parse("targets:\n- name: a\n  pidfile: /run/caf\xc3\xa9.pid\n",
			       &c, &e), 0);
	ck_assert_str_eq(c.targets[0].pidfile, "/run/caf\xc3\xa9.pid");
	hw_config_fini(&c);
}
END_TEST

/* Every string at its cap parses; one more character does not. */
START_TEST(test_string_caps)
{
	static const struct {
		const char *pre, *post; /* the text around the string */
		char fill;
		size_t max;
		const char *first; /* forced first character, or NULL */
	} cases[] = {
		{ "statsd: {host: ", "}\n", 'h', HW_CONFIG_HOST_MAX, NULL },
		{ "statsd: {prefix: ", "}\n", 'p', HW_CONFIG_PREFIX_MAX, NULL },
		{ "targets: [{name: ", ", pid: 1}]\n", 'n', HW_CONFIG_NAME_MAX, NULL },
		{ "targets: [{name: a, pidfile: ", "}]\n", 'f', HW_CONFIG_PIDFILE_MAX, "/" },
		{ "targets: [{name: a, match: ", "}]\n", 'm', HW_CONFIG_MATCH_MAX, NULL },
	};
	struct hw_config c;
	struct hw_err e;
	char buf[HW_ERR_MSG_MAX + 256];

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		for (size_t len = cases[i].max; len <= cases[i].max + 1; len++) {
			char *s = malloc(len + 1), *text = malloc(len + 128);

			memset(s, cases[i].fill, len);
			s[len] = '\0';
			if (cases[i].first)
				s[0] = cases[i].first[0];
			snprintf(text, len + 128, "%s%s%s", cases[i].pre, s, cases[i].post);
			if (len == cases[i].max)
				ck_assert_msg(parse(text, &c, &e) == 0, "%.60s: %s", text,
					      hw_err_str(&e, buf, sizeof buf));
			else
				ck_assert_msg(parse(text, &c, &e) == -1 &&
					      strstr(e.msg, "is longer than"), "%.60s", text);
			hw_config_fini(&c);
			free(s);
			free(text);
		}
	}
	/* The path template, whose placeholders take room too. */
	char text[512], tmpl[300];

	memset(tmpl, 'x', sizeof tmpl);
	memcpy(tmpl, "{target}.{pid}.{metric}.", 24);
	tmpl[HW_CONFIG_PATH_MAX] = '\0';
	snprintf(text, sizeof text, "statsd: {path: \"%s\"}\n", tmpl);
	ck_assert_int_eq(parse(text, &c, &e), 0);
	ck_assert_uint_eq(strlen(c.statsd.path), HW_CONFIG_PATH_MAX);
	hw_config_fini(&c);
	tmpl[HW_CONFIG_PATH_MAX] = 'x';
	tmpl[HW_CONFIG_PATH_MAX + 1] = '\0';
	snprintf(text, sizeof text, "statsd: {path: \"%s\"}\n", tmpl);
	ck_assert_int_eq(parse(text, &c, &e), -1);
	hw_config_fini(&c);
}
END_TEST

START_TEST(test_regex)
{
	static const char *const good[] = {
		"celery .*worker",
		"^/usr/bin/python3 .*manage\\.py (runserver|celery)$",
		"^(celery|python3 -m celery)( -[A-Za-z]+)*( --[a-z-]+(=[^ ]*)?)+ worker",
		"^gunicorn: (master|worker) \\[web( [a-z]+)?\\]",
		"[0-9]{1,1000}",          /* 1000 copies of one atom */
		"a+*|(b|c)+?|x+++",       /* nested three deep */
		"[{]9999[\\1\\w^$]",      /* plain members in brackets */
		"a{,5}b{3,}c{2}d{0}",
		"(a?b)+",                 /* a non-empty body */
	};
	static const struct {
		const char *re, *why;
	} bad[] = {
		{ "a{1,32767}", "is too complex: its repetitions unroll to more than 2000 elements" },
		{ "a{,32767}", "is too complex: its repetitions unroll to more than 2000 elements" },
		{ "[0-9]{1,1000}x{1,1000}", "is too complex: its repetitions unroll to more than 2000 elements" },
		{ "){0,10000}", "is too complex: its repetitions unroll to more than 2000 elements" },
		{ "(x{1,200}){1,200}", "is too complex: {m,n} may only follow a character, '.' or a bracket expression" },
		{ "(ab){2}", "is too complex: {m,n} may only follow a character, '.' or a bracket expression" },
		{ "a{1,40}{1,50}", "is too complex: {m,n} may only follow a character, '.' or a bracket expression" },
		{ "x++++", "is too complex: it nests repetitions more than 3 deep" },
		{ "((((n+)+)+)+)", "is too complex: it nests repetitions more than 3 deep" },
		{ "(b?|c?)+", "is too complex: it repeats something that can match the empty string" },
		{ "^(b?)*$", "is too complex: it repeats something that can match the empty string" },
		{ "a**", "is too complex: it repeats something that can match the empty string" },
		{ "(a|)+", "is too complex: it repeats something that can match the empty string" },
		{ "(a?(b?))+", "is too complex: it repeats something that can match the empty string" },
		{ "(^)+", "has '^' or '$' inside: '^' may only start the expression and '$' end it" },
		{ "a|^b", "has '^' or '$' inside: '^' may only start the expression and '$' end it" },
		{ "^b*$^b*$", "has '^' or '$' inside: '^' may only start the expression and '$' end it" },
		{ "\\bword\\b", "has a GNU escape such as \\b, \\< or \\w: use bracket expressions such as [[:space:]]" },
		{ "\\<word", "has a GNU escape such as \\b, \\< or \\w: use bracket expressions such as [[:space:]]" },
		{ "a\\sb", "has a GNU escape such as \\b, \\< or \\w: use bracket expressions such as [[:space:]]" },
		{ "(a*)*b\\1", "is too complex: it repeats something that can match the empty string" },
		{ "(a+)b\\1", "has a back-reference (\\1..\\9), which can make matching take exponential time" },
		{ "*x", "is not a valid extended regular expression: Invalid preceding regular expression" },
		{ "celery (", "is not a valid extended regular expression: Unmatched ( or \\(" },
	};
	struct hw_config c;
	struct hw_err e;
	char text[256], want[512], buf[HW_ERR_MSG_MAX + 256];

	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
		/* As a single-quoted YAML string: no escapes. */
		snprintf(text, sizeof text, "targets: [{name: a, match: '%s'}]\n", good[i]);
		ck_assert_msg(parse(text, &c, &e) == 0, "%s: %s", good[i],
			      hw_err_str(&e, buf, sizeof buf));
		ck_assert_str_eq(c.targets[0].match, good[i]);
		hw_config_fini(&c);
	}
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		snprintf(text, sizeof text, "targets: [{name: a, match: '%s'}]\n", bad[i].re);
		snprintf(want, sizeof want, "t.yaml:1:28: key 'targets[0].match': '%s' %s",
			 bad[i].re, bad[i].why);
		parse_fails(text, want);
	}
}
END_TEST

/* ---- broken files ---- */

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* expected.txt: "FILE<TAB>MESSAGE" per line, MESSAGE as hw_err_str()
 * prints it when the file is loaded as tests/unit/config/FILE. */
START_TEST(test_bad_files)
{
	char *text = slurp(DIR_ "expected.txt", NULL), *line, *save = NULL;
	char *listed[256], *found[256];
	size_t nlisted = 0, nfound = 0;
	DIR *d;
	struct dirent *de;

	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *tab = strchr(line, '\t'), path[256], buf[HW_ERR_MSG_MAX + 256];
		struct hw_config c;
		struct hw_err e;

		if (line[0] == '#')
			continue;
		ck_assert_msg(tab != NULL, "expected.txt: no tab in '%s'", line);
		*tab = '\0';
		ck_assert_uint_lt(nlisted, 256);
		listed[nlisted++] = line;
		snprintf(path, sizeof path, DIR_ "%s", line);
		hw_err_clear(&e);
		ck_assert_msg(hw_config_load(path, &c, &e) == -1, "%s loaded", path);
		ck_assert_msg(e.code == HW_ECONFIG, "%s: code %s", path,
			      hw_err_code_name(e.code));
		ck_assert_str_eq(hw_err_str(&e, buf, sizeof buf), tab + 1);
		/* A failed parse leaves the defaults. */
		ck_assert_msg(is_default(&c, buf, sizeof buf), "%s: %s", path, buf);
		hw_config_fini(&c);
	}
	ck_assert_uint_ge(nlisted, 25);

	/* Every bad-*.yaml is listed, and only those. */
	d = opendir(DIR_);
	ck_assert_ptr_nonnull(d);
	while ((de = readdir(d))) {
		size_t n = strlen(de->d_name);

		if (strncmp(de->d_name, "bad-", 4) == 0 && n > 5 &&
		    strcmp(de->d_name + n - 5, ".yaml") == 0) {
			ck_assert_uint_lt(nfound, 256);
			found[nfound++] = strdup(de->d_name);
		}
	}
	closedir(d);
	qsort(listed, nlisted, sizeof listed[0], cmp_str);
	qsort(found, nfound, sizeof found[0], cmp_str);
	for (size_t i = 0; i < nlisted || i < nfound; i++) {
		ck_assert_msg(i < nlisted && i < nfound &&
			      strcmp(listed[i], found[i]) == 0,
			      "expected.txt and the bad-*.yaml files differ at %s",
			      i < nfound ? found[i] : listed[i]);
	}
	for (size_t i = 0; i < nfound; i++)
		free(found[i]);
	free(text);
}
END_TEST

/* ---- limits and robustness ---- */

static char *targets_text(size_t n)
{
	size_t size = 16 + n * 40, len;
	char *t = malloc(size);

	len = (size_t)snprintf(t, size, "targets:\n");
	for (size_t i = 0; i < n; i++)
		len += (size_t)snprintf(t + len, size - len, "- {name: t%zu, pid: %zu}\n",
					i, i + 1);
	return t;
}

START_TEST(test_limits)
{
	struct hw_config c;
	struct hw_err e;
	char buf[HW_ERR_MSG_MAX + 256], *t;
	size_t len;

	t = targets_text(HW_CONFIG_TARGETS_MAX);
	ck_assert_msg(parse(t, &c, &e) == 0, "%s", hw_err_str(&e, buf, sizeof buf));
	ck_assert_uint_eq(c.ntargets, HW_CONFIG_TARGETS_MAX);
	ck_assert_str_eq(c.targets[999].name, "t999");
	hw_config_fini(&c);
	free(t);
	t = targets_text(HW_CONFIG_TARGETS_MAX + 1);
	parse_fails(t, "t.yaml:1002:3: key 'targets': more than 1000 targets");
	free(t);

	/* Size: exactly at the cap is read (all comment), one more is not. */
	len = HW_CONFIG_FILE_MAX + 1;
	t = malloc(len);
	memset(t, '#', len);
	t[len - 2] = '\n';
	ck_assert_int_eq(hw_config_parse_buffer("big", t, len - 1, &c, &e), 0);
	hw_config_fini(&c);
	ck_assert_int_eq(hw_config_parse_buffer("big", t, len, &c, &e), -1);
	ck_assert_str_eq(e.msg, "big: larger than 1048576 bytes");

	/* Deep nesting stops at the first node the schema does not expect. */
	memset(t, '[', len - 1);
	memcpy(t, "interval: ", 10);
	ck_assert_int_eq(hw_config_parse_buffer("deep", t, len - 1, &c, &e), -1);
	ck_assert_str_eq(e.msg, "deep:1:11: key 'interval': expected a duration such as 10s, got a list");
	hw_config_fini(&c);
	free(t);
}
END_TEST

/* The parser must survive anything: every prefix of the full example and
 * of a broken file, and every single-byte change of the full example to a
 * few bytes that matter to YAML.  Failures leave defaults and carry a
 * "name:line:col: " or "name: " message. */
START_TEST(test_robust)
{
	static const char repl[] = { '\0', '\t', '\n', ' ', ':', '-', '[', '{',
				     '"', '\'', '&', '*', '!', '#', '|', '9',
				     '\xff', '\xc3' };
	static const char *const files[] = {
		DIR_ "good-full.yaml", DIR_ "bad-utf8.yaml", DIR_ "bad-anchor.yaml",
	};
	struct hw_config c;
	struct hw_err e;
	char which[64];

	for (size_t f = 0; f < sizeof files / sizeof files[0]; f++) {
		size_t len;
		char *data = slurp(files[f], &len), *copy = malloc(len + 1);

		for (size_t n = 0; n <= len; n++) {
			/* Exactly n bytes, so that a sanitizer sees reads past. */
			char *prefix = malloc(n ? n : 1);

			memcpy(prefix, data, n);
			if (hw_config_parse_buffer("r", prefix, n, &c, &e) != 0) {
				ck_assert_int_eq(e.code, HW_ECONFIG);
				ck_assert_msg(strncmp(e.msg, "r:", 2) == 0, "%s", e.msg);
				ck_assert(is_default(&c, which, sizeof which));
			}
			hw_config_fini(&c);
			free(prefix);
		}
		for (size_t i = 0; f == 0 && i < len; i++) {
			for (size_t r = 0; r < sizeof repl; r++) {
				memcpy(copy, data, len);
				copy[i] = repl[r];
				if (hw_config_parse_buffer("r", copy, len, &c, &e) != 0) {
					ck_assert_int_eq(e.code, HW_ECONFIG);
					ck_assert_msg(strncmp(e.msg, "r:", 2) == 0, "%s", e.msg);
					ck_assert(strchr(e.msg, '\n') == NULL);
				}
				hw_config_fini(&c);
			}
		}
		free(copy);
		free(data);
	}
}
END_TEST

/* ---- API odds and ends ---- */

START_TEST(test_fini_and_diff)
{
	struct hw_config c, d;
	struct hw_err e;
	char which[64];

	hw_config_fini(NULL);
	memset(&c, 0, sizeof c);
	hw_config_fini(&c);
	hw_config_fini(&c);

	hw_config_defaults(&d);
	ck_assert_int_eq(parse("statsd: {port: 9}\n", &c, &e), 0);
	ck_assert_int_eq(hw_config_diff(&d, &c, which, sizeof which), 1);
	ck_assert_str_eq(which, "statsd.port");
	ck_assert_int_eq(hw_config_diff(&d, &c, NULL, 0), 1);
	hw_config_fini(&c);
	ck_assert_int_eq(parse("targets: [{name: a, pid: 1}]\n", &c, &e), 0);
	ck_assert_int_eq(hw_config_diff(&d, &c, which, sizeof which), 1);
	ck_assert_str_eq(which, "targets");
	ck_assert_int_eq(parse("targets: [{name: a, pid: 1}]\n", &d, &e), 0);
	ck_assert_int_eq(hw_config_diff(&d, &c, which, sizeof which), 0);
	hw_config_fini(&d);
	ck_assert_int_eq(parse("targets: [{name: a, pidfile: /p}]\n", &d, &e), 0);
	ck_assert_int_eq(hw_config_diff(&d, &c, which, sizeof which), 1);
	ck_assert_str_eq(which, "targets[0]");
	hw_config_fini(&d);
	ck_assert_int_eq(parse("targets: [{name: a, pid: 1, children: true}]\n", &d, &e), 0);
	ck_assert_int_eq(hw_config_diff(&d, &c, which, sizeof which), 1);
	ck_assert_str_eq(which, "targets[0].children");
	hw_config_fini(&d);
	hw_config_fini(&c);

	/* A failed parse into a struct leaves defaults; fini stays safe. */
	ck_assert_int_eq(parse("targets: [{name: a, pid: 1}, {name: a, pid: 2}]\n",
			       &c, &e), -1);
	ck_assert(is_default(&c, which, sizeof which));
	hw_config_fini(&c);
}
END_TEST

/* Where keys were written, for warnings after the parse. */
START_TEST(test_where)
{
	struct hw_config c;
	struct hw_err e;
	unsigned line = 0, col = 0;

	ck_assert_int_eq(parse("# x\ninterval: 10s\nstatsd:\n  port: 9\n    \n  host:   example.org\n", &c, &e), 0);
	ck_assert_int_eq(hw_config_where(&c, "statsd.host", &line, &col), 0);
	ck_assert_uint_eq(line, 6);
	ck_assert_uint_eq(col, 11);
	ck_assert_int_eq(hw_config_where(&c, "interval", &line, &col), 0);
	ck_assert_uint_eq(line, 2);
	ck_assert_uint_eq(col, 11);
	/* not given, not such a key */
	ck_assert_int_eq(hw_config_where(&c, "flush_interval", &line, &col), -1);
	ck_assert_int_eq(hw_config_where(&c, "targets[].name", &line, &col), -1);
	ck_assert_int_eq(hw_config_where(&c, "nonsense", &line, &col), -1);
	hw_config_fini(&c);
	hw_config_defaults(&c);
	ck_assert_int_eq(hw_config_where(&c, "statsd.host", &line, &col), -1);
}
END_TEST

START_TEST(test_load_errors)
{
	struct hw_config c;
	struct hw_err e;
	char buf[HW_ERR_MSG_MAX + 256];

	ck_assert_int_eq(hw_config_load(DIR_ "no-such-file.yaml", &c, &e), -1);
	ck_assert_int_eq(e.code, HW_ECONFIG);
	ck_assert_int_eq(e.sys_errno, ENOENT);
	ck_assert_str_eq(hw_err_str(&e, buf, sizeof buf),
			 DIR_ "no-such-file.yaml: No such file or directory");
	hw_config_fini(&c);
	ck_assert_int_eq(hw_config_load(DIR_, &c, &e), -1);
	ck_assert_int_eq(e.sys_errno, EISDIR);
	hw_config_fini(&c);
	ck_assert_int_eq(hw_err_exit_status(&e), 2);
}
END_TEST

START_TEST(test_perms)
{
	char path[] = "/tmp/check_config_XXXXXX";
	struct hw_err e;
	char buf[HW_ERR_MSG_MAX + 256], want[256];
	int fd = mkstemp(path);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, "interval: 1s\n", 13), 13);
	close(fd);
	snprintf(want, sizeof want,
		 "%s: writable by others than root; refusing to run as root with it", path);

	ck_assert_int_eq(chmod(path, 0666), 0);
	if (geteuid() != 0) {
		/* Not root: nothing to refuse.  The refusals need root. */
		ck_assert_int_eq(hw_config_check_perms(path, &e), 0);
		unlink(path);
		hw_skip_part("config perms: not root, the refusals (which need root) left out");
		return;
	}
	hw_err_clear(&e);
	ck_assert_int_eq(hw_config_check_perms(path, &e), -1);
	ck_assert_int_eq(e.code, HW_ECONFIG);
	ck_assert_str_eq(hw_err_str(&e, buf, sizeof buf), want);
	ck_assert_int_eq(chmod(path, 0620), 0);
	ck_assert_int_eq(hw_config_check_perms(path, &e), -1);
	ck_assert_int_eq(chmod(path, 0644), 0);
	ck_assert_int_eq(hw_config_check_perms(path, &e), 0);
	ck_assert_int_eq(chmod(path, 0600), 0);
	ck_assert_int_eq(hw_config_check_perms(path, &e), 0);
	ck_assert_int_eq(chown(path, 65534, 0), 0);  /* owned by nobody */
	ck_assert_int_eq(hw_config_check_perms(path, &e), -1);
	ck_assert_str_eq(hw_err_str(&e, buf, sizeof buf), want);
	ck_assert_int_eq(unlink(path), 0);
	ck_assert_int_eq(hw_config_check_perms(path, &e), -1);
	ck_assert_int_eq(e.sys_errno, ENOENT);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("config");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_defaults);
	tcase_add_test(tc, test_key_list);
	tcase_add_test(tc, test_shipped_file);
	tcase_add_test(tc, test_full_example);
	tcase_add_test(tc, test_defaults_files);
	tcase_add_test(tc, test_dump_defaults_round_trip);
	tcase_add_test(tc, test_watch_and_trend);
	tcase_add_test(tc, test_durations);
	tcase_add_test(tc, test_sizes);
	tcase_add_test(tc, test_integers_and_booleans);
	tcase_add_test(tc, test_strings);
	tcase_add_test(tc, test_string_caps);
	tcase_add_test(tc, test_regex);
	tcase_add_test(tc, test_bad_files);
	tcase_add_test(tc, test_limits);
	tcase_add_test(tc, test_robust);
	tcase_add_test(tc, test_fini_and_diff);
	tcase_add_test(tc, test_where);
	tcase_add_test(tc, test_load_errors);
	tcase_add_test(tc, test_perms);
	suite_add_tcase(s, tc);
	return hw_run_suite(s);
}
