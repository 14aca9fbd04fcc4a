/* err.c - the error channel; see include/heapwatch/err.h. */
#include "heapwatch/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const struct {
	const char *name;
	int status;
	enum hw_err_class class;
	const char *desc;
} codes[] = {
#define HW_ERR_ROW(name, status, class, desc) { #name, status, HW_##class, desc },
	HW_ERR_CODES(HW_ERR_ROW)
#undef HW_ERR_ROW
};

void hw_err_clear(struct hw_err *e)
{
	if (!e)
		return;
	e->code = HW_OK;
	e->sys_errno = 0;
	e->msg[0] = '\0';
}

int hw_err_set(struct hw_err *e, enum hw_code code, int sys_errno,
	       const char *fmt, ...)
{
	va_list ap;

	if (!e)
		return -1;
	e->code = code;
	e->sys_errno = sys_errno;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof e->msg, fmt, ap);
	va_end(ap);
	return -1;
}

int hw_err_prefix(struct hw_err *e, const char *fmt, ...)
{
	char ctx[HW_ERR_MSG_MAX];
	char old[HW_ERR_MSG_MAX];
	va_list ap;

	if (!e)
		return -1;
	va_start(ap, fmt);
	vsnprintf(ctx, sizeof ctx, fmt, ap);
	va_end(ap);
	memcpy(old, e->msg, sizeof old);
	old[sizeof old - 1] = '\0';
	/* Truncate explicitly: the chain keeps its head (the outer context)
	 * and loses the tail when it is too long. */
	size_t n = strlen(ctx);
	memcpy(e->msg, ctx, n + 1);
	if (old[0] && n + 2 < sizeof e->msg) {
		size_t room = sizeof e->msg - n - 3;
		size_t m = strlen(old);

		if (m > room)
			m = room;
		e->msg[n] = ':';
		e->msg[n + 1] = ' ';
		memcpy(e->msg + n + 2, old, m);
		e->msg[n + 2 + m] = '\0';
	}
	return -1;
}

const char *hw_err_str(const struct hw_err *e, char *buf, size_t size)
{
	if (!buf || size == 0)
		return "";
	if (!e) {
		snprintf(buf, size, "unknown error");
		return buf;
	}
	if (e->sys_errno)
		snprintf(buf, size, "%s%s%s", e->msg, e->msg[0] ? ": " : "",
			 strerror(e->sys_errno));
	else if (e->msg[0])
		snprintf(buf, size, "%s", e->msg);
	else
		snprintf(buf, size, "%s", hw_err_code_desc(e->code));
	return buf;
}

const char *hw_err_code_name(enum hw_code code)
{
	if ((unsigned)code >= HW_ERR_NCODES)
		return "HW_E?";
	return codes[code].name;
}

const char *hw_err_code_desc(enum hw_code code)
{
	if ((unsigned)code >= HW_ERR_NCODES)
		return "unknown error";
	return codes[code].desc;
}

enum hw_err_class hw_err_code_class(enum hw_code code)
{
	if ((unsigned)code >= HW_ERR_NCODES)
		return HW_TRANSIENT;
	return codes[code].class;
}

int hw_err_lasting(enum hw_code code)
{
	return hw_err_code_class(code) == HW_LASTING;
}

int hw_err_exit_status(const struct hw_err *e)
{
	if (!e || (unsigned)e->code >= HW_ERR_NCODES)
		return 1;
	return codes[e->code].status;
}

void hw_err_copy(struct hw_err *dst, const struct hw_err *src)
{
	if (!dst || !src || dst == src)
		return;
	memcpy(dst, src, sizeof *dst);
}

void hw_err_quote(char *dst, size_t size, const char *s, size_t n)
{
	size_t max = 40, i;

	if (size < 5) {
		if (size)
			dst[0] = '\0';
		return;
	}
	if (max > size - 4)
		max = size - 4;
	if (n > max) {
		while (max > 0 && ((unsigned char)s[max] & 0xc0) == 0x80)
			max--;
	} else {
		max = n;
	}
	for (i = 0; i < max; i++) {
		unsigned char ch = (unsigned char)s[i];

		dst[i] = ch < 0x20 || ch == 0x7f ? '?' : (char)ch;
	}
	if (max < n)
		memcpy(dst + i, "...", 3), i += 3;
	dst[i] = '\0';
}
