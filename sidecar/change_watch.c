/* change_watch: per-table digests and page sets, and the decision which
 * tables to re-hash (see change_watch.h). Why a page set suffices: a table
 * re-hashed at snapshot M has its digest and page set of M; its first change
 * after M writes (at least) a page it had at M (the leaf or overflow page
 * holding the row, or the node above a page it frees), so the scan that
 * covers that commit flags the table, whatever else moved meanwhile. Page
 * sets only grow stale towards false alarms, never towards a miss: a table's
 * set is replaced only when that table is re-hashed. */
#include "change_watch.h"

#include "errbuf.h"
#include "ledger.h"
#include "log.h"
#include "schema.h"
#include "wal_scan.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct watched {
	uint32_t *pages; /* sorted; the table's b-tree and its indexes, overflow pages included */
	size_t npages;
};

struct change_watch {
	struct wal_pos pos;
	struct wal_pages written;
	bool wal_mode, baseline, have_schema;
	int64_t cookie;
	struct schema s;
	struct watched *t;   /* one per s.tables[] */
	struct watched meta; /* schema_migrations: its version is in the hash */
	struct ledger *ledger; /* the row digests; a table's re-hash is ledger_rescan */
	uint8_t jwk_digest[32];
	struct export_result last;
	int64_t full_ms;
	unsigned faults;
	struct change_watch_stats stats;
};

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int query_text(sqlite3 *db, const char *sql, char *out, size_t n)
{
	sqlite3_stmt *st;
	int rc = -1;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW &&
	    sqlite3_column_text(st, 0) != NULL) {
		snprintf(out, n, "%s", (const char *)sqlite3_column_text(st, 0));
		rc = 0;
	}
	sqlite3_finalize(st);
	return rc;
}

