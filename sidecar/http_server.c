/* http_server: the listeners with their limits, the route tables, method and
 * path checks (404, 405 with Allow), bearer-token and admin access checks,
 * and the small handlers (pubkey, healthz, metrics, export hand-off). Reply
 * mechanics live in http_reply.c, the admin API in http_admin.c. */
#include "http_priv.h"

#include "b64.h"
#include "forward.h"
#include "log.h"
#include "metrics.h"
#include "refusal.h"
#include "state.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#define HTTP_TOKEN_MAX 256 /* longest bearer token accepted */
#define HTTP_SERVED_METHODS (EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_DELETE)
/* Every method evhttp parses: its own filter would answer 501, the router
 * answers 405 with Allow instead. */
#define HTTP_PARSED_METHODS                                                           \
	(EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD | EVHTTP_REQ_PUT |        \
	 EVHTTP_REQ_DELETE | EVHTTP_REQ_OPTIONS | EVHTTP_REQ_TRACE | EVHTTP_REQ_CONNECT | \
	 EVHTTP_REQ_PATCH)

enum { ROUTE_PRIMARY = 1, ROUTE_ADMIN = 2, ROUTE_PREFIX = 4, ROUTE_FORWARD = 8 };

struct http_route {
	const char *path;
	unsigned methods; /* EVHTTP_REQ_* */
	unsigned flags;
	http_handler_fn handler;
};

struct http_routes {
	struct http_server *srv;
	const struct http_route *route;
	size_t n;
};

/* ---- access ---- */

int http_addr_is_loopback(const struct sockaddr *sa)
{
	static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

	if (sa == NULL)
		return 0;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
		return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
	}
	if (sa->sa_family == AF_INET6) {
		const uint8_t *a = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;
		if (memcmp(a, mapped, 12) == 0)
			return a[12] == 127;
		return memcmp(a, &in6addr_loopback, 16) == 0;
	}
	return 0;
}

/* Copies the token of "Authorization: Bearer <token>" into out. Returns 0,
 * or -1 when the header is missing or malformed. */
static int http_bearer(struct evhttp_request *req, char out[static HTTP_TOKEN_MAX + 1])
{
	const char *h = evhttp_find_header(evhttp_request_get_input_headers(req), "Authorization");
	size_t n;

	if (h == NULL || strncasecmp(h, "Bearer ", 7) != 0)
		return -1;
	h += 7;
	h += strspn(h, " ");
	n = strcspn(h, " \t");
	if (n == 0 || n > HTTP_TOKEN_MAX || h[n + strspn(h + n, " \t")] != '\0')
		return -1;
	memcpy(out, h, n);
	out[n] = '\0';
	return 0;
}

/* Constant-time equality of two secrets of any length (via SHA-256). */
static int http_secret_equal(const char *a, const char *b)
{
	uint8_t ha[32], hb[32];
	unsigned int n = 32;
	int eq;

	EVP_Digest(a, strlen(a), ha, &n, EVP_sha256(), NULL);
	EVP_Digest(b, strlen(b), hb, &n, EVP_sha256(), NULL);
	eq = CRYPTO_memcmp(ha, hb, 32) == 0;
	OPENSSL_cleanse(ha, sizeof(ha));
	OPENSSL_cleanse(hb, sizeof(hb));
	return eq;
}

/* With an admin token: that token, from anyone (a local proxy makes every
 * client look like loopback). Without: loopback peers only. Replies and
 * returns 0 when access is refused. */
static int http_admin_allowed(struct http_server *srv, struct evhttp_request *req)
{
	char tok[HTTP_TOKEN_MAX + 1];
	int ok;

	if (srv->admin_token != NULL) {
		ok = http_bearer(req, tok) == 0 && http_secret_equal(tok, srv->admin_token);
		OPENSSL_cleanse(tok, sizeof(tok));
		if (!ok)
			http_reply_unauthorized(req);
		return ok;
	}
	if (http_addr_is_loopback(evhttp_connection_get_addr(evhttp_request_get_connection(req))))
		return 1;
	http_reply_text(req, 403, "forbidden: the admin API answers loopback clients only "
				  "(or set SYNC_ADMIN_TOKEN)\n");
	return 0;
}

/* ---- handlers ---- */

static void http_pubkey(struct http_server *srv, struct evhttp_request *req, const char *rest)
{
	char line[47];

	(void)rest;
	snprintf(line, sizeof(line), "%s\n", srv->node_pub_b64);
	http_reply_text(req, 200, line);
}

