/* test_ledger: the primary's ledger (sidecar/ledger.c) on fixture
 * databases: which keys a rescan records (first read none; an update, an
 * insert, a delete exactly their key; bookkeeping and per-node columns
 * none), its rows hash and content hash against full scans after seeded
 * random changes (through the change watch as the daemon drives it), and
 * ledger_plan: the union of keys since a base, its refusals (unknown base,
 * base hash differs, trimmed journal, keys not yet filed), merging a
 * generation filed twice, a generation going back, and the JWT key and
 * configuration digests. It does not test deltas on the wire
 * (test_apply_delta.c). */
#include "change_watch.h"
#include "export.h"
#include "ledger.h"
#include "pidb.h"
#include "pidfix.h"
#include "rowhash.h"
#include "schema.h"
#include "testutil.h"
#include "fxpair.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAXGEN 64

struct lw {
	char *dir;
	sqlite3 *db;
	struct schema s;
	struct ledger *l;
	uint64_t gen;
	uint8_t hash[MAXGEN][32]; /* rows hash filed with each generation */
};

static const uint8_t zero[32];

static void lw_new(struct lw *x, const char *version)
{
	char err[256];

	memset(x, 0, sizeof(*x));
	x->dir = tu_mkdtemp();
	x->db = fx_create(x->dir, "primary.db", version, "11111111-aaaa", KEY_P, FX_JWK_A);
	fx_seed(x->db);
	if (schema_load(x->db, &x->s, err, sizeof(err)) != 0)
		fail_msg("schema: %s", err);
	x->l = ledger_new();
	assert_non_null(x->l);
}

static void lw_free(struct lw *x)
{
	ledger_free(x->l);
	schema_free(&x->s);
	sqlite3_close(x->db);
	tu_rmtree(x->dir);
}

/* Every table re-read in one read transaction; whether any row moved. */
static bool scan(struct lw *x)
{
	bool changed = false;
	char err[256];

	fx_exec(x->db, "BEGIN");
	for (size_t i = 0; i < x->s.ntables; i++) {
		if (ledger_rescan(x->l, x->db, &x->s.tables[i], &changed, err, sizeof(err)) != 0)
			fail_msg("rescan %s: %s", x->s.tables[i].name, err);
	}
	fx_exec(x->db, "COMMIT");
	return changed;
}

static void file_gen(struct lw *x, uint64_t gen)
{
	assert_true(gen < MAXGEN);
	ledger_file(x->l, gen, zero, zero);
	ledger_rows_hash(x->l, x->hash[gen]);
	x->gen = gen;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* d's keys as "table:k1,k2 ..." sorted, malloc'd. */
static char *keys_text(const struct ledger_delta *d)
{
	char **v = calloc(d->nkeys + 1, sizeof(char *)), *out;
	size_t n = 0, len = 1;

	assert_non_null(v);
	for (size_t t = 0; t < d->ntables; t++) {
		const struct ledger_delta_table *dt = &d->t[t];
		for (size_t k = 0; k < dt->n; k++) {
			char buf[512];
			int o = snprintf(buf, sizeof(buf), "%s:", dt->name);
			for (size_t c = 0; c < dt->nkey; c++) {
				const struct pl_value *pv = &dt->keys[k * dt->nkey + c];
				if (pv->type == PL_INT)
					o += snprintf(buf + o, sizeof(buf) - (size_t)o, "%s%" PRId64, c ? "," : "", pv->u.i);
				else if (pv->type == PL_TEXT)
					o += snprintf(buf + o, sizeof(buf) - (size_t)o, "%s%s", c ? "," : "",
						      (const char *)pv->u.bytes);
				else
					o += snprintf(buf + o, sizeof(buf) - (size_t)o, "%s?", c ? "," : "");
			}
			v[n++] = strdup(buf);
		}
	}
	assert_int_equal(n, d->nkeys);
	qsort(v, n, sizeof(char *), cmp_str);
	for (size_t i = 0; i < n; i++)
		len += strlen(v[i]) + 1;
	out = calloc(1, len);
	assert_non_null(out);
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			strcat(out, " ");
		strcat(out, v[i]);
		free(v[i]);
	}
	free(v);
	return out;
}

