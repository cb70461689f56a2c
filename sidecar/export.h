/* export: one consistent snapshot of the primary's durable data as a
 * payload (and its content hash, which drives the generation number). It
 * reads inside a single read transaction; it never writes and never seals. */
#ifndef PIS_EXPORT_H
#define PIS_EXPORT_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "jwt_store.h"
#include "payload.h"

struct export_result {
	uint8_t content_hash[32]; /* rowhash_content: what moves the generation */
	uint8_t rows_hash[32];	  /* proto/SPEC.md 5B over the rows read */
	uint8_t jwk_digest[32];	  /* SHA-256 of the JWK read (of nothing when none) */
	size_t nunknown;	  /* tables the sidecar does not know (left alone) */
	char unknown[16][64];
};

/* Fills p (format, schema_version, tables, jwk_json; the caller sets sender,
 * recipient, generation and issued_at) unless p is NULL, in which case only
 * the hash is computed. Returns 0, or -1 with err set. */
int export_snapshot(sqlite3 *db, const struct jwt_store_cfg *keys, struct payload *p,
		    struct export_result *res, char *err, size_t errlen);

/* The same inside the caller's read transaction. */
int export_in_txn(sqlite3 *db, const struct jwt_store_cfg *keys, struct payload *p,
		  struct export_result *res, char *err, size_t errlen);

struct schema_table;
/* SELECT of a durable table's shipped rows: columns in schema order, node
 * local rows excluded, ordered by key. Returns malloc'd SQL (sqlite3_free). */
char *export_select_sql(const struct schema_table *t);
/* The same in the table's storage order (a sequential scan: ordering by a
 * TEXT key walks its index and costs 15x at 100,000 users), for readers to
 * whom order means nothing. */
char *export_scan_sql(const struct schema_table *t);
/* How many shipped rows t has (node-local rows excluded). Returns 0 or -1. */
int export_count_rows(sqlite3 *db, const struct schema_table *t, uint64_t *n);
/* The same for the one row whose key columns equal ?1..?nkey (in key order). */
char *export_select_by_key_sql(const struct schema_table *t);

#endif
