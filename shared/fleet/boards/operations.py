"""The boards: drivers or teams ranked over any window, with movement against the previous
window, or live over the open day."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from shared.auth.scope import EVERYONE, Scope
from shared.db.transactions import transaction
from shared.errors import Forbidden
from shared.fleet.boards.replies import MOVEMENT_FIELDS, GroupBy
from shared.fleet.boards.viewer import unranked
from shared.fleet.fields import Metric
from shared.fleet.history.operations import driver_must_exist

# The per_hour board leaves out whoever was active for less than this in the window.
MIN_ACTIVE_SECONDS_PER_HOUR = 3600

# The day rows both boards rank: closed days in [:prev_from, :to] (the previous window, when
# compared, lies just before :from; `current` tells the two apart), plus with :live the open
# day's progress rows (:to is then today) with their running active time. Every value is
# bound; CASE on :metric picks the score, so the statement texts never change.
# Scope (shared.auth.scope): a team-bound caller's board holds the day rows of its teams only
# (each day row keeps the team the driver had that day); a driver's, the rows of the driver's
# current team (none if they have no team), the team read in the same statement.
_DAY_ROWS = """
WITH viewer_team AS (
    SELECT t.team FROM driver_targets t WHERE t.driver_id = CAST(:scope_driver AS text)
), day_rows AS (
    SELECT h.driver_id, h.team, h.date >= CAST(:from AS date) AS current,
           h.deliveries_completed AS deliveries,
           h.revenue_generated AS revenue, h.achievement_percentage AS achievement,
           h.target_achieved AS achieved, h.active_seconds
    FROM driver_performance_history h
    WHERE h.date BETWEEN CAST(:prev_from AS date) AND CAST(:to AS date)
      AND (CAST(:team AS text) IS NULL OR h.team = CAST(:team AS text))
      AND (CAST(:scope_teams AS text[]) IS NULL OR h.team = ANY (CAST(:scope_teams AS text[])))
      AND (CAST(:scope_driver AS text) IS NULL OR h.team = (SELECT team FROM viewer_team))
    UNION ALL
    SELECT d.driver_id, d.team, true, d.current_deliveries, d.current_revenue,
           calculate_achievement_percentage(d.current_deliveries, d.target_deliveries,
                                            d.current_revenue, d.target_revenue),
           d.current_deliveries >= d.target_deliveries AND d.current_revenue >= d.target_revenue,
           d.active_seconds + active_seconds_within(t.active_since, now(), d.business_date, :tz)
    FROM driver_days d
    JOIN driver_targets t ON t.driver_id = d.driver_id
    WHERE CAST(:live AS boolean) AND d.business_date = CAST(:to AS date)
      AND (CAST(:team AS text) IS NULL OR d.team = CAST(:team AS text))
      AND (CAST(:scope_teams AS text[]) IS NULL OR d.team = ANY (CAST(:scope_teams AS text[])))
      AND (CAST(:scope_driver AS text) IS NULL OR d.team = (SELECT team FROM viewer_team))
)
"""

# Both boards' previous window, from the day rows (`current` false): how many days, and the
# per-day values summed (the metric's, and its base: days, or active seconds for per_hour).
_PREVIOUS = """
           count(*) FILTER (WHERE NOT current) AS previous_days,
           sum(CASE CAST(:metric AS text)
                   WHEN 'deliveries' THEN deliveries
                   WHEN 'revenue' THEN revenue
                   WHEN 'per_hour' THEN deliveries
                   ELSE achievement
               END) FILTER (WHERE NOT current) AS previous_value,
           sum(CASE CAST(:metric AS text) WHEN 'per_hour' THEN active_seconds ELSE 1 END)
               FILTER (WHERE NOT current) AS previous_base
"""

# Both boards' score for :metric, and the previous window's, from the columns their grouping
# gives: total_deliveries, total_revenue, avg_achievement, active_seconds, previous_value and
# previous_base (per-day values summed, over days or active seconds).
_SCORES = """
           CASE CAST(:metric AS text)
               WHEN 'deliveries' THEN CAST(total_deliveries AS numeric)
               WHEN 'revenue' THEN total_revenue
               WHEN 'per_hour'
                   THEN per_active_hour(total_deliveries, active_seconds, :rate_min_seconds)
               ELSE avg_achievement
           END AS score,
           CASE CAST(:metric AS text)
               WHEN 'deliveries' THEN previous_value
               WHEN 'revenue' THEN previous_value
               WHEN 'per_hour'
                   THEN per_active_hour(previous_value, previous_base, :rate_min_seconds)
               ELSE round(previous_value / previous_base, 2)
           END AS previous_score,
