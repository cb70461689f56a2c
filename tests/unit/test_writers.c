/* What Pocket ID nodes write behind the sidecar's back, on the fixture
 * releases: the LDAP switch and v1.x image types stay per node, bookkeeping
 * timestamps do not move the generation but travel with a real change,
 * CIMD clients ship their admin-edited columns and keep their metadata
 * columns, default profile pictures stay local, the restart triggers, and
 * the drift checks (callback URL capture, LDAP row). */
#include "apply.h"
#include "drift.h"
#include "export.h"
#include "fxpair.h"
#include "pidfix.h"
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void hash_of(sqlite3 *db, uint8_t out[32])
{
	struct jwt_store_cfg k = {(const uint8_t *)KEY_P, strlen(KEY_P), NULL, NULL};
	struct export_result er;
	char err[256];

	if (export_snapshot(db, &k, NULL, &er, err, sizeof(err)) != 0)
		fail_msg("export: %s", err);
	memcpy(out, er.content_hash, 32);
}

static bool has_column(sqlite3 *db, const char *table, const char *column)
{
	char sql[256];
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM pragma_table_info('%s') WHERE name = '%s'",
		 table, column);
	return fx_count(db, sql) > 0;
}

static void test_ldap_and_image_type_rows_local(void **state)
{
	(void)state;
	for (size_t i = 0; fx_versions[i] != NULL; i++) {
		struct pair x = pair_new(fx_versions[i], false);
		struct apply_result r;
		uint8_t h1[32], h2[32];
		if (fx_count(x.p, "SELECT count(*) FROM sqlite_schema WHERE name = 'app_config_variables'") == 0) {
			pair_free(&x);
			continue;
		}
		fx_row(x.p, "app_config_variables", "key", "t:ldapEnabled", "value", "t:true", NULL);
		fx_row(x.p, "app_config_variables", "key", "t:backgroundImageType", "value", "t:png", NULL);
		fx_row(x.p, "app_config_variables", "key", "t:accentColor", "value", "t:#123456", NULL);
		fx_row(x.s, "app_config_variables", "key", "t:ldapEnabled", "value", "t:false", NULL);
		fx_row(x.s, "app_config_variables", "key", "t:backgroundImageType", "value", "t:jpg", NULL);
		sync_ok(&x, &r);
		assert_int_equal(fx_count(x.s, "SELECT count(*) FROM app_config_variables WHERE "
					       "key = 'ldapEnabled' AND value = 'false'"), 1);
		assert_int_equal(fx_count(x.s, "SELECT count(*) FROM app_config_variables WHERE "
					       "key = 'backgroundImageType' AND value = 'jpg'"), 1);
		assert_int_equal(fx_count(x.s, "SELECT count(*) FROM app_config_variables WHERE "
					       "key = 'accentColor' AND value = '#123456'"), 1);
		/* Switching LDAP on the primary is no change for the secondaries. */
		hash_of(x.p, h1);
		fx_exec(x.p, "UPDATE app_config_variables SET value = 'false' WHERE key = 'ldapEnabled'");
		hash_of(x.p, h2);
		assert_memory_equal(h1, h2, 32);
		pair_free(&x);
	}
}

/* With the configuration going through Pocket ID's API (app_config_via_api),
 * the apply leaves app_config_variables to Pocket ID: no row copied, no
 * restart for it; without, the row is copied and restarts Pocket ID. */
static void test_app_config_via_api_leaves_rows(void **state)
{
	(void)state;
	for (size_t i = 0; fx_versions[i] != NULL; i++) {
		struct pair x = pair_new(fx_versions[i], false);
		struct apply_opts o = {.max_delete_percent = 100};
		struct apply_result r;
		char err[256];
		if (fx_count(x.p, "SELECT count(*) FROM sqlite_schema WHERE name = 'app_config_variables'") == 0) {
			pair_free(&x);
			continue;
		}
		sync_ok(&x, &r); /* the first sync (JWT key and all) */
		fx_row(x.p, "app_config_variables", "key", "t:accentColor", "value", "t:#abcdef", NULL);
		o.app_config_via_api = true;
		assert_int_equal(sync_opts(&x, &o, &r, err), APPLY_OK);
		assert_int_equal(fx_count(x.s, "SELECT count(*) FROM app_config_variables WHERE "
					       "key = 'accentColor' AND value = '#abcdef'"), 0);
		assert_false(r.restart_needed);
		o.app_config_via_api = false;
		assert_int_equal(sync_opts(&x, &o, &r, err), APPLY_OK);
		assert_int_equal(fx_count(x.s, "SELECT count(*) FROM app_config_variables WHERE "
					       "key = 'accentColor' AND value = '#abcdef'"), 1);
		assert_true(r.restart_needed);
		pair_free(&x);
	}
}

