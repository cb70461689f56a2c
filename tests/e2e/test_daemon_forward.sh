#!/usr/bin/env bash
# End to end, the OIDC back-channel forwarder (SYNC_FORWARD_PEERS) with a real daemon and a stub
# of the back-channel of two Pocket ID nodes (stub_pocket_id_oidc.py; the real binary is
# tests/pocketid/'s job): a code, device code or token this node issued is answered here and no
# peer is asked; one issued by the peer is replayed there, credentials and body untouched, with
# X-Forwarded-For appended; authorization_pending is an answer, not "not issued here"; unknown
# everywhere returns this node's answer; consent revocation reaches every node; bodies are bounded;
# nothing secret is logged, even at debug level; a peer that is down is skipped; without
# SYNC_FORWARD_PEERS the paths do not exist.
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"

STUB=("$PY" "$SRC/tests/e2e/stub_pocket_id_oidc.py")
declare -A SPORT=()
# stub NAME KNOWS
stub() {
	local d=$tmp/stub-$1
	mkdir -p "$d"
	"${STUB[@]}" --port-file "$d/port" --name "$1" --knows "$2" 2>"$d/log" &
	PID[stub-$1]=$!
	wait_for 20 test -s "$d/port" || { bad "stub $1 did not start" "$(cat "$d/log")"; return 1; }
	SPORT[$1]=$(cat "$d/port")
}
stub_log() { curl -fsS --max-time 5 "http://127.0.0.1:${SPORT[$1]}/_stub/log"; }
asked() { stub_log "$1" | "$PY" -c 'import json,sys; print(len(json.load(sys.stdin)))'; }
last_req() { # last_req STUB [HEADER]: the last request's body, or that header of it
	stub_log "$1" | "$PY" -c 'import json,sys
r = json.load(sys.stdin)[-1]
print(r["headers"].get(sys.argv[1], "") if len(sys.argv) > 1 else r["body"])' "${@:2}"
}

stub a "code:code-a,token:tok-a,device:dev-a" || finish
stub b "code:code-b,code:legacy-b,token:tok-b,device:dev-b,consent:client-b" || finish

SECRET="Basic $(printf 'rp-client:very-secret-rp' | base64)"
node p primary demo 1 "SYNC_POCKET_ID_URL=http://127.0.0.1:${SPORT[a]}" \
	"SYNC_FORWARD_PEERS=http://127.0.0.1:${SPORT[b]}" SYNC_LOG_LEVEL=debug || finish
start p || finish
holds "the forwarder is announced" grep -q 'event=forward.ready .*peers=1' "${LOG[p]}"

token() { # token FORM -> status; body in lastbody
	code "$(url p /api/oidc/token)" -X POST -H "Authorization: $SECRET" -H 'X-Forwarded-For: 203.0.113.9' \
		-H 'Content-Type: application/x-www-form-urlencoded' --data "$1"
}

echo "# a code this node issued: answered here, the peer is not asked"
same "code-a: 200" "$(token 'grant_type=authorization_code&code=code-a&redirect_uri=http%3A%2F%2Frp')" 200
holds "... with node a's tokens" grep -q '"at-a"' "$tmp/body"
same "the peer was not asked" "$(asked b)" 0

echo "# a code the peer issued: replayed there"
same "code-b: 200" "$(token 'grant_type=authorization_code&code=code-b&redirect_uri=http%3A%2F%2Frp')" 200
holds "... with node b's tokens" grep -q '"at-b"' "$tmp/body"
same "the peer got the body untouched" "$(last_req b)" 'grant_type=authorization_code&code=code-b&redirect_uri=http%3A%2F%2Frp'
same "... and the client credentials untouched" "$(last_req b Authorization)" "$SECRET"
same "... and X-Forwarded-For with the sidecar's client appended" "$(last_req b X-Forwarded-For)" "203.0.113.9, 127.0.0.1"
same "... and its own Host" "$(last_req b Host)" "127.0.0.1:${SPORT[b]}"
same "node a was asked first" "$(last_req a)" 'grant_type=authorization_code&code=code-b&redirect_uri=http%3A%2F%2Frp'
same "the v1.x-v2.9 'invalid authorization code' is replayed too" \
	"$(token 'grant_type=authorization_code&code=legacy-b')" 200

echo "# unknown everywhere: this node's answer"
same "unknown code: 400" "$(token 'grant_type=authorization_code&code=nobody')" 400
holds "... invalid_grant" grep -q '"invalid_grant"' "$tmp/body"

