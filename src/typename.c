/* typename.c - naming remote types; see include/heapwatch/typename.h.
 *
 * The string and dict formats are chosen from the layout fields present:
 * str_state (PEP 393 unicode, 3.3+) or bytes_sval (2.7 str); dk_log2_size
 * (3.11+ keys), dk_size (3.6-3.10 keys) or dict_mask (2.7 table).
 */
#include "heapwatch/typename.h"

#include <string.h>

#define NO(x) ((x) < 0)

/* tp_flags bits, the same in every CPython from 2.7 to 3.14 (object.h). */
#define TPFLAGS_HEAPTYPE (1ull << 9)
#define TPFLAGS_STRING_SUBCLASS (1ull << 27)   /* 2.7 str */
#define TPFLAGS_UNICODE_SUBCLASS (1ull << 28)  /* 3.x str */

#define DICT_MAX_ENTRIES 65536   /* a type's dict is far smaller */

static int read_u64(struct hw_snap *s, uint64_t a, uint64_t *v, struct hw_err *e)
{
	return hw_snap_read_u64(s, a, v, e);
}

/* The object's type must be a str type (flag inherited by subclasses). */
static int is_str(struct hw_snap *s, const struct hw_offsets *o, uint64_t obj,
		  struct hw_err *e)
{
	uint64_t t, flags;
	uint64_t want = NO(o->str_state) ? TPFLAGS_STRING_SUBCLASS
					 : TPFLAGS_UNICODE_SUBCLASS;

	if (read_u64(s, obj + (uint64_t)o->ob_type, &t, e) < 0 ||
	    read_u64(s, t + (uint64_t)o->tp_flags, &flags, e) < 0)
		return -1;
	return (flags & want) ? 1 : 0;
}

static size_t put_utf8(char *out, uint32_t c)
{
	if (c < 0x80) {
		out[0] = (char)c;
		return 1;
	}
	if (c < 0x800) {
		out[0] = (char)(0xC0 | (c >> 6));
		out[1] = (char)(0x80 | (c & 0x3F));
		return 2;
	}
	if (c < 0x10000) {
		if (c >= 0xD800 && c <= 0xDFFF)
			c = 0xFFFD; /* lone surrogate: not valid UTF-8 */
		out[0] = (char)(0xE0 | (c >> 12));
		out[1] = (char)(0x80 | ((c >> 6) & 0x3F));
		out[2] = (char)(0x80 | (c & 0x3F));
		return 3;
	}
	if (c > 0x10FFFF)
		c = 0xFFFD;
	if (c == 0xFFFD)
		return put_utf8(out, c);
	out[0] = (char)(0xF0 | (c >> 18));
	out[1] = (char)(0x80 | ((c >> 12) & 0x3F));
	out[2] = (char)(0x80 | ((c >> 6) & 0x3F));
	out[3] = (char)(0x80 | (c & 0x3F));
	return 4;
}

