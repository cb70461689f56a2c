# pocketid_api.py: a client of Pocket ID's HTTP API as a browser (cookies) or a script
# (X-API-Key) uses it, for the conformance suite: first-run setup, passkey registration and
# login through authenticator.py, the admin calls the scenarios make, and an OIDC
# authorization-code flow with PKCE. It can bind a source address (127.0.0.x) so that HAProxy
# sees clients at different sites. It owns no process and asserts nothing.
import base64
import hashlib
import http.client
import json
import os
import urllib.parse
from http.cookies import SimpleCookie

from authenticator import Authenticator, Credential, b64url


class Reply:
    def __init__(self, status: int, headers, body: bytes):
        self.status = status
        self.headers = headers
        self.body = body

    def json(self):
        return json.loads(self.body) if self.body else None

    def __repr__(self):
        return f"HTTP {self.status}: {self.body[:300]!r}"


class ApiError(Exception):
    pass


class Client:
    """One user agent: a cookie jar (sent by hand, since Pocket ID marks its cookies Secure even
    on http://), an optional source address and an optional API key."""

    def __init__(self, host: str, port: int, source: str = None, api_key: str = None, timeout=15):
        self.host, self.port, self.source = host, port, source
        self.api_key = api_key
        self.timeout = timeout
        self.cookies = {}

    def request(self, method: str, path: str, body=None, form=None, headers=None) -> Reply:
        hdrs = dict(headers or {})
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            hdrs.setdefault("Content-Type", "application/json")
        elif form is not None:
            data = urllib.parse.urlencode(form).encode()
            hdrs.setdefault("Content-Type", "application/x-www-form-urlencoded")
        if self.cookies:
            hdrs["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if self.api_key:
            hdrs["X-API-Key"] = self.api_key
        src = (self.source, 0) if self.source else None
        conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout, source_address=src)
        try:
            conn.request(method, path, body=data, headers=hdrs)
            resp = conn.getresponse()
            payload = resp.read()
            for value in resp.headers.get_all("Set-Cookie") or []:
                jar = SimpleCookie()
                jar.load(value)
                for name, morsel in jar.items():
                    if morsel.value == "" or morsel["max-age"] in ("0", "-1"):
                        self.cookies.pop(name, None)
                    else:
                        self.cookies[name] = morsel.value
            return Reply(resp.status, resp.headers, payload)
        finally:
            conn.close()

    def upload(self, method: str, path: str, field: str, filename: str, data: bytes, ctype: str) -> Reply:
        """A multipart/form-data request with one file, as the admin UI sends images."""
        boundary = "pocket-id-sync-" + os.urandom(8).hex()
        body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"{filename}\"\r\n"
                f"Content-Type: {ctype}\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
        return self.request_raw(method, path, body, {"Content-Type": f"multipart/form-data; boundary={boundary}"})

    def request_raw(self, method: str, path: str, data: bytes, headers: dict) -> Reply:
        hdrs = dict(headers)
        if self.cookies:
            hdrs["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        try:
            conn.request(method, path, body=data, headers=hdrs)
            resp = conn.getresponse()
            return Reply(resp.status, resp.headers, resp.read())
        finally:
            conn.close()

    def ok(self, method: str, path: str, **kw) -> Reply:
        r = self.request(method, path, **kw)
        if r.status // 100 != 2:
            raise ApiError(f"{method} {path} -> {r!r}")
        return r

    def access_token(self):
        return self.cookies.get("access_token") or self.cookies.get("__Host-access_token")

    # --- first run and passkeys -------------------------------------------------------------
    def setup_admin(self, username: str, email: str) -> dict:
        return self.ok("POST", "/api/signup/setup",
                       body={"username": username, "email": email, "firstName": "Ada",
                             "lastName": "Admin"}).json()

    def register_passkey(self, authn: Authenticator) -> tuple:
        options = self.ok("GET", "/api/webauthn/register/start").json()
        cred, response = authn.create(options)
        stored = self.ok("POST", "/api/webauthn/register/finish", body=response).json()
        return cred, stored

    def login(self, authn: Authenticator, cred: Credential) -> Reply:
        """A whole passkey login; returns the finish reply (200 sets the access-token cookie)."""
        start = self.request("GET", "/api/webauthn/login/start")
        if start.status != 200:
            return start
        return self.request("POST", "/api/webauthn/login/finish", body=authn.get(start.json(), cred))

    # --- OIDC ---------------------------------------------------------------------------------
    def authorize_code(self, client_id: str, redirect_uri: str, verifier: str, nonce: str) -> Reply:
        """The browser half of an authorization-code flow (Pocket ID v1.x-v2.9 API)."""
        challenge = b64url(hashlib.sha256(verifier.encode()).digest())
        return self.request("POST", "/api/oidc/authorize", body={
            "clientID": client_id, "scope": "openid profile email groups", "callbackURL": redirect_uri,
            "nonce": nonce, "codeChallenge": challenge, "codeChallengeMethod": "S256"})

    def exchange_code(self, client_id: str, secret: str, code: str, redirect_uri: str,
                      verifier: str) -> Reply:
        basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
        return self.request("POST", "/api/oidc/token", headers={"Authorization": f"Basic {basic}"},
                            form={"grant_type": "authorization_code", "code": code,
                                  "redirect_uri": redirect_uri, "code_verifier": verifier})


def new_pkce_verifier() -> str:
    return b64url(os.urandom(32))
