#!/usr/bin/env bash
# Proves the CLI contract: subcommand table, --help on every subcommand,
# usage errors exit 2, pubkey prints exactly one 44-character key, and
# check-config prints "configuration OK" or one line per problem (exit 2), and
# SQLite's messages reach the log API.
set -u
BIN=${PIS_BIN:?PIS_BIN must point at the pocket-id-sync binary}
pass=0 fail=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
. "$(dirname "$0")/../lib/script.sh"
pis_clean_env

check() { # check NAME EXPECTED_STATUS COMMAND... ; output in $out
	local name=$1 want=$2; shift 2
	out=$("$@" 2>&1); local got=$?
	if [ "$got" = "$want" ]; then pass=$((pass+1)); echo "ok   $name";
	else fail=$((fail+1)); echo "FAIL $name: status $got, want $want"; echo "$out" | sed 's/^/     /'; fi
}
contains() { # contains NAME NEEDLE  (in $out)
	if grep -qF -- "$2" <<<"$out"; then pass=$((pass+1)); echo "ok   $1";
	else fail=$((fail+1)); echo "FAIL $1: output lacks '$2'"; echo "$out" | sed 's/^/     /'; fi
}

check "no args is a usage error" 2 "$BIN"
contains "usage lists subcommands" "check-config"
check "unknown subcommand" 2 "$BIN" frobnicate
contains "unknown subcommand named" "unknown subcommand 'frobnicate'"
check "--help" 0 "$BIN" --help
for sub in $("$BIN" --help | awk '/^Subcommands:/{f=1;next} f&&/^  [a-z]/{print $1}'); do
	check "$sub --help" 0 "$BIN" "$sub" --help
	contains "$sub --help shows usage" "Usage: pocket-id-sync $sub"
	check "$sub rejects unknown option" 2 "$BIN" "$sub" --no-such-option
done
check "version" 0 "$BIN" version
contains "version format" "pocket-id-sync "

export SYNC_STATE_DIR="$tmp/state"
check "pubkey creates key" 0 "$BIN" pubkey
key1=$out
if [[ "$key1" =~ ^[A-Za-z0-9+/]{43}=$ ]]; then pass=$((pass+1)); echo "ok   pubkey is 44 base64 chars";
else fail=$((fail+1)); echo "FAIL pubkey output '$key1'"; fi
check "pubkey is stable" 0 "$BIN" pubkey
[ "$out" = "$key1" ] && { pass=$((pass+1)); echo "ok   same key twice"; } || { fail=$((fail+1)); echo "FAIL key changed"; }
perm=$(stat -c %a "$tmp/state/private.key")
[ "$perm" = 600 ] && { pass=$((pass+1)); echo "ok   private.key mode 600"; } || { fail=$((fail+1)); echo "FAIL mode $perm"; }
chmod 644 "$tmp/state/private.key"
check "loose key refused" 1 "$BIN" pubkey
contains "loose key message" "is accessible by group or others (mode 0644); run: chmod 600"
chmod 600 "$tmp/state/private.key"

# check-config: env file plus environment, one line per problem (what it finds
# on the machine beyond the variables: test_check_config.sh).
sqlite3 "$tmp/pocket-id.db" < "${PIS_SOURCE_DIR:?}/tests/fixtures/schema/pocket-id-v2.14.sql"
cat > "$tmp/good.env" <<EOT
# Pocket ID's own .env style
DB_CONNECTION_STRING="file:$tmp/pocket-id.db?_pragma=journal_mode(WAL)"
ENCRYPTION_KEY='0123456789abcdef0123'
SYNC_ROLE=primary
SYNC_STATE_DIR=$tmp/state
SYNC_LISTEN=127.0.0.1:0
SYNC_METRICS_LISTEN=127.0.0.1:0
EOT
check "check-config OK" 0 "$BIN" check-config --env-file "$tmp/good.env"
out=$("$BIN" check-config --env-file "$tmp/good.env" 2>/dev/null)
[ "$out" = "configuration OK" ] && { pass=$((pass+1)); echo "ok   exactly 'configuration OK'"; } || { fail=$((fail+1)); echo "FAIL got '$out'"; }
check "environment overrides file" 2 env SYNC_ROLE=boss "$BIN" check-config --env-file "$tmp/good.env"
contains "role problem named" "SYNC_ROLE: \"boss\" is not primary or secondary"
cat > "$tmp/bad.env" <<EOT
DB_CONNECTION_STRING=postgres://u:p@db/pocketid
SYNC_ROLE=secondary
SYNC_INTERVAL=often
EOT
check "check-config bad" 2 "$BIN" check-config --env-file "$tmp/bad.env"
contains "postgres refused" "DB_CONNECTION_STRING: points at PostgreSQL"
contains "interval named" "SYNC_INTERVAL: \"often\" is not a duration"
contains "key missing" "ENCRYPTION_KEY: not set"
lines=$(grep -c . <<<"$out")
[ "$lines" = 3 ] && { pass=$((pass+1)); echo "ok   one line per problem (3)"; } || { fail=$((fail+1)); echo "FAIL $lines lines"; echo "$out"; }
check "missing env file" 2 "$BIN" check-config --env-file "$tmp/nope.env"
contains "missing env file named" "nope.env: cannot open"
check "missing database" 2 env DB_CONNECTION_STRING="$tmp/missing.db" "$BIN" check-config --env-file "$tmp/good.env"
contains "database problem named" "DB_CONNECTION_STRING: $tmp/missing.db: No such file or directory"

# SQLite's own error log goes through the one log API: a logfmt line on
# stderr (level, event, code), not SQLite's default silence.
{ printf 'not a database, just text\n'; head -c 4096 /dev/zero | tr '\0' x; } >"$tmp/text.db"
check "export from a file that is not a database" 1 env SYNC_ROLE=primary DB_CONNECTION_STRING="$tmp/text.db" \
	ENCRYPTION_KEY=0123456789abcdef "$BIN" export --to "$key1" -o "$tmp/out.sealed"
contains "SQLite's message is routed into the log" "level=error event=sqlite code=26 msg=\"file is not a database"
contains "and the command says what failed" "not a usable SQLite database"

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