/* 1 in WAL mode, 0 not, -1 unknown. */
static int journal_is_wal(sqlite3 *db)
{
	char mode[16];

	if (query_text(db, "PRAGMA main.journal_mode", mode, sizeof(mode)) == -1)
		return -1;
	return strcmp(mode, "wal") == 0;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

/* The pages of table's b-tree and of its indexes, from dbstat. */
static int load_pages(sqlite3 *db, const char *table, bool no_overflow, struct watched *out,
		      char *err, size_t errlen)
{
	static const char sql[] = "SELECT pageno FROM dbstat WHERE name IN (SELECT name FROM "
				  "sqlite_schema WHERE tbl_name = ?1 AND type IN ('table', 'index'))";
	static const char sql_no_overflow[] = "SELECT pageno FROM dbstat WHERE name IN (SELECT name "
					      "FROM sqlite_schema WHERE tbl_name = ?1 AND type IN "
					      "('table', 'index')) AND pagetype <> 'overflow'";
	sqlite3_stmt *st;
	size_t cap = 0;
	int rc;

	out->npages = 0;
	if (sqlite3_prepare_v2(db, no_overflow ? sql_no_overflow : sql, -1, &st, NULL) != SQLITE_OK)
		return errf(err, errlen, "cannot read page sets (dbstat): %s", sqlite3_errmsg(db));
	sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (out->npages == cap) {
			size_t ncap = cap == 0 ? 64 : cap * 2;
			uint32_t *n = realloc(out->pages, ncap * sizeof(*n));
			if (n == NULL) {
				sqlite3_finalize(st);
				return errf(err, errlen, "out of memory");
			}
			out->pages = n;
			cap = ncap;
		}
		out->pages[out->npages++] = (uint32_t)sqlite3_column_int64(st, 0);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return errf(err, errlen, "cannot read the pages of %s: %s", table, sqlite3_errmsg(db));
	qsort(out->pages, out->npages, sizeof(*out->pages), cmp_u32);
	return 0;
}

/* True when one of the pages written since the last look was t's. */
static bool was_written(const struct watched *t, const struct wal_pages *written)
{
	for (size_t i = 0; i < written->n; i++) {
		if (wal_pages_has(t->pages, t->npages, written->pgno[i]))
			return true;
	}
	return false;
}

static void drop_tables(struct change_watch *w)
{
	for (size_t i = 0; w->t != NULL && i < w->s.ntables; i++)
		free(w->t[i].pages);
	free(w->t);
	w->t = NULL;
	if (w->have_schema)
		schema_free(&w->s);
	w->have_schema = false;
}

/* Reloads the schema, keeping the digests and page sets of the tables it
 * still has; *changed when the version or the set of tables moved. */
static int load_schema(struct change_watch *w, sqlite3 *db, bool *changed, char *err, size_t errlen)
{
	struct schema s;
	struct watched *t;

	if (schema_load(db, &s, err, errlen) == -1)
		return -1;
	if ((t = calloc(s.ntables + 1, sizeof(*t))) == NULL) {
		schema_free(&s);
		return errf(err, errlen, "out of memory");
	}
	*changed = *changed || !w->have_schema || s.ntables != w->s.ntables ||
		   strcmp(s.version, w->s.version) != 0;
	for (size_t i = 0; i < s.ntables; i++) {
		const struct schema_table *old = w->have_schema ? schema_table(&w->s, s.tables[i].name) : NULL;
		if (old == NULL) {
			*changed = true;
			continue;
		}
		t[i] = w->t[old - w->s.tables];
		w->t[old - w->s.tables].pages = NULL;
	}
	drop_tables(w);
	w->s = s;
	w->t = t;
	w->have_schema = true;
	if (*changed) { /* a migration: no earlier generation can be a delta's base */
		bool gone = false;
		ledger_retain(w->ledger, &w->s, &gone);
		ledger_forget_journal(w->ledger);
	}
	return 0;
}

/* Re-reads table i into the ledger and renews its page set; *changed when
 * a row of it moved. */
static int rehash_table(struct change_watch *w, sqlite3 *db, size_t i, bool *changed, char *err,
			size_t errlen)
{
	struct watched *t = &w->t[i];

	if (ledger_rescan(w->ledger, db, &w->s.tables[i], changed, err, errlen) == -1)
		return -1;
	w->stats.tables_rehashed++;
	if ((w->faults & CHANGE_WATCH_FAULT_STALE_PAGES) && t->pages != NULL)
		return 0;
	return load_pages(db, w->s.tables[i].name, w->faults & CHANGE_WATCH_FAULT_NO_OVERFLOW, t, err,
			  errlen);
}

/* After commits that wrote table i's pages: the rows on the leaf pages they
 * wrote are read again, not the whole table, when every written page of it
 * was a b-tree page (an overflow or freelist page cannot be traced to rows)
 * and no row went away (ledger_rescan_rowids checks the count); otherwise
 * the whole table. The page set is renewed either way. */
static int retrace_table(struct change_watch *w, sqlite3 *db, size_t i, bool *changed, char *err,
			 size_t errlen)
{
	struct watched *t = &w->t[i];
	int64_t *rowids = NULL;
	size_t n = 0;
	bool traceable = true, complete = false;
	int rc = 0;

	for (size_t k = 0; traceable && k < w->written.nopaque; k++)
		traceable = !wal_pages_has(t->pages, t->npages, w->written.opaque[k]);
	if (traceable && (rowids = malloc((w->written.nrows + 1) * sizeof(int64_t))) == NULL)
		return errf(err, errlen, "out of memory");
	/* Every written leaf's rows, not only those on pages t had: a row can
	 * move to a page t just acquired (a split); another table's rowids only
	 * cost a lookup that finds the same row unchanged, or none. */
	for (size_t k = 0; traceable && k < w->written.nrows; k++)
		rowids[n++] = w->written.rows[k].rowid;
	if (traceable)
		rc = ledger_rescan_rowids(w->ledger, db, &w->s.tables[i], rowids, n, changed,
					  &complete, err, errlen);
	free(rowids);
	if (rc == -1)
		return -1;
	if (!complete)
		return rehash_table(w, db, i, changed, err, errlen);
	w->stats.tables_traced++;
	if ((w->faults & CHANGE_WATCH_FAULT_STALE_PAGES) && t->pages != NULL)
		return 0;
	return load_pages(db, w->s.tables[i].name, w->faults & CHANGE_WATCH_FAULT_NO_OVERFLOW, t, err,
			  errlen);
}

/* The JWT key is in the content hash, and may live in a file: read it on
 * every look, as the full hash did. */
static int check_jwk(struct change_watch *w, sqlite3 *db, const struct jwt_store_cfg *keys,
		     bool *changed, char *err, size_t errlen)
{
	uint8_t d[32];
	char *jwk = NULL;
	size_t len = 0;
	int rc = -1;

	if (jwt_store_read(db, keys, &jwk, &len, err, errlen) == -1)
		return -1;
	if (EVP_Digest(jwk != NULL ? jwk : "", jwk != NULL ? len : 0, d, NULL, EVP_sha256(), NULL) == 1) {
		*changed = *changed || memcmp(d, w->jwk_digest, 32) != 0;
		memcpy(w->jwk_digest, d, 32);
		rc = 0;
	} else {
		errf(err, errlen, "cannot hash the JWT key");
	}
	if (jwk != NULL)
		OPENSSL_clear_free(jwk, len + 1);
	return rc;
}

/* Inside the read transaction: which tables to re-hash, and the content
 * hash again when anything moved. */
static int check_locked(struct change_watch *w, sqlite3 *db, const struct jwt_store_cfg *keys,
			const char *full, char *err, size_t errlen)
{
	char cookie_s[32];
	int64_t cookie;
	bool changed = !w->baseline;
	int wal;

	if (query_text(db, "PRAGMA main.schema_version", cookie_s, sizeof(cookie_s)) == -1)
		return errf(err, errlen, "cannot read the schema version: %s", sqlite3_errmsg(db));
	cookie = strtoll(cookie_s, NULL, 10);
	if ((wal = journal_is_wal(db)) != (int)w->wal_mode) {
		full = full != NULL ? full : "journal mode changed";
		w->wal_mode = wal == 1;
		w->pos.valid = false;
	}
	if (!w->have_schema || cookie != w->cookie)
		full = full != NULL ? full : "schema changed";
	if (full == NULL && was_written(&w->meta, &w->written))
		full = "schema_migrations written";
	if (full != NULL) {
		w->stats.full++;
		w->stats.full_reason = full;
		log_debug("primary.rehash_all", "reason=\"%s\"", full);
		w->full_ms = mono_ms();
		if (load_schema(w, db, &changed, err, errlen) == -1)
			return -1;
		w->cookie = cookie;
		if (load_pages(db, "schema_migrations", false, &w->meta, err, errlen) == -1)
			return -1;
	}
	for (size_t i = 0; i < w->s.ntables; i++) {
		if (full != NULL ? rehash_table(w, db, i, &changed, err, errlen) == -1
				 : was_written(&w->t[i], &w->written) &&
					   retrace_table(w, db, i, &changed, err, errlen) == -1)
			return -1;
	}
	if (check_jwk(w, db, keys, &changed, err, errlen) == -1)
		return -1;
	if (!changed)
		return 0;
	w->stats.exports++;
	ledger_content_hash(w->ledger, &w->s, w->jwk_digest, w->last.content_hash);
	ledger_rows_hash(w->ledger, w->last.rows_hash);
	memcpy(w->last.jwk_digest, w->jwk_digest, 32);
	w->last.nunknown = 0;
	for (size_t i = 0; i < w->s.nunknown && i < 16; i++)
		snprintf(w->last.unknown[w->last.nunknown++], 64, "%s", w->s.unknown[i]);
	return 0;
}

/* Before the read transaction: the pages the commits since the last look
 * wrote, or why every table must be re-hashed. */
static const char *scan_before_txn(struct change_watch *w, sqlite3 *db)
{
	const char *why = NULL, *gap;

	w->written.n = 0;
	if (!w->baseline)
		return "first look";
	if (mono_ms() - w->full_ms >= CHANGE_WATCH_VERIFY_MS)
		why = "periodic verification";
	if (!w->wal_mode)
		w->wal_mode = journal_is_wal(db) == 1; /* also opens the WAL for wal_scan */
	if (!w->wal_mode)
		return why != NULL ? why : "not in WAL mode";
	if (wal_scan(db, &w->pos, &w->written, &gap) == WAL_SCAN_RESCAN &&
	    !(w->faults & CHANGE_WATCH_FAULT_TRUST_WAL))
		return why != NULL ? why : gap;
	return why;
}

/* Inside the read transaction, after its first read fixed the snapshot:
 * the commits published since the scan before it. Their pages are flagged
 * too, so that every commit the snapshot may hold is accounted for; the
 * position stays where the first scan left it, so the next look scans them
 * again (the snapshot may not hold them all). Returns why every table must
 * be re-read, or NULL. */
static const char *scan_in_txn(struct change_watch *w, sqlite3 *db)
{
	struct wal_pos pos = w->pos;
	struct wal_pages more = {0};
	const char *why = NULL;

	if (!w->wal_mode || !w->pos.valid)
		return NULL;
	if (wal_scan(db, &pos, &more, &why) == WAL_SCAN_RESCAN &&
	    !(w->faults & CHANGE_WATCH_FAULT_TRUST_WAL)) {
		wal_pages_free(&more);
		return why != NULL ? why : "WAL moved during the look";
	}
	for (size_t i = 0; i < more.nrows; i++) {
		if (w->written.nrows == w->written.caprows) {
			size_t ncap = w->written.caprows == 0 ? 64 : w->written.caprows * 2;
			struct wal_leaf_row *n = realloc(w->written.rows, ncap * sizeof(*n));
			if (n == NULL) {
				wal_pages_free(&more);
				return "out of memory";
			}
			w->written.rows = n;
			w->written.caprows = ncap;
		}
		w->written.rows[w->written.nrows++] = more.rows[i];
	}
	for (size_t i = 0; i < more.nopaque; i++) {
		if (w->written.nopaque == w->written.capopaque) {
			size_t ncap = w->written.capopaque == 0 ? 16 : w->written.capopaque * 2;
			uint32_t *n = realloc(w->written.opaque, ncap * sizeof(*n));
			if (n == NULL) {
				wal_pages_free(&more);
				return "out of memory";
			}
			w->written.opaque = n;
			w->written.capopaque = ncap;
		}
		w->written.opaque[w->written.nopaque++] = more.opaque[i];
	}
	for (size_t i = 0; i < more.n; i++) {
		if (w->written.n == w->written.cap) {
			size_t ncap = w->written.cap == 0 ? 64 : w->written.cap * 2;
			uint32_t *n = realloc(w->written.pgno, ncap * sizeof(*n));
			if (n == NULL) {
				wal_pages_free(&more);
				return "out of memory";
			}
			w->written.pgno = n;
			w->written.cap = ncap;
		}
		w->written.pgno[w->written.n++] = more.pgno[i];
	}
	wal_pages_free(&more);
	return NULL;
}

static int cmp_pages(const void *a, const void *b)
{
	return cmp_u32(a, b);
}

int change_watch_check_open(struct change_watch *w, sqlite3 *db, const struct jwt_store_cfg *keys,
			    struct export_result *res, char *err, size_t errlen)
{
	const char *full, *late;
	char v[32];
	int rc;

	w->stats.checks++;
	if (!w->baseline) { /* anchor the WAL position before the first full look */
		const char *why;
		w->wal_mode = journal_is_wal(db) == 1;
		if (w->wal_mode)
			wal_scan(db, &w->pos, &w->written, &why);
	}
	full = scan_before_txn(w, db);
	if (sqlite3_exec(db, "BEGIN DEFERRED", NULL, NULL, NULL) != SQLITE_OK)
		return errf(err, errlen, "cannot begin a read transaction: %s", sqlite3_errmsg(db));
	if (query_text(db, "PRAGMA main.schema_version", v, sizeof(v)) == -1) { /* fixes the snapshot */
		sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
		return errf(err, errlen, "cannot read the schema version: %s", sqlite3_errmsg(db));
	}
	if (full == NULL && (late = scan_in_txn(w, db)) != NULL)
		full = late;
	if (w->written.n > 1) /* was_written wants them sorted; both scans' pages are */
		qsort(w->written.pgno, w->written.n, sizeof(uint32_t), cmp_pages);
	if (w->written.nopaque > 1)
		qsort(w->written.opaque, w->written.nopaque, sizeof(uint32_t), cmp_pages);
	rc = check_locked(w, db, keys, full, err, errlen);
	if (rc == -1)
		sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
	w->baseline = rc == 0;
	if (rc == 0)
		*res = w->last;
	return rc;
}

int change_watch_check(struct change_watch *w, sqlite3 *db, const struct jwt_store_cfg *keys,
		       struct export_result *res, char *err, size_t errlen)
{
	int rc = change_watch_check_open(w, db, keys, res, err, errlen);

	if (rc == 0)
		sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
	return rc;
}

struct ledger *change_watch_ledger(struct change_watch *w)
{
	return w->ledger;
}

const struct schema *change_watch_schema(const struct change_watch *w)
{
	return w->have_schema ? &w->s : NULL;
}

struct change_watch *change_watch_new(void)
{
	struct change_watch *w = calloc(1, sizeof(struct change_watch));

	if (w != NULL && (w->ledger = ledger_new()) == NULL) {
		free(w);
		return NULL;
	}
	return w;
}

void change_watch_reset(struct change_watch *w)
{
	w->baseline = false;
}

void change_watch_free(struct change_watch *w)
{
	if (w == NULL)
		return;
	drop_tables(w);
	free(w->meta.pages);
	wal_pages_free(&w->written);
	ledger_free(w->ledger);
	free(w);
}

const struct change_watch_stats *change_watch_stats(const struct change_watch *w)
{
	return &w->stats;
}

void change_watch_test_faults(struct change_watch *w, unsigned faults)
{
	w->faults = faults;
}
