#!/usr/bin/env bash
# End to end, what goes wrong with real daemons: a revoked secondary (401, the auth failure
# counter rises, its data stays, and a long poll it held gets no later payload), a wrong token,
# a payload over SYNC_MAX_PAYLOAD_SIZE, Pocket ID holding the secondary's write lock (busy, then
# applied), the primary stopped (secondary /healthz turns 503 via SYNC_HEALTH_STALE_INTERVALS) and
# restarted (recovery), and SIGTERM while a big initial payload is being applied (the database
# stays consistent: all old or all new). The happy path lives in test_daemon_sync.sh.
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"

node p primary demo 8 || finish
start p || finish
P_URL=$(url p '')

echo "# revoke: 401, the failure counter rises, the data stays"
# The long poll may be held for 30 s: a revocation must not wait for it, nor let it deliver.
node rv secondary none 1 "SYNC_PRIMARY_URL=$P_URL" SYNC_INTERVAL=1h SYNC_LONG_POLL_TIMEOUT=30s || finish
enrol rv p || finish
if wait_for 60 same_content rv p; then ok "rv: initial sync"; else bad "rv: initial sync"; fi
gen=$(metric p generation)
wait_for 10 metric_is rv applied_generation "$gen"
rv_bearer=$(bearer rv)
same "rv's token works before the revocation" \
	"$(code "$(url p /sync/export?wait=0)" -H "Authorization: Bearer $rv_bearer" -H "If-None-Match: \"$gen\"")" 304
auth0=$(metric rv 'failures_total{reason="auth"}')
same "rv: no auth failure yet" "$auth0" 0
same "DELETE /sync/admin/peers/rv: 204" "$(code "$(url p /sync/admin/peers/rv)" -X DELETE)" 204
same "GET /sync/admin/peers: 200" "$(code "$(url p /sync/admin/peers)")" 200
same "... rv is no longer listed" "$(lastbody | "$PY" -c 'import json,sys; print([p["name"] for p in json.load(sys.stdin)])')" "[]"
same "rv's token now gets 401" "$(code "$(url p /sync/export?wait=0)" -H "Authorization: Bearer $rv_bearer")" 401
same "DELETE rv again: 404" "$(code "$(url p /sync/admin/peers/rv)" -X DELETE)" 404
rv_users=$(content rv)
"${FIX[@]}" rename-user --db "$(db p)" --username carol --to caroline >/dev/null
if wait_for 60 metric_above rv 'failures_total{reason="auth"}' 0; then
	ok "rv: failures_total{reason=\"auth\"} rose ($(metric rv 'failures_total{reason="auth"}'))"
else bad "rv: the auth failure counter did not rise" "$(tail -5 "${LOG[rv]}")"; fi
holds "rv: logged sync.failed reason=auth" grep -q 'event=sync.failed reason=auth' "${LOG[rv]}"
same "rv: the change made after the revocation did not arrive" \
	"$(q "$(db rv)" "SELECT count(*) FROM users WHERE username = 'caroline'")" 0
same "rv: data stays as it was" "$(content rv)" "$rv_users"
same "rv: applied_generation stays $gen" "$(metric rv applied_generation)" "$gen"
holds "rv: status --tsv shows the auth error" \
	grep -q $'^last_error\tauth: ' <<<"$("$BIN" status --tsv --env-file "$(envf rv)" 2>&1)"
stop rv
same "rv: SIGTERM exits 0 while refused" "$STOP_RC" 0
same "re-enrol rv: POST again, 201" "$(code "$(url p /sync/admin/peers)" -X POST \
	--data "{\"name\":\"rv\",\"pubkey\":\"$("$BIN" pubkey --env-file "$(envf rv)")\"}")" 201
