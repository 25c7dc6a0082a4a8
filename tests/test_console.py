"""The console function without a browser: the page and its files, their headers (CSP, cache,
nosniff), gzip, versioned asset URLs, 404s that do not reach other files, the size of a first
load, and the sign-in the page is told about (CONSOLE_*) with the origins its CSP then opens."""

from __future__ import annotations

import gzip
import re
from typing import Any

import pytest
from pydantic import ValidationError
from werkzeug.test import Client

from shared.console.assets import console
from shared.console.settings import ConsoleSettings
from tests.helpers import settings_env

CSP_SOURCES = {"default-src 'self'", "object-src 'none'", "frame-ancestors 'none'"}
FIRST_LOAD_BUDGET = 250_000
# Links of the page and static imports of the modules: what a first load fetches.
PAGE_LINK = re.compile(r'(?:href|src)="(console/[^"]+)"')
STATIC_IMPORT = re.compile(r'^(?:import|export)\s[^;]*?from\s+"(\./[^"]+)"', re.MULTILINE)


@pytest.fixture
def web(app: Any) -> Client:
    # The console reads no database: the dispatcher alone serves it.
    return Client(app)


def _get(web: Client, path: str, gzip_ok: bool = True, **headers: str) -> Any:
    if gzip_ok:
        headers["Accept-Encoding"] = "gzip, deflate"
    return web.get(path, headers=headers)


def _asset_paths(page: str) -> list[str]:
    return PAGE_LINK.findall(page)


def test_the_page_is_html_revalidated_with_a_strict_csp(web: Client) -> None:
    response = _get(web, "/console", gzip_ok=False)
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    assert response.headers["Cache-Control"] == "no-cache"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    csp = {part.strip() for part in response.headers["Content-Security-Policy"].split(";")}
    assert csp >= CSP_SOURCES and not any("unsafe" in part for part in csp), csp
    page = response.get_data(as_text=True)
    # No inline script or style: everything the page runs is a file of its own.
    assert "<style" not in page and " style=" not in page
    assert re.findall(r"<script[^>]*>", page) == [
        f'<script type="module" src="console/{console().version}/app.js">'
    ]


def test_an_unchanged_page_is_a_304(web: Client) -> None:
    etag = _get(web, "/console").headers["ETag"]
    again = _get(web, "/console", **{"If-None-Match": etag})
    assert again.status_code == 304
    assert again.get_data() == b""


def test_assets_are_versioned_cached_for_a_year_and_gzipped(web: Client) -> None:
    page = _get(web, "/console", gzip_ok=False).get_data(as_text=True)
    paths = _asset_paths(page)
    assert {p.rsplit("/", 1)[-1] for p in paths} == {
        "style.css",
        "uPlot.min.css",
        "app.js",
        "icon.svg",
    }
    for path in paths:
        assert path.startswith(f"console/{console().version}/")
        response = _get(web, f"/{path}")
        assert response.status_code == 200, path
        assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
        assert response.headers["Content-Encoding"] == "gzip"
        assert response.headers["Vary"] == "Accept-Encoding"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        plain = _get(web, f"/{path}", gzip_ok=False)
        assert "Content-Encoding" not in plain.headers
        assert gzip.decompress(response.get_data()) == plain.get_data()
    assert _get(web, f"/console/{console().version}/app.js").mimetype == "text/javascript"
    assert _get(web, f"/console/{console().version}/style.css").mimetype == "text/css"


def test_a_client_that_refuses_gzip_gets_plain_bytes(web: Client) -> None:
    refused = _get(web, "/console", gzip_ok=False, **{"Accept-Encoding": "gzip;q=0"})
    assert "Content-Encoding" not in refused.headers
    assert refused.get_data().startswith(b"<!doctype html>")


@pytest.mark.parametrize(
    "path",
    [
        "/console/app.js",  # no version
        "/console/000000000000/app.js",  # an old or made-up version
        "/console/{v}/nothing.js",
        "/console/{v}/index.html",  # the page only at its own URL
        "/console/{v}/vendor/uplot/LICENSE",  # shipped, not served
        "/console/{v}/../assets.py",
        "/console/{v}/%2e%2e/assets.py",
        "/console/{v}/..%2fassets.py",
        "/console/{v}/vendor/../../assets.py",
        "/console/{v}//etc/passwd",
    ],
)
def test_anything_but_the_pages_own_files_is_a_404_in_the_error_shape(
    web: Client, path: str
) -> None:
    response = _get(web, path.format(v=console().version))
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] in {"asset_not_found", "no_such_function"}
    assert b"import " not in response.get_data()


def test_other_methods_are_refused(web: Client) -> None:
    response = web.post("/console")
    assert response.status_code == 405
    assert response.headers["Allow"] == "GET"


