/* seal: the sealing layer of the sync protocol (proto/SPEC.md section 3):
 * authenticated ECIES from the primary's static X25519 key to one
 * recipient's static X25519 key. Wire = ephemeral public key (32) || nonce
 * (12) || AES-256-GCM ciphertext || tag (16). It knows nothing about the
 * payload document inside. */
#ifndef PIS_SEAL_H
#define PIS_SEAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "keys.h"

#define SEAL_EPH_LEN 32
#define SEAL_NONCE_LEN 12
#define SEAL_TAG_LEN 16
#define SEAL_OVERHEAD (SEAL_EPH_LEN + SEAL_NONCE_LEN + SEAL_TAG_LEN)
#define SEAL_INFO "pocket-id-sync-v1"

enum seal_status {
	SEAL_OK = 0,
	SEAL_ERR_MALFORMED, /* shorter than SEAL_OVERHEAD */
	SEAL_ERR_TOO_LARGE, /* longer than the caller's limit */
	SEAL_ERR_WEAK_KEY,  /* an X25519 result was all zero */
	SEAL_ERR_AUTH,	    /* tag mismatch: altered, wrong recipient or wrong sender */
	SEAL_ERR_INTERNAL,  /* OpenSSL or allocation failure */
};

/* A one-line, human description of a status. */
const char *seal_strerror(enum seal_status st);

/* Seals pt for recipient_pub with a fresh ephemeral key and random nonce.
 * On success *out is a malloc'd wire message of pt_len + SEAL_OVERHEAD
 * bytes (caller frees). */
enum seal_status seal_seal(const struct node_key *sender, const uint8_t recipient_pub[static 32],
			   const uint8_t *pt, size_t pt_len, uint8_t **out, size_t *out_len);

/* The same with a given ephemeral private key and nonce: for test vectors
 * only; production code never reuses either. */
enum seal_status seal_seal_with(const struct node_key *sender,
				const uint8_t recipient_pub[static 32],
				const uint8_t eph_priv[static 32],
				const uint8_t nonce[static SEAL_NONCE_LEN], const uint8_t *pt,
				size_t pt_len, uint8_t **out, size_t *out_len);

/* Opens a wire message sealed for recipient by the holder of sender_pub (the
 * pinned primary key). Wire messages longer than max_wire are refused before
 * any allocation. On success *pt is a malloc'd buffer with one extra NUL
 * byte past pt_len (caller frees with OPENSSL_clear_free or free). */
enum seal_status seal_open(const struct node_key *recipient, const uint8_t sender_pub[static 32],
			   const uint8_t *wire, size_t wire_len, size_t max_wire, uint8_t **pt,
			   size_t *pt_len);

/* seal_open without a second buffer: decrypts wire in place. On success *pt
 * points into wire (at offset 44, pt_len bytes, no terminator); on a tag
 * failure that region is wiped. wire is the caller's either way. */
enum seal_status seal_open_inplace(const struct node_key *recipient,
				   const uint8_t sender_pub[static 32], uint8_t *wire,
				   size_t wire_len, size_t max_wire, uint8_t **pt, size_t *pt_len);

/* Sealing a plaintext given in pieces (a streamed snapshot): the same wire
 * bytes as seal_seal of the concatenation, without ever holding it. put
 * refuses (SEAL_ERR_TOO_LARGE) a piece that would take the message past
 * max_wire; the stream must then be aborted. end hands over the malloc'd
 * wire and frees the stream; abort frees it. Plaintext is never kept. */
struct seal_stream;
enum seal_status seal_stream_begin(const struct node_key *sender,
				   const uint8_t recipient_pub[static 32], size_t max_wire,
				   struct seal_stream **out);
enum seal_status seal_stream_put(struct seal_stream *s, const uint8_t *pt, size_t n);
/* The wire size so far, tag included (max_wire after a refused put). */
size_t seal_stream_size(const struct seal_stream *s);
enum seal_status seal_stream_end(struct seal_stream *s, uint8_t **wire, size_t *wire_len);
void seal_stream_abort(struct seal_stream *s);

/* The two steps seal and open are built from, exposed for the test vectors
 * and the interop tool. seal_dh: one X25519 agreement into out;
 * SEAL_ERR_WEAK_KEY when the result is all zero (pub is a low-order point).
 * out is wiped on any failure. */
enum seal_status seal_dh(const uint8_t priv[static 32], const uint8_t pub[static 32],
			 uint8_t out[static 32]);
/* key = HKDF-SHA256(salt = eph_pub || recipient_pub || sender_pub,
 * IKM = dh_e || dh_s, info = SEAL_INFO, L = 32). */
enum seal_status seal_derive_key(const uint8_t dh_e[static 32], const uint8_t dh_s[static 32],
				 const uint8_t eph_pub[static 32],
				 const uint8_t recipient_pub[static 32],
				 const uint8_t sender_pub[static 32], uint8_t key[static 32]);

#endif