lastbody | json_field token >"$tmp/rv/primary.token"
start rv || finish
if wait_for 60 same_content rv p; then ok "rv: with the new token it catches up (caroline arrives)"
else bad "rv: no sync after re-enrolment" "$(tail -5 "${LOG[rv]}")"; fi
same "rv: the old bearer stays refused" "$(code "$(url p /sync/export?wait=0)" -H "Authorization: Bearer $rv_bearer")" 401
stop rv

echo "# a wrong token"
ppub=$("$BIN" pubkey --env-file "$(envf p)")
node wt secondary none 1 "SYNC_PRIMARY_URL=$P_URL" SYNC_INTERVAL=1s SYNC_LONG_POLL_TIMEOUT=1s \
	"SYNC_PRIMARY_TOKEN=pisync1.$ppub.$(head -c 32 /dev/urandom | base64)" || finish
"$BIN" pubkey --env-file "$(envf wt)" >/dev/null || finish # a token without a key is refused at start
start wt || finish
if wait_for 30 metric_above wt 'failures_total{reason="auth"}' 0; then ok "wrong token: auth failures counted"
else bad "wrong token: no auth failure counted" "$(tail -5 "${LOG[wt]}")"; fi
same "wrong token: /healthz 503" "$(health wt)" 503
holds "... no successful sync yet" grep -q "no successful sync" "$tmp/body"
same "wrong token: nothing synced" "$(users wt)" 0
same "wrong token: primary_reachable is 1 (it answered)" "$(metric wt primary_reachable)" 1
stop wt
same "wrong token: exits 0" "$STOP_RC" 0

echo "# a payload larger than the secondary's SYNC_MAX_PAYLOAD_SIZE"
node sm secondary none 1 "SYNC_PRIMARY_URL=$P_URL" SYNC_INTERVAL=1s SYNC_LONG_POLL_TIMEOUT=1s \
	SYNC_MAX_PAYLOAD_SIZE=4KiB || finish
enrol sm p || finish
if wait_for 30 metric_above sm 'failures_total{reason="invalid"}' 0; then ok "too large: counted as invalid"
else bad "too large: not counted as invalid" "$(scrape sm | grep failures_total)"; fi
holds "too large: the log names SYNC_MAX_PAYLOAD_SIZE" grep -q 'event=sync.failed reason=invalid .*SYNC_MAX_PAYLOAD_SIZE' "${LOG[sm]}"
same "too large: no network failure counted (the primary answered)" "$(metric sm 'failures_total{reason="network"}')" 0
same "too large: primary_reachable 1" "$(metric sm primary_reachable)" 1
same "too large: nothing applied" "$(users sm)" 0
stop sm
same "too large: exits 0" "$STOP_RC" 0

echo "# a payload larger than the primary's SYNC_MAX_PAYLOAD_SIZE: the primary refuses and says why"
node tp primary demo 8 SYNC_MAX_PAYLOAD_SIZE=4KiB || finish
start tp || finish
node tl secondary none 1 "SYNC_PRIMARY_URL=$(url tp '')" SYNC_INTERVAL=1s SYNC_LONG_POLL_TIMEOUT=1s || finish
enrol tl tp || finish
if wait_for 30 metric_above tl 'failures_total{reason="payload_too_large"}' 0; then
	ok "primary's limit: the secondary counts payload_too_large"
else bad "primary's limit: no payload_too_large on the secondary" "$(scrape tl | grep failures_total; tail -5 "${LOG[tl]}")"; fi
same "primary's limit: not reported as a network failure" "$(metric tl 'failures_total{reason="network"}')" 0
holds "primary's limit: the secondary logs the primary's message" \
	grep -q 'event=sync.failed reason=payload_too_large error="the primary refused (HTTP 500): the payload would be [0-9]* bytes, more than SYNC_MAX_PAYLOAD_SIZE' "${LOG[tl]}"
holds "primary's limit: status --tsv names the reason" \
	grep -q $'^last_error\tpayload_too_large: the primary refused' <<<"$("$BIN" status --tsv --env-file "$(envf tl)" 2>&1)"
