/* Unit tests for payload: the document codec's strictness and a property
 * test proving every SQLite storage class survives byte for byte (quote() of
 * every cell equal on both sides), plus the cell arena. */
#include "payload.h"
#include "testutil.h"

#include <dirent.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void)
{
	/* xorshift64*: deterministic so a failure reproduces. */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dull;
}

static sqlite3 *mem_db(const char *create)
{
	sqlite3 *db;
	assert_int_equal(sqlite3_open(":memory:", &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, create, NULL, NULL, NULL), SQLITE_OK);
	return db;
}

/* Binds one random value of a random storage class, biased to edge cases. */
static void bind_random(sqlite3_stmt *st, int idx)
{
	static const int64_t ints[] = {INT64_MIN, INT64_MAX, 0, -1, 1, (int64_t)1 << 53,
				       ((int64_t)1 << 53) + 1};
	static const double reals[] = {0.0, -0.0, 1.0 / 3.0, DBL_MIN, DBL_MAX, 5e-324,
				       -1e308, 0.1};
	uint8_t buf[40];
	size_t n = rnd() % sizeof(buf);

	for (size_t i = 0; i < n; i++)
		buf[i] = (uint8_t)rnd();
	switch (rnd() % 9) {
	case 0: sqlite3_bind_null(st, idx); break;
	case 1: sqlite3_bind_int64(st, idx, ints[rnd() % 7]); break;
	case 2: sqlite3_bind_int64(st, idx, (int64_t)rnd()); break;
	case 3: sqlite3_bind_double(st, idx, reals[rnd() % 8]); break;
	case 4: {
		double d;
		uint64_t bits = rnd();
		memcpy(&d, &bits, sizeof(d));
		if (isnan(d))
			d = rnd() % 2 ? INFINITY : -INFINITY;
		sqlite3_bind_double(st, idx, d);
		break;
	}
	case 5: /* arbitrary bytes as TEXT: NULs and invalid UTF-8 */
		sqlite3_bind_text(st, idx, (const char *)buf, (int)n, SQLITE_TRANSIENT);
		break;
	case 6: sqlite3_bind_text(st, idx, "h\xc3\xa9llo \xf0\x9f\x94\x91 \"q\" \\", -1, SQLITE_STATIC); break;
	case 7: sqlite3_bind_blob(st, idx, buf, (int)n, SQLITE_TRANSIENT); break;
	default: sqlite3_bind_zeroblob(st, idx, 0); break; /* empty blob */
	}
}

static void fill_random(sqlite3 *db, int rows)
{
	sqlite3_stmt *st;
	assert_int_equal(sqlite3_prepare_v2(db, "INSERT INTO t VALUES(?,?,?,?,?)", -1, &st, NULL), SQLITE_OK);
	for (int r = 0; r < rows; r++) {
		sqlite3_bind_int(st, 1, r);
		for (int c = 2; c <= 5; c++)
			bind_random(st, c);
		assert_int_equal(sqlite3_step(st), SQLITE_DONE);
		sqlite3_reset(st);
	}
	sqlite3_finalize(st);
}

static void table_from_db(sqlite3 *db, struct payload *p)
{
	static const char *const names[] = {"k", "a", "b", "c", "d"};
	sqlite3_stmt *st;
	struct pl_table *t;
	size_t cap = 4096;

	p->format = PAYLOAD_FORMAT;
	p->schema_version = strdup("20260814120000");
	p->generation = UINT64_MAX;
	p->issued_at = 1795000000;
	p->ntables = 1;
	p->tables = calloc(1, sizeof(*t));
	t = &p->tables[0];
	t->name = strdup("t");
	t->ncols = 5;
	t->cols = calloc(5, sizeof(char *));
	for (int i = 0; i < 5; i++)
		t->cols[i] = strdup(names[i]);
	t->cells = calloc(cap * 5, sizeof(struct pl_value));
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT k,a,b,c,d FROM t ORDER BY k", -1, &st, NULL), SQLITE_OK);
	while (sqlite3_step(st) == SQLITE_ROW) {
		assert_true(t->nrows < cap);
		for (int c = 0; c < 5; c++)
			assert_int_equal(pl_value_from_sqlite(pl_cell(t, t->nrows, (size_t)c), st, c, NULL), 0);
		t->nrows++;
	}
	sqlite3_finalize(st);
}

