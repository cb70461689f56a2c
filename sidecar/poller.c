/* poller: one thread, one curl easy handle, one Pocket ID connection. The
 * thread sleeps on a condition variable so that stop requests wake it; the
 * transfer itself is aborted through curl's progress callback. */
#include "poller.h"

#include "b64.h"
#include "ingest.h"
#include "log.h"
#include "memtrim.h"
#include "metrics.h"
#include "pidb.h"
#include "protocol.h"
#include "refusal.h"
#include "rowhash.h"
#include "schema.h"
#include "state.h"

#include <curl/curl.h>
#include <inttypes.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define POLLER_CONNECT_TIMEOUT_MS 10000
#define POLLER_SLACK_MS 30000 /* beyond the long-poll wait */
#define POLLER_MIN_BACKOFF_MS 1000
#define POLLER_MAX_BACKOFF_MS 300000

struct poller {
	const struct config *cfg;
	const struct node_key *me;
	struct state *st;
	struct metrics *m;
	sqlite3 *db;
	CURL *curl;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	atomic_bool stopping;
	atomic_llong last_success; /* unix seconds, 0 = never */
	bool reconciled;	   /* a payload was applied since start (poller thread only) */
	int64_t failing_since;	   /* unix seconds of the first failure in a row, 0 = none */
	unsigned failures;	   /* failures in that row (poller thread only) */
	/* Format 2, poller thread only: this node's content as last verified
	 * (a scan at start and every SYNC_VERIFY_INTERVAL, or a verified apply):
	 * the sum of its rows at generation vgen, and the CIMD clients kept out. */
	bool verified;
	bool v1_primary; /* the last payload was format 1 (a primary before v2) */
	uint64_t vgen;
	struct lthash vsum;
	struct rowhash_skip kept;
	int64_t verify_due_ms;
	char last_error[512];	   /* guarded by lock */
	char app_config_error[256]; /* guarded by lock; empty = none pending */
};

struct fetch {
	uint8_t *body;
	size_t len, max;
	long status;
	int64_t held_ms; /* from request sent to first byte of a long poll: the primary's wait */
	char sender_hint[64];
	char refusal[32]; /* X-Pocket-Id-Sync-Refusal: why the primary refused */
	char kind[16];	  /* X-Pocket-Id-Sync-Kind (v2): full or delta */
	const char *media; /* the answer's protocol (protocol.h), NULL when neither */
	bool too_large;
};

static int64_t wall_s(void) { return (int64_t)time(NULL); }

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Sleeps up to ms, or until stop is requested. */
static void nap(struct poller *p, int64_t ms)
{
	struct timespec until;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += ms / 1000;
	until.tv_nsec += (ms % 1000) * 1000000;
	if (until.tv_nsec >= 1000000000) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&p->lock);
	while (!atomic_load(&p->stopping) &&
	       pthread_cond_timedwait(&p->wake, &p->lock, &until) == 0)
		;
	pthread_mutex_unlock(&p->lock);
}

static size_t on_body(char *data, size_t size, size_t n, void *arg)
{
	struct fetch *f = arg;
	size_t len = size * n;

	if (f->len + len > f->max) {
		f->too_large = true;
		return 0; /* aborts the transfer */
	}
	uint8_t *nb = realloc(f->body, f->len + len + 1);
	if (nb == NULL)
		return 0;
	f->body = nb;
	memcpy(f->body + f->len, data, len);
	f->len += len;
	return len;
}

/* When the header line data (len bytes) is "name: value", copies the value
 * (truncated) into out. */
static void header_value(const char *data, size_t len, const char *name, char *out, size_t n)
{
	size_t nl = strlen(name), i = nl + 1, k = 0;

	if (len <= nl + 1 || strncasecmp(data, name, nl) != 0 || data[nl] != ':')
		return;
	while (i < len && data[i] == ' ')
		i++;
	while (i < len && k + 1 < n && data[i] != '\r' && data[i] != '\n')
		out[k++] = data[i++];
	out[k] = '\0';
}

static size_t on_header(char *data, size_t size, size_t n, void *arg)
{
	struct fetch *f = arg;
	size_t len = size * n;

	header_value(data, len, "X-Pocket-Id-Sync-Sender", f->sender_hint, sizeof(f->sender_hint));
	header_value(data, len, REFUSAL_HEADER, f->refusal, sizeof(f->refusal));
	header_value(data, len, PROTOCOL_KIND_HEADER, f->kind, sizeof(f->kind));
	return len;
}

