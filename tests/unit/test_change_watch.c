/* test_change_watch: randomized proof that the primary's change watch never
 * misses a durable change and that local-only writes cost it nothing. A
 * writer connection (Pocket ID's part) interleaves thousands of writes to
 * durable tables (users, custom_claims: inserts, updates, deletes, values
 * large enough for overflow pages, in-place updates that only rewrite an
 * overflow page, bulk growth and shrinkage) with local ones (audit_logs,
 * webauthn_sessions), checkpoints of every mode (with a small autocheckpoint,
 * so the WAL restarts often, sometimes twice between two looks) and VACUUM.
 * After each batch the watch looks, and its content hash must equal a full
 * export's on a separate connection: every durable change yields a new hash,
 * no local-only write does, and a local-only batch re-hashes no table unless
 * the watch had to look at everything. Deterministic given the seed it
 * prints (CHANGE_WATCH_SEED=N to replay one); the negative self-check runs
 * deliberately broken watchers and requires the same test to catch each.
 * CHANGE_WATCH_OPS sets the number of writes (the slow soak uses more). */
#include "change_watch.h"
#include "fxpair.h"
#include "pidb.h"
#include "pidfix.h"
#include "testutil.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

static unsigned pick(struct rng *r, unsigned n) { return (unsigned)(rnd(r) % n); }

/* Lengths that cross the 4 KiB page: small, near a page, several pages. */
static unsigned value_len(struct rng *r)
{
	static const unsigned lens[] = {5, 40, 900, 3900, 4200, 9000, 20000};
	return lens[pick(r, sizeof(lens) / sizeof(lens[0]))] + pick(r, 50);
}

struct world {
	struct rng r;
	sqlite3 *w;	/* the writer (Pocket ID) */
	unsigned next_id;
	bool durable; /* the batch so far wrote a durable table */
};

static void exec_fmt(struct world *x, const char *fmt, ...)
{
	va_list ap;
	char *sql;

	va_start(ap, fmt);
	sql = sqlite3_vmprintf(fmt, ap);
	va_end(ap);
	fx_exec(x->w, sql);
	sqlite3_free(sql);
}

/* A random existing user id (or a made-up one that matches nothing). */
static unsigned some_user(struct world *x) { return 1 + pick(&x->r, x->next_id + 1); }

static void op_durable(struct world *x)
{
	unsigned u = some_user(x), n = value_len(&x->r);

	x->durable = true;
	switch (pick(&x->r, 9)) {
	case 0:
	case 1: {
		unsigned id = ++x->next_id;
		exec_fmt(x, "INSERT INTO users(id,username,first_name,last_name,display_name) VALUES"
			    "('u%u','user%u',substr(hex(randomblob(%u)),1,%u),'L','D')", id, id, n, n);
		break;
	}
	case 2:
		exec_fmt(x, "UPDATE users SET first_name = substr(hex(randomblob(%u)),1,%u) WHERE id='u%u'", n, n, u);
		break;
	case 3: /* same length, only the last bytes differ: in place, overflow page only */
		exec_fmt(x, "UPDATE users SET first_name = substr(first_name,1,length(first_name)-8) || "
			    "substr(hex(randomblob(4)),1,8) WHERE id='u%u' AND length(first_name) > 8", u);
		break;
	case 4:
		exec_fmt(x, "DELETE FROM users WHERE id='u%u'", u);
		break;
	case 5:
		exec_fmt(x, "INSERT OR REPLACE INTO custom_claims(id,key,value,user_id) SELECT 'c%u','k%u',"
			    "substr(hex(randomblob(%u)),1,%u),id FROM users WHERE id='u%u'", u, pick(&x->r, 3), n, n, u);
		break;
	case 6:
		exec_fmt(x, "UPDATE custom_claims SET value = value || 'x' WHERE user_id='u%u'", u);
		break;
	case 7: { /* grow by a batch */
		unsigned k = 20 + pick(&x->r, 200), first = x->next_id + 1;
		x->next_id += k;
		exec_fmt(x, "WITH RECURSIVE s(i) AS (SELECT %u UNION ALL SELECT i+1 FROM s WHERE i<%u) "
			    "INSERT INTO users(id,username,first_name,last_name,display_name) SELECT 'u'||i,"
			    "'user'||i,substr(hex(randomblob(%u)),1,%u),'L','D' FROM s", first, x->next_id, n / 4 + 1, n / 4 + 1);
		break;
	}
	default: /* shrink: every other user in a range */
		exec_fmt(x, "DELETE FROM users WHERE rowid %% 2 = %u AND rowid > %u", pick(&x->r, 2), pick(&x->r, x->next_id + 1));
	}
}

