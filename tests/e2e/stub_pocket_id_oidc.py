#!/usr/bin/python3
# stub_pocket_id_oidc.py: a stand-in for the OIDC back-channel of one Pocket ID node, for the
# forwarder's CI test (tests/pocketid/ drives the real binary): it knows the codes, device codes,
# access tokens and consents given with --knows and answers /api/oidc/token, /userinfo,
# /introspect and DELETE /api/oidc/users/me/authorized-clients/ID the way Pocket ID does for a
# code it issued or not (v2.10+ style "invalid_grant"; codes starting "legacy-" get the v1.x-v2.9
# message). It records every request it got (GET /_stub/log). Binds 127.0.0.1 on an ephemeral
# port written to --port-file; runs until SIGTERM.
import argparse
import json
import os
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ap = argparse.ArgumentParser()
ap.add_argument("--port-file", required=True)
ap.add_argument("--name", required=True)
ap.add_argument("--knows", default="", help="comma-separated: code:X, device:X, token:X, consent:X")
args = ap.parse_args()
KNOWN = set(filter(None, args.knows.split(",")))
LOG, LOCK = [], threading.Lock()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def reply(self, status, obj=None, headers=()):
        body = b"" if obj is None else json.dumps(obj).encode()
        self.send_response(status)
        if obj is not None:
            self.send_header("Content-Type", "application/json; charset=utf-8")
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def record(self, body):
        with LOCK:
            LOG.append({"method": self.command, "path": self.path, "body": body,
                        "headers": {k: v for k, v in self.headers.items()}})

    def read_body(self):
        n = int(self.headers.get("Content-Length", "0"))
        return self.rfile.read(n).decode() if n else ""

    def bearer(self):
        auth = self.headers.get("Authorization", "")
        return auth[7:] if auth.startswith("Bearer ") else ""

    def do_GET(self):
        if self.path == "/_stub/log":
            with LOCK:
                return self.reply(200, LOG)
        self.record("")
        if self.path.startswith("/api/oidc/userinfo"):
            return self.userinfo()
        return self.reply(404, {"error": "not found"})

    def userinfo(self):
        if f"token:{self.bearer()}" in KNOWN:
            return self.reply(200, {"sub": "user-1", "node": args.name})
        return self.reply(401, {"error": "invalid_token"}, [("WWW-Authenticate", 'Bearer error="invalid_token"')])

    def do_POST(self):
        body = self.read_body()
        self.record(body)
        form = dict(urllib.parse.parse_qsl(body))
        if self.path == "/api/oidc/token":
            if "code" in form:
                if f"code:{form['code']}" in KNOWN:
                    return self.reply(200, {"access_token": f"at-{args.name}", "token_type": "Bearer"})
                if form["code"].startswith("legacy-"):
                    return self.reply(400, {"error": "Invalid authorization code"})  # as v2.9 capitalises it
                return self.reply(400, {"error": "invalid_grant", "error_description": "unknown code"})
            if "device_code" in form:
                if f"device:{form['device_code']}" in KNOWN:
                    return self.reply(400, {"error": "authorization_pending"})
                return self.reply(400, {"error": "invalid_grant"})
            return self.reply(400, {"error": "invalid_request"})
        if self.path == "/api/oidc/userinfo":
            return self.userinfo()
        if self.path == "/api/oidc/introspect":
            return self.reply(200, {"active": f"token:{form.get('token', '')}" in KNOWN})
        return self.reply(404, {"error": "not found"})

    def do_DELETE(self):
        self.record("")
        prefix = "/api/oidc/users/me/authorized-clients/"
        if self.path.startswith(prefix):
            cid = self.path[len(prefix):]
            with LOCK:
                if f"consent:{cid}" in KNOWN:
                    KNOWN.discard(f"consent:{cid}")
                    return self.reply(204)
            return self.reply(404, {"error": "Record not found"})
        return self.reply(404, {"error": "not found"})


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
with open(args.port_file + ".tmp", "w") as f:
    f.write(f"{server.server_address[1]}\n")
os.replace(args.port_file + ".tmp", args.port_file)
server.serve_forever()
