"""manage_webhooks, and the events the service records: target_reached exactly once per driver,
day and target; day_closed once per snapshot; both in the transaction of the change."""

from __future__ import annotations

import base64
import datetime as dt
import io
import logging
import threading
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from werkzeug.test import Client

from shared.logs import CloudLoggingFormatter
from tests.helpers import error_of, get, post, progress, set_target, settings_env

LOCAL_URL = "http://127.0.0.1:9/hooks"


@pytest.fixture
def loopback_http() -> Iterator[None]:
    with settings_env(WEBHOOKS_ALLOW_LOOPBACK_HTTP="true"):
        yield


def subscribe(client: Client, events: list[str], url: str = LOCAL_URL) -> dict:
    response = post(client, "manage_webhooks", {"url": url, "events": events})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def events_of(engine: Engine, driver_id: str, event_type: str = "target_reached") -> list[dict]:
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT data FROM webhook_events"
                " WHERE event_type = :type AND data->>'driver_id' = :driver ORDER BY created_at"
            ),
            {"type": event_type, "driver": driver_id},
        ).all()
    return [row.data for row in rows]


def deliveries_to(engine: Engine, subscription_id: str) -> int:
    with engine.connect() as conn:
        return conn.execute(
            sa.text("SELECT count(*) FROM webhook_deliveries WHERE subscription_id = :id"),
            {"id": subscription_id},
        ).scalar_one()


# --- manage_webhooks -------------------------------------------------------------------------


def test_subscribe_shows_the_secret_once_and_never_lists_it(client, loopback_http):
    response = post(
        client,
        "manage_webhooks",
        {"url": LOCAL_URL, "events": ["target_reached"], "description": "dispatch"},
    )
    assert response.status_code == 201, response.get_json()
    created = response.get_json()
    secret = created["secret"]
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"))) == 32
    assert created["events"] == ["target_reached"]
    assert created["description"] == "dispatch"

    listing = get(client, "manage_webhooks")
    assert listing.status_code == 200
    assert secret.removeprefix("whsec_") not in listing.get_data(as_text=True)
    (listed,) = [s for s in listing.get_json()["subscriptions"] if s["id"] == created["id"]]
    assert "secret" not in listed
    assert listed["url"] == LOCAL_URL
    assert listed["deliveries"] == {"pending": 0, "delivered": 0, "failed": 0}
    assert listed["last_error"] is None
    assert listed["last_attempt_at"] is None


def test_delete_removes_a_subscription(client, loopback_http):
    created = subscribe(client, ["day_closed"])
    response = client.delete("/manage_webhooks", query_string={"id": created["id"]})
    assert response.status_code == 200, response.get_json()
    ids = [s["id"] for s in get(client, "manage_webhooks").get_json()["subscriptions"]]
    assert created["id"] not in ids
    again = client.delete("/manage_webhooks", query_string={"id": created["id"]})
    assert again.status_code == 404
    assert error_of(again)["code"] == "subscription_not_found"


@pytest.mark.parametrize("bad_id", ["nope", "1; DROP TABLE webhook_subscriptions"])
def test_delete_needs_a_subscription_id(client, bad_id):
    response = client.delete("/manage_webhooks", query_string={"id": bad_id})
    assert response.status_code == 400
    assert error_of(response)["field"] == "id"


def test_delete_without_id_is_refused(client):
    response = client.delete("/manage_webhooks")
    assert response.status_code == 400
    assert error_of(response)["field"] == "id"


@pytest.mark.parametrize(
    "body, field",
    [
        ({"url": "https://example.com/h", "events": []}, "events"),
        ({"url": "https://example.com/h", "events": ["target_missed"]}, "events[0]"),
        ({"url": "https://example.com/h", "events": ["day_closed", "day_closed"]}, "events"),
        ({"url": "https://example.com/h"}, "events"),
        ({"events": ["day_closed"]}, "url"),
        ({"url": "https://example.com/h", "events": ["day_closed"], "x": 1}, "x"),
    ],
)
def test_subscription_body_is_validated(client, body, field):
    response = post(client, "manage_webhooks", body)
    assert response.status_code == 400
    assert error_of(response)["field"] == field


