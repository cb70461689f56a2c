/* export: snapshot of the durable tables (schema.c decides which) plus the
 * JWT key (jwt_store.c), hashed as it is read. */
#include "errbuf.h"
#include "export.h"

#include "schema.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *export_select_sql(const struct schema_table *t)
{
	char *sql = sqlite3_mprintf("SELECT "), *next;

	for (size_t i = 0; sql != NULL && i < t->ncols; i++) {
		next = sqlite3_mprintf("%s%s\"%w\"", sql, i ? "," : "", t->cols[i]);
		sqlite3_free(sql);
		sql = next;
	}
	if (sql == NULL)
		return NULL;
	next = sqlite3_mprintf("%s FROM main.\"%w\"%s%s%s ORDER BY ", sql, t->name,
			       t->local_rows ? " WHERE coalesce((" : "",
			       t->local_rows ? t->local_rows : "", t->local_rows ? "), 0) = 0" : "");
	sqlite3_free(sql);
	sql = next;
	for (size_t i = 0; sql != NULL && i < t->nkey; i++) {
		next = sqlite3_mprintf("%s%s\"%w\"", sql, i ? "," : "", t->cols[t->key[i]]);
		sqlite3_free(sql);
		sql = next;
	}
	return sql;
}

/* SHA-256 fed through a buffer: three EVP_DigestUpdate calls per cell cost
 * more than the hashing. The digest is the same as unbuffered. The buffer
 * sees the JWK, so export_snapshot wipes it. */
struct hasher {
	EVP_MD_CTX *md;
	size_t n;
	uint8_t buf[16384];
};

static void hasher_flush(struct hasher *h)
{
	if (h->n > 0)
		EVP_DigestUpdate(h->md, h->buf, h->n);
	h->n = 0;
}

static void hasher_put(struct hasher *h, const void *p, size_t n)
{
	if (n > sizeof(h->buf) - h->n) {
		hasher_flush(h);
		if (n > sizeof(h->buf)) {
			EVP_DigestUpdate(h->md, p, n);
			return;
		}
	}
	memcpy(h->buf + h->n, p, n);
	h->n += n;
}

static void hasher_finish(struct hasher *h, uint8_t out[static 32])
{
	unsigned int n = 32;

	hasher_flush(h);
	EVP_DigestFinal_ex(h->md, out, &n);
}

static void hash_bytes(struct hasher *h, uint8_t tag, const void *p, size_t n)
{
	uint8_t head[9];

	head[0] = tag;
	for (int i = 0; i < 8; i++)
		head[1 + i] = (uint8_t)((uint64_t)n >> (56 - 8 * i));
	hasher_put(h, head, 9);
	if (n > 0)
		hasher_put(h, p, n);
}

/* The one place a cell's storage class is tagged for the content hash. */
static void hash_value(struct hasher *h, const struct pl_value *v)
{
	switch (v->type) {
	case PL_INT:
		hash_bytes(h, 'i', &v->u.i, sizeof(v->u.i));
		break;
	case PL_REAL:
		hash_bytes(h, 'r', &v->u.r, sizeof(v->u.r));
		break;
	case PL_TEXT:
		hash_bytes(h, 't', v->u.bytes, v->len);
		break;
	case PL_BLOB:
		hash_bytes(h, 'b', v->u.bytes, v->len);
		break;
	default:
		hash_bytes(h, 'n', NULL, 0);
	}
}

/* A column of the current row, hashed in place: the value borrows SQLite's
 * bytes (valid until the next step), nothing is copied. */
static void hash_column(struct hasher *h, sqlite3_stmt *st, int c)
{
	struct pl_value v = {.type = PL_NULL};

	switch (sqlite3_column_type(st, c)) {
	case SQLITE_INTEGER:
		v.type = PL_INT;
		v.u.i = sqlite3_column_int64(st, c);
		break;
	case SQLITE_FLOAT:
		v.type = PL_REAL;
		v.u.r = sqlite3_column_double(st, c);
		break;
	case SQLITE_TEXT:
		v.type = PL_TEXT;
		v.u.bytes = (uint8_t *)sqlite3_column_text(st, c);
		v.len = (size_t)sqlite3_column_bytes(st, c);
		break;
	case SQLITE_BLOB:
		v.type = PL_BLOB;
		v.u.bytes = (uint8_t *)sqlite3_column_blob(st, c);
		v.len = (size_t)sqlite3_column_bytes(st, c);
		break;
	}
	hash_value(h, &v);
}

