/* target.c - which CPython a process runs and where its state lives; see
 * include/heapwatch/target.h.
 *
 * Everything here comes from /proc and the ELF files (libelf), never from
 * the target's memory: symbols from .dynsym first (a stripped distribution
 * binary keeps the C-API symbols there, since CPython links with
 * -export-dynamic), then .symtab; constants such as Py_Version and the
 * _Py_DebugOffsets header from the file's initialised data.
 */
#include "heapwatch/target.h"

#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "heapwatch/proc.h"

/* ==================== the ELF facts of one candidate ==================== */

enum sym_id {
	SYM_RUNTIME,      /* _PyRuntime, 3.7+ */
	SYM_GEN0,         /* _PyGC_generation0, 2.7 and 3.6 */
	SYM_PY_VERSION,   /* Py_Version, 3.11+ */
	SYM_INTERP_HEAD,  /* static in pystate.c, 2.7 and 3.6 */
	SYM_NEGREF,       /* Py_REF_DEBUG (implied by Py_DEBUG) */
	SYM_REFTOTAL,     /* Py_REF_DEBUG, up to 3.12 */
	SYM_PRINTREFS,    /* Py_TRACE_REFS */
	NSYMS
};

static const struct {
	const char *name;
	bool symtab_only;  /* a static: never in .dynsym */
} syms[NSYMS] = {
	[SYM_RUNTIME] = { "_PyRuntime", false },
	[SYM_GEN0] = { "_PyGC_generation0", false },
	[SYM_PY_VERSION] = { "Py_Version", false },
	[SYM_INTERP_HEAD] = { "interp_head", true },
	[SYM_NEGREF] = { "_Py_NegativeRefcount", false },
	[SYM_REFTOTAL] = { "_Py_RefTotal", false },
	[SYM_PRINTREFS] = { "_Py_PrintReferences", false },
};

const struct hw_objsym_desc hw_objsyms[HW_OBJSYM_COUNT] = {
#define HW_OBJSYM_ROW(id, name, how) [HW_OBJSYM_##id] = { name, how },
	HW_OBJSYMS(HW_OBJSYM_ROW)
#undef HW_OBJSYM_ROW
};

#define MAXLOADS 16

struct load {
	uint64_t vaddr, offset, filesz, memsz;
};

struct elfobj {
	int type;                       /* ET_EXEC or ET_DYN */
	struct load load[MAXLOADS];
	size_t nload;
	bool have[NSYMS];
	uint64_t val[NSYMS], size[NSYMS];
	/* object-model symbols; a static defined twice is ambiguous (0) */
	uint64_t objval[HW_OBJSYM_COUNT];
	bool objdup[HW_OBJSYM_COUNT];
	char build_id[129];
};

static void build_id_from_notes(Elf_Data *d, char *out, size_t size)
{
	size_t off = 0, name_off, desc_off;
	GElf_Nhdr nh;

	while ((off = gelf_getnote(d, off, &nh, &name_off, &desc_off)) > 0) {
		const unsigned char *id = (const unsigned char *)d->d_buf + desc_off;

		if (nh.n_type != NT_GNU_BUILD_ID || nh.n_namesz != 4 ||
		    memcmp((const char *)d->d_buf + name_off, "GNU", 4) != 0 ||
		    nh.n_descsz * 2 + 1 > size)
			continue;
		for (size_t k = 0; k < nh.n_descsz; k++)
			snprintf(out + 2 * k, 3, "%02x", id[k]);
		return;
	}
}

static void read_phdrs(Elf *elf, struct elfobj *o)
{
	size_t nph;

	if (elf_getphdrnum(elf, &nph) != 0)
		return;
	for (size_t i = 0; i < nph; i++) {
		GElf_Phdr ph;

		if (!gelf_getphdr(elf, (int)i, &ph))
			continue;
		if (ph.p_type == PT_LOAD && o->nload < MAXLOADS) {
			struct load *l = &o->load[o->nload++];

			l->vaddr = ph.p_vaddr;
			l->offset = ph.p_offset;
			l->filesz = ph.p_filesz;
			l->memsz = ph.p_memsz;
		} else if (ph.p_type == PT_NOTE && !o->build_id[0]) {
			Elf_Data *d = elf_getdata_rawchunk(elf, (int64_t)ph.p_offset,
							   ph.p_filesz, ELF_T_NHDR);

			if (d)
				build_id_from_notes(d, o->build_id, sizeof o->build_id);
		}
	}
}

