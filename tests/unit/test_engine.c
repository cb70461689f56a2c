/* Engine scenarios (export + apply) on every fixture release: initial sync,
 * renames and swaps under UNIQUE, deletes cascading only the deleted user's
 * local rows, per-node columns, JWT re-wrap, schema guard, the valve,
 * applies racing a concurrent writer, and golden content hashes. */
#include "apply.h"
#include "jwk.h"
#include "export.h"
#include "payload.h"
#include "pidb.h"
#include "fxpair.h"
#include "pidfix.h"
#include "testutil.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void test_initial_sync_and_idempotence(void **state)
{
	(void)state;
	for (const char *const *v = fx_versions; *v; v++) {
		struct pair x = pair_new(*v, false);
		struct apply_result r;
		char *id_before = fx_instance_id(x.s), *id_after, *jwk;
		fx_row(x.s, "webauthn_sessions", "id", "t:s-session", "challenge", "t:abc", NULL);
		sync_ok(&x, &r);
		assert_true(r.wrote);
		assert_true(r.jwt_changed);
		assert_true(r.restart_needed);
		assert_int_equal(count_of(&r, "users", 'i'), 3);
		assert_int_equal(count_of(&r, "webauthn_credentials", 'i'), 3);
		assert_same_durable(&x);
		/* The instance id stays this node's own. */
		id_after = fx_instance_id(x.s);
		assert_string_equal(id_before, id_after);
		/* The JWT key is the primary's, wrapped with the secondary's KEK. */
		jwk = fx_jwk(x.s, KEY_S);
		assert_non_null(jwk);
		assert_true(jwk_same(jwk, FX_JWK_A));
		/* Local runtime rows untouched. */
		assert_int_equal(fx_count(x.s, "SELECT count(*) FROM webauthn_sessions"), 1);
		/* Applying the same payload again writes nothing. */
		sync_ok(&x, &r);
		assert_false(r.wrote);
		assert_false(r.jwt_changed);
		assert_int_equal(apply_total_changes(&r), 0);
		free(id_before);
		free(id_after);
		free(jwk);
		pair_free(&x);
	}
}

/* Applies p on the secondary and expects it refused with status want, a
 * message containing needle, and the secondary's durable data unchanged. */
static void expect_refused(struct pair *x, const struct payload *p, const struct apply_opts *o,
			   enum apply_status want, const char *needle)
{
	struct apply_result r;
	char err[256] = "", *before = fx_dump_durable(x->s), *after;
	enum apply_status st = apply_payload(x->sdb, p, o, &r, err, sizeof(err));

	if (st != want || strstr(err, needle) == NULL)
		fail_msg("%s: status %d (want %d): %s", x->version, st, want, err);
	after = fx_dump_durable(x->s);
	assert_string_equal(before, after);
	free(before);
	free(after);
}

/* before_cached_write sees the database unchanged (so the caller can record
 * a restart before anything commits), and a hook that fails aborts the
 * apply with nothing written; an apply that changes nothing cached never
 * calls it. */
struct hook_probe {
	sqlite3 *db;
	int calls, users_seen, result;
};

static int probe_hook(void *arg)
{
	struct hook_probe *h = arg;
	h->calls++;
	h->users_seen = fx_count(h->db, "SELECT count(*) FROM users");
	return h->result;
}

static void test_restart_hook_before_writes(void **state)
{
	struct pair x = pair_new("v2.14", false);
	struct hook_probe h = {x.s, 0, -1, -1};
	struct apply_opts o = {.max_delete_percent = 100, .before_cached_write = probe_hook, .hook_arg = &h};
	struct apply_result r;
	char err[256];

	(void)state;
	assert_int_equal(sync_opts(&x, &o, &r, err), APPLY_ERR_DB);
	assert_non_null(strstr(err, "nothing was changed"));
	assert_int_equal(h.calls, 1);
	assert_false(r.wrote);
	assert_int_equal(fx_count(x.s, "SELECT count(*) FROM users"), 0);
	h.result = 0;
	assert_int_equal(sync_opts(&x, &o, &r, err), APPLY_OK);
	assert_int_equal(h.calls, 2);
	assert_int_equal(h.users_seen, 0); /* called before the rows were written */
	assert_true(r.wrote && r.restart_needed);
	assert_int_equal(sync_opts(&x, &o, &r, err), APPLY_OK);
	assert_int_equal(h.calls, 2); /* nothing changed: no call */
	pair_free(&x);
}

