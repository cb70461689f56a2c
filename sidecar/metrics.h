/* metrics: the sidecar's Prometheus metrics, a fixed set of families held in
 * one mutex-guarded registry that any thread may update, rendered in the
 * text exposition format (0.0.4). It does not serve HTTP (http_server.c)
 * and renders only the role-specific families of the node's role. */
#ifndef PIS_METRICS_H
#define PIS_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"
/* Label-set bounds: tables beyond the first 63 are counted as table="_other";
 * peers beyond 256 are left out of the per-peer families. */
#define METRICS_MAX_TABLES 64
#define METRICS_MAX_PEERS 256

struct peer_info;
struct metrics;

/* pocket_id_sync_failures_total{reason}; every reason is rendered from 0. */
enum metrics_reason {
	METRICS_FAIL_AUTH = 0,
	METRICS_FAIL_DECRYPT,
	METRICS_FAIL_SENDER,
	METRICS_FAIL_REPLAY,
	METRICS_FAIL_SCHEMA_MISMATCH,
	METRICS_FAIL_BUSY,
	METRICS_FAIL_NETWORK,
	METRICS_FAIL_VALVE,
	METRICS_FAIL_INVALID,
	METRICS_FAIL_PAYLOAD_TOO_LARGE, /* the primary's payload exceeds its SYNC_MAX_PAYLOAD_SIZE */
	METRICS_FAIL_EXPORT_FAILED,	/* the primary could not build or seal the export */
	METRICS_FAIL_NOT_PRIMARY,	/* SYNC_PRIMARY_URL answers, but not as a primary */
	METRICS_FAIL_UNAVAILABLE,	/* the primary is shutting down */
	METRICS_FAIL_DELTA_BASE,	/* a delta from a base this node does not hold (refused) */
	METRICS_FAIL_VERIFY,		/* the result's rows hash was not the primary's (rolled back) */
	METRICS_FAIL_INTERNAL,
	METRICS_FAIL_COUNT
};

/* pocket_id_sync_rows_total{op}. */
enum metrics_op { METRICS_OP_INSERT = 0, METRICS_OP_UPDATE, METRICS_OP_DELETE, METRICS_OP_COUNT };

/* A registry for a node of role (ROLE_UNSET renders no role-specific
 * family). version is copied. Returns NULL when out of memory. */
struct metrics *metrics_new(enum sync_role role, const char *version, double interval_seconds);
void metrics_free(struct metrics *m);

/* "auth", "decrypt", ... as rendered; "internal" for out-of-range values. */
const char *metrics_reason_name(enum metrics_reason reason);
const char *metrics_op_name(enum metrics_op op);

/* Every role. Timestamps are unix seconds (0 = never). */
void metrics_set_interval(struct metrics *m, double seconds);
void metrics_set_last_success(struct metrics *m, double unix_seconds);
void metrics_set_last_attempt(struct metrics *m, double unix_seconds);
void metrics_set_last_duration(struct metrics *m, double seconds);
void metrics_set_last_payload_bytes(struct metrics *m, uint64_t bytes);
void metrics_add_rows(struct metrics *m, const char *table, enum metrics_op op, uint64_t n);
void metrics_fail(struct metrics *m, enum metrics_reason reason);
void metrics_restart(struct metrics *m, bool ok);
void metrics_set_unknown_tables(struct metrics *m, uint64_t n);
/* OIDC clients that capture their first callback URL (Pocket ID < v2.10). */
void metrics_set_callback_capture_clients(struct metrics *m, uint64_t n);
/* Application configuration through Pocket ID's API: pending = the last read
 * (primary) or write (secondary) failed and waits for a retry; update counts
 * a secondary's writes of a changed configuration. */
void metrics_set_app_config_pending(struct metrics *m, bool pending);
void metrics_app_config_update(struct metrics *m, bool ok);
/* pocket_id_sync_payloads_total{kind}: format-2 documents sent (primary) or
 * applied (secondary), full snapshots and deltas. */
void metrics_payload_kind(struct metrics *m, bool delta);

/* Primary. set_peers replaces the peer list (peers gauge = n; last seen from
 * each peer's last_seen_at; export counts of peers still listed are kept).
 * peer_export counts one export to name and records it as seen at now. */
void metrics_set_generation(struct metrics *m, uint64_t generation);
void metrics_set_peers(struct metrics *m, const struct peer_info *peers, size_t n);
void metrics_peer_export(struct metrics *m, const char *name, double now);

/* Secondary. */
void metrics_set_applied_generation(struct metrics *m, uint64_t generation);
void metrics_set_primary_reachable(struct metrics *m, bool reachable);

/* The exposition text, malloc'd and NUL-terminated (caller frees); its length
 * in *len when len is not NULL. NULL when out of memory. */
char *metrics_render(struct metrics *m, size_t *len);

#endif
