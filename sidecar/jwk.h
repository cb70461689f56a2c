/* jwk: Pocket ID's JWT signing key at rest. Pocket ID stores the JWK JSON
 * encrypted with a per-node key-encryption key:
 *   KEK = HMAC-SHA3-256(key = ENCRYPTION_KEY, msg = "pocketid/" + instance id + "/jwk-kek")
 *   value = base64(nonce(12) || AES-256-GCM(JWK JSON) || tag(16)), no AAD.
 * This module derives KEKs and wraps/unwraps values; where the value lives
 * (kv row or v1.x key file) is the caller's business. */
#ifndef PIS_JWK_H
#define PIS_JWK_H

#include <stddef.h>
#include <stdint.h>

int jwk_derive_kek(const uint8_t *encryption_key, size_t key_len, const char *instance_id,
		   uint8_t kek[static 32]);
/* Unwraps a stored value into a malloc'd NUL-terminated JWK JSON (caller
 * frees with OPENSSL_clear_free(p, len + 1)). Returns 0 or -1. */
int jwk_unwrap(const uint8_t kek[static 32], const char *b64, size_t b64_len, char **json,
	       size_t *len);
/* Wraps JWK JSON with a fresh random nonce into a malloc'd base64 value. */
int jwk_wrap(const uint8_t kek[static 32], const char *json, size_t len, char **b64);
/* True when two JWK JSON texts describe the same key (same members and
 * values, whatever their order or spacing). */
int jwk_same(const char *a, const char *b);

#endif