/* A secondary whose ENCRYPTION_KEY is not the one its Pocket ID uses cannot
 * read its own JWT key: replacing it would leave Pocket ID a key it cannot
 * decrypt, so the apply is refused and nothing is written. */
static void test_wrong_encryption_key_refused(void **state)
{
	(void)state;
	for (const char *const *v = fx_versions; *v; v++) {
		struct pair x = pair_new(*v, false);
		struct apply_opts o = {.max_delete_percent = 100};
		struct payload p;
		char *jwk;

		make_payload(x.p, KEY_P, &p);
		o.keys = (struct jwt_store_cfg){(const uint8_t *)"not-the-key-pocket-id-uses", 26, NULL, NULL};
		expect_refused(&x, &p, &o, APPLY_ERR_KEY, "ENCRYPTION_KEY");
		jwk = fx_jwk(x.s, KEY_S);
		assert_non_null(jwk);
		assert_true(jwk_same(jwk, FX_JWK_B));
		payload_free(&p);
		free(jwk);
		pair_free(&x);
	}
}

/* The JWT key is stored wrapped with this node's instance id: before Pocket ID
 * first ran here there is none, and the apply is refused before anything is
 * written, whether the key would go to kv or to an encrypted key file. */
static void test_no_instance_id_refused(void **state)
{
	(void)state;
	for (const char *const *v = fx_versions; *v; v++) {
		for (int in_file = 0; in_file <= 1; in_file++) {
			struct pair x = pair_new(*v, false);
			struct apply_opts o = {.max_delete_percent = 100};
			struct payload p;
			char keys[1024];

			snprintf(keys, sizeof(keys), "%s/keys", x.dir);
			assert_int_equal(mkdir(keys, 0700), 0);
			if (fx_count(x.s, "SELECT count(*) FROM sqlite_master WHERE name = 'app_config_variables'") == 1)
				fx_exec(x.s, "DELETE FROM app_config_variables WHERE key = 'instanceId'");
			if (fx_count(x.s, "SELECT count(*) FROM sqlite_master WHERE name = 'kv'") == 1)
				fx_exec(x.s, in_file ? "DELETE FROM kv" : "DELETE FROM kv WHERE key = 'instance_id'");
			make_payload(x.p, KEY_P, &p);
			o.keys = (struct jwt_store_cfg){(const uint8_t *)KEY_S, strlen(KEY_S),
							in_file ? "file" : NULL, keys};
			expect_refused(&x, &p, &o, APPLY_ERR_KEY, "no instance id");
			payload_free(&p);
			pair_free(&x);
		}
	}
}

static struct pl_table *table_named(struct payload *p, const char *name)
{
	for (size_t i = 0; i < p->ntables; i++) {
		if (strcmp(p->tables[i].name, name) == 0)
			return &p->tables[i];
	}
	fail_msg("payload has no table %s", name);
	return NULL;
}

/* Names are matched to the local schema byte for byte: a table or column
 * whose name differs only in case is refused, not folded onto the local one. */
