/* schema: the table policy (from Pocket ID's releases v1.9 to v2.14, see
 * tests/fixtures/schema/NOTES.md) and run-time discovery through PRAGMA
 * table_info, index_list, index_info and foreign_key_list. */
#include "errbuf.h"
#include "schema.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Durable tables, each only where the release has it. */
static const char *const durable_tables[] = {
	"users", "user_groups", "user_groups_users", "custom_claims", "webauthn_credentials",
	"oidc_clients", "oidc_clients_allowed_user_groups", "api_keys", "signup_tokens",
	"signup_tokens_user_groups", "apis", "api_permissions", "oidc_clients_allowed_apis",
	"oidc_clients_allowed_api_permissions", "storage", "app_config_variables", NULL,
};

/* Runtime tables Pocket ID keeps per node. */
static const char *const local_tables[] = {
	"audit_logs", "webauthn_sessions", "reauthentication_tokens", "one_time_access_tokens",
	"email_verification_tokens", "oidc_authorization_codes", "oidc_refresh_tokens",
	"oidc_device_codes", "oauth2_sessions", "oauth2_jtis", "interaction_sessions",
	"user_authorized_oidc_clients", "scim_service_providers", "schema_migrations", "kv", NULL,
};

/* Columns each node writes for itself: kept on update, taken on insert, and
 * left out of the change detection. */
struct table_column {
	const char *table, *column;
};

static const struct table_column per_node_columns[] = {
	{"api_keys", "last_used_at"},
	{"api_keys", "expiration_email_sent"},
	{"oidc_clients", "pkce_supported"}, /* set by /authorize on whichever node served it */
};

/* Timestamps Pocket ID bumps without a real change (LDAP sync touches every
 * synced user and group each hour and re-saves their pictures). */
static const struct table_column bookkeeping_columns[] = {
	{"users", "updated_at"},
	{"user_groups", "updated_at"},
	{"apis", "updated_at"},
	{"storage", "mod_time"},
};

/* v2.13+: the oidc_clients columns a client metadata document fills in
 * (upsertMetadataClient in Pocket ID's internal/oidc/store.go). Every other
 * column of a CIMD client is edited by admins and shipped. */
static const char *const cimd_document_columns[] = {
	"name", "callback_urls", "logout_callback_urls", "credentials", "is_public",
	"pkce_enabled", "metadata_expires_at", "metadata_grant_types", NULL,
};

/* Child tables whose rows follow a CIMD client that only this node has. */
static const char *const cimd_child_tables[] = {
	"oidc_clients_allowed_user_groups", "oidc_clients_allowed_apis",
	"oidc_clients_allowed_api_permissions", NULL,
};

/* Rows that belong to one node even inside durable tables. Each applies
 * only when the table has the named column. */
static const struct {
	const char *table, *needs_column, *where;
} local_rows[] = {
	/* instanceId: the node's identity. ldapEnabled: LDAP sync must run on
	 * the primary only (a secondary's run would create users with fresh
	 * ids). *ImageType (v1.x): the image files live on each node's disk. */
	{"app_config_variables", "key",
	 "\"key\" IN ('instanceId', 'ldapEnabled', 'backgroundImageType', "
	 "'logoLightImageType', 'logoDarkImageType')"},
	/* Default profile pictures: rendered and saved by whichever node served
	 * the GET. */
	{"storage", "path", "path GLOB 'profile-pictures/defaults/*'"},
};

static bool in_list(const char *const *list, const char *name)
{
	for (; *list != NULL; list++) {
		if (strcmp(*list, name) == 0)
			return true;
	}
	return false;
}

enum table_class schema_classify(const char *name)
{
	if (in_list(durable_tables, name))
		return TABLE_DURABLE;
	if (in_list(local_tables, name) || strncmp(name, "francis_", 8) == 0 ||
	    strncmp(name, "sqlite_", 7) == 0)
		return TABLE_LOCAL;
	return TABLE_UNKNOWN;
}

static bool in_columns(const struct table_column *list, size_t n, const char *table,
		       const char *column)
{
	for (size_t i = 0; i < n; i++) {
		if (strcmp(list[i].table, table) == 0 && strcmp(list[i].column, column) == 0)
			return true;
	}
	return false;
}

