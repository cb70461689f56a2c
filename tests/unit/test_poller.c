/* Unit tests for the poller's retry schedule: exponential back-off from 1 s,
 * capped at the smaller of SYNC_INTERVAL and 5 min, and jitter that keeps
 * each nap between half and one and a half times the back-off. The loop
 * itself (HTTP, apply, health) is covered by tests/e2e. */
#include "poller.h"
#include "testutil.h"

#include <stdint.h>

static void test_backoff_doubles_then_caps(void **unused)
{
	int64_t b = 0, want[] = {1000, 2000, 4000, 8000, 16000, 32000, 64000, 128000, 256000, 300000, 300000};
	(void)unused;
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		b = poller_backoff_next(b, 3600000);
		assert_int_equal(b, want[i]);
	}
	/* A short SYNC_INTERVAL caps it lower: never wait longer than a poll would. */
	b = 0;
	for (int i = 0; i < 10; i++)
		b = poller_backoff_next(b, 5000);
	assert_int_equal(b, 5000);
	/* Success resets to 0; the next failure starts again at 1 s. */
	assert_int_equal(poller_backoff_next(0, 5000), 1000);
}

static void test_jitter_bounds_and_spread(void **unused)
{
	int64_t lo = INT64_MAX, hi = 0;
	(void)unused;
	for (int i = 0; i < 2000; i++) {
		int64_t j = poller_jitter(4000);
		assert_true(j >= 2000 && j <= 6000);
		lo = j < lo ? j : lo;
		hi = j > hi ? j : hi;
	}
	/* Random, not a constant: 2000 draws over 4001 values spread widely. */
	assert_true(lo < 3000);
	assert_true(hi > 5000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_backoff_doubles_then_caps),
		cmocka_unit_test(test_jitter_bounds_and_spread),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
