"""Pruning: progress events and webhook events past their retention go, a batch at a time.

The ledger of progress events exists for idempotency: a retry within EVENT_RETENTION_DAYS of its
first delivery is recognised; after that its event_id may count again. Webhook events go once
none of their deliveries is pending, WEBHOOK_RETENTION_DAYS after they were written (their
deliveries with them, so manage_webhooks' counts cover that window). Both retentions outlive
LATE_EVENT_DAYS (settings check it), so a late event always finds its day's ledger and its
target_reached dedupe key.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from shared.db.transactions import transaction

# Rows per transaction: short transactions, no long lock on what they delete.
PRUNE_BATCH = 10_000
# Batches per table and run: a first run on a large backlog stops here and the next night goes on.
PRUNE_MAX_BATCHES = 100

_PRUNE_PROGRESS_EVENTS = sa.text("""
DELETE FROM progress_events WHERE event_id IN (
    SELECT event_id FROM progress_events
    WHERE received_at < now() - make_interval(days => :days)
    LIMIT :batch
)
""")

_PRUNE_WEBHOOK_EVENTS = sa.text("""
DELETE FROM webhook_events WHERE id IN (
    SELECT e.id FROM webhook_events e
    WHERE e.created_at < now() - make_interval(days => :days)
      AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d
                      WHERE d.event_id = e.id AND d.status = 'pending')
    LIMIT :batch
)
""")


def _in_batches(engine: Engine, statement: sa.TextClause, days: int) -> int:
    deleted = 0
    for _ in range(PRUNE_MAX_BATCHES):
        with transaction(engine) as conn:
            batch = conn.execute(statement, {"days": days, "batch": PRUNE_BATCH}).rowcount
        deleted += batch
        if batch < PRUNE_BATCH:
            break
    return deleted


def prune(engine: Engine, *, event_days: int, webhook_days: int) -> dict[str, int]:
    """Deletes what is past its retention; the counts of rows deleted per table."""
    return {
        "progress_events": _in_batches(engine, _PRUNE_PROGRESS_EVENTS, event_days),
        "webhook_events": _in_batches(engine, _PRUNE_WEBHOOK_EVENTS, webhook_days),
    }
