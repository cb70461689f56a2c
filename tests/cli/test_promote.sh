#!/usr/bin/env bash
# Proves `promote`: on a secondary with readable data it records the promotion
# and prints the finishing steps with the new primary key; it refuses on a
# node that is already primary and on an unreadable database, changing nothing.
set -u
BIN=${PIS_BIN:?}
SRC=${PIS_SOURCE_DIR:?}
pass=0 fail=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
. "$(dirname "$0")/../lib/script.sh"
pis_clean_env
ok() { pass=$((pass+1)); echo "ok   $1"; }
bad() { fail=$((fail+1)); echo "FAIL $1"; [ -n "${2:-}" ] && echo "$2" | sed 's/^/     /'; }

sqlite3 "$tmp/s.db" < "$SRC/tests/fixtures/schema/pocket-id-v2.14.sql"
sqlite3 "$tmp/s.db" "INSERT INTO kv VALUES('instance_id','inst-s');
  INSERT INTO users(id,created_at,username,email,first_name,last_name,display_name) VALUES('u1',1,'alice','a@x','A','L','Alice');"
printf 'secondary-encryption-key' > "$tmp/key"; chmod 600 "$tmp/key"
cat > "$tmp/s.env" <<EOT
SYNC_ROLE=secondary
DB_CONNECTION_STRING=$tmp/s.db
ENCRYPTION_KEY_FILE=$tmp/key
SYNC_STATE_DIR=$tmp/state
SYNC_PRIMARY_URL=http://127.0.0.1:9
SYNC_PRIMARY_PUBKEY=AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=
EOT
pub=$(SYNC_STATE_DIR="$tmp/state" "$BIN" pubkey)
before=$(sqlite3 "$tmp/s.db" .dump | sha256sum)

out=$("$BIN" promote --env-file "$tmp/s.env" 2>&1); rc=$?
[ $rc = 0 ] && ok "promote exits 0" || bad "promote exit $rc" "$out"
grep -qF "1 users, 0 passkeys" <<<"$out" && ok "summarises the data" || bad "summary" "$out"
grep -qF "New primary public key: $pub" <<<"$out" && ok "prints the new primary key" || bad "key line" "$out"
grep -qF "peer add NAME KEY" <<<"$out" && ok "tells how to re-register secondaries" || bad "steps" "$out"
role=$(sqlite3 "$tmp/state/state.db" "SELECT value FROM status WHERE key='role'")
at=$(sqlite3 "$tmp/state/state.db" "SELECT value FROM status WHERE key='promoted_at'")
[ "$role" = primary ] && [ -n "$at" ] && ok "promotion recorded in state.db" || bad "state: role='$role' at='$at'"
after=$(sqlite3 "$tmp/s.db" .dump | sha256sum)
[ "$before" = "$after" ] && ok "Pocket ID data unchanged" || bad "data changed"

out=$(SYNC_ROLE=primary SYNC_PRIMARY_URL= "$BIN" promote --env-file "$tmp/s.env" 2>&1); rc=$?
[ $rc = 1 ] && grep -qF "already primary" <<<"$out" && ok "refuses on a primary" || bad "primary refusal ($rc)" "$out"
out=$(DB_CONNECTION_STRING="$tmp/missing.db" "$BIN" promote --env-file "$tmp/s.env" 2>&1); rc=$?
[ $rc = 1 ] && grep -qF "cannot promote" <<<"$out" && ok "refuses without a database" || bad "missing db ($rc)" "$out"
out=$("$BIN" promote --bogus 2>&1); rc=$?
[ $rc = 2 ] && ok "unknown option is a usage error" || bad "usage ($rc)" "$out"

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
