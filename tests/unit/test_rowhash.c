/* Unit tests for rowhash (proto/SPEC.md section 5B, appendix A): row digests
 * against a preimage built here from the specification's text, every
 * storage class, column order, the excluded columns, the LtHash sum (add,
 * sub, order, merge, the 128-bit counter), scans of fixture databases
 * against the sum of their rows, node-local rows and tables, the skip list
 * of kept CIMD clients, and the committed vector proto/vectors/rows-hash.json.
 * It does not test the apply layer that keeps the hash current. */
#include "b64.h"
#include "export.h"
#include "payload.h"
#include "pidfix.h"
#include "rowhash.h"
#include "schema.h"
#include "testutil.h"
#include "vecdb.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define VECTOR PIS_SOURCE_DIR "/proto/vectors/rows-hash.json"
#define MIGRATIONS                                                                       \
	"CREATE TABLE schema_migrations (version uint64, dirty bool);"                   \
	"INSERT INTO schema_migrations VALUES (20260814120000, 0);"

/* ---- helpers ---- */

static sqlite3 *mem_db(const char *sql)
{
	sqlite3 *db;
	assert_int_equal(sqlite3_open(":memory:", &db), SQLITE_OK);
	fx_exec(db, MIGRATIONS);
	fx_exec(db, sql);
	return db;
}

static void load(sqlite3 *db, struct schema *s)
{
	char err[256];
	if (schema_load(db, s, err, sizeof(err)) != 0)
		fail_msg("schema_load: %s", err);
}

static void scan(sqlite3 *db, uint8_t out[32])
{
	struct schema s;
	char err[256];

	load(db, &s);
	if (rowhash_scan(db, &s, NULL, out, err, sizeof(err)) != 0)
		fail_msg("rowhash_scan: %s", err);
	schema_free(&s);
}

/* The preimage of section 5B, assembled here from the specification's
 * words: F(tag, s) = tag || be64(len(s)) || s. */
struct pre {
	uint8_t b[8192];
	size_t n;
};

static void pre_field(struct pre *p, char tag, const void *s, size_t n)
{
	assert_true(p->n + 9 + n <= sizeof(p->b));
	p->b[p->n++] = (uint8_t)tag;
	for (int i = 7; i >= 0; i--)
		p->b[p->n++] = (uint8_t)((uint64_t)n >> (8 * i));
	if (n > 0)
		memcpy(p->b + p->n, s, n);
	p->n += n;
}

static void pre_value(struct pre *p, const struct pl_value *v)
{
	uint8_t le[8];
	uint64_t bits = 0;

	switch (v->type) {
	case PL_NULL:
		pre_field(p, 'n', "", 0);
		return;
	case PL_INT:
		bits = (uint64_t)v->u.i;
		break;
	case PL_REAL:
		memcpy(&bits, &v->u.r, 8);
		break;
	case PL_TEXT:
	case PL_BLOB:
		pre_field(p, v->type == PL_TEXT ? 't' : 'b', v->u.bytes, v->len);
		return;
	}
	for (int i = 0; i < 8; i++)
		le[i] = (uint8_t)(bits >> (8 * i));
	pre_field(p, v->type == PL_INT ? 'i' : 'r', le, 8);
}

static void sha256(const void *p, size_t n, uint8_t out[32])
{
	unsigned int len = 32;
	assert_int_equal(EVP_Digest(p, n, out, &len, EVP_sha256(), NULL), 1);
}

/* The rows hash of a sum, from the specification: SHA-256(label || A). */
static void ref_rows_hash(const struct lthash *h, uint8_t out[32])
{
	static const char label[] = "pocket-id-sync rows v2";
	uint8_t buf[22 + 2 * LTHASH_LANES];

	assert_int_equal(strlen(label), 22);
	memcpy(buf, label, 22);
	for (size_t i = 0; i < LTHASH_LANES; i++) {
		buf[22 + 2 * i] = (uint8_t)h->lane[i];
		buf[22 + 2 * i + 1] = (uint8_t)(h->lane[i] >> 8);
	}
	sha256(buf, sizeof(buf), out);
}

static struct pl_value cell(const char *s)
{
	struct pl_value v = {.type = PL_NULL};
	if (s != NULL && pl_value_decode(s, &v, NULL) != 0)
		fail_msg("bad cell %s", s);
	return v;
}

static void clear_row(struct pl_value *row, size_t n)
{
	for (size_t i = 0; i < n; i++)
		pl_value_clear(&row[i]);
}

static bool is_zero(const struct lthash *h)
{
	for (size_t i = 0; i < LTHASH_LANES; i++) {
		if (h->lane[i] != 0)
			return false;
	}
	return true;
}

