/* apply_rules: shared apply policy and its messages (see apply_rules.h). */
#include "apply_rules.h"

#include "errbuf.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

double apply_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Mixes n bytes into h eight at a time (a byte-at-a-time FNV was most of
 * the diff's time). */
static uint64_t mix(uint64_t h, const void *p, size_t n)
{
	const uint8_t *b = p;
	uint64_t w;

	for (; n >= 8; b += 8, n -= 8) {
		memcpy(&w, b, 8);
		h = (h ^ w) * 0x9e3779b97f4a7c15ull;
		h ^= h >> 29;
	}
	w = (uint64_t)n << 56;
	if (n > 0)
		memcpy(&w, b, n); /* n < 8: the top byte keeps n */
	h = (h ^ w) * 0x9e3779b97f4a7c15ull;
	return h ^ (h >> 29);
}

uint64_t apply_hash_value(uint64_t h, const struct pl_value *v)
{
	h = mix(h, &v->type, sizeof(v->type));
	if (v->type == PL_INT)
		return mix(h, &v->u.i, 8);
	if (v->type == PL_REAL)
		return mix(h, &v->u.r, 8);
	if (v->type != PL_NULL)
		return mix(h, v->u.bytes, v->len);
	return h;
}

int apply_check_version(const struct schema *s, const char *primary, char *err, size_t errlen)
{
	if (strcmp(s->version, primary) != 0)
		return errf(err, errlen, "Pocket ID schema version differs: this node %s, primary %s; "
				    "upgrade Pocket ID on both nodes to the same release",
			    s->version, primary);
	return 0;
}

int apply_check_table(const struct schema *s, const char *name, char *err, size_t errlen)
{
	if (name[0] == '@') /* values from Pocket ID's API, not a table */
		return 0;
	if (schema_classify(name) != TABLE_DURABLE)
		return errf(err, errlen, "the payload carries table %s, which is never shipped", name);
	if (schema_table(s, name) == NULL)
		return errf(err, errlen, "the payload carries table %s, which this database lacks "
				    "(upgrade Pocket ID on both nodes to the same release)", name);
	return 0;
}

int apply_map_columns(const struct schema_table *t, const struct pl_table *pt, size_t *map,
		      char *err, size_t errlen)
{
	if (pt->ncols != t->ncols)
		return errf(err, errlen, "table %s has %zu columns here and %zu in the payload",
			    t->name, t->ncols, pt->ncols);
	for (size_t c = 0; c < t->ncols; c++) {
		size_t k = 0;
		while (k < pt->ncols && strcmp(pt->cols[k], t->cols[c]) != 0)
			k++;
		if (k == pt->ncols)
			return errf(err, errlen, "table %s: column %s is missing from the payload",
				    t->name, t->cols[c]);
		map[c] = k;
	}
	return 0;
}

int apply_valve(const char *table, size_t ndel, size_t nlocal, const struct apply_opts *o,
		char *err, size_t errlen)
{
	if (o->force || (strcmp(table, "users") != 0 && strcmp(table, "webauthn_credentials") != 0))
		return 0;
	if (nlocal > 0 && ndel * 100 > (size_t)o->max_delete_percent * nlocal)
		return errf(err, errlen,
			    "refusing to delete %zu of %zu %s (more than "
			    "SYNC_MAX_DELETE_PERCENT=%d%%); if the primary really lost "
			    "them, apply with --force",
			    ndel, nlocal, table, o->max_delete_percent);
	return 0;
}

bool apply_is_cimd(const struct pl_value *v)
{
	return v->type == PL_TEXT && v->len == 4 && memcmp(v->u.bytes, "cimd", 4) == 0;
}

bool apply_has_prefix(const struct pl_value *v, const char *prefix)
{
	size_t n = strlen(prefix);

	return (v->type == PL_TEXT || v->type == PL_BLOB) && v->len >= n &&
	       memcmp(v->u.bytes, prefix, n) == 0;
}

const char *apply_restart_reason(const struct schema_table *t, const struct apply_opts *o,
				 size_t nchanges, bool touches_cached)
{
	if (t->cached_by_pocket_id && !o->app_config_from_env && nchanges > 0)
		return "app_config";
	if (touches_cached)
		return "app_images";
	return NULL;
}

void apply_note_unknown(struct apply_result *r, const struct schema *s)
{
	r->nunknown = 0;
	for (size_t i = 0; i < s->nunknown && i < 16; i++)
		snprintf(r->unknown[r->nunknown++], 64, "%s", s->unknown[i]);
}

int apply_jwt_compare(sqlite3 *db, const struct apply_opts *o, const char *jwk, bool in_file,
		      struct apply_result *r, bool *kv_changed, char *err, size_t errlen)
{
	*kv_changed = false;
	r->jwt_changed = false;
	if (jwk != NULL && !in_file &&
	    jwt_store_write_kv(db, &o->keys, jwk, true, kv_changed, err, errlen) == -1)
		return -1;
	if (jwk != NULL && in_file &&
	    jwt_store_write_file(db, &o->keys, jwk, true, &r->jwt_changed, err, errlen) == -1)
		return -1;
	r->jwt_changed = r->jwt_changed || *kv_changed;
	if (r->jwt_changed)
		r->restart_why = "jwt_key";
	r->restart_needed = r->restart_needed || r->jwt_changed;
	return 0;
}

int apply_jwt_write_kv(sqlite3 *db, const struct apply_opts *o, const char *jwk, char *err,
		       size_t errlen)
{
	bool changed;

	return jwt_store_write_kv(db, &o->keys, jwk, false, &changed, err, errlen);
}

int apply_jwt_after_commit(sqlite3 *db, const struct apply_opts *o, const char *jwk,
			   const struct apply_result *r, char *err, size_t errlen)
{
	bool changed;

	if (!r->jwt_changed || o->dry_run || jwk == NULL ||
	    jwt_store_location(db, &o->keys) != JWT_IN_FILE)
		return 0;
	return jwt_store_write_file(db, &o->keys, jwk, false, &changed, err, errlen);
}

int apply_restart_hook(const struct apply_opts *o, const struct apply_result *r, char *err,
		       size_t errlen)
{
	if (r->restart_needed && o->before_cached_write != NULL &&
	    o->before_cached_write(o->hook_arg) == -1)
		return errf(err, errlen, "cannot record in state.db the restart this apply needs; "
				    "nothing was changed");
	return 0;
}
