/* state: opening state.db (file mode, WAL, busy timeout), its schema and the
 * migrations between schema versions, plus the helpers the other state_*.c
 * files share. Peers live in state_peer.c, generations and status strings in
 * state_progress.c. */
#include "state_priv.h"

#include "keys.h"
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Migration i brings the schema from version i to i + 1. Append only. */
static const char *const state_migrations[STATE_SCHEMA_VERSION] = {
	"CREATE TABLE peers ("
	" name TEXT PRIMARY KEY NOT NULL,"
	" pubkey BLOB NOT NULL UNIQUE CHECK (length(pubkey) = 32),"
	" token_hash BLOB NOT NULL CHECK (length(token_hash) = 32),"
	" created_at INTEGER NOT NULL,"
	" last_seen_at INTEGER NOT NULL DEFAULT 0,"
	" last_generation_sent INTEGER);"
	"CREATE TABLE primary_generation ("
	" id INTEGER PRIMARY KEY CHECK (id = 1),"
	" generation INTEGER NOT NULL CHECK (generation >= 0),"
	" content_hash BLOB CHECK (content_hash IS NULL OR length(content_hash) = 32));"
	"CREATE TABLE applied ("
	" primary_pubkey BLOB PRIMARY KEY NOT NULL CHECK (length(primary_pubkey) = 32),"
	" generation INTEGER NOT NULL,"
	" issued_at INTEGER NOT NULL,"
	" applied_at INTEGER NOT NULL);"
	"CREATE TABLE status (key TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL);",
};

void state_lock(struct state *st) { pthread_mutex_lock(&st->lock); }

void state_unlock(struct state *st) { pthread_mutex_unlock(&st->lock); }

int state_fail(struct state *st, const char *what)
{
	char q[512];

	log_error("state.sqlite", "op=%s code=%d msg=%s", what, sqlite3_extended_errcode(st->db),
		  log_quote(q, sizeof(q), sqlite3_errmsg(st->db)));
	return -1;
}

int state_prepare(struct state *st, const char *sql, sqlite3_stmt **stmt)
{
	if (sqlite3_prepare_v2(st->db, sql, -1, stmt, NULL) != SQLITE_OK) {
		*stmt = NULL;
		return state_fail(st, "prepare");
	}
	return 0;
}

int state_exec(struct state *st, const char *sql)
{
	if (sqlite3_exec(st->db, sql, NULL, NULL, NULL) != SQLITE_OK)
		return state_fail(st, "exec");
	return 0;
}

int state_begin(struct state *st) { return state_exec(st, "BEGIN IMMEDIATE"); }

int state_end(struct state *st, int rc)
{
	if (rc == -1) {
		sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
		return -1;
	}
	if (state_exec(st, "COMMIT") == -1) {
		sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
		return -1;
	}
	return rc;
}

int state_step_done(struct state *st, sqlite3_stmt *stmt, const char *what)
{
	int rc = sqlite3_step(stmt) == SQLITE_DONE ? 0 : state_fail(st, what);

	sqlite3_finalize(stmt);
	return rc;
}

/* Opens path, creating it 0600. When root creates it in a directory someone
 * else owns (the service user's SYNC_STATE_DIR), the file goes to that owner
 * so the daemon can still open it; SQLite does the same for -wal and -shm. */
static int state_create_fd(const char *dir, const char *path)
{
	struct stat ds;
	int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);

	if (fd == -1)
		return errno == EEXIST ? open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW) : -1;
	if (geteuid() == 0 && stat(dir, &ds) == 0 && ds.st_uid != 0 &&
	    fchown(fd, ds.st_uid, ds.st_gid) == -1)
		log_warn("state.chown_failed", "errno=%d", errno);
	return fd;
}

/* Creates the file 0600 before SQLite sees it (SQLite would use 0644 less
 * the umask; its -wal and -shm files copy the database file's mode). A file
 * that group or others can access is tightened, with a warning. */
static int state_create_file(const char *dir, const char *path, char *err, size_t errlen)
{
	struct stat sb;
	char q[512];
	int fd = state_create_fd(dir, path);

	if (fd == -1) {
		snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &sb) == -1 || !S_ISREG(sb.st_mode)) {
		snprintf(err, errlen, "%s: not a regular file", path);
		close(fd);
		return -1;
	}
	if ((sb.st_mode & 077) != 0) {
		if (fchmod(fd, 0600) == -1) {
			snprintf(err, errlen, "%s: mode %04o is too open and chmod failed: %s", path,
				 (unsigned)(sb.st_mode & 07777), strerror(errno));
			close(fd);
			return -1;
		}
		log_warn("state.mode_tightened", "path=%s was=%04o now=0600",
			 log_quote(q, sizeof(q), path), (unsigned)(sb.st_mode & 07777));
	}
	close(fd);
	return 0;
}

/* Fetches one integer column of a one-row query; *out untouched when no row.
 * Returns 0, or -1 on error. */
static int state_query_int(struct state *st, const char *sql, int64_t *out)
{
	sqlite3_stmt *stmt;
	int rc;

	if (state_prepare(st, sql, &stmt) == -1)
		return -1;
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW)
		*out = sqlite3_column_int64(stmt, 0);
	sqlite3_finalize(stmt);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : state_fail(st, "query");
}

/* A database without state_meta must be empty: anything else is some other
 * program's file (most likely Pocket ID's, through a wrong SYNC_STATE_DIR). */