/* The digest of one row of table (cells in schema order) through rowhash_row. */
static void digest_of(const struct schema *s, const char *table, const char *const *cells,
		      uint8_t d[32])
{
	const struct schema_table *t = schema_table(s, table);
	struct rowhash_ctx *c = rowhash_ctx_new();
	struct pl_value row[32];

	assert_non_null(t);
	assert_non_null(c);
	assert_true(t->ncols <= 32);
	for (size_t i = 0; i < t->ncols; i++)
		row[i] = cell(cells[i]);
	assert_int_equal(rowhash_row(c, t, row, d), 0);
	clear_row(row, t->ncols);
	rowhash_ctx_free(c);
}

/* ---- digests ---- */

/* users (id, v): one row per storage class of v, each digest equal to the
 * SHA-256 of the preimage built from the text of section 5B, and the same
 * through rowhash_row (values) and a scan (the statement path). */
static void test_digest_storage_classes(void **state)
{
	static const char *const cells[] = {
		NULL,	   "i:0",	 "i:-9223372036854775808", "i:9223372036854775807", "i:-1",
		"r:0.0",   "r:-0.0",	 "r:inf",		   "r:-inf",		    "r:0.1",
		"r:5e-324", "t:",	 "t:alice",		   "t:café",		    "x:/w==",
		"x:YQBi",  "x:wMA=",	 "b:",			   "b:AA==",		    "b:AP8=",
	};
	const size_t n = sizeof(cells) / sizeof(cells[0]);
	uint8_t seen[sizeof(cells) / sizeof(cells[0])][32];
	(void)state;

	for (size_t k = 0; k < n; k++) {
		sqlite3 *db = mem_db("CREATE TABLE users (id TEXT PRIMARY KEY, v);");
		struct schema s;
		struct pre p = {.n = 0};
		struct pl_value id = cell("t:u1"), v = cell(cells[k]);
		struct rowhash_ctx *c = rowhash_ctx_new();
		struct lthash h = {{0}};
		uint8_t want[32], got[32], whole[32], ref[32];
		sqlite3_stmt *st;

		pre_field(&p, 'T', "users", 5);
		pre_field(&p, 'C', "id", 2);
		pre_value(&p, &id);
		pre_field(&p, 'C', "v", 1);
		pre_value(&p, &v);
		sha256(p.b, p.n, want);

		load(db, &s);
		digest_of(&s, "users", (const char *const[]){"t:u1", cells[k]}, got);
		assert_memory_equal(got, want, 32);

		assert_int_equal(sqlite3_prepare_v2(db, "INSERT INTO users VALUES ('u1', ?)", -1,
						    &st, NULL), SQLITE_OK);
		assert_int_equal(pl_value_bind(st, 1, &v), SQLITE_OK);
		assert_int_equal(sqlite3_step(st), SQLITE_DONE);
		sqlite3_finalize(st);
		{
			static const char *const class[] = {"null", "integer", "real", "text", "blob"};
			char q[128];
			snprintf(q, sizeof(q), "SELECT count(*) FROM users WHERE typeof(v) = '%s'",
				 class[v.type]);
			assert_int_equal(fx_count(db, q), 1); /* stored as given */
		}
		scan(db, whole);
		lthash_add(c, &h, want);
		ref_rows_hash(&h, ref);
		assert_memory_equal(whole, ref, 32);

		memcpy(seen[k], want, 32);
		for (size_t j = 0; j < k; j++)
			assert_memory_not_equal(seen[j], want, 32); /* every value its own digest */
		pl_value_clear(&id);
		pl_value_clear(&v);
		rowhash_ctx_free(c);
		schema_free(&s);
		sqlite3_close(db);
	}
}

/* The storage class survives SQLite: -0.0 stays REAL with its sign, text
 * that is not UTF-8 stays TEXT with its bytes, the empty blob stays a blob
 * (a scan reads what is stored, not a conversion). */
static void test_scan_reads_stored_class(void **state)
{
	sqlite3 *db = mem_db("CREATE TABLE users (id TEXT PRIMARY KEY, v);"
			     "INSERT INTO users VALUES ('a', -0.0), ('b', CAST(x'ff00c0' AS TEXT)),"
			     " ('c', x''), ('d', ''), ('e', -9223372036854775808);");
	struct schema s;
	uint8_t d[5][32], whole[32], ref[32];
	struct rowhash_ctx *c = rowhash_ctx_new();
	struct lthash h = {{0}};
	(void)state;

	assert_int_equal(fx_count(db, "SELECT count(*) FROM users WHERE id = 'a' AND typeof(v) = 'real'"), 1);
	assert_int_equal(fx_count(db, "SELECT count(*) FROM users WHERE id = 'b' AND typeof(v) = 'text' AND length(CAST(v AS BLOB)) = 3"), 1);
	assert_int_equal(fx_count(db, "SELECT count(*) FROM users WHERE id = 'c' AND typeof(v) = 'blob'"), 1);
	load(db, &s);
	digest_of(&s, "users", (const char *const[]){"t:a", "r:-0.0"}, d[0]);
	digest_of(&s, "users", (const char *const[]){"t:b", "x:/wDA"}, d[1]);
	digest_of(&s, "users", (const char *const[]){"t:c", "b:"}, d[2]);
	digest_of(&s, "users", (const char *const[]){"t:d", "t:"}, d[3]);
	digest_of(&s, "users", (const char *const[]){"t:e", "i:-9223372036854775808"}, d[4]);
	for (int i = 0; i < 5; i++)
		lthash_add(c, &h, d[i]);
	ref_rows_hash(&h, ref);
	scan(db, whole);
	assert_memory_equal(whole, ref, 32);
	/* +0.0 is another value than -0.0, and the empty text another than the empty blob. */
	digest_of(&s, "users", (const char *const[]){"t:a", "r:0.0"}, d[0]);
	digest_of(&s, "users", (const char *const[]){"t:c", "t:"}, d[2]);
	lthash_sub(c, &h, d[0]);
	ref_rows_hash(&h, ref);
	assert_memory_not_equal(whole, ref, 32);
	rowhash_ctx_free(c);
	schema_free(&s);
	sqlite3_close(db);
}

