#!/usr/bin/env bash
# Proves that the C sealing layer (through tests/tools/seal_tool) and the
# independent Python peer (tests/peer/pisync_peer.py, written from
# proto/SPEC.md) interoperate: keys, seal/open both ways, a payload document
# with every cell type, the committed vectors, refusal of a sealer that is not
# the pinned primary, and the same verdicts as the C reader on the payload fuzz
# corpus. Skips (77) when /usr/bin/python3 lacks cryptography.
# Usage: test_interop.sh PATH/TO/seal_tool
set -u
TOOL=${1:?usage: test_interop.sh PATH/TO/seal_tool}
case $TOOL in /*) ;; *) TOOL=$PWD/$TOOL ;; esac
SRC=${PIS_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
PY=/usr/bin/python3
. "$(dirname "$0")/../lib/script.sh"
pis_need_python_crypto
PEER=("$PY" "$SRC/tests/peer/pisync_peer.py")
pass=0 fail=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp" || exit 1

ok() { pass=$((pass+1)); echo "ok   $1"; }
bad() { fail=$((fail+1)); echo "FAIL $1"; [ -n "${out:-}" ] && echo "$out" | sed 's/^/     /'; }
check() { # check NAME EXPECTED_STATUS COMMAND... ; output in $out
	local name=$1 want=$2; shift 2
	out=$("$@" 2>&1); local got=$?
	if [ "$got" = "$want" ]; then ok "$name"; else bad "$name: status $got, want $want"; fi
}
contains() { # contains NAME NEEDLE  (in $out)
	if grep -qF -- "$2" <<<"$out"; then ok "$1"; else bad "$1: output lacks '$2'"; fi
}
same_file() { # same_file NAME A B
	if cmp -s "$2" "$3"; then ok "$1"; else out=""; bad "$1: $2 and $3 differ"; fi
}

# Keys: the primary's made by C, the secondary's and a stranger's by Python.
check "C keygen" 0 "$TOOL" keygen --out primary.key
check "Python keygen" 0 "${PEER[@]}" keygen --out secondary.key
check "Python keygen (stranger)" 0 "${PEER[@]}" keygen --out stranger.key
for k in primary secondary stranger; do
	c=$("$TOOL" pubkey --key $k.key) p=$("${PEER[@]}" pubkey --key $k.key)
	if [ -n "$c" ] && [ "$c" = "$p" ]; then ok "$k.key: same public key in C and Python";
	else out="C: $c / Python: $p"; bad "$k.key public keys"; fi
done
P=$("$TOOL" pubkey --key primary.key)
Q=$("$TOOL" pubkey --key secondary.key)
X=$("$TOOL" pubkey --key stranger.key)
perm=$(stat -c %a secondary.key)
[ "$perm" = 600 ] && ok "Python key file mode 600" || { out=""; bad "Python key mode $perm"; }
[ "$(stat -c %s secondary.key)" = 45 ] && ok "Python key file is 45 bytes" || { out=""; bad "key size"; }

# Seal layer, both directions, random and empty plaintexts.
head -c 1000 /dev/urandom >random.bin
: >empty.bin
for pt in random empty; do
	check "C seals $pt" 0 "$TOOL" seal --sender-key primary.key --to "$Q" --in $pt.bin --out $pt.c.sealed
	check "Python opens C's $pt" 0 "${PEER[@]}" open --key secondary.key --from "$P" --in $pt.c.sealed --out $pt.c.opened
	same_file "$pt: C -> Python byte-identical" $pt.bin $pt.c.opened
	check "Python seals $pt" 0 "${PEER[@]}" seal --sender-key primary.key --to "$Q" --in $pt.bin --out $pt.py.sealed
	check "C opens Python's $pt" 0 "$TOOL" open --key secondary.key --from "$P" --in $pt.py.sealed --out $pt.py.opened
	same_file "$pt: Python -> C byte-identical" $pt.bin $pt.py.opened
done
[ "$(stat -c %s random.c.sealed)" = 1060 ] && ok "wire = plaintext + 60" || { out=""; bad "wire size"; }

# A payload document with every cell type, built from real SQLite values.
"$PY" - source.db <<'EOF' || { out=""; bad "create source.db"; }
import sqlite3, sys
con = sqlite3.connect(sys.argv[1])
con.execute("CREATE TABLE cells (id INTEGER PRIMARY KEY, v)")  # v: no affinity
values = [None, -2**63, 2**63 - 1, 0, -1, -0.0, 0.0, float("inf"), float("-inf"), 0.1,
          1 / 3, 1e308, 5e-324, "", "café", "line\nbreak \"quoted\" \\ \u2028",
          b"", b"\x00\xff"]
for v in values:
    con.execute("INSERT INTO cells (v) VALUES (?)", (v,))
con.execute("INSERT INTO cells (v) VALUES (CAST(x'610062' AS TEXT))")   # text with NUL
con.execute("INSERT INTO cells (v) VALUES (CAST(x'ff' AS TEXT))")       # invalid UTF-8
con.execute("INSERT INTO cells (v) VALUES (CAST(x'c0c0' AS TEXT))")     # overlong
con.execute("CREATE TABLE users (id TEXT PRIMARY KEY, username TEXT, is_admin INTEGER,"
            " score REAL, avatar BLOB)")
con.execute("INSERT INTO users VALUES ('u1', 'alice', 1, 2.5, x'89504e47')")
con.execute("INSERT INTO users VALUES ('u2', 'bob', 0, NULL, NULL)")
con.commit()
EOF
check "Python builds the document" 0 "${PEER[@]}" doc-build --sender "$P" --to "$Q" --db source.db \
	--generation 7 --schema-version 20260708130000 --issued-at 2026-11-22T20:00:00Z --out doc.json
check "C seals the document" 0 "$TOOL" seal --sender-key primary.key --to "$Q" --in doc.json --out doc.c.sealed
check "Python opens it" 0 "${PEER[@]}" open --key secondary.key --from "$P" --in doc.c.sealed --out doc.c.json
same_file "document: C -> Python byte-identical" doc.json doc.c.json
check "document valid, identical to source.db" 0 "${PEER[@]}" doc-check --in doc.c.json --key secondary.key \
	--from "$P" --dump --compare-db source.db
contains "document: summary" "ok generation 7 schema_version 20260708130000 tables 2 rows 23"
contains "document: identical" "identical to source.db"
for cell in "integer -9223372036854775808" "integer 9223372036854775807" "real -0.0 (8000000000000000)" \
	"real 0.0 (0000000000000000)" "real inf" "real -inf" "real 5e-324" "text 610062" "text ff" \
	"text c0c0" "text (empty)" "blob (empty)" "blob 00ff" "= null None"; do
	contains "document carries $cell" "$cell"
done
check "Python seals the document" 0 "${PEER[@]}" seal --sender-key primary.key --to "$Q" --in doc.json --out doc.py.sealed
check "C opens it" 0 "$TOOL" open --key secondary.key --from "$P" --in doc.py.sealed --out doc.py.json
same_file "document: Python -> C byte-identical" doc.json doc.py.json
check "document from C valid" 0 "${PEER[@]}" doc-check --in doc.py.json --key secondary.key --from "$P" \
	--compare-db source.db
check "document: replay refused" 1 "${PEER[@]}" doc-check --in doc.py.json --key secondary.key --from "$P" \
	--last-generation 8
contains "document: replay message" "replay/rollback"
check "document: same generation is a no-op" 0 "${PEER[@]}" doc-check --in doc.py.json --key secondary.key \
	--from "$P" --last-generation 7
contains "document: no-op message" "(nothing to do)"
check "document: for another node refused" 1 "${PEER[@]}" doc-check --in doc.py.json --key stranger.key --from "$P"
contains "document: other-node message" "payload is for another node"
sed 's/"format":1,/"format":2,/' doc.json >doc2.json
check "document: format 2 refused" 1 "${PEER[@]}" doc-check --in doc2.json --key secondary.key --from "$P"
contains "document: format message" "unsupported payload format 2 (this build reads 1)"

# The payload fuzz corpus holds the documents section 5 refuses (reject-*) and
# ones it accepts; the C reader's verdicts are checked by unit.payload. All use
# one made-up key as sender and recipient, except the vector (checked above).
K=AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=
for f in "$SRC"/tests/fuzz/corpus/payload/*.json; do
	name=$(basename "$f")
	case $name in vector-*) continue ;; reject-*) want=1 ;; *) want=0 ;; esac
	check "corpus $name: Python agrees with C" $want "${PEER[@]}" doc-check --in "$f" --to "$K" --from "$K"
	[ $want = 1 ] && contains "corpus $name: refused as a document" "refused: DOCUMENT"
done

# The committed vectors, recomputed independently.
check "Python vectors-check" 0 "${PEER[@]}" vectors-check "$SRC/proto/vectors"
contains "vectors: none failed" " 0 failed"

# Refusals across implementations.
check "Python seals as a stranger" 0 "${PEER[@]}" seal --sender-key stranger.key --to "$Q" --in random.bin --out forged.py
check "C refuses a non-pinned sealer" 1 "$TOOL" open --key secondary.key --from "$P" --in forged.py --out x
contains "C says AUTH" "refused: AUTH"
[ ! -e x ] && ok "nothing written on refusal" || { out=""; bad "output written on refusal"; }
check "C seals as a stranger" 0 "$TOOL" seal --sender-key stranger.key --to "$Q" --in random.bin --out forged.c
check "Python refuses a non-pinned sealer" 1 "${PEER[@]}" open --key secondary.key --from "$P" --in forged.c --out x
contains "Python says AUTH" "refused: AUTH"
check "C refuses the wrong recipient" 1 "$TOOL" open --key stranger.key --from "$P" --in random.py.sealed --out x
contains "C says AUTH (wrong recipient)" "refused: AUTH"
"$PY" -c 'import sys; b = bytearray(open(sys.argv[1], "rb").read()); b[500] ^= 1; open(sys.argv[2], "wb").write(b)' \
	random.py.sealed flipped
check "C refuses a flipped bit" 1 "$TOOL" open --key secondary.key --from "$P" --in flipped --out x
head -c 59 random.py.sealed >short
check "C refuses 59 bytes" 1 "$TOOL" open --key secondary.key --from "$P" --in short --out x
contains "C says MALFORMED" "refused: MALFORMED"
check "C enforces max-wire" 1 "$TOOL" open --key secondary.key --from "$P" --in random.py.sealed --out x --max-wire 1059
contains "C says TOO_LARGE" "refused: TOO_LARGE"
check "Python enforces max-wire" 1 "${PEER[@]}" open --key secondary.key --from "$P" --in random.c.sealed --out x --max-wire 1059
contains "Python says TOO_LARGE" "refused: TOO_LARGE"
"$PY" -c 'import sys; b = bytearray(open(sys.argv[1], "rb").read()); b[:32] = bytes(32); open(sys.argv[2], "wb").write(b)' \
	random.py.sealed zero-eph
check "C refuses an all-zero ephemeral key" 1 "$TOOL" open --key secondary.key --from "$P" --in zero-eph --out x
contains "C says WEAK_KEY" "refused: WEAK_KEY"
check "Python refuses an all-zero ephemeral key" 1 "${PEER[@]}" open --key secondary.key --from "$P" --in zero-eph --out x
contains "Python says WEAK_KEY" "refused: WEAK_KEY"

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
