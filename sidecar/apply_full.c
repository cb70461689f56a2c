/* apply_full: a secondary applies a format-2 full snapshot (proto/SPEC.md
 * sections 5A, 5B) from the opened plaintext in one transaction that
 * commits only when the rows hash of the result is the document's. Memory
 * stays near one decoded record plus, per local row, its key and a 32-byte
 * row digest: the document is read one record at a time, twice at most.
 *
 * Planning (read only, in the attempt's snapshot) reads every record in
 * document order: per table an index of the local rows (key -> digest,
 * from export_select_sql, so node-local rows are never in it) classifies
 * each payload row as insert, update (digest differs: the local row is
 * read by key to list the changed shared columns and the UNIQUE sets to
 * release) or nothing, and remembers which records hold writes. Unseen
 * local rows are deletes, but for the CIMD clients only this node has and
 * their oidc_clients_allowed_* rows. Then, as in apply.c: the JWT key, the
 * valve, the restart hook, and the writes: UNIQUE release, inserts and
 * in-place updates parents first (the records holding writes read again),
 * deletes children first; the rows hash of the result; COMMIT.
 *
 * It does not open seals or check the header (the caller does), nor apply
 * deltas (apply_delta.c). */
#include "apply2.h"
#include "apply_full.h"

#include "appconfig.h"
#include "apply_rules.h"
#include "apply_sql.h"
#include "errbuf.h"
#include "export.h"
#include "schema.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ENT_LOCAL 0x01	/* a local row (else a payload row to insert) */
#define ENT_SEEN 0x02	/* the document has this key */
#define ENT_CIMD 0x04	/* local: a CIMD client (oidc_clients.client_type) */
#define ENT_CACHED 0x08 /* local: a row Pocket ID caches (schema_table.cached_col) */
#define ENT_UPDATE 0x10 /* local, seen, changed: upd names the columns */
#define ENT_DELETE 0x20 /* local, unseen, not kept */

_Static_assert(SCHEMA_MAX_UNIQUE <= 16, "one release bit per UNIQUE set");

struct entry {
	uint64_t hash;
	uint8_t digest[32]; /* local rows: rowhash_stmt */
	uint32_t upd;	    /* ENT_UPDATE: index into tplan.upd */
	uint8_t flags;
};

struct update {
	uint64_t cols[PAYLOAD_MAX_COLUMNS / 64]; /* the columns to write */
	uint16_t release; /* bit u: move schema_table.unique[u] out of the way first */
};

/* One durable table: its index, its planned changes and its records. */
struct tplan {
	const struct schema_table *st;
	bool present; /* the document carries it (and it is not left to the API) */
	size_t map[PAYLOAD_MAX_COLUMNS]; /* schema column -> document column */
	/* The index: nval values per entry (the key, then oidc_client_id when a
	 * CIMD child table's key lacks it), their bytes in arena. */
	size_t nval;
	struct entry *ent;
	struct pl_value *vals;
	size_t nent, capent;
	struct pl_arena *arena;
	uint32_t *slot; /* entry + 1; 0 = empty */
	size_t nslot;
	struct update *upd;
	size_t nupd, capupd;
	sqlite3_stmt *sel; /* a local row by key (planning only) */
	/* Offsets of the table's records in the plaintext, and which hold writes. */
	size_t *rec;
	bool *rec_writes;
	size_t nrec, caprec;
	size_t nlocal, nins, ndel;
	bool touches_cached;
};

struct fplan {
	struct schema schema;
	struct tplan *t; /* schema.ntables, schema order: parents first */
	struct rowhash_ctx *hc;
	bool jwt_in_file;
};

/* One attempt's context. */
struct ctx {
	sqlite3 *db;
	const struct apply2_in *in;
	const struct apply_opts *o;
	struct apply_result *r;
	struct apply2_out *out;
	struct apply_full_stats *stats;
	size_t live_cells, live_entries;
	struct fplan pl;
	enum apply_status st;
	bool *retry;
	char *err;
	size_t errlen;
};

static int oom(struct ctx *c)
{
	c->st = APPLY_ERR_DB;
	return errf(c->err, c->errlen, "out of memory");
}

/* A read failed: err names it; a busy database is retried like apply.c. */
static int read_failed(struct ctx *c, const char *table)
{
	int rc = sqlite3_errcode(c->db);

	c->st = APPLY_ERR_DB;
	errf(c->err, c->errlen, "cannot read %s: %s", table, sqlite3_errmsg(c->db));
	if (apply_sql_is_busy(rc))
		c->st = apply_sql_failure(c->db, rc, c->retry, c->err, c->errlen);
	return -1;
}

static int write_failed(struct ctx *c, int rc)
{
	c->st = apply_sql_failure(c->db, rc, c->retry, c->err, c->errlen);
	return -1;
}

/* ---- values and records ---- */

