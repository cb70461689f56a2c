/* pidfix: Pocket ID fixture databases for the tests: a schema from
 * tests/fixtures/schema, a node identity (instance id + wrapped JWT key), and
 * version-agnostic row seeding where NOT NULL columns the test does not name
 * get a neutral value. Values are given in the payload cell syntax
 * ("t:alice", "i:1", "b:AAE=", NULL for SQL NULL). */
#ifndef PIS_PIDFIX_H
#define PIS_PIDFIX_H

#include <sqlite3.h>
#include <stddef.h>

extern const char *const fx_versions[]; /* "v1.9", "v2.0", "v2.10", "v2.11", "v2.14", NULL */
#define FX_JWK_A "{\"kty\":\"EC\",\"crv\":\"P-256\",\"kid\":\"key-a\",\"alg\":\"ES256\",\"use\":\"sig\",\"x\":\"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU\",\"y\":\"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0\",\"d\":\"jpsQnnGQmL-YBIffH1136cLSpd6q6XrrkL1LpaGctLU\"}"
#define FX_JWK_B "{\"kty\":\"EC\",\"crv\":\"P-256\",\"kid\":\"key-b\",\"alg\":\"ES256\",\"use\":\"sig\",\"x\":\"gI0GAILBdu7T53akrFmMyGcsF3n5dO7MmwNBHKW5SV0\",\"y\":\"SLW_xSffzlPWrHEVI30DHM_4egVwt3NQqeUD7nMFpps\",\"d\":\"0_NxaRPUMQoAJt50Gz8YiTr8gRTwyEaCumd-MToTmIo\"}"

/* Creates dir/name as a fresh Pocket ID database of the given release with
 * its own instance id and, if jwk is not NULL, a JWT key row wrapped for
 * encryption_key. Returns an open handle (foreign keys on). */
sqlite3 *fx_create(const char *dir, const char *name, const char *version, const char *instance_id,
		   const char *encryption_key, const char *jwk);
/* Inserts one row: pairs of column name and cell string, NULL-terminated
 * after the last pair (a value may be NULL for SQL NULL). Missing NOT NULL
 * columns without a default get 0, '' or x''. */
void fx_row(sqlite3 *db, const char *table, ...);
/* Runs SQL that must succeed. */
void fx_exec(sqlite3 *db, const char *sql);
/* The number of rows matching a query's count(*). */
long fx_count(sqlite3 *db, const char *sql);
/* Text dump of every shipped row of every durable table (schema order, key
 * order, per-node columns and a CIMD client's metadata-document columns left
 * out), for comparing two nodes. malloc'd. */
char *fx_dump_durable(sqlite3 *db);
/* The standard demo content: users alice, bob, carol; groups; passkeys;
 * claims; an OIDC client with an allowed group; an API key. */
void fx_seed(sqlite3 *db);
/* Local runtime rows (audit logs per user, a webauthn session). */
void fx_seed_local(sqlite3 *db, const char *node);
/* The JWT key of db decrypted with its own KEK (malloc'd) or NULL. */
char *fx_jwk(sqlite3 *db, const char *encryption_key);
/* The node's instance id (malloc'd). */
char *fx_instance_id(sqlite3 *db);

#endif
