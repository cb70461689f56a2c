/* bench_gen: builds the benchmark's Pocket ID databases straight with SQL
 * (recursive CTEs, so 100,000 users take seconds): the durable shapes a real
 * installation has and the local runtime rows a secondary keeps for itself.
 * It measures nothing and knows nothing about the sync pipeline. */
#include "bench.h"

#include "jwk.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void gen_die(const char *what, const char *detail)
{
	fprintf(stderr, "pocket-id-sync-bench: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
	exit(1);
}

char *bench_slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	size_t cap = 4096, n = 0, r;
	char *buf = malloc(cap + 1);

	if (f == NULL || buf == NULL) {
		if (f != NULL)
			fclose(f);
		free(buf);
		return NULL;
	}
	while ((r = fread(buf + n, 1, cap - n, f)) > 0) {
		n += r;
		if (n == cap) {
			char *nb = realloc(buf, cap * 2 + 1);
			if (nb == NULL)
				break;
			buf = nb;
			cap *= 2;
		}
	}
	buf[n] = '\0';
	fclose(f);
	return buf;
}

void bench_exec(sqlite3 *db, const char *sql)
{
	char *msg = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		fprintf(stderr, "SQL: %s\n", sql);
		gen_die("database set-up failed", msg);
	}
}

long bench_count(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st;
	long n = -1;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
		n = (long)sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return n;
}

/* Runs a printf-style template whose only conversions are %d, each given n. */
static void exec_n(sqlite3 *db, const char *sql, int n)
{
	char *s = sqlite3_mprintf(sql, n, n, n, n);

	if (s == NULL)
		gen_die("out of memory", NULL);
	bench_exec(db, s);
	sqlite3_free(s);
}

static void kv_set(sqlite3 *db, const char *key, const char *value)
{
	sqlite3_stmt *st;

	if (sqlite3_prepare_v2(db, "INSERT OR REPLACE INTO kv(key,value) VALUES(?,?)", -1, &st, NULL) != SQLITE_OK)
		gen_die("kv", sqlite3_errmsg(db));
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, value, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE)
		gen_die("kv", sqlite3_errmsg(db));
	sqlite3_finalize(st);
}

sqlite3 *bench_gen_create(const char *path, const char *schema_sql, const char *instance_id,
			  const char *encryption_key, const char *jwk)
{
	sqlite3 *db;

	bench_unlink_db(path);
	if (sqlite3_open(path, &db) != SQLITE_OK)
		gen_die("cannot create a database", path);
	sqlite3_busy_timeout(db, 5000);
	bench_exec(db, "PRAGMA journal_mode=WAL");
	bench_exec(db, schema_sql);
	bench_exec(db, "PRAGMA foreign_keys=ON");
	kv_set(db, "instance_id", instance_id);
	if (jwk != NULL) {
		uint8_t kek[32];
		char *wrapped;
		if (jwk_derive_kek((const uint8_t *)encryption_key, strlen(encryption_key), instance_id, kek) == -1 ||
		    jwk_wrap(kek, jwk, strlen(jwk), &wrapped) == -1)
			gen_die("cannot wrap the JWT key", NULL);
		kv_set(db, "jwt_private_key.json", wrapped);
		OPENSSL_clear_free(wrapped, strlen(wrapped));
		OPENSSL_cleanse(kek, sizeof(kek));
	}
	return db;
}

#define SEQ "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i<%d) "
#define K3 "(SELECT 1 AS k UNION ALL SELECT 2 UNION ALL SELECT 3)"
#define TS(e) "printf('2025-%%02d-%%02d %%02d:%%02d:%%02d.%%06d+00:00', 1+(" e ")%%12, 1+(" e ")%%28, (" e ")%%24, (" e ")%%60, (" e ")*7%%60, (" e ")*7919%%1000000)"

static void gen_users(sqlite3 *db, int users)
{
	exec_n(db, SEQ "INSERT INTO users(id,created_at,updated_at,username,email,first_name,last_name,"
		   "display_name,is_admin,ldap_id,locale,disabled,email_verified) SELECT "
		   "printf('%%08x-%%04x-4%%03x-8%%03x-%%012x', i*2654435761%%4294967296, i%%65536, i%%4096, "
		   "i*7%%4096, i), " TS("i") ", CASE WHEN i%%5=0 THEN " TS("i+3") " END, 'user'||i, "
		   "'user'||i||'@example.com', 'First'||i, 'Lastname'||i, 'First'||i||' Lastname'||i, "
		   "i%%1000=1, NULL, CASE WHEN i%%3=0 THEN 'de' END, i%%200=0, 1 FROM n", users);
	/* 1-3 passkeys per user: random credential ids of 16-64 bytes, COSE keys of 77. */
	bench_exec(db, "INSERT INTO webauthn_credentials(id,created_at,name,credential_id,public_key,"
		       "attestation_type,transport,user_id,backup_eligible,backup_state) SELECT "
		       "printf('%08x-0000-4000-9000-%012x', u.rowid, k), u.created_at, "
		       "CASE k WHEN 1 THEN 'YubiKey 5' WHEN 2 THEN 'iPhone' ELSE 'Laptop' END, "
		       "randomblob(16+(u.rowid+k)%49), randomblob(77), CASE WHEN k=1 THEN 'packed' ELSE 'none' END, "
		       "CAST('[\"internal\",\"hybrid\"]' AS BLOB), u.id, k>1, k>1 "
		       "FROM users u JOIN " K3 " ks ON ks.k <= 1 + u.rowid%3");
}

