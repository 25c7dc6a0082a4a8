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


def refuse_large_batch(body: dict[str, Any], field: str, *, limit: int, noun: str) -> None:
    """413 for a batch over its limit, counted before any item is validated."""
    items = body.get(field)
    if isinstance(items, list) and len(items) > limit:
        raise PayloadTooLarge(
            f"{len(items)} {noun} in one call; at most {limit}", code="batch_too_large", field=field
        )


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
