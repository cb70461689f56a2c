/* apply: plan, then write. The plan (diff of payload and local rows) is made
 * in a read snapshot; the writes upgrade that snapshot to the write lock, so
 * a concurrent writer forces a clean retry instead of a stale diff. After a
 * few optimistic attempts one attempt plans under BEGIN IMMEDIATE. */
#include "errbuf.h"
#include "apply.h"

#include "apply2.h"
#include "appconfig.h"
#include "apply_rules.h"
#include "apply_sql.h"
#include "export.h"
#include "rowhash.h"
#include "schema.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct update {
	size_t prow;  /* payload row */
	size_t local; /* local row */
};

struct table_plan {
	const struct schema_table *st;
	const struct pl_table *pt;
	size_t map[PAYLOAD_MAX_COLUMNS]; /* schema column -> payload column */
	struct pl_value *local;		 /* nlocal * st->ncols */
	struct pl_arena *arena;		 /* the bytes of local */
	size_t nlocal;
	size_t *ins, nins;
	struct update *upd;
	size_t nupd;
	size_t *del, ndel; /* local rows */
	/* Format 2: the delta's changes record for this table (local then
	 * holds only the rows it names), and the table's shipped row count
	 * the valve compares deletes with (nlocal for a whole table). */
	const struct doc2_table *changes;
	size_t ntotal;
};

struct plan {
	struct schema schema;
	size_t ntables;
	struct table_plan *t; /* schema order: parents first */
	/* Keys of the CIMD clients only this node has (kept, with their child
	 * rows); they point into the oidc_clients table plan's local rows. */
	const struct pl_value **kept_cimd;
	size_t nkept_cimd;
	bool jwt_in_file;
	bool jwt_changes;
};

/* ---- key map: serialized key bytes -> local row index ---- */

struct keymap {
	size_t cap;
	uint64_t *hash;
	size_t *row; /* row + 1; 0 = empty */
};

static uint64_t key_hash(const struct pl_value *row, const struct schema_table *st, const size_t *map)
{
	uint64_t h = APPLY_HASH_SEED;

	for (size_t k = 0; k < st->nkey; k++)
		h = apply_hash_value(h, &row[map ? map[st->key[k]] : st->key[k]]);
	return h;
}

static bool keys_equal(const struct pl_value *prow, const size_t *map, const struct pl_value *lrow,
		       const struct schema_table *st)
{
	for (size_t k = 0; k < st->nkey; k++) {
		if (!pl_value_equal(&prow[map[st->key[k]]], &lrow[st->key[k]]))
			return false;
	}
	return true;
}

static int keymap_build(struct keymap *m, const struct table_plan *tp)
{
	m->cap = 16;
	while (m->cap < tp->nlocal * 2)
		m->cap *= 2;
	m->hash = calloc(m->cap, sizeof(uint64_t));
	m->row = calloc(m->cap, sizeof(size_t));
	if (m->hash == NULL || m->row == NULL)
		return -1;
	for (size_t r = 0; r < tp->nlocal; r++) {
		uint64_t h = key_hash(&tp->local[r * tp->st->ncols], tp->st, NULL);
		size_t i = h & (m->cap - 1);
		while (m->row[i] != 0)
			i = (i + 1) & (m->cap - 1);
		m->hash[i] = h;
		m->row[i] = r + 1;
	}
	return 0;
}

/* Local row whose key equals payload row prow, or -1. */
static long keymap_find(const struct keymap *m, const struct table_plan *tp, size_t prow)
{
	const struct pl_value *row = pl_cell(tp->pt, prow, 0);
	uint64_t h = key_hash(row, tp->st, tp->map);

	for (size_t i = h & (m->cap - 1); m->row[i] != 0; i = (i + 1) & (m->cap - 1)) {
		size_t r = m->row[i] - 1;
		if (m->hash[i] == h && keys_equal(row, tp->map, &tp->local[r * tp->st->ncols], tp->st))
			return (long)r;
	}
	return -1;
}

/* Local row whose key is key (nkey values in key order), or -1. */
static long keymap_find_key(const struct keymap *m, const struct table_plan *tp,
			    const struct pl_value *key)
{
	const struct schema_table *st = tp->st;
	uint64_t h = APPLY_HASH_SEED;

	for (size_t k = 0; k < st->nkey; k++)
		h = apply_hash_value(h, &key[k]);
	for (size_t i = h & (m->cap - 1); m->row[i] != 0; i = (i + 1) & (m->cap - 1)) {
		const struct pl_value *lrow = &tp->local[(m->row[i] - 1) * st->ncols];
		bool same = m->hash[i] == h;
		for (size_t k = 0; same && k < st->nkey; k++)
			same = pl_value_equal(&key[k], &lrow[st->key[k]]);
		if (same)
			return (long)(m->row[i] - 1);
	}
	return -1;
}

static void keymap_free(struct keymap *m)
{
	free(m->hash);
	free(m->row);
}

/* ---- planning ---- */

static void plan_free(struct plan *pl)
{
	for (size_t i = 0; i < pl->ntables; i++) {
		struct table_plan *tp = &pl->t[i];
		pl_arena_free(&tp->arena);
		free(tp->local);
		free(tp->ins);
		free(tp->upd);
		free(tp->del);
	}
	free(pl->t);
	free(pl->kept_cimd);
	schema_free(&pl->schema);
	memset(pl, 0, sizeof(*pl));
}

