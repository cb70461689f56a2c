/* run: the daemon. Start-up order: configuration (exit 2 on any problem,
 * before touching anything), node key and state, role (primary: export
 * endpoint; secondary: poller thread), HTTP listeners, then the libevent
 * loop until SIGTERM/SIGINT; shutdown lets an apply in flight commit or roll
 * back before exiting 0. */
#include "b64.h"
#include "cli.h"
#include "forward.h"
#include "http_server.h"
#include "keys.h"
#include "log.h"
#include "memtrim.h"
#include "metrics.h"
#include "poller.h"
#include "preflight.h"
#include "primary.h"
#include "state.h"
#include "version.h"

#include <curl/curl.h>
#include <event2/event.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

static const char help_text[] =
	"Options:\n"
	"  --env-file FILE  read variables from FILE (repeatable; the environment wins)\n"
	"  -h, --help       show this help\n\n"
	"Runs in the role SYNC_ROLE names. Every node serves GET /sync/pubkey and\n"
	"GET /healthz on SYNC_LISTEN and Prometheus metrics on SYNC_METRICS_LISTEN.\n"
	"A primary serves GET /sync/export to registered peers and the admin API under\n"
	"/sync/admin/; a secondary long-polls SYNC_PRIMARY_URL and applies what changed.\n"
	"A secondary without SYNC_PRIMARY_TOKEN only serves its key until it is enrolled.\n"
	"Before it starts it checks what check-config checks (but the listeners, which it\n"
	"binds) and exits 2 on any problem, so systemd does not restart a broken setup.\n"
	"Exit status: 0 after SIGTERM/SIGINT, 1 on a failure after the start, 2 on bad\n"
	"configuration or environment (including a failed start). `pocket-id-sync help\n"
	"config` lists the variables.\n";

struct daemon {
	struct event_base *base;
	struct config cfg;
	struct node_key me;
	struct state *st;
	struct metrics *m;
	struct primary *primary;
	struct poller *poller;
	struct http_server *http;
	struct forwarder *forwarder;
};

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct daemon *d = arg;
	(void)what;
	log_info("daemon.stopping", "signal=%d", (int)sig);
	event_base_loopbreak(d->base);
}

/* A secondary started before it was enrolled serves its key and says why it
 * does not sync (the bootstrap: curl its /sync/pubkey, register it on the
 * primary, set SYNC_PRIMARY_TOKEN, restart). */
static int unenrolled_health(void *ctx, char *reason, size_t n)
{
	(void)ctx;
	snprintf(reason, n, "not enrolled: register this node's /sync/pubkey on the primary "
			    "(pocket-id-sync peer add) and set SYNC_PRIMARY_TOKEN");
	return -1;
}

static int start_role(struct daemon *d, struct http_server_config *hc, char *err, size_t errlen)
{
	if (d->cfg.role == ROLE_PRIMARY) {
		d->primary = primary_new(d->base, &d->cfg, &d->me, d->st, d->m, err, errlen);
		hc->export_handler = primary_export_handler;
		hc->health = primary_health;
		hc->ctx = d->primary;
		return d->primary == NULL ? -1 : 0;
	}
	if (d->cfg.ldap_enabled)
		log_warn("ldap.on_secondary", "msg=\"LDAP_ENABLED=true in this secondary's Pocket ID "
					      "environment: its LDAP job creates users and groups the next sync "
					      "replaces (their sessions and consents go with them); set it only "
					      "on the primary\"");
	if (d->cfg.primary_token == NULL) {
		char pub[45];
		b64_encode(pub, d->me.pub, 32);
		log_warn("secondary.not_enrolled", "pubkey=%s msg=\"serving /sync/pubkey only: register "
			 "this key on the primary and set SYNC_PRIMARY_TOKEN, then restart\"", pub);
		hc->health = unenrolled_health;
		return 0;
	}
	d->poller = poller_start(&d->cfg, &d->me, d->st, d->m, err, errlen);
	hc->health = poller_health;
	hc->ctx = d->poller;
	return d->poller == NULL ? -1 : 0;
}

