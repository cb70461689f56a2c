/* Unit tests for config: defaults, role requirements, secrets from files,
 * and check-config's one-line-per-problem messages naming the variable. */
#include "config.h"
#include "testutil.h"
#include "token.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int load(const char *text, unsigned needs, struct config *cfg, struct config_problems *pr)
{
	struct envmap m;
	char err[256];
	int rc;

	envmap_init(&m);
	assert_int_equal(envfile_parse(&m, text, strlen(text), "t", err, sizeof(err)), 0);
	rc = config_load(cfg, &m, needs, pr);
	envmap_free(&m);
	if (rc == 0)
		return rc;
	for (size_t i = 0; i < pr->count; i++)
		print_message("  problem: %s\n", pr->line[i]);
	return rc;
}

static void expect_problem(const struct config_problems *pr, const char *want)
{
	for (size_t i = 0; i < pr->count; i++) {
		if (strstr(pr->line[i], want) != NULL)
			return;
	}
	for (size_t i = 0; i < pr->count; i++)
		print_message("problem: %s\n", pr->line[i]);
	fail_msg("no problem mentions '%s'", want);
}

static void test_defaults(void **state)
{
	struct config cfg;
	struct config_problems pr;
	(void)state;
	assert_int_equal(load("SYNC_ROLE=primary\nENCRYPTION_KEY=0123456789abcdef\n", NEED_ALL, &cfg, &pr), 0);
	assert_true(cfg.enabled);
	assert_int_equal(cfg.role, ROLE_PRIMARY);
	assert_int_equal(cfg.interval_ms, 300000);
	assert_int_equal(cfg.long_poll_ms, 30000);
	assert_string_equal(cfg.db_path, "data/pocket-id.db");
	assert_string_equal(cfg.state_dir, "/var/lib/pocket-id-sync");
	assert_string_equal(cfg.listen_host, "0.0.0.0");
	assert_int_equal(cfg.listen_port, 1412);
	assert_string_equal(cfg.metrics_host, "127.0.0.1");
	assert_int_equal(cfg.metrics_port, 9412);
	assert_int_equal(cfg.max_delete_percent, 50);
	assert_int_equal(cfg.max_payload_bytes, 256ull << 20);
	assert_int_equal(cfg.encryption_key_len, 16);
	assert_null(cfg.restart_command);
	config_free(&cfg);
}

static void test_bad_values_each_named(void **state)
{
	struct config cfg;
	struct config_problems pr;
	(void)state;
	assert_int_equal(load("SYNC_ROLE=leader\nSYNC_INTERVAL=5\nSYNC_LISTEN=1412\n"
			      "SYNC_MAX_DELETE_PERCENT=150\nSYNC_ENABLED=perhaps\n"
			      "DB_CONNECTION_STRING=postgres://x/y\nENCRYPTION_KEY=short\n"
			      "SYNC_INTERVALL=5m\nSYNC_MAX_PAYLOAD_SIZE=1\nSYNC_LOG_LEVEL=loud\n",
			      NEED_ALL, &cfg, &pr),
			 -1);
	expect_problem(&pr, "SYNC_ROLE: \"leader\" is not primary or secondary");
	expect_problem(&pr, "SYNC_INTERVAL: \"5\" is not a duration");
	expect_problem(&pr, "SYNC_LISTEN: \"1412\" is not host:port");
	expect_problem(&pr, "SYNC_MAX_DELETE_PERCENT: \"150\"");
	expect_problem(&pr, "SYNC_ENABLED: \"perhaps\"");
	expect_problem(&pr, "DB_CONNECTION_STRING: points at PostgreSQL");
	expect_problem(&pr, "ENCRYPTION_KEY: must be at least 16 bytes");
	expect_problem(&pr, "SYNC_INTERVALL: unknown variable (from t:8)");
	expect_problem(&pr, "SYNC_MAX_PAYLOAD_SIZE");
	expect_problem(&pr, "SYNC_LOG_LEVEL");
	assert_int_equal(pr.count, 10);
	config_free(&cfg);
}

