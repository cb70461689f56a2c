/* doc2: records of the format-2 document. Each record is checked on its
 * own bytes (json_strict.c), parsed with cJSON and validated member by
 * member; the rules that span records live in the reader. */
#include "doc2.h"

#include "b64.h"
#include "errbuf.h"
#include "json_strict.h"
#include "payload_json.h"

#include <cjson/cJSON.h>
#include <inttypes.h>
#include <math.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- freeing ---- */

void doc2_header_free(struct doc2_header *h)
{
	free(h->schema_version);
	if (h->jwk_json != NULL)
		OPENSSL_clear_free(h->jwk_json, strlen(h->jwk_json));
	memset(h, 0, sizeof(*h));
}

void doc2_table_free(struct doc2_table *t)
{
	if (t->t.arena == NULL)
		for (size_t i = 0; i < t->ndeleted * t->nkey; i++)
			pl_value_clear(&t->deleted[i]);
	pl_table_free(&t->t); /* frees the arena, which holds deleted's bytes too */
	for (size_t i = 0; i < t->nkey; i++)
		free(t->key[i]);
	free(t->key);
	free(t->deleted);
	memset(t, 0, sizeof(*t));
}

/* ---- encoding ---- */

static int finish(struct pl_out *o, char **out, size_t *len)
{
	pl_out_put(o, "\n", 1);
	if (o->failed) {
		free(o->p);
		return -1;
	}
	*out = o->p;
	*len = o->len;
	return 0;
}

int doc2_encode_header(const struct doc2_header *h, char **out, size_t *len)
{
	char b64[45], num[24], when[21];
	cJSON *j = cJSON_CreateObject(), *jwk = NULL;
	char *s;

	if (j == NULL)
		return -1;
	cJSON_AddNumberToObject(j, "format", DOC2_FORMAT);
	cJSON_AddStringToObject(j, "kind", h->kind == DOC2_DELTA ? "delta" : "full");
	b64_encode(b64, h->sender, 32);
	cJSON_AddStringToObject(j, "sender", b64);
	b64_encode(b64, h->recipient, 32);
	cJSON_AddStringToObject(j, "recipient", b64);
	snprintf(num, sizeof(num), "%" PRIu64, h->generation);
	cJSON_AddStringToObject(j, "generation", num);
	payload_format_time(h->issued_at, when);
	cJSON_AddStringToObject(j, "issued_at", when);
	cJSON_AddStringToObject(j, "schema_version", h->schema_version ? h->schema_version : "");
	b64_encode(b64, h->rows_hash, 32);
	cJSON_AddStringToObject(j, "rows_hash", b64);
	if (h->kind == DOC2_DELTA) {
		snprintf(num, sizeof(num), "%" PRIu64, h->base_generation);
		cJSON_AddStringToObject(j, "base_generation", num);
		b64_encode(b64, h->base_rows_hash, 32);
		cJSON_AddStringToObject(j, "base_rows_hash", b64);
	}
	if (h->kind == DOC2_FULL || h->has_jwt) {
		jwk = h->jwk_json != NULL ? cJSON_Parse(h->jwk_json) : cJSON_CreateNull();
		if (jwk == NULL || !cJSON_AddItemToObject(j, "jwt_key", jwk)) {
			cJSON_Delete(jwk);
			cJSON_Delete(j);
			return -1;
		}
	}
	cJSON_AddNumberToObject(j, "tables", (double)h->ntables);
	if (h->app_config_api)
		cJSON_AddStringToObject(j, "app_config", "api");
	s = cJSON_PrintUnformatted(j);
	pl_json_scrub_jwk(j);
	cJSON_Delete(j);
	if (s == NULL)
		return -1;
	*len = strlen(s) + 1;
	*out = malloc(*len + 1);
	if (*out != NULL) {
		memcpy(*out, s, *len - 1);
		(*out)[*len - 1] = '\n';
		(*out)[*len] = '\0';
	}
	OPENSSL_clear_free(s, *len - 1);
	return *out == NULL ? -1 : 0;
}

static void put_head(struct pl_out *o, const struct pl_table *t)
{
	pl_out_str(o, "{\"table\":");
	pl_out_json(o, cJSON_CreateString(t->name));
	pl_out_str(o, ",\"columns\":");
	pl_out_json(o, cJSON_CreateStringArray((const char *const *)t->cols, (int)t->ncols));
}

