/* Unit tests for state: file mode and journal mode, schema version checks,
 * peers (validation, duplicates, removal), token lookup (match, mismatch,
 * revoked), generations, applied records, status strings, and two handles
 * on one file used by concurrent threads. */
#include "state.h"
#include "testutil.h"
#include "token.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static void fill(uint8_t out[32], uint8_t v)
{
	for (int i = 0; i < 32; i++)
		out[i] = (uint8_t)(v + i);
}

static struct state *open_ok(const char *dir)
{
	struct state *st;
	char err[512];

	assert_int_equal(state_open(dir, &st, err, sizeof(err)), 0);
	return st;
}

/* Runs one SQL statement directly on dir/state.db (outside the module). */
static void raw_sql(const char *dir, const char *sql)
{
	char path[512];
	sqlite3 *db;

	snprintf(path, sizeof(path), "%s/state.db", dir);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
}

static void test_open_mode_wal_version(void **unused)
{
	char *dir = tu_mkdtemp(), *sub, path[512], mode[16] = "";
	struct state *st;
	struct stat sb;
	sqlite3 *db;
	sqlite3_stmt *stmt;
	mode_t old = umask(0);
	(void)unused;
	assert_true(asprintf(&sub, "%s/state", dir) > 0);
	st = open_ok(sub);
	umask(old);
	snprintf(path, sizeof(path), "%s/state.db", sub);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	assert_int_equal(stat(sub, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0700);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &stmt, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(stmt), SQLITE_ROW);
	snprintf(mode, sizeof(mode), "%s", (const char *)sqlite3_column_text(stmt, 0));
	sqlite3_finalize(stmt);
	assert_string_equal(mode, "wal");
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT value FROM state_meta WHERE key = "
					    "'schema_version'", -1, &stmt, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(stmt), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(stmt, 0), STATE_SCHEMA_VERSION);
	sqlite3_finalize(stmt);
	sqlite3_close(db);
	state_close(st);
	state_close(open_ok(sub)); /* reopening is fine */
	free(sub);
	tu_rmtree(dir);
}

static void test_loose_mode_tightened(void **unused)
{
	char *dir = tu_mkdtemp();
	char *path = tu_write_file(dir, "state.db", "", 0, 0644);
	struct stat sb;
	(void)unused;
	state_close(open_ok(dir));
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	free(path);
	tu_rmtree(dir);
}

static void test_refuses_newer_and_foreign(void **unused)
{
	char *dir = tu_mkdtemp(), *other = tu_mkdtemp(), err[512];
	struct state *st;
	(void)unused;
	state_close(open_ok(dir));
	raw_sql(dir, "UPDATE state_meta SET value = 99 WHERE key = 'schema_version'");
	assert_int_equal(state_open(dir, &st, err, sizeof(err)), -1);
	assert_null(st);
	assert_non_null(strstr(err, "schema version 99 is newer than this build supports"));
	/* Pocket ID's database in the wrong place: refused, not migrated. */
	raw_sql(other, "CREATE TABLE users (id TEXT PRIMARY KEY)");
	assert_int_equal(state_open(other, &st, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "never Pocket ID's data directory"));
	free(tu_write_file(other, "state.db", "not sqlite at all, not sqlite at all, ...........",
			   50, 0600));
	assert_int_equal(state_open(other, &st, err, sizeof(err)), -1);
	tu_rmtree(dir);
	tu_rmtree(other);
}

static void test_peer_name_valid(void **unused)
{
	char long_name[80];
	(void)unused;
	assert_true(state_peer_name_valid("a"));
	assert_true(state_peer_name_valid("site-B_2.example"));
	memset(long_name, 'x', 64);
	long_name[64] = '\0';
	assert_true(state_peer_name_valid(long_name));
	long_name[64] = 'x';
	long_name[65] = '\0';
	assert_false(state_peer_name_valid(long_name));
	assert_false(state_peer_name_valid(""));
	assert_false(state_peer_name_valid(NULL));
	assert_false(state_peer_name_valid("a b"));
	assert_false(state_peer_name_valid("a/b"));
	assert_false(state_peer_name_valid("caf\xc3\xa9"));
}

