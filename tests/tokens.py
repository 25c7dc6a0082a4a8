"""A token issuer for tests: real RSA keys, their JWKS served on 127.0.0.1, tokens minted with
PyJWT. The service verifies them exactly as it would Identity Platform's or Google's."""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import json
import time
from http.server import BaseHTTPRequestHandler
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from tests.helpers import LoopbackHTTP


@functools.cache
def rsa_key(name: str) -> rsa.RSAPrivateKey:
    """One 2048-bit key per name for the whole run: generating one takes a tenth of a second."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


# The project of the `users` fixture (tests/conftest.py): its issuer and its tokens' audience.
USERS_PROJECT = "fleet-project"


class Issuer:
    """Signs with the key of `kid`; serves the public keys of `published` as its JWKS and
    counts the requests for it. `failing` makes the JWKS endpoint answer 503."""

    def __init__(self, name: str, *, kid: str = "k1") -> None:
        self.name = name
        self.kid = kid
        self.published = [kid]
        self.other_keys: list[dict[str, Any]] = []  # served as they are, after the RSA keys
        self.requests = 0
        self.failing = False
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                issuer.requests += 1
                if issuer.failing:
                    self.send_error(503)
                    return
                body = json.dumps(issuer.jwks()).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._served = LoopbackHTTP(Handler)
        self.jwks_url = f"{self._served.url}/jwks"

    def close(self) -> None:
        self._served.close()

    def jwks(self) -> dict[str, Any]:
        keys = []
        for kid in self.published:
            jwk = json.loads(RSAAlgorithm.to_jwk(rsa_key(kid).public_key()))
            keys.append({**jwk, "kid": kid, "alg": "RS256", "use": "sig"})
        return {"keys": keys + self.other_keys}

    def claims(self, audience: str, **claims: Any) -> dict[str, Any]:
        now = int(time.time())
        usual = {"iss": self.name, "aud": audience, "sub": "user-1", "iat": now, "exp": now + 600}
        return usual | claims

    def mint(
        self, audience: str, *, kid: str | None = None, key: str | None = None, **claims: Any
    ) -> str:
        """A token with the usual claims plus `claims` (None removes one), named `kid` and
        signed with the key of `key` (default: the key `kid` names)."""
        kid = kid or self.kid
        payload = {k: v for k, v in self.claims(audience, **claims).items() if v is not None}
        return jwt.encode(payload, rsa_key(key or kid), algorithm="RS256", headers={"kid": kid})

    def unsigned(self, audience: str, **claims: Any) -> str:
        """`alg: none`, no signature: what an attacker sends hoping the verifier skips it."""
        header = _b64(json.dumps({"alg": "none", "typ": "JWT", "kid": self.kid}).encode())
        return f"{header}.{_b64(json.dumps(self.claims(audience, **claims)).encode())}."

    def hmac_with_public_key(self, audience: str, **claims: Any) -> str:
        """HS256 keyed with the issuer's public key (which anyone can fetch): accepted by a
        verifier that lets the token's header choose the algorithm for an RSA key."""
        pem = (
            rsa_key(self.kid)
            .public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )
        header = _b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": self.kid}).encode())
        body = _b64(json.dumps(self.claims(audience, **claims)).encode())
        signature = hmac.new(pem, f"{header}.{body}".encode(), hashlib.sha256).digest()
        return f"{header}.{body}.{_b64(signature)}"


class Clock:
    """A monotonic clock the test moves, for the key cache's intervals."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
