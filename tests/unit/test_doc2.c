/* Unit tests for doc2, the format-2 document (proto/SPEC.md section 5A):
 * round trips of full and delta documents through the record encoder and
 * the reader (headers with and without jwt_key, tables chunked over
 * records, changes records with key and deleted), each refusal with its
 * message, the doc2 fuzz corpus's verdicts, and the committed vector
 * proto/vectors/doc2-delta.json against the rows-hash vector. It does not
 * test sealing (test_seal.c) or applying (the apply2 tests). */
#include "b64.h"
#include "doc2.h"
#include "payload.h"
#include "payload_json.h"
#include "pidfix.h"
#include "rowhash.h"
#include "schema.h"
#include "testutil.h"
#include "vecdb.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CORPUS PIS_TEST_DIR "/fuzz/corpus/doc2"
#define VECTOR_DIR PIS_SOURCE_DIR "/proto/vectors"

/* ---- documents as text ---- */

#define KB "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
#define RH "ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8="
#define COMMON                                                                            \
	"\"sender\":\"" KB "\",\"recipient\":\"" KB "\",\"generation\":\"5\","            \
	"\"issued_at\":\"2026-11-22T20:00:00Z\",\"schema_version\":\"20260814120000\","   \
	"\"rows_hash\":\"" RH "\""
#define FULL(n) "{\"format\":2,\"kind\":\"full\"," COMMON ",\"jwt_key\":null,\"tables\":" #n "}\n"
#define DELTA(n)                                                                          \
	"{\"format\":2,\"kind\":\"delta\"," COMMON ",\"base_generation\":\"4\","          \
	"\"base_rows_hash\":\"" RH "\",\"tables\":" #n "}\n"
#define U_WHOLE "{\"table\":\"users\",\"columns\":[\"id\",\"username\"],\"rows\":[[\"t:u1\",\"t:alice\"]]}\n"
#define U_CHANGES                                                                         \
	"{\"table\":\"users\",\"columns\":[\"id\",\"username\"],\"rows\":[[\"t:u1\","    \
	"\"t:alice\"]],\"key\":[\"id\"],\"deleted\":[[\"t:u2\"]]}\n"
#define S_WHOLE "{\"table\":\"storage\",\"columns\":[\"path\"],\"rows\":[[\"t:a\"]]}\n"
#define ACV_WHOLE "{\"table\":\"app_config_variables\",\"columns\":[\"key\",\"value\"],\"rows\":[[\"t:appName\",\"t:X\"]]}\n"

static int check_text(const char *doc, size_t len, struct doc2_header *h, char *err, size_t errlen)
{
	return doc2_check((const uint8_t *)doc, len, h, err, errlen);
}

static void accepted_len(const char *doc, size_t len)
{
	struct doc2_header h;
	char err[256] = "";
	if (check_text(doc, len, &h, err, sizeof(err)) != 0)
		fail_msg("refused: %s\n%.*s", err, (int)len, doc);
	doc2_header_free(&h);
}

static void accepted(const char *doc)
{
	accepted_len(doc, strlen(doc));
}

static void refused_len(const char *doc, size_t len, const char *needle)
{
	struct doc2_header h;
	char err[256] = "";
	if (check_text(doc, len, &h, err, sizeof(err)) != -1)
		fail_msg("accepted, want a refusal with \"%s\":\n%.*s", needle, (int)len, doc);
	if (strstr(err, needle) == NULL)
		fail_msg("refused with \"%s\", want \"%s\"", err, needle);
	/* h is left empty on refusal: freeing it again is harmless. */
	assert_null(h.schema_version);
	assert_null(h.jwk_json);
}

static void refused(const char *doc, const char *needle)
{
	refused_len(doc, strlen(doc), needle);
}

/* A header built from its members, leaving out drop and adding add. */
static char *header(const char *kind, const char *drop, const char *add, int ntables)
{
	static const char *const full[][2] = {
		{"format", "2"}, {"kind", "\"full\""}, {"sender", "\"" KB "\""},
		{"recipient", "\"" KB "\""}, {"generation", "\"5\""},
		{"issued_at", "\"2026-11-22T20:00:00Z\""}, {"schema_version", "\"20260814120000\""},
		{"rows_hash", "\"" RH "\""}, {"jwt_key", "{\"kty\":\"OKP\",\"crv\":\"Ed25519\"}"},
		{"tables", NULL}, {NULL, NULL}};
	static const char *const delta[][2] = {
		{"format", "2"}, {"kind", "\"delta\""}, {"sender", "\"" KB "\""},
		{"recipient", "\"" KB "\""}, {"generation", "\"5\""},
		{"issued_at", "\"2026-11-22T20:00:00Z\""}, {"schema_version", "\"20260814120000\""},
		{"rows_hash", "\"" RH "\""}, {"base_generation", "\"4\""},
		{"base_rows_hash", "\"" RH "\""}, {"tables", NULL}, {NULL, NULL}};
	const char *const(*m)[2] = strcmp(kind, "delta") == 0 ? delta : full;
	char *out = sqlite3_mprintf("{"), *next, num[16];

	snprintf(num, sizeof(num), "%d", ntables);
	for (int i = 0; m[i][0] != NULL; i++) {
		if (drop != NULL && strcmp(drop, m[i][0]) == 0)
			continue;
		next = sqlite3_mprintf("%s%s\"%s\":%s", out, out[1] ? "," : "", m[i][0],
				       m[i][1] ? m[i][1] : num);
		sqlite3_free(out);
		out = next;
	}
	next = sqlite3_mprintf("%s%s%s}\n", out, add && out[1] ? "," : "", add ? add : "");
	sqlite3_free(out);
	return next;
}

static void refused_header(const char *kind, const char *drop, const char *add, const char *needle)
{
	char *h = header(kind, drop, add, 0);
	refused(h, needle);
	sqlite3_free(h);
}

static void accepted_header(const char *kind, const char *drop, const char *add)
{
	char *h = header(kind, drop, add, 0);
	accepted(h);
	sqlite3_free(h);
}

/* ---- documents through the encoder ---- */

struct buf {
	char *p;
	size_t len;
};

