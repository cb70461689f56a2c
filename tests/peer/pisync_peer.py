#!/usr/bin/python3
"""pisync_peer: an independent implementation of proto/SPEC.md (sections 2, 3,
5, 5A, 5B and appendix A) in Python, written from the specification rather
than from the C code, to prove the specification is enough and the C
implementation follows it. It owns key files, seal/open, payload-document
builders and validators for formats 1 and 2, and the rows hash; it has no HTTP
side and does not apply documents to a database. Needs only the standard
library and `cryptography` (Debian's python3-cryptography); run it with
/usr/bin/python3.

Subcommands (exit 0 = ok, 1 = refused or mismatch, 2 = usage):
  keygen --out FILE
  pubkey --key FILE
  seal --sender-key FILE --to PUB_B64 --in FILE --out FILE
  open --key FILE --from PUB_B64 --in FILE --out FILE [--max-wire BYTES]
  vectors-check DIR
  doc-build --sender PUB_B64 --to PUB_B64 --db SQLITE [--table NAME ...]
            --generation N --schema-version V [--issued-at T] [--jwt-key FILE]
            --out FILE
  doc-check --in FILE (--key FILE | --to PUB_B64) --from PUB_B64
            [--last-generation N] [--dump] [--compare-db SQLITE]
  doc2-build --sender PUB_B64 --to PUB_B64 --db SQLITE --generation N
            --schema-version V [--issued-at T] [--jwt-key FILE]
            (--full | --delta-from BASE_SQLITE --base-generation B)
            [--rows-per-record N] --out FILE
  doc2-check --in FILE (--key FILE | --to PUB_B64) --from PUB_B64
            [--dump] [--compare-db SQLITE]
  doc2-verdicts FILE...   (one line per file: 0 accepted or 1 refused, the
            sender and recipient not compared with any key)
  rows-hash --db SQLITE
  rows-hash-vector --in INPUT_JSON --out FILE
  vector-db --vector ROWS_HASH_JSON [--apply DOC2_VECTOR_JSON] --out SQLITE
"""

import argparse
import base64
import copy
import datetime
import hashlib
import hmac
import json
import math
import os
import re
import sqlite3
import stat
import struct
import sys

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import (X25519PrivateKey,
                                                              X25519PublicKey)
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF, HKDFExpand

INFO = b"pocket-id-sync-v1"
EPH_LEN, NONCE_LEN, TAG_LEN = 32, 12, 16
OVERHEAD = EPH_LEN + NONCE_LEN + TAG_LEN
DEFAULT_MAX_WIRE = 64 * 1024 * 1024
FORMAT = 1
FORMAT2 = 2
ROWS_PER_RECORD = 1024
MAX_RECORDS = 2**32 - 1
MAX_TABLES, MAX_COLUMNS, MAX_NAME = 256, 256, 128
UINT64_MAX = 2**64 - 1
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


class PeerError(Exception):
    """A refusal; kind is a short status name (AUTH, MALFORMED, ...)."""

    def __init__(self, kind, message):
        super().__init__(message)
        self.kind = kind


# --- section 2: keys and base64 -------------------------------------------

_B64_RE = re.compile(r"\A(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?\Z")


def b64enc(data):
    return base64.b64encode(data).decode("ascii")


def b64dec(text):
    """Strict standard base64: padding required, canonical, no whitespace."""
    if not isinstance(text, str) or not _B64_RE.match(text):
        raise ValueError("not canonical base64")
    raw = base64.b64decode(text, validate=True)
    if b64enc(raw) != text:
        raise ValueError("not canonical base64")
    return raw


def pub_from_b64(text):
    raw = b64dec(text)
    if len(raw) != 32:
        raise ValueError("a public key is 32 bytes (44 base64 characters)")
    return raw


def public_of(priv):
    return X25519PrivateKey.from_private_bytes(priv).public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def load_key(path):
    """Reads a private.key file; returns the 32 private bytes."""
    fd = os.open(path, os.O_RDONLY)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise PeerError("KEY", f"{path}: not a regular file")
        if st.st_mode & 0o077:
            raise PeerError("KEY", f"{path}: is accessible by group or others "
                            f"(mode {stat.S_IMODE(st.st_mode):04o})")
        data = os.read(fd, 4096)
    finally:
        os.close(fd)
    if data.endswith(b"\r\n"):
        data = data[:-2]
    elif data.endswith(b"\n"):
        data = data[:-1]
    try:
        priv = b64dec(data.decode("ascii"))
    except (UnicodeDecodeError, ValueError):
        priv = b""
    if len(priv) != 32:
        raise PeerError("KEY", f"{path}: not one line of base64 holding a 32-byte X25519 key")
    return priv


def generate_key(path):
    priv = X25519PrivateKey.generate().private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
        serialization.NoEncryption())
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, (b64enc(priv) + "\n").encode("ascii"))
    finally:
        os.close(fd)
    return priv


# --- section 3: the sealing layer -----------------------------------------

def x25519(priv, pub):
    """One agreement; PeerError WEAK_KEY when the result is all zero."""
    try:
        out = X25519PrivateKey.from_private_bytes(priv).exchange(
            X25519PublicKey.from_public_bytes(pub))
    except ValueError as exc:  # OpenSSL refuses an all-zero result itself
        raise PeerError("WEAK_KEY", "X25519 result is all zero (low-order point)") from exc
    if hmac.compare_digest(out, bytes(32)):
        raise PeerError("WEAK_KEY", "X25519 result is all zero (low-order point)")
    return out


def schedule(dh_e, dh_s, eph_pub, recipient_pub, sender_pub):
    """Returns (salt, ikm, key) of SPEC 3.2 step 3."""
    salt = eph_pub + recipient_pub + sender_pub
    ikm = dh_e + dh_s
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=INFO).derive(ikm)
    return salt, ikm, key


def seal(sender_priv, recipient_pub, plaintext, eph_priv=None, nonce=None):
    if eph_priv is None:
        eph_priv = X25519PrivateKey.generate().private_bytes(
            serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
            serialization.NoEncryption())
    if nonce is None:
        nonce = os.urandom(NONCE_LEN)
    eph_pub = public_of(eph_priv)
    dh_e = x25519(eph_priv, recipient_pub)
    dh_s = x25519(sender_priv, recipient_pub)
    _, _, key = schedule(dh_e, dh_s, eph_pub, recipient_pub, public_of(sender_priv))
    return eph_pub + nonce + AESGCM(key).encrypt(nonce, plaintext, eph_pub)


def open_sealed(recipient_priv, sender_pub, wire, max_wire=DEFAULT_MAX_WIRE):
    if len(wire) < OVERHEAD:
        raise PeerError("MALFORMED", f"sealed payload shorter than {OVERHEAD} bytes")
    if len(wire) > max_wire:
        raise PeerError("TOO_LARGE", f"sealed payload larger than {max_wire} bytes")
    eph_pub, nonce, body = wire[:EPH_LEN], wire[EPH_LEN:EPH_LEN + NONCE_LEN], wire[EPH_LEN + NONCE_LEN:]
    dh_e = x25519(recipient_priv, eph_pub)
    dh_s = x25519(recipient_priv, sender_pub)
    _, _, key = schedule(dh_e, dh_s, eph_pub, public_of(recipient_priv), sender_pub)
    try:
        return AESGCM(key).decrypt(nonce, body, eph_pub)
    except InvalidTag as exc:
        raise PeerError("AUTH", "sealed payload failed authentication") from exc


