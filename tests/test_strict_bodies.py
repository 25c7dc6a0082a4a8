"""What a POST takes is its body, all of it, exactly as sent (issue 16): no query parameters, no
key twice in an object, no body shorter than its Content-Length or with broken chunked framing.
Each is a 400 that writes nothing."""

from __future__ import annotations

import http.client
import json
import socket
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from werkzeug.test import Client

from shared.registry import FUNCTIONS
from tests.helpers import days_ago, error_of, get, post, set_target, settings_env
from tests.served import Server, serving

# snapshot_daily has a test of its own, on a database of its own: a day it closed would stay
# closed for every other test.
POSTS = [f.name for f in FUNCTIONS if "POST" in f.methods and f.name != "snapshot_daily"]


def deliveries_of(client: Client, driver_id: str) -> int:
    response = get(client, "get_targets", driver_id=driver_id)
    assert response.status_code == 200, response.get_json()
    return int(response.get_json()["current_deliveries"])


# --- query parameters ----------------------------------------------------------------------------


@pytest.mark.parametrize("function", POSTS)
def test_a_query_parameter_on_a_post_is_400_naming_it(client: Client, function: str) -> None:
    response = post(client, f"{function}?source=test", {})
    assert response.status_code == 400, response.get_json()
    error = error_of(response)
    assert (error["code"], error["field"]) == ("invalid_input", "source"), error


def test_dry_run_on_update_progress_is_400_and_writes_nothing(
    client: Client, driver_id: str
) -> None:
    set_target(client, driver_id)
    response = post(
        client, "update_progress?dry_run=true", {"driver_id": driver_id, "deliveries": 1}
    )
    assert response.status_code == 400, response.get_json()
    assert error_of(response)["field"] == "dry_run"
    assert deliveries_of(client, driver_id) == 0


def test_a_date_in_the_query_of_snapshot_daily_is_400_and_closes_nothing(
    fresh_engine: Engine, client: Client
) -> None:
    # With no body the day closed would be yesterday, not the one the query names.
    response = client.post(f"/snapshot_daily?date={days_ago(3).isoformat()}")
    assert response.status_code == 400, response.get_json()
    assert error_of(response)["field"] == "date"
    with fresh_engine.connect() as conn:
        closed = conn.execute(
            sa.text("SELECT count(*) FROM business_days WHERE closed_at IS NOT NULL")
        ).scalar_one()
    assert closed == 0


def test_get_and_delete_on_manage_webhooks_still_take_their_parameters(client: Client) -> None:
    assert client.get("/manage_webhooks").status_code == 200
    response = client.delete("/manage_webhooks", query_string={"id": str(uuid.uuid4())})
    assert error_of(response)["code"] != "invalid_input", response.get_json()


# --- repeated keys -------------------------------------------------------------------------------


def test_a_repeated_key_is_400_and_neither_value_is_used(client: Client) -> None:
    first, second = f"drv-{uuid.uuid4().hex[:10]}", f"drv-{uuid.uuid4().hex[:10]}"
    set_target(client, first, second)
    raw = f'{{"driver_id": "{first}", "deliveries": 1, "driver_id": "{second}"}}'
    response = client.post("/update_progress", data=raw, content_type="application/json")
    assert response.status_code == 400, response.get_json()
    error = error_of(response)
    assert (error["code"], error["field"]) == ("duplicate_key", "driver_id"), error
    assert (deliveries_of(client, first), deliveries_of(client, second)) == (0, 0)


@pytest.mark.parametrize(
    ("function", "raw", "field"),
    [
        (
            "update_progress",
            '{"events": [{"driver_id": "a", "deliveries": 1},'
            ' {"driver_id": "a", "deliveries": 1, "deliveries": 2}]}',
            "events[1].deliveries",
        ),
        # A bare array is named as sent: its items have no "drivers" before them.
        (
            "set_targets",
            '[{"driver_id": "a"}, {"driver_id": "b", "team": "n", "team": "s"}]',
            "[1].team",
        ),
        ("set_targets", '{"drivers": [], "drivers": [{"driver_id": "a"}]}', "drivers"),
        # Escapes are decoded first: these are the same key.
        (
            "update_progress",
            '{"driver_id": "a", "deliveries": 1, "driver\\u005fid": "b"}',
            "driver_id",
        ),
        (
            "manage_webhooks",
            '{"url": "http://127.0.0.1:9/a", "events": [], "events": ["day_closed"]}',
            "events",
        ),
    ],
)
def test_a_repeated_key_is_named_by_its_path(
    client: Client, function: str, raw: str, field: str
) -> None:
    with settings_env(WEBHOOKS_ALLOW_LOOPBACK_HTTP="true"):
        response = client.post(f"/{function}", data=raw, content_type="application/json")
    assert response.status_code == 400, response.get_json()
    error = error_of(response)
    assert (error["code"], error["field"]) == ("duplicate_key", field), error
    assert error["message"] == f"{field}: the key is given more than once"


# --- bodies cut short ----------------------------------------------------------------------------


def _content_length_longer(body: bytes) -> tuple[str, bytes]:
    return f"Content-Length: {len(body) + 20}", body


def _bad_chunk_size(body: bytes) -> tuple[str, bytes]:
    return "Transfer-Encoding: chunked", b"zz\r\n" + body + b"\r\n0\r\n\r\n"


def _cut_mid_chunk(body: bytes) -> tuple[str, bytes]:
    return "Transfer-Encoding: chunked", b"%x\r\n" % (len(body) + 20) + body


def _no_last_chunk(body: bytes) -> tuple[str, bytes]:
    return "Transfer-Encoding: chunked", b"%x\r\n" % len(body) + body + b"\r\n"


@pytest.fixture(scope="module")
def server(session_database: str) -> Iterator[Server]:
    with serving(session_database) as running:
        yield running


def send_raw(server: Server, path: str, framing: str, payload: bytes) -> tuple[int, Any]:
    """POSTs `payload` after the headers, then closes the sending side: the body stops there."""
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Connection: close\r\n{framing}\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(head + payload)
        sock.shutdown(socket.SHUT_WR)
        response = http.client.HTTPResponse(sock)
        response.begin()
        return response.status, json.loads(response.read())


@pytest.mark.slow
@pytest.mark.parametrize(
    "frame", [_content_length_longer, _bad_chunk_size, _cut_mid_chunk, _no_last_chunk]
)
def test_a_body_cut_short_or_badly_chunked_is_400_and_writes_nothing(
    server: Server, driver_id: str, frame: Callable[[bytes], tuple[str, bytes]]
) -> None:
    assert server.call("POST", "/set_targets", [{"driver_id": driver_id}])[0] == 200
    # A whole JSON document: only the framing says it is not all there.
    body = json.dumps({"driver_id": driver_id, "deliveries": 1}).encode()
    status, reply = send_raw(server, "/update_progress", *frame(body))
    assert status == 400, reply
    assert reply["error"]["code"] == "malformed_body", reply
    # The server goes on serving, and the event sent whole is the only one counted.
    assert (
        server.call("POST", "/update_progress", {"driver_id": driver_id, "deliveries": 1})[0] == 200
    )
    status, targets = server.call("GET", f"/get_targets?driver_id={driver_id}")
    assert (status, targets["current_deliveries"]) == (200, 1)
