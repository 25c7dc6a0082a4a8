"""CSV answers: asked by format=csv or Accept, RFC 4180, UTF-8, a header row, the same fields as
the JSON, formula cells neutralised; the get_targets export is every matching driver, streamed."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
import sqlalchemy as sa

from tests.helpers import error_of, get, post


def rows_of(response):
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "text/csv"
    assert response.mimetype_params.get("charset") == "utf-8"
    return list(csv.reader(io.StringIO(response.get_data().decode("utf-8"), newline="")))


@pytest.mark.parametrize("text", ["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx"])
def test_formula_cells_are_neutralised(fresh_engine, client, text):
    assert post(client, "set_targets", [{"driver_id": "f1", "team": text}]).status_code == 200
    for response in [
        get(client, "get_targets", driver_id="f1", format="csv"),
        get(client, "get_targets", format="csv"),
    ]:
        assert rows_of(response)[1][1] == "'" + text


def test_plain_text_is_left_alone(fresh_engine, client):
    post(client, "set_targets", [{"driver_id": "driver 7", "team": "a'b"}])
    assert rows_of(get(client, "get_targets", format="csv"))[1][:2] == ["driver 7", "a'b"]


def test_full_export_has_every_driver_of_the_team_quoted_and_neutralised(
    fresh_engine, client, monkeypatch
):
    from shared.fleet.targets import export

    # Small batches, so the export crosses several keyset pages.
    monkeypatch.setattr(export, "EXPORT_BATCH", 3)
    # Each as given, and as its cell reads back (the formula guard's leading ').
    hostile = {
        '=HYPERLINK("http://x")': '\'=HYPERLINK("http://x")',
        "+cmd": "'+cmd",
        "-2": "'-2",
        "@a": "'@a",
        'comma, "quote"': 'comma, "quote"',
        "línea\nnueva": "línea\nnueva",
    }
    drivers = [{"driver_id": f"d{n:02d}", "team": "t1"} for n in range(7)]
    drivers += [{"driver_id": text, "team": "t1"} for text in hostile]
    drivers += [{"driver_id": "other", "team": "t2"}]
    assert post(client, "set_targets", drivers).status_code == 200

    rows = rows_of(get(client, "get_targets", team="t1", format="csv"))
    header, body = rows[0], rows[1:]
    assert header[:3] == ["driver_id", "team", "status"]
    assert "active_minutes" in header
    listed = {row[0] for row in body}
    expected = {f"d{n:02d}" for n in range(7)} | set(hostile.values())
    assert listed == expected
    assert len(body) == len(expected)
    assert {row[1] for row in body} == {"t1"}

    json_rows = get(client, "get_targets", team="t1", limit=1000).get_json()["drivers"]
    assert header == list(json_rows[0])


def test_accept_header_that_prefers_csv(fresh_engine, client):
    post(client, "set_targets", [{"driver_id": "a1"}])
    response = client.get("/get_targets", headers={"Accept": "text/csv, application/json;q=0.5"})
    assert [row[0] for row in rows_of(response)] == ["driver_id", "a1"]
    as_json = client.get("/get_targets", headers={"Accept": "application/json, text/csv;q=0.5"})
    assert as_json.mimetype == "application/json"
    explicit = client.get("/get_targets?format=json", headers={"Accept": "text/csv"})
    assert explicit.mimetype == "application/json"


def test_history_csv(fresh_engine, client):
    post(client, "set_targets", [{"driver_id": "h1", "team": "=evil"}])
    post(client, "update_progress", {"driver_id": "h1", "deliveries": 4})
    today = dt.datetime.now(dt.UTC).date()
    post(client, "snapshot_daily", {"date": today.isoformat()})
    rows = rows_of(get(client, "get_history", driver_id="h1", format="csv"))
    assert rows[0] == [
        "date",
        "team",
        "deliveries_completed",
        "revenue_generated",
        "target_deliveries",
        "target_revenue",
        "achievement_percentage",
        "target_achieved",
        "active_minutes",
        "deliveries_per_active_hour",
    ]
    assert rows[1][:3] == [today.isoformat(), "'=evil", "4"]
    assert rows[1][7] == "false"


def test_top_performers_csv_with_compare_and_viewer(fresh_engine, client):
    with fresh_engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO driver_targets (driver_id, target_deliveries, target_revenue)"
                " VALUES ('-me', 1, 1)"
            )
        )
        conn.execute(
            sa.text(
                "INSERT INTO driver_performance_history (driver_id, date, deliveries_completed,"
                " revenue_generated, target_deliveries, target_revenue)"
                " VALUES ('-me', :day, 3, 0, 1, 1)"
            ),
            {"day": dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)},
        )
    response = get(
        client,
        "top_performers",
        compare="previous",
        viewer="-me",
        format="csv",
        metric="deliveries",
    )
    rows = rows_of(response)
    assert rows[0][-4:] == ["previous_rank", "rank_change", "change_pct", "is_viewer"]
    assert rows[1][:3] == ["1", "'-me", "1"]
    assert rows[1][-4:] == ["", "", "", "true"]


def test_teams_board_csv(fresh_engine, client):
    rows = rows_of(get(client, "top_performers", group_by="team", format="csv"))
    assert rows == [
        [
            "rank",
            "team",
            "drivers",
            "total_deliveries",
            "total_revenue",
            "avg_achievement",
            "days_achieved",
            "active_minutes",
            "deliveries_per_active_hour",
        ]
    ]


def test_summary_is_not_csv(client):
    response = get(client, "get_targets", summary="true", format="csv")
    assert response.status_code == 400
    assert error_of(response)["field"] == "format"


def test_export_rows_are_written_like_the_other_csv_answers(fresh_engine, client):
    post(client, "set_targets", [{"driver_id": "-d1", "team": "@t", "target_deliveries": 1}])
    post(client, "set_targets", [{"driver_id": "d2", "team": 'a "quoted", team'}])
    post(client, "update_progress", {"driver_id": "-d1", "deliveries": 2, "revenue": "10.50"})
    exported = rows_of(get(client, "get_targets", format="csv"))
    for driver_id, row in [("-d1", exported[1]), ("d2", exported[2])]:
        single = rows_of(get(client, "get_targets", driver_id=driver_id, format="csv"))
        assert [exported[0], row] == single
    assert exported[1][:2] == ["'-d1", "'@t"]
    assert exported[2][1] == 'a "quoted", team'


@pytest.mark.parametrize(
    ("function", "params"),
    [
        ("get_targets", {"format": "xml"}),
        ("get_history", {"driver_id": "x", "format": "pdf"}),
        ("top_performers", {"format": "CSV"}),
    ],
)
def test_unknown_formats_are_refused(client, function, params):
    response = get(client, function, **params)
    assert response.status_code == 400
    assert error_of(response)["field"] == "format"
