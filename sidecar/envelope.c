/* envelope: glue between payload.c and seal.c with the identity checks of
 * proto/SPEC.md; plaintext buffers are wiped because they carry secrets. */
#include "envelope.h"

#include "seal.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *envelope_reason(enum envelope_error e)
{
	switch (e) {
	case ENVELOPE_OK: return "ok";
	case ENVELOPE_DECRYPT: return "decrypt";
	case ENVELOPE_INVALID: return "invalid";
	case ENVELOPE_RECIPIENT: return "invalid";
	case ENVELOPE_SENDER: return "sender";
	case ENVELOPE_TOO_LARGE: return "invalid";
	default: return "internal";
	}
}

int envelope_seal(const struct payload *p, const struct node_key *me, size_t max_wire,
		  uint8_t **wire, size_t *wire_len, char *err, size_t errlen)
{
	char *json;
	size_t len;
	enum seal_status st;

	*wire = NULL;
	*wire_len = 0;
	if (payload_encode(p, &json, &len) == -1) {
		snprintf(err, errlen, "out of memory while encoding the payload");
		return -1;
	}
	if (len + SEAL_OVERHEAD > max_wire) {
		snprintf(err, errlen, "the payload would be %zu bytes, more than "
				      "SYNC_MAX_PAYLOAD_SIZE (%zu); raise it on both nodes",
			 len + SEAL_OVERHEAD, max_wire);
		*wire_len = len + SEAL_OVERHEAD;
		OPENSSL_clear_free(json, len);
		return -1;
	}
	st = seal_seal(me, p->recipient, (const uint8_t *)json, len, wire, wire_len);
	OPENSSL_clear_free(json, len);
	if (st != SEAL_OK) {
		*wire_len = 0;
		snprintf(err, errlen, "cannot seal: %s", seal_strerror(st));
		return -1;
	}
	return 0;
}

enum envelope_error envelope_open(const struct node_key *me, const uint8_t pinned[static 32],
				  const uint8_t *wire, size_t wire_len, size_t max_wire,
				  struct payload *p, uint8_t **plaintext, size_t *plaintext_len,
				  char *err, size_t errlen)
{
	return envelope_open_from(me, pinned, "pinned primary", wire, wire_len, max_wire, p,
				  plaintext, plaintext_len, err, errlen);
}

enum envelope_error envelope_open_from(const struct node_key *me, const uint8_t pinned[static 32],
				       const char *sender_label, const uint8_t *wire,
				       size_t wire_len, size_t max_wire, struct payload *p,
				       uint8_t **plaintext, size_t *plaintext_len, char *err,
				       size_t errlen)
{
	char fp_me[17], fp_pin[17], detail[300];
	uint8_t *pt;
	size_t pt_len;
	enum seal_status st;
	int rc;

	memset(p, 0, sizeof(*p));
	keys_fingerprint(me->pub, fp_me);
	keys_fingerprint(pinned, fp_pin);
	st = seal_open(me, pinned, wire, wire_len, max_wire, &pt, &pt_len);
	if (st == SEAL_ERR_TOO_LARGE) {
		snprintf(err, errlen, "payload of %zu bytes exceeds SYNC_MAX_PAYLOAD_SIZE (%zu)",
			 wire_len, max_wire);
		return ENVELOPE_TOO_LARGE;
	}
	if (st == SEAL_ERR_AUTH) {
		snprintf(err, errlen, "payload refused: sealed payload failed authentication (altered, "
				      "not for this node, or not from the %s) (this node %s, %s %s)",
			 sender_label, fp_me, sender_label, fp_pin);
		return ENVELOPE_DECRYPT;
	}
	if (st != SEAL_OK) {
		snprintf(err, errlen, "payload refused: %s (this node %s, %s %s)", seal_strerror(st),
			 fp_me, sender_label, fp_pin);
		return st == SEAL_ERR_INTERNAL ? ENVELOPE_INTERNAL : ENVELOPE_DECRYPT;
	}
	rc = payload_decode(pt, pt_len, p, detail, sizeof(detail));
	if (rc == 0 && plaintext != NULL) {
		*plaintext = pt;
		*plaintext_len = pt_len;
		pt = NULL;
	}
	if (pt != NULL)
		OPENSSL_clear_free(pt, pt_len + 1);
	if (rc == -1) {
		snprintf(err, errlen, "payload refused: %s", detail);
		return ENVELOPE_INVALID;
	}
	if (CRYPTO_memcmp(p->recipient, me->pub, 32) != 0) {
		snprintf(err, errlen, "payload refused: payload is for another node (this node is %s)", fp_me);
		payload_free(p);
		if (plaintext != NULL)
			OPENSSL_clear_free(*plaintext, *plaintext_len + 1);
		return ENVELOPE_RECIPIENT;
	}
	if (CRYPTO_memcmp(p->sender, pinned, 32) != 0) {
		snprintf(err, errlen, "payload refused: its sender is not the %s %s", sender_label,
			 fp_pin);
		payload_free(p);
		if (plaintext != NULL)
			OPENSSL_clear_free(*plaintext, *plaintext_len + 1);
		return ENVELOPE_SENDER;
	}
	return ENVELOPE_OK;
}
