/* rowhash: row digests, their LtHash expansion (AES-128-CTR keyed by the
 * digest, the keystream read as 1024 little-endian 16-bit lanes) and scans
 * (see rowhash.h and proto/SPEC.md section 5B). */
#include "rowhash.h"

#include "errbuf.h"
#include "export.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#define ROWHASH_DOMAIN "pocket-id-sync rows v2"

struct rowhash_ctx {
	EVP_MD_CTX *md;
	EVP_CIPHER_CTX *ctr;
	EVP_MD *sha256;	   /* fetched once: an implicit fetch per row costs locks */
	EVP_CIPHER *aes;   /* AES-128-CTR, fetched once */
	bool md_ready, ctr_ready;
	size_t n;
	uint8_t buf[4096];
	uint8_t zero[2 * LTHASH_LANES];
	uint8_t stream[2 * LTHASH_LANES];
};

struct rowhash_ctx *rowhash_ctx_new(void)
{
	struct rowhash_ctx *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	c->md = EVP_MD_CTX_new();
	c->ctr = EVP_CIPHER_CTX_new();
	c->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
	c->aes = EVP_CIPHER_fetch(NULL, "AES-128-CTR", NULL);
	if (c->md == NULL || c->ctr == NULL || c->sha256 == NULL || c->aes == NULL) {
		rowhash_ctx_free(c);
		return NULL;
	}
	return c;
}

void rowhash_ctx_free(struct rowhash_ctx *c)
{
	if (c == NULL)
		return;
	EVP_MD_CTX_free(c->md);
	EVP_CIPHER_CTX_free(c->ctr);
	EVP_MD_free(c->sha256);
	EVP_CIPHER_free(c->aes);
	OPENSSL_cleanse(c->buf, sizeof(c->buf)); /* row bytes: may be secrets */
	free(c);
}

bool rowhash_counts_table(const struct schema_table *t)
{
	return strcmp(t->name, "app_config_variables") != 0;
}

bool rowhash_column_counts(const struct schema_table *t, size_t c, bool cimd_row)
{
	return schema_column_shared(t, c, cimd_row) && !t->bookkeeping[c];
}

static void flush(struct rowhash_ctx *c)
{
	if (c->n > 0)
		EVP_DigestUpdate(c->md, c->buf, c->n);
	c->n = 0;
}

static void put(struct rowhash_ctx *c, const void *p, size_t n)
{
	if (n > sizeof(c->buf) - c->n) {
		flush(c);
		if (n > sizeof(c->buf)) {
			EVP_DigestUpdate(c->md, p, n);
			return;
		}
	}
	memcpy(c->buf + c->n, p, n);
	c->n += n;
}

/* tag, 8-byte big-endian length, bytes */
static void field(struct rowhash_ctx *c, uint8_t tag, const void *p, size_t n)
{
	uint8_t head[9];

	head[0] = tag;
	for (int i = 0; i < 8; i++)
		head[1 + i] = (uint8_t)((uint64_t)n >> (56 - 8 * i));
	put(c, head, 9);
	if (n > 0)
		put(c, p, n);
}

static void le64(uint8_t out[8], uint64_t v)
{
	for (int i = 0; i < 8; i++)
		out[i] = (uint8_t)(v >> (8 * i));
}

static void value(struct rowhash_ctx *c, const struct pl_value *v)
{
	uint8_t b[8];
	uint64_t bits;

	switch (v->type) {
	case PL_INT:
		le64(b, (uint64_t)v->u.i);
		field(c, 'i', b, 8);
		break;
	case PL_REAL:
		memcpy(&bits, &v->u.r, 8);
		le64(b, bits);
		field(c, 'r', b, 8);
		break;
	case PL_TEXT:
		field(c, 't', v->u.bytes, v->len);
		break;
	case PL_BLOB:
		field(c, 'b', v->u.bytes, v->len);
		break;
	default:
		field(c, 'n', NULL, 0);
	}
}

/* The value of column col of st, borrowing SQLite's bytes. */
static struct pl_value column(sqlite3_stmt *st, int col)
{
	struct pl_value v = {.type = PL_NULL};

	switch (sqlite3_column_type(st, col)) {
	case SQLITE_INTEGER:
		v.type = PL_INT;
		v.u.i = sqlite3_column_int64(st, col);
		break;
	case SQLITE_FLOAT:
		v.type = PL_REAL;
		v.u.r = sqlite3_column_double(st, col);
		break;
	case SQLITE_TEXT:
		v.type = PL_TEXT;
		v.u.bytes = (uint8_t *)sqlite3_column_text(st, col);
		v.len = (size_t)sqlite3_column_bytes(st, col);
		break;
	case SQLITE_BLOB:
		v.type = PL_BLOB;
		v.u.bytes = (uint8_t *)sqlite3_column_blob(st, col);
		v.len = (size_t)sqlite3_column_bytes(st, col);
		break;
	}
	return v;
}

