/* Unit tests for http_server: real HTTP over 127.0.0.1 (ephemeral ports)
 * with libevent's own client on the same event loop, run until each reply
 * arrives. Covers pubkey, healthz, 404/405, export authentication and held
 * replies, the admin API with and without an admin token, the metrics
 * listener, the body and header limits, and the loopback test. */
#include "b64.h"
#include "enroll.h"
#include "http_server.h"
#include "keys.h"
#include "log.h"
#include "metrics.h"
#include "state.h"
#include "testutil.h"
#include "token.h"

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct fixture {
	char *dir;
	struct event_base *base;
	struct state *st;
	struct metrics *m;
	struct http_server *srv;
	uint8_t pub[32];
	const char *unhealthy; /* reason, or NULL when healthy */
	int export_calls, hold;
	char export_peer[65];
	struct evhttp_request *held;
};

struct resp {
	int done, code;
	char *body;
	size_t len;
	char allow[64], www[64], ctype[128], gen[16], refusal[32];
};

static int fx_health(void *ctx, char *reason, size_t n)
{
	struct fixture *f = ctx;

	if (f->unhealthy == NULL)
		return 0;
	snprintf(reason, n, "%s", f->unhealthy);
	return 1;
}

static void fx_export(void *ctx, struct evhttp_request *req, const struct peer_info *peer)
{
	struct fixture *f = ctx;

	f->export_calls++;
	snprintf(f->export_peer, sizeof(f->export_peer), "%s", peer->name);
	if (f->hold) {
		http_request_hold(req);
		f->held = req;
		return;
	}
	http_reply_bytes(req, 200, "application/octet-stream", "sealed", 6, "X-Generation", "7",
			 NULL);
}

static struct fixture *fx_new(enum sync_role role, const char *admin_token)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct http_server_config cfg = {0};
	char err[512];

	assert_non_null(f);
	f->dir = tu_mkdtemp();
	f->base = event_base_new();
	assert_non_null(f->base);
	assert_int_equal(state_open(f->dir, &f->st, err, sizeof(err)), 0);
	f->m = metrics_new(role, "9.9.9", 300);
	memset(f->pub, 0x42, 32);
	cfg.role = role;
	cfg.listen_host = "127.0.0.1";
	cfg.metrics_host = "127.0.0.1";
	memcpy(cfg.node_pub, f->pub, 32);
	cfg.state = f->st;
	cfg.metrics = f->m;
	cfg.admin_token = admin_token;
	cfg.health = fx_health;
	cfg.export_handler = fx_export;
	cfg.ctx = f;
	f->srv = http_server_new(f->base, &cfg, err, sizeof(err));
	assert_non_null(f->srv);
	assert_true(http_server_port(f->srv) != 0);
	assert_true(http_server_metrics_port(f->srv) != 0);
	assert_true(http_server_port(f->srv) != http_server_metrics_port(f->srv));
	return f;
}

static void fx_free(struct fixture *f)
{
	http_server_free(f->srv);
	event_base_free(f->base);
	metrics_free(f->m);
	state_close(f->st);
	tu_rmtree(f->dir);
	free(f);
}

static void on_response(struct evhttp_request *req, void *arg)
{
	struct resp *r = arg;
	struct evkeyvalq *h;
	struct evbuffer *in;
	const char *v;

	r->done = 1;
	if (req == NULL || (r->code = evhttp_request_get_response_code(req)) == 0)
		return;
	in = evhttp_request_get_input_buffer(req);
	r->len = evbuffer_get_length(in);
	r->body = malloc(r->len + 1);
	assert_non_null(r->body);
	evbuffer_remove(in, r->body, r->len);
	r->body[r->len] = '\0';
	h = evhttp_request_get_input_headers(req);
	if ((v = evhttp_find_header(h, "Allow")) != NULL)
		snprintf(r->allow, sizeof(r->allow), "%s", v);
	if ((v = evhttp_find_header(h, "WWW-Authenticate")) != NULL)
		snprintf(r->www, sizeof(r->www), "%s", v);
	if ((v = evhttp_find_header(h, "Content-Type")) != NULL)
		snprintf(r->ctype, sizeof(r->ctype), "%s", v);
	if ((v = evhttp_find_header(h, "X-Generation")) != NULL)
		snprintf(r->gen, sizeof(r->gen), "%s", v);
	if ((v = evhttp_find_header(h, "X-Pocket-Id-Sync-Refusal")) != NULL)
		snprintf(r->refusal, sizeof(r->refusal), "%s", v);
}

