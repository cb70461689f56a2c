#!/usr/bin/env bash
# The offline sync path end to end (export on a primary -> file -> apply on a secondary) with the
# real binary, env files and fixture databases: every refusal, --dry-run, interop with the Python
# peer, and flow (a) on every fixture release. Skips (77) without python3-cryptography.
set -u
BIN=${PIS_BIN:?PIS_BIN must point at the pocket-id-sync binary}
SRC=${PIS_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
PY=/usr/bin/python3
. "$(dirname "$0")/../lib/script.sh"
pis_need_python_crypto
FIX=("$PY" "$SRC/tests/tools/pocketid_fixture.py")
PEER=("$PY" "$SRC/tests/peer/pisync_peer.py")
pis_clean_env
pass=0 fail=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

ok() { pass=$((pass+1)); echo "ok   $1"; }
bad() { fail=$((fail+1)); echo "FAIL $1"; [ -n "${out:-}" ] && sed 's/^/     /' <<<"$out"; }
check() { # check NAME EXPECTED_STATUS COMMAND... ; output (stdout+stderr) in $out
	local name=$1 want=$2; shift 2
	out=$("$@" 2>&1); local got=$?
	if [ "$got" = "$want" ]; then ok "$name"; else bad "$name: status $got, want $want"; fi
}
contains() { # contains NAME NEEDLE  (in $out)
	if grep -qF -- "$2" <<<"$out"; then ok "$1"; else bad "$1: output lacks '$2'"; fi
}
matches() { # matches NAME EXTENDED_REGEX  (a line of $out)
	if grep -qE -- "$2" <<<"$out"; then ok "$1"; else bad "$1: no line matches /$2/"; fi
}
holds() { # holds NAME COMMAND...  (a condition, e.g. test or grep -q)
	local name=$1; shift
	if "$@"; then ok "$name"; else out=""; bad "$name"; fi
}
same() { # same NAME GOT WANT
	if [ "$2" = "$3" ]; then ok "$1"; else out=$(diff <(echo "$3") <(echo "$2") | head -40); bad "$1 (diff want -> got)"; fi
}
q() { sqlite3 -batch "$@"; }

# --- what a database holds -----------------------------------------------------------------
DURABLE="users user_groups user_groups_users custom_claims webauthn_credentials oidc_clients
oidc_clients_allowed_user_groups api_keys signup_tokens signup_tokens_user_groups apis
api_permissions oidc_clients_allowed_apis oidc_clients_allowed_api_permissions storage
app_config_variables"
has_table() { [ "$(q "$1" "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = '$2'")" = 1 ]; }
durable_dump() { # every durable row (FACTS.md), table by table, ordered by primary key
	local db=$1 t keys where
	for t in $DURABLE; do
		has_table "$db" "$t" || continue
		keys=$(q "$db" "SELECT group_concat('\"' || name || '\"', ',') FROM
			(SELECT name FROM pragma_table_info('$t') WHERE pk > 0 ORDER BY pk)")
		where=""
		[ "$t" = app_config_variables ] && where="WHERE key <> 'instanceId'"
		echo "== $t"
		q -cmd '.mode quote' "$db" "SELECT * FROM \"$t\" $where ORDER BY $keys"
	done
}
local_dump() { # the node's own rows: runtime tables, kv (but the JWT key), its instance id
	local db=$1
	q -cmd '.mode quote' "$db" "SELECT * FROM audit_logs ORDER BY id;
		SELECT * FROM webauthn_sessions ORDER BY id; SELECT * FROM schema_migrations;
		SELECT * FROM kv WHERE key <> 'jwt_private_key.json' ORDER BY key"
	if has_table "$db" app_config_variables; then
		q -cmd '.mode quote' "$db" "SELECT * FROM app_config_variables WHERE key = 'instanceId'"
	fi
}
instance_id() {
	local id
	id=$(q "$1" "SELECT value FROM kv WHERE key = 'instance_id'")
	if [ -z "$id" ] && has_table "$1" app_config_variables; then
		id=$(q "$1" "SELECT value FROM app_config_variables WHERE key = 'instanceId'")
	fi
	echo "$id"
}
# Byte-level state of a database, read without SQLite (so without a checkpoint): the main
# file's hash and whether a WAL with frames is pending. Compared after `settle`, equality
# means nothing was written: a committed write would have left WAL frames or, once the writer
# closed its last connection, been checkpointed into the main file.
settle() { q "$1" 'PRAGMA wal_checkpoint(TRUNCATE)' >/dev/null; }
file_state() {
	local wal="no wal"
	[ -s "$1-wal" ] && wal="wal of $(stat -c %s "$1-wal") bytes"
	echo "main $(sha256sum <"$1" | cut -c1-64), $wal"
}
snapshot() { settle "$1"; snap_file=$(file_state "$1"); snap_dump=$(q "$1" .dump); }
unchanged() { # unchanged LABEL DB  (since the last snapshot)
	same "$1: database file byte-identical" "$(file_state "$2")" "$snap_file"
	same "$1: database content (.dump) identical" "$(q "$2" .dump)" "$snap_dump"
}

# --- nodes ---------------------------------------------------------------------------------
# node NAME VERSION SEED [KEY_NEWLINE]: a Pocket ID database with its own instance id,
# ENCRYPTION_KEY (in a 0600 file; with a trailing newline unless KEY_NEWLINE=no, which Pocket
# ID keeps as part of the key) and JWT key, plus the sidecar's env file. Sets $dir.
node() {
	local name=$1 version=$2 seed=$3 nl=${4:-yes} role=secondary
	dir=$tmp/$version/$name
	mkdir -p "$dir"
	[ "$seed" = demo ] && role=primary
	if [ "$nl" = yes ]; then head -c 18 /dev/urandom | base64 >"$dir/encryption.key"
	else head -c 18 /dev/urandom | base64 | tr -d '\n' >"$dir/encryption.key"; fi
	chmod 600 "$dir/encryption.key"
	check "[$version] $name: Pocket ID database created" 0 "${FIX[@]}" create --db "$dir/pocket-id.db" \
		--version "$version" --instance-id "$(cat /proc/sys/kernel/random/uuid)" \
		--encryption-key-file "$dir/encryption.key" --generate-jwk --seed "$seed" --users 5
	{
		echo "# Pocket ID's own settings on this node"
		echo "DB_CONNECTION_STRING=\"file:$dir/pocket-id.db?_pragma=journal_mode(WAL)&_pragma=busy_timeout(2500)\""
		echo "ENCRYPTION_KEY_FILE=$dir/encryption.key"
		[ "$version" = v1.9 ] && echo "KEYS_STORAGE=database"
		echo "# the sidecar"
		echo "SYNC_ROLE=$role"
		echo "SYNC_STATE_DIR=$dir/state"
	} >"$dir/sync.env"
}
sealed_generation() { sed -n 's/.*sealed generation \([0-9]*\) .*/\1/p' <<<"$out"; }

# flow_a VERSION: a demo primary and a fresh secondary (Pocket ID started once: instance id and
# its own JWT key, a few local rows), pubkey -> export -> apply. Leaves P* and S* set.
flow_a() {
	local v=$1 users creds
	node primary "$v" demo no
	P=$dir PENV=$dir/sync.env PDB=$dir/pocket-id.db
	node secondary "$v" none
	S=$dir SENV=$dir/sync.env SDB=$dir/pocket-id.db
	"${FIX[@]}" local --db "$SDB" --node secondary

	check "[$v] secondary pubkey" 0 "$BIN" pubkey --env-file "$SENV"
	SPUB=$out
	holds "[$v] pubkey is one base64 key" grep -qxE '[A-Za-z0-9+/]{43}=' <<<"$SPUB"
	check "[$v] primary pubkey" 0 "$BIN" pubkey --env-file "$PENV"
	PPUB=$out
	echo "SYNC_PRIMARY_PUBKEY=$PPUB" >>"$SENV"

	F1=$tmp/$v/gen1.pisync
	check "[$v] export --to secondary -o FILE" 0 "$BIN" export --env-file "$PENV" --to "$SPUB" -o "$F1"
	contains "[$v] export names the generation" "sealed generation 1 "
	same "[$v] export file is mode 0600" "$(stat -c %a "$F1")" 600

	local id_before local_before
	id_before=$(instance_id "$SDB")
	local_before=$(local_dump "$SDB")
	check "[$v] apply" 0 "$BIN" apply --env-file "$SENV" "$F1"
	users=$(q "$PDB" "SELECT count(*) FROM users")
	creds=$(q "$PDB" "SELECT count(*) FROM webauthn_credentials")
	matches "[$v] apply prints users inserted" "^users +$users +0 +0$"
	matches "[$v] apply prints passkeys inserted" "^webauthn_credentials +$creds +0 +0$"
	matches "[$v] apply prints a count line per table" "^user_groups_users +[1-9][0-9]* +0 +0$"
	contains "[$v] JWT key replaced" "jwt signing key: replaced"
	contains "[$v] generation applied" "generation 1: applied"
	same "[$v] secondary has the users" "$(q "$SDB" "SELECT count(*) FROM users")" "$users"
	same "[$v] durable rows equal on both nodes" "$(durable_dump "$SDB")" "$(durable_dump "$PDB")"
	same "[$v] secondary instance id unchanged" "$(instance_id "$SDB")" "$id_before"
	holds "[$v] the two nodes have different instance ids" \
		test -n "$id_before" -a "$id_before" != "$(instance_id "$PDB")"
	same "[$v] secondary local rows untouched" "$(local_dump "$SDB")" "$local_before"
	check "[$v] secondary JWT key decrypts with its own ENCRYPTION_KEY" 0 \
		"${FIX[@]}" jwk --db "$SDB" --encryption-key-file "$S/encryption.key"
	local sjwk=$out
	check "[$v] primary JWT key" 0 "${FIX[@]}" jwk --db "$PDB" --encryption-key-file "$P/encryption.key"
	same "[$v] secondary now signs with the primary's JWK" "$sjwk" "$out"
	holds "[$v] the secondary's kv row is its own, not a copy" \
		test "$(q "$SDB" "SELECT value FROM kv WHERE key = 'jwt_private_key.json'")" != \
		"$(q "$PDB" "SELECT value FROM kv WHERE key = 'jwt_private_key.json'")"
	check "[$v] the primary's KEK cannot open the secondary's row" 1 \
		"${FIX[@]}" jwk --db "$SDB" --encryption-key-file "$P/encryption.key"
}

# ============================ v2.14: (a) to (k) ============================================
V=v2.14
echo "# $V: (a) pubkey -> export -> apply"
flow_a $V
chmod 644 "$F1"
check "[$V] export over an existing 0644 file" 0 "$BIN" export --env-file "$PENV" --to "$SPUB" -o "$F1"
same "[$V] ... leaves it mode 0600" "$(stat -c %a "$F1")" 600
contains "[$V] unchanged content keeps the generation" "sealed generation 1 "

echo "# $V: (b) the same file again"
check "[$V] apply again" 0 "$BIN" apply --env-file "$SENV" "$F1"
contains "[$V] already applied" "generation 1 is already applied: nothing to do"

echo "# $V: (k) open"
check "[$V] open prints the document" 0 "$BIN" open --env-file "$SENV" "$F1"
doc=$out
# the header: a format-2 document's first line (a format-1 document is one line too)
field() { "$PY" -c 'import json,sys; print(json.loads(sys.stdin.readline())[sys.argv[1]])' "$1" <<<"$doc" 2>&1; }
same "[$V] open: recipient is the secondary's key" "$(field recipient)" "$SPUB"
same "[$V] open: sender is the primary's key" "$(field sender)" "$PPUB"
same "[$V] open: generation" "$(field generation)" 1
same "[$V] open: schema_version" "$(field schema_version)" "$(q "$PDB" 'SELECT version FROM schema_migrations')"
same "[$V] open: the default export is format 2" "$(field format)" 2
same "[$V] open: ... a full snapshot" "$(field kind)" full
check "[$V] export --format 1 (for a secondary before protocol v2)" 0 \
	"$BIN" export --env-file "$PENV" --to "$SPUB" --format 1 -o "$tmp/v1.pisync"
contains "[$V] ... says so" "(format 1, "
check "[$V] open reads it" 0 "$BIN" open --env-file "$SENV" "$tmp/v1.pisync"
doc=$out
same "[$V] ... a format-1 document" "$(field format)" 1
same "[$V] ... of the same generation" "$(field generation)" 1
check "[$V] apply takes it (already applied)" 0 "$BIN" apply --env-file "$SENV" "$tmp/v1.pisync"
contains "[$V] ... generation 1 is already applied" "generation 1 is already applied: nothing to do"
check "[$V] export --format 3 is a usage error" 2 "$BIN" export --env-file "$PENV" --to "$SPUB" --format 3 -o "$tmp/v3.pisync"

echo "# $V: (c) tampered and truncated files"
flip() { "$PY" -c 'import sys; d = bytearray(open(sys.argv[1], "rb").read()); d[len(d) // 2] ^= 0x01
open(sys.argv[2], "wb").write(d)' "$1" "$2"; }
flip "$F1" "$tmp/tampered.pisync"
holds "[$V] one byte flipped in the middle" test "$(cmp -l "$F1" "$tmp/tampered.pisync" | wc -l)" = 1
snapshot "$SDB"
check "[$V] tampered file refused" 1 "$BIN" apply --env-file "$SENV" "$tmp/tampered.pisync"
contains "[$V] tampered: clear message" "payload refused: sealed payload failed authentication"
unchanged "[$V] tampered" "$SDB"
head -c $(( $(stat -c %s "$F1") / 2 )) "$F1" >"$tmp/truncated.pisync"
check "[$V] truncated file refused" 1 "$BIN" apply --env-file "$SENV" "$tmp/truncated.pisync"
contains "[$V] truncated: clear message" "payload refused: sealed payload failed authentication"
head -c 59 "$F1" >"$tmp/stub.pisync"
check "[$V] file shorter than a seal refused" 1 "$BIN" apply --env-file "$SENV" "$tmp/stub.pisync"
contains "[$V] short: clear message" "sealed payload is too short"
unchanged "[$V] truncated" "$SDB"

echo "# $V: (d) changes on the primary; (h) --dry-run"
"${FIX[@]}" local --db "$SDB" --node secondary
bob=$(q "$PDB" "SELECT id FROM users WHERE username = 'bob'")
erin=$(q "$PDB" "SELECT id FROM users WHERE username = 'erin'")
same "[$V] secondary has local audit rows for erin" "$(q "$SDB" "SELECT count(*) FROM audit_logs WHERE user_id = '$erin'")" 1
erin_creds=$(q "$PDB" "SELECT count(*) FROM webauthn_credentials WHERE user_id = '$erin'")
holds "[$V] erin has passkeys ($erin_creds)" test "$erin_creds" -ge 1
check "[$V] primary: rename bob" 0 "${FIX[@]}" rename-user --db "$PDB" --username bob --to robert
# A new account takes the deleted one's (case-insensitive) username and e-mail in the same
# payload: the secondary must free both UNIQUE values before inserting.
check "[$V] primary: swap carol's and dave's e-mails, delete erin, a new Erin" 0 q "$PDB" "
	PRAGMA foreign_keys = ON;
	BEGIN;
	UPDATE users SET email = 'swap@invalid' WHERE username = 'carol';
	UPDATE users SET email = 'carol@example.com' WHERE username = 'dave';
	UPDATE users SET email = 'dave@example.com' WHERE username = 'carol';
	DELETE FROM users WHERE username = 'erin';
	INSERT INTO users(id, created_at, updated_at, username, email, first_name, last_name,
		display_name, is_admin, disabled, email_verified)
	VALUES ('$(cat /proc/sys/kernel/random/uuid)', strftime('%s'), strftime('%s'), 'Erin',
		'erin@example.com', 'Erin', 'Eriksen', 'Erin Eriksen', 0, 0, 1);
	COMMIT;"
same "[$V] primary: erin's passkeys went with her" "$(q "$PDB" "SELECT count(*) FROM webauthn_credentials WHERE user_id = '$erin'")" 0
F2=$tmp/gen2.pisync
check "[$V] export after the changes" 0 "$BIN" export --env-file "$PENV" --to "$SPUB" -o "$F2"
same "[$V] generation incremented" "$(sealed_generation)" 2

snapshot "$SDB"
local2=$(local_dump "$SDB")
check "[$V] apply --dry-run" 0 "$BIN" apply --dry-run --env-file "$SENV" "$F2"
matches "[$V] dry run: users 1 inserted, 3 updated, 1 deleted" "^users +1 +3 +1$"
matches "[$V] dry run: erin's passkeys deleted" "^webauthn_credentials +0 +0 +$erin_creds$"
contains "[$V] dry run says so" "generation 2: dry run, nothing changed"
unchanged "[$V] dry run" "$SDB"

check "[$V] apply the changes" 0 "$BIN" apply --env-file "$SENV" "$F2"
matches "[$V] users 1 inserted, 3 updated, 1 deleted" "^users +1 +3 +1$"
contains "[$V] generation 2 applied" "generation 2: applied"
contains "[$V] same JWT key: unchanged" "jwt signing key: unchanged"
same "[$V] durable rows equal after the changes" "$(durable_dump "$SDB")" "$(durable_dump "$PDB")"
same "[$V] bob renamed in place (same id)" "$(q "$SDB" "SELECT id FROM users WHERE username = 'robert'")" "$bob"
same "[$V] e-mails swapped" "$(q "$SDB" "SELECT username || '=' || email FROM users WHERE username IN ('carol', 'dave') ORDER BY 1")" \
	"$(printf 'carol=dave@example.com\ndave=carol@example.com')"
same "[$V] erin's local audit rows are gone" "$(q "$SDB" "SELECT count(*) FROM audit_logs WHERE user_id = '$erin'")" 0
same "[$V] erin's passkeys are gone" "$(q "$SDB" "SELECT count(*) FROM webauthn_credentials WHERE user_id = '$erin'")" 0
same "[$V] other users' local rows remain (bob's too)" \
	"$(local_dump "$SDB")" "$(grep -v "'$erin'" <<<"$local2")"
same "[$V] one audit row for each of the 4 remaining users, none for the new Erin" \
	"$(q "$SDB" "SELECT count(DISTINCT user_id) || '/' || count(*) FROM audit_logs WHERE user_id IS NOT NULL")" 4/4

echo "# $V: (e) replaying the older file"
snapshot "$SDB"
check "[$V] older generation refused" 1 "$BIN" apply --env-file "$SENV" "$F1"
contains "[$V] replay: names 'older'" "replay/rollback: generation 1 is older than 2"
unchanged "[$V] replay" "$SDB"

echo "# $V: (f) misaddressed and foreign payloads"
node third $V demo
TENV=$dir/sync.env
check "[$V] third node pubkey" 0 "$BIN" pubkey --env-file "$TENV"
TPUB=$out
check "[$V] primary exports for the third node" 0 "$BIN" export --env-file "$PENV" --to "$TPUB" -o "$tmp/for-third.pisync"
snapshot "$SDB"
check "[$V] payload for another node refused" 1 "$BIN" apply --env-file "$SENV" "$tmp/for-third.pisync"
contains "[$V] ... as not for this node" "failed authentication (altered, not for this node"
check "[$V] third node (not the pinned primary) exports for the secondary" 0 \
	"$BIN" export --env-file "$TENV" --to "$SPUB" -o "$tmp/from-third.pisync"
check "[$V] payload from a node other than the pinned primary refused" 1 \
	"$BIN" apply --env-file "$SENV" "$tmp/from-third.pisync"
contains "[$V] ... as not from the pinned primary" "not from the pinned primary"
check "[$V] ... although it opens with --from the third node's key" 0 \
	"$BIN" open --env-file "$SENV" --from "$TPUB" "$tmp/from-third.pisync"
check "[$V] open --from another key refuses the pinned primary's payload" 1 \
	"$BIN" open --env-file "$SENV" --from "$TPUB" "$F2"
contains "[$V] ... naming the --from key, not the pinned primary" "not from the --from key"
holds "[$V] ... and never says pinned primary" eval '! grep -q "pinned primary" <<<"$out"'
unchanged "[$V] foreign payloads" "$SDB"

echo "# $V: (g) schema mismatch; (i) the delete valve"
check "[$V] primary: delete most users" 0 q "$PDB" "PRAGMA foreign_keys = ON; DELETE FROM users WHERE username <> 'alice'"
F3=$tmp/gen3.pisync
check "[$V] export" 0 "$BIN" export --env-file "$PENV" --to "$SPUB" -o "$F3"
same "[$V] generation 3" "$(sealed_generation)" 3
version=$(q "$SDB" "SELECT version FROM schema_migrations")
q "$SDB" "UPDATE schema_migrations SET version = 20991231235959"
snapshot "$SDB"
check "[$V] other schema version refused" 1 "$BIN" apply --env-file "$SENV" "$F3"
contains "[$V] schema: names both versions" "schema version differs: this node 20991231235959, primary $version"
unchanged "[$V] schema mismatch" "$SDB"
q "$SDB" "UPDATE schema_migrations SET version = $version"

snapshot "$SDB"
check "[$V] mass delete refused" 1 "$BIN" apply --env-file "$SENV" "$F3"
contains "[$V] valve: names SYNC_MAX_DELETE_PERCENT" "SYNC_MAX_DELETE_PERCENT=50%"
contains "[$V] valve: says how to override" "--force"
unchanged "[$V] valve" "$SDB"
check "[$V] --dry-run shows what the valve refuses" 1 "$BIN" apply --dry-run --env-file "$SENV" "$F3"
matches "[$V] --dry-run: counts despite the valve" "^users +0 +0 +4$"
contains "[$V] --dry-run: then the refusal" "SYNC_MAX_DELETE_PERCENT=50%"
unchanged "[$V] valve --dry-run" "$SDB"
# With a key to replace, --dry-run (refused by the valve) and --dry-run --force tell the same.
if [ -n "$(q "$SDB" "SELECT 1 FROM kv WHERE key = 'jwt_private_key.json'" 2>/dev/null)" ]; then
	q "$SDB" "DELETE FROM kv WHERE key = 'jwt_private_key.json'"
	check "[$V] --dry-run without a key, refused by the valve" 1 "$BIN" apply --dry-run --env-file "$SENV" "$F3"
	jwt1=$(grep '^jwt signing key' <<<"$out")
	check "[$V] --dry-run --force without a key" 0 "$BIN" apply --dry-run --force --env-file "$SENV" "$F3"
	jwt2=$(grep '^jwt signing key' <<<"$out")
	same "[$V] --dry-run and --dry-run --force agree on the JWT key" "$jwt1" "$jwt2"
	same "[$V] ... it would be replaced" "$jwt2" "jwt signing key: replaced"
fi
check "[$V] apply --force" 0 "$BIN" apply --force --env-file "$SENV" "$F3"
matches "[$V] --force: users deleted" "^users +0 +0 +4$"
same "[$V] only alice is left" "$(q "$SDB" "SELECT group_concat(username) FROM users")" alice
same "[$V] durable rows equal after --force" "$(durable_dump "$SDB")" "$(durable_dump "$PDB")"

echo "# $V: (j) a whole document built and sealed by the Python peer"
"${FIX[@]}" rename-user --db "$PDB" --username alice --to alicia
"${FIX[@]}" jwk --db "$PDB" --encryption-key-file "$P/encryption.key" >"$tmp/primary-jwk.json"
tables=()
for t in $DURABLE; do has_table "$PDB" "$t" && tables+=(--table "$t"); done
schema=$(q "$PDB" "SELECT version FROM schema_migrations")
check "[$V] Python doc-build from the primary database" 0 "${PEER[@]}" doc-build --sender "$PPUB" \
	--to "$SPUB" --db "$PDB" "${tables[@]}" --generation 4 --schema-version "$schema" \
	--jwt-key "$tmp/primary-jwk.json" --out "$tmp/py-doc.json"
check "[$V] Python seal with the primary's private.key" 0 "${PEER[@]}" seal \
	--sender-key "$P/state/private.key" --to "$SPUB" --in "$tmp/py-doc.json" --out "$tmp/py.pisync"
check "[$V] C open accepts the Python payload" 0 "$BIN" open --env-file "$SENV" "$tmp/py.pisync"
doc=$out
same "[$V] C open prints the Python document" "$doc" "$(cat "$tmp/py-doc.json")"
check "[$V] C apply accepts the Python payload" 0 "$BIN" apply --env-file "$SENV" "$tmp/py.pisync"
matches "[$V] Python payload: alice renamed" "^users +0 +1 +0$"
contains "[$V] Python payload: generation 4 applied" "generation 4: applied"
contains "[$V] Python payload: same JWT key" "jwt signing key: unchanged"
same "[$V] durable rows equal after the Python payload" "$(durable_dump "$SDB")" "$(durable_dump "$PDB")"
check "[$V] Python doc-build addressed to the third node" 0 "${PEER[@]}" doc-build --sender "$PPUB" \
	--to "$TPUB" --db "$PDB" "${tables[@]}" --generation 5 --schema-version "$schema" --out "$tmp/py-third.json"
check "[$V] ... sealed for the secondary" 0 "${PEER[@]}" seal \
	--sender-key "$P/state/private.key" --to "$SPUB" --in "$tmp/py-third.json" --out "$tmp/py-third.pisync"
snapshot "$SDB"
check "[$V] document for another recipient refused" 1 "$BIN" apply --env-file "$SENV" "$tmp/py-third.pisync"
contains "[$V] ... with 'payload is for another node'" "payload is for another node"
unchanged "[$V] misaddressed document" "$SDB"

# ============================ (a) on every other fixture release ===========================
for V in v1.9 v2.0 v2.10 v2.11; do
	echo "# $V: (a) pubkey -> export -> apply"
	flow_a $V
done

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