def test_the_first_load_is_under_250_kb_as_served(web: Client) -> None:
    """The page, its styles and every module it imports statically, gzipped as served (uPlot
    is imported only when a chart is drawn, and is counted too: the budget holds with it)."""
    version = console().version
    page = _get(web, "/console")
    total = len(page.get_data())
    pending = [
        p.removeprefix(f"console/{version}/") for p in _asset_paths(console().page.body.decode())
    ]
    seen: set[str] = set()
    while pending:
        name = pending.pop()
        if name in seen:
            continue
        seen.add(name)
        response = _get(web, f"/console/{version}/{name}")
        assert response.status_code == 200, name
        total += len(response.get_data())
        if name.endswith(".js"):
            folder = name.rpartition("/")[0]
            for imported in STATIC_IMPORT.findall(console().assets[name].body.decode()):
                pending.append(f"{folder}/{imported[2:]}".lstrip("/"))
    total += len(_get(web, f"/console/{version}/vendor/uplot/uPlot.esm.js").get_data())
    assert "drivers.js" in seen and "chart.js" in seen
    assert total < FIRST_LOAD_BUDGET, total


SIGN_IN = {
    "AUTH_MODE": "jwt",
    "AUTH_ISSUER": "https://securetoken.google.com/acme",
    "AUTH_AUDIENCE": "acme",
    "AUTH_JWKS_URL": "http://127.0.0.1:9/jwks",
    "CONSOLE_IDENTITY_API_KEY": "AIzaSyExample-key_1",
    "CONSOLE_IDENTITY_URL": "http://127.0.0.1:9001",
    "CONSOLE_SECURE_TOKEN_URL": "http://127.0.0.1:9002/",
}


def _body_data(page: str) -> dict[str, str]:
    body = re.search(r"<body([^>]*)>", page)
    assert body is not None
    return dict(re.findall(r'data-([a-z-]+)="([^"]*)"', body.group(1)))


def _connect_src(response: Any) -> list[str]:
    for part in response.headers["Content-Security-Policy"].split(";"):
        name, *sources = part.split()
        if name == "connect-src":
            return sources
    return []


def test_with_a_key_the_page_signs_in_and_may_reach_exactly_identity_platform(
    web: Client,
) -> None:
    with settings_env(**SIGN_IN):
        response = _get(web, "/console", gzip_ok=False)
        asset = _get(web, f"/console/{console().version}/app.js")
    assert _body_data(response.get_data(as_text=True)) == {
        "auth-mode": "jwt",
        "identity-api-key": "AIzaSyExample-key_1",
        "identity-url": "http://127.0.0.1:9001",
        "secure-token-url": "http://127.0.0.1:9002",
    }
    expected = ["'self'", "http://127.0.0.1:9001", "http://127.0.0.1:9002"]
    assert _connect_src(response) == expected
    assert _connect_src(asset) == expected
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]


def test_google_is_the_default_and_a_setting_changes_the_pages_etag(web: Client) -> None:
    plain = _get(web, "/console").headers["ETag"]
    origins = ("CONSOLE_IDENTITY_URL", "CONSOLE_SECURE_TOKEN_URL")
    google = {k: v for k, v in SIGN_IN.items() if k not in origins}
    with settings_env(**google):
        response = _get(web, "/console")
        assert _get(web, "/console", **{"If-None-Match": plain}).status_code == 200
    assert response.headers["ETag"] != plain
    assert _connect_src(response) == [
        "'self'",
        "https://identitytoolkit.googleapis.com",
        "https://securetoken.googleapis.com",
    ]


@pytest.mark.parametrize(
    "settings",
    [
        {"AUTH_MODE": "off", "CONSOLE_IDENTITY_API_KEY": "AIzaSyExample"},  # nothing to sign in to
        {k: v for k, v in SIGN_IN.items() if k != "CONSOLE_IDENTITY_API_KEY"},  # paste a token
    ],
)
def test_without_password_sign_in_the_page_reaches_its_own_origin_only(
    web: Client, settings: dict[str, str]
) -> None:
    with settings_env(**settings):
        response = _get(web, "/console", gzip_ok=False)
    data = _body_data(response.get_data(as_text=True))
    assert data["auth-mode"] == settings["AUTH_MODE"]
    assert data["identity-api-key"] == data["identity-url"] == ""
    assert _connect_src(response) == []


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("CONSOLE_IDENTITY_URL", "http://identity.example.com", "https URL, or http to a loop"),
        ("CONSOLE_IDENTITY_URL", "https://identity.example.com/v1", "without a path"),
        ("CONSOLE_SECURE_TOKEN_URL", "https://a.example.com?x=1", "without a path"),
        ("CONSOLE_IDENTITY_API_KEY", 'AIza"><script>', "letters, digits"),
    ],
)
def test_console_settings_that_would_loosen_the_page_are_refused(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, message: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError, match=message):
        ConsoleSettings()
