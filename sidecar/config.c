/* config: maps variables to struct config and reports problems. The checks
 * here are about values and presence only; whether the database or state
 * directory actually work is checked by the commands that open them. */
#include "config.h"

#include "b64.h"
#include "dbconn.h"
#include "forward.h"
#include "parse.h"
#include "secret.h"
#include "token.h"

#include <openssl/crypto.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const struct config_var config_vars[] = {
	{"SYNC_ENABLED", "true", "false makes `run` exit at once (status 0)"},
	{"SYNC_ROLE", NULL, "primary or secondary"},
	{"SYNC_PRIMARY_URL", NULL, "secondary: base URL of the primary's sidecar, e.g. http://10.0.0.1:1412"},
	{"SYNC_PRIMARY_TOKEN", NULL, "secondary: the string `peer add` printed (pisync1.<key>.<token>)"},
	{"SYNC_PRIMARY_TOKEN_FILE", NULL, "secondary: file holding SYNC_PRIMARY_TOKEN (mode 0600; empty counts as unset)"},
	{"SYNC_PRIMARY_PUBKEY", NULL, "secondary: pin the primary's public key explicitly (base64)"},
	{"SYNC_INTERVAL", "5m", "secondary: full poll interval (Go duration)"},
	{"SYNC_LONG_POLL_TIMEOUT", "30s", "secondary: how long the primary may hold a poll open waiting for a change; 0 disables change push"},
	{"DB_CONNECTION_STRING", "data/pocket-id.db", "Pocket ID's SQLite database (path or file: URI)"},
	{"ENCRYPTION_KEY", NULL, "Pocket ID's encryption key (needed to move the JWT signing key)"},
	{"ENCRYPTION_KEY_FILE", NULL, "file holding ENCRYPTION_KEY (mode 0600); read as is, like Pocket ID: a trailing newline is part of the key"},
	{"KEYS_STORAGE", NULL, "Pocket ID v1.x only: file or database"},
	{"KEYS_PATH", "data/keys", "Pocket ID v1.x only: directory of the JWT key file"},
	{"UI_CONFIG_DISABLED", "false", "Pocket ID's: true = its configuration comes from env: no restart for synced app_config_variables, and the sidecar never writes the configuration through the API"},
	{"LDAP_ENABLED", "false", "Pocket ID's: LDAP sync; must be false on a secondary (its LDAP job would replace users)"},
	{"SYNC_STATE_DIR", "/var/lib/pocket-id-sync", "the sidecar's own state: private.key, state.db"},
	{"SYNC_LISTEN", "0.0.0.0:1412", "sync and admin HTTP listener (host:port)"},
	{"SYNC_METRICS_LISTEN", "127.0.0.1:9412", "Prometheus metrics listener (host:port)"},
	{"SYNC_RESTART_COMMAND", NULL, "run (via /bin/sh -c) after an apply changed what Pocket ID caches"},
	{"SYNC_RESTART_TIMEOUT", "2m", "how long SYNC_RESTART_COMMAND may run"},
	{"SYNC_MAX_DELETE_PERCENT", "50", "refuse payloads deleting more than this % of users or passkeys"},
	{"SYNC_MAX_PAYLOAD_SIZE", "256MiB", "largest sealed payload accepted or produced"},
	{"SYNC_VERIFY_INTERVAL", "10m", "secondary: how often it re-reads its whole database to prove it still holds what it last applied (deltas need that proof; 0 = only at start)"},
	{"SYNC_BUSY_TIMEOUT", "2s", "how long one apply attempt waits for the database write lock"},
	{"SYNC_ADMIN_TOKEN", NULL, "primary: token required by the admin API (then also on loopback)"},
	{"SYNC_ADMIN_TOKEN_FILE", NULL, "file holding SYNC_ADMIN_TOKEN (mode 0600)"},
	{"SYNC_HEALTH_STALE_INTERVALS", "3", "secondary: /healthz fails after this many intervals (plus SYNC_LONG_POLL_TIMEOUT) without a sync"},
	{"SYNC_LOG_LEVEL", "info", "error, warn, info or debug"},
	{"SYNC_POCKET_ID_URL", "http://127.0.0.1:1411", "this node's own Pocket ID (never the proxy), for the application configuration; the port follows PORT"},
	{"SYNC_POCKET_ID_API_KEY", NULL, "an admin API key of Pocket ID: turns on syncing the application configuration through Pocket ID's API"},
	{"SYNC_POCKET_ID_API_KEY_FILE", NULL, "file holding SYNC_POCKET_ID_API_KEY (mode 0600)"},
	{"SYNC_FORWARD_PEERS", NULL, "active/active: the other nodes' Pocket ID base URLs (http://host:port, comma-separated); turns on the OIDC back-channel forwarder on SYNC_LISTEN"},
	{"PORT", "1411", "Pocket ID's listen port (its .env); the default of SYNC_POCKET_ID_URL uses it"},
	{NULL, NULL, NULL},
};