echo "# device codes: authorization_pending is an answer"
n=$(asked b)
same "dev-a pending: 400" "$(token 'grant_type=urn:ietf:params:oauth:grant-type:device_code&device_code=dev-a')" 400
holds "... authorization_pending" grep -q authorization_pending "$tmp/body"
same "... and the peer was not asked" "$(asked b)" "$n"
same "dev-b pending on the peer: 400" "$(token 'grant_type=urn:ietf:params:oauth:grant-type:device_code&device_code=dev-b')" 400
holds "... the peer's authorization_pending" grep -q authorization_pending "$tmp/body"
same "... asked" "$(asked b)" $((n + 1))

echo "# userinfo and introspect"
same "userinfo with the peer's token: 200" "$(code "$(url p /api/oidc/userinfo)" -H 'Authorization: Bearer tok-b')" 200
holds "... from node b" grep -q '"node": "b"' "$tmp/body"
same "userinfo POST too" "$(code "$(url p /api/oidc/userinfo)" -X POST -H 'Authorization: Bearer tok-b')" 200
code "$(url p /api/oidc/userinfo)" -D "$tmp/h" -H 'Authorization: Bearer nobody' >/dev/null
holds "an unknown token: 401 with WWW-Authenticate passed on" grep -qi '^WWW-Authenticate: Bearer error="invalid_token"' "$tmp/h"
same "introspect of the peer's token" "$(code "$(url p /api/oidc/introspect)" -X POST -H "Authorization: $SECRET" --data 'token=tok-b') $(lastbody)" '200 {"active": true}'
same "introspect of an unknown token" "$(code "$(url p /api/oidc/introspect)" -X POST -H "Authorization: $SECRET" --data 'token=nobody') $(lastbody)" '200 {"active": false}'

echo "# consent revocation reaches every node"
na=$(asked a); nb=$(asked b)
same "DELETE of a consent granted on the peer: 204" \
	"$(code "$(url p /api/oidc/users/me/authorized-clients/client-b)" -X DELETE -H 'Cookie: access_token=jwt')" 204
same "... both nodes were asked" "$(( $(asked a) - na )) $(( $(asked b) - nb ))" "1 1"
same "... with the session cookie" "$(last_req b Cookie)" "access_token=jwt"
same "unknown consent: this node's 404" \
	"$(code "$(url p /api/oidc/users/me/authorized-clients/nope)" -X DELETE -H 'Cookie: access_token=jwt')" 404

echo "# bounds and methods"
head -c 70000 /dev/zero | tr '\0' a >"$tmp/big"
same "a body over 64 KiB: 413" "$(code "$(url p /api/oidc/token)" -X POST --data-binary @"$tmp/big")" 413
same "GET /api/oidc/token: 405" "$(code "$(url p /api/oidc/token)")" 405
same "another /api/ path: 404" "$(code "$(url p /api/users)")" 404

echo "# secrets"
for s in very-secret-rp "$(printf 'rp-client:very-secret-rp' | base64)" code-b tok-b access_token=jwt; do
	if grep -qF -- "$s" "${LOG[p]}"; then bad "the log holds a secret ($s)"; else ok "no '$s' in the debug log"; fi
done

echo "# a request another forwarder sent is answered by this node's Pocket ID alone (no loop)"
n=$(asked b)
same "code-b marked as forwarded: this node's 400" "$(code "$(url p /api/oidc/token)" -X POST \
	-H 'X-Pocket-Id-Sync-Forwarded: 1' --data 'grant_type=authorization_code&code=code-b')" 400
same "... the peer was not asked" "$(asked b)" "$n"
same "a forwarded request carries the mark" "$(token 'grant_type=authorization_code&code=code-b' >/dev/null; last_req b X-Pocket-Id-Sync-Forwarded)" 1

echo "# a peer that is down is skipped; this node's answer stands"
kill "${PID[stub-b]}"; wait "${PID[stub-b]}" 2>/dev/null; unset "PID[stub-b]"
same "code-b with the peer down: this node's 400" "$(token 'grant_type=authorization_code&code=code-b')" 400
holds "... logged as unreachable" grep -q "event=forward.unreachable target=127.0.0.1:${SPORT[b]}" "${LOG[p]}"
same "code-a still works" "$(token 'grant_type=authorization_code&code=code-a')" 200
for _ in $(seq 20); do token 'grant_type=authorization_code&code=code-b' >/dev/null; done
same "twenty more with the peer down: still this node's 400" "$(token 'grant_type=authorization_code&code=code-b')" 400

echo "# without SYNC_FORWARD_PEERS the paths do not exist"
stop p
same "the daemon stops with 0 (LeakSanitizer found no connection left behind)" "$STOP_RC" 0
sed -i '/^SYNC_FORWARD_PEERS=/d' "$(envf p)"
start p || finish
same "no forwarder: 404" "$(token 'grant_type=authorization_code&code=code-a')" 404
finish
