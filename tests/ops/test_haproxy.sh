#!/usr/bin/env bash
# Proves the shipped HAProxy configs, unmodified, send each method+path to the
# documented node (stickiness, writes to the primary, flow-local paths, /sync
# rules, health gating, active/passive failover) using loopback stub backends.
set -u
here=$(cd "$(dirname "$0")" && pwd)
conf_dir="$here/../../contrib/haproxy"
# Debian installs haproxy in /usr/sbin, which a normal user's PATH lacks.
PATH=$PATH:/usr/sbin:/sbin

for tool in haproxy curl python3; do
    command -v "$tool" >/dev/null 2>&1 || { echo "SKIP: $tool not installed"; exit 77; }
done

tmp=$(mktemp -d)
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null; done
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

pass=0 fail=0
ok()  { echo "ok   - $*"; pass=$((pass + 1)); }
bad() { echo "FAIL - $*"; fail=$((fail + 1)); }

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# wait_for CMD...: run CMD until it succeeds, at most ~20 s.
wait_for() {
    local _
    for _ in $(seq 200); do
        "$@" && return 0
        sleep 0.1
    done
    return 1
}

declare -A port pid_of
start_stub() { # name health-status
    python3 "$here/stub_backend.py" --name "$1" --health-status "$2" > "$tmp/$1.port" &
    pids+=("$!")
    pid_of[$1]=$!
    wait_for test -s "$tmp/$1.port" || { echo "stub $1 did not start"; exit 1; }
    port[$1]=$(head -n1 "$tmp/$1.port")
}
start_stub pid_primary 204
start_stub pid_secondary 204
start_stub sidecar_primary 200
start_stub sidecar_secondary 200

export POCKET_ID_PRIMARY="127.0.0.1:${port[pid_primary]}"
export POCKET_ID_SECONDARY="127.0.0.1:${port[pid_secondary]}"
export SYNC_SIDECAR_PRIMARY="127.0.0.1:${port[sidecar_primary]}"
export SYNC_SIDECAR_SECONDARY="127.0.0.1:${port[sidecar_secondary]}"
export HAPROXY_CHECK_INTER=100ms

start_haproxy() { # config-file -> sets $url
    local hp
    hp=$(free_port)
    export HAPROXY_BIND="127.0.0.1:$hp"
    if out=$(haproxy -c -f "$1" 2>&1); then
        ok "haproxy -c -f $(basename "$1")"
    else
        bad "haproxy -c -f $(basename "$1"): $out"
        return 1
    fi
    haproxy -db -f "$1" > "$tmp/haproxy-$(basename "$1").log" 2>&1 &
    pids+=("$!")
    url="http://127.0.0.1:$hp"
    wait_for curl -fs -o /dev/null --max-time 1 "$url/healthz" || { bad "haproxy did not come up"; return 1; }
}

# fetch CLIENT_IP METHOD PATH: print the name of the stub that answered (its
# X-Stub-Name header), or the HTTP status when HAProxy answered itself.
fetch() {
    local code name data=()
    case $2 in POST|PUT|PATCH|DELETE) data=(--data-raw x) ;; esac
    code=$(curl -sS --max-time 5 --path-as-is --interface "$1" -X "$2" "${data[@]}" -D "$tmp/headers" \
                -o "$tmp/body" -w '%{http_code}' "$url$3") || { echo "curl-error"; return; }
    name=$(tr -d '\r' < "$tmp/headers" | sed -n 's/^X-Stub-Name: //Ip')
    if [ -z "$name" ]; then echo "$code"; return; fi
    # the backend must have seen the request unchanged
    if [ "$code" = 200 ] && [ "$(cat "$tmp/body")" != "$name $2 $3" ]; then
        echo "mangled:$(cat "$tmp/body")"; return
    fi
    echo "$name"
}

expect() { # label CLIENT_IP METHOD PATH WANT
    local got
    got=$(fetch "$2" "$3" "$4")
    if [ "$got" = "$5" ]; then ok "$1 $3 $4 -> $5"; else bad "$1 $3 $4 -> $got (want $5)"; fi
}

lands_on() { [ "$(fetch "$1" GET /api/users/me)" = "$2" ]; }

# --- active/active: haproxy.cfg -------------------------------------------
start_haproxy "$conf_dir/haproxy.cfg" || exit 1