static void append(struct buf *b, char *rec, size_t n)
{
	assert_non_null(rec);
	assert_true(n > 0 && rec[n - 1] == '\n');
	assert_null(memchr(rec, '\n', n - 1)); /* one line per record */
	b->p = realloc(b->p, b->len + n + 1);
	assert_non_null(b->p);
	memcpy(b->p + b->len, rec, n);
	b->len += n;
	b->p[b->len] = '\0';
	free(rec);
}

static void add_header(struct buf *b, const struct doc2_header *h)
{
	char *rec;
	size_t n;
	assert_int_equal(doc2_encode_header(h, &rec, &n), 0);
	append(b, rec, n);
}

/* A table of nrows rows from a generator of cell strings. */
static void make_table(struct pl_table *t, const char *name, size_t ncols,
		       const char *const *cols, size_t nrows,
		       const char *(*gen)(size_t r, size_t c, char *buf))
{
	char buf[64];
	memset(t, 0, sizeof(*t));
	t->name = strdup(name);
	t->ncols = ncols;
	t->cols = calloc(ncols, sizeof(char *));
	t->nrows = nrows;
	t->cells = calloc(nrows * ncols + 1, sizeof(struct pl_value));
	assert_non_null(t->name);
	assert_non_null(t->cols);
	assert_non_null(t->cells);
	for (size_t c = 0; c < ncols; c++)
		t->cols[c] = strdup(cols[c]);
	for (size_t r = 0; r < nrows; r++) {
		for (size_t c = 0; c < ncols; c++) {
			const char *s = gen(r, c, buf);
			if (s != NULL)
				assert_int_equal(pl_value_decode(s, pl_cell(t, r, c), &t->arena), 0);
		}
	}
}

static const char *const every_cell[] = {
	NULL,	 "i:-9223372036854775808", "i:9223372036854775807", "r:-0.0", "r:inf", "r:0.1",
	"t:",	 "t:café \"quoted\" \\ line\nbreak", "x:/w==", "x:YQBi", "b:", "b:AP8=",
};

static const char *gen_users(size_t r, size_t c, char *buf)
{
	if (c == 0) {
		snprintf(buf, 64, "t:u-%zu", r);
		return buf;
	}
	if (c == 1) {
		snprintf(buf, 64, "i:%zu", r * 7);
		return buf;
	}
	return every_cell[r % (sizeof(every_cell) / sizeof(every_cell[0]))];
}

static const char *gen_small(size_t r, size_t c, char *buf)
{
	snprintf(buf, 64, "t:%zu-%zu", r, c);
	return buf;
}

static void assert_same_rows(const struct pl_table *got, const struct pl_table *want, size_t first,
			     size_t n)
{
	assert_string_equal(got->name, want->name);
	assert_int_equal(got->ncols, want->ncols);
	for (size_t c = 0; c < want->ncols; c++)
		assert_string_equal(got->cols[c], want->cols[c]);
	assert_int_equal(got->nrows, n);
	for (size_t r = 0; r < n; r++) {
		for (size_t c = 0; c < want->ncols; c++)
			assert_true(pl_value_equal(pl_cell(got, r, c), pl_cell(want, first + r, c)));
	}
}

static void fill_header(struct doc2_header *h, enum doc2_kind kind)
{
	memset(h, 0, sizeof(*h));
	h->kind = kind;
	for (int i = 0; i < 32; i++) {
		h->sender[i] = (uint8_t)i;
		h->recipient[i] = (uint8_t)(0x40 + i);
		h->rows_hash[i] = (uint8_t)(0x80 + i);
		h->base_rows_hash[i] = (uint8_t)(0xc0 + i);
	}
	h->generation = 18446744073709551615ull;
	h->base_generation = kind == DOC2_DELTA ? 18446744073709551614ull : 0;
	assert_int_equal(payload_parse_time("2026-11-22T20:00:00Z", &h->issued_at), 0);
	h->schema_version = strdup("20260814120000");
}

static void assert_same_header(const struct doc2_header *got, const struct doc2_header *want)
{
	assert_int_equal(got->kind, want->kind);
	assert_memory_equal(got->sender, want->sender, 32);
	assert_memory_equal(got->recipient, want->recipient, 32);
	assert_memory_equal(got->rows_hash, want->rows_hash, 32);
	assert_true(got->generation == want->generation);
	assert_int_equal(got->issued_at, want->issued_at);
	assert_string_equal(got->schema_version, want->schema_version);
	assert_int_equal(got->ntables, want->ntables);
	assert_int_equal(got->has_jwt, want->has_jwt);
	if (want->jwk_json != NULL)
		assert_string_equal(got->jwk_json, want->jwk_json);
	else
		assert_null(got->jwk_json);
	if (want->kind == DOC2_DELTA) {
		assert_true(got->base_generation == want->base_generation);
		assert_memory_equal(got->base_rows_hash, want->base_rows_hash, 32);
	}
}

/* A full snapshot: users over three records (1024 + 1024 + 452 rows, every
 * cell form), storage, an emptied table and a pseudo-table; with the JWK
 * and, a second time, with jwt_key null. */