/* The keys changed after base (which must plan). */
static char *since(struct lw *x, uint64_t base)
{
	struct ledger_delta d;
	char *s;

	if (ledger_plan(x->l, base, x->hash[base], &d) != 0)
		fail_msg("no plan from generation %" PRIu64, base);
	assert_int_equal(d.base, base);
	assert_int_equal(d.generation, x->gen);
	s = keys_text(&d);
	ledger_delta_free(&d);
	return s;
}

/* Scans, files the next generation and expects exactly want recorded in it. */
static void expect_step(struct lw *x, const char *want)
{
	uint64_t prev = x->gen;
	char *got;

	assert_int_equal(scan(x), want[0] != '\0');
	file_gen(x, prev + 1);
	got = since(x, prev);
	assert_string_equal(got, want);
	free(got);
}

static void rows_hash_of(sqlite3 *db, uint8_t out[32])
{
	struct schema s;
	char err[256];

	if (schema_load(db, &s, err, sizeof(err)) != 0 || rowhash_scan(db, &s, NULL, out, err, sizeof(err)) != 0)
		fail_msg("rows hash: %s", err);
	schema_free(&s);
}

/* ---- tests ---- */

static void test_first_rescan_records_nothing(void **state)
{
	struct ledger_stats ls;
	struct lw x;
	char *k;

	(void)state;
	lw_new(&x, "v2.14");
	assert_true(scan(&x)); /* rows appeared */
	file_gen(&x, 1);
	ledger_stats(x.l, &ls);
	assert_int_equal(ls.keys, 0);
	assert_int_equal(ls.generations, 1);
	assert_int_equal(ls.oldest, 1);
	assert_true(ls.rows > 10);
	assert_false(scan(&x)); /* unchanged */
	file_gen(&x, 2);
	k = since(&x, 1);
	assert_string_equal(k, "");
	free(k);
	lw_free(&x);
}

static void test_update_insert_delete(void **state)
{
	(void)state;
	for (const char *const *v = fx_versions; *v; v++) {
		struct lw x;
		lw_new(&x, *v);
		scan(&x);
		file_gen(&x, 1);
		fx_exec(x.db, "UPDATE users SET first_name = 'Alicia' WHERE id = 'u-alice'");
		expect_step(&x, "users:u-alice");
		fx_row(x.db, "custom_claims", "id", "t:cc-2", "key", "t:team", "value", "t:red", "user_id", "t:u-carol", NULL);
		expect_step(&x, "custom_claims:cc-2");
		fx_exec(x.db, "DELETE FROM webauthn_credentials WHERE id = 'c-alice-2'");
		expect_step(&x, "webauthn_credentials:c-alice-2");
		fx_exec(x.db, "DELETE FROM user_groups_users WHERE user_id = 'u-bob'");
		expect_step(&x, "user_groups_users:u-bob,g-staff");
		/* A cascade records the children it removed. */
		fx_exec(x.db, "DELETE FROM users WHERE id = 'u-alice'");
		{
			uint64_t prev = x.gen;
			char *k;
			assert_true(scan(&x));
			file_gen(&x, prev + 1);
			k = since(&x, prev);
			assert_non_null(strstr(k, "users:u-alice"));
			assert_non_null(strstr(k, "webauthn_credentials:c-alice-1"));
			free(k);
		}
		expect_step(&x, "");
		lw_free(&x);
	}
}

/* Bookkeeping (users.updated_at) and per-node (api_keys.last_used_at)
 * columns, and local tables, move nothing. */
