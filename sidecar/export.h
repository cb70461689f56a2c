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
	uint8_t content_hash[32]; /* SHA-256 over shipped rows (per-node columns excluded) and the JWK */
	size_t nunknown;	  /* tables the sidecar does not know (left alone) */
	char unknown[16][64];
};

/* Fills p (format, schema_version, tables, jwk_json; the caller sets sender,
 * recipient, generation and issued_at) unless p is NULL, in which case only
 * the hash is computed. Returns 0, or -1 with err set. */
int export_snapshot(sqlite3 *db, const struct jwt_store_cfg *keys, struct payload *p,
		    struct export_result *res, char *err, size_t errlen);

/* The same content hash as export_snapshot without a payload, inside the
 * caller's read transaction (so it matches what the caller read there). */
int export_hash_in_txn(sqlite3 *db, const struct jwt_store_cfg *keys, struct export_result *res,
		       char *err, size_t errlen);

struct schema_table;
/* SHA-256 over one durable table's shipped rows, hashed the way the content
 * hash hashes them (so it changes exactly when the table's part of the
 * content hash does), inside the caller's read transaction. */
int export_table_digest(sqlite3 *db, const struct schema_table *t, uint8_t out[static 32],
			char *err, size_t errlen);

/* SELECT of a durable table's shipped rows: columns in schema order, node
 * local rows excluded, ordered by key. Returns malloc'd SQL (sqlite3_free). */
char *export_select_sql(const struct schema_table *t);

#endif
