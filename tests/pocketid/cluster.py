# cluster.py: the processes of a two-site deployment for the conformance suite, on loopback:
# two real Pocket ID servers (each under supervise.sh, in its own directory with its own .env,
# data/ and ENCRYPTION_KEY, both with the same APP_URL), a pocket-id-sync sidecar beside each,
# bootstrapped the way README's step-by-step section says, and HAProxy running the shipped
# contrib/haproxy/haproxy.cfg unchanged. It owns starting, stopping (always, at exit), ports,
# logs and reading each node's SQLite file; the scenarios (conformance.py) own the assertions.
import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.abspath(os.path.join(HERE, "..", ".."))
PROCS = []


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(seconds: float, fn, step=0.05):
    """Calls fn until it returns something true or the deadline passes; returns the last value."""
    deadline = time.monotonic() + seconds
    while True:
        value = fn()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(step)


def http_status(url: str, timeout=2) -> int:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code
    except OSError:
        return 0


def http_get(url: str, headers=None, timeout=10):
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()
    except OSError:
        return 0, b""


def clean_env() -> dict:
    drop = re.compile(r"^(SYNC_|ENCRYPTION_KEY|DB_CONNECTION_STRING$|KEYS_|APP_URL$|PORT$|HOST$)")
    return {k: v for k, v in os.environ.items() if not drop.match(k)}


def spawn(argv, log_path, cwd=None, env=None):
    log = open(log_path, "ab")
    p = subprocess.Popen(argv, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT,
                         stdin=subprocess.DEVNULL, start_new_session=True)
    log.close()
    PROCS.append(p)
    return p


def terminate(p, grace=30):
    if p is None or p.poll() is not None:
        return p.returncode if p else None
    p.send_signal(signal.SIGTERM)
    try:
        return p.wait(grace)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        return p.wait()


def stop_all():
    for p in reversed(PROCS):
        terminate(p, grace=15)
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
    PROCS.clear()


