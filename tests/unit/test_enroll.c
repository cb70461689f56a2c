/* Unit tests for enroll: what a new peer must look like (name, key, not the
 * primary's own key), the bootstrap string it gets, and that only the
 * token's hash reaches state.db. */
#include "b64.h"
#include "enroll.h"
#include "testutil.h"

#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

static void test_enroll(void **unused)
{
	char *dir = tu_mkdtemp(), err[512], boot[TOKEN_BOOTSTRAP_LEN + 1], own64[45], peer64[45];
	uint8_t own[32], peer[32], zero[32] = {0};
	struct bootstrap_token tok;
	struct peer_info *peers, found;
	struct state *st;
	size_t n;
	(void)unused;
	memset(own, 7, 32);
	memset(peer, 8, 32);
	b64_encode(own64, own, 32);
	b64_encode(peer64, peer, 32);
	assert_int_equal(state_open(dir, &st, err, sizeof(err)), 0);
	assert_int_equal(enroll_peer(st, own, "bad/name", peer64, boot, err, sizeof(err)),
			 ENROLL_INVALID);
	assert_int_equal(enroll_peer(st, own, "b", "AAAA", boot, err, sizeof(err)), ENROLL_INVALID);
	assert_non_null(strstr(err, "44 characters of base64"));
	b64_encode(peer64, zero, 32);
	assert_int_equal(enroll_peer(st, own, "b", peer64, boot, err, sizeof(err)), ENROLL_INVALID);
	b64_encode(peer64, peer, 32);
	assert_int_equal(enroll_peer(st, own, "b", own64, boot, err, sizeof(err)), ENROLL_INVALID);
	assert_non_null(strstr(err, "own public key"));
	assert_int_equal(enroll_peer(st, own, "b", peer64, boot, err, sizeof(err)), ENROLL_OK);
	assert_int_equal(strlen(boot), TOKEN_BOOTSTRAP_LEN);
	assert_int_equal(token_parse(boot, &tok), 0);
	assert_true(tok.has_pubkey);
	assert_memory_equal(tok.primary_pubkey, own, 32);
	assert_int_equal(state_peer_by_token(st, tok.secret, &found), 0);
	assert_string_equal(found.name, "b");
	assert_memory_equal(found.pubkey, peer, 32);
	assert_int_equal(state_peer_list(st, &peers, &n), 0);
	assert_int_equal(n, 1);
	assert_true(token_matches(tok.secret, peers[0].token_hash));
	free(peers);
	assert_int_equal(enroll_peer(st, own, "b", peer64, boot, err, sizeof(err)),
			 ENROLL_CONFLICT);
	assert_string_equal(boot, "");
	memset(peer, 9, 32);
	b64_encode(peer64, peer, 32);
	assert_int_equal(enroll_peer(st, own, "c", peer64, boot, err, sizeof(err)), ENROLL_OK);
	OPENSSL_cleanse(boot, sizeof(boot));
	token_wipe(&tok);
	state_close(st);
	tu_rmtree(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_enroll),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