static void put_rows(struct pl_out *o, const struct pl_table *t, size_t first, size_t n)
{
	pl_out_str(o, ",\"rows\":[");
	for (size_t r = first; r < first + n && !o->failed; r++) {
		if (r > first)
			pl_out_str(o, ",");
		pl_out_json(o, pl_json_row(t, r));
	}
	pl_out_str(o, "]");
}

int doc2_encode_rows(const struct pl_table *t, size_t first, size_t n, char **out, size_t *len)
{
	struct pl_out o = {0};

	put_head(&o, t);
	put_rows(&o, t, first, n);
	pl_out_str(&o, "}");
	return finish(&o, out, len);
}

int doc2_encode_table(const struct doc2_table *dt, char **out, size_t *len)
{
	struct pl_out o = {0};

	put_head(&o, &dt->t);
	put_rows(&o, &dt->t, 0, dt->t.nrows);
	if (dt->changes) {
		struct pl_table keys = {.name = dt->t.name, .ncols = dt->nkey, .cols = dt->key,
					.nrows = dt->ndeleted, .cells = dt->deleted};
		pl_out_str(&o, ",\"key\":");
		pl_out_json(&o, cJSON_CreateStringArray((const char *const *)dt->key, (int)dt->nkey));
		pl_out_str(&o, ",\"deleted\":[");
		for (size_t r = 0; r < dt->ndeleted && !o.failed; r++) {
			if (r > 0)
				pl_out_str(&o, ",");
			pl_out_json(&o, pl_json_row(&keys, r));
		}
		pl_out_str(&o, "]");
	}
	pl_out_str(&o, "}");
	return finish(&o, out, len);
}

/* ---- reading ---- */

void doc2_reader_init(struct doc2_reader *r, const uint8_t *buf, size_t len)
{
	memset(r, 0, sizeof(*r));
	r->buf = buf;
	r->len = len;
}

static void drop_prev(struct doc2_reader *r);

void doc2_reader_free(struct doc2_reader *r)
{
	drop_prev(r);
	for (size_t i = 0; i < r->nnames; i++)
		free(r->names[i]);
	free(r->names);
	r->names = NULL;
	r->nnames = 0;
}

/* The number of the record that starts at r->off, counting the header as
 * record 1 (for messages). */
static uint64_t record_no(const struct doc2_reader *r)
{
	return r->off == 0 ? 1 : r->seen + 2;
}

/* The next record as a parsed object. */
static cJSON *next_record(struct doc2_reader *r, char *err, size_t errlen)
{
	const uint8_t *start = r->buf + r->off;
	const uint8_t *nl = r->off < r->len ? memchr(start, '\n', r->len - r->off) : NULL;
	size_t n;
	cJSON *j;
	char why[200];

	if (nl == NULL) {
		errf(err, errlen, r->off < r->len ? "record %" PRIu64 " does not end with a line feed"
						 : "the document ends before record %" PRIu64,
		     record_no(r));
		return NULL;
	}
	n = (size_t)(nl - start);
	if (json_strict_check(start, n, why, sizeof(why)) == -1) {
		errf(err, errlen, "record %" PRIu64 ": %s", record_no(r), why);
		return NULL;
	}
	j = cJSON_ParseWithLength((const char *)start, n);
	if (j == NULL || !cJSON_IsObject(j)) {
		cJSON_Delete(j);
		errf(err, errlen, "record %" PRIu64 " is not a JSON object", record_no(r));
		return NULL;
	}
	if (pl_json_has_duplicate(j)) {
		cJSON_Delete(j);
		errf(err, errlen, "a member appears twice");
		return NULL;
	}
	r->off += n + 1;
	return j;
}

static bool member_in(const char *name, const char *const *list)
{
	for (; *list != NULL; list++) {
		if (strcmp(*list, name) == 0)
			return true;
	}
	return false;
}

static int decode_hash(const cJSON *j, const char *name, uint8_t out[32], char *err, size_t errlen)
{
	if (!cJSON_IsString(j) || b64_decode_exact(j->valuestring, out, 32) == -1)
		return errf(err, errlen, "\"%s\" is not the base64 of 32 bytes", name);
	return 0;
}

