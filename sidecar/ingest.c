/* ingest: envelope + replay guard + apply + bookkeeping for a secondary. The
 * apply lock is an flock on SYNC_STATE_DIR/apply.lock, held by the daemon
 * and the CLI alike, so two applies never overlap. */
#include "ingest.h"

#include "drift.h"
#include "envelope.h"
#include "log.h"
#include "restart.h"

#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#define RESTART_PENDING_KEY "restart_pending"
#define CAPTURE_KEY "callback_capture_clients"

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

static int check_generation(struct state *st, const uint8_t pinned[32], const struct payload *p,
			    struct ingest_result *r, char *err, size_t errlen)
{
	uint64_t last;
	bool found;

	if (state_applied_get(st, pinned, &last, &found) == -1) {
		r->reason = "internal";
		snprintf(err, errlen, "cannot read the sidecar state");
		return -1;
	}
	if (found && p->generation < last) {
		r->reason = "replay";
		snprintf(err, errlen, "payload refused: replay/rollback: generation %" PRIu64
				      " is older than %" PRIu64 ", the last applied from this primary",
			 p->generation, last);
		return -1;
	}
	r->same_generation = found && p->generation == last;
	return 0;
}

static void record(struct state *st, const uint8_t pinned[32], const struct payload *p)
{
	int64_t now = (int64_t)time(NULL);

	if (state_applied_set(st, pinned, p->generation, p->issued_at, now) == -1)
		log_error("state.write_failed", "what=applied_generation");
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

int ingest_wire(const struct config *cfg, const struct node_key *me, struct state *st,
		sqlite3 *db, const uint8_t *wire, size_t wire_len, const struct ingest_opts *io,
		struct ingest_result *r, char *err, size_t errlen)
{
	struct apply_opts o = {
		.dry_run = io->dry_run,
		.force = io->force,
		.max_delete_percent = cfg->max_delete_percent,
		.app_config_from_env = cfg->ui_config_disabled,
		.keys = {cfg->encryption_key, cfg->encryption_key_len, cfg->keys_storage, cfg->keys_path},
		.before_cached_write = mark_restart_pending,
		.hook_arg = st,
	};
	struct payload p;
	enum envelope_error e;
	enum apply_status as;
	bool was_pending;
	int lock, rc = -1;

	memset(r, 0, sizeof(*r));
	r->reason = "internal";
	r->restart = 2; /* no command ran */
	if (!cfg->has_primary_pubkey) {
		snprintf(err, errlen, "no pinned primary key (SYNC_PRIMARY_TOKEN or SYNC_PRIMARY_PUBKEY)");
		return -1;
	}
	if ((lock = lock_applies(cfg->state_dir, err, errlen)) == -1)
		return -1;
	e = envelope_open(me, cfg->primary_pubkey, wire, wire_len, cfg->max_payload_bytes, &p,
			  NULL, NULL, err, errlen);
	if (e != ENVELOPE_OK) {
		r->reason = envelope_reason(e);
		goto out_unlock;
	}
	r->generation = p.generation;
	r->issued_at = p.issued_at;
	if (check_generation(st, cfg->primary_pubkey, &p, r, err, errlen) == -1)
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
		record(st, cfg->primary_pubkey, &p);
		maybe_restart(cfg, st, r);
		check_drift(st, db, io->reapply, r);
		write_app_config(cfg, st, &p, r);
	}
	r->ok = true;
	rc = 0;
out:
	payload_free(&p);
out_unlock:
	close(lock);
	return rc;
}