static void test_full_round_trip(void **state)
{
	static const char *const ucols[] = {"id", "n", "v"}, *const scols[] = {"path", "data"};
	static const char *const acols[] = {"key", "value"};
	(void)state;

	for (int with_jwk = 1; with_jwk >= 0; with_jwk--) {
		struct pl_table users, storage, empty, app;
		struct doc2_header h, got;
		struct doc2_reader r;
		struct doc2_table t;
		struct buf b = {NULL, 0};
		char *rec, err[256];
		size_t n, first;

		make_table(&users, "users", 3, ucols, 2500, gen_users);
		make_table(&storage, "storage", 2, scols, 1, gen_small);
		make_table(&empty, "api_keys", 2, scols, 0, gen_small);
		make_table(&app, "@app_configuration", 2, acols, 2, gen_small);
		fill_header(&h, DOC2_FULL);
		h.has_jwt = true;
		h.jwk_json = with_jwk ? strdup(FX_JWK_A) : NULL;
		h.ntables = 6;
		add_header(&b, &h);
		assert_non_null(strstr(b.p, with_jwk ? "\"jwt_key\":{\"kty\":\"EC\"" : "\"jwt_key\":null"));
		for (first = 0; first < users.nrows; first += DOC2_ROWS_PER_RECORD) {
			n = users.nrows - first < DOC2_ROWS_PER_RECORD ? users.nrows - first
									: DOC2_ROWS_PER_RECORD;
			assert_int_equal(doc2_encode_rows(&users, first, n, &rec, &n), 0);
			append(&b, rec, n);
		}
		assert_int_equal(doc2_encode_rows(&storage, 0, 1, &rec, &n), 0);
		append(&b, rec, n);
		assert_int_equal(doc2_encode_rows(&empty, 0, 0, &rec, &n), 0);
		append(&b, rec, n);
		{
			struct doc2_table whole = {.t = app};
			assert_int_equal(doc2_encode_table(&whole, &rec, &n), 0);
			append(&b, rec, n);
		}
		assert_true(doc2_sniff((const uint8_t *)b.p, b.len));

		doc2_reader_init(&r, (const uint8_t *)b.p, b.len);
		assert_int_equal(doc2_read_header(&r, &got, err, sizeof(err)), 0);
		assert_same_header(&got, &h);
		for (first = 0; first < users.nrows; first += DOC2_ROWS_PER_RECORD) {
			assert_int_equal(doc2_read_table(&r, &t, err, sizeof(err)), 1);
			assert_false(t.changes);
			n = users.nrows - first < DOC2_ROWS_PER_RECORD ? users.nrows - first
									: DOC2_ROWS_PER_RECORD;
			assert_same_rows(&t.t, &users, first, n);
			doc2_table_free(&t);
		}
		assert_int_equal(doc2_read_table(&r, &t, err, sizeof(err)), 1);
		assert_same_rows(&t.t, &storage, 0, 1);
		doc2_table_free(&t);
		assert_int_equal(doc2_read_table(&r, &t, err, sizeof(err)), 1);
		assert_same_rows(&t.t, &empty, 0, 0);
		doc2_table_free(&t);
		assert_int_equal(doc2_read_table(&r, &t, err, sizeof(err)), 1);
		assert_same_rows(&t.t, &app, 0, 2);
		doc2_table_free(&t);
		assert_int_equal(doc2_read_table(&r, &t, err, sizeof(err)), 0);
		assert_int_equal(doc2_read_table(&r, &t, err, sizeof(err)), 0);
		doc2_reader_free(&r);
		doc2_header_free(&got);

		/* The whole document once more through doc2_check. */
		assert_int_equal(doc2_check((const uint8_t *)b.p, b.len, &got, err, sizeof(err)), 0);
		assert_same_header(&got, &h);
		doc2_header_free(&got);
		/* One record fewer than announced, or one more. */
		h.ntables = 7;
		{
			struct buf b2 = {NULL, 0};
			add_header(&b2, &h);
			size_t hl = b2.len, ol = strchr(b.p, '\n') - b.p + 1;
			b2.p = realloc(b2.p, hl + b.len - ol + 1);
			memcpy(b2.p + hl, b.p + ol, b.len - ol + 1);
			b2.len = hl + b.len - ol;
			refused_len(b2.p, b2.len, "the document ends before record 8");
			free(b2.p);
		}
		doc2_header_free(&h);
		pl_table_free(&users);
		pl_table_free(&storage);
		pl_table_free(&empty);
		pl_table_free(&app);
		free(b.p);
	}
}

static void make_changes(struct doc2_table *dt, const char *name, size_t ncols,
			 const char *const *cols, size_t nrows, size_t nkey, const char *const *key,
			 size_t ndeleted, const char *const *deleted)
{
	memset(dt, 0, sizeof(*dt));
	make_table(&dt->t, name, ncols, cols, nrows, gen_small);
	dt->changes = true;
	dt->nkey = nkey;
	dt->key = calloc(nkey, sizeof(char *));
	dt->ndeleted = ndeleted;
	dt->deleted = calloc(ndeleted * nkey + 1, sizeof(struct pl_value));
	for (size_t k = 0; k < nkey; k++)
		dt->key[k] = strdup(key[k]);
	for (size_t i = 0; i < ndeleted * nkey; i++)
		assert_int_equal(pl_value_decode(deleted[i], &dt->deleted[i], &dt->t.arena), 0);
}

static void assert_same_changes(const struct doc2_table *got, const struct doc2_table *want)
{
	assert_same_rows(&got->t, &want->t, 0, want->t.nrows);
	assert_int_equal(got->changes, want->changes);
	if (!want->changes)
		return;
	assert_int_equal(got->nkey, want->nkey);
	for (size_t k = 0; k < want->nkey; k++)
		assert_string_equal(got->key[k], want->key[k]);
	assert_int_equal(got->ndeleted, want->ndeleted);
	for (size_t i = 0; i < want->ndeleted * want->nkey; i++)
		assert_true(pl_value_equal(&got->deleted[i], &want->deleted[i]));
}

/* Deltas: changes records (a single and a composite key, rows and deleted
 * keys, only deleted keys), whole app_config_variables and pseudo-table
 * records; a header without jwt_key (unchanged), with a key, with null. */
