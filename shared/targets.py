"""Setting targets (which opens the driver's day) and reading drivers' targets and progress."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from shared.db import single_statement, transaction, translated_errors
from shared.errors import NotFound
from shared.models import DriverTarget

# One statement for the whole batch: the drivers arrive as one JSON parameter.
# An item without `team` (team_given false) keeps the driver's current team, read by primary key
# in the same statement; `"team": null` clears it. The status goes back to `available`, but a
# stopped active-time clock stays stopped until the driver reports (migrations/0002), and active
# time is not reset: it measures the driver's time, not progress toward a target.
# Rows are written in driver_id order: two batches sharing drivers lock them in the same order
# (in input order they deadlock).
_UPSERT_TARGETS = sa.text("""
WITH input AS (
    SELECT * FROM json_to_recordset(CAST(:drivers AS json))
        AS i(driver_id text, target_deliveries integer, target_revenue numeric, team text,
             team_given boolean)
), upserted AS (
    INSERT INTO driver_targets AS t (driver_id, target_deliveries, target_revenue, team)
    SELECT i.driver_id, i.target_deliveries, i.target_revenue,
           CASE WHEN i.team_given THEN i.team ELSE existing.team END
    FROM input i
    LEFT JOIN driver_targets existing ON existing.driver_id = i.driver_id
    ORDER BY i.driver_id
    ON CONFLICT (driver_id) DO UPDATE
        SET target_deliveries = excluded.target_deliveries,
            target_revenue = excluded.target_revenue,
            team = excluded.team,
            status = 'available',
            status_changed_at = now()
    RETURNING t.driver_id, t.target_deliveries, t.target_revenue, t.team
)
INSERT INTO driver_days AS d (driver_id, business_date, team, target_deliveries, target_revenue)
SELECT u.driver_id, business_today(:tz), u.team, u.target_deliveries, u.target_revenue
FROM upserted u
WHERE NOT :today_closed
ORDER BY u.driver_id
ON CONFLICT ON CONSTRAINT driver_days_pkey DO UPDATE
    SET target_deliveries = excluded.target_deliveries,
        target_revenue = excluded.target_revenue,
        team = excluded.team,
        current_deliveries = 0,
        current_revenue = 0
""")

_LOCK_TODAY = sa.text("SELECT lock_business_day(business_today(:tz))")

# One driver (:driver_id) or one page (:after, :status, :team, :limit), each with today's progress
# and active time (counted seconds plus the running part of the clock, see migrations/0002).
# Percentages and "reached" come from the same SQL functions that history uses.
_SELECT_DRIVERS = sa.text("""
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
           coalesce(d.target_deliveries, t.target_deliveries) AS target_deliveries,
           coalesce(d.target_revenue, t.target_revenue) AS target_revenue,
           coalesce(d.current_deliveries, 0) AS current_deliveries,
           coalesce(d.current_revenue, 0) AS current_revenue,
           coalesce(d.active_seconds, 0)
               + active_seconds_within(t.active_since, now(), business_today(:tz), :tz)
               AS active_seconds,
           greatest(t.updated_at, d.updated_at) AS updated_at
    FROM driver_targets t
    LEFT JOIN driver_days d
           ON d.driver_id = t.driver_id AND d.business_date = business_today(:tz)
    WHERE (CAST(:driver_id AS text) IS NULL OR t.driver_id = CAST(:driver_id AS text))
      AND (CAST(:after AS text) IS NULL OR t.driver_id > CAST(:after AS text))
      AND (CAST(:status AS text) IS NULL OR t.status = CAST(:status AS text))
      AND (CAST(:team AS text) IS NULL OR t.team = CAST(:team AS text))
    ORDER BY t.driver_id
    LIMIT :limit
) AS driver
ORDER BY driver_id
""")

# The open day across the fleet (or one team): one pass over the drivers.
_SUMMARY = sa.text("""
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
WHERE CAST(:team AS text) IS NULL OR t.team = CAST(:team AS text)
""")

# The fields of each driver row, in the order of the CSV columns.
DRIVER_FIELDS = (
    "driver_id",
    "team",
    "status",
    "business_date",
    "target_deliveries",
    "target_revenue",
    "current_deliveries",
    "current_revenue",
    "deliveries_percentage",
    "revenue_percentage",
    "achievement_percentage",
    "deliveries_target_reached",
    "revenue_target_reached",
    "target_achieved",
    "active_minutes",
    "updated_at",
)

_READ_ONLY = sa.text("SET TRANSACTION READ ONLY")

# One batch of the CSV export as one text value: each driver's line holds the columns of
# DRIVER_FIELDS written as shared.csv_export writes cells (driver_id and team neutralised, then
# quoted per RFC 4180 when they hold a quote, comma, CR or LF; booleans as true/false; times in
# ISO 8601 UTC), the lines joined in driver_id order. One value per batch instead of one row per
# driver keeps per-row decoding in the driver out of the way. :after is the previous batch's
# `last` ('' sorts before every driver id).
_EXPORT_BATCH = sa.text("""
SELECT count(*) AS drivers, max(driver_id) AS last,
       string_agg(line, E'\\n' ORDER BY position) || E'\\n' AS body
