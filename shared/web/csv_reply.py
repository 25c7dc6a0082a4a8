"""CSV answers: RFC 4180 quoting, UTF-8, a header row, streamed in chunks.

Rows are written by the csv module, or, for the full driver export, by PostgreSQL in CSV
format (the same quoting; shared.fleet.targets.export formats its cells the way `cell` does).
Lines end in LF, so every CSV answer looks the same.

Text cells that begin with `=`, `+`, `-`, `@`, tab or carriage return get a leading `'`, so a
spreadsheet shows them instead of running them as formulas (driver ids and team names come
from clients). Numbers are ours and are written as they are, a negative one included.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import itertools
from collections.abc import Iterable, Iterator, Sequence
from decimal import Decimal
from typing import Any, TypeVar

import flask

Item = TypeVar("Item")

CSV_MIMETYPE = "text/csv"
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
# Rows per chunk handed to the server: few writes, small buffers.
ROWS_PER_CHUNK = 500


def wants_csv(request: flask.Request, format_: str | None) -> bool:
    """`format` decides when given; otherwise an Accept header that prefers text/csv."""
    if format_ is not None:
        return format_ == "csv"
    best = request.accept_mimetypes.best_match(["application/json", CSV_MIMETYPE])
    return best == CSV_MIMETYPE


def neutralise(text: str) -> str:
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


def cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return neutralise(value)
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, Decimal | int | float):
        return value
    return neutralise(str(value))


def render(fields: Sequence[str], rows: Iterable[dict[str, Any]]) -> Iterator[str]:
    """The header, then the rows, as text chunks of up to ROWS_PER_CHUNK rows."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(fields)
    for count, row in enumerate(rows, start=1):
        writer.writerow([cell(row.get(field)) for field in fields])
        if count % ROWS_PER_CHUNK == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    tail = buffer.getvalue()
    if tail:
        yield tail


def primed(items: Iterable[Item]) -> Iterator[Item]:
    """Runs the first fetch now, inside the handler, so a database failure still answers with
    the error shape instead of a broken 200 stream."""
    iterator = iter(items)
    for first in iterator:
        return itertools.chain([first], iterator)
    return iterator


def csv_response(
    fields: Sequence[str], rows: Iterable[dict[str, Any]], *, filename: str
) -> flask.Response:
    """A text/csv response of rows written here."""
    return _streamed((chunk.encode("utf-8") for chunk in render(fields, rows)), filename)


def csv_lines_response(
    fields: Sequence[str], lines: Iterable[bytes], *, filename: str
) -> flask.Response:
    """A text/csv response of CSV lines already written (by the export's SQL): the header, then
    `lines`, which may be a generator holding a database connection."""
    header = next(render(fields, [])).encode("utf-8")
    return _streamed(itertools.chain([header], lines), filename)


def _streamed(body: Iterable[bytes], filename: str) -> flask.Response:
    response = flask.Response(body, mimetype=CSV_MIMETYPE)
    response.headers["Content-Type"] = f"{CSV_MIMETYPE}; charset=utf-8"
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
