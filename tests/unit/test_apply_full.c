/* apply_full2: format-2 full snapshots built from a primary fixture
 * (doc2_encode_header/doc2_encode_rows, the rows hash of the primary's
 * durable rows) applied to a secondary: initial sync and resync, in-place
 * updates under local runtime rows, per-node columns and rows, UNIQUE
 * swaps, tables split over records and out of order, the valve, the rows
 * hash check, schema and table refusals, keys twice, the JWT key, CIMD
 * clients kept, the configuration pseudo-table, a busy database, a write
 * racing the plan, dry runs, and the memory bound counted on a 5,000-row
 * table. */
#include "apply2.h"
#include "apply_full.h"
#include "appconfig.h"
#include "doc2.h"
#include "export.h"
#include "jwk.h"
#include "payload.h"
#include "rowhash.h"
#include "schema.h"
#include "fxpair.h"
#include "pidfix.h"
#include "testutil.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct doc {
	char *buf;
	size_t len;
	size_t rows_records; /* records holding rows */
	struct doc2_header h; /* read back from buf, as the caller does */
};

static void rows_hash_of(sqlite3 *db, uint8_t out[32])
{
	struct schema s;
	char err[256];

	if (schema_load(db, &s, err, sizeof(err)) != 0 || rowhash_scan(db, &s, NULL, out, err, sizeof(err)) != 0)
		fail_msg("rows hash: %s", err);
	schema_free(&s);
}

static void append(struct doc *d, char *rec, size_t n)
{
	d->buf = realloc(d->buf, d->len + n + 1);
	assert_non_null(d->buf);
	memcpy(d->buf + d->len, rec, n);
	d->len += n;
	OPENSSL_clear_free(rec, n);
}

/* p as a full document with tables in records of per rows (an empty table:
 * one record without rows) and rows_hash in its header. */
static void doc_build(const struct payload *p, const uint8_t rows_hash[32], size_t per, struct doc *d)
{
	struct doc2_header h = {.kind = DOC2_FULL, .generation = 7, .issued_at = 1795000000,
				.schema_version = p->schema_version, .has_jwt = true,
				.jwk_json = p->jwk_json};
	struct doc2_reader rd;
	char *rec, err[256];
	size_t n;

	memset(d, 0, sizeof(*d));
	memcpy(h.rows_hash, rows_hash, 32);
	for (size_t i = 0; i < p->ntables; i++)
		h.ntables += p->tables[i].nrows == 0 ? 1 : (p->tables[i].nrows + per - 1) / per;
	assert_int_equal(doc2_encode_header(&h, &rec, &n), 0);
	append(d, rec, n);
	for (size_t i = 0; i < p->ntables; i++) {
		const struct pl_table *t = &p->tables[i];
		size_t first = 0;
		do {
			size_t k = t->nrows - first < per ? t->nrows - first : per;
			assert_int_equal(doc2_encode_rows(t, first, k, &rec, &n), 0);
			append(d, rec, n);
			d->rows_records += k > 0;
			first += k;
		} while (first < t->nrows);
	}
	doc2_reader_init(&rd, (const uint8_t *)d->buf, d->len);
	if (doc2_read_header(&rd, &d->h, err, sizeof(err)) != 0)
		fail_msg("header: %s", err);
	doc2_reader_free(&rd);
}

/* The primary's content as a document whose rows hash is the primary's. */
static void doc_of(sqlite3 *primary, size_t per, struct doc *d)
{
	struct payload p;
	uint8_t h[32];

	make_payload(primary, KEY_P, &p);
	rows_hash_of(primary, h);
	doc_build(&p, h, per, d);
	payload_free(&p);
}

static void doc_free(struct doc *d)
{
	if (d->buf != NULL)
		OPENSSL_clear_free(d->buf, d->len);
	doc2_header_free(&d->h);
}

static enum apply_status apply_doc(struct pair *x, const struct doc *d, struct apply_opts *o,
				   struct apply_result *r, struct apply2_out *out,
				   struct apply_full_stats *stats, char *err)
{
	struct apply2_in in = {(const uint8_t *)d->buf, d->len, &d->h, NULL, NULL};
	struct apply_full_stats dummy;

	if (o->keys.encryption_key == NULL)
		o->keys = (struct jwt_store_cfg){(const uint8_t *)KEY_S, strlen(KEY_S), NULL, NULL};
	return apply_full2_stats(x->sdb, &in, o, r, out, stats ? stats : &dummy, err, 256);
}

/* Applies the primary's content (records of per rows), valve open; fails
 * the test unless it applied and verified. */
static void full_sync(struct pair *x, size_t per, struct apply_result *r)
{
	struct apply_opts o = {.max_delete_percent = 100};
	struct apply2_out out;
	struct doc d;
	char err[256];

	doc_of(x->p, per, &d);
	if (apply_doc(x, &d, &o, r, &out, NULL, err) != APPLY_OK)
		fail_msg("%s: apply_full2: %s", x->version, err);
	assert_memory_equal(out.rows_hash, d.h.rows_hash, 32);
	apply2_out_free(&out);
	doc_free(&d);
}


/* Applies d, expects status want with needle in err, and the secondary's
 * database unchanged, row for row. */
