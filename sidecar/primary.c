/* primary: export endpoint with long poll. The change check is cheap: the
 * connection's PRAGMA data_version only moves when another connection
 * (Pocket ID) committed; only then does change_watch.c look at what the
 * commits wrote (re-hashing only the durable tables they touched), and the
 * generation advances only when the shipped content really changed (audit
 * logs and sessions move data_version but not the hash). */
#include "primary.h"

#include "appconfig_step.h"
#include "b64.h"
#include "change_watch.h"
#include "drift.h"
#include "http_server.h"
#include "log.h"
#include "memtrim.h"
#include "metrics.h"
#include "pidb.h"
#include "produce.h"
#include "protocol.h"
#include "refusal.h"
#include "state.h"

#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <errno.h>
#include <inttypes.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define PRIMARY_MAX_WAITERS 256
/* The application configuration is read again after every commit of Pocket
 * ID and at least this often (actor state may reach the database late), and
 * retried this long after a failed read. */
#define APPCONFIG_REFRESH_MS 30000
#define APPCONFIG_RETRY_MS 10000

/* What a request asked for: the protocol version it reads and, for v2, the
 * base it holds. */
struct ask {
	bool v2;
	struct produce_base base;
};

struct waiter {
	struct evhttp_request *req;
	char peer[STATE_PEER_NAME_MAX + 1];
	uint8_t peer_pub[32];
	uint64_t after;
	int64_t deadline_ms;
	struct ask ask;
};

struct primary {
	struct event_base *base;
	const struct config *cfg;
	const struct node_key *me;
	struct state *st;
	struct metrics *m;
	sqlite3 *db;
	struct change_watch *watch;
	int64_t data_version;
	uint64_t generation;
	int64_t capture_clients; /* last count logged, -1 = none yet */
	struct event *tick;
	struct appconfig ac; /* the last configuration read from Pocket ID's API */
	bool have_ac, ac_failing;
	int64_t ac_read_ms;
	size_t nwaiters;
	struct waiter waiters[PRIMARY_MAX_WAITERS];
};

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void refresh_peers_metric(struct primary *p)
{
	struct peer_info *peers;
	size_t n;

	if (state_peer_list(p->st, &peers, &n) == 0) {
		metrics_set_peers(p->m, peers, n);
		free(peers);
	}
}

/* Clients that capture their first callback URL (Pocket ID < v2.10): a
 * metric, a status.db count, and a warning when the count changes. */
static void check_callback_capture(struct primary *p)
{
	size_t n;

	if (drift_callback_capture_clients(p->db, &n) == -1)
		return;
	metrics_set_callback_capture_clients(p->m, n);
	if ((int64_t)n == p->capture_clients)
		return;
	p->capture_clients = (int64_t)n;
	state_status_set_i64(p->st, "callback_capture_clients", (int64_t)n);
	if (n > 0)
		log_warn("oidc.callback_capture", "clients=%zu msg=\"%s\"", n, DRIFT_CAPTURE_MSG);
}

/* Reads the configuration through Pocket ID's API. A failure keeps the last
 * one read (the generation stays), is logged once and shows in metrics. */
static void read_app_config(struct primary *p)
{
	struct appconfig ac;
	char err[512], q[600];

	p->ac_read_ms = mono_ms();
	if (appconfig_step_read(p->cfg, &ac, err, sizeof(err)) == -1) {
		if (!p->ac_failing) {
			log_warn("app_config.read_failed", "error=%s", log_quote(q, sizeof(q), err));
			appconfig_step_record(p->st, err);
		}
		p->ac_failing = true;
		metrics_set_app_config_pending(p->m, true);
		return;
	}
	if (p->ac_failing || !p->have_ac) {
		if (p->ac_failing)
			log_info("app_config.recovered", NULL);
		appconfig_step_record(p->st, NULL);
	}
	appconfig_free(&p->ac);
	p->ac = ac;
	p->have_ac = true;
	p->ac_failing = false;
	metrics_set_app_config_pending(p->m, false);
}

static const struct appconfig *shipped_app_config(const struct primary *p)
{
	return p->have_ac ? &p->ac : NULL;
}

/* Looks at the database (a read transaction left open on success, for an
 * export from the same snapshot) and moves the generation if the content
 * changed. */
