"""Who may call: the AUTH_* settings, read from the same environment as shared.settings.

A class of its own (nested in shared.settings.Settings as `auth`) so the database and webhook
settings stay readable; every check here runs when the settings are first read, so a
misconfigured instance stops at start-up rather than refusing its first request.
"""

from __future__ import annotations

import ipaddress
from typing import Any, ClassVar, Literal, get_args
from urllib.parse import urlsplit

from pydantic import Field, ValidationInfo, field_validator, model_validator

from shared.environment import EnvironmentSettings

ServiceRole = Literal["scheduler", "admin"]

# Google signs service accounts' OIDC / ID tokens (Cloud Scheduler's, a backend's).
GOOGLE_ISSUER = "https://accounts.google.com"
GOOGLE_JWKS_URL = "https://www.googleapis.com/oauth2/v3/certs"


def check_jwks_url(url: str, name: str) -> str:
    """`url` if keys may be fetched from it: https, or plain http to a loopback address only
    (a test's or a laptop's issuer), since anyone on the path could swap keys sent in clear."""
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return url
    if parts.scheme == "http" and parts.hostname:
        try:
            loopback = ipaddress.ip_address(parts.hostname).is_loopback
        except ValueError:
            loopback = False
        if loopback:
            return url
    raise ValueError(
        f"{name} must be an https URL, or http to a loopback address such as 127.0.0.1"
    )


def _comma_separated(value: Any) -> Any:
    if isinstance(value, str):
        return tuple(item.strip() for item in value.split(",") if item.strip())
    return value


class AuthSettings(EnvironmentSettings):
    env_prefix: ClassVar[str] = "AUTH_"

    # off: every call is let in (the local default; `make run` says so). jwt: every call must
    # carry a token that verifies, and the three settings below say against what.
    mode: Literal["off", "jwt"] = "off"
    # End users' tokens (Firebase / Identity Platform: https://securetoken.google.com/<project>,
    # audience <project>), their role in the custom claims fleet_role, driver_id and teams.
    issuer: str | None = None
    audience: str | None = None
    jwks_url: str | None = None

    # Service accounts by verified email: `email=role,email=role`, role scheduler or admin.
    service_accounts: dict[str, ServiceRole] = Field(default_factory=dict)
    google_issuer: str = GOOGLE_ISSUER
    google_jwks_url: str = GOOGLE_JWKS_URL
    # What a service account's token must be addressed to: the function's URL, as Cloud
    # Scheduler's --oidc-token-audience is (pitfalls #21); comma-separated, since a gen2
    # function answers at its cloudfunctions.net and its run.app URL alike.
    google_audience: tuple[str, ...] = ()

    @property
    def summary(self) -> str:
        """One line for the log of a starting server: whether callers are checked, and how."""
        if self.mode == "off":
            return "auth is off (AUTH_MODE=off): every caller is let in as an admin"
        accounts = (
            f", {len(self.service_accounts)} service accounts" if self.service_accounts else ""
        )
        return f"auth: bearer tokens from {self.issuer} for {self.audience}{accounts}"

    @field_validator("service_accounts", mode="before")
    @classmethod
    def _parse_service_accounts(cls, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        roles: dict[str, str] = {}
        for item in _comma_separated(value):
            email, equals, role = (part.strip() for part in item.partition("="))
            if not equals or "@" not in email or role not in get_args(ServiceRole):
                raise ValueError(
                    "AUTH_SERVICE_ACCOUNTS is `email=role,...` with role scheduler or admin;"
                    f" {item!r} is not"
                )
            if email.lower() in roles:
                raise ValueError(f"AUTH_SERVICE_ACCOUNTS names {email} twice")
            # Google writes service accounts' emails in lower case.
            roles[email.lower()] = role
        return roles

    @field_validator("google_audience", mode="before")
    @classmethod
    def _split_audiences(cls, value: Any) -> Any:
        return _comma_separated(value)

    @field_validator("jwks_url", "google_jwks_url")
    @classmethod
    def _safe_jwks_url(cls, value: str | None, info: ValidationInfo) -> str | None:
        name = f"AUTH_{(info.field_name or '').upper()}"
        return None if value is None else check_jwks_url(value, name)

    @model_validator(mode="after")
    def _complete_for_jwt(self) -> AuthSettings:
        if self.mode != "jwt":
            return self
        missing = [
            f"AUTH_{name.upper()}"
            for name in ("issuer", "audience", "jwks_url")
            if not getattr(self, name)
        ]
        if missing:
            raise ValueError(f"AUTH_MODE=jwt needs {', '.join(missing)}")
        if self.service_accounts and not self.google_audience:
            raise ValueError(
                "AUTH_SERVICE_ACCOUNTS needs AUTH_GOOGLE_AUDIENCE: the function's URL, which"
                " its callers' OIDC tokens are addressed to"
            )
        if self.service_accounts and self.google_issuer == self.issuer:
            raise ValueError(
                "AUTH_ISSUER and AUTH_GOOGLE_ISSUER must differ: a token's issuer says whether"
                " its role comes from fleet_role claims or from AUTH_SERVICE_ACCOUNTS"
            )
        return self