# --- section 5: the payload document --------------------------------------
# A cell value is a pair (storage class, value): ("null", None),
# ("integer", int), ("real", float), ("text", bytes), ("blob", bytes).
# TEXT is kept as bytes so text that is not UTF-8 round-trips.

_INT_RE = re.compile(r"\A(?:0|-?[1-9][0-9]*)\Z")
_UINT_RE = re.compile(r"\A(?:0|[1-9][0-9]*)\Z")
_REAL_RE = re.compile(r"\A-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?\Z")
_TIME_RE = re.compile(r"\A[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z\Z")


def _is_text_form(raw):
    if b"\x00" in raw:
        return False
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def encode_cell(cell):
    kind, value = cell
    if kind == "null":
        return None
    if kind == "integer":
        if not INT64_MIN <= value <= INT64_MAX:
            raise ValueError("integer out of int64 range")
        return f"i:{value:d}"
    if kind == "real":
        if math.isnan(value):
            raise ValueError("SQLite has no NaN")
        return "r:" + repr(float(value))  # shortest round-trip; 'inf', '-inf'
    if kind == "text":
        return "t:" + value.decode("utf-8") if _is_text_form(value) else "x:" + b64enc(value)
    if kind == "blob":
        return "b:" + b64enc(value)
    raise ValueError(f"unknown storage class {kind}")


def decode_cell(cell):
    if cell is None:
        return ("null", None)
    if not isinstance(cell, str) or len(cell) < 2 or cell[1] != ":":
        raise ValueError("a cell is null or a string with a type prefix")
    prefix, body = cell[0], cell[2:]
    if prefix == "i":
        if not _INT_RE.match(body) or not INT64_MIN <= int(body) <= INT64_MAX:
            raise ValueError(f"bad INTEGER cell {cell!r}")
        return ("integer", int(body))
    if prefix == "r":
        if body in ("inf", "-inf"):
            return ("real", float(body))
        if not _REAL_RE.match(body) or math.isinf(float(body)):
            raise ValueError(f"bad REAL cell {cell!r}")
        return ("real", float(body))
    if prefix == "t":
        if "\x00" in body:
            raise ValueError("t: cell contains NUL")
        return ("text", body.encode("utf-8"))  # surrogates were refused earlier
    if prefix == "x":
        raw = b64dec(body)
        if not raw or _is_text_form(raw):
            raise ValueError("x: cell holds text that must be written as t:")
        return ("text", raw)
    if prefix == "b":
        return ("blob", b64dec(body))
    raise ValueError(f"unknown cell prefix {prefix!r}")


def _check_name(name, what):
    if not isinstance(name, str) or "\x00" in name:
        raise ValueError(f"{what} must be a string without NUL")
    n = len(name.encode("utf-8"))
    if not 1 <= n <= MAX_NAME:
        raise ValueError(f"{what} {name!r} must be 1-{MAX_NAME} bytes")
    return name.encode("utf-8").lower()  # ASCII case folding only


def _uint(value, what):
    if not isinstance(value, str) or not _UINT_RE.match(value) or int(value) > UINT64_MAX:
        raise ValueError(f"{what} must be a decimal uint64 string")
    return int(value)


def build_document(sender_pub, recipient_pub, generation, schema_version, tables,
                   jwt_key=None, issued_at=None):
    """tables: [(name, [column...], [[cell...]...])] with (class, value) cells.
    Returns the document bytes (compact UTF-8 JSON)."""
    if issued_at is None:
        issued_at = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    doc = {
        "format": FORMAT,
        "sender": b64enc(sender_pub),
        "recipient": b64enc(recipient_pub),
        "generation": str(int(generation)),
        "issued_at": issued_at,
        "schema_version": str(int(schema_version)),
        "tables": [{"name": name, "columns": list(cols),
                    "rows": [[encode_cell(c) for c in row] for row in rows]}
                   for name, cols, rows in tables],
        "jwt_key": jwt_key,
    }
    data = json.dumps(doc, ensure_ascii=False, separators=(",", ":"),
                      allow_nan=False).encode("utf-8")
    validate_document(data, recipient_pub, sender_pub)  # never emit what we would refuse
    return data


def _no_duplicates(pairs):
    obj = {}
    for k, v in pairs:
        if k in obj:
            raise ValueError(f"duplicate member {k!r}")
        obj[k] = v
    return obj


def _no_constants(name):
    raise ValueError(f"{name} is not JSON")


def _check_values(value):
    """No string or member name with U+0000 and no number beyond binary64
    anywhere (json.loads takes both; section 5 refuses them)."""
    if isinstance(value, str):
        if "\x00" in value:
            raise ValueError("a string contains U+0000")
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError("a number overflows binary64")
    elif isinstance(value, list):
        for v in value:
            _check_values(v)
    elif isinstance(value, dict):
        for k, v in value.items():
            _check_values(k)
            _check_values(v)


def _check_tables(tables):
    if not isinstance(tables, list) or len(tables) > MAX_TABLES:
        raise ValueError(f"tables must be an array of at most {MAX_TABLES}")
    seen, out = set(), []
    for t in tables:
        if not isinstance(t, dict) or set(t) != {"name", "columns", "rows"}:
            raise ValueError("a table has exactly the members name, columns, rows")
        folded = _check_name(t["name"], "table name")
        if folded in seen:
            raise ValueError(f"duplicate table {t['name']!r}")
        seen.add(folded)
        cols = t["columns"]
        if not isinstance(cols, list) or not 1 <= len(cols) <= MAX_COLUMNS:
            raise ValueError(f"table {t['name']!r}: 1-{MAX_COLUMNS} columns")
        folded_cols = [_check_name(c, "column name") for c in cols]
        if len(set(folded_cols)) != len(cols):
            raise ValueError(f"table {t['name']!r}: duplicate column")
        if not isinstance(t["rows"], list):
            raise ValueError(f"table {t['name']!r}: rows must be an array")
        rows = []
        for row in t["rows"]:
            if not isinstance(row, list) or len(row) != len(cols):
                raise ValueError(f"table {t['name']!r}: a row must have {len(cols)} cells")
            rows.append([decode_cell(c) for c in row])
        out.append((t["name"], cols, rows))
    return out


