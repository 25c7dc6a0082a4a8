"""Pruning: progress events and webhook events past their retention go, within a time budget.

The ledger of progress events exists for idempotency: a retry within EVENT_RETENTION_DAYS of its
first delivery is recognised; after that its event_id may count again. Webhook events go once
none of their deliveries is pending, WEBHOOK_RETENTION_DAYS after they were written (their
deliveries with them, so manage_webhooks' counts cover that window). Both retentions outlive
LATE_EVENT_DAYS (settings check it), so a late event always finds its day's ledger and its
target_reached dedupe key.

The ledger (~5M rows a day for 50,000 drivers) is pruned by physical ranges: one statement per
PRUNE_WINDOW_PAGES heap pages (a TID range scan), from the first page to the last one there was
when the run began, each deleting what is expired in its window. Every page is read once a run,
whatever the order rows were written or reused freed space in, no index is probed, and each
statement's work is bounded by its window, not by how much has expired. There is no cap on the
rows; the run stops at PRUNE_SECONDS instead (inside snapshot_daily's 300 s timeout, after the
day is closed) and says so (`carried_over`). The next run sweeps from the first page again:
pages already cleared cost a read each (85,000 pages/s in the bench), so a sweep longer than
one night's budget never reaches the last pages: README "Capacity" says when that comes.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from shared.db.transactions import transaction

log = logging.getLogger(__name__)

# Heap pages per ledger statement (8 kB each: 16 MB, ~200,000 rows; 0.3 s here): short transactions.
PRUNE_WINDOW_PAGES = 2048
# Webhook events per transaction.
PRUNE_BATCH = 10_000
# Wall time for the whole pruning of a run; no statement starts after it.
PRUNE_SECONDS = 150.0

# One cutoff for the whole run: each window's statement is its own transaction, with its own now().
_CUTOFF = sa.text("SELECT now() - make_interval(days => :days)")

LEDGER_PAGES_SQL = (
    "SELECT pg_relation_size('progress_events') / current_setting('block_size')::integer"
)
_LEDGER_PAGES = sa.text(LEDGER_PAGES_SQL)

_PRUNE_PROGRESS_WINDOW = sa.text("""
DELETE FROM progress_events
WHERE ctid >= CAST(:start AS tid) AND ctid < CAST(:stop AS tid) AND received_at < :cutoff
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


def _page(number: int) -> str:
    return f"({number},0)"


def _ledger(engine: Engine, days: int, in_time: Callable[[], bool]) -> tuple[int, bool]:
    """Rows deleted, and whether the sweep reached the last page."""
    with transaction(engine) as conn:
        cutoff = conn.execute(_CUTOFF, {"days": days}).scalar_one()
        pages = int(conn.execute(_LEDGER_PAGES).scalar_one())
    deleted = 0
    for start in range(0, pages, PRUNE_WINDOW_PAGES):
        if not in_time():
            return deleted, False
        window = {
            "start": _page(start),
            "stop": _page(start + PRUNE_WINDOW_PAGES),
            "cutoff": cutoff,
        }
        with transaction(engine) as conn:
            deleted += conn.execute(_PRUNE_PROGRESS_WINDOW, window).rowcount
    return deleted, True


def _webhook_events(engine: Engine, days: int, in_time: Callable[[], bool]) -> tuple[int, bool]:
    deleted = 0
    while in_time():
        with transaction(engine) as conn:
            batch = conn.execute(_PRUNE_WEBHOOK_EVENTS, {"days": days, "batch": PRUNE_BATCH})
        deleted += batch.rowcount
        if batch.rowcount < PRUNE_BATCH:
            return deleted, True
    return deleted, False


def prune(engine: Engine, *, event_days: int, webhook_days: int) -> dict[str, Any]:
    """Deletes what is past its retention within PRUNE_SECONDS: the counts of rows deleted per
    table, and `carried_over: true` when the time ran out first."""
    started = time.monotonic()

    def in_time() -> bool:
        return time.monotonic() - started < PRUNE_SECONDS

    events, events_done = _ledger(engine, event_days, in_time)
    webhooks, webhooks_done = _webhook_events(engine, webhook_days, in_time)
    seconds = time.monotonic() - started
    result: dict[str, Any] = {"progress_events": events, "webhook_events": webhooks}
    if not (events_done and webhooks_done):
        result["carried_over"] = True
    log.info(
        "pruned %d progress events (%.0f rows/s) and %d webhook events in %.1f s%s",
        events,
        events / seconds if seconds else 0.0,
        webhooks,
        seconds,
        "; the rest carries over to the next run" if "carried_over" in result else "",
    )
    return result