# Two new clients: round robin hands them different sites, then they stick.
a=127.0.0.2 b=127.0.0.3
first_a=$(fetch $a GET /api/users/me)
first_b=$(fetch $b GET /api/users/me)
if [ "$first_a" = pid_secondary ] && [ "$first_b" = pid_primary ]; then
    sec=$a pri=$b
elif [ "$first_a" = pid_primary ] && [ "$first_b" = pid_secondary ]; then
    sec=$b pri=$a
else
    bad "two new clients should be spread over both sites, got $first_a / $first_b"
    sec=$a pri=$b
fi
S="client on secondary ($sec):"
P="client on primary ($pri):"
for _ in 1 2 3; do
    expect "$S" $sec GET /api/users/me pid_secondary
    expect "$P" $pri GET /api/users/me pid_primary
done

# reads follow stickiness
expect "$S" $sec GET /.well-known/openid-configuration pid_secondary
expect "$S" $sec GET /api/oidc/clients/x/meta pid_secondary
expect "$S" $sec GET /healthz pid_secondary
# writes go to the primary
expect "$S" $sec POST /api/users pid_primary
expect "$S" $sec PUT /api/users/x pid_primary
expect "$S" $sec PATCH /api/webauthn/credentials/x pid_primary
expect "$S" $sec DELETE /api/webauthn/credentials/x pid_primary
expect "$S" $sec POST /api/oidc/clients pid_primary
expect "$S" $sec POST /api/oidc/tokenx pid_primary
expect "$S" $sec POST /api/device-login/requests pid_primary
expect "$S" $sec POST /api/one-time-access-token/abc pid_primary
expect "$S" $sec POST /api/signup pid_primary
# passkey registration always on the primary, whatever the method
expect "$S" $sec GET /api/webauthn/register/start pid_primary
expect "$S" $sec POST /api/webauthn/register/start pid_primary
expect "$S" $sec POST /api/webauthn/register/finish pid_primary
# flow-local: stays on the client's site even when it writes
expect "$S" $sec GET /api/webauthn/login/start pid_secondary
expect "$S" $sec POST /api/webauthn/login/start pid_secondary
expect "$S" $sec POST /api/webauthn/login/finish pid_secondary
expect "$S" $sec POST /api/webauthn/reauthenticate pid_secondary
expect "$S" $sec POST /api/webauthn/logout pid_secondary
expect "$S" $sec GET '/authorize?client_id=c&response_type=code' pid_secondary
expect "$S" $sec POST /authorize pid_secondary
expect "$S" $sec POST /api/oidc/authorize pid_secondary
expect "$S" $sec POST /api/oidc/authorization-required pid_secondary
expect "$S" $sec GET /api/oidc/interactions/abc pid_secondary
expect "$S" $sec POST /api/oidc/interactions/abc/complete pid_secondary
expect "$S" $sec POST /api/oidc/par pid_secondary
# the OIDC back-channel: to the forwarder of the client's site
expect "$S" $sec POST /api/oidc/token sidecar_secondary
expect "$S" $sec GET /api/oidc/userinfo sidecar_secondary
expect "$S" $sec POST /api/oidc/userinfo sidecar_secondary
expect "$S" $sec POST /api/oidc/introspect sidecar_secondary
expect "$S" $sec GET /api/oidc/end-session pid_secondary
expect "$S" $sec POST /api/oidc/end-session pid_secondary
expect "$S" $sec POST /api/oidc/device/authorize pid_secondary
expect "$S" $sec POST /api/oidc/device/verify pid_secondary
expect "$S" $sec GET /api/oidc/device/info pid_secondary
expect "$P" $pri POST /api/webauthn/login/finish pid_primary
expect "$P" $pri POST /api/oidc/token sidecar_primary
expect "$P" $pri POST /api/oidc/introspect sidecar_primary
expect "$P" $pri POST /api/users pid_primary
# sync routes: public ones to the primary's sidecar, the rest refused
expect "$S" $sec GET /sync/pubkey sidecar_primary
expect "$S" $sec GET /sync/export sidecar_primary
expect "$P" $pri GET /sync/export sidecar_primary
expect "$S" $sec GET /sync/admin/peers 403
expect "$S" $sec POST /sync/admin/peers 403
expect "$P" $pri DELETE /sync/admin/peers/x 403
expect "$S" $sec GET /sync/admin 403
expect "$S" $sec GET /sync/healthz 403
expect "$S" $sec GET /sync/./admin/peers 403
expect "$S" $sec GET /sync/pubkey/../admin/peers 403