static int check_format(const cJSON *doc, char *err, size_t errlen)
{
	const cJSON *fmt = cJSON_GetObjectItemCaseSensitive(doc, "format");

	if (!cJSON_IsNumber(fmt) || fabs(fmt->valuedouble) >= 9007199254740992.0)
		return errf(err, errlen, "payload has no \"format\" integer");
	if (fmt->valuedouble != DOC2_FORMAT)
		return errf(err, errlen, "unsupported payload format %.0f (this build reads %d and %d)",
			    fmt->valuedouble + 0.0, PAYLOAD_FORMAT, DOC2_FORMAT);
	return 0;
}

static const char *const full_members[] = {"format", "kind", "sender", "recipient", "generation",
					   "issued_at", "schema_version", "rows_hash", "jwt_key",
					   "tables", "app_config", NULL};
static const char *const delta_members[] = {"format", "kind", "sender", "recipient",
					    "generation", "issued_at", "schema_version",
					    "rows_hash", "jwt_key", "tables", "base_generation",
					    "base_rows_hash", "app_config", NULL};

static int decode_header(const cJSON *j, struct doc2_header *h, char *err, size_t errlen)
{
	const cJSON *kind = cJSON_GetObjectItemCaseSensitive(j, "kind"), *m;
	const cJSON *n = cJSON_GetObjectItemCaseSensitive(j, "tables");
	uint64_t schema;

	if (!cJSON_IsString(kind) ||
	    (strcmp(kind->valuestring, "full") != 0 && strcmp(kind->valuestring, "delta") != 0))
		return errf(err, errlen, "\"kind\" must be \"full\" or \"delta\"");
	h->kind = strcmp(kind->valuestring, "delta") == 0 ? DOC2_DELTA : DOC2_FULL;
	cJSON_ArrayForEach(m, j) {
		if (!member_in(m->string, h->kind == DOC2_DELTA ? delta_members : full_members))
			return errf(err, errlen, "unknown member \"%s\" in a %s header", m->string,
				    kind->valuestring);
	}
	if (pl_json_decode_key(cJSON_GetObjectItemCaseSensitive(j, "sender"), "sender", h->sender, err, errlen) == -1 ||
	    pl_json_decode_key(cJSON_GetObjectItemCaseSensitive(j, "recipient"), "recipient", h->recipient, err, errlen) == -1 ||
	    pl_json_decode_u64(cJSON_GetObjectItemCaseSensitive(j, "generation"), "generation", &h->generation, err, errlen) == -1 ||
	    pl_json_decode_u64(cJSON_GetObjectItemCaseSensitive(j, "schema_version"), "schema_version", &schema, err, errlen) == -1 ||
	    decode_hash(cJSON_GetObjectItemCaseSensitive(j, "rows_hash"), "rows_hash", h->rows_hash, err, errlen) == -1)
		return -1;
	m = cJSON_GetObjectItemCaseSensitive(j, "issued_at");
	if (!cJSON_IsString(m) || payload_parse_time(m->valuestring, &h->issued_at) == -1)
		return errf(err, errlen, "\"issued_at\" is not an RFC 3339 UTC time like 2026-01-02T03:04:05Z");
	if (!cJSON_IsNumber(n) || n->valuedouble < 0 || n->valuedouble > 4294967295.0)
		return errf(err, errlen, "\"tables\" must be an integer from 0 to 4294967295");
	h->ntables = (uint64_t)n->valuedouble;
	if (h->kind == DOC2_DELTA) {
		if (pl_json_decode_u64(cJSON_GetObjectItemCaseSensitive(j, "base_generation"), "base_generation", &h->base_generation, err, errlen) == -1 ||
		    decode_hash(cJSON_GetObjectItemCaseSensitive(j, "base_rows_hash"), "base_rows_hash", h->base_rows_hash, err, errlen) == -1)
			return -1;
		if (h->base_generation >= h->generation)
			return errf(err, errlen, "\"base_generation\" %" PRIu64 " is not below \"generation\" %" PRIu64,
				    h->base_generation, h->generation);
	}
	m = cJSON_GetObjectItemCaseSensitive(j, "app_config");
	if (m != NULL && (!cJSON_IsString(m) || strcmp(m->valuestring, "api") != 0))
		return errf(err, errlen, "\"app_config\" must be \"api\" when present");
	h->app_config_api = m != NULL;
	m = cJSON_GetObjectItemCaseSensitive(j, "jwt_key");
	h->has_jwt = m != NULL;
	if (m == NULL && h->kind == DOC2_FULL)
		return errf(err, errlen, "a full header has no \"jwt_key\"");
	if ((h->schema_version = strdup(cJSON_GetObjectItemCaseSensitive(j, "schema_version")->valuestring)) == NULL)
		return errf(err, errlen, "out of memory");
	return m == NULL ? 0 : pl_json_decode_jwk(m, &h->jwk_json, err, errlen);
}