static void test_secondary_requirements(void **state)
{
	struct config cfg;
	struct config_problems pr;
	(void)state;
	assert_int_equal(load("SYNC_ROLE=secondary\nENCRYPTION_KEY=0123456789abcdef\n", NEED_ALL, &cfg, &pr), -1);
	expect_problem(&pr, "SYNC_PRIMARY_TOKEN: not set");
	assert_int_equal(pr.count, 1); /* the missing pin is the missing token's; no URL needed without one */
	config_free(&cfg);
	/* A token names a primary to poll: then the URL is required. */
	assert_int_equal(load("SYNC_ROLE=secondary\nENCRYPTION_KEY=0123456789abcdef\n"
			      "SYNC_PRIMARY_PUBKEY=AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n"
			      "SYNC_PRIMARY_TOKEN=AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n", NEED_ALL, &cfg, &pr), -1);
	expect_problem(&pr, "SYNC_PRIMARY_URL: not set");
	assert_int_equal(pr.count, 1);
	config_free(&cfg);
	/* The offline secondary: a pin, no URL, no token (run serves its key). */
	assert_int_equal(load("SYNC_ROLE=secondary\nENCRYPTION_KEY=0123456789abcdef\n"
			      "SYNC_PRIMARY_PUBKEY=AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n",
			      NEED_ALL & ~NEED_TOKEN, &cfg, &pr), 0);
	config_free(&cfg);
	/* A bare token (no key inside) needs SYNC_PRIMARY_PUBKEY. */
	assert_int_equal(load("SYNC_ROLE=secondary\nENCRYPTION_KEY=0123456789abcdef\nSYNC_PRIMARY_URL=http://h:1\n"
			      "SYNC_PRIMARY_TOKEN=AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n", NEED_ALL, &cfg, &pr), -1);
	expect_problem(&pr, "SYNC_PRIMARY_PUBKEY: the primary's public key is unknown");
	assert_int_equal(pr.count, 1);
	config_free(&cfg);
	/* `run` before enrolment: no token is fine, it only serves its key. */
	assert_int_equal(load("SYNC_ROLE=secondary\nENCRYPTION_KEY=0123456789abcdef\nSYNC_PRIMARY_URL=http://h:1\n",
			      NEED_ALL & ~NEED_TOKEN, &cfg, &pr), 0);
	assert_null(cfg.primary_token);
	config_free(&cfg);
}

/* The unit loads the token file as a credential on every node: empty means
 * "no token" (a primary, or a secondary not enrolled yet), not a bad token. */
static void test_empty_token_file_is_unset(void **state)
{
	char *dir = tu_mkdtemp(), *empty, *blank, text[1024];
	struct config cfg;
	struct config_problems pr;
	(void)state;
	empty = tu_write_file(dir, "empty", "", 0, 0600);
	blank = tu_write_file(dir, "blank", "\n", 1, 0600);
	snprintf(text, sizeof(text), "SYNC_ROLE=primary\nENCRYPTION_KEY=0123456789abcdef\n"
				     "SYNC_PRIMARY_TOKEN_FILE=%s\n", empty);
	assert_int_equal(load(text, NEED_ALL, &cfg, &pr), 0);
	assert_null(cfg.primary_token);
	config_free(&cfg);
	snprintf(text, sizeof(text), "SYNC_ROLE=secondary\nENCRYPTION_KEY=0123456789abcdef\n"
				     "SYNC_PRIMARY_URL=http://h:1\nSYNC_PRIMARY_TOKEN_FILE=%s\n", blank);
	assert_int_equal(load(text, NEED_ALL & ~NEED_TOKEN, &cfg, &pr), 0);
	assert_null(cfg.primary_token);
	config_free(&cfg);
	assert_int_equal(load(text, NEED_ALL, &cfg, &pr), -1);
	expect_problem(&pr, "SYNC_PRIMARY_TOKEN: not set");
	assert_int_equal(pr.count, 1);
	config_free(&cfg);
	free(empty);
	free(blank);
	tu_rmtree(dir);
}

static void test_bootstrap_token_pins_key(void **state)
{
	uint8_t pub[32];
	char secret[TOKEN_SECRET_B64_LEN + 1], boot[TOKEN_BOOTSTRAP_LEN + 1], text[512];
	struct config cfg;
	struct config_problems pr;
	(void)state;
	memset(pub, 7, sizeof(pub));
	assert_int_equal(token_generate(secret), 0);
	token_format_bootstrap(pub, secret, boot);
	snprintf(text, sizeof(text),
		 "SYNC_ROLE=secondary\nSYNC_PRIMARY_URL=http://127.0.0.1:1412\nSYNC_PRIMARY_TOKEN=%s\n"
		 "ENCRYPTION_KEY=0123456789abcdef\n", boot);
	assert_int_equal(load(text, NEED_ALL, &cfg, &pr), 0);
	assert_true(cfg.has_primary_pubkey);
	assert_memory_equal(cfg.primary_pubkey, pub, 32);
	assert_string_equal(cfg.primary_token, secret);
	config_free(&cfg);

	/* An explicit pin that disagrees with the token is a problem. */
	snprintf(text, sizeof(text),
		 "SYNC_ROLE=secondary\nSYNC_PRIMARY_URL=http://h:1\nSYNC_PRIMARY_TOKEN=%s\n"
		 "SYNC_PRIMARY_PUBKEY=CAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAg=\n"
		 "ENCRYPTION_KEY=0123456789abcdef\n", boot);
	assert_int_equal(load(text, NEED_ALL, &cfg, &pr), -1);
	expect_problem(&pr, "SYNC_PRIMARY_PUBKEY: differs from the key inside SYNC_PRIMARY_TOKEN");
	config_free(&cfg);
}

