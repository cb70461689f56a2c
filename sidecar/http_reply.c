/* http_reply: the one way replies leave the HTTP layer: status line, headers,
 * body, and the debug log line per request (method, path, status; never
 * headers, so no Authorization value). Secret bodies are wiped after
 * libevent wrote them. Routing and authentication live in http_server.c. */
#include "http_priv.h"

#include "log.h"
#include "refusal.h"

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <openssl/crypto.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

static const char *http_reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 201: return "Created";
	case 204: return "No Content";
	case 304: return "Not Modified";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 409: return "Conflict";
	case 413: return "Payload Too Large";
	case 500: return "Internal Server Error";
	case 503: return "Service Unavailable";
	default: return status < 400 ? "OK" : "Error";
	}
}

static const char *http_method_name(enum evhttp_cmd_type m)
{
	switch (m) {
	case EVHTTP_REQ_GET: return "GET";
	case EVHTTP_REQ_POST: return "POST";
	case EVHTTP_REQ_HEAD: return "HEAD";
	case EVHTTP_REQ_PUT: return "PUT";
	case EVHTTP_REQ_DELETE: return "DELETE";
	case EVHTTP_REQ_OPTIONS: return "OPTIONS";
	case EVHTTP_REQ_TRACE: return "TRACE";
	case EVHTTP_REQ_CONNECT: return "CONNECT";
	case EVHTTP_REQ_PATCH: return "PATCH";
	default: return "OTHER";
	}
}

static void http_log_request(struct evhttp_request *req, int status)
{
	const struct evhttp_uri *uri;
	const char *path = NULL;
	char q[300];

	if (log_get_level() < LOG_LVL_DEBUG)
		return;
	uri = evhttp_request_get_evhttp_uri(req);
	if (uri != NULL)
		path = evhttp_uri_get_path(uri);
	log_debug("http.request", "method=%s path=%s status=%d",
		  http_method_name(evhttp_request_get_command(req)),
		  log_quote(q, sizeof(q), path != NULL ? path : "?"), status);
}

/* Sets headers and sends buf (consumed); the common tail of every reply. */
static void http_send(struct evhttp_request *req, int status, const char *content_type,
		      struct evbuffer *buf, va_list ap)
{
	struct evkeyvalq *out = evhttp_request_get_output_headers(req);
	const char *name, *value;

	if (content_type != NULL)
		evhttp_add_header(out, "Content-Type", content_type);
	evhttp_add_header(out, "Cache-Control", "no-store");
	while ((name = va_arg(ap, const char *)) != NULL) {
		value = va_arg(ap, const char *);
		if (value != NULL)
			evhttp_add_header(out, name, value);
	}
	http_log_request(req, status);
	evhttp_send_reply(req, status, http_reason(status), buf);
	if (buf != NULL)
		evbuffer_free(buf);
}

void http_reply_bytes(struct evhttp_request *req, int status, const char *content_type,
		      const void *data, size_t len, ...)
{
	struct evbuffer *buf = len > 0 ? evbuffer_new() : NULL;
	va_list ap;

	if (buf != NULL && evbuffer_add(buf, data, len) == -1) {
		evbuffer_free(buf);
		buf = NULL;
		status = 500;
	} else if (len > 0 && buf == NULL) {
		status = 500;
	}
	va_start(ap, len);
	http_send(req, status, content_type, buf, ap);
	va_end(ap);
}

void http_reply_text(struct evhttp_request *req, int status, const char *text)
{
	http_reply_bytes(req, status, "text/plain; charset=utf-8", text, strlen(text), NULL);
}

void http_reply_unauthorized(struct evhttp_request *req)
{
	static const char body[] = "unauthorized\n";

	http_reply_bytes(req, 401, "text/plain; charset=utf-8", body, sizeof(body) - 1,
			 "WWW-Authenticate", "Bearer", REFUSAL_HEADER, REFUSAL_AUTH, NULL);
}

void http_reply_refusal(struct evhttp_request *req, int status, const char *reason,
			const char *text)
{
	http_reply_bytes(req, status, "text/plain; charset=utf-8", text, strlen(text),
			 REFUSAL_HEADER, reason, NULL);
}

static void http_wipe_free(const void *data, size_t len, void *arg)
{
	(void)arg;
	OPENSSL_cleanse((void *)data, len);
	free((void *)data);
}

static void http_send_secret(struct evhttp_request *req, int status, const char *content_type,
			     struct evbuffer *buf, ...)
{
	va_list ap;

	va_start(ap, buf);
	http_send(req, status, content_type, buf, ap);
	va_end(ap);
}

void http_reply_secret(struct evhttp_request *req, int status, const char *content_type,
		       char *data, size_t len)
{
	struct evbuffer *buf = evbuffer_new();

	/* A reference chain is moved, never copied, on its way to the socket. */
	if (buf == NULL || evbuffer_add_reference(buf, data, len, http_wipe_free, NULL) == -1) {
		http_wipe_free(data, len, NULL);
		if (buf != NULL)
			evbuffer_free(buf);
		http_reply_text(req, 500, "internal error\n");
		return;
	}
	http_send_secret(req, status, content_type, buf, NULL);
}

void http_request_hold(struct evhttp_request *req)
{
	struct evhttp_connection *conn = evhttp_request_get_connection(req);

	if (conn != NULL)
		evhttp_connection_set_timeout(conn, HTTP_HOLD_TIMEOUT_SECONDS);
}
