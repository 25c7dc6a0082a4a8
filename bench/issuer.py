"""A token issuer of the bench's own: one RSA key, its JWKS served on 127.0.0.1, ID tokens
signed with PyJWT. The server verifies them exactly as it would Identity Platform's (signature
against the JWKS, issuer, audience, expiry), so progress_p50_auth pays for real verification."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

ISSUER = "https://bench.invalid/issuer"
AUDIENCE = "fleet-bench"
KID = "bench-1"


class Issuer:
    """Serves its JWKS until close(); counts the fetches (the server should fetch once)."""

    def __init__(self) -> None:
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        jwk = json.loads(RSAAlgorithm.to_jwk(self._key.public_key()))
        body = json.dumps({"keys": [{**jwk, "kid": KID, "alg": "RS256", "use": "sig"}]}).encode()
        self.fetches = 0
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                issuer.fetches += 1
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        self.jwks_url = f"http://127.0.0.1:{self._server.server_port}/jwks"

    def server_env(self) -> dict[str, str]:
        """The AUTH_* settings of a server that verifies this issuer's tokens."""
        return {
            "AUTH_MODE": "jwt",
            "AUTH_ISSUER": ISSUER,
            "AUTH_AUDIENCE": AUDIENCE,
            "AUTH_JWKS_URL": self.jwks_url,
        }

    def driver_token(self, driver_id: str) -> str:
        """A fresh ID token of a driver (a new `iat` and `jti` each time, so no verifier could
        answer it from a cache of tokens it has seen)."""
        now = time.time()
        claims = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": f"driver-{driver_id}",
            "iat": int(now),
            "exp": int(now) + 600,
            "jti": f"{now:.9f}",
            "fleet_role": "driver",
            "driver_id": driver_id,
        }
        return jwt.encode(claims, self._key, algorithm="RS256", headers={"kid": KID})

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()
