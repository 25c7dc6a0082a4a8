"""CSV lines written by PostgreSQL, from a reply model: the one way every CSV cell is written.

The cell rules are SQL functions (migrations/repeatable/csv.sql: csv_text, csv_bool, csv_time,
csv_date; numbers are their own text). `line_expression` picks one per field by the field's type
and joins the cells with commas; the full driver export (shared.fleet.targets.export) puts it
over its row columns, and `format_rows` puts it over rows a reply already has (one driver, a
history, a board), handed to the database as one JSON parameter. Either way a cell looks the
same, and the same as the JSON reply's value.

The generated SQL holds only field names of the reply models (identifiers, checked below) and
the fixed fragments here, never request text: every value reaches the database as a bound
parameter.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import re
import types
import typing
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel
from sqlalchemy.engine import Engine

from shared.db.transactions import single_statement

_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]*$")
# The ordinality column of format_rows' statement: not a field name of any reply.
_POSITION = "csv_position"


class _Kind(typing.NamedTuple):
    sql_type: str  # the column type a JSON value is read as
    cell: str  # the cell of column {} as SQL


# Checked in this order: bool is an int, datetime is a date.
_KINDS: tuple[tuple[type, _Kind], ...] = (
    (bool, _Kind("boolean", "csv_bool({})")),
    (str, _Kind("text", "csv_text({})")),
    (dt.datetime, _Kind("timestamptz", "csv_time({})")),
    (dt.date, _Kind("date", "csv_date({})")),
    (int, _Kind("bigint", "CAST({} AS text)")),
    # NUMERIC reads a JSON number or a decimal string exactly: no float rounding on the way.
    (float, _Kind("numeric", "CAST({} AS text)")),
    (Decimal, _Kind("numeric", "CAST({} AS text)")),
)
# Text that never needs neutralising or quoting, written as it is: one regular expression less
# per row of the export.
_PLAIN = _Kind("text", "{}")


def _plain_literal(annotation: Any) -> bool:
    """A Literal of lower-case words (a status): csv_text would hand each back unchanged."""
    return typing.get_origin(annotation) is typing.Literal and all(
        isinstance(value, str) and _IDENTIFIER.fullmatch(value)
        for value in typing.get_args(annotation)
    )


def _value_type(annotation: Any) -> Any:
    """The type of a field's values: Optional, Annotated and Literal taken off."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _value_type(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        present = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
        if len(present) == 1:
            return _value_type(present[0])
    if origin is typing.Literal:
        kinds = {type(value) for value in typing.get_args(annotation)}
        if len(kinds) == 1:
            return kinds.pop()
    return annotation


def _kind(model: type[BaseModel], field: str) -> _Kind:
    annotation = model.model_fields[field].annotation
    if _plain_literal(annotation):
        return _PLAIN
    value_type = _value_type(annotation)
    for python_type, kind in _KINDS:
        if isinstance(value_type, type) and issubclass(value_type, python_type):
            return kind
    raise TypeError(f"{model.__name__}.{field}: no CSV cell for {value_type!r}")


def _nullable(model: type[BaseModel], field: str) -> bool:
    annotation = model.model_fields[field].annotation
    is_union = typing.get_origin(annotation) in (typing.Union, types.UnionType)
    return is_union and type(None) in typing.get_args(annotation)


def _checked(fields: Sequence[str]) -> Sequence[str]:
    for field in fields:
        if not _IDENTIFIER.fullmatch(field) or field == _POSITION:
            raise ValueError(f"{field!r} cannot be a CSV column")
    return fields


def header(fields: Sequence[str]) -> bytes:
    """The header row: the field names, which are identifiers and need no quoting."""
    return (",".join(_checked(fields)) + "\n").encode("utf-8")


def line_expression(model: type[BaseModel], fields: Sequence[str]) -> str:
    """One CSV line (no line end) as a SQL expression over columns named like `fields`.

    concat_ws() would drop a NULL argument and shift the cells after it, so a field the model
    lets be null is written as '' when it is; one that it does not is never null (tests/
    test_replies.py holds the replies to their models). concat() would write NULL as '' by
    itself, but with a separator argument between cells it costs the export about a tenth more.
    """
    cells = []
    for field in _checked(fields):
        cell = _kind(model, field).cell.format(field)
        cells.append(f"coalesce({cell}, '')" if _nullable(model, field) else cell)
    return "concat_ws(',', " + ", ".join(cells) + ")"


@functools.lru_cache(maxsize=32)
def _rows_statement(model: type[BaseModel], fields: tuple[str, ...]) -> sa.TextClause:
    # The JSON array's objects read as typed columns, in array order; a line per row.
    columns = ", ".join(f"{field} {_kind(model, field).sql_type}" for field in fields)
    line = line_expression(model, fields)
    # Field names only, no request text (see the module docstring): S608 does not apply.
    return sa.text(
        f"SELECT string_agg({line}, E'\\n' ORDER BY {_POSITION}) || E'\\n'"  # noqa: S608
        f" FROM ROWS FROM (json_to_recordset(CAST(:rows AS json)) AS ({columns}))"
        f" WITH ORDINALITY AS csv_row({', '.join(fields)}, {_POSITION})"
    )


def _json_value(value: Any) -> Any:
    # A Decimal as its text, so NUMERIC reads it exactly (10.50 stays 10.50, as in the export).
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def format_rows(
    engine: Engine,
    model: type[BaseModel],
    fields: Sequence[str],
    rows: Sequence[dict[str, Any]],
) -> bytes:
    """The rows' CSV lines (no header), written by the database in one round trip.

    A short reply's rows (at most a few hundred), so one statement and one value suffice.
    """
    if not rows:
        return b""
    fields = tuple(fields)
    payload = json.dumps(
        [{field: row.get(field) for field in fields} for row in rows],
        default=_json_value,
        separators=(",", ":"),
    )
    with single_statement(engine) as conn:
        body: str = conn.execute(_rows_statement(model, fields), {"rows": payload}).scalar_one()
    return body.encode("utf-8")
