"""A past day that opened late (an event dated days ago, before any later day closed) or whose
nightly run never came is closed by the next snapshot: every open day before the day it closes
(never today or later), oldest first, each on its own and without a reset."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from werkzeug.test import Client

from tests.helpers import close_day, days_ago, get, noon, post, progress, set_target, today


def _history(client: Client, driver_id: str) -> dict[str, int]:
    rows = get(client, "get_history", driver_id=driver_id, days=10).get_json()["history"]
    return {row["date"]: row["deliveries_completed"] for row in rows}


def _days(engine: Engine) -> dict[dt.date, tuple[dt.datetime | None, bool]]:
    """Each business day: when it was closed (None: open) and whether it reset the statuses."""
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT business_date, closed_at, reset FROM business_days"))
        return {row.business_date: (row.closed_at, row.reset) for row in rows}


def _closed_announced(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return list(
            conn.execute(
                sa.text(
                    "SELECT data->>'date' FROM webhook_events WHERE event_type = 'day_closed'"
                    " ORDER BY created_at, id"
                )
            ).scalars()
        )


def _status(client: Client, driver_id: str) -> str:
    status: str = get(client, "get_targets", driver_id=driver_id).get_json()["status"]
    return status


def _iso(*days: dt.date) -> list[str]:
    return [day.isoformat() for day in days]


def test_the_nightly_run_closes_a_past_day_an_event_opened_late(
    fresh_engine: Engine, client: Client
) -> None:
    set_target(client, "late-5")
    # No later day is closed yet: the event is accepted and opens its own day.
    opened = progress(client, "late-5", deliveries=2, occurred_at=noon(days_ago(5)))
    assert (opened["business_date"], opened["day_closed"]) == (days_ago(5).isoformat(), False)

    response = post(client, "snapshot_daily", {})  # the scheduler's run: yesterday
    assert response.status_code == 200, response.get_json()
    reply: dict[str, Any] = response.get_json()
    assert reply["date"] == days_ago(1).isoformat()
    assert reply["also_closed"] == _iso(days_ago(5))
    assert _history(client, "late-5") == {days_ago(5).isoformat(): 2}
    board = get(client, "top_performers", days=10).get_json()["performers"]
    assert [(p["driver_id"], p["total_deliveries"]) for p in board] == [("late-5", 2)]
    assert [day for day, (closed, _) in _days(fresh_engine).items() if closed is None] == [today()]

    retry = close_day(client, days_ago(1))
    assert (retry["already_done"], retry["also_closed"]) == (True, [])


def test_open_days_close_oldest_first_each_on_its_own_without_a_reset(
    fresh_engine: Engine, client: Client
) -> None:
    set_target(client, "late-a", "late-b")
    progress(client, "late-a", deliveries=1, occurred_at=noon(days_ago(3)))
    progress(client, "late-b", deliveries=4, occurred_at=noon(days_ago(6)))
    progress(client, "late-a", deliveries=1, occurred_at=noon(days_ago(1)))
    progress(client, "late-a", status="busy")

    nightly = close_day(client, days_ago(1))
    assert (nightly["reset"], nightly["drivers_snapshotted"]) == (True, 1)
    assert nightly["also_closed"] == _iso(days_ago(6), days_ago(3))
    days = _days(fresh_engine)
    six, three, one = (days[days_ago(n)] for n in (6, 3, 1))
    assert six[0] is not None and three[0] is not None and one[0] is not None
    # Separate transactions (each its own now()), the oldest first; only the named day resets.
    assert six[0] < three[0] < one[0]
    assert (six[1], three[1], one[1]) == (False, False, True)
    assert _closed_announced(fresh_engine) == _iso(days_ago(6), days_ago(3), days_ago(1))
    assert _history(client, "late-a") == {
        days_ago(3).isoformat(): 1,
        days_ago(1).isoformat(): 1,
    }
    assert _history(client, "late-b") == {days_ago(6).isoformat(): 4}
    assert _status(client, "late-a") == "available"


def test_a_close_by_hand_of_an_old_day_closes_the_open_days_before_it_first(
    fresh_engine: Engine, client: Client
) -> None:
    set_target(client, "hand-1")
    for n in (5, 3, 1):
        progress(client, "hand-1", deliveries=n, occurred_at=noon(days_ago(n)))
    progress(client, "hand-1", status="break")

    old = close_day(client, days_ago(3))
    assert (old["reset"], old["also_closed"]) == (False, _iso(days_ago(5)))
    assert _status(client, "hand-1") == "break"  # a catch-up never resets today's statuses
    days = _days(fresh_engine)
    assert days[days_ago(1)][0] is None  # after the named day: left for its own run
    assert _history(client, "hand-1") == {
        days_ago(5).isoformat(): 5,
        days_ago(3).isoformat(): 3,
    }


def test_closing_tomorrow_by_hand_closes_the_past_days_but_never_today(
    fresh_engine: Engine, client: Client
) -> None:
    set_target(client, "hand-2")
    progress(client, "hand-2", deliveries=2, occurred_at=noon(days_ago(1)))
    progress(client, "hand-2", deliveries=1)

    tomorrow = close_day(client, today() + dt.timedelta(days=1), reset=False)
    assert (tomorrow["drivers_snapshotted"], tomorrow["also_closed"]) == (0, _iso(days_ago(1)))
    assert _days(fresh_engine)[today()][0] is None
    assert get(client, "get_targets", driver_id="hand-2").get_json()["current_deliveries"] == 1
    assert _history(client, "hand-2") == {days_ago(1).isoformat(): 2}
