/* bench_daemon: the benchmark's second mode. Starts a real primary and
 * secondary (`pocket-id-sync run`) on loopback, bootstraps them through the
 * admin API, then measures change-to-visible latency with the change push
 * (p50/p99 over many changes), the cost of an unchanged poll on the wire and
 * in primary CPU time, and the daemons' idle RSS; with a login load, the
 * primary's CPU while Pocket ID-like local writes (audit logs) go on. Not a test: it asserts
 * no timing and prints numbers, but fails when the secondary does not end
 * with the primary's durable data. The databases come from bench_gen.c. */
#include "bench.h"

#include "export.h"

#include <curl/curl.h>
#include <errno.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct node {
	char name[16], dir[512], env[600], log[600];
	pid_t pid;
	int port, metrics_port;
};

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Daemons started so far, stopped by die() so a failed run leaves none behind. */
static pid_t running[2];

static void die(const char *what)
{
	fprintf(stderr, "bench --daemons: %s\n", what);
	for (size_t i = 0; i < 2; i++) {
		if (running[i] > 0) {
			kill(running[i], SIGTERM);
			waitpid(running[i], NULL, 0);
		}
	}
	exit(1);
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

static void exec_sql(sqlite3 *db, const char *sql)
{
	char *msg = NULL;
	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		fprintf(stderr, "SQL: %s\n", msg);
		die("database set-up failed");
	}
}

/* A Pocket ID v2.14 database in the benchmark's shapes (users == 0: an
 * empty secondary with local rows only). */
static void make_db(const char *path, const char *schema_sql, const char *instance, int users)
{
	char *kek = sqlite3_mprintf("%s-encryption-key-0123", instance);
	sqlite3 *db;

	if (kek == NULL)
		die("out of memory");
	db = bench_gen_create(path, schema_sql, instance, kek, users > 0 ? BENCH_JWK : NULL);
	sqlite3_free(kek);
	if (users > 0)
		bench_gen_durable(db, users);
	bench_gen_local(db, users, users > 0);
	sqlite3_close(db);
}

static void write_env(struct node *n, const char *base, const char *extra)
{
	FILE *f = fopen(n->env, "w");
	if (f == NULL)
		die("cannot write an env file");
	fprintf(f, "DB_CONNECTION_STRING=%s/%s.db\nENCRYPTION_KEY=%s-encryption-key-0123\n"
		   "SYNC_STATE_DIR=%s/%s-state\nSYNC_LISTEN=127.0.0.1:0\nSYNC_METRICS_LISTEN=127.0.0.1:0\n%s",
		base, n->name, n->name, base, n->name, extra);
	fclose(f);
}

static void start(struct node *n, const char *bin)
{
	double deadline = now_ms() + 20000;

	n->pid = fork();
	if (n->pid == 0) {
		if (freopen(n->log, "w", stderr) == NULL)
			_exit(127);
		execl(bin, bin, "run", "--env-file", n->env, (char *)NULL);
		_exit(127);
	}
	running[running[0] > 0] = n->pid;
	while (now_ms() < deadline) {
		char *log = bench_slurp(n->log), *p;
		if (log != NULL && (p = strstr(log, "event=daemon.started")) != NULL &&
		    sscanf(strstr(p, "listen=127.0.0.1:"), "listen=127.0.0.1:%d", &n->port) == 1) {
			sscanf(strstr(p, "metrics=127.0.0.1:"), "metrics=127.0.0.1:%d", &n->metrics_port);
			free(log);
			return;
		}
		free(log);
		sleep_ms(20);
	}
	die("a daemon did not start (see its log in the bench directory)");
}

static void stop(struct node *n)
{
	int status;
	if (n->pid > 0) {
		kill(n->pid, SIGTERM);
		waitpid(n->pid, &status, 0);
		for (size_t i = 0; i < 2; i++)
			running[i] = running[i] == n->pid ? 0 : running[i];
	}
}

struct buf {
	char *p;
	size_t n;
};

static size_t on_data(char *d, size_t s, size_t k, void *arg)
{
	struct buf *b = arg;
	char *np = realloc(b->p, b->n + s * k + 1);
	if (np == NULL)
		return 0;
	memcpy(np + b->n, d, s * k);
	b->p = np;
	b->n += s * k;
	b->p[b->n] = '\0';
	return s * k;
}

