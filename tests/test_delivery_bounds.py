"""deliver_webhooks is called every minute and its one instance takes one request: a run ends
within WEBHOOK_RUN_SECONDS (at most 45 s) whatever its receivers do, leaves what it had no time
for pending for the next run, and never sends one delivery twice at once."""

from __future__ import annotations

import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from pydantic import ValidationError
from sqlalchemy.engine import Engine
from werkzeug.test import Client

from shared import registry
from shared.settings import WEBHOOK_RUN_LIMIT_SECONDS, Settings, get_settings
from shared.webhooks.delivery import deliver_due
from tests.helpers import post, progress, set_target
from tests.webhook_receiver import Receiver, running_receiver, settings_env

TIMEOUT = 2.0
RUN = 10.0  # room for one batch: TIMEOUT + 6 s for its claim, lookups and recording


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with settings_env(WEBHOOKS_ALLOW_LOOPBACK_HTTP="true"), running_receiver() as running:
        yield running


def _bounded(concurrency: int) -> Settings:
    return get_settings().model_copy(
        update={
            "webhook_timeout_seconds": TIMEOUT,
            "webhook_run_seconds": RUN,
            "webhook_concurrency": concurrency,
        }
    )


def _reach_targets(client: Client, url: str, drivers: int) -> None:
    """One target_reached delivery to `url` per driver."""
    created = post(client, "manage_webhooks", {"url": url, "events": ["target_reached"]})
    assert created.status_code == 201, created.get_json()
    ids = [f"bound-{n}" for n in range(drivers)]
    set_target(client, *ids, deliveries=1)
    for driver_id in ids:
        progress(client, driver_id, deliveries=1)


def _pending(engine: Engine) -> int:
    with engine.connect() as conn:
        query = "SELECT count(*) FROM webhook_deliveries WHERE status = 'pending'"
        return int(conn.execute(sa.text(query)).scalar_one())


def _timed_run(engine: Engine, settings: Settings) -> tuple[dict[str, int], float]:
    started = time.monotonic()
    counts = deliver_due(engine, settings)
    return counts, time.monotonic() - started


def test_a_run_against_a_slow_receiver_ends_by_its_bound_and_leaves_the_rest(
    fresh_engine: Engine, client: Client, receiver: Receiver
) -> None:
    _reach_targets(client, receiver.url, 20)
    receiver.delay = 1.8  # within the timeout: each batch takes that long

    counts, took = _timed_run(fresh_engine, _bounded(concurrency=2))
    assert took <= RUN, f"the run took {took:.1f} s"
    assert 0 < counts["delivered"] < 20
    assert counts["delivered"] + _pending(fresh_engine) == 20  # the rest waits, untouched

    receiver.delay = 0
    rest, _ = _timed_run(fresh_engine, _bounded(concurrency=16))
    assert counts["delivered"] + rest["delivered"] == 20
    assert set(Counter(receiver.ids()).values()) == {1}
    assert receiver.max_in_flight_per_id == 1


def test_two_runs_at_once_each_end_by_the_bound_and_send_nothing_twice(
    fresh_engine: Engine, client: Client, receiver: Receiver
) -> None:
    _reach_targets(client, receiver.url, 24)
    receiver.delay = 1.0
    took: list[float] = []

    def run() -> None:
        took.append(_timed_run(fresh_engine, _bounded(concurrency=3))[1])

    runs = [threading.Thread(target=run) for _ in range(2)]
    for thread in runs:
        thread.start()
    for thread in runs:
        thread.join()
    assert len(took) == 2 and max(took) <= RUN, took
    assert receiver.max_in_flight_per_id == 1
    assert set(Counter(receiver.ids()).values()) == {1}
    assert len(receiver.ids()) + _pending(fresh_engine) == 24


def test_a_name_lookup_that_hangs_does_not_hold_the_run(
    fresh_engine: Engine, client: Client, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = receiver.server.server_address[1]
    _reach_targets(client, f"http://localhost:{port}/hooks", 1)
    real_lookup = socket.getaddrinfo
    hang = TIMEOUT + 2.0  # past the send's deadline and the batch's grace

    def slow_lookup(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host == "localhost":  # only the receiver's name: the database's address is 127.0.0.1
            time.sleep(hang)
        return real_lookup(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", slow_lookup)
    counts, took = _timed_run(fresh_engine, _bounded(concurrency=2))
    assert took < hang, f"the run waited {took:.1f} s for the lookup"
    assert counts["retrying"] == 1
    time.sleep(hang - took + 0.5)  # the lookup returns: past its deadline, nothing is sent
    assert receiver.requests == []


def test_settings_keep_a_run_well_inside_the_minute(monkeypatch: pytest.MonkeyPatch) -> None:
    defaults = Settings()
    assert defaults.webhook_batch_seconds <= defaults.webhook_run_seconds <= 45
    for env in (
        {"WEBHOOK_RUN_SECONDS": "50"},  # the old default: the run would outlast the minute
        {"WEBHOOK_TIMEOUT_SECONDS": "30", "WEBHOOK_RUN_SECONDS": "30"},  # no batch fits
        {"WEBHOOK_TIMEOUT_SECONDS": "60"},
    ):
        with monkeypatch.context() as patch:
            for name, value in env.items():
                patch.setenv(name, value)
            with pytest.raises(ValidationError, match=r"(?i)webhook_"):
                Settings()


def test_the_deployed_run_and_its_schedule_fit_in_the_minute() -> None:
    deliverer = registry.function("deliver_webhooks")
    assert deliverer.schedule is not None
    assert deliverer.schedule.cron == "* * * * *"
    assert (deliverer.concurrency, deliverer.max_instances) == (1, 1)
    # A run ends by WEBHOOK_RUN_SECONDS; the timeout is a backstop that still ends a stuck call
    # before the next minute's, and the scheduler waits as long as the function may run.
    assert WEBHOOK_RUN_LIMIT_SECONDS < deliverer.timeout_s <= 60
    assert deliverer.schedule.attempt_deadline_s == deliverer.timeout_s
