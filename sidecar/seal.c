/* seal: the sealing layer of proto/SPEC.md section 3 on OpenSSL EVP only:
 * X25519 through EVP_PKEY_derive, HKDF-SHA256 through EVP_KDF, AES-256-GCM
 * through EVP_CIPHER. It owns the wire layout and the wiping of every
 * intermediate secret; it does not parse the payload document it carries. */
#include "seal.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/proverr.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>

/* EVP_*Update take an int length: longer inputs go in chunks of this size. */
#define SEAL_CHUNK (1u << 30)

const char *seal_strerror(enum seal_status st)
{
	switch (st) {
	case SEAL_OK:
		return "ok";
	case SEAL_ERR_MALFORMED:
		return "sealed payload is too short to be one";
	case SEAL_ERR_TOO_LARGE:
		return "sealed payload is larger than the configured limit";
	case SEAL_ERR_WEAK_KEY:
		return "a public key is a low-order point (X25519 result is all zero)";
	case SEAL_ERR_AUTH:
		return "sealed payload failed authentication (altered, not for this node, "
		       "or not from the pinned primary)";
	case SEAL_ERR_INTERNAL:
		return "internal error in the sealing layer (OpenSSL or memory)";
	}
	return "unknown sealing status";
}

/* Tells OpenSSL's own all-zero check (raised from the derive call, after the
 * peer key was accepted) from any other failure. */
static enum seal_status seal_derive_failure(void)
{
	unsigned long e = ERR_peek_last_error();

	if (ERR_GET_LIB(e) == ERR_LIB_PROV &&
	    ERR_GET_REASON(e) == PROV_R_FAILED_DURING_DERIVATION) {
		ERR_clear_error();
		return SEAL_ERR_WEAK_KEY;
	}
	return SEAL_ERR_INTERNAL;
}

enum seal_status seal_dh(const uint8_t priv[static 32], const uint8_t pub[static 32],
			 uint8_t out[static 32])
{
	static const uint8_t zero[32];
	EVP_PKEY *own = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, priv, 32);
	EVP_PKEY *peer = EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, NULL, pub, 32);
	EVP_PKEY_CTX *ctx = NULL;
	enum seal_status st = SEAL_ERR_INTERNAL;
	size_t len = 32;

	if (own == NULL || peer == NULL)
		goto done;
	ctx = EVP_PKEY_CTX_new(own, NULL);
	if (ctx == NULL || EVP_PKEY_derive_init(ctx) != 1 ||
	    EVP_PKEY_derive_set_peer(ctx, peer) != 1)
		goto done;
	if (EVP_PKEY_derive(ctx, out, &len) != 1) {
		st = seal_derive_failure();
		goto done;
	}
	/* Our own check too, in case a provider returns the all-zero result. */
	if (len != 32)
		goto done;
	st = CRYPTO_memcmp(out, zero, 32) == 0 ? SEAL_ERR_WEAK_KEY : SEAL_OK;
done:
	if (st != SEAL_OK)
		OPENSSL_cleanse(out, 32);
	EVP_PKEY_CTX_free(ctx);
	EVP_PKEY_free(peer);
	EVP_PKEY_free(own);
	return st;
}

enum seal_status seal_derive_key(const uint8_t dh_e[static 32], const uint8_t dh_s[static 32],
				 const uint8_t eph_pub[static 32],
				 const uint8_t recipient_pub[static 32],
				 const uint8_t sender_pub[static 32], uint8_t key[static 32])
{
	uint8_t salt[96], ikm[64];
	char digest[] = "SHA256", info[] = SEAL_INFO;
	EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
	EVP_KDF_CTX *ctx = kdf == NULL ? NULL : EVP_KDF_CTX_new(kdf);
	enum seal_status st = SEAL_ERR_INTERNAL;
	OSSL_PARAM params[5];

	memcpy(salt, eph_pub, 32);
	memcpy(salt + 32, recipient_pub, 32);
	memcpy(salt + 64, sender_pub, 32);
	memcpy(ikm, dh_e, 32);
	memcpy(ikm + 32, dh_s, 32);
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest, 0);
	params[1] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, salt, sizeof(salt));
	params[2] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, ikm, sizeof(ikm));
	params[3] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, info, strlen(info));
	params[4] = OSSL_PARAM_construct_end();
	if (ctx != NULL && EVP_KDF_derive(ctx, key, 32, params) == 1)
		st = SEAL_OK;
	else
		OPENSSL_cleanse(key, 32);
	OPENSSL_cleanse(ikm, sizeof(ikm));
	EVP_KDF_CTX_free(ctx);
	EVP_KDF_free(kdf);
	return st;
}

