/* Fuzz target: doc2_check (the format-2 document a secondary reads after
 * the seal opened) and, for what it accepts, a re-encoding of every record
 * through the encoder, which must be accepted again with the same header. */
#include "doc2.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct out {
	char *p;
	size_t len;
};

static void add(struct out *o, char *rec, size_t n)
{
	char *np = realloc(o->p, o->len + n);

	if (np == NULL)
		abort();
	memcpy(np + o->len, rec, n);
	o->p = np;
	o->len += n;
	free(rec);
}

/* Every record of an accepted document, re-encoded. */
static void reencode(const uint8_t *data, size_t size, struct out *o, struct doc2_header *h)
{
	struct doc2_reader r;
	struct doc2_table t;
	char err[256], *rec;
	size_t n;
	int rc;

	doc2_reader_init(&r, data, size);
	if (doc2_read_header(&r, h, err, sizeof(err)) != 0 || doc2_encode_header(h, &rec, &n) != 0)
		abort(); /* doc2_check accepted it */
	add(o, rec, n);
	while ((rc = doc2_read_table(&r, &t, err, sizeof(err))) == 1) {
		if (doc2_encode_table(&t, &rec, &n) != 0)
			abort();
		add(o, rec, n);
		doc2_table_free(&t);
	}
	if (rc != 0)
		abort();
	doc2_reader_free(&r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct doc2_header h, a, b;
	struct out o = {NULL, 0};
	char err[256];

	if (doc2_check(data, size, &h, err, sizeof(err)) != 0)
		return 0;
	reencode(data, size, &o, &a);
	if (doc2_check((const uint8_t *)o.p, o.len, &b, err, sizeof(err)) != 0)
		abort();
	if (a.kind != b.kind || a.generation != b.generation || a.ntables != b.ntables ||
	    a.has_jwt != b.has_jwt || memcmp(a.rows_hash, b.rows_hash, 32) != 0 ||
	    (a.jwk_json == NULL) != (b.jwk_json == NULL) ||
	    (a.jwk_json != NULL && strcmp(a.jwk_json, b.jwk_json) != 0))
		abort();
	doc2_header_free(&h);
	doc2_header_free(&a);
	doc2_header_free(&b);
	free(o.p);
	return 0;
}
