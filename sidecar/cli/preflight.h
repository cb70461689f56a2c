/* preflight: what `run` would refuse, found without changing anything: the
 * database (opened read-only: a file, SQLite, Pocket ID's schema, the JWT key
 * decrypting with ENCRYPTION_KEY), the state directory and node key, the
 * enrolment state and, for check-config, the two listeners and Pocket ID's
 * API when SYNC_POCKET_ID_API_KEY is set (a warning: run starts without it). check-config
 * prints every line; run checks the same before it starts (exit 2). */
#ifndef PIS_PREFLIGHT_H
#define PIS_PREFLIGHT_H

#include "config.h"

struct preflight {
	struct config_problems errors;	 /* run refuses to start */
	struct config_problems warnings; /* valid, but worth knowing */
};

enum preflight_flags {
	PREFLIGHT_LISTENERS = 1 << 0, /* bind both ports once (check-config) */
	PREFLIGHT_POCKET_ID = 1 << 1, /* read the configuration through Pocket ID's API (check-config) */
};

/* Runs every check on cfg (loaded without problems) and m (the variables it
 * came from, for Pocket ID's own settings). Never writes. */
void preflight_run(const struct config *cfg, const struct envmap *m, unsigned flags,
		   struct preflight *out);

#endif