static void insert_table(sqlite3 *db, const struct pl_table *t)
{
	sqlite3_stmt *st;
	assert_int_equal(sqlite3_prepare_v2(db, "INSERT INTO t VALUES(?,?,?,?,?)", -1, &st, NULL), SQLITE_OK);
	for (size_t r = 0; r < t->nrows; r++) {
		for (size_t c = 0; c < t->ncols; c++)
			assert_int_equal(pl_value_bind(st, (int)c + 1, pl_cell(t, r, c)), SQLITE_OK);
		assert_int_equal(sqlite3_step(st), SQLITE_DONE);
		sqlite3_reset(st);
	}
	sqlite3_finalize(st);
}

static void test_property_quote_equal(void **state)
{
	const char *create = "CREATE TABLE t(k INTEGER PRIMARY KEY, a ANY, b BLOB, c TEXT, d)";
	sqlite3 *src = mem_db("CREATE TABLE t(k INTEGER PRIMARY KEY, a, b, c, d)");
	sqlite3 *dst = mem_db("CREATE TABLE t(k INTEGER PRIMARY KEY, a, b, c, d)");
	struct payload p = {0}, q;
	sqlite3_stmt *s1, *s2;
	char *json, err[256];
	size_t len;
	int rows = 0;
	(void)state;
	(void)create;
	fill_random(src, 2000);
	table_from_db(src, &p);
	assert_int_equal(payload_encode(&p, &json, &len), 0);
	if (payload_decode((const uint8_t *)json, len, &q, err, sizeof(err)) != 0)
		fail_msg("decode: %s", err);
	assert_int_equal(q.generation, UINT64_MAX);
	insert_table(dst, &q.tables[0]);
	/* quote() shows storage class and exact bytes (hex for blobs, %!.15g
	 * would lose bits, so REALs are compared as their IEEE bits too). */
	assert_int_equal(sqlite3_prepare_v2(src, "SELECT quote(a),quote(b),quote(c),quote(d),typeof(a)||typeof(b)||typeof(c)||typeof(d),"
				"hex(a)||hex(b)||hex(c)||hex(d) FROM t ORDER BY k", -1, &s1, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(dst, "SELECT quote(a),quote(b),quote(c),quote(d),typeof(a)||typeof(b)||typeof(c)||typeof(d),"
				"hex(a)||hex(b)||hex(c)||hex(d) FROM t ORDER BY k", -1, &s2, NULL), SQLITE_OK);
	while (sqlite3_step(s1) == SQLITE_ROW) {
		assert_int_equal(sqlite3_step(s2), SQLITE_ROW);
		for (int c = 0; c < 6; c++)
			assert_string_equal(sqlite3_column_text(s1, c), sqlite3_column_text(s2, c));
		rows++;
	}
	assert_int_equal(sqlite3_step(s2), SQLITE_DONE);
	assert_int_equal(rows, 2000);
	/* REALs bit for bit (quote() prints only 15 significant digits). */
	for (size_t r = 0; r < p.tables[0].nrows; r++) {
		for (size_t c = 0; c < 5; c++)
			assert_true(pl_value_equal(pl_cell(&p.tables[0], r, c), pl_cell(&q.tables[0], r, c)));
	}
	sqlite3_finalize(s1);
	sqlite3_finalize(s2);
	free(json);
	payload_free(&p);
	payload_free(&q);
	sqlite3_close(src);
	sqlite3_close(dst);
}

static void test_cell_forms(void **state)
{
	static const struct { const char *in; enum pl_type type; } ok[] = {
		{"i:0", PL_INT}, {"i:-9223372036854775808", PL_INT}, {"i:9223372036854775807", PL_INT},
		{"r:-0", PL_REAL}, {"r:inf", PL_REAL}, {"r:1.5e-300", PL_REAL}, {"r:1E+2", PL_REAL},
		{"r:1e-400", PL_REAL}, {"t:", PL_TEXT}, {"t:a\\u0000", PL_TEXT},
		{"t:caf\xc3\xa9", PL_TEXT}, {"x:AP8=", PL_TEXT}, {"x:/w==", PL_TEXT}, {"b:", PL_BLOB}, {"b:AAE=", PL_BLOB},
	};
	static const char *const bad[] = {"", "i", "i:", "i:01", "i:-0", "i:+1", "i:1.0",
		"i:9223372036854775808", "r:nan", "r:0x1p3", "r:infinity", "r:1e999", "r:",
		"r:.5", "r:1.", "r:+1", "r:01.5", "r:-", "r:1e", "r:1e+", "r:-.5", "r:1.5.", "r:1ee2", "r:0x1",
		"t:\xff", "t:\xc0\x80", "t:\xed\xa0\x80", "x:AP8", "x:", "x:YWJj", "b:!!!!", "q:1", "T:x"};
	struct pl_value v;
	(void)state;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		if (pl_value_decode(ok[i].in, &v, NULL) != 0)
			fail_msg("rejected %s", ok[i].in);
		assert_int_equal(v.type, ok[i].type);
		pl_value_clear(&v);
	}
	/* Below the smallest subnormal a decimal rounds to zero of its sign. */
	assert_int_equal(pl_value_decode("r:-1e-400", &v, NULL), 0);
	assert_true(v.u.r == 0.0 && signbit(v.u.r));
	assert_int_equal(pl_value_decode("r:1e-400", &v, NULL), 0);
	assert_true(v.u.r == 0.0 && !signbit(v.u.r));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (pl_value_decode(bad[i], &v, NULL) != -1)
			fail_msg("accepted %s", bad[i]);
		pl_value_clear(&v);
	}
	/* ASCII runs (checked eight bytes at a time) with one NUL, one 0x80,
	 * one 0x7f or one two-byte character at every position. */
	for (size_t n = 0; n <= 24; n++) {
		for (size_t at = 0; at <= n; at++) {
			static const uint8_t odd[] = {0x00, 0x80, 0x7f, 0xc3};
			for (size_t k = 0; k < sizeof(odd); k++) {
				uint8_t buf[32];
				struct pl_value t = {.type = PL_TEXT, .u.bytes = buf};
				bool is_null;
				memset(buf, 'a', sizeof(buf));
				if (at < n)
					buf[at] = odd[k];
				if (at < n && odd[k] == 0xc3 && at + 1 < n)
					buf[at + 1] = 0xa9;
				t.len = n;
				char *e = pl_value_encode(&t, &is_null);
				bool plain = at == n || odd[k] == 0x7f || (odd[k] == 0xc3 && at + 1 < n);
				assert_int_equal(e[0], plain ? 't' : 'x');
				free(e);
			}
		}
	}
}

