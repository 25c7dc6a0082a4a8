"""Limits: body size, batch sizes, string lengths, numbers and query values are refused with the
error shape and nothing written; garbage and deeply nested JSON over a real socket get 400/413
and the server goes on serving."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from shared.fleet.progress.requests import MAX_EVENT_BATCH
from shared.fleet.targets.requests import MAX_TARGET_BATCH
from shared.settings import get_settings
from tests.helpers import error_of, get, post
from tests.served import Server, serving

POST_FUNCTIONS = ["set_targets", "update_progress", "snapshot_daily"]


def over_the_limit() -> bytes:
    """A JSON document one byte over MAX_BODY_BYTES."""
    limit = get_settings().max_body_bytes
    return b'{"pad":"' + b"x" * (limit - 9) + b'"}'


@pytest.mark.parametrize("function", POST_FUNCTIONS)
def test_body_over_max_body_bytes_is_413(client: Any, function: str) -> None:
    body = over_the_limit()
    assert len(body) == get_settings().max_body_bytes + 1
    response = client.post(f"/{function}", data=body, content_type="application/json")
    assert response.status_code == 413
    assert error_of(response)["code"] == "payload_too_large"


def test_target_batch_over_its_limit_is_413_and_writes_nothing(client: Any, driver_id: str) -> None:
    drivers = [{"driver_id": f"{driver_id}-{i}"} for i in range(MAX_TARGET_BATCH + 1)]
    response = post(client, "set_targets", drivers)
    assert response.status_code == 413
    assert error_of(response) | {"message": ""} == {
        "code": "batch_too_large",
        "message": "",
        "field": "drivers",
    }
    assert get(client, "get_targets", driver_id=f"{driver_id}-0").status_code == 404


def test_event_batch_over_its_limit_is_413(client: Any, driver_id: str) -> None:
    assert post(client, "set_targets", [{"driver_id": driver_id}]).status_code == 200
    events = [{"driver_id": driver_id, "deliveries": 1}] * (MAX_EVENT_BATCH + 1)
    response = post(client, "update_progress", {"events": events})
    assert response.status_code == 413
    assert error_of(response)["code"] == "batch_too_large"
    assert get(client, "get_targets", driver_id=driver_id).get_json()["current_deliveries"] == 0
    # At the limit the batch is taken, all of it.
    response = post(client, "update_progress", {"events": events[:MAX_EVENT_BATCH]})
    assert response.status_code == 200, response.get_json()
    current = get(client, "get_targets", driver_id=driver_id).get_json()["current_deliveries"]
    assert current == MAX_EVENT_BATCH


@pytest.mark.parametrize(
    ("function", "body", "field"),
    [
        ("set_targets", [], "drivers"),
        ("set_targets", [{"driver_id": ""}], "drivers[0].driver_id"),
        ("set_targets", [{"driver_id": "d" * 65}], "drivers[0].driver_id"),
        ("set_targets", [{"driver_id": "a", "target_deliveries": 1_000_001}], None),
        ("set_targets", [{"driver_id": "a", "target_deliveries": -1}], None),
        ("set_targets", [{"driver_id": "a", "target_revenue": "1.005"}], None),
        ("set_targets", [{"driver_id": "a", "target_revenue": 1e11}], None),
        ("set_targets", [{"driver_id": "a", "target_revenue": True}], None),
        ("set_targets", [{"driver_id": "a", "target_deliveries": 1.5}], None),
        ("set_targets", [{"driver_id": "a\u0000"}], "drivers[0].driver_id"),
        ("update_progress", {"driver_id": "a", "deliveries": 10_001}, "deliveries"),
        ("update_progress", {"driver_id": "a", "revenue": "1000000.01"}, "revenue"),
        ("update_progress", {"driver_id": "a", "revenue": "NaN"}, "revenue"),
        ("update_progress", {"driver_id": "a", "revenue": 1e400}, "revenue"),
        ("update_progress", {"driver_id": "a", "deliveries": 1, "event_id": "e" * 129}, None),
        ("update_progress", {"driver_id": "a", "deliveries": 1, "event_id": ""}, None),
        ("update_progress", {"driver_id": "a", "status": "asleep"}, "status"),
        ("update_progress", {"driver_id": "a", "deliveries": 1, "extra": 1}, "extra"),
        (
            "update_progress",
            {"driver_id": "a", "deliveries": 1, "occurred_at": "0001-01-01T00:00:00+14:00"},
            "occurred_at",
        ),
        ("update_progress", {"events": []}, "events"),
        ("snapshot_daily", {"date": "2026-02-30"}, "date"),
        ("snapshot_daily", {"reset": "yes"}, "reset"),
    ],
)
def test_out_of_range_values_are_400_with_the_field(
    client: Any, function: str, body: Any, field: str | None
) -> None:
    response = post(client, function, body)
    assert response.status_code == 400, response.get_json()
    error = error_of(response)
    assert error["code"] == "invalid_input"
    if field is not None:
        assert error["field"] == field


def test_strings_at_their_limits_are_taken(client: Any, driver_id: str) -> None:
    long_id = driver_id + "x" * (64 - len(driver_id))
    assert post(client, "set_targets", [{"driver_id": long_id}]).status_code == 200
    event = {"driver_id": long_id, "deliveries": 1, "event_id": "e" * 120 + driver_id[-8:]}
    response = post(client, "update_progress", event)
    assert response.status_code == 200, response.get_json()


@pytest.mark.parametrize(
    ("function", "query", "field"),
    [
        ("get_targets", "limit=0", "limit"),
        ("get_targets", "limit=1001", "limit"),
        ("get_targets", "limit=ten", "limit"),
        ("get_targets", "status=asleep", "status"),
        ("get_targets", "after=" + "a" * 65, "after"),
        ("get_targets", "limit=5&limit=6", "limit"),
        ("get_targets", "driver_id=%00", "driver_id"),
        ("get_history", "driver_id=a&days=0", "days"),
        ("get_history", "driver_id=a&days=367", "days"),
        ("get_history", "days=7", "driver_id"),
        ("get_history", "driver_id=" + "a" * 65, "driver_id"),
        ("top_performers", "limit=101", "limit"),
        ("top_performers", "days=-1", "days"),
        ("top_performers", "metric=speed", "metric"),
        ("top_performers", "order=asc", "order"),
    ],
)
def test_bad_query_values_are_400_with_the_field(
    client: Any, function: str, query: str, field: str
) -> None:
    response = client.get(f"/{function}?{query}")
    assert response.status_code == 400, response.get_json()
    assert error_of(response)["field"] == field


def test_a_body_that_is_not_json_is_415(client: Any) -> None:
    response = client.post("/set_targets", data=b"driver_id=a", content_type="text/plain")
    assert response.status_code == 415
    assert error_of(response)["code"] == "unsupported_media_type"


@pytest.fixture(scope="module")
def server(session_database: str) -> Iterator[Server]:
    with serving(session_database) as running:
        yield running


@pytest.mark.slow
def test_a_megabyte_of_garbage_is_400_and_the_server_keeps_serving(
    server: Server, driver_id: str
) -> None:
    garbage = os.urandom(1024 * 1024)
    status, body = server.call("POST", "/update_progress", raw=garbage, timeout=10)
    assert status == 400, body
    assert body["error"]["code"] == "malformed_json"
    assert server.call("POST", "/set_targets", [{"driver_id": driver_id}])[0] == 200


@pytest.mark.slow
@pytest.mark.parametrize("depth", [200, 100_000])
def test_deeply_nested_json_is_400_and_the_server_keeps_serving(
    server: Server, driver_id: str, depth: int
) -> None:
    nested = b"[" * depth + b"]" * depth
    for function in POST_FUNCTIONS:
        status, body = server.call("POST", f"/{function}", raw=nested, timeout=10)
        assert status == 400, (function, body)
        assert set(body["error"]) == {"code", "message", "field"}
    assert server.call("POST", "/set_targets", [{"driver_id": driver_id}])[0] == 200


@pytest.mark.slow
def test_oversized_bodies_over_a_socket_are_413(server: Server, driver_id: str) -> None:
    big = over_the_limit()
    status, body = server.call("POST", "/set_targets", raw=big, timeout=10)
    assert (status, body["error"]["code"]) == (413, "payload_too_large")
    # Chunked, the size is not announced: the limit holds while reading.
    status, body = server.call("POST", "/set_targets", raw=big, chunked=True, timeout=10)
    assert (status, body["error"]["code"]) == (413, "payload_too_large")
    assert server.call("POST", "/set_targets", [{"driver_id": driver_id}])[0] == 200
