/* bench: main of pocket-id-sync-bench and its format-1 mode (--format 1).
 * Builds a primary with N users in realistic shapes, then measures, as
 * medians over several repetitions, the format-1 pipeline in process (export,
 * seal, open, apply) for an initial sync, one changed user and an unchanged
 * payload, the secondary's write-lock time, bytes on the wire and peak RSS,
 * beside their floors (a plain SELECT and a bulk INSERT of the same rows),
 * which it also lends to the default protocol-v2 mode (bench_v2.c). With
 * --daemons it runs bench_daemon.c instead. It asserts no timing, but exits non-zero when a secondary does not
 * end up with the primary's durable data. */
#include "bench.h"

#include "apply.h"
#include "envelope.h"
#include "export.h"
#include "keys.h"
#include "pidb.h"
#include "schema.h"
#include "seal.h"

#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_WIRE ((size_t)1 << 31)

static const char usage[] =
	"usage: pocket-id-sync-bench [--users N] [--reps R] [--format 2|1] [--tsv] [--dir DIR]\n"
	"                            [--schema FILE]\n"
	"       pocket-id-sync-bench --daemons [--users N] [--changes N]\n"
	"                            [--login-load R [--load-seconds S] [--load-warmup W]]\n"
	"                            [--bin PATH] [--tsv] [--dir DIR]\n"
	"\n"
	"Builds a Pocket ID v2.14 primary with N users (1-3 passkeys each, groups and\n"
	"memberships, custom claims, OIDC clients with allowed groups, API keys) and\n"
	"secondaries with local runtime rows, then prints medians over R repetitions of\n"
	"protocol v2 as the daemons run it: an initial sync into a fresh secondary (the\n"
	"primary's look, its streamed and sealed full snapshot, the secondary's ingest)\n"
	"and one changed user as a delta from the base the secondary verified; the\n"
	"write-lock time of each apply, rows changed, bytes on the wire, peak RSS of\n"
	"each side of a full sync (re-executed children) against the plaintext, and\n"
	"the floors: a plain SELECT and a one-transaction bulk INSERT of the same rows.\n"
	"Every apply is checked: the secondary must end with the primary's durable data\n"
	"and rows hash and its own local rows, and a changed user must update exactly\n"
	"one row, or the program exits 1. Timings are reported, never judged.\n"
	"\n"
	"  --users N     users on the primary (default 10000; e.g. 1000 or 100000)\n"
	"  --reps R      repetitions per measurement, median reported (default 5, max 100)\n"
	"  --format 1    instead: the format-1 pipeline (export, seal, open, apply of a\n"
	"                whole snapshot, also for one changed user and an unchanged one)\n"
	"  --tsv         machine-readable output: one 'key<TAB>value' line per number\n"
	"  --dir DIR     scratch directory (kept); default a new directory under $TMPDIR\n"
	"                or /tmp, removed at the end\n"
	"  --schema FILE Pocket ID schema (default: the v2.14 fixture of the source tree)\n"
	"  --daemons     instead: start a primary and a secondary `pocket-id-sync run` on\n"
	"                127.0.0.1 and measure change-to-visible latency (p50/p99), bytes\n"
	"                on the wire per change, the cost of an unchanged poll and idle RSS\n"
	"  --changes N   changes timed in --daemons mode (default 200)\n"
	"  --login-load R  --daemons mode, last: R audit-log inserts a second (what every\n"
	"                Pocket ID login writes; nothing durable) on the primary, and its\n"
	"                CPU over the window from /proc (utime + stime) and whether the\n"
	"                generation moved\n"
	"  --load-seconds S  the measured login-load window (default 30)\n"
	"  --load-warmup W   login load before the window, not measured (default 60)\n"
	"  --bin PATH    the pocket-id-sync binary for --daemons (default: the one next\n"
	"                to this program)\n";

struct opts {
	int users, reps, changes, format, load[3]; /* load: see bench_daemon_main */
	bool tsv, daemons;
	const char *dir, *schema, *bin, *side;
};

struct ctx {
	char dir[512];
	char *schema_sql;
	int users, reps;
	sqlite3 *pdb;
	struct node_key pk, sk;
	struct jwt_store_cfg pkeys, skeys;
	uint64_t generation;
	int fresh; /* fresh secondaries made so far */
};

struct sample {
	double export_ms, seal_ms, open_ms, apply_ms, lock_ms, cycle_ms, cpu_ms;
	size_t wire, changes;
	bool wrote;
};

struct series {
	double export_ms[MAX_REPS], seal_ms[MAX_REPS], open_ms[MAX_REPS], apply_ms[MAX_REPS];
	double lock_ms[MAX_REPS], cycle_ms[MAX_REPS], cpu_ms[MAX_REPS];
	size_t wire;
};

