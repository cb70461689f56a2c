/* test_apply_delta: format-2 deltas end to end through the real producer:
 * a primary fixture watched by change_watch, produce_begin + produce_v2
 * from the secondary's base, sealed; the secondary opens the seal, reads
 * the header and runs apply_delta2 (or ingest_wire) with the sum it
 * verified. Covers renames, inserts, deletes with FK cascades, UNIQUE
 * values moving between rows, per-node columns, node-local rows, in-place
 * updates under local runtime rows, the JWT key, app_config_variables
 * travelling whole; refusals that change nothing (no verified sum, a wrong
 * one, a tampered rows hash, the valve as a share of the table, schema
 * version, key columns, busy); and ingest's "delta_base". Full snapshots
 * themselves are test_apply_full.c's. */
#include "apply2.h"
#include "change_watch.h"
#include "config.h"
#include "doc2.h"
#include "export.h"
#include "fxpair.h"
#include "ingest.h"
#include "jwk.h"
#include "jwt_store.h"
#include "keys.h"
#include "pidb.h"
#include "pidfix.h"
#include "produce.h"
#include "protocol.h"
#include "rowhash.h"
#include "schema.h"
#include "seal.h"
#include "state.h"
#include "testutil.h"

#include <inttypes.h>
#include <openssl/crypto.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_WIRE (64u << 20)

struct net {
	struct pair x;
	sqlite3 *pdb; /* the primary sidecar's handle */
	struct change_watch *w;
	struct state *pst;
	struct config cfg; /* the primary's */
	struct node_key pk, sk;
	struct lthash sum; /* the secondary's verified sum */
	struct rowhash_skip kept; /* and the CIMD clients it keeps out of it */
	struct produce_base base;
};

/* A received document: the wire opened in place and its header. */
struct got {
	uint8_t *wire;
	size_t len;
	uint8_t *pt;
	size_t n;
	enum doc2_kind kind;
	struct doc2_header h;
};

static void rows_hash_skip(sqlite3 *db, const struct rowhash_skip *skip, uint8_t out[32])
{
	struct schema s;
	char err[256];

	if (schema_load(db, &s, err, sizeof(err)) != 0 || rowhash_scan(db, &s, skip, out, err, sizeof(err)) != 0)
		fail_msg("rows hash: %s", err);
	schema_free(&s);
}

static void rows_hash_of(sqlite3 *db, uint8_t out[32]) { rows_hash_skip(db, NULL, out); }


/* The tiny fixtures lose a third of their passkeys with one user: the
 * valve is open but in its own test. */
static struct apply_opts opts(void)
{
	return (struct apply_opts){.max_delete_percent = 100,
				   .keys = {(const uint8_t *)KEY_S, strlen(KEY_S), NULL, NULL}};
}

/* A pair with filler content (40 more users, 200 groups), so that small
 * deltas stay smaller than half of it; the primary's sidecar looking. */
static void net_new(struct net *n, const char *version)
{
	char path[1024], err[256];

	memset(n, 0, sizeof(*n));
	n->x = pair_new(version, false);
	fx_exec(n->x.p, "BEGIN");
	for (int i = 1; i <= 40; i++) {
		char id[32], name[32], mail[64];
		snprintf(id, sizeof(id), "t:u-f%d", i);
		snprintf(name, sizeof(name), "t:filler%d", i);
		snprintf(mail, sizeof(mail), "t:filler%d@example.com", i);
		fx_row(n->x.p, "users", "id", id, "username", name, "email", mail, "first_name", "t:F", NULL);
	}
	for (int i = 1; i <= 200; i++) {
		char id[32], name[32];
		snprintf(id, sizeof(id), "t:g-f%d", i);
		snprintf(name, sizeof(name), "t:gf%d", i);
		fx_row(n->x.p, "user_groups", "id", id, "name", name, "friendly_name", "t:G", NULL);
	}
	fx_exec(n->x.p, "COMMIT");
	snprintf(path, sizeof(path), "%s/primary.db", n->x.dir);
	assert_int_equal(pidb_open(path, 2000, &n->pdb, err, sizeof(err)), 0);
	n->w = change_watch_new();
	assert_non_null(n->w);
	snprintf(path, sizeof(path), "%s/pstate", n->x.dir);
	if (state_open(path, &n->pst, err, sizeof(err)) != 0)
		fail_msg("state: %s", err);
	assert_int_equal(keys_generate(&n->pk), 0);
	assert_int_equal(keys_generate(&n->sk), 0);
	n->cfg.encryption_key = (uint8_t *)KEY_P;
	n->cfg.encryption_key_len = strlen(KEY_P);
	n->cfg.max_payload_bytes = MAX_WIRE;
}

static void net_free(struct net *n)
{
	rowhash_skip_free(&n->kept);
	change_watch_free(n->w);
	state_close(n->pst);
	sqlite3_close(n->pdb);
	pair_free(&n->x);
}

/* What the primary sends for base (NULL: none), sealed for the secondary. */
static void produce(struct net *n, const struct produce_base *base, struct got *g)
{
	struct produced pr;
	char err[256];

	memset(g, 0, sizeof(*g));
	if (produce_begin(n->w, n->pdb, &n->cfg, n->pst, NULL, &pr, err, sizeof(err)) != 0)
		fail_msg("produce_begin: %s", err);
	if (produce_v2(n->w, n->pdb, &n->cfg, &n->pk, &pr, NULL, n->sk.pub, base, &g->wire, &g->len,
		       &g->kind, err, sizeof(err)) != 0)
		fail_msg("produce_v2: %s", err);
	produce_end(n->pdb);
}

