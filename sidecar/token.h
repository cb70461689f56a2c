/* token: the bearer tokens a primary issues to its peers and the one-string
 * bootstrap form that carries the primary's public key with the token:
 *   pisync1.<primary public key, base64>.<token, base64 of 32 random bytes>
 * The primary stores only SHA-256(token); comparisons are constant-time. */
#ifndef PIS_TOKEN_H
#define PIS_TOKEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TOKEN_PREFIX "pisync1"
#define TOKEN_SECRET_B64_LEN 44 /* base64 of 32 bytes */
#define TOKEN_BOOTSTRAP_LEN (sizeof(TOKEN_PREFIX) - 1 + 1 + 44 + 1 + TOKEN_SECRET_B64_LEN)

struct bootstrap_token {
	bool has_pubkey;
	uint8_t primary_pubkey[32];
	char secret[TOKEN_SECRET_B64_LEN + 1];
};

/* Fresh random token (base64, NUL-terminated). Returns 0 or -1. */
int token_generate(char out[static TOKEN_SECRET_B64_LEN + 1]);
/* Writes "pisync1.<pub>.<secret>" into out (TOKEN_BOOTSTRAP_LEN + 1 bytes). */
void token_format_bootstrap(const uint8_t pub[static 32], const char *secret,
			    char out[static TOKEN_BOOTSTRAP_LEN + 1]);
/* Accepts the bootstrap form or a bare token. Returns 0 or -1. */
int token_parse(const char *s, struct bootstrap_token *out);
/* SHA-256 of the token's characters. */
void token_hash(const char *secret, uint8_t out[static 32]);
/* Constant-time comparison of a presented token with a stored hash. */
bool token_matches(const char *presented, const uint8_t hash[static 32]);
void token_wipe(struct bootstrap_token *t);

#endif