static void test_delta_round_trip(void **state)
{
	static const char *const ucols[] = {"id", "username", "email"}, *const ukey[] = {"id"};
	static const char *const udel[] = {"t:u-9", "i:42", "x:/w=="};
	static const char *const gcols[] = {"user_group_id", "oidc_client_id"};
	static const char *const gkey[] = {"oidc_client_id", "user_group_id"};
	static const char *const gdel[] = {"t:c1", "t:g1", "t:c1", "t:g2"};
	static const char *const acols[] = {"key", "value"};
	(void)state;

	for (int jwt = 0; jwt < 3; jwt++) {
		struct doc2_table tabs[4], t;
		struct doc2_header h, got;
		struct doc2_reader r;
		struct buf b = {NULL, 0};
		char *rec, err[256];
		size_t n;

		make_changes(&tabs[0], "users", 3, ucols, 2, 1, ukey, 3, udel);
		make_changes(&tabs[1], "oidc_clients_allowed_user_groups", 2, gcols, 0, 2, gkey, 2, gdel);
		memset(&tabs[2], 0, sizeof(tabs[2]));
		make_table(&tabs[2].t, "app_config_variables", 2, acols, 3, gen_small);
		memset(&tabs[3], 0, sizeof(tabs[3]));
		make_table(&tabs[3].t, "@app_configuration", 2, acols, 1, gen_small);
		fill_header(&h, DOC2_DELTA);
		h.has_jwt = jwt > 0;
		h.jwk_json = jwt == 1 ? strdup(FX_JWK_B) : NULL;
		h.ntables = 4;
		add_header(&b, &h);
		assert_true((strstr(b.p, "jwt_key") != NULL) == (jwt > 0));
		assert_non_null(strstr(b.p, "\"base_generation\":\"18446744073709551614\""));
		for (int i = 0; i < 4; i++) {
			assert_int_equal(doc2_encode_table(&tabs[i], &rec, &n), 0);
			append(&b, rec, n);
		}
		doc2_reader_init(&r, (const uint8_t *)b.p, b.len);
		assert_int_equal(doc2_read_header(&r, &got, err, sizeof(err)), 0);
		assert_same_header(&got, &h);
		for (int i = 0; i < 4; i++) {
			if (doc2_read_table(&r, &t, err, sizeof(err)) != 1)
				fail_msg("record %d: %s", i, err);
			assert_same_changes(&t, &tabs[i]);
			doc2_table_free(&t);
		}
		assert_int_equal(doc2_read_table(&r, &t, err, sizeof(err)), 0);
		doc2_reader_free(&r);
		doc2_header_free(&got);
		doc2_header_free(&h);
		for (int i = 0; i < 4; i++)
			doc2_table_free(&tabs[i]);
		free(b.p);
	}
}

/* Tables announced as 0, a header alone; the reader's order of calls. */
static void test_minimal_and_misuse(void **state)
{
	struct doc2_reader r;
	struct doc2_header h;
	struct doc2_table t;
	char err[256];
	const char *doc = FULL(0);
	(void)state;

	accepted(FULL(0));
	accepted(DELTA(0));
	accepted(FULL(1) U_WHOLE);
	accepted(DELTA(1) U_CHANGES);
	accepted(DELTA(2) U_CHANGES ACV_WHOLE);
	accepted(FULL(2) U_WHOLE U_WHOLE); /* one table over two records */
	accepted(FULL(3) U_WHOLE S_WHOLE ACV_WHOLE);
	/* CR is whitespace: allowed before the line feed. */
	accepted("{\"format\":2,\"kind\":\"full\"," COMMON ",\"jwt_key\":null,\"tables\":0}\r\n");
	doc2_reader_init(&r, (const uint8_t *)doc, strlen(doc));
	assert_int_equal(doc2_read_table(&r, &t, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "the header has not been read"));
	assert_int_equal(doc2_read_header(&r, &h, err, sizeof(err)), 0);
	{
		struct doc2_header again;
		assert_int_equal(doc2_read_header(&r, &again, err, sizeof(err)), -1);
		assert_non_null(strstr(err, "the header was read already"));
		assert_null(again.schema_version);
	}
	assert_int_equal(doc2_read_table(&r, &t, err, sizeof(err)), 0);
	doc2_header_free(&h);
	doc2_reader_free(&r);
	assert_true(doc2_sniff((const uint8_t *)doc, strlen(doc)));
	assert_false(doc2_sniff((const uint8_t *)"{\"format\":1}", 12));
	assert_false(doc2_sniff((const uint8_t *)"{\"format\":1}\n", 13));
	assert_false(doc2_sniff((const uint8_t *)"", 0));
}

/* ---- refusals ---- */

static void test_refuse_format(void **state)
{
	(void)state;
	refused("{\"format\":3,\"kind\":\"full\"}\n", "unsupported payload format 3 (this build reads 1 and 2)");
	/* Before any other member is looked at. */
	refused("{\"format\":3,\"nonsense\":true}\n", "unsupported payload format 3 (this build reads 1 and 2)");
	refused("{\"format\":1,\"kind\":\"full\"}\n", "unsupported payload format 1 (this build reads 1 and 2)");
	refused("{\"format\":-0,\"kind\":\"full\"}\n", "unsupported payload format 0 (this build reads 1 and 2)");
	refused("{\"format\":18446744073709551616}\n", "no \"format\" integer");
	refused("{\"format\":\"2\"}\n", "no \"format\" integer");
	refused("{\"format\":2.0}\n", "fraction or exponent");
	refused("{\"format\":2e0}\n", "fraction or exponent");
	refused("{\"kind\":\"full\"}\n", "no \"format\" integer");
	refused("[2]\n", "not a JSON object");
	refused("", "the document ends before record 1");
}