static int look(struct primary *p, struct produced *pr, bool read_ac)
{
	char err[512], q[600];

	if (read_ac && appconfig_step_enabled(p->cfg))
		read_app_config(p);
	if (produce_begin(p->watch, p->db, p->cfg, p->st, shipped_app_config(p), pr, err,
			  sizeof(err)) == -1) {
		p->data_version = -2; /* look again next time, even without a new commit */
		log_error("primary.snapshot_failed", "error=%s", log_quote(q, sizeof(q), err));
		return -1;
	}
	p->generation = pr->generation;
	metrics_set_generation(p->m, p->generation);
	metrics_set_unknown_tables(p->m, pr->res.nunknown);
	return 0;
}

/* Recomputes the generation when Pocket ID committed since the last look
 * (or the configuration is due for another read). */
static int refresh_generation(struct primary *p)
{
	struct produced pr;
	int64_t dv = pidb_data_version(p->db);
	bool ac_due = appconfig_step_enabled(p->cfg) &&
		      mono_ms() - p->ac_read_ms >= (p->ac_failing ? APPCONFIG_RETRY_MS : APPCONFIG_REFRESH_MS);

	if (dv == p->data_version && dv != -1 && !ac_due)
		return 0;
	if (look(p, &pr, true) == -1)
		return -1;
	produce_end(p->db);
	p->data_version = dv;
	check_callback_capture(p);
	return 0;
}

/* libevent keeps its copy of a reply's body until the socket has taken it,
 * which is after the memtrim() that follows the export; trimming again once
 * the reply is done gives those pages back too (measured with tests/bench:
 * idle primary at 10,000 users, 15.9 -> 4.1 MiB anonymous). */
static void on_payload_sent(struct evhttp_request *req, void *arg)
{
	(void)req;
	(void)arg;
	memtrim();
}

static void log_export_failed(const char *peer, const char *reason, const char *err)
{
	char q[600];
	log_error("export.failed", "peer=%s reason=%s error=%s", peer, reason, log_quote(q, sizeof(q), err));
}

/* The export could not be built (its cause was logged where it happened). */
static void refuse_export(struct primary *p, struct evhttp_request *req, int status)
{
	metrics_fail(p->m, METRICS_FAIL_EXPORT_FAILED);
	http_reply_refusal(req, status, REFUSAL_EXPORT_FAILED, "export failed; see the primary's log\n");
}

static void reply_wire(struct primary *p, struct evhttp_request *req, const char *peer,
		       uint64_t generation, uint8_t *wire, size_t len, const char *kind)
{
	char etag[32], sender[45];

	snprintf(etag, sizeof(etag), "\"%" PRIu64 "\"", generation);
	b64_encode(sender, p->me->pub, 32);
	evhttp_request_set_on_complete_cb(req, on_payload_sent, NULL);
	if (kind != NULL)
		http_reply_bytes(req, 200, PROTOCOL_V2, wire, len, "ETag", etag,
				 "X-Pocket-Id-Sync-Sender", sender, PROTOCOL_KIND_HEADER, kind, NULL);
	else
		http_reply_bytes(req, 200, PROTOCOL_V1, wire, len, "ETag", etag,
				 "X-Pocket-Id-Sync-Sender", sender, NULL);
	free(wire);
	state_peer_seen(p->st, peer, (int64_t)time(NULL), generation);
	metrics_peer_export(p->m, peer, (double)time(NULL));
	metrics_set_last_payload_bytes(p->m, len);
	log_info("export.sent", "peer=%s generation=%" PRIu64 " kind=%s bytes=%zu", peer, generation,
		 kind != NULL ? kind : "v1", len);
}

/* A sealing failure: too large (the limit and the size in the body), or
 * any other. */
static void refuse_sealing(struct primary *p, struct evhttp_request *req, const char *peer,
			   size_t len, char *err, size_t errlen)
{
	bool too_large = len > p->cfg->max_payload_bytes;

	log_export_failed(peer, too_large ? REFUSAL_PAYLOAD_TOO_LARGE : REFUSAL_EXPORT_FAILED, err);
	if (too_large) {
		metrics_fail(p->m, METRICS_FAIL_PAYLOAD_TOO_LARGE);
		strncat(err, "\n", errlen - strlen(err) - 1);
		http_reply_refusal(req, 500, REFUSAL_PAYLOAD_TOO_LARGE, err);
	} else {
		refuse_export(p, req, 500);
	}
}

