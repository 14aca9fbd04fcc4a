/* log.h - leveled logging to stderr.
 *
 * Lines carry a syslog priority prefix ("<3>") when stderr is connected to
 * the journal (JOURNAL_STREAM set, as systemd does for services) or when
 * forced with hw_log_set_prefix(1); otherwise a plain "heapwatch: " prefix.
 * Only the top layers (main, daemon) log; library code reports through
 * struct hw_err instead.
 */
#ifndef HEAPWATCH_LOG_H
#define HEAPWATCH_LOG_H

enum hw_log_level {
	HW_LOG_ERR = 3,
	HW_LOG_WARNING = 4,
	HW_LOG_NOTICE = 5,
	HW_LOG_INFO = 6,
	HW_LOG_DEBUG = 7,
};

/* Messages above this level are dropped.  Default HW_LOG_INFO. */
void hw_log_set_level(enum hw_log_level level);
enum hw_log_level hw_log_get_level(void);

/* Parse "error", "warning", "notice", "info", "debug".  Returns 0 and sets
 * *out, or -1 for an unknown name. */
int hw_log_level_parse(const char *name, enum hw_log_level *out);
const char *hw_log_level_name(enum hw_log_level level);

/* 1: "<N>" journald prefixes; 0: "heapwatch: " prefix; -1: decide from
 * JOURNAL_STREAM (the default). */
void hw_log_set_prefix(int mode);

void hw_log(enum hw_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif
