/* rowhash: the rows hash of proto/SPEC.md section 5B, the one number both
 * sides of a format-2 sync compute over the durable rows: a SHA-256 digest
 * per shipped row (its shared, non-bookkeeping columns in name order) and
 * an LtHash-style sum of those digests' 2048-byte expansions, so adding,
 * removing or changing one row costs one row, in any order. It reads rows
 * it is given or the caller's read transaction; it never writes. */
#ifndef PIS_ROWHASH_H
#define PIS_ROWHASH_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "payload.h"
#include "schema.h"

#define LTHASH_LANES 1024

/* A multiset of row digests: 1024 lanes added modulo 2^16. */
struct lthash {
	uint16_t lane[LTHASH_LANES];
};

/* Reusable contexts, so a scan allocates once. */
struct rowhash_ctx;
struct rowhash_ctx *rowhash_ctx_new(void);
void rowhash_ctx_free(struct rowhash_ctx *c);

/* Whether t's rows count in the rows hash (every shipped durable table but
 * app_config_variables, which travels whole; see the specification). */
bool rowhash_counts_table(const struct schema_table *t);

/* Whether column c counts for a row (shared, not bookkeeping; cimd_row: the
 * row is a CIMD client, whose metadata-document columns do not count). */
bool rowhash_column_counts(const struct schema_table *t, size_t c, bool cimd_row);

/* The digest of one row given as t->ncols values in schema order. */
int rowhash_row(struct rowhash_ctx *c, const struct schema_table *t, const struct pl_value *row,
		uint8_t d[static 32]);
/* The same for the current row of st, a statement whose columns are t's in
 * schema order (export_select_sql). */
int rowhash_stmt(struct rowhash_ctx *c, const struct schema_table *t, sqlite3_stmt *st,
		 uint8_t d[static 32]);

void lthash_add(struct rowhash_ctx *c, struct lthash *h, const uint8_t d[static 32]);
void lthash_sub(struct rowhash_ctx *c, struct lthash *h, const uint8_t d[static 32]);
/* h += x (whole multisets). */
void lthash_merge(struct lthash *h, const struct lthash *x);
/* The 32-byte rows hash of a sum. */
void lthash_digest(const struct lthash *h, uint8_t out[static 32]);

/* The primary's content hash, which decides when the generation moves (not
 * part of the protocol): SHA-256 over a label, s->version, and for each
 * table of s in order its name and the digest of sums[i] (NULL: no rows),
 * then the JWT key's digest. Every shipped table counts, app_config_variables
 * too. */
void rowhash_content(const struct schema *s, const struct lthash *const *sums,
		     const uint8_t jwk_digest[static 32], uint8_t out[static 32]);
/* SHA-256 of the JWK's bytes (NULL: of nothing). */
void rowhash_jwk_digest(const char *jwk, size_t len, uint8_t out[static 32]);

/* Rows to leave out of a scan: the CIMD clients only this node has, by key
 * (oidc_clients.id), and their rows in the oidc_clients_allowed_* tables. */
struct rowhash_skip {
	size_t n;
	struct pl_value *ids; /* owned */
};
void rowhash_skip_free(struct rowhash_skip *s);

/* Adds the counted rows of table t (export_select_sql, node-local rows
 * excluded) to *h, inside the caller's read transaction. */
int rowhash_scan_table(struct rowhash_ctx *c, sqlite3 *db, const struct schema_table *t,
		       const struct rowhash_skip *skip, struct lthash *h, char *err, size_t errlen);
/* The sum of every counted table of s (rowhash_scan without the digest). */
int rowhash_scan_sum(sqlite3 *db, const struct schema *s, const struct rowhash_skip *skip,
		     struct lthash *sum, char *err, size_t errlen);
/* The rows hash of every counted table of s. */
int rowhash_scan(sqlite3 *db, const struct schema *s, const struct rowhash_skip *skip,
		 uint8_t out[static 32], char *err, size_t errlen);

#endif
