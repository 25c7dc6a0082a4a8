"""The console's sign-in in a real browser (headless Chromium): the functions served with
AUTH_MODE=jwt, the page signing users in through a fake of Identity Platform's REST API on
127.0.0.1 (tests/identity_platform.py) whose ID tokens the functions verify for real, and what
each role is shown.

One browser for the module. Each test starts from the console freshly loaded, so signed out
(the page keeps its tokens in memory only), with the calls recorded so far forgotten, and ends
with no JavaScript error logged but the refusals it asked for: no test depends on another.
"""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

from tests.browser import Api, chromium, eventually, javascript_errors, served
from tests.console_page import open_view, rows, summary_tiles, tiles
from tests.helpers import Databases, settings_env, using_database
from tests.identity_platform import Account, IdentityPlatform
from tests.tokens import Issuer

pytestmark = pytest.mark.slow

PROJECT = "fleet-console"
API_KEY = "AIzaSyTest-console_key"
TEAMS = {"north": ["DRV-N1", "DRV-N2"], "south": ["DRV-S1", "DRV-S2"]}
ACCOUNTS = {
    "bo@example.com": Account("bo-pass", {"fleet_role": "dispatcher", "teams": ["north"]}),
    "al@example.com": Account("al-pass", {"fleet_role": "admin"}),
    "di@example.com": Account("di-pass", {"fleet_role": "driver", "driver_id": "DRV-N1"}),
    # An ID token that lives 4 s: the page renews it after 2.
    "cy@example.com": Account("cy-pass", {"fleet_role": "dispatcher", "teams": ["south"]}, 4),
    # Identity Platform says an hour, but the token expired two minutes ago (past the
    # functions' 60 s of leeway): the functions refuse it.
    "ed@example.com": Account("ed-pass", {"fleet_role": "admin"}, exp_in=-120),
}