__attribute__((noreturn)) void bench_die(const char *fmt, const char *arg)
{
	fprintf(stderr, "pocket-id-sync-bench: ");
	fprintf(stderr, "%s%s%s\n", fmt, arg ? ": " : "", arg ? arg : "");
	exit(1);
}

double bench_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* CPU time (user + system) this process has used, in ms: unlike the wall
 * clock, hardly moved by other jobs on the machine; blind to fsync waits. */
double bench_cpu_ms(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
	       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

double bench_median(const double *v, int n)
{
	double s[MAX_REPS];

	memcpy(s, v, (size_t)n * sizeof(double));
	qsort(s, (size_t)n, sizeof(double), cmp_double);
	return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

static int parse_int(const char *s, int lo, int hi, int *out)
{
	char *end;
	long v;

	if (s == NULL)
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi)
		return -1;
	*out = (int)v;
	return 0;
}

static int parse_opts(int argc, char **argv, struct opts *o)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(a, "--tsv") == 0) {
			o->tsv = true;
		} else if (strcmp(a, "--daemons") == 0) {
			o->daemons = true;
		} else if (strcmp(a, "--users") == 0 && parse_int(v, 1, 10000000, &o->users) == 0) {
			i++;
		} else if (strcmp(a, "--reps") == 0 && parse_int(v, 1, MAX_REPS, &o->reps) == 0) {
			i++;
		} else if (strcmp(a, "--format") == 0 && parse_int(v, 1, 2, &o->format) == 0) {
			i++;
		} else if (strcmp(a, "--changes") == 0 && parse_int(v, 1, 1000000, &o->changes) == 0) {
			i++;
		} else if (strcmp(a, "--login-load") == 0 && parse_int(v, 1, 10000, &o->load[0]) == 0) {
			i++;
		} else if (strcmp(a, "--load-seconds") == 0 && parse_int(v, 1, 3600, &o->load[1]) == 0) {
			i++;
		} else if (strcmp(a, "--load-warmup") == 0 && parse_int(v, 0, 3600, &o->load[2]) == 0) {
			i++;
		} else if (strcmp(a, "--dir") == 0 && v != NULL) {
			o->dir = argv[++i];
		} else if (strcmp(a, "--schema") == 0 && v != NULL) {
			o->schema = argv[++i];
		} else if (strcmp(a, "--bin") == 0 && v != NULL) {
			o->bin = argv[++i];
		} else if (strcmp(a, "--side") == 0 && v != NULL) { /* internal: a peak-RSS child */
			o->side = argv[++i];
		} else {
			return -1;
		}
	}
	return 0;
}

/* ---- one sync cycle, in process ---- */

sqlite3 *bench_open_node(const char *path)
{
	sqlite3 *db;
	char err[256];

	if (pidb_open(path, 5000, &db, err, sizeof(err)) == -1)
		bench_die("cannot open", err);
	return db;
}

void bench_hash_of(sqlite3 *db, const struct jwt_store_cfg *keys, uint8_t out[32])
{
	struct export_result r;
	char err[256];

	if (export_snapshot(db, keys, NULL, &r, err, sizeof(err)) == -1)
		bench_die("cannot hash a database", err);
	memcpy(out, r.content_hash, 32);
}

/* Local runtime rows a secondary keeps for itself: apply must leave them. */
long bench_local_rows(sqlite3 *db)
{
	return bench_count(db, "SELECT (SELECT count(*) FROM audit_logs) + (SELECT count(*) FROM "
			       "webauthn_sessions) + (SELECT count(*) FROM oauth2_jtis) + (SELECT count(*) "
			       "FROM user_authorized_oidc_clients) + (SELECT count(*) FROM "
			       "reauthentication_tokens) + (SELECT count(*) FROM kv)");
}

static void run_cycle(struct ctx *c, sqlite3 *sdb, struct sample *s)
{
	struct apply_opts o = {.max_delete_percent = 50, .keys = c->skeys};
	struct apply_result ar;
	struct export_result res;
	struct payload p, q;
	uint8_t *wire, hp[32], hs[32];
	size_t wlen;
	char err[512];
	long local_before = bench_local_rows(sdb);
	double t0, t1, t2, t3, t4, c0 = bench_cpu_ms();
	enum apply_status st;

	t0 = bench_now_ms();
	if (export_snapshot(c->pdb, &c->pkeys, &p, &res, err, sizeof(err)) == -1)
		bench_die("export failed", err);
	t1 = bench_now_ms();
	p.generation = ++c->generation;
	p.issued_at = (int64_t)time(NULL);
	memcpy(p.sender, c->pk.pub, 32);
	memcpy(p.recipient, c->sk.pub, 32);
	if (envelope_seal(&p, &c->pk, MAX_WIRE, &wire, &wlen, err, sizeof(err)) == -1)
		bench_die("seal failed", err);
	payload_free(&p);
	t2 = bench_now_ms();
	if (envelope_open(&c->sk, c->pk.pub, wire, wlen, MAX_WIRE, &q, NULL, NULL, err, sizeof(err)) !=
	    ENVELOPE_OK)
		bench_die("open failed", err);
	free(wire);
	t3 = bench_now_ms();
	st = apply_payload(sdb, &q, &o, &ar, err, sizeof(err));
	payload_free(&q);
	t4 = bench_now_ms();
	if (st != APPLY_OK)
		bench_die("apply failed", err);
	*s = (struct sample){t1 - t0, t2 - t1, t3 - t2, t4 - t3, ar.lock_ms, t4 - t0, bench_cpu_ms() - c0, wlen,
			     apply_total_changes(&ar), ar.wrote};
	bench_hash_of(c->pdb, &c->pkeys, hp);
	bench_hash_of(sdb, &c->skeys, hs);
	if (memcmp(hp, hs, 32) != 0)
		bench_die("verification failed", "the secondary's durable data differ from the primary's");
	if (bench_local_rows(sdb) != local_before)
		bench_die("verification failed", "apply changed the secondary's local rows");
}

