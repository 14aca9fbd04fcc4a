/* fuzz_status.c - libFuzzer target: arbitrary bytes as the daemon's
 * status file, through what `heapwatch status` and `heapwatch status
 * --json` run (hw_status_show_buf).  Every input ends in a refusal (an
 * HW_ error with a one-line message, nothing printed) or in output that
 * ends in a newline, is valid UTF-8 and holds no control character but
 * newline and tab, so nothing from the file can drive the terminal.
 * --json prints the file itself (carriage returns as spaces, a newline
 * added at the end when it lacks one).
 *
 * The clock is fixed at NOW; the seeds say "updated": 1796040000 and
 * "pid": 1 (always running) so that the fuzzer reaches the printer. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "heapwatch/status.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NOW_MS 1796040005000LL

/* length of the valid UTF-8 sequence at p (at most n bytes), 0 if none:
 * no overlong forms, no surrogates, nothing above U+10FFFF */
static size_t utf8_seq(const unsigned char *p, size_t n)
{
	unsigned c = p[0], cp;
	size_t len, i;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		len = 2, cp = c & 0x1f;
	else if (c >= 0xe0 && c <= 0xef)
		len = 3, cp = c & 0x0f;
	else if (c >= 0xf0 && c <= 0xf4)
		len = 4, cp = c & 0x07;
	else
		return 0;
	if (n < len)
		return 0;
	for (i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10ffff ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

/* Safe for a terminal: see the top of the file. */
static void check_printable(const unsigned char *s, size_t n)
{
	size_t i = 0;

	if (n == 0 || s[n - 1] != '\n')
		abort();
	while (i < n) {
		size_t l = utf8_seq(s + i, n - i);

		if (l == 0)
			abort(); /* invalid UTF-8 */
		if (l == 1 && ((s[i] < 0x20 && s[i] != '\n' && s[i] != '\t') || s[i] == 0x7f))
			abort(); /* C0 control or DEL */
		if (l == 2 && s[i] == 0xc2 && s[i + 1] < 0xa0)
			abort(); /* C1 control (U+0080..U+009F) */
		i += l;
	}
}

static void one(const uint8_t *data, size_t size, int json)
{
	struct hw_err e;
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	int rc;

	if (!f)
		return;
	hw_err_clear(&e);
	rc = hw_status_show_buf("fuzz.json", (const char *)data, size, json, f, NOW_MS, &e);
	fclose(f);
	if (rc < 0) {
		if (rc != -1 || e.code == HW_OK || !e.msg[0] || strchr(e.msg, '\n'))
			abort(); /* a refusal says what, on one line */
		if (len != 0)
			abort(); /* and prints nothing */
	} else {
		if (rc != 0 || e.code != HW_OK)
			abort();
		check_printable((const unsigned char *)text, len);
		if (json) {
			/* the file itself */
			if (len < size || len > size + 1)
				abort();
			for (size_t i = 0; i < size; i++)
				if (text[i] != (data[i] == '\r' ? ' ' : (char)data[i]))
					abort();
		}
	}
	free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	one(data, size, 0);
	one(data, size, 1);
	return 0;
}