def validate_document(data, own_pub, pinned_pub, last_generation=None):
    """Checks a payload document; returns a dict with the decoded fields and
    tables. Raises PeerError("DOCUMENT", reason) on any violation."""
    try:
        if data.startswith(b"\xef\xbb\xbf"):
            raise ValueError("document starts with a byte-order mark")
        obj = json.loads(data.decode("utf-8"), object_pairs_hook=_no_duplicates,
                         parse_constant=_no_constants)
        # Escaped lone surrogates decode into str; they are not UTF-8.
        json.dumps(obj, ensure_ascii=False).encode("utf-8")
        if not isinstance(obj, dict):
            raise ValueError("document is not a JSON object")
        _check_values(obj)
        if any(isinstance(v, float) for v in obj.values()):
            raise ValueError("a top-level number has a fraction or exponent (section 8)")
        fmt = obj.get("format")
        if type(fmt) is not int or abs(fmt) >= 2**53:
            raise ValueError("member format is missing or not an integer")
        if fmt != FORMAT:
            raise ValueError(f"unsupported payload format {fmt} (this build reads {FORMAT})")
        want = {"format", "sender", "recipient", "generation", "issued_at",
                "schema_version", "tables", "jwt_key"}
        if set(obj) != want:
            extra, missing = sorted(set(obj) - want), sorted(want - set(obj))
            raise ValueError(f"members wrong: unknown {extra}, missing {missing}")
        if not hmac.compare_digest(pub_from_b64(obj["sender"]), pinned_pub):
            raise ValueError("payload sender is not the pinned primary key")
        if not hmac.compare_digest(pub_from_b64(obj["recipient"]), own_pub):
            raise ValueError("payload is for another node")
        generation = _uint(obj["generation"], "generation")
        if not isinstance(obj["issued_at"], str) or not _TIME_RE.match(obj["issued_at"]):
            raise ValueError("issued_at must be YYYY-MM-DDTHH:MM:SSZ")
        if datetime.datetime.strptime(obj["issued_at"], "%Y-%m-%dT%H:%M:%SZ").year < 1970:
            raise ValueError("issued_at is before 1970")
        schema_version = _uint(obj["schema_version"], "schema_version")
        tables = _check_tables(obj["tables"])
        jwk = obj["jwt_key"]
        if jwk is not None and not (isinstance(jwk, dict) and isinstance(jwk.get("kty"), str)
                                    and jwk["kty"]):
            raise ValueError("jwt_key must be null or a JWK object with a string kty")
        if last_generation is not None and generation < last_generation:
            raise ValueError(f"replay/rollback: generation {generation} is older than "
                             f"{last_generation}")
    except (UnicodeError, ValueError) as exc:
        raise PeerError("DOCUMENT", str(exc)) from exc
    return {"generation": generation, "schema_version": schema_version,
            "issued_at": obj["issued_at"], "tables": tables, "jwt_key": jwk,
            "up_to_date": last_generation is not None and generation == last_generation}


# --- SQLite as the source of typed values ---------------------------------

def _quote(name):
    return '"' + name.replace('"', '""') + '"'


def read_sqlite_tables(path, names=None):
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    con.text_factory = bytes  # TEXT arrives as its raw bytes
    try:
        if not names:
            names = [r[0].decode("utf-8") for r in con.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' "
                "AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name")]
        tables = []
        for name in names:
            cols = [r[1].decode("utf-8") for r in con.execute(f"PRAGMA table_info({_quote(name)})")]
            sel = ", ".join(f"typeof({_quote(c)}), {_quote(c)}" for c in cols)
            rows = []
            for r in con.execute(f"SELECT {sel} FROM {_quote(name)}"):
                rows.append([(r[i].decode("ascii"), r[i + 1]) for i in range(0, len(r), 2)])
            tables.append((name, cols, rows))
        return tables
    finally:
        con.close()


def _cell_key(cell):
    kind, value = cell
    if kind == "real":
        return (kind, struct.pack("<d", value))  # tells -0.0 from 0.0
    return (kind, value)


def compare_tables(got, want):
    """Bit-exact comparison; rows compared as multisets. Returns [problems]."""
    problems = []
    want_by_name = {n: (c, r) for n, c, r in want}
    if sorted(n for n, _, _ in got) != sorted(want_by_name):
        problems.append("table sets differ")
    for name, cols, rows in got:
        if name not in want_by_name:
            continue
        wcols, wrows = want_by_name[name]
        if list(cols) != list(wcols):
            problems.append(f"{name}: columns differ")
            continue
        g = sorted(repr([_cell_key(c) for c in row]) for row in rows)
        w = sorted(repr([_cell_key(c) for c in row]) for row in wrows)
        if g != w:
            problems.append(f"{name}: rows differ")
    return problems


def _describe(cell):
    kind, value = cell
    if kind == "real":
        return f"real {value!r} ({struct.pack('>d', value).hex()})"
    if kind in ("text", "blob"):
        return f"{kind} {value.hex() or '(empty)'}"
    return f"{kind} {value!r}"


# --- appendix A: the apply policy the rows hash depends on ----------------

SHIPPED_TABLES = (
    "users", "user_groups", "user_groups_users", "custom_claims", "webauthn_credentials",
    "oidc_clients", "oidc_clients_allowed_user_groups", "api_keys", "signup_tokens",
    "signup_tokens_user_groups", "apis", "api_permissions", "oidc_clients_allowed_apis",
    "oidc_clients_allowed_api_permissions", "storage", "app_config_variables")
PER_NODE_COLUMNS = {("api_keys", "last_used_at"), ("api_keys", "expiration_email_sent"),
                    ("oidc_clients", "pkce_supported")}
BOOKKEEPING_COLUMNS = {("users", "updated_at"), ("user_groups", "updated_at"),
                       ("apis", "updated_at"), ("storage", "mod_time")}
CIMD_COLUMNS = {"name", "callback_urls", "logout_callback_urls", "credentials", "is_public",
                "pkce_enabled", "metadata_expires_at", "metadata_grant_types"}
LOCAL_CONFIG_KEYS = {b"instanceId", b"ldapEnabled", b"backgroundImageType",
                     b"logoLightImageType", b"logoDarkImageType"}
NOT_COUNTED_TABLES = {"app_config_variables"}
CIMD_CHILD_TABLES = {"oidc_clients_allowed_user_groups", "oidc_clients_allowed_apis",
                     "oidc_clients_allowed_api_permissions"}


def is_node_local(table, cols, row):
    """Appendix A's node-local rows: never shipped, never counted."""
    cells = dict(zip(cols, row))
    if table == "app_config_variables" and "key" in cells:
        kind, value = cells["key"]
        return kind == "text" and value in LOCAL_CONFIG_KEYS
    if table == "storage" and "path" in cells:
        # path GLOB 'profile-pictures/defaults/*': '*' matches anything, '/' included;
        # GLOB reads a BLOB operand as text.
        kind, value = cells["path"]
        return kind in ("text", "blob") and value.startswith(b"profile-pictures/defaults/")
    return False


def is_cimd_row(table, cols, row):
    if table != "oidc_clients" or "client_type" not in cols:
        return False
    return row[cols.index("client_type")] == ("text", b"cimd")


