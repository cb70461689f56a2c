/* export2: format-2 records from the open read transaction (see
 * export2.h). Rows are read with export_select_sql (node-local rows never
 * leave), a delta's by key with the same condition. */
#include "export2.h"

#include "errbuf.h"
#include "export.h"
#include "payload_json.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int emit(const struct doc2_sink *out, char *rec, size_t len, char *err, size_t errlen)
{
	int rc = out->put(out->arg, rec, len, err, errlen);

	OPENSSL_clear_free(rec, len); /* rows hold credentials */
	return rc;
}

static int emit_header(struct doc2_header *h, sqlite3 *db, const struct schema *s,
		       const struct jwt_store_cfg *keys, bool with_jwk, const struct doc2_sink *out,
		       char *err, size_t errlen)
{
	char *rec, *jwk = NULL;
	size_t len, jwk_len = 0;
	int rc;

	if (with_jwk && jwt_store_read(db, keys, &jwk, &jwk_len, err, errlen) == -1)
		return -1;
	h->schema_version = s->version; /* borrowed for the encoding only */
	h->has_jwt = with_jwk;
	h->jwk_json = jwk;
	rc = doc2_encode_header(h, &rec, &len);
	h->schema_version = NULL;
	h->jwk_json = NULL;
	if (jwk != NULL)
		OPENSSL_clear_free(jwk, jwk_len + 1);
	if (rc == -1)
		return errf(err, errlen, "out of memory");
	return emit(out, rec, len, err, errlen);
}

static int table_shell(struct pl_table *pt, const struct schema_table *t)
{
	memset(pt, 0, sizeof(*pt));
	pt->name = (char *)t->name; /* borrowed */
	pt->ncols = t->ncols;
	pt->cols = t->cols;
	pt->cells = calloc((size_t)DOC2_ROWS_PER_RECORD * t->ncols + 1, sizeof(struct pl_value));
	return pt->cells == NULL ? -1 : 0;
}

static void table_clear_rows(struct pl_table *pt)
{
	pl_arena_free(&pt->arena);
	memset(pt->cells, 0, pt->nrows * pt->ncols * sizeof(struct pl_value));
	pt->nrows = 0;
}

static int flush_rows(struct pl_table *pt, const struct doc2_sink *out, char *err, size_t errlen)
{
	char *rec;
	size_t len;

	if (doc2_encode_rows(pt, 0, pt->nrows, &rec, &len) == -1)
		return errf(err, errlen, "out of memory");
	table_clear_rows(pt);
	return emit(out, rec, len, err, errlen);
}

/* One table in records of at most DOC2_ROWS_PER_RECORD rows (one empty
 * record for an empty table, which empties it on the reader). */
static int stream_table(sqlite3 *db, const struct schema_table *t, const struct doc2_sink *out,
			char *err, size_t errlen)
{
	char *sql = export_scan_sql(t);
	struct pl_table pt;
	sqlite3_stmt *st;
	bool sent = false;
	int rc;

	if (sql == NULL || sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
		sqlite3_free(sql);
		return errf(err, errlen, "cannot read %s: %s", t->name, sqlite3_errmsg(db));
	}
	sqlite3_free(sql);
	if (table_shell(&pt, t) == -1) {
		sqlite3_finalize(st);
		return errf(err, errlen, "out of memory");
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		bool ok = true;
		for (size_t c = 0; c < t->ncols && ok; c++)
			ok = pl_value_from_sqlite(pl_cell(&pt, pt.nrows, c), st, (int)c, &pt.arena) == 0;
		if (!ok) {
			rc = SQLITE_NOMEM;
			break;
		}
		if (++pt.nrows == DOC2_ROWS_PER_RECORD) {
			if (flush_rows(&pt, out, err, errlen) == -1) {
				rc = -1;
				break;
			}
			sent = true;
		}
	}
	sqlite3_finalize(st);
	if (rc == SQLITE_DONE && (pt.nrows > 0 || !sent) && flush_rows(&pt, out, err, errlen) == -1)
		rc = -1;
	table_clear_rows(&pt);
	free(pt.cells);
	if (rc == -1)
		return -1;
	if (rc != SQLITE_DONE)
		return errf(err, errlen, "cannot read %s: %s", t->name,
			    rc == SQLITE_NOMEM ? "out of memory" : sqlite3_errmsg(db));
	return 0;
}

static int emit_app_config(const struct appconfig *ac, const struct doc2_sink *out, char *err,
			   size_t errlen)
{
	struct pl_table t = {0};
	char *rec;
	size_t len;
	int rc;

	if (appconfig_to_table(ac, &t) == -1) {
		pl_table_free(&t);
		return errf(err, errlen, "out of memory");
	}
	rc = doc2_encode_rows(&t, 0, t.nrows, &rec, &len);
	pl_table_free(&t); /* wipes the values: SMTP and LDAP passwords */
	if (rc == -1)
		return errf(err, errlen, "out of memory");
	return emit(out, rec, len, err, errlen);
}