/* Digests follow column names in bytewise order, not the schema's order:
 * the same row in tables declared in other orders digests the same. */
static void test_column_order_independence(void **state)
{
	static const char *const orders[] = {
		"CREATE TABLE users (id TEXT PRIMARY KEY, b, a, \"Z\", \"é\");",
		"CREATE TABLE users (\"é\", a, \"Z\", b, id TEXT PRIMARY KEY);",
		"CREATE TABLE users (a, \"Z\", id TEXT PRIMARY KEY, \"é\", b);",
	};
	uint8_t first[32], whole_first[32];
	struct pre p = {.n = 0};
	struct pl_value v;
	uint8_t want[32];
	(void)state;

	/* By name, bytewise: "Z" (5a) < "a" (61) < "b" < "id" < "é" (c3 a9). */
	pre_field(&p, 'T', "users", 5);
	pre_field(&p, 'C', "Z", 1);
	v = cell("i:26");
	pre_value(&p, &v);
	pre_field(&p, 'C', "a", 1);
	v = cell("i:1");
	pre_value(&p, &v);
	pre_field(&p, 'C', "b", 1);
	v = cell("i:2");
	pre_value(&p, &v);
	pre_field(&p, 'C', "id", 2);
	v = cell("i:7");
	pre_value(&p, &v);
	pre_field(&p, 'C', "é", strlen("é"));
	v = cell("i:233");
	pre_value(&p, &v);
	sha256(p.b, p.n, want);

	for (size_t k = 0; k < 3; k++) {
		sqlite3 *db = mem_db(orders[k]);
		struct schema s;
		const struct schema_table *t;
		struct pl_value row[5];
		struct rowhash_ctx *c = rowhash_ctx_new();
		uint8_t d[32], whole[32];

		fx_exec(db, "INSERT INTO users (id, a, b, \"Z\", \"é\") VALUES (7, 1, 2, 26, 233)");
		load(db, &s);
		t = schema_table(&s, "users");
		for (size_t i = 0; i < t->ncols; i++) {
			const char *n = t->cols[i];
			row[i] = cell(strcmp(n, "id") == 0 ? "i:7" : strcmp(n, "a") == 0 ? "i:1"
				      : strcmp(n, "b") == 0 ? "i:2" : strcmp(n, "Z") == 0 ? "i:26"
										: "i:233");
		}
		assert_int_equal(rowhash_row(c, t, row, d), 0);
		assert_memory_equal(d, want, 32);
		scan(db, whole);
		if (k == 0) {
			memcpy(first, d, 32);
			memcpy(whole_first, whole, 32);
		}
		assert_memory_equal(d, first, 32);
		assert_memory_equal(whole, whole_first, 32);
		rowhash_ctx_free(c);
		schema_free(&s);
		sqlite3_close(db);
	}
}

/* ---- excluded columns ---- */

/* Changing col in a row of table changes the digest exactly when counts. */
static void expect_counts(const char *create, const char *table, const char *const *a,
			  const char *const *b, bool counts)
{
	sqlite3 *db = mem_db(create);
	struct schema s;
	uint8_t da[32], db_[32];

	load(db, &s);
	digest_of(&s, table, a, da);
	digest_of(&s, table, b, db_);
	if (counts)
		assert_memory_not_equal(da, db_, 32);
	else
		assert_memory_equal(da, db_, 32);
	schema_free(&s);
	sqlite3_close(db);
}

