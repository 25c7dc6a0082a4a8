"""Money has one JSON form everywhere: a webhook's amounts are written exactly as the API writes
the same amounts (a JSON number, the shortest digits with at least one decimal: 120.0, not
120.00 or "120.00")."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from werkzeug.test import Client

from shared.settings import get_settings
from shared.webhooks.delivery import deliver_due
from tests.helpers import get, post, progress, set_target
from tests.webhook_receiver import Receiver, running_receiver, settings_env


def _written(text: str | bytes) -> Any:
    """The JSON with every number kept as it was written: ("float", "120.0"), ("int", "3")."""
    return json.loads(
        text, parse_float=lambda raw: ("float", raw), parse_int=lambda raw: ("int", raw)
    )


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with settings_env(WEBHOOKS_ALLOW_LOOPBACK_HTTP="true"), running_receiver() as running:
        yield running


@pytest.mark.parametrize(
    "target, amounts",
    [("120", ["120.00"]), ("100.50", ["60.25", "60"]), ("0.10", ["0.1"])],
    ids=["whole", "cents", "tenths"],
)
def test_a_target_reached_payload_writes_money_as_the_api_does(
    fresh_engine: Engine, client: Client, receiver: Receiver, target: str, amounts: list[str]
) -> None:
    created = post(client, "manage_webhooks", {"url": receiver.url, "events": ["target_reached"]})
    assert created.status_code == 201, created.get_json()
    set_target(client, "money-1", deliveries=1, revenue=target)
    for amount in amounts:
        progress(client, "money-1", deliveries=1, revenue=amount)
    assert deliver_due(fresh_engine, get_settings())["delivered"] == 2

    reached = {
        payload["data"]["target"]: payload["data"]
        for payload in (_written(request.body) for request in receiver.requests)
    }
    api = _written(get(client, "get_targets", driver_id="money-1").get_data())
    assert (reached["revenue"]["value"], reached["revenue"]["target_value"]) == (
        api["current_revenue"],
        api["target_revenue"],
    )
    assert reached["revenue"]["value"][0] == "float"
    # Counts stay integers in both.
    assert reached["deliveries"]["target_value"] == api["target_deliveries"] == ("int", "1")


def test_a_viewer_who_worked_no_day_has_money_as_every_other_row(client: Client) -> None:
    set_target(client, "money-viewer", deliveries=1, revenue="10")
    board = _written(
        get(client, "top_performers", days=7, viewer="money-viewer", metric="revenue").get_data()
    )
    (row,) = [row for row in board["performers"] if row["driver_id"] == "money-viewer"]
    assert row["total_revenue"] == ("float", "0.0")
    assert row["total_deliveries"] == ("int", "0")
