/* Unit tests for seal: the committed vectors in proto/vectors/ (exact wire
 * bytes and every intermediate), round trips, refusal of every single-bit
 * flip and every truncation, wrong keys, low-order points, the size limit
 * and distinct status texts. */
#include "b64.h"
#include "keys.h"
#include "seal.h"
#include "testutil.h"

#include <cJSON.h>
#include <dirent.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define VECTOR_DIR PIS_SOURCE_DIR "/proto/vectors"

/* The seven X25519 public values of small order (after the implicit
 * masking of the top bit): 0, 1, two points of order 8, p-1, p, p+1. */
static const uint8_t low_order[7][32] = {
	{0},
	{1},
	{0xe0, 0xeb, 0x7a, 0x7c, 0x3b, 0x41, 0xb8, 0xae, 0x16, 0x56, 0xe3,
	 0xfa, 0xf1, 0x9f, 0xc4, 0x6a, 0xda, 0x09, 0x8d, 0xeb, 0x9c, 0x32,
	 0xb1, 0xfd, 0x86, 0x62, 0x05, 0x16, 0x5f, 0x49, 0xb8, 0x00},
	{0x5f, 0x9c, 0x95, 0xbc, 0xa3, 0x50, 0x8c, 0x24, 0xb1, 0xd0, 0xb1,
	 0x55, 0x9c, 0x83, 0xef, 0x5b, 0x04, 0x44, 0x5c, 0xc4, 0x58, 0x1c,
	 0x8e, 0x86, 0xd8, 0x22, 0x4e, 0xdd, 0xd0, 0x9f, 0x11, 0x57},
	{0xec, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f},
	{0xed, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f},
	{0xee, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f},
};

static const char *vec_str(const cJSON *obj, const char *name)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, name);
	assert_true(cJSON_IsString(item));
	return item->valuestring;
}

/* Decodes a base64 member; caller frees. */
static uint8_t *vec_b64(const cJSON *obj, const char *name, size_t *len)
{
	const char *s = vec_str(obj, name);
	uint8_t *out;
	assert_int_equal(b64_decode_alloc(s, strlen(s), &out, len), 0);
	return out;
}

static void vec_key(const cJSON *v, const char *priv_name, const char *pub_name,
		    struct node_key *k)
{
	uint8_t pub[32];
	assert_int_equal(b64_decode_exact(vec_str(v, priv_name), k->priv, 32), 0);
	assert_int_equal(b64_decode_exact(vec_str(v, pub_name), pub, 32), 0);
	assert_int_equal(keys_public_from_private(k->priv, k->pub), 0);
	assert_memory_equal(k->pub, pub, 32);
}

static void vec_hex_equal(const cJSON *obj, const char *name, const uint8_t *want, size_t n)
{
	uint8_t buf[128];
	size_t len = 0;
	assert_true(n <= sizeof(buf));
	assert_int_equal(OPENSSL_hexstr2buf_ex(buf, sizeof(buf), &len, vec_str(obj, name), '\0'),
			 1);
	assert_int_equal(len, n);
	assert_memory_equal(buf, want, n);
}

