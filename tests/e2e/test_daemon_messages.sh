#!/usr/bin/env bash
# Failures say what to do: a secondary whose SYNC_PRIMARY_URL points at another secondary, at the
# metrics port or ends in /sync/export logs a 404 naming the fix; https:// against the plain
# sidecar says so; a network error names the URL; a token used against another primary names
# both keys; after failures the first success logs sync.recovered with how long it was down; and
# last_duration_seconds leaves out the time the primary held the long poll. A payload reply
# carries one Cache-Control header.
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"

node p primary demo 3 || finish
start p || finish
node s secondary none 1 "SYNC_PRIMARY_URL=$(url p '')" SYNC_INTERVAL=1s SYNC_LONG_POLL_TIMEOUT=2s || finish
enrol s p || finish
wait_for 30 metric_above s applied_generation 0 || bad "s: first sync" "$(tail -5 "${LOG[s]}")"
hdrs=$(curl -s --max-time 20 -D - -o /dev/null -H "Authorization: Bearer $(bearer s)" "$(url p /sync/export)")
same "a payload reply has one Cache-Control header" "$(grep -ci '^cache-control:' <<<"$hdrs")" 1
stop s

# failed SECONDARY-URL NEEDLE: s started against URL logs a sync.failed line holding NEEDLE.
failed() {
	local name=$1 u=$2 needle=$3
	start s "SYNC_PRIMARY_URL=$u" || return
	if wait_for 30 grep -qF -- "$needle" "${LOG[s]}"; then ok "$name"
	else bad "$name: no '$needle'" "$(grep event=sync.failed "${LOG[s]}" | tail -3)"; fi
	stop s
}
node o secondary none 1 "SYNC_PRIMARY_URL=$(url p '')" || finish
start o || finish
failed "URL of another secondary: 404 says it is a secondary" "$(url o '')" \
	"this pocket-id-sync is a secondary; /sync/export and /sync/admin/ are served by the primary"
failed "URL of the metrics port: 404 says so" "http://127.0.0.1:${MPORT[p]}" \
	"this is pocket-id-sync's metrics listener (SYNC_METRICS_LISTEN)"
failed "URL ending in /sync/export: drop it" "$(url p /sync/export)" "drop /sync/export from it"
failed "https:// against the plain sidecar" "https://127.0.0.1:${PORT[p]}" "does that port speak plain HTTP?"
stop o
failed "a network error names the URL" "$(url o '')" "(GET $(url o '')/sync/export)"

node p2 primary demo 1 || finish
start p2 || finish
p2pub=$("$BIN" pubkey --env-file "$(envf p2)")
failed "the token against another primary: both keys named" "$(url p2 '')" \
	"$(url p2 '') has key $p2pub, the token is for key"

stop p2

# Recovery: the primary goes away, the secondary fails, the primary comes back on its port.
start s || finish
pport=${PORT[p]}
wait_for 30 metric_above s last_success_timestamp_seconds 0 || bad "s: no sync with the primary up"
holds "s: no failure while the primary is up" eval '! grep -q event=sync.failed "${LOG[s]}"'
stop p
wait_for 30 metric_above s 'failures_total{reason="network"}' 0 || bad "s: no failure while the primary is down"
holds "s: no sync.recovered before the primary is back" eval '! grep -q event=sync.recovered "${LOG[s]}"'
start p "SYNC_LISTEN=127.0.0.1:$pport" || finish
if wait_for 30 grep -qE 'event=sync.recovered down_seconds=[0-9]+ failures=[1-9]' "${LOG[s]}"; then
	ok "s: the first success after failures logs sync.recovered with how long it was down"
else bad "s: no sync.recovered" "$(tail -5 "${LOG[s]}")"; fi
same "s: logged once" "$(grep -c event=sync.recovered "${LOG[s]}")" 1

# A held long poll (2 s without a change) is waiting, not work: the duration leaves it out.
stop s
start s SYNC_INTERVAL=1h || finish
wait_for 30 metric_above s last_success_timestamp_seconds 0 || bad "s: no first sync"
t1=$(metric s last_success_timestamp_seconds)
# The next success is a long poll the primary held for 2 s (nothing changed: 304).
if wait_for 30 eval '[ "$(metric s last_success_timestamp_seconds)" != "$t1" ]'; then
	d=$(metric s last_duration_seconds)
	holds "s: last_duration_seconds ($d) leaves out the 2 s the primary held the poll" \
		"$PY" -c "import sys; sys.exit(0 if float('$d') < 1.5 else 1)"
else bad "s: no long-poll round completed"; fi
stop s
finish
