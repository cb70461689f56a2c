#!/usr/bin/python3
"""pocketid_fixture: Pocket ID (v1.9 ... v2.14) SQLite databases as Pocket ID leaves them, for the
script tests and the demo: schema, node identity (instance id, JWT key under the node's KEK),
demo content and local runtime rows. Written from /work/shared/pocket-id/FACTS.md and
tests/fixtures/schema/NOTES.md, independently of the C code; stdlib + python3-cryptography.

Subcommands (exit 0 = ok, 1 = failure, 2 = usage):
  create --db FILE --version V --instance-id ID --encryption-key-file F
         [--jwk-file F | --generate-jwk] [--seed demo|none] [--users N]
      V is a fixture release (v1.9, v2.0, v2.10, v2.11, v2.14). The database is in WAL mode,
      the instance id sits where that release keeps it (kv `instance_id` from v2.11, else
      app_config_variables `instanceId`) and the JWK, if any, is wrapped into kv
      `jwt_private_key.json` (v1.9: as with KEYS_STORAGE=database).
  jwk --db FILE --encryption-key-file F
      prints the node's JWK decrypted with its own KEK, as canonical JSON (sorted members,
      no spaces), or exits 1 when it cannot.
  local --db FILE --node NAME
      adds local runtime rows: one audit log per user plus one without a user, and a
      webauthn session. Rows are tagged with NAME (in user_agent / challenge).
  rename-user --db FILE --username U --to NEW
      renames a user (username, e-mail, display name) the way the admin UI would.

The key file is read as raw bytes, not trimmed, exactly like Pocket ID reads ENCRYPTION_KEY_FILE.
"""

import argparse
import base64
import hashlib
import hmac
import json
import os
import sqlite3
import sys
import time
import uuid

from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

HERE = os.path.dirname(os.path.abspath(__file__))
SCHEMA_DIR = os.path.join(HERE, "..", "fixtures", "schema")
# schema_migrations.version of v2.11's move_instance_id_to_kv migration.
INSTANCE_ID_IN_KV_FROM = 20260708130000
JWT_KV_KEY = "jwt_private_key.json"

DEMO_PEOPLE = [
    ("alice", "Alice", "Anderson"), ("bob", "Bob", "Brown"), ("carol", "Carol", "Clark"),
    ("dave", "Dave", "Davis"), ("erin", "Erin", "Evans"), ("frank", "Frank", "Fischer"),
    ("grace", "Grace", "Green"), ("heidi", "Heidi", "Hill"), ("ivan", "Ivan", "Ito"),
    ("judy", "Judy", "Jones"),
]
PASSKEY_NAMES = ["YubiKey 5C", "iPhone", "MacBook Touch ID"]


class FixtureError(Exception):
    pass


# --- crypto: KEK and the wrapped JWT key (FACTS.md "Instance id and the JWT signing key") ---

def read_key_file(path):
    with open(path, "rb") as f:
        return f.read()  # raw bytes, not trimmed (Pocket ID's ENCRYPTION_KEY_FILE)


def derive_kek(encryption_key, instance_id):
    msg = ("pocketid/" + instance_id + "/jwk-kek").encode("utf-8")
    return hmac.new(encryption_key, msg, hashlib.sha3_256).digest()


def wrap(kek, plaintext):
    nonce = os.urandom(12)
    return base64.b64encode(nonce + AESGCM(kek).encrypt(nonce, plaintext, None)).decode("ascii")


def unwrap(kek, value):
    raw = base64.b64decode(value, validate=True)
    if len(raw) < 28:
        raise FixtureError("wrapped key shorter than nonce + tag")
    return AESGCM(kek).decrypt(raw[:12], raw[12:], None)


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def generate_jwk():
    """A fresh EC P-256 signing key as a JWK dict (what `key-rotate --alg ES256` makes)."""
    key = ec.generate_private_key(ec.SECP256R1())
    nums = key.private_numbers()
    return {
        "kty": "EC", "crv": "P-256",
        "x": b64url(nums.public_numbers.x.to_bytes(32, "big")),
        "y": b64url(nums.public_numbers.y.to_bytes(32, "big")),
        "d": b64url(nums.private_value.to_bytes(32, "big")),
        "kid": b64url(os.urandom(8)), "alg": "ES256", "use": "sig",
    }


