/* runner.h - the main() every Check suite shares: run the suite, print
 * Check's summary and the skips, exit as tests/run-tests.sh expects.
 *
 * A check that cannot run here (a Python build, a tool or a privilege is
 * missing) is a skip, never a silent pass:
 *   HW_SKIP("dwarf %s: %s not installed", label, path);
 * prints "SKIP dwarf ...: ... not installed" and returns from the check;
 * a check that runs but must leave a part out says so with
 *   hw_skip_part("config perms: not root, refusal checks left out");
 * which prints a SKIP line and goes on.
 *
 * Exit status: 1 if a check failed; else 77 if every check was skipped
 * (the whole suite is a skip); else 0.  Every SKIP line, whole or part,
 * is counted by run-tests.sh in its total.  Check runs each check in a
 * child process, so the count of skipped checks lives in a shared page
 * made before the suite runs. */
#ifndef HW_TEST_RUNNER_H
#define HW_TEST_RUNNER_H

#include <check.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/mman.h>

static unsigned *hw_skipped_;   /* whole checks skipped (shared page) */

__attribute__((format(printf, 1, 2), unused))
static void hw_skip_part(const char *fmt, ...)
{
	va_list ap;

	fputs("SKIP ", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fputc('\n', stdout);
	fflush(stdout);
}

/* The whole check is skipped: say why, count it, return. */
#define HW_SKIP(...)                                                    \
	do {                                                            \
		hw_skip_part(__VA_ARGS__);                              \
		if (hw_skipped_)                                        \
			__atomic_fetch_add(hw_skipped_, 1, __ATOMIC_SEQ_CST); \
		return;                                                 \
	} while (0)

static inline int hw_run_suite(Suite *s)
{
	SRunner *sr = srunner_create(s);
	int nf, nrun;
	unsigned nskip = 0;
	void *page = mmap(NULL, sizeof *hw_skipped_, PROT_READ | PROT_WRITE,
			  MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	hw_skipped_ = page == MAP_FAILED ? NULL : page;
	srunner_run_all(sr, CK_NORMAL);
	nf = srunner_ntests_failed(sr);
	nrun = srunner_ntests_run(sr);
	srunner_free(sr);
	if (hw_skipped_) {
		nskip = *hw_skipped_;
		munmap(page, sizeof *hw_skipped_);
	}
	if (nskip)
		printf("NOTE %u of %d checks skipped (each said why above)\n", nskip, nrun);
	if (nf)
		return 1;
	return nrun > 0 && nskip >= (unsigned)nrun ? 77 : 0;
}

#endif
