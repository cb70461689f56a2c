/* payload_json: the JSON pieces of payload.c that the format-2 codec
 * (doc2.c) shares with format 1: a row as a cJSON array, and the checked
 * decoders of names, columns, rows, keys, decimal strings and the JWK.
 * Internal to the two codecs. */
#ifndef PIS_PAYLOAD_JSON_H
#define PIS_PAYLOAD_JSON_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "payload.h"

/* A growing, NUL-terminated output buffer; failed sticks after an
 * allocation failure (the caller frees p either way). */
struct pl_out {
	char *p;
	size_t len, cap;
	bool failed;
};
void pl_out_put(struct pl_out *o, const char *s, size_t n);
void pl_out_str(struct pl_out *o, const char *s);
/* Prints item compactly, appends it and deletes it. */
void pl_out_json(struct pl_out *o, cJSON *item);

/* Row r of t as an array of cells; NULL on allocation failure. */
cJSON *pl_json_row(const struct pl_table *t, size_t r);
/* Frees everything t holds (wiping pseudo-tables' values), not t itself. */
void pl_table_free(struct pl_table *t);

bool pl_json_has_duplicate(const cJSON *obj);
/* 1-128 bytes. */
bool pl_json_name_ok(const char *s);
/* Fills t->cols/ncols (t->name names the table in messages). */
int pl_json_decode_columns(const cJSON *cols, struct pl_table *t, char *err, size_t errlen);
/* Fills t->cells/nrows from rows of t->ncols cells, into t->arena; deletes
 * each row's subtree once decoded. */
int pl_json_decode_rows(cJSON *rows, struct pl_table *t, char *err, size_t errlen);
int pl_json_decode_key(const cJSON *j, const char *name, uint8_t out[32], char *err, size_t errlen);
int pl_json_decode_u64(const cJSON *j, const char *name, uint64_t *out, char *err, size_t errlen);
bool pl_json_tree_is_lossy(const cJSON *j);
/* A JWK object (or null: *out NULL) as compact JSON in *out (malloc'd). */
int pl_json_decode_jwk(const cJSON *jwk, char **out, char *err, size_t errlen);
/* Wipes the strings of doc's "jwt_key" member before the tree is freed. */
void pl_json_scrub_jwk(cJSON *doc);

#endif