/* Opens g on the secondary and reads its header, as ingest does. */
static void open_doc(struct net *n, struct got *g)
{
	struct doc2_reader rd;
	char err[256];

	assert_int_equal(seal_open_inplace(&n->sk, n->pk.pub, g->wire, g->len, MAX_WIRE, &g->pt, &g->n), SEAL_OK);
	doc2_reader_init(&rd, g->pt, g->n);
	if (doc2_read_header(&rd, &g->h, err, sizeof(err)) != 0)
		fail_msg("header: %s", err);
	doc2_reader_free(&rd);
	assert_int_equal(g->h.kind, g->kind);
}

static void got_free(struct got *g)
{
	if (g->wire != NULL)
		OPENSSL_clear_free(g->wire, g->len);
	doc2_header_free(&g->h);
	memset(g, 0, sizeof(*g));
}

/* The secondary's verified sum is now out's, its base h's generation. */
static void take(struct net *n, const struct got *g, const struct apply2_out *out)
{
	n->sum = out->sum;
	n->base = (struct produce_base){true, g->h.generation, {0}};
	memcpy(n->base.rows_hash, out->rows_hash, 32);
}

static void full_sync(struct net *n)
{
	struct apply_opts o = opts();
	struct apply_result r;
	struct apply2_out out = {0};
	struct got g;
	char err[256];

	produce(n, NULL, &g);
	assert_int_equal(g.kind, DOC2_FULL);
	open_doc(n, &g);
	struct apply2_in in = {g.pt, g.n, &g.h, NULL, NULL};
	o.max_delete_percent = 100;
	if (apply_full2(n->x.sdb, &in, &o, &r, &out, err, sizeof(err)) != APPLY_OK)
		fail_msg("apply_full2: %s", err);
	take(n, &g, &out);
	rowhash_skip_free(&n->kept);
	n->kept = out.kept;
	memset(&out.kept, 0, sizeof(out.kept));
	apply2_out_free(&out);
	got_free(&g);
}

static enum apply_status apply_got(struct net *n, struct got *g, const struct lthash *sum,
				   struct apply_opts *o, struct apply_result *r,
				   struct apply2_out *out, char *err)
{
	struct apply2_in in = {g->pt, g->n, &g->h, sum, n->kept.n > 0 ? &n->kept : NULL};

	memset(out, 0, sizeof(*out));
	return apply_delta2(n->x.sdb, &in, o, r, out, err, 256);
}

/* The primary's changes as a delta from the secondary's base, applied;
 * afterwards both hold the same rows and the sums agree everywhere. */
static void delta_sync_opts(struct net *n, struct apply_opts *o, struct apply_result *r)
{
	struct apply2_out out;
	uint8_t p[32], s[32], d[32];
	struct got g;
	char err[256];

	produce(n, &n->base, &g);
	assert_int_equal(g.kind, DOC2_DELTA);
	open_doc(n, &g);
	assert_int_equal(g.h.base_generation, n->base.generation);
	if (apply_got(n, &g, &n->sum, o, r, &out, err) != APPLY_OK)
		fail_msg("%s: apply_delta2: %s", n->x.version, err);
	assert_memory_equal(out.rows_hash, g.h.rows_hash, 32);
	lthash_digest(&out.sum, d);
	rows_hash_skip(n->x.s, &n->kept, s);
	rows_hash_of(n->x.p, p);
	assert_memory_equal(d, s, 32);
	assert_memory_equal(d, p, 32);
	assert_memory_equal(d, out.rows_hash, 32);
	if (n->kept.n == 0) /* else the kept clients differ */
		assert_same_durable(&n->x);
	take(n, &g, &out);
	apply2_out_free(&out);
	got_free(&g);
}

static void delta_sync(struct net *n, struct apply_result *r)
{
	struct apply_opts o = opts();

	delta_sync_opts(n, &o, r);
}

/* A delta is produced and applying it gives want with needle in err, and
 * the secondary's database is unchanged row for row. */
static void expect_refused(struct net *n, struct got *g, const struct lthash *sum,
			   struct apply_opts *o, enum apply_status want, const char *needle)
{
	struct apply2_out out;
	struct apply_result r;
	char err[256] = "", *before = tu_db_dump(n->x.s), *after;
	enum apply_status st = apply_got(n, g, sum, o, &r, &out, err);

	if (st != want || strstr(err, needle) == NULL)
		fail_msg("%s: status %d (want %d): %s", n->x.version, st, want, err);
	assert_false(r.wrote);
	after = tu_db_dump(n->x.s);
	assert_string_equal(before, after);
	apply2_out_free(&out);
	free(before);
	free(after);
}

static void delta_of_changes(struct net *n, struct got *g)
{
	produce(n, &n->base, g);
	assert_int_equal(g->kind, DOC2_DELTA);
	open_doc(n, g);
}

/* ---- tests ---- */

/* A rename, an insert, a delete of a user whose passkeys go with it by
 * cascade; the renamed user's audit logs (local rows with ON DELETE
 * CASCADE on it) survive: the update is in place. */
