/* forward: one client request, replayed to this node's Pocket ID and then,
 * while the answers mean "not issued here", to each peer in turn (see
 * forward.h). One libevent client connection per attempt, freed when it
 * completes; the caller's request is answered exactly once. */
#include "forward.h"

#include "http_priv.h"
#include "log.h"

#include <sys/queue.h>

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <event2/buffer.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct target {
	char host[256];
	uint16_t port;
	char label[300]; /* host:port, for logs */
};

/* Marks a request a forwarder sent, so that a misconfigured peer list (a
 * peer that is another sidecar) cannot make two forwarders loop. */
#define FORWARD_HOP_HEADER "X-Pocket-Id-Sync-Forwarded"

struct forwarder {
	struct event_base *base;
	struct evdns_base *dns; /* peers by name resolve without blocking the loop */
	size_t ntargets; /* [0] = this node's Pocket ID, then the peers */
	struct target targets[FORWARD_MAX_PEERS + 1];
};

/* Request headers passed on as they came (credentials among them). */
static const char *const pass_headers[] = {"Authorization", "Content-Type", "Accept",
					   "Cookie", "User-Agent", "X-Forwarded-Proto",
					   "X-Forwarded-Host", NULL};

struct answer {
	int status;
	char *body;
	size_t len;
	char content_type[128], www_authenticate[256];
};

struct call {
	struct forwarder *f;
	struct evhttp_request *client;
	enum forward_kind kind;
	enum evhttp_cmd_type method;
	char *uri, *body, *xff;
	size_t len;
	struct evkeyvalq headers;
	size_t next;	       /* index of the next target to ask */
	size_t last;	       /* targets asked: all, or only this node's for a forwarded request */
	struct evhttp_connection *conn; /* the attempt in flight; freed outside its callbacks */
	bool dispatching, failed_in_dispatch;
	struct answer first;   /* the first answer (returned when nobody knows better) */
	struct answer good;    /* REVOKE: the first 2xx */
	bool have_first, have_good;
};

/* ---- the classification ---- */

static bool json_string_member(const char *body, size_t len, const char *name, char *out, size_t n)
{
	cJSON *root = cJSON_ParseWithLength(body, len);
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, name);
	bool ok = cJSON_IsString(v);

	if (ok)
		snprintf(out, n, "%s", v->valuestring);
	cJSON_Delete(root);
	return ok;
}

bool forward_not_here(enum forward_kind kind, int status, const char *body, size_t len)
{
	/* Pocket ID v1.x-v2.9 names these in plain words, first letter
	 * capitalised by its error handler ("Invalid authorization code", seen
	 * on the real v2.9.0); v2.10+ (fosite) says invalid_grant.
	 * authorization_pending and slow_down are answers. */
	static const char *const unknown[] = {"invalid_grant", "invalid authorization code",
					      "refresh token is invalid or expired",
					      "invalid device code", NULL};
	char err[128];
	cJSON *root;
	bool r = false;

	switch (kind) {
	case FORWARD_TOKEN:
		if (status != 400 || !json_string_member(body, len, "error", err, sizeof(err)))
			return false;
		for (size_t i = 0; unknown[i] != NULL && !r; i++)
			r = strcasecmp(err, unknown[i]) == 0;
		return r;
	case FORWARD_USERINFO:
		/* 401: token unknown (v2.10+); 404: v1.x-v2.9 verify the JWT anywhere
		 * but read the consent, which lives on the granting node (seen on the
		 * real v2.9.0: "Record not found"). */
		return status == 401 || status == 404;
	case FORWARD_INTROSPECT:
		if (status != 200)
			return false;
		root = cJSON_ParseWithLength(body, len);
		r = cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(root, "active"));
		cJSON_Delete(root);
		return r;
	case FORWARD_REVOKE:
		return status / 100 != 2;
	}
	return false;
}

/* ---- set-up ---- */