static void test_excluded_columns(void **state)
{
	(void)state;
	/* Per-node columns. */
	expect_counts("CREATE TABLE api_keys (id TEXT PRIMARY KEY, name, last_used_at, expiration_email_sent);",
		      "api_keys", (const char *const[]){"t:k", "t:ci", "i:1", "i:0"},
		      (const char *const[]){"t:k", "t:ci", "i:99", "i:1"}, false);
	expect_counts("CREATE TABLE api_keys (id TEXT PRIMARY KEY, name, last_used_at, expiration_email_sent);",
		      "api_keys", (const char *const[]){"t:k", "t:ci", "i:1", "i:0"},
		      (const char *const[]){"t:k", "t:cd", "i:1", "i:0"}, true);
	expect_counts("CREATE TABLE oidc_clients (id TEXT PRIMARY KEY, name, pkce_supported, client_type);",
		      "oidc_clients", (const char *const[]){"t:c", "t:G", "i:0", "t:standard"},
		      (const char *const[]){"t:c", "t:G", "i:1", "t:standard"}, false);
	/* Bookkeeping columns. */
	static const char *const bk[][2] = {{"users", "updated_at"}, {"user_groups", "updated_at"},
					    {"apis", "updated_at"}, {"storage", "mod_time"}};
	for (size_t i = 0; i < 4; i++) {
		char sql[256];
		snprintf(sql, sizeof(sql), "CREATE TABLE %s (id TEXT PRIMARY KEY, n, %s, created_at);",
			 bk[i][0], bk[i][1]);
		expect_counts(sql, bk[i][0], (const char *const[]){"t:x", "t:n", "i:1", "i:5"},
			      (const char *const[]){"t:x", "t:n", "t:2026-01-01", "i:5"}, false);
		/* created_at is not bookkeeping anywhere. */
		expect_counts(sql, bk[i][0], (const char *const[]){"t:x", "t:n", "i:1", "i:5"},
			      (const char *const[]){"t:x", "t:n", "i:1", "i:6"}, true);
	}
	/* users.updated_at is bookkeeping only in users: the name matters. */
	expect_counts("CREATE TABLE custom_claims (id TEXT PRIMARY KEY, updated_at);", "custom_claims",
		      (const char *const[]){"t:x", "i:1"}, (const char *const[]){"t:x", "i:2"}, true);
}

/* The metadata-document columns of a CIMD client do not count in its row,
 * but do in a standard client's row; admin-edited columns count in both. */
static void test_cimd_columns(void **state)
{
	const char *create = "CREATE TABLE oidc_clients (id TEXT PRIMARY KEY, name, callback_urls,"
			     " logout_callback_urls, credentials, is_public, pkce_enabled,"
			     " metadata_expires_at, metadata_grant_types, launch_url, client_type);";
	(void)state;

	/* Columns 1 to 8 are appendix A's eight metadata-document columns. */
	for (size_t m = 0; m < 8; m++) {
		const char *a[11], *b[11];
		for (int i = 0; i < 11; i++)
			a[i] = b[i] = "i:0";
		a[0] = b[0] = "t:https://app.example/cimd.json";
		a[10] = b[10] = "t:cimd";
		b[1 + m] = "t:changed by the metadata document";
		expect_counts(create, "oidc_clients", a, b, false);
		a[10] = b[10] = "t:standard";
		expect_counts(create, "oidc_clients", a, b, true);
		/* "cimd" must be the text: a blob with those bytes is not a CIMD client. */
		a[10] = b[10] = "b:Y2ltZA==";
		expect_counts(create, "oidc_clients", a, b, true);
	}
	const char *a[11], *b[11];
	for (int i = 0; i < 11; i++)
		a[i] = b[i] = "i:0";
	a[10] = b[10] = "t:cimd";
	b[9] = "t:https://launch.example"; /* launch_url: admin-edited */
	expect_counts(create, "oidc_clients", a, b, true);
	/* A CIMD row and the same row as a standard client differ (client_type counts). */
	b[9] = "i:0";
	b[10] = "t:standard";
	expect_counts(create, "oidc_clients", a, b, true);
}

/* An excluded column digests as if the table did not have it. */
static void test_excluded_column_absent(void **state)
{
	sqlite3 *with = mem_db("CREATE TABLE users (id TEXT PRIMARY KEY, username, updated_at);");
	sqlite3 *without = mem_db("CREATE TABLE users (id TEXT PRIMARY KEY, username);");
	struct schema sw, so;
	uint8_t a[32], b[32];
	(void)state;

	load(with, &sw);
	load(without, &so);
	digest_of(&sw, "users", (const char *const[]){"t:u", "t:alice", "i:123"}, a);
	digest_of(&so, "users", (const char *const[]){"t:u", "t:alice"}, b);
	assert_memory_equal(a, b, 32);
	schema_free(&sw);
	schema_free(&so);
	sqlite3_close(with);
	sqlite3_close(without);
}

/* ---- the sum ---- */

static void digest_n(int i, uint8_t d[32])
{
	char s[32];
	snprintf(s, sizeof(s), "row %d", i);
	sha256(s, strlen(s), d);
}

