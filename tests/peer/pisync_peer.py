#!/usr/bin/python3
"""pisync_peer: an independent implementation of proto/SPEC.md (sections 2, 3
and 5) in Python, written from the specification rather than from the C code,
to prove the specification is enough and the C implementation follows it.
It owns key files, seal/open and a payload-document builder and validator;
it has no HTTP side. Needs only the standard library and `cryptography`
(Debian's python3-cryptography); run it with /usr/bin/python3.

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
"""

import argparse
import base64
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
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF, HKDFExpand

INFO = b"pocket-id-sync-v1"
EPH_LEN, NONCE_LEN, TAG_LEN = 32, 12, 16
OVERHEAD = EPH_LEN + NONCE_LEN + TAG_LEN
DEFAULT_MAX_WIRE = 64 * 1024 * 1024
FORMAT = 1
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


# --- vectors --------------------------------------------------------------

def check_vector(v):
    """Recomputes one vector from its inputs; returns [mismatches]."""
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
    if pt.startswith(b"{"):
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


def cmd_vectors_check(a):
    names = sorted(n for n in os.listdir(a.dir) if n.startswith("seal-") and n.endswith(".json"))
    failed = 0
    for n in names:
        with open(os.path.join(a.dir, n), encoding="utf-8") as f:
            bad = check_vector(json.load(f))
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
