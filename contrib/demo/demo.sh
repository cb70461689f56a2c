#!/usr/bin/env bash
# contrib/demo/demo.sh: README set-up command #1. Installs what is missing, builds a Release
# binary, then runs a primary and a secondary on loopback over two demo Pocket ID databases:
# the README bootstrap (pubkey -> register -> hand over), a change arriving by long poll,
# metrics, status and a clean stop. It owns only its scratch directory; it never prints secrets.
set -u

usage() {
	cat <<'EOT'
Usage: contrib/demo/demo.sh [--keep] [--no-build] [--help]

Shows pocket-id-sync end to end on this machine (Debian 12): installs the missing
packages (contrib/dev/install-deps.sh, as root or through sudo), builds build/pocket-id-sync
(Release), creates two demo Pocket ID databases in a scratch directory, starts a primary
and a secondary on 127.0.0.1, bootstraps the secondary the way the README documents it,
changes a user on the primary, shows the change arriving on the secondary, prints the
metrics and stops both daemons. Exit status 0 when every step worked, 1 otherwise.

Options:
  --keep       keep the scratch directory (databases, env files, logs) at the end
  --no-build   skip install and build; use the binary PIS_BIN names
               (default build/pocket-id-sync)
  -h, --help   show this help

Environment:
  PIS_BIN        the pocket-id-sync binary to run (default: build/pocket-id-sync)
  DEMO_TIMEOUT   seconds each wait may take before the demo fails (default: 30)
EOT
}

KEEP=0 BUILD=1
for arg in "$@"; do
	case $arg in
	--keep) KEEP=1 ;;
	--no-build) BUILD=0 ;;
	-h | --help) usage; exit 0 ;;
	*) echo "demo: unknown argument '$arg' (try --help)" >&2; exit 2 ;;
	esac
done

CALLER_PWD=$PWD
SRC=$(cd "$(dirname "$0")/../.." && pwd)
TIMEOUT=${DEMO_TIMEOUT:-30}
STEP=0 STEP_NAME="start" DEMO="" PPID_="" SPID="" ok=0
FIX="$SRC/tests/tools/pocketid_fixture.py"

# --- narration ------------------------------------------------------------------------------
step() { STEP=$((STEP + 1)); STEP_NAME=$*; printf '\n== %d. %s\n' "$STEP" "$*"; }
say() { printf '   %s\n' "$*"; }
show() { printf '   $ %s\n' "$*"; }                        # a command, shown as a user types it
run() { show "$1"; eval "$1" 2>&1 | sed 's/^/     /'; return "${PIPESTATUS[0]}"; }
die() {
	printf '\ndemo: FAILED at step %d (%s): %s\n' "$STEP" "$STEP_NAME" "$*" >&2
	exit 1
}
now_ms() { date +%s%3N; }

# wait_for WHAT COMMAND: retries COMMAND (a string) until it succeeds or DEMO_TIMEOUT passes.
wait_for() {
	local what=$1 cond=$2 deadline=$(($(date +%s) + TIMEOUT))
	until eval "$cond" >/dev/null 2>&1; do
		[ "$(date +%s)" -ge "$deadline" ] && die "timed out after ${TIMEOUT}s waiting for $what"
		sleep 0.05
	done
}