static int load_local(sqlite3 *db, struct table_plan *tp, char *err, size_t errlen)
{
	char *sql = export_select_sql(tp->st);
	sqlite3_stmt *st;
	size_t cap = 0, nc = tp->st->ncols;
	int rc;

	if (sql == NULL || sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
		sqlite3_free(sql);
		return errf(err, errlen, "cannot read %s: %s", tp->st->name, sqlite3_errmsg(db));
	}
	sqlite3_free(sql);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		bool ok = true;
		if (tp->nlocal == cap) {
			size_t ncap = cap == 0 ? 64 : cap * 2;
			struct pl_value *n = realloc(tp->local, ncap * nc * sizeof(*n));
			if (n == NULL)
				break;
			tp->local = n;
			cap = ncap;
		}
		/* A row read in part would diff wrongly: stop (rc stays SQLITE_ROW). */
		for (size_t c = 0; c < nc && ok; c++)
			ok = pl_value_from_sqlite(&tp->local[tp->nlocal * nc + c], st, (int)c, &tp->arena) == 0;
		if (!ok)
			break;
		tp->nlocal++;
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return errf(err, errlen, "cannot read %s: %s", tp->st->name,
			    rc == SQLITE_ROW ? "out of memory" : sqlite3_errmsg(db));
	return 0;
}

/* A CIMD client on both sides: its metadata-document columns stay local. */
static bool both_cimd(const struct table_plan *tp, size_t prow, size_t lrow)
{
	int c = tp->st->cimd_type_col;

	return c >= 0 && apply_is_cimd(pl_cell(tp->pt, prow, tp->map[c])) &&
	       apply_is_cimd(&tp->local[lrow * tp->st->ncols + (size_t)c]);
}

/* Whether column c of the pair must be written: shared and different. */
static bool cell_changes(const struct table_plan *tp, size_t prow, size_t lrow, size_t c, bool cimd)
{
	return schema_column_shared(tp->st, c, cimd) &&
	       !pl_value_equal(pl_cell(tp->pt, prow, tp->map[c]), &tp->local[lrow * tp->st->ncols + c]);
}

/* A row needs an update only for a real change: bookkeeping timestamps
 * alone do not count (they are written along with a real change). */
static bool row_differs(const struct table_plan *tp, size_t prow, size_t lrow)
{
	bool cimd = both_cimd(tp, prow, lrow);

	for (size_t c = 0; c < tp->st->ncols; c++) {
		if (!tp->st->bookkeeping[c] && cell_changes(tp, prow, lrow, c, cimd))
			return true;
	}
	return false;
}

/* Local rows absent from the payload that stay: a CIMD client only this node
 * has (recorded in pl->kept_cimd), and the child rows of such a client. */
static bool keep_absent(struct plan *pl, const struct table_plan *tp, size_t lrow)
{
	const struct schema_table *t = tp->st;
	const struct pl_value *row = &tp->local[lrow * t->ncols];

	if (t->cimd_type_col >= 0 && apply_is_cimd(&row[t->cimd_type_col])) {
		pl->kept_cimd[pl->nkept_cimd++] = &row[t->key[0]];
		return true;
	}
	for (size_t i = 0; t->cimd_client_col >= 0 && i < pl->nkept_cimd; i++) {
		if (pl_value_equal(&row[t->cimd_client_col], pl->kept_cimd[i]))
			return true;
	}
	return false;
}

static int diff_table(struct plan *pl, struct table_plan *tp, char *err, size_t errlen)
{
	struct keymap m = {0};
	bool *seen = calloc(tp->nlocal + 1, sizeof(bool));
	size_t n = tp->pt->nrows;

	tp->ins = malloc((n + 1) * sizeof(size_t));
	tp->upd = malloc((n + 1) * sizeof(struct update));
	tp->del = malloc((tp->nlocal + 1) * sizeof(size_t));
	if (seen == NULL || tp->ins == NULL || tp->upd == NULL || tp->del == NULL ||
	    keymap_build(&m, tp) == -1) {
		free(seen);
		keymap_free(&m);
		return errf(err, errlen, "out of memory");
	}
	for (size_t r = 0; r < n; r++) {
		long l = keymap_find(&m, tp, r);
		if (l < 0) {
			tp->ins[tp->nins++] = r;
		} else if (seen[l]) {
			free(seen);
			keymap_free(&m);
			return errf(err, errlen, "table %s: the payload has two rows with one key",
				    tp->st->name);
		} else {
			seen[l] = true;
			if (row_differs(tp, r, (size_t)l))
				tp->upd[tp->nupd++] = (struct update){r, (size_t)l};
		}
	}
	if (tp->st->cimd_type_col >= 0) {
		free(pl->kept_cimd);
		pl->nkept_cimd = 0;
		if ((pl->kept_cimd = calloc(tp->nlocal + 1, sizeof(*pl->kept_cimd))) == NULL) {
			free(seen);
			keymap_free(&m);
			return errf(err, errlen, "out of memory");
		}
	}
	for (size_t l = 0; l < tp->nlocal; l++) {
		if (!seen[l] && !keep_absent(pl, tp, l))
			tp->del[tp->ndel++] = l;
	}
	free(seen);
	keymap_free(&m);
	return 0;
}

