"""Closing an old day by hand (a catch-up) never resets today's live statuses: they are
today's, not the closed day's. Only the nightly close (yesterday, or later) resets."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest

from tests.helpers import (
    PROJECT_ROOT,
    child_env,
    close_day,
    current_database_url,
    days_ago,
    get,
    post,
)


def _status(client: Any, driver_id: str) -> str:
    status: str = get(client, "get_targets", driver_id=driver_id).get_json()["status"]
    return status


def test_closing_a_day_before_yesterday_keeps_todays_statuses(
    fresh_engine: Any, client: Any
) -> None:
    assert post(client, "set_targets", [{"driver_id": "busy-1"}]).status_code == 200
    late = {"driver_id": "busy-1", "deliveries": 2, "occurred_at": f"{days_ago(3)}T12:00:00Z"}
    assert post(client, "update_progress", late).status_code == 200
    assert (
        post(client, "update_progress", {"driver_id": "busy-1", "status": "busy"}).status_code
        == 200
    )

    old = close_day(client, days_ago(3))
    assert (old["reset"], old["already_done"], old["drivers_snapshotted"]) == (False, False, 1)
    assert _status(client, "busy-1") == "busy"

    nightly = close_day(client, days_ago(1))
    assert (nightly["reset"], nightly["already_done"]) == (True, False)
    assert _status(client, "busy-1") == "available"


@pytest.mark.slow
def test_the_cli_catch_up_keeps_statuses_too(fresh_engine: Any, client: Any) -> None:
    assert post(client, "set_targets", [{"driver_id": "busy-2"}]).status_code == 200
    assert (
        post(client, "update_progress", {"driver_id": "busy-2", "status": "break"}).status_code
        == 200
    )
    closed = subprocess.run(
        [sys.executable, "-m", "ops.cli", "snapshot", "--date", days_ago(5).isoformat()],
        cwd=PROJECT_ROOT,
        env=child_env(current_database_url()),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert closed.returncode == 0, closed.stderr
    assert '"reset": false' in closed.stdout
    assert _status(client, "busy-2") == "break"
