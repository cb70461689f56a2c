#!/usr/bin/env bash
# test_docs: the documentation against the binary. Owns these checks: every
# subcommand (`help`) and its long options (`CMD --help`) are in the man page
# and README; every variable of `help config` (which must equal the
# config_vars table in sidecar/config.c) is in both with its default; every
# metric family and failure reason the daemon can emit (metrics_dump output
# plus the families named in sidecar/metrics_render.c) is in README's metrics
# reference; every HTTP route of sidecar/http_server.c is in both; the man
# page renders without groff warnings and is installed by
# CMake; README has exactly the two quick-start commands and the bench marker;
# .ci/run runs contrib/dev/test.sh. Afterwards it breaks copies of the files
# on purpose and requires the matching check to fail, so no check is vacuous.
# Usage: test_docs.sh PATH_TO_metrics_dump   (PIS_BIN, PIS_SOURCE_DIR from CTest)
set -u
BIN=${PIS_BIN:?}
SRC=${PIS_SOURCE_DIR:?}
DUMP=${1:?usage: test_docs.sh PATH_TO_metrics_dump}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for v in $(env | sed -n 's/^\(SYNC_[A-Z_]*\)=.*/\1/p'); do unset "$v"; done

QS_DEMO='git clone <URL> pocket-id-sync && cd pocket-id-sync && contrib/demo/demo.sh'
QS_TEST='git clone <URL> pocket-id-sync && cd pocket-id-sync && contrib/dev/test.sh'
BENCH='build-rel/pocket-id-sync-bench --users 10000'

for tool in groff man; do
	command -v "$tool" >/dev/null 2>&1 ||
		{ echo "FAIL $tool is not installed (contrib/dev/install-deps.sh installs it)"; exit 1; }
done

# ---- facts from the binary and the source ----
subcommands=$("$BIN" help | awk '/^Subcommands:/ {f = 1; next} f && /^  [a-z]/ {print $1} f && /^$/ {exit}')
help_config=$("$BIN" help config)
vars=$(awk '/^  [A-Z]/ {print $1}' <<<"$help_config")
table_vars=$(sed -n 's/^[[:space:]]*{"\([A-Z_]*\)", .*/\1/p' "$SRC/sidecar/config.c")
# NAME<TAB>DEFAULT ("-" when none), from `help config`
defaults=$(sed -n 's/^  \([A-Z_]*\) .*(default: \([^)]*\))$/\1\t\2/p' <<<"$help_config")
dumps=$("$DUMP" primary && "$DUMP" secondary && "$DUMP" primary fresh && "$DUMP" secondary fresh)
metrics=$( { sed -n 's/^# TYPE \(pocket_id_sync_[a-z_]*\) .*/\1/p' <<<"$dumps"
	     sed -n 's/.*\(family\|gauge_double\|gauge_u64\)(b, "\([a-z_]*\)".*/pocket_id_sync_\2/p' \
		 "$SRC/sidecar/metrics_render.c"; } | sort -u)
reasons=$(sed -n 's/^pocket_id_sync_failures_total{reason="\([a-z_]*\)"}.*/\1/p' <<<"$dumps" | sort -u)
routes=$(sed -n 's/^[[:space:]]*{"\(\/[a-z/]*\)", EVHTTP.*/\1/p' "$SRC/sidecar/http_server.c")
options=$(for c in $subcommands; do "$BIN" "$c" --help; done |
	  grep -oE '^  (-[a-zA-Z], )?--[a-z][a-z-]*' | grep -oE -- '--[a-z][a-z-]*' | sort -u)

pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok   $1"; }
bad() { fail=$((fail + 1)); echo "FAIL $1${2:+: $2}"; }

# Sanity of the facts themselves (an empty list would make the checks vacuous).
[ "$(wc -w <<<"$subcommands")" -ge 10 ] && ok "help lists the subcommands" || bad "help lists the subcommands" "$subcommands"
[ "$(wc -w <<<"$vars")" -ge 20 ] && ok "help config lists the variables" || bad "help config lists the variables"
[ "$(sort <<<"$vars")" = "$(sort <<<"$table_vars")" ] && ok "help config = config_vars table" ||
	bad "help config = config_vars table" "$(diff <(sort <<<"$vars") <(sort <<<"$table_vars") | tr '\n' ' ')"
[ "$(wc -w <<<"$metrics")" -ge 15 ] && [ "$(wc -w <<<"$reasons")" -ge 8 ] && ok "metric families and reasons found" ||
	bad "metric families and reasons found" "$metrics / $reasons"
[ "$(wc -w <<<"$options")" -ge 8 ] && ok "subcommand options found" || bad "subcommand options found" "$options"
[ "$(wc -w <<<"$routes")" -ge 5 ] && ok "HTTP routes found" || bad "HTTP routes found" "$routes"
grep -qE 'install\(FILES .*contrib/man/pocket-id-sync\.8' "$SRC/CMakeLists.txt" &&
	grep -q 'CMAKE_INSTALL_MANDIR}/man8' "$SRC/CMakeLists.txt" && ok "CMake installs the man page" ||
	bad "CMake installs the man page"