static int check_tables(const struct plan *pl, const struct payload *p, char *err, size_t errlen)
{
	for (size_t i = 0; i < p->ntables; i++) {
		if (apply_check_table(&pl->schema, p->tables[i].name, err, errlen) == -1)
			return -1;
	}
	return 0;
}

static int plan_changes_table(sqlite3 *db, struct plan *pl, struct table_plan *tp,
			      enum apply_status *st, char *err, size_t errlen);

/* dv: the changes records of a format-2 delta (NULL for whole tables only). */
struct delta_view {
	const struct doc2_table *recs;
	size_t n;
};

static const struct doc2_table *changes_of(const struct delta_view *dv, const char *name)
{
	for (size_t i = 0; dv != NULL && i < dv->n; i++) {
		if (dv->recs[i].changes && strcmp(dv->recs[i].t.name, name) == 0)
			return &dv->recs[i];
	}
	return NULL;
}

static int make_plan(sqlite3 *db, const struct payload *p, const struct apply_opts *o,
		     const struct delta_view *dv, struct plan *pl, enum apply_status *st, char *err,
		     size_t errlen)
{
	*st = APPLY_ERR_DB;
	if (schema_load(db, &pl->schema, err, errlen) == -1)
		return -1;
	*st = APPLY_ERR_SCHEMA;
	if (apply_check_version(&pl->schema, p->schema_version, err, errlen) == -1)
		return -1;
	if (check_tables(pl, p, err, errlen) == -1)
		return -1;
	pl->t = calloc(pl->schema.ntables + 1, sizeof(struct table_plan));
	if (pl->t == NULL)
		return errf(err, errlen, "out of memory");
	for (size_t i = 0; i < pl->schema.ntables; i++) {
		struct table_plan *tp = &pl->t[pl->ntables];
		tp->st = &pl->schema.tables[i];
		tp->pt = payload_table(p, tp->st->name);
		if (tp->pt == NULL) /* the primary does not ship it: leave it alone */
			continue;
		if (o->app_config_via_api &&
		    strcmp(tp->st->name, "app_config_variables") == 0)
			continue; /* written through Pocket ID's API instead */
		pl->ntables++;
		*st = APPLY_ERR_SCHEMA;
		if (apply_map_columns(tp->st, tp->pt, tp->map, err, errlen) == -1)
			return -1;
		if ((tp->changes = changes_of(dv, tp->st->name)) != NULL) {
			if (plan_changes_table(db, pl, tp, st, err, errlen) == -1)
				return -1;
			continue;
		}
		*st = APPLY_ERR_DB;
		if (load_local(db, tp, err, errlen) == -1)
			return -1;
		tp->ntotal = tp->nlocal;
		*st = APPLY_ERR_INVALID;
		if (diff_table(pl, tp, err, errlen) == -1)
			return -1;
	}
	pl->jwt_in_file = p->jwk_json != NULL && jwt_store_location(db, &o->keys) == JWT_IN_FILE;
	*st = APPLY_OK;
	return 0;
}

/* The mass-delete valve: users and passkeys. */
static int check_valve(const struct plan *pl, const struct apply_opts *o, char *err, size_t errlen)
{
	for (size_t i = 0; i < pl->ntables; i++) {
		const struct table_plan *tp = &pl->t[i];
		if (apply_valve(tp->st->name, tp->ndel, tp->ntotal, o, err, errlen) == -1)
			return -1;
	}
	return 0;
}

/* ---- writing ---- */

/* Binds the key of local row lrow from parameter first on. */
static int bind_local_key(sqlite3_stmt *st, int first, const struct table_plan *tp, size_t lrow)
{
	struct pl_value key[PAYLOAD_MAX_COLUMNS];

	apply_sql_key_of(tp->st, &tp->local[lrow * tp->st->ncols], key);
	return apply_sql_bind_key(st, first, tp->st, key);
}

static bool unique_changes(const struct table_plan *tp, const struct schema_unique *u, size_t prow, size_t lrow)
{
	for (size_t c = 0; c < u->ncols; c++) {
		size_t col = u->col[c];
		if (!pl_value_equal(pl_cell(tp->pt, prow, tp->map[col]), &tp->local[lrow * tp->st->ncols + col]))
			return true;
	}
	return false;
}

/* Moves one row's UNIQUE column out of the way with a value no real row can
 * hold, so values can move between rows inside one payload. */
static int release_one(sqlite3 *db, const struct table_plan *tp, const struct schema_unique *u, size_t lrow)
{
	struct pl_value key[PAYLOAD_MAX_COLUMNS];

	apply_sql_key_of(tp->st, &tp->local[lrow * tp->st->ncols], key);
	return apply_sql_release(db, tp->st, u, key);
}

static int release_uniques(sqlite3 *db, const struct table_plan *tp)
{
	int rc = SQLITE_OK;

	for (size_t u = 0; u < tp->st->nunique && rc == SQLITE_OK; u++) {
		const struct schema_unique *un = &tp->st->unique[u];
		for (size_t i = 0; i < tp->nupd && rc == SQLITE_OK; i++) {
			if (unique_changes(tp, un, tp->upd[i].prow, tp->upd[i].local))
				rc = release_one(db, tp, un, tp->upd[i].local);
		}
		for (size_t i = 0; i < tp->ndel && rc == SQLITE_OK; i++)
			rc = release_one(db, tp, un, tp->del[i]);
	}
	return rc;
}

