"""Nothing closes a day, writes or counts that the contract does not allow: a snapshot needs a
JSON object (or no body) and an ISO date string; money as a string is the documented decimal;
occurred_at is an RFC 3339 string (issue 16, points 1 and 3)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from tests.helpers import error_of, get, post


@pytest.mark.parametrize("body", [[], 0, False, "", "2026-01-01", [{"date": "2026-01-01"}]])
def test_a_snapshot_body_that_is_not_an_object_closes_nothing(client: Any, body: Any) -> None:
    response = post(client, "snapshot_daily", body)
    assert response.status_code == 400, response.get_json()
    assert error_of(response)["code"] == "invalid_input"


@pytest.mark.parametrize("date", [20260101, "20260101", "2026-01-01T00:00:00", 1.5e9, True])
def test_a_snapshot_date_is_an_iso_date_string_only(client: Any, date: Any) -> None:
    response = post(client, "snapshot_daily", {"date": date})
    assert response.status_code == 400, response.get_json()
    assert error_of(response)["field"] == "date"


@pytest.mark.parametrize(
    "revenue",
    ["1e3", "1_000", " 5 ", "+5", "5.", ".5", "5.123", "\u0665", "\uff15", "0x10", "NaN", "1,5"],
)
def test_money_strings_outside_the_documented_pattern_write_nothing(
    client: Any, driver_id: str, revenue: str
) -> None:
    assert post(client, "set_targets", [{"driver_id": driver_id}]).status_code == 200
    response = post(client, "update_progress", {"driver_id": driver_id, "revenue": revenue})
    assert response.status_code == 400, (revenue, response.get_json())
    assert error_of(response)["field"] == "revenue"
    refused = post(client, "set_targets", [{"driver_id": driver_id, "target_revenue": revenue}])
    assert refused.status_code == 400, revenue
    assert error_of(refused)["field"] == "drivers[0].target_revenue"
    driver = get(client, "get_targets", driver_id=driver_id).get_json()
    assert (driver["current_revenue"], driver["target_revenue"]) == (0, 5000)


@pytest.mark.parametrize("revenue", ["42", "42.5", "42.50", "-3.25", "0"])
def test_documented_money_strings_are_accepted(client: Any, driver_id: str, revenue: str) -> None:
    assert post(client, "set_targets", [{"driver_id": driver_id}]).status_code == 200
    body = {"driver_id": driver_id, "revenue": revenue, "deliveries": 1}
    if revenue.startswith("-"):
        body["revenue"] = "10"
        assert post(client, "update_progress", body).status_code == 200
        body["revenue"] = revenue
    response = post(client, "update_progress", body)
    assert response.status_code == 200, response.get_json()


@pytest.mark.parametrize(
    "occurred_at",
    [
        1764580000,
        1764580000.5,
        "1764580000",
        "2026-12-01",
        "2026-12-01T09:30",
        "2026-12-01T09:30:00",
        "2026-12-01 09:30:00Z garbage",
        "\u0662\u0660\u0662\u0666-12-01T09:30:00Z",
    ],
)
def test_occurred_at_is_an_rfc_3339_string_only(
    client: Any, driver_id: str, occurred_at: Any
) -> None:
    assert post(client, "set_targets", [{"driver_id": driver_id}]).status_code == 200
    event = {"driver_id": driver_id, "deliveries": 1, "occurred_at": occurred_at}
    response = post(client, "update_progress", event)
    assert response.status_code == 400, (occurred_at, response.get_json())
    assert error_of(response)["field"] == "occurred_at"
    assert get(client, "get_targets", driver_id=driver_id).get_json()["current_deliveries"] == 0


def test_an_rfc_3339_time_with_an_offset_counts(client: Any, driver_id: str) -> None:
    assert post(client, "set_targets", [{"driver_id": driver_id}]).status_code == 200
    now = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()
    for moment in (now, now.replace("+00:00", "Z")):
        event = {"driver_id": driver_id, "deliveries": 1, "occurred_at": moment}
        assert post(client, "update_progress", event).status_code == 200
    assert get(client, "get_targets", driver_id=driver_id).get_json()["current_deliveries"] == 2
