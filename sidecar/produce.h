/* produce: the primary's side of a sync: take a snapshot, give it the
 * generation its content deserves (unchanged content keeps the number), and
 * seal it for one peer. Shared by the daemon and the `export` command. */
#ifndef PIS_PRODUCE_H
#define PIS_PRODUCE_H

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

#include "appconfig.h"
#include "config.h"
#include "export.h"
#include "keys.h"
#include "payload.h"
#include "state.h"

struct snapshot {
	struct payload p;
	struct export_result res;
};

/* Exports db and advances the generation in st. ac, when not NULL, is the
 * application configuration read from Pocket ID's API: it travels as the
 * pseudo-table "@app_configuration" and counts in the content hash. Returns
 * 0, or -1 with err. */
int produce_snapshot(sqlite3 *db, const struct config *cfg, struct state *st,
		     const struct appconfig *ac, struct snapshot *s, char *err, size_t errlen);
/* Seals s for recipient. *wire is malloc'd. Returns 0, or -1 with err. */
int produce_seal(struct snapshot *s, const struct node_key *me, const uint8_t recipient[static 32],
		 size_t max_wire, uint8_t **wire, size_t *wire_len, char *err, size_t errlen);
void produce_free(struct snapshot *s);

#endif
