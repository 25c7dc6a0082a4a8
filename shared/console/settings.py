"""The console's sign-in: the CONSOLE_* settings, read from the same environment as
shared.settings (nested there as `console`).

The page signs dispatchers in with Identity Platform's REST API straight from the browser: it
needs the project's Web API key and the two Google origins it posts to. The key is no secret in
Firebase's model (it names the project to the sign-in API and ships in every web app's page);
what protects the data is the ID token every function verifies. The origins are settings so the
tests can point them at a fake on 127.0.0.1; they go into the page's Content-Security-Policy
(`connect-src`), so each must be a bare origin.
"""

from __future__ import annotations

import re
from typing import ClassVar
from urllib.parse import urlsplit

from pydantic import ValidationInfo, field_validator

from shared.auth.settings import check_jwks_url
from shared.environment import EnvironmentSettings

IDENTITY_TOOLKIT_URL = "https://identitytoolkit.googleapis.com"
REFRESH_API_URL = "https://securetoken.googleapis.com"
# Google's API keys are letters, digits, '-' and '_' ("AIza..." and 35 more): nothing that
# needs escaping in a URL's query or an HTML attribute.
_API_KEY = re.compile(r"[A-Za-z0-9_-]{1,128}")


def _origin(url: str, name: str) -> str:
    """`url` as an origin (scheme://host[:port], no path): https, or http to a loopback
    address (a test's fake)."""
    check_jwks_url(url, name)
    parts = urlsplit(url)
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username:
        raise ValueError(f"{name} is an origin such as {IDENTITY_TOOLKIT_URL}, without a path")
    return f"{parts.scheme}://{parts.netloc}"


class ConsoleSettings(EnvironmentSettings):
    env_prefix: ClassVar[str] = "CONSOLE_"

    # Identity Platform's Web API key (the project's "Browser key"). Unset: the page has no
    # sign-in form; with AUTH_MODE=jwt it asks for an ID token to be pasted instead.
    identity_api_key: str | None = None
    # Where accounts:signInWithPassword and token (the refresh) are posted.
    identity_url: str = IDENTITY_TOOLKIT_URL
    secure_token_url: str = REFRESH_API_URL

    @field_validator("identity_api_key")
    @classmethod
    def _plain_key(cls, value: str | None) -> str | None:
        if not value:
            return None  # an empty value (a blank deploy substitution) is unset
        if not _API_KEY.fullmatch(value):
            raise ValueError(
                "CONSOLE_IDENTITY_API_KEY is a Google API key: letters, digits, '-' and '_'"
            )
        return value

    @field_validator("identity_url", "secure_token_url")
    @classmethod
    def _bare_origin(cls, value: str, info: ValidationInfo) -> str:
        name = f"CONSOLE_{(info.field_name or '').upper()}"
        return _origin(value, name)
