/* ingest: envelope + replay guard + apply + bookkeeping for a secondary. The
 * apply lock is an flock on SYNC_STATE_DIR/apply.lock, held by the daemon
 * and the CLI alike, so two applies never overlap. */
#include "ingest.h"

#include "apply2.h"
#include "b64.h"
#include "drift.h"
#include "envelope.h"
#include "log.h"
#include "protocol.h"
#include "restart.h"
#include "seal.h"

#include <fcntl.h>
#include <inttypes.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#define RESTART_PENDING_KEY "restart_pending"
#define CAPTURE_KEY "callback_capture_clients"
#define ROWS_HASH_KEY "applied_rows_hash" /* "<generation> <base64 rows hash>" */

static int lock_applies(const char *state_dir, char *err, size_t errlen)
{
	char path[4096];
	int fd;

	snprintf(path, sizeof(path), "%s/apply.lock", state_dir);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd == -1 || flock(fd, LOCK_EX) == -1) {
		snprintf(err, errlen, "%s: cannot lock", path);
		if (fd != -1)
			close(fd);
		return -1;
	}
	return fd;
}

static int check_generation(struct state *st, const uint8_t pinned[32], uint64_t generation,
			    struct ingest_result *r, char *err, size_t errlen)
{
	uint64_t last;
	bool found;

	if (state_applied_get(st, pinned, &last, &found) == -1) {
		r->reason = "internal";
		snprintf(err, errlen, "cannot read the sidecar state");
		return -1;
	}
	if (found && generation < last) {
		r->reason = "replay";
		snprintf(err, errlen, "payload refused: replay/rollback: generation %" PRIu64
				      " is older than %" PRIu64 ", the last applied from this primary",
			 generation, last);
		return -1;
	}
	r->same_generation = found && generation == last;
	return 0;
}

static void record(struct state *st, const uint8_t pinned[32], uint64_t generation, int64_t issued_at)
{
	int64_t now = (int64_t)time(NULL);

	if (state_applied_set(st, pinned, generation, issued_at, now) == -1)
		log_error("state.write_failed", "what=applied_generation");
}

/* The verified rows hash of the generation just applied (NULL: none, after
 * a format-1 apply, which proves nothing about it). */
static void record_rows_hash(struct state *st, uint64_t generation, const uint8_t *hash)
{
	char buf[80], b64[45];

	if (hash != NULL) {
		b64_encode(b64, hash, 32);
		snprintf(buf, sizeof(buf), "%" PRIu64 " %s", generation, b64);
	}
	if (state_status_set(st, ROWS_HASH_KEY, hash != NULL ? buf : NULL) == -1)
		log_error("state.write_failed", "what=rows_hash");
}

int ingest_recorded_rows_hash(struct state *st, uint64_t *gen, uint8_t out[static 32])
{
	char buf[80], *end;

	if (state_status_get(st, ROWS_HASH_KEY, buf, sizeof(buf)) != 0 || buf[0] < '0' || buf[0] > '9')
		return 1;
	*gen = strtoull(buf, &end, 10);
	if (*end != ' ' || b64_decode_exact(end + 1, out, 32) == -1)
		return 1;
	return 0;
}

void ingest_result_free(struct ingest_result *r)
{
	rowhash_skip_free(&r->kept);
}

/* Runs SYNC_RESTART_COMMAND when the apply changed something Pocket ID
 * caches, or when an earlier run did not finish. The intent is written to
 * state.db (status restart_pending = 1) before Pocket ID's transaction
 * commits (mark_restart_pending) and cleared only once the command
 * succeeded, so a failure, or a kill anywhere between the commit and the
 * command's success, leaves it pending: a later poll, or the next start,
 * runs it again instead of leaving Pocket ID on the old key. A kill before
 * the commit costs at most one restart too many. */
static int run_restart(const struct config *cfg, struct state *st, const char *why)
{
	int rc = restart_pocket_id(cfg->restart_command, cfg->restart_timeout_ms, why);
	state_status_set_i64(st, RESTART_PENDING_KEY, rc == -1 ? 1 : 0);
	return rc;
}

static bool restart_pending(struct state *st)
{
	int64_t v = 0;
	return state_status_get_i64(st, RESTART_PENDING_KEY, &v) == 0 && v == 1;
}

/* apply_opts.before_cached_write: arg is the state handle. */
static int mark_restart_pending(void *arg)
{
	if (state_status_set_i64(arg, RESTART_PENDING_KEY, 1) == -1) {
		log_error("state.write_failed", "what=restart_pending");
		return -1;
	}
	return 0;
}