static void test_names_matched_exactly(void **state)
{
	(void)state;
	for (const char *const *v = fx_versions; *v; v++) {
		for (int column = 0; column <= 1; column++) {
			struct pair x = pair_new(*v, false);
			struct apply_opts o = {.max_delete_percent = 100, .keys = {(const uint8_t *)KEY_S, strlen(KEY_S), NULL, NULL}};
			struct payload p;
			struct pl_table *t;
			char **name;

			make_payload(x.p, KEY_P, &p);
			t = table_named(&p, "users");
			name = column ? &t->cols[1] : &t->name;
			for (char *c = *name; *c != '\0'; c++)
				*c = (char)(*c >= 'a' && *c <= 'z' ? *c - 32 : *c);
			expect_refused(&x, &p, &o, APPLY_ERR_SCHEMA,
				       column ? "is missing from the payload" : "USERS");
			payload_free(&p);
			pair_free(&x);
		}
	}
}

/* A table the payload leaves out keeps its rows on the secondary. */
static void test_table_left_out_kept(void **state)
{
	(void)state;
	for (const char *const *v = fx_versions; *v; v++) {
		struct pair x = pair_new(*v, true);
		struct apply_opts o = {.max_delete_percent = 100, .keys = {(const uint8_t *)KEY_S, strlen(KEY_S), NULL, NULL}};
		struct apply_result r;
		struct payload p;
		struct pl_table *t, keep;
		char err[256] = "";

		fx_exec(x.s, "UPDATE user_groups SET friendly_name = 'Local'");
		fx_exec(x.p, "UPDATE users SET first_name = 'Changed'");
		make_payload(x.p, KEY_P, &p);
		/* Moved past the end for the apply, back before payload_free. */
		t = table_named(&p, "user_groups");
		keep = *t;
		*t = p.tables[p.ntables - 1];
		p.tables[--p.ntables] = keep;
		if (apply_payload(x.sdb, &p, &o, &r, err, sizeof(err)) != APPLY_OK)
			fail_msg("%s: apply: %s", *v, err);
		p.ntables++;
		assert_int_equal(fx_count(x.s, "SELECT count(*) FROM users WHERE first_name = 'Changed'"), 3);
		assert_int_equal(fx_count(x.s, "SELECT count(*) FROM user_groups WHERE friendly_name = 'Local'"), 2);
		payload_free(&p);
		pair_free(&x);
	}
}

static void test_rename_and_swaps(void **state)
{
	(void)state;
	for (const char *const *v = fx_versions; *v; v++) {
		struct pair x = pair_new(*v, false);
		struct apply_result r;
		sync_ok(&x, &r);
		fx_seed_local(x.s, "s");
		long audits = fx_count(x.s, "SELECT count(*) FROM audit_logs");
		/* Swap usernames and emails of alice and bob; rename carol; move a
		 * credential id from alice's passkey to bob's. */
		fx_exec(x.p, "UPDATE users SET username='tmp', email='tmp@x' WHERE id='u-alice';"
			     "UPDATE users SET username='alice', email='alice@example.com' WHERE id='u-bob';"
			     "UPDATE users SET username='bob', email='bob@example.com' WHERE id='u-alice';"
			     "UPDATE users SET first_name='Caroline' WHERE id='u-carol';"
			     "UPDATE user_groups SET name='tmpg' WHERE id='g-admins';"
			     "UPDATE user_groups SET name='admins' WHERE id='g-staff';"
			     "UPDATE user_groups SET name='staff' WHERE id='g-admins';");
		fx_exec(x.p, "UPDATE webauthn_credentials SET credential_id=(SELECT credential_id FROM webauthn_credentials WHERE id='c-alice-2') || '' WHERE 0;");
		fx_exec(x.p, "CREATE TEMP TABLE t AS SELECT credential_id AS c FROM webauthn_credentials WHERE id='c-alice-2';"
			     "DELETE FROM webauthn_credentials WHERE id='c-alice-2';"
			     "UPDATE webauthn_credentials SET credential_id=(SELECT c FROM t) WHERE id='c-bob-1';");
		sync_ok(&x, &r);
		assert_same_durable(&x);
		assert_int_equal(count_of(&r, "users", 'u'), 3);
		assert_int_equal(count_of(&r, "users", 'i') + count_of(&r, "users", 'd'), 0);
		assert_int_equal(count_of(&r, "webauthn_credentials", 'u'), 1);
		assert_int_equal(count_of(&r, "webauthn_credentials", 'd'), 1);
		/* Updated in place: no local rows were cascaded away. */
		assert_int_equal(fx_count(x.s, "SELECT count(*) FROM audit_logs"), audits);
		pair_free(&x);
	}
}

