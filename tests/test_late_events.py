"""Events land on their own business day (occurred_at in FLEET_TIMEZONE): the open day, a day
already closed (its history row is adjusted), or the next day while the previous one is still
being closed. Each test that closes days has a database of its own."""

from __future__ import annotations

import datetime as dt
import random
import threading
import uuid
from collections import defaultdict
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from werkzeug.test import Client

from tests.helpers import (
    close_day,
    days_ago,
    error_of,
    get,
    noon,
    post,
    progress,
    set_target,
    settings_env,
    today,
)


def history(client: Client, driver_id: str) -> dict[str, dict]:
    rows = get(client, "get_history", driver_id=driver_id, days=10).get_json()["history"]
    return {row["date"]: row for row in rows}


def live(client: Client, driver_id: str) -> dict:
    return get(client, "get_targets", driver_id=driver_id).get_json()


def test_an_event_counts_on_its_own_day_not_the_day_it_arrives(fresh_engine, client):
    set_target(client, "drv-a")
    late = progress(client, "drv-a", deliveries=2, occurred_at=noon(days_ago(1)))
    assert (late["business_date"], late["day_closed"]) == (days_ago(1).isoformat(), False)
    now = progress(client, "drv-a", deliveries=5)
    assert now["business_date"] == today().isoformat()
    assert now["current_deliveries"] == 5
    assert live(client, "drv-a")["current_deliveries"] == 5

    # Past midnight the previous day is still open until the snapshot closes it: it closes with
    # its own events only, and today's progress stays where it is.
    assert close_day(client, days_ago(1))["drivers_snapshotted"] == 1
    assert history(client, "drv-a")[days_ago(1).isoformat()]["deliveries_completed"] == 2
    assert live(client, "drv-a")["current_deliveries"] == 5


def test_the_date_is_taken_in_the_fleet_time_zone_not_the_senders_offset(fresh_engine, client):
    set_target(client, "drv-tz")
    two_days_ago = today() - dt.timedelta(days=2)
    # 23:30 at UTC-5 is 04:30 the next day in UTC (FLEET_TIMEZONE of the tests).
    occurred = dt.datetime.combine(
        two_days_ago, dt.time(23, 30), dt.timezone(dt.timedelta(hours=-5))
    )
    result = progress(client, "drv-tz", deliveries=1, occurred_at=occurred.isoformat())
    assert result["business_date"] == days_ago(1).isoformat()


def test_the_business_date_follows_fleet_timezone(fresh_engine, client):
    set_target(client, "drv-kiritimati")
    zone = "Pacific/Kiritimati"  # UTC+14: its date is ahead of UTC's most of the day
    with settings_env(FLEET_TIMEZONE=zone):
        moment = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
        result = progress(client, "drv-kiritimati", deliveries=1, occurred_at=moment.isoformat())
    assert result["business_date"] == moment.astimezone(ZoneInfo(zone)).date().isoformat()


def test_a_late_event_adjusts_the_closed_days_history_and_boards(fresh_engine, client):
    set_target(client, "drv-late", deliveries=4, revenue="100")
    progress(client, "drv-late", deliveries=3, revenue="100", occurred_at=noon(days_ago(1)))
    close_day(client, days_ago(1))
    before = history(client, "drv-late")[days_ago(1).isoformat()]
    assert (before["deliveries_completed"], before["target_achieved"]) == (3, False)
    assert before["achievement_percentage"] == 87.5

    late = progress(client, "drv-late", deliveries=1, occurred_at=noon(days_ago(1)))
    assert (late["business_date"], late["day_closed"]) == (days_ago(1).isoformat(), True)
    assert late["current_deliveries"] == 4
    after = history(client, "drv-late")[days_ago(1).isoformat()]
    assert (after["deliveries_completed"], after["target_achieved"]) == (4, True)
    assert after["achievement_percentage"] == 100
    (board,) = get(client, "top_performers", days=7).get_json()["performers"]
    assert (board["driver_id"], board["total_deliveries"], board["days_achieved"]) == (
        "drv-late",
        4,
        1,
    )
    assert live(client, "drv-late")["current_deliveries"] == 0  # today untouched


