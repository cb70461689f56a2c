#!/usr/bin/env bash
# End to end, the happy path with real daemons: a primary and two secondaries bootstrapped the
# way a user does it (unenrolled secondary -> /sync/pubkey -> admin API -> token file -> restart),
# the initial sync, a change pushed through the long poll to both secondaries at once, an
# audit-log write on the primary that must not make a new generation, /healthz on both roles and
# `pocket-id-sync status` (human and --tsv). Failure paths live in test_daemon_failures.sh.
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"

# The interval is an hour: anything that arrives within the test came through the long poll.
SEC_VARS=(SYNC_INTERVAL=1h SYNC_LONG_POLL_TIMEOUT=30s)

echo "# a primary and two secondaries"
node p primary demo 8 || finish
start p || finish
same "primary /healthz is 200" "$(health p)" 200
same "... and says ok" "$(lastbody)" ok
gen0=$(metric p generation)
holds "primary has a generation ($gen0)" test "$gen0" != absent -a "$gen0" != 0
for s in s1 s2; do
	node $s secondary none 1 "SYNC_PRIMARY_URL=$(url p '')" "${SEC_VARS[@]}" || finish
	same "$s starts empty" "$(users $s)" 0
done

echo "# bootstrap, step by step"
start s1 || finish
same "unenrolled s1: /healthz 503" "$(health s1)" 503
holds "... saying it is not enrolled" grep -q "not enrolled" "$tmp/body"
same "unenrolled s1: no /sync/export (not a primary)" "$(code "$(url s1 /sync/export)")" 404
stop s1
same "unenrolled s1 stops with 0" "$STOP_RC" 0
same "unenrolled s1 synced nothing" "$(users s1)" 0
for s in s1 s2; do
	if enrol $s p; then ok "$s enrolled and restarted"; else finish; fi
	same "$s: token file is mode 0600" "$(stat -c %a "$tmp/$s/primary.token")" 600
done

echo "# initial sync"
for s in s1 s2; do
	if wait_for 60 same_content $s p; then ok "$s: initial sync brought the primary's content"
	else bad "$s: initial sync" "$(content $s | head -5)"; fi
	holds "$s: users on the secondary (8)" test "$(users $s)" = 8
	wait_for 10 metric_is $s applied_generation "$gen0"
	same "$s: applied_generation metric" "$(metric $s applied_generation)" "$gen0"
	wait_for 10 eval "[ \"\$(health $s)\" = 200 ]"
	same "$s: /healthz 200 after the first sync" "$(health $s)" 200
done
alice_s1=$(q "$(db s1)" "SELECT id FROM users WHERE username = 'alice'")
same "user ids are the primary's" "$alice_s1" "$(q "$(db p)" "SELECT id FROM users WHERE username = 'alice'")"
same "s1's own audit rows stayed" "$(q "$(db s1)" "SELECT count(*) FROM audit_logs WHERE user_agent = 'fixture on s1'")" 1

echo "# an audit-log write on the primary is local: no new generation, no payload"
q "$(db p)" "INSERT INTO audit_logs(id, created_at, event, ip_address, user_agent, data, user_id, country, city)
	VALUES ('$(cat /proc/sys/kernel/random/uuid)', strftime('%s'), 'SIGN_IN', '192.0.2.9', 'e2e', X'7B7D',
	'$alice_s1', '', '')"
# A conditional request makes the primary look at once (its data_version moved).
c=$(code "$(url p "/sync/export?wait=0")" -H "Authorization: Bearer $(bearer s1)" -H "If-None-Match: \"$gen0\"")
same "after the audit write: 304 for the current generation" "$c" 304
same "primary generation unchanged" "$(metric p generation)" "$gen0"
sent_before=$(grep -c 'event=export.sent' "${LOG[p]}")

echo "# a change on the primary reaches both secondaries through the long poll"
t0=$(now_ms)
"${FIX[@]}" rename-user --db "$(db p)" --username bob --to robert >/dev/null
for s in s1 s2; do
	if wait_for 20 eval "[ \"\$(q \"\$(db $s)\" \"SELECT count(*) FROM users WHERE username = 'robert'\")\" = 1 ]"; then
		ok "$s: rename arrived ($(( $(now_ms) - t0 )) ms; the interval is 1h)"
	else bad "$s: rename did not arrive" "$(tail -5 "${LOG[$s]}")"; fi
done
gen1=$((gen0 + 1))
same "the audit write did not use up a generation: the change is $gen1" "$(metric p generation)" "$gen1"
for s in s1 s2; do
	wait_for 10 metric_is $s applied_generation $gen1
	same "$s: applied_generation $gen1" "$(metric $s applied_generation)" $gen1
	holds "$s: content equals the primary's" same_content $s p
	same "$s: one sync.applied for generation $gen1" "$(grep -c "event=sync.applied generation=$gen1 " "${LOG[$s]}")" 1
done
same "exactly two payloads sent since the audit write (one per secondary)" \
	"$(( $(grep -c 'event=export.sent' "${LOG[p]}") - sent_before ))" 2
same "primary's audit row did not travel" "$(q "$(db s1)" "SELECT count(*) FROM audit_logs WHERE user_agent = 'e2e'")" 0

echo "# status, while the daemons run"
out=$("$BIN" status --env-file "$(envf p)" 2>&1)
holds "status (primary): role" grep -qE '^role: +primary$' <<<"$out"
holds "status (primary): generation $gen1" grep -qE "^generation: +$gen1$" <<<"$out"
holds "status (primary): two peers" grep -qE '^peers: +2$' <<<"$out"
out=$("$BIN" status --tsv --env-file "$(envf p)" 2>&1)
holds "status --tsv (primary): role" grep -qx $'role\tprimary' <<<"$out"
holds "status --tsv (primary): generation" grep -qx $'generation\t'"$gen1" <<<"$out"
for s in s1 s2; do
	holds "status --tsv (primary): peer $s was sent $gen1" grep -qE $'^peer\t'"$s"$'\t[0-9a-f]+\t[0-9]{4}-[^\t]+\t'"$gen1"'$' <<<"$out"
done
out=$("$BIN" status --env-file "$(envf s1)" 2>&1)
holds "status (secondary): role" grep -qE '^role: +secondary$' <<<"$out"
holds "status (secondary): applied generation" grep -qE "^applied generation: +$gen1$" <<<"$out"
out=$("$BIN" status --tsv --env-file "$(envf s2)" 2>&1)
holds "status --tsv (secondary): role" grep -qx $'role\tsecondary' <<<"$out"
holds "status --tsv (secondary): applied_generation" grep -qx $'applied_generation\t'"$gen1" <<<"$out"
holds "status --tsv (secondary): no last error" grep -qx $'last_error\t-' <<<"$out"

echo "# SIGTERM stops every daemon with 0, secondaries although a 30 s long poll is held"
for n in s1 s2 p; do
	stop $n
	same "$n exits 0" "$STOP_RC" 0
	holds "$n stopped within 10 s (${STOP_MS} ms)" test "$STOP_MS" -lt 10000
	holds "$n logged daemon.stopped" grep -q 'event=daemon.stopped' "${LOG[$n]}"
done
finish
