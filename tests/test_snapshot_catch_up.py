"""Closing an old day by hand (a catch-up) never resets today's live statuses: they are
today's, not the closed day's. Only the nightly close (yesterday, or later) resets."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from typing import Any

from tests.helpers import get, post


def _day(days_ago: int) -> dt.date:
    return dt.datetime.now(dt.UTC).date() - dt.timedelta(days=days_ago)


def _status(client: Any, driver_id: str) -> str:
    status: str = get(client, "get_targets", driver_id=driver_id).get_json()["status"]
    return status


def _close(client: Any, day: dt.date) -> dict[str, Any]:
    response = post(client, "snapshot_daily", {"date": day.isoformat(), "reset": True})
    assert response.status_code == 200, response.get_json()
    body: dict[str, Any] = response.get_json()
    return body


def test_closing_a_day_before_yesterday_keeps_todays_statuses(
    fresh_engine: Any, client: Any
) -> None:
    assert post(client, "set_targets", [{"driver_id": "busy-1"}]).status_code == 200
    late = {"driver_id": "busy-1", "deliveries": 2, "occurred_at": f"{_day(3)}T12:00:00Z"}
    assert post(client, "update_progress", late).status_code == 200
    assert (
        post(client, "update_progress", {"driver_id": "busy-1", "status": "busy"}).status_code
        == 200
    )

    old = _close(client, _day(3))
    assert (old["reset"], old["already_done"], old["drivers_snapshotted"]) == (False, False, 1)
    assert _status(client, "busy-1") == "busy"

    nightly = _close(client, _day(1))
    assert (nightly["reset"], nightly["already_done"]) == (True, False)
    assert _status(client, "busy-1") == "available"


def test_the_cli_catch_up_keeps_statuses_too(fresh_engine: Any, client: Any) -> None:
    assert post(client, "set_targets", [{"driver_id": "busy-2"}]).status_code == 200
    assert (
        post(client, "update_progress", {"driver_id": "busy-2", "status": "break"}).status_code
        == 200
    )
    # fresh_engine pointed DATABASE_URL at this test's own database.
    url = os.environ["DATABASE_URL"]
    closed = subprocess.run(
        [sys.executable, "-m", "ops.cli", "snapshot", "--date", _day(5).isoformat()],
        env={"DATABASE_URL": url, "PATH": "/usr/bin:/bin", "FLEET_TIMEZONE": "UTC"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert closed.returncode == 0, closed.stderr
    assert '"reset": false' in closed.stdout
    assert _status(client, "busy-2") == "break"