/* Registers a peer; returns the bearer part of the pisync1 string. */
static char *enrol(int port, const char *name, const char *pub, char *bootstrap, size_t blen)
{
	char url[128], body[256], *tok, *dot;
	struct buf b = {0};
	CURL *c = curl_easy_init();
	struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");

	snprintf(url, sizeof(url), "http://127.0.0.1:%d/sync/admin/peers", port);
	snprintf(body, sizeof(body), "{\"name\":\"%s\",\"pubkey\":\"%s\"}", name, pub);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	if (curl_easy_perform(c) != CURLE_OK || b.p == NULL || (tok = strstr(b.p, "pisync1.")) == NULL)
		die("registration failed");
	snprintf(bootstrap, blen, "%.*s", (int)strcspn(tok, "\""), tok);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	free(b.p);
	dot = strrchr(bootstrap, '.');
	return dot + 1;
}

static char *node_pubkey(const char *bin, const char *state_dir)
{
	char cmd[1200];
	static char out[64];
	FILE *p;

	snprintf(cmd, sizeof(cmd), "SYNC_STATE_DIR='%s' '%s' pubkey", state_dir, bin);
	p = popen(cmd, "r");
	if (p == NULL || fgets(out, sizeof(out), p) == NULL)
		die("pubkey failed");
	pclose(p);
	out[strcspn(out, "\n")] = '\0';
	return out;
}

static double cpu_seconds(pid_t pid)
{
	char path[64], *s, *p;
	unsigned long ut = 0, st = 0;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	s = bench_slurp(path);
	if (s == NULL || (p = strrchr(s, ')')) == NULL) {
		free(s);
		return -1;
	}
	/* fields after ") S": 14th and 15th of the line are utime, stime */
	sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st);
	free(s);
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* A /proc/PID/status field in KiB: "VmRSS" (all resident pages, including
 * the shared libraries' file pages) or "RssAnon" (the process's own memory). */
static long status_kib(pid_t pid, const char *field)
{
	char path[64], *s, *p;
	long kib = -1;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	s = bench_slurp(path);
	if (s != NULL && (p = strstr(s, field)) != NULL)
		sscanf(p + strlen(field) + 1, "%ld", &kib);
	free(s);
	return kib;
}

/* Anonymous KiB in the main heap ([heap], grown by brk) of /proc/PID/smaps;
 * the rest of RssAnon is in mmap'd regions (thread arenas, large blocks,
 * stacks). */
static long heap_anon_kib(pid_t pid)
{
	char path[64], *s, *line, *save = NULL;
	long kib = 0, v;
	int in_heap = 0;

	snprintf(path, sizeof(path), "/proc/%d/smaps", (int)pid);
	if ((s = bench_slurp(path)) == NULL)
		return -1;
	for (line = strtok_r(s, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
		unsigned long lo, hi;
		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2)
			in_heap = strstr(line, "[heap]") != NULL;
		else if (in_heap && sscanf(line, "Anonymous: %ld kB", &v) == 1)
			kib += v;
	}
	free(s);
	return kib;
}

/* A field of /proc/PID/smaps_rollup in KiB, e.g. "Pss:" (resident pages,
 * each divided by the number of processes mapping it). */
static long rollup_kib(pid_t pid, const char *field)
{
	char path[64], *s, *p;
	long kib = -1;

	snprintf(path, sizeof(path), "/proc/%d/smaps_rollup", (int)pid);
	s = bench_slurp(path);
	if (s != NULL && (p = strstr(s, field)) != NULL)
		sscanf(p + strlen(field), "%ld", &kib);
	free(s);
	return kib;
}

/* A sample of the node's /metrics ("last_payload_bytes",
 * "payloads_total{kind=\"delta\"}"), or -1. */
static long metric(const struct node *n, const char *name)
{
	char url[128], key[128], *p;
	struct buf b = {0};
	CURL *c = curl_easy_init();
	long v = -1;

	snprintf(url, sizeof(url), "http://127.0.0.1:%d/metrics", n->metrics_port);
	snprintf(key, sizeof(key), "\npocket_id_sync_%s ", name);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	if (curl_easy_perform(c) == CURLE_OK && b.p != NULL && (p = strstr(b.p, key)) != NULL)
		sscanf(p + strlen(key), "%ld", &v);
	curl_easy_cleanup(c);
	free(b.p);
	return v;
}

/* Payloads the secondary counted (full + delta). It counts one after the
 * apply it can already see, so wait up to 5 s for at least want. */
