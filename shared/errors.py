"""Every failure the service reports, each with its HTTP status and a stable code.

    FleetError
    ├── InvalidInput          400  (bad JSON, validation, unknown query values)
    │   └── UnsafeUrl         400  (a webhook URL the service will not send to)
    ├── Unauthenticated       401  (no token, or one that does not verify; shared.auth)
    ├── Forbidden             403  (a verified identity asking for what its role may not do)
    ├── NotFound              404
    ├── MethodNotAllowed      405
    ├── Conflict              409  (negative total, event_id reuse, closed day, ...)
    ├── PayloadTooLarge       413
    ├── UnsupportedMediaType  415
    └── DatabaseUnavailable   503

Operations raise these; only shared.web.endpoint turns them into responses.

    MigrationError                 (start-up: the database's migrations do not match the code)
"""

from __future__ import annotations

from typing import Any, ClassVar


class FleetError(Exception):
    status: ClassVar[int] = 500
    default_code: ClassVar[str] = "internal"

    def __init__(self, message: str, *, code: str | None = None, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code
        self.field = field

    def to_json(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, "field": self.field}}


class InvalidInput(FleetError):
    """The request is malformed or a value is out of range."""

    status = 400
    default_code = "invalid_input"


class UnsafeUrl(InvalidInput):
    """The URL is not one the service will send to."""

    default_code = "unsafe_url"


class Unauthenticated(FleetError):
    """No bearer token, or one whose signature, issuer, audience, expiry or role claims fail.

    The message says which check failed and never repeats the token. Its HTTP answer must
    carry `WWW-Authenticate: Bearer` (RFC 6750), so that a client knows to fetch a token."""

    status = 401
    default_code = "unauthenticated"


class Forbidden(FleetError):
    """The caller is known, but their role does not allow this; the message names the rule."""

    status = 403
    default_code = "forbidden"


class NotFound(FleetError):
    """The driver (or other resource) does not exist."""

    status = 404
    default_code = "not_found"


class MethodNotAllowed(FleetError):
    """The function does not answer this HTTP method."""

    status = 405
    default_code = "method_not_allowed"


class Conflict(FleetError):
    """The request is well formed but contradicts the stored state."""

    status = 409
    default_code = "conflict"


class PayloadTooLarge(FleetError):
    """The body is over MAX_BODY_BYTES or a batch is over its size limit."""

    status = 413
    default_code = "payload_too_large"


class UnsupportedMediaType(FleetError):
    """The body is not JSON."""

    status = 415
    default_code = "unsupported_media_type"


class DatabaseUnavailable(FleetError):
    """PostgreSQL cannot be reached or refused the connection; the caller may retry."""

    status = 503
    default_code = "database_unavailable"


class MigrationError(RuntimeError):
    """The database's recorded migrations do not match the files shipped with this code.

    Not a FleetError: it stops an instance from starting, it is not an answer to a request."""
