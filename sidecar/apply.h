/* apply: reconciles a secondary's Pocket ID database with a payload in one
 * transaction: rows present are inserted or updated in place (only changed
 * columns; per-node columns kept), durable rows absent are deleted, local
 * tables and local rows are never touched, and the JWT signing key is
 * re-wrapped under this node's own KEK. It does not open seals or check
 * generations (the caller does, before calling). */
#ifndef PIS_APPLY_H
#define PIS_APPLY_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "jwt_store.h"
#include "payload.h"

enum apply_status {
	APPLY_OK = 0,
	APPLY_ERR_SCHEMA,  /* schema versions differ, or tables/columns do not match */
	APPLY_ERR_VALVE,   /* would delete too many users or passkeys */
	APPLY_ERR_BUSY,	   /* could not get the write lock in time */
	APPLY_ERR_INVALID, /* the payload contradicts itself or the policy */
	APPLY_ERR_KEY,	   /* the JWT key could not be re-wrapped */
	APPLY_ERR_DB,	   /* any other database error */
};

struct apply_opts {
	bool dry_run;
	bool force;		/* override the mass-delete valve */
	int max_delete_percent; /* SYNC_MAX_DELETE_PERCENT */
	int max_attempts;	/* optimistic attempts before one under BEGIN IMMEDIATE; 0 = 4 */
	bool app_config_from_env; /* Pocket ID runs with UI_CONFIG_DISABLED=true */
	/* The configuration goes through Pocket ID's API (appconfig_step.h):
	 * leave app_config_variables alone (no row copy, no restart for it). */
	bool app_config_via_api;
	struct jwt_store_cfg keys;
	/* Optional: called when a write will change something Pocket ID caches
	 * in memory, before anything is written or committed (the caller records
	 * that a restart is due, so a kill after the commit cannot lose it). It
	 * may run more than once; -1 aborts the apply with nothing changed. */
	int (*before_cached_write)(void *arg);
	void *hook_arg;
};

#define APPLY_MAX_TABLES 32

struct apply_counts {
	char table[64];
	size_t inserted, updated, deleted;
};

struct apply_result {
	size_t ntables;
	struct apply_counts tables[APPLY_MAX_TABLES];
	bool jwt_changed;
	bool restart_needed; /* something Pocket ID caches in memory changed */
	const char *restart_why; /* "jwt_key", "app_config", "app_images" or NULL (static) */
	bool wrote;	     /* a write transaction committed */
	int attempts;
	double lock_ms; /* time between the first write and the commit */
	size_t nunknown;
	char unknown[16][64];
};

/* db must come from pidb_open (busy timeout set, foreign keys on). Tables
 * whose name begins with "@" are not SQLite tables (appconfig.h) and are
 * skipped. On failure nothing was changed; err holds one line. */
enum apply_status apply_payload(sqlite3 *db, const struct payload *p, const struct apply_opts *o,
				struct apply_result *r, char *err, size_t errlen);
/* The metrics reason for a failure status ("schema_mismatch", "valve", ...). */
const char *apply_status_reason(enum apply_status st);
/* Total rows changed in r. */
size_t apply_total_changes(const struct apply_result *r);

#endif
