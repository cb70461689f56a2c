/* export2: the primary's format-2 documents (proto/SPEC.md 5A), written
 * record by record into a sink (the streamed seal) from the caller's open
 * read transaction: a full snapshot table by table in records of at most
 * DOC2_ROWS_PER_RECORD rows, or a delta of the rows a ledger plan names,
 * each read by key. It never writes the database; the header's numbers
 * (generation, rows hash) come from the caller, who computed them in the
 * same transaction. */
#ifndef PIS_EXPORT2_H
#define PIS_EXPORT2_H

#include <sqlite3.h>
#include <stddef.h>

#include "appconfig.h"
#include "doc2.h"
#include "jwt_store.h"
#include "ledger.h"
#include "schema.h"

/* Receives each record (wiped and freed by the caller afterwards). Returns
 * 0, or -1 to stop (the export then fails with the sink's message). */
struct doc2_sink {
	int (*put)(void *arg, const char *rec, size_t len, char *err, size_t errlen);
	void *arg;
};

/* h: kind, sender, recipient, generation, rows_hash, issued_at, and for a
 * delta base_generation and base_rows_hash, set by the caller; schema
 * version, JWK and the record count are filled in here. ac, when not NULL,
 * travels as "@app_configuration" (in a delta only when d->appcfg_changed).
 * Returns 0, or -1 with err. */
int export2_full(sqlite3 *db, const struct schema *s, const struct jwt_store_cfg *keys,
		 const struct appconfig *ac, struct doc2_header *h, const struct doc2_sink *out,
		 char *err, size_t errlen);
int export2_delta(sqlite3 *db, const struct schema *s, const struct jwt_store_cfg *keys,
		  const struct appconfig *ac, const struct ledger_delta *d, struct doc2_header *h,
		  const struct doc2_sink *out, char *err, size_t errlen);

#endif
