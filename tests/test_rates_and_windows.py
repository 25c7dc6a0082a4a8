"""A rate per active hour needs RATE_MIN_ACTIVE_MINUTES of active time (below it, null), and
the history and the boards echo the window they used (issue 16, points 9 and 10)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Engine

from tests.helpers import add_history, days_ago, get, new_driver_id, set_target, settings_env


def _history_rates(client: Any, driver_id: str) -> dict[str, Any]:
    rows = get(client, "get_history", driver_id=driver_id, days=10).get_json()["history"]
    return {row["date"]: row["deliveries_per_active_hour"] for row in rows}


def test_nine_seconds_of_activity_is_no_rate(engine: Engine, client: Any) -> None:
    driver_id = new_driver_id()
    set_target(client, driver_id)
    add_history(
        engine,
        {"driver_id": driver_id, "date": days_ago(2), "deliveries": 3, "active_seconds": 9},
        {"driver_id": driver_id, "date": days_ago(1), "deliveries": 2, "active_seconds": 1200},
    )
    assert _history_rates(client, driver_id) == {
        days_ago(1).isoformat(): 6.0,
        days_ago(2).isoformat(): None,
    }


def test_the_minimum_is_a_setting(engine: Engine, client: Any) -> None:
    driver_id = new_driver_id()
    set_target(client, driver_id)
    add_history(
        engine,
        {"driver_id": driver_id, "date": days_ago(1), "deliveries": 1, "active_seconds": 120},
    )
    assert _history_rates(client, driver_id) == {days_ago(1).isoformat(): None}
    with settings_env(RATE_MIN_ACTIVE_MINUTES="2"):
        assert _history_rates(client, driver_id) == {days_ago(1).isoformat(): 30.0}


def test_board_rows_have_no_rate_under_the_minimum(engine: Engine, client: Any) -> None:
    team = f"team-{new_driver_id()}"
    brief, steady = new_driver_id(), new_driver_id()
    set_target(client, brief, steady, team=team)
    add_history(
        engine,
        {
            "driver_id": brief,
            "date": days_ago(1),
            "deliveries": 5,
            "team": team,
            "active_seconds": 9,
        },
        {
            "driver_id": steady,
            "date": days_ago(1),
            "deliveries": 4,
            "team": team,
            "active_seconds": 3600,
        },
    )
    board = get(client, "top_performers", team=team, metric="deliveries", days=3).get_json()
    rates = {row["driver_id"]: row["deliveries_per_active_hour"] for row in board["performers"]}
    assert rates == {brief: None, steady: 4.0}
    teams = get(client, "top_performers", team=team, group_by="team", days=3).get_json()
    assert teams["teams"][0]["deliveries_per_active_hour"] == 8.98  # 9 deliveries in 3,609 s


def test_the_default_window_is_echoed_as_30_days(client: Any) -> None:
    driver_id = new_driver_id()
    set_target(client, driver_id)
    assert get(client, "top_performers").get_json()["days"] == 30
    assert get(client, "get_history", driver_id=driver_id).get_json()["days"] == 30
    assert get(client, "top_performers", days=7).get_json()["days"] == 7
    window = {"from": days_ago(3).isoformat(), "to": days_ago(1).isoformat()}
    assert get(client, "top_performers", **window).get_json()["days"] is None
    assert get(client, "get_history", driver_id=driver_id, **window).get_json()["days"] is None
    assert get(client, "top_performers", live="true").get_json()["days"] is None