def test_a_closed_day_without_the_drivers_row_is_no_such_day(fresh_engine, client):
    set_target(client, "drv-worked")
    set_target(client, "drv-absent")
    progress(client, "drv-worked", deliveries=1, occurred_at=noon(days_ago(1)))
    close_day(client, days_ago(1))
    event = {"deliveries": 1, "occurred_at": noon(days_ago(1)), "event_id": "absent-1"}
    response = post(client, "update_progress", {"driver_id": "drv-absent", **event})
    assert response.status_code == 409
    assert (error_of(response)["code"], error_of(response)["field"]) == (
        "no_such_day",
        "occurred_at",
    )
    # Nothing was recorded: the same event is refused again, not taken as a replay.
    again = post(client, "update_progress", {"driver_id": "drv-absent", **event})
    assert again.status_code == 409
    assert days_ago(1).isoformat() not in history(client, "drv-absent")


def test_a_past_day_that_never_opened_is_no_such_day(fresh_engine, client):
    set_target(client, "drv-a")
    progress(client, "drv-a", deliveries=1, occurred_at=noon(days_ago(1)))
    close_day(client, days_ago(1))
    three_days_ago = today() - dt.timedelta(days=3)
    response = post(
        client,
        "update_progress",
        {"driver_id": "drv-a", "deliveries": 1, "occurred_at": noon(three_days_ago)},
    )
    assert response.status_code == 409
    assert error_of(response)["code"] == "no_such_day"


def test_closing_today_early_by_hand_sends_later_events_to_its_history(fresh_engine, client):
    set_target(client, "drv-early", deliveries=2)
    progress(client, "drv-early", deliveries=1)
    close_day(client, today(), reset=False)
    result = progress(client, "drv-early", deliveries=1)
    assert (result["business_date"], result["day_closed"]) == (today().isoformat(), True)
    row = history(client, "drv-early")[today().isoformat()]
    assert (row["deliveries_completed"], row["target_achieved"]) == (2, True)


@pytest.mark.parametrize("days_ago, status, code", [(8, 409, "too_late"), (30, 409, "too_late")])
def test_events_older_than_late_event_days_are_refused(client, driver_id, days_ago, status, code):
    set_target(client, driver_id)
    occurred = (dt.datetime.now(dt.UTC) - dt.timedelta(days=days_ago)).isoformat()
    response = post(
        client,
        "update_progress",
        {"driver_id": driver_id, "deliveries": 1, "occurred_at": occurred},
    )
    assert response.status_code == status
    assert (error_of(response)["code"], error_of(response)["field"]) == (code, "occurred_at")
    assert live(client, driver_id)["current_deliveries"] == 0


def test_late_event_days_is_a_setting(fresh_engine, client):
    set_target(client, "drv-window")
    occurred = noon(today() - dt.timedelta(days=3))
    with settings_env(LATE_EVENT_DAYS="2"):
        response = post(
            client,
            "update_progress",
            {"driver_id": "drv-window", "deliveries": 1, "occurred_at": occurred},
        )
    assert response.status_code == 409
    assert error_of(response)["code"] == "too_late"
    assert progress(client, "drv-window", deliveries=1, occurred_at=occurred)["day_closed"] is False


def test_events_from_the_future_are_refused_beyond_five_minutes(client, driver_id):
    set_target(client, driver_id)
    soon = (dt.datetime.now(dt.UTC) + dt.timedelta(minutes=2)).isoformat()
    assert progress(client, driver_id, deliveries=1, occurred_at=soon)["replayed"] is False
    later = (dt.datetime.now(dt.UTC) + dt.timedelta(minutes=10)).isoformat()
    response = post(
        client, "update_progress", {"driver_id": driver_id, "deliveries": 1, "occurred_at": later}
    )
    assert response.status_code == 400
    assert (error_of(response)["code"], error_of(response)["field"]) == (
        "occurred_in_future",
        "occurred_at",
    )


