"""update_progress: increments and corrections, never below zero, idempotent event ids, atomic
batches, no lost update under concurrency, and events placed on their own business day."""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import sqlalchemy as sa
from werkzeug.test import Client

from tests.helpers import (
    days_ago,
    error_of,
    get,
    noon,
    post,
    send_progress,
    set_target,
)


def totals(client, driver_id):
    body = get(client, "get_targets", driver_id=driver_id).get_json()
    return body["current_deliveries"], body["current_revenue"], body["status"]


def event_id():
    return f"ev-{uuid.uuid4().hex}"


def test_increments_add_up_and_answer_the_new_totals(client, driver_id):
    set_target(client, driver_id)
    first = send_progress(client, driver_id, deliveries=2, revenue="10.25")
    assert first.status_code == 200, first.get_json()
    second = send_progress(client, driver_id, deliveries=3, revenue=5.5, status="busy").get_json()
    assert second["replayed"] is False
    assert (second["current_deliveries"], second["current_revenue"]) == (5, 15.75)
    assert second["status"] == "busy"
    assert second["business_date"] == dt.datetime.now(dt.UTC).date().isoformat()
    assert totals(client, driver_id) == (5, 15.75, "busy")


def test_negative_values_correct_the_total(client, driver_id):
    set_target(client, driver_id)
    send_progress(client, driver_id, deliveries=5, revenue="50")
    response = send_progress(client, driver_id, deliveries=-2, revenue="-20.5")
    assert response.status_code == 200
    assert totals(client, driver_id)[:2] == (3, 29.5)


@pytest.mark.parametrize(
    ("fields", "field"), [({"deliveries": -4}, "deliveries"), ({"revenue": "-29.51"}, "revenue")]
)
def test_a_total_below_zero_is_409_and_changes_nothing(client, driver_id, fields, field):
    set_target(client, driver_id)
    send_progress(client, driver_id, deliveries=3, revenue="29.5")
    ledger_id = event_id()
    response = send_progress(client, driver_id, status="busy", event_id=ledger_id, **fields)
    assert response.status_code == 409
    error = error_of(response)
    assert (error["code"], error["field"]) == ("negative_total", field)
    assert totals(client, driver_id) == (3, 29.5, "available")
    # The refused event left no trace in the ledger: sent again it is refused again, not replayed.
    assert send_progress(client, driver_id, event_id=ledger_id, **fields).status_code == 409


@pytest.mark.parametrize(
    ("column", "near_limit", "fields"),
    [
        ("current_deliveries", 2_147_483_000, {"deliveries": 1_000}),
        ("current_revenue", "9999999999.00", {"revenue": "1.00"}),
    ],
)
def test_a_total_past_its_column_is_409_and_changes_nothing(
    client, engine, driver_id, column, near_limit, fields
):
    set_target(client, driver_id)
    send_progress(client, driver_id, deliveries=1)
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                f"UPDATE driver_days SET {column} = CAST(:value AS numeric) WHERE driver_id = :d"
            ),
            {"value": near_limit, "d": driver_id},
        )
    before = totals(client, driver_id)
    response = send_progress(client, driver_id, event_id=event_id(), **fields)
    assert response.status_code == 409, response.get_json()
    assert error_of(response)["code"] == "total_out_of_range"
    assert totals(client, driver_id) == before


def test_an_unknown_driver_is_404(client, driver_id):
    response = send_progress(client, driver_id, deliveries=1)
    assert response.status_code == 404
    error = error_of(response)
    assert (error["code"], error["field"]) == ("driver_not_found", "driver_id")


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"status": "flying"}, "status"),
        ({"status": "Busy"}, "status"),
        ({"deliveries": True}, "deliveries"),
        ({"deliveries": "1"}, "deliveries"),
        ({"deliveries": 1.5}, "deliveries"),
        ({"revenue": True}, "revenue"),
        ({"revenue": "ten"}, "revenue"),
        ({"event_id": ""}, "event_id"),
        ({"event_id": "e" * 129}, "event_id"),
        ({"deliveries": 1, "colour": "red"}, "colour"),
        ({"occurred_at": "2026-01-01T10:00:00"}, "occurred_at"),
    ],
)
def test_bad_fields_are_400_and_named(client, driver_id, fields, field):
    set_target(client, driver_id)
    response = send_progress(client, driver_id, **fields)
    assert response.status_code == 400
    error = error_of(response)
    assert (error["code"], error["field"]) == ("invalid_input", field)
    assert totals(client, driver_id) == (0, 0, "available")