static void test_rename_insert_cascade(void **state)
{
	(void)state;
	for (const char *const *v = fx_versions; *v; v++) {
		struct net n;
		struct apply_result r;
		net_new(&n, *v);
		full_sync(&n);
		fx_seed_local(n.x.s, "s");
		fx_exec(n.x.p, "UPDATE users SET first_name = 'Alicia' WHERE id = 'u-alice'");
		delta_sync(&n, &r);
		assert_true(r.wrote);
		assert_int_equal(count_of(&r, "users", 'u'), 1);
		assert_int_equal(apply_total_changes(&r), 1);
		assert_int_equal(fx_count(n.x.s, "SELECT count(*) FROM audit_logs WHERE user_id = 'u-alice'"), 2);
		assert_int_equal(fx_count(n.x.s, "SELECT count(*) FROM users WHERE first_name = 'Alicia'"), 1);
		fx_row(n.x.p, "users", "id", "t:u-dave", "username", "t:dave", "email", "t:dave@example.com",
		       "first_name", "t:Dave", NULL);
		fx_row(n.x.p, "custom_claims", "id", "t:cc-2", "key", "t:team", "value", "t:red", "user_id", "t:u-dave", NULL);
		delta_sync(&n, &r);
		assert_int_equal(count_of(&r, "users", 'i'), 1);
		assert_int_equal(count_of(&r, "custom_claims", 'i'), 1);
		assert_int_equal(apply_total_changes(&r), 2);
		fx_exec(n.x.p, "DELETE FROM users WHERE id = 'u-alice'");
		assert_int_equal(fx_count(n.x.p, "SELECT count(*) FROM webauthn_credentials WHERE user_id = 'u-alice'"), 0);
		delta_sync(&n, &r);
		assert_int_equal(count_of(&r, "users", 'd'), 1);
		assert_int_equal(fx_count(n.x.s, "SELECT count(*) FROM webauthn_credentials WHERE user_id = 'u-alice'"), 0);
		assert_int_equal(fx_count(n.x.s, "SELECT count(*) FROM webauthn_credentials"), 1);
		assert_int_equal(fx_count(n.x.s, "SELECT count(*) FROM audit_logs WHERE user_id = 'u-bob'"), 2);
		net_free(&n);
	}
}

/* Two users swap usernames and emails, two passkeys a credential id, in
 * one delta each. */
static void test_unique_swap(void **state)
{
	(void)state;
	for (const char *const *v = fx_versions; *v; v++) {
		struct net n;
		struct apply_result r;
		net_new(&n, *v);
		full_sync(&n);
		fx_seed_local(n.x.s, "s");
		fx_exec(n.x.p, "UPDATE users SET username='tmp', email='tmp@x' WHERE id='u-alice';"
			       "UPDATE users SET username='alice', email='alice@example.com' WHERE id='u-bob';"
			       "UPDATE users SET username='bob', email='bob@example.com' WHERE id='u-alice';"
			       "UPDATE user_groups SET name='tmpg' WHERE id='g-admins';"
			       "UPDATE user_groups SET name='admins' WHERE id='g-staff';"
			       "UPDATE user_groups SET name='staff' WHERE id='g-admins';");
		delta_sync(&n, &r);
		assert_int_equal(count_of(&r, "users", 'u'), 2);
		assert_int_equal(count_of(&r, "user_groups", 'u'), 2);
		assert_int_equal(fx_count(n.x.s, "SELECT count(*) FROM users WHERE id='u-alice' AND username='bob'"), 1);
		assert_int_equal(fx_count(n.x.s, "SELECT count(*) FROM audit_logs"), 6);
		/* A value moving from a deleted row to an inserted one. */
		fx_exec(n.x.p, "CREATE TEMP TABLE t AS SELECT credential_id AS c FROM webauthn_credentials WHERE id='c-alice-2';"
			       "DELETE FROM webauthn_credentials WHERE id='c-alice-2';"
			       "UPDATE webauthn_credentials SET credential_id=(SELECT c FROM t) WHERE id='c-bob-1';"
			       "DROP TABLE t");
		delta_sync(&n, &r);
		assert_int_equal(count_of(&r, "webauthn_credentials", 'u'), 1);
		assert_int_equal(count_of(&r, "webauthn_credentials", 'd'), 1);
		net_free(&n);
	}
}

/* api_keys.last_used_at stays the secondary's; the instance id row stays;
 * the configuration table travels whole. */
