/* ingest: what a secondary does with sealed bytes from its primary (the
 * daemon's poller and the offline `apply` command share it): serialise with
 * other applies, open and check the envelope, refuse replays and rollbacks,
 * apply, record the generation, restart Pocket ID when needed, and write the
 * application configuration through Pocket ID's API when it moves that way. */
#ifndef PIS_INGEST_H
#define PIS_INGEST_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "apply.h"
#include "appconfig_step.h"
#include "doc2.h"
#include "rowhash.h"
#include "config.h"
#include "keys.h"
#include "state.h"

struct ingest_result {
	bool ok;
	const char *reason;   /* metrics failure reason when !ok */
	bool same_generation; /* nothing to do: already applied */
	uint64_t generation;
	int64_t issued_at;
	struct apply_result apply;
	int restart; /* -1 failed, 0 ok, 1 needed but no command, 2 not needed */
	size_t capture_clients; /* see drift_callback_capture_clients */
	enum appconfig_outcome app_config; /* the configuration step after the apply */
	size_t app_config_keys;		   /* keys it wrote */
	int format;			   /* 1 or 2 */
	enum doc2_kind kind;		   /* format 2: full or delta */
	bool verified;			   /* format 2 applied: sum is this node's content */
	uint8_t rows_hash[32];
	struct lthash sum;
	struct rowhash_skip kept; /* format 2 full: CIMD clients kept (free: ingest_result_free) */
};
void ingest_result_free(struct ingest_result *r);

/* Applies wire to db (opened with pidb_open) as io says. Returns 0, or -1 with err
 * holding one line and r->reason set. */
struct ingest_opts {
	bool dry_run; /* change nothing, record nothing */
	bool force;   /* override the mass-delete valve */
	bool reapply; /* reconcile even when this generation was applied before */
	/* The media type the primary answered with (protocol.h), or NULL to
	 * tell the formats apart by the plaintext (the offline `apply`). */
	const char *media;
	/* Format 2: the LtHash sum of its rows this node verified for its last
	 * applied generation (NULL: none, a delta is refused) and the CIMD
	 * clients it keeps out of it. */
	const struct lthash *verified_sum;
	const struct rowhash_skip *kept;
};

/* A format-2 wire is decrypted in place: wire's bytes are the plaintext
 * afterwards (the caller wipes them), or wiped when the seal did not open. */
int ingest_wire(const struct config *cfg, const struct node_key *me, struct state *st,
		sqlite3 *db, uint8_t *wire, size_t wire_len, const struct ingest_opts *io,
		struct ingest_result *r, char *err, size_t errlen);
/* The rows hash recorded with the last applied generation from the pinned
 * primary (state.db): 0 with *gen and out set, 1 when none is recorded. */
int ingest_recorded_rows_hash(struct state *st, uint64_t *gen, uint8_t out[static 32]);

/* Runs SYNC_RESTART_COMMAND again if its last run failed (see ingest.c).
 * Returns what restart_pocket_id returned, or 2 when nothing was pending. */
int ingest_retry_restart(const struct config *cfg, struct state *st);

#endif
