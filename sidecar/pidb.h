/* pidb: opening Pocket ID's SQLite database the way the sidecar needs it
 * (existing file only, WAL-friendly, busy timeout, foreign keys on) and the
 * small helpers around transactions. It knows nothing about tables. */
#ifndef PIS_PIDB_H
#define PIS_PIDB_H

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

/* Opens an existing database read-write. Returns 0, or -1 with err set. */
int pidb_open(const char *path, uint64_t busy_timeout_ms, sqlite3 **db, char *err, size_t errlen);
/* Runs one statement without results; returns the SQLite result code. */
int pidb_exec(sqlite3 *db, const char *sql);
/* Current value of PRAGMA data_version (changes when another connection commits). */
int64_t pidb_data_version(sqlite3 *db);

#endif