def test_an_event_that_says_nothing_is_400(client, driver_id):
    set_target(client, driver_id)
    assert send_progress(client, driver_id).status_code == 400
    assert post(client, "update_progress", {"deliveries": 1}).status_code == 400


def test_a_replayed_event_id_changes_nothing(client, driver_id):
    set_target(client, driver_id)
    ev = event_id()
    first = send_progress(client, driver_id, deliveries=2, revenue="7", status="busy", event_id=ev)
    assert first.get_json()["replayed"] is False
    send_progress(client, driver_id, status="break")

    again = send_progress(
        client, driver_id, deliveries=2, revenue="7.00", status="busy", event_id=ev
    )
    assert again.status_code == 200
    body = again.get_json()
    assert body["replayed"] is True
    assert (body["current_deliveries"], body["current_revenue"]) == (2, 7)
    assert totals(client, driver_id) == (2, 7, "break")


@pytest.mark.parametrize(
    ("changed", "to_other_driver"),
    [
        ({"deliveries": 3}, False),
        ({"revenue": "7.01"}, False),
        ({"status": "offline"}, False),
        ({}, True),
    ],
)
def test_an_event_id_reused_for_another_event_is_409(client, driver_id, changed, to_other_driver):
    other = f"{driver_id}-other"
    set_target(client, driver_id, other)
    original = {"deliveries": 2, "revenue": "7", "status": "busy", "event_id": event_id()}
    send_progress(client, driver_id, **original)
    response = send_progress(
        client, other if to_other_driver else driver_id, **{**original, **changed}
    )
    assert response.status_code == 409
    error = error_of(response)
    assert (error["code"], error["field"]) == ("event_id_reused", "event_id")
    assert totals(client, driver_id) == (2, 7, "busy")
    assert totals(client, other) == (0, 0, "available")


def test_a_batch_applies_every_event_in_order(client, driver_id):
    other = f"{driver_id}-b"
    set_target(client, driver_id, other)
    response = post(
        client,
        "update_progress",
        {
            "events": [
                {"driver_id": driver_id, "deliveries": 2},
                {"driver_id": other, "revenue": "3.5", "status": "busy"},
                {"driver_id": driver_id, "deliveries": -1, "event_id": event_id()},
            ]
        },
    )
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["count"] == 3
    assert [r["current_deliveries"] for r in body["results"]] == [2, 0, 1]
    assert totals(client, driver_id) == (1, 0, "available")
    assert totals(client, other) == (0, 3.5, "busy")


@pytest.mark.parametrize(
    ("bad", "status", "code", "field"),
    [
        ({"deliveries": "x"}, 400, "invalid_input", "events[2].deliveries"),
        (
            {"driver_id": "nobody-" + uuid.uuid4().hex},
            404,
            "driver_not_found",
            "events[2].driver_id",
        ),
        ({"deliveries": -100}, 409, "negative_total", "events[2].deliveries"),
        (
            {"occurred_at": "2999-01-01T00:00:00Z"},
            400,
            "occurred_in_future",
            "events[2].occurred_at",
        ),
    ],
)
def test_one_bad_event_in_a_batch_applies_nothing(client, driver_id, bad, status, code, field):
    set_target(client, driver_id)
    first_id = event_id()
    events = [
        {"driver_id": driver_id, "deliveries": 2, "event_id": first_id},
        {"driver_id": driver_id, "revenue": "5", "status": "busy"},
        {"driver_id": driver_id, "deliveries": 1, **bad},
    ]
    response = post(client, "update_progress", {"events": events})
    assert response.status_code == status
    error = error_of(response)
    assert (error["code"], error["field"]) == (code, field)
    assert totals(client, driver_id) == (0, 0, "available")
    # The first event's id was not kept: it counts when sent again.
    assert (
        send_progress(client, driver_id, deliveries=2, event_id=first_id).get_json()["replayed"]
        is False
    )