static void expect_reject_n(const char *doc, size_t len, const char *want)
{
	struct payload p;
	char err[256] = "";
	if (payload_decode((const uint8_t *)doc, len, &p, err, sizeof(err)) != -1) {
		payload_free(&p);
		fail_msg("accepted %.*s", (int)len, doc);
	}
	if (strstr(err, want) == NULL)
		fail_msg("error '%s' lacks '%s'", err, want);
}

static void expect_reject(const char *doc, const char *want)
{
	expect_reject_n(doc, strlen(doc), want);
}

#define KEY "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
#define HDR "\"sender\":\"" KEY "\",\"recipient\":\"" KEY "\",\"generation\":\"5\",\"issued_at\":\"2026-11-22T20:00:00Z\",\"schema_version\":\"20260814120000\",\"jwt_key\":null"

static void test_document_rejections(void **state)
{
	struct payload p;
	char err[256];
	const char *good = "{\"format\":1," HDR ",\"tables\":[{\"name\":\"users\",\"columns\":[\"id\",\"n\"],\"rows\":[[\"t:a\",null]]}]}";
	(void)state;
	assert_int_equal(payload_decode((const uint8_t *)good, strlen(good), &p, err, sizeof(err)), 0);
	assert_int_equal(p.generation, 5);
	assert_int_equal(p.tables[0].nrows, 1);
	payload_free(&p);
	expect_reject("[]", "not a JSON object");
	expect_reject("{\"format\":1," HDR ",\"generation\":\"6\",\"tables\":[]}", "a member appears twice");
	expect_reject("{\"format\":1," HDR ",\"tables\":[{\"name\":\"t\",\"columns\":[\"a\",\"A\"],\"rows\":[]}]}", "column A appears twice");
	expect_reject("{\"format\":2," HDR ",\"tables\":[]}", "unsupported payload format 2 (this build reads 1)");
	expect_reject("{\"format\":1," HDR ",\"tables\":[],\"extra\":1}", "unknown member \"extra\"");
	expect_reject("{\"format\":1,\"sender\":\"AAAA\",\"recipient\":\"" KEY "\",\"generation\":\"5\",\"issued_at\":\"2026-11-22T20:00:00Z\",\"schema_version\":\"1\",\"jwt_key\":null,\"tables\":[]}", "\"sender\" is not a base64");
	expect_reject("{\"format\":1," HDR ",\"tables\":[{\"name\":\"t\",\"columns\":[\"a\",\"b\"],\"rows\":[[\"i:1\"]]}]}", "row 0 does not have 2 cells");
	expect_reject("{\"format\":1," HDR ",\"tables\":[{\"name\":\"t\",\"columns\":[\"a\"],\"rows\":[[1]]}]}", "row 0 column a: malformed cell");
	/* Width before content, whichever cell is bad; a bad row after good ones. */
	expect_reject("{\"format\":1," HDR ",\"tables\":[{\"name\":\"t\",\"columns\":[\"a\",\"b\"],\"rows\":[[1]]}]}", "row 0 does not have 2 cells");
	expect_reject("{\"format\":1," HDR ",\"tables\":[{\"name\":\"t\",\"columns\":[\"a\"],\"rows\":[[\"t:x\",1]]}]}", "row 0 does not have 1 cells");
	expect_reject("{\"format\":1," HDR ",\"tables\":[{\"name\":\"t\",\"columns\":[\"a\"],\"rows\":[[\"q:1\",\"t:x\"]]}]}", "row 0 does not have 1 cells");
	expect_reject("{\"format\":1," HDR ",\"tables\":[{\"name\":\"t\",\"columns\":[\"a\"],\"rows\":[{\"a\":\"t:x\"}]}]}", "row 0 does not have 1 cells");
	expect_reject("{\"format\":1," HDR ",\"tables\":[{\"name\":\"t\",\"columns\":[\"a\",\"b\"],\"rows\":[[\"t:x\",\"b:AA==\"],[null,\"x:dA==\"]]}]}", "row 1 column b: malformed cell");
	expect_reject("{\"format\":1," HDR ",\"tables\":[{\"name\":\"t\",\"columns\":[\"a\",\"a\"],\"rows\":[]}]}", "column a appears twice");
	expect_reject("{\"format\":1," HDR ",\"tables\":[{\"name\":\"t\",\"columns\":[\"a\"],\"rows\":[]},{\"name\":\"t\",\"columns\":[\"a\"],\"rows\":[]}]}", "table t appears twice");
	expect_reject("{\"format\":1,\"sender\":\"" KEY "\",\"recipient\":\"" KEY "\",\"generation\":\"-1\",\"issued_at\":\"2026-11-22T20:00:00Z\",\"schema_version\":\"1\",\"jwt_key\":null,\"tables\":[]}", "\"generation\" must be a decimal string");
	expect_reject("{\"format\":1,\"sender\":\"" KEY "\",\"recipient\":\"" KEY "\",\"generation\":\"1\",\"issued_at\":\"yesterday\",\"schema_version\":\"1\",\"jwt_key\":null,\"tables\":[]}", "\"issued_at\" is not an RFC 3339");
}

