/* http_admin: the primary's admin API: GET /sync/admin/peers (list), POST
 * /sync/admin/peers {"name","pubkey"} (enrol; the token appears in the 201
 * reply only) and DELETE /sync/admin/peers/NAME. JSON through cJSON. Who may
 * call it is decided by the router in http_server.c. */
#include "http_priv.h"

#include "b64.h"
#include "enroll.h"
#include "keys.h"
#include "log.h"
#include "metrics.h"
#include "state.h"

#include <cjson/cJSON.h>
#include <event2/buffer.h>
#include <event2/http.h>
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

#define ADMIN_JSON "application/json"
#define ADMIN_REPLY_MAX 512 /* {"name": <= 64 chars, "token": 97 chars} fits */

static void admin_reply_json(struct evhttp_request *req, int status, cJSON *doc)
{
	char *text = doc != NULL ? cJSON_PrintUnformatted(doc) : NULL;

	if (text == NULL) {
		http_reply_text(req, 500, "internal error\n");
		return;
	}
	http_reply_bytes(req, status, ADMIN_JSON, text, strlen(text), NULL);
	cJSON_free(text);
}

void http_reply_json_error(struct evhttp_request *req, int status, const char *message)
{
	cJSON *doc = cJSON_CreateObject();

	if (doc != NULL && cJSON_AddStringToObject(doc, "error", message) == NULL) {
		cJSON_Delete(doc);
		doc = NULL;
	}
	admin_reply_json(req, status, doc);
	cJSON_Delete(doc);
}

/* null when absent, else the number. Returns 0 or -1. */
static int admin_add_optional(cJSON *o, const char *key, bool present, double v)
{
	return (present ? cJSON_AddNumberToObject(o, key, v) : cJSON_AddNullToObject(o, key)) != NULL
		       ? 0
		       : -1;
}

static cJSON *admin_peer_json(const struct peer_info *p)
{
	cJSON *o = cJSON_CreateObject();
	char fp[17], pub[45];

	keys_fingerprint(p->pubkey, fp);
	b64_encode(pub, p->pubkey, 32);
	if (o == NULL || cJSON_AddStringToObject(o, "name", p->name) == NULL ||
	    cJSON_AddStringToObject(o, "fingerprint", fp) == NULL ||
	    cJSON_AddStringToObject(o, "pubkey", pub) == NULL ||
	    cJSON_AddNumberToObject(o, "created_at", (double)p->created_at) == NULL ||
	    admin_add_optional(o, "last_seen_at", p->last_seen_at > 0, (double)p->last_seen_at) ||
	    admin_add_optional(o, "last_generation_sent", p->has_generation_sent,
			       (double)p->last_generation_sent)) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

static void admin_list(struct http_server *srv, struct evhttp_request *req)
{
	struct peer_info *peers;
	cJSON *arr, *item;
	size_t n;

	if (state_peer_list(srv->state, &peers, &n) == -1) {
		http_reply_json_error(req, 500, "cannot read state.db");
		return;
	}
	arr = cJSON_CreateArray();
	for (size_t i = 0; arr != NULL && i < n; i++) {
		item = admin_peer_json(&peers[i]);
		if (item == NULL || !cJSON_AddItemToArray(arr, item)) {
			cJSON_Delete(item);
			cJSON_Delete(arr);
			arr = NULL;
		}
	}
	free(peers);
	admin_reply_json(req, 200, arr);
	cJSON_Delete(arr);
}

/* The 201 body, written straight into a malloc'd buffer that the reply wipes
 * (cJSON's own printer would leave resized copies of the token behind). */
static void admin_reply_token(struct evhttp_request *req, const char *name, char *bootstrap)
{
	cJSON *doc = cJSON_CreateObject(), *tok = NULL;
	char *out = malloc(ADMIN_REPLY_MAX);
	bool ok = doc != NULL && out != NULL && cJSON_AddStringToObject(doc, "name", name) != NULL &&
		  (tok = cJSON_AddStringToObject(doc, "token", bootstrap)) != NULL &&
		  cJSON_PrintPreallocated(doc, out, ADMIN_REPLY_MAX, 0);

	if (tok != NULL)
		OPENSSL_cleanse(tok->valuestring, strlen(tok->valuestring));
	cJSON_Delete(doc);
	if (!ok) {
		if (out != NULL)
			OPENSSL_clear_free(out, ADMIN_REPLY_MAX);
		http_reply_json_error(req, 500, "out of memory");
		return;
	}
	http_reply_secret(req, 201, ADMIN_JSON, out, strlen(out));
}

/* The JSON body (one object, nothing after it) with its string fields name
 * and pubkey, or NULL. */
static cJSON *admin_parse_body(struct evhttp_request *req, const char **name, const char **pub)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	size_t len = evbuffer_get_length(in);
	char *text = malloc(len + 1);
	cJSON *doc = NULL;

	if (text != NULL && evbuffer_copyout(in, text, len) == (ev_ssize_t)len) {
		text[len] = '\0';
		doc = cJSON_ParseWithOpts(text, NULL, 1);
	}
	free(text);
	*name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(doc, "name"));
	*pub = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(doc, "pubkey"));
	if (*name == NULL || *pub == NULL) {
		cJSON_Delete(doc);
		return NULL;
	}
	return doc;
}

static void admin_add(struct http_server *srv, struct evhttp_request *req)
{
	char boot[TOKEN_BOOTSTRAP_LEN + 1], err[300];
	const char *name, *pub;
	cJSON *doc = admin_parse_body(req, &name, &pub);
	enum enroll_result r;

	if (doc == NULL) {
		http_reply_json_error(req, 400, "expected a JSON object with string fields name and "
						"pubkey");
		return;
	}
	r = enroll_peer(srv->state, srv->node_pub, name, pub, boot, err, sizeof(err));
	if (r == ENROLL_OK) {
		log_info("admin.peer_added", "name=%s", name);
		admin_reply_token(req, name, boot);
		http_admin_refresh_metrics(srv);
	} else {
		http_reply_json_error(req, r == ENROLL_INVALID ? 400 : r == ENROLL_CONFLICT ? 409 : 500,
				      err);
	}
	OPENSSL_cleanse(boot, sizeof(boot));
	cJSON_Delete(doc);
}

void http_admin_peers(struct http_server *srv, struct evhttp_request *req, const char *rest)
{
	(void)rest;
	if (evhttp_request_get_command(req) == EVHTTP_REQ_POST)
		admin_add(srv, req);
	else
		admin_list(srv, req);
}

void http_admin_peer(struct http_server *srv, struct evhttp_request *req, const char *rest)
{
	int rc = state_peer_name_valid(rest) ? state_peer_remove(srv->state, rest) : 1;

	if (rc == 0) {
		log_info("admin.peer_removed", "name=%s", rest);
		http_reply_bytes(req, 204, NULL, NULL, 0, NULL);
		http_admin_refresh_metrics(srv);
	} else if (rc == 1) {
		http_reply_json_error(req, 404, "no such peer");
	} else {
		http_reply_json_error(req, 500, "cannot update state.db");
	}
}

void http_admin_refresh_metrics(struct http_server *srv)
{
	struct peer_info *peers;
	size_t n;

	if (srv->metrics == NULL || state_peer_list(srv->state, &peers, &n) == -1)
		return;
	metrics_set_peers(srv->metrics, peers, n);
	free(peers);
}
