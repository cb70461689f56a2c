/* poller: the secondary's loop, on its own thread: long-polls the primary's
 * /sync/export with libcurl, hands payloads to ingest, backs off with jitter
 * on failure, does a full (unconditional) poll every SYNC_INTERVAL, and
 * reports progress to metrics, state.db and /healthz. Stopping never
 * interrupts an apply: it waits for the commit or rollback. */
#ifndef PIS_POLLER_H
#define PIS_POLLER_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "keys.h"

struct metrics;
struct state;
struct poller;

/* Starts the thread. Pointers are borrowed and must outlive the poller.
 * Returns NULL with err set. */
struct poller *poller_start(const struct config *cfg, const struct node_key *me,
			    struct state *st, struct metrics *m, char *err, size_t errlen);
/* Asks the thread to stop, aborts a transfer in flight, waits for it, frees. */
void poller_stop(struct poller *p);
/* http_health_fn (ctx = the poller): unhealthy when the last successful sync
 * is older than SYNC_HEALTH_STALE_INTERVALS intervals plus one
 * SYNC_LONG_POLL_TIMEOUT (a held poll), or none happened. */
int poller_health(void *ctx, char *reason, size_t n);

/* The retry schedule after a failed poll (exposed for the unit test): the
 * next back-off doubles from 1 s (prev 0 = first failure) up to
 * min(interval_ms, 5 min); the nap is that back-off with random jitter,
 * between 0.5x and 1.5x of it. */
int64_t poller_backoff_next(int64_t prev_ms, uint64_t interval_ms);
int64_t poller_jitter(int64_t ms);

#endif