/* Documents that differ from GOOD in one place. */
#define HEAD "\"sender\":\"" KEY "\",\"recipient\":\"" KEY "\",\"generation\":\"5\",\"schema_version\":\"20260814120000\""
#define DOC(fmt, when, jwk, tables) \
	"{\"format\":" fmt "," HEAD ",\"issued_at\":\"" when "\",\"jwt_key\":" jwk ",\"tables\":" tables "}"
#define TABLE(name, col, cell) "[{\"name\":\"" name "\",\"columns\":[\"" col "\"],\"rows\":[[" cell "]]}]"
#define GOOD DOC("1", "2026-11-22T20:00:00Z", "{\"kty\":\"EC\"}", TABLE("users", "id", "\"t:a\""))

static void expect_accept_n(const char *doc, size_t len)
{
	struct payload p;
	char err[256] = "";
	if (payload_decode((const uint8_t *)doc, len, &p, err, sizeof(err)) != 0)
		fail_msg("refused %.*s: %s", (int)len, doc, err);
	payload_free(&p);
}

static void expect_accept(const char *doc)
{
	expect_accept_n(doc, strlen(doc));
}

/* What cJSON cannot see (it ends strings at NUL, skips a byte-order mark and
 * control bytes as whitespace, takes "01" and "1.", ignores what follows the
 * object) and the raw-text check refuses. */