def test_a_batch_over_1000_events_is_413(client, driver_id):
    set_target(client, driver_id)
    events = [{"driver_id": driver_id, "deliveries": 1}] * 1001
    response = post(client, "update_progress", {"events": events})
    assert response.status_code == 413
    assert error_of(response)["field"] == "events"
    assert totals(client, driver_id)[0] == 0
    assert post(client, "update_progress", {"events": events[:1000]}).status_code == 200
    assert totals(client, driver_id)[0] == 1000


def test_an_empty_batch_or_a_non_object_is_400(client):
    assert post(client, "update_progress", {"events": []}).status_code == 400
    assert post(client, "update_progress", [{"driver_id": "x", "deliveries": 1}]).status_code == 400


def test_concurrent_increments_lose_nothing(app, client, driver_id):
    set_target(client, driver_id)
    threads, per_thread = 8, 25

    def work(_):
        own = Client(app)
        statuses = []
        for _ in range(per_thread):
            statuses.append(send_progress(own, driver_id, deliveries=1, revenue="0.25").status_code)
        return statuses

    with ThreadPoolExecutor(threads) as pool:
        statuses = [s for batch in pool.map(work, range(threads)) for s in batch]
    assert statuses == [200] * threads * per_thread
    assert totals(client, driver_id)[:2] == (threads * per_thread, threads * per_thread * 0.25)


def test_concurrent_replays_of_one_event_count_once(app, client, driver_id):
    set_target(client, driver_id)
    ev = event_id()
    start = threading.Barrier(12)

    def send(_):
        own = Client(app)
        start.wait()
        response = send_progress(own, driver_id, deliveries=3, revenue="1.5", event_id=ev)
        return response.status_code, response.get_json()["replayed"]

    with ThreadPoolExecutor(12) as pool:
        answers = list(pool.map(send, range(12)))
    assert {status for status, _ in answers} == {200}
    assert sorted(replayed for _, replayed in answers) == [False] + [True] * 11
    assert totals(client, driver_id)[:2] == (3, 1.5)


def test_occurred_at_more_than_5_minutes_ahead_is_400(client, driver_id):
    set_target(client, driver_id)
    now = dt.datetime.now(dt.UTC)
    ahead = send_progress(
        client, driver_id, deliveries=1, occurred_at=(now + dt.timedelta(minutes=6)).isoformat()
    )
    assert ahead.status_code == 400
    assert error_of(ahead)["code"] == "occurred_in_future"
    # A device clock a little ahead is tolerated.
    skewed = now + dt.timedelta(minutes=2)
    accepted = send_progress(client, driver_id, deliveries=1, occurred_at=skewed.isoformat())
    assert accepted.status_code == 200
    # Its own business day, which is tomorrow's in the two minutes before midnight.
    body = accepted.get_json()
    assert (body["business_date"], body["current_deliveries"]) == (skewed.date().isoformat(), 1)


def test_occurred_at_older_than_late_event_days_is_409(client, driver_id):
    from shared.settings import get_settings

    set_target(client, driver_id)
    days = get_settings().late_event_days
    old = dt.datetime.now(dt.UTC) - dt.timedelta(days=days + 1)
    response = send_progress(client, driver_id, deliveries=1, occurred_at=old.isoformat())
    assert response.status_code == 409
    error = error_of(response)
    assert (error["code"], error["field"]) == ("too_late", "occurred_at")