long hw_read_str(struct hw_snap *s, const struct hw_offsets *o,
		 uint64_t str, char *buf, size_t size, struct hw_err *e)
{
	int64_t len;
	int r;

	if (size == 0)
		return hw_err_set(e, HW_ECORRUPT, 0, "no room for a string");
	if (!str || (str & 7))
		return hw_err_set(e, HW_ECORRUPT, 0, "string pointer 0x%llx",
				  (unsigned long long)str);
	r = is_str(s, o, str, e);
	if (r < 0)
		return -1;
	if (r == 0)
		return hw_err_set(e, HW_ECORRUPT, 0, "object 0x%llx is not a str",
				  (unsigned long long)str);
	if (!NO(o->str_state)) {
		uint32_t state;
		unsigned kind, compact, ascii;
		uint64_t data;
		size_t w = 0;

		if (NO(o->str_length) || NO(o->str_ascii_size) ||
		    NO(o->str_compact_size))
			return hw_err_set(e, HW_ELAYOUT, 0, "layout lacks str fields");
		if (hw_snap_read(s, str + (uint64_t)o->str_length, &len, 8, e) < 0 ||
		    hw_snap_read(s, str + (uint64_t)o->str_state, &state, 4, e) < 0)
			return -1;
		/* PyASCIIObject.state: interned:2, kind:3, compact:1, ascii:1
		 * in every version from 3.3 to 3.14 (unicodeobject.h). */
		kind = (state >> 2) & 7;
		compact = (state >> 5) & 1;
		ascii = (state >> 6) & 1;
		if (len < 0 || (uint64_t)len >= size)
			return hw_err_set(e, HW_ECORRUPT, 0,
					  "str at 0x%llx has length %lld",
					  (unsigned long long)str, (long long)len);
		if (!compact)
			return hw_err_set(e, HW_ECORRUPT, 0,
					  "str at 0x%llx is not compact",
					  (unsigned long long)str);
		if (ascii) {
			if (kind != 1)
				return hw_err_set(e, HW_ECORRUPT, 0,
						  "ascii str at 0x%llx has kind %u",
						  (unsigned long long)str, kind);
			if (hw_snap_read(s, str + (uint64_t)o->str_ascii_size, buf,
					 (size_t)len, e) < 0)
				return -1;
			for (int64_t i = 0; i < len; i++)
				if ((unsigned char)buf[i] >= 0x80)
					return hw_err_set(e, HW_ECORRUPT, 0,
							  "ascii str at 0x%llx holds byte 0x%02x",
							  (unsigned long long)str,
							  (unsigned char)buf[i]);
			buf[len] = '\0';
			return (long)len;
		}
		if (kind != 1 && kind != 2 && kind != 4)
			return hw_err_set(e, HW_ECORRUPT, 0,
					  "str at 0x%llx has kind %u",
					  (unsigned long long)str, kind);
		data = str + (uint64_t)o->str_compact_size;
		for (int64_t i = 0; i < len; i++) {
			uint32_t c = 0;
			char tmp[4];
			size_t k;

			if (hw_snap_read(s, data + (uint64_t)i * kind, &c, kind, e) < 0)
				return -1;
			k = put_utf8(tmp, c);
			if (w + k >= size)
				return hw_err_set(e, HW_ECORRUPT, 0,
						  "str at 0x%llx is too long",
						  (unsigned long long)str);
			memcpy(buf + w, tmp, k);
			w += k;
		}
		buf[w] = '\0';
		return (long)w;
	}
	if (!NO(o->bytes_sval) && !NO(o->bytes_size)) {
		if (hw_snap_read(s, str + (uint64_t)o->bytes_size, &len, 8, e) < 0)
			return -1;
		if (len < 0 || (uint64_t)len >= size)
			return hw_err_set(e, HW_ECORRUPT, 0,
					  "str at 0x%llx has length %lld",
					  (unsigned long long)str, (long long)len);
		if (hw_snap_read(s, str + (uint64_t)o->bytes_sval, buf, (size_t)len, e) < 0)
			return -1;
		buf[len] = '\0';
		if (memchr(buf, '\0', (size_t)len))
			return hw_err_set(e, HW_ECORRUPT, 0,
					  "str at 0x%llx holds a NUL",
					  (unsigned long long)str);
		return (long)len;
	}
	return hw_err_set(e, HW_ELAYOUT, 0, "layout has no str format");
}

/* Does the remote str at key equal want?  Cheap length check first. */
static int key_is(struct hw_snap *s, const struct hw_offsets *o, uint64_t key,
		  const char *want, struct hw_err *e)
{
	char buf[64];
	int64_t len;
	int64_t lenoff = NO(o->str_state) ? o->bytes_size : o->str_length;

	if (!key || (key & 7))
		return 0;
	if (hw_snap_read(s, key + (uint64_t)lenoff, &len, 8, e) < 0)
		return -1;
	if (len != (int64_t)strlen(want))
		return 0;
	if (hw_read_str(s, o, key, buf, sizeof buf, e) < 0)
		return e && e->code == HW_ECORRUPT ? 0 : -1;
	return strcmp(buf, want) == 0;
}

/* Value stored under the str key `want` in the remote dict, or 0. */
static int dict_get(struct hw_snap *s, const struct hw_offsets *o,
		    uint64_t dict, const char *want, uint64_t *value,
		    struct hw_err *e)
{
	uint64_t keys, entries, n, esize, koff;

