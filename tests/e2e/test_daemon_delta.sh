#!/usr/bin/env bash
# End to end, protocol v2: the first contact is a full snapshot, a change travels as a small
# delta, a deleted user (and the passkeys its deletion cascades to) too; a secondary edited
# by hand finds out at its periodic verification and takes a full snapshot that restores it;
# a restarted secondary proves its content at start and is not sent anything; a restarted
# primary still makes deltas from the generation it restarted at; a v1 request still gets a
# format-1 answer, and a base claim that does not match gets a full snapshot.
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"

# The interval is an hour; polls are held 2 s so the verification (every 2 s) runs often.
SEC_VARS=(SYNC_INTERVAL=1h SYNC_LONG_POLL_TIMEOUT=2s SYNC_VERIFY_INTERVAL=2s)
kinds() { grep -o 'event=export.sent .*' "${LOG[p]}" | grep -c "kind=$1"; }
last_sent() { grep 'event=export.sent' "${LOG[p]}" | tail -1; }
full_content() { q "$(db "$1")" "SELECT * FROM users ORDER BY id; SELECT * FROM webauthn_credentials ORDER BY id;
	SELECT * FROM user_groups_users ORDER BY 1, 2"; }
same_full() { [ "$(full_content "$1")" = "$(full_content "$2")" ]; }

node p primary demo 20 || finish
start p || finish
node s1 secondary none 1 "SYNC_PRIMARY_URL=$(url p '')" "${SEC_VARS[@]}" || finish
if enrol s1 p; then ok "s1 enrolled"; else finish; fi

echo "# first contact: a full snapshot"
if wait_for 60 same_full s1 p; then ok "s1 holds the primary's rows"; else bad "initial sync"; fi
wait_for 10 metric_is s1 'payloads_total{kind="full"}' 1
same "s1 applied one full snapshot" "$(metric s1 'payloads_total{kind="full"}')" 1
same "p sent it as full" "$(kinds full)" 1
wait_for 10 grep -q 'event=sync.applied' "${LOG[s1]}"

echo "# a rename travels as a delta"
"${FIX[@]}" rename-user --db "$(db p)" --username bob --to robert >/dev/null
if wait_for 20 same_full s1 p; then ok "rename arrived"; else bad "rename" "$(tail -5 "${LOG[s1]}")"; fi
wait_for 10 metric_is s1 'payloads_total{kind="delta"}' 1
same "s1 applied it as a delta" "$(metric s1 'payloads_total{kind="delta"}')" 1
line=$(last_sent)
holds "p sent a delta ($line)" grep -q 'kind=delta' <<<"$line"
bytes=$(sed -n 's/.* bytes=\([0-9]*\).*/\1/p' <<<"$line")
holds "one renamed user is a small payload ($bytes bytes, at most 4 KiB)" test "${bytes:-99999}" -le 4096
same "no verification failure so far" "$(metric s1 'failures_total{reason="verify"}')" 0

echo "# a deleted user, with the passkeys the deletion cascades to"
victim=$(q "$(db p)" "SELECT u.id FROM users u JOIN webauthn_credentials w ON w.user_id = u.id LIMIT 1")
q "$(db p)" "PRAGMA foreign_keys = ON; DELETE FROM users WHERE id = '$victim'"
if wait_for 20 same_full s1 p; then ok "deletion arrived"; else bad "deletion" "$(tail -5 "${LOG[s1]}")"; fi
same "the user's passkeys went with it on s1" "$(q "$(db s1)" "SELECT count(*) FROM webauthn_credentials WHERE user_id = '$victim'")" 0
wait_for 10 metric_is s1 'payloads_total{kind="delta"}' 2
same "as a second delta" "$(metric s1 'payloads_total{kind="delta"}')" 2

echo "# a hand edit on s1 is found by the verification and healed by a full snapshot"
fulls=$(kinds full)
someone=$(q "$(db p)" "SELECT username FROM users ORDER BY id LIMIT 1")
q "$(db s1)" "UPDATE users SET first_name = 'edited by hand' WHERE username = '$someone'"
same "the hand edit took" "$(q "$(db s1)" "SELECT count(*) FROM users WHERE first_name = 'edited by hand'")" 1
if wait_for 30 grep -q 'event=sync.drift' "${LOG[s1]}"; then ok "s1 noticed its content moved"; else bad "no drift noticed"; fi
if wait_for 30 same_full s1 p; then ok "s1 is the primary's again"; else bad "not healed" "$(full_content s1 | grep -m1 'edited')"; fi
holds "p sent a full snapshot for it" test "$(kinds full)" -gt "$fulls"

echo "# a restarted secondary proves its content and is sent nothing"
stop s1
sent=$(grep -c 'event=export.sent' "${LOG[p]}")
start s1 || finish
if wait_for 20 grep -q 'event=sync.verified' "${LOG[s1]}"; then ok "s1 verified its content at start"; else bad "no verification at start" "$(cat "${LOG[s1]}")"; fi
wait_for 20 eval "[ \"\$(health s1)\" = 200 ]"
same "s1 healthy without a payload" "$(health s1)" 200
same "nothing sent to the restarted s1" "$(grep -c 'event=export.sent' "${LOG[p]}")" "$sent"

echo "# a restarted primary makes deltas from the generation it restarted at"
stop p
start p "SYNC_LISTEN=127.0.0.1:${PORT[p]}" || finish
"${FIX[@]}" rename-user --db "$(db p)" --username "$someone" --to renamed-after-restart >/dev/null
same "the rename took on p" "$(q "$(db p)" "SELECT count(*) FROM users WHERE username = 'renamed-after-restart'")" 1
if wait_for 30 same_full s1 p; then ok "rename after the primary's restart arrived"; else bad "after restart" "$(tail -5 "${LOG[s1]}")"; fi
holds "... as a delta" grep -q 'kind=delta' <<<"$(last_sent)"

echo "# other protocols and claims"
gen=$(metric p generation)
c=$(code "$(url p /sync/export)" -H "Authorization: Bearer $(bearer s1)" -H "Accept: application/vnd.pocket-id-sync.v1" -D "$tmp/h1")
same "a v1 request: 200" "$c" 200
holds "... of media type v1" grep -qi '^content-type: application/vnd.pocket-id-sync.v1' "$tmp/h1"
c=$(code "$(url p /sync/export)" -H "Authorization: Bearer $(bearer s1)" -H "Accept: application/vnd.pocket-id-sync.v2" \
	-H "If-None-Match: \"$((gen - 1))\"" -H "X-Pocket-Id-Sync-Base: $((gen - 1)) AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=" -D "$tmp/h2")
same "a v2 request with a base claim the primary cannot match: 200" "$c" 200
holds "... a full snapshot" grep -qi '^x-pocket-id-sync-kind: full' "$tmp/h2"
holds "... of media type v2" grep -qi '^content-type: application/vnd.pocket-id-sync.v2' "$tmp/h2"
finish
