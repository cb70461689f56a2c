/* produce: the primary's side of a sync: look at the database through the
 * change watcher in a read transaction that stays open, give the content
 * the generation it deserves (unchanged content keeps the number) and file
 * it in the ledger, then build from that same transaction a format-1
 * snapshot or a sealed format-2 document (a delta when the peer holds a
 * base the ledger can start from, else a streamed full snapshot). Shared
 * by the daemon and the `export` command. */
#ifndef PIS_PRODUCE_H
#define PIS_PRODUCE_H
#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "appconfig.h"
#include "change_watch.h"
#include "config.h"
#include "doc2.h"
#include "export.h"
#include "keys.h"
#include "payload.h"
#include "state.h"

struct produced {
	uint64_t generation;
	struct export_result res; /* the hashes of the open snapshot */
	uint8_t appcfg_digest[32]; /* appconfig_hash, or zeros without one */
};

/* Looks (change_watch_check_open), advances the generation in st and files
 * it in the watcher's ledger. ac, when not NULL, is the application
 * configuration read from Pocket ID's API: it counts in the content hash.
 * On success the read transaction is open: end it with produce_end.
 * Returns 0, or -1 with err (no transaction open). */
int produce_begin(struct change_watch *w, sqlite3 *db, const struct config *cfg, struct state *st,
		  const struct appconfig *ac, struct produced *pr, char *err, size_t errlen);
void produce_end(sqlite3 *db);

/* Format 1: the snapshot of the open transaction (ac as the pseudo-table
 * "@app_configuration"), for peers that ask for protocol v1. */
struct snapshot {
	struct payload p;
	struct export_result res;
};
int produce_v1(sqlite3 *db, const struct config *cfg, const struct produced *pr,
	       const struct appconfig *ac, struct snapshot *s, char *err, size_t errlen);
/* Seals s for recipient. *wire is malloc'd. A payload over max_wire is
 * refused with *wire_len set to its size. Returns 0, or -1 with err. */
int produce_seal(struct snapshot *s, const struct node_key *me, const uint8_t recipient[static 32],
		 size_t max_wire, uint8_t **wire, size_t *wire_len, char *err, size_t errlen);
void produce_free(struct snapshot *s);

/* What a v2 peer says it holds (X-Pocket-Id-Sync-Base). */
struct produce_base {
	bool has;
	uint64_t generation;
	uint8_t rows_hash[32];
};

/* Format 2, sealed for recipient in one pass (never holding the plaintext):
 * a delta from base when the ledger can make one and it is smaller than
 * the content, else a full snapshot; *kind says which. Over max_wire:
 * refused with *wire_len set to the size it would have (> max_wire).
 * Returns 0, or -1 with err. */
int produce_v2(struct change_watch *w, sqlite3 *db, const struct config *cfg,
	       const struct node_key *me, const struct produced *pr, const struct appconfig *ac,
	       const uint8_t recipient[static 32], const struct produce_base *base,
	       uint8_t **wire, size_t *wire_len, enum doc2_kind *kind, char *err, size_t errlen);
#endif