def canonical(obj):
    return json.dumps(obj, sort_keys=True, separators=(",", ":"))


# --- generic row insertion ----------------------------------------------------------------

def columns(con, table):
    """[(name, declared type upper-case, notnull, default, pk)] or [] if no such table."""
    return [(r[1], (r[2] or "").upper(), bool(r[3]), r[4], r[5])
            for r in con.execute(f'PRAGMA table_info("{table}")')]


def has_table(con, table):
    return bool(columns(con, table))


def neutral(decl, now):
    if "DATE" in decl or "TIME" in decl:
        return now
    if "INT" in decl or "BOOL" in decl or "NUMERIC" in decl or "REAL" in decl:
        return 0
    if "BLOB" in decl:
        return b""
    return ""


def insert(con, table, values, now):
    """Inserts one row: values the release lacks are dropped, JSON text meant for BLOB
    columns becomes bytes (Go's json.Marshal gives []byte), and NOT NULL columns without a
    default that the caller did not name get a neutral value. Returns the row's values."""
    cols = columns(con, table)
    if not cols:
        return None
    row = {}
    for name, decl, notnull, default, pk in cols:
        if name in values:
            v = values[name]
            if isinstance(v, str) and "BLOB" in decl:
                v = v.encode("utf-8")
            row[name] = v
        elif pk and decl.startswith("TEXT") and name == "id":
            row[name] = str(uuid.uuid4())
        elif notnull and default is None:
            row[name] = neutral(decl, now)
    names = list(row)
    con.execute(f'INSERT INTO "{table}"(' + ",".join(f'"{n}"' for n in names) + ") VALUES("
                + ",".join("?" for _ in names) + ")", [row[n] for n in names])
    return row


# --- node identity -----------------------------------------------------------------------

def migration_version(con):
    rows = con.execute("SELECT version FROM schema_migrations").fetchall()
    if len(rows) != 1:
        raise FixtureError("schema_migrations must hold exactly one row")
    return int(rows[0][0])


def instance_id_location(con):
    if migration_version(con) >= INSTANCE_ID_IN_KV_FROM:
        return "kv", "instance_id"
    return "app_config_variables", "instanceId"


def get_instance_id(con):
    table, key = instance_id_location(con)
    row = con.execute(f'SELECT value FROM "{table}" WHERE key = ?', (key,)).fetchone()
    if row is None:
        raise FixtureError(f"no instance id in {table}.{key}")
    return row[0]


def set_kv(con, key, value):
    con.execute("INSERT INTO kv(key, value) VALUES(?, ?) "
                "ON CONFLICT(key) DO UPDATE SET value = excluded.value", (key, value))


# --- demo content ------------------------------------------------------------------------

def people(n):
    out = list(DEMO_PEOPLE[:n])
    for i in range(len(out), n):
        out.append((f"user{i + 1:03d}", f"User{i + 1:03d}", "Demo"))
    return out