/* Sends a request; the reply lands in r once the loop runs. */
static struct evhttp_connection *start(struct fixture *f, uint16_t port,
				       enum evhttp_cmd_type method, const char *path,
				       const char *auth, const char *body, size_t blen,
				       struct resp *r)
{
	struct evhttp_connection *c = evhttp_connection_base_new(f->base, NULL, "127.0.0.1", port);
	struct evhttp_request *req = evhttp_request_new(on_response, r);
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);

	memset(r, 0, sizeof(*r));
	evhttp_connection_set_timeout(c, 20); /* a hung test fails instead of hanging */
	evhttp_add_header(h, "Host", "127.0.0.1");
	if (auth != NULL)
		evhttp_add_header(h, "Authorization", auth);
	if (body != NULL) {
		evhttp_add_header(h, "Content-Type", "application/json");
		evbuffer_add(evhttp_request_get_output_buffer(req), body, blen);
	}
	assert_int_equal(evhttp_make_request(c, req, method, path), 0);
	return c;
}

static void wait_for(struct fixture *f, struct resp *r, struct evhttp_connection *c)
{
	while (!r->done)
		event_base_loop(f->base, EVLOOP_ONCE);
	evhttp_connection_free(c);
}

static void request(struct fixture *f, uint16_t port, enum evhttp_cmd_type method,
		    const char *path, const char *auth, const char *body, struct resp *r)
{
	wait_for(f, r, start(f, port, method, path, auth, body, body ? strlen(body) : 0, r));
}

static void get(struct fixture *f, const char *path, const char *auth, struct resp *r)
{
	request(f, http_server_port(f->srv), EVHTTP_REQ_GET, path, auth, NULL, r);
}

static void resp_free(struct resp *r)
{
	free(r->body);
	r->body = NULL;
}

static void expect(struct resp *r, int code, const char *body)
{
	if (r->code != code || (body != NULL && (r->body == NULL || strcmp(r->body, body) != 0)))
		fail_msg("got %d '%s', want %d '%s'", r->code, r->body ? r->body : "",
			 code, body ? body : "(any)");
	resp_free(r);
}

/* Enrols a peer directly and returns its bare token (caller frees). */
static char *enrol(struct fixture *f, const char *name, uint8_t keybyte)
{
	char boot[TOKEN_BOOTSTRAP_LEN + 1], pub64[45], err[256];
	struct bootstrap_token t;
	uint8_t key[32];

	memset(key, keybyte, 32);
	b64_encode(pub64, key, 32);
	assert_int_equal(enroll_peer(f->st, f->pub, name, pub64, boot, err, sizeof(err)), ENROLL_OK);
	assert_int_equal(token_parse(boot, &t), 0);
	return strdup(t.secret);
}

static void test_pubkey_and_healthz(void **unused)
{
	struct fixture *f = fx_new(ROLE_PRIMARY, NULL);
	char want[64], b64[45];
	struct resp r;
	(void)unused;
	b64_encode(b64, f->pub, 32);
	snprintf(want, sizeof(want), "%s\n", b64);
	get(f, "/sync/pubkey", NULL, &r);
	assert_string_equal(r.ctype, "text/plain; charset=utf-8");
	expect(&r, 200, want);
	get(f, "/healthz", NULL, &r);
	expect(&r, 200, "ok\n");
	f->unhealthy = "stale: no sync for 15m\nsecond line";
	get(f, "/healthz", NULL, &r);
	expect(&r, 503, "unhealthy: stale: no sync for 15m\n");
	fx_free(f);
}