void config_problem(struct config_problems *pr, const char *fmt, ...)
{
	va_list ap;

	if (pr->count >= CONFIG_MAX_PROBLEMS)
		return;
	va_start(ap, fmt);
	vsnprintf(pr->line[pr->count++], sizeof(pr->line[0]), fmt, ap);
	va_end(ap);
}

#define problem config_problem

static const char *default_of(const char *name)
{
	for (const struct config_var *v = config_vars; v->name != NULL; v++) {
		if (strcmp(v->name, name) == 0)
			return v->default_value;
	}
	return NULL;
}

/* The value of name, or its default; empty values count as unset. */
static const char *value_of(const struct envmap *m, const char *name)
{
	const char *v = envmap_value(m, name);
	return v != NULL && *v != '\0' ? v : default_of(name);
}

static char *dup_or_problem(const char *s, struct config_problems *pr, const char *name)
{
	char *d = s == NULL ? NULL : strdup(s);
	if (s != NULL && d == NULL)
		problem(pr, "%s: out of memory", name);
	return d;
}

/* Reads NAME or NAME_FILE (not both) into a malloc'd secret; NULL if unset.
 * exact: take the file's bytes untrimmed (Pocket ID's rule for []byte
 * settings such as ENCRYPTION_KEY_FILE, so both derive the same KEK). */
static char *load_secret_as(const struct envmap *m, const char *name, bool exact,
			    struct config_problems *pr, size_t *len)
{
	char file_name[64], err[300], *out = NULL;
	const char *direct = value_of(m, name), *file;

	snprintf(file_name, sizeof(file_name), "%s_FILE", name);
	file = value_of(m, file_name);
	*len = 0;
	if (direct != NULL && file != NULL) {
		problem(pr, "%s: set either %s or %s, not both", name, name, file_name);
		return NULL;
	}
	if (file != NULL) {
		if ((exact ? secret_read_file_exact : secret_read_file)(file, &out, len, err,
									sizeof(err)) == -1)
			problem(pr, "%s: %s%s", file_name, err,
				strncmp(file, "/app/", 5) == 0 ? " (a path inside Pocket ID's container: "
								 "set the host path in sync.env)" : "");
		return out;
	}
	if (direct != NULL) {
		*len = strlen(direct);
		out = OPENSSL_strdup(direct);
		if (out == NULL)
			problem(pr, "%s: out of memory", name);
	}
	return out;
}

static char *load_secret(const struct envmap *m, const char *name, struct config_problems *pr,
			 size_t *len)
{
	return load_secret_as(m, name, false, pr, len);
}

static void load_duration(const struct envmap *m, const char *name, uint64_t min_ms,
			  uint64_t *out, struct config_problems *pr)
{
	const char *v = value_of(m, name);

	if (parse_duration_ms(v, out) == -1)
		problem(pr, "%s: \"%s\" is not a duration (examples: 30s, 5m, 1h30m)", name, v);
	else if (*out < min_ms)
		problem(pr, "%s: must be at least %llums", name, (unsigned long long)min_ms);
}

static void load_listen(const struct envmap *m, const char *name, char host[static 256],
			uint16_t *port, struct config_problems *pr)
{
	const char *v = value_of(m, name);

	if (parse_host_port(v, host, port) == -1)
		problem(pr, "%s: \"%s\" is not host:port", name, v);
}

static void load_int(const struct envmap *m, const char *name, long long min, long long max,
		     int *out, struct config_problems *pr)
{
	const char *v = value_of(m, name);
	long long x;

	if (parse_int_range(v, min, max, &x) == -1)
		problem(pr, "%s: \"%s\" is not a whole number from %lld to %lld", name, v, min, max);
	else
		*out = (int)x;
}

static void load_bool(const struct envmap *m, const char *name, bool *out, struct config_problems *pr)
{
	const char *v = value_of(m, name);

	if (parse_bool(v, out) == -1)
		problem(pr, "%s: \"%s\" is not true or false", name, v);
}

