/* http_priv: what http_server.c (listeners, routing, authentication),
 * http_admin.c (the /sync/admin/ API) and forward.c (the OIDC back-channel
 * forwarder) share; nothing outside the HTTP layer includes it. */
#ifndef PIS_HTTP_PRIV_H
#define PIS_HTTP_PRIV_H

#include "http_server.h"

#include <event2/http.h>
#include <stdbool.h>

struct http_server {
	struct event_base *base;
	struct evhttp *sync_http, *metrics_http;
	uint16_t port, metrics_port;
	enum sync_role role;
	uint8_t node_pub[32];
	char node_pub_b64[45];
	struct state *state;
	struct metrics *metrics;
	char *admin_token; /* OPENSSL_strdup'd; wiped on free */
	http_health_fn health;
	http_export_fn export_handler;
	void *ctx;
	struct forwarder *forwarder;
};

/* A route handler; rest is what follows a prefix route's path ("" else). */
typedef void (*http_handler_fn)(struct http_server *srv, struct evhttp_request *req,
				const char *rest);

/* http_admin.c: GET/POST /sync/admin/peers and DELETE /sync/admin/peers/NAME.
 * Access was checked by the router. */
void http_admin_peers(struct http_server *srv, struct evhttp_request *req, const char *rest);
void http_admin_peer(struct http_server *srv, struct evhttp_request *req, const char *rest);
/* Reloads the peers into the metrics registry (after a change). */
void http_admin_refresh_metrics(struct http_server *srv);

/* Like http_reply_bytes with no extra headers, but takes ownership of a
 * malloc'd secret: libevent writes it from this buffer, then it is wiped
 * and freed. */
void http_reply_secret(struct evhttp_request *req, int status, const char *content_type,
		       char *data, size_t len);
/* {"error": message} with status. */
void http_reply_json_error(struct evhttp_request *req, int status, const char *message);

#endif
