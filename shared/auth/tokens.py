"""The caller's bearer token: where it is in the request, and what it proves once verified.

Two kinds of token are accepted, told apart by their issuer:
- an end user's, from AUTH_ISSUER (Firebase / Identity Platform), with the role in its claims;
- a service account's, Google-signed (AUTH_GOOGLE_ISSUER), its role given by its email in
  AUTH_SERVICE_ACCOUNTS.
Both are checked the same way: RS256 only (never `none`, never an HMAC keyed with the public
key), signature against the issuer's JWKS, issuer, audience, and expiry with LEEWAY_SECONDS
of clock skew. Every refusal is Unauthenticated (401) saying which check failed; no message
repeats the token or a claim.

A token that verified is remembered (VERIFIED_TOKENS, as Google's ESPv2 keeps its
`--jwt_cache_size` tokens): a driver app sends the same ID token for up to an hour, and its
signature, issuer and audience do not change between calls, so only the first call pays for
PyJWT and the RSA check (~0.1 ms). Every later call with it still checks its expiry, and that
its signing key is still the one the issuer publishes (a key withdrawn or refetched sends the
token through the full check again).
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import jwt
from jwt import PyJWK
from jwt import exceptions as jwt_errors

from shared.auth.identity import Identity, service_identity, user_identity
from shared.auth.keys import ALGORITHM, SigningKeys
from shared.auth.settings import AuthSettings
from shared.errors import Unauthenticated

LEEWAY_SECONDS = 60
_REQUIRED_CLAIMS = ["iss", "sub", "aud", "exp"]
# Verified tokens kept per process, the least recently used dropped first: an ID token is
# ~1 KB, so at most a few MB, and more callers than this per instance only cost re-checks.
VERIFIED_TOKENS = 4096


class Headers(Protocol):
    """A request's headers, looked up case-insensitively (flask's request.headers)."""

    def get(self, key: str) -> str | None: ...


def bearer_token(headers: Headers) -> str:
    """The end user's token. Behind API Gateway, Authorization holds the gateway's own token
    and the caller's header comes in X-Forwarded-Authorization, so that one wins when present.
    X-Apigateway-Api-Userinfo (the gateway's reading of the claims) is never used: anyone who
    reaches the function another way could write it."""
    header = headers.get("X-Forwarded-Authorization") or headers.get("Authorization")
    if not header:
        raise Unauthenticated("no bearer token: send Authorization: Bearer <token>")
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise Unauthenticated("the Authorization header is not `Bearer <token>`")
    return token


@dataclass(frozen=True)
class _Issuer:
    name: str
    audiences: tuple[str, ...]
    keys: SigningKeys
    identify: Callable[[Mapping[str, Any]], Identity]


_EXPIRED = "the token has expired"

# The message for each of PyJWT's refusals (most specific first: some subclass others).
_REFUSALS: tuple[tuple[type[jwt_errors.PyJWTError], str], ...] = (
    (jwt_errors.ExpiredSignatureError, _EXPIRED),
    (jwt_errors.ImmatureSignatureError, "the token is not valid yet (nbf or iat ahead)"),
    (jwt_errors.InvalidAudienceError, "the token is addressed to another audience"),
    (jwt_errors.InvalidIssuerError, "the token's issuer is not one this service accepts"),
    (jwt_errors.InvalidSignatureError, "the token's signature does not verify"),
    (jwt_errors.InvalidAlgorithmError, f"the token is not signed with {ALGORITHM}"),
    (jwt_errors.InvalidKeyError, "the token's signing key is not usable"),
    (jwt_errors.DecodeError, "the bearer token is not a well-formed JWT"),
)


def _peek(segment: str) -> dict[str, Any]:
    """A token's header or claims, read without any check, only to choose the issuer and key:
    jwt.decode then parses and checks all of it again. (PyJWT's own unverified reads validate
    base64 byte by byte in Python: ~20 us each, a fifth of the bound a request may spend.)"""
    try:
        value = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    except ValueError:  # binascii.Error, UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise jwt_errors.DecodeError from None
    if not isinstance(value, dict):
        raise jwt_errors.DecodeError
    return value


@dataclass(frozen=True, slots=True)
class _Verified:
    """What a verified token proved, and what a later call with it must check again."""

    issuer: _Issuer
    kid: str
    key: PyJWK  # the key that verified it: still the issuer's, or the token is checked anew
    expires_at: float  # its `exp`, in seconds since the epoch
    identity: Identity


class _VerifiedTokens:
    """The last `size` tokens that verified, by their exact text, least recently used first."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._tokens: OrderedDict[str, _Verified] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, token: str) -> _Verified | None:
        with self._lock:
            verified = self._tokens.get(token)
            if verified is not None:
                self._tokens.move_to_end(token)
            return verified

    def put(self, token: str, verified: _Verified) -> None:
        with self._lock:
            self._tokens[token] = verified
            self._tokens.move_to_end(token)
            while len(self._tokens) > self._size:
                self._tokens.popitem(last=False)

    def forget(self, token: str) -> None:
        with self._lock:
            self._tokens.pop(token, None)


def _signed_by_a_current_key(verified: _Verified) -> bool:
    """Whether the key that verified a remembered token is still the one its issuer publishes
    (a refetched set holds new key objects: the token is then checked against them)."""
    try:
        return verified.issuer.keys.get(verified.kid) is verified.key
    except Unauthenticated:  # the issuer withdrew the key
        return False


class Verifier:
    """Verifies tokens against the issuers in AuthSettings; one per process, since it holds
    the issuers' keys and the tokens already verified between requests. `clock` times the
    key cache, `wall_clock` the expiry of remembered tokens (PyJWT reads time.time too)."""

    def __init__(
        self,
        settings: AuthSettings,
        *,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        remembered: int = VERIFIED_TOKENS,
    ) -> None:
        if not (settings.issuer and settings.audience and settings.jwks_url):
            raise ValueError("verifying tokens needs AUTH_ISSUER, AUTH_AUDIENCE, AUTH_JWKS_URL")
        issuers = [
            _Issuer(
                settings.issuer,
                (settings.audience,),
                SigningKeys(settings.jwks_url, clock=clock),
                user_identity,
            )
        ]
        if settings.service_accounts:
            roles = settings.service_accounts
            issuers.append(
                _Issuer(
                    settings.google_issuer,
                    settings.google_audience,
                    SigningKeys(settings.google_jwks_url, clock=clock),
                    lambda claims: service_identity(claims, roles),
                )
            )
        self._issuers = {issuer.name: issuer for issuer in issuers}
        self._wall_clock = wall_clock
        self._verified = _VerifiedTokens(remembered)

    def identify(self, headers: Headers) -> Identity:
        """The identity behind the request's bearer token, or Unauthenticated."""
        return self.verify(bearer_token(headers))

    def verify(self, token: str) -> Identity:
        remembered = self._verified.get(token)
        if remembered is not None:
            if _signed_by_a_current_key(remembered):
                if remembered.expires_at <= self._wall_clock() - LEEWAY_SECONDS:
                    self._verified.forget(token)
                    raise Unauthenticated(_EXPIRED)
                return remembered.identity
            self._verified.forget(token)
        try:
            verified = self._verify(token)
        except jwt_errors.PyJWTError as exc:
            for error, message in _REFUSALS:
                if isinstance(exc, error):
                    raise Unauthenticated(message) from None
            if isinstance(exc, jwt_errors.MissingRequiredClaimError):
                raise Unauthenticated(f"the token has no {exc.claim} claim") from None
            raise Unauthenticated("the token is not valid") from None
        self._verified.put(token, verified)
        return verified.identity

    def _verify(self, token: str) -> _Verified:
        parts = token.split(".")
        if len(parts) != 3:
            raise jwt_errors.DecodeError
        header, unverified = _peek(parts[0]), _peek(parts[1])
        if header.get("alg") != ALGORITHM:
            raise jwt_errors.InvalidAlgorithmError
        kid = header.get("kid")
        if not isinstance(kid, str):
            raise Unauthenticated("the token names no signing key (kid)")
        claimed = unverified.get("iss")
        issuer = self._issuers.get(claimed) if isinstance(claimed, str) else None
        if issuer is None:
            raise jwt_errors.InvalidIssuerError
        key = issuer.keys.get(kid)
        claims = jwt.decode(
            token,
            key,
            algorithms=[ALGORITHM],
            audience=list(issuer.audiences),
            issuer=issuer.name,
            leeway=LEEWAY_SECONDS,
            options={"require": _REQUIRED_CLAIMS, "enforce_minimum_key_length": True},
        )
        if not isinstance(claims["sub"], str) or not claims["sub"]:
            raise Unauthenticated("the token's sub is empty")
        return _Verified(issuer, kid, key, float(claims["exp"]), issuer.identify(claims))