static int start(struct daemon *d, char *err, size_t errlen)
{
	struct http_server_config hc = {
		.role = d->cfg.role,
		.listen_host = d->cfg.listen_host,
		.listen_port = d->cfg.listen_port,
		.metrics_host = d->cfg.metrics_host,
		.metrics_port = d->cfg.metrics_port,
		.admin_token = d->cfg.admin_token,
	};

	if (keys_load_or_create(d->cfg.state_dir, &d->me, err, errlen) == -1 ||
	    state_open(d->cfg.state_dir, &d->st, err, errlen) == -1)
		return -1;
	d->m = metrics_new(d->cfg.role, PIS_VERSION, (double)d->cfg.interval_ms / 1000.0);
	if (d->m == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	state_status_set(d->st, "role", config_role_name(d->cfg.role));
	memcpy(hc.node_pub, d->me.pub, 32);
	hc.state = d->st;
	hc.metrics = d->m;
	if (start_role(d, &hc, err, errlen) == -1)
		return -1;
	if (d->cfg.nforward_peers > 0) {
		d->forwarder = forward_new(d->base, d->cfg.pocket_id_url,
					   (const char *const *)d->cfg.forward_peers, d->cfg.nforward_peers,
					   err, errlen);
		if (d->forwarder == NULL)
			return -1;
		hc.forwarder = d->forwarder;
		log_info("forward.ready", "local=%s peers=%zu", d->cfg.pocket_id_url, d->cfg.nforward_peers);
	}
	d->http = http_server_new(d->base, &hc, err, errlen);
	if (d->http == NULL)
		return -1;
	log_info("daemon.started", "version=%s role=%s listen=%s:%u metrics=%s:%u", PIS_VERSION,
		 config_role_name(d->cfg.role), d->cfg.listen_host, http_server_port(d->http),
		 d->cfg.metrics_host, http_server_metrics_port(d->http));
	return 0;
}

static void stop(struct daemon *d)
{
	/* Held long polls first (they need the HTTP server), then the poller,
	 * which waits for an apply in flight to commit or roll back. */
	primary_free(d->primary);
	poller_stop(d->poller);
	http_server_free(d->http);
	forward_free(d->forwarder);
	metrics_free(d->m);
	state_close(d->st);
	keys_wipe(&d->me);
}

/* The checks check-config makes, before anything is created: one line per
 * problem on stderr (like configuration problems) and -1, or the warnings
 * as log lines and 0. */
static int run_preflight(const struct config *cfg, const struct envmap *m)
{
	struct preflight pf;
	char q[400];

	preflight_run(cfg, m, 0, &pf);
	for (size_t i = 0; i < pf.errors.count; i++)
		fprintf(stderr, "pocket-id-sync: %s\n", pf.errors.line[i]);
	for (size_t i = 0; i < pf.warnings.count && pf.errors.count == 0; i++)
		log_warn("config.warning", "msg=%s", log_quote(q, sizeof(q), pf.warnings.line[i]));
	return pf.errors.count == 0 ? 0 : -1;
}

int cmd_run(int argc, char **argv)
{
	struct cli_env env = {0};
	struct daemon d = {0};
	struct envmap m;
	struct event *sigterm = NULL, *sigint = NULL;
	char err[512];
	int first, rc = cli_parse(argc, argv, help_text, NULL, NULL, NULL, &env, &first);

	if (rc != 0)
		return rc == 1 ? EXIT_OK : EXIT_USAGE;
	if (cli_no_operands(argc, argv, first) == -1)
		return EXIT_USAGE;
	rc = cli_load_config_map(&env, NEED_ALL & ~NEED_TOKEN, &d.cfg, &m);
	if (rc == 0 && !d.cfg.enabled) {
		log_info("daemon.disabled", "msg=\"SYNC_ENABLED is false: nothing to do\"");
		envmap_free(&m);
		config_free(&d.cfg);
		return EXIT_OK;
	}
	if (rc == 0)
		rc = run_preflight(&d.cfg, &m);
	envmap_free(&m);
	if (rc == -1) {
		config_free(&d.cfg);
		return EXIT_USAGE;
	}
	signal(SIGPIPE, SIG_IGN);
	memtrim_init();
	curl_global_init(CURL_GLOBAL_DEFAULT);
	d.base = event_base_new();
	rc = EXIT_FAIL;
	if (d.base == NULL) {
		log_error("daemon.failed", "error=\"cannot create the event loop\"");
		goto out;
	}
	sigterm = evsignal_new(d.base, SIGTERM, on_signal, &d);
	sigint = evsignal_new(d.base, SIGINT, on_signal, &d);
	if (sigterm == NULL || sigint == NULL || event_add(sigterm, NULL) == -1 ||
	    event_add(sigint, NULL) == -1) {
		log_error("daemon.failed", "error=\"cannot set up signal handling\"");
		goto out;
	}
	if (start(&d, err, sizeof(err)) == -1) {
		char q[600];
		log_error("daemon.failed", "error=%s", log_quote(q, sizeof(q), err));
		rc = EXIT_USAGE; /* environment: a port, the database, the state directory */
		goto out;
	}
	event_base_dispatch(d.base);
	rc = EXIT_OK;
out:
	stop(&d);
	if (rc == EXIT_OK) /* after stop(): an apply in flight has committed or rolled back */
		log_info("daemon.stopped", NULL);
	if (sigterm != NULL)
		event_free(sigterm);
	if (sigint != NULL)
		event_free(sigint);
	if (d.base != NULL)
		event_base_free(d.base);
	curl_global_cleanup();
	config_free(&d.cfg);
	return rc;
}