int hw_symbol_is(const char *sym, const char *name)
{
	size_t n = strlen(name);
	const char *p;

	if (strncmp(sym, name, n) != 0)
		return 0;
	if (sym[n] == '\0')
		return 1;
	if (strncmp(sym + n, ".lto_priv.", 10) != 0)
		return 0;
	for (p = sym + n + 10; *p >= '0' && *p <= '9'; p++)
		;
	return p > sym + n + 10 && *p == '\0';
}

/* One symbol against the object model's list: exported objects from
 * .dynsym (pass 0) or .symtab, statics from .symtab only. */
/* A file-local variable "file.c:name" against nm, a local symbol of the
 * source file `file` (the last STT_FILE seen, "" before any). */
static int file_symbol_is(const char *want, const char *file, const char *nm)
{
	const char *colon = strchr(want, ':');

	return colon && strlen(file) == (size_t)(colon - want) &&
	       strncmp(file, want, (size_t)(colon - want)) == 0 &&
	       strcmp(nm, colon + 1) == 0;
}

static void obj_symbol(struct elfobj *o, const char *nm, const GElf_Sym *sym,
		       int pass, const char *file)
{
	if (nm[0] != '_' && nm[0] != 'P' && nm[0] != 's' && nm[0] != 'l' &&
	    nm[0] != 'p' && nm[0] != 'd')
		return;
	for (int k = 0; k < HW_OBJSYM_COUNT; k++) {
		if (hw_objsyms[k].how == HW_SYM_FILEPTR) {
			if (!pass || GELF_ST_BIND(sym->st_info) != STB_LOCAL ||
			    GELF_ST_TYPE(sym->st_info) != STT_OBJECT ||
			    !file_symbol_is(hw_objsyms[k].name, file, nm))
				continue;
			if (o->objval[k] && o->objval[k] != sym->st_value)
				o->objdup[k] = true;
			o->objval[k] = sym->st_value;
			return;
		}
		if (hw_objsyms[k].how == HW_SYM_STATIC ? !hw_symbol_is(nm, hw_objsyms[k].name)
						       : strcmp(nm, hw_objsyms[k].name) != 0)
			continue;
		if (hw_objsyms[k].how == HW_SYM_STATIC) {
			if (!pass || GELF_ST_TYPE(sym->st_info) != STT_FUNC)
				return;
			if (o->objval[k] && o->objval[k] != sym->st_value)
				o->objdup[k] = true;
		} else if (o->objval[k]) {
			return;
		}
		o->objval[k] = sym->st_value;
		return;
	}
}

static void read_symbols(Elf *elf, struct elfobj *o)
{
	for (int pass = 0; pass < 2; pass++) {
		Elf_Scn *scn = NULL;

		while ((scn = elf_nextscn(elf, scn))) {
			GElf_Shdr sh;
			Elf_Data *d;

			if (!gelf_getshdr(scn, &sh) || !sh.sh_entsize ||
			    sh.sh_type != (pass ? SHT_SYMTAB : SHT_DYNSYM))
				continue;
			d = elf_getdata(scn, NULL);
			if (!d)
				continue;
			const char *file = "";

			for (size_t i = 0, n = sh.sh_size / sh.sh_entsize; i < n; i++) {
				GElf_Sym sym;
				const char *nm;

				if (!gelf_getsym(d, (int)i, &sym))
					continue;
				if (GELF_ST_TYPE(sym.st_info) == STT_FILE) {
					/* the locals that follow are this file's */
					nm = elf_strptr(elf, sh.sh_link, sym.st_name);
					file = nm ? (strrchr(nm, '/') ? strrchr(nm, '/') + 1 : nm) : "";
					continue;
				}
				if (!sym.st_value || sym.st_shndx == SHN_UNDEF)
					continue;
				nm = elf_strptr(elf, sh.sh_link, sym.st_name);
				if (!nm)
					continue;
				obj_symbol(o, nm, &sym, pass, file);
				if (nm[0] != '_' && nm[0] != 'P' && nm[0] != 'i')
					continue;
				for (int k = 0; k < NSYMS; k++) {
					if (o->have[k] || (syms[k].symtab_only && !pass) ||
					    strcmp(nm, syms[k].name) != 0)
						continue;
					o->have[k] = true;
					o->val[k] = sym.st_value;
					o->size[k] = sym.st_size;
				}
			}
		}
	}
}

