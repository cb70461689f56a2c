/* apply_full: what the format-2 full-snapshot applier held in memory at
 * once, for tests that prove its bound by counting instead of timing.
 * apply_full2 (apply2.h) is the interface; this header adds nothing the
 * daemon needs. */
#ifndef PIS_APPLY_FULL_H
#define PIS_APPLY_FULL_H

#include <stddef.h>

#include "apply2.h"

struct apply_full_stats {
	size_t peak_cells;   /* decoded document cells alive at once (one record's) */
	size_t peak_entries; /* index entries alive at once: a key and a digest each */
	size_t records;	     /* table records decoded, every pass and attempt */
};

/* apply_full2, also filling *stats (not NULL). */
enum apply_status apply_full2_stats(sqlite3 *db, const struct apply2_in *in,
				    const struct apply_opts *o, struct apply_result *r,
				    struct apply2_out *out, struct apply_full_stats *stats, char *err,
				    size_t errlen);

#endif