static void check_vector(const char *path)
{
	size_t text_len, pt_len, wire_len, out_len, nonce_len = 0;
	char *text = tu_read_file(path, &text_len);
	cJSON *v = cJSON_Parse(text), *mid;
	struct node_key s, r, e;
	uint8_t nonce[SEAL_NONCE_LEN], dh_e[32], dh_s[32], dh[32], salt[96], key[32];
	uint8_t *pt, *wire, *out;

	assert_non_null(v);
	mid = cJSON_GetObjectItemCaseSensitive(v, "intermediate");
	assert_non_null(mid);
	assert_string_equal(vec_str(v, "info"), SEAL_INFO);
	vec_key(v, "sender_private", "sender_public", &s);
	vec_key(v, "recipient_private", "recipient_public", &r);
	vec_key(v, "ephemeral_private", "ephemeral_public", &e);
	assert_int_equal(OPENSSL_hexstr2buf_ex(nonce, sizeof(nonce), &nonce_len,
					       vec_str(v, "nonce"), '\0'),
			 1);
	assert_int_equal(nonce_len, SEAL_NONCE_LEN);
	pt = vec_b64(v, "plaintext", &pt_len);
	wire = vec_b64(v, "wire", &wire_len);
	assert_int_equal(wire_len, pt_len + SEAL_OVERHEAD);

	/* Intermediates, from both ends of each agreement. */
	assert_int_equal(seal_dh(e.priv, r.pub, dh_e), SEAL_OK);
	assert_int_equal(seal_dh(r.priv, e.pub, dh), SEAL_OK);
	assert_memory_equal(dh, dh_e, 32);
	vec_hex_equal(mid, "dh_e", dh_e, 32);
	assert_int_equal(seal_dh(s.priv, r.pub, dh_s), SEAL_OK);
	assert_int_equal(seal_dh(r.priv, s.pub, dh), SEAL_OK);
	assert_memory_equal(dh, dh_s, 32);
	vec_hex_equal(mid, "dh_s", dh_s, 32);
	memcpy(salt, e.pub, 32);
	memcpy(salt + 32, r.pub, 32);
	memcpy(salt + 64, s.pub, 32);
	vec_hex_equal(mid, "salt", salt, 96);
	vec_hex_equal(mid, "aad", e.pub, 32);
	assert_int_equal(seal_derive_key(dh_e, dh_s, e.pub, r.pub, s.pub, key), SEAL_OK);
	vec_hex_equal(mid, "key", key, 32);

	/* Exact wire bytes, and back. */
	assert_int_equal(seal_seal_with(&s, r.pub, e.priv, nonce, pt, pt_len, &out, &out_len),
			 SEAL_OK);
	assert_int_equal(out_len, wire_len);
	assert_memory_equal(out, wire, wire_len);
	free(out);
	assert_int_equal(seal_open(&r, s.pub, wire, wire_len, wire_len, &out, &out_len), SEAL_OK);
	assert_int_equal(out_len, pt_len);
	if (pt_len > 0)
		assert_memory_equal(out, pt, pt_len);
	assert_int_equal(out[out_len], '\0');
	OPENSSL_clear_free(out, out_len + 1);

	free(pt);
	free(wire);
	cJSON_Delete(v);
	free(text);
}

static void test_vectors(void **state)
{
	DIR *d = opendir(VECTOR_DIR);
	struct dirent *ent;
	int n = 0;
	(void)state;
	assert_non_null(d);
	while ((ent = readdir(d)) != NULL) {
		size_t len = strlen(ent->d_name);
		char path[1024];
		/* seal-*.json, and doc2-*.json: sealed format-2 documents */
		if ((strncmp(ent->d_name, "seal-", 5) != 0 && strncmp(ent->d_name, "doc2-", 5) != 0) ||
		    len < 5 || strcmp(ent->d_name + len - 5, ".json") != 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", VECTOR_DIR, ent->d_name);
		check_vector(path);
		n++;
	}
	closedir(d);
	assert_true(n >= 4);
}

/* Seals pt_len random bytes from a fresh sender to a fresh recipient. */
struct sealed {
	struct node_key s, r;
	uint8_t pt[256];
	size_t pt_len;
	uint8_t *wire;
	size_t wire_len;
};

static void make_sealed(struct sealed *m, size_t pt_len)
{
	assert_true(pt_len <= sizeof(m->pt));
	assert_int_equal(keys_generate(&m->s), 0);
	assert_int_equal(keys_generate(&m->r), 0);
	assert_int_equal(RAND_bytes(m->pt, sizeof(m->pt)), 1);
	m->pt_len = pt_len;
	assert_int_equal(seal_seal(&m->s, m->r.pub, m->pt, pt_len, &m->wire, &m->wire_len),
			 SEAL_OK);
	assert_int_equal(m->wire_len, pt_len + SEAL_OVERHEAD);
}

static void test_round_trip(void **state)
{
	static const size_t sizes[] = {0, 1, 15, 16, 17, 100, 4096, 70000};
	(void)state;
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		struct node_key s, r;
		uint8_t *pt = malloc(sizes[i] + 1), *w1, *w2, *out;
		size_t l1, l2, out_len;
		assert_non_null(pt);
		assert_int_equal(RAND_bytes(pt, (int)sizes[i] + 1), 1);
		assert_int_equal(keys_generate(&s), 0);
		assert_int_equal(keys_generate(&r), 0);
		assert_int_equal(seal_seal(&s, r.pub, pt, sizes[i], &w1, &l1), SEAL_OK);
		assert_int_equal(seal_seal(&s, r.pub, pt, sizes[i], &w2, &l2), SEAL_OK);
		assert_int_equal(l1, sizes[i] + SEAL_OVERHEAD);
		/* Fresh ephemeral key and nonce every time. */
		assert_memory_not_equal(w1, w2, SEAL_EPH_LEN);
		assert_memory_not_equal(w1 + SEAL_EPH_LEN, w2 + SEAL_EPH_LEN, SEAL_NONCE_LEN);
		assert_int_equal(seal_open(&r, s.pub, w1, l1, l1, &out, &out_len), SEAL_OK);
		assert_int_equal(out_len, sizes[i]);
		if (sizes[i] > 0)
			assert_memory_equal(out, pt, sizes[i]);
		assert_int_equal(out[out_len], '\0');
		free(out);
		free(w1);
		free(w2);
		free(pt);
	}
}

