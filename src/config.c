/* config.c - heapwatch.yaml; see include/heapwatch/config.h.
 *
 * The file is read with libyaml's event API and checked against one table
 * of keys (keys[] below) as the events arrive: the parse stops at the
 * first event the table does not expect, so nesting depth and work stay
 * bounded by the schema, not by the input.  No YAML tag resolution is
 * used: a key's row says what its value must look like. */
#include "heapwatch/config.h"
#include "heapwatch/units.h"
#include "heapwatch/trend.h"

#include <errno.h>
#include <fcntl.h>
#include <regex.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

/* ------------------------------------------------------------------ */
/* The key table                                                      */
/* ------------------------------------------------------------------ */

enum ktype {
	K_DURATION, /* uint64_t nanoseconds */
	K_SIZE,     /* uint64_t bytes */
	K_UINT,     /* unsigned (or pid_t, for values <= INT_MAX) */
	K_ENUM,     /* an enum, stored as int */
	K_STR,      /* char[] inside the struct */
	K_STRP,     /* char *, malloc'ed */
	K_BOOL,     /* bool */
	K_SECTION,  /* a mapping of keys of scope .sub (statsd, history, trend) */
	K_LIST,     /* the targets sequence */
	K_STRLIST,  /* a sequence of strings (struct hw_strlist) */
};

enum scope {
	S_TOP,      /* offsets into struct hw_config */
	S_STATSD,   /* offsets into struct hw_config too (statsd.x) */
	S_HISTORY,  /* offsets into struct hw_config too (history.x) */
	S_TARGET,   /* offsets into struct hw_config_target */
	S_TREND,    /* offsets into struct hw_config (trend.x) */
};

struct enum_name {
	const char *name;
	int value;
};

/* Extra validation of a string value (already free of NUL and within its
 * length bounds): 0, or -1 with the reason in why. */
typedef int check_fn(const char *s, char *why, size_t size);

struct key {
	const char *path;      /* "statsd.port"; the text after the last '.'
				  is the key as written in the file */
	enum scope scope;
	enum ktype type;
	enum scope sub;        /* K_SECTION: the scope of its keys */
	size_t off;            /* of the field, see enum scope */
	size_t size;           /* K_STR: size of the char array */
	uint64_t min, max;     /* numbers: bounds; strings: length bounds */
	const char *def;       /* default, spelled as in the file; NULL if
				  none (required keys, selectors, sections) */
	const struct enum_name *names; /* K_ENUM: NULL-terminated */
	check_fn *check;       /* strings: NULL or extra validation */
	enum hw_target_by by;  /* target selectors: which one this key is */
	bool required;
	const char *help;      /* one line, for dump comments */
};

#define MS   1000000ull
#define SEC  (1000 * MS)
#define MIN  (60 * SEC)
#define HOUR (60 * MIN)
#define DAY  (24 * HOUR)
#define KIB  1024ull
#define MIB  (1024 * KIB)
#define GIB  (1024 * MIB)

/* offsetof that also checks the member's type: a row whose type does not
 * match its field fails to compile (no _Generic association). */
#define FIELD(S, f, ...) \
	(offsetof(S, f) + 0 * sizeof(_Generic(((S *)0)->f, __VA_ARGS__: 1)))
/* A char array field with room for hi characters and the NUL. */
#define STRFIELD(S, f, hi) .off = FIELD(S, f, char *), \
	.size = sizeof(((S *)0)->f) + \
		0 * sizeof(char[sizeof(((S *)0)->f) > (hi) ? 1 : -1]), \
	.min = 1, .max = (hi)

#define CF struct hw_config
#define TF struct hw_config_target

_Static_assert(sizeof(enum hw_log_level) == sizeof(int), "enum size");
_Static_assert(sizeof(enum hw_statsd_proto) == sizeof(int), "enum size");
_Static_assert(sizeof(pid_t) == sizeof(unsigned), "pid_t size");

static const struct enum_name log_levels[] = {
	{ "error", HW_LOG_ERR }, { "warning", HW_LOG_WARNING },
	{ "notice", HW_LOG_NOTICE }, { "info", HW_LOG_INFO },
	{ "debug", HW_LOG_DEBUG }, { NULL, 0 },
};

static const struct enum_name protocols[] = {
	{ "udp", HW_STATSD_UDP }, { "tcp", HW_STATSD_TCP }, { NULL, 0 },
};

static check_fn check_host, check_prefix, check_template, check_name,
	check_match, check_abspath, check_status_file;