static void op_local(struct world *x)
{
	unsigned n = value_len(&x->r), id = ++x->next_id;

	switch (pick(&x->r, 5)) {
	case 0:
	case 1: /* a login */
		exec_fmt(x, "INSERT INTO audit_logs(id,created_at,event,user_agent,data,user_id) SELECT 'a%u',"
			    "datetime('now'),'SIGN_IN','ua',json_object('clientName','c','pad',substr(hex(randomblob(%u)),1,%u)),"
			    "(SELECT id FROM users WHERE id='u%u')", id, n, n, some_user(x));
		break;
	case 2:
		exec_fmt(x, "DELETE FROM audit_logs WHERE rowid %% 3 = %u", pick(&x->r, 3));
		break;
	case 3:
		exec_fmt(x, "INSERT INTO webauthn_sessions(id,challenge,expires_at,user_verification) VALUES"
			    "('s%u','ch%u',datetime('now'),'x')", id, id);
		break;
	default:
		exec_fmt(x, "DELETE FROM webauthn_sessions WHERE rowid %% 2 = %u", pick(&x->r, 2));
	}
}

static void op_maintenance(struct world *x)
{
	static const char *const ops[] = {"PRAGMA wal_checkpoint(PASSIVE)", "PRAGMA wal_checkpoint(FULL)",
					  "PRAGMA wal_checkpoint(RESTART)", "PRAGMA wal_checkpoint(TRUNCATE)",
					  "VACUUM"};
	fx_exec(x->w, ops[pick(&x->r, 5)]);
}

struct outcome {
	unsigned checks, misses, local_rehash, changes;
};

/* One run: ops writes in batches, a look after each batch. */
static struct outcome run(uint64_t seed, unsigned ops, unsigned faults, bool verbose)
{
	struct jwt_store_cfg k = {(const uint8_t *)KEY_P, strlen(KEY_P), NULL, NULL};
	struct world x = {.r = {seed}};
	struct outcome o = {0};
	struct change_watch *cw = change_watch_new();
	struct export_result got, want;
	uint8_t prev[32] = {0};
	char *dir = tu_mkdtemp(), path[1024], err[512];
	sqlite3 *db, *truth;

