/* produce: look + generation + ledger, then format 1 or the sealed format 2
 * (see produce.h). */
#include "produce.h"

#include "envelope.h"
#include "errbuf.h"
#include "export2.h"
#include "ledger.h"
#include "seal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static struct jwt_store_cfg keys_of(const struct config *cfg)
{
	return (struct jwt_store_cfg){cfg->encryption_key, cfg->encryption_key_len,
				      cfg->keys_storage, cfg->keys_path};
}

int produce_begin(struct change_watch *w, sqlite3 *db, const struct config *cfg, struct state *st,
		  const struct appconfig *ac, struct produced *pr, char *err, size_t errlen)
{
	struct jwt_store_cfg keys = keys_of(cfg);
	uint8_t hash[32];

	memset(pr, 0, sizeof(*pr));
	if (change_watch_check_open(w, db, &keys, &pr->res, err, errlen) == -1)
		return -1;
	memcpy(hash, pr->res.content_hash, 32);
	if (ac != NULL) {
		appconfig_mix_hash(hash, ac);
		appconfig_hash(ac, pr->appcfg_digest);
	}
	if (state_generation_advance(st, hash, &pr->generation) == -1) {
		produce_end(db);
		return errf(err, errlen, "cannot advance the generation in the sidecar state");
	}
	ledger_file(change_watch_ledger(w), pr->generation, pr->res.jwk_digest, pr->appcfg_digest);
	return 0;
}

void produce_end(sqlite3 *db)
{
	if (!sqlite3_get_autocommit(db))
		sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
}

/* Appends the configuration pseudo-table to the snapshot's tables. */
static int add_app_config(struct snapshot *s, const struct appconfig *ac, char *err, size_t errlen)
{
	struct pl_table *t = realloc(s->p.tables, (s->p.ntables + 1) * sizeof(*t));

	if (t == NULL)
		return errf(err, errlen, "out of memory");
	s->p.tables = t;
	t = &s->p.tables[s->p.ntables++];
	if (appconfig_to_table(ac, t) == -1)
		return errf(err, errlen, "out of memory");
	return 0;
}

int produce_v1(sqlite3 *db, const struct config *cfg, const struct produced *pr,
	       const struct appconfig *ac, struct snapshot *s, char *err, size_t errlen)
{
	struct jwt_store_cfg keys = keys_of(cfg);

	memset(s, 0, sizeof(*s));
	if (export_in_txn(db, &keys, &s->p, &s->res, err, errlen) == -1)
		return -1;
	if (ac != NULL && add_app_config(s, ac, err, errlen) == -1) {
		payload_free(&s->p);
		return -1;
	}
	s->p.generation = pr->generation;
	s->p.issued_at = (int64_t)time(NULL);
	return 0;
}

int produce_seal(struct snapshot *s, const struct node_key *me, const uint8_t recipient[static 32],
		 size_t max_wire, uint8_t **wire, size_t *wire_len, char *err, size_t errlen)
{
	memcpy(s->p.sender, me->pub, 32);
	memcpy(s->p.recipient, recipient, 32);
	return envelope_seal(&s->p, me, max_wire, wire, wire_len, err, errlen);
}

void produce_free(struct snapshot *s) { payload_free(&s->p); }

/* ---- format 2 ---- */

struct stream_sink {
	struct seal_stream *ss;
	size_t max;
};

static int put_record(void *arg, const char *rec, size_t len, char *err, size_t errlen)
{
	struct stream_sink *k = arg;
	enum seal_status st = seal_stream_put(k->ss, (const uint8_t *)rec, len);

	if (st == SEAL_ERR_TOO_LARGE)
		return 0; /* keep counting: the refusal says how large it would be */
	if (st != SEAL_OK)
		return errf(err, errlen, "cannot seal: %s", seal_strerror(st));
	return 0;
}

/* Whether a delta from base can be made and is worth it. Returns 1 with *d
 * set, 0 when a full snapshot is due, -1 out of memory. */
static int plan_delta(struct change_watch *w, const struct produced *pr,
		      const struct produce_base *base, struct ledger_delta *d)
{
	struct ledger_stats ls;
	int rc;

	if (base == NULL || !base->has || base->generation >= pr->generation)
		return 0;
	rc = ledger_plan(change_watch_ledger(w), base->generation, base->rows_hash, d);
	if (rc != 0)
		return rc == 1 ? 0 : -1;
	ledger_stats(change_watch_ledger(w), &ls);
	if (d->generation != pr->generation || 2 * d->nkeys > ls.rows) {
		ledger_delta_free(d); /* as large as the content: a full snapshot is simpler */
		return 0;
	}
	return 1;
}

int produce_v2(struct change_watch *w, sqlite3 *db, const struct config *cfg,
	       const struct node_key *me, const struct produced *pr, const struct appconfig *ac,
	       const uint8_t recipient[static 32], const struct produce_base *base,
	       uint8_t **wire, size_t *wire_len, enum doc2_kind *kind, char *err, size_t errlen)
{
	struct jwt_store_cfg keys = keys_of(cfg);
	const struct schema *s = change_watch_schema(w);
	struct stream_sink sink = {NULL, cfg->max_payload_bytes};
	struct doc2_sink out = {put_record, &sink};
	struct doc2_header h = {0};
	struct ledger_delta d;
	enum seal_status st;
	int delta, rc;

	*wire = NULL;
	*wire_len = 0;
	if (s == NULL)
		return errf(err, errlen, "no look at the database yet");
	if ((delta = plan_delta(w, pr, base, &d)) == -1)
		return errf(err, errlen, "out of memory");
	if ((st = seal_stream_begin(me, recipient, cfg->max_payload_bytes, &sink.ss)) != SEAL_OK) {
		if (delta == 1)
			ledger_delta_free(&d);
		return errf(err, errlen, "cannot seal: %s", seal_strerror(st));
	}
	memcpy(h.sender, me->pub, 32);
	memcpy(h.recipient, recipient, 32);
	h.generation = pr->generation;
	memcpy(h.rows_hash, pr->res.rows_hash, 32);
	h.issued_at = (int64_t)time(NULL);
	if (delta == 1) {
		h.base_generation = base->generation;
		memcpy(h.base_rows_hash, base->rows_hash, 32);
		rc = export2_delta(db, s, &keys, ac, &d, &h, &out, err, errlen);
		ledger_delta_free(&d);
	} else {
		rc = export2_full(db, s, &keys, ac, &h, &out, err, errlen);
	}
	*kind = delta == 1 ? DOC2_DELTA : DOC2_FULL;
	if (rc == 0 && seal_stream_size(sink.ss) > cfg->max_payload_bytes) {
		*wire_len = seal_stream_size(sink.ss);
		errf(err, errlen, "the payload would be %zu bytes, more than SYNC_MAX_PAYLOAD_SIZE (%zu); "
				  "raise it on both nodes", *wire_len, (size_t)cfg->max_payload_bytes);
		rc = -1;
	}
	if (rc == -1) {
		seal_stream_abort(sink.ss);
		return -1;
	}
	if ((st = seal_stream_end(sink.ss, wire, wire_len)) != SEAL_OK)
		return errf(err, errlen, "cannot seal: %s", seal_strerror(st));
	return 0;
}