# check_docs README MAN CIRUN: prints "ok   ID" or "FAIL ID: what is missing"
# for each check; the ID is the first word after ok/FAIL.
check_docs() {
	local readme=$1 man=$2 cirun=$3 miss rendered env_sec out x d row cell qs
	local -i nfail=0
	report() { if [ -z "$2" ]; then echo "ok   $1"; else echo "FAIL $1: missing$2"; nfail+=1; fi; }
	rendered=$(groff -man -Tascii -rLL=2000n -P-c -P-b -P-u "$man" 2>/dev/null)
	env_sec=$(sed -n '/^ENVIRONMENT$/,/^[A-Z][A-Z ]*$/p' <<<"$rendered")

	miss=; for x in $subcommands; do grep -qE "^\.SS $x( |$)" "$man" || miss+=" $x"; done
	report subcmd-man "$miss"
	miss=; for x in $subcommands; do grep -qE "pocket-id-sync $x([^a-z-]|$)" "$readme" || miss+=" $x"; done
	report subcmd-readme "$miss"
	miss=; for x in $options; do grep -qF -- "${x//-/\\-}" "$man" || miss+=" $x"; done
	report option-man "$miss"
	miss=; for x in $options; do grep -qE -- "$x([^a-z-]|$)" "$readme" || miss+=" $x"; done
	report option-readme "$miss"

	miss=; for x in $vars; do grep -qE "^       $x$" <<<"$env_sec" || miss+=" $x"; done
	report var-man "$miss"
	miss=; for x in $vars; do grep -qE "^\| \`$x\` \|" "$readme" || miss+=" $x"; done
	report var-readme "$miss"

	miss=
	for x in $vars; do
		d=$(awk -F'\t' -v n="$x" '$1 == n {print $2}' <<<"$defaults")
		row=$(awk -v n="       $x" '$0 == n {getline; print; exit}' <<<"$env_sec")
		if [ -n "$d" ]; then grep -qF "Default: $d." <<<"$row" || miss+=" $x=$d"
		else grep -qF "No default" <<<"$row" || miss+=" $x(no default)"; fi
	done
	report default-man "$miss"
	miss=
	for x in $vars; do
		d=$(awk -F'\t' -v n="$x" '$1 == n {print $2}' <<<"$defaults")
		cell=$(grep -E "^\| \`$x\` \|" "$readme" | head -1 | awk -F' \\| ' '{print $2}')
		if [ -n "$d" ]; then [ "$cell" = "\`$d\`" ] || miss+=" $x=$d"
		else [ "$cell" = "—" ] || miss+=" $x(no default: —)"; fi
	done
	report default-readme "$miss"

	miss=; for x in $routes; do grep -qF -- "$x" "$readme" && grep -qF -- "$x" "$man" || miss+=" $x"; done
	report route-docs "$miss"

	miss=; for x in $metrics; do grep -qE "^\| \`$x\` \|" "$readme" || miss+=" $x"; done
	report metric-readme "$miss"
	miss=; for x in $reasons; do grep -qE "^\| \`$x\` \|" "$readme" || miss+=" $x"; done
	report reason-readme "$miss"

	out=$(groff -man -Tutf8 -ww -z "$man" 2>&1); x=$?
	[ $x = 0 ] && [ -z "$out" ] && out=$(MANWIDTH=80 man -l "$man" 2>&1 >/dev/null) && [ -z "$out" ] &&
		MANWIDTH=80 man -l "$man" 2>/dev/null | grep -q '^POCKET-ID-SYNC(8)' && out= || out=" a clean render:${out:+ }${out//$'\n'/ }"
	report man-render "$out"

	# Exactly the two quick-start commands: in the Quick start section, each
	# alone inside a ```sh fence, and no other `git clone` line in the README.
	qs=$(sed -n '/^## Quick start/,/^## /p' "$readme")
	miss=
	[ "$(grep -c '^git clone ' "$readme")" = 2 ] || miss+=" exactly-two-git-clone-lines"
	for x in "$QS_DEMO" "$QS_TEST"; do
		[ "$(grep -cxF -- "$x" <<<"$qs")" = 1 ] || miss+=" '$x'"
		grep -B1 -xF -- "$x" <<<"$qs" | head -1 | grep -qx '```sh' || miss+=" fence-before '$x'"
	done
	[ -x "$SRC/contrib/dev/test.sh" ] || miss+=" executable contrib/dev/test.sh"
	[ ! -e "$SRC/contrib/demo/demo.sh" ] || [ -x "$SRC/contrib/demo/demo.sh" ] || miss+=" executable contrib/demo/demo.sh"
	report quickstart "$miss"

	grep -vE '^[[:space:]]*#' "$cirun" | grep -qE '(^|[[:space:]/])contrib/dev/test\.sh([[:space:]]|$)' &&
		report ci-run "" || report ci-run " a line running contrib/dev/test.sh"
	# The Benchmark section says how to rerun it and holds the results table.
	sed -n '/^## Benchmark/,/^## /p' "$readme" | grep -qF -- "$BENCH" &&
		sed -n '/^## Benchmark/,/^## /p' "$readme" | grep -q '^| measure |.*| target |$' &&
		report bench-results "" || report bench-results " the command '$BENCH' and a results table in ## Benchmark"
	return $((nfail > 0))
}

