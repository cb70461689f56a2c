/* enroll: adding a peer on the primary, shared by `peer add` and the admin
 * API: checks the name and the peer's base64 public key, issues a token,
 * stores only its hash and builds the one-time bootstrap string. It does not
 * print or send anything; the caller shows the string once and wipes it. */
#ifndef PIS_ENROLL_H
#define PIS_ENROLL_H

#include <stddef.h>
#include <stdint.h>

#include "state.h"
#include "token.h"

enum enroll_result {
	ENROLL_OK = 0,
	ENROLL_INVALID,	 /* bad name or key, or the primary's own key */
	ENROLL_CONFLICT, /* name or key already enrolled */
	ENROLL_ERROR,	 /* state.db or randomness failed */
};

/* Enrols name with pubkey_b64 (44 characters of standard base64). On
 * ENROLL_OK, bootstrap holds "pisync1.<own_pub>.<token>" (the caller wipes it
 * with OPENSSL_cleanse); otherwise err holds a one-line reason. */
enum enroll_result enroll_peer(struct state *st, const uint8_t own_pub[static 32],
			       const char *name, const char *pubkey_b64,
			       char bootstrap[static TOKEN_BOOTSTRAP_LEN + 1], char *err,
			       size_t errlen);

/* Parses a peer's public key: exactly 44 characters of base64 holding 32
 * bytes, not all zero. Returns 0 or -1. */
int enroll_parse_pubkey(const char *b64, uint8_t out[static 32]);

#endif
