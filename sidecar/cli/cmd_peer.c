/* peer: `peer add NAME PUBKEY`, `peer list [--tsv]` and `peer remove NAME`
 * on the primary's state.db; safe while `run` is running (short
 * transactions). The token `add` prints is never stored or shown again. */
#include "b64.h"
#include "cli.h"
#include "enroll.h"
#include "keys.h"
#include "state.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char peer_help[] =
	"Actions:\n"
	"  add NAME PUBKEY  enrol a secondary: NAME is 1-64 characters of A-Z a-z 0-9 . _ -,\n"
	"                   PUBKEY what `pocket-id-sync pubkey` printed there; prints the\n"
	"                   secondary's SYNC_PRIMARY_TOKEN once\n"
	"  list [--tsv]     show the peers\n"
	"  remove NAME      remove a peer and revoke its token at once\n\n"
	"Options (before the operands):\n"
	"  --env-file FILE  read variables from FILE (repeatable; the environment wins)\n"
	"  -h, --help       show this help (also after an action)\n\n"
	"Uses SYNC_STATE_DIR. Safe while `pocket-id-sync run` is running.\n";

static const char add_help[] =
	"Usage: pocket-id-sync peer add [--env-file FILE]... NAME PUBKEY\n\n"
	"Enrol a secondary and print its bootstrap token.\n\n"
	"Prints exactly one line, pisync1.<this primary's key>.<token>, to standard output.\n"
	"It is shown only once: put it into the secondary's SYNC_PRIMARY_TOKEN (or the file\n"
	"SYNC_PRIMARY_TOKEN_FILE names). Only a hash of the token is stored.\n";

static const char list_help[] =
	"Usage: pocket-id-sync peer list [--tsv] [--env-file FILE]...\n\n"
	"Show the peers.\n\n"
	"  --tsv  no header; one tab-separated line per peer:\n"
	"         NAME FINGERPRINT CREATED LAST_SEEN LAST_GENERATION PUBKEY\n"
	"         (times RFC 3339 UTC or \"never\"; generation a number or \"-\")\n";

static const char remove_help[] =
	"Usage: pocket-id-sync peer remove [--env-file FILE]... NAME\n\n"
	"Remove a peer; its token stops working at once.\n\n"
	"Prints \"removed NAME\", or exits 1 with \"no such peer NAME\".\n";

/* Loads the configuration and opens state.db. Returns EXIT_OK, or the exit
 * status to return (everything is released then). */
static int peer_open(const struct cli_env *env, struct config *cfg, struct state **st)
{
	char err[512];

	*st = NULL;
	if (cli_load_config(env, NEED_STATE, cfg) == -1) {
		config_free(cfg);
		return EXIT_USAGE;
	}
	if (state_open(cfg->state_dir, st, err, sizeof(err)) == -1) {
		fprintf(stderr, "pocket-id-sync: %s\n", err);
		config_free(cfg);
		return EXIT_FAIL;
	}
	return EXIT_OK;
}

static void peer_close(struct config *cfg, struct state *st)
{
	state_close(st);
	config_free(cfg);
}

/* Parses a verb's options; returns -1 to go on, else the exit status. */
static int peer_parse(int argc, char **argv, const char *help, const struct option *extra,
		      cli_opt_fn on_opt, void *ctx, struct cli_env *env, int want, int *first)
{
	int rc = cli_parse(argc, argv, help, extra, on_opt, ctx, env, first);

	if (rc != 0)
		return rc == 1 ? EXIT_OK : EXIT_USAGE;
	if (argc - *first != want)
		return cli_usage_error(argv[0], "expected %s",
				       want == 2 ? "NAME PUBKEY" : want == 1 ? "NAME" : "no arguments");
	return -1;
}

static int peer_add_run(struct state *st, const struct config *cfg, const char *name,
			const char *pub64)
{
	char err[512], boot[TOKEN_BOOTSTRAP_LEN + 1];
	struct node_key key;
	enum enroll_result r;

	if (keys_load_or_create(cfg->state_dir, &key, err, sizeof(err)) == -1) {
		fprintf(stderr, "pocket-id-sync: %s\n", err);
		return EXIT_FAIL;
	}
	r = enroll_peer(st, key.pub, name, pub64, boot, err, sizeof(err));
	keys_wipe(&key);
	if (r != ENROLL_OK) {
		fprintf(stderr, "pocket-id-sync peer add: %s\n", err);
		return EXIT_FAIL;
	}
	printf("%s\n", boot);
	fflush(stdout);
	OPENSSL_cleanse(boot, sizeof(boot));
	fprintf(stderr, "pocket-id-sync: peer %s added. The line above is shown only once: put it "
			"into that secondary's SYNC_PRIMARY_TOKEN (or SYNC_PRIMARY_TOKEN_FILE).\n",
		name);
	return EXIT_OK;
}

static int peer_add(int argc, char **argv, struct cli_env *env)
{
	struct config cfg;
	struct state *st;
	int first, rc = peer_parse(argc, argv, add_help, NULL, NULL, NULL, env, 2, &first);

	if (rc != -1)
		return rc;
	if ((rc = peer_open(env, &cfg, &st)) != EXIT_OK)
		return rc;
	if (cfg.role == ROLE_SECONDARY) {
		fprintf(stderr, "pocket-id-sync peer add: SYNC_ROLE is secondary; enrol peers on the "
				"primary\n");
		rc = EXIT_FAIL;
	} else {
		rc = peer_add_run(st, &cfg, argv[first], argv[first + 1]);
	}
	peer_close(&cfg, st);
	return rc;
}

