/* jwt_store: where a node's Pocket ID keeps its JWT signing key and how to
 * read it as plain JWK JSON or replace it: the kv row jwt_private_key.json
 * (v2.x; v1.x with KEYS_STORAGE=database), or for v1.x with the default
 * KEYS_STORAGE=file the file KEYS_PATH/jwt_private_key.json(.enc). Wrapping
 * uses this node's own KEK (jwk.c), so every node re-encrypts for itself. */
#ifndef PIS_JWT_STORE_H
#define PIS_JWT_STORE_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct jwt_store_cfg {
	const uint8_t *encryption_key; /* may be NULL */
	size_t encryption_key_len;
	const char *keys_storage;	/* KEYS_STORAGE or NULL */
	const char *keys_path;		/* KEYS_PATH or NULL */
};

/* Reads the key as JWK JSON into *json (malloc'd; free with
 * OPENSSL_clear_free(json, len + 1)), or sets *json = NULL when the node has
 * no key yet. Returns 0 or -1 with err set. Call inside the export's read
 * transaction. */
int jwt_store_read(sqlite3 *db, const struct jwt_store_cfg *cfg, char **json, size_t *len,
		   char *err, size_t errlen);

/* Where this node keeps its key. */
enum jwt_location { JWT_IN_KV, JWT_IN_FILE };
enum jwt_location jwt_store_location(sqlite3 *db, const struct jwt_store_cfg *cfg);

/* Replaces the kv row with json wrapped under this node's KEK, unless the
 * stored key already equals json; sets *changed. Call inside the apply's
 * write transaction. Returns 0 or -1 with err set. */
int jwt_store_write_kv(sqlite3 *db, const struct jwt_store_cfg *cfg, const char *json,
		       bool dry_run, bool *changed, char *err, size_t errlen);
/* The same for the v1.x key file (temp file + rename, mode 0600). Call after
 * the database transaction committed. */
int jwt_store_write_file(sqlite3 *db, const struct jwt_store_cfg *cfg, const char *json,
			 bool dry_run, bool *changed, char *err, size_t errlen);

#endif
