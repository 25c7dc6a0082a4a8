"""What each role may reach inside a function, with AUTH_MODE=jwt and real tokens: a driver
their own row, history, events and team board; a dispatcher the drivers of their teams, in
every reply, CSV and count; a refused batch writes nothing (README "Who may do what")."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.engine import Engine
from werkzeug.test import Client

from tests.callers import Callers, Fleet, call, refused
from tests.helpers import add_history, days_ago, new_driver_id

# --- a driver: their own row, history, events and board -----------------------------------------


def test_a_driver_reads_only_their_own_targets(
    client: Client, callers: Callers, fleet: Fleet
) -> None:
    me, other = fleet.north_drivers
    headers = callers.driver(me)
    assert call(client, "GET", "get_targets", headers, driver_id=me).get_json()["driver_id"] == me
    error = refused(call(client, "GET", "get_targets", headers, driver_id=other))
    assert error == {
        "code": "forbidden",
        "message": "a driver may only read their own targets",
        "field": "driver_id",
    }
    page = call(client, "GET", "get_targets", headers, team=fleet.north).get_json()
    assert [d["driver_id"] for d in page["drivers"]] == [me]
    assert page["next_after"] is None
    assert (
        "summary" in refused(call(client, "GET", "get_targets", headers, summary="true"))["message"]
    )


def test_a_driver_reports_only_their_own_progress_and_a_batch_with_another_writes_nothing(
    client: Client, callers: Callers, fleet: Fleet
) -> None:
    me, other = fleet.north_drivers
    headers = callers.driver(me)
    ok = call(client, "POST", "update_progress", headers, {"driver_id": me, "deliveries": 2})
    assert ok.status_code == 200, ok.get_json()
    error = refused(
        call(client, "POST", "update_progress", headers, {"driver_id": other, "deliveries": 1})
    )
    assert error["message"] == "a driver may only report their own progress"
    batch = {
        "events": [
            {"driver_id": me, "deliveries": 5, "event_id": f"e-{uuid.uuid4().hex}"},
            {"driver_id": other, "deliveries": 5},
        ]
    }
    error = refused(call(client, "POST", "update_progress", headers, batch))
    assert error["field"] == "events[1].driver_id"
    admin = callers.admin()
    for driver, deliveries in ((me, 2), (other, 0)):
        row = call(client, "GET", "get_targets", admin, driver_id=driver).get_json()
        assert row["current_deliveries"] == deliveries


def test_a_driver_reads_only_their_own_history(
    client: Client, callers: Callers, fleet: Fleet, engine: Engine
) -> None:
    me, other = fleet.north_drivers
    add_history(engine, {"driver_id": me, "date": days_ago(1), "deliveries": 3})
    headers = callers.driver(me)
    mine = call(client, "GET", "get_history", headers, driver_id=me).get_json()
    assert [day["deliveries_completed"] for day in mine["history"]] == [3]
    error = refused(call(client, "GET", "get_history", headers, driver_id=other))
    assert error["message"] == "a driver may only read their own history"


def test_a_driver_sees_their_teams_board_as_its_anonymous_viewer(
    client: Client, callers: Callers, fleet: Fleet, engine: Engine
) -> None:
    me, teammate = fleet.north_drivers
    yesterday = days_ago(1)
    add_history(
        engine,
        {"driver_id": me, "date": yesterday, "deliveries": 4, "team": fleet.north},
        {"driver_id": teammate, "date": yesterday, "deliveries": 9, "team": fleet.north},
        {"driver_id": fleet.south_driver, "date": yesterday, "deliveries": 50, "team": fleet.south},
    )
    headers = callers.driver(me)
    board = call(client, "GET", "top_performers", headers, days=1, metric="deliveries").get_json()
    rows = board["performers"]
    assert [(row["driver_id"], row["total_deliveries"], row["is_viewer"]) for row in rows] == [
        (None, 9, False),
        (me, 4, True),
    ]
    for query in ({"viewer": teammate}, {"team": fleet.north}, {"group_by": "team"}):
        refused(call(client, "GET", "top_performers", headers, days=1, **query))


# --- a dispatcher: the drivers of their teams ---------------------------------------------------


def test_a_dispatcher_reads_only_their_teams_drivers_and_cannot_tell_others_from_none(
    client: Client, callers: Callers, fleet: Fleet
) -> None:
    headers = callers.dispatcher(fleet.north)
    for driver in fleet.north_drivers:
        assert call(client, "GET", "get_targets", headers, driver_id=driver).status_code == 200
    outside = refused(call(client, "GET", "get_targets", headers, driver_id=fleet.south_driver))
    missing = refused(call(client, "GET", "get_targets", headers, driver_id=new_driver_id()))
    assert outside == missing
    assert (
        outside["message"] == f"a dispatcher may only reach drivers of their teams ({fleet.north})"
    )
    page = call(client, "GET", "get_targets", headers, limit=1).get_json()
    assert [d["driver_id"] for d in page["drivers"]] == [min(fleet.north_drivers)]
    rest = call(client, "GET", "get_targets", headers, after=page["next_after"]).get_json()
    assert [d["driver_id"] for d in rest["drivers"]] == [max(fleet.north_drivers)]
    assert rest["next_after"] is None
    refused(call(client, "GET", "get_targets", headers, team=fleet.south))


def test_a_dispatchers_summary_counts_their_teams_only(
    client: Client, callers: Callers, fleet: Fleet
) -> None:
    headers = callers.dispatcher(fleet.north)
    summary = call(client, "GET", "get_targets", headers, summary="true").get_json()
    assert summary["drivers"] == 2
    assert summary["team"] is None
    one = call(client, "GET", "get_targets", headers, summary="true", team=fleet.north)
    assert one.get_json()["drivers"] == 2
    refused(call(client, "GET", "get_targets", headers, summary="true", team=fleet.south))


def test_a_dispatcher_sets_targets_only_within_their_teams_and_a_refused_batch_writes_nothing(
    client: Client, callers: Callers, fleet: Fleet
) -> None:
    headers = callers.dispatcher(fleet.north)
    mine, other = fleet.north_drivers
    newcomer = new_driver_id()
    ok = [
        {"driver_id": mine, "target_deliveries": 30},
        {"driver_id": newcomer, "target_deliveries": 30, "team": fleet.north},
    ]
    assert call(client, "POST", "set_targets", headers, ok).status_code == 200
    for batch, field in (
        # a driver of another team, by their stored team
        ([{"driver_id": other, "target_deliveries": 1}, {"driver_id": fleet.south_driver}], 1),
        # moving one of theirs to another team
        ([{"driver_id": other, "target_deliveries": 1, "team": fleet.south}], 0),
        # a new driver with no team, or the teamless one
        ([{"driver_id": other, "target_deliveries": 1}, {"driver_id": new_driver_id()}], 1),
        ([{"driver_id": other, "target_deliveries": 1}, {"driver_id": fleet.teamless}], 1),
    ):
        error = refused(call(client, "POST", "set_targets", headers, batch))
        assert error["field"] in (f"drivers[{field}].driver_id", f"drivers[{field}].team")
    admin = callers.admin()
    kept = call(client, "GET", "get_targets", admin, driver_id=other).get_json()
    assert kept["target_deliveries"] == 20  # the fixture's (the default), not the batches' 1
    south = call(client, "GET", "get_targets", admin, driver_id=fleet.south_driver).get_json()
    assert south["team"] == fleet.south


def test_a_dispatcher_corrects_their_teams_progress_only_and_all_or_nothing(
    client: Client, callers: Callers, fleet: Fleet
) -> None:
    headers = callers.dispatcher(fleet.north)
    mine = fleet.north_drivers[0]
    ok = call(client, "POST", "update_progress", headers, {"driver_id": mine, "deliveries": 3})
    assert ok.status_code == 200, ok.get_json()
    for driver in (fleet.south_driver, fleet.teamless, new_driver_id()):
        error = refused(
            call(client, "POST", "update_progress", headers, {"driver_id": driver, "deliveries": 1})
        )
        assert (
            error["message"] == "a dispatcher may only report progress for drivers of their teams"
        )
    batch = {
        "events": [
            {"driver_id": mine, "deliveries": 1},
            {"driver_id": fleet.south_driver, "deliveries": 1},
        ]
    }
    assert refused(call(client, "POST", "update_progress", headers, batch))["field"] == (
        "events[1].driver_id"
    )
    admin = callers.admin()
    for driver, deliveries in ((mine, 3), (fleet.south_driver, 0)):
        row = call(client, "GET", "get_targets", admin, driver_id=driver).get_json()
        assert row["current_deliveries"] == deliveries


def test_a_dispatcher_reads_their_teams_history_only(
    client: Client, callers: Callers, fleet: Fleet, engine: Engine
) -> None:
    headers = callers.dispatcher(fleet.north)
    add_history(engine, {"driver_id": fleet.south_driver, "date": days_ago(1), "deliveries": 1})
    mine = call(client, "GET", "get_history", headers, driver_id=fleet.north_drivers[0])
    assert mine.status_code == 200
    assert refused(call(client, "GET", "get_history", headers, driver_id=fleet.south_driver)) == (
        refused(call(client, "GET", "get_history", headers, driver_id=new_driver_id()))
    )


def test_a_dispatchers_boards_hold_their_teams_only(
    client: Client, callers: Callers, fleet: Fleet, engine: Engine
) -> None:
    west = f"west-{uuid.uuid4().hex[:8]}"
    yesterday = days_ago(1)
    rows = [
        {"driver_id": fleet.north_drivers[0], "team": fleet.north, "deliveries": 5},
        {"driver_id": fleet.north_drivers[1], "team": fleet.north, "deliveries": 6},
        {"driver_id": fleet.south_driver, "team": fleet.south, "deliveries": 7},
        {"driver_id": fleet.teamless, "team": west, "deliveries": 8},
    ]
    add_history(engine, *({**row, "date": yesterday} for row in rows))
    headers = callers.dispatcher(fleet.north, west)
    query = {"days": 1, "metric": "deliveries", "limit": 100}
    board = call(client, "GET", "top_performers", headers, **query).get_json()
    assert {row["driver_id"] for row in board["performers"]} == {
        *fleet.north_drivers,
        fleet.teamless,
    }
    teams = call(client, "GET", "top_performers", headers, group_by="team", **query).get_json()
    assert [(team["team"], team["total_deliveries"]) for team in teams["teams"]] == [
        (fleet.north, 11),
        (west, 8),
    ]
    one = call(client, "GET", "top_performers", headers, team=west, **query).get_json()
    assert [row["driver_id"] for row in one["performers"]] == [fleet.teamless]
    refused(call(client, "GET", "top_performers", headers, team=fleet.south, **query))
    refused(call(client, "GET", "top_performers", headers, viewer=fleet.south_driver, **query))


def first_cells(response: Any) -> list[str]:
    assert response.status_code == 200, response.get_data(as_text=True)
    return [line.split(",")[0] for line in response.get_data(as_text=True).splitlines()[1:]]


def test_csv_answers_hold_only_what_the_caller_may_see(
    client: Client, callers: Callers, fleet: Fleet, engine: Engine
) -> None:
    yesterday = days_ago(1)
    add_history(
        engine,
        *(
            {"driver_id": driver, "date": yesterday, "deliveries": 1, "team": team}
            for driver, team in (
                (fleet.north_drivers[0], fleet.north),
                (fleet.north_drivers[1], fleet.north),
                (fleet.south_driver, fleet.south),
            )
        ),
    )
    dispatcher = callers.dispatcher(fleet.north)
    listed = call(client, "GET", "get_targets", dispatcher, format="csv")
    assert first_cells(listed) == sorted(fleet.north_drivers)
    board = call(
        client, "GET", "top_performers", dispatcher, days=1, format="csv", metric="deliveries"
    )
    header = board.get_data(as_text=True).splitlines()[0].split(",")
    ids = [
        row[header.index("driver_id")]
        for row in (line.split(",") for line in board.get_data(as_text=True).splitlines()[1:])
    ]
    assert sorted(ids) == sorted(fleet.north_drivers)
    refused(call(client, "GET", "get_targets", dispatcher, format="csv", team=fleet.south))
    me = fleet.north_drivers[0]
    driver = callers.driver(me)
    assert first_cells(call(client, "GET", "get_targets", driver, format="csv")) == [me]
    refused(call(client, "GET", "get_targets", driver, format="csv", driver_id=fleet.south_driver))
