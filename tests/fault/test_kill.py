#!/usr/bin/python3
"""test_kill: kill -9 of the offline `apply` (--target apply) or of the secondary's daemon
(--target daemon) at random points of a sync: the initial one of a 10,000-user primary
(--change initial) or a change of thousands of rows plus a new JWT key (--change many). After
every kill the secondary's database passes integrity_check and foreign_key_check and holds
exactly the old or exactly the new content; then the same command (or a fresh daemon) runs
without any help and must end with the new content, SYNC_RESTART_COMMAND completed at least
once (a restart is never lost) and no restart left pending in state.db.

--signal term sends SIGTERM to the daemon instead, counting from its daemon.started line (before
that the default action ends it, as for any process): it must exit 0 with daemon.stopped as its
last line, and when the apply had committed, the restart must have finished before the exit.

Kill points: seeded (printed; PIS_FAULT_SEED repeats a run), half spread over a whole
uninterrupted run, half where the commit and the restart are: over the last 40% of an `apply`,
or over the last 60% of the time a daemon takes from its apply.started line (debug log) to the
restart's end. The restart command takes 0.5 s, so kills between the commit and its success
happen; a kill takes the restart command's process group with it, as systemd's control-group
kill does. PIS_FAULT_KILLS sets the number of kills (default 50). Gated by PIS_FAULT_TESTS=1
(CTest label `fault`).
"""

import argparse
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import faultlib as fl  # noqa: E402


def restart_command(node):
    """Each run records its shell's pid (to wait for orphans of a killed parent), then takes
    0.5 s, then records that it finished."""
    pids, runs = os.path.join(node.dir, "restart.pids"), os.path.join(node.dir, "restart.done")
    return pids, runs, f"echo $$ >>'{pids}'; sleep 0.5; echo done >>'{runs}'"