static int parse_target(const char *url, struct target *t, char *err, size_t errlen)
{
	struct evhttp_uri *u = evhttp_uri_parse(url);
	const char *scheme = u != NULL ? evhttp_uri_get_scheme(u) : NULL;
	const char *host = u != NULL ? evhttp_uri_get_host(u) : NULL;
	const char *path = u != NULL ? evhttp_uri_get_path(u) : NULL;
	int port = u != NULL ? evhttp_uri_get_port(u) : -1;
	int rc = -1;

	if (u == NULL || scheme == NULL || strcmp(scheme, "http") != 0 || host == NULL || *host == '\0')
		snprintf(err, errlen, "\"%s\" is not an http://host:port URL (the forwarder speaks "
				      "plain HTTP to Pocket ID: use a private link between sites)", url);
	else if (path != NULL && *path != '\0' && strcmp(path, "/") != 0)
		snprintf(err, errlen, "\"%s\": give Pocket ID's base URL, without a path", url);
	else if (strlen(host) >= sizeof(t->host))
		snprintf(err, errlen, "\"%s\": host name too long", url);
	else {
		snprintf(t->host, sizeof(t->host), "%s", host);
		t->port = (uint16_t)(port > 0 ? port : 80);
		snprintf(t->label, sizeof(t->label), "%s:%u", t->host, (unsigned)t->port);
		rc = 0;
	}
	if (u != NULL)
		evhttp_uri_free(u);
	return rc;
}