/* Both agreements and the key schedule. dh_e = X25519(e_priv, e_peer) is
 * (e, R) when sealing and (r, E) when opening; dh_s = X25519(s_priv, s_peer)
 * is (s, R) when sealing and (r, S) when opening: the same values. */
static enum seal_status seal_schedule(const uint8_t e_priv[static 32],
				      const uint8_t e_peer[static 32],
				      const uint8_t s_priv[static 32],
				      const uint8_t s_peer[static 32],
				      const uint8_t eph_pub[static 32],
				      const uint8_t recipient_pub[static 32],
				      const uint8_t sender_pub[static 32], uint8_t key[static 32])
{
	uint8_t dh_e[32], dh_s[32];
	enum seal_status st;

	st = seal_dh(e_priv, e_peer, dh_e);
	if (st == SEAL_OK)
		st = seal_dh(s_priv, s_peer, dh_s);
	if (st == SEAL_OK)
		st = seal_derive_key(dh_e, dh_s, eph_pub, recipient_pub, sender_pub, key);
	OPENSSL_cleanse(dh_e, sizeof(dh_e));
	OPENSSL_cleanse(dh_s, sizeof(dh_s));
	return st;
}

/* Runs in through the cipher in int-sized chunks; in may be NULL if n == 0. */
static int seal_update(EVP_CIPHER_CTX *ctx, uint8_t *out, const uint8_t *in, size_t n, int enc)
{
	while (n > 0) {
		size_t chunk = n > SEAL_CHUNK ? SEAL_CHUNK : n;
		int outl = 0;
		int ok = enc ? EVP_EncryptUpdate(ctx, out, &outl, in, (int)chunk)
			     : EVP_DecryptUpdate(ctx, out, &outl, in, (int)chunk);
		if (ok != 1 || (size_t)outl != chunk)
			return -1;
		out += chunk;
		in += chunk;
		n -= chunk;
	}
	return 0;
}

static enum seal_status seal_encrypt(const uint8_t key[static 32], uint8_t *wire,
				     const uint8_t *pt, size_t pt_len)
{
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	uint8_t *ct = wire + SEAL_EPH_LEN + SEAL_NONCE_LEN;
	enum seal_status st = SEAL_ERR_INTERNAL;
	int outl = 0;

	if (ctx == NULL ||
	    EVP_EncryptInit_ex2(ctx, EVP_aes_256_gcm(), key, wire + SEAL_EPH_LEN, NULL) != 1 ||
	    EVP_EncryptUpdate(ctx, NULL, &outl, wire, SEAL_EPH_LEN) != 1 ||
	    seal_update(ctx, ct, pt, pt_len, 1) == -1 ||
	    EVP_EncryptFinal_ex(ctx, ct + pt_len, &outl) != 1 || outl != 0 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, SEAL_TAG_LEN, ct + pt_len) != 1)
		goto done;
	st = SEAL_OK;
done:
	EVP_CIPHER_CTX_free(ctx);
	return st;
}

enum seal_status seal_seal_with(const struct node_key *sender,
				const uint8_t recipient_pub[static 32],
				const uint8_t eph_priv[static 32],
				const uint8_t nonce[static SEAL_NONCE_LEN], const uint8_t *pt,
				size_t pt_len, uint8_t **out, size_t *out_len)
{
	uint8_t key[32], *wire = NULL;
	enum seal_status st;

	*out = NULL;
	*out_len = 0;
	if (pt_len > SIZE_MAX - SEAL_OVERHEAD)
		return SEAL_ERR_TOO_LARGE;
	wire = malloc(pt_len + SEAL_OVERHEAD);
	if (wire == NULL)
		return SEAL_ERR_INTERNAL;
	if (keys_public_from_private(eph_priv, wire) == -1) {
		st = SEAL_ERR_INTERNAL;
		goto done;
	}
	memcpy(wire + SEAL_EPH_LEN, nonce, SEAL_NONCE_LEN);
	st = seal_schedule(eph_priv, recipient_pub, sender->priv, recipient_pub, wire,
			   recipient_pub, sender->pub, key);
	if (st == SEAL_OK)
		st = seal_encrypt(key, wire, pt, pt_len);
done:
	OPENSSL_cleanse(key, sizeof(key));
	if (st != SEAL_OK) {
		OPENSSL_cleanse(wire, pt_len + SEAL_OVERHEAD);
		free(wire);
		return st;
	}
	*out = wire;
	*out_len = pt_len + SEAL_OVERHEAD;
	return SEAL_OK;
}