static void http_healthz(struct http_server *srv, struct evhttp_request *req, const char *rest)
{
	char reason[256] = "", body[300];

	(void)rest;
	if (srv->health == NULL || srv->health(srv->ctx, reason, sizeof(reason)) == 0) {
		reason[strcspn(reason, "\r\n")] = '\0';
		if (reason[0] == '\0') {
			http_reply_text(req, 200, "ok\n");
		} else { /* healthy, with a warning */
			snprintf(body, sizeof(body), "ok; warning: %s\n", reason);
			http_reply_text(req, 200, body);
		}
		return;
	}
	reason[strcspn(reason, "\r\n")] = '\0';
	snprintf(body, sizeof(body), "unhealthy: %s\n", reason[0] != '\0' ? reason : "unknown");
	http_reply_text(req, 503, body);
}

static void http_metrics(struct http_server *srv, struct evhttp_request *req, const char *rest)
{
	size_t len;
	char *text;

	(void)rest;
	text = srv->metrics != NULL ? metrics_render(srv->metrics, &len) : NULL;
	if (text == NULL) {
		http_reply_text(req, 503, "metrics unavailable\n");
		return;
	}
	http_reply_bytes(req, 200, METRICS_CONTENT_TYPE, text, len, NULL);
	free(text);
}

static void http_export(struct http_server *srv, struct evhttp_request *req, const char *rest)
{
	char tok[HTTP_TOKEN_MAX + 1];
	struct peer_info peer;
	int rc = -1;

	(void)rest;
	if (srv->export_handler == NULL) {
		http_reply_refusal(req, 503, REFUSAL_UNAVAILABLE, "export unavailable\n");
		return;
	}
	if (http_bearer(req, tok) == 0)
		rc = state_peer_by_token(srv->state, tok, &peer);
	else
		rc = 1;
	OPENSSL_cleanse(tok, sizeof(tok));
	if (rc == 0) {
		srv->export_handler(srv->ctx, req, &peer);
		return;
	}
	if (srv->metrics != NULL)
		metrics_fail(srv->metrics, rc == 1 ? METRICS_FAIL_AUTH : METRICS_FAIL_INTERNAL);
	if (rc == 1)
		http_reply_unauthorized(req);
	else
		http_reply_refusal(req, 500, REFUSAL_EXPORT_FAILED,
				   "cannot check the token (state.db); see the primary's log\n");
}

/* The OIDC back-channel, handed to the forwarder (forward.c). */
static void http_fwd_token(struct http_server *srv, struct evhttp_request *req, const char *rest)
{
	(void)rest;
	forward_handle(srv->forwarder, req, FORWARD_TOKEN);
}

static void http_fwd_userinfo(struct http_server *srv, struct evhttp_request *req, const char *rest)
{
	(void)rest;
	forward_handle(srv->forwarder, req, FORWARD_USERINFO);
}

static void http_fwd_introspect(struct http_server *srv, struct evhttp_request *req, const char *rest)
{
	(void)rest;
	forward_handle(srv->forwarder, req, FORWARD_INTROSPECT);
}

static void http_fwd_revoke(struct http_server *srv, struct evhttp_request *req, const char *rest)
{
	(void)rest;
	forward_handle(srv->forwarder, req, FORWARD_REVOKE);
}

static const struct http_route sync_routes[] = {
	{"/sync/pubkey", EVHTTP_REQ_GET, 0, http_pubkey},
	{"/healthz", EVHTTP_REQ_GET, 0, http_healthz},
	{"/sync/export", EVHTTP_REQ_GET, ROUTE_PRIMARY, http_export},
	{"/sync/admin/peers", EVHTTP_REQ_GET | EVHTTP_REQ_POST, ROUTE_PRIMARY | ROUTE_ADMIN,
	 http_admin_peers},
	{"/sync/admin/peers/", EVHTTP_REQ_DELETE, ROUTE_PRIMARY | ROUTE_ADMIN | ROUTE_PREFIX,
	 http_admin_peer},
	{"/api/oidc/token", EVHTTP_REQ_POST, ROUTE_FORWARD, http_fwd_token},
	{"/api/oidc/userinfo", EVHTTP_REQ_GET | EVHTTP_REQ_POST, ROUTE_FORWARD, http_fwd_userinfo},
	{"/api/oidc/introspect", EVHTTP_REQ_POST, ROUTE_FORWARD, http_fwd_introspect},
	{"/api/oidc/users/me/authorized-clients/", EVHTTP_REQ_DELETE, ROUTE_FORWARD | ROUTE_PREFIX,
	 http_fwd_revoke},
};

