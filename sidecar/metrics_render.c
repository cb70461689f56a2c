/* metrics_render: the registry as Prometheus text exposition format 0.0.4:
 * "# HELP" and "# TYPE" per family, label values escaped (\\, \", \n),
 * floats in their shortest round-tripping form. It changes no value. */
#include "metrics_priv.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PFX "pocket_id_sync_"

struct mbuf {
	char *p;
	size_t len, cap;
	bool oom;
};

static void mbuf_put(struct mbuf *b, const char *s, size_t n)
{
	if (b->oom)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap == 0 ? 4096 : b->cap;
		char *p;
		while (b->len + n + 1 > cap)
			cap *= 2;
		p = realloc(b->p, cap);
		if (p == NULL) {
			b->oom = true;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void mbuf_str(struct mbuf *b, const char *s) { mbuf_put(b, s, strlen(s)); }

/* A label value with backslash, double quote and line feed escaped. */
static void mbuf_label_value(struct mbuf *b, const char *v)
{
	for (; *v != '\0'; v++) {
		if (*v == '\\')
			mbuf_str(b, "\\\\");
		else if (*v == '"')
			mbuf_str(b, "\\\"");
		else if (*v == '\n')
			mbuf_str(b, "\\n");
		else
			mbuf_put(b, v, 1);
	}
}

/* Whole numbers below 2^53 as integers; otherwise the shortest %g form that
 * reads back as the same double; NaN and infinities as the format spells
 * them. */
static void fmt_double(double v, char out[static 32])
{
	if (isnan(v)) {
		strcpy(out, "NaN");
		return;
	}
	if (isinf(v)) {
		strcpy(out, v > 0 ? "+Inf" : "-Inf");
		return;
	}
	if (v > -9007199254740992.0 && v < 9007199254740992.0 && v == (double)(int64_t)v) {
		snprintf(out, 32, "%" PRId64, (int64_t)v);
		return;
	}
	for (int prec = 1; prec <= 17; prec++) {
		snprintf(out, 32, "%.*g", prec, v);
		if (strtod(out, NULL) == v)
			return;
	}
}

static void family(struct mbuf *b, const char *name, const char *type, const char *help)
{
	mbuf_str(b, "# HELP " PFX);
	mbuf_str(b, name);
	mbuf_str(b, " ");
	mbuf_str(b, help);
	mbuf_str(b, "\n# TYPE " PFX);
	mbuf_str(b, name);
	mbuf_str(b, " ");
	mbuf_str(b, type);
	mbuf_str(b, "\n");
}

/* One sample: labels holds nlabels name/value pairs. */
static void sample(struct mbuf *b, const char *name, const char *const *labels, size_t nlabels,
		   const char *value)
{
	mbuf_str(b, PFX);
	mbuf_str(b, name);
	for (size_t i = 0; i < nlabels; i++) {
		mbuf_str(b, i == 0 ? "{" : ",");
		mbuf_str(b, labels[2 * i]);
		mbuf_str(b, "=\"");
		mbuf_label_value(b, labels[2 * i + 1]);
		mbuf_str(b, "\"");
	}
	mbuf_str(b, nlabels > 0 ? "} " : " ");
	mbuf_str(b, value);
	mbuf_str(b, "\n");
}

static void sample_u64(struct mbuf *b, const char *name, const char *const *labels,
		       size_t nlabels, uint64_t v)
{
	char num[24];

	snprintf(num, sizeof(num), "%" PRIu64, v);
	sample(b, name, labels, nlabels, num);
}

static void gauge_double(struct mbuf *b, const char *name, const char *help, double v)
{
	char num[32];

	fmt_double(v, num);
	family(b, name, "gauge", help);
	sample(b, name, NULL, 0, num);
}

static void gauge_u64(struct mbuf *b, const char *name, const char *help, uint64_t v)
{
	family(b, name, "gauge", help);
	sample_u64(b, name, NULL, 0, v);
}

static void render_identity(struct mbuf *b, const struct metrics *m)
{
	const char *version[] = {"version", m->version};
	const char *role[] = {"role", config_role_name(m->role)};

	family(b, "build_info", "gauge", "Always 1; the version label is the sidecar's version.");
	sample(b, "build_info", version, 1, "1");
	family(b, "role", "gauge", "Always 1; the role label is this node's SYNC_ROLE.");
	sample(b, "role", role, 1, "1");
	gauge_double(b, "interval_seconds", "Configured full poll interval (SYNC_INTERVAL).",
		     m->interval);
}

static void render_progress(struct mbuf *b, const struct metrics *m)
{
	gauge_double(b, "last_success_timestamp_seconds",
		     "Unix time of the last successful sync (0 = never).", m->last_success);
	gauge_double(b, "last_attempt_timestamp_seconds",
		     "Unix time of the last sync attempt (0 = never).", m->last_attempt);
	gauge_double(b, "last_duration_seconds",
		     "How long the last successful sync took (without the time the primary held the long poll).",
		     m->last_duration);
	gauge_u64(b, "last_payload_bytes", "Size of the last sealed payload sent (primary) or received (secondary).",
		  m->last_payload_bytes);
}

static void render_rows(struct mbuf *b, const struct metrics *m)
{
	family(b, "rows_total", "counter",
	       "Rows changed per table and operation (insert, update, delete).");
	for (size_t i = 0; i < m->ntables; i++) {
		for (int op = 0; op < METRICS_OP_COUNT; op++) {
			const char *labels[] = {"table", m->tables[i].name, "op",
						metrics_op_name((enum metrics_op)op)};
			sample_u64(b, "rows_total", labels, 2, m->tables[i].ops[op]);
		}
	}
}

static void render_outcomes(struct mbuf *b, const struct metrics *m)
{
	family(b, "failures_total", "counter", "Failed sync attempts by reason.");
	for (int r = 0; r < METRICS_FAIL_COUNT; r++) {
		const char *labels[] = {"reason", metrics_reason_name((enum metrics_reason)r)};
		sample_u64(b, "failures_total", labels, 1, m->failures[r]);
	}
	family(b, "payloads_total", "counter",
	       "Format-2 documents sent (primary) or applied (secondary) by kind.");
	sample_u64(b, "payloads_total", (const char *[]){"kind", "full"}, 1, m->payloads[0]);
	sample_u64(b, "payloads_total", (const char *[]){"kind", "delta"}, 1, m->payloads[1]);
	family(b, "restarts_total", "counter", "Runs of SYNC_RESTART_COMMAND by result.");
	sample_u64(b, "restarts_total", (const char *[]){"result", "ok"}, 1, m->restarts[0]);
	sample_u64(b, "restarts_total", (const char *[]){"result", "failed"}, 1, m->restarts[1]);
	gauge_u64(b, "unknown_tables", "Tables in the database that the sync policy does not know.",
		  m->unknown_tables);
	gauge_u64(b, "callback_capture_clients",
		  "OIDC clients without callback URLs on a Pocket ID release that stores the first one it sees.",
		  m->callback_capture_clients);
	family(b, "app_config_updates_total", "counter",
	       "Writes of a changed application configuration through Pocket ID's API by result.");
	sample_u64(b, "app_config_updates_total", (const char *[]){"result", "done"}, 1,
		   m->app_config_updates[0]);
	sample_u64(b, "app_config_updates_total", (const char *[]){"result", "failed"}, 1,
		   m->app_config_updates[1]);
	gauge_u64(b, "app_config_pending", "1 while reading (primary) or writing (secondary) the "
		  "application configuration through Pocket ID's API fails and is retried.",
		  m->app_config_pending ? 1 : 0);
}

static void render_primary(struct mbuf *b, const struct metrics *m)
{
	char num[32];

	gauge_u64(b, "generation", "Current generation of the primary's exported content.",
		  m->generation);
	gauge_u64(b, "peers", "Enrolled peers.", m->peer_count);
	family(b, "peer_last_seen_timestamp_seconds", "gauge",
	       "Unix time a peer last fetched an export (0 = never).");
	for (size_t i = 0; i < m->npeers; i++) {
		fmt_double(m->peers[i].last_seen, num);
		sample(b, "peer_last_seen_timestamp_seconds",
		       (const char *[]){"peer", m->peers[i].name}, 1, num);
	}
	family(b, "exports_total", "counter", "Answers to /sync/export per peer (payloads and 304s).");
	for (size_t i = 0; i < m->npeers; i++)
		sample_u64(b, "exports_total", (const char *[]){"peer", m->peers[i].name}, 1,
			   m->peers[i].exports);
}

static void render_secondary(struct mbuf *b, const struct metrics *m)
{
	gauge_u64(b, "applied_generation", "Generation of the last payload applied.",
		  m->applied_generation);
	gauge_u64(b, "primary_reachable", "1 when the last request reached the primary.",
		  m->primary_reachable ? 1 : 0);
}

char *metrics_render(struct metrics *m, size_t *len)
{
	struct mbuf b = {0};

	pthread_mutex_lock(&m->lock);
	render_identity(&b, m);
	render_progress(&b, m);
	render_rows(&b, m);
	render_outcomes(&b, m);
	if (m->role == ROLE_PRIMARY)
		render_primary(&b, m);
	else if (m->role == ROLE_SECONDARY)
		render_secondary(&b, m);
	pthread_mutex_unlock(&m->lock);
	if (b.oom) {
		free(b.p);
		return NULL;
	}
	if (len != NULL)
		*len = b.len;
	return b.p;
}
