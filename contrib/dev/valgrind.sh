#!/bin/sh
# Runs the unit tests and the CLI script tests under valgrind memcheck on a
# Debug build (build-valgrind/): any memory error or definite/indirect leak
# fails the run. Complements the ASan+UBSan suite of contrib/dev/test.sh,
# which it does not replace. Slow (a few minutes). Logs: build-valgrind/vg/.
set -eu
cd "$(dirname "$0")/../.."
root=$PWD
contrib/dev/install-deps.sh
command -v valgrind >/dev/null || { echo "valgrind is not installed" >&2; exit 1; }
cmake -S . -B build-valgrind -DCMAKE_BUILD_TYPE=Debug >/dev/null
cmake --build build-valgrind -j "$(nproc)"
vg="$root/build-valgrind/vg"
rm -rf "$vg" && mkdir -p "$vg"
cat > "$vg/pocket-id-sync" <<EOT
#!/bin/sh
exec valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect \
	--log-file=$vg/%p.log $root/build-valgrind/pocket-id-sync "\$@"
EOT
chmod +x "$vg/pocket-id-sync"
fail=0
for t in build-valgrind/tests/test_*; do
	[ -x "$t" ] || continue
	if valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect \
		--log-file="$vg/$(basename "$t").log" "$t" >/dev/null 2>&1; then
		echo "ok   $(basename "$t")"
	else
		echo "FAIL $(basename "$t") (see $vg/$(basename "$t").log)"; fail=1
	fi
done
for s in tests/cli/test_cli_basics.sh tests/cli/test_peer.sh tests/cli/test_promote.sh \
	 tests/cli/test_enrolment.sh tests/cli/test_restart.sh tests/cli/test_offline.sh \
	 tests/cli/test_check_config.sh; do
	if PIS_BIN="$vg/pocket-id-sync" PIS_SOURCE_DIR="$root" bash "$s" >"$vg/$(basename "$s").out" 2>&1; then
		echo "ok   $s"
	else
		echo "FAIL $s (see $vg/$(basename "$s").out)"; fail=1
	fi
done
# A script can pass while valgrind reported in a child it did not check.
if grep -l . "$vg"/[0-9]*.log >/dev/null 2>&1; then
	echo "FAIL valgrind reported errors:"; grep -l . "$vg"/[0-9]*.log; fail=1
fi
[ "$fail" = 0 ] && echo "valgrind: clean"
exit "$fail"
