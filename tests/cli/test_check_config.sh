#!/usr/bin/env bash
# check-config tells the truth: for every mistake `run` refuses (wrong ENCRYPTION_KEY, a database
# that is a directory, random bytes or another program's SQLite file, equal or taken ports, a state
# directory below a regular file, a token without the key it was issued for) both exit 2 and name
# the variable; every documented state passes (a secondary not enrolled yet, the offline secondary
# with only SYNC_PRIMARY_PUBKEY, the node's own daemon holding the ports), with a warning. Pocket
# ID's own .env: LDAP on a secondary is refused; ACTORS_HOST, TRUST_PROXY, STATIC_API_KEY and
# API-key expiry e-mails from a secondary are warnings.
set -u
BIN=${PIS_BIN:?}
SRC=${PIS_SOURCE_DIR:?}
. "$(dirname "$0")/../lib/script.sh"
pis_need_python_crypto
pis_clean_env
pass=0 fail=0 pid=
tmp=$(mktemp -d)
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$tmp"' EXIT
ok() { pass=$((pass+1)); echo "ok   $1"; }
bad() { fail=$((fail+1)); echo "FAIL $1"; [ -n "${2:-}" ] && sed 's/^/     /' <<<"$2"; }

printf 'primary-encryption-key' >"$tmp/p.key"
/usr/bin/python3 "$SRC/tests/tools/pocketid_fixture.py" create --db "$tmp/p.db" --version v2.14 \
	--instance-id 11111111-1111-1111-1111-111111111111 --encryption-key-file "$tmp/p.key" \
	--generate-jwk --seed demo --users 1 >/dev/null || exit 1
chmod 600 "$tmp/p.key"
cat >"$tmp/p.env" <<EOT
SYNC_ROLE=primary
DB_CONNECTION_STRING=$tmp/p.db
ENCRYPTION_KEY_FILE=$tmp/p.key
SYNC_STATE_DIR=$tmp/pstate
SYNC_LISTEN=127.0.0.1:0
SYNC_METRICS_LISTEN=127.0.0.1:0
EOT

# agree NAME NEEDLE VAR=VALUE...: check-config and run (same settings) both exit 2 and both say NEEDLE.
agree() {
	local name=$1 needle=$2 cc rc out1 out2; shift 2
	out1=$(env "$@" "$BIN" check-config --env-file "$tmp/p.env" 2>&1); cc=$?
	out2=$(env "$@" timeout 20 "$BIN" run --env-file "$tmp/p.env" 2>&1); rc=$?
	if [ "$cc" = 2 ] && [ "$rc" = 2 ] && grep -qF -- "$needle" <<<"$out1" && grep -qF -- "$needle" <<<"$out2"; then
		ok "$name: check-config and run both exit 2 naming it"
	else
		bad "$name: check-config $cc, run $rc (want 2, 2, '$needle')" "$out1
---
$out2"
	fi
	if grep -qE 'at line [0-9]+ of \[|os_unix\.c' <<<"$out1$out2"; then bad "$name: SQLite internals shown" "$out2"; fi
}
# passes NAME NEEDLE ENVFILE VAR=VALUE...: check-config exits 0 and warns NEEDLE.
passes() {
	local name=$1 needle=$2 f=$3 cc out; shift 3
	out=$(env "$@" "$BIN" check-config --env-file "$f" 2>&1); cc=$?
	if [ "$cc" = 0 ] && grep -qF -- "$needle" <<<"$out" && grep -qx "configuration OK" <<<"$out"; then ok "$name"
	else bad "$name: status $cc, want 0 and '$needle'" "$out"; fi
}

out=$("$BIN" check-config --env-file "$tmp/p.env" 2>&1)
[ "$out" = "configuration OK" ] && ok "a good primary: exactly 'configuration OK'" || bad "good primary" "$out"

agree "wrong ENCRYPTION_KEY" "ENCRYPTION_KEY: cannot decrypt kv jwt_private_key.json" \
	ENCRYPTION_KEY_FILE= ENCRYPTION_KEY=not-the-key-pocket-id-uses