static void test_not_found_and_methods(void **unused)
{
	struct fixture *f = fx_new(ROLE_PRIMARY, NULL);
	uint16_t port;
	struct resp r;
	(void)unused;
	port = http_server_port(f->srv);
	get(f, "/nope", NULL, &r);
	expect(&r, 404, "not found\n");
	get(f, "/sync/admin/peers/a/b", NULL, &r);
	expect(&r, 404, NULL);
	get(f, "/metrics", NULL, &r); /* only on the metrics listener */
	expect(&r, 404, NULL);
	request(f, port, EVHTTP_REQ_POST, "/sync/pubkey", NULL, "{}", &r);
	assert_string_equal(r.allow, "GET");
	expect(&r, 405, "method not allowed\n");
	request(f, port, EVHTTP_REQ_PUT, "/healthz", NULL, NULL, &r);
	assert_string_equal(r.allow, "GET");
	expect(&r, 405, NULL);
	request(f, port, EVHTTP_REQ_PATCH, "/nope", NULL, NULL, &r);
	assert_string_equal(r.allow, "GET, POST, DELETE");
	expect(&r, 405, NULL);
	request(f, port, EVHTTP_REQ_HEAD, "/sync/pubkey", NULL, NULL, &r);
	expect(&r, 405, NULL);
	request(f, port, EVHTTP_REQ_DELETE, "/sync/admin/peers", NULL, NULL, &r);
	assert_string_equal(r.allow, "GET, POST");
	expect(&r, 405, NULL);
	get(f, "/sync/admin/peers/x", NULL, &r);
	assert_string_equal(r.allow, "DELETE");
	expect(&r, 405, NULL);
	fx_free(f);
}

/* Captures this process's stderr (the log) into a file while active. */
static int capture_begin(const char *path)
{
	int saved = dup(2), fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	assert_true(saved >= 0 && fd >= 0);
	fflush(stderr);
	assert_int_equal(dup2(fd, 2), 2);
	close(fd);
	return saved;
}

static void capture_end(int saved)
{
	fflush(stderr);
	assert_int_equal(dup2(saved, 2), 2);
	close(saved);
}

static void test_export_auth(void **unused)
{
	struct fixture *f = fx_new(ROLE_PRIMARY, NULL);
	char *tok = enrol(f, "site-b", 1), *other = enrol(f, "site-c", 2), auth[400], wrong[64];
	char logpath[512], *logtext, *metrics_text;
	const char *bad[4];
	struct resp r;
	int saved;
	(void)unused;
	snprintf(logpath, sizeof(logpath), "%s/log.txt", f->dir);
	log_set_level(LOG_LVL_DEBUG);
	saved = capture_begin(logpath);
	snprintf(auth, sizeof(auth), "Bearer %s", tok);
	get(f, "/sync/export", auth, &r);
	assert_int_equal(f->export_calls, 1);
	assert_string_equal(f->export_peer, "site-b");
	assert_string_equal(r.gen, "7");
	expect(&r, 200, "sealed");
	snprintf(auth, sizeof(auth), "bearer  %s ", other); /* scheme is case-insensitive */
	get(f, "/sync/export", auth, &r);
	assert_string_equal(f->export_peer, "site-c");
	expect(&r, 200, "sealed");
	/* Missing, malformed, wrong and revoked tokens: one identical answer. */
	token_generate(wrong);
	snprintf(auth, sizeof(auth), "Bearer %s", wrong);
	bad[0] = NULL;
	bad[1] = "Basic dXNlcjpwYXNz";
	bad[2] = "Bearer ";
	bad[3] = auth;
	for (int i = 0; i < 4; i++) {
		get(f, "/sync/export", bad[i], &r);
		assert_string_equal(r.www, "Bearer");
		expect(&r, 401, "unauthorized\n");
	}
	assert_int_equal(state_peer_remove(f->st, "site-b"), 0);
	snprintf(auth, sizeof(auth), "Bearer %s", tok);
	get(f, "/sync/export", auth, &r);
	assert_string_equal(r.www, "Bearer");
	assert_string_equal(r.refusal, "auth"); /* the secondary counts it by this name */
	expect(&r, 401, "unauthorized\n");
	snprintf(auth, sizeof(auth), "Bearer %s extra", other);
	get(f, "/sync/export", auth, &r);
	expect(&r, 401, "unauthorized\n");
	capture_end(saved);
	log_set_level(LOG_LVL_INFO);
	assert_int_equal(f->export_calls, 2);
	metrics_text = metrics_render(f->m, NULL);
	assert_non_null(strstr(metrics_text, "pocket_id_sync_failures_total{reason=\"auth\"} 6\n"));
	free(metrics_text);
	/* One debug line per request, never the token. */
	logtext = tu_read_file(logpath, NULL);
	assert_non_null(strstr(logtext, "event=http.request method=GET path=\"/sync/export\" status=401"));
	assert_non_null(strstr(logtext, "status=200"));
	assert_null(strstr(logtext, tok));
	assert_null(strstr(logtext, other));
	assert_null(strstr(logtext, wrong));
	free(logtext);
	free(tok);
	free(other);
	fx_free(f);
}

