"""snapshot_daily: closes one business day into history and starts the next in one transaction;
a retry of the same run (same date or same scheduled time) is answered, never applied again."""

from __future__ import annotations

import datetime as dt
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from werkzeug.test import Client

from shared.fleet.days.snapshot import snapshot_day
from tests.helpers import error_of, get, noon, post, progress, settings_env, today

SCHEDULE_TIME = "X-CloudScheduler-ScheduleTime"


def snapshot(client, body=None, **kwargs):
    if body is None:
        return client.post("/snapshot_daily", **kwargs)
    return post(client, "snapshot_daily", body, **kwargs)


def live(client, driver_id):
    body = get(client, "get_targets", driver_id=driver_id).get_json()
    return body["current_deliveries"], body["current_revenue"], body["status"]


def history_of(client, driver_id):
    rows = get(client, "get_history", driver_id=driver_id, days=10).get_json()["history"]
    return {r["date"]: (r["deliveries_completed"], r["revenue_generated"]) for r in rows}


def test_the_day_goes_to_history_and_the_next_starts(fresh_engine, client):
    yesterday = today() - dt.timedelta(days=1)
    post(client, "set_targets", [{"driver_id": d} for d in ("a", "b", "c")])
    progress(client, "a", deliveries=4, revenue="40.5", occurred_at=noon(yesterday))
    progress(client, "b", deliveries=1, occurred_at=noon(yesterday))
    progress(client, "a", status="busy")
    progress(client, "c", deliveries=2, status="break")  # today only

    response = snapshot(client, {"date": yesterday.isoformat()})
    assert response.status_code == 200, response.get_json()
    assert response.get_json() == {
        "date": yesterday.isoformat(),
        "drivers_snapshotted": 2,
        "reset": True,
        "already_done": False,
        "pruned": {"progress_events": 0, "webhook_events": 0},
        "also_closed": [],
    }
    assert history_of(client, "a") == {yesterday.isoformat(): (4, 40.5)}
    assert history_of(client, "b") == {yesterday.isoformat(): (1, 0)}
    assert history_of(client, "c") == {}
    assert live(client, "a") == (0, 0, "available")
    assert live(client, "c") == (2, 0, "available")  # today's progress stays, status resets

    # The new day goes on; a late event adjusts the closed day.
    progress(client, "a", deliveries=3, status="busy")
    progress(client, "b", deliveries=2, occurred_at=noon(yesterday))

    retry = snapshot(client, {"date": yesterday.isoformat()})
    assert retry.status_code == 200
    assert retry.get_json() == {
        "date": yesterday.isoformat(),
        "drivers_snapshotted": 2,
        "reset": True,
        "already_done": True,
        "pruned": {"progress_events": 0, "webhook_events": 0},
        "also_closed": [],
    }
    assert history_of(client, "a") == {yesterday.isoformat(): (4, 40.5)}
    assert history_of(client, "b") == {yesterday.isoformat(): (3, 0)}
    assert live(client, "a") == (3, 0, "busy")
    assert live(client, "c") == (2, 0, "available")


def test_reset_false_keeps_statuses_and_is_remembered(fresh_engine, client):
    yesterday = today() - dt.timedelta(days=1)
    post(client, "set_targets", [{"driver_id": "a"}])
    progress(client, "a", deliveries=1, occurred_at=noon(yesterday))
    progress(client, "a", status="busy")

    body = snapshot(client, {"date": yesterday.isoformat(), "reset": False}).get_json()
    assert (body["reset"], body["already_done"], body["drivers_snapshotted"]) == (False, False, 1)
    assert live(client, "a")[2] == "busy"

    again = snapshot(client, {"date": yesterday.isoformat(), "reset": True}).get_json()
    assert (again["reset"], again["already_done"]) == (False, True)
    assert live(client, "a")[2] == "busy"


@pytest.fixture
def tokyo(fresh_engine):
    """A database of the test's own with FLEET_TIMEZONE=Asia/Tokyo (UTC+9, no DST)."""
    with settings_env(FLEET_TIMEZONE="Asia/Tokyo"):
        yield ZoneInfo("Asia/Tokyo")


def test_the_scheduled_time_names_the_day_before_in_the_fleet_zone(tokyo, client):
    # 20:00 UTC is 05:00 the next day in Tokyo: the run closes the Tokyo date before that,
    # which is the UTC date of the scheduled time, not the day before it.
    scheduled = dt.datetime.combine(today() - dt.timedelta(days=2), dt.time(20), dt.UTC)
    closing = scheduled.date()
    post(client, "set_targets", [{"driver_id": "t"}])
    on_that_day = progress(
        client, "t", deliveries=2, occurred_at=(scheduled - dt.timedelta(hours=12)).isoformat()
    )
    assert on_that_day["business_date"] == closing.isoformat()

    header = {SCHEDULE_TIME: scheduled.isoformat().replace("+00:00", "Z")}
    first = snapshot(client, headers=header)
    assert first.status_code == 200, first.get_json()
    assert first.get_json() == {
        "date": closing.isoformat(),
        "drivers_snapshotted": 1,
        "reset": True,
        "already_done": False,
        "pruned": {"progress_events": 0, "webhook_events": 0},
        "also_closed": [],
    }
    # Scheduler retries of the same run, written either way, find it done.
    for written in (header[SCHEDULE_TIME], scheduled.astimezone(tokyo).isoformat()):
        retry = snapshot(client, {}, headers={SCHEDULE_TIME: written})
        assert retry.get_json()["already_done"] is True
        assert retry.get_json()["date"] == closing.isoformat()
    assert history_of(client, "t") == {closing.isoformat(): (2, 0)}


