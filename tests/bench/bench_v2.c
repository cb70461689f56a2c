/* bench_v2: the default mode of pocket-id-sync-bench, protocol v2 in one
 * process through the daemon's own calls: an initial sync (produce_begin,
 * produce_v2 streaming a sealed full snapshot, produce_end on the primary;
 * ingest_wire into a fresh secondary), one changed user as a delta from the
 * base the secondary verified, and each side's peak RSS in a re-executed
 * child (--side primary2 / secondary2). Both nodes get their configuration
 * from config_load, so every setting is the daemon's default. It judges no
 * timing, but exits 1 when a secondary does not end with the primary's data
 * and rows hash, or a delta changes anything but the one user row. Format 1
 * (--format 1), the floors and the data generator live in bench.c and
 * bench_gen.c; the two-daemon mode in bench_daemon.c. */
#include "bench.h"

#include "b64.h"
#include "change_watch.h"
#include "config.h"
#include "envfile.h"
#include "ingest.h"
#include "ledger.h"
#include "log.h"
#include "produce.h"
#include "protocol.h"
#include "seal.h"
#include "state.h"

#include <openssl/crypto.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

struct node2 {
	struct config cfg;
	struct state *st;
	sqlite3 *db;
	char path[700];
	/* a secondary's verified base, as the poller keeps it */
	bool verified;
	uint64_t vgen;
	uint8_t vhash[32];
	struct lthash vsum;
	struct rowhash_skip kept;
};

struct b2 {
	const char *dir;
	char *schema_sql;
	int users, reps, fresh;
	struct node2 prim;
	struct change_watch *w;
	struct node_key pk, sk;
	struct jwt_store_cfg pkeys, skeys;
};

struct sample2 {
	double look_ms, produce_ms, ingest_ms, lock_ms, cycle_ms, cpu_ms;
	size_t wire, changes;
	enum doc2_kind kind;
	struct apply_result ar;
};

struct series2 {
	double look_ms[MAX_REPS], produce_ms[MAX_REPS], ingest_ms[MAX_REPS], lock_ms[MAX_REPS];
	double cycle_ms[MAX_REPS], cpu_ms[MAX_REPS];
	size_t wire[MAX_REPS];
	size_t changes_min, changes_max; /* rows the applies changed */
};

/* A node's configuration as the daemon would load it from these variables
 * alone: everything else (SYNC_MAX_PAYLOAD_SIZE, SYNC_MAX_DELETE_PERCENT,
 * SYNC_BUSY_TIMEOUT, ...) is the default. */
static void node_config(struct node2 *n, const char *dir, const char *name, bool primary,
			const uint8_t *primary_pub)
{
	struct config_problems pr = {0};
	struct envmap m;
	char state_dir[700], pin[48];
	unsigned needs = NEED_STATE | NEED_DB | NEED_KEK;

	snprintf(n->path, sizeof(n->path), "%s/%s.db", dir, name);
	snprintf(state_dir, sizeof(state_dir), "%s/%s-state", dir, primary ? "primary" : name);
	envmap_init(&m);
	envmap_set(&m, "DB_CONNECTION_STRING", n->path, "bench");
	envmap_set(&m, "SYNC_STATE_DIR", state_dir, "bench");
	envmap_set(&m, "ENCRYPTION_KEY", primary ? PRIMARY_KEK : SECONDARY_KEK, "bench");
	envmap_set(&m, "SYNC_ROLE", primary ? "primary" : "secondary", "bench");
	if (primary) {
		needs |= NEED_ROLE;
	} else {
		b64_encode(pin, primary_pub, 32);
		envmap_set(&m, "SYNC_PRIMARY_PUBKEY", pin, "bench");
		needs |= NEED_PIN;
	}
	memset(&n->cfg, 0, sizeof(n->cfg));
	if (config_load(&n->cfg, &m, needs, &pr) == -1)
		bench_die("configuration", pr.count > 0 ? pr.line[0] : "?");
	envmap_free(&m);
}

static void node_open(struct node2 *n)
{
	char err[512];

	if (state_open(n->cfg.state_dir, &n->st, err, sizeof(err)) == -1)
		bench_die("state", err);
	n->db = bench_open_node(n->path);
}

