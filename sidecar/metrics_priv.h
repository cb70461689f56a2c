/* metrics_priv: the registry's layout, shared by metrics.c (updates) and
 * metrics_render.c (exposition text) only. */
#ifndef PIS_METRICS_PRIV_H
#define PIS_METRICS_PRIV_H

#include "metrics.h"

#include <pthread.h>

#define METRICS_OTHER_TABLE "_other"

struct metrics_table {
	char name[128];
	uint64_t ops[METRICS_OP_COUNT];
};

struct metrics_peer {
	char name[65];
	double last_seen;
	uint64_t exports;
};

struct metrics {
	pthread_mutex_t lock; /* guards everything below */
	enum sync_role role;
	char version[64];
	double interval, last_success, last_attempt, last_duration;
	uint64_t last_payload_bytes, unknown_tables, callback_capture_clients;
	struct metrics_table tables[METRICS_MAX_TABLES];
	size_t ntables;
	uint64_t failures[METRICS_FAIL_COUNT];
	uint64_t restarts[2]; /* ok, failed */
	uint64_t payloads[2]; /* full, delta */
	uint64_t app_config_updates[2]; /* done, failed */
	bool app_config_pending;
	uint64_t generation, applied_generation;
	bool primary_reachable;
	size_t peer_count;
	struct metrics_peer peers[METRICS_MAX_PEERS];
	size_t npeers;
};

#endif