agree "database is a directory" "DB_CONNECTION_STRING: $tmp is a directory" DB_CONNECTION_STRING="$tmp"
head -c 8192 /dev/urandom >"$tmp/random.db"
agree "database is random bytes" "not an SQLite database" DB_CONNECTION_STRING="$tmp/random.db"
sqlite3 "$tmp/other.db" 'CREATE TABLE notes(id INTEGER PRIMARY KEY, body TEXT)'
agree "another program's SQLite file" "not a Pocket ID database" DB_CONNECTION_STRING="$tmp/other.db"
agree "missing database" "DB_CONNECTION_STRING: $tmp/missing.db: No such file or directory" \
	DB_CONNECTION_STRING="$tmp/missing.db"
agree "SYNC_LISTEN equal to SYNC_METRICS_LISTEN" "SYNC_METRICS_LISTEN: the same port as SYNC_LISTEN" \
	SYNC_LISTEN=127.0.0.1:19412 SYNC_METRICS_LISTEN=127.0.0.1:19412
touch "$tmp/afile"
agree "state directory below a regular file" "SYNC_STATE_DIR: $tmp/afile/state: a part of the path is a file" \
	SYNC_STATE_DIR="$tmp/afile/state"
if [ "$(id -u)" != 0 ]; then
	cp "$tmp/p.db" "$tmp/ro.db"; chmod 444 "$tmp/ro.db"
	agree "read-only database" "DB_CONNECTION_STRING: $tmp/ro.db: Permission denied" DB_CONNECTION_STRING="$tmp/ro.db"
fi
out=$(env ENCRYPTION_KEY_FILE="$tmp/nokey" "$BIN" check-config --env-file "$tmp/p.env" 2>&1)
[ "$(grep -c . <<<"$out")" = 1 ] && grep -qF "ENCRYPTION_KEY_FILE: $tmp/nokey" <<<"$out" &&
	ok "a missing ENCRYPTION_KEY_FILE is one line (no contradicting 'not set')" || bad "key file lines" "$out"

# The node's own daemon on the ports is fine; another process on them is not.
"$BIN" run --env-file "$tmp/p.env" 2>"$tmp/run.log" & pid=$!
port= mport=
for _ in $(seq 400); do
	read -r port mport < <(sed -n 's/.*event=daemon.started.* listen=127.0.0.1:\([0-9]*\) metrics=127.0.0.1:\([0-9]*\).*/\1 \2/p' "$tmp/run.log")
	[ -n "$port" ] && break
	kill -0 "$pid" 2>/dev/null || break
	sleep 0.05
done
[ -n "$port" ] || bad "the primary did not start" "$(cat "$tmp/run.log")"
passes "ports held by this node's running daemon: a warning" \
	"SYNC_LISTEN: 127.0.0.1:$port is in use by this node's running pocket-id-sync" "$tmp/p.env" \
	SYNC_LISTEN="127.0.0.1:$port" SYNC_METRICS_LISTEN="127.0.0.1:$mport"
agree "SYNC_LISTEN taken by another process" "SYNC_LISTEN: cannot listen on 127.0.0.1:$port: Address already in use" \
	SYNC_STATE_DIR="$tmp/other-state" SYNC_LISTEN="127.0.0.1:$port"
kill -TERM "$pid"; wait "$pid"; pid=

# Secondaries: the documented states pass, a token without its key does not.
ppub=$(SYNC_STATE_DIR="$tmp/pstate" "$BIN" pubkey)
sqlite3 "$tmp/s.db" <"$SRC/tests/fixtures/schema/pocket-id-v2.14.sql"
cat >"$tmp/s.env" <<EOT
SYNC_ROLE=secondary
DB_CONNECTION_STRING=$tmp/s.db
ENCRYPTION_KEY=secondary-encryption-key
SYNC_STATE_DIR=$tmp/sstate
SYNC_LISTEN=127.0.0.1:0
SYNC_METRICS_LISTEN=127.0.0.1:0
EOT
passes "secondary not enrolled yet" "warning: SYNC_PRIMARY_TOKEN: not set: this secondary is not enrolled yet" \
	"$tmp/s.env" SYNC_PRIMARY_URL=http://127.0.0.1:9
passes "offline secondary with only SYNC_PRIMARY_PUBKEY" "warning: offline secondary" "$tmp/s.env" \
	SYNC_PRIMARY_PUBKEY="$ppub"