def test_an_event_for_a_closed_day_adjusts_its_history(fresh_engine, client):
    yesterday = days_ago(1)
    at_noon = noon(yesterday)
    set_target(client, "worked", "absent", deliveries=4, revenue="100")
    send_progress(client, "worked", deliveries=3, revenue="100", occurred_at=at_noon)
    closed = post(client, "snapshot_daily", {"date": yesterday.isoformat()}).get_json()
    assert closed["drivers_snapshotted"] == 1

    late = send_progress(client, "worked", deliveries=1, occurred_at=at_noon)
    assert late.status_code == 200, late.get_json()
    body = late.get_json()
    assert (body["business_date"], body["day_closed"]) == (yesterday.isoformat(), True)
    assert body["current_deliveries"] == 4
    (row,) = get(client, "get_history", driver_id="worked").get_json()["history"]
    assert (row["deliveries_completed"], row["target_achieved"]) == (4, True)
    assert row["achievement_percentage"] == 100
    assert totals(client, "worked")[0] == 0  # today is untouched

    missing = send_progress(client, "absent", deliveries=1, occurred_at=at_noon, event_id="late-1")
    assert missing.status_code == 409
    assert error_of(missing)["code"] == "no_such_day"
    with fresh_engine.connect() as conn:
        ledger = conn.execute(sa.text("SELECT count(*) FROM progress_events")).scalar_one()
    assert ledger == 0


def test_concurrent_batches_sharing_drivers_all_succeed(app, client):
    """Batches naming the same drivers in opposite orders must not deadlock each other (a
    deadlock is answered 503)."""
    drivers = [f"cb-{uuid.uuid4().hex[:8]}-{n:03d}" for n in range(100)]
    set_target(client, *drivers)
    orders = [drivers, drivers[::-1]] * 2

    def send(order):
        own = Client(app)
        events = {"events": [{"driver_id": d, "deliveries": 1} for d in order]}
        return [post(own, "update_progress", events).status_code for _ in range(3)]

    with ThreadPoolExecutor(len(orders)) as pool:
        statuses = [s for batch in pool.map(send, orders) for s in batch]
    assert statuses == [200] * len(orders) * 3
    assert {totals(client, d)[0] for d in drivers} == {len(orders) * 3}


def test_plain_increments_alongside_batches_and_set_targets_all_succeed(app, client, driver_id):
    """A single event without a status used to take its day's row before its driver's row, the
    other writers the other way round: racing them for one driver deadlocked (503)."""
    set_target(client, driver_id, deliveries=1_000_000)

    def singles(_):
        own = Client(app)
        return [send_progress(own, driver_id, deliveries=1).status_code for _ in range(40)]

    def batches(_):
        own = Client(app)
        body = {"events": [{"driver_id": driver_id, "deliveries": 1}] * 2}
        return [post(own, "update_progress", body).status_code for _ in range(40)]

    def targets(_):
        own = Client(app)
        body = [{"driver_id": driver_id, "target_deliveries": 1_000_000}]
        return [post(own, "set_targets", body).status_code for _ in range(40)]

    with ThreadPoolExecutor(5) as pool:
        senders = [pool.submit(f, 0) for f in (singles, singles, batches, batches, targets)]
        answers = [s for sender in senders for s in sender.result()]
    assert answers == [200] * 200


def test_status_events_alongside_set_targets_all_succeed(app, client):
    """A status change locks the driver's row after its day's row unless the drivers are locked
    first; set_targets takes them the other way round (a deadlock is answered 503)."""
    drivers = [f"sv-{uuid.uuid4().hex[:8]}-{n:03d}" for n in range(100)]
    set_target(client, *drivers)

    def statuses(offset):
        own = Client(app)
        return [
            send_progress(own, drivers[(n + offset) % 100], deliveries=1, status="busy").status_code
            for n in range(150)
        ]

    def targets(_):
        own = Client(app)
        batch = [{"driver_id": d} for d in drivers]
        return [post(own, "set_targets", batch).status_code for _ in range(4)]

    with ThreadPoolExecutor(3) as pool:
        senders = [pool.submit(statuses, 0), pool.submit(statuses, 50), pool.submit(targets, 0)]
        answers = [s for sender in senders for s in sender.result()]
    assert answers == [200] * (150 * 2 + 4)