# --- cleanup: stop what this script started, remove the scratch directory ------------------
stop_pid() { # stop_pid PID: SIGTERM, wait up to 10 s, then SIGKILL; prints the exit status
	local pid=$1
	kill -TERM "$pid" 2>/dev/null
	for _ in $(seq 100); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
}
cleanup() {
	local rc=$?
	[ -n "$PPID_" ] && stop_pid "$PPID_"
	[ -n "$SPID" ] && stop_pid "$SPID"
	if [ "$ok" != 1 ] && [ -n "$DEMO" ]; then
		for f in "$DEMO"/primary/sync.log "$DEMO"/secondary/sync.log; do
			[ -s "$f" ] && { echo "--- last lines of $f" >&2; tail -n 15 "$f" >&2; }
		done
	fi
	if [ -n "$DEMO" ]; then
		if [ "$KEEP" = 1 ]; then echo "demo: kept $DEMO" >&2; else rm -rf "$DEMO"; fi
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- 0. install and build ------------------------------------------------------------------
cd "$SRC" || exit 1
if [ "$BUILD" = 1 ]; then
	step "Install what is missing and build (Release)"
	run "contrib/dev/install-deps.sh" || die "installing the packages failed"
	show "cmake -S . -B build -DCMAKE_BUILD_TYPE=Release && cmake --build build -j $(nproc)"
	cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null || die "cmake configure failed"
	cmake --build build -j "$(nproc)" >build/demo-build.log 2>&1 ||
		{ tail -n 30 build/demo-build.log >&2; die "build failed (log: build/demo-build.log)"; }
	say "built build/pocket-id-sync"
	BIN=$SRC/build/pocket-id-sync
else
	BIN=${PIS_BIN:-$SRC/build/pocket-id-sync}
fi
case $BIN in /*) ;; *) BIN=$CALLER_PWD/$BIN ;; esac
[ -x "$BIN" ] || die "no executable pocket-id-sync at $BIN (build it, or set PIS_BIN)"
for tool in curl sqlite3 python3 sha256sum; do
	command -v "$tool" >/dev/null || die "$tool is missing (contrib/dev/install-deps.sh installs it)"
done
python3 -c 'import cryptography.hazmat.primitives.ciphers.aead' 2>/dev/null ||
	die "python3 lacks the cryptography module (Debian: python3-cryptography)"

# A clean environment: the caller's own sync settings must not leak into the demo daemons.
for v in $(env | sed -n 's/^\(SYNC_[A-Z_]*\|ENCRYPTION_KEY[A-Z_]*\|DB_CONNECTION_STRING\|KEYS_[A-Z_]*\)=.*/\1/p'); do
	unset "$v"
done
DEMO=$(mktemp -d "${TMPDIR:-/tmp}/pocket-id-sync-demo.XXXXXX") || die "mktemp failed"
mkdir -p "$DEMO/bin" "$DEMO/primary" "$DEMO/secondary"
ln -s "$BIN" "$DEMO/bin/pocket-id-sync"
export PATH="$DEMO/bin:$PATH"
cd "$DEMO" || die "cannot enter $DEMO"
say "scratch directory: $DEMO (working directory from here on)"

# --- 1. demo databases ---------------------------------------------------------------------
# node_files NAME ROLE: its ENCRYPTION_KEY file and sync.env (the ports are ephemeral: the
# daemon logs the ones it bound).
node_files() {
	local name=$1 role=$2
	head -c 32 /dev/urandom | base64 | tr -d '\n' >"$name/encryption.key"
	chmod 600 "$name/encryption.key"
	cat >"$name/sync.env" <<EOT
# $name: Pocket ID's own settings on this node
DB_CONNECTION_STRING="file:$DEMO/$name/pocket-id.db?_pragma=journal_mode(WAL)&_pragma=busy_timeout(2500)"
ENCRYPTION_KEY_FILE=$DEMO/$name/encryption.key
# the sidecar
SYNC_ROLE=$role
SYNC_STATE_DIR=$DEMO/$name/state
SYNC_LISTEN=127.0.0.1:0
SYNC_METRICS_LISTEN=127.0.0.1:0
EOT
}

step "Create two Pocket ID (v2.14 schema) databases, each with its own key and instance id"
node_files primary primary
node_files secondary secondary
PINST=$(cat /proc/sys/kernel/random/uuid) SINST=$(cat /proc/sys/kernel/random/uuid)
say "primary (site A): demo users with passkeys, groups, an OIDC client"
run "python3 $FIX create --db primary/pocket-id.db --version v2.14 --instance-id $PINST --encryption-key-file primary/encryption.key --generate-jwk --seed demo --users 5" ||
	die "creating the primary database failed"
say "secondary (site B): a fresh Pocket ID (its own JWT key) with a local sign-in and session"
run "python3 $FIX create --db secondary/pocket-id.db --version v2.14 --instance-id $SINST --encryption-key-file secondary/encryption.key --generate-jwk --seed none" ||
	die "creating the secondary database failed"
run "python3 $FIX local --db secondary/pocket-id.db --node site-b" || die "adding local rows failed"
SJWK_BEFORE=$(python3 "$FIX" jwk --db secondary/pocket-id.db --encryption-key-file secondary/encryption.key | sha256sum | cut -c1-16)

# --- daemons --------------------------------------------------------------------------------
# start_node NAME: starts `pocket-id-sync run` for NAME in the background, appending to
# NAME/sync.log; sets NAME_pid, PORT and MPORT from its daemon.started line.
start_node() {
	local name=$1 log=$1/sync.log from pid line
	touch "$log"
	from=$(($(wc -l <"$log") + 1))
	show "pocket-id-sync run --env-file $name/sync.env 2>>$log &"
	pocket-id-sync run --env-file "$name/sync.env" 2>>"$log" &
	pid=$!
	[ "$name" = primary ] && PPID_=$pid || SPID=$pid
	line=""
	local deadline=$(($(date +%s) + TIMEOUT))
	while [ -z "$line" ]; do
		line=$(tail -n +"$from" "$log" | grep -m1 'event=daemon.started')
		[ -n "$line" ] && break
		kill -0 "$pid" 2>/dev/null || die "$name exited at start: $(tail -n +"$from" "$log" | tail -n 5)"
		[ "$(date +%s)" -ge "$deadline" ] && die "$name did not start within ${TIMEOUT}s"
		sleep 0.05
	done
	PORT=$(sed -n 's/.* listen=127\.0\.0\.1:\([0-9]*\).*/\1/p' <<<"$line")
	MPORT=$(sed -n 's/.* metrics=127\.0\.0\.1:\([0-9]*\).*/\1/p' <<<"$line")
	[ -n "$PORT" ] && [ -n "$MPORT" ] || die "cannot read the ports from: $line"
	say "$name is pid $pid, sync/admin on 127.0.0.1:$PORT, metrics on 127.0.0.1:$MPORT"
}

step "Start the primary"
run "cat primary/sync.env"
start_node primary
PPORT=$PORT PMPORT=$MPORT

step "Start the secondary, not yet enrolled"
{
	echo "SYNC_PRIMARY_URL=http://127.0.0.1:$PPORT"
	echo "# changes are pushed through the long poll; the full poll is a backstop"
	echo "SYNC_INTERVAL=5m"
} >>secondary/sync.env
run "cat secondary/sync.env"
start_node secondary
SPORT=$PORT
run "curl -s http://127.0.0.1:$SPORT/healthz"

step "Bootstrap 1/3: read the secondary's public key"
show "curl -s http://127.0.0.1:$SPORT/sync/pubkey"
SPUB=$(curl -s "http://127.0.0.1:$SPORT/sync/pubkey") || die "curl /sync/pubkey failed"
say "$SPUB"
grep -qxE '[A-Za-z0-9+/]{43}=' <<<"$SPUB" || die "/sync/pubkey did not return a public key: '$SPUB'"

step "Bootstrap 2/3: register it on the primary (admin API, loopback only)"
show "curl -s -X POST -d '{\"name\":\"site-b\",\"pubkey\":\"$SPUB\"}' http://127.0.0.1:$PPORT/sync/admin/peers"
REPLY=$(curl -s -w '\n%{http_code}' -X POST -d "{\"name\":\"site-b\",\"pubkey\":\"$SPUB\"}" \
	"http://127.0.0.1:$PPORT/sync/admin/peers") || die "curl POST /sync/admin/peers failed"
CODE=${REPLY##*$'\n'}
TOKEN=$(sed -n 's/.*"token":"\(pisync1\.[^"]*\)".*/\1/p' <<<"${REPLY%$'\n'*}")
unset REPLY
[ "$CODE" = 201 ] && [ -n "$TOKEN" ] || die "registering site-b: HTTP $CODE, no token in the reply"
say "{\"name\":\"site-b\",\"token\":\"pisync1.…\"}   (HTTP 201; the token is shown once, hidden here)"

step "Bootstrap 3/3: hand the token to the secondary (a 0600 file) and restart it"
install -m 0600 /dev/null secondary/primary-token
printf '%s' "$TOKEN" >secondary/primary-token
unset TOKEN
show "install -m 0600 /dev/null secondary/primary-token"
show "printf '%s' 'pisync1.…' > secondary/primary-token      # paste the whole token"
run "echo 'SYNC_PRIMARY_TOKEN_FILE=$DEMO/secondary/primary-token' >> secondary/sync.env"
run "stat -c '%a %n' secondary/primary-token"
show "kill -TERM $SPID"
stop_pid "$SPID"
SPID=""
t0=$(now_ms)
start_node secondary
SPORT=$PORT SMPORT=$MPORT

step "Wait for the initial sync"
wait_for "the secondary's first sync (event=sync.applied generation=1)" \
	"grep -q 'event=sync.applied generation=1 ' secondary/sync.log"
say "initial sync applied $(($(now_ms) - t0)) ms after the restart:"
grep -m1 'event=sync.applied generation=1 ' secondary/sync.log | sed 's/^/     /'
if grep -q 'event=restart.needed' secondary/sync.log; then
	say "the secondary also logged event=restart.needed: the JWT key changed, and a running"
	say "Pocket ID caches it; in production SYNC_RESTART_COMMAND restarts Pocket ID"
fi
run "curl -s http://127.0.0.1:$SPORT/healthz"

step "Users and passkeys on both sides"
USERS_Q="SELECT u.username, u.email, count(c.id) AS passkeys FROM users u LEFT JOIN webauthn_credentials c ON c.user_id = u.id GROUP BY u.id ORDER BY u.username"
SUMMARY_Q="SELECT (SELECT count(*) FROM users) AS users, (SELECT count(*) FROM webauthn_credentials) AS passkeys, (SELECT count(*) FROM user_groups) AS groups, (SELECT count(*) FROM oidc_clients) AS oidc_clients"
say "primary:"
run "sqlite3 -header -column primary/pocket-id.db \"$USERS_Q\""
say "secondary:"
run "sqlite3 -header -column secondary/pocket-id.db \"$USERS_Q\""
run "sqlite3 -header -column secondary/pocket-id.db \"$SUMMARY_Q\""
[ "$(sqlite3 primary/pocket-id.db "$USERS_Q; $SUMMARY_Q")" = "$(sqlite3 secondary/pocket-id.db "$USERS_Q; $SUMMARY_Q")" ] ||
	die "the secondary's users, passkeys, groups or OIDC clients differ from the primary's"
say "identical on both nodes"

step "Same JWT signing key, different instance ids"
say "the JWK each node decrypts with its own ENCRYPTION_KEY (hashed: it is a private key)"
run "python3 $FIX jwk --db primary/pocket-id.db --encryption-key-file primary/encryption.key | sha256sum | cut -c1-16"
run "python3 $FIX jwk --db secondary/pocket-id.db --encryption-key-file secondary/encryption.key | sha256sum | cut -c1-16"
PJWK=$(python3 "$FIX" jwk --db primary/pocket-id.db --encryption-key-file primary/encryption.key | sha256sum | cut -c1-16)
SJWK=$(python3 "$FIX" jwk --db secondary/pocket-id.db --encryption-key-file secondary/encryption.key | sha256sum | cut -c1-16)
[ -n "$PJWK" ] && [ "$PJWK" = "$SJWK" ] || die "the secondary's JWT key does not decrypt to the primary's JWK"
say "same JWK (the secondary's own key before the sync hashed to $SJWK_BEFORE)"
run "sqlite3 primary/pocket-id.db \"SELECT value FROM kv WHERE key = 'instance_id'\""
run "sqlite3 secondary/pocket-id.db \"SELECT value FROM kv WHERE key = 'instance_id'\""
[ "$(sqlite3 secondary/pocket-id.db "SELECT value FROM kv WHERE key = 'instance_id'")" = "$SINST" ] &&
	[ "$PINST" != "$SINST" ] || die "the secondary's instance id changed"
say "each node keeps its own instance id"

step "Users sign in at site B: local rows on the secondary"
run "python3 $FIX local --db secondary/pocket-id.db --node site-b" || die "adding local rows failed"
AUDIT_Q="SELECT count(*) FROM audit_logs"
run "sqlite3 secondary/pocket-id.db \"$AUDIT_Q\""
AUDIT_BEFORE=$(sqlite3 secondary/pocket-id.db "SELECT id FROM audit_logs ORDER BY id" | sha256sum)
AUDIT_N=$(sqlite3 secondary/pocket-id.db "$AUDIT_Q")

step "Change something on the primary: rename bob, revoke one of carol's passkeys"
CAROL_Q="SELECT count(*) FROM webauthn_credentials c JOIN users u ON u.id = c.user_id WHERE u.username = 'carol'"
CAROL_BEFORE=$(sqlite3 primary/pocket-id.db "$CAROL_Q")
GEN_BEFORE=$(pocket-id-sync status --tsv --env-file primary/sync.env | sed -n 's/^generation\t//p')
CHANGE="BEGIN; UPDATE users SET username = 'robert', email = 'robert@example.com', display_name = 'Robert Brown', updated_at = strftime('%s', 'now') WHERE username = 'bob'; DELETE FROM webauthn_credentials WHERE id = (SELECT c.id FROM webauthn_credentials c JOIN users u ON u.id = c.user_id WHERE u.username = 'carol' ORDER BY c.created_at LIMIT 1); COMMIT;"
t0=$(now_ms)
run "sqlite3 primary/pocket-id.db \"$CHANGE\"" || die "changing the primary failed"
ARRIVED="SELECT count(*) FROM users WHERE username = 'robert'; $CAROL_Q"
arrived() { [ "$(sqlite3 secondary/pocket-id.db "$ARRIVED" | tr '\n' ' ')" = "1 $((CAROL_BEFORE - 1)) " ]; }
wait_for "the change to reach the secondary" arrived
ELAPSED=$(($(now_ms) - t0))
say "arrived on the secondary in $ELAPSED ms (long poll; the full poll runs every 5m)"
grep 'event=export.sent' primary/sync.log | tail -n 1 | sed 's/^/     primary:   /'
grep 'event=sync.applied' secondary/sync.log | tail -n 1 | sed 's/^/     secondary: /'
run "sqlite3 -header -column secondary/pocket-id.db \"$USERS_Q\""
[ "$(sqlite3 primary/pocket-id.db "$USERS_Q; $SUMMARY_Q")" = "$(sqlite3 secondary/pocket-id.db "$USERS_Q; $SUMMARY_Q")" ] ||
	die "after the change the two nodes differ"

step "The secondary's local audit logs survived"
run "sqlite3 -header -column secondary/pocket-id.db \"SELECT l.event, coalesce(u.username, '-') AS user, l.user_agent FROM audit_logs l LEFT JOIN users u ON u.id = l.user_id ORDER BY l.event, user\""
[ "$(sqlite3 secondary/pocket-id.db "SELECT id FROM audit_logs ORDER BY id" | sha256sum)" = "$AUDIT_BEFORE" ] ||
	die "the secondary's audit logs changed"
say "all $AUDIT_N audit rows are still there (the primary has $(sqlite3 primary/pocket-id.db "$AUDIT_Q"): they are local)"

step "Metrics"
PGEN=$(curl -s "http://127.0.0.1:$PMPORT/metrics" | sed -n 's/^pocket_id_sync_generation \([0-9]*\)$/\1/p')
# The rows are committed a moment before the secondary's metrics are updated.
sgen() { curl -s "http://127.0.0.1:$SMPORT/metrics" | sed -n 's/^pocket_id_sync_applied_generation \([0-9]*\)$/\1/p'; }
wait_for "the secondary's applied_generation metric" '[ "$(sgen)" = "$PGEN" ]'
SGEN=$(sgen)
say "primary:"
run "curl -s http://127.0.0.1:$PMPORT/metrics | grep -E '^pocket_id_sync_(generation|peers|peer_last_seen_timestamp_seconds|last_payload_bytes)[ {]'"
say "secondary:"
run "curl -s http://127.0.0.1:$SMPORT/metrics | grep -E '^pocket_id_sync_(last_success_timestamp_seconds|applied_generation|primary_reachable|last_payload_bytes) '"
run "curl -s http://127.0.0.1:$SMPORT/metrics | grep -E '^pocket_id_sync_rows_total' | grep -v ' 0\$'"
[ -n "$PGEN" ] && [ "$PGEN" -gt "${GEN_BEFORE:-0}" ] || die "the primary's generation did not advance ($GEN_BEFORE -> $PGEN)"
[ "$SGEN" = "$PGEN" ] || die "the secondary is at generation $SGEN, the primary at $PGEN"

step "pocket-id-sync status on both nodes"
run "pocket-id-sync status --env-file primary/sync.env" || die "status on the primary failed"
run "pocket-id-sync status --env-file secondary/sync.env" || die "status on the secondary failed"

step "Stop both daemons (SIGTERM)"
show "kill -TERM $SPID $PPID_"
kill -TERM "$SPID" "$PPID_"
wait "$SPID"; src=$?
wait "$PPID_"; prc=$?
SPID="" PPID_=""
say "secondary exited with status $src, primary with status $prc"
[ "$src" = 0 ] && [ "$prc" = 0 ] || die "a daemon did not exit cleanly"
grep -q 'event=daemon.stopped' primary/sync.log && grep -q 'event=daemon.stopped' secondary/sync.log ||
	die "a daemon did not log event=daemon.stopped"

ok=1
printf '\ndemo: OK: bootstrap, initial sync, a change in %d ms, clean stop\n' "$ELAPSED"
[ "$KEEP" = 1 ] && say "logs: $DEMO/primary/sync.log $DEMO/secondary/sync.log"
cat <<'EOT'

Next step: set it up for real on two Pocket ID nodes, as README.md "Bootstrap a primary and
a secondary, step by step" describes (contrib/systemd/README.md installs the binary, the user
and the unit; README "Pocket ID in Docker Compose" covers a Compose-managed Pocket ID).
Run `pocket-id-sync check-config` on each node before the first start.
EOT
exit 0