static void node_close(struct node2 *n, bool remove)
{
	sqlite3_close(n->db);
	state_close(n->st);
	rowhash_skip_free(&n->kept);
	if (remove) {
		char p[800];
		bench_unlink_db(n->path);
		snprintf(p, sizeof(p), "%s/state.db", n->cfg.state_dir);
		bench_unlink_db(p);
	}
	config_free(&n->cfg);
	memset(n, 0, sizeof(*n));
}

/* A fresh secondary: its own instance id, JWT key and state, local rows, no users. */
static void fresh_secondary2(struct b2 *b, struct node2 *n, const char *name)
{
	char instance[64];
	sqlite3 *db;

	node_config(n, b->dir, name, false, b->pk.pub);
	snprintf(instance, sizeof(instance), "secondary-%d", ++b->fresh);
	db = bench_gen_create(n->path, b->schema_sql, instance, SECONDARY_KEK,
			      "{\"kty\":\"oct\",\"kid\":\"own\",\"k\":\"AAAAAAAAAAAAAAAAAAAAAA\"}");
	bench_gen_local(db, b->users, 0);
	sqlite3_close(db);
	node_open(n);
}

/* The primary's answer to a secondary holding base (NULL: none): *wire is
 * malloc'd. Times the look and the production separately. */
static void produce(struct change_watch *w, struct node2 *p, const struct node_key *pk,
		    const uint8_t *to, const struct produce_base *base, struct produced *pr,
		    uint8_t **wire, size_t *wlen, enum doc2_kind *kind, double *look_ms,
		    double *produce_ms)
{
	char err[512];
	double t0 = bench_now_ms(), t1;

	if (produce_begin(w, p->db, &p->cfg, p->st, NULL, pr, err, sizeof(err)) == -1)
		bench_die("produce_begin failed", err);
	t1 = bench_now_ms();
	if (produce_v2(w, p->db, &p->cfg, pk, pr, NULL, to, base, wire, wlen, kind, err,
		       sizeof(err)) == -1) {
		produce_end(p->db);
		bench_die("produce_v2 failed", err);
	}
	produce_end(p->db);
	*look_ms = t1 - t0;
	*produce_ms = bench_now_ms() - t1;
}

/* The secondary's side, as the poller calls it; keeps the verified base. */
static void ingest(struct node2 *s, const struct node_key *sk, uint8_t *wire, size_t wlen,
		   struct ingest_result *r)
{
	struct ingest_opts io = {.media = PROTOCOL_V2,
				 .verified_sum = s->verified ? &s->vsum : NULL,
				 .kept = &s->kept};
	char err[512];

	if (ingest_wire(&s->cfg, sk, s->st, s->db, wire, wlen, &io, r, err, sizeof(err)) == -1)
		bench_die("ingest_wire failed", err);
	if (!r->verified)
		bench_die("verification failed", "ingest did not verify the rows hash");
	s->verified = true;
	s->vgen = r->generation;
	memcpy(s->vhash, r->rows_hash, 32);
	s->vsum = r->sum;
	if (r->kind == DOC2_FULL) {
		rowhash_skip_free(&s->kept);
		s->kept = r->kept;
		memset(&r->kept, 0, sizeof(r->kept));
	}
}

static void run_cycle2(struct b2 *b, struct node2 *s, struct sample2 *out)
{
	struct produce_base base = {.has = s->verified, .generation = s->vgen};
	struct ingest_result r;
	struct produced pr;
	uint8_t *wire, hp[32], hs[32];
	size_t wlen;
	long local_before = bench_local_rows(s->db);
	double t0, c0 = bench_cpu_ms();

	memcpy(base.rows_hash, s->vhash, 32);
	memset(out, 0, sizeof(*out));
	t0 = bench_now_ms();
	produce(b->w, &b->prim, &b->pk, b->sk.pub, &base, &pr, &wire, &wlen, &out->kind,
		&out->look_ms, &out->produce_ms);
	out->ingest_ms = bench_now_ms();
	ingest(s, &b->sk, wire, wlen, &r);
	out->cycle_ms = bench_now_ms() - t0;
	out->ingest_ms = bench_now_ms() - out->ingest_ms;
	out->cpu_ms = bench_cpu_ms() - c0;
	OPENSSL_clear_free(wire, wlen);
	out->wire = wlen;
	out->ar = r.apply;
	out->lock_ms = r.apply.lock_ms;
	out->changes = apply_total_changes(&r.apply);
	if (r.generation != pr.generation || memcmp(r.rows_hash, pr.res.rows_hash, 32) != 0)
		bench_die("verification failed", "the secondary's rows hash is not the primary's");
	ingest_result_free(&r);
	bench_hash_of(b->prim.db, &b->pkeys, hp);
	bench_hash_of(s->db, &b->skeys, hs);
	if (memcmp(hp, hs, 32) != 0)
		bench_die("verification failed", "the secondary's durable data differ from the primary's");
	if (bench_local_rows(s->db) != local_before)
		bench_die("verification failed", "apply changed the secondary's local rows");
}

