#!/usr/bin/env bash
# Proves `peer add | list | remove` and `status`: the bootstrap token is
# printed once (one stdout line) and only its hash reaches state.db, bad and
# duplicate peers are refused, removal is idempotent-safe (second exits 1),
# concurrent adds all land, and status shows both roles in human and TSV form.
set -u
BIN=${PIS_BIN:?PIS_BIN must point at the pocket-id-sync binary}
pass=0 fail=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
. "$(dirname "$0")/../lib/script.sh"
pis_clean_env

ok() { pass=$((pass+1)); echo "ok   $1"; }
bad() { fail=$((fail+1)); echo "FAIL $1"; [ -n "${2:-}" ] && echo "$2" | sed 's/^/     /'; }
run() { # run NAME EXPECTED_STATUS COMMAND... ; stdout in $out, stderr in $err
	local name=$1 want=$2; shift 2
	"$@" >"$tmp/out" 2>"$tmp/err"; local got=$?
	out=$(cat "$tmp/out"); err=$(cat "$tmp/err")
	if [ "$got" = "$want" ]; then ok "$name"; else bad "$name: status $got, want $want" "$out$err"; fi
}
has() { # has NAME HAYSTACK NEEDLE
	if grep -qF -- "$3" <<<"$2"; then ok "$1"; else bad "$1: lacks '$3'" "$2"; fi
}
same() { # same NAME GOT WANT
	if [ "$2" = "$3" ]; then ok "$1"; else bad "$1: got '$2', want '$3'"; fi
}

P="$tmp/primary" S="$tmp/secondary"
export SYNC_STATE_DIR="$P"
primary_pub=$("$BIN" pubkey)
secondary_pub=$(SYNC_STATE_DIR="$S" "$BIN" pubkey)

# --help and usage errors for every action.
for action in add list remove; do
	run "peer $action --help" 0 "$BIN" peer "$action" --help
	has "peer $action help synopsis" "$out" "Usage: pocket-id-sync peer $action"
	run "peer $action unknown option" 2 "$BIN" peer "$action" --no-such-option
	has "peer $action usage names action" "$err" "pocket-id-sync peer $action: unknown option"
done
run "peer without action" 2 "$BIN" peer
run "peer unknown action" 2 "$BIN" peer frobnicate
run "add with one operand" 2 "$BIN" peer add site-b
run "remove without name" 2 "$BIN" peer remove

# Options after operands work the same as before them.
printf 'SYNC_STATE_DIR=%s\n' "$tmp/late" >"$tmp/late.env"
run "peer add NAME KEY --env-file F (option after the operands)" 0 env -u SYNC_STATE_DIR \
	"$BIN" peer add late "$secondary_pub" --env-file "$tmp/late.env"
run "peer list --tsv --env-file F" 0 env -u SYNC_STATE_DIR "$BIN" peer list --tsv --env-file "$tmp/late.env"
has "... lists the peer added with the late option" "$out" "late"
run "peer remove NAME --env-file F" 0 env -u SYNC_STATE_DIR "$BIN" peer remove late --env-file "$tmp/late.env"
run "pubkey --env-file F after nothing" 0 env -u SYNC_STATE_DIR "$BIN" pubkey --env-file "$tmp/late.env"
same "... the same key dir" "$out" "$(SYNC_STATE_DIR="$tmp/late" "$BIN" pubkey)"

