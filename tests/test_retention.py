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


# Every third row is inside the window, so each page holds both kinds.
_ADD_MIXED_LEDGER = sa.text("""
INSERT INTO progress_events (event_id, driver_id, business_date, deliveries, revenue, received_at)
SELECT 'mixed-' || i, 'drv-old', current_date, 1, 0,
       now() - make_interval(days => CASE WHEN mod(i, 3) = 0 THEN 29 ELSE 31 END)
FROM generate_series(1, :rows) AS i
""")
_LEDGER_IDS = sa.text("SELECT event_id FROM progress_events WHERE starts_with(event_id, 'mixed-')")
_PAGES_USED = sa.text("SELECT count(DISTINCT (ctid::text::point)[0]) FROM progress_events")


class Clock:
    """time.monotonic for retention: each reading one second after the last."""

    def __init__(self) -> None:
        self.now = 0.0

    def monotonic(self) -> float:
        self.now += 1.0
        return self.now


def test_the_ledger_is_pruned_window_by_window_and_only_past_retention(
    fresh_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(retention, "PRUNE_WINDOW_PAGES", 2)
    with fresh_engine.begin() as conn:
        conn.execute(_ADD_MIXED_LEDGER, {"rows": 3000})
        pages = conn.execute(_PAGES_USED).scalar_one()
    assert pages > 4 * retention.PRUNE_WINDOW_PAGES  # several windows, each with both kinds

    pruned = retention.prune(fresh_engine, event_days=30, webhook_days=30)
    assert pruned == {"progress_events": 2000, "webhook_events": 0}
    with fresh_engine.connect() as conn:
        kept = set(conn.execute(_LEDGER_IDS).scalars())
    assert kept == {f"mixed-{i}" for i in range(3, 3001, 3)}
    assert retention.prune(fresh_engine, event_days=30, webhook_days=30)["progress_events"] == 0


def test_each_window_reads_only_its_pages(fresh_engine: Engine) -> None:
    with fresh_engine.begin() as conn:
        conn.execute(_ADD_MIXED_LEDGER, {"rows": 3000})
        conn.execute(sa.text("ANALYZE progress_events"))
        plan = conn.execute(
            sa.text("EXPLAIN " + retention._PRUNE_PROGRESS_WINDOW.text),
            {"start": "(2,0)", "stop": "(4,0)", "cutoff": dt.datetime.now(dt.UTC) - 30 * DAY},
        ).scalars()
        assert "Tid Range Scan on progress_events" in "\n".join(plan)


def test_the_time_budget_stops_the_sweep_and_the_next_run_goes_on(
    fresh_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(retention, "PRUNE_WINDOW_PAGES", 1)
    # Readings: the start, then one before each window: two windows fit in the budget.
    monkeypatch.setattr(retention, "PRUNE_SECONDS", 2.5)
    with fresh_engine.begin() as conn:
        conn.execute(_ADD_MIXED_LEDGER, {"rows": 3000})
    monkeypatch.setattr(retention, "time", Clock())
    first = retention.prune(fresh_engine, event_days=30, webhook_days=30)
    assert first["carried_over"] is True
    assert 0 < first["progress_events"] < 2000

    monkeypatch.setattr(retention, "PRUNE_SECONDS", 1000.0)
    second = retention.prune(fresh_engine, event_days=30, webhook_days=30)
    assert second == {"progress_events": 2000 - first["progress_events"], "webhook_events": 0}


def test_the_snapshot_reply_says_what_carries_over(
    fresh_engine: Engine, client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    with fresh_engine.begin() as conn:
        conn.execute(_ADD_MIXED_LEDGER, {"rows": 30})
    monkeypatch.setattr(retention, "PRUNE_SECONDS", 0.0)
    yesterday = (dt.datetime.now(dt.UTC) - DAY).date()
    closed = post(client, "snapshot_daily", {"date": yesterday.isoformat()}).get_json()
    assert closed["already_done"] is False
    assert closed["pruned"] == {"progress_events": 0, "webhook_events": 0, "carried_over": True}

    monkeypatch.setattr(retention, "PRUNE_SECONDS", 1000.0)
    retry = post(client, "snapshot_daily", {"date": yesterday.isoformat()}).get_json()
    assert retry["pruned"] == {"progress_events": 20, "webhook_events": 0}


def test_a_replay_inside_the_window_is_still_recognised_after_pruning(
    fresh_engine: Engine, client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(retention, "PRUNE_WINDOW_PAGES", 1)
    assert post(client, "set_targets", [{"driver_id": "drv-replay"}]).status_code == 200
    event = {"driver_id": "drv-replay", "deliveries": 2, "event_id": "kept-event"}
    assert post(client, "update_progress", event).get_json()["replayed"] is False
    with fresh_engine.begin() as conn:
        conn.execute(_ADD_MIXED_LEDGER, {"rows": 600})
        # The event was received 29 days ago: inside the window, on a page with expired rows.
        conn.execute(
            sa.text(
                "UPDATE progress_events SET received_at = now() - interval '29 days'"
                " WHERE event_id = 'kept-event'"
            )
        )

    assert retention.prune(fresh_engine, event_days=30, webhook_days=30)["progress_events"] == 400
    replay = post(client, "update_progress", event).get_json()
    assert (replay["replayed"], replay["current_deliveries"]) == (True, 2)


@pytest.mark.parametrize("name", ["EVENT_RETENTION_DAYS", "WEBHOOK_RETENTION_DAYS"])
def test_retention_must_outlive_late_events(name: str) -> None:
    with pytest.raises(pydantic.ValidationError, match=f"{name} must be at least LATE_EVENT_DAYS"):
        Settings(late_event_days=7, **{name.lower(): 8})
    assert Settings(late_event_days=7, **{name.lower(): 9})


def test_unset_retention_is_30_days_or_longer_than_the_late_window() -> None:
    assert (Settings().event_retention, Settings().webhook_retention) == (30, 30)
    longer = Settings(late_event_days=60)
    assert (longer.event_retention, longer.webhook_retention) == (62, 62)
