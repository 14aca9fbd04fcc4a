/* runner.h - the main() every Check suite shares: run the suite, print
 * Check's summary, exit 0 when nothing failed. */
#ifndef HW_TEST_RUNNER_H
#define HW_TEST_RUNNER_H

#include <check.h>

static inline int hw_run_suite(Suite *s)
{
	SRunner *sr = srunner_create(s);
	int nf;

	srunner_run_all(sr, CK_NORMAL);
	nf = srunner_ntests_failed(sr);
	srunner_free(sr);
	return nf == 0 ? 0 : 1;
}

#endif
