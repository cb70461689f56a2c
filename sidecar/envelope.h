/* envelope: a payload document inside its seal, end to end: encode + seal on
 * the primary, open + decode + check sender and recipient on the secondary.
 * Generation (replay) checks need the sidecar's state and stay with callers. */
#ifndef PIS_ENVELOPE_H
#define PIS_ENVELOPE_H

#include <stddef.h>
#include <stdint.h>

#include "keys.h"
#include "payload.h"

enum envelope_error {
	ENVELOPE_OK = 0,
	ENVELOPE_DECRYPT,   /* the seal did not open: altered, or not from the pinned primary */
	ENVELOPE_INVALID,   /* opened, but the document is malformed or of another format */
	ENVELOPE_RECIPIENT, /* the document names another recipient */
	ENVELOPE_SENDER,    /* the document names a sender other than the pinned key */
	ENVELOPE_TOO_LARGE,
	ENVELOPE_INTERNAL,
};

/* The metrics reason of an error: decrypt, invalid, sender, ... */
const char *envelope_reason(enum envelope_error e);

/* Encodes p (sender, recipient, generation, issued_at set by the caller) and
 * seals it from me to p->recipient. On success *wire is malloc'd. A sealed
 * size above max_wire is refused, with *wire_len set to that size (so
 * *wire_len > max_wire tells this refusal from others, which leave it 0).
 * Returns 0, or -1 with err set. */
int envelope_seal(const struct payload *p, const struct node_key *me, size_t max_wire,
		  uint8_t **wire, size_t *wire_len, char *err, size_t errlen);

/* Opens a wire message from the pinned primary to me. On success *p holds
 * the document (caller frees with payload_free) and, when plaintext is not
 * NULL, *plaintext the document's exact bytes (free with
 * OPENSSL_clear_free(*plaintext, *pt_len + 1)). */
enum envelope_error envelope_open(const struct node_key *me, const uint8_t pinned[static 32],
				  const uint8_t *wire, size_t wire_len, size_t max_wire,
				  struct payload *p, uint8_t **plaintext, size_t *pt_len,
				  char *err, size_t errlen);
/* The same with another expected sender than the pinned primary (`open
 * --from`); sender_label names it in messages ("key given with --from"). */
enum envelope_error envelope_open_from(const struct node_key *me, const uint8_t pinned[static 32],
				       const char *sender_label, const uint8_t *wire,
				       size_t wire_len, size_t max_wire, struct payload *p,
				       uint8_t **plaintext, size_t *plaintext_len, char *err,
				       size_t errlen);

#endif
