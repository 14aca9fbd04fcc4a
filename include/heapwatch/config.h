/* config.h - the daemon's configuration file (heapwatch.yaml(5)).
 *
 * One table in config.c names every key with its type, bounds, default
 * and help line; it drives parsing, hw_config_defaults(), hw_config_dump(),
 * hw_config_diff() and the "did you mean" hint.  The grammar, in short:
 *
 *   - YAML 1.2 read with libyaml, one document, a mapping at the top.
 *   - A key's type comes from the table, not from YAML's tag resolution:
 *     "interval: 10s" is a duration, "host: 10" the string "10".
 *   - Integers and booleans must be plain (unquoted) scalars: "8125" in
 *     quotes is a string and an error for statsd.port.  Booleans are
 *     exactly true and false (YAML 1.2); yes/no/on/off are errors.
 *   - Durations: an integer and a unit, ms, s, m, h or d ("500ms", "7d").
 *     Sizes: an integer and an optional unit, B, KiB, MiB or GiB.
 *   - An empty value is an error for a scalar key; for "statsd" and
 *     "history" it means "all defaults", for "targets" "no targets".
 *   - Anchors, aliases and explicit tags are refused (they buy nothing in a
 *     file this small and aliases would make the parse unbounded).
 *
 * Errors are HW_ECONFIG (HW_ENOMEM when memory runs out), one line:
 *   "FILE:LINE:COLUMN: key 'statsd.port': 70000 is out of range 1..65535"
 * with the 1-based position of the offending value (or key, for unknown,
 * duplicate and conflicting keys).  Entries of targets are numbered from
 * 0: "targets[0].pid".  Parsing stops at the first error.
 */
#ifndef HEAPWATCH_CONFIG_H
#define HEAPWATCH_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "heapwatch/err.h"
#include "heapwatch/log.h"

/* Limits that keep the parse bounded whatever the input. */
#define HW_CONFIG_FILE_MAX     (1u << 20) /* bytes of YAML */
#define HW_CONFIG_TARGETS_MAX  1000
#define HW_CONFIG_NAME_MAX     64   /* target name, characters */
#define HW_CONFIG_HOST_MAX     255
#define HW_CONFIG_PREFIX_MAX   128
#define HW_CONFIG_PATH_MAX     256  /* metric path template */
#define HW_CONFIG_PIDFILE_MAX  4096
#define HW_CONFIG_MATCH_MAX    1024
#define HW_CONFIG_KEYS_MAX     64   /* rows of the key table, at most */
#define HW_CONFIG_HISTORY_PATH_MAX 1024

#ifndef HW_LOCALSTATEDIR
#define HW_LOCALSTATEDIR "/var/lib"
#endif
/* Where the history goes unless history.path says otherwise: the unit's
 * StateDirectory=heapwatch. */
#ifndef HW_SYSCONFDIR
#define HW_SYSCONFDIR "/etc"
#endif
#define HW_CONFIG_DEFAULT HW_SYSCONFDIR "/heapwatch/heapwatch.yaml"
#define HW_HISTORY_PATH_DEFAULT HW_LOCALSTATEDIR "/heapwatch/history.db"
#define HW_CONFIG_WATCH_MAX    256  /* watch_types entries */
#define HW_CONFIG_WATCH_LEN    127  /* characters of one entry (a type
				       name is cut there too) */
#define HW_CONFIG_WATCH_STARS  3    /* '*' in one pattern: fnmatch(3)
				       backtracks once per '*' */
#define HW_CONFIG_STATUS_MAX   1023 /* status_file path */

enum hw_statsd_proto {
	HW_STATSD_UDP,
	HW_STATSD_TCP,
};

/* How a target's processes are found: exactly one per target. */
enum hw_target_by {
	HW_TARGET_NONE,    /* only in a zeroed struct, never after a parse */
	HW_TARGET_PID,
	HW_TARGET_PIDFILE,
	HW_TARGET_MATCH,
};

struct hw_config_target {
	char name[HW_CONFIG_NAME_MAX + 1]; /* [A-Za-z0-9_-]+, unique */
	enum hw_target_by by;
	pid_t pid;          /* by == HW_TARGET_PID: 1..4194304; else 0 */
	char *pidfile;      /* by == HW_TARGET_PIDFILE: absolute path; else
			       NULL.  Owned by the struct hw_config. */
	char *match;        /* by == HW_TARGET_MATCH: POSIX extended regex
			       over the command line, already compiled once
			       with regcomp(REG_EXTENDED | REG_NOSUB) and of
			       a shape glibc compiles and matches quickly
			       (heapwatch.yaml(5)); else NULL.  Owned by the
			       struct hw_config. */
	bool children;      /* sample the children of the selected
			       process(es), not the processes themselves */
};

struct hw_statsd_config {
	char host[HW_CONFIG_HOST_MAX + 1];  /* name or address, unresolved */
	unsigned port;                      /* 1..65535 */
	enum hw_statsd_proto protocol;
	char prefix[HW_CONFIG_PREFIX_MAX + 1]; /* [A-Za-z0-9_.-], no empty
						  node */
	unsigned max_packet;                /* 64..65507 bytes */
	char path[HW_CONFIG_PATH_MAX + 1];  /* template; has {target},
					       {metric} and {slot} or {pid}
					       (or both), may have {prefix} */
};

/* The local history (history.h).  Rows older than full_resolution_ns
 * are thinned to one per process per thinned_interval_ns; rows older than
 * retention_ns are deleted.  full_resolution_ns >= retention_ns means no
 * thinning. */
struct hw_history_config {
	bool enabled;
	char path[HW_CONFIG_HISTORY_PATH_MAX + 1]; /* absolute */
	uint64_t retention_ns;        /* 10s..3650d */
	uint64_t full_resolution_ns;  /* 0..3650d */
	uint64_t thinned_interval_ns; /* 1s..1d */
};

