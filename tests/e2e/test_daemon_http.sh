#!/usr/bin/env bash
# End to end, the HTTP surface of real daemons: 404 for unknown paths and role-foreign routes,
# 405 with Allow for wrong methods, refusal of an oversized admin body, admin API input errors,
# the admin API's access rule (loopback only without SYNC_ADMIN_TOKEN; with it, the token and
# nothing else), bearer checks on /sync/export, and which listener serves what. Sync behaviour
# lives in test_daemon_sync.sh and test_daemon_failures.sh.
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"

node p primary demo 3 || finish
start p || finish
P=$(url p '')

echo "# 404 and 405"
for path in / /nope /sync /sync/admin /sync/admin/peersX /sync/admin/peers/a/b /metrics; do
	same "GET $path: 404" "$(code "$P$path")" 404
done
same "DELETE /sync/admin/peers/ (no name): 404" "$(code "$P/sync/admin/peers/" -X DELETE)" 404
allow() { curl -s -o /dev/null -D - "$@" | tr -d '\r' | sed -n 's/^[Aa]llow: //p'; }
for m in PUT PATCH DELETE; do
	same "$m /sync/admin/peers: 405" "$(code "$P/sync/admin/peers" -X $m)" 405
done
same "... Allow: GET, POST" "$(allow -X PUT "$P/sync/admin/peers")" "GET, POST"
same "POST /healthz: 405" "$(code "$P/healthz" -X POST --data x)" 405
same "... Allow: GET" "$(allow -X POST --data x "$P/healthz")" "GET"
same "POST /sync/export: 405" "$(code "$P/sync/export" -X POST --data x)" 405
same "GET /sync/admin/peers/x: 405 (DELETE only)" "$(code "$P/sync/admin/peers/x")" 405
same "OPTIONS /sync/pubkey: 405" "$(code "$P/sync/pubkey" -X OPTIONS)" 405

echo "# admin API input"
post() { code "$P/sync/admin/peers" -X POST -H 'Content-Type: application/json' "$@"; }
mkdir -p "$tmp/other" "$tmp/z"
spub=$(SYNC_STATE_DIR=$tmp/other/state "$BIN" pubkey)
head -c 70000 /dev/zero | tr '\0' 'x' >"$tmp/big.json"
c=$(post --data-binary @"$tmp/big.json")
holds "oversized admin body (70000 bytes) refused with 413 ($c)" test "$c" = 413
same "invalid JSON: 400" "$(post --data '{"name":')" 400
same "missing pubkey: 400" "$(post --data '{"name":"x"}')" 400
same "trailing garbage after the object: 400" "$(post --data "{\"name\":\"x\",\"pubkey\":\"$spub\"} x")" 400
same "pubkey that is not a key: 400" "$(post --data '{"name":"x","pubkey":"AAAA"}')" 400
same "bad peer name: 400" "$(post --data "{\"name\":\"a b\",\"pubkey\":\"$spub\"}")" 400
same "valid: 201" "$(post --data "{\"name\":\"x\",\"pubkey\":\"$spub\"}")" 201
token=$(lastbody | json_field token)
same "same name again: 409" "$(post --data "{\"name\":\"x\",\"pubkey\":\"$spub\"}")" 409
same "same key under another name: 409" "$(post --data "{\"name\":\"y\",\"pubkey\":\"$spub\"}")" 409
same "the list holds exactly x" "$(code "$P/sync/admin/peers")/$(lastbody | "$PY" -c 'import json,sys; print([p["name"] for p in json.load(sys.stdin)])')" "200/['x']"
holds "the list shows no token" eval "! grep -q '${token##*.}' '$tmp/body'"