static void test_raw_text_rejections(void **state)
{
	static const char nul_cell[] = DOC("1", "2026-11-22T20:00:00Z", "null", TABLE("users", "id", "\"t:a\0b\""));
	static const char nul_after[] = GOOD "\0";
	(void)state;
	expect_accept_n(GOOD, strlen(GOOD));
	expect_accept_n(GOOD " \r\n\t", strlen(GOOD) + 4);
	/* An escaped backslash before "u0000" is not an escaped NUL. */
	expect_accept(DOC("1", "2026-11-22T20:00:00Z", "null", TABLE("users", "id", "\"t:a\\\\u0000\"")));
	expect_reject(DOC("1", "2026-11-22T20:00:00Z", "null", TABLE("users", "id", "\"t:a\\u0000b\"")), "U+0000");
	expect_reject_n(nul_cell, sizeof(nul_cell) - 1, "NUL byte inside a string");
	expect_reject(DOC("1", "2026-11-22T20:00:00Z", "null", TABLE("users\\u0000x", "id", "\"t:a\"")), "U+0000");
	expect_reject(DOC("1", "2026-11-22T20:00:00Z", "null", TABLE("users", "id\\u0000x", "\"t:a\"")), "U+0000");
	expect_reject(DOC("1", "2026-11-22T20:00:00Z", "{\"kty\":\"EC\",\"d\":\"\\u0000\"}", "[]"), "U+0000");
	expect_reject(DOC("1", "2026-11-22T20:00:00Z", "null", TABLE("users", "id", "\"t:a\x01\"")), "control byte 0x01 inside a string");
	expect_reject(DOC("1", "2026-11-22T20:00:00Z", "null", TABLE("users\xff", "id", "\"t:a\"")), "invalid UTF-8");
	expect_reject(DOC("1", "2026-11-22T20:00:00Z", "{\"kty\":\"EC\",\"x\":\"\xc0\x80\"}", "[]"), "invalid UTF-8");
	expect_reject("\xef\xbb\xbf" GOOD, "byte-order mark");
	expect_reject(GOOD "x", "after the JSON object");
	expect_reject_n(nul_after, sizeof(nul_after) - 1, "after the JSON object");
	expect_reject(GOOD GOOD, "after the JSON object");
	expect_reject(GOOD "\n" GOOD, "after the JSON object");
	expect_reject("\x01" GOOD, "byte 0x01 outside a string");
	expect_reject(DOC("1", "2026-11-22T20:00:00Z", "{\"kty\":\"EC\",\"n\":01}", "[]"), "not a JSON number");
	expect_reject(DOC("1", "2026-11-22T20:00:00Z", "{\"kty\":\"EC\",\"n\":1.}", "[]"), "not a JSON number");
	expect_reject(DOC("1", "2026-11-22T20:00:00Z", "{\"kty\":\"EC\",\"n\":-}", "[]"), "not a JSON number");
	expect_reject(DOC("1", "2026-11-22T20:00:00Z", "null", "[]") "\"", "after the JSON object");
}