holds "primary's limit: the primary counts it too" metric_above tp 'failures_total{reason="payload_too_large"}' 0
holds "primary's limit: the primary logs the reason" grep -q 'event=export.failed peer=tl reason=payload_too_large' "${LOG[tp]}"
same "primary's limit: nothing applied" "$(users tl)" 0
same "a secondary's /sync/export names itself: 404" "$(code "$(url tl /sync/export)" -D "$tmp/tl.headers")" 404
holds "... with X-Pocket-Id-Sync-Refusal: not_primary" grep -qi '^X-Pocket-Id-Sync-Refusal: not_primary' "$tmp/tl.headers"
stop tl
stop tp

echo "# Pocket ID holds the secondary's write lock while a change arrives"
node bz secondary none 1 "SYNC_PRIMARY_URL=$P_URL" SYNC_INTERVAL=1s SYNC_LONG_POLL_TIMEOUT=1s \
	SYNC_BUSY_TIMEOUT=50ms || finish
enrol bz p || finish
if wait_for 60 same_content bz p; then ok "bz: initial sync"; else bad "bz: initial sync"; fi
mkfifo "$tmp/bz.fifo"
q "$(db bz)" <"$tmp/bz.fifo" >/dev/null 2>&1 &
locker=$!
exec {lk}>"$tmp/bz.fifo"
echo "BEGIN IMMEDIATE; INSERT INTO audit_logs(id, created_at, event, ip_address, user_agent, data, user_id, country, city)
	VALUES ('$(cat /proc/sys/kernel/random/uuid)', strftime('%s'), 'SIGN_IN', '192.0.2.9', 'held by e2e', X'7B7D', NULL, '', '');" >&$lk
locked() { ! sqlite3 -batch "$(db bz)" 'BEGIN IMMEDIATE; ROLLBACK' >/dev/null 2>&1; }
if wait_for 10 locked; then ok "bz: the write lock is held"; else bad "bz: could not take the write lock"; fi
"${FIX[@]}" rename-user --db "$(db p)" --username heidi --to henriette >/dev/null
if wait_for 30 metric_above bz 'failures_total{reason="busy"}' 0; then ok "bz: busy failures counted"
else bad "bz: no busy failure" "$(tail -5 "${LOG[bz]}")"; fi
same "bz: nothing applied while locked" "$(q "$(db bz)" "SELECT count(*) FROM users WHERE username = 'heidi'")" 1
echo "COMMIT;" >&$lk
exec {lk}>&-
wait $locker
if wait_for 30 same_content bz p; then ok "bz: applied once the lock was released"; else bad "bz: no apply after the lock"; fi
same "bz: Pocket ID's own write survived" "$(q "$(db bz)" "SELECT count(*) FROM audit_logs WHERE user_agent = 'held by e2e'")" 1
same "bz: integrity_check" "$(q "$(db bz)" 'PRAGMA integrity_check')" ok
stop bz
same "bz: exits 0" "$STOP_RC" 0

echo "# the primary stops and comes back"
node st secondary none 1 "SYNC_PRIMARY_URL=$P_URL" SYNC_INTERVAL=1s SYNC_HEALTH_STALE_INTERVALS=1 \
	SYNC_LONG_POLL_TIMEOUT=5s || finish
