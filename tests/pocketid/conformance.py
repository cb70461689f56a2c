#!/usr/bin/python3
# conformance.py: the pocket-id-sync conformance suite against a REAL Pocket ID server binary
# (POCKET_ID_BIN). It owns the scenarios and their assertions; cluster.py owns the processes
# (two Pocket ID servers, two sidecars, HAProxy), pocketid_api.py the HTTP calls and
# authenticator.py the software passkey. Without POCKET_ID_BIN (or without haproxy, sqlite3
# or python3-cbor2) it exits 77, which CTest reports as skipped.
#
#   POCKET_ID_BIN=/path/to/pocket-id PIS_BIN=build/pocket-id-sync tests/pocketid/conformance.py
#
# Environment: POCKET_ID_BIN (required), PIS_BIN (the sidecar; default build/pocket-id-sync),
# PIS_CONFORMANCE_DEADLINE (seconds a change may take to reach the secondary, default 1),
# PIS_CONFORMANCE_KEEP=1 keeps the temporary directory (logs, databases) for a post-mortem,
# PIS_CONFORMANCE_APP_CONFIG=api (default: both sidecars get an admin API key and move the
# application configuration through Pocket ID's API) or rows (no key: the pre-v2.12 row copy
# plus restart).
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)


def skip(why):
    print(f"skip: {why}")
    sys.exit(77)


POCKET_ID_BIN = os.environ.get("POCKET_ID_BIN", "")
if not POCKET_ID_BIN:
    skip("POCKET_ID_BIN is not set (point it at the Pocket ID server binary you deploy)")
if not os.access(POCKET_ID_BIN, os.X_OK):
    print(f"POCKET_ID_BIN={POCKET_ID_BIN} is not an executable file")
    sys.exit(1)
try:
    import cbor2  # noqa: F401  (the authenticator's attestation object)
    from cryptography.hazmat.primitives import hashes, serialization  # noqa: F401
except ImportError as e:
    skip(f"python module missing ({e.name}); Debian: python3-cbor2 python3-cryptography")
if not any(os.path.exists(p) for p in ("/usr/sbin/haproxy", "/usr/bin/haproxy")):
    skip("haproxy is not installed")

import cluster  # noqa: E402
from authenticator import Authenticator, b64url_decode  # noqa: E402
from cluster import HAProxy, Node, free_port, http_get, wait_until  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa  # noqa: E402
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature  # noqa: E402
from pocketid_api import Client, new_pkce_verifier  # noqa: E402

SIDECAR_BIN = os.path.abspath(os.environ.get("PIS_BIN") or os.path.join(cluster.SRC, "build", "pocket-id-sync"))
DEADLINE = float(os.environ.get("PIS_CONFORMANCE_DEADLINE", "1"))
APP_CONFIG_MODE = os.environ.get("PIS_CONFORMANCE_APP_CONFIG", "api")
if APP_CONFIG_MODE not in ("api", "rows"):
    print(f"PIS_CONFORMANCE_APP_CONFIG={APP_CONFIG_MODE}: must be api or rows")
    sys.exit(1)

passed = failed = skipped = 0
results = []          # (scenario, check, ok) for the summary


def skip_checks(scenario, what, why):
    """Checks this suite cannot make against this Pocket ID release: said, and counted."""
    global skipped
    skipped += 1
    print(f"skip [{scenario}] {what}: {why}")


def oidc_v1_flow(w) -> bool:
    """The browser half of the code flow is POST /api/oidc/authorize up to v2.9; from v2.10 it
    is /authorize plus interaction sessions (oauth2_sessions), which this suite does not drive."""
    return w.a.scalar("SELECT count(*) FROM sqlite_master WHERE name = 'oauth2_sessions'") == 0


def check(scenario, name, cond, detail=""):
    global passed, failed
    if cond:
        passed += 1
        print(f"ok   [{scenario}] {name}")
    else:
        failed += 1
        print(f"FAIL [{scenario}] {name}")
        if detail:
            for line in str(detail).splitlines()[-30:]:
                print(f"     {line}")
    results.append((scenario, name, bool(cond)))
    return bool(cond)


def arrives(node, sql, want, args=()):
    """Waits for SQL on NODE to return WANT; returns the seconds it took, or None."""
    t0 = time.monotonic()
    got = wait_until(max(DEADLINE, 0.1) * 10, lambda: node.query(sql, args) == want, step=0.02)
    return time.monotonic() - t0 if got else None


def within_deadline(scenario, name, node, sql, want, args=()):
    took = arrives(node, sql, want, args)
    shown = "never (10x the deadline)" if took is None else f"{took * 1000:.0f} ms"
    return check(scenario, f"{name} reaches the secondary within {DEADLINE:g} s ({shown})",
                 took is not None and took <= DEADLINE)