int doc2_read_header(struct doc2_reader *r, struct doc2_header *h, char *err, size_t errlen)
{
	cJSON *j;
	int rc;

	memset(h, 0, sizeof(*h));
	if (r->off != 0)
		return errf(err, errlen, "the header was read already");
	if ((j = next_record(r, err, errlen)) == NULL)
		return -1;
	rc = check_format(j, err, errlen);
	if (rc == 0)
		rc = decode_header(j, h, err, errlen);
	pl_json_scrub_jwk(j);
	cJSON_Delete(j);
	if (rc == -1) {
		doc2_header_free(h);
		return -1;
	}
	r->kind = h->kind;
	r->expected = h->ntables;
	return 0;
}

/* ---- table records ---- */

static uint64_t mix(uint64_t h, const void *p, size_t n)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 0x100000001b3ull;
	return h;
}

static uint64_t key_hash(const struct pl_value *k, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (size_t i = 0; i < n; i++) {
		h = mix(h, &k[i].type, sizeof(k[i].type));
		if (k[i].type == PL_INT)
			h = mix(h, &k[i].u.i, 8);
		else if (k[i].type == PL_REAL)
			h = mix(h, &k[i].u.r, 8);
		else if (k[i].type != PL_NULL)
			h = mix(h, k[i].u.bytes, k[i].len);
	}
	return h;
}

/* The key of entry i: a row's key cells gathered into tmp, or a deleted key. */
static const struct pl_value *entry_key(const struct doc2_table *t, const size_t *kc, size_t i,
					struct pl_value *tmp)
{
	if (i >= t->t.nrows)
		return &t->deleted[(i - t->t.nrows) * t->nkey];
	for (size_t k = 0; k < t->nkey; k++)
		tmp[k] = *pl_cell(&t->t, i, kc[k]);
	return tmp;
}

/* No key twice among a changes record's rows and deleted keys. */
static int check_unique_keys(const struct doc2_table *t, const size_t *kc, char *err, size_t errlen)
{
	size_t n = t->t.nrows + t->ndeleted, cap = 16;
	struct pl_value a[PAYLOAD_MAX_COLUMNS], b[PAYLOAD_MAX_COLUMNS];
	size_t *slot;
	int rc = 0;

	while (cap < 2 * n)
		cap *= 2;
	if ((slot = calloc(cap, sizeof(size_t))) == NULL)
		return errf(err, errlen, "out of memory");
	for (size_t i = 0; i < n && rc == 0; i++) {
		const struct pl_value *k = entry_key(t, kc, i, a);
		size_t s = key_hash(k, t->nkey) & (cap - 1);
		for (; slot[s] != 0 && rc == 0; s = (s + 1) & (cap - 1)) {
			const struct pl_value *o = entry_key(t, kc, slot[s] - 1, b);
			bool same = true;
			for (size_t c = 0; c < t->nkey && same; c++)
				same = pl_value_equal(&k[c], &o[c]);
			if (same)
				rc = errf(err, errlen, "table %s: one key appears twice among the rows and "
						       "deleted keys", t->t.name);
		}
		slot[s] = i + 1;
	}
	free(slot);
	return rc;
}

static int decode_key_columns(const cJSON *key, struct doc2_table *t, size_t *kc, char *err,
			      size_t errlen)
{
	int n = cJSON_GetArraySize(key);
	const cJSON *c;

	if (!cJSON_IsArray(key) || n < 1 || (size_t)n > t->t.ncols)
		return errf(err, errlen, "table %s: \"key\" must name 1 to %zu of its columns",
			    t->t.name, t->t.ncols);
	if ((t->key = calloc((size_t)n, sizeof(char *))) == NULL)
		return errf(err, errlen, "out of memory");
	cJSON_ArrayForEach(c, key) {
		size_t col = 0;
		if (!cJSON_IsString(c))
			return errf(err, errlen, "table %s: \"key\" holds a non-string", t->t.name);
		while (col < t->t.ncols && strcmp(t->t.cols[col], c->valuestring) != 0)
			col++;
		if (col == t->t.ncols)
			return errf(err, errlen, "table %s: key column %s is not one of its columns",
				    t->t.name, c->valuestring);
		for (size_t k = 0; k < t->nkey; k++) {
			if (kc[k] == col)
				return errf(err, errlen, "table %s: key column %s appears twice",
					    t->t.name, c->valuestring);
		}
		kc[t->nkey] = col;
		if ((t->key[t->nkey++] = strdup(c->valuestring)) == NULL)
			return errf(err, errlen, "out of memory");
	}
	return 0;
}

