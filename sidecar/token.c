/* token: generation, formatting, parsing and hashing of peer tokens. It does
 * not store them (state.c) nor check HTTP headers (the HTTP layer). */
#include "token.h"

#include "b64.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <string.h>

int token_generate(char out[static TOKEN_SECRET_B64_LEN + 1])
{
	uint8_t raw[32];

	if (RAND_bytes(raw, sizeof(raw)) != 1)
		return -1;
	b64_encode(out, raw, sizeof(raw));
	OPENSSL_cleanse(raw, sizeof(raw));
	return 0;
}

void token_format_bootstrap(const uint8_t pub[static 32], const char *secret,
			    char out[static TOKEN_BOOTSTRAP_LEN + 1])
{
	char pub64[45];

	b64_encode(pub64, pub, 32);
	snprintf(out, TOKEN_BOOTSTRAP_LEN + 1, "%s.%s.%s", TOKEN_PREFIX, pub64, secret);
}

static int valid_secret(const char *s, size_t n)
{
	uint8_t raw[32];
	char copy[TOKEN_SECRET_B64_LEN + 1];
	int ok;

	if (n != TOKEN_SECRET_B64_LEN)
		return 0;
	memcpy(copy, s, n);
	copy[n] = '\0';
	ok = b64_decode_exact(copy, raw, sizeof(raw)) == 0;
	OPENSSL_cleanse(raw, sizeof(raw));
	OPENSSL_cleanse(copy, sizeof(copy));
	return ok;
}

int token_parse(const char *s, struct bootstrap_token *out)
{
	const size_t plen = sizeof(TOKEN_PREFIX) - 1;
	char pub64[45];

	memset(out, 0, sizeof(*out));
	if (strncmp(s, TOKEN_PREFIX ".", plen + 1) == 0) {
		const char *p = s + plen + 1, *dot = strchr(p, '.');
		if (dot == NULL || dot - p != 44)
			return -1;
		memcpy(pub64, p, 44);
		pub64[44] = '\0';
		if (b64_decode_exact(pub64, out->primary_pubkey, 32) == -1)
			return -1;
		out->has_pubkey = true;
		s = dot + 1;
	}
	if (!valid_secret(s, strlen(s))) {
		token_wipe(out);
		return -1;
	}
	memcpy(out->secret, s, TOKEN_SECRET_B64_LEN + 1);
	return 0;
}

void token_hash(const char *secret, uint8_t out[static 32])
{
	unsigned int n = 32;

	EVP_Digest(secret, strlen(secret), out, &n, EVP_sha256(), NULL);
}

bool token_matches(const char *presented, const uint8_t hash[static 32])
{
	uint8_t h[32];
	bool ok;

	token_hash(presented, h);
	ok = CRYPTO_memcmp(h, hash, 32) == 0;
	OPENSSL_cleanse(h, sizeof(h));
	return ok;
}

void token_wipe(struct bootstrap_token *t) { OPENSSL_cleanse(t, sizeof(*t)); }