static void record2(struct series2 *sr, int i, const struct sample2 *s)
{
	sr->look_ms[i] = s->look_ms;
	sr->produce_ms[i] = s->produce_ms;
	sr->ingest_ms[i] = s->ingest_ms;
	sr->lock_ms[i] = s->lock_ms;
	sr->cycle_ms[i] = s->cycle_ms;
	sr->cpu_ms[i] = s->cpu_ms;
	sr->wire[i] = s->wire;
	if (i == 0 || s->changes < sr->changes_min)
		sr->changes_min = s->changes;
	if (s->changes > sr->changes_max)
		sr->changes_max = s->changes;
}

static void measure_initial2(struct b2 *b, struct series2 *sr)
{
	for (int i = 0; i < b->reps; i++) {
		struct node2 s = {0};
		struct sample2 x;

		fresh_secondary2(b, &s, "fresh");
		run_cycle2(b, &s, &x);
		if (x.kind != DOC2_FULL || !x.ar.wrote || x.changes == 0)
			bench_die("verification failed", "the initial sync was not a full snapshot that wrote");
		record2(sr, i, &x);
		node_close(&s, true);
	}
}

/* The one row a changed user's delta must change: users, updated. */
static bool one_user_updated(const struct apply_result *ar)
{
	size_t users = 0, other = 0;

	for (size_t i = 0; i < ar->ntables; i++) {
		const struct apply_counts *t = &ar->tables[i];
		if (strcmp(t->table, "users") == 0 && t->updated == 1 && t->inserted == 0 && t->deleted == 0)
			users++;
		else
			other += t->inserted + t->updated + t->deleted;
	}
	return users == 1 && other == 0 && apply_total_changes(ar) == 1;
}

/* One changed user per repetition, on one synced secondary that also holds
 * local rows pointing at users: each must come as a delta. */
static void measure_changed2(struct b2 *b, struct series2 *sr)
{
	struct node2 s = {0};
	struct sample2 x;

	fresh_secondary2(b, &s, "secondary");
	run_cycle2(b, &s, &x);
	bench_gen_local(s.db, b->users, 1);
	for (int i = 0; i < b->reps; i++) {
		char *sql = sqlite3_mprintf("UPDATE users SET first_name='Changed%d', updated_at="
					    "'2026-12-03 00:00:00+00:00' WHERE rowid=%d",
					    i, 1 + (int)((7919L * (i + 1)) % b->users));
		bench_exec(b->prim.db, sql);
		sqlite3_free(sql);
		run_cycle2(b, &s, &x);
		if (x.kind != DOC2_DELTA)
			bench_die("verification failed", "one changed user did not come as a delta");
		if (!x.ar.wrote || !one_user_updated(&x.ar))
			bench_die("verification failed", "one changed user did not give exactly one "
							 "updated users row");
		record2(sr, i, &x);
	}
	node_close(&s, false);
}

/* ---- peak RSS: each side in a re-executed child ---- */

static void write_file(const char *path, const uint8_t *buf, size_t len)
{
	FILE *f = fopen(path, "wb");

	if (f == NULL || fwrite(buf, 1, len, f) != len || fclose(f) != 0)
		bench_die("cannot write", path);
}

static uint8_t *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf;
	long n;

	if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) <= 0 || fseek(f, 0, SEEK_SET) != 0 ||
	    (buf = malloc((size_t)n)) == NULL || fread(buf, 1, (size_t)n, f) != (size_t)n)
		bench_die("cannot read", path);
	fclose(f);
	*len = (size_t)n;
	return buf;
}

