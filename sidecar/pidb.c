/* pidb: database handle set-up shared by export, apply and the daemon. */
#include "pidb.h"

#include <stdio.h>

int pidb_open(const char *path, uint64_t busy_timeout_ms, sqlite3 **db, char *err, size_t errlen)
{
	int rc = sqlite3_open_v2(path, db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);

	if (rc != SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", path,
			 *db != NULL ? sqlite3_errmsg(*db) : sqlite3_errstr(rc));
		sqlite3_close(*db);
		*db = NULL;
		return -1;
	}
	sqlite3_extended_result_codes(*db, 1);
	sqlite3_busy_timeout(*db, busy_timeout_ms > 0x7fffffff ? 0x7fffffff : (int)busy_timeout_ms);
	if (pidb_exec(*db, "PRAGMA foreign_keys = ON") != SQLITE_OK ||
	    pidb_exec(*db, "SELECT count(*) FROM sqlite_schema") != SQLITE_OK) {
		snprintf(err, errlen, "%s: not a usable SQLite database: %s", path, sqlite3_errmsg(*db));
		sqlite3_close(*db);
		*db = NULL;
		return -1;
	}
	return 0;
}

int pidb_exec(sqlite3 *db, const char *sql)
{
	return sqlite3_exec(db, sql, NULL, NULL, NULL);
}

int64_t pidb_data_version(sqlite3 *db)
{
	sqlite3_stmt *st;
	int64_t v = -1;

	if (sqlite3_prepare_v2(db, "PRAGMA data_version", -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}