/* The string scan goes eight bytes at a time: one odd byte or escape at
 * every offset of a run of ASCII must get the same verdict as alone. */
static void test_raw_text_every_offset(void **state)
{
	static const struct { const char *odd; bool ok; } odd[] = {
		{"\x01", false}, {"\x1f", false}, {"\x7f", true}, {"\xc3\xa9", true}, {"\xff", false},
		{"\xed\xa0\x80", false}, {"\\u0000", false}, {"\\\"", true}, {"\\\\", true},
	};
	(void)state;
	for (size_t n = 0; n <= 20; n++) {
		for (size_t at = 0; at <= n; at++) {
			for (size_t k = 0; k < sizeof(odd) / sizeof(odd[0]); k++) {
				char cell[64], doc[1024];
				int len;
				snprintf(cell, sizeof(cell), "\"t:%.*s%s%.*s\"", (int)at, "aaaaaaaaaaaaaaaaaaaa",
					 odd[k].odd, (int)(n - at), "bbbbbbbbbbbbbbbbbbbb");
				len = snprintf(doc, sizeof(doc), "{\"format\":1," HDR ",\"tables\":"
					       "[{\"name\":\"t\",\"columns\":[\"c\"],\"rows\":[[%s]]}]}", cell);
				if (odd[k].ok)
					expect_accept_n(doc, (size_t)len);
				else
					expect_reject_n(doc, (size_t)len, "");
			}
		}
	}
}

static void test_header_rejections(void **state)
{
	(void)state;
	expect_accept(DOC("1", "2026-11-22T20:00:00Z", "{\"kty\":\"EC\",\"n\":[1,2.5e3,{\"a\":-0}]}", "[]"));
	expect_reject(DOC("1.0", "2026-11-22T20:00:00Z", "null", "[]"), "fraction or exponent");
	expect_reject(DOC("1e0", "2026-11-22T20:00:00Z", "null", "[]"), "fraction or exponent");
	expect_reject(DOC("10e-1", "2026-11-22T20:00:00Z", "null", "[]"), "fraction or exponent");
	expect_reject(DOC("9007199254740992", "2026-11-22T20:00:00Z", "null", "[]"), "payload has no \"format\" integer");
	expect_reject(DOC("\"1\"", "2026-11-22T20:00:00Z", "null", "[]"), "payload has no \"format\" integer");
	expect_reject(DOC("-0", "2026-11-22T20:00:00Z", "null", "[]"), "unsupported payload format 0 (this build reads 1)");
	expect_reject(DOC("123456789", "2026-11-22T20:00:00Z", "null", "[]"), "unsupported payload format 123456789 (this build reads 1)");
	expect_reject(DOC("-7", "2026-11-22T20:00:00Z", "null", "[]"), "unsupported payload format -7 (this build reads 1)");
	expect_reject(DOC("1", "2026-11-22T20:00:00Z", "{}", "[]"), "\"jwt_key\" must be a JWK object");
	expect_reject(DOC("1", "2026-11-22T20:00:00Z", "{\"kty\":1}", "[]"), "\"jwt_key\" must be a JWK object");
	expect_reject(DOC("1", "2026-11-22T20:00:00Z", "{\"kty\":\"\"}", "[]"), "\"jwt_key\" must be a JWK object");
	expect_reject(DOC("1", "2026-11-22T20:00:00Z", "[\"kty\"]", "[]"), "\"jwt_key\" must be a JWK object");
	expect_reject(DOC("1", "2026-11-22T20:00:00Z", "{\"kty\":\"EC\",\"kty\":\"RSA\"}", "[]"), "\"jwt_key\": a member appears twice");
	expect_reject(DOC("1", "2026-11-22T20:00:00Z", "{\"kty\":\"EC\",\"o\":[{\"a\":1,\"a\":2}]}", "[]"), "\"jwt_key\": a member appears twice");
	expect_reject(DOC("1", "2026-11-22T20:00:00Z", "{\"kty\":\"EC\",\"o\":[-1e999]}", "[]"), "overflows binary64");
	expect_reject(DOC("1", "2026-02-30T20:00:00Z", "null", "[]"), "\"issued_at\" is not an RFC 3339");
	expect_reject(DOC("1", "2026-11-22T20:00:60Z", "null", "[]"), "\"issued_at\" is not an RFC 3339");
	expect_reject(DOC("1", "2026-11-22T24:00:00Z", "null", "[]"), "\"issued_at\" is not an RFC 3339");
	expect_reject(DOC("1", "1969-12-31T23:59:59Z", "null", "[]"), "\"issued_at\" is not an RFC 3339");
	expect_reject(DOC("1", "2026-11-22t20:00:00z", "null", "[]"), "\"issued_at\" is not an RFC 3339");
}

