/* reportcmd.c - the command line of `heapwatch report` (report.h has the
 * report itself): options, where the history is, the output file. */
#include "heapwatch/report.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "heapwatch/cli.h"
#include "heapwatch/config.h"
#include "heapwatch/slots.h"
#include "heapwatch/units.h"

#ifndef HW_SYSCONFDIR
#define HW_SYSCONFDIR "/etc"
#endif

const char hw_report_usage[] =
"report options (one of --text, --svg or --html):\n"
"      --history FILE       the history database (default: the one the\n"
"                           configuration names)\n"
"  -c, --config FILE        take history.path from FILE (default\n"
"                           " HW_CONFIG_DEFAULT ")\n"
"  -t, --target NAME        only this target\n"
"  -p, --pid PID            only this process\n"
"  -s, --slot SLOT          only the processes that held this worker slot (w3)\n"
"      --since DURATION     how far back (default 6h; 0 or all: everything)\n"
"  -n, --types N            types per process (default 5, at most 20)\n"
"      --text               sparklines in the terminal\n"
"      --svg FILE           one SVG image, a chart per process ('-': stdout)\n"
"      --html FILE          one self-contained page ('-': stdout)\n";

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The history path: --history, else history.path of --config or of the
 * default configuration, else the built-in default. */
static int history_path(const char *history, const char *config, char *out,
			size_t size, struct hw_err *e)
{
	struct hw_config c;
	int rc;

	if (history) {
		snprintf(out, size, "%s", history);
		return 0;
	}
	rc = hw_config_load_used(config, &c, e);
	if (rc <= 0) {
		snprintf(out, size, "%s", HW_HISTORY_PATH_DEFAULT);
		return rc;
	}
	if (!c.history.enabled) {
		hw_err_set(e, HW_ECONFIG, 0, "%s: history.enabled is false: no history to report on"
			   " (name a file with --history)", config ? config : HW_CONFIG_DEFAULT);
		hw_config_fini(&c);
		return -1;
	}
	snprintf(out, size, "%s", c.history.path);
	hw_config_fini(&c);
	return 0;
}

/* Write the report to path through a temporary file renamed into place,
 * so a failure leaves no half file ("-": stdout). */
static int write_to(const char *path, const struct hw_report_opts *o)
{
	char tmp[4096];
	struct hw_err e;
	FILE *f;
	int fd, rc;

	hw_err_clear(&e);
	if (strcmp(path, "-") == 0) {
		rc = hw_report_write(o, stdout, &e);
		if (rc == 0 && (fflush(stdout) != 0 || ferror(stdout)))
			rc = hw_err_set(&e, HW_EIO, errno, "writing the report");
		return rc == 0 ? 0 : hw_cli_fail(&e);
	}
	if (snprintf(tmp, sizeof tmp, "%s.XXXXXX", path) >= (int)sizeof tmp)
		return hw_cli_usage("report", "'%s': path too long", path);
	fd = mkstemp(tmp);
	if (fd < 0) {
		hw_err_set(&e, HW_EIO, errno, "%s", path);
		return hw_cli_fail(&e);
	}
	f = fdopen(fd, "w");
	if (!f) {
		hw_err_set(&e, HW_EIO, errno, "%s", path);
		close(fd);
		unlink(tmp);
		return hw_cli_fail(&e);
	}
	rc = hw_report_write(o, f, &e);
	if (rc == 0 && (fflush(f) != 0 || ferror(f)))
		rc = hw_err_set(&e, HW_EIO, errno, "writing %s", path);
	if (fclose(f) != 0 && rc == 0)
		rc = hw_err_set(&e, HW_EIO, errno, "writing %s", path);
	/* mkstemp makes it 0600; a report is for reading. */
	if (rc == 0 && chmod(tmp, 0644) < 0)
		rc = hw_err_set(&e, HW_EIO, errno, "%s", path);
	if (rc == 0 && rename(tmp, path) < 0)
		rc = hw_err_set(&e, HW_EIO, errno, "%s", path);
	if (rc != 0) {
		unlink(tmp);
		return hw_cli_fail(&e);
	}
	return 0;
}

