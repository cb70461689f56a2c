/* pidfix: fixture databases for the engine tests (see pidfix.h). */
#include "pidfix.h"

#include "jwk.h"
#include "jwt_store.h"
#include "payload.h"
#include "schema.h"
#include "export.h"
#include "testutil.h"

#include <openssl/crypto.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const fx_versions[] = {"v1.9", "v2.0", "v2.10", "v2.11", "v2.14", NULL};

void fx_exec(sqlite3 *db, const char *sql)
{
	char *msg = NULL;
	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
		fail_msg("SQL failed: %s\n%s", msg ? msg : "?", sql);
}

long fx_count(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st;
	long n;
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		fail_msg("prepare failed: %s: %s", sqlite3_errmsg(db), sql);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	n = (long)sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return n;
}

static bool has_table(sqlite3 *db, const char *t)
{
	char sql[256];
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM sqlite_schema WHERE type='table' AND name='%s'", t);
	return fx_count(db, sql) > 0;
}

static void kv_set(sqlite3 *db, const char *key, const char *value)
{
	sqlite3_stmt *st;
	assert_int_equal(sqlite3_prepare_v2(db, "INSERT OR REPLACE INTO kv(key,value) VALUES(?,?)", -1, &st, NULL), SQLITE_OK);
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, value, -1, SQLITE_STATIC);
	assert_int_equal(sqlite3_step(st), SQLITE_DONE);
	sqlite3_finalize(st);
}

sqlite3 *fx_create(const char *dir, const char *name, const char *version, const char *instance_id,
		   const char *encryption_key, const char *jwk)
{
	char path[1024], *sql;
	sqlite3 *db;
	uint8_t kek[32];

	snprintf(path, sizeof(path), "%s/fixtures/schema/pocket-id-%s.sql", PIS_TEST_DIR, version);
	sql = tu_read_file(path, NULL);
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	fx_exec(db, "PRAGMA journal_mode=WAL");
	fx_exec(db, sql);
	free(sql);
	fx_exec(db, "PRAGMA foreign_keys=ON");
	if (has_table(db, "app_config_variables") && strcmp(version, "v2.11") != 0) {
		char ins[256];
		snprintf(ins, sizeof(ins), "INSERT INTO app_config_variables(key,value) VALUES('instanceId','%s')", instance_id);
		fx_exec(db, ins);
		fx_exec(db, "INSERT INTO app_config_variables(key,value) VALUES('appName','Pocket ID')");
	} else {
		kv_set(db, "instance_id", instance_id);
		if (has_table(db, "app_config_variables"))
			fx_exec(db, "INSERT INTO app_config_variables(key,value) VALUES('appName','Pocket ID')");
	}
	if (jwk != NULL) {
		char *wrapped;
		assert_int_equal(jwk_derive_kek((const uint8_t *)encryption_key, strlen(encryption_key), instance_id, kek), 0);
		assert_int_equal(jwk_wrap(kek, jwk, strlen(jwk), &wrapped), 0);
		kv_set(db, "jwt_private_key.json", wrapped);
		OPENSSL_clear_free(wrapped, strlen(wrapped));
	}
	return db;
}

/* A neutral value for a NOT NULL column without default, by declared type. */
static const char *neutral(const char *decl)
{
	if (decl == NULL)
		return "t:";
	if (strstr(decl, "BLOB") || strstr(decl, "blob"))
		return "b:";
	if (strstr(decl, "INT") || strstr(decl, "BOOL") || strstr(decl, "NUMERIC") ||
	    strstr(decl, "DATETIME") || strstr(decl, "int") || strstr(decl, "bool"))
		return "i:0";
	return "t:";
}