/* side "primary2": look + export + seal of a full snapshot into DIR/rss2.wire;
 * "secondary2": read it and ingest it into DIR/rss2-secondary.db. */
int bench_v2_side(const char *side, const char *dir)
{
	struct node_key pk, sk;
	struct node2 n = {0};
	char wpath[700];
	uint8_t *wire;
	size_t wlen;
	bool ok;

	if (strcmp(side, "primary2") != 0 && strcmp(side, "secondary2") != 0)
		return -1;
	log_set_level(LOG_LVL_ERROR);
	bench_load_key(dir, "primary", &pk, false);
	bench_load_key(dir, "secondary", &sk, false);
	snprintf(wpath, sizeof(wpath), "%s/rss2.wire", dir);
	if (strcmp(side, "primary2") == 0) {
		struct change_watch *w = change_watch_new();
		struct produced pr;
		enum doc2_kind kind;
		double look_ms, produce_ms;
		if (w == NULL)
			bench_die("out of memory", NULL);
		node_config(&n, dir, "primary", true, NULL);
		node_open(&n);
		produce(w, &n, &pk, sk.pub, NULL, &pr, &wire, &wlen, &kind, &look_ms, &produce_ms);
		write_file(wpath, wire, wlen);
		ok = kind == DOC2_FULL;
		change_watch_free(w);
	} else {
		struct ingest_result r;
		wire = read_file(wpath, &wlen);
		node_config(&n, dir, "rss2-secondary", false, pk.pub);
		node_open(&n);
		ingest(&n, &sk, wire, wlen, &r);
		ok = r.kind == DOC2_FULL && r.apply.wrote;
		ingest_result_free(&r);
	}
	OPENSSL_clear_free(wire, wlen);
	node_close(&n, false);
	keys_wipe(&pk);
	keys_wipe(&sk);
	return ok ? 0 : 1;
}

static void measure_rss2(struct b2 *b, long *prim, long *sec, size_t *wire)
{
	struct node2 s = {0};
	uint8_t hp[32], hs[32];
	char path[700];

	fresh_secondary2(b, &s, "rss2-secondary");
	node_close(&s, false);
	*prim = bench_side_peak_kib(b->dir, "primary2");
	*sec = bench_side_peak_kib(b->dir, "secondary2");
	snprintf(path, sizeof(path), "%s/rss2.wire", b->dir);
	free(read_file(path, wire));
	remove(path);
	snprintf(path, sizeof(path), "%s/rss2-secondary.db", b->dir);
	sqlite3 *db = bench_open_node(path);
	bench_hash_of(b->prim.db, &b->pkeys, hp);
	bench_hash_of(db, &b->skeys, hs);
	if (memcmp(hp, hs, 32) != 0)
		bench_die("verification failed", "the peak-RSS secondary differs from the primary");
	sqlite3_close(db);
	bench_unlink_db(path);
}

/* ---- report ---- */

struct results2 {
	struct series2 initial, changed;
	struct bench_floors fl;
	long rss_primary, rss_secondary, rss_bench;
	size_t rss_wire;
	uint64_t max_payload;
};

static size_t median_size(const size_t *v, int n)
{
	double d[MAX_REPS];

	for (int i = 0; i < n; i++)
		d[i] = (double)v[i];
	return (size_t)bench_median(d, n);
}

static size_t max_size(const size_t *v, int n)
{
	size_t m = 0;

	for (int i = 0; i < n; i++)
		m = v[i] > m ? v[i] : m;
	return m;
}

#define MED2(sr, f) bench_median((sr).f, reps)

