/* target.c - which CPython a process runs and where its state lives; see
 * include/heapwatch/target.h.  ELF read with libelf: .dynsym first (a
 * stripped distribution binary keeps the C-API symbols there, since
 * CPython links with -export-dynamic), then .symtab. */
#include "heapwatch/target.h"

#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "heapwatch/proc.h"

/* Symbols looked up in the interpreter's object. */
enum { SYM_RUNTIME, SYM_GEN0, SYM_VERSION, SYM_INTERP_HEAD, SYM_REFTOTAL,
       SYM_NEGREF, NSYMS };
static const char *const sym_names[NSYMS] = {
	"_PyRuntime", "_PyGC_generation0", "Py_Version", "interp_head",
	"_Py_RefTotal", "_Py_NegativeRefcount",
};

struct elfinfo {
	int type;                  /* ET_EXEC or ET_DYN */
	uint64_t first_load_vaddr; /* p_vaddr of the first PT_LOAD, page-aligned */
	uint64_t first_load_off;
	uint64_t val[NSYMS], size[NSYMS];
	int have[NSYMS];
	uint32_t py_version;       /* read from the file */
	int have_py_version;
	char rodata_version[32];
	char build_id[129];
};

static int rodata_version(Elf *elf, const char *mm, char *out, size_t size)
{
	Elf_Scn *scn = NULL;
	size_t shstrndx;
	size_t ml = strlen(mm);

	if (elf_getshdrstrndx(elf, &shstrndx) < 0)
		return -1;
	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;
		const char *name;
		Elf_Data *d;

		if (!gelf_getshdr(scn, &sh))
			continue;
		name = elf_strptr(elf, shstrndx, sh.sh_name);
		if (!name || strcmp(name, ".rodata") || sh.sh_type == SHT_NOBITS)
			continue;
		d = elf_getdata(scn, NULL);
		if (!d || !d->d_buf)
			continue;
		const char *b = d->d_buf;
		size_t n = d->d_size;

		/* The PY_VERSION literal: "M.m.<digits>" and maybe "a1",
		 * "rc2", "+", NUL-terminated.  The linker may have merged it
		 * into the tail of a longer string (".../versions/3.9.18"),
		 * so a suffix counts, after a NUL, '/', '-' or ' '; an exact
		 * string wins. */
		for (int pass = 0; pass < 2; pass++) {
			for (size_t i = 1; i + ml + 2 < n; i++) {
				char before = b[i - 1];

				if (pass == 0 ? before != '\0' :
				    (before != '/' && before != '-' && before != ' '))
					continue;
				if (memcmp(b + i, mm, ml) || b[i + ml] != '.')
					continue;
				size_t k = i + ml + 1, start = k;

				while (k < n && b[k] >= '0' && b[k] <= '9')
					k++;
				if (k == start)
					continue;
				while (k < n && k - i < size - 1 &&
				       ((b[k] >= 'a' && b[k] <= 'z') ||
					(b[k] >= '0' && b[k] <= '9') || b[k] == '+'))
					k++;
				if (k < n && b[k] == '\0' && k - i < size) {
					memcpy(out, b + i, k - i);
					out[k - i] = '\0';
					return 0;
				}
			}
		}
	}
	return -1;
}