@pytest.mark.parametrize(
    "url",
    [
        "http://example.com/hooks",  # plain http to the internet
        "http://127.0.0.1:9/hooks",  # http to loopback while the setting is off
        "https://127.0.0.1/hooks",  # loopback while the setting is off
        "https://[::1]/hooks",
        "https://10.1.2.3/hooks",  # private
        "https://192.168.0.10/hooks",
        "https://100.64.0.1/hooks",  # carrier-grade NAT
        "https://169.254.169.254/computeMetadata/v1/",  # link-local: the metadata server
        "https://[fe80::1]/hooks",
        "https://[::ffff:10.0.0.1]/hooks",  # a private IPv4 address inside IPv6
        "https://[64:ff9b::a9fe:a9fe]/hooks",  # NAT64 of the metadata server
        "https://[2002:a9fe:a9fe::1]/hooks",  # 6to4 of the metadata server
        "https://[::7f00:1]/hooks",  # IPv4-compatible loopback
        "https://metadata.google.internal/computeMetadata/v1/",
        "https://0.0.0.0/hooks",
        "ftp://example.com/hooks",
        "https://user:password@example.com/hooks",
        "not a url",
    ],
)
def test_unsafe_urls_are_refused(client, url):
    response = post(client, "manage_webhooks", {"url": url, "events": ["day_closed"]})
    assert response.status_code == 400, url
    error = error_of(response)
    assert (error["code"], error["field"]) == ("unsafe_url", "url")


def test_a_refusal_does_not_say_what_a_name_resolves_to(client):
    # Else a caller could map internal DNS names through the error (or the list's last_error).
    response = post(
        client, "manage_webhooks", {"url": "https://localhost/hooks", "events": ["day_closed"]}
    )
    assert response.status_code == 400
    message = error_of(response)["message"]
    assert "private, loopback, link-local or reserved" in message
    assert "127.0.0.1" not in message and "::1" not in message


@pytest.mark.parametrize("url", ["http://127.0.0.1:9/équipe", "http://127.0.0.1:9/h?city=Zürich"])
def test_urls_must_be_ascii(client, loopback_http, url):
    # http.client cannot send them; punycode and percent-encoding can say the same in ASCII.
    response = post(client, "manage_webhooks", {"url": url, "events": ["day_closed"]})
    assert response.status_code == 400
    error = error_of(response)
    assert (error["code"], error["field"]) == ("unsafe_url", "url")
    assert "ASCII" in error["message"]


def test_loopback_http_is_allowed_only_when_the_local_setting_is_on(client, loopback_http):
    assert (
        post(client, "manage_webhooks", {"url": LOCAL_URL, "events": ["day_closed"]}).status_code
        == 201
    )
    private = post(client, "manage_webhooks", {"url": "http://10.0.0.1/", "events": ["day_closed"]})
    assert private.status_code == 400


def test_other_methods_are_refused(client):
    response = client.put("/manage_webhooks")
    assert response.status_code == 405
    assert set(response.headers["Allow"].split(", ")) == {"GET", "POST", "DELETE"}


def test_secrets_never_reach_the_logs(client, loopback_http, driver_id):
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(CloudLoggingFormatter())
    loggers = [logging.getLogger("shared"), logging.getLogger("functions")]
    for logger in loggers:
        logger.addHandler(handler)
    try:
        secret = subscribe(client, ["target_reached"])["secret"]
        set_target(client, driver_id, deliveries=1)
        progress(client, driver_id, deliveries=1)
        get(client, "manage_webhooks")
        post(client, "deliver_webhooks", {})
    finally:
        for logger in loggers:
            logger.removeHandler(handler)
    logged = stream.getvalue()
    assert "manage_webhooks" in logged  # the log was captured
    assert secret.removeprefix("whsec_") not in logged


# --- target_reached --------------------------------------------------------------------------


def test_target_reached_once_per_target_with_its_values(client, engine, loopback_http, driver_id):
    subscription = subscribe(client, ["target_reached"])
    set_target(client, driver_id, deliveries=3, revenue="100")
    progress(client, driver_id, deliveries=2, revenue="60")
    assert events_of(engine, driver_id) == []
    today = progress(client, driver_id, deliveries=2)["business_date"]
    progress(client, driver_id, revenue="50.50")
    reached = sorted(events_of(engine, driver_id), key=lambda e: e["target"])
    assert reached == [
        {
            "driver_id": driver_id,
            "date": today,
            "target": "deliveries",
            "value": 4,
            "target_value": 3,
            "team": None,
        },
        {
            "driver_id": driver_id,
            "date": today,
            "target": "revenue",
            "value": 110.5,
            "target_value": 100,
            "team": None,
        },
    ]
    assert deliveries_to(engine, subscription["id"]) == 2


