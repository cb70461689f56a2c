/* apply_rules: the checks and decisions both appliers (apply.c for format
 * 1, apply_full.c for format-2 snapshots) make the same way, with the same
 * messages: schema version, which tables and columns a payload may carry,
 * the mass-delete valve, CIMD and cached rows, restart reasons, the JWT key
 * step and the restart hook. It plans and writes no rows itself. */
#ifndef PIS_APPLY_RULES_H
#define PIS_APPLY_RULES_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "apply.h"
#include "payload.h"
#include "schema.h"

/* Monotonic milliseconds (lock_ms). */
double apply_now_ms(void);

/* An in-memory hash of one cell (type and value), for key maps: start from
 * APPLY_HASH_SEED and feed each key cell. Equality decides, not this. */
#define APPLY_HASH_SEED 0xcbf29ce484222325ull
uint64_t apply_hash_value(uint64_t h, const struct pl_value *v);

/* Each returns 0, or -1 with one line in err. */
/* The payload's schema version must be this node's. */
int apply_check_version(const struct schema *s, const char *primary, char *err, size_t errlen);
/* A payload table must be durable and present here; "@" names (values from
 * Pocket ID's API, not SQLite tables) pass. */
int apply_check_table(const struct schema *s, const char *name, char *err, size_t errlen);
/* The payload table's columns must be exactly t's: map[c] = the payload
 * column of t's column c. */
int apply_map_columns(const struct schema_table *t, const struct pl_table *pt, size_t *map,
		      char *err, size_t errlen);
/* The mass-delete valve: deleting ndel of the nlocal rows of users or
 * webauthn_credentials beyond SYNC_MAX_DELETE_PERCENT is refused unless
 * o->force. */
int apply_valve(const char *table, size_t ndel, size_t nlocal, const struct apply_opts *o,
		char *err, size_t errlen);

/* client_type 'cimd' (schema_table.cimd_type_col). */
bool apply_is_cimd(const struct pl_value *v);
/* A TEXT or BLOB value starting with prefix (schema_table.cached_prefix). */
bool apply_has_prefix(const struct pl_value *v, const char *prefix);
/* Why changing nchanges rows of t (touches_cached: some of them are rows
 * Pocket ID caches, t->cached_col) needs a Pocket ID restart, or NULL.
 * Application configuration is not read from the database when Pocket ID
 * runs with UI_CONFIG_DISABLED=true (o->app_config_from_env). */
const char *apply_restart_reason(const struct schema_table *t, const struct apply_opts *o,
				 size_t nchanges, bool touches_cached);
/* r->unknown from s. */
void apply_note_unknown(struct apply_result *r, const struct schema *s);

/* The JWT key before any write: compares jwk (NULL: the payload has none)
 * with this node's key, where this node keeps it (in_file: the v1.x key
 * file), without writing; sets r->jwt_changed, the restart (why
 * "jwt_key"), and *kv_changed when the kv row must be rewritten inside
 * the transaction (apply_jwt_write_kv). */
int apply_jwt_compare(sqlite3 *db, const struct apply_opts *o, const char *jwk, bool in_file,
		      struct apply_result *r, bool *kv_changed, char *err, size_t errlen);
int apply_jwt_write_kv(sqlite3 *db, const struct apply_opts *o, const char *jwk, char *err,
		       size_t errlen);
/* After the commit: the v1.x key file, when the key changed there. */
int apply_jwt_after_commit(sqlite3 *db, const struct apply_opts *o, const char *jwk,
			   const struct apply_result *r, char *err, size_t errlen);
/* o->before_cached_write when r needs a restart; -1 (err set) aborts. */
int apply_restart_hook(const struct apply_opts *o, const struct apply_result *r, char *err,
		       size_t errlen);

#endif