static long payloads(const struct node *s, long want, long *fulls, long *deltas)
{
	double deadline = now_ms() + 5000;

	for (;;) {
		*fulls = metric(s, "payloads_total{kind=\"full\"}");
		*deltas = metric(s, "payloads_total{kind=\"delta\"}");
		if (*fulls + *deltas >= want || now_ms() > deadline)
			return *fulls + *deltas;
		sleep_ms(5);
	}
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* The content hashes of both nodes' durable data (and JWT key) match. */
static int durable_identical(sqlite3 *pdb, sqlite3 *sdb)
{
	static const char pk[] = "primary-encryption-key-0123", sk[] = "secondary-encryption-key-0123";
	struct jwt_store_cfg pc = {(const uint8_t *)pk, sizeof(pk) - 1, NULL, NULL};
	struct jwt_store_cfg sc = {(const uint8_t *)sk, sizeof(sk) - 1, NULL, NULL};
	struct export_result a, b;
	char err[256];

	if (export_snapshot(pdb, &pc, NULL, &a, err, sizeof(err)) == -1 ||
	    export_snapshot(sdb, &sc, NULL, &b, err, sizeof(err)) == -1) {
		fprintf(stderr, "bench --daemons: %s\n", err);
		return 0;
	}
	return memcmp(a.content_hash, b.content_hash, 32) == 0;
}

/* A curl handle for GET /sync/export?wait=0 as the probe peer, with
 * If-None-Match: etag unless etag is NULL; *h is the header list to free. */
static CURL *export_request(const struct node *p, const char *token, const char *etag,
			    struct curl_slist **h, struct buf *b)
{
	char url[128], hdr[128];
	CURL *c = curl_easy_init();

	snprintf(url, sizeof(url), "http://127.0.0.1:%d/sync/export?wait=0", p->port);
	snprintf(hdr, sizeof(hdr), "Authorization: Bearer %s", token);
	*h = curl_slist_append(NULL, hdr);
	if (etag != NULL) {
		snprintf(hdr, sizeof(hdr), "If-None-Match: %s", etag);
		*h = curl_slist_append(*h, hdr);
	}
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, *h);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, b);
	return c;
}

/* The primary's current generation, as the ETag of a plain export (malloc'd). */
static char *current_etag(const struct node *p, const char *token)
{
	struct curl_slist *h;
	struct buf b = {0};
	struct curl_header *e;
	CURL *c = export_request(p, token, NULL, &h, &b);
	char *etag = NULL;

	if (curl_easy_perform(c) == CURLE_OK &&
	    curl_easy_header(c, "ETag", 0, CURLH_HEADER, -1, &e) == CURLHE_OK)
		etag = strdup(e->value);
	free(b.p);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	if (etag == NULL)
		die("no ETag from the primary");
	return etag;
}

/* Unchanged polls: If-None-Match with the current generation, wait=0. */
static void measure_unchanged(const struct node *p, const char *token, int polls, double *bytes,
			      double *cpu_ms)
{
	struct curl_slist *h;
	struct buf b = {0};
	double cpu0, total = 0;
	long req_size, hdr_size;
	char *etag = current_etag(p, token);
	CURL *c = export_request(p, token, etag, &h, &b);

	cpu0 = cpu_seconds(p->pid);
	for (int i = 0; i < polls; i++) {
		long code = 0;
		b.n = 0;
		curl_easy_perform(c);
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
		curl_easy_getinfo(c, CURLINFO_REQUEST_SIZE, &req_size);
		curl_easy_getinfo(c, CURLINFO_HEADER_SIZE, &hdr_size);
		if (code != 304)
			die("an unchanged poll did not answer 304");
		total += (double)(req_size + hdr_size) + (double)b.n;
	}
	*cpu_ms = (cpu_seconds(p->pid) - cpu0) * 1000.0 / polls;
	*bytes = total / polls;
	free(etag);
	free(b.p);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
}

struct login_load {
	int per_s, seconds, warmup;
	double cpu_pct; /* of one core, utime + stime of the primary over the window */
	long writes;
	int generation_moved;
};

static void insert_login(sqlite3 *pdb)
{
	exec_sql(pdb, "INSERT INTO audit_logs(id,created_at,event,ip_address,user_agent,data,"
		      "user_id,country,city) VALUES (lower(hex(randomblob(16))), "
		      "strftime('%Y-%m-%d %H:%M:%f+00:00','now'), 'SIGN_IN', '198.51.100.7', "
		      "'Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0', '{\"clientName\":\"App 1\"}', "
		      "(SELECT id FROM users WHERE rowid = 1), 'DE', 'Berlin')");
}

