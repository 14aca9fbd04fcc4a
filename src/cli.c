/* cli.c - see cli.h. */
#include "heapwatch/cli.h"

#include <stdarg.h>
#include <stdio.h>

int hw_cli_usage(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "heapwatch: %s%s", cmd ? cmd : "", cmd ? ": " : "");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'heapwatch --help'.\n");
	return 2;
}

int hw_cli_fail(const struct hw_err *e)
{
	char buf[HW_ERR_MSG_MAX + 256];
	int status = hw_err_exit_status(e);

	fprintf(stderr, "heapwatch: %s\n", hw_err_str(e, buf, sizeof buf));
	return status ? status : 1;
}