/* Copy len bytes of initialised data at vaddr out of the file. */
static int file_bytes(Elf *elf, const struct elfobj *o, uint64_t vaddr,
		      void *buf, size_t len)
{
	for (size_t i = 0; i < o->nload; i++) {
		const struct load *l = &o->load[i];
		Elf_Data *d;

		if (vaddr < l->vaddr || vaddr - l->vaddr > l->filesz ||
		    len > l->filesz - (vaddr - l->vaddr))
			continue;
		d = elf_getdata_rawchunk(elf, (int64_t)(l->offset + (vaddr - l->vaddr)),
					 len, ELF_T_BYTE);
		if (!d || !d->d_buf || d->d_size < len)
			return -1;
		memcpy(buf, d->d_buf, len);
		return 0;
	}
	return -1;
}

/* Length of the PY_VERSION literal starting at s: M.m.[0-9]+ then maybe
 * a release tag ([abrc+][0-9a-z+]*: "a1", "rc2", "+"), then NUL.  mm
 * ("3.9") is the major.minor it must have; NULL accepts any 2.x or 3.x.
 * Returns 0 when s does not hold one. */
static size_t version_literal(const char *s, size_t avail, const char *mm)
{
	size_t k = 0;

	if (mm) {
		size_t ml = strlen(mm);

		if (avail <= ml || memcmp(s, mm, ml) != 0)
			return 0;
		k = ml;
	} else {
		if (avail < 4 || (s[0] != '2' && s[0] != '3') || s[1] != '.')
			return 0;
		for (k = 2; k < avail && k < 5 && s[k] >= '0' && s[k] <= '9'; k++)
			;
		if (k == 2)
			return 0;
	}
	if (k >= avail || s[k] != '.')
		return 0;
	size_t start = ++k;

	while (k < avail && s[k] >= '0' && s[k] <= '9')
		k++;
	if (k == start || k >= avail)
		return 0;
	if (s[k] && strchr("abrc+", s[k])) {
		for (k++; k < avail && ((s[k] >= '0' && s[k] <= '9') ||
					(s[k] >= 'a' && s[k] <= 'z') || s[k] == '+'); k++)
			;
	}
	return k < avail && s[k] == '\0' ? k : 0;
}

/* The PY_VERSION literal ("3.9.18") in .rodata, for builds without
 * Py_Version (before 3.11).  A string of its own (after a NUL) wins.  The
 * linker merges string tails, though: the pyenv builds keep it only as
 * the end of their prefix "/root/.pyenv/versions/3.9.18", so a literal
 * after '/' counts next.  Without a known M.m (an executable named
 * neither python2.7 nor python3.x) only an unambiguous own string is
 * taken.  Returns 0 and fills out, or -1. */
static int rodata_version(Elf *elf, const char *mm, char *out, size_t size)
{
	Elf_Scn *scn = NULL;
	size_t shstrndx;

	if (elf_getshdrstrndx(elf, &shstrndx) < 0)
		return -1;
	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;
		const char *name;
		Elf_Data *d;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type == SHT_NOBITS)
			continue;
		name = elf_strptr(elf, shstrndx, sh.sh_name);
		if (!name || strcmp(name, ".rodata") != 0)
			continue;
		d = elf_getdata(scn, NULL);
		if (!d || !d->d_buf)
			return -1;
		const char *b = d->d_buf;
		size_t n = d->d_size, found_at = 0, found_len = 0;

		for (int pass = 0; pass < (mm ? 2 : 1); pass++) {
			for (size_t i = 1; i < n; i++) {
				size_t len;

				if (b[i - 1] != (pass ? '/' : '\0') || b[i] < '2' || b[i] > '3')
					continue;
				len = version_literal(b + i, n - i, mm);
				if (!len || len >= size)
					continue;
				if (mm) {
					memcpy(out, b + i, len);
					out[len] = '\0';
					return 0;
				}
				if (found_len && (len != found_len ||
						  memcmp(b + i, b + found_at, len) != 0))
					return -1; /* two different versions: guess not */
				found_at = i;
				found_len = len;
			}
		}
		if (!found_len)
			return -1;
		memcpy(out, b + found_at, found_len);
		out[found_len] = '\0';
		return 0;
	}
	return -1;
}