/* *dst = src with its own copy of the bytes (from *a, or malloc when a is NULL). */
static int value_copy(struct pl_value *dst, const struct pl_value *src, struct pl_arena **a)
{
	*dst = *src;
	if (src->type != PL_TEXT && src->type != PL_BLOB)
		return 0;
	dst->u.bytes = a != NULL ? pl_arena_alloc(a, src->len + 1) : malloc(src->len + 1);
	if (dst->u.bytes == NULL) {
		memset(dst, 0, sizeof(*dst));
		return -1;
	}
	if (src->len > 0)
		memcpy(dst->u.bytes, src->u.bytes, src->len);
	dst->u.bytes[src->len] = '\0';
	return 0;
}

static bool column_is(sqlite3_stmt *st, int col, const char *prefix, bool whole)
{
	int t = sqlite3_column_type(st, col);
	const void *p = t == SQLITE_BLOB ? sqlite3_column_blob(st, col) : sqlite3_column_text(st, col);
	size_t n = strlen(prefix), len;

	if ((t != SQLITE_TEXT && (whole || t != SQLITE_BLOB)) || p == NULL)
		return false;
	len = (size_t)sqlite3_column_bytes(st, col);
	return (whole ? len == n : len >= n) && memcmp(p, prefix, n) == 0;
}

/* A record of n cells was decoded; cells_freed when it is freed. */
static size_t cells_decoded(struct ctx *c, const struct doc2_table *dt)
{
	size_t n = dt->t.nrows * dt->t.ncols;

	c->live_cells += n;
	c->stats->records++;
	if (c->live_cells > c->stats->peak_cells)
		c->stats->peak_cells = c->live_cells;
	return n;
}

static void cells_freed(struct ctx *c, size_t n)
{
	c->live_cells -= n;
}

/* A reader at the table record starting at off, which the planning pass
 * read and checked: doc2_read_table reads on from r->off once the header
 * is behind it, and its checks across records start afresh. */
static void reader_at(struct doc2_reader *r, const struct apply2_in *in, size_t off)
{
	doc2_reader_init(r, in->pt, in->pt_len);
	r->off = off;
	r->kind = DOC2_FULL;
	r->expected = 1;
}

/* The document row r of dt in schema column order (sharing its bytes). */
static void schema_row(const struct tplan *tp, const struct doc2_table *dt, size_t r,
		       struct pl_value *row)
{
	for (size_t c = 0; c < tp->st->ncols; c++)
		row[c] = *pl_cell(&dt->t, r, tp->map[c]);
}

/* ---- the index ---- */

static uint64_t key_hash(const struct schema_table *t, const struct pl_value *key)
{
	uint64_t h = APPLY_HASH_SEED;

	for (size_t k = 0; k < t->nkey; k++)
		h = apply_hash_value(h, &key[k]);
	return h;
}

static const struct pl_value *ent_vals(const struct tplan *tp, size_t e)
{
	return &tp->vals[e * tp->nval];
}

static long ix_find(const struct tplan *tp, uint64_t h, const struct pl_value *key)
{
	if (tp->nslot == 0)
		return -1;
	for (size_t i = h & (tp->nslot - 1); tp->slot[i] != 0; i = (i + 1) & (tp->nslot - 1)) {
		size_t e = tp->slot[i] - 1;
		const struct pl_value *v = ent_vals(tp, e);
		bool same = tp->ent[e].hash == h;
		for (size_t k = 0; same && k < tp->st->nkey; k++)
			same = pl_value_equal(&v[k], &key[k]);
		if (same)
			return (long)e;
	}
	return -1;
}

static void ix_link(struct tplan *tp, size_t e)
{
	size_t i = tp->ent[e].hash & (tp->nslot - 1);

	while (tp->slot[i] != 0)
		i = (i + 1) & (tp->nslot - 1);
	tp->slot[i] = (uint32_t)(e + 1);
}

/* Room for one more entry: returns its zeroed values (nval of them), not
 * yet findable (ix_add links it), or NULL when out of memory. */
static struct pl_value *ix_new(struct tplan *tp)
{
	if (tp->nent == tp->capent) {
		size_t cap = tp->capent == 0 ? 64 : tp->capent * 2;
		struct entry *e;
		struct pl_value *v;
		if (cap > UINT32_MAX / 2 || (e = realloc(tp->ent, cap * sizeof(*e))) == NULL)
			return NULL;
		tp->ent = e;
		if ((v = realloc(tp->vals, cap * tp->nval * sizeof(*v))) == NULL)
			return NULL;
		tp->vals = v;
		tp->capent = cap;
	}
	if ((tp->nent + 1) * 2 > tp->nslot) {
		size_t n = tp->nslot == 0 ? 128 : tp->nslot * 2;
		uint32_t *s = calloc(n, sizeof(*s));
		if (s == NULL)
			return NULL;
		free(tp->slot);
		tp->slot = s;
		tp->nslot = n;
		for (size_t e = 0; e < tp->nent; e++)
			ix_link(tp, e);
	}
	memset(&tp->ent[tp->nent], 0, sizeof(tp->ent[0]));
	memset(&tp->vals[tp->nent * tp->nval], 0, tp->nval * sizeof(struct pl_value));
	return &tp->vals[tp->nent * tp->nval];
}