def seed_demo(con, nusers, now):
    day = 86400
    users = []
    for i, (username, first, last) in enumerate(people(nusers)):
        users.append(insert(con, "users", {
            "id": str(uuid.uuid4()), "created_at": now - (400 - i) * day,
            "updated_at": now - (30 - i % 30) * day, "username": username,
            "email": f"{username}@example.com", "email_verified": 1,
            "first_name": first, "last_name": last, "display_name": f"{first} {last}",
            "is_admin": 1 if i == 0 else 0, "locale": "en" if i % 2 == 0 else None,
            "disabled": 0, "ldap_id": None}, now))
    groups = {}
    for name, friendly in (("admins", "Administrators"), ("developers", "Developers"),
                           ("family", "Family")):
        groups[name] = insert(con, "user_groups", {
            "id": str(uuid.uuid4()), "created_at": now - 300 * day, "updated_at": now - 10 * day,
            "name": name, "friendly_name": friendly, "ldap_id": None}, now)
    for i, u in enumerate(users):
        member_of = (["admins"] if i == 0 else []) + (["developers"] if i % 2 == 0 else []) \
            + (["family"] if i % 3 != 0 else [])
        for g in member_of:
            insert(con, "user_groups_users", {"user_id": u["id"], "user_group_id": groups[g]["id"]}, now)
    # Passkeys: 1-3 per user. credential_id is declared BLOB from v2.0 and TEXT in v1.9, and is
    # written here in the declared class (base64url text in v1.9). Note: v1.9.1's model binds a
    # Go []byte, which SQLite keeps as a BLOB even in a TEXT column, so real v1.9 rows may hold
    # BLOBs there; sync copies storage classes unchanged, so either works.
    cred_text = dict((c[0], c[1]) for c in columns(con, "webauthn_credentials"))["credential_id"].startswith("TEXT")
    for i, u in enumerate(users):
        for k in range(1 + i % 3):
            raw_id = os.urandom(16 + 8 * k)
            insert(con, "webauthn_credentials", {
                "id": str(uuid.uuid4()), "created_at": now - (200 - i - k) * day,
                "name": PASSKEY_NAMES[k], "credential_id": b64url(raw_id) if cred_text else raw_id,
                "public_key": b"\xa5\x01\x02\x03\x26\x20\x01\x21\x58\x20" + os.urandom(32)
                + b"\x22\x58\x20" + os.urandom(32),
                "attestation_type": "none", "transport": json.dumps(["internal", "hybrid"]).encode(),
                "user_id": u["id"], "backup_eligible": 1, "backup_state": 1 if k else 0}, now)
    insert(con, "custom_claims", {"id": str(uuid.uuid4()), "created_at": now - 100 * day,
                                  "key": "department", "value": "IT", "user_id": users[0]["id"],
                                  "user_group_id": None}, now)
    insert(con, "custom_claims", {"id": str(uuid.uuid4()), "created_at": now - 100 * day,
                                  "key": "team", "value": "platform", "user_id": None,
                                  "user_group_id": groups["developers"]["id"]}, now)
    client = insert(con, "oidc_clients", {
        "id": str(uuid.uuid4()), "created_at": now - 250 * day, "name": "Grafana",
        "secret": "$2a$10$" + b64url(os.urandom(40))[:53],
        "credentials": json.dumps({"secrets": [{"hash": "$2a$10$" + b64url(os.urandom(40))[:53]}]}),
        "callback_urls": json.dumps(["https://grafana.example.com/login/generic_oauth"]),
        "logout_callback_urls": json.dumps(["https://grafana.example.com/logout"]),
        "image_type": None, "created_by_id": users[0]["id"], "is_public": 0, "pkce_enabled": 1,
        "launch_url": "https://grafana.example.com", "requires_reauthentication": 0,
        "is_group_restricted": 1, "description": "Dashboards", "client_type": "standard"}, now)
    insert(con, "oidc_clients_allowed_user_groups", {
        "oidc_client_id": client["id"], "user_group_id": groups["developers"]["id"]}, now)
    insert(con, "api_keys", {
        "id": str(uuid.uuid4()), "name": "ci-deploy",
        "key": hashlib.sha256(os.urandom(32)).hexdigest(), "description": "CI pipeline",
        "expires_at": now + 90 * day, "last_used_at": now - day, "created_at": now - 20 * day,
        "user_id": users[0]["id"], "expiration_email_sent": 0}, now)
    if has_table(con, "apis"):  # v2.10+
        api = insert(con, "apis", {"id": str(uuid.uuid4()), "created_at": now - 50 * day,
                                   "updated_at": now - 5 * day, "name": "Inventory API",
                                   "audience": "https://inventory.example.com"}, now)
        perm = insert(con, "api_permissions", {
            "id": str(uuid.uuid4()), "created_at": now - 50 * day, "api_id": api["id"],
            "key": "inventory:read", "name": "Read inventory", "description": None}, now)
        insert(con, "oidc_clients_allowed_api_permissions", {
            "oidc_client_id": client["id"], "api_permission_id": perm["id"], "subject_type": "user"}, now)
        insert(con, "oidc_clients_allowed_apis", {  # v2.14
            "oidc_client_id": client["id"], "api_id": api["id"], "subject_type": "user"}, now)
    token = insert(con, "signup_tokens", {  # v1.9 ... v2.11
        "id": str(uuid.uuid4()), "created_at": now - 2 * day, "token": b64url(os.urandom(12)),
        "expires_at": now + 5 * day, "usage_limit": 5, "usage_count": 1}, now)
    if token is not None:
        insert(con, "signup_tokens_user_groups", {"signup_token_id": token["id"],
                                                  "user_group_id": groups["family"]["id"]}, now)
    if has_table(con, "app_config_variables"):  # v1.9 ... v2.11
        for k, v in (("appName", "Pocket ID Demo"), ("sessionDuration", "60"),
                     ("emailOneTimeAccessAsAdminEnabled", "true")):
            insert(con, "app_config_variables", {"key": k, "value": v}, now)
    logo = b'<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16"/>'
    insert(con, "storage", {"path": "application-images/logo.svg", "data": logo,  # v2.0+
                            "size": len(logo), "mod_time": now - 3 * day, "created_at": now - 3 * day}, now)


