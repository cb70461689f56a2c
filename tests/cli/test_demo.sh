#!/usr/bin/env bash
# demo.run: runs contrib/demo/demo.sh in --no-build mode with the built binary. Proves that it
# exits 0 and prints the arrival line, prints no secret (token, ENCRYPTION_KEY), removes its
# scratch directory, and exits non-zero with a clear message when the change does not arrive
# (a shim turns the secondary's long poll off). Skips (77) without python3-cryptography.
set -u
BIN=${PIS_BIN:?}
SRC=${PIS_SOURCE_DIR:?}
. "$(dirname "$0")/../lib/script.sh"
pis_need_python_crypto
pass=0 fail=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
ok() { pass=$((pass+1)); echo "ok   $1"; }
bad() { fail=$((fail+1)); echo "FAIL $1"; [ -n "${2:-}" ] && echo "$2" | sed 's/^/     /'; }

# 1. the demo as a user runs it (but with --keep, to look for secrets in its output)
mkdir "$tmp/a"
out=$(TMPDIR=$tmp/a PIS_BIN=$BIN "$SRC/contrib/demo/demo.sh" --no-build --keep 2>&1); rc=$?
[ $rc = 0 ] && ok "demo exits 0" || bad "demo exit $rc" "$out"
grep -qE '^   arrived on the secondary in [0-9]+ ms' <<<"$out" && ok "prints the arrival line" ||
	bad "no arrival line" "$out"
grep -qF 'demo: OK:' <<<"$out" && ok "ends with demo: OK" || bad "no OK line" "$out"
grep -qF "Next step: set it up for real" <<<"$out" && grep -qF "Bootstrap a primary and" <<<"$out" && ok "ends with a pointer to the next step" || bad "no next-step pointer" "$out"
dir=$(echo "$tmp"/a/pocket-id-sync-demo.*)
if [ -d "$dir" ]; then
	leaked=""
	for f in "$dir/primary/encryption.key" "$dir/secondary/encryption.key" "$dir/secondary/primary-token"; do
		[ -s "$f" ] && grep -qF -- "$(cat "$f")" <<<"$out" && leaked="$leaked $f"
	done
	[ -s "$dir/secondary/primary-token" ] && [ -z "$leaked" ] && ok "no secret in the output" ||
		bad "secret printed or token missing:$leaked"
	! grep -qE 'pisync1\.[A-Za-z0-9+/_-]' <<<"$out" && ok "token shown only as pisync1.…" || bad "token text shown"
	left=$(for p in /proc/[0-9]*; do readlink "$p/cwd"; done 2>/dev/null | grep -cF "$dir")
	[ "$left" = 0 ] && ok "no daemon left running" || bad "$left processes still run in $dir"
else
	bad "--keep did not keep the scratch directory"
fi

# 2. without --keep the scratch directory goes
mkdir "$tmp/b"
out=$(TMPDIR=$tmp/b PIS_BIN=$BIN "$SRC/contrib/demo/demo.sh" --no-build 2>&1); rc=$?
[ $rc = 0 ] && [ -z "$(ls -A "$tmp/b")" ] && ok "scratch directory removed" || bad "rc $rc, left: $(ls -A "$tmp/b")" "$out"

# 3. the change never arrives: the shim runs the enrolled secondary without the long poll
mkdir -p "$tmp/c" "$tmp/shim"
cat >"$tmp/shim/pocket-id-sync" <<EOT
#!/bin/sh
# test shim: the enrolled secondary gets SYNC_LONG_POLL_TIMEOUT=0 (the environment wins)
if [ "\$1" = run ] && grep -q SYNC_PRIMARY_TOKEN_FILE "\$3"; then
	SYNC_LONG_POLL_TIMEOUT=0; export SYNC_LONG_POLL_TIMEOUT
fi
exec "$BIN" "\$@"
EOT
chmod +x "$tmp/shim/pocket-id-sync"
out=$(TMPDIR=$tmp/c DEMO_TIMEOUT=5 PIS_BIN=$tmp/shim/pocket-id-sync "$SRC/contrib/demo/demo.sh" --no-build 2>&1); rc=$?
[ $rc = 1 ] && ok "no arrival: exit 1" || bad "no arrival: exit $rc" "$out"
grep -qF "FAILED at step" <<<"$out" && grep -qF "waiting for the change to reach the secondary" <<<"$out" &&
	ok "no arrival: clear message" || bad "no arrival: message" "$out"
! grep -qF "arrived on the secondary" <<<"$out" && ok "no arrival: no arrival line" || bad "arrival line printed"
[ -z "$(ls -A "$tmp/c")" ] && ok "no arrival: scratch directory removed" || bad "left: $(ls -A "$tmp/c")"

out=$("$SRC/contrib/demo/demo.sh" --bogus 2>&1); rc=$?
[ $rc = 2 ] && ok "unknown option: exit 2" || bad "unknown option: exit $rc" "$out"
out=$("$SRC/contrib/demo/demo.sh" --help 2>&1); rc=$?
[ $rc = 0 ] && grep -qF -- "--no-build" <<<"$out" && ok "--help" || bad "--help ($rc)" "$out"

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