static void test_per_node_and_local(void **state)
{
	(void)state;
	for (const char *const *v = fx_versions; *v; v++) {
		struct net n;
		struct apply_result r;
		char *id;
		net_new(&n, *v);
		full_sync(&n);
		id = fx_instance_id(n.x.s);
		fx_exec(n.x.s, "UPDATE api_keys SET last_used_at = 1800000000");
		fx_exec(n.x.p, "UPDATE api_keys SET last_used_at = 1700000500, name = 'ci-renamed'");
		delta_sync(&n, &r);
		assert_int_equal(count_of(&r, "api_keys", 'u'), 1);
		assert_int_equal(fx_count(n.x.s, "SELECT last_used_at FROM api_keys"), 1800000000);
		assert_int_equal(fx_count(n.x.s, "SELECT count(*) FROM api_keys WHERE name = 'ci-renamed'"), 1);
		if (fx_count(n.x.s, "SELECT count(*) FROM sqlite_schema WHERE name = 'app_config_variables'") == 1) {
			fx_row(n.x.p, "app_config_variables", "key", "t:accentColor", "value", "t:#abcdef", NULL);
			fx_row(n.x.s, "app_config_variables", "key", "t:sessionDuration", "value", "t:5", NULL);
			delta_sync(&n, &r);
			assert_int_equal(count_of(&r, "app_config_variables", 'i'), 1);
			assert_int_equal(count_of(&r, "app_config_variables", 'd'), 1); /* travels whole */
			assert_string_equal(r.restart_why, "app_config");
			assert_int_equal(fx_count(n.x.s, "SELECT count(*) FROM app_config_variables WHERE key = 'accentColor'"), 1);
		}
		char *id2 = fx_instance_id(n.x.s);
		assert_string_equal(id, id2);
		free(id);
		free(id2);
		net_free(&n);
	}
}

/* The JWT key rotates: the delta carries it (and nothing else). */
static void test_jwt_key_travels(void **state)
{
	struct jwt_store_cfg kp = {(const uint8_t *)KEY_P, strlen(KEY_P), NULL, NULL};
	struct apply_result r;
	struct net n;
	struct got g;
	bool changed;
	char err[256], *jwk;

	(void)state;
	net_new(&n, "v2.14");
	full_sync(&n);
	fx_exec(n.x.p, "BEGIN");
	if (jwt_store_write_kv(n.x.p, &kp, FX_JWK_B, false, &changed, err, sizeof(err)) != 0)
		fail_msg("jwk: %s", err);
	fx_exec(n.x.p, "COMMIT");
	assert_true(changed);
	produce(&n, &n.base, &g);
	assert_int_equal(g.kind, DOC2_DELTA);
	open_doc(&n, &g);
	assert_true(g.h.has_jwt);
	assert_int_equal(g.h.ntables, 0);
	got_free(&g);
	delta_sync(&n, &r);
	assert_true(r.jwt_changed);
	assert_string_equal(r.restart_why, "jwt_key");
	jwk = fx_jwk(n.x.s, KEY_S);
	assert_true(jwk_same(jwk, FX_JWK_B));
	free(jwk);
	/* A later delta from there does not carry it again. */
	fx_exec(n.x.p, "UPDATE users SET first_name = 'Alicia' WHERE id = 'u-alice'");
	produce(&n, &n.base, &g);
	open_doc(&n, &g);
	assert_false(g.h.has_jwt);
	got_free(&g);
	delta_sync(&n, &r);
	assert_false(r.jwt_changed);
	jwk = fx_jwk(n.x.s, KEY_S);
	assert_true(jwk_same(jwk, FX_JWK_B));
	free(jwk);
	net_free(&n);
}

static void test_refusals_change_nothing(void **state)
{
	(void)state;
	for (const char *const *v = fx_versions; *v; v++) {
		struct apply_opts o = opts();
		struct lthash wrong;
		struct net n;
		struct got g;
		char *saved;
		net_new(&n, *v);
		full_sync(&n);
		fx_seed_local(n.x.s, "s");
		fx_exec(n.x.p, "UPDATE users SET first_name = 'Alicia' WHERE id = 'u-alice'");
		delta_of_changes(&n, &g);
		expect_refused(&n, &g, NULL, &o, APPLY_ERR_BASE, "no verified content");
		/* Hand-edited after it was verified: the sum no longer describes
		 * the row the delta names. */
		fx_exec(n.x.s, "CREATE TABLE keep AS SELECT last_name FROM users WHERE id = 'u-alice'");
		fx_exec(n.x.s, "UPDATE users SET last_name = 'Edited' WHERE id = 'u-alice'");
		expect_refused(&n, &g, &n.sum, &o, APPLY_ERR_VERIFY, "rows hash differs");
		fx_exec(n.x.s, "UPDATE users SET last_name = (SELECT last_name FROM keep) WHERE id = 'u-alice';"
			       "DROP TABLE keep");
		/* A sum that is not this node's at all. */
		wrong = n.sum;
		wrong.lane[3] ^= 1;
		expect_refused(&n, &g, &wrong, &o, APPLY_ERR_VERIFY, "rows hash differs");
		/* A tampered rows hash in the header. */
		g.h.rows_hash[7] ^= 0x40;
		expect_refused(&n, &g, &n.sum, &o, APPLY_ERR_VERIFY, "rows hash differs");
		g.h.rows_hash[7] ^= 0x40;
		/* Another schema version. */
		saved = g.h.schema_version;
		g.h.schema_version = "29991231000000";
		expect_refused(&n, &g, &n.sum, &o, APPLY_ERR_SCHEMA, "");
		g.h.schema_version = saved;
		/* Busy: another connection holds the write lock. */
		o.max_attempts = 2;
		sqlite3_busy_timeout(n.x.sdb, 20);
		fx_exec(n.x.s, "BEGIN IMMEDIATE");
		expect_refused(&n, &g, &n.sum, &o, APPLY_ERR_BUSY, "busy");
		fx_exec(n.x.s, "ROLLBACK");
		sqlite3_busy_timeout(n.x.sdb, 2000);
		o.max_attempts = 0;
		/* And the same delta still applies afterwards. */
		struct apply_result r;
		struct apply2_out out;
		char err[256];
		if (apply_got(&n, &g, &n.sum, &o, &r, &out, err) != APPLY_OK)
			fail_msg("%s: %s", *v, err);
		assert_true(r.wrote);
		assert_same_durable(&n.x);
		apply2_out_free(&out);
		got_free(&g);
		net_free(&n);
	}
}

