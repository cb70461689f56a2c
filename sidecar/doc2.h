/* doc2: the format-2 payload document (proto/SPEC.md section 5A): a header
 * record and table records, one compact JSON object per line. It encodes
 * one record at a time (so a primary streams a full snapshot into the seal)
 * and reads one record at a time from an opened plaintext (so a secondary
 * never holds a large table as one JSON tree). It does not seal (seal.c),
 * read the database (export2.c) or write it (apply_full.c, apply.c). */
#ifndef PIS_DOC2_H
#define PIS_DOC2_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "payload.h"

#define DOC2_FORMAT 2
#define DOC2_ROWS_PER_RECORD 1024

enum doc2_kind { DOC2_FULL = 1, DOC2_DELTA = 2 };

struct doc2_header {
	enum doc2_kind kind;
	uint8_t sender[32];
	uint8_t recipient[32];
	uint64_t generation;
	uint64_t base_generation;   /* delta only */
	uint8_t base_rows_hash[32]; /* delta only */
	uint8_t rows_hash[32];
	int64_t issued_at;
	char *schema_version;
	bool has_jwt;	/* full: always; delta: the key changed since the base */
	char *jwk_json; /* the JWK as compact JSON, NULL for JSON null */
	uint64_t ntables; /* table records that follow */
	bool app_config_api; /* "app_config": "api": the configuration travels as
			      * "@app_configuration", not as app_config_variables */
};

/* One table record. t.name, t.cols and t.cells as in format 1 (t.arena
 * owns the cells' bytes and those of deleted). */
struct doc2_table {
	struct pl_table t;
	bool changes; /* a delta's changes record: key and deleted are set */
	size_t nkey;
	char **key;
	size_t ndeleted;
	struct pl_value *deleted; /* ndeleted * nkey */
};

void doc2_header_free(struct doc2_header *h);
void doc2_table_free(struct doc2_table *t);

/* A record as compact JSON plus "\n", malloc'd in *out (the header holds
 * the JWK: free it with OPENSSL_clear_free). Return 0, or -1 when out of
 * memory. doc2_encode_rows encodes rows [first, first + n) of t as a record
 * of t (a part of a full snapshot, or a whole record); doc2_encode_table a
 * whole table record, or a changes record when dt->changes. */
int doc2_encode_header(const struct doc2_header *h, char **out, size_t *len);
int doc2_encode_rows(const struct pl_table *t, size_t first, size_t n, char **out, size_t *len);
int doc2_encode_table(const struct doc2_table *dt, char **out, size_t *len);

/* Reads records from an opened plaintext it does not own. */
struct doc2_reader {
	const uint8_t *buf;
	size_t len, off;
	enum doc2_kind kind;
	uint64_t expected, seen; /* table records announced and read */
	char last[PAYLOAD_MAX_NAME + 1]; /* the table of the previous record */
	char **names;	/* tables whose run has ended (case folded compare) */
	size_t nnames;
	char **prev_cols; /* the previous record's columns */
	size_t nprev_cols;
};

void doc2_reader_init(struct doc2_reader *r, const uint8_t *buf, size_t len);
void doc2_reader_free(struct doc2_reader *r);
/* The header, the first record. Returns 0, or -1 with one line in err ("unsupported
 * payload format N (this build reads 1 and 2)" for another format). */
int doc2_read_header(struct doc2_reader *r, struct doc2_header *h, char *err, size_t errlen);
/* The next table record: 1 with *t filled, 0 at the end (every announced
 * record read and nothing left), -1 with err. The checks of section 5A
 * that span records (runs, repeated tables, at most 256 tables, the count)
 * are made here. */
int doc2_read_table(struct doc2_reader *r, struct doc2_table *t, char *err, size_t errlen);
/* Reads a whole document, checking every record (fuzzing, `open`). */
int doc2_check(const uint8_t *buf, size_t len, struct doc2_header *h, char *err, size_t errlen);

/* True when the first line of buf is a JSON object with "format": 2 (how
 * the offline `apply` tells the formats apart; the daemon goes by the media
 * type). */
bool doc2_sniff(const uint8_t *buf, size_t len);

#endif
