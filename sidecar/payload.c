/* payload: document model and JSON codec. Encoding prints one row at a time
 * through cJSON so memory stays near the size of the output; decoding checks
 * the raw text (json_strict.c), parses with cJSON and validates every member
 * before the caller sees anything.
 * Decoded and exported tables keep their cells' bytes in one arena per table
 * (a malloc and free per cell cost more than the rest of open and apply). */
#include "errbuf.h"
#include "payload.h"

#include "b64.h"
#include "json_strict.h"
#include "payload_json.h"
#include "utf8.h"

#include <cjson/cJSON.h>
#include <openssl/crypto.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* ---- cells ---- */

void pl_value_clear(struct pl_value *v)
{
	if (v->type == PL_TEXT || v->type == PL_BLOB)
		free(v->u.bytes);
	memset(v, 0, sizeof(*v));
}

struct pl_arena {
	struct pl_arena *next;
	size_t used, cap;
	uint8_t data[];
};

#define ARENA_BLOCK 65536

uint8_t *pl_arena_alloc(struct pl_arena **a, size_t n)
{
	struct pl_arena *b = *a;

	if (b == NULL || b->cap - b->used < n) {
		/* A value too large for a block gets a block of its own, kept behind
		 * the current one so the space left in that one is not lost. */
		size_t cap = n > ARENA_BLOCK / 4 ? n : ARENA_BLOCK;
		if (n > SIZE_MAX - sizeof(*b) || (b = malloc(sizeof(*b) + cap)) == NULL)
			return NULL;
		b->used = 0;
		b->cap = cap;
		if (cap == n && *a != NULL) {
			b->next = (*a)->next;
			(*a)->next = b;
		} else {
			b->next = *a;
			*a = b;
		}
	}
	b->used += n;
	return b->data + b->used - n;
}

void pl_arena_join(struct pl_arena **into, struct pl_arena **from)
{
	struct pl_arena **tail = into;

	while (*tail != NULL)
		tail = &(*tail)->next;
	*tail = *from;
	*from = NULL;
}

void pl_arena_free(struct pl_arena **a)
{
	while (*a != NULL) {
		struct pl_arena *next = (*a)->next;
		free(*a);
		*a = next;
	}
}

static int set_bytes(struct pl_value *v, enum pl_type type, const void *p, size_t n,
		     struct pl_arena **a)
{
	v->type = type;
	v->len = n;
	v->u.bytes = a != NULL ? pl_arena_alloc(a, n + 1) : malloc(n + 1);
	if (v->u.bytes == NULL)
		return -1;
	if (n > 0)
		memcpy(v->u.bytes, p, n);
	v->u.bytes[n] = '\0';
	return 0;
}

int pl_value_from_sqlite(struct pl_value *v, sqlite3_stmt *st, int col, struct pl_arena **a)
{
	memset(v, 0, sizeof(*v));
	switch (sqlite3_column_type(st, col)) {
	case SQLITE_INTEGER:
		v->type = PL_INT;
		v->u.i = sqlite3_column_int64(st, col);
		return 0;
	case SQLITE_FLOAT:
		v->type = PL_REAL;
		v->u.r = sqlite3_column_double(st, col);
		return 0;
	case SQLITE_TEXT: {
		const unsigned char *p = sqlite3_column_text(st, col);
		return set_bytes(v, PL_TEXT, p, (size_t)sqlite3_column_bytes(st, col), a);
	}
	case SQLITE_BLOB: {
		const void *p = sqlite3_column_blob(st, col);
		return set_bytes(v, PL_BLOB, p, (size_t)sqlite3_column_bytes(st, col), a);
	}
	default:
		v->type = PL_NULL;
		return 0;
	}
}

int pl_value_bind(sqlite3_stmt *st, int idx, const struct pl_value *v)
{
	switch (v->type) {
	case PL_INT:
		return sqlite3_bind_int64(st, idx, v->u.i);
	case PL_REAL:
		return sqlite3_bind_double(st, idx, v->u.r);
	case PL_TEXT:
		return sqlite3_bind_text64(st, idx, (const char *)v->u.bytes, v->len, SQLITE_STATIC,
					   SQLITE_UTF8);
	case PL_BLOB:
		return sqlite3_bind_blob64(st, idx, v->len == 0 ? "" : (const void *)v->u.bytes,
					   v->len, SQLITE_STATIC);
	default:
		return sqlite3_bind_null(st, idx);
	}
}

