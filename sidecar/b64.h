/* b64: strict standard base64 (RFC 4648 section 4, with padding) on top of
 * OpenSSL's EVP_EncodeBlock/EVP_DecodeBlock. Strict means: no whitespace,
 * canonical padding, and the exact decoded length; it does not do base64url. */
#ifndef PIS_B64_H
#define PIS_B64_H

#include <stddef.h>
#include <stdint.h>

/* Encoded length of n bytes, excluding the terminating NUL. */
size_t b64_encoded_len(size_t n);

/* Encodes n bytes into out, which must hold b64_encoded_len(n) + 1 bytes;
 * NUL-terminates. Returns the encoded length. */
size_t b64_encode(char *out, const uint8_t *in, size_t n);

/* Returns a malloc'd NUL-terminated encoding (caller frees), NULL on OOM. */
char *b64_encode_alloc(const uint8_t *in, size_t n);

/* Decodes len characters of in. On success stores a malloc'd buffer in *out
 * (caller frees; one extra NUL byte is allocated past the end) and its length
 * in *out_len and returns 0. Returns -1 on malformed or non-canonical input. */
int b64_decode_alloc(const char *in, size_t len, uint8_t **out, size_t *out_len);

/* Decodes into a fixed buffer: succeeds only when the input decodes to exactly
 * n bytes. Returns 0 or -1. */
int b64_decode_exact(const char *in, uint8_t *out, size_t n);

#endif