/* A list of strings, owned by the struct hw_config it is in. */
struct hw_strlist {
	char **v;
	size_t n;
};

/* trend: how valleys are judged (durations in ns).  window / bucket is
 * a whole number from HW_TREND_BUCKETS_MIN to HW_TREND_BUCKETS_MAX
 * (trend.h); the parser refuses other combinations. */
struct hw_trend_config {
	uint64_t warmup_ns;          /* 0..24h; younger processes: warming */
	uint64_t bucket_ns;          /* 1s..24h; one valley per bucket */
	uint64_t window_ns;          /* 6s..30d; buckets judged together */
};

/* Durations are nanoseconds, sizes bytes. */
struct hw_config {
	uint64_t interval_ns;        /* 100ms..1h */
	uint64_t flush_interval_ns;  /* 100ms..1h */
	unsigned top_types;          /* 1..1000 */
	unsigned growth_types;       /* 0..1000 */
	unsigned max_types;          /* 1..10000, >= top_types */
	struct hw_strlist watch_types; /* 0..HW_CONFIG_WATCH_MAX names or
				       fnmatch(3) patterns, each 1..127
				       printable characters with at most
				       HW_CONFIG_WATCH_STARS '*' */
	struct hw_trend_config trend;
	char status_file[HW_CONFIG_STATUS_MAX + 1]; /* absolute path */
	unsigned max_new_series;     /* max_new_series_per_minute, 1..100000 */
	unsigned ring_capacity;      /* 1..1000000 samples */
	uint64_t max_pause_ns;       /* 1ms..60s */
	uint64_t snapshot_limit;     /* 1MiB..1TiB */
	bool sizes;                  /* census bytes per type too (bytes.*) */
	enum hw_log_level log_level;
	struct hw_statsd_config statsd;
	struct hw_history_config history;
	struct hw_config_target *targets; /* ntargets entries, owned */
	size_t ntargets;             /* 0..HW_CONFIG_TARGETS_MAX */
	/* Where each key's value outside targets was written (1-based;
	 * 0 when the key was not given), by row of the key table: see
	 * hw_config_where().  Not compared by hw_config_diff(). */
	struct { unsigned line, column; } where[HW_CONFIG_KEYS_MAX];
};

/* Fill *c with every key's default and no targets.  *c must own nothing
 * (it is overwritten; call hw_config_fini() first if it does). */
void hw_config_defaults(struct hw_config *c);

/* Parse len bytes of YAML at data (need not be NUL-terminated; may hold
 * anything: this is the fuzzing entry point).  name prefixes messages.
 * Keys absent from the text keep their defaults.  On success returns 0
 * and *out owns the result (free with hw_config_fini()).  On failure
 * returns -1, fills *e and leaves *out as hw_config_defaults() does, so
 * hw_config_fini(out) stays harmless.  *out is overwritten either way:
 * to replace a live configuration, parse into a fresh struct and swap. */
int hw_config_parse_buffer(const char *name, const char *data, size_t len,
			   struct hw_config *out, struct hw_err *e);

/* Read the file at path (at most HW_CONFIG_FILE_MAX bytes) and parse it
 * as hw_config_parse_buffer() does, with path as name.  A file that
 * cannot be read is HW_ECONFIG with errno set ("PATH: No such file or
 * directory").  Does not check ownership: see hw_config_check_perms(). */
int hw_config_load(const char *path, struct hw_config *out,
		   struct hw_err *e);

/* The configuration a command that reads the daemon's files (report,
 * status) follows: path if given, else HW_CONFIG_DEFAULT when it exists.
 * Returns 1 with *out loaded (hw_config_fini it), 0 when path is NULL and
 * there is no default file (*out untouched: use the built-in defaults),
 * -1 with e set when the file named or found cannot be loaded. */
int hw_config_load_used(const char *path, struct hw_config *out,
			struct hw_err *e);

/* When the process runs as root (geteuid() == 0), refuse a file that
 * someone else could change: not owned by root, or writable by group or
 * others (HW_ECONFIG "PATH: writable by others than root; refusing to run
 * as root with it").  Symbolic links are followed.  Returns 0 when the
 * file is fine or the process is not root; -1 (errno set) when it cannot
 * be stat'ed. */
int hw_config_check_perms(const char *path, struct hw_err *e);

/* Free what *c owns and zero it.  c may be NULL; a zeroed struct or one
 * with NULL members is fine.  Idempotent. */
void hw_config_fini(struct hw_config *c);

/* Print *c as YAML that hw_config_parse_buffer() reads back to an equal
 * configuration: every key, defaults included, each with its help line as
 * a comment.  Write errors are left in f's error indicator. */
void hw_config_dump(FILE *f, const struct hw_config *c);

/* Compare two configurations key by key.  Returns 0 when equal; 1 when
 * not, after writing the first differing key ("statsd.port", "targets")
 * into buf (size bytes, NUL-terminated; buf may be NULL).  Used to log
 * what a reload changed. */
int hw_config_diff(const struct hw_config *a, const struct hw_config *b,
		   char *buf, size_t size);

/* Where the value of key ("statsd.host"; any key outside targets) was
 * written in the file c was parsed from: 0 with *line and *column set
 * (1-based), or -1 when the key was not given or is not such a key.  For
 * problems found after the parse, such as a host that does not resolve. */
int hw_config_where(const struct hw_config *c, const char *key,
		    unsigned *line, unsigned *column);

/* The i-th key of the table as a path: "interval", "statsd", "statsd.port",
 * "targets", "targets[].name"...; NULL when i is past the end.  For
 * documentation checks. */
const char *hw_config_key(size_t i);

#endif
