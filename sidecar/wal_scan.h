/* wal_scan: reads Pocket ID's write-ahead log and its wal-index (the -wal and
 * -shm files beside the database) through the sidecar's own SQLite handles
 * of them (a second descriptor closed in this process would drop SQLite's
 * POSIX locks), read-only, to learn which pages the commits since the last
 * scan wrote. It never writes, locks or checkpoints either file, and it
 * never guesses: whenever the frames since the last scan
 * cannot all be accounted for (WAL restarted more than once, truncated,
 * overwritten, absent, torn, or no scan before), it says so and the caller
 * must treat every page as written. It knows nothing about tables. */
#ifndef PIS_WAL_SCAN_H
#define PIS_WAL_SCAN_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Where the last scan stopped: after a commit frame of the WAL with these
 * salts, and the running checksum there (to recognise the next frame of the
 * same WAL after a restart). */
struct wal_pos {
	bool valid;
	uint8_t salt[8];  /* raw header bytes 16..23 */
	uint32_t frame;	  /* frames 1..frame were scanned; 0 = none */
	uint32_t cksum[2];
};

struct wal_pages {
	size_t n, cap;
	uint32_t *pgno; /* sorted, unique after wal_scan */
	/* From the page images of those frames: the rowid of every cell of
	 * every table-leaf image (pgno, rowid pairs, any order, repeats), and
	 * the pages that had an image of no b-tree type (overflow, freelist):
	 * a change to those cannot be traced to rows. */
	size_t nrows, caprows;
	struct wal_leaf_row {
		uint32_t pgno;
		int64_t rowid;
	} *rows;
	size_t nopaque, capopaque;
	uint32_t *opaque; /* sorted, unique */
};

enum wal_scan_result {
	WAL_SCAN_PAGES,	 /* pages holds every page committed since pos */
	WAL_SCAN_RESCAN, /* the caller must treat every page as written */
};

/* Scans the commits published in db's wal-index since *pos and moves *pos to
 * the last of them. db must be in WAL mode and have read before (so SQLite
 * has opened both files), outside a transaction; the caller begins its read
 * transaction afterwards, so it sees at least those commits. On WAL_SCAN_RESCAN *pos is re-anchored at the
 * current end (or invalidated) and why says why in a few words. pages is
 * emptied first; free it with wal_pages_free. */
enum wal_scan_result wal_scan(sqlite3 *db, struct wal_pos *pos, struct wal_pages *pages,
			      const char **why);
void wal_pages_free(struct wal_pages *p);
/* True when pgno is in the sorted array a of n pages. */
bool wal_pages_has(const uint32_t *a, size_t n, uint32_t pgno);

#endif
