"""The boards: any window, fair ranking, teams, movement, per active hour, live, a driver's own
view, and bad input. History rows are written with SQL: the test says exactly which days exist."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from tests.helpers import add_history, days_ago, error_of, get, post


def day(n: int) -> str:
    """n days before today, as an ISO date."""
    return days_ago(n).isoformat()


def add_drivers(engine, *driver_ids):
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO driver_targets (driver_id, target_deliveries, target_revenue)"
                " VALUES (:d, 10, 100) ON CONFLICT DO NOTHING"
            ),
            [{"d": d} for d in driver_ids],
        )


def add_days(engine, *rows):
    """Rows of (driver_id, days_ago, deliveries, team=None, active_minutes=0, revenue=0)."""
    history = []
    for driver_id, ago, deliveries, *rest in rows:
        team, minutes, revenue = (*rest, *(None, 0, 0)[len(rest) :])
        history.append(
            {
                "driver_id": driver_id,
                "date": days_ago(ago),
                "team": team,
                "deliveries": deliveries,
                "revenue": revenue,
                "active_seconds": minutes * 60,
            }
        )
    add_drivers(engine, *{row["driver_id"] for row in history})
    add_history(engine, *history)


def board(client, **params):
    response = get(client, "top_performers", **params)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def ranks(body, key="performers", name="driver_id"):
    return [(row["rank"], row[name]) for row in body[key]]


def test_ties_share_a_rank_ordered_by_driver_id(fresh_engine, client):
    add_days(fresh_engine, ("d", 1, 5), ("b", 1, 7), ("c", 1, 7), ("a", 1, 3))
    for _ in range(2):
        body = board(client, metric="deliveries", days=3)
        assert ranks(body) == [(1, "b"), (1, "c"), (3, "d"), (4, "a")]


def test_from_to_is_inclusive_and_days_still_works(fresh_engine, client):
    add_days(fresh_engine, ("a", 10, 1), ("a", 5, 2), ("a", 4, 4), ("a", 1, 8))
    body = board(client, metric="deliveries", **{"from": day(5), "to": day(4)})
    assert body["from"] == day(5) and body["to"] == day(4)
    assert body["performers"][0]["total_deliveries"] == 6
    assert body["performers"][0]["days_worked"] == 2
    assert board(client, metric="deliveries", days=5)["performers"][0]["total_deliveries"] == 14

    history = get(client, "get_history", driver_id="a", **{"from": day(10), "to": day(4)})
    assert [row["date"] for row in history.get_json()["history"]] == [day(4), day(5), day(10)]


@pytest.mark.parametrize("function", ["top_performers", "get_history"])
@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"days": 3, "from": "2026-01-01", "to": "2026-01-02"}, "days"),
        ({"from": "2026-01-05", "to": "2026-01-04"}, "to"),
        ({"from": "2025-01-01", "to": "2026-01-02"}, "to"),
        ({"from": "2026-02-30", "to": "2026-03-01"}, "from"),
        ({"from": "1767225600", "to": "2026-03-01"}, "from"),
        ({"from": "2026-01-01"}, "to"),
        ({"to": "2026-01-01"}, "from"),
    ],
)
def test_bad_windows_are_refused(client, function, params, field):
    response = get(client, function, driver_id="x", **params)
    if function == "top_performers":
        response = get(client, function, **params)
    assert response.status_code == 400
    assert error_of(response)["field"] == field


def test_a_366_day_window_is_the_longest(client):
    response = get(client, "top_performers", **{"from": "2025-01-01", "to": "2026-01-01"})
    assert response.status_code == 200
    response = get(client, "top_performers", **{"from": "2025-01-01", "to": "2026-01-02"})
    assert response.status_code == 400


def test_min_days_leaves_out_one_lucky_day(fresh_engine, client):
    add_days(fresh_engine, ("lucky", 1, 50), ("steady", 1, 10), ("steady", 2, 10))
    assert ranks(board(client, metric="deliveries")) == [(1, "lucky"), (2, "steady")]
    assert ranks(board(client, metric="deliveries", min_days=2)) == [(1, "steady")]


def test_team_filter_uses_the_team_of_each_day(fresh_engine, client):
    # "mover" was in north two days ago, in south yesterday.
    add_days(
        fresh_engine,
        ("mover", 2, 9, "north"),
        ("mover", 1, 1, "south"),
        ("n1", 1, 5, "north"),
        ("s1", 1, 3, "south"),
    )
    north = board(client, metric="deliveries", team="north")
    assert ranks(north) == [(1, "mover"), (2, "n1")]
    assert north["performers"][0]["total_deliveries"] == 9
    assert ranks(board(client, metric="deliveries", team="south")) == [(1, "s1"), (2, "mover")]


def test_teams_board(fresh_engine, client):
    add_days(
        fresh_engine,
        ("n1", 1, 10, "north", 0, 100),
        ("n2", 1, 5, "north", 0, 50),
        ("s1", 1, 20, "south", 0, 0),
        ("x1", 1, 99),  # no team: not on the teams board
    )
    body = board(client, group_by="team", metric="deliveries")
    counts = ("drivers", "total_deliveries", "days_achieved", "active_minutes")
    assert all(isinstance(row[name], int) for row in body["teams"] for name in counts)
    assert body["teams"] == [
        {
            "rank": 1,
            "team": "south",
            "drivers": 1,
            "total_deliveries": 20,
            "total_revenue": 0,
            "avg_achievement": 100.0,
            "days_achieved": 0,
            "active_minutes": 0,
            "deliveries_per_active_hour": None,
        },
        {
            "rank": 2,
            "team": "north",
            "drivers": 2,
            "total_deliveries": 15,
            "total_revenue": 150,
            "avg_achievement": 75.0,
            "days_achieved": 1,
            "active_minutes": 0,
            "deliveries_per_active_hour": None,
        },
    ]


def test_compare_previous_shows_movement(fresh_engine, client):
    # Window: the last 2 days (days=1 -> yesterday and today); previous: the 2 days before.
    add_days(
        fresh_engine,
        ("a", 3, 10),
        ("b", 3, 5),
        ("c", 3, 1),
        ("a", 1, 2),
        ("b", 1, 8),
        ("c", 1, 4),
        ("new", 1, 3),
    )
    body = board(client, metric="deliveries", days=1, compare="previous")
    rows = {row["driver_id"]: row for row in body["performers"]}
    assert ranks(body) == [(1, "b"), (2, "c"), (3, "new"), (4, "a")]
    assert (rows["b"]["previous_rank"], rows["b"]["rank_change"]) == (2, 1)
    assert (rows["c"]["previous_rank"], rows["c"]["rank_change"]) == (3, 1)
    assert (rows["a"]["previous_rank"], rows["a"]["rank_change"]) == (1, -3)
    assert rows["b"]["change_pct"] == 60.0
    assert rows["a"]["change_pct"] == -80.0
    assert rows["new"]["previous_rank"] is None
    assert rows["new"]["rank_change"] is None
    assert rows["new"]["change_pct"] is None

    without = board(client, metric="deliveries", days=1)
    assert "previous_rank" not in without["performers"][0]


def test_compare_previous_for_teams(fresh_engine, client):
    add_days(
        fresh_engine,
        ("n1", 3, 10, "north"),
        ("s1", 3, 5, "south"),
        ("n1", 1, 1, "north"),
        ("s1", 1, 6, "south"),
    )
    body = board(client, group_by="team", metric="deliveries", days=1, compare="previous")
    assert [
        (row["team"], row["rank"], row["previous_rank"], row["rank_change"], row["change_pct"])
        for row in body["teams"]
    ] == [("south", 1, 2, 1, 20.0), ("north", 2, 1, -1, -90.0)]


def test_per_hour_ranks_by_active_time_and_needs_an_hour(fresh_engine, client):
    add_days(
        fresh_engine,
        ("fast", 1, 10, None, 60),  # 10 per hour
        ("slow", 1, 12, None, 240),  # 3 per hour
        ("brief", 1, 5, None, 59),  # under an hour: left out
    )
    body = board(client, metric="per_hour")
    assert ranks(body) == [(1, "fast"), (2, "slow")]
    assert [row["deliveries_per_active_hour"] for row in body["performers"]] == [10.0, 3.0]
    assert [row["active_minutes"] for row in body["performers"]] == [60, 240]
    assert "brief" in [row["driver_id"] for row in board(client, metric="deliveries")["performers"]]

    history = get(client, "get_history", driver_id="slow").get_json()["history"]
    assert history[0]["deliveries_per_active_hour"] == 3.0
    assert history[0]["active_minutes"] == 240


def test_live_board_ranks_the_open_day(fresh_engine, client):
    add_days(fresh_engine, ("old", 1, 100))
    post(client, "set_targets", [{"driver_id": d, "team": "live"} for d in ("l1", "l2")])
    post(client, "update_progress", {"driver_id": "l1", "deliveries": 2})
    post(client, "update_progress", {"driver_id": "l2", "deliveries": 5})

    body = board(client, live="true", metric="deliveries")
    assert (body["from"], body["to"], body["live"]) == (day(0), day(0), True)
    assert ranks(body) == [(1, "l2"), (2, "l1")]
    assert ranks(board(client, live="true", metric="deliveries", team="live", limit=1)) == [
        (1, "l2")
    ]
    teams = board(client, live="true", group_by="team", metric="deliveries")["teams"]
    assert [(row["team"], row["total_deliveries"]) for row in teams] == [("live", 7)]


@pytest.mark.parametrize("window", [{"days": 3}, {"from": "2026-01-01", "to": "2026-01-02"}])
def test_live_with_a_window_is_refused(client, window):
    response = get(client, "top_performers", live="true", **window)
    assert response.status_code == 400
    assert error_of(response)["field"] == "live"


def test_a_drivers_own_view(fresh_engine, client):
    add_days(fresh_engine, ("a", 1, 9), ("b", 1, 8), ("c", 1, 7), ("me", 1, 1))
    body = board(client, metric="deliveries", limit=2, viewer="me", anonymize="true")
    assert [(row["rank"], row["driver_id"], row["is_viewer"]) for row in body["performers"]] == [
        (1, None, False),
        (2, None, False),
        (4, "me", True),
    ]

    inside = board(client, metric="deliveries", limit=2, viewer="a")
    assert [(row["driver_id"], row["is_viewer"]) for row in inside["performers"]] == [
        ("a", True),
        ("b", False),
    ]


def test_a_viewer_with_no_day_in_the_window_still_gets_a_row(fresh_engine, client):
    add_days(fresh_engine, ("a", 1, 9))
    add_drivers(fresh_engine, "idle")
    body = board(client, viewer="idle", anonymize="true")
    assert body["performers"][-1] == {
        "rank": None,
        "driver_id": "idle",
        "days_worked": 0,
        "total_deliveries": 0,
        "total_revenue": 0,
        "avg_achievement": None,
        "days_achieved": 0,
        "active_minutes": 0,
        "deliveries_per_active_hour": None,
        "is_viewer": True,
    }


def test_an_unknown_viewer_is_404(client):
    response = get(client, "top_performers", viewer="nobody-at-all", anonymize="true")
    assert response.status_code == 404
    assert error_of(response) == {
        "code": "driver_not_found",
        "message": "driver 'nobody-at-all' not found",
        "field": "viewer",
    }


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"group_by": "region"}, "group_by"),
        ({"metric": "speed"}, "metric"),
        ({"format": "xml"}, "format"),
        ({"compare": "last_year"}, "compare"),
        ({"min_days": "0"}, "min_days"),
        ({"live": "maybe"}, "live"),
        ({"group_by": "team", "viewer": "x"}, "viewer"),
        ({"team": ""}, "team"),
    ],
)
def test_unknown_values_are_refused(client, params, field):
    response = get(client, "top_performers", **params)
    assert response.status_code == 400
    assert error_of(response)["field"] == field


def _plan(engine, statement, **params):
    with engine.begin() as conn:
        conn.execute(sa.text("SET LOCAL enable_seqscan = off"))
        return "\n".join(conn.execute(sa.text("EXPLAIN " + statement), params).scalars())


def test_board_indexes_serve_the_boards(engine):
    window = "date BETWEEN CAST(:a AS date) AND CAST(:b AS date)"
    columns = "driver_id, deliveries_completed, achievement_percentage, active_seconds"
    params = {"a": days_ago(60), "b": days_ago(0)}
    team_plan = _plan(
        engine,
        f"SELECT {columns} FROM driver_performance_history WHERE team = 'north' AND {window}",
        **params,
    )
    assert "driver_performance_history_team_date_idx" in team_plan, team_plan
    all_plan = _plan(
        engine, f"SELECT team, {columns} FROM driver_performance_history WHERE {window}", **params
    )
    assert "driver_performance_history_date_board_idx" in all_plan, all_plan


def test_compare_previous_on_achievement_and_per_hour(fresh_engine, client):
    # (driver, days ago, deliveries, team, active minutes, revenue); targets are 10 and 100.
    add_days(
        fresh_engine,
        ("a", 3, 5, None, 60, 50),  # previous: 50 %, 5 per hour
        ("a", 1, 10, None, 60, 100),  # current: 100 %, 10 per hour
        ("b", 3, 10, None, 30, 100),  # previous: under an hour, not ranked on per_hour
        ("b", 1, 2, None, 120, 20),
    )
    achievement = board(client, days=1, compare="previous")["performers"]
    assert [
        (r["driver_id"], r["rank"], r["previous_rank"], r["change_pct"]) for r in achievement
    ] == [
        ("a", 1, 2, 100.0),
        ("b", 2, 1, -80.0),
    ]
    per_hour = board(client, days=1, compare="previous", metric="per_hour")["performers"]
    assert [(r["driver_id"], r["previous_rank"], r["change_pct"]) for r in per_hour] == [
        ("a", 1, 100.0),
        ("b", None, None),
    ]