static const struct key keys[] = {
	{ .path = "interval", .scope = S_TOP, .type = K_DURATION,
	  .off = FIELD(CF, interval_ns, uint64_t),
	  .min = 100 * MS, .max = HOUR, .def = "10s",
	  .help = "how often each target is sampled" },
	{ .path = "flush_interval", .scope = S_TOP, .type = K_DURATION,
	  .off = FIELD(CF, flush_interval_ns, uint64_t),
	  .min = 100 * MS, .max = HOUR, .def = "10s",
	  .help = "how often the ring is flushed to statsd" },
	{ .path = "top_types", .scope = S_TOP, .type = K_UINT,
	  .off = FIELD(CF, top_types, unsigned),
	  .min = 1, .max = 1000, .def = "20",
	  .help = "per sample, how many types (by count) become gauges" },
	{ .path = "growth_types", .scope = S_TOP, .type = K_UINT,
	  .off = FIELD(CF, growth_types, unsigned),
	  .min = 0, .max = 1000, .def = "20",
	  .help = "per sample, how many of the types that grew most become gauges" },
	{ .path = "watch_types", .scope = S_TOP, .type = K_STRLIST,
	  .off = FIELD(CF, watch_types, struct hw_strlist),
	  .min = 1, .max = HW_CONFIG_WATCH_LEN,
	  .help = "types always sent: exact names or shell patterns (\"myapp.*\")" },
	{ .path = "max_types", .scope = S_TOP, .type = K_UINT,
	  .off = FIELD(CF, max_types, unsigned),
	  .min = 1, .max = 10000, .def = "200",
	  .help = "most types one process sends; once sent, a type stays until it exits" },
	{ .path = "max_new_series_per_minute", .scope = S_TOP, .type = K_UINT,
	  .off = FIELD(CF, max_new_series, unsigned),
	  .min = 1, .max = 100000, .def = "40",
	  .help = "new metric names asked of statsd/carbon per minute; more wait" },
	{ .path = "sizes", .scope = S_TOP, .type = K_BOOL,
	  .off = FIELD(CF, sizes, bool), .def = "false",
	  .help = "also send bytes per type (bytes.TYPE), as sys.getsizeof counts them" },
	{ .path = "ring_capacity", .scope = S_TOP, .type = K_UINT,
	  .off = FIELD(CF, ring_capacity, unsigned),
	  .min = 1, .max = 1000000, .def = "4096",
	  .help = "samples kept while statsd is unreachable; oldest dropped" },
	{ .path = "max_pause", .scope = S_TOP, .type = K_DURATION,
	  .off = FIELD(CF, max_pause_ns, uint64_t),
	  .min = MS, .max = 60 * SEC, .def = "500ms",
	  .help = "longest a target may be stopped; past it the census is cut short" },
	{ .path = "snapshot_limit", .scope = S_TOP, .type = K_SIZE,
	  .off = FIELD(CF, snapshot_limit, uint64_t),
	  .min = MIB, .max = 1024 * GIB, .def = "256MiB",
	  .help = "largest private copy of a target's heap for one census" },
	{ .path = "log_level", .scope = S_TOP, .type = K_ENUM,
	  .off = FIELD(CF, log_level, enum hw_log_level),
	  .names = log_levels, .def = "info",
	  .help = "error, warning, notice, info or debug" },
	{ .path = "statsd", .scope = S_TOP, .type = K_SECTION, .sub = S_STATSD,
	  .help = "where the gauges go" },
	{ .path = "statsd.host", .scope = S_STATSD, .type = K_STR,
	  STRFIELD(CF, statsd.host, HW_CONFIG_HOST_MAX),
	  .check = check_host, .def = "127.0.0.1",
	  .help = "statsd server: host name or IP address" },
	{ .path = "statsd.port", .scope = S_STATSD, .type = K_UINT,
	  .off = FIELD(CF, statsd.port, unsigned),
	  .min = 1, .max = 65535, .def = "8125",
	  .help = "statsd server port" },
	{ .path = "statsd.protocol", .scope = S_STATSD, .type = K_ENUM,
	  .off = FIELD(CF, statsd.protocol, enum hw_statsd_proto),
	  .names = protocols, .def = "udp",
	  .help = "udp or tcp" },
	{ .path = "statsd.prefix", .scope = S_STATSD, .type = K_STR,
	  STRFIELD(CF, statsd.prefix, HW_CONFIG_PREFIX_MAX),
	  .check = check_prefix, .def = "heapwatch",
	  .help = "first node(s) of every metric path" },
	{ .path = "statsd.max_packet", .scope = S_STATSD, .type = K_UINT,
	  .off = FIELD(CF, statsd.max_packet, unsigned),
	  .min = 64, .max = 65507, .def = "1432",
	  .help = "bytes per UDP datagram / TCP write batch" },
	{ .path = "statsd.path", .scope = S_STATSD, .type = K_STR,
	  STRFIELD(CF, statsd.path, HW_CONFIG_PATH_MAX),
	  .check = check_template, .def = "{prefix}.{target}.{slot}.{metric}",
	  .help = "metric path template: {prefix} {target} {slot} {pid} {metric}" },
	{ .path = "history", .scope = S_TOP, .type = K_SECTION, .sub = S_HISTORY,
	  .help = "the local record of every sample (heapwatch report)" },
	{ .path = "history.enabled", .scope = S_HISTORY, .type = K_BOOL,
	  .off = FIELD(CF, history.enabled, bool), .def = "true",
	  .help = "keep the history at all" },
	{ .path = "history.path", .scope = S_HISTORY, .type = K_STR,
	  STRFIELD(CF, history.path, HW_CONFIG_HISTORY_PATH_MAX),
	  .check = check_abspath, .def = HW_HISTORY_PATH_DEFAULT,
	  .help = "SQLite database; its directory must exist" },
	{ .path = "history.retention", .scope = S_HISTORY, .type = K_DURATION,
	  .off = FIELD(CF, history.retention_ns, uint64_t),
	  .min = 10 * SEC, .max = 3650 * DAY, .def = "7d",
	  .help = "samples older than this are deleted" },
	{ .path = "history.full_resolution", .scope = S_HISTORY, .type = K_DURATION,
	  .off = FIELD(CF, history.full_resolution_ns, uint64_t),
	  .min = 0, .max = 3650 * DAY, .def = "1d",
	  .help = "every sample is kept this long, then thinned" },
	{ .path = "history.thinned_interval", .scope = S_HISTORY, .type = K_DURATION,
	  .off = FIELD(CF, history.thinned_interval_ns, uint64_t),
	  .min = SEC, .max = DAY, .def = "1m",
	  .help = "after full_resolution, one sample per process per interval" },
	{ .path = "trend", .scope = S_TOP, .type = K_SECTION, .sub = S_TREND,
	  .help = "how leaks are told from sawtooths, caches and surges" },
	{ .path = "trend.warmup", .scope = S_TREND, .type = K_DURATION,
	  .off = FIELD(CF, trend.warmup_ns, uint64_t),
	  .min = 0, .max = 24 * HOUR, .def = "20m",
	  .help = "a process younger than this is warming, not judged" },
	{ .path = "trend.bucket", .scope = S_TREND, .type = K_DURATION,
	  .off = FIELD(CF, trend.bucket_ns, uint64_t),
	  .min = SEC, .max = 24 * HOUR, .def = "5m",
	  .help = "the minimum of each bucket is one valley" },
	{ .path = "trend.window", .scope = S_TREND, .type = K_DURATION,
	  .off = FIELD(CF, trend.window_ns, uint64_t),
	  .min = 6 * SEC, .max = 30 * 24 * HOUR, .def = "60m",
	  .help = "valleys judged together: 6 to 240 buckets" },
	{ .path = "status_file", .scope = S_TOP, .type = K_STR,
	  STRFIELD(CF, status_file, HW_CONFIG_STATUS_MAX),
	  .check = check_status_file, .def = "/run/heapwatch/status.json",
	  .help = "rewritten at each flush; read by heapwatch status" },
	{ .path = "targets", .scope = S_TOP, .type = K_LIST,
	  .help = "the processes to sample" },
	{ .path = "targets[].name", .scope = S_TARGET, .type = K_STR,
	  STRFIELD(TF, name, HW_CONFIG_NAME_MAX),
	  .check = check_name, .required = true,
	  .help = "required; [A-Za-z0-9_-]+, one metric path node" },
	{ .path = "targets[].pid", .scope = S_TARGET, .type = K_UINT,
	  .off = FIELD(TF, pid, pid_t),
	  .min = 1, .max = 4194304, .by = HW_TARGET_PID,
	  .help = "this process" },
	{ .path = "targets[].pidfile", .scope = S_TARGET, .type = K_STRP,
	  .off = FIELD(TF, pidfile, char *),
	  .min = 1, .max = HW_CONFIG_PIDFILE_MAX, .check = check_abspath,
	  .by = HW_TARGET_PIDFILE,
	  .help = "the process whose pid this file holds, read at each sample" },
	{ .path = "targets[].match", .scope = S_TARGET, .type = K_STRP,
	  .off = FIELD(TF, match, char *),
	  .min = 1, .max = HW_CONFIG_MATCH_MAX, .check = check_match,
	  .by = HW_TARGET_MATCH,
	  .help = "processes whose command line matches this extended regex" },
	{ .path = "targets[].children", .scope = S_TARGET, .type = K_BOOL,
	  .off = FIELD(TF, children, bool), .def = "false",
	  .help = "sample the children of the selected processes instead" },
};

#define NKEYS (sizeof keys / sizeof keys[0])
_Static_assert(NKEYS <= HW_CONFIG_KEYS_MAX, "raise HW_CONFIG_KEYS_MAX");

static const char *leaf(const struct key *k)
{
	const char *dot = strrchr(k->path, '.');

	return dot ? dot + 1 : k->path;
}

const char *hw_config_key(size_t i)
{
	return i < NKEYS ? keys[i].path : NULL;
}

int hw_config_where(const struct hw_config *c, const char *key,
		    unsigned *line, unsigned *column)
{
	for (size_t i = 0; i < NKEYS; i++) {
		if (keys[i].scope == S_TARGET || strcmp(keys[i].path, key) != 0)
			continue;
		if (!c->where[i].line)
			return -1;
		*line = c->where[i].line;
		*column = c->where[i].column;
		return 0;
	}
	return -1;
}

/* ------------------------------------------------------------------ */
/* Values                                                             */
/* ------------------------------------------------------------------ */

static void enum_list(const struct enum_name *v, char *buf, size_t size)
{
	size_t len = 0;

	buf[0] = '\0';
	for (size_t i = 0; v[i].name; i++) {
		const char *sep = i == 0 ? "" : v[i + 1].name ? ", " : " or ";
		int w = snprintf(buf + len, size - len, "%s%s", sep, v[i].name);

		if (w < 0 || (size_t)w >= size - len)
			return;
		len += (size_t)w;
	}
}

/* "[-]digits": an integer (K_UINT; durations and sizes are units.h's).
 * The value saturates at UINT64_MAX, so an overflow reads as out of
 * range.  Returns 0 and sets *v and *neg, or -1 with a reason in why. */
static int parse_integer(const char *s, size_t n, uint64_t *v, bool *neg,
			 char *why, size_t wsz)
{
	char shown[64];
	uint64_t x = 0;
	size_t i = 0, d;

	hw_err_quote(shown, sizeof shown, s, n);
	*neg = n > 0 && s[0] == '-';
	if (*neg)
		i++;
	for (d = i; i < n && s[i] >= '0' && s[i] <= '9'; i++) {
		unsigned digit = (unsigned)(s[i] - '0');

		x = x > (UINT64_MAX - digit) / 10 ? UINT64_MAX : x * 10 + digit;
	}
	if (i == d || i != n) {
		snprintf(why, wsz, "'%s' is not an integer", shown);
		return -1;
	}
	*v = x;
	return 0;
}

static void format_bound(const struct key *k, uint64_t v, char *buf,
			 size_t size)
{
	if (k->type == K_DURATION)
		hw_format_duration(v, buf, size);
	else if (k->type == K_SIZE)
		hw_format_size(v, buf, size);
	else
		snprintf(buf, size, "%llu", (unsigned long long)v);
}

static void *field(const struct key *k, void *base)
{
	return (char *)base + k->off;
}

static const void *cfield(const struct key *k, const void *base)
{
	return (const char *)base + k->off;
}

/* Set k's field in base from the scalar s (n bytes, may hold NUL); plain:
 * it was written without quotes.  Returns 0, or -1 with the reason in why
 * (HW_ENOMEM-worthy failures set *oom). */
