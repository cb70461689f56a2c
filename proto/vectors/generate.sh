#!/bin/sh
# Regenerates the sealing-layer test vectors in this directory with the C
# implementation (tests/tools/seal_tool.c, built as build*/tests/seal_tool).
# The inputs are fixed below, so a correct implementation reproduces the
# committed files byte for byte. Check them independently afterwards with:
#   /usr/bin/python3 tests/peer/pisync_peer.py vectors-check proto/vectors
# Usage: proto/vectors/generate.sh PATH/TO/seal_tool
set -eu
TOOL=${1:?usage: generate.sh PATH/TO/seal_tool}
DIR=$(cd "$(dirname "$0")" && pwd)
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