static void test_bookkeeping_and_per_node(void **state)
{
	(void)state;
	for (size_t i = 1; fx_versions[i] != NULL; i++) { /* users.updated_at: v2.0+ */
		struct lw x;
		uint8_t before[32], after[32];
		lw_new(&x, fx_versions[i]);
		scan(&x);
		file_gen(&x, 1);
		ledger_rows_hash(x.l, before);
		fx_exec(x.db, "UPDATE users SET updated_at = '2031-01-01 00:00:00'");
		expect_step(&x, "");
		fx_exec(x.db, "UPDATE api_keys SET last_used_at = 1800000000");
		expect_step(&x, "");
		fx_seed_local(x.db, "p");
		expect_step(&x, "");
		ledger_rows_hash(x.l, after);
		assert_memory_equal(before, after, 32);
		fx_exec(x.db, "UPDATE api_keys SET name = 'renamed'");
		expect_step(&x, "api_keys:k-1");
		lw_free(&x);
	}
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

static void random_op(sqlite3 *db, struct rng *r, unsigned *next)
{
	unsigned u = 1 + (unsigned)(rnd(r) % (*next + 1));
	char *sql = NULL;

	switch (rnd(r) % 8) {
	case 0:
	case 1:
		++*next;
		sql = sqlite3_mprintf("INSERT INTO users(id,username,first_name,last_name,display_name) "
				      "VALUES('u%u','user%u','F%u','L','D')", *next, *next, (unsigned)(rnd(r) % 1000));
		break;
	case 2:
		sql = sqlite3_mprintf("UPDATE users SET first_name = 'F%u' WHERE id = 'u%u'",
				      (unsigned)(rnd(r) % 1000), u);
		break;
	case 3:
		sql = sqlite3_mprintf("DELETE FROM users WHERE id = 'u%u'", u);
		break;
	case 4:
		sql = sqlite3_mprintf("INSERT OR REPLACE INTO custom_claims(id,key,value,user_id) SELECT "
				      "'c%u','k%u','v%u',id FROM users WHERE id = 'u%u'", u,
				      (unsigned)(rnd(r) % 3), (unsigned)(rnd(r) % 100), u);
		break;
	case 5:
		sql = sqlite3_mprintf("INSERT OR IGNORE INTO user_groups_users(user_id,user_group_id) SELECT id,"
				      "'g-staff' FROM users WHERE id = 'u%u'", u);
		break;
	case 6:
		sql = sqlite3_mprintf("DELETE FROM user_groups_users WHERE user_id = 'u%u'", u);
		break;
	default: /* a swap back and forth: the same content again */
		sql = sqlite3_mprintf("UPDATE users SET last_name = 'X' WHERE id = 'u%u';"
				      "UPDATE users SET last_name = 'L' WHERE id = 'u%u'", u, u);
	}
	fx_exec(db, sql);
	sqlite3_free(sql);
}

/* Through the change watch, as the daemon drives the ledger: after every
 * batch of seeded random writes, its rows hash is rowhash_scan's and its
 * content hash export_snapshot's. */
static void test_hashes_match_scans(void **state)
{
	uint64_t seed = getenv("LEDGER_SEED") ? strtoull(getenv("LEDGER_SEED"), NULL, 10) : 20261203;
	struct jwt_store_cfg keys = {(const uint8_t *)KEY_P, strlen(KEY_P), NULL, NULL};
	struct rng r = {seed};
	char *dir = tu_mkdtemp(), path[1024], err[256];
	sqlite3 *w = fx_create(dir, "primary.db", "v2.14", "11111111-aaaa", KEY_P, FX_JWK_A), *db;
	struct change_watch *cw = change_watch_new();
	unsigned next = 0;

	(void)state;
	print_message("ledger seed %" PRIu64 "\n", seed);
	fx_seed(w);
	snprintf(path, sizeof(path), "%s/primary.db", dir);
	assert_int_equal(pidb_open(path, 2000, &db, err, sizeof(err)), 0);
	assert_non_null(cw);
	for (int batch = 0; batch < 60; batch++) {
		struct export_result res, full;
		struct ledger_stats ls;
		uint8_t want[32], have[32];
		int nops = (int)(rnd(&r) % 12);
		for (int i = 0; i < nops; i++)
			random_op(w, &r, &next);
		if (change_watch_check(cw, db, &keys, &res, err, sizeof(err)) != 0)
			fail_msg("batch %d: check: %s", batch, err);
		ledger_file(change_watch_ledger(cw), (uint64_t)batch + 1, res.jwk_digest, zero);
		rows_hash_of(w, want);
		ledger_rows_hash(change_watch_ledger(cw), have);
		assert_memory_equal(want, have, 32);
		assert_memory_equal(want, res.rows_hash, 32);
		if (export_snapshot(w, &keys, NULL, &full, err, sizeof(err)) != 0)
			fail_msg("export: %s", err);
		assert_memory_equal(full.content_hash, res.content_hash, 32);
		assert_memory_equal(full.rows_hash, have, 32);
		ledger_content_hash(change_watch_ledger(cw), change_watch_schema(cw), res.jwk_digest, have);
		assert_memory_equal(full.content_hash, have, 32);
		ledger_stats(change_watch_ledger(cw), &ls);
		assert_int_equal(ls.oldest, 1);
		assert_int_equal(ls.generations, (size_t)batch + 1);
	}
	change_watch_free(cw);
	sqlite3_close(db);
	sqlite3_close(w);
	tu_rmtree(dir);
}

/* The plan from a base is the union of what changed after it, each key
 * once; from the last generation it is empty. */
static void test_plan_union(void **state)
{
	struct ledger_delta d;
	struct lw x;
	char *k;

	(void)state;
	lw_new(&x, "v2.14");
	scan(&x);
	file_gen(&x, 1);
	fx_exec(x.db, "UPDATE users SET first_name = 'A1' WHERE id = 'u-alice'");
	expect_step(&x, "users:u-alice"); /* 2 */
	fx_exec(x.db, "UPDATE users SET first_name = 'B1' WHERE id = 'u-bob'");
	expect_step(&x, "users:u-bob"); /* 3 */
	fx_exec(x.db, "UPDATE users SET first_name = 'A2' WHERE id = 'u-alice'");
	expect_step(&x, "users:u-alice"); /* 4 */
	fx_exec(x.db, "DELETE FROM custom_claims");
	expect_step(&x, "custom_claims:cc-1"); /* 5 */
	k = since(&x, 1);
	assert_string_equal(k, "custom_claims:cc-1 users:u-alice users:u-bob");
	free(k);
	k = since(&x, 3);
	assert_string_equal(k, "custom_claims:cc-1 users:u-alice");
	free(k);
	k = since(&x, 5);
	assert_string_equal(k, "");
	free(k);
	assert_int_equal(ledger_plan(x.l, 1, x.hash[1], &d), 0);
	assert_int_equal(d.nkeys, 3);
	assert_int_equal(d.ntables, 2);
	assert_false(d.jwk_changed);
	assert_false(d.appcfg_changed);
	ledger_delta_free(&d);
	lw_free(&x);
}

static void test_plan_refusals(void **state)
{
	struct ledger_delta d;
	struct ledger_stats ls;
	uint8_t bad[32];
	struct lw x;

	(void)state;
	lw_new(&x, "v2.14");
	scan(&x);
	file_gen(&x, 1);
	fx_exec(x.db, "UPDATE users SET first_name = 'A1' WHERE id = 'u-alice'");
	expect_step(&x, "users:u-alice");
	assert_int_equal(ledger_plan(x.l, 7, x.hash[1], &d), 1); /* unknown base */
	assert_int_equal(ledger_plan(x.l, 0, zero, &d), 1);
	memcpy(bad, x.hash[1], 32);
	bad[5] ^= 1;
	assert_int_equal(ledger_plan(x.l, 1, bad, &d), 1); /* base hash differs */
	assert_int_equal(ledger_plan(x.l, 1, x.hash[2], &d), 1);
	/* Keys read but not filed yet: the last generation is not the content. */
	fx_exec(x.db, "UPDATE users SET first_name = 'B1' WHERE id = 'u-bob'");
	assert_true(scan(&x));
	assert_int_equal(ledger_plan(x.l, 1, x.hash[1], &d), 1);
	file_gen(&x, 3);
	assert_int_equal(ledger_plan(x.l, 1, x.hash[1], &d), 0);
	ledger_delta_free(&d);
	/* Trimmed: after LEDGER_MAX_GENERATIONS more, generation 1 is gone. */
	for (uint64_t g = 4; g < 4 + LEDGER_MAX_GENERATIONS - 3; g++)
		ledger_file(x.l, g, zero, zero);
	ledger_stats(x.l, &ls);
	assert_int_equal(ls.generations, LEDGER_MAX_GENERATIONS);
	assert_int_equal(ls.oldest, 1);
	assert_int_equal(ledger_plan(x.l, 1, x.hash[1], &d), 0); /* still reachable */
	assert_int_equal(d.nkeys, 2);
	ledger_delta_free(&d);
	ledger_file(x.l, 4 + LEDGER_MAX_GENERATIONS - 3, zero, zero);
	ledger_stats(x.l, &ls);
	assert_int_equal(ls.generations, LEDGER_MAX_GENERATIONS);
	assert_int_equal(ls.oldest, 2);
	assert_int_equal(ls.keys, 2); /* u-alice's at 2, u-bob's at 3 */
	assert_int_equal(ledger_plan(x.l, 1, x.hash[1], &d), 1);
	assert_int_equal(ledger_plan(x.l, 2, x.hash[2], &d), 0);
	assert_int_equal(d.nkeys, 1);
	ledger_delta_free(&d);
	lw_free(&x);
}

/* The same generation filed twice merges; its rows hash moves with it. */
static void test_file_same_generation_merges(void **state)
{
	struct ledger_stats ls;
	struct ledger_delta d;
	uint8_t old[32];
	struct lw x;
	char *k;

	(void)state;
	lw_new(&x, "v2.14");
	scan(&x);
	file_gen(&x, 1);
	fx_exec(x.db, "UPDATE users SET first_name = 'A1' WHERE id = 'u-alice'");
	expect_step(&x, "users:u-alice"); /* 2 */
	memcpy(old, x.hash[2], 32);
	fx_exec(x.db, "UPDATE users SET first_name = 'B1' WHERE id = 'u-bob'");
	assert_true(scan(&x));
	file_gen(&x, 2);
	ledger_stats(x.l, &ls);
	assert_int_equal(ls.generations, 2);
	assert_int_equal(ls.keys, 2);
	k = since(&x, 1);
	assert_string_equal(k, "users:u-alice users:u-bob");
	free(k);
	assert_int_equal(ledger_plan(x.l, 2, old, &d), 1); /* the content of 2 moved on */
	lw_free(&x);
}

/* A generation going back (state restored) forgets the journal. */
static void test_generation_back_forgets(void **state)
{
	struct ledger_stats ls;
	struct ledger_delta d;
	struct lw x;
	char *k;

	(void)state;
	lw_new(&x, "v2.14");
	scan(&x);
	file_gen(&x, 10);
	fx_exec(x.db, "UPDATE users SET first_name = 'A1' WHERE id = 'u-alice'");
	expect_step(&x, "users:u-alice"); /* 11 */
	fx_exec(x.db, "UPDATE users SET first_name = 'B1' WHERE id = 'u-bob'");
	assert_true(scan(&x));
	file_gen(&x, 3);
	ledger_stats(x.l, &ls);
	assert_int_equal(ls.generations, 1);
	assert_int_equal(ls.keys, 0);
	assert_int_equal(ls.oldest, 3);
	assert_int_equal(ledger_plan(x.l, 10, x.hash[10], &d), 1);
	assert_int_equal(ledger_plan(x.l, 11, x.hash[11], &d), 1);
	fx_exec(x.db, "UPDATE users SET first_name = 'C1' WHERE id = 'u-carol'");
	expect_step(&x, "users:u-carol"); /* 4, from 3 */
	k = since(&x, 3);
	assert_string_equal(k, "users:u-carol");
	free(k);
	/* A schema change forgets too; the digests stay. */
	ledger_forget_journal(x.l);
	ledger_stats(x.l, &ls);
	assert_int_equal(ls.generations, 0);
	assert_true(ls.rows > 10);
	assert_int_equal(ledger_plan(x.l, 4, x.hash[4], &d), 1);
	lw_free(&x);
}

static void test_jwk_and_appcfg_digests(void **state)
{
	uint8_t ja[32], jb[32], ca[32], cb[32];
	struct ledger_delta d;
	struct lw x;

	(void)state;
	memset(ja, 0xa1, 32);
	memset(jb, 0xb2, 32);
	memset(ca, 0xc3, 32);
	memset(cb, 0xd4, 32);
	lw_new(&x, "v2.14");
	scan(&x);
	ledger_file(x.l, 1, ja, ca);
	ledger_rows_hash(x.l, x.hash[1]);
	ledger_file(x.l, 2, ja, ca);
	ledger_file(x.l, 3, jb, ca); /* the key rotated */
	ledger_file(x.l, 4, jb, cb); /* the configuration moved */
	ledger_file(x.l, 5, jb, cb);
	for (uint64_t g = 2; g <= 5; g++)
		memcpy(x.hash[g], x.hash[1], 32);
	struct {
		uint64_t base;
		bool jwk, appcfg;
	} want[] = {{1, true, true}, {2, true, true}, {3, false, true}, {4, false, false}, {5, false, false}};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		assert_int_equal(ledger_plan(x.l, want[i].base, x.hash[want[i].base], &d), 0);
		assert_int_equal(d.jwk_changed, want[i].jwk);
		assert_int_equal(d.appcfg_changed, want[i].appcfg);
		assert_int_equal(d.nkeys, 0);
		ledger_delta_free(&d);
	}
	/* A key rotated and back again: not changed since the base. */
	ledger_file(x.l, 6, ja, ca);
	assert_int_equal(ledger_plan(x.l, 1, x.hash[1], &d), 0);
	assert_false(d.jwk_changed);
	assert_false(d.appcfg_changed);
	ledger_delta_free(&d);
	lw_free(&x);
}