static void report2_tsv(const struct results2 *r, int users, int reps)
{
	const struct {
		const char *name;
		const struct series2 *s;
	} cases[] = {{"initial", &r->initial}, {"changed", &r->changed}};
	size_t plain = r->rss_wire - SEAL_OVERHEAD;
	double full = MED2(r->initial, cycle_ms);

	printf("format\t2\nusers\t%d\nreps\t%d\ndurable_rows\t%ld\nplaintext_bytes\t%zu\n"
	       "max_payload_bytes\t%llu\n", users, reps, r->fl.durable_rows, plain,
	       (unsigned long long)r->max_payload);
	for (size_t i = 0; i < 2; i++) {
		const struct series2 *s = cases[i].s;
		const char *n = cases[i].name;
		printf("%s_look_ms\t%.3f\n%s_produce_ms\t%.3f\n%s_ingest_ms\t%.3f\n%s_lock_ms\t%.3f\n"
		       "%s_cycle_ms\t%.3f\n%s_cycle_cpu_ms\t%.3f\n%s_wire_bytes\t%zu\n"
		       "%s_wire_bytes_max\t%zu\n",
		       n, bench_median(s->look_ms, reps), n, bench_median(s->produce_ms, reps), n,
		       bench_median(s->ingest_ms, reps), n, bench_median(s->lock_ms, reps), n,
		       bench_median(s->cycle_ms, reps), n, bench_median(s->cpu_ms, reps), n,
		       median_size(s->wire, reps), n, max_size(s->wire, reps));
	}
	printf("changed_rows_min\t%zu\nchanged_rows_max\t%zu\ninitial_rows_written\t%zu\n",
	       r->changed.changes_min, r->changed.changes_max, r->initial.changes_max);
	printf("floor_select_ms\t%.3f\nfloor_insert_ms\t%.3f\nfloor_cycle_ms\t%.3f\n",
	       r->fl.select_ms, r->fl.insert_ms, r->fl.select_ms + r->fl.insert_ms);
	printf("ratio_initial_cycle_to_floor\t%.3f\nratio_changed_cycle_to_initial\t%.4f\n"
	       "ratio_changed_cycle_cpu_to_initial\t%.4f\n",
	       full / (r->fl.select_ms + r->fl.insert_ms), MED2(r->changed, cycle_ms) / full,
	       MED2(r->changed, cpu_ms) / MED2(r->initial, cpu_ms));
	printf("peak_rss_primary_side_kib\t%ld\npeak_rss_secondary_side_kib\t%ld\npeak_rss_bench_kib\t%ld\n"
	       "ratio_peak_rss_primary_to_plaintext\t%.3f\nratio_peak_rss_secondary_to_plaintext\t%.3f\n"
	       "verified\t1\n",
	       r->rss_primary, r->rss_secondary, r->rss_bench, (double)r->rss_primary * 1024.0 / (double)plain,
	       (double)r->rss_secondary * 1024.0 / (double)plain);
}

static void line2(const char *what, double v, const char *unit, const char *note, const char *goal)
{
	printf("  %-46s %10.2f %-3s %-24s %s\n", what, v, unit, note, goal);
}

