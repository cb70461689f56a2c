#!/usr/bin/env bash
# End to end, the metrics both running daemons expose: `promtool check metrics` (parse and lint)
# on what /metrics serves for a primary and an enrolled secondary after a sync (rows counted,
# a peer listed, an auth failure recorded), and the role-specific families. Exits 77 (skipped)
# only when promtool is missing; tests/cli/test_metrics_promtool.sh checks the renderer alone.
if ! command -v promtool >/dev/null 2>&1; then
	echo "promtool not found (Debian package prometheus, see contrib/dev/install-deps.sh); skipping"
	exit 77
fi
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"

lint() { # lint NAME: promtool on NAME's scrape; silent and 0 when clean
	local text out rc
	if ! text=$(scrape "$1"); then bad "$1: /metrics did not answer"; return; fi
	out=$(printf '%s\n' "$text" | promtool check metrics 2>&1); rc=$?
	if [ "$rc" = 0 ] && [ -z "$out" ]; then ok "$1: promtool check metrics is clean"
	else bad "$1: promtool status $rc" "$out"; fi
}

node p primary demo 5 || finish
start p || finish
node s secondary none 1 "SYNC_PRIMARY_URL=$(url p '')" SYNC_INTERVAL=1h || finish
enrol s p || finish
if wait_for 60 same_content s p; then ok "s: synced"; else bad "s: no sync"; fi
wait_for 10 metric_above s 'rows_total{table="users",op="insert"}' 0
curl -s -o /dev/null "$(url p /sync/export)" -H 'Authorization: Bearer nope'
lint p
lint s
same "p: role label" "$(metric p 'role{role="primary"}')" 1
same "p: one peer" "$(metric p peers)" 1
holds "p: exports counted for s" metric_above p 'exports_total{peer="s"}' 0
same "p: the refused bearer counted" "$(metric p 'failures_total{reason="auth"}')" 1
same "p: no secondary families" "$(metric p applied_generation)" absent
same "s: role label" "$(metric s 'role{role="secondary"}')" 1
same "s: users inserted" "$(metric s 'rows_total{table="users",op="insert"}')" 5
same "s: applied_generation" "$(metric s applied_generation)" "$(metric p generation)"
same "s: primary_reachable" "$(metric s primary_reachable)" 1
holds "s: last_success_timestamp_seconds set" metric_above s last_success_timestamp_seconds 0
same "s: interval_seconds is SYNC_INTERVAL" "$(metric s interval_seconds)" 3600
same "s: no primary families" "$(metric s peers)" absent
holds "p: last_payload_bytes is the size it sent" metric_above p last_payload_bytes 0
same "s: last_payload_bytes is what p sent" "$(metric s last_payload_bytes)" "$(metric p last_payload_bytes)"
finish
