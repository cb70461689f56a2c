/* apply_sql: keyed statements and failure mapping (see apply_sql.h). */
#include "apply_sql.h"

#include "errbuf.h"

bool apply_sql_is_busy(int rc)
{
	return (rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED;
}

void apply_sql_key_of(const struct schema_table *t, const struct pl_value *row, struct pl_value *key)
{
	for (size_t k = 0; k < t->nkey; k++)
		key[k] = row[t->key[k]];
}

char *apply_sql_where_key(char *sql, const struct schema_table *t)
{
	for (size_t k = 0; sql != NULL && k < t->nkey; k++) {
		char *next = sqlite3_mprintf("%s%s\"%w\" IS ?", sql, k ? " AND " : " WHERE ",
					     t->cols[t->key[k]]);
		sqlite3_free(sql);
		sql = next;
	}
	return sql;
}

int apply_sql_bind_key(sqlite3_stmt *st, int first, const struct schema_table *t,
		       const struct pl_value *key)
{
	for (size_t k = 0; k < t->nkey; k++) {
		if (pl_value_bind(st, first + (int)k, &key[k]) != SQLITE_OK)
			return -1;
	}
	return 0;
}

int apply_sql_run(sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);

	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

char *apply_sql_insert(const struct schema_table *t)
{
	char *sql = sqlite3_mprintf("INSERT INTO main.\"%w\"(", t->name), *next;

	for (size_t c = 0; sql != NULL && c < t->ncols; c++) {
		next = sqlite3_mprintf("%s%s\"%w\"", sql, c ? "," : "", t->cols[c]);
		sqlite3_free(sql);
		sql = next;
	}
	for (size_t c = 0; sql != NULL && c < t->ncols; c++) {
		next = sqlite3_mprintf("%s%s", sql, c ? ",?" : ") VALUES(?");
		sqlite3_free(sql);
		sql = next;
	}
	next = sql != NULL ? sqlite3_mprintf("%s)", sql) : NULL;
	sqlite3_free(sql);
	return next;
}

char *apply_sql_update(const struct schema_table *t, const size_t *cols, size_t n)
{
	char *sql = sqlite3_mprintf("UPDATE main.\"%w\" SET ", t->name), *next;

	for (size_t i = 0; sql != NULL && i < n; i++) {
		next = sqlite3_mprintf("%s%s\"%w\" = ?", sql, i ? ", " : "", t->cols[cols[i]]);
		sqlite3_free(sql);
		sql = next;
	}
	return apply_sql_where_key(sql, t);
}

char *apply_sql_delete(const struct schema_table *t)
{
	return apply_sql_where_key(sqlite3_mprintf("DELETE FROM main.\"%w\"", t->name), t);
}

int apply_sql_release(sqlite3 *db, const struct schema_table *t, const struct schema_unique *u,
		      const struct pl_value *key)
{
	char *sql = sqlite3_mprintf("UPDATE main.\"%w\" SET \"%w\" = 'pocket-id-sync:moving:' || "
				    "hex(randomblob(16))", t->name, t->cols[u->col[0]]);
	sqlite3_stmt *st;
	int rc;

	sql = apply_sql_where_key(sql, t);
	if (sql == NULL)
		return SQLITE_NOMEM;
	rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
	sqlite3_free(sql);
	if (rc != SQLITE_OK)
		return rc;
	rc = apply_sql_bind_key(st, 1, t, key) == -1 ? SQLITE_ERROR : apply_sql_run(st);
	sqlite3_finalize(st);
	return rc;
}

enum apply_status apply_sql_failure(sqlite3 *db, int rc, bool *retry, char *err, size_t errlen)
{
	*retry = apply_sql_is_busy(rc);
	if (*retry)
		return errf(err, errlen, "database is busy (Pocket ID holds the write lock); nothing "
				    "was changed"), APPLY_ERR_BUSY;
	if ((rc & 0xff) == SQLITE_CONSTRAINT)
		return errf(err, errlen, "the payload violates a constraint here (%s); nothing was "
				    "changed", sqlite3_errmsg(db)), APPLY_ERR_INVALID;
	return errf(err, errlen, "database error: %s; nothing was changed", sqlite3_errmsg(db)),
	       APPLY_ERR_DB;
}