/* deleted: arrays of nkey cells, decoded into the table's arena. */
static int decode_deleted(cJSON *del, struct doc2_table *t, char *err, size_t errlen)
{
	struct pl_table keys = {.name = t->t.name, .ncols = t->nkey, .cols = t->key};
	int rc;

	if (!cJSON_IsArray(del))
		return errf(err, errlen, "table %s: \"deleted\" must be an array", t->t.name);
	keys.arena = t->t.arena;
	rc = pl_json_decode_rows(del, &keys, err, errlen);
	t->t.arena = keys.arena;
	t->deleted = keys.cells;
	t->ndeleted = keys.nrows;
	if (rc == -1)
		return errf(err, errlen, "table %s: a deleted key is malformed", t->t.name);
	return 0;
}

/* In a delta, app_config_variables and pseudo-tables travel as whole
 * records, every other table as a changes record. */
static bool travels_whole(const char *name)
{
	return name[0] == '@' || strcmp(name, "app_config_variables") == 0;
}

static int decode_table(cJSON *j, enum doc2_kind kind, struct doc2_table *t, char *err, size_t errlen)
{
	const cJSON *name = cJSON_GetObjectItemCaseSensitive(j, "table"), *m;
	cJSON *key = cJSON_GetObjectItemCaseSensitive(j, "key");
	cJSON *del = cJSON_GetObjectItemCaseSensitive(j, "deleted");
	size_t kc[PAYLOAD_MAX_COLUMNS];

	if (!cJSON_IsString(name) || !pl_json_name_ok(name->valuestring))
		return errf(err, errlen, "a table record has no valid \"table\"");
	if ((t->t.name = strdup(name->valuestring)) == NULL)
		return errf(err, errlen, "out of memory");
	cJSON_ArrayForEach(m, j) {
		if (strcmp(m->string, "table") != 0 && strcmp(m->string, "columns") != 0 &&
		    strcmp(m->string, "rows") != 0 && strcmp(m->string, "key") != 0 &&
		    strcmp(m->string, "deleted") != 0)
			return errf(err, errlen, "table %s: unknown member \"%s\"", t->t.name, m->string);
	}
	if ((key != NULL) != (del != NULL))
		return errf(err, errlen, "table %s: \"key\" and \"deleted\" go together", t->t.name);
	if (key != NULL && kind == DOC2_FULL)
		return errf(err, errlen, "table %s: a full document has only whole records", t->t.name);
	if (kind == DOC2_DELTA && travels_whole(t->t.name) && key != NULL)
		return errf(err, errlen, "table %s: travels whole (no \"key\" and \"deleted\") "
					 "in a delta", t->t.name);
	if (kind == DOC2_DELTA && !travels_whole(t->t.name) && key == NULL)
		return errf(err, errlen, "table %s: a delta carries a changes record (\"key\" and "
					 "\"deleted\") for an SQLite table", t->t.name);
	if (pl_json_decode_columns(cJSON_GetObjectItemCaseSensitive(j, "columns"), &t->t, err, errlen) == -1 ||
	    pl_json_decode_rows(cJSON_GetObjectItemCaseSensitive(j, "rows"), &t->t, err, errlen) == -1)
		return -1;
	if (key == NULL)
		return 0;
	t->changes = true;
	if (decode_key_columns(key, t, kc, err, errlen) == -1 || decode_deleted(del, t, err, errlen) == -1)
		return -1;
	return check_unique_keys(t, kc, err, errlen);
}

static bool same_columns(const struct pl_table *a, char **cols, size_t n)
{
	if (a->ncols != n)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (strcmp(a->cols[i], cols[i]) != 0)
			return false;
	}
	return true;
}

/* Runs: a full document may continue the previous record's table (same
 * columns); no table starts a second run, and a delta has one record per
 * table. r->last is the previous record's table, r->names the finished. */