static void test_add_sub_order(void **state)
{
	struct rowhash_ctx *c = rowhash_ctx_new();
	struct lthash h = {{0}}, g = {{0}}, part1 = {{0}}, part2 = {{0}};
	uint8_t d[8][32], a[32], b[32], ref[32];
	(void)state;

	for (int i = 0; i < 8; i++)
		digest_n(i, d[i]);
	/* The empty set: all-zero lanes, digest SHA-256(label || 2048 zero bytes). */
	lthash_digest(&h, a);
	ref_rows_hash(&h, ref);
	assert_memory_equal(a, ref, 32);
	/* add then sub returns to zero. */
	for (int i = 0; i < 8; i++)
		lthash_add(c, &h, d[i]);
	assert_false(is_zero(&h));
	for (int i = 7; i >= 0; i--)
		lthash_sub(c, &h, d[(i * 3) % 8]);
	assert_true(is_zero(&h));
	/* Order does not matter; a multiset: the same digest twice counts twice. */
	for (int i = 0; i < 8; i++)
		lthash_add(c, &h, d[i]);
	for (int i = 0; i < 8; i++)
		lthash_add(c, &g, d[(i * 5 + 3) % 8]);
	assert_memory_equal(h.lane, g.lane, sizeof(h.lane));
	lthash_digest(&h, a);
	lthash_digest(&g, b);
	assert_memory_equal(a, b, 32);
	lthash_add(c, &g, d[0]);
	lthash_digest(&g, b);
	assert_memory_not_equal(a, b, 32);
	lthash_sub(c, &g, d[0]);
	/* merge of two halves is the whole. */
	for (int i = 0; i < 8; i++)
		lthash_add(c, i % 2 ? &part1 : &part2, d[i]);
	lthash_merge(&part1, &part2);
	assert_memory_equal(part1.lane, h.lane, sizeof(h.lane));
	/* A change is sub(old) + add(new). */
	lthash_sub(c, &g, d[3]);
	lthash_add(c, &g, d[3]);
	assert_memory_equal(g.lane, h.lane, sizeof(h.lane));
	ref_rows_hash(&h, ref);
	assert_memory_equal(a, ref, 32);
	rowhash_ctx_free(c);
}

/* The expansion: AES-128-CTR keystream with key d[0:16] and the whole of
 * d[16:32] as a 128-bit big-endian counter, checked block by block with
 * AES-128-ECB on the counter values, across the wrap at 2^128 - 1. */
static void test_expansion_counter(void **state)
{
	struct rowhash_ctx *c = rowhash_ctx_new();
	EVP_CIPHER_CTX *ecb = EVP_CIPHER_CTX_new();
	uint8_t d[32], ctr[16], block[16];
	int n;
	(void)state;

	for (int k = 0; k < 3; k++) {
		struct lthash h = {{0}};
		for (int i = 0; i < 16; i++)
			d[i] = (uint8_t)(0x10 * k + i);
		/* k 0: counter ff..ff (wraps at once); 1: 00..00 ff ff ff fe (carry over 32 bits);
		 * 2: ff ff ff ff ff ff ff ff fe ff..ff (carry over 64 bits). */
		memset(d + 16, k == 1 ? 0 : 0xff, 16);
		if (k == 1)
			memset(d + 28, 0xff, 3), d[31] = 0xfe;
		if (k == 2)
			d[23] = 0xfe;
		lthash_add(c, &h, d);
		memcpy(ctr, d + 16, 16);
		assert_int_equal(EVP_EncryptInit_ex(ecb, EVP_aes_128_ecb(), NULL, d, NULL), 1);
		EVP_CIPHER_CTX_set_padding(ecb, 0);
		for (int blk = 0; blk < 128; blk++) {
			assert_int_equal(EVP_EncryptUpdate(ecb, block, &n, ctr, 16), 1);
			assert_int_equal(n, 16);
			for (int l = 0; l < 8; l++)
				assert_int_equal(h.lane[blk * 8 + l], block[2 * l] | block[2 * l + 1] << 8);
			for (int i = 15; i >= 0 && ++ctr[i] == 0; i--)
				; /* +1, big-endian over all 128 bits */
		}
	}
	EVP_CIPHER_CTX_free(ecb);
	rowhash_ctx_free(c);
}

/* ---- scans ---- */

/* Node-local rows as appendix A lists them, written here from its text. */
static const char *ref_local_where(const char *table)
{
	if (strcmp(table, "storage") == 0)
		return "path GLOB 'profile-pictures/defaults/*'";
	return NULL;
}

/* The rows hash of db computed row by row with rowhash_row over
 * SELECT * of every counted table (appendix A's list, app_config_variables
 * left out), independently of export_select_sql. */
