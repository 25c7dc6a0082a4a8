"""One driver's closed days over a window."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from shared.auth.scope import EVERYONE, Scope
from shared.db.transactions import transaction
from shared.fleet.targets.operations import IN_SCOPE

# The driver, if the caller's scope reaches them (shared.auth.scope).
_DRIVER_EXISTS = sa.text(
    "SELECT 1 FROM driver_targets t WHERE t.driver_id = :driver_id"  # noqa: S608 (constants)
    + IN_SCOPE
)

# The columns are HistoryDay's fields (shared.fleet.history.replies), in its order. A driver's
# closed days are theirs to see by who the driver is now: a dispatcher of their current team
# sees all of them, days in an earlier team included (the record moves with the driver).
_HISTORY = sa.text(
    """
SELECT h.date, h.team, h.deliveries_completed, h.revenue_generated, h.target_deliveries,
       h.target_revenue, h.achievement_percentage, h.target_achieved,
       h.active_seconds / 60 AS active_minutes,
       per_active_hour(h.deliveries_completed, h.active_seconds, :rate_min_seconds)
           AS deliveries_per_active_hour
FROM driver_performance_history h
WHERE h.driver_id = :driver_id AND h.date BETWEEN :from AND :to
  AND EXISTS (SELECT FROM driver_targets t WHERE t.driver_id = h.driver_id"""
    + IN_SCOPE
    + """)
ORDER BY h.date DESC
"""
)


def driver_must_exist(conn: sa.Connection, driver_id: str, field: str, scope: Scope) -> None:
    """404 for a driver never seen; for a team-bound scope, 403 for one outside its teams and
    for one never seen alike (the two look the same from outside the team)."""
    if conn.execute(_DRIVER_EXISTS, {"driver_id": driver_id, **scope.params}).first() is None:
        raise scope.unseen(driver_id, field=field)


def driver_history(
    engine: Engine,
    driver_id: str,
    *,
    window: tuple[dt.date, dt.date],
    rate_min_seconds: int,
    scope: Scope = EVERYONE,
) -> list[dict[str, Any]]:
    """The driver's closed days in the inclusive window, newest first; 404 for a driver never
    seen. A driver reads only their own, a dispatcher their teams' drivers'."""
    scope.own_driver(driver_id, rule="read their own history", field="driver_id")
    start, end = window
    params = {
        "driver_id": driver_id,
        "from": start,
        "to": end,
        "rate_min_seconds": rate_min_seconds,
        **scope.params,
    }
    with transaction(engine) as conn:
        history = [dict(row) for row in conn.execute(_HISTORY, params).mappings()]
        if not history:
            driver_must_exist(conn, driver_id, "driver_id", scope)
    return history