/* Read the file's symbols and facts.  Returns 0, or -1 if not an ELF. */
static int elf_read(const char *path, const char *mm, struct elfinfo *ei)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	Elf *elf;
	GElf_Ehdr eh;
	size_t nph;
	int rc = -1;

	memset(ei, 0, sizeof *ei);
	if (fd < 0)
		return -1;
	elf_version(EV_CURRENT);
	elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	if (!elf || elf_kind(elf) != ELF_K_ELF || !gelf_getehdr(elf, &eh))
		goto out;
	ei->type = eh.e_type;
	if (elf_getphdrnum(elf, &nph) == 0) {
		for (size_t i = 0; i < nph; i++) {
			GElf_Phdr ph;

			if (!gelf_getphdr(elf, (int)i, &ph))
				continue;
			if (ph.p_type == PT_LOAD && !ei->first_load_vaddr && !ei->first_load_off) {
				ei->first_load_vaddr = ph.p_vaddr & ~(uint64_t)(ph.p_align ? ph.p_align - 1 : 0);
				ei->first_load_off = ph.p_offset & ~(uint64_t)(ph.p_align ? ph.p_align - 1 : 0);
			}
			if (ph.p_type == PT_NOTE && !ei->build_id[0]) {
				Elf_Data *d = elf_getdata_rawchunk(elf, ph.p_offset, ph.p_filesz, ELF_T_NHDR);
				size_t off = 0, name_off, desc_off;
				GElf_Nhdr nh;

				while (d && (off = gelf_getnote(d, off, &nh, &name_off, &desc_off)) > 0) {
					if (nh.n_type == NT_GNU_BUILD_ID && nh.n_namesz == 4 &&
					    nh.n_descsz <= 64) {
						const unsigned char *id = (const unsigned char *)d->d_buf + desc_off;

						for (size_t k = 0; k < nh.n_descsz; k++)
							snprintf(ei->build_id + 2 * k, 3, "%02x", id[k]);
						break;
					}
				}
			}
		}
	}
	/* symbols: .dynsym, then .symtab */
	for (int pass = 0; pass < 2; pass++) {
		Elf_Scn *scn = NULL;

		while ((scn = elf_nextscn(elf, scn))) {
			GElf_Shdr sh;
			Elf_Data *d;

			if (!gelf_getshdr(scn, &sh) ||
			    sh.sh_type != (pass ? SHT_SYMTAB : SHT_DYNSYM) || !sh.sh_entsize)
				continue;
			d = elf_getdata(scn, NULL);
			if (!d)
				continue;
			size_t n = sh.sh_size / sh.sh_entsize;

			for (size_t i = 0; i < n; i++) {
				GElf_Sym sym;
				const char *nm;

				if (!gelf_getsym(d, (int)i, &sym) || !sym.st_value ||
				    sym.st_shndx == SHN_UNDEF)
					continue;
				nm = elf_strptr(elf, sh.sh_link, sym.st_name);
				if (!nm || (nm[0] != '_' && nm[0] != 'P' && nm[0] != 'i'))
					continue;
				for (int k = 0; k < NSYMS; k++)
					if (!ei->have[k] && strcmp(nm, sym_names[k]) == 0) {
						ei->have[k] = 1;
						ei->val[k] = sym.st_value;
						ei->size[k] = sym.st_size;
					}
			}
		}
	}
	/* Py_Version is a constant: read it from the file (no ptrace). */
	if (ei->have[SYM_VERSION]) {
		Elf_Scn *scn = NULL;

		while ((scn = elf_nextscn(elf, scn))) {
			GElf_Shdr sh;
			Elf_Data *d;

			if (!gelf_getshdr(scn, &sh) || sh.sh_type == SHT_NOBITS ||
			    ei->val[SYM_VERSION] < sh.sh_addr ||
			    ei->val[SYM_VERSION] + 4 > sh.sh_addr + sh.sh_size)
				continue;
			d = elf_getdata(scn, NULL);
			if (d && d->d_buf && ei->val[SYM_VERSION] - sh.sh_addr + 4 <= d->d_size) {
				memcpy(&ei->py_version,
				       (char *)d->d_buf + (ei->val[SYM_VERSION] - sh.sh_addr), 4);
				ei->have_py_version = 1;
			}
			break;
		}
	}
	if (mm && mm[0])
		(void)rodata_version(elf, mm, ei->rodata_version, sizeof ei->rodata_version);
	rc = 0;
out:
	if (elf)
		elf_end(elf);
	close(fd);
	return rc;
}

/* "3.11" from ".../libpython3.11.so.1.0", ".../python3.11", "python2.7" */
static void minor_from_name(const char *path, char *mm, size_t size)
{
	const char *base = strrchr(path, '/');
	const char *p;

	mm[0] = '\0';
	base = base ? base + 1 : path;
	p = strstr(base, "python");
	if (!p)
		return;
	p += 6;
	if ((p[0] == '2' || p[0] == '3') && p[1] == '.' && p[2] >= '0' && p[2] <= '9') {
		size_t n = 3;

		while (p[n] >= '0' && p[n] <= '9')
			n++;
		if (n < size) {
			memcpy(mm, p, n);
			mm[n] = '\0';
		}
	}
}

static void set_version(struct hw_target *t, const struct elfinfo *ei, const char *mm)
{
	t->major = t->minor = t->micro = -1;
	if (ei->have_py_version && (ei->py_version >> 24) >= 3) {
		uint32_t v = ei->py_version;

		t->version_hex = v;
		t->major = (int)(v >> 24);
		t->minor = (int)((v >> 16) & 0xff);
		t->micro = (int)((v >> 8) & 0xff);
		snprintf(t->version, sizeof t->version, "%d.%d.%d", t->major, t->minor, t->micro);
		return;
	}
	if (ei->rodata_version[0]) {
		int M = 0, m = 0, u = 0;

		snprintf(t->version, sizeof t->version, "%s", ei->rodata_version);
		if (sscanf(ei->rodata_version, "%d.%d.%d", &M, &m, &u) == 3) {
			t->major = M;
			t->minor = m;
			t->micro = u;
			t->version_hex = ((uint32_t)M << 24) | ((uint32_t)m << 16) |
					 ((uint32_t)u << 8) | 0xf0;
		}
		return;
	}
	if (mm[0]) {
		snprintf(t->version, sizeof t->version, "%s", mm);
		sscanf(mm, "%d.%d", &t->major, &t->minor);
	}
}