static void peer_print_table(const struct peer_info *p, size_t n)
{
	char fp[17], created[32], seen[32], gen[24];
	int w = 4;

	for (size_t i = 0; i < n; i++)
		w = (int)strlen(p[i].name) > w ? (int)strlen(p[i].name) : w;
	printf("%-*s  %-16s  %-20s  %-20s  %s\n", w, "NAME", "FINGERPRINT", "CREATED",
	       "LAST SEEN", "LAST GENERATION");
	for (size_t i = 0; i < n; i++) {
		keys_fingerprint(p[i].pubkey, fp);
		snprintf(gen, sizeof(gen), "%llu", (unsigned long long)p[i].last_generation_sent);
		printf("%-*s  %-16s  %-20s  %-20s  %s\n", w, p[i].name, fp,
		       cli_format_time(p[i].created_at, "-", created),
		       cli_format_time(p[i].last_seen_at, "never", seen),
		       p[i].has_generation_sent ? gen : "-");
	}
	if (n == 0)
		fprintf(stderr, "pocket-id-sync: no peers yet; add one with `pocket-id-sync peer add "
				"NAME PUBKEY`\n");
}

static void peer_print_tsv(const struct peer_info *p, size_t n)
{
	char fp[17], created[32], seen[32], gen[24], pub[45];

	for (size_t i = 0; i < n; i++) {
		keys_fingerprint(p[i].pubkey, fp);
		b64_encode(pub, p[i].pubkey, 32);
		snprintf(gen, sizeof(gen), "%llu", (unsigned long long)p[i].last_generation_sent);
		printf("%s\t%s\t%s\t%s\t%s\t%s\n", p[i].name, fp,
		       cli_format_time(p[i].created_at, "-", created),
		       cli_format_time(p[i].last_seen_at, "never", seen),
		       p[i].has_generation_sent ? gen : "-", pub);
	}
}

static int peer_list_opt(int c, const char *arg, void *ctx)
{
	(void)arg;
	if (c == 't')
		*(int *)ctx = 1;
	return 0;
}

static int peer_list(int argc, char **argv, struct cli_env *env)
{
	static const struct option opts[] = {{"tsv", no_argument, NULL, 't'}, {NULL, 0, NULL, 0}};
	struct peer_info *peers;
	struct config cfg;
	struct state *st;
	size_t n;
	int tsv = 0, first;
	int rc = peer_parse(argc, argv, list_help, opts, peer_list_opt, &tsv, env, 0, &first);

	if (rc != -1)
		return rc;
	if ((rc = peer_open(env, &cfg, &st)) != EXIT_OK)
		return rc;
	rc = EXIT_FAIL;
	if (state_peer_list(st, &peers, &n) == -1) {
		fprintf(stderr, "pocket-id-sync: cannot read the peers from state.db\n");
	} else {
		if (tsv)
			peer_print_tsv(peers, n);
		else
			peer_print_table(peers, n);
		free(peers);
		rc = EXIT_OK;
	}
	peer_close(&cfg, st);
	return rc;
}

static int peer_remove(int argc, char **argv, struct cli_env *env)
{
	struct config cfg;
	struct state *st;
	int first, rc = peer_parse(argc, argv, remove_help, NULL, NULL, NULL, env, 1, &first);
	const char *name;

	if (rc != -1)
		return rc;
	if ((rc = peer_open(env, &cfg, &st)) != EXIT_OK)
		return rc;
	name = argv[first];
	switch (state_peer_remove(st, name)) {
	case 0:
		printf("removed %s\n", name);
		rc = EXIT_OK;
		break;
	case 1:
		fprintf(stderr, "pocket-id-sync: no such peer %s\n", name);
		rc = EXIT_FAIL;
		break;
	default:
		fprintf(stderr, "pocket-id-sync: cannot remove %s from state.db\n", name);
		rc = EXIT_FAIL;
	}
	peer_close(&cfg, st);
	return rc;
}

static const struct peer_action {
	const char *name;
	const char *label; /* argv[0] for the action, shown in messages */
	int (*run)(int argc, char **argv, struct cli_env *env);
} peer_actions[] = {
	{"add", "peer add", peer_add},
	{"list", "peer list", peer_list},
	{"remove", "peer remove", peer_remove},
};

int cmd_peer(int argc, char **argv)
{
	struct cli_env env = {0};
	int first, rc = cli_parse_to_verb(argc, argv, peer_help, &env, &first);

	if (rc != 0)
		return rc == 1 ? EXIT_OK : EXIT_USAGE;
	if (first >= argc)
		return cli_usage_error("peer", "missing action: add, list or remove");
	for (size_t i = 0; i < sizeof(peer_actions) / sizeof(peer_actions[0]); i++) {
		if (strcmp(argv[first], peer_actions[i].name) == 0) {
			argv[first] = (char *)peer_actions[i].label;
			return peer_actions[i].run(argc - first, argv + first, &env);
		}
	}
	return cli_usage_error("peer", "unknown action '%s' (add, list or remove)", argv[first]);
}
