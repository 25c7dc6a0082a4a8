"""The nightly snapshot: closes one business day into history and starts the next, atomically."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from shared.db import transaction
from shared.errors import InvalidInput

_CLAIM_DAY = sa.text("""
INSERT INTO business_days (business_date) VALUES (:date) ON CONFLICT DO NOTHING
""")

# FOR UPDATE waits for every progress transaction that holds the day (FOR KEY SHARE) and keeps
# new ones out until this transaction ends; they then see the day closed.
_LOCK_DAY = sa.text("""
SELECT closed_at, drivers_snapshotted, reset FROM business_days
WHERE business_date = :date FOR UPDATE
""")

_MOVE_TO_HISTORY = sa.text("""
WITH closed AS (
    DELETE FROM driver_days WHERE business_date = :date
    RETURNING driver_id, business_date, current_deliveries, current_revenue,
              target_deliveries, target_revenue
)
INSERT INTO driver_performance_history
    (driver_id, date, deliveries_completed, revenue_generated, target_deliveries, target_revenue)
SELECT driver_id, business_date, current_deliveries, current_revenue,
       target_deliveries, target_revenue
FROM closed
""")

_MARK_CLOSED = sa.text("""
UPDATE business_days SET closed_at = now(), drivers_snapshotted = :count, reset = :reset
WHERE business_date = :date
""")

_RESET_STATUS = sa.text("""
UPDATE driver_targets SET status = 'available', status_changed_at = now()
WHERE status <> 'available'
""")


def default_date(schedule_time: dt.datetime | None, timezone: str) -> dt.date:
    """The day before the scheduled time (or now) in the fleet's zone: a retry of the same
    scheduled run always names the same day."""
    moment = schedule_time or dt.datetime.now(dt.UTC)
    return moment.astimezone(ZoneInfo(timezone)).date() - dt.timedelta(days=1)


def snapshot_day(
    engine: Engine, *, date: dt.date, reset: bool, timezone: str, field: str | None = "date"
) -> dict[str, Any]:
    """Closes `date`: its progress rows become history rows, the day is recorded as closed, and
    (with reset) every driver starts the next day available. A closed day is never rewritten."""
    today = dt.datetime.now(ZoneInfo(timezone)).date()
    if date > today + dt.timedelta(days=1):
        raise InvalidInput(
            f"date {date} is more than one day after today ({today}) in {timezone}",
            code="date_in_future",
            field=field,
        )
    with transaction(engine) as conn:
        conn.execute(_CLAIM_DAY, {"date": date})
        day = conn.execute(_LOCK_DAY, {"date": date}).one()
        if day.closed_at is not None:
            return {
                "date": date,
                "drivers_snapshotted": day.drivers_snapshotted,
                "reset": day.reset,
                "already_done": True,
            }
        count = conn.execute(_MOVE_TO_HISTORY, {"date": date}).rowcount
        conn.execute(_MARK_CLOSED, {"date": date, "count": count, "reset": reset})
        if reset:
            conn.execute(_RESET_STATUS)
    return {"date": date, "drivers_snapshotted": count, "reset": reset, "already_done": False}
