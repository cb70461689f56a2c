#!/usr/bin/env bash
# Runs `promtool check metrics` (which parses and lints) on what the metrics
# registry renders for a populated primary, a populated secondary and fresh
# registries of both roles. Exits 77 (skipped) only when promtool is missing.
set -u
DUMP=${1:?usage: test_metrics_promtool.sh PATH_TO_metrics_dump}
if ! command -v promtool >/dev/null 2>&1; then
	echo "promtool not found (Debian package prometheus); skipping"
	exit 77
fi
pass=0 fail=0
check() { # check NAME ARGS...
	local name=$1 text out rc; shift
	if ! text=$("$DUMP" "$@"); then
		fail=$((fail+1)); echo "FAIL $name: metrics_dump failed"; return
	fi
	out=$(printf '%s\n' "$text" | promtool check metrics 2>&1); rc=$?
	if [ "$rc" = 0 ] && [ -z "$out" ]; then pass=$((pass+1)); echo "ok   $name";
	else fail=$((fail+1)); echo "FAIL $name: promtool status $rc"; echo "$out" | sed 's/^/     /'; fi
}
check "primary, populated" primary
check "secondary, populated" secondary
check "primary, fresh" primary fresh
check "secondary, fresh" secondary fresh

# The role-specific families follow the role.
p=$("$DUMP" primary) s=$("$DUMP" secondary)
if grep -q '^pocket_id_sync_generation ' <<<"$p" && ! grep -q 'applied_generation' <<<"$p"; then
	pass=$((pass+1)); echo "ok   primary families only on primary"
else fail=$((fail+1)); echo "FAIL primary families"; fi
if grep -q '^pocket_id_sync_applied_generation ' <<<"$s" && ! grep -q 'pocket_id_sync_peers' <<<"$s"; then
	pass=$((pass+1)); echo "ok   secondary families only on secondary"
else fail=$((fail+1)); echo "FAIL secondary families"; fi
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
