"""Every reply has one declaration, its model (shared/**/replies.py): the OpenAPI document's
reply schemas are generated from the models, the CSV columns are the models' fields, and here
real replies, from calls through the served functions, are checked against the models, so a
SQL alias or a key that drifts is named."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from shared.fleet.boards.replies import TeamsReply, TopPerformersReply, row_fields
from shared.fleet.days.replies import SnapshotReply
from shared.fleet.history.replies import HistoryDay, HistoryReply
from shared.fleet.progress.replies import ProgressBatchReply, ProgressResult
from shared.fleet.targets.replies import (
    CountReply,
    DriverPage,
    DriverProgress,
    FleetSummary,
)
from shared.web.openapi import REPLY_MODELS, openapi_document, reply_schemas
from shared.web.replies import Error, field_names
from shared.webhooks.replies import (
    DeliveryRunReply,
    WebhookDeleted,
    WebhookSubscriptionCreated,
    WebhookSubscriptionList,
)
from tests.helpers import get, post
from tests.webhook_receiver import settings_env


def disagreements(model: type[BaseModel], payload: Any) -> list[str]:
    """Where `payload` departs from `model`: each as `path: what`, e.g. `drivers.0.team: Extra
    inputs are not permitted` or `count: Field required`."""
    try:
        model.model_validate(payload)
    except ValidationError as exc:
        return [
            f"{'.'.join(str(part) for part in error['loc'])}: {error['msg']}"
            for error in exc.errors()
        ]
    return []


def assert_reply(model: type[BaseModel], response: Any, status: int = 200) -> dict[str, Any]:
    payload = response.get_json()
    assert response.status_code == status, payload
    assert disagreements(model, payload) == [], f"{model.__name__} disagrees with the reply"
    return payload


def test_disagreements_name_the_field() -> None:
    assert disagreements(CountReply, {"count": 1, "total": 2}) == [
        "total: Extra inputs are not permitted"
    ]
    assert disagreements(WebhookDeleted, {}) == ["deleted: Field required"]


def test_every_reference_in_the_document_resolves() -> None:
    document = openapi_document()

    def refs(node: Any) -> Iterator[str]:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "$ref":
                    yield value
                else:
                    yield from refs(value)
        elif isinstance(node, list):
            for item in node:
                yield from refs(item)

    for ref in refs(document):
        _, section, name = ref.removeprefix("#/").split("/")
        assert name in document["components"][section], f"{ref} is not in the document"


def test_reply_schemas_are_the_models() -> None:
    schemas = openapi_document()["components"]["schemas"]
    for name, schema in reply_schemas().items():
        assert schemas[name] == schema, name
    assert {model.__name__ for model in REPLY_MODELS} <= schemas.keys()


@pytest.fixture
def filled(fresh_engine: Any, client: Any) -> Any:
    """Two drivers of a team with progress, and the day closed into history."""
    drivers = [{"driver_id": "r1", "team": "t"}, {"driver_id": "r2", "team": "t"}]
    assert_reply(CountReply, post(client, "set_targets", drivers))
    one = post(client, "update_progress", {"driver_id": "r1", "deliveries": 3, "event_id": "e1"})
    assert_reply(ProgressResult, one)
    events = [{"driver_id": "r2", "deliveries": 1}, {"driver_id": "r1", "revenue": "2.50"}]
    assert_reply(ProgressBatchReply, post(client, "update_progress", {"events": events}))
    today = dt.datetime.now(dt.UTC).date().isoformat()
    snapshot = post(client, "snapshot_daily", {"date": today, "reset": False})
    assert_reply(SnapshotReply, snapshot)
    return client


def test_targets_replies(filled: Any) -> None:
    driver = assert_reply(DriverProgress, get(filled, "get_targets", driver_id="r1"))
    assert tuple(driver) == field_names(DriverProgress)
    assert_reply(DriverPage, get(filled, "get_targets", limit=1))
    assert_reply(FleetSummary, get(filled, "get_targets", summary="true", team="t"))


def test_history_reply(filled: Any) -> None:
    reply = assert_reply(HistoryReply, get(filled, "get_history", driver_id="r1"))
    assert [tuple(day) for day in reply["history"]] == [field_names(HistoryDay)]


@pytest.mark.parametrize("compare", [None, "previous"])
@pytest.mark.parametrize("viewer", [None, "r2"])
def test_drivers_board_reply(filled: Any, compare: str | None, viewer: str | None) -> None:
    params = {"compare": compare, "viewer": viewer, "anonymize": "true" if viewer else None}
    asked = {key: value for key, value in params.items() if value is not None}
    reply = assert_reply(TopPerformersReply, get(filled, "top_performers", **asked))
    expected = row_fields("driver", compare=compare is not None, viewer=viewer is not None)
    assert reply["performers"]
    for row in reply["performers"]:
        assert tuple(row) == expected


@pytest.mark.parametrize("compare", [None, "previous"])
def test_teams_board_reply(filled: Any, compare: str | None) -> None:
    asked = {"compare": compare} if compare else {}
    reply = assert_reply(TeamsReply, get(filled, "top_performers", group_by="team", **asked))
    assert [tuple(row) for row in reply["teams"]] == [
        row_fields("team", compare=compare is not None, viewer=False)
    ]


def test_live_board_reply(filled: Any) -> None:
    assert_reply(TopPerformersReply, get(filled, "top_performers", live="true"))


def test_webhook_replies(client: Any) -> None:
    with settings_env(WEBHOOKS_ALLOW_LOOPBACK_HTTP="true"):
        body = {"url": "http://127.0.0.1:9/hooks", "events": ["day_closed"]}
        created = assert_reply(
            WebhookSubscriptionCreated, post(client, "manage_webhooks", body), 201
        )
    assert_reply(WebhookSubscriptionList, get(client, "manage_webhooks"))
    deleted = client.delete("/manage_webhooks", query_string={"id": created["id"]})
    assert_reply(WebhookDeleted, deleted)
    assert_reply(DeliveryRunReply, post(client, "deliver_webhooks", {}))


@pytest.mark.parametrize(
    ("function", "params", "status"),
    [
        ("get_targets", {"driver_id": "nobody"}, 404),
        ("get_targets", {"limit": "0"}, 400),
        ("top_performers", {"viewer": "nobody"}, 404),
    ],
)
def test_error_replies(client: Any, function: str, params: dict[str, str], status: int) -> None:
    assert_reply(Error, get(client, function, **params), status)
