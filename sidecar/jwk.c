/* jwk: KEK derivation (HMAC via EVP_MAC with SHA3-256) and AES-256-GCM wrap
 * and unwrap of the JWK, all through OpenSSL. No file or database access. */
#include "jwk.h"

#include "b64.h"

#include <cjson/cJSON.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int jwk_derive_kek(const uint8_t *encryption_key, size_t key_len, const char *instance_id,
		   uint8_t kek[static 32])
{
	char msg[512];
	unsigned int out_len = 32;
	int n = snprintf(msg, sizeof(msg), "pocketid/%s/jwk-kek", instance_id);

	if (n < 0 || (size_t)n >= sizeof(msg))
		return -1;
	if (HMAC(EVP_sha3_256(), encryption_key, (int)key_len, (const unsigned char *)msg,
		 (size_t)n, kek, &out_len) == NULL || out_len != 32)
		return -1;
	return 0;
}

/* One AES-256-GCM pass; enc = 1 seals, 0 opens (tag checked). */
static int gcm(int enc, const uint8_t key[32], const uint8_t nonce[12], const uint8_t *in,
	       size_t len, uint8_t *out, uint8_t tag[16])
{
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	int n = 0, fin = 0, ok;

	ok = ctx != NULL && len <= 0x7fffffff &&
	     EVP_CipherInit_ex2(ctx, EVP_aes_256_gcm(), key, nonce, enc, NULL) == 1 &&
	     (len == 0 || EVP_CipherUpdate(ctx, out, &n, in, (int)len) == 1) &&
	     (enc || EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, 16, tag) == 1) &&
	     EVP_CipherFinal_ex(ctx, out + n, &fin) == 1 &&
	     (!enc || EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, 16, tag) == 1);
	EVP_CIPHER_CTX_free(ctx);
	return ok ? 0 : -1;
}

int jwk_unwrap(const uint8_t kek[static 32], const char *b64, size_t b64_len, char **json,
	       size_t *len)
{
	uint8_t *raw;
	size_t n;
	char *out;

	*json = NULL;
	if (b64_decode_alloc(b64, b64_len, &raw, &n) == -1)
		return -1;
	if (n < 28) {
		OPENSSL_clear_free(raw, n + 1);
		return -1;
	}
	out = OPENSSL_malloc(n - 28 + 1);
	if (out == NULL || gcm(0, kek, raw, raw + 12, n - 28, (uint8_t *)out, raw + n - 16) == -1) {
		OPENSSL_clear_free(out, n - 28 + 1);
		OPENSSL_clear_free(raw, n + 1);
		return -1;
	}
	out[n - 28] = '\0';
	OPENSSL_clear_free(raw, n + 1);
	*json = out;
	*len = n - 28;
	return 0;
}

int jwk_wrap(const uint8_t kek[static 32], const char *json, size_t len, char **b64)
{
	size_t n = 12 + len + 16;
	uint8_t *raw = OPENSSL_malloc(n);
	int rc = -1;

	*b64 = NULL;
	if (raw == NULL || RAND_bytes(raw, 12) != 1)
		goto out;
	if (gcm(1, kek, raw, (const uint8_t *)json, len, raw + 12, raw + 12 + len) == -1)
		goto out;
	*b64 = b64_encode_alloc(raw, n);
	rc = *b64 == NULL ? -1 : 0;
out:
	OPENSSL_clear_free(raw, n);
	return rc;
}

static void scrub(cJSON *j)
{
	cJSON *m;

	cJSON_ArrayForEach(m, j) {
		if (cJSON_IsString(m))
			OPENSSL_cleanse(m->valuestring, strlen(m->valuestring));
	}
	cJSON_Delete(j);
}

int jwk_same(const char *a, const char *b)
{
	cJSON *ja = cJSON_Parse(a), *jb = cJSON_Parse(b);
	int same = ja != NULL && jb != NULL && cJSON_IsObject(ja) && cJSON_Compare(ja, jb, 1);

	scrub(ja);
	scrub(jb);
	return same;
}
