"""faultlib: what the fault-injection tests (tests/fault/test_*.py) share: fixture nodes (a
Pocket ID database, its key, the sidecar's env file, made with tests/tools/pocketid_fixture.py),
the primary-side steps (enrol, export, a many-row change), copies of a secondary's files, the
content fingerprint that tells "old" from "new", and running `pocket-id-sync` as a command or a
daemon. It asserts nothing on its own; the scripts do, through Checks.
"""

import glob
import hashlib
import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid

BIN = os.environ.get("PIS_BIN", "")
SRC = os.environ.get("PIS_SOURCE_DIR") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(SRC, "tests", "tools"))

SKIP = 77


def skip(why):
    print(f"skip: {why}")
    sys.exit(SKIP)


def preamble(gate=True):
    """Exits 77 unless the binary, python3-cryptography and (for the slow tests, gate=True)
    PIS_FAULT_TESTS=1 are there. Returns the fixture module."""
    if not BIN or not os.access(BIN, os.X_OK):
        skip("PIS_BIN must point at the pocket-id-sync binary")
    if gate and os.environ.get("PIS_FAULT_TESTS") != "1":
        skip("slow fault-injection test: run with PIS_FAULT_TESTS=1 ctest -L fault")
    try:
        import pocketid_fixture  # noqa: E402  (needs python3-cryptography)
    except ImportError:
        skip("/usr/bin/python3 lacks the cryptography module (Debian: python3-cryptography)")
    for v in [k for k in os.environ if k.startswith(("SYNC_", "ENCRYPTION_KEY", "KEYS_"))
              or k == "DB_CONNECTION_STRING"]:
        del os.environ[v]
    return pocketid_fixture


def seeded_rng(name):
    """A random.Random from PIS_FAULT_SEED (or a fresh seed), printed so a run can be
    repeated: the kill points change with the seed, the assertions never do."""
    seed = int(os.environ.get("PIS_FAULT_SEED") or random.SystemRandom().randrange(1 << 32))
    print(f"# {name}: seed {seed} (repeat with PIS_FAULT_SEED={seed})", flush=True)
    return random.Random(seed)


class Checks:
    def __init__(self):
        self.passed = 0
        self.failed = 0

    def ok(self, name, cond, detail=""):
        if cond:
            self.passed += 1
        else:
            self.failed += 1
            print(f"FAIL {name}" + (f"\n     {detail}" if detail else ""), flush=True)
        return cond

    def say(self, name):
        print(f"ok   {name}", flush=True)

    def finish(self):
        print(f"{self.passed} passed, {self.failed} failed")
        sys.exit(0 if self.failed == 0 else 1)


def run(args, env=None, check=True, **kw):
    r = subprocess.run(args, env=env, capture_output=True, text=True, **kw)
    if check and r.returncode != 0:
        raise RuntimeError(f"{' '.join(args)}: exit {r.returncode}\n{r.stdout}{r.stderr}")
    return r


class Node:
    """$dir/NAME: pocket-id.db, encryption.key, state/, sync.env (+ extra variables)."""

    def __init__(self, fx, root, name, role, users, seed, extra=()):
        self.fx, self.name, self.role = fx, name, role
        self.dir = os.path.join(root, name)
        os.makedirs(self.dir)
        self.db = os.path.join(self.dir, "pocket-id.db")
        self.key = os.path.join(self.dir, "encryption.key")
        self.state = os.path.join(self.dir, "state")
        self.env = os.path.join(self.dir, "sync.env")
        with open(self.key, "w") as f:
            f.write(os.urandom(18).hex())
        os.chmod(self.key, 0o600)
        tool = [sys.executable, os.path.join(SRC, "tests", "tools", "pocketid_fixture.py")]
        run(tool + ["create", "--db", self.db, "--version", "v2.14", "--instance-id",
                    str(uuid.uuid4()), "--encryption-key-file", self.key, "--generate-jwk",
                    "--seed", seed, "--users", str(users)])
        run(tool + ["local", "--db", self.db, "--node", name])
        self.write_env(extra)

    def write_env(self, extra=()):
        lines = [f"DB_CONNECTION_STRING={self.db}", f"ENCRYPTION_KEY_FILE={self.key}",
                 f"SYNC_ROLE={self.role}", f"SYNC_STATE_DIR={self.state}",
                 "SYNC_LISTEN=127.0.0.1:0", "SYNC_METRICS_LISTEN=127.0.0.1:0"] + list(extra)
        with open(self.env, "w") as f:
            f.write("\n".join(lines) + "\n")

    def cli(self, *args, check=True, env=None):
        return run([BIN] + list(args[:1]) + ["--env-file", self.env] + list(args[1:]),
                   env=env, check=check)

    def pubkey(self):
        return self.cli("pubkey").stdout.strip()


def enrol(primary, secondary):
    """peer add on the primary; the token goes to a 0600 file the secondary's env names."""
    token = primary.cli("peer", "add", secondary.name, secondary.pubkey()).stdout.strip()
    path = os.path.join(secondary.dir, "primary.token")
    with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
        f.write(token + "\n")
    return path


def export(primary, secondary, out):
    primary.cli("export", "--to", secondary.pubkey(), "-o", out)