bool pl_value_equals_column(const struct pl_value *v, sqlite3_stmt *st, int col)
{
	int t = sqlite3_column_type(st, col);

	switch (v->type) {
	case PL_NULL:
		return t == SQLITE_NULL;
	case PL_INT:
		return t == SQLITE_INTEGER && sqlite3_column_int64(st, col) == v->u.i;
	case PL_REAL: {
		double d;
		if (t != SQLITE_FLOAT)
			return false;
		d = sqlite3_column_double(st, col);
		return memcmp(&d, &v->u.r, sizeof(d)) == 0;
	}
	case PL_TEXT:
		return t == SQLITE_TEXT && (size_t)sqlite3_column_bytes(st, col) == v->len &&
		       (v->len == 0 || memcmp(sqlite3_column_text(st, col), v->u.bytes, v->len) == 0);
	case PL_BLOB:
		return t == SQLITE_BLOB && (size_t)sqlite3_column_bytes(st, col) == v->len &&
		       (v->len == 0 || memcmp(sqlite3_column_blob(st, col), v->u.bytes, v->len) == 0);
	}
	return false;
}

bool pl_value_equal(const struct pl_value *a, const struct pl_value *b)
{
	if (a->type != b->type)
		return false;
	switch (a->type) {
	case PL_NULL:
		return true;
	case PL_INT:
		return a->u.i == b->u.i;
	case PL_REAL:
		return memcmp(&a->u.r, &b->u.r, sizeof(double)) == 0;
	default:
		return a->len == b->len && (a->len == 0 || memcmp(a->u.bytes, b->u.bytes, a->len) == 0);
	}
}

/* "p:" + base64 of the bytes. */
static char *prefixed_b64(char prefix, const uint8_t *p, size_t n)
{
	char *out = malloc(b64_encoded_len(n) + 3);

	if (out == NULL)
		return NULL;
	out[0] = prefix;
	out[1] = ':';
	b64_encode(out + 2, p, n);
	return out;
}

char *pl_value_encode(const struct pl_value *v, bool *is_null)
{
	char *out;

	*is_null = false;
	switch (v->type) {
	case PL_INT:
		out = malloc(24);
		if (out != NULL)
			snprintf(out, 24, "i:%" PRId64, v->u.i);
		return out;
	case PL_REAL:
		out = malloc(32);
		if (out != NULL) {
			if (isinf(v->u.r))
				snprintf(out, 32, "r:%s", v->u.r > 0 ? "inf" : "-inf");
			else
				snprintf(out, 32, "r:%.17g", v->u.r);
		}
		return out;
	case PL_TEXT:
		if (!utf8_plain(v->u.bytes, v->len))
			return prefixed_b64('x', v->u.bytes, v->len);
		out = malloc(v->len + 3);
		if (out != NULL) {
			out[0] = 't';
			out[1] = ':';
			memcpy(out + 2, v->u.bytes, v->len + 1);
		}
		return out;
	case PL_BLOB:
		return prefixed_b64('b', v->u.bytes, v->len);
	default:
		*is_null = true;
		return NULL;
	}
}

static int decode_int(const char *s, int64_t *out)
{
	const char *d = *s == '-' ? s + 1 : s;
	char *end;
	long long v;

	if (*d < '0' || *d > '9' || (d[0] == '0' && d[1] != '\0') || (s != d && d[0] == '0'))
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0')
		return -1;
	*out = v;
	return 0;
}

static int decode_real(const char *s, double *out)
{
	size_t n = strlen(s);
	bool integer;
	char *end;

	if (strcmp(s, "inf") == 0 || strcmp(s, "-inf") == 0) {
		*out = s[0] == '-' ? -INFINITY : INFINITY;
		return 0;
	}
	/* The JSON number grammar only; strtod would also take ".5", "+1", hex, "nan". */
	if (n == 0 || json_number_len((const uint8_t *)s, n, &integer) != n)
		return -1;
	*out = strtod(s, &end);
	/* Correctly rounded: a decimal below the smallest subnormal is zero of its
	 * sign (strtod's ERANGE then is no error); one that overflows is refused. */
	if (*end != '\0' || isinf(*out))
		return -1;
	return 0;
}