/* Makes the entry ix_new prepared findable. */
static size_t ix_add(struct ctx *c, struct tplan *tp, uint8_t flags)
{
	size_t e = tp->nent++;

	tp->ent[e].hash = key_hash(tp->st, ent_vals(tp, e));
	tp->ent[e].flags = flags;
	ix_link(tp, e);
	if (++c->live_entries > c->stats->peak_entries)
		c->stats->peak_entries = c->live_entries;
	return e;
}

/* Where oidc_client_id is among a CIMD child table's entry values: in the
 * key, or the extra value after it. */
static int client_val(const struct schema_table *t)
{
	for (size_t k = 0; k < t->nkey; k++) {
		if ((int)t->key[k] == t->cimd_client_col)
			return (int)k;
	}
	return (int)t->nkey; /* the extra value */
}

static void tplan_free(struct ctx *c, struct tplan *tp)
{
	sqlite3_finalize(tp->sel);
	pl_arena_free(&tp->arena);
	c->live_entries -= tp->nent;
	free(tp->ent);
	free(tp->vals);
	free(tp->slot);
	free(tp->upd);
	free(tp->rec);
	free(tp->rec_writes);
	memset(tp, 0, sizeof(*tp));
}

static void plan_free(struct ctx *c)
{
	for (size_t i = 0; c->pl.t != NULL && i < c->pl.schema.ntables; i++)
		tplan_free(c, &c->pl.t[i]);
	free(c->pl.t);
	rowhash_ctx_free(c->pl.hc);
	schema_free(&c->pl.schema);
	memset(&c->pl, 0, sizeof(c->pl));
}

/* The local rows of tp's table: key, digest, CIMD and cached bits. */
static int build_index(struct ctx *c, struct tplan *tp)
{
	const struct schema_table *t = tp->st;
	char *sql = export_scan_sql(t);
	sqlite3_stmt *st;
	int rc;

	tp->nval = t->nkey + (t->cimd_client_col >= 0 && client_val(t) == (int)t->nkey);
	if (sql == NULL || sqlite3_prepare_v2(c->db, sql, -1, &st, NULL) != SQLITE_OK) {
		sqlite3_free(sql);
		return read_failed(c, t->name);
	}
	sqlite3_free(sql);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct pl_value *v = ix_new(tp);
		bool ok = v != NULL;
		uint8_t flags = ENT_LOCAL;
		for (size_t k = 0; ok && k < t->nkey; k++)
			ok = pl_value_from_sqlite(&v[k], st, (int)t->key[k], &tp->arena) == 0;
		if (ok && tp->nval > t->nkey)
			ok = pl_value_from_sqlite(&v[t->nkey], st, t->cimd_client_col, &tp->arena) == 0;
		if (!ok) {
			sqlite3_finalize(st);
			return oom(c);
		}
		if (rowhash_stmt(c->pl.hc, t, st, tp->ent[tp->nent].digest) == -1) {
			sqlite3_finalize(st);
			c->st = APPLY_ERR_DB;
			return errf(c->err, c->errlen, "cannot hash a row of %s", t->name);
		}
		if (t->cimd_type_col >= 0 && column_is(st, t->cimd_type_col, "cimd", true))
			flags |= ENT_CIMD;
		if (t->cached_col >= 0 && column_is(st, t->cached_col, t->cached_prefix, false))
			flags |= ENT_CACHED;
		ix_add(c, tp, flags);
		tp->nlocal++;
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : read_failed(c, t->name);
}

/* ---- planning ---- */

/* Reads the local row of entry e by key into tp->sel (SQLITE_ROW). */
static int select_local(struct ctx *c, struct tplan *tp, size_t e)
{
	const struct schema_table *t = tp->st;

	if (tp->sel == NULL) {
		char *sql = sqlite3_mprintf("SELECT "), *next;
		for (size_t i = 0; sql != NULL && i < t->ncols; i++) {
			next = sqlite3_mprintf("%s%s\"%w\"", sql, i ? "," : "", t->cols[i]);
			sqlite3_free(sql);
			sql = next;
		}
		next = sql != NULL ? sqlite3_mprintf("%s FROM main.\"%w\"", sql, t->name) : NULL;
		sqlite3_free(sql);
		sql = apply_sql_where_key(next, t);
		if (sql == NULL || sqlite3_prepare_v2(c->db, sql, -1, &tp->sel, NULL) != SQLITE_OK) {
			sqlite3_free(sql);
			return read_failed(c, t->name);
		}
		sqlite3_free(sql);
	}
	sqlite3_reset(tp->sel);
	if (apply_sql_bind_key(tp->sel, 1, t, ent_vals(tp, e)) == -1 ||
	    sqlite3_step(tp->sel) != SQLITE_ROW)
		return read_failed(c, t->name);
	return 0;
}

/* A row whose digest differs: which shared columns change (written along
 * with bookkeeping ones, as apply.c does) and which UNIQUE sets move.
 * Sets ENT_UPDATE unless nothing shared differs. */
