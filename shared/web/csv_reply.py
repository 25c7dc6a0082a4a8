"""CSV answers: RFC 4180, UTF-8, a header row, LF line ends, streamed.

Every cell is written by PostgreSQL with the one set of rules in migrations/repeatable/csv.sql
(shared.web.csv_sql builds the SQL from the reply model): text from clients neutralised against
spreadsheet formulas and quoted when it needs to be, booleans as true/false, times in UTC ISO
8601 with six fraction digits, numbers as the database writes them, null as an empty cell. A
short reply's rows (one driver, a history, a board) are sent back to the database to be written
(one round trip on the CSV path only); the full driver export writes its lines in its own
statements (shared.fleet.targets.export).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, TypeVar

import flask
from pydantic import BaseModel
from sqlalchemy.engine import Engine

from shared.web import csv_sql
from shared.web.replies import field_names

Item = TypeVar("Item")

CSV_MIMETYPE = "text/csv"
# The text prefixes csv_text (migrations/repeatable/csv.sql) guards with a `'`: what
# shared.fleet.targets.csv_input undoes when an export comes back as set_targets' body.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def wants_csv(request: flask.Request, format_: str | None) -> bool:
    """`format` decides when given; otherwise an Accept header that prefers text/csv."""
    if format_ is not None:
        return format_ == "csv"
    best = request.accept_mimetypes.best_match(["application/json", CSV_MIMETYPE])
    return best == CSV_MIMETYPE


def primed(items: Iterable[Item]) -> Iterator[Item]:
    """Runs the first fetch now, inside the handler, so a database failure still answers with
    the error shape instead of a broken 200 stream."""
    iterator = iter(items)
    for first in iterator:
        return itertools.chain([first], iterator)
    return iterator


def csv_response(
    engine: Engine,
    model: type[BaseModel],
    rows: Sequence[dict[str, Any]],
    *,
    filename: str,
    fields: Sequence[str] | None = None,
) -> flask.Response:
    """A text/csv response of a short reply's rows of `model` (its `fields`, by default all of
    them), written by the database before the response starts."""
    columns = field_names(model) if fields is None else fields
    body = csv_sql.format_rows(engine, model, columns, rows)
    return _streamed([csv_sql.header(columns), body], filename)


def csv_lines_response(
    fields: Sequence[str], lines: Iterable[bytes], *, filename: str
) -> flask.Response:
    """A text/csv response of CSV lines already written (by the export's SQL): the header, then
    `lines`, which may be a generator holding a database connection."""
    return _streamed(itertools.chain([csv_sql.header(fields)], lines), filename)


def _streamed(body: Iterable[bytes], filename: str) -> flask.Response:
    response = flask.Response(body, mimetype=CSV_MIMETYPE)
    response.headers["Content-Type"] = f"{CSV_MIMETYPE}; charset=utf-8"
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