static void maybe_restart(const struct config *cfg, struct state *st, struct ingest_result *r)
{
	r->restart = 2;
	if (r->apply.restart_needed)
		r->restart = run_restart(cfg, st, r->apply.restart_why);
	else if (restart_pending(st))
		r->restart = run_restart(cfg, st, "retry");
}

/* What the secondary's own Pocket ID writes that no apply can fix: LDAP
 * switched on in its database, and clients that capture their first
 * callback URL. Warned after the first apply since start and whenever the
 * count changes; the count goes to state.db for `status`. */
static void check_drift(struct state *st, sqlite3 *db, bool first, struct ingest_result *r)
{
	int64_t before = -1;
	bool ldap = false;

	if (drift_ldap_row_enabled(db, &ldap) == 0 && ldap && first)
		log_warn("ldap.on_secondary", "msg=\"ldapEnabled is true in this secondary's database: "
					      "its LDAP job creates users and groups the next sync replaces "
					      "(their sessions and consents go with them); switch LDAP off here, "
					      "it runs on the primary\"");
	if (drift_callback_capture_clients(db, &r->capture_clients) == -1)
		return;
	state_status_get_i64(st, CAPTURE_KEY, &before);
	state_status_set_i64(st, CAPTURE_KEY, (int64_t)r->capture_clients);
	if (r->capture_clients > 0 && (first || before != (int64_t)r->capture_clients))
		log_warn("oidc.callback_capture", "clients=%zu msg=\"%s\"", r->capture_clients,
			 DRIFT_CAPTURE_MSG);
}

int ingest_retry_restart(const struct config *cfg, struct state *st)
{
	return restart_pending(st) ? run_restart(cfg, st, "retry") : 2;
}

/* After the database: the configuration through Pocket ID's API. Its own
 * failure does not undo the apply; it stays pending (appconfig_step.c). */
static void write_app_config(const struct config *cfg, struct state *st, const struct payload *p,
			     struct ingest_result *r)
{
	char err[512];

	r->app_config = appconfig_step_write(cfg, st, p, &r->app_config_keys, err, sizeof(err));
}

static struct apply_opts apply_opts_of(const struct config *cfg, struct state *st,
					const struct ingest_opts *io)
{
	return (struct apply_opts){
		.dry_run = io->dry_run,
		.force = io->force,
		.max_delete_percent = cfg->max_delete_percent,
		.app_config_from_env = cfg->ui_config_disabled,
		.keys = {cfg->encryption_key, cfg->encryption_key_len, cfg->keys_storage, cfg->keys_path},
		.before_cached_write = mark_restart_pending,
		.hook_arg = st,
	};
}

static int ingest_v1(const struct config *cfg, const struct node_key *me, struct state *st,
		     sqlite3 *db, const uint8_t *wire, size_t wire_len, const struct ingest_opts *io,
		     struct ingest_result *r, char *err, size_t errlen)
{
	struct apply_opts o = apply_opts_of(cfg, st, io);
	struct payload p;
	enum envelope_error e;
	enum apply_status as;
	bool was_pending;
	int rc = -1;

	r->format = 1;
	e = envelope_open(me, cfg->primary_pubkey, wire, wire_len, cfg->max_payload_bytes, &p,
			  NULL, NULL, err, errlen);
	if (e != ENVELOPE_OK) {
		r->reason = envelope_reason(e);
		goto out_unlock;
	}
	r->generation = p.generation;
	r->issued_at = p.issued_at;
	if (check_generation(st, cfg->primary_pubkey, p.generation, r, err, errlen) == -1)
		goto out;
	if (r->same_generation && !io->reapply) {
		if (!io->dry_run)
			r->restart = ingest_retry_restart(cfg, st);
		if (!io->dry_run && appconfig_step_pending(st))
			write_app_config(cfg, st, &p, r);
		r->ok = true;
		rc = 0;
		goto out;
	}
	o.app_config_via_api = appconfig_step_enabled(cfg) && payload_table(&p, APPCONFIG_TABLE) != NULL;
	log_debug("apply.started", "generation=%" PRIu64 " dry_run=%d", p.generation, io->dry_run ? 1 : 0);
	was_pending = restart_pending(st);
	as = apply_payload(db, &p, &o, &r->apply, err, errlen);
	if (as != APPLY_OK) {
		r->reason = apply_status_reason(as);
		if (!was_pending && r->apply.restart_needed && !r->apply.wrote && !io->dry_run)
			state_status_set_i64(st, RESTART_PENDING_KEY, 0); /* nothing was written */
		goto out;
	}
	if (!io->dry_run) {
		record(st, cfg->primary_pubkey, p.generation, p.issued_at);
		record_rows_hash(st, p.generation, NULL);
		maybe_restart(cfg, st, r);
		check_drift(st, db, io->reapply, r);
		write_app_config(cfg, st, &p, r);
	}
	r->ok = true;
	rc = 0;
out:
	payload_free(&p);
out_unlock:
	return rc;
}