static void gen_groups(sqlite3 *db, int groups)
{
	exec_n(db, SEQ "INSERT INTO user_groups(id,created_at,friendly_name,name,ldap_id,updated_at) SELECT "
		   "printf('%%08x-0000-4000-a000-%%012x', i, i), " TS("i") ", 'Group '||i, 'group-'||i, "
		   "NULL, NULL FROM n", groups);
	/* Each user in 1-3 distinct groups. */
	exec_n(db, "INSERT INTO user_groups_users(user_id,user_group_id) SELECT u.id, g.id FROM users u "
		   "JOIN " K3 " ks ON ks.k <= 1 + u.rowid%%3 JOIN user_groups g ON "
		   "g.rowid = (u.rowid + ks.k*(%d/3+1)) %% %d + 1", groups);
	bench_exec(db, "INSERT INTO custom_claims(id,created_at,key,value,user_id,user_group_id) SELECT "
		       "printf('%08x-0000-4000-b000-%012x', u.rowid, k), u.created_at, "
		       "CASE k WHEN 1 THEN 'department' ELSE 'cost_center' END, 'value-'||u.rowid||'-'||k, u.id, NULL "
		       "FROM users u JOIN (SELECT 1 AS k UNION ALL SELECT 2) ks WHERE u.rowid%4=0");
	bench_exec(db, "INSERT INTO custom_claims(id,created_at,key,value,user_id,user_group_id) SELECT "
		       "printf('%08x-0000-4000-c000-%012x', g.rowid, 0), g.created_at, 'team_mail', "
		       "g.name||'@example.com', NULL, g.id FROM user_groups g");
}

static void gen_clients(sqlite3 *db, int clients, int groups)
{
	exec_n(db, SEQ "INSERT INTO oidc_clients(id,created_at,name,callback_urls,image_type,created_by_id,"
		   "is_public,pkce_enabled,logout_callback_urls,credentials,launch_url,requires_reauthentication,"
		   "is_group_restricted,description,client_type) SELECT "
		   "printf('%%08x-0000-4000-d000-%%012x', i, i), " TS("i") ", 'App '||i, "
		   "CAST(json_array('https://app'||i||'.example.com/oauth2/callback') AS BLOB), "
		   "CASE WHEN i%%2 THEN 'png' END, (SELECT id FROM users WHERE rowid=1), i%%4=0, 1, "
		   "CAST(json_array('https://app'||i||'.example.com/logout') AS BLOB), "
		   "CAST('{\"federatedIdentities\":[]}' AS BLOB), 'https://app'||i||'.example.com', 0, i%%2=0, "
		   "'Application number '||i, 'standard' FROM n", clients);
	exec_n(db, "INSERT INTO oidc_clients_allowed_user_groups(user_group_id,oidc_client_id) SELECT g.id, c.id "
		   "FROM oidc_clients c JOIN (SELECT 0 AS k UNION ALL SELECT 1) ks JOIN user_groups g ON "
		   "g.rowid = (c.rowid + ks.k*(%d/2)) %% %d + 1", groups);
	bench_exec(db, "INSERT INTO apis(id,created_at,name,audience) SELECT 'api-'||k, '2025-01-01 00:00:00+00:00', "
		       "'API '||k, 'https://api'||k||'.example.com' FROM " K3);
	bench_exec(db, "INSERT INTO api_permissions(id,created_at,api_id,key,name,description) SELECT "
		       "'perm-'||a.k||'-'||p.k, '2025-01-01 00:00:00+00:00', 'api-'||a.k, 'scope'||p.k, "
		       "'Scope '||p.k, 'Lets a client use scope '||p.k FROM " K3 " a JOIN " K3 " p");
	bench_exec(db, "INSERT INTO oidc_clients_allowed_apis(oidc_client_id,api_id,subject_type) SELECT c.id, "
		       "'api-'||(1+c.rowid%3), 'user' FROM oidc_clients c WHERE c.rowid%2=1");
	bench_exec(db, "INSERT INTO oidc_clients_allowed_api_permissions(oidc_client_id,api_permission_id,"
		       "subject_type) SELECT c.id, 'perm-'||(1+c.rowid%3)||'-1', 'user' FROM oidc_clients c "
		       "WHERE c.rowid%2=1");
}