static void record(struct series *sr, int i, const struct sample *s)
{
	sr->export_ms[i] = s->export_ms;
	sr->seal_ms[i] = s->seal_ms;
	sr->open_ms[i] = s->open_ms;
	sr->apply_ms[i] = s->apply_ms;
	sr->lock_ms[i] = s->lock_ms;
	sr->cycle_ms[i] = s->cycle_ms;
	sr->cpu_ms[i] = s->cpu_ms;
	sr->wire = s->wire;
}

/* A fresh secondary: its own instance id and JWT key, local rows, no users. */
static sqlite3 *fresh_secondary(struct ctx *c, const char *name)
{
	char path[700], instance[64];
	sqlite3 *db;

	snprintf(path, sizeof(path), "%s/%s.db", c->dir, name);
	snprintf(instance, sizeof(instance), "secondary-%d", ++c->fresh);
	db = bench_gen_create(path, c->schema_sql, instance, SECONDARY_KEK,
			      "{\"kty\":\"oct\",\"kid\":\"own\",\"k\":\"AAAAAAAAAAAAAAAAAAAAAA\"}");
	bench_gen_local(db, c->users, 0);
	sqlite3_close(db);
	return bench_open_node(path);
}

static void measure_initial(struct ctx *c, struct series *sr)
{
	for (int i = 0; i < c->reps; i++) {
		char path[700];
		struct sample s;
		sqlite3 *sdb = fresh_secondary(c, "fresh");

		run_cycle(c, sdb, &s);
		if (!s.wrote || s.changes == 0)
			bench_die("verification failed", "the initial sync wrote nothing");
		record(sr, i, &s);
		sqlite3_close(sdb);
		snprintf(path, sizeof(path), "%s/fresh.db", c->dir);
		bench_unlink_db(path);
	}
}

/* One changed user per repetition, then unchanged payloads, on one synced
 * secondary that also holds local rows pointing at users. */
static void measure_steady(struct ctx *c, struct series *changed, struct series *unchanged)
{
	sqlite3 *sdb = fresh_secondary(c, "secondary");
	struct sample s;

	run_cycle(c, sdb, &s);
	bench_gen_local(sdb, c->users, 1);
	for (int i = 0; i < c->reps; i++) {
		char *sql = sqlite3_mprintf("UPDATE users SET first_name='Changed%d', updated_at="
					    "'2026-11-30 00:00:00+00:00' WHERE rowid=%d",
					    i, 1 + (int)((7919L * (i + 1)) % c->users));
		bench_exec(c->pdb, sql);
		sqlite3_free(sql);
		run_cycle(c, sdb, &s);
		if (s.changes != 1 || !s.wrote)
			bench_die("verification failed", "one changed user did not give exactly one update");
		record(changed, i, &s);
	}
	for (int i = 0; i < c->reps; i++) {
		run_cycle(c, sdb, &s);
		if (s.changes != 0 || s.wrote)
			bench_die("verification failed", "an unchanged payload changed something");
		record(unchanged, i, &s);
	}
	sqlite3_close(sdb);
}

/* ---- floors ---- */

static volatile uint64_t sink;

