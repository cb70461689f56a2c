/* fxpair: see fxpair.h. */
#include "fxpair.h"

#include "export.h"
#include "pidb.h"
#include "pidfix.h"
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct pair pair_new(const char *version, bool seed_secondary)
{
	struct pair x = {tu_mkdtemp(), version, NULL, NULL, NULL};
	char err[256], path[1024];

	x.p = fx_create(x.dir, "primary.db", version, "11111111-aaaa", KEY_P, FX_JWK_A);
	x.s = fx_create(x.dir, "secondary.db", version, "22222222-bbbb", KEY_S, FX_JWK_B);
	fx_seed(x.p);
	if (seed_secondary)
		fx_seed(x.s);
	snprintf(path, sizeof(path), "%s/secondary.db", x.dir);
	assert_int_equal(pidb_open(path, 2000, &x.sdb, err, sizeof(err)), 0);
	return x;
}

void pair_free(struct pair *x)
{
	sqlite3_close(x->p);
	sqlite3_close(x->s);
	sqlite3_close(x->sdb);
	tu_rmtree(x->dir);
}

void make_payload(sqlite3 *db, const char *key, struct payload *out)
{
	struct jwt_store_cfg k = {(const uint8_t *)key, strlen(key), NULL, NULL};
	struct export_result er;
	struct payload p;
	char err[256], *json;
	size_t len;

	if (export_snapshot(db, &k, &p, &er, err, sizeof(err)) != 0)
		fail_msg("export: %s", err);
	p.generation = 1;
	p.issued_at = 1795000000;
	/* Through the codec, as on the wire. */
	assert_int_equal(payload_encode(&p, &json, &len), 0);
	payload_free(&p);
	if (payload_decode((const uint8_t *)json, len, out, err, sizeof(err)) != 0)
		fail_msg("decode: %s", err);
	free(json);
}

enum apply_status sync_opts(struct pair *x, struct apply_opts *o, struct apply_result *r, char *err)
{
	struct payload p;
	enum apply_status st;

	make_payload(x->p, KEY_P, &p);
	o->keys = (struct jwt_store_cfg){(const uint8_t *)KEY_S, strlen(KEY_S), NULL, NULL};
	st = apply_payload(x->sdb, &p, o, r, err, 256);
	payload_free(&p);
	return st;
}

void sync_ok(struct pair *x, struct apply_result *r)
{
	/* The fixtures are tiny: one deleted user is a third of them. The valve
	 * has its own test below. */
	struct apply_opts o = {.max_delete_percent = 100};
	char err[256];
	if (sync_opts(x, &o, r, err) != APPLY_OK)
		fail_msg("%s: apply: %s", x->version, err);
}

void assert_same_durable(struct pair *x)
{
	char *a = fx_dump_durable(x->p), *b = fx_dump_durable(x->s);
	if (strcmp(a, b) != 0)
		fail_msg("%s: durable data differs\nprimary:\n%s\nsecondary:\n%s", x->version, a, b);
	free(a);
	free(b);
}

size_t count_of(const struct apply_result *r, const char *table, char op)
{
	for (size_t i = 0; i < r->ntables; i++) {
		if (strcmp(r->tables[i].table, table) == 0)
			return op == 'i' ? r->tables[i].inserted : op == 'u' ? r->tables[i].updated : r->tables[i].deleted;
	}
	return 0;
}

