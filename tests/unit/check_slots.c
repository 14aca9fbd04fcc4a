/* check_slots.c - worker slots: the lowest free slot is taken, a
 * replacement takes over the slot of the process it replaces and learns
 * who held it, slot numbers stay below the most processes alive at once
 * (a seeded random recycling of workers), the table grows past its first
 * allocation, and slot names parse back. */
#include <check.h>

#include "runner.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "heapwatch/slots.h"

START_TEST(test_lowest_free)
{
	struct hw_slots s;
	struct hw_slot prev;

	hw_slots_init(&s);
	ck_assert_int_eq(hw_slots_take(&s, 100, 1, &prev), 0);
	ck_assert_int_eq(prev.pid, 0);
	ck_assert_int_eq(hw_slots_take(&s, 101, 1, &prev), 1);
	ck_assert_int_eq(hw_slots_take(&s, 102, 1, NULL), 2);
	ck_assert_uint_eq(s.nbusy, 3);
	/* pid 101 is recycled: its replacement takes slot 1 and is told */
	hw_slots_release(&s, 1);
	ck_assert_uint_eq(s.nbusy, 2);
	ck_assert_int_eq(hw_slots_get(&s, 1)->busy, 0);
	ck_assert_int_eq(hw_slots_get(&s, 1)->pid, 101);  /* last holder kept */
	ck_assert_int_eq(hw_slots_take(&s, 200, 7, &prev), 1);
	ck_assert_int_eq(prev.pid, 101);
	ck_assert_uint_eq(prev.starttime, 1);
	ck_assert_int_eq(hw_slots_get(&s, 1)->pid, 200);
	ck_assert_uint_eq(hw_slots_get(&s, 1)->starttime, 7);
	/* two gone, two new: lowest first */
	hw_slots_release(&s, 2);
	hw_slots_release(&s, 0);
	ck_assert_int_eq(hw_slots_take(&s, 300, 1, &prev), 0);
	ck_assert_int_eq(prev.pid, 100);
	ck_assert_int_eq(hw_slots_take(&s, 301, 1, &prev), 2);
	ck_assert_int_eq(prev.pid, 102);
	ck_assert_int_eq(hw_slots_take(&s, 302, 1, &prev), 3);
	ck_assert_int_eq(prev.pid, 0);
	/* releasing what is not busy, or out of range, changes nothing */
	hw_slots_release(&s, -1);
	hw_slots_release(&s, 4);
	hw_slots_release(&s, 1000000);
	hw_slots_release(&s, 3);
	hw_slots_release(&s, 3);
	ck_assert_uint_eq(s.nbusy, 3);
	ck_assert_ptr_null(hw_slots_get(&s, 4));
	ck_assert_ptr_null(hw_slots_get(&s, -1));
	hw_slots_fini(&s);
	hw_slots_fini(&s);
	hw_slots_fini(NULL);
}
END_TEST

START_TEST(test_grows)
{
	struct hw_slots s;

	hw_slots_init(&s);
	for (int i = 0; i < 1000; i++)
		ck_assert_int_eq(hw_slots_take(&s, 1000 + i, (uint64_t)i, NULL), i);
	for (int i = 0; i < 1000; i++)
		ck_assert_int_eq(hw_slots_get(&s, i)->pid, 1000 + i);
	hw_slots_release(&s, 517);
	ck_assert_int_eq(hw_slots_take(&s, 5, 5, NULL), 517);
	ck_assert_int_eq(hw_slots_take(&s, 6, 6, NULL), 1000);
	hw_slots_fini(&s);
}
END_TEST

/* gunicorn with W workers and max_requests: workers end in random order
 * and each is replaced; sometimes the master grows or shrinks the pool.
 * Slots stay below the largest pool ever alive and no two live processes
 * share one. */
START_TEST(test_random_recycling)
{
	unsigned seed = 20261130u;
	struct hw_slots s;
	int live[64], nlive = 0, most = 0;
	pid_t next = 1000;

	printf("check_slots: seed %u\n", seed);
	srand(seed);
	hw_slots_init(&s);
	for (int i = 0; i < 4; i++)
		live[nlive++] = hw_slots_take(&s, next++, 1, NULL);
	most = nlive;
	for (int round = 0; round < 20000; round++) {
		int r = rand() % 100;

		if (r < 80 && nlive > 0) {      /* one worker recycled */
			int k = rand() % nlive;
			struct hw_slot prev;
			int old = live[k];

			hw_slots_release(&s, old);
			live[k] = hw_slots_take(&s, next++, 1, &prev);
			/* the only free slot was the old one, or a lower one */
			if (live[k] > old)
				ck_abort_msg("round %d: took %d, freed %d", round, live[k], old);
		} else if (r < 90 && nlive < 64) { /* TTIN */
			live[nlive++] = hw_slots_take(&s, next++, 1, NULL);
		} else if (nlive > 1) {          /* TTOU */
			int k = rand() % nlive;

			hw_slots_release(&s, live[k]);
			live[k] = live[--nlive];
		}
		if (nlive > most)
			most = nlive;
		/* plain tests in the loop: each ck_assert writes to a pipe */
		for (int i = 0; i < nlive; i++) {
			if (live[i] < 0 || live[i] >= most)
				ck_abort_msg("round %d: slot %d of %d workers", round,
					     live[i], most);
			for (int j = i + 1; j < nlive; j++)
				if (live[i] == live[j])
					ck_abort_msg("round %d: slot %d held twice", round,
						     live[i]);
		}
		if (s.nbusy != (size_t)nlive)
			ck_abort_msg("round %d: %zu busy, %d alive", round, s.nbusy, nlive);
	}
	ck_assert_uint_le(s.n, (size_t)most);
	hw_slots_fini(&s);
}
END_TEST

START_TEST(test_names)
{
	char buf[HW_SLOT_NAME_MAX], small[3];
	int v = -7;

	ck_assert_str_eq(hw_slot_name(0, buf, sizeof buf), "w0");
	ck_assert_str_eq(hw_slot_name(HW_SLOTS_MAX - 1, buf, sizeof buf), "w65535");
	ck_assert_str_eq(hw_slot_name(HW_SLOT_NONE, buf, sizeof buf), "all");
	ck_assert_str_eq(hw_slot_name(12, small, sizeof small), "w1");
	ck_assert_int_eq(hw_slot_parse("w0", &v), 0);
	ck_assert_int_eq(v, 0);
	ck_assert_int_eq(hw_slot_parse("17", &v), 0);
	ck_assert_int_eq(v, 17);
	ck_assert_int_eq(hw_slot_parse("w65535", &v), 0);
	ck_assert_int_eq(v, 65535);
	v = -7;
	static const char *const bad[] = {
		"", "w", "ww1", "w-1", "-1", "+1", "w1x", "1 ", " 1", "w65536",
		"99999999999999999999", "all", "W1", "0x1",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		errno = 0;
		ck_assert_msg(hw_slot_parse(bad[i], &v) == -1, "'%s' parsed", bad[i]);
		ck_assert_int_eq(errno, EINVAL);
		ck_assert_int_eq(v, -7);
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("slots");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_lowest_free);
	tcase_add_test(tc, test_grows);
	tcase_add_test(tc, test_random_recycling);
	tcase_add_test(tc, test_names);
	suite_add_tcase(s, tc);
	return hw_run_suite(s);
}