/* ---- format 2 ---- */

static const char *seal_reason(enum seal_status st)
{
	switch (st) {
	case SEAL_ERR_AUTH:
	case SEAL_ERR_WEAK_KEY: return "decrypt";
	case SEAL_ERR_MALFORMED:
	case SEAL_ERR_TOO_LARGE: return "invalid";
	default: return "internal";
	}
}

/* The "@app_configuration" record of a format-2 document, into p (for a
 * retry of the configuration step when the generation was applied before). */
static int find_app_config(const uint8_t *pt, size_t n, struct payload *p)
{
	struct doc2_reader rd;
	struct doc2_header h;
	struct doc2_table t;
	char err[256];
	int rc;

	memset(p, 0, sizeof(*p));
	doc2_reader_init(&rd, pt, n);
	if (doc2_read_header(&rd, &h, err, sizeof(err)) == -1) {
		doc2_reader_free(&rd);
		return -1;
	}
	doc2_header_free(&h);
	while ((rc = doc2_read_table(&rd, &t, err, sizeof(err))) == 1) {
		if (strcmp(t.t.name, APPCONFIG_TABLE) == 0 && p->tables == NULL &&
		    (p->tables = calloc(1, sizeof(struct pl_table))) != NULL) {
			p->tables[0] = t.t; /* moved: its arena owns the cells */
			p->ntables = 1;
			memset(&t.t, 0, sizeof(t.t));
		}
		doc2_table_free(&t);
	}
	doc2_reader_free(&rd);
	return rc;
}

/* Refuses a delta this node cannot apply: it must hold exactly its base. */
static int check_base(struct state *st, const uint8_t pinned[32], const struct doc2_header *h,
		      const struct ingest_opts *io, struct ingest_result *r, char *err, size_t errlen)
{
	uint64_t last = 0;
	bool found = false;

	state_applied_get(st, pinned, &last, &found);
	uint8_t have[32];

	if (io->verified_sum != NULL)
		lthash_digest(io->verified_sum, have);
	if (found && last == h->base_generation && io->verified_sum != NULL &&
	    CRYPTO_memcmp(have, h->base_rows_hash, 32) == 0)
		return 0;
	r->reason = "delta_base";
	if (!found || last != h->base_generation)
		snprintf(err, errlen, "delta refused: it starts at generation %" PRIu64 ", this node "
				      "holds %" PRIu64 "; asking for a full snapshot", h->base_generation, last);
	else
		snprintf(err, errlen, "delta refused: this node's content is not the one it verified for "
				      "generation %" PRIu64 "; asking for a full snapshot", last);
	return -1;
}

static int ingest_v2(const struct config *cfg, const struct node_key *me, struct state *st,
		     sqlite3 *db, uint8_t *wire, size_t wire_len, const struct ingest_opts *io,
		     struct ingest_result *r, char *err, size_t errlen)
{
	struct apply_opts o = apply_opts_of(cfg, st, io);
	struct apply2_out out = {0};
	struct doc2_reader rd;
	struct doc2_header h = {0};
	enum seal_status ss;
	enum apply_status as;
	uint8_t *pt;
	size_t n;
	bool was_pending;
	char sender[45], pinned[45], msg[512];
	int rc = -1;

