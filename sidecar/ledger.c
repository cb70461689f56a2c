/* ledger: row digests by key in an open-addressing index per table (keys
 * serialised into one byte arena), LtHash sums updated per changed row, and
 * the journal as a list of generations, each with the keys that changed
 * (see ledger.h). Memory: about 110 bytes per durable row plus the journal
 * (measured with tests/bench at 100,000 users). */
#include "ledger.h"

#include "errbuf.h"
#include "export.h"

#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

struct entry {
	uint32_t key_off, key_len;
	uint32_t epoch; /* the scan that last saw it */
	uint8_t d[32];
};

struct ltable {
	char *name;
	size_t nkey;
	bool present, scanned, counted;
	struct lthash sum;
	struct entry *e;
	size_t n, cap;
	uint32_t *slot; /* entry index + 1; 0 = empty */
	size_t nslot;	/* power of two, >= 2n */
	uint8_t *keys;
	size_t klen, kcap;
	uint32_t epoch;
};

/* A key recorded as changed: which table, and its serialised bytes. */
struct jkey {
	uint32_t table;
	uint32_t len;
	uint8_t *bytes;
};

struct keylist {
	struct jkey *k;
	size_t n, cap;
};

struct jentry {
	uint64_t gen;
	uint8_t rows_hash[32], jwk[32], appcfg[32];
	struct keylist keys;
};

struct ledger {
	struct ltable *t;
	size_t nt;
	struct rowhash_ctx *rh;
	struct keylist pending;
	bool pending_overflow; /* too many keys to remember: no delta across this */
	struct jentry *j;
	size_t nj, jcap, jkeys;
};

/* ---- keys ---- */

