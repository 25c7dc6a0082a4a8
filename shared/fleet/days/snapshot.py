"""The nightly snapshot: closes one business day into history and starts the next, atomically."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from shared.db.transactions import transaction
from shared.errors import InvalidInput
from shared.fleet.days import retention
from shared.settings import Settings
from shared.webhooks import subscriptions as webhooks

# Today is opened too: closing tomorrow by hand must not leave today unopened behind a closed
# later day (lock_business_day refuses such a day, so nothing could be counted on it).
_CLAIM_DAY = sa.text("""
INSERT INTO business_days (business_date)
VALUES (:date), (business_today(:tz))
ON CONFLICT DO NOTHING
""")

# FOR UPDATE waits for every progress transaction that holds the day (FOR KEY SHARE) and keeps
# new ones out until this transaction ends; they then see the day closed.
_LOCK_DAY = sa.text("""
SELECT closed_at, drivers_snapshotted, reset FROM business_days
WHERE business_date = :date FOR UPDATE
""")

# A clock still running adds the part of its interval that falls on the closed day, up to this
# transaction's now() (= closed_at); the part after is counted when the clock stops (see
# migrations/repeatable/clock.sql). A driver active that day without any event gets a row.
_COUNT_RUNNING_CLOCKS = sa.text("""
INSERT INTO driver_days AS d
    (driver_id, business_date, team, target_deliveries, target_revenue, active_seconds)
SELECT driver_id, business_date, team, target_deliveries, target_revenue, active_seconds
FROM (
    SELECT t.driver_id, CAST(:date AS date) AS business_date, t.team, t.target_deliveries,
           t.target_revenue,
           active_seconds_within(t.active_since, now(), CAST(:date AS date), :tz) AS active_seconds
    FROM driver_targets t
    WHERE t.active_since IS NOT NULL
) AS running
WHERE active_seconds > 0
ON CONFLICT ON CONSTRAINT driver_days_pkey DO UPDATE
    SET active_seconds = d.active_seconds + excluded.active_seconds
""")

_MOVE_TO_HISTORY = sa.text("""
WITH closed AS (
    DELETE FROM driver_days WHERE business_date = :date
    RETURNING driver_id, business_date, team, current_deliveries, current_revenue,
              target_deliveries, target_revenue, active_seconds
)
INSERT INTO driver_performance_history
    (driver_id, date, team, deliveries_completed, revenue_generated, target_deliveries,
     target_revenue, active_seconds)
SELECT driver_id, business_date, team, current_deliveries, current_revenue,
       target_deliveries, target_revenue, active_seconds
FROM closed
""")

_MARK_CLOSED = sa.text("""
UPDATE business_days SET closed_at = now(), drivers_snapshotted = :count, reset = :reset
WHERE business_date = :date
""")

# The drivers to reset are locked before the day, in driver_id order: every progress writer
# takes its driver's row before any day (migrations/repeatable/progress.sql), so a late event
# for the day being closed, from a driver the reset needs, queues behind the snapshot instead of
# deadlocking it.
_LOCK_DRIVERS_TO_RESET = sa.text("""
SELECT driver_id FROM driver_targets WHERE status <> 'available'
ORDER BY driver_id FOR NO KEY UPDATE
""")

# Only the drivers locked above: one that left `available` since then has just said so.
_RESET_STATUS = sa.text("""
UPDATE driver_targets SET status = 'available', status_changed_at = now()
WHERE driver_id = ANY(:driver_ids) AND status <> 'available'
""")


# The days still open before the one being closed, oldest first: days whose snapshot never ran
# (the scheduler was down, or an event opened a past day no run would name again).
_OPEN_DAYS_BEFORE = sa.text("""
SELECT business_date FROM business_days
WHERE closed_at IS NULL AND business_date < :before
ORDER BY business_date
""")


def default_date(schedule_time: dt.datetime | None, timezone: str) -> dt.date:
    """The day before the scheduled time (or now) in the fleet's zone: a retry of the same
    scheduled run always names the same day."""
    moment = schedule_time or dt.datetime.now(dt.UTC)
    return moment.astimezone(ZoneInfo(timezone)).date() - dt.timedelta(days=1)


def snapshot_day(
    engine: Engine, *, date: dt.date, reset: bool, timezone: str, by_hand: bool = False
) -> dict[str, Any]:
    """Closes `date`: its progress rows become history rows, the day is recorded as closed, and
    (with reset) every driver starts the next day available. A closed day is never rewritten.

    First, every day still open before `date` (never today or later) is closed, oldest first,
    each in a transaction of its own and without a reset: otherwise a past day that opened late
    (an event dated days ago) or whose night was missed would keep its rows open for ever, in no
    history and no board. The answer lists them in `also_closed`.

    The statuses a reset sets are today's live ones: a day before yesterday named by hand (a
    catch-up, `by_hand`) is closed without it, and its answer says `"reset": false`. The
    scheduler's run names the day before its scheduled time, and resets as asked."""
    today = dt.datetime.now(ZoneInfo(timezone)).date()
    if date > today + dt.timedelta(days=1):
        raise InvalidInput(
            f"date {date} is more than one day after today ({today}) in {timezone}",
            code="date_in_future",
            field="date",
        )
    if by_hand and date < today - dt.timedelta(days=1):
        reset = False
    with transaction(engine) as conn:
        earlier = list(conn.execute(_OPEN_DAYS_BEFORE, {"before": min(date, today)}).scalars())
    # A day another run closed meanwhile answers already_done: it was not closed by this one.
    also_closed = [
        day
        for day in earlier
        if not _close(engine, date=day, reset=False, timezone=timezone)["already_done"]
    ]
    return {**_close(engine, date=date, reset=reset, timezone=timezone), "also_closed": also_closed}


def _close(engine: Engine, *, date: dt.date, reset: bool, timezone: str) -> dict[str, Any]:
    """Closes one day in one transaction, or answers how an earlier run closed it."""
    with transaction(engine) as conn:
        conn.execute(_CLAIM_DAY, {"date": date, "tz": timezone})
        to_reset = list(conn.execute(_LOCK_DRIVERS_TO_RESET).scalars()) if reset else []
        day = conn.execute(_LOCK_DAY, {"date": date}).one()
        if day.closed_at is not None:
            return {
                "date": date,
                "drivers_snapshotted": day.drivers_snapshotted,
                "reset": day.reset,
                "already_done": True,
            }
        conn.execute(_COUNT_RUNNING_CLOCKS, {"date": date, "tz": timezone})
        count = conn.execute(_MOVE_TO_HISTORY, {"date": date}).rowcount
        conn.execute(_MARK_CLOSED, {"date": date, "count": count, "reset": reset})
        webhooks.emit_day_closed(conn, date=date, drivers_snapshotted=count)
        if reset:
            conn.execute(_RESET_STATUS, {"driver_ids": to_reset})
    return {"date": date, "drivers_snapshotted": count, "reset": reset, "already_done": False}


def nightly(
    engine: Engine, *, date: dt.date, reset: bool, settings: Settings, by_hand: bool = False
) -> dict[str, Any]:
    """What Cloud Scheduler runs each night: closes `date` (snapshot_day), then prunes what is
    past its retention, in transactions of its own once the day is closed."""
    result = snapshot_day(
        engine, date=date, reset=reset, timezone=settings.fleet_timezone, by_hand=by_hand
    )
    result["pruned"] = retention.prune(
        engine,
        event_days=settings.event_retention,
        webhook_days=settings.webhook_retention,
    )
    return result
