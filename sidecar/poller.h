/* poller: the secondary's loop, on its own thread: long-polls the primary's
 * /sync/export with libcurl, hands payloads to ingest, backs off with jitter
 * on failure, does a full (unconditional) poll every SYNC_INTERVAL, and
 * reports progress to metrics, state.db and /healthz. Stopping never
 * interrupts an apply: it waits for the commit or rollback. */
#ifndef PIS_POLLER_H
#define PIS_POLLER_H

#include <stddef.h>

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

#endif