def add_local_rows(con, node, now):
    users = [r[0] for r in con.execute("SELECT id FROM users ORDER BY username")]
    for uid in users + [None]:
        insert(con, "audit_logs", {
            "id": str(uuid.uuid4()), "created_at": now, "event": "SIGN_IN" if uid else "REMOTE_SIGN_IN",
            "ip_address": "192.0.2.10", "user_agent": f"fixture on {node}", "data": b"{}",
            "user_id": uid, "country": "", "city": ""}, now)
    insert(con, "webauthn_sessions", {
        "id": str(uuid.uuid4()), "created_at": now, "challenge": f"{node}-" + b64url(os.urandom(32)),
        "expires_at": now + 300, "user_verification": "required"}, now)


# --- subcommands ------------------------------------------------------------------------

def connect(path):
    con = sqlite3.connect(path, isolation_level=None)
    con.execute("PRAGMA foreign_keys = ON")
    con.execute("PRAGMA busy_timeout = 2500")
    return con


def cmd_create(a):
    schema = os.path.join(SCHEMA_DIR, f"pocket-id-{a.version}.sql")
    if not os.path.exists(schema):
        raise FixtureError(f"no fixture for release {a.version} ({schema})")
    if os.path.exists(a.db):
        raise FixtureError(f"{a.db} already exists")
    enc_key = read_key_file(a.encryption_key_file)
    if a.jwk_file:
        with open(a.jwk_file, encoding="utf-8") as f:
            jwk = json.load(f)
    else:
        jwk = generate_jwk() if a.generate_jwk else None
    now = int(time.time())
    con = connect(a.db)
    try:
        con.execute("PRAGMA journal_mode = WAL")
        with open(schema, encoding="utf-8") as f:
            con.executescript(f.read())
        con.execute("BEGIN IMMEDIATE")
        table, key = instance_id_location(con)
        if table == "kv":
            set_kv(con, key, a.instance_id)
        else:
            insert(con, table, {"key": key, "value": a.instance_id}, now)
        if has_table(con, "app_config_variables") and 20260103142200 <= migration_version(con) \
                < 20260718000000:  # application_lock exists v2.0 ... v2.11
            set_kv(con, "application_lock", json.dumps({
                "process_id": 4242, "host_id": a.instance_id[:8], "lock_id": str(uuid.uuid4()),
                "expires_at": now + 30}, separators=(",", ":")))
        if jwk is not None:
            # Pocket ID encrypts the JSON its encoder wrote, newline included.
            plaintext = (json.dumps(jwk, separators=(",", ":")) + "\n").encode("utf-8")
            set_kv(con, JWT_KV_KEY, wrap(derive_kek(enc_key, a.instance_id), plaintext))
        if a.seed == "demo":
            seed_demo(con, a.users, now)
        con.execute("COMMIT")
    finally:
        con.close()
    return 0