"""

# One row per driver carries both windows (FILTER aggregates), each ranked on its own: ties share
# a rank and are ordered by driver_id. The previous window needs only its score: the sum of the
# metric's per-day value over its base (days for the mean achievement, active seconds for
# per_hour). A viewer outside the limit (or not ranked at all) is still answered.
_DRIVER_BOARD = sa.text(
    _DAY_ROWS  # noqa: S608 (two constant fragments: no request text reaches the statement)
    + """
, per_driver AS (
    SELECT driver_id,
           count(*) FILTER (WHERE current) AS days_worked,
           coalesce(sum(deliveries) FILTER (WHERE current), 0) AS total_deliveries,
           coalesce(sum(revenue) FILTER (WHERE current), 0) AS total_revenue,
           round(avg(achievement) FILTER (WHERE current), 2) AS avg_achievement,
           count(*) FILTER (WHERE current AND achieved) AS days_achieved,
           coalesce(sum(active_seconds) FILTER (WHERE current), 0) AS active_seconds,
"""
    + _PREVIOUS
    + """    FROM day_rows
    GROUP BY driver_id
), scored AS (
    SELECT *,"""
    + _SCORES
    + """           days_worked >= :min_days
               AND (CAST(:metric AS text) <> 'per_hour'
                    OR active_seconds >= :min_active_seconds) AS eligible,
           previous_days >= :min_days
               AND (CAST(:metric AS text) <> 'per_hour'
                    OR previous_base >= :min_active_seconds) AS previously_eligible
    FROM per_driver
), ranked AS (
    SELECT *,
           CASE WHEN eligible THEN rank() OVER (PARTITION BY eligible ORDER BY score DESC) END
               AS rank,
           row_number() OVER (PARTITION BY eligible ORDER BY score DESC, driver_id) AS position,
           CASE WHEN previously_eligible
                THEN rank() OVER (PARTITION BY previously_eligible ORDER BY previous_score DESC)
           END AS previous_rank
    FROM scored
)
SELECT rank, driver_id, days_worked, total_deliveries, total_revenue, avg_achievement,
       days_achieved, active_seconds / 60 AS active_minutes,
       per_active_hour(total_deliveries, active_seconds, :rate_min_seconds)
           AS deliveries_per_active_hour,
       previous_rank,
       previous_rank - rank AS rank_change,
       CASE WHEN eligible AND previously_eligible AND previous_score > 0
            THEN round((score - previous_score) * 100 / previous_score, 2) END AS change_pct
FROM ranked
WHERE days_worked > 0 AND ((eligible AND position <= :limit) OR driver_id = CAST(:viewer AS text))
ORDER BY eligible DESC, position
"""
)

# Teams: each driver's days in a team (rows without a team are left out); per window, drivers
# under min_days are dropped, the rest summed per team; avg_achievement is over all the team's
# day rows.
_TEAM_BOARD = sa.text(
    _DAY_ROWS  # noqa: S608 (two constant fragments: no request text reaches the statement)
    + """