static void load_general(struct config *cfg, const struct envmap *m, struct config_problems *pr)
{
	const char *v;
	uint64_t size;

	load_bool(m, "SYNC_ENABLED", &cfg->enabled, pr);
	v = value_of(m, "SYNC_LOG_LEVEL");
	if (log_level_parse(v, &cfg->log_level) == -1)
		problem(pr, "SYNC_LOG_LEVEL: \"%s\" is not error, warn, info or debug", v);
	load_duration(m, "SYNC_INTERVAL", 1000, &cfg->interval_ms, pr);
	load_duration(m, "SYNC_LONG_POLL_TIMEOUT", 0, &cfg->long_poll_ms, pr);
	if (cfg->long_poll_ms > 300000)
		problem(pr, "SYNC_LONG_POLL_TIMEOUT: must be at most 5m");
	load_duration(m, "SYNC_RESTART_TIMEOUT", 1000, &cfg->restart_timeout_ms, pr);
	load_duration(m, "SYNC_BUSY_TIMEOUT", 10, &cfg->busy_timeout_ms, pr);
	load_duration(m, "SYNC_VERIFY_INTERVAL", 0, &cfg->verify_interval_ms, pr);
	load_listen(m, "SYNC_LISTEN", cfg->listen_host, &cfg->listen_port, pr);
	load_listen(m, "SYNC_METRICS_LISTEN", cfg->metrics_host, &cfg->metrics_port, pr);
	load_int(m, "SYNC_MAX_DELETE_PERCENT", 0, 100, &cfg->max_delete_percent, pr);
	load_int(m, "SYNC_HEALTH_STALE_INTERVALS", 1, 1000, &cfg->health_stale_intervals, pr);
	v = value_of(m, "SYNC_MAX_PAYLOAD_SIZE");
	if (parse_size_bytes(v, &size) == -1 || size < 4096 || size > (1ull << 30))
		problem(pr, "SYNC_MAX_PAYLOAD_SIZE: \"%s\" is not a size from 4KiB to 1GiB", v);
	else
		cfg->max_payload_bytes = size;
	load_bool(m, "UI_CONFIG_DISABLED", &cfg->ui_config_disabled, pr);
	load_bool(m, "LDAP_ENABLED", &cfg->ldap_enabled, pr);
	cfg->restart_command = dup_or_problem(value_of(m, "SYNC_RESTART_COMMAND"), pr,
					      "SYNC_RESTART_COMMAND");
	cfg->keys_storage = dup_or_problem(value_of(m, "KEYS_STORAGE"), pr, "KEYS_STORAGE");
	cfg->keys_path = dup_or_problem(value_of(m, "KEYS_PATH"), pr, "KEYS_PATH");
	if (cfg->keys_storage != NULL && strcmp(cfg->keys_storage, "file") != 0 &&
	    strcmp(cfg->keys_storage, "database") != 0)
		problem(pr, "KEYS_STORAGE: \"%s\" is not file or database", cfg->keys_storage);
}

static void load_role(struct config *cfg, const struct envmap *m, unsigned needs,
		      struct config_problems *pr)
{
	const char *v = value_of(m, "SYNC_ROLE");

	if (v == NULL) {
		if (needs & NEED_ROLE)
			problem(pr, "SYNC_ROLE: not set (primary or secondary)");
	} else if (strcmp(v, "primary") == 0) {
		cfg->role = ROLE_PRIMARY;
	} else if (strcmp(v, "secondary") == 0) {
		cfg->role = ROLE_SECONDARY;
	} else {
		problem(pr, "SYNC_ROLE: \"%s\" is not primary or secondary", v);
	}
}

static void load_pin(struct config *cfg, const struct envmap *m, unsigned needs,
		     const struct bootstrap_token *tok, struct config_problems *pr)
{
	const char *v = value_of(m, "SYNC_PRIMARY_PUBKEY");
	uint8_t pin[32];

	if (v != NULL) {
		if (b64_decode_exact(v, pin, 32) == -1) {
			problem(pr, "SYNC_PRIMARY_PUBKEY: not a base64 X25519 public key (44 characters)");
			return;
		}
		if (tok->has_pubkey && CRYPTO_memcmp(pin, tok->primary_pubkey, 32) != 0) {
			problem(pr, "SYNC_PRIMARY_PUBKEY: differs from the key inside SYNC_PRIMARY_TOKEN");
			return;
		}
		memcpy(cfg->primary_pubkey, pin, 32);
		cfg->has_primary_pubkey = true;
	} else if (tok->has_pubkey) {
		memcpy(cfg->primary_pubkey, tok->primary_pubkey, 32);
		cfg->has_primary_pubkey = true;
	} else if (needs & NEED_PIN) {
		problem(pr, "SYNC_PRIMARY_PUBKEY: the primary's public key is unknown; use the "
			    "full pisync1.… string from `peer add` as SYNC_PRIMARY_TOKEN or set this");
	}
}

