/* produce: export + generation + seal (see produce.h). */
#include "produce.h"

#include "envelope.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Appends the configuration pseudo-table to the snapshot's tables. */
static int add_app_config(struct snapshot *s, const struct appconfig *ac, char *err, size_t errlen)
{
	struct pl_table *t = realloc(s->p.tables, (s->p.ntables + 1) * sizeof(*t));

	if (t == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	s->p.tables = t;
	t = &s->p.tables[s->p.ntables++];
	if (appconfig_to_table(ac, t) == -1) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	appconfig_mix_hash(s->res.content_hash, ac);
	return 0;
}

int produce_snapshot(sqlite3 *db, const struct config *cfg, struct state *st,
		     const struct appconfig *ac, struct snapshot *s, char *err, size_t errlen)
{
	struct jwt_store_cfg keys = {cfg->encryption_key, cfg->encryption_key_len,
				     cfg->keys_storage, cfg->keys_path};

	memset(s, 0, sizeof(*s));
	if (export_snapshot(db, &keys, &s->p, &s->res, err, errlen) == -1)
		return -1;
	if (ac != NULL && add_app_config(s, ac, err, errlen) == -1) {
		payload_free(&s->p);
		return -1;
	}
	if (state_generation_advance(st, s->res.content_hash, &s->p.generation) == -1) {
		snprintf(err, errlen, "cannot advance the generation in the sidecar state");
		payload_free(&s->p);
		return -1;
	}
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