static void test_delete_user_cascades_only_theirs(void **state)
{
	(void)state;
	for (const char *const *v = fx_versions; *v; v++) {
		struct pair x = pair_new(*v, false);
		struct apply_result r;
		sync_ok(&x, &r);
		fx_seed_local(x.s, "s");
		fx_exec(x.p, "DELETE FROM users WHERE id='u-alice'");
		sync_ok(&x, &r);
		assert_same_durable(&x);
		assert_int_equal(count_of(&r, "users", 'd'), 1);
		assert_int_equal(fx_count(x.s, "SELECT count(*) FROM audit_logs WHERE user_id='u-alice'"), 0);
		assert_int_equal(fx_count(x.s, "SELECT count(*) FROM audit_logs WHERE user_id<>'u-alice'"), 4);
		assert_int_equal(fx_count(x.s, "SELECT count(*) FROM webauthn_credentials"), 1);
		pair_free(&x);
	}
}

static void test_passkeys_groups_clients(void **state)
{
	(void)state;
	for (const char *const *v = fx_versions; *v; v++) {
		struct pair x = pair_new(*v, false);
		struct apply_result r;
		bool v2 = strcmp(*v, "v1.9") != 0;
		sync_ok(&x, &r);
		fx_row(x.p, "webauthn_credentials", "id", "t:c-carol-1", "name", "t:Key", "user_id", "t:u-carol",
		       "credential_id", v2 ? "b:DQ4PEA==" : "t:cred-carol-1", "public_key", "b:AQ==",
		       "attestation_type", "t:none", NULL);
		fx_exec(x.p, "DELETE FROM user_groups_users WHERE user_id='u-bob';"
			     "INSERT INTO user_groups_users(user_id,user_group_id) VALUES('u-carol','g-staff');"
			     "DELETE FROM oidc_clients_allowed_user_groups;"
			     "INSERT INTO oidc_clients_allowed_user_groups(oidc_client_id,user_group_id) VALUES('client-1','g-admins');");
		sync_ok(&x, &r);
		assert_same_durable(&x);
		assert_int_equal(count_of(&r, "webauthn_credentials", 'i'), 1);
		assert_int_equal(count_of(&r, "user_groups_users", 'i'), 1);
		assert_int_equal(count_of(&r, "user_groups_users", 'd'), 1);
		assert_int_equal(count_of(&r, "oidc_clients_allowed_user_groups", 'i'), 1);
		assert_int_equal(count_of(&r, "oidc_clients_allowed_user_groups", 'd'), 1);
		assert_false(r.restart_needed);
		pair_free(&x);
	}
}

static void test_api_key_per_node_columns(void **state)
{
	(void)state;
	for (const char *const *v = fx_versions; *v; v++) {
		struct pair x = pair_new(*v, false);
		struct apply_result r;
		sync_ok(&x, &r);
		fx_exec(x.s, "UPDATE api_keys SET last_used_at=1800000000");
		fx_exec(x.p, "UPDATE api_keys SET last_used_at=1700000500, name='ci-renamed'");
		sync_ok(&x, &r);
		assert_int_equal(count_of(&r, "api_keys", 'u'), 1);
		assert_int_equal(fx_count(x.s, "SELECT last_used_at FROM api_keys"), 1800000000);
		assert_int_equal(fx_count(x.s, "SELECT count(*) FROM api_keys WHERE name='ci-renamed'"), 1);
		/* Only a per-node column changed: nothing to do. */
		fx_exec(x.p, "UPDATE api_keys SET last_used_at=1700000999");
		sync_ok(&x, &r);
		assert_false(r.wrote);
		pair_free(&x);
	}
}