static void test_export_held_reply(void **unused)
{
	struct fixture *f = fx_new(ROLE_PRIMARY, NULL);
	char *tok = enrol(f, "site-b", 1), auth[100];
	struct evhttp_connection *c;
	struct resp r;
	(void)unused;
	f->hold = 1;
	snprintf(auth, sizeof(auth), "Bearer %s", tok);
	c = start(f, http_server_port(f->srv), EVHTTP_REQ_GET, "/sync/export", auth, NULL, 0, &r);
	while (f->held == NULL)
		event_base_loop(f->base, EVLOOP_ONCE);
	assert_false(r.done);
	/* Other requests are served while one is held. */
	{
		struct resp h;
		get(f, "/healthz", NULL, &h);
		expect(&h, 200, "ok\n");
	}
	assert_false(r.done);
	http_reply_bytes(f->held, 200, "application/octet-stream", "late", 4, NULL);
	wait_for(f, &r, c);
	expect(&r, 200, "late");
	free(tok);
	fx_free(f);
}

static void test_secondary_routes(void **unused)
{
	struct fixture *f = fx_new(ROLE_SECONDARY, NULL);
	struct resp r;
	(void)unused;
	get(f, "/sync/export", "Bearer x", &r);
	assert_string_equal(r.refusal, "not_primary"); /* a secondary says what it is */
	expect(&r, 404, NULL);
	get(f, "/sync/admin/peers", NULL, &r);
	assert_string_equal(r.refusal, "");
	expect(&r, 404, NULL);
	request(f, http_server_port(f->srv), EVHTTP_REQ_DELETE, "/sync/admin/peers/a", NULL, NULL,
		&r);
	expect(&r, 404, NULL);
	get(f, "/healthz", NULL, &r);
	expect(&r, 200, "ok\n");
	get(f, "/sync/pubkey", NULL, &r);
	expect(&r, 200, NULL);
	assert_int_equal(f->export_calls, 0);
	fx_free(f);
}

static cJSON *json_of(struct resp *r)
{
	cJSON *doc = cJSON_Parse(r->body);

	assert_non_null(doc);
	assert_string_equal(r->ctype, "application/json");
	return doc;
}

static void admin_add(struct fixture *f, const char *auth, const char *body, struct resp *r)
{
	request(f, http_server_port(f->srv), EVHTTP_REQ_POST, "/sync/admin/peers", auth, body, r);
}

static void test_admin_loopback(void **unused)
{
	struct fixture *f = fx_new(ROLE_PRIMARY, NULL);
	char body[200], pub64[45], own64[45], auth[200], fp[17], *text;
	uint8_t key[32];
	struct bootstrap_token t;
	cJSON *doc, *item;
	struct resp r;
	(void)unused;
	memset(key, 7, 32);
	b64_encode(pub64, key, 32);
	b64_encode(own64, f->pub, 32);
	snprintf(body, sizeof(body), "{\"name\": \"site-b\", \"pubkey\": \"%s\"}", pub64);
	admin_add(f, NULL, body, &r);
	assert_int_equal(r.code, 201);
	doc = json_of(&r);
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(doc, "name")), "site-b");
	assert_int_equal(token_parse(cJSON_GetStringValue(cJSON_GetObjectItem(doc, "token")), &t), 0);
	assert_true(t.has_pubkey);
	assert_memory_equal(t.primary_pubkey, f->pub, 32);
	cJSON_Delete(doc);
	resp_free(&r);
	/* The issued token opens /sync/export. */
	snprintf(auth, sizeof(auth), "Bearer %s", t.secret);
	get(f, "/sync/export", auth, &r);
	expect(&r, 200, "sealed");
	text = metrics_render(f->m, NULL);
	assert_non_null(strstr(text, "pocket_id_sync_peers 1\n"));
	free(text);
	/* Refusals. */
	admin_add(f, NULL, body, &r);
	expect(&r, 409, "{\"error\":\"a peer named site-b already exists\"}");
	admin_add(f, NULL, "{\"name\": \"x\"", &r);
	expect(&r, 400, NULL);
	admin_add(f, NULL, "{\"name\": \"x\", \"pubkey\": \"AAAA\"} trailing", &r);
	expect(&r, 400, NULL);
	admin_add(f, NULL, "[1, 2]", &r);
	expect(&r, 400, NULL);
	snprintf(body, sizeof(body), "{\"name\": \"bad name\", \"pubkey\": \"%s\"}", pub64);
	admin_add(f, NULL, body, &r);
	expect(&r, 400, NULL);
	snprintf(body, sizeof(body), "{\"name\": \"self\", \"pubkey\": \"%s\"}", own64);
	admin_add(f, NULL, body, &r);
	expect(&r, 400, NULL);
	/* List. */
	get(f, "/sync/admin/peers", NULL, &r);
	assert_int_equal(r.code, 200);
	doc = json_of(&r);
	assert_true(cJSON_IsArray(doc));
	assert_int_equal(cJSON_GetArraySize(doc), 1);
	item = cJSON_GetArrayItem(doc, 0);
	keys_fingerprint(key, fp);
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(item, "name")), "site-b");
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(item, "fingerprint")), fp);
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(item, "pubkey")), pub64);
	assert_true(cJSON_GetNumberValue(cJSON_GetObjectItem(item, "created_at")) > 1600000000);
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(item, "last_seen_at")));
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(item, "last_generation_sent")));
	assert_null(cJSON_GetObjectItem(item, "token"));
	assert_null(cJSON_GetObjectItem(item, "token_hash"));
	cJSON_Delete(doc);
	resp_free(&r);
	/* Delete, twice. */
	request(f, http_server_port(f->srv), EVHTTP_REQ_DELETE, "/sync/admin/peers/site-b", NULL,
		NULL, &r);
	expect(&r, 204, "");
	request(f, http_server_port(f->srv), EVHTTP_REQ_DELETE, "/sync/admin/peers/site-b", NULL,
		NULL, &r);
	expect(&r, 404, "{\"error\":\"no such peer\"}");
	get(f, "/sync/admin/peers", NULL, &r);
	expect(&r, 200, "[]");
	get(f, "/sync/export", auth, &r); /* revoked */
	expect(&r, 401, "unauthorized\n");
	text = metrics_render(f->m, NULL);
	assert_non_null(strstr(text, "pocket_id_sync_peers 0\n"));
	free(text);
	token_wipe(&t);
	fx_free(f);
}