static void expect_refused(struct pair *x, const struct doc *d, struct apply_opts *o,
			   enum apply_status want, const char *needle, struct apply_result *r)
{
	struct apply2_out out;
	char err[256] = "", *before = tu_db_dump(x->s), *after;
	enum apply_status st = apply_doc(x, d, o, r, &out, NULL, err);

	if (st != want || strstr(err, needle) == NULL)
		fail_msg("%s: status %d (want %d): %s", x->version, st, want, err);
	assert_false(r->wrote);
	after = tu_db_dump(x->s);
	assert_string_equal(before, after);
	apply2_out_free(&out);
	free(before);
	free(after);
}

/* assert_same_durable for large tables (its text dump grows quadratically):
 * both nodes' content hashes (shipped rows and the JWT key) are equal. */
static void assert_same_content(struct pair *x)
{
	struct jwt_store_cfg kp = {(const uint8_t *)KEY_P, strlen(KEY_P), NULL, NULL};
	struct jwt_store_cfg ks = {(const uint8_t *)KEY_S, strlen(KEY_S), NULL, NULL};
	struct export_result a, b;
	char err[256];

	if (export_snapshot(x->p, &kp, NULL, &a, err, sizeof(err)) != 0 ||
	    export_snapshot(x->s, &ks, NULL, &b, err, sizeof(err)) != 0)
		fail_msg("export: %s", err);
	assert_memory_equal(a.content_hash, b.content_hash, 32);
}