static int insert_rows(sqlite3 *db, const struct table_plan *tp)
{
	const struct schema_table *t = tp->st;
	char *sql;
	sqlite3_stmt *st;
	int rc = SQLITE_OK;

	if (tp->nins == 0)
		return SQLITE_OK;
	if ((sql = apply_sql_insert(t)) == NULL)
		return SQLITE_NOMEM;
	rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
	sqlite3_free(sql);
	for (size_t i = 0; rc == SQLITE_OK && i < tp->nins; i++) {
		for (size_t c = 0; c < t->ncols; c++)
			pl_value_bind(st, (int)c + 1, pl_cell(tp->pt, tp->ins[i], tp->map[c]));
		rc = apply_sql_run(st);
	}
	sqlite3_finalize(st);
	return rc;
}

/* Updates only the changed, shared columns of one row, in place (a changed
 * bookkeeping column too: the row changes for real, see row_differs). */
static int update_row(sqlite3 *db, const struct table_plan *tp, const struct update *u)
{
	const struct schema_table *t = tp->st;
	size_t changed[PAYLOAD_MAX_COLUMNS], n = 0;
	bool cimd = both_cimd(tp, u->prow, u->local);
	sqlite3_stmt *st;
	char *sql;
	int rc;

	for (size_t c = 0; c < t->ncols; c++) {
		if (cell_changes(tp, u->prow, u->local, c, cimd))
			changed[n++] = c;
	}
	if ((sql = apply_sql_update(t, changed, n)) == NULL)
		return SQLITE_NOMEM;
	rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
	sqlite3_free(sql);
	if (rc != SQLITE_OK)
		return rc;
	for (size_t i = 0; i < n; i++)
		pl_value_bind(st, (int)i + 1, pl_cell(tp->pt, u->prow, tp->map[changed[i]]));
	rc = bind_local_key(st, (int)n + 1, tp, u->local) == -1 ? SQLITE_ERROR : apply_sql_run(st);
	sqlite3_finalize(st);
	return rc;
}

static int delete_rows(sqlite3 *db, const struct table_plan *tp)
{
	char *sql;
	sqlite3_stmt *st;
	int rc;

	if (tp->ndel == 0)
		return SQLITE_OK;
	if ((sql = apply_sql_delete(tp->st)) == NULL)
		return SQLITE_NOMEM;
	rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
	sqlite3_free(sql);
	for (size_t i = 0; rc == SQLITE_OK && i < tp->ndel; i++) {
		if (bind_local_key(st, 1, tp, tp->del[i]) == -1)
			rc = SQLITE_ERROR;
		else
			rc = apply_sql_run(st);
	}
	sqlite3_finalize(st);
	return rc;
}

/* Release unique values, write parents first, delete children first. */
static int write_plan(sqlite3 *db, const struct plan *pl)
{
	int rc = SQLITE_OK;

	for (size_t i = 0; rc == SQLITE_OK && i < pl->ntables; i++)
		rc = release_uniques(db, &pl->t[i]);
	for (size_t i = 0; rc == SQLITE_OK && i < pl->ntables; i++) {
		rc = insert_rows(db, &pl->t[i]);
		for (size_t u = 0; rc == SQLITE_OK && u < pl->t[i].nupd; u++)
			rc = update_row(db, &pl->t[i], &pl->t[i].upd[u]);
	}
	for (size_t i = pl->ntables; rc == SQLITE_OK && i > 0; i--)
		rc = delete_rows(db, &pl->t[i - 1]);
	return rc;
}

static size_t plan_changes(const struct plan *pl)
{
	size_t n = 0;

	for (size_t i = 0; i < pl->ntables; i++)
		n += pl->t[i].nins + pl->t[i].nupd + pl->t[i].ndel;
	return n;
}

/* Whether the plan touches rows Pocket ID caches (st->cached_prefix). */
static bool touches_cached_rows(const struct table_plan *tp)
{
	const struct schema_table *t = tp->st;
	size_t c = (size_t)t->cached_col;

	if (t->cached_col < 0)
		return false;
	for (size_t i = 0; i < tp->nins; i++) {
		if (apply_has_prefix(pl_cell(tp->pt, tp->ins[i], tp->map[c]), t->cached_prefix))
			return true;
	}
	for (size_t i = 0; i < tp->nupd; i++) {
		if (apply_has_prefix(&tp->local[tp->upd[i].local * t->ncols + c], t->cached_prefix))
			return true;
	}
	for (size_t i = 0; i < tp->ndel; i++) {
		if (apply_has_prefix(&tp->local[tp->del[i] * t->ncols + c], t->cached_prefix))
			return true;
	}
	return false;
}

/* Why the plan needs a Pocket ID restart, or NULL. */
static const char *restart_reason(const struct table_plan *tp, const struct apply_opts *o)
{
	return apply_restart_reason(tp->st, o, tp->nins + tp->nupd + tp->ndel, touches_cached_rows(tp));
}

