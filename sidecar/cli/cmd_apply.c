/* apply: on a secondary, verifies a sealed payload against the pinned
 * primary key and applies it (the offline path; the daemon's poller uses the
 * same ingest code). Prints per table what changed. */
#include "cli.h"
#include "ingest.h"
#include "pidb.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char help_text[] =
	"Options:\n"
	"  --dry-run        verify and print the counts, change nothing (exit 1 when\n"
	"                   the valve would refuse the payload, after the counts)\n"
	"  --force          apply even if it deletes more than SYNC_MAX_DELETE_PERCENT\n"
	"                   of the users or passkeys (and re-apply an already applied\n"
	"                   generation)\n"
	"  --env-file FILE  read variables from FILE (repeatable; the environment wins)\n"
	"  -h, --help       show this help\n\n"
	"Reads FILE (or - for standard input), checks it was sealed by the pinned primary\n"
	"(SYNC_PRIMARY_PUBKEY or the key inside SYNC_PRIMARY_TOKEN) for this node, that its\n"
	"generation is not older than the last applied, and that both Pocket ID schema\n"
	"versions match; then applies it in one transaction. On any refusal the database\n"
	"is unchanged. Exit status: 0 applied (or nothing to do), 1 refused, 2 usage.\n";

struct apply_cli_opts {
	bool dry_run, force;
};

static int on_opt(int c, const char *arg, void *ctx)
{
	struct apply_cli_opts *o = ctx;
	(void)arg;
	if (c == 'n')
		o->dry_run = true;
	else if (c == 'f')
		o->force = true;
	return 0;
}

static void print_result(const struct ingest_result *r, bool dry_run)
{
	if (r->same_generation && r->apply.ntables == 0) {
		printf("generation %" PRIu64 " is already applied: nothing to do\n", r->generation);
		return;
	}
	printf("%-40s %9s %9s %9s\n", "table", "inserted", "updated", "deleted");
	for (size_t i = 0; i < r->apply.ntables; i++)
		printf("%-40s %9zu %9zu %9zu\n", r->apply.tables[i].table, r->apply.tables[i].inserted,
		       r->apply.tables[i].updated, r->apply.tables[i].deleted);
	printf("jwt signing key: %s\n", r->apply.jwt_changed ? "replaced" : "unchanged");
	if (!dry_run && r->app_config == APPCONFIG_WRITTEN)
		printf("application configuration: %zu settings written through Pocket ID's API\n",
		       r->app_config_keys);
	else if (!dry_run && r->app_config != APPCONFIG_OFF)
		printf("application configuration: %s\n", appconfig_outcome_name(r->app_config));
	printf("generation %" PRIu64 ": %s\n", r->generation,
	       dry_run ? "dry run, nothing changed" : r->apply.wrote ? "applied" : "already in step");
}

int cmd_apply(int argc, char **argv)
{
	static const struct option extra[] = {
		{"dry-run", no_argument, NULL, 'n'},
		{"force", no_argument, NULL, 'f'},
		{NULL, 0, NULL, 0},
	};
	struct apply_cli_opts o = {0};
	struct cli_env env = {0};
	struct config cfg;
	struct state *st = NULL;
	struct node_key me;
	struct ingest_result r;
	sqlite3 *db = NULL;
	uint8_t *wire = NULL;
	size_t wire_len;
	char err[512];
	int first, rc = cli_parse(argc, argv, help_text, extra, on_opt, &o, &env, &first);

	if (rc != 0)
		return rc == 1 ? EXIT_OK : EXIT_USAGE;
	if (first + 1 != argc)
		return cli_usage_error("apply", "expected exactly one FILE (or -)");
	if (cli_load_config(&env, NEED_STATE | NEED_DB | NEED_KEK | NEED_PIN, &cfg) == -1) {
		config_free(&cfg);
		return EXIT_USAGE;
	}
	rc = EXIT_FAIL;
	if (cli_read_input(argv[first], cfg.max_payload_bytes, &wire, &wire_len) == -1)
		goto out;
	if (cli_open_node(&cfg, "cannot apply", false, &me, &st, &db) == -1)
		goto out;
	struct ingest_opts io = {.dry_run = o.dry_run, .force = o.force, .reapply = o.force};
	if (ingest_wire(&cfg, &me, st, db, wire, wire_len, &io, &r, err, sizeof(err)) == -1) {
		/* A dry run the valve would refuse still shows what it would do. */
		if (o.dry_run && strcmp(r.reason, "valve") == 0)
			print_result(&r, true);
		fprintf(stderr, "pocket-id-sync: %s\n", err);
		goto out;
	}
	print_result(&r, o.dry_run);
	rc = EXIT_OK;
out:
	free(wire);
	sqlite3_close(db);
	state_close(st);
	keys_wipe(&me);
	config_free(&cfg);
	return rc;
}
