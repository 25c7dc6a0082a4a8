"""Callers with real tokens, for the tests of who may do what: an issuer of end users' tokens
and a Google issuer of service accounts' (tests/tokens.py: RSA keys, JWKS on 127.0.0.1), the
AUTH_* settings that point the functions at them, and one token per role."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from werkzeug.test import Client, TestResponse

from tests.helpers import error_of, new_driver_id, settings_env
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


def refused(response: TestResponse, status: int = 403) -> dict[str, Any]:
    """The error of a 401 or 403 answer."""
    assert response.status_code == status, response.get_json()
    error = error_of(response)
    assert error["code"] == {401: "unauthenticated", 403: "forbidden"}[status]
    return error


@dataclass
class Fleet:
    """Two teams of a test's own: north (the dispatcher's) with two drivers, south with one,
    and a driver with no team."""

    north: str
    south: str
    north_drivers: tuple[str, str]
    south_driver: str
    teamless: str


def new_fleet(client: Client, callers: Callers) -> Fleet:
    """A Fleet, its drivers' targets set by an admin."""
    tag = uuid.uuid4().hex[:8]
    made = Fleet(
        f"north-{tag}",
        f"south-{tag}",
        (new_driver_id(), new_driver_id()),
        new_driver_id(),
        new_driver_id(),
    )
    drivers = [{"driver_id": d, "team": made.north} for d in made.north_drivers]
    drivers += [{"driver_id": made.south_driver, "team": made.south}]
    drivers += [{"driver_id": made.teamless}]
    response = call(client, "POST", "set_targets", callers.admin(), drivers)
    assert response.status_code == 200, response.get_json()
    return made
