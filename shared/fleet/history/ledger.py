"""The audit of one driver: the ledgered progress events received over a window, each with who
sent it, and who last set the driver's targets (migrations/0007_audit.sql)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from shared.auth.scope import EVERYONE, Scope
from shared.db.transactions import single_statement
from shared.fleet.targets.operations import IN_SCOPE

# One row per event (or one with no event: the driver has none in the window). The window is
# by time received in the fleet's zone, which the ledger's BRIN index on received_at answers
# (an index by driver would cost every event on the hot path). The columns after
# targets_set_by are LedgerEvent's fields (shared.fleet.history.replies), in its order.
_LEDGER = sa.text(
    """
SELECT t.updated_by AS targets_set_by,
       e.event_id, e.business_date, e.received_at, e.deliveries, e.revenue, e.status,
       e.recorded_by
FROM driver_targets t
LEFT JOIN progress_events e
       ON e.driver_id = t.driver_id
      AND e.received_at >= business_day_start(:from, :tz)
      AND e.received_at < business_day_start(CAST(:to AS date) + 1, :tz)
WHERE t.driver_id = :driver_id"""
    + IN_SCOPE
    + """ORDER BY e.received_at DESC, e.event_id
"""
)


def driver_ledger(
    engine: Engine,
    driver_id: str,
    *,
    window: tuple[dt.date, dt.date],
    timezone: str,
    scope: Scope = EVERYONE,
) -> dict[str, Any]:
    """`targets_set_by` and the ledgered `events` received in the window, newest first; for
    admins and dispatchers (a team-bound scope: its teams' drivers only, 403 otherwise)."""
    scope.not_driver(rule="read the ledger, which names who made each write")
    start, end = window
    params = {"driver_id": driver_id, "from": start, "to": end, "tz": timezone, **scope.params}
    with single_statement(engine) as conn:
        rows = conn.execute(_LEDGER, params).mappings().all()
    if not rows:
        raise scope.unseen(driver_id, field="driver_id")
    events = [
        {key: value for key, value in row.items() if key != "targets_set_by"}
        for row in rows
        if row["event_id"] is not None
    ]
    return {"targets_set_by": rows[0]["targets_set_by"], "events": events}
