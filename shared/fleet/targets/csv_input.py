"""set_targets' CSV body (Content-Type text/csv): a spreadsheet's rows read into the same
request as the JSON body, so the same rules hold and the batch is still all or nothing.

- A header row, then one driver per row. Read: `driver_id` (required), `target_deliveries`,
  `target_revenue`, `team`. A column left out is a field left out (an existing driver keeps
  its stored value, a new one gets the JSON defaults); the other columns of the drivers export
  (`get_targets?format=csv`) are ignored, so an export is accepted back as it is; any other
  column is refused by name (a misspelt `target_revenu` must not silently keep the target).
- A cell is never "absent": an empty target is an error, an empty `team` is no team (null), as
  the export writes it.
- Text cells the export guarded against spreadsheet formulas (`'=x`) are read back as written
  before the guard (`=x`).
- Errors name the spreadsheet row (the header is row 1) and the column:
  `row 14, target_revenue: must be >= 0`.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from shared.errors import InvalidInput, PayloadTooLarge
from shared.fleet.targets.replies import DriverProgress
from shared.fleet.targets.requests import MAX_TARGET_BATCH, DriverTarget, SetTargetsRequest
from shared.web.csv_reply import FORMULA_PREFIXES
from shared.web.replies import field_names

READ_COLUMNS = ("driver_id", "target_deliveries", "target_revenue", "team")
IGNORED_COLUMNS = frozenset(field_names(DriverProgress)) - set(READ_COLUMNS)
TEXT_COLUMNS = ("driver_id", "team")


def _malformed(message: str) -> InvalidInput:
    return InvalidInput(message, code="malformed_csv")


def _records(body: bytes) -> Iterator[tuple[int, list[str]]]:
    """(spreadsheet row number, cells) of every record, blank ones included (they keep the
    numbering of the spreadsheet's rows)."""
    try:
        # utf-8-sig: spreadsheets often save UTF-8 with a byte order mark.
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise _malformed("the CSV is not UTF-8 text") from exc
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    row = 0
    try:
        for row, cells in enumerate(reader, start=1):
            yield row, cells
    except csv.Error as exc:
        raise _malformed(f"row {row + 1}: {exc}") from exc


def _header(cells: list[str]) -> list[str]:
    names = [cell.strip() for cell in cells]
    for index, name in enumerate(names):
        if name in names[:index]:
            raise InvalidInput(f"row 1: the column {name!r} appears twice", field=name)
        if name not in READ_COLUMNS and name not in IGNORED_COLUMNS:
            raise InvalidInput(
                f"row 1: unknown column {name!r}; set_targets reads "
                f"{', '.join(READ_COLUMNS)} (and ignores the drivers export's other columns)",
                field=name or None,
            )
    if "driver_id" not in names:
        raise InvalidInput("row 1: the header has no driver_id column", field="driver_id")
    return names


def _unguarded(text: str) -> str:
    """A text cell as it was before the export's formula guard (a leading ')."""
    if text.startswith("'") and text[1:].startswith(FORMULA_PREFIXES):
        return text[1:]
    return text


def _message(error: ErrorDetails) -> str:
    context: dict[str, Any] = dict(error.get("ctx") or {})
    kind = error["type"]
    if kind == "greater_than_equal":
        return f"must be >= {context['ge']}"
    if kind == "less_than_equal":
        return f"must be <= {context['le']}"
    if kind == "string_too_long":
        return f"must be at most {context['max_length']} characters"
    if kind == "string_too_short":
        return "must not be empty"
    return error["msg"].removeprefix("Value error, ")


def _driver(row: int, columns: list[str], cells: list[str]) -> DriverTarget:
    if len(cells) != len(columns):
        raise InvalidInput(f"row {row}: {len(cells)} cells, the header has {len(columns)}")
    item: dict[str, Any] = {}
    for column, cell in zip(columns, cells, strict=True):
        if column in IGNORED_COLUMNS:
            continue
        if "\x00" in cell:
            raise InvalidInput(f"row {row}, {column}: text cannot contain NUL", field=column)
        if column == "target_deliveries":
            # The JSON field takes integers only: the text must be one ("12", "-3"; no "12.0").
            if not cell.removeprefix("-").isascii() or not cell.removeprefix("-").isdigit():
                raise InvalidInput(f"row {row}, {column}: must be a whole number", field=column)
            item[column] = int(cell)
        elif column == "target_revenue":
            if not cell:
                raise InvalidInput(f"row {row}, {column}: must be an amount", field=column)
            item[column] = cell
        elif column == "team":
            item[column] = _unguarded(cell) or None
        else:
            item[column] = _unguarded(cell)
    try:
        return DriverTarget.model_validate(item)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        at = str(first["loc"][0]) if first["loc"] else None
        where = f"row {row}, {at}" if at else f"row {row}"
        raise InvalidInput(f"{where}: {_message(first)}", field=at) from exc


def parse_targets_csv(body: bytes) -> SetTargetsRequest:
    """The drivers of a CSV body, validated row by row; the first bad row refuses them all."""
    columns: list[str] | None = None
    drivers: list[DriverTarget] = []
    first_row: dict[str, int] = {}
    for row, cells in _records(body):
        if not cells:
            continue
        if columns is None:
            columns = _header(cells)
            continue
        if len(drivers) == MAX_TARGET_BATCH:
            raise PayloadTooLarge(
                f"more than {MAX_TARGET_BATCH} drivers in one call",
                code="batch_too_large",
                field="drivers",
            )
        driver = _driver(row, columns, cells)
        if driver.driver_id in first_row:
            raise InvalidInput(
                f"row {row}, driver_id: {driver.driver_id!r} already appears in row "
                f"{first_row[driver.driver_id]}",
                field="driver_id",
            )
        first_row[driver.driver_id] = row
        drivers.append(driver)
    if columns is None:
        raise InvalidInput("the CSV is empty; send a header row and a row per driver")
    if not drivers:
        raise InvalidInput("the CSV has a header and no driver rows", field="drivers")
    return SetTargetsRequest(drivers=drivers)
