/* promote: turns a secondary into the primary when the old primary is lost
 * for good. It changes no Pocket ID data: it checks that this node's data and
 * JWT key are usable as the source of truth, records the promotion in
 * state.db, and prints what the operator and the remaining nodes must do
 * (they pin the old primary's key and need new tokens). */
#include "b64.h"
#include "cli.h"
#include "jwt_store.h"
#include "keys.h"
#include "pidb.h"
#include "schema.h"
#include "state.h"

#include <inttypes.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <time.h>

static const char help_text[] =
	"Options:\n"
	"  --env-file FILE  read variables from FILE (repeatable; the environment wins)\n"
	"  -h, --help       show this help\n\n"
	"Run on a secondary whose primary is gone for good. Checks that Pocket ID's\n"
	"database is readable and its JWT signing key decrypts with this node's\n"
	"ENCRYPTION_KEY, records the promotion in SYNC_STATE_DIR/state.db, and prints\n"
	"the steps that finish the switch. Exit status: 0 ready, 1 not ready, 2 usage.\n";

static long count_rows(sqlite3 *db, const char *table)
{
	char *sql = sqlite3_mprintf("SELECT count(*) FROM main.\"%w\"", table);
	sqlite3_stmt *st;
	long n = -1;

	if (sql != NULL && sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK) {
		if (sqlite3_step(st) == SQLITE_ROW)
			n = (long)sqlite3_column_int64(st, 0);
		sqlite3_finalize(st);
	}
	sqlite3_free(sql);
	return n;
}

/* Checks data and key; prints a summary. Returns 0 when usable. */
static int check_node(const struct config *cfg, sqlite3 *db)
{
	struct jwt_store_cfg keys = {cfg->encryption_key, cfg->encryption_key_len,
				     cfg->keys_storage, cfg->keys_path};
	struct schema s;
	char err[512], *jwk = NULL;
	size_t len;

	if (schema_load(db, &s, err, sizeof(err)) == -1) {
		fprintf(stderr, "pocket-id-sync: cannot promote: %s\n", err);
		return -1;
	}
	printf("Pocket ID data: schema %s, %ld users, %ld passkeys\n", s.version,
	       count_rows(db, "users"), count_rows(db, "webauthn_credentials"));
	schema_free(&s);
	if (jwt_store_read(db, &keys, &jwk, &len, err, sizeof(err)) == -1) {
		fprintf(stderr, "pocket-id-sync: cannot promote: %s\n", err);
		return -1;
	}
	printf("JWT signing key: %s\n", jwk != NULL ? "present and readable (kept: tokens stay valid)"
						    : "none yet (Pocket ID creates one on start)");
	if (jwk != NULL)
		OPENSSL_clear_free(jwk, len + 1);
	return 0;
}

static void print_steps(const struct node_key *me)
{
	char pub[45];

	b64_encode(pub, me->pub, 32);
	printf("\nThis node is ready to be the primary. To finish:\n"
	       "  1. In its configuration set SYNC_ROLE=primary and remove SYNC_PRIMARY_URL,\n"
	       "     SYNC_PRIMARY_TOKEN / SYNC_PRIMARY_TOKEN_FILE and SYNC_PRIMARY_PUBKEY.\n"
	       "  2. Restart the sidecar (systemctl restart pocket-id-sync).\n"
	       "  3. Send Pocket ID writes and passkey registration to this site (HAProxy).\n"
	       "  4. For every remaining secondary: run `pocket-id-sync pubkey` there, then here\n"
	       "     `pocket-id-sync peer add NAME KEY`, and give it the printed pisync1... string\n"
	       "     as SYNC_PRIMARY_TOKEN with SYNC_PRIMARY_URL pointing at this node. Until then\n"
	       "     they refuse this node's payloads: they pin the old primary's key.\n"
	       "  5. Never run the old primary as a primary again; bring it back as a secondary\n"
	       "     (README, runbook).\n"
	       "New primary public key: %s\n", pub);
}

int cmd_promote(int argc, char **argv)
{
	struct cli_env env = {0};
	struct config cfg;
	struct node_key me;
	struct state *st = NULL;
	sqlite3 *db = NULL;
	int first, rc = cli_parse(argc, argv, help_text, NULL, NULL, NULL, &env, &first);

	if (rc != 0)
		return rc == 1 ? EXIT_OK : EXIT_USAGE;
	if (cli_no_operands(argc, argv, first) == -1)
		return EXIT_USAGE;
	if (cli_load_config(&env, NEED_STATE | NEED_DB | NEED_KEK, &cfg) == -1) {
		config_free(&cfg);
		return EXIT_USAGE;
	}
	rc = EXIT_FAIL;
	if (cfg.role == ROLE_PRIMARY) {
		fprintf(stderr, "pocket-id-sync: SYNC_ROLE is already primary: nothing to promote\n");
		goto out;
	}
	if (cli_open_node(&cfg, "cannot promote", false, &me, &st, &db) == -1)
		goto out;
	if (check_node(&cfg, db) == -1)
		goto out;
	if (cfg.has_primary_pubkey) {
		char fp[17];
		keys_fingerprint(cfg.primary_pubkey, fp);
		state_status_set(st, "promoted_from", fp);
	}
	if (state_status_set_i64(st, "promoted_at", (int64_t)time(NULL)) == -1 ||
	    state_status_set(st, "role", "primary") == -1) {
		fprintf(stderr, "pocket-id-sync: cannot record the promotion in state.db\n");
		goto out;
	}
	print_steps(&me);
	rc = EXIT_OK;
out:
	sqlite3_close(db);
	state_close(st);
	keys_wipe(&me);
	config_free(&cfg);
	return rc;
}