/* A plain SELECT * of every durable table, each value read once. */
static double floor_select(struct ctx *c, const struct schema *sch, double *cpu)
{
	double t0 = bench_now_ms(), c0 = bench_cpu_ms();
	uint64_t acc = 0;

	bench_exec(c->pdb, "BEGIN");
	for (size_t i = 0; i < sch->ntables; i++) {
		char *sql = sqlite3_mprintf("SELECT * FROM main.\"%w\"", sch->tables[i].name);
		sqlite3_stmt *st;
		if (sqlite3_prepare_v2(c->pdb, sql, -1, &st, NULL) != SQLITE_OK)
			bench_die("floor SELECT", sqlite3_errmsg(c->pdb));
		sqlite3_free(sql);
		while (sqlite3_step(st) == SQLITE_ROW) {
			for (int k = 0; k < sqlite3_column_count(st); k++) {
				switch (sqlite3_column_type(st, k)) {
				case SQLITE_INTEGER: acc += (uint64_t)sqlite3_column_int64(st, k); break;
				case SQLITE_FLOAT: acc += (uint64_t)sqlite3_column_double(st, k); break;
				case SQLITE_TEXT: acc += (uint64_t)*sqlite3_column_text(st, k); break;
				case SQLITE_BLOB: acc += (uint64_t)sqlite3_column_bytes(st, k); break;
				default: break;
				}
			}
		}
		sqlite3_finalize(st);
	}
	bench_exec(c->pdb, "COMMIT");
	sink = acc;
	*cpu = bench_cpu_ms() - c0;
	return bench_now_ms() - t0;
}

struct rows {
	size_t ncols, nrows, cap;
	sqlite3_value **cells;
};

/* The durable rows in memory (untimed), for the INSERT floor to bind. */
static void load_rows(struct ctx *c, const struct schema *sch, struct rows *rows)
{
	for (size_t i = 0; i < sch->ntables; i++) {
		char *sql = sqlite3_mprintf("SELECT * FROM main.\"%w\"", sch->tables[i].name);
		struct rows *r = &rows[i];
		sqlite3_stmt *st;
		if (sqlite3_prepare_v2(c->pdb, sql, -1, &st, NULL) != SQLITE_OK)
			bench_die("floor rows", sqlite3_errmsg(c->pdb));
		sqlite3_free(sql);
		r->ncols = (size_t)sqlite3_column_count(st);
		while (sqlite3_step(st) == SQLITE_ROW) {
			if (r->nrows == r->cap) {
				r->cap = r->cap ? r->cap * 2 : 64;
				r->cells = realloc(r->cells, r->cap * r->ncols * sizeof(*r->cells));
				if (r->cells == NULL)
					bench_die("out of memory", NULL);
			}
			for (size_t k = 0; k < r->ncols; k++)
				r->cells[r->nrows * r->ncols + k] = sqlite3_value_dup(sqlite3_column_value(st, (int)k));
			r->nrows++;
		}
		sqlite3_finalize(st);
	}
}

/* One transaction of prepared INSERTs into an empty copy of the schema,
 * opened like a secondary (pidb_open: foreign keys on, WAL). */
static double floor_insert(struct ctx *c, const struct schema *sch, const struct rows *rows,
			   double *cpu)
{
	char path[700];
	sqlite3 *db;
	double t0, t, c0;

	snprintf(path, sizeof(path), "%s/floor.db", c->dir);
	db = bench_gen_create(path, c->schema_sql, "floor", SECONDARY_KEK, NULL);
	sqlite3_close(db);
	db = bench_open_node(path);
	t0 = bench_now_ms();
	c0 = bench_cpu_ms();
	bench_exec(db, "BEGIN");
	for (size_t i = 0; i < sch->ntables; i++) {
		const struct rows *r = &rows[i];
		char *sql = sqlite3_mprintf("INSERT INTO main.\"%w\" VALUES(?", sch->tables[i].name), *next;
		sqlite3_stmt *st;
		for (size_t k = 1; sql != NULL && k < r->ncols; k++) {
			next = sqlite3_mprintf("%s,?", sql);
			sqlite3_free(sql);
			sql = next;
		}
		next = sqlite3_mprintf("%s)", sql);
		sqlite3_free(sql);
		if (next == NULL || sqlite3_prepare_v2(db, next, -1, &st, NULL) != SQLITE_OK)
			bench_die("floor INSERT", sqlite3_errmsg(db));
		sqlite3_free(next);
		for (size_t n = 0; n < r->nrows; n++) {
			for (size_t k = 0; k < r->ncols; k++)
				sqlite3_bind_value(st, (int)k + 1, r->cells[n * r->ncols + k]);
			if (sqlite3_step(st) != SQLITE_DONE)
				bench_die("floor INSERT", sqlite3_errmsg(db));
			sqlite3_reset(st);
		}
		sqlite3_finalize(st);
	}
	bench_exec(db, "COMMIT");
	t = bench_now_ms() - t0;
	*cpu = bench_cpu_ms() - c0;
	sqlite3_close(db);
	bench_unlink_db(path);
	return t;
}

struct floors {
	double select_ms, insert_ms, select_cpu_ms, insert_cpu_ms;
};