static void test_refuse_header_members(void **state)
{
	static const char *const full_required[] = {"kind", "sender", "recipient", "generation",
						    "issued_at", "schema_version", "rows_hash",
						    "jwt_key", "tables", NULL};
	static const char *const delta_required[] = {"kind", "sender", "recipient", "generation",
						     "issued_at", "schema_version", "rows_hash",
						     "base_generation", "base_rows_hash", "tables",
						     NULL};
	(void)state;

	accepted_header("full", NULL, NULL);
	accepted_header("delta", NULL, NULL);
	accepted_header("delta", NULL, "\"jwt_key\":null");
	accepted_header("delta", NULL, "\"jwt_key\":{\"kty\":\"EC\"}");
	/* Every required member, missing: refused naming it. */
	for (const char *const *m = full_required; *m; m++) {
		char needle[64];
		snprintf(needle, sizeof(needle), "\"%s\"", *m);
		refused_header("full", *m, NULL, needle);
	}
	for (const char *const *m = delta_required; *m; m++) {
		char needle[64];
		snprintf(needle, sizeof(needle), "\"%s\"", *m);
		refused_header("delta", *m, NULL, needle);
	}
	refused_header("full", "format", NULL, "no \"format\" integer");
	/* Unknown members, and the delta's members in a full header. */
	refused_header("full", NULL, "\"extra\":1", "unknown member \"extra\" in a full header");
	refused_header("delta", NULL, "\"extra\":null", "unknown member \"extra\" in a delta header");
	refused_header("full", NULL, "\"base_generation\":\"4\"", "unknown member \"base_generation\" in a full header");
	refused_header("full", NULL, "\"base_rows_hash\":\"" RH "\"", "unknown member \"base_rows_hash\" in a full header");
	refused_header("full", NULL, "\"Format\":2", "unknown member \"Format\"");
	refused_header("full", NULL, "\"name\":\"users\"", "unknown member \"name\"");
	/* kind, the counts, the generations. */
	refused("{\"format\":2,\"kind\":\"Full\"}\n", "\"kind\" must be \"full\" or \"delta\"");
	refused("{\"format\":2,\"kind\":2}\n", "\"kind\" must be \"full\" or \"delta\"");
	refused_header("full", "tables", "\"tables\":-1", "\"tables\" must be an integer from 0 to 4294967295");
	refused_header("full", "tables", "\"tables\":4294967296", "\"tables\" must be an integer");
	refused_header("full", "tables", "\"tables\":\"0\"", "\"tables\" must be an integer");
	refused_header("full", "jwt_key", "\"jwt_key\":{}", "\"jwt_key\" must be a JWK object");
	refused_header("full", "jwt_key", "\"jwt_key\":{\"kty\":\"EC\",\"kty\":\"EC\"}", "\"jwt_key\": a member appears twice");
	refused_header("delta", "jwt_key", "\"jwt_key\":\"none\"", "\"jwt_key\" must be a JWK object");
	refused_header("full", "generation", "\"generation\":\"05\"", "\"generation\" must be a decimal string");
	refused_header("full", "generation", "\"generation\":\"18446744073709551616\"", "\"generation\" must be a decimal string");
	refused_header("full", "issued_at", "\"issued_at\":\"2026-02-30T00:00:00Z\"", "\"issued_at\" is not an RFC 3339");
	refused_header("full", "sender", "\"sender\":\"AAEC\"", "\"sender\" is not a base64");
	refused_header("delta", "base_generation", "\"base_generation\":\"5\"", "\"base_generation\" 5 is not below \"generation\" 5");
	refused_header("delta", "base_generation", "\"base_generation\":\"6\"", "\"base_generation\" 6 is not below \"generation\" 5");
	refused_header("delta", "base_generation", "\"base_generation\":\"-1\"", "\"base_generation\" must be a decimal string");
	/* rows_hash and base_rows_hash: base64 of exactly 32 bytes, canonical. */
	static const char *const bad_hashes[] = {
		"\"ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj=\"",   /* unused bits set */
		"\"ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8\"",    /* no padding */
		"\"ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pg==\"",   /* 31 bytes */
		"\"ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8/\"",   /* 33 bytes */
		"\"ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8= \"",  /* a space */
		"\"ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj-=\"",   /* base64url */
		"null",
	};
	for (size_t i = 0; i < sizeof(bad_hashes) / sizeof(bad_hashes[0]); i++) {
		char add[96];
		snprintf(add, sizeof(add), "\"rows_hash\":%s", bad_hashes[i]);
		refused_header("full", "rows_hash", add, "\"rows_hash\" is not the base64 of 32 bytes");
		snprintf(add, sizeof(add), "\"base_rows_hash\":%s", bad_hashes[i]);
		refused_header("delta", "base_rows_hash", add, "\"base_rows_hash\" is not the base64 of 32 bytes");
	}
}

static const char nul_in_string[] =
	FULL(1) "{\"table\":\"us\0rs\",\"columns\":[\"id\"],\"rows\":[]}\n";
static const char nul_after_doc[] = FULL(0) "\0";
static const char nul_in_header[] =
	"{\"format\":2,\"kind\":\"full\"," COMMON ",\"jwt_key\":null,\"tables\":0}\0\n";

static void test_refuse_framing(void **state)
{
	const char *nolf = FULL(1) "{\"table\":\"users\",\"columns\":[\"id\"],\"rows\":[]}";
	(void)state;

	refused(nolf, "record 2 does not end with a line feed");
	refused("{\"format\":2,\"kind\":\"full\"," COMMON ",\"jwt_key\":null,\"tables\":0}",
		"record 1 does not end with a line feed");
	refused(FULL(0) "\n", "bytes follow the 0 table records the header announced");
	refused(FULL(1) U_WHOLE U_WHOLE, "bytes follow the 1 table records the header announced");
	refused(FULL(0) " ", "bytes follow the 0 table records");
	refused(FULL(2) U_WHOLE, "the document ends before record 3");
	refused(DELTA(3) U_CHANGES, "the document ends before record 3");
	refused(FULL(2) U_WHOLE "\n", "record 3");
	/* A raw line feed inside a record ends it: neither part is a record. */
	refused(FULL(1) "{\"table\":\"users\",\"columns\":[\"id\"],\n\"rows\":[]}\n",
		"record 2");
	refused(FULL(1) "{\"table\":\"us\ners\",\"columns\":[\"id\"],\"rows\":[]}\n",
		"record 2");
	refused(FULL(1) "{\"table\":\"users\",\"columns\":[\"id\"],\"rows\":[[\"t:a\nb\"]]}\n",
		"record 2");
	/* NUL: raw inside a string, escaped, after the record; a byte-order mark. */
	refused_len(nul_in_string, sizeof(nul_in_string) - 1, "a NUL byte inside a string");
	refused(FULL(1) "{\"table\":\"us\\u0000rs\",\"columns\":[\"id\"],\"rows\":[]}\n",
		"\\u0000");
	refused_len(nul_after_doc, sizeof(nul_after_doc) - 1, "bytes follow");
	refused_len(nul_in_header, sizeof(nul_in_header) - 1, "record 1: the payload has bytes after the JSON object");
	refused("\xef\xbb\xbf" FULL(0), "byte-order mark");
	refused(FULL(1) "\xef\xbb\xbf" U_WHOLE, "byte-order mark");
	/* Duplicate members, in the header and in a table record. */
	refused("{\"format\":2,\"format\":2,\"kind\":\"full\"," COMMON ",\"jwt_key\":null,\"tables\":0}\n",
		"a member appears twice");
	refused("{\"format\":2,\"kind\":\"full\"," COMMON ",\"jwt_key\":null,\"tables\":0,\"tables\":0}\n",
		"a member appears twice");
	refused(FULL(1) "{\"table\":\"users\",\"table\":\"users\",\"columns\":[\"id\"],\"rows\":[]}\n",
		"a member appears twice");
	/* Other raw-text rules, per record. */
	refused(FULL(1) "{\"table\":\"users\",\"columns\":[\"id\"],\"rows\":[[\"t:\xff\"]]}\n",
		"invalid UTF-8");
	refused(FULL(1) "{\"table\":\"users\",\"columns\":[\"id\"],\"rows\":[[\"t:\t\"]]}\n",
		"control byte 0x09");
	refused(FULL(1) "{\"table\":\"users\",\"columns\":[\"id\"],\"rows\":[[01]]}\n", "not a JSON number");
	refused(FULL(1) "{\"table\":\"users\",\"columns\":[\"id\"],\"rows\":[]}{}\n", "bytes after the JSON object");
	refused(FULL(1) "{\"table\":\"users\",\"columns\":[\"id\"],\"rows\":[[NaN]]}\n", "record 2");
}