static int plan_update(struct ctx *c, struct tplan *tp, size_t e, const struct pl_value *row)
{
	const struct schema_table *t = tp->st;
	struct update u = {{0}, 0};
	bool cimd, any = false;

	if (select_local(c, tp, e) == -1)
		return -1;
	cimd = t->cimd_type_col >= 0 && apply_is_cimd(&row[t->cimd_type_col]) &&
	       (tp->ent[e].flags & ENT_CIMD);
	for (size_t col = 0; col < t->ncols; col++) {
		if (schema_column_shared(t, col, cimd) && !pl_value_equals_column(&row[col], tp->sel, (int)col)) {
			u.cols[col / 64] |= (uint64_t)1 << (col % 64);
			any = true;
		}
	}
	for (size_t k = 0; k < t->nunique; k++) {
		for (size_t i = 0; i < t->unique[k].ncols; i++) {
			int col = (int)t->unique[k].col[i];
			if (!pl_value_equals_column(&row[col], tp->sel, col))
				u.release |= (uint16_t)(1u << k);
		}
	}
	sqlite3_reset(tp->sel);
	if (!any)
		return 0;
	if (tp->nupd == tp->capupd) {
		size_t cap = tp->capupd == 0 ? 16 : tp->capupd * 2;
		struct update *n = realloc(tp->upd, cap * sizeof(*n));
		if (n == NULL)
			return oom(c);
		tp->upd = n;
		tp->capupd = cap;
	}
	tp->ent[e].upd = (uint32_t)tp->nupd;
	tp->ent[e].flags |= ENT_UPDATE;
	tp->upd[tp->nupd++] = u;
	if (tp->ent[e].flags & ENT_CACHED)
		tp->touches_cached = true;
	return 0;
}

/* Classifies one payload row; *writes when it is an insert or an update. */
static int plan_row(struct ctx *c, struct tplan *tp, const struct pl_value *row, bool *writes)
{
	const struct schema_table *t = tp->st;
	struct pl_value key[PAYLOAD_MAX_COLUMNS], *v;
	uint8_t d[32];
	long e;

	apply_sql_key_of(t, row, key);
	e = ix_find(tp, key_hash(t, key), key);
	if (e < 0) {
		bool ok = (v = ix_new(tp)) != NULL;
		for (size_t k = 0; ok && k < t->nkey; k++)
			ok = value_copy(&v[k], &key[k], &tp->arena) == 0;
		if (ok && tp->nval > t->nkey)
			ok = value_copy(&v[t->nkey], &row[t->cimd_client_col], &tp->arena) == 0;
		if (!ok)
			return oom(c);
		ix_add(c, tp, ENT_SEEN);
		tp->nins++;
		*writes = true;
		if (t->cached_col >= 0 && apply_has_prefix(&row[t->cached_col], t->cached_prefix))
			tp->touches_cached = true;
		return 0;
	}
	if (tp->ent[e].flags & ENT_SEEN) {
		c->st = APPLY_ERR_INVALID;
		return errf(c->err, c->errlen, "table %s: the payload has two rows with one key", t->name);
	}
	tp->ent[e].flags |= ENT_SEEN;
	if (rowhash_row(c->pl.hc, t, row, d) == -1) {
		c->st = APPLY_ERR_DB;
		return errf(c->err, c->errlen, "cannot hash a row of %s", t->name);
	}
	if (memcmp(d, tp->ent[e].digest, 32) == 0)
		return 0;
	if (plan_update(c, tp, (size_t)e, row) == -1)
		return -1;
	*writes = *writes || (tp->ent[e].flags & ENT_UPDATE);
	return 0;
}

static int note_record(struct ctx *c, struct tplan *tp, size_t off)
{
	if (tp->nrec == tp->caprec) {
		size_t cap = tp->caprec == 0 ? 8 : tp->caprec * 2;
		size_t *r = realloc(tp->rec, cap * sizeof(*r));
		bool *w = r ? realloc(tp->rec_writes, cap * sizeof(*w)) : NULL;
		if (r != NULL)
			tp->rec = r;
		if (w == NULL)
			return oom(c);
		tp->rec_writes = w;
		tp->caprec = cap;
	}
	tp->rec[tp->nrec] = off;
	tp->rec_writes[tp->nrec++] = false;
	return 0;
}

/* "@app_configuration" rows go to out->app_config (appconfig_step_write),
 * the first record's table moved there, later records' rows appended. */
static int keep_app_config(struct ctx *c, struct doc2_table *dt)
{
	struct payload *p = &c->out->app_config;
	struct pl_table *t;
	struct pl_value *cells;

	if (!c->out->has_app_config) {
		if ((p->tables = calloc(1, sizeof(*p->tables))) == NULL)
			return oom(c);
		p->format = DOC2_FORMAT;
		p->ntables = 1;
		p->tables[0] = dt->t;
		memset(&dt->t, 0, sizeof(dt->t));
		c->out->has_app_config = true;
		return 0;
	}
	t = &p->tables[0];
	cells = realloc(t->cells, ((t->nrows + dt->t.nrows) * t->ncols + 1) * sizeof(*cells));
	if (cells == NULL)
		return oom(c);
	t->cells = cells;
	for (size_t i = 0; i < dt->t.nrows * dt->t.ncols; i++) {
		if (value_copy(&t->cells[t->nrows * t->ncols + i], &dt->t.cells[i], &t->arena) == -1) {
			memset(&t->cells[t->nrows * t->ncols], 0, (i + 1) * sizeof(*cells));
			return oom(c);
		}
	}
	t->nrows += dt->t.nrows;
	return 0;
}