/* "3.11" from ".../libpython3.11.so.1.0", ".../libpython3.6m.so",
 * ".../python3.11d", "python2.7"; "" when the name has no version. */
static void version_from_name(const char *path, char *mm, size_t size)
{
	const char *base = strrchr(path, '/');
	const char *p;
	size_t n = 3;

	mm[0] = '\0';
	base = base ? base + 1 : path;
	p = strstr(base, "python");
	if (!p)
		return;
	p += 6;
	if ((p[0] != '2' && p[0] != '3') || p[1] != '.' || p[2] < '0' || p[2] > '9')
		return;
	while (p[n] >= '0' && p[n] <= '9')
		n++;
	if (n < size) {
		memcpy(mm, p, n);
		mm[n] = '\0';
	}
}

/* ==================== versions ==================== */

static void version_from_hex(struct hw_target *t, uint32_t v)
{
	static const char *const tags[16] = { [0xa] = "a", [0xb] = "b", [0xc] = "rc" };
	unsigned level = (v >> 4) & 0xf;

	t->version_hex = v;
	t->major = (int)(v >> 24);
	t->minor = (int)((v >> 16) & 0xff);
	t->micro = (int)((v >> 8) & 0xff);
	if (level != 0xf && tags[level])
		snprintf(t->version, sizeof t->version, "%d.%d.%d%s%u", t->major,
			 t->minor, t->micro, tags[level], v & 0xf);
	else
		snprintf(t->version, sizeof t->version, "%d.%d.%d", t->major,
			 t->minor, t->micro);
}

/* From a PY_VERSION literal: "3.9.18", "3.10.0rc2", "2.7.18+". */
static void version_from_literal(struct hw_target *t, const char *s)
{
	char *end;
	long M = strtol(s, &end, 10), m, u;
	unsigned level = 0xf, serial = 0;

	m = strtol(end + 1, &end, 10);
	u = strtol(end + 1, &end, 10);
	if (end[0] == 'a' || end[0] == 'b' || end[0] == 'c' || end[0] == 'r') {
		level = end[0] == 'a' ? 0xa : end[0] == 'b' ? 0xb : 0xc;
		end += end[0] == 'r' && end[1] == 'c' ? 2 : 1;
		serial = (unsigned)strtoul(end, NULL, 10) & 0xf;
	}
	snprintf(t->version, sizeof t->version, "%s", s);
	t->major = (int)M;
	t->minor = (int)m;
	t->micro = (int)u;
	t->version_hex = ((uint32_t)M << 24) | ((uint32_t)(m & 0xff) << 16) |
			 ((uint32_t)(u & 0xff) << 8) | (level << 4) | serial;
}

/* _Py_DebugOffsets (3.13+) opens _PyRuntime: "xdebugpy", then uint64
 * version (PY_VERSION_HEX) and free_threaded.  It is statically
 * initialised, so the file has it in .PyRuntime. */
static int check_debug_offsets(struct hw_target *t, Elf *elf, const struct elfobj *o,
			       struct hw_err *e)
{
	unsigned char hdr[24];
	uint64_t version, ft;

	if (!o->have[SYM_RUNTIME] || file_bytes(elf, o, o->val[SYM_RUNTIME], hdr, sizeof hdr) < 0)
		return hw_err_set(e, HW_EVERSION, 0,
				  "%s: Py_Version says %s but _PyRuntime has no "
				  "initialised _Py_DebugOffsets in the file",
				  t->elf_path, t->version);
	if (memcmp(hdr, "xdebugpy", 8) != 0)
		return hw_err_set(e, HW_EVERSION, 0,
				  "%s: Py_Version says %s but _PyRuntime does not "
				  "start with the _Py_DebugOffsets cookie",
				  t->elf_path, t->version);
	memcpy(&version, hdr + 8, 8);
	memcpy(&ft, hdr + 16, 8);
	if (version != t->version_hex)
		return hw_err_set(e, HW_EVERSION, 0,
				  "%s: Py_Version 0x%08x but _Py_DebugOffsets.version 0x%08llx",
				  t->elf_path, (unsigned)t->version_hex,
				  (unsigned long long)version);
	t->free_threaded = ft != 0;
	return 0;
}

/* Version: Py_Version (3.11+), else M.m from the file name and the
 * PY_VERSION literal for the patch level. */
static int set_version(struct hw_target *t, Elf *elf, const struct elfobj *o,
		       struct hw_err *e)
{
	uint32_t v;
	char mm[16], lit[32];

