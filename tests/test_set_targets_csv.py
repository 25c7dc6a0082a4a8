"""set_targets with a CSV body (Content-Type text/csv): the JSON rules, all or nothing, errors
naming the spreadsheet row and the column, and the drivers export accepted back as it is."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from werkzeug.test import Client, TestResponse

from tests.helpers import error_of, get, post

HEADER = "driver_id,target_deliveries,target_revenue,team"


def send_csv(client: Client, text: str | bytes) -> TestResponse:
    return client.post("/set_targets", data=text, content_type="text/csv; charset=utf-8")


def ids(count: int) -> list[str]:
    prefix = uuid.uuid4().hex[:8]
    return [f"csv{prefix}{n}" for n in range(count)]


def driver(client: Client, driver_id: str) -> Any:
    response = get(client, "get_targets", driver_id=driver_id)
    return response.get_json() if response.status_code == 200 else None


def test_a_csv_sets_every_rows_targets_and_team(client: Client) -> None:
    a, b = ids(2)
    team = f"t{a}"
    text = f"{HEADER}\n{a},50,4200.50,{team}\n{b},0,0,\n"
    response = send_csv(client, text)
    assert response.status_code == 200, response.get_json()
    assert response.get_json() == {"count": 2}
    first, second = driver(client, a), driver(client, b)
    assert (first["target_deliveries"], first["target_revenue"], first["team"]) == (
        50,
        4200.5,
        team,
    )
    # An explicit 0 stays 0, and an empty team cell is no team, as in the export.
    assert (second["target_deliveries"], second["target_revenue"], second["team"]) == (0, 0, None)


def test_columns_left_out_are_fields_left_out(client: Client) -> None:
    (a,) = ids(1)
    team = f"t{a}"
    assert post(client, "set_targets", [{"driver_id": a, "team": team}]).status_code == 200
    response = send_csv(client, f"target_deliveries,driver_id\r\n7,{a}\r\n")
    assert response.status_code == 200, response.get_json()
    # A missing target keeps the stored one (5000, its default when it was new), and the driver
    # keeps its team.
    stored = driver(client, a)
    assert (stored["target_deliveries"], stored["target_revenue"], stored["team"]) == (
        7,
        5000,
        team,
    )


def test_a_byte_order_mark_and_blank_lines_are_read_past(client: Client) -> None:
    a, b = ids(2)
    text = f"\ufeff{HEADER}\r\n{a},1,1,\r\n\r\n{b},2,2,\r\n\r\n".encode()
    response = send_csv(client, text)
    assert response.status_code == 200, response.get_json()
    assert driver(client, b)["target_deliveries"] == 2


def test_the_drivers_export_is_accepted_back(client: Client) -> None:
    a, b = ids(2)
    guarded = f"={a}"  # a formula-like id: the export writes it as '=...
    team = f"t{a}"
    drivers = [
        {"driver_id": a, "target_deliveries": 12, "target_revenue": "99.90", "team": team},
        {"driver_id": guarded, "target_deliveries": 3, "target_revenue": 5, "team": team},
    ]
    assert post(client, "set_targets", drivers).status_code == 200
    export = get(client, "get_targets", team=team, format="csv").get_data(as_text=True)
    assert f"'{guarded}" in export
    # Edited in a spreadsheet: one driver's deliveries target changed.
    lines = export.splitlines()
    header = lines[0].split(",")
    column = header.index("target_deliveries")
    for index, line in enumerate(lines):
        if line.startswith(f"{a},"):
            cells = line.split(",")
            cells[column] = "13"
            lines[index] = ",".join(cells)
    response = send_csv(client, "\n".join(lines) + "\n")
    assert response.status_code == 200, response.get_json()
    assert response.get_json() == {"count": 2}
    assert driver(client, guarded)["target_deliveries"] == 3
    assert (driver(client, a)["target_deliveries"], driver(client, a)["target_revenue"]) == (
        13,
        99.9,
    )
    assert driver(client, b) is None


@pytest.mark.parametrize(
    ("rows", "message", "field"),
    [
        ("{a},5,10,\n{b},5,-1,", "row 3, target_revenue: must be >= 0", "target_revenue"),
        ("{a},5,10,\n{b},-2,1,", "row 3, target_deliveries: must be >= 0", "target_deliveries"),
        ("{a},5.0,10,", "row 2, target_deliveries: must be a whole number", "target_deliveries"),
        ("{a},,10,", "row 2, target_deliveries: must be a whole number", "target_deliveries"),
        ("{a},5,,", "row 2, target_revenue: must be an amount", "target_revenue"),
        ("{a},5,1e3,", "row 2, target_revenue: must be a number or a decimal", "target_revenue"),
        ("{a},5,1.234,", "row 2, target_revenue: must be a number or a decimal", "target_revenue"),
        ("{a},5,1,\n,5,1,", "row 3, driver_id: must not be empty", "driver_id"),
        ("{a},5,1,{long}", "row 2, team: must be at most 64 characters", "team"),
        ("{a},5,1,\n{b},5,1,\n{a},6,1,", "row 4, driver_id: '{a}' already appears in row 2", None),
        ("{a},5,1", "row 2: 3 cells, the header has 4", None),
        ('{a},5,1,"north', "row 2: unexpected end of data", None),
    ],
)
def test_a_bad_row_names_its_row_and_column_and_writes_nothing(
    client: Client, rows: str, message: str, field: str | None
) -> None:
    a, b = ids(2)
    text = f"{HEADER}\n" + rows.format(a=a, b=b, long="x" * 65) + "\n"
    response = send_csv(client, text)
    assert response.status_code == 400
    error = error_of(response)
    assert error["message"].startswith(message.format(a=a)), error
    if field is not None:
        assert error["field"] == field
    assert driver(client, a) is None and driver(client, b) is None


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ("driver_id,target_revenu", "row 1: unknown column 'target_revenu'"),
        ("target_deliveries,team", "row 1: the header has no driver_id column"),
        ("driver_id,team,team", "row 1: the column 'team' appears twice"),
    ],
)
def test_a_bad_header_is_refused_by_name(client: Client, header: str, message: str) -> None:
    (a,) = ids(1)
    response = send_csv(client, f"{header}\n{a},x,y\n")
    assert response.status_code == 400
    assert error_of(response)["message"].startswith(message)
    assert driver(client, a) is None


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"", "invalid_input"),
        (HEADER.encode() + b"\n", "invalid_input"),
        (HEADER.encode() + b"\nab\xff,1,1,\n", "malformed_csv"),
    ],
)
def test_empty_headless_or_non_utf8_files_are_refused(
    client: Client, body: bytes, code: str
) -> None:
    response = send_csv(client, body)
    assert response.status_code == 400
    assert error_of(response)["code"] == code


def test_more_than_10000_rows_is_a_413_and_nothing_is_written(client: Client) -> None:
    prefix = uuid.uuid4().hex[:8]
    rows = "\n".join(f"big{prefix}{n},1,1," for n in range(10_001))
    response = send_csv(client, f"{HEADER}\n{rows}\n")
    assert response.status_code == 413
    assert error_of(response)["code"] == "batch_too_large"
    assert driver(client, f"big{prefix}0") is None