, per_driver AS (
    SELECT team, driver_id,
           count(*) FILTER (WHERE current) AS days_worked,
           sum(deliveries) FILTER (WHERE current) AS deliveries,
           sum(revenue) FILTER (WHERE current) AS revenue,
           sum(achievement) FILTER (WHERE current) AS achievement,
           count(*) FILTER (WHERE current AND achieved) AS days_achieved,
           sum(active_seconds) FILTER (WHERE current) AS active_seconds,
"""
    + _PREVIOUS
    + """    FROM day_rows
    WHERE team IS NOT NULL
    GROUP BY team, driver_id
), per_team AS (
    SELECT team,
           count(*) FILTER (WHERE days_worked >= :min_days) AS drivers,
           sum(deliveries) FILTER (WHERE days_worked >= :min_days) AS total_deliveries,
           sum(revenue) FILTER (WHERE days_worked >= :min_days) AS total_revenue,
           round(sum(achievement) FILTER (WHERE days_worked >= :min_days)
                 / sum(days_worked) FILTER (WHERE days_worked >= :min_days), 2)
               AS avg_achievement,
           sum(days_achieved) FILTER (WHERE days_worked >= :min_days) AS days_achieved,
           sum(active_seconds) FILTER (WHERE days_worked >= :min_days) AS active_seconds,
           count(*) FILTER (WHERE previous_days >= :min_days) AS previous_drivers,
           sum(previous_value) FILTER (WHERE previous_days >= :min_days) AS previous_value,
           sum(previous_base) FILTER (WHERE previous_days >= :min_days) AS previous_base
    FROM per_driver
    GROUP BY team
), scored AS (
    SELECT *,"""
    + _SCORES
    + """           drivers > 0
               AND (CAST(:metric AS text) <> 'per_hour'
                    OR active_seconds >= :min_active_seconds) AS eligible,
           previous_drivers > 0
               AND (CAST(:metric AS text) <> 'per_hour'
                    OR previous_base >= :min_active_seconds) AS previously_eligible
    FROM per_team
), ranked AS (
    SELECT *,
           rank() OVER (PARTITION BY eligible ORDER BY score DESC) AS rank,
           row_number() OVER (PARTITION BY eligible ORDER BY score DESC, team) AS position,
           CASE WHEN previously_eligible
                THEN rank() OVER (PARTITION BY previously_eligible ORDER BY previous_score DESC)
           END AS previous_rank
    FROM scored
)
SELECT rank, team, drivers, CAST(total_deliveries AS bigint) AS total_deliveries, total_revenue,
       avg_achievement, CAST(days_achieved AS bigint) AS days_achieved,
       CAST(active_seconds AS bigint) / 60 AS active_minutes,
       per_active_hour(total_deliveries, active_seconds, :rate_min_seconds)
           AS deliveries_per_active_hour,
       previous_rank,
       previous_rank - rank AS rank_change,
       CASE WHEN previously_eligible AND previous_score > 0
            THEN round((score - previous_score) * 100 / previous_score, 2) END AS change_pct
FROM ranked
WHERE eligible AND position <= :limit
ORDER BY position
"""
)


def board(
    engine: Engine,
    *,
    window: tuple[dt.date, dt.date],
    group_by: GroupBy,
    metric: Metric,
    limit: int,
    team: str | None,
    compare: bool,
    min_days: int,
    live: bool,
    viewer: str | None,
    timezone: str,
    rate_min_seconds: int,
    scope: Scope = EVERYONE,
) -> list[dict[str, Any]]:
    """The ranked rows of one board. With `compare`, each row has previous_rank, rank_change
    (positive = moved up) and change_pct against the window of the same length just before;
    with `viewer`, the viewer's row is always there (rank null when not ranked).

    Only the rows of `scope`'s teams are ranked: a team-bound caller may name one of its teams
    or none (then the board is over all of them), and a viewer among its drivers; a driver sees
    their team's drivers board, as its viewer (see shared.fleet.boards.viewer.viewing)."""
    if scope.driver_id is not None:
        if group_by == "team" or team is not None:
            raise Forbidden("a driver may only see their own team's drivers board")
        if viewer != scope.driver_id:
            raise Forbidden("a driver may only see a board as its viewer", field="viewer")
    if team is not None:
        scope.team(team, field="team")
    start, end = window
    length = (end - start).days + 1
    params = {
        "from": start,
        "to": end,
        "prev_from": start - dt.timedelta(days=length) if compare else start,
        "team": team,
        "metric": metric,
        "min_days": min_days,
        "min_active_seconds": MIN_ACTIVE_SECONDS_PER_HOUR,
        "rate_min_seconds": rate_min_seconds,
        "limit": limit,
        "live": live,
        "viewer": viewer,
        "tz": timezone,
        **scope.params,
    }
    statement = _TEAM_BOARD if group_by == "team" else _DRIVER_BOARD
    with transaction(engine) as conn:
        if viewer is not None:
            driver_must_exist(conn, viewer, "viewer", scope)
        rows = [dict(row) for row in conn.execute(statement, params).mappings()]
    if viewer is not None and all(row["driver_id"] != viewer for row in rows):
        rows.append(unranked(viewer))
    for row in rows:
        if not compare:
            for field in MOVEMENT_FIELDS:
                del row[field]
        if viewer is not None:
            row["is_viewer"] = row["driver_id"] == viewer
    return rows
