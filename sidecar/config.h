/* config: the sidecar's settings, read from an envmap (env files plus the
 * process environment) and validated. Owns the variable names, defaults and
 * the "one line per problem, naming the variable" messages of check-config.
 * Secrets (ENCRYPTION_KEY, tokens) are held here and wiped by config_free. */
#ifndef PIS_CONFIG_H
#define PIS_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "envfile.h"
#include "log.h"

enum sync_role { ROLE_UNSET = 0, ROLE_PRIMARY, ROLE_SECONDARY };

#define CONFIG_MAX_PROBLEMS 32

struct config_problems {
	size_t count;
	char line[CONFIG_MAX_PROBLEMS][320];
};

struct config {
	bool enabled;			/* SYNC_ENABLED, default true */
	enum sync_role role;		/* SYNC_ROLE */
	char *primary_url;		/* SYNC_PRIMARY_URL (secondary) */
	char *primary_token;		/* secret part of SYNC_PRIMARY_TOKEN[_FILE] */
	bool has_primary_pubkey;	/* from SYNC_PRIMARY_PUBKEY or the token */
	uint8_t primary_pubkey[32];
	uint64_t interval_ms;		/* SYNC_INTERVAL, default 5m */
	uint64_t long_poll_ms;		/* SYNC_LONG_POLL_TIMEOUT, default 30s, 0 = off */
	char *db_path;			/* from DB_CONNECTION_STRING */
	uint8_t *encryption_key;	/* ENCRYPTION_KEY[_FILE], raw bytes */
	size_t encryption_key_len;
	char *keys_storage;		/* KEYS_STORAGE (Pocket ID v1.x) */
	char *keys_path;		/* KEYS_PATH (Pocket ID v1.x) */
	bool ui_config_disabled;	/* Pocket ID's UI_CONFIG_DISABLED */
	bool ldap_enabled;		/* Pocket ID's LDAP_ENABLED */
	char *state_dir;		/* SYNC_STATE_DIR */
	char listen_host[256];		/* SYNC_LISTEN */
	uint16_t listen_port;
	char metrics_host[256];		/* SYNC_METRICS_LISTEN */
	uint16_t metrics_port;
	char *restart_command;		/* SYNC_RESTART_COMMAND, may be NULL */
	uint64_t restart_timeout_ms;	/* SYNC_RESTART_TIMEOUT, default 2m */
	int max_delete_percent;		/* SYNC_MAX_DELETE_PERCENT, default 50 */
	uint64_t max_payload_bytes;	/* SYNC_MAX_PAYLOAD_SIZE, default 256MiB */
	uint64_t verify_interval_ms;	/* SYNC_VERIFY_INTERVAL, default 10m, 0 = at start only */
	uint64_t busy_timeout_ms;	/* SYNC_BUSY_TIMEOUT, default 2s */
	char *admin_token;		/* SYNC_ADMIN_TOKEN[_FILE], may be NULL */
	int health_stale_intervals;	/* SYNC_HEALTH_STALE_INTERVALS, default 3 */
	enum log_level log_level;	/* SYNC_LOG_LEVEL */
	char *pocket_id_url;		/* SYNC_POCKET_ID_URL, or loopback at PORT */
	char *pocket_id_api_key;	/* SYNC_POCKET_ID_API_KEY[_FILE], may be NULL */
	char **forward_peers;		/* SYNC_FORWARD_PEERS: the other nodes' Pocket ID */
	size_t nforward_peers;		/* 0 = no OIDC back-channel forwarder */
};

/* Adds one line to pr (dropped past CONFIG_MAX_PROBLEMS). */
void config_problem(struct config_problems *pr, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* One documented variable: name, default shown in help and docs. */
struct config_var {
	const char *name;
	const char *default_value; /* NULL: no default */
	const char *help;
};
/* The table of every variable the sidecar reads, NULL-terminated. */
extern const struct config_var config_vars[];

/* What a command needs from the configuration. */
enum config_need {
	NEED_STATE = 1 << 0,	/* SYNC_STATE_DIR */
	NEED_DB = 1 << 1,	/* DB_CONNECTION_STRING */
	NEED_ROLE = 1 << 2,	/* SYNC_ROLE and what the role requires */
	NEED_KEK = 1 << 3,	/* ENCRYPTION_KEY */
	NEED_PIN = 1 << 4,	/* the primary's public key (secondary) */
	NEED_TOKEN = 1 << 5,	/* a secondary's SYNC_PRIMARY_TOKEN (run can wait without one) */
	NEED_ALL = 0xff,
};

/* Fills cfg from m. Every malformed value and every missing value that the
 * needs require is reported as one line in pr. Returns 0 when pr stays empty,
 * -1 otherwise; cfg must be freed either way. */
int config_load(struct config *cfg, const struct envmap *m, unsigned needs,
		struct config_problems *pr);
void config_free(struct config *cfg);
const char *config_role_name(enum sync_role role);

/* Loads the env files named by paths (in order), then the environment, into
 * m. Returns 0 or -1 with one line in err. */
int config_gather(struct envmap *m, const char *const *paths, size_t npaths, char **envp,
		  char *err, size_t errlen);

#endif
