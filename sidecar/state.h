/* state: the sidecar's own SQLite file, SYNC_STATE_DIR/state.db (mode 0600,
 * WAL): peers and their token hashes, the primary's generation counter, what
 * a secondary applied per pinned primary, and status strings for `status`.
 * It never opens Pocket ID's database and holds no plaintext token. */
#ifndef PIS_STATE_H
#define PIS_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define STATE_FILE_NAME "state.db"
#define STATE_SCHEMA_VERSION 1
#define STATE_BUSY_TIMEOUT_MS 5000
#define STATE_PEER_NAME_MAX 64

/* One handle: its own SQLite connection guarded by a mutex, so one handle
 * may be shared by threads and several processes may open the same file
 * (every call is one short transaction; writers wait up to 5 s). */
struct state;

struct peer_info {
	char name[STATE_PEER_NAME_MAX + 1];
	uint8_t pubkey[32];
	uint8_t token_hash[32];
	int64_t created_at;   /* unix seconds */
	int64_t last_seen_at; /* unix seconds, 0 = never */
	uint64_t last_generation_sent;
	bool has_generation_sent;
};

/* Opens (creating state_dir 0700 and state.db 0600 when missing) and migrates
 * the schema. Refuses a file from a newer build and a database that holds
 * tables of some other program (Pocket ID's). Returns 0 with *out set (free
 * with state_close), or -1 with a one-line reason in err. */
int state_open(const char *state_dir, struct state **out, char *err, size_t errlen);
void state_close(struct state *st);

/* 1 when name is 1-64 characters of [A-Za-z0-9._-], else 0. */
int state_peer_name_valid(const char *name);

/* Adds a peer created now. Returns 0; 1 when refused (invalid name, the name
 * or the public key already taken), -1 on a database error; err says why
 * either way. */
int state_peer_add(struct state *st, const char *name, const uint8_t pub[static 32],
		   const uint8_t token_hash[static 32], char *err, size_t errlen);
/* Returns 0 removed, 1 no such peer, -1 error. Removing revokes its token. */
int state_peer_remove(struct state *st, const char *name);
/* All peers by name into a malloc'd array (caller frees *out; NULL when
 * *n == 0). Returns 0 or -1. */
int state_peer_list(struct state *st, struct peer_info **out, size_t *n);
/* Finds the peer whose token hash is SHA-256(presented). Every stored hash
 * is compared in constant time, without early exit. Returns 0 found (*out
 * filled), 1 not found, -1 error. */
int state_peer_by_token(struct state *st, const char *presented, struct peer_info *out);
/* Records that name was served at now with generation_sent. Returns 0, 1
 * when there is no such peer, -1 on error. */
int state_peer_seen(struct state *st, const char *name, int64_t now, uint64_t generation_sent);
/* Like state_peer_seen but leaves last_generation_sent alone. */
int state_peer_touch(struct state *st, const char *name, int64_t now);

/* Primary: the current generation (0 and *has_hash false before the first
 * advance) and the content hash it was taken for. Returns 0 or -1. */
int state_generation(struct state *st, uint64_t *gen, uint8_t content_hash[static 32],
		     bool *has_hash);
/* Primary, one IMMEDIATE transaction: when content_hash differs from the
 * stored one (or none is stored), generation += 1 and the hash is stored.
 * *gen is the current generation either way. Returns 0 or -1. */
int state_generation_advance(struct state *st, const uint8_t content_hash[static 32],
			     uint64_t *gen);

/* Secondary: the last generation applied from the primary with this key;
 * *found false (and *gen 0) when none. Returns 0 or -1. */
int state_applied_get(struct state *st, const uint8_t primary_pub[static 32], uint64_t *gen,
		      bool *found);
/* Records it (replacing the previous record; ordering is the caller's
 * policy). Times are unix seconds. Returns 0 or -1. */
int state_applied_set(struct state *st, const uint8_t primary_pub[static 32], uint64_t gen,
		      int64_t issued_at, int64_t applied_at);

/* Status strings shown by `pocket-id-sync status`. Keys in use:
 * "role", "last_attempt_at", "last_success_at" (decimal unix seconds, see
 * state_status_set_i64), "last_error", "last_generation". A NULL value
 * deletes the key. Returns 0 or -1. */
int state_status_set(struct state *st, const char *key, const char *value);
/* Copies the value into buf (truncated to n - 1 bytes, NUL-terminated).
 * Returns 0 found, 1 missing (buf = ""), -1 error. */
int state_status_get(struct state *st, const char *key, char *buf, size_t n);
/* The same for decimal integers (timestamps, generations). get returns 1
 * when missing or not an integer. */
int state_status_set_i64(struct state *st, const char *key, int64_t value);
int state_status_get_i64(struct state *st, const char *key, int64_t *value);

#endif
