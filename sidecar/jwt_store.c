/* jwt_store: reads and replaces the JWT signing key in Pocket ID's own
 * storage (kv row or v1.x key file). Never logs or prints key material. */
#include "errbuf.h"
#include "jwt_store.h"

#include "jwk.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define JWT_KV_KEY "jwt_private_key.json"
#define JWT_FILE_PLAIN "jwt_private_key.json"
#define JWT_FILE_ENC "jwt_private_key.json.enc"
#define JWT_MAX_FILE (256 * 1024)

/* First column of the first row of sql (with one text parameter), malloc'd;
 * NULL when there is no row or the table does not exist. */
static char *query_text(sqlite3 *db, const char *sql, const char *arg)
{
	sqlite3_stmt *st;
	char *out = NULL;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return NULL;
	sqlite3_bind_text(st, 1, arg, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0) != NULL)
		out = OPENSSL_strdup((const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	return out;
}

static char *instance_id(sqlite3 *db)
{
	char *id = query_text(db, "SELECT value FROM kv WHERE key = ?", "instance_id");

	if (id == NULL)
		id = query_text(db, "SELECT value FROM app_config_variables WHERE key = ?", "instanceId");
	return id;
}

static int node_kek(sqlite3 *db, const struct jwt_store_cfg *cfg, uint8_t kek[32], char *err,
		    size_t errlen)
{
	char *id;
	int rc;

	if (cfg->encryption_key == NULL)
		return errf(err, errlen, "ENCRYPTION_KEY is not set: cannot read or write the JWT "
					 "signing key (use the value Pocket ID uses on this node)");
	id = instance_id(db);
	if (id == NULL)
		return errf(err, errlen, "this Pocket ID database has no instance id yet: start "
					 "Pocket ID once on this node, then sync");
	rc = jwk_derive_kek(cfg->encryption_key, cfg->encryption_key_len, id, kek);
	OPENSSL_free(id);
	return rc == -1 ? errf(err, errlen, "cannot derive the key-encryption key") : 0;
}

static int key_file_path(const struct jwt_store_cfg *cfg, const char *name, char *out, size_t n)
{
	const char *dir = cfg->keys_path != NULL ? cfg->keys_path : "data/keys";
	return snprintf(out, n, "%s/%s", dir, name) < (int)n ? 0 : -1;
}

enum jwt_location jwt_store_location(sqlite3 *db, const struct jwt_store_cfg *cfg)
{
	char path[4096];
	char *row = query_text(db, "SELECT value FROM kv WHERE key = ?", JWT_KV_KEY);

	if (row != NULL) {
		OPENSSL_clear_free(row, strlen(row));
		return JWT_IN_KV;
	}
	if (cfg->keys_storage != NULL)
		return strcmp(cfg->keys_storage, "file") == 0 ? JWT_IN_FILE : JWT_IN_KV;
	/* v1.x default is file storage: a key file that exists decides. */
	if ((key_file_path(cfg, JWT_FILE_ENC, path, sizeof(path)) == 0 && access(path, F_OK) == 0) ||
	    (key_file_path(cfg, JWT_FILE_PLAIN, path, sizeof(path)) == 0 && access(path, F_OK) == 0))
		return JWT_IN_FILE;
	return JWT_IN_KV;
}

static char *read_small_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;

	if (f == NULL)
		return NULL;
	buf = OPENSSL_malloc(JWT_MAX_FILE + 1);
	*len = buf == NULL ? 0 : fread(buf, 1, JWT_MAX_FILE, f);
	fclose(f);
	if (buf != NULL)
		buf[*len] = '\0';
	return buf;
}

static int read_file_key(sqlite3 *db, const struct jwt_store_cfg *cfg, char **json, size_t *len,
			 char *err, size_t errlen)
{
	char path[4096], *text;
	uint8_t kek[32];
	size_t n;
	int rc;

	if (key_file_path(cfg, JWT_FILE_ENC, path, sizeof(path)) == 0 &&
	    (text = read_small_file(path, &n)) != NULL) {
		rc = node_kek(db, cfg, kek, err, errlen);
		if (rc == 0 && jwk_unwrap(kek, text, n, json, len) == -1)
			rc = errf(err, errlen, "%s: cannot decrypt with this node's ENCRYPTION_KEY", path);
		OPENSSL_cleanse(kek, sizeof(kek));
		OPENSSL_clear_free(text, JWT_MAX_FILE + 1);
		return rc;
	}
	if (key_file_path(cfg, JWT_FILE_PLAIN, path, sizeof(path)) == 0 &&
	    (text = read_small_file(path, &n)) != NULL) {
		*json = text;
		*len = n;
		return 0;
	}
	*json = NULL;
	return 0;
}

int jwt_store_read(sqlite3 *db, const struct jwt_store_cfg *cfg, char **json, size_t *len,
		   char *err, size_t errlen)
{
	uint8_t kek[32];
	char *row;
	int rc;

	*json = NULL;
	*len = 0;
	if (jwt_store_location(db, cfg) == JWT_IN_FILE)
		return read_file_key(db, cfg, json, len, err, errlen);
	row = query_text(db, "SELECT value FROM kv WHERE key = ?", JWT_KV_KEY);
	if (row == NULL)
		return 0;
	rc = node_kek(db, cfg, kek, err, errlen);
	if (rc == 0 && jwk_unwrap(kek, row, strlen(row), json, len) == -1)
		rc = errf(err, errlen, "cannot decrypt kv %s with this node's ENCRYPTION_KEY and "
				       "instance id (is ENCRYPTION_KEY the one Pocket ID uses here?)", JWT_KV_KEY);
	OPENSSL_cleanse(kek, sizeof(kek));
	OPENSSL_clear_free(row, strlen(row));
	return rc;
}