static void ref_scan(sqlite3 *db, uint8_t out[32])
{
	static const char *const shipped[] = {
		"users", "user_groups", "user_groups_users", "custom_claims", "webauthn_credentials",
		"oidc_clients", "oidc_clients_allowed_user_groups", "api_keys", "signup_tokens",
		"signup_tokens_user_groups", "apis", "api_permissions", "oidc_clients_allowed_apis",
		"oidc_clients_allowed_api_permissions", "storage", NULL};
	struct schema s;
	struct rowhash_ctx *c = rowhash_ctx_new();
	struct lthash h = {{0}};
	size_t counted = 0;

	load(db, &s);
	for (const char *const *name = shipped; *name != NULL; name++) {
		const struct schema_table *t = schema_table(&s, *name);
		const char *where = ref_local_where(*name);
		char *sql;
		sqlite3_stmt *st;
		if (t == NULL)
			continue;
		counted++;
		sql = sqlite3_mprintf("SELECT * FROM \"%w\" WHERE NOT coalesce((%s), 0)", *name,
				      where ? where : "0");
		assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
		sqlite3_free(sql);
		assert_int_equal((size_t)sqlite3_column_count(st), t->ncols);
		while (sqlite3_step(st) == SQLITE_ROW) {
			struct pl_value row[64];
			uint8_t d[32];
			for (size_t i = 0; i < t->ncols; i++)
				assert_int_equal(pl_value_from_sqlite(&row[i], st, (int)i, NULL), 0);
			assert_int_equal(rowhash_row(c, t, row, d), 0);
			lthash_add(c, &h, d);
			clear_row(row, t->ncols);
		}
		sqlite3_finalize(st);
	}
	assert_true(counted > 5);
	lthash_digest(&h, out);
	schema_free(&s);
	rowhash_ctx_free(c);
}

static void assert_scan_is_sum(sqlite3 *db)
{
	uint8_t a[32], b[32];
	scan(db, a);
	ref_scan(db, b);
	assert_memory_equal(a, b, 32);
}

static void test_scan_equals_sum(void **state)
{
	(void)state;
	for (const char *const *v = fx_versions; *v; v++) {
		char *dir = tu_mkdtemp();
		sqlite3 *db = fx_create(dir, "p.db", *v, "11111111-aaaa", "key-0123456789", FX_JWK_A);
		uint8_t empty[32], seeded[32], ref[32];
		struct lthash zero = {{0}};

		/* Nothing counted yet (app_config_variables has rows): the empty set. */
		scan(db, empty);
		ref_rows_hash(&zero, ref);
		assert_memory_equal(empty, ref, 32);
		fx_seed(db);
		assert_scan_is_sum(db);
		scan(db, seeded);
		assert_memory_not_equal(seeded, empty, 32);
		sqlite3_close(db);
		tu_rmtree(dir);
	}
}

/* Node-local rows, app_config_variables, runtime and unknown tables leave
 * the rows hash as it is; a shipped row does not. */
static void test_not_counted(void **state)
{
	(void)state;
	for (const char *const *v = fx_versions; *v; v++) {
		char *dir = tu_mkdtemp();
		sqlite3 *db = fx_create(dir, "p.db", *v, "11111111-aaaa", "key-0123456789", NULL);
		uint8_t before[32], after[32];
		bool has_storage = fx_count(db, "SELECT count(*) FROM sqlite_schema WHERE name = 'storage'") > 0;
		bool has_acv = fx_count(db, "SELECT count(*) FROM sqlite_schema WHERE name = 'app_config_variables'") > 0;

		fx_seed(db);
		scan(db, before);
		fx_seed_local(db, "p"); /* audit logs, a webauthn session */
		fx_exec(db, "CREATE TABLE francis_cache (k, v); INSERT INTO francis_cache VALUES (1, 2);"
			    "CREATE TABLE something_new (k, v); INSERT INTO something_new VALUES (1, 2);");
		if (has_acv) {
			fx_exec(db, "UPDATE app_config_variables SET value = 'Renamed' WHERE key = 'appName'");
			fx_exec(db, "INSERT INTO app_config_variables (key, value) VALUES ('ldapEnabled', 'true'),"
				    " ('accentColor', '#123456')");
			fx_exec(db, "UPDATE app_config_variables SET value = 'other' WHERE key = 'instanceId'");
		}
		if (has_storage)
			fx_row(db, "storage", "path", "t:profile-pictures/defaults/u-alice.png", "data", "b:AAE=",
			       "size", "i:2", "mod_time", "i:1", "created_at", "i:1", NULL);
		scan(db, after);
		assert_memory_equal(before, after, 32);
		assert_scan_is_sum(db);
		/* A bookkeeping-only change is no change either. */
		if (fx_count(db, "SELECT count(*) FROM pragma_table_info('users') WHERE name = 'updated_at'")) {
			fx_exec(db, "UPDATE users SET updated_at = 1800000000");
			scan(db, after);
			assert_memory_equal(before, after, 32);
		}
		/* A shipped row is. */
		if (has_storage) {
			fx_row(db, "storage", "path", "t:profile-pictures/u-alice.png", "data", "b:AAE=",
			       "size", "i:2", "mod_time", "i:1", "created_at", "i:1", NULL);
			scan(db, after);
			assert_memory_not_equal(before, after, 32);
			assert_scan_is_sum(db);
			fx_exec(db, "DELETE FROM storage WHERE path = 'profile-pictures/u-alice.png'");
		}
		fx_exec(db, "UPDATE users SET first_name = 'Alicia' WHERE id = 'u-alice'");
		scan(db, after);
		assert_memory_not_equal(before, after, 32);
		fx_exec(db, "UPDATE users SET first_name = 'Alice' WHERE id = 'u-alice'");
		scan(db, after);
		assert_memory_equal(before, after, 32);
		sqlite3_close(db);
		tu_rmtree(dir);
	}
}