enum seal_status seal_seal(const struct node_key *sender, const uint8_t recipient_pub[static 32],
			   const uint8_t *pt, size_t pt_len, uint8_t **out, size_t *out_len)
{
	struct node_key eph;
	uint8_t nonce[SEAL_NONCE_LEN];
	enum seal_status st = SEAL_ERR_INTERNAL;

	*out = NULL;
	*out_len = 0;
	if (keys_generate(&eph) == -1)
		return SEAL_ERR_INTERNAL;
	if (RAND_bytes(nonce, sizeof(nonce)) == 1)
		st = seal_seal_with(sender, recipient_pub, eph.priv, nonce, pt, pt_len, out,
				    out_len);
	keys_wipe(&eph);
	return st;
}

/* Decrypts and checks the tag; pt must hold ct_len bytes. */
static enum seal_status seal_decrypt(const uint8_t key[static 32], const uint8_t *wire,
				     size_t ct_len, uint8_t *pt)
{
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	const uint8_t *ct = wire + SEAL_EPH_LEN + SEAL_NONCE_LEN;
	enum seal_status st = SEAL_ERR_INTERNAL;
	uint8_t tag[SEAL_TAG_LEN];
	int outl = 0;

	memcpy(tag, ct + ct_len, SEAL_TAG_LEN);
	if (ctx == NULL ||
	    EVP_DecryptInit_ex2(ctx, EVP_aes_256_gcm(), key, wire + SEAL_EPH_LEN, NULL) != 1 ||
	    EVP_DecryptUpdate(ctx, NULL, &outl, wire, SEAL_EPH_LEN) != 1 ||
	    seal_update(ctx, pt, ct, ct_len, 0) == -1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, SEAL_TAG_LEN, tag) != 1)
		goto done;
	st = EVP_DecryptFinal_ex(ctx, pt + ct_len, &outl) == 1 && outl == 0 ? SEAL_OK
									   : SEAL_ERR_AUTH;
done:
	EVP_CIPHER_CTX_free(ctx);
	return st;
}

enum seal_status seal_open(const struct node_key *recipient, const uint8_t sender_pub[static 32],
			   const uint8_t *wire, size_t wire_len, size_t max_wire, uint8_t **pt,
			   size_t *pt_len)
{
	uint8_t key[32], *buf = NULL;
	size_t ct_len;
	enum seal_status st;

	*pt = NULL;
	*pt_len = 0;
	if (wire_len < SEAL_OVERHEAD)
		return SEAL_ERR_MALFORMED;
	if (wire_len > max_wire)
		return SEAL_ERR_TOO_LARGE;
	ct_len = wire_len - SEAL_OVERHEAD;
	st = seal_schedule(recipient->priv, wire, recipient->priv, sender_pub, wire,
			   recipient->pub, sender_pub, key);
	if (st != SEAL_OK)
		goto done;
	buf = malloc(ct_len + 1);
	if (buf == NULL) {
		st = SEAL_ERR_INTERNAL;
		goto done;
	}
	st = seal_decrypt(key, wire, ct_len, buf);
done:
	OPENSSL_cleanse(key, sizeof(key));
	if (st != SEAL_OK) {
		if (buf != NULL) {
			OPENSSL_cleanse(buf, ct_len + 1);
			free(buf);
		}
		return st;
	}
	buf[ct_len] = '\0';
	*pt = buf;
	*pt_len = ct_len;
	return SEAL_OK;
}

enum seal_status seal_open_inplace(const struct node_key *recipient,
				   const uint8_t sender_pub[static 32], uint8_t *wire,
				   size_t wire_len, size_t max_wire, uint8_t **pt, size_t *pt_len)
{
	uint8_t key[32];
	size_t ct_len;
	enum seal_status st;

	*pt = NULL;
	*pt_len = 0;
	if (wire_len < SEAL_OVERHEAD)
		return SEAL_ERR_MALFORMED;
	if (wire_len > max_wire)
		return SEAL_ERR_TOO_LARGE;
	ct_len = wire_len - SEAL_OVERHEAD;
	st = seal_schedule(recipient->priv, wire, recipient->priv, sender_pub, wire,
			   recipient->pub, sender_pub, key);
	if (st == SEAL_OK)
		st = seal_decrypt(key, wire, ct_len, wire + SEAL_EPH_LEN + SEAL_NONCE_LEN);
	OPENSSL_cleanse(key, sizeof(key));
	if (st != SEAL_OK) {
		if (st == SEAL_ERR_AUTH) /* unauthenticated plaintext: never let it out */
			OPENSSL_cleanse(wire + SEAL_EPH_LEN + SEAL_NONCE_LEN, ct_len);
		return st;
	}
	*pt = wire + SEAL_EPH_LEN + SEAL_NONCE_LEN;
	*pt_len = ct_len;
	return SEAL_OK;
}