static void test_null_empty_plaintext(void **state)
{
	struct node_key s, r;
	uint8_t *w, *out;
	size_t l, out_len;
	(void)state;
	assert_int_equal(keys_generate(&s), 0);
	assert_int_equal(keys_generate(&r), 0);
	assert_int_equal(seal_seal(&s, r.pub, NULL, 0, &w, &l), SEAL_OK);
	assert_int_equal(l, SEAL_OVERHEAD);
	assert_int_equal(seal_open(&r, s.pub, w, l, l, &out, &out_len), SEAL_OK);
	assert_int_equal(out_len, 0);
	assert_int_equal(out[0], '\0');
	free(out);
	free(w);
}

static void test_every_bit_flip_refused(void **state)
{
	struct sealed m;
	size_t auth = 0, weak = 0, bad = 0;
	(void)state;
	make_sealed(&m, 100);
	for (size_t bit = 0; bit < m.wire_len * 8; bit++) {
		uint8_t *out = NULL;
		size_t out_len = 0;
		enum seal_status st;
		m.wire[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		st = seal_open(&m.r, m.s.pub, m.wire, m.wire_len, m.wire_len, &out, &out_len);
		m.wire[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		if (st == SEAL_ERR_AUTH) {
			auth++;
		} else if (st == SEAL_ERR_WEAK_KEY && bit / 8 < SEAL_EPH_LEN) {
			weak++;
		} else {
			if (bad++ < 5)
				print_error("bit %zu: status %d\n", bit, (int)st);
		}
		assert_null(out);
		assert_int_equal(out_len, 0);
	}
	assert_int_equal(bad, 0);
	assert_int_equal(auth + weak, 160 * 8);
	free(m.wire);
}

static void test_every_truncation_refused(void **state)
{
	struct sealed m;
	uint8_t *out, *longer;
	size_t out_len;
	(void)state;
	make_sealed(&m, 100);
	for (size_t len = 0; len < m.wire_len; len++) {
		enum seal_status want = len < SEAL_OVERHEAD ? SEAL_ERR_MALFORMED : SEAL_ERR_AUTH;
		/* A copy of exactly len bytes, so ASan sees any read past the end. */
		uint8_t *cut = malloc(len > 0 ? len : 1);
		assert_non_null(cut);
		memcpy(cut, m.wire, len);
		assert_int_equal(seal_open(&m.r, m.s.pub, cut, len, m.wire_len, &out, &out_len),
				 want);
		assert_null(out);
		free(cut);
	}
	/* One byte appended is refused too. */
	longer = malloc(m.wire_len + 1);
	assert_non_null(longer);
	memcpy(longer, m.wire, m.wire_len);
	longer[m.wire_len] = 0;
	assert_int_equal(seal_open(&m.r, m.s.pub, longer, m.wire_len + 1, m.wire_len + 1, &out,
				   &out_len),
			 SEAL_ERR_AUTH);
	free(longer);
	free(m.wire);
}

static void test_wrong_recipient_refused(void **state)
{
	struct sealed m;
	struct node_key other;
	uint8_t *out;
	size_t out_len;
	(void)state;
	make_sealed(&m, 100);
	assert_int_equal(keys_generate(&other), 0);
	assert_int_equal(seal_open(&other, m.s.pub, m.wire, m.wire_len, m.wire_len, &out, &out_len),
			 SEAL_ERR_AUTH);
	/* The right private key with the wrong public half fails as well (salt). */
	memcpy(&other, &m.r, sizeof(other));
	other.pub[0] ^= 1;
	assert_int_equal(seal_open(&other, m.s.pub, m.wire, m.wire_len, m.wire_len, &out, &out_len),
			 SEAL_ERR_AUTH);
	free(m.wire);
}

static void test_unpinned_sender_refused(void **state)
{
	struct sealed m;
	struct node_key pinned;
	uint8_t *out;
	size_t out_len;
	(void)state;
	make_sealed(&m, 100);
	assert_int_equal(keys_generate(&pinned), 0);
	assert_int_equal(seal_open(&m.r, pinned.pub, m.wire, m.wire_len, m.wire_len, &out,
				   &out_len),
			 SEAL_ERR_AUTH);
	assert_null(out);
	/* Sanity: with the real sender pinned it opens. */
	assert_int_equal(seal_open(&m.r, m.s.pub, m.wire, m.wire_len, m.wire_len, &out, &out_len),
			 SEAL_OK);
	assert_memory_equal(out, m.pt, m.pt_len);
	free(out);
	free(m.wire);
}

static void test_low_order_points_refused(void **state)
{
	struct sealed m;
	uint8_t *out, dh[32];
	size_t out_len;
	(void)state;
	make_sealed(&m, 100);
	for (size_t i = 0; i < sizeof(low_order) / sizeof(low_order[0]); i++) {
		uint8_t saved[32];
		/* As the ephemeral key on the wire. */
		memcpy(saved, m.wire, 32);
		memcpy(m.wire, low_order[i], 32);
		assert_int_equal(seal_open(&m.r, m.s.pub, m.wire, m.wire_len, m.wire_len, &out,
					   &out_len),
				 SEAL_ERR_WEAK_KEY);
		assert_null(out);
		memcpy(m.wire, saved, 32);
		/* As the pinned sender key. */
		assert_int_equal(seal_open(&m.r, low_order[i], m.wire, m.wire_len, m.wire_len, &out,
					   &out_len),
				 SEAL_ERR_WEAK_KEY);
		/* As the recipient key when sealing. */
		assert_int_equal(seal_seal(&m.s, low_order[i], m.pt, m.pt_len, &out, &out_len),
				 SEAL_ERR_WEAK_KEY);
		assert_null(out);
		assert_int_equal(out_len, 0);
		/* And the building block itself, with its output wiped. */
		memset(dh, 0xaa, sizeof(dh));
		assert_int_equal(seal_dh(m.r.priv, low_order[i], dh), SEAL_ERR_WEAK_KEY);
		assert_memory_equal(dh, low_order[0], 32);
	}
	free(m.wire);
}

static void test_max_wire(void **state)
{
	struct sealed m;
	uint8_t *out, small[SEAL_OVERHEAD] = {0};
	size_t out_len;
	(void)state;
	make_sealed(&m, 100);
	assert_int_equal(seal_open(&m.r, m.s.pub, m.wire, m.wire_len, m.wire_len, &out, &out_len),
			 SEAL_OK);
	free(out);
	assert_int_equal(seal_open(&m.r, m.s.pub, m.wire, m.wire_len, m.wire_len - 1, &out,
				   &out_len),
			 SEAL_ERR_TOO_LARGE);
	assert_null(out);
	/* The limit is checked before the message is read or anything allocated:
	 * a claimed length far beyond the buffer must not be touched (ASan). */
	assert_int_equal(seal_open(&m.r, m.s.pub, small, (size_t)1 << 40, (size_t)64 << 20, &out,
				   &out_len),
			 SEAL_ERR_TOO_LARGE);
	assert_null(out);
	free(m.wire);
}

static void test_strerror_distinct(void **state)
{
	static const enum seal_status all[] = {SEAL_OK,		  SEAL_ERR_MALFORMED,
					       SEAL_ERR_TOO_LARGE,  SEAL_ERR_WEAK_KEY,
					       SEAL_ERR_AUTH,	  SEAL_ERR_INTERNAL,
					       (enum seal_status)99};
	const size_t n = sizeof(all) / sizeof(all[0]);
	(void)state;
	for (size_t i = 0; i < n; i++) {
		const char *a = seal_strerror(all[i]);
		assert_non_null(a);
		assert_true(strlen(a) > 0);
		for (size_t j = i + 1; j < n; j++)
			assert_string_not_equal(a, seal_strerror(all[j]));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vectors),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_null_empty_plaintext),
		cmocka_unit_test(test_every_bit_flip_refused),
		cmocka_unit_test(test_every_truncation_refused),
		cmocka_unit_test(test_wrong_recipient_refused),
		cmocka_unit_test(test_unpinned_sender_refused),
		cmocka_unit_test(test_low_order_points_refused),
		cmocka_unit_test(test_max_wire),
		cmocka_unit_test(test_strerror_distinct),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