static int table_init(struct pl_table *pt, const struct schema_table *t)
{
	pt->name = strdup(t->name);
	pt->ncols = t->ncols;
	pt->cols = calloc(t->ncols, sizeof(char *));
	if (pt->name == NULL || pt->cols == NULL)
		return -1;
	for (size_t i = 0; i < t->ncols; i++) {
		if ((pt->cols[i] = strdup(t->cols[i])) == NULL)
			return -1;
	}
	return 0;
}

/* Appends the current row of st to pt, growing its cell array. */
static int table_add_row(struct pl_table *pt, size_t *cap, sqlite3_stmt *st)
{
	if (pt->nrows == *cap) {
		size_t ncap = *cap == 0 ? 64 : *cap * 2;
		struct pl_value *n = realloc(pt->cells, ncap * pt->ncols * sizeof(*n));
		if (n == NULL)
			return -1;
		pt->cells = n;
		*cap = ncap;
	}
	for (size_t c = 0; c < pt->ncols; c++) {
		if (pl_value_from_sqlite(pl_cell(pt, pt->nrows, c), st, (int)c, &pt->arena) == -1)
			return -1; /* the arena owns what this row got so far */
	}
	pt->nrows++;
	return 0;
}

/* True when the current row of st is a CIMD client (see schema.h). */
static bool row_is_cimd(const struct schema_table *t, sqlite3_stmt *st)
{
	return t->cimd_type_col >= 0 && sqlite3_column_type(st, t->cimd_type_col) == SQLITE_TEXT &&
	       strcmp((const char *)sqlite3_column_text(st, t->cimd_type_col), "cimd") == 0;
}

/* Whether column c of a row counts for the content hash: per-node values,
 * bookkeeping timestamps and a CIMD client's metadata-document columns move
 * without a change the secondaries need. */
static bool hashed(const struct schema_table *t, size_t c, bool cimd_row)
{
	return schema_column_shared(t, c, cimd_row) && !t->bookkeeping[c];
}

static int export_table(sqlite3 *db, const struct schema_table *t, struct hasher *h,
			struct pl_table *pt, char *err, size_t errlen)
{
	char *sql = export_select_sql(t);
	sqlite3_stmt *st;
	size_t cap = 0;
	int rc;

	if (sql == NULL || sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
		sqlite3_free(sql);
		return errf(err, errlen, "cannot read %s: %s", t->name, sqlite3_errmsg(db));
	}
	sqlite3_free(sql);
	hash_bytes(h, 'T', t->name, strlen(t->name));
	for (size_t c = 0; c < t->ncols; c++) {
		if (hashed(t, c, false))
			hash_bytes(h, 'C', t->cols[c], strlen(t->cols[c]));
	}
	if (pt != NULL && table_init(pt, t) == -1) {
		sqlite3_finalize(st);
		return errf(err, errlen, "out of memory");
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		bool cimd = row_is_cimd(t, st);
		hash_bytes(h, 'R', NULL, 0);
		if (pt != NULL && table_add_row(pt, &cap, st) == -1) {
			sqlite3_finalize(st);
			return errf(err, errlen, "out of memory");
		}
		/* With a payload, hash the row just read rather than read it twice. */
		for (size_t c = 0; c < t->ncols; c++) {
			if (!hashed(t, c, cimd))
				continue;
			if (pt != NULL)
				hash_value(h, pl_cell(pt, pt->nrows - 1, c));
			else
				hash_column(h, st, (int)c);
		}
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return errf(err, errlen, "cannot read %s: %s", t->name, sqlite3_errmsg(db));
	return 0;
}

static int export_locked(sqlite3 *db, const struct jwt_store_cfg *keys, struct payload *p,
			 struct export_result *res, struct hasher *h, char *err, size_t errlen)
{
	struct schema s;
	char *jwk = NULL;
	size_t jwk_len = 0;
	int rc = -1;