static int on_progress(void *arg, curl_off_t a, curl_off_t b, curl_off_t c, curl_off_t d)
{
	struct poller *p = arg;
	(void)a, (void)b, (void)c, (void)d;
	return atomic_load(&p->stopping) ? 1 : 0;
}

/* curl's own informational text, at debug level; headers (which hold the
 * bearer token) and data are never passed on. */
static int on_curl_debug(CURL *h, curl_infotype type, char *data, size_t size, void *arg)
{
	char q[512], line[256];
	(void)h, (void)arg;
	if (type == CURLINFO_TEXT) {
		size_t n = size < sizeof(line) - 1 ? size : sizeof(line) - 1;
		memcpy(line, data, n);
		line[n] = '\0';
		log_debug("curl", "msg=%s", log_quote(q, sizeof(q), line));
	}
	return 0;
}

/* SYNC_PRIMARY_URL without trailing slashes, as "%.*s" arguments. */
static int base_len(const char *base)
{
	size_t n = strlen(base);

	while (n > 0 && base[n - 1] == '/')
		n--;
	return (int)n;
}

/* A failed transfer, with the URL and, for TLS against plain HTTP (or the
 * other way round), what to change. */
static void describe_network_error(const struct poller *p, CURLcode cc, char *msg, size_t n)
{
	const char *base = p->cfg->primary_url, *hint = "";
	bool https = strncmp(base, "https://", 8) == 0;

	if (https && (cc == CURLE_SSL_CONNECT_ERROR || cc == CURLE_RECV_ERROR))
		hint = ": does that port speak plain HTTP? (the sidecar itself serves no TLS: "
		       "use http://, or put a TLS proxy in front)";
	else if (!https && (cc == CURLE_GOT_NOTHING || cc == CURLE_WEIRD_SERVER_REPLY ||
			    cc == CURLE_RECV_ERROR))
		hint = ": does that port expect TLS? (then use https://)";
	snprintf(msg, n, "%s (GET %.*s/sync/export)%s", curl_easy_strerror(cc), base_len(base), base,
		 hint);
}

/* The first line of a short text body, printable characters only. */
static void body_line(const struct fetch *f, char *out, size_t n)
{
	size_t k = 0;

	for (size_t i = 0; f->body != NULL && i < f->len && k + 1 < n && i < 160; i++) {
		unsigned char c = f->body[i];
		if (c == '\n' || c == '\r')
			break;
		out[k++] = c >= 0x20 && c < 0x7f ? (char)c : '?';
	}
	out[k] = '\0';
}

/* An HTTP status the poller cannot use, with what the server said and,
 * for a 404, what SYNC_PRIMARY_URL should be. */
static void describe_http_status(const struct poller *p, const struct fetch *f, char *msg, size_t n)
{
	const char *base = p->cfg->primary_url;
	int bl = base_len(base);
	char said[168];

	body_line(f, said, sizeof(said));
	if (f->status == 404 && bl >= 12 && strncmp(base + bl - 12, "/sync/export", 12) == 0)
		snprintf(msg, n, "HTTP 404 from %.*s/sync/export: SYNC_PRIMARY_URL is the primary "
				 "sidecar's base URL: drop /sync/export from it", bl, base);
	else if (f->status == 404)
		snprintf(msg, n, "HTTP 404 from %.*s/sync/export (\"%s\"): SYNC_PRIMARY_URL must be the "
				 "primary's sidecar on its SYNC_LISTEN port (1412 by default), not a "
				 "secondary, the metrics port or Pocket ID", bl, base, said);
	else if (f->status == 400 && !strncmp(base, "http://", 7) && strstr(said, "HTTPS") != NULL)
		snprintf(msg, n, "HTTP 400 from %.*s (\"%s\"): that port expects TLS: use https://",
			 bl, base, said);
	else
		snprintf(msg, n, "unexpected HTTP status %ld from the primary (%.*s/sync/export%s%s%s)",
			 f->status, bl, base, said[0] ? ": \"" : "", said, said[0] ? "\"" : "");
}

