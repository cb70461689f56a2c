#!/usr/bin/python3
"""test_full_disk: the secondary's Pocket ID database on a file system that fills up during an
apply (a small tmpfs mounted in a private mount namespace: writes fail with ENOSPC, SQLite says
SQLITE_FULL), then space is freed. The offline `apply` fails with a clear message and changes
nothing (old content, integrity ok, no restart run or left pending); the daemon fails the same
way, keeps polling, and once space is freed completes the sync and the restart by itself.

Runs itself again under `unshare --mount` (as root) or `unshare --user --map-root-user --mount`
(otherwise); skips (77) when neither may mount a tmpfs. --users sets the primary's size;
--gate skips unless PIS_FAULT_TESTS=1 (the 10,000-user run of the label `fault`).
"""

import argparse
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import faultlib as fl  # noqa: E402

INNER = "PIS_FAULT_IN_NAMESPACE"
FS_BYTES = 64 << 20
LEFT_FREE = 1 << 20  # room for the -shm file and the state, not for the apply's writes


def reexec_in_namespace():
    flags = ["--mount", "--propagation", "private"] if os.geteuid() == 0 else \
        ["--user", "--map-root-user", "--mount", "--propagation", "private"]
    env = dict(os.environ, **{INNER: "1"})
    try:
        r = subprocess.run(["unshare"] + flags + [sys.executable] + sys.argv, env=env)
    except FileNotFoundError:
        fl.skip("no unshare(1)")
    sys.exit(r.returncode)


def mount_small_fs(path):
    os.makedirs(path)
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={FS_BYTES},mode=0700", "tmpfs", path],
                       capture_output=True, text=True)
    if r.returncode != 0:
        fl.skip(f"cannot mount a tmpfs here: {r.stderr.strip()}")


def fill(path, leave):
    """Writes a filler file until only `leave` bytes are free on path's file system."""
    st = os.statvfs(path)
    free = st.f_bavail * st.f_frsize
    with open(os.path.join(path, "filler"), "wb") as f:
        chunk = b"\0" * (1 << 20)
        todo = free - leave
        while todo > 0:
            f.write(chunk[:min(todo, len(chunk))])
            todo -= len(chunk)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--users", type=int, default=10000)
    ap.add_argument("--gate", action="store_true", help="skip unless PIS_FAULT_TESTS=1")
    a = ap.parse_args()
    fx = fl.preamble(gate=a.gate)
    if os.environ.get(INNER) != "1":
        reexec_in_namespace()
    c = fl.Checks()
    root = fl.scratch()
    small = os.path.join(root, "small")
    mount_small_fs(small)
    try:
        P = fl.Node(fx, root, "p", "primary", a.users, "demo")
        S = fl.Node(fx, small, "s", "secondary", 1, "none")
        S.state = os.path.join(root, "s-state")  # only Pocket ID's database is on the small fs
        runs = os.path.join(root, "restart.done")
        S.write_env()
        extra = [f"SYNC_PRIMARY_TOKEN_FILE={fl.enrol(P, S)}", "SYNC_INTERVAL=1s",
                 f"SYNC_RESTART_COMMAND=echo done >>'{runs}'"]
        S.write_env(extra)
        payload = os.path.join(root, "payload.sealed")
        fl.export(P, S, payload)
        fl.checkpoint(S.db)
        old = fl.fingerprint(fx, S)
        fill(small, LEFT_FREE)

        r = S.cli("apply", payload, check=False)
        c.ok("apply on a full file system fails", r.returncode != 0, r.stderr)
        c.ok("... saying the disk is full and nothing changed",
             "disk is full" in r.stderr and "nothing was changed" in r.stderr, r.stderr)
        c.ok("... integrity", fl.integrity(S) == "ok", fl.integrity(S))
        c.ok("... the old content", fl.fingerprint(fx, S) == old)
        c.ok("... no restart ran", fl.count_lines(runs) == 0)
        c.ok("... and none is pending", fl.status_value(S, "restart_pending") in (None, "0"),
             str(fl.status_value(S, "restart_pending")))

        pd = fl.Daemon(P, os.path.join(root, "p.log"))
        c.ok("the primary starts", pd.started())
        S.write_env(extra + [f"SYNC_PRIMARY_URL=http://127.0.0.1:{pd.port}"])
        sd = fl.Daemon(S, os.path.join(root, "s.log"))
        c.ok("the secondary starts", sd.started())
        failed = sd.wait_log("event=sync.failed", 120, also="disk is full")
        c.ok("the daemon's apply fails on the full file system (sync.failed: disk is full)",
             failed is not None)
        c.ok("... still the old content", fl.fingerprint(fx, S) == old)
        os.unlink(os.path.join(small, "filler"))
        synced = fl.wait_until(lambda: fl.count_lines(runs) >= 1 and
                               fl.status_value(S, "restart_pending") == "0", 120)
        c.ok("space freed: the daemon completes the sync and the restart by itself", synced)
        c.ok("... integrity", fl.integrity(S) == "ok")
        c.ok("... the primary's users", fl.user_count(S) == fl.user_count(P),
             f"{fl.user_count(S)} of {fl.user_count(P)}")
        c.ok("the secondary exits 0 on SIGTERM", sd.stop() == 0)
        c.ok("the primary exits 0 on SIGTERM", pd.stop() == 0)
        s_content = fl.fingerprint(fx, S)
        r = S.cli("apply", payload, check=False)
        c.ok("the offline apply now succeeds too", r.returncode == 0, r.stderr)
        c.ok("... and finds nothing to change", fl.fingerprint(fx, S) == s_content)
    finally:
        subprocess.run(["umount", small])
        if c.failed == 0:
            shutil.rmtree(root, ignore_errors=True)
        else:
            print(f"# files kept in {root}")
    c.finish()


if __name__ == "__main__":
    main()
