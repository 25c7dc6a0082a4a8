"""Active time: available/busy count, break/offline do not, by the database clock, split at the
business-day boundary, kept by the snapshot, shown by get_targets and get_history."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from tests.helpers import get, post
from tests.zones import midday_zone

NOW = dt.datetime.now(dt.UTC)


def new_driver(engine, client, driver_id, **targets):
    """A driver whose last status change is 4 hours back, so events placed since then are not
    late (set_targets itself is a status change at the database's now)."""
    response = post(client, "set_targets", [{"driver_id": driver_id, **targets}])
    assert response.status_code == 200, response.get_json()
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "UPDATE driver_targets SET status_changed_at = now() - interval '4 hours'"
                " WHERE driver_id = :d"
            ),
            {"d": driver_id},
        )


def status_at(client, driver_id, status, moment, **extra):
    body = {"driver_id": driver_id, "status": status, "occurred_at": moment.isoformat(), **extra}
    response = post(client, "update_progress", body)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def active_minutes(client, driver_id):
    response = get(client, "get_targets", driver_id=driver_id)
    assert response.status_code == 200, response.get_json()
    return response.get_json()["active_minutes"]


def day_rows(engine, driver_id):
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT business_date, active_seconds FROM driver_days"
                " WHERE driver_id = :d ORDER BY business_date"
            ),
            {"d": driver_id},
        ).all()
    return [(row.business_date, row.active_seconds) for row in rows]


def set_clock(engine, driver_id, since):
    with engine.begin() as conn:
        conn.execute(
            sa.text("UPDATE driver_targets SET active_since = :since WHERE driver_id = :d"),
            {"since": since, "d": driver_id},
        )


@pytest.fixture
def zone(session_database):
    with midday_zone() as name:
        yield ZoneInfo(name)


def test_available_and_busy_count_break_does_not(zone, engine, client, driver_id):
    new_driver(engine, client, driver_id)
    now = dt.datetime.now(dt.UTC)
    status_at(client, driver_id, "busy", now - dt.timedelta(hours=3))
    status_at(client, driver_id, "break", now - dt.timedelta(hours=2))
    status_at(client, driver_id, "available", now - dt.timedelta(minutes=90))

    # 60 minutes busy, then 90 (still running) available; the break does not count.
    assert active_minutes(client, driver_id) == 150


def test_set_targets_does_not_start_the_clock_a_report_does(zone, engine, client, driver_id):
    new_driver(engine, client, driver_id)
    assert active_minutes(client, driver_id) == 0

    # A delivery reported while available starts it at the event's moment.
    moment = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=30)
    response = post(
        client,
        "update_progress",
        {"driver_id": driver_id, "deliveries": 1, "occurred_at": moment.isoformat()},
    )
    assert response.status_code == 200
    assert active_minutes(client, driver_id) == 30


def test_set_targets_keeps_a_running_clock(zone, engine, client, driver_id):
    new_driver(engine, client, driver_id)
    status_at(client, driver_id, "busy", dt.datetime.now(dt.UTC) - dt.timedelta(minutes=40))
    post(client, "set_targets", [{"driver_id": driver_id, "target_deliveries": 3}])
    body = get(client, "get_targets", driver_id=driver_id).get_json()
    assert body["status"] == "available"
    assert body["active_minutes"] == 40


def test_a_late_event_changes_neither_status_nor_clock(zone, engine, client, driver_id):
    new_driver(engine, client, driver_id)
    now = dt.datetime.now(dt.UTC)
    status_at(client, driver_id, "busy", now - dt.timedelta(hours=2))
    status_at(client, driver_id, "offline", now - dt.timedelta(hours=1))
    # Older than the last change: counted as progress, but the driver stays offline.
    late = status_at(client, driver_id, "busy", now - dt.timedelta(minutes=90), deliveries=1)
    assert late["status"] == "offline"
    assert active_minutes(client, driver_id) == 60


def test_stopping_splits_the_interval_at_the_business_day_boundary(
    zone, fresh_engine, client, driver_id
):
    new_driver(fresh_engine, client, driver_id)
    today = dt.datetime.now(zone).date()
    yesterday = today - dt.timedelta(days=1)
    since = dt.datetime.combine(yesterday, dt.time(23, 0), zone)
    set_clock(fresh_engine, driver_id, since)

    stop = dt.datetime.now(dt.UTC).replace(microsecond=0)
    status_at(client, driver_id, "offline", stop)

    midnight = dt.datetime.combine(today, dt.time(0, 0), zone)
    assert day_rows(fresh_engine, driver_id) == [
        (yesterday, 3600),
        (today, int((stop - midnight).total_seconds())),
    ]


def test_snapshot_keeps_active_time_and_the_rest_goes_to_the_next_day(
    zone, fresh_engine, client, driver_id
):
    new_driver(fresh_engine, client, driver_id, target_deliveries=10)
    today = dt.datetime.now(zone).date()
    yesterday = today - dt.timedelta(days=1)
    set_clock(fresh_engine, driver_id, dt.datetime.combine(yesterday, dt.time(20, 0), zone))

    closed = post(client, "snapshot_daily", {"date": yesterday.isoformat()})
    assert closed.status_code == 200, closed.get_json()
    assert closed.get_json()["drivers_snapshotted"] == 1

    history = get(client, "get_history", driver_id=driver_id).get_json()["history"]
    assert [(row["date"], row["active_minutes"]) for row in history] == [
        (yesterday.isoformat(), 240)
    ]
    assert history[0]["deliveries_per_active_hour"] == 0

    # Still running after the reset: today's part counts on today only.
    stop = dt.datetime.now(dt.UTC).replace(microsecond=0)
    status_at(client, driver_id, "break", stop)
    midnight = dt.datetime.combine(today, dt.time(0, 0), zone)
    assert day_rows(fresh_engine, driver_id) == [(today, int((stop - midnight).total_seconds()))]
    history = get(client, "get_history", driver_id=driver_id).get_json()["history"]
    assert history[0]["active_minutes"] == 240


def test_reset_does_not_start_a_stopped_clock(zone, fresh_engine, client, driver_id):
    new_driver(fresh_engine, client, driver_id)
    now = dt.datetime.now(dt.UTC)
    status_at(client, driver_id, "busy", now - dt.timedelta(hours=2))
    status_at(client, driver_id, "offline", now - dt.timedelta(hours=1))
    today = dt.datetime.now(zone).date()
    post(client, "snapshot_daily", {"date": (today - dt.timedelta(days=1)).isoformat()})

    body = get(client, "get_targets", driver_id=driver_id).get_json()
    assert body["status"] == "available"
    assert body["active_minutes"] == 60