echo "# /sync/export bearer checks"
xb=${token##*.}
fails0=$(metric p 'failures_total{reason="auth"}')
same "no Authorization: 401" "$(code "$P/sync/export")" 401
same "... WWW-Authenticate: Bearer" "$(curl -s -o /dev/null -D - "$P/sync/export" | tr -d '\r' | sed -n 's/^[Ww][Ww][Ww]-[Aa]uthenticate: //p')" Bearer
same "unknown bearer: 401" "$(code "$P/sync/export" -H 'Authorization: Bearer nope')" 401
same "Basic instead of Bearer: 401" "$(code "$P/sync/export" -u "x:$xb")" 401
same "the whole pisync1 string is not the bearer: 401" "$(code "$P/sync/export" -H "Authorization: Bearer $token")" 401
same "primary counted each of the 5 refusals as an auth failure" "$(metric p 'failures_total{reason="auth"}')" $((fails0 + 5))
same "x's bearer: 200" "$(code "$P/sync/export" -H "Authorization: Bearer $xb" -o /dev/null)" 200
same "wait=abc: 400" "$(code "$P/sync/export?wait=abc" -H "Authorization: Bearer $xb")" 400
same "wait=301: 400" "$(code "$P/sync/export?wait=301" -H "Authorization: Bearer $xb")" 400

echo "# which listener serves what"
mp=http://127.0.0.1:${MPORT[p]}
same "metrics listener: /metrics 200" "$(code "$mp/metrics")" 200
same "metrics listener: /healthz 404" "$(code "$mp/healthz")" 404
same "metrics listener: /sync/admin/peers 404" "$(code "$mp/sync/admin/peers")" 404
node s secondary none 1 "SYNC_PRIMARY_URL=$P" || finish
start s || finish
S=$(url s '')
same "secondary: GET /sync/pubkey 200" "$(code "$S/sync/pubkey")" 200
same "secondary: /sync/admin/peers 404" "$(code "$S/sync/admin/peers")" 404
same "secondary: POST /sync/admin/peers 404" "$(code "$S/sync/admin/peers" -X POST --data '{}')" 404
same "secondary: /sync/export 404" "$(code "$S/sync/export")" 404
stop s

echo "# admin API from a non-loopback address: refused without SYNC_ADMIN_TOKEN, token-only with it"
addr=$(ip -4 -o addr show scope global 2>/dev/null | awk '{ sub("/.*", "", $4); print $4; exit }')
if [ -n "$addr" ]; then
	node pn primary demo 1 || finish
	start pn "SYNC_LISTEN=$addr:0" || finish
	same "non-loopback client: GET /sync/admin/peers 403" "$(code "$(url pn /sync/admin/peers)")" 403
	same "non-loopback client: POST /sync/admin/peers 403" \
		"$(code "$(url pn /sync/admin/peers)" -X POST --data "{\"name\":\"n\",\"pubkey\":\"$spub\"}")" 403
	holds "... says how to allow it" grep -q "SYNC_ADMIN_TOKEN" "$tmp/body"
	same "non-loopback client: /healthz still 200" "$(code "$(url pn /healthz)")" 200
	same "nothing was enrolled" "$("$BIN" status --tsv --env-file "$(envf pn)" | sed -n 's/^peers\t//p')" 0
	stop pn
	(umask 077; echo pn-admin-token-0123456789 >"$tmp/pn-admin.token")
	start pn "SYNC_LISTEN=$addr:0" "SYNC_ADMIN_TOKEN_FILE=$tmp/pn-admin.token" || finish
	same "non-loopback client, wrong admin token: 401" \
		"$(code "$(url pn /sync/admin/peers)" -H 'Authorization: Bearer pn-admin-token-0123456788')" 401
	same "non-loopback client, the admin token: 200" \
		"$(code "$(url pn /sync/admin/peers)" -H 'Authorization: Bearer pn-admin-token-0123456789')" 200
	stop pn
else
	echo "skip non-loopback admin checks: this host has no global IPv4 address"
fi

echo "# SYNC_ADMIN_TOKEN: then the token, from anyone, and nothing else"
stop p
(umask 077; head -c 32 /dev/urandom | base64 >"$tmp/admin.token")
admin=$(cat "$tmp/admin.token")
start p "SYNC_ADMIN_TOKEN_FILE=$tmp/admin.token" || finish
P=$(url p '')
same "no token: 401" "$(code "$P/sync/admin/peers")" 401
same "wrong token: 401" "$(code "$P/sync/admin/peers" -H 'Authorization: Bearer wrong')" 401
same "a peer's bearer is not an admin token: 401" "$(code "$P/sync/admin/peers" -H "Authorization: Bearer $xb")" 401
same "wrong token, POST: 401" "$(post -H 'Authorization: Bearer wrong' --data "{\"name\":\"z\",\"pubkey\":\"$(SYNC_STATE_DIR=$tmp/z/state "$BIN" pubkey)\"}")" 401
same "wrong token, DELETE: 401" "$(code "$P/sync/admin/peers/x" -X DELETE -H 'Authorization: Bearer wrong')" 401
same "right token: GET 200" "$(code "$P/sync/admin/peers" -H "Authorization: Bearer $admin")" 200
holds "... and x is still enrolled" grep -q '"name":"x"' "$tmp/body"
same "right token: DELETE x 204" "$(code "$P/sync/admin/peers/x" -X DELETE -H "Authorization: Bearer $admin")" 204
same "the admin token is not a peer token: /sync/export 401" "$(code "$P/sync/export" -H "Authorization: Bearer $admin")" 401
same "/healthz needs no token" "$(code "$P/healthz")" 200
stop p
same "primary exits 0" "$STOP_RC" 0
finish
