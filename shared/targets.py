"""Setting targets (which opens the driver's day) and reading drivers' targets and progress."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from shared.db import transaction
from shared.errors import NotFound
from shared.models import DriverTarget

# One statement for the whole batch: the drivers arrive as one JSON parameter.
_UPSERT_TARGETS = sa.text("""
WITH input AS (
    SELECT * FROM json_to_recordset(CAST(:drivers AS json))
        AS i(driver_id text, target_deliveries integer, target_revenue numeric)
), upserted AS (
    INSERT INTO driver_targets AS t (driver_id, target_deliveries, target_revenue)
    SELECT driver_id, target_deliveries, target_revenue FROM input
    ON CONFLICT (driver_id) DO UPDATE
        SET target_deliveries = excluded.target_deliveries,
            target_revenue = excluded.target_revenue,
            status = 'available',
            status_changed_at = now()
    RETURNING t.driver_id, t.target_deliveries, t.target_revenue
)
INSERT INTO driver_days AS d (driver_id, business_date, target_deliveries, target_revenue)
SELECT u.driver_id, business_today(:tz), u.target_deliveries, u.target_revenue
FROM upserted u
WHERE NOT :today_closed
ON CONFLICT ON CONSTRAINT driver_days_pkey DO UPDATE
    SET target_deliveries = excluded.target_deliveries,
        target_revenue = excluded.target_revenue,
        current_deliveries = 0,
        current_revenue = 0
""")

_LOCK_TODAY = sa.text("SELECT lock_business_day(business_today(:tz))")

# One driver (:driver_id) or one page (:after, :status, :limit), each with today's progress.
# Percentages and "reached" come from the same SQL functions that history uses.
_SELECT_DRIVERS = sa.text("""
SELECT driver_id, status, business_date,
       target_deliveries, target_revenue, current_deliveries, current_revenue,
       progress_percentage(current_deliveries, target_deliveries) AS deliveries_percentage,
       progress_percentage(current_revenue, target_revenue) AS revenue_percentage,
       calculate_achievement_percentage(current_deliveries, target_deliveries,
                                        current_revenue, target_revenue) AS achievement_percentage,
       current_deliveries >= target_deliveries AS deliveries_target_reached,
       current_revenue >= target_revenue AS revenue_target_reached,
       current_deliveries >= target_deliveries
           AND current_revenue >= target_revenue AS target_achieved,
       updated_at
FROM (
    SELECT t.driver_id,
           t.status,
           business_today(:tz) AS business_date,
           coalesce(d.target_deliveries, t.target_deliveries) AS target_deliveries,
           coalesce(d.target_revenue, t.target_revenue) AS target_revenue,
           coalesce(d.current_deliveries, 0) AS current_deliveries,
           coalesce(d.current_revenue, 0) AS current_revenue,
           greatest(t.updated_at, d.updated_at) AS updated_at
    FROM driver_targets t
    LEFT JOIN driver_days d
           ON d.driver_id = t.driver_id AND d.business_date = business_today(:tz)
    WHERE (CAST(:driver_id AS text) IS NULL OR t.driver_id = CAST(:driver_id AS text))
      AND (CAST(:after AS text) IS NULL OR t.driver_id > CAST(:after AS text))
      AND (CAST(:status AS text) IS NULL OR t.status = CAST(:status AS text))
    ORDER BY t.driver_id
    LIMIT :limit
) AS driver
ORDER BY driver_id
""")


def set_targets(engine: Engine, drivers: Sequence[DriverTarget], *, timezone: str) -> int:
    """Upserts every driver's targets and starts their day: progress 0, status available.

    All or nothing. If today was already closed by hand, only the standing targets change;
    the next day opens with them.
    """
    payload = json.dumps(
        [
            {
                "driver_id": d.driver_id,
                "target_deliveries": d.target_deliveries,
                "target_revenue": str(d.target_revenue),
            }
            for d in drivers
        ]
    )
    with transaction(engine) as conn:
        today_closed = conn.execute(_LOCK_TODAY, {"tz": timezone}).scalar_one()
        conn.execute(
            _UPSERT_TARGETS, {"drivers": payload, "tz": timezone, "today_closed": today_closed}
        )
    return len(drivers)


def _filters(
    timezone: str,
    *,
    limit: int,
    driver_id: str | None = None,
    after: str | None = None,
    status: str | None = None,
) -> dict[str, Any]:
    return {
        "tz": timezone,
        "driver_id": driver_id,
        "after": after,
        "status": status,
        "limit": limit,
    }


def get_driver(engine: Engine, driver_id: str, *, timezone: str) -> dict[str, Any]:
    with transaction(engine) as conn:
        row = (
            conn.execute(_SELECT_DRIVERS, _filters(timezone, driver_id=driver_id, limit=1))
            .mappings()
            .first()
        )
    if row is None:
        raise NotFound(
            f"driver {driver_id!r} not found", code="driver_not_found", field="driver_id"
        )
    return dict(row)


def list_drivers(
    engine: Engine, *, timezone: str, limit: int, after: str | None, status: str | None
) -> dict[str, Any]:
    """One page in driver_id order; `next_after` is the next page's cursor (None at the end)."""
    params = _filters(timezone, after=after, status=status, limit=limit + 1)
    with transaction(engine) as conn:
        rows = conn.execute(_SELECT_DRIVERS, params).mappings().all()
    page = rows[:limit]
    next_after = page[-1]["driver_id"] if len(rows) > limit else None
    return {"drivers": [dict(row) for row in page], "next_after": next_after}