static bool is_cimd(const struct pl_value *v)
{
	return v->type == PL_TEXT && v->len == 4 && memcmp(v->u.bytes, "cimd", 4) == 0;
}

/* One digest from a row given as values, or (row NULL) from st. */
static int digest(struct rowhash_ctx *c, const struct schema_table *t, const struct pl_value *row,
		  sqlite3_stmt *st, uint8_t d[static 32])
{
	unsigned int n = 32;
	bool cimd = false;

	if (t->cimd_type_col >= 0) {
		struct pl_value v = row ? row[t->cimd_type_col] : column(st, t->cimd_type_col);
		cimd = is_cimd(&v);
	}
	/* After the first row, NULL keeps the fetched digest: no fetch per row. */
	if (EVP_DigestInit_ex(c->md, c->md_ready ? NULL : c->sha256, NULL) != 1)
		return -1;
	c->md_ready = true;
	c->n = 0;
	field(c, 'T', t->name, strlen(t->name));
	for (size_t i = 0; i < t->ncols; i++) {
		size_t col = t->by_name[i];
		struct pl_value v;
		if (!rowhash_column_counts(t, col, cimd))
			continue;
		v = row ? row[col] : column(st, (int)col);
		field(c, 'C', t->cols[col], strlen(t->cols[col]));
		value(c, &v);
	}
	flush(c);
	return EVP_DigestFinal_ex(c->md, d, &n) == 1 ? 0 : -1;
}

int rowhash_row(struct rowhash_ctx *c, const struct schema_table *t, const struct pl_value *row,
		uint8_t d[static 32])
{
	return digest(c, t, row, NULL, d);
}

int rowhash_stmt(struct rowhash_ctx *c, const struct schema_table *t, sqlite3_stmt *st,
		 uint8_t d[static 32])
{
	return digest(c, t, NULL, st, d);
}

/* The 2048-byte expansion of d: AES-128-CTR, key d[0..15], initial counter
 * block d[16..31], over zero bytes. */
static const uint8_t *expand(struct rowhash_ctx *c, const uint8_t d[static 32])
{
	int n = 0;

	if (EVP_EncryptInit_ex(c->ctr, c->ctr_ready ? NULL : c->aes, NULL, d, d + 16) != 1 ||
	    EVP_EncryptUpdate(c->ctr, c->stream, &n, c->zero, (int)sizeof(c->zero)) != 1 ||
	    n != (int)sizeof(c->zero))
		abort(); /* AES-CTR cannot fail on valid arguments; a broken library must not pass */
	c->ctr_ready = true;
	return c->stream;
}

void lthash_add(struct rowhash_ctx *c, struct lthash *h, const uint8_t d[static 32])
{
	const uint8_t *x = expand(c, d);

	for (size_t i = 0; i < LTHASH_LANES; i++)
		h->lane[i] = (uint16_t)(h->lane[i] + (x[2 * i] | x[2 * i + 1] << 8));
}

void lthash_sub(struct rowhash_ctx *c, struct lthash *h, const uint8_t d[static 32])
{
	const uint8_t *x = expand(c, d);

	for (size_t i = 0; i < LTHASH_LANES; i++)
		h->lane[i] = (uint16_t)(h->lane[i] - (x[2 * i] | x[2 * i + 1] << 8));
}

void lthash_merge(struct lthash *h, const struct lthash *x)
{
	for (size_t i = 0; i < LTHASH_LANES; i++)
		h->lane[i] = (uint16_t)(h->lane[i] + x->lane[i]);
}

void lthash_digest(const struct lthash *h, uint8_t out[static 32])
{
	uint8_t b[2 * LTHASH_LANES];
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned int n = 32;

	for (size_t i = 0; i < LTHASH_LANES; i++) {
		b[2 * i] = (uint8_t)h->lane[i];
		b[2 * i + 1] = (uint8_t)(h->lane[i] >> 8);
	}
	if (md == NULL || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1 ||
	    EVP_DigestUpdate(md, ROWHASH_DOMAIN, strlen(ROWHASH_DOMAIN)) != 1 ||
	    EVP_DigestUpdate(md, b, sizeof(b)) != 1 || EVP_DigestFinal_ex(md, out, &n) != 1)
		abort(); /* SHA-256 cannot fail once allocated; out of memory here is fatal */
	EVP_MD_CTX_free(md);
}