static void test_bookkeeping_columns(void **state)
{
	(void)state;
	for (size_t i = 0; fx_versions[i] != NULL; i++) {
		struct pair x = pair_new(fx_versions[i], false);
		struct apply_result r;
		uint8_t h1[32], h2[32];
		if (!has_column(x.p, "users", "updated_at")) {
			pair_free(&x);
			continue;
		}
		fx_exec(x.p, "UPDATE users SET updated_at = '2026-01-01 00:00:00+00:00'");
		fx_row(x.p, "storage", "path", "t:profile-pictures/u-alice.png", "data", "b:AQI=",
		       "size", "i:2", "mod_time", "t:2026-01-01 00:00:00+00:00", NULL);
		sync_ok(&x, &r);
		/* An LDAP run: every user, group and picture touched, nothing changed. */
		hash_of(x.p, h1);
		fx_exec(x.p, "UPDATE users SET updated_at = '2026-01-01 01:00:00+00:00'");
		fx_exec(x.p, "UPDATE user_groups SET updated_at = '2026-01-01 01:00:00+00:00'");
		fx_exec(x.p, "UPDATE storage SET mod_time = '2026-01-01 01:00:00+00:00'");
		hash_of(x.p, h2);
		assert_memory_equal(h1, h2, 32);
		sync_ok(&x, &r);
		assert_int_equal(apply_total_changes(&r), 0);
		/* A real change ships its timestamp along. */
		fx_exec(x.p, "UPDATE users SET first_name = 'Alicia', updated_at = "
			     "'2026-02-02 00:00:00+00:00' WHERE id = 'u-alice'");
		hash_of(x.p, h2);
		assert_memory_not_equal(h1, h2, 32);
		sync_ok(&x, &r);
		assert_int_equal(count_of(&r, "users", 'u'), 1);
		assert_int_equal(fx_count(x.s, "SELECT count(*) FROM users WHERE id = 'u-alice' AND "
					       "updated_at = '2026-02-02 00:00:00+00:00'"), 1);
		assert_int_equal(fx_count(x.s, "SELECT count(*) FROM users WHERE id = 'u-bob' AND "
					       "updated_at = '2026-01-01 00:00:00+00:00'"), 1);
		pair_free(&x);
	}
}

static void test_default_pictures_local(void **state)
{
	(void)state;
	for (size_t i = 1; fx_versions[i] != NULL; i++) { /* storage: v2.0+ */
		struct pair x = pair_new(fx_versions[i], false);
		struct apply_result r;
		uint8_t h1[32], h2[32];
		fx_row(x.s, "storage", "path", "t:profile-pictures/defaults/AB.png", "data", "b:AQI=",
		       "size", "i:2", NULL);
		hash_of(x.p, h1);
		fx_row(x.p, "storage", "path", "t:profile-pictures/defaults/CD.png", "data", "b:AwQ=",
		       "size", "i:2", NULL);
		hash_of(x.p, h2);
		assert_memory_equal(h1, h2, 32);
		sync_ok(&x, &r);
		assert_int_equal(fx_count(x.s, "SELECT count(*) FROM storage WHERE path = "
					       "'profile-pictures/defaults/AB.png'"), 1);
		assert_int_equal(fx_count(x.s, "SELECT count(*) FROM storage WHERE path = "
					       "'profile-pictures/defaults/CD.png'"), 0);
		assert_same_durable(&x);
		pair_free(&x);
	}
}

#define CIMD_A "t:https://a.example/client.json"
#define CIMD_S "t:https://s.example/client.json"