class AuthorizedApi(Api):
    """Api calls as one user, with their bearer token."""

    def __init__(self, base: str, token: str) -> None:
        super().__init__(base)
        self.token = token

    def raw(self, method: str, path: str, body: bytes | None, content_type: str) -> bytes:
        request = urllib.request.Request(
            self.base + path,
            data=body,
            method=method,
            headers={"Content-Type": content_type, "Authorization": f"Bearer {self.token}"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            data: bytes = response.read()
            return data


@dataclass
class Recorder:
    """WSGI middleware: the path and Authorization header of every call to the functions."""

    app: Any
    calls: list[tuple[str, str | None]] = field(default_factory=list)

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        self.calls.append((environ["PATH_INFO"], environ.get("HTTP_AUTHORIZATION")))
        return self.app(environ, start_response)

    def function_calls(self, since: int = 0) -> list[tuple[str, str | None]]:
        return [c for c in self.calls[since:] if not c[0].startswith("/console")]


@dataclass
class Stack:
    base: str
    identity: IdentityPlatform
    recorder: Recorder
    admin: AuthorizedApi

    def as_user(self, email: str) -> AuthorizedApi:
        return AuthorizedApi(self.base, self.identity.issued[email][-1])


@pytest.fixture(scope="module")
def stack(app: Any, databases: Databases) -> Iterator[Stack]:
    issuer = Issuer(f"https://securetoken.google.com/{PROJECT}")
    identity = IdentityPlatform(issuer, PROJECT, API_KEY, ACCOUNTS)
    settings = {
        "FLEET_TIMEZONE": "UTC",
        "WEBHOOKS_ALLOW_LOOPBACK_HTTP": "true",
        "AUTH_MODE": "jwt",
        "AUTH_ISSUER": issuer.name,
        "AUTH_AUDIENCE": PROJECT,
        "AUTH_JWKS_URL": issuer.jwks_url,
        "CONSOLE_IDENTITY_API_KEY": API_KEY,
        "CONSOLE_IDENTITY_URL": identity.url,
        "CONSOLE_SECURE_TOKEN_URL": identity.url,
    }
    recorder = Recorder(app)
    try:
        with using_database(databases.create_migrated(), **settings), served(recorder) as base:
            admin = AuthorizedApi(base, issuer.mint(PROJECT, fleet_role="admin"))
            targets = [
                {"driver_id": d, "target_deliveries": 10, "target_revenue": 500, "team": team}
                for team, drivers in TEAMS.items()
                for d in drivers
            ]
            admin.post("/set_targets", targets)
            for n, driver in enumerate(["DRV-N1", "DRV-N2", "DRV-S1"], start=2):
                admin.post("/update_progress", {"driver_id": driver, "deliveries": n})
            hook = {"url": "http://127.0.0.1:9/hooks", "events": ["day_closed"]}
            admin.post("/manage_webhooks", hook)
            recorder.calls.clear()  # what the page calls, from here on
            yield Stack(base, identity, recorder, admin)
    finally:
        identity.close()
        issuer.close()


@pytest.fixture(scope="module")
def browser(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    driver = chromium(tmp_path_factory.mktemp("profile"), tmp_path_factory.mktemp("downloads"))
    try:
        driver.get(stack.base + "/console")
        yield driver
    finally:
        driver.quit()


@pytest.fixture(autouse=True)
def signed_out(browser: Any, stack: Stack) -> Iterator[None]:
    stack.recorder.calls.clear()
    browser.get(stack.base + "/console")
    WebDriverWait(browser, 10).until(lambda b: _shown(b, "#password-signin"))
    yield
    # Allowed: the refusals the tests ask for, which Chromium logs as failed loads.
    assert javascript_errors(browser, allowed=("status of 401", "status of 400")) == []


def _shown(browser: Any, selector: str) -> bool:
    found = browser.find_elements(By.CSS_SELECTOR, selector)
    return bool(found) and bool(found[0].is_displayed())


def _text(browser: Any, selector: str) -> str:
    text: str = browser.find_element(By.CSS_SELECTOR, selector).text
    return text


def sign_in(browser: Any, email: str, password: str) -> None:
    WebDriverWait(browser, 10).until(lambda b: _shown(b, "#password-signin"))
    form = browser.find_element(By.ID, "password-signin")
    form.find_element(By.NAME, "email").clear()
    form.find_element(By.NAME, "email").send_keys(email)
    form.find_element(By.NAME, "password").send_keys(password)
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()


def sign_out(browser: Any) -> None:
    """Sign out: the page forgets its tokens and reloads, asking again."""
    browser.find_element(By.ID, "signout").click()
    WebDriverWait(browser, 10).until(lambda b: _shown(b, "#password-signin"))


def _ready(browser: Any) -> None:
    ready = "return document.body.dataset.ready"
    WebDriverWait(browser, 10).until(lambda b: b.execute_script(ready))


def test_the_page_asks_for_email_and_password_and_calls_nothing_first(
    browser: Any, stack: Stack
) -> None:
    assert not _shown(browser, ".tabs") and not _shown(browser, "#today")
    assert not _shown(browser, "#signin"), "the paste-a-token form is for a page without a key"
    assert stack.recorder.function_calls() == []


def test_a_wrong_password_shows_identity_platforms_message(browser: Any, stack: Stack) -> None:
    sign_in(browser, "bo@example.com", "not-bo-pass")
    expected = "Sign-in refused: INVALID_LOGIN_CREDENTIALS"
    eventually(lambda: _text(browser, "#sign-in-message"), expected)
    call = stack.identity.calls[-1]
    assert call.path == "/v1/accounts:signInWithPassword"
    assert call.body == {
        "email": "bo@example.com",
        "password": "not-bo-pass",
        "returnSecureToken": True,
    }
    assert call.origin == stack.base
    assert stack.recorder.function_calls() == []


def test_a_dispatcher_sees_their_teams_only_and_every_call_carries_the_token(
    browser: Any, stack: Stack, tmp_path: Path
) -> None:
    sign_in(browser, "bo@example.com", "bo-pass")
    _ready(browser)
    bo = stack.as_user("bo@example.com")
    eventually(lambda: tiles(browser), summary_tiles(bo))
    assert summary_tiles(bo)["drivers"] == len(TEAMS["north"])
    calls = stack.recorder.function_calls()
    assert calls and {auth for _, auth in calls} == {f"Bearer {bo.token}"}
    assert "bo@example.com (dispatcher of north)" in _text(browser, "#who")
    picker = browser.execute_script(
        "return [...document.querySelectorAll('#team-names option')].map(o => o.value)"
    )
    assert picker == ["north"]
    assert not _shown(browser, '.tabs a[data-view="webhooks"]')
    assert _shown(browser, '.tabs a[data-view="targets"]')
    open_view(browser, "drivers")
    north = [d["driver_id"] for d in bo.get("/get_targets?limit=50")["drivers"]]
    assert north == TEAMS["north"]
    eventually(lambda: [d for _, d in rows(browser, "#driver-list")], north)
    browser.save_screenshot(str(tmp_path / "dispatcher.png"))
    # The address of the hidden tab, typed in, shows the live board instead.
    sign_out(browser)
    browser.get(stack.base + "/console#webhooks")
    sign_in(browser, "bo@example.com", "bo-pass")
    eventually(lambda: _shown(browser, "#view-live"), True)
    assert not _shown(browser, "#view-webhooks")
    assert all(path != "/manage_webhooks" for path, _ in stack.recorder.function_calls())


def test_the_token_is_renewed_before_it_expires(browser: Any, stack: Stack) -> None:
    sign_in(browser, "cy@example.com", "cy-pass")
    _ready(browser)
    eventually(lambda: len(stack.identity.issued["cy@example.com"]) >= 2, True, timeout=8)
    renewal = stack.identity.renewals()[0]
    assert renewal.body["grant_type"] == "refresh_token" and renewal.body["refresh_token"]
    first, renewed = stack.identity.issued["cy@example.com"][:2]
    since = len(stack.recorder.calls)
    open_view(browser, "drivers")
    eventually(lambda: len(stack.recorder.function_calls(since)) > 0, True)
    sent = {auth for _, auth in stack.recorder.function_calls(since)}
    assert f"Bearer {first}" not in sent
    assert sent <= {f"Bearer {t}" for t in stack.identity.issued["cy@example.com"][1:]}
    assert renewed in stack.identity.issued["cy@example.com"]


def test_a_refused_renewal_sends_the_user_back_to_sign_in(browser: Any, stack: Stack) -> None:
    sign_in(browser, "cy@example.com", "cy-pass")  # a token of 4 s, renewed after 2
    _ready(browser)
    stack.identity.refuse_renewals = True
    try:
        eventually(lambda: _shown(browser, "#password-signin"), True, timeout=8)
        expected = "Your session could not be renewed (TOKEN_EXPIRED): sign in again."
        assert _text(browser, "#sign-in-message") == expected
        assert not _shown(browser, ".tabs")
    finally:
        stack.identity.refuse_renewals = False


def test_a_token_the_functions_refuse_sends_the_user_back_to_sign_in(
    browser: Any, stack: Stack
) -> None:
    sign_in(browser, "ed@example.com", "ed-pass")
    eventually(lambda: len(stack.identity.issued["ed@example.com"]), 1)
    message = stack.as_user("ed@example.com").error_message("/get_targets?summary=true")
    assert message == "the token has expired"
    eventually(lambda: _text(browser, "#sign-in-message"), message)
    assert _shown(browser, "#password-signin") and not _shown(browser, "#today")


def test_an_admin_sees_the_webhooks(browser: Any, stack: Stack, tmp_path: Path) -> None:
    sign_in(browser, "al@example.com", "al-pass")
    eventually(lambda: _shown(browser, '.tabs a[data-view="webhooks"]'), True)
    open_view(browser, "webhooks")
    listed = [s["url"] for s in stack.admin.get("/manage_webhooks")["subscriptions"]]

    def cells() -> list[str]:
        found = browser.find_elements(By.CSS_SELECTOR, "#webhook-list tbody tr")
        return [row.find_element(By.TAG_NAME, "td").text for row in found]

    eventually(cells, listed)
    teams = browser.execute_script(
        "return [...document.querySelectorAll('#team-names option')].map(o => o.value)"
    )
    assert sorted(teams) == sorted(TEAMS)
    browser.save_screenshot(str(tmp_path / "admin-webhooks.png"))


def test_a_driver_is_told_the_console_is_for_dispatchers(
    browser: Any, stack: Stack, tmp_path: Path
) -> None:
    since = len(stack.recorder.calls)
    sign_in(browser, "di@example.com", "di-pass")
    note = "The console is for dispatchers and admins. You are signed in as driver DRV-N1"
    eventually(lambda: _text(browser, "#not-for-role").startswith(note), True)
    assert not _shown(browser, ".tabs") and not _shown(browser, "#today")
    assert _shown(browser, "#signout")
    assert stack.recorder.function_calls(since) == []
    browser.save_screenshot(str(tmp_path / "driver.png"))


def test_without_a_key_the_page_takes_a_pasted_token(browser: Any, stack: Stack) -> None:
    with settings_env(CONSOLE_IDENTITY_API_KEY=""):
        browser.get(stack.base + "/console")
        WebDriverWait(browser, 10).until(lambda b: _shown(b, "#signin"))
    assert not _shown(browser, "#password-signin")
    token = stack.identity.issuer.mint(PROJECT, fleet_role="dispatcher", teams=["south"])
    browser.find_element(By.ID, "token").send_keys(token, Keys.ENTER)
    _ready(browser)
    south = AuthorizedApi(stack.base, token)
    eventually(lambda: tiles(browser), summary_tiles(south))
    assert not _shown(browser, '.tabs a[data-view="webhooks"]')
    assert {auth for _, auth in stack.recorder.function_calls()[-2:]} == {f"Bearer {token}"}