	if (o->have[SYM_PY_VERSION] &&
	    file_bytes(elf, o, o->val[SYM_PY_VERSION], &v, sizeof v) == 0 &&
	    (v >> 24) == 3) {
		version_from_hex(t, v);
		if (v >= 0x030d0000)
			return check_debug_offsets(t, elf, o, e);
		return 0;
	}
	version_from_name(t->elf_path, mm, sizeof mm);
	if (rodata_version(elf, mm[0] ? mm : NULL, lit, sizeof lit) == 0) {
		version_from_literal(t, lit);
	} else if (mm[0]) {
		snprintf(t->version, sizeof t->version, "%s", mm);
		if (sscanf(mm, "%d.%d", &t->major, &t->minor) != 2)
			t->major = t->minor = -1;
	}
	return 0;
}

/* ==================== which file, and where it is loaded ==================== */

/* The lowest mapping of path: file offsets and addresses of the others
 * follow from it. */
static const struct hw_map *lowest_mapping(const struct hw_maps *maps, const char *path)
{
	const struct hw_map *m0 = NULL;

	for (size_t i = 0; i < maps->n; i++)
		if (strcmp(maps->v[i].path, path) == 0 && (!m0 || maps->v[i].start < m0->start))
			m0 = &maps->v[i];
	return m0;
}

/* Choose the name to open the target's file path by: the path under
 * /proc/PID/root (containers, other mount namespaces) when that is still
 * the mapped file (same inode, not deleted); otherwise /proc/PID/exe for
 * the executable, or /proc/PID/map_files/START-END for a library (opening
 * that needs CAP_SYS_ADMIN).  Returns 0, or -1 (HW_EPERM, HW_ENOPROC,
 * HW_EIO) when no name reaches the mapped file. */
static int choose_open_path(pid_t pid, const char *path, bool is_exe, bool exe_deleted,
			    const struct hw_map *m0, char *out, size_t size,
			    struct hw_err *e)
{
	char root[4200], alt[128];
	struct stat st, ex;
	bool deleted = is_exe ? exe_deleted : (m0 && m0->deleted);
	bool root_ok = false, root_exists;
	int fd, err;

	snprintf(root, sizeof root, "/proc/%d/root%s", (int)pid, path);
	root_exists = stat(root, &st) == 0;
	if (root_exists && !deleted) {
		if (is_exe) {
			snprintf(alt, sizeof alt, "/proc/%d/exe", (int)pid);
			root_ok = stat(alt, &ex) == 0 && ex.st_dev == st.st_dev &&
				  ex.st_ino == st.st_ino;
		} else {
			root_ok = !m0 || m0->inode == (uint64_t)st.st_ino;
		}
	}
	if (root_ok) {
		snprintf(out, size, "%s", root);
		return 0;
	}
	if (is_exe)
		snprintf(alt, sizeof alt, "/proc/%d/exe", (int)pid);
	else if (m0)
		snprintf(alt, sizeof alt, "/proc/%d/map_files/%llx-%llx", (int)pid,
			 (unsigned long long)m0->start, (unsigned long long)m0->end);
	else
		alt[0] = '\0';
	fd = alt[0] ? open(alt, O_RDONLY | O_CLOEXEC) : -1;
	err = errno;
	if (fd >= 0) {
		close(fd);
		snprintf(out, size, "%s", alt);
		return 0;
	}
	/* Not deleted but another inode: a stacking file system (overlayfs)
	 * may report the lower inode in maps.  Same name, same file. */
	if (root_exists && !deleted) {
		snprintf(out, size, "%s", root);
		return 0;
	}
	if (err == ESRCH || err == ENOENT) {
		if (kill(pid, 0) < 0 && errno == ESRCH)
			return hw_err_set(e, HW_ENOPROC, 0, "no such process");
	}
	if (err == EPERM || err == EACCES)
		return hw_err_set(e, HW_EPERM, err,
				  "%s was deleted or replaced on disk, and opening "
				  "the mapped copy (%s) needs CAP_SYS_ADMIN",
				  path, alt);
	return hw_err_set(e, HW_EIO, err, "%s was deleted or replaced on disk; "
			  "opening %s", path, alt[0] ? alt : "its mapping");
}

