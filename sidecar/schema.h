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
/* True when table.column is bookkeeping (a timestamp Pocket ID bumps without
 * a real change): left out of the content hash and of the change detection,
 * but written along with a real change of its row. */
bool schema_column_bookkeeping(const char *table, const char *column);

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
	bool *bookkeeping; /* per column, see schema_column_bookkeeping */
	size_t *by_name;   /* column indexes ordered by name, bytewise (the rows hash's order) */
	/* v2.13+ client-metadata-document (CIMD) clients, rows of oidc_clients
	 * with client_type = 'cimd': the columns the metadata document fills in
	 * are each node's own in those rows (cimd_owned), the admin-edited ones
	 * are shipped; a CIMD client only a secondary has is never deleted, nor
	 * are the oidc_clients_allowed_* rows of such a client. */
	bool *cimd_owned;     /* per column (oidc_clients) */
	int cimd_type_col;    /* oidc_clients: index of client_type, or -1 */
	int cimd_client_col;  /* children: index of oidc_client_id, or -1 */
	size_t nkey;
	size_t *key;	 /* indexes into cols: the primary key, or all columns */
	size_t nunique;
	struct schema_unique unique[SCHEMA_MAX_UNIQUE];
	/* SQL condition selecting this table's node-local rows (never shipped,
	 * never changed by apply), or NULL. */
	const char *local_rows;
	bool cached_by_pocket_id; /* a change needs a Pocket ID restart */
	/* Rows whose column cached_col starts with cached_prefix are cached by
	 * Pocket ID (storage: application images); cached_col -1 = none. */
	int cached_col;
	const char *cached_prefix;
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
/* True when column c of a row is compared and shipped as the primary's
 * value: not per node, and not metadata-owned in a CIMD row (cimd_row). */
bool schema_column_shared(const struct schema_table *t, size_t c, bool cimd_row);

#endif