static int set_value(const struct key *k, void *base, const char *s,
		     size_t n, bool plain, bool *oom, char *why, size_t wsz)
{
	char shown[64], lo[32], hi[32], list[128], *copy;
	uint64_t v = 0;
	bool neg = false;
	struct hw_err ue;

	*oom = false;
	hw_err_quote(shown, sizeof shown, s, n);
	switch (k->type) {
	case K_DURATION:
	case K_SIZE:
		/* one grammar with the command line (units.h) */
		hw_err_clear(&ue);
		if ((k->type == K_DURATION ? hw_duration_parse(s, n, 0, &v, &ue)
					   : hw_size_parse(s, n, &v, &ue)) < 0) {
			if (ue.code == HW_ELIMIT) {
				v = UINT64_MAX;     /* past 64 bits: out of range */
				goto range;
			}
			/* at most 40 bytes of the value are quoted */
			snprintf(why, wsz, "%.400s", ue.msg);
			return -1;
		}
		goto range;
	case K_UINT:
		if (!plain) {
			snprintf(why, wsz, "expected an integer, got the quoted string '%s'",
				 shown);
			return -1;
		}
		if (parse_integer(s, n, &v, &neg, why, wsz))
			return -1;
		goto range;
	case K_ENUM:
		for (const struct enum_name *e = k->names; e->name; e++) {
			if (strlen(e->name) == n && memcmp(e->name, s, n) == 0) {
				memcpy(field(k, base), &e->value, sizeof e->value);
				return 0;
			}
		}
		enum_list(k->names, list, sizeof list);
		snprintf(why, wsz, "'%s' is not one of %s", shown, list);
		return -1;
	case K_BOOL: {
		bool b = n == 4 && memcmp(s, "true", 4) == 0;

		if (!plain || (!b && !(n == 5 && memcmp(s, "false", 5) == 0))) {
			snprintf(why, wsz, "expected true or false, got %s'%s'",
				 plain ? "" : "the quoted string ", shown);
			return -1;
		}
		memcpy(field(k, base), &b, sizeof b);
		return 0;
	}
	case K_STR:
	case K_STRP:
		if (memchr(s, '\0', n)) {
			snprintf(why, wsz, "'%s' contains a NUL character", shown);
			return -1;
		}
		if (n < k->min) {
			snprintf(why, wsz, "must not be empty");
			return -1;
		}
		if (n > k->max) {
			snprintf(why, wsz, "'%s' is longer than %llu characters",
				 shown, (unsigned long long)k->max);
			return -1;
		}
		copy = strndup(s, n);
		if (!copy) {
			*oom = true;
			snprintf(why, wsz, "out of memory");
			return -1;
		}
		if (k->check && k->check(copy, why, wsz)) {
			free(copy);
			return -1;
		}
		if (k->type == K_STR) {
			memcpy(field(k, base), copy, n + 1);
			free(copy);
		} else {
			char **slot = field(k, base);

			free(*slot);
			*slot = copy;
		}
		return 0;
	case K_SECTION:
	case K_LIST:
	case K_STRLIST:
		break;
	}
	snprintf(why, wsz, "not a scalar key");
	return -1;

range:
	if (neg || v < k->min || v > k->max) {
		format_bound(k, k->min, lo, sizeof lo);
		format_bound(k, k->max, hi, sizeof hi);
		snprintf(why, wsz, "%s is out of range %s..%s", shown, lo, hi);
		return -1;
	}
	if (k->type == K_UINT) {
		unsigned u = (unsigned)v;

		memcpy(field(k, base), &u, sizeof u);
	} else {
		memcpy(field(k, base), &v, sizeof v);
	}
	return 0;
}

/* What a key expects, for "expected X, got Y". */
static void expected(const struct key *k, char *buf, size_t size)
{
	char list[96];

	switch (k->type) {
	case K_DURATION: snprintf(buf, size, "a duration such as 10s"); break;
	case K_SIZE:     snprintf(buf, size, "a size such as 256MiB"); break;
	case K_UINT:     snprintf(buf, size, "an integer"); break;
	case K_BOOL:     snprintf(buf, size, "true or false"); break;
	case K_STR:
	case K_STRP:     snprintf(buf, size, "a string"); break;
	case K_SECTION:  snprintf(buf, size, "a mapping of keys"); break;
	case K_LIST:     snprintf(buf, size, "a list of targets"); break;
	case K_STRLIST:  snprintf(buf, size, "a list of type names or patterns"); break;
	case K_ENUM:
		enum_list(k->names, list, sizeof list);
		snprintf(buf, size, "one of %s", list);
		break;
	}
}

/* ------------------------------------------------------------------ */
/* String checks                                                      */
/* ------------------------------------------------------------------ */

static bool is_node_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '_' || c == '-';
}

static int check_name(const char *s, char *why, size_t size)
{
	char shown[64];

	for (const char *p = s; *p; p++) {
		if (!is_node_char(*p)) {
			hw_err_quote(shown, sizeof shown, s, strlen(s));
			snprintf(why, size, "'%s' may contain only letters, digits, '_' and '-'",
				 shown);
			return -1;
		}
	}
	return 0;
}

static int check_host(const char *s, char *why, size_t size)
{
	char shown[64];

	/* Names, IPv4 and IPv6 addresses (with a %zone), nothing that could
	 * be an option or a URL. */
	for (const char *p = s; *p; p++) {
		if (!is_node_char(*p) && *p != '.' && *p != ':' && *p != '%') {
			hw_err_quote(shown, sizeof shown, s, strlen(s));
			snprintf(why, size, "'%s' is not a host name or IP address",
				 shown);
			return -1;
		}
	}
	if (s[0] == '-') {
		hw_err_quote(shown, sizeof shown, s, strlen(s));
		snprintf(why, size, "'%s' is not a host name or IP address", shown);
		return -1;
	}
	return 0;
}

/* Statsd paths are dot-separated nodes; an empty node ("a..b", ".a")
 * makes Graphite-style back ends create odd trees, so refuse it. */
static int check_nodes(const char *s, const char *what, char *why,
		       size_t size)
{
	char shown[64];
	size_t n = strlen(s);

	if (s[0] == '.' || s[n - 1] == '.' || strstr(s, "..")) {
		hw_err_quote(shown, sizeof shown, s, n);
		snprintf(why, size, "'%s' has an empty %s node (a leading, trailing or double '.')",
			 shown, what);
		return -1;
	}
	return 0;
}

static int check_prefix(const char *s, char *why, size_t size)
{
	char shown[64];

	for (const char *p = s; *p; p++) {
		if (!is_node_char(*p) && *p != '.') {
			hw_err_quote(shown, sizeof shown, s, strlen(s));
			snprintf(why, size, "'%s' may contain only letters, digits, '_', '-' and '.'",
				 shown);
			return -1;
		}
	}
	return check_nodes(s, "metric path", why, size);
}

static int check_template(const char *s, char *why, size_t size)
{
	static const char *const names[] = { "prefix", "target", "pid", "metric", "slot" };
	const unsigned nnames = sizeof names / sizeof names[0];
	char shape[HW_CONFIG_PATH_MAX + 1], shown[64];
	unsigned seen = 0;
	size_t n = 0;

	/* shape: the template with each placeholder as "x", to check the
	 * nodes. */
	for (const char *p = s; *p; p++) {
		if (*p == '{') {
			const char *end = strchr(p, '}');
			size_t i, len;

			if (!end) {
				snprintf(why, size, "'{' at character %zu is not closed",
					 (size_t)(p - s) + 1);
				return -1;
			}
			len = (size_t)(end - p - 1);
			for (i = 0; i < nnames; i++)
				if (strlen(names[i]) == len && memcmp(names[i], p + 1, len) == 0)
					break;
			if (i == nnames) {
				hw_err_quote(shown, sizeof shown, p, len + 2);
				snprintf(why, size, "unknown placeholder '%s' (use {prefix}, {target}, {slot}, {pid} and {metric})",
					 shown);
				return -1;
			}
			seen |= 1u << i;
			shape[n++] = 'x';
			p = end;
		} else if (*p == '}') {
			snprintf(why, size, "'}' at character %zu has no '{'",
				 (size_t)(p - s) + 1);
			return -1;
		} else if (is_node_char(*p) || *p == '.') {
			shape[n++] = *p;
		} else {
			hw_err_quote(shown, sizeof shown, p, 1);
			snprintf(why, size, "'%s' may not appear in a metric path (letters, digits, '_', '-', '.' and placeholders)",
				 shown);
			return -1;
		}
	}
	shape[n] = '\0';
	/* {target}, {metric}, and {slot} or {pid} (names[1], [3], [4], [2]) */
	if (!(seen & (1u << 1))) {
		snprintf(why, size, "lacks {target}: the metrics of different targets would collide");
		return -1;
	}
	if (!(seen & (1u << 3))) {
		snprintf(why, size, "lacks {metric}: the metrics of different kinds would collide");
		return -1;
	}
	if (!(seen & ((1u << 2) | (1u << 4)))) {
		snprintf(why, size, "lacks {slot} or {pid}: the metrics of different processes would collide");
		return -1;
	}
	return check_nodes(shape, "metric path", why, size);
}

/* pidfile, history.path: absolute, no control characters. */
static int check_abspath(const char *s, char *why, size_t size)
{
	char shown[64];

	hw_err_quote(shown, sizeof shown, s, strlen(s));
	if (s[0] != '/') {
		snprintf(why, size, "'%s' is not an absolute path", shown);
		return -1;
	}
	for (const char *p = s; *p; p++) {
		if ((unsigned char)*p < 0x20 || *p == 0x7f) {
			snprintf(why, size, "'%s' contains a control character", shown);
			return -1;
		}
	}
	return 0;
}