void rowhash_content(const struct schema *s, const struct lthash *const *sums,
		     const uint8_t jwk_digest[static 32], uint8_t out[static 32])
{
	static const struct lthash empty;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned int n = 32;
	uint8_t d[32], head[9];
	size_t len;

	if (md == NULL || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1)
		abort(); /* out of memory in SHA-256 setup: nothing sane to return */
	EVP_DigestUpdate(md, "pocket-id-sync content v2", 25);
	len = strlen(s->version);
	head[0] = 'V';
	for (int i = 0; i < 8; i++)
		head[1 + i] = (uint8_t)((uint64_t)len >> (56 - 8 * i));
	EVP_DigestUpdate(md, head, 9);
	EVP_DigestUpdate(md, s->version, len);
	for (size_t t = 0; t < s->ntables; t++) {
		len = strlen(s->tables[t].name);
		head[0] = 'T';
		for (int i = 0; i < 8; i++)
			head[1 + i] = (uint8_t)((uint64_t)len >> (56 - 8 * i));
		EVP_DigestUpdate(md, head, 9);
		EVP_DigestUpdate(md, s->tables[t].name, len);
		lthash_digest(sums[t] != NULL ? sums[t] : &empty, d);
		EVP_DigestUpdate(md, d, 32);
	}
	EVP_DigestUpdate(md, "J", 1);
	EVP_DigestUpdate(md, jwk_digest, 32);
	EVP_DigestFinal_ex(md, out, &n);
	EVP_MD_CTX_free(md);
}

void rowhash_jwk_digest(const char *jwk, size_t len, uint8_t out[static 32])
{
	if (EVP_Digest(jwk != NULL ? jwk : "", jwk != NULL ? len : 0, out, NULL, EVP_sha256(), NULL) != 1)
		abort(); /* a one-shot SHA-256 fails only without memory */
}

void rowhash_skip_free(struct rowhash_skip *s)
{
	for (size_t i = 0; i < s->n; i++)
		pl_value_clear(&s->ids[i]);
	free(s->ids);
	s->ids = NULL;
	s->n = 0;
}

static bool skipped(const struct schema_table *t, const struct rowhash_skip *skip, sqlite3_stmt *st)
{
	int col = -1;

	if (skip == NULL || skip->n == 0)
		return false;
	if (t->cimd_type_col >= 0)
		col = (int)t->key[0];
	else if (t->cimd_client_col >= 0)
		col = t->cimd_client_col;
	if (col < 0)
		return false;
	struct pl_value v = column(st, col);
	for (size_t i = 0; i < skip->n; i++) {
		if (pl_value_equal(&v, &skip->ids[i]))
			return true;
	}
	return false;
}

int rowhash_scan_table(struct rowhash_ctx *c, sqlite3 *db, const struct schema_table *t,
		       const struct rowhash_skip *skip, struct lthash *h, char *err, size_t errlen)
{
	char *sql = export_scan_sql(t);
	sqlite3_stmt *st;
	uint8_t d[32];
	int rc;

	if (sql == NULL || sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
		sqlite3_free(sql);
		return errf(err, errlen, "cannot read %s: %s", t->name, sqlite3_errmsg(db));
	}
	sqlite3_free(sql);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (skipped(t, skip, st))
			continue;
		if (rowhash_stmt(c, t, st, d) == -1) {
			sqlite3_finalize(st);
			return errf(err, errlen, "cannot hash a row of %s", t->name);
		}
		lthash_add(c, h, d);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return errf(err, errlen, "cannot read %s: %s", t->name, sqlite3_errmsg(db));
	return 0;
}

int rowhash_scan_sum(sqlite3 *db, const struct schema *s, const struct rowhash_skip *skip,
		     struct lthash *sum, char *err, size_t errlen)
{
	struct rowhash_ctx *c = rowhash_ctx_new();
	int rc = 0;

	memset(sum, 0, sizeof(*sum));
	if (c == NULL)
		return errf(err, errlen, "out of memory");
	for (size_t i = 0; i < s->ntables && rc == 0; i++) {
		if (rowhash_counts_table(&s->tables[i]))
			rc = rowhash_scan_table(c, db, &s->tables[i], skip, sum, err, errlen);
	}
	rowhash_ctx_free(c);
	return rc;
}

int rowhash_scan(sqlite3 *db, const struct schema *s, const struct rowhash_skip *skip,
		 uint8_t out[static 32], char *err, size_t errlen)
{
	struct lthash h;

	if (rowhash_scan_sum(db, s, skip, &h, err, errlen) == -1)
		return -1;
	lthash_digest(&h, out);
	return 0;
}
