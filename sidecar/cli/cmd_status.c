/* status: what this node's state.db says: role, own key fingerprint, and on a
 * primary the generation and peers, on a secondary the pinned primary and
 * the progress `run` recorded. Reads only; it asks no running daemon. */
#include "appconfig_step.h"
#include "cli.h"
#include "keys.h"
#include "state.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char help_text[] =
	"Options:\n"
	"  --tsv            print key<TAB>value lines for scripts; peers as\n"
	"                   peer<TAB>NAME<TAB>FINGERPRINT<TAB>LAST_SEEN<TAB>LAST_GENERATION\n"
	"  --env-file FILE  read variables from FILE (repeatable; the environment wins)\n"
	"  -h, --help       show this help\n\n"
	"Times are RFC 3339 UTC or \"never\"; absent values are \"-\".\n";

struct status_out {
	int tsv;
};

/* One key/value line; label is the human form of key. */
static void status_line(const struct status_out *o, const char *key, const char *label,
			const char *value)
{
	if (o->tsv)
		printf("%s\t%s\n", key, value);
	else
		printf("%-21s%s\n", label, value);
}

static void status_peers(const struct status_out *o, const struct peer_info *p, size_t n)
{
	char fp[17], seen[32], gen[24], count[24];

	snprintf(count, sizeof(count), "%zu", n);
	status_line(o, "peers", "peers:", count);
	if (!o->tsv && n > 0)
		printf("  %-20s  %-16s  %-20s  %s\n", "NAME", "FINGERPRINT", "LAST SEEN",
		       "LAST GENERATION");
	for (size_t i = 0; i < n; i++) {
		keys_fingerprint(p[i].pubkey, fp);
		cli_format_time(p[i].last_seen_at, "never", seen);
		snprintf(gen, sizeof(gen), "%" PRIu64, p[i].last_generation_sent);
		printf(o->tsv ? "peer\t%s\t%s\t%s\t%s\n" : "  %-20s  %-16s  %-20s  %s\n", p[i].name,
		       fp, seen, p[i].has_generation_sent ? gen : "-");
	}
}

/* OIDC clients that capture their first callback URL (Pocket ID < v2.10),
 * as the daemon last counted them. */
static int status_capture(const struct status_out *o, struct state *st)
{
	char buf[24] = "-";
	int64_t n = 0;
	int rc = state_status_get_i64(st, "callback_capture_clients", &n);

	if (rc == -1)
		return -1;
	if (rc == 0)
		snprintf(buf, sizeof(buf), "%lld", (long long)n);
	status_line(o, "callback_capture_clients", "callback capture:", buf);
	return 0;
}

static void status_app_config(const struct status_out *o, const struct config *cfg, struct state *st)
{
	char buf[512];

	appconfig_step_describe(cfg, st, buf, sizeof(buf));
	status_line(o, "app_config", "app config:", buf);
}

static int status_primary(const struct status_out *o, const struct config *cfg, struct state *st)
{
	struct peer_info *peers;
	uint8_t hash[32];
	char buf[24];
	uint64_t gen;
	bool has;
	size_t n;

	if (state_generation(st, &gen, hash, &has) == -1 || state_peer_list(st, &peers, &n) == -1)
		return -1;
	snprintf(buf, sizeof(buf), "%" PRIu64, gen);
	status_line(o, "generation", "generation:", buf);
	status_peers(o, peers, n);
	free(peers);
	status_app_config(o, cfg, st);
	return status_capture(o, st);
}

/* A timestamp status key as RFC 3339 or "never". */
static int status_time(const struct status_out *o, struct state *st, const char *key,
		       const char *label)
{
	char out[32];
	int64_t t = 0;
	int rc = state_status_get_i64(st, key, &t);

	if (rc == -1)
		return -1;
	status_line(o, key, label, cli_format_time(rc == 0 ? t : 0, "never", out));
	return 0;
}

/* The last error on one line (tabs and line breaks become spaces). */
static int status_error(const struct status_out *o, struct state *st)
{
	char msg[512];
	int rc = state_status_get(st, "last_error", msg, sizeof(msg));

	if (rc == -1)
		return -1;
	for (char *c = msg; *c != '\0'; c++) {
		if (*c == '\t' || *c == '\n' || *c == '\r')
			*c = ' ';
	}
	status_line(o, "last_error", "last error:", rc == 0 && msg[0] != '\0' ? msg : "-");
	return 0;
}

static int status_secondary(const struct status_out *o, const struct config *cfg,
			    struct state *st)
{
	char fp[17] = "-", buf[24] = "-";
	uint64_t gen;
	bool found = false;

	if (cfg->has_primary_pubkey) {
		keys_fingerprint(cfg->primary_pubkey, fp);
		if (state_applied_get(st, cfg->primary_pubkey, &gen, &found) == -1)
			return -1;
		if (found)
			snprintf(buf, sizeof(buf), "%" PRIu64, gen);
	}
	status_line(o, "primary_fingerprint", "primary fingerprint:", fp);
	status_line(o, "applied_generation", "applied generation:", buf);
	status_app_config(o, cfg, st);
	if (status_time(o, st, "last_attempt_at", "last attempt:") == -1 ||
	    status_time(o, st, "last_success_at", "last success:") == -1 ||
	    status_capture(o, st) == -1)
		return -1;
	return status_error(o, st);
}

static int status_show(const struct status_out *o, const struct config *cfg, struct state *st)
{
	struct node_key key;
	char fp[17] = "-", err[512];

	status_line(o, "role", "role:", config_role_name(cfg->role));
	if (keys_load(cfg->state_dir, &key, err, sizeof(err)) == 0)
		keys_fingerprint(key.pub, fp);
	else
		fprintf(stderr, "pocket-id-sync: no node key: %s\n", err);
	keys_wipe(&key);
	status_line(o, "fingerprint", "key fingerprint:", fp);
	if (cfg->role == ROLE_PRIMARY)
		return status_primary(o, cfg, st);
	if (cfg->role == ROLE_SECONDARY)
		return status_secondary(o, cfg, st);
	fprintf(stderr, "pocket-id-sync: SYNC_ROLE is not set; set it to see more\n");
	return 0;
}

static int status_opt(int c, const char *arg, void *ctx)
{
	(void)arg;
	if (c == 't')
		((struct status_out *)ctx)->tsv = 1;
	return 0;
}

int cmd_status(int argc, char **argv)
{
	static const struct option opts[] = {{"tsv", no_argument, NULL, 't'}, {NULL, 0, NULL, 0}};
	struct status_out out = {0};
	struct cli_env env = {0};
	struct config cfg;
	struct state *st;
	char err[512];
	int first, rc = cli_parse(argc, argv, help_text, opts, status_opt, &out, &env, &first);

	if (rc != 0)
		return rc == 1 ? EXIT_OK : EXIT_USAGE;
	if (cli_no_operands(argc, argv, first) == -1)
		return EXIT_USAGE;
	if (cli_load_config(&env, NEED_STATE, &cfg) == -1) {
		config_free(&cfg);
		return EXIT_USAGE;
	}
	rc = EXIT_FAIL;
	if (state_open(cfg.state_dir, &st, err, sizeof(err)) == -1) {
		fprintf(stderr, "pocket-id-sync: %s\n", err);
	} else {
		if (status_show(&out, &cfg, st) == 0)
			rc = EXIT_OK;
		else
			fprintf(stderr, "pocket-id-sync: cannot read state.db\n");
		state_close(st);
	}
	config_free(&cfg);
	return rc;
}