def column_counts(table, column, cimd_row):
    """Section 5B's counted columns: not per-node, not bookkeeping, and not a
    metadata-document column of a CIMD client's row."""
    if (table, column) in PER_NODE_COLUMNS or (table, column) in BOOKKEEPING_COLUMNS:
        return False
    return not (cimd_row and column in CIMD_COLUMNS)


# --- section 5B: the rows hash --------------------------------------------

ROWS_LABEL = b"pocket-id-sync rows v2"
LANES = 1024


def _field(tag, data):
    return tag + struct.pack(">Q", len(data)) + data


def _value(cell):
    kind, value = cell
    if kind == "null":
        return _field(b"n", b"")
    if kind == "integer":
        return _field(b"i", struct.pack("<q", value))
    if kind == "real":
        return _field(b"r", struct.pack("<d", value))
    if kind == "text":
        return _field(b"t", value)
    if kind == "blob":
        return _field(b"b", value)
    raise ValueError(f"unknown storage class {kind}")


def row_preimage(table, cols, row):
    """Returns (preimage, counted column names in hash order)."""
    cimd = is_cimd_row(table, cols, row)
    pairs = sorted((c.encode("utf-8"), v) for c, v in zip(cols, row)
                   if column_counts(table, c, cimd))
    out = _field(b"T", table.encode("utf-8"))
    for name, cell in pairs:
        out += _field(b"C", name) + _value(cell)
    return out, [n.decode("utf-8") for n, _ in pairs]


def row_digest(table, cols, row):
    return hashlib.sha256(row_preimage(table, cols, row)[0]).digest()


def expand(digest):
    """X(d): 2048 bytes of AES-128-CTR keystream, key d[0:16], the whole of
    d[16:32] as the 128-bit big-endian counter; 1024 u16 little-endian lanes."""
    enc = Cipher(algorithms.AES(digest[:16]), modes.CTR(digest[16:])).encryptor()
    return struct.unpack(f"<{LANES}H", enc.update(bytes(2 * LANES)) + enc.finalize())


class LtHash:
    def __init__(self):
        self.lanes = [0] * LANES

    def add(self, digest, sign=1):
        for i, x in enumerate(expand(digest)):
            self.lanes[i] = (self.lanes[i] + sign * x) % 65536

    def sub(self, digest):
        self.add(digest, -1)

    def digest(self):
        return hashlib.sha256(ROWS_LABEL + struct.pack(f"<{LANES}H", *self.lanes)).digest()


def table_counts(name):
    return name in SHIPPED_TABLES and name not in NOT_COUNTED_TABLES


def rows_hash_of_tables(tables):
    """tables: [(name, cols, rows)] of shipped tables, node-local rows already
    left out. Counts every table but app_config_variables."""
    h = LtHash()
    for name, cols, rows in tables:
        if table_counts(name):
            for row in rows:
                h.add(row_digest(name, cols, row))
    return h.digest()


def shipped_tables(path):
    """Every shipped table the database has, as (name, cols, key, rows) with
    node-local rows left out; the key from PRAGMA table_info (primary key
    order), or every column when there is none."""
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        present = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        names = [n for n in SHIPPED_TABLES if n in present]
        keys = {}
        for n in names:
            info = list(con.execute(f"PRAGMA table_info({_quote(n)})"))
            pk = sorted((r[5], r[1]) for r in info if r[5] > 0)
            keys[n] = [c for _, c in pk] or [r[1] for r in info]
    finally:
        con.close()
    out = []
    for name, cols, rows in read_sqlite_tables(path, names):
        out.append((name, cols, keys[name], [r for r in rows if not is_node_local(name, cols, r)]))
    return out


def rows_hash_of_db(path):
    return rows_hash_of_tables([(n, c, r) for n, c, _, r in shipped_tables(path)])


# --- section 5A: the format-2 document ------------------------------------

def _record(obj):
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"),
                      allow_nan=False).encode("utf-8") + b"\n"


def _key_of(cols, key, row):
    return tuple(_cell_key(row[cols.index(k)]) for k in key)


def _table_record(name, cols, rows, key=None, deleted=None):
    rec = {"table": name, "columns": list(cols),
           "rows": [[encode_cell(c) for c in row] for row in rows]}
    if key is not None:
        rec["key"] = list(key)
        rec["deleted"] = [[encode_cell(c) for c in k] for k in deleted]
    return rec


def _travels_whole(name):
    """In a delta: app_config_variables and pseudo-tables travel whole, every
    other table as a changes record."""
    return name.startswith("@") or name == "app_config_variables"


def delta_records(base, new):
    """The table records of a delta from base to new (shipped_tables() lists):
    a changes record per SQLite table that changed, app_config_variables whole
    when its rows differ."""
    base_by_name = {n: (c, k, r) for n, c, k, r in base}
    records = []
    for name, cols, key, rows in new:
        bcols, bkey, brows = base_by_name.get(name, (cols, key, []))
        if list(bcols) != list(cols) or list(bkey) != list(key):
            raise ValueError(f"{name}: columns or key differ from the base; send a full snapshot")
        if _travels_whole(name):
            if sorted(repr([_cell_key(c) for c in r]) for r in rows) != \
                    sorted(repr([_cell_key(c) for c in r]) for r in brows):
                records.append(_table_record(name, cols, rows))
            continue
        old = {_key_of(cols, key, r): [_cell_key(c) for c in r] for r in brows}
        now = {_key_of(cols, key, r) for r in rows}
        upserts = [r for r in rows if old.get(_key_of(cols, key, r)) != [_cell_key(c) for c in r]]
        deleted = [[r[cols.index(k)] for k in key] for r in brows
                   if _key_of(cols, key, r) not in now]
        if upserts or deleted:
            records.append(_table_record(name, cols, upserts, key, deleted))
    return records


def full_records(tables, per_record=ROWS_PER_RECORD):
    """Whole records of every table, at most per_record rows each; a table
    without rows is one record with no rows (it empties the reader's)."""
    records = []
    for name, cols, _, rows in tables:
        for first in range(0, max(len(rows), 1), per_record):
            records.append(_table_record(name, cols, rows[first:first + per_record]))
    return records


def build_document2(sender_pub, recipient_pub, generation, schema_version, rows_hash, records,
                    jwt_key=None, has_jwt=True, issued_at=None, base_generation=None,
                    base_rows_hash=None):
    """A format-2 document (full when base_generation is None) from table
    records; checked with validate_document2 before it is returned."""
    if issued_at is None:
        issued_at = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    head = {"format": FORMAT2, "kind": "full" if base_generation is None else "delta",
            "sender": b64enc(sender_pub), "recipient": b64enc(recipient_pub),
            "generation": str(int(generation)), "issued_at": issued_at,
            "schema_version": str(int(schema_version)), "rows_hash": b64enc(rows_hash)}
    if base_generation is not None:
        head["base_generation"] = str(int(base_generation))
        head["base_rows_hash"] = b64enc(base_rows_hash)
    if base_generation is None or has_jwt:
        head["jwt_key"] = jwt_key
    head["tables"] = len(records)
    data = _record(head) + b"".join(_record(r) for r in records)
    validate_document2(data, recipient_pub, sender_pub)  # never emit what we would refuse
    return data