static struct tplan *tplan_of(struct ctx *c, const char *name)
{
	for (size_t i = 0; i < c->pl.schema.ntables; i++) {
		if (strcmp(c->pl.schema.tables[i].name, name) == 0)
			return &c->pl.t[i];
	}
	return NULL;
}

/* One table record of the planning pass, starting at off in the plaintext. */
static int plan_record(struct ctx *c, struct doc2_table *dt, size_t off)
{
	struct pl_value row[PAYLOAD_MAX_COLUMNS];
	const char *name = dt->t.name;
	struct tplan *tp;
	bool writes = false;

	if (name[0] == '@')
		return strcmp(name, APPCONFIG_TABLE) == 0 ? keep_app_config(c, dt) : 0;
	c->st = APPLY_ERR_SCHEMA;
	if (apply_check_table(&c->pl.schema, name, c->err, c->errlen) == -1)
		return -1;
	if (c->o->app_config_via_api && strcmp(name, "app_config_variables") == 0)
		return 0; /* written through Pocket ID's API instead */
	tp = tplan_of(c, name);
	if (!tp->present) { /* the first record of its run */
		tp->present = true;
		if (apply_map_columns(tp->st, &dt->t, tp->map, c->err, c->errlen) == -1)
			return -1;
		if (build_index(c, tp) == -1)
			return -1;
	}
	if (note_record(c, tp, off) == -1)
		return -1;
	for (size_t r = 0; r < dt->t.nrows; r++) {
		schema_row(tp, dt, r, row);
		if (plan_row(c, tp, row, &writes) == -1)
			return -1;
	}
	tp->rec_writes[tp->nrec - 1] = writes;
	return 0;
}

/* The planning pass: every record, in document order. */
static int plan_document(struct ctx *c)
{
	struct doc2_reader rd;
	struct doc2_header h;
	struct doc2_table dt;
	int rc;

	doc2_reader_init(&rd, c->in->pt, c->in->pt_len);
	c->st = APPLY_ERR_INVALID;
	if (doc2_read_header(&rd, &h, c->err, c->errlen) == -1) {
		doc2_reader_free(&rd);
		return -1;
	}
	rc = h.kind == DOC2_FULL ? 0 : errf(c->err, c->errlen, "the document is not a full snapshot");
	doc2_header_free(&h);
	for (;;) {
		size_t off = rd.off;
		if (rc == -1 || (rc = doc2_read_table(&rd, &dt, c->err, c->errlen)) != 1)
			break;
		size_t n = cells_decoded(c, &dt);
		rc = plan_record(c, &dt, off); /* may move the record's table away */
		cells_freed(c, n);
		doc2_table_free(&dt);
		if (rc == -1)
			break;
		c->st = APPLY_ERR_INVALID;
	}
	doc2_reader_free(&rd);
	return rc;
}

/* Local rows absent from the document that stay: a CIMD client only this
 * node has (recorded in out->kept) and the child rows of such a client. */
static int keep_absent(struct ctx *c, const struct tplan *tp, size_t e, bool *keep)
{
	const struct schema_table *t = tp->st;
	const struct pl_value *v = ent_vals(tp, e);
	struct rowhash_skip *kept = &c->out->kept;

	*keep = false;
	if (t->cimd_type_col >= 0 && (tp->ent[e].flags & ENT_CIMD)) {
		struct pl_value *ids = realloc(kept->ids, (kept->n + 1) * sizeof(*ids));
		if (ids == NULL)
			return oom(c);
		kept->ids = ids;
		if (value_copy(&kept->ids[kept->n], &v[0], NULL) == -1) /* key[0]: oidc_clients.id */
			return oom(c);
		kept->n++;
		*keep = true;
		return 0;
	}
	for (size_t i = 0; t->cimd_client_col >= 0 && i < kept->n && !*keep; i++)
		*keep = pl_value_equal(&v[client_val(t)], &kept->ids[i]);
	return 0;
}

