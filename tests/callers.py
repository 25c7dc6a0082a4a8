"""Callers with real tokens, for the tests of who may do what: an issuer of end users' tokens
and a Google issuer of service accounts' (tests/tokens.py: RSA keys, JWKS on 127.0.0.1), the
AUTH_* settings that point the functions at them, and one token per role."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from werkzeug.test import Client, TestResponse

from tests.helpers import settings_env
from tests.tokens import Issuer

PROJECT = "fleet-roles"
SCHEDULER = "scheduler@fleet-roles.iam.gserviceaccount.com"
# What the scheduler's OIDC token is addressed to: the function's URL.
FUNCTION_URL = "https://europe-west1-fleet-roles.cloudfunctions.net/snapshot_daily"


class Callers:
    def __init__(self, users: Issuer, google: Issuer) -> None:
        self.users = users
        self.google = google

    def settings(self) -> dict[str, str]:
        return {
            "AUTH_MODE": "jwt",
            "AUTH_ISSUER": self.users.name,
            "AUTH_AUDIENCE": PROJECT,
            "AUTH_JWKS_URL": self.users.jwks_url,
            "AUTH_SERVICE_ACCOUNTS": f"{SCHEDULER}=scheduler",
            "AUTH_GOOGLE_ISSUER": self.google.name,
            "AUTH_GOOGLE_JWKS_URL": self.google.jwks_url,
            "AUTH_GOOGLE_AUDIENCE": FUNCTION_URL,
        }

    def token(self, **claims: Any) -> dict[str, str]:
        """Headers bearing an end user's token with these claims."""
        return {"Authorization": f"Bearer {self.users.mint(PROJECT, **claims)}"}

    def driver(self, driver_id: str, sub: str = "driver-uid") -> dict[str, str]:
        return self.token(sub=sub, fleet_role="driver", driver_id=driver_id)

    def dispatcher(self, *teams: str, sub: str = "dispatcher-uid") -> dict[str, str]:
        return self.token(sub=sub, fleet_role="dispatcher", teams=list(teams))

    def admin(self, sub: str = "admin-uid") -> dict[str, str]:
        return self.token(sub=sub, fleet_role="admin")

    def scheduler(self) -> dict[str, str]:
        token = self.google.mint(
            FUNCTION_URL, sub="1234567890", email=SCHEDULER, email_verified=True
        )
        return {"Authorization": f"Bearer {token}"}

    def principal(self, sub: str) -> str:
        """How the audit names an end user (shared.auth.identity.Identity.principal)."""
        return f"{self.users.name}#{sub}"


@contextmanager
def jwt_callers() -> Iterator[Callers]:
    """AUTH_MODE=jwt against two fresh issuers, for the block."""
    users = Issuer("https://securetoken.google.com/fleet-roles")
    google = Issuer("https://accounts.google.com", kid="g1")
    callers = Callers(users, google)
    try:
        with settings_env(**callers.settings()):
            yield callers
    finally:
        users.close()
        google.close()


def call(
    client: Client,
    method: str,
    function: str,
    headers: dict[str, str],
    body: Any = None,
    **query: Any,
) -> TestResponse:
    """One request to a served function with `headers` (a JSON body, query parameters)."""
    data = None if body is None else json.dumps(body)
    return client.open(
        f"/{function}",
        method=method,
        data=data,
        content_type="application/json" if data is not None else None,
        query_string=query,
        headers=headers,
    )
