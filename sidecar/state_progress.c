/* state_progress: how far syncing got: the primary's generation counter and
 * content hash, a secondary's last applied generation per pinned primary key,
 * and the status strings `status` shows. Policy (what counts as a change, a
 * replay or a failure) belongs to the callers. */
#include "state_priv.h"

#include "parse.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* Reads the generation row inside the caller's lock. Returns 0 or -1. */
static int generation_read(struct state *st, uint64_t *gen, uint8_t hash[static 32],
			   bool *has_hash)
{
	sqlite3_stmt *stmt;
	int rc;

	*gen = 0;
	*has_hash = false;
	memset(hash, 0, 32);
	if (state_prepare(st, "SELECT generation, content_hash FROM primary_generation "
			      "WHERE id = 1", &stmt) == -1)
		return -1;
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW) {
		int64_t g = sqlite3_column_int64(stmt, 0);
		*gen = g > 0 ? (uint64_t)g : 0;
		if (sqlite3_column_bytes(stmt, 1) == 32) {
			memcpy(hash, sqlite3_column_blob(stmt, 1), 32);
			*has_hash = true;
		}
	}
	sqlite3_finalize(stmt);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : state_fail(st, "generation");
}

int state_generation(struct state *st, uint64_t *gen, uint8_t content_hash[static 32],
		     bool *has_hash)
{
	int rc;

	state_lock(st);
	rc = generation_read(st, gen, content_hash, has_hash);
	state_unlock(st);
	return rc;
}

static int generation_write(struct state *st, uint64_t gen, const uint8_t hash[static 32])
{
	sqlite3_stmt *stmt;

	if (state_prepare(st, "INSERT OR REPLACE INTO primary_generation (id, generation, "
			      "content_hash) VALUES (1, ?, ?)", &stmt) == -1)
		return -1;
	sqlite3_bind_int64(stmt, 1, (sqlite3_int64)gen);
	sqlite3_bind_blob(stmt, 2, hash, 32, SQLITE_STATIC);
	return state_step_done(st, stmt, "generation_advance");
}

int state_generation_advance(struct state *st, const uint8_t content_hash[static 32],
			     uint64_t *gen)
{
	uint8_t stored[32];
	bool has;
	int rc;

	state_lock(st);
	rc = state_begin(st);
	if (rc == 0) {
		rc = generation_read(st, gen, stored, &has);
		if (rc == 0 && (!has || memcmp(stored, content_hash, 32) != 0)) {
			if (*gen >= (uint64_t)INT64_MAX)
				rc = -1;
			else if ((rc = generation_write(st, *gen + 1, content_hash)) == 0)
				*gen += 1;
		}
		rc = state_end(st, rc);
	}
	state_unlock(st);
	return rc;
}

int state_applied_get(struct state *st, const uint8_t primary_pub[static 32], uint64_t *gen,
		      bool *found)
{
	sqlite3_stmt *stmt;
	int rc;

	*gen = 0;
	*found = false;
	state_lock(st);
	rc = state_prepare(st, "SELECT generation FROM applied WHERE primary_pubkey = ?", &stmt);
	if (rc == 0) {
		sqlite3_bind_blob(stmt, 1, primary_pub, 32, SQLITE_STATIC);
		rc = sqlite3_step(stmt);
		if (rc == SQLITE_ROW && sqlite3_column_int64(stmt, 0) >= 0) {
			*gen = (uint64_t)sqlite3_column_int64(stmt, 0);
			*found = true;
		}
		rc = rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : state_fail(st, "applied_get");
		sqlite3_finalize(stmt);
	}
	state_unlock(st);
	return rc;
}

int state_applied_set(struct state *st, const uint8_t primary_pub[static 32], uint64_t gen,
		      int64_t issued_at, int64_t applied_at)
{
	sqlite3_stmt *stmt;
	int rc;

	if (gen > (uint64_t)INT64_MAX)
		return -1;
	state_lock(st);
	rc = state_prepare(st, "INSERT OR REPLACE INTO applied (primary_pubkey, generation, "
			       "issued_at, applied_at) VALUES (?, ?, ?, ?)", &stmt);
	if (rc == 0) {
		sqlite3_bind_blob(stmt, 1, primary_pub, 32, SQLITE_STATIC);
		sqlite3_bind_int64(stmt, 2, (sqlite3_int64)gen);
		sqlite3_bind_int64(stmt, 3, issued_at);
		sqlite3_bind_int64(stmt, 4, applied_at);
		rc = state_step_done(st, stmt, "applied_set");
	}
	state_unlock(st);
	return rc;
}

int state_status_set(struct state *st, const char *key, const char *value)
{
	sqlite3_stmt *stmt;
	int rc;

	state_lock(st);
	rc = state_prepare(st, value != NULL ? "INSERT OR REPLACE INTO status (key, value) "
					       "VALUES (?, ?)"
					     : "DELETE FROM status WHERE key = ?",
			   &stmt);
	if (rc == 0) {
		sqlite3_bind_text(stmt, 1, key, -1, SQLITE_STATIC);
		if (value != NULL)
			sqlite3_bind_text(stmt, 2, value, -1, SQLITE_STATIC);
		rc = state_step_done(st, stmt, "status_set");
	}
	state_unlock(st);
	return rc;
}

int state_status_get(struct state *st, const char *key, char *buf, size_t n)
{
	sqlite3_stmt *stmt;
	int rc;

	if (n > 0)
		buf[0] = '\0';
	state_lock(st);
	rc = state_prepare(st, "SELECT value FROM status WHERE key = ?", &stmt);
	if (rc == 0) {
		sqlite3_bind_text(stmt, 1, key, -1, SQLITE_STATIC);
		rc = sqlite3_step(stmt);
		if (rc == SQLITE_ROW && n > 0 && sqlite3_column_text(stmt, 0) != NULL)
			snprintf(buf, n, "%s", (const char *)sqlite3_column_text(stmt, 0));
		rc = rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? 1 : state_fail(st, "status_get");
		sqlite3_finalize(stmt);
	}
	state_unlock(st);
	return rc;
}

int state_status_set_i64(struct state *st, const char *key, int64_t value)
{
	char buf[24];

	snprintf(buf, sizeof(buf), "%" PRId64, value);
	return state_status_set(st, key, buf);
}

int state_status_get_i64(struct state *st, const char *key, int64_t *value)
{
	char buf[32];
	long long v;
	int rc = state_status_get(st, key, buf, sizeof(buf));

	if (rc != 0)
		return rc;
	if (parse_int_range(buf, INT64_MIN, INT64_MAX, &v) == -1)
		return 1;
	*value = (int64_t)v;
	return 0;
}