/* The secondary's key from its key file. */
static char *key_from_file(struct pair *x, const char *keys)
{
	struct jwt_store_cfg cfg = {(const uint8_t *)KEY_S, strlen(KEY_S), "file", keys};
	char *json, err[256], *out;
	size_t len;

	if (jwt_store_read(x->s, &cfg, &json, &len, err, sizeof(err)) != 0 || json == NULL)
		fail_msg("key file: %s", err);
	out = strdup(json);
	OPENSSL_clear_free(json, len + 1);
	return out;
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

/* ---- tests ---- */

static void test_initial_sync_and_again(void **state)
{
	(void)state;
	for (const char *const *v = fx_versions; *v; v++) {
		struct pair x = pair_new(*v, false);
		struct apply_opts o = {.max_delete_percent = 100};
		struct apply_result r;
		struct apply2_out out;
		struct doc d;
		char err[256], *jwk, *id = fx_instance_id(x.s), *id2;

		fx_row(x.s, "webauthn_sessions", "id", "t:s-session", "challenge", "t:abc", NULL);
		doc_of(x.p, 2, &d); /* users in two records */
		if (apply_doc(&x, &d, &o, &r, &out, NULL, err) != APPLY_OK)
			fail_msg("%s: %s", *v, err);
		assert_true(r.wrote);
		assert_true(r.jwt_changed);
		assert_string_equal(r.restart_why, "jwt_key");
		assert_int_equal(r.attempts, 1);
		assert_int_equal(count_of(&r, "users", 'i'), 3);
		assert_int_equal(count_of(&r, "webauthn_credentials", 'i'), 3);
		assert_memory_equal(out.rows_hash, d.h.rows_hash, 32);
		assert_int_equal(out.kept.n, 0);
		assert_false(out.has_app_config);
		apply2_out_free(&out);
		assert_same_durable(&x);
		jwk = fx_jwk(x.s, KEY_S);
		assert_true(jwk_same(jwk, FX_JWK_A));
		id2 = fx_instance_id(x.s);
		assert_string_equal(id, id2); /* the node-local identity row stays */
		assert_int_equal(fx_count(x.s, "SELECT count(*) FROM webauthn_sessions"), 1);
		/* The same document again: nothing written, still verified. */
		if (apply_doc(&x, &d, &o, &r, &out, NULL, err) != APPLY_OK)
			fail_msg("%s: again: %s", *v, err);
		assert_false(r.wrote);
		assert_false(r.jwt_changed);
		assert_int_equal(apply_total_changes(&r), 0);
		assert_memory_equal(out.rows_hash, d.h.rows_hash, 32);
		apply2_out_free(&out);
		free(jwk);
		free(id);
		free(id2);
		doc_free(&d);
		pair_free(&x);
	}
}

/* One row changed, one added, one deleted; the changed user's audit logs
 * and sessions (local rows with foreign keys on it) survive: in place. */
static void test_resync_in_place(void **state)
{
	(void)state;
	for (const char *const *v = fx_versions; *v; v++) {
		struct pair x = pair_new(*v, false);
		struct apply_result r;
		full_sync(&x, 1024, &r);
		fx_seed_local(x.s, "s");
		assert_int_equal(fx_count(x.s, "SELECT count(*) FROM audit_logs WHERE user_id = 'u-alice'"), 2);
		fx_exec(x.p, "UPDATE users SET first_name = 'Alicia' WHERE id = 'u-alice'");
		fx_row(x.p, "custom_claims", "id", "t:cc-2", "key", "t:team", "value", "t:red", "user_id", "t:u-carol", NULL);
		fx_exec(x.p, "DELETE FROM webauthn_credentials WHERE id = 'c-alice-2'");
		full_sync(&x, 1024, &r);
		assert_same_durable(&x);
		assert_true(r.wrote);
		assert_false(r.restart_needed);
		assert_int_equal(count_of(&r, "users", 'u'), 1);
		assert_int_equal(count_of(&r, "users", 'i') + count_of(&r, "users", 'd'), 0);
		assert_int_equal(count_of(&r, "custom_claims", 'i'), 1);
		assert_int_equal(count_of(&r, "webauthn_credentials", 'd'), 1);
		assert_int_equal(apply_total_changes(&r), 3);
		assert_int_equal(fx_count(x.s, "SELECT count(*) FROM audit_logs WHERE user_id = 'u-alice'"), 2);
		assert_int_equal(fx_count(x.s, "SELECT count(*) FROM audit_logs"), 6);
		assert_int_equal(fx_count(x.s, "SELECT count(*) FROM users WHERE first_name = 'Alicia'"), 1);
		pair_free(&x);
	}
}

static void test_per_node_column_kept(void **state)
{
	(void)state;
	for (const char *const *v = fx_versions; *v; v++) {
		struct pair x = pair_new(*v, false);
		struct apply_result r;
		full_sync(&x, 1024, &r);
		fx_exec(x.s, "UPDATE api_keys SET last_used_at = 1800000000");
		fx_exec(x.p, "UPDATE api_keys SET last_used_at = 1700000500, name = 'ci-renamed'");
		full_sync(&x, 1024, &r);
		assert_int_equal(count_of(&r, "api_keys", 'u'), 1);
		assert_int_equal(fx_count(x.s, "SELECT last_used_at FROM api_keys"), 1800000000);
		assert_int_equal(fx_count(x.s, "SELECT count(*) FROM api_keys WHERE name = 'ci-renamed'"), 1);
		fx_exec(x.p, "UPDATE api_keys SET last_used_at = 1700000999"); /* only per node */
		full_sync(&x, 1024, &r);
		assert_false(r.wrote);
		assert_int_equal(apply_total_changes(&r), 0);
		pair_free(&x);
	}
}

/* Node-local rows of durable tables: neither shipped nor touched. */
static void test_node_local_rows_untouched(void **state)
{
	(void)state;
	for (size_t i = 1; fx_versions[i] != NULL; i++) { /* storage: v2.0+ */
		struct pair x = pair_new(fx_versions[i], false);
		struct apply_result r;
		fx_row(x.s, "storage", "path", "t:profile-pictures/defaults/AB.png", "data", "b:AQI=", "size", "i:2", NULL);
		fx_row(x.p, "storage", "path", "t:profile-pictures/defaults/CD.png", "data", "b:AwQ=", "size", "i:2", NULL);
		fx_row(x.p, "storage", "path", "t:profile-pictures/u-alice.png", "data", "b:BQY=", "size", "i:2", NULL);
		full_sync(&x, 1024, &r);
		assert_int_equal(count_of(&r, "storage", 'i'), 1);
		assert_int_equal(fx_count(x.s, "SELECT count(*) FROM storage WHERE path = 'profile-pictures/defaults/AB.png'"), 1);
		assert_int_equal(fx_count(x.s, "SELECT count(*) FROM storage WHERE path = 'profile-pictures/defaults/CD.png'"), 0);
		assert_same_durable(&x);
		pair_free(&x);
	}
}

static void test_unique_swaps(void **state)
{
	(void)state;
	for (const char *const *v = fx_versions; *v; v++) {
		struct pair x = pair_new(*v, false);
		struct apply_result r;
		full_sync(&x, 1024, &r);
		fx_seed_local(x.s, "s");
		fx_exec(x.p, "UPDATE users SET username='tmp', email='tmp@x' WHERE id='u-alice';"
			     "UPDATE users SET username='alice', email='alice@example.com' WHERE id='u-bob';"
			     "UPDATE users SET username='bob', email='bob@example.com' WHERE id='u-alice';"
			     "UPDATE user_groups SET name='tmpg' WHERE id='g-admins';"
			     "UPDATE user_groups SET name='admins' WHERE id='g-staff';"
			     "UPDATE user_groups SET name='staff' WHERE id='g-admins';"
			     "CREATE TEMP TABLE t AS SELECT credential_id AS c FROM webauthn_credentials WHERE id='c-alice-2';"
			     "DELETE FROM webauthn_credentials WHERE id='c-alice-2';"
			     "UPDATE webauthn_credentials SET credential_id=(SELECT c FROM t) WHERE id='c-bob-1';");
		full_sync(&x, 1024, &r);
		assert_same_durable(&x);
		assert_int_equal(count_of(&r, "users", 'u'), 2);
		assert_int_equal(count_of(&r, "user_groups", 'u'), 2);
		assert_int_equal(count_of(&r, "webauthn_credentials", 'u'), 1);
		assert_int_equal(count_of(&r, "webauthn_credentials", 'd'), 1);
		assert_int_equal(fx_count(x.s, "SELECT count(*) FROM audit_logs"), 6);
		pair_free(&x);
	}
}

/* One row per record, and the tables in reverse order (children first):
 * the same result as one record per table in schema order. */
static void test_split_and_out_of_order(void **state)
{
	(void)state;
	for (const char *const *v = fx_versions; *v; v++) {
		struct pair x = pair_new(*v, true);
		struct apply_opts o = {.max_delete_percent = 100};
		struct apply_full_stats stats;
		struct apply_result r;
		struct apply2_out out;
		struct payload p;
		struct doc d;
		uint8_t h[32];
		char err[256];
		size_t nrec = 0;

		fx_exec(x.p, "DELETE FROM users WHERE id = 'u-carol'");
		fx_exec(x.p, "UPDATE users SET last_name = 'Bee' WHERE id = 'u-bob'");
		fx_row(x.p, "users", "id", "t:u-dave", "username", "t:dave", "first_name", "t:Dave", NULL);
		make_payload(x.p, KEY_P, &p);
		for (size_t i = 0; i < p.ntables / 2; i++) {
			struct pl_table t = p.tables[i];
			p.tables[i] = p.tables[p.ntables - 1 - i];
			p.tables[p.ntables - 1 - i] = t;
		}
		rows_hash_of(x.p, h);
		doc_build(&p, h, 1, &d);
		for (size_t i = 0; i < p.ntables; i++)
			nrec += p.tables[i].nrows ? p.tables[i].nrows : 1;
		payload_free(&p);
		if (apply_doc(&x, &d, &o, &r, &out, &stats, err) != APPLY_OK)
			fail_msg("%s: %s", *v, err);
		assert_same_durable(&x);
		assert_int_equal(count_of(&r, "users", 'i'), 1);
		assert_int_equal(count_of(&r, "users", 'u'), 1);
		assert_int_equal(count_of(&r, "users", 'd'), 1);
		/* Read once to plan, again only the two records with writes. */
		assert_int_equal(stats.records, nrec + 2);
		assert_true(stats.peak_cells <= 32);
		apply2_out_free(&out);
		doc_free(&d);
		pair_free(&x);
	}
}

static void test_valve_and_force(void **state)
{
	struct pair x = pair_new("v2.14", false);
	struct apply_opts o = {.max_delete_percent = 50};
	struct apply_result r;
	struct apply2_out out;
	struct doc d;
	char err[256];
	(void)state;

	full_sync(&x, 1024, &r);
	fx_exec(x.p, "DELETE FROM users WHERE id IN ('u-alice', 'u-bob')");
	doc_of(x.p, 1024, &d);
	expect_refused(&x, &d, &o, APPLY_ERR_VALVE, "refusing to delete 2 of 3 users", &r);
	assert_int_equal(count_of(&r, "users", 'd'), 2); /* counted all the same */
	o.dry_run = true;
	o.force = true;
	assert_int_equal(apply_doc(&x, &d, &o, &r, &out, NULL, err), APPLY_OK);
	assert_int_equal(count_of(&r, "users", 'd'), 2);
	assert_int_equal(fx_count(x.s, "SELECT count(*) FROM users"), 3);
	apply2_out_free(&out);
	o.dry_run = false;
	assert_int_equal(apply_doc(&x, &d, &o, &r, &out, NULL, err), APPLY_OK);
	assert_int_equal(fx_count(x.s, "SELECT count(*) FROM users"), 1);
	assert_memory_equal(out.rows_hash, d.h.rows_hash, 32);
	assert_same_durable(&x);
	apply2_out_free(&out);
	doc_free(&d);
	pair_free(&x);
}

/* A rows hash the result does not reach: rolled back, row for row, on a
 * first sync (the JWT key included), a resync, and with nothing to write. */
static void test_wrong_rows_hash(void **state)
{
	struct pair x = pair_new("v2.14", false);
	struct apply_opts o = {.max_delete_percent = 100};
	struct apply_result r;
	struct doc d;
	(void)state;

	for (int round = 0; round < 3; round++) {
		if (round == 1)
			full_sync(&x, 1024, &r);
		if (round == 1)
			fx_exec(x.p, "UPDATE users SET first_name = 'Bobby' WHERE id = 'u-bob'");
		if (round == 2)
			full_sync(&x, 1024, &r);
		doc_of(x.p, 1024, &d);
		d.h.rows_hash[5] ^= 0x40;
		expect_refused(&x, &d, &o, APPLY_ERR_VERIFY,
			       "the result's rows hash differs from the primary's; nothing was changed", &r);
		assert_string_equal(apply2_status_reason(APPLY_ERR_VERIFY), "verify");
		doc_free(&d);
	}
	pair_free(&x);
}

/* d from the primary's payload with one table renamed or one column. */
static void doc_renamed(struct pair *x, const char *table, const char *to, bool column, struct doc *d)
{
	struct payload p;
	struct pl_table *t;
	uint8_t h[32];
	char **name;

	make_payload(x->p, KEY_P, &p);
	t = table_named(&p, table);
	name = column ? &t->cols[1] : &t->name;
	free(*name);
	*name = strdup(to);
	rows_hash_of(x->p, h);
	doc_build(&p, h, 1024, d);
	payload_free(&p);
}

static void test_schema_and_table_refusals(void **state)
{
	struct pair x = pair_new("v2.14", true);
	struct apply_opts o = {.max_delete_percent = 100};
	struct apply_result r;
	struct doc d;
	(void)state;

	fx_exec(x.s, "UPDATE schema_migrations SET version = 20260807120000");
	doc_of(x.p, 1024, &d);
	expect_refused(&x, &d, &o, APPLY_ERR_SCHEMA, "this node 20260807120000, primary 20260814120000", &r);
	assert_non_null(strstr(d.h.schema_version, "20260814120000"));
	doc_free(&d);
	fx_exec(x.s, "UPDATE schema_migrations SET version = 20260814120000");
	doc_renamed(&x, "custom_claims", "no_such_table", false, &d);
	expect_refused(&x, &d, &o, APPLY_ERR_SCHEMA, "the payload carries table no_such_table, which is never shipped", &r);
	doc_free(&d);
	doc_renamed(&x, "custom_claims", "audit_logs", false, &d); /* a local table */
	expect_refused(&x, &d, &o, APPLY_ERR_SCHEMA, "table audit_logs, which is never shipped", &r);
	doc_free(&d);
	doc_renamed(&x, "users", "no_such_column", true, &d);
	expect_refused(&x, &d, &o, APPLY_ERR_SCHEMA, "is missing from the payload", &r);
	doc_free(&d);
	fx_exec(x.s, "DROP TABLE custom_claims");
	doc_of(x.p, 1024, &d);
	expect_refused(&x, &d, &o, APPLY_ERR_SCHEMA, "table custom_claims, which this database lacks", &r);
	doc_free(&d);
	pair_free(&x);
}

static void test_key_twice(void **state)
{
	(void)state;
	for (int seeded = 0; seeded <= 1; seeded++) {
		struct pair x = pair_new("v2.14", seeded);
		struct apply_opts o = {.max_delete_percent = 100};
		struct apply_result r;
		struct payload p;
		struct pl_table *t;
		struct doc d;
		uint8_t h[32];

		make_payload(x.p, KEY_P, &p);
		t = table_named(&p, "users");
		/* The first row again at the end, in another record (2 rows each). */
		t->cells = realloc(t->cells, (t->nrows + 1) * t->ncols * sizeof(*t->cells));
		memcpy(&t->cells[t->nrows * t->ncols], t->cells, t->ncols * sizeof(*t->cells));
		t->nrows++;
		rows_hash_of(x.p, h);
		doc_build(&p, h, 2, &d);
		t->nrows--; /* the copy shares the first row's bytes */
		payload_free(&p);
		expect_refused(&x, &d, &o, APPLY_ERR_INVALID, "table users: the payload has two rows with one key", &r);
		doc_free(&d);
		pair_free(&x);
	}
}

/* before_cached_write: called before anything is written when the key
 * changes; failing, it aborts with nothing changed; with nothing to change
 * it is not called. */
struct hook_probe {
	int calls, result;
};

static int probe_hook(void *arg)
{
	struct hook_probe *h = arg;

	h->calls++;
	return h->result;
}

static void test_jwt_key_change_and_hook(void **state)
{
	struct pair x = pair_new("v2.14", false);
	struct hook_probe hp = {0, -1};
	struct apply_opts o = {.max_delete_percent = 100, .before_cached_write = probe_hook, .hook_arg = &hp};
	struct apply_result r;
	struct apply2_out out;
	struct payload p;
	struct doc d;
	uint8_t h[32];
	char err[256], *jwk;
	(void)state;

	full_sync(&x, 1024, &r);
	make_payload(x.p, KEY_P, &p);
	OPENSSL_clear_free(p.jwk_json, strlen(p.jwk_json));
	p.jwk_json = strdup(FX_JWK_B);
	rows_hash_of(x.p, h);
	doc_build(&p, h, 1024, &d);
	payload_free(&p);
	expect_refused(&x, &d, &o, APPLY_ERR_DB, "cannot record in state.db the restart", &r);
	assert_int_equal(hp.calls, 1);
	assert_true(r.restart_needed); /* so the caller knows the hook ran */
	hp.result = 0;
	assert_int_equal(apply_doc(&x, &d, &o, &r, &out, NULL, err), APPLY_OK);
	assert_int_equal(hp.calls, 2);
	assert_true(r.jwt_changed && r.restart_needed && r.wrote);
	assert_string_equal(r.restart_why, "jwt_key");
	assert_int_equal(apply_total_changes(&r), 1);
	jwk = fx_jwk(x.s, KEY_S);
	assert_true(jwk_same(jwk, FX_JWK_B));
	free(jwk);
	apply2_out_free(&out);
	assert_int_equal(apply_doc(&x, &d, &o, &r, &out, NULL, err), APPLY_OK);
	assert_int_equal(hp.calls, 2);
	assert_false(r.restart_needed || r.wrote);
	apply2_out_free(&out);
	doc_free(&d);
	pair_free(&x);
}

/* v1.x with KEYS_STORAGE=file: the key file is written after the commit,
 * and not at all when the rows hash refuses the result. */
static void test_key_file(void **state)
{
	struct pair x = pair_new("v1.9", false);
	struct apply_result r;
	struct apply2_out out;
	struct doc d;
	char keys[1024], file[1100], err[256], *jwk;
	struct apply_opts o = {.max_delete_percent = 100};
	(void)state;

	snprintf(keys, sizeof(keys), "%s/keys", x.dir);
	snprintf(file, sizeof(file), "%s/jwt_private_key.json.enc", keys);
	assert_int_equal(mkdir(keys, 0700), 0);
	fx_exec(x.s, "DELETE FROM kv WHERE key = 'jwt_private_key.json'");
	o.keys = (struct jwt_store_cfg){(const uint8_t *)KEY_S, strlen(KEY_S), "file", keys};
	doc_of(x.p, 1024, &d);
	d.h.rows_hash[0] ^= 1;
	expect_refused(&x, &d, &o, APPLY_ERR_VERIFY, "rows hash differs", &r);
	assert_int_equal(access(file, F_OK), -1);
	d.h.rows_hash[0] ^= 1;
	if (apply_doc(&x, &d, &o, &r, &out, NULL, err) != APPLY_OK)
		fail_msg("%s", err);
	assert_true(r.jwt_changed && r.wrote);
	assert_int_equal(access(file, F_OK), 0);
	assert_int_equal(fx_count(x.s, "SELECT count(*) FROM kv WHERE key = 'jwt_private_key.json'"), 0);
	jwk = key_from_file(&x, keys);
	assert_true(jwk_same(jwk, FX_JWK_A));
	free(jwk);
	apply2_out_free(&out);
	doc_free(&d);
	pair_free(&x);
}

/* Restart reasons of the rows: the configuration table (unless it goes
 * through Pocket ID's API, then its records are skipped) and the
 * application images. */
static void test_restart_reasons(void **state)
{
	struct pair x = pair_new("v2.10", false); /* has app_config_variables and storage */
	struct apply_opts o = {.max_delete_percent = 100};
	struct apply_result r;
	struct apply2_out out;
	struct doc d;
	char err[256];
	(void)state;

	full_sync(&x, 1024, &r);
	fx_row(x.p, "app_config_variables", "key", "t:accentColor", "value", "t:#abcdef", NULL);
	doc_of(x.p, 1024, &d);
	o.app_config_via_api = true;
	assert_int_equal(apply_doc(&x, &d, &o, &r, &out, NULL, err), APPLY_OK);
	assert_false(r.restart_needed);
	assert_int_equal(count_of(&r, "app_config_variables", 'i'), 0);
	assert_int_equal(fx_count(x.s, "SELECT count(*) FROM app_config_variables WHERE key = 'accentColor'"), 0);
	apply2_out_free(&out);
	o.app_config_via_api = false;
	assert_int_equal(apply_doc(&x, &d, &o, &r, &out, NULL, err), APPLY_OK);
	assert_string_equal(r.restart_why, "app_config");
	assert_int_equal(count_of(&r, "app_config_variables", 'i'), 1);
	apply2_out_free(&out);
	doc_free(&d);
	fx_row(x.p, "storage", "path", "t:application-images/logoLight.png", "data", "b:AQI=", "size", "i:2", NULL);
	doc_of(x.p, 1024, &d);
	assert_int_equal(apply_doc(&x, &d, &o, &r, &out, NULL, err), APPLY_OK);
	assert_string_equal(r.restart_why, "app_images");
	assert_same_durable(&x);
	apply2_out_free(&out);
	doc_free(&d);
	pair_free(&x);
}

/* A CIMD client only this node has stays, with its allowed groups, and is
 * left out of the rows hash (out->kept); a CIMD client both have keeps its
 * metadata-document columns. */
static void test_cimd_clients(void **state)
{
	struct pair x = pair_new("v2.14", false);
	struct apply_result r;
	struct apply_opts o = {.max_delete_percent = 100};
	struct apply2_out out;
	struct doc d;
	char err[256];
	(void)state;

	full_sync(&x, 1024, &r);
	fx_row(x.s, "oidc_clients", "id", "t:https://local.example/meta", "name", "t:Local", "client_type", "t:cimd", NULL);
	fx_row(x.s, "oidc_clients_allowed_user_groups", "oidc_client_id", "t:https://local.example/meta",
	       "user_group_id", "t:g-staff", NULL);
	fx_row(x.p, "oidc_clients", "id", "t:https://both.example/meta", "name", "t:Primary's", "client_type", "t:cimd",
	       "launch_url", "t:https://p/", NULL);
	fx_row(x.s, "oidc_clients", "id", "t:https://both.example/meta", "name", "t:Own", "client_type", "t:cimd", NULL);
	doc_of(x.p, 1024, &d);
	if (apply_doc(&x, &d, &o, &r, &out, NULL, err) != APPLY_OK)
		fail_msg("%s", err);
	assert_int_equal(out.kept.n, 1);
	assert_int_equal(out.kept.ids[0].type, PL_TEXT);
	assert_string_equal((const char *)out.kept.ids[0].u.bytes, "https://local.example/meta");
	assert_int_equal(count_of(&r, "oidc_clients", 'd'), 0);
	assert_int_equal(count_of(&r, "oidc_clients", 'u'), 1);
	assert_int_equal(count_of(&r, "oidc_clients_allowed_user_groups", 'd'), 0);
	assert_int_equal(fx_count(x.s, "SELECT count(*) FROM oidc_clients_allowed_user_groups WHERE "
				       "oidc_client_id = 'https://local.example/meta'"), 1);
	assert_int_equal(fx_count(x.s, "SELECT count(*) FROM oidc_clients WHERE id = 'https://both.example/meta' "
				       "AND name = 'Own' AND launch_url = 'https://p/'"), 1);
	/* Removing the kept client's rows, the rest equals the primary. */
	fx_exec(x.s, "DELETE FROM oidc_clients WHERE id = 'https://local.example/meta'");
	assert_same_durable(&x);
	apply2_out_free(&out);
	doc_free(&d);
	pair_free(&x);
}

/* "@app_configuration" over two records: its rows reach out->app_config. */
static void test_app_configuration_table(void **state)
{
	static const char *const cells[] = {"t:appName", "t:Pocket", "t:smtpPassword", "t:s3cret", "t:accentColor", "t:red"};
	struct pair x = pair_new("v2.14", false);
	struct apply_opts o = {.max_delete_percent = 100};
	struct apply_result r;
	struct apply2_out out;
	struct payload p;
	struct pl_table *t;
	struct doc d;
	uint8_t h[32];
	char err[256];
	(void)state;

	make_payload(x.p, KEY_P, &p);
	p.tables = realloc(p.tables, (p.ntables + 1) * sizeof(*p.tables));
	t = &p.tables[p.ntables++];
	memset(t, 0, sizeof(*t));
	t->name = strdup(APPCONFIG_TABLE);
	t->ncols = 2;
	t->cols = calloc(2, sizeof(char *));
	t->cols[0] = strdup("key");
	t->cols[1] = strdup("value");
	t->nrows = 3;
	t->cells = calloc(6, sizeof(*t->cells));
	for (int i = 0; i < 6; i++)
		assert_int_equal(pl_value_decode(cells[i], &t->cells[i], NULL), 0);
	rows_hash_of(x.p, h);
	doc_build(&p, h, 2, &d);
	payload_free(&p);
	if (apply_doc(&x, &d, &o, &r, &out, NULL, err) != APPLY_OK)
		fail_msg("%s", err);
	assert_true(out.has_app_config);
	t = (struct pl_table *)payload_table(&out.app_config, APPCONFIG_TABLE);
	assert_non_null(t);
	assert_int_equal(t->nrows, 3);
	assert_int_equal(t->ncols, 2);
	for (int i = 0; i < 6; i++) {
		struct pl_value v;
		assert_int_equal(pl_value_decode(cells[i], &v, NULL), 0);
		assert_true(pl_value_equal(&v, &t->cells[i]));
		pl_value_clear(&v);
	}
	apply2_out_free(&out);
	doc_free(&d);
	pair_free(&x);
}

/* Another connection holds the write lock: every attempt is busy (the
 * last under BEGIN IMMEDIATE), nothing changes. */
static void test_busy(void **state)
{
	struct pair x = pair_new("v2.14", false);
	struct apply_opts o = {.max_delete_percent = 100, .max_attempts = 3};
	struct apply_result r;
	struct doc d;
	(void)state;

	sqlite3_busy_timeout(x.sdb, 20);
	fx_exec(x.s, "BEGIN IMMEDIATE");
	fx_row(x.s, "webauthn_sessions", "id", "t:held", "challenge", "t:abc", NULL);
	doc_of(x.p, 1024, &d);
	expect_refused(&x, &d, &o, APPLY_ERR_BUSY, "database is busy (Pocket ID holds the write lock)", &r);
	assert_int_equal(r.attempts, 3);
	fx_exec(x.s, "COMMIT");
	assert_int_equal(fx_count(x.s, "SELECT count(*) FROM users"), 0);
	o.max_attempts = 0;
	full_sync(&x, 1024, &r);
	assert_same_durable(&x);
	doc_free(&d);
	pair_free(&x);
}

/* Pocket ID commits between the plan and the first write (from the hook,
 * which runs exactly there): the stale plan is dropped and the next
 * attempt plans again and applies. */
struct racer {
	sqlite3 *db;
	int calls;
};

static int race_hook(void *arg)
{
	struct racer *rc = arg;

	if (rc->calls++ == 0)
		fx_row(rc->db, "webauthn_sessions", "id", "t:raced", "challenge", "t:abc", NULL);
	return 0;
}

static void test_writer_between_plan_and_write(void **state)
{
	struct pair x = pair_new("v2.14", false);
	struct racer rc = {x.s, 0};
	struct apply_opts o = {.max_delete_percent = 100, .before_cached_write = race_hook, .hook_arg = &rc};
	struct apply_result r;
	struct apply2_out out;
	struct doc d;
	char err[256];
	(void)state;

	doc_of(x.p, 1024, &d);
	if (apply_doc(&x, &d, &o, &r, &out, NULL, err) != APPLY_OK)
		fail_msg("%s", err);
	assert_int_equal(r.attempts, 2);
	assert_int_equal(rc.calls, 2);
	assert_true(r.wrote);
	assert_int_equal(fx_count(x.s, "SELECT count(*) FROM webauthn_sessions WHERE id = 'raced'"), 1);
	assert_same_durable(&x);
	apply2_out_free(&out);
	doc_free(&d);
	pair_free(&x);
}

static void test_dry_run(void **state)
{
	struct pair x = pair_new("v2.14", false);
	struct apply_opts o = {.max_delete_percent = 100, .dry_run = true};
	struct apply_result r;
	struct apply2_out out;
	struct doc d;
	static const uint8_t zero[32];
	char err[256], *before = tu_db_dump(x.s), *after;
	(void)state;

	doc_of(x.p, 1024, &d);
	assert_int_equal(apply_doc(&x, &d, &o, &r, &out, NULL, err), APPLY_OK);
	assert_int_equal(count_of(&r, "users", 'i'), 3);
	assert_true(r.jwt_changed);
	assert_false(r.wrote);
	assert_memory_equal(out.rows_hash, zero, 32); /* not verified */
	after = tu_db_dump(x.s);
	assert_string_equal(before, after);
	apply2_out_free(&out);
	free(before);
	free(after);
	doc_free(&d);
	pair_free(&x);
}

/* The bound, counted: a 5,000-row users table in records of 1024 rows is
 * never decoded whole (one record's cells at a time) and the index holds a
 * key and a digest per row, not the rows; a resync that changes rows of
 * one record reads only that record again. */
static void test_memory_bound(void **state)
{
	struct pair x = pair_new("v2.14", false);
	struct apply_opts o = {.max_delete_percent = 100};
	struct apply_full_stats stats;
	struct apply_result r;
	struct apply2_out out;
	struct doc d;
	char err[256];
	size_t ncols = (size_t)fx_count(x.p, "SELECT count(*) FROM pragma_table_info('users')");
	size_t nrec, nrows;
	(void)state;

	fx_exec(x.p, "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 4997) "
		     "INSERT INTO users(id, username, email, first_name, last_name, display_name, created_at) "
		     "SELECT printf('u-%05d', i), printf('user%05d', i), printf('user%05d@example.com', i), "
		     "'First', 'Last', 'First Last', 1700000000 + i FROM n");
	assert_int_equal(fx_count(x.p, "SELECT count(*) FROM users"), 5000);
	doc_of(x.p, DOC2_ROWS_PER_RECORD, &d);
	nrec = d.h.ntables;
	nrows = d.rows_records;
	if (apply_doc(&x, &d, &o, &r, &out, &stats, err) != APPLY_OK)
		fail_msg("%s", err);
	doc_free(&d);
	apply2_out_free(&out);
	assert_int_equal(count_of(&r, "users", 'i'), 5000);
	assert_true(stats.peak_cells <= DOC2_ROWS_PER_RECORD * ncols);
	assert_true(stats.peak_cells * 4 < 5000 * ncols);
	assert_true(stats.peak_entries >= 5000 && stats.peak_entries < 5000 + 50);
	assert_int_equal(stats.records, nrec + nrows); /* planned, then every record with rows inserts */
	assert_same_content(&x);

	fx_exec(x.p, "UPDATE users SET first_name = 'Changed' WHERE id IN ('u-00010', 'u-00020');"
		     "DELETE FROM users WHERE id = 'u-00030';"
		     "INSERT INTO users(id, username, email, first_name, last_name, display_name, created_at) "
		     "VALUES('u-00010a', 'new', 'new@example.com', 'N', 'N', 'N N', 1)");
	doc_of(x.p, DOC2_ROWS_PER_RECORD, &d);
	if (apply_doc(&x, &d, &o, &r, &out, &stats, err) != APPLY_OK)
		fail_msg("%s", err);
	assert_int_equal(count_of(&r, "users", 'u'), 2);
	assert_int_equal(count_of(&r, "users", 'i'), 1);
	assert_int_equal(count_of(&r, "users", 'd'), 1);
	assert_true(stats.peak_cells <= DOC2_ROWS_PER_RECORD * ncols);
	assert_true(stats.peak_entries >= 5000 && stats.peak_entries < 5000 + 50);
	assert_int_equal(stats.records, d.h.ntables + 1); /* the first users record again */
	assert_memory_equal(out.rows_hash, d.h.rows_hash, 32);
	assert_same_content(&x);
	apply2_out_free(&out);
	doc_free(&d);
	pair_free(&x);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_initial_sync_and_again),
		cmocka_unit_test(test_resync_in_place),
		cmocka_unit_test(test_per_node_column_kept),
		cmocka_unit_test(test_node_local_rows_untouched),
		cmocka_unit_test(test_unique_swaps),
		cmocka_unit_test(test_split_and_out_of_order),
		cmocka_unit_test(test_valve_and_force),
		cmocka_unit_test(test_wrong_rows_hash),
		cmocka_unit_test(test_schema_and_table_refusals),
		cmocka_unit_test(test_key_twice),
		cmocka_unit_test(test_jwt_key_change_and_hook),
		cmocka_unit_test(test_key_file),
		cmocka_unit_test(test_restart_reasons),
		cmocka_unit_test(test_cimd_clients),
		cmocka_unit_test(test_app_configuration_table),
		cmocka_unit_test(test_busy),
		cmocka_unit_test(test_writer_between_plan_and_write),
		cmocka_unit_test(test_dry_run),
		cmocka_unit_test(test_memory_bound),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
