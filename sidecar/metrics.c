/* metrics: the registry's values and their updates under one mutex. Turning
 * them into exposition text lives in metrics_render.c. */
#include "metrics_priv.h"

#include "state.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const reason_names[METRICS_FAIL_COUNT] = {
	"auth",		     "decrypt",	      "sender",	     "replay",
	"schema_mismatch",   "busy",	      "network",     "valve",
	"invalid",	     "payload_too_large", "export_failed", "not_primary",
	"unavailable",	     "delta_base",	"verify",	"internal",
};

static const char *const op_names[METRICS_OP_COUNT] = {"insert", "update", "delete"};

const char *metrics_reason_name(enum metrics_reason reason)
{
	return (unsigned)reason < METRICS_FAIL_COUNT ? reason_names[reason] : "internal";
}

const char *metrics_op_name(enum metrics_op op)
{
	return (unsigned)op < METRICS_OP_COUNT ? op_names[op] : "update";
}

struct metrics *metrics_new(enum sync_role role, const char *version, double interval_seconds)
{
	struct metrics *m = calloc(1, sizeof(*m));

	if (m == NULL)
		return NULL;
	pthread_mutex_init(&m->lock, NULL);
	m->role = role;
	snprintf(m->version, sizeof(m->version), "%s", version != NULL ? version : "unknown");
	m->interval = interval_seconds;
	return m;
}

void metrics_free(struct metrics *m)
{
	if (m == NULL)
		return;
	pthread_mutex_destroy(&m->lock);
	free(m);
}

#define METRICS_SET(fn, field, type)                    \
	void fn(struct metrics *m, type v)              \
	{                                               \
		pthread_mutex_lock(&m->lock);           \
		m->field = v;                           \
		pthread_mutex_unlock(&m->lock);         \
	}

METRICS_SET(metrics_set_interval, interval, double)
METRICS_SET(metrics_set_last_success, last_success, double)
METRICS_SET(metrics_set_last_attempt, last_attempt, double)
METRICS_SET(metrics_set_last_duration, last_duration, double)
METRICS_SET(metrics_set_last_payload_bytes, last_payload_bytes, uint64_t)
METRICS_SET(metrics_set_unknown_tables, unknown_tables, uint64_t)
METRICS_SET(metrics_set_callback_capture_clients, callback_capture_clients, uint64_t)
METRICS_SET(metrics_set_generation, generation, uint64_t)
METRICS_SET(metrics_set_applied_generation, applied_generation, uint64_t)
METRICS_SET(metrics_set_primary_reachable, primary_reachable, bool)

/* The slot counting table: its own while fewer than METRICS_MAX_TABLES - 1
 * names are known, else the shared "_other" slot. Caller holds the lock. */
static struct metrics_table *table_slot(struct metrics *m, const char *table)
{
	const char *name = table;

	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < m->ntables; i++) {
			if (strcmp(m->tables[i].name, name) == 0)
				return &m->tables[i];
		}
		if (pass == 0 && m->ntables < METRICS_MAX_TABLES - 1)
			break;
		name = METRICS_OTHER_TABLE;
	}
	snprintf(m->tables[m->ntables].name, sizeof(m->tables[0].name), "%s", name);
	return &m->tables[m->ntables++];
}

void metrics_add_rows(struct metrics *m, const char *table, enum metrics_op op, uint64_t n)
{
	if ((unsigned)op >= METRICS_OP_COUNT || table == NULL)
		return;
	pthread_mutex_lock(&m->lock);
	table_slot(m, table)->ops[op] += n;
	pthread_mutex_unlock(&m->lock);
}

void metrics_fail(struct metrics *m, enum metrics_reason reason)
{
	if ((unsigned)reason >= METRICS_FAIL_COUNT)
		reason = METRICS_FAIL_INTERNAL;
	pthread_mutex_lock(&m->lock);
	m->failures[reason]++;
	pthread_mutex_unlock(&m->lock);
}

void metrics_payload_kind(struct metrics *m, bool delta)
{
	pthread_mutex_lock(&m->lock);
	m->payloads[delta ? 1 : 0]++;
	pthread_mutex_unlock(&m->lock);
}

void metrics_restart(struct metrics *m, bool ok)
{
	pthread_mutex_lock(&m->lock);
	m->restarts[ok ? 0 : 1]++;
	pthread_mutex_unlock(&m->lock);
}

void metrics_set_app_config_pending(struct metrics *m, bool pending)
{
	pthread_mutex_lock(&m->lock);
	m->app_config_pending = pending;
	pthread_mutex_unlock(&m->lock);
}

void metrics_app_config_update(struct metrics *m, bool ok)
{
	pthread_mutex_lock(&m->lock);
	m->app_config_updates[ok ? 0 : 1]++;
	pthread_mutex_unlock(&m->lock);
}

/* Caller holds the lock. NULL when name is unknown and there is no room. */
static struct metrics_peer *peer_slot(struct metrics *m, const char *name)
{
	for (size_t i = 0; i < m->npeers; i++) {
		if (strcmp(m->peers[i].name, name) == 0)
			return &m->peers[i];
	}
	if (m->npeers == METRICS_MAX_PEERS)
		return NULL;
	memset(&m->peers[m->npeers], 0, sizeof(m->peers[0]));
	snprintf(m->peers[m->npeers].name, sizeof(m->peers[0].name), "%s", name);
	return &m->peers[m->npeers++];
}

void metrics_set_peers(struct metrics *m, const struct peer_info *peers, size_t n)
{
	struct metrics_peer *old = malloc(sizeof(m->peers));
	size_t nold;

	pthread_mutex_lock(&m->lock);
	nold = old != NULL ? m->npeers : 0;
	if (old != NULL)
		memcpy(old, m->peers, sizeof(m->peers));
	m->npeers = 0;
	m->peer_count = n;
	for (size_t i = 0; i < n && i < METRICS_MAX_PEERS; i++) {
		struct metrics_peer *p = peer_slot(m, peers[i].name);
		p->last_seen = (double)peers[i].last_seen_at;
		for (size_t j = 0; j < nold; j++) {
			if (strcmp(old[j].name, p->name) == 0)
				p->exports = old[j].exports;
		}
	}
	pthread_mutex_unlock(&m->lock);
	free(old);
}

void metrics_peer_export(struct metrics *m, const char *name, double now)
{
	struct metrics_peer *p;

	pthread_mutex_lock(&m->lock);
	p = peer_slot(m, name);
	if (p != NULL) {
		p->exports++;
		p->last_seen = now;
	}
	pthread_mutex_unlock(&m->lock);
}