static const struct http_route metrics_routes[] = {
	{"/metrics", EVHTTP_REQ_GET, 0, http_metrics},
};

/* ---- routing ---- */

/* The route for path on this listener (role permitting), with *rest set to
 * the part after a prefix route. NULL when none. */
static const struct http_route *http_find_route(const struct http_routes *r, const char *path,
					       const char **rest)
{
	for (size_t i = 0; i < r->n; i++) {
		const struct http_route *rt = &r->route[i];
		size_t n = strlen(rt->path);

		if ((rt->flags & ROUTE_PRIMARY) && r->srv->role != ROLE_PRIMARY)
			continue;
		if ((rt->flags & ROUTE_FORWARD) && r->srv->forwarder == NULL)
			continue;
		if ((rt->flags & ROUTE_PREFIX) && strncmp(path, rt->path, n) == 0 &&
		    path[n] != '\0' && strchr(path + n, '/') == NULL) {
			*rest = path + n;
			return rt;
		}
		if (!(rt->flags & ROUTE_PREFIX) && strcmp(path, rt->path) == 0) {
			*rest = "";
			return rt;
		}
	}
	return NULL;
}

static void http_method_not_allowed(struct evhttp_request *req, unsigned methods)
{
	char allow[32] = "";

	if (methods & EVHTTP_REQ_GET)
		strcat(allow, "GET");
	if (methods & EVHTTP_REQ_POST)
		strcat(allow, allow[0] ? ", POST" : "POST");
	if (methods & EVHTTP_REQ_DELETE)
		strcat(allow, allow[0] ? ", DELETE" : "DELETE");
	http_reply_bytes(req, 405, "text/plain; charset=utf-8", "method not allowed\n", 19,
			 "Allow", allow, NULL);
}

/* A 404 that says what answered: a client pointed at the wrong port or
 * node (a secondary's SYNC_PRIMARY_URL) learns it from the body. */
static void http_not_found(const struct http_routes *r, struct evhttp_request *req,
			   const char *path)
{
	if (r->route == metrics_routes)
		http_reply_text(req, 404, "not found: this is pocket-id-sync's metrics listener "
					  "(SYNC_METRICS_LISTEN); it serves /metrics only\n");
	else if (r->srv->role != ROLE_PRIMARY && strncmp(path, "/sync/", 6) == 0)
		http_reply_text(req, 404, "not found: this pocket-id-sync is a secondary; "
					  "/sync/export and /sync/admin/ are served by the primary\n");
	else
		http_reply_text(req, 404, "not found\n");
}

static void http_dispatch(struct evhttp_request *req, void *arg)
{
	const struct http_routes *r = arg;
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = uri != NULL ? evhttp_uri_get_path(uri) : NULL, *rest = "";
	unsigned method = (unsigned)evhttp_request_get_command(req);
	const struct http_route *rt;

	if (path == NULL || path[0] == '\0')
		path = "/";
	rt = http_find_route(r, path, &rest);
	if (!(method & HTTP_SERVED_METHODS) || (rt != NULL && !(method & rt->methods))) {
		http_method_not_allowed(req, rt != NULL ? rt->methods : HTTP_SERVED_METHODS);
		return;
	}
	if (rt == NULL && r->route == sync_routes && strcmp(path, "/sync/export") == 0) {
		http_reply_refusal(req, 404, REFUSAL_NOT_PRIMARY, "this pocket-id-sync is a secondary; "
				   "/sync/export and /sync/admin/ are served by the primary: point "
				   "SYNC_PRIMARY_URL at the primary\n");
		return;
	}
	if (rt == NULL) {
		http_not_found(r, req, path);
		return;
	}
	if ((rt->flags & ROUTE_ADMIN) && !http_admin_allowed(r->srv, req))
		return;
	rt->handler(r->srv, req, rest);
}

/* ---- listeners ---- */