# --- JWT verification against a JWKS (the relying party's view) ---------------------------------
def jwt_verify(token: str, jwks: dict):
    head_b64, body_b64, sig_b64 = token.split(".")
    header = json.loads(b64url_decode(head_b64))
    key = next((k for k in jwks["keys"] if k.get("kid") == header.get("kid")), None)
    if key is None:
        raise ValueError(f"kid {header.get('kid')} not in JWKS")
    signed, sig = f"{head_b64}.{body_b64}".encode(), b64url_decode(sig_b64)
    num = lambda v: int.from_bytes(b64url_decode(v), "big")  # noqa: E731
    alg = header["alg"]
    digest = {"256": hashes.SHA256(), "384": hashes.SHA384(), "512": hashes.SHA512()}[alg[-3:]]
    if key["kty"] == "RSA":
        pub = rsa.RSAPublicNumbers(num(key["e"]), num(key["n"])).public_key()
        pub.verify(sig, signed, padding.PKCS1v15(), digest)
    elif key["kty"] == "EC":
        curve = {"P-256": ec.SECP256R1(), "P-384": ec.SECP384R1(), "P-521": ec.SECP521R1()}[key["crv"]]
        pub = ec.EllipticCurvePublicNumbers(num(key["x"]), num(key["y"]), curve).public_key()
        half = len(sig) // 2
        der = encode_dss_signature(int.from_bytes(sig[:half], "big"), int.from_bytes(sig[half:], "big"))
        pub.verify(der, signed, ec.ECDSA(digest))
    else:
        raise ValueError(f"unsupported key type {key['kty']}")
    return json.loads(b64url_decode(body_b64))


# --- the deployment ---------------------------------------------------------------------------
class World:
    def __init__(self, root):
        self.hp_port = free_port()
        self.app_url = f"http://localhost:{self.hp_port}"
        self.a = Node(root, "site-a", "primary", POCKET_ID_BIN, SIDECAR_BIN, self.app_url)
        self.b = Node(root, "site-b", "secondary", POCKET_ID_BIN, SIDECAR_BIN, self.app_url)
        self.a.forward_peer, self.b.forward_peer = self.b, self.a
        self.haproxy = HAProxy(root, self.hp_port, self.a, self.b)
        self.authn = Authenticator(self.app_url)

    def direct(self, node, source=None):
        return Client("127.0.0.1", node.pid_port, source=source)

    def via_haproxy(self, source):
        return Client("127.0.0.1", self.hp_port, source=source)

    def synced(self):
        """Both sidecars agree on the generation and the secondary applied it."""
        g = self.a.metric("generation")
        return g is not None and g > 0 and self.b.metric("applied_generation") == g


def bootstrap(w: World):
    """README, "Bootstrap a primary and a secondary, step by step", steps 1-6 with curl."""
    S = "bootstrap"
    w.a.write_sync_env()
    w.a.start_sidecar()
    check(S, "primary /healthz is ok", http_get(w.a.sync_url + "/healthz")[0] == 200)
    w.b.write_sync_env(primary=w.a)
    w.b.start_sidecar()
    status, body = http_get(w.b.sync_url + "/healthz")
    check(S, "unenrolled secondary /healthz says not enrolled", status == 503 and b"not enrolled" in body,
          f"{status} {body!r}")
    status, key = http_get(w.b.sync_url + "/sync/pubkey")
    check(S, "secondary serves its public key", status == 200 and len(key.strip()) == 44, key)
    c = Client("127.0.0.1", w.a.sync_port)
    r = c.request("POST", "/sync/admin/peers", body={"name": "site-b", "pubkey": key.decode().strip()})
    token = (r.json() or {}).get("token", "") if r.status == 201 else ""
    check(S, "peer add on the primary's admin API returns a pisync1 token", token.startswith("pisync1."), r)
    with open(w.b.token_file, "w") as f:
        f.write(token + "\n")
    check(S, "unenrolled secondary stops cleanly", w.b.stop_sidecar() == 0)
    w.b.start_sidecar()


