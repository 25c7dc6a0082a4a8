"""The driver list as CSV: every matching driver, streamed in keyset batches."""

from __future__ import annotations

from collections.abc import Iterator

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from shared.auth.scope import EVERYONE, Scope
from shared.db.translate import translated_errors
from shared.fleet.targets.operations import DRIVER_TODAY, IN_SCOPE, LIST_FILTERS
from shared.fleet.targets.replies import DriverProgress
from shared.web import csv_sql
from shared.web.replies import field_names

_READ_ONLY = sa.text("SET TRANSACTION READ ONLY")

# One batch of the CSV export as one text value: each driver's line holds DriverProgress' fields
# (the CSV columns; the middle SELECT names a column after each), its cells written by the SQL
# functions every CSV answer uses (see shared.web.csv_sql), the lines joined in driver_id order.
# One value per batch instead of one row per driver keeps per-row decoding in the driver out of
# the way. :after is the previous batch's `last` ('' sorts before every driver id).
_EXPORT_BATCH = sa.text(
    """
SELECT count(*) AS drivers, max(driver_id) AS last,
       string_agg("""  # noqa: S608 (constant fragments and field names: no request text)
    + csv_sql.line_expression(DriverProgress, field_names(DriverProgress))
    + """, E'\\n' ORDER BY position) || E'\\n' AS body
FROM (
    SELECT driver_id, team, status, business_date,
           target_deliveries, target_revenue, current_deliveries, current_revenue,
           progress_percentage(current_deliveries, target_deliveries) AS deliveries_percentage,
           progress_percentage(current_revenue, target_revenue) AS revenue_percentage,
           calculate_achievement_percentage(current_deliveries, target_deliveries,
                                            current_revenue, target_revenue)
               AS achievement_percentage,
           current_deliveries >= target_deliveries AS deliveries_target_reached,
           current_revenue >= target_revenue AS revenue_target_reached,
           current_deliveries >= target_deliveries
               AND current_revenue >= target_revenue AS target_achieved,
           active_seconds / 60 AS active_minutes,
           updated_at, position
    FROM (
        SELECT t.driver_id, t.team, t.status, business_today(:tz) AS business_date,
               -- Orders the lines by an integer: no second collation-aware sort of the ids.
               row_number() OVER (ORDER BY t.driver_id) AS position,
"""
    + DRIVER_TODAY
    + """        FROM driver_targets t
        -- Bounded on d too: a merge join then starts at the batch, not at the first driver.
        LEFT JOIN driver_days d
               ON d.driver_id = t.driver_id AND d.business_date = business_today(:tz)
                  AND d.driver_id > :after
        WHERE t.driver_id > :after"""
    + LIST_FILTERS
    + IN_SCOPE
    + """        ORDER BY t.driver_id
        LIMIT :limit
    ) AS driver
) AS driver_row
"""
)

# Drivers per statement of the CSV export: one batch (about 330 kB of text) is all the server
# holds.
EXPORT_BATCH = 2_500


def export_drivers_csv(
    engine: Engine,
    *,
    timezone: str,
    status: str | None,
    team: str | None,
    scope: Scope = EVERYONE,
) -> Iterator[bytes]:
    """Every driver matching the filters and in `scope` as CSV lines (no header), in driver_id
    order; a team-bound scope may name only one of its teams (checked on the first next(), which
    csv_reply.primed makes before the response starts).

    EXPORT_BATCH drivers per statement, one keyset batch after another, inside one read-only
    REPEATABLE READ transaction: a consistent picture, at most one batch in memory. A generator:
    the connection is held while the caller consumes it (a streamed response).
    """
    if team is not None:
        scope.team(team, field="team")
    with (
        translated_errors(),
        engine.connect().execution_options(isolation_level="REPEATABLE READ") as conn,
        conn.begin(),
    ):
        conn.execute(_READ_ONLY)
        params = {
            "tz": timezone,
            "status": status,
            "team": team,
            "limit": EXPORT_BATCH,
            **scope.params,
        }
        after = ""
        while True:
            batch = conn.execute(_EXPORT_BATCH, {**params, "after": after}).one()
            if batch.drivers:
                yield batch.body.encode("utf-8")
            if batch.drivers < EXPORT_BATCH:
                return
            after = batch.last