int forward_parse_peers(const char *list, char ***out, char *err, size_t errlen)
{
	char *copy = strdup(list), *save = NULL, *tok;
	char **v = calloc(FORWARD_MAX_PEERS + 1, sizeof(char *));
	struct target t;
	int n = 0;

	*out = NULL;
	if (copy == NULL || v == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	for (tok = strtok_r(copy, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
		while (*tok == ' ')
			tok++;
		for (size_t k = strlen(tok); k > 0 && tok[k - 1] == ' '; k--)
			tok[k - 1] = '\0';
		if (*tok == '\0')
			continue;
		if (n == FORWARD_MAX_PEERS) {
			snprintf(err, errlen, "more than %d URLs", FORWARD_MAX_PEERS);
			goto fail;
		}
		if (parse_target(tok, &t, err, errlen) == -1 || (v[n] = strdup(tok)) == NULL)
			goto fail;
		n++;
	}
	if (n == 0) {
		snprintf(err, errlen, "no URL");
		goto fail;
	}
	free(copy);
	*out = v;
	return n;
fail:
	for (int i = 0; v != NULL && i < n; i++)
		free(v[i]);
	free(v);
	free(copy);
	return -1;
}

struct forwarder *forward_new(struct event_base *base, const char *local_url,
			      const char *const *peers, size_t npeers, char *err, size_t errlen)
{
	struct forwarder *f = calloc(1, sizeof(*f));

	if (f == NULL || npeers > FORWARD_MAX_PEERS) {
		snprintf(err, errlen, f == NULL ? "out of memory" : "too many forward peers");
		free(f);
		return NULL;
	}
	f->base = base;
	if (parse_target(local_url, &f->targets[0], err, errlen) == -1) {
		free(f);
		return NULL;
	}
	for (size_t i = 0; i < npeers; i++) {
		if (parse_target(peers[i], &f->targets[i + 1], err, errlen) == -1) {
			free(f);
			return NULL;
		}
	}
	f->ntargets = npeers + 1;
	f->dns = evdns_base_new(base, EVDNS_BASE_INITIALIZE_NAMESERVERS);
	if (f->dns == NULL) /* no resolver configured: numeric addresses still work */
		log_warn("forward.no_resolver", "msg=\"peers given by name resolve on the event loop\"");
	return f;
}

void forward_free(struct forwarder *f)
{
	if (f != NULL && f->dns != NULL)
		evdns_base_free(f->dns, 0);
	free(f);
}

/* ---- one call ---- */

static void answer_clear(struct answer *a)
{
	if (a->body != NULL)
		OPENSSL_clear_free(a->body, a->len + 1);
	memset(a, 0, sizeof(*a));
}

static void call_free(struct call *c)
{
	answer_clear(&c->first);
	answer_clear(&c->good);
	if (c->body != NULL)
		OPENSSL_clear_free(c->body, c->len + 1);
	evhttp_clear_headers(&c->headers);
	free(c->uri);
	free(c->xff);
	free(c);
}

static void free_conn_later(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	evhttp_connection_free(arg);
}

/* libevent 2.1.12 does not free a connection that failed to connect even
 * with evhttp_connection_free_on_completion, and one must not be freed
 * inside its own callback: free it from the loop, right after. */
static void release_conn(struct call *c)
{
	static const struct timeval now = {0, 0};

	if (c->conn != NULL && event_base_once(c->f->base, -1, EV_TIMEOUT, free_conn_later, c->conn,
					       &now) != 0)
		log_warn("forward.leak", "what=connection");
	c->conn = NULL;
}

static void finish(struct call *c)
{
	struct answer *a = c->have_good ? &c->good : c->have_first ? &c->first : NULL;

	if (a == NULL) {
		http_reply_text(c->client, 502, "no Pocket ID answered the forwarded request\n");
	} else if (a->www_authenticate[0] != '\0' || a->body == NULL) { /* an error: no token in it */
		http_reply_bytes(c->client, a->status, a->content_type[0] ? a->content_type : NULL,
				 a->body, a->len, a->www_authenticate[0] ? "WWW-Authenticate" : NULL,
				 a->www_authenticate, NULL);
	} else { /* may hold tokens: handed over, wiped once written */
		http_reply_secret(c->client, a->status, a->content_type[0] ? a->content_type : NULL,
				  a->body, a->len);
		a->body = NULL;
		a->len = 0;
	}
	release_conn(c);
	call_free(c);
}

static void keep_answer(struct answer *a, struct evhttp_request *resp)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(resp);
	struct evkeyvalq *h = evhttp_request_get_input_headers(resp);
	const char *ct = evhttp_find_header(h, "Content-Type");
	const char *www = evhttp_find_header(h, "WWW-Authenticate");
	size_t n = evbuffer_get_length(in);

	a->status = evhttp_request_get_response_code(resp);
	a->body = malloc(n + 1);
	if (a->body != NULL) {
		a->len = evbuffer_remove(in, a->body, n) < 0 ? 0 : n;
		a->body[a->len] = '\0';
	}
	snprintf(a->content_type, sizeof(a->content_type), "%s", ct != NULL ? ct : "");
	snprintf(a->www_authenticate, sizeof(a->www_authenticate), "%s", www != NULL ? www : "");
}

static void send_next(struct call *c);

static void on_answer(struct evhttp_request *resp, void *arg)
{
	struct call *c = arg;
	const struct target *t = &c->f->targets[c->next - 1];
	struct answer a = {0};
	bool not_here;

	if (c->dispatching) { /* failed inside evhttp_make_request: send_next goes on */
		c->failed_in_dispatch = true;
		return;
	}
	release_conn(c);
	if (resp == NULL || evhttp_request_get_response_code(resp) == 0) {
		log_warn("forward.unreachable", "target=%s", t->label);
		send_next(c);
		return;
	}
	keep_answer(&a, resp);
	not_here = forward_not_here(c->kind, a.status, a.body != NULL ? a.body : "", a.len);
	log_debug("forward.answer", "target=%s status=%d not_here=%d", t->label, a.status, not_here);
	if (c->kind == FORWARD_REVOKE) { /* every node; the first 2xx is the answer */
		if (!not_here && !c->have_good) {
			c->good = a;
			c->have_good = true;
		} else if (!c->have_first) {
			c->first = a;
			c->have_first = true;
		} else {
			answer_clear(&a);
		}
		send_next(c);
		return;
	}
	if (!not_here) { /* this node issued it: its answer is the answer */
		answer_clear(&c->first);
		c->first = a;
		c->have_first = true;
		finish(c);
		return;
	}
	if (!c->have_first) {
		c->first = a;
		c->have_first = true;
	} else {
		answer_clear(&a);
	}
	send_next(c);
}

static int add_headers(struct call *c, struct evhttp_request *out, const struct target *t)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(out);
	struct evkeyval *kv;

	TAILQ_FOREACH(kv, &c->headers, next)
	{
		if (evhttp_add_header(h, kv->key, kv->value) != 0)
			return -1;
	}
	return evhttp_add_header(h, "Host", t->label) != 0 ||
	       evhttp_add_header(h, "X-Forwarded-For", c->xff) != 0 ||
	       evhttp_add_header(h, FORWARD_HOP_HEADER, "1") != 0 ||
	       evhttp_add_header(h, "Connection", "close") != 0 ? -1 : 0;
}

