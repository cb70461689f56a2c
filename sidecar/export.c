/* export: snapshot of the durable tables (schema.c decides which) plus the
 * JWT key (jwt_store.c), hashed as it is read (rowhash.c: the same content
 * and rows hashes the primary's ledger keeps). */
#include "errbuf.h"
#include "export.h"

#include "rowhash.h"
#include "schema.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* SELECT of t's shipped rows, columns in schema order, node-local rows
 * excluded; ordered by key when ordered. */
static char *select_sql(const struct schema_table *t, bool ordered)
{
	char *sql = sqlite3_mprintf("SELECT "), *next;

	for (size_t i = 0; sql != NULL && i < t->ncols; i++) {
		next = sqlite3_mprintf("%s%s\"%w\"", sql, i ? "," : "", t->cols[i]);
		sqlite3_free(sql);
		sql = next;
	}
	if (sql == NULL)
		return NULL;
	next = sqlite3_mprintf("%s FROM main.\"%w\"%s%s%s%s", sql, t->name,
			       t->local_rows ? " WHERE coalesce((" : "",
			       t->local_rows ? t->local_rows : "", t->local_rows ? "), 0) = 0" : "",
			       ordered ? " ORDER BY " : "");
	sqlite3_free(sql);
	sql = next;
	for (size_t i = 0; ordered && sql != NULL && i < t->nkey; i++) {
		next = sqlite3_mprintf("%s%s\"%w\"", sql, i ? "," : "", t->cols[t->key[i]]);
		sqlite3_free(sql);
		sql = next;
	}
	return sql;
}

char *export_select_sql(const struct schema_table *t)
{
	return select_sql(t, true);
}

char *export_scan_sql(const struct schema_table *t)
{
	return select_sql(t, false);
}

char *export_select_by_key_sql(const struct schema_table *t)
{
	char *sql = select_sql(t, false), *next;

	if (sql == NULL)
		return NULL;
	next = sqlite3_mprintf("%s%s", sql, t->local_rows ? " AND " : " WHERE ");
	sqlite3_free(sql);
	sql = next;
	for (size_t k = 0; sql != NULL && k < t->nkey; k++) {
		next = sqlite3_mprintf("%s%s\"%w\" IS ?%d", sql, k ? " AND " : "", t->cols[t->key[k]],
				       (int)k + 1);
		sqlite3_free(sql);
		sql = next;
	}
	return sql;
}

int export_count_rows(sqlite3 *db, const struct schema_table *t, uint64_t *n)
{
	char *sql = export_scan_sql(t), *cnt;
	sqlite3_stmt *q;
	int rc;

	if (sql == NULL)
		return -1;
	cnt = sqlite3_mprintf("SELECT count(*) FROM (%s)", sql);
	sqlite3_free(sql);
	if (cnt == NULL || sqlite3_prepare_v2(db, cnt, -1, &q, NULL) != SQLITE_OK) {
		sqlite3_free(cnt);
		return -1;
	}
	sqlite3_free(cnt);
	rc = sqlite3_step(q);
	*n = rc == SQLITE_ROW ? (uint64_t)sqlite3_column_int64(q, 0) : 0;
	sqlite3_finalize(q);
	return rc == SQLITE_ROW ? 0 : -1;
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

static int export_table(sqlite3 *db, const struct schema_table *t, struct rowhash_ctx *rh,
			struct lthash *sum, struct pl_table *pt, char *err, size_t errlen)
{
	char *sql = export_select_sql(t);
	sqlite3_stmt *st;
	uint8_t d[32];
	size_t cap = 0;
	int rc;

	if (sql == NULL || sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
		sqlite3_free(sql);
		return errf(err, errlen, "cannot read %s: %s", t->name, sqlite3_errmsg(db));
	}
	sqlite3_free(sql);
	if (pt != NULL && table_init(pt, t) == -1) {
		sqlite3_finalize(st);
		return errf(err, errlen, "out of memory");
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (pt != NULL && table_add_row(pt, &cap, st) == -1) {
			sqlite3_finalize(st);
			return errf(err, errlen, "out of memory");
		}
		/* With a payload, hash the row just read rather than read it twice. */
		if ((pt != NULL ? rowhash_row(rh, t, pl_cell(pt, pt->nrows - 1, 0), d)
				: rowhash_stmt(rh, t, st, d)) == -1) {
			sqlite3_finalize(st);
			return errf(err, errlen, "cannot hash a row of %s", t->name);
		}
		lthash_add(rh, sum, d);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return errf(err, errlen, "cannot read %s: %s", t->name, sqlite3_errmsg(db));
	return 0;
}

static int export_locked(sqlite3 *db, const struct jwt_store_cfg *keys, struct payload *p,
			 struct export_result *res, char *err, size_t errlen)
{
	struct rowhash_ctx *rh = rowhash_ctx_new();
	struct lthash *sums = NULL, rows = {{0}};
	const struct lthash **ptrs = NULL;
	struct schema s;
	char *jwk = NULL;
	size_t jwk_len = 0;
	int rc = -1;

	if (rh == NULL)
		return errf(err, errlen, "out of memory");
	if (schema_load(db, &s, err, errlen) == -1) {
		rowhash_ctx_free(rh);
		return -1;
	}
	res->nunknown = 0;
	for (size_t i = 0; i < s.nunknown && i < 16; i++)
		snprintf(res->unknown[res->nunknown++], 64, "%s", s.unknown[i]);
	sums = calloc(s.ntables + 1, sizeof(*sums));
	ptrs = calloc(s.ntables + 1, sizeof(*ptrs));
	if (sums == NULL || ptrs == NULL) {
		errf(err, errlen, "out of memory");
		goto out;
	}
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
		if (export_table(db, &s.tables[i], rh, &sums[i], pt, err, errlen) == -1)
			goto out;
		ptrs[i] = &sums[i];
		if (rowhash_counts_table(&s.tables[i]))
			lthash_merge(&rows, &sums[i]);
	}
	if (jwt_store_read(db, keys, &jwk, &jwk_len, err, errlen) == -1)
		goto out;
	rowhash_jwk_digest(jwk, jwk_len, res->jwk_digest);
	rowhash_content(&s, ptrs, res->jwk_digest, res->content_hash);
	lthash_digest(&rows, res->rows_hash);
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
	free(sums);
	free(ptrs);
	rowhash_ctx_free(rh);
	schema_free(&s);
	return rc;
}

int export_in_txn(sqlite3 *db, const struct jwt_store_cfg *keys, struct payload *p,
		  struct export_result *res, char *err, size_t errlen)
{
	int rc;

	if (p != NULL)
		memset(p, 0, sizeof(*p));
	rc = export_locked(db, keys, p, res, err, errlen);
	if (rc == -1 && p != NULL)
		payload_free(p);
	return rc;
}

int export_snapshot(sqlite3 *db, const struct jwt_store_cfg *keys, struct payload *p,
		    struct export_result *res, char *err, size_t errlen)
{
	int rc;

	/* One read transaction: the snapshot is consistent while Pocket ID writes. */
	if (sqlite3_exec(db, "BEGIN DEFERRED", NULL, NULL, NULL) != SQLITE_OK)
		return errf(err, errlen, "cannot begin a read transaction: %s", sqlite3_errmsg(db));
	rc = export_in_txn(db, keys, p, res, err, errlen);
	sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
	return rc;
}