/* per_s logins a second for seconds, paced on the clock; returns the writes. */
static long run_logins(sqlite3 *pdb, int per_s, int seconds)
{
	double t0 = now_ms(), left;
	long n = (long)per_s * seconds;

	for (long i = 0; i < n; i++) {
		double due = t0 + (double)i * 1000.0 / per_s;
		if (due > now_ms())
			sleep_ms((long)(due - now_ms()) + 1);
		insert_login(pdb);
	}
	if ((left = t0 + (double)seconds * 1000.0 - now_ms()) > 0)
		sleep_ms((long)left);
	return n;
}

/* rate writes a second into audit_logs (what every Pocket ID login adds)
 * while the secondary holds its long poll (so the primary checks every
 * 200 ms); nothing durable changes. A warm-up at the same rate first lets
 * the WAL file reach its working size, as on any running Pocket ID (while
 * it still grows, a WAL restart can leave the primary unsure whether it saw
 * every frame, and it then re-hashes everything). */
static void measure_login_load(const struct node *p, sqlite3 *pdb, const char *token,
			       struct login_load *ll)
{
	char *before, *after;
	double t0, cpu0;

	sleep_ms(1000); /* the secondary back in its long poll after the last change */
	run_logins(pdb, ll->per_s, ll->warmup);
	before = current_etag(p, token);
	cpu0 = cpu_seconds(p->pid);
	t0 = now_ms();
	ll->writes = run_logins(pdb, ll->per_s, ll->seconds);
	ll->cpu_pct = (cpu_seconds(p->pid) - cpu0) * 1000.0 / (now_ms() - t0) * 100.0;
	after = current_etag(p, token);
	ll->generation_moved = strcmp(before, after) != 0;
	free(before);
	free(after);
}

static void print_login_load(const struct login_load *ll, int tsv)
{
	if (tsv) {
		printf("login_load_per_s\t%d\nlogin_load_seconds\t%d\nlogin_load_warmup_seconds\t%d\n"
		       "login_load_writes\t%ld\nlogin_load_primary_cpu_pct\t%.2f\n"
		       "login_load_generation_moved\t%d\n",
		       ll->per_s, ll->seconds, ll->warmup, ll->writes, ll->cpu_pct, ll->generation_moved);
		return;
	}
	printf("  %-40s %8.2f %%    <= 1 %% (%d audit-log writes/s for %d s after %d s)\n",
	       "login load, primary CPU (one core)", ll->cpu_pct, ll->per_s, ll->seconds, ll->warmup);
	printf("  %-40s %8s      no\n", "login load moved the generation", ll->generation_moved ? "yes" : "no");
}