enrol st p || finish
if wait_for 60 same_content st p; then ok "st: initial sync"; else bad "st: initial sync"; fi
wait_for 10 eval '[ "$(health st)" = 200 ]'
same "st: /healthz 200" "$(health st)" 200
# Held long polls (5 s) are longer than SYNC_INTERVAL x SYNC_HEALTH_STALE_INTERVALS (1 s): a
# healthy secondary must not flap to 503 while its poll waits for a change.
flapped=
watch_health() { [ "$(health st)" = 200 ] || flapped=$(lastbody); [ -n "$flapped" ]; }
wait_for 8 watch_health
same "st: /healthz stays 200 across held long polls (8 s)" "$flapped" ""
net0=$(metric st 'failures_total{reason="network"}')
pport=${PORT[p]}
stop p
same "primary: SIGTERM with a held long poll exits 0" "$STOP_RC" 0
"${FIX[@]}" rename-user --db "$(db p)" --username dave --to david >/dev/null
if wait_for 30 eval '[ "$(health st)" = 503 ]'; then ok "st: /healthz 503 once the primary is gone long enough"
else bad "st: /healthz stayed $(health st)"; fi
holds "... naming the last error" grep -q "last successful sync .* ago; last error: network" "$tmp/body"
if wait_for 10 metric_is st primary_reachable 0; then ok "st: primary_reachable 0"; else bad "st: primary_reachable $(metric st primary_reachable)"; fi
holds "st: network failures counted" metric_above st 'failures_total{reason="network"}' "$net0"
same "st: data stays while the primary is down" "$(q "$(db st)" "SELECT count(*) FROM users WHERE username = 'dave'")" 1
start p "SYNC_LISTEN=127.0.0.1:$pport" || finish
same "primary restarted on the same port" "${PORT[p]}" "$pport"
if wait_for 30 eval "[ \"\$(q \"\$(db st)\" \"SELECT count(*) FROM users WHERE username = 'david'\")\" = 1 ]"; then
	ok "st: the change made while the primary was down arrived"
else bad "st: no recovery" "$(tail -5 "${LOG[st]}")"; fi
if wait_for 10 eval '[ "$(health st)" = 200 ]'; then ok "st: /healthz 200 again"; else bad "st: /healthz $(health st)"; fi
same "st: primary_reachable 1" "$(metric st primary_reachable)" 1
holds "st: content equals the primary's" same_content st p
stop st
same "st: exits 0" "$STOP_RC" 0
stop p

echo "# SIGTERM while a big initial payload is applied"
N=3000
node bp primary demo $N || finish
start bp || finish
node ba secondary none 1 "SYNC_PRIMARY_URL=$(url bp '')" SYNC_INTERVAL=1h SYNC_LOG_LEVEL=debug || finish
ba_before=$(content ba)
enrol ba bp || finish
# tail -f reacts within milliseconds (a 0.1 s poll could miss a fast apply); bounded by timeout.
grep -m1 -q 'event=apply.started' <(exec timeout 120 tail -n +1 -f "${LOG[ba]}"); started=$?
kill -TERM "${PID[ba]}"
kill $! 2>/dev/null
if [ $started = 0 ]; then ok "ba: the apply of $N users started"
else bad "ba: no apply.started" "$(tail -5 "${LOG[ba]}")"; fi
stop ba 0 # SIGTERM went out above, at once; a second one could land after shutdown
same "ba: SIGTERM during the apply exits 0" "$STOP_RC" 0
holds "ba: the signal came before the apply finished (else this proves less)" \
	awk '/event=daemon.stopping/ { s = 1 } /event=sync.applied/ { exit !s } END { exit !s }' "${LOG[ba]}"
holds "ba: daemon.stopped is the last line" eval "tail -1 \"${LOG[ba]}\" | grep -q event=daemon.stopped"
same "ba: PRAGMA integrity_check" "$(q "$(db ba)" 'PRAGMA integrity_check')" ok
same "ba: PRAGMA foreign_key_check" "$(q "$(db ba)" 'PRAGMA foreign_key_check')" ""
n=$(users ba)
if [ "$n" = 0 ]; then
	same "ba: all old content (apply rolled back)" "$(content ba)" "$ba_before"
elif [ "$n" = "$N" ]; then
	holds "ba: all new content (apply committed)" same_content ba bp
else bad "ba: $n users: neither 0 nor $N"; fi
start ba || finish
if wait_for 120 same_content ba bp; then ok "ba: restarted, it completes the sync"; else bad "ba: no sync after restart"; fi
finish
