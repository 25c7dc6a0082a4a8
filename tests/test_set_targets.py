"""set_targets: both body forms, defaults only when absent, strict types, an atomic batch of up
to 10,000 drivers, today's progress kept, and the HTTP-level refusals (405, 413, 415, 400)."""

from __future__ import annotations

import json
import uuid
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
import sqlalchemy as sa
from werkzeug.test import Client

from tests.helpers import error_of, get, post


def stored(engine, *driver_ids):
    """driver_id -> (target_deliveries, target_revenue) of the given drivers, from the table."""
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT driver_id, target_deliveries, target_revenue FROM driver_targets"
                " WHERE driver_id = ANY(:ids)"
            ),
            {"ids": list(driver_ids)},
        )
        return {row.driver_id: (row.target_deliveries, row.target_revenue) for row in rows}


def batch_ids(count):
    prefix = uuid.uuid4().hex[:10]
    return [f"st{prefix}{n:05d}" for n in range(count)]


@pytest.mark.parametrize("wrap", [False, True], ids=["bare_array", "drivers_object"])
def test_both_body_forms_are_accepted(client, engine, wrap):
    ids = batch_ids(2)
    drivers = [
        {"driver_id": ids[0], "target_deliveries": 7, "target_revenue": 123.45},
        {"driver_id": ids[1], "target_deliveries": 9, "target_revenue": "99.5"},
    ]
    response = post(client, "set_targets", {"drivers": drivers} if wrap else drivers)
    assert response.status_code == 200, response.get_json()
    assert response.get_json() == {"count": 2}
    assert stored(engine, *ids) == {
        ids[0]: (7, Decimal("123.45")),
        ids[1]: (9, Decimal("99.50")),
    }


def test_defaults_apply_only_to_absent_fields(client, engine):
    absent, zero = batch_ids(2)
    response = post(
        client,
        "set_targets",
        [
            {"driver_id": absent},
            {"driver_id": zero, "target_deliveries": 0, "target_revenue": 0},
        ],
    )
    assert response.status_code == 200, response.get_json()
    assert stored(engine, absent, zero) == {
        absent: (20, Decimal("5000.00")),
        zero: (0, Decimal("0.00")),
    }
    body = get(client, "get_targets", driver_id=zero).get_json()
    assert (body["target_deliveries"], body["target_revenue"]) == (0, 0)


def test_revenue_as_a_decimal_string_keeps_its_cents(client, engine, driver_id):
    post(client, "set_targets", [{"driver_id": driver_id, "target_revenue": "1234567.89"}])
    assert stored(engine, driver_id)[driver_id][1] == Decimal("1234567.89")
    assert get(client, "get_targets", driver_id=driver_id).get_json()["target_revenue"] == (
        1234567.89
    )