/* One GET of /sync/export. Returns the curl code; f->status holds HTTP's. */
/* The media type of the answer: one of the two protocols, or NULL. */
static const char *answer_media(CURL *c)
{
	char *ct = NULL;
	size_t n;

	if (curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ct) != CURLE_OK || ct == NULL)
		return NULL;
	n = strcspn(ct, "; ");
	if (n == strlen(PROTOCOL_V2) && strncasecmp(ct, PROTOCOL_V2, n) == 0)
		return PROTOCOL_V2;
	if (n == strlen(PROTOCOL_V1) && strncasecmp(ct, PROTOCOL_V1, n) == 0)
		return PROTOCOL_V1;
	return NULL;
}

static CURLcode fetch_export(struct poller *p, bool conditional, uint64_t after, long wait_s,
			     struct fetch *f)
{
	char url[2048], auth[128], inm[64], claim[160], b64[45];
	struct curl_slist *hdr = NULL;
	const char *base = p->cfg->primary_url;
	CURLcode rc;

	snprintf(url, sizeof(url), "%.*s/sync/export?wait=%ld", base_len(base), base, wait_s);
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", p->cfg->primary_token);
	hdr = curl_slist_append(hdr, auth);
	OPENSSL_cleanse(auth, sizeof(auth));
	hdr = curl_slist_append(hdr, "Accept: " PROTOCOL_ACCEPT);
	if (conditional) {
		snprintf(inm, sizeof(inm), "If-None-Match: \"%" PRIu64 "\"", after);
		hdr = curl_slist_append(hdr, inm);
	}
	if (conditional && p->verified && p->vgen == after) { /* this node can take a delta */
		uint8_t h[32];
		lthash_digest(&p->vsum, h);
		b64_encode(b64, h, 32);
		snprintf(claim, sizeof(claim), PROTOCOL_BASE_HEADER ": %" PRIu64 " %s", after, b64);
		hdr = curl_slist_append(hdr, claim);
	}
	curl_easy_reset(p->curl);
	curl_easy_setopt(p->curl, CURLOPT_URL, url);
	curl_easy_setopt(p->curl, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(p->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(p->curl, CURLOPT_CONNECTTIMEOUT_MS, (long)POLLER_CONNECT_TIMEOUT_MS);
	curl_easy_setopt(p->curl, CURLOPT_TIMEOUT_MS, wait_s * 1000 + POLLER_SLACK_MS);
	curl_easy_setopt(p->curl, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)f->max);
	curl_easy_setopt(p->curl, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(p->curl, CURLOPT_WRITEDATA, f);
	curl_easy_setopt(p->curl, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(p->curl, CURLOPT_HEADERDATA, f);
	curl_easy_setopt(p->curl, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(p->curl, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(p->curl, CURLOPT_XFERINFODATA, p);
	curl_easy_setopt(p->curl, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(p->curl, CURLOPT_USERAGENT, "pocket-id-sync");
	if (log_get_level() >= LOG_LVL_DEBUG) {
		curl_easy_setopt(p->curl, CURLOPT_VERBOSE, 1L);
		curl_easy_setopt(p->curl, CURLOPT_DEBUGFUNCTION, on_curl_debug);
	}
	rc = curl_easy_perform(p->curl);
	curl_easy_getinfo(p->curl, CURLINFO_RESPONSE_CODE, &f->status);
	f->media = answer_media(p->curl);
	if (wait_s > 0) {
		curl_off_t sent = 0, first = 0;
		curl_easy_getinfo(p->curl, CURLINFO_PRETRANSFER_TIME_T, &sent);
		curl_easy_getinfo(p->curl, CURLINFO_STARTTRANSFER_TIME_T, &first);
		f->held_ms = first > sent ? (int64_t)(first - sent) / 1000 : 0;
	}
	curl_easy_setopt(p->curl, CURLOPT_HTTPHEADER, NULL);
	curl_slist_free_all(hdr); /* curl_slist_free_all does not wipe: the token was copied */
	return rc;
}

/* A 401: asks the URL for its key (GET /sync/pubkey, no token); when it is
 * not the pinned one, the URL names another primary than the token's. */
static void describe_refused_token(struct poller *p, char *msg, size_t n)
{
	struct fetch f = {.max = 64};
	const char *base = p->cfg->primary_url;
	char url[2048], pinned[45], said[168];

	snprintf(msg, n, "the primary refused the token (revoked, or SYNC_PRIMARY_TOKEN is wrong)");
	snprintf(url, sizeof(url), "%.*s/sync/pubkey", base_len(base), base);
	curl_easy_reset(p->curl);
	curl_easy_setopt(p->curl, CURLOPT_URL, url);
	curl_easy_setopt(p->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(p->curl, CURLOPT_TIMEOUT_MS, (long)POLLER_CONNECT_TIMEOUT_MS);
	curl_easy_setopt(p->curl, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(p->curl, CURLOPT_WRITEDATA, &f);
	curl_easy_setopt(p->curl, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(p->curl, CURLOPT_USERAGENT, "pocket-id-sync");
	if (curl_easy_perform(p->curl) == CURLE_OK) {
		body_line(&f, said, sizeof(said));
		b64_encode(pinned, p->cfg->primary_pubkey, 32);
		if (strlen(said) == 44 && strcmp(said, pinned) != 0)
			snprintf(msg, n, "the primary refused the token: %.*s has key %s, the token is "
					 "for key %s: SYNC_PRIMARY_URL and SYNC_PRIMARY_TOKEN name two "
					 "different primaries", base_len(base), base, said, pinned);
	}
	free(f.body);
}

static enum metrics_reason reason_of(const char *name)
{
	for (int r = 0; r < METRICS_FAIL_COUNT; r++) {
		if (strcmp(metrics_reason_name((enum metrics_reason)r), name) == 0)
			return (enum metrics_reason)r;
	}
	return METRICS_FAIL_INTERNAL;
}

static void record_failure(struct poller *p, const char *reason, const char *msg)
{
	char q[640];

	metrics_fail(p->m, reason_of(reason));
	if (p->failures++ == 0)
		p->failing_since = wall_s();
	pthread_mutex_lock(&p->lock);
	snprintf(p->last_error, sizeof(p->last_error), "%s: %s", reason, msg);
	pthread_mutex_unlock(&p->lock);
	state_status_set(p->st, "last_error", p->last_error);
	log_warn("sync.failed", "reason=%s error=%s", reason, log_quote(q, sizeof(q), msg));
}

/* The primary refused and named why (refusal.h): that name is the failure
 * reason, and the first line of its text body is the message. */
static void record_refusal(struct poller *p, const struct fetch *f)
{
	char text[200] = "", msg[260];
	size_t n = f->body != NULL ? f->len : 0;

	if (n >= sizeof(text))
		n = sizeof(text) - 1;
	if (n > 0)
		memcpy(text, f->body, n);
	text[n] = '\0';
	text[strcspn(text, "\r\n")] = '\0';
	snprintf(msg, sizeof(msg), "the primary refused (HTTP %ld): %s", f->status,
		 text[0] != '\0' ? text : "no reason given");
	record_failure(p, f->refusal, msg);
}

/* held_ms: how long the primary held the poll, which is waiting, not work. */
static void record_success(struct poller *p, int64_t started_ms, int64_t held_ms)
{
	int64_t now = wall_s(), took = mono_ms() - started_ms - held_ms;

	if (p->failures > 0) {
		log_info("sync.recovered", "down_seconds=%lld failures=%u",
			 (long long)(now - p->failing_since), p->failures);
		p->failures = 0;
		p->failing_since = 0;
	}
	atomic_store(&p->last_success, now);
	metrics_set_last_success(p->m, (double)now);
	metrics_set_last_duration(p->m, (double)(took > 0 ? took : 0) / 1000.0);
	metrics_set_primary_reachable(p->m, true);
	state_status_set_i64(p->st, "last_success_at", now);
	state_status_set(p->st, "last_error", NULL);
}

static void count_rows(struct poller *p, const struct apply_result *r)
{
	for (size_t i = 0; i < r->ntables; i++) {
		metrics_add_rows(p->m, r->tables[i].table, METRICS_OP_INSERT, r->tables[i].inserted);
		metrics_add_rows(p->m, r->tables[i].table, METRICS_OP_UPDATE, r->tables[i].updated);
		metrics_add_rows(p->m, r->tables[i].table, METRICS_OP_DELETE, r->tables[i].deleted);
	}
	metrics_set_unknown_tables(p->m, r->nunknown);
}

static void count_app_config(struct poller *p, const struct ingest_result *r)
{
	bool pending = appconfig_step_pending(p->st);
	char msg[sizeof(p->app_config_error)] = "";

	if (r->app_config == APPCONFIG_WRITTEN || r->app_config == APPCONFIG_FAILED)
		metrics_app_config_update(p->m, r->app_config == APPCONFIG_WRITTEN);
	metrics_set_app_config_pending(p->m, pending);
	if (pending && state_status_get(p->st, "app_config_error", msg, sizeof(msg)) == -1)
		snprintf(msg, sizeof(msg), "unknown error");
	pthread_mutex_lock(&p->lock);
	snprintf(p->app_config_error, sizeof(p->app_config_error), "%s", pending ? msg : "");
	pthread_mutex_unlock(&p->lock);
}

/* A 200: open, check, apply. Returns 0 on success. */
static int handle_payload(struct poller *p, struct fetch *f)
{
	struct ingest_result r;
	char err[512], pinned[45];
	int rc;

	metrics_set_last_payload_bytes(p->m, f->len);
	/* Unverified content is reconciled even when its generation was applied
	 * before: that heals a secondary edited by hand. */
	struct ingest_opts io = {.reapply = !p->verified,
				 .media = f->media,
				 .verified_sum = p->verified ? &p->vsum : NULL,
				 .kept = &p->kept};
	rc = ingest_wire(p->cfg, p->me, p->st, p->db, f->body, f->len, &io, &r, err, sizeof(err));
	if (rc == 0)
		p->reconciled = true;
	if (rc == 0 && r.verified) {
		p->verified = true;
		p->v1_primary = false;
		p->vgen = r.generation;
		p->vsum = r.sum;
		if (r.kind == DOC2_FULL) {
			rowhash_skip_free(&p->kept);
			p->kept = r.kept;
			memset(&r.kept, 0, sizeof(r.kept));
		}
		metrics_payload_kind(p->m, r.kind == DOC2_DELTA);
	} else if (rc == 0 && r.format == 1) {
		p->verified = false; /* format 1 proves nothing about the content */
		p->v1_primary = true;
	} else if (rc == -1 && (strcmp(r.reason, "delta_base") == 0 || strcmp(r.reason, "verify") == 0)) {
		p->verified = false; /* the next poll asks for a full snapshot */
	}
	ingest_result_free(&r);
	if (rc == -1) {
		b64_encode(pinned, p->cfg->primary_pubkey, 32);
		if (strcmp(r.reason, "decrypt") == 0 && f->sender_hint[0] != '\0' &&
		    strcmp(f->sender_hint, pinned) != 0) {
			snprintf(err, sizeof(err), "the primary now seals with key %s but this node pins "
						   "%s (the token's): SYNC_PRIMARY_URL points at another "
						   "primary, or the primary was replaced; re-register this node",
				 f->sender_hint, pinned);
			record_failure(p, "sender", err);
		} else if (strcmp(r.reason, "decrypt") == 0) {
			char more[640];
			snprintf(more, sizeof(more), "%s; if this node's private.key changed (SYNC_STATE_DIR "
						     "wiped or replaced), re-enrol it", err);
			record_failure(p, r.reason, more);
		} else {
			record_failure(p, r.reason, err);
		}
		return -1;
	}
	count_rows(p, &r.apply);
	count_app_config(p, &r);
	metrics_set_callback_capture_clients(p->m, r.capture_clients);
	if (r.restart == 0 || r.restart == -1) /* a command ran */
		metrics_restart(p->m, r.restart == 0);
	metrics_set_applied_generation(p->m, r.generation);
	state_status_set_i64(p->st, "last_generation", (int64_t)r.generation);
	if (!r.same_generation || apply_total_changes(&r.apply) > 0)
		log_info("sync.applied", "generation=%" PRIu64 " changes=%zu lock_ms=%.1f",
			 r.generation, apply_total_changes(&r.apply), r.apply.lock_ms);
	return 0;
}

/* The full verification: the rows hash of this node's own database against
 * the one recorded when the last generation was applied. A mismatch means
 * the content changed behind the sidecar's back; the next poll then asks
 * for a full snapshot instead of a delta. */
static void verify_self(struct poller *p, bool found, uint64_t applied)
{
	uint8_t want[32], got[32];
	struct schema s;
	struct lthash sum;
	uint64_t gen = 0;
	char err[512], q[600];
	bool was = p->verified;
	int rc = -1;

	p->verify_due_ms = p->cfg->verify_interval_ms > 0
				   ? mono_ms() + (int64_t)p->cfg->verify_interval_ms : INT64_MAX;
	p->verified = false;
	if (!found || ingest_recorded_rows_hash(p->st, &gen, want) != 0 || gen != applied)
		return; /* nothing verified to compare with: a full snapshot comes next */
	if (sqlite3_exec(p->db, "BEGIN DEFERRED", NULL, NULL, NULL) != SQLITE_OK)
		return;
	if (schema_load(p->db, &s, err, sizeof(err)) == 0) {
		rc = rowhash_scan_sum(p->db, &s, &p->kept, &sum, err, sizeof(err));
		schema_free(&s);
	}
	sqlite3_exec(p->db, "COMMIT", NULL, NULL, NULL);
	if (rc == -1) {
		log_warn("sync.verify_failed", "error=%s", log_quote(q, sizeof(q), err));
		return;
	}
	lthash_digest(&sum, got);
	if (CRYPTO_memcmp(got, want, 32) != 0) {
		log_warn("sync.drift", "generation=%" PRIu64 " msg=\"this node's synced tables differ "
				       "from what it last applied (changed behind the sidecar's back); "
				       "asking for a full snapshot\"", applied);
		return;
	}
	p->verified = true;
	p->vgen = applied;
	p->vsum = sum;
	if (!was)
		log_info("sync.verified", "generation=%" PRIu64, applied);
}

/* One round: returns 0 on success, -1 on failure. */
static int poll_once(struct poller *p, bool full)
{
	struct fetch f = {.max = p->cfg->max_payload_bytes};
	uint64_t after = 0;
	bool found = false;
	long wait_s = full ? 0 : (long)(p->cfg->long_poll_ms / 1000);
	int64_t started = mono_ms();
	char msg[512];
	CURLcode cc;
	int rc = -1;

	metrics_set_last_attempt(p->m, (double)wall_s());
	state_status_set_i64(p->st, "last_attempt_at", wall_s());
	state_applied_get(p->st, p->cfg->primary_pubkey, &after, &found);
	if (mono_ms() >= p->verify_due_ms)
		verify_self(p, found, after);
	/* The interval poll while the application configuration waits for a
	 * retry fetches the payload again to write it. */
	/* Conditional (If-None-Match) once this node's content is verified (v2),
	 * or once this start reconciled with a format-1 primary; the interval
	 * poll is then a cheap 304 unless something changed. Unverified content
	 * asks for a full snapshot. */
	cc = fetch_export(p, (p->verified || (p->reconciled && p->v1_primary)) && found &&
				     !(full && appconfig_step_pending(p->st)),
			  after, wait_s, &f);
	if (atomic_load(&p->stopping)) {
		free(f.body);
		return 0;
	}
	/* curl refuses a Content-Length above CURLOPT_MAXFILESIZE before any
	 * body arrives; on_body catches a body without one. */
	if (cc == CURLE_FILESIZE_EXCEEDED)
		f.too_large = true;
	/* It answered, whatever it said (a status line, or a body too large). */
	metrics_set_primary_reachable(p->m, f.status != 0 || f.too_large);
	if (f.too_large) {
		snprintf(msg, sizeof(msg), "payload larger than SYNC_MAX_PAYLOAD_SIZE (%" PRIu64 " bytes)",
			 p->cfg->max_payload_bytes);
		record_failure(p, "invalid", msg);
	} else if (cc != CURLE_OK || f.status == 0) {
		describe_network_error(p, cc, msg, sizeof(msg));
		record_failure(p, "network", msg);
	} else if (f.status == 401 || f.status == 403) {
		describe_refused_token(p, msg, sizeof(msg));
		record_failure(p, "auth", msg);
	} else if (f.status != 200 && f.status != 304 && refusal_known(f.refusal)) {
		record_refusal(p, &f);
	} else if (f.status == 304) {
		rc = 0;
		/* A restart that failed after an earlier apply is retried once
		 * per interval poll, not on every long-poll round. */
		if (full) {
			int rr = ingest_retry_restart(p->cfg, p->st);
			if (rr == 0 || rr == -1)
				metrics_restart(p->m, rr == 0);
		}
	} else if (f.status == 200 && f.media == NULL) {
		snprintf(msg, sizeof(msg), "the answer to GET /sync/export is not of a sync media type "
					   "(a proxy in between?); not opened");
		record_failure(p, "network", msg);
	} else if (f.status == 200) {
		rc = handle_payload(p, &f);
	} else {
		describe_http_status(p, &f, msg, sizeof(msg));
		record_failure(p, "network", msg);
	}
	if (rc == 0)
		record_success(p, started, f.held_ms);
	if (f.body != NULL)
		OPENSSL_clear_free(f.body, f.len + 1);
	if (f.status == 200)
		memtrim();
	return rc;
}

int64_t poller_backoff_next(int64_t prev_ms, uint64_t interval_ms)
{
	int64_t cap = interval_ms < POLLER_MAX_BACKOFF_MS ? (int64_t)interval_ms : POLLER_MAX_BACKOFF_MS;
	int64_t next = prev_ms == 0 ? POLLER_MIN_BACKOFF_MS : prev_ms * 2;

	return next > cap ? cap : next;
}

int64_t poller_jitter(int64_t ms)
{
	uint32_t r = 0;
	RAND_bytes((unsigned char *)&r, sizeof(r));
	return ms / 2 + (int64_t)(r % (uint32_t)(ms + 1)); /* 0.5x .. 1.5x */
}

static void *poller_main(void *arg)
{
	struct poller *p = arg;
	int64_t backoff = 0, next_full = 0;

	while (!atomic_load(&p->stopping)) {
		bool full = p->cfg->long_poll_ms == 0 || mono_ms() >= next_full;
		if (poll_once(p, full) == 0) {
			backoff = 0;
			if (full)
				next_full = mono_ms() + (int64_t)p->cfg->interval_ms;
			if (p->cfg->long_poll_ms == 0)
				nap(p, next_full - mono_ms());
			continue;
		}
		backoff = poller_backoff_next(backoff, p->cfg->interval_ms);
		nap(p, poller_jitter(backoff));
	}
	return NULL;
}

int poller_health(void *ctx, char *reason, size_t n)
{
	struct poller *p = ctx;
	int64_t last = atomic_load(&p->last_success);
	/* A held long poll succeeds only when it returns: allow for one on top,
	 * or an interval shorter than SYNC_LONG_POLL_TIMEOUT flaps to 503. */
	int64_t limit = (int64_t)((p->cfg->interval_ms * (uint64_t)p->cfg->health_stale_intervals +
				   p->cfg->long_poll_ms) / 1000);

	if (last == 0) {
		snprintf(reason, n, "no successful sync with the primary yet");
		return -1;
	}
	if (wall_s() - last > (limit > 0 ? limit : 1)) {
		pthread_mutex_lock(&p->lock);
		snprintf(reason, n, "last successful sync %llds ago; last error: %s",
			 (long long)(wall_s() - last), p->last_error[0] ? p->last_error : "none");
		pthread_mutex_unlock(&p->lock);
		return -1;
	}
	/* Healthy (logins work with the synced data) but worth saying. */
	pthread_mutex_lock(&p->lock);
	if (p->app_config_error[0] != '\0')
		snprintf(reason, n, "application configuration not written yet: %s", p->app_config_error);
	pthread_mutex_unlock(&p->lock);
	return 0;
}

struct poller *poller_start(const struct config *cfg, const struct node_key *me,
			    struct state *st, struct metrics *m, char *err, size_t errlen)
{
	struct poller *p = calloc(1, sizeof(*p));

	if (p == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	p->cfg = cfg;
	p->me = me;
	p->st = st;
	p->m = m;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->wake, NULL);
	if (pidb_open(cfg->db_path, cfg->busy_timeout_ms, &p->db, err, errlen) == -1)
		goto fail;
	p->curl = curl_easy_init();
	if (p->curl == NULL) {
		snprintf(err, errlen, "cannot initialise libcurl");
		goto fail;
	}
	if (pthread_create(&p->thread, NULL, poller_main, p) != 0) {
		snprintf(err, errlen, "cannot start the poller thread");
		goto fail;
	}
	return p;
fail:
	curl_easy_cleanup(p->curl);
	sqlite3_close(p->db);
	pthread_mutex_destroy(&p->lock);
	pthread_cond_destroy(&p->wake);
	free(p);
	return NULL;
}

void poller_stop(struct poller *p)
{
	if (p == NULL)
		return;
	pthread_mutex_lock(&p->lock);
	atomic_store(&p->stopping, true);
	pthread_cond_broadcast(&p->wake);
	pthread_mutex_unlock(&p->lock);
	pthread_join(p->thread, NULL);
	curl_easy_cleanup(p->curl);
	sqlite3_close(p->db);
	rowhash_skip_free(&p->kept);
	pthread_mutex_destroy(&p->lock);
	pthread_cond_destroy(&p->wake);
	free(p);
}
