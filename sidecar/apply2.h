/* apply2: a secondary applies a format-2 document (proto/SPEC.md sections
 * 5A and 5B) in one transaction that commits only when the rows hash of
 * the result equals the document's. Full snapshots are applied table by
 * table from the opened plaintext (apply_full.c: memory stays near one
 * record plus a digest per local row); deltas touch only the rows they name
 * (apply_delta.c, on apply.c's plan and writers). Both keep every rule of
 * format 1: per-node columns and rows, in-place updates, UNIQUE swaps,
 * foreign-key order, the mass-delete valve, the JWT key, restart hooks. */
#ifndef PIS_APPLY2_H
#define PIS_APPLY2_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "apply.h"
#include "doc2.h"
#include "rowhash.h"

/* Besides apply_status: the delta's base is not what this node holds, or
 * the result's rows hash is not the document's. Either way nothing was
 * changed and the next poll asks for a full snapshot. */
#define APPLY_ERR_BASE ((enum apply_status)100)
#define APPLY_ERR_VERIFY ((enum apply_status)101)

struct apply2_in {
	const uint8_t *pt; /* the opened plaintext, header included */
	size_t pt_len;
	const struct doc2_header *h; /* already read and checked by the caller */
	/* delta: the LtHash sum of this node's counted rows as it verified them
	 * for its last applied generation, and the CIMD clients it keeps (left
	 * out of that sum) */
	const struct lthash *verified_sum; /* NULL: none, a delta is refused */
	const struct rowhash_skip *kept;
};

struct apply2_out {
	uint8_t rows_hash[32];	 /* verified: equals h->rows_hash when APPLY_OK */
	struct lthash sum;	 /* the sum rows_hash is the digest of */
	struct rowhash_skip kept; /* full: the CIMD clients kept (the caller frees) */
	struct payload app_config; /* the "@app_configuration" record, when the document has one */
	bool has_app_config;
};

/* Both: db from pidb_open; o as for apply_payload. On failure nothing was
 * changed and err holds one line. The caller frees out with apply2_out_free. */
enum apply_status apply_full2(sqlite3 *db, const struct apply2_in *in, const struct apply_opts *o,
			      struct apply_result *r, struct apply2_out *out, char *err,
			      size_t errlen);
enum apply_status apply_delta2(sqlite3 *db, const struct apply2_in *in, const struct apply_opts *o,
			       struct apply_result *r, struct apply2_out *out, char *err,
			       size_t errlen);
void apply2_out_free(struct apply2_out *out);

/* "base", "verify", or apply_status_reason's name. */
const char *apply2_status_reason(enum apply_status st);

#endif
