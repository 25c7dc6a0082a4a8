"""get_history: a driver's closed days in a window of `days`, newest first."""

from __future__ import annotations

import pytest
from werkzeug.test import Client

from shared.db.instance import get_engine
from tests.helpers import (
    add_history,
    close_day,
    days_ago,
    error_of,
    get,
    noon,
    post,
    progress,
    using_database,
)


def worked_and_closed(client, days, progress_by_driver):
    """Posts {driver_id: (deliveries, revenue)} at noon `days` ago, then closes that day."""
    for driver, (deliveries, revenue) in progress_by_driver.items():
        progress(
            client, driver, deliveries=deliveries, revenue=revenue, occurred_at=noon(days_ago(days))
        )
    closed = close_day(client, days_ago(days))
    assert closed["drivers_snapshotted"] == len(progress_by_driver)


@pytest.fixture(scope="module")
def three_days(databases, session_database, app):
    """One database for the module: driver "h" closed 31, 30, 5, 3 and 1 days ago; "idle" has
    targets and no closed day."""
    with using_database(databases.create_migrated()):
        client = Client(app)
        post(
            client,
            "set_targets",
            [
                {"driver_id": "h", "target_deliveries": 10, "target_revenue": "100"},
                {"driver_id": "idle"},
            ],
        )
        worked_and_closed(client, 5, {"h": (20, "0")})
        worked_and_closed(client, 3, {"h": (5, "50")})
        worked_and_closed(client, 1, {"h": (10, "100.5")})
        # Days beyond LATE_EVENT_DAYS cannot be reached by events any more: written directly.
        add_history(
            get_engine(),
            *(
                {"driver_id": "h", "date": days_ago(n), "deliveries": 1, "revenue": 1}
                for n in (30, 31)
            ),
        )
        yield


def history(client, **params):
    response = get(client, "get_history", driver_id="h", **params)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_rows_are_newest_first_with_their_figures(three_days, client):
    body = history(client, days=5)
    assert body["driver_id"] == "h"
    rows = body["history"]
    assert [r["date"] for r in rows] == [
        days_ago(1).isoformat(),
        days_ago(3).isoformat(),
        days_ago(5).isoformat(),
    ]
    figures = [
        (
            r["deliveries_completed"],
            r["revenue_generated"],
            r["target_deliveries"],
            r["target_revenue"],
            r["achievement_percentage"],
            r["target_achieved"],
        )
        for r in rows
    ]
    assert figures == [
        (10, 100.5, 10, 100, 100.25, True),
        (5, 50, 10, 100, 50, False),
        # Mean of 200 % and 0 %: over the target on deliveries is not achieving the day.
        (20, 0, 10, 100, 100, False),
    ]


def test_days_is_the_window_and_a_driver_without_closed_days_has_none(three_days, client):
    windows = {1: [1], 2: [1], 3: [1, 3], 4: [1, 3], 5: [1, 3, 5], 366: [1, 3, 5, 30, 31]}
    for days, expected in windows.items():
        rows = history(client, days=days)["history"]
        assert [r["date"] for r in rows] == [days_ago(n).isoformat() for n in expected], days
    # Without days: the last 30.
    assert [r["date"] for r in history(client)["history"]] == [
        days_ago(n).isoformat() for n in (1, 3, 5, 30)
    ]

    response = get(client, "get_history", driver_id="idle")
    assert response.status_code == 200
    assert response.get_json()["history"] == []


def test_an_unknown_driver_is_404(client, driver_id):
    response = get(client, "get_history", driver_id=driver_id)
    assert response.status_code == 404
    assert error_of(response)["code"] == "driver_not_found"


@pytest.mark.parametrize(
    "days", ["0", "367", "-1", "abc", "1.5", "1;DROP TABLE driver_targets", "", "1e2"]
)
def test_days_must_be_an_integer_from_1_to_366(client, driver_id, days):
    post(client, "set_targets", [{"driver_id": driver_id}])
    response = get(client, "get_history", driver_id=driver_id, days=days)
    assert response.status_code == 400
    error = error_of(response)
    assert (error["code"], error["field"]) == ("invalid_input", "days")


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("days=5", "driver_id"),
        ("driver_id=a&limit=3", "limit"),
        ("driver_id=a&driver_id=b", "driver_id"),
    ],
)
def test_other_bad_queries_are_400(client, query, field):
    response = client.get(f"/get_history?{query}")
    assert response.status_code == 400
    assert error_of(response)["field"] == field