static void test_schema_mismatch_refused(void **state)
{
	struct pair x = pair_new("v2.14", true);
	struct apply_result r;
	struct apply_opts o = {.max_delete_percent = 50};
	char err[256], *before = fx_dump_durable(x.s), *after;
	(void)state;
	fx_exec(x.s, "UPDATE schema_migrations SET version=20260807120000");
	assert_int_equal(sync_opts(&x, &o, &r, err), APPLY_ERR_SCHEMA);
	assert_non_null(strstr(err, "this node 20260807120000, primary 20260814120000"));
	assert_non_null(strstr(err, "upgrade Pocket ID on both nodes to the same release"));
	fx_exec(x.s, "UPDATE schema_migrations SET version=20260814120000, dirty=1");
	assert_int_equal(sync_opts(&x, &o, &r, err), APPLY_ERR_DB);
	assert_non_null(strstr(err, "dirty"));
	fx_exec(x.s, "UPDATE schema_migrations SET version=20260807120000, dirty=0");
	after = fx_dump_durable(x.s);
	assert_string_equal(before, after);
	free(before);
	free(after);
	pair_free(&x);
}

static void test_valve_and_force(void **state)
{
	struct pair x = pair_new("v2.14", false);
	struct apply_result r;
	struct apply_opts o = {.max_delete_percent = 50};
	char err[256];
	(void)state;
	sync_ok(&x, &r);
	fx_exec(x.p, "DELETE FROM users WHERE id IN ('u-alice','u-bob')");
	assert_int_equal(sync_opts(&x, &o, &r, err), APPLY_ERR_VALVE);
	assert_non_null(strstr(err, "refusing to delete 2 of 3 users"));
	assert_int_equal(fx_count(x.s, "SELECT count(*) FROM users"), 3);
	o.dry_run = true;
	o.force = true;
	assert_int_equal(sync_opts(&x, &o, &r, err), APPLY_OK);
	assert_int_equal(count_of(&r, "users", 'd'), 2);
	assert_int_equal(fx_count(x.s, "SELECT count(*) FROM users"), 3); /* dry run */
	o.dry_run = false;
	assert_int_equal(sync_opts(&x, &o, &r, err), APPLY_OK);
	assert_int_equal(fx_count(x.s, "SELECT count(*) FROM users"), 1);
	assert_same_durable(&x);
	pair_free(&x);
}

struct writer {
	char path[1024];
	volatile int stop;
	long writes, failures;
};

static void *writer_main(void *arg)
{
	struct writer *w = arg;
	sqlite3 *db;
	char sql[256];
	sqlite3_open(w->path, &db);
	sqlite3_busy_timeout(db, 2500); /* what Pocket ID allows itself */
	while (!w->stop) {
		snprintf(sql, sizeof(sql),
			 "INSERT INTO audit_logs(id,created_at,event,user_agent,data,user_id) VALUES('w-%ld',0,'SIGN_IN','t','{}','u-carol')",
			 w->writes);
		if (sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK)
			w->writes++;
		else
			w->failures++;
		/* A busy login rate (about a thousand writes a second), not a
		 * tight loop that would starve every other SQLite writer. */
		usleep(1000);
	}
	sqlite3_close(db);
	return NULL;
}

