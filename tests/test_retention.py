"""Retention: after each snapshot, progress events and finished webhook events past their
retention are pruned; recent rows and anything still to be delivered stay."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pydantic
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from shared.fleet.days import retention
from shared.settings import Settings
from tests.helpers import post

DAY = dt.timedelta(days=1)


def add_progress_event(conn: Any, received_days_ago: float) -> str:
    event_id = uuid.uuid4().hex
    conn.execute(
        sa.text(
            "INSERT INTO progress_events"
            " (event_id, driver_id, business_date, deliveries, revenue, received_at)"
            " VALUES (:id, 'drv-old', current_date, 1, 0,"
            "         now() - make_interval(secs => :days * 86400))"
        ),
        {"id": event_id, "days": received_days_ago},
    )
    return event_id


def add_webhook_event(conn: Any, subscription: str, created_days_ago: float, status: str) -> str:
    event_id = conn.execute(
        sa.text(
            "INSERT INTO webhook_events (event_type, dedupe_key, data, created_at)"
            " VALUES ('day_closed', :key, '{}', now() - make_interval(secs => :days * 86400))"
            " RETURNING id"
        ),
        {"key": f"test/{uuid.uuid4().hex}", "days": created_days_ago},
    ).scalar_one()
    conn.execute(
        sa.text(
            "INSERT INTO webhook_deliveries (event_id, subscription_id, status)"
            " VALUES (:event, :subscription, :status)"
        ),
        {"event": event_id, "subscription": subscription, "status": status},
    )
    return str(event_id)


def remaining(conn: Any, table: str, column: str, ids: list[str]) -> set[str]:
    rows = conn.execute(
        sa.text(
            f"SELECT CAST({column} AS text) FROM {table} WHERE CAST({column} AS text) = ANY(:ids)"
        ),
        {"ids": ids},
    )
    return set(rows.scalars())


@pytest.fixture
def subscription(fresh_engine: Engine) -> str:
    with fresh_engine.begin() as conn:
        return str(
            conn.execute(
                sa.text(
                    "INSERT INTO webhook_subscriptions (url, events, secret)"
                    " VALUES ('https://example.com/hook', ARRAY['day_closed'], 'whsec_dGVzdA==')"
                    " RETURNING id"
                )
            ).scalar_one()
        )


def test_the_nightly_snapshot_prunes_only_what_is_past_retention(
    fresh_engine: Engine, client: Any, subscription: str
) -> None:
    with fresh_engine.begin() as conn:
        old_events = [add_progress_event(conn, 31) for _ in range(3)]
        kept_events = [add_progress_event(conn, 29), add_progress_event(conn, 0)]
        old_delivered = add_webhook_event(conn, subscription, 31, "delivered")
        old_failed = add_webhook_event(conn, subscription, 40, "failed")
        old_pending = add_webhook_event(conn, subscription, 31, "pending")
        recent_delivered = add_webhook_event(conn, subscription, 29, "delivered")

    yesterday = (dt.datetime.now(dt.UTC) - DAY).date()
    response = post(client, "snapshot_daily", {"date": yesterday.isoformat()})
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["pruned"] == {"progress_events": 3, "webhook_events": 2}

    with fresh_engine.connect() as conn:
        all_events = old_events + kept_events
        assert remaining(conn, "progress_events", "event_id", all_events) == set(kept_events)
        webhook_ids = [old_delivered, old_failed, old_pending, recent_delivered]
        assert remaining(conn, "webhook_events", "id", webhook_ids) == {
            old_pending,
            recent_delivered,
        }
        # The deliveries went with their events.
        assert remaining(conn, "webhook_deliveries", "event_id", webhook_ids) == {
            old_pending,
            recent_delivered,
        }

    # A retried scheduler call finds nothing more to prune.
    retry = post(client, "snapshot_daily", {"date": yesterday.isoformat()})
    assert retry.get_json()["already_done"] is True
    assert retry.get_json()["pruned"] == {"progress_events": 0, "webhook_events": 0}


def test_a_backlog_is_pruned_in_batches(
    fresh_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(retention, "PRUNE_BATCH", 4)
    monkeypatch.setattr(retention, "PRUNE_MAX_BATCHES", 3)
    with fresh_engine.begin() as conn:
        for _ in range(14):
            add_progress_event(conn, 60)
    # 3 batches of 4 this run; the next run deletes the rest.
    assert retention.prune(fresh_engine, event_days=30, webhook_days=30)["progress_events"] == 12
    assert retention.prune(fresh_engine, event_days=30, webhook_days=30)["progress_events"] == 2


@pytest.mark.parametrize("name", ["EVENT_RETENTION_DAYS", "WEBHOOK_RETENTION_DAYS"])
def test_retention_must_outlive_late_events(name: str) -> None:
    with pytest.raises(pydantic.ValidationError, match=f"{name} must be at least LATE_EVENT_DAYS"):
        Settings(late_event_days=7, **{name.lower(): 8})
    assert Settings(late_event_days=7, **{name.lower(): 9})


def test_unset_retention_is_30_days_or_longer_than_the_late_window() -> None:
    assert (Settings().event_retention, Settings().webhook_retention) == (30, 30)
    longer = Settings(late_event_days=60)
    assert (longer.event_retention, longer.webhook_retention) == (62, 62)
