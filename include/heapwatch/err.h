/* err.h - the one error channel of heapwatch.
 *
 * Fallible functions return 0 (or a non-NULL pointer) on success and -1 (or
 * NULL) on failure, after filling a caller-provided struct hw_err.  Lower
 * layers add context with hw_err_prefix() and never log; the top level logs
 * once, with the whole chain:
 *   "pid 4242: walking generation 2: reading object at 0x7f..: Bad address"
 * Only main() turns an error into an exit status (hw_err_exit_status()).
 */
#ifndef HEAPWATCH_ERR_H
#define HEAPWATCH_ERR_H

#include <stddef.h>

/* X(name, exit status, class, short description).
 * Exit status: 2 for usage and configuration errors, 1 for every runtime
 * failure.  Class, for whoever decides whether to try again:
 *   LASTING    will not go away by itself for this process (not Python,
 *              permission, another tracer, version, layout, free-threaded
 *              build; usage and configuration errors);
 *   TRANSIENT  may well not happen next time (a collection running, a
 *              snapshot that lacked memory, the process exiting, a stop
 *              that took too long, I/O, memory, interruption, ...). */
#define HW_ERR_CODES(X)                                                      \
	X(HW_OK,          0, TRANSIENT, "success")                           \
	X(HW_EUSAGE,      2, LASTING,   "usage error")                       \
	X(HW_ECONFIG,     2, LASTING,   "configuration error")               \
	X(HW_ENOPROC,     1, TRANSIENT, "no such process")                   \
	X(HW_ENOTPY,      1, LASTING,   "not a CPython process")             \
	X(HW_EPERM,       1, LASTING,   "permission denied")                 \
	X(HW_ETRACED,     1, LASTING,   "already traced")                    \
	X(HW_EVERSION,    1, LASTING,   "unsupported CPython version")       \
	X(HW_ELAYOUT,     1, LASTING,   "unsupported or inconsistent layout") \
	X(HW_EFREETHR,    1, LASTING,   "free-threaded CPython build")       \
	X(HW_EEXITED,     1, TRANSIENT, "process exited")                    \
	X(HW_ECORRUPT,    1, TRANSIENT, "inconsistent heap")                 \
	X(HW_EBUSY,       1, TRANSIENT, "garbage collection in progress")    \
	X(HW_EMISS,       1, TRANSIENT, "snapshot lacks memory")             \
	X(HW_ETIMEOUT,    1, TRANSIENT, "pause budget exceeded")             \
	X(HW_ELIMIT,      1, TRANSIENT, "resource limit reached")            \
	X(HW_EIO,         1, TRANSIENT, "input/output error")                \
	X(HW_ENOMEM,      1, TRANSIENT, "out of memory")                     \
	X(HW_EINTR,       1, TRANSIENT, "interrupted")                       \
	X(HW_ESYS,        1, TRANSIENT, "system error")

enum hw_code {
#define HW_ERR_ENUM(name, status, class, desc) name,
	HW_ERR_CODES(HW_ERR_ENUM)
#undef HW_ERR_ENUM
	HW_ERR_NCODES
};

#define HW_ERR_MSG_MAX 1024

struct hw_err {
	enum hw_code code;      /* HW_OK when nothing failed */
	int sys_errno;          /* errno saved at the failure, 0 if none */
	char msg[HW_ERR_MSG_MAX]; /* context chain, without the strerror part */
};

/* Reset to HW_OK with an empty message. */
void hw_err_clear(struct hw_err *e);

/* Record a failure: code, errno (0 for none) and a printf-style message.
 * Always returns -1 so callers can write `return hw_err_set(...)`.
 * e may be NULL (the error is then dropped). */
int hw_err_set(struct hw_err *e, enum hw_code code, int sys_errno,
	       const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Prepend "context: " to the message, keeping code and errno.
 * Returns -1.  e may be NULL. */
int hw_err_prefix(struct hw_err *e, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* The full one-line text: message, then ": strerror(errno)" if errno is set.
 * Writes at most size bytes into buf (always NUL-terminated); returns buf. */
const char *hw_err_str(const struct hw_err *e, char *buf, size_t size);

/* Name ("HW_EPERM") and description of a code; never NULL. */
const char *hw_err_code_name(enum hw_code code);
const char *hw_err_code_desc(enum hw_code code);

enum hw_err_class {
	HW_TRANSIENT = 0,
	HW_LASTING,
};
/* The class of a code (see HW_ERR_CODES); HW_TRANSIENT for an unknown one. */
enum hw_err_class hw_err_code_class(enum hw_code code);
/* hw_err_code_class(code) == HW_LASTING. */
int hw_err_lasting(enum hw_code code);

/* Process exit status for an error: 0, 1 or 2 (see HW_ERR_CODES). */
int hw_err_exit_status(const struct hw_err *e);

/* Copy src into dst (both may be the same object). */
void hw_err_copy(struct hw_err *dst, const struct hw_err *src);

/* What a message may show of text someone else wrote (a value in a
 * configuration file, an argument): at most 40 bytes of s[0..n), between
 * quotes the caller adds; control bytes and bytes past a NUL become '?',
 * a cut never splits a UTF-8 sequence, "..." marks it.  dst always ends
 * in a NUL when size > 0. */
void hw_err_quote(char *dst, size_t size, const char *s, size_t n);

#endif
