/* bench: declarations shared by the benchmark's files: the data generator
 * (bench_gen.c), the two-daemon mode (bench_daemon.c) and the in-process
 * pipeline measurements (bench.c). Nothing here is part of the sidecar. */
#ifndef PIS_BENCH_H
#define PIS_BENCH_H

#include <sqlite3.h>

/* The JWT signing key every benchmark primary starts with (a test key). */
#define BENCH_JWK "{\"kty\":\"EC\",\"crv\":\"P-256\",\"kid\":\"bench-key\",\"alg\":\"ES256\",\"use\":\"sig\",\"x\":\"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU\",\"y\":\"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0\",\"d\":\"jpsQnnGQmL-YBIffH1136cLSpd6q6XrrkL1LpaGctLU\"}"

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
