"""One driver's closed days over a window."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from shared.db.transactions import transaction
from shared.errors import NotFound

_DRIVER_EXISTS = sa.text("SELECT 1 FROM driver_targets WHERE driver_id = :driver_id")

# The columns are HistoryDay's fields (shared.fleet.history.replies), in its order.
_HISTORY = sa.text("""
SELECT h.date, h.team, h.deliveries_completed, h.revenue_generated, h.target_deliveries,
       h.target_revenue, h.achievement_percentage, h.target_achieved,
       h.active_seconds / 60 AS active_minutes,
       per_active_hour(h.deliveries_completed, h.active_seconds) AS deliveries_per_active_hour
FROM driver_performance_history h
WHERE h.driver_id = :driver_id AND h.date BETWEEN :from AND :to
ORDER BY h.date DESC
""")

# The day rows both boards rank: closed days in [:prev_from, :to] (the previous window, when
# compared, lies just before :from; `current` tells the two apart), plus with :live the open
# day's progress rows (:to is then today) with their running active time. Every value is
# bound; CASE on :metric picks the score, so the statement texts never change.


def driver_must_exist(conn: sa.Connection, driver_id: str, field: str) -> None:
    if conn.execute(_DRIVER_EXISTS, {"driver_id": driver_id}).first() is None:
        raise NotFound(f"driver {driver_id!r} not found", code="driver_not_found", field=field)


def driver_history(
    engine: Engine, driver_id: str, *, window: tuple[dt.date, dt.date]
) -> list[dict[str, Any]]:
    """The driver's closed days in the inclusive window, newest first; 404 for a driver never
    seen."""
    start, end = window
    with transaction(engine) as conn:
        rows = conn.execute(_HISTORY, {"driver_id": driver_id, "from": start, "to": end})
        history = [dict(row) for row in rows.mappings()]
        if not history:
            driver_must_exist(conn, driver_id, "driver_id")
    return history