def _parse_record(raw, number):
    """One record's bytes (without its line feed) under section 5's raw-text
    rules; returns the object."""
    where = f"record {number}"
    if raw.startswith(b"\xef\xbb\xbf"):
        raise ValueError(f"{where} starts with a byte-order mark")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"{where} is not UTF-8") from exc
    try:
        obj = json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constants)
        json.dumps(obj, ensure_ascii=False).encode("utf-8")  # escaped lone surrogates
    except (ValueError, UnicodeError) as exc:
        raise ValueError(f"{where}: {exc}") from exc
    if not isinstance(obj, dict):
        raise ValueError(f"{where} is not a JSON object")
    _check_values(obj)
    if any(isinstance(v, float) for v in obj.values()):
        raise ValueError(f"{where}: a top-level number has a fraction or exponent")
    return obj


def _split_records(data):
    """The records' bytes: each ends with exactly one line feed, nothing after
    the last one."""
    parts = data.split(b"\n")
    if parts[-1] != b"":
        raise ValueError(f"record {len(parts)} does not end with a line feed")
    return parts[:-1]


_HEAD_BOTH = {"format", "kind", "sender", "recipient", "generation", "issued_at",
              "schema_version", "rows_hash", "tables"}
_HEAD_FULL = _HEAD_BOTH | {"jwt_key"}
_HEAD_DELTA = _HEAD_BOTH | {"base_generation", "base_rows_hash"}


def _hash32(value, what):
    try:
        raw = b64dec(value)
    except ValueError:
        raw = b""
    if len(raw) != 32:
        raise ValueError(f"{what} is not the base64 of 32 bytes")
    return raw


def _check_jwk(jwk):
    if jwk is not None and not (isinstance(jwk, dict) and isinstance(jwk.get("kty"), str)
                                and jwk["kty"]):
        raise ValueError("jwt_key must be null or a JWK object with a string kty")


def _check_header2(head, own_pub, pinned_pub, check_keys=True):
    fmt = head.get("format")
    if type(fmt) is not int or abs(fmt) >= 2**53:
        raise ValueError("member format is missing or not an integer")
    if fmt != FORMAT2:
        raise ValueError(f"unsupported payload format {fmt} (this build reads {FORMAT} and {FORMAT2})")
    kind = head.get("kind")
    if kind not in ("full", "delta"):
        raise ValueError('kind must be "full" or "delta"')
    required = _HEAD_FULL if kind == "full" else _HEAD_DELTA
    allowed = required | ({"jwt_key"} if kind == "delta" else set())
    if not required <= set(head) <= allowed:
        raise ValueError(f"{kind} header members wrong: unknown {sorted(set(head) - allowed)}, "
                         f"missing {sorted(required - set(head))}")
    sender, recipient = pub_from_b64(head["sender"]), pub_from_b64(head["recipient"])
    if check_keys and not hmac.compare_digest(sender, pinned_pub):
        raise ValueError("payload sender is not the pinned primary key")
    if check_keys and not hmac.compare_digest(recipient, own_pub):
        raise ValueError("payload is for another node")
    out = {"kind": kind, "generation": _uint(head["generation"], "generation"),
           "schema_version": _uint(head["schema_version"], "schema_version"),
           "rows_hash": _hash32(head["rows_hash"], "rows_hash"), "issued_at": head["issued_at"],
           "has_jwt": "jwt_key" in head, "jwt_key": head.get("jwt_key")}
    if not isinstance(head["issued_at"], str) or not _TIME_RE.match(head["issued_at"]):
        raise ValueError("issued_at must be YYYY-MM-DDTHH:MM:SSZ")
    if datetime.datetime.strptime(head["issued_at"], "%Y-%m-%dT%H:%M:%SZ").year < 1970:
        raise ValueError("issued_at is before 1970")
    _check_jwk(out["jwt_key"])
    n = head["tables"]
    if type(n) is not int or not 0 <= n <= MAX_RECORDS:
        raise ValueError(f"tables must be an integer from 0 to {MAX_RECORDS}")
    out["tables"] = n
    if kind == "delta":
        out["base_generation"] = _uint(head["base_generation"], "base_generation")
        out["base_rows_hash"] = _hash32(head["base_rows_hash"], "base_rows_hash")
        if out["base_generation"] >= out["generation"]:
            raise ValueError("base_generation is not below generation")
    return out


def _check_table_record(rec, kind):
    """One table record: returns (name, cols, rows, key, deleted), key and
    deleted None in a whole record."""
    if not isinstance(rec, dict) or not {"table", "columns", "rows"} <= set(rec) <= \
            {"table", "columns", "rows", "key", "deleted"}:
        raise ValueError("a table record has the members table, columns, rows "
                         "(and key with deleted)")
    name = rec["table"]
    (_, cols, rows), = _check_tables([{"name": name, "columns": rec["columns"], "rows": rec["rows"]}])
    if ("key" in rec) != ("deleted" in rec):
        raise ValueError(f"table {name!r}: key and deleted go together")
    changes = "key" in rec
    if changes and kind == "full":
        raise ValueError(f"table {name!r}: a full document has only whole records")
    if kind == "delta" and changes == _travels_whole(name):
        raise ValueError(f"table {name!r}: in a delta, " + (
            "app_config_variables and pseudo-tables travel whole" if changes
            else "an SQLite table travels as a changes record (key and deleted)"))
    if not changes:
        return name, cols, rows, None, None
    key = rec["key"]
    if not isinstance(key, list) or not 1 <= len(key) <= min(MAX_COLUMNS, len(cols)) or \
            not all(isinstance(k, str) and k in cols for k in key) or len(set(key)) != len(key):
        raise ValueError(f"table {name!r}: key must name 1-{len(cols)} distinct of its columns")
    dele = rec["deleted"]
    if not isinstance(dele, list) or not all(isinstance(d, list) and len(d) == len(key)
                                              for d in dele):
        raise ValueError(f"table {name!r}: deleted must be an array of keys of {len(key)} cells")
    deleted = [[decode_cell(c) for c in d] for d in dele]
    seen = set()
    for k in [_key_of(cols, key, r) for r in rows] + [tuple(_cell_key(c) for c in d) for d in deleted]:
        if k in seen:
            raise ValueError(f"table {name!r}: a key appears twice among rows and deleted keys")
        seen.add(k)
    return name, cols, rows, key, deleted


