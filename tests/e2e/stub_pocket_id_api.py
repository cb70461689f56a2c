#!/usr/bin/python3
# stub_pocket_id_api.py: a stand-in for the two routes of Pocket ID's HTTP API that the sidecar
# uses for the application configuration (GET /api/application-configuration/all, PUT
# /api/application-configuration, both behind X-API-Key), for the CI test that has no real
# Pocket ID (tests/pocketid/ proves the same against the real binary). Shapes as Pocket ID
# answers them. Control routes for the test: GET /_stub/state, POST /_stub/set {key: value},
# POST /_stub/refuse {"refuse": bool}. Binds 127.0.0.1 on an ephemeral port, prints the port
# to --port-file and runs until SIGTERM.
import argparse
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ap = argparse.ArgumentParser()
ap.add_argument("--port-file", required=True)
ap.add_argument("--api-key-file", required=True)
ap.add_argument("--config", required=True, help="JSON object: the initial configuration")
args = ap.parse_args()
with open(args.api_key_file) as f:
    API_KEY = f.read().strip()
with open(args.config) as f:
    CONFIG = json.load(f)
LOCK = threading.Lock()
STATE = {"puts": 0, "refuse": False, "last_put": None}


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def reply(self, status, obj=None):
        body = b"" if obj is None else json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def body(self):
        n = int(self.headers.get("Content-Length", "0"))
        return json.loads(self.rfile.read(n) or b"null")

    def authorised(self):
        with LOCK:
            if STATE["refuse"] or self.headers.get("X-API-Key") != API_KEY:
                self.reply(401, {"error": "You are not signed in"})
                return False
        return True

    def listing(self):
        return [{"key": k, "type": "string", "value": v, "isPublic": False} for k, v in CONFIG.items()]

    def do_GET(self):
        if self.path == "/healthz":
            return self.reply(204)
        if self.path == "/_stub/state":
            with LOCK:
                return self.reply(200, {"config": CONFIG, **STATE})
        if self.path == "/api/application-configuration/all":
            if self.authorised():
                with LOCK:
                    return self.reply(200, self.listing())
            return None
        return self.reply(404, {"error": "not found"})

    def do_PUT(self):
        if self.path != "/api/application-configuration":
            return self.reply(404, {"error": "not found"})
        if not self.authorised():
            return None
        data = self.body()
        if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
            return self.reply(400, {"error": "invalid body"})
        with LOCK:
            missing = [k for k in CONFIG if k not in data and not k.endswith("ImageType") and k != "instanceId"]
            if missing:   # Pocket ID's DTO requires every setting
                return self.reply(400, {"error": f"missing {missing}"})
            for k, v in data.items():
                if k in CONFIG:
                    CONFIG[k] = v
            STATE["puts"] += 1
            STATE["last_put"] = data
            return self.reply(200, self.listing())

    def do_POST(self):
        data = self.body()
        with LOCK:
            if self.path == "/_stub/set":
                CONFIG.update(data)
            elif self.path == "/_stub/refuse":
                STATE["refuse"] = bool(data["refuse"])
            else:
                return self.reply(404, {"error": "not found"})
        return self.reply(200, {})


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
with open(args.port_file + ".tmp", "w") as f:
    f.write(f"{server.server_address[1]}\n")
import os  # noqa: E402
os.replace(args.port_file + ".tmp", args.port_file)
server.serve_forever()