static void report2_text(const struct results2 *r, int users, int reps)
{
	size_t plain = r->rss_wire - SEAL_OVERHEAD;
	double full = MED2(r->initial, cycle_ms), fl = r->fl.select_ms + r->fl.insert_ms;
	char b[64];

	printf("\npocket-id-sync-bench: protocol v2, %d users, %ld durable rows, medians of %d "
	       "repetitions\n", users, r->fl.durable_rows, reps);
	printf("  %-46s %10s %-3s %-24s %s\n", "measure", "value", "", "", "goal");
	line2("floor: plain SELECT + bulk INSERT", fl, "ms", "", "");
	printf("  initial sync into a fresh secondary (full snapshot, streamed)\n");
	line2("  primary: look (produce_begin)", MED2(r->initial, look_ms), "ms", "", "");
	line2("  primary: export + seal (produce_v2)", MED2(r->initial, produce_ms), "ms", "", "");
	line2("  secondary: open + apply + verify (ingest)", MED2(r->initial, ingest_ms), "ms", "", "");
	line2("  secondary: write lock held", MED2(r->initial, lock_ms), "ms", "", "");
	snprintf(b, sizeof(b), "%.2fx SELECT+INSERT", full / fl);
	line2("  full cycle", full, "ms", b, "");
	line2("  full cycle, CPU time", MED2(r->initial, cpu_ms), "ms", "", "");
	line2("  on the wire", (double)median_size(r->initial.wire, reps) / 1024.0, "KiB", "", "");
	printf("  one changed user (delta from the secondary's verified base)\n");
	line2("  primary: look (produce_begin)", MED2(r->changed, look_ms), "ms", "", "");
	line2("  primary: delta + seal (produce_v2)", MED2(r->changed, produce_ms), "ms", "", "");
	line2("  secondary: open + apply + verify (ingest)", MED2(r->changed, ingest_ms), "ms", "", "");
	line2("  secondary: write lock held", MED2(r->changed, lock_ms), "ms", "", "");
	snprintf(b, sizeof(b), "%zu-%zu over the reps", r->changed.changes_min, r->changed.changes_max);
	line2("  rows changed on the secondary (users, updated)", (double)r->changed.changes_max, "", b,
	      "exactly 1");
	snprintf(b, sizeof(b), "%.2f%% of full cycle", 100.0 * MED2(r->changed, cycle_ms) / full);
	line2("  cycle", MED2(r->changed, cycle_ms), "ms", b, "<= 5% of full cycle");
	snprintf(b, sizeof(b), "%.2f%% of full cycle's", 100.0 * MED2(r->changed, cpu_ms) / MED2(r->initial, cpu_ms));
	line2("  cycle, CPU time", MED2(r->changed, cpu_ms), "ms", b, "");
	snprintf(b, sizeof(b), "max %zu bytes", max_size(r->changed.wire, reps));
	line2("  on the wire", (double)median_size(r->changed.wire, reps), "B", b, "<= 4096 bytes");
	printf("  memory (peak RSS of a re-executed child doing one side of a full sync)\n");
	line2("  plaintext of the full snapshot", (double)plain / 1048576.0, "MiB", "", "");
	snprintf(b, sizeof(b), "%.2fx plaintext", (double)r->rss_primary * 1024.0 / (double)plain);
	line2("  primary side: look + export + seal", (double)r->rss_primary / 1024.0, "MiB", b,
	      "<= 2x plaintext (at 100k)");
	snprintf(b, sizeof(b), "%.2fx plaintext", (double)r->rss_secondary * 1024.0 / (double)plain);
	line2("  secondary side: ingest", (double)r->rss_secondary / 1024.0, "MiB", b,
	      "<= 2x plaintext (at 100k)");
	line2("  this benchmark process (not a daemon)", (double)r->rss_bench / 1024.0, "MiB", "", "");
	printf("SYNC_MAX_PAYLOAD_SIZE: %llu bytes (the default). All applies verified: rows hash and "
	       "durable data equal the primary's, local rows kept.\n", (unsigned long long)r->max_payload);
}

int bench_v2_main(const char *dir, const char *schema_path, int users, int reps, bool tsv)
{
	struct b2 b = {.dir = dir, .users = users, .reps = reps};
	struct results2 *r = calloc(1, sizeof(*r));
	struct rusage ru;
	sqlite3 *db;

	log_set_level(LOG_LVL_ERROR); /* ingest's restart.needed warning, once per full sync */
	b.pkeys = (struct jwt_store_cfg){(const uint8_t *)PRIMARY_KEK, strlen(PRIMARY_KEK), NULL, NULL};
	b.skeys = (struct jwt_store_cfg){(const uint8_t *)SECONDARY_KEK, strlen(SECONDARY_KEK), NULL, NULL};
	if (r == NULL || (b.schema_sql = bench_slurp(schema_path)) == NULL)
		bench_die("cannot read the schema", schema_path);
	if ((b.w = change_watch_new()) == NULL)
		bench_die("out of memory", NULL);
	bench_load_key(dir, "primary", &b.pk, true);
	bench_load_key(dir, "secondary", &b.sk, true);
	node_config(&b.prim, dir, "primary", true, NULL);
	db = bench_gen_create(b.prim.path, b.schema_sql, "primary", PRIMARY_KEK, BENCH_JWK);
	bench_gen_durable(db, users);
	bench_gen_local(db, users, 1);
	sqlite3_close(db);
	node_open(&b.prim);
	r->max_payload = b.prim.cfg.max_payload_bytes;
	measure_rss2(&b, &r->rss_primary, &r->rss_secondary, &r->rss_wire);
	bench_floors(b.prim.db, dir, b.schema_sql, reps, &r->fl);
	measure_initial2(&b, &r->initial);
	measure_changed2(&b, &r->changed);
	getrusage(RUSAGE_SELF, &ru);
	r->rss_bench = ru.ru_maxrss;
	if (tsv)
		report2_tsv(r, users, reps);
	else
		report2_text(r, users, reps);
	node_close(&b.prim, false);
	change_watch_free(b.w);
	keys_wipe(&b.pk);
	keys_wipe(&b.sk);
	free(b.schema_sql);
	free(r);
	return 0;
}
