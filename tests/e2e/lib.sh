# shellcheck shell=bash
# lib.sh: what the end-to-end daemon tests (tests/e2e/test_*.sh) share: a clean environment,
# ok/bad counters, fixture nodes (a Pocket ID database, its key, the sidecar's env file),
# starting and stopping `pocket-id-sync run` on ephemeral loopback ports (the EXIT trap stops
# whatever is still running), the bootstrap a user follows, HTTP/metrics probes and deadline
# polling. It asserts nothing on its own beyond the bootstrap steps; the scripts do.
set -u
BIN=${PIS_BIN:?PIS_BIN must point at the pocket-id-sync binary}
SRC=${PIS_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
PY=/usr/bin/python3
# shellcheck source=../lib/script.sh
. "$SRC/tests/lib/script.sh"
pis_need_python_crypto
FIX=("$PY" "$SRC/tests/tools/pocketid_fixture.py")
pis_clean_env

pass=0 fail=0
tmp=$(mktemp -d)
declare -A PID=() HOST=() PORT=() MPORT=() LOG=() STARTS=()
STOP_RC='' STOP_MS=''

e2e_cleanup() {
	local n p
	for n in "${!PID[@]}"; do
		p=${PID[$n]}
		kill -TERM "$p" 2>/dev/null
	done
	for n in "${!PID[@]}"; do
		p=${PID[$n]}
		for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	rm -rf "$tmp"
}
trap e2e_cleanup EXIT

ok() { pass=$((pass+1)); echo "ok   $1"; }
bad() { # bad NAME [DETAIL]
	fail=$((fail+1)); echo "FAIL $1"
	if [ -n "${2:-}" ]; then sed 's/^/     /' <<<"$2" | tail -40; fi
}
same() { # same NAME GOT WANT
	if [ "$2" = "$3" ]; then ok "$1"; else bad "$1" "got:  $2"$'\n'"want: $3"; fi
}
holds() { # holds NAME COMMAND...
	local name=$1; shift
	if "$@"; then ok "$name"; else bad "$name"; fi
}
finish() { # the summary line and the exit status; the logs of every start on failure
	local f
	if [ "$fail" != 0 ]; then
		for f in "$tmp"/*/log.*; do
			[ -f "$f" ] || continue
			echo "--- $f (last 30 lines)"
			tail -30 "$f"
		done
	fi
	echo "$pass passed, $fail failed"
	[ "$fail" = 0 ]
	exit
}

q() { sqlite3 -batch -cmd '.timeout 5000' "$@"; }

now_ms() { local t=${EPOCHREALTIME/./}; echo $((t / 1000)); }

# wait_for SECONDS COMMAND...: runs COMMAND every 0.1 s until it succeeds (0) or the deadline
# passes (1). Never an assertion by itself: callers report the outcome.
wait_for() {
	local deadline=$(( $(now_ms) + $1 * 1000 )); shift
	while :; do
		"$@" && return 0
		[ "$(now_ms)" -ge "$deadline" ] && return 1
		sleep 0.1
	done
}

# --- nodes -------------------------------------------------------------------------------------

# node NAME ROLE SEED USERS [VAR=VALUE...]: $tmp/NAME with a v2.14 Pocket ID database (WAL, own
# instance id, JWT key under its own ENCRYPTION_KEY_FILE), local runtime rows, and sync.env with
# ephemeral loopback listeners plus the extra variables.
node() {
	local name=$1 role=$2 seed=$3 users=$4 d=$tmp/$1 out; shift 4
	mkdir -p "$d"
	head -c 18 /dev/urandom | base64 >"$d/encryption.key"
	chmod 600 "$d/encryption.key"
	if ! out=$("${FIX[@]}" create --db "$d/pocket-id.db" --version v2.14 \
		--instance-id "$(cat /proc/sys/kernel/random/uuid)" \
		--encryption-key-file "$d/encryption.key" --generate-jwk --seed "$seed" \
		--users "$users" 2>&1) || ! out=$("${FIX[@]}" local --db "$d/pocket-id.db" --node "$name" 2>&1)
	then
		bad "fixture database for $name" "$out"
		return 1
	fi
	{
		echo "# Pocket ID's own settings on this node"
		echo "DB_CONNECTION_STRING=\"file:$d/pocket-id.db?_pragma=journal_mode(WAL)&_pragma=busy_timeout(2500)\""
		echo "ENCRYPTION_KEY_FILE=$d/encryption.key"
		echo "# the sidecar"
		echo "SYNC_ROLE=$role"
		echo "SYNC_STATE_DIR=$d/state"
		echo "SYNC_LISTEN=127.0.0.1:0"
		echo "SYNC_METRICS_LISTEN=127.0.0.1:0"
		for v in "$@"; do echo "$v"; done
	} >"$d/sync.env"
}
db() { echo "$tmp/$1/pocket-id.db"; }
envf() { echo "$tmp/$1/sync.env"; }
url() { echo "http://${HOST[$1]:-127.0.0.1}:${PORT[$1]}$2"; }

# start NAME [VAR=VALUE...]: runs the daemon with NAME's env file (the variables given here win,
# as the environment does) and waits for its daemon.started line; sets PORT, MPORT, LOG.
# Returns 1 (and reports) when it does not start.
start() {
	local name=$1 d=$tmp/$1 n pid line; shift
	n=$(( ${STARTS[$name]:-0} + 1 )); STARTS[$name]=$n
	LOG[$name]=$d/log.$n
	: >"${LOG[$name]}"
	env "$@" "$BIN" run --env-file "$d/sync.env" 2>"${LOG[$name]}" &
	pid=$!
	PID[$name]=$pid
	started() {
		line=$(grep -m1 'event=daemon.started' "${LOG[$name]}")
		[ -n "$line" ] || ! kill -0 "$pid" 2>/dev/null
	}
	wait_for 30 started
	if [ -z "$line" ]; then
		bad "$name: daemon did not start" "$(cat "${LOG[$name]}")"
		return 1
	fi
	HOST[$name]=$(sed -n 's/.* listen=\([^ ]*\):[0-9]* .*/\1/p' <<<"$line")
	PORT[$name]=$(sed -n 's/.* listen=[^ ]*:\([0-9]*\) .*/\1/p' <<<"$line")
	MPORT[$name]=$(sed -n 's/.* metrics=127.0.0.1:\([0-9]*\).*/\1/p' <<<"$line")
}

# stop NAME [SIGNAL]: sends SIGNAL (TERM; 0 = none, it was sent already) and waits up to 60 s;
# the exit status lands in STOP_RC (KILL after the deadline gives 137 and a failure), the time
# it took in STOP_MS.
stop() {
	local name=$1 sig=${2:-TERM} pid=${PID[$1]:-} t0
	STOP_RC='' STOP_MS=''
	[ -n "$pid" ] || return 0
	t0=$(now_ms)
	kill -"$sig" "$pid" 2>/dev/null
	if ! wait_for 60 eval "! kill -0 $pid 2>/dev/null"; then
		bad "$name: still running 60 s after SIG$sig"
		kill -KILL "$pid" 2>/dev/null
	fi
	wait "$pid"; STOP_RC=$?
	STOP_MS=$(( $(now_ms) - t0 ))
	unset "PID[$name]"
}
running() { [ -n "${PID[$1]:-}" ] && kill -0 "${PID[$1]}" 2>/dev/null; }

# --- HTTP and metrics --------------------------------------------------------------------------

# code URL [CURL ARGS...]: prints the HTTP status (000 when nothing answered); `lastbody`
# prints the body of that reply (kept in a file so that code works inside $(...)).
code() {
	local u=$1; shift
	: >"$tmp/body"
	curl -s --max-time 20 -o "$tmp/body" -w '%{http_code}' "$@" "$u" 2>/dev/null
}
lastbody() { cat "$tmp/body"; }
scrape() { curl -fsS --max-time 10 "http://127.0.0.1:${MPORT[$1]}/metrics"; }
# metric NAME SERIES: the value of one exposition line, e.g. metric s1 'failures_total{reason="auth"}'.
metric() {
	scrape "$1" | awk -v s="pocket_id_sync_$2" '$1 == s { print $2; found = 1 } END { if (!found) print "absent" }'
}
metric_is() { [ "$(metric "$1" "$2")" = "$3" ]; }
metric_above() { local v; v=$(metric "$1" "$2"); [ "$v" != absent ] && [ "${v%.*}" -gt "$3" ]; }
health() { code "$(url "$1" /healthz)"; }
json_field() { "$PY" -c 'import json,sys; print(json.loads(sys.stdin.read())[sys.argv[1]])' "$1"; }
users() { q "$(db "$1")" 'SELECT count(*) FROM users'; }
# The durable content the sync ships, for comparing nodes.
content() {
	q "$(db "$1")" "SELECT id, username, email, display_name FROM users ORDER BY id;
		SELECT id, user_id, name FROM webauthn_credentials ORDER BY id;
		SELECT user_id, user_group_id FROM user_groups_users ORDER BY 1, 2"
}
same_content() { [ "$(content "$1")" = "$(content "$2")" ]; }

# --- the bootstrap a user follows --------------------------------------------------------------

# enrol SECONDARY PRIMARY: start the secondary unenrolled, curl its /sync/pubkey, register it on
# the primary's admin API from loopback, write the returned token to a 0600 file that
# SYNC_PRIMARY_TOKEN_FILE names, and restart the secondary. The secondary's env file must already
# name the primary in SYNC_PRIMARY_URL. Returns 1 when a step failed.
enrol() {
	local s=$1 p=$2 d=$tmp/$1 pub printed c token
	start "$s" || return 1
	c=$(code "$(url "$s" /sync/pubkey)"); pub=$(lastbody)
	printed=$("$BIN" pubkey --env-file "$(envf "$s")" 2>&1)
	[ "$c" = 200 ] && [ "$pub" = "$printed" ] || { bad "$s: /sync/pubkey ($c) serves the node key" "$pub vs $printed"; return 1; }
	c=$(code "$(url "$p" /sync/admin/peers)" -X POST -H 'Content-Type: application/json' \
		--data "{\"name\":\"$s\",\"pubkey\":\"$pub\"}")
	[ "$c" = 201 ] || { bad "$s: POST /sync/admin/peers on $p: $c" "$(lastbody)"; return 1; }
	token=$(lastbody | json_field token)
	[[ "$token" == pisync1.* ]] || { bad "$s: the admin API returned a pisync1 token" "$(lastbody)"; return 1; }
	(umask 077; printf '%s\n' "$token" >"$d/primary.token")
	echo "SYNC_PRIMARY_TOKEN_FILE=$d/primary.token" >>"$d/sync.env"
	stop "$s"
	[ "$STOP_RC" = 0 ] || { bad "$s: unenrolled daemon exit status $STOP_RC"; return 1; }
	start "$s"
}
# The bearer a secondary presents (the last part of its token), for requests made by hand.
bearer() { sed 's/.*\.//' "$tmp/$1/primary.token"; }