tok="pisync1.$ppub.$(head -c 32 /dev/urandom | base64)"
out=$(SYNC_PRIMARY_TOKEN=$tok "$BIN" check-config --env-file "$tmp/s.env" 2>&1); rc=$?
[ $rc = 2 ] && grep -qF "SYNC_PRIMARY_URL: not set" <<<"$out" && ok "a token without SYNC_PRIMARY_URL" || bad "token, no url ($rc)" "$out"
cp "$tmp/s.env" "$tmp/p.env" # agree() reads p.env
agree "token, but the state directory lost its key: re-enrol" "re-enrol" \
	SYNC_PRIMARY_URL=http://127.0.0.1:9 SYNC_PRIMARY_TOKEN="$tok"
[ -e "$tmp/sstate/private.key" ] && bad "run created a key although it refused to start" || ok "run refused before creating a key"

# Pocket ID's own settings, read from its .env like the unit does (issue 13: day-one settings).
cp "$tmp/s.env" "$tmp/p.env"
cat >"$tmp/pocket-id.env" <<EOT
APP_URL=https://id.example.org
TRUST_PROXY=true
STATIC_API_KEY=0123456789abcdef0123
EOT
out=$(SYNC_PRIMARY_URL=http://127.0.0.1:9 "$BIN" check-config --env-file "$tmp/pocket-id.env" --env-file "$tmp/s.env" 2>&1); rc=$?
[ $rc = 0 ] && ok "Pocket ID's .env: day-one findings are warnings" || bad "pocket-id env ($rc)" "$out"
for needle in "warning: ACTORS_HOST: Pocket ID's actor host listens on 0.0.0.0 (the default):1414" \
	"warning: TRUST_PROXY: true trusts X-Forwarded-For from any address: limit it to the proxy's address" \
	"warning: STATIC_API_KEY: set: make sure it is equal on every node"; do
	grep -qF -- "$needle" <<<"$out" && ok "names: ${needle:9:40}..." || bad "lacks '$needle'" "$out"
done
printf 'ACTORS_HOST=127.0.0.1\nTRUST_PROXY=10.0.0.5\n' >>"$tmp/pocket-id.env"
sed -i '/^STATIC_API_KEY=/d' "$tmp/pocket-id.env"
out=$(SYNC_PRIMARY_URL=http://127.0.0.1:9 "$BIN" check-config --env-file "$tmp/pocket-id.env" --env-file "$tmp/s.env" 2>&1)
grep -qE "ACTORS_HOST|TRUST_PROXY|STATIC_API_KEY" <<<"$out" && bad "the recommended values still warn" "$out" ||
	ok "ACTORS_HOST=127.0.0.1, TRUST_PROXY=<proxy>, no STATIC_API_KEY: no warning"
printf 'UI_CONFIG_DISABLED=true\nSMTP_HOST=mail.example.org\nEMAIL_API_KEY_EXPIRATION_ENABLED=true\n' >>"$tmp/pocket-id.env"
out=$(SYNC_PRIMARY_URL=http://127.0.0.1:9 "$BIN" check-config --env-file "$tmp/pocket-id.env" --env-file "$tmp/s.env" 2>&1); rc=$?
[ $rc = 0 ] && grep -qF "warning: EMAIL_API_KEY_EXPIRATION_ENABLED: true on a secondary with SMTP_HOST" <<<"$out" &&
	ok "a secondary sending API-key expiry e-mails: a warning" || bad "smtp ($rc)" "$out"
echo "LDAP_ENABLED=true" >>"$tmp/pocket-id.env"
out1=$(SYNC_PRIMARY_URL=http://127.0.0.1:9 "$BIN" check-config --env-file "$tmp/pocket-id.env" --env-file "$tmp/s.env" 2>&1); cc=$?
out2=$(SYNC_PRIMARY_URL=http://127.0.0.1:9 timeout 20 "$BIN" run --env-file "$tmp/pocket-id.env" --env-file "$tmp/s.env" 2>&1); rc=$?
[ $cc = 2 ] && [ $rc = 2 ] && grep -qF "LDAP_ENABLED: true on a secondary" <<<"$out1" && grep -qF "LDAP_ENABLED: true on a secondary" <<<"$out2" &&
	ok "LDAP enabled on a secondary: check-config and run refuse (exit 2)" || bad "ldap: check-config $cc, run $rc" "$out1
$out2"
out=$(SYNC_ROLE=primary "$BIN" check-config --env-file "$tmp/pocket-id.env" --env-file "$tmp/p.env" 2>&1); rc=$?
grep -qF "LDAP_ENABLED" <<<"$out" && bad "LDAP on the primary is refused" "$out" || ok "LDAP on the primary is fine"

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
