/* vecdb: the table content of proto/vectors/rows-hash.json as an SQLite
 * database, for the tests that check the rows-hash and format-2 vectors
 * against the C code. It builds; it computes no hash. */
#ifndef PIS_VECDB_H
#define PIS_VECDB_H

#include <cjson/cJSON.h>
#include <sqlite3.h>

/* An in-memory database with a schema_migrations row (version
 * schema_version of the vector) and each of the vector's tables: its
 * columns untyped (no affinity, so every cell keeps its storage class), its
 * key as primary key, its rows' cells. Fails the running test on error. */
sqlite3 *vecdb_open(const cJSON *vector);
/* The parsed vector file at path (cJSON_Delete it). */
cJSON *vecdb_load(const char *path);

#endif