static void reply_v1(struct primary *p, struct evhttp_request *req, struct snapshot *snap,
		     const char *peer, const uint8_t peer_pub[32])
{
	char err[512];
	uint8_t *wire;
	size_t len;

	if (produce_seal(snap, p->me, peer_pub, p->cfg->max_payload_bytes, &wire, &len, err,
			 sizeof(err)) == -1) {
		refuse_sealing(p, req, peer, len, err, sizeof(err));
		return;
	}
	reply_wire(p, req, peer, snap->p.generation, wire, len, NULL);
}

/* A format-2 document for one peer from the open look pr. */
static void reply_v2(struct primary *p, struct evhttp_request *req, const struct produced *pr,
		     const char *peer, const uint8_t peer_pub[32], const struct ask *ask)
{
	enum doc2_kind kind;
	char err[512];
	uint8_t *wire;
	size_t len;

	if (produce_v2(p->watch, p->db, p->cfg, p->me, pr, shipped_app_config(p), peer_pub, &ask->base,
		       &wire, &len, &kind, err, sizeof(err)) == -1) {
		refuse_sealing(p, req, peer, len, err, sizeof(err));
		return;
	}
	metrics_payload_kind(p->m, kind == DOC2_DELTA);
	reply_wire(p, req, peer, pr->generation, wire, len, kind == DOC2_DELTA ? "delta" : "full");
}

static void reply_not_modified(struct primary *p, struct evhttp_request *req, const char *peer)
{
	char etag[32];

	snprintf(etag, sizeof(etag), "\"%" PRIu64 "\"", p->generation);
	http_reply_bytes(req, 304, NULL, NULL, 0, "ETag", etag, NULL);
	state_peer_touch(p->st, peer, (int64_t)time(NULL));
	metrics_peer_export(p->m, peer, (double)time(NULL));
}

/* One look, answered to req in the protocol it asked for. */
static void send_fresh(struct primary *p, struct evhttp_request *req, const char *peer,
		       const uint8_t peer_pub[32], const struct ask *ask)
{
	struct produced pr;
	struct snapshot snap;
	char err[512];

	if (look(p, &pr, false) == -1) { /* the configuration as last read */
		refuse_export(p, req, 503);
		return;
	}
	if (ask->v2) {
		reply_v2(p, req, &pr, peer, peer_pub, ask);
	} else if (produce_v1(p->db, p->cfg, &pr, shipped_app_config(p), &snap, err, sizeof(err)) == 0) {
		reply_v1(p, req, &snap, peer, peer_pub);
		produce_free(&snap);
	} else {
		log_export_failed(peer, REFUSAL_EXPORT_FAILED, err);
		refuse_export(p, req, 503);
	}
	produce_end(p->db);
	p->data_version = pidb_data_version(p->db);
	memtrim();
}

/* Whether a waiter's peer is still enrolled: it may have been revoked
 * (admin API or `peer remove`) while its poll was held. Returns 1 yes,
 * 0 revoked, -1 when state.db cannot tell. */
static int waiter_enrolled(struct primary *p, const struct waiter *w)
{
	struct peer_info *peers;
	bool found = false;
	size_t n;

	if (state_peer_list(p->st, &peers, &n) == -1)
		return -1;
	for (size_t i = 0; i < n && !found; i++)
		found = strcmp(peers[i].name, w->peer) == 0 &&
			CRYPTO_memcmp(peers[i].pubkey, w->peer_pub, 32) == 0;
	free(peers);
	return found ? 1 : 0;
}

static void reply_revoked(struct primary *p, struct evhttp_request *req, const char *peer)
{
	log_info("export.refused", "peer=%s reason=revoked_while_waiting", peer);
	metrics_fail(p->m, METRICS_FAIL_AUTH);
	http_reply_unauthorized(req);
}

/* Answers waiters whose generation moved (one look; one format-1 snapshot
 * shared by the v1 waiters, a document per v2 waiter) or whose wait ran
 * out; a waiter revoked meanwhile gets 401, never the payload. */