/* After the planning pass, in schema order: deletes, counts, restart reasons. */
static int finish_plan(struct ctx *c)
{
	struct apply_result *r = c->r;

	for (size_t i = 0; i < c->pl.schema.ntables; i++) {
		struct tplan *tp = &c->pl.t[i];
		struct apply_counts *n;
		const char *why;
		if (!tp->present)
			continue;
		if (tp->st->cimd_type_col >= 0)
			rowhash_skip_free(&c->out->kept);
		for (size_t e = 0; e < tp->nent; e++) {
			bool keep;
			if ((tp->ent[e].flags & (ENT_LOCAL | ENT_SEEN)) != ENT_LOCAL)
				continue;
			if (keep_absent(c, tp, e, &keep) == -1)
				return -1;
			if (keep)
				continue;
			tp->ent[e].flags |= ENT_DELETE;
			tp->ndel++;
			if (tp->ent[e].flags & ENT_CACHED)
				tp->touches_cached = true;
		}
		why = apply_restart_reason(tp->st, c->o, tp->nins + tp->nupd + tp->ndel, tp->touches_cached);
		if (why != NULL && r->restart_why == NULL)
			r->restart_why = why;
		if (r->ntables == APPLY_MAX_TABLES)
			continue;
		n = &r->tables[r->ntables++];
		snprintf(n->table, sizeof(n->table), "%s", tp->st->name);
		n->inserted = tp->nins;
		n->updated = tp->nupd;
		n->deleted = tp->ndel;
	}
	r->restart_needed = r->restart_why != NULL;
	apply_note_unknown(r, &c->pl.schema);
	return 0;
}

static int check_valve(struct ctx *c)
{
	for (size_t i = 0; i < c->pl.schema.ntables; i++) {
		const struct tplan *tp = &c->pl.t[i];
		if (tp->present && apply_valve(tp->st->name, tp->ndel, tp->nlocal, c->o, c->err, c->errlen) == -1) {
			c->st = APPLY_ERR_VALVE;
			return -1;
		}
	}
	return 0;
}

static size_t plan_changes(const struct ctx *c)
{
	size_t n = 0;

	for (size_t i = 0; i < c->pl.schema.ntables; i++)
		n += c->pl.t[i].nins + c->pl.t[i].nupd + c->pl.t[i].ndel;
	return n;
}

/* ---- writing ---- */

/* UNIQUE values of rows to update (the sets that change) and to delete. */
static int release_uniques(struct ctx *c, const struct tplan *tp)
{
	const struct schema_table *t = tp->st;

	for (size_t e = 0; e < tp->nent; e++) {
		uint8_t f = tp->ent[e].flags;
		unsigned bits = (f & ENT_DELETE) ? 0xffffu
				: (f & ENT_UPDATE) ? tp->upd[tp->ent[e].upd].release : 0;
		for (size_t u = 0; bits != 0 && u < t->nunique; u++) {
			int rc;
			if (!(bits & (1u << u)))
				continue;
			if ((rc = apply_sql_release(c->db, t, &t->unique[u], ent_vals(tp, e))) != SQLITE_OK)
				return write_failed(c, rc);
		}
	}
	return 0;
}

/* Updates the planned columns of one row in place (its key unchanged). */
static int update_row(struct ctx *c, const struct tplan *tp, const struct update *u,
		      const struct pl_value *row, const struct pl_value *key)
{
	size_t cols[PAYLOAD_MAX_COLUMNS], n = 0;
	sqlite3_stmt *st;
	char *sql;
	int rc;

	for (size_t col = 0; col < tp->st->ncols; col++) {
		if (u->cols[col / 64] & ((uint64_t)1 << (col % 64)))
			cols[n++] = col;
	}
	if ((sql = apply_sql_update(tp->st, cols, n)) == NULL)
		return write_failed(c, SQLITE_NOMEM);
	rc = sqlite3_prepare_v2(c->db, sql, -1, &st, NULL);
	sqlite3_free(sql);
	if (rc != SQLITE_OK)
		return write_failed(c, rc);
	for (size_t i = 0; i < n; i++)
		pl_value_bind(st, (int)i + 1, &row[cols[i]]);
	rc = apply_sql_bind_key(st, (int)n + 1, tp->st, key) == -1 ? SQLITE_ERROR : apply_sql_run(st);
	sqlite3_finalize(st);
	return rc == SQLITE_OK ? 0 : write_failed(c, rc);
}

/* The inserts and updates of one record, read again from the plaintext. */
static int upsert_record(struct ctx *c, const struct tplan *tp, size_t off, sqlite3_stmt *ins)
{
	const struct schema_table *t = tp->st;
	struct pl_value row[PAYLOAD_MAX_COLUMNS], key[PAYLOAD_MAX_COLUMNS];
	struct doc2_reader rd;
	struct doc2_table dt;
	size_t ncells;
	int rc = 0;

	reader_at(&rd, c->in, off);
	if (doc2_read_table(&rd, &dt, c->err, c->errlen) != 1) {
		doc2_reader_free(&rd);
		c->st = APPLY_ERR_INVALID;
		return -1;
	}
	ncells = cells_decoded(c, &dt);
	for (size_t r = 0; r < dt.t.nrows && rc == 0; r++) {
		long e;
		int wrc;
		schema_row(tp, &dt, r, row);
		apply_sql_key_of(t, row, key);
		e = ix_find(tp, key_hash(t, key), key);
		if (e < 0) { /* cannot happen: the planning pass indexed every key */
			c->st = APPLY_ERR_DB;
			rc = errf(c->err, c->errlen, "table %s: a row was not planned", t->name);
		} else if (!(tp->ent[e].flags & ENT_LOCAL)) {
			for (size_t col = 0; col < t->ncols; col++)
				pl_value_bind(ins, (int)col + 1, &row[col]);
			if ((wrc = apply_sql_run(ins)) != SQLITE_OK)
				rc = write_failed(c, wrc);
		} else if (tp->ent[e].flags & ENT_UPDATE) {
			rc = update_row(c, tp, &tp->upd[tp->ent[e].upd], row, key);
		}
	}
	cells_freed(c, ncells);
	doc2_table_free(&dt);
	doc2_reader_free(&rd);
	return rc;
}

