/* refusal: how a primary names why it refused GET /sync/export (the
 * X-Pocket-Id-Sync-Refusal header, proto/SPEC.md section 6), shared by the
 * primary that sends it and the secondary that counts it. The names are
 * failures_total reasons. It sends and parses nothing itself. */
#ifndef PIS_REFUSAL_H
#define PIS_REFUSAL_H

#define REFUSAL_HEADER "X-Pocket-Id-Sync-Refusal"

#define REFUSAL_AUTH "auth"			  /* 401: token missing, unknown or revoked */
#define REFUSAL_INVALID "invalid"		  /* 400: a malformed request */
#define REFUSAL_PAYLOAD_TOO_LARGE "payload_too_large" /* over the primary's SYNC_MAX_PAYLOAD_SIZE */
#define REFUSAL_EXPORT_FAILED "export_failed"	  /* snapshot, seal or state.db failed */
#define REFUSAL_NOT_PRIMARY "not_primary"	  /* 404: this node is not a primary */
#define REFUSAL_UNAVAILABLE "unavailable"	  /* shutting down, or no export handler */

/* 1 when name is one of the names above, else 0 (an older or newer primary,
 * or a proxy in between, may send something else or nothing). */
int refusal_known(const char *name);

#endif