static void test_refuse_table_records(void **state)
{
	(void)state;
	/* Members of a table record. */
	refused(FULL(1) "{\"table\":\"users\",\"columns\":[\"id\"],\"rows\":[],\"extra\":1}\n",
		"table users: unknown member \"extra\"");
	refused(FULL(1) "{\"name\":\"users\",\"columns\":[\"id\"],\"rows\":[]}\n",
		"a table record has no valid \"table\"");
	refused(FULL(1) "{\"table\":\"\",\"columns\":[\"id\"],\"rows\":[]}\n",
		"a table record has no valid \"table\"");
	refused(FULL(1) "{\"table\":\"users\",\"rows\":[]}\n", "table users: \"columns\" must be an array");
	refused(FULL(1) "{\"table\":\"users\",\"columns\":[]}\n", "table users: \"columns\" must be an array");
	refused(FULL(1) "{\"table\":\"users\",\"columns\":[\"id\"]}\n", "table users: \"rows\" must be an array");
	refused(FULL(1) "{\"table\":\"users\",\"columns\":[\"id\",\"ID\"],\"rows\":[]}\n", "column ID appears twice");
	refused(FULL(1) "{\"table\":\"users\",\"columns\":[\"id\"],\"rows\":[[\"t:a\",\"t:b\"]]}\n", "does not have 1 cells");
	refused(FULL(1) "{\"table\":\"users\",\"columns\":[\"id\"],\"rows\":[[\"q:a\"]]}\n", "malformed cell");
	refused(FULL(1) "{\"table\":\"users\",\"columns\":[\"id\"],\"rows\":[[1]]}\n", "malformed cell");
	/* key and deleted: only in a delta, only together. */
	refused(FULL(1) U_CHANGES, "table users: a full document has only whole records");
	refused(DELTA(1) "{\"table\":\"users\",\"columns\":[\"id\"],\"rows\":[],\"key\":[\"id\"]}\n",
		"table users: \"key\" and \"deleted\" go together");
	refused(DELTA(1) "{\"table\":\"users\",\"columns\":[\"id\"],\"rows\":[],\"deleted\":[]}\n",
		"table users: \"key\" and \"deleted\" go together");
	refused(DELTA(1) "{\"table\":\"users\",\"columns\":[\"id\"],\"rows\":[],\"key\":[\"uid\"],\"deleted\":[]}\n",
		"table users: key column uid is not one of its columns");
	refused(DELTA(1) "{\"table\":\"users\",\"columns\":[\"id\"],\"rows\":[],\"key\":[\"ID\"],\"deleted\":[]}\n",
		"key column ID is not one of its columns"); /* byte for byte */
	refused(DELTA(1) "{\"table\":\"users\",\"columns\":[\"id\",\"n\"],\"rows\":[],\"key\":[\"id\",\"id\"],\"deleted\":[]}\n",
		"table users: key column id appears twice");
	refused(DELTA(1) "{\"table\":\"users\",\"columns\":[\"id\"],\"rows\":[],\"key\":[],\"deleted\":[]}\n",
		"\"key\" must name 1 to 1 of its columns");
	refused(DELTA(1) "{\"table\":\"users\",\"columns\":[\"id\"],\"rows\":[],\"key\":\"id\",\"deleted\":[]}\n",
		"\"key\" must name");
	refused(DELTA(1) "{\"table\":\"users\",\"columns\":[\"id\"],\"rows\":[],\"key\":[1],\"deleted\":[]}\n",
		"\"key\" holds a non-string");
	refused(DELTA(1) "{\"table\":\"users\",\"columns\":[\"id\"],\"rows\":[],\"key\":[\"id\"],\"deleted\":{}}\n",
		"\"deleted\" must be an array");
	refused(DELTA(1) "{\"table\":\"users\",\"columns\":[\"id\",\"n\"],\"rows\":[],\"key\":[\"id\"],\"deleted\":[[\"t:a\",\"t:b\"]]}\n",
		"a deleted key is malformed");
	refused(DELTA(1) "{\"table\":\"users\",\"columns\":[\"id\"],\"rows\":[],\"key\":[\"id\"],\"deleted\":[[\"z:a\"]]}\n",
		"a deleted key is malformed");
	/* No key twice among rows and deleted keys. */
	static const char *const dups[] = {
		"\"rows\":[[\"t:a\",\"i:1\"],[\"t:a\",\"i:2\"]],\"key\":[\"id\"],\"deleted\":[]",
		"\"rows\":[[\"t:a\",\"i:1\"]],\"key\":[\"id\"],\"deleted\":[[\"t:a\"]]",
		"\"rows\":[],\"key\":[\"id\"],\"deleted\":[[\"t:a\"],[\"t:b\"],[\"t:a\"]]",
		"\"rows\":[[\"t:a\",\"i:1\"],[\"t:b\",\"i:1\"]],\"key\":[\"id\",\"n\"],\"deleted\":[[\"t:b\",\"i:1\"]]",
		"\"rows\":[[null,\"i:1\"]],\"key\":[\"id\"],\"deleted\":[[null]]",
		"\"rows\":[[\"r:-0.0\",\"i:1\"]],\"key\":[\"id\"],\"deleted\":[[\"r:-0\"]]",
	};
	for (size_t i = 0; i < sizeof(dups) / sizeof(dups[0]); i++) {
		char *doc = sqlite3_mprintf(DELTA(1) "{\"table\":\"users\",\"columns\":[\"id\",\"n\"],%s}\n", dups[i]);
		refused(doc, "table users: one key appears twice among the rows and deleted keys");
		sqlite3_free(doc);
	}
	/* Different keys are fine: another storage class, another composite. */
	accepted(DELTA(1) "{\"table\":\"users\",\"columns\":[\"id\",\"n\"],\"rows\":[[\"t:1\",\"i:1\"],[\"b:MQ==\",\"i:1\"]],\"key\":[\"id\"],\"deleted\":[[\"i:1\"],[\"x:/w==\"]]}\n");
	accepted(DELTA(1) "{\"table\":\"users\",\"columns\":[\"id\",\"n\"],\"rows\":[[\"t:a\",\"i:1\"],[\"t:a\",\"i:2\"]],\"key\":[\"id\",\"n\"],\"deleted\":[[\"t:a\",\"i:3\"]]}\n");
	accepted(DELTA(1) "{\"table\":\"users\",\"columns\":[\"id\",\"n\"],\"rows\":[[\"r:0.0\",\"i:1\"]],\"key\":[\"id\"],\"deleted\":[[\"r:-0.0\"]]}\n");
}