int export2_full(sqlite3 *db, const struct schema *s, const struct jwt_store_cfg *keys,
		 const struct appconfig *ac, struct doc2_header *h, const struct doc2_sink *out,
		 char *err, size_t errlen)
{
	uint64_t records = ac != NULL ? 1 : 0;

	for (size_t i = 0; i < s->ntables; i++) {
		uint64_t n;
		if (export_count_rows(db, &s->tables[i], &n) == -1)
			return errf(err, errlen, "cannot count %s: %s", s->tables[i].name, sqlite3_errmsg(db));
		records += n == 0 ? 1 : (n + DOC2_ROWS_PER_RECORD - 1) / DOC2_ROWS_PER_RECORD;
	}
	h->kind = DOC2_FULL;
	h->ntables = records;
	h->app_config_api = ac != NULL;
	if (emit_header(h, db, s, keys, true, out, err, errlen) == -1)
		return -1;
	for (size_t i = 0; i < s->ntables; i++) {
		if (stream_table(db, &s->tables[i], out, err, errlen) == -1)
			return -1;
	}
	return ac != NULL ? emit_app_config(ac, out, err, errlen) : 0;
}

static int delta_table(sqlite3 *db, const struct schema_table *t, const struct ledger_delta_table *dt,
		       const struct doc2_sink *out, char *err, size_t errlen)
{
	struct doc2_table rec = {0};
	char *sql = export_select_by_key_sql(t), *buf;
	sqlite3_stmt *st = NULL;
	size_t len;
	int rc = -1;

	rec.t.name = (char *)t->name;
	rec.t.ncols = t->ncols;
	rec.t.cols = t->cols;
	rec.changes = true;
	rec.nkey = t->nkey;
	rec.key = calloc(t->nkey + 1, sizeof(char *));
	rec.t.cells = calloc(dt->n * t->ncols + 1, sizeof(struct pl_value));
	rec.deleted = calloc(dt->n * t->nkey + 1, sizeof(struct pl_value));
	if (sql == NULL || rec.key == NULL || rec.t.cells == NULL || rec.deleted == NULL) {
		errf(err, errlen, "out of memory");
		goto out;
	}
	for (size_t k = 0; k < t->nkey; k++)
		rec.key[k] = t->cols[t->key[k]];
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
		errf(err, errlen, "cannot read %s: %s", t->name, sqlite3_errmsg(db));
		goto out;
	}
	for (size_t i = 0; i < dt->n; i++) {
		const struct pl_value *key = &dt->keys[i * dt->nkey];
		int step;
		for (size_t k = 0; k < t->nkey; k++)
			pl_value_bind(st, (int)k + 1, &key[k]);
		step = sqlite3_step(st);
		if (step == SQLITE_ROW) {
			for (size_t c = 0; c < t->ncols; c++) {
				if (pl_value_from_sqlite(pl_cell(&rec.t, rec.t.nrows, c), st, (int)c,
							 &rec.t.arena) == -1) {
					errf(err, errlen, "out of memory");
					goto out;
				}
			}
			rec.t.nrows++;
		} else if (step == SQLITE_DONE) {
			memcpy(&rec.deleted[rec.ndeleted++ * t->nkey], key, t->nkey * sizeof(*key));
		} else {
			errf(err, errlen, "cannot read %s: %s", t->name, sqlite3_errmsg(db));
			goto out;
		}
		sqlite3_reset(st);
		sqlite3_clear_bindings(st);
	}
	if (doc2_encode_table(&rec, &buf, &len) == -1) {
		errf(err, errlen, "out of memory");
		goto out;
	}
	rc = emit(out, buf, len, err, errlen);
out:
	sqlite3_finalize(st);
	sqlite3_free(sql);
	pl_arena_free(&rec.t.arena); /* the deleted keys borrow the plan's bytes */
	free(rec.t.cells);
	free(rec.deleted);
	free(rec.key);
	return rc;
}

/* A table that travels whole in a delta: app_config_variables. */
static bool travels_whole(const struct schema_table *t)
{
	return !rowhash_counts_table(t);
}

int export2_delta(sqlite3 *db, const struct schema *s, const struct jwt_store_cfg *keys,
		  const struct appconfig *ac, const struct ledger_delta *d, struct doc2_header *h,
		  const struct doc2_sink *out, char *err, size_t errlen)
{
	uint64_t records = ac != NULL && d->appcfg_changed ? 1 : 0;

	for (size_t i = 0; i < d->ntables; i++) {
		const struct schema_table *t = schema_table(s, d->t[i].name);
		uint64_t n;
		if (t == NULL)
			return errf(err, errlen, "the delta names table %s, which the schema lacks", d->t[i].name);
		if (!travels_whole(t)) {
			records++;
		} else {
			if (export_count_rows(db, t, &n) == -1)
				return errf(err, errlen, "cannot count %s: %s", t->name, sqlite3_errmsg(db));
			records += n == 0 ? 1 : (n + DOC2_ROWS_PER_RECORD - 1) / DOC2_ROWS_PER_RECORD;
		}
	}
	h->kind = DOC2_DELTA;
	h->ntables = records;
	h->app_config_api = ac != NULL;
	if (emit_header(h, db, s, keys, d->jwk_changed, out, err, errlen) == -1)
		return -1;
	/* Schema order, parents first, as a full snapshot. */
	for (size_t i = 0; i < s->ntables; i++) {
		const struct schema_table *t = &s->tables[i];
		const struct ledger_delta_table *dt = NULL;
		for (size_t k = 0; k < d->ntables && dt == NULL; k++)
			dt = strcmp(d->t[k].name, t->name) == 0 ? &d->t[k] : NULL;
		if (dt == NULL)
			continue;
		if ((travels_whole(t) ? stream_table(db, t, out, err, errlen)
				      : delta_table(db, t, dt, out, err, errlen)) == -1)
			return -1;
	}
	return ac != NULL && d->appcfg_changed ? emit_app_config(ac, out, err, errlen) : 0;
}
