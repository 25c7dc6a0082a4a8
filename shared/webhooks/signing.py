"""Standard Webhooks signatures: `whsec_` secrets and the v1 HMAC-SHA256 signature.

Signed content is "{webhook-id}.{webhook-timestamp}.{body}", keyed with the base64-decoded
secret; the header value is "v1," + base64(signature). Receivers verify with any Standard
Webhooks library (the tests use the `standardwebhooks` package).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

SECRET_PREFIX = "whsec_"  # noqa: S105 (the format's prefix, not a secret)
# The specification asks for 24 to 64 bytes of key.
SECRET_BYTES = 32


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def signature(secret: str, *, message_id: str, timestamp: int, body: bytes) -> str:
    """The webhook-signature header value for one request."""
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()