/* Asks the next target, or answers the client when none is left. */
static void send_next(struct call *c)
{
	const struct target *t;
	struct evhttp_connection *conn;
	struct evhttp_request *out;
	int rc;

	for (;;) {
		if (c->next >= c->last) {
			finish(c);
			return;
		}
		t = &c->f->targets[c->next++];
		conn = evhttp_connection_base_new(c->f->base, c->f->dns, t->host, t->port);
		out = conn != NULL ? evhttp_request_new(on_answer, c) : NULL;
		if (out == NULL || add_headers(c, out, t) == -1 ||
		    (c->len > 0 && evbuffer_add(evhttp_request_get_output_buffer(out), c->body, c->len) != 0)) {
			if (out != NULL)
				evhttp_request_free(out);
			if (conn != NULL)
				evhttp_connection_free(conn);
			log_warn("forward.unreachable", "target=%s reason=setup", t->label);
			continue;
		}
		evhttp_connection_set_timeout(conn, FORWARD_TIMEOUT_SECONDS);
		evhttp_connection_set_max_body_size(conn, FORWARD_MAX_BODY);
		evhttp_connection_set_retries(conn, 0);
		c->conn = conn;
		c->dispatching = true;
		c->failed_in_dispatch = false;
		rc = evhttp_make_request(conn, out, c->method, c->uri);
		c->dispatching = false;
		if (rc == 0 && !c->failed_in_dispatch)
			return; /* on_answer goes on */
		log_warn("forward.unreachable", "target=%s reason=connect", t->label);
		release_conn(c); /* frees what libevent kept of the request too */
	}
}

/* X-Forwarded-For as received, with the connecting peer appended. */
static char *forwarded_for(struct evhttp_request *req)
{
	const char *prev = evhttp_find_header(evhttp_request_get_input_headers(req), "X-Forwarded-For");
	struct evhttp_connection *conn = evhttp_request_get_connection(req);
	char *peer = NULL, *out;
	ev_uint16_t port = 0;
	size_t n;

	if (conn != NULL)
		evhttp_connection_get_peer(conn, &peer, &port);
	if (peer == NULL)
		peer = "unknown";
	n = (prev != NULL ? strlen(prev) + 2 : 0) + strlen(peer) + 1;
	out = malloc(n);
	if (out != NULL)
		snprintf(out, n, "%s%s%s", prev != NULL ? prev : "", prev != NULL ? ", " : "", peer);
	return out;
}

void forward_handle(struct forwarder *f, struct evhttp_request *req, enum forward_kind kind)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	struct evkeyvalq *h = evhttp_request_get_input_headers(req);
	struct call *c = calloc(1, sizeof(*c));
	const char *uri = evhttp_request_get_uri(req);

	if (c == NULL) {
		http_reply_text(req, 503, "out of memory\n");
		return;
	}
	c->f = f;
	c->client = req;
	c->kind = kind;
	c->method = evhttp_request_get_command(req);
	TAILQ_INIT(&c->headers);
	/* Sent by another forwarder: this node's Pocket ID only, never onwards. */
	c->last = evhttp_find_header(h, FORWARD_HOP_HEADER) != NULL ? 1 : f->ntargets;
	c->len = evbuffer_get_length(in);
	c->body = malloc(c->len + 1);
	c->uri = strdup(uri != NULL ? uri : "/");
	c->xff = forwarded_for(req);
	if (c->body == NULL || c->uri == NULL || c->xff == NULL ||
	    evbuffer_remove(in, c->body, c->len) != (int)c->len) {
		http_reply_text(req, 503, "out of memory\n");
		call_free(c);
		return;
	}
	c->body[c->len] = '\0';
	for (size_t i = 0; pass_headers[i] != NULL; i++) {
		const char *v = evhttp_find_header(h, pass_headers[i]);
		if (v != NULL && evhttp_add_header(&c->headers, pass_headers[i], v) != 0) {
			http_reply_text(req, 503, "out of memory\n");
			call_free(c);
			return;
		}
	}
	send_next(c);
}
