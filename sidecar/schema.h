/* schema: what the sidecar knows about Pocket ID's tables: which are durable
 * (shipped and reconciled), which are local runtime state (never touched),
 * which columns are per-node, which rows stay local, and, discovered at run
 * time from the database itself, each durable table's columns, key, UNIQUE
 * sets and foreign-key order. It reads the schema; it never writes. */
#ifndef PIS_SCHEMA_H
#define PIS_SCHEMA_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>

enum table_class { TABLE_DURABLE, TABLE_LOCAL, TABLE_UNKNOWN };

/* Classifies a table name (independent of any database). */
enum table_class schema_classify(const char *name);
/* True when table.column keeps each node's own value on update. */
bool schema_column_per_node(const char *table, const char *column);

#define SCHEMA_MAX_UNIQUE 16
#define SCHEMA_MAX_UNIQUE_COLS 8

struct schema_unique {
	size_t ncols;
	size_t col[SCHEMA_MAX_UNIQUE_COLS]; /* indexes into schema_table.cols */
};

struct schema_table {
	char *name;
	size_t ncols;
	char **cols;
	bool *per_node;	 /* per column */
	size_t nkey;
	size_t *key;	 /* indexes into cols: the primary key, or all columns */
	size_t nunique;
	struct schema_unique unique[SCHEMA_MAX_UNIQUE];
	/* SQL condition selecting this table's node-local rows (never shipped,
	 * never changed by apply), or NULL. */
	const char *local_rows;
	bool cached_by_pocket_id; /* a change needs a Pocket ID restart */
};

struct schema {
	char *version; /* schema_migrations.version as text */
	bool dirty;
	size_t ntables;
	struct schema_table *tables; /* durable tables present, parents first */
	size_t nunknown;
	char **unknown; /* tables neither durable nor known-local */
	bool has_kv;
	bool has_app_config; /* app_config_variables exists */
};

/* Reads the schema of db. Call inside a read transaction when the result
 * must match a later read. Returns 0, or -1 with one line in err (e.g. not a
 * Pocket ID database, dirty migration). */
int schema_load(sqlite3 *db, struct schema *out, char *err, size_t errlen);
void schema_free(struct schema *s);
const struct schema_table *schema_table(const struct schema *s, const char *name);
/* Index of column name in t, or -1. */
int schema_column_index(const struct schema_table *t, const char *name);

#endif