void bench_gen_durable(sqlite3 *db, int users)
{
	int groups = users / 100 > 10 ? users / 100 : 10;
	int clients = users / 1000 > 5 ? users / 1000 : 5;

	bench_exec(db, "BEGIN");
	gen_users(db, users);
	gen_groups(db, groups);
	gen_clients(db, clients, groups);
	/* API keys for one user in 20 (the key column holds a hash of the key). */
	bench_exec(db, "INSERT INTO api_keys(id,name,key,description,expires_at,last_used_at,created_at,user_id) "
		       "SELECT printf('%08x-0000-4000-e000-%012x', u.rowid, 0), 'ci-'||u.rowid, "
		       "lower(hex(randomblob(32))), 'CI deploy key', '2027-01-01 00:00:00+00:00', NULL, "
		       "u.created_at, u.id FROM users u WHERE u.rowid%20=0");
	/* Application images: logo, favicon, login background. */
	bench_exec(db, "INSERT INTO storage(path,data,size,mod_time,created_at) VALUES "
		       "('application-images/logo.svg', randomblob(8192), 8192, '2025-01-01 00:00:00+00:00', '2025-01-01 00:00:00+00:00'),"
		       "('application-images/favicon.ico', randomblob(4096), 4096, '2025-01-01 00:00:00+00:00', '2025-01-01 00:00:00+00:00'),"
		       "('application-images/background.jpg', randomblob(102400), 102400, '2025-01-01 00:00:00+00:00', '2025-01-01 00:00:00+00:00')");
	bench_exec(db, "COMMIT");
}

void bench_gen_local(sqlite3 *db, int users, int per_user)
{
	int n = users / 10 > 50 ? users / 10 : 50;

	bench_exec(db, "BEGIN");
	exec_n(db, SEQ "INSERT INTO audit_logs(id,created_at,event,ip_address,user_agent,data,user_id,country,city) "
		   "SELECT lower(hex(randomblob(16))), " TS("i") ", 'SIGN_IN_FAILED', '192.0.2.'||(i%%250), "
		   "'Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0', '{}', NULL, 'DE', 'Berlin' FROM n", n);
	exec_n(db, SEQ "INSERT INTO webauthn_sessions(id,created_at,challenge,expires_at,user_verification) "
		   "SELECT lower(hex(randomblob(16))), " TS("i") ", lower(hex(randomblob(32))), "
		   "'2030-01-01 00:00:00+00:00', 'required' FROM n", n / 10 + 1);
	exec_n(db, SEQ "INSERT INTO oauth2_jtis(id,created_at,jti,expires_at) SELECT lower(hex(randomblob(16))), "
		   TS("i") ", lower(hex(randomblob(16))), '2030-01-01 00:00:00+00:00' FROM n", n / 10 + 1);
	if (per_user) {
		bench_exec(db, "INSERT INTO audit_logs(id,created_at,event,ip_address,user_agent,data,user_id,country,city) "
			       "SELECT lower(hex(randomblob(16))), u.created_at, CASE k WHEN 1 THEN 'SIGN_IN' "
			       "ELSE 'TOKEN_SIGN_IN' END, '198.51.100.'||(u.rowid%250), "
			       "'Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0', '{\"clientName\":\"App 1\"}', u.id, "
			       "'DE', 'Berlin' FROM users u JOIN (SELECT 1 AS k UNION ALL SELECT 2) ks");
		bench_exec(db, "INSERT INTO user_authorized_oidc_clients(scope,user_id,client_id,last_used_at) "
			       "SELECT CAST('[\"openid\",\"profile\",\"email\"]' AS BLOB), u.id, c.id, u.created_at "
			       "FROM users u JOIN oidc_clients c ON c.rowid = 1 + u.rowid % "
			       "(SELECT count(*) FROM oidc_clients)");
		bench_exec(db, "INSERT INTO reauthentication_tokens(id,created_at,token,expires_at,user_id) SELECT "
			       "lower(hex(randomblob(16))), u.created_at, lower(hex(randomblob(32))), "
			       "'2030-01-01 00:00:00+00:00', u.id FROM users u WHERE u.rowid%100=0");
	}
	bench_exec(db, "COMMIT");
}

void bench_unlink_db(const char *path)
{
	char p[1100];

	unlink(path);
	snprintf(p, sizeof(p), "%s-wal", path);
	unlink(p);
	snprintf(p, sizeof(p), "%s-shm", path);
	unlink(p);
}