static void measure_floors(struct ctx *c, struct floors *f, long *nrows)
{
	struct schema sch;
	struct rows *rows;
	double s[MAX_REPS], n[MAX_REPS], sc[MAX_REPS], nc[MAX_REPS];
	char err[256];

	if (schema_load(c->pdb, &sch, err, sizeof(err)) == -1)
		bench_die("schema", err);
	rows = calloc(sch.ntables + 1, sizeof(*rows));
	if (rows == NULL)
		bench_die("out of memory", NULL);
	load_rows(c, &sch, rows);
	*nrows = 0;
	for (size_t i = 0; i < sch.ntables; i++)
		*nrows += (long)rows[i].nrows;
	for (int i = 0; i < c->reps; i++) {
		s[i] = floor_select(c, &sch, &sc[i]);
		n[i] = floor_insert(c, &sch, rows, &nc[i]);
	}
	f->select_ms = bench_median(s, c->reps);
	f->insert_ms = bench_median(n, c->reps);
	f->select_cpu_ms = bench_median(sc, c->reps);
	f->insert_cpu_ms = bench_median(nc, c->reps);
	for (size_t i = 0; i < sch.ntables; i++) {
		for (size_t k = 0; k < rows[i].nrows * rows[i].ncols; k++)
			sqlite3_value_free(rows[i].cells[k]);
		free(rows[i].cells);
	}
	free(rows);
	schema_free(&sch);
}

void bench_floors(sqlite3 *pdb, const char *dir, const char *schema_sql, int reps,
		  struct bench_floors *f)
{
	struct ctx c = {.pdb = pdb, .schema_sql = (char *)schema_sql, .reps = reps};
	struct floors fl;

	snprintf(c.dir, sizeof(c.dir), "%s", dir);
	measure_floors(&c, &fl, &f->durable_rows);
	f->select_ms = fl.select_ms;
	f->insert_ms = fl.insert_ms;
	f->select_cpu_ms = fl.select_cpu_ms;
	f->insert_cpu_ms = fl.insert_cpu_ms;
}

/* ---- peak RSS: each side in a re-executed child, as the daemon would run it ---- */

static void state_dir(const char *dir, const char *node, char *out, size_t n)
{
	snprintf(out, n, "%s/%s-state", dir, node);
}

void bench_load_key(const char *dir, const char *node, struct node_key *k, bool create)
{
	char path[700], err[256];

	state_dir(dir, node, path, sizeof(path));
	if ((create ? keys_load_or_create(path, k, err, sizeof(err)) : keys_load(path, k, err, sizeof(err))) == -1)
		bench_die("node key", err);
}

/* --side primary: export + seal into DIR/rss.wire. --side secondary: open +
 * apply it into DIR/rss-secondary.db. Exit status 0 on success. */
static int side_main(const char *side, const char *dir)
{
	struct node_key pk, sk;
	struct jwt_store_cfg pkeys = {(const uint8_t *)PRIMARY_KEK, strlen(PRIMARY_KEK), NULL, NULL};
	struct jwt_store_cfg skeys = {(const uint8_t *)SECONDARY_KEK, strlen(SECONDARY_KEK), NULL, NULL};
	char path[700], err[512];
	struct payload p;
	uint8_t *wire;
	size_t wlen;
	FILE *f;

	bench_load_key(dir, "primary", &pk, false);
	bench_load_key(dir, "secondary", &sk, false);
	snprintf(path, sizeof(path), "%s/rss.wire", dir);
	if (strcmp(side, "primary") == 0) {
		struct export_result res;
		char dbp[700];
		snprintf(dbp, sizeof(dbp), "%s/primary.db", dir);
		sqlite3 *db = bench_open_node(dbp);
		if (export_snapshot(db, &pkeys, &p, &res, err, sizeof(err)) == -1)
			bench_die("export failed", err);
		p.generation = 1;
		p.issued_at = (int64_t)time(NULL);
		memcpy(p.sender, pk.pub, 32);
		memcpy(p.recipient, sk.pub, 32);
		if (envelope_seal(&p, &pk, MAX_WIRE, &wire, &wlen, err, sizeof(err)) == -1)
			bench_die("seal failed", err);
		payload_free(&p);
		if ((f = fopen(path, "wb")) == NULL || fwrite(wire, 1, wlen, f) != wlen || fclose(f) != 0)
			bench_die("cannot write", path);
		free(wire);
		sqlite3_close(db);
		return 0;
	}
	if (strcmp(side, "secondary") == 0) {
		struct apply_opts o = {.max_delete_percent = 50, .keys = skeys};
		struct apply_result ar;
		long len;
		char dbp[700];
		if ((f = fopen(path, "rb")) == NULL || fseek(f, 0, SEEK_END) != 0 || (len = ftell(f)) <= 0 ||
		    fseek(f, 0, SEEK_SET) != 0 || (wire = malloc((size_t)len)) == NULL ||
		    fread(wire, 1, (size_t)len, f) != (size_t)len)
			bench_die("cannot read", path);
		fclose(f);
		snprintf(dbp, sizeof(dbp), "%s/rss-secondary.db", dir);
		sqlite3 *db = bench_open_node(dbp);
		if (envelope_open(&sk, pk.pub, wire, (size_t)len, MAX_WIRE, &p, NULL, NULL, err, sizeof(err)) != ENVELOPE_OK)
			bench_die("open failed", err);
		free(wire);
		if (apply_payload(db, &p, &o, &ar, err, sizeof(err)) != APPLY_OK)
			bench_die("apply failed", err);
		payload_free(&p);
		sqlite3_close(db);
		return ar.wrote ? 0 : 1;
	}
	bench_die("unknown --side", side);
}