def validate_document2(data, own_pub, pinned_pub, check_keys=True):
    """Every rule of section 5A on an opened plaintext. Returns the header's
    fields and the records as (name, cols, rows, key, deleted). Raises
    PeerError("DOCUMENT", reason). check_keys False skips the comparison of
    sender and recipient with the pinned and own keys (their form is still
    checked), for comparing verdicts with a reader that has no keys."""
    try:
        raws = _split_records(data)
        if not raws:
            raise ValueError("the document ends before record 1")
        head = _check_header2(_parse_record(raws[0], 1), own_pub, pinned_pub, check_keys)
        records, finished, last, last_cols = [], set(), None, None
        for i, raw in enumerate(raws[1:head["tables"] + 1], start=2):
            name, cols, rows, key, deleted = _check_table_record(_parse_record(raw, i), head["kind"])
            folded = _check_name(name, "table name")
            if last is not None and folded == last[1]:
                if head["kind"] == "delta" or name != last[0]:
                    raise ValueError(f"table {name!r} appears twice")
                if list(cols) != last_cols:
                    raise ValueError(f"table {name!r}: its records carry different columns")
            else:
                if folded in finished:
                    raise ValueError(f"table {name!r} appears twice")
                if last is not None:
                    finished.add(last[1])
                if len(finished) + 1 > MAX_TABLES:
                    raise ValueError(f"more than {MAX_TABLES} tables")
                last = (name, folded)
            last_cols = list(cols)
            records.append((name, cols, rows, key, deleted))
        if len(raws) - 1 < head["tables"]:
            raise ValueError(f"the document ends before record {len(raws) + 1}")
        if len(raws) - 1 > head["tables"]:
            raise ValueError(f"bytes follow the {head['tables']} table records the header announced")
    except (UnicodeError, ValueError) as exc:
        raise PeerError("DOCUMENT", str(exc)) from exc
    head["records"] = records
    return head


def apply_records(tables, records):
    """Applies table records to tables {name: (cols, key, rows)} in memory,
    as section 5A defines them (for the vectors, not a database)."""
    for name, cols, rows, key, deleted in records:
        tcols, tkey, trows = tables.get(name, (list(cols), key or list(cols), []))
        if list(tcols) != list(cols) or (key is not None and list(key) != list(tkey)):
            raise ValueError(f"{name}: columns or key differ")
        if key is None:
            trows = list(rows)
        else:
            gone = {tuple(_cell_key(c) for c in d) for d in deleted}
            upsert = {_key_of(cols, key, r): r for r in rows}
            trows = [r for r in trows if _key_of(cols, key, r) not in gone
                     and _key_of(cols, key, r) not in upsert] + list(rows)
        tables[name] = (tcols, tkey, trows)
    return tables


# --- vectors of section 5B and 5A -----------------------------------------

def rows_hash_vector(spec):
    """rows-hash.json from its input: tables with columns, key and rows in
    the cell syntax of section 5; adds per row the counted columns, the
    preimage, the digest and the first 8 lanes of its expansion, and the sum's
    first 8 lanes and the rows hash."""
    v = copy.deepcopy(spec)
    v["label"] = ROWS_LABEL.decode("ascii")
    total = LtHash()
    for t in v["tables"]:
        t["counted"] = table_counts(t["table"])
        rows = []
        for cells in t["rows"]:
            row = [decode_cell(c) for c in cells]
            entry = {"cells": cells}
            if t["counted"] and not is_node_local(t["table"], t["columns"], row):
                pre, names = row_preimage(t["table"], t["columns"], row)
                d = hashlib.sha256(pre).digest()
                total.add(d)
                entry.update(counted_columns=names, preimage=pre.hex(), digest=d.hex(),
                             lanes=list(expand(d)[:8]))
            rows.append(entry)
        t["rows"] = rows
    v["sum_lanes"] = total.lanes[:8]
    v["rows_hash"] = b64enc(total.digest())
    return v


def _vector_tables(v):
    out = {}
    for t in v["tables"]:
        out[t["table"]] = (t["columns"], t["key"],
                           [[decode_cell(c) for c in r["cells"]] for r in t["rows"]])
    return out


def _hash_of(tables):
    return rows_hash_of_tables([(n, c, [r for r in rows if not is_node_local(n, c, r)])
                                for n, (c, _, rows) in tables.items()])


def _rows_vector_input(v):
    return {"description": v.get("description", ""), "schema_version": v["schema_version"],
            "tables": [{"table": t["table"], "columns": t["columns"], "key": t["key"],
                        "rows": [r["cells"] for r in t["rows"]]} for t in v["tables"]]}


def check_rows_vector(v):
    """rows-hash.json recomputed from its cells: every digest, preimage, lane
    and the rows hash, also through the table-level path."""
    bad = []
    again = rows_hash_vector(_rows_vector_input(v))
    for t, u in zip(v["tables"], again["tables"]):
        for i, (r, q) in enumerate(zip(t["rows"], u["rows"])):
            for k in sorted(set(r) | set(q)):
                if r.get(k) != q.get(k):
                    bad.append(f"{t['table']} row {i} {k}: computed {q.get(k)!r}, "
                               f"vector has {r.get(k)!r}")
        if t.get("counted") != u["counted"]:
            bad.append(f"{t['table']}: counted is {u['counted']}")
    for k in ("label", "sum_lanes", "rows_hash"):
        if v.get(k) != again[k]:
            bad.append(f"{k}: computed {again[k]!r}, vector has {v.get(k)!r}")
    if b64enc(_hash_of(_vector_tables(v))) != v["rows_hash"]:
        bad.append("rows_hash: the table-level computation differs")
    return bad


def write_vector_db(v, path, records=None):
    """The vector's tables as an SQLite database (untyped columns keep every
    storage class; the key is the primary key), after records if given."""
    tables = _vector_tables(v)
    if records is not None:
        apply_records(tables, records)
    con = sqlite3.connect(path)
    try:
        con.execute("CREATE TABLE schema_migrations (version uint64, dirty bool)")
        con.execute("INSERT INTO schema_migrations VALUES (?, 0)", (int(v["schema_version"]),))
        for name, (cols, key, rows) in tables.items():
            con.execute(f"CREATE TABLE {_quote(name)} ({', '.join(_quote(c) for c in cols)}, "
                        f"PRIMARY KEY ({', '.join(_quote(k) for k in key)}))")
            for row in rows:
                binds = [_sql_bind(c) for c in row]
                con.execute(f"INSERT INTO {_quote(name)} VALUES ({', '.join(b[0] for b in binds)})",
                            [b[1] for b in binds])
        con.commit()
    finally:
        con.close()


def _sql_bind(cell):
    """(placeholder, value) that stores cell with its storage class and bytes:
    text that Python cannot bind as str (not UTF-8, or with NUL) goes in as a
    blob cast to TEXT, which keeps its bytes."""
    kind, value = cell
    if kind == "text":
        return ("?", value.decode("utf-8")) if _is_text_form(value) else \
            ("CAST(? AS TEXT)", sqlite3.Binary(value))
    if kind == "blob":
        return ("?", sqlite3.Binary(value))
    return ("?", value)