	x.w = fx_create(dir, "p.db", "v2.14", "inst-p", KEY_P, FX_JWK_A);
	fx_seed(x.w);
	fx_exec(x.w, "PRAGMA wal_autocheckpoint=40");
	fx_exec(x.w, "PRAGMA synchronous=OFF"); /* no fsync: the test is about content, not durability */
	snprintf(path, sizeof(path), "%s/p.db", dir);
	assert_int_equal(pidb_open(path, 5000, &db, err, sizeof(err)), 0);
	assert_int_equal(pidb_open(path, 5000, &truth, err, sizeof(err)), 0);
	change_watch_test_faults(cw, faults);
	for (unsigned done = 0; done < ops;) {
		unsigned batch = pick(&x.r, 5), full0, rehash0, exports0;
		bool maint = false;
		x.durable = false;
		for (unsigned i = 0; i < batch; i++, done++) {
			unsigned kind = pick(&x.r, 20);
			if (kind < 6)
				op_durable(&x);
			else if (kind < 19)
				op_local(&x);
			else {
				op_maintenance(&x);
				maint = true;
			}
		}
		full0 = (unsigned)change_watch_stats(cw)->full;
		rehash0 = (unsigned)change_watch_stats(cw)->tables_rehashed;
		exports0 = (unsigned)change_watch_stats(cw)->exports;
		if (change_watch_check(cw, db, &k, &got, err, sizeof(err)) != 0)
			fail_msg("seed %" PRIu64 ": change_watch_check: %s", seed, err);
		if (export_snapshot(truth, &k, NULL, &want, err, sizeof(err)) != 0)
			fail_msg("export: %s", err);
		o.checks++;
		o.changes += memcmp(want.content_hash, prev, 32) != 0;
		memcpy(prev, want.content_hash, 32);
		if (memcmp(got.content_hash, want.content_hash, 32) != 0) {
			o.misses++;
			if (verbose)
				print_message("seed %" PRIu64 ": missed a change at write %u\n", seed, done);
			change_watch_reset(cw); /* count further misses independently */
			continue;
		}
		if (!x.durable && change_watch_stats(cw)->full == full0) {
			o.local_rehash += (unsigned)change_watch_stats(cw)->tables_rehashed - rehash0;
			o.local_rehash += (unsigned)change_watch_stats(cw)->exports - exports0;
		}
		(void)maint;
	}
	if (verbose)
		print_message("seed %" PRIu64 ": %ld users, %ld pages at the end\n", seed,
			      fx_count(x.w, "SELECT count(*) FROM users"), fx_count(x.w, "PRAGMA page_count"));
	if (verbose)
		print_message("seed %" PRIu64 ": %u writes, %u looks (%" PRIu64 " full, last: %s), %u changes, "
			      "%" PRIu64 " table re-hashes, %" PRIu64 " content hashes\n", seed, ops, o.checks,
			      change_watch_stats(cw)->full, change_watch_stats(cw)->full_reason, o.changes,
			      change_watch_stats(cw)->tables_rehashed, change_watch_stats(cw)->exports);
	change_watch_free(cw);
	sqlite3_close(db);
	sqlite3_close(truth);
	sqlite3_close(x.w);
	tu_rmtree(dir);
	return o;
}

static unsigned env_uint(const char *name, unsigned dflt)
{
	const char *v = getenv(name);
	return v != NULL && *v != '\0' ? (unsigned)strtoul(v, NULL, 10) : dflt;
}

static void test_never_misses(void **state)
{
	unsigned ops = env_uint("CHANGE_WATCH_OPS", 1500);
	uint64_t seeds[] = {1, 2};
	size_t nseeds = 2;

	(void)state;
	if (getenv("CHANGE_WATCH_SEED") != NULL) {
		seeds[0] = strtoull(getenv("CHANGE_WATCH_SEED"), NULL, 10);
		nseeds = 1;
	}
	for (size_t i = 0; i < nseeds; i++) {
		struct outcome o = run(seeds[i], ops, 0, true);
		if (o.misses > 0)
			fail_msg("seed %" PRIu64 ": %u of %u looks missed a durable change", seeds[i], o.misses, o.checks);
		if (o.local_rehash > 0)
			fail_msg("seed %" PRIu64 ": local-only batches re-hashed %u times", seeds[i], o.local_rehash);
		assert_true(o.changes > o.checks / 10); /* the run really changed durable content */
	}
}

/* The same runs against watchers broken on purpose must fail. */
static void test_catches_broken_watchers(void **state)
{
	static const unsigned faults[] = {CHANGE_WATCH_FAULT_NO_OVERFLOW, CHANGE_WATCH_FAULT_TRUST_WAL,
					  CHANGE_WATCH_FAULT_STALE_PAGES};
	(void)state;
	for (size_t i = 0; i < sizeof(faults) / sizeof(faults[0]); i++) {
		struct outcome o = run(1, 600, faults[i], false);
		print_message("fault %u: %u of %u looks missed a change\n", faults[i], o.misses, o.checks);
		if (o.misses == 0)
			fail_msg("a watcher with fault %u went unnoticed", faults[i]);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_never_misses),
		cmocka_unit_test(test_catches_broken_watchers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
