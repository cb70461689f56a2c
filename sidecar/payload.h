/* payload: the SyncPayload document (proto/SPEC.md section 5) as an
 * in-memory model, its JSON codec through cJSON, and the lossless cell
 * values that move SQLite data between nodes. It does not seal (seal.c),
 * read Pocket ID's database (export.c) or write it (apply.c). */
#ifndef PIS_PAYLOAD_H
#define PIS_PAYLOAD_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PAYLOAD_FORMAT 1
#define PAYLOAD_MAX_TABLES 256
#define PAYLOAD_MAX_COLUMNS 256
#define PAYLOAD_MAX_NAME 128

enum pl_type { PL_NULL = 0, PL_INT, PL_REAL, PL_TEXT, PL_BLOB };

/* One SQLite value with its storage class. TEXT and BLOB hold len bytes
 * plus a NUL terminator not counted in len; they own those bytes unless the
 * bytes came from an arena, which then owns them. */
struct pl_value {
	enum pl_type type;
	size_t len;
	union {
		int64_t i;
		double r;
		uint8_t *bytes;
	} u;
};

/* Chunked byte storage for many cell values: one malloc per 64 KiB instead
 * of one per cell, freed all at once. Bytes handed out never move. An empty
 * arena is a NULL pointer. */
struct pl_arena;
/* Returns n bytes owned by *a, or NULL on allocation failure. */
uint8_t *pl_arena_alloc(struct pl_arena **a, size_t n);
void pl_arena_free(struct pl_arena **a);
/* Moves every block of *from into *into (bytes keep their addresses). */
void pl_arena_join(struct pl_arena **into, struct pl_arena **from);

struct pl_table {
	char *name;
	size_t ncols;
	char **cols;
	size_t nrows;
	struct pl_value *cells; /* nrows * ncols, row-major */
	struct pl_arena *arena; /* when non-NULL, owns the bytes of every cell */
};

struct payload {
	int format;
	uint8_t sender[32];
	uint8_t recipient[32];
	uint64_t generation;
	int64_t issued_at; /* Unix seconds, UTC */
	char *schema_version;
	size_t ntables;
	struct pl_table *tables;
	char *jwk_json; /* the JWT signing key as compact JWK JSON, or NULL */
};

void payload_free(struct payload *p);
/* Returns the table called name, or NULL. */
const struct pl_table *payload_table(const struct payload *p, const char *name);
static inline struct pl_value *pl_cell(const struct pl_table *t, size_t row, size_t col)
{
	return &t->cells[row * t->ncols + col];
}

/* Serialises p to compact JSON. On success *out is malloc'd (caller frees),
 * *len its length, and 0 is returned; -1 on allocation failure. */
int payload_encode(const struct payload *p, char **out, size_t *len);

/* Parses and validates a document: the raw-text rules (json_strict.h), then
 * exactly the members of format 1, each of the right type, rows of the right
 * width, every cell well-formed, names within limits. On error returns -1 with one line in err; *p is left empty.
 * A document of another format yields "unsupported payload format N". */
int payload_decode(const uint8_t *json, size_t len, struct payload *p, char *err, size_t errlen);

/* Cells. The functions that make a value take its bytes from *a when a is
 * not NULL (the arena then owns them), otherwise from malloc (v owns them). */
int pl_value_from_sqlite(struct pl_value *v, sqlite3_stmt *st, int col, struct pl_arena **a);
int pl_value_bind(sqlite3_stmt *st, int idx, const struct pl_value *v);
/* True when column col of the current row of st holds exactly v (same
 * storage class and bytes; REAL compared bit for bit). */
bool pl_value_equals_column(const struct pl_value *v, sqlite3_stmt *st, int col);
bool pl_value_equal(const struct pl_value *a, const struct pl_value *b);
/* Frees v's bytes (never call it on a value whose bytes an arena owns). */
void pl_value_clear(struct pl_value *v);
/* Encodes one cell in its "i:", "r:", "t:", "x:", "b:" form (malloc'd), or
 * returns NULL for a NULL value and sets *is_null. */
char *pl_value_encode(const struct pl_value *v, bool *is_null);
/* Decodes one cell string; returns 0 or -1. */
int pl_value_decode(const char *s, struct pl_value *v, struct pl_arena **a);

/* RFC 3339 UTC with seconds, e.g. "2026-11-22T20:00:00Z"; buf >= 21 bytes. */
void payload_format_time(int64_t t, char buf[static 21]);
int payload_parse_time(const char *s, int64_t *t);

#endif