# consent revocation: the forwarder (every node); listing stays local
expect "$S" $sec DELETE /api/oidc/users/me/authorized-clients/abc sidecar_secondary
expect "$P" $pri DELETE /api/oidc/users/me/authorized-clients/abc sidecar_primary
expect "$S" $sec DELETE /api/oidc/users/me/authorized-clients/abc/x pid_primary
# state only the primary has, read by admin pages
expect "$S" $sec GET /api/signup-tokens pid_primary
expect "$S" $sec GET /api/application-configuration/all pid_primary
expect "$S" $sec GET /api/scim/service-provider/x pid_primary
expect "$S" $sec GET /api/oidc/clients/x/scim-service-provider pid_primary

# X-Forwarded-For: a client's own header is dropped, HAProxy's is the client address
xff=$(curl -sS --max-time 5 --interface $sec -H 'X-Forwarded-For: 6.6.6.6' -D - -o /dev/null "$url/api/users/me" |
      tr -d '\r' | sed -n 's/^X-Stub-XFF: //Ip')
if [ "$xff" = "$sec" ]; then ok "X-Forwarded-For from the client is replaced by its address ($xff)"
else bad "X-Forwarded-For seen by Pocket ID: '$xff' (want $sec)"; fi

# Read-your-writes: after a write, a client's reads go to the primary for 5 s,
# flow-local paths excepted; then back to its site. A fresh client on the secondary:
# fresh_on_secondary FIRST LAST: a client address in 127.0.0.FIRST..LAST that lands on the secondary
fresh_on_secondary() {
    local n
    for n in $(seq "$1" "$2"); do
        if [ "$(fetch 127.0.0.$n GET /api/users/me)" = pid_secondary ]; then echo 127.0.0.$n; return; fi
    done
}
ryw=$(fresh_on_secondary 30 60)
if [ -n "$ryw" ]; then
    W="writer on the secondary ($ryw):"
    expect "$W" $ryw POST /api/user-groups pid_primary
    expect "$W" $ryw GET /api/user-groups pid_primary
    expect "$W" $ryw GET /api/users/me pid_primary
    expect "$W" $ryw GET /api/webauthn/login/start pid_secondary
    expect "$W" $ryw GET /api/application-configuration pid_primary
    expect "$W" $ryw POST /api/webauthn/login/finish pid_secondary
    if wait_for lands_on $ryw pid_secondary; then ok "$W reads return to its site once the write is 5 s old"
    else bad "$W reads never returned to the secondary"; fi
else
    bad "no client landed on the secondary for the read-your-writes check"
fi

# Device-login approval: that client's re-authentication goes to the primary,
# where the decision consumes its token; other clients' logins stay local.
dev=$(fresh_on_secondary 61 90)
if [ -n "$dev" ]; then
    D="approver on the secondary ($dev):"
    expect "$D" $dev GET /api/webauthn/login/start pid_secondary
    expect "$D" $dev POST /api/device-login/verification pid_primary
    expect "$D" $dev GET /api/webauthn/login/start pid_primary
    expect "$D" $dev POST /api/webauthn/reauthenticate pid_primary
    expect "$D" $dev POST /api/device-login/verification/decision pid_primary
    expect "$D" $dev POST /api/webauthn/login/finish pid_secondary
    expect "$S" $sec GET /api/webauthn/login/start pid_secondary
else
    bad "no client landed on the secondary for the device-login check"
fi

# While the primary is down, writes answer 503 but reads, a writer's and
# admin pages' included, stay on the client's site instead of failing too.
if [ -n "$ryw" ]; then
    kill -USR1 "${pid_of[pid_primary]}"
    if wait_for eval '[ "$(fetch $ryw POST /api/user-groups)" = 503 ]'; then
        ok "$W primary down: its write answers 503"
        expect "$W" $ryw GET /api/users/me pid_secondary
        expect "$W" $ryw GET /api/signup-tokens pid_secondary
    else
        bad "$W primary marked down, yet its write did not answer 503"
    fi
    kill -USR2 "${pid_of[pid_primary]}"
    wait_for eval '[ "$(fetch $ryw GET /api/signup-tokens)" = pid_primary ]' ||
        bad "the primary never came back for admin reads"
