/* produce: export + generation + seal (see produce.h). */
#include "produce.h"

#include "envelope.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

int produce_snapshot(sqlite3 *db, const struct config *cfg, struct state *st,
		     struct snapshot *s, char *err, size_t errlen)
{
	struct jwt_store_cfg keys = {cfg->encryption_key, cfg->encryption_key_len,
				     cfg->keys_storage, cfg->keys_path};

	memset(s, 0, sizeof(*s));
	if (export_snapshot(db, &keys, &s->p, &s->res, err, errlen) == -1)
		return -1;
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