static int upsert_table(struct ctx *c, const struct tplan *tp)
{
	sqlite3_stmt *ins = NULL;
	char *sql;
	int rc = 0;

	if (tp->nins + tp->nupd == 0)
		return 0;
	if ((sql = apply_sql_insert(tp->st)) == NULL)
		return write_failed(c, SQLITE_NOMEM);
	if ((rc = sqlite3_prepare_v2(c->db, sql, -1, &ins, NULL)) != SQLITE_OK) {
		sqlite3_free(sql);
		return write_failed(c, rc);
	}
	sqlite3_free(sql);
	rc = 0;
	for (size_t i = 0; i < tp->nrec && rc == 0; i++) {
		if (tp->rec_writes[i])
			rc = upsert_record(c, tp, tp->rec[i], ins);
	}
	sqlite3_finalize(ins);
	return rc;
}

static int delete_rows(struct ctx *c, const struct tplan *tp)
{
	sqlite3_stmt *st;
	char *sql;
	int rc;

	if (tp->ndel == 0)
		return 0;
	if ((sql = apply_sql_delete(tp->st)) == NULL)
		return write_failed(c, SQLITE_NOMEM);
	rc = sqlite3_prepare_v2(c->db, sql, -1, &st, NULL);
	sqlite3_free(sql);
	for (size_t e = 0; rc == SQLITE_OK && e < tp->nent; e++) {
		if (!(tp->ent[e].flags & ENT_DELETE))
			continue;
		rc = apply_sql_bind_key(st, 1, tp->st, ent_vals(tp, e)) == -1 ? SQLITE_ERROR : apply_sql_run(st);
	}
	sqlite3_finalize(st);
	return rc == SQLITE_OK ? 0 : write_failed(c, rc);
}

/* Release unique values, write parents first, delete children first (so
 * cascades behave as in apply.c). */
static int write_plan(struct ctx *c)
{
	size_t n = c->pl.schema.ntables;

	for (size_t i = 0; i < n; i++) {
		if (c->pl.t[i].present && release_uniques(c, &c->pl.t[i]) == -1)
			return -1;
	}
	for (size_t i = 0; i < n; i++) {
		if (c->pl.t[i].present && upsert_table(c, &c->pl.t[i]) == -1)
			return -1;
	}
	for (size_t i = n; i > 0; i--) {
		if (c->pl.t[i - 1].present && delete_rows(c, &c->pl.t[i - 1]) == -1)
			return -1;
	}
	return 0;
}

/* The rows hash of the result, inside the transaction, must be the
 * document's; out->rows_hash is then the verified hash and out->sum its
 * sum (the base of the next delta). */
static int verify(struct ctx *c)
{
	uint8_t got[32];

	if (rowhash_scan_sum(c->db, &c->pl.schema, &c->out->kept, &c->out->sum, c->err, c->errlen) == -1) {
		c->st = APPLY_ERR_DB;
		if (apply_sql_is_busy(sqlite3_errcode(c->db)))
			c->st = apply_sql_failure(c->db, sqlite3_errcode(c->db), c->retry, c->err, c->errlen);
		return -1;
	}
	lthash_digest(&c->out->sum, got);
	if (CRYPTO_memcmp(got, c->in->h->rows_hash, 32) != 0) {
		c->st = APPLY_ERR_VERIFY;
		return errf(c->err, c->errlen, "the result's rows hash differs from the primary's; "
					       "nothing was changed");
	}
	memcpy(c->out->rows_hash, got, 32);
	return 0;
}

/* ---- the transaction ---- */

static void reset_outputs(struct ctx *c)
{
	int attempts = c->r->attempts;

	apply2_out_free(c->out);
	memset(c->r, 0, sizeof(*c->r));
	c->r->attempts = attempts;
}

