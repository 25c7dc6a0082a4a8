"""set_targets keeps what the request leaves out (issue 16, point 7): an existing driver keeps a
target it does not name, a new one gets the defaults, and today's progress is never erased
unless the driver's item asks for it with `restart_day`."""

from __future__ import annotations

from typing import Any

from werkzeug.test import Client

from tests.helpers import error_of, get, post, progress, set_target


def driver(client: Client, driver_id: str) -> dict[str, Any]:
    response = get(client, "get_targets", driver_id=driver_id)
    assert response.status_code == 200, response.get_json()
    return dict(response.get_json())


def targets_and_progress(client: Client, driver_id: str) -> tuple[Any, ...]:
    row = driver(client, driver_id)
    return (
        row["target_deliveries"],
        row["target_revenue"],
        row["current_deliveries"],
        row["current_revenue"],
    )


def worked(client: Client, driver_id: str) -> None:
    """A driver with targets 30 / 700.50 and progress 4 / 80.50 today, busy."""
    set_target(client, driver_id, deliveries=30, revenue="700.50")
    progress(client, driver_id, deliveries=4, revenue="80.50", status="busy")


def test_only_a_team_keeps_the_targets_and_todays_progress(client: Client, driver_id: str) -> None:
    worked(client, driver_id)
    team = f"t{driver_id}"
    response = post(client, "set_targets", [{"driver_id": driver_id, "team": team}])
    assert response.status_code == 200, response.get_json()
    assert targets_and_progress(client, driver_id) == (30, 700.5, 4, 80.5)
    row = driver(client, driver_id)
    assert (row["team"], row["status"]) == (team, "available")  # the status still resets


def test_one_target_given_keeps_the_other_and_the_progress(client: Client, driver_id: str) -> None:
    worked(client, driver_id)
    assert (
        post(client, "set_targets", [{"driver_id": driver_id, "target_deliveries": 5}]).status_code
        == 200
    )
    assert targets_and_progress(client, driver_id) == (5, 700.5, 4, 80.5)
    # The new target counts against today's progress already (4 of 5, not 4 of 30).
    assert driver(client, driver_id)["deliveries_percentage"] == 80


def test_a_new_driver_without_targets_gets_the_defaults(client: Client, driver_id: str) -> None:
    team = f"t{driver_id}"
    assert post(client, "set_targets", [{"driver_id": driver_id, "team": team}]).status_code == 200
    assert targets_and_progress(client, driver_id) == (20, 5000, 0, 0)


def test_restart_day_zeroes_todays_progress(client: Client, driver_id: str) -> None:
    worked(client, driver_id)
    other = f"{driver_id}-b"
    worked(client, other)
    body = [{"driver_id": driver_id, "restart_day": True}, {"driver_id": other}]
    assert post(client, "set_targets", body).status_code == 200
    # Only the driver that asked is restarted, and its targets are kept.
    assert targets_and_progress(client, driver_id) == (30, 700.5, 0, 0)
    assert targets_and_progress(client, other) == (30, 700.5, 4, 80.5)


def test_restart_day_takes_a_boolean_only(client: Client, driver_id: str) -> None:
    response = post(client, "set_targets", [{"driver_id": driver_id, "restart_day": "yes"}])
    assert response.status_code == 400
    assert error_of(response)["field"] == "drivers[0].restart_day"


def test_an_explicit_zero_stays_zero(client: Client, driver_id: str) -> None:
    worked(client, driver_id)
    body = [{"driver_id": driver_id, "target_deliveries": 0, "target_revenue": 0}]
    assert post(client, "set_targets", body).status_code == 200
    assert targets_and_progress(client, driver_id) == (0, 0, 4, 80.5)


def test_a_csv_with_only_driver_id_and_team_keeps_the_targets(
    client: Client, driver_id: str
) -> None:
    worked(client, driver_id)
    team = f"t{driver_id}"
    response = client.post(
        "/set_targets",
        data=f"driver_id,team\n{driver_id},{team}\n",
        content_type="text/csv; charset=utf-8",
    )
    assert response.status_code == 200, response.get_json()
    assert targets_and_progress(client, driver_id) == (30, 700.5, 4, 80.5)
    assert driver(client, driver_id)["team"] == team