static void test_cimd_clients(void **state)
{
	struct pair x = pair_new("v2.14", false);
	struct apply_result r;
	uint8_t h1[32], h2[32];
	(void)state;
	/* Both nodes resolved the document; the primary's admin restricted it. */
	fx_row(x.p, "oidc_clients", "id", CIMD_A, "name", "t:Doc name (primary fetch)", "client_type",
	       "t:cimd", "callback_urls", "b:WyJodHRwczovL2EvMSJd", "is_group_restricted", "i:1",
	       "description", "t:Finance tool", "access_token_duration_minutes", "i:15",
	       "metadata_expires_at", "t:2026-01-01 00:00:00+00:00", NULL);
	fx_row(x.p, "oidc_clients_allowed_user_groups", "oidc_client_id", CIMD_A, "user_group_id",
	       "t:g-admins", NULL);
	fx_row(x.s, "oidc_clients", "id", CIMD_A, "name", "t:Doc name (secondary fetch)", "client_type",
	       "t:cimd", "callback_urls", "b:WyJodHRwczovL2EvMiJd",
	       "metadata_expires_at", "t:2026-01-01 00:05:00+00:00", NULL);
	/* One only the secondary has, with a local group restriction. */
	fx_row(x.s, "user_groups", "id", "t:g-staff", "name", "t:staff", "friendly_name", "t:Staff", NULL);
	fx_row(x.s, "oidc_clients", "id", CIMD_S, "name", "t:Local", "client_type", "t:cimd", NULL);
	fx_row(x.s, "oidc_clients_allowed_user_groups", "oidc_client_id", CIMD_S, "user_group_id",
	       "t:g-staff", NULL);
	sync_ok(&x, &r);
	assert_int_equal(fx_count(x.s, "SELECT count(*) FROM oidc_clients WHERE id = "
				       "'https://a.example/client.json' AND is_group_restricted = 1 AND "
				       "description = 'Finance tool' AND access_token_duration_minutes = 15 "
				       "AND name = 'Doc name (secondary fetch)' AND "
				       "metadata_expires_at = '2026-01-01 00:05:00+00:00'"), 1);
	assert_int_equal(fx_count(x.s, "SELECT count(*) FROM oidc_clients_allowed_user_groups WHERE "
				       "oidc_client_id = 'https://a.example/client.json'"), 1);
	assert_int_equal(fx_count(x.s, "SELECT count(*) FROM oidc_clients_allowed_user_groups WHERE "
				       "oidc_client_id = 'https://s.example/client.json'"), 1);
	assert_int_equal(fx_count(x.s, "SELECT count(*) FROM oidc_clients WHERE id = "
				       "'https://s.example/client.json'"), 1);
	/* A metadata refresh on the primary moves nothing. */
	hash_of(x.p, h1);
	fx_exec(x.p, "UPDATE oidc_clients SET metadata_expires_at = '2026-01-02 00:00:00+00:00', "
		     "name = 'Renamed doc' WHERE client_type = 'cimd'");
	hash_of(x.p, h2);
	assert_memory_equal(h1, h2, 32);
	/* Lifting the restriction on the primary reaches the secondary. */
	fx_exec(x.p, "UPDATE oidc_clients SET is_group_restricted = 0 WHERE client_type = 'cimd'");
	fx_exec(x.p, "DELETE FROM oidc_clients_allowed_user_groups WHERE oidc_client_id = "
		     "'https://a.example/client.json'");
	sync_ok(&x, &r);
	assert_int_equal(fx_count(x.s, "SELECT count(*) FROM oidc_clients_allowed_user_groups WHERE "
				       "oidc_client_id = 'https://a.example/client.json'"), 0);
	assert_int_equal(fx_count(x.s, "SELECT count(*) FROM oidc_clients_allowed_user_groups WHERE "
				       "oidc_client_id = 'https://s.example/client.json'"), 1);
	assert_int_equal(fx_count(x.s, "SELECT count(*) FROM oidc_clients WHERE name = 'Renamed doc'"), 0);
	pair_free(&x);
}

/* Only the primary has the CIMD client: the secondary gets all of it. */
static void test_cimd_client_inserted(void **state)
{
	struct pair x = pair_new("v2.14", false);
	struct apply_result r;
	(void)state;
	fx_row(x.p, "oidc_clients", "id", CIMD_A, "name", "t:Doc", "client_type", "t:cimd",
	       "skip_consent", "i:1", NULL);
	sync_ok(&x, &r);
	assert_int_equal(fx_count(x.s, "SELECT count(*) FROM oidc_clients WHERE name = 'Doc' AND "
				       "skip_consent = 1 AND client_type = 'cimd'"), 1);
	assert_same_durable(&x);
	pair_free(&x);
}