static void test_secret_files(void **state)
{
	char *dir = tu_mkdtemp(), *ok, *loose, text[1024];
	struct config cfg;
	struct config_problems pr;
	(void)state;
	ok = tu_write_file(dir, "key", "0123456789abcdefXYZ\n", 20, 0600);
	loose = tu_write_file(dir, "loose", "0123456789abcdefXYZ\n", 20, 0644);
	snprintf(text, sizeof(text), "SYNC_ROLE=primary\nENCRYPTION_KEY_FILE=%s\n", ok);
	assert_int_equal(load(text, NEED_ALL, &cfg, &pr), 0);
	/* Pocket ID does not trim ENCRYPTION_KEY_FILE: the newline is key material. */
	assert_int_equal(cfg.encryption_key_len, 20);
	assert_memory_equal(cfg.encryption_key, "0123456789abcdefXYZ\n", 20);
	config_free(&cfg);

	snprintf(text, sizeof(text), "SYNC_ROLE=primary\nENCRYPTION_KEY_FILE=%s\n", loose);
	assert_int_equal(load(text, NEED_ALL, &cfg, &pr), -1);
	expect_problem(&pr, "ENCRYPTION_KEY_FILE:");
	expect_problem(&pr, "is accessible by group or others (mode 0644); run: chmod 600");
	config_free(&cfg);

	/* systemd credentials may show group bits; they are private to the unit. */
	setenv("CREDENTIALS_DIRECTORY", dir, 1);
	snprintf(text, sizeof(text), "SYNC_ROLE=primary\nENCRYPTION_KEY_FILE=%s\n", loose);
	assert_int_equal(load(text, NEED_ALL, &cfg, &pr), 0);
	config_free(&cfg);
	unsetenv("CREDENTIALS_DIRECTORY");

	snprintf(text, sizeof(text), "SYNC_ROLE=primary\nENCRYPTION_KEY_FILE=%s\nENCRYPTION_KEY=0123456789abcdef\n", ok);
	assert_int_equal(load(text, NEED_ALL, &cfg, &pr), -1);
	expect_problem(&pr, "set either ENCRYPTION_KEY or ENCRYPTION_KEY_FILE, not both");
	config_free(&cfg);
	free(ok);
	free(loose);
	tu_rmtree(dir);
}

static void test_needs_limit_requirements(void **state)
{
	struct config cfg;
	struct config_problems pr;
	(void)state;
	/* pubkey needs only the state dir: no role or key required. */
	assert_int_equal(load("SYNC_STATE_DIR=/tmp/x\n", NEED_STATE, &cfg, &pr), 0);
	assert_string_equal(cfg.state_dir, "/tmp/x");
	config_free(&cfg);
	/* ... also in a secondary's env file before the primary's key is known:
	 * its pubkey is what the primary's `peer add` needs first. */
	assert_int_equal(load("SYNC_ROLE=secondary\nSYNC_STATE_DIR=/tmp/x\n", NEED_STATE, &cfg, &pr), 0);
	config_free(&cfg);
	assert_int_equal(load("SYNC_ROLE=secondary\nSYNC_STATE_DIR=/tmp/x\n", NEED_ALL & ~NEED_PIN, &cfg, &pr), -1);
	expect_problem(&pr, "SYNC_PRIMARY_TOKEN: not set");
	config_free(&cfg);
	assert_int_equal(load("", NEED_ALL, &cfg, &pr), -1);
	expect_problem(&pr, "SYNC_ROLE: not set");
	expect_problem(&pr, "ENCRYPTION_KEY: not set");
	config_free(&cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_bad_values_each_named),
		cmocka_unit_test(test_secondary_requirements),
		cmocka_unit_test(test_empty_token_file_is_unset),
		cmocka_unit_test(test_bootstrap_token_pins_key),
		cmocka_unit_test(test_secret_files),
		cmocka_unit_test(test_needs_limit_requirements),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