	r->format = 2;
	ss = seal_open_inplace(me, cfg->primary_pubkey, wire, wire_len, cfg->max_payload_bytes, &pt, &n);
	if (ss != SEAL_OK) {
		r->reason = seal_reason(ss);
		snprintf(err, errlen, "payload refused: %s", seal_strerror(ss));
		return -1;
	}
	doc2_reader_init(&rd, pt, n);
	if (doc2_read_header(&rd, &h, msg, sizeof(msg)) == -1) {
		r->reason = "invalid";
		snprintf(err, errlen, "payload refused: %s", msg);
		goto out;
	}
	if (CRYPTO_memcmp(h.sender, cfg->primary_pubkey, 32) != 0) {
		b64_encode(sender, h.sender, 32);
		b64_encode(pinned, cfg->primary_pubkey, 32);
		r->reason = "sender";
		snprintf(err, errlen, "payload refused: it names sender %s, but this node pins %s",
			 sender, pinned);
		goto out;
	}
	if (CRYPTO_memcmp(h.recipient, me->pub, 32) != 0) {
		r->reason = "invalid";
		snprintf(err, errlen, "payload refused: payload is for another node");
		goto out;
	}
	r->generation = h.generation;
	r->issued_at = h.issued_at;
	r->kind = h.kind;
	if (check_generation(st, cfg->primary_pubkey, h.generation, r, err, errlen) == -1)
		goto out;
	if (r->same_generation && !io->reapply) {
		if (!io->dry_run)
			r->restart = ingest_retry_restart(cfg, st);
		if (!io->dry_run && appconfig_step_pending(st) && h.kind == DOC2_FULL &&
		    find_app_config(pt, n, &out.app_config) == 0)
			write_app_config(cfg, st, &out.app_config, r);
		r->ok = true;
		rc = 0;
		goto out;
	}
	if (h.kind == DOC2_DELTA &&
	    check_base(st, cfg->primary_pubkey, &h, io, r, err, errlen) == -1)
		goto out;
	o.app_config_via_api = appconfig_step_enabled(cfg) && h.app_config_api;
	log_debug("apply.started", "generation=%" PRIu64 " kind=%s dry_run=%d", h.generation,
		  h.kind == DOC2_DELTA ? "delta" : "full", io->dry_run ? 1 : 0);
	was_pending = restart_pending(st);
	struct apply2_in in = {pt, n, &h, io->verified_sum, io->kept};
	as = h.kind == DOC2_DELTA ? apply_delta2(db, &in, &o, &r->apply, &out, err, errlen)
				  : apply_full2(db, &in, &o, &r->apply, &out, err, errlen);
	if (as != APPLY_OK) {
		r->reason = apply2_status_reason(as);
		if (!was_pending && r->apply.restart_needed && !r->apply.wrote && !io->dry_run)
			state_status_set_i64(st, RESTART_PENDING_KEY, 0); /* nothing was written */
		goto out;
	}
	if (!io->dry_run) {
		record(st, cfg->primary_pubkey, h.generation, h.issued_at);
		record_rows_hash(st, h.generation, out.rows_hash);
		r->verified = true;
		memcpy(r->rows_hash, out.rows_hash, 32);
		r->sum = out.sum;
		r->kept = out.kept;
		memset(&out.kept, 0, sizeof(out.kept));
		maybe_restart(cfg, st, r);
		check_drift(st, db, io->reapply, r);
		if (h.kind == DOC2_FULL || out.has_app_config)
			write_app_config(cfg, st, &out.app_config, r);
	}
	r->ok = true;
	rc = 0;
out:
	apply2_out_free(&out);
	doc2_header_free(&h);
	doc2_reader_free(&rd);
	return rc;
}

int ingest_wire(const struct config *cfg, const struct node_key *me, struct state *st,
		sqlite3 *db, uint8_t *wire, size_t wire_len, const struct ingest_opts *io,
		struct ingest_result *r, char *err, size_t errlen)
{
	bool v2;
	int lock, rc;

	memset(r, 0, sizeof(*r));
	r->reason = "internal";
	r->restart = 2; /* no command ran */
	if (!cfg->has_primary_pubkey) {
		snprintf(err, errlen, "no pinned primary key (SYNC_PRIMARY_TOKEN or SYNC_PRIMARY_PUBKEY)");
		return -1;
	}
	if ((lock = lock_applies(cfg->state_dir, err, errlen)) == -1)
		return -1;
	if (io->media != NULL) {
		v2 = strcmp(io->media, PROTOCOL_V2) == 0;
	} else { /* a file: open a copy to look at the document, then the real thing */
		uint8_t *copy = malloc(wire_len + 1), *pt;
		size_t n;
		v2 = false;
		if (copy != NULL) {
			memcpy(copy, wire, wire_len);
			if (seal_open_inplace(me, cfg->primary_pubkey, copy, wire_len, cfg->max_payload_bytes,
					      &pt, &n) == SEAL_OK)
				v2 = doc2_sniff(pt, n);
			OPENSSL_clear_free(copy, wire_len + 1);
		}
	}
	rc = v2 ? ingest_v2(cfg, me, st, db, wire, wire_len, io, r, err, errlen)
		: ingest_v1(cfg, me, st, db, wire, wire_len, io, r, err, errlen);
	close(lock);
	return rc;
}
