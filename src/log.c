/* log.c - leveled logging; see include/heapwatch/log.h. */
#include "heapwatch/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static enum hw_log_level cur_level = HW_LOG_INFO;
static int prefix_mode = -1;

static const char *const names[] = {
	[HW_LOG_ERR] = "error",   [HW_LOG_WARNING] = "warning",
	[HW_LOG_NOTICE] = "notice", [HW_LOG_INFO] = "info",
	[HW_LOG_DEBUG] = "debug",
};

void hw_log_set_level(enum hw_log_level level) { cur_level = level; }
enum hw_log_level hw_log_get_level(void) { return cur_level; }
void hw_log_set_prefix(int mode) { prefix_mode = mode; }

int hw_log_level_parse(const char *name, enum hw_log_level *out)
{
	for (int l = HW_LOG_ERR; l <= HW_LOG_DEBUG; l++) {
		if (name && strcmp(name, names[l]) == 0) {
			*out = (enum hw_log_level)l;
			return 0;
		}
	}
	return -1;
}

const char *hw_log_level_name(enum hw_log_level level)
{
	if (level < HW_LOG_ERR || level > HW_LOG_DEBUG)
		return "?";
	return names[level];
}

void hw_log(enum hw_log_level level, const char *fmt, ...)
{
	char line[4096];
	va_list ap;
	int journal = prefix_mode;

	if (level > cur_level)
		return;
	if (journal < 0)
		journal = getenv("JOURNAL_STREAM") != NULL;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	/* One write per line keeps lines whole when several processes share
	 * the stream. */
	if (journal)
		fprintf(stderr, "<%d>%s\n", (int)level, line);
	else if (level <= HW_LOG_WARNING)
		fprintf(stderr, "heapwatch: %s: %s\n", names[level], line);
	else
		fprintf(stderr, "heapwatch: %s\n", line);
}