void fx_row(sqlite3 *db, const char *table, ...)
{
	const char *names[64], *vals[64];
	char *owned[64];
	size_t n = 0, nowned = 0;
	va_list ap;
	sqlite3_stmt *info, *ins;
	char *sql, *cols = sqlite3_mprintf(""), *qs = sqlite3_mprintf("");

	va_start(ap, table);
	for (const char *c; (c = va_arg(ap, const char *)) != NULL && n < 64; n++) {
		names[n] = c;
		vals[n] = va_arg(ap, const char *);
	}
	va_end(ap);
	sql = sqlite3_mprintf("PRAGMA table_info(\"%w\")", table);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &info, NULL), SQLITE_OK);
	sqlite3_free(sql);
	while (sqlite3_step(info) == SQLITE_ROW) {
		const char *col = (const char *)sqlite3_column_text(info, 1);
		size_t i = 0;
		while (i < n && strcmp(names[i], col) != 0)
			i++;
		if (i == n && sqlite3_column_int(info, 3) && sqlite3_column_type(info, 4) == SQLITE_NULL &&
		    n < 64) {
			names[n] = owned[nowned++] = sqlite3_mprintf("%s", col);
			vals[n] = neutral((const char *)sqlite3_column_text(info, 2));
			n++;
		}
	}
	sqlite3_finalize(info);
	for (size_t i = 0; i < n; i++) {
		char *c2 = sqlite3_mprintf("%s%s\"%w\"", cols, i ? "," : "", names[i]);
		char *q2 = sqlite3_mprintf("%s%s?", qs, i ? "," : "");
		sqlite3_free(cols);
		sqlite3_free(qs);
		cols = c2;
		qs = q2;
	}
	sql = sqlite3_mprintf("INSERT INTO \"%w\"(%s) VALUES(%s)", table, cols, qs);
	if (sqlite3_prepare_v2(db, sql, -1, &ins, NULL) != SQLITE_OK)
		fail_msg("%s: %s", sql, sqlite3_errmsg(db));
	struct pl_value pv[64];
	memset(pv, 0, sizeof(pv));
	for (size_t i = 0; i < n; i++) {
		if (vals[i] != NULL && pl_value_decode(vals[i], &pv[i], NULL) != 0)
			fail_msg("bad cell %s", vals[i]);
		pl_value_bind(ins, (int)i + 1, &pv[i]);
	}
	if (sqlite3_step(ins) != SQLITE_DONE)
		fail_msg("%s: %s", sql, sqlite3_errmsg(db));
	for (size_t i = 0; i < n; i++)
		pl_value_clear(&pv[i]);
	sqlite3_finalize(ins);
	sqlite3_free(sql);
	sqlite3_free(cols);
	sqlite3_free(qs);
	for (size_t i = 0; i < nowned; i++)
		sqlite3_free(owned[i]);
}

char *fx_dump_durable(sqlite3 *db)
{
	struct schema s;
	char err[256], *out = sqlite3_mprintf("");

	assert_int_equal(schema_load(db, &s, err, sizeof(err)), 0);
	for (size_t i = 0; i < s.ntables; i++) {
		const struct schema_table *t = &s.tables[i];
		char *sel = export_select_sql(t);
		sqlite3_stmt *st;
		assert_int_equal(sqlite3_prepare_v2(db, sel, -1, &st, NULL), SQLITE_OK);
		sqlite3_free(sel);
		while (sqlite3_step(st) == SQLITE_ROW) {
			char *line = sqlite3_mprintf("%s:", t->name);
			bool cimd = t->cimd_type_col >= 0 &&
				    sqlite3_column_type(st, t->cimd_type_col) == SQLITE_TEXT &&
				    strcmp((const char *)sqlite3_column_text(st, t->cimd_type_col), "cimd") == 0;
			for (size_t c = 0; c < t->ncols; c++) {
				if (!schema_column_shared(t, c, cimd))
					continue;
				sqlite3_stmt *q;
				sqlite3_prepare_v2(db, "SELECT quote(?)", -1, &q, NULL);
				sqlite3_bind_value(q, 1, sqlite3_column_value(st, (int)c));
				sqlite3_step(q);
				char *l2 = sqlite3_mprintf("%s %s=%s", line, t->cols[c], sqlite3_column_text(q, 0));
				sqlite3_finalize(q);
				sqlite3_free(line);
				line = l2;
			}
			char *o2 = sqlite3_mprintf("%s%s\n", out, line);
			sqlite3_free(out);
			sqlite3_free(line);
			out = o2;
		}
		sqlite3_finalize(st);
	}
	schema_free(&s);
	char *ret = strdup(out);
	sqlite3_free(out);
	return ret;
}