static void test_concurrent_local_writer(void **state)
{
	struct pair x = pair_new("v2.14", false);
	struct apply_result r;
	struct writer w = {0};
	pthread_t th;
	(void)state;
	sync_ok(&x, &r);
	snprintf(w.path, sizeof(w.path), "%s/secondary.db", x.dir);
	assert_int_equal(pthread_create(&th, NULL, writer_main, &w), 0);
	for (int i = 0; i < 20; i++) {
		char sql[128];
		snprintf(sql, sizeof(sql), "UPDATE users SET first_name='Bob %d' WHERE id='u-bob'", i);
		fx_exec(x.p, sql);
		sync_ok(&x, &r);
		assert_int_equal(count_of(&r, "users", 'u'), 1);
	}
	w.stop = 1;
	pthread_join(th, NULL);
	assert_int_equal(w.failures, 0);
	assert_true(w.writes > 0);
	assert_same_durable(&x);
	assert_int_equal(fx_count(x.s, "SELECT count(*) FROM audit_logs"), w.writes);
	pair_free(&x);
}

/* The content hash decides when the generation moves, so it must not change
 * with the code that computes it: golden values per fixture release, with a
 * cell larger than export's hash buffer, with and without a payload. */
static void test_content_hash_stable(void **state)
{
	static const char *const want[] = {"9ad1430e6fadc8dd36f18c9c713ef4a2330a0b48983b77c034257d36d129fafa",
					   "1f97fcb9e310ce1d5cd4aba0cc9e5df41e3462a486e84de74a16f58ebadf9978",
					   "8ee90c6f0313131a058616063153b2ff8a774db32242922addfd8276ed23c8b8",
					   "cd4a1539e35cfb3a5123a99857d36e68bf28fa8b2dd6663e2b99da5bfd0aaf8c",
					   "65cb6091db82af301ce37937b05ce8812860c523bf9b90fab4a61ec5f6497a1e"};
	struct jwt_store_cfg k = {(const uint8_t *)KEY_P, strlen(KEY_P), NULL, NULL};
	char got[1024] = "";
	bool wrong = false;
	(void)state;
	for (size_t i = 0; fx_versions[i] != NULL; i++) {
		struct pair x = pair_new(fx_versions[i], false);
		struct export_result er;
		char err[256], hex[65];
		fx_exec(x.p, "UPDATE users SET first_name = hex(zeroblob(10000)) WHERE id = 'u-alice'");
		struct export_result er2;
		struct payload p;
		if (export_snapshot(x.p, &k, NULL, &er, err, sizeof(err)) != 0 ||
		    export_snapshot(x.p, &k, &p, &er2, err, sizeof(err)) != 0)
			fail_msg("export: %s", err);
		/* Hashing alone and hashing while building a payload agree. */
		assert_memory_equal(er.content_hash, er2.content_hash, 32);
		payload_free(&p);
		for (int b = 0; b < 32; b++)
			snprintf(hex + 2 * b, 3, "%02x", er.content_hash[b]);
		if (i >= sizeof(want) / sizeof(want[0]) || strcmp(hex, want[i]) != 0) {
			snprintf(got + strlen(got), sizeof(got) - strlen(got), "%s: %s\n", fx_versions[i], hex);
			wrong = true;
		}
		pair_free(&x);
	}
	if (wrong)
		fail_msg("content hashes moved (proto/SPEC.md 5B and rowhash_content):\n%s", got);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_initial_sync_and_idempotence),
		cmocka_unit_test(test_wrong_encryption_key_refused),
		cmocka_unit_test(test_no_instance_id_refused),
		cmocka_unit_test(test_names_matched_exactly),
		cmocka_unit_test(test_table_left_out_kept),
		cmocka_unit_test(test_rename_and_swaps),
		cmocka_unit_test(test_delete_user_cascades_only_theirs),
		cmocka_unit_test(test_passkeys_groups_clients),
		cmocka_unit_test(test_api_key_per_node_columns),
		cmocka_unit_test(test_schema_mismatch_refused),
		cmocka_unit_test(test_valve_and_force),
		cmocka_unit_test(test_concurrent_local_writer),
		cmocka_unit_test(test_content_hash_stable),
		cmocka_unit_test(test_restart_hook_before_writes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