@pytest.mark.parametrize("occurred_at", ["2026-01-01T10:00:00", "yesterday", "2026-13-01T00:00Z"])
def test_occurred_at_needs_an_rfc3339_time_with_offset(client, driver_id, occurred_at):
    set_target(client, driver_id)
    response = post(
        client,
        "update_progress",
        {"driver_id": driver_id, "deliveries": 1, "occurred_at": occurred_at},
    )
    assert response.status_code == 400
    assert error_of(response)["field"] == "occurred_at"


def test_event_id_replays_hold_across_days_and_closing(fresh_engine, client):
    set_target(client, "drv-replay")
    event = {"deliveries": 2, "event_id": "replay-1", "occurred_at": noon(days_ago(1))}
    first = progress(client, "drv-replay", **event)
    close_day(client, days_ago(1))
    replay = progress(client, "drv-replay", **event)
    assert replay["replayed"] is True
    assert (replay["business_date"], replay["day_closed"]) == (days_ago(1).isoformat(), True)
    assert replay["current_deliveries"] == first["current_deliveries"] == 2
    # A replay without occurred_at (a client that lost it) is still the same event, same day.
    assert progress(client, "drv-replay", deliveries=2, event_id="replay-1")["replayed"] is True
    assert history(client, "drv-replay")[days_ago(1).isoformat()]["deliveries_completed"] == 2
    assert live(client, "drv-replay")["current_deliveries"] == 0
    reused = post(
        client,
        "update_progress",
        {"driver_id": "drv-replay", "deliveries": 3, "event_id": "replay-1"},
    )
    assert reused.status_code == 409
    assert error_of(reused)["code"] == "event_id_reused"


def test_no_negative_total_applies_to_the_events_own_day(fresh_engine, client):
    set_target(client, "drv-neg")
    progress(client, "drv-neg", deliveries=1, occurred_at=noon(days_ago(1)))
    progress(client, "drv-neg", deliveries=5)
    too_much = {"driver_id": "drv-neg", "deliveries": -3, "occurred_at": noon(days_ago(1))}
    response = post(client, "update_progress", too_much)
    assert response.status_code == 409
    assert error_of(response)["code"] == "negative_total"
    assert progress(client, "drv-neg", deliveries=-3)["current_deliveries"] == 2  # today has 5
    close_day(client, days_ago(1))
    response = post(client, "update_progress", too_much)
    assert response.status_code == 409
    assert error_of(response)["code"] == "negative_total"
    assert history(client, "drv-neg")[days_ago(1).isoformat()]["deliveries_completed"] == 1
    corrected = progress(client, "drv-neg", deliveries=-1, occurred_at=noon(days_ago(1)))
    assert corrected["current_deliveries"] == 0


def test_a_batch_may_mix_days_and_is_still_all_or_nothing(fresh_engine, client):
    set_target(client, "drv-batch")
    set_target(client, "drv-other")
    progress(client, "drv-batch", deliveries=1, occurred_at=noon(today() - dt.timedelta(days=2)))
    close_day(client, today() - dt.timedelta(days=2))
    mixed = [
        {"driver_id": "drv-batch", "deliveries": 1, "occurred_at": noon(today() - dt.timedelta(2))},
        {"driver_id": "drv-batch", "deliveries": 2, "occurred_at": noon(days_ago(1))},
        {"driver_id": "drv-batch", "deliveries": 3},
    ]
    failing = [
        *mixed,
        {"driver_id": "drv-other", "deliveries": 1, "occurred_at": mixed[0]["occurred_at"]},
    ]
    response = post(client, "update_progress", {"events": failing})
    assert response.status_code == 409
    assert error_of(response)["field"] == "events[3].occurred_at"
    assert (
        history(client, "drv-batch")[(today() - dt.timedelta(2)).isoformat()][
            "deliveries_completed"
        ]
        == 1
    )
    assert live(client, "drv-batch")["current_deliveries"] == 0

    results = post(client, "update_progress", {"events": mixed}).get_json()["results"]
    assert [(r["business_date"], r["day_closed"], r["current_deliveries"]) for r in results] == [
        ((today() - dt.timedelta(2)).isoformat(), True, 2),
        (days_ago(1).isoformat(), False, 2),
        (today().isoformat(), False, 3),
    ]