static void test_admin_token(void **unused)
{
	struct fixture *f = fx_new(ROLE_PRIMARY, "s3cret-admin-token");
	char body[200], pub64[45];
	uint8_t key[32];
	struct resp r;
	(void)unused;
	get(f, "/sync/admin/peers", NULL, &r); /* loopback alone is not enough */
	assert_string_equal(r.www, "Bearer");
	expect(&r, 401, "unauthorized\n");
	get(f, "/sync/admin/peers", "Bearer s3cret-admin-tokeN", &r);
	expect(&r, 401, "unauthorized\n");
	get(f, "/sync/admin/peers", "Bearer s3cret-admin-token-longer", &r);
	expect(&r, 401, "unauthorized\n");
	get(f, "/sync/admin/peers", "Bearer s3cret-admin-token", &r);
	expect(&r, 200, "[]");
	memset(key, 9, 32);
	b64_encode(pub64, key, 32);
	snprintf(body, sizeof(body), "{\"name\": \"b\", \"pubkey\": \"%s\"}", pub64);
	admin_add(f, NULL, body, &r);
	expect(&r, 401, NULL);
	admin_add(f, "Bearer s3cret-admin-token", body, &r);
	expect(&r, 201, NULL);
	request(f, http_server_port(f->srv), EVHTTP_REQ_DELETE, "/sync/admin/peers/b", NULL, NULL,
		&r);
	expect(&r, 401, NULL);
	request(f, http_server_port(f->srv), EVHTTP_REQ_DELETE, "/sync/admin/peers/b",
		"Bearer s3cret-admin-token", NULL, &r);
	expect(&r, 204, NULL);
	fx_free(f);
}

static void test_metrics_listener(void **unused)
{
	struct fixture *f = fx_new(ROLE_PRIMARY, NULL);
	uint16_t mp = http_server_metrics_port(f->srv);
	struct resp r;
	(void)unused;
	metrics_set_generation(f->m, 12);
	request(f, mp, EVHTTP_REQ_GET, "/metrics", NULL, NULL, &r);
	assert_int_equal(r.code, 200);
	assert_string_equal(r.ctype, METRICS_CONTENT_TYPE);
	assert_non_null(strstr(r.body, "pocket_id_sync_build_info{version=\"9.9.9\"} 1\n"));
	assert_non_null(strstr(r.body, "pocket_id_sync_generation 12\n"));
	resp_free(&r);
	request(f, mp, EVHTTP_REQ_POST, "/metrics", NULL, "{}", &r);
	assert_string_equal(r.allow, "GET");
	expect(&r, 405, NULL);
	request(f, mp, EVHTTP_REQ_GET, "/sync/pubkey", NULL, NULL, &r);
	expect(&r, 404, NULL);
	request(f, mp, EVHTTP_REQ_GET, "/healthz", NULL, NULL, &r);
	expect(&r, 404, NULL);
	fx_free(f);
}

