"""Verified tokens are remembered (shared.auth.tokens.VERIFIED_TOKENS): a token seen before skips
PyJWT and the RSA check, but never its expiry, and never outlives its signing key.

Whether a call was answered from memory shows in PyJWT's decode being called or not: the test
counts its calls (it still does all the work when called)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import jwt
import pytest

from shared.auth import tokens
from shared.auth.keys import MAX_AGE_SECONDS
from shared.auth.settings import AuthSettings
from shared.auth.tokens import LEEWAY_SECONDS, Verifier
from shared.errors import Unauthenticated
from tests.tokens import USERS_PROJECT as PROJECT
from tests.tokens import Clock, Issuer


class WallClock:
    """time.time, moved forward by the test (the expiry of remembered tokens reads it)."""

    def __init__(self) -> None:
        self.ahead = 0.0

    def __call__(self) -> float:
        return time.time() + self.ahead


@pytest.fixture
def decodes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The tokens PyJWT decoded, in order."""
    calls: list[str] = []
    decode = jwt.decode

    def counted(token: str, *args: Any, **kwargs: Any) -> Any:
        calls.append(token)
        return decode(token, *args, **kwargs)

    monkeypatch.setattr(tokens.jwt, "decode", counted)
    return calls


@pytest.fixture
def make_verifier(users: Issuer) -> Callable[..., Verifier]:
    def make(**options: Any) -> Verifier:
        settings = AuthSettings(
            mode="jwt", issuer=users.name, audience=PROJECT, jwks_url=users.jwks_url
        )
        return Verifier(settings, **options)

    return make


def test_a_token_seen_before_is_not_decoded_again(
    users: Issuer, make_verifier: Callable[..., Verifier], decodes: list[str]
) -> None:
    verifier = make_verifier()
    token = users.mint(PROJECT, fleet_role="driver", driver_id="d-1")
    first = verifier.verify(token)
    assert verifier.verify(token) == first
    assert verifier.verify(token).driver_id == "d-1"
    assert decodes == [token]


def test_a_remembered_token_still_expires_with_the_leeway(
    users: Issuer, make_verifier: Callable[..., Verifier], decodes: list[str]
) -> None:
    wall = WallClock()
    verifier = make_verifier(wall_clock=wall)
    token = users.mint(PROJECT, fleet_role="admin")
    # Read apart from the counted jwt.decode (the fixture counts every call of it).
    exp = jwt.PyJWT().decode(token, options={"verify_signature": False})["exp"]
    verifier.verify(token)
    wall.ahead = exp + LEEWAY_SECONDS - wall() - 5
    assert verifier.verify(token).role == "admin"
    wall.ahead += 10
    with pytest.raises(Unauthenticated, match="expired"):
        verifier.verify(token)
    assert decodes == [token]


def test_a_changed_copy_of_a_remembered_token_is_checked_in_full(
    users: Issuer, make_verifier: Callable[..., Verifier]
) -> None:
    verifier = make_verifier()
    token = users.mint(PROJECT, fleet_role="driver", driver_id="d-1")
    verifier.verify(token)
    header, _, signature = token.split(".")
    _, admin_claims, _ = users.mint(PROJECT, fleet_role="admin").split(".")
    for altered in (token + "A", f"{header}.{admin_claims}.{signature}", token[:-2]):
        with pytest.raises(Unauthenticated):
            verifier.verify(altered)


def test_refetched_keys_send_a_remembered_token_through_the_full_check_again(
    users: Issuer, make_verifier: Callable[..., Verifier], decodes: list[str]
) -> None:
    clock = Clock()
    verifier = make_verifier(clock=clock)
    token = users.mint(PROJECT, fleet_role="admin")
    verifier.verify(token)
    clock.advance(MAX_AGE_SECONDS)
    verifier.verify(token)
    verifier.verify(token)
    assert (decodes, users.requests) == ([token, token], 2)
    users.published = ["k2"]
    clock.advance(MAX_AGE_SECONDS)
    with pytest.raises(Unauthenticated, match="kid"):
        verifier.verify(token)


def test_only_the_most_recently_used_tokens_are_remembered(
    users: Issuer, make_verifier: Callable[..., Verifier], decodes: list[str]
) -> None:
    verifier = make_verifier(remembered=2)
    first, second, third = (users.mint(PROJECT, sub=f"u{n}", fleet_role="admin") for n in "123")
    for token in (first, second, first, third):  # `second` is the least recently used
        verifier.verify(token)
    decodes.clear()
    verifier.verify(first)
    verifier.verify(third)
    assert decodes == []
    verifier.verify(second)
    assert decodes == [second]


def test_a_refused_token_is_not_remembered(
    users: Issuer, make_verifier: Callable[..., Verifier], decodes: list[str]
) -> None:
    verifier = make_verifier()
    token = users.mint(PROJECT, fleet_role="owner")
    for _ in range(2):
        with pytest.raises(Unauthenticated, match="fleet_role"):
            verifier.verify(token)
    assert decodes == [token, token]