fi

# $sec must be back on its site (its writes above are older than 5 s) before
# the health checks below, or a move to the primary would prove nothing.
wait_for lands_on $sec pid_secondary || bad "$S never back on the secondary"

# The secondary's sidecar reports unhealthy: its clients move to the primary.
kill -USR1 "${pid_of[sidecar_secondary]}"
if wait_for lands_on $sec pid_primary; then
    ok "$S moved to the primary when its sidecar's /healthz turned 503"
    expect "$S" $sec POST /api/webauthn/login/finish pid_primary
    expect "$S" $sec POST /api/oidc/token sidecar_primary
else
    bad "$S still on $(fetch $sec GET /api/users/me) with its sidecar unhealthy"
fi
kill -USR2 "${pid_of[sidecar_secondary]}"
# Healthy again: new clients reach the secondary again (round robin).
n=10
back_on_secondary() { n=$((n + 1)); lands_on "127.0.1.$n" pid_secondary; }
if wait_for back_on_secondary; then ok "new clients reach the secondary after its sidecar recovered"
else bad "no new client reached the secondary after its sidecar recovered"; fi

# Pocket ID on the secondary fails its own health check: same move.
kill -USR1 "${pid_of[pid_secondary]}"
c=127.0.1.$n   # the client that just landed on the secondary
if wait_for lands_on $c pid_primary; then ok "client moved to the primary when the secondary's Pocket ID /healthz turned 503"
else bad "client not moved off an unhealthy secondary Pocket ID"; fi
kill -USR2 "${pid_of[pid_secondary]}"

kill "${pids[-1]}"; wait "${pids[-1]}" 2>/dev/null; unset 'pids[-1]'

# --- active/active over IPv6: the stick table holds IPv6 clients ------------
if ip -6 addr show dev lo 2>/dev/null | grep -q 'inet6 ::1'; then
    hp=$(free_port)
    export HAPROXY_BIND="::1:$hp"
    haproxy -db -f "$conf_dir/haproxy.cfg" >"$tmp/haproxy-v6.log" 2>&1 &
    pids+=("$!")
    v6() { curl -sS --max-time 5 -g -D - -o /dev/null "http://[::1]:$hp$1" 2>/dev/null |
           tr -d '\r' | sed -n 's/^X-Stub-Name: //Ip'; }
    if wait_for eval '[ -n "$(v6 /api/users/me)" ]'; then
        first=$(v6 /api/users/me) same_site=1
        for _ in 1 2 3 4; do [ "$(v6 /api/users/me)" = "$first" ] || same_site=0; done
        if [ "$same_site" = 1 ]; then ok "an IPv6 client (::1) sticks to one site ($first)"
        else bad "an IPv6 client (::1) is not stuck: round robin between sites"; fi
    else
        bad "haproxy on [::1] did not answer"
    fi
    kill "${pids[-1]}"; wait "${pids[-1]}" 2>/dev/null; unset 'pids[-1]'
else
    echo "skip: no IPv6 loopback (::1) for the IPv6 stickiness check"
fi

# --- active/passive: haproxy-active-passive.cfg ---------------------------
start_haproxy "$conf_dir/haproxy-active-passive.cfg" || exit 1
AP="active/passive ($a):"
# Under load the first health checks may not have settled when HAProxy
# answers; a throw-away client waits until the primary serves.
wait_for lands_on 127.0.0.9 pid_primary || bad "$AP the primary never became available"
expect "$AP" $a GET /api/users/me pid_primary
expect "$AP" $a POST /api/webauthn/login/finish pid_primary
expect "$AP" $a GET /sync/admin/peers 403
kill -USR1 "${pid_of[pid_primary]}"
if wait_for lands_on $a pid_secondary; then
    ok "$AP primary down: reads go to the backup"
    expect "$AP" $a POST /api/webauthn/login/finish pid_secondary
    expect "$AP" $a POST /api/users 503
else
    bad "$AP primary down but reads still on $(fetch $a GET /api/users/me)"
fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