static void test_limits(void **unused)
{
	struct fixture *f = fx_new(ROLE_PRIMARY, NULL);
	size_t big = HTTP_MAX_BODY_BYTES + 4096;
	char *body = malloc(big), *hdr = malloc(HTTP_MAX_HEADER_BYTES + 1024);
	struct evhttp_connection *c;
	struct resp r;
	(void)unused;
	assert_non_null(body);
	assert_non_null(hdr);
	memset(body, ' ', big);
	body[0] = '{';
	body[big - 1] = '}';
	c = start(f, http_server_port(f->srv), EVHTTP_REQ_POST, "/sync/admin/peers", NULL, body, big,
		  &r);
	wait_for(f, &r, c);
	expect(&r, 413, NULL);
	/* A header block over the limit is refused before any handler runs. */
	memset(hdr, 'a', HTTP_MAX_HEADER_BYTES + 1023);
	hdr[HTTP_MAX_HEADER_BYTES + 1023] = '\0';
	get(f, "/sync/export", hdr, &r);
	assert_true(r.code == 413 || r.code == 400);
	resp_free(&r);
	assert_int_equal(f->export_calls, 0);
	get(f, "/sync/admin/peers", NULL, &r);
	expect(&r, 200, "[]");
	free(body);
	free(hdr);
	fx_free(f);
}

static void test_bind_conflict(void **unused)
{
	struct fixture *f = fx_new(ROLE_PRIMARY, NULL);
	struct http_server_config cfg = {0};
	char err[256] = "";
	(void)unused;
	cfg.role = ROLE_PRIMARY;
	cfg.listen_host = "127.0.0.1";
	cfg.listen_port = http_server_port(f->srv);
	cfg.state = f->st;
	assert_null(http_server_new(f->base, &cfg, err, sizeof(err)));
	assert_non_null(strstr(err, "cannot listen on 127.0.0.1:"));
	fx_free(f);
}

static void test_loopback_predicate(void **unused)
{
	static const char *const yes4[] = {"127.0.0.1", "127.255.0.9"};
	static const char *const no4[] = {"10.0.0.1", "128.0.0.1", "0.0.0.0"};
	static const char *const yes6[] = {"::1", "::ffff:127.0.0.1"};
	static const char *const no6[] = {"::", "::2", "fe80::1", "::ffff:10.0.0.1", "2001:db8::1"};
	struct sockaddr_in in4 = {.sin_family = AF_INET};
	struct sockaddr_in6 in6 = {.sin6_family = AF_INET6};
	(void)unused;
	for (size_t i = 0; i < 2; i++) {
		assert_int_equal(inet_pton(AF_INET, yes4[i], &in4.sin_addr), 1);
		assert_true(http_addr_is_loopback((struct sockaddr *)&in4));
		assert_int_equal(inet_pton(AF_INET6, yes6[i], &in6.sin6_addr), 1);
		assert_true(http_addr_is_loopback((struct sockaddr *)&in6));
	}
	for (size_t i = 0; i < 3; i++) {
		assert_int_equal(inet_pton(AF_INET, no4[i], &in4.sin_addr), 1);
		assert_false(http_addr_is_loopback((struct sockaddr *)&in4));
	}
	for (size_t i = 0; i < 5; i++) {
		assert_int_equal(inet_pton(AF_INET6, no6[i], &in6.sin6_addr), 1);
		assert_false(http_addr_is_loopback((struct sockaddr *)&in6));
	}
	assert_false(http_addr_is_loopback(NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pubkey_and_healthz),
		cmocka_unit_test(test_not_found_and_methods),
		cmocka_unit_test(test_export_auth),
		cmocka_unit_test(test_export_held_reply),
		cmocka_unit_test(test_secondary_routes),
		cmocka_unit_test(test_admin_loopback),
		cmocka_unit_test(test_admin_token),
		cmocka_unit_test(test_metrics_listener),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_bind_conflict),
		cmocka_unit_test(test_loopback_predicate),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