bool schema_column_per_node(const char *table, const char *column)
{
	return in_columns(per_node_columns, sizeof(per_node_columns) / sizeof(per_node_columns[0]),
			  table, column);
}

bool schema_column_bookkeeping(const char *table, const char *column)
{
	return in_columns(bookkeeping_columns,
			  sizeof(bookkeeping_columns) / sizeof(bookkeeping_columns[0]), table, column);
}

bool schema_column_shared(const struct schema_table *t, size_t c, bool cimd_row)
{
	return !t->per_node[c] && !(cimd_row && t->cimd_owned[c]);
}

int schema_column_index(const struct schema_table *t, const char *name)
{
	for (size_t i = 0; i < t->ncols; i++) {
		if (strcmp(t->cols[i], name) == 0)
			return (int)i;
	}
	return -1;
}

const struct schema_table *schema_table(const struct schema *s, const char *name)
{
	for (size_t i = 0; i < s->ntables; i++) {
		if (strcmp(s->tables[i].name, name) == 0)
			return &s->tables[i];
	}
	return NULL;
}

static int prepare(sqlite3 *db, const char *fmt, const char *arg, sqlite3_stmt **st)
{
	char *sql = sqlite3_mprintf(fmt, arg);
	int rc = sql == NULL ? SQLITE_NOMEM : sqlite3_prepare_v2(db, sql, -1, st, NULL);

	sqlite3_free(sql);
	return rc == SQLITE_OK ? 0 : -1;
}

static int by_column_name(const void *a, const void *b, void *table)
{
	const struct schema_table *t = table;

	return strcmp(t->cols[*(const size_t *)a], t->cols[*(const size_t *)b]);
}

/* The per-column policy flags of t, once its columns are known. */
static int set_column_flags(struct schema_table *t)
{
	bool clients = strcmp(t->name, "oidc_clients") == 0;

	t->per_node = calloc(t->ncols + 1, sizeof(bool));
	t->bookkeeping = calloc(t->ncols + 1, sizeof(bool));
	t->cimd_owned = calloc(t->ncols + 1, sizeof(bool));
	t->by_name = calloc(t->ncols + 1, sizeof(size_t));
	if (t->per_node == NULL || t->bookkeeping == NULL || t->cimd_owned == NULL || t->by_name == NULL)
		return -1;
	for (size_t c = 0; c < t->ncols; c++) {
		if (t->cols[c] == NULL)
			return -1;
		t->by_name[c] = c;
	}
	qsort_r(t->by_name, t->ncols, sizeof(size_t), by_column_name, t); /* bytewise on UTF-8 */
	for (size_t c = 0; c < t->ncols; c++) {
		if (t->cols[c] == NULL)
			return -1;
		t->per_node[c] = schema_column_per_node(t->name, t->cols[c]);
		t->bookkeeping[c] = schema_column_bookkeeping(t->name, t->cols[c]);
		t->cimd_owned[c] = clients && in_list(cimd_document_columns, t->cols[c]);
	}
	t->cimd_type_col = clients ? schema_column_index(t, "client_type") : -1;
	t->cimd_client_col = in_list(cimd_child_tables, t->name)
				     ? schema_column_index(t, "oidc_client_id") : -1;
	t->cached_col = -1;
	if (strcmp(t->name, "storage") == 0 && (t->cached_col = schema_column_index(t, "path")) >= 0)
		t->cached_prefix = "application-images/"; /* Pocket ID maps their extensions at start */
	return 0;
}