/* A watch_types entry: a type name or an fnmatch(3) pattern. */
static int check_watch(const char *s, size_t n, uint64_t max, char *why,
		       size_t size)
{
	char shown[64];
	unsigned stars = 0;

	hw_err_quote(shown, sizeof shown, s, n);
	if (n == 0) {
		snprintf(why, size, "must not be empty");
		return -1;
	}
	if (n > max) {
		snprintf(why, size, "'%s' is longer than %llu characters (type names are cut there)",
			 shown, (unsigned long long)max);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch < 0x20 || ch == 0x7f) {
			snprintf(why, size, "'%s' contains a control character", shown);
			return -1;
		}
		stars += ch == '*';
	}
	/* glibc's fnmatch() backtracks at each '*': with many of them a
	 * long type name takes polynomial time of a high degree. */
	if (stars > HW_CONFIG_WATCH_STARS) {
		snprintf(why, size, "'%s' has %u '*'; at most %d are allowed",
			 shown, stars, HW_CONFIG_WATCH_STARS);
		return -1;
	}
	return 0;
}

static int check_status_file(const char *s, char *why, size_t size)
{
	static const char *const virt[] = { "/dev/", "/proc/", "/sys/" };
	char shown[64];
	size_t n = strlen(s);

	if (check_abspath(s, why, size))
		return -1;
	hw_err_quote(shown, sizeof shown, s, n);
	if (s[n - 1] == '/') {
		snprintf(why, size, "'%s' names a directory; name the file", shown);
		return -1;
	}
	/* The file is replaced by rename(2): never over a device. */
	for (size_t i = 0; i < sizeof virt / sizeof virt[0]; i++)
		if (strncmp(s, virt[i], strlen(virt[i])) == 0) {
			snprintf(why, size, "'%s' is under %s; the status file is replaced at each flush",
				 shown, virt[i]);
			return -1;
		}
	return 0;
}

/* glibc's regcomp() takes exponential time or memory on some short
 * expressions and cannot be interrupted, so match patterns are held to a
 * shape it handles in well under a second (found by fuzzing check_match;
 * times for glibc 2.36):
 *  - it unrolls repetitions into copies (regcomp.c, parse_dup_op: X{m,n}
 *    becomes n copies, X+ two) and stacked operators multiply:
 *    "a{1,32767}" compiles for seconds, "((a{1,255}){1,255}){1,255}"
 *    needs gigabytes.  So: at most RE_NODES_MAX nodes once unrolled,
 *    {m,n} only after a single character, '.' or bracket expression, and
 *    repetitions nested at most RE_NEST_MAX deep;
 *  - a repetition of something that can match the empty string ("(b?)*",
 *    "(b?|c?)+", "b**") makes epsilon closures explode, worse with
 *    anchors: twenty "(b?|c?)+" take seconds.  Refused;
 *  - each anchor multiplies the closures ("^b*$" thirty times: seconds),
 *    so '^' may only start the expression and '$' end it, and GNU's
 *    \b \< \> \` \' constraints are refused with the other backslash
 *    letters (\w \s: write [[:alnum:]_], [[:space:]]);
 *  - back-references (\1) make matching exponential.
 * regcomp() remains the judge of syntax: the scan only measures. */
#define RE_NODES_MAX 2000u
#define RE_NEST_MAX 3u

enum re_verdict {
	RE_OK,
	RE_TOO_BIG,        /* more than RE_NODES_MAX nodes unrolled */
	RE_TOO_DEEP,       /* repetitions nested more than RE_NEST_MAX */
	RE_GROUP_INTERVAL, /* {m,n} after a group or an operator */
	RE_NULLABLE,       /* a repetition of what can match "" */
	RE_ANCHOR,         /* ^ or $ inside the expression */
	RE_ESCAPE,         /* backslash and a letter */
	RE_BACKREF,        /* backslash and a digit */
};

/* Leading decimal digits at *p, saturating above RE_NODES_MAX; advances
 * *p.  Returns whether there were any. */
static bool re_count(const char **p, uint64_t *v)
{
	const char *q = *p;

	*v = 0;
	for (; *q >= '0' && *q <= '9'; q++)
		if (*v <= RE_NODES_MAX)
			*v = *v * 10 + (uint64_t)(*q - '0');
	if (q == *p)
		return false;
	*p = q;
	return true;
}

/* If p starts an interval ({n}, {n,}, {n,m} or glibc's {,m}), return its
 * last character and set *copies and *min; else NULL (a literal '{', or an
 * error that regcomp() reports). */
static const char *re_interval(const char *p, uint64_t *copies,
			       uint64_t *min)
{
	const char *q = p + 1;
	uint64_t lo = 0, hi = 0;
	bool have_lo = re_count(&q, &lo), have_hi = false;

	if (*q == ',') {
		q++;
		have_hi = re_count(&q, &hi);
		if (!have_hi)
			hi = lo + 1;
	} else {
		hi = lo;
	}
	if (*q != '}' || (!have_lo && !have_hi))
		return NULL;
	*copies = hi > 1 ? hi : 1;
	*min = lo;
	return q;
}

/* One open group, or the whole expression at depth 0. */
struct re_group {
	uint64_t size;          /* nodes so far */
	unsigned nest;          /* deepest repetition nesting inside */
	bool prefix_nullable;   /* the current branch before its last element
				   can match "" */
	bool any_nullable;      /* a finished branch can match "" */
};

/* The last element of the current branch. */
struct re_elem {
	bool present;
	bool single;            /* one character, '.' or bracket expression */
	bool nullable;
	uint64_t size;
	unsigned nest;
};

static void re_push(struct re_group *g, struct re_elem *last,
		    uint64_t size, unsigned nest, bool nullable, bool single)
{
	if (last->present)
		g->prefix_nullable = g->prefix_nullable && last->nullable;
	last->present = true;
	last->single = single;
	last->nullable = nullable;
	last->size = size;
	last->nest = nest;
	g->size += size;
	if (nest > g->nest)
		g->nest = nest;
}

static bool re_branch_nullable(const struct re_group *g,
			       const struct re_elem *last)
{
	return g->prefix_nullable && (!last->present || last->nullable);
}

static enum re_verdict re_check(const char *s)
{
	struct re_group g[HW_CONFIG_MATCH_MAX + 2];
	struct re_elem last = { false, false, false, 0, 0 };
	size_t n = strlen(s);
	unsigned depth = 0;

	memset(&g[0], 0, sizeof g[0]);
	g[0].prefix_nullable = true;
	for (const char *p = s; *p; p++) {
		uint64_t copies = 0, min = 0;
		const char *end;

		switch (*p) {
		case '(':
			if (depth + 1 >= sizeof g / sizeof g[0])
				return RE_TOO_DEEP;
			if (last.present)
				g[depth].prefix_nullable = g[depth].prefix_nullable &&
							   last.nullable;
			depth++;
			memset(&g[depth], 0, sizeof g[depth]);
			g[depth].prefix_nullable = true;
			last.present = false;
			continue;
		case ')': {
			uint64_t size;
			unsigned nest;
			bool nullable;

			if (depth == 0)
				break;  /* a literal, in glibc */
			nullable = g[depth].any_nullable ||
				   re_branch_nullable(&g[depth], &last);
			size = g[depth].size + 1;  /* the group is a node too */
			nest = g[depth].nest;
			depth--;
			/* What preceded the group was folded into the
			 * prefix when it opened. */
			last.present = false;
			re_push(&g[depth], &last, size, nest, nullable, false);
			goto measure;
		}
		case '|':
			g[depth].any_nullable = g[depth].any_nullable ||
						re_branch_nullable(&g[depth], &last);
			g[depth].prefix_nullable = true;
			g[depth].size++;
			last.present = false;
			continue;
		case '^':
			if (p != s)
				return RE_ANCHOR;
			re_push(&g[depth], &last, 1, 0, true, false);
			continue;
		case '$':
			if ((size_t)(p - s) != n - 1)
				return RE_ANCHOR;
			re_push(&g[depth], &last, 1, 0, true, false);
			continue;
		case '+':
			copies = 2;
			min = 1;
			break;
		case '*':
			copies = 1;
			break;
		case '?':
			copies = 1;
			break;
		case '{':
			end = re_interval(p, &copies, &min);
			if (!end)
				break;
			if (last.present && !last.single)
				return RE_GROUP_INTERVAL;
			p = end;
			break;
		case '[':
			/* A bracket expression is one atom; ']' right after
			 * '[' or '[^' is a member, not the end. */
			p++;
			if (*p == '^')
				p++;
			if (*p == ']')
				p++;
			while (*p && *p != ']')
				p++;
			if (!*p)
				p--;    /* unterminated: regcomp will say */
			break;
		case '\\':
			if (p[1] >= '1' && p[1] <= '9')
				return RE_BACKREF;
			if ((p[1] >= 'a' && p[1] <= 'z') || (p[1] >= 'A' && p[1] <= 'Z') ||
			    p[1] == '0' || p[1] == '`' || p[1] == '\'' ||
			    p[1] == '<' || p[1] == '>')
				return RE_ESCAPE;
			if (p[1])
				p++;
			break;
		default:
			break;
		}
		if (copies && last.present) {
			if (last.nullable)
				return RE_NULLABLE;
			/* What the operator repeats, counted once already,
			 * becomes copies of itself plus the operator's node. */
			g[depth].size += last.size * (copies - 1) + 1;
			last.size = last.size * copies + 1;
			last.nest++;
			last.nullable = min == 0;
			last.single = false;
			if (last.nest > g[depth].nest)
				g[depth].nest = last.nest;
		} else {
			/* An atom, or an operator with nothing before it,
			 * which regcomp() rejects or reads literally. */
			re_push(&g[depth], &last, 1, 0, false, true);
		}
measure:
		if (g[depth].size > RE_NODES_MAX || last.size > RE_NODES_MAX)
			return RE_TOO_BIG;
		if (g[depth].nest > RE_NEST_MAX)
			return RE_TOO_DEEP;
	}
	while (depth > 0) {   /* unclosed groups: regcomp will say */
		g[depth - 1].size += g[depth].size;
		depth--;
	}
	return g[0].size > RE_NODES_MAX ? RE_TOO_BIG : RE_OK;
}

