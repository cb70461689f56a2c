/* bench: declarations shared by the benchmark's files: the data generator
 * (bench_gen.c), the two-daemon mode (bench_daemon.c) and the in-process
 * pipeline measurements (bench.c). Nothing here is part of the sidecar. */
#ifndef PIS_BENCH_H
#define PIS_BENCH_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>

#include "jwt_store.h"
#include "keys.h"

/* The JWT signing key every benchmark primary starts with (a test key). */
#define BENCH_JWK "{\"kty\":\"EC\",\"crv\":\"P-256\",\"kid\":\"bench-key\",\"alg\":\"ES256\",\"use\":\"sig\",\"x\":\"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU\",\"y\":\"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0\",\"d\":\"jpsQnnGQmL-YBIffH1136cLSpd6q6XrrkL1LpaGctLU\"}"

/* The two nodes' ENCRYPTION_KEYs and the most repetitions of a measurement. */
#define PRIMARY_KEK "primary-encryption-key-0123456789"
#define SECONDARY_KEK "secondary-encryption-key-0123456789"
#define MAX_REPS 100

/* bench.c: helpers the in-process modes share. */
__attribute__((noreturn)) void bench_die(const char *fmt, const char *arg);
double bench_now_ms(void);
/* CPU time (user + system) of this process, ms. */
double bench_cpu_ms(void);
double bench_median(const double *v, int n);
/* pidb_open, as the daemon opens a database; dies on failure. */
sqlite3 *bench_open_node(const char *path);
/* The content hash of db's durable data (export_snapshot). */
void bench_hash_of(sqlite3 *db, const struct jwt_store_cfg *keys, uint8_t out[32]);
/* Local runtime rows a secondary keeps for itself (apply must leave them). */
long bench_local_rows(sqlite3 *db);
/* The node key in DIR/NODE-state (created when create). */
void bench_load_key(const char *dir, const char *node, struct node_key *k, bool create);
/* Re-executes this program with --side SIDE --dir DIR; the child's peak RSS, KiB. */
long bench_side_peak_kib(const char *dir, const char *side);
/* The floors: a plain SELECT of the durable tables of pdb and a bulk INSERT
 * of the same rows into an empty schema in dir, medians of reps. */
struct bench_floors {
	double select_ms, insert_ms, select_cpu_ms, insert_cpu_ms;
	long durable_rows;
};
void bench_floors(sqlite3 *pdb, const char *dir, const char *schema_sql, int reps,
		  struct bench_floors *f);

/* bench_v2.c: the default mode, protocol v2 in process. Returns the exit status. */
int bench_v2_main(const char *dir, const char *schema_path, int users, int reps, bool tsv);
/* A peak-RSS child of bench_v2 (side "primary2" or "secondary2"): its exit
 * status, or -1 for a side it does not know. */
int bench_v2_side(const char *side, const char *dir);

/* bench_gen.c. Every function exits the process with a message on failure:
 * a benchmark that cannot build its data has nothing to report. */
/* Reads a whole file into a malloc'd, NUL-terminated buffer (works for /proc
 * files, whose size reads as 0), or returns NULL. */
char *bench_slurp(const char *path);
/* Runs SQL that must succeed. */
void bench_exec(sqlite3 *db, const char *sql);
/* count(*)-style query result, or -1. */
long bench_count(sqlite3 *db, const char *sql);
/* Creates path as an empty Pocket ID database of schema_sql (WAL) with its
 * own instance id and, when jwk is not NULL, the JWT key wrapped under the
 * KEK of encryption_key. Returns the open handle (caller closes). */
sqlite3 *bench_gen_create(const char *path, const char *schema_sql, const char *instance_id,
			  const char *encryption_key, const char *jwk);
/* The durable content of a primary with users users: 1-3 passkeys each,
 * groups and memberships, custom claims, OIDC clients with allowed groups,
 * API keys, APIs with permissions and a few stored images. */
void bench_gen_durable(sqlite3 *db, int users);
/* Local runtime rows: audit logs without a user, WebAuthn sessions and used
 * JWT ids; with per_user also rows that point at users (audit logs, authorised
 * clients, re-authentication tokens), which need the users to exist. */
void bench_gen_local(sqlite3 *db, int users, int per_user);
/* Removes path and its -wal and -shm files. */
void bench_unlink_db(const char *path);

/* bench_daemon.c: the second mode (see its header); load = {writes a second
 * (0 = no login load), measured seconds, warm-up seconds}. Returns the exit
 * status. */
int bench_daemon_main(const char *bin, const char *schema_path, const char *dir, int users,
		      int changes, int tsv, const int load[3]);

#endif