int pl_value_decode(const char *s, struct pl_value *v, struct pl_arena **a)
{
	uint8_t *buf;
	size_t n;
	int rc;

	memset(v, 0, sizeof(*v));
	if (s[0] == '\0' || s[1] != ':')
		return -1;
	switch (s[0]) {
	case 'i':
		v->type = PL_INT;
		return decode_int(s + 2, &v->u.i);
	case 'r':
		v->type = PL_REAL;
		return decode_real(s + 2, &v->u.r);
	case 't':
		n = strlen(s + 2);
		if (!utf8_plain((const uint8_t *)s + 2, n))
			return -1;
		return set_bytes(v, PL_TEXT, s + 2, n, a);
	case 'x':
	case 'b':
		if (b64_decode_alloc(s + 2, strlen(s + 2), &buf, &n) == -1)
			return -1;
		/* One encoding per value: text that could travel as "t:" must. */
		if (s[0] == 'x' && utf8_plain(buf, n)) {
			free(buf);
			return -1;
		}
		if (a == NULL) {
			v->type = s[0] == 'x' ? PL_TEXT : PL_BLOB;
			v->u.bytes = buf; /* b64_decode_alloc NUL-terminates */
			v->len = n;
			return 0;
		}
		rc = set_bytes(v, s[0] == 'x' ? PL_TEXT : PL_BLOB, buf, n, a);
		free(buf);
		return rc;
	default:
		return -1;
	}
}

/* ---- time ---- */

