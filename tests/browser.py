"""A real browser for the console's tests: Debian's headless Chromium through its own
chromedriver (nothing downloaded), and the functions served over real HTTP from a thread.

The browser packages are not Python packages: without them the tests fail, naming what to
install, rather than skip (CI installs them in .ci/run).
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import pytest
from selenium.common.exceptions import StaleElementReferenceException
from werkzeug.serving import make_server

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
# Without the background-networking flags Chromium keeps calling home, and on a closed network
# those refused connections slow it down or stop it.
FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
)
T = TypeVar("T")


def chromium(profile: Path, downloads: Path, size: tuple[int, int] = (1280, 900)) -> Any:
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]
    if missing:
        pytest.fail(
            f"{', '.join(missing)} missing: install the Debian packages chromium and "
            "chromium-driver (apt-get install chromium chromium-driver)",
            pytrace=False,
        )
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    options.add_argument(f"--window-size={size[0]},{size[1]}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    browser = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    browser.execute_cdp_cmd(
        "Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)}
    )
    return browser


class TokenGate:
    """WSGI middleware standing in for the sign-in the service does not check yet (issue 13):
    with `required` set, a call without `Authorization: Bearer <required>` is a 401 in the
    error shape. It records the Authorization header of every call."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.required: str | None = None
        self.seen: list[str | None] = []

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        given = environ.get("HTTP_AUTHORIZATION")
        self.seen.append(given)
        if self.required is None or given == f"Bearer {self.required}":
            return self.app(environ, start_response)
        error = {"code": "unauthenticated", "message": "sign in first", "field": None}
        start_response(
            "401 Unauthorized",
            [("Content-Type", "application/json"), ("WWW-Authenticate", "Bearer")],
        )
        return [json.dumps({"error": error}).encode()]


@contextmanager
def served(app: Any) -> Iterator[str]:
    """`app` on a free loopback port, one thread per request, until the block ends."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)


class Api:
    """JSON calls to the served functions over HTTP, as the page makes them."""

    def __init__(self, base: str) -> None:
        self.base = base

    def raw(self, method: str, path: str, body: bytes | None, content_type: str) -> bytes:
        request = urllib.request.Request(
            self.base + path, data=body, method=method, headers={"Content-Type": content_type}
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            data: bytes = response.read()
            return data

    def get(self, path: str) -> Any:
        return json.loads(self.raw("GET", path, None, "application/json"))

    def post(self, path: str, body: Any) -> Any:
        return json.loads(self.raw("POST", path, json.dumps(body).encode(), "application/json"))

    def error_message(self, path: str) -> str:
        """The message of the error a GET answers."""
        try:
            self.raw("GET", path, None, "application/json")
        except urllib.error.HTTPError as exc:
            message: str = json.loads(exc.read())["error"]["message"]
            return message
        raise AssertionError(f"{path} did not fail")

    def status(self, path: str) -> int:
        try:
            self.raw("GET", path, None, "application/json")
        except urllib.error.HTTPError as exc:
            return exc.code
        return 200


def eventually(read: Callable[[], T], expected: Any, timeout: float = 10.0) -> T:
    """`read()` once it equals `expected` (the page loads asynchronously); its last value in
    the assertion otherwise."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = read()
        except StaleElementReferenceException:
            # The page redrew what `read` was reading (a refresh, a re-render): read it again.
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
            continue
        if value == expected or time.monotonic() > deadline:
            assert value == expected
            return value
        time.sleep(0.1)


INK_SCRIPT = """
const canvas = arguments[0];
const pixels = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
let ink = 0;
for (let i = 0; i < pixels.length; i += 4) {
  const opaque = pixels[i + 3] > 0;
  const white = pixels[i] > 250 && pixels[i + 1] > 250 && pixels[i + 2] > 250;
  if (opaque && !white) ink += 1;
}
return ink;
"""


def canvas_ink(browser: Any, canvas: Any) -> int:
    """How many of a canvas's pixels are drawn (neither transparent nor white)."""
    ink: int = browser.execute_script(INK_SCRIPT, canvas)
    return ink


def javascript_errors(browser: Any, allowed: tuple[str, ...]) -> list[dict[str, Any]]:
    """The page's SEVERE console entries, but for failed loads whose message holds one of
    `allowed` (the refusals a test asked for, which Chromium logs as failed loads)."""
    return [
        entry
        for entry in browser.get_log("browser")
        if entry["level"] == "SEVERE"
        and not (entry["source"] == "network" and any(a in entry["message"] for a in allowed))
    ]
