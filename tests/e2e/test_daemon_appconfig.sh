#!/usr/bin/env bash
# End to end, the application configuration through Pocket ID's API with real daemons and a stub
# of Pocket ID's two configuration routes beside each (stub_pocket_id_api.py; the real binary is
# tests/pocketid/'s job): the primary ships what its Pocket ID serves, the secondary writes it into
# its own Pocket ID only when it differs, per-node keys keep the secondary's values, no secret in
# any log, no restart for it, a refused key on the secondary is pending (metric, status, /healthz
# warning) while the data still applies and is retried at the interval poll, the primary's
# Pocket ID down keeps the generation, and UI_CONFIG_DISABLED=true leaves a node alone.
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"

STUB=("$PY" "$SRC/tests/e2e/stub_pocket_id_api.py")
declare -A SPORT=()
(umask 077; head -c 24 /dev/urandom | base64 >"$tmp/api-key")

# stub NAME CONFIG_JSON: Pocket ID's configuration API for NAME on an ephemeral port (SPORT).
stub() {
	local name=$1 d=$tmp/stub-$1
	mkdir -p "$d"
	printf '%s\n' "$2" >"$d/config.json"
	"${STUB[@]}" --port-file "$d/port" --api-key-file "$tmp/api-key" --config "$d/config.json" \
		2>"$d/log" &
	PID[stub-$name]=$!
	wait_for 20 test -s "$d/port" || { bad "stub for $name did not start" "$(cat "$d/log")"; return 1; }
	SPORT[$name]=$(cat "$d/port")
}
stub_url() { echo "http://127.0.0.1:${SPORT[$1]}$2"; }
stub_state() { curl -fsS --max-time 5 "$(stub_url "$1" /_stub/state)"; }
stub_value() { stub_state "$1" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["config"][sys.argv[1]])' "$2"; }
stub_puts() { stub_state "$1" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["puts"])'; }
stub_post() { curl -fsS --max-time 5 -o /dev/null -H 'Content-Type: application/json' -d "$3" "$(stub_url "$1" "$2")"; }
value_is() { [ "$(stub_value "$1" "$2")" = "$3" ]; }
# Pocket ID commits something local (a kv row of its own; a no-op UPDATE commits nothing): the
# primary looks at the configuration again.
poke() { q "$(db p)" "INSERT OR REPLACE INTO kv(key, value) VALUES ('e2e_poke', hex(randomblob(8)))"; }

stub p '{"appName":"Site A","sessionDuration":"120","smtpPassword":"s3cret-smtp","ldapEnabled":"true","emailApiKeyExpirationEnabled":"true","instanceId":"a"}' || finish
stub s '{"appName":"Pocket ID","sessionDuration":"60","smtpPassword":"","ldapEnabled":"false","emailApiKeyExpirationEnabled":"false","instanceId":"b"}' || finish
API=("SYNC_POCKET_ID_API_KEY_FILE=$tmp/api-key")

echo "# a primary and a secondary, each with its Pocket ID's configuration API"
node p primary demo 4 "SYNC_POCKET_ID_URL=$(stub_url p '')" "${API[@]}" || finish
start p || finish
node s secondary none 1 "SYNC_PRIMARY_URL=$(url p '')" "SYNC_POCKET_ID_URL=$(stub_url s '')" "${API[@]}" \
	SYNC_INTERVAL=1s SYNC_LONG_POLL_TIMEOUT=3s "SYNC_RESTART_COMMAND=echo restart >>$tmp/restarts" || finish
if enrol s p; then ok "secondary enrolled"; else finish; fi

echo "# the first sync writes the primary's configuration into the secondary's Pocket ID"
if wait_for 30 value_is s appName "Site A"; then ok "appName arrived"; else bad "appName arrived" "$(stub_state s)"; fi
same "a private setting arrived (sessionDuration)" "$(stub_value s sessionDuration)" 120
same "a secret arrived (smtpPassword)" "$(stub_value s smtpPassword)" s3cret-smtp
same "per node: the secondary's LDAP switch is kept" "$(stub_value s ldapEnabled)" false
same "per node: API-key expiry e-mails stay off on the secondary" "$(stub_value s emailApiKeyExpirationEnabled)" false
same "per node: the instance id is kept" "$(stub_value s instanceId)" b
same "one PUT" "$(stub_puts s)" 1
wait_for 10 metric_is s 'app_config_updates_total{result="done"}' 1
same "updates_total{done} = 1" "$(metric s 'app_config_updates_total{result="done"}')" 1
same "nothing pending" "$(metric s app_config_pending)" 0
holds "the sidecar logged app_config.written" grep -q 'event=app_config.written' "${LOG[s]}"
restarts=$(wc -l <"$tmp/restarts")
same "one restart, for the JWT key only" "$restarts" 1
holds "status names the API path" sh -c "'$BIN' status --env-file '$(envf s)' | grep -q 'app config: *through $(stub_url s '')'"

echo "# a change on the primary's Pocket ID moves the generation and arrives, without a restart"
gen=$(metric p generation)
stub_post p /_stub/set '{"appName":"Site A2"}'
poke
if wait_for 30 value_is s appName "Site A2"; then ok "the change arrived"; else bad "the change arrived" "$(stub_state s)"; fi
holds "the primary's generation moved" test "$(metric p generation)" -gt "$gen"
same "still one restart" "$(wc -l <"$tmp/restarts")" "$restarts"
puts=$(stub_puts s)