static void test_peer_add_list_remove(void **unused)
{
	char *dir = tu_mkdtemp(), err[512];
	struct state *st = open_ok(dir);
	uint8_t k1[32], k2[32], k3[32], h[32];
	struct peer_info *peers;
	size_t n;
	(void)unused;
	fill(k1, 1);
	fill(k2, 2);
	fill(k3, 3);
	fill(h, 9);
	assert_int_equal(state_peer_add(st, "zeta", k1, h, err, sizeof(err)), 0);
	assert_int_equal(state_peer_add(st, "alpha", k2, h, err, sizeof(err)), 0);
	assert_int_equal(state_peer_add(st, "zeta", k3, h, err, sizeof(err)), 1);
	assert_string_equal(err, "a peer named zeta already exists");
	assert_int_equal(state_peer_add(st, "gamma", k2, h, err, sizeof(err)), 1);
	assert_string_equal(err, "this public key already belongs to peer alpha");
	assert_int_equal(state_peer_add(st, "bad name", k3, h, err, sizeof(err)), 1);
	assert_non_null(strstr(err, "peer name must be"));
	assert_int_equal(state_peer_list(st, &peers, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(peers[0].name, "alpha");
	assert_memory_equal(peers[0].pubkey, k2, 32);
	assert_memory_equal(peers[0].token_hash, h, 32);
	assert_true(peers[0].created_at > 1600000000);
	assert_int_equal(peers[0].last_seen_at, 0);
	assert_false(peers[0].has_generation_sent);
	assert_string_equal(peers[1].name, "zeta");
	free(peers);
	assert_int_equal(state_peer_remove(st, "zeta"), 0);
	assert_int_equal(state_peer_remove(st, "zeta"), 1);
	assert_int_equal(state_peer_add(st, "zeta2", k1, h, err, sizeof(err)), 0);
	assert_int_equal(state_peer_remove(st, "alpha"), 0);
	assert_int_equal(state_peer_remove(st, "zeta2"), 0);
	assert_int_equal(state_peer_list(st, &peers, &n), 0);
	assert_int_equal(n, 0);
	assert_null(peers);
	state_close(st);
	tu_rmtree(dir);
}

static void test_token_lookup(void **unused)
{
	char *dir = tu_mkdtemp(), err[512], t1[45], t2[45], t3[45];
	struct state *st = open_ok(dir);
	uint8_t k1[32], k2[32], h[32];
	struct peer_info p;
	(void)unused;
	assert_int_equal(token_generate(t1), 0);
	assert_int_equal(token_generate(t2), 0);
	assert_int_equal(token_generate(t3), 0);
	assert_int_equal(state_peer_by_token(st, t1, &p), 1); /* no peers at all */
	fill(k1, 1);
	fill(k2, 2);
	token_hash(t1, h);
	assert_int_equal(state_peer_add(st, "one", k1, h, err, sizeof(err)), 0);
	token_hash(t2, h);
	assert_int_equal(state_peer_add(st, "two", k2, h, err, sizeof(err)), 0);
	assert_int_equal(state_peer_by_token(st, t2, &p), 0);
	assert_string_equal(p.name, "two");
	assert_memory_equal(p.pubkey, k2, 32);
	assert_int_equal(state_peer_by_token(st, t1, &p), 0);
	assert_string_equal(p.name, "one");
	assert_int_equal(state_peer_by_token(st, t3, &p), 1);		/* mismatch */
	assert_int_equal(state_peer_by_token(st, "", &p), 1);		/* empty */
	t1[43] = t1[43] == 'A' ? 'B' : 'A';
	assert_int_equal(state_peer_by_token(st, t1, &p), 1);		/* one char off */
	assert_int_equal(state_peer_remove(st, "two"), 0);
	assert_int_equal(state_peer_by_token(st, t2, &p), 1);		/* revoked */
	state_close(st);
	tu_rmtree(dir);
}

static void test_peer_seen(void **unused)
{
	char *dir = tu_mkdtemp(), err[512];
	struct state *st = open_ok(dir);
	uint8_t k[32], h[32];
	struct peer_info *peers;
	size_t n;
	(void)unused;
	fill(k, 1);
	fill(h, 2);
	assert_int_equal(state_peer_add(st, "p", k, h, err, sizeof(err)), 0);
	assert_int_equal(state_peer_seen(st, "p", 1700000000, 42), 0);
	assert_int_equal(state_peer_touch(st, "p", 1700000100), 0);
	assert_int_equal(state_peer_seen(st, "nobody", 1, 1), 1);
	assert_int_equal(state_peer_touch(st, "nobody", 1), 1);
	assert_int_equal(state_peer_list(st, &peers, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(peers[0].last_seen_at, 1700000100);
	assert_true(peers[0].has_generation_sent);
	assert_int_equal(peers[0].last_generation_sent, 42);
	free(peers);
	state_close(st);
	tu_rmtree(dir);
}

static void test_generation(void **unused)
{
	char *dir = tu_mkdtemp();
	struct state *st = open_ok(dir);
	uint8_t h1[32], h2[32], got[32];
	uint64_t gen = 99;
	bool has = true;
	(void)unused;
	fill(h1, 1);
	fill(h2, 2);
	assert_int_equal(state_generation(st, &gen, got, &has), 0);
	assert_int_equal(gen, 0);
	assert_false(has);
	assert_int_equal(state_generation_advance(st, h1, &gen), 0);
	assert_int_equal(gen, 1);
	assert_int_equal(state_generation_advance(st, h1, &gen), 0);
	assert_int_equal(gen, 1);
	assert_int_equal(state_generation_advance(st, h2, &gen), 0);
	assert_int_equal(gen, 2);
	assert_int_equal(state_generation_advance(st, h1, &gen), 0);
	assert_int_equal(gen, 3);
	state_close(st);
	st = open_ok(dir);
	assert_int_equal(state_generation(st, &gen, got, &has), 0);
	assert_int_equal(gen, 3);
	assert_true(has);
	assert_memory_equal(got, h1, 32);
	state_close(st);
	tu_rmtree(dir);
}

static void test_applied(void **unused)
{
	char *dir = tu_mkdtemp();
	struct state *st = open_ok(dir);
	uint8_t a[32], b[32];
	uint64_t gen;
	bool found = true;
	(void)unused;
	fill(a, 1);
	fill(b, 2);
	assert_int_equal(state_applied_get(st, a, &gen, &found), 0);
	assert_false(found);
	assert_int_equal(gen, 0);
	assert_int_equal(state_applied_set(st, a, 7, 1700000000, 1700000001), 0);
	assert_int_equal(state_applied_get(st, a, &gen, &found), 0);
	assert_true(found);
	assert_int_equal(gen, 7);
	assert_int_equal(state_applied_get(st, b, &gen, &found), 0);
	assert_false(found);
	assert_int_equal(state_applied_set(st, a, 8, 1700000010, 1700000011), 0);
	assert_int_equal(state_applied_get(st, a, &gen, &found), 0);
	assert_int_equal(gen, 8);
	assert_int_equal(state_applied_set(st, a, UINT64_MAX, 0, 0), -1);
	state_close(st);
	tu_rmtree(dir);
}

static void test_status(void **unused)
{
	char *dir = tu_mkdtemp(), buf[64], small[4];
	struct state *st = open_ok(dir);
	int64_t v = 5;
	(void)unused;
	assert_int_equal(state_status_get(st, "last_error", buf, sizeof(buf)), 1);
	assert_string_equal(buf, "");
	assert_int_equal(state_status_set(st, "last_error", "network: connection refused"), 0);
	assert_int_equal(state_status_get(st, "last_error", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "network: connection refused");
	assert_int_equal(state_status_get(st, "last_error", small, sizeof(small)), 0);
	assert_string_equal(small, "net");
	assert_int_equal(state_status_set(st, "last_error", NULL), 0);
	assert_int_equal(state_status_get(st, "last_error", buf, sizeof(buf)), 1);
	assert_int_equal(state_status_get_i64(st, "last_success_at", &v), 1);
	assert_int_equal(state_status_set_i64(st, "last_success_at", 1700000000), 0);
	assert_int_equal(state_status_get_i64(st, "last_success_at", &v), 0);
	assert_int_equal(v, 1700000000);
	assert_int_equal(state_status_set(st, "role", "primary"), 0);
	assert_int_equal(state_status_get_i64(st, "role", &v), 1);
	state_close(st);
	tu_rmtree(dir);
}

/* Concurrency: three threads, two handles on one file (one handle shared by
 * two threads). Failures are counted, not asserted, off the main thread. */
#define WORK_ROUNDS 60

struct worker {
	struct state *st;
	int id;
	int failures;
	int shared_added;
};

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	uint8_t h[32] = {0}, k[32] = {0};
	char name[32], err[256], buf[32];
	uint64_t gen;

	for (int i = 0; i < WORK_ROUNDS; i++) {
		h[0] = (uint8_t)w->id;
		h[1] = (uint8_t)i;
		if (state_generation_advance(w->st, h, &gen) != 0)
			w->failures++;
		k[0] = (uint8_t)w->id;
		k[1] = (uint8_t)i;
		snprintf(name, sizeof(name), "w%d-%d", w->id, i);
		if (state_peer_add(w->st, name, k, h, err, sizeof(err)) != 0)
			w->failures++;
		if (state_status_set_i64(w->st, "last_attempt_at", i) != 0 ||
		    state_status_get(w->st, "last_attempt_at", buf, sizeof(buf)) != 0)
			w->failures++;
	}
	k[0] = 0xff;
	k[1] = (uint8_t)w->id;
	if (state_peer_add(w->st, "shared", k, h, err, sizeof(err)) == 0)
		w->shared_added = 1;
	return NULL;
}

static void test_concurrent_handles(void **unused)
{
	char *dir = tu_mkdtemp();
	struct state *a = open_ok(dir), *b = open_ok(dir);
	struct worker w[3] = {{a, 1, 0, 0}, {b, 2, 0, 0}, {a, 3, 0, 0}};
	pthread_t t[3];
	struct peer_info *peers;
	uint8_t hash[32];
	uint64_t gen;
	bool has;
	size_t n;
	(void)unused;
	for (int i = 0; i < 3; i++)
		assert_int_equal(pthread_create(&t[i], NULL, worker_main, &w[i]), 0);
	for (int i = 0; i < 3; i++)
		assert_int_equal(pthread_join(t[i], NULL), 0);
	for (int i = 0; i < 3; i++)
		assert_int_equal(w[i].failures, 0);
	assert_int_equal(w[0].shared_added + w[1].shared_added + w[2].shared_added, 1);
	/* Every advance carried a hash unlike the one before it. */
	assert_int_equal(state_generation(b, &gen, hash, &has), 0);
	assert_int_equal(gen, 3 * WORK_ROUNDS);
	assert_int_equal(state_peer_list(a, &peers, &n), 0);
	assert_int_equal(n, 3 * WORK_ROUNDS + 1);
	free(peers);
	state_close(a);
	state_close(b);
	tu_rmtree(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_open_mode_wal_version),
		cmocka_unit_test(test_loose_mode_tightened),
		cmocka_unit_test(test_refuses_newer_and_foreign),
		cmocka_unit_test(test_peer_name_valid),
		cmocka_unit_test(test_peer_add_list_remove),
		cmocka_unit_test(test_token_lookup),
		cmocka_unit_test(test_peer_seen),
		cmocka_unit_test(test_generation),
		cmocka_unit_test(test_applied),
		cmocka_unit_test(test_status),
		cmocka_unit_test(test_concurrent_handles),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
