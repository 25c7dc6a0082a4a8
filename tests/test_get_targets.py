"""get_targets: one driver with today's progress and percentages, or keyset pages of drivers."""

from __future__ import annotations

import datetime as dt
import os

import pytest

from shared.settings import get_settings
from tests.helpers import error_of, get, post


def test_one_driver_shows_targets_progress_and_percentages(client, driver_id):
    post(
        client,
        "set_targets",
        [{"driver_id": driver_id, "target_deliveries": 10, "target_revenue": "1000"}],
    )
    post(client, "update_progress", {"driver_id": driver_id, "deliveries": 5, "revenue": "250"})
    response = get(client, "get_targets", driver_id=driver_id)
    assert response.status_code == 200
    body = response.get_json()
    assert body["driver_id"] == driver_id
    assert body["status"] == "available"
    assert (body["target_deliveries"], body["target_revenue"]) == (10, 1000)
    assert (body["current_deliveries"], body["current_revenue"]) == (5, 250)
    assert (body["deliveries_percentage"], body["revenue_percentage"]) == (50, 25)
    assert body["achievement_percentage"] == 37.5
    assert body["deliveries_target_reached"] is False
    assert body["revenue_target_reached"] is False
    assert body["target_achieved"] is False
    assert dt.datetime.fromisoformat(body["updated_at"]).tzinfo is not None

    post(client, "update_progress", {"driver_id": driver_id, "deliveries": 5, "status": "busy"})
    body = get(client, "get_targets", driver_id=driver_id).get_json()
    assert body["deliveries_target_reached"] is True
    assert body["revenue_target_reached"] is False
    assert body["target_achieved"] is False
    assert body["status"] == "busy"


def test_an_unknown_driver_is_404(client, driver_id):
    response = get(client, "get_targets", driver_id=driver_id)
    assert response.status_code == 404
    error = error_of(response)
    assert (error["code"], error["field"]) == ("driver_not_found", "driver_id")


def page_through(client, **params):
    """Every page of the list in order, and the cursors seen."""
    pages, after = [], None
    while True:
        query = dict(params, **({"after": after} if after else {}))
        response = get(client, "get_targets", **query)
        assert response.status_code == 200, response.get_json()
        body = response.get_json()
        assert set(body) == {"drivers", "next_after"}
        pages.append([d["driver_id"] for d in body["drivers"]])
        after = body["next_after"]
        if after is None:
            return pages
        assert after == pages[-1][-1]


def test_keyset_pages_cover_every_driver_once_in_order(fresh_engine, client):
    # Letters and digits of equal length sort the same under any collation.
    ids = [f"pg{n:03d}" for n in range(25)]
    post(client, "set_targets", [{"driver_id": i} for i in reversed(ids)])

    pages = page_through(client, limit=7)
    assert [len(p) for p in pages] == [7, 7, 7, 4]
    assert [d for page in pages for d in page] == ids

    assert page_through(client, limit=25) == [ids]
    assert page_through(client) == [ids]  # default limit 100
    assert page_through(client, limit=5, after="pg019") == [ids[20:]]
    assert page_through(client, after="pg024") == [[]]


def test_status_filter_pages_within_one_status(fresh_engine, client):
    ids = [f"st{n:03d}" for n in range(10)]
    post(client, "set_targets", [{"driver_id": i} for i in ids])
    busy = ids[1::3]
    for driver in busy:
        post(client, "update_progress", {"driver_id": driver, "status": "busy"})

    assert [d for page in page_through(client, status="busy", limit=2) for d in page] == busy
    available = [d for page in page_through(client, status="available", limit=3) for d in page]
    assert available == [i for i in ids if i not in busy]
    assert page_through(client, status="offline") == [[]]
    body = get(client, "get_targets", status="busy").get_json()
    assert {d["status"] for d in body["drivers"]} == {"busy"}


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("limit=0", "limit"),
        ("limit=1001", "limit"),
        ("limit=abc", "limit"),
        ("limit=1.5", "limit"),
        ("limit=", "limit"),
        ("status=flying", "status"),
        ("status=BUSY", "status"),
        ("colour=red", "colour"),
        ("limit=1&limit=2", "limit"),
        ("status=busy&status=break", "status"),
        ("driver_id=", "driver_id"),
        ("after=" + "x" * 65, "after"),
    ],
)
def test_bad_query_values_are_400(client, query, field):
    response = client.get(f"/get_targets?{query}")
    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "invalid_input"
    assert error["field"] == field


def test_driver_id_cannot_be_combined_with_list_parameters(client, driver_id):
    post(client, "set_targets", [{"driver_id": driver_id}])
    response = client.get(f"/get_targets?driver_id={driver_id}&limit=5")
    assert response.status_code == 400
    assert error_of(response)["code"] == "invalid_input"


def test_other_methods_are_405(client):
    response = post(client, "get_targets", {})
    assert response.status_code == 405
    assert response.headers["Allow"] == "GET"


@pytest.mark.parametrize("zone", ["Etc/GMT-14", "Etc/GMT+12"])
def test_the_day_shown_is_the_fleets_business_day(client, driver_id, zone):
    """Not the database server's CURRENT_DATE: the zones are 26 hours apart, so at least one of
    them is on another date than UTC."""
    post(client, "set_targets", [{"driver_id": driver_id}])
    os.environ["FLEET_TIMEZONE"] = zone
    get_settings.cache_clear()
    try:
        body = get(client, "get_targets", driver_id=driver_id).get_json()
        expected = dt.datetime.now(get_settings().timezone).date().isoformat()
    finally:
        os.environ["FLEET_TIMEZONE"] = "UTC"
        get_settings.cache_clear()
    assert body["business_date"] == expected