/* Runs this program again with --side and returns the child's peak RSS (KiB). */
long bench_side_peak_kib(const char *dir, const char *side)
{
	struct rusage ru;
	int status;
	pid_t pid = fork();

	if (pid == -1)
		bench_die("fork failed", strerror(errno));
	if (pid == 0) {
		execl("/proc/self/exe", "pocket-id-sync-bench", "--side", side, "--dir", dir, (char *)NULL);
		_exit(127);
	}
	if (wait4(pid, &status, 0, &ru) == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
		bench_die("a peak-RSS child failed", side);
	return ru.ru_maxrss;
}

static void measure_rss(struct ctx *c, long *prim, long *sec)
{
	sqlite3 *db = fresh_secondary(c, "rss-secondary");
	uint8_t hp[32], hs[32];
	char path[700];

	sqlite3_close(db);
	*prim = bench_side_peak_kib(c->dir, "primary");
	*sec = bench_side_peak_kib(c->dir, "secondary");
	snprintf(path, sizeof(path), "%s/rss-secondary.db", c->dir);
	db = bench_open_node(path);
	bench_hash_of(c->pdb, &c->pkeys, hp);
	bench_hash_of(db, &c->skeys, hs);
	if (memcmp(hp, hs, 32) != 0)
		bench_die("verification failed", "the peak-RSS secondary differs from the primary");
	sqlite3_close(db);
	bench_unlink_db(path);
}

/* ---- report ---- */

struct results {
	struct series initial, changed, unchanged;
	struct floors fl;
	long durable_rows, rss_primary, rss_secondary, rss_bench;
};

#define MED(sr, f) bench_median((sr).f, reps)

static void report_tsv(const struct results *r, int users, int reps)
{
	double full = MED(r->initial, cycle_ms), fl = r->fl.select_ms + r->fl.insert_ms;
	size_t plain = r->initial.wire - SEAL_OVERHEAD;
	const struct {
		const char *name;
		const struct series *s;
	} cases[] = {{"initial", &r->initial}, {"changed", &r->changed}, {"unchanged", &r->unchanged}};

	printf("users\t%d\nreps\t%d\ndurable_rows\t%ld\nplaintext_bytes\t%zu\n", users, reps, r->durable_rows, plain);
	for (size_t i = 0; i < 3; i++) {
		const struct series *s = cases[i].s;
		printf("%s_export_ms\t%.3f\n%s_seal_ms\t%.3f\n%s_open_ms\t%.3f\n%s_apply_ms\t%.3f\n"
		       "%s_lock_ms\t%.3f\n%s_cycle_ms\t%.3f\n%s_cycle_cpu_ms\t%.3f\n%s_wire_bytes\t%zu\n",
		       cases[i].name, bench_median(s->export_ms, reps), cases[i].name, bench_median(s->seal_ms, reps),
		       cases[i].name, bench_median(s->open_ms, reps), cases[i].name, bench_median(s->apply_ms, reps),
		       cases[i].name, bench_median(s->lock_ms, reps), cases[i].name, bench_median(s->cycle_ms, reps),
		       cases[i].name, bench_median(s->cpu_ms, reps), cases[i].name, s->wire);
	}
	printf("floor_select_ms\t%.3f\nfloor_insert_ms\t%.3f\nfloor_cycle_ms\t%.3f\n"
	       "floor_select_cpu_ms\t%.3f\nfloor_insert_cpu_ms\t%.3f\n", r->fl.select_ms, r->fl.insert_ms,
	       fl, r->fl.select_cpu_ms, r->fl.insert_cpu_ms);
	printf("ratio_initial_cycle_cpu_to_floor_cpu\t%.3f\nratio_changed_cycle_cpu_to_initial\t%.3f\n",
	       MED(r->initial, cpu_ms) / (r->fl.select_cpu_ms + r->fl.insert_cpu_ms),
	       MED(r->changed, cpu_ms) / MED(r->initial, cpu_ms));
	printf("ratio_export_to_select\t%.3f\nratio_initial_apply_to_insert\t%.3f\n"
	       "ratio_initial_lock_to_insert\t%.3f\nratio_initial_cycle_to_floor\t%.3f\n"
	       "ratio_changed_cycle_to_initial\t%.3f\nratio_unchanged_cycle_to_initial\t%.3f\n",
	       MED(r->initial, export_ms) / r->fl.select_ms, MED(r->initial, apply_ms) / r->fl.insert_ms,
	       MED(r->initial, lock_ms) / r->fl.insert_ms, full / fl, MED(r->changed, cycle_ms) / full,
	       MED(r->unchanged, cycle_ms) / full);
	printf("peak_rss_primary_side_kib\t%ld\npeak_rss_secondary_side_kib\t%ld\npeak_rss_bench_kib\t%ld\n"
	       "ratio_peak_rss_to_plaintext\t%.3f\nverified\t1\n",
	       r->rss_primary, r->rss_secondary, r->rss_bench,
	       (double)(r->rss_primary > r->rss_secondary ? r->rss_primary : r->rss_secondary) * 1024.0 / (double)plain);
}

static void line(const char *what, double v, const char *unit, const char *floor, const char *target)
{
	printf("  %-44s %10.2f %-3s %-22s %s\n", what, v, unit, floor, target);
}

static void report_text(const struct results *r, int users, int reps)
{
	double full = MED(r->initial, cycle_ms), fl = r->fl.select_ms + r->fl.insert_ms;
	size_t plain = r->initial.wire - SEAL_OVERHEAD;
	long peak = r->rss_primary > r->rss_secondary ? r->rss_primary : r->rss_secondary;
	char b[64];

	printf("\npocket-id-sync-bench: %d users, %ld durable rows, medians of %d repetitions\n", users,
	       r->durable_rows, reps);
	printf("  %-44s %10s %-3s %-22s %s\n", "measure", "value", "", "vs floor", "target");
	line("floor: plain SELECT of the durable rows", r->fl.select_ms, "ms", "", "");
	line("floor: bulk INSERT into an empty schema", r->fl.insert_ms, "ms", "", "");
	line("floors' CPU time (SELECT + INSERT)", r->fl.select_cpu_ms + r->fl.insert_cpu_ms, "ms", "", "");
	printf("  initial sync into a fresh secondary\n");
	snprintf(b, sizeof(b), "%.2fx SELECT", MED(r->initial, export_ms) / r->fl.select_ms);
	line("  export", MED(r->initial, export_ms), "ms", b, "");
	line("  seal (encode + encrypt)", MED(r->initial, seal_ms), "ms", "", "");
	line("  open (decrypt + decode)", MED(r->initial, open_ms), "ms", "", "");
	snprintf(b, sizeof(b), "%.2fx INSERT", MED(r->initial, apply_ms) / r->fl.insert_ms);
	line("  apply", MED(r->initial, apply_ms), "ms", b, "");
	snprintf(b, sizeof(b), "%.2fx INSERT", MED(r->initial, lock_ms) / r->fl.insert_ms);
	line("  write lock held", MED(r->initial, lock_ms), "ms", b, "");
	snprintf(b, sizeof(b), "%.2fx SELECT+INSERT", full / fl);
	line("  full cycle", full, "ms", b, "<= 1.5x floor");
	snprintf(b, sizeof(b), "%.2fx floors' CPU", MED(r->initial, cpu_ms) / (r->fl.select_cpu_ms + r->fl.insert_cpu_ms));
	line("  full cycle, CPU time", MED(r->initial, cpu_ms), "ms", b, "");
	printf("  one changed user\n");
	line("  export", MED(r->changed, export_ms), "ms", "", "");
	line("  apply", MED(r->changed, apply_ms), "ms", "", "");
	line("  write lock held", MED(r->changed, lock_ms), "ms", "", "<= 5 ms");
	snprintf(b, sizeof(b), "%.1f%% of full cycle", 100.0 * MED(r->changed, cycle_ms) / full);
	line("  cycle", MED(r->changed, cycle_ms), "ms", b, "<= 10% of full cycle");
	snprintf(b, sizeof(b), "%.1f%% of full cycle's", 100.0 * MED(r->changed, cpu_ms) / MED(r->initial, cpu_ms));
	line("  cycle, CPU time", MED(r->changed, cpu_ms), "ms", b, "");
	printf("  unchanged payload (reconcile finds nothing)\n");
	line("  apply", MED(r->unchanged, apply_ms), "ms", "", "");
	line("  write lock held", MED(r->unchanged, lock_ms), "ms", "", "");
	snprintf(b, sizeof(b), "%.1f%% of full cycle", 100.0 * MED(r->unchanged, cycle_ms) / full);
	line("  cycle", MED(r->unchanged, cycle_ms), "ms", b, "");
	printf("  bytes\n");
	line("  plaintext payload", (double)plain / 1024.0, "KiB", "", "");
	line("  on the wire (always a full snapshot)", (double)r->initial.wire / 1024.0, "KiB", "", "");
	printf("  memory (peak RSS of a re-executed child doing one side's work)\n");
	line("  primary side: export + seal", (double)r->rss_primary / 1024.0, "MiB", "", "");
	line("  secondary side: open + apply", (double)r->rss_secondary / 1024.0, "MiB", "", "");
	snprintf(b, sizeof(b), "%.2fx plaintext", (double)peak * 1024.0 / (double)plain);
	line("  larger of the two", (double)peak / 1024.0, "MiB", b, "<= 3x plaintext (at 100k)");
	line("  this benchmark process (not a daemon)", (double)r->rss_bench / 1024.0, "MiB", "", "");
	printf("All applies verified: each secondary ended with the primary's durable data and its own local rows.\n");
}

/* ---- main ---- */

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void default_bin(char *out, size_t n)
{
	char self[PATH_MAX];
	ssize_t len = readlink("/proc/self/exe", self, sizeof(self) - 1);
	char *slash;

	if (len <= 0)
		bench_die("cannot find this program's directory; use --bin", NULL);
	self[len] = '\0';
	slash = strrchr(self, '/');
	*slash = '\0';
	snprintf(out, n, "%s/pocket-id-sync", self);
}

static int pipeline_main(const struct opts *o, const char *dir)
{
	struct ctx c = {.users = o->users, .reps = o->reps};
	struct results *r = calloc(1, sizeof(*r));
	char path[700];
	struct rusage ru;
	sqlite3 *db;

	snprintf(c.dir, sizeof(c.dir), "%s", dir);
	c.pkeys = (struct jwt_store_cfg){(const uint8_t *)PRIMARY_KEK, strlen(PRIMARY_KEK), NULL, NULL};
	c.skeys = (struct jwt_store_cfg){(const uint8_t *)SECONDARY_KEK, strlen(SECONDARY_KEK), NULL, NULL};
	if (r == NULL || (c.schema_sql = bench_slurp(o->schema)) == NULL)
		bench_die("cannot read the schema", o->schema);
	bench_load_key(dir, "primary", &c.pk, true);
	bench_load_key(dir, "secondary", &c.sk, true);
	snprintf(path, sizeof(path), "%s/primary.db", dir);
	db = bench_gen_create(path, c.schema_sql, "primary", PRIMARY_KEK, BENCH_JWK);
	bench_gen_durable(db, o->users);
	bench_gen_local(db, o->users, 1);
	sqlite3_close(db);
	c.pdb = bench_open_node(path);
	measure_rss(&c, &r->rss_primary, &r->rss_secondary);
	measure_floors(&c, &r->fl, &r->durable_rows);
	measure_initial(&c, &r->initial);
	measure_steady(&c, &r->changed, &r->unchanged);
	getrusage(RUSAGE_SELF, &ru);
	r->rss_bench = ru.ru_maxrss;
	if (o->tsv)
		report_tsv(r, o->users, o->reps);
	else
		report_text(r, o->users, o->reps);
	sqlite3_close(c.pdb);
	keys_wipe(&c.pk);
	keys_wipe(&c.sk);
	free(c.schema_sql);
	free(r);
	return 0;
}

int main(int argc, char **argv)
{
	struct opts o = {.users = 10000, .reps = 5, .changes = 200, .format = 2, .load = {0, 30, 60},
			 .schema = PIS_BENCH_SCHEMA};
	char tmpl[600], bin[PATH_MAX + 32];
	const char *dir;
	int rc;

	if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		fputs(usage, stdout);
		return 0;
	}
	if (parse_opts(argc, argv, &o) == -1) {
		fputs(usage, stderr);
		return 2;
	}
	if (o.side != NULL) {
		if (o.dir == NULL)
			return 2;
		rc = bench_v2_side(o.side, o.dir);
		return rc != -1 ? rc : side_main(o.side, o.dir);
	}
	dir = o.dir;
	if (dir == NULL) {
		const char *t = getenv("TMPDIR");
		snprintf(tmpl, sizeof(tmpl), "%s/pocket-id-sync-bench-XXXXXX", t && *t ? t : "/tmp");
		if ((dir = mkdtemp(tmpl)) == NULL)
			bench_die("cannot create a scratch directory", strerror(errno));
	}
	if (o.daemons) {
		if (o.bin == NULL) {
			default_bin(bin, sizeof(bin));
			o.bin = bin;
		}
		if (access(o.bin, X_OK) != 0)
			bench_die("no pocket-id-sync binary (use --bin)", o.bin);
		rc = bench_daemon_main(o.bin, o.schema, dir, o.users, o.changes, o.tsv, o.load);
	} else if (o.format == 1) {
		rc = pipeline_main(&o, dir);
	} else {
		rc = bench_v2_main(dir, o.schema, o.users, o.reps, o.tsv);
	}
	if (o.dir == NULL)
		nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	return rc;
}