static void apply_with(struct pair *x, bool from_env, struct apply_result *r)
{
	struct apply_opts o = {.max_delete_percent = 100, .app_config_from_env = from_env};
	char err[256];
	if (sync_opts(x, &o, r, err) != APPLY_OK)
		fail_msg("%s: apply: %s", x->version, err);
}

static void test_restart_triggers(void **state)
{
	struct pair x = pair_new("v2.11", false);
	struct apply_result r;
	(void)state;
	sync_ok(&x, &r); /* the JWT key: a restart */
	assert_string_equal(r.restart_why, "jwt_key");
	fx_row(x.p, "app_config_variables", "key", "t:accentColor", "value", "t:#111111", NULL);
	apply_with(&x, false, &r);
	assert_true(r.restart_needed);
	assert_string_equal(r.restart_why, "app_config");
	/* UI_CONFIG_DISABLED=true: Pocket ID reads its configuration from env. */
	fx_exec(x.p, "UPDATE app_config_variables SET value = '#222222' WHERE key = 'accentColor'");
	apply_with(&x, true, &r);
	assert_int_equal(count_of(&r, "app_config_variables", 'u'), 1);
	assert_false(r.restart_needed);
	/* Application images: Pocket ID maps their extensions at start. */
	fx_row(x.p, "storage", "path", "t:application-images/logoLight.png", "data", "b:AQI=", "size", "i:2", NULL);
	apply_with(&x, true, &r);
	assert_true(r.restart_needed);
	assert_string_equal(r.restart_why, "app_images");
	fx_exec(x.p, "DELETE FROM storage WHERE path = 'application-images/logoLight.png'");
	apply_with(&x, true, &r);
	assert_string_equal(r.restart_why, "app_images");
	/* Other pictures are read per request. */
	fx_row(x.p, "storage", "path", "t:profile-pictures/u-bob.png", "data", "b:AQI=", "size", "i:2", NULL);
	apply_with(&x, true, &r);
	assert_int_equal(count_of(&r, "storage", 'i'), 1);
	assert_false(r.restart_needed);
	pair_free(&x);
}

static void test_drift_checks(void **state)
{
	(void)state;
	for (size_t i = 0; fx_versions[i] != NULL; i++) {
		sqlite3 *db;
		char *dir = tu_mkdtemp();
		size_t n = 99;
		bool on = true;
		/* Captures only before v2.10 (no oauth2_sessions table). */
		bool captures = strcmp(fx_versions[i], "v1.9") == 0 || strcmp(fx_versions[i], "v2.0") == 0;
		db = fx_create(dir, "pi.db", fx_versions[i], "33333333-cccc", KEY_P, NULL);
		fx_seed(db); /* client-1 has a callback URL */
		fx_row(db, "oidc_clients", "id", "t:no-urls", "name", "t:A", NULL);
		fx_row(db, "oidc_clients", "id", "t:empty-list", "name", "t:B", "callback_urls", "b:W10=", NULL);
		assert_int_equal(drift_callback_capture_clients(db, &n), 0);
		assert_int_equal(n, captures ? 2 : 0);
		assert_int_equal(drift_ldap_row_enabled(db, &on), 0);
		assert_false(on);
		if (fx_count(db, "SELECT count(*) FROM sqlite_schema WHERE name = 'app_config_variables'") > 0) {
			fx_row(db, "app_config_variables", "key", "t:ldapEnabled", "value", "t:true", NULL);
			assert_int_equal(drift_ldap_row_enabled(db, &on), 0);
			assert_true(on);
		}
		sqlite3_close(db);
		tu_rmtree(dir);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ldap_and_image_type_rows_local),
		cmocka_unit_test(test_app_config_via_api_leaves_rows),
		cmocka_unit_test(test_bookkeeping_columns),
		cmocka_unit_test(test_default_pictures_local),
		cmocka_unit_test(test_cimd_clients),
		cmocka_unit_test(test_cimd_client_inserted),
		cmocka_unit_test(test_restart_triggers),
		cmocka_unit_test(test_drift_checks),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
