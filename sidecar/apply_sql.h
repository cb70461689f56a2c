/* apply_sql: the statements both appliers (apply.c for format 1,
 * apply_full.c for format-2 snapshots) write Pocket ID's rows with: keyed
 * INSERT, UPDATE and DELETE, the UNIQUE release that lets values move
 * between rows, and how a failed statement maps to an apply_status. It
 * decides nothing about which rows change (the appliers do). */
#ifndef PIS_APPLY_SQL_H
#define PIS_APPLY_SQL_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>

#include "apply.h"
#include "payload.h"
#include "schema.h"

/* SQLITE_BUSY or SQLITE_LOCKED, any extended code. */
bool apply_sql_is_busy(int rc);

/* Gathers row's key cells (row: t->ncols values in schema order) into
 * key[0 .. t->nkey), sharing their bytes. */
void apply_sql_key_of(const struct schema_table *t, const struct pl_value *row, struct pl_value *key);

/* Appends `WHERE "k1" IS ? AND "k2" IS ?` for t's key columns to sql (an
 * sqlite3_mprintf string, consumed). Returns the new string or NULL. */
char *apply_sql_where_key(char *sql, const struct schema_table *t);
/* Binds key[0 .. t->nkey) from parameter first on. Returns 0 or -1. */
int apply_sql_bind_key(sqlite3_stmt *st, int first, const struct schema_table *t,
		       const struct pl_value *key);
/* Runs a prepared statement to completion, then resets it and its
 * bindings; returns SQLITE_OK or the SQLite code. */
int apply_sql_run(sqlite3_stmt *st);

/* The statements, as sqlite3_mprintf strings (sqlite3_free), NULL when out
 * of memory: INSERT of every column of t in schema order; UPDATE of cols[0
 * .. n) then the key; DELETE by key. */
char *apply_sql_insert(const struct schema_table *t);
char *apply_sql_update(const struct schema_table *t, const size_t *cols, size_t n);
char *apply_sql_delete(const struct schema_table *t);

/* Moves the row with key's UNIQUE set u out of the way: its first column
 * gets 'pocket-id-sync:moving:' and 16 random bytes in hex, a value no
 * real row holds, so values can swap between rows inside one apply (the
 * row's final value is written afterwards). Returns the SQLite code. */
int apply_sql_release(sqlite3 *db, const struct schema_table *t, const struct schema_unique *u,
		      const struct pl_value *key);

/* The status and the one-line err for SQLite code rc: busy (*retry set),
 * a constraint the payload violates, or another database error; every
 * message ends with "nothing was changed". */
enum apply_status apply_sql_failure(sqlite3 *db, int rc, bool *retry, char *err, size_t errlen);

#endif
