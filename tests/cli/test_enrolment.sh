#!/usr/bin/env bash
# Proves the first bootstrap step: a secondary started before it has a token
# serves its public key on /sync/pubkey (the same one `pubkey` prints), says
# "not enrolled" on /healthz (503), syncs nothing, and stops cleanly on
# SIGTERM; check-config passes it with a warning naming the missing token.
set -u
BIN=${PIS_BIN:?}
SRC=${PIS_SOURCE_DIR:?}
pass=0 fail=0 pid=
tmp=$(mktemp -d)
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$tmp"' EXIT
. "$(dirname "$0")/../lib/script.sh"
pis_clean_env
ok() { pass=$((pass+1)); echo "ok   $1"; }
bad() { fail=$((fail+1)); echo "FAIL $1"; [ -n "${2:-}" ] && echo "$2" | sed 's/^/     /'; }

sqlite3 "$tmp/s.db" < "$SRC/tests/fixtures/schema/pocket-id-v2.14.sql"
cat > "$tmp/s.env" <<EOT
SYNC_ROLE=secondary
DB_CONNECTION_STRING=$tmp/s.db
ENCRYPTION_KEY=secondary-encryption-key
SYNC_STATE_DIR=$tmp/state
SYNC_LISTEN=127.0.0.1:0
SYNC_METRICS_LISTEN=127.0.0.1:0
SYNC_PRIMARY_URL=http://127.0.0.1:9
EOT
out=$("$BIN" check-config --env-file "$tmp/s.env" 2>&1); rc=$?
[ $rc = 0 ] && grep -qF "warning: SYNC_PRIMARY_TOKEN: not set: this secondary is not enrolled yet" <<<"$out" &&
	ok "check-config passes a secondary not enrolled yet, with a warning" || bad "check-config ($rc)" "$out"

"$BIN" run --env-file "$tmp/s.env" 2>"$tmp/log" & pid=$!
port=
for _ in $(seq 200); do
	port=$(sed -n 's/.*event=daemon.started.* listen=127.0.0.1:\([0-9]*\).*/\1/p' "$tmp/log")
	[ -n "$port" ] && break
	kill -0 "$pid" 2>/dev/null || break
	sleep 0.05
done
[ -n "$port" ] && ok "unenrolled secondary starts" || bad "did not start" "$(cat "$tmp/log")"
served=$(curl -s "http://127.0.0.1:$port/sync/pubkey")
printed=$(SYNC_STATE_DIR="$tmp/state" "$BIN" pubkey)
[ -n "$served" ] && [ "$served" = "$printed" ] && ok "/sync/pubkey serves the node key" || bad "pubkey '$served' vs '$printed'"
health=$(curl -s -w ' %{http_code}' "http://127.0.0.1:$port/healthz" | tr -d '\n')
grep -q "not enrolled.* 503$" <<<"$health" && ok "/healthz: 503 not enrolled" || bad "healthz" "$health"
grep -qF "event=secondary.not_enrolled pubkey=$printed" "$tmp/log" && ok "log tells what to do, with the key" || bad "log" "$(cat "$tmp/log")"
kill -TERM "$pid"; wait "$pid"; rc=$?; pid=
[ $rc = 0 ] && ok "SIGTERM exits 0" || bad "exit $rc" "$(cat "$tmp/log")"
[ "$(sqlite3 "$tmp/s.db" 'SELECT count(*) FROM users')" = 0 ] && ok "nothing synced" || bad "rows appeared"

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
