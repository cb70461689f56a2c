/* state_peer: the peers table (name, public key, SHA-256 of the token, when
 * created and last served). It does not generate tokens (token.c) nor decide
 * who may enrol (enroll.c); token lookups are constant-time per stored hash. */
#include "state_priv.h"

#include "log.h"
#include "token.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PEER_COLUMNS "name, pubkey, token_hash, created_at, last_seen_at, last_generation_sent"

int state_peer_name_valid(const char *name)
{
	size_t n = 0;

	if (name == NULL)
		return 0;
	for (; name[n] != '\0'; n++) {
		char c = name[n];
		if (n >= STATE_PEER_NAME_MAX)
			return 0;
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-'))
			return 0;
	}
	return n > 0;
}

/* Copies a blob column that must be exactly 32 bytes. */
static int peer_blob32(sqlite3_stmt *stmt, int col, uint8_t out[static 32])
{
	if (sqlite3_column_bytes(stmt, col) != 32 || sqlite3_column_blob(stmt, col) == NULL)
		return -1;
	memcpy(out, sqlite3_column_blob(stmt, col), 32);
	return 0;
}

/* Fills p from a row of PEER_COLUMNS. Returns 0 or -1 (malformed row). */
static int peer_from_row(sqlite3_stmt *stmt, struct peer_info *p)
{
	const char *name = (const char *)sqlite3_column_text(stmt, 0);

	memset(p, 0, sizeof(*p));
	if (name == NULL || strlen(name) > STATE_PEER_NAME_MAX ||
	    peer_blob32(stmt, 1, p->pubkey) == -1 || peer_blob32(stmt, 2, p->token_hash) == -1)
		return -1;
	memcpy(p->name, name, strlen(name) + 1);
	p->created_at = sqlite3_column_int64(stmt, 3);
	p->last_seen_at = sqlite3_column_int64(stmt, 4);
	if (sqlite3_column_type(stmt, 5) != SQLITE_NULL && sqlite3_column_int64(stmt, 5) >= 0) {
		p->last_generation_sent = (uint64_t)sqlite3_column_int64(stmt, 5);
		p->has_generation_sent = true;
	}
	return 0;
}

/* Inside the open transaction: sets *conflict (and err) when name or pub is
 * taken. Returns 0 or -1. */
static int peer_find_conflict(struct state *st, const char *name, const uint8_t pub[static 32],
			      char *err, size_t errlen, int *conflict)
{
	sqlite3_stmt *stmt;
	int rc;

	*conflict = 0;
	if (state_prepare(st, "SELECT name FROM peers WHERE name = ?1 OR pubkey = ?2 "
			      "ORDER BY name = ?1 DESC LIMIT 1", &stmt) == -1)
		return -1;
	sqlite3_bind_text(stmt, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_blob(stmt, 2, pub, 32, SQLITE_STATIC);
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW) {
		const char *owner = (const char *)sqlite3_column_text(stmt, 0);
		*conflict = 1;
		if (owner != NULL && strcmp(owner, name) == 0)
			snprintf(err, errlen, "a peer named %s already exists", name);
		else
			snprintf(err, errlen, "this public key already belongs to peer %s",
				 owner != NULL ? owner : "?");
	}
	sqlite3_finalize(stmt);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : state_fail(st, "peer_add");
}

