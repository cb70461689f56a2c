/* preflight: the start-up checks `run` and `check-config` share (see
 * preflight.h). Every check here only reads; the variable a line names is
 * the one to fix. Pocket ID's own settings are pocketid_env_checks.c's. */
#include "preflight.h"

#include "appconfig_step.h"

#include "b64.h"
#include "jwt_store.h"
#include "keys.h"
#include "pocketid_env_checks.h"
#include "schema.h"

#include <curl/curl.h>
#include <errno.h>
#include <libgen.h>
#include <netdb.h>
#include <openssl/crypto.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define E(pf, ...) config_problem(&(pf)->errors, __VA_ARGS__)
#define W(pf, ...) config_problem(&(pf)->warnings, __VA_ARGS__)

/* The directory holding path (for SQLite's -wal/-shm and the state dir's
 * parent), into out. */
static const char *parent_of(const char *path, char out[static 4096])
{
	snprintf(out, 4096, "%s", path);
	return dirname(out);
}

/* A file the sidecar can open read-write, in a directory where SQLite can
 * keep its journal. Returns 0 when the database itself is worth opening. */
static int check_database_file(const char *path, struct preflight *pf)
{
	struct stat st;
	char dir[4096];

	if (stat(path, &st) == -1) {
		E(pf, "DB_CONNECTION_STRING: %s: %s%s", path, strerror(errno),
		  strncmp(path, "/app/", 5) == 0 ? " (a path inside Pocket ID's container: set the "
						   "host path in sync.env)" : "");
		return -1;
	}
	if (S_ISDIR(st.st_mode)) {
		E(pf, "DB_CONNECTION_STRING: %s is a directory; name Pocket ID's database file "
		      "(usually data/pocket-id.db below Pocket ID's directory)", path);
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		E(pf, "DB_CONNECTION_STRING: %s is not a regular file", path);
		return -1;
	}
	if (access(path, R_OK | W_OK) == -1) {
		E(pf, "DB_CONNECTION_STRING: %s: %s (the sidecar reads and writes Pocket ID's "
		      "database: run it in the group that owns it)", path, strerror(errno));
		return -1;
	}
	parent_of(path, dir);
	if (access(dir, W_OK | X_OK) == -1) {
		E(pf, "DB_CONNECTION_STRING: directory %s: %s (SQLite keeps its -wal and -shm "
		      "files next to the database)", dir, strerror(errno));
		return -1;
	}
	return 0;
}

/* SQLite, Pocket ID's schema, and the JWT key decrypting with this node's
 * ENCRYPTION_KEY, on a read-only connection inside one read transaction. */
