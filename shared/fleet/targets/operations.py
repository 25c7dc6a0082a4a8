"""Setting targets (which opens the driver's day) and reading drivers' targets and progress
(the open day's summary across them: shared.fleet.targets.summary)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from shared.auth.scope import EVERYONE, Scope
from shared.db.transactions import single_statement, transaction
from shared.fleet.targets.requests import DriverTarget

# One statement for the whole batch: the drivers arrive as one JSON parameter.
# A field an item leaves out (its `_given` flag false) keeps an existing driver's stored value:
# a target as on the row the upsert locks, the team read by primary key in the same statement.
# A new driver gets the model's defaults, sent in the item. `"team": null` clears the team.
# Today's driver_days row follows the standing targets as set, and keeps the progress already
# counted unless the item has `restart_day` (each day has its own row, so nothing needs zeroing
# to start one). `IN (SELECT ... FROM input)` is one hashed lookup per row, not a batch scan.
# The status goes back to `available`, but a stopped active-time clock stays stopped until the
# driver reports (repeatable/clock.sql), and active time is not reset: it measures the driver's
# time, not progress toward a target.
# Rows are written in driver_id order: two batches sharing drivers lock them in the same order
# (in input order they deadlock).
# Scope (shared.auth.scope): with :scope_teams, a driver is written only if its new team is one
# of them and, when it exists, its stored team too, read on the row the upsert locks (so a
# concurrent move is seen); the statement answers the drivers it left out (NULL: none), and a
# batch with any is rolled back whole by the caller. :updated_by is who set the targets (audit).
_UPSERT_TARGETS = sa.text("""
WITH input AS (
    SELECT * FROM json_to_recordset(CAST(:drivers AS json))
        AS i(driver_id text, target_deliveries integer, target_deliveries_given boolean,
             target_revenue numeric, target_revenue_given boolean, team text, team_given boolean,
             restart_day boolean)
), upserted AS (
    INSERT INTO driver_targets AS t (driver_id, target_deliveries, target_revenue, team,
                                     updated_by)
    SELECT i.driver_id, i.target_deliveries, i.target_revenue, new.team,
           CAST(:updated_by AS text)
    FROM input i
    LEFT JOIN driver_targets existing ON existing.driver_id = i.driver_id
    CROSS JOIN LATERAL (
        SELECT CASE WHEN i.team_given THEN i.team ELSE existing.team END AS team
    ) AS new
    WHERE CAST(:scope_teams AS text[]) IS NULL
       OR new.team = ANY (CAST(:scope_teams AS text[]))
    ORDER BY i.driver_id
    ON CONFLICT (driver_id) DO UPDATE
        SET target_deliveries = CASE WHEN t.driver_id IN (SELECT g.driver_id FROM input g
                                                          WHERE g.target_deliveries_given)
                                     THEN excluded.target_deliveries
                                     ELSE t.target_deliveries END,
            target_revenue = CASE WHEN t.driver_id IN (SELECT g.driver_id FROM input g
                                                       WHERE g.target_revenue_given)
                                  THEN excluded.target_revenue ELSE t.target_revenue END,
            team = excluded.team,
            status = 'available',
            status_changed_at = now(),
            updated_by = excluded.updated_by
        WHERE CAST(:scope_teams AS text[]) IS NULL
           OR t.team = ANY (CAST(:scope_teams AS text[]))
    RETURNING t.driver_id, t.target_deliveries, t.target_revenue, t.team
), days AS (
    INSERT INTO driver_days AS d (driver_id, business_date, team, target_deliveries,
                                  target_revenue)
    SELECT u.driver_id, business_today(:tz), u.team, u.target_deliveries, u.target_revenue
    FROM upserted u
    WHERE NOT :today_closed
    ORDER BY u.driver_id
    ON CONFLICT ON CONSTRAINT driver_days_pkey DO UPDATE
        SET target_deliveries = excluded.target_deliveries,
            target_revenue = excluded.target_revenue,
            team = excluded.team,
            current_deliveries = CASE WHEN d.driver_id IN (SELECT r.driver_id FROM input r
                                                           WHERE r.restart_day)
                                      THEN 0 ELSE d.current_deliveries END,
            current_revenue = CASE WHEN d.driver_id IN (SELECT r.driver_id FROM input r
                                                        WHERE r.restart_day)
                                   THEN 0 ELSE d.current_revenue END
)
SELECT array_agg(i.driver_id) AS refused
FROM input i LEFT JOIN upserted u ON u.driver_id = i.driver_id
WHERE u.driver_id IS NULL
""")

# The drivers (driver_targets t) a caller's scope reaches (shared.auth.scope): its statements
# add this to their WHERE and take Scope.params.
IN_SCOPE = """
      AND (CAST(:scope_driver AS text) IS NULL OR t.driver_id = CAST(:scope_driver AS text))
      AND (CAST(:scope_teams AS text[]) IS NULL OR t.team = ANY (CAST(:scope_teams AS text[])))
"""

# The list's filters (:status, :team) on driver_targets t, for the page and the export alike.
LIST_FILTERS = """
      AND (CAST(:status AS text) IS NULL OR t.status = CAST(:status AS text))
      AND (CAST(:team AS text) IS NULL OR t.team = CAST(:team AS text))"""

_LOCK_TODAY = sa.text("SELECT lock_business_day(business_today(:tz))")

# A driver's values today, from driver_targets t and today's driver_days row d (none before the
# day's first event): the page's and the export's.
DRIVER_TODAY = """
           coalesce(d.target_deliveries, t.target_deliveries) AS target_deliveries,
           coalesce(d.target_revenue, t.target_revenue) AS target_revenue,
           coalesce(d.current_deliveries, 0) AS current_deliveries,
           coalesce(d.current_revenue, 0) AS current_revenue,
           coalesce(d.active_seconds, 0)
               + active_seconds_within(t.active_since, now(), business_today(:tz), :tz)
               AS active_seconds,
           greatest(t.updated_at, d.updated_at) AS updated_at
