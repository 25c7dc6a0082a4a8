"""A fake of Identity Platform's REST sign-in on 127.0.0.1, for the console's browser tests: the
one boundary faked (Google's API), as tests/test_grant.py fakes its admin API.

`accounts:signInWithPassword` checks an email and password against a small table of accounts
and `token` renews a session from its refresh token, both with `?key=` the API key, in the
request and reply shapes of Google's documentation (firebase.google.com/docs/reference/rest/auth).
Their ID tokens are minted by a tests/tokens.py Issuer: real RS256 signatures whose keys the
functions fetch from its JWKS, so the stack verifies them as it would Identity Platform's. The
page calls it from another origin, so it answers CORS as Google's API does.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.helpers import LoopbackHTTP
from tests.tokens import Issuer


@dataclass
class Account:
    password: str
    # Custom claims: fleet_role and teams or driver_id.
    claims: dict[str, Any]
    # The reply's expiresIn, in seconds: how soon the page must renew the token.
    expires_in: int = 3600
    # The token's own exp, in seconds from now, when it is to differ from expires_in (negative:
    # a token already expired, which the functions refuse).
    exp_in: int | None = None
    uid: str = field(default_factory=lambda: uuid.uuid4().hex[:20])


@dataclass
class Call:
    path: str
    body: dict[str, str]
    origin: str | None


class IdentityPlatform:
    """The two endpoints over `accounts`, by email; `refuse_renewals` makes `token` answer
    TOKEN_EXPIRED (a user disabled or signed out everywhere)."""

    def __init__(self, issuer: Issuer, audience: str, api_key: str, accounts: dict[str, Account]):
        self.issuer = issuer
        self.audience = audience
        self.api_key = api_key
        self.accounts = accounts
        self.calls: list[Call] = []
        self.issued: dict[str, list[str]] = {email: [] for email in accounts}
        self.refuse_renewals = False
        self._refresh_tokens: dict[str, str] = {}
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_OPTIONS(self) -> None:  # the CORS preflight of a JSON POST
                self.send_response(204)
                self._cors()
                self.send_header("Access-Control-Allow-Methods", "POST")
                self.send_header("Access-Control-Allow-Headers", "content-type")
                self.end_headers()

            def do_POST(self) -> None:
                status, reply = fake.answer(self)
                data = json.dumps(reply).encode()
                self.send_response(status)
                self._cors()
                self.send_header("Content-Type", "application/json; charset=UTF-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _cors(self) -> None:
                self.send_header("Access-Control-Allow-Origin", self.headers.get("Origin", "*"))
                self.send_header("Vary", "Origin")

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._served = LoopbackHTTP(Handler)
        self.url = self._served.url

    def close(self) -> None:
        self._served.close()

    def renewals(self) -> list[Call]:
        return [call for call in self.calls if call.path == "/v1/token"]

    def answer(self, request: BaseHTTPRequestHandler) -> tuple[int, dict[str, Any]]:
        parts = urlsplit(request.path)
        raw = request.rfile.read(int(request.headers.get("Content-Length") or 0)).decode()
        form = request.headers.get("Content-Type", "").startswith("application/x-www-form")
        body = {k: v[0] for k, v in parse_qs(raw).items()} if form else json.loads(raw or "{}")
        self.calls.append(Call(parts.path, body, request.headers.get("Origin")))
        if parse_qs(parts.query).get("key") != [self.api_key]:
            return _error("API key not valid. Please pass a valid API key.")
        if parts.path == "/v1/accounts:signInWithPassword" and body.get("returnSecureToken"):
            return self._sign_in(body)
        if parts.path == "/v1/token" and form:
            return self._renew(body)
        return _error("INVALID_REQUEST", status=404)

    def _sign_in(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        email = str(body.get("email", ""))
        account = self.accounts.get(email)
        if account is None or account.password != body.get("password"):
            # What Identity Platform answers for either, with email enumeration protection
            # (on by default since 2023).
            return _error("INVALID_LOGIN_CREDENTIALS")
        refresh_token = uuid.uuid4().hex
        self._refresh_tokens[refresh_token] = email
        reply = {
            "kind": "identitytoolkit#VerifyPasswordResponse",
            "localId": account.uid,
            "email": email,
            "displayName": "",
            "idToken": self._mint(email, account),
            "registered": True,
            "refreshToken": refresh_token,
            "expiresIn": str(account.expires_in),
        }
        return 200, reply

    def _renew(self, body: dict[str, str]) -> tuple[int, dict[str, Any]]:
        if body.get("grant_type") != "refresh_token":
            return _error("INVALID_GRANT_TYPE")
        email = self._refresh_tokens.get(body.get("refresh_token", ""))
        if email is None:
            return _error("INVALID_REFRESH_TOKEN")
        if self.refuse_renewals:
            return _error("TOKEN_EXPIRED")
        account = self.accounts[email]
        id_token = self._mint(email, account)
        reply = {
            "access_token": id_token,
            "expires_in": str(account.expires_in),
            "token_type": "Bearer",
            "refresh_token": body["refresh_token"],
            "id_token": id_token,
            "user_id": account.uid,
            "project_id": self.audience,
        }
        return 200, reply

    def _mint(self, email: str, account: Account) -> str:
        now = int(time.time())
        exp = now + (account.expires_in if account.exp_in is None else account.exp_in)
        token = self.issuer.mint(
            self.audience,
            sub=account.uid,
            email=email,
            iat=min(now, exp - 1),
            exp=exp,
            # Two tokens minted within one second differ all the same.
            nonce=uuid.uuid4().hex,
            **account.claims,
        )
        self.issued[email].append(token)
        return token


def _error(message: str, status: int = 400) -> tuple[int, dict[str, Any]]:
    """Google's error shape: the code again, and the reason as the message."""
    return status, {
        "error": {
            "code": status,
            "message": message,
            "errors": [{"message": message, "domain": "global", "reason": "invalid"}],
        }
    }