static void serve_waiters(struct primary *p, bool changed_only)
{
	struct produced pr;
	struct snapshot snap;
	bool looked = false, have_v1 = false, look_failed = false;
	int64_t now = mono_ms();
	char err[512];
	size_t keep = 0;

	for (size_t i = 0; i < p->nwaiters; i++) {
		struct waiter *w = &p->waiters[i];
		bool due = w->after != p->generation || (!changed_only && now >= w->deadline_ms);
		int enrolled = due ? waiter_enrolled(p, w) : 1;
		if (enrolled == 0) {
			reply_revoked(p, w->req, w->peer);
		} else if (enrolled == -1) {
			refuse_export(p, w->req, 503);
		} else if (w->after != p->generation) {
			if (!looked && !look_failed) {
				looked = look(p, &pr, false) == 0;
				look_failed = !looked;
			}
			if (looked && !w->ask.v2 && !have_v1) {
				have_v1 = produce_v1(p->db, p->cfg, &pr, shipped_app_config(p), &snap, err,
						     sizeof(err)) == 0;
				if (!have_v1)
					log_export_failed(w->peer, REFUSAL_EXPORT_FAILED, err);
			}
			if (looked && w->ask.v2)
				reply_v2(p, w->req, &pr, w->peer, w->peer_pub, &w->ask);
			else if (looked && have_v1)
				reply_v1(p, w->req, &snap, w->peer, w->peer_pub);
			else
				refuse_export(p, w->req, 503);
		} else if (!changed_only && now >= w->deadline_ms) {
			reply_not_modified(p, w->req, w->peer);
		} else {
			p->waiters[keep++] = *w;
		}
	}
	p->nwaiters = keep;
	if (have_v1)
		produce_free(&snap);
	if (looked) {
		produce_end(p->db);
		memtrim();
	}
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct primary *p = arg;
	struct timeval tv = {0, PRIMARY_CHECK_MS * 1000};

	(void)fd;
	(void)what;
	refresh_generation(p);
	serve_waiters(p, false);
	if (p->nwaiters > 0)
		evtimer_add(p->tick, &tv);
}

/* Accept names protocol v2: "application/vnd.pocket-id-sync.v2" among its
 * comma-separated media types (case-insensitive, parameters ignored). */
static bool accepts_v2(const char *accept)
{
	static const char v2[] = PROTOCOL_V2;
	const char *s = accept;

	while (s != NULL && *s != '\0') {
		size_t n;
		while (*s == ' ' || *s == '\t' || *s == ',')
			s++;
		n = strcspn(s, ",;");
		while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
			n--;
		if (n == sizeof(v2) - 1 && strncasecmp(s, v2, n) == 0)
			return true;
		s = strchr(s, ',');
	}
	return false;
}

/* "X-Pocket-Id-Sync-Base: <generation> <base64 rows hash>"; anything else is
 * no claim. */
static void parse_base(const char *v, struct produce_base *b)
{
	char *end;

	b->has = false;
	if (v == NULL || v[0] < '0' || v[0] > '9' || (v[0] == '0' && v[1] != ' '))
		return;
	errno = 0;
	b->generation = strtoull(v, &end, 10);
	if (errno != 0 || *end != ' ' || strlen(end + 1) != 44 ||
	    b64_decode_exact(end + 1, b->rows_hash, 32) == -1)
		return;
	b->has = true;
}

/* "If-None-Match: \"N\"" → N; anything else → no condition. */
static bool parse_etag(const char *s, uint64_t *out)
{
	char *end;

	if (s == NULL || s[0] != '"' || s[1] < '0' || s[1] > '9')
		return false;
	*out = strtoull(s + 1, &end, 10);
	return end[0] == '"' && end[1] == '\0';
}

static int parse_wait(struct evhttp_request *req, long *wait)
{
	struct evkeyvalq q;
	const char *uri = evhttp_request_get_uri(req), *v;
	const char *qs = strchr(uri, '?');
	char *end;
	int rc = 0;

	*wait = 0;
	if (qs == NULL)
		return 0;
	if (evhttp_parse_query_str(qs + 1, &q) != 0)
		return -1;
	v = evhttp_find_header(&q, "wait");
	if (v != NULL) {
		*wait = strtol(v, &end, 10);
		if (*v == '\0' || *end != '\0' || *wait < 0 || *wait > 300)
			rc = -1;
	}
	evhttp_clear_headers(&q);
	return rc;
}