/* The valve counts a delta's deletes against the table's rows, not the
 * rows the delta names. */
static void test_valve_share_of_table(void **state)
{
	struct apply_opts o = opts();
	struct apply_result r;
	struct net n;
	struct got g;

	(void)state;
	o.max_delete_percent = 50;
	net_new(&n, "v2.14");
	full_sync(&n);
	fx_exec(n.x.p, "DELETE FROM users WHERE id = 'u-f1'");
	delta_sync_opts(&n, &o, &r); /* one user in 43: 2 %, though all the delta names */
	assert_int_equal(count_of(&r, "users", 'd'), 1);
	fx_exec(n.x.p, "DELETE FROM users WHERE id LIKE 'u-f%' AND CAST(substr(id, 4) AS INTEGER) <= 30");
	delta_of_changes(&n, &g);
	expect_refused(&n, &g, &n.sum, &o, APPLY_ERR_VALVE, "");
	got_free(&g);
	o.force = true;
	delta_sync_opts(&n, &o, &r);
	assert_int_equal(count_of(&r, "users", 'd'), 29);
	net_free(&n);
}

/* A changes record whose key columns are not the table's key. */
static void test_key_not_the_tables(void **state)
{
	struct apply_opts o = opts();
	struct doc2_reader rd;
	struct doc2_header h;
	struct doc2_table t;
	struct net n;
	struct got g, fake = {0};
	char err[256], *rec, *buf = NULL;
	size_t len, blen = 0;

	(void)state;
	net_new(&n, "v2.14");
	full_sync(&n);
	fx_exec(n.x.p, "UPDATE users SET first_name = 'Alicia' WHERE id = 'u-alice'");
	delta_of_changes(&n, &g);
	doc2_reader_init(&rd, g.pt, g.n);
	assert_int_equal(doc2_read_header(&rd, &h, err, sizeof(err)), 0);
	assert_int_equal(doc2_encode_header(&h, &rec, &len), 0);
	buf = rec;
	blen = len;
	while (doc2_read_table(&rd, &t, err, sizeof(err)) == 1) {
		assert_true(t.changes);
		assert_string_equal(t.t.name, "users");
		free(t.key[0]);
		t.key[0] = strdup("username");
		assert_int_equal(doc2_encode_table(&t, &rec, &len), 0);
		buf = realloc(buf, blen + len);
		memcpy(buf + blen, rec, len);
		blen += len;
		OPENSSL_clear_free(rec, len);
		doc2_table_free(&t);
	}
	doc2_reader_free(&rd);
	doc2_header_free(&h);
	fake.pt = (uint8_t *)buf;
	fake.n = blen;
	doc2_reader_init(&rd, fake.pt, fake.n);
	if (doc2_read_header(&rd, &fake.h, err, sizeof(err)) != 0)
		fail_msg("header: %s", err);
	doc2_reader_free(&rd);
	expect_refused(&n, &fake, &n.sum, &o, APPLY_ERR_SCHEMA, "key columns");
	doc2_header_free(&fake.h);
	OPENSSL_clear_free(buf, blen);
	got_free(&g);
	net_free(&n);
}

/* A delta whose records end early (the header announces one more): the
 * records read before the error are freed, nothing changes. */
static void test_malformed_delta(void **state)
{
	struct apply_opts o = opts();
	struct doc2_reader rd;
	struct doc2_header h;
	struct net n;
	struct got g, fake = {0};
	char err[256], *rec, *buf;
	size_t len, hlen;

	(void)state;
	net_new(&n, "v2.14");
	full_sync(&n);
	fx_exec(n.x.p, "UPDATE users SET first_name = 'Alicia' WHERE id = 'u-alice'");
	fx_row(n.x.p, "custom_claims", "id", "t:cc-2", "key", "t:team", "value", "t:red", "user_id", "t:u-bob", NULL);
	delta_of_changes(&n, &g);
	assert_int_equal(g.h.ntables, 2);
	doc2_reader_init(&rd, g.pt, g.n);
	assert_int_equal(doc2_read_header(&rd, &h, err, sizeof(err)), 0);
	hlen = rd.off;
	doc2_reader_free(&rd);
	h.ntables = 3;
	assert_int_equal(doc2_encode_header(&h, &rec, &len), 0);
	doc2_header_free(&h);
	buf = malloc(len + g.n - hlen);
	assert_non_null(buf);
	memcpy(buf, rec, len);
	memcpy(buf + len, g.pt + hlen, g.n - hlen);
	fake.pt = (uint8_t *)buf;
	fake.n = len + g.n - hlen;
	OPENSSL_clear_free(rec, len);
	doc2_reader_init(&rd, fake.pt, fake.n);
	if (doc2_read_header(&rd, &fake.h, err, sizeof(err)) != 0)
		fail_msg("header: %s", err);
	doc2_reader_free(&rd);
	expect_refused(&n, &fake, &n.sum, &o, APPLY_ERR_INVALID, "");
	doc2_header_free(&fake.h);
	OPENSSL_clear_free(buf, fake.n);
	got_free(&g);
	net_free(&n);
}

