/* apply_full_simple: a format-2 full snapshot applied through the format-1
 * engine (every record decoded into one in-memory payload, then one plan).
 * Correct but not memory-bounded: a stand-in until the streamed engine. */
#include "apply2.h"

#include "appconfig.h"
#include "errbuf.h"

#include <stdlib.h>
#include <string.h>

enum apply_status apply_full2_payload(sqlite3 *db, const struct payload *p, const struct apply2_in *in,
				      const struct apply_opts *o, struct apply_result *r,
				      struct apply2_out *out, char *err, size_t errlen);

/* Appends the rows of t to the payload's table of that name (a table split
 * over several records). */
static int add_records(struct payload *p, struct doc2_table *t, char *err, size_t errlen)
{
	struct pl_table *have = NULL;

	if (p->ntables > 0 && strcmp(p->tables[p->ntables - 1].name, t->t.name) == 0)
		have = &p->tables[p->ntables - 1];
	if (have == NULL) {
		p->tables[p->ntables++] = t->t;
		memset(&t->t, 0, sizeof(t->t));
		return 0;
	}
	struct pl_value *cells = realloc(have->cells, (have->nrows + t->t.nrows) * have->ncols *
							      sizeof(struct pl_value) + 1);
	if (cells == NULL)
		return errf(err, errlen, "out of memory");
	have->cells = cells;
	memcpy(&cells[have->nrows * have->ncols], t->t.cells, t->t.nrows * t->t.ncols * sizeof(*cells));
	have->nrows += t->t.nrows;
	pl_arena_join(&have->arena, &t->t.arena); /* the bytes stay where they are */
	t->t.nrows = 0;
	return 0;
}

enum apply_status apply_full2(sqlite3 *db, const struct apply2_in *in, const struct apply_opts *o,
			      struct apply_result *r, struct apply2_out *out, char *err,
			      size_t errlen)
{
	struct doc2_reader rd;
	struct doc2_header h;
	struct doc2_table t;
	struct payload p = {0};
	enum apply_status st = APPLY_ERR_INVALID;
	int rc;

	memset(r, 0, sizeof(*r));
	doc2_reader_init(&rd, in->pt, in->pt_len);
	if (doc2_read_header(&rd, &h, err, errlen) == -1) {
		doc2_reader_free(&rd);
		return APPLY_ERR_INVALID;
	}
	doc2_header_free(&h);
	p.tables = calloc(in->h->ntables + 1, sizeof(struct pl_table));
	if (p.tables == NULL) {
		doc2_reader_free(&rd);
		errf(err, errlen, "out of memory");
		return APPLY_ERR_DB;
	}
	while ((rc = doc2_read_table(&rd, &t, err, errlen)) == 1) {
		rc = add_records(&p, &t, err, errlen);
		doc2_table_free(&t);
		if (rc == -1)
			break;
	}
	doc2_reader_free(&rd);
	if (rc == 0) {
		for (size_t i = 0; i < p.ntables; i++) {
			if (strcmp(p.tables[i].name, APPCONFIG_TABLE) != 0)
				continue;
			if ((out->app_config.tables = calloc(1, sizeof(struct pl_table))) == NULL) {
				rc = errf(err, errlen, "out of memory");
				break;
			}
			out->app_config.tables[0] = p.tables[i];
			out->app_config.ntables = 1;
			out->has_app_config = true;
			memmove(&p.tables[i], &p.tables[i + 1], (p.ntables - i - 1) * sizeof(p.tables[0]));
			p.ntables--;
			break;
		}
	}
	if (rc == 0) {
		p.format = DOC2_FORMAT;
		p.schema_version = strdup(in->h->schema_version);
		p.jwk_json = in->h->jwk_json != NULL ? strdup(in->h->jwk_json) : NULL;
		st = apply_full2_payload(db, &p, in, o, r, out, err, errlen);
	}
	payload_free(&p);
	return st;
}

void apply2_out_free(struct apply2_out *out)
{
	rowhash_skip_free(&out->kept);
	payload_free(&out->app_config);
	memset(out, 0, sizeof(*out));
}

const char *apply2_status_reason(enum apply_status st)
{
	if (st == APPLY_ERR_BASE)
		return "delta_base";
	if (st == APPLY_ERR_VERIFY)
		return "verify";
	return apply_status_reason(st);
}