/* A table the schema no longer has: its rows count as removed. */
static void test_retain(void **state)
{
	struct schema s2;
	uint8_t before[32], after[32];
	bool changed = false;
	struct lw x;
	char err[256];

	(void)state;
	lw_new(&x, "v2.14");
	scan(&x);
	ledger_rows_hash(x.l, before);
	ledger_retain(x.l, &x.s, &changed);
	assert_false(changed);
	fx_exec(x.db, "DROP TABLE custom_claims");
	if (schema_load(x.db, &s2, err, sizeof(err)) != 0)
		fail_msg("schema: %s", err);
	assert_null(schema_table(&s2, "custom_claims"));
	ledger_retain(x.l, &s2, &changed);
	assert_true(changed);
	ledger_rows_hash(x.l, after);
	assert_memory_not_equal(before, after, 32);
	rows_hash_of(x.db, before);
	assert_memory_equal(before, after, 32);
	schema_free(&s2);
	lw_free(&x);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_first_rescan_records_nothing),
		cmocka_unit_test(test_update_insert_delete),
		cmocka_unit_test(test_bookkeeping_and_per_node),
		cmocka_unit_test(test_hashes_match_scans),
		cmocka_unit_test(test_plan_union),
		cmocka_unit_test(test_plan_refusals),
		cmocka_unit_test(test_file_same_generation_merges),
		cmocka_unit_test(test_generation_back_forgets),
		cmocka_unit_test(test_jwk_and_appcfg_digests),
		cmocka_unit_test(test_retain),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