@pytest.mark.parametrize(
    ("item", "field"),
    [
        ({"target_deliveries": True}, "target_deliveries"),
        ({"target_deliveries": "5"}, "target_deliveries"),
        ({"target_deliveries": 2.5}, "target_deliveries"),
        ({"target_deliveries": -1}, "target_deliveries"),
        ({"target_deliveries": None}, "target_deliveries"),
        ({"target_revenue": False}, "target_revenue"),
        ({"target_revenue": "abc"}, "target_revenue"),
        ({"target_revenue": "-0.01"}, "target_revenue"),
        ({"target_revenue": "1.005"}, "target_revenue"),
        ({"target_revenue": "NaN"}, "target_revenue"),
        ({"driver_id": ""}, "driver_id"),
        ({"driver_id": "x" * 65}, "driver_id"),
        ({"driver_id": 12}, "driver_id"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_one_bad_item_is_named_and_nothing_is_written(client, engine, item, field):
    ids = batch_ids(5)
    drivers = [{"driver_id": i, "target_deliveries": 3} for i in ids]
    drivers[3] = {**drivers[3], **item}
    response = post(client, "set_targets", drivers)
    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "invalid_input"
    assert error["field"] == f"drivers[3].{field}"
    assert stored(engine, *ids) == {}


def test_missing_driver_id_is_named(client, engine):
    ids = batch_ids(2)
    response = post(client, "set_targets", [{"driver_id": ids[0]}, {"target_deliveries": 4}])
    assert response.status_code == 400
    assert error_of(response)["field"] == "drivers[1].driver_id"
    assert stored(engine, *ids) == {}


def test_a_duplicate_driver_id_writes_nothing(client, engine):
    ids = batch_ids(3)
    response = post(
        client,
        "set_targets",
        {"drivers": [{"driver_id": i} for i in ids] + [{"driver_id": ids[1]}]},
    )
    assert response.status_code == 400
    error = error_of(response)
    assert (error["code"], error["field"]) == ("invalid_input", "drivers[3].driver_id")
    assert ids[1] in error["message"]
    assert "drivers[1]" in error["message"]
    assert stored(engine, *ids) == {}


def test_a_failed_batch_leaves_existing_targets_unchanged(client, engine):
    ids = batch_ids(2)
    post(client, "set_targets", [{"driver_id": i, "target_deliveries": 1} for i in ids])
    response = post(
        client,
        "set_targets",
        [{"driver_id": ids[0], "target_deliveries": 50}, {"driver_id": ids[1], "x": 1}],
    )
    assert response.status_code == 400
    assert {k: v[0] for k, v in stored(engine, *ids).items()} == {ids[0]: 1, ids[1]: 1}


@pytest.mark.parametrize(
    "body", [[], {"drivers": []}, {}, {"drivers": "x"}, "x", 5, None, {"drivers": [], "x": 1}]
)
def test_bodies_that_are_not_a_list_of_drivers_are_refused(client, body):
    response = post(client, "set_targets", body)
    assert response.status_code == 400
    assert error_of(response)["code"] == "invalid_input"


def test_more_than_10000_drivers_is_413_and_writes_nothing(client, engine):
    ids = batch_ids(10_001)
    response = post(client, "set_targets", [{"driver_id": i} for i in ids])
    assert response.status_code == 413
    assert error_of(response)["field"] == "drivers"
    assert stored(engine, ids[0], ids[-1]) == {}


def test_a_full_batch_of_10000_drivers_is_written(client, engine):
    ids = batch_ids(10_000)
    drivers = [{"driver_id": i, "target_deliveries": n % 50} for n, i in enumerate(ids)]
    response = post(client, "set_targets", {"drivers": drivers})
    assert response.status_code == 200, response.get_json()
    assert response.get_json() == {"count": 10_000}
    written = stored(engine, *ids)
    assert len(written) == 10_000
    assert written[ids[9_999]] == (9_999 % 50, Decimal("5000.00"))


def test_setting_targets_keeps_todays_progress_and_resets_the_status(client, driver_id):
    # Issue 16, point 7: setting targets used to zero today's progress; now it keeps it (each
    # day has its own progress row) and only `restart_day` zeroes it (test_set_targets_keeps).
    post(client, "set_targets", [{"driver_id": driver_id, "target_deliveries": 10}])
    progressed = post(
        client,
        "update_progress",
        {"driver_id": driver_id, "deliveries": 4, "revenue": "80.50", "status": "busy"},
    )
    assert progressed.status_code == 200, progressed.get_json()
    before = get(client, "get_targets", driver_id=driver_id).get_json()
    assert (before["current_deliveries"], before["status"]) == (4, "busy")

    post(client, "set_targets", [{"driver_id": driver_id, "target_deliveries": 12}])
    after = get(client, "get_targets", driver_id=driver_id).get_json()
    assert after["target_deliveries"] == 12
    assert (after["current_deliveries"], after["current_revenue"]) == (4, 80.5)
    assert after["status"] == "available"


def test_other_methods_are_405_with_allow(client):
    response = client.get("/set_targets")
    assert response.status_code == 405
    assert response.headers["Allow"] == "POST"
    assert error_of(response)["code"] == "method_not_allowed"


def test_a_body_that_is_not_json_is_415(client, driver_id):
    response = client.post(
        "/set_targets", data=json.dumps([{"driver_id": driver_id}]), content_type="text/plain"
    )
    assert response.status_code == 415
    assert error_of(response)["code"] == "unsupported_media_type"


@pytest.mark.parametrize("raw", ["[{", '[{"driver_id": "a",}]', "{'drivers': []}", "\xff"])
def test_malformed_json_is_400(client, raw):
    response = client.post("/set_targets", data=raw, content_type="application/json")
    assert response.status_code == 400
    assert error_of(response)["code"] == "malformed_json"


def test_an_empty_body_is_400(client):
    response = client.post("/set_targets", data=b"", content_type="application/json")
    assert response.status_code == 400
    assert error_of(response)["code"] == "empty_body"


def test_a_body_over_max_body_bytes_is_413(client, engine):
    from shared.settings import get_settings

    limit = get_settings().max_body_bytes
    (driver,) = batch_ids(1)
    body = json.dumps([{"driver_id": driver, "target_deliveries": 1}]).encode()
    padded = body[:-1] + b" " * (limit - len(body) + 1) + b"]"
    assert len(padded) == limit + 1
    response = client.post("/set_targets", data=padded, content_type="application/json")
    assert response.status_code == 413
    assert error_of(response)["code"] == "payload_too_large"
    assert stored(engine, driver) == {}


def test_concurrent_batches_sharing_drivers_all_succeed(app, client, engine):
    """Batches naming the same drivers in opposite orders must not deadlock each other (a
    deadlock is answered 503)."""
    ids = batch_ids(3000)
    orders = [ids, ids[::-1]] * 2

    def send(order):
        own = Client(app)
        drivers = [{"driver_id": i, "target_deliveries": 1} for i in order]
        return [post(own, "set_targets", drivers).status_code for _ in range(5)]

    with ThreadPoolExecutor(len(orders)) as pool:
        statuses = [s for batch in pool.map(send, orders) for s in batch]
    assert statuses == [200] * len(orders) * 5
    assert len(stored(engine, *ids)) == len(ids)