/* A kept CIMD client and its oidc_clients_allowed_* rows are left out by
 * the skip list: the hash equals that of the database without them. */
static void test_skip_cimd(void **state)
{
	char *dir = tu_mkdtemp();
	sqlite3 *db = fx_create(dir, "s.db", "v2.14", "22222222-bbbb", "key-0123456789", NULL);
	struct rowhash_skip skip = {0};
	struct schema s;
	uint8_t skipped[32], plain[32], without[32], err_hash[32];
	char err[256];
	(void)state;

	fx_seed(db);
	fx_row(db, "apis", "id", "t:api-1", "name", "t:Inventory", "audience", "t:https://inv", NULL);
	fx_row(db, "api_permissions", "id", "t:perm-1", "api_id", "t:api-1", "key", "t:inv:read",
	       "name", "t:Read", NULL);
	fx_row(db, "oidc_clients", "id", "t:https://app.example/cimd.json", "name", "t:App",
	       "client_type", "t:cimd", "created_by_id", NULL, NULL);
	fx_row(db, "oidc_clients_allowed_user_groups", "oidc_client_id", "t:https://app.example/cimd.json",
	       "user_group_id", "t:g-staff", NULL);
	fx_row(db, "oidc_clients_allowed_apis", "oidc_client_id", "t:https://app.example/cimd.json",
	       "api_id", "t:api-1", "subject_type", "t:user", NULL);
	fx_row(db, "oidc_clients_allowed_api_permissions", "oidc_client_id",
	       "t:https://app.example/cimd.json", "api_permission_id", "t:perm-1", "subject_type",
	       "t:user", NULL);
	/* The standard client keeps its rows in the children: they stay counted. */
	fx_row(db, "oidc_clients_allowed_apis", "oidc_client_id", "t:client-1", "api_id", "t:api-1",
	       "subject_type", "t:client", NULL);

	skip.n = 1;
	skip.ids = calloc(1, sizeof(*skip.ids));
	assert_non_null(skip.ids);
	skip.ids[0] = cell("t:https://app.example/cimd.json");
	load(db, &s);
	assert_int_equal(rowhash_scan(db, &s, &skip, skipped, err, sizeof(err)), 0);
	assert_int_equal(rowhash_scan(db, &s, NULL, plain, err, sizeof(err)), 0);
	assert_memory_not_equal(skipped, plain, 32);
	/* Skipping an id of another storage class (a blob with the same bytes) skips nothing. */
	pl_value_clear(&skip.ids[0]);
	skip.ids[0] = cell("b:aHR0cHM6Ly9hcHAuZXhhbXBsZS9jaW1kLmpzb24=");
	assert_int_equal(rowhash_scan(db, &s, &skip, err_hash, err, sizeof(err)), 0);
	assert_memory_equal(err_hash, plain, 32);
	schema_free(&s);

	fx_exec(db, "DELETE FROM oidc_clients WHERE id = 'https://app.example/cimd.json'"); /* cascades */
	assert_int_equal(fx_count(db, "SELECT count(*) FROM oidc_clients_allowed_apis"), 1);
	assert_int_equal(fx_count(db, "SELECT count(*) FROM oidc_clients_allowed_user_groups"), 1);
	assert_int_equal(fx_count(db, "SELECT count(*) FROM oidc_clients_allowed_api_permissions"), 0);
	scan(db, without);
	assert_memory_equal(skipped, without, 32);
	rowhash_skip_free(&skip);
	assert_null(skip.ids);
	sqlite3_close(db);
	tu_rmtree(dir);
}

/* ---- the committed vector ---- */

static const char *vstr(const cJSON *o, const char *name)
{
	const cJSON *j = cJSON_GetObjectItemCaseSensitive(o, name);
	if (!cJSON_IsString(j))
		fail_msg("vector: no string %s", name);
	return j->valuestring;
}

static void hex_equal(const char *hex, const uint8_t *want, size_t n)
{
	uint8_t buf[8192];
	long len = 0;
	unsigned char *raw = OPENSSL_hexstr2buf(hex, &len);
	assert_non_null(raw);
	assert_int_equal((size_t)len, n);
	assert_true(n <= sizeof(buf));
	assert_memory_equal(raw, want, n);
	OPENSSL_free(raw);
}

