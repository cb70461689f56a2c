/* testutil: helpers the unit tests share: temporary directories that clean
 * up after themselves, small file writers, and the cmocka includes. It holds
 * no test logic of its own. */
#ifndef PIS_TESTUTIL_H
#define PIS_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <sys/types.h>

/* Creates a fresh directory under $TMPDIR (or /tmp); returns a malloc'd path. */
char *tu_mkdtemp(void);
/* Removes a directory tree (best effort) and frees the path. */
void tu_rmtree(char *path);
/* Writes len bytes to dir/name with the given mode; returns malloc'd path. */
char *tu_write_file(const char *dir, const char *name, const void *data, size_t len, mode_t mode);
/* Reads a whole file; returns malloc'd NUL-terminated buffer, sets *len. */
char *tu_read_file(const char *path, size_t *len);
/* Every row of every table of db (local ones and kv included) in rowid order,
 * one line each, values quoted as SQL: compare before/after to prove an
 * apply changed nothing. malloc'd. */
char *tu_db_dump(sqlite3 *db);

#endif