void primary_export_handler(void *ctx, struct evhttp_request *req, const struct peer_info *peer)
{
	struct primary *p = ctx;
	struct evkeyvalq *in = evhttp_request_get_input_headers(req);
	const char *inm = evhttp_find_header(in, "If-None-Match");
	struct timeval tv = {0, PRIMARY_CHECK_MS * 1000};
	struct ask ask = {.v2 = accepts_v2(evhttp_find_header(in, "Accept"))};
	uint64_t after;
	long wait;

	if (ask.v2)
		parse_base(evhttp_find_header(in, PROTOCOL_BASE_HEADER), &ask.base);

	refresh_peers_metric(p); /* peers come and go through the admin API and the CLI */
	if (parse_wait(req, &wait) == -1) {
		http_reply_refusal(req, 400, REFUSAL_INVALID,
				   "wait must be a whole number of seconds from 0 to 300\n");
		return;
	}
	if (refresh_generation(p) == -1) {
		refuse_export(p, req, 503);
		return;
	}
	if (!parse_etag(inm, &after) || after != p->generation) {
		send_fresh(p, req, peer->name, peer->pubkey, &ask);
		return;
	}
	if (wait == 0 || p->nwaiters == PRIMARY_MAX_WAITERS) {
		reply_not_modified(p, req, peer->name);
		return;
	}
	http_request_hold(req);
	p->waiters[p->nwaiters] = (struct waiter){req, "", {0}, after, mono_ms() + wait * 1000, ask};
	snprintf(p->waiters[p->nwaiters].peer, sizeof(p->waiters[0].peer), "%s", peer->name);
	memcpy(p->waiters[p->nwaiters].peer_pub, peer->pubkey, 32);
	p->nwaiters++;
	if (!evtimer_pending(p->tick, NULL))
		evtimer_add(p->tick, &tv);
}

int primary_health(void *ctx, char *reason, size_t n)
{
	struct primary *p = ctx;
	sqlite3_stmt *st;
	int ok = sqlite3_prepare_v2(p->db, "SELECT version FROM schema_migrations", -1, &st, NULL) == SQLITE_OK &&
		 sqlite3_step(st) == SQLITE_ROW;

	sqlite3_finalize(st);
	if (!ok)
		snprintf(reason, n, "Pocket ID's database is not readable: %s", sqlite3_errmsg(p->db));
	else if (p->ac_failing) /* exports go on with the last configuration read */
		snprintf(reason, n, "cannot read the application configuration from %s",
			 p->cfg->pocket_id_url);
	return ok ? 0 : -1;
}

struct primary *primary_new(struct event_base *base, const struct config *cfg,
			    const struct node_key *me, struct state *st, struct metrics *m,
			    char *err, size_t errlen)
{
	struct primary *p = calloc(1, sizeof(*p));

	if (p == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	*p = (struct primary){.base = base, .cfg = cfg, .me = me, .st = st, .m = m, .data_version = -2,
			      .capture_clients = -1};
	if (pidb_open(cfg->db_path, cfg->busy_timeout_ms, &p->db, err, errlen) == -1)
		goto fail;
	if ((p->watch = change_watch_new()) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	p->tick = evtimer_new(base, on_tick, p);
	if (p->tick == NULL) {
		snprintf(err, errlen, "cannot create a timer");
		goto fail;
	}
	if (refresh_generation(p) == -1) {
		snprintf(err, errlen, "cannot read a snapshot of %s (see the log above)", cfg->db_path);
		goto fail;
	}
	refresh_peers_metric(p);
	log_info("primary.ready", "generation=%" PRIu64, p->generation);
	return p;
fail:
	primary_free(p);
	return NULL;
}

void primary_free(struct primary *p)
{
	if (p == NULL)
		return;
	for (size_t i = 0; i < p->nwaiters; i++)
		http_reply_refusal(p->waiters[i].req, 503, REFUSAL_UNAVAILABLE,
				   "the primary is shutting down\n");
	if (p->tick != NULL)
		event_free(p->tick);
	appconfig_free(&p->ac);
	sqlite3_close(p->db);
	change_watch_free(p->watch);
	free(p);
}
