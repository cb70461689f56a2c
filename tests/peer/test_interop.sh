#!/usr/bin/env bash
# Proves that the C sealing layer (through tests/tools/seal_tool) and the
# independent Python peer (tests/peer/pisync_peer.py, written from
# proto/SPEC.md) interoperate: keys, seal/open both ways, a payload document
# with every cell type, the committed vectors, refusal of a sealer that is not
# the pinned primary, and the same verdicts as the C reader on the payload fuzz
# corpus; for format 2: the same rows hash on fixture databases of every
# release (every cell type, a CIMD client, node-local rows), Python-built full
# and delta documents accepted by the C reader with the C rows hashes, the
# same refusals of broken documents and of the doc2 corpus, and the format-2
# vectors. Skips (77) when /usr/bin/python3 lacks cryptography.
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

# --- Format 2 (SPEC 5A) and the rows hash (5B, appendix A) ------------------
FIX=("$PY" "$SRC/tests/tools/pocketid_fixture.py")
printf 'interop-encryption-key-0123456789' >enc.key
same() { # same NAME GOT WANT
	if [ -n "$2" ] && [ "$2" = "$3" ]; then ok "$1"; else out="got '$2', want '$3'"; bad "$1"; fi
}
differ() { # differ NAME A B
	if [ -n "$2" ] && [ "$2" != "$3" ]; then ok "$1"; else out="both '$2'"; bad "$1"; fi
}
hash_c() { "$TOOL" rows-hash --db "$1" 2>&1; }
hash_py() { "${PEER[@]}" rows-hash --db "$1" 2>&1; }
both_hash() { # both_hash NAME DB: C and Python agree; the hash in $H
	H=$(hash_c "$2"); same "$1: C and Python rows hash" "$(hash_py "$2")" "$H"
}
sql() { "$PY" -c 'import sqlite3, sys
con = sqlite3.connect(sys.argv[1]); con.execute("PRAGMA foreign_keys = ON")
con.executescript(sys.argv[2]); con.commit()' "$@"; }

for V in v1.9 v2.0 v2.10 v2.11 v2.14; do
	db=fx-$V.db
	check "[$V] fixture database" 0 "${FIX[@]}" create --db $db --version $V \
		--instance-id 0b9e8d7c-6a5f-4e3d-2c1b-0a9f8e7d6c5b --encryption-key-file enc.key --generate-jwk --seed demo
	both_hash "[$V] seeded" $db
	seeded=$H
	check "[$V] local runtime rows" 0 "${FIX[@]}" local --db $db --node p
	both_hash "[$V] with runtime rows" $db
	same "[$V] runtime tables do not count" "$H" "$seeded"
	# Node-local rows of shipped tables (appendix A) and app_config_variables.
	if [ $V != v1.9 ]; then
		sql $db "INSERT INTO storage VALUES ('profile-pictures/defaults/u1.png', x'89504e47', 4, 1, 1);
			INSERT INTO storage VALUES ('profile-pictures/defaults/sub/u2.png', x'', 0, 1, 1);
			UPDATE storage SET mod_time = 1800000000;"
	fi
	if [ $V != v2.14 ]; then
		sql $db "INSERT OR REPLACE INTO app_config_variables (key, value) VALUES ('ldapEnabled', 'true'),
			('logoDarkImageType', 'png'), ('appName', 'Renamed'), ('accentColor', '#abcdef');"
	fi
	both_hash "[$V] with node-local rows, app_config_variables and bookkeeping changes" $db
	same "[$V] none of them counts" "$H" "$seeded"
	if [ $V != v1.9 ]; then
		sql $db "INSERT INTO storage VALUES ('profile-pictures/u1.png', x'89504e47', 4, 1, 1);"
		both_hash "[$V] with a shipped storage row" $db
		differ "[$V] a shipped row counts" "$H" "$seeded"
	fi
done

# v2.14 with a CIMD client (metadata columns not counted), its allowed-group
# row, and every storage class in BLOB-affinity columns of standard clients.
db=fx-v2.14.db
both_hash "[v2.14] before the CIMD client" $db
before_cimd=$H
sql $db "INSERT INTO oidc_clients (id, created_at, name, callback_urls, client_type, pkce_supported, launch_url)
	VALUES ('https://app.example/client.json', 1, 'App', '[\"https://app.example/cb\"]', 'cimd', 1, 'https://app.example');
	INSERT INTO oidc_clients_allowed_user_groups SELECT id, 'https://app.example/client.json' FROM user_groups LIMIT 1;"
both_hash "[v2.14] with a CIMD client" $db
cimd=$H
differ "[v2.14] the CIMD client counts" "$cimd" "$before_cimd"
sql $db "UPDATE oidc_clients SET name = 'From the metadata document', callback_urls = x'00',
	pkce_supported = 0 WHERE client_type = 'cimd';"
both_hash "[v2.14] CIMD metadata and per-node columns changed" $db
same "[v2.14] they do not count" "$H" "$cimd"
sql $db "UPDATE oidc_clients SET launch_url = 'https://app.example/home' WHERE client_type = 'cimd';"
both_hash "[v2.14] CIMD admin column changed" $db
differ "[v2.14] an admin-edited column counts" "$H" "$cimd"
"$PY" - $db <<'EOF' || { out=""; bad "every storage class"; }
import sqlite3, sys
con = sqlite3.connect(sys.argv[1])
values = [None, -2**63, 2**63 - 1, 0, -0.0, 0.0, float("inf"), float("-inf"), 0.1, 5e-324,
          "", "café", b"", b"\x00\xff"]
for i, v in enumerate(values):
    con.execute("INSERT INTO oidc_clients (id, created_at, callback_urls, credentials, name)"
                " VALUES (?, 1, ?, ?, ?)", (f"cells-{i}", v, v, f"c{i}"))
for i, raw in enumerate(("610062", "ff", "c0c0")):  # text with NUL, invalid UTF-8, overlong
    con.execute("INSERT INTO oidc_clients (id, created_at, callback_urls, name)"
                f" VALUES ('text-{i}', 1, CAST(x'{raw}' AS TEXT), 'x')")
con.commit()
n = con.execute("SELECT count(DISTINCT typeof(callback_urls)) FROM oidc_clients").fetchone()[0]
sys.exit(0 if n == 5 else 1)
EOF
both_hash "[v2.14] every storage class" $db

# A full snapshot built by Python (2 rows per record: tables over several
# records), checked by C and Python; its rows hash is both sides' own.
FULL_HASH=$H
check "Python doc2-build --full" 0 "${PEER[@]}" doc2-build --sender "$P" --to "$Q" --db $db \
	--generation 9 --schema-version 20260814120000 --issued-at 2026-11-22T20:00:00Z --full \
	--rows-per-record 2 --out full2.txt
check "C doc2-check accepts the full snapshot" 0 "$TOOL" doc2-check --in full2.txt
contains "C: full, generation 9, the C rows hash" "ok kind full generation 9 rows_hash $FULL_HASH "
contains "C: jwt_key null" "jwt_key null"
check "Python doc2-check --compare-db" 0 "${PEER[@]}" doc2-check --in full2.txt --key secondary.key \
	--from "$P" --compare-db $db --dump
contains "Python: rows hash equals the database's" "rows_hash equals that of $db"
grep -qF '"t:https://app.example/client.json"' full2.txt && ok "a CIMD client on the wire" ||
	{ out=""; bad "no CIMD client on the wire"; }
contains "Python: INT64_MIN on the wire" "integer -9223372036854775808"
if grep -q 'profile-pictures/defaults\|"t:ldapEnabled"\|"t:instanceId"' full2.txt; then
	out=""; bad "node-local rows shipped"; else ok "no node-local row shipped"; fi
n=$(grep -c '"table":"users"' full2.txt)
[ "$n" -ge 2 ] && ok "users over $n records" || { out=""; bad "users in $n records"; }
check "C seals the full snapshot" 0 "$TOOL" seal --sender-key primary.key --to "$Q" --in full2.txt --out full2.sealed
check "Python opens it" 0 "${PEER[@]}" open --key secondary.key --from "$P" --in full2.sealed --out full2.opened
same_file "full snapshot: C -> Python byte-identical" full2.txt full2.opened
check "Python refuses it for another node" 1 "${PEER[@]}" doc2-check --in full2.txt --key stranger.key --from "$P"
contains "Python: other-node message" "payload is for another node"
check "Python format-1 reader refuses a format-2 document" 1 "${PEER[@]}" doc-check --in full2.txt --key secondary.key --from "$P"

# A delta: users renamed, added and deleted, a storage row added,
# app_config_variables (v2.0), a new JWT key (v2.14).
printf '%s\n' '{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}' >new-jwk.json
for V in v2.0 v2.14; do
	cp fx-$V.db base-$V.db
	check "[$V] rename a user" 0 "${FIX[@]}" rename-user --db fx-$V.db --username bob --to robert
	sql fx-$V.db "DELETE FROM users WHERE username = 'carol';
		INSERT INTO users (id, username, first_name, last_name, display_name, email)
		SELECT 'u-new', 'newbie', 'New', 'Bie', 'New Bie', 'newbie@example.com';
		INSERT INTO storage VALUES ('application-images/background.webp', x'52494646', 4, 1, 1);"
	[ $V = v2.0 ] && sql fx-$V.db "UPDATE app_config_variables SET value = 'Delta Demo' WHERE key = 'appName';"
	base=$(hash_c base-$V.db) after=$(hash_c fx-$V.db)
	differ "[$V] the change changes the rows hash" "$after" "$base"
	jwt=() want_jwt=absent
	[ $V = v2.14 ] && jwt=(--jwt-key new-jwk.json) want_jwt=present
	check "[$V] Python doc2-build delta" 0 "${PEER[@]}" doc2-build --sender "$P" --to "$Q" --db fx-$V.db \
		--delta-from base-$V.db --base-generation 9 --generation 10 --schema-version 20260814120000 \
		--issued-at 2026-11-22T20:00:00Z "${jwt[@]}" --out delta-$V.txt
	check "[$V] C doc2-check accepts the delta" 0 "$TOOL" doc2-check --in delta-$V.txt
	contains "[$V] C: its hashes are the C rows hashes" \
		"ok kind delta generation 10 rows_hash $after tables"
	contains "[$V] C: base" "base_generation 9 base_rows_hash $base jwt_key $want_jwt"
	check "[$V] Python doc2-check --compare-db (after)" 0 "${PEER[@]}" doc2-check --in delta-$V.txt \
		--key secondary.key --from "$P" --compare-db fx-$V.db --dump
	contains "[$V] Python: a deleted key" "users deleted[0] = text"
	check "[$V] Python doc2-check --compare-db (base) differs" 1 "${PEER[@]}" doc2-check --in delta-$V.txt \
		--key secondary.key --from "$P" --compare-db base-$V.db
	contains "[$V] Python: says it differs" "differs: rows_hash of base-$V.db"
	if grep -q '"key":\["id"\]' delta-$V.txt && grep -q '"table":"storage"' delta-$V.txt; then
		ok "[$V] changes records for users and storage"; else out=$(cut -c1-200 delta-$V.txt); bad "[$V] changes records"; fi
done
grep -q '"table":"app_config_variables","columns":\["key","value"\],"rows"' delta-v2.0.txt &&
	! grep -q '"table":"app_config_variables".*"key":\[' delta-v2.0.txt &&
	ok "[v2.0] app_config_variables travels whole" || { out=""; bad "[v2.0] app_config_variables whole"; }

# Refusals: documents made from a valid Python delta, refused by both readers.
mutate() { # mutate OUT PYTHON_EXPR_ON_LINES  (lines: list of bytes records without LF)
	"$PY" - delta-v2.14.txt "$1" "$2" <<'EOF'
import json, sys
lines = open(sys.argv[1], "rb").read().split(b"\n")[:-1]
J = lambda b: json.loads(b)
D = lambda o: json.dumps(o, ensure_ascii=False, separators=(",", ":")).encode()
users = next(i for i, l in enumerate(lines) if b'"table":"users"' in l)
exec(sys.argv[3])
open(sys.argv[2], "wb").write(b"".join(l + b"\n" for l in lines))
EOF
}
both_refuse() { # both_refuse NAME FILE C_NEEDLE PY_NEEDLE
	check "$1: C refuses" 1 "$TOOL" doc2-check --in "$2"
	contains "$1: C says why" "$3"
	check "$1: Python refuses" 1 "${PEER[@]}" doc2-check --in "$2" --key secondary.key --from "$P"
	contains "$1: Python says why" "$4"
}
mutate dup-key.txt 'u = J(lines[users]); u["deleted"].append([u["rows"][0][0]]); lines[users] = D(u)'
both_refuse "a duplicated key" dup-key.txt "one key appears twice" "a key appears twice"
mutate key-col.txt 'u = J(lines[users]); u["key"] = ["uid"]; lines[users] = D(u)'
both_refuse "a key column not among the columns" key-col.txt "key column uid is not one of its columns" "key must name"
mutate twice.txt 'h = J(lines[0]); h["tables"] += 1; lines[0] = D(h); lines.append(lines[users])'
both_refuse "a table twice in a delta" twice.txt "table users appears twice" "appears twice"
mutate whole.txt 'u = J(lines[users]); del u["key"], u["deleted"]; lines[users] = D(u)'
both_refuse "a whole users record in a delta" whole.txt "a delta carries a changes record" "travels as a changes record"
mutate fewer.txt 'h = J(lines[0]); h["tables"] += 1; lines[0] = D(h)'
both_refuse "fewer records than announced" fewer.txt "the document ends before record" "the document ends before record"
mutate more.txt 'h = J(lines[0]); h["tables"] -= 1; lines[0] = D(h)'
both_refuse "more records than announced" more.txt "bytes follow the" "bytes follow the"
mutate fmt3.txt 'h = J(lines[0]); h["format"] = 3; lines[0] = D(h)'
both_refuse "format 3" fmt3.txt "unsupported payload format 3 (this build reads 1 and 2)" \
	"unsupported payload format 3 (this build reads 1 and 2)"
mutate base.txt 'h = J(lines[0]); h["base_generation"] = h["generation"]; lines[0] = D(h)'
both_refuse "base_generation not below generation" base.txt "is not below" "base_generation is not below"
mutate full-key.txt 'h = J(lines[0]); h["kind"] = "full"; h["jwt_key"] = None; del h["base_generation"], h["base_rows_hash"]; lines[0] = D(h)'
both_refuse "key and deleted in a full document" full-key.txt "a full document has only whole records" "a full document has only whole records"
mutate hash.txt 'h = J(lines[0]); h["rows_hash"] = h["rows_hash"][:-2] + "j="; lines[0] = D(h)'
both_refuse "a non-canonical rows_hash" hash.txt "\"rows_hash\" is not the base64 of 32 bytes" "rows_hash is not the base64 of 32 bytes"
mutate lf.txt 'lines[users] = lines[users].replace(b"\"rows\":", b"\n\"rows\":")'
both_refuse "a raw line feed inside a record" lf.txt "record 2" "record 2"
head -c -1 delta-v2.14.txt >nolf.txt
both_refuse "no line feed after the last record" nolf.txt "does not end with a line feed" "does not end with a line feed"

# The doc2 fuzz corpus: Python and C agree with each file's verdict (reject-*
# refused, the rest accepted). All use one made-up key as sender and recipient.
for f in "$SRC"/tests/fuzz/corpus/doc2/*; do
	name=$(basename "$f")
	case $name in vector-*) continue ;; reject-*) want=1 ;; *) want=0 ;; esac
	check "doc2 corpus $name: C" $want "$TOOL" doc2-check --in "$f"
	check "doc2 corpus $name: Python agrees" $want "${PEER[@]}" doc2-check --in "$f" --to "$K" --from "$K"
done

# Differential: seeded random mutations of the doc2 corpus (a cell replaced by
# another, well-formed or not; deletions, insertions of JSON tokens, line
# feeds, NULs and bytes that are not UTF-8, duplicated spans); the C and the
# Python reader reach the same verdict on every one (sender and recipient are
# not compared with keys here).
mkdir mutants
"$PY" - "$SRC/tests/fuzz/corpus/doc2" mutants <<'EOF'
import os, random, re, sys
random.seed(20261122)
src, dst = sys.argv[1], sys.argv[2]
names = sorted(os.listdir(src))
seeds = [open(os.path.join(src, f), "rb").read() for f in names]
good = [b for f, b in zip(names, seeds) if not f.startswith("reject-")]
toks = [b"\n", b"\r", b'"', b"{", b"}", b"[", b"]", b",", b":", b"null", b"0", b"-0", b"1e0",
        b'"key":["id"]', b'"deleted":[]', b"\\u0000", b"\x00", b"\xff", b"\xef\xbb\xbf", b'"t:',
        b'"i:1"', b'"r:-0.0"', b'"table":"users"', b'"tables":1', b'"kind":"delta"']
cells = [b"null", b'"i:0"', b'"i:-0"', b'"i:01"', b'"i:9223372036854775808"', b'"r:1e-400"',
         b'"r:-1e-400"', b'"r:1e400"', b'"r:.5"', b'"r:-0"', b'"r:inf"', b'"r:nan"', b'"t:"',
         b'"t:\\u0000"', b'"t:\\ud800"', b'"x:AA=="', b'"x:YQ=="', b'"x:"', b'"b:"', b'"b:AP8"',
         b'"q:1"', b"1", b"true", b'"t:\\u00e9"', b'"t:u1"', b'"t:u2"', b'"i:7"']
cell_re = re.compile(rb'null|"[a-z]:[^"\\]*"')
for i in range(400):
    b = bytearray(random.choice(good if i % 4 else seeds))  # mostly valid documents
    for _ in range(random.randint(1, 2 if i % 4 else 3)):
        op, p = random.random(), random.randrange(len(b) + 1)
        spots = [m.span() for m in cell_re.finditer(b)]
        if op < 0.35 and spots:  # one cell for another: mostly still a document
            x, y = random.choice(spots)
            b[x:y] = random.choice(cells)
        elif op < 0.5 and b:
            del b[p:p + random.randint(1, 8)]
        elif op < 0.7:
            b[p:p] = random.choice(toks)
        elif op < 0.85 and b:
            b[min(p, len(b) - 1)] = random.randrange(256)
        else:
            q = random.randrange(len(b) + 1)
            b[p:p] = b[min(p, q):max(p, q)][:200]
    open(os.path.join(dst, f"m{i:03d}"), "wb").write(b)
EOF
"${PEER[@]}" doc2-verdicts mutants/* >verdicts.py 2>&1 || { out=$(tail -3 verdicts.py); bad "Python verdicts"; }
agree=0 disagree=0 accepted=0
while read -r want path rest; do
	"$TOOL" doc2-check --in "$path" >/dev/null 2>&1; got=$?
	if [ "$got" = "$want" ]; then agree=$((agree+1)); [ "$got" = 0 ] && accepted=$((accepted+1))
	else disagree=$((disagree+1)); echo "     $path: C $got, Python $want $rest"; fi
done <verdicts.py
[ "$disagree" = 0 ] && [ "$agree" = 400 ] && ok "400 mutated documents: the same verdict in C and Python ($accepted accepted)" ||
	{ out=""; bad "mutated documents: $disagree verdicts differ, $agree agree"; }
[ "$accepted" -gt 0 ] && [ "$accepted" -lt 400 ] && ok "mutants: some accepted, some refused" ||
	{ out=""; bad "mutants: $accepted of 400 accepted"; }

# The committed format-2 vectors, checked by C: the rows hash of
# rows-hash.json's content, the sealed delta opened, its base that content
# and its rows_hash the content after it.
VEC=$SRC/proto/vectors
vget() { "$PY" -c 'import json, sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$@"; }
check "vector content as a database" 0 "${PEER[@]}" vector-db --vector "$VEC/rows-hash.json" --out vec-base.db
check "vector content after the delta" 0 "${PEER[@]}" vector-db --vector "$VEC/rows-hash.json" \
	--apply "$VEC/doc2-delta.json" --out vec-after.db
VBASE=$(vget "$VEC/rows-hash.json" rows_hash)
same "C rows hash of rows-hash.json" "$(hash_c vec-base.db)" "$VBASE"
(umask 077; vget "$VEC/doc2-delta.json" recipient_private >vec-recipient.key)
vget "$VEC/doc2-delta.json" wire | "$PY" -c 'import base64, sys; sys.stdout.buffer.write(base64.b64decode(sys.stdin.read()))' >vec.wire
check "C opens doc2-delta.json's wire" 0 "$TOOL" open --key vec-recipient.key \
	--from "$(vget "$VEC/doc2-delta.json" sender_public)" --in vec.wire --out vec.plain
check "C doc2-check accepts the vector's plaintext" 0 "$TOOL" doc2-check --in vec.plain
contains "C: the vector's delta starts at rows-hash.json's content" "base_rows_hash $VBASE "
contains "C: and ends at the content after it" "rows_hash $(hash_c vec-after.db) tables 3"

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
