#!/usr/bin/env bash
# SYNC_RESTART_COMMAND after an apply that replaced the JWT key: it runs once
# and is killed at SYNC_RESTART_TIMEOUT; what it prints becomes
# event=restart.output log lines; when it fails, the failure is
# remembered in state.db and the next apply (even of a generation already
# applied) runs it again until it succeeds; after that nothing runs. Offline path (export -> apply) on v2.14 fixture databases.
# Skips (77) without python3-cryptography.
set -u
BIN=${PIS_BIN:?PIS_BIN must point at the pocket-id-sync binary}
SRC=${PIS_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
PY=/usr/bin/python3
. "$(dirname "$0")/../lib/script.sh"
pis_need_python_crypto
FIX=("$PY" "$SRC/tests/tools/pocketid_fixture.py")
pis_clean_env
pass=0 fail=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
ok() { pass=$((pass+1)); echo "ok   $1"; }
bad() { fail=$((fail+1)); echo "FAIL $1"; [ -n "${out:-}" ] && sed 's/^/     /' <<<"$out"; }
check() { # check NAME EXPECTED_STATUS COMMAND... ; output in $out
	local name=$1 want=$2; shift 2
	out=$("$@" 2>&1); local got=$?
	if [ "$got" = "$want" ]; then ok "$name"; else bad "$name: status $got, want $want"; fi
}
contains() { if grep -qF -- "$2" <<<"$out"; then ok "$1"; else bad "$1: output lacks '$2'"; fi; }
runs() { [ -f "$tmp/runs" ] && wc -l <"$tmp/runs" || echo 0; }
same() { if [ "$2" = "$3" ]; then ok "$1"; else out="got '$2', want '$3'"; bad "$1"; fi; }

node() { # node NAME SEED ROLE
	local d=$tmp/$1
	mkdir -p "$d"
	head -c 18 /dev/urandom | base64 | tr -d '\n' >"$d/encryption.key"
	chmod 600 "$d/encryption.key"
	"${FIX[@]}" create --db "$d/pocket-id.db" --version v2.14 \
		--instance-id "$(cat /proc/sys/kernel/random/uuid)" \
		--encryption-key-file "$d/encryption.key" --generate-jwk --seed "$2" --users 3 >/dev/null
	printf 'DB_CONNECTION_STRING=%s\nENCRYPTION_KEY_FILE=%s\nSYNC_ROLE=%s\nSYNC_STATE_DIR=%s\n' \
		"$d/pocket-id.db" "$d/encryption.key" "$3" "$d/state" >"$d/sync.env"
}
node primary demo primary
node secondary none secondary
echo "SYNC_PRIMARY_PUBKEY=$("$BIN" pubkey --env-file "$tmp/primary/sync.env")" >>"$tmp/secondary/sync.env"
SENV=$tmp/secondary/sync.env
check "export" 0 "$BIN" export --env-file "$tmp/primary/sync.env" \
	--to "$("$BIN" pubkey --env-file "$SENV")" -o "$tmp/p.sealed"

# Each run of the command appends a line to $tmp/runs. The first one hangs
# and is killed at SYNC_RESTART_TIMEOUT; the later ones exit with the status
# in $tmp/status.
export SYNC_RESTART_TIMEOUT=1s
export SYNC_RESTART_COMMAND="echo \$\$ >'$tmp/shell.pid'; echo run >>'$tmp/runs'; sleep 600"
check "apply with a hanging restart command still applies" 0 "$BIN" apply --env-file "$SENV" "$tmp/p.sealed"
contains "the key was replaced" "jwt signing key: replaced"
contains "the timeout is logged" "event=restart.failed reason=timeout"
same "the command ran once" "$(runs)" 1
if kill -0 "$(cat "$tmp/shell.pid")" 2>/dev/null; then out="pid $(cat "$tmp/shell.pid") alive"; bad "the timed-out command was killed"
else ok "the timed-out command was killed"; fi

# A command that overruns gets SIGTERM first, so what it runs (systemctl,
# docker) can still stop Pocket ID cleanly; the run still counts as failed.
export SYNC_RESTART_COMMAND="trap 'echo stopped >\"$tmp/term\"; exit 0' TERM; echo run >>'$tmp/runs'; while :; do sleep 1; done"
check "a hanging command is asked to stop" 0 "$BIN" apply --env-file "$SENV" "$tmp/p.sealed"
same "it got SIGTERM" "$(cat "$tmp/term" 2>/dev/null)" stopped
contains "that run failed too" "event=restart.failed reason=timeout"

echo 1 >"$tmp/status"
export SYNC_RESTART_COMMAND="echo run >>'$tmp/runs'; exit \$(cat '$tmp/status')"

check "the same payload again" 0 "$BIN" apply --env-file "$SENV" "$tmp/p.sealed"
contains "nothing to apply" "is already applied"
contains "the failed restart is retried" "why=retry"
same "the command ran again" "$(runs)" 3

echo 0 >"$tmp/status"
export SYNC_RESTART_COMMAND="echo run >>'$tmp/runs'; echo 'pocket-id restarted'; echo 'on stderr' >&2; exit \$(cat '$tmp/status')"
check "again, the command now succeeds" 0 "$BIN" apply --env-file "$SENV" "$tmp/p.sealed"
contains "the retry succeeds" "event=restart.done why=retry"
contains "its stdout is a log line" 'event=restart.output line="pocket-id restarted"'
contains "its stderr is a log line" 'event=restart.output line="on stderr"'
same "no bare output line" "$(grep -c '^pocket-id restarted' <<<"$out")" 0
same "the command ran a fourth time" "$(runs)" 4

check "once it succeeded" 0 "$BIN" apply --env-file "$SENV" "$tmp/p.sealed"
same "nothing runs any more" "$(runs)" 4
check "a dry run never restarts" 0 "$BIN" apply --dry-run --env-file "$SENV" "$tmp/p.sealed"
same "still four runs" "$(runs)" 4

# A kill after Pocket ID's transaction committed but before the command
# succeeded (here the command kills the apply itself) must not lose the
# restart: it was recorded in state.db before the commit.
node killed none secondary
echo "SYNC_PRIMARY_PUBKEY=$("$BIN" pubkey --env-file "$tmp/primary/sync.env")" >>"$tmp/killed/sync.env"
KENV=$tmp/killed/sync.env
check "export for a second secondary" 0 "$BIN" export --env-file "$tmp/primary/sync.env" \
	--to "$("$BIN" pubkey --env-file "$KENV")" -o "$tmp/k.sealed"
export SYNC_RESTART_COMMAND="echo run >>'$tmp/runs'; kill -9 \$PPID"
check "apply killed from within the restart command" 137 "$BIN" apply --env-file "$KENV" "$tmp/k.sealed"
same "the command ran (a fifth time)" "$(runs)" 5
export SYNC_RESTART_COMMAND="echo run >>'$tmp/runs'"
check "the same payload after the kill" 0 "$BIN" apply --env-file "$KENV" "$tmp/k.sealed"
contains "the restart lost to the kill is run again" "event=restart.done why=retry"
same "the command ran a sixth time" "$(runs)" 6
check "once it succeeded" 0 "$BIN" apply --env-file "$KENV" "$tmp/k.sealed"
same "nothing runs after that" "$(runs)" 6

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