static void fill_result(const struct plan *pl, const struct apply_opts *o, struct apply_result *r)
{
	r->ntables = 0;
	r->restart_needed = false;
	r->restart_why = NULL;
	for (size_t i = 0; i < pl->ntables && r->ntables < APPLY_MAX_TABLES; i++) {
		const struct table_plan *tp = &pl->t[i];
		struct apply_counts *c = &r->tables[r->ntables++];
		const char *why = restart_reason(tp, o);
		snprintf(c->table, sizeof(c->table), "%s", tp->st->name);
		c->inserted = tp->nins;
		c->updated = tp->nupd;
		c->deleted = tp->ndel;
		if (why != NULL && r->restart_why == NULL)
			r->restart_why = why;
	}
	r->restart_needed = r->restart_why != NULL;
	apply_note_unknown(r, &pl->schema);
}

/* ---- the transaction ---- */

struct delta_check {
	const struct delta_view *dv;
	const struct apply2_in *in;
	struct lthash sum; /* the result's, once verified */
};

static int verify_delta(sqlite3 *db, const struct plan *pl, struct delta_check *dc, char *err,
			size_t errlen);

/* A delta's result against its rows hash, inside the transaction. */
static enum apply_status check_result(sqlite3 *db, const struct plan *pl, struct delta_check *dc,
				      bool *retry, char *err, size_t errlen)
{
	int rc = dc != NULL ? verify_delta(db, pl, dc, err, errlen) : 0;

	if (rc == 0)
		return APPLY_OK;
	if (rc == 1)
		return APPLY_ERR_VERIFY;
	return apply_sql_failure(db, sqlite3_errcode(db), retry, err, errlen);
}