static void load_secondary(struct config *cfg, const struct envmap *m, unsigned needs,
			   struct config_problems *pr)
{
	const char *url = value_of(m, "SYNC_PRIMARY_URL");
	bool secondary = cfg->role == ROLE_SECONDARY && (needs & NEED_ROLE) != 0;
	struct bootstrap_token tok = {0};
	size_t len;
	char *raw = load_secret(m, "SYNC_PRIMARY_TOKEN", pr, &len);
	bool has_token;

	/* An empty token file counts as unset, like an empty variable: the unit
	 * loads /etc/pocket-id-sync/primary-token as a credential on every node,
	 * and it stays empty on a primary and on a secondary not enrolled yet. */
	if (raw != NULL && len == 0) {
		secret_free(raw);
		raw = NULL;
	}
	has_token = raw != NULL;

	if (url != NULL && strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0)
		problem(pr, "SYNC_PRIMARY_URL: \"%s\" must start with http:// or https://", url);
	else if (url == NULL && secondary && has_token)
		problem(pr, "SYNC_PRIMARY_URL: not set (a secondary with SYNC_PRIMARY_TOKEN polls it)");
	cfg->primary_url = dup_or_problem(url, pr, "SYNC_PRIMARY_URL");
	if (raw != NULL) {
		if (token_parse(raw, &tok) == -1)
			problem(pr, "SYNC_PRIMARY_TOKEN: not a token printed by `pocket-id-sync peer add`");
		else
			cfg->primary_token = OPENSSL_strdup(tok.secret);
		secret_free(raw);
	} else if (secondary && (needs & NEED_TOKEN)) {
		problem(pr, "SYNC_PRIMARY_TOKEN: not set (register this node on the primary with "
			    "`pocket-id-sync peer add` and put the printed pisync1... string here)");
	}
	/* A secondary needs the pin wherever its role is checked (run,
	 * check-config); commands that do not care about the role (open, apply)
	 * ask for it with NEED_PIN alone. pubkey, status and peer ask for
	 * neither: a new secondary prints its key before it knows the primary. */
	/* The pin comes with the token: a secondary without one is either not
	 * enrolled yet (`run` then only serves its key) or already told so. */
	if ((secondary && has_token) ||
	    ((needs & NEED_PIN) && !(needs & NEED_ROLE)))
		load_pin(cfg, m, needs | NEED_PIN, &tok, pr);
	else
		load_pin(cfg, m, needs & ~(unsigned)NEED_PIN, &tok, pr);
	token_wipe(&tok);
}

static void load_db_and_keys(struct config *cfg, const struct envmap *m, unsigned needs,
			     struct config_problems *pr)
{
	char err[256];
	const char *conn = value_of(m, "DB_CONNECTION_STRING");
	size_t len;
	char *key;

	if (dbconn_parse(conn, &cfg->db_path, err, sizeof(err)) == -1)
		problem(pr, "DB_CONNECTION_STRING: %s", err);
	key = load_secret_as(m, "ENCRYPTION_KEY", true, pr, &len);
	if (key != NULL && len < 16) {
		problem(pr, "ENCRYPTION_KEY: must be at least 16 bytes (Pocket ID's own rule)");
		secret_free(key);
		key = NULL;
	} else if (key == NULL && (needs & NEED_KEK) && value_of(m, "ENCRYPTION_KEY") == NULL &&
		   value_of(m, "ENCRYPTION_KEY_FILE") == NULL &&
		   !(cfg->keys_storage != NULL && strcmp(cfg->keys_storage, "file") == 0)) {
		problem(pr, "ENCRYPTION_KEY: not set (needed to move the JWT signing key; "
			    "use the same variable Pocket ID uses on this node)");
	}
	cfg->encryption_key = (uint8_t *)key;
	cfg->encryption_key_len = key != NULL ? len : 0;
	cfg->state_dir = dup_or_problem(value_of(m, "SYNC_STATE_DIR"), pr, "SYNC_STATE_DIR");
}

/* The application-configuration path: SYNC_POCKET_ID_URL (default: loopback
 * at Pocket ID's PORT) and the API key. */
