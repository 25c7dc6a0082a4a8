"""Tokens refused and accepted over a real socket: the functions served by a werkzeug server on
127.0.0.1 with AUTH_MODE=jwt, the issuer's JWKS on another port (tests/callers.py)."""

from __future__ import annotations

import base64
import http.client
import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from werkzeug.serving import BaseWSGIServer, make_server

from shared.auth import keys
from shared.auth.settings import AuthSettings
from tests.callers import PROJECT, Callers, jwt_callers
from tests.helpers import new_driver_id
from tests.served import serving


@pytest.fixture(scope="module")
def callers() -> Iterator[Callers]:
    with jwt_callers() as made:
        yield made


@pytest.fixture(scope="module")
def server(app: Any, callers: Callers) -> Iterator[BaseWSGIServer]:
    """The functions over real HTTP, checking callers against `callers`' issuers: a test that
    sends no token still needs AUTH_MODE=jwt set, whichever test ran before it."""
    served = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=served.serve_forever, kwargs={"poll_interval": 0.01})
    thread.start()
    yield served
    served.shutdown()
    thread.join()


def request(
    server: BaseWSGIServer, path: str, headers: dict[str, str], body: Any = None
) -> tuple[int, dict[str, Any], dict[str, str]]:
    """(status, JSON body, headers) of one request on a fresh connection."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        data = None if body is None else json.dumps(body)
        sent = {**headers, **({"Content-Type": "application/json"} if data else {})}
        conn.request("POST" if data else "GET", path, body=data, headers=sent)
        response = conn.getresponse()
        return response.status, json.loads(response.read()), dict(response.getheaders())
    finally:
        conn.close()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_a_drivers_token_reports_their_progress(
    server: BaseWSGIServer, callers: Callers, engine: Engine
) -> None:
    driver = new_driver_id()
    admin = callers.admin()
    status, body, _ = request(server, "/set_targets", admin, [{"driver_id": driver}])
    assert status == 200, body
    event = {"driver_id": driver, "deliveries": 1}
    status, body, _ = request(server, "/update_progress", callers.driver(driver), event)
    assert (status, body["current_deliveries"]) == (200, 1)
    # Behind API Gateway the caller's token comes in X-Forwarded-Authorization, the gateway's own
    # in Authorization.
    forwarded = {
        "X-Forwarded-Authorization": callers.driver(driver)["Authorization"],
        "Authorization": "Bearer the-gateways-own-token",
    }
    status, body, _ = request(server, "/update_progress", forwarded, event)
    assert (status, body["current_deliveries"]) == (200, 2)


def test_no_token_is_a_401_with_a_bearer_challenge(server: BaseWSGIServer) -> None:
    status, body, headers = request(server, "/get_targets", {})
    assert status == 401
    assert body["error"]["code"] == "unauthenticated"
    assert headers["WWW-Authenticate"] == 'Bearer realm="fleet-targets"'


def test_the_gateways_reading_of_a_token_is_never_an_identity(server: BaseWSGIServer) -> None:
    claims = {
        "iss": "https://securetoken.google.com/fleet-roles",
        "sub": "x",
        "fleet_role": "admin",
    }
    userinfo = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode()
    status, body, _ = request(server, "/manage_webhooks", {"X-Apigateway-Api-Userinfo": userinfo})
    assert (status, body["error"]["code"]) == (401, "unauthenticated")


def _tampered(token: str) -> str:
    header, claims, signature = token.split(".")
    flipped = "A" if claims[10] != "A" else "B"
    return f"{header}.{claims[:10]}{flipped}{claims[11:]}.{signature}"


BAD_TOKENS = {
    "expired": lambda c: c.users.mint(PROJECT, fleet_role="admin", exp=int(time.time()) - 120),
    "wrong audience": lambda c: c.users.mint("another-project", fleet_role="admin"),
    "alg none": lambda c: c.users.unsigned(PROJECT, fleet_role="admin"),
    "hmac with the public key": lambda c: c.users.hmac_with_public_key(PROJECT, fleet_role="admin"),
    "unknown kid": lambda c: c.users.mint(PROJECT, kid="k-unknown", fleet_role="admin"),
    "another key": lambda c: c.users.mint(PROJECT, key="k-other", fleet_role="admin"),
    "tampered": lambda c: _tampered(c.users.mint(PROJECT, fleet_role="driver", driver_id="d1")),
    "no role": lambda c: c.users.mint(PROJECT),
    "unknown service account": lambda c: c.google.mint(
        "https://example.test/", email="other@example.test", email_verified=True
    ),
    "not a jwt": lambda c: "not.a.jwt",
}


@pytest.mark.parametrize("kind", sorted(BAD_TOKENS))
def test_a_bad_token_is_a_401_saying_it_is_invalid(
    server: BaseWSGIServer, callers: Callers, kind: str
) -> None:
    token = BAD_TOKENS[kind](callers)
    status, body, headers = request(server, "/get_targets", bearer(token))
    assert status == 401, body
    assert body["error"]["code"] == "unauthenticated"
    challenge = headers["WWW-Authenticate"]
    assert challenge.startswith('Bearer realm="fleet-targets", error="invalid_token", ')
    assert f'error_description="{body["error"]["message"]}"' in challenge


def test_a_rotated_key_is_fetched_once_and_the_old_one_still_verifies(
    server: BaseWSGIServer, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Issuers of its own, and no pause between fetches (shared.auth.keys refetches at most once
    # per interval, tested with a clock in test_auth_tokens.py): what is left to see is that a
    # new kid costs one fetch, not one per call.
    monkeypatch.setattr(keys, "MIN_FETCH_INTERVAL_SECONDS", 0.0)
    with jwt_callers() as callers:
        issuer = callers.users
        old = issuer.mint(PROJECT, fleet_role="admin")
        assert request(server, "/manage_webhooks", bearer(old))[0] == 200
        assert issuer.requests == 1
        issuer.published = [issuer.kid, "k-rotated"]
        new = issuer.mint(PROJECT, kid="k-rotated", fleet_role="admin")
        for token in (new, new, old, new):
            status, body, _ = request(server, "/manage_webhooks", bearer(token))
            assert status == 200, body
        assert issuer.requests == 2


@pytest.mark.slow
def test_fleet_serve_says_how_it_checks_callers_first_and_checks_them(
    database: str, callers: Callers
) -> None:
    driver = new_driver_id()
    with serving(database, **callers.settings()) as server:
        assert server.stderr.lines[0] == (
            f"auth: bearer tokens from {callers.users.name} for {PROJECT}, 1 service accounts"
        )
        status, _ = server.call("POST", "/set_targets", [{"driver_id": driver}])
        assert status == 401
        status, _ = server.call(
            "POST", "/set_targets", [{"driver_id": driver}], headers=callers.admin()
        )
        assert status == 200
        event = {"driver_id": driver, "deliveries": 1}
        status, body = server.call(
            "POST", "/update_progress", event, headers=callers.driver(driver)
        )
        assert (status, body["current_deliveries"]) == (200, 1)


def test_with_auth_off_the_first_line_says_every_caller_is_an_admin() -> None:
    # What `make run` prints first (ops/cli.py's serve) with the local default.
    assert AuthSettings(mode="off").summary == (
        "auth is off (AUTH_MODE=off): every caller is let in as an admin"
    )