static enum apply_status attempt(sqlite3 *db, const struct payload *p, const struct apply_opts *o,
				 struct delta_check *dc, bool immediate, struct apply_result *r,
				 bool *retry, char *err, size_t errlen)
{
	struct plan pl = {0};
	enum apply_status st;
	bool kv_changed = false;
	double t0;
	int rc;

	*retry = false;
	rc = sqlite3_exec(db, immediate ? "BEGIN IMMEDIATE" : "BEGIN DEFERRED", NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		return apply_sql_failure(db, rc, retry, err, errlen);
	sqlite3_exec(db, "PRAGMA defer_foreign_keys = ON", NULL, NULL, NULL);
	if (make_plan(db, p, o, dc != NULL ? dc->dv : NULL, &pl, &st, err, errlen) == -1) {
		if (st == APPLY_ERR_DB && apply_sql_is_busy(sqlite3_errcode(db)))
			st = apply_sql_failure(db, sqlite3_errcode(db), retry, err, errlen);
		goto out;
	}
	fill_result(&pl, o, r); /* also on a valve refusal: a dry run shows the counts */
	/* The key is compared before the valve, so that a dry run the valve
	 * refuses reports it as --dry-run --force does. */
	st = APPLY_ERR_KEY;
	if (apply_jwt_compare(db, o, p->jwk_json, pl.jwt_in_file, r, &kv_changed, err, errlen) == -1)
		goto out;
	st = APPLY_ERR_VALVE;
	if (check_valve(&pl, o, err, errlen) == -1)
		goto out;
	st = APPLY_OK;
	if (o->dry_run)
		goto out;
	if (plan_changes(&pl) == 0 && !r->jwt_changed) {
		st = check_result(db, &pl, dc, retry, err, errlen);
		goto out; /* nothing to write: the read transaction just ends */
	}
	if (apply_restart_hook(o, r, err, errlen) == -1) {
		st = APPLY_ERR_DB;
		goto out;
	}
	if (plan_changes(&pl) == 0 && !kv_changed) {
		st = check_result(db, &pl, dc, retry, err, errlen);
		goto out; /* only the key file changes, after this transaction */
	}
	t0 = apply_now_ms();
	rc = write_plan(db, &pl);
	if (rc == SQLITE_OK && kv_changed && apply_jwt_write_kv(db, o, p->jwk_json, err, errlen) == -1) {
		st = APPLY_ERR_KEY;
		goto out;
	}
	if (rc == SQLITE_OK && (st = check_result(db, &pl, dc, retry, err, errlen)) != APPLY_OK)
		goto out;
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
	if (rc != SQLITE_OK) {
		st = apply_sql_failure(db, rc, retry, err, errlen);
		goto out;
	}
	r->lock_ms = apply_now_ms() - t0;
	r->wrote = true;
out:
	if (!sqlite3_get_autocommit(db))
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	plan_free(&pl);
	return st;
}

enum apply_status apply_payload(sqlite3 *db, const struct payload *p, const struct apply_opts *o,
				struct apply_result *r, char *err, size_t errlen)
{
	int max = o->max_attempts > 0 ? o->max_attempts : 4;
	enum apply_status st = APPLY_ERR_BUSY;
	bool retry = true;

	memset(r, 0, sizeof(*r));
	for (int i = 1; i <= max && retry; i++) {
		r->attempts = i;
		st = attempt(db, p, o, NULL, i == max, r, &retry, err, errlen);
	}
	if (st == APPLY_OK && apply_jwt_after_commit(db, o, p->jwk_json, r, err, errlen) == -1)
		return APPLY_ERR_KEY;
	return st;
}

const char *apply_status_reason(enum apply_status st)
{
	switch (st) {
	case APPLY_OK: return "ok";
	case APPLY_ERR_SCHEMA: return "schema_mismatch";
	case APPLY_ERR_VALVE: return "valve";
	case APPLY_ERR_BUSY: return "busy";
	case APPLY_ERR_INVALID: return "invalid";
	default: return "internal";
	}
}

size_t apply_total_changes(const struct apply_result *r)
{
	size_t n = r->jwt_changed ? 1 : 0;

	for (size_t i = 0; i < r->ntables; i++)
		n += r->tables[i].inserted + r->tables[i].updated + r->tables[i].deleted;
	return n;
}

/* ---- format 2 deltas ---- */

/* The schema's key columns, in order, must be the record's: the key cells
 * of deleted are then in schema key order. */
static int check_key(const struct table_plan *tp, char *err, size_t errlen)
{
	const struct doc2_table *dt = tp->changes;
	bool same = dt->nkey == tp->st->nkey;

	for (size_t k = 0; same && k < dt->nkey; k++)
		same = strcmp(dt->key[k], tp->st->cols[tp->st->key[k]]) == 0;
	if (!same)
		return errf(err, errlen, "table %s: the delta's key columns are not this database's key",
			    tp->st->name);
	return 0;
}

/* Appends the local row whose key is key (nkey values in key order) to
 * tp->local, when there is one. */
static int load_one(sqlite3_stmt *q, struct table_plan *tp, const struct pl_value *key, size_t *cap)
{
	size_t nc = tp->st->ncols;
	int rc;

	for (size_t k = 0; k < tp->st->nkey; k++)
		pl_value_bind(q, (int)k + 1, &key[k]);
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW) {
		if (tp->nlocal == *cap) {
			size_t ncap = *cap == 0 ? 16 : *cap * 2;
			struct pl_value *n = realloc(tp->local, ncap * nc * sizeof(*n));
			if (n == NULL) {
				sqlite3_reset(q);
				return SQLITE_NOMEM;
			}
			tp->local = n;
			*cap = ncap;
		}
		for (size_t c = 0; c < nc; c++) {
			if (pl_value_from_sqlite(&tp->local[tp->nlocal * nc + c], q, (int)c, &tp->arena) == -1) {
				sqlite3_reset(q);
				return SQLITE_NOMEM;
			}
		}
		tp->nlocal++;
		rc = SQLITE_DONE;
	}
	sqlite3_reset(q);
	sqlite3_clear_bindings(q);
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* The key of payload row r in key order. */
static void row_key(const struct table_plan *tp, size_t r, struct pl_value *key)
{
	for (size_t k = 0; k < tp->st->nkey; k++)
		key[k] = *pl_cell(tp->pt, r, tp->map[tp->st->key[k]]);
}

/* The local rows the changes record names: its rows' keys and its deleted keys. */
static int load_named(sqlite3 *db, struct table_plan *tp, char *err, size_t errlen)
{
	char *sql = export_select_by_key_sql(tp->st);
	struct pl_value key[PAYLOAD_MAX_COLUMNS];
	const struct doc2_table *dt = tp->changes;
	sqlite3_stmt *q;
	size_t cap = 0;
	int rc = SQLITE_OK;

	if (sql == NULL || sqlite3_prepare_v2(db, sql, -1, &q, NULL) != SQLITE_OK) {
		sqlite3_free(sql);
		return errf(err, errlen, "cannot read %s: %s", tp->st->name, sqlite3_errmsg(db));
	}
	sqlite3_free(sql);
	for (size_t r = 0; r < tp->pt->nrows && rc == SQLITE_OK; r++) {
		row_key(tp, r, key);
		rc = load_one(q, tp, key, &cap);
	}
	for (size_t d = 0; d < dt->ndeleted && rc == SQLITE_OK; d++)
		rc = load_one(q, tp, &dt->deleted[d * dt->nkey], &cap);
	sqlite3_finalize(q);
	if (rc != SQLITE_OK)
		return errf(err, errlen, "cannot read %s: %s", tp->st->name,
			    rc == SQLITE_NOMEM ? "out of memory" : sqlite3_errmsg(db));
	return 0;
}

/* Local row (of the named ones) whose key is key, or -1. */
static long find_key(const struct table_plan *tp, const struct pl_value *key)
{
	for (size_t l = 0; l < tp->nlocal; l++) {
		const struct pl_value *row = &tp->local[l * tp->st->ncols];
		bool same = true;
		for (size_t k = 0; k < tp->st->nkey && same; k++)
			same = pl_value_equal(&key[k], &row[tp->st->key[k]]);
		if (same)
			return (long)l;
	}
	return -1;
}

/* A changes record: upserts of its rows, deletes of its keys, against the
 * named local rows only. The named rows are few, so a linear search serves
 * for small deltas; a keymap for large ones (rows and deleted keys alike). */
static int plan_changes_table(sqlite3 *db, struct plan *pl, struct table_plan *tp,
			      enum apply_status *st, char *err, size_t errlen)
{
	const struct doc2_table *dt = tp->changes;
	struct keymap m = {0};
	struct pl_value key[PAYLOAD_MAX_COLUMNS];
	bool use_map;

	(void)pl;
	*st = APPLY_ERR_SCHEMA;
	if (check_key(tp, err, errlen) == -1)
		return -1;
	*st = APPLY_ERR_DB;
	if (load_named(db, tp, err, errlen) == -1)
		return -1;
	tp->ins = malloc((tp->pt->nrows + 1) * sizeof(size_t));
	tp->upd = malloc((tp->pt->nrows + 1) * sizeof(struct update));
	tp->del = malloc((dt->ndeleted + 1) * sizeof(size_t));
	use_map = tp->nlocal > 64;
	if (tp->ins == NULL || tp->upd == NULL || tp->del == NULL ||
	    (use_map && keymap_build(&m, tp) == -1)) {
		keymap_free(&m);
		return errf(err, errlen, "out of memory");
	}
	for (size_t r = 0; r < tp->pt->nrows; r++) {
		long l;
		row_key(tp, r, key);
		l = use_map ? keymap_find(&m, tp, r) : find_key(tp, key);
		if (l < 0)
			tp->ins[tp->nins++] = r;
		else if (row_differs(tp, r, (size_t)l))
			tp->upd[tp->nupd++] = (struct update){r, (size_t)l};
	}
	for (size_t d = 0; d < dt->ndeleted; d++) {
		const struct pl_value *dk = &dt->deleted[d * dt->nkey];
		long l = use_map ? keymap_find_key(&m, tp, dk) : find_key(tp, dk);
		if (l >= 0)
			tp->del[tp->ndel++] = (size_t)l;
	}
	keymap_free(&m);
	tp->ntotal = tp->nlocal;
	if (tp->ndel > 0 && (strcmp(tp->st->name, "users") == 0 ||
			     strcmp(tp->st->name, "webauthn_credentials") == 0)) {
		uint64_t total;
		if (export_count_rows(db, tp->st, &total) == -1)
			return errf(err, errlen, "cannot count %s: %s", tp->st->name, sqlite3_errmsg(db));
		tp->ntotal = (size_t)total;
	}
	*st = APPLY_OK;
	return 0;
}

static bool kept_row(const struct schema_table *t, const struct pl_value *row,
		     const struct rowhash_skip *kept)
{
	int col = t->cimd_type_col >= 0 ? (int)t->key[0] : t->cimd_client_col;

	for (size_t i = 0; kept != NULL && col >= 0 && i < kept->n; i++) {
		if (pl_value_equal(&row[col], &kept->ids[i]))
			return true;
	}
	return false;
}

/* Adds the rows the named keys hold now (after the writes) to sum. */
static int add_named(sqlite3 *db, struct rowhash_ctx *rc_, const struct table_plan *tp,
		     const struct rowhash_skip *kept, struct lthash *sum, char *err, size_t errlen)
{
	const struct doc2_table *dt = tp->changes;
	char *sql = export_select_by_key_sql(tp->st);
	struct pl_value key[PAYLOAD_MAX_COLUMNS], row[PAYLOAD_MAX_COLUMNS];
	sqlite3_stmt *q;
	uint8_t d[32];
	int rc = SQLITE_DONE;

	if (sql == NULL || sqlite3_prepare_v2(db, sql, -1, &q, NULL) != SQLITE_OK) {
		sqlite3_free(sql);
		return errf(err, errlen, "cannot read %s: %s", tp->st->name, sqlite3_errmsg(db));
	}
	sqlite3_free(sql);
	for (size_t i = 0; i < tp->pt->nrows + dt->ndeleted && rc == SQLITE_DONE; i++) {
		const struct pl_value *k = key;
		if (i < tp->pt->nrows)
			row_key(tp, i, key);
		else
			k = &dt->deleted[(i - tp->pt->nrows) * dt->nkey];
		for (size_t c = 0; c < tp->st->nkey; c++)
			pl_value_bind(q, (int)c + 1, &k[c]);
		rc = sqlite3_step(q);
		if (rc == SQLITE_ROW) {
			bool skip = false;
			if (kept != NULL && kept->n > 0) {
				for (size_t c = 0; c < tp->st->ncols; c++) {
					row[c].type = PL_NULL;
					if (c == tp->st->key[0] || (int)c == tp->st->cimd_client_col)
						pl_value_from_sqlite(&row[c], q, (int)c, NULL);
				}
				skip = kept_row(tp->st, row, kept);
				for (size_t c = 0; c < tp->st->ncols; c++)
					pl_value_clear(&row[c]);
			}
			if (!skip && rowhash_stmt(rc_, tp->st, q, d) == 0)
				lthash_add(rc_, sum, d);
			rc = SQLITE_DONE;
		}
		sqlite3_reset(q);
		sqlite3_clear_bindings(q);
	}
	sqlite3_finalize(q);
	if (rc != SQLITE_DONE)
		return errf(err, errlen, "cannot read %s: %s", tp->st->name, sqlite3_errmsg(db));
	return 0;
}

/* The result's sum from the verified base: each named row's old digest
 * out, its new one in (whole tables: all of them), then the digest against
 * the document's rows hash. Returns 0, 1 on a mismatch, -1 on a read error. */
static int verify_delta(sqlite3 *db, const struct plan *pl, struct delta_check *dc, char *err,
			size_t errlen)
{
	struct rowhash_ctx *c = rowhash_ctx_new();
	const struct rowhash_skip *kept = dc->in->kept;
	uint8_t d[32];
	int rc = 0;

	if (c == NULL)
		return errf(err, errlen, "out of memory");
	dc->sum = *dc->in->verified_sum;
	for (size_t i = 0; i < pl->ntables && rc == 0; i++) {
		const struct table_plan *tp = &pl->t[i];
		if (!rowhash_counts_table(tp->st))
			continue;
		for (size_t l = 0; l < tp->nlocal; l++) {
			const struct pl_value *row = &tp->local[l * tp->st->ncols];
			if (!kept_row(tp->st, row, kept) && rowhash_row(c, tp->st, row, d) == 0)
				lthash_sub(c, &dc->sum, d);
		}
		rc = tp->changes != NULL ? add_named(db, c, tp, kept, &dc->sum, err, errlen)
					 : rowhash_scan_table(c, db, tp->st, kept, &dc->sum, err, errlen);
	}
	rowhash_ctx_free(c);
	if (rc != 0)
		return -1;
	lthash_digest(&dc->sum, d);
	if (CRYPTO_memcmp(d, dc->in->h->rows_hash, 32) != 0) {
		errf(err, errlen, "the result's rows hash differs from the primary's; nothing was changed");
		return 1;
	}
	return 0;
}

/* Every table record of the delta, read up front (a delta is small). */
static int read_records(const struct apply2_in *in, struct doc2_table **recs, size_t *n, char *err,
			size_t errlen)
{
	struct doc2_reader rd;
	struct doc2_header h;
	struct doc2_table t;
	size_t cap = 0;
	int rc;

	*recs = NULL;
	*n = 0;
	doc2_reader_init(&rd, in->pt, in->pt_len);
	if (doc2_read_header(&rd, &h, err, errlen) == -1) {
		doc2_reader_free(&rd);
		return -1;
	}
	doc2_header_free(&h);
	while ((rc = doc2_read_table(&rd, &t, err, errlen)) == 1) {
		if (*n == cap) {
			size_t ncap = cap == 0 ? 8 : cap * 2;
			struct doc2_table *nr = realloc(*recs, ncap * sizeof(*nr));
			if (nr == NULL) {
				doc2_table_free(&t);
				rc = errf(err, errlen, "out of memory");
				break;
			}
			*recs = nr;
			cap = ncap;
		}
		(*recs)[(*n)++] = t;
	}
	doc2_reader_free(&rd);
	if (rc == -1) { /* the records read before the error hold rows: wipe them */
		for (size_t i = 0; i < *n; i++)
			doc2_table_free(&(*recs)[i]);
		free(*recs);
		*recs = NULL;
		*n = 0;
	}
	return rc;
}

enum apply_status apply_delta2(sqlite3 *db, const struct apply2_in *in, const struct apply_opts *o,
			       struct apply_result *r, struct apply2_out *out, char *err,
			       size_t errlen)
{
	struct doc2_table *recs;
	struct delta_view dv;
	struct delta_check dc;
	struct payload view = {0};
	enum apply_status st = APPLY_ERR_INVALID;
	int max = o->max_attempts > 0 ? o->max_attempts : 4;
	bool retry = true;
	size_t n;

	memset(r, 0, sizeof(*r));
	if (in->verified_sum == NULL) {
		errf(err, errlen, "delta refused: this node holds no verified content to apply it to");
		return APPLY_ERR_BASE;
	}
	if (read_records(in, &recs, &n, err, errlen) == -1)
		return APPLY_ERR_INVALID;
	view.tables = calloc(n + 1, sizeof(struct pl_table));
	if (view.tables == NULL) {
		errf(err, errlen, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		if (strcmp(recs[i].t.name, APPCONFIG_TABLE) == 0 && !out->has_app_config) {
			/* for the configuration step after the apply */
			if ((out->app_config.tables = calloc(1, sizeof(struct pl_table))) == NULL) {
				errf(err, errlen, "out of memory");
				goto out;
			}
			out->app_config.tables[0] = recs[i].t;
			out->app_config.ntables = 1;
			memset(&recs[i].t, 0, sizeof(recs[i].t));
			out->has_app_config = true;
			continue;
		}
		view.tables[view.ntables++] = recs[i].t; /* borrowed: never freed through view */
	}
	view.format = DOC2_FORMAT;
	view.schema_version = in->h->schema_version;
	view.jwk_json = in->h->has_jwt ? in->h->jwk_json : NULL;
	dv = (struct delta_view){recs, n};
	dc = (struct delta_check){.dv = &dv, .in = in};
	for (int i = 1; i <= max && retry; i++) {
		r->attempts = i;
		st = attempt(db, &view, o, &dc, i == max, r, &retry, err, errlen);
	}
	if (st == APPLY_OK) {
		out->sum = dc.sum;
		lthash_digest(&out->sum, out->rows_hash);
	}
	if (st == APPLY_OK && r->jwt_changed && !o->dry_run &&
	    jwt_store_location(db, &o->keys) == JWT_IN_FILE) {
		bool changed;
		if (jwt_store_write_file(db, &o->keys, view.jwk_json, false, &changed, err, errlen) == -1)
			st = APPLY_ERR_KEY;
	}
out:
	free(view.tables);
	for (size_t i = 0; i < n; i++)
		doc2_table_free(&recs[i]);
	free(recs);
	return st;
}
