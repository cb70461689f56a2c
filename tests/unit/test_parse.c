/* Unit tests for parse: Go durations, sizes, booleans, integers, host:port. */
#include "parse.h"
#include "testutil.h"

#include <string.h>

static void test_durations(void **state)
{
	static const struct {
		const char *in;
		uint64_t ms;
	} ok[] = {
		{"0", 0},	 {"30s", 30000},	{"5m", 300000},	       {"1h30m", 5400000},
		{"1.5h", 5400000}, {"300ms", 300},	{"2h45m30s", 9930000}, {"1000000us", 1000},
		{".5s", 500},	 {"1s500ms", 1500}, {"1\xc2\xb5s1s", 1000},
	};
	static const char *const bad[] = {"", "5", "-5m", "5 m", "m", "5x", "1h 30m", "1..5s",
					  "1ns", "99999999999999999999h", "5M"};
	uint64_t v;
	(void)state;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		if (parse_duration_ms(ok[i].in, &v) != 0)
			fail_msg("rejected %s", ok[i].in);
		assert_int_equal(v, ok[i].ms);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (parse_duration_ms(bad[i], &v) != -1)
			fail_msg("accepted %s", bad[i]);
	}
}

static void test_sizes(void **state)
{
	uint64_t v;
	(void)state;
	assert_int_equal(parse_size_bytes("4096", &v), 0);
	assert_int_equal(v, 4096);
	assert_int_equal(parse_size_bytes("64MiB", &v), 0);
	assert_int_equal(v, 64ull << 20);
	assert_int_equal(parse_size_bytes("1G", &v), 0);
	assert_int_equal(v, 1ull << 30);
	assert_int_equal(parse_size_bytes("12 MiB", &v), -1);
	assert_int_equal(parse_size_bytes("-1", &v), -1);
	assert_int_equal(parse_size_bytes("99999999999999999999", &v), -1);
	assert_int_equal(parse_size_bytes("9999999999999GiB", &v), -1);
}

static void test_bools_and_ints(void **state)
{
	bool b;
	long long x;
	(void)state;
	assert_int_equal(parse_bool("TRUE", &b), 0);
	assert_true(b);
	assert_int_equal(parse_bool("off", &b), 0);
	assert_false(b);
	assert_int_equal(parse_bool("maybe", &b), -1);
	assert_int_equal(parse_int_range("50", 0, 100, &x), 0);
	assert_int_equal(x, 50);
	assert_int_equal(parse_int_range("101", 0, 100, &x), -1);
	assert_int_equal(parse_int_range("5%", 0, 100, &x), -1);
	assert_int_equal(parse_int_range(" 5", 0, 100, &x), -1);
}

static void test_host_port(void **state)
{
	char host[256];
	uint16_t port;
	(void)state;
	assert_int_equal(parse_host_port("0.0.0.0:1412", host, &port), 0);
	assert_string_equal(host, "0.0.0.0");
	assert_int_equal(port, 1412);
	assert_int_equal(parse_host_port(":9412", host, &port), 0);
	assert_string_equal(host, "0.0.0.0");
	assert_int_equal(parse_host_port("[::1]:80", host, &port), 0);
	assert_string_equal(host, "::1");
	assert_int_equal(parse_host_port("127.0.0.1:0", host, &port), 0);
	assert_int_equal(port, 0);
	assert_int_equal(parse_host_port("127.0.0.1", host, &port), -1);
	assert_int_equal(parse_host_port("::1:80", host, &port), -1);
	assert_int_equal(parse_host_port("host:65536", host, &port), -1);
	assert_int_equal(parse_host_port("host:http", host, &port), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_durations),
		cmocka_unit_test(test_sizes),
		cmocka_unit_test(test_bools_and_ints),
		cmocka_unit_test(test_host_port),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