static void test_refuse_runs(void **state)
{
	(void)state;
	/* Delta: one record per table, also under ASCII case folding. */
	refused(DELTA(2) U_CHANGES U_CHANGES, "table users appears twice");
	refused(DELTA(2) U_CHANGES "{\"table\":\"USERS\",\"columns\":[\"id\"],\"rows\":[],\"key\":[\"id\"],\"deleted\":[]}\n",
		"table USERS appears twice");
	refused(DELTA(2) ACV_WHOLE ACV_WHOLE, "table app_config_variables appears twice");
	/* Full: a run is contiguous, never started twice, with the same columns. */
	refused(FULL(3) U_WHOLE S_WHOLE U_WHOLE, "table users appears twice");
	refused(FULL(2) U_WHOLE "{\"table\":\"Users\",\"columns\":[\"id\",\"username\"],\"rows\":[]}\n",
		"table Users appears twice");
	refused(FULL(2) U_WHOLE "{\"table\":\"users\",\"columns\":[\"username\",\"id\"],\"rows\":[]}\n",
		"table users: its records carry different columns");
	refused(FULL(2) U_WHOLE "{\"table\":\"users\",\"columns\":[\"id\"],\"rows\":[]}\n",
		"table users: its records carry different columns");
	refused(FULL(2) U_WHOLE "{\"table\":\"users\",\"columns\":[\"id\",\"userName\"],\"rows\":[]}\n",
		"table users: its records carry different columns");
	accepted(FULL(4) U_WHOLE U_WHOLE S_WHOLE S_WHOLE);
}

/* A delta carries changes records for SQLite tables and whole records for
 * app_config_variables and pseudo-tables (section 5A, rules per kind). */
static void test_refuse_delta_record_kinds(void **state)
{
	(void)state;
	refused(DELTA(1) U_WHOLE, "table users: a delta carries a changes record");
	refused(DELTA(1) "{\"table\":\"app_config_variables\",\"columns\":[\"key\",\"value\"],\"rows\":[],\"key\":[\"key\"],\"deleted\":[]}\n",
		"table app_config_variables: travels whole");
	refused(DELTA(1) "{\"table\":\"@app_configuration\",\"columns\":[\"key\",\"value\"],\"rows\":[],\"key\":[\"key\"],\"deleted\":[]}\n",
		"table @app_configuration: travels whole");
	accepted(DELTA(1) "{\"table\":\"@app_configuration\",\"columns\":[\"key\",\"value\"],\"rows\":[]}\n");
}

/* At most 256 tables (section 7), however many records they take. */
static void test_refuse_too_many_tables(void **state)
{
	for (int n = 256; n <= 257; n++) {
		char *doc = sqlite3_mprintf("{\"format\":2,\"kind\":\"full\"," COMMON ",\"jwt_key\":null,\"tables\":%d}\n", n + 1);
		for (int i = 0; i < n; i++) {
			char *next = sqlite3_mprintf("%s{\"table\":\"t%d\",\"columns\":[\"id\"],\"rows\":[]}\n", doc, i);
			sqlite3_free(doc);
			doc = next;
		}
		char *next = sqlite3_mprintf("%s{\"table\":\"t%d\",\"columns\":[\"id\"],\"rows\":[]}\n", doc, n - 1);
		sqlite3_free(doc);
		doc = next;
		if (n == 256)
			accepted(doc);
		else
			refused(doc, "more than 256 tables");
		sqlite3_free(doc);
	}
	(void)state;
}

/* ---- the fuzz corpus and the vector ---- */

static void test_corpus_verdicts(void **state)
{
	DIR *d = opendir(CORPUS);
	struct dirent *e;
	int n = 0, rejects = 0;
	(void)state;

	assert_non_null(d);
	while ((e = readdir(d)) != NULL) {
		char path[1024], err[256] = "";
		struct doc2_header h;
		size_t len;
		char *text;
		int rc;
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", CORPUS, e->d_name);
		text = tu_read_file(path, &len);
		rc = doc2_check((const uint8_t *)text, len, &h, err, sizeof(err));
		if (strncmp(e->d_name, "reject-", 7) == 0) {
			if (rc != -1)
				fail_msg("%s: accepted", e->d_name);
			rejects++;
		} else {
			if (rc != 0)
				fail_msg("%s: refused: %s", e->d_name, err);
			doc2_header_free(&h);
		}
		free(text);
		n++;
	}
	closedir(d);
	assert_true(n >= 10);
	assert_true(rejects >= 5);
}