/* A CIMD client only the secondary has is kept out of its sum; deltas
 * touching oidc_clients and their allowed groups verify around it, and a
 * CIMD client both have keeps the secondary's metadata columns. */
static void test_cimd_kept(void **state)
{
	struct apply_result r;
	struct net n;

	(void)state;
	net_new(&n, "v2.14");
	fx_row(n.x.p, "oidc_clients", "id", "t:https://both.example/meta", "name", "t:Primary's", "client_type",
	       "t:cimd", "launch_url", "t:https://p/", NULL);
	full_sync(&n);
	fx_row(n.x.s, "oidc_clients", "id", "t:https://local.example/meta", "name", "t:Local", "client_type", "t:cimd", NULL);
	fx_row(n.x.s, "oidc_clients_allowed_user_groups", "oidc_client_id", "t:https://local.example/meta",
	       "user_group_id", "t:g-staff", NULL);
	fx_exec(n.x.s, "UPDATE oidc_clients SET name = 'Own' WHERE id = 'https://both.example/meta'");
	fx_exec(n.x.p, "UPDATE users SET first_name = 'Alicia' WHERE id = 'u-alice'");
	full_sync(&n); /* learns what it keeps */
	assert_int_equal(n.kept.n, 1);
	fx_exec(n.x.p, "UPDATE oidc_clients SET name = 'Grafana 2' WHERE id = 'client-1';"
		       "UPDATE oidc_clients SET launch_url = 'https://p2/', name = 'Primary 2' WHERE id = 'https://both.example/meta'");
	fx_row(n.x.p, "oidc_clients_allowed_user_groups", "oidc_client_id", "t:client-1", "user_group_id", "t:g-admins", NULL);
	delta_sync(&n, &r);
	assert_int_equal(count_of(&r, "oidc_clients", 'u'), 2);
	assert_int_equal(count_of(&r, "oidc_clients_allowed_user_groups", 'i'), 1);
	assert_int_equal(fx_count(n.x.s, "SELECT count(*) FROM oidc_clients_allowed_user_groups WHERE "
					 "oidc_client_id = 'https://local.example/meta'"), 1);
	assert_int_equal(fx_count(n.x.s, "SELECT count(*) FROM oidc_clients WHERE id = 'https://both.example/meta' "
					 "AND name = 'Own' AND launch_url = 'https://p2/'"), 1);
	fx_exec(n.x.p, "DELETE FROM user_groups WHERE id = 'g-staff'"); /* cascades to allowed groups */
	delta_sync(&n, &r);
	assert_int_equal(count_of(&r, "user_groups", 'd'), 1);
	net_free(&n);
}

/* Through ingest_wire: a full snapshot, a delta from it, then a delta from
 * the generation before the one applied: "delta_base", nothing changed. */
static void test_ingest_delta_base(void **state)
{
	struct ingest_opts io = {.media = PROTOCOL_V2};
	struct ingest_result ir;
	struct config cfg = {0};
	struct state *sst;
	struct net n;
	struct got g;
	struct produce_base first;
	struct lthash sum;
	char path[1024], err[512], *before, *after;

	(void)state;
	net_new(&n, "v2.14");
	snprintf(path, sizeof(path), "%s/sstate", n.x.dir);
	if (state_open(path, &sst, err, sizeof(err)) != 0)
		fail_msg("state: %s", err);
	cfg.state_dir = path;
	cfg.has_primary_pubkey = true;
	memcpy(cfg.primary_pubkey, n.pk.pub, 32);
	cfg.encryption_key = (uint8_t *)KEY_S;
	cfg.encryption_key_len = strlen(KEY_S);
	cfg.max_payload_bytes = MAX_WIRE;
	cfg.max_delete_percent = 50;

	produce(&n, NULL, &g);
	if (ingest_wire(&cfg, &n.sk, sst, n.x.sdb, g.wire, g.len, &io, &ir, err, sizeof(err)) != 0)
		fail_msg("full: %s: %s", ir.reason, err);
	assert_true(ir.verified);
	assert_int_equal(ir.kind, DOC2_FULL);
	first = (struct produce_base){true, ir.generation, {0}};
	memcpy(first.rows_hash, ir.rows_hash, 32);
	sum = ir.sum;
	ingest_result_free(&ir);
	got_free(&g);

	fx_exec(n.x.p, "UPDATE users SET first_name = 'Alicia' WHERE id = 'u-alice'");
	produce(&n, &first, &g);
	assert_int_equal(g.kind, DOC2_DELTA);
	io.verified_sum = &sum;
	if (ingest_wire(&cfg, &n.sk, sst, n.x.sdb, g.wire, g.len, &io, &ir, err, sizeof(err)) != 0)
		fail_msg("delta: %s: %s", ir.reason, err);
	assert_true(ir.verified);
	assert_int_equal(ir.kind, DOC2_DELTA);
	assert_same_durable(&n.x);
	sum = ir.sum;
	struct produce_base second = {true, ir.generation, {0}};
	memcpy(second.rows_hash, ir.rows_hash, 32);
	ingest_result_free(&ir);
	got_free(&g);

	fx_exec(n.x.p, "UPDATE users SET first_name = 'Bobby' WHERE id = 'u-bob'");
	produce(&n, &first, &g); /* the ledger can still start from the first */
	assert_int_equal(g.kind, DOC2_DELTA);
	before = tu_db_dump(n.x.s);
	assert_int_equal(ingest_wire(&cfg, &n.sk, sst, n.x.sdb, g.wire, g.len, &io, &ir, err, sizeof(err)), -1);
	assert_string_equal(ir.reason, "delta_base");
	assert_non_null(strstr(err, "starts at generation"));
	after = tu_db_dump(n.x.s);
	assert_string_equal(before, after);
	free(before);
	free(after);
	ingest_result_free(&ir);
	got_free(&g);
	/* The right base, but the sum this node offers is not its verified one. */
	struct lthash wrong = sum;
	wrong.lane[0] ^= 1;
	io.verified_sum = &wrong;
	produce(&n, &second, &g);
	assert_int_equal(g.kind, DOC2_DELTA);
	before = tu_db_dump(n.x.s);
	assert_int_equal(ingest_wire(&cfg, &n.sk, sst, n.x.sdb, g.wire, g.len, &io, &ir, err, sizeof(err)), -1);
	assert_string_equal(ir.reason, "delta_base");
	assert_non_null(strstr(err, "not the one it verified"));
	after = tu_db_dump(n.x.s);
	assert_string_equal(before, after);
	free(before);
	free(after);
	ingest_result_free(&ir);
	got_free(&g);
	/* With its own sum the same delta applies. */
	io.verified_sum = &sum;
	produce(&n, &second, &g);
	if (ingest_wire(&cfg, &n.sk, sst, n.x.sdb, g.wire, g.len, &io, &ir, err, sizeof(err)) != 0)
		fail_msg("delta: %s: %s", ir.reason, err);
	assert_same_durable(&n.x);
	ingest_result_free(&ir);
	got_free(&g);
	state_close(sst);
	net_free(&n);
}