def check_doc2_vector(v, rows_vector):
    """A sealed format-2 delta vector: the seal as check_vector does it, the
    plaintext under section 5A, its base the rows-hash vector's content and
    its rows_hash that content after the delta."""
    bad = check_vector(v, format1=False)
    pt = b64dec(v["plaintext"])
    try:
        doc = validate_document2(pt, b64dec(v["recipient_public"]), b64dec(v["sender_public"]))
    except PeerError as exc:
        return bad + [f"plaintext is not a valid format-2 document: {exc}"]
    if doc["kind"] != "delta":
        return bad + ["the plaintext is not a delta"]
    if b64enc(doc["base_rows_hash"]) != rows_vector["rows_hash"]:
        bad.append("base_rows_hash is not rows-hash.json's rows_hash")
    after = apply_records(_vector_tables(rows_vector), doc["records"])
    if _hash_of(after) != doc["rows_hash"]:
        bad.append("rows_hash is not the hash of rows-hash.json's content after the delta")
    if doc["rows_hash"] == doc["base_rows_hash"]:
        bad.append("the delta changes nothing counted")
    return bad


# --- vectors --------------------------------------------------------------

def check_vector(v, format1=True):
    """Recomputes one vector from its inputs; returns [mismatches]. A
    plaintext that starts with "{" is checked as a format-1 document unless
    format1 is False (the caller checks it as format 2)."""
    bad = []

    def same(name, got, want):
        if got != want:
            bad.append(f"{name}: computed {got!r}, vector has {want!r}")

    s, r, e = (b64dec(v[k]) for k in ("sender_private", "recipient_private", "ephemeral_private"))
    S, R, E = public_of(s), public_of(r), public_of(e)
    same("sender_public", b64enc(S), v["sender_public"])
    same("recipient_public", b64enc(R), v["recipient_public"])
    same("ephemeral_public", b64enc(E), v["ephemeral_public"])
    same("info", INFO.decode(), v["info"])
    nonce, pt = bytes.fromhex(v["nonce"]), b64dec(v["plaintext"])
    same("plaintext_len", len(pt), v["plaintext_len"])
    dh_e, dh_s = x25519(e, R), x25519(s, R)
    same("dh_e (recipient side)", x25519(r, E), dh_e)
    same("dh_s (recipient side)", x25519(r, S), dh_s)
    salt, ikm, key = schedule(dh_e, dh_s, E, R, S)
    prk = hmac.new(salt, ikm, hashlib.sha256).digest()  # HKDF-Extract, RFC 5869 2.2
    same("key via extract+expand", HKDFExpand(hashes.SHA256(), 32, INFO).derive(prk), key)
    mid = v["intermediate"]
    for name, val in (("dh_e", dh_e), ("dh_s", dh_s), ("salt", salt), ("ikm", ikm),
                      ("prk", prk), ("key", key), ("aad", E)):
        same(f"intermediate.{name}", val.hex(), mid[name])
    wire = seal(s, R, pt, eph_priv=e, nonce=nonce)
    same("wire", b64enc(wire), v["wire"])
    same("wire_len", len(wire), v["wire_len"])
    try:
        same("opened plaintext", open_sealed(r, S, b64dec(v["wire"])), pt)
    except PeerError as exc:
        bad.append(f"open: {exc.kind}: {exc}")
    if format1 and pt.startswith(b"{"):
        try:
            validate_document(pt, R, S)
        except PeerError as exc:
            bad.append(f"plaintext is not a valid payload document: {exc}")
    return bad


# --- command line ---------------------------------------------------------

def _read(path):
    with open(path, "rb") as f:
        return f.read()


def _write(path, data):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


def cmd_keygen(a):
    generate_key(a.out)
    return 0


def cmd_pubkey(a):
    print(b64enc(public_of(load_key(a.key))))
    return 0


def cmd_seal(a):
    _write(a.out, seal(load_key(a.sender_key), pub_from_b64(a.to), _read(a.input)))
    return 0


def cmd_open(a):
    _write(a.out, open_sealed(load_key(a.key), pub_from_b64(getattr(a, "from")),
                              _read(a.input), a.max_wire))
    return 0