int hw_target_open(struct hw_target *t, pid_t pid, struct hw_err *e)
{
	struct hw_maps maps;
	int deleted = 0;
	char cands[8][4096];
	/* paths come from /proc/PID/maps, at most 4095 bytes each */
	size_t nc = 0;
	int rc = -1;

	memset(t, 0, sizeof *t);
	t->pid = pid;
	if (hw_proc_exe(pid, t->exe, sizeof t->exe, &deleted, e) < 0)
		return -1;
	if (hw_proc_maps(pid, &maps, e) < 0)
		return -1;
	/* libpython first (shared builds), then the executable */
	for (size_t i = 0; i < maps.n && nc < 8; i++) {
		const char *b = strrchr(maps.v[i].path, '/');

		if (!b || strncmp(b + 1, "libpython", 9) != 0)
			continue;
		int dup = 0;

		for (size_t k = 0; k < nc; k++)
			dup |= strcmp(cands[k], maps.v[i].path) == 0;
		if (!dup)
			snprintf(cands[nc++], sizeof cands[0], "%s", maps.v[i].path);
	}
	if (nc < 8)
		snprintf(cands[nc++], sizeof cands[0], "%s", t->exe);
	for (size_t k = 0; k < nc; k++) {
		struct elfinfo ei;
		char open_path[4200], mm[16];
		const struct hw_map *m0 = NULL;
		int is_exe = strcmp(cands[k], t->exe) == 0;

		minor_from_name(cands[k], mm, sizeof mm);
		/* Through the target's root: containers, other mount
		 * namespaces.  A deleted or replaced executable is read
		 * through /proc/PID/exe. */
		snprintf(open_path, sizeof open_path, "/proc/%d/root%.4095s", (int)pid, cands[k]);
		for (size_t i = 0; i < maps.n; i++)
			if (strcmp(maps.v[i].path, cands[k]) == 0 && (!m0 || maps.v[i].start < m0->start))
				m0 = &maps.v[i];
		if (is_exe) {
			struct stat a, b;
			char exe_link[64];

			snprintf(exe_link, sizeof exe_link, "/proc/%d/exe", (int)pid);
			if (deleted || stat(open_path, &a) < 0 || stat(exe_link, &b) < 0 ||
			    a.st_ino != b.st_ino || a.st_dev != b.st_dev)
				snprintf(open_path, sizeof open_path, "/proc/%d/exe", (int)pid);
		} else if (m0 && m0->deleted) {
			snprintf(open_path, sizeof open_path, "/proc/%d/map_files/%llx-%llx",
				 (int)pid, (unsigned long long)m0->start,
				 (unsigned long long)m0->end);
		}
		if (elf_read(open_path, mm, &ei) < 0)
			continue;
		if (!ei.have[SYM_RUNTIME] && !ei.have[SYM_GEN0])
			continue;
		/* Load bias: ET_EXEC is absolute; ET_DYN maps its first
		 * PT_LOAD (file offset 0 here) at the lowest mapping. */
		if (ei.type == ET_DYN) {
			if (!m0) {
				hw_err_set(e, HW_ENOTPY, 0, "pid %d: %s is not mapped", (int)pid, cands[k]);
				goto out;
			}
			t->bias = m0->start - m0->offset + ei.first_load_off - ei.first_load_vaddr;
		}
		snprintf(t->elf_path, sizeof t->elf_path, "%.4095s", cands[k]);
		snprintf(t->open_path, sizeof t->open_path, "%s", open_path);
		snprintf(t->build_id, sizeof t->build_id, "%s", ei.build_id);
		if (ei.have[SYM_RUNTIME]) {
			t->runtime_addr = ei.val[SYM_RUNTIME] + t->bias;
			t->runtime_size = ei.size[SYM_RUNTIME];
		}
		if (ei.have[SYM_GEN0])
			t->gen0_ptr_addr = ei.val[SYM_GEN0] + t->bias;
		if (ei.have[SYM_VERSION])
			t->py_version_addr = ei.val[SYM_VERSION] + t->bias;
		if (ei.have[SYM_INTERP_HEAD])
			t->interp_head_addr = ei.val[SYM_INTERP_HEAD] + t->bias;
		t->debug_build = ei.have[SYM_REFTOTAL] || ei.have[SYM_NEGREF];
		set_version(t, &ei, mm);
		if (!hw_maps_find(&maps, t->runtime_addr ? t->runtime_addr : t->gen0_ptr_addr)) {
			hw_err_set(e, HW_ENOTPY, 0,
				   "pid %d: %s's interpreter state at 0x%llx is not mapped",
				   (int)pid, cands[k],
				   (unsigned long long)(t->runtime_addr ? t->runtime_addr : t->gen0_ptr_addr));
			goto out;
		}
		rc = 0;
		goto out;
	}
	hw_err_set(e, HW_ENOTPY, 0,
		   "pid %d: not a CPython process (executable %s maps no libpython and "
		   "defines no _PyRuntime)", (int)pid, t->exe);
out:
	hw_maps_fini(&maps);
	return rc;
}