static int check_run(struct doc2_reader *r, const struct doc2_table *t, char **prev_cols,
		     size_t prev_ncols, char *err, size_t errlen)
{
	bool continues = r->last[0] != '\0' && strcasecmp(r->last, t->t.name) == 0;

	if (continues && (r->kind == DOC2_DELTA || strcmp(r->last, t->t.name) != 0))
		return errf(err, errlen, "table %s appears twice", t->t.name);
	if (continues && !same_columns(&t->t, prev_cols, prev_ncols))
		return errf(err, errlen, "table %s: its records carry different columns", t->t.name);
	if (continues)
		return 0;
	for (size_t i = 0; i < r->nnames; i++) {
		if (strcasecmp(r->names[i], t->t.name) == 0)
			return errf(err, errlen, "table %s appears twice", t->t.name);
	}
	if (r->nnames + 1 >= PAYLOAD_MAX_TABLES && r->last[0] != '\0')
		return errf(err, errlen, "table %s: the document has more than %d tables", t->t.name,
			    PAYLOAD_MAX_TABLES);
	if (r->last[0] != '\0') {
		char **n = realloc(r->names, (r->nnames + 1) * sizeof(char *));
		if (n == NULL)
			return errf(err, errlen, "out of memory");
		r->names = n;
		if ((r->names[r->nnames] = strdup(r->last)) == NULL)
			return errf(err, errlen, "out of memory");
		r->nnames++;
	}
	snprintf(r->last, sizeof(r->last), "%s", t->t.name);
	return 0;
}

/* Copies t's columns as the previous record's, for check_run. */
static void drop_prev(struct doc2_reader *r)
{
	for (size_t i = 0; i < r->nprev_cols; i++)
		free(r->prev_cols[i]);
	free(r->prev_cols);
	r->prev_cols = NULL;
	r->nprev_cols = 0;
}

static int keep_columns(struct doc2_reader *r, const struct pl_table *t, char *err, size_t errlen)
{
	drop_prev(r);
	if ((r->prev_cols = calloc(t->ncols + 1, sizeof(char *))) == NULL)
		return errf(err, errlen, "out of memory");
	for (size_t i = 0; i < t->ncols; i++) {
		if ((r->prev_cols[i] = strdup(t->cols[i])) == NULL)
			return errf(err, errlen, "out of memory");
		r->nprev_cols = i + 1;
	}
	return 0;
}

int doc2_read_table(struct doc2_reader *r, struct doc2_table *t, char *err, size_t errlen)
{
	cJSON *j;
	int rc;

	memset(t, 0, sizeof(*t));
	if (r->off == 0)
		return errf(err, errlen, "the header has not been read");
	if (r->seen == r->expected) {
		if (r->off != r->len)
			return errf(err, errlen, "bytes follow the %" PRIu64 " table records the header "
						 "announced", r->expected);
		return 0;
	}
	if ((j = next_record(r, err, errlen)) == NULL)
		return -1;
	rc = decode_table(j, r->kind, t, err, errlen);
	cJSON_Delete(j);
	if (rc == 0)
		rc = check_run(r, t, r->prev_cols, r->nprev_cols, err, errlen);
	if (rc == 0)
		rc = keep_columns(r, &t->t, err, errlen);
	if (rc == -1) {
		doc2_table_free(t);
		return -1;
	}
	r->seen++;
	return 1;
}

int doc2_check(const uint8_t *buf, size_t len, struct doc2_header *h, char *err, size_t errlen)
{
	struct doc2_reader r;
	struct doc2_table t;
	int rc;

	doc2_reader_init(&r, buf, len);
	if (doc2_read_header(&r, h, err, errlen) == -1) {
		doc2_reader_free(&r);
		return -1;
	}
	while ((rc = doc2_read_table(&r, &t, err, errlen)) == 1)
		doc2_table_free(&t);
	doc2_reader_free(&r);
	if (rc == -1)
		doc2_header_free(h);
	return rc;
}

bool doc2_sniff(const uint8_t *buf, size_t len)
{
	const uint8_t *nl = memchr(buf, '\n', len);
	cJSON *j, *fmt;
	bool yes;

	if (nl == NULL)
		return false;
	j = cJSON_ParseWithLength((const char *)buf, (size_t)(nl - buf));
	fmt = cJSON_GetObjectItemCaseSensitive(j, "format");
	yes = cJSON_IsObject(j) && cJSON_IsNumber(fmt) && fmt->valuedouble == DOC2_FORMAT;
	pl_json_scrub_jwk(j);
	cJSON_Delete(j);
	return yes;
}
