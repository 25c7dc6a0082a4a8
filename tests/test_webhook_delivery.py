"""deliver_webhooks against a receiver on 127.0.0.1: Standard Webhooks signatures, retries with
backoff, giving up after 24 h, no redirects, no duplicate concurrent sends, deletions honoured."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from standardwebhooks.webhooks import Webhook
from werkzeug.test import Client

from shared.settings import get_settings
from shared.webhooks.delivery import deliver_due, jittered, retry_delay
from tests.helpers import get, post
from tests.webhook_receiver import Pause, Receiver, running_receiver, settings_env


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with settings_env(WEBHOOKS_ALLOW_LOOPBACK_HTTP="true"), running_receiver() as running:
        yield running


def subscribe(client: Client, receiver: Receiver, events: list[str]) -> dict:
    response = post(client, "manage_webhooks", {"url": receiver.url, "events": events})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def reach_target(client: Client, driver_id: str) -> None:
    body = [{"driver_id": driver_id, "target_deliveries": 1, "target_revenue": "0"}]
    assert post(client, "set_targets", body).status_code == 200
    response = post(client, "update_progress", {"driver_id": driver_id, "deliveries": 1})
    assert response.status_code == 200


def deliver(client: Client) -> dict:
    response = post(client, "deliver_webhooks", {})
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def listed(client: Client, subscription_id: str) -> dict:
    subscriptions = get(client, "manage_webhooks").get_json()["subscriptions"]
    (subscription,) = [s for s in subscriptions if s["id"] == subscription_id]
    return subscription


def make_due(engine: Engine) -> None:
    """The clock moves past every backoff."""
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "UPDATE webhook_deliveries SET next_attempt_at = now() WHERE status = 'pending'"
            )
        )


def test_retry_delay_doubles_from_30_seconds_up_to_an_hour():
    delays = [retry_delay(n).total_seconds() for n in range(1, 10)]
    assert delays == [30, 60, 120, 240, 480, 960, 1920, 3600, 3600]
    assert retry_delay(500) == dt.timedelta(hours=1)


def test_each_wait_is_shortened_by_up_to_a_fifth_at_random():
    waits = {jittered(dt.timedelta(minutes=10)) for _ in range(200)}
    assert all(dt.timedelta(minutes=8) <= wait <= dt.timedelta(minutes=10) for wait in waits)
    assert len(waits) > 100


def test_deliveries_are_signed_per_standard_webhooks(fresh_engine, client, receiver):
    subscription = subscribe(client, receiver, ["target_reached", "day_closed"])
    reach_target(client, "drv-signed")
    assert deliver(client) == {"delivered": 1, "retrying": 0, "failed": 0, "dropped": 0}

    (request,) = receiver.requests
    assert request.path == "/hooks"
    assert request.headers["Content-Type"] == "application/json"
    payload = Webhook(subscription["secret"]).verify(request.body, request.headers)
    assert payload["type"] == "target_reached"
    assert payload["data"]["driver_id"] == "drv-signed"
    assert payload["data"]["target"] == "deliveries"
    assert dt.datetime.fromisoformat(payload["timestamp"]).tzinfo is not None
    with pytest.raises(Exception, match="signature"):
        Webhook(subscription["secret"]).verify(request.body + b" ", request.headers)

    state = listed(client, subscription["id"])
    assert state["deliveries"] == {"pending": 0, "delivered": 1, "failed": 0}
    assert state["last_attempt_at"] is not None
    assert state["last_error"] is None
    assert deliver(client)["delivered"] == 0  # nothing is sent twice


def test_a_500_is_retried_with_backoff_under_the_same_webhook_id(fresh_engine, client, receiver):
    subscription = subscribe(client, receiver, ["target_reached"])
    receiver.script = [500]
    reach_target(client, "drv-retry")
    assert deliver(client)["retrying"] == 1
    state = listed(client, subscription["id"])
    assert state["deliveries"] == {"pending": 1, "delivered": 0, "failed": 0}
    assert state["last_error"] == "HTTP 500"
    with fresh_engine.connect() as conn:
        backoff = conn.execute(
            sa.text("SELECT next_attempt_at - last_attempt_at FROM webhook_deliveries")
        ).scalar_one()
    assert dt.timedelta(seconds=24) <= backoff <= dt.timedelta(seconds=30)

    assert deliver(client)["delivered"] == 0  # not due yet
    assert len(receiver.requests) == 1
    make_due(fresh_engine)
    assert deliver(client)["delivered"] == 1
    first, second = receiver.requests
    assert first.headers["webhook-id"] == second.headers["webhook-id"]
    Webhook(subscription["secret"]).verify(second.body, second.headers)
    assert listed(client, subscription["id"])["deliveries"]["delivered"] == 1


def test_no_answer_within_the_timeout_is_retried(fresh_engine, client, receiver):
    subscribe(client, receiver, ["target_reached"])
    receiver.script = [Pause(seconds=2.0)]
    reach_target(client, "drv-slow")
    settings = get_settings().model_copy(update={"webhook_timeout_seconds": 0.3})
    assert deliver_due(fresh_engine, settings)["retrying"] == 1
    with fresh_engine.connect() as conn:
        error = conn.execute(sa.text("SELECT last_error FROM webhook_deliveries")).scalar_one()
    assert "timed out" in error
    make_due(fresh_engine)
    assert deliver_due(fresh_engine, settings)["delivered"] == 1
    assert len(receiver.requests) == 2


@contextmanager
def dripping_server(seconds: float) -> Iterator[tuple[str, list[float]]]:
    """Answers every request one header byte at a time for `seconds`: each read is quick, the
    whole answer is not. Yields its URL and when each connection was closed by the sender."""
    server = socket.create_server(("127.0.0.1", 0))
    closed_after: list[float] = []

    def handle(conn: socket.socket) -> None:
        started = time.monotonic()
        with conn:
            try:
                conn.recv(65536)
                conn.sendall(b"HTTP/1.1 200 OK\r\nX-Drip: ")
                while time.monotonic() - started < seconds:
                    conn.sendall(b"a")
                    time.sleep(0.1)
            except OSError:
                closed_after.append(time.monotonic() - started)

    def accept() -> None:
        with contextlib.suppress(OSError):
            while True:
                conn, _ = server.accept()
                threading.Thread(target=handle, args=(conn,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.getsockname()[1]}/hooks", closed_after
    finally:
        server.close()


def test_a_dripping_answer_is_cut_off_at_the_timeout(fresh_engine, client, receiver):
    # Within its lease, so no second run can send the same delivery while this one still waits.
    with dripping_server(seconds=8) as (url, closed_after):
        response = post(client, "manage_webhooks", {"url": url, "events": ["target_reached"]})
        assert response.status_code == 201, response.get_json()
        reach_target(client, "drv-drip")
        settings = get_settings().model_copy(update={"webhook_timeout_seconds": 0.5})
        started = time.monotonic()
        assert deliver_due(fresh_engine, settings)["retrying"] == 1
        assert time.monotonic() - started < 3
        deadline = time.monotonic() + 3
        while not closed_after and time.monotonic() < deadline:
            time.sleep(0.05)
        assert closed_after and closed_after[0] < 3


def test_a_url_that_cannot_be_sent_fails_alone(fresh_engine, client, receiver):
    subscribe(client, receiver, ["target_reached"])
    # Stored before URLs had to be ASCII: sending it would make http.client raise.
    with fresh_engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO webhook_subscriptions (url, events, secret)"
                " VALUES (:url, ARRAY['target_reached'], :secret)"
            ),
            {
                "url": receiver.url + "/équipe",
                "secret": "whsec_" + "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUE=",
            },
        )
    reach_target(client, "drv-mixed")
    counts = deliver_due(fresh_engine, get_settings())
    assert (counts["delivered"], counts["retrying"]) == (1, 1)
    assert len(receiver.requests) == 1


def test_redirects_are_not_followed(fresh_engine, client, receiver):
    subscription = subscribe(client, receiver, ["target_reached"])
    receiver.script = [302]
    reach_target(client, "drv-redirect")
    assert deliver(client)["retrying"] == 1
    assert len(receiver.requests) == 1
    assert listed(client, subscription["id"])["last_error"] == "HTTP 302"


def test_a_delivery_fails_for_good_after_24_hours(fresh_engine, client, receiver):
    subscription = subscribe(client, receiver, ["target_reached"])
    receiver.script = [503]
    reach_target(client, "drv-gone")
    with fresh_engine.begin() as conn:
        conn.execute(sa.text("UPDATE webhook_deliveries SET created_at = now() - interval '24 h'"))
    assert deliver(client)["failed"] == 1
    make_due(fresh_engine)
    assert deliver(client)["failed"] == 0
    assert len(receiver.requests) == 1
    state = listed(client, subscription["id"])
    assert state["deliveries"] == {"pending": 0, "delivered": 0, "failed": 1}
    assert state["last_error"] == "HTTP 503"


def test_the_address_is_checked_again_when_sending(fresh_engine, client, receiver):
    subscription = subscribe(client, receiver, ["target_reached"])
    reach_target(client, "drv-recheck")
    settings = get_settings().model_copy(update={"webhooks_allow_loopback_http": False})
    assert deliver_due(fresh_engine, settings)["retrying"] == 1
    assert receiver.requests == []
    assert listed(client, subscription["id"])["last_error"].startswith("refused: ")


def test_two_deliverers_never_send_the_same_delivery_at_once(fresh_engine, client, receiver):
    subscribe(client, receiver, ["target_reached"])
    for n in range(40):
        reach_target(client, f"drv-{n:02}")
    receiver.delay = 0.05
    settings = get_settings().model_copy(update={"webhook_concurrency": 8})
    results: list[dict] = []

    def run() -> None:
        results.append(deliver_due(fresh_engine, settings))

    deliverers = [threading.Thread(target=run) for _ in range(2)]
    for thread in deliverers:
        thread.start()
    for thread in deliverers:
        thread.join()
    assert sum(r["delivered"] for r in results) == 40
    assert all(r["delivered"] > 0 for r in results)  # both took part
    ids = receiver.ids()
    assert len(ids) == 40
    assert len(set(ids)) == 40
    assert receiver.max_in_flight_per_id == 1


def test_a_deleted_subscription_gets_nothing_more(fresh_engine, client, receiver):
    kept = subscribe(client, receiver, ["target_reached"])
    deleted = subscribe(client, receiver, ["target_reached"])
    reach_target(client, "drv-one")
    assert client.delete("/manage_webhooks", query_string={"id": deleted["id"]}).status_code == 200
    reach_target(client, "drv-two")
    assert deliver(client)["delivered"] == 2
    for request in receiver.requests:  # all signed with the subscription that was kept
        Webhook(kept["secret"]).verify(request.body, request.headers)
    drivers = sorted(json.loads(r.body)["data"]["driver_id"] for r in receiver.requests)
    assert drivers == ["drv-one", "drv-two"]


def test_a_rolled_back_change_sends_nothing(fresh_engine, client, receiver):
    subscribe(client, receiver, ["target_reached"])
    body = [{"driver_id": "drv-rollback", "target_deliveries": 1, "target_revenue": "0"}]
    assert post(client, "set_targets", body).status_code == 200
    events = [
        {"driver_id": "drv-rollback", "deliveries": 1},
        {"driver_id": "drv-unknown", "deliveries": 1},  # 404: the whole batch rolls back
    ]
    assert post(client, "update_progress", {"events": events}).status_code == 404
    assert deliver(client) == {"delivered": 0, "retrying": 0, "failed": 0, "dropped": 0}
    assert receiver.requests == []


def test_day_closed_is_delivered(fresh_engine, client, receiver):
    subscription = subscribe(client, receiver, ["day_closed"])
    reach_target(client, "drv-day")
    today = get(client, "get_targets", driver_id="drv-day").get_json()["business_date"]
    assert post(client, "snapshot_daily", {"date": today}).status_code == 200
    assert deliver(client)["delivered"] == 1
    (request,) = receiver.requests
    payload = Webhook(subscription["secret"]).verify(request.body, request.headers)
    assert payload["type"] == "day_closed"
    assert payload["data"] == {"date": today, "drivers_snapshotted": 1, "drivers_achieved": 1}


def self_signed_certificate(directory: Path) -> tuple[Path, Path]:
    """A certificate for the name localhost, and its key."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .sign(key, hashes.SHA256())
    )
    certificate_path = directory / "localhost.pem"
    key_path = directory / "localhost.key"
    certificate_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return certificate_path, key_path


