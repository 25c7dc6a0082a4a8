"""Webhook subscriptions (manage_webhooks) and the events the service emits.

target_reached is emitted by triggers in migrations/repeatable/webhooks.sql (in the transaction of
the progress that reaches the target); day_closed by the snapshot through `emit_day_closed`.
Either way the event and its deliveries commit or roll back with the change.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from shared.db.transactions import transaction
from shared.errors import InvalidInput, NotFound
from shared.webhooks.signing import new_secret
from shared.webhooks.urls import check_url

_INSERT_SUBSCRIPTION = sa.text("""
INSERT INTO webhook_subscriptions (url, events, description, secret)
VALUES (:url, CAST(:events AS text[]), CAST(:description AS text), :secret)
RETURNING CAST(id AS text) AS id, url, events, description, created_at
""")

# Every column but the secret.
_LIST_SUBSCRIPTIONS = sa.text("""
SELECT CAST(s.id AS text) AS id, s.url, s.events, s.description, s.created_at,
       count(d.id) FILTER (WHERE d.status = 'pending') AS pending,
       count(d.id) FILTER (WHERE d.status = 'delivered') AS delivered,
       count(d.id) FILTER (WHERE d.status = 'failed') AS failed,
       s.last_attempt_at, s.last_error, s.last_error_at
FROM webhook_subscriptions s
LEFT JOIN webhook_deliveries d ON d.subscription_id = s.id
GROUP BY s.id
ORDER BY s.created_at, s.id
""")

_DELETE_SUBSCRIPTION = sa.text(
    "DELETE FROM webhook_subscriptions WHERE id = CAST(:id AS uuid) RETURNING id"
)

_EMIT_DAY_CLOSED = sa.text("""
SELECT emit_webhook_event(
    'day_closed',
    'day_closed/' || CAST(:date AS date),
    jsonb_build_object(
        'date', CAST(:date AS date),
        'drivers_snapshotted', CAST(:count AS integer),
        'drivers_achieved', (SELECT count(*) FROM driver_performance_history h
                             WHERE h.date = CAST(:date AS date) AND h.target_achieved)))
""")


def create_subscription(
    engine: Engine,
    *,
    url: str,
    events: Sequence[str],
    description: str | None,
    allow_loopback_http: bool,
) -> dict[str, Any]:
    """Stores a subscription; the answer carries its secret, which is never shown again."""
    check_url(url, allow_loopback_http=allow_loopback_http)
    secret = new_secret()
    with transaction(engine) as conn:
        row = (
            conn.execute(
                _INSERT_SUBSCRIPTION,
                {
                    "url": url,
                    "events": list(events),
                    "description": description,
                    "secret": secret,
                },
            )
            .mappings()
            .one()
        )
    return {**row, "secret": secret}


def list_subscriptions(engine: Engine) -> list[dict[str, Any]]:
    with transaction(engine) as conn:
        rows = conn.execute(_LIST_SUBSCRIPTIONS).mappings().all()
    return [
        {
            "id": row["id"],
            "url": row["url"],
            "events": row["events"],
            "description": row["description"],
            "created_at": row["created_at"],
            "deliveries": {
                "pending": row["pending"],
                "delivered": row["delivered"],
                "failed": row["failed"],
            },
            "last_attempt_at": row["last_attempt_at"],
            "last_error": row["last_error"],
            "last_error_at": row["last_error_at"],
        }
        for row in rows
    ]


def delete_subscription(engine: Engine, subscription_id: str) -> None:
    """Removes the subscription and its undelivered deliveries (nothing more is sent to it)."""
    try:
        parsed = uuid.UUID(subscription_id)
    except ValueError as exc:
        raise InvalidInput("id is not a subscription id (a UUID)", field="id") from exc
    with transaction(engine) as conn:
        deleted = conn.execute(_DELETE_SUBSCRIPTION, {"id": str(parsed)}).first()
    if deleted is None:
        raise NotFound(
            f"no subscription {subscription_id}", code="subscription_not_found", field="id"
        )


def emit_day_closed(conn: Connection, *, date: dt.date, drivers_snapshotted: int) -> None:
    """Records day_closed in the caller's transaction (the snapshot's own)."""
    conn.execute(_EMIT_DAY_CLOSED, {"date": date, "count": drivers_snapshotted})