def rotate_jwk(fx, node):
    """A new JWT signing key on node, wrapped as Pocket ID wraps it (what `key-rotate` does)."""
    con = sqlite3.connect(node.db)
    with open(node.key, "rb") as f:
        enc = f.read()
    kek = fx.derive_kek(enc, fx.get_instance_id(con))
    plain = (json.dumps(fx.generate_jwk(), separators=(",", ":")) + "\n").encode()
    with con:
        fx.set_kv(con, fx.JWT_KV_KEY, fx.wrap(kek, plain))
    con.close()


def many_row_change(node, step):
    """Renames half the users, drops a tenth of the passkeys and moves users between groups:
    thousands of rows in one change, within the mass-delete valve."""
    con = sqlite3.connect(node.db)
    with con:
        con.execute("UPDATE users SET display_name = display_name || ?, "
                    "email = 'c' || ? || '.' || email WHERE rowid % 2 = 0", (f" ({step})", step))
        con.execute("DELETE FROM webauthn_credentials WHERE rowid % 10 = ?", (step % 10,))
        con.execute("UPDATE user_groups_users SET user_group_id = (SELECT id FROM user_groups "
                    "ORDER BY id LIMIT 1) WHERE rowid % 7 = 0 AND user_group_id <> "
                    "(SELECT id FROM user_groups ORDER BY id LIMIT 1) AND user_id NOT IN "
                    "(SELECT user_id FROM user_groups_users WHERE user_group_id = "
                    "(SELECT id FROM user_groups ORDER BY id LIMIT 1))")
    con.close()


def checkpoint(db):
    con = sqlite3.connect(db)
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()


def snapshot_files(node, to):
    """Copies node's database (checkpointed) and state directory to directory `to`."""
    checkpoint(node.db)
    os.makedirs(to)
    shutil.copy2(node.db, os.path.join(to, "pocket-id.db"))
    shutil.copytree(node.state, os.path.join(to, "state"))


def restore_files(node, frm):
    """Puts node's database and state back to a snapshot_files copy."""
    for f in glob.glob(node.db + "*"):
        os.unlink(f)
    shutil.rmtree(node.state, ignore_errors=True)
    shutil.copy2(os.path.join(frm, "pocket-id.db"), node.db)
    shutil.copytree(os.path.join(frm, "state"), node.state)


def fingerprint(fx, node):
    """SHA-256 over every row of every table (rows sorted); the wrapped JWT key (a new random
    nonce on every wrap) counts by its decrypted JWK."""
    con = sqlite3.connect(node.db, timeout=10)
    h = hashlib.sha256()
    with open(node.key, "rb") as f:
        enc = f.read()
    tables = [r[0] for r in con.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
    for t in tables:
        rows = []
        for row in con.execute(f'SELECT * FROM "{t}"'):
            if t == "kv" and row[0] == fx.JWT_KV_KEY:
                kek = fx.derive_kek(enc, fx.get_instance_id(con))
                row = (row[0], fx.canonical(json.loads(fx.unwrap(kek, row[1]))))
            rows.append(repr(row))
        h.update(t.encode() + b"\0" + "\n".join(sorted(rows)).encode())
    con.close()
    return h.hexdigest()


def integrity(node):
    con = sqlite3.connect(node.db, timeout=10)
    r = [x[0] for x in con.execute("PRAGMA integrity_check")]
    fk = con.execute("PRAGMA foreign_key_check").fetchall()
    con.close()
    return "ok" if r == ["ok"] and not fk else f"integrity {r[:3]} foreign keys {fk[:3]}"


def user_count(node):
    con = sqlite3.connect(node.db, timeout=10)
    n = con.execute("SELECT count(*) FROM users").fetchone()[0]
    con.close()
    return n


def status_value(node, key):
    """A key of state.db's status table, None when absent."""
    con = sqlite3.connect(os.path.join(node.state, "state.db"), timeout=10)
    r = con.execute("SELECT value FROM status WHERE key = ?", (key,)).fetchone()
    con.close()
    return r[0] if r else None


def count_lines(path):
    try:
        with open(path) as f:
            return sum(1 for _ in f)
    except FileNotFoundError:
        return 0


class Daemon:
    """`pocket-id-sync run` with its log in a file; stop() sends SIGTERM and waits."""

    def __init__(self, node, log, env=None):
        self.log = log
        self.logf = open(log, "w")
        self.p = subprocess.Popen([BIN, "run", "--env-file", node.env], stdout=subprocess.DEVNULL,
                                  stderr=self.logf, env=env)
        self.port = None

    def wait_log(self, needle, timeout=60, also="", step=0.05):
        """The first log line holding needle (and also), or None at the deadline."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with open(self.log) as f:
                for line in f:
                    if needle in line and also in line:
                        return line
            if self.p.poll() is not None:
                return None
            time.sleep(step)
        return None

    def started(self):
        line = self.wait_log("event=daemon.started")
        if line:
            self.port = int(line.split(" listen=")[1].split(" ")[0].rsplit(":", 1)[1])
        return line is not None

    def kill(self, sig=signal.SIGKILL):
        if self.p.poll() is None:
            self.p.send_signal(sig)
        rc = self.p.wait(timeout=120)
        self.logf.close()
        return rc

    def stop(self):
        return self.kill(signal.SIGTERM)


def wait_until(cond, timeout, step=0.2):
    deadline = time.monotonic() + timeout
    while True:
        if cond():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(step)


def scratch():
    d = tempfile.mkdtemp(prefix="pis-fault-")
    return d