/* Load bias of an ET_DYN object: the lowest mapping maps file offset
 * m0->offset of some PT_LOAD at m0->start, and that segment puts file
 * offset p_offset at p_vaddr (the two are congruent modulo the page
 * size, so no rounding is needed).  PIE executables and shared
 * libpython alike; a p_vaddr that differs from p_offset (3.9's data
 * segment) is handled by the same sum. */
static int load_bias(const struct elfobj *o, const struct hw_map *m0, uint64_t *bias)
{
	long pg = sysconf(_SC_PAGESIZE);
	uint64_t mask = pg > 0 ? (uint64_t)pg - 1 : 4095;

	for (size_t i = 0; i < o->nload; i++) {
		const struct load *l = &o->load[i];

		if (m0->offset >= (l->offset & ~mask) && m0->offset < l->offset + l->filesz) {
			*bias = m0->start - m0->offset - (l->vaddr - l->offset);
			return 0;
		}
	}
	if (o->nload) {
		*bias = m0->start - (o->load[0].vaddr & ~mask);
		return 0;
	}
	return -1;
}

/* The object's address range once loaded: [lo, hi). */
static void load_range(const struct elfobj *o, uint64_t bias, uint64_t *lo, uint64_t *hi)
{
	*lo = UINT64_MAX;
	*hi = 0;
	for (size_t i = 0; i < o->nload; i++) {
		if (o->load[i].vaddr < *lo)
			*lo = o->load[i].vaddr;
		if (o->load[i].vaddr + o->load[i].memsz > *hi)
			*hi = o->load[i].vaddr + o->load[i].memsz;
	}
	*lo += bias;
	*hi += bias;
}

/* Read one candidate.  Returns 1 when it defines the interpreter (t
 * filled), 0 when it does not, -1 on an error that ends the search. */
static int try_candidate(struct hw_target *t, const struct hw_maps *maps,
			 const char *path, bool is_exe, bool exe_deleted,
			 struct hw_err *e)
{
	const struct hw_map *m0 = lowest_mapping(maps, path);
	struct elfobj o;
	char open_path[sizeof t->open_path];
	GElf_Ehdr eh;
	Elf *elf = NULL;
	uint64_t bias = 0, lo, hi, entry;
	const char *entry_name;
	int fd, rc = -1;

	if (choose_open_path(t->pid, path, is_exe, exe_deleted, m0, open_path,
			     sizeof open_path, e) < 0)
		return -1;
	fd = open(open_path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == EPERM || errno == EACCES)
			return hw_err_set(e, HW_EPERM, errno, "opening %s",
					  open_path);
		return hw_err_set(e, HW_EIO, errno, "opening %s", open_path);
	}
	memset(&o, 0, sizeof o);
	elf_version(EV_CURRENT);
	elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	if (!elf || elf_kind(elf) != ELF_K_ELF || !gelf_getehdr(elf, &eh)) {
		rc = 0; /* not an ELF object: not the interpreter */
		goto out;
	}
	o.type = eh.e_type;
	read_phdrs(elf, &o);
	read_symbols(elf, &o);
	if (!o.have[SYM_RUNTIME] && !o.have[SYM_GEN0]) {
		rc = 0;
		goto out;
	}
	if (o.type == ET_DYN) {
		if (!m0 || load_bias(&o, m0, &bias) < 0) {
			hw_err_set(e, HW_ELAYOUT, 0, "%s defines %s but its "
				   "mappings give no load address", path,
				   syms[o.have[SYM_RUNTIME] ? SYM_RUNTIME : SYM_GEN0].name);
			goto out;
		}
	}
	snprintf(t->elf_path, sizeof t->elf_path, "%s", path);
	snprintf(t->open_path, sizeof t->open_path, "%s", open_path);
	snprintf(t->build_id, sizeof t->build_id, "%s", o.build_id);
	t->bias = bias;
	if (o.have[SYM_RUNTIME]) {
		t->runtime_addr = o.val[SYM_RUNTIME] + bias;
		t->runtime_size = o.size[SYM_RUNTIME];
	}
	if (o.have[SYM_GEN0])
		t->gen0_ptr_addr = o.val[SYM_GEN0] + bias;
	if (o.have[SYM_PY_VERSION])
		t->py_version_addr = o.val[SYM_PY_VERSION] + bias;
	if (o.have[SYM_INTERP_HEAD])
		t->interp_head_addr = o.val[SYM_INTERP_HEAD] + bias;
	for (int k = 0; k < HW_OBJSYM_COUNT; k++)
		t->objsym[k] = o.objval[k] && !o.objdup[k] ? o.objval[k] + bias : 0;
	t->debug_build = o.have[SYM_NEGREF] || o.have[SYM_REFTOTAL];
	t->trace_refs = o.have[SYM_PRINTREFS];

	/* The entry symbol must land inside this object's mapped image:
	 * a wrong bias would send every later read astray. */
	entry = t->runtime_addr ? t->runtime_addr : t->gen0_ptr_addr;
	entry_name = t->runtime_addr ? "_PyRuntime" : "_PyGC_generation0";
	load_range(&o, bias, &lo, &hi);
	if (entry < lo || entry >= hi || !hw_maps_find(maps, entry)) {
		hw_err_set(e, HW_ELAYOUT, 0, "%s of %s would be at 0x%llx "
			   "(load bias 0x%llx), outside its mapped image",
			   entry_name, path, (unsigned long long)entry,
			   (unsigned long long)bias);
		goto out;
	}
	if (set_version(t, elf, &o, e) < 0)
		goto out;
	rc = 1;
