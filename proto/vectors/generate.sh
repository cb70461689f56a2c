#!/bin/sh
# Regenerates the test vectors in this directory. The sealing-layer vectors
# (seal-*.json, doc2-delta.json) are sealed by the C implementation
# (tests/tools/seal_tool.c, built as build*/tests/seal_tool); rows-hash.json
# and the format-2 delta document inside doc2-delta.json are computed by the
# Python peer (tests/peer/pisync_peer.py) and cross-checked here with the C
# rows hash and reader before the last file is written. The inputs are fixed
# below, so correct implementations reproduce the committed files byte for
# byte. Check them independently afterwards with:
#   /usr/bin/python3 tests/peer/pisync_peer.py vectors-check proto/vectors
# (and the C unit tests unit.seal, unit.rowhash, unit.doc2).
# Usage: proto/vectors/generate.sh PATH/TO/seal_tool
set -eu
TOOL=${1:?usage: generate.sh PATH/TO/seal_tool}
case $TOOL in /*) ;; *) TOOL=$PWD/$TOOL ;; esac
DIR=$(cd "$(dirname "$0")" && pwd)
PY=/usr/bin/python3
PEER="$DIR/../../tests/peer/pisync_peer.py"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
umask 077

key() { printf '%s\n' "$2" >"$tmp/$1.key"; }
# Sender (primary) = RFC 7748 section 6.1 Alice; recipient = RFC 7748 Bob.
key sender 'dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCo='
key recipient 'XasIfmJKikt54X+Lg4AO5m87sSkmGLb9HC+LJ/+I4Os='
key eph1 'AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=' # bytes 00..1f
key eph2 'ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=' # bytes 20..3f
key eph3 'QEFCQ0RFRkdISUpLTE1OT1BRUlNUVVZXWFlaW1xdXl8=' # bytes 40..5f
key eph4 'YGFiY2RlZmdoaWprbG1ub3BxcnN0dXZ3eHl6e3x9fn8=' # bytes 60..7f
S=$("$TOOL" pubkey --key "$tmp/sender.key")
R=$("$TOOL" pubkey --key "$tmp/recipient.key")

: >"$tmp/empty"
printf 'hello, secondary' >"$tmp/short"
# A small payload document (SPEC section 5) showing every cell form; one
# line, no trailing newline. "example_cells" is not a Pocket ID table.
printf '%s' '{"format":1,"sender":"'"$S"'","recipient":"'"$R"'","generation":"42",'\
'"issued_at":"2026-11-22T20:00:00Z","schema_version":"20260708130000","tables":['\
'{"name":"users","columns":["id","username","email","is_admin","created_at"],"rows":['\
'["t:6f1c2a34-5b7d-4e8f-9a0b-1c2d3e4f5a6b","t:alice",null,"i:1",'\
'"t:2026-03-01 12:34:56.123456789+00:00"]]},'\
'{"name":"webauthn_credentials","columns":["id","credential_id","public_key","user_id",'\
'"backup_eligible"],"rows":[["t:0b9e8d7c-6a5f-4e3d-2c1b-0a9f8e7d6c5b",'\
'"b:AQIDBAUGBwgJCgsMDQ4PEA==","b:pQECAyYgASFYIA==","t:6f1c2a34-5b7d-4e8f-9a0b-1c2d3e4f5a6b",'\
'"i:0"]]},'\
'{"name":"example_cells","columns":["n","i","r","t","x","b"],"rows":['\
'[null,"i:-9223372036854775808","r:-0.0","t:café","x:/wBh","b:"],'\
'[null,"i:9223372036854775807","r:inf","t:","x:AA==","b:AA=="],'\
'[null,"i:0","r:0.1","t:line\nbreak","x:wMA=","b:/w=="]]}],"jwt_key":null}' \
	>"$tmp/document"

vector() { # vector NAME EPH NONCE_HEX INPUT DESCRIPTION
	"$TOOL" vector --sender-key "$tmp/sender.key" --recipient-key "$tmp/recipient.key" \
		--eph-key "$tmp/$2.key" --nonce "$3" --in "$tmp/$4" --description "$5" \
		>"$DIR/$1.json"
	echo "wrote $DIR/$1.json"
}
vector seal-empty eph1 a0a1a2a3a4a5a6a7a8a9aaab empty "empty plaintext"
vector seal-short eph2 b0b1b2b3b4b5b6b7b8b9babb short "16-byte ASCII plaintext"
vector seal-document eph3 c0c1c2c3c4c5c6c7c8c9cacb document \
	"a small payload document (format 1) with every cell form"

# --- rows hash (SPEC section 5B) -------------------------------------------
# Two counted tables and app_config_variables (not counted): every storage
# class, -0.0, text that is not UTF-8 or holds a NUL, empty text and blob,
# column names that sort differently bytewise (upper case, non-ASCII), a
# bookkeeping column (users.updated_at), a per-node column
# (oidc_clients.pkce_supported) and a CIMD client whose metadata-document
# columns do not count.
cat >"$tmp/rows-input.json" <<'EOF'
{"description": "row digests, the first 8 lanes of their expansions and the rows hash (SPEC section 5B); cells in the section 5 cell syntax",
 "schema_version": "20260814120000",
 "tables": [
  {"table": "users",
   "columns": ["id", "username", "display_name", "email", "is_admin", "score", "avatar", "updated_at", "created_at", "Locale", "ñick"],
   "key": ["id"],
   "rows": [
    ["t:u-alice", "t:alice", "t:Alice Anderson", "t:alice@example.com", "i:1", "r:-0.0", "b:", "t:2026-03-01 12:34:56.123456789+00:00", "i:1700000000", "t:en", "t:Ålice"],
    ["t:u-bob", "x:/w==", "t:", null, "i:0", "r:inf", "b:AP8=", null, "i:-9223372036854775808", null, "x:YQBi"],
    ["t:u-carol", "t:carol", "t:Carol \"C\" \\ Clark\nsecond line", "t:carol@example.com", "i:9223372036854775807", "r:0.1", "b:iVBORw0KGgo=", "i:1", "r:1700000000.5", "t:de-CH", "t:"]
   ]},
  {"table": "oidc_clients",
   "columns": ["id", "name", "callback_urls", "client_type", "pkce_supported", "launch_url", "created_at", "credentials"],
   "key": ["id"],
   "rows": [
    ["t:client-grafana", "t:Grafana", "b:WyJodHRwczovL2dyYWZhbmEuZXhhbXBsZS9jYiJd", "t:standard", "i:1", "t:https://grafana.example", "i:1700000000", null],
    ["t:https://app.example/client.json", "t:App", "t:[\"https://app.example/cb\"]", "t:cimd", "i:0", "t:https://app.example", "i:1700000100", null]
   ]},
  {"table": "app_config_variables",
   "columns": ["key", "value"],
   "key": ["key"],
   "rows": [
    ["t:appName", "t:Pocket ID"],
    ["t:instanceId", "t:6f1c2a34-5b7d-4e8f-9a0b-1c2d3e4f5a6b"]
   ]}
 ]}
EOF
"$PY" "$PEER" rows-hash-vector --in "$tmp/rows-input.json" --out "$DIR/rows-hash.json"
echo "wrote $DIR/rows-hash.json"
json_field() { "$PY" -c 'import json, sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$@"; }
fail() { echo "generate.sh: $*" >&2; exit 1; }
BASE_HASH=$(json_field "$DIR/rows-hash.json" rows_hash)
"$PY" "$PEER" vector-db --vector "$DIR/rows-hash.json" --out "$tmp/base.db"
[ "$("$TOOL" rows-hash --db "$tmp/base.db")" = "$BASE_HASH" ] ||
	fail "the C rows hash of rows-hash.json's content is not the Python one"

# --- a format-2 delta (SPEC section 5A) from that content -------------------
# A changed user, a deleted one, a new one; a standard client's launch URL
# and per-node column; a CIMD client's metadata-document name (a changed row
# that leaves the rows hash as it is); app_config_variables whole; the JWT
# key (RFC 8037 appendix A.1's published Ed25519 test key).
cp "$tmp/base.db" "$tmp/after.db"
"$PY" - "$tmp/after.db" <<'EOF'
import sqlite3, sys
con = sqlite3.connect(sys.argv[1])
con.execute("UPDATE users SET username = 'alice2', updated_at = 'later' WHERE id = 'u-alice'")
con.execute("DELETE FROM users WHERE id = 'u-bob'")
con.execute("INSERT INTO users VALUES ('u-dave', 'dave', 'Dave Davis', NULL, 0, 2.5, x'00',"
            " NULL, 1700000200, 'fr', 'Dave')")
con.execute("UPDATE oidc_clients SET launch_url = 'https://grafana.example/home', pkce_supported = 0"
            " WHERE id = 'client-grafana'")
con.execute("UPDATE oidc_clients SET name = 'App (from its metadata document)' WHERE client_type = 'cimd'")
con.execute("UPDATE app_config_variables SET value = 'Pocket ID Test' WHERE key = 'appName'")
con.commit()
EOF
printf '%s\n' '{"kty":"OKP","crv":"Ed25519","d":"nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}' \
	>"$tmp/jwk.json"
"$PY" "$PEER" doc2-build --sender "$S" --to "$R" --db "$tmp/after.db" --delta-from "$tmp/base.db" \
	--base-generation 41 --generation 42 --schema-version 20260814120000 \
	--issued-at 2026-11-22T20:00:00Z --jwt-key "$tmp/jwk.json" --out "$tmp/delta"
AFTER_HASH=$("$TOOL" rows-hash --db "$tmp/after.db")
"$TOOL" doc2-check --in "$tmp/delta" |
	grep -qF " rows_hash $AFTER_HASH tables 3 base_generation 41 base_rows_hash $BASE_HASH " ||
	fail "the C reader does not accept the delta, or its hashes are not the C rows hashes"
vector doc2-delta eph4 d0d1d2d3d4d5d6d7d8d9dadb delta \
	"a format-2 delta document (SPEC section 5A) from the content of rows-hash.json"
