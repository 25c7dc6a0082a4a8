"""The one wrapper every function uses: method, caller, body limits, parsing, errors, logs.

The caller is identified before the handler runs (shared.auth.access: with AUTH_MODE=jwt its
bearer token is verified, with off it is the implicit admin) and refused unless its role is one
of the function's `roles` (shared.registry); the handler reads it with current_identity() or
shared.auth.scope.current_scope().

A handler receives the request and returns a JSON-ready value (or a (value, status) pair);
FleetErrors become the error shape; anything else becomes a 500 with no detail for the client
and the stack trace in the log.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import logging
import re
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import flask

from shared import logs, registry
from shared.auth import access
from shared.errors import (
    FleetError,
    MethodNotAllowed,
    Unauthenticated,
)
from shared.settings import get_settings

log = logging.getLogger(__name__)
Reply = Any
Handler = Callable[[flask.Request], Reply]


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        # NUMERIC(12, 2) has at most 12 significant digits: a float prints it back exactly.
        return float(value)
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def json_response(payload: Any, status: int = 200) -> flask.Response:
    body = json.dumps(payload, default=_json_default, separators=(",", ":"))
    return flask.Response(body, status=status, mimetype="application/json")


_TRACE_ID = re.compile(r"[0-9a-fA-F]{1,32}")


def _trace_id(request: flask.Request) -> str:
    """The trace id of X-Cloud-Trace-Context (`TRACE_ID/SPAN_ID;o=1`), or "" if it is not one:
    the header comes from the client, so nothing else reaches the log entry's trace."""
    trace = request.headers.get("X-Cloud-Trace-Context", "").split("/")[0]
    return trace if _TRACE_ID.fullmatch(trace) else ""


def endpoint(handler: Handler) -> Callable[[flask.Request], flask.Response]:
    """Wraps the handler of the registered function of the same name (shared.registry): refuses
    the methods it does not list (405), maps errors, logs one line per request."""
    entry = registry.function(handler.__name__)
    allowed = ", ".join(entry.methods)
    logs.configure()

    @functools.wraps(handler)
    def wrapper(request: flask.Request) -> flask.Response:
        started = time.perf_counter()
        trace = _trace_id(request)
        token = logs.request_context.set({"function": handler.__name__, "trace": trace})
        try:
            response, failure = _respond(handler, request, entry)
            if response.status_code == 405:
                response.headers["Allow"] = allowed
            elif isinstance(failure, Unauthenticated):
                response.headers["WWW-Authenticate"] = _challenge(request, failure)
            # The one line per request; for a failure it also says why (the code, and for a
            # 5xx the driver's exception class: never its text, which may name the server).
            details: dict[str, Any] = {
                "status": response.status_code,
                "latency_ms": round((time.perf_counter() - started) * 1000, 2),
            }
            if failure is not None:
                details["error_code"] = failure.code
                if failure.status >= 500 and failure.__cause__ is not None:
                    cause = failure.__cause__
                    details["cause"] = type(getattr(cause, "orig", None) or cause).__name__
            log.log(
                logging.WARNING if response.status_code >= 500 else logging.INFO,
                "%s %s -> %d",
                request.method,
                request.script_root + request.path,
                response.status_code,
                extra=details,
            )
            return response
        finally:
            logs.request_context.reset(token)

    return wrapper


def _challenge(request: flask.Request, failure: Unauthenticated) -> str:
    """RFC 6750's challenge: with no token at all, only the scheme and realm (section 3.1);
    with a refused one, error="invalid_token" and why (a quoted string: no quotes in it)."""
    challenge = 'Bearer realm="fleet-targets"'
    if request.headers.get("Authorization") or request.headers.get("X-Forwarded-Authorization"):
        description = failure.message.replace("\\", "").replace('"', "'")
        challenge += f', error="invalid_token", error_description="{description}"'
    return challenge


def _respond(
    handler: Handler, request: flask.Request, entry: registry.Function
) -> tuple[flask.Response, FleetError | None]:
    caller = None
    try:
        if request.method not in entry.methods:
            raise MethodNotAllowed(
                f"{request.method} is not allowed here; use {' or '.join(entry.methods)}"
            )
        # A function open to all (roles None) has no caller: current_identity() fails there.
        if entry.roles is not None:
            identity = access.identify(get_settings().auth, request.headers)
            access.allow(identity, entry.name, entry.roles)
            caller = access.enter(identity)
        result = handler(request)
    except FleetError as exc:
        return json_response(exc.to_json(), exc.status), exc
    except Exception:
        log.exception("unhandled error")
        return json_response(
            {"error": {"code": "internal", "message": "internal error", "field": None}}, 500
        ), None
    finally:
        if caller is not None:
            access.leave(caller)
    if isinstance(result, flask.Response):
        return result, None
    if isinstance(result, tuple):
        payload, status = result
        return json_response(payload, status), None
    return json_response(result), None
