/* state_priv: what the state_*.c files share and nothing outside them sees:
 * the handle's layout and small SQLite helpers that log failures once (with
 * SQLite's message, never with bound values) and return -1. */
#ifndef PIS_STATE_PRIV_H
#define PIS_STATE_PRIV_H

#include "state.h"

#include <pthread.h>
#include <sqlite3.h>

struct state {
	sqlite3 *db;
	pthread_mutex_t lock; /* one call at a time per handle */
};

/* Every public state_* call holds the handle's lock for its duration. */
void state_lock(struct state *st);
void state_unlock(struct state *st);
/* Logs SQLite's current error for the operation named what; returns -1. */
int state_fail(struct state *st, const char *what);
/* Prepares sql or logs and returns -1. */
int state_prepare(struct state *st, const char *sql, sqlite3_stmt **stmt);
/* Runs statements that return no rows. Returns 0 or -1 (logged). */
int state_exec(struct state *st, const char *sql);
/* BEGIN IMMEDIATE (waits for the write lock up to the busy timeout). */
int state_begin(struct state *st);
/* Commits when rc != -1, rolls back otherwise; returns rc, or -1 when the
 * commit failed. */
int state_end(struct state *st, int rc);
/* Steps a statement that must finish without rows; finalizes it. 0 or -1. */
int state_step_done(struct state *st, sqlite3_stmt *stmt, const char *what);

#endif