/* Applies a changes record to db with plain SQL (upsert by key, delete by
 * key): only what the vector check needs, not the apply layer. */
static void apply_changes(sqlite3 *db, const struct doc2_table *t)
{
	char *cols = sqlite3_mprintf(""), *qs = sqlite3_mprintf(""), *where = sqlite3_mprintf(""), *next;
	char *sql;
	sqlite3_stmt *st;

	for (size_t c = 0; c < t->t.ncols; c++) {
		next = sqlite3_mprintf("%s%s\"%w\"", cols, c ? ", " : "", t->t.cols[c]);
		sqlite3_free(cols);
		cols = next;
		next = sqlite3_mprintf("%s%s?", qs, c ? ", " : "");
		sqlite3_free(qs);
		qs = next;
	}
	for (size_t k = 0; k < t->nkey; k++) {
		next = sqlite3_mprintf("%s%s\"%w\" IS ?", where, k ? " AND " : "", t->key[k]);
		sqlite3_free(where);
		where = next;
	}
	sql = sqlite3_mprintf("INSERT OR REPLACE INTO \"%w\" (%s) VALUES (%s)", t->t.name, cols, qs);
	for (size_t r = 0; r < t->t.nrows; r++) {
		assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
		for (size_t c = 0; c < t->t.ncols; c++)
			pl_value_bind(st, (int)c + 1, pl_cell(&t->t, r, c));
		assert_int_equal(sqlite3_step(st), SQLITE_DONE);
		sqlite3_finalize(st);
	}
	sqlite3_free(sql);
	sql = sqlite3_mprintf("DELETE FROM \"%w\" WHERE %s", t->t.name, where);
	for (size_t r = 0; r < t->ndeleted; r++) {
		assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
		for (size_t k = 0; k < t->nkey; k++)
			pl_value_bind(st, (int)k + 1, &t->deleted[r * t->nkey + k]);
		assert_int_equal(sqlite3_step(st), SQLITE_DONE);
		assert_int_equal(sqlite3_changes(db), 1); /* the vector deletes rows the base has */
		sqlite3_finalize(st);
	}
	sqlite3_free(sql);
	sqlite3_free(cols);
	sqlite3_free(qs);
	sqlite3_free(where);
}

static void rows_hash_of(sqlite3 *db, uint8_t out[32])
{
	struct schema s;
	char err[256];
	if (schema_load(db, &s, err, sizeof(err)) != 0 ||
	    rowhash_scan(db, &s, NULL, out, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	schema_free(&s);
}

/* doc2-delta.json's plaintext is a valid delta whose base is the content
 * of rows-hash.json: its base_rows_hash is that vector's rows hash, and the
 * content after its changes has its rows_hash. */
static void test_vector(void **state)
{
	cJSON *seal = vecdb_load(VECTOR_DIR "/doc2-delta.json");
	cJSON *rows = vecdb_load(VECTOR_DIR "/rows-hash.json");
	const cJSON *pt64 = cJSON_GetObjectItemCaseSensitive(seal, "plaintext");
	const cJSON *base64 = cJSON_GetObjectItemCaseSensitive(rows, "rows_hash");
	uint8_t *pt, base[32], got[32], sender[32], recipient[32];
	size_t len;
	struct doc2_reader r;
	struct doc2_header h;
	struct doc2_table t;
	sqlite3 *db = vecdb_open(rows);
	char err[256];
	int rc, changes = 0;
	(void)state;

	assert_true(cJSON_IsString(pt64) && cJSON_IsString(base64));
	assert_int_equal(b64_decode_alloc(pt64->valuestring, strlen(pt64->valuestring), &pt, &len), 0);
	assert_int_equal(b64_decode_exact(base64->valuestring, base, 32), 0);
	assert_int_equal(b64_decode_exact(cJSON_GetObjectItemCaseSensitive(seal, "sender_public")->valuestring, sender, 32), 0);
	assert_int_equal(b64_decode_exact(cJSON_GetObjectItemCaseSensitive(seal, "recipient_public")->valuestring, recipient, 32), 0);
	assert_true(doc2_sniff(pt, len));
	doc2_reader_init(&r, pt, len);
	if (doc2_read_header(&r, &h, err, sizeof(err)) != 0)
		fail_msg("vector header: %s", err);
	assert_int_equal(h.kind, DOC2_DELTA);
	assert_memory_equal(h.sender, sender, 32);
	assert_memory_equal(h.recipient, recipient, 32);
	assert_memory_equal(h.base_rows_hash, base, 32);
	rows_hash_of(db, got);
	assert_memory_equal(got, base, 32);
	while ((rc = doc2_read_table(&r, &t, err, sizeof(err))) == 1) {
		if (t.changes) {
			apply_changes(db, &t);
			changes++;
		}
		doc2_table_free(&t);
	}
	if (rc != 0)
		fail_msg("vector: %s", err);
	assert_true(changes >= 2);
	rows_hash_of(db, got);
	assert_memory_equal(got, h.rows_hash, 32);
	assert_memory_not_equal(h.rows_hash, h.base_rows_hash, 32);
	doc2_reader_free(&r);
	doc2_header_free(&h);
	sqlite3_close(db);
	free(pt);
	cJSON_Delete(seal);
	cJSON_Delete(rows);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full_round_trip),
		cmocka_unit_test(test_delta_round_trip),
		cmocka_unit_test(test_minimal_and_misuse),
		cmocka_unit_test(test_refuse_format),
		cmocka_unit_test(test_refuse_header_members),
		cmocka_unit_test(test_refuse_framing),
		cmocka_unit_test(test_refuse_table_records),
		cmocka_unit_test(test_refuse_runs),
		cmocka_unit_test(test_refuse_delta_record_kinds),
		cmocka_unit_test(test_refuse_too_many_tables),
		cmocka_unit_test(test_corpus_verdicts),
		cmocka_unit_test(test_vector),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