/* More named rows than the linear search serves (the keymap): 100
 * inserts, then 100 updates, then 80 deletes, one delta each. */
static void test_large_delta(void **state)
{
	struct apply_result r;
	struct net n;

	(void)state;
	net_new(&n, "v2.14");
	full_sync(&n);
	fx_exec(n.x.p, "BEGIN");
	for (int i = 1; i <= 100; i++) {
		char id[32], name[32], mail[64];
		snprintf(id, sizeof(id), "t:u-b%d", i);
		snprintf(name, sizeof(name), "t:bulk%d", i);
		snprintf(mail, sizeof(mail), "t:bulk%d@example.com", i);
		fx_row(n.x.p, "users", "id", id, "username", name, "email", mail, "first_name", "t:B", NULL);
	}
	fx_exec(n.x.p, "COMMIT");
	delta_sync(&n, &r);
	assert_int_equal(count_of(&r, "users", 'i'), 100);
	fx_exec(n.x.p, "UPDATE users SET first_name = 'Bulk ' || id WHERE id GLOB 'u-b[0-9]*'");
	delta_sync(&n, &r);
	assert_int_equal(count_of(&r, "users", 'u'), 100);
	assert_int_equal(count_of(&r, "users", 'i'), 0);
	fx_exec(n.x.p, "DELETE FROM users WHERE id GLOB 'u-b[0-9]*' AND CAST(substr(id, 4) AS INTEGER) <= 80");
	delta_sync(&n, &r);
	assert_int_equal(count_of(&r, "users", 'd'), 80);
	net_free(&n);
}

struct rng {
	uint64_t s;
};

