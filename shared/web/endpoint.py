"""The one wrapper every function uses: method, body limits, parsing, errors, logs.

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
from shared.errors import (
    FleetError,
    MethodNotAllowed,
)

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
    methods = registry.function(handler.__name__).methods
    allowed = ", ".join(methods)
    logs.configure()

    @functools.wraps(handler)
    def wrapper(request: flask.Request) -> flask.Response:
        started = time.perf_counter()
        trace = _trace_id(request)
        token = logs.request_context.set({"function": handler.__name__, "trace": trace})
        try:
            response, failure = _respond(handler, request, methods)
            if response.status_code == 405:
                response.headers["Allow"] = allowed
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


def _respond(
    handler: Handler, request: flask.Request, methods: tuple[str, ...]
) -> tuple[flask.Response, FleetError | None]:
    try:
        if request.method not in methods:
            raise MethodNotAllowed(
                f"{request.method} is not allowed here; use {' or '.join(methods)}"
            )
        result = handler(request)
    except FleetError as exc:
        return json_response(exc.to_json(), exc.status), exc
    except Exception:
        log.exception("unhandled error")
        return json_response(
            {"error": {"code": "internal", "message": "internal error", "field": None}}, 500
        ), None
    if isinstance(result, flask.Response):
        return result, None
    if isinstance(result, tuple):
        payload, status = result
        return json_response(payload, status), None
    return json_response(result), None
