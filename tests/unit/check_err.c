/* check_err.c - the error channel. */
#include <check.h>

#include "runner.h"
#include <errno.h>
#include <string.h>

#include "heapwatch/err.h"

START_TEST(test_chain)
{
	struct hw_err e;
	char buf[256];

	hw_err_clear(&e);
	ck_assert_int_eq(hw_err_set(&e, HW_EIO, EFAULT, "reading object at 0x%x", 0x10), -1);
	hw_err_prefix(&e, "walking generation %d", 2);
	hw_err_prefix(&e, "pid %d", 4242);
	ck_assert_str_eq(hw_err_str(&e, buf, sizeof buf),
			 "pid 4242: walking generation 2: reading object at 0x10: Bad address");
	ck_assert_int_eq(hw_err_exit_status(&e), 1);
}
END_TEST

START_TEST(test_status)
{
	struct hw_err e;

	hw_err_set(&e, HW_EUSAGE, 0, "bad flag");
	ck_assert_int_eq(hw_err_exit_status(&e), 2);
	hw_err_set(&e, HW_ECONFIG, 0, "x");
	ck_assert_int_eq(hw_err_exit_status(&e), 2);
	ck_assert_str_eq(hw_err_code_name(HW_EPERM), "HW_EPERM");
	ck_assert_int_eq(hw_err_set(NULL, HW_EIO, 0, "dropped"), -1);
}
END_TEST

START_TEST(test_truncation)
{
	struct hw_err e;
	char big[3000];

	memset(big, 'a', sizeof big - 1);
	big[sizeof big - 1] = 0;
	hw_err_set(&e, HW_EIO, 0, "%s", big);
	hw_err_prefix(&e, "ctx");
	ck_assert_uint_eq(strlen(e.msg), HW_ERR_MSG_MAX - 1);
	ck_assert(strncmp(e.msg, "ctx: aaa", 8) == 0);
}
END_TEST

/* The retry classes the daemon decides by: what cannot change for a
 * process without someone acting is lasting, the rest transient. */
START_TEST(test_classes)
{
	static const enum hw_code lasting[] = {
		HW_EUSAGE, HW_ECONFIG, HW_ENOTPY, HW_EPERM, HW_ETRACED,
		HW_EVERSION, HW_ELAYOUT, HW_EFREETHR,
	};
	static const enum hw_code transient[] = {
		HW_ENOPROC, HW_EEXITED, HW_ECORRUPT, HW_EBUSY, HW_EMISS,
		HW_ETIMEOUT, HW_ELIMIT, HW_EIO, HW_ENOMEM, HW_EINTR, HW_ESYS,
	};
	size_t n = 0;

	for (size_t i = 0; i < sizeof lasting / sizeof *lasting; i++, n++) {
		ck_assert_int_eq(hw_err_code_class(lasting[i]), HW_LASTING);
		ck_assert_int_eq(hw_err_lasting(lasting[i]), 1);
	}
	for (size_t i = 0; i < sizeof transient / sizeof *transient; i++, n++) {
		ck_assert_int_eq(hw_err_code_class(transient[i]), HW_TRANSIENT);
		ck_assert_int_eq(hw_err_lasting(transient[i]), 0);
	}
	/* every code but HW_OK is listed above, once */
	ck_assert_uint_eq(n, HW_ERR_NCODES - 1);
	ck_assert_int_eq(hw_err_code_class((enum hw_code)1000), HW_TRANSIENT);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("err");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_chain);
	tcase_add_test(tc, test_status);
	tcase_add_test(tc, test_truncation);
	tcase_add_test(tc, test_classes);
	suite_add_tcase(s, tc);
	return hw_run_suite(s);
}