	if (schema_load(db, &s, err, errlen) == -1)
		return -1;
	res->nunknown = 0;
	for (size_t i = 0; i < s.nunknown && i < 16; i++)
		snprintf(res->unknown[res->nunknown++], 64, "%s", s.unknown[i]);
	hash_bytes(h, 'V', s.version, strlen(s.version));
	if (p != NULL) {
		p->format = PAYLOAD_FORMAT;
		p->schema_version = strdup(s.version);
		p->tables = calloc(s.ntables + 1, sizeof(struct pl_table));
		if (p->schema_version == NULL || p->tables == NULL) {
			errf(err, errlen, "out of memory");
			goto out;
		}
	}
	for (size_t i = 0; i < s.ntables; i++) {
		struct pl_table *pt = p != NULL ? &p->tables[p->ntables++] : NULL;
		if (export_table(db, &s.tables[i], h, pt, err, errlen) == -1)
			goto out;
	}
	if (jwt_store_read(db, keys, &jwk, &jwk_len, err, errlen) == -1)
		goto out;
	hash_bytes(h, 'J', jwk, jwk != NULL ? jwk_len : 0);
	if (p != NULL && jwk != NULL) {
		p->jwk_json = strdup(jwk);
		if (p->jwk_json == NULL) {
			errf(err, errlen, "out of memory");
			goto out;
		}
	}
	rc = 0;
out:
	if (jwk != NULL)
		OPENSSL_clear_free(jwk, jwk_len + 1);
	schema_free(&s);
	return rc;
}

static int hasher_start(struct hasher *h, char *err, size_t errlen)
{
	h->n = 0;
	h->md = EVP_MD_CTX_new();
	if (h->md == NULL || EVP_DigestInit_ex(h->md, EVP_sha256(), NULL) != 1) {
		EVP_MD_CTX_free(h->md);
		return errf(err, errlen, "cannot start SHA-256");
	}
	return 0;
}

/* Finishes into out (when rc is 0) and wipes the buffer, which may have
 * held the JWK. */
static void hasher_end(struct hasher *h, int rc, uint8_t out[static 32])
{
	if (rc == 0)
		hasher_finish(h, out);
	OPENSSL_cleanse(h->buf, sizeof(h->buf));
	EVP_MD_CTX_free(h->md);
}

int export_hash_in_txn(sqlite3 *db, const struct jwt_store_cfg *keys, struct export_result *res,
		       char *err, size_t errlen)
{
	struct hasher h;
	int rc;

	if (hasher_start(&h, err, errlen) == -1)
		return -1;
	rc = export_locked(db, keys, NULL, res, &h, err, errlen);
	hasher_end(&h, rc, res->content_hash);
	return rc;
}

int export_table_digest(sqlite3 *db, const struct schema_table *t, uint8_t out[static 32],
			char *err, size_t errlen)
{
	struct hasher h;
	int rc;

	if (hasher_start(&h, err, errlen) == -1)
		return -1;
	rc = export_table(db, t, &h, NULL, err, errlen);
	hasher_end(&h, rc, out);
	return rc;
}

int export_snapshot(sqlite3 *db, const struct jwt_store_cfg *keys, struct payload *p,
		    struct export_result *res, char *err, size_t errlen)
{
	struct hasher h;
	int rc;

	if (hasher_start(&h, err, errlen) == -1)
		return -1;
	if (p != NULL)
		memset(p, 0, sizeof(*p));
	/* One read transaction: the snapshot is consistent while Pocket ID writes. */
	if (sqlite3_exec(db, "BEGIN DEFERRED", NULL, NULL, NULL) != SQLITE_OK) {
		EVP_MD_CTX_free(h.md);
		return errf(err, errlen, "cannot begin a read transaction: %s", sqlite3_errmsg(db));
	}
	rc = export_locked(db, keys, p, res, &h, err, errlen);
	sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
	hasher_end(&h, rc, res->content_hash);
	if (rc == -1 && p != NULL)
		payload_free(p);
	return rc;
}