static void put_le(uint8_t *p, uint64_t v, int n)
{
	for (int i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_le(const uint8_t *p, int n)
{
	uint64_t v = 0;

	for (int i = 0; i < n; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

/* Serialises the key columns of the current row of st into buf (grown). */
static int key_bytes(const struct schema_table *t, sqlite3_stmt *st, uint8_t **buf, size_t *cap,
		     size_t *len)
{
	size_t n = 0;

	for (size_t k = 0; k < t->nkey; k++) {
		int c = (int)t->key[k], type = sqlite3_column_type(st, c);
		size_t need = 13 + (type == SQLITE_TEXT || type == SQLITE_BLOB
					    ? (size_t)sqlite3_column_bytes(st, c) : 0);
		if (n + need > *cap) {
			size_t ncap = *cap == 0 ? 256 : *cap;
			uint8_t *nb;
			while (ncap < n + need)
				ncap *= 2;
			if ((nb = realloc(*buf, ncap)) == NULL)
				return -1;
			*buf = nb;
			*cap = ncap;
		}
		(*buf)[n++] = (uint8_t)type;
		if (type == SQLITE_INTEGER) {
			put_le(*buf + n, (uint64_t)sqlite3_column_int64(st, c), 8);
			n += 8;
		} else if (type == SQLITE_FLOAT) {
			double r = sqlite3_column_double(st, c);
			uint64_t bits;
			memcpy(&bits, &r, 8);
			put_le(*buf + n, bits, 8);
			n += 8;
		} else if (type == SQLITE_TEXT || type == SQLITE_BLOB) {
			size_t l = (size_t)sqlite3_column_bytes(st, c);
			const void *p = type == SQLITE_TEXT ? (const void *)sqlite3_column_text(st, c)
							    : sqlite3_column_blob(st, c);
			put_le(*buf + n, l, 4);
			n += 4;
			if (l > 0)
				memcpy(*buf + n, p, l);
			n += l;
		}
	}
	*len = n;
	return 0;
}

/* The inverse, into nkey values whose bytes come from *a. */
static int key_values(const uint8_t *b, size_t len, size_t nkey, struct pl_value *out,
		      struct pl_arena **a)
{
	size_t off = 0;

	for (size_t k = 0; k < nkey; k++) {
		struct pl_value *v = &out[k];
		uint64_t bits;
		size_t l;
		if (off >= len)
			return -1;
		memset(v, 0, sizeof(*v));
		switch (b[off++]) {
		case SQLITE_INTEGER:
			v->type = PL_INT;
			v->u.i = (int64_t)get_le(b + off, 8);
			off += 8;
			break;
		case SQLITE_FLOAT:
			v->type = PL_REAL;
			bits = get_le(b + off, 8);
			memcpy(&v->u.r, &bits, 8);
			off += 8;
			break;
		case SQLITE_TEXT:
		case SQLITE_BLOB:
			v->type = b[off - 1] == SQLITE_TEXT ? PL_TEXT : PL_BLOB;
			l = (size_t)get_le(b + off, 4);
			off += 4;
			v->len = l;
			if ((v->u.bytes = pl_arena_alloc(a, l + 1)) == NULL)
				return -1;
			if (l > 0)
				memcpy(v->u.bytes, b + off, l);
			v->u.bytes[l] = '\0';
			off += l;
			break;
		default:
			v->type = PL_NULL;
		}
	}
	return off == len ? 0 : -1;
}

static uint64_t hash_bytes(const uint8_t *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ull, w;

	for (; n >= 8; p += 8, n -= 8) {
		memcpy(&w, p, 8);
		h = (h ^ w) * 0x9e3779b97f4a7c15ull;
		h ^= h >> 29;
	}
	w = (uint64_t)n << 56;
	if (n > 0)
		memcpy(&w, p, n);
	h = (h ^ w) * 0x9e3779b97f4a7c15ull;
	return h ^ (h >> 29);
}

static int keylist_add(struct keylist *l, uint32_t table, const uint8_t *b, size_t len)
{
	if (l->n == l->cap) {
		size_t ncap = l->cap == 0 ? 16 : l->cap * 2;
		struct jkey *nk = realloc(l->k, ncap * sizeof(*nk));
		if (nk == NULL)
			return -1;
		l->k = nk;
		l->cap = ncap;
	}
	if ((l->k[l->n].bytes = malloc(len + 1)) == NULL)
		return -1;
	memcpy(l->k[l->n].bytes, b, len);
	l->k[l->n].len = (uint32_t)len;
	l->k[l->n].table = table;
	l->n++;
	return 0;
}

static void keylist_free(struct keylist *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->k[i].bytes);
	free(l->k);
	memset(l, 0, sizeof(*l));
}

/* ---- the per-table index ---- */

static long find(const struct ltable *t, const uint8_t *k, size_t len, uint64_t h)
{
	if (t->nslot == 0)
		return -1;
	for (size_t i = h & (t->nslot - 1); t->slot[i] != 0; i = (i + 1) & (t->nslot - 1)) {
		const struct entry *e = &t->e[t->slot[i] - 1];
		if (e->key_len == len && memcmp(t->keys + e->key_off, k, len) == 0)
			return (long)(t->slot[i] - 1);
	}
	return -1;
}

static int rebuild_slots(struct ltable *t, size_t want)
{
	size_t nslot = 16;
	uint32_t *s;

	while (nslot < 2 * want)
		nslot *= 2;
	if ((s = calloc(nslot, sizeof(uint32_t))) == NULL)
		return -1;
	for (size_t e = 0; e < t->n; e++) {
		size_t i = hash_bytes(t->keys + t->e[e].key_off, t->e[e].key_len) & (nslot - 1);
		while (s[i] != 0)
			i = (i + 1) & (nslot - 1);
		s[i] = (uint32_t)(e + 1);
	}
	free(t->slot);
	t->slot = s;
	t->nslot = nslot;
	return 0;
}

static long insert(struct ltable *t, const uint8_t *k, size_t len, const uint8_t d[32])
{
	if (t->n == t->cap) {
		size_t ncap = t->cap == 0 ? 64 : t->cap * 2;
		struct entry *ne = realloc(t->e, ncap * sizeof(*ne));
		if (ne == NULL)
			return -1;
		t->e = ne;
		t->cap = ncap;
	}
	if (t->klen + len > t->kcap) {
		size_t ncap = t->kcap == 0 ? 4096 : t->kcap;
		uint8_t *nk;
		while (ncap < t->klen + len)
			ncap *= 2;
		if (ncap > UINT32_MAX || (nk = realloc(t->keys, ncap)) == NULL)
			return -1;
		t->keys = nk;
		t->kcap = ncap;
	}
	memcpy(t->keys + t->klen, k, len);
	t->e[t->n] = (struct entry){(uint32_t)t->klen, (uint32_t)len, t->epoch, {0}};
	memcpy(t->e[t->n].d, d, 32);
	t->klen += len;
	t->n++;
	if (2 * t->n > t->nslot)
		return rebuild_slots(t, t->n) == -1 ? -1 : (long)(t->n - 1);
	size_t i = hash_bytes(k, len) & (t->nslot - 1);
	while (t->slot[i] != 0)
		i = (i + 1) & (t->nslot - 1);
	t->slot[i] = (uint32_t)t->n;
	return (long)(t->n - 1);
}

/* Keeps only the entries seen by the current scan (compacting the key
 * arena), after the unseen ones were recorded as removed. */
static int drop_unseen(struct ltable *t)
{
	size_t w = 0, kw = 0;

	for (size_t e = 0; e < t->n; e++) {
		struct entry x = t->e[e];
		if (x.epoch != t->epoch)
			continue;
		memmove(t->keys + kw, t->keys + x.key_off, x.key_len);
		x.key_off = (uint32_t)kw;
		kw += x.key_len;
		t->e[w++] = x;
	}
	t->n = w;
	t->klen = kw;
	return rebuild_slots(t, t->n);
}

static void table_free(struct ltable *t)
{
	free(t->name);
	free(t->e);
	free(t->slot);
	free(t->keys);
}

static struct ltable *table_of(struct ledger *l, const char *name)
{
	for (size_t i = 0; i < l->nt; i++) {
		if (strcmp(l->t[i].name, name) == 0)
			return &l->t[i];
	}
	return NULL;
}

static struct ltable *table_add(struct ledger *l, const struct schema_table *st)
{
	struct ltable *n = realloc(l->t, (l->nt + 1) * sizeof(*n));

	if (n == NULL)
		return NULL;
	l->t = n;
	n = &l->t[l->nt];
	memset(n, 0, sizeof(*n));
	if ((n->name = strdup(st->name)) == NULL)
		return NULL;
	l->nt++;
	return n;
}

/* ---- the ledger ---- */

struct ledger *ledger_new(void)
{
	struct ledger *l = calloc(1, sizeof(*l));

	if (l != NULL && (l->rh = rowhash_ctx_new()) == NULL) {
		free(l);
		return NULL;
	}
	return l;
}

void ledger_forget_journal(struct ledger *l)
{
	for (size_t i = 0; i < l->nj; i++)
		keylist_free(&l->j[i].keys);
	l->nj = 0;
	l->jkeys = 0;
	keylist_free(&l->pending);
	l->pending_overflow = false;
}

void ledger_free(struct ledger *l)
{
	if (l == NULL)
		return;
	ledger_forget_journal(l);
	free(l->j);
	for (size_t i = 0; i < l->nt; i++)
		table_free(&l->t[i]);
	free(l->t);
	rowhash_ctx_free(l->rh);
	free(l);
}

/* Records a changed key unless the pending list is already too long. */
static int note(struct ledger *l, size_t table, const uint8_t *k, size_t len)
{
	if (l->pending_overflow)
		return 0;
	if (l->pending.n >= LEDGER_MAX_KEYS) {
		keylist_free(&l->pending);
		l->pending_overflow = true;
		return 0;
	}
	return keylist_add(&l->pending, (uint32_t)table, k, len);
}

/* One row of the current statement into t's index, recorded (record) when
 * new or changed. Returns 0, 1 when this pass already took a row with that
 * key, or -1 out of memory. */
static int take_row(struct ledger *l, struct ltable *t, size_t ti, const struct schema_table *st,
		    sqlite3_stmt *q, uint8_t **kb, size_t *kcap, bool record, bool *changed)
{
	uint8_t d[32];
	size_t klen;
	long e;

	if (key_bytes(st, q, kb, kcap, &klen) == -1 || rowhash_stmt(l->rh, st, q, d) == -1)
		return -1;
	e = find(t, *kb, klen, hash_bytes(*kb, klen));
	if (e >= 0 && t->e[e].epoch == t->epoch)
		return 1;
	if (e >= 0) {
		t->e[e].epoch = t->epoch;
		if (memcmp(t->e[e].d, d, 32) == 0)
			return 0;
		lthash_sub(l->rh, &t->sum, t->e[e].d);
		memcpy(t->e[e].d, d, 32);
	} else if (insert(t, *kb, klen, d) < 0) {
		return -1;
	}
	lthash_add(l->rh, &t->sum, d);
	*changed = true;
	return record ? note(l, ti, *kb, klen) : 0;
}

static int rescan(struct ledger *l, sqlite3 *db, const struct schema_table *st, bool *changed,
		  char *err, size_t errlen)
{
	struct ltable *t = table_of(l, st->name);
	char *sql = export_scan_sql(st);
	uint8_t *kb = NULL;
	size_t kcap = 0;
	sqlite3_stmt *q;
	bool first;
	size_t ti;
	int rc;

	if (t == NULL && (t = table_add(l, st)) == NULL) {
		sqlite3_free(sql);
		return errf(err, errlen, "out of memory");
	}
	ti = (size_t)(t - l->t);
	first = !t->scanned;
	if (t->nkey != st->nkey && t->scanned) { /* the key changed: start the table afresh */
		sqlite3_free(sql);
		return errf(err, errlen, "the key of %s changed", st->name);
	}
	t->nkey = st->nkey;
	t->present = true;
	t->counted = rowhash_counts_table(st);
	t->epoch++;
	if (sql == NULL || sqlite3_prepare_v2(db, sql, -1, &q, NULL) != SQLITE_OK) {
		sqlite3_free(sql);
		return errf(err, errlen, "cannot read %s: %s", st->name, sqlite3_errmsg(db));
	}
	sqlite3_free(sql);
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		int took = take_row(l, t, ti, st, q, &kb, &kcap, !first, changed);
		if (took == 1) {
			sqlite3_finalize(q);
			free(kb);
			return errf(err, errlen, "%s has two rows with one key", st->name);
		}
		if (took == -1)
			break;
	}
	sqlite3_finalize(q);
	if (rc != SQLITE_DONE) {
		free(kb);
		return errf(err, errlen, "cannot read %s: %s", st->name,
			    rc == SQLITE_ROW ? "out of memory" : sqlite3_errmsg(db));
	}
	free(kb);
	bool removed = false;
	for (size_t e = 0; e < t->n; e++) {
		if (t->e[e].epoch == t->epoch)
			continue;
		removed = true;
		lthash_sub(l->rh, &t->sum, t->e[e].d);
		if (note(l, ti, t->keys + t->e[e].key_off, t->e[e].key_len) == -1)
			return errf(err, errlen, "out of memory");
	}
	if (removed) {
		*changed = true;
		if (drop_unseen(t) == -1)
			return errf(err, errlen, "out of memory");
	}
	t->scanned = true;
	return 0;
}

int ledger_rescan_rowids(struct ledger *l, sqlite3 *db, const struct schema_table *st,
			 const int64_t *rowids, size_t n, bool *changed, bool *complete, char *err,
			 size_t errlen)
{
	struct ltable *t = table_of(l, st->name);
	char *sql, *by;
	sqlite3_stmt *q;
	uint8_t *kb = NULL;
	size_t kcap = 0;
	uint64_t count;
	int rc = SQLITE_DONE;

	*complete = false;
	if (t == NULL || !t->scanned || !t->present || t->nkey != st->nkey)
		return 0;
	sql = export_scan_sql(st);
	by = sql == NULL ? NULL : sqlite3_mprintf("%s%s rowid = ?1", sql, st->local_rows ? " AND" : " WHERE");
	sqlite3_free(sql);
	if (by == NULL || sqlite3_prepare_v2(db, by, -1, &q, NULL) != SQLITE_OK) {
		sqlite3_free(by);
		return 0; /* a table without rowids: the caller reads it whole */
	}
	sqlite3_free(by);
	t->epoch++;
	for (size_t i = 0; i < n && rc == SQLITE_DONE; i++) {
		sqlite3_bind_int64(q, 1, rowids[i]);
		rc = sqlite3_step(q);
		if (rc == SQLITE_ROW)
			/* a rowid named twice (two images of one page) is taken once */
			rc = take_row(l, t, (size_t)(t - l->t), st, q, &kb, &kcap, true, changed) == -1
				     ? SQLITE_NOMEM : SQLITE_DONE;
		sqlite3_reset(q);
	}
	sqlite3_finalize(q);
	free(kb);
	if (rc != SQLITE_DONE) {
		ledger_forget_journal(l);
		return errf(err, errlen, "cannot read %s: %s", st->name,
			    rc == SQLITE_NOMEM ? "out of memory" : sqlite3_errmsg(db));
	}
	if (export_count_rows(db, st, &count) == -1)
		return errf(err, errlen, "cannot count %s: %s", st->name, sqlite3_errmsg(db));
	*complete = count == t->n; /* fewer: rows went away (or a key moved); read it whole */
	return 0;
}

int ledger_rescan(struct ledger *l, sqlite3 *db, const struct schema_table *t, bool *changed,
		  char *err, size_t errlen)
{
	if (rescan(l, db, t, changed, err, errlen) == 0)
		return 0;
	/* A half-read table: forget it (the next read starts it afresh) and
	 * the journal with it, since its changes may be missing. */
	struct ltable *lt = table_of(l, t->name);
	if (lt != NULL) {
		free(lt->e);
		free(lt->slot);
		free(lt->keys);
		lt->e = NULL;
		lt->slot = NULL;
		lt->keys = NULL;
		lt->n = lt->cap = lt->nslot = lt->klen = lt->kcap = 0;
		memset(&lt->sum, 0, sizeof(lt->sum));
		lt->scanned = false;
	}
	ledger_forget_journal(l);
	return -1;
}

void ledger_retain(struct ledger *l, const struct schema *s, bool *changed)
{
	for (size_t i = 0; i < l->nt; i++) {
		struct ltable *t = &l->t[i];
		if (!t->present || schema_table(s, t->name) != NULL)
			continue;
		/* Gone: a schema change, which resets the journal anyway. */
		if (t->n > 0)
			*changed = true;
		t->present = false;
		t->scanned = false;
		t->n = t->klen = 0;
		memset(&t->sum, 0, sizeof(t->sum));
		if (t->slot != NULL)
			memset(t->slot, 0, t->nslot * sizeof(uint32_t));
	}
}

void ledger_rows_hash(const struct ledger *l, uint8_t out[static 32])
{
	struct lthash sum = {{0}};

	for (size_t i = 0; i < l->nt; i++) {
		if (l->t[i].present && l->t[i].counted)
			lthash_merge(&sum, &l->t[i].sum);
	}
	lthash_digest(&sum, out);
}

void ledger_content_hash(const struct ledger *l, const struct schema *s,
			 const uint8_t jwk_digest[static 32], uint8_t out[static 32])
{
	const struct lthash **sums = calloc(s->ntables + 1, sizeof(*sums));
	static const struct lthash *none[1];

	for (size_t i = 0; sums != NULL && i < s->ntables; i++) {
		struct ltable *t = table_of((struct ledger *)l, s->tables[i].name);
		sums[i] = t != NULL && t->present ? &t->sum : NULL;
	}
	if (sums == NULL) /* out of memory: a hash of nothing still moves on real change later */
		rowhash_content(s, none, jwk_digest, out);
	else
		rowhash_content(s, sums, jwk_digest, out);
	free(sums);
}

/* Drops the oldest generations until the journal is within bounds. */
static void trim(struct ledger *l)
{
	size_t drop = 0;

	while (drop < l->nj && (l->nj - drop > LEDGER_MAX_GENERATIONS ||
				(l->jkeys > LEDGER_MAX_KEYS && l->nj - drop > 1))) {
		l->jkeys -= l->j[drop].keys.n;
		keylist_free(&l->j[drop].keys);
		drop++;
	}
	if (drop > 0) {
		memmove(l->j, l->j + drop, (l->nj - drop) * sizeof(*l->j));
		l->nj -= drop;
	}
}

void ledger_file(struct ledger *l, uint64_t gen, const uint8_t jwk_digest[static 32],
		 const uint8_t appcfg_digest[static 32])
{
	struct jentry *last = l->nj > 0 ? &l->j[l->nj - 1] : NULL;
	uint8_t rows[32];

	ledger_rows_hash(l, rows);
	if (l->pending_overflow) {
		/* Too much changed to remember: no base before this one. */
		ledger_forget_journal(l);
		last = NULL;
	}
	if (last != NULL && last->gen == gen) {
		for (size_t i = 0; i < l->pending.n; i++) {
			struct jkey *k = &l->pending.k[i];
			if (keylist_add(&last->keys, k->table, k->bytes, k->len) == -1) {
				ledger_forget_journal(l);
				return;
			}
			l->jkeys++;
		}
		keylist_free(&l->pending);
	} else {
		if (last != NULL && gen < last->gen) { /* the generation went back (state restored) */
			ledger_forget_journal(l);
			last = NULL;
		}
		if (l->nj == l->jcap) {
			size_t ncap = l->jcap == 0 ? 64 : l->jcap * 2;
			struct jentry *nj = realloc(l->j, ncap * sizeof(*nj));
			if (nj == NULL) {
				ledger_forget_journal(l);
				return;
			}
			l->j = nj;
			l->jcap = ncap;
		}
		last = &l->j[l->nj++];
		memset(last, 0, sizeof(*last));
		last->gen = gen;
		last->keys = l->pending;
		l->jkeys += l->pending.n;
		memset(&l->pending, 0, sizeof(l->pending));
	}
	memcpy(last->rows_hash, rows, 32);
	memcpy(last->jwk, jwk_digest, 32);
	memcpy(last->appcfg, appcfg_digest, 32);
	trim(l);
}

/* ---- planning ---- */

void ledger_delta_free(struct ledger_delta *d)
{
	for (size_t i = 0; i < d->ntables; i++) {
		pl_arena_free(&d->t[i].arena);
		free(d->t[i].keys);
	}
	free(d->t);
	memset(d, 0, sizeof(*d));
}

/* A set of key byte strings, to take the union of the journal's keys. */
struct kset {
	const struct jkey **k;
	size_t cap, n;
};

static int kset_add(struct kset *s, const struct jkey *k)
{
	if (2 * (s->n + 1) > s->cap) {
		size_t ncap = s->cap == 0 ? 64 : s->cap * 2;
		const struct jkey **nk = calloc(ncap, sizeof(*nk));
		if (nk == NULL)
			return -1;
		for (size_t i = 0; i < s->cap; i++) {
			if (s->k[i] == NULL)
				continue;
			size_t j = (hash_bytes(s->k[i]->bytes, s->k[i]->len) ^ s->k[i]->table) & (ncap - 1);
			while (nk[j] != NULL)
				j = (j + 1) & (ncap - 1);
			nk[j] = s->k[i];
		}
		free(s->k);
		s->k = nk;
		s->cap = ncap;
	}
	size_t j = (hash_bytes(k->bytes, k->len) ^ k->table) & (s->cap - 1);
	for (; s->k[j] != NULL; j = (j + 1) & (s->cap - 1)) {
		const struct jkey *o = s->k[j];
		if (o->table == k->table && o->len == k->len && memcmp(o->bytes, k->bytes, k->len) == 0)
			return 0;
	}
	s->k[j] = k;
	s->n++;
	return 0;
}

int ledger_plan(const struct ledger *l, uint64_t base, const uint8_t base_hash[static 32],
		struct ledger_delta *d)
{
	struct kset set = {0};
	size_t from = l->nj, *count;
	int rc = -1;

	memset(d, 0, sizeof(*d));
	for (size_t i = 0; i < l->nj; i++) {
		if (l->j[i].gen == base)
			from = i;
	}
	if (from == l->nj || CRYPTO_memcmp(l->j[from].rows_hash, base_hash, 32) != 0 ||
	    l->pending.n > 0 || l->pending_overflow)
		return 1;
	d->base = base;
	d->generation = l->j[l->nj - 1].gen;
	d->jwk_changed = CRYPTO_memcmp(l->j[from].jwk, l->j[l->nj - 1].jwk, 32) != 0;
	d->appcfg_changed = CRYPTO_memcmp(l->j[from].appcfg, l->j[l->nj - 1].appcfg, 32) != 0;
	for (size_t i = from + 1; i < l->nj; i++) {
		for (size_t k = 0; k < l->j[i].keys.n; k++) {
			if (kset_add(&set, &l->j[i].keys.k[k]) == -1)
				goto out;
		}
	}
	if ((count = calloc(l->nt + 1, sizeof(size_t))) == NULL)
		goto out;
	for (size_t i = 0; i < set.cap; i++) {
		if (set.k[i] != NULL)
			count[set.k[i]->table]++;
	}
	d->t = calloc(l->nt + 1, sizeof(*d->t));
	if (d->t == NULL) {
		free(count);
		goto out;
	}
	for (size_t t = 0; t < l->nt; t++) {
		if (count[t] == 0)
			continue;
		struct ledger_delta_table *dt = &d->t[d->ntables++];
		dt->name = l->t[t].name;
		dt->nkey = l->t[t].nkey;
		if ((dt->keys = calloc(count[t] * dt->nkey + 1, sizeof(struct pl_value))) == NULL) {
			free(count);
			goto out;
		}
		count[t] = d->ntables; /* now: index + 1 into d->t */
	}
	for (size_t i = 0; i < set.cap; i++) {
		const struct jkey *k = set.k[i];
		if (k == NULL)
			continue;
		struct ledger_delta_table *dt = &d->t[count[k->table] - 1];
		if (key_values(k->bytes, k->len, dt->nkey, &dt->keys[dt->n * dt->nkey], &dt->arena) == -1) {
			free(count);
			goto out;
		}
		dt->n++;
		d->nkeys++;
	}
	free(count);
	rc = 0;
out:
	free(set.k);
	if (rc == -1)
		ledger_delta_free(d);
	return rc;
}

void ledger_stats(const struct ledger *l, struct ledger_stats *s)
{
	memset(s, 0, sizeof(*s));
	for (size_t i = 0; i < l->nt; i++)
		s->rows += l->t[i].n;
	s->generations = l->nj;
	s->keys = l->jkeys;
	s->oldest = l->nj > 0 ? l->j[0].gen : 0;
}
