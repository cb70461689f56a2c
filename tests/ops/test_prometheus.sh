#!/usr/bin/env bash
# Proves contrib/prometheus passes promtool's config and rule checks (with lint)
# and that every alert fires and stays quiet as alerts_test.yml says, each alert
# being tested. Exit 77 = promtool not installed.
set -u
dir="$(cd "$(dirname "$0")/../../contrib/prometheus" && pwd)"

command -v promtool >/dev/null 2>&1 || { echo "SKIP: promtool not installed"; exit 77; }

pass=0 fail=0
run() { # label command...
    local out
    if out=$("${@:2}" 2>&1); then
        echo "ok   - $1"; pass=$((pass + 1))
    else
        echo "FAIL - $1"; printf '%s\n' "$out" | sed 's/^/       /'; fail=$((fail + 1))
    fi
}

cd "$dir" || exit 1
run "promtool check config prometheus.yml" promtool check config prometheus.yml
run "promtool check rules alerts.yml"      promtool check rules alerts.yml
run "promtool test rules alerts_test.yml"  promtool test rules alerts_test.yml

# Every alert defined must be exercised by the unit tests.
while read -r name; do
    if grep -q "alertname: $name\$" alerts_test.yml; then
        echo "ok   - $name is unit-tested"; pass=$((pass + 1))
    else
        echo "FAIL - $name has no test in alerts_test.yml"; fail=$((fail + 1))
    fi
done < <(sed -n 's/^ *- alert: *//p' alerts.yml | sort -u)

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