/* The fuzz corpus doubles as the list of documents the spec refuses: every
 * reject-*.json must be refused, every other seed accepted (the interop test
 * runs the same files through the Python peer). */
static void test_corpus_verdicts(void **state)
{
	const char *dir = PIS_TEST_DIR "/fuzz/corpus/payload";
	DIR *d = opendir(dir);
	struct dirent *e;
	int refused = 0, accepted = 0;
	(void)state;
	assert_non_null(d);
	while ((e = readdir(d)) != NULL) {
		char path[4096], *doc;
		size_t len;
		bool want_reject = strncmp(e->d_name, "reject-", 7) == 0;
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		doc = tu_read_file(path, &len);
		assert_non_null(doc);
		if (want_reject) {
			expect_reject_n(doc, len, "");
			refused++;
		} else {
			expect_accept_n(doc, len);
			accepted++;
		}
		free(doc);
	}
	closedir(d);
	assert_true(refused >= 30);
	assert_true(accepted >= 3);
}

/* Arena bytes never move or overlap: small values fill blocks, large ones
 * (over a quarter block) get blocks of their own without wasting the current. */
static void test_arena(void **state)
{
	static const size_t sizes[] = {1, 0, 100, 16384, 16385, 70000, 3, 65536, 40000, 40000, 7};
	struct pl_arena *a = NULL;
	uint8_t *got[200];
	size_t n = 0;
	(void)state;
	for (int round = 0; round < 18; round++) {
		for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++, n++) {
			got[n] = pl_arena_alloc(&a, sizes[i]);
			assert_non_null(got[n]);
			memset(got[n], (int)(n & 0xff), sizes[i]);
		}
	}
	for (size_t k = 0; k < n; k++) {
		size_t len = sizes[k % (sizeof(sizes) / sizeof(sizes[0]))];
		for (size_t j = 0; j < len; j++)
			assert_int_equal(got[k][j], (uint8_t)(k & 0xff));
	}
	pl_arena_free(&a);
	assert_null(a);
}

static void test_time_round_trip(void **state)
{
	char buf[21];
	int64_t t;
	(void)state;
	payload_format_time(1795377600, buf);
	assert_int_equal(payload_parse_time(buf, &t), 0);
	assert_int_equal(t, 1795377600);
	assert_int_equal(payload_parse_time("2026-11-22 20:00:00Z", &t), -1);
	/* Found by fuzz_payload: a year that does not print back the same way. */
	assert_int_equal(payload_parse_time("0252-11-22T20:00:00Z", &t), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_property_quote_equal),
		cmocka_unit_test(test_cell_forms),
		cmocka_unit_test(test_document_rejections),
		cmocka_unit_test(test_raw_text_rejections),
		cmocka_unit_test(test_raw_text_every_offset),
		cmocka_unit_test(test_header_rejections),
		cmocka_unit_test(test_corpus_verdicts),
		cmocka_unit_test(test_time_round_trip),
		cmocka_unit_test(test_arena),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