/* Columns, per-node flags and primary key from PRAGMA table_info. */
static int load_columns(sqlite3 *db, struct schema_table *t)
{
	sqlite3_stmt *st;
	size_t cap = 16, pk_pos[64] = {0};

	if (prepare(db, "PRAGMA main.table_info(\"%w\")", t->name, &st) == -1)
		return -1;
	t->cols = calloc(cap, sizeof(char *));
	t->key = calloc(cap, sizeof(size_t));
	while (t->cols != NULL && t->key != NULL && sqlite3_step(st) == SQLITE_ROW) {
		int pk = sqlite3_column_int(st, 5);
		if (t->ncols == cap) {
			cap *= 2;
			char **c = realloc(t->cols, cap * sizeof(char *));
			size_t *k = c ? realloc(t->key, cap * sizeof(size_t)) : NULL;
			if (c) t->cols = c;
			if (k == NULL)
				break;
			t->key = k;
		}
		t->cols[t->ncols] = strdup((const char *)sqlite3_column_text(st, 1));
		if (pk > 0 && pk < 64)
			pk_pos[pk] = t->ncols + 1;
		t->ncols++;
	}
	sqlite3_finalize(st);
	if (set_column_flags(t) == -1)
		return -1;
	for (size_t i = 1; i < 64; i++) {
		if (pk_pos[i] != 0)
			t->key[t->nkey++] = pk_pos[i] - 1;
	}
	if (t->nkey == 0) { /* no declared key: the whole row is the key */
		for (size_t i = 0; i < t->ncols; i++)
			t->key[t->nkey++] = i;
	}
	return t->ncols == 0 ? -1 : 0;
}

/* UNIQUE constraints and unique indexes other than the primary key. */
static int load_uniques(sqlite3 *db, struct schema_table *t)
{
	sqlite3_stmt *list, *info;

	if (prepare(db, "PRAGMA main.index_list(\"%w\")", t->name, &list) == -1)
		return -1;
	while (sqlite3_step(list) == SQLITE_ROW && t->nunique < SCHEMA_MAX_UNIQUE) {
		struct schema_unique *u = &t->unique[t->nunique];
		const char *origin = (const char *)sqlite3_column_text(list, 3);
		if (sqlite3_column_int(list, 2) == 0 || strcmp(origin, "pk") == 0)
			continue;
		if (prepare(db, "PRAGMA main.index_info(\"%w\")",
			    (const char *)sqlite3_column_text(list, 1), &info) == -1)
			continue;
		u->ncols = 0;
		while (sqlite3_step(info) == SQLITE_ROW && u->ncols < SCHEMA_MAX_UNIQUE_COLS) {
			const char *col = (const char *)sqlite3_column_text(info, 2);
			int idx = col != NULL ? schema_column_index(t, col) : -1;
			if (idx >= 0)
				u->col[u->ncols++] = (size_t)idx;
		}
		sqlite3_finalize(info);
		if (u->ncols > 0)
			t->nunique++;
	}
	sqlite3_finalize(list);
	return 0;
}

static void set_local_rows(struct schema_table *t)
{
	for (size_t i = 0; i < sizeof(local_rows) / sizeof(local_rows[0]); i++) {
		if (strcmp(local_rows[i].table, t->name) == 0 &&
		    schema_column_index(t, local_rows[i].needs_column) >= 0)
			t->local_rows = local_rows[i].where;
	}
}

/* Parent tables of t (foreign keys), only durable ones. */
static int parents_of(sqlite3 *db, const char *name, char parents[][64], int max)
{
	sqlite3_stmt *st;
	int n = 0;

	if (prepare(db, "PRAGMA main.foreign_key_list(\"%w\")", name, &st) == -1)
		return 0;
	while (sqlite3_step(st) == SQLITE_ROW && n < max) {
		const char *p = (const char *)sqlite3_column_text(st, 2);
		if (p != NULL && strcmp(p, name) != 0 && strlen(p) < 64)
			snprintf(parents[n++], 64, "%s", p);
	}
	sqlite3_finalize(st);
	return n;
}

