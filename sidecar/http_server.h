/* http_server: the libevent (evhttp) layer both roles share: the sync
 * listener (/sync/pubkey, /healthz, and on a primary /sync/export and the
 * /sync/admin/ API; with a forwarder the OIDC back-channel paths, handed to
 * forward.c) and a separate metrics listener (GET /metrics only).
 * It authenticates and routes; what an export contains is the caller's. */
#ifndef PIS_HTTP_SERVER_H
#define PIS_HTTP_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"

struct event_base;
struct evhttp_request;
struct metrics;
struct peer_info;
struct sockaddr;
struct state;
struct forwarder;

#define HTTP_MAX_BODY_BYTES (64 * 1024)
#define HTTP_MAX_HEADER_BYTES (8 * 1024)
/* Reading a request and writing a reply must each finish within this. */
#define HTTP_TIMEOUT_SECONDS 60
/* Connection timeout while a request is held (long poll of up to 300 s). */
#define HTTP_HOLD_TIMEOUT_SECONDS 330

/* Returns 0 when healthy; otherwise writes a one-line reason into reason. */
typedef int (*http_health_fn)(void *ctx, char *reason, size_t n);
/* Called for GET /sync/export after peer's bearer token was verified. It
 * owns the reply: it answers at once with http_reply_bytes, or keeps req
 * (see http_request_hold) and answers later. peer is valid during the call. */
typedef void (*http_export_fn)(void *ctx, struct evhttp_request *req,
			       const struct peer_info *peer);

struct http_server_config {
	enum sync_role role;
	const char *listen_host; /* sync listener; port 0 = ephemeral */
	uint16_t listen_port;
	const char *metrics_host; /* NULL: no metrics listener */
	uint16_t metrics_port;
	uint8_t node_pub[32];	 /* served at /sync/pubkey */
	struct state *state;	 /* tokens and the admin API; borrowed */
	struct metrics *metrics; /* borrowed; NULL: /metrics answers 503 */
	const char *admin_token; /* copied; NULL: admin API for loopback only */
	http_health_fn health;	 /* NULL: always healthy */
	http_export_fn export_handler; /* primary; NULL: /sync/export answers 503 */
	void *ctx;			/* passed to health and export_handler */
	struct forwarder *forwarder;	/* borrowed; NULL: no /api/oidc/ routes */
};

/* Binds both listeners on base and sets their limits (body, headers,
 * timeout). Returns the server, or NULL with a one-line reason in err. */
struct http_server *http_server_new(struct event_base *base, const struct http_server_config *cfg,
				    char *err, size_t errlen);
/* Closes the listeners and every connection. Requests still held are freed
 * by libevent: answer them (e.g. 503) before calling this. NULL is fine. */
void http_server_free(struct http_server *srv);
/* The bound ports (useful with port 0); 0 when there is no such listener. */
uint16_t http_server_port(const struct http_server *srv);
uint16_t http_server_metrics_port(const struct http_server *srv);

/* Sends the reply: status, Content-Type (NULL: none), len bytes of data
 * (copied), then further headers as name, value pairs ended by NULL. Logs
 * method, path and status at debug level. Call exactly once per request. */
void http_reply_bytes(struct evhttp_request *req, int status, const char *content_type,
		      const void *data, size_t len, ...) __attribute__((sentinel));
/* Plain text reply (text/plain; charset=utf-8). */
void http_reply_text(struct evhttp_request *req, int status, const char *text);
/* 401 with WWW-Authenticate: Bearer and no detail (which check failed is
 * never said) beyond the refusal name "auth". */
void http_reply_unauthorized(struct evhttp_request *req);
/* A refused export: status, the X-Pocket-Id-Sync-Refusal header naming
 * reason (refusal.h) and text, one line a secondary shows in its log. */
void http_reply_refusal(struct evhttp_request *req, int status, const char *reason,
			const char *text);

/* For a handler that keeps req to answer later (long poll): raises this
 * connection's timeout to HTTP_HOLD_TIMEOUT_SECONDS. libevent 2.1 does not
 * read from a connection while its request is unanswered, so neither the
 * timeout nor a client's hang-up ends a held request; it stays valid until
 * answered or until http_server_free. */
void http_request_hold(struct evhttp_request *req);

/* 1 when sa is 127.0.0.0/8, ::1 or ::ffff:127.0.0.0/104, else 0. */
int http_addr_is_loopback(const struct sockaddr *sa);

#endif