static uint64_t rnd(struct rng *r)
{
	uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static void exec_fmt(sqlite3 *db, const char *fmt, ...)
{
	va_list ap;
	char *sql;

	va_start(ap, fmt);
	sql = sqlite3_vmprintf(fmt, ap);
	va_end(ap);
	fx_exec(db, sql);
	sqlite3_free(sql);
}

static long count_fmt(sqlite3 *db, const char *fmt, ...)
{
	va_list ap;
	char *sql;
	long n;

	va_start(ap, fmt);
	sql = sqlite3_vmprintf(fmt, ap);
	va_end(ap);
	n = fx_count(db, sql);
	sqlite3_free(sql);
	return n;
}

/* One random durable change on the primary (users u-r<i>, their claims,
 * group memberships and passkeys; UNIQUE values moving between users). */
static void random_op(sqlite3 *db, struct rng *r, unsigned *next, bool v2)
{
	unsigned a = 1 + (unsigned)(rnd(r) % (*next + 1)), b = 1 + (unsigned)(rnd(r) % (*next + 1));
	char id[32], name[32], mail[64], cred[32];

	switch (rnd(r) % 9) {
	case 0:
	case 1:
		++*next;
		snprintf(id, sizeof(id), "t:u-r%u", *next);
		snprintf(name, sizeof(name), "t:r%u", *next);
		snprintf(mail, sizeof(mail), "t:r%u@example.com", *next);
		fx_row(db, "users", "id", id, "username", name, "email", mail, "first_name", "t:R", NULL);
		break;
	case 2:
		exec_fmt(db, "UPDATE users SET first_name = 'F%u' WHERE id = 'u-r%u'", (unsigned)(rnd(r) % 100), a);
		break;
	case 3:
		exec_fmt(db, "DELETE FROM users WHERE id = 'u-r%u'", a);
		break;
	case 4: /* swap usernames and emails */
		if (a == b || count_fmt(db, "SELECT count(*) FROM users WHERE id IN ('u-r%u','u-r%u')", a, b) != 2)
			break;
		exec_fmt(db, "CREATE TEMP TABLE sw AS SELECT"
			     " (SELECT username FROM users WHERE id = 'u-r%u') AS ua, (SELECT email FROM users WHERE id = 'u-r%u') AS ea,"
			     " (SELECT username FROM users WHERE id = 'u-r%u') AS ub, (SELECT email FROM users WHERE id = 'u-r%u') AS eb;"
			     "UPDATE users SET username = 'tmp', email = 'tmp@x' WHERE id = 'u-r%u';"
			     "UPDATE users SET username = (SELECT ua FROM sw), email = (SELECT ea FROM sw) WHERE id = 'u-r%u';"
			     "UPDATE users SET username = (SELECT ub FROM sw), email = (SELECT eb FROM sw) WHERE id = 'u-r%u';"
			     "DROP TABLE sw", a, a, b, b, a, b, a);
		break;
	case 5:
		exec_fmt(db, "INSERT OR REPLACE INTO custom_claims(id,key,value,user_id) SELECT 'cr%u','k','v%u',id "
			     "FROM users WHERE id = 'u-r%u'", a, (unsigned)(rnd(r) % 100), a);
		break;
	case 6:
		exec_fmt(db, "INSERT OR IGNORE INTO user_groups_users(user_id,user_group_id) SELECT id,'g-staff' "
			     "FROM users WHERE id = 'u-r%u'", a);
		break;
	case 7:
		exec_fmt(db, "DELETE FROM user_groups_users WHERE user_id = 'u-r%u'", a);
		break;
	default:
		if (count_fmt(db, "SELECT count(*) FROM users WHERE id = 'u-r%u'", a) != 1)
			break;
		++*next;
		snprintf(id, sizeof(id), "t:c-r%u", *next);
		snprintf(name, sizeof(name), "t:u-r%u", a);
		snprintf(cred, sizeof(cred), v2 ? "b:%08u" : "t:cred-r%u", *next);
		fx_row(db, "webauthn_credentials", "id", id, "name", "t:Key", "user_id", name, "credential_id", cred,
		       "public_key", "b:pQECAyYgASFYIg==", "attestation_type", "t:none", NULL);
	}
}

/* Seeded random changes, synced as deltas (a full snapshot when the
 * delta would be as large), sometimes several generations at once: after
 * each, both nodes hold the same rows and every rows hash agrees (see
 * delta_sync_opts). APPLY_DELTA_SEED=N replays one. */
static void test_random_deltas(void **state)
{
	uint64_t seed = getenv("APPLY_DELTA_SEED") ? strtoull(getenv("APPLY_DELTA_SEED"), NULL, 10) : 977;
	struct rng r = {seed};

	(void)state;
	print_message("apply_delta seed %" PRIu64 "\n", seed);
	for (const char *const *v = fx_versions; *v; v++) {
		struct apply_opts o = opts();
		struct apply_result res;
		struct net n;
		unsigned next = 0, deltas = 0;
		bool v2;
		net_new(&n, *v);
		v2 = fx_count(n.x.p, "SELECT count(*) FROM sqlite_schema WHERE name = 'storage'") == 1;
		full_sync(&n);
		fx_seed_local(n.x.s, "s");
		for (int round = 0; round < 25; round++) {
			int nops = (int)(rnd(&r) % 6);
			/* at least one change: a delta starts below the generation */
			exec_fmt(n.x.p, "UPDATE users SET first_name = 'R%d' WHERE id = 'u-f1'", round);
			for (int i = 0; i < nops; i++)
				random_op(n.x.p, &r, &next, v2);
			if (rnd(&r) % 4 == 0) { /* the secondary misses this generation */
				struct produced pr;
				char err[256];
				if (produce_begin(n.w, n.pdb, &n.cfg, n.pst, NULL, &pr, err, sizeof(err)) != 0)
					fail_msg("produce_begin: %s", err);
				produce_end(n.pdb);
				continue;
			}
			struct got g;
			produce(&n, &n.base, &g);
			if (g.kind == DOC2_FULL) {
				got_free(&g);
				full_sync(&n);
				assert_same_durable(&n.x);
				continue;
			}
			got_free(&g);
			delta_sync_opts(&n, &o, &res);
			deltas++;
		}
		assert_true(deltas > 10);
		net_free(&n);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rename_insert_cascade),
		cmocka_unit_test(test_unique_swap),
		cmocka_unit_test(test_per_node_and_local),
		cmocka_unit_test(test_jwt_key_travels),
		cmocka_unit_test(test_refusals_change_nothing),
		cmocka_unit_test(test_valve_share_of_table),
		cmocka_unit_test(test_key_not_the_tables),
		cmocka_unit_test(test_malformed_delta),
		cmocka_unit_test(test_cimd_kept),
		cmocka_unit_test(test_ingest_delta_base),
		cmocka_unit_test(test_large_delta),
		cmocka_unit_test(test_random_deltas),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