	*value = 0;
	if (NO(o->dict_keys))
		return hw_err_set(e, HW_ELAYOUT, 0, "layout has no dict format");
	if (read_u64(s, dict + (uint64_t)o->dict_keys, &keys, e) < 0)
		return -1;
	if (!keys || (keys & 7))
		return hw_err_set(e, HW_ECORRUPT, 0, "dict 0x%llx has keys 0x%llx",
				  (unsigned long long)dict, (unsigned long long)keys);
	if (!NO(o->dk_log2_size)) {
		/* 3.11+: indices of 1 << dk_log2_index_bytes bytes, then the
		 * entries; unicode-keyed tables use the short entry without
		 * the hash (pycore_dict.h). */
		uint8_t log2ix = 0, kind = 0;
		int64_t nent;

		if (hw_snap_read(s, keys + (uint64_t)o->dk_log2_index_bytes, &log2ix, 1, e) < 0 ||
		    hw_snap_read(s, keys + (uint64_t)o->dk_kind, &kind, 1, e) < 0 ||
		    hw_snap_read(s, keys + (uint64_t)o->dk_nentries, &nent, 8, e) < 0)
			return -1;
		if (log2ix > 40 || nent < 0 || nent > DICT_MAX_ENTRIES || kind > 2)
			return hw_err_set(e, HW_ECORRUPT, 0,
					  "dict keys 0x%llx: index bytes 2^%u, %lld entries, kind %u",
					  (unsigned long long)keys, log2ix,
					  (long long)nent, kind);
		entries = keys + (uint64_t)o->dk_indices + (1ull << log2ix);
		n = (uint64_t)nent;
		esize = (uint64_t)(kind == 0 ? o->dk_entry_size : o->dk_uentry_size);
		koff = kind == 0 ? 8 : 0;
	} else if (!NO(o->dk_size)) {
		/* 3.6-3.10: dk_size slots of 1, 2, 4 or 8 bytes
		 * (DK_IXSIZE in dictobject.c), then the entries. */
		int64_t size, nent;
		uint64_t ix;

		if (hw_snap_read(s, keys + (uint64_t)o->dk_size, &size, 8, e) < 0 ||
		    hw_snap_read(s, keys + (uint64_t)o->dk_nentries, &nent, 8, e) < 0)
			return -1;
		if (size <= 0 || size > (1 << 24) || (size & (size - 1)) ||
		    nent < 0 || nent > DICT_MAX_ENTRIES || nent > size)
			return hw_err_set(e, HW_ECORRUPT, 0,
					  "dict keys 0x%llx: size %lld, %lld entries",
					  (unsigned long long)keys, (long long)size,
					  (long long)nent);
		ix = size <= 0xff ? 1 : size <= 0xffff ? 2 : 4;
		entries = keys + (uint64_t)o->dk_indices + (uint64_t)size * ix;
		n = (uint64_t)nent;
		esize = (uint64_t)o->dk_entry_size;
		koff = 8;
	} else if (!NO(o->dict_mask)) {
		/* 2.7: ma_table of ma_mask + 1 entries {hash, key, value}. */
		int64_t mask;

		if (hw_snap_read(s, dict + (uint64_t)o->dict_mask, &mask, 8, e) < 0)
			return -1;
		if (mask < 0 || mask >= DICT_MAX_ENTRIES * 4 || ((mask + 1) & mask))
			return hw_err_set(e, HW_ECORRUPT, 0, "dict 0x%llx has mask %lld",
					  (unsigned long long)dict, (long long)mask);
		entries = keys;
		n = (uint64_t)mask + 1;
		esize = 24;
		koff = 8;
	} else {
		return hw_err_set(e, HW_ELAYOUT, 0, "layout has no dict format");
	}
	if (esize < 16 || esize > 64)
		return hw_err_set(e, HW_ELAYOUT, 0, "dict entry size %llu",
				  (unsigned long long)esize);
	for (uint64_t i = 0; i < n; i++) {
		uint64_t kv[2];
		int r;

		if (hw_snap_read(s, entries + i * esize + koff, kv, sizeof kv, e) < 0)
			return -1;
		r = key_is(s, o, kv[0], want, e);
		if (r < 0)
			return -1;
		if (r) {
			*value = kv[1];
			return 0;
		}
	}
	return 0;
}