def test_dip_below_and_rise_again_replays_and_more_progress_send_nothing_new(
    client, engine, driver_id
):
    set_target(client, driver_id, deliveries=5)
    progress(client, driver_id, deliveries=5, event_id=f"{driver_id}-a")
    progress(client, driver_id, deliveries=-2)  # a correction below the target
    progress(client, driver_id, deliveries=3)  # and above it again
    progress(client, driver_id, deliveries=5, event_id=f"{driver_id}-a")  # a replay
    progress(client, driver_id, deliveries=1)
    assert [e["target"] for e in events_of(engine, driver_id)] == ["deliveries"]


def test_a_zero_target_is_no_goal(client, engine, driver_id):
    set_target(client, driver_id, deliveries=0, revenue="0")
    progress(client, driver_id, deliveries=3, revenue="10")
    assert events_of(engine, driver_id) == []


def test_target_reached_exactly_once_under_50_concurrent_calls(
    app, client, engine, loopback_http, driver_id
):
    subscription = subscribe(client, ["target_reached"])
    set_target(client, driver_id, deliveries=10)
    barrier = threading.Barrier(50)
    statuses: list[int] = []

    def one_delivery() -> None:
        own_client = Client(app)
        barrier.wait()
        response = post(own_client, "update_progress", {"driver_id": driver_id, "deliveries": 1})
        statuses.append(response.status_code)

    threads = [threading.Thread(target=one_delivery) for _ in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [200] * 50
    reached = events_of(engine, driver_id)
    assert len(reached) == 1
    assert reached[0]["value"] == 10  # the call that crossed the target, no other
    assert deliveries_to(engine, subscription["id"]) == 1
    assert get(client, "get_targets", driver_id=driver_id).get_json()["current_deliveries"] == 50


def test_a_rolled_back_batch_records_no_event(client, engine, loopback_http, driver_id):
    subscription = subscribe(client, ["target_reached"])
    set_target(client, driver_id, deliveries=2)
    response = post(
        client,
        "update_progress",
        {
            "events": [
                {"driver_id": driver_id, "deliveries": 2},
                {"driver_id": driver_id, "deliveries": -5},  # below zero: the batch fails
            ]
        },
    )
    assert response.status_code == 409
    assert events_of(engine, driver_id) == []
    assert deliveries_to(engine, subscription["id"]) == 0


def test_subscribers_get_only_the_events_they_chose(client, engine, loopback_http, driver_id):
    closed_only = subscribe(client, ["day_closed"])
    set_target(client, driver_id, deliveries=1)
    progress(client, driver_id, deliveries=1)
    assert len(events_of(engine, driver_id)) == 1
    assert deliveries_to(engine, closed_only["id"]) == 0


def test_a_late_event_on_a_closed_day_can_reach_its_target(fresh_engine, client, driver_id):
    set_target(client, driver_id, deliveries=4)
    today = progress(client, driver_id, deliveries=3)["business_date"]
    closed = post(client, "snapshot_daily", {"date": today, "reset": False})
    assert closed.status_code == 200, closed.get_json()
    occurred = dt.datetime.now(dt.UTC).isoformat()
    late = progress(client, driver_id, deliveries=1, occurred_at=occurred)
    assert late["day_closed"] is True
    (reached,) = events_of(fresh_engine, driver_id)
    assert (reached["date"], reached["target"], reached["value"]) == (today, "deliveries", 4)


def test_day_closed_is_recorded_with_the_snapshot(fresh_engine, client, loopback_http):
    subscription = subscribe(client, ["day_closed"])
    set_target(client, "reaches", deliveries=1)
    set_target(client, "misses", deliveries=5)
    progress(client, "reaches", deliveries=1)
    today = progress(client, "misses", deliveries=1)["business_date"]
    assert post(client, "snapshot_daily", {"date": today}).status_code == 200
    retried = post(client, "snapshot_daily", {"date": today}).get_json()
    assert retried["already_done"] is True
    with fresh_engine.connect() as conn:
        rows = conn.execute(
            sa.text("SELECT data FROM webhook_events WHERE event_type = 'day_closed'")
        ).all()
    assert [row.data for row in rows] == [
        {"date": today, "drivers_snapshotted": 2, "drivers_achieved": 1}
    ]
    assert deliveries_to(fresh_engine, subscription["id"]) == 1


def test_target_reached_names_the_team_the_driver_had_that_day(client, engine, driver_id):
    body = [
        {"driver_id": driver_id, "target_deliveries": 1, "target_revenue": "0", "team": "north"}
    ]
    assert post(client, "set_targets", body).status_code == 200
    progress(client, driver_id, deliveries=1)
    (reached,) = events_of(engine, driver_id)
    assert reached["team"] == "north"