def _load_json(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def cmd_vectors_check(a):
    names = sorted(n for n in os.listdir(a.dir) if n.endswith(".json") and
                   (n.startswith("seal-") or n.startswith("doc2-") or n == "rows-hash.json"))
    rows_path = os.path.join(a.dir, "rows-hash.json")
    failed = 0
    for n in names:
        v = _load_json(os.path.join(a.dir, n))
        if n == "rows-hash.json":
            bad = check_rows_vector(v)
        elif n.startswith("doc2-"):
            bad = check_doc2_vector(v, _load_json(rows_path)) if os.path.exists(rows_path) \
                else ["rows-hash.json is missing"]
        else:
            bad = check_vector(v)
        print(("ok   " if not bad else "FAIL ") + n)
        for b in bad:
            print("     " + b)
        failed += bool(bad)
    print(f"{len(names) - failed} vectors ok, {failed} failed")
    return 1 if failed or not names else 0


def cmd_doc_build(a):
    jwk = None
    if a.jwt_key:
        with open(a.jwt_key, encoding="utf-8") as f:
            jwk = json.load(f)
    tables = read_sqlite_tables(a.db, a.table)
    _write(a.out, build_document(pub_from_b64(a.sender), pub_from_b64(a.to), a.generation,
                                 a.schema_version, tables, jwk, a.issued_at))
    return 0


def cmd_doc_check(a):
    own = public_of(load_key(a.key)) if a.key else pub_from_b64(a.to)
    doc = validate_document(_read(a.input), own, pub_from_b64(getattr(a, "from")),
                            a.last_generation)
    nrows = sum(len(rows) for _, _, rows in doc["tables"])
    print(f"ok generation {doc['generation']} schema_version {doc['schema_version']} "
          f"tables {len(doc['tables'])} rows {nrows}"
          + (" (nothing to do)" if doc["up_to_date"] else ""))
    if a.dump:
        for name, cols, rows in doc["tables"]:
            for i, row in enumerate(rows):
                for col, cell in zip(cols, row):
                    print(f"{name}[{i}].{col} = {_describe(cell)}")
    if a.compare_db:
        problems = compare_tables(doc["tables"],
                                  read_sqlite_tables(a.compare_db, [n for n, _, _ in doc["tables"]]))
        for p in problems:
            print("differs: " + p)
        if problems:
            return 1
        print("identical to " + a.compare_db)
    return 0


def _load_jwk(path):
    if not path:
        return None
    with open(path, encoding="utf-8") as f:
        return json.load(f, object_pairs_hook=_no_duplicates)


def cmd_doc2_build(a):
    tables = shipped_tables(a.db)
    jwk = _load_jwk(a.jwt_key)
    common = dict(sender_pub=pub_from_b64(a.sender), recipient_pub=pub_from_b64(a.to),
                  generation=a.generation, schema_version=a.schema_version,
                  rows_hash=rows_hash_of_db(a.db), jwt_key=jwk, issued_at=a.issued_at)
    if a.full:
        data = build_document2(records=full_records(tables, a.rows_per_record), **common)
    else:
        if a.base_generation is None:
            raise ValueError("a delta needs --base-generation")
        data = build_document2(records=delta_records(shipped_tables(a.delta_from), tables),
                               has_jwt=a.jwt_key is not None, base_generation=a.base_generation,
                               base_rows_hash=rows_hash_of_db(a.delta_from), **common)
    _write(a.out, data)
    return 0


def cmd_doc2_check(a):
    own = public_of(load_key(a.key)) if a.key else pub_from_b64(a.to)
    doc = validate_document2(_read(a.input), own, pub_from_b64(getattr(a, "from")))
    nrows = sum(len(r[2]) for r in doc["records"])
    ndel = sum(len(r[4]) for r in doc["records"] if r[4] is not None)
    line = (f"ok kind {doc['kind']} generation {doc['generation']} rows_hash "
            f"{b64enc(doc['rows_hash'])} tables {doc['tables']}")
    if doc["kind"] == "delta":
        line += (f" base_generation {doc['base_generation']} base_rows_hash "
                 f"{b64enc(doc['base_rows_hash'])}")
    jwt = "absent" if not doc["has_jwt"] else "null" if doc["jwt_key"] is None else "present"
    print(f"{line} jwt_key {jwt} rows {nrows} deleted {ndel}")
    if a.dump:
        for i, (name, cols, rows, key, deleted) in enumerate(doc["records"], start=2):
            print(f"record {i}: {name} " + (f"changes key {key}" if key else "whole")
                  + f" rows {len(rows)}")
            for r, row in enumerate(rows):
                for col, cell in zip(cols, row):
                    print(f"{name}[{r}].{col} = {_describe(cell)}")
            for r, k in enumerate(deleted or []):
                print(f"{name} deleted[{r}] = " + ", ".join(_describe(c) for c in k))
    if a.compare_db:
        mine = rows_hash_of_db(a.compare_db)
        if not hmac.compare_digest(mine, doc["rows_hash"]):
            print(f"differs: rows_hash of {a.compare_db} is {b64enc(mine)}")
            return 1
        print(f"rows_hash equals that of {a.compare_db}")
    return 0


def cmd_doc2_verdicts(a):
    for path in a.files:
        try:
            validate_document2(_read(path), bytes(32), bytes(32), check_keys=False)
            print(f"0 {path}")
        except PeerError as exc:
            print(f"1 {path} {exc}")
    return 0


def cmd_rows_hash(a):
    print(b64enc(rows_hash_of_db(a.db)))
    return 0


def cmd_rows_hash_vector(a):
    v = rows_hash_vector(_load_json(a.input))
    with open(a.out, "w", encoding="utf-8") as f:
        json.dump(v, f, ensure_ascii=False, indent=1)
        f.write("\n")
    return 0


def cmd_vector_db(a):
    records = None
    if a.apply:
        s = _load_json(a.apply)
        records = validate_document2(b64dec(s["plaintext"]), b64dec(s["recipient_public"]),
                                     b64dec(s["sender_public"]))["records"]
    if os.path.exists(a.out):
        raise ValueError(f"{a.out} exists")
    write_vector_db(_load_json(a.vector), a.out, records)
    return 0


def main(argv):
    p = argparse.ArgumentParser(prog="pisync_peer")
    sub = p.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("keygen")
    c.add_argument("--out", required=True)
    c.set_defaults(fn=cmd_keygen)
    c = sub.add_parser("pubkey")
    c.add_argument("--key", required=True)
    c.set_defaults(fn=cmd_pubkey)
    c = sub.add_parser("seal")
    c.add_argument("--sender-key", required=True)
    c.add_argument("--to", required=True)
    c.add_argument("--in", dest="input", required=True)
    c.add_argument("--out", required=True)
    c.set_defaults(fn=cmd_seal)
    c = sub.add_parser("open")
    c.add_argument("--key", required=True)
    c.add_argument("--from", required=True)
    c.add_argument("--in", dest="input", required=True)
    c.add_argument("--out", required=True)
    c.add_argument("--max-wire", type=int, default=DEFAULT_MAX_WIRE)
    c.set_defaults(fn=cmd_open)
    c = sub.add_parser("vectors-check")
    c.add_argument("dir")
    c.set_defaults(fn=cmd_vectors_check)
    c = sub.add_parser("doc-build")
    c.add_argument("--sender", required=True)
    c.add_argument("--to", required=True)
    c.add_argument("--db", required=True)
    c.add_argument("--table", action="append")
    c.add_argument("--generation", type=int, required=True)
    c.add_argument("--schema-version", type=int, required=True)
    c.add_argument("--issued-at")
    c.add_argument("--jwt-key")
    c.add_argument("--out", required=True)
    c.set_defaults(fn=cmd_doc_build)
    c = sub.add_parser("doc-check")
    c.add_argument("--in", dest="input", required=True)
    own = c.add_mutually_exclusive_group(required=True)
    own.add_argument("--key")
    own.add_argument("--to")
    c.add_argument("--from", required=True)
    c.add_argument("--last-generation", type=int)
    c.add_argument("--dump", action="store_true")
    c.add_argument("--compare-db")
    c.set_defaults(fn=cmd_doc_check)
    c = sub.add_parser("doc2-build")
    c.add_argument("--sender", required=True)
    c.add_argument("--to", required=True)
    c.add_argument("--db", required=True)
    c.add_argument("--generation", type=int, required=True)
    c.add_argument("--schema-version", type=int, required=True)
    c.add_argument("--issued-at")
    c.add_argument("--jwt-key")
    kind = c.add_mutually_exclusive_group(required=True)
    kind.add_argument("--full", action="store_true")
    kind.add_argument("--delta-from")
    c.add_argument("--base-generation", type=int)
    c.add_argument("--rows-per-record", type=int, default=ROWS_PER_RECORD)
    c.add_argument("--out", required=True)
    c.set_defaults(fn=cmd_doc2_build)
    c = sub.add_parser("doc2-check")
    c.add_argument("--in", dest="input", required=True)
    own = c.add_mutually_exclusive_group(required=True)
    own.add_argument("--key")
    own.add_argument("--to")
    c.add_argument("--from", required=True)
    c.add_argument("--dump", action="store_true")
    c.add_argument("--compare-db")
    c.set_defaults(fn=cmd_doc2_check)
    c = sub.add_parser("doc2-verdicts")
    c.add_argument("files", nargs="+")
    c.set_defaults(fn=cmd_doc2_verdicts)
    c = sub.add_parser("rows-hash")
    c.add_argument("--db", required=True)
    c.set_defaults(fn=cmd_rows_hash)
    c = sub.add_parser("rows-hash-vector")
    c.add_argument("--in", dest="input", required=True)
    c.add_argument("--out", required=True)
    c.set_defaults(fn=cmd_rows_hash_vector)
    c = sub.add_parser("vector-db")
    c.add_argument("--vector", required=True)
    c.add_argument("--apply")
    c.add_argument("--out", required=True)
    c.set_defaults(fn=cmd_vector_db)
    a = p.parse_args(argv)
    try:
        return a.fn(a)
    except PeerError as exc:
        print(f"pisync_peer: {a.cmd} refused: {exc.kind}: {exc}", file=sys.stderr)
        return 1
    except (OSError, ValueError) as exc:
        print(f"pisync_peer: {a.cmd}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
