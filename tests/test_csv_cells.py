"""CSV cells are written by PostgreSQL (migrations/repeatable/csv.sql, shared/web/csv_sql.py), one
way for every CSV answer: each CSV reply shows the values of the JSON reply to the same request,
whatever the session's DateStyle and TimeZone, and the cell functions stay inlinable."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re

import pytest
import sqlalchemy as sa

from shared.fleet.targets import export
from shared.web.csv_reply import FORMULA_PREFIXES
from tests.helpers import add_history, days_ago, error_of, get, post

TIME_CELL = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00$")


def csv_rows(response):
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "text/csv"
    text = response.get_data().decode("utf-8")
    # LF line ends (none of these tests' text holds a CR).
    assert "\r" not in text and text.endswith("\n")
    rows = list(csv.reader(io.StringIO(text, newline="")))
    return [dict(zip(rows[0], row, strict=True)) for row in rows[1:]], rows[0]


def assert_same_values(csv_row, json_row):
    assert list(csv_row) == list(json_row)
    for field, value in json_row.items():
        cell = csv_row[field]
        if value is None:
            assert cell == "", field
        elif isinstance(value, bool):
            assert cell == ("true" if value else "false"), field
        elif isinstance(value, int | float):
            assert float(cell) == value, field
        elif TIME_CELL.match(cell):
            assert dt.datetime.fromisoformat(cell) == dt.datetime.fromisoformat(value), field
        else:
            guarded = "'" + value if value.startswith(FORMULA_PREFIXES) else value
            assert cell == guarded, field


def assert_csv_matches_json(client, function, json_key, **params):
    as_json = get(client, function, **params).get_json()
    json_rows = as_json[json_key] if json_key else [as_json]
    csv_reply, header = csv_rows(get(client, function, format="csv", **params))
    assert json_rows, "nothing to compare"
    assert header == list(json_rows[0])
    assert len(csv_reply) == len(json_rows)
    for csv_row, json_row in zip(csv_reply, json_rows, strict=True):
        assert_same_values(csv_row, json_row)


@pytest.fixture
def fleet(fresh_engine, client):
    """Drivers with hostile text, money with cents, closed days with and without active time."""
    drivers = [
        {"driver_id": "=d1", "team": "-north", "target_deliveries": 4, "target_revenue": "10.50"},
        {"driver_id": 'd2 "quoted", too', "team": "@south", "target_deliveries": 9},
        {"driver_id": "d3", "target_deliveries": 1},
    ]
    assert post(client, "set_targets", drivers).status_code == 200
    post(client, "update_progress", {"driver_id": "=d1", "deliveries": 5, "revenue": "10.50"})
    post(client, "update_progress", {"driver_id": "d3", "status": "busy"})
    for day in range(1, 4):
        add_history(
            fresh_engine,
            {
                "driver_id": "=d1",
                "date": days_ago(day),
                "deliveries": 7 + day,
                "revenue": "12.25",
                "team": "-north",
                "active_seconds": 3000 * day,
            },
            {
                "driver_id": 'd2 "quoted", too',
                "date": days_ago(day),
                "deliveries": day,
                "team": "@south",
            },
        )
    add_history(fresh_engine, {"driver_id": "=d1", "date": days_ago(20), "deliveries": 2})


@pytest.mark.parametrize("driver_id", ["=d1", 'd2 "quoted", too', "d3"])
def test_one_driver(fleet, client, driver_id):
    assert_csv_matches_json(client, "get_targets", None, driver_id=driver_id)


def test_full_export(fleet, client, monkeypatch):
    monkeypatch.setattr(export, "EXPORT_BATCH", 2)
    as_json = get(client, "get_targets", limit=1000).get_json()["drivers"]
    exported, _ = csv_rows(get(client, "get_targets", format="csv"))
    assert len(exported) == len(as_json) == 3
    for csv_row, json_row in zip(exported, as_json, strict=True):
        assert_same_values(csv_row, json_row)
        assert TIME_CELL.match(csv_row["updated_at"])


def test_history(fleet, client):
    assert_csv_matches_json(client, "get_history", "history", driver_id="=d1", days=30)


@pytest.mark.parametrize(
    "params",
    [
        {"metric": "deliveries", "compare": "previous", "days": 2},
        {"metric": "per_hour", "viewer": "=d1", "anonymize": "true"},
        {"viewer": "d3", "compare": "previous"},  # unranked: rank and avg_achievement null
        {"group_by": "team", "compare": "previous", "days": 2},
    ],
)
def test_boards(fleet, client, params):
    key = "teams" if params.get("group_by") == "team" else "performers"
    assert_csv_matches_json(client, "top_performers", key, **params)


def test_cells_ignore_the_sessions_date_style_and_time_zone(fresh_engine):
    with fresh_engine.connect() as conn:
        conn.execute(sa.text("SET DateStyle = 'SQL, DMY'"))
        conn.execute(sa.text("SET TimeZone = 'America/New_York'"))
        cells = conn.execute(
            sa.text(
                "SELECT csv_time(TIMESTAMPTZ '2026-03-01 08:30:00+00'),"
                " csv_date(DATE '2026-03-01'), csv_bool(true), csv_bool(false),"
                " csv_bool(NULL), csv_text(NULL), csv_text('=a,b'), csv_text(E'\\rx'),"
                " csv_text('say \"hi\"'), csv_text('it''s')"
            )
        ).one()
        conn.rollback()
    assert tuple(cells) == (
        "2026-03-01T08:30:00.000000+00:00",
        "2026-03-01",
        "true",
        "false",
        None,
        None,
        '"\'=a,b"',
        '"\'\rx"',
        '"say ""hi"""',
        "it's",
    )


def test_the_cell_functions_are_inlined(fresh_engine):
    # A function call per cell would slow the export down (STRICT, or a volatility the body
    # does not have, stops PostgreSQL from inlining a SQL function).
    query = (
        "EXPLAIN VERBOSE SELECT csv_text(driver_id), csv_bool(active_since IS NULL),"
        " csv_time(updated_at), csv_date(CAST(created_at AS date)) FROM driver_targets"
    )
    with fresh_engine.connect() as conn:
        plan = "\n".join(conn.execute(sa.text(query)).scalars())
    assert "csv_" not in plan


def test_a_failing_first_batch_answers_with_the_error_shape(fresh_engine, client, monkeypatch):
    post(client, "set_targets", [{"driver_id": "x1"}])
    # The statement cancels itself: SQLSTATE 57014, as a statement timeout would.
    cancelled = sa.text("SELECT pg_cancel_backend(pg_backend_pid()), pg_sleep(5)")
    monkeypatch.setattr(export, "_EXPORT_BATCH", cancelled)
    response = get(client, "get_targets", format="csv")
    assert response.status_code == 503
    assert error_of(response)["code"] == "database_unavailable"
