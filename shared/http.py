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
from typing import Any, TypeVar

import flask
from pydantic import BaseModel, ValidationError

from shared import logs
from shared.errors import (
    FleetError,
    InvalidInput,
    MethodNotAllowed,
    PayloadTooLarge,
    UnsupportedMediaType,
)
from shared.settings import get_settings

log = logging.getLogger(__name__)

Model = TypeVar("Model", bound=BaseModel)
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


def _field_of(location: tuple[int | str, ...]) -> str | None:
    field = ""
    for part in location:
        field += f"[{part}]" if isinstance(part, int) else (f".{part}" if field else str(part))
    return field or None


def validation_error(exc: ValidationError, *, prefix: tuple[int | str, ...] = ()) -> InvalidInput:
    first = exc.errors(include_url=False)[0]
    location = prefix + tuple(first["loc"])
    field = _field_of(location)
    message = first["msg"]
    if first["type"] == "extra_forbidden":
        message = "unknown field"
    return InvalidInput(f"{field}: {message}" if field else message, field=field)


def _field_with_nul(document: Any, prefix: tuple[int | str, ...]) -> str | None:
    """The path of the first string (key or value) holding NUL, which PostgreSQL text cannot
    store; "" for the document itself, None when there is none. Iterative: bodies nest deep."""
    pending: list[tuple[tuple[int | str, ...], Any]] = [(prefix, document)]
    while pending:
        location, value = pending.pop()
        if isinstance(value, str) and "\x00" in value:
            return _field_of(location) or ""
        if isinstance(value, dict):
            for key, item in value.items():
                if "\x00" in key:
                    return _field_of(location) or ""
                pending.append(((*location, key), item))
        elif isinstance(value, list):
            pending.extend(((*location, index), item) for index, item in enumerate(value))
    return None


def _refuse_nul(document: Any, prefix: tuple[int | str, ...]) -> None:
    field = _field_with_nul(document, prefix)
    if field is not None:
        raise InvalidInput(
            f"{field or 'the body'}: text cannot contain NUL (\\u0000)", field=field or None
        )


def read_json(request: flask.Request, *, allow_empty: bool = False) -> Any:
    """The body as JSON (decimals kept exact) within MAX_BODY_BYTES; None if empty and allowed."""
    limit = get_settings().max_body_bytes
    if request.content_length is not None and request.content_length > limit:
        raise PayloadTooLarge(f"the body is over {limit} bytes")
    body = request.stream.read(limit + 1)
    if len(body) > limit:
        raise PayloadTooLarge(f"the body is over {limit} bytes")
    if not body.strip():
        if allow_empty:
            return None
        raise InvalidInput("the body is empty; send a JSON document", code="empty_body")
    if request.mimetype != "application/json":
        raise UnsupportedMediaType(
            f"Content-Type is {request.mimetype or 'missing'}; send application/json"
        )
    try:
        return json.loads(body, parse_float=Decimal)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise InvalidInput("the body is not valid JSON", code="malformed_json") from exc


def parse(model: type[Model], data: Any, *, prefix: tuple[int | str, ...] = ()) -> Model:
    _refuse_nul(data, prefix)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise validation_error(exc, prefix=prefix) from exc


def parse_query(request: flask.Request, model: type[Model]) -> Model:
    values: dict[str, str] = {}
    for name, given in request.args.lists():
        if len(given) > 1:
            raise InvalidInput(f"{name} is given more than once", field=name)
        values[name] = given[0]
    return parse(model, values)


_TRACE_ID = re.compile(r"[0-9a-fA-F]{1,32}")


def _trace_id(request: flask.Request) -> str:
    """The trace id of X-Cloud-Trace-Context (`TRACE_ID/SPAN_ID;o=1`), or "" if it is not one:
    the header comes from the client, so nothing else reaches the log entry's trace."""
    trace = request.headers.get("X-Cloud-Trace-Context", "").split("/")[0]
    return trace if _TRACE_ID.fullmatch(trace) else ""


def endpoint(*methods: str) -> Callable[[Handler], Callable[[flask.Request], flask.Response]]:
    """Wraps a handler: refuses other methods (405), maps errors, logs one line per request."""
    allowed = ", ".join(methods)
    logs.configure()

    def decorate(handler: Handler) -> Callable[[flask.Request], flask.Response]:
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

    return decorate


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
