/* Unit tests for b64: round trips, exact lengths, and rejection of
 * non-canonical or malformed input. */
#include "b64.h"
#include "testutil.h"

#include <stdlib.h>
#include <string.h>

static void test_round_trip_all_lengths(void **state)
{
	uint8_t in[64];
	(void)state;
	for (size_t i = 0; i < sizeof(in); i++)
		in[i] = (uint8_t)(i * 37 + 1);
	for (size_t n = 0; n <= sizeof(in); n++) {
		char *enc = b64_encode_alloc(in, n);
		uint8_t *dec;
		size_t len;
		assert_non_null(enc);
		assert_int_equal(strlen(enc), b64_encoded_len(n));
		assert_int_equal(b64_decode_alloc(enc, strlen(enc), &dec, &len), 0);
		assert_int_equal(len, n);
		assert_memory_equal(dec, in, n);
		free(dec);
		free(enc);
	}
}

static void test_known_value(void **state)
{
	char out[16];
	(void)state;
	b64_encode(out, (const uint8_t *)"foobar", 6);
	assert_string_equal(out, "Zm9vYmFy");
	b64_encode(out, (const uint8_t *)"fo", 2);
	assert_string_equal(out, "Zm8=");
}

static void test_rejects_malformed(void **state)
{
	static const char *const bad[] = {
		"Zm8",	    /* not a multiple of 4 */
		"Zm9=",	    /* non-zero padding bits */
		"Z===",	    /* too much padding */
		"Zm=v",	    /* padding inside */
		"Zm 8=",    /* whitespace */
		"Zm8*",	    /* not in the alphabet */
		"Zm8=Zm8=", /* padding in the middle */
	};
	uint8_t *dec;
	size_t len;
	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(b64_decode_alloc(bad[i], strlen(bad[i]), &dec, &len), -1);
}

static void test_decode_exact(void **state)
{
	uint8_t out[2];
	(void)state;
	assert_int_equal(b64_decode_exact("Zm8=", out, 2), 0);
	assert_memory_equal(out, "fo", 2);
	assert_int_equal(b64_decode_exact("Zm9v", out, 2), -1); /* 3 bytes */
	assert_int_equal(b64_decode_exact("Zg==", out, 2), -1); /* 1 byte */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip_all_lengths),
		cmocka_unit_test(test_known_value),
		cmocka_unit_test(test_rejects_malformed),
		cmocka_unit_test(test_decode_exact),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