class Node:
    """One site: Pocket ID and its sidecar in ROOT/NAME."""

    def __init__(self, root, name, role, pocket_id_bin, sidecar_bin, app_url):
        self.name, self.role = name, role
        self.dir = os.path.join(root, name)
        os.makedirs(self.dir)
        self.pocket_id_bin, self.sidecar_bin = pocket_id_bin, sidecar_bin
        self.app_url = app_url
        self.pid_port, self.sync_port, self.metrics_port = free_port(), free_port(), free_port()
        self.supervisor = self.sidecar = None
        self.sidecar_log = None
        self.sidecar_starts = 0
        key = os.path.join(self.dir, "encryption.key")
        with open(os.open(key, os.O_WRONLY | os.O_CREAT, 0o600), "wb") as f:
            f.write(os.urandom(24).hex().encode())     # read byte for byte: no newline
        self.api_key_file = None                        # SYNC_POCKET_ID_API_KEY_FILE when set
        self.forward_peer = None                        # the other Node, for SYNC_FORWARD_PEERS
        self.token_file = os.path.join(self.dir, "primary-token")
        with open(os.open(self.token_file, os.O_WRONLY | os.O_CREAT, 0o600), "w"):
            pass                                        # empty = not enrolled (README)
        self.write_file(".env", [
            "# Pocket ID's own settings (the sidecar reads them too)",
            f"APP_URL={app_url}", f"PORT={self.pid_port}", "HOST=127.0.0.1",
            f"ENCRYPTION_KEY_FILE={key}", "TRUST_PROXY=true",
            "# images in the database, so that they are synced (v1.x ignores it)",
            "FILE_BACKEND=database",
            "ANALYTICS_DISABLED=true", "VERSION_CHECK_DISABLED=true"])

    def set_api_key(self, token):
        """The admin API key the sidecar uses for the application configuration."""
        self.api_key_file = os.path.join(self.dir, "pocket-id-api-key")
        with open(os.open(self.api_key_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
            f.write(token + "\n")

    def write_file(self, name, lines):
        with open(os.path.join(self.dir, name), "w") as f:
            f.write("\n".join(lines) + "\n")

    @property
    def url(self):
        return f"http://127.0.0.1:{self.pid_port}"

    @property
    def sync_url(self):
        return f"http://127.0.0.1:{self.sync_port}"

    @property
    def db_path(self):
        return os.path.join(self.dir, "data", "pocket-id.db")

    # --- Pocket ID ------------------------------------------------------------------------
    def start_pocket_id(self):
        self.supervisor = spawn([os.path.join(HERE, "supervise.sh"), self.dir, self.pocket_id_bin],
                                os.path.join(self.dir, "supervisor.log"), env=clean_env())
        if not wait_until(60, lambda: http_status(self.url + "/healthz") // 100 == 2):
            raise RuntimeError(f"{self.name}: Pocket ID did not become healthy:\n{self.tail('pocket-id.log')}")

    def stop_pocket_id(self):
        terminate(self.supervisor)
        self.supervisor = None

    def pocket_id_starts(self) -> int:
        try:
            with open(os.path.join(self.dir, "starts")) as f:
                return int(f.read().strip() or 0)
        except OSError:
            return 0

    def healthy(self) -> bool:
        return http_status(self.url + "/healthz") // 100 == 2

    # --- the sidecar ------------------------------------------------------------------------
    def write_sync_env(self, primary=None):
        lines = [f"SYNC_ROLE={self.role}", f"SYNC_STATE_DIR={self.dir}/state",
                 f"SYNC_LISTEN=127.0.0.1:{self.sync_port}",
                 f"SYNC_METRICS_LISTEN=127.0.0.1:{self.metrics_port}"]
        if self.api_key_file:
            lines.append(f"SYNC_POCKET_ID_API_KEY_FILE={self.api_key_file}")
        if self.forward_peer:   # active/active: the OIDC back-channel forwarder
            lines.append(f"SYNC_FORWARD_PEERS={self.forward_peer.url}")
        if self.role == "secondary":
            # a short interval: the retries (restart, configuration) come at interval polls
            lines += [f"SYNC_PRIMARY_URL={primary.sync_url}", "SYNC_INTERVAL=2s",
                      f"SYNC_RESTART_COMMAND={HERE}/restart_pocket_id.sh {self.dir} {self.url}/healthz"]
        self.write_file("sync.env", lines)

    def start_sidecar(self):
        """As README's `pis` does it: from Pocket ID's directory, with .env then sync.env, and
        the token file only when it is not empty."""
        self.sidecar_starts += 1
        self.sidecar_log = os.path.join(self.dir, f"sidecar.log.{self.sidecar_starts}")
        env = clean_env()
        if os.path.getsize(self.token_file) > 0:
            env["SYNC_PRIMARY_TOKEN_FILE"] = self.token_file
        self.sidecar = spawn([self.sidecar_bin, "run", "--env-file", ".env", "--env-file", "sync.env"],
                             self.sidecar_log, cwd=self.dir, env=env)
        if not wait_until(30, lambda: "event=daemon.started" in self.sidecar_text() or self.sidecar.poll() is not None):
            pass
        if self.sidecar.poll() is not None or "event=daemon.started" not in self.sidecar_text():
            raise RuntimeError(f"{self.name}: sidecar did not start:\n{self.sidecar_text()[-3000:]}")

    def stop_sidecar(self):
        rc = terminate(self.sidecar)
        self.sidecar = None
        return rc

    def sidecar_text(self) -> str:
        try:
            with open(self.sidecar_log, errors="replace") as f:
                return f.read()
        except (OSError, TypeError):
            return ""

    def all_sidecar_logs(self) -> str:
        out = []
        for n in range(1, self.sidecar_starts + 1):
            with open(os.path.join(self.dir, f"sidecar.log.{n}"), errors="replace") as f:
                out.append(f.read())
        return "".join(out)

    def metric(self, series: str):
        status, body = http_get(f"http://127.0.0.1:{self.metrics_port}/metrics")
        if status != 200:
            return None
        for line in body.decode().splitlines():
            name, _, value = line.rpartition(" ")
            if name == "pocket_id_sync_" + series:
                return float(value)
        return None

    def tail(self, name, n=40) -> str:
        try:
            with open(os.path.join(self.dir, name), errors="replace") as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return ""

    # --- the database -----------------------------------------------------------------------
    def query(self, sql, args=()):
        con = sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True, timeout=5)
        try:
            return con.execute(sql, args).fetchall()
        finally:
            con.close()

    def scalar(self, sql, args=()):
        rows = self.query(sql, args)
        return rows[0][0] if rows else None

    def instance_id(self):
        tables = {r[0] for r in self.query("SELECT name FROM sqlite_master WHERE type='table'")}
        if "kv" in tables:
            v = self.scalar("SELECT value FROM kv WHERE key='instance_id'")
            if v:
                return v
        return self.scalar("SELECT value FROM app_config_variables WHERE key='instanceId'")

    def schema_version(self):
        return self.scalar("SELECT version FROM schema_migrations")


class HAProxy:
    """contrib/haproxy/haproxy.cfg as shipped, its addresses from the environment."""

    def __init__(self, root, port, primary: Node, secondary: Node):
        self.port = port
        self.log = os.path.join(root, "haproxy.log")
        self.env = dict(clean_env(), HAPROXY_BIND=f"127.0.0.1:{port}",
                        POCKET_ID_PRIMARY=f"127.0.0.1:{primary.pid_port}",
                        POCKET_ID_SECONDARY=f"127.0.0.1:{secondary.pid_port}",
                        SYNC_SIDECAR_PRIMARY=f"127.0.0.1:{primary.sync_port}",
                        SYNC_SIDECAR_SECONDARY=f"127.0.0.1:{secondary.sync_port}",
                        HAPROXY_CHECK_INTER="100ms")
        self.cfg = os.path.join(SRC, "contrib", "haproxy", "haproxy.cfg")
        self.proc = None

    def start(self):
        exe = next((p for p in ("/usr/sbin/haproxy", "/usr/bin/haproxy") if os.path.exists(p)), "haproxy")
        check = subprocess.run([exe, "-c", "-f", self.cfg], env=self.env, capture_output=True, text=True)
        if check.returncode != 0:
            raise RuntimeError(f"haproxy -c: {check.stdout}{check.stderr}")
        self.proc = spawn([exe, "-db", "-f", self.cfg], self.log, env=self.env)
        if not wait_until(20, lambda: http_status(f"http://127.0.0.1:{self.port}/healthz") // 100 == 2):
            raise RuntimeError("HAProxy did not come up")

    def mark(self) -> int:
        """The number of log lines so far (see route_since)."""
        with open(self.log, errors="replace") as f:
            return sum(1 for _ in f)

    def route_since(self, mark: int, source: str):
        """backend/server of SOURCE's first request logged after MARK, e.g. be_forward/primary."""
        def first():
            with open(self.log, errors="replace") as f:
                for i, line in enumerate(f):
                    m = re.match(r"^(\S+):\d+ \[[^]]*\] \S+ (\S+/\S+) ", line)
                    if i >= mark and m and m.group(1) == source:
                        return m.group(2)
            return None
        return wait_until(5, first)

    def site_of(self, source: str):
        """The be_sites server that last served SOURCE, from HAProxy's request log."""
        def last():
            with open(self.log, errors="replace") as f:
                found = None
                for line in f:
                    m = re.match(r"^(\S+):\d+ \[[^]]*\] \S+ be_sites/(\S+) ", line)
                    if m and m.group(1) == source:
                        found = m.group(2)
                return found
        return wait_until(5, last)