static struct evhttp *http_listen(struct http_server *srv, const char *var, const char *host,
				  uint16_t port, struct http_routes *routes, uint16_t *bound,
				  char *err, size_t errlen)
{
	struct evhttp *http = evhttp_new(srv->base);
	struct evhttp_bound_socket *sock;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);

	if (http == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	/* The timeout bounds reading a request and writing a reply (slow or idle
	 * clients), not a held long poll: evhttp 2.1 stops reading a connection
	 * once its request is handed over, so no timer runs until the reply.
	 * http_request_hold still raises the connection's timeout above the
	 * 300 s poll maximum in case a libevent version keeps reading. */
	evhttp_set_max_body_size(http, HTTP_MAX_BODY_BYTES);
	evhttp_set_max_headers_size(http, HTTP_MAX_HEADER_BYTES);
	evhttp_set_timeout(http, HTTP_TIMEOUT_SECONDS);
	evhttp_set_allowed_methods(http, HTTP_PARSED_METHODS);
	evhttp_set_flags(http, EVHTTP_SERVER_LINGERING_CLOSE);
	evhttp_set_gencb(http, http_dispatch, routes);
	errno = 0;
	sock = evhttp_bind_socket_with_handle(http, host, port);
	if (sock == NULL ||
	    getsockname(evhttp_bound_socket_get_fd(sock), (struct sockaddr *)&ss, &sl) == -1) {
		int e = errno;
		snprintf(err, errlen, "%s: cannot listen on %s:%u: %s%s", var, host, (unsigned)port,
			 e != 0 ? strerror(e) : "cannot bind",
			 e == EADDRINUSE ? " (another process holds the port, or SYNC_LISTEN and "
					   "SYNC_METRICS_LISTEN are equal)" : "");
		evhttp_free(http);
		return NULL;
	}
	*bound = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
						: ((struct sockaddr_in *)&ss)->sin_port);
	return http;
}

/* Route tables bound to a server live right after it in one allocation. */
struct http_server_alloc {
	struct http_server srv;
	struct http_routes sync_routes, metrics_routes;
};

struct http_server *http_server_new(struct event_base *base, const struct http_server_config *cfg,
				    char *err, size_t errlen)
{
	struct http_server_alloc *a = calloc(1, sizeof(*a));
	struct http_server *srv = a != NULL ? &a->srv : NULL;

	if (srv == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	srv->base = base;
	srv->role = cfg->role;
	memcpy(srv->node_pub, cfg->node_pub, 32);
	b64_encode(srv->node_pub_b64, cfg->node_pub, 32);
	srv->state = cfg->state;
	srv->metrics = cfg->metrics;
	srv->health = cfg->health;
	srv->export_handler = cfg->export_handler;
	srv->ctx = cfg->ctx;
	srv->forwarder = cfg->forwarder;
	a->sync_routes = (struct http_routes){srv, sync_routes,
					      sizeof(sync_routes) / sizeof(sync_routes[0])};
	a->metrics_routes = (struct http_routes){srv, metrics_routes, 1};
	if (cfg->admin_token != NULL && (srv->admin_token = OPENSSL_strdup(cfg->admin_token)) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	srv->sync_http = http_listen(srv, "SYNC_LISTEN", cfg->listen_host, cfg->listen_port, &a->sync_routes,
				     &srv->port, err, errlen);
	if (srv->sync_http == NULL)
		goto fail;
	if (cfg->metrics_host != NULL &&
	    (srv->metrics_http = http_listen(srv, "SYNC_METRICS_LISTEN", cfg->metrics_host, cfg->metrics_port,
					     &a->metrics_routes, &srv->metrics_port, err,
					     errlen)) == NULL)
		goto fail;
	log_info("http.listening", "port=%u metrics_port=%u role=%s", (unsigned)srv->port,
		 (unsigned)srv->metrics_port, config_role_name(srv->role));
	return srv;
fail:
	http_server_free(srv);
	return NULL;
}

void http_server_free(struct http_server *srv)
{
	if (srv == NULL)
		return;
	if (srv->sync_http != NULL)
		evhttp_free(srv->sync_http);
	if (srv->metrics_http != NULL)
		evhttp_free(srv->metrics_http);
	if (srv->admin_token != NULL)
		OPENSSL_clear_free(srv->admin_token, strlen(srv->admin_token));
	free(srv); /* the first member of struct http_server_alloc */
}

uint16_t http_server_port(const struct http_server *srv) { return srv->port; }

uint16_t http_server_metrics_port(const struct http_server *srv) { return srv->metrics_port; }
