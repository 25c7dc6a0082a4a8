"""top_performers: drivers ranked over a window of closed days by achievement, deliveries or
revenue; ties share a rank (1, 2, 2, 4) and are listed by driver_id."""

from __future__ import annotations

import pytest

from shared.db.instance import get_engine
from tests.helpers import add_history, days_ago, error_of, get, using_database

FIELDS = (
    "rank",
    "driver_id",
    "days_worked",
    "total_deliveries",
    "total_revenue",
    "avg_achievement",
    "days_achieved",
)

# (driver_id, days ago, deliveries, revenue); every target is 10 deliveries and 100 revenue.
# One day ago: achievement bravo 205, charlie 175, delta 175, alpha 100.
HISTORY = [
    ("delta", 1, 5, 300),
    ("alpha", 1, 10, 100),
    ("charlie", 1, 5, 300),
    ("bravo", 1, 1, 400),
    ("alpha", 10, 30, 0),
    ("echo", 40, 1000, 0),
]


@pytest.fixture(scope="module")
def board(databases, session_database):
    """One database for the module: the history above, read by every test here."""
    with using_database(databases.create_migrated()):
        add_history(
            get_engine(),
            *(
                {"driver_id": d, "date": days_ago(n), "deliveries": deliveries, "revenue": revenue}
                for d, n, deliveries, revenue in HISTORY
            ),
        )
        yield


def ranking(client, **params):
    response = get(client, "top_performers", **params)
    assert response.status_code == 200, response.get_json()
    return [tuple(p[f] for f in FIELDS) for p in response.get_json()["performers"]]


def ranks(client, **params):
    return [(rank, driver) for rank, driver, *_ in ranking(client, **params)]


def test_each_metric_orders_ties_share_a_rank(board, client):
    assert ranks(client, days=5, metric="deliveries") == [
        (1, "alpha"),
        (2, "charlie"),
        (2, "delta"),
        (4, "bravo"),
    ]
    assert ranks(client, days=5, metric="revenue") == [
        (1, "bravo"),
        (2, "charlie"),
        (2, "delta"),
        (4, "alpha"),
    ]
    expected_achievement = [(1, "bravo"), (2, "charlie"), (2, "delta"), (4, "alpha")]
    assert ranks(client, days=5, metric="achievement") == expected_achievement
    assert ranks(client, days=5) == expected_achievement  # the default metric


def test_the_figures_sum_the_window(board, client):
    by_driver = {row[1]: row for row in ranking(client, metric="deliveries")}
    assert set(by_driver) == {"alpha", "bravo", "charlie", "delta"}  # echo is 40 days back
    # alpha: 10/100 one day ago (achieved, 100 %) and 30/0 ten days ago (not achieved, 150 %).
    assert by_driver["alpha"] == (1, "alpha", 2, 40, 100, 125, 1)
    assert by_driver["bravo"] == (4, "bravo", 1, 1, 400, 205, 0)
    assert by_driver["charlie"][2:] == (1, 5, 300, 175, 0)

    assert ranks(client, days=366, metric="deliveries")[:2] == [(1, "echo"), (2, "alpha")]


def test_limit_cuts_the_board(board, client):
    assert ranks(client, days=5, limit=2) == [(1, "bravo"), (2, "charlie")]
    assert ranks(client, days=5, limit=1, metric="revenue") == [(1, "bravo")]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("days=0", "days"),
        ("days=367", "days"),
        ("days=abc", "days"),
        ("days=1.5", "days"),
        ("days=", "days"),
        ("days=1;DROP TABLE driver_targets", "days"),
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("limit=ten", "limit"),
        ("metric=speed", "metric"),
        ("metric=", "metric"),
        ("metric=deliveries;--", "metric"),
        ("colour=red", "colour"),
        ("days=5&days=6", "days"),
    ],
)
def test_bad_parameters_are_400(client, query, field):
    response = client.get(f"/top_performers?{query}")
    assert response.status_code == 400
    error = error_of(response)
    assert (error["code"], error["field"]) == ("invalid_input", field)


def test_other_methods_are_405(client):
    response = client.post("/top_performers")
    assert response.status_code == 405
    assert response.headers["Allow"] == "GET"