void fx_seed(sqlite3 *db)
{
	bool v2 = has_table(db, "storage");
	fx_row(db, "users", "id", "t:u-alice", "username", "t:alice", "email", "t:alice@example.com",
	       "first_name", "t:Alice", "last_name", "t:A", "is_admin", "i:1", "created_at", "i:1700000000", NULL);
	fx_row(db, "users", "id", "t:u-bob", "username", "t:bob", "email", "t:bob@example.com",
	       "first_name", "t:Bob", "last_name", "t:B", "created_at", "i:1700000001", NULL);
	fx_row(db, "users", "id", "t:u-carol", "username", "t:carol", "email", "t:carol@example.com",
	       "first_name", "t:Carol", "last_name", "t:C", "created_at", "i:1700000002", NULL);
	fx_row(db, "user_groups", "id", "t:g-admins", "name", "t:admins", "friendly_name", "t:Admins", NULL);
	fx_row(db, "user_groups", "id", "t:g-staff", "name", "t:staff", "friendly_name", "t:Staff", NULL);
	fx_row(db, "user_groups_users", "user_id", "t:u-alice", "user_group_id", "t:g-admins", NULL);
	fx_row(db, "user_groups_users", "user_id", "t:u-bob", "user_group_id", "t:g-staff", NULL);
	fx_row(db, "webauthn_credentials", "id", "t:c-alice-1", "name", "t:YubiKey", "user_id", "t:u-alice",
	       "credential_id", v2 ? "b:AQIDBA==" : "t:cred-alice-1", "public_key", "b:pQECAyYgASFYIA==",
	       "attestation_type", "t:none", NULL);
	fx_row(db, "webauthn_credentials", "id", "t:c-alice-2", "name", "t:Phone", "user_id", "t:u-alice",
	       "credential_id", v2 ? "b:BQYHCA==" : "t:cred-alice-2", "public_key", "b:pQECAyYgASFYIQ==",
	       "attestation_type", "t:none", NULL);
	fx_row(db, "webauthn_credentials", "id", "t:c-bob-1", "name", "t:Laptop", "user_id", "t:u-bob",
	       "credential_id", v2 ? "b:CQoLDA==" : "t:cred-bob-1", "public_key", "b:pQECAyYgASFYIg==",
	       "attestation_type", "t:none", NULL);
	fx_row(db, "custom_claims", "id", "t:cc-1", "key", "t:department", "value", "t:ops", "user_id", "t:u-bob", NULL);
	fx_row(db, "oidc_clients", "id", "t:client-1", "name", "t:Grafana", "callback_urls", "b:WyJodHRwczovL2cvY2IiXQ==",
	       "created_by_id", "t:u-alice", NULL);
	fx_row(db, "oidc_clients_allowed_user_groups", "oidc_client_id", "t:client-1", "user_group_id", "t:g-staff", NULL);
	fx_row(db, "api_keys", "id", "t:k-1", "name", "t:ci", "key", "t:hash-of-key-1", "user_id", "t:u-alice",
	       "expires_at", "i:1900000000", NULL);
}

void fx_seed_local(sqlite3 *db, const char *node)
{
	static const char *const users[] = {"t:u-alice", "t:u-bob", "t:u-carol"};
	char id[64], ev[64];
	for (int u = 0; u < 3; u++) {
		for (int i = 0; i < 2; i++) {
			snprintf(id, sizeof(id), "t:%s-audit-%d-%d", node, u, i);
			snprintf(ev, sizeof(ev), "t:SIGN_IN");
			fx_row(db, "audit_logs", "id", id, "event", ev, "user_id", users[u], "ip_address", "t:10.0.0.1", "data", "t:{}", NULL);
		}
	}
	snprintf(id, sizeof(id), "t:%s-session", node);
	fx_row(db, "webauthn_sessions", "id", id, "challenge", "t:abc", NULL);
}

char *fx_instance_id(sqlite3 *db)
{
	sqlite3_stmt *st;
	char *out = NULL;
	if (sqlite3_prepare_v2(db, "SELECT value FROM kv WHERE key='instance_id'", -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		out = strdup((const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	if (out == NULL && sqlite3_prepare_v2(db, "SELECT value FROM app_config_variables WHERE key='instanceId'", -1, &st, NULL) == SQLITE_OK) {
		if (sqlite3_step(st) == SQLITE_ROW)
			out = strdup((const char *)sqlite3_column_text(st, 0));
		sqlite3_finalize(st);
	}
	return out;
}

char *fx_jwk(sqlite3 *db, const char *encryption_key)
{
	struct jwt_store_cfg cfg = {(const uint8_t *)encryption_key, strlen(encryption_key), NULL, NULL};
	char *json, err[256], *out;
	size_t len;
	if (jwt_store_read(db, &cfg, &json, &len, err, sizeof(err)) != 0)
		fail_msg("jwt_store_read: %s", err);
	if (json == NULL)
		return NULL;
	out = strdup(json);
	OPENSSL_clear_free(json, len + 1);
	return out;
}
