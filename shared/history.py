"""Reading closed days: one driver's history and the top-performers board."""

from __future__ import annotations

from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from shared.db import transaction
from shared.errors import NotFound

_DRIVER_EXISTS = sa.text("SELECT 1 FROM driver_targets WHERE driver_id = :driver_id")

# The window of `days`: the N days before today in the fleet's time zone, and today itself
# (a day closed early by hand).
_HISTORY = sa.text("""
SELECT h.date, h.deliveries_completed, h.revenue_generated, h.target_deliveries,
       h.target_revenue, h.achievement_percentage, h.target_achieved
FROM driver_performance_history h
WHERE h.driver_id = :driver_id AND h.date >= business_today(:tz) - CAST(:days AS integer)
ORDER BY h.date DESC
""")

# The metric is a bound value picked by CASE: the statement text never changes.
_TOP_PERFORMERS = sa.text("""
WITH per_driver AS (
    SELECT h.driver_id,
           count(*) AS days_worked,
           sum(h.deliveries_completed) AS total_deliveries,
           sum(h.revenue_generated) AS total_revenue,
           round(avg(h.achievement_percentage), 2) AS avg_achievement,
           count(*) FILTER (WHERE h.target_achieved) AS days_achieved
    FROM driver_performance_history h
    WHERE h.date >= business_today(:tz) - CAST(:days AS integer)
    GROUP BY h.driver_id
), scored AS (
    SELECT *, CASE CAST(:metric AS text)
                  WHEN 'deliveries' THEN CAST(total_deliveries AS numeric)
                  WHEN 'revenue' THEN total_revenue
                  ELSE avg_achievement
              END AS score
    FROM per_driver
)
SELECT rank() OVER (ORDER BY score DESC) AS rank,
       driver_id, days_worked, total_deliveries, total_revenue, avg_achievement, days_achieved
FROM scored
ORDER BY score DESC, driver_id
LIMIT :limit
""")


def driver_history(engine: Engine, driver_id: str, *, days: int, timezone: str) -> dict[str, Any]:
    """The driver's closed days in the window, newest first; 404 for a driver never seen."""
    with transaction(engine) as conn:
        rows = conn.execute(
            _HISTORY, {"driver_id": driver_id, "days": days, "tz": timezone}
        ).mappings()
        history = [dict(row) for row in rows]
        if not history and conn.execute(_DRIVER_EXISTS, {"driver_id": driver_id}).first() is None:
            raise NotFound(
                f"driver {driver_id!r} not found", code="driver_not_found", field="driver_id"
            )
    return {"driver_id": driver_id, "days": days, "history": history}


def top_performers(
    engine: Engine,
    *,
    days: int,
    limit: int,
    metric: Literal["achievement", "deliveries", "revenue"],
    timezone: str,
) -> dict[str, Any]:
    """Drivers ranked by the metric over the window; ties share a rank, then driver_id order."""
    with transaction(engine) as conn:
        rows = conn.execute(
            _TOP_PERFORMERS, {"days": days, "limit": limit, "metric": metric, "tz": timezone}
        ).mappings()
        performers = [dict(row) for row in rows]
    return {"metric": metric, "days": days, "performers": performers}
