"""The open day's summary across the fleet, one team, or a scope's drivers."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from shared.auth.scope import EVERYONE, Scope
from shared.db.transactions import transaction
from shared.fleet.targets.operations import IN_SCOPE

# The open day across the fleet (or one team; a scope's drivers only): one pass over the drivers.
_SUMMARY = sa.text(
    """
SELECT count(*) AS drivers,
       count(*) FILTER (WHERE t.status = 'available') AS available,
       count(*) FILTER (WHERE t.status = 'busy') AS busy,
       count(*) FILTER (WHERE t.status = 'break') AS on_break,
       count(*) FILTER (WHERE t.status = 'offline') AS offline,
       coalesce(sum(coalesce(d.current_deliveries, 0)), 0) AS deliveries_done,
       coalesce(sum(coalesce(d.target_deliveries, t.target_deliveries)), 0) AS deliveries_target,
       coalesce(sum(coalesce(d.current_revenue, 0)), 0) AS revenue_done,
       coalesce(sum(coalesce(d.target_revenue, t.target_revenue)), 0) AS revenue_target,
       count(*) FILTER (WHERE coalesce(d.current_deliveries, 0)
                              >= coalesce(d.target_deliveries, t.target_deliveries))
           AS reached_deliveries,
       count(*) FILTER (WHERE coalesce(d.current_revenue, 0)
                              >= coalesce(d.target_revenue, t.target_revenue))
           AS reached_revenue
FROM driver_targets t
LEFT JOIN driver_days d ON d.driver_id = t.driver_id AND d.business_date = business_today(:tz)
WHERE (CAST(:team AS text) IS NULL OR t.team = CAST(:team AS text))"""
    + IN_SCOPE
)


def fleet_summary(
    engine: Engine, *, timezone: str, team: str | None, scope: Scope = EVERYONE
) -> dict[str, Any]:
    """The open day in numbers: drivers by status, totals against targets, targets reached.
    A team-bound scope counts its teams' drivers only (and may name only one of them); a
    driver has no summary."""
    scope.not_driver(rule="read the fleet summary, only their own targets")
    if team is not None:
        scope.team(team, field="team")
    with transaction(engine) as conn:
        row = conn.execute(_SUMMARY, {"tz": timezone, "team": team, **scope.params}).one()
    return {
        "team": team,
        "drivers": row.drivers,
        "by_status": {
            "available": row.available,
            "busy": row.busy,
            "break": row.on_break,
            "offline": row.offline,
        },
        "deliveries": {"done": row.deliveries_done, "target": row.deliveries_target},
        "revenue": {"done": row.revenue_done, "target": row.revenue_target},
        "reached_deliveries": row.reached_deliveries,
        "reached_revenue": row.reached_revenue,
    }
