/* change_watch: the primary's answer to "did the durable content change
 * since the last look?", at the cost of what changed rather than of the
 * whole database. It keeps, per durable table, the set of pages its b-tree
 * and indexes occupy (from dbstat) and drives the ledger (ledger.h: a
 * digest per shipped row); the commits since the last look (wal_scan.c)
 * name the pages they wrote and the rowids on the leaf pages among them. A
 * table is looked at only when one of its pages was written (a change to a
 * b-tree always writes a page that was the b-tree's before), and then only
 * at the rows on the written leaf pages, unless a change cannot be traced
 * to rows (an overflow or freelist page, rows gone) and the table is read
 * whole. The content hash comes from the ledger's sums, in the same read
 * transaction. Whenever the reasoning cannot be trusted (no WAL, WAL
 * restarted past unread frames, schema or journal mode changed, no dbstat)
 * and every CHANGE_WATCH_VERIFY_MS anyway, it reads every table whole. It
 * never writes the database. */
#ifndef PIS_CHANGE_WATCH_H
#define PIS_CHANGE_WATCH_H

#include "export.h"

#include <sqlite3.h>
#include <stdint.h>

/* A full re-hash at least this often, as a safety net (5 minutes). */
#define CHANGE_WATCH_VERIFY_MS (5 * 60 * 1000)

struct change_watch_stats {
	uint64_t checks;	  /* calls */
	uint64_t full;		  /* of which re-hashed every table */
	uint64_t tables_rehashed; /* tables read whole */
	uint64_t tables_traced;	  /* tables read only at the rows the commits' leaf pages hold */
	uint64_t exports;	  /* content hashes computed */
	const char *full_reason;  /* why the last full re-hash happened (static) */
};

/* Test-only faults that break the reasoning on purpose, so the randomized
 * test can show it catches a watcher that misses changes. */
enum {
	CHANGE_WATCH_FAULT_NO_OVERFLOW = 1,  /* page sets leave out overflow pages */
	CHANGE_WATCH_FAULT_TRUST_WAL = 2,    /* an unreadable gap in the WAL is ignored */
	CHANGE_WATCH_FAULT_STALE_PAGES = 4,  /* page sets never refreshed after the first */
};

struct change_watch;

struct change_watch *change_watch_new(void);
void change_watch_free(struct change_watch *w);
/* Looks at db (outside any transaction; the caller saw PRAGMA data_version
 * move, or wants a look anyway) and fills res with the content hash of the
 * durable content as of now: computed afresh when anything durable may have
 * changed, the last one otherwise. Returns 0, or -1 with err set (the next
 * call then re-hashes everything). */
int change_watch_check(struct change_watch *w, sqlite3 *db, const struct jwt_store_cfg *keys,
		       struct export_result *res, char *err, size_t errlen);
/* The same, but on success the read transaction it looked in stays open,
 * so the caller can export exactly the content the result describes (the
 * caller COMMITs). The WAL is scanned again inside the transaction, so no
 * commit the snapshot holds goes unaccounted for. */
int change_watch_check_open(struct change_watch *w, sqlite3 *db, const struct jwt_store_cfg *keys,
			    struct export_result *res, char *err, size_t errlen);
struct ledger;
struct schema;
/* The watcher's ledger (row digests and journal) and the schema of its last
 * look (NULL before one), both owned by the watcher. */
struct ledger *change_watch_ledger(struct change_watch *w);
const struct schema *change_watch_schema(const struct change_watch *w);

/* Makes the next check re-hash every table. */
void change_watch_reset(struct change_watch *w);
const struct change_watch_stats *change_watch_stats(const struct change_watch *w);
void change_watch_test_faults(struct change_watch *w, unsigned faults);

#endif