# add: exactly one stdout line, the bootstrap string with this primary's key.
run "add site-b" 0 "$BIN" peer add site-b "$secondary_pub"
token=$out
same "add prints one line" "$(wc -l <"$tmp/out")" 1
if [[ "$token" =~ ^pisync1\.${primary_pub//+/\\+}\.[A-Za-z0-9+/]{43}=$ ]]; then ok "bootstrap form";
else bad "bootstrap form: '$token'"; fi
has "stderr says shown once" "$err" "shown only once"
has "stderr names SYNC_PRIMARY_TOKEN" "$err" "SYNC_PRIMARY_TOKEN"
secret=${token##*.}
same "state.db mode 600" "$(stat -c %a "$P/state.db")" 600

# Only the hash is stored: the token is nowhere in the state directory.
if grep -rqF -- "$secret" "$P"; then bad "token found in state dir"; else ok "token not in state dir"; fi
want_hash=$(printf %s "$secret" | sha256sum | cut -d' ' -f1 | tr a-f A-F)
same "stored hash is SHA-256(token)" \
	"$(sqlite3 "file:$P/state.db?mode=ro" 'SELECT hex(token_hash) FROM peers WHERE name = "site-b"')" \
	"$want_hash"

# Refusals.
run "duplicate name refused" 1 "$BIN" peer add site-b "$(SYNC_STATE_DIR="$tmp/k1" "$BIN" pubkey)"
has "duplicate name message" "$err" "a peer named site-b already exists"
same "refusal prints no token" "$out" ""
run "duplicate key refused" 1 "$BIN" peer add site-c "$secondary_pub"
has "duplicate key message" "$err" "already belongs to peer site-b"
run "own key refused" 1 "$BIN" peer add self "$primary_pub"
has "own key message" "$err" "own public key"
run "bad name refused" 1 "$BIN" peer add "bad/name" "$(SYNC_STATE_DIR="$tmp/k2" "$BIN" pubkey)"
has "bad name message" "$err" "peer name must be"
run "bad key refused" 1 "$BIN" peer add site-d "not-a-key"
has "bad key message" "$err" "44 characters of base64"
run "secondary refuses add" 1 env SYNC_ROLE=secondary SYNC_PRIMARY_URL=http://127.0.0.1:9 \
	SYNC_PRIMARY_TOKEN="$token" "$BIN" peer add site-e "$(SYNC_STATE_DIR="$tmp/k3" "$BIN" pubkey)"

# list: header plus one row; --tsv rows without header; the token never shows.
run "list" 0 "$BIN" peer list
has "list header" "$(head -1 <<<"$out")" "NAME"
has "list header columns" "$(head -1 <<<"$out")" "FINGERPRINT"
has "list row" "$out" "site-b"
has "list never seen" "$out" "never"
run "list --tsv" 0 "$BIN" peer list --tsv
IFS=$'\t' read -r name fp created seen gen pub <<<"$out"
same "tsv name" "$name" site-b
[[ "$fp" =~ ^[0-9a-f]{16}$ ]] && ok "tsv fingerprint" || bad "tsv fingerprint '$fp'"
[[ "$created" =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z$ ]] && ok "tsv created" || bad "tsv created '$created'"
same "tsv last seen" "$seen" never
same "tsv last generation" "$gen" -
same "tsv pubkey" "$pub" "$secondary_pub"
same "tsv one line" "$(wc -l <"$tmp/out")" 1
if grep -qF -- "$secret" "$tmp/out"; then bad "list shows token"; else ok "list hides token"; fi

# Concurrent adds (as while the daemon holds the file) all succeed.
for i in 1 2 3 4 5 6; do
	k=$(SYNC_STATE_DIR="$tmp/c$i" "$BIN" pubkey)
	"$BIN" peer add "par-$i" "$k" >"$tmp/par$i.out" 2>&1 &
done
wait
same "parallel adds" "$(cat "$tmp"/par*.out | grep -c '^pisync1\.')" 6
run "list after parallel adds" 0 "$BIN" peer list --tsv
same "seven peers" "$(wc -l <"$tmp/out")" 7

# status, primary.
run "status primary" 0 env SYNC_ROLE=primary "$BIN" status
has "status role" "$out" "primary"
has "status generation" "$out" "generation:"
run "status --tsv primary" 0 env SYNC_ROLE=primary "$BIN" status --tsv
same "tsv role" "$(grep '^role' <<<"$out")" $'role\tprimary'
primary_fp=$(sed -n 's/^fingerprint\t//p' <<<"$out")
[[ "$primary_fp" =~ ^[0-9a-f]{16}$ ]] && ok "tsv own fingerprint" || bad "tsv own fingerprint '$primary_fp'"
same "tsv generation" "$(grep '^generation' <<<"$out")" $'generation\t0'
same "tsv peer line" "$(grep '^peer	site-b' <<<"$out" | cut -f1,2,4,5)" $'peer\tsite-b\tnever\t-'
same "tsv peer count" "$(grep -c '^peer	' <<<"$out")" 7
run "status rejects operands" 2 "$BIN" status extra
run "status unknown option" 2 "$BIN" status --no-such-option

# status, secondary: the pin comes from the token; progress from state.db.
export SYNC_ROLE=secondary SYNC_PRIMARY_URL=http://127.0.0.1:9 SYNC_PRIMARY_TOKEN="$token"
run "status secondary fresh" 0 env SYNC_STATE_DIR="$S" "$BIN" status --tsv
same "pinned primary fingerprint" "$(sed -n 's/^primary_fingerprint\t//p' <<<"$out")" "$primary_fp"
same "no applied generation" "$(sed -n 's/^applied_generation\t//p' <<<"$out")" -
same "never attempted" "$(sed -n 's/^last_attempt_at\t//p' <<<"$out")" never
same "no error" "$(sed -n 's/^last_error\t//p' <<<"$out")" -
pin_hex=$(printf %s "$primary_pub" | base64 -d | od -An -tx1 | tr -d ' \n')
sqlite3 "$S/state.db" "INSERT INTO applied VALUES (x'$pin_hex', 12, 1714564800, 1714564805);
	INSERT INTO status VALUES ('last_attempt_at', '1714564800'), ('last_success_at', '1714564805'),
	('last_error', 'network: refused' || char(9) || 'again');"
run "status secondary" 0 env SYNC_STATE_DIR="$S" "$BIN" status --tsv
same "applied generation" "$(sed -n 's/^applied_generation\t//p' <<<"$out")" 12
same "last attempt" "$(sed -n 's/^last_attempt_at\t//p' <<<"$out")" 2024-05-01T12:00:00Z
same "last success" "$(sed -n 's/^last_success_at\t//p' <<<"$out")" 2024-05-01T12:00:05Z
same "last error one field" "$(sed -n 's/^last_error\t//p' <<<"$out")" "network: refused again"
run "status secondary human" 0 env SYNC_STATE_DIR="$S" "$BIN" status
has "human applied" "$out" "applied generation:  12"
has "human last success" "$out" "2024-05-01T12:00:05Z"
unset SYNC_ROLE SYNC_PRIMARY_URL SYNC_PRIMARY_TOKEN

# remove, twice.
run "remove" 0 "$BIN" peer remove site-b
same "remove message" "$out" "removed site-b"
run "remove again" 1 "$BIN" peer remove site-b
has "remove again message" "$err" "no such peer site-b"
if "$BIN" peer list --tsv | grep -q '^site-b'; then bad "site-b still listed"; else ok "site-b gone"; fi

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