static int peer_insert(struct state *st, const char *name, const uint8_t pub[static 32],
		       const uint8_t token_hash[static 32])
{
	sqlite3_stmt *stmt;

	if (state_prepare(st, "INSERT INTO peers (name, pubkey, token_hash, created_at) "
			      "VALUES (?, ?, ?, ?)", &stmt) == -1)
		return -1;
	sqlite3_bind_text(stmt, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_blob(stmt, 2, pub, 32, SQLITE_STATIC);
	sqlite3_bind_blob(stmt, 3, token_hash, 32, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 4, (sqlite3_int64)time(NULL));
	return state_step_done(st, stmt, "peer_add");
}

int state_peer_add(struct state *st, const char *name, const uint8_t pub[static 32],
		   const uint8_t token_hash[static 32], char *err, size_t errlen)
{
	int rc, conflict;

	if (!state_peer_name_valid(name)) {
		snprintf(err, errlen, "peer name must be 1-%d characters of A-Z a-z 0-9 . _ -",
			 STATE_PEER_NAME_MAX);
		return 1;
	}
	state_lock(st);
	rc = state_begin(st);
	if (rc == 0) {
		rc = peer_find_conflict(st, name, pub, err, errlen, &conflict);
		if (rc == 0 && conflict)
			rc = 1;
		else if (rc == 0)
			rc = peer_insert(st, name, pub, token_hash);
		rc = state_end(st, rc);
	}
	if (rc == -1)
		snprintf(err, errlen, "state.db: cannot add the peer (the log has SQLite's reason)");
	state_unlock(st);
	return rc;
}

int state_peer_remove(struct state *st, const char *name)
{
	sqlite3_stmt *stmt;
	int rc;

	state_lock(st);
	rc = state_prepare(st, "DELETE FROM peers WHERE name = ?", &stmt);
	if (rc == 0) {
		sqlite3_bind_text(stmt, 1, name, -1, SQLITE_STATIC);
		rc = state_step_done(st, stmt, "peer_remove");
	}
	if (rc == 0 && sqlite3_changes(st->db) == 0)
		rc = 1;
	state_unlock(st);
	return rc;
}

/* Appends a row to a growing array. Returns 0 or -1. */
static int peer_append(struct peer_info **arr, size_t *n, size_t *cap, const struct peer_info *p)
{
	if (*n == *cap) {
		size_t ncap = *cap == 0 ? 8 : *cap * 2;
		struct peer_info *grown = realloc(*arr, ncap * sizeof(**arr));
		if (grown == NULL)
			return -1;
		*arr = grown;
		*cap = ncap;
	}
	(*arr)[(*n)++] = *p;
	return 0;
}

/* Reads all rows of stmt into a malloc'd array. Returns 0 or -1. */
static int peer_collect(struct state *st, sqlite3_stmt *stmt, struct peer_info **out, size_t *n)
{
	struct peer_info p, *arr = NULL;
	size_t cap = 0;
	int rc;

	*n = 0;
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		if (peer_from_row(stmt, &p) == -1 || peer_append(&arr, n, &cap, &p) == -1) {
			log_error("state.peer_list", "reason=%s", "malformed row or out of memory");
			free(arr);
			*n = 0;
			return -1;
		}
	}
	if (rc != SQLITE_DONE) {
		free(arr);
		*n = 0;
		return state_fail(st, "peer_list");
	}
	*out = arr;
	return 0;
}

int state_peer_list(struct state *st, struct peer_info **out, size_t *n)
{
	sqlite3_stmt *stmt;
	int rc;

	*out = NULL;
	*n = 0;
	state_lock(st);
	rc = state_prepare(st, "SELECT " PEER_COLUMNS " FROM peers ORDER BY name", &stmt);
	if (rc == 0) {
		rc = peer_collect(st, stmt, out, n);
		sqlite3_finalize(stmt);
	}
	state_unlock(st);
	return rc;
}

int state_peer_by_token(struct state *st, const char *presented, struct peer_info *out)
{
	struct peer_info *all;
	uint8_t h[32];
	size_t n, found = 0;

	if (state_peer_list(st, &all, &n) == -1)
		return -1;
	token_hash(presented, h);
	/* Every hash is compared; the loop never exits early. */
	for (size_t i = 0; i < n; i++) {
		size_t match = (size_t)(CRYPTO_memcmp(h, all[i].token_hash, 32) == 0);
		if (match)
			*out = all[i];
		found |= match;
	}
	OPENSSL_cleanse(h, sizeof(h));
	if (n > 0)
		OPENSSL_cleanse(all, n * sizeof(*all));
	free(all);
	return found ? 0 : 1;
}

static int peer_update(struct state *st, const char *sql, const char *name, int64_t now,
		       const uint64_t *generation)
{
	sqlite3_stmt *stmt;
	int rc;

	state_lock(st);
	rc = state_prepare(st, sql, &stmt);
	if (rc == 0) {
		sqlite3_bind_text(stmt, 1, name, -1, SQLITE_STATIC);
		sqlite3_bind_int64(stmt, 2, now);
		if (generation != NULL)
			sqlite3_bind_int64(stmt, 3, (sqlite3_int64)*generation);
		rc = state_step_done(st, stmt, "peer_seen");
	}
	if (rc == 0 && sqlite3_changes(st->db) == 0)
		rc = 1;
	state_unlock(st);
	return rc;
}

int state_peer_seen(struct state *st, const char *name, int64_t now, uint64_t generation_sent)
{
	return peer_update(st, "UPDATE peers SET last_seen_at = ?2, last_generation_sent = ?3 "
			       "WHERE name = ?1", name, now, &generation_sent);
}

int state_peer_touch(struct state *st, const char *name, int64_t now)
{
	return peer_update(st, "UPDATE peers SET last_seen_at = ?2 WHERE name = ?1", name, now,
			   NULL);
}