def test_shuffled_day_replay_while_the_snapshot_runs(fresh_engine, app, client):
    """A day of events (late, duplicated, across midnight) replayed in random order by eight
    senders while the snapshot closes the previous day: every driver's total on each day is the
    sum of the distinct events of that day."""
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    drivers = [f"drv-{n}" for n in range(6)]
    previous, current = days_ago(1), today()
    start_of_today = dt.datetime.combine(current, dt.time(0), dt.UTC)
    for driver in drivers:
        set_target(client, driver, deliveries=20, revenue="300")

    def event(driver: str, day: dt.date) -> dict:
        if day == previous:
            moment = start_of_today - dt.timedelta(seconds=rng.randrange(1, 86_400))
        else:  # today, up to now: after midnight, before or after the snapshot
            elapsed = max(int((dt.datetime.now(dt.UTC) - start_of_today).total_seconds()), 1)
            moment = start_of_today + dt.timedelta(seconds=rng.randrange(0, elapsed))
        return {
            "driver_id": driver,
            "event_id": f"{driver}-{uuid.uuid4().hex[:12]}",
            "deliveries": rng.randint(1, 3),
            "revenue": f"{rng.randint(0, 5000) / 100:.2f}",
            "occurred_at": moment.isoformat(),
        }

    # Every driver worked the previous day before it closes (so late events have a history row).
    opening = [event(driver, previous) for driver in drivers]
    distinct = [event(rng.choice(drivers), rng.choice((previous, current))) for _ in range(240)]
    sent = opening + distinct + rng.sample(distinct, 60)  # 60 duplicates
    rng.shuffle(sent)
    for first in opening:
        progress(client, **first)

    expected: dict[tuple[str, str], list[Decimal]] = defaultdict(lambda: [Decimal(0), Decimal(0)])
    for e in opening + distinct:
        day = dt.datetime.fromisoformat(e["occurred_at"]).date().isoformat()
        expected[(e["driver_id"], day)][0] += e["deliveries"]
        expected[(e["driver_id"], day)][1] += Decimal(e["revenue"])

    failures: list[object] = []
    answered = threading.Semaphore(0)

    def sender(chunk: list[dict]) -> None:
        own = Client(app)
        for e in chunk:
            response = post(own, "update_progress", e)
            if response.status_code != 200:
                failures.append(response.get_json())
            elif response.get_json()["business_date"] != e["occurred_at"][:10]:
                failures.append(("wrong day", e, response.get_json()))
            answered.release()

    def snapshot() -> None:
        for _ in range(len(sent) // 3):  # a third of the events are in
            answered.acquire()
        response = post(Client(app), "snapshot_daily", {"date": previous.isoformat()})
        if response.status_code != 200 or response.get_json()["drivers_snapshotted"] != 6:
            failures.append(("snapshot", response.get_json()))

    threads = [threading.Thread(target=sender, args=(sent[i::8],)) for i in range(8)]
    threads.append(threading.Thread(target=snapshot))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == [], f"seed {seed}"

    for driver in drivers:
        closed = history(client, driver)[previous.isoformat()]
        assert [closed["deliveries_completed"], Decimal(str(closed["revenue_generated"]))] == (
            expected[(driver, previous.isoformat())]
        ), f"seed {seed}"
        now = live(client, driver)
        assert [now["current_deliveries"], Decimal(str(now["current_revenue"]))] == expected[
            (driver, current.isoformat())
        ], f"seed {seed}"
        assert current.isoformat() not in history(client, driver)