/* Keep at most size-1 bytes, not cutting a UTF-8 sequence. */
static void copy_capped(char *dst, size_t size, const char *src)
{
	size_t n = strlen(src);

	if (n >= size) {
		n = size - 1;
		while (n > 0 && ((unsigned char)src[n] & 0xC0) == 0x80)
			n--;
	}
	memcpy(dst, src, n);
	dst[n] = '\0';
}

static int qualified_name(struct hw_snap *s, const struct hw_offsets *o,
			  uint64_t type, char *buf, size_t size, struct hw_err *e)
{
	char qual[HW_TYPENAME_MAX], mod[HW_TYPENAME_MAX];
	uint64_t qualp, dict, modp;
	int64_t qoff = NO(o->ht_qualname) ? o->ht_name : o->ht_qualname;

	if (NO(qoff) || NO(o->tp_dict))
		return -1;
	if (read_u64(s, type + (uint64_t)qoff, &qualp, e) < 0 ||
	    hw_read_str(s, o, qualp, qual, sizeof qual, e) < 0)
		return -1;
	if (read_u64(s, type + (uint64_t)o->tp_dict, &dict, e) < 0)
		return -1;
	if (!dict || dict_get(s, o, dict, "__module__", &modp, e) < 0 || !modp ||
	    hw_read_str(s, o, modp, mod, sizeof mod, e) < 0) {
		/* No str __module__ (deleted, or not a str): the qualname
		 * alone is what type.__module__ cannot improve on. */
		copy_capped(buf, size, qual);
		return 0;
	}
	if (strcmp(mod, "builtins") == 0 || strcmp(mod, "__builtin__") == 0) {
		copy_capped(buf, size, qual);
		return 0;
	}
	char full[2 * HW_TYPENAME_MAX + 2];

	memcpy(full, mod, strlen(mod));
	full[strlen(mod)] = '.';
	memcpy(full + strlen(mod) + 1, qual, strlen(qual) + 1);
	copy_capped(buf, size, full);
	return 0;
}

int hw_type_name(struct hw_snap *s, const struct hw_offsets *o,
		 uint64_t type, char *buf, size_t size, struct hw_err *e)
{
	uint64_t flags, namep;
	char name[HW_TYPENAME_MAX];
	size_t n = 0;

	if (size == 0)
		return hw_err_set(e, HW_ECORRUPT, 0, "no room for a name");
	if (NO(o->tp_name) || NO(o->tp_flags))
		return hw_err_set(e, HW_ELAYOUT, 0, "layout lacks type fields");
	if (read_u64(s, type + (uint64_t)o->tp_flags, &flags, e) < 0 ||
	    read_u64(s, type + (uint64_t)o->tp_name, &namep, e) < 0)
		return hw_err_prefix(e, "reading type object 0x%llx",
				     (unsigned long long)type);
	if (!namep)
		return hw_err_set(e, HW_ECORRUPT, 0, "type 0x%llx has no tp_name",
				  (unsigned long long)type);
	/* tp_name: a C string; read it page-safely in small steps. */
	while (n < sizeof name) {
		size_t chunk = sizeof name - n < 64 ? sizeof name - n : 64;
		uint64_t a = namep + n;
		size_t to_page = HW_SNAP_PAGE - (size_t)(a % HW_SNAP_PAGE);

		if (chunk > to_page)
			chunk = to_page;
		if (hw_snap_read(s, a, name + n, chunk, e) < 0)
			return hw_err_prefix(e, "reading the tp_name of type 0x%llx",
					     (unsigned long long)type);
		char *z = memchr(name + n, '\0', chunk);

		n += chunk;
		if (z)
			break;
	}
	if (!memchr(name, '\0', n))
		return hw_err_set(e, HW_ECORRUPT, 0,
				  "type 0x%llx: tp_name is not a string of at most %d bytes",
				  (unsigned long long)type, HW_TYPENAME_MAX - 1);
	if (flags & TPFLAGS_HEAPTYPE) {
		struct hw_err tmp;

		hw_err_clear(&tmp);
		if (qualified_name(s, o, type, buf, size, &tmp) == 0)
			return 0;
		/* An unreadable heap-type qualname in a snapshot is a miss to
		 * be retried, not a reason to settle for less. */
		if (tmp.code == HW_EMISS || tmp.code == HW_EEXITED) {
			hw_err_copy(e, &tmp);
			return -1;
		}
	}
	copy_capped(buf, size, name);
	return 0;
}
