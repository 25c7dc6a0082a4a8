"""The console's page as this instance serves it: how the page signs users in, written into
data attributes of its <body> (the CSP allows no inline script, so the modules read them
there), and the Content-Security-Policy that lets it reach Identity Platform and nothing else.

With AUTH_MODE=off nothing is asked of the user. With AUTH_MODE=jwt and CONSOLE_IDENTITY_API_KEY
the page signs in with email and password through Identity Platform's REST API; without the key
it asks for an ID token to be pasted (a laptop against a test issuer).
"""

from __future__ import annotations

import functools
import hashlib
import html
from dataclasses import dataclass

from shared.console.assets import PAGE, File, console, make_file
from shared.settings import Settings

# Scripts, styles and everything else from this origin only; no inline code, no framing, no
# plugins, no <base> to redirect relative URLs, no form posting elsewhere.
BASE_CSP = (
    "default-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'; "
    "object-src 'none'"
)


@dataclass(frozen=True)
class SignIn:
    auth_mode: str
    # All three set, or none: the page's password sign-in.
    api_key: str | None = None
    identity_url: str | None = None
    secure_token_url: str | None = None

    @property
    def origins(self) -> tuple[str, ...]:
        """What the page may fetch besides its own origin: Identity Platform's two, once each."""
        found = (self.identity_url, self.secure_token_url)
        return tuple(dict.fromkeys(origin for origin in found if origin))

    @property
    def csp(self) -> str:
        if not self.origins:
            return BASE_CSP
        # connect-src replaces default-src for fetch, so it names 'self' again.
        return f"{BASE_CSP}; connect-src 'self' {' '.join(self.origins)}"


def sign_in(settings: Settings) -> SignIn:
    key = settings.console.identity_api_key
    if settings.auth.mode != "jwt" or key is None:
        return SignIn(settings.auth.mode)
    return SignIn(
        settings.auth.mode,
        api_key=key,
        identity_url=settings.console.identity_url,
        secure_token_url=settings.console.secure_token_url,
    )


@functools.lru_cache(maxsize=8)
def page(signin: SignIn) -> tuple[File, str]:
    """The page with `signin` written in, and its ETag: the console's version and the sign-in's
    own hash, so a changed setting is seen at once as a changed file is."""
    files = console()
    values = {
        "__AUTH_MODE__": signin.auth_mode,
        "__IDENTITY_API_KEY__": signin.api_key or "",
        "__IDENTITY_URL__": signin.identity_url or "",
        "__SECURE_TOKEN_URL__": signin.secure_token_url or "",
    }
    body = files.page.body.decode()
    for placeholder, value in values.items():
        body = body.replace(placeholder, html.escape(value, quote=True))
    digest = hashlib.sha256("\0".join(values.values()).encode()).hexdigest()[:8]
    return make_file(PAGE, body.encode()), f"{files.version}-{digest}"
