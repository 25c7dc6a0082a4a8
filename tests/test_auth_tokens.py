"""Bearer tokens into identities (shared.auth), with real RSA keys and a JWKS on 127.0.0.1:
what is accepted, every way a token is refused, and how often the issuer's keys are fetched."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import jwt
import pytest
from pydantic import ValidationError
from werkzeug.datastructures import Headers

from shared.auth.identity import Identity
from shared.auth.keys import MAX_AGE_SECONDS, MIN_FETCH_INTERVAL_SECONDS
from shared.auth.settings import AuthSettings
from shared.auth.tokens import LEEWAY_SECONDS, Verifier, bearer_token
from shared.errors import Unauthenticated
from shared.settings import Settings
from tests.tokens import USERS_PROJECT as PROJECT
from tests.tokens import Clock, Issuer

FUNCTION_URL = "https://europe-west1-fleet-project.cloudfunctions.net/snapshot_daily"
SCHEDULER = "scheduler@fleet-project.iam.gserviceaccount.com"
BACKEND = "backend@fleet-project.iam.gserviceaccount.com"


@pytest.fixture
def google() -> Iterator[Issuer]:
    issuer = Issuer("https://accounts.google.com", kid="g1")
    yield issuer
    issuer.close()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def verifier(users: Issuer, google: Issuer, clock: Clock) -> Verifier:
    settings = AuthSettings(
        mode="jwt",
        issuer=users.name,
        audience=PROJECT,
        jwks_url=users.jwks_url,
        service_accounts=f"{SCHEDULER}=scheduler, {BACKEND}=admin",
        google_jwks_url=google.jwks_url,
        google_audience=f"{FUNCTION_URL}, https://snapshot-daily-abc-ew.a.run.app",
    )
    return Verifier(settings, clock=clock)


def refused(verifier: Verifier, token: str) -> str:
    """The message of the 401 the token gets; it repeats no part of the token."""
    with pytest.raises(Unauthenticated) as caught:
        verifier.verify(token)
    error = caught.value
    assert (error.status, error.code) == (401, "unauthenticated")
    assert not any(len(part) > 8 and part in error.message for part in token.split("."))
    return error.message


def test_a_drivers_token_is_the_driver(users: Issuer, verifier: Verifier) -> None:
    token = users.mint(PROJECT, sub="uid-7", fleet_role="driver", driver_id="d-7")
    identity = verifier.verify(token)
    assert identity == Identity(users.name, "uid-7", "driver", driver_id="d-7", teams=frozenset())
    assert identity.principal == f"{users.name}#uid-7"


def test_a_dispatchers_token_carries_its_teams(users: Issuer, verifier: Verifier) -> None:
    token = users.mint(PROJECT, fleet_role="dispatcher", teams=["north", "south"], driver_id="x")
    identity = verifier.verify(token)
    assert (identity.role, identity.teams, identity.driver_id) == (
        "dispatcher",
        frozenset({"north", "south"}),
        None,
    )


def test_an_admin_without_teams_is_unrestricted_and_with_teams_held_to_them(
    users: Issuer, verifier: Verifier
) -> None:
    assert verifier.verify(users.mint(PROJECT, fleet_role="admin")).teams is None
    held = verifier.verify(users.mint(PROJECT, fleet_role="admin", teams=["north"]))
    assert (held.role, held.teams) == ("admin", frozenset({"north"}))


@pytest.mark.parametrize(
    ("claims", "expected"),
    [
        ({}, "no known fleet_role"),
        ({"fleet_role": "owner"}, "no known fleet_role"),
        # scheduler is a service account's role, never a user's claim.
        ({"fleet_role": "scheduler"}, "no known fleet_role"),
        ({"fleet_role": ["admin"]}, "no known fleet_role"),
        ({"fleet_role": "driver"}, "driver_id"),
        ({"fleet_role": "driver", "driver_id": 7}, "driver_id"),
        ({"fleet_role": "driver", "driver_id": "d" * 65}, "driver_id"),
        ({"fleet_role": "dispatcher"}, "teams"),
        ({"fleet_role": "dispatcher", "teams": "north"}, "teams"),
        ({"fleet_role": "dispatcher", "teams": ["north", ""]}, "teams"),
        ({"fleet_role": "admin", "teams": "north"}, "teams"),
    ],
)
def test_a_token_without_a_complete_known_role_is_refused(
    users: Issuer, verifier: Verifier, claims: dict[str, Any], expected: str
) -> None:
    assert expected in refused(verifier, users.mint(PROJECT, **claims))


def test_the_token_comes_from_authorization_or_the_gateways_forwarded_header(
    users: Issuer, google: Issuer, verifier: Verifier
) -> None:
    driver = users.mint(PROJECT, fleet_role="driver", driver_id="d-1")
    direct = Headers({"Authorization": f"bearer  {driver} "})
    assert verifier.identify(direct).driver_id == "d-1"
    # API Gateway: its own ID token in Authorization, the caller's header forwarded.
    gateway = google.mint(FUNCTION_URL, email="gateway@p.iam.gserviceaccount.com")
    forwarded = Headers(
        {"Authorization": f"Bearer {gateway}", "X-Forwarded-Authorization": f"Bearer {driver}"}
    )
    assert bearer_token(forwarded) == driver
    assert verifier.identify(forwarded).driver_id == "d-1"


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": ""},
        {"Authorization": "Bearer "},
        {"Authorization": "Basic dXNlcjpwYXNz"},
        # The gateway's reading of the claims is never taken on its word.
        {"X-Apigateway-Api-Userinfo": "eyJmbGVldF9yb2xlIjoiYWRtaW4ifQ"},
    ],
)
def test_no_bearer_token_is_refused(verifier: Verifier, headers: dict[str, str]) -> None:
    with pytest.raises(Unauthenticated, match="Bearer"):
        verifier.identify(Headers(headers))


def test_a_signature_by_another_key_or_over_other_claims_is_refused(
    users: Issuer, verifier: Verifier
) -> None:
    forged = users.mint(PROJECT, key="attacker", fleet_role="admin")
    assert "signature" in refused(verifier, forged)
    header, _, signature = users.mint(PROJECT, fleet_role="driver", driver_id="d-1").split(".")
    _, admin_claims, _ = users.mint(PROJECT, fleet_role="admin").split(".")
    assert "signature" in refused(verifier, f"{header}.{admin_claims}.{signature}")


@pytest.mark.parametrize("junk", ["!!!!", "%3D", " ", "A"])
def test_a_signature_with_junk_after_it_is_refused(
    users: Issuer, verifier: Verifier, junk: str
) -> None:
    # Lenient base64 dropped such characters, and the signature verified (GHSA-hxm8-2xgr-2p9m).
    token = users.mint(PROJECT, fleet_role="admin")
    refused(verifier, token + junk)


@pytest.mark.parametrize("token", ["", "abc", "a.b", "a.b.c", "e30.e30.", "W10.e30.sig"])
def test_a_malformed_token_is_refused(verifier: Verifier, token: str) -> None:
    refused(verifier, token)


def test_another_issuer_or_audience_is_refused(users: Issuer, verifier: Verifier) -> None:
    other = users.mint(PROJECT, iss="https://securetoken.google.com/other", fleet_role="admin")
    assert "issuer" in refused(verifier, other)
    assert "issuer" in refused(verifier, users.mint(PROJECT, iss=None, fleet_role="admin"))
    assert "audience" in refused(verifier, users.mint("other-project", fleet_role="admin"))
    assert "aud" in refused(verifier, users.mint(PROJECT, aud=None, fleet_role="admin"))


def test_expiry_allows_the_leeway_and_no_more(users: Issuer, verifier: Verifier) -> None:
    now = users.claims(PROJECT)["iat"]
    within = users.mint(PROJECT, exp=now - LEEWAY_SECONDS + 15, fleet_role="admin")
    assert verifier.verify(within).role == "admin"
    expired = users.mint(PROJECT, exp=now - LEEWAY_SECONDS - 15, fleet_role="admin")
    assert "expired" in refused(verifier, expired)
    assert "exp" in refused(verifier, users.mint(PROJECT, exp=None, fleet_role="admin"))
    future = users.mint(PROJECT, nbf=now + LEEWAY_SECONDS + 60, fleet_role="admin")
    assert "not valid yet" in refused(verifier, future)


def test_alg_none_and_hmac_with_the_public_key_are_refused_before_any_key_fetch(
    users: Issuer, verifier: Verifier
) -> None:
    assert "RS256" in refused(verifier, users.unsigned(PROJECT, fleet_role="admin"))
    assert "RS256" in refused(verifier, users.hmac_with_public_key(PROJECT, fleet_role="admin"))
    assert users.requests == 0


def test_an_unknown_kid_refetches_once_per_interval_then_is_refused(
    users: Issuer, verifier: Verifier, clock: Clock
) -> None:
    verifier.verify(users.mint(PROJECT, fleet_role="admin"))
    assert users.requests == 1
    clock.advance(MIN_FETCH_INTERVAL_SECONDS)
    for kid in ("made-up-1", "made-up-2", "made-up-3"):
        assert "kid" in refused(verifier, users.mint(PROJECT, kid=kid, fleet_role="admin"))
    assert users.requests == 2
    clock.advance(MIN_FETCH_INTERVAL_SECONDS)
    refused(verifier, users.mint(PROJECT, kid="made-up-4", fleet_role="admin"))
    assert users.requests == 3
    # Known keys are served from the cache throughout.
    verifier.verify(users.mint(PROJECT, fleet_role="admin"))
    assert users.requests == 3


def test_a_rotated_key_is_fetched_once_and_the_old_one_still_verifies(
    users: Issuer, verifier: Verifier, clock: Clock
) -> None:
    verifier.verify(users.mint(PROJECT, fleet_role="admin"))
    users.published.append("k2")
    clock.advance(MIN_FETCH_INTERVAL_SECONDS)
    for _ in range(5):
        assert verifier.verify(users.mint(PROJECT, kid="k2", fleet_role="admin")).role == "admin"
        assert verifier.verify(users.mint(PROJECT, kid="k1", fleet_role="admin")).role == "admin"
    assert users.requests == 2


def test_keys_are_refetched_after_their_max_age_and_a_withdrawn_key_stops_verifying(
    users: Issuer, verifier: Verifier, clock: Clock
) -> None:
    token = users.mint(PROJECT, fleet_role="admin")
    verifier.verify(token)
    users.published = ["k2"]
    clock.advance(MAX_AGE_SECONDS - 1)
    verifier.verify(token)
    assert users.requests == 1
    clock.advance(1)
    assert "kid" in refused(verifier, token)
    assert users.requests == 2


def test_a_jwks_without_an_rs256_key_gives_no_key(users: Issuer, verifier: Verifier) -> None:
    # An `oct` key is an HMAC secret: were it taken, a token signed with it would verify.
    secret = b"0123456789abcdef0123456789abcdef"
    users.published = []
    users.other_keys = [{"kty": "oct", "kid": "k1", "k": base64.urlsafe_b64encode(secret).decode()}]
    hs256 = jwt.encode(users.claims(PROJECT, fleet_role="admin"), secret, "HS256", {"kid": "k1"})
    assert "RS256" in refused(verifier, hs256)
    assert "kid" in refused(verifier, users.mint(PROJECT, fleet_role="admin"))
    assert users.requests == 1


def test_an_issuer_that_is_down_keeps_the_keys_held_and_is_asked_once_per_interval(
    users: Issuer, verifier: Verifier, clock: Clock
) -> None:
    token = users.mint(PROJECT, fleet_role="admin")
    verifier.verify(token)
    users.failing = True
    clock.advance(MAX_AGE_SECONDS)
    for _ in range(3):
        assert verifier.verify(token).role == "admin"
    refused(verifier, users.mint(PROJECT, kid="k2", fleet_role="admin"))
    assert users.requests == 2
    users.failing = False
    clock.advance(MIN_FETCH_INTERVAL_SECONDS)
    verifier.verify(token)
    assert users.requests == 3


def test_no_keys_at_all_when_the_issuer_is_down_from_the_start(
    users: Issuer, verifier: Verifier, clock: Clock
) -> None:
    users.failing = True
    token = users.mint(PROJECT, fleet_role="admin")
    for _ in range(3):
        refused(verifier, token)
    assert users.requests == 1


def service_token(google: Issuer, email: str, audience: str = FUNCTION_URL, **claims: Any) -> str:
    usual: dict[str, Any] = {"sub": "1234567890", "email": email, "email_verified": True}
    return google.mint(audience, **(usual | claims))


@pytest.mark.parametrize(("email", "role"), [(SCHEDULER, "scheduler"), (BACKEND, "admin")])
def test_a_service_account_has_the_role_its_email_is_given(
    google: Issuer, verifier: Verifier, email: str, role: str
) -> None:
    identity = verifier.verify(service_token(google, email.upper()))
    assert (identity.role, identity.email, identity.principal) == (role, email, email)
    assert identity.teams == (None if role == "admin" else frozenset())


def test_service_accounts_without_a_role_or_a_verified_email_are_refused(
    google: Issuer, verifier: Verifier
) -> None:
    stranger = "other@p.iam.gserviceaccount.com"
    assert "no role here" in refused(verifier, service_token(google, stranger))
    # A fleet_role claim gives a Google-signed token no role.
    assert "no role here" in refused(verifier, service_token(google, stranger, fleet_role="admin"))
    unverified = service_token(google, SCHEDULER, email_verified=False)
    assert "verified email" in refused(verifier, unverified)
    assert "verified email" in refused(verifier, google.mint(FUNCTION_URL, email_verified=True))
    # Addressed to another function, or to the users' audience.
    for audience in ("https://elsewhere", PROJECT):
        assert "audience" in refused(verifier, service_token(google, SCHEDULER, audience))


def test_google_tokens_are_refused_when_no_service_account_is_configured(
    users: Issuer, google: Issuer
) -> None:
    settings = AuthSettings(
        mode="jwt", issuer=users.name, audience=PROJECT, jwks_url=users.jwks_url
    )
    assert "issuer" in refused(Verifier(settings), service_token(google, SCHEDULER))
    assert google.requests == 0


def test_the_settings_are_read_from_the_auth_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings().auth.mode == "off"
    monkeypatch.setenv("AUTH_MODE", "jwt")
    monkeypatch.setenv("AUTH_ISSUER", "https://securetoken.google.com/p")
    monkeypatch.setenv("AUTH_AUDIENCE", "p")
    monkeypatch.setenv("AUTH_JWKS_URL", "http://127.0.0.1:9999/jwks")
    monkeypatch.setenv("AUTH_SERVICE_ACCOUNTS", f"{SCHEDULER}=scheduler")
    monkeypatch.setenv("AUTH_GOOGLE_AUDIENCE", FUNCTION_URL)
    auth = Settings().auth
    assert (auth.mode, auth.issuer, auth.audience) == (
        "jwt",
        "https://securetoken.google.com/p",
        "p",
    )
    assert (auth.service_accounts, auth.google_audience) == (
        {SCHEDULER: "scheduler"},
        (FUNCTION_URL,),
    )
    assert auth.google_issuer == "https://accounts.google.com"


@pytest.mark.parametrize("name", ["AUTH_ISSUER", "AUTH_AUDIENCE", "AUTH_JWKS_URL"])
def test_jwt_mode_without_its_three_settings_stops_at_start(
    monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    monkeypatch.setenv("AUTH_MODE", "jwt")
    for variable in ("AUTH_ISSUER", "AUTH_AUDIENCE", "AUTH_JWKS_URL"):
        if variable != name:
            monkeypatch.setenv(variable, "https://issuer.example/jwks")
    with pytest.raises(ValidationError, match=f"AUTH_MODE=jwt needs {name}"):
        Settings()


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ({"service_accounts": f"{SCHEDULER}=scheduler"}, "AUTH_GOOGLE_AUDIENCE"),
        ({"service_accounts": f"{SCHEDULER}=owner"}, "scheduler or admin"),
        ({"service_accounts": "scheduler"}, "email=role"),
        ({"service_accounts": f"{SCHEDULER}=admin,{SCHEDULER.upper()}=scheduler"}, "twice"),
        (
            {
                "service_accounts": f"{SCHEDULER}=scheduler",
                "google_audience": FUNCTION_URL,
                "google_issuer": "https://issuer.example",
            },
            "must differ",
        ),
    ],
)
def test_service_account_settings_are_checked_at_start(
    extra: dict[str, str], expected: str
) -> None:
    with pytest.raises(ValidationError, match=expected):
        AuthSettings(
            mode="jwt",
            issuer="https://issuer.example",
            audience="p",
            jwks_url="https://issuer.example/jwks",
            **extra,  # type: ignore[arg-type]
        )


@pytest.mark.parametrize(
    ("url", "accepted"),
    [
        ("https://www.googleapis.com/oauth2/v3/certs", True),
        ("http://127.0.0.1:8080/jwks", True),
        ("http://[::1]/jwks", True),
        ("http://example.com/jwks", False),
        ("http://10.0.0.1/jwks", False),
        ("http://169.254.169.254/jwks", False),
        # A name could resolve anywhere: loopback over http is an address, never a name.
        ("http://localhost:8080/jwks", False),
        ("ftp://127.0.0.1/jwks", False),
        ("file:///etc/jwks.json", False),
        ("https:///jwks", False),
    ],
)
@pytest.mark.parametrize("name", ["jwks_url", "google_jwks_url"])
def test_a_jwks_url_is_https_or_http_to_loopback_only(url: str, accepted: bool, name: str) -> None:
    if accepted:
        assert getattr(AuthSettings(**{name: url}), name) == url  # type: ignore[arg-type]
        return
    with pytest.raises(ValidationError, match=f"AUTH_{name.upper()} must be an https URL"):
        AuthSettings(**{name: url})  # type: ignore[arg-type]
