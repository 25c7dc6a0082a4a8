"""Request bodies and query strings: JSON within its limit, parsed into a model, errors that
name the field."""

from __future__ import annotations

import json
import logging
from decimal import Decimal
from typing import Any, TypeVar

import flask
from pydantic import BaseModel, ValidationError

from shared.errors import (
    InvalidInput,
    PayloadTooLarge,
    UnsupportedMediaType,
)
from shared.settings import get_settings

log = logging.getLogger(__name__)

Model = TypeVar("Model", bound=BaseModel)


def _field_of(location: tuple[int | str, ...]) -> str | None:
    field = ""
    for part in location:
        field += f"[{part}]" if isinstance(part, int) else (f".{part}" if field else str(part))
    return field or None


def validation_error(exc: ValidationError) -> InvalidInput:
    first = exc.errors(include_url=False)[0]
    location = tuple(first["loc"])
    field = _field_of(location)
    message = first["msg"]
    if first["type"] == "extra_forbidden":
        message = "unknown field"
    return InvalidInput(f"{field}: {message}" if field else message, field=field)


def _field_with_nul(document: Any) -> str | None:
    """The path of the first string (key or value) holding NUL, which PostgreSQL text cannot
    store; "" for the document itself, None when there is none. Iterative: bodies nest deep."""
    pending: list[tuple[tuple[int | str, ...], Any]] = [((), document)]
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


def _refuse_nul(document: Any) -> None:
    field = _field_with_nul(document)
    if field is not None:
        raise InvalidInput(
            f"{field or 'the body'}: text cannot contain NUL (\\u0000)", field=field or None
        )


class _RepeatedKeys:
    """json's object_pairs_hook: builds each object as json would, and keeps the first one in
    which a key is repeated. The hook runs before the object has a place in the document, so its
    path is found afterwards (`_path_of`), and only when there is one."""

    def __init__(self) -> None:
        self.found: tuple[dict[str, Any], str] | None = None

    def __call__(self, pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        built = dict(pairs)
        if len(built) < len(pairs) and self.found is None:
            seen: set[str] = set()
            for key, _ in pairs:
                if key in seen:
                    self.found = (built, key)
                    break
                seen.add(key)
        return built


def _path_of(document: Any, target: dict[str, Any]) -> tuple[int | str, ...]:
    """Where `target` (by identity) sits in `document`. Iterative: bodies nest deep."""
    pending: list[tuple[tuple[int | str, ...], Any]] = [((), document)]
    while pending:
        location, value = pending.pop()
        if value is target:
            return location
        if isinstance(value, dict):
            pending.extend(((*location, key), item) for key, item in value.items())
        elif isinstance(value, list):
            pending.extend(((*location, index), item) for index, item in enumerate(value))
    raise AssertionError("the object is in the document it was parsed from")


def _decode(body: bytes, array_key: str | None) -> Any:
    repeated = _RepeatedKeys()
    try:
        document = json.loads(body, parse_float=Decimal, object_pairs_hook=repeated)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise InvalidInput("the body is not valid JSON", code="malformed_json") from exc
    if repeated.found is not None:
        # JSON keeps the last of repeated keys; refused, so that what was meant is never guessed.
        target, key = repeated.found
        field = _field_of((*_path_of(document, target), key))
        raise InvalidInput(
            f"{field}: the key is given more than once", code="duplicate_key", field=field
        )
    if array_key is not None and isinstance(document, list):
        document = {array_key: document}
    # JSON text cannot hold a raw NUL (the decoder refuses control characters in strings), only
    # its escape: a body without one needs no walk through its 10,000 items.
    if b"\\u0000" in body:
        _refuse_nul(document)
    return document


def refuse_query(request: flask.Request) -> None:
    """400 naming the first query parameter of a POST: its input is the body alone, and a
    parameter passed over in silence (?date= on snapshot_daily, ?dry_run= on update_progress)
    would do something other than what the caller asked for."""
    name = next(iter(request.args), None)
    if name is not None:
        raise InvalidInput(
            f"{name or 'the query string'}: unknown query parameter; {request.method} takes "
            "its input in the body",
            field=name or None,
        )


def _read_body(request: flask.Request, limit: int) -> bytes:
    """Up to `limit` + 1 bytes of the body, all of them: a body that ends before its
    Content-Length, or whose chunked framing is broken, is refused before anything parses it."""
    try:
        body: bytes = request.stream.read(limit + 1)
    except Exception as exc:
        # The server's reader raises classes of its own: gunicorn's InvalidChunkSize and
        # ChunkMissingTerminator for bad chunked framing, NoMoreData (an OSError) for a chunked
        # body cut short, OSError for a connection that fails mid-body. Each means the body is
        # not the one the client meant to send, and none is the service's fault.
        raise InvalidInput(
            "the body could not be read: its chunked framing is broken or it ended early",
            code="malformed_body",
        ) from exc
    # gunicorn's reader returns what arrived before the client closed, with no error.
    expected = request.content_length
    if expected is not None and len(body) < expected:
        raise InvalidInput(
            f"the body ended after {len(body)} of its {expected} bytes (Content-Length)",
            code="malformed_body",
        )
    return body


def read_json(
    request: flask.Request, *, allow_empty: bool = False, array_key: str | None = None
) -> Any:
    """The body of a POST as JSON (decimals kept exact, no key repeated in an object, no NUL in
    any text) within MAX_BODY_BYTES, with no query parameters; None if empty and allowed. With
    `array_key`, a bare JSON array is read as {array_key: [...]}, so errors name its items so."""
    refuse_query(request)
    limit = get_settings().max_body_bytes
    if request.content_length is not None and request.content_length > limit:
        raise PayloadTooLarge(f"the body is over {limit} bytes")
    body = _read_body(request, limit)
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
    return _decode(body, array_key)


def refuse_large_batch(body: dict[str, Any], field: str, *, limit: int, noun: str) -> None:
    """413 for a batch over its limit, counted before any item is validated."""
    items = body.get(field)
    if isinstance(items, list) and len(items) > limit:
        raise PayloadTooLarge(
            f"{len(items)} {noun} in one call; at most {limit}", code="batch_too_large", field=field
        )


def parse(model: type[Model], data: Any) -> Model:
    """`data` validated as `model`: a document read_json decoded (which refused NUL in it) or
    the values of a query string (parse_query)."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise validation_error(exc) from exc


def parse_query(request: flask.Request, model: type[Model]) -> Model:
    values: dict[str, str] = {}
    for name, given in request.args.lists():
        if len(given) > 1:
            raise InvalidInput(f"{name} is given more than once", field=name)
        values[name] = given[0]
    _refuse_nul(values)
    return parse(model, values)