/* ---- streaming ---- */

struct seal_stream {
	EVP_CIPHER_CTX *ctx;
	uint8_t *wire;
	size_t len, cap, max;
	size_t wanted; /* bytes put, also past a refusal */
	bool over;
};

void seal_stream_abort(struct seal_stream *s)
{
	if (s == NULL)
		return;
	EVP_CIPHER_CTX_free(s->ctx);
	free(s->wire); /* ciphertext only */
	free(s);
}

enum seal_status seal_stream_begin(const struct node_key *sender,
				   const uint8_t recipient_pub[static 32], size_t max_wire,
				   struct seal_stream **out)
{
	struct seal_stream *s = calloc(1, sizeof(*s));
	struct node_key eph;
	uint8_t key[32];
	enum seal_status st = SEAL_ERR_INTERNAL;
	int outl = 0;

	*out = NULL;
	if (s == NULL)
		return SEAL_ERR_INTERNAL;
	s->max = max_wire;
	s->cap = 65536;
	s->wire = malloc(s->cap);
	s->ctx = EVP_CIPHER_CTX_new();
	if (s->wire == NULL || s->ctx == NULL || keys_generate(&eph) == -1) {
		seal_stream_abort(s);
		return SEAL_ERR_INTERNAL;
	}
	memcpy(s->wire, eph.pub, SEAL_EPH_LEN);
	if (RAND_bytes(s->wire + SEAL_EPH_LEN, SEAL_NONCE_LEN) == 1)
		st = seal_schedule(eph.priv, recipient_pub, sender->priv, recipient_pub, s->wire,
				   recipient_pub, sender->pub, key);
	keys_wipe(&eph);
	if (st == SEAL_OK &&
	    (EVP_EncryptInit_ex2(s->ctx, EVP_aes_256_gcm(), key, s->wire + SEAL_EPH_LEN, NULL) != 1 ||
	     EVP_EncryptUpdate(s->ctx, NULL, &outl, s->wire, SEAL_EPH_LEN) != 1))
		st = SEAL_ERR_INTERNAL;
	OPENSSL_cleanse(key, sizeof(key));
	if (st != SEAL_OK) {
		seal_stream_abort(s);
		return st;
	}
	s->len = s->wanted = SEAL_EPH_LEN + SEAL_NONCE_LEN;
	*out = s;
	return SEAL_OK;
}

size_t seal_stream_size(const struct seal_stream *s)
{
	return s->wanted + SEAL_TAG_LEN;
}

enum seal_status seal_stream_put(struct seal_stream *s, const uint8_t *pt, size_t n)
{
	s->wanted = n > SIZE_MAX / 2 - s->wanted ? SIZE_MAX / 2 : s->wanted + n;
	if (s->over || n > s->max || s->len + SEAL_TAG_LEN > s->max - n) {
		s->over = true; /* later puts only count, so the caller can say how large */
		return SEAL_ERR_TOO_LARGE;
	}
	if (s->len + n + SEAL_TAG_LEN > s->cap) {
		size_t cap = s->cap;
		uint8_t *w;
		while (cap < s->len + n + SEAL_TAG_LEN)
			cap *= 2;
		if ((w = realloc(s->wire, cap)) == NULL)
			return SEAL_ERR_INTERNAL;
		s->wire = w;
		s->cap = cap;
	}
	if (seal_update(s->ctx, s->wire + s->len, pt, n, 1) == -1)
		return SEAL_ERR_INTERNAL;
	s->len += n;
	return SEAL_OK;
}

enum seal_status seal_stream_end(struct seal_stream *s, uint8_t **wire, size_t *wire_len)
{
	int outl = 0;

	*wire = NULL;
	*wire_len = 0;
	if (s->over || s->len + SEAL_TAG_LEN > s->cap ||
	    EVP_EncryptFinal_ex(s->ctx, s->wire + s->len, &outl) != 1 || outl != 0 ||
	    EVP_CIPHER_CTX_ctrl(s->ctx, EVP_CTRL_GCM_GET_TAG, SEAL_TAG_LEN, s->wire + s->len) != 1) {
		seal_stream_abort(s);
		return SEAL_ERR_INTERNAL;
	}
	*wire = s->wire;
	*wire_len = s->len + SEAL_TAG_LEN;
	s->wire = NULL;
	seal_stream_abort(s);
	return SEAL_OK;
}
