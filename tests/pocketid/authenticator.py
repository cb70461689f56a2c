# authenticator.py: a software WebAuthn authenticator for the conformance suite. It owns
# key generation (ES256 / P-256), the authenticator data, the "none" attestation object and
# the assertion signature, as a browser plus a platform passkey would produce them for
# navigator.credentials.create() and .get(). It speaks no HTTP (pocketid_api.py does) and
# keeps its credentials in memory only.
import base64
import hashlib
import json
import os
import struct

import cbor2
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

FLAG_UP = 0x01   # user present
FLAG_UV = 0x04   # user verified
FLAG_AT = 0x40   # attested credential data included
COSE_ALG_ES256 = -7


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Credential:
    """One discoverable credential: its id, key pair and the user handle it belongs to."""

    def __init__(self, rp_id: str, user_handle: bytes):
        self.rp_id = rp_id
        self.user_handle = user_handle
        self.id = os.urandom(32)
        self.key = ec.generate_private_key(ec.SECP256R1())

    def cose_public_key(self) -> bytes:
        nums = self.key.public_key().public_numbers()
        return cbor2.dumps({1: 2, 3: COSE_ALG_ES256, -1: 1,
                            -2: nums.x.to_bytes(32, "big"), -3: nums.y.to_bytes(32, "big")})


class Authenticator:
    """Answers creation and request options; `origin` is what the browser would put in
    clientDataJSON (Pocket ID's APP_URL)."""

    def __init__(self, origin: str):
        self.origin = origin
        self.credentials = []

    def _client_data(self, kind: str, challenge: str) -> bytes:
        return json.dumps({"type": kind, "challenge": challenge, "origin": self.origin,
                           "crossOrigin": False}, separators=(",", ":")).encode()

    @staticmethod
    def _auth_data(rp_id: str, flags: int, attested: bytes = b"") -> bytes:
        return hashlib.sha256(rp_id.encode()).digest() + bytes([flags]) + struct.pack(">I", 0) + attested

    def create(self, options: dict) -> tuple:
        """navigator.credentials.create(): returns (credential, response JSON)."""
        pk = options.get("publicKey", options)
        algs = [p.get("alg") for p in pk.get("pubKeyCredParams", [])]
        if COSE_ALG_ES256 not in algs:
            raise ValueError(f"relying party does not offer ES256: {algs}")
        rp_id = pk["rp"].get("id") or pk["rp"]["name"]
        cred = Credential(rp_id, b64url_decode(pk["user"]["id"]))
        attested = bytes(16) + struct.pack(">H", len(cred.id)) + cred.id + cred.cose_public_key()
        auth_data = self._auth_data(rp_id, FLAG_UP | FLAG_UV | FLAG_AT, attested)
        attestation = cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": auth_data})
        self.credentials.append(cred)
        return cred, {
            "id": b64url(cred.id), "rawId": b64url(cred.id), "type": "public-key",
            "authenticatorAttachment": "platform",
            "clientExtensionResults": {"credProps": {"rk": True}},
            "response": {"clientDataJSON": b64url(self._client_data("webauthn.create", pk["challenge"])),
                         "attestationObject": b64url(attestation),
                         "transports": ["internal"]},
        }

    def get(self, options: dict, cred: Credential) -> dict:
        """navigator.credentials.get() with a discoverable credential chosen by the user."""
        pk = options.get("publicKey", options)
        rp_id = pk.get("rpId") or cred.rp_id
        client_data = self._client_data("webauthn.get", pk["challenge"])
        auth_data = self._auth_data(rp_id, FLAG_UP | FLAG_UV)
        signature = cred.key.sign(auth_data + hashlib.sha256(client_data).digest(),
                                  ec.ECDSA(hashes.SHA256()))
        return {
            "id": b64url(cred.id), "rawId": b64url(cred.id), "type": "public-key",
            "authenticatorAttachment": "platform", "clientExtensionResults": {},
            "response": {"clientDataJSON": b64url(client_data), "authenticatorData": b64url(auth_data),
                         "signature": b64url(signature), "userHandle": b64url(cred.user_handle)},
        }
