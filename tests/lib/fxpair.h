/* fxpair: a primary and a secondary fixture database of one release for the
 * engine tests (export on one, apply on the other), with the helpers that
 * sync them and compare their durable rows. Fails the running cmocka test
 * on any error. */
#ifndef PIS_FXPAIR_H
#define PIS_FXPAIR_H

#include "apply.h"
#include "payload.h"

#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>

#define KEY_P "primary-encryption-key-0123"
#define KEY_S "secondary-encryption-key-456"

struct pair {
	char *dir;
	const char *version;
	sqlite3 *p, *s; /* fixture handles (writers acting as Pocket ID) */
	sqlite3 *sdb;	/* the sidecar's handle on the secondary */
};

/* Fixture databases in a fresh temp dir, both seeded with fx_seed when
 * seed_secondary, else only the primary; pair_free removes everything. */
struct pair pair_new(const char *version, bool seed_secondary);
void pair_free(struct pair *x);
/* Exports db (encryption key key) through the payload codec into out. */
void make_payload(sqlite3 *db, const char *key, struct payload *out);
/* One apply of the primary's payload on the secondary with o (keys set
 * here); err must hold 256 bytes. */
enum apply_status sync_opts(struct pair *x, struct apply_opts *o, struct apply_result *r, char *err);
/* sync_opts with the valve open; fails the test unless it applied. */
void sync_ok(struct pair *x, struct apply_result *r);
/* Fails the test unless both nodes hold the same durable rows. */
void assert_same_durable(struct pair *x);
/* Rows of table changed by op ('i', 'u' or 'd') in r. */
size_t count_of(const struct apply_result *r, const char *table, char op);

#endif