def cmd_jwk(a):
    con = connect(a.db)
    try:
        row = con.execute("SELECT value FROM kv WHERE key = ?", (JWT_KV_KEY,)).fetchone()
        if row is None:
            raise FixtureError(f"{a.db}: no kv row {JWT_KV_KEY}")
        kek = derive_kek(read_key_file(a.encryption_key_file), get_instance_id(con))
    finally:
        con.close()
    try:
        jwk = json.loads(unwrap(kek, row[0]).decode("utf-8"))
    except Exception as exc:  # InvalidTag has no message
        raise FixtureError(f"{a.db}: cannot decrypt {JWT_KV_KEY} with this node's KEK "
                           f"({type(exc).__name__})") from exc
    print(canonical(jwk))
    return 0


def cmd_local(a):
    con = connect(a.db)
    try:
        con.execute("BEGIN IMMEDIATE")
        add_local_rows(con, a.node, int(time.time()))
        con.execute("COMMIT")
    finally:
        con.close()
    return 0


def cmd_rename_user(a):
    con = connect(a.db)
    try:
        cols = [c[0] for c in columns(con, "users")]
        sets = ["username = ?", "email = ?"]
        args = [a.to, f"{a.to}@example.com"]
        if "display_name" in cols:
            sets.append("display_name = ?")
            args.append(a.to.capitalize())
        if "updated_at" in cols:
            sets.append("updated_at = ?")
            args.append(int(time.time()))
        n = con.execute(f"UPDATE users SET {', '.join(sets)} WHERE username = ?",
                        args + [a.username]).rowcount
    finally:
        con.close()
    if n != 1:
        raise FixtureError(f"no user {a.username}")
    return 0


def main(argv):
    p = argparse.ArgumentParser(prog="pocketid_fixture")
    sub = p.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("create")
    c.add_argument("--db", required=True)
    c.add_argument("--version", required=True)
    c.add_argument("--instance-id", required=True)
    c.add_argument("--encryption-key-file", required=True)
    g = c.add_mutually_exclusive_group()
    g.add_argument("--jwk-file")
    g.add_argument("--generate-jwk", action="store_true")
    c.add_argument("--seed", choices=("demo", "none"), default="none")
    c.add_argument("--users", type=int, default=5)
    c.set_defaults(fn=cmd_create)
    c = sub.add_parser("jwk")
    c.add_argument("--db", required=True)
    c.add_argument("--encryption-key-file", required=True)
    c.set_defaults(fn=cmd_jwk)
    c = sub.add_parser("local")
    c.add_argument("--db", required=True)
    c.add_argument("--node", required=True)
    c.set_defaults(fn=cmd_local)
    c = sub.add_parser("rename-user")
    c.add_argument("--db", required=True)
    c.add_argument("--username", required=True)
    c.add_argument("--to", required=True)
    c.set_defaults(fn=cmd_rename_user)
    a = p.parse_args(argv)
    if a.cmd == "create" and a.users < 1:
        p.error("--users must be at least 1")
    try:
        return a.fn(a)
    except (FixtureError, OSError, sqlite3.Error, ValueError) as exc:
        print(f"pocketid_fixture: {a.cmd}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