def scenario_first_run(w: World):
    S = "1 first run"
    admin = w.direct(w.a)
    status = admin.request("GET", "/api/users/me").status
    user = admin.setup_admin("admin", "admin@example.com")
    check(S, "initial admin created through /api/signup/setup", user.get("isAdmin") is True and status == 401,
          user)
    cred, stored = admin.register_passkey(w.authn)
    rows = w.a.scalar("SELECT count(*) FROM webauthn_credentials WHERE user_id = ?", (user["id"],))
    check(S, "the admin's passkey is in the primary's database", rows == 1, stored)
    check(S, "the secondary has no user before the sync", w.b.scalar("SELECT count(*) FROM users") == 0)
    if APP_CONFIG_MODE == "api":
        # README: one admin API key, created on the primary, serves every node once synced.
        key = admin.ok("POST", "/api/api-keys", body={"name": "pocket-id-sync", "expiresAt": time.strftime(
            "%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 365 * 86400))}).json()
        w.a.set_api_key(key["token"])
        w.b.set_api_key(key["token"])
    return admin, user, cred


def scenario_secondary_login(w: World, admin, user, cred):
    S = "2 login on the secondary"
    b_instance = w.b.instance_id()
    a_instance = w.a.instance_id()
    starts_before = w.b.pocket_id_starts()
    mismatched = w.direct(w.b)
    mismatched.cookies = dict(admin.cookies)
    check(S, "before the sync the secondary rejects the primary's session cookie (401)",
          mismatched.request("GET", "/api/users/me").status == 401)

    bootstrap(w)
    check(S, "the first sync is applied", wait_until(30, w.synced), w.b.sidecar_text()[-2000:])
    restarted = wait_until(60, lambda: "event=restart.done" in w.b.sidecar_text())
    check(S, "SYNC_RESTART_COMMAND restarted the real secondary Pocket ID",
          restarted and w.b.pocket_id_starts() == starts_before + 1,
          f"starts {starts_before} -> {w.b.pocket_id_starts()}\n{w.b.sidecar_text()[-2000:]}")
    check(S, "the restarted secondary is healthy", wait_until(30, w.b.healthy))
    check(S, "the secondary's sidecar /healthz is ok", wait_until(10, lambda: http_get(w.b.sync_url + "/healthz")[0] == 200))

    site_b = w.direct(w.b)
    r = site_b.login(w.authn, cred)
    check(S, "the passkey registered on the primary logs in on the secondary", r.status == 200, r)
    me = site_b.request("GET", "/api/users/me")
    check(S, "the secondary's session works on the secondary", me.status == 200 and me.json()["id"] == user["id"], me)
    cross = w.direct(w.a)
    cross.cookies = dict(site_b.cookies)
    check(S, "a session cookie issued by the secondary is accepted by the primary",
          cross.request("GET", "/api/users/me").status == 200)
    back = w.direct(w.b)
    back.cookies = dict(admin.cookies)
    check(S, "a session cookie issued by the primary is accepted by the secondary",
          back.request("GET", "/api/users/me").status == 200)
    ja, jb = http_get(w.a.url + "/.well-known/jwks.json"), http_get(w.b.url + "/.well-known/jwks.json")
    check(S, "both JWKS documents are identical", ja[0] == 200 and ja == jb, f"{ja}\n{jb}")
    check(S, "the secondary keeps its own instance id",
          w.b.instance_id() == b_instance and b_instance and b_instance != a_instance,
          f"secondary {b_instance} -> {w.b.instance_id()}, primary {a_instance}")
    return site_b


def make_second_user(w: World, admin):
    """bob, with a passkey of his own, registered through a one-time access link (primary)."""
    bob = admin.ok("POST", "/api/users", body={"username": "bob", "email": "bob@example.com",
                                               "firstName": "Bob", "lastName": "Builder",
                                               "displayName": "Bob Builder"}).json()
    # v1.x reads the user from the body, v2.x from the path
    token = admin.ok("POST", f"/api/users/{bob['id']}/one-time-access-token",
                     body={"userId": bob["id"]}).json()["token"]
    bob_client = w.direct(w.a)
    bob_client.ok("POST", f"/api/one-time-access-token/{token}")
    cred, stored = bob_client.register_passkey(w.authn)
    return bob, bob_client, cred, stored


def make_client(admin, name, redirect):
    """A confidential OIDC client with PKCE on the primary, and its secret."""
    client = admin.ok("POST", "/api/oidc/clients", body={
        "name": name, "callbackURLs": [redirect], "logoutCallbackURLs": [],
        "isPublic": False, "pkceEnabled": True}).json()
    return client, admin.ok("POST", f"/api/oidc/clients/{client['id']}/secret").json()["secret"]


def scenario_oidc(w: World, admin, user, site_b):
    S = "3 OIDC on the secondary"
    if not oidc_v1_flow(w):
        skip_checks(S, "the code flow", "Pocket ID v2.10+ authorizes through /authorize and interaction "
                    "sessions, which this suite does not drive yet")
        return make_client(admin, "conformance-rp", "http://127.0.0.1:9/callback")
    redirect = "http://127.0.0.1:9/callback"
    client, secret = make_client(admin, "conformance-rp", redirect)
    admin.ok("PUT", f"/api/custom-claims/user/{user['id']}", body=[{"key": "site_role", "value": "operator"}])
    within_deadline(S, "the new OIDC client", w.b, "SELECT count(*) FROM oidc_clients WHERE id = ?", [(1,)],
                    (client["id"],))
    arrives(w.b, "SELECT value FROM custom_claims WHERE key = 'site_role'", [("operator",)])
    verifier, nonce = new_pkce_verifier(), "n-" + new_pkce_verifier()[:12]
    r = site_b.authorize_code(client["id"], redirect, verifier, nonce)
    code = (r.json() or {}).get("code") if r.status == 200 else None
    check(S, "authorize on the secondary issues a code", bool(code), r)
    if not code:
        return client, secret
    t = site_b.exchange_code(client["id"], secret, code, redirect, verifier)
    tokens = t.json() if t.status == 200 else {}
    check(S, "the code is exchanged for tokens on the secondary (PKCE)", "id_token" in tokens, t)
    if "id_token" not in tokens:
        return client, secret
    jwks = json.loads(http_get(w.a.url + "/.well-known/jwks.json")[1])
    try:
        claims = jwt_verify(tokens["id_token"], jwks)
        verified = True
    except Exception as e:  # noqa: BLE001 -- any failure to verify is the finding
        claims, verified = {"error": repr(e)}, False
    check(S, "the secondary's ID token verifies against the primary's JWKS", verified, claims)
    check(S, "the ID token is for the user, the client and the nonce",
          claims.get("sub") == user["id"] and claims.get("nonce") == nonce and
          client["id"] in (claims.get("aud") if isinstance(claims.get("aud"), list) else [claims.get("aud")]),
          claims)
    check(S, "the ID token carries the custom claim set on the primary", claims.get("site_role") == "operator", claims)
    return client, secret


def scenario_changes(w: World, admin, client):
    S = "4 changes arrive"
    bob, bob_a, bob_cred, bob_stored = make_second_user(w, admin)
    within_deadline(S, "a new user with a passkey", w.b,
                    "SELECT count(*) FROM webauthn_credentials WHERE id = ?", [(1,)], (bob_stored["id"],))
    bob_b = w.direct(w.b)
    check(S, "the new user's passkey logs in on the secondary", bob_b.login(w.authn, bob_cred).status == 200)
    body = {"username": "bobby", "email": "bob@example.com", "firstName": "Bob", "lastName": "Builder",
            "displayName": "Bob Builder", "isAdmin": False, "disabled": False}
    admin.ok("PUT", f"/api/users/{bob['id']}", body=body)
    within_deadline(S, "a rename", w.b, "SELECT username FROM users WHERE id = ?", [("bobby",)], (bob["id"],))
    group = admin.ok("POST", "/api/user-groups", body={"friendlyName": "Staff", "name": "staff"}).json()
    admin.ok("PUT", f"/api/user-groups/{group['id']}/users", body={"userIds": [bob["id"]]})
    within_deadline(S, "a group membership", w.b,
                    "SELECT user_id FROM user_groups_users WHERE user_group_id = ?", [(bob["id"],)], (group["id"],))
    admin.ok("PUT", f"/api/oidc/clients/{client['id']}/allowed-user-groups", body={"userGroupIds": [group["id"]]})
    within_deadline(S, "a client's allowed groups", w.b,
                    "SELECT user_group_id FROM oidc_clients_allowed_user_groups WHERE oidc_client_id = ?",
                    [(group["id"],)], (client["id"],))
    key = admin.ok("POST", "/api/api-keys", body={"name": "conformance", "expiresAt":
                                                  time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 86400))}).json()
    within_deadline(S, "a new API key", w.b, "SELECT count(*) FROM api_keys WHERE id = ?", [(1,)], (key["apiKey"]["id"],))
    api_b = Client("127.0.0.1", w.b.pid_port, api_key=key["token"])
    check(S, "the API key works on the secondary", api_b.request("GET", "/api/users").status == 200)
    admin.ok("DELETE", f"/api/api-keys/{key['apiKey']['id']}")
    within_deadline(S, "an API key revocation", w.b, "SELECT count(*) FROM api_keys WHERE id = ?", [(0,)],
                    (key["apiKey"]["id"],))
    check(S, "the revoked API key stops working on the secondary", api_b.request("GET", "/api/users").status == 401)
    body["disabled"] = True
    admin.ok("PUT", f"/api/users/{bob['id']}", body=body)
    within_deadline(S, "disabling a user", w.b, "SELECT disabled FROM users WHERE id = ?", [(1,)], (bob["id"],))
    check(S, "the disabled user cannot log in on the secondary",
          w.direct(w.b).login(w.authn, bob_cred).status != 200)
    body["disabled"] = False
    admin.ok("PUT", f"/api/users/{bob['id']}", body=body)
    arrives(w.b, "SELECT disabled FROM users WHERE id = ?", [(0,)], (bob["id"],))
    bob_a.ok("DELETE", f"/api/webauthn/credentials/{bob_stored['id']}")   # the user's own call (every version)
    within_deadline(S, "deleting a passkey", w.b, "SELECT count(*) FROM webauthn_credentials WHERE id = ?", [(0,)],
                    (bob_stored["id"],))
    check(S, "the deleted passkey no longer logs in on the secondary",
          w.direct(w.b).login(w.authn, bob_cred).status != 200)
    return bob, body


def client_on_site(w: World, site: str, first=2):
    """A loopback source address (127.0.0.N) that HAProxy has stuck to SITE."""
    for n in range(first, first + 20):
        src = f"127.0.0.{n}"
        w.via_haproxy(src).request("GET", "/api/application-configuration")
        if w.haproxy.site_of(src) == site:
            return src
    return None


def scenario_haproxy(w: World, admin, user, bob, bob_body):
    S = "5 through HAProxy"
    w.haproxy.start()
    src_b = client_on_site(w, "secondary")
    check(S, "a client (source address) sticks to the secondary's site", src_b is not None)
    if src_b is None:
        return
    carol = w.via_haproxy(src_b)
    carol.cookies = dict(admin.cookies)
    r = carol.request("POST", "/api/user-groups", body={"friendlyName": "Site B", "name": "site-b-team"})
    landed = w.a.scalar("SELECT count(*) FROM user_groups WHERE name = 'site-b-team'")
    check(S, "a write entering at the secondary's site lands on the primary", r.status // 100 == 2 and landed == 1, r)
    within_deadline(S, "that write", w.b, "SELECT count(*) FROM user_groups WHERE name = 'site-b-team'", [(1,)])
    cred, stored = carol.register_passkey(w.authn)
    check(S, "a passkey registered through the secondary's site lands on the primary",
          w.a.scalar("SELECT count(*) FROM webauthn_credentials WHERE id = ?", (stored["id"],)) == 1)
    within_deadline(S, "that passkey", w.b, "SELECT count(*) FROM webauthn_credentials WHERE id = ?", [(1,)],
                    (stored["id"],))
    fresh = w.via_haproxy(src_b)
    check(S, "it logs in at the secondary's site", fresh.login(w.authn, cred).status == 200)
    check(S, "that login was served by the secondary", w.haproxy.site_of(src_b) == "secondary")

    w.a.stop_pocket_id()
    down = wait_until(20, lambda: w.via_haproxy(src_b).request("POST", "/api/user-groups",
                                                                body={"friendlyName": "x", "name": "xx"}).status == 503)
    check(S, "with the primary stopped, writes answer 503", down)
    during = w.via_haproxy(src_b)
    r = during.login(w.authn, cred)
    check(S, "with the primary stopped, logins keep working at the secondary's site", r.status == 200, r)
    check(S, "...and the session works there", during.request("GET", "/api/users/me").status == 200)
    w.a.start_pocket_id()
    check(S, "the primary comes back", w.a.healthy())


def scenario_active_active(w: World, admin, user):
    """Users at both sites, a relying party whose server is stuck to the other site."""
    S = "9 active/active"
    if not oidc_v1_flow(w):
        skip_checks(S, "the forwarded code flow and consent revocation", "Pocket ID v2.10+ authorizes "
                    "through /authorize and interaction sessions, which this suite does not drive yet")
        return
    redirect = "http://127.0.0.1:9/cb-aa"
    client, secret = make_client(admin, "active-active-rp", redirect)
    arrives(w.b, "SELECT count(*) FROM oidc_clients WHERE id = ?", [(1,)], (client["id"],))
    src_b, src_a = client_on_site(w, "secondary", first=40), client_on_site(w, "primary", first=70)
    if not check(S, "a user stuck to the secondary and a relying party stuck to the primary",
                 src_b is not None and src_a is not None):
        return
    browser = w.via_haproxy(src_b)
    check(S, "the user logs in at the secondary's site", browser.login(w.authn, w.authn.credentials[0]).status == 200)
    verifier, nonce = new_pkce_verifier(), "aa-" + new_pkce_verifier()[:10]
    mark = w.haproxy.mark()
    r = browser.authorize_code(client["id"], redirect, verifier, nonce)
    code = (r.json() or {}).get("code") if r.status == 200 else None
    check(S, "the code is issued by the secondary", bool(code) and
          w.haproxy.route_since(mark, src_b) == "be_sites/secondary", r)
    if not code:
        return
    rp = w.via_haproxy(src_a)
    mark = w.haproxy.mark()
    t = rp.exchange_code(client["id"], secret, code, redirect, verifier)
    route = w.haproxy.route_since(mark, src_a)
    tokens = t.json() if t.status == 200 else {}
    check(S, f"the relying party at the other site redeems it through the forwarder ({route})",
          "id_token" in tokens and route == "be_forward/primary", t)
    if "id_token" in tokens:
        claims = jwt_verify(tokens["id_token"], json.loads(http_get(w.a.url + "/.well-known/jwks.json")[1]))
        check(S, "...and the ID token is the user's", claims.get("sub") == user["id"] and claims.get("nonce") == nonce)
        info = rp.request("GET", "/api/oidc/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"})
        check(S, "userinfo through the forwarder", info.status == 200 and info.json().get("sub") == user["id"], info)
    again = rp.exchange_code(client["id"], secret, code, redirect, verifier)
    check(S, "a code is still redeemed only once", again.status // 100 == 4, again)
    consents = "SELECT count(*) FROM user_authorized_oidc_clients WHERE client_id = ?"
    check(S, "the consent lives on the secondary", w.b.scalar(consents, (client["id"],)) == 1)
    r = browser.request("DELETE", f"/api/oidc/users/me/authorized-clients/{client['id']}")
    check(S, "revoking it through HAProxy", r.status // 100 == 2, r)
    check(S, "...removes it on the secondary, where it was granted", w.b.scalar(consents, (client["id"],)) == 0)
    r = browser.request("POST", "/api/user-groups", body={"friendlyName": "Fresh", "name": "fresh-team"})
    mark = w.haproxy.mark()
    listed = browser.request("GET", "/api/user-groups")
    route = w.haproxy.route_since(mark, src_b)
    check(S, f"read-your-writes: the list right after a write comes from the primary ({route}) and shows it",
          r.status // 100 == 2 and listed.status == 200 and b"fresh-team" in listed.body and
          route == "be_primary/primary", listed)


def tiny_png() -> bytes:
    """A valid 1x1 PNG (Pocket ID re-encodes uploads, so it must decode)."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)) +
            chunk(b"IDAT", zlib.compress(b"\x00\x10\x80\xf0")) + chunk(b"IEND", b""))


def primary_looks(w: World):
    """Makes the primary look at its database now (a conditional export with wait=0)."""
    with open(w.b.token_file) as f:
        bearer = f.read().strip().rsplit(".", 1)[-1]
    gen = int(w.a.metric("generation") or 0)
    http_get(f"{w.a.sync_url}/sync/export?wait=0", headers={"Authorization": f"Bearer {bearer}",
                                                             "If-None-Match": f'"{gen}"'})


def scenario_node_writes(w: World, admin, user):
    """What real Pocket ID nodes write behind the sidecar's back (FILE_BACKEND=database)."""
    S = "10 node-local writes"
    if w.a.scalar("SELECT count(*) FROM sqlite_master WHERE name = 'storage'") == 0:
        skip_checks(S, "images in the database", "this release has no storage table (FILE_BACKEND)")
        return
    defaults = "SELECT count(*) FROM storage WHERE path LIKE 'profile-pictures/defaults/%'"
    primary_looks(w)   # settle what earlier scenarios wrote
    wait_until(10, w.synced)
    gen = w.a.metric("generation")
    st, _ = http_get(f"{w.a.url}/api/users/{user['id']}/profile-picture.png")
    saved = wait_until(10, lambda: w.a.scalar(defaults) >= 1)   # Pocket ID saves it after answering
    primary_looks(w)
    check(S, "the primary renders a default profile picture (a storage row of its own)", st == 200 and saved, st)
    check(S, "...which moves no generation", w.a.metric("generation") == gen,
          f"{gen} -> {w.a.metric('generation')}")
    st, _ = http_get(f"{w.b.url}/api/users/{user['id']}/profile-picture.png")
    saved = wait_until(10, lambda: w.b.scalar(defaults) >= 1)
    b_defaults = w.b.scalar(defaults)
    check(S, "the secondary renders its own", st == 200 and saved, st)
    starts = w.b.pocket_id_starts()
    png = tiny_png()
    r = admin.upload("PUT", "/api/application-images/logo?light=true", "file", "logo.png", png, "image/png")
    check(S, "the admin uploads a new logo on the primary", r.status // 100 == 2, r)
    restarted = wait_until(60, lambda: w.b.pocket_id_starts() > starts and w.b.healthy())
    check(S, "the secondary's Pocket ID is restarted for it (it maps image types once at start)",
          restarted and "why=app_images" in w.b.all_sidecar_logs())
    st, body = http_get(f"{w.b.url}/api/application-images/logo?light=true")
    st_a, body_a = http_get(f"{w.a.url}/api/application-images/logo?light=true")
    check(S, "...and serves the primary's new logo", st == 200 and body == body_a and len(body) > 0,
          f"{st} {len(body)} bytes vs {st_a} {len(body_a)}")
    check(S, "the applies kept the secondary's own default pictures", w.b.scalar(defaults) == b_defaults)
    if not oidc_v1_flow(w):
        return
    # Pocket ID v1.9-v2.9 stores the first redirect_uri a client without callback URLs sees.
    admin.ok("POST", "/api/oidc/clients", body={"name": "capture-rp", "callbackURLs": [],
                                                "logoutCallbackURLs": [], "isPublic": True})
    primary_looks(w)
    check(S, "a client without callback URLs is counted (callback capture, v1.9-v2.9)",
          wait_until(10, lambda: (w.a.metric("callback_capture_clients") or 0) >= 1))


def scenario_login_loop(w: World, admin, bob, bob_body, rounds=40, changes=15):
    S = "6 logins during applies"
    site_b = w.direct(w.b)
    cred = w.authn.credentials[0]
    failures, logins = [], [0]
    stop = threading.Event()

    def loop():
        while not stop.is_set() and logins[0] < rounds * 10:
            r = w.direct(w.b).login(w.authn, cred)
            logins[0] += 1
            if r.status != 200:
                failures.append(repr(r))

    applied_before = w.b.metric("applied_generation") or 0
    t = threading.Thread(target=loop)
    t.start()
    try:
        for i in range(changes):
            bob_body["lastName"] = f"Builder {i}"
            admin.ok("PUT", f"/api/users/{bob['id']}", body=bob_body)
            arrives(w.b, "SELECT last_name FROM users WHERE id = ?", [(bob_body["lastName"],)], (bob["id"],))
    finally:
        stop.set()
        t.join()
    wait_until(10, w.synced)   # the last apply's metric follows its commit
    applied = (w.b.metric("applied_generation") or 0) - applied_before
    generation = w.a.metric("generation")
    for _ in range(10):
        w.direct(w.a).login(w.authn, cred)
    check(S, "10 logins on the primary (audit logs, sessions) do not move the generation",
          w.a.metric("generation") == generation and generation is not None,
          f"{generation} -> {w.a.metric('generation')}")
    check(S, f"{changes} durable changes were applied while logging in (applied {applied:.0f})", applied >= changes)
    check(S, f"zero failed logins on the secondary ({logins[0]} logins)", logins[0] > 0 and not failures,
          "\n".join(failures[:5]))
    check(S, "the sidecar counted no busy database", (w.b.metric('failures_total{reason="busy"}') or 0) == 0)
    del site_b


def scenario_local_state(w: World, audit_before, consents_before):
    S = "7 local state"
    audit = w.b.scalar("SELECT count(*) FROM audit_logs")
    check(S, f"the secondary's audit logs survived every apply ({audit_before} -> {audit})",
          audit_before > 0 and audit >= audit_before)
    consents = w.b.scalar("SELECT count(*) FROM user_authorized_oidc_clients")
    check(S, f"the consent granted on the secondary survived every apply ({consents_before} -> {consents})",
          consents_before > 0 and consents == consents_before)


def scenario_app_config(w: World, admin):
    S = f"8 application configuration ({APP_CONFIG_MODE})"
    r = admin.request("GET", "/api/application-configuration/all")
    check(S, "the primary's configuration reads through its API", r.status == 200, r)
    if r.status != 200:
        return
    conf = {i["key"]: i["value"] for i in r.json()}
    conf.update(appName="Conformance ID", sessionDuration="123")
    per_node = "emailApiKeyExpirationEnabled" in conf and APP_CONFIG_MODE == "api"
    if per_node:
        conf["emailApiKeyExpirationEnabled"] = "true"
    starts = w.b.pocket_id_starts()
    put = admin.request("PUT", "/api/application-configuration", body=conf)
    check(S, "the admin changes it on the primary", put.status == 200, put)

    def served():
        st, body = http_get(w.b.url + "/api/application-configuration")
        return st == 200 and {i["key"]: i["value"] for i in json.loads(body)}.get("appName") == "Conformance ID"
    t0 = time.monotonic()
    ok = wait_until(60, served, step=0.05)
    took = time.monotonic() - t0
    check(S, f"the secondary's Pocket ID serves the new configuration ({took:.2f} s)", ok)
    b_admin = w.direct(w.b)
    b_admin.cookies = dict(admin.cookies)
    b_conf = b_admin.request("GET", "/api/application-configuration/all")
    b_conf = {i["key"]: i["value"] for i in b_conf.json()} if b_conf.status == 200 else {}
    check(S, "the private settings arrived too (sessionDuration)", b_conf.get("sessionDuration") == "123", b_conf)
    restarts = w.b.pocket_id_starts() - starts
    if APP_CONFIG_MODE == "api":
        check(S, "without restarting the secondary's Pocket ID", restarts == 0, f"{restarts} restarts")
        check(S, "the sidecar wrote it through the API", "event=app_config.written" in w.b.all_sidecar_logs())
        if per_node:
            check(S, "a per-node key (API-key expiry e-mails) keeps the secondary's value",
                  b_conf.get("emailApiKeyExpirationEnabled") == "false", b_conf)
        st, body = http_get(w.b.sync_url + "/healthz")
        check(S, "the secondary's /healthz carries no warning", st == 200 and body == b"ok\n", body)
        scenario_app_config_retry(w, admin, conf)
    else:
        print(f"     (secondary Pocket ID restarts for it: {restarts})")


def scenario_app_config_retry(w: World, admin, conf):
    """Pocket ID down on the secondary while the configuration changes: the data still
    applies, the write is pending (metric, status, /healthz warning) and retried."""
    S = "8 application configuration (api)"
    w.b.stop_pocket_id()
    conf["appName"] = "Retried ID"
    admin.ok("PUT", "/api/application-configuration", body=conf)
    pending = wait_until(20, lambda: w.b.metric("app_config_pending") == 1)
    check(S, "with the secondary's Pocket ID down the write is pending (metric)", pending)
    st, body = http_get(w.b.sync_url + "/healthz")
    check(S, "...and /healthz stays 200 with a warning", st == 200 and b"warning" in body, body)
    status = subprocess.run([SIDECAR_BIN, "status", "--env-file", ".env", "--env-file", "sync.env"],
                            cwd=w.b.dir, env=cluster.clean_env(), capture_output=True, text=True).stdout
    check(S, "...and `status` says it is retrying", "retrying" in status, status)
    check(S, "...and the data apply went on (applied generation = primary's)", w.synced())
    w.b.start_pocket_id()

    def served():
        st, body = http_get(w.b.url + "/api/application-configuration")
        return st == 200 and {i["key"]: i["value"] for i in json.loads(body)}.get("appName") == "Retried ID"
    check(S, "once Pocket ID is back the write is retried and served", wait_until(60, served, step=0.2))
    check(S, "...and nothing is pending any more", wait_until(10, lambda: w.b.metric("app_config_pending") == 0))



def scenario_protocol(w):
    """Protocol v2 against the real Pocket ID: the changes of every scenario above reached the
    secondary as deltas (after the first full snapshot), none failed verification, and a delta
    stayed small."""
    full = w.b.metric('payloads_total{kind="full"}') or 0
    delta = w.b.metric('payloads_total{kind="delta"}') or 0
    verify = w.b.metric('failures_total{reason="verify"}')
    check("protocol v2", f"the secondary applied deltas ({delta:.0f} deltas, {full:.0f} full snapshots)",
          delta >= 5 and full >= 1)
    check("protocol v2", "no applied result failed verification", verify == 0, f"verify failures: {verify}")
    sizes = [int(m) for m in re.findall(r"event=export.sent .*kind=delta bytes=(\d+)", w.a.all_sidecar_logs())]
    check("protocol v2", f"deltas stayed small (largest {max(sizes) if sizes else 0} bytes, at most 4 KiB)",
          bool(sizes) and max(sizes) <= 4096, f"{sorted(sizes)[-5:]}")


def main():
    root = tempfile.mkdtemp(prefix="pis-conformance-")
    keep = os.environ.get("PIS_CONFORMANCE_KEEP") == "1"
    print(f"Pocket ID: {POCKET_ID_BIN}\nsidecar:   {SIDECAR_BIN}\nwork dir:  {root}")
    w = World(root)
    try:
        w.a.start_pocket_id()
        w.b.start_pocket_id()
        print(f"schema_migrations version: {w.a.schema_version()}")
        admin, user, cred = scenario_first_run(w)
        site_b = scenario_secondary_login(w, admin, user, cred)
        client, _ = scenario_oidc(w, admin, user, site_b)
        audit_before = w.b.scalar("SELECT count(*) FROM audit_logs")
        consents_before = w.b.scalar("SELECT count(*) FROM user_authorized_oidc_clients")
        bob, bob_body = scenario_changes(w, admin, client)
        scenario_haproxy(w, admin, user, bob, bob_body)
        scenario_active_active(w, admin, user)
        scenario_node_writes(w, admin, user)
        scenario_login_loop(w, admin, bob, bob_body)
        scenario_local_state(w, audit_before, consents_before)
        scenario_app_config(w, admin)
        scenario_protocol(w)
        for node in (w.a, w.b):
            log = node.all_sidecar_logs()
            check("logs", f"{node.name}: the sidecar logged no error", "level=error" not in log,
                  "\n".join(l for l in log.splitlines() if "level=error" in l))
    except Exception:  # noqa: BLE001 -- a crash of the harness is one failure with its trace
        check("harness", "the scenarios ran to the end", False, traceback.format_exc())
    finally:
        cluster.stop_all()
        if failed:
            for node in (w.a, w.b):
                print(f"--- {node.name} Pocket ID log (tail)\n{node.tail('pocket-id.log', 15)}")
                print(f"--- {node.name} sidecar log (tail)\n{node.sidecar_text()[-2500:]}")
        if keep or failed:
            print(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    print(f"{passed} passed, {failed} failed, {skipped} skipped")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