def test_without_header_or_date_it_closes_yesterday_in_the_fleet_zone(tokyo, client):
    response = snapshot(client)  # no body at all
    assert response.status_code == 200, response.get_json()
    expected = dt.datetime.now(tokyo).date() - dt.timedelta(days=1)
    assert response.get_json()["date"] == expected.isoformat()
    assert response.get_json()["already_done"] is False

    too_far = dt.datetime.now(tokyo).date() + dt.timedelta(days=2)
    refused = snapshot(client, {"date": too_far.isoformat()})
    assert refused.status_code == 400
    error = error_of(refused)
    assert (error["code"], error["field"]) == ("date_in_future", "date")
    tomorrow = too_far - dt.timedelta(days=1)
    assert snapshot(client, {"date": tomorrow.isoformat()}).status_code == 200


def test_a_late_event_from_a_driver_being_reset_does_not_deadlock_the_snapshot(
    fresh_engine, client
):
    """Progress locks its driver, then its day; the snapshot used to lock the day, then the
    drivers it resets. A late event for the day being closed, from a busy driver, deadlocked."""
    set_target_response = post(client, "set_targets", [{"driver_id": "late-busy"}])
    assert set_target_response.status_code == 200
    progress(client, "late-busy", deliveries=1, status="busy")
    day = today()

    event = fresh_engine.connect()
    event.begin()
    # record_progress()'s first step for the late event: the driver's row.
    event.execute(
        sa.text("SELECT 1 FROM driver_targets WHERE driver_id = 'late-busy' FOR NO KEY UPDATE")
    )
    outcome: dict[str, object] = {}

    def close_today() -> None:
        try:
            outcome["result"] = snapshot_day(fresh_engine, date=day, reset=True, timezone="UTC")
        except Exception as exc:
            outcome["error"] = exc

    closer = threading.Thread(target=close_today)
    closer.start()
    try:
        time.sleep(0.5)  # the snapshot is waiting for a lock by now
        # Its next step: the day's row. With the snapshot holding the day, this deadlocked.
        event.execute(sa.text("SELECT lock_business_day(:d)"), {"d": day})
        event.commit()
    finally:
        event.close()
        closer.join(timeout=30)
    assert "error" not in outcome, outcome
    assert outcome["result"]["already_done"] is False
    assert live(client, "late-busy")[2] == "available"


def test_closing_tomorrow_by_hand_leaves_today_usable(fresh_engine, client):
    tomorrow = today() + dt.timedelta(days=1)
    assert snapshot(client, {"date": tomorrow.isoformat()}).status_code == 200
    # Today was not open yet: it must not become a never-opened day behind a closed later one.
    targets = post(client, "set_targets", [{"driver_id": "after-tomorrow-closed"}])
    assert targets.status_code == 200, targets.get_json()
    counted = progress(client, "after-tomorrow-closed", deliveries=1)
    assert counted["business_date"] == today().isoformat()


@pytest.mark.parametrize(
    ("body", "headers", "field"),
    [
        ({"date": "2026-13-01"}, {}, "date"),
        ({"date": "yesterday"}, {}, "date"),
        ({"date": 20260101}, {}, "date"),
        ({"reset": "no"}, {}, "reset"),
        ({"reset": 0}, {}, "reset"),
        ({"when": "now"}, {}, "when"),
        (None, {SCHEDULE_TIME: "tomorrow"}, SCHEDULE_TIME),
        (None, {SCHEDULE_TIME: "2026-01-01T04:00:00"}, SCHEDULE_TIME),
    ],
)
def test_bad_requests_are_400(client, body, headers, field):
    response = snapshot(client, body, headers=headers)
    assert response.status_code == 400
    assert error_of(response)["field"] == field


def test_other_methods_are_405(client):
    response = client.get("/snapshot_daily")
    assert response.status_code == 405
    assert response.headers["Allow"] == "POST"


def test_events_racing_the_snapshot_are_all_counted(fresh_engine, app, client):
    """Events for the day being closed land either in its day rows (moved by the snapshot) or,
    once it is closed, in its history rows; events without occurred_at stay on today."""
    yesterday = today() - dt.timedelta(days=1)
    drivers = [f"r{n}" for n in range(4)]
    per_driver = 40
    post(client, "set_targets", [{"driver_id": d} for d in drivers])
    for driver in drivers:
        progress(client, driver, deliveries=1, occurred_at=noon(yesterday))
    halfway = threading.Event()

    def send(driver):
        own = Client(app)
        answers = []
        for n in range(per_driver):
            if n == per_driver // 4:
                halfway.set()
            when = {"occurred_at": noon(yesterday)} if n % 2 else {}
            response = post(own, "update_progress", {"driver_id": driver, "deliveries": 1, **when})
            answers.append(response.status_code)
        return answers

    with ThreadPoolExecutor(len(drivers)) as pool:
        sent = [pool.submit(send, d) for d in drivers]
        halfway.wait(timeout=30)
        closed = snapshot(Client(app), {"date": yesterday.isoformat()})
        answers = [status for future in sent for status in future.result()]

    assert closed.get_json()["drivers_snapshotted"] == len(drivers)
    assert answers == [200] * len(drivers) * per_driver
    for driver in drivers:
        assert history_of(client, driver) == {yesterday.isoformat(): (1 + per_driver // 2, 0)}
        assert live(client, driver)[0] == per_driver // 2