void payload_format_time(int64_t t, char buf[static 21])
{
	time_t tt = (time_t)t;
	struct tm tm;

	gmtime_r(&tt, &tm);
	strftime(buf, 21, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int payload_parse_time(const char *s, int64_t *t)
{
	char back[21];
	struct tm tm;
	const char *end;

	memset(&tm, 0, sizeof(tm));
	if (strlen(s) != 20)
		return -1;
	end = strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (end == NULL || *end != '\0')
		return -1;
	*t = (int64_t)timegm(&tm);
	if (*t < 0 || tm.tm_year + 1900 > 9999)
		return -1;
	/* Only real times (no 2026-02-30, no :60) print back the same way. */
	payload_format_time(*t, back);
	return strcmp(back, s) == 0 ? 0 : -1;
}

/* ---- model ---- */

void pl_table_free(struct pl_table *t)
{
	/* Pseudo-tables ("@...") carry values read from Pocket ID's API, such
	 * as SMTP and LDAP passwords: wipe them. */
	for (size_t i = 0; t->name != NULL && t->name[0] == '@' && i < t->nrows * t->ncols; i++) {
		struct pl_value *v = &t->cells[i];
		if ((v->type == PL_TEXT || v->type == PL_BLOB) && v->u.bytes != NULL)
			OPENSSL_cleanse(v->u.bytes, v->len);
	}
	if (t->arena != NULL)
		pl_arena_free(&t->arena);
	else
		for (size_t i = 0; i < t->nrows * t->ncols; i++)
			pl_value_clear(&t->cells[i]);
	for (size_t i = 0; i < t->ncols; i++)
		free(t->cols[i]);
	free(t->cols);
	free(t->cells);
	free(t->name);
}

void payload_free(struct payload *p)
{
	for (size_t i = 0; i < p->ntables; i++)
		pl_table_free(&p->tables[i]);
	free(p->tables);
	free(p->schema_version);
	if (p->jwk_json != NULL) {
		/* The JWK holds the private signing key. */
		OPENSSL_clear_free(p->jwk_json, strlen(p->jwk_json));
	}
	memset(p, 0, sizeof(*p));
}

const struct pl_table *payload_table(const struct payload *p, const char *name)
{
	for (size_t i = 0; i < p->ntables; i++) {
		if (strcmp(p->tables[i].name, name) == 0)
			return &p->tables[i];
	}
	return NULL;
}

/* ---- encoding ---- */

void pl_out_put(struct pl_out *o, const char *s, size_t n)
{
	if (o->failed)
		return;
	if (o->len + n + 1 > o->cap) {
		size_t cap = o->cap == 0 ? 4096 : o->cap;
		while (cap < o->len + n + 1)
			cap *= 2;
		char *np = realloc(o->p, cap);
		if (np == NULL) {
			o->failed = true;
			return;
		}
		o->p = np;
		o->cap = cap;
	}
	memcpy(o->p + o->len, s, n);
	o->len += n;
	o->p[o->len] = '\0';
}

void pl_out_str(struct pl_out *o, const char *s) { pl_out_put(o, s, strlen(s)); }

void pl_out_json(struct pl_out *o, cJSON *item)
{
	char *s = item == NULL ? NULL : cJSON_PrintUnformatted(item);

	if (s == NULL)
		o->failed = true;
	else
		pl_out_str(o, s);
	free(s);
	cJSON_Delete(item);
}

cJSON *pl_json_row(const struct pl_table *t, size_t r)
{
	cJSON *row = cJSON_CreateArray();

	for (size_t c = 0; row != NULL && c < t->ncols; c++) {
		bool is_null;
		char *cell = pl_value_encode(pl_cell(t, r, c), &is_null);
		cJSON *item = is_null ? cJSON_CreateNull() : cell ? cJSON_CreateString(cell) : NULL;
		free(cell);
		if (item == NULL || !cJSON_AddItemToArray(row, item)) {
			cJSON_Delete(item);
			cJSON_Delete(row);
			return NULL;
		}
	}
	return row;
}

static void encode_table(struct pl_out *o, const struct pl_table *t)
{
	pl_out_str(o, "{\"name\":");
	pl_out_json(o, cJSON_CreateString(t->name));
	pl_out_str(o, ",\"columns\":");
	pl_out_json(o, cJSON_CreateStringArray((const char *const *)t->cols, (int)t->ncols));
	pl_out_str(o, ",\"rows\":[");
	for (size_t r = 0; r < t->nrows && !o->failed; r++) {
		if (r > 0)
			pl_out_str(o, ",");
		pl_out_json(o, pl_json_row(t, r));
	}
	pl_out_str(o, "]}");
}

static cJSON *header_to_json(const struct payload *p)
{
	char key[45], num[24], when[21];
	cJSON *h = cJSON_CreateObject(), *jwk;

	if (h == NULL)
		return NULL;
	cJSON_AddNumberToObject(h, "format", p->format);
	b64_encode(key, p->sender, 32);
	cJSON_AddStringToObject(h, "sender", key);
	b64_encode(key, p->recipient, 32);
	cJSON_AddStringToObject(h, "recipient", key);
	snprintf(num, sizeof(num), "%" PRIu64, p->generation);
	cJSON_AddStringToObject(h, "generation", num);
	payload_format_time(p->issued_at, when);
	cJSON_AddStringToObject(h, "issued_at", when);
	cJSON_AddStringToObject(h, "schema_version", p->schema_version ? p->schema_version : "");
	jwk = p->jwk_json != NULL ? cJSON_Parse(p->jwk_json) : cJSON_CreateNull();
	if (jwk == NULL || !cJSON_AddItemToObject(h, "jwt_key", jwk)) {
		cJSON_Delete(jwk);
		cJSON_Delete(h);
		return NULL;
	}
	return h;
}

int payload_encode(const struct payload *p, char **out, size_t *len)
{
	struct pl_out o = {0};
	cJSON *h = header_to_json(p);
	char *hs = h == NULL ? NULL : cJSON_PrintUnformatted(h);

	size_t hlen = hs == NULL ? 0 : strlen(hs);

	cJSON_Delete(h);
	if (hlen < 2) { /* at least "{}"; also keeps hlen - 1 from wrapping */
		if (hs != NULL)
			OPENSSL_clear_free(hs, hlen);
		return -1;
	}
	/* The header object without its closing brace, then the tables. */
	pl_out_put(&o, hs, hlen - 1);
	OPENSSL_clear_free(hs, hlen); /* holds the JWT private key */
	pl_out_str(&o, ",\"tables\":[");
	for (size_t i = 0; i < p->ntables && !o.failed; i++) {
		if (i > 0)
			pl_out_str(&o, ",");
		encode_table(&o, &p->tables[i]);
	}
	pl_out_str(&o, "]}");
	if (o.failed) {
		free(o.p);
		return -1;
	}
	*out = o.p;
	*len = o.len;
	return 0;
}

/* ---- decoding ---- */

/* cJSON keeps duplicate members; the format forbids them. */
bool pl_json_has_duplicate(const cJSON *obj)
{
	for (const cJSON *a = obj->child; a != NULL; a = a->next) {
		for (const cJSON *b = a->next; b != NULL; b = b->next) {
			if (strcmp(a->string, b->string) == 0)
				return true;
		}
	}
	return false;
}

bool pl_json_name_ok(const char *s)
{
	size_t n = strlen(s);
	return n > 0 && n <= PAYLOAD_MAX_NAME;
}

int pl_json_decode_columns(const cJSON *cols, struct pl_table *t, char *err, size_t errlen)
{
	int n = cJSON_GetArraySize(cols);
	const cJSON *c;
	size_t i = 0;

	if (!cJSON_IsArray(cols) || n < 1 || n > PAYLOAD_MAX_COLUMNS)
		return errf(err, errlen, "table %s: \"columns\" must be an array of 1 to %d names",
			   t->name, PAYLOAD_MAX_COLUMNS);
	t->cols = calloc((size_t)n, sizeof(char *));
	if (t->cols == NULL)
		return errf(err, errlen, "out of memory");
	cJSON_ArrayForEach(c, cols) {
		if (!cJSON_IsString(c) || !pl_json_name_ok(c->valuestring))
			return errf(err, errlen, "table %s: column %zu has no valid name", t->name, i);
		for (size_t k = 0; k < i; k++) {
			if (strcasecmp(t->cols[k], c->valuestring) == 0)
				return errf(err, errlen, "table %s: column %s appears twice", t->name,
					   c->valuestring);
		}
		t->cols[i] = strdup(c->valuestring);
		if (t->cols[i++] == NULL)
			return errf(err, errlen, "out of memory");
		t->ncols = i;
	}
	return 0;
}

/* Each row's subtree is deleted as soon as its cells are decoded, so the
 * parsed tree shrinks while the decoded table grows: the two are never both
 * whole in memory (measured with tests/bench: -25% peak RSS on a secondary). */
int pl_json_decode_rows(cJSON *rows, struct pl_table *t, char *err, size_t errlen)
{
	int n = cJSON_GetArraySize(rows);
	cJSON *row;
	const cJSON *cell;
	size_t r = 0;

	if (!cJSON_IsArray(rows))
		return errf(err, errlen, "table %s: \"rows\" must be an array", t->name);
	t->cells = calloc((size_t)n * t->ncols + 1, sizeof(struct pl_value));
	if (t->cells == NULL)
		return errf(err, errlen, "out of memory");
	while ((row = rows->child) != NULL) {
		size_t c = 0, bad = SIZE_MAX;
		if (!cJSON_IsArray(row))
			return errf(err, errlen, "table %s: row %zu does not have %zu cells", t->name, r,
				   t->ncols);
		t->nrows = r + 1; /* so payload_free releases what was decoded */
		/* One walk counts and decodes (a separate count cost 10% of open);
		 * a wrong width is still reported before a malformed cell. */
		cJSON_ArrayForEach(cell, row) {
			if (c < t->ncols && bad == SIZE_MAX && !cJSON_IsNull(cell) &&
			    (!cJSON_IsString(cell) ||
			     pl_value_decode(cell->valuestring, pl_cell(t, r, c), &t->arena) == -1))
				bad = c;
			c++;
		}
		if (c != t->ncols)
			return errf(err, errlen, "table %s: row %zu does not have %zu cells", t->name, r,
				   t->ncols);
		if (bad != SIZE_MAX)
			return errf(err, errlen, "table %s: row %zu column %s: malformed cell",
				   t->name, r, t->cols[bad]);
		cJSON_Delete(cJSON_DetachItemViaPointer(rows, row));
		r++;
	}
	return 0;
}

static int decode_table(cJSON *jt, struct pl_table *t, char *err, size_t errlen)
{
	const cJSON *name = cJSON_GetObjectItemCaseSensitive(jt, "name");
	const cJSON *m;

	if (!cJSON_IsObject(jt) || !cJSON_IsString(name) || !pl_json_name_ok(name->valuestring))
		return errf(err, errlen, "a table has no valid \"name\"");
	t->name = strdup(name->valuestring);
	if (t->name == NULL)
		return errf(err, errlen, "out of memory");
	if (pl_json_has_duplicate(jt))
		return errf(err, errlen, "table %s: a member appears twice", t->name);
	cJSON_ArrayForEach(m, jt) {
		if (strcmp(m->string, "name") != 0 && strcmp(m->string, "columns") != 0 &&
		    strcmp(m->string, "rows") != 0)
			return errf(err, errlen, "table %s: unknown member \"%s\"", t->name, m->string);
	}
	if (pl_json_decode_columns(cJSON_GetObjectItemCaseSensitive(jt, "columns"), t, err, errlen) == -1)
		return -1;
	return pl_json_decode_rows(cJSON_GetObjectItemCaseSensitive(jt, "rows"), t, err, errlen);
}

static int decode_tables(const cJSON *tables, struct payload *p, char *err, size_t errlen)
{
	int n = cJSON_GetArraySize(tables);
	cJSON *jt;

	if (!cJSON_IsArray(tables) || n > PAYLOAD_MAX_TABLES)
		return errf(err, errlen, "\"tables\" must be an array of at most %d tables",
			   PAYLOAD_MAX_TABLES);
	p->tables = calloc((size_t)n + 1, sizeof(struct pl_table));
	if (p->tables == NULL)
		return errf(err, errlen, "out of memory");
	cJSON_ArrayForEach(jt, tables) {
		struct pl_table *t = &p->tables[p->ntables++];
		if (decode_table(jt, t, err, errlen) == -1)
			return -1;
		for (size_t k = 0; k + 1 < p->ntables; k++) {
			if (strcasecmp(p->tables[k].name, t->name) == 0)
				return errf(err, errlen, "table %s appears twice", t->name);
		}
	}
	return 0;
}

int pl_json_decode_key(const cJSON *j, const char *name, uint8_t out[32], char *err, size_t errlen)
{
	if (!cJSON_IsString(j) || b64_decode_exact(j->valuestring, out, 32) == -1)
		return errf(err, errlen, "\"%s\" is not a base64 X25519 public key", name);
	return 0;
}

int pl_json_decode_u64(const cJSON *j, const char *name, uint64_t *out, char *err, size_t errlen)
{
	char *end;
	const char *s = cJSON_IsString(j) ? j->valuestring : NULL;

	if (s == NULL || *s < '0' || *s > '9' || (s[0] == '0' && s[1] != '\0'))
		return errf(err, errlen, "\"%s\" must be a decimal string", name);
	errno = 0;
	*out = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0')
		return errf(err, errlen, "\"%s\" must be a decimal string", name);
	return 0;
}

/* A free-form subtree (the JWK) that cJSON would print back differently:
 * duplicate members in any object, or a number beyond binary64 (cJSON
 * prints infinity as null). */
bool pl_json_tree_is_lossy(const cJSON *j)
{
	if ((cJSON_IsObject(j) && pl_json_has_duplicate(j)) ||
	    (cJSON_IsNumber(j) && !isfinite(j->valuedouble)))
		return true;
	for (const cJSON *c = j->child; c != NULL; c = c->next) {
		if (pl_json_tree_is_lossy(c))
			return true;
	}
	return false;
}

int pl_json_decode_jwk(const cJSON *jwk, char **out, char *err, size_t errlen)
{
	const cJSON *kty = cJSON_GetObjectItemCaseSensitive(jwk, "kty");

	*out = NULL;
	if (cJSON_IsNull(jwk))
		return 0;
	if (!cJSON_IsObject(jwk) || !cJSON_IsString(kty) || kty->valuestring[0] == '\0')
		return errf(err, errlen, "\"jwt_key\" must be a JWK object (with a string \"kty\") or null");
	if (pl_json_tree_is_lossy(jwk))
		return errf(err, errlen, "\"jwt_key\": a member appears twice or a number "
					 "overflows binary64");
	*out = cJSON_PrintUnformatted(jwk);
	return *out == NULL ? errf(err, errlen, "out of memory") : 0;
}

void pl_json_scrub_jwk(cJSON *doc)
{
	cJSON *jwk = cJSON_GetObjectItemCaseSensitive(doc, "jwt_key"), *m;

	cJSON_ArrayForEach(m, jwk) {
		if (cJSON_IsString(m))
			OPENSSL_cleanse(m->valuestring, strlen(m->valuestring));
	}
}

static const char *const header_members[] = {"format",	      "sender",		"recipient",
					     "generation",    "issued_at",	"schema_version",
					     "tables",	      "jwt_key",	NULL};

static int decode_header(const cJSON *doc, struct payload *p, char *err, size_t errlen)
{
	const cJSON *m;
	uint64_t schema;

	if (pl_json_has_duplicate(doc))
		return errf(err, errlen, "a member appears twice");
	cJSON_ArrayForEach(m, doc) {
		size_t i = 0;
		while (header_members[i] != NULL && strcmp(header_members[i], m->string) != 0)
			i++;
		if (header_members[i] == NULL)
			return errf(err, errlen, "unknown member \"%s\"", m->string);
	}
	if (pl_json_decode_key(cJSON_GetObjectItemCaseSensitive(doc, "sender"), "sender", p->sender, err, errlen) == -1 ||
	    pl_json_decode_key(cJSON_GetObjectItemCaseSensitive(doc, "recipient"), "recipient", p->recipient, err, errlen) == -1 ||
	    pl_json_decode_u64(cJSON_GetObjectItemCaseSensitive(doc, "generation"), "generation", &p->generation, err, errlen) == -1 ||
	    pl_json_decode_u64(cJSON_GetObjectItemCaseSensitive(doc, "schema_version"), "schema_version", &schema, err, errlen) == -1)
		return -1;
	m = cJSON_GetObjectItemCaseSensitive(doc, "issued_at");
	if (!cJSON_IsString(m) || payload_parse_time(m->valuestring, &p->issued_at) == -1)
		return errf(err, errlen, "\"issued_at\" is not an RFC 3339 UTC time like 2026-01-02T03:04:05Z");
	p->schema_version = strdup(cJSON_GetObjectItemCaseSensitive(doc, "schema_version")->valuestring);
	if (p->schema_version == NULL)
		return errf(err, errlen, "out of memory");
	return pl_json_decode_jwk(cJSON_GetObjectItemCaseSensitive(doc, "jwt_key"), &p->jwk_json, err, errlen);
}

/* Before every other check, so that a future format is reported as such. The
 * raw-text check already refused a fraction or exponent; below 2^53 every
 * integer is exact in a double. */
static int decode_format(const cJSON *doc, char *err, size_t errlen)
{
	const cJSON *fmt = cJSON_GetObjectItemCaseSensitive(doc, "format");

	if (!cJSON_IsNumber(fmt) || fabs(fmt->valuedouble) >= 9007199254740992.0)
		return errf(err, errlen, "payload has no \"format\" integer");
	if (fmt->valuedouble != PAYLOAD_FORMAT) /* + 0.0: -0 is format 0 */
		return errf(err, errlen, "unsupported payload format %.0f (this build reads %d)",
			    fmt->valuedouble + 0.0, PAYLOAD_FORMAT);
	return 0;
}

int payload_decode(const uint8_t *json, size_t len, struct payload *p, char *err, size_t errlen)
{
	cJSON *doc = NULL;
	int rc = -1;

	memset(p, 0, sizeof(*p));
	if (json_strict_check(json, len, err, errlen) == -1)
		goto out;
	doc = cJSON_ParseWithLength((const char *)json, len);
	if (doc == NULL || !cJSON_IsObject(doc)) {
		errf(err, errlen, "payload is not a JSON object");
		goto out;
	}
	if (decode_format(doc, err, errlen) == -1)
		goto out;
	p->format = PAYLOAD_FORMAT;
	if (decode_header(doc, p, err, errlen) == -1 ||
	    decode_tables(cJSON_GetObjectItemCaseSensitive(doc, "tables"), p, err, errlen) == -1)
		goto out;
	rc = 0;
out:
	/* The tree holds the JWT private key: scrub its strings before freeing. */
	if (doc != NULL) {
		pl_json_scrub_jwk(doc);
		cJSON_Delete(doc);
	}
	if (rc == -1)
		payload_free(p);
	return rc;
}
