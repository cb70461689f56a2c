#!/usr/bin/env python3
"""stub_backend.py: loopback HTTP stub standing in for Pocket ID or its sidecar
in tests/ops/test_haproxy.sh. Answers every method on every path with 200 and
the body "<name> <METHOD> <path>"; /healthz answers --health-status (Pocket ID
v2 uses 204, the sidecar 200 "ok"). Every answer carries "X-Stub-Name: <name>" and "X-Stub-XFF: <the X-Forwarded-For it got, or ->".
SIGUSR1 makes /healthz answer 503, SIGUSR2 restores it. Binds 127.0.0.1:0 and
prints the chosen port on stdout."""

import argparse
import http.server
import signal
import sys


def make_handler(name, state):
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def answer(self):
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(length)
            if self.path.split("?", 1)[0] == "/healthz":
                status = state["health"]
                body = b"ok\n" if status == 200 else b""
            else:
                status = 200
                body = f"{name} {self.command} {self.path}\n".encode()
            self.send_response(status)
            self.send_header("X-Stub-Name", name)
            self.send_header("X-Stub-XFF", self.headers.get("X-Forwarded-For", "-"))
            self.send_header("Content-Type", "text/plain")
            if status != 204:
                self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD" and status != 204:
                self.wfile.write(body)

        def __getattr__(self, attr):
            # BaseHTTPRequestHandler dispatches to do_<METHOD>: accept them all.
            if attr.startswith("do_"):
                return self.answer
            raise AttributeError(attr)

        def log_message(self, fmt, *args):
            pass

    return Handler


class QuietServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        # HAProxy ends health checks with a reset; that is not worth a traceback.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--name", required=True)
    parser.add_argument("--health-status", type=int, default=200)
    args = parser.parse_args()

    state = {"health": args.health_status}
    signal.signal(signal.SIGUSR1, lambda *_: state.update(health=503))
    signal.signal(signal.SIGUSR2, lambda *_: state.update(health=args.health_status))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))

    server = QuietServer(("127.0.0.1", 0), make_handler(args.name, state))
    print(server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