@pytest.fixture
def tls_receiver(tmp_path: Path) -> Iterator[tuple[Receiver, Path]]:
    certificate, key = self_signed_certificate(tmp_path)
    with (
        settings_env(WEBHOOKS_ALLOW_LOOPBACK_HTTP="true"),
        running_receiver(tls=(certificate, key)) as running,
    ):
        yield running, certificate


def test_https_is_sent_to_the_checked_address_and_verified_for_the_host_name(
    fresh_engine, client, tls_receiver
):
    receiver, certificate = tls_receiver
    subscription = subscribe(client, receiver, ["target_reached"])
    reach_target(client, "drv-tls")
    # The receiver's certificate is trusted (as a public CA's would be) and names localhost.
    with settings_env(SSL_CERT_FILE=str(certificate)):
        assert deliver(client)["delivered"] == 1
    (request,) = receiver.requests
    Webhook(subscription["secret"]).verify(request.body, request.headers)


def test_an_untrusted_certificate_is_not_delivered_to(fresh_engine, client, tls_receiver):
    receiver, _ = tls_receiver
    subscription = subscribe(client, receiver, ["target_reached"])
    reach_target(client, "drv-untrusted")
    assert deliver(client)["retrying"] == 1
    assert receiver.requests == []
    assert "CERTIFICATE_VERIFY_FAILED" in listed(client, subscription["id"])["last_error"]


def test_a_certificate_for_another_name_is_not_delivered_to(fresh_engine, client, tls_receiver):
    receiver, certificate = tls_receiver
    port = receiver.server.server_address[1]
    response = post(
        client,
        "manage_webhooks",
        {"url": f"https://127.0.0.1:{port}/hooks", "events": ["target_reached"]},
    )
    assert response.status_code == 201
    reach_target(client, "drv-wrong-name")
    with settings_env(SSL_CERT_FILE=str(certificate)):
        assert deliver(client)["retrying"] == 1
    assert receiver.requests == []
    error = listed(client, response.get_json()["id"])["last_error"]
    assert "CERTIFICATE_VERIFY_FAILED" in error or "match" in error