out:
	if (elf)
		elf_end(elf);
	close(fd);
	return rc;
}

int hw_target_open(struct hw_target *t, pid_t pid, struct hw_err *e)
{
	struct hw_maps maps = { 0 };
	struct hw_err first_err;
	char libs[512];
	size_t libs_len = 0;
	bool have_err = false;
	int exe_deleted = 0, rc = -1;

	memset(t, 0, sizeof *t);
	t->pid = pid;
	t->major = t->minor = t->micro = -1;
	t->free_threaded = -1;
	libs[0] = '\0';
	if (hw_proc_exe(pid, t->exe, sizeof t->exe, &exe_deleted, e) < 0) {
		char dir[64];

		/* A kernel thread, or a zombie, has a /proc entry but no exe. */
		snprintf(dir, sizeof dir, "/proc/%d", (int)pid);
		if (e && e->code == HW_ENOPROC && access(dir, F_OK) == 0)
			return hw_err_set(e, HW_ENOTPY, 0, "not a CPython process "
					  "(no executable: a kernel thread or a zombie)");
		return -1;
	}
	if (hw_proc_maps(pid, &maps, e) < 0)
		return -1;
	/* The executable first: when it defines _PyRuntime (a static build),
	 * its definition is the one the dynamic linker binds. */
	for (size_t i = 0; i <= maps.n; i++) {
		const char *path = i == 0 ? t->exe : maps.v[i - 1].path;
		const char *base = strrchr(path, '/');
		bool dup = false;
		struct hw_err err;
		int r;

		if (i > 0) {
			if (!base || strncmp(base + 1, "libpython", 9) != 0 ||
			    strcmp(path, t->exe) == 0)
				continue;
			for (size_t k = 0; k < i - 1 && !dup; k++)
				dup = strcmp(maps.v[k].path, path) == 0;
			if (dup)
				continue;
			if (libs_len < sizeof libs - 1)
				libs_len += (size_t)snprintf(libs + libs_len, sizeof libs - libs_len,
							     "%s%s", libs_len ? ", " : "", base + 1);
		}
		hw_err_clear(&err);
		r = try_candidate(t, &maps, path, i == 0, exe_deleted, &err);
		if (r == 1) {
			rc = 0;
			goto out;
		}
		if (r < 0 && err.code != HW_EPERM && err.code != HW_EIO) {
			hw_err_copy(e, &err); /* found it, but it is inconsistent */
			goto out;
		}
		if (r < 0 && !have_err) {
			hw_err_copy(&first_err, &err);
			have_err = true;
		}
	}
	if (have_err) {
		/* a file we could not read may have been the interpreter */
		hw_err_copy(e, &first_err);
	} else if (!libs_len) {
		hw_err_set(e, HW_ENOTPY, 0, "not a CPython process (executable %s "
			   "maps no libpython and defines no _PyRuntime)", t->exe);
	} else {
		if (libs_len >= sizeof libs)
			strcpy(libs + sizeof libs - 4, "...");
		hw_err_set(e, HW_ENOTPY, 0, "not a CPython process (neither the "
			   "executable %s nor %s defines _PyRuntime or _PyGC_generation0)",
			   t->exe, libs);
	}
out:
	hw_maps_fini(&maps);
	return rc;
}
