/* ledger: the primary's memory of its durable rows, which makes deltas
 * possible: per table, a row digest (rowhash.h) by key and the table's
 * LtHash sum; and a journal of the keys that changed at each generation.
 * It learns what changed by re-reading a table the caller names (inside
 * the caller's read transaction) and comparing digests; it plans a delta
 * as the union of the keys changed after a base generation. It reads the
 * database only when told to; it never writes it and never seals. */
#ifndef PIS_LEDGER_H
#define PIS_LEDGER_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "payload.h"
#include "rowhash.h"
#include "schema.h"

/* The journal keeps at most this many generations and changed keys; older
 * bases get full snapshots. */
#define LEDGER_MAX_GENERATIONS 4096
#define LEDGER_MAX_KEYS 262144

struct ledger;
struct ledger *ledger_new(void);
void ledger_free(struct ledger *l);

/* Re-reads table t (export_select_sql) inside the caller's read
 * transaction and records every key whose row was added, changed or
 * removed since the last read of t; *changed is set when any was. The first
 * read of a table records nothing (there is no earlier state to differ
 * from). Returns 0, or -1 with err (the ledger then forgets the journal). */
int ledger_rescan(struct ledger *l, sqlite3 *db, const struct schema_table *t, bool *changed,
		  char *err, size_t errlen);
/* The same for the rows with these rowids only (a rowid table whose changes
 * the caller traced to them: the cells of the leaf pages the commits
 * wrote). Rows gone from the table cannot be traced that way: when the
 * table's shipped row count is not what the ledger then holds, *complete
 * is false and the caller must ledger_rescan the table. Also false when the
 * table was never read whole. */
int ledger_rescan_rowids(struct ledger *l, sqlite3 *db, const struct schema_table *t,
			 const int64_t *rowids, size_t n, bool *changed, bool *complete, char *err,
			 size_t errlen);
/* Tables the ledger knows but s no longer has: their rows count as removed
 * (*changed). Call after a schema load. */
void ledger_retain(struct ledger *l, const struct schema *s, bool *changed);
/* Drops the journal (after a schema change, the old generations cannot be
 * bases any more); the row digests stay. */
void ledger_forget_journal(struct ledger *l);

/* The rows hash (proto/SPEC.md 5B) of what the ledger last read. */
void ledger_rows_hash(const struct ledger *l, uint8_t out[static 32]);
/* The generation's content hash: the schema version, every table of s with
 * the digest of its sum, and the JWT key's digest (rowhash_content_*). */
void ledger_content_hash(const struct ledger *l, const struct schema *s,
			 const uint8_t jwk_digest[static 32], uint8_t out[static 32]);

/* Files the keys recorded since the last call under generation gen, the
 * generation the content now has, with the digests of what travels beside
 * the rows (JWT key, application configuration from the API, all zero when
 * none). A gen equal to the last filed one merges into it. */
void ledger_file(struct ledger *l, uint64_t gen, const uint8_t jwk_digest[static 32],
		 const uint8_t appcfg_digest[static 32]);

struct ledger_delta_table {
	const char *name; /* the ledger's */
	size_t nkey;	  /* key columns */
	size_t n;	  /* keys */
	struct pl_value *keys; /* n * nkey, bytes in arena */
	struct pl_arena *arena;
};

struct ledger_delta {
	uint64_t base, generation;
	size_t ntables;
	struct ledger_delta_table *t;
	size_t nkeys; /* over all tables */
	bool jwk_changed, appcfg_changed;
};

/* The keys changed after base up to the last filed generation, when the
 * journal reaches back to base and its rows hash there is base_hash.
 * Returns 0 (*d filled; free with ledger_delta_free), 1 when no delta can
 * be made from that base, -1 when out of memory. */
int ledger_plan(const struct ledger *l, uint64_t base, const uint8_t base_hash[static 32],
		struct ledger_delta *d);
void ledger_delta_free(struct ledger_delta *d);

struct ledger_stats {
	size_t rows;	    /* row digests held */
	size_t generations; /* journal entries */
	size_t keys;	    /* keys in the journal */
	uint64_t oldest;    /* oldest generation a delta can start from (0 = none) */
};
void ledger_stats(const struct ledger *l, struct ledger_stats *s);

#endif