int hw_report_main(int argc, char **argv)
{
	enum { O_HISTORY = 256, O_SINCE, O_TEXT, O_SVG, O_HTML };
	static const struct option lopts[] = {
		{ "history", required_argument, NULL, O_HISTORY },
		{ "config", required_argument, NULL, 'c' },
		{ "target", required_argument, NULL, 't' },
		{ "pid", required_argument, NULL, 'p' },
		{ "slot", required_argument, NULL, 's' },
		{ "since", required_argument, NULL, O_SINCE },
		{ "types", required_argument, NULL, 'n' },
		{ "text", no_argument, NULL, O_TEXT },
		{ "svg", required_argument, NULL, O_SVG },
		{ "html", required_argument, NULL, O_HTML },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct hw_report_opts o;
	const char *history = NULL, *config = NULL, *out = NULL, *since = "6h";
	char path[HW_CONFIG_HISTORY_PATH_MAX + 1];
	struct hw_err e;
	int opt, nformats = 0;
	uint64_t since_ns = 0;

	memset(&o, 0, sizeof o);
	o.slot = -1;
	o.ntypes = 5;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "+c:t:p:s:n:h", lopts, NULL)) != -1) {
		char *end;
		long v;

		switch (opt) {
		case O_HISTORY:
			history = optarg;
			break;
		case 'c':
			config = optarg;
			break;
		case 't':
			if (!optarg[0] || strlen(optarg) > HW_CONFIG_NAME_MAX)
				return hw_cli_usage("report", "--target: '%s' is not a target name", optarg);
			o.target = optarg;
			break;
		case 'p':
			errno = 0;
			v = strtol(optarg, &end, 10);
			if (errno || *end || end == optarg || v <= 0 || v > 4194304)
				return hw_cli_usage("report", "--pid: '%s' is not a process id", optarg);
			o.pid = (pid_t)v;
			break;
		case 's':
			if (hw_slot_parse(optarg, &o.slot) < 0)
				return hw_cli_usage("report", "--slot: '%s' is not a worker slot such as w3", optarg);
			break;
		case O_SINCE:
			since = optarg;
			break;
		case 'n':
			errno = 0;
			v = strtol(optarg, &end, 10);
			if (errno || *end || end == optarg || v < 1 || v > HW_REPORT_TYPES_MAX)
				return hw_cli_usage("report", "--types: '%s' is not a number from 1 to %d", optarg,
					     HW_REPORT_TYPES_MAX);
			o.ntypes = (unsigned)v;
			break;
		case O_TEXT:
			o.format = HW_REPORT_TEXT;
			out = NULL;
			nformats++;
			break;
		case O_SVG:
		case O_HTML:
			o.format = opt == O_SVG ? HW_REPORT_SVG : HW_REPORT_HTML;
			out = optarg;
			nformats++;
			break;
		case 'h':
			fputs("Usage: heapwatch report [OPTIONS] (--text | --svg FILE | --html FILE)\n\n", stdout);
			fputs(hw_report_usage, stdout);
			return 0;
		default:
			fputs("Try 'heapwatch --help'.\n", stderr);
			return 2;
		}
	}
	if (optind < argc)
		return hw_cli_usage("report", "unexpected argument '%s'", argv[optind]);
	if (nformats == 0)
		return hw_cli_usage("report", "say what to write: --text, --svg FILE or --html FILE");
	if (nformats > 1)
		return hw_cli_usage("report", "only one of --text, --svg and --html");
	if (history && config)
		return hw_cli_usage("report", "--history and --config both name the history; give one");
	if (o.pid > 0 && o.slot >= 0)
		return hw_cli_usage("report", "--pid and --slot both choose processes; give one");
	if (strcmp(since, "all") != 0 && hw_parse_duration(since, &since_ns) < 0)
		return hw_cli_usage("report", "--since: '%s' is not a duration such as 30m, 6h or 7d", since);
	o.now_ms = now_ms();
	o.since_text = since_ns ? since : "all";
	o.since_ms = since_ns ? o.now_ms - (int64_t)(since_ns / 1000000u) : 0;
	if (since_ns / 1000000u > (uint64_t)o.now_ms)
		o.since_ms = 0;
	hw_err_clear(&e);
	if (history_path(history, config, path, sizeof path, &e) < 0)
		return hw_cli_fail(&e);
	o.history = path;
	if (o.format == HW_REPORT_TEXT)
		return write_to("-", &o);
	return write_to(out, &o);
}
