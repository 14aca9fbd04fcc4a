/* labels.c - hw_edge_label(): an edge as a person reads code.
 *
 * "[3]", "['_expected']", "[42]", "[<tuple>]", ".name", ".__dict__",
 * ".__closure__", "(local 'request')".  Keys are short reprs of str and
 * int keys, cut at LABEL_KEY_MAX characters with "..."; anything else
 * is named by its type.  Labels are computed for the few edges printed,
 * never stored.
 */
#include "heapwatch/objmodel.h"

#include <stdio.h>
#include <string.h>

#include "heapwatch/typename.h"

#define LABEL_KEY_MAX 40
#define NO(x) ((x) < 0)

/* A str object as a Python repr: 'text', quotes and control characters
 * escaped, cut with "..." (UTF-8 kept whole). */
static int str_repr(struct hw_objects *o, struct hw_snap *s, uint64_t str,
		    char *out, size_t size, struct hw_err *e)
{
	char raw[4 * LABEL_KEY_MAX + 8];
	char buf[8 * LABEL_KEY_MAX + 16];
	size_t w = 0, chars = 0;
	long n;
	int64_t len = 0;

	/* read at most what we print: a long str is cut, not refused (2.7:
	 * a PyStringObject, its ob_size) */
	if (hw_py_read_i64(s, str + (uint64_t)(NO(o->o->str_state) ? o->o->bytes_size
						   : o->o->str_length), &len, e) < 0)
		return -1;
	if (len > LABEL_KEY_MAX)
		return snprintf(out, size, "'<str of %lld characters>'", (long long)len), 0;
	n = hw_read_str(s, o->o, str, raw, sizeof raw, e);
	if (n < 0)
		return -1;
	buf[w++] = '\'';
	for (long i = 0; i < n && w + 8 < sizeof buf; i++) {
		unsigned char ch = (unsigned char)raw[i];

		if ((ch & 0xC0) != 0x80)
			chars++;
		if (ch == '\'' || ch == '\\') {
			buf[w++] = '\\';
			buf[w++] = (char)ch;
		} else if (ch < 0x20 || ch == 0x7f) {
			w += (size_t)snprintf(buf + w, sizeof buf - w, "\\x%02x", ch);
		} else {
			buf[w++] = (char)ch;
		}
	}
	(void)chars;
	buf[w++] = '\'';
	buf[w] = '\0';
	snprintf(out, size, "%s", buf);
	return 0;
}

/* The repr of a dict key or attribute name: str, int, bool, None, or
 * "<typename>". */
static int key_repr(struct hw_objects *o, struct hw_snap *s, uint64_t key,
		    char *out, size_t size, struct hw_err *e)
{
	uint64_t type;
	const struct hw_typeinfo *ti;
	char name[HW_TYPENAME_MAX];
	int64_t v;

	if (!key)
		return snprintf(out, size, "?"), 0;
	if (hw_py_read_u64(s, key + (uint64_t)o->o->ob_type, &type, e) < 0)
		return -1;
	if (type == (NO(o->o->str_state) ? o->sym[HW_OBJSYM_string_type]
					  : o->sym[HW_OBJSYM_unicode_type]))
		return str_repr(o, s, key, out, size, e);
	if (type && !NO(o->o->int_ival) &&
	    (type == o->sym[HW_OBJSYM_int_type] || type == o->sym[HW_OBJSYM_bool_type])) {
		/* 2.7 int and bool: a C long */
		if (hw_py_read_i64(s, key + (uint64_t)o->o->int_ival, &v, e) < 0)
			return -1;
		if (type == o->sym[HW_OBJSYM_bool_type])
			return snprintf(out, size, "%s", v ? "True" : "False"), 0;
		return snprintf(out, size, "%lld", (long long)v), 0;
	}
	if (type == o->sym[HW_OBJSYM_long_type] || type == o->sym[HW_OBJSYM_bool_type]) {
		int r = hw_read_small_int(s, o->o, o->c->long_size_rule, key, &v, e);

		if (r < 0)
			return -1;
		if (type == o->sym[HW_OBJSYM_bool_type])
			return snprintf(out, size, "%s", v ? "True" : "False"), 0;
		if (r)
			return snprintf(out, size, "%lld", (long long)v), 0;
		return snprintf(out, size, "<int>"), 0;
	}
	ti = hw_objects_type(o, s, type, e);
	if (!ti)
		return -1;
	if (hw_type_name(s, o->o, type, name, sizeof name, e) < 0)
		return -1;
	if (size > 2) {
		size_t n = strlen(name);

		if (n > size - 3)
			n = size - 3;
		out[0] = '<';
		memcpy(out + 1, name, n);
		out[n + 1] = '>';
		out[n + 2] = '\0';
	}
	return 0;
}

/* A remote C string (a slot's name), capped. */
static int c_string(struct hw_snap *s, uint64_t addr, char *out, size_t size,
		    struct hw_err *e)
{
	char buf[64];

	for (size_t i = 0; i < sizeof buf - 1; i++) {
		if (hw_snap_read(s, addr + i, &buf[i], 1, e) < 0)
			return -1;
		if (!buf[i])
			break;
		buf[i + 1] = '\0';
	}
	buf[sizeof buf - 1] = '\0';
	snprintf(out, size, "%s", buf);
	return 0;
}

int hw_edge_label(struct hw_objects *o, struct hw_snap *s,
		  const struct hw_edge *ed, char *buf, size_t size,
		  struct hw_err *e)
{
	char key[8 * LABEL_KEY_MAX + 64];
	int rc = 0;

	if (!size)
		return 0;
	key[0] = '\0';
	switch (ed->kind) {
	case HW_EDGE_INDEX:
		snprintf(buf, size, "[%lld]", (long long)ed->index);
		return 0;
	case HW_EDGE_DICT_VALUE:
		rc = key_repr(o, s, ed->key_addr, key, sizeof key, e);
		snprintf(buf, size, "[%s]", rc < 0 ? "?" : key);
		return rc;
	case HW_EDGE_DICT_KEY:
		snprintf(buf, size, "(key)");
		return 0;
	case HW_EDGE_SET_ITEM:
		snprintf(buf, size, "(item)");
		return 0;
	case HW_EDGE_ATTR:
		if (ed->key_addr) {
			rc = hw_read_str(s, o->o, ed->key_addr, key, sizeof key, e) < 0 ? -1 : 0;
			snprintf(buf, size, ".%s", rc < 0 ? "?" : key);
		} else {
			snprintf(buf, size, ".<attribute %lld>", (long long)ed->index);
		}
		return rc;
	case HW_EDGE_SLOT:
		if (ed->key_addr)
			rc = c_string(s, ed->key_addr, key, sizeof key, e);
		snprintf(buf, size, ".%s", rc < 0 || !key[0] ? "<slot>" : key);
		return rc;
	case HW_EDGE_DICT:
		snprintf(buf, size, ".__dict__");
		return 0;
	case HW_EDGE_FIELD:
		snprintf(buf, size, ".%s", ed->name ? ed->name : "?");
		return 0;
	case HW_EDGE_LOCAL:
		if (ed->key_addr) {
			rc = hw_read_str(s, o->o, ed->key_addr, key, sizeof key, e) < 0 ? -1 : 0;
			snprintf(buf, size, "(local '%s')", rc < 0 ? "?" : key);
		} else {
			snprintf(buf, size, "(%s %lld)", ed->name ? ed->name : "slot",
				 (long long)ed->index);
		}
		return rc;
	case HW_EDGE_TYPE:
		snprintf(buf, size, ".__class__");
		return 0;
	}
	snprintf(buf, size, "->");
	return 0;
}