def our_shell(pid, marker):
    """True when pid is still a restart shell of this test (its command line names marker):
    a pid from the file may have been reused by then."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return marker.encode() in f.read()
    except OSError:
        return False


def kill_orphans(pids_file, marker):
    """SIGKILLs the process group of every restart shell a killed parent left behind (as
    systemd's control-group kill would); True once none is left."""
    try:
        with open(pids_file) as f:
            pids = [int(x) for x in f.read().split()]
    except FileNotFoundError:
        return True
    for p in pids:
        if our_shell(p, marker):
            try:
                os.killpg(p, signal.SIGKILL)
            except ProcessLookupError:
                pass
    return not any(our_shell(p, marker) for p in pids)


class Scenario:
    def __init__(self, fx, a):
        self.fx, self.a = fx, a
        self.root = fl.scratch()
        self.P = fl.Node(fx, self.root, "p", "primary", a.users, "demo")
        self.S = fl.Node(fx, self.root, "s", "secondary", 1, "none")
        self.pids, self.runs, cmd = restart_command(self.S)
        self.token = fl.enrol(self.P, self.S)
        self.s_extra = [f"SYNC_PRIMARY_TOKEN_FILE={self.token}", f"SYNC_RESTART_COMMAND={cmd}",
                        "SYNC_RESTART_TIMEOUT=30s", "SYNC_INTERVAL=1s", "SYNC_LOG_LEVEL=debug"]
        self.S.write_env(self.s_extra)
        self.payload = os.path.join(self.root, "payload.sealed")
        self.daemon_p = None

    def prepare(self):
        """Brings S to the "old" state and P to the content the kills interrupt."""
        if self.a.change == "many":
            fl.export(self.P, self.S, self.payload)
            self.S.cli("apply", self.payload)
            fl.many_row_change(self.P, 1)
            fl.rotate_jwk(self.fx, self.P)
        self.reset_runs()
        fl.export(self.P, self.S, self.payload)
        if self.a.target == "daemon":
            self.daemon_p = fl.Daemon(self.P, os.path.join(self.root, "primary.log"))
            if not self.daemon_p.started():
                raise RuntimeError("the primary daemon did not start")
            self.S.write_env(self.s_extra + [f"SYNC_PRIMARY_URL=http://127.0.0.1:{self.daemon_p.port}"])
        self.base = os.path.join(self.root, "base")
        fl.snapshot_files(self.S, self.base)

    def reset_runs(self):
        for f in (self.pids, self.runs):
            if os.path.exists(f):
                os.unlink(f)

    def start(self, n):
        if self.a.target == "apply":
            return subprocess.Popen([fl.BIN, "apply", "--env-file", self.S.env, self.payload],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return fl.Daemon(self.S, os.path.join(self.root, f"s.log.{n}"))

    def converged(self, new):
        """The new content, and the restart done and no longer pending."""
        return (fl.count_lines(self.runs) >= 1 and fl.status_value(self.S, "restart_pending") == "0"
                and fl.fingerprint(self.fx, self.S) == new)

    def complete(self, n, new=None):
        """Runs to completion: apply's exit status, or the daemon's once the new content and a
        restart are there (then SIGTERM). Returns (status, seconds in all, seconds from the
        daemon's apply.started line to the restart's end)."""
        t0 = time.monotonic()
        if self.a.target == "apply":
            r = fl.run([fl.BIN, "apply", "--env-file", self.S.env, self.payload], check=False)
            took = time.monotonic() - t0
            return r.returncode, took, took
        d = self.start(n)
        t_apply = t0
        if new is None:  # the reference run: until the restart finished
            d.wait_log("event=apply.started", 300, step=0.01)
            t_apply = time.monotonic()
            ok = fl.wait_until(lambda: fl.count_lines(self.runs) >= 1, 300, 0.02)
        else:
            ok = fl.wait_until(lambda: self.converged(new), 300, 0.5)
        took = time.monotonic() - t0
        rc = d.stop()
        return (rc if ok else -1), took, took - (t_apply - t0)

    def kill_at(self, n, delay, from_apply):
        """Sends the signal delay seconds after the start (or, from_apply, after a daemon's
        apply.started line); returns the exit status (a daemon's on SIGTERM, else None)."""
        p = self.start(n)
        if self.a.signal == "term":  # a SIGTERM before the handlers exist ends it at once
            p.started()
        if from_apply:
            p.wait_log("event=apply.started", 300, step=0.01)
        time.sleep(delay)
        if self.a.signal == "term":
            return p.stop()
        if self.a.target == "apply":
            p.kill()
            p.wait()
        else:
            p.kill()
        # A shell forked just before the kill writes its pid a moment later: look again.
        fl.wait_until(lambda: kill_orphans(self.pids, self.runs) and time.sleep(0.1) is None
                      and kill_orphans(self.pids, self.runs), 30, 0.05)
        return None

    def check_clean_stop(self, c, what, rc, is_new):
        """SIGTERM: exit 0, daemon.stopped last, and a committed apply's restart finished."""
        with open(self.root + f"/s.log.{what[1]}") as f:
            last = f.read().splitlines()[-1:]
        c.ok(f"{what[0]}: exit status 0", rc == 0, f"status {rc}")
        c.ok(f"{what[0]}: daemon.stopped is the last line", last and "event=daemon.stopped" in last[0],
             str(last))
        if is_new:
            c.ok(f"{what[0]}: committed, so the restart finished before the exit",
                 fl.count_lines(self.runs) >= 1 and fl.status_value(self.S, "restart_pending") == "0")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--target", choices=("apply", "daemon"), required=True)
    ap.add_argument("--change", choices=("initial", "many"), required=True)
    ap.add_argument("--signal", choices=("kill", "term"), default="kill")
    ap.add_argument("--users", type=int, default=10000)
    a = ap.parse_args()
    if a.signal == "term" and a.target != "daemon":
        ap.error("--signal term is for --target daemon")
    fx = fl.preamble()
    kills = int(os.environ.get("PIS_FAULT_KILLS", "50"))
    rng = fl.seeded_rng(f"{'SIGTERM' if a.signal == 'term' else 'kill -9'} of {a.target}, "
                        f"{a.change} sync")
    c = fl.Checks()
    sc = Scenario(fx, a)
    try:
        sc.prepare()
        old = fl.fingerprint(fx, sc.S)
        rc, T, T_apply = sc.complete(0)
        new = fl.fingerprint(fx, sc.S)
        c.ok("the uninterrupted run succeeds", rc == 0, f"status {rc}")
        c.ok("the change is a change", old != new)
        print(f"# {a.users} users, {a.change}: an uninterrupted {a.target} takes {T:.2f} s "
              f"({T_apply:.2f} s from apply.started)", flush=True)
        seen = {"old": 0, "new, restart not done yet": 0, "new, restart done": 0}
        for n in range(1, kills + 1):
            fl.restore_files(sc.S, sc.base)
            sc.reset_runs()
            # Odd kills anywhere in a run; even ones where the commit and the restart are.
            from_apply = n % 2 == 0 and a.target == "daemon"
            if n % 2:
                delay = rng.uniform(0, T)
            elif from_apply:
                delay = rng.uniform(0.4 * T_apply, T_apply)
            else:
                delay = rng.uniform(0.6 * T, T)
            rc = sc.kill_at(n, delay, from_apply)
            what = (f"{'SIGTERM' if a.signal == 'term' else 'kill'} {n} at {delay:.3f} s" +
                    (" after apply.started" if from_apply else ""))
            c.ok(f"{what}: integrity", fl.integrity(sc.S) == "ok", fl.integrity(sc.S))
            fp = fl.fingerprint(fx, sc.S)
            c.ok(f"{what}: old or new content", fp in (old, new))
            state = "old" if fp == old else ("new, restart done" if fl.count_lines(sc.runs)
                                             else "new, restart not done yet")
            seen[state] = seen.get(state, 0) + 1
            if a.signal == "term":
                sc.check_clean_stop(c, (what, n), rc, fp == new)
            rc, _, _ = sc.complete(n, new)
            c.ok(f"{what} ({state}): the next run succeeds by itself", rc == 0, f"status {rc}")
            c.ok(f"{what} ({state}): then the new content", fl.fingerprint(fx, sc.S) == new)
            c.ok(f"{what} ({state}): the restart was not lost", fl.count_lines(sc.runs) >= 1)
            c.ok(f"{what} ({state}): no restart left pending",
                 fl.status_value(sc.S, "restart_pending") in ("0", None),
                 f"restart_pending={fl.status_value(sc.S, 'restart_pending')}")
            c.ok(f"{what}: integrity after recovery", fl.integrity(sc.S) == "ok")
        print("# states the kills left: " + ", ".join(f"{k}: {v}" for k, v in seen.items()))
        if c.failed == 0:
            c.say(f"{kills} {a.signal} signals to {a.target} during the {a.change} sync")
    finally:
        if sc.daemon_p is not None:
            c.ok("the primary exits 0 on SIGTERM", sc.daemon_p.stop() == 0)
        if c.failed == 0:
            fl.shutil.rmtree(sc.root, ignore_errors=True)
        else:
            print(f"# files kept in {sc.root}")
    c.finish()


if __name__ == "__main__":
    main()
