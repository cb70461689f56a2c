#!/usr/bin/env bash
# Proves the shipped systemd units pass `systemd-analyze verify` with no output,
# pocket-id-sync.service scores <= 2.5 offline, and (with node) the polkit rule
# allows exactly the two restart actions. Exit 77 = no systemd-analyze.
set -u
here=$(cd "$(dirname "$0")" && pwd)
units="$here/../../contrib/systemd"
max_score=2.5

command -v systemd-analyze >/dev/null 2>&1 || { echo "SKIP: systemd-analyze not installed"; exit 77; }

pass=0 fail=0
ok()  { echo "ok   - $*"; pass=$((pass + 1)); }
bad() { echo "FAIL - $*"; fail=$((fail + 1)); }

root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT

# `verify` insists that ExecStart binaries exist, and neither pocket-id-sync
# nor docker is installed here: verify inside a scratch root that has stub
# binaries plus a copy of the host's own units (for sysinit.target & co).
mkdir -p "$root/usr/local/bin" "$root/usr/bin" "$root/usr/lib/systemd" "$root/etc/systemd/system"
cp -a /usr/lib/systemd/system "$root/usr/lib/systemd/" 2>/dev/null || cp -a /lib/systemd/system "$root/usr/lib/systemd/"
for bin in /usr/local/bin/pocket-id-sync /usr/bin/docker; do
    printf '#!/bin/sh\nexit 0\n' > "$root$bin"
    chmod 0755 "$root$bin"
done
for unit in "$units"/*.service; do
    name=$(basename "$unit")
    cp "$unit" "$root/etc/systemd/system/$name"
    out=$(systemd-analyze verify --man=no --root="$root" "$name" 2>&1)
    rc=$?
    if [ "$rc" -eq 0 ] && [ -z "$out" ]; then
        ok "systemd-analyze verify $name"
    else
        bad "systemd-analyze verify $name (rc=$rc): $out"
    fi
done

unit="$units/pocket-id-sync.service"
line=$(systemd-analyze security --offline=true "$unit" 2>&1 | grep 'Overall exposure level')
score=$(printf '%s\n' "$line" | sed -n 's/.*: \([0-9][0-9]*\.[0-9]\).*/\1/p')
if [ -z "$score" ]; then
    bad "no 'Overall exposure level' line from systemd-analyze security"
elif awk -v s="$score" -v m="$max_score" 'BEGIN { exit !(s <= m) }'; then
    ok "offline exposure score $score <= $max_score"
else
    bad "offline exposure score $score > $max_score"
fi

rules="$units/50-pocket-id-sync-restart.rules"
if command -v node >/dev/null 2>&1; then
    # Load the rule into a fake polkit object and ask it about each action.
    if out=$(node - "$rules" 2>&1 <<'JS'
const fs = require("fs");
let rule;
const polkit = { Result: { YES: "yes", NOT_HANDLED: "not_handled" }, addRule: (f) => { rule = f; } };
new Function("polkit", fs.readFileSync(process.argv[2], "utf8"))(polkit);
const ask = (id, user, unit, verb) =>
    rule({ id, lookup: (k) => ({ unit, verb })[k] }, { user });
const M = "org.freedesktop.systemd1.manage-units";
const cases = [
    [M, "pocket-id-sync", "pocket-id.service", "restart", "yes"],
    [M, "pocket-id-sync", "pocket-id-restart.service", "start", "yes"],
    [M, "pocket-id-sync", "pocket-id.service", "stop", "not_handled"],
    [M, "pocket-id-sync", "pocket-id-restart.service", "restart", "not_handled"],
    [M, "pocket-id-sync", "sshd.service", "restart", "not_handled"],
    [M, "someone-else", "pocket-id.service", "restart", "not_handled"],
    ["org.freedesktop.login1.reboot", "pocket-id-sync", undefined, undefined, "not_handled"],
];
let bad = 0;
for (const [id, user, unit, verb, want] of cases) {
    const got = ask(id, user, unit, verb);
    if (got !== want) { bad++; console.log(`${user} ${id} ${unit} ${verb}: got ${got}, want ${want}`); }
}
process.exit(bad ? 1 : 0);
JS
    ); then
        ok "polkit rule allows exactly the two restart actions"
    else
        bad "polkit rule: $out"
    fi
else
    echo "skip - polkit rule check (node not installed)"
fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