/* Orders s->tables so that every table comes after its parents. */
static int order_by_foreign_keys(sqlite3 *db, struct schema *s)
{
	struct schema_table *sorted = calloc(s->ntables + 1, sizeof(*sorted));
	bool *placed = calloc(s->ntables + 1, sizeof(bool));
	size_t n = 0;

	if (sorted == NULL || placed == NULL) {
		free(sorted);
		free(placed);
		return -1;
	}
	while (n < s->ntables) {
		size_t before = n;
		for (size_t i = 0; i < s->ntables; i++) {
			char parents[16][64];
			int np = placed[i] ? 0 : parents_of(db, s->tables[i].name, parents, 16);
			bool ready = !placed[i];
			for (int p = 0; ready && p < np; p++) {
				for (size_t j = 0; j < s->ntables; j++) {
					if (!placed[j] && j != i && strcmp(s->tables[j].name, parents[p]) == 0)
						ready = false;
				}
			}
			if (ready) {
				sorted[n++] = s->tables[i];
				placed[i] = true;
			}
		}
		if (n == before) /* a cycle: keep the remaining order */
			for (size_t i = 0; i < s->ntables; i++)
				if (!placed[i]) {
					sorted[n++] = s->tables[i];
					placed[i] = true;
				}
	}
	free(s->tables);
	free(placed);
	s->tables = sorted;
	return 0;
}

static int load_version(sqlite3 *db, struct schema *s, char *err, size_t errlen)
{
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(db, "SELECT CAST(version AS TEXT), dirty FROM schema_migrations", -1,
			       &st, NULL) != SQLITE_OK)
		return errf(err, errlen, "no schema_migrations table: not a Pocket ID database, "
					 "or Pocket ID has never started on it");
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW && sqlite3_column_text(st, 0) != NULL) {
		s->version = strdup((const char *)sqlite3_column_text(st, 0));
		s->dirty = sqlite3_column_int(st, 1) != 0;
	}
	rc = rc == SQLITE_ROW && sqlite3_step(st) == SQLITE_DONE;
	sqlite3_finalize(st);
	if (!rc || s->version == NULL)
		return errf(err, errlen, "schema_migrations must hold exactly one row");
	if (s->dirty)
		return errf(err, errlen, "Pocket ID schema version %s is marked dirty (a migration "
					 "failed); fix Pocket ID first", s->version);
	return 0;
}

int schema_load(sqlite3 *db, struct schema *s, char *err, size_t errlen)
{
	sqlite3_stmt *st;
	size_t cap = 32;

	memset(s, 0, sizeof(*s));
	if (load_version(db, s, err, errlen) == -1)
		goto fail;
	s->tables = calloc(cap, sizeof(*s->tables));
	s->unknown = calloc(cap, sizeof(char *));
	if (s->tables == NULL || s->unknown == NULL ||
	    sqlite3_prepare_v2(db, "SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name",
			       -1, &st, NULL) != SQLITE_OK) {
		errf(err, errlen, "cannot read the table list: %s", sqlite3_errmsg(db));
		goto fail;
	}
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(st, 0);
		enum table_class c = schema_classify(name);
		if (strcmp(name, "kv") == 0)
			s->has_kv = true;
		if (c == TABLE_UNKNOWN && s->nunknown < cap)
			s->unknown[s->nunknown++] = strdup(name);
		if (c != TABLE_DURABLE || s->ntables >= cap)
			continue;
		struct schema_table *t = &s->tables[s->ntables++];
		t->name = strdup(name);
		if (t->name == NULL || load_columns(db, t) == -1 || load_uniques(db, t) == -1) {
			sqlite3_finalize(st);
			errf(err, errlen, "cannot read the columns of %s", name);
			goto fail;
		}
		set_local_rows(t);
		t->cached_by_pocket_id = strcmp(name, "app_config_variables") == 0;
		if (t->cached_by_pocket_id)
			s->has_app_config = true;
	}
	sqlite3_finalize(st);
	if (order_by_foreign_keys(db, s) == -1) {
		errf(err, errlen, "out of memory");
		goto fail;
	}
	return 0;
fail:
	schema_free(s);
	return -1;
}

void schema_free(struct schema *s)
{
	for (size_t i = 0; i < s->ntables; i++) {
		struct schema_table *t = &s->tables[i];
		for (size_t c = 0; c < t->ncols; c++)
			free(t->cols[c]);
		free(t->cols);
		free(t->per_node);
		free(t->bookkeeping);
		free(t->by_name);
		free(t->cimd_owned);
		free(t->key);
		free(t->name);
	}
	for (size_t i = 0; i < s->nunknown; i++)
		free(s->unknown[i]);
	free(s->unknown);
	free(s->tables);
	free(s->version);
	memset(s, 0, sizeof(*s));
}