static void load_pocket_id_api(struct config *cfg, const struct envmap *m, struct config_problems *pr)
{
	const char *url = envmap_value(m, "SYNC_POCKET_ID_URL"), *v;
	long long port = 1411;
	char buf[64];
	size_t len;

	cfg->pocket_id_api_key = load_secret(m, "SYNC_POCKET_ID_API_KEY", pr, &len);
	if (cfg->pocket_id_api_key != NULL && len == 0) {
		secret_free(cfg->pocket_id_api_key);
		cfg->pocket_id_api_key = NULL;
	}
	if (url == NULL || *url == '\0') {
		v = value_of(m, "PORT");
		/* Pocket ID's own setting: only worth a problem when it is used. */
		if (parse_int_range(v, 1, 65535, &port) == -1 && cfg->pocket_id_api_key != NULL)
			problem(pr, "PORT: \"%s\" is not a port number (set SYNC_POCKET_ID_URL instead)", v);
		snprintf(buf, sizeof(buf), "http://127.0.0.1:%lld", port);
		url = buf;
	} else if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0) {
		problem(pr, "SYNC_POCKET_ID_URL: \"%s\" must start with http:// or https://", url);
	}
	cfg->pocket_id_url = dup_or_problem(url, pr, "SYNC_POCKET_ID_URL");
}

static void load_forward_peers(struct config *cfg, const struct envmap *m, struct config_problems *pr)
{
	const char *v = value_of(m, "SYNC_FORWARD_PEERS");
	char err[300];
	int n;

	if (v == NULL)
		return;
	n = forward_parse_peers(v, &cfg->forward_peers, err, sizeof(err));
	if (n == -1)
		problem(pr, "SYNC_FORWARD_PEERS: %s", err);
	else
		cfg->nforward_peers = (size_t)n;
	if (n > 0 && strncmp(cfg->pocket_id_url, "http://", 7) != 0)
		problem(pr, "SYNC_FORWARD_PEERS: the forwarder reaches this node's Pocket ID over plain "
			    "HTTP: SYNC_POCKET_ID_URL must be http://");
}

static void check_unknown(const struct envmap *m, struct config_problems *pr)
{
	for (size_t i = 0; i < m->count; i++) {
		const char *k = m->entries[i].key;
		bool known = false;

		if (strncmp(k, "SYNC_", 5) != 0)
			continue;
		for (const struct config_var *v = config_vars; v->name != NULL && !known; v++)
			known = strcmp(v->name, k) == 0;
		if (!known)
			problem(pr, "%s: unknown variable (from %s); see `pocket-id-sync help config`",
				k, m->entries[i].origin);
	}
}

int config_load(struct config *cfg, const struct envmap *m, unsigned needs,
		struct config_problems *pr)
{
	memset(cfg, 0, sizeof(*cfg));
	memset(pr, 0, sizeof(*pr));
	check_unknown(m, pr);
	load_general(cfg, m, pr);
	load_role(cfg, m, needs, pr);
	load_secondary(cfg, m, needs, pr);
	load_db_and_keys(cfg, m, needs, pr);
	load_pocket_id_api(cfg, m, pr);
	if (cfg->pocket_id_url != NULL)
		load_forward_peers(cfg, m, pr);
	if (cfg->role == ROLE_PRIMARY && value_of(m, "SYNC_PRIMARY_URL") != NULL)
		problem(pr, "SYNC_PRIMARY_URL: set on a primary; remove it or set SYNC_ROLE=secondary");
	{
		size_t len;
		cfg->admin_token = load_secret(m, "SYNC_ADMIN_TOKEN", pr, &len);
	}
	return pr->count == 0 ? 0 : -1;
}

void config_free(struct config *cfg)
{
	free(cfg->primary_url);
	secret_free(cfg->primary_token);
	free(cfg->db_path);
	if (cfg->encryption_key != NULL)
		OPENSSL_clear_free(cfg->encryption_key, cfg->encryption_key_len);
	free(cfg->keys_storage);
	free(cfg->keys_path);
	free(cfg->state_dir);
	free(cfg->restart_command);
	secret_free(cfg->admin_token);
	free(cfg->pocket_id_url);
	secret_free(cfg->pocket_id_api_key);
	for (size_t i = 0; i < cfg->nforward_peers; i++)
		free(cfg->forward_peers[i]);
	free(cfg->forward_peers);
	OPENSSL_cleanse(cfg, sizeof(*cfg));
}

const char *config_role_name(enum sync_role role)
{
	return role == ROLE_PRIMARY ? "primary" : role == ROLE_SECONDARY ? "secondary" : "unset";
}

int config_gather(struct envmap *m, const char *const *paths, size_t npaths, char **envp,
		  char *err, size_t errlen)
{
	for (size_t i = 0; i < npaths; i++) {
		if (envfile_load(m, paths[i], err, errlen) == -1)
			return -1;
	}
	if (envmap_add_environ(m, envp) == -1) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}