static void check_database_content(const struct config *cfg, struct preflight *pf,
				   char version[static 32])
{
	struct jwt_store_cfg keys = {cfg->encryption_key, cfg->encryption_key_len,
				     cfg->keys_storage, cfg->keys_path};
	struct schema s;
	sqlite3 *db = NULL;
	char err[512], *json = NULL;
	size_t len = 0;

	if (sqlite3_open_v2(cfg->db_path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK ||
	    sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_exec(db, "SELECT count(*) FROM sqlite_schema", NULL, NULL, NULL) != SQLITE_OK) {
		E(pf, "DB_CONNECTION_STRING: %s: not an SQLite database this node can read (%s)",
		  cfg->db_path, db != NULL ? sqlite3_errmsg(db) : "out of memory");
		sqlite3_close(db);
		return;
	}
	sqlite3_busy_timeout(db, 2000);
	if (schema_load(db, &s, err, sizeof(err)) == -1)
		E(pf, "DB_CONNECTION_STRING: %s: %s", cfg->db_path, err);
	else if (snprintf(version, 32, "%s", s.version) < 0)
		version[0] = '\0';
	else if (jwt_store_read(db, &keys, &json, &len, err, sizeof(err)) == -1)
		E(pf, "ENCRYPTION_KEY: %s", err);
	else if (json == NULL)
		W(pf, "DB_CONNECTION_STRING: %s holds no JWT signing key yet (start Pocket ID once)",
		  cfg->db_path);
	schema_free(&s);
	if (json != NULL)
		OPENSSL_clear_free(json, len + 1);
	sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	sqlite3_close(db);
}

/* The state directory (created by run when missing: its parent must take
 * it) and the node key in it. Sets *have_key when me was loaded. Returns 0,
 * or -1 after adding an error. */
static int check_state_dir(const struct config *cfg, struct preflight *pf,
			   struct node_key *me, bool *have_key)
{
	const char *dir = cfg->state_dir;
	char path[4096], parent[4096], err[512];
	struct stat st;

	*have_key = false;
	if (dir == NULL)
		return 0;
	if (stat(dir, &st) == -1) {
		if (errno == ENOTDIR)
			E(pf, "SYNC_STATE_DIR: %s: a part of the path is a file, not a directory", dir);
		else if (errno != ENOENT)
			E(pf, "SYNC_STATE_DIR: %s: %s", dir, strerror(errno));
		else if (access(parent_of(dir, parent), W_OK | X_OK) == -1)
			E(pf, "SYNC_STATE_DIR: %s does not exist and cannot be created in %s: %s", dir,
			  parent, strerror(errno));
		else
			return 0;
		return -1;
	}
	if (!S_ISDIR(st.st_mode) || access(dir, W_OK | X_OK) == -1) {
		E(pf, "SYNC_STATE_DIR: %s is not a writable directory", dir);
		return -1;
	}
	snprintf(path, sizeof(path), "%s/%s", dir, KEYS_FILE_NAME);
	if (access(path, F_OK) == -1)
		return 0;
	if (keys_load(dir, me, err, sizeof(err)) == -1) {
		E(pf, "SYNC_STATE_DIR: %s", err);
		return -1;
	}
	*have_key = true;
	return 0;
}

/* A secondary's enrolment: a token without the key it was issued for is a
 * wiped or moved state directory; no token is a documented waiting state. */
static void check_enrolment(const struct config *cfg, bool have_key, struct preflight *pf)
{
	if (cfg->role != ROLE_SECONDARY)
		return;
	if (cfg->primary_token != NULL && !have_key)
		E(pf, "SYNC_STATE_DIR: %s has no %s but SYNC_PRIMARY_TOKEN is set: the token was "
		      "issued for the key this node had (state directory wiped or changed?). Restore "
		      "%s, or re-enrol: empty the token, start, `peer add` the new key on the primary",
		  cfg->state_dir, KEYS_FILE_NAME, KEYS_FILE_NAME);
	else if (cfg->primary_token == NULL && cfg->primary_url != NULL)
		W(pf, "SYNC_PRIMARY_TOKEN: not set: this secondary is not enrolled yet; `run` only "
		      "serves /sync/pubkey until it is (README, Bootstrap steps 3-5)");
	else if (cfg->primary_token == NULL && cfg->has_primary_pubkey)
		W(pf, "offline secondary (SYNC_PRIMARY_PUBKEY, no SYNC_PRIMARY_URL): bring payloads "
		      "with `apply`; `run` only serves /sync/pubkey");
	else if (cfg->primary_token == NULL)
		W(pf, "SYNC_PRIMARY_URL and SYNC_PRIMARY_TOKEN: not set: this secondary neither "
		      "polls nor knows its primary; `run` only serves /sync/pubkey");
}

static bool wildcard(const char *host)
{
	return host[0] == '\0' || strcmp(host, "0.0.0.0") == 0 || strcmp(host, "::") == 0;
}

/* Binds host:port once. Returns 0, or an errno value. */
static int try_bind(const char *host, uint16_t port, char *why, size_t n)
{
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
				 .ai_flags = AI_PASSIVE}, *ai;
	char ps[8];
	int fd, one = 1, rc = 0;

	snprintf(ps, sizeof(ps), "%u", (unsigned)port);
	if ((rc = getaddrinfo(host, ps, &hints, &ai)) != 0) {
		snprintf(why, n, "cannot resolve: %s", gai_strerror(rc));
		return EINVAL;
	}
	fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
	if (fd == -1 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == -1 ||
	    bind(fd, ai->ai_addr, ai->ai_addrlen) == -1)
		rc = errno;
	if (fd != -1)
		close(fd);
	freeaddrinfo(ai);
	snprintf(why, n, "%s", strerror(rc));
	return rc;
}

struct probe_buf {
	char data[64];
	size_t len;
};

static size_t on_probe_body(char *p, size_t size, size_t nmemb, void *arg)
{
	struct probe_buf *b = arg;
	size_t len = size * nmemb;

	if (b->len + len >= sizeof(b->data))
		return 0;
	memcpy(b->data + b->len, p, len);
	b->len += len;
	return len;
}

/* Whether this node's own daemon answers on host:port (its /sync/pubkey
 * is this node's key): then the port is in use by the right process. */