"""

# One driver (:driver_id) or one page (:after, :status, :team, :limit), each with today's progress
# and active time (counted seconds plus the running part of the clock, see repeatable/clock.sql).
# Percentages and "reached" come from the same SQL functions that history uses. The columns are
# DriverProgress' fields (shared.fleet.targets.replies), in its order.
_SELECT_DRIVERS = sa.text(
    """
SELECT driver_id, team, status, business_date,
       target_deliveries, target_revenue, current_deliveries, current_revenue,
       progress_percentage(current_deliveries, target_deliveries) AS deliveries_percentage,
       progress_percentage(current_revenue, target_revenue) AS revenue_percentage,
       calculate_achievement_percentage(current_deliveries, target_deliveries,
                                        current_revenue, target_revenue) AS achievement_percentage,
       current_deliveries >= target_deliveries AS deliveries_target_reached,
       current_revenue >= target_revenue AS revenue_target_reached,
       current_deliveries >= target_deliveries
           AND current_revenue >= target_revenue AS target_achieved,
       active_seconds / 60 AS active_minutes,
       updated_at
FROM (
    SELECT t.driver_id,
           t.team,
           t.status,
           business_today(:tz) AS business_date,
"""  # noqa: S608 (constant fragments: no request text reaches the statement)
    + DRIVER_TODAY
    + """    FROM driver_targets t
    LEFT JOIN driver_days d
           ON d.driver_id = t.driver_id AND d.business_date = business_today(:tz)
    WHERE (CAST(:driver_id AS text) IS NULL OR t.driver_id = CAST(:driver_id AS text))
      AND (CAST(:after AS text) IS NULL OR t.driver_id > CAST(:after AS text))"""
    + LIST_FILTERS
    + IN_SCOPE
    + """    ORDER BY t.driver_id
    LIMIT :limit
) AS driver
ORDER BY driver_id
"""
)


def set_targets(
    engine: Engine, drivers: Sequence[DriverTarget], *, timezone: str, scope: Scope = EVERYONE
) -> int:
    """Upserts every driver's targets and opens their day, status available. A field left out
    keeps an existing driver's value (defaults for a new one); today's progress stays unless the
    driver's item has `restart_day`.

    All or nothing. If today was already closed by hand, only the standing targets change;
    the next day opens with them. A team-bound `scope` writes only drivers whose stored and
    new teams are its own: one that is not refuses the whole batch.
    """
    for index, driver in enumerate(drivers):
        if driver.team_given:
            scope.team(driver.team, field=f"drivers[{index}].team")
    payload = json.dumps(
        [
            {
                "driver_id": d.driver_id,
                "target_deliveries": d.target_deliveries,
                "target_deliveries_given": d.target_deliveries_given,
                "target_revenue": str(d.target_revenue),
                "target_revenue_given": d.target_revenue_given,
                "team": d.team,
                "team_given": d.team_given,
                "restart_day": d.restart_day,
            }
            for d in drivers
        ]
    )
    with transaction(engine) as conn:
        today_closed = conn.execute(_LOCK_TODAY, {"tz": timezone}).scalar_one()
        params = {
            "drivers": payload,
            "tz": timezone,
            "today_closed": today_closed,
            "updated_by": scope.principal,
            **scope.params,
        }
        refused = conn.execute(_UPSERT_TARGETS, params).scalar_one()
        if refused:
            index = next(i for i, d in enumerate(drivers) if d.driver_id in refused)
            # Raised inside the transaction: nothing of the batch is kept.
            raise scope.outside_teams(field=f"drivers[{index}].driver_id")
    return len(drivers)


def _filters(
    timezone: str,
    scope: Scope,
    *,
    limit: int,
    driver_id: str | None = None,
    after: str | None = None,
    status: str | None = None,
    team: str | None = None,
) -> dict[str, Any]:
    return {
        "tz": timezone,
        "driver_id": driver_id,
        "after": after,
        "status": status,
        "team": team,
        "limit": limit,
        **scope.params,
    }


def get_driver(
    engine: Engine, driver_id: str, *, timezone: str, scope: Scope = EVERYONE
) -> dict[str, Any]:
    """One driver; for a team-bound scope a driver outside it is a 403, as is one that does not
    exist (the two look alike from outside the team)."""
    scope.own_driver(driver_id, rule="read their own targets", field="driver_id")
    params = _filters(timezone, scope, driver_id=driver_id, limit=1)
    with single_statement(engine) as conn:
        row = conn.execute(_SELECT_DRIVERS, params).mappings().first()
    if row is None:
        raise scope.unseen(driver_id, field="driver_id")
    return dict(row)


def list_drivers(
    engine: Engine,
    *,
    timezone: str,
    limit: int,
    after: str | None,
    status: str | None,
    team: str | None = None,
    scope: Scope = EVERYONE,
) -> dict[str, Any]:
    """One page in driver_id order; `next_after` is the next page's cursor (None at the end).
    Only the scope's drivers are listed (a driver: themselves); a team-bound scope may name
    only one of its teams."""
    if team is not None:
        scope.team(team, field="team")
    params = _filters(timezone, scope, after=after, status=status, team=team, limit=limit + 1)
    with single_statement(engine) as conn:
        rows = conn.execute(_SELECT_DRIVERS, params).mappings().all()
    page = rows[:limit]
    next_after = page[-1]["driver_id"] if len(rows) > limit else None
    return {"drivers": [dict(row) for row in page], "next_after": next_after}
