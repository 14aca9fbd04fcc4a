/* resolve.h - which processes a daemon target names right now.
 *
 * A selector is one of: a pid, a pidfile (first integer in the file), or a
 * POSIX extended regular expression over the command line (NULs shown as
 * spaces); with `children` it names the direct children of the selected
 * process(es) instead (gunicorn workers under their master).  Processes
 * are identified by (pid, starttime), since pids are reused.
 */
#ifndef HEAPWATCH_RESOLVE_H
#define HEAPWATCH_RESOLVE_H

#include <regex.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "heapwatch/err.h"

struct hw_pid_id {
	pid_t pid;
	uint64_t starttime;
};

struct hw_selector {
	pid_t pid;              /* 0 if unused */
	char *pidfile;          /* NULL if unused */
	int has_match;
	regex_t match;
	int children;
};

/* Exactly one of pid, pidfile, match must be given.  HW_ECONFIG for a bad
 * regular expression (the message quotes regerror()). */
int hw_selector_init(struct hw_selector *s, pid_t pid, const char *pidfile,
		     const char *match, int children, struct hw_err *e);
void hw_selector_fini(struct hw_selector *s);

/* The processes the selector names now, sorted by pid, without
 * heapwatch itself; *out is malloc'ed (free()), *n its length (0 is not
 * an error).  Errors: HW_ENOPROC (the pid or the pidfile's pid is gone),
 * HW_EIO (pidfile unreadable or holds no pid). */
int hw_selector_resolve(const struct hw_selector *s, struct hw_pid_id **out,
			size_t *n, struct hw_err *e);

#endif