/* Schema, version, planning pass, counts. */
static int make_plan(struct ctx *c)
{
	c->st = APPLY_ERR_DB;
	if (schema_load(c->db, &c->pl.schema, c->err, c->errlen) == -1)
		return -1;
	c->st = APPLY_ERR_SCHEMA;
	if (apply_check_version(&c->pl.schema, c->in->h->schema_version, c->err, c->errlen) == -1)
		return -1;
	c->pl.t = calloc(c->pl.schema.ntables + 1, sizeof(*c->pl.t));
	c->pl.hc = rowhash_ctx_new();
	if (c->pl.t == NULL || c->pl.hc == NULL)
		return oom(c);
	for (size_t i = 0; i < c->pl.schema.ntables; i++)
		c->pl.t[i].st = &c->pl.schema.tables[i];
	if (plan_document(c) == -1 || finish_plan(c) == -1)
		return -1;
	for (size_t i = 0; i < c->pl.schema.ntables; i++) { /* planning reads are over */
		sqlite3_finalize(c->pl.t[i].sel);
		c->pl.t[i].sel = NULL;
	}
	c->pl.jwt_in_file = c->in->h->jwk_json != NULL &&
			    jwt_store_location(c->db, &c->o->keys) == JWT_IN_FILE;
	return 0;
}

static void attempt(struct ctx *c, bool immediate)
{
	const char *jwk = c->in->h->jwk_json;
	bool kv_changed = false;
	double t0;
	int rc;

	*c->retry = false;
	reset_outputs(c);
	rc = sqlite3_exec(c->db, immediate ? "BEGIN IMMEDIATE" : "BEGIN DEFERRED", NULL, NULL, NULL);
	if (rc != SQLITE_OK) {
		write_failed(c, rc);
		return;
	}
	sqlite3_exec(c->db, "PRAGMA defer_foreign_keys = ON", NULL, NULL, NULL);
	if (make_plan(c) == -1)
		goto out;
	/* The key is compared before the valve, so that a dry run the valve
	 * refuses reports it as --dry-run --force does. */
	c->st = APPLY_ERR_KEY;
	if (apply_jwt_compare(c->db, c->o, jwk, c->pl.jwt_in_file, c->r, &kv_changed, c->err, c->errlen) == -1)
		goto out;
	if (check_valve(c) == -1)
		goto out;
	c->st = APPLY_OK;
	/* A dry run plans and counts; with nothing written there is no result
	 * to verify, so it is not verified (out->rows_hash stays zero). */
	if (c->o->dry_run)
		goto out;
	if (plan_changes(c) == 0 && !c->r->jwt_changed) {
		verify(c); /* nothing to write: this node already holds the document */
		goto out;
	}
	c->st = APPLY_ERR_DB;
	if (apply_restart_hook(c->o, c->r, c->err, c->errlen) == -1)
		goto out;
	c->st = APPLY_OK;
	if (plan_changes(c) == 0 && !kv_changed) {
		verify(c); /* only the key file changes, after this transaction */
		goto out;
	}
	t0 = apply_now_ms();
	if (write_plan(c) == -1)
		goto out;
	if (kv_changed && apply_jwt_write_kv(c->db, c->o, jwk, c->err, c->errlen) == -1) {
		c->st = APPLY_ERR_KEY;
		goto out;
	}
	if (verify(c) == -1)
		goto out;
	if ((rc = sqlite3_exec(c->db, "COMMIT", NULL, NULL, NULL)) != SQLITE_OK) {
		write_failed(c, rc);
		goto out;
	}
	c->r->lock_ms = apply_now_ms() - t0;
	c->r->wrote = true;
out:
	if (!sqlite3_get_autocommit(c->db))
		sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
	plan_free(c);
}

enum apply_status apply_full2_stats(sqlite3 *db, const struct apply2_in *in,
				    const struct apply_opts *o, struct apply_result *r,
				    struct apply2_out *out, struct apply_full_stats *stats, char *err,
				    size_t errlen)
{
	int max = o->max_attempts > 0 ? o->max_attempts : 4;
	bool retry = true;
	struct ctx c = {.db = db, .in = in, .o = o, .r = r, .out = out, .stats = stats,
			.st = APPLY_ERR_BUSY, .retry = &retry, .err = err, .errlen = errlen};

	memset(r, 0, sizeof(*r));
	memset(out, 0, sizeof(*out));
	memset(stats, 0, sizeof(*stats));
	for (int i = 1; i <= max && retry; i++) {
		r->attempts = i;
		attempt(&c, i == max);
	}
	if (c.st == APPLY_OK && apply_jwt_after_commit(db, o, in->h->jwk_json, r, err, errlen) == -1)
		return APPLY_ERR_KEY;
	return c.st;
}

enum apply_status apply_full2(sqlite3 *db, const struct apply2_in *in, const struct apply_opts *o,
			      struct apply_result *r, struct apply2_out *out, char *err,
			      size_t errlen)
{
	struct apply_full_stats stats;

	return apply_full2_stats(db, in, o, r, out, &stats, err, errlen);
}

void apply2_out_free(struct apply2_out *out)
{
	rowhash_skip_free(&out->kept);
	payload_free(&out->app_config); /* wipes the pseudo-table's values */
	out->has_app_config = false;
	memset(out->rows_hash, 0, sizeof(out->rows_hash));
	memset(&out->sum, 0, sizeof(out->sum));
}

const char *apply2_status_reason(enum apply_status st)
{
	if (st == APPLY_ERR_BASE)
		return "base";
	if (st == APPLY_ERR_VERIFY)
		return "verify";
	return apply_status_reason(st);
}