static int state_check_foreign(struct state *st, char *err, size_t errlen)
{
	int64_t ours = 0, tables = 0;

	if (state_query_int(st, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND "
				"name = 'state_meta'", &ours) == -1 ||
	    state_query_int(st, "SELECT count(*) FROM sqlite_master WHERE type = 'table'",
			    &tables) == -1) {
		snprintf(err, errlen, "cannot read the schema: %s", sqlite3_errmsg(st->db));
		return -1;
	}
	if (ours == 0 && tables > 0) {
		snprintf(err, errlen, "holds %lld tables of another program; SYNC_STATE_DIR must be "
			 "the sidecar's own directory, never Pocket ID's data directory",
			 (long long)tables);
		return -1;
	}
	return 0;
}

static int state_migrate_locked(struct state *st, char *err, size_t errlen)
{
	int64_t version = 0;
	char sql[128];

	if (state_check_foreign(st, err, errlen) == -1)
		return -1;
	if (state_exec(st, "CREATE TABLE IF NOT EXISTS state_meta (key TEXT PRIMARY KEY NOT NULL, "
			   "value)") == -1 ||
	    state_query_int(st, "SELECT value FROM state_meta WHERE key = 'schema_version'",
			    &version) == -1) {
		snprintf(err, errlen, "cannot read the schema version: %s", sqlite3_errmsg(st->db));
		return -1;
	}
	if (version < 0 || version > STATE_SCHEMA_VERSION) {
		snprintf(err, errlen, "schema version %lld is newer than this build supports (%d); "
			 "upgrade pocket-id-sync", (long long)version, STATE_SCHEMA_VERSION);
		return -1;
	}
	for (int64_t v = version; v < STATE_SCHEMA_VERSION; v++) {
		if (state_exec(st, state_migrations[v]) == -1) {
			snprintf(err, errlen, "cannot migrate the schema to version %lld: %s",
				 (long long)v + 1, sqlite3_errmsg(st->db));
			return -1;
		}
	}
	snprintf(sql, sizeof(sql), "INSERT OR REPLACE INTO state_meta (key, value) VALUES "
		 "('schema_version', %d)", STATE_SCHEMA_VERSION);
	if (version != STATE_SCHEMA_VERSION && state_exec(st, sql) == -1) {
		snprintf(err, errlen, "cannot record the schema version: %s", sqlite3_errmsg(st->db));
		return -1;
	}
	return 0;
}

static int state_migrate(struct state *st, char *err, size_t errlen)
{
	if (state_begin(st) == -1) {
		snprintf(err, errlen, "cannot lock: %s", sqlite3_errmsg(st->db));
		return -1;
	}
	return state_end(st, state_migrate_locked(st, err, errlen));
}

static int state_configure(struct state *st, char *err, size_t errlen)
{
	sqlite3_stmt *stmt;
	const char *mode = "";
	int ok;

	sqlite3_busy_timeout(st->db, STATE_BUSY_TIMEOUT_MS);
	if (state_prepare(st, "PRAGMA journal_mode = WAL", &stmt) == -1) {
		snprintf(err, errlen, "%s", sqlite3_errmsg(st->db));
		return -1;
	}
	if (sqlite3_step(stmt) == SQLITE_ROW)
		mode = (const char *)sqlite3_column_text(stmt, 0);
	ok = mode != NULL && strcmp(mode, "wal") == 0;
	if (!ok)
		snprintf(err, errlen, "cannot switch to WAL: %s", sqlite3_errmsg(st->db));
	sqlite3_finalize(stmt);
	if (ok && state_exec(st, "PRAGMA synchronous = FULL") == -1) {
		snprintf(err, errlen, "%s", sqlite3_errmsg(st->db));
		ok = 0;
	}
	return ok ? 0 : -1;
}

static int state_open_path(const char *dir, const char *path, struct state *st, char *err,
			   size_t errlen)
{
	int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX |
		    SQLITE_OPEN_NOFOLLOW;
	char msg[400] = "";

	if (state_create_file(dir, path, err, errlen) == -1)
		return -1;
	if (sqlite3_open_v2(path, &st->db, flags, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "%s: cannot open: %s", path,
			 st->db != NULL ? sqlite3_errmsg(st->db) : "out of memory");
		return -1;
	}
	sqlite3_extended_result_codes(st->db, 1);
	if (state_configure(st, msg, sizeof(msg)) == -1 ||
	    state_migrate(st, msg, sizeof(msg)) == -1) {
		snprintf(err, errlen, "%s: %s", path, msg);
		return -1;
	}
	return 0;
}

int state_open(const char *state_dir, struct state **out, char *err, size_t errlen)
{
	struct state *st;
	char path[4096];

	*out = NULL;
	if (snprintf(path, sizeof(path), "%s/%s", state_dir, STATE_FILE_NAME) >= (int)sizeof(path)) {
		snprintf(err, errlen, "SYNC_STATE_DIR: path too long");
		return -1;
	}
	if (keys_ensure_dir(state_dir, err, errlen) == -1)
		return -1;
	st = calloc(1, sizeof(*st));
	if (st == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	pthread_mutex_init(&st->lock, NULL);
	if (state_open_path(state_dir, path, st, err, errlen) == -1) {
		state_close(st);
		return -1;
	}
	*out = st;
	return 0;
}

void state_close(struct state *st)
{
	if (st == NULL)
		return;
	sqlite3_close_v2(st->db);
	pthread_mutex_destroy(&st->lock);
	free(st);
}