/* Encrypts json with this node's KEK into *wrapped (OPENSSL_malloc'd). */
static int wrap_for_node(sqlite3 *db, const struct jwt_store_cfg *cfg, const char *json,
			 char **wrapped, char *err, size_t errlen)
{
	uint8_t kek[32];
	int rc;

	if (node_kek(db, cfg, kek, err, errlen) == -1)
		return -1;
	rc = jwk_wrap(kek, json, strlen(json), wrapped);
	OPENSSL_cleanse(kek, sizeof(kek));
	return rc == -1 ? errf(err, errlen, "cannot encrypt the JWT signing key") : 0;
}

/* 1 when the node's current key equals json, 0 when it differs or there is
 * none, -1 when a key is there but does not decrypt: ENCRYPTION_KEY is then
 * not the one Pocket ID uses on this node, and a key wrapped with it would be
 * one Pocket ID cannot read, so nothing is replaced. */
static int compare_current(sqlite3 *db, const struct jwt_store_cfg *cfg, const char *json,
			   char *err, size_t errlen)
{
	char *cur;
	size_t len;
	int same;

	if (jwt_store_read(db, cfg, &cur, &len, err, errlen) == -1)
		return -1;
	if (cur == NULL)
		return 0;
	same = jwk_same(cur, json) ? 1 : 0;
	OPENSSL_clear_free(cur, len + 1);
	return same;
}

int jwt_store_write_kv(sqlite3 *db, const struct jwt_store_cfg *cfg, const char *json,
		       bool dry_run, bool *changed, char *err, size_t errlen)
{
	char *wrapped = NULL;
	sqlite3_stmt *st;
	int rc;

	*changed = false;
	rc = compare_current(db, cfg, json, err, errlen);
	if (rc != 0)
		return rc == 1 ? 0 : -1;
	*changed = true;
	if (wrap_for_node(db, cfg, json, &wrapped, err, errlen) == -1)
		return -1;
	if (dry_run) {
		OPENSSL_clear_free(wrapped, strlen(wrapped));
		return 0;
	}
	rc = sqlite3_prepare_v2(db, "INSERT INTO kv(key, value) VALUES(?, ?) "
				    "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
				-1, &st, NULL);
	if (rc == SQLITE_OK) {
		sqlite3_bind_text(st, 1, JWT_KV_KEY, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, wrapped, -1, SQLITE_STATIC);
		rc = sqlite3_step(st) == SQLITE_DONE ? SQLITE_OK : sqlite3_errcode(db);
		sqlite3_finalize(st);
	}
	OPENSSL_clear_free(wrapped, strlen(wrapped));
	if (rc != SQLITE_OK)
		return errf(err, errlen, "cannot write kv %s: %s", JWT_KV_KEY, sqlite3_errstr(rc));
	return 0;
}

static int write_atomic(const char *path, const char *data, size_t len)
{
	char tmp[4200];
	int fd;

	snprintf(tmp, sizeof(tmp), "%s.pocket-id-sync.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd == -1)
		return -1;
	if (write(fd, data, len) != (ssize_t)len || fsync(fd) == -1) {
		close(fd);
		unlink(tmp);
		return -1;
	}
	close(fd);
	if (rename(tmp, path) == -1) {
		unlink(tmp);
		return -1;
	}
	return 0;
}

int jwt_store_write_file(sqlite3 *db, const struct jwt_store_cfg *cfg, const char *json,
			 bool dry_run, bool *changed, char *err, size_t errlen)
{
	char path[4096], plain[4096];
	char *wrapped = NULL;
	int rc = 0;

	*changed = false;
	rc = compare_current(db, cfg, json, err, errlen);
	if (rc != 0)
		return rc == 1 ? 0 : -1;
	*changed = true;
	if (key_file_path(cfg, JWT_FILE_ENC, path, sizeof(path)) == -1 ||
	    key_file_path(cfg, JWT_FILE_PLAIN, plain, sizeof(plain)) == -1)
		return errf(err, errlen, "KEYS_PATH is too long");
	if (cfg->encryption_key == NULL) { /* Pocket ID v1.x keeps a plain file then */
		char *line;
		if (dry_run)
			return 0;
		line = OPENSSL_malloc(strlen(json) + 2);
		if (line == NULL)
			return errf(err, errlen, "out of memory");
		sprintf(line, "%s\n", json);
		rc = write_atomic(plain, line, strlen(line));
		OPENSSL_clear_free(line, strlen(line) + 1);
		return rc == -1 ? errf(err, errlen, "%s: %s", plain, strerror(errno)) : 0;
	}
	/* Also on a dry run, so that a node without an instance id is refused
	 * before the database is written, not after. */
	if (wrap_for_node(db, cfg, json, &wrapped, err, errlen) == -1)
		return -1;
	if (dry_run) {
		OPENSSL_clear_free(wrapped, strlen(wrapped));
		return 0;
	}
	rc = write_atomic(path, wrapped, strlen(wrapped));
	OPENSSL_clear_free(wrapped, strlen(wrapped));
	if (rc == -1)
		return errf(err, errlen, "%s: %s", path, strerror(errno));
	unlink(plain); /* as Pocket ID does once the key is encrypted */
	return 0;
}
