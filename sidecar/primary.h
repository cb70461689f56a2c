/* primary: the primary's daemon role: answers GET /sync/export for
 * authenticated peers with sealed payloads, holds long polls until the
 * durable content changes (PRAGMA data_version, then the content hash), and
 * keeps the generation and peer metrics current. HTTP plumbing is
 * http_server.c's; snapshots and sealing are produce.c's. */
#ifndef PIS_PRIMARY_H
#define PIS_PRIMARY_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "keys.h"

struct event_base;
struct evhttp_request;
struct metrics;
struct peer_info;
struct state;

/* How often a held long poll checks for a change. */
#define PRIMARY_CHECK_MS 50

struct primary;

/* Opens Pocket ID's database and computes the current generation. All
 * pointers are borrowed and must outlive the primary. Returns NULL with err. */
struct primary *primary_new(struct event_base *base, const struct config *cfg,
			    const struct node_key *me, struct state *st, struct metrics *m,
			    char *err, size_t errlen);
/* Answers every held request with 503 and frees everything. */
void primary_free(struct primary *p);
/* http_export_fn for http_server (ctx = the primary). */
void primary_export_handler(void *ctx, struct evhttp_request *req, const struct peer_info *peer);
/* http_health_fn: healthy when Pocket ID's database is readable. */
int primary_health(void *ctx, char *reason, size_t n);

#endif