static int check_match(const char *s, char *why, size_t size)
{
	static const char *const verdicts[] = {
		[RE_TOO_BIG] = "is too complex: its repetitions unroll to more than 2000 elements",
		[RE_TOO_DEEP] = "is too complex: it nests repetitions more than 3 deep",
		[RE_GROUP_INTERVAL] = "is too complex: {m,n} may only follow a character, '.' or a bracket expression",
		[RE_NULLABLE] = "is too complex: it repeats something that can match the empty string",
		[RE_ANCHOR] = "has '^' or '$' inside: '^' may only start the expression and '$' end it",
		[RE_ESCAPE] = "has a GNU escape such as \\b, \\< or \\w: use bracket expressions such as [[:space:]]",
		[RE_BACKREF] = "has a back-reference (\\1..\\9), which can make matching take exponential time",
	};
	char shown[64], msg[256];
	enum re_verdict v;
	regex_t re;
	int rc;

	hw_err_quote(shown, sizeof shown, s, strlen(s));
	for (const char *p = s; *p; p++) {
		if ((unsigned char)*p < 0x20 || *p == 0x7f) {
			snprintf(why, size, "'%s' contains a control character", shown);
			return -1;
		}
	}
	v = re_check(s);
	if (v != RE_OK) {
		snprintf(why, size, "'%s' %s", shown, verdicts[v]);
		return -1;
	}
	rc = regcomp(&re, s, REG_EXTENDED | REG_NOSUB);
	if (rc) {
		regerror(rc, &re, msg, sizeof msg);
		snprintf(why, size, "'%s' is not a valid extended regular expression: %s",
			 shown, msg);
		return -1;
	}
	regfree(&re);
	return 0;
}

/* ------------------------------------------------------------------ */
/* Defaults, fini, dump, diff                                         */
/* ------------------------------------------------------------------ */

/* Defaults of the keys of struct hw_config_target (targets true) or of
 * every other key (false) into base. */
static void apply_defaults(bool targets, void *base)
{
	char why[256];
	bool oom;

	for (size_t i = 0; i < NKEYS; i++) {
		const struct key *k = &keys[i];

		/* Defaults are spelled like file values and go through the
		 * same code; the unit tests check that each one takes. */
		if ((k->scope == S_TARGET) == targets && k->def)
			set_value(k, base, k->def, strlen(k->def), true, &oom,
				  why, sizeof why);
	}
}

void hw_config_defaults(struct hw_config *c)
{
	memset(c, 0, sizeof *c);
	apply_defaults(false, c);
}

void hw_config_fini(struct hw_config *c)
{
	if (!c)
		return;
	for (size_t i = 0; c->targets && i < c->ntargets; i++) {
		free(c->targets[i].pidfile);
		free(c->targets[i].match);
	}
	free(c->targets);
	for (size_t i = 0; c->watch_types.v && i < c->watch_types.n; i++)
		free(c->watch_types.v[i]);
	free(c->watch_types.v);
	memset(c, 0, sizeof *c);
}

/* Returns the number of bytes written. */
static int put_quoted(FILE *f, const char *s)
{
	int n = 2;

	fputc('"', f);
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '"' || ch == '\\')
			n += fprintf(f, "\\%c", ch);
		else if (ch < 0x20 || ch == 0x7f)
			n += fprintf(f, "\\x%02x", ch);
		else
			n += fputc(ch, f) != EOF;
	}
	fputc('"', f);
	return n;
}

/* "INDENTkey: value", padded to column 40, then "# help". */
static void dump_key(FILE *f, const char *indent, const struct key *k,
		     const void *base)
{
	char buf[64] = "";
	const void *p = cfield(k, base);
	const char *s;
	uint64_t u64;
	unsigned u;
	int v, len;

	switch (k->type) {
	case K_DURATION:
	case K_SIZE:
		memcpy(&u64, p, sizeof u64);
		if (k->type == K_DURATION)
			hw_format_duration(u64, buf, sizeof buf);
		else
			hw_format_size(u64, buf, sizeof buf);
		break;
	case K_UINT:
		memcpy(&u, p, sizeof u);
		snprintf(buf, sizeof buf, "%u", u);
		break;
	case K_ENUM:
		memcpy(&v, p, sizeof v);
		for (const struct enum_name *e = k->names; e->name; e++)
			if (e->value == v)
				snprintf(buf, sizeof buf, "%s", e->name);
		break;
	case K_BOOL:
		snprintf(buf, sizeof buf, "%s", *(const bool *)p ? "true" : "false");
		break;
	case K_STR:
	case K_STRP:
	case K_SECTION:
	case K_LIST:
	case K_STRLIST:
		break;
	}
	len = fprintf(f, "%s%s: %s", indent, leaf(k), buf);
	if (k->type == K_STR || k->type == K_STRP) {
		s = k->type == K_STR ? p : *(char *const *)p;
		len += put_quoted(f, s ? s : "");
	}
	if (k->type == K_STRLIST) {
		const struct hw_strlist *l = p;

		len += fprintf(f, "[");
		for (size_t i = 0; i < l->n; i++) {
			len += i ? fprintf(f, ", ") : 0;
			len += put_quoted(f, l->v[i]);
		}
		len += fprintf(f, "]");
	}
	fprintf(f, "%*s# %s\n", len >= 0 && len < 40 ? 40 - len : 1, "", k->help);
}

void hw_config_dump(FILE *f, const struct hw_config *c)
{
	char head[64];

	for (size_t i = 0; i < NKEYS; i++) {
		const struct key *k = &keys[i];

		if (k->scope != S_TOP)
			continue;
		snprintf(head, sizeof head, "%s:%s", leaf(k),
			 k->type == K_LIST && !c->ntargets ? " []" : "");
		if (k->type == K_SECTION) {
			fprintf(f, "%-40s# %s\n", head, k->help);
			for (size_t j = 0; j < NKEYS; j++)
				if (keys[j].scope == k->sub)
					dump_key(f, "  ", &keys[j], c);
		} else if (k->type == K_LIST) {
			fprintf(f, "%-40s# %s\n", head, k->help);
			for (size_t t = 0; t < c->ntargets; t++) {
				const char *indent = "  - ";

				for (size_t j = 0; j < NKEYS; j++) {
					const struct key *tk = &keys[j];

					if (tk->scope != S_TARGET ||
					    (tk->by && tk->by != c->targets[t].by))
						continue;
					dump_key(f, indent, tk, &c->targets[t]);
					indent = "    ";
				}
			}
		} else {
			dump_key(f, "", k, c);
		}
	}
}

static bool same_value(const struct key *k, const void *a, const void *b)
{
	const void *pa = cfield(k, a), *pb = cfield(k, b);

	switch (k->type) {
	case K_DURATION:
	case K_SIZE:
		return memcmp(pa, pb, sizeof(uint64_t)) == 0;
	case K_UINT:
	case K_ENUM:
		return memcmp(pa, pb, sizeof(int)) == 0;
	case K_BOOL:
		return *(const bool *)pa == *(const bool *)pb;
	case K_STR:
		return strcmp(pa, pb) == 0;
	case K_STRP: {
		const char *sa = *(char *const *)pa, *sb = *(char *const *)pb;

		return sa == sb || (sa && sb && strcmp(sa, sb) == 0);
	}
	case K_STRLIST: {
		const struct hw_strlist *la = pa, *lb = pb;

		if (la->n != lb->n)
			return false;
		for (size_t i = 0; i < la->n; i++)
			if (strcmp(la->v[i], lb->v[i]) != 0)
				return false;
		return true;
	}
	case K_SECTION:
	case K_LIST:
		break;
	}
	return true;
}

