/* cli.h - how every command of the command line ends in an error: one
 * line on standard error and the exit status (heapwatch(1) EXIT STATUS).
 * main.c and reportcmd.c share it, so every command says it alike. */
#ifndef HEAPWATCH_CLI_H
#define HEAPWATCH_CLI_H

#include "heapwatch/err.h"

/* "heapwatch: [CMD: ]MESSAGE" and the hint to --help; returns 2 (a usage
 * error).  cmd may be NULL. */
__attribute__((format(printf, 2, 3)))
int hw_cli_usage(const char *cmd, const char *fmt, ...);

/* "heapwatch: ERROR" (hw_err_str); returns e's exit status, never 0. */
int hw_cli_fail(const struct hw_err *e);

#endif
