"""The caller's bearer token: where it is in the request, and what it proves once verified.

Two kinds of token are accepted, told apart by their issuer:
- an end user's, from AUTH_ISSUER (Firebase / Identity Platform), with the role in its claims;
- a service account's, Google-signed (AUTH_GOOGLE_ISSUER), its role given by its email in
  AUTH_SERVICE_ACCOUNTS.
Both are checked the same way: RS256 only (never `none`, never an HMAC keyed with the public
key), signature against the issuer's JWKS, issuer, audience, and expiry with LEEWAY_SECONDS
of clock skew. Every refusal is Unauthenticated (401) saying which check failed; no message
repeats the token or a claim.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import jwt
from jwt import exceptions as jwt_errors

from shared.auth.identity import Identity, service_identity, user_identity
from shared.auth.keys import ALGORITHM, SigningKeys
from shared.auth.settings import AuthSettings
from shared.errors import Unauthenticated

LEEWAY_SECONDS = 60
_REQUIRED_CLAIMS = ["iss", "sub", "aud", "exp"]


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


# The message for each of PyJWT's refusals (most specific first: some subclass others).
_REFUSALS: tuple[tuple[type[jwt_errors.PyJWTError], str], ...] = (
    (jwt_errors.ExpiredSignatureError, "the token has expired"),
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


class Verifier:
    """Verifies tokens against the issuers in AuthSettings; one per process, since it holds
    the issuers' keys between requests."""

    def __init__(
        self, settings: AuthSettings, *, clock: Callable[[], float] = time.monotonic
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

    def identify(self, headers: Headers) -> Identity:
        """The identity behind the request's bearer token, or Unauthenticated."""
        return self.verify(bearer_token(headers))

    def verify(self, token: str) -> Identity:
        try:
            return self._verify(token)
        except jwt_errors.PyJWTError as exc:
            for error, message in _REFUSALS:
                if isinstance(exc, error):
                    raise Unauthenticated(message) from None
            if isinstance(exc, jwt_errors.MissingRequiredClaimError):
                raise Unauthenticated(f"the token has no {exc.claim} claim") from None
            raise Unauthenticated("the token is not valid") from None

    def _verify(self, token: str) -> Identity:
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
        claims = jwt.decode(
            token,
            issuer.keys.get(kid),
            algorithms=[ALGORITHM],
            audience=list(issuer.audiences),
            issuer=issuer.name,
            leeway=LEEWAY_SECONDS,
            options={"require": _REQUIRED_CLAIMS, "enforce_minimum_key_length": True},
        )
        if not isinstance(claims["sub"], str) or not claims["sub"]:
            raise Unauthenticated("the token's sub is empty")
        return issuer.identify(claims)