int hw_config_diff(const struct hw_config *a, const struct hw_config *b,
		   char *buf, size_t size)
{
	char dummy[1];

	if (!buf || size == 0)
		buf = dummy, size = sizeof dummy;
	for (size_t i = 0; i < NKEYS; i++) {
		const struct key *k = &keys[i];

		if (k->scope == S_TARGET || k->type == K_SECTION)
			continue;
		if (k->type != K_LIST) {
			if (!same_value(k, a, b)) {
				snprintf(buf, size, "%s", k->path);
				return 1;
			}
			continue;
		}
		if (a->ntargets != b->ntargets) {
			snprintf(buf, size, "%s", k->path);
			return 1;
		}
		for (size_t t = 0; t < a->ntargets; t++) {
			if (a->targets[t].by != b->targets[t].by) {
				snprintf(buf, size, "targets[%zu]", t);
				return 1;
			}
			for (size_t j = 0; j < NKEYS; j++) {
				if (keys[j].scope == S_TARGET &&
				    !same_value(&keys[j], &a->targets[t], &b->targets[t])) {
					snprintf(buf, size, "targets[%zu].%s", t,
						 leaf(&keys[j]));
					return 1;
				}
			}
		}
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* The parser                                                         */
/* ------------------------------------------------------------------ */

/* Which keys a mapping gave, and where. */
struct seen {
	bool given[NKEYS];
	yaml_mark_t key[NKEYS], value[NKEYS];
};

struct ps {
	yaml_parser_t yp;
	yaml_event_t ev;
	bool have_ev;          /* ev must be deleted */
	const char *name;
	const char *data;
	size_t len;
	struct hw_config *c;
	size_t cap;            /* allocated entries of c->targets */
	struct hw_err *e;
	struct seen trend_seen; /* the trend mapping's keys, for the checks
				   across keys at the end */
};

__attribute__((format(printf, 3, 4)))
static int perr(struct ps *p, yaml_mark_t m, const char *fmt, ...)
{
	char msg[HW_ERR_MSG_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	return hw_err_set(p->e, HW_ECONFIG, 0, "%s:%zu:%zu: %s", p->name,
			  m.line + 1, m.column + 1, msg);
}

/* The byte where a libyaml mark points, or NULL.  Marks count lines and
 * characters (not bytes), so walk the UTF-8 text. */
static const char *mark_byte(const struct ps *p, yaml_mark_t m)
{
	size_t i = 0, line = 0, col = 0;

	while (i < p->len && line < m.line)
		if (p->data[i++] == '\n')
			line++;
	while (i < p->len && col < m.column && p->data[i] != '\n') {
		i++;
		while (i < p->len && ((unsigned char)p->data[i] & 0xc0) == 0x80)
			i++;
		col++;
	}
	return i < p->len && line == m.line ? p->data + i : NULL;
}

static int syntax_error(struct ps *p)
{
	const yaml_parser_t *y = &p->yp;
	const char *problem = y->problem ? y->problem : "unknown problem";
	const char *at;
	yaml_mark_t m;

	switch (y->error) {
	case YAML_MEMORY_ERROR:
		return hw_err_set(p->e, HW_ENOMEM, ENOMEM, "%s", p->name);
	case YAML_READER_ERROR:
		/* Reader errors carry a byte offset, not a mark. */
		memset(&m, 0, sizeof m);
		for (size_t i = 0; i < y->problem_offset && i < p->len; i++) {
			if (p->data[i] == '\n')
				m.line++, m.column = 0;
			else if (((unsigned char)p->data[i] & 0xc0) != 0x80)
				m.column++;
		}
		if (y->problem_value >= 0)
			return perr(p, m, "not valid YAML text: %s (byte 0x%02x)",
				    problem, (unsigned)y->problem_value & 0xffu);
		return perr(p, m, "not valid YAML text: %s", problem);
	default:
		m = y->problem_mark;
		at = mark_byte(p, m);
		if (at && *at == '\t' && strstr(problem, "cannot start any token"))
			return perr(p, m, "YAML syntax error: a tab character; YAML indents with spaces only");
		if (y->context)
			return perr(p, m, "YAML syntax error: %s (%s at line %zu, column %zu)",
				    problem, y->context, y->context_mark.line + 1,
				    y->context_mark.column + 1);
		return perr(p, m, "YAML syntax error: %s", problem);
	}
}

/* Fetch the next event into p->ev, refusing what this file never needs. */
static int next(struct ps *p)
{
	char shown[64];
	const yaml_char_t *anchor = NULL, *tag = NULL;

	if (p->have_ev)
		yaml_event_delete(&p->ev);
	p->have_ev = false;
	if (!yaml_parser_parse(&p->yp, &p->ev))
		return syntax_error(p);
	p->have_ev = true;
	switch (p->ev.type) {
	case YAML_ALIAS_EVENT:
		anchor = p->ev.data.alias.anchor;
		hw_err_quote(shown, sizeof shown, (const char *)anchor, strlen((const char *)anchor));
		return perr(p, p->ev.start_mark,
			    "aliases (*%s) are not supported: write the value out", shown);
	case YAML_SCALAR_EVENT:
		anchor = p->ev.data.scalar.anchor;
		tag = p->ev.data.scalar.tag;
		break;
	case YAML_SEQUENCE_START_EVENT:
		anchor = p->ev.data.sequence_start.anchor;
		tag = p->ev.data.sequence_start.tag;
		break;
	case YAML_MAPPING_START_EVENT:
		anchor = p->ev.data.mapping_start.anchor;
		tag = p->ev.data.mapping_start.tag;
		break;
	default:
		break;
	}
	if (anchor) {
		hw_err_quote(shown, sizeof shown, (const char *)anchor, strlen((const char *)anchor));
		return perr(p, p->ev.start_mark,
			    "anchors (&%s) are not supported", shown);
	}
	if (tag) {
		hw_err_quote(shown, sizeof shown, (const char *)tag, strlen((const char *)tag));
		return perr(p, p->ev.start_mark,
			    "tags (%s) are not supported: a key's type comes from its name",
			    shown);
	}
	return 0;
}

static bool is_null(const yaml_event_t *ev)
{
	const char *s = (const char *)ev->data.scalar.value;
	size_t n = ev->data.scalar.length;

	if (ev->type != YAML_SCALAR_EVENT ||
	    ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return false;
	return n == 0 || (n == 1 && s[0] == '~') ||
	       (n == 4 && (!memcmp(s, "null", 4) || !memcmp(s, "Null", 4) ||
			   !memcmp(s, "NULL", 4)));
}

/* "a sequence", "the string 'x'": what a node is, for messages. */
static void kind(const yaml_event_t *ev, char *buf, size_t size)
{
	char shown[64];

	switch (ev->type) {
	case YAML_SEQUENCE_START_EVENT:
		snprintf(buf, size, "a list");
		return;
	case YAML_MAPPING_START_EVENT:
		snprintf(buf, size, "a mapping");
		return;
	case YAML_SCALAR_EVENT:
		if (is_null(ev)) {
			snprintf(buf, size, "an empty value");
			return;
		}
		hw_err_quote(shown, sizeof shown, (const char *)ev->data.scalar.value,
		     ev->data.scalar.length);
		snprintf(buf, size, "'%s'", shown);
		return;
	default:
		snprintf(buf, size, "something else");
		return;
	}
}

/* "statsd.port", "targets[3].pid", "interval". */
static void key_path(const struct key *k, long idx, char *buf, size_t size)
{
	if (k->scope == S_TARGET)
		snprintf(buf, size, "targets[%ld].%s", idx, leaf(k));
	else
		snprintf(buf, size, "%s", k->path);
}

static const char *scope_prefix(enum scope sc, long idx, char *buf,
				size_t size)
{
	buf[0] = '\0';
	if (sc == S_TARGET) {
		snprintf(buf, size, "targets[%ld].", idx);
		return buf;
	}
	for (size_t i = 0; sc != S_TOP && i < NKEYS; i++)
		if (keys[i].type == K_SECTION && keys[i].sub == sc)
			snprintf(buf, size, "%s.", keys[i].path);
	return buf;
}

static char lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* Optimal string alignment distance (a transposition costs 1), case
 * insensitive; both strings at most 32 bytes. */
static unsigned distance(const char *a, size_t na, const char *b, size_t nb)
{
	unsigned d[33][33];

	for (size_t i = 0; i <= na; i++)
		d[i][0] = (unsigned)i;
	for (size_t j = 0; j <= nb; j++)
		d[0][j] = (unsigned)j;
	for (size_t i = 1; i <= na; i++) {
		for (size_t j = 1; j <= nb; j++) {
			unsigned cost = lower(a[i - 1]) != lower(b[j - 1]);
			unsigned v = d[i - 1][j] + 1;

			if (d[i][j - 1] + 1 < v)
				v = d[i][j - 1] + 1;
			if (d[i - 1][j - 1] + cost < v)
				v = d[i - 1][j - 1] + cost;
			if (i > 1 && j > 1 && lower(a[i - 1]) == lower(b[j - 2]) &&
			    lower(a[i - 2]) == lower(b[j - 1]) && d[i - 2][j - 2] + 1 < v)
				v = d[i - 2][j - 2] + 1;
			d[i][j] = v;
		}
	}
	return d[na][nb];
}

static int unknown_key(struct ps *p, enum scope sc, long idx, const char *s,
		       size_t n, yaml_mark_t m)
{
	static const char *const homes[] = {
		[S_TOP] = "is a top-level key",
		[S_STATSD] = "belongs under 'statsd'",
		[S_HISTORY] = "belongs under 'history'",
		[S_TARGET] = "belongs in an entry of 'targets'",
		[S_TREND] = "belongs under 'trend'",
	};
	char shown[64], pre[32], hint[128] = "";
	const struct key *best = NULL;
	unsigned best_d = 0;

	hw_err_quote(shown, sizeof shown, s, n);
	scope_prefix(sc, idx, pre, sizeof pre);
	for (size_t i = 0; n <= 32 && i < NKEYS; i++) {
		const struct key *k = &keys[i];
		size_t kn = strlen(leaf(k));
		unsigned d;

		if (k->scope != sc || kn > 32)
			continue;
		d = distance(s, n, leaf(k), kn);
		if (d <= (kn >= 6 ? kn / 3 : 1) && (!best || d < best_d))
			best = k, best_d = d;
	}
	if (best) {
		snprintf(hint, sizeof hint, " (did you mean '%s%s'?)", pre, leaf(best));
	} else {
		for (size_t i = 0; i < NKEYS; i++) {
			const struct key *k = &keys[i];

			if (k->scope != sc && strlen(leaf(k)) == n &&
			    memcmp(leaf(k), s, n) == 0) {
				snprintf(hint, sizeof hint, " ('%s' %s)", leaf(k),
					 homes[k->scope]);
				break;
			}
		}
	}
	return perr(p, m, "unknown key '%s%s'%s", pre, shown, hint);
}

static int parse_mapping(struct ps *p, enum scope sc, void *base, long idx,
			 struct seen *seen);

/* Grow c->targets to hold one more entry, zeroed, with its defaults. */
static struct hw_config_target *new_target(struct ps *p)
{
	struct hw_config *c = p->c;
	struct hw_config_target *t;

	if (c->ntargets == p->cap) {
		size_t cap = p->cap ? 2 * p->cap : 8;

		if (cap > HW_CONFIG_TARGETS_MAX)
			cap = HW_CONFIG_TARGETS_MAX;
		t = realloc(c->targets, cap * sizeof *t);
		if (!t) {
			hw_err_set(p->e, HW_ENOMEM, ENOMEM, "%s", p->name);
			return NULL;
		}
		c->targets = t;
		p->cap = cap;
	}
	t = &c->targets[c->ntargets++];
	memset(t, 0, sizeof *t);
	apply_defaults(true, t);
	return t;
}

/* The rules that span a target's keys, once its mapping is read. */
static int check_target(struct ps *p, const struct hw_config_target *t,
			long idx, yaml_mark_t start, const struct seen *seen)
{
	size_t name = 0;

	for (size_t i = 0; i < NKEYS; i++) {
		if (keys[i].scope != S_TARGET)
			continue;
		if (keys[i].required && !seen->given[i])
			return perr(p, start, "key 'targets[%ld]': missing required key '%s'",
				    idx, leaf(&keys[i]));
		if (strcmp(leaf(&keys[i]), "name") == 0)
			name = i;
	}
	if (t->by == HW_TARGET_NONE)
		return perr(p, start, "key 'targets[%ld]': needs one of pid, pidfile or match",
			    idx);
	for (long j = 0; j < idx; j++)
		if (strcmp(p->c->targets[j].name, t->name) == 0)
			return perr(p, seen->value[name],
				    "key 'targets[%ld].name': '%s' is already the name of targets[%ld]",
				    idx, t->name, j);
	return 0;
}

static int parse_targets(struct ps *p)
{
	char what[96];

	for (long i = 0;; i++) {
		struct seen seen;
		yaml_mark_t m;
		struct hw_config_target *t;

		if (next(p))
			return -1;
		if (p->ev.type == YAML_SEQUENCE_END_EVENT)
			return 0;
		m = p->ev.start_mark;
		if (i >= HW_CONFIG_TARGETS_MAX)
			return perr(p, m, "key 'targets': more than %d targets",
				    HW_CONFIG_TARGETS_MAX);
		if (p->ev.type != YAML_MAPPING_START_EVENT) {
			kind(&p->ev, what, sizeof what);
			return perr(p, m, "key 'targets[%ld]': expected a mapping with a name and one of pid, pidfile or match, got %s",
				    i, what);
		}
		t = new_target(p);
		if (!t)
			return -1;
		if (parse_mapping(p, S_TARGET, t, i, &seen) ||
		    check_target(p, t, i, m, &seen))
			return -1;
	}
}

/* The SEQUENCE-START of a K_STRLIST key is in p->ev: its entries, through
 * SEQUENCE-END. */
static int parse_strlist(struct ps *p, const struct key *k, void *base)
{
	struct hw_strlist *l = field(k, base);
	size_t cap = l->n;
	char what[96], why[256];

	for (long i = 0;; i++) {
		yaml_mark_t m;
		const char *s;
		size_t n;
		char **nv;

		if (next(p))
			return -1;
		if (p->ev.type == YAML_SEQUENCE_END_EVENT)
			return 0;
		m = p->ev.start_mark;
		if (i >= HW_CONFIG_WATCH_MAX)
			return perr(p, m, "key '%s': more than %d entries", k->path,
				    HW_CONFIG_WATCH_MAX);
		if (p->ev.type != YAML_SCALAR_EVENT || is_null(&p->ev)) {
			kind(&p->ev, what, sizeof what);
			return perr(p, m, "key '%s[%ld]': expected a type name or pattern, got %s",
				    k->path, i, what);
		}
		s = (const char *)p->ev.data.scalar.value;
		n = p->ev.data.scalar.length;
		if (check_watch(s, n, k->max, why, sizeof why))
			return perr(p, m, "key '%s[%ld]': %s", k->path, i, why);
		if (l->n == cap) {
			cap = cap ? 2 * cap : 8;
			nv = realloc(l->v, cap * sizeof *nv);
			if (!nv)
				return hw_err_set(p->e, HW_ENOMEM, ENOMEM, "%s", p->name);
			l->v = nv;
		}
		l->v[l->n] = strndup(s, n);
		if (!l->v[l->n])
			return hw_err_set(p->e, HW_ENOMEM, ENOMEM, "%s", p->name);
		l->n++;
	}
}

/* The value event of key k is in p->ev. */
static int parse_value(struct ps *p, const struct key *k, void *base,
		       long idx)
{
	char path[96], exp[160], what[96], why[512];
	yaml_mark_t m = p->ev.start_mark;
	struct seen seen;
	bool oom;

	key_path(k, idx, path, sizeof path);
	if (k->type == K_SECTION && p->ev.type == YAML_MAPPING_START_EVENT)
		return parse_mapping(p, k->sub, base, idx,
				     k->sub == S_TREND ? &p->trend_seen : &seen);
	if (k->type == K_LIST && p->ev.type == YAML_SEQUENCE_START_EVENT)
		return parse_targets(p);
	if (k->type == K_STRLIST && p->ev.type == YAML_SEQUENCE_START_EVENT)
		return parse_strlist(p, k, base);
	if ((k->type == K_SECTION || k->type == K_LIST || k->type == K_STRLIST) &&
	    is_null(&p->ev))
		return 0;
	if (k->type == K_SECTION || k->type == K_LIST || k->type == K_STRLIST ||
	    p->ev.type != YAML_SCALAR_EVENT || is_null(&p->ev)) {
		expected(k, exp, sizeof exp);
		kind(&p->ev, what, sizeof what);
		return perr(p, m, "key '%s': expected %s, got %s", path, exp, what);
	}
	if (set_value(k, base, (const char *)p->ev.data.scalar.value,
		      p->ev.data.scalar.length,
		      p->ev.data.scalar.style == YAML_PLAIN_SCALAR_STYLE,
		      &oom, why, sizeof why)) {
		if (oom)
			return hw_err_set(p->e, HW_ENOMEM, ENOMEM, "%s", p->name);
		return perr(p, m, "key '%s': %s", path, why);
	}
	return 0;
}

/* The MAPPING-START event is in p->ev; consume through MAPPING-END, each
 * key checked against the rows of scope sc and stored into base. */
static int parse_mapping(struct ps *p, enum scope sc, void *base, long idx,
			 struct seen *seen)
{
	char pre[32], what[96];

	memset(seen, 0, sizeof *seen);
	for (;;) {
		const struct key *k = NULL;
		const char *s;
		size_t n, i;

		if (next(p))
			return -1;
		if (p->ev.type == YAML_MAPPING_END_EVENT)
			return 0;
		if (p->ev.type != YAML_SCALAR_EVENT) {
			kind(&p->ev, what, sizeof what);
			return perr(p, p->ev.start_mark, "keys must be names, not %s",
				    what);
		}
		s = (const char *)p->ev.data.scalar.value;
		n = p->ev.data.scalar.length;
		for (i = 0; i < NKEYS; i++) {
			if (keys[i].scope == sc && strlen(leaf(&keys[i])) == n &&
			    memcmp(leaf(&keys[i]), s, n) == 0) {
				k = &keys[i];
				break;
			}
		}
		if (!k)
			return unknown_key(p, sc, idx, s, n, p->ev.start_mark);
		if (seen->given[i])
			return perr(p, p->ev.start_mark,
				    "duplicate key '%s%s' (first at line %zu, column %zu)",
				    scope_prefix(sc, idx, pre, sizeof pre), leaf(k),
				    seen->key[i].line + 1, seen->key[i].column + 1);
		if (k->by) {
			struct hw_config_target *t = base;

			/* One selector per target: name the one given. */
			for (size_t j = 0; t->by && j < NKEYS; j++)
				if (keys[j].by == t->by)
					return perr(p, p->ev.start_mark,
						    "key 'targets[%ld].%s': '%s' is already given; a target has exactly one of pid, pidfile or match",
						    idx, leaf(k), leaf(&keys[j]));
			t->by = k->by;
		}
		seen->given[i] = true;
		seen->key[i] = p->ev.start_mark;
		if (next(p))
			return -1;
		seen->value[i] = p->ev.start_mark;
		if (sc != S_TARGET) {
			p->c->where[i].line = (unsigned)p->ev.start_mark.line + 1;
			p->c->where[i].column = (unsigned)p->ev.start_mark.column + 1;
		}
		if (parse_value(p, k, base, idx))
			return -1;
	}
}

static size_t key_index(const char *path)
{
	for (size_t i = 0; i < NKEYS; i++)
		if (strcmp(keys[i].path, path) == 0)
			return i;
	return 0;
}

/* Where to point for a rule between keys: the value of the first of
 * paths that the file gave (in the top mapping or under trend), else the
 * start of the document. */
static yaml_mark_t mark_of(const struct ps *p, const struct seen *top,
			   const char *const *paths, size_t n)
{
	yaml_mark_t m = { 0, 0, 0 };

	for (size_t i = 0; i < n; i++) {
		size_t k = key_index(paths[i]);
		const struct seen *s = keys[k].scope == S_TREND ? &p->trend_seen : top;

		if (s->given[k])
			return s->value[k];
	}
	return m;
}

/* The rules that span keys, once the whole file is read. */
static int check_across(struct ps *p, const struct seen *top)
{
	const struct hw_config *c = p->c;
	const struct hw_trend_config *t = &c->trend;
	char b[32], w[32];
	uint64_t nb;

	if (c->max_types < c->top_types) {
		static const char *const at[] = { "max_types", "top_types" };

		return perr(p, mark_of(p, top, at, 2),
			    "key 'max_types': %u is below top_types (%u); it caps all the types a process sends",
			    c->max_types, c->top_types);
	}
	hw_format_duration(t->bucket_ns, b, sizeof b);
	hw_format_duration(t->window_ns, w, sizeof w);
	nb = t->window_ns / t->bucket_ns;
	if (nb < HW_TREND_BUCKETS_MIN || nb > HW_TREND_BUCKETS_MAX ||
	    t->window_ns % t->bucket_ns) {
		static const char *const at[] = { "trend.window", "trend.bucket" };

		return perr(p, mark_of(p, top, at, 2),
			    "key 'trend.window': %s is %.3g buckets of %s; a window needs a whole number of them from %d to %d",
			    w, (double)t->window_ns / (double)t->bucket_ns, b,
			    HW_TREND_BUCKETS_MIN, HW_TREND_BUCKETS_MAX);
	}
	return 0;
}

static int parse_stream(struct ps *p)
{
	struct seen seen;
	char what[96];

	if (next(p) || next(p))        /* STREAM-START, then the document */
		return -1;
	if (p->ev.type == YAML_STREAM_END_EVENT)
		return 0;              /* no document: only comments, or empty */
	if (next(p))
		return -1;
	if (p->ev.type == YAML_MAPPING_START_EVENT) {
		if (parse_mapping(p, S_TOP, p->c, -1, &seen) ||
		    check_across(p, &seen))
			return -1;
	} else if (!is_null(&p->ev)) {
		kind(&p->ev, what, sizeof what);
		return perr(p, p->ev.start_mark,
			    "the top level must be a mapping of keys, not %s", what);
	}
	if (next(p) || next(p))        /* DOCUMENT-END, then STREAM-END */
		return -1;
	if (p->ev.type != YAML_STREAM_END_EVENT)
		return perr(p, p->ev.start_mark,
			    "a second YAML document; the file must hold only one");
	return 0;
}

int hw_config_parse_buffer(const char *name, const char *data, size_t len,
			   struct hw_config *out, struct hw_err *e)
{
	struct hw_config c;
	struct ps p;
	int rc;

	hw_config_defaults(out);
	if (!name)
		name = "(config)";
	if (len > HW_CONFIG_FILE_MAX)
		return hw_err_set(e, HW_ECONFIG, 0, "%s: larger than %u bytes",
				  name, HW_CONFIG_FILE_MAX);
	if (!data)
		data = "", len = 0;
	memset(&p, 0, sizeof p);
	p.name = name;
	p.data = data;
	p.len = len;
	p.c = &c;
	p.e = e;
	if (!yaml_parser_initialize(&p.yp))
		return hw_err_set(e, HW_ENOMEM, ENOMEM, "%s", name);
	yaml_parser_set_input_string(&p.yp, (const unsigned char *)data, len);
	hw_config_defaults(&c);
	rc = parse_stream(&p);
	if (p.have_ev)
		yaml_event_delete(&p.ev);
	yaml_parser_delete(&p.yp);
	if (rc) {
		hw_config_fini(&c);
		return -1;
	}
	*out = c;
	return 0;
}

/* ------------------------------------------------------------------ */
/* Files                                                              */
/* ------------------------------------------------------------------ */

int hw_config_load(const char *path, struct hw_config *out,
		   struct hw_err *e)
{
	char *buf = NULL;
	size_t len = 0;
	int fd, rc = -1;

	hw_config_defaults(out);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return hw_err_set(e, HW_ECONFIG, errno, "%s", path);
	buf = malloc(HW_CONFIG_FILE_MAX + 1);
	if (!buf) {
		hw_err_set(e, HW_ENOMEM, ENOMEM, "%s", path);
		goto out;
	}
	/* Read one byte past the limit to tell "exactly at" from "over". */
	while (len <= HW_CONFIG_FILE_MAX) {
		ssize_t r = read(fd, buf + len, HW_CONFIG_FILE_MAX + 1 - len);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			hw_err_set(e, HW_ECONFIG, errno, "%s", path);
			goto out;
		}
		if (r == 0)
			break;
		len += (size_t)r;
	}
	if (len > HW_CONFIG_FILE_MAX) {
		hw_err_set(e, HW_ECONFIG, 0, "%s: larger than %u bytes", path,
			   HW_CONFIG_FILE_MAX);
		goto out;
	}
	rc = hw_config_parse_buffer(path, buf, len, out, e);
out:
	free(buf);
	close(fd);
	return rc;
}

int hw_config_load_used(const char *path, struct hw_config *out,
			struct hw_err *e)
{
	struct stat st;

	if (!path && stat(HW_CONFIG_DEFAULT, &st) < 0 && errno == ENOENT)
		return 0;
	if (hw_config_load(path ? path : HW_CONFIG_DEFAULT, out, e) < 0) {
		hw_config_fini(out);
		return -1;
	}
	return 1;
}

int hw_config_check_perms(const char *path, struct hw_err *e)
{
	struct stat st;

	if (geteuid() != 0)
		return 0;
	if (stat(path, &st) != 0)
		return hw_err_set(e, HW_ECONFIG, errno, "%s", path);
	if (st.st_uid != 0 || (st.st_mode & (S_IWGRP | S_IWOTH)))
		return hw_err_set(e, HW_ECONFIG, 0,
				  "%s: writable by others than root; refusing to run as root with it",
				  path);
	return 0;
}
