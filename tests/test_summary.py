"""get_targets?summary=true: the open day in numbers, for the fleet or one team."""

from __future__ import annotations

import pytest

from tests.helpers import error_of, get, post


def test_summary_of_the_fleet_and_of_one_team(fresh_engine, client):
    post(
        client,
        "set_targets",
        [
            {"driver_id": "a", "team": "north", "target_deliveries": 2, "target_revenue": 10},
            {"driver_id": "b", "team": "north", "target_deliveries": 5, "target_revenue": 0},
            {"driver_id": "c", "team": "south", "target_deliveries": 1, "target_revenue": 50},
        ],
    )
    post(client, "update_progress", {"driver_id": "a", "deliveries": 2, "revenue": 12.5})
    post(client, "update_progress", {"driver_id": "b", "deliveries": 1, "status": "busy"})
    post(client, "update_progress", {"driver_id": "c", "status": "offline"})

    fleet = get(client, "get_targets", summary="true").get_json()
    assert fleet == {
        "team": None,
        "drivers": 3,
        "by_status": {"available": 1, "busy": 1, "break": 0, "offline": 1},
        "deliveries": {"done": 3, "target": 8},
        "revenue": {"done": 12.5, "target": 60},
        "reached_deliveries": 1,
        "reached_revenue": 2,
    }

    north = get(client, "get_targets", summary="true", team="north").get_json()
    assert north["drivers"] == 2
    assert north["by_status"] == {"available": 1, "busy": 1, "break": 0, "offline": 0}
    assert north["deliveries"] == {"done": 3, "target": 7}
    assert (north["reached_deliveries"], north["reached_revenue"]) == (1, 2)


def test_summary_of_an_empty_team(client):
    body = get(client, "get_targets", summary="true", team="no-such-team").get_json()
    assert body["drivers"] == 0
    assert body["deliveries"] == {"done": 0, "target": 0}


@pytest.mark.parametrize("extra", [{"status": "busy"}, {"limit": "5"}, {"after": "a"}])
def test_summary_takes_only_team(client, extra):
    response = get(client, "get_targets", summary="true", **extra)
    assert response.status_code == 400
    assert error_of(response)["field"] == "summary"
