/* enroll: validation and token issue for a new peer (see enroll.h). The token
 * lives only in local buffers that are wiped before returning. */
#include "enroll.h"

#include "b64.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <string.h>

int enroll_parse_pubkey(const char *b64, uint8_t out[static 32])
{
	static const uint8_t zero[32];

	if (b64 == NULL || strlen(b64) != 44 || b64_decode_exact(b64, out, 32) == -1)
		return -1;
	return memcmp(out, zero, 32) == 0 ? -1 : 0;
}

static enum enroll_result enroll_check(const uint8_t own_pub[static 32], const char *name,
				       const char *pubkey_b64, uint8_t pub[static 32], char *err,
				       size_t errlen)
{
	if (!state_peer_name_valid(name)) {
		snprintf(err, errlen, "peer name must be 1-%d characters of A-Z a-z 0-9 . _ -",
			 STATE_PEER_NAME_MAX);
		return ENROLL_INVALID;
	}
	if (enroll_parse_pubkey(pubkey_b64, pub) == -1) {
		snprintf(err, errlen, "public key must be 44 characters of base64 (the output of "
				      "`pocket-id-sync pubkey` on the peer)");
		return ENROLL_INVALID;
	}
	if (CRYPTO_memcmp(pub, own_pub, 32) == 0) {
		snprintf(err, errlen, "that is this primary's own public key; run `pocket-id-sync "
				      "pubkey` on the secondary and use its key");
		return ENROLL_INVALID;
	}
	return ENROLL_OK;
}

enum enroll_result enroll_peer(struct state *st, const uint8_t own_pub[static 32],
			       const char *name, const char *pubkey_b64,
			       char bootstrap[static TOKEN_BOOTSTRAP_LEN + 1], char *err,
			       size_t errlen)
{
	char secret[TOKEN_SECRET_B64_LEN + 1];
	uint8_t pub[32], hash[32];
	enum enroll_result r = enroll_check(own_pub, name, pubkey_b64, pub, err, errlen);
	int rc;

	bootstrap[0] = '\0';
	if (r != ENROLL_OK)
		return r;
	if (token_generate(secret) == -1) {
		snprintf(err, errlen, "cannot generate a token (no randomness)");
		return ENROLL_ERROR;
	}
	token_hash(secret, hash);
	rc = state_peer_add(st, name, pub, hash, err, errlen);
	if (rc == 0)
		token_format_bootstrap(own_pub, secret, bootstrap);
	OPENSSL_cleanse(secret, sizeof(secret));
	OPENSSL_cleanse(hash, sizeof(hash));
	return rc == 0 ? ENROLL_OK : rc == 1 ? ENROLL_CONFLICT : ENROLL_ERROR;
}
