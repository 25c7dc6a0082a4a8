"""Who the request being served is from: identified once by shared.web.endpoint, read by the
function through current_identity().

With AUTH_MODE=off nothing is read from the request: every caller is OPEN, an admin with no
team restriction, and writes record no one. With AUTH_MODE=jwt the bearer token is verified
by the process's one Verifier, which keeps the issuers' keys between requests.
"""

from __future__ import annotations

import threading
from contextvars import ContextVar, Token
from typing import TYPE_CHECKING

from shared.auth.identity import Identity
from shared.auth.settings import AuthSettings
from shared.errors import Forbidden

if TYPE_CHECKING:
    from shared.auth.tokens import Headers, Verifier

# AUTH_MODE=off: the caller of every request (today's behaviour before identities existed).
OPEN = Identity(issuer="", subject="", role="admin", teams=None)

_current: ContextVar[Identity | None] = ContextVar("fleet_identity", default=None)

_verifier: tuple[AuthSettings, Verifier] | None = None
_verifier_lock = threading.Lock()


def _verifier_for(settings: AuthSettings) -> Verifier:
    """The Verifier of these settings, built once (the tests switch settings: a new Settings
    object gets a Verifier of its own)."""
    global _verifier
    held = _verifier
    if held is not None and held[0] is settings:
        return held[1]
    # The JWT library is loaded only once a token is to be checked: AUTH_MODE=off never does.
    from shared.auth.tokens import Verifier

    with _verifier_lock:
        if _verifier is None or _verifier[0] is not settings:
            _verifier = (settings, Verifier(settings))
        return _verifier[1]


def identify(settings: AuthSettings, headers: Headers) -> Identity:
    """The caller: OPEN with AUTH_MODE=off, else the verified token's identity (or
    Unauthenticated)."""
    if settings.mode == "off":
        return OPEN
    return _verifier_for(settings).identify(headers)


def allow(identity: Identity, function: str, roles: tuple[str, ...]) -> None:
    """Forbidden, naming the rule, unless the identity's role may call `function` at all
    (shared.registry)."""
    if identity.role not in roles:
        raise Forbidden(f"a {identity.role} may not call {function}: it is for {_plural(roles)}")


def _plural(roles: tuple[str, ...]) -> str:
    names = [f"{role}s" for role in roles]
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def enter(identity: Identity) -> Token[Identity | None]:
    """`identity` is the caller until leave(token): the one request the wrapper serves."""
    return _current.set(identity)


def leave(token: Token[Identity | None]) -> None:
    _current.reset(token)


def current_identity() -> Identity:
    """The caller of the request being served. Outside a request served by @endpoint there is
    none, and that is a bug, not an anonymous admin."""
    identity = _current.get()
    if identity is None:
        raise RuntimeError("no caller: current_identity() outside a request served by @endpoint")
    return identity