echo "# a data-only change writes no configuration"
q "$(db p)" "UPDATE users SET last_name = 'Changed' WHERE username = 'alice'"
if wait_for 30 eval '[ "$(q "$(db s)" "SELECT last_name FROM users WHERE username = '"'alice'"'")" = Changed ]'
then ok "the data change arrived"; else bad "the data change arrived"; fi
same "no PUT for it" "$(stub_puts s)" "$puts"

echo "# the secondary's Pocket ID refuses the key: the data still applies, the write is retried"
stub_post s /_stub/refuse '{"refuse":true}'
stub_post p /_stub/set '{"appName":"Site A3"}'
q "$(db p)" "UPDATE users SET last_name = 'Again' WHERE username = 'alice'"
if wait_for 30 metric_is s app_config_pending 1; then ok "pending = 1"; else bad "pending = 1" "$(scrape s | grep app_config)"; fi
holds "updates_total{failed} counted" metric_above s 'app_config_updates_total{result="failed"}' 0
same "the data change applied anyway" "$(q "$(db s)" "SELECT last_name FROM users WHERE username = 'alice'")" Again
same "/healthz stays 200" "$(health s)" 200
holds "... with a warning naming the refused key" grep -q 'warning: application configuration not written yet:.*API key was refused' "$tmp/body"
holds "status says it is retrying" sh -c "'$BIN' status --env-file '$(envf s)' | grep -q 'app config:.*retrying'"
out=$("$BIN" check-config --env-file "$(envf s)" 2>&1); rc=$?
same "check-config still passes (status 0)" "$rc" 0
holds "... with a warning that names the refused key" grep -q 'warning: SYNC_POCKET_ID_API_KEY: .*API key was refused' <<<"$out"
stub_post s /_stub/refuse '{"refuse":false}'
if wait_for 30 value_is s appName "Site A3"; then ok "retried at the interval poll once the key works"
else bad "retried at the interval poll once the key works" "$(stub_state s)"; fi
wait_for 10 metric_is s app_config_pending 0
same "pending = 0 again" "$(metric s app_config_pending)" 0
holds "the sidecar logged app_config.recovered" grep -q 'event=app_config.recovered' "${LOG[s]}"
same "/healthz without a warning again" "$(health s) $(lastbody)" "200 ok"

echo "# the primary's Pocket ID is down: the last configuration read stays, so does the generation"
gen=$(metric p generation)
kill -STOP "${PID[stub-p]}"
poke
if wait_for 30 metric_is p app_config_pending 1; then ok "primary: pending = 1"; else bad "primary: pending = 1"; fi
same "primary: generation unchanged" "$(metric p generation)" "$gen"
same "primary: /healthz 200" "$(health p)" 200
holds "... with a warning" grep -q 'warning: cannot read the application configuration' "$tmp/body"
kill -CONT "${PID[stub-p]}"
poke
if wait_for 30 metric_is p app_config_pending 0; then ok "primary: recovered"; else bad "primary: recovered"; fi
same "primary: generation still unchanged (same configuration)" "$(metric p generation)" "$gen"

echo "# UI_CONFIG_DISABLED=true on the secondary: its environment rules, the sidecar writes nothing"
# ... and a write that was pending when the switch came is dropped, not retried forever
stub_post s /_stub/refuse '{"refuse":true}'
stub_post p /_stub/set '{"appName":"Site A3b"}'
poke
if wait_for 30 metric_is s app_config_pending 1; then ok "a write is pending"; else bad "a write is pending"; fi
stop s
stub_post s /_stub/refuse '{"refuse":false}'
echo "UI_CONFIG_DISABLED=true" >>"$(envf s)"
start s || finish
pending_row() { q "$tmp/s/state/state.db" "SELECT value FROM status WHERE key = 'app_config_pending'"; }
if wait_for 30 eval '[ "$(pending_row)" = 0 ]'; then ok "the pending write is dropped once the node's environment rules"
else bad "the pending write is dropped once the node's environment rules" "pending=$(pending_row)"; fi
puts=$(stub_puts s)
gen=$(metric p generation)
stub_post p /_stub/set '{"appName":"Site A4"}'
poke
wait_for 30 eval '[ "$(metric p generation)" -gt "$gen" ]'
gen=$(metric p generation)
wait_for 30 metric_is s applied_generation "$gen"
same "the new generation applied" "$(metric s applied_generation)" "$gen"
same "no PUT" "$(stub_puts s)" "$puts"
same "appName left alone" "$(stub_value s appName)" "Site A3"
holds "status says the environment rules" sh -c "'$BIN' status --env-file '$(envf s)' | grep -q 'UI_CONFIG_DISABLED=true'"

echo "# secrets"
for n in p s; do
	if grep -q 's3cret-smtp' "$tmp/$n"/log.*; then bad "$n: the SMTP password reached the log"
	else ok "$n: no configuration secret in the log"; fi
	if grep -qF "$(cat "$tmp/api-key")" "$tmp/$n"/log.*; then bad "$n: the API key reached the log"
	else ok "$n: no API key in the log"; fi
done
finish