int bench_daemon_main(const char *bin, const char *schema_path, const char *dir, int users,
		      int changes, int tsv, const int load[3])
{
	struct login_load ll = {load[0], load[1], load[2], 0, 0, 0};
	struct node p = {.name = "primary"}, s = {.name = "secondary"};
	char *schema = bench_slurp(schema_path), path[600], boot[200], extra[400], probe_boot[200];
	double *lat = calloc((size_t)changes, sizeof(double)), bytes, cpu_ms, initial_ms;
	double *wire = calloc((size_t)changes, sizeof(double));
	long initial_wire, fulls, deltas, fulls0, deltas0;
	char *probe_token;
	sqlite3 *pdb, *sdb;

	if (schema == NULL || lat == NULL || wire == NULL)
		die("cannot read the fixture schema");
	curl_global_init(CURL_GLOBAL_DEFAULT);
	for (struct node *n = &p; n != NULL; n = n == &p ? &s : NULL) {
		snprintf(n->dir, sizeof(n->dir), "%s", dir);
		snprintf(n->env, sizeof(n->env), "%s/%s.env", dir, n->name);
		snprintf(n->log, sizeof(n->log), "%s/%s.log", dir, n->name);
		snprintf(path, sizeof(path), "%s/%s.db", dir, n->name);
		make_db(path, schema, n->name, n == &p ? users : 0);
	}
	write_env(&p, dir, "SYNC_ROLE=primary\n");
	start(&p, bin);
	snprintf(path, sizeof(path), "%s/secondary-state", dir);
	enrol(p.port, "site-b", node_pubkey(bin, path), boot, sizeof(boot));
	snprintf(path, sizeof(path), "%s/probe-state", dir);
	probe_token = enrol(p.port, "bench-probe", node_pubkey(bin, path), probe_boot, sizeof(probe_boot));
	snprintf(extra, sizeof(extra), "SYNC_ROLE=secondary\nSYNC_PRIMARY_URL=http://127.0.0.1:%d\n"
				       "SYNC_PRIMARY_TOKEN=%s\nSYNC_INTERVAL=1h\nSYNC_LONG_POLL_TIMEOUT=30s\n",
		 p.port, boot);
	write_env(&s, dir, extra);
	start(&s, bin);
	snprintf(path, sizeof(path), "%s/primary.db", dir);
	sqlite3_open(path, &pdb);
	sqlite3_busy_timeout(pdb, 2500);
	snprintf(path, sizeof(path), "%s/secondary.db", dir);
	sqlite3_open_v2(path, &sdb, SQLITE_OPEN_READONLY, NULL);
	sqlite3_busy_timeout(sdb, 2500);
	initial_ms = now_ms();
	for (double deadline = now_ms() + 600000; bench_count(sdb, "SELECT count(*) FROM users") != users;) {
		if (now_ms() > deadline)
			die("the initial sync did not finish within 600 s");
		sleep_ms(10);
	}
	initial_ms = now_ms() - initial_ms;
	initial_wire = metric(&s, "last_payload_bytes");
	payloads(&s, 1, &fulls0, &deltas0);
	for (int i = 0; i < changes; i++) {
		char upd[160], chk[200];
		double t0;
		snprintf(upd, sizeof(upd), "UPDATE users SET first_name='change-%d' WHERE rowid=%d", i, 1 + i % users);
		snprintf(chk, sizeof(chk), "SELECT count(*) FROM users WHERE first_name='change-%d'", i);
		t0 = now_ms();
		exec_sql(pdb, upd);
		while (bench_count(sdb, chk) != 1) {
			if (now_ms() - t0 > 30000)
				die("a change did not arrive within 30 s");
			sleep_ms(1);
		}
		lat[i] = now_ms() - t0;
		wire[i] = (double)metric(&s, "last_payload_bytes");
	}
	payloads(&s, fulls0 + deltas0 + changes, &fulls, &deltas);
	fulls -= fulls0;
	deltas -= deltas0;
	/* The first change after the initial sync, and the worst of the others:
	 * the first often meets a look that reads every table whole (the WAL
	 * restarted since the initial sync's look), which the p99 of few
	 * changes then is. */
	double first_ms = lat[0], rest_max_ms = 0;
	for (int i = 1; i < changes; i++)
		rest_max_ms = lat[i] > rest_max_ms ? lat[i] : rest_max_ms;
	qsort(lat, (size_t)changes, sizeof(double), cmp_double);
	qsort(wire, (size_t)changes, sizeof(double), cmp_double);
	if (!durable_identical(pdb, sdb))
		die("the secondary's durable data differ from the primary's");
	measure_unchanged(&p, probe_token, 200, &bytes, &cpu_ms);
	if (ll.per_s > 0)
		measure_login_load(&p, pdb, probe_token, &ll);
	sleep_ms(1000); /* let both settle into their idle long poll before reading RSS */
	if (tsv) {
		printf("daemon_users\t%d\ndaemon_changes\t%d\nchange_visible_p50_ms\t%.1f\n"
		       "change_visible_p99_ms\t%.1f\nchange_visible_max_ms\t%.1f\nunchanged_poll_bytes\t%.0f\n"
		       "unchanged_poll_primary_cpu_ms\t%.3f\nidle_rss_primary_kib\t%ld\nidle_rss_secondary_kib\t%ld\n"
		       "idle_anon_primary_kib\t%ld\nidle_anon_secondary_kib\t%ld\nidle_file_primary_kib\t%ld\n"
		       "idle_file_secondary_kib\t%ld\nidle_heap_anon_primary_kib\t%ld\n"
		       "idle_heap_anon_secondary_kib\t%ld\nidle_pss_primary_kib\t%ld\nidle_pss_secondary_kib\t%ld\n"
		       "daemon_durable_identical\t1\n"
		       "daemon_initial_sync_ms\t%.1f\ndaemon_initial_wire_bytes\t%ld\n"
		       "change_wire_bytes_p50\t%.0f\nchange_wire_bytes_max\t%.0f\n"
		       "change_payloads_delta\t%ld\nchange_payloads_full\t%ld\n"
		       "change_visible_first_ms\t%.1f\nchange_visible_max_after_first_ms\t%.1f\n",
		       users, changes, lat[changes / 2], lat[(changes * 99) / 100], lat[changes - 1], bytes,
		       cpu_ms, status_kib(p.pid, "VmRSS"), status_kib(s.pid, "VmRSS"),
		       status_kib(p.pid, "RssAnon"), status_kib(s.pid, "RssAnon"),
		       status_kib(p.pid, "RssFile"), status_kib(s.pid, "RssFile"), heap_anon_kib(p.pid),
		       heap_anon_kib(s.pid), rollup_kib(p.pid, "Pss:"), rollup_kib(s.pid, "Pss:"),
		       initial_ms, initial_wire, wire[changes / 2], wire[changes - 1], deltas, fulls,
		       first_ms, rest_max_ms);
	} else {
		printf("\nTwo daemons on loopback (%d users, %d changes, release build of %s)\n", users, changes, bin);
		printf("  %-40s %10s   %s\n", "measure", "value", "target");
		printf("  %-40s %8.1f ms   -\n", "initial sync, secondary up to visible", initial_ms);
		printf("  %-40s %8ld B    -\n", "initial sync on the wire", initial_wire);
		printf("  %-40s %8.1f ms   -\n", "change visible on secondary, p50", lat[changes / 2]);
		printf("  %-40s %8.1f ms   <= 250 ms (at 100k)\n", "change visible on secondary, p99", lat[(changes * 99) / 100]);
		printf("  %-40s %8.1f ms   -\n", "change visible on secondary, max", lat[changes - 1]);
		printf("  %-40s %8.1f ms   -\n", "  the first change after the initial sync", first_ms);
		printf("  %-40s %8.1f ms   -\n", "  the worst of the other changes", rest_max_ms);
		printf("  %-40s %8.0f B    <= 4096 B\n", "one change on the wire, p50", wire[changes / 2]);
		printf("  %-40s %8.0f B    <= 4096 B\n", "one change on the wire, max", wire[changes - 1]);
		printf("  %-40s %5ld / %ld  (payloads the secondary received for the changes)\n",
		       "  deltas / full snapshots", deltas, fulls);
		printf("  %-40s %8.0f B    <= 1024 B\n", "unchanged poll on the wire (req+resp)", bytes);
		printf("  %-40s %8.3f ms   <= 2 ms\n", "unchanged poll, primary CPU", cpu_ms);
		printf("  %-40s %8ld KiB  <= 8192 KiB\n", "idle RSS, primary", status_kib(p.pid, "VmRSS"));
		printf("  %-40s %8ld KiB  <= 8192 KiB\n", "idle RSS, secondary", status_kib(s.pid, "VmRSS"));
		printf("  %-40s %8ld KiB  (own memory, without shared library pages)\n", "  of which anonymous, primary", status_kib(p.pid, "RssAnon"));
		printf("  %-40s %8ld KiB\n", "  of which anonymous, secondary", status_kib(s.pid, "RssAnon"));
		printf("  %-40s %8ld KiB  (mapped file pages: binary, shared libraries)\n", "  of which file, primary", status_kib(p.pid, "RssFile"));
		printf("  %-40s %8ld KiB\n", "  of which file, secondary", status_kib(s.pid, "RssFile"));
		printf("  %-40s %8ld KiB  (anonymous pages in the brk heap)\n", "  anonymous in [heap], primary", heap_anon_kib(p.pid));
		printf("  %-40s %8ld KiB\n", "  anonymous in [heap], secondary", heap_anon_kib(s.pid));
		printf("  %-40s %8ld KiB  (shared pages divided among their users)\n", "idle PSS, primary", rollup_kib(p.pid, "Pss:"));
		printf("  %-40s %8ld KiB\n", "idle PSS, secondary", rollup_kib(s.pid, "Pss:"));
	}
	if (ll.per_s > 0)
		print_login_load(&ll, tsv);
	stop(&s);
	stop(&p);
	sqlite3_close(pdb);
	sqlite3_close(sdb);
	free(lat);
	free(wire);
	free(schema);
	curl_global_cleanup();
	return 0;
}