static bool own_daemon_listens(const char *host, uint16_t port, const struct node_key *me)
{
	struct probe_buf b = {.len = 0};
	char url[300], pub[45];
	CURL *c = curl_easy_init();
	bool same = false;

	if (c == NULL || me == NULL) {
		curl_easy_cleanup(c);
		return false;
	}
	snprintf(url, sizeof(url), strchr(host, ':') != NULL && !wildcard(host)
				   ? "http://[%s]:%u/sync/pubkey" : "http://%s:%u/sync/pubkey",
		 wildcard(host) ? "127.0.0.1" : host, (unsigned)port);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 2000L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_probe_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	if (curl_easy_perform(c) == CURLE_OK) {
		b64_encode(pub, me->pub, 32);
		b.data[b.len] = '\0';
		same = strncmp(b.data, pub, 44) == 0;
	}
	curl_easy_cleanup(c);
	return same;
}

static void check_listener(const char *var, const char *host, uint16_t port,
			   const struct node_key *me, bool *own, struct preflight *pf)
{
	char why[160];
	int rc;

	if (port == 0)
		return;
	rc = try_bind(host, port, why, sizeof(why));
	if (rc == EADDRINUSE && (*own || own_daemon_listens(host, port, me))) {
		*own = true;
		W(pf, "%s: %s:%u is in use by this node's running pocket-id-sync", var, host,
		  (unsigned)port);
	} else if (rc == EADDRINUSE) {
		E(pf, "%s: cannot listen on %s:%u: %s (another process holds it: `ss -ltnp "
		      "'sport = :%u'`; stop it or choose another port)", var, host, (unsigned)port, why,
		  (unsigned)port);
	} else if (rc != 0) {
		E(pf, "%s: cannot listen on %s:%u: %s", var, host, (unsigned)port, why);
	}
}

static void check_listeners(const struct config *cfg, const struct node_key *me, unsigned flags,
			    struct preflight *pf)
{
	bool own = false;

	if (cfg->listen_port != 0 && cfg->listen_port == cfg->metrics_port &&
	    (strcmp(cfg->listen_host, cfg->metrics_host) == 0 || wildcard(cfg->listen_host) ||
	     wildcard(cfg->metrics_host))) {
		E(pf, "SYNC_METRICS_LISTEN: the same port as SYNC_LISTEN (%u); they must differ "
		      "(defaults 1412 and 9412)", (unsigned)cfg->listen_port);
		return;
	}
	if (!(flags & PREFLIGHT_LISTENERS))
		return;
	check_listener("SYNC_LISTEN", cfg->listen_host, cfg->listen_port, me, &own, pf);
	check_listener("SYNC_METRICS_LISTEN", cfg->metrics_host, cfg->metrics_port, me, &own, pf);
}

/* The application configuration through Pocket ID's API: run does not need
 * it to start, so a failure is a warning with its cause. */
static void check_pocket_id_api(const struct config *cfg, struct preflight *pf)
{
	struct appconfig ac;
	char err[512];

	if (cfg->pocket_id_api_key == NULL)
		return;
	if (cfg->ui_config_disabled) {
		W(pf, "SYNC_POCKET_ID_API_KEY: ignored: UI_CONFIG_DISABLED=true, this node's configuration "
		      "comes from its environment");
		return;
	}
	if (appconfig_step_read(cfg, &ac, err, sizeof(err)) == -1)
		W(pf, "SYNC_POCKET_ID_API_KEY: %s; the data sync works, the application configuration "
		      "does not move until this is fixed", err);
	appconfig_free(&ac);
}

void preflight_run(const struct config *cfg, const struct envmap *m, unsigned flags,
		   struct preflight *out)
{
	struct node_key me;
	bool have_key = false;
	char version[32] = "";

	memset(out, 0, sizeof(*out));
	if (cfg->db_path != NULL && check_database_file(cfg->db_path, out) == 0)
		check_database_content(cfg, out, version);
	if (check_state_dir(cfg, out, &me, &have_key) == 0)
		check_enrolment(cfg, have_key, out);
	check_listeners(cfg, have_key ? &me : NULL, flags, out);
	if (flags & PREFLIGHT_POCKET_ID)
		check_pocket_id_api(cfg, out);
	pocketid_env_check(cfg, m, version[0] != '\0' ? version : NULL, &out->errors,
			   &out->warnings);
	keys_wipe(&me);
}
