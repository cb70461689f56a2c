/* Unit tests for token: bootstrap form round trip, strict parsing, hashing
 * and constant-time matching. */
#include "testutil.h"
#include "token.h"

#include <string.h>

static void test_round_trip(void **state)
{
	uint8_t pub[32], hash[32];
	char secret[TOKEN_SECRET_B64_LEN + 1], boot[TOKEN_BOOTSTRAP_LEN + 1];
	struct bootstrap_token t;
	(void)state;
	for (int i = 0; i < 32; i++)
		pub[i] = (uint8_t)i;
	assert_int_equal(token_generate(secret), 0);
	assert_int_equal(strlen(secret), TOKEN_SECRET_B64_LEN);
	token_format_bootstrap(pub, secret, boot);
	assert_int_equal(strlen(boot), TOKEN_BOOTSTRAP_LEN);
	assert_int_equal(strncmp(boot, "pisync1.", 8), 0);
	assert_int_equal(token_parse(boot, &t), 0);
	assert_true(t.has_pubkey);
	assert_memory_equal(t.primary_pubkey, pub, 32);
	assert_string_equal(t.secret, secret);
	assert_int_equal(token_parse(secret, &t), 0); /* bare token */
	assert_false(t.has_pubkey);
	token_hash(secret, hash);
	assert_true(token_matches(secret, hash));
	secret[0] = secret[0] == 'A' ? 'B' : 'A';
	assert_false(token_matches(secret, hash));
}

static void test_rejects(void **state)
{
	struct bootstrap_token t;
	(void)state;
	assert_int_equal(token_parse("", &t), -1);
	assert_int_equal(token_parse("short", &t), -1);
	assert_int_equal(token_parse("pisync1.AAAA.AAAA", &t), -1);
	assert_int_equal(token_parse("pisync2.AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=."
				     "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", &t), -1);
	assert_int_equal(token_parse("pisync1.AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=."
				     "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=x", &t), -1);
	assert_int_equal(token_parse("pisync1.AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=."
				     "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", &t), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_rejects),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
