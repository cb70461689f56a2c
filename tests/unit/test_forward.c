/* Unit tests for forward's pure parts: which Pocket ID answers mean "not
 * issued here" (every version's wording, and the answers that are not), and
 * the SYNC_FORWARD_PEERS list. The request path is e2e.forward's. */
#include "forward.h"
#include "testutil.h"

#include <stdlib.h>
#include <string.h>

static bool nh(enum forward_kind k, int status, const char *body)
{
	return forward_not_here(k, status, body, strlen(body));
}

static void test_token_answers(void **state)
{
	(void)state;
	assert_true(nh(FORWARD_TOKEN, 400, "{\"error\":\"invalid_grant\",\"error_description\":\"x\"}"));
	assert_true(nh(FORWARD_TOKEN, 400, "{\"error\":\"Invalid authorization code\"}")); /* v2.9.0, real */
	assert_true(nh(FORWARD_TOKEN, 400, "{\"error\":\"invalid authorization code\"}"));
	assert_true(nh(FORWARD_TOKEN, 400, "{\"error\":\"Refresh token is invalid or expired\"}"));
	assert_true(nh(FORWARD_TOKEN, 400, "{\"error\":\"Invalid device code\"}"));
	assert_false(nh(FORWARD_TOKEN, 400, "{\"error\":\"authorization_pending\"}"));
	assert_false(nh(FORWARD_TOKEN, 400, "{\"error\":\"slow_down\"}"));
	assert_false(nh(FORWARD_TOKEN, 429, "{\"error\":\"Polling too frequently\"}"));
	assert_false(nh(FORWARD_TOKEN, 401, "{\"error\":\"invalid_client\"}"));
	assert_false(nh(FORWARD_TOKEN, 400, "{\"error\":\"Invalid code verifier\"}"));
	assert_false(nh(FORWARD_TOKEN, 200, "{\"access_token\":\"x\"}"));
	assert_false(nh(FORWARD_TOKEN, 400, "not json"));
	assert_false(nh(FORWARD_TOKEN, 400, "{\"error\":1}"));
}

static void test_other_answers(void **state)
{
	(void)state;
	assert_true(nh(FORWARD_USERINFO, 401, ""));
	assert_false(nh(FORWARD_USERINFO, 200, "{\"sub\":\"u\"}"));
	assert_true(nh(FORWARD_USERINFO, 404, "{\"error\":\"Record not found\"}")); /* v2.9.0, real */
	assert_false(nh(FORWARD_USERINFO, 403, ""));
	assert_true(nh(FORWARD_INTROSPECT, 200, "{\"active\":false}"));
	assert_false(nh(FORWARD_INTROSPECT, 200, "{\"active\":true,\"sub\":\"u\"}"));
	assert_false(nh(FORWARD_INTROSPECT, 401, "{\"error\":\"invalid_client\"}"));
	assert_true(nh(FORWARD_REVOKE, 404, "{\"error\":\"Record not found\"}"));
	assert_false(nh(FORWARD_REVOKE, 204, ""));
}

static void test_peer_list(void **state)
{
	char **v, err[300];
	(void)state;
	assert_int_equal(forward_parse_peers(" http://10.0.0.2:1411 , http://[::1]:8080,", &v, err, sizeof(err)), 2);
	assert_string_equal(v[0], "http://10.0.0.2:1411");
	assert_string_equal(v[1], "http://[::1]:8080");
	free(v[0]);
	free(v[1]);
	free(v);
	static const char *const bad[] = {"", ",", "https://a:1", "ftp://a", "http://a:1/api", "a:1",
					  "http://a,http://b,http://c,http://d,http://e,http://f,http://g,http://h,http://i"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		assert_int_equal(forward_parse_peers(bad[i], &v, err, sizeof(err)), -1);
		assert_null(v);
		assert_true(err[0] != '\0');
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_token_answers),
	    cmocka_unit_test(test_other_answers),
	    cmocka_unit_test(test_peer_list),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