static void check_vector_row(struct rowhash_ctx *c, const struct schema_table *t, const cJSON *row,
			     struct lthash *sum)
{
	const cJSON *cells = cJSON_GetObjectItemCaseSensitive(row, "cells"), *x;
	const cJSON *names = cJSON_GetObjectItemCaseSensitive(row, "counted_columns");
	const cJSON *lanes = cJSON_GetObjectItemCaseSensitive(row, "lanes");
	struct pl_value vals[64];
	struct pre p = {.n = 0};
	struct lthash one = {{0}};
	uint8_t d[32], pd[32];
	size_t i = 0, counted = 0;
	int cimd;

	assert_int_equal((size_t)cJSON_GetArraySize(cells), t->ncols);
	cJSON_ArrayForEach(x, cells)
		vals[i++] = cell(cJSON_IsNull(x) ? NULL : x->valuestring);
	assert_int_equal(rowhash_row(c, t, vals, d), 0);
	hex_equal(vstr(row, "digest"), d, 32);
	/* The preimage: its SHA-256 is the digest, and it is what section 5B
	 * makes of the counted columns the vector names (in the order given,
	 * which must be bytewise). */
	cimd = t->cimd_type_col >= 0 && vals[t->cimd_type_col].type == PL_TEXT &&
	       strcmp((const char *)vals[t->cimd_type_col].u.bytes, "cimd") == 0;
	pre_field(&p, 'T', t->name, strlen(t->name));
	const char *prev = NULL;
	cJSON_ArrayForEach(x, names) {
		int col = schema_column_index(t, x->valuestring);
		assert_true(col >= 0);
		assert_true(rowhash_column_counts(t, (size_t)col, cimd));
		if (prev != NULL)
			assert_true(strcmp(prev, x->valuestring) < 0);
		prev = x->valuestring;
		pre_field(&p, 'C', x->valuestring, strlen(x->valuestring));
		pre_value(&p, &vals[col]);
		counted++;
	}
	for (size_t k = 0; k < t->ncols; k++)
		counted -= rowhash_column_counts(t, k, cimd);
	assert_int_equal(counted, 0); /* and no counted column left out */
	hex_equal(vstr(row, "preimage"), p.b, p.n);
	sha256(p.b, p.n, pd);
	assert_memory_equal(pd, d, 32);
	lthash_add(c, &one, d);
	i = 0;
	cJSON_ArrayForEach(x, lanes)
		assert_int_equal(one.lane[i++], (uint16_t)x->valueint);
	assert_int_equal(i, 8);
	lthash_merge(sum, &one);
	clear_row(vals, t->ncols);
}

static void test_vector(void **state)
{
	cJSON *v = vecdb_load(VECTOR);
	const cJSON *t, *row, *x;
	sqlite3 *db;
	struct schema s;
	struct rowhash_ctx *c = rowhash_ctx_new();
	struct lthash sum = {{0}};
	uint8_t want[32], got[32];
	size_t nrows = 0, i = 0;
	char err[256];
	(void)state;

	assert_non_null(v);
	assert_string_equal(vstr(v, "label"), "pocket-id-sync rows v2");
	db = vecdb_open(v);
	load(db, &s);
	cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(v, "tables")) {
		const struct schema_table *st = schema_table(&s, vstr(t, "table"));
		bool counted = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(t, "counted"));
		assert_non_null(st);
		assert_int_equal(rowhash_counts_table(st), counted);
		if (!counted)
			continue;
		cJSON_ArrayForEach(row, cJSON_GetObjectItemCaseSensitive(t, "rows")) {
			check_vector_row(c, st, row, &sum);
			nrows++;
		}
	}
	assert_true(nrows >= 4);
	cJSON_ArrayForEach(x, cJSON_GetObjectItemCaseSensitive(v, "sum_lanes"))
		assert_int_equal(sum.lane[i++], (uint16_t)x->valueint);
	assert_int_equal(i, 8);
	assert_int_equal(b64_decode_exact(vstr(v, "rows_hash"), want, 32), 0);
	lthash_digest(&sum, got);
	assert_memory_equal(got, want, 32);
	assert_int_equal(rowhash_scan(db, &s, NULL, got, err, sizeof(err)), 0);
	assert_memory_equal(got, want, 32);
	schema_free(&s);
	sqlite3_close(db);
	rowhash_ctx_free(c);
	cJSON_Delete(v);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_digest_storage_classes),
		cmocka_unit_test(test_scan_reads_stored_class),
		cmocka_unit_test(test_column_order_independence),
		cmocka_unit_test(test_excluded_columns),
		cmocka_unit_test(test_cimd_columns),
		cmocka_unit_test(test_excluded_column_absent),
		cmocka_unit_test(test_add_sub_order),
		cmocka_unit_test(test_expansion_counter),
		cmocka_unit_test(test_scan_equals_sum),
		cmocka_unit_test(test_not_counted),
		cmocka_unit_test(test_skip_cimd),
		cmocka_unit_test(test_vector),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