FROM (
    SELECT driver_id, position,
           concat_ws(',',
               CASE WHEN id_text ~ '[",\\r\\n]'
                    THEN '"' || replace(id_text, '"', '""') || '"' ELSE id_text END,
               coalesce(CASE WHEN team_text ~ '[",\\r\\n]'
                             THEN '"' || replace(team_text, '"', '""') || '"'
                             ELSE team_text END, ''),
               status, business_date,
               target_deliveries, target_revenue, current_deliveries, current_revenue,
               progress_percentage(current_deliveries, target_deliveries),
               progress_percentage(current_revenue, target_revenue),
               calculate_achievement_percentage(current_deliveries, target_deliveries,
                                                current_revenue, target_revenue),
               CASE WHEN current_deliveries >= target_deliveries THEN 'true' ELSE 'false' END,
               CASE WHEN current_revenue >= target_revenue THEN 'true' ELSE 'false' END,
               CASE WHEN current_deliveries >= target_deliveries
                         AND current_revenue >= target_revenue THEN 'true' ELSE 'false' END,
               active_seconds / 60,
               to_char(updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24\\:MI\\:SS.US"+00\\:00"')
           ) AS line
    FROM (
        SELECT t.driver_id, t.team, t.status, business_today(:tz) AS business_date,
               -- Orders the lines by an integer: no second collation-aware sort of the ids.
               row_number() OVER (ORDER BY t.driver_id) AS position,
               coalesce(d.target_deliveries, t.target_deliveries) AS target_deliveries,
               coalesce(d.target_revenue, t.target_revenue) AS target_revenue,
               coalesce(d.current_deliveries, 0) AS current_deliveries,
               coalesce(d.current_revenue, 0) AS current_revenue,
               coalesce(d.active_seconds, 0)
                   + active_seconds_within(t.active_since, now(), business_today(:tz), :tz)
                   AS active_seconds,
               greatest(t.updated_at, d.updated_at) AS updated_at
        FROM driver_targets t
        -- Bounded on d too: a merge join then starts at the batch, not at the first driver.
        LEFT JOIN driver_days d
               ON d.driver_id = t.driver_id AND d.business_date = business_today(:tz)
                  AND d.driver_id > :after
        WHERE t.driver_id > :after
          AND (CAST(:status AS text) IS NULL OR t.status = CAST(:status AS text))
          AND (CAST(:team AS text) IS NULL OR t.team = CAST(:team AS text))
        ORDER BY t.driver_id
        LIMIT :limit
    ) AS driver
    CROSS JOIN LATERAL (
        SELECT CASE WHEN left(driver.driver_id, 1) IN ('=', '+', '-', '@', E'\\t', E'\\r')
                    THEN '''' || driver.driver_id ELSE driver.driver_id END AS id_text,
               CASE WHEN left(driver.team, 1) IN ('=', '+', '-', '@', E'\\t', E'\\r')
                    THEN '''' || driver.team ELSE driver.team END AS team_text
    ) AS neutralised
) AS lines
""")

# Drivers per statement of the CSV export: one batch (about 330 kB of text) is all the server
# holds.
EXPORT_BATCH = 2_500


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
                "team": d.team,
                "team_given": d.team_given,
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
    team: str | None = None,
) -> dict[str, Any]:
    return {
        "tz": timezone,
        "driver_id": driver_id,
        "after": after,
        "status": status,
        "team": team,
        "limit": limit,
    }


def get_driver(engine: Engine, driver_id: str, *, timezone: str) -> dict[str, Any]:
    with single_statement(engine) as conn:
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
    engine: Engine,
    *,
    timezone: str,
    limit: int,
    after: str | None,
    status: str | None,
    team: str | None = None,
) -> dict[str, Any]:
    """One page in driver_id order; `next_after` is the next page's cursor (None at the end)."""
    params = _filters(timezone, after=after, status=status, team=team, limit=limit + 1)
    with single_statement(engine) as conn:
        rows = conn.execute(_SELECT_DRIVERS, params).mappings().all()
    page = rows[:limit]
    next_after = page[-1]["driver_id"] if len(rows) > limit else None
    return {"drivers": [dict(row) for row in page], "next_after": next_after}


def export_drivers_csv(
    engine: Engine, *, timezone: str, status: str | None, team: str | None
) -> Iterator[bytes]:
    """Every driver matching the filters as CSV lines (no header), in driver_id order.

    EXPORT_BATCH drivers per statement, one keyset batch after another, inside one read-only
    REPEATABLE READ transaction: a consistent picture, at most one batch in memory. A generator:
    the connection is held while the caller consumes it (a streamed response).
    """
    with (
        translated_errors(),
        engine.connect().execution_options(isolation_level="REPEATABLE READ") as conn,
        conn.begin(),
    ):
        conn.execute(_READ_ONLY)
        params = {"tz": timezone, "status": status, "team": team, "limit": EXPORT_BATCH}
        after = ""
        while True:
            batch = conn.execute(_EXPORT_BATCH, {**params, "after": after}).one()
            if batch.drivers:
                yield batch.body.encode("utf-8")
            if batch.drivers < EXPORT_BATCH:
                return
            after = batch.last


def fleet_summary(engine: Engine, *, timezone: str, team: str | None) -> dict[str, Any]:
    """The open day in numbers: drivers by status, totals against targets, targets reached."""
    with transaction(engine) as conn:
        row = conn.execute(_SUMMARY, {"tz": timezone, "team": team}).one()
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