README=$SRC/README.md MAN=$SRC/contrib/man/pocket-id-sync.8 CIRUN=$SRC/.ci/run
out=$(check_docs "$README" "$MAN" "$CIRUN")
echo "$out"
pass=$((pass + $(grep -c '^ok ' <<<"$out"))) fail=$((fail + $(grep -c '^FAIL ' <<<"$out")))

# ---- every check must be able to fail: break a copy, expect that check ----
broken() { # broken ID DESCRIPTION README MAN CIRUN
	local id=$1 what=$2 res
	res=$(check_docs "$3" "$4" "$5")
	if grep -q "^FAIL $id:" <<<"$res"; then ok "$id fails when $what"
	else bad "$id did not fail when $what"; fi
}
first_var=$(head -1 <<<"$vars") first_sub=$(head -1 <<<"$subcommands")
last_metric=$(tail -1 <<<"$metrics") last_reason=$(tail -1 <<<"$reasons")
grep -vE "^\| \`$first_var\` \|" "$README" >"$tmp/r1"
broken var-readme "README lacks $first_var" "$tmp/r1" "$MAN" "$CIRUN"
sed 's/^| `SYNC_INTERVAL` | `5m` |/| `SYNC_INTERVAL` | `10m` |/' "$README" >"$tmp/r2"
broken default-readme "README's SYNC_INTERVAL default is wrong" "$tmp/r2" "$MAN" "$CIRUN"
grep -vE "^\| \`$last_metric\` \|" "$README" >"$tmp/r3"
broken metric-readme "README lacks $last_metric" "$tmp/r3" "$MAN" "$CIRUN"
grep -vE "^\| \`$last_reason\` \|" "$README" >"$tmp/r4"
broken reason-readme "README lacks reason $last_reason" "$tmp/r4" "$MAN" "$CIRUN"
sed "s/pocket-id-sync $first_sub\b/pocket-id-sync X/g" "$README" >"$tmp/r5"
broken subcmd-readme "README never names $first_sub" "$tmp/r5" "$MAN" "$CIRUN"
sed 's/--dry-run/--dry/g' "$README" >"$tmp/r6"
broken option-readme "README lacks --dry-run" "$tmp/r6" "$MAN" "$CIRUN"
{ cat "$README"; printf '```sh\ngit clone <URL> x && cd x && make\n```\n'; } >"$tmp/r7"
broken quickstart "README has a third git clone line" "$tmp/r7" "$MAN" "$CIRUN"
sed "s|contrib/demo/demo.sh\$|contrib/demo/demo.sh --fast|" "$README" >"$tmp/r8"
broken quickstart "the demo command differs" "$tmp/r8" "$MAN" "$CIRUN"
grep -vF -- "$BENCH" "$README" >"$tmp/r9"
broken bench-results "README lacks the benchmark command" "$tmp/r9" "$MAN" "$CIRUN"
grep -v '^| measure |' "$README" >"$tmp/r10"
broken bench-results "README lacks the results table" "$tmp/r10" "$MAN" "$CIRUN"
grep -vE "^\.SS $first_sub( |$)" "$MAN" >"$tmp/m1"
broken subcmd-man "the man page lacks .SS $first_sub" "$README" "$tmp/m1" "$CIRUN"
awk -v n=".B $first_var" '$0 == n {print ".B SYNC_NOPE"; next} {print}' "$MAN" >"$tmp/m2"
broken var-man "the man page lacks $first_var" "$README" "$tmp/m2" "$CIRUN"
sed 's/^\.BR info \.$/.BR warn ./' "$MAN" >"$tmp/m3"
broken default-man "the man page's SYNC_LOG_LEVEL default is wrong" "$README" "$tmp/m3" "$CIRUN"
sed 's/\\-\\-tsv/\\-\\-csv/g' "$MAN" >"$tmp/m4"
broken option-man "the man page lacks --tsv" "$README" "$tmp/m4" "$CIRUN"
{ cat "$MAN"; echo '.XYZZY not a macro'; } >"$tmp/m5"
broken man-render "the man page uses an undefined macro" "$README" "$tmp/m5" "$CIRUN"
sed 's|/sync/admin/peers|/sync/admin/peer|g' "$README" >"$tmp/r10"
broken route-docs "README lacks /sync/admin/peers" "$tmp/r10" "$MAN" "$CIRUN"
printf '#!/bin/sh\nexec ctest\n# contrib/dev/test.sh\n' >"$tmp/ci"
broken ci-run ".ci/run does not run contrib/dev/test.sh" "$README" "$MAN" "$tmp/ci"

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
