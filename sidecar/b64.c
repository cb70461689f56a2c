/* b64: wraps OpenSSL's base64 block functions with the strictness the
 * protocol needs (length and padding checks, re-encode canonical check).
 * It does not implement any of the base64 alphabet itself. */
#include "b64.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

size_t b64_encoded_len(size_t n) { return 4 * ((n + 2) / 3); }

size_t b64_encode(char *out, const uint8_t *in, size_t n)
{
	size_t total = 0;

	/* EVP_EncodeBlock takes an int length: feed it in 3-byte aligned chunks. */
	while (n > 0) {
		size_t chunk = n > 768u * 1024u * 1024u ? 768u * 1024u * 1024u : n;
		int w = EVP_EncodeBlock((unsigned char *)out + total, in, (int)chunk);
		total += (size_t)w;
		in += chunk;
		n -= chunk;
	}
	out[total] = '\0';
	return total;
}

char *b64_encode_alloc(const uint8_t *in, size_t n)
{
	char *out = malloc(b64_encoded_len(n) + 1);

	if (out != NULL)
		b64_encode(out, in, n);
	return out;
}

int b64_decode_alloc(const char *in, size_t len, uint8_t **out, size_t *out_len)
{
	size_t pad = 0, n;
	uint8_t *buf;
	char *check;
	int w;

	*out = NULL;
	*out_len = 0;
	if (len % 4 != 0 || len > (size_t)0x7ffffff0)
		return -1;
	if (len == 0) {
		*out = calloc(1, 1);
		return *out == NULL ? -1 : 0;
	}
	if (in[len - 1] == '=')
		pad++;
	if (in[len - 2] == '=')
		pad++;
	n = len / 4 * 3;
	buf = malloc(n + 1);
	if (buf == NULL)
		return -1;
	w = EVP_DecodeBlock(buf, (const unsigned char *)in, (int)len);
	if (w < 0 || (size_t)w != n) {
		free(buf);
		return -1;
	}
	n -= pad;
	buf[n] = '\0';
	/* Reject non-canonical forms (stray '=' inside, non-zero padding bits,
	 * whitespace that OpenSSL tolerates) by re-encoding. */
	check = b64_encode_alloc(buf, n);
	if (check == NULL || strlen(check) != len || CRYPTO_memcmp(check, in, len) != 0) {
		if (check != NULL)
			OPENSSL_clear_free(check, strlen(check));
		OPENSSL_clear_free(buf, n + 1);
		return -1;
	}
	OPENSSL_clear_free(check, len);
	*out = buf;
	*out_len = n;
	return 0;
}

int b64_decode_exact(const char *in, uint8_t *out, size_t n)
{
	uint8_t *buf;
	size_t len;

	if (in == NULL || b64_decode_alloc(in, strlen(in), &buf, &len) == -1)
		return -1;
	if (len != n) {
		OPENSSL_clear_free(buf, len + 1);
		return -1;
	}
	memcpy(out, buf, n);
	OPENSSL_clear_free(buf, len + 1);
	return 0;
}
